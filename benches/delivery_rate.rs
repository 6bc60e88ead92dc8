//! Maximum sustained delivery rate (signed, journaled) to the built-in receiver on loopback,
//! against `wrk` posting the same body and headers to the same receiver in the same run.
//!
//! `cargo bench --bench delivery_rate [-- SECONDS CONNECTIONS ROUNDS THREADS]` (defaults: 5 s,
//! 64 connections, 3 rounds alternating with wrk, 2 sender runtime threads). Needs
//! `wrk` on the PATH for the reference (Debian package `wrk`); without it, only our rate prints.
//!
//! On a small machine the receiver and the client share the cores, so the rates depend on the
//! CPU each side spends per request. The bench also prints that, from the kernel's accounting
//! (Linux only): the sender's runtime threads, wrk's process, and the receiver's threads.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use inboxkit_mock::contract::{EventType, PayloadShape, Secret, SignatureScheme, Signer, headers};
use inboxkit_mock::delivery::{
    OutgoingEvent, RetryPolicy, Sender, SenderOptions, Subscriber, TerminalState,
};
use inboxkit_mock::model::Faker;
use inboxkit_mock::receiver::{ReceiverConfig, RunningReceiver};
use inboxkit_mock::simulation::Clock;
use inboxkit_mock::simulation::sample::sample_envelope;

const SECRET: &str = "bench-secret";

/// The same allocator as the binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The event both clients send: one `domain.status_changed` body. Each of our deliveries still
/// gets its own id, signature, headers and journal record.
fn event() -> OutgoingEvent {
    let mut faker = Faker::seeded(1);
    let account = faker.account();
    let envelope = sample_envelope(
        &EventType::DomainStatusChanged,
        &mut faker,
        &account,
        PayloadShape::Seed,
        chrono::Utc::now(),
    )
    .expect("known");
    OutgoingEvent::from_envelope(&envelope)
}

/// CPU time (user + system) used so far by this process's threads whose name starts with
/// `prefix`, from `/proc/self/task/*/stat`.
fn threads_cpu(prefix: &str) -> Duration {
    let tick = Duration::from_secs(1) / clock_ticks_per_second();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let mut ticks = 0u32;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ...`: the name may hold spaces, so split at the last parenthesis.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with(prefix) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let used = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u32>().ok())
                .unwrap_or(0)
        };
        ticks += used(11) + used(12);
    }
    tick * ticks
}

/// CPU time used so far by finished child processes (wrk).
fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

fn clock_ticks_per_second() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u32::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100)
}

/// CPU microseconds per request.
fn per_request(cpu: Duration, requests: f64) -> f64 {
    cpu.as_secs_f64() * 1e6 / requests.max(1.0)
}

const SENDER_THREADS: &str = "tokio-rt-worker";
const RECEIVER_THREADS: &str = "actix-server";

fn wrk_rate(
    url: &str,
    body: &[u8],
    signature: &str,
    seconds: u64,
    connections: usize,
) -> Option<f64> {
    let body = String::from_utf8_lossy(body);
    let mut script = String::from("wrk.method = \"POST\"\n");
    script.push_str(&format!("wrk.body = [==[{body}]==]\n"));
    for (name, value) in headers::build(&headers::HeaderInputs {
        event: "domain.status_changed",
        timestamp: "2024-01-10T15:30:45.123Z",
        signature,
        bearer: Some("bench-token"),
        mock: Some(("dlv_bench", 1)),
    }) {
        script.push_str(&format!("wrk.headers[\"{name}\"] = \"{value}\"\n"));
    }
    let path = std::env::temp_dir().join(format!("inboxkit-mock-wrk-{}.lua", std::process::id()));
    std::fs::write(&path, script).ok()?;
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "-s",
        ])
        .arg(&path)
        .arg(url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let rate = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok());
    if let Some(non_2xx) = text.lines().find(|l| l.contains("Non-2xx")) {
        eprintln!("wrk: {non_2xx}");
    }
    rate
}

async fn our_rate(
    sender: &Sender,
    subscriber: &Arc<Subscriber>,
    event: &OutgoingEvent,
    seconds: u64,
    connections: usize,
) -> (f64, u64) {
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
    (delivered as f64 / started.elapsed().as_secs_f64(), other)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let seconds: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(5);
    let connections: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(64);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(3);
    let threads: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(SENDER_THREADS)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let signer = Signer::new(SignatureScheme::HmacBody, Secret::new(SECRET));
        let receiver = RunningReceiver::start_local(ReceiverConfig {
            verifier: Some(signer.clone()),
            capacity: Some(10_000),
            ..ReceiverConfig::default()
        })
        .expect("receiver");
        let url = receiver.webhook_url();
        let event = event();
        let sample = event.body().clone();
        let signature = signer.sign(&sample);
        let sender = Sender::new(
            Clock::real(),
            SenderOptions { concurrency: connections, journal_capacity: 10_000, ..SenderOptions::default() },
        )
        .expect("sender");
        let subscriber = Arc::new(Subscriber {
            url: url.clone(),
            signer,
            bearer: Some(Secret::new("bench-token")),
            timeout: Duration::from_secs(10),
            policy: RetryPolicy::default(),
            mock_headers: true,
        });
        // Rounds alternate between wrk and us so that background load hits both alike.
        let (mut ours, mut theirs, mut paired, mut failed) = (Vec::new(), Vec::new(), Vec::new(), 0);
        // CPU spent, and requests made, in our rounds and in wrk's.
        let (mut our_cpu, mut wrk_cpu, mut receiver_ours, mut receiver_wrk) = Default::default();
        let (mut our_requests, mut wrk_requests) = (0.0, 0.0);
        for _ in 0..rounds {
            let (wrk_url, body, signature) = (url.to_string(), sample.clone(), signature.clone());
            let (children, receiver) = (children_cpu(), threads_cpu(RECEIVER_THREADS));
            let reference = tokio::task::spawn_blocking(move || wrk_rate(&wrk_url, &body, &signature, seconds, connections))
                .await
                .expect("wrk task");
            if let Some(rate) = reference {
                wrk_cpu += children_cpu() - children;
                receiver_wrk += threads_cpu(RECEIVER_THREADS) - receiver;
                wrk_requests += rate * seconds as f64;
            }
            theirs.extend(reference);
            let (sending, receiver) = (threads_cpu(SENDER_THREADS), threads_cpu(RECEIVER_THREADS));
            let started = Instant::now();
            let (rate, other) = our_rate(&sender, &subscriber, &event, seconds, connections).await;
            our_cpu += threads_cpu(SENDER_THREADS) - sending;
            receiver_ours += threads_cpu(RECEIVER_THREADS) - receiver;
            our_requests += rate * started.elapsed().as_secs_f64();
            ours.push(rate);
            // Our round against the wrk round just before it: background load changes slowly,
            // so paired ratios vary less than the two rates do.
            paired.extend(reference.map(|r| rate / r));
            failed += other;
        }
        let counters = sender.journal().counters();
        println!("delivery_rate: {rounds} rounds of {seconds} s each, {connections} connections, {threads} sender threads, built-in receiver on loopback");
        println!(
            "  inboxkit-mock: {:.0} deliveries/s median (rounds: {}); {failed} not delivered; {} attempts journaled",
            median(&mut ours.clone()),
            ours.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", "),
            counters.attempts_total()
        );
        if theirs.is_empty() {
            println!("  wrk:           not available (install the Debian package `wrk`)");
        } else {
            let reference = median(&mut theirs.clone());
            println!(
                "  wrk:           {reference:.0} requests/s median (rounds: {})",
                theirs.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ")
            );
            println!(
                "  ratio:         {:.2} (paired by round: {}, median {:.2})",
                median(&mut ours) / reference,
                paired.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", "),
                median(&mut paired)
            );
            println!(
                "  CPU per request: inboxkit-mock {:.1} µs vs wrk {:.1} µs; the receiver {:.1} µs (our rounds) and {:.1} µs (wrk's)",
                per_request(our_cpu, our_requests),
                per_request(wrk_cpu, wrk_requests),
                per_request(receiver_ours, our_requests),
                per_request(receiver_wrk, wrk_requests),
            );
        }
        receiver.stop().await;
    });
}
