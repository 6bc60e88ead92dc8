//! Bytes the journal holds per delivery: `cargo bench --bench journal_memory [-- N]`.
//!
//! Delivers N events (default 100,000) through a real `Sender` to a minimal keep-alive HTTP sink
//! on loopback (it answers `200` with an empty body and keeps nothing), waits until every
//! delivery is terminal, and reports the heap bytes still allocated per journaled delivery,
//! counted by a global allocator, beside the body's own size; plus the RSS delta. Every
//! delivery is kept (the journal's capacity is N), each with one attempt, the seed profile's
//! full header set (Authorization and the mock headers included).

#[path = "support/event.rs"]
mod support_event;
#[path = "support/sink.rs"]
mod support_sink;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use inboxkit_mock::contract::{Secret, SignatureScheme, Signer};
use inboxkit_mock::delivery::{RetryPolicy, Sender, SenderOptions, Subscriber};
use inboxkit_mock::model::Faker;
use inboxkit_mock::simulation::Clock;
use inboxkit_mock::simulation::sample::Sampler;
use tokio::net::TcpListener;

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only a counter is updated beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded with the caller's arguments.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

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

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/webhook", listener.local_addr().expect("address"));
        tokio::spawn(support_sink::sink(listener));
        let sender = Sender::new(
            Clock::real(),
            SenderOptions {
                journal_capacity: count,
                ..SenderOptions::default()
            },
        )
        .expect("sender");
        let subscriber = Arc::new(Subscriber {
            url: url.parse().expect("url"),
            signer: Signer::new(SignatureScheme::HmacBody, Secret::new("bench-secret")),
            bearer: Some(Secret::new("bench-token")),
            timeout: Duration::from_secs(10),
            policy: RetryPolicy::default(),
            mock_headers: true,
        });
        let mut faker = Faker::seeded(1);
        let account = faker.account();
        let mut sampler = Sampler::default();
        let mut event = || support_event::domain_event(&mut sampler, &mut faker, &account);
        // Warm up the connection pool and the runtime, outside the measurement.
        for _ in 0..256 {
            sender.submit(subscriber.clone(), event());
        }
        sender.drain().await;
        sender.journal().clear();
        let (live, rss) = (LIVE.load(Ordering::Relaxed), rss_mib());
        let started = Instant::now();
        let mut body_bytes = 0usize;
        for _ in 0..count {
            let next = event();
            body_bytes += next.body().len();
            sender.submit(subscriber.clone(), next);
            if sender.journal().counters().in_progress() > 10_000 {
                tokio::task::yield_now().await;
            }
        }
        sender.drain().await;
        let elapsed = started.elapsed();
        let held = (LIVE.load(Ordering::Relaxed) - live) as f64;
        let counters = sender.journal().counters();
        let records = sender.journal().all().len();
        let per_record = held / records as f64;
        let body = body_bytes as f64 / count as f64;
        println!(
            "journal_memory: {count} deliveries in {:.1} s, {records} journaled, {} delivered",
            elapsed.as_secs_f64(),
            counters
                .terminal
                .get(&inboxkit_mock::delivery::TerminalState::Delivered)
                .copied()
                .unwrap_or(0)
        );
        println!(
            "  heap per journaled delivery: {per_record:.0} B ({body:.0} B body + {:.0} B beside it)",
            per_record - body
        );
        println!(
            "  RSS: +{:.1} MiB ({:.0} B per delivery)",
            rss_mib() - rss,
            (rss_mib() - rss) * 1024.0 * 1024.0 / count as f64
        );
    });
}
