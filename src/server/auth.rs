//! The admin token that guards the control API (`/_mock/...`).
//!
//! With `serve --admin-token T`, every control route except `/_mock/health` and `/_mock/ready`
//! (probes must work without credentials) needs `Authorization: Bearer T`; anything else gets
//! 401 `application/problem+json` with code [`ADMIN_UNAUTHORIZED`]. Without a token the control
//! API is open, which is why `serve` warns when it binds beyond loopback without one.
//!
//! The token travels as app data ([`AdminToken`]) so [`super::build_app`] keeps one signature;
//! the comparison is constant-time so response timing does not leak how much of a guess matched.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::problem::PROBLEM_TYPE_BASE;
use crate::contract::Secret;

/// The stable problem code of a control call without the right admin token.
pub const ADMIN_UNAUTHORIZED: &str = "admin_unauthorized";

/// Control routes that stay open with an admin token set: liveness and readiness probes.
pub const OPEN_CONTROL_PATHS: [&str; 2] = ["/_mock/health", "/_mock/ready"];

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

/// Whether a request may pass: no token configured, an open probe path, or the right bearer.
fn allowed(request: &ServiceRequest) -> bool {
    let Some(token) = request.app_data::<web::Data<AdminToken>>() else {
        return true;
    };
    if OPEN_CONTROL_PATHS.contains(&request.path()) {
        return true;
    }
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|presented| token.matches(presented.trim()))
}

/// Middleware for the `/_mock` scope: refuses calls without the admin token when one is set.
pub async fn require_admin(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if allowed(&request) {
        return Ok(next.call(request).await?.map_into_boxed_body());
    }
    let (request, _) = request.into_parts();
    Ok(ServiceResponse::new(
        request,
        AdminUnauthorized.error_response(),
    ))
}

/// Whether binding `host` exposes the server beyond this machine (anything not loopback).
pub fn beyond_loopback(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return false;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => !ip.is_loopback(),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        let token = AdminToken::new(Secret::new("s3cret"));
        assert!(token.matches("s3cret"));
        assert!(!token.matches("s3cre"));
        assert!(!token.matches("s3cretX"));
        assert!(!token.matches(""));
    }

    #[test]
    fn loopback_addresses_are_local() {
        for host in ["127.0.0.1", "::1", "[::1]", "localhost", "127.1.2.3"] {
            assert!(!beyond_loopback(host), "{host}");
        }
        for host in ["0.0.0.0", "::", "192.168.1.5", "example.com"] {
            assert!(beyond_loopback(host), "{host}");
        }
    }
}
