//! Subscribers that fail below HTTP over real sockets: reset, half-closed, hung, down and back.
//! Each failure is journaled with its code, and none of them stalls the other deliveries.

use std::time::{Duration, Instant};

use inboxkit_mock::delivery::{AttemptOutcome, DeliveryState, Sender, SenderOptions};
use inboxkit_mock::simulation::Clock;
use tokio::io::AsyncWriteExt;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

/// One domain event to `url`, on a fast clock with a deadline no loopback test reaches.
async fn deliver_patiently(url: &str) -> inboxkit_mock::delivery::DeliveryRecord {
    sender(FAST)
        .deliver(patient_subscriber(url), domain_event())
        .await
}

fn outcomes(record: &inboxkit_mock::delivery::DeliveryRecord) -> Vec<AttemptOutcome> {
    record.attempts.iter().map(|a| a.outcome).collect()
}

#[tokio::test]
async fn a_reset_connection_is_connection_closed_and_retried() {
    let url = raw(|socket| async move {
        // SO_LINGER 0: closing sends RST instead of FIN.
        socket.set_zero_linger().unwrap();
        drop(socket);
    })
    .await;
    let record = deliver_patiently(&url).await;
    assert_eq!(outcomes(&record), [AttemptOutcome::ConnectionClosed; 4]);
    assert_eq!(record.state, DeliveryState::Exhausted);
}

#[tokio::test]
async fn a_half_closed_connection_is_connection_closed() {
    let url = raw(|mut socket| async move {
        // FIN on the write side only; the socket stays open for reading.
        let _ = socket.shutdown().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(socket);
    })
    .await;
    let record = deliver_patiently(&url).await;
    assert_eq!(outcomes(&record), [AttemptOutcome::ConnectionClosed; 4]);
}

#[tokio::test]
async fn a_2xx_whose_body_is_cut_short_counts_and_the_journal_says_so() {
    let url = raw(|mut socket| async move {
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
            .await;
        let _ = socket.shutdown().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let record = deliver_patiently(&url).await;
    // Chosen: the status line is the subscriber's answer; retrying a 2xx would send a duplicate
    // to a consumer that has said it took the event.
    assert_eq!(outcomes(&record), [AttemptOutcome::Delivered]);
    let attempt = &record.attempts[0];
    assert_eq!(attempt.response.as_ref().unwrap().body, "partial");
    let error = attempt.error.as_deref().unwrap_or_default();
    assert!(!error.is_empty(), "the cut-short body is journaled");
}

#[tokio::test]
async fn a_subscriber_that_comes_back_gets_the_retry() {
    // Down at the first attempt: nothing listens on the port. The port is on 127.0.0.77, an
    // address no other test binds, so nobody takes it while it is free; the clock is paused,
    // so the retry waits until the subscriber is back up, however slow the machine.
    let listener = std::net::TcpListener::bind("127.0.0.77:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/webhook");
    let clock = Clock::scaled(1.0).unwrap();
    clock.pause();
    let sender = Sender::new(clock.clone(), SenderOptions::default()).unwrap();
    let id = sender.submit(patient_subscriber(&url), domain_event());
    let first_failed = Instant::now();
    loop {
        if sender.journal().get(&id).unwrap().attempts.len() == 1 {
            break;
        }
        assert!(first_failed.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let server = MockServer::builder()
        .listener(std::net::TcpListener::bind(addr).unwrap())
        .start()
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    // The retry is due 10 simulated seconds after the first attempt.
    clock.advance(Duration::from_secs(10)).unwrap();
    let record = sender.journal().wait_terminal(&id).await.unwrap();
    assert_eq!(
        outcomes(&record),
        [AttemptOutcome::ConnectError, AttemptOutcome::Delivered]
    );
}

#[tokio::test]
async fn a_hung_subscriber_does_not_stall_the_others() {
    // Accepts, reads, and never answers while the test runs.
    let hung = raw(|socket| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(socket);
    })
    .await;
    let healthy = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&healthy)
        .await;
    let sender = sender(FAST);
    // Deadline 1,000 simulated seconds = 10 real seconds: the hung attempts outlive the test.
    let stuck: Vec<_> = (0..50)
        .map(|_| sender.submit(patient_subscriber(&hung), domain_event()))
        .collect();
    let started = Instant::now();
    let fine: Vec<_> = (0..200)
        .map(|_| sender.submit(patient_subscriber(&healthy.uri()), domain_event()))
        .collect();
    for id in &fine {
        let record = sender.journal().wait_terminal(id).await.unwrap();
        assert_eq!(record.state, DeliveryState::Delivered);
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "200 deliveries took {took:?}"
    );
    for id in &stuck {
        let record = sender.journal().get(id).unwrap();
        assert!(
            record.state.terminal().is_none(),
            "the hung attempts are still waiting for their deadline"
        );
    }
}
