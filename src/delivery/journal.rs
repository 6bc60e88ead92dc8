//! The journal: one record per delivery with every attempt, bounded, with lasting counters.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::outcome::{AttemptOutcome, TerminalState};
use super::transport::RecordedResponse;
use crate::contract::headers::SentHeaders;
use crate::persistence::StateWriter;

/// Default number of deliveries the journal keeps before evicting finished ones.
pub const DEFAULT_JOURNAL_CAPACITY: usize = 100_000;

/// Identifies a delivery; stays the same across retries and redeliveries. Shared: clones are
/// cheap, and the journal, the sender and every listing hold one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeliveryId(pub Arc<str>);

impl DeliveryId {
    /// A new, time-ordered, unique id (`dlv_` + UUIDv7).
    pub fn generate() -> Self {
        let mut buffer = uuid::Uuid::encode_buffer();
        let digits = uuid::Uuid::now_v7().simple().encode_lower(&mut buffer);
        let mut id = String::with_capacity(4 + digits.len());
        id.push_str("dlv_");
        id.push_str(digits);
        DeliveryId(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Created; the first attempt has not finished.
    Pending,
    /// An attempt failed and another is scheduled.
    Retrying,
    /// Terminal: a 2xx answer.
    Delivered,
    /// Terminal: an answer that is not retried.
    Rejected,
    /// Terminal: retries used up.
    Exhausted,
}

impl DeliveryState {
    /// The terminal state, if this is one.
    pub fn terminal(self) -> Option<TerminalState> {
        match self {
            DeliveryState::Delivered => Some(TerminalState::Delivered),
            DeliveryState::Rejected => Some(TerminalState::Rejected),
            DeliveryState::Exhausted => Some(TerminalState::Exhausted),
            DeliveryState::Pending | DeliveryState::Retrying => None,
        }
    }
}

impl From<TerminalState> for DeliveryState {
    fn from(state: TerminalState) -> Self {
        match state {
            TerminalState::Delivered => DeliveryState::Delivered,
            TerminalState::Rejected => DeliveryState::Rejected,
            TerminalState::Exhausted => DeliveryState::Exhausted,
        }
    }
}

/// What started an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The retry schedule (the first attempt included).
    Scheduled,
    /// A redelivery asked for by a user; it does not change the terminal state.
    Manual,
}

/// One attempt, exactly as made and answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// 1-based attempt number within the delivery.
    pub number: u32,
    /// Scheduled or manual.
    pub trigger: Trigger,
    /// Simulated time the attempt started (ISO 8601).
    pub started_at: String,
    /// Where it was sent.
    pub url: String,
    /// Exact request headers.
    pub request_headers: SentHeaders,
    /// The answer, if any.
    pub response: Option<RecordedResponse>,
    /// Wall-clock latency in milliseconds.
    pub latency_ms: f64,
    /// Coded outcome.
    pub outcome: AttemptOutcome,
    /// The failure below HTTP, if any.
    pub error: Option<String>,
    /// When the next scheduled attempt is due, if one is.
    pub next_attempt_at: Option<String>,
    /// Sent again after a restart because it had started, unsaved, when the process died: the
    /// subscriber may have received it twice (at-least-once delivery across a crash).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resent_after_crash: bool,
}

/// A delivery of one event, with all its attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// Delivery id.
    pub id: DeliveryId,
    /// Event type (the body's `event`).
    pub event: String,
    /// The entity's `uid`, when the body has one.
    pub entity_uid: Option<String>,
    /// The entity's new `status`, when the body has one.
    pub status: Option<String>,
    /// The entity's `previous_status`, when the body has one.
    pub previous_status: Option<String>,
    /// Subscriber URL.
    pub target: String,
    /// Simulated creation time (ISO 8601).
    pub created_at: String,
    /// Current state.
    pub state: DeliveryState,
    /// Exact request body (shared: retries, snapshots and listings do not copy it).
    pub body: std::sync::Arc<str>,
    /// Every attempt, scheduled and manual, in order.
    pub attempts: Vec<AttemptRecord>,
}

impl DeliveryRecord {
    /// Scheduled attempts only (what the retry policy made).
    pub fn scheduled_attempts(&self) -> usize {
        self.attempts
            .iter()
            .filter(|a| a.trigger == Trigger::Scheduled)
            .count()
    }

    /// The last attempt, if any.
    pub fn last_attempt(&self) -> Option<&AttemptRecord> {
        self.attempts.last()
    }
}

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
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Filter {
    /// Only this event type.
    pub event: Option<String>,
    /// Only this entity uid.
    pub uid: Option<String>,
    /// Only this state.
    pub state: Option<DeliveryState>,
    /// Only deliveries whose last attempt had this outcome.
    pub outcome: Option<AttemptOutcome>,
    /// Only deliveries created at or after this ISO time.
    pub since: Option<String>,
    /// Only deliveries created before this ISO time.
    pub until: Option<String>,
}

impl Filter {
    fn matches(&self, record: &DeliveryRecord) -> bool {
        self.event.as_ref().is_none_or(|e| *e == record.event)
            && self
                .uid
                .as_ref()
                .is_none_or(|u| record.entity_uid.as_ref() == Some(u))
            && self.state.is_none_or(|s| s == record.state)
            && self
                .outcome
                .is_none_or(|o| record.last_attempt().map(|a| a.outcome) == Some(o))
            && self
                .since
                .as_ref()
                .is_none_or(|s| record.created_at.as_str() >= s.as_str())
            && self
                .until
                .as_ref()
                .is_none_or(|u| record.created_at.as_str() < u.as_str())
    }
}

/// The in-memory journal, shared by the sender and every interface.
#[derive(Debug)]
pub struct Journal {
    inner: Mutex<Inner>,
    version: watch::Sender<u64>,
    /// Where changes are saved, when state is persisted.
    store: OnceLock<StateWriter>,
}

#[derive(Debug)]
struct Inner {
    records: HashMap<DeliveryId, DeliveryRecord>,
    order: VecDeque<DeliveryId>,
    capacity: usize,
    counters: Counters,
}

impl Default for Journal {
    fn default() -> Self {
        Journal::with_capacity(DEFAULT_JOURNAL_CAPACITY)
    }
}

impl Journal {
    /// A journal keeping at most `capacity` deliveries (in-progress ones are never evicted).
    pub fn with_capacity(capacity: usize) -> Self {
        Journal {
            inner: Mutex::new(Inner {
                records: HashMap::new(),
                order: VecDeque::new(),
                capacity: capacity.max(1),
                counters: Counters::default(),
            }),
            version: watch::channel(0).0,
            store: OnceLock::new(),
        }
    }

    /// Saves every later change through `writer` (once; later calls are ignored).
    pub fn persist_to(&self, writer: StateWriter) {
        let _ = self.store.set(writer);
    }

    /// Where changes are saved, when state is persisted.
    pub fn store(&self) -> Option<&StateWriter> {
        self.store.get()
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
            inner.order.push_back(record.id.clone());
            inner.records.insert(record.id.clone(), record);
            inner.evict(self.store.get())
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
        let result = change(&mut self.inner.lock().expect("journal lock"));
        // A waiter subscribes before it reads, so with none subscribed nobody can miss this.
        if self.version.receiver_count() > 0 {
            self.version.send_modify(|v| *v += 1);
        }
        result
    }

    fn read<T>(&self, read: impl FnOnce(&Inner) -> T) -> T {
        read(&self.inner.lock().expect("journal lock"))
    }

    /// Adds a new delivery.
    pub fn open(&self, record: DeliveryRecord) {
        self.open_signed(record, None);
    }

    /// Adds a new delivery sent with `signature` (saved with it when state is persisted).
    pub fn open_signed(&self, record: DeliveryRecord, signature: Option<&str>) {
        let store = self.store.get();
        let evicted = self.update(|inner| {
            if let Some(store) = store {
                store.open(&record, signature);
            }
            inner.counters.events += 1;
            inner.order.push_back(record.id.clone());
            inner.records.insert(record.id.clone(), record);
            inner.evict(store)
        });
        // Freed here, after the lock: evicted records can be large.
        drop(evicted);
    }

    /// Appends an attempt and moves the delivery to `state`.
    pub fn record_attempt(&self, id: &DeliveryId, attempt: AttemptRecord, state: DeliveryState) {
        self.append(id, attempt, state, false);
    }

    /// Like [`Journal::record_attempt`], and returns a snapshot of the record when this attempt
    /// made it terminal (None otherwise, or when the record is gone).
    pub fn record_final_attempt(
        &self,
        id: &DeliveryId,
        attempt: AttemptRecord,
        state: DeliveryState,
    ) -> Option<DeliveryRecord> {
        self.append(id, attempt, state, true)
    }

    fn append(
        &self,
        id: &DeliveryId,
        attempt: AttemptRecord,
        state: DeliveryState,
        snapshot: bool,
    ) -> Option<DeliveryRecord> {
        let store = self.store.get();
        self.update(|inner| {
            *inner.counters.attempts.entry(attempt.outcome).or_default() += 1;
            inner.counters.latency.observe(attempt.latency_ms);
            let record = inner.records.get_mut(id)?;
            let was_terminal = record.state.terminal().is_some();
            if let Some(store) = store {
                store.attempt(
                    id,
                    &attempt,
                    if was_terminal { record.state } else { state },
                );
            }
            record.attempts.push(attempt);
            if was_terminal {
                return None;
            }
            record.state = state;
            let terminal = state.terminal()?;
            let copy = snapshot.then(|| record.clone());
            *inner.counters.terminal.entry(terminal).or_default() += 1;
            copy
        })
    }

    /// One delivery by id.
    pub fn get(&self, id: &DeliveryId) -> Option<DeliveryRecord> {
        self.read(|inner| inner.records.get(id).cloned())
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
                .order
                .iter()
                .filter_map(|id| inner.records.get(id))
                .filter(|record| filter.matches(record));
            let mut total = 0;
            let mut page = Vec::new();
            for record in matching {
                if total >= offset && page.len() < limit {
                    page.push(record.clone());
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

    /// Lasting totals.
    pub fn counters(&self) -> Counters {
        self.read(|inner| inner.counters.clone())
    }

    /// Drops every record and counter.
    pub fn clear(&self) {
        let store = self.store.get();
        self.update(|inner| {
            if let Some(store) = store {
                store.clear();
            }
            inner.records.clear();
            inner.order.clear();
            inner.counters = Counters::default();
        });
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
    /// Evicts the oldest finished deliveries while over capacity (from `store` too).
    /// Drops the oldest finished deliveries beyond capacity and returns them, so that the
    /// caller frees their memory after releasing the lock.
    #[must_use = "drop the evicted records outside the lock"]
    fn evict(&mut self, store: Option<&StateWriter>) -> Vec<DeliveryRecord> {
        let mut evicted = Vec::new();
        while self.records.len() > self.capacity {
            let Some(position) = self.order.iter().position(|id| {
                self.records
                    .get(id)
                    .is_none_or(|r| r.state.terminal().is_some())
            }) else {
                break;
            };
            if let Some(id) = self.order.remove(position)
                && let Some(record) = self.records.remove(&id)
            {
                self.counters.evicted += 1;
                if let Some(store) = store {
                    store.forget(&id);
                }
                evicted.push(record);
            }
        }
        evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::fixtures::attempt;

    fn record(n: usize) -> DeliveryRecord {
        DeliveryRecord {
            id: DeliveryId(format!("d{n}").into()),
            event: "domain.status_changed".into(),
            entity_uid: Some(format!("domain-{n}")),
            status: Some("active".into()),
            previous_status: None,
            target: "http://127.0.0.1:1/".into(),
            created_at: format!("2024-01-10T15:30:{n:02}.000Z"),
            state: DeliveryState::Pending,
            body: "{}".into(),
            attempts: vec![],
        }
    }

    #[test]
    fn eviction_keeps_in_progress_deliveries_and_counters() {
        let journal = Journal::with_capacity(2);
        for n in 0..3 {
            journal.open(record(n));
        }
        // All three are pending: none may be evicted.
        assert_eq!(journal.all().len(), 3);
        journal.record_attempt(
            &DeliveryId("d1".into()),
            attempt(None, AttemptOutcome::Delivered, Trigger::Scheduled),
            DeliveryState::Delivered,
        );
        journal.open(record(3));
        let ids: Vec<_> = journal
            .all()
            .into_iter()
            .map(|r| r.id.to_string())
            .collect();
        assert_eq!(ids, ["d0", "d2", "d3"]);
        let counters = journal.counters();
        assert_eq!(
            (counters.events, counters.evicted, counters.in_progress()),
            (4, 1, 3)
        );
    }

    #[test]
    fn terminal_state_is_counted_once_and_never_changes() {
        let journal = Journal::default();
        journal.open(record(0));
        let id = DeliveryId("d0".into());
        journal.record_attempt(
            &id,
            attempt(None, AttemptOutcome::Http4xx, Trigger::Scheduled),
            DeliveryState::Rejected,
        );
        journal.record_attempt(
            &id,
            attempt(None, AttemptOutcome::Delivered, Trigger::Scheduled),
            DeliveryState::Delivered,
        );
        assert_eq!(journal.get(&id).unwrap().state, DeliveryState::Rejected);
        assert_eq!(journal.counters().terminal.values().sum::<u64>(), 1);
    }

    #[test]
    fn listing_filters_and_pages() {
        let journal = Journal::default();
        for n in 0..5 {
            journal.open(record(n));
        }
        let filter = Filter {
            since: Some("2024-01-10T15:30:01.000Z".into()),
            ..Filter::default()
        };
        let (page, total) = journal.list(&filter, 1, 2);
        assert_eq!(total, 4);
        assert_eq!(
            page.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["d2", "d3"]
        );
        let by_uid = Filter {
            uid: Some("domain-3".into()),
            ..Filter::default()
        };
        assert_eq!(journal.list(&by_uid, 0, 10).1, 1);
    }
}
