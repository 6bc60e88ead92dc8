//! Simulator and `serve` figures: memory of a million entities, firing 100,000 due transitions,
//! and time from start to `/_mock/ready`.
//!
//! `cargo bench --bench world` (build with `--release` semantics, as `cargo bench` does).
//! Targets (issue 3): 1,000,000 entities in at most 400 MB RSS; 100,000 due transitions fired
//! (envelopes built and serialized, i.e. all the work before delivery) in under 1 s; `serve`
//! answering `/_mock/ready` within 100 ms of start.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use inboxkit_mock::contract::{PayloadShape, Platform};
use inboxkit_mock::delivery::OutgoingEvent;
use inboxkit_mock::model::fake::MAILBOXES_PER_DOMAIN;
use inboxkit_mock::model::world::MailboxOrder;
use inboxkit_mock::simulation::simulator::{FailureRates, Simulation};

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-01-10T15:30:45Z")
        .expect("valid")
        .to_utc()
}

/// Resident set size of this process in MiB (Linux `/proc/self/status`).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// A world of `domains` domains, each full of mailboxes; returns it and the entity count.
fn populate(domains: usize) -> (Simulation, usize) {
    let mut sim = Simulation::new(1, 1, FailureRates::default());
    let now = start();
    let mut entities = 0;
    for d in 0..domains {
        let name = format!("bench{d}.io");
        sim.register_domain(0, &name, 1, now)
            .expect("unique domain");
        entities += 1;
        for m in 0..MAILBOXES_PER_DOMAIN - 1 {
            let order = MailboxOrder {
                username: format!("user{m}"),
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                platform: Platform::Google,
                domain_name: name.clone(),
            };
            sim.buy_mailbox(0, &order, now).expect("room on the domain");
            entities += 1;
        }
    }
    (sim, entities)
}

fn memory() {
    let before = rss_mib();
    let began = Instant::now();
    let (sim, entities) = populate(20_000);
    let built = began.elapsed();
    let after = rss_mib();
    println!(
        "world: {entities} entities ({} scheduled steps) built in {:.2} s; RSS {:.0} MiB (+{:.0} MiB for the world), target <= 400 MB",
        sim.queue_depth(),
        built.as_secs_f64(),
        after,
        after - before
    );
}

fn firing() {
    // 100,000 mailboxes (2,041 domains of 49) all bought at once: their first steps come due
    // together 30 s later.
    let (mut sim, _) = populate(2_041);
    let due = start() + TimeDelta::seconds(30);
    let mut firing = Duration::ZERO;
    let mut serializing = Duration::ZERO;
    let mut fired = 0;
    let mut bytes = 0;
    loop {
        let began = Instant::now();
        let batch = sim.fire_due(due, PayloadShape::Seed, 4096);
        firing += began.elapsed();
        if batch.is_empty() {
            break;
        }
        fired += batch.len();
        let began = Instant::now();
        bytes += batch
            .iter()
            .map(|f| OutgoingEvent::from_envelope(&f.envelope).body().len())
            .sum::<usize>();
        serializing += began.elapsed();
    }
    let total = firing + serializing;
    println!(
        "advance: {fired} due transitions fired in order with envelopes built in {:.3} s, bodies serialized ({} MiB) in {:.3} s more: {:.3} s in all ({:.1} µs each), target < 1 s",
        firing.as_secs_f64(),
        bytes / (1024 * 1024),
        serializing.as_secs_f64(),
        total.as_secs_f64(),
        total.as_secs_f64() * 1e6 / fired.max(1) as f64
    );
}

fn ready_status(port: u16) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .ok()?;
    stream
        .write_all(b"GET /_mock/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn startup() {
    let mut samples = Vec::new();
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let began = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_inboxkit-mock"))
            .args(["serve", "--port", &port.to_string(), "--seed", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let ready = loop {
            if ready_status(port) == Some(200) {
                break Some(began.elapsed());
            }
            if began.elapsed() > Duration::from_secs(5) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let _ = child.kill();
        let _ = child.wait();
        samples.push(ready.expect("serve became ready within 5 s"));
    }
    samples.sort();
    println!(
        "serve: ready (GET /_mock/ready = 200) {:.1} ms after spawn (median of 5; min {:.1}, max {:.1}), target <= 100 ms",
        samples[2].as_secs_f64() * 1e3,
        samples[0].as_secs_f64() * 1e3,
        samples[4].as_secs_f64() * 1e3
    );
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument picks one figure.
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let want = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if want("startup") {
        startup();
    }
    if want("advance") {
        firing();
    }
    if want("memory") {
        memory();
    }
}
