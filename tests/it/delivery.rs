//! The retry policy and journal over real loopback HTTP (wiremock, raw sockets, the receiver).

use std::time::{Duration, Instant};

use inboxkit_mock::contract::{EventType, PayloadShape, Profile, Secret, SignatureScheme, Signer};
use inboxkit_mock::delivery::{
    AttemptOutcome, DeliveryState, RetryPolicy, Subscriber, TerminalState, Trigger,
};
use inboxkit_mock::receiver::{ReceiverConfig, RunningReceiver, Verdict};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

fn outcomes(record: &inboxkit_mock::delivery::DeliveryRecord) -> Vec<AttemptOutcome> {
    record.attempts.iter().map(|a| a.outcome).collect()
}

#[tokio::test]
async fn always_500_gets_exactly_four_attempts_then_exhausted() {
    let server = server_answering(500).await;
    let record = sender(FAST)
        .deliver(subscriber(&server.uri()), domain_event())
        .await;
    assert_eq!(outcomes(&record), [AttemptOutcome::Http5xx; 4]);
    assert_eq!(record.state, DeliveryState::Exhausted);
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
    // Every attempt but the last says when the next one is due; the last says none.
    let next: Vec<_> = record
        .attempts
        .iter()
        .map(|a| a.next_attempt_at.is_some())
        .collect();
    assert_eq!(next, [true, true, true, false]);
}

#[tokio::test]
async fn client_errors_get_one_attempt_and_are_rejected() {
    for status in [400, 401, 404, 422, 429] {
        let server = server_answering(status).await;
        let record = sender(FAST)
            .deliver(subscriber(&server.uri()), domain_event())
            .await;
        assert_eq!(
            outcomes(&record),
            [AttemptOutcome::Http4xx],
            "status {status}"
        );
        assert_eq!(record.state, DeliveryState::Rejected);
        assert_eq!(record.attempts[0].response.as_ref().unwrap().status, status);
    }
}

#[tokio::test]
async fn a_503_then_200_is_delivered_on_the_second_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let record = sender(FAST)
        .deliver(subscriber(&server.uri()), domain_event())
        .await;
    assert_eq!(
        outcomes(&record),
        [AttemptOutcome::Http5xx, AttemptOutcome::Delivered]
    );
    assert_eq!(record.state, DeliveryState::Delivered);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        requests[0].body, requests[1].body,
        "a retry sends the same bytes"
    );
    assert_eq!(requests[1].headers["x-inboxkit-mock-attempt"], "2");
}

#[tokio::test]
async fn a_subscriber_slower_than_the_deadline_times_out_four_times() {
    let server = MockServer::start().await;
    // The deadline is 300 ms of real time at any scale; the subscriber takes 3 s.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let record = sender(FAST)
        .deliver(impatient_subscriber(&server.uri()), domain_event())
        .await;
    assert_eq!(outcomes(&record), [AttemptOutcome::Timeout; 4]);
    assert_eq!(record.state, DeliveryState::Exhausted);
    for attempt in &record.attempts {
        assert!(
            attempt.latency_ms >= IMPATIENT.as_secs_f64() * 1e3 * 0.95
                && attempt.latency_ms < 3000.0,
            "{}",
            attempt.latency_ms
        );
    }
}

#[tokio::test]
async fn connection_refused_is_retried_like_a_5xx() {
    let url = refused_url().await;
    let record = sender(FAST).deliver(subscriber(&url), domain_event()).await;
    assert_eq!(outcomes(&record), [AttemptOutcome::ConnectError; 4]);
    assert_eq!(record.state, DeliveryState::Exhausted);
    assert!(
        record.attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("connect"),
        "{:?}",
        record.attempts[0].error
    );
}

#[tokio::test]
async fn connection_errors_can_be_made_final() {
    let url = refused_url().await;
    let mut subscriber = (*subscriber(&url)).clone();
    subscriber.policy = RetryPolicy {
        retry_connection_errors: false,
        ..RetryPolicy::default()
    };
    let record = sender(FAST)
        .deliver(subscriber.into(), domain_event())
        .await;
    assert_eq!(outcomes(&record), [AttemptOutcome::ConnectError]);
    assert_eq!(record.state, DeliveryState::Rejected);
}

#[tokio::test]
async fn a_closed_connection_and_garbage_are_coded() {
    let closed = sender(FAST)
        .deliver(
            subscriber(&raw_subscriber(Misbehaviour::CloseAfterRequest).await),
            domain_event(),
        )
        .await;
    assert_eq!(outcomes(&closed), [AttemptOutcome::ConnectionClosed; 4]);
    let garbage = sender(FAST)
        .deliver(
            subscriber(&raw_subscriber(Misbehaviour::Garbage).await),
            domain_event(),
        )
        .await;
    assert_eq!(outcomes(&garbage), [AttemptOutcome::InvalidResponse; 4]);
}

#[tokio::test]
async fn an_unresolvable_host_is_a_dns_error() {
    let record = sender(FAST)
        .deliver(
            subscriber("http://no-such-host.invalid/webhook"),
            domain_event(),
        )
        .await;
    assert_eq!(
        record.attempts[0].outcome,
        AttemptOutcome::DnsError,
        "{:?}",
        record.attempts[0].error
    );
    assert_eq!(record.attempts.len(), 4);
}

#[tokio::test]
async fn redirects_are_not_followed_nor_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("Location", "http://127.0.0.1:1/elsewhere"),
        )
        .mount(&server)
        .await;
    let record = sender(FAST)
        .deliver(subscriber(&server.uri()), domain_event())
        .await;
    assert_eq!(outcomes(&record), [AttemptOutcome::RedirectNotFollowed]);
    assert_eq!(record.state, DeliveryState::Rejected);
}

#[tokio::test]
async fn a_huge_answer_is_capped_in_the_journal() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(3 * 1024 * 1024)))
        .mount(&server)
        .await;
    let record = sender(FAST)
        .deliver(subscriber(&server.uri()), domain_event())
        .await;
    let response = record.attempts[0].response.as_ref().unwrap();
    assert_eq!(record.state, DeliveryState::Delivered);
    assert_eq!(response.body.len(), 64 * 1024);
    assert!(response.body_truncated);
}

#[tokio::test]
async fn the_request_carries_the_documented_headers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("content-type", "application/json"))
        .and(header("user-agent", "InboxKit-Webhook/1.0"))
        .and(header("x-inboxkit-event", "mailbox.status_changed"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let event = event_of(EventType::MailboxStatusChanged, PayloadShape::Seed);
    let record = sender(FAST).deliver(subscriber(&server.uri()), event).await;
    assert_eq!(record.state, DeliveryState::Delivered);
    let request = &server.received_requests().await.unwrap()[0];
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        request.headers["x-inboxkit-event"],
        body["event"].as_str().unwrap()
    );
    let timestamp = request.headers["x-inboxkit-timestamp"].to_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(timestamp).is_ok()
            && timestamp.ends_with('Z')
            && timestamp.len() == 24,
        "{timestamp}"
    );
    let signature = request.headers["x-inboxkit-signature"].to_str().unwrap();
    let signer = Signer::new(SignatureScheme::HmacBody, Secret::new(SECRET));
    assert!(
        signer.verify(&request.body, Some(signature)).is_ok(),
        "signed over the exact bytes sent"
    );
}

#[tokio::test]
async fn mock_headers_can_be_turned_off() {
    let server = server_answering(200).await;
    let mut subscriber = (*subscriber(&server.uri())).clone();
    subscriber.mock_headers = false;
    subscriber.bearer = None;
    sender(FAST)
        .deliver(subscriber.into(), domain_event())
        .await;
    let request = &server.received_requests().await.unwrap()[0];
    for name in [
        "x-inboxkit-mock-delivery",
        "x-inboxkit-mock-attempt",
        "authorization",
    ] {
        assert!(!request.headers.contains_key(name), "{name} was sent");
    }
}

#[tokio::test]
async fn the_reference_receiver_verifies_each_event_type_over_raw_bytes() {
    let signer = Signer::new(SignatureScheme::HmacBody, Secret::new(SECRET));
    let receiver = RunningReceiver::start_local(ReceiverConfig {
        verifier: Some(signer),
        ..ReceiverConfig::default()
    })
    .unwrap();
    let sender = sender(FAST);
    for event in EventType::KNOWN {
        let record = sender
            .deliver(
                subscriber(receiver.webhook_url().as_str()),
                event_of(event.clone(), PayloadShape::Seed),
            )
            .await;
        assert_eq!(record.state, DeliveryState::Delivered, "{event}");
    }
    let received = receiver.store().all();
    assert_eq!(received.len(), 4);
    assert!(
        received
            .iter()
            .all(|r| r.signature_valid == Some(true) && r.verdict == Verdict::Accepted)
    );
    receiver.stop().await;
}

#[tokio::test]
async fn a_wrong_secret_is_rejected_by_the_receiver_without_retry() {
    let receiver = RunningReceiver::start_local(ReceiverConfig {
        verifier: Some(Signer::new(
            SignatureScheme::HmacBody,
            Secret::new("another secret"),
        )),
        ..ReceiverConfig::default()
    })
    .unwrap();
    let record = sender(FAST)
        .deliver(subscriber(receiver.webhook_url().as_str()), domain_event())
        .await;
    assert_eq!(record.state, DeliveryState::Rejected);
    assert_eq!(record.attempts[0].response.as_ref().unwrap().status, 401);
    receiver.stop().await;
}

#[tokio::test]
async fn the_current_profile_signs_the_api_key_and_sends_no_authorization() {
    let api_key = "ik_live_abc123";
    let settings = Profile::Current.settings();
    let signer = Signer::new(settings.signature_scheme, Secret::new(api_key));
    let receiver = RunningReceiver::start_local(ReceiverConfig {
        verifier: Some(signer.clone()),
        ..ReceiverConfig::default()
    })
    .unwrap();
    let subscriber = Subscriber {
        url: receiver.webhook_url(),
        signer,
        bearer: None,
        timeout: settings.timeout,
        policy: RetryPolicy::default(),
        mock_headers: false,
    };
    let event = event_of(EventType::DomainStatusChanged, PayloadShape::Current);
    let record = sender(FAST).deliver(subscriber.into(), event).await;
    assert_eq!(record.state, DeliveryState::Delivered);
    let received = &receiver.store().all()[0];
    assert!(received.header("authorization").is_none());
    let body: serde_json::Value = serde_json::from_str(&received.body).unwrap();
    assert!(body.get("workspace_id").is_none());
    assert!(body["data"]["metadata"]["updated_at"].is_string());
    receiver.stop().await;
}

#[tokio::test]
async fn a_manual_redelivery_is_flagged_and_keeps_the_terminal_state() {
    let server = server_answering(400).await;
    let sender = sender(FAST);
    let subscriber = subscriber(&server.uri());
    let record = sender.deliver(subscriber.clone(), domain_event()).await;
    let manual = sender.redeliver(&record.id, &subscriber).await.unwrap();
    assert_eq!((manual.number, manual.trigger), (2, Trigger::Manual));
    let after = sender.journal().get(&record.id).unwrap();
    assert_eq!(after.state, DeliveryState::Rejected);
    assert_eq!(after.scheduled_attempts(), 1);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(
        requests[0].headers["x-inboxkit-mock-delivery"],
        requests[1].headers["x-inboxkit-mock-delivery"]
    );
}

#[tokio::test]
async fn many_concurrent_deliveries_each_end_in_one_terminal_state() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(150)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let sender = sender(FAST);
    let subscriber = patient_subscriber(&server.uri());
    let ids: Vec<_> = (0..300)
        .map(|_| sender.submit(subscriber.clone(), domain_event()))
        .collect();
    sender.drain().await;
    let counters = sender.journal().counters();
    assert_eq!(counters.events, 300);
    assert_eq!(counters.in_progress(), 0);
    assert_eq!(counters.terminal.values().sum::<u64>(), 300);
    assert_eq!(counters.attempts_total(), 450);
    for id in ids {
        let record = sender.journal().get(&id).unwrap();
        assert!(record.state.terminal().is_some());
        assert!(record.attempts.len() <= 4);
    }
}

/// The one test on the real clock: the documented 10 s deadline, unscaled.
#[tokio::test]
async fn the_real_ten_second_deadline() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(12)))
        .mount(&server)
        .await;
    let mut subscriber = (*subscriber(&server.uri())).clone();
    subscriber.policy = RetryPolicy::with_delays(vec![]);
    let started = Instant::now();
    let record = sender(1.0).deliver(subscriber.into(), domain_event()).await;
    let elapsed = started.elapsed();
    assert_eq!(outcomes(&record), [AttemptOutcome::Timeout]);
    assert_eq!(record.state.terminal(), Some(TerminalState::Exhausted));
    assert!(
        elapsed >= Duration::from_secs(10) && elapsed < Duration::from_secs(11),
        "{elapsed:?}"
    );
}
