//! The `testkit` harness as a consumer uses it: a wiremock subscriber and the project's own
//! receiver, retries and lifecycles on the paused clock, readable failures, stop on drop.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use inboxkit_mock::contract::{Profile, Secret, SignatureScheme, Signer, headers};
use inboxkit_mock::delivery::AttemptOutcome;
use inboxkit_mock::receiver::{ReceiverConfig, RunningReceiver, Verdict};
use inboxkit_mock::testkit::{
    DEFAULT_SECRET, DeliveryMatcher, DeliveryState, EventType, MockInboxKit, TerminalState,
    TestkitError,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::JsonAnswer;

/// Real time a test on the paused clock may take at most: far below the 10 s retry delay.
const QUICK: Duration = Duration::from_secs(5);

/// A wiremock subscriber answering `statuses` in turn, then 200.
async fn subscriber(statuses: &[u16]) -> MockServer {
    let server = MockServer::start().await;
    for status in statuses {
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(*status))
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

fn hook(server: &MockServer) -> String {
    format!("{}/hook", server.uri())
}

fn codes(mock: &MockInboxKit) -> Vec<Vec<u16>> {
    mock.deliveries()
        .iter()
        .map(|r| {
            r.attempts
                .iter()
                .filter_map(|a| a.response.as_ref().map(|r| r.status))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn a_triggered_event_reaches_a_wiremock_subscriber_signed_with_the_secret() {
    let app = subscriber(&[]).await;
    let mock = MockInboxKit::start(hook(&app)).await;
    assert_eq!(mock.secret(), DEFAULT_SECRET);
    let id = mock.trigger(EventType::MailboxStatusChanged).unwrap();
    let record = mock.wait_for_delivery(&id).await;
    assert_eq!(record.state, DeliveryState::Delivered);
    assert_eq!(
        mock.assert_delivered(EventType::MailboxStatusChanged).id,
        id
    );

    let received = app.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    let signature = request
        .headers
        .get(headers::SIGNATURE)
        .and_then(|v| v.to_str().ok());
    let verifier = Signer::new(SignatureScheme::HmacBody, Secret::new(mock.secret()));
    verifier
        .verify(&request.body, signature)
        .expect("signed with the mock's secret");
    let body: Value = request.body_json().unwrap();
    assert_eq!(body["event"], "mailbox.status_changed");
    assert_eq!(body["workspace_id"], mock.workspace_id());
    assert_eq!(
        record.entity_uid.as_deref(),
        body["data"]["mailbox"]["uid"].as_str()
    );
}

#[tokio::test]
async fn a_500_then_200_subscriber_is_retried_when_the_paused_clock_advances() {
    let started = Instant::now();
    let app = subscriber(&[500]).await;
    let mock = MockInboxKit::start(hook(&app)).await;
    let clock_start = mock.now();
    let id = mock.trigger(EventType::DomainStatusChanged).unwrap();

    let retrying = mock
        .wait_for(DeliveryMatcher::any().state(DeliveryState::Retrying))
        .await;
    assert_eq!(retrying.id, id);
    assert_eq!(codes(&mock), [vec![500]]);

    mock.advance(Duration::from_secs(9)).await;
    assert_eq!(codes(&mock), [vec![500]], "the retry is due after 10 s");
    mock.advance(Duration::from_secs(1)).await;
    let record = mock.wait_for_delivery(&id).await;
    assert_eq!(record.state, DeliveryState::Delivered);
    assert_eq!(codes(&mock), [vec![500, 200]]);
    assert_eq!(
        record.attempts[1].started_at.to_string(),
        "2024-01-10T15:30:55.123Z"
    );
    assert_eq!((mock.now() - clock_start).num_seconds(), 10);
    mock.assert_one(
        DeliveryMatcher::event(EventType::DomainStatusChanged)
            .state(TerminalState::Delivered)
            .attempts(2)
            .codes([500, 200]),
    );
    assert_eq!(app.received_requests().await.unwrap().len(), 2);
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());
}

#[tokio::test]
async fn one_advance_walks_every_retry_to_exhaustion_in_order() {
    let started = Instant::now();
    let app = subscriber(&[503, 503, 503, 503]).await;
    let mock = MockInboxKit::start(hook(&app)).await;
    let id = mock.trigger(EventType::DomainStatusChanged).unwrap();
    mock.advance(Duration::from_secs(100)).await;
    let record = mock.wait_for_delivery(&id).await;
    assert_eq!(record.state, DeliveryState::Exhausted);
    let times: Vec<String> = record
        .attempts
        .iter()
        .map(|a| a.started_at.to_string())
        .collect();
    assert_eq!(
        times,
        [
            "2024-01-10T15:30:45.123Z",
            "2024-01-10T15:30:55.123Z",
            "2024-01-10T15:31:25.123Z",
            "2024-01-10T15:32:25.123Z",
        ],
        "each retry at its due time: 10 s, 30 s and 60 s apart"
    );
    mock.assert_one(TerminalState::Exhausted);
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());
}

#[tokio::test]
async fn the_projects_receiver_verifies_a_whole_lifecycle_started_by_the_harness() {
    let receiver = RunningReceiver::start_local(ReceiverConfig {
        verifier: Some(Signer::new(
            SignatureScheme::HmacBody,
            Secret::new("whsec_consumer"),
        )),
        ..ReceiverConfig::default()
    })
    .unwrap();
    let mock = MockInboxKit::builder(receiver.webhook_url())
        .secret("whsec_consumer")
        .start()
        .await;
    let domain = mock.register_domain("acme.com").await.unwrap();
    let mailbox = mock.buy_mailbox("ada", "acme.com").await.unwrap();
    assert_eq!(
        mock.status_of(&domain).as_deref(),
        Some("registration_in_progress")
    );
    assert_eq!(mock.status_of(&mailbox).as_deref(), Some("scheduled"));

    let fired = mock.advance(Duration::from_secs(3600)).await.steps_fired;
    assert_eq!(
        fired,
        2 + 9,
        "two domain steps, eight mailbox steps and the mailbox's wait for its domain"
    );
    mock.wait_for_deliveries(fired).await;
    assert_eq!(mock.status_of(&domain).as_deref(), Some("active"));
    assert_eq!(mock.status_of(&mailbox).as_deref(), Some("active"));
    mock.assert_one(
        DeliveryMatcher::event(EventType::DomainStatusChanged)
            .uid(&domain)
            .status("active")
            .state(TerminalState::Delivered)
            .codes([200]),
    );

    let received = receiver.store().all();
    assert_eq!(received.len(), 11);
    assert!(
        received
            .iter()
            .all(|r| r.verdict == Verdict::Accepted && r.signature_valid == Some(true)),
        "{received:#?}"
    );
    let mailbox_statuses: Vec<&str> = received
        .iter()
        .filter(|r| r.uid.as_deref() == Some(mailbox.as_str()))
        .filter_map(|r| r.status.as_deref())
        .collect();
    assert_eq!(mailbox_statuses.first(), Some(&"pending"));
    assert_eq!(mailbox_statuses.last(), Some(&"active"));
    assert_eq!(mailbox_statuses.len(), 9);
    receiver.stop().await;
}

#[tokio::test]
async fn a_forced_transition_is_sent_and_an_illegal_one_names_the_allowed_statuses() {
    let app = subscriber(&[]).await;
    let mock = MockInboxKit::start(hook(&app)).await;
    let domain = mock.register_domain("force.io").await.unwrap();
    let illegal = mock.transition(&domain, "cancelled").await.unwrap_err();
    assert!(
        illegal
            .to_string()
            .contains("waiting_for_dns_propagation, active, payment_failed"),
        "{illegal}"
    );
    let id = mock.transition(&domain, "payment_failed").await.unwrap();
    let record = mock.wait_for_delivery(&id).await;
    assert_eq!(record.status.as_deref(), Some("payment_failed"));
    assert_eq!(
        mock.advance(Duration::from_secs(3600)).await.steps_fired,
        0,
        "no step is left"
    );
    assert!(matches!(
        mock.transition("domain-000000000000", "active").await,
        Err(TestkitError::UnknownEntity(_))
    ));
    assert!(matches!(
        mock.register_domain("force.io").await,
        Err(TestkitError::World(_))
    ));
    assert!(matches!(
        mock.buy_mailbox("x", "nowhere.io").await,
        Err(TestkitError::World(_))
    ));
    assert!(matches!(
        mock.trigger_with(EventType::DomainStatusChanged, [("data..status", json!(1))]),
        Err(TestkitError::Override(_))
    ));
    assert!(matches!(
        mock.trigger(EventType::Other("domain.renamed".into())),
        Err(TestkitError::NoSample(_))
    ));
}

#[tokio::test]
async fn a_failed_assertion_says_what_was_expected_and_lists_what_was_sent() {
    let app = subscriber(&[500]).await;
    let mock = MockInboxKit::start(hook(&app)).await;
    mock.trigger(EventType::DomainStatusChanged).unwrap();
    mock.advance(Duration::from_secs(10)).await;
    let record = mock.wait_for(TerminalState::Delivered).await;
    let uid = record.entity_uid.clone().unwrap();

    let failure = catch_unwind(AssertUnwindSafe(|| {
        mock.assert_one(
            DeliveryMatcher::event(EventType::MailboxStatusChanged).state(TerminalState::Delivered),
        )
    }))
    .expect_err("no mailbox event was sent");
    let message = failure
        .downcast_ref::<String>()
        .expect("a formatted message");
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(
        lines[0],
        "expected exactly 1 delivery matching {event = mailbox.status_changed, state = delivered}, found 0 among 1:"
    );
    let header: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(header, ["#", "event", "uid", "status", "state", "attempts"]);
    let row: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        row,
        [
            "1",
            "domain.status_changed",
            &uid,
            "active",
            "delivered",
            "500,",
            "200"
        ]
    );

    let none = catch_unwind(AssertUnwindSafe(|| {
        mock.assert_none(EventType::DomainStatusChanged)
    }))
    .expect_err("one domain event was sent");
    let none = none.downcast_ref::<String>().unwrap();
    assert!(
        none.starts_with("expected exactly 0 deliveries matching {event = domain.status_changed}, found 1 among 1:"),
        "{none}"
    );
}

#[tokio::test]
#[should_panic(expected = "1 waiting for a retry on the paused clock")]
async fn waiting_for_a_retry_that_the_paused_clock_holds_back_fails_with_a_hint() {
    let app = subscriber(&[500]).await;
    let mock = MockInboxKit::builder(hook(&app))
        .wait_timeout(Duration::from_millis(300))
        .timeout(Duration::from_millis(100))
        .start()
        .await;
    mock.trigger(EventType::DomainStatusChanged).unwrap();
    mock.wait_for_deliveries(1).await;
}

#[tokio::test]
async fn the_current_profile_signs_with_the_api_key_and_the_rest_api_starts_lifecycles() {
    let app = subscriber(&[]).await;
    let mock = MockInboxKit::builder(hook(&app))
        .profile(Profile::Current)
        .api_key("ik_consumer_key")
        .start()
        .await;
    let client = reqwest::Client::new();
    let answer: Value = client
        .post(format!("{}/domains/register", mock.rest_url()))
        .bearer_auth(mock.api_key())
        .json(&json!({"domains": [{"name": "rest.io"}]}))
        .json_answer()
        .await;
    let uid = answer["domain_uids"][0].as_str().unwrap().to_owned();
    mock.advance(Duration::from_secs(120)).await;
    let record = mock
        .wait_for(
            DeliveryMatcher::any()
                .uid(&uid)
                .status("waiting_for_dns_propagation"),
        )
        .await;
    let body: Value = serde_json::from_str(&record.body).unwrap();
    assert_eq!(body.get("workspace_id"), None, "current shape: {body}");
    assert_eq!(
        body["data"]["metadata"]["workspace_id"],
        mock.workspace_id()
    );

    let received = app.received_requests().await.unwrap();
    let signature = received[0]
        .headers
        .get(headers::SIGNATURE)
        .and_then(|v| v.to_str().ok());
    mock.signer()
        .verify(&received[0].body, signature)
        .expect("the mock's signer verifies what it sent");
    Signer::new(
        SignatureScheme::ApiKeySha256,
        Secret::new("ik_consumer_key"),
    )
    .verify(&received[0].body, signature)
    .expect("api-key-sha256 of the team key");
}

#[tokio::test]
async fn dropping_the_mock_stops_its_server() {
    let mock = MockInboxKit::start("http://127.0.0.1:9/hook").await;
    let health = format!("{}/_mock/health", mock.base_url());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    assert!(
        client
            .get(&health)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    drop(mock);
    let deadline = Instant::now() + QUICK;
    while client.get(&health).send().await.is_ok() {
        assert!(Instant::now() < deadline, "still answering after {QUICK:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_url_that_is_not_http_is_refused() {
    let error = MockInboxKit::builder("ftp://127.0.0.1/hook")
        .try_start()
        .await
        .unwrap_err();
    assert!(matches!(error, TestkitError::BadUrl { .. }), "{error}");
    let error = MockInboxKit::builder("http://127.0.0.1:9/hook")
        .time_scale(0.0)
        .try_start()
        .await
        .unwrap_err();
    assert!(matches!(error, TestkitError::Clock(_)), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_multi_threaded_runtime_dropping_waits_until_the_port_is_closed() {
    let mock = MockInboxKit::start("http://127.0.0.1:9/hook").await;
    let addr = mock.server().addr();
    assert!(std::net::TcpStream::connect(addr).is_ok());
    drop(mock);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the port is closed once drop returns"
    );
}

#[tokio::test]
async fn stopping_gracefully_returns_the_tally() {
    let app = subscriber(&[]).await;
    let mock = MockInboxKit::start(hook(&app)).await;
    let id = mock
        .trigger(EventType::ConsentRequestStatusChanged)
        .unwrap();
    mock.wait_for_delivery(&id).await;
    let tally = mock.stop(Duration::from_secs(1)).await;
    assert_eq!(
        (tally.events, tally.delivered, tally.interrupted),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn a_slow_answer_times_out_on_a_short_deadline_and_the_retry_succeeds() {
    let app = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .up_to_n_times(1)
        .mount(&app)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&app)
        .await;
    let mock = MockInboxKit::builder(hook(&app))
        .timeout(Duration::from_millis(200))
        .start()
        .await;
    let started = Instant::now();
    let id = mock.trigger(EventType::DomainStatusChanged).unwrap();
    mock.advance(Duration::from_secs(10)).await;
    let record = mock.wait_for_delivery(&id).await;
    let outcomes: Vec<AttemptOutcome> = record.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [AttemptOutcome::Timeout, AttemptOutcome::Delivered]
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the 200 ms deadline, not the 3 s answer: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_running_clock_moves_lifecycles_without_advancing() {
    let app = subscriber(&[]).await;
    let mock = MockInboxKit::builder(hook(&app))
        .time_scale(10_000.0)
        .start()
        .await;
    assert!(!mock.clock().is_paused());
    let domain = mock.register_domain("fast.io").await.unwrap();
    let active = mock
        .wait_for(DeliveryMatcher::any().uid(&domain).status("active"))
        .await;
    assert_eq!(active.state, DeliveryState::Delivered);
    assert_eq!(mock.status_of(&domain).as_deref(), Some("active"));
}

#[tokio::test]
async fn a_wait_shorter_than_a_running_attempt_gives_it_its_deadline() {
    let app = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204).set_delay(Duration::from_millis(400)))
        .mount(&app)
        .await;
    let mock = MockInboxKit::builder(hook(&app))
        .wait_timeout(Duration::from_millis(100))
        .timeout(Duration::from_secs(2))
        .start()
        .await;
    let id = mock.trigger(EventType::DomainStatusChanged).unwrap();
    let record = mock.wait_for_delivery(&id).await;
    assert_eq!(record.state, DeliveryState::Delivered);
    mock.assert_one(DeliveryMatcher::any().codes([204]));
}
