//! A graceful stop with saved state: unfinished deliveries are not closed as `interrupted`
//! (that would spend one of their attempts); the next start resumes them.

use std::net::TcpListener;
use std::time::Duration;

use inboxkit_mock::contract::Secret;
use inboxkit_mock::delivery::{AttemptOutcome, DeliveryState};
use inboxkit_mock::persistence::{StateSpec, StateStore};
use inboxkit_mock::server::{RunningServer, ServerConfig};
use inboxkit_mock::simulation::Clock;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::temp_dir;
use crate::support::FAST;

/// A server keeping state in `db`; with `paused`, its clock stands still, so no retry comes due.
fn start(db: &std::path::Path, url: &str, paused: bool) -> RunningServer {
    let clock = Clock::scaled(FAST).unwrap();
    if paused {
        clock.pause();
    }
    let mut config = ServerConfig::new(3, clock, Secret::new("ik_key"), Secret::new("whsec_s"));
    config.builtin_receiver = false;
    config.subscriber.url = Some(url.parse().unwrap());
    config.state = StateSpec::Sqlite(db.to_owned());
    RunningServer::start(TcpListener::bind("127.0.0.1:0").unwrap(), config).unwrap()
}

#[tokio::test]
async fn a_graceful_stop_leaves_retries_to_the_next_start() {
    let subscriber = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&subscriber)
        .await;
    let url = format!("{}/webhook", subscriber.uri());
    let dir = temp_dir();
    let db = dir.join("state.db");
    let http = reqwest::Client::new();

    // Paused: the first attempts are made at once, and no retry can start before the stop, so
    // nothing is in flight when it comes (a retry cut off mid-flight would rightly be resent).
    let first = start(&db, &url, true);
    for _ in 0..5 {
        let answer = http
            .post(format!("{}/_mock/events", first.base_url()))
            .json(&serde_json::json!({"event": "domain.status_changed"}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 202);
    }
    let journal = first.state().sender().journal();
    journal.wait_until(|c| c.attempts_total() >= 5).await;
    let tally = first.shutdown(Duration::ZERO).await;
    assert_eq!(
        (tally.events, tally.interrupted),
        (5, 5),
        "five open at the stop: {tally}"
    );

    let saved = StateStore::open(&db).unwrap().load().unwrap();
    assert_eq!(saved.deliveries.len(), 5);
    for delivery in &saved.deliveries {
        assert_eq!(delivery.record.state, DeliveryState::Retrying);
        assert!(
            delivery
                .record
                .attempts
                .iter()
                .all(|a| a.outcome == AttemptOutcome::Http5xx),
            "no interrupted attempt was saved: {:?}",
            delivery.record.attempts
        );
    }

    let second = start(&db, &url, false);
    let journal = second.state().sender().journal();
    tokio::time::timeout(
        Duration::from_secs(20),
        journal.wait_until(|c| c.in_progress() == 0),
    )
    .await
    .expect("the resumed deliveries finish");
    let counters = journal.counters();
    assert_eq!((counters.events, counters.resumed), (5, 5));
    assert_eq!(counters.duplicates_after_crash, 0, "nothing was in flight");
    for record in journal.all() {
        assert_eq!(record.state, DeliveryState::Exhausted);
        let numbers: Vec<u32> = record.attempts.iter().map(|a| a.number).collect();
        assert_eq!(numbers, [1, 2, 3, 4], "the policy's four attempts in all");
    }
    assert_eq!(subscriber.received_requests().await.unwrap().len(), 20);
    second.shutdown(Duration::from_secs(1)).await;
    let _ = std::fs::remove_dir_all(&dir);
}
