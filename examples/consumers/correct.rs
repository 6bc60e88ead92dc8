//! A correct InboxKit webhook consumer, written as an integrator would (actix-web, hmac, sha2):
//!
//! - verifies `X-InboxKit-Signature` over the exact raw bytes, in constant time (401 if wrong);
//! - refuses a body that is not a webhook with 400 (never 5xx: a retry cannot fix it);
//! - acknowledges event types it does not know with 200 and ignores them;
//! - dedupes on the whole change: `uid`, `status`, `previous_status` and `timestamp` (a new
//!   status of the same entity, or a later return to a status it had, is a new event);
//! - answers 200 quickly with the documented body;
//! - cooperates with `inboxkit-mock check`: `GET /processed` answers `{"processed": N}`.
//!
//! Shared by `examples/consumer_correct.rs` and the integration tests.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::dev::Server;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The key `X-InboxKit-Signature` is checked with.
#[derive(Clone)]
pub enum Key {
    /// Seed docs: `sha256=` + hex HMAC-SHA256(webhook secret, raw body).
    WebhookSecret(String),
    /// Newer docs: `sha256=` + hex SHA-256(API key), the same for every request.
    ApiKey(String),
}

struct State {
    key: Key,
    seen: Mutex<HashSet<(String, String, String, String)>>,
    processed: AtomicU64,
}

/// Starts the consumer on `listener`: `POST /webhook`, `GET /processed`.
pub fn start(listener: TcpListener, key: Key) -> std::io::Result<Server> {
    let state = web::Data::new(State {
        key,
        seen: Mutex::new(HashSet::new()),
        processed: AtomicU64::new(0),
    });
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/webhook", web::post().to(webhook))
            .route("/processed", web::get().to(processed))
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run())
}

fn expected_digest(key: &Key, body: &[u8]) -> [u8; 32] {
    match key {
        Key::WebhookSecret(secret) => {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
            mac.update(body);
            mac.finalize().into_bytes().into()
        }
        Key::ApiKey(api_key) => Sha256::digest(api_key.as_bytes()).into(),
    }
}

/// Checks the header against the raw body bytes, in constant time.
fn signature_is_valid(key: &Key, body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_part) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let mut given = [0u8; 32];
    if hex::decode_to_slice(hex_part, &mut given).is_err() {
        return false;
    }
    given.ct_eq(&expected_digest(key, body)).into()
}

fn refuse(code: u16, message: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(code).expect("a valid code");
    HttpResponse::build(status).json(json!({"success": false, "message": message}))
}

fn acknowledge() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "success": true,
        "message": "Webhook processed successfully",
        "received_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }))
}

async fn webhook(request: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let header = request
        .headers()
        .get("X-InboxKit-Signature")
        .and_then(|v| v.to_str().ok());
    // Verify the bytes as received, before parsing anything.
    if !signature_is_valid(&state.key, &body, header) {
        return refuse(401, "invalid signature");
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return refuse(400, "the body is not JSON");
    };
    let Some(event) = payload.get("event").and_then(Value::as_str) else {
        return refuse(400, "no event");
    };
    let entity_key = match event {
        "domain.status_changed" => "domain",
        "mailbox.status_changed" => "mailbox",
        "consent_request.status_changed" => "consent_request",
        "client_id_request.status_changed" => "client_id_request",
        // A type added after this code was written: acknowledge, do nothing.
        _ => return acknowledge(),
    };
    let entity = payload.get("data").and_then(|d| d.get(entity_key));
    let field = |name: &str| entity.and_then(|e| e.get(name)).and_then(Value::as_str);
    let (Some(uid), Some(status)) = (field("uid"), field("status")) else {
        return refuse(400, "the entity needs uid and status");
    };
    let previous = field("previous_status").unwrap_or_default();
    let at = payload
        .get("timestamp")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let first_time = state.seen.lock().expect("dedupe lock").insert((
        uid.to_owned(),
        status.to_owned(),
        previous.to_owned(),
        at.to_owned(),
    ));
    if first_time {
        // Real work goes here (or onto a queue); an exact repeat skips it.
        state.processed.fetch_add(1, Ordering::SeqCst);
    }
    acknowledge()
}

async fn processed(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"processed": state.processed.load(Ordering::SeqCst)}))
}
