//! Delivery: the retry policy, one HTTP attempt, the journal, and the sender that ties them.

pub(crate) mod connections;
pub mod engine;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod journal;
pub(crate) mod outcome;
pub mod policy;
pub(crate) mod timeline;
pub mod transport;

#[doc(hidden)]
pub use connections::{ParsedReply, fuzz_parse_answer};
pub use engine::{
    AttemptSummary, DeliveryOrder, DeliveryOutcome, OutgoingEvent, Sender, SenderOptions,
    Subscriber,
};
pub use journal::{
    AttemptRecord, DeliveryId, DeliveryRecord, DeliveryState, Journal, JournalSink, Overloaded,
    SavedDelivery, Timestamp, Trigger,
};
pub use outcome::{AttemptOutcome, TerminalState};
pub use policy::{Decision, RetryPolicy};
