//! The OpenAPI 3.1 document of the mock REST API (`/v1/api`) and the control API (`/_mock`),
//! served at `GET /_mock/openapi.json`.
//!
//! `operations::OPERATIONS` is the one list of documented routes; [`document`] renders it. A test walks
//! the route table [`super::build_app`] really registers and fails when a route is missing from
//! the list or the list names a route the app does not serve, so the two cannot drift. The web
//! page (`super::ui::ROUTES`) is not an API and is left out on purpose.
//!
//! Request bodies and query parameters are described in [`request_schema`] and
//! [`query_parameters`] (required fields, enums, ranges, and `additionalProperties: false`
//! where the server refuses unknown fields); enums come from the vocabularies' own lists where
//! they have one, and a test deserializes every other documented value into the real type.
//! Errors are documented per API: RFC 7807 `application/problem+json` on `/_mock`, InboxKit's
//! `{"error": true, "message": ...}` as `application/json` on `/v1/api`, where a 401 is either
//! that or, under the `current` profile, the live service's `{"code": 401, ...}`. Schemathesis runs
//! against a live server in CI (`.ci/schemathesis`).

use actix_web::HttpResponse;
use serde_json::{Map, Value, json};

use super::operations::{
    Answer, Body, MAX_BATCH, MAX_JOURNAL_PAGE, MAX_PAGE_SIZE, OPERATIONS, Operation,
};
use schemars::Schema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::transform::Transform;

use super::answers::{
    AdvanceAnswer, ApiDocument, BulkRedelivery, ByProfile, ClockView, Connected, Credentials,
    CredentialsAnswer, DeliveryView, DomainPage, DomainUids, EntityAnswer, Envelope, Forced,
    Health, JournalPage, LiveUnauthorized, MailboxPage, MailboxStatusView, Mailboxes,
    NameserverCheck, Nameservers, OUTCOMES, ObservedWorkspace, PageTotals, Paged,
    PricedRegistration, PublicMailbox, Readiness, Redelivered, RemovalResult, ResetAnswer,
    RestWorkspace, STATES, SubscriberView, Triggered, UidStatus, WebhookSet, WorkspaceList,
    WorldSummary,
};
use crate::contract::{ClientIdRequest, ConsentRequest, EventType, Platform};

/// A duration as the API takes it: a whole number and a unit (`10s`, `5m`, `2h`, `1d`).
const DURATION: &str = "^[1-9][0-9]{0,2}(ms|s|m|h|d)$";
/// A domain name the mock registers (the real rule is wider: labels of letters, digits and
/// inner hyphens).
const DOMAIN: &str = "^[a-z][a-z0-9-]{0,30}[a-z0-9]\\.(com|net|org|io|dev)$";
/// An http(s) URL with a host.
const URL: &str = "^https?://[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9-]{0,20}){0,3}(:[1-9][0-9]{0,3})?(/[A-Za-z0-9_-]{0,20}){0,3}$";
/// Profiles (`Profile`), body layouts (`PayloadShape`) and signature schemes
/// (`SignatureScheme`) as the API spells them (delivery states and attempt outcomes are
/// `answers::STATES` and `answers::OUTCOMES`); a test deserializes each into its type.
const PROFILES: [&str; 2] = ["seed", "current"];
const SHAPES: [&str; 2] = ["seed", "current"];
const SCHEMES: [&str; 2] = ["hmac-body", "api-key-sha256"];
/// Largest clock scale `POST /_mock/clock/scale` takes (documented and enforced).
pub const MAX_SCALE: f64 = 1e6;
/// Entity kinds of `/_mock/{kind}/{uid}`.
const KINDS: [&str; 4] = [
    "domains",
    "mailboxes",
    "consent_requests",
    "client_id_requests",
];

fn event_names() -> Vec<&'static str> {
    EventType::KNOWN.iter().map(EventType::as_str).collect()
}

fn platforms() -> Vec<&'static str> {
    Platform::KNOWN.iter().map(Platform::as_str).collect()
}

/// `schema` that also takes `null` (an optional field: `null` means left out).
fn opt(mut schema: Value) -> Value {
    if let Some(kind) = schema.get("type").and_then(Value::as_str) {
        schema["type"] = json!([kind, "null"]);
    }
    if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut) {
        values.push(Value::Null);
    }
    if let Some(options) = schema.get_mut("oneOf").and_then(Value::as_array_mut)
        && !options.iter().any(|o| o["type"] == "null")
    {
        options.push(json!({"type": "null"}));
    }
    schema
}

/// Every property not in `required` made nullable (serde's `Option` takes `null`), except
/// those with a `default` (a plain field with a serde default refuses `null`).
fn optional_nullable(properties: Value, required: &[&str]) -> Value {
    match properties {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(name, schema)| {
                    let schema =
                        if required.contains(&name.as_str()) || schema.get("default").is_some() {
                            schema
                        } else {
                            opt(schema)
                        };
                    (name, schema)
                })
                .collect(),
        ),
        other => other,
    }
}

/// `{"type": "object", "properties": ..., "required": ...}`, closed when the server refuses
/// unknown fields; fields not required also take `null`.
fn object(properties: Value, required: &[&str], closed: bool) -> Value {
    let properties = optional_nullable(properties, required);
    let mut schema = json!({"type": "object", "properties": properties, "required": required});
    if closed {
        schema["additionalProperties"] = json!(false);
    }
    schema
}

fn uid_list() -> Value {
    object(
        json!({"uids": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH,
            "items": {"type": "string", "minLength": 1}}}),
        &["uids"],
        false,
    )
}

fn list_body() -> Value {
    object(
        json!({
            "page": {"type": "integer", "minimum": 0, "maximum": u64::MAX},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            "keyword": {"type": "string"},
            "domain_name": {"type": "string", "description": "Mailbox lists only."},
        }),
        &[],
        false,
    )
}

fn journal_filter() -> Value {
    json!({
        "event": {"type": "string"},
        "uid": {"type": "string"},
        "state": {"type": "string", "enum": STATES},
        "outcome": {"type": "string", "enum": OUTCOMES},
        "since": {"type": "string", "format": "date-time"},
        "until": {"type": "string", "format": "date-time"},
        "offset": {"type": "integer", "minimum": 0, "maximum": u64::MAX},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_JOURNAL_PAGE},
    })
}

/// The JSON Schema of an operation's request body; a bare object for one not described yet.
pub fn request_schema(method: &str, path: &str) -> Value {
    match (method, path) {
        ("POST", "/v1/api/workspaces/webhook") => object(
            json!({
                "uid": {"type": "string", "minLength": 1, "description": "The workspace id."},
                "webhook_url": {"type": "string", "pattern": URL},
                "secret": {"type": "string", "minLength": 1,
                    "description": "Mock extension: the workspace's own webhook secret."},
            }),
            &["uid", "webhook_url"],
            false,
        ),
        ("POST", "/v1/api/domains/register") => object(
            json!({"domains": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                "items": object(json!({
                    "name": {"type": "string", "pattern": DOMAIN},
                    "registration_years": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                }), &["name"], false)}}),
            &["domains"],
            false,
        ),
        ("POST", "/v1/api/domains/list" | "/v1/api/mailboxes/list") => list_body(),
        (
            "POST",
            "/v1/api/domains/remove"
            | "/v1/api/mailboxes/status"
            | "/v1/api/mailboxes/cancel"
            | "/v1/api/mailboxes/uncancel",
        ) => uid_list(),
        ("POST", "/v1/api/domains/connect") => object(
            json!({"domains": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                "items": object(json!({
                    "name": {"type": "string", "pattern": DOMAIN},
                }), &["name"], false)}}),
            &["domains"],
            false,
        ),
        ("POST", "/v1/api/domains/nameservers" | "/v1/api/domains/check-nameservers") => object(
            json!({"uid": {"type": "string", "minLength": 1,
                "description": "A connected domain of the workspace (404 otherwise)."}}),
            &["uid"],
            false,
        ),
        ("POST", "/v1/api/mailboxes/buy") => object(
            json!({"mailboxes": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                "items": object(json!({
                    "first_name": {"type": "string"},
                    "last_name": {"type": "string"},
                    "username": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._+-]{0,63}$"},
                    "platform": {"type": "string", "enum": platforms()},
                    "domain_name": {"type": "string", "pattern": DOMAIN,
                        "description": "A domain registered in the workspace (404 otherwise)."},
                }), &["first_name", "last_name", "username", "platform", "domain_name"], false)}}),
            &["mailboxes"],
            false,
        ),
        ("POST", "/_mock/clock/advance") => object(
            json!({"by": {"type": "string", "pattern": DURATION, "examples": ["10m"]}}),
            &["by"],
            true,
        ),
        ("POST", "/_mock/clock/scale") => object(
            json!({"scale": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_SCALE,
                "description": "Simulated seconds per real second."}}),
            &["scale"],
            true,
        ),
        ("POST", "/_mock/events") => object(
            json!({
                "event": {"type": "string", "enum": event_names()},
                "uid": {"type": "string", "description": "An existing entity of the event's kind (404 otherwise)."},
                "set": {"description": "Field overrides applied before signing: `{\"team_name\": \"X\"}` or `[\"team_name=X\"]`; dotted paths (`data.domain.status`) also work where the parent exists in the event's body (400 otherwise).",
                    "oneOf": [
                        {"type": "object", "propertyNames": {"pattern": "^[^.]+$"}},
                        {"type": "array", "items": {"type": "string", "pattern": "^[^.=]+=.*$"}},
                    ]},
                "workspace_id": {"type": "string", "description": "The workspace (404 if unknown)."},
            }),
            &["event"],
            true,
        ),
        ("PUT", "/_mock/subscriber") => object(
            json!({
                "url": {"oneOf": [{"type": "string", "pattern": URL}, {"type": "null"}],
                    "description": "The default subscriber; null goes back to the built-in receiver."},
                "profile": {"type": "string", "enum": PROFILES},
                "payload_shape": {"type": "string", "enum": SHAPES},
                "signature_scheme": {"type": "string", "enum": SCHEMES},
                "secret": {"type": "string", "minLength": 1},
                "api_key": {"type": "string", "minLength": 1},
                "timeout": {"type": "string", "pattern": DURATION},
                "retry_delays": {"description": "Delays before retries 1, 2, 3 (empty parts are skipped).",
                    "oneOf": [
                        {"type": "string", "pattern": "^ *([1-9][0-9]{0,2}(s|m))? *(, *([1-9][0-9]{0,2}(s|m))? *)*$"},
                        {"type": "array",
                            "items": {"type": "string", "pattern": "^ *([1-9][0-9]{0,2}(s|m))? *$"}},
                    ]},
                "send_authorization": {"type": "boolean"},
                "auth_token": {"type": "string", "minLength": 1},
                "mock_headers": {"type": "boolean"},
            }),
            &[],
            true,
        ),
        ("POST", "/_mock/consent_requests") => object(
            json!({"workspace_id": {"type": "string"}, "domain_name": {"type": "string"}}),
            &[],
            true,
        ),
        ("POST", "/_mock/client_id_requests") => object(
            json!({"workspace_id": {"type": "string"},
                "domain_name": {"type": "string", "pattern": "\\S"}}),
            &["domain_name"],
            true,
        ),
        ("POST", "/_mock/{kind}/{uid}/transition") => object(
            json!({"to": {"type": "string", "minLength": 1, "description": "The status to move to."}}),
            &["to"],
            true,
        ),
        ("POST", "/_mock/deliveries/redeliver") => {
            let mut filter = object(journal_filter(), &[], true);
            filter["description"] = json!("The same filter as GET /_mock/deliveries.");
            filter
        }
        _ => json!({"type": "object"}),
    }
}

/// The query parameters of an operation.
pub fn query_parameters(method: &str, path: &str) -> Vec<Value> {
    let parameter = |name: &str, required: bool, schema: &Value| json!({"name": name, "in": "query", "required": required, "schema": schema});
    match (method, path) {
        ("GET", "/v1/api/mailboxes/show-credentials") => {
            vec![parameter(
                "uid",
                true,
                &json!({"type": "string", "minLength": 1}),
            )]
        }
        ("GET", "/_mock/deliveries") => journal_filter()
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, schema)| parameter(name, false, schema))
            .collect(),
        _ => Vec::new(),
    }
}

/// The schema of a path parameter.
fn path_schema(path: &str, name: &str) -> Value {
    match name {
        "kind" if path.starts_with("/_mock/") => json!({"type": "string", "enum": KINDS}),
        _ => json!({"type": "string", "minLength": 1}),
    }
}

/// The path parameters of `path`, in order (`/a/{kind}/{uid}` gives `kind`, `uid`).
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

/// `get_mock_deliveries_id` for `GET /_mock/deliveries/{id}`: unique, and an identifier in
/// every client generator.
fn operation_id(operation: &Operation) -> String {
    let words = operation
        .path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty());
    std::iter::once(operation.method.to_lowercase())
        .chain(words.map(str::to_owned))
        .collect::<Vec<_>>()
        .join("_")
}

fn operation_json(operation: &Operation, generator: &mut SchemaGenerator) -> Value {
    let rest = operation.path.starts_with("/v1/api/");
    let mut object = Map::new();
    object.insert("summary".into(), json!(operation.summary));
    object.insert("operationId".into(), json!(operation_id(operation)));
    object.insert(
        "tags".into(),
        json!([if rest { "rest" } else { "control" }]),
    );
    let mut parameters: Vec<Value> = path_parameters(operation.path)
        .map(|name| {
            json!({"name": name, "in": "path", "required": true,
                "schema": path_schema(operation.path, name)})
        })
        .collect();
    parameters.extend(query_parameters(operation.method, operation.path));
    if rest {
        parameters.push(json!({"$ref": "#/components/parameters/WorkspaceId"}));
    }
    if !parameters.is_empty() {
        object.insert("parameters".into(), Value::Array(parameters));
    }
    if operation.body != Body::None {
        object.insert(
            "requestBody".into(),
            json!({
                "required": operation.body == Body::Required,
                "content": {"application/json": {
                    "schema": request_schema(operation.method, operation.path)}},
            }),
        );
    }
    let (status, success) = match operation.answer {
        Answer::Json(status) => (
            status,
            json!({"description": "Success.", "content": {"application/json": {
                "schema": answer_schema(generator, operation.method, operation.path)}}}),
        ),
        Answer::Prometheus => (
            200,
            json!({"description": "Prometheus text exposition 0.0.4.",
                   "content": {"text/plain": {"schema": {"type": "string"}}}}),
        ),
    };
    let mut responses = Map::new();
    if operation.path == "/_mock/ready" {
        responses.insert(
            "503".into(),
            json!({"description": "Not ready: starting, shutting down, or state unsaved.",
                "content": {"application/json": {"schema": generator.subschema_for::<Readiness>()}}}),
        );
    }
    responses.insert(status.to_string(), success);
    if rest {
        responses.insert(
            "401".into(),
            json!({"$ref": "#/components/responses/Unauthorized"}),
        );
    }
    responses.insert(
        "default".into(),
        if rest {
            json!({"$ref": "#/components/responses/RestError"})
        } else {
            json!({"$ref": "#/components/responses/Problem"})
        },
    );
    object.insert("responses".into(), Value::Object(responses));
    object.insert(
        "security".into(),
        if rest {
            json!([{"apiKey": []}])
        } else {
            // Open unless `serve` runs with an admin token.
            json!([{}, {"adminToken": []}])
        },
    );
    Value::Object(object)
}

/// The schema of an operation's success answer, from the type its handler answers with (see
/// `answers.rs`): answers whose shape follows the profile are a `oneOf` of both shapes
/// (`answers::ByProfile` says why); the document itself names only what every OpenAPI document
/// has (`answers::ApiDocument`).
fn answer_schema(generator: &mut SchemaGenerator, method: &str, path: &str) -> Schema {
    type Rest<T> = Envelope<T>;
    let mut schema = match (method, path) {
        ("POST", "/v1/api/workspaces/webhook") => generator.subschema_for::<Rest<WebhookSet>>(),
        ("GET", "/v1/api/workspaces/list") => {
            generator.subschema_for::<ByProfile<
                Rest<WorkspaceList<RestWorkspace>>,
                Rest<WorkspaceList<ObservedWorkspace>>,
            >>()
        }
        ("POST", "/v1/api/domains/register") => {
            generator.subschema_for::<ByProfile<Rest<DomainUids>, Rest<PricedRegistration>>>()
        }
        ("POST", "/v1/api/domains/list") => generator
            .subschema_for::<ByProfile<Rest<DomainPage<Paged>>, Rest<DomainPage<PageTotals>>>>(),
        ("POST", "/v1/api/domains/remove") => {
            generator.subschema_for::<ByProfile<Rest<DomainUids>, Rest<RemovalResult>>>()
        }
        ("POST", "/v1/api/domains/connect") => generator.subschema_for::<Rest<Connected>>(),
        ("POST", "/v1/api/domains/nameservers") => generator.subschema_for::<Rest<Nameservers>>(),
        ("POST", "/v1/api/domains/check-nameservers") => {
            generator.subschema_for::<Rest<NameserverCheck>>()
        }
        ("POST", "/v1/api/mailboxes/buy") => {
            generator.subschema_for::<Rest<Mailboxes<PublicMailbox>>>()
        }
        ("POST", "/v1/api/mailboxes/list") => generator
            .subschema_for::<ByProfile<Rest<MailboxPage<Paged>>, Rest<MailboxPage<PageTotals>>>>(),
        ("POST", "/v1/api/mailboxes/status") => {
            generator.subschema_for::<Rest<Mailboxes<MailboxStatusView>>>()
        }
        ("POST", "/v1/api/mailboxes/cancel" | "/v1/api/mailboxes/uncancel") => {
            generator.subschema_for::<Rest<Mailboxes<UidStatus>>>()
        }
        ("GET", "/v1/api/mailboxes/show-credentials") => {
            generator.subschema_for::<ByProfile<Rest<CredentialsAnswer>, Rest<Credentials>>>()
        }
        ("GET", "/_mock/deliveries") => generator.subschema_for::<JournalPage<'static>>(),
        ("GET", "/_mock/deliveries/{id}") => generator.subschema_for::<DeliveryView<'static>>(),
        ("POST", "/_mock/deliveries/{id}/redeliver") => {
            generator.subschema_for::<Redelivered<'static>>()
        }
        ("POST", "/_mock/deliveries/redeliver") => generator.subschema_for::<BulkRedelivery>(),
        ("GET", "/_mock/health") => generator.subschema_for::<Health>(),
        ("GET", "/_mock/ready") => generator.subschema_for::<Readiness>(),
        ("GET", "/_mock/clock")
        | ("POST", "/_mock/clock/pause" | "/_mock/clock/resume" | "/_mock/clock/scale") => {
            generator.subschema_for::<ClockView>()
        }
        ("POST", "/_mock/clock/advance") => generator.subschema_for::<AdvanceAnswer>(),
        ("POST", "/_mock/events") => generator.subschema_for::<Triggered>(),
        ("POST", "/_mock/reset") => generator.subschema_for::<ResetAnswer>(),
        ("GET", "/_mock/world") => generator.subschema_for::<WorldSummary>(),
        ("POST", "/_mock/consent_requests") => generator.subschema_for::<ConsentRequest>(),
        ("POST", "/_mock/client_id_requests") => generator.subschema_for::<ClientIdRequest>(),
        ("GET", "/_mock/{kind}/{uid}") => generator.subschema_for::<EntityAnswer>(),
        ("POST", "/_mock/{kind}/{uid}/transition") => generator.subschema_for::<Forced>(),
        ("GET" | "PUT", "/_mock/subscriber") => generator.subschema_for::<SubscriberView>(),
        ("GET", "/_mock/openapi.json") => generator.subschema_for::<ApiDocument>(),
        _ => Schema::default(),
    };
    schemars::transform::RecursiveTransform(closed).transform(&mut schema);
    schema
}

/// Closes every object schema that lists its properties and says nothing of others
/// (`additionalProperties: false`): every answer is a fixed set of fields, so a field the
/// document does not describe, or one that goes missing, fails validation.
fn closed(schema: &mut Schema) {
    if schema.get("properties").is_some() && schema.get("additionalProperties").is_none() {
        schema.insert("additionalProperties".into(), false.into());
    }
}

/// Generates answer schemas with their shared definitions under `#/components/schemas`.
fn answer_generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .with(|settings| {
            settings.definitions_path = "/components/schemas".into();
            settings.meta_schema = None;
            settings
                .transforms
                .push(Box::new(schemars::transform::RecursiveTransform(closed)));
        })
        .into_generator()
}

/// The OpenAPI 3.1 document of every route in `operations::OPERATIONS`.
pub fn document() -> Value {
    let mut generator = answer_generator();
    let mut paths = Map::new();
    for operation in OPERATIONS {
        let item = paths
            .entry(operation.path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(
                operation.method.to_lowercase(),
                operation_json(operation, &mut generator),
            );
        }
    }
    let live_unauthorized = generator.subschema_for::<LiveUnauthorized>();
    let mut schemas = generator.take_definitions(true);
    schemas.insert(
        "Problem".into(),
        json!({"type": "object", "required": ["type", "title", "status", "code"],
        "properties": {
            "type": {"type": "string"}, "title": {"type": "string"},
            "status": {"type": "integer"}, "detail": {"type": "string"},
            "code": {"type": "string"},
        }}),
    );
    schemas.insert(
        "RestError".into(),
        json!({"type": "object", "required": ["error", "message"],
            "properties": {"error": {"const": true}, "message": {"type": "string"}}}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "inboxkit-mock",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "The mock InboxKit REST API (/v1/api) and the mock's control API (/_mock).",
            "license": {"name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0"},
        },
        "tags": [
            {"name": "rest", "description": "The simulated InboxKit REST API; changes walk lifecycles that send signed webhooks."},
            {"name": "control", "description": "The mock's own API: clock, triggers, journal, subscriber, health."},
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "The team API key (`serve --api-key`)."},
                "adminToken": {"type": "http", "scheme": "bearer", "description": "Required on control routes other than health and ready when `serve` has an admin token."},
            },
            "parameters": {
                "WorkspaceId": {"name": "X-Workspace-Id", "in": "header", "required": false,
                    "description": "The workspace addressed; the first one when absent.",
                    "schema": {"type": "string"}},
            },
            "responses": {
                "Problem": {"description": "An RFC 7807 problem with a stable `code`.",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
                "RestError": {"description": "InboxKit's error envelope.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RestError"}}}},
                "Unauthorized": {"description": "The API key is missing or wrong. The body follows the payload profile: InboxKit's error envelope under `seed`, the live service's `{\"code\": 401, \"message\": ...}` under `current` (both are described: the profile changes at run time).",
                    "content": {"application/json": {"schema": {"oneOf": [
                        {"$ref": "#/components/schemas/RestError"},
                        live_unauthorized,
                    ]}}}},
            },
            "schemas": schemas,
        },
    })
}

/// `GET /_mock/openapi.json`.
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(ApiDocument(document()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use actix_web::http::Method;
    use actix_web::{test, web};

    use super::*;
    use crate::contract::{Profile, Secret};
    use crate::delivery::{Sender, SenderOptions};
    use crate::server::state::{AppState, Parts};
    use crate::server::{DEFAULT_MAX_BODY_BYTES, SubscriberSettings, build_app};
    use crate::simulation::Clock;
    use crate::simulation::simulator::{FailureRates, Simulation};

    /// Methods a route could be registered for.
    const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

    fn state() -> web::Data<AppState> {
        let clock = Clock::scaled(1.0).unwrap();
        clock.pause();
        let key = Secret::new("ik_key");
        web::Data::new(AppState::new(Parts {
            sim: Simulation::new(1, 1, FailureRates::default()),
            clock: clock.clone(),
            sender: Sender::new(clock, SenderOptions::default()).unwrap(),
            api_key: key.clone(),
            settings: SubscriberSettings::from_profile(
                Profile::Seed,
                Secret::new("whsec"),
                key.clone(),
                key,
            ),
            builtin_url: None,
            builtin_store: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            store: None,
        }))
    }

    /// The full patterns of every resource in actix's resource map, read from its `Debug` form
    /// (actix has no public iterator): each `patterns: Single("...")` is a node, nested by
    /// indentation; nodes with `is_prefix: false` are routes, the others scopes.
    fn leaf_patterns(debug: &str) -> Vec<String> {
        assert!(
            !debug.contains("patterns: List("),
            "a multi-pattern resource: extend the walk"
        );
        let lines: Vec<&str> = debug.lines().collect();
        let mut stack: Vec<(usize, String)> = Vec::new();
        let mut leaves = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.trim() != "patterns: Single(" {
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            let pattern = lines[i + 1].trim().trim_end_matches(',').trim_matches('"');
            let is_prefix = lines[i..]
                .iter()
                .find_map(|l| l.trim().strip_prefix("is_prefix: "))
                .expect("every resource says whether it is a prefix")
                .starts_with("true");
            while stack.last().is_some_and(|(depth, _)| *depth >= indent) {
                stack.pop();
            }
            let full: String = stack
                .iter()
                .map(|(_, p)| p.as_str())
                .chain([pattern])
                .collect();
            if !is_prefix {
                leaves.push(full);
            }
            stack.push((indent, pattern.to_owned()));
        }
        leaves
    }

    /// A concrete path for `pattern`: every `{parameter}` becomes `x`.
    fn concrete(pattern: &str) -> String {
        pattern
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The (method, path) pairs the app serves: every resource actix registered, probed with
    /// each method, must be documented, and every documented operation must be served.
    #[actix_web::test]
    async fn the_document_lists_exactly_the_routes_the_app_registers() {
        let app = test::init_service(build_app(state())).await;
        let probe = test::call_service(
            &app,
            test::TestRequest::get().uri("/_mock/health").to_request(),
        )
        .await;
        let patterns = leaf_patterns(&format!("{:#?}", probe.request().resource_map()));
        assert!(
            patterns.len() >= 20 && patterns.iter().any(|p| p == "/_mock/health"),
            "the walk of actix's resource map found too little: {patterns:?}"
        );
        let mut served = BTreeSet::new();
        for pattern in &patterns {
            for method in METHODS {
                // Not JSON, so handlers with a JSON body fail before they act.
                let request = test::TestRequest::default()
                    .method(Method::from_bytes(method.as_bytes()).unwrap())
                    .uri(&concrete(pattern))
                    .insert_header(("content-type", "application/json"))
                    .set_payload("not json")
                    .to_request();
                let response = test::call_service(&app, request).await;
                // The resource the request was routed to (e.g. GET /_mock/clock/pause goes to
                // /_mock/{kind}/{uid}, so it says nothing about /_mock/clock/pause).
                let matched = response.request().match_pattern();
                let status = response.status();
                let body = test::read_body(response).await;
                // Unrouted requests fall through to the 404 `no route for METHOD PATH` problem.
                // So do wrong methods on documented paths: 405 before routing.
                let unrouted = (status == 404
                    && String::from_utf8_lossy(&body).contains("no route for"))
                    || status == 405;
                if !unrouted && matched.as_deref() == Some(pattern.as_str()) {
                    served.insert((method.to_owned(), pattern.clone()));
                }
            }
        }
        // The web page and its assets are not API operations: served, but left out on purpose.
        let page: BTreeSet<(String, String)> = crate::server::ui::ROUTES
            .iter()
            .map(|path| ("GET".to_owned(), (*path).to_owned()))
            .collect();
        assert!(
            page.is_subset(&served),
            "the web page routes are not served: {:?}",
            page.difference(&served).collect::<Vec<_>>()
        );
        let served: BTreeSet<_> = served.difference(&page).cloned().collect();
        let documented: BTreeSet<(String, String)> = OPERATIONS
            .iter()
            .map(|o| (o.method.to_owned(), o.path.to_owned()))
            .collect();
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from OPERATIONS in src/server/openapi.rs: {undocumented:?}"
        );
        assert!(
            unserved.is_empty(),
            "OPERATIONS lists routes the app does not serve: {unserved:?}"
        );
    }

    #[actix_web::test]
    async fn documented_enum_values_are_the_types_own() {
        use crate::contract::{PayloadShape, Profile, SignatureScheme};
        use crate::delivery::{AttemptOutcome, DeliveryState};
        fn parses<T: serde::de::DeserializeOwned>(values: &[&str]) {
            for value in values {
                serde_json::from_value::<T>(json!(value)).unwrap_or_else(|e| {
                    panic!("`{value}` is not a {}: {e}", std::any::type_name::<T>())
                });
            }
        }
        parses::<Profile>(&PROFILES);
        parses::<PayloadShape>(&SHAPES);
        parses::<SignatureScheme>(&SCHEMES);
        parses::<DeliveryState>(&STATES);
        parses::<AttemptOutcome>(&OUTCOMES);
        // Every outcome is listed: each known one serializes to a documented name.
        for outcome in [AttemptOutcome::Delivered, AttemptOutcome::Interrupted] {
            let name = serde_json::to_value(outcome).unwrap();
            assert!(OUTCOMES.contains(&name.as_str().unwrap()), "{name}");
        }
    }

    #[actix_web::test]
    async fn the_walk_nests_scopes_and_skips_them() {
        let debug = "ResourceMap {\n    pattern: ResourceDef {\n        patterns: Single(\n            \"\",\n        ),\n        is_prefix: true,\n    },\n    nodes: Some(\n        [\n            ResourceMap {\n                pattern: ResourceDef {\n                    patterns: Single(\n                        \"/a\",\n                    ),\n                    is_prefix: true,\n                },\n                nodes: Some(\n                    [\n                        ResourceMap {\n                            pattern: ResourceDef {\n                                patterns: Single(\n                                    \"/b/{id}\",\n                                ),\n                                is_prefix: false,\n                            },\n                        },\n                    ],\n                ),\n            },\n            ResourceMap {\n                pattern: ResourceDef {\n                    patterns: Single(\n                        \"/top\",\n                    ),\n                    is_prefix: false,\n                },\n            },\n        ],\n    ),\n}";
        assert_eq!(leaf_patterns(debug), ["/a/b/{id}", "/top"]);
    }

    #[actix_web::test]
    async fn the_document_is_served_and_well_formed() {
        let app = test::init_service(build_app(state())).await;
        let response = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/_mock/openapi.json")
                .to_request(),
        )
        .await;
        assert_eq!(response.status(), 200);
        let served: Value = test::read_body_json(response).await;
        assert_eq!(served, document());
        assert_eq!(served["openapi"], "3.1.0");
        let get = &served["paths"]["/_mock/deliveries/{id}"]["get"];
        assert_eq!(get["parameters"][0]["name"], "id");
        assert_eq!(get["parameters"][0]["in"], "path");
        let rest = &served["paths"]["/v1/api/domains/register"]["post"];
        assert_eq!(rest["security"], json!([{"apiKey": []}]));
        assert_eq!(rest["requestBody"]["required"], true);
        let paths: BTreeSet<&str> = OPERATIONS.iter().map(|o| o.path).collect();
        assert_eq!(served["paths"].as_object().unwrap().len(), paths.len());
        let ids: BTreeSet<String> = OPERATIONS.iter().map(operation_id).collect();
        assert_eq!(ids.len(), OPERATIONS.len(), "operation ids are unique");
        assert_eq!(get["operationId"], "get_mock_deliveries_id");
        let validator = answer_validator(&served, "GET", "/_mock/openapi.json", 200);
        assert!(validator.is_valid(&served));
        assert!(!validator.is_valid(&json!({"openapi": "3.1.0", "info": {"title": "x"}})));
    }

    /// Every JSON success answer is typed, and every answer object the document names is
    /// closed but the error envelopes.
    #[actix_web::test]
    async fn every_json_answer_is_typed_and_closed() {
        let document = document();
        let untyped: Vec<String> = OPERATIONS
            .iter()
            .filter_map(|o| match o.answer {
                Answer::Json(status) => {
                    let schema = &document["paths"][o.path][o.method.to_lowercase()]["responses"]
                        [status.to_string()]["content"]["application/json"]["schema"];
                    let typed = schema.as_object().is_some_and(|s| !s.is_empty());
                    (!typed).then(|| format!("{} {}", o.method, o.path))
                }
                Answer::Prometheus => None,
            })
            .collect();
        assert_eq!(
            untyped,
            Vec::<String>::new(),
            "answers described as any JSON"
        );
        let schemas = document["components"]["schemas"].as_object().unwrap();
        for (name, schema) in schemas {
            if schema.get("properties").is_some()
                && !["Problem", "RestError"].contains(&name.as_str())
            {
                assert_eq!(
                    schema["additionalProperties"],
                    json!(false),
                    "{name} is open"
                );
            }
        }
        for operation in OPERATIONS.iter().filter(|o| o.path.starts_with("/v1/api/")) {
            let responses =
                &document["paths"][operation.path][operation.method.to_lowercase()]["responses"];
            assert_eq!(
                responses["401"]["$ref"], "#/components/responses/Unauthorized",
                "{} {} documents no 401",
                operation.method, operation.path
            );
        }
    }

    /// The documented schema of `method path`'s answer with `status`, with the document's
    /// components beside it so its references resolve.
    fn answer_validator(
        document: &Value,
        method: &str,
        path: &str,
        status: u16,
    ) -> jsonschema::Validator {
        let mut schema = document["paths"][path][method.to_lowercase()]["responses"]
            [status.to_string()]["content"]["application/json"]["schema"]
            .clone();
        assert!(
            schema.is_object(),
            "{method} {path} documents no {status} answer"
        );
        schema["components"] = document["components"].clone();
        jsonschema::validator_for(&schema).expect("a valid draft 2020-12 schema")
    }

    #[actix_web::test]
    async fn every_typed_control_answer_matches_its_documented_schema() {
        let document = document();
        let app = test::init_service(build_app(state())).await;
        let mut calls: Vec<(&str, String, Option<Value>)> = vec![
            ("GET", "/_mock/health".into(), None),
            ("GET", "/_mock/ready".into(), None),
            ("GET", "/_mock/clock".into(), None),
            ("POST", "/_mock/clock/resume".into(), None),
            ("POST", "/_mock/clock/pause".into(), None),
            (
                "POST",
                "/_mock/clock/scale".into(),
                Some(json!({"scale": 2.5})),
            ),
            (
                "POST",
                "/_mock/clock/advance".into(),
                Some(json!({"by": "1m"})),
            ),
            (
                "POST",
                "/_mock/events".into(),
                Some(json!({"event": "domain.status_changed"})),
            ),
            ("GET", "/_mock/world".into(), None),
            ("POST", "/_mock/consent_requests".into(), Some(json!({}))),
            (
                "POST",
                "/_mock/client_id_requests".into(),
                Some(json!({"domain_name": "a.io"})),
            ),
            ("GET", "/_mock/subscriber".into(), None),
            (
                "PUT",
                "/_mock/subscriber".into(),
                Some(json!({"profile": "current", "url": "http://127.0.0.1:9/hook"})),
            ),
            ("GET", "/_mock/openapi.json".into(), None),
        ];
        let mut checked = 0;
        let mut consent = None;
        while let Some((method, path, body)) = (!calls.is_empty()).then(|| calls.remove(0)) {
            let request = match method {
                "GET" => test::TestRequest::get(),
                "PUT" => test::TestRequest::put(),
                _ => test::TestRequest::post(),
            }
            .uri(&path);
            let request = match &body {
                Some(body) => request.set_json(body),
                None => request,
            };
            let response = test::call_service(&app, request.to_request()).await;
            let status = response.status().as_u16();
            let answer: Value = test::read_body_json(response).await;
            let template = OPERATIONS
                .iter()
                .find(|o| {
                    o.method == method
                        && crate::server::operations::methods_of(&path).contains(&method)
                        && {
                            let t: Vec<&str> = o.path.split('/').collect();
                            let p: Vec<&str> = path.split('/').collect();
                            t.len() == p.len()
                                && t.iter().zip(&p).all(|(t, p)| t == p || t.starts_with('{'))
                        }
                })
                .map(|o| o.path)
                .expect("a documented route");
            let validator = answer_validator(&document, method, template, status);
            let errors: Vec<String> = validator
                .iter_errors(&answer)
                .map(|e| e.to_string())
                .collect();
            assert!(
                errors.is_empty(),
                "{method} {path} answered {status} {answer}: {errors:?}"
            );
            checked += 1;
            if path == "/_mock/consent_requests" {
                consent = answer["uid"].as_str().map(str::to_owned);
                let uid = consent.clone().expect("the request's uid");
                calls.push(("GET", format!("/_mock/consent_requests/{uid}"), None));
            }
            if let Some(to) = answer["allowed_transitions"][0].as_str() {
                let uid = consent.clone().expect("the request's uid");
                calls.push((
                    "POST",
                    format!("/_mock/consent_requests/{uid}/transition"),
                    Some(json!({"to": to})),
                ));
                calls.push(("POST", "/_mock/reset".into(), None));
            }
        }
        assert!(consent.is_some());
        assert_eq!(checked, 17, "every typed answer was checked");
    }
}
