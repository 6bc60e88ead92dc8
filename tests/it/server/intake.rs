//! Bounded intake and a bounded journal: a flood past `max_in_progress` is refused with 429
//! and `Retry-After`, every accepted event still ends in exactly one terminal state, and a
//! journal of capacity N holds at most N finished deliveries after a run.

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use inboxkit_mock::delivery::{DeliveryId, DeliveryState};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::Mock;

/// Most deliveries in progress in these tests.
const CAP: usize = 5;

/// Points the default workspace's webhook at `url`.
async fn deliver_to(mock: &Mock, url: &str) {
    let set = mock
        .rest(
            "POST",
            "/workspaces/webhook",
            Some(json!({"uid": mock.workspace_id(), "webhook_url": url})),
        )
        .await;
    assert_eq!(set.status, 200, "{set:?}");
}

/// `POST /_mock/events` of a sample event: status, `Retry-After`, JSON body.
async fn trigger(mock: &Mock) -> (u16, Option<String>, Value) {
    let response = mock
        .client
        .post(format!("{}/_mock/events", mock.base))
        .json(&json!({"event": "domain.status_changed"}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, response.json().await.unwrap())
}

/// A subscriber that holds every request until `open` turns true, then answers `200` to it and
/// to every later one (keep-alive HTTP/1.1); returns its URL.
async fn gated_subscriber(open: watch::Receiver<bool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut open = open.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let (end, length) = loop {
                        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                            let length: usize = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse().ok())
                                .unwrap_or(0);
                            if buffer.len() >= end + 4 + length {
                                break (end + 4, length);
                            }
                        }
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    };
                    buffer.drain(..end + length);
                    if open.wait_for(|open| *open).await.is_err() {
                        return;
                    }
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if socket.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn a_flood_past_the_cap_gets_429_and_every_accepted_event_ends_once() {
    let mock = Mock::start_with(41, |config| {
        config.sender.max_in_progress = CAP;
        // Held answers must not time out while the test floods (simulated = real time here).
        config.subscriber.timeout = Duration::from_secs(600);
    })
    .await;
    // The subscriber holds every answer: no delivery finishes during the flood.
    let (gate, open) = watch::channel(false);
    deliver_to(&mock, &gated_subscriber(open).await).await;
    let answers = join_all((0..40).map(|_| trigger(&mock))).await;
    let accepted: Vec<&Value> = answers
        .iter()
        .filter(|(status, ..)| *status == 202)
        .map(|(_, _, body)| body)
        .collect();
    assert_eq!(accepted.len(), CAP, "{answers:?}");
    for (status, retry_after, body) in answers.iter().filter(|(s, ..)| *s != 202) {
        assert_eq!(*status, 429, "{body}");
        assert_eq!(retry_after.as_deref(), Some("1"));
        assert_eq!(body["code"], "overloaded");
        assert_eq!(body["max_in_progress"], CAP);
        assert_eq!(body["retry_after_seconds"], 1);
    }
    // Opening a request, which creates deliveries too, is refused the same way.
    let opened = mock
        .control("POST", "/consent_requests", Some(json!({})))
        .await;
    opened.assert_problem(429, "overloaded");
    let journal = mock.server.state().sender().journal();
    assert_eq!(journal.counters().refused, 40 - CAP as u64 + 1);

    // The subscriber answers: every accepted delivery ends, exactly once.
    gate.send_replace(true);
    mock.wait_terminal(CAP as u64).await;
    let counters = journal.counters();
    assert_eq!(counters.events, CAP as u64);
    assert_eq!(counters.terminal.values().sum::<u64>(), CAP as u64);
    assert_eq!(counters.attempts_total(), CAP as u64);
    let ids: HashSet<String> = accepted
        .iter()
        .map(|body| body["delivery_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), CAP);
    for id in &ids {
        let record = journal.get(&DeliveryId(id.as_str().into())).unwrap();
        assert_eq!(record.state, DeliveryState::Delivered, "{record:?}");
        assert_eq!(record.attempts.len(), 1);
    }
    // Room again once they finished.
    let (status, _, body) = trigger(&mock).await;
    assert_eq!(status, 202, "{body}");
    mock.stop().await;
}

#[tokio::test]
async fn a_journal_of_capacity_n_holds_at_most_n_finished_deliveries_after_a_run() {
    let mock = Mock::start_with(42, |config| config.sender.journal_capacity = 3).await;
    for _ in 0..12 {
        let (status, _, body) = trigger(&mock).await;
        assert_eq!(status, 202, "{body}");
    }
    mock.wait_terminal(12).await;
    let journal = mock.server.state().sender().journal();
    assert_eq!(journal.held(), (3, 3));
    let listing = mock.control("GET", "/deliveries", None).await;
    assert_eq!(listing.body["total"], 3, "{}", listing.body);
    assert_eq!(journal.counters().evicted, 9);
    mock.stop().await;
}
