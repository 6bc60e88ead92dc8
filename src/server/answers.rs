//! Every JSON success answer (and the `current` profile's 401) as a type: the handlers build
//! these, serde writes them, and the OpenAPI document describes them from the same types
//! (`schemars`, serialize contract), so what is served and what is documented cannot drift. The document closes every answer object
//! (`additionalProperties: false`), so a field added to or left out of an answer fails
//! `tests/it/server/answers.rs` and Schemathesis (`.ci/schemathesis`) alike.
//!
//! - `control.rs`: the control API (`/_mock`: clock, triggers, world, entities, subscriber
//!   settings, the document);
//! - `rest.rs`: the mock InboxKit REST API (`/v1/api`), in InboxKit's envelope, per profile,
//!   and the live service's 401;
//! - `journal.rs`: the delivery journal (`/_mock/deliveries`), as views of its records.

mod control;
mod journal;
mod rest;

pub use control::{
    AdvanceAnswer, ApiDocument, ClockView, EntityAnswer, Forced, Health, Liveness, Opened,
    Readiness, ReadyStatus, Redacted, ResetAnswer, SubscriberView, TeamView, Triggered,
    WorkspaceView, WorldSummary,
};
pub use journal::{
    AttemptView, BulkRedelivery, DeliverySummary, DeliveryView, JournalPage, Redelivered,
    RedeliveryResult,
};
pub(crate) use journal::{OUTCOMES, STATES};
pub use rest::{
    ByProfile, Connected, Credentials, CredentialsAnswer, DomainPage, DomainUids, Envelope,
    LiveUnauthorized, MailboxPage, MailboxStatusView, Mailboxes, NameserverCheck, Nameservers,
    ObservedWorkspace, PageTotals, Paged, Pagination, PaymentType, PricedRegistration,
    PublicMailbox, Removal, RemovalResult, Removed, RestTeam, RestWorkspace, UidStatus, WebhookSet,
    WorkspaceList,
};
