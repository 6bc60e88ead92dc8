//! The journal: one record per delivery with every attempt, bounded, with lasting counters.
//!
//! Bounded two ways, both without ever searching the records: at most `capacity` records are
//! kept, by evicting the terminal ones in the order they finished (in-progress deliveries are
//! never evicted, so the journal holds more only while more than `capacity` are in progress;
//! it never holds more than `capacity` terminal ones); and at most `max_in_progress` deliveries
//! may be opened through [`Journal::try_open_signed`] while unfinished (the intake cap).

mod compact;
mod record;
mod sink;
mod table;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};

use super::outcome::{AttemptOutcome, TerminalState};
use compact::Held;
pub use compact::{BuiltHeaders, canonical_digest};
pub use record::{
    AttemptRecord, DeliveryId, DeliveryRecord, DeliveryState, Targets, Timestamp, Trigger,
};
pub use sink::{Flushed, JournalSink, SavedDelivery};
use table::Table;

/// Default number of deliveries the journal keeps before evicting finished ones.
pub const DEFAULT_JOURNAL_CAPACITY: usize = 100_000;

/// Default most deliveries in progress at once before intake is refused (`--max-in-progress`).
pub const DEFAULT_MAX_IN_PROGRESS: usize = 100_000;

/// Totals that survive eviction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Deliveries opened.
    pub events: u64,
    /// Attempts made, by outcome.
    pub attempts: BTreeMap<AttemptOutcome, u64>,
    /// Deliveries finished, by terminal state.
    pub terminal: BTreeMap<TerminalState, u64>,
    /// Finished deliveries dropped to keep the journal bounded.
    pub evicted: u64,
    /// Attempt latencies (for the metrics endpoint's histogram).
    #[serde(default)]
    pub latency: LatencyHistogram,
    /// Unfinished deliveries resumed from saved state at start-up.
    #[serde(default)]
    pub resumed: u64,
    /// Attempts sent again after a restart because they were in flight when the process died.
    #[serde(default)]
    pub duplicates_after_crash: u64,
    /// Deliveries refused because too many were in progress (the intake cap).
    #[serde(default)]
    pub refused: u64,
}

/// Upper bounds (milliseconds) of the attempt-latency histogram buckets.
pub const LATENCY_BUCKETS_MS: [f64; 12] = [
    1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];

/// Attempt latencies in fixed buckets: flat memory however long the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    /// Count per bucket of [`LATENCY_BUCKETS_MS`] (not cumulative), then one for larger values.
    pub buckets: Vec<u64>,
    /// Sum of all latencies, milliseconds.
    pub sum_ms: f64,
    /// Number of latencies recorded.
    pub count: u64,
}

impl LatencyHistogram {
    /// Records one latency.
    pub fn observe(&mut self, latency_ms: f64) {
        if self.buckets.len() != LATENCY_BUCKETS_MS.len() + 1 {
            self.buckets.resize(LATENCY_BUCKETS_MS.len() + 1, 0);
        }
        let index = LATENCY_BUCKETS_MS
            .iter()
            .position(|b| latency_ms <= *b)
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        self.buckets[index] += 1;
        self.sum_ms += latency_ms;
        self.count += 1;
    }
}

impl Counters {
    /// Deliveries opened and not yet in a terminal state.
    pub fn in_progress(&self) -> u64 {
        self.events - self.terminal.values().sum::<u64>()
    }

    /// All attempts made.
    pub fn attempts_total(&self) -> u64 {
        self.attempts.values().sum()
    }
}

/// Which deliveries a listing returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Only this event type.
    pub event: Option<String>,
    /// Only this entity uid.
    pub uid: Option<String>,
    /// Only this state.
    pub state: Option<DeliveryState>,
    /// Only deliveries whose last attempt had this outcome.
    pub outcome: Option<AttemptOutcome>,
    /// Only deliveries created at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only deliveries created before this instant.
    pub until: Option<DateTime<Utc>>,
}

impl Filter {
    fn matches(&self, record: &DeliveryRecord) -> bool {
        let created = record.created_at.instant();
        self.event.as_ref().is_none_or(|e| *e == record.event)
            && self
                .uid
                .as_ref()
                .is_none_or(|u| record.entity_uid.as_ref() == Some(u))
            && self.state.is_none_or(|s| s == record.state)
            && self
                .outcome
                .is_none_or(|o| record.last_attempt().map(|a| a.outcome) == Some(o))
            && self.since.is_none_or(|s| created >= s)
            && self.until.is_none_or(|u| created < u)
    }
}

/// Why a delivery was not opened: as many as allowed are in progress already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "{in_progress} deliveries are in progress, the most allowed (--max-in-progress {limit}); try again once some have finished"
)]
pub struct Overloaded {
    /// Deliveries in progress when it was refused.
    pub in_progress: u64,
    /// The cap.
    pub limit: u64,
}

/// The in-memory journal, shared by the sender and every interface.
#[derive(Debug)]
pub struct Journal {
    inner: Mutex<Inner>,
    version: watch::Sender<u64>,
    /// Woken when deliveries in progress fall below the cap.
    room: Notify,
    /// Where changes are saved, when state is persisted.
    store: OnceLock<Arc<dyn JournalSink>>,
}

#[derive(Debug)]
struct Inner {
    table: Table,
    capacity: usize,
    max_in_progress: u64,
    counters: Counters,
}

impl Default for Journal {
    fn default() -> Self {
        Journal::with_capacity(DEFAULT_JOURNAL_CAPACITY)
    }
}

impl Journal {
    /// A journal keeping at most `capacity` deliveries (in-progress ones are never evicted),
    /// with the default intake cap.
    pub fn with_capacity(capacity: usize) -> Self {
        Journal::with_limits(capacity, DEFAULT_MAX_IN_PROGRESS)
    }

    /// A journal keeping at most `capacity` deliveries, opening at most `max_in_progress`
    /// unfinished ones through [`Journal::try_open_signed`] (both at least 1).
    pub fn with_limits(capacity: usize, max_in_progress: usize) -> Self {
        Journal {
            inner: Mutex::new(Inner {
                table: Table::default(),
                capacity: capacity.max(1),
                max_in_progress: u64::try_from(max_in_progress.max(1)).unwrap_or(u64::MAX),
                counters: Counters::default(),
            }),
            version: watch::channel(0).0,
            room: Notify::new(),
            store: OnceLock::new(),
        }
    }

    /// Hands every later change to `sink` (once; later calls are ignored).
    pub fn persist_to(&self, sink: Arc<dyn JournalSink>) {
        let _ = self.store.set(sink);
    }

    /// Where changes are saved, when state is persisted.
    pub fn store(&self) -> Option<&dyn JournalSink> {
        self.store.get().map(|sink| &**sink)
    }

    /// Puts back a saved delivery (not saved again) and counts it and its attempts.
    pub fn restore(&self, record: DeliveryRecord) {
        let evicted = self.update(|inner| {
            inner.counters.events += 1;
            for attempt in &record.attempts {
                *inner.counters.attempts.entry(attempt.outcome).or_default() += 1;
                inner.counters.latency.observe(attempt.latency_ms);
            }
            if let Some(terminal) = record.state.terminal() {
                *inner.counters.terminal.entry(terminal).or_default() += 1;
            }
            inner.table.insert(record);
            inner.evict(self.store())
        });
        drop(evicted);
    }

    /// Counts a delivery resumed from saved state, and whether its next attempt is a re-send.
    pub fn count_resumed(&self, resent: bool) {
        self.update(|inner| {
            inner.counters.resumed += 1;
            inner.counters.duplicates_after_crash += u64::from(resent);
        });
    }

    fn update<T>(&self, change: impl FnOnce(&mut Inner) -> T) -> T {
        let result = change(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()));
        // A waiter subscribes before it reads, so with none subscribed nobody can miss this.
        if self.version.receiver_count() > 0 {
            self.version.send_modify(|v| *v += 1);
        }
        result
    }

    fn read<T>(&self, read: impl FnOnce(&Inner) -> T) -> T {
        read(&self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Adds a new delivery.
    pub fn open(&self, record: DeliveryRecord) {
        self.open_signed(record, None);
    }

    /// Adds a new delivery sent with `signature` (saved with it when state is persisted),
    /// whatever the number in progress.
    pub fn open_signed(&self, record: DeliveryRecord, signature: Option<&str>) {
        let store = self.store();
        let evicted = self.update(|inner| inner.open(record, signature, store));
        // Freed here, after the lock: evicted records can be large.
        drop(evicted);
    }

    /// Like [`Journal::open_signed`], unless the deliveries in progress are at the cap: then the
    /// delivery is not opened (nor saved) and the refusal is counted.
    pub fn try_open_signed(
        &self,
        record: DeliveryRecord,
        signature: Option<&str>,
    ) -> Result<(), Overloaded> {
        let store = self.store();
        let evicted = self.update(|inner| {
            inner.room()?;
            Ok(inner.open(record, signature, store))
        })?;
        drop(evicted);
        Ok(())
    }

    /// Whether a delivery opened now through [`Journal::try_open_signed`] would be accepted.
    pub fn has_room(&self) -> bool {
        self.read(|inner| inner.counters.in_progress() < inner.max_in_progress)
    }

    /// Refuses, as [`Journal::try_open_signed`] would, when the deliveries in progress are at
    /// the cap (counted as a refusal).
    pub fn check_room(&self) -> Result<(), Overloaded> {
        self.update(Inner::room)
    }

    /// The intake cap: most deliveries in progress that [`Journal::try_open_signed`] allows.
    pub fn max_in_progress(&self) -> u64 {
        self.read(|inner| inner.max_in_progress)
    }

    /// Waits until fewer deliveries than the cap are in progress (at once if they are). Room
    /// is not reserved: with several openers, one may still be refused.
    pub async fn wait_for_room(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a delivery finishing in between still wakes us.
            notified.as_mut().enable();
            if self.has_room() {
                return;
            }
            notified.await;
        }
    }

    /// Appends an attempt and moves the delivery to `state`.
    pub fn record_attempt(&self, id: &DeliveryId, attempt: AttemptRecord, state: DeliveryState) {
        drop(self.append(id, attempt, None, state, false));
    }

    /// Like [`Journal::record_attempt`] for an attempt whose request headers are the `built`
    /// set (its own list is ignored): nothing is compared or copied; the list is rendered only
    /// when the record is read (or saved). With `snapshot`, returns the record when this attempt
    /// made it terminal (None otherwise, or when the record is gone).
    pub fn record_built_attempt(
        &self,
        id: &DeliveryId,
        attempt: AttemptRecord,
        built: BuiltHeaders,
        state: DeliveryState,
        snapshot: bool,
    ) -> Option<DeliveryRecord> {
        self.append(id, attempt, Some(built), state, snapshot)
    }

    /// Like [`Journal::record_attempt`], and returns a snapshot of the record when this attempt
    /// made it terminal (None otherwise, or when the record is gone).
    pub fn record_final_attempt(
        &self,
        id: &DeliveryId,
        attempt: AttemptRecord,
        state: DeliveryState,
    ) -> Option<DeliveryRecord> {
        self.append(id, attempt, None, state, true)
    }

    fn append(
        &self,
        id: &DeliveryId,
        attempt: AttemptRecord,
        built: Option<BuiltHeaders>,
        state: DeliveryState,
        snapshot: bool,
    ) -> Option<DeliveryRecord> {
        let store = self.store();
        let (copy, evicted, room) = self.update(|inner| {
            *inner.counters.attempts.entry(attempt.outcome).or_default() += 1;
            inner.counters.latency.observe(attempt.latency_ms);
            let finished = inner.table.update(id, |held| {
                let was_terminal = held.record().state.terminal().is_some();
                if let Some(store) = store {
                    let saved = if was_terminal {
                        held.record().state
                    } else {
                        state
                    };
                    match built {
                        Some(built) => {
                            let record = held.record();
                            let mut full = attempt.clone();
                            full.request_headers = built.render(&record.id.0, &record.event, &full);
                            store.attempt(id, &full, saved);
                        }
                        None => store.attempt(id, &attempt, saved),
                    }
                }
                match built {
                    Some(built) => held.push_built(attempt, built),
                    None => held.push_attempt(attempt),
                }
                if was_terminal {
                    return None;
                }
                held.record_mut().state = state;
                let terminal = state.terminal()?;
                Some((terminal, snapshot.then(|| held.expand())))
            });
            let Some((terminal, copy)) = finished.flatten() else {
                return (None, Vec::new(), false);
            };
            let before = inner.counters.in_progress();
            *inner.counters.terminal.entry(terminal).or_default() += 1;
            let room = before >= inner.max_in_progress
                && inner.counters.in_progress() < inner.max_in_progress;
            (copy, inner.evict(store), room)
        });
        if room {
            self.room.notify_waiters();
        }
        drop(evicted);
        copy
    }

    /// One delivery by id.
    pub fn get(&self, id: &DeliveryId) -> Option<DeliveryRecord> {
        self.read(|inner| inner.table.get(id).map(Held::expand))
    }

    /// Deliveries matching `filter`, oldest first, skipping `offset` and returning up to `limit`;
    /// also returns how many matched in all.
    pub fn list(
        &self,
        filter: &Filter,
        offset: usize,
        limit: usize,
    ) -> (Vec<DeliveryRecord>, usize) {
        self.read(|inner| {
            let matching = inner
                .table
                .iter()
                .filter(|held| filter.matches(held.record()));
            let mut total = 0;
            let mut page = Vec::new();
            for held in matching {
                if total >= offset && page.len() < limit {
                    page.push(held.expand());
                }
                total += 1;
            }
            (page, total)
        })
    }

    /// Every delivery still held, oldest first.
    pub fn all(&self) -> Vec<DeliveryRecord> {
        self.list(&Filter::default(), 0, usize::MAX).0
    }

    /// Deliveries held, and how many of them are terminal.
    pub fn held(&self) -> (usize, usize) {
        self.read(|inner| (inner.table.len(), inner.table.finished()))
    }

    /// Lasting totals.
    pub fn counters(&self) -> Counters {
        self.read(|inner| inner.counters.clone())
    }

    /// Drops every record and counter.
    pub fn clear(&self) {
        let store = self.store();
        let dropped = self.update(|inner| {
            if let Some(store) = store {
                store.clear();
            }
            inner.counters = Counters::default();
            std::mem::take(&mut inner.table)
        });
        self.room.notify_waiters();
        drop(dropped);
    }

    /// Waits until `done` holds for the journal's counters, checking after every change.
    pub async fn wait_until(&self, mut done: impl FnMut(&Counters) -> bool) {
        let mut changes = self.version.subscribe();
        loop {
            if done(&self.counters()) {
                return;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Waits until delivery `id` is terminal and returns it (None if it is unknown).
    pub async fn wait_terminal(&self, id: &DeliveryId) -> Option<DeliveryRecord> {
        let mut changes = self.version.subscribe();
        loop {
            let record = self.get(id)?;
            if record.state.terminal().is_some() {
                return Some(record);
            }
            if changes.changed().await.is_err() {
                return Some(record);
            }
        }
    }
}

impl Inner {
    /// Refuses (and counts the refusal) when the deliveries in progress are at the cap.
    fn room(&mut self) -> Result<(), Overloaded> {
        let in_progress = self.counters.in_progress();
        if in_progress >= self.max_in_progress {
            self.counters.refused += 1;
            return Err(Overloaded {
                in_progress,
                limit: self.max_in_progress,
            });
        }
        Ok(())
    }

    #[must_use = "drop the evicted records outside the lock"]
    fn open(
        &mut self,
        record: DeliveryRecord,
        signature: Option<&str>,
        store: Option<&dyn JournalSink>,
    ) -> Vec<Held> {
        if let Some(store) = store {
            store.open(&record, signature);
        }
        self.counters.events += 1;
        self.table.insert(record);
        self.evict(store)
    }

    /// Drops the terminal deliveries that finished first while over capacity (from `store`
    /// too) and returns them, so that the caller frees their memory after releasing the lock.
    /// Each eviction is O(1): the terminal records wait in a queue, nothing is searched.
    #[must_use = "drop the evicted records outside the lock"]
    fn evict(&mut self, store: Option<&dyn JournalSink>) -> Vec<Held> {
        let mut evicted = Vec::new();
        while self.table.len() > self.capacity {
            let Some(record) = self.table.pop_finished() else {
                break;
            };
            self.counters.evicted += 1;
            if let Some(store) = store {
                store.forget(&record.record().id);
            }
            evicted.push(record);
        }
        evicted
    }
}

#[cfg(test)]
mod tests;
