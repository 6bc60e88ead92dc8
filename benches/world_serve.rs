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

#[path = "support/cpu.rs"]
#[allow(dead_code)]
mod cpu;
#[path = "support/serve.rs"]
mod support_serve;
#[path = "support/sink.rs"]
mod support_sink;

use std::time::{Duration, Instant};

use support_serve::{Serve, memory_mib, metric};

use serde_json::{Value, json};
use tokio::net::TcpListener;

const MAILBOXES_PER_DOMAIN: usize = 10;
const BATCH: usize = 1000;

async fn run(domains: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let webhook = format!("http://{}/webhook", listener.local_addr().expect("address"));
    tokio::spawn(support_sink::sink(listener));
    let serve = Serve::start(&webhook, &["--paused"]).await;
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

    let (began, serve_cpu, own_cpu) = (
        Instant::now(),
        cpu::process(serve.pid()),
        cpu::process(std::process::id()),
    );
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
    let serve_cpu = cpu::process(serve.pid()) - serve_cpu;
    let sink_cpu = cpu::process(std::process::id()) - own_cpu;
    let fired = answer["fired"].as_u64().unwrap_or(0);
    let instants = answer["advanced"]["instants"].as_u64().unwrap_or(0);

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
        "  advance 3d: {fired} transitions fired at {instants} instants, answered in {:.2} s; all {events:.0} deliveries terminal {:.2} s later ({:.2} s in all)",
        answered.as_secs_f64(),
        terminal_after.as_secs_f64(),
        (answered + terminal_after).as_secs_f64()
    );
    println!(
        "  CPU while the advance ran: serve {:.2} s ({:.2} cores), the sink (this process) {:.2} s",
        serve_cpu.as_secs_f64(),
        serve_cpu.as_secs_f64() / answered.as_secs_f64(),
        sink_cpu.as_secs_f64()
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
