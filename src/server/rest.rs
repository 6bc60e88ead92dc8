//! The mock InboxKit REST API (`/v1/api`): the calls an app makes to start lifecycles.
//!
//! Same paths, bodies and `Authorization: Bearer <API key>` as the real service; workspace calls
//! take `X-Workspace-Id` (default: the first workspace). Replies use InboxKit's envelope,
//! `{"error": false, "message": "...", ...}`; errors `{"error": true, "message": "..."}`.
//! Batch calls (register, buy, cancel, remove) are all-or-nothing: nothing changes on an error.
//!
//! Answer shapes follow the profile: under the `current` payload shape the answers take the
//! shapes integrators captured from the live service (top-level paging, register totals, flat
//! credentials, removal results, `{"code":401,...}`, workspaces with their team and domain
//! counts); under `seed` they keep the mock's earlier shapes (the seed page shows none).
//! Every success answer, and the `current` 401, is a type of `answers/rest.rs` (both shapes in a
//! `ByProfile`), which the OpenAPI document describes.

use std::collections::{HashMap, HashSet};
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::answers::{
    ByProfile, Connected, Credentials, CredentialsAnswer, DomainPage, DomainUids, Envelope,
    LiveUnauthorized, MailboxPage, MailboxStatusView, Mailboxes, NameserverCheck, Nameservers,
    ObservedWorkspace, Pagination, PaymentType, PricedRegistration, PublicMailbox, Removal,
    RemovalResult, Removed, RestTeam, RestWorkspace, UidStatus, WebhookSet, WorkspaceList,
};
use super::body::JsonObject;
use super::operations::{DEFAULT_PAGE_SIZE, MAX_BATCH, MAX_PAGE_SIZE};
use super::problem::{ApiError, RestError};
use super::state::{AppState, Change};
use super::subscriber::parse_url;
use crate::contract::{Domain, Entity, Mailbox, PayloadShape, Platform, Secret};
use crate::model::fake::INBOXKIT_NAMESERVERS;
use crate::model::world::{EntityKind, EntityRef, MailboxOrder, World, WorldError};
use crate::simulation::simulator::ActionError;
use crate::simulation::transition::for_shape;

/// What one domain-year costs in the mock's register answer (chosen; USD).
pub const DOMAIN_YEAR_PRICE: f64 = 12.0;

/// Registers the routes under `/v1/api`.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/workspaces/webhook", web::post().to(set_webhook))
        .route("/workspaces/list", web::get().to(list_workspaces))
        .route("/domains/register", web::post().to(register_domains))
        .route("/domains/list", web::post().to(list_domains))
        .route("/domains/remove", web::post().to(remove_domains))
        .route("/domains/connect", web::post().to(connect_domains))
        .route("/domains/nameservers", web::post().to(domain_nameservers))
        .route(
            "/domains/check-nameservers",
            web::post().to(check_nameservers),
        )
        .route("/mailboxes/uncancel", web::post().to(uncancel_mailboxes))
        .route("/mailboxes/buy", web::post().to(buy_mailboxes))
        .route("/mailboxes/list", web::post().to(list_mailboxes))
        .route("/mailboxes/status", web::post().to(mailbox_status))
        .route("/mailboxes/cancel", web::post().to(cancel_mailboxes))
        .route(
            "/mailboxes/show-credentials",
            web::get().to(show_credentials),
        );
}

/// An authenticated caller and the workspace it addresses (`X-Workspace-Id`).
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// Workspace index.
    pub workspace: u16,
}

impl FromRequest for Caller {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, actix_web::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(request).map_err(|error| {
            let current = request
                .app_data::<web::Data<AppState>>()
                .is_some_and(|state| state.shape() == PayloadShape::Current);
            if current && matches!(error.0, ApiError::Unauthorized) {
                // The live service's 401, as integrators captured it.
                let answer =
                    HttpResponse::Unauthorized().json(LiveUnauthorized::new(error.0.to_string()));
                actix_web::error::InternalError::from_response(error, answer).into()
            } else {
                error.into()
            }
        }))
    }
}

fn caller(request: &HttpRequest) -> Result<Caller, RestError> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("no state".into()))?;
    let presented = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if !presented.is_some_and(|key| same(key, state.api_key())) {
        return Err(ApiError::Unauthorized.into());
    }
    let workspace = match request
        .headers()
        .get("x-workspace-id")
        .and_then(|v| v.to_str().ok())
    {
        None => 0,
        Some(id) => state
            .with_world(|w| w.workspace_index(id.trim()))
            .ok_or_else(|| ApiError::UnknownWorkspace(id.to_owned()))?,
    };
    Ok(Caller { workspace })
}

fn same(presented: &str, key: &Secret) -> bool {
    presented.as_bytes().ct_eq(key.expose().as_bytes()).into()
}

/// A 200 with `answer` as its JSON body.
fn ok(answer: impl Serialize) -> HttpResponse {
    HttpResponse::Ok().json(answer)
}

fn check_batch(len: usize, what: &str) -> Result<(), RestError> {
    match len {
        0 => Err(ApiError::BadRequest(format!("`{what}` must not be empty")).into()),
        n if n > MAX_BATCH => Err(ApiError::BadRequest(format!(
            "at most {MAX_BATCH} {what} per call, got {n}"
        ))
        .into()),
        _ => Ok(()),
    }
}

fn workspace_view(world: &World, index: usize) -> RestWorkspace {
    let ws = &world.workspaces()[index];
    RestWorkspace {
        uid: ws.id.clone(),
        name: ws.name.clone(),
        webhook_url: ws.webhook_url.as_ref().map(|u| u.as_str().to_owned()),
    }
}

/// A workspace as `workspaces/list` answers it under the `current` shape: with its team and
/// its domain counts (live answers carry both; the count names are chosen).
fn workspace_observed(world: &World, index: usize) -> ObservedWorkspace {
    let workspace = u16::try_from(index).unwrap_or(u16::MAX);
    let (mut domains, mut active) = (0usize, 0usize);
    for domain in world.list(EntityKind::Domain, workspace) {
        match world.status(domain) {
            "deleted" => {}
            "active" => {
                domains += 1;
                active += 1;
            }
            _ => domains += 1,
        }
    }
    ObservedWorkspace {
        workspace: workspace_view(world, index),
        team: RestTeam {
            uid: world.team().id.clone(),
            name: world.team().name.clone(),
        },
        domains_count: domains,
        active_domains_count: active,
    }
}

#[derive(Debug, Deserialize)]
struct SetWebhook {
    uid: String,
    webhook_url: String,
    /// Mock extension: the workspace's own webhook secret.
    #[serde(default)]
    secret: Option<String>,
}

async fn set_webhook(
    _: Caller,
    state: web::Data<AppState>,
    body: JsonObject<SetWebhook>,
) -> Result<HttpResponse, RestError> {
    let body = body.into_inner();
    let url = parse_url(&body.webhook_url)?;
    let secret = body.secret.filter(|s| !s.is_empty()).map(Secret::new);
    let unknown = || RestError(ApiError::UnknownWorkspace(body.uid.clone()));
    let view = state
        .change(|change| {
            let index = change
                .world()
                .workspace_index(&body.uid)
                .ok_or_else(unknown)?;
            if !change.set_webhook(index, url, secret) {
                return Err(unknown());
            }
            Ok(workspace_view(change.world(), usize::from(index)))
        })
        .await?
        .value;
    Ok(ok(Envelope::new(
        "Webhook URL updated successfully",
        WebhookSet { workspace: view },
    )))
}

async fn list_workspaces(_: Caller, state: web::Data<AppState>) -> HttpResponse {
    let message = "Workspaces retrieved successfully";
    let shape = state.shape();
    let answer = state.with_world(|w| {
        let all = 0..w.workspaces().len();
        match shape {
            PayloadShape::Seed => ByProfile::Seed(Envelope::new(
                message,
                WorkspaceList {
                    workspaces: all.map(|i| workspace_view(w, i)).collect(),
                },
            )),
            PayloadShape::Current => ByProfile::Current(Envelope::new(
                message,
                WorkspaceList {
                    workspaces: all.map(|i| workspace_observed(w, i)).collect(),
                },
            )),
        }
    });
    ok(answer)
}

#[derive(Debug, Deserialize)]
struct DomainOrder {
    name: String,
    #[serde(default = "one_year")]
    registration_years: u16,
}

fn one_year() -> u16 {
    1
}

/// Refuses a domain `name` (normalized) that the world cannot take or that a batch lists twice.
fn check_new_domain(
    world: &World,
    seen: &mut HashSet<String>,
    name: String,
) -> Result<(), RestError> {
    world.check_domain(&name)?;
    if !seen.insert(name.clone()) {
        return Err(WorldError::DuplicateDomain(name).into());
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct Register {
    domains: Vec<DomainOrder>,
}

async fn register_domains(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonObject<Register>,
) -> Result<HttpResponse, RestError> {
    let domains = body.into_inner().domains;
    check_batch(domains.len(), "domains")?;
    let (uids, shape) = state
        .change(|change| {
            let mut seen = HashSet::new();
            for order in &domains {
                let name = order.name.trim().to_ascii_lowercase();
                if !(1..=10).contains(&order.registration_years) {
                    return Err(ApiError::BadRequest(format!(
                        "`registration_years` of `{name}` must be 1 to 10"
                    ))
                    .into());
                }
                check_new_domain(change.world(), &mut seen, name)?;
            }
            let mut uids = Vec::with_capacity(domains.len());
            for order in &domains {
                let entity = change.register_domain(
                    caller.workspace,
                    &order.name,
                    order.registration_years,
                )?;
                uids.push(change.world().uid(entity));
            }
            Ok::<_, RestError>((uids, change.shape()))
        })
        .await?
        .value;
    let years: u32 = domains
        .iter()
        .map(|d| u32::from(d.registration_years))
        .sum();
    let message = "Domain registration started";
    Ok(ok(match shape {
        PayloadShape::Seed => {
            ByProfile::Seed(Envelope::new(message, DomainUids { domain_uids: uids }))
        }
        PayloadShape::Current => ByProfile::Current(Envelope::new(
            message,
            PricedRegistration {
                domains_count: uids.len(),
                domain_uids: uids,
                total_cost: f64::from(years) * DOMAIN_YEAR_PRICE,
                payment_type: PaymentType::Wallet,
            },
        )),
    }))
}

#[derive(Debug, Deserialize)]
struct ConnectOrder {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Connect {
    domains: Vec<ConnectOrder>,
}

/// Adds domains the customer owns elsewhere, to connect through DNS: each rests in `cart`
/// (`connection_type: "dns"`) until its nameservers are asked for.
async fn connect_domains(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonObject<Connect>,
) -> Result<HttpResponse, RestError> {
    let domains = body.into_inner().domains;
    check_batch(domains.len(), "domains")?;
    let created = state
        .change(|change| {
            let mut seen = HashSet::new();
            for order in &domains {
                check_new_domain(
                    change.world(),
                    &mut seen,
                    order.name.trim().to_ascii_lowercase(),
                )?;
            }
            let mut created = Vec::with_capacity(domains.len());
            for order in &domains {
                let entity = change.connect_domain(caller.workspace, &order.name)?;
                created.push(shown(change, entity));
            }
            Ok::<_, RestError>(created)
        })
        .await?
        .value;
    let domains = created
        .into_iter()
        .map(as_domain)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ok(Envelope::new(
        "Domains added; get their nameservers to connect them",
        Connected {
            domain_uids: domains.iter().map(|d| d.uid.clone()).collect(),
            domains,
        },
    )))
}

#[derive(Debug, Deserialize)]
struct DomainUid {
    uid: String,
}

/// One domain of the caller's workspace by uid.
fn one_domain(world: &World, caller: Caller, uid: &str) -> Result<EntityRef, RestError> {
    let found = resolve(world, EntityKind::Domain, caller, &[uid.to_owned()])?;
    Ok(found[0])
}

/// Applies `act` to one connected domain of the caller's workspace through the change
/// service; returns the domain as the REST API shows it.
async fn act_on_domain(
    caller: Caller,
    state: &AppState,
    uid: &str,
    act: impl FnOnce(&mut Change<'_>, EntityRef) -> Result<(), ActionError>,
) -> Result<Domain, RestError> {
    let changed = state
        .change(|change| {
            let domain = one_domain(change.world(), caller, uid)?;
            act(change, domain)?;
            Ok::<_, RestError>(shown(change, domain))
        })
        .await?;
    as_domain(changed.value)
}

/// "Get nameservers for domain connection": issues InboxKit's nameservers for a connected
/// domain (`cart` -> `dns_setup_pending`, announced); asked again, answers the same.
async fn domain_nameservers(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonObject<DomainUid>,
) -> Result<HttpResponse, RestError> {
    let domain = act_on_domain(caller, &state, &body.uid, |change, domain| {
        change.issue_nameservers(domain)
    })
    .await?;
    Ok(ok(Envelope::new(
        "Nameservers retrieved successfully",
        Nameservers {
            nameservers: INBOXKIT_NAMESERVERS.to_vec(),
            domain,
        },
    )))
}

/// "Check nameservers propagation": the customer pointed the domain at the nameservers
/// (`dns_setup_pending` -> `pending`, announced); propagation then completes on its own
/// (`pending` -> `active`, DNS `completed`, as in the seed page's example).
async fn check_nameservers(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonObject<DomainUid>,
) -> Result<HttpResponse, RestError> {
    let domain = act_on_domain(caller, &state, &body.uid, |change, domain| {
        change.check_nameservers(domain)
    })
    .await?;
    let propagated = matches!(
        domain.dns_propagation_status.as_str(),
        "completed" | "propagated"
    );
    Ok(ok(Envelope::new(
        "Nameserver propagation checked",
        NameserverCheck {
            propagated,
            dns_propagation_status: domain.dns_propagation_status.clone(),
            domain,
        },
    )))
}

#[derive(Debug, Deserialize)]
struct ListBody {
    #[serde(default)]
    page: Option<usize>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    keyword: Option<String>,
    /// Mailbox lists only: just this domain's mailboxes.
    #[serde(default)]
    domain_name: Option<String>,
}

/// One page of entities of `kind` in the caller's workspace, `deleted` ones left out.
fn page(
    world: &World,
    kind: EntityKind,
    caller: Caller,
    body: &ListBody,
) -> Result<(Vec<EntityRef>, Pagination), RestError> {
    let page = body.page.unwrap_or(1).max(1);
    let limit = body.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::BadRequest(format!("`limit` must be 1 to {MAX_PAGE_SIZE}")).into());
    }
    let keyword = body
        .keyword
        .as_deref()
        .map(str::to_ascii_lowercase)
        .filter(|k| !k.is_empty());
    let domain_suffix = body
        .domain_name
        .as_deref()
        .map(|d| format!("@{}", d.trim().to_ascii_lowercase()));
    let mut total = 0;
    let mut items = Vec::new();
    let skip = (page - 1).saturating_mul(limit);
    for entity in world.list(kind, caller.workspace) {
        if world.status(entity) == "deleted" {
            continue;
        }
        let label = world.label(entity);
        if keyword
            .as_ref()
            .is_some_and(|k| !label.contains(k.as_str()))
            || domain_suffix
                .as_ref()
                .is_some_and(|d| !label.ends_with(d.as_str()))
        {
            continue;
        }
        if total >= skip && items.len() < limit {
            items.push(entity);
        }
        total += 1;
    }
    let pagination = Pagination {
        page,
        limit,
        total,
        total_pages: total.div_ceil(limit),
    };
    Ok((items, pagination))
}

async fn list_domains(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonObject<ListBody>,
) -> Result<HttpResponse, RestError> {
    let (domains, pagination) = list(caller, &state, &body, EntityKind::Domain)?;
    let domains = domains
        .into_iter()
        .map(as_domain)
        .collect::<Result<Vec<_>, _>>()?;
    let message = "Domains retrieved successfully";
    Ok(ok(match state.shape() {
        PayloadShape::Seed => ByProfile::Seed(Envelope::new(
            message,
            DomainPage {
                domains,
                paging: pagination.seed(),
            },
        )),
        PayloadShape::Current => ByProfile::Current(Envelope::new(
            message,
            DomainPage {
                domains,
                paging: pagination.current(),
            },
        )),
    }))
}

/// One page of a caller's entities of `kind`, in the profile's spelling, and where it is.
fn list(
    caller: Caller,
    state: &AppState,
    body: &ListBody,
    kind: EntityKind,
) -> Result<(Vec<Entity>, Pagination), RestError> {
    let shape = state.shape();
    state.with_world(|world| {
        let (items, pagination) = page(world, kind, caller, body)?;
        let entities = items
            .into_iter()
            .map(|e| for_shape_of(world.entity(e), shape))
            .collect();
        Ok((entities, pagination))
    })
}

/// An entity as a change left it, in the profile's spelling.
fn shown(change: &Change<'_>, entity: EntityRef) -> Entity {
    for_shape_of(change.world().entity(entity), change.shape())
}

/// `entity` in the spelling of `shape`.
fn for_shape_of(mut entity: Entity, shape: PayloadShape) -> Entity {
    for_shape(&mut entity, shape);
    entity
}

/// The domain a domain uid resolved to.
fn as_domain(entity: Entity) -> Result<Domain, RestError> {
    match entity {
        Entity::Domain(domain) => Ok(domain),
        _ => Err(ApiError::Internal("a domain uid resolved to another kind".into()).into()),
    }
}

/// The mailbox a mailbox uid resolved to.
fn as_mailbox(entity: Entity) -> Result<Mailbox, RestError> {
    match entity {
        Entity::Mailbox(mailbox) => Ok(mailbox),
        _ => Err(ApiError::Internal("a mailbox uid resolved to another kind".into()).into()),
    }
}

#[derive(Debug, Deserialize)]
struct Uids {
    uids: Vec<String>,
}

/// Resolves uids of `kind` in the caller's workspace; an unknown one fails the whole call.
fn resolve(
    world: &World,
    kind: EntityKind,
    caller: Caller,
    uids: &[String],
) -> Result<Vec<EntityRef>, RestError> {
    check_batch(uids.len(), "uids")?;
    uids.iter()
        .map(|uid| {
            world
                .find_kind(kind, uid.trim())
                .filter(|e| world.workspace_of(*e) == caller.workspace)
                .ok_or_else(|| {
                    ApiError::UnknownEntity {
                        kind: kind.as_str(),
                        uid: uid.clone(),
                    }
                    .into()
                })
        })
        .collect()
}

async fn remove_domains(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonObject<Uids>,
) -> Result<HttpResponse, RestError> {
    let (uids, deleted, shape) = state
        .change(|change| {
            let domains = resolve(change.world(), EntityKind::Domain, caller, &body.uids)?;
            let mut unique = HashSet::new();
            for domain in &domains {
                if !unique.insert(*domain) {
                    return Err(ApiError::BadRequest(format!(
                        "the domain `{}` is listed twice",
                        change.world().uid(*domain)
                    ))
                    .into());
                }
                change.sim().check_transition(*domain, "deleted")?;
            }
            let mut deleted = Vec::new();
            for domain in &domains {
                let previous = change.world().status(*domain);
                change.transition(*domain, "deleted")?;
                let world = change.world();
                deleted.push(Removed {
                    name: world.label(*domain).to_string(),
                    uid: world.uid(*domain),
                    previous_status: previous.to_owned(),
                    new_status: world.status(*domain).to_owned(),
                });
            }
            let uids = domains
                .iter()
                .map(|d| change.world().uid(*d))
                .collect::<Vec<_>>();
            Ok::<_, RestError>((uids, deleted, change.shape()))
        })
        .await?
        .value;
    Ok(ok(match shape {
        PayloadShape::Seed => ByProfile::Seed(Envelope::new(
            "Domains removed successfully",
            DomainUids { domain_uids: uids },
        )),
        PayloadShape::Current => ByProfile::Current(Envelope::new(
            "Domains scheduled for deletion",
            RemovalResult {
                result: Removal { deleted },
            },
        )),
    }))
}

#[derive(Debug, Deserialize)]
struct MailboxBody {
    first_name: String,
    last_name: String,
    username: String,
    platform: String,
    domain_name: String,
}

#[derive(Debug, Deserialize)]
struct Buy {
    mailboxes: Vec<MailboxBody>,
}

async fn buy_mailboxes(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonObject<Buy>,
) -> Result<HttpResponse, RestError> {
    let orders = body.into_inner().mailboxes;
    check_batch(orders.len(), "mailboxes")?;
    let orders: Vec<MailboxOrder> = orders
        .into_iter()
        .map(|m| {
            let platform = Platform::parse_known(&m.platform.to_ascii_uppercase())
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            Ok(MailboxOrder {
                username: m.username,
                first_name: m.first_name,
                last_name: m.last_name,
                platform,
                domain_name: m.domain_name,
            })
        })
        .collect::<Result<_, RestError>>()?;
    let mailboxes = state
        .change(|change| {
            let mut emails = HashSet::new();
            let mut per_domain: HashMap<u32, u32> = HashMap::new();
            for order in &orders {
                let (domain, email) = change.world().check_mailbox(caller.workspace, order)?;
                let taken = per_domain.entry(domain).or_default();
                *taken += 1;
                change.world().check_capacity(domain, *taken)?;
                if !emails.insert(email.clone()) {
                    return Err(WorldError::DuplicateEmail(email).into());
                }
            }
            let mut created = Vec::with_capacity(orders.len());
            for order in &orders {
                let entity = change.buy_mailbox(caller.workspace, order)?;
                created.push(shown(change, entity));
            }
            Ok::<_, RestError>(created)
        })
        .await?
        .value;
    let mailboxes = mailboxes
        .into_iter()
        .map(|m| as_mailbox(m).map(PublicMailbox))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ok(Envelope::new(
        "Mailboxes purchased successfully",
        Mailboxes { mailboxes },
    )))
}

async fn list_mailboxes(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonObject<ListBody>,
) -> Result<HttpResponse, RestError> {
    let (mailboxes, pagination) = list(caller, &state, &body, EntityKind::Mailbox)?;
    let mailboxes = mailboxes
        .into_iter()
        .map(|m| as_mailbox(m).map(PublicMailbox))
        .collect::<Result<Vec<_>, _>>()?;
    let message = "Mailboxes retrieved successfully";
    Ok(ok(match state.shape() {
        PayloadShape::Seed => ByProfile::Seed(Envelope::new(
            message,
            MailboxPage {
                mailboxes,
                paging: pagination.seed(),
            },
        )),
        PayloadShape::Current => ByProfile::Current(Envelope::new(
            message,
            MailboxPage {
                mailboxes,
                paging: pagination.current(),
            },
        )),
    }))
}

async fn mailbox_status(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonObject<Uids>,
) -> Result<HttpResponse, RestError> {
    let statuses = state.with_world(|world| {
        resolve(world, EntityKind::Mailbox, caller, &body.uids)?
            .into_iter()
            .map(|m| as_mailbox(world.entity(m)).map(MailboxStatusView::from))
            .collect::<Result<Vec<_>, RestError>>()
    })?;
    Ok(ok(Envelope::new(
        "Mailbox statuses retrieved successfully",
        Mailboxes {
            mailboxes: statuses,
        },
    )))
}

async fn cancel_mailboxes(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonObject<Uids>,
) -> Result<HttpResponse, RestError> {
    let statuses = state
        .change(|change| {
            let mailboxes = resolve(change.world(), EntityKind::Mailbox, caller, &body.uids)?;
            for mailbox in &mailboxes {
                let target = change.sim().cancellation_target(*mailbox);
                change.sim().check_transition(*mailbox, target)?;
            }
            for mailbox in &mailboxes {
                let target = change.sim().cancellation_target(*mailbox);
                change.transition(*mailbox, target)?;
            }
            Ok::<_, RestError>(uid_statuses(change.world(), &mailboxes))
        })
        .await?
        .value;
    Ok(ok(Envelope::new(
        "Mailbox cancellation requested",
        Mailboxes {
            mailboxes: statuses,
        },
    )))
}

/// `{"uid", "status"}` of each entity, as the cancel calls answer.
fn uid_statuses(world: &World, entities: &[EntityRef]) -> Vec<UidStatus> {
    entities
        .iter()
        .map(|e| UidStatus {
            uid: world.uid(*e),
            status: world.status(*e).to_owned(),
        })
        .collect()
}

/// Withdraws cancellations before the period ends: `scheduled_for_cancellation` -> `active`.
async fn uncancel_mailboxes(
    caller: Caller,
    state: web::Data<AppState>,
    body: JsonObject<Uids>,
) -> Result<HttpResponse, RestError> {
    let statuses = state
        .change(|change| {
            let mailboxes = resolve(change.world(), EntityKind::Mailbox, caller, &body.uids)?;
            let mut unique = HashSet::new();
            for mailbox in &mailboxes {
                let world = change.world();
                if !unique.insert(*mailbox) {
                    return Err(ApiError::BadRequest(format!(
                        "the mailbox `{}` is listed twice",
                        world.uid(*mailbox)
                    ))
                    .into());
                }
                change.sim().check_transition(*mailbox, "active")?;
                if world.status(*mailbox) != "scheduled_for_cancellation" {
                    return Err(ApiError::Conflict(format!(
                        "the mailbox `{}` is `{}`, not `scheduled_for_cancellation`",
                        world.uid(*mailbox),
                        world.status(*mailbox)
                    ))
                    .into());
                }
            }
            for mailbox in &mailboxes {
                change.uncancel_mailbox(*mailbox)?;
            }
            Ok::<_, RestError>(uid_statuses(change.world(), &mailboxes))
        })
        .await?
        .value;
    Ok(ok(Envelope::new(
        "Mailbox cancellation withdrawn",
        Mailboxes {
            mailboxes: statuses,
        },
    )))
}

#[derive(Debug, Deserialize)]
struct CredentialsQuery {
    uid: String,
}

async fn show_credentials(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<CredentialsQuery>,
) -> Result<HttpResponse, RestError> {
    let mailbox = state.with_world(|world| {
        let found = resolve(
            world,
            EntityKind::Mailbox,
            caller,
            std::slice::from_ref(&query.uid),
        )?;
        Ok::<_, RestError>(world.entity(found[0]))
    })?;
    let m = as_mailbox(mailbox)?;
    if m.password.is_none() {
        return Err(ApiError::Conflict(format!(
            "the mailbox `{}` is `{}`: its credentials exist once it is provisioned (`active`)",
            m.uid, m.status
        ))
        .into());
    }
    let credentials = Credentials {
        uid: m.uid,
        email: m.email,
        password: m.password,
        app_password: m.app_password,
        secret: m.secret,
    };
    let message = "Credentials retrieved successfully";
    Ok(ok(match state.shape() {
        PayloadShape::Seed => {
            ByProfile::Seed(Envelope::new(message, CredentialsAnswer { credentials }))
        }
        // Flat, as integrators captured it.
        PayloadShape::Current => ByProfile::Current(Envelope::new(message, credentials)),
    }))
}
