//! The wire contract of InboxKit's webhooks (see `../shared/CONTRACT.md`): vocabularies, entity
//! objects, the envelope in both payload shapes, headers, signatures and profiles.

mod vocab;

pub mod duration;
pub(crate) mod entities;
pub(crate) mod envelope;
pub mod headers;
pub(crate) mod overrides;
pub(crate) mod profile;
pub mod schema;
pub(crate) mod signature;

pub use entities::{ClientIdRequest, ConsentRequest, Domain, Entity, Mailbox};
pub use envelope::{Account, Change, Envelope, EventData, Failure, format_timestamp};
pub use overrides::{FieldOverride, OverrideError, apply_all};
pub use profile::{ContractSettings, PayloadShape, Profile};
pub use signature::{Secret, SignatureError, SignatureScheme, Signer};
pub use vocab::{
    ConnectionType, DnsPropagationStatus, DomainStatus, EventType, MailboxStatus, Platform,
    RenewalStatus, RequestStatus, TriggeredBy,
};

/// A value outside a closed list of the contract (e.g. an unknown event name on the CLI).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {vocabulary} `{value}`; known: {}", known.join(", "))]
pub struct UnknownValue {
    /// Which list was consulted.
    pub vocabulary: &'static str,
    /// The value given.
    pub value: String,
    /// The values the list holds.
    pub known: Vec<String>,
}
