//! Where the journal's changes go when state is kept across restarts: a small trait the
//! journal owns and a store implements (`persistence::StateWriter` for `--state sqlite:`).
//! Without a sink, nothing is saved and the journal lives in memory only.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::{AttemptRecord, DeliveryId, DeliveryRecord, DeliveryState};

/// Resolves once everything handed to a sink before it is durable; false if it could not be.
pub type Flushed<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// Receives every change of the journal, in the order the journal made them. Calls must not
/// block: the journal makes them under its lock, so a sink queues the work and returns.
pub trait JournalSink: Send + Sync + fmt::Debug {
    /// A newly opened delivery (its frozen body) and the signature it is sent with, if fixed.
    fn open(&self, record: &DeliveryRecord, signature: Option<&str>);
    /// A finished attempt and the state it left the delivery in.
    fn attempt(&self, id: &DeliveryId, attempt: &AttemptRecord, state: DeliveryState);
    /// Attempt `number` is about to be sent: if the process dies before the attempt is saved,
    /// the resumed run knows it may have reached the subscriber.
    fn started(&self, id: &DeliveryId, number: u32);
    /// A delivery the journal evicted.
    fn forget(&self, id: &DeliveryId);
    /// Every delivery dropped (a reset).
    fn clear(&self);
    /// Waits until everything handed over so far is durable.
    fn flush(&self) -> Flushed<'_>;
    /// Why the last save failed, while it does (a full disk); `None` while healthy.
    fn failure(&self) -> Option<String>;
    /// False while the last save failed.
    fn healthy(&self) -> bool {
        self.failure().is_none()
    }
}

/// A delivery as a sink gives it back at start-up: the record with its attempts, and what
/// resuming it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedDelivery {
    /// The journal record, attempts included.
    pub record: DeliveryRecord,
    /// A fixed signature sent as is (replays); otherwise the body is signed again with the
    /// subscriber's key in force, as new events are.
    pub signature: Option<String>,
    /// The highest scheduled attempt number started.
    pub started: u32,
}

impl SavedDelivery {
    /// Whether a scheduled attempt had started but was not saved when the process stopped: it
    /// may have reached the subscriber, and resuming sends it again.
    pub fn in_flight(&self) -> bool {
        self.record.state.terminal().is_none()
            && self.started as usize > self.record.scheduled_attempts()
    }
}
