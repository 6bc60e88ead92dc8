//! The binary as a user runs it: exit codes, known answers, usage errors.

use crate::support::{run_cli, run_cli_env, server_answering};

#[tokio::test]
async fn sign_prints_the_known_answer() {
    let (code, stdout, _) = run_cli(
        &["sign", "--secret", "It's a Secret to Everybody"],
        b"Hello, World!",
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
}

#[tokio::test]
async fn sign_with_an_api_key_hashes_the_key() {
    let (code, stdout, _) = run_cli(&["sign", "--api-key", "ik_live_abc123"], b"whatever").await;
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        "sha256=0c530431e84be11903b8b716a4de19b8456c53f91fa5cbc025f447d10a4f3660"
    );
}

#[tokio::test]
async fn verify_exits_zero_or_one() {
    let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let args = |sig: &'static str| {
        [
            "verify",
            "--secret",
            "It's a Secret to Everybody",
            "--signature",
            sig,
        ]
    };
    assert_eq!(run_cli(&args(good), b"Hello, World!").await.0, 0);
    assert_eq!(run_cli(&args(good), b"Hello, World?").await.0, 1);
    let (code, stdout, _) = run_cli(&args("sha256=nothex"), b"Hello, World!").await;
    assert_eq!(code, 1);
    assert!(stdout.contains("64 hex digits"), "{stdout}");
}

#[tokio::test]
async fn send_exit_codes_follow_the_terminal_state() {
    let fast = ["--secret", "s", "--time-scale", "1000"];
    for (status, expected) in [(200, 0), (422, 1), (500, 2)] {
        let server = server_answering(status).await;
        let uri = server.uri();
        let mut args = vec!["send", "--to", uri.as_str()];
        args.extend(fast);
        let (code, stdout, stderr) = run_cli(&args, b"").await;
        assert_eq!(code, expected, "status {status}: {stdout}{stderr}");
        let attempts = if status == 500 { 4 } else { 1 };
        assert_eq!(server.received_requests().await.unwrap().len(), attempts);
        assert!(
            stdout.contains(&format!("after {attempts} attempt")),
            "{stdout}"
        );
    }
}

#[tokio::test]
async fn send_applies_overrides_and_prints_json() {
    let server = server_answering(200).await;
    let uri = server.uri();
    let (code, stdout, stderr) = run_cli(
        &[
            "send",
            "--to",
            &uri,
            "--secret",
            "s",
            "--event",
            "mailbox.status_changed",
            "--set",
            "data.mailbox.status=suspended",
            "--set",
            "data.mailbox.platform=YAHOO",
            "--output",
            "json",
            "--seed",
            "3",
        ],
        b"",
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let record: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(record["state"], "delivered");
    assert_eq!(record["status"], "suspended");
    let sent: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(sent["data"]["mailbox"]["platform"], "YAHOO");
    assert_eq!(sent["event"], "mailbox.status_changed");
}

#[tokio::test]
async fn the_same_seed_sends_the_same_entity() {
    let server = server_answering(200).await;
    let uri = server.uri();
    for _ in 0..2 {
        run_cli(
            &["send", "--to", &uri, "--secret", "s", "--seed", "11"],
            b"",
        )
        .await;
    }
    let requests = server.received_requests().await.unwrap();
    let data = |i: usize| {
        serde_json::from_slice::<serde_json::Value>(&requests[i].body).unwrap()["data"].clone()
    };
    assert_eq!(data(0), data(1));
}

#[tokio::test]
async fn bad_input_is_a_one_line_usage_error() {
    let cases: [(&[&str], &str); 6] = [
        (
            &[
                "send",
                "--to",
                "http://127.0.0.1:1/",
                "--secret",
                "s",
                "--event",
                "domain.renamed",
            ],
            "unknown EventType `domain.renamed`",
        ),
        (
            &[
                "send",
                "--to",
                "http://127.0.0.1:1/",
                "--secret",
                "s",
                "--set",
                "data.domain.status",
            ],
            "not PATH=VALUE",
        ),
        (
            &[
                "send",
                "--to",
                "http://127.0.0.1:1/",
                "--secret",
                "s",
                "--set",
                "event.x=1",
            ],
            "inside a string",
        ),
        (
            &["send", "--to", "not a url", "--secret", "s"],
            "not a valid URL",
        ),
        (
            &["send", "--to", "ftp://example.com/", "--secret", "s"],
            "not an http",
        ),
        (
            &["send", "--to", "http://127.0.0.1:1/"],
            "needs the webhook secret",
        ),
    ];
    for (args, message) in cases {
        let (code, stdout, stderr) = run_cli(args, b"").await;
        assert_eq!(code, 64, "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"));
    }
    let (code, _, stderr) = run_cli(&["send", "--no-such-flag"], b"").await;
    assert_eq!(code, 64, "{stderr}");
}

#[tokio::test]
async fn demo_delivers_every_lifecycle_event_signed() {
    let (code, stdout, stderr) = run_cli(&["demo"], b"").await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("10 events: 10 delivered"), "{stdout}");
    assert!(stdout.contains("verified 10 of 10 signatures"), "{stdout}");
    assert!(
        stdout.contains("waiting_for_dns_propagation -> active"),
        "{stdout}"
    );
    assert!(stdout.contains("finalizing_setup -> active"), "{stdout}");
}

#[tokio::test]
async fn help_documents_exit_codes_and_hides_secrets() {
    let (code, stdout, _) = run_cli(&["--help"], b"").await;
    assert_eq!(code, 0);
    assert!(stdout.contains("64  usage error"), "{stdout}");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_inboxkit-mock"));
    child
        .args(["send", "--help"])
        .env("INBOXKIT_MOCK_SECRET", "hunter2-secret");
    let output = child.output().await.unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("--secret"));
    assert!(!help.contains("hunter2-secret"), "{help}");
}

#[tokio::test]
async fn config_file_then_environment_then_flag_take_precedence() {
    let dir = tempfile_dir();
    let config = dir.join("mock.toml");
    std::fs::write(&config, "secret = \"from-file\"\n").unwrap();
    let config = config.to_str().unwrap();
    let sign = |secret: &str| {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(b"body");
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    };
    let (code, stdout, stderr) = run_cli(&["--config", config, "sign"], b"body").await;
    assert_eq!(
        (code, stdout.trim()),
        (0, sign("from-file").as_str()),
        "{stderr}"
    );
    let env = [("INBOXKIT_MOCK_SECRET", "from-env")];
    let (_, stdout, _) = run_cli_env(&["sign", "--config", config], &env, b"body").await;
    assert_eq!(stdout.trim(), sign("from-env"));
    let (_, stdout, _) = run_cli_env(
        &["sign", "--secret", "from-flag"],
        &[("INBOXKIT_MOCK_CONFIG", config)],
        b"body",
    )
    .await;
    assert_eq!(stdout.trim(), sign("from-flag"));
    // The file is also found through INBOXKIT_MOCK_CONFIG.
    let (_, stdout, _) = run_cli_env(&["sign"], &[("INBOXKIT_MOCK_CONFIG", config)], b"body").await;
    assert_eq!(stdout.trim(), sign("from-file"));
}

#[tokio::test]
async fn a_bad_config_file_is_a_located_usage_error() {
    let dir = tempfile_dir();
    let config = dir.join("mock.toml");
    std::fs::write(&config, "[send]\ntimeout = \"soon\"\n").unwrap();
    let config = config.to_str().unwrap();
    let (code, _, stderr) = run_cli(&["--config", config, "sign", "--secret", "s"], b"").await;
    assert_eq!(code, 64, "{stderr}");
    assert!(
        stderr.contains(&format!("{config}:2:11: send.timeout:")),
        "{stderr}"
    );
    let (code, _, stderr) = run_cli(&["--config", "/nonexistent/mock.toml", "sign"], b"").await;
    assert_eq!(code, 64);
    assert!(stderr.contains("/nonexistent/mock.toml"), "{stderr}");
}

#[tokio::test]
async fn log_format_json_writes_one_json_object_per_line_without_secrets() {
    let server = server_answering(200).await;
    let (code, _, stderr) = run_cli(
        &[
            "send",
            "--to",
            &server.uri(),
            "--secret",
            "whsec_must_not_leak",
            "--log-format",
            "json",
            "-vv",
        ],
        b"",
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let attempt = lines
        .iter()
        .find(|line| line["message"] == "attempt")
        .unwrap_or_else(|| panic!("an attempt is logged: {stderr}"));
    assert_eq!(attempt["level"], "DEBUG");
    assert_eq!(attempt["outcome"], "delivered");
    assert!(!stderr.contains("whsec_must_not_leak"));
}

/// A fresh empty directory under the system's temporary directory.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ikm-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
