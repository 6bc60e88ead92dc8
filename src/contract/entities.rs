//! The entity objects carried under `data.<entity>`: identical in both payload shapes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::vocab::{
    ConnectionType, DnsPropagationStatus, DomainStatus, MailboxStatus, Platform, RenewalStatus,
    RequestStatus,
};

/// `data.domain`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Domain {
    /// Idempotency key documented by InboxKit, e.g. `domain-xyz789ghi012`.
    pub uid: String,
    /// Full domain name, e.g. `yourdomain.com`.
    pub name: String,
    /// Lowercase top-level domain; may be empty.
    pub tld: String,
    /// Current status.
    pub status: DomainStatus,
    /// Status before this change, or null.
    pub previous_status: Option<DomainStatus>,
    /// DNS propagation progress.
    pub dns_propagation_status: DnsPropagationStatus,
    /// Nameservers the domain points at.
    pub nameservers: Vec<String>,
    /// How the domain came to InboxKit.
    pub connection_type: ConnectionType,
    /// Mailboxes created on this domain.
    pub assigned_mailboxes: u32,
    /// Mailboxes that can still be created.
    pub available_mailboxes: u32,
    /// Customer tags.
    pub tags: Vec<String>,
    /// Next renewal, ISO 8601, or null.
    pub renewal_date: Option<String>,
    /// Renewal progress.
    pub renewal_status: RenewalStatus,
    /// Years bought; listed by the contract, absent from the seed example.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_years: Option<u32>,
}

/// `data.mailbox`. Credentials travel in plain text, as InboxKit sends them.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Mailbox {
    /// Idempotency key.
    pub uid: String,
    /// `username@domain_name`.
    pub email: String,
    /// Local part.
    pub username: String,
    /// Display first name.
    pub first_name: String,
    /// Display last name.
    pub last_name: String,
    /// Picture URL; may be empty.
    pub profile_picture: String,
    /// Domain the mailbox lives on.
    pub domain_name: String,
    /// Mail platform.
    pub platform: Platform,
    /// Current status.
    pub status: MailboxStatus,
    /// Status before this change, or null.
    pub previous_status: Option<MailboxStatus>,
    /// Whether the mailbox is a workspace admin.
    pub is_admin: bool,
    /// Forwarding address, or null.
    pub forwarding_email: Option<String>,
    /// Customer tags.
    pub tags: Vec<String>,
    /// Progress of a pending profile update, or null.
    pub mailbox_update_status: Option<String>,
    /// Progress of a pending cancellation, or null.
    pub mailbox_cancellation_status: Option<String>,
    /// DNS propagation progress of the mailbox's domain.
    pub dns_propagation_status: DnsPropagationStatus,
    /// Next renewal, ISO 8601, or null.
    pub renewal_date: Option<String>,
    /// Renewal progress.
    pub renewal_status: RenewalStatus,
    /// Billing cycle, `monthly`.
    pub renewal_cycle: String,
    /// Mailbox password (plain text, as documented); null until the mailbox is provisioned.
    #[serde(default)]
    pub password: Option<String>,
    /// App password (plain text); null until the mailbox is provisioned.
    #[serde(default)]
    pub app_password: Option<String>,
    /// TOTP secret (plain text); null until the mailbox is provisioned.
    #[serde(default)]
    pub secret: Option<String>,
}

impl std::fmt::Debug for Mailbox {
    /// Credentials are redacted so they never reach a log line through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("uid", &self.uid)
            .field("email", &self.email)
            .field("platform", &self.platform)
            .field("status", &self.status)
            .field("previous_status", &self.previous_status)
            .field("credentials", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// `data.consent_request`: an OAuth consent request (Google or Microsoft).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConsentRequest {
    /// Idempotency key.
    pub uid: String,
    /// Current status.
    pub status: RequestStatus,
    /// Human-readable status.
    pub status_text: String,
    /// Why the request is in this state, or null.
    pub status_reason: Option<String>,
    /// Where the customer grants consent.
    pub consent_url: String,
}

/// `data.client_id_request`: a Google client-ID request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClientIdRequest {
    /// Idempotency key.
    pub uid: String,
    /// Current status.
    pub status: RequestStatus,
    /// Human-readable status.
    pub status_text: String,
    /// Why the request is in this state, or null.
    pub status_reason: Option<String>,
    /// Domain the client id is for.
    pub domain_name: String,
}

/// The entity an event is about, serialized as `"<data key>": {...}`.
// Entities are built per event and serialized at once; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    /// `data.domain`.
    Domain(Domain),
    /// `data.mailbox`.
    Mailbox(Mailbox),
    /// `data.consent_request`.
    ConsentRequest(ConsentRequest),
    /// `data.client_id_request`.
    ClientIdRequest(ClientIdRequest),
}

impl Entity {
    /// The documented idempotency key.
    pub fn uid(&self) -> &str {
        match self {
            Entity::Domain(d) => &d.uid,
            Entity::Mailbox(m) => &m.uid,
            Entity::ConsentRequest(c) => &c.uid,
            Entity::ClientIdRequest(c) => &c.uid,
        }
    }

    /// The current status, as sent on the wire.
    pub fn status(&self) -> &str {
        match self {
            Entity::Domain(d) => d.status.as_str(),
            Entity::Mailbox(m) => m.status.as_str(),
            Entity::ConsentRequest(c) => c.status.as_str(),
            Entity::ClientIdRequest(c) => c.status.as_str(),
        }
    }

    /// The previous status, if any.
    pub fn previous_status(&self) -> Option<&str> {
        match self {
            Entity::Domain(d) => d.previous_status.as_ref().map(|s| s.as_str()),
            Entity::Mailbox(m) => m.previous_status.as_ref().map(|s| s.as_str()),
            Entity::ConsentRequest(_) | Entity::ClientIdRequest(_) => None,
        }
    }

    /// The event this entity's status change is announced with.
    pub fn event_type(&self) -> super::EventType {
        use super::EventType;
        match self {
            Entity::Domain(_) => EventType::DomainStatusChanged,
            Entity::Mailbox(_) => EventType::MailboxStatusChanged,
            Entity::ConsentRequest(_) => EventType::ConsentRequestStatusChanged,
            Entity::ClientIdRequest(_) => EventType::ClientIdRequestStatusChanged,
        }
    }
}
