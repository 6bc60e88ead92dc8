//! What `serve` costs per intake request: `cargo bench --bench intake [-- SECONDS CONNECTIONS]`.
//!
//! Starts the release binary (`serve`, delivering to a minimal keep-alive HTTP sink in this
//! process), registers 100 domains through `/v1/api`, then drives two calls with `wrk`
//! (Debian package `wrk`; 2 threads, CONNECTIONS connections, default 64, for SECONDS, default
//! 10, each): `POST /_mock/events {"event": "domain.status_changed"}` (each one a signed,
//! journaled delivery to the sink) and the REST call `POST /v1/api/domains/list` (one page of
//! 10). For each it prints requests per second, non-2xx answers, wrk's p50 and p99 latency, and
//! the CPU time per request of `serve` (from `/proc/PID/stat`) and of wrk (from the kernel's
//! accounting of finished children).

#[path = "support/cpu.rs"]
#[allow(dead_code)]
mod cpu;
#[path = "support/serve.rs"]
mod support_serve;
#[path = "support/sink.rs"]
mod support_sink;

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use support_serve::{API_KEY, Serve, memory_mib, metric};
use tokio::net::TcpListener;

/// A wrk latency figure (`1.23ms`, `456.00us`, `1.02s`) in milliseconds.
fn milliseconds(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    match unit {
        "us" => Some(number / 1e3),
        "ms" => Some(number),
        "s" => Some(number * 1e3),
        "m" => Some(number * 60e3),
        _ => None,
    }
}

/// What one wrk run measured.
struct Run {
    rate: f64,
    requests: f64,
    non_2xx: u64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs wrk posting `body` to `url` with `headers`; None when wrk is missing or says nothing.
fn wrk(
    url: &str,
    body: &str,
    headers: &[(&str, &str)],
    seconds: u64,
    connections: usize,
) -> Option<Run> {
    let mut script = String::from("wrk.method = \"POST\"\n");
    script.push_str(&format!("wrk.body = [==[{body}]==]\n"));
    for (name, value) in headers {
        script.push_str(&format!("wrk.headers[\"{name}\"] = \"{value}\"\n"));
    }
    let path =
        std::env::temp_dir().join(format!("inboxkit-mock-intake-{}.lua", std::process::id()));
    std::fs::write(&path, script).ok()?;
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(&path)
        .arg(url)
        .output()
        .ok();
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&output?.stdout).into_owned();
    let value = |prefix: &str, index: usize| {
        text.lines()
            .find_map(|l| l.trim_start().strip_prefix(prefix))
            .and_then(|l| l.split_whitespace().nth(index).map(str::to_owned))
    };
    let rate: f64 = value("Requests/sec:", 0)?.parse().ok()?;
    let requests: f64 = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    Some(Run {
        rate,
        requests,
        non_2xx: value("Non-2xx or 3xx responses:", 0)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        p50_ms: value("50%", 0).and_then(|v| milliseconds(&v))?,
        p99_ms: value("99%", 0).and_then(|v| milliseconds(&v))?,
    })
}

/// Runs one call under wrk and prints its figures.
fn measure(
    serve: &Serve,
    what: &str,
    url: &str,
    body: &str,
    headers: &[(&str, &str)],
    seconds: u64,
    connections: usize,
) {
    let (serve_before, wrk_before) = (cpu::process(serve.pid()), cpu::children());
    let Some(run) = wrk(url, body, headers, seconds, connections) else {
        println!("  {what}: wrk did not run (install the Debian package `wrk`)");
        return;
    };
    let serve_cpu = cpu::process(serve.pid()) - serve_before;
    let wrk_cpu = cpu::children() - wrk_before;
    let per_request = |cpu: Duration| cpu.as_secs_f64() * 1e6 / run.requests.max(1.0);
    println!(
        "  {what}: {:.0} req/s ({:.0} requests, {} non-2xx), latency p50 {:.2} ms, p99 {:.2} ms; CPU per request: serve {:.1} µs, wrk {:.1} µs",
        run.rate,
        run.requests,
        run.non_2xx,
        run.p50_ms,
        run.p99_ms,
        per_request(serve_cpu),
        per_request(wrk_cpu),
    );
}

fn main() {
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let seconds = numbers.first().copied().unwrap_or(10);
    let connections = numbers.get(1).copied().unwrap_or(64) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let webhook = format!("http://{}/webhook", listener.local_addr().expect("address"));
        tokio::spawn(support_sink::sink(listener));
        let serve = Serve::start(&webhook, &[]).await;
        let orders: Vec<_> = (0..100)
            .map(|d| json!({"name": format!("intake{d}.io"), "registration_years": 1}))
            .collect();
        serve
            .rest("/domains/register", json!({"domains": orders}))
            .await;
        println!(
            "intake: serve (release) on 2 wrk threads x {connections} connections, {seconds} s per call"
        );
        let (base, bearer) = (serve.base.clone(), format!("Bearer {API_KEY}"));
        let json = ("Content-Type", "application/json");
        let serve = tokio::task::spawn_blocking(move || {
            measure(
                &serve,
                "POST /_mock/events",
                &format!("{base}/_mock/events"),
                r#"{"event": "domain.status_changed"}"#,
                &[json],
                seconds,
                connections,
            );
            measure(
                &serve,
                "POST /v1/api/domains/list",
                &format!("{base}/v1/api/domains/list"),
                r#"{"page": 1, "limit": 10}"#,
                &[json, ("Authorization", &bearer)],
                seconds,
                connections,
            );
            serve
        })
        .await
        .expect("wrk task");
        let text = serve.metrics().await;
        println!(
            "  deliveries: {:.0} opened, {:.0} refused by the intake cap; serve RSS {:.0} MiB (peak {:.0} MiB)",
            metric(&text, "inboxkit_mock_events_total").unwrap_or(0.0),
            metric(&text, "inboxkit_mock_deliveries_refused_total").unwrap_or(0.0),
            memory_mib(serve.pid(), "VmRSS:"),
            memory_mib(serve.pid(), "VmHWM:"),
        );
        serve.stop();
    });
}
