//! The admin token that guards the control routes of `serve` and of the reference receiver,
//! and the 401 answer without it. A leaf both interfaces use, so neither imports the other.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::contract::Secret;

/// The prefix of every problem's `type` (RFC 7807), followed by its stable code.
pub const PROBLEM_TYPE_BASE: &str = "urn:inboxkit-mock:problem:";

/// The stable problem code of a control call without the right admin token.
pub const ADMIN_UNAUTHORIZED: &str = "admin_unauthorized";

/// The token the control API requires; register it as `web::Data<AdminToken>`.
#[derive(Debug, Clone)]
pub struct AdminToken(Secret);

impl AdminToken {
    /// Wraps the token value.
    pub fn new(token: Secret) -> Self {
        AdminToken(token)
    }

    /// Whether `presented` is the token, compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        presented
            .as_bytes()
            .ct_eq(self.0.expose().as_bytes())
            .into()
    }
}

/// A control call refused for lack of the admin token (401, problem+json).
#[derive(Debug, thiserror::Error)]
#[error("this control route needs `Authorization: Bearer <admin token>` (serve --admin-token)")]
pub struct AdminUnauthorized;

impl ResponseError for AdminUnauthorized {
    fn status_code(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

    fn error_response(&self) -> HttpResponse {
        let body = json!({
            "type": format!("{PROBLEM_TYPE_BASE}{ADMIN_UNAUTHORIZED}"),
            "title": "Unauthorized",
            "status": StatusCode::UNAUTHORIZED.as_u16(),
            "detail": self.to_string(),
            "code": ADMIN_UNAUTHORIZED,
        });
        HttpResponse::Unauthorized()
            .content_type("application/problem+json")
            .insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"inboxkit-mock control API\""),
            ))
            .body(body.to_string())
    }
}
