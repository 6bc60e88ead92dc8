//! Runs load phases in the open model: sends follow the plan, whatever the subscriber does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use super::maker::{self, Drawn, EventSource, Plan, PlannedSend};
use super::report::failures::Failures;
use super::schedule::{PhasePlan, Segment, planned_offsets};
use super::stats::Stats;
use crate::contract::PayloadShape;
use crate::delivery::{OutgoingEvent, Sender, Subscriber};
use crate::scenario::SenderFaults;

/// Default bound on deliveries in flight during load.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 10_000;

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

/// Runs `phases` one after the other against `target`; returns what was measured.
pub async fn run(
    target: LoadTarget,
    phases: &[PhasePlan],
    faults: &SenderFaults,
    seed: u64,
    shard: Shard,
    progress: Arc<Progress>,
) -> Stats {
    // The loop that spawns every send runs on a runtime worker, not on the caller's
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
    let mut sends = maker::start(
        Plan {
            phases: phases.to_vec(),
            segments: scaled.clone(),
            faults: faults.clone(),
            clock: target.sender.clock().clone(),
            start: run_start,
        },
        EventSource::seeded(shard_seed, target.shape),
    );
    // The current phase's index and in-flight bound, and the send held back (reordered).
    let mut phase: Option<(usize, Arc<Semaphore>)> = None;
    let mut held: Option<(Arc<Subscriber>, OutgoingEvent)> = None;
    while let Some(batch) = sends.next().await {
        for send in batch {
            let in_flight = match &phase {
                Some((index, in_flight)) if *index == send.phase => in_flight.clone(),
                _ => {
                    let bound = phases[send.phase].max_in_flight.max(1);
                    let in_flight = Arc::new(Semaphore::new(bound));
                    phase = Some((send.phase, in_flight.clone()));
                    in_flight
                }
            };
            let PlannedSend {
                at: planned_at,
                event,
                faults:
                    Drawn {
                        stale,
                        bad_signature,
                        duplicate,
                        hold,
                    },
                last_in_phase,
                ..
            } = send;
            // The slot is taken before the send: above capacity, the sends waiting for one are
            // the maker's few batches, not events and tasks piling up in memory.
            let slot = take_slot(&in_flight).await;
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
            let second = (planned_at - run_start).as_secs() as usize;
            if hold {
                lock(&stats).reordered += 1;
                held = Some((subscriber, event));
                // Its slot is taken again when it is released.
                drop(slot);
            } else {
                spawn_send(
                    &tasks,
                    &target.sender,
                    subscriber,
                    event,
                    planned_at,
                    second,
                    slot,
                    &stats,
                    &progress,
                );
            }
            // A held event goes out right after the next one (or after its phase's last); its
            // lag counts from this release, since the hold itself is deliberate.
            if (!hold || last_in_phase)
                && let Some((subscriber, event)) = held.take()
            {
                let slot = take_slot(&in_flight).await;
                let (released, second) = if hold {
                    let now = Instant::now();
                    (now, (now - run_start).as_secs() as usize)
                } else {
                    (planned_at, second)
                };
                spawn_send(
                    &tasks,
                    &target.sender,
                    subscriber,
                    event,
                    released,
                    second,
                    slot,
                    &stats,
                    &progress,
                );
            }
        }
    }
    let load_end = run_start + scaled.iter().flatten().map(|s| s.length).sum::<Duration>();
    tokio::time::sleep_until(load_end).await;
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
