//! The mock InboxKit REST API's answers (`/v1/api`): InboxKit's envelope around each route's
//! fields. Where the answer's shape follows the payload profile, the handler answers a
//! [`ByProfile`] of the two shapes (see `server/rest.rs` for where each shape comes from).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::contract::{DnsPropagationStatus, Domain, Mailbox, MailboxStatus};

/// InboxKit's success envelope: `{"error": false, "message": ..., <the route's fields>}`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Rest{T}")]
pub struct Envelope<T> {
    /// Always `false` on success.
    #[schemars(schema_with = "always_false")]
    error: bool,
    /// What happened, in words.
    message: &'static str,
    /// The route's own fields, beside `error` and `message`.
    #[serde(flatten)]
    pub fields: T,
}

impl<T> Envelope<T> {
    /// A success with `message` and `fields`.
    pub fn new(message: &'static str, fields: T) -> Self {
        Envelope {
            error: false,
            message,
            fields,
        }
    }
}

fn always_false(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"const": false})
}

/// The live service's 401 as integrators captured it, `{"code": 401, "message": ...}`: what a
/// missing or wrong API key gets under the `current` profile (under `seed` it gets InboxKit's
/// error envelope, `{"error": true, "message": ...}`, like every other REST error).
#[derive(Debug, Serialize, JsonSchema)]
pub struct LiveUnauthorized {
    /// Always 401.
    #[schemars(schema_with = "always_401")]
    code: u16,
    /// What was wrong, in words.
    pub message: String,
}

impl LiveUnauthorized {
    /// The 401 with `message`.
    pub fn new(message: String) -> Self {
        LiveUnauthorized { code: 401, message }
    }
}

fn always_401(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"const": 401})
}

/// An answer whose shape follows the payload profile: `seed` keeps the mock's earlier shapes,
/// `current` the shapes integrators captured from the live service.
///
/// The served document describes both shapes as `oneOf` rather than only the running
/// profile's: the profile changes at run time (`PUT /_mock/subscriber`), so a document
/// rendered for one profile would be wrong after such a change, and a client generated from
/// it would refuse the other shape. Both branches are closed objects that differ in their
/// fields, so an answer matches exactly one of them.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ByProfile<S, C> {
    /// The `seed` shape.
    Seed(S),
    /// The `current` shape.
    Current(C),
}

impl<S: JsonSchema, C: JsonSchema> JsonSchema for ByProfile<S, C> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("{}Or{}", S::schema_name(), C::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let seed = generator.subschema_for::<S>();
        let current = generator.subschema_for::<C>();
        json_schema!({
            "description": "The shape follows the payload profile: `seed` (first) or `current` (second).",
            "oneOf": [seed, current],
        })
    }
}

/// A workspace as the REST API shows it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RestWorkspace {
    /// Workspace id.
    pub uid: String,
    /// Workspace name.
    pub name: String,
    /// Its own subscriber URL, when one was set.
    pub webhook_url: Option<String>,
}

/// A team as `workspaces/list` shows it under `current`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RestTeam {
    /// Team id.
    pub uid: String,
    /// Team name.
    pub name: String,
}

/// A workspace as `workspaces/list` answers it under `current`: with its team and its domain
/// counts (live answers carry both; the count names are chosen).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ObservedWorkspace {
    /// The workspace.
    #[serde(flatten)]
    pub workspace: RestWorkspace,
    /// Its team.
    pub team: RestTeam,
    /// Its domains, `deleted` ones left out.
    pub domains_count: usize,
    /// Its `active` domains.
    pub active_domains_count: usize,
}

/// `POST /v1/api/workspaces/webhook`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WebhookSet {
    /// The workspace with its new URL.
    pub workspace: RestWorkspace,
}

/// `GET /v1/api/workspaces/list`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "WorkspaceList{W}")]
pub struct WorkspaceList<W> {
    /// The team's workspaces, in order.
    pub workspaces: Vec<W>,
}

/// The uids of the domains a call registered or removed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DomainUids {
    /// In the order asked.
    pub domain_uids: Vec<String>,
}

/// How a registration is paid (`current`; the only value the mock answers).
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentType {
    /// From the team's wallet.
    Wallet,
}

/// `POST /v1/api/domains/register` under `current`: the uids and the totals.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PricedRegistration {
    /// In the order asked.
    pub domain_uids: Vec<String>,
    /// Domains registered.
    pub domains_count: usize,
    /// Domain-years times the mock's price (USD, chosen).
    pub total_cost: f64,
    /// How it is paid.
    pub payment_type: PaymentType,
}

/// `POST /v1/api/domains/connect`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Connected {
    /// In the order asked.
    pub domain_uids: Vec<String>,
    /// The domains, in `cart`.
    pub domains: Vec<Domain>,
}

/// `POST /v1/api/domains/nameservers`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Nameservers {
    /// InboxKit's nameservers to point the domain at.
    pub nameservers: Vec<&'static str>,
    /// The domain after the call.
    pub domain: Domain,
}

/// `POST /v1/api/domains/check-nameservers`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NameserverCheck {
    /// Whether DNS has propagated (`completed` or `propagated`).
    pub propagated: bool,
    /// The domain's DNS propagation status.
    pub dns_propagation_status: DnsPropagationStatus,
    /// The domain after the call.
    pub domain: Domain,
}

/// The page numbers of a list call under `seed`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Pagination {
    /// 1-based page.
    pub page: usize,
    /// Page size.
    pub limit: usize,
    /// Matching entities.
    pub total: usize,
    /// Pages of `limit`.
    pub total_pages: usize,
}

/// The paging of a list call under `seed`: one `pagination` block.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Paged {
    /// The page numbers.
    pub pagination: Pagination,
}

/// The paging of a list call under `current`: top-level numbers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PageTotals {
    /// Matching entities.
    pub total: usize,
    /// Pages of `limit`.
    pub pages: usize,
    /// 1-based page.
    pub current_page: usize,
    /// Page size.
    pub limit: usize,
}

impl Pagination {
    /// Under `seed`.
    pub fn seed(self) -> Paged {
        Paged { pagination: self }
    }

    /// Under `current`.
    pub fn current(self) -> PageTotals {
        PageTotals {
            total: self.total,
            pages: self.total_pages,
            current_page: self.page,
            limit: self.limit,
        }
    }
}

/// `POST /v1/api/domains/list`: one page and its paging.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "DomainPage{P}")]
pub struct DomainPage<P> {
    /// The page, `deleted` domains left out.
    pub domains: Vec<Domain>,
    /// Where the page is.
    #[serde(flatten)]
    pub paging: P,
}

/// `POST /v1/api/mailboxes/list`: one page and its paging.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "MailboxPage{P}")]
pub struct MailboxPage<P> {
    /// The page, `deleted` mailboxes left out.
    pub mailboxes: Vec<PublicMailbox>,
    /// Where the page is.
    #[serde(flatten)]
    pub paging: P,
}

/// `POST /v1/api/domains/remove` under `current`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RemovalResult {
    /// What was removed.
    pub result: Removal,
}

/// The domains a removal scheduled for deletion.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Removal {
    /// In the order asked.
    pub deleted: Vec<Removed>,
}

/// One removed domain.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Removed {
    /// Domain name.
    pub name: String,
    /// Domain uid.
    pub uid: String,
    /// Its status before.
    pub previous_status: String,
    /// Its status now (`deleted`).
    pub new_status: String,
}

/// Mailboxes of a mailbox call (`buy`, `status`, `cancel`, `uncancel`).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Mailboxes{M}")]
pub struct Mailboxes<M> {
    /// In the order asked.
    pub mailboxes: Vec<M>,
}

/// A mailbox's status as `mailboxes/status` answers it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MailboxStatusView {
    /// Mailbox uid.
    pub uid: String,
    /// Its address.
    pub email: String,
    /// Current status.
    pub status: MailboxStatus,
    /// Status before the last change.
    pub previous_status: Option<MailboxStatus>,
    /// Progress of a pending cancellation.
    pub mailbox_cancellation_status: Option<String>,
}

impl From<Mailbox> for MailboxStatusView {
    fn from(m: Mailbox) -> Self {
        MailboxStatusView {
            uid: m.uid,
            email: m.email,
            status: m.status,
            previous_status: m.previous_status,
            mailbox_cancellation_status: m.mailbox_cancellation_status,
        }
    }
}

/// An entity's uid and status, as the cancel calls answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UidStatus {
    /// Entity uid.
    pub uid: String,
    /// Its status after the call.
    pub status: String,
}

/// A mailbox's credentials (`GET /v1/api/mailboxes/show-credentials`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Credentials {
    /// Mailbox uid.
    pub uid: String,
    /// Its address.
    pub email: String,
    /// Mailbox password.
    pub password: Option<String>,
    /// App password.
    pub app_password: Option<String>,
    /// TOTP secret.
    pub secret: Option<String>,
}

/// The credentials under `seed`, in a `credentials` block (flat under `current`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct CredentialsAnswer {
    /// The credentials.
    pub credentials: Credentials,
}

/// The fields of a mailbox the REST API never shows outside `show-credentials`.
const CREDENTIALS: [&str; 3] = ["password", "app_password", "secret"];

/// A mailbox as the REST API shows it: every field but its credentials.
#[derive(Debug)]
pub struct PublicMailbox(pub Mailbox);

impl Serialize for PublicMailbox {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut value = serde_json::to_value(&self.0).map_err(serde::ser::Error::custom)?;
        if let Value::Object(map) = &mut value {
            for field in CREDENTIALS {
                map.shift_remove(field);
            }
        }
        value.serialize(serializer)
    }
}

impl JsonSchema for PublicMailbox {
    fn schema_name() -> Cow<'static, str> {
        "PublicMailbox".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = Mailbox::json_schema(generator);
        if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            for field in CREDENTIALS {
                properties.shift_remove(field);
            }
        }
        if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
            required.retain(|name| !CREDENTIALS.iter().any(|c| name == c));
        }
        schema.insert(
            "description".into(),
            "A mailbox as the REST API shows it: without its credentials.".into(),
        );
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_puts_error_and_message_first() {
        let answer = Envelope::new(
            "Done",
            DomainUids {
                domain_uids: vec!["domain-1".into()],
            },
        );
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            r#"{"error":false,"message":"Done","domain_uids":["domain-1"]}"#
        );
    }

    #[test]
    fn a_public_mailbox_hides_its_credentials_and_keeps_its_order() {
        let mut mailbox = crate::model::fake::Faker::seeded(7).mailbox(
            "a.io",
            crate::contract::Platform::Google,
            chrono::Utc::now(),
        );
        mailbox.password = Some("p".into());
        mailbox.app_password = Some("a".into());
        mailbox.secret = Some("s".into());
        let full = serde_json::to_value(&mailbox).unwrap();
        let shown = serde_json::to_value(PublicMailbox(mailbox)).unwrap();
        let expected: Vec<&String> = full
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !CREDENTIALS.contains(&k.as_str()))
            .collect();
        let keys: Vec<&String> = shown.as_object().unwrap().keys().collect();
        assert_eq!(keys, expected);
        assert_eq!(keys.len() + 3, full.as_object().unwrap().len());
    }
}
