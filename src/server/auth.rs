//! The admin token that guards the control API (`/_mock/...`).
//!
//! With `serve --admin-token T`, every control route except `/_mock/health` and `/_mock/ready`
//! (probes must work without credentials) needs `Authorization: Bearer T`; anything else gets
//! 401 `application/problem+json` with code [`ADMIN_UNAUTHORIZED`]. Without a token the control
//! API is open, which is why `serve` warns when it binds beyond loopback without one.
//!
//! The token travels as app data ([`AdminToken`]) so [`super::build_app`] keeps one signature;
//! the comparison is constant-time so response timing does not leak how much of a guess matched.
//!
//! **Without a token**, the control API trusts whoever reaches it, so it refuses what only a
//! browser tricked by another site would send ([`browser_refusal`]): a `Host` that is not a
//! loopback name (DNS rebinding: `evil.example` resolved to 127.0.0.1), an `Origin` that is not
//! a loopback page (cross-site requests), and a state-changing request whose body is not JSON
//! (an HTML form or a `text/plain` fetch, which need no CORS preflight). The probes, metrics and
//! the OpenAPI document stay open to any `Host` (they change nothing and reveal no secret;
//! orchestrators probe by IP). With a token, the bearer is the defence and none of this applies.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};

use super::problem::ApiError;

/// Control routes that stay open with an admin token set: liveness and readiness probes.
pub const OPEN_CONTROL_PATHS: [&str; 2] = ["/_mock/health", "/_mock/ready"];

pub use crate::admin_token::{ADMIN_UNAUTHORIZED, AdminToken, AdminUnauthorized};

/// Control routes any `Host` may read without a token: they change nothing and hold no secret.
const ANY_HOST_PATHS: [&str; 4] = [
    "/_mock/health",
    "/_mock/ready",
    "/_mock/metrics",
    "/_mock/openapi.json",
];

/// Whether `host` (a `Host` header or an origin's host, port allowed) names this machine:
/// `localhost`, `*.localhost`, `127.0.0.0/8` or `::1`.
pub fn loopback_name(host: &str) -> bool {
    let host = host.trim();
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(name, _)| name)
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Whether the request carries a body: a non-zero `Content-Length` or any `Transfer-Encoding`.
fn has_body(request: &ServiceRequest) -> bool {
    let headers = request.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|length| length > 0)
}

/// Whether a `Content-Type` value is JSON (`application/json` or `application/*+json`).
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Why a control request without an admin token looks like a browser attack (see the module
/// docs), or `None` when it may pass.
pub fn browser_refusal(request: &ServiceRequest) -> Option<ApiError> {
    let headers = request.headers();
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if !ANY_HOST_PATHS.contains(&request.path()) {
        let host = text(header::HOST)
            .map(str::to_owned)
            .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
        if let Some(host) = host.filter(|h| !loopback_name(h)) {
            return Some(ApiError::ForeignRequest(format!(
                "the control API without --admin-token answers loopback names only, not Host \
                 `{host}` (DNS rebinding); use localhost or 127.0.0.1, or set --admin-token"
            )));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = origin
            .to_str()
            .ok()
            .and_then(|o| url::Url::parse(o).ok())
            .filter(|o| matches!(o.scheme(), "http" | "https"))
            .and_then(|o| o.host_str().map(str::to_owned));
        if !host.is_some_and(|h| loopback_name(&h)) {
            return Some(ApiError::ForeignRequest(format!(
                "the control API without --admin-token refuses requests from other sites \
                 (Origin `{}`); set --admin-token to call it from a page elsewhere",
                String::from_utf8_lossy(origin.as_bytes())
            )));
        }
    }
    let changes = !matches!(
        *request.method(),
        actix_web::http::Method::GET
            | actix_web::http::Method::HEAD
            | actix_web::http::Method::OPTIONS
    );
    if changes {
        match text(header::CONTENT_TYPE) {
            Some(kind) if !is_json(kind) => {
                return Some(ApiError::UnsupportedMediaType(kind.to_owned()));
            }
            None if has_body(request) => {
                return Some(ApiError::UnsupportedMediaType("none".to_owned()));
            }
            _ => {}
        }
    }
    None
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
    let tokenless = request.app_data::<web::Data<AdminToken>>().is_none();
    if tokenless && let Some(refusal) = browser_refusal(&request) {
        let (request, _) = request.into_parts();
        return Ok(ServiceResponse::new(request, refusal.error_response()));
    }
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
    use crate::contract::Secret;

    #[test]
    fn only_the_exact_token_matches() {
        let token = AdminToken::new(Secret::new("s3cret"));
        assert!(token.matches("s3cret"));
        assert!(!token.matches("s3cre"));
        assert!(!token.matches("s3cretX"));
        assert!(!token.matches(""));
    }

    #[test]
    fn loopback_names_are_recognized_with_or_without_a_port() {
        for host in [
            "localhost",
            "localhost:8025",
            "LOCALHOST.",
            "app.localhost:3000",
            "127.0.0.1",
            "127.0.0.1:8025",
            "[::1]:8025",
            "::1",
        ] {
            assert!(loopback_name(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8025",
            "localhost.evil.example",
            "10.0.0.1:8025",
            "0.0.0.0",
            "",
            "[::2]:80",
        ] {
            assert!(!loopback_name(host), "{host}");
        }
    }

    #[test]
    fn json_content_types_are_recognized() {
        for kind in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(is_json(kind), "{kind}");
        }
        for kind in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ] {
            assert!(!is_json(kind), "{kind}");
        }
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
