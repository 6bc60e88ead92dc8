//! A buggy InboxKit webhook consumer with three mistakes seen in real integrations:
//!
//! 1. it verifies the signature over a *re-serialized* body (parse, then `to_vec`) instead of
//!    the raw bytes, so any body not in serde's compact form is refused;
//! 2. it dedupes on `uid` alone, so a later status of the same entity is dropped as a repeat;
//! 3. it answers 500 to event types it does not know, so InboxKit retries them in vain.
//!
//! Otherwise it behaves, including `GET /processed`, so `inboxkit-mock check` can name exactly
//! these three. Shared by `examples/consumer_buggy.rs` and the integration tests.

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
    /// HMAC-SHA256 with the webhook secret.
    WebhookSecret(String),
    /// SHA-256 of the API key.
    ApiKey(String),
}

struct State {
    key: Key,
    seen: Mutex<HashSet<String>>,
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

fn signature_is_valid(key: &Key, signed: &[u8], header: Option<&str>) -> bool {
    let expected: [u8; 32] = match key {
        Key::WebhookSecret(secret) => {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
            mac.update(signed);
            mac.finalize().into_bytes().into()
        }
        Key::ApiKey(api_key) => Sha256::digest(api_key.as_bytes()).into(),
    };
    let mut given = [0u8; 32];
    match header.and_then(|h| h.strip_prefix("sha256=")) {
        Some(hex_part) if hex::decode_to_slice(hex_part, &mut given).is_ok() => {
            given.ct_eq(&expected).into()
        }
        _ => false,
    }
}

fn answer(code: u16, body: Value) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(code).expect("a valid code"))
        .json(body)
}

async fn webhook(request: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return answer(400, json!({"success": false, "message": "bad json"}));
    };
    // BUG 1: the signature is checked over the body as re-serialized, not as received.
    let reserialized = serde_json::to_vec(&payload).expect("JSON values serialize");
    let header = request
        .headers()
        .get("X-InboxKit-Signature")
        .and_then(|v| v.to_str().ok());
    if !signature_is_valid(&state.key, &reserialized, header) {
        return answer(
            401,
            json!({"success": false, "message": "invalid signature"}),
        );
    }
    let entity_key = match payload.get("event").and_then(Value::as_str) {
        Some("domain.status_changed") => "domain",
        Some("mailbox.status_changed") => "mailbox",
        Some("consent_request.status_changed") => "consent_request",
        Some("client_id_request.status_changed") => "client_id_request",
        // BUG 3: an event type added later is an "error", and InboxKit retries it.
        _ => return answer(500, json!({"error": "unsupported event type"})),
    };
    let Some(uid) = payload
        .get("data")
        .and_then(|d| d.get(entity_key))
        .and_then(|e| e.get("uid"))
        .and_then(Value::as_str)
    else {
        return answer(400, json!({"success": false, "message": "no uid"}));
    };
    // BUG 2: dedupe on uid alone drops every later status of the same entity.
    if state
        .seen
        .lock()
        .expect("dedupe lock")
        .insert(uid.to_owned())
    {
        state.processed.fetch_add(1, Ordering::SeqCst);
    }
    answer(
        200,
        json!({"success": true, "message": "Webhook processed successfully"}),
    )
}

async fn processed(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"processed": state.processed.load(Ordering::SeqCst)}))
}
