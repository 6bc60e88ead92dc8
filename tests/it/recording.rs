//! Recordings made from the mock's own traffic: exact bodies, verdicts, redaction; plus the
//! helpers the drift and replay tests record with.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use inboxkit_mock::contract::{EventType, Profile, Secret, SignatureScheme, Signer};
use inboxkit_mock::delivery::{RetryPolicy, Subscriber};
use inboxkit_mock::recording::{RecordedRequest, Recorder, SignatureKeys, load};
use url::Url;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

/// The API key the tests sign with under the api-key-sha256 scheme.
pub const API_KEY: &str = "ik_live_abc123";

/// A fresh path in the system's temporary folder (removed by [`TempFile`]'s drop).
pub struct TempFile(pub PathBuf);

impl TempFile {
    /// A new, not yet existing `.jsonl` path.
    pub fn new() -> Self {
        TempFile(std::env::temp_dir().join(format!("ikm-{}.jsonl", uuid::Uuid::new_v4())))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A fixture recording under `tests/fixtures/recordings/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/recordings")
        .join(name)
}

/// A subscriber at `url` as `profile` sends: seed signs with [`SECRET`] and sends a bearer
/// token, current signs with [`API_KEY`] and does not.
pub fn profile_subscriber(url: &str, profile: Profile) -> Arc<Subscriber> {
    let settings = profile.settings();
    let (key, bearer) = match settings.signature_scheme {
        SignatureScheme::HmacBody => (SECRET, Some(Secret::new(API_KEY))),
        SignatureScheme::ApiKeySha256 => (API_KEY, None),
    };
    Arc::new(Subscriber {
        url: Url::parse(url).unwrap(),
        signer: Signer::new(settings.signature_scheme, Secret::new(key)),
        bearer: bearer.filter(|_| settings.send_authorization),
        timeout: Duration::from_secs(10),
        policy: RetryPolicy::default(),
        mock_headers: true,
    })
}

/// Both test keys, for verdicts under each scheme.
pub fn keys() -> SignatureKeys {
    SignatureKeys::new(Some(Secret::new(SECRET)), Some(Secret::new(API_KEY)))
}

/// What the subscriber got: every request wiremock received, as (method, path, headers, body).
pub async fn received(
    server: &MockServer,
) -> Vec<(String, String, Vec<(String, String)>, Vec<u8>)> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .map(|request| {
            let headers = request
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            (
                request.method.to_string(),
                request.url.path().to_owned(),
                headers,
                request.body,
            )
        })
        .collect()
}

/// Sends one event of every type as `profile` does to a subscriber, records each request it
/// got with a [`Recorder`] (verdicts under both keys), and returns the recording's path.
pub async fn record_mock_traffic(profile: Profile, keep_credentials: bool) -> TempFile {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let sender = sender(FAST);
    let subscriber = profile_subscriber(&server.uri(), profile);
    for event in EventType::KNOWN {
        let outgoing = event_of(event.clone(), profile.settings().payload_shape);
        sender.deliver(subscriber.clone(), outgoing).await;
    }
    let file = TempFile::new();
    let recorder = Recorder::create(&file.0, keep_credentials).unwrap();
    let keys = keys();
    for (method, path, headers, body) in received(&server).await {
        let verdicts = keys.verdicts_for(&headers, &body);
        recorder
            .record(&method, &path, &headers, &body, verdicts)
            .unwrap();
    }
    file
}

fn lines(path: &Path) -> Vec<RecordedRequest> {
    load(path, false)
        .unwrap()
        .requests
        .into_iter()
        .map(|numbered| numbered.request)
        .collect()
}

#[tokio::test]
async fn a_recording_keeps_each_request_exactly() {
    let file = record_mock_traffic(Profile::Seed, true).await;
    let recorded = lines(&file.0);
    assert_eq!(recorded.len(), EventType::KNOWN.len());
    for (line, event) in recorded.iter().zip(EventType::KNOWN) {
        assert_eq!(line.method, "POST");
        assert_eq!(line.header("X-InboxKit-Event"), Some(event.as_str()));
        assert!(!line.credentials_redacted);
        let body = line.body_bytes().unwrap();
        let signature = line.header("x-inboxkit-signature").unwrap();
        // The body is byte-exact: the recorded signature still verifies over it.
        let signer = Signer::new(SignatureScheme::HmacBody, Secret::new(SECRET));
        assert!(signer.verify(&body, Some(signature)).is_ok());
        assert_eq!(line.signature.hmac_body, Some(true));
        assert_eq!(line.signature.api_key_sha256, Some(false));
    }
}

#[tokio::test]
async fn credentials_are_redacted_unless_kept() {
    let file = record_mock_traffic(Profile::Current, false).await;
    let recorded = lines(&file.0);
    let mailbox = recorded
        .iter()
        .find(|l| l.header("x-inboxkit-event") == Some("mailbox.status_changed"))
        .unwrap();
    assert!(mailbox.credentials_redacted);
    let body: serde_json::Value = serde_json::from_slice(&mailbox.body_bytes().unwrap()).unwrap();
    for field in ["password", "app_password", "secret"] {
        assert_eq!(body["data"]["mailbox"][field], "<redacted>", "{field}");
    }
    // The verdicts were taken over the bytes as received, before redaction.
    assert_eq!(mailbox.signature.api_key_sha256, Some(true));
    let others = recorded.iter().filter(|l| !std::ptr::eq(*l, mailbox));
    assert!(others.clone().all(|l| !l.credentials_redacted));
    assert_eq!(others.count(), 3);

    let kept = record_mock_traffic(Profile::Current, true).await;
    let text = std::fs::read_to_string(&kept.0).unwrap();
    assert!(!text.contains("<redacted>"));
}

/// `receive --record` as a user runs it: the mock's own deliveries, recorded by the binary,
/// show no drift.
#[tokio::test]
async fn receive_record_captures_what_drift_then_accepts() {
    use tokio::io::AsyncBufReadExt;

    let file = TempFile::new();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_inboxkit-mock"))
        .args(["receive", "--port", "0", "--secret", SECRET, "--record"])
        .arg(&file.0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut output = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), output.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let url = first
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap()
        .to_owned();
    let sender = sender(FAST);
    for event in EventType::KNOWN {
        let record = sender
            .deliver(
                subscriber(&url),
                event_of(event.clone(), inboxkit_mock::contract::PayloadShape::Seed),
            )
            .await;
        assert_eq!(
            record.state,
            inboxkit_mock::delivery::DeliveryState::Delivered
        );
    }
    child.kill().await.unwrap();
    let recorded = lines(&file.0);
    assert_eq!(recorded.len(), 4);
    assert!(
        recorded.iter().all(|r| r.credentials_redacted
            == r.body.as_deref().is_some_and(|b| b.contains("\"mailbox\"")))
    );
    let (code, stdout, stderr) = run_cli(
        &["drift", file.0.to_str().unwrap(), "--secret", SECRET],
        b"",
    )
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
}
