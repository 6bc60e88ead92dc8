//! The `/_mock` control API: problems, forced transitions, triggers, journal, subscriber, reset,
//! metrics and shutdown.

use std::net::TcpListener;
use std::time::Duration;

use inboxkit_mock::contract::Secret;
use inboxkit_mock::delivery::AttemptOutcome;
use inboxkit_mock::server::{RunningServer, ServerConfig};
use inboxkit_mock::simulation::Clock;
use serde_json::{Value, json};

use super::{API_KEY, Mock, WEBHOOK_SECRET, start_time, statuses};

#[tokio::test]
async fn health_ready_and_unknown_routes() {
    let mock = Mock::start(20).await;
    assert_eq!(
        mock.control("GET", "/health", None).await.body["status"],
        "alive"
    );
    assert_eq!(
        mock.control("GET", "/ready", None).await.body["status"],
        "ready"
    );
    let missing = mock.control("GET", "/nothing/here/at/all", None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.content_type, "application/problem+json");
    assert_eq!(missing.body["type"], "urn:inboxkit-mock:problem:not_found");
    mock.stop().await;
}

#[tokio::test]
async fn an_illegal_forced_transition_gets_409_naming_the_allowed_ones() {
    let mock = Mock::start(21).await;
    let uid = mock.register("force.io").await;
    let illegal = mock
        .control(
            "POST",
            &format!("/domains/{uid}/transition"),
            Some(json!({"to": "cancelled"})),
        )
        .await;
    assert_eq!(illegal.status, 409);
    assert_eq!(illegal.content_type, "application/problem+json");
    assert_eq!(illegal.body["code"], "illegal_transition");
    assert_eq!(illegal.body["from"], "registration_in_progress");
    assert_eq!(
        illegal.body["allowed"],
        json!(["waiting_for_dns_propagation", "active", "payment_failed"])
    );

    let forced = mock
        .control(
            "POST",
            &format!("/domains/{uid}/transition"),
            Some(json!({"to": "payment_failed"})),
        )
        .await;
    assert_eq!(forced.status, 200, "{forced:?}");
    mock.wait_terminal(1).await;
    let body: Value = serde_json::from_str(&mock.received_about(&uid)[0].body).unwrap();
    assert_eq!(
        body["data"]["change_details"]["triggered_by"],
        "user_action"
    );
    assert_eq!(
        mock.advance("1h").await,
        0,
        "the scheduled registration step went stale"
    );

    let unknown = mock
        .control(
            "POST",
            "/mailboxes/mailbox-000000000000/transition",
            Some(json!({"to": "active"})),
        )
        .await;
    unknown.assert_problem(404, "unknown_entity");
    let kind = mock
        .control(
            "POST",
            "/widgets/x/transition",
            Some(json!({"to": "active"})),
        )
        .await;
    kind.assert_problem(400, "bad_request");
    mock.stop().await;
}

#[tokio::test]
async fn requests_walk_their_shared_lifecycle() {
    let mock = Mock::start(22).await;
    let consent = mock
        .control("POST", "/consent_requests", Some(json!({})))
        .await;
    assert_eq!(consent.status, 201, "{consent:?}");
    let uid = consent.body["uid"].as_str().unwrap().to_owned();
    let client = mock
        .control(
            "POST",
            "/client_id_requests",
            Some(json!({"domain_name": "x.io"})),
        )
        .await;
    let client_uid = client.body["uid"].as_str().unwrap().to_owned();
    let mut fired = 0;
    for _ in 0..3 {
        fired += mock.advance("1m").await;
        mock.wait_terminal(fired).await;
    }
    assert_eq!(
        statuses(&mock.received_about(&uid)),
        ["pending", "processing", "completed"]
    );
    assert_eq!(
        statuses(&mock.received_about(&client_uid)),
        ["pending", "processing", "completed"]
    );
    mock.stop().await;
}

#[tokio::test]
async fn triggered_events_take_field_overrides() {
    let mock = Mock::start(23).await;
    let uid = mock.register("trigger.io").await;
    let answer = mock
        .control("POST", "/events", Some(json!({"event": "domain.status_changed", "uid": uid, "set": {"data.domain.status": "active", "data.extra": 1}})))
        .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    mock.wait_terminal(1).await;
    let received = mock.received_about(&uid);
    let body: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(
        (
            body["data"]["domain"]["status"].clone(),
            body["data"]["extra"].clone()
        ),
        (json!("active"), json!(1))
    );
    assert_eq!(
        received[0].signature_valid,
        Some(true),
        "overrides are applied before signing"
    );
    let sample = mock.control("POST", "/events", Some(json!({"event": "mailbox.status_changed", "set": ["data.mailbox.status=suspended"]}))).await;
    assert_eq!(
        sample.body["body"]["data"]["mailbox"]["status"],
        "suspended"
    );
    let bad = mock
        .control("POST", "/events", Some(json!({"event": "domain.renamed"})))
        .await;
    bad.assert_problem(400, "bad_request");
    mock.stop().await;
}

#[tokio::test]
async fn the_journal_filters_pages_and_redelivers() {
    let mock = Mock::start(24).await;
    let uid = mock.register("journal.io").await;
    mock.buy("jo", "journal.io").await;
    let fired = mock.advance("1h").await;
    mock.wait_terminal(fired).await;
    let page = mock
        .control(
            "GET",
            &format!("/deliveries?uid={uid}&state=delivered&limit=1&offset=1"),
            None,
        )
        .await;
    assert_eq!(page.body["total"], 2, "{page:?}");
    assert_eq!(page.body["deliveries"][0]["status"], "active");
    let events = mock
        .control(
            "GET",
            "/deliveries?event=mailbox.status_changed&since=2024-01-10T15:31:00Z",
            None,
        )
        .await;
    assert_eq!(
        events.body["total"], 9,
        "eight steps and the wait for the domain's DNS"
    );
    let bad = mock.control("GET", "/deliveries?state=lost", None).await;
    bad.assert_problem(400, "bad_request");

    let id = page.body["deliveries"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let again = mock
        .control("POST", &format!("/deliveries/{id}/redeliver"), None)
        .await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["attempt"]["trigger"], "manual");
    let record = mock
        .control("GET", &format!("/deliveries/{id}"), None)
        .await;
    assert_eq!(record.body["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(record.body["state"], "delivered");
    let many = mock
        .control("POST", "/deliveries/redeliver", Some(json!({"uid": uid})))
        .await;
    assert_eq!(
        (
            many.body["matched"].clone(),
            many.body["redelivered"].clone()
        ),
        (json!(2), json!(2))
    );
    let missing = mock.control("GET", "/deliveries/dlv_nope", None).await;
    missing.assert_problem(404, "unknown_delivery");
    mock.stop().await;
}

/// A bulk redelivery makes a default page's attempts at once: 64 deliveries to a subscriber
/// that never answers cost about one deadline (1 s), where 16 at a time cost four
/// (schemathesis's bulk call once ran past its 20 s request timeout).
#[tokio::test]
async fn a_bulk_redelivery_to_a_silent_subscriber_takes_one_deadline() {
    let mock = Mock::start(26).await;
    for _ in 0..64 {
        let sent = mock
            .control(
                "POST",
                "/events",
                Some(json!({"event": "domain.status_changed"})),
            )
            .await;
        assert_eq!(sent.status, 202, "{sent:?}");
    }
    mock.wait_terminal(64).await;
    let silent = crate::support::raw(|socket| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(socket);
    })
    .await;
    let workspace = mock.workspace_id();
    let set = mock
        .rest(
            "POST",
            "/workspaces/webhook",
            Some(json!({"uid": workspace, "webhook_url": silent})),
        )
        .await;
    assert_eq!(set.status, 200, "{set:?}");
    let put = mock
        .control("PUT", "/subscriber", Some(json!({"timeout": "1s"})))
        .await;
    assert_eq!(put.status, 200, "{put:?}");
    let started = std::time::Instant::now();
    let many = mock
        .control("POST", "/deliveries/redeliver", Some(json!({"limit": 100})))
        .await;
    let took = started.elapsed();
    assert_eq!(many.body["redelivered"], 64, "{many:?}");
    let outcomes: Vec<&Value> = many.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["outcome"])
        .collect();
    assert!(
        outcomes.iter().all(|o| **o == json!("timeout")),
        "{outcomes:?}"
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_millis(3500),
        "64 silent attempts took {took:?}"
    );
    mock.stop().await;
}

#[tokio::test]
async fn subscriber_settings_change_at_run_time_and_hide_secrets() {
    let mock = Mock::start(25).await;
    let put = mock
        .control(
            "PUT",
            "/subscriber",
            Some(json!({"profile": "current", "retry_delays": "1s", "timeout": "3s"})),
        )
        .await;
    assert_eq!(put.status, 200, "{put:?}");
    let shown = mock.control("GET", "/subscriber", None).await;
    let text = shown.body.to_string();
    assert!(
        !text.contains(WEBHOOK_SECRET) && !text.contains(API_KEY),
        "{text}"
    );
    assert_eq!(shown.body["signature_scheme"], "api-key-sha256");
    assert_eq!(shown.body["retry_delays"], json!(["1s"]));
    let uid = mock.register("shape.io").await;
    mock.advance("2m").await;
    mock.wait_terminal(1).await;
    let body: Value =
        serde_json::from_str(&mock.server.state().sender().journal().all()[0].body).unwrap();
    assert!(
        body.get("workspace_id").is_none() && body["data"]["metadata"].is_object(),
        "current shape: {body}"
    );
    assert_eq!(body["data"]["domain"]["uid"], uid.as_str());
    let bad = mock
        .control("PUT", "/subscriber", Some(json!({"colour": "red"})))
        .await;
    bad.assert_problem(400, "bad_request");
    mock.stop().await;
}

#[tokio::test]
async fn reset_replays_the_same_world_and_metrics_count() {
    let mock = Mock::start(26).await;
    let first = mock.register("reset.io").await;
    mock.advance("2m").await;
    mock.wait_terminal(1).await;
    let metrics = mock.call("GET", "/_mock/metrics", None, &[]).await;
    assert_eq!(metrics.status, 200);
    let text = mock
        .client
        .get(format!("{}/_mock/metrics", mock.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "inboxkit_mock_events_total 1",
        "inboxkit_mock_attempts_total{outcome=\"delivered\"} 1",
        "inboxkit_mock_deliveries_total{state=\"delivered\"} 1",
        "inboxkit_mock_attempt_duration_seconds_count 1",
        "inboxkit_mock_scheduler_queue_depth 1",
        "inboxkit_mock_entities{kind=\"domain\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
    let reset = mock.control("POST", "/reset", None).await;
    assert_eq!(reset.status, 200);
    assert_eq!(
        mock.control("GET", "/deliveries", None).await.body["total"],
        0
    );
    // Reset also forgets the workspace webhook; point it at the test receiver again.
    let url = mock.receiver.webhook_url().to_string();
    mock.rest(
        "POST",
        "/workspaces/webhook",
        Some(json!({"uid": mock.workspace_id(), "webhook_url": url})),
    )
    .await;
    assert_eq!(
        mock.register("reset.io").await,
        first,
        "same seed, same calls, same ids"
    );
    mock.stop().await;
}

#[tokio::test]
async fn shutdown_journals_unfinished_deliveries_as_interrupted() {
    let clock = Clock::starting_at(start_time(), 1.0).unwrap();
    clock.pause();
    let mut config =
        ServerConfig::new(27, clock, Secret::new(API_KEY), Secret::new(WEBHOOK_SECRET));
    config.builtin_receiver = false;
    let refused = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/webhook", listener.local_addr().unwrap())
    };
    config.subscriber.url = Some(refused.parse().unwrap());
    let server = RunningServer::start(TcpListener::bind("127.0.0.1:0").unwrap(), config).unwrap();
    let client = reqwest::Client::new();
    let register = client
        .post(format!("{}/v1/api/domains/register", server.base_url()))
        .header("authorization", format!("Bearer {API_KEY}"))
        .header("content-type", "application/json")
        .body(json!({"domains": [{"name": "down.io"}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), 200);
    let advance = client
        .post(format!("{}/_mock/clock/advance", server.base_url()))
        .header("content-type", "application/json")
        .body(r#"{"by":"2m"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(advance.status(), 200);
    // Keep a handle on the sender: its journal outlives the server.
    let sender = server.state().sender().clone();
    let journal = sender.journal();
    tokio::time::timeout(
        Duration::from_secs(5),
        journal.wait_until(|c| c.attempts_total() >= 1),
    )
    .await
    .unwrap();
    let tally = server.shutdown(Duration::from_millis(200)).await;
    assert_eq!(
        (tally.events, tally.interrupted, tally.delivered),
        (1, 1, 0),
        "{tally}"
    );
    let record = &journal.all()[0];
    let outcomes: Vec<AttemptOutcome> = record.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [AttemptOutcome::ConnectError, AttemptOutcome::Interrupted]
    );
    assert_eq!(
        record.state.terminal(),
        None,
        "an interrupted delivery is not terminal"
    );
}
