//! The control API's answers (clock, triggers, world, entities, subscriber settings, the
//! document itself).

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;
use serde_json::Value;

use crate::contract::{
    ClientIdRequest, ConsentRequest, Entity, PayloadShape, Profile, SignatureScheme,
};
use crate::server::state::Advanced;

/// `GET /_mock/health`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    /// Always `alive` while the process serves.
    pub status: Liveness,
}

/// The only liveness answer.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// The process serves.
    Alive,
}

/// `GET /_mock/ready`: 200 when `ready`, 503 otherwise.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Readiness {
    /// Where the server is.
    pub status: ReadyStatus,
}

/// Why the server is or is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    /// Accepting work.
    Ready,
    /// Starting up.
    Starting,
    /// Shutting down: no new work.
    ShuttingDown,
    /// Saved state cannot be written: nothing is accepted.
    StateUnsaved,
}

/// The simulated clock (`GET /_mock/clock`, and the answer of every clock route).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ClockView {
    /// Simulated now (RFC 3339, milliseconds, `Z`).
    pub now: String,
    /// Whether the clock moves only when advanced.
    pub paused: bool,
    /// Simulated seconds per real second.
    pub scale: f64,
    /// When the next lifecycle step is due, if one is scheduled.
    pub next_due: Option<String>,
}

/// `POST /_mock/clock/advance`: the clock after the walk, and what the walk did.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AdvanceAnswer {
    /// The clock after the advance.
    #[serde(flatten)]
    pub clock: ClockView,
    /// Lifecycle steps fired (the same as `advanced.steps_fired`).
    pub fired: usize,
    /// What the walk did.
    pub advanced: Advanced,
}

/// `POST /_mock/events`: the event accepted for delivery (202).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Triggered {
    /// The delivery that sends it.
    pub delivery_id: String,
    /// Its event type.
    pub event: String,
    /// The body as signed and sent, overrides applied.
    pub body: Value,
}

/// `POST /_mock/reset`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ResetAnswer {
    /// Always true: the reset happened and was saved.
    pub reset: bool,
    /// The clock, which a reset keeps.
    pub clock: ClockView,
}

/// `GET /_mock/world`: the simulated team at a glance.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorldSummary {
    /// Seed of the world.
    pub seed: u64,
    /// The team.
    pub team: TeamView,
    /// Its workspaces, in order.
    pub workspaces: Vec<WorkspaceView>,
    /// Entities by kind (`domain`, `mailbox`, `consent_request`, `client_id_request`).
    pub entities: BTreeMap<String, usize>,
    /// Lifecycle steps scheduled.
    pub scheduled: usize,
    /// Lifecycle steps fired so far.
    pub fired: u64,
}

/// A team's id and name.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TeamView {
    /// Team id.
    pub id: String,
    /// Team name.
    pub name: String,
}

/// A workspace as the world summary shows it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkspaceView {
    /// Workspace id.
    pub id: String,
    /// Workspace name.
    pub name: String,
    /// Its own subscriber URL, when one was set through the REST API.
    pub webhook_url: Option<String>,
}

/// `GET /_mock/{kind}/{uid}`: an entity and where its lifecycle may take it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EntityAnswer {
    /// The entity as the world holds it.
    pub entity: Entity,
    /// Its workspace.
    pub workspace_id: String,
    /// The statuses it may move to next.
    pub allowed_transitions: Vec<String>,
}

/// `POST /_mock/{kind}/{uid}/transition`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Forced {
    /// The entity as its own event announced it.
    pub entity: Option<Entity>,
    /// The delivery of that event.
    pub delivery_id: Option<String>,
}

/// `POST /_mock/consent_requests` and `/_mock/client_id_requests` (201): the request itself.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Opened {
    /// A consent request.
    Consent(ConsentRequest),
    /// A client-ID request.
    ClientId(ClientIdRequest),
}

/// `GET` and `PUT /_mock/subscriber`: the subscriber settings, every secret redacted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SubscriberView {
    /// The default subscriber URL set here; `null` when none is (workspaces without their own
    /// URL then deliver to the built-in receiver).
    pub url: Option<String>,
    /// Where a workspace without its own URL delivers: `url`, else the built-in receiver's.
    pub effective_url: Option<String>,
    /// Whether such a workspace delivers to the built-in receiver.
    pub uses_builtin_receiver: bool,
    /// The profile the settings started from.
    pub profile: Profile,
    /// Body layout.
    pub payload_shape: PayloadShape,
    /// Signature scheme.
    pub signature_scheme: SignatureScheme,
    /// The webhook secret, never shown.
    pub secret: Redacted,
    /// The key hashed by `api-key-sha256`, never shown.
    pub api_key: Redacted,
    /// Whether `Authorization: Bearer` is sent.
    pub send_authorization: bool,
    /// The bearer token, never shown; `null` when it is not sent.
    pub auth_token: Option<Redacted>,
    /// Subscriber deadline (simulated time), e.g. `10s`.
    pub timeout: String,
    /// Delays before each retry (simulated time), e.g. `["10s", "30s", "1m"]`.
    pub retry_delays: Vec<String>,
    /// Whether the mock-only `X-InboxKit-Mock-*` headers are added.
    pub mock_headers: bool,
}

/// A secret as answers show it: always `<redacted>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub enum Redacted {
    /// The only value.
    #[serde(rename = "<redacted>")]
    Redacted,
}

/// `GET /_mock/openapi.json`: an OpenAPI 3.1 document. Its own schema names only what every
/// such document has (`openapi`, `info`, `paths`) and leaves the rest open: the document is
/// built as JSON by `server/openapi.rs`, whose tests check it in full.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct ApiDocument(pub Value);

impl JsonSchema for ApiDocument {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "ApiDocument".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An OpenAPI 3.1 document.",
            "type": "object",
            "required": ["openapi", "info", "paths"],
            "properties": {
                "openapi": {"type": "string", "pattern": "^3\\.1\\.[0-9]+$"},
                "info": {
                    "type": "object",
                    "required": ["title", "version"],
                    "properties": {"title": {"type": "string"}, "version": {"type": "string"}},
                    "additionalProperties": true,
                },
                "paths": {"type": "object"},
            },
            "additionalProperties": true,
        })
    }
}
