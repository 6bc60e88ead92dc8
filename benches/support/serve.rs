//! The release binary's `serve`, started by the benches that measure it through HTTP.

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The API key every bench server accepts.
pub const API_KEY: &str = "ik_bench_key";

/// A line of `/proc/PID/status` in MiB (`VmRSS`, `VmHWM`).
pub fn memory_mib(pid: u32, field: &str) -> f64 {
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
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

pub struct Serve {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client for the bench's own calls.
    pub client: reqwest::Client,
}

impl Serve {
    /// Starts `serve` on a free port, delivering to `webhook`, with `extra` arguments, and
    /// waits until it is ready.
    pub async fn start(webhook: &str, extra: &[&str]) -> Serve {
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
                "--start-time",
                "2024-01-10T15:30:45Z",
                "--api-key",
                API_KEY,
                "--webhook-url",
                webhook,
            ])
            .args(extra)
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

    /// `POST /v1/api{path}` with `body`; panics unless it succeeds.
    pub async fn rest(&self, path: &str, body: Value) -> Value {
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

    /// The metrics exposition.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/_mock/metrics", self.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server gracefully (SIGTERM), killing it after 20 s.
    pub fn stop(mut self) {
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
