//! `check` against the example consumers (in process), the reference receiver, and consumers
//! that hang, reset or answer garbage.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use inboxkit_mock::check::{self, CheckConfig, Report, Verdict};
use inboxkit_mock::contract::{PayloadShape, Secret, SignatureScheme, Signer};
use inboxkit_mock::receiver::{ReceiverConfig, RunningReceiver};
use url::Url;

use crate::support::{Misbehaviour, SECRET, raw_subscriber, run_cli};

#[path = "../../examples/consumers/buggy.rs"]
mod buggy;
#[path = "../../examples/consumers/correct.rs"]
mod correct;

/// The deadline in these tests: generous for a loaded machine, short for hanging consumers.
const DEADLINE: Duration = Duration::from_secs(5);
const API_KEY: &str = "ik_live_abc123";

/// A consumer running in this process, stopped on drop.
struct Consumer {
    base: Url,
    handle: actix_web::dev::ServerHandle,
}

impl Consumer {
    fn correct(key: correct::Key) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let server = correct::start(listener, key).unwrap();
        Consumer::run(base, server)
    }

    fn buggy(key: buggy::Key) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let server = buggy::start(listener, key).unwrap();
        Consumer::run(base, server)
    }

    fn run(base: Url, server: actix_web::dev::Server) -> Self {
        let handle = server.handle();
        tokio::spawn(server);
        Consumer { base, handle }
    }

    fn webhook(&self) -> Url {
        self.base.join("webhook").unwrap()
    }

    fn processed(&self) -> Url {
        self.base.join("processed").unwrap()
    }

    async fn stop(self) {
        self.handle.stop(true).await;
    }
}

fn hmac_config(target: Url, processed: Option<Url>) -> CheckConfig {
    let signer = Signer::new(SignatureScheme::HmacBody, Secret::new(SECRET));
    let mut config = CheckConfig::new(target, signer, PayloadShape::Seed, DEADLINE);
    config.processed_url = processed;
    config.bearer = Some(Secret::new("test-token"));
    config.seed = Some(11);
    config
}

fn api_key_config(target: Url, processed: Option<Url>) -> CheckConfig {
    let signer = Signer::new(SignatureScheme::ApiKeySha256, Secret::new(API_KEY));
    let mut config = CheckConfig::new(target, signer, PayloadShape::Current, DEADLINE);
    config.processed_url = processed;
    config
}

fn explain(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap()
}

#[tokio::test]
async fn check_passes_the_correct_consumer() {
    let consumer = Consumer::correct(correct::Key::WebhookSecret(SECRET.into()));
    let report = check::run(&hmac_config(consumer.webhook(), Some(consumer.processed())))
        .await
        .unwrap();
    assert_eq!(
        report.count(Verdict::Pass),
        report.results.len(),
        "{}",
        explain(&report)
    );
    for name in [
        "accept.domain.status_changed",
        "accept.mailbox.status_changed",
        "accept.consent_request.status_changed",
        "accept.client_id_request.status_changed",
        "signature.raw_bytes",
        "signature.wrong",
        "signature.missing",
        "signature.tampered_body",
        "payload.malformed_json",
        "duplicate.exact",
        "duplicate.new_status_same_uid",
        "duplicate.same_status_later_change",
        "tolerance.unknown_platform",
        "tolerance.unknown_status",
        "tolerance.unknown_event",
        "load.burst",
        "deadline.every_answer",
    ] {
        assert!(report.result(name).is_some(), "{name} missing");
    }
    let later = report.result("duplicate.same_status_later_change").unwrap();
    assert!(
        later.observed.contains("(+3, expected +3)"),
        "{}",
        later.observed
    );
    assert!(
        report
            .untested
            .iter()
            .any(|u| u.name == "signature.constant_time"),
        "the report names what it cannot test"
    );
    let exact = report.result("duplicate.exact").unwrap();
    assert!(
        exact.observed.contains("(+1, expected +1)"),
        "{}",
        exact.observed
    );
    consumer.stop().await;
}

#[tokio::test]
async fn check_fails_the_buggy_consumer_naming_exactly_its_three_bugs() {
    let consumer = Consumer::buggy(buggy::Key::WebhookSecret(SECRET.into()));
    let report = check::run(&hmac_config(consumer.webhook(), Some(consumer.processed())))
        .await
        .unwrap();
    assert_eq!(
        report.failed(),
        [
            "signature.raw_bytes",
            "duplicate.new_status_same_uid",
            "duplicate.same_status_later_change",
            "tolerance.unknown_event"
        ],
        "{}",
        explain(&report)
    );
    let new_status = report.result("duplicate.new_status_same_uid").unwrap();
    assert!(
        new_status.observed.contains("(+1, expected +2)"),
        "{}",
        new_status.observed
    );
    let unknown = report.result("tolerance.unknown_event").unwrap();
    assert!(
        unknown.observed.starts_with("HTTP 500"),
        "{}",
        unknown.observed
    );
    assert_eq!(report.count(Verdict::NeedsCooperation), 0);
    consumer.stop().await;
}

#[tokio::test]
async fn under_the_current_profile_the_api_key_scheme_is_checked() {
    let consumer = Consumer::correct(correct::Key::ApiKey(API_KEY.into()));
    let report = check::run(&api_key_config(
        consumer.webhook(),
        Some(consumer.processed()),
    ))
    .await
    .unwrap();
    assert!(!report.has_failures(), "{}", explain(&report));
    assert!(
        report.result("signature.tampered_body").is_none(),
        "the api-key signature does not cover the body"
    );
    consumer.stop().await;

    // The re-serialization bug cannot show when the signature does not cover the body.
    let consumer = Consumer::buggy(buggy::Key::ApiKey(API_KEY.into()));
    let report = check::run(&api_key_config(
        consumer.webhook(),
        Some(consumer.processed()),
    ))
    .await
    .unwrap();
    assert_eq!(
        report.failed(),
        [
            "duplicate.new_status_same_uid",
            "duplicate.same_status_later_change",
            "tolerance.unknown_event"
        ]
    );
    consumer.stop().await;
}

#[tokio::test]
async fn without_a_processed_endpoint_the_duplicate_checks_say_they_need_cooperation() {
    let consumer = Consumer::correct(correct::Key::WebhookSecret(SECRET.into()));
    let report = check::run(&hmac_config(consumer.webhook(), None))
        .await
        .unwrap();
    assert!(!report.has_failures(), "{}", explain(&report));
    for name in [
        "duplicate.exact",
        "duplicate.new_status_same_uid",
        "duplicate.same_status_later_change",
    ] {
        let result = report.result(name).unwrap();
        assert_eq!(result.verdict, Verdict::NeedsCooperation, "{name}");
        assert!(
            result.observed.contains("--processed-url"),
            "{}",
            result.observed
        );
    }
    consumer.stop().await;
}

#[tokio::test]
async fn the_reference_receiver_passes_check() {
    let receiver = RunningReceiver::start_local(ReceiverConfig {
        verifier: Some(Signer::new(SignatureScheme::HmacBody, Secret::new(SECRET))),
        ..ReceiverConfig::default()
    })
    .unwrap();
    let processed = receiver.base_url().join("processed").unwrap();
    let report = check::run(&hmac_config(receiver.webhook_url(), Some(processed)))
        .await
        .unwrap();
    assert_eq!(
        report.count(Verdict::Pass),
        report.results.len(),
        "{}",
        explain(&report)
    );
    receiver.stop().await;
}

#[tokio::test]
async fn a_hanging_consumer_fails_every_check_in_bounded_time() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!(
        "http://{}/webhook",
        listener.local_addr().unwrap()
    ))
    .unwrap();
    // Accepts connections and reads, but never answers.
    let hang = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut config = hmac_config(url, None);
    config.deadline = Duration::from_millis(200);
    config.burst = 5;
    let started = Instant::now();
    let report = check::run(&config).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    let duplicate = report.result("duplicate.exact").unwrap();
    assert_eq!(
        duplicate.verdict,
        Verdict::Fail,
        "wrong answers fail even without cooperation"
    );
    assert_eq!(
        report.count(Verdict::Fail),
        report.results.len(),
        "{}",
        explain(&report)
    );
    let accepted = report.result("accept.domain.status_changed").unwrap();
    assert!(
        accepted.observed.starts_with("timeout after"),
        "{}",
        accepted.observed
    );
    hang.abort();
}

#[tokio::test]
async fn resets_and_garbage_are_failed_checks_with_the_observation() {
    for (misbehaviour, code) in [
        (Misbehaviour::CloseAfterRequest, "connection_closed"),
        (Misbehaviour::Garbage, "invalid_response"),
    ] {
        let url = Url::parse(&raw_subscriber(misbehaviour).await).unwrap();
        let report = check::run(&hmac_config(url, None)).await.unwrap();
        assert_eq!(
            report.count(Verdict::Fail),
            report.results.len(),
            "{}",
            explain(&report)
        );
        let observed = &report.result("signature.wrong").unwrap().observed;
        assert!(observed.starts_with(code), "{misbehaviour:?}: {observed}");
    }
}

#[tokio::test]
async fn a_broken_processed_endpoint_fails_the_checks_that_use_it() {
    let consumer = Consumer::correct(correct::Key::WebhookSecret(SECRET.into()));
    let not_json = consumer.base.join("webhook").unwrap(); // GET on a POST route: not JSON
    let report = check::run(&hmac_config(consumer.webhook(), Some(not_json)))
        .await
        .unwrap();
    assert_eq!(
        report.failed(),
        [
            "duplicate.exact",
            "duplicate.new_status_same_uid",
            "duplicate.same_status_later_change",
            "load.burst"
        ],
        "{}",
        explain(&report)
    );
    let observed = &report.result("duplicate.exact").unwrap().observed;
    assert!(observed.contains("processed endpoint: GET"), "{observed}");
    consumer.stop().await;
}

#[tokio::test]
async fn the_cli_prints_a_table_json_and_junit_and_exits_by_the_result() {
    let consumer = Consumer::correct(correct::Key::WebhookSecret(SECRET.into()));
    let junit =
        std::env::temp_dir().join(format!("ikm-check-{}.xml", uuid::Uuid::new_v4().simple()));
    let target = consumer.webhook().to_string();
    let processed = consumer.processed().to_string();
    let junit_arg = junit.display().to_string();
    let (code, stdout, stderr) = run_cli(
        &[
            "check",
            "--target",
            &target,
            "--secret",
            SECRET,
            "--timeout",
            "5s",
            "--processed-url",
            &processed,
            "--junit",
            &junit_arg,
        ],
        b"",
    )
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("CHECK"), "{stdout}");
    assert!(
        stdout.contains("17 checks against") && stdout.contains("17 passed, 0 failed"),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"17\" failures=\"0\""), "{xml}");
    std::fs::remove_file(&junit).unwrap();
    consumer.stop().await;

    let consumer = Consumer::buggy(buggy::Key::WebhookSecret(SECRET.into()));
    let target = consumer.webhook().to_string();
    let processed = consumer.processed().to_string();
    let (code, stdout, stderr) = run_cli(
        &[
            "check",
            "--target",
            &target,
            "--secret",
            SECRET,
            "--processed-url",
            &processed,
            "--output",
            "json",
        ],
        b"",
    )
    .await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    let report: Report = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report.failed(),
        [
            "signature.raw_bytes",
            "duplicate.new_status_same_uid",
            "duplicate.same_status_later_change",
            "tolerance.unknown_event"
        ]
    );
    consumer.stop().await;
}

#[tokio::test]
async fn the_cli_refuses_bad_targets_and_missing_keys() {
    for (args, needle) in [
        (
            vec!["check", "--target", "not a url", "--secret", "s"],
            "--target",
        ),
        (
            vec![
                "check",
                "--target",
                "ftp://example.com/hook",
                "--secret",
                "s",
            ],
            "http",
        ),
        (
            vec!["check", "--target", "http://127.0.0.1:1/hook"],
            "--secret",
        ),
        (
            vec![
                "check",
                "--target",
                "http://127.0.0.1:1/hook",
                "--secret",
                "s",
                "--burst",
                "0",
            ],
            "--burst",
        ),
        (
            vec![
                "check",
                "--target",
                "http://127.0.0.1:1/hook",
                "--secret",
                "s",
                "--processed-url",
                "nope",
            ],
            "--processed-url",
        ),
    ] {
        let (code, stdout, stderr) = run_cli(&args, b"").await;
        assert_eq!(code, 64, "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
