//! A large world built through `serve`'s REST API, advanced three simulated days:
//! `cargo bench --bench world_serve [-- small|large]`.
//!
//! Starts the release binary (`serve --paused`) delivering to a minimal keep-alive HTTP sink in
//! this process (it answers `200` with an empty body and keeps nothing), registers the domains
//! and buys 10 mailboxes on each through `/v1/api` (batches of 1,000), then
//! `POST /_mock/clock/advance {"by": "3d"}`, and reports: the time the advance takes to answer,
//! the time from then until every delivery is terminal (polling `/_mock/metrics`), and the
//! server's RSS (now and peak). `small` is 2,000 domains + 20,000 mailboxes (targets: answer in
//! under 5 s, all terminal within 10 s after); `large` is 20,000 + 200,000 (target: under 60 s,
//! RSS under 1 GiB).

#[path = "support/sink.rs"]
mod support_sink;

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::TcpListener;

const API_KEY: &str = "ik_bench_key";
const MAILBOXES_PER_DOMAIN: usize = 10;
const BATCH: usize = 1000;

/// A line of `/proc/PID/status` in MiB (`VmRSS`, `VmHWM`).
fn memory_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// One value of the metrics exposition.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

struct Serve {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl Serve {
    async fn start(webhook: &str) -> Serve {
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_inboxkit-mock"))
            .args([
                "serve",
                "--port",
                &port.to_string(),
                "--seed",
                "1",
                "--paused",
                "--start-time",
                "2024-01-10T15:30:45Z",
                "--api-key",
                API_KEY,
                "--webhook-url",
                webhook,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let serve = Serve {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        let began = Instant::now();
        loop {
            let ready = serve
                .client
                .get(format!("{}/_mock/ready", serve.base))
                .send()
                .await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return serve;
            }
            assert!(began.elapsed() < Duration::from_secs(10), "serve not ready");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn rest(&self, path: &str, body: Value) -> Value {
        let answer = self
            .client
            .post(format!("{}/v1/api{path}", self.base))
            .bearer_auth(API_KEY)
            .json(&body)
            .send()
            .await
            .expect("REST call");
        let status = answer.status();
        let body: Value = answer.json().await.expect("JSON answer");
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/_mock/metrics", self.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(mut self) {
        // SIGTERM through the standard `kill` command (a graceful stop), then reap.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let began = Instant::now();
        while began.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn run(domains: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let webhook = format!("http://{}/webhook", listener.local_addr().expect("address"));
    tokio::spawn(support_sink::sink(listener));
    let serve = Serve::start(&webhook).await;
    let mailboxes = domains * MAILBOXES_PER_DOMAIN;

    let began = Instant::now();
    let names: Vec<String> = (0..domains).map(|d| format!("bench{d}.io")).collect();
    for chunk in names.chunks(BATCH) {
        let orders: Vec<Value> = chunk
            .iter()
            .map(|name| json!({"name": name, "registration_years": 1}))
            .collect();
        serve
            .rest("/domains/register", json!({"domains": orders}))
            .await;
    }
    let orders: Vec<Value> = names
        .iter()
        .flat_map(|name| {
            (0..MAILBOXES_PER_DOMAIN).map(move |m| {
                json!({"first_name": "Ada", "last_name": "Lovelace", "username": format!("user{m}"),
                       "platform": "GOOGLE", "domain_name": name})
            })
        })
        .collect();
    for chunk in orders.chunks(BATCH) {
        serve
            .rest("/mailboxes/buy", json!({"mailboxes": chunk}))
            .await;
    }
    let built = began.elapsed();
    let rss_built = memory_mib(serve.pid(), "VmRSS:");

    let began = Instant::now();
    let advance = serve
        .client
        .post(format!("{}/_mock/clock/advance", serve.base))
        .json(&json!({"by": "3d"}))
        .timeout(Duration::from_secs(900))
        .send()
        .await
        .expect("advance answers");
    assert!(
        advance.status().is_success(),
        "advance: {}",
        advance.status()
    );
    let answer: Value = advance.json().await.expect("JSON");
    let answered = began.elapsed();
    let fired = answer["fired"].as_u64().unwrap_or(0);

    let began = Instant::now();
    let (events, terminal_after) = loop {
        let text = serve.metrics().await;
        let in_progress = metric(&text, "inboxkit_mock_deliveries_in_progress").unwrap_or(-1.0);
        let events = metric(&text, "inboxkit_mock_events_total").unwrap_or(0.0);
        if in_progress == 0.0 && events >= fired as f64 {
            break (events, began.elapsed());
        }
        assert!(
            began.elapsed() < Duration::from_secs(900),
            "deliveries still in progress after 15 min: {in_progress}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let text = serve.metrics().await;
    let held = metric(&text, "inboxkit_mock_journal_records{finished=\"true\"}").unwrap_or(0.0)
        + metric(&text, "inboxkit_mock_journal_records{finished=\"false\"}").unwrap_or(0.0);
    let (rss, peak) = (
        memory_mib(serve.pid(), "VmRSS:"),
        memory_mib(serve.pid(), "VmHWM:"),
    );
    println!(
        "world_serve: {domains} domains + {mailboxes} mailboxes built through /v1/api in {:.2} s (RSS {rss_built:.0} MiB)",
        built.as_secs_f64()
    );
    println!(
        "  advance 3d: {fired} transitions fired, answered in {:.2} s; all {events:.0} deliveries terminal {:.2} s later ({:.2} s in all)",
        answered.as_secs_f64(),
        terminal_after.as_secs_f64(),
        (answered + terminal_after).as_secs_f64()
    );
    println!(
        "  serve RSS after: {rss:.0} MiB (peak {peak:.0} MiB); journal holds {held:.0} deliveries"
    );
    serve.stop();
}

fn main() {
    let which: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        match which.as_deref() {
            Some("large") => run(20_000).await,
            Some("both") => {
                run(2_000).await;
                run(20_000).await;
            }
            _ => run(2_000).await,
        }
    });
}
