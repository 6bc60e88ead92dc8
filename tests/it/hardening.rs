//! Issue 15 (reliability): secrets never shown or saved, the tokenless control API refusing
//! browser attacks, slow bodies cut, 405 and HEAD, and the command line's rough edges (broken
//! pipes, environment variables, empty tokens, read-only state files).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use inboxkit_mock::contract::{Secret, SignatureScheme, Signer};
use inboxkit_mock::listener_limits::BODY_TIMEOUT;
use inboxkit_mock::persistence::StateSpec;
use inboxkit_mock::receiver::{ReceiverConfig, RunningReceiver};
use inboxkit_mock::server::{RunningServer, ServerConfig};
use inboxkit_mock::simulation::Clock;
use serde_json::{Value, json};

use crate::server::{API_KEY, Mock};
use crate::support::run_cli;

const ADMIN: &str = "adm_hardening_token";

/// A raw HTTP/1.1 request on a fresh connection; the whole answer as text (patient: 30 s).
fn raw(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_the_journal_its_api_or_the_state_file() {
    let dir = crate::persistence::temp_dir();
    let db = dir.join("state.db");
    let receiver = RunningReceiver::start_local(ReceiverConfig::default()).unwrap();
    let clock = Clock::scaled(1.0).unwrap();
    let mut config = ServerConfig::new(9, clock, Secret::new(API_KEY), Secret::new("whsec_x"));
    config.builtin_receiver = false;
    config.subscriber.url = Some(receiver.webhook_url());
    config.state = StateSpec::Sqlite(db.clone());
    let server = RunningServer::start(TcpListener::bind("127.0.0.1:0").unwrap(), config).unwrap();
    let http = reqwest::Client::new();
    let base = server.base_url();
    let accepted: Value = http
        .post(format!("{base}/_mock/events"))
        .json(&json!({"event": "domain.status_changed"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = accepted["delivery_id"].as_str().unwrap().to_owned();
    server
        .state()
        .sender()
        .journal()
        .wait_until(|c| c.attempts_total() >= 1)
        .await;
    // The subscriber did get the bearer: redaction is about what the mock keeps and shows.
    let sent = receiver.store().all();
    assert!(
        sent[0]
            .headers
            .iter()
            .any(|(n, v)| n == "authorization" && v == &format!("Bearer {API_KEY}")),
        "{:?}",
        sent[0].headers
    );
    let shown = http
        .get(format!("{base}/_mock/deliveries/{id}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!shown.contains(API_KEY), "the API shows the key: {shown}");
    assert!(shown.contains("Bearer [redacted]"), "{shown}");
    server.shutdown(Duration::from_secs(1)).await;
    receiver.stop().await;

    let mut saved = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        saved.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let needle = API_KEY.as_bytes();
    assert!(
        !saved.windows(needle.len()).any(|w| w == needle),
        "the state file holds the API key"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the state file is private: {mode:o}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_receivers_control_routes_need_the_admin_token_when_set() {
    let mock = Mock::start_with(71, |config| {
        config.admin_token = Some(Secret::new(ADMIN));
        config.builtin_receiver = true;
    })
    .await;
    let builtin = mock.server.receiver().expect("the built-in receiver runs");
    let base = builtin.base_url();
    let http = reqwest::Client::new();
    for (method, path) in [
        ("GET", "received"),
        ("DELETE", "received"),
        ("GET", "faults"),
        ("PUT", "faults"),
        ("DELETE", "faults"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let url = format!("{base}{path}");
        let open = http
            .request(method.clone(), &url)
            .json(&json!(["status=500"]))
            .send()
            .await
            .unwrap();
        assert_eq!(open.status(), 401, "{method} {url}");
        let with = http
            .request(method.clone(), &url)
            .bearer_auth(ADMIN)
            .json(&json!([]))
            .send()
            .await
            .unwrap();
        assert!(
            with.status().is_success(),
            "{method} {url}: {}",
            with.status()
        );
    }
    // Webhooks and health stay open.
    let health = http.get(format!("{base}health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    mock.stop().await;

    let open = RunningReceiver::start_local(ReceiverConfig {
        verifier: Some(Signer::new(SignatureScheme::HmacBody, Secret::new("k"))),
        ..ReceiverConfig::default()
    })
    .unwrap();
    let answer = http
        .get(format!("{}received", open.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "without a token the routes stay open");
    open.stop().await;
}

#[tokio::test]
async fn without_a_token_the_control_api_refuses_browser_attacks() {
    let mock = Mock::start(72).await;
    let port = mock.server.addr().port();
    let reset = |headers: Vec<(&'static str, String)>,
                 body: Option<(&'static str, &'static str)>| {
        let mut request = mock.client.post(format!("{}/_mock/reset", mock.base));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some((kind, text)) = body {
            request = request.header("content-type", kind).body(text);
        }
        async move {
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            (status, answer.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // DNS rebinding: the browser sends the attacker's name as Host.
    let (status, body) = reset(vec![("host", format!("evil.example:{port}"))], None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("foreign_request"))
    );
    // Cross-site: a foreign Origin, and `null` (sandboxed frames, files).
    for origin in [
        "https://evil.example",
        "null",
        "http://localhost.evil.example",
    ] {
        let (status, body) = reset(vec![("origin", origin.to_owned())], None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("foreign_request")),
            "{origin}"
        );
    }
    // A form or text/plain body needs no CORS preflight: refused.
    for kind in ["text/plain", "application/x-www-form-urlencoded"] {
        let (status, body) = reset(vec![], Some((kind, "{}"))).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (415, Some("unsupported_media_type")),
            "{kind}"
        );
    }
    // Probes answer any Host (orchestrators probe by IP).
    let health = mock
        .client
        .get(format!("{}/_mock/health", mock.base))
        .header("host", format!("10.1.2.3:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // Loopback names, a page on this server, curl without a body, JSON bodies: allowed.
    let page = format!("http://127.0.0.1:{port}");
    for headers in [
        vec![("host", format!("localhost:{port}"))],
        vec![("origin", page.clone())],
        vec![("host", format!("[::1]:{port}"))],
        vec![],
    ] {
        let (status, body) = reset(headers.clone(), None).await;
        assert_eq!(status, 200, "{headers:?}: {body}");
    }
    let (status, body) = reset(vec![], Some(("application/json", "{}"))).await;
    assert_eq!(status, 200, "{body}");
    mock.stop().await;

    // With a token the bearer is the defence: a foreign Host with the token is served.
    let guarded = Mock::start_with(73, |c| c.admin_token = Some(Secret::new(ADMIN))).await;
    let answer = guarded
        .client
        .get(format!("{}/_mock/clock", guarded.base))
        .header("host", "mock.internal:8025")
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    guarded.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_is_cut_off_and_health_answers_meanwhile() {
    let mock = Mock::start(74).await;
    let addr = mock.server.addr();
    // A body announced as 200 bytes, sent one byte a second.
    let trickle = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        stream
            .write_all(
                b"POST /_mock/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{",
            )
            .unwrap();
        let started = Instant::now();
        let mut answer = Vec::new();
        while started.elapsed() < BODY_TIMEOUT * 4 {
            let mut chunk = [0u8; 1024];
            match stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
                Err(_) => {}
            }
            if !answer.is_empty() || stream.write_all(b" ").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(800));
        }
        (
            started.elapsed(),
            String::from_utf8_lossy(&answer).into_owned(),
        )
    });
    // Many slow connections (head never finished) while health is asked for.
    let slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"POST /_mock/reset HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    let health = raw(
        addr,
        "GET /_mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let (took, answer) = tokio::task::spawn_blocking(move || trickle.join().unwrap())
        .await
        .unwrap();
    assert!(
        took < BODY_TIMEOUT * 3,
        "the trickle was served for {took:?}; answer: {answer:?}"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    drop(slow);
    mock.stop().await;
}

/// Schemathesis found that serde reads a struct from an array (its fields by position): a body
/// that is not a JSON object is a 400 on every route, as the document says.
#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_refused() {
    let mock = Mock::start(76).await;
    for body in [
        json!([]),
        json!(["http://127.0.0.1:9/x"]),
        json!(1),
        json!(null),
    ] {
        let answer = mock.rest("POST", "/domains/list", Some(body.clone())).await;
        assert_eq!(answer.status, 400, "domains/list {body}: {}", answer.body);
        assert_eq!(answer.body["error"], true);
        let message = answer.body["message"].as_str().unwrap_or_default();
        assert!(message.contains("expected a JSON object"), "{message}");
        let answer = mock
            .control("POST", "/clock/advance", Some(body.clone()))
            .await;
        answer.assert_problem(400, "bad_request");
    }
    // The same routes still read objects.
    assert_eq!(
        mock.rest("POST", "/domains/list", Some(json!({})))
            .await
            .status,
        200
    );
    let answer = mock
        .control("POST", "/clock/advance", Some(json!({"by": "1m"})))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    mock.stop().await;
}

#[tokio::test]
async fn wrong_methods_get_405_and_head_works_wherever_get_does() {
    let mock = Mock::start(75).await;
    let answer = mock.control("DELETE", "/clock", None).await;
    answer.assert_problem(405, "method_not_allowed");
    assert_eq!(answer.body["allowed"], json!(["GET", "HEAD"]));
    let answer = mock.rest("GET", "/domains/register", None).await;
    assert_eq!(answer.status, 405);
    assert_eq!(
        answer.body["error"], true,
        "REST errors keep InboxKit's envelope"
    );
    let answer = mock.control("GET", "/no/such/route/here", None).await;
    answer.assert_problem(404, "not_found");
    for path in ["/_mock/health", "/_mock/openapi.json", "/"] {
        let head = mock
            .client
            .head(format!("{}{path}", mock.base))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert!(head.bytes().await.unwrap().is_empty());
    }
    let allow = mock
        .client
        .put(format!("{}/_mock/health", mock.base))
        .send()
        .await
        .unwrap();
    assert_eq!(allow.status(), 405);
    assert_eq!(allow.headers()["allow"], "GET, HEAD");
    mock.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pipe_ends_demo_quietly() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_inboxkit-mock"))
        .arg("demo")
        .env_remove("INBOXKIT_MOCK_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone (as `| head -1` does); the rest of the output meets a closed pipe.
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()),
    )
    .await
    .expect("demo ends within a minute")
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[tokio::test]
async fn a_bad_environment_variable_is_named_and_an_empty_token_refused() {
    let (code, _, stderr) =
        crate::support::run_cli_env(&["serve"], &[("INBOXKIT_MOCK_PORT", "abc")], b"").await;
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("INBOXKIT_MOCK_PORT"), "{stderr}");
    // On the command line the flag is named, as before.
    let (code, _, stderr) = run_cli(&["serve", "--port", "abc"], b"").await;
    assert_eq!(code, 64);
    assert!(stderr.contains("--port"), "{stderr}");
    for args in [
        vec!["serve", "--port", "0", "--admin-token", ""],
        vec!["receive", "--port", "0", "--admin-token", " "],
    ] {
        let (code, _, stderr) = run_cli(&args, b"").await;
        assert_eq!(code, 64, "{args:?}: {stderr}");
        assert!(stderr.contains("--admin-token"), "{stderr}");
    }
}

#[tokio::test]
async fn a_read_only_state_file_is_reported_as_such() {
    let dir = crate::persistence::temp_dir();
    let db = dir.join("state.db");
    std::fs::write(&db, b"").unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_inboxkit-mock"));
    command
        .args(["serve", "--port", "0"])
        .arg(format!("--state=sqlite:{}", db.display()))
        .env_remove("INBOXKIT_MOCK_CONFIG")
        .kill_on_drop(true);
    read_only(&dir, &db, &mut command);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("serve refuses within a minute")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0));
    assert!(stderr.contains("is read-only"), "{stderr}");
    assert!(!stderr.contains("disk I/O error"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Makes `db` read-only for the command: `chmod 444`, and when the tests run as root (who
/// ignores file modes) the command runs as `nobody`, with the folder writable so only the
/// file's mode refuses.
fn read_only(dir: &Path, db: &Path, command: &mut tokio::process::Command) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(db, std::fs::Permissions::from_mode(0o444)).unwrap();
    if unsafe_geteuid() == 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        command.uid(65534).gid(65534);
    }
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}
