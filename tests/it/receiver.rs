//! The reference receiver's fault programs, each against the real sender on a fast clock: the
//! sender must behave as the contract's retry table says.

use std::time::Duration;

use inboxkit_mock::contract::{EventType, PayloadShape, Secret, SignatureScheme, Signer};
use inboxkit_mock::delivery::{AttemptOutcome, DeliveryRecord, DeliveryState};
use inboxkit_mock::receiver::{FaultProgram, ReceiverConfig, RunningReceiver, Verdict};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{
    FAST, SECRET, domain_event, event_of, impatient_subscriber, patient_subscriber, run_cli,
    sender, subscriber,
};

type Lines = tokio::io::Lines<BufReader<tokio::process::ChildStdout>>;

async fn next_line(lines: &mut Lines) -> String {
    tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the receiver prints in time")
        .unwrap()
        .expect("the receiver is still running")
}

async fn json_of(response: reqwest::Result<reqwest::Response>) -> serde_json::Value {
    serde_json::from_str(&response.unwrap().text().await.unwrap()).unwrap()
}

fn faults(programs: &[&str]) -> Vec<FaultProgram> {
    programs.iter().map(|p| p.parse().unwrap()).collect()
}

fn receiver_with(programs: &[&str]) -> RunningReceiver {
    RunningReceiver::start_local(ReceiverConfig {
        verifier: Some(Signer::new(SignatureScheme::HmacBody, Secret::new(SECRET))),
        faults: faults(programs),
        fault_seed: Some(7),
        ..ReceiverConfig::default()
    })
    .unwrap()
}

async fn deliver_domain_event(receiver: &RunningReceiver) -> DeliveryRecord {
    sender(FAST)
        .deliver(subscriber(receiver.webhook_url().as_str()), domain_event())
        .await
}

fn outcomes(record: &DeliveryRecord) -> Vec<AttemptOutcome> {
    record.attempts.iter().map(|a| a.outcome).collect()
}

fn statuses(record: &DeliveryRecord) -> Vec<u16> {
    record
        .attempts
        .iter()
        .map(|a| a.response.as_ref().map_or(0, |r| r.status))
        .collect()
}

#[tokio::test]
async fn status_500_500_200_is_delivered_on_the_third_attempt() {
    let receiver = receiver_with(&["status=500,500,200"]);
    let record = deliver_domain_event(&receiver).await;
    assert_eq!(statuses(&record), [500, 500, 200]);
    assert_eq!(record.state, DeliveryState::Delivered);
    let verdicts: Vec<_> = receiver.store().all().iter().map(|r| r.verdict).collect();
    assert_eq!(
        verdicts,
        [Verdict::Faulted, Verdict::Faulted, Verdict::Accepted]
    );
    assert_eq!(
        receiver.store().processed_count(),
        1,
        "faulted answers are not processed"
    );
    receiver.stop().await;
}

#[tokio::test]
async fn a_lasting_500_exhausts_the_four_attempts() {
    let receiver = receiver_with(&["status=500"]);
    let record = deliver_domain_event(&receiver).await;
    assert_eq!(outcomes(&record), [AttemptOutcome::Http5xx; 4]);
    assert_eq!(record.state, DeliveryState::Exhausted);
    receiver.stop().await;
}

#[tokio::test]
async fn a_410_is_rejected_without_retry() {
    let receiver = receiver_with(&["status=410"]);
    let record = deliver_domain_event(&receiver).await;
    assert_eq!(statuses(&record), [410]);
    assert_eq!(record.state, DeliveryState::Rejected);
    receiver.stop().await;
}

#[tokio::test]
async fn a_429_carries_retry_after_and_is_a_4xx_without_retry() {
    let receiver = receiver_with(&["status=429:retry-after=30"]);
    let record = deliver_domain_event(&receiver).await;
    assert_eq!(statuses(&record), [429]);
    assert_eq!(
        record.state,
        DeliveryState::Rejected,
        "the documented policy never retries 4xx"
    );
    let response = record.attempts[0].response.as_ref().unwrap();
    let retry_after = response
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
        .map(|(_, value)| value);
    assert_eq!(retry_after, Some("30"));
    receiver.stop().await;
}

#[tokio::test]
async fn a_delay_beyond_the_deadline_times_out_and_the_retries_arrive_as_duplicates() {
    // The deadline is 300 ms of real time at any scale; the receiver waits 3 s.
    let receiver = receiver_with(&["delay=3s"]);
    let record = sender(FAST)
        .deliver(
            impatient_subscriber(receiver.webhook_url().as_str()),
            domain_event(),
        )
        .await;
    assert_eq!(outcomes(&record), [AttemptOutcome::Timeout; 4]);
    assert_eq!(record.state, DeliveryState::Exhausted);
    let verdicts: Vec<_> = receiver.store().all().iter().map(|r| r.verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Accepted,
            Verdict::Duplicate,
            Verdict::Duplicate,
            Verdict::Duplicate
        ],
        "processed once, then acknowledged as repeats"
    );
    receiver.stop().await;
}

#[tokio::test]
async fn a_random_delay_within_the_deadline_is_delivered_at_once() {
    let receiver = receiver_with(&["delay=5ms..30ms"]);
    // The deadline is 10 s of real time: a loaded machine does not turn 30 ms into a timeout.
    let record = sender(FAST)
        .deliver(subscriber(receiver.webhook_url().as_str()), domain_event())
        .await;
    assert_eq!(outcomes(&record), [AttemptOutcome::Delivered]);
    assert!(
        record.attempts[0].latency_ms >= 5.0,
        "{}",
        record.attempts[0].latency_ms
    );
    let fault = receiver.store().all()[0].fault.clone().unwrap();
    assert!(fault.starts_with("delay=5ms..30ms -> "), "{fault}");
    receiver.stop().await;
}

#[tokio::test]
async fn fail_percentages_of_100_and_0() {
    let receiver = receiver_with(&["fail=100%:503"]);
    let record = deliver_domain_event(&receiver).await;
    assert_eq!(statuses(&record), [503; 4]);
    assert_eq!(record.state, DeliveryState::Exhausted);
    receiver.set_faults(faults(&["fail=0%"]));
    let record = deliver_domain_event(&receiver).await;
    assert_eq!(statuses(&record), [200]);
    receiver.stop().await;
}

#[tokio::test]
async fn close_drops_the_connection_without_an_answer() {
    let receiver = receiver_with(&["close"]);
    let record = deliver_domain_event(&receiver).await;
    assert_eq!(
        outcomes(&record),
        [AttemptOutcome::ConnectionClosed; 4],
        "{record:#?}"
    );
    assert!(record.attempts.iter().all(|a| a.response.is_none()));
    assert_eq!(record.state, DeliveryState::Exhausted);
    assert!(receiver.store().all().iter().all(|r| r.answered == 0));
    receiver.stop().await;
}

#[tokio::test]
async fn a_drip_longer_than_the_deadline_times_out_and_a_short_one_is_delivered() {
    let receiver = receiver_with(&["drip=3s"]);
    let record = sender(FAST)
        .deliver(
            impatient_subscriber(receiver.webhook_url().as_str()),
            domain_event(),
        )
        .await;
    assert_eq!(outcomes(&record), [AttemptOutcome::Timeout; 4]);
    receiver.set_faults(faults(&["drip=16ms"]));
    let record = sender(FAST)
        .deliver(subscriber(receiver.webhook_url().as_str()), domain_event())
        .await;
    assert_eq!(outcomes(&record), [AttemptOutcome::Delivered]);
    let body = &record.attempts[0].response.as_ref().unwrap().body;
    let answer: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(answer["message"], "Webhook processed successfully");
    assert!(record.attempts[0].latency_ms >= 16.0);
    receiver.stop().await;
}

#[tokio::test]
async fn bad_signature_is_refused_with_401() {
    let receiver = receiver_with(&["bad-signature"]);
    let record = deliver_domain_event(&receiver).await;
    assert_eq!(statuses(&record), [401]);
    assert_eq!(record.state, DeliveryState::Rejected);
    let received = &receiver.store().all()[0];
    assert_eq!(
        received.signature_valid,
        Some(true),
        "the real signature was fine"
    );
    assert_eq!(received.verdict, Verdict::Faulted);
    receiver.stop().await;
}

#[tokio::test]
async fn faults_can_target_one_event_type_or_one_uid() {
    let receiver = receiver_with(&["status=410:event=mailbox.status_changed"]);
    let sender = sender(FAST);
    let url = receiver.webhook_url();
    let domain = sender
        .deliver(subscriber(url.as_str()), domain_event())
        .await;
    let mailbox = sender
        .deliver(
            subscriber(url.as_str()),
            event_of(EventType::MailboxStatusChanged, PayloadShape::Seed),
        )
        .await;
    assert_eq!(
        (statuses(&domain), statuses(&mailbox)),
        (vec![200], vec![410])
    );

    let target = event_of(EventType::ConsentRequestStatusChanged, PayloadShape::Seed);
    let target_uid = receiver_uid_of(&target);
    receiver.set_faults(vec![
        "status=503,200"
            .parse::<FaultProgram>()
            .unwrap()
            .for_uid(target_uid),
    ]);
    let other = sender
        .deliver(subscriber(url.as_str()), domain_event())
        .await;
    let targeted = sender.deliver(subscriber(url.as_str()), target).await;
    assert_eq!(
        (statuses(&other), statuses(&targeted)),
        (vec![200], vec![503, 200])
    );
    receiver.stop().await;
}

fn receiver_uid_of(event: &inboxkit_mock::delivery::OutgoingEvent) -> String {
    let body: serde_json::Value = serde_json::from_slice(event.body()).unwrap();
    body["data"]["consent_request"]["uid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn faults_are_replaced_at_run_time_over_http() {
    let receiver = receiver_with(&[]);
    let client = reqwest::Client::new();
    let faults_url = receiver.base_url().join("faults").unwrap();
    let answer = json_of(
        client
            .put(faults_url.clone())
            .body(
                r#"{"faults": ["status=503,200", {"kind": "delay", "min": "1ms", "max": "1ms"}]}"#,
            )
            .send()
            .await,
    )
    .await;
    assert_eq!(
        answer["specs"],
        serde_json::json!(["status=503,200", "delay=1ms"])
    );
    let record = deliver_domain_event(&receiver).await;
    assert_eq!(statuses(&record), [503, 200]);

    let listed = json_of(client.get(faults_url.clone()).send().await).await;
    assert_eq!(listed["faults"][0]["kind"], "status");

    let refused = client
        .put(faults_url.clone())
        .body(r#"["status=5x0"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let message = refused.text().await.unwrap();
    assert!(message.contains("`5x0`"), "{message}");
    assert_eq!(receiver.faults().len(), 2, "a refused PUT changes nothing");

    client.delete(faults_url).send().await.unwrap();
    assert!(receiver.faults().is_empty());
    let record = deliver_domain_event(&receiver).await;
    assert_eq!(statuses(&record), [200]);
    receiver.stop().await;
}

#[tokio::test]
async fn get_received_lists_every_request_with_its_fault() {
    let receiver = receiver_with(&["status=500,200"]);
    deliver_domain_event(&receiver).await;
    let url = receiver.base_url().join("received").unwrap();
    let listed = json_of(reqwest::get(url).await).await;
    let list = listed.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["answered"], 500);
    assert_eq!(list[0]["verdict"], "faulted");
    assert_eq!(list[0]["fault"], "status=500,200 -> 500");
    assert_eq!(list[1]["verdict"], "accepted");
    assert_eq!(list[1]["event"], "domain.status_changed");
    let processed =
        json_of(reqwest::get(receiver.base_url().join("processed").unwrap()).await).await;
    assert_eq!(processed["processed"], 1);
    receiver.stop().await;
}

#[tokio::test]
async fn receive_refuses_invalid_fault_programs_naming_the_token() {
    let (code, _, stderr) =
        run_cli(&["receive", "--port", "0", "--fault", "status=5x0"], b"").await;
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("`5x0`"), "{stderr}");
    let (code, _, stderr) = run_cli(&["receive", "--port", "0", "--fault", "explode"], b"").await;
    assert_eq!(code, 64);
    assert!(stderr.contains("`explode` is not a fault"), "{stderr}");
    let (code, _, stderr) =
        run_cli(&["receive", "--port", "0", "--fault-uid", "domain-1"], b"").await;
    assert_eq!(code, 64, "--fault-uid needs a --fault: {stderr}");
}

#[tokio::test]
async fn receive_applies_fault_flags_and_prints_one_line_per_delivery() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_inboxkit-mock"))
        .args([
            "receive",
            "--port",
            "0",
            "--secret",
            SECRET,
            "--fault",
            "status=500,200",
            "--fault-event",
            "domain.status_changed",
        ])
        .env_remove("INBOXKIT_MOCK_API_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = next_line(&mut lines).await;
    let url = banner
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap()
        .to_owned();
    assert_eq!(
        next_line(&mut lines).await,
        "fault: status=500,200:event=domain.status_changed"
    );
    // A patient deadline: a loaded machine must not turn the first answer into a timeout.
    let record = sender(FAST)
        .deliver(patient_subscriber(&url), domain_event())
        .await;
    assert_eq!(statuses(&record), [500, 200]);
    let first = next_line(&mut lines).await;
    let second = next_line(&mut lines).await;
    assert!(
        first.contains("-> 500 Faulted") && first.contains("[fault: status=500,200"),
        "{first}"
    );
    assert!(second.contains("-> 200 Accepted"), "{second}");
    child.kill().await.unwrap();
}
