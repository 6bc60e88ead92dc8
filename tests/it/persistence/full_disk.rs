//! `--state` on a full disk: an event answered 202 is saved (or kept and retried), never lost;
//! while saving fails, writes answer 503 `state_unsaved` and `/_mock/ready` is 503; once there
//! is space again the server recovers by itself.
//!
//! Two ways to fill the "disk" without root: the real binary under a file-size limit
//! (`ulimit -f`, with SIGXFSZ ignored so writes fail with EFBIG as on a full filesystem), and an
//! in-process server whose database is capped with [`StateWriter::limit_size`] (SQLite's
//! `max_page_count`), which can be lifted to show the recovery.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use inboxkit_mock::contract::Secret;
use inboxkit_mock::persistence::{StateSpec, StateStore};
use inboxkit_mock::server::{RunningServer, ServerConfig};
use inboxkit_mock::simulation::Clock;
use serde_json::{Value, json};

use super::temp_dir;

/// Most events posted while waiting for the disk to fill.
const MOST_EVENTS: usize = 3000;
/// The file-size limit of the child process, in KiB (bash's `ulimit -f` unit).
const FILE_LIMIT_KIB: u32 = 1024;

/// Posts one event; the status and, on 202, the delivery id; on an error, its problem code.
async fn post_event(http: &reqwest::Client, base: &str) -> (u16, Value) {
    let answer = http
        .post(format!("{base}/_mock/events"))
        .json(&json!({"event": "domain.status_changed"}))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// Posts events until saving fails (three 503 in a row); returns the accepted delivery ids and
/// the 503 bodies.
async fn fill(http: &reqwest::Client, base: &str) -> (Vec<String>, Vec<Value>) {
    let (mut accepted, mut refused) = (Vec::new(), Vec::new());
    for _ in 0..MOST_EVENTS {
        let (status, body) = post_event(http, base).await;
        match status {
            202 => accepted.push(body["delivery_id"].as_str().unwrap().to_owned()),
            503 => refused.push(body),
            other => panic!("unexpected answer {other}: {body}"),
        }
        if refused.len() >= 3 {
            break;
        }
    }
    (accepted, refused)
}

async fn ready_status(http: &reqwest::Client, base: &str) -> (u16, Value) {
    let answer = http
        .get(format!("{base}/_mock/ready"))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap())
}

fn saved_ids(db: &std::path::Path) -> HashSet<String> {
    StateStore::open(db)
        .unwrap()
        .load()
        .unwrap()
        .deliveries
        .into_iter()
        .map(|d| d.record.id.as_str().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_full_disk_no_accepted_event_is_lost() {
    let dir = temp_dir();
    let db = dir.join("state.db");
    let log = dir.join("serve.log");
    let state = format!("sqlite:{}", db.display());
    // SIGXFSZ ignored (inherited across exec): a write past the limit fails with EFBIG.
    let script = format!("trap '' XFSZ; ulimit -f {FILE_LIMIT_KIB}; exec \"$0\" \"$@\"");
    let mut command = Command::new("bash");
    for (name, _) in std::env::vars() {
        if name.starts_with("INBOXKIT_MOCK_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(["-c", &script, env!("CARGO_BIN_EXE_inboxkit-mock")])
        .args(["serve", "--port", "0", "--state", &state, "--seed", "7"])
        .args(["--webhook-url", "http://127.0.0.1:9/webhook"])
        .args(["--secret", "whsec_full", "--api-key", "ik_full"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("bash runs the binary");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("serve exited early; see {}", log.display()))
            .unwrap();
        if let Some(base) = line.strip_prefix("inboxkit-mock serve: listening on ") {
            break base.trim().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let http = reqwest::Client::new();

    let (accepted, refused) = fill(&http, &base).await;
    assert!(
        refused.len() >= 3,
        "the file limit was never reached after {} events; see {}",
        accepted.len(),
        log.display()
    );
    for body in &refused {
        assert_eq!(body["code"], "state_unsaved", "{body}");
    }
    let (status, body) = ready_status(&http, &base).await;
    assert_eq!((status, &body["status"]), (503, &json!("state_unsaved")));
    child.kill().unwrap();
    child.wait().unwrap();

    let kept = saved_ids(&db);
    let lost: Vec<&String> = accepted.iter().filter(|id| !kept.contains(*id)).collect();
    println!(
        "full disk (ulimit -f {FILE_LIMIT_KIB} KiB): {} events accepted (202), {} kept after \
         SIGKILL and restart, {} lost; {} answered 503 state_unsaved",
        accepted.len(),
        accepted.len() - lost.len(),
        lost.len(),
        refused.len()
    );
    assert!(lost.is_empty(), "accepted but lost: {lost:?}");
    assert!(
        !accepted.is_empty(),
        "some events fit before the disk filled"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_space_returns_the_server_recovers_by_itself() {
    let dir = temp_dir();
    let db = dir.join("state.db");
    let clock = Clock::scaled(1.0).unwrap();
    clock.pause();
    let mut config = ServerConfig::new(5, clock, Secret::new("ik_key"), Secret::new("whsec_s"));
    config.builtin_receiver = false;
    config.subscriber.url = Some("http://127.0.0.1:9/webhook".parse().unwrap());
    config.state = StateSpec::Sqlite(db.clone());
    let server = RunningServer::start(TcpListener::bind("127.0.0.1:0").unwrap(), config).unwrap();
    let base = server.base_url();
    let http = reqwest::Client::new();
    let (status, _) = post_event(&http, &base).await;
    assert_eq!(status, 202);
    let store = server.state_writer().unwrap().clone();
    let size = std::fs::metadata(&db).unwrap().len();
    // Capped at its current size: the next pages it needs are refused, as on a full disk.
    store.limit_size(Some(size));
    let (accepted, refused) = fill(&http, &base).await;
    assert!(refused.len() >= 3, "the cap was never reached");
    assert!(!store.healthy());
    assert_eq!(ready_status(&http, &base).await.0, 503);
    let world = http
        .post(format!("{base}/v1/api/domains/register"))
        .bearer_auth("ik_key")
        .json(&json!({"domains": [{"name": "full-disk.com", "registration_years": 1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(world.status(), 503, "REST writes are refused too");

    store.limit_size(None);
    let started = Instant::now();
    while ready_status(&http, &base).await.0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not ready 30 s after space returned"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(store.healthy());
    let (status, after) = post_event(&http, &base).await;
    assert_eq!(status, 202, "writes are accepted again");
    server.shutdown(Duration::ZERO).await;

    let kept = saved_ids(&db);
    for id in accepted.iter().chain(std::iter::once(
        &after["delivery_id"].as_str().unwrap().to_owned(),
    )) {
        assert!(kept.contains(id), "{id} was accepted but not saved");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
