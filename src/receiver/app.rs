//! The receiver's HTTP routes.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Value, json};

use super::ReceiverConfig;
use super::store::{ReceivedRecord, ReceivedStore, Verdict};
use crate::contract::{EventType, Signer, format_timestamp, headers};

/// Largest body the receiver reads; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The documented success message.
pub const SUCCESS_MESSAGE: &str = "Webhook processed successfully";

struct State {
    store: Arc<ReceivedStore>,
    verifier: Option<Signer>,
}

pub(super) fn server(
    listener: TcpListener,
    store: Arc<ReceivedStore>,
    config: ReceiverConfig,
) -> std::io::Result<Server> {
    let state = web::Data::new(State {
        store,
        verifier: config.verifier,
    });
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .route("/received", web::get().to(list_received))
            .route("/received", web::delete().to(clear_received))
            .route("/health", web::get().to(health))
            .default_service(web::post().to(receive))
    })
    .workers(config.workers.unwrap_or(2))
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run())
}

async fn list_received(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(state.store.all())
}

async fn clear_received(state: web::Data<State>) -> HttpResponse {
    state.store.clear();
    HttpResponse::NoContent().finish()
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// What a request turned out to be, before the answer is chosen.
struct Judgement {
    verdict: Verdict,
    problem: Option<String>,
    signature_valid: Option<bool>,
    event: Option<String>,
    uid: Option<String>,
    status: Option<String>,
}

async fn receive(request: HttpRequest, body: Bytes, state: web::Data<State>) -> HttpResponse {
    let judgement = judge(&request, &body, &state);
    let (code, answer) = match judgement.verdict {
        Verdict::Accepted | Verdict::Duplicate | Verdict::Faulted => (
            StatusCode::OK,
            json!({
                "success": true,
                "message": SUCCESS_MESSAGE,
                "received_at": format_timestamp(Utc::now()),
            }),
        ),
        Verdict::BadSignature => (
            StatusCode::UNAUTHORIZED,
            json!({"success": false, "message": judgement.problem}),
        ),
        Verdict::BadPayload => (
            StatusCode::BAD_REQUEST,
            json!({"success": false, "message": judgement.problem}),
        ),
    };
    state.store.push(ReceivedRecord {
        seq: 0,
        received_at: format_timestamp(Utc::now()),
        path: request.path().to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        event: judgement.event,
        uid: judgement.uid,
        status: judgement.status,
        signature_valid: judgement.signature_valid,
        verdict: judgement.verdict,
        problem: judgement.problem,
        answered: code.as_u16(),
    });
    HttpResponse::build(code).json(answer)
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

fn judge(request: &HttpRequest, body: &[u8], state: &State) -> Judgement {
    let mut judgement = Judgement {
        verdict: Verdict::Accepted,
        problem: None,
        signature_valid: None,
        event: None,
        uid: None,
        status: None,
    };
    // The signature is checked over the raw bytes, before any parsing.
    if let Some(verifier) = &state.verifier {
        let result = verifier.verify(body, header(request, headers::SIGNATURE));
        judgement.signature_valid = Some(result.is_ok());
        if let Err(error) = result {
            judgement.verdict = Verdict::BadSignature;
            judgement.problem = Some(error.to_string());
            return judgement;
        }
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => {
            judgement.verdict = Verdict::BadPayload;
            judgement.problem = Some(format!("the body is not JSON: {error}"));
            return judgement;
        }
    };
    judgement.event = value
        .get("event")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(event) = judgement.event.clone() else {
        judgement.verdict = Verdict::BadPayload;
        judgement.problem = Some("the body has no string field `event`".into());
        return judgement;
    };
    if header(request, headers::EVENT) != Some(event.as_str()) {
        judgement.verdict = Verdict::BadPayload;
        judgement.problem = Some(format!(
            "X-InboxKit-Event ({}) differs from the body's event ({event})",
            header(request, headers::EVENT).unwrap_or("missing")
        ));
        return judgement;
    }
    let event_type = EventType::parse(&event);
    let Some(key) = event_type.data_key() else {
        // A future event type: acknowledged, never a 5xx.
        return judgement;
    };
    let entity = value.get("data").and_then(|d| d.get(key));
    let field = |name: &str| {
        entity
            .and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    judgement.uid = field("uid");
    judgement.status = field("status");
    match (&judgement.uid, &judgement.status) {
        (Some(uid), Some(status)) => {
            if !state.store.first_sighting(uid, status) {
                judgement.verdict = Verdict::Duplicate;
            }
        }
        _ => {
            judgement.verdict = Verdict::BadPayload;
            judgement.problem = Some(format!("data.{key} needs string fields `uid` and `status`"));
        }
    }
    judgement
}
