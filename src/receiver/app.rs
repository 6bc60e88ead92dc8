//! The receiver's HTTP routes: the webhook endpoint (any POST path), `/received`, `/faults`.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::ResponseError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bytes::Bytes;
use chrono::Utc;
use futures::stream::{self, StreamExt};
use serde_json::{Value, json};

use super::ReceiverConfig;
use super::faults::{FaultAnswer, FaultPlan, FaultProgram, Faults};
use super::store::{ChangeKey, ReceivedRecord, ReceivedStore, Verdict};
use crate::admin_token::{AdminToken, AdminUnauthorized};
use crate::contract::{EventType, Signer, format_timestamp, headers};
use crate::listener_limits as limits;

/// Largest body the receiver reads; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The documented success message.
pub const SUCCESS_MESSAGE: &str = "Webhook processed successfully";
/// How many pieces a dripped body is sent in.
const DRIP_PIECES: usize = 8;

struct State {
    store: Arc<ReceivedStore>,
    faults: Arc<Faults>,
    verifier: Option<Signer>,
    recording: Option<super::Recording>,
    admin: Option<AdminToken>,
}

/// Paths of the receiver's own control routes, guarded by the admin token when one is set.
const CONTROL_PATHS: [&str; 2] = ["/received", "/faults"];

/// Middleware: with an admin token, the control routes need it (401 problem otherwise).
async fn require_admin(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let admin = request
        .app_data::<web::Data<State>>()
        .and_then(|state| state.admin.clone());
    let guarded = CONTROL_PATHS.contains(&request.path())
        && !(request.method() == actix_web::http::Method::POST);
    if let (true, Some(admin)) = (guarded, admin) {
        let presented = request
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if !presented.is_some_and(|p| admin.matches(p)) {
            let (request, _) = request.into_parts();
            return Ok(ServiceResponse::new(
                request,
                AdminUnauthorized.error_response(),
            ));
        }
    }
    Ok(next.call(request).await?.map_into_boxed_body())
}

pub(super) fn server(
    listener: TcpListener,
    store: Arc<ReceivedStore>,
    faults: Arc<Faults>,
    config: ReceiverConfig,
) -> std::io::Result<Server> {
    let state = web::Data::new(State {
        store,
        faults,
        verifier: config.verifier,
        recording: config.recording,
        admin: config.admin_token.map(AdminToken::new),
    });
    let workers = config.workers.unwrap_or(2);
    Ok(HttpServer::new(move || {
        App::new()
            .wrap(from_fn(require_admin))
            .wrap(from_fn(|request, next| {
                limits::with_deadline(request, next, limits::BODY_TIMEOUT)
            }))
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .route("/received", web::get().to(list_received))
            .route("/received", web::delete().to(clear_received))
            .route("/faults", web::get().to(list_faults))
            .route("/faults", web::put().to(replace_faults))
            .route("/faults", web::delete().to(clear_faults))
            .route("/processed", web::get().to(processed))
            .route("/health", web::get().to(health))
            .default_service(web::post().to(receive))
    })
    .workers(workers)
    .client_request_timeout(limits::HEAD_TIMEOUT)
    .client_disconnect_timeout(limits::DISCONNECT_TIMEOUT)
    .max_connections(limits::connections_per_worker(workers))
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

/// The processed-endpoint protocol of `check`: events processed, acknowledged duplicates not
/// counted.
async fn processed(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"processed": state.store.processed_count()}))
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

fn faults_answer(programs: &[FaultProgram]) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "faults": programs,
        "specs": programs.iter().map(ToString::to_string).collect::<Vec<_>>(),
    }))
}

async fn list_faults(state: web::Data<State>) -> HttpResponse {
    faults_answer(&state.faults.programs())
}

/// `PUT /faults` takes `["status=500,200", ...]`, `{"faults": [...]}`, or structured objects.
async fn replace_faults(body: Bytes, state: web::Data<State>) -> HttpResponse {
    match parse_fault_list(&body) {
        Ok(programs) => {
            state.faults.set(programs.clone());
            faults_answer(&programs)
        }
        Err(message) => {
            HttpResponse::BadRequest().json(json!({"success": false, "message": message}))
        }
    }
}

async fn clear_faults(state: web::Data<State>) -> HttpResponse {
    state.faults.set(Vec::new());
    faults_answer(&[])
}

fn parse_fault_list(body: &[u8]) -> Result<Vec<FaultProgram>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let list = match value {
        Value::Object(mut object) => object
            .remove("faults")
            .ok_or("the body needs a `faults` list, e.g. {\"faults\": [\"status=500,200\"]}")?,
        list @ Value::Array(_) => list,
        _ => return Err("the body must be a list of fault programs or {\"faults\": [...]}".into()),
    };
    serde_json::from_value(list).map_err(|e| e.to_string())
}

/// What a request turned out to be, before faults and dedupe decide the answer.
struct Judgement {
    verdict: Verdict,
    problem: Option<String>,
    signature_valid: Option<bool>,
    event: Option<String>,
    uid: Option<String>,
    status: Option<String>,
    previous_status: Option<String>,
    timestamp: Option<String>,
}

/// The answer chosen for a request.
enum Answer {
    Json {
        code: StatusCode,
        body: Value,
        retry_after: Option<Duration>,
    },
    Close,
}

async fn receive(request: HttpRequest, body: Bytes, state: web::Data<State>) -> HttpResponse {
    let mut judgement = judge(&request, &body, state.verifier.as_ref());
    let plan = state
        .faults
        .plan(judgement.event.as_deref(), judgement.uid.as_deref());
    let answer = decide(&mut judgement, &plan, &state.store);
    let answered = match &answer {
        Answer::Json { code, .. } => code.as_u16(),
        Answer::Close => 0,
    };
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    if let Some(recording) = &state.recording {
        let verdicts = recording.keys.verdicts_for(&headers, &body);
        if let Err(error) = recording.recorder.record(
            request.method().as_str(),
            request.path(),
            &headers,
            &body,
            verdicts,
        ) {
            tracing::error!(%error, "could not record a request");
        }
    }
    state.store.push(ReceivedRecord {
        seq: 0,
        received_at: format_timestamp(Utc::now()),
        path: request.path().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        event: judgement.event,
        uid: judgement.uid,
        status: judgement.status,
        signature_valid: judgement.signature_valid,
        verdict: judgement.verdict,
        problem: judgement.problem,
        answered,
        fault: (!plan.is_clean()).then(|| plan.applied.join("; ")),
    });
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    respond(answer, plan.drip)
}

/// Applies the fault plan, or processes the request (marking its change as seen: `uid`,
/// `status`, `previous_status` and `timestamp`).
fn decide(judgement: &mut Judgement, plan: &FaultPlan, store: &ReceivedStore) -> Answer {
    let failure = |code: StatusCode, message: String| Answer::Json {
        code,
        body: json!({"success": false, "message": message}),
        retry_after: None,
    };
    if let Some(fault) = &plan.answer {
        judgement.verdict = Verdict::Faulted;
        judgement.problem = Some(format!("fault injected: {}", plan.applied.join("; ")));
        return match fault {
            FaultAnswer::Status { code, retry_after } => Answer::Json {
                code: StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                body: json!({"success": false, "message": judgement.problem}),
                retry_after: *retry_after,
            },
            FaultAnswer::Close => Answer::Close,
            FaultAnswer::BadSignature => failure(
                StatusCode::UNAUTHORIZED,
                "the signature does not match (fault injected: bad-signature)".into(),
            ),
        };
    }
    if judgement.verdict == Verdict::Accepted
        && let (Some(uid), Some(status)) = (&judgement.uid, &judgement.status)
        && !store.first_sighting(&ChangeKey {
            uid,
            status,
            previous_status: judgement.previous_status.as_deref(),
            timestamp: judgement.timestamp.as_deref(),
        })
    {
        judgement.verdict = Verdict::Duplicate;
    }
    let problem = judgement.problem.clone().unwrap_or_default();
    match judgement.verdict {
        Verdict::Accepted | Verdict::Duplicate | Verdict::Faulted => Answer::Json {
            code: plan
                .success_status
                .and_then(|code| StatusCode::from_u16(code).ok())
                .unwrap_or(StatusCode::OK),
            body: json!({
                "success": true,
                "message": SUCCESS_MESSAGE,
                "received_at": format_timestamp(Utc::now()),
            }),
            retry_after: None,
        },
        Verdict::BadSignature => failure(StatusCode::UNAUTHORIZED, problem),
        Verdict::BadPayload => failure(StatusCode::BAD_REQUEST, problem),
    }
}

fn respond(answer: Answer, drip: Option<Duration>) -> HttpResponse {
    match answer {
        // A body stream that fails before its first piece makes actix drop the connection before
        // the response head is written: the client sees the connection close with no answer.
        Answer::Close => HttpResponse::Ok().streaming(stream::once(async {
            Err::<Bytes, std::io::Error>(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "fault injected: close the connection without an answer",
            ))
        })),
        Answer::Json {
            code,
            body,
            retry_after,
        } => {
            let mut builder = HttpResponse::build(code);
            if let Some(retry_after) = retry_after {
                builder.insert_header((RETRY_AFTER, retry_after.as_secs().to_string()));
            }
            let bytes = Bytes::from(body.to_string());
            match drip {
                None => builder.content_type("application/json").body(bytes),
                Some(over) => builder
                    .content_type("application/json")
                    .streaming(drip_body(bytes, over)),
            }
        }
    }
}

/// The body in [`DRIP_PIECES`] pieces, each sent after an equal share of `over`.
fn drip_body(
    body: Bytes,
    over: Duration,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    let pieces = DRIP_PIECES.min(body.len()).max(1);
    let size = body.len().div_ceil(pieces).max(1);
    let step = over / u32::try_from(pieces).unwrap_or(1);
    let chunks: Vec<Bytes> = (0..body.len())
        .step_by(size)
        .map(|at| body.slice(at..(at + size).min(body.len())))
        .collect();
    stream::iter(chunks).then(move |chunk| async move {
        tokio::time::sleep(step).await;
        Ok(chunk)
    })
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Verifies the signature over the raw bytes, then validates the body; also extracts what
/// faults target (event, uid) even from requests that will be refused.
fn judge(request: &HttpRequest, body: &[u8], verifier: Option<&Signer>) -> Judgement {
    let mut judgement = Judgement {
        verdict: Verdict::Accepted,
        problem: None,
        signature_valid: None,
        event: header(request, headers::EVENT).map(str::to_owned),
        uid: None,
        status: None,
        previous_status: None,
        timestamp: None,
    };
    let signature = verifier.map(|v| v.verify(body, header(request, headers::SIGNATURE)));
    judgement.signature_valid = signature.as_ref().map(Result::is_ok);
    let parsed = serde_json::from_slice::<Value>(body);
    if let Ok(value) = &parsed {
        if let Some(event) = value.get("event").and_then(Value::as_str) {
            judgement.event = Some(event.to_owned());
        }
        let key = judgement
            .event
            .as_deref()
            .map(EventType::parse)
            .and_then(|e| e.data_key());
        let entity = key.and_then(|key| value.get("data").and_then(|d| d.get(key)));
        let field = |name: &str| {
            entity
                .and_then(|e| e.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        judgement.uid = field("uid");
        judgement.status = field("status");
        judgement.previous_status = field("previous_status");
        judgement.timestamp = value
            .get("timestamp")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    judgement.problem = problem(request, &parsed, signature, &judgement);
    if let Some(refusal) = &judgement.problem {
        judgement.verdict = if judgement.signature_valid == Some(false) {
            Verdict::BadSignature
        } else {
            Verdict::BadPayload
        };
        tracing::debug!(problem = %refusal, "request refused");
    }
    judgement
}

/// Why the request is refused, checking the signature first; `None` when it is acceptable.
fn problem(
    request: &HttpRequest,
    parsed: &Result<Value, serde_json::Error>,
    signature: Option<Result<(), crate::contract::SignatureError>>,
    judgement: &Judgement,
) -> Option<String> {
    if let Some(Err(error)) = signature {
        return Some(error.to_string());
    }
    let value = match parsed {
        Ok(value) => value,
        Err(error) => return Some(format!("the body is not JSON: {error}")),
    };
    let Some(event) = value.get("event").and_then(Value::as_str) else {
        return Some("the body has no string field `event`".into());
    };
    if header(request, headers::EVENT) != Some(event) {
        return Some(format!(
            "X-InboxKit-Event ({}) differs from the body's event ({event})",
            header(request, headers::EVENT).unwrap_or("missing")
        ));
    }
    // A future event type is acknowledged without checks, never a 5xx.
    let key = EventType::parse(event).data_key()?;
    match (&judgement.uid, &judgement.status) {
        (Some(_), Some(_)) => None,
        _ => Some(format!("data.{key} needs string fields `uid` and `status`")),
    }
}
