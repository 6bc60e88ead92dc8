//! Shipping: the `health` probe containers use instead of curl, and the commands the
//! container files (Dockerfile, docker-compose.yml) run.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use inboxkit_mock::contract::Secret;
use inboxkit_mock::receiver::{ReceiverConfig, RunningReceiver};
use inboxkit_mock::server::{RunningServer, ServerConfig};
use inboxkit_mock::simulation::Clock;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{refused_url, run_cli};

fn start_server() -> RunningServer {
    let clock = Clock::scaled(1.0).unwrap();
    let mut config = ServerConfig::new(7, clock, Secret::new("ik_key"), Secret::new("whsec_s"));
    config.builtin_receiver = false;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    RunningServer::start(listener, config).unwrap()
}

#[tokio::test]
async fn health_exits_0_against_a_running_mock_alive_and_ready() {
    let server = start_server();
    let base = server.base_url();
    let (code, stdout, stderr) = run_cli(&["health", "--url", &base], b"").await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("/_mock/health"), "{stdout}");
    let (code, stdout, stderr) = run_cli(&["health", "--url", &base, "--ready"], b"").await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("/_mock/ready"), "{stdout}");
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn health_exits_1_when_nothing_listens() {
    let url = refused_url().await;
    let base = url.trim_end_matches("/webhook");
    let (code, stdout, stderr) = run_cli(&["health", "--url", base], b"").await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("unhealthy"), "{stdout}");
}

#[tokio::test]
async fn health_exits_1_when_not_ready_or_too_slow() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/_mock/ready"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&upstream)
        .await;
    Mock::given(method("GET"))
        .and(path("/_mock/health"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&upstream)
        .await;
    let base = upstream.uri();
    let (code, stdout, stderr) = run_cli(&["health", "--url", &base, "--ready"], b"").await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("503"), "{stdout}");
    let started = Instant::now();
    let (code, stdout, stderr) =
        run_cli(&["health", "--url", &base, "--timeout", "200ms"], b"").await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("no answer within"), "{stdout}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the timeout held"
    );
}

#[tokio::test]
async fn health_probes_a_url_with_a_path_as_given() {
    let receiver = RunningReceiver::start_local(ReceiverConfig::default()).unwrap();
    let url = format!("http://{}/health", receiver.addr());
    let (code, stdout, stderr) = run_cli(&["health", "--url", &url], b"").await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    receiver.stop().await;
}

#[tokio::test]
async fn health_rejects_a_malformed_url_as_usage() {
    let (code, _, stderr) = run_cli(&["health", "--url", "not a url"], b"").await;
    assert_eq!(code, 64, "{stderr}");
}

/// The exec-form arrays (`["serve", "--bind", "0.0.0.0"]`) in a Dockerfile or compose file.
fn exec_arrays(text: &str) -> Vec<Vec<String>> {
    let mut arrays = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('[') {
        rest = &rest[start..];
        let Some(end) = rest.find(']') else { break };
        if let Ok(array) = serde_json::from_str::<Vec<String>>(&rest[..=end]) {
            arrays.push(array);
        }
        rest = &rest[1..];
    }
    arrays
}

/// Every `inboxkit-mock` command line the container files run still parses: a renamed flag or
/// subcommand would otherwise break the image and compose file while their linters pass.
#[tokio::test]
async fn the_container_files_run_commands_the_cli_accepts() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut commands = Vec::new();
    for file in ["Dockerfile", "Dockerfile.release", "docker-compose.yml"] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        for array in exec_arrays(&text) {
            let args: Vec<String> = match array.first().map(String::as_str) {
                // HEALTHCHECK CMD [...] and compose `test: ["CMD", ...]`.
                Some("CMD") | Some("inboxkit-mock") => array
                    .iter()
                    .skip_while(|a| *a != "inboxkit-mock")
                    .skip(1)
                    .cloned()
                    .collect(),
                // CMD / `command:` arrays given to the inboxkit-mock entrypoint.
                Some("serve" | "receive" | "health") => array.clone(),
                _ => continue,
            };
            if !args.is_empty() {
                commands.push((file, args));
            }
        }
    }
    assert!(
        commands.len() >= 7,
        "found too few inboxkit-mock commands in the container files: {commands:?}"
    );
    for (file, args) in &commands {
        let mut with_help: Vec<&str> = args.iter().map(String::as_str).collect();
        with_help.push("--help");
        let (code, _, stderr) = run_cli(&with_help, b"").await;
        assert_eq!(
            code,
            0,
            "{file}: `inboxkit-mock {}` does not parse: {stderr}",
            args.join(" ")
        );
    }
}
