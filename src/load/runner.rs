//! Runs load phases in the open model: sends follow the plan, whatever the subscriber does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::TimeDelta;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use super::report::failures::Failures;
use super::schedule::{Segment, planned_offsets};
use super::stats::Stats;
use crate::contract::{Account, EventType, PayloadShape, format_timestamp};
use crate::delivery::{OutgoingEvent, Sender, Subscriber};
use crate::model::Faker;
use crate::scenario::SenderFaults;
use crate::simulation::sample::Sampler;

/// Default bound on deliveries in flight during load.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 10_000;

/// One phase, ready to run.
#[derive(Debug, Clone)]
pub struct PhasePlan {
    /// Name in reports.
    pub name: String,
    /// Rate segments.
    pub segments: Vec<Segment>,
    /// Event types and weights.
    pub mix: Vec<(EventType, f64)>,
    /// Deliveries in flight at once.
    pub max_in_flight: usize,
}

/// Which slice of a scenario this process runs: shard `index` of `count` (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based index.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 1, count: 1 }
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{text}` is not a shard like 2/4 (index from 1 to count)");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let shard = Shard {
            index: index.trim().parse().map_err(|_| bad())?,
            count: count.trim().parse().map_err(|_| bad())?,
        };
        (shard.index >= 1 && shard.index <= shard.count)
            .then_some(shard)
            .ok_or_else(bad)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Where load goes.
#[derive(Debug, Clone)]
pub struct LoadTarget {
    /// The sender (its clock scales deadlines and retry delays).
    pub sender: Sender,
    /// The subscriber, correctly keyed.
    pub subscriber: Arc<Subscriber>,
    /// The same subscriber with a wrong key, for deliberately bad signatures.
    pub mis_signed: Arc<Subscriber>,
    /// Body layout.
    pub shape: PayloadShape,
    /// Failed deliveries the report keeps with their attempts (the first N; 0 keeps none).
    pub failed_deliveries: usize,
}

/// Live counters for a progress display.
#[derive(Debug, Default)]
pub struct Progress {
    /// Sends planned in all phases.
    pub planned: AtomicU64,
    /// Sends started.
    pub sent: AtomicU64,
    /// Events that reached a terminal state.
    pub finished: AtomicU64,
}

/// Makes the events of a load run from a seeded generator.
struct EventSource {
    sampler: Sampler,
    faker: Faker,
    account: Account,
    shape: PayloadShape,
    rng: StdRng,
}

impl EventSource {
    fn pick(&mut self, mix: &[(EventType, f64)]) -> EventType {
        let total: f64 = mix.iter().map(|(_, w)| w).sum();
        let mut point = self.rng.random::<f64>() * total;
        for (event, weight) in mix {
            if point < *weight {
                return event.clone();
            }
            point -= weight;
        }
        mix.last()
            .map_or(EventType::DomainStatusChanged, |(e, _)| e.clone())
    }

    fn make(
        &mut self,
        event: &EventType,
        stale: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> OutgoingEvent {
        let at = if stale {
            now - TimeDelta::hours(1)
        } else {
            now
        };
        let mut envelope = self
            .sampler
            .envelope(event, &mut self.faker, &self.account, self.shape, at)
            .expect("mixes hold known event types");
        if stale {
            envelope.timestamp = format_timestamp(at);
        }
        OutgoingEvent::from_envelope(&envelope)
    }
}

/// Runs `phases` one after the other against `target`; returns what was measured.
pub async fn run(
    target: LoadTarget,
    phases: &[PhasePlan],
    faults: &SenderFaults,
    seed: u64,
    shard: Shard,
    progress: Arc<Progress>,
) -> Stats {
    // The loop that makes and spawns every send runs on a runtime worker, not on the caller's
    // thread (the CLI's `block_on`): a task spawned from a worker joins its local queue, where
    // one spawned from outside the runtime wakes a sleeping worker each time.
    let (phases, faults) = (phases.to_vec(), faults.clone());
    let looping =
        tokio::spawn(
            async move { run_phases(target, &phases, &faults, seed, shard, progress).await },
        );
    match looping.await {
        Ok(stats) => stats,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => panic!("the load loop was cancelled (the runtime shut down): {error}"),
    }
}

async fn run_phases(
    target: LoadTarget,
    phases: &[PhasePlan],
    faults: &SenderFaults,
    seed: u64,
    shard: Shard,
    progress: Arc<Progress>,
) -> Stats {
    let share = 1.0 / f64::from(shard.count);
    let shard_seed = seed.wrapping_add(u64::from(shard.index).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut faker = Faker::seeded(shard_seed);
    let mut source = EventSource {
        sampler: Sampler::default(),
        account: faker.account(),
        faker,
        shape: target.shape,
        rng: StdRng::seed_from_u64(shard_seed ^ 0xA5A5),
    };
    let scaled: Vec<Vec<Segment>> = phases
        .iter()
        .map(|p| {
            p.segments
                .iter()
                .map(|s| Segment {
                    from: s.from * share,
                    to: s.to * share,
                    ..*s
                })
                .collect()
        })
        .collect();
    let planned: usize = scaled
        .iter()
        .map(|segments| planned_offsets(segments).count())
        .sum();
    progress.planned.store(planned as u64, Ordering::Relaxed);

    let stats = Arc::new(Mutex::new(Stats::default()));
    let tasks = TaskTracker::new();
    let run_start = Instant::now();
    stats.lock().unwrap_or_else(|p| p.into_inner()).failures = Some(Failures::new(
        target.failed_deliveries,
        shard.to_string(),
        run_start,
    ));
    let sampler = tokio::spawn(sample_memory(stats.clone()));
    let alarm = Alarm::start();
    let mut phase_start = run_start;
    for (phase, segments) in phases.iter().zip(&scaled) {
        let in_flight = Arc::new(Semaphore::new(phase.max_in_flight.max(1)));
        let mut held: Option<OutgoingEvent> = None;
        for offset in planned_offsets(segments) {
            let planned_at = phase_start + offset;
            alarm.wait_until(planned_at).await;
            // The slot is taken before the event is made: above capacity, the sends waiting for
            // one are the plan's next offsets, not events and tasks piling up in memory.
            let slot = take_slot(&in_flight).await;
            let event_type = source.pick(&phase.mix);
            let stale = source.rng.random::<f64>() < faults.stale_timestamps;
            let event = source.make(&event_type, stale, target.sender.clock().now());
            let bad_signature = source.rng.random::<f64>() < faults.bad_signatures;
            let duplicate = source.rng.random::<f64>() < faults.duplicates;
            if stale || bad_signature || duplicate {
                let mut stats = lock(&stats);
                stats.stale_timestamps += u64::from(stale);
                stats.bad_signature_events += u64::from(bad_signature);
                stats.duplicates_sent += u64::from(duplicate);
            }
            let subscriber = if bad_signature {
                target.mis_signed.clone()
            } else {
                target.subscriber.clone()
            };
            if duplicate {
                target.sender.submit(subscriber.clone(), event.clone());
            }
            if held.is_none() && source.rng.random::<f64>() < faults.reorder {
                lock(&stats).reordered += 1;
                held = Some(event);
                continue;
            }
            let second = (planned_at - run_start).as_secs() as usize;
            spawn_send(
                &tasks,
                &target.sender,
                subscriber.clone(),
                event,
                planned_at,
                second,
                slot,
                &stats,
                &progress,
            );
            // A held event goes out right after the next one; its lag counts from this
            // release, since the hold itself is deliberate.
            if let Some(event) = held.take() {
                let slot = take_slot(&in_flight).await;
                spawn_send(
                    &tasks,
                    &target.sender,
                    target.subscriber.clone(),
                    event,
                    planned_at,
                    second,
                    slot,
                    &stats,
                    &progress,
                );
            }
        }
        if let Some(event) = held.take() {
            let slot = take_slot(&in_flight).await;
            let second = (Instant::now() - run_start).as_secs() as usize;
            spawn_send(
                &tasks,
                &target.sender,
                target.subscriber.clone(),
                event,
                Instant::now(),
                second,
                slot,
                &stats,
                &progress,
            );
        }
        phase_start += segments.iter().map(|s| s.length).sum::<Duration>();
        tokio::time::sleep_until(phase_start).await;
    }
    tasks.close();
    tasks.wait().await;
    target.sender.drain().await;
    sampler.abort();
    let _ = sampler.await;
    let mut stats = std::mem::take(&mut *lock(&stats));
    stats.finish(run_start.elapsed());
    stats.load_s = scaled
        .iter()
        .flatten()
        .map(|s| s.length.as_secs_f64())
        .sum();
    stats
}

#[allow(clippy::too_many_arguments)]
fn spawn_send(
    tasks: &TaskTracker,
    sender: &Sender,
    subscriber: Arc<Subscriber>,
    event: OutgoingEvent,
    planned_at: Instant,
    second: usize,
    (permit, late): (OwnedSemaphorePermit, bool),
    stats: &Arc<Mutex<Stats>>,
    progress: &Arc<Progress>,
) {
    let (sender, stats, progress) = (sender.clone(), stats.clone(), progress.clone());
    tasks.spawn(async move {
        let _permit = permit;
        let started = Instant::now();
        let lag = started.saturating_duration_since(planned_at);
        progress.sent.fetch_add(1, Ordering::Relaxed);
        let body = event.body().clone();
        let record = sender.deliver_outcome(subscriber, event).await;
        let ended = Instant::now();
        // The failure path only: a delivered event returns at once.
        super::stats::capture_failure(sender.journal(), &stats, &body, planned_at, &record);
        // Exact when the first attempt was the last; otherwise lag plus the first attempt.
        let response = match record.attempts.as_slice() {
            [_] => ended.saturating_duration_since(planned_at),
            [first, ..] => lag + Duration::from_secs_f64(first.latency_ms.max(0.0) / 1e3),
            [] => lag,
        };
        lock(&stats).record(&record, lag, late, response, second);
        progress.finished.fetch_add(1, Ordering::Relaxed);
    });
}

/// A free in-flight slot, and whether the send had to wait for it: a late start (k6's meaning).
async fn take_slot(in_flight: &Arc<Semaphore>) -> (OwnedSemaphorePermit, bool) {
    match in_flight.clone().try_acquire_owned() {
        Ok(permit) => (permit, false),
        Err(_) => {
            let permit = in_flight.clone().acquire_owned().await;
            (permit.expect("never closed"), true)
        }
    }
}

/// The shortest wait for a send: sends planned closer together than this (rates above
/// 10,000/s) are released together, each at most this much late, instead of one sleep (a system
/// call and two context switches) per send.
const TICK_QUANTUM: Duration = Duration::from_micros(100);

/// Wakes the load loop at planned send times, from a thread of its own: the OS sleeps there to
/// within tens of microseconds, where the async timer rounds to whole milliseconds. Asked only
/// when the loop is early: a loop that is behind its plan (above capacity) never waits, and
/// costs no thread switch per send.
struct Alarm {
    requests: std::sync::mpsc::Sender<(std::time::Instant, tokio::sync::oneshot::Sender<()>)>,
}

impl Alarm {
    /// Starts the alarm's thread; it ends when the alarm is dropped.
    fn start() -> Self {
        let (requests, asked) =
            std::sync::mpsc::channel::<(std::time::Instant, tokio::sync::oneshot::Sender<()>)>();
        std::thread::spawn(move || {
            for (at, ring) in asked {
                if let Some(wait) = at.checked_duration_since(std::time::Instant::now()) {
                    std::thread::sleep(wait);
                }
                let _ = ring.send(());
            }
        });
        Alarm { requests }
    }

    /// Returns at `planned` (at least [`TICK_QUANTUM`] from now), or at once if it has passed.
    async fn wait_until(&self, planned: Instant) {
        let now = Instant::now();
        if planned <= now {
            return;
        }
        let at = now + (planned - now).max(TICK_QUANTUM);
        let (ring, rung) = tokio::sync::oneshot::channel();
        if self.requests.send((at.into_std(), ring)).is_err() || rung.await.is_err() {
            // The thread is gone (it cannot be while the alarm lives): the async timer instead.
            tokio::time::sleep_until(at).await;
        }
    }
}

/// Samples this process's resident memory once a second into the stats.
async fn sample_memory(stats: Arc<Mutex<Stats>>) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticks.tick().await;
        if let Some(rss) = resident_mib() {
            lock(&stats).rss_mib.push(rss);
        }
    }
}

/// Resident set size in MiB, from `/proc/self/statm` (None where that does not exist).
pub fn resident_mib() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096.0 / (1024.0 * 1024.0))
}

/// The run's statistics, locked for a moment (never across an await).
fn lock(stats: &Mutex<Stats>) -> MutexGuard<'_, Stats> {
    stats.lock().unwrap_or_else(|p| p.into_inner())
}
