//! What the reference receiver got: every request, its verdict, and the dedupe index.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::contract::headers::HeaderList;

/// What identifies one change of one entity. A repeat of all four is a duplicate (the same
/// change delivered again); anything else is a change of its own, even with the same `uid` and
/// `status` (active -> inactive -> active announces `active` twice, legitimately).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChangeKey<'a> {
    /// `data.<entity>.uid`, the documented idempotency key.
    pub uid: &'a str,
    /// `data.<entity>.status`.
    pub status: &'a str,
    /// `data.<entity>.previous_status` (null or absent: `None`).
    pub previous_status: Option<&'a str>,
    /// The envelope's `timestamp`: when the change happened.
    pub timestamp: Option<&'a str>,
}

/// The dedupe index's key: a fixed-key hash, the same in every run.
fn dedupe_key(key: &ChangeKey<'_>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

/// Change keys the dedupe index remembers at least.
pub const DEDUPE_WINDOW: usize = 100_000;

/// Requests the receiver keeps for `GET /received` before dropping the oldest.
pub const DEFAULT_RECORD_CAPACITY: usize = 100_000;

/// How the receiver judged a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Valid and new: processed.
    Accepted,
    /// Valid, but the same change (`uid`, `status`, `previous_status`, `timestamp`) was seen
    /// before: acknowledged, not reprocessed.
    Duplicate,
    /// The signature was missing or wrong (401).
    BadSignature,
    /// Not a valid webhook body, or header and body disagree (400).
    BadPayload,
    /// A fault program decided the answer.
    Faulted,
}

/// One request as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedRecord {
    /// Arrival order, from 1.
    pub seq: u64,
    /// Arrival time (ISO 8601, real clock).
    pub received_at: String,
    /// Request path.
    pub path: String,
    /// Request headers in arrival order.
    pub headers: HeaderList,
    /// Raw body (lossy UTF-8).
    pub body: String,
    /// `event` from the body, if it parsed.
    pub event: Option<String>,
    /// Entity uid, if present.
    pub uid: Option<String>,
    /// Entity status, if present.
    pub status: Option<String>,
    /// Signature check result: `None` when no key is configured.
    pub signature_valid: Option<bool>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why a request was refused, when it was.
    pub problem: Option<String>,
    /// HTTP status answered; 0 when a fault closed the connection without an answer.
    pub answered: u16,
    /// The fault programs that took effect, with what they did (e.g. `status=500,200 -> 500`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

impl ReceivedRecord {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Received requests plus the dedupe index of changes seen.
#[derive(Debug)]
pub struct ReceivedStore {
    inner: Mutex<Inner>,
    events: broadcast::Sender<ReceivedRecord>,
}

#[derive(Debug)]
struct Inner {
    records: VecDeque<ReceivedRecord>,
    /// 64-bit hashes of change keys (a collision is a 2^-64 event; the keys stay small).
    seen: HashSet<u64>,
    /// Insertion order of `seen`, to forget the oldest keys past the dedupe window.
    seen_order: VecDeque<u64>,
    processed: u64,
    next_seq: u64,
    capacity: usize,
}

impl Default for ReceivedStore {
    fn default() -> Self {
        ReceivedStore::with_capacity(DEFAULT_RECORD_CAPACITY)
    }
}

impl ReceivedStore {
    /// A store keeping the last `capacity` requests.
    pub fn with_capacity(capacity: usize) -> Self {
        ReceivedStore {
            inner: Mutex::new(Inner {
                records: VecDeque::new(),
                seen: HashSet::new(),
                seen_order: VecDeque::new(),
                processed: 0,
                next_seq: 1,
                capacity: capacity.max(1),
            }),
            events: broadcast::channel(1024).0,
        }
    }

    /// Marks the change as processed; false if it was already. The dedupe index keeps the
    /// last [`DEDUPE_WINDOW`] keys (or ten times the record capacity, if larger), so memory stays
    /// flat on long runs; a duplicate arriving later than that is processed again.
    pub fn first_sighting(&self, change: &ChangeKey<'_>) -> bool {
        let mut inner = self.inner.lock().expect("store lock");
        let key = dedupe_key(change);
        if !inner.seen.insert(key) {
            return false;
        }
        inner.processed += 1;
        inner.seen_order.push_back(key);
        let window = DEDUPE_WINDOW.max(inner.capacity.saturating_mul(10));
        while inner.seen_order.len() > window {
            if let Some(old) = inner.seen_order.pop_front() {
                inner.seen.remove(&old);
            }
        }
        true
    }

    /// How many distinct changes were processed (duplicates not counted).
    pub fn processed_count(&self) -> usize {
        usize::try_from(self.inner.lock().expect("store lock").processed).unwrap_or(usize::MAX)
    }

    /// Stores a record, giving it the next sequence number; returns that number.
    pub fn push(&self, mut record: ReceivedRecord) -> u64 {
        let mut inner = self.inner.lock().expect("store lock");
        record.seq = inner.next_seq;
        inner.next_seq += 1;
        if inner.records.len() == inner.capacity {
            inner.records.pop_front();
        }
        let seq = record.seq;
        if self.events.receiver_count() > 0 {
            // A listener may lag or leave: that is fine.
            let _ = self.events.send(record.clone());
        }
        inner.records.push_back(record);
        seq
    }

    /// Every stored request, oldest first.
    pub fn all(&self) -> Vec<ReceivedRecord> {
        self.inner
            .lock()
            .expect("store lock")
            .records
            .iter()
            .cloned()
            .collect()
    }

    /// How many requests arrived since start or the last clear.
    pub fn count(&self) -> u64 {
        self.inner.lock().expect("store lock").next_seq - 1
    }

    /// Forgets every request and the dedupe index.
    pub fn clear(&self) {
        let mut inner = self.inner.lock().expect("store lock");
        inner.records.clear();
        inner.seen.clear();
        inner.seen_order.clear();
        inner.processed = 0;
        inner.next_seq = 1;
    }

    /// A live stream of requests as they arrive.
    pub fn subscribe(&self) -> broadcast::Receiver<ReceivedRecord> {
        self.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(uid: &'a str, status: &'a str) -> ChangeKey<'a> {
        ChangeKey {
            uid,
            status,
            previous_status: Some("pending"),
            timestamp: Some("2024-01-10T15:30:45.123Z"),
        }
    }

    #[test]
    fn a_legitimate_repeat_of_a_status_is_a_new_change() {
        let store = ReceivedStore::default();
        let change = |status, previous, timestamp| ChangeKey {
            uid: "mailbox-a",
            status,
            previous_status: Some(previous),
            timestamp: Some(timestamp),
        };
        let first = change("active", "finalizing_setup", "2024-01-10T15:00:00.000Z");
        let off = change("inactive", "active", "2024-01-10T16:00:00.000Z");
        let again = change("active", "inactive", "2024-01-10T17:00:00.000Z");
        for step in [first, off, again] {
            assert!(
                store.first_sighting(&step),
                "{step:?} is a change of its own"
            );
        }
        assert!(
            !store.first_sighting(&again),
            "the same change again is a duplicate"
        );
        let later = change("active", "inactive", "2024-01-10T18:00:00.000Z");
        assert!(
            store.first_sighting(&later),
            "a later change with the same statuses"
        );
        assert_eq!(store.processed_count(), 4);
    }

    #[test]
    fn the_dedupe_index_is_bounded_and_counts_every_first_sighting() {
        let store = ReceivedStore::with_capacity(1);
        assert!(store.first_sighting(&key("domain-a", "active")));
        assert!(!store.first_sighting(&key("domain-a", "active")));
        let uids: Vec<String> = (0..DEDUPE_WINDOW).map(|n| format!("domain-{n}")).collect();
        for uid in &uids {
            assert!(store.first_sighting(&key(uid, "active")));
        }
        // The oldest key fell out of the window: seen again, it is processed again.
        assert!(store.first_sighting(&key("domain-a", "active")));
        assert_eq!(store.processed_count(), DEDUPE_WINDOW + 2);
        assert_eq!(store.inner.lock().unwrap().seen.len(), DEDUPE_WINDOW);
    }
}
