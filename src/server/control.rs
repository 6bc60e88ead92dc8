//! The control API under `/_mock`: clock, forced transitions, direct triggers, subscriber
//! settings, reset, health and readiness. Journal routes are in `deliveries.rs`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;

use super::answers::{
    AdvanceAnswer, ClockView, EntityAnswer, Forced, Health, Liveness, Opened, Readiness,
    ReadyStatus, ResetAnswer, TeamView, Triggered, WorkspaceView, WorldSummary,
};
use super::body::JsonObject;
use super::problem::ApiError;
use super::state::{AppState, Phase};
use super::subscriber::SubscriberUpdate;
use crate::contract::duration;
use crate::contract::overrides::apply_all;
use crate::contract::{Entity, EventType, FieldOverride, format_timestamp};
use crate::delivery::OutgoingEvent;
use crate::model::world::{EntityKind, World};
use crate::simulation::sample::sample_envelope;
use crate::simulation::simulator::Simulation;
use crate::simulation::transition::allowed_next;

/// Registers the routes under `/_mock` (journal routes excluded).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready))
        .route("/openapi.json", web::get().to(super::openapi::serve))
        .route("/clock", web::get().to(clock))
        .route("/clock/pause", web::post().to(pause))
        .route("/clock/resume", web::post().to(resume))
        .route("/clock/advance", web::post().to(advance))
        .route("/clock/scale", web::post().to(scale))
        .route("/events", web::post().to(trigger))
        .route("/subscriber", web::get().to(get_subscriber))
        .route("/subscriber", web::put().to(put_subscriber))
        .route("/reset", web::post().to(reset))
        .route("/world", web::get().to(world))
        .route("/consent_requests", web::post().to(open_consent))
        .route("/client_id_requests", web::post().to(open_client_id))
        .route("/{kind}/{uid}", web::get().to(show_entity))
        .route("/{kind}/{uid}/transition", web::post().to(force_transition));
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: Liveness::Alive,
    })
}

async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let status = match state.phase() {
        Phase::Ready if state.storage().is_err() => ReadyStatus::StateUnsaved,
        Phase::Ready => ReadyStatus::Ready,
        Phase::Starting => ReadyStatus::Starting,
        Phase::Draining => ReadyStatus::ShuttingDown,
    };
    let answer = Readiness { status };
    if status == ReadyStatus::Ready {
        HttpResponse::Ok().json(answer)
    } else {
        HttpResponse::ServiceUnavailable().json(answer)
    }
}

fn clock_json(state: &AppState) -> ClockView {
    let clock = state.clock();
    ClockView {
        now: format_timestamp(clock.now()),
        paused: clock.is_paused(),
        scale: clock.scale(),
        next_due: state.read(|sim| sim.next_due()).map(format_timestamp),
    }
}

async fn clock(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(clock_json(&state))
}

async fn pause(state: web::Data<AppState>) -> HttpResponse {
    state.clock().pause();
    HttpResponse::Ok().json(clock_json(&state))
}

async fn resume(state: web::Data<AppState>) -> HttpResponse {
    state.clock().resume();
    state.wake_driver();
    HttpResponse::Ok().json(clock_json(&state))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    /// Simulated time to walk, e.g. `"10m"` (at most 100 years).
    by: String,
}

/// Walks the clock forward: every due lifecycle step and retry at its own instant, in order,
/// each instant's attempts answered before the next; answers with what it did.
async fn advance(
    state: web::Data<AppState>,
    body: JsonObject<Advance>,
) -> Result<HttpResponse, ApiError> {
    let by = duration::parse(&body.by).map_err(|e| ApiError::BadRequest(format!("`by`: {e}")))?;
    let advanced = state
        .clone()
        .into_inner()
        .advance_on_server_runtime(by)
        .await?;
    Ok(HttpResponse::Ok().json(AdvanceAnswer {
        clock: clock_json(&state),
        fired: advanced.steps_fired,
        advanced,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scale {
    scale: f64,
}

async fn scale(
    state: web::Data<AppState>,
    body: JsonObject<Scale>,
) -> Result<HttpResponse, ApiError> {
    if body.scale > super::openapi::MAX_SCALE {
        let limit = super::openapi::MAX_SCALE;
        return Err(ApiError::BadRequest(format!(
            "`scale` must be at most {limit}"
        )));
    }
    state
        .clock()
        .set_scale(body.scale)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    state.wake_driver();
    Ok(HttpResponse::Ok().json(clock_json(&state)))
}

/// Field overrides: `{"data.domain.status": "active"}` or `["data.domain.status=active"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Overrides {
    Map(serde_json::Map<String, Value>),
    List(Vec<String>),
}

impl Overrides {
    fn parse(self) -> Result<Vec<FieldOverride>, ApiError> {
        let bad = |e: crate::contract::OverrideError| ApiError::BadRequest(e.to_string());
        match self {
            Overrides::List(list) => list.iter().map(|s| s.parse().map_err(bad)).collect(),
            Overrides::Map(map) => map
                .into_iter()
                .map(|(path, value)| {
                    let mut parsed: FieldOverride = format!("{path}=null").parse().map_err(bad)?;
                    parsed.value = value;
                    Ok(parsed)
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trigger {
    event: String,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    set: Option<Overrides>,
    #[serde(default)]
    workspace_id: Option<String>,
}

/// Sends one event now: about an existing entity (its current state) or a typical sample,
/// with optional field overrides applied before signing.
async fn trigger(
    state: web::Data<AppState>,
    body: JsonObject<Trigger>,
) -> Result<HttpResponse, ApiError> {
    state.intake()?;
    let body = body.into_inner();
    let event: EventType = body
        .event
        .parse()
        .map_err(|e: crate::contract::UnknownValue| ApiError::BadRequest(e.to_string()))?;
    let overrides = body
        .set
        .map(Overrides::parse)
        .transpose()?
        .unwrap_or_default();
    let shape = state.shape();
    let now = state.clock().now();
    let (workspace, envelope) = state.read(|sim| {
        let world = sim.world();
        Ok::<_, ApiError>(match &body.uid {
            Some(uid) => {
                let entity = world.find(uid).ok_or_else(|| ApiError::UnknownEntity {
                    kind: kind_of_event(&event),
                    uid: uid.clone(),
                })?;
                if entity.kind.as_str() != kind_of_event(&event) {
                    // A well-formed request about an entity of another kind: a conflict with
                    // the world as it is, not a malformed body.
                    return Err(ApiError::Conflict(format!(
                        "`{uid}` is a {}, not the subject of {event}",
                        entity.kind.as_str()
                    )));
                }
                let fired = sim.announce_current(entity, shape, now);
                (fired.workspace, fired.envelope)
            }
            None => {
                let workspace = workspace_of(world, body.workspace_id.as_deref())?;
                let account = world.account(workspace);
                let envelope =
                    sample_envelope(&event, &mut state.samples(), account, shape, now)
                        .ok_or_else(|| ApiError::BadRequest(format!("no sample for `{event}`")))?;
                (workspace, envelope)
            }
        })
    })?;
    let mut value =
        serde_json::to_value(&envelope).map_err(|e| ApiError::Internal(e.to_string()))?;
    apply_all(&mut value, &overrides).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let bytes = serde_json::to_vec(&value).map_err(|e| ApiError::Internal(e.to_string()))?;
    let outgoing =
        OutgoingEvent::from_json(bytes.into()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let id = state
        .sender()
        .try_submit(state.subscriber(workspace), outgoing)?;
    // With saved state, "accepted" means saved: a crash after this answer cannot lose the event.
    state.saved().await?;
    Ok(HttpResponse::Accepted().json(Triggered {
        delivery_id: id.to_string(),
        event: event.to_string(),
        body: value,
    }))
}

fn kind_of_event(event: &EventType) -> &'static str {
    event.data_key().unwrap_or("entity")
}

fn workspace_of(world: &World, id: Option<&str>) -> Result<u16, ApiError> {
    match id {
        None => Ok(0),
        Some(id) => world
            .workspace_index(id)
            .ok_or_else(|| ApiError::UnknownWorkspace(id.to_owned())),
    }
}

async fn get_subscriber(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.settings().redacted(state.builtin_url()))
}

async fn put_subscriber(
    state: web::Data<AppState>,
    body: JsonObject<SubscriberUpdate>,
) -> Result<HttpResponse, ApiError> {
    let mut settings = state.settings();
    settings.apply(body.into_inner())?;
    let view = settings.redacted(state.builtin_url());
    state.set_settings(settings);
    Ok(HttpResponse::Ok().json(view))
}

async fn reset(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.reset().await?;
    if let Some(receiver) = state.builtin_store() {
        receiver.clear();
    }
    Ok(HttpResponse::Ok().json(ResetAnswer {
        reset: true,
        clock: clock_json(&state),
    }))
}

async fn world(state: web::Data<AppState>) -> HttpResponse {
    state.read(world_json)
}

/// The world's summary: seed, team, workspaces, entity counts, steps scheduled and fired.
fn world_json(sim: &Simulation) -> HttpResponse {
    let world = sim.world();
    HttpResponse::Ok().json(WorldSummary {
        seed: world.seed(),
        team: TeamView {
            id: world.team().id.clone(),
            name: world.team().name.clone(),
        },
        workspaces: world
            .workspaces()
            .iter()
            .map(|w| WorkspaceView {
                id: w.id.clone(),
                name: w.name.clone(),
                webhook_url: w.webhook_url.as_ref().map(ToString::to_string),
            })
            .collect(),
        entities: EntityKind::ALL
            .iter()
            .map(|k| (k.as_str().to_owned(), world.count(*k)))
            .collect(),
        scheduled: sim.queue_depth(),
        fired: sim.fired_total(),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenRequest {
    #[serde(default)]
    workspace_id: Option<String>,
    #[serde(default)]
    domain_name: Option<String>,
}

async fn open_consent(
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body = super::problem::optional_json::<OpenRequest>(&body)?;
    open_request(&state, EntityKind::ConsentRequest, body).await
}

async fn open_client_id(
    state: web::Data<AppState>,
    body: JsonObject<OpenRequest>,
) -> Result<HttpResponse, ApiError> {
    open_request(&state, EntityKind::ClientIdRequest, body.into_inner()).await
}

async fn open_request(
    state: &AppState,
    kind: EntityKind,
    body: OpenRequest,
) -> Result<HttpResponse, ApiError> {
    state.sender().check_room()?;
    let domain = match kind {
        EntityKind::ClientIdRequest => Some(
            body.domain_name
                .filter(|d| !d.trim().is_empty())
                .ok_or_else(|| {
                    ApiError::BadRequest("a client-ID request needs `domain_name`".into())
                })?,
        ),
        _ => None,
    };
    let entity = state
        .change(|change| {
            let workspace = workspace_of(change.world(), body.workspace_id.as_deref())?;
            let entity = change.open_request(kind, workspace, domain.as_deref());
            Ok::<_, ApiError>(change.world().entity(entity))
        })
        .await?
        .value;
    // The object itself, not wrapped in its data key.
    let object = match entity {
        Entity::ConsentRequest(c) => Opened::Consent(c),
        Entity::ClientIdRequest(c) => Opened::ClientId(c),
        other => {
            return Err(ApiError::Internal(format!(
                "a request opened as another kind: {}",
                other.event_type()
            )));
        }
    };
    Ok(HttpResponse::Created().json(object))
}

fn kind(plural: &str) -> Result<EntityKind, ApiError> {
    EntityKind::from_plural(plural).ok_or_else(|| {
        ApiError::BadRequest(format!("unknown entity kind `{plural}`; known: domains, mailboxes, consent_requests, client_id_requests"))
    })
}

async fn show_entity(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (plural, uid) = path.into_inner();
    let kind = kind(&plural)?;
    state.read(|sim| {
        let entity = sim.find(kind, &uid)?;
        let world = sim.world();
        let object = world.entity(entity);
        let allowed_transitions = allowed_next(&object);
        Ok(HttpResponse::Ok().json(EntityAnswer {
            entity: object,
            workspace_id: world.workspaces()[usize::from(world.workspace_of(entity))]
                .id
                .clone(),
            allowed_transitions,
        }))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Force {
    to: String,
}

/// Moves an entity to `to` now (409 naming the allowed statuses if its lifecycle forbids it).
async fn force_transition(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: JsonObject<Force>,
) -> Result<HttpResponse, ApiError> {
    state.sender().check_room()?;
    let (plural, uid) = path.into_inner();
    let kind = kind(&plural)?;
    let to = body.to.trim();
    let changed = state
        .change(|change| {
            let entity = change.sim().find(kind, &uid)?;
            change.sim().check_transition(entity, to)?;
            let own = change.transition(entity, to)?;
            // The entity as its own event announced it (in the body layout in force).
            let object = change
                .announced()
                .get(own)
                .map(|f| f.envelope.data.entity.clone());
            Ok::<_, ApiError>((object, own))
        })
        .await?;
    let (object, own) = changed.value;
    Ok(HttpResponse::Ok().json(Forced {
        entity: object,
        delivery_id: changed.deliveries.get(own).map(ToString::to_string),
    }))
}
