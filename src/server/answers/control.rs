//! The control API's answers (clock, triggers, world, entities).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::contract::{ClientIdRequest, ConsentRequest, Entity};
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
