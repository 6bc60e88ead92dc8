//! Shared helpers: subscribers on a fast clock, raw TCP misbehaviour, the binary under test.

use std::sync::Arc;
use std::time::Duration;

use inboxkit_mock::contract::{Account, EventType, PayloadShape, Secret, SignatureScheme, Signer};
use inboxkit_mock::delivery::{OutgoingEvent, RetryPolicy, Sender, SenderOptions, Subscriber};
use inboxkit_mock::model::Faker;
use inboxkit_mock::simulation::Clock;
use inboxkit_mock::simulation::sample::sample_envelope;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// 100 simulated seconds per real second: the default retry delays (10 s, 30 s, 60 s) take one
/// real second in all (the response deadline is real time and does not scale).
pub const FAST: f64 = 100.0;

/// The secret the tests sign with.
pub const SECRET: &str = "It's a Secret to Everybody";

/// A sender on a clock running `scale` times real time.
pub fn sender(scale: f64) -> Sender {
    Sender::new(Clock::scaled(scale).unwrap(), SenderOptions::default()).unwrap()
}

/// A seed-profile subscriber at `url` with the documented defaults.
pub fn subscriber(url: &str) -> Arc<Subscriber> {
    Arc::new(Subscriber {
        url: Url::parse(url).unwrap(),
        signer: Signer::new(SignatureScheme::HmacBody, Secret::new(SECRET)),
        bearer: Some(Secret::new("test-token")),
        timeout: Duration::from_secs(10),
        policy: RetryPolicy::default(),
        mock_headers: true,
    })
}

/// Like [`subscriber`] with a 1,000 s deadline (10 real seconds at [`FAST`]), for tests that
/// count attempts: a busy machine must not turn a slow answer into a timeout and a retry.
pub fn patient_subscriber(url: &str) -> Arc<Subscriber> {
    Arc::new(Subscriber {
        timeout: Duration::from_secs(1000),
        ..(*subscriber(url)).clone()
    })
}

/// Like [`subscriber`] with a 300 ms deadline, for tests of the deadline: their subscriber
/// takes seconds, well past it, so a loaded machine cannot turn a timeout into an answer.
pub fn impatient_subscriber(url: &str) -> Arc<Subscriber> {
    Arc::new(Subscriber {
        timeout: IMPATIENT,
        ..(*subscriber(url)).clone()
    })
}

/// The deadline of [`impatient_subscriber`].
pub const IMPATIENT: Duration = Duration::from_millis(300);

/// A typical event of `event`'s kind from a fixed seed.
pub fn event_of(event: EventType, shape: PayloadShape) -> OutgoingEvent {
    let mut faker = Faker::seeded(7);
    let account: Account = faker.account();
    let envelope =
        sample_envelope(&event, &mut faker, &account, shape, chrono::Utc::now()).unwrap();
    OutgoingEvent::from_envelope(&envelope)
}

/// A typical `domain.status_changed` event.
pub fn domain_event() -> OutgoingEvent {
    event_of(EventType::DomainStatusChanged, PayloadShape::Seed)
}

/// What a raw TCP subscriber does with each connection.
#[derive(Debug, Clone, Copy)]
pub enum Misbehaviour {
    /// Reads the request, then closes without answering.
    CloseAfterRequest,
    /// Reads the request, then answers bytes that are not HTTP.
    Garbage,
}

/// A subscriber that misbehaves below HTTP; returns its URL.
pub async fn raw_subscriber(misbehaviour: Misbehaviour) -> String {
    raw(move |mut socket| async move {
        if let Misbehaviour::Garbage = misbehaviour {
            let _ = socket.write_all(b"this is not http at all\r\n\r\n").await;
        }
        let _ = socket.shutdown().await;
    })
    .await
}

/// A raw TCP subscriber that reads the request of each connection, then hands the connection
/// to `then`; returns its URL.
pub async fn raw<F, Fut>(then: F) -> String
where
    F: Fn(TcpStream) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut buffer).await;
                then(socket).await;
            });
        }
    });
    url
}

/// A wiremock subscriber that answers every POST with `status`.
pub async fn server_answering(status: u16) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

/// A URL on which nothing listens.
pub async fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/webhook")
}

/// Runs the `inboxkit-mock` binary with `args` and `stdin`; returns (exit code, stdout, stderr).
pub async fn run_cli(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    run_cli_env(args, &[], stdin).await
}

/// Like [`run_cli`], with extra environment variables.
pub async fn run_cli_env(
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &[u8],
) -> (i32, String, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_inboxkit-mock"))
        .args(args)
        .env_remove("INBOXKIT_MOCK_SECRET")
        .env_remove("INBOXKIT_MOCK_API_KEY")
        .env_remove("INBOXKIT_MOCK_CONFIG")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).await.unwrap();
    drop(input);
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the command finishes within a minute")
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Sends a request and parses the answer as JSON; panics on failure (tests only).
pub(crate) trait JsonAnswer {
    /// The answer's body as JSON.
    async fn json_answer(self) -> serde_json::Value;
}

impl JsonAnswer for reqwest::RequestBuilder {
    async fn json_answer(self) -> serde_json::Value {
        self.send().await.unwrap().json().await.unwrap()
    }
}
