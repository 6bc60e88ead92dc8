//! Every error the server answers, as one enum with stable codes.
//!
//! The control API (`/_mock/...`) renders them as RFC 7807 `application/problem+json`; the mock
//! InboxKit REST API (`/v1/api/...`) renders the same errors in InboxKit's own envelope,
//! `{"error": true, "message": "..."}`, so a client sees what the real service would send.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde_json::{Map, Value, json};

use super::state::refusal::{AdvanceError, Refused};
use crate::delivery::Overloaded;
use crate::model::world::WorldError;
use crate::simulation::IllegalTransition;
use crate::simulation::simulator::ActionError;

pub use crate::admin_token::PROBLEM_TYPE_BASE;

/// Seconds an `overloaded` answer asks the caller to wait (`Retry-After`).
pub const OVERLOADED_RETRY_AFTER_SECS: u64 = 1;

/// An API error with a stable machine-readable code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (bad JSON, bad field, bad query).
    #[error("{0}")]
    BadRequest(String),
    /// No or wrong `Authorization: Bearer <API key>`.
    #[error("missing or invalid API key: send `Authorization: Bearer <API key>`")]
    Unauthorized,
    /// No entity with that uid (in that workspace).
    #[error("no {kind} with uid `{uid}`")]
    UnknownEntity {
        /// Entity kind.
        kind: &'static str,
        /// The uid asked for.
        uid: String,
    },
    /// No workspace with that id.
    #[error("no workspace `{0}`")]
    UnknownWorkspace(String),
    /// No delivery with that id (never made, or evicted from the bounded journal).
    #[error("no delivery `{0}` in the journal")]
    UnknownDelivery(String),
    /// The lifecycle does not allow the transition; names the allowed ones.
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    /// The request conflicts with the world (duplicate name or address, full domain).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the configured limit.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// No route for this method and path.
    #[error("no route for {method} {path}")]
    NotFound {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
    },
    /// The server is shutting down and takes no new work.
    #[error("the mock is shutting down and accepts no new work")]
    ShuttingDown,
    /// As many deliveries as `--max-in-progress` allows are in progress; answered 429 with
    /// `Retry-After`.
    #[error(transparent)]
    Overloaded(#[from] Overloaded),
    /// Saved state (`--state sqlite:PATH`) cannot be written (a full disk): changes are kept
    /// and retried, but nothing new is confirmed until a commit succeeds again.
    #[error("the state database cannot be written ({0}); retry once it has space again")]
    StateUnsaved(String),
    /// The path exists, but not with this method; `Allow` names the ones it has.
    #[error("{method} is not allowed on {path}; allowed: {}", allowed.join(", "))]
    MethodNotAllowed {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// The methods the path answers.
        allowed: Vec<&'static str>,
    },
    /// Without an admin token, a request that looks like a browser attack (foreign `Host` or
    /// `Origin`); the message names what was refused.
    #[error("{0}")]
    ForeignRequest(String),
    /// A state-changing control call whose body is not JSON.
    #[error("the body must be JSON, sent with `Content-Type: application/json` (got `{0}`)")]
    UnsupportedMediaType(String),
    /// The body did not arrive in time.
    #[error("the request body was not received within {seconds} s")]
    RequestTimeout {
        /// The limit in seconds.
        seconds: u64,
    },
    /// A failure inside the mock.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The stable code, e.g. `illegal_transition`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::UnknownEntity { .. } => "unknown_entity",
            ApiError::UnknownWorkspace(_) => "unknown_workspace",
            ApiError::UnknownDelivery(_) => "unknown_delivery",
            ApiError::IllegalTransition(_) => "illegal_transition",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::NotFound { .. } => "not_found",
            ApiError::ShuttingDown => "shutting_down",
            ApiError::Overloaded(_) => "overloaded",
            ApiError::StateUnsaved(_) => "state_unsaved",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::RequestTimeout { .. } => "request_timeout",
            ApiError::ForeignRequest(_) => "foreign_request",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Internal(_) => "internal",
        }
    }

    /// A short, fixed summary of the kind of problem.
    pub fn title(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "Bad request",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::UnknownEntity { .. } => "Unknown entity",
            ApiError::UnknownWorkspace(_) => "Unknown workspace",
            ApiError::UnknownDelivery(_) => "Unknown delivery",
            ApiError::IllegalTransition(_) => "Illegal transition",
            ApiError::Conflict(_) => "Conflict",
            ApiError::PayloadTooLarge { .. } => "Payload too large",
            ApiError::NotFound { .. } => "Not found",
            ApiError::ShuttingDown => "Shutting down",
            ApiError::Overloaded(_) => "Overloaded",
            ApiError::StateUnsaved(_) => "State not saved",
            ApiError::MethodNotAllowed { .. } => "Method not allowed",
            ApiError::RequestTimeout { .. } => "Request timeout",
            ApiError::ForeignRequest(_) => "Forbidden",
            ApiError::UnsupportedMediaType(_) => "Unsupported media type",
            ApiError::Internal(_) => "Internal error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::UnknownEntity { .. }
            | ApiError::UnknownWorkspace(_)
            | ApiError::UnknownDelivery(_)
            | ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::IllegalTransition(_) | ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::ShuttingDown | ApiError::StateUnsaved(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Overloaded(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::ForeignRequest(_) => StatusCode::FORBIDDEN,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The RFC 7807 body: `type`, `title`, `status`, `detail`, `code`, plus fields per problem.
    pub fn problem(&self) -> Value {
        let mut body = Map::new();
        body.insert(
            "type".into(),
            json!(format!("{PROBLEM_TYPE_BASE}{}", self.code())),
        );
        body.insert("title".into(), json!(self.title()));
        body.insert("status".into(), json!(self.status().as_u16()));
        body.insert("detail".into(), json!(self.to_string()));
        body.insert("code".into(), json!(self.code()));
        match self {
            ApiError::IllegalTransition(illegal) => {
                body.insert("entity".into(), json!(illegal.entity));
                body.insert("from".into(), json!(illegal.from));
                body.insert("to".into(), json!(illegal.to));
                body.insert("allowed".into(), json!(illegal.allowed));
            }
            ApiError::UnknownEntity { kind, uid } => {
                body.insert("entity".into(), json!(kind));
                body.insert("uid".into(), json!(uid));
            }
            ApiError::PayloadTooLarge { limit } => {
                body.insert("limit_bytes".into(), json!(limit));
            }
            ApiError::Overloaded(overloaded) => {
                body.insert("in_progress".into(), json!(overloaded.in_progress));
                body.insert("max_in_progress".into(), json!(overloaded.limit));
                body.insert(
                    "retry_after_seconds".into(),
                    json!(OVERLOADED_RETRY_AFTER_SECS),
                );
            }
            ApiError::MethodNotAllowed { allowed, .. } => {
                body.insert("allowed".into(), json!(allowed));
            }
            _ => {}
        }
        Value::Object(body)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status());
        self.extra_headers(&mut builder);
        builder
            .content_type("application/problem+json")
            .body(self.problem().to_string())
    }
}

impl ApiError {
    /// `Allow` on a 405, `Retry-After` on a 503 and a 429.
    fn extra_headers(&self, builder: &mut actix_web::HttpResponseBuilder) {
        match self {
            ApiError::MethodNotAllowed { allowed, .. } => {
                builder.insert_header((actix_web::http::header::ALLOW, allowed.join(", ")));
            }
            ApiError::StateUnsaved(_) | ApiError::ShuttingDown => {
                builder.insert_header((actix_web::http::header::RETRY_AFTER, "1"));
            }
            ApiError::Overloaded(_) => {
                builder.insert_header((
                    actix_web::http::header::RETRY_AFTER,
                    OVERLOADED_RETRY_AFTER_SECS,
                ));
            }
            _ => {}
        }
    }
}

impl From<ActionError> for ApiError {
    fn from(error: ActionError) -> Self {
        match error {
            ActionError::UnknownEntity { kind, uid } => ApiError::UnknownEntity { kind, uid },
            ActionError::Illegal(illegal) => ApiError::IllegalTransition(illegal),
            ActionError::World(world) => world.into(),
        }
    }
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::ShuttingDown => ApiError::ShuttingDown,
            Refused::StateUnsaved(reason) => ApiError::StateUnsaved(reason),
        }
    }
}

impl From<AdvanceError> for ApiError {
    fn from(error: AdvanceError) -> Self {
        match error {
            AdvanceError::Refused(refused) => refused.into(),
            AdvanceError::OutOfRange(error) => ApiError::BadRequest(format!("`by`: {error}")),
        }
    }
}

impl From<WorldError> for ApiError {
    fn from(error: WorldError) -> Self {
        match error {
            WorldError::DuplicateDomain(_)
            | WorldError::DuplicateEmail(_)
            | WorldError::DomainFull(_)
            | WorldError::DomainNotActive(_) => ApiError::Conflict(error.to_string()),
            // A mailbox on a domain that does not exist: the referenced resource is missing.
            WorldError::UnknownDomain(name) => ApiError::UnknownEntity {
                kind: "domain",
                uid: name,
            },
            WorldError::Invalid(..) => ApiError::BadRequest(error.to_string()),
        }
    }
}

/// An [`ApiError`] answered in InboxKit's envelope: `{"error": true, "message": "..."}`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct RestError(#[from] pub ApiError);

impl From<ActionError> for RestError {
    fn from(error: ActionError) -> Self {
        RestError(error.into())
    }
}

impl From<Refused> for RestError {
    fn from(refused: Refused) -> Self {
        RestError(refused.into())
    }
}

impl From<WorldError> for RestError {
    fn from(error: WorldError) -> Self {
        RestError(error.into())
    }
}

impl ResponseError for RestError {
    fn status_code(&self) -> StatusCode {
        self.0.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.0.status());
        self.0.extra_headers(&mut builder);
        builder
            .insert_header(ContentType::json())
            .json(json!({"error": true, "message": self.0.to_string()}))
    }
}

/// Maps a JSON body error to the matching problem (413 for a body over the limit).
pub fn json_error(error: actix_web::error::JsonPayloadError, limit: usize) -> ApiError {
    use actix_web::error::JsonPayloadError;
    match error {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::PayloadTooLarge { limit }
        }
        JsonPayloadError::ContentType => ApiError::BadRequest(
            "the body must be JSON, sent with `Content-Type: application/json`".into(),
        ),
        JsonPayloadError::Payload(payload) if crate::listener_limits::timed_out(&payload) => {
            ApiError::RequestTimeout {
                seconds: crate::listener_limits::BODY_TIMEOUT.as_secs(),
            }
        }
        other => ApiError::BadRequest(format!("invalid JSON body: {other}")),
    }
}

/// An optional JSON body: empty means `T::default()`, anything else must parse as `T` (400
/// otherwise; `Option<web::Json<T>>` would silently take invalid JSON as no body).
pub fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let bad = |e: serde_json::Error| ApiError::BadRequest(format!("invalid JSON body: {e}"));
    match serde_json::from_slice::<Value>(body).map_err(bad)? {
        object @ Value::Object(_) => serde_json::from_value(object).map_err(bad),
        _ => Err(ApiError::BadRequest(
            "invalid JSON body: expected an object".into(),
        )),
    }
}

/// Maps a query-string error to a problem.
pub fn query_error(error: actix_web::error::QueryPayloadError) -> ApiError {
    ApiError::BadRequest(format!("invalid query string: {error}"))
}

/// The fallback for unknown routes: 404 `not_found` in the control API's format, or 405
/// `method_not_allowed` when the path is known under other methods.
pub async fn not_found(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(unrouted(&request))
}

/// Why no route took `request`: 405 (with the allowed methods) when a documented operation has
/// this path, 404 otherwise.
pub fn unrouted(request: &HttpRequest) -> ApiError {
    let mut allowed = super::operations::methods_of(request.path());
    if allowed.is_empty() {
        return ApiError::NotFound {
            method: request.method().to_string(),
            path: request.path().to_owned(),
        };
    }
    if allowed.contains(&"GET") {
        allowed.push("HEAD");
    }
    allowed.sort_unstable();
    allowed.dedup();
    ApiError::MethodNotAllowed {
        method: request.method().to_string(),
        path: request.path().to_owned(),
        allowed,
    }
}
