//! Heap allocations per delivery: a figure that does not depend on how busy the machine is, so
//! it shows the effect of a change to the sender's hot path where timings are too noisy.
//!
//! `cargo bench --bench delivery_allocs [-- DELIVERIES]` (default 20,000). A `Sender` in this
//! process delivers to the in-bench sink (`support/sink.rs`, on a thread of its own), 16
//! deliveries at a time; the global allocator counts every allocation made meanwhile (the
//! sink's included, which allocates nothing per request). Two lines:
//! - `sender`: the same event delivered again and again (signed, sent, journaled, counted);
//! - `load run`: what `inboxkit-mock run` does per send besides, making a fresh event (a
//!   sampled envelope serialized) before delivering it.

#[path = "support/event.rs"]
mod support_event;
#[path = "support/sink.rs"]
mod support_sink;

use std::alloc::{GlobalAlloc, Layout};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use inboxkit_mock::contract::{Secret, SignatureScheme, Signer};
use inboxkit_mock::delivery::{
    DeliveryOrder, OutgoingEvent, RetryPolicy, Sender, SenderOptions, Subscriber, TerminalState,
};
use inboxkit_mock::model::Faker;
use inboxkit_mock::simulation::Clock;
use inboxkit_mock::simulation::sample::Sampler;

/// mimalloc, as in the binary, with every allocation counted.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
static INNER: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { INNER.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `INNER` with `layout`.
        unsafe { INNER.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: `ptr` came from `INNER` with `layout`; the caller's contract is passed on.
        unsafe { INNER.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const WORKERS: usize = 16;

/// Delivers `count` events made by `make` and returns (allocations, bytes) per delivery.
async fn measure(
    sender: &Sender,
    subscriber: &Arc<Subscriber>,
    count: usize,
    make: impl Fn(usize) -> OutgoingEvent + Send + Sync + 'static,
) -> (f64, f64, Duration) {
    let make = Arc::new(make);
    let (allocations, bytes) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let (sender, subscriber, make) = (sender.clone(), subscriber.clone(), make.clone());
            tokio::spawn(async move {
                for n in (worker..count).step_by(WORKERS) {
                    let record = sender.deliver_outcome(subscriber.clone(), make(n)).await;
                    assert_eq!(
                        record.state.terminal(),
                        Some(TerminalState::Delivered),
                        "the sink answers 200"
                    );
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    let elapsed = started.elapsed();
    let per = |now: u64, then: u64| (now - then) as f64 / count as f64;
    (
        per(ALLOCATIONS.load(Ordering::Relaxed), allocations),
        per(BYTES.load(Ordering::Relaxed), bytes),
        elapsed,
    )
}

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(|a| a.parse().expect("DELIVERIES is a number"))
        .unwrap_or(20_000);
    let port = support_sink::start_on_thread("sink");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        // The same event (one entity) again and again: kept in order, the deliveries would form
        // one chain, each waiting for the one before it to be answered.
        let options = SenderOptions {
            order: DeliveryOrder::Any,
            ..SenderOptions::default()
        };
        let sender = Sender::new(Clock::real(), options).expect("sender");
        let subscriber = Arc::new(Subscriber {
            url: format!("http://127.0.0.1:{port}/webhook").parse().expect("url"),
            signer: Signer::new(SignatureScheme::HmacBody, Secret::new("bench-secret")),
            bearer: Some(Secret::new("bench-token")),
            timeout: Duration::from_secs(10),
            policy: RetryPolicy::with_delays(vec![Duration::from_secs(10); 3]),
            mock_headers: false,
        });
        let mut faker = Faker::seeded(1);
        let account = faker.account();
        let event = support_event::domain_event(&mut Sampler::default(), &mut faker, &account);
        // Warm up: connections opened, pools and the journal's tables grown.
        measure(&sender, &subscriber, 2_000, {
            let event = event.clone();
            move |_| event.clone()
        })
        .await;
        let (allocations, bytes, elapsed) = measure(&sender, &subscriber, count, {
            let event = event.clone();
            move |_| event.clone()
        })
        .await;
        println!(
            "sender:   {allocations:6.1} allocations, {bytes:8.0} bytes per delivery ({count} deliveries, {:.2} s)",
            elapsed.as_secs_f64()
        );
        let source = Arc::new(std::sync::Mutex::new((Faker::seeded(2), Sampler::default())));
        let (allocations, bytes, elapsed) = measure(&sender, &subscriber, count, move |_| {
            let mut source = source.lock().expect("source");
            let (faker, sampler) = &mut *source;
            support_event::domain_event(sampler, faker, &account)
        })
        .await;
        println!(
            "load run: {allocations:6.1} allocations, {bytes:8.0} bytes per delivery ({count} deliveries, {:.2} s)",
            elapsed.as_secs_f64()
        );
    });
}
