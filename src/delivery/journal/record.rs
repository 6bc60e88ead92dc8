//! What the journal holds: one record per delivery, with every attempt.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::contract::format_timestamp;
use crate::contract::headers::SentHeaders;
use crate::delivery::outcome::{AttemptOutcome, TerminalState};
use crate::delivery::transport::RecordedResponse;

/// Identifies a delivery; stays the same across retries and redeliveries. Shared: clones are
/// cheap, and the journal, the sender and every listing hold one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeliveryId(pub Arc<str>);

impl DeliveryId {
    /// A new, time-ordered, unique id (`dlv_` + UUIDv7).
    pub fn generate() -> Self {
        let mut buffer = [0u8; 4 + uuid::fmt::Simple::LENGTH];
        buffer[..4].copy_from_slice(b"dlv_");
        uuid::Uuid::now_v7().simple().encode_lower(&mut buffer[4..]);
        // One allocation: the shared text is made from the stack buffer directly.
        DeliveryId(Arc::from(
            std::str::from_utf8(&buffer).expect("dlv_ and hex digits are ASCII"),
        ))
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

/// A simulated instant in the journal: typed inside (12 bytes, compared as an instant), written
/// as InboxKit writes times (ISO 8601, UTC, milliseconds, `Z`, e.g. `2024-01-10T15:30:45.123Z`)
/// only at the edges: JSON, the state file, text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// The instant.
    pub fn instant(self) -> DateTime<Utc> {
        self.0
    }

    /// Reads an RFC 3339 / ISO 8601 time with an offset (any offset; kept as UTC).
    pub fn parse(text: &str) -> Result<Self, chrono::ParseError> {
        DateTime::parse_from_rfc3339(text).map(|t| Timestamp(t.to_utc()))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(instant: DateTime<Utc>) -> Self {
        Timestamp(instant)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_timestamp(self.0))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Timestamp::parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("`{text}` is not an ISO 8601 time: {e}")))
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
    /// Simulated time the attempt started.
    pub started_at: Timestamp,
    /// Where it was sent (shared with the delivery's `target` and every other attempt to it).
    pub url: Arc<str>,
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
    pub next_attempt_at: Option<Timestamp>,
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
    /// Subscriber URL (shared by every delivery to it, see [`Targets`]).
    pub target: Arc<str>,
    /// Simulated creation time.
    pub created_at: Timestamp,
    /// Current state.
    pub state: DeliveryState,
    /// Exact request body (shared: retries, snapshots and listings do not copy it).
    pub body: Arc<str>,
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

/// Distinct subscriber URLs kept once, so that every record and attempt to the same subscriber
/// shares one allocation of its URL.
#[derive(Debug, Default)]
pub struct Targets {
    known: Mutex<HashSet<Arc<str>, foldhash::fast::RandomState>>,
}

/// Distinct URLs [`Targets`] keeps before it starts over (a bound, not a working set: a mock
/// has a few subscribers).
const TARGETS_KEPT: usize = 1024;

impl Targets {
    /// The shared text of `url`.
    pub fn get(&self, url: &str) -> Arc<str> {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shared) = known.get(url) {
            return shared.clone();
        }
        if known.len() >= TARGETS_KEPT {
            known.clear();
        }
        let shared: Arc<str> = url.into();
        known.insert(shared.clone());
        shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_and_write_the_wire_format() {
        let time = Timestamp::parse("2024-01-10T16:30:45.123+01:00").unwrap();
        assert_eq!(time.to_string(), "2024-01-10T15:30:45.123Z");
        assert_eq!(
            serde_json::to_string(&time).unwrap(),
            "\"2024-01-10T15:30:45.123Z\""
        );
        let back: Timestamp = serde_json::from_str("\"2024-01-10T15:30:45.123Z\"").unwrap();
        assert_eq!(back, time);
        let error = serde_json::from_str::<Timestamp>("\"yesterday\"").unwrap_err();
        assert!(error.to_string().contains("`yesterday`"), "{error}");
    }

    #[test]
    fn timestamps_order_as_instants_not_text() {
        let earlier = Timestamp::parse("2024-01-10T16:00:00.000+02:00").unwrap();
        let later = Timestamp::parse("2024-01-10T15:00:00.000Z").unwrap();
        assert!(earlier < later);
    }

    #[test]
    fn targets_share_one_allocation_per_url() {
        let targets = Targets::default();
        let a = targets.get("http://127.0.0.1:1/hook");
        let b = targets.get("http://127.0.0.1:1/hook");
        let c = targets.get("http://127.0.0.1:2/hook");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(&*c, "http://127.0.0.1:2/hook");
    }

    #[test]
    fn delivery_ids_are_dlv_and_a_time_ordered_uuid() {
        let (first, second) = (DeliveryId::generate(), DeliveryId::generate());
        for id in [&first, &second] {
            let digits = id.as_str().strip_prefix("dlv_").expect("dlv_ prefix");
            assert_eq!(digits.len(), 32, "{id}");
            assert!(
                digits
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{id}"
            );
            let uuid = uuid::Uuid::parse_str(digits).expect("a UUID");
            assert_eq!(uuid.get_version_num(), 7, "{id}");
        }
        assert!(first < second, "{first} then {second}");
    }
}
