//! The delivery journal's answers (`/_mock/deliveries`): views that borrow a journal record and
//! write exactly the fields the record itself serializes, with their schemas beside them (the
//! journal's own types live in `delivery/` and carry no schema). Each view is built by
//! destructuring its record without `..`, so a field added to a record does not compile until
//! the view has it too, and a unit test compares the view's bytes with the record's.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;

use crate::contract::headers::{HeaderFields, SentHeaders};
use crate::delivery::transport::RecordedResponse;
use crate::delivery::{
    AttemptOutcome, AttemptRecord, DeliveryId, DeliveryRecord, DeliveryState, Timestamp, Trigger,
};

/// Delivery states (`DeliveryState`) as the API spells them.
pub(crate) const STATES: [&str; 5] = ["pending", "retrying", "delivered", "rejected", "exhausted"];
/// What starts an attempt (`Trigger`).
const TRIGGERS: [&str; 2] = ["scheduled", "manual"];
/// Attempt outcomes (`AttemptOutcome`) as the API spells them.
pub(crate) const OUTCOMES: [&str; 13] = [
    "delivered",
    "http_4xx",
    "http_5xx",
    "redirect_not_followed",
    "unexpected_status",
    "timeout",
    "connect_error",
    "dns_error",
    "tls_error",
    "connection_closed",
    "invalid_response",
    "request_error",
    "interrupted",
];

fn state(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": STATES})
}

fn trigger(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": TRIGGERS})
}

fn outcome(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": OUTCOMES})
}

fn optional_outcome(_: &mut SchemaGenerator) -> Schema {
    let mut values: Vec<serde_json::Value> = OUTCOMES.iter().map(|o| (*o).into()).collect();
    values.push(serde_json::Value::Null);
    json_schema!({"type": ["string", "null"], "enum": values})
}

fn instant(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "format": "date-time"})
}

fn optional_instant(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": ["string", "null"], "format": "date-time"})
}

/// Header fields as `[name, value]` pairs, in order.
fn header_pairs(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "array", "items": {"type": "array",
        "prefixItems": [{"type": "string"}, {"type": "string"}], "items": false,
        "minItems": 2}})
}

/// `GET /_mock/deliveries`: one page of the journal.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JournalPage<'a> {
    /// Deliveries the filter matched.
    pub total: usize,
    /// Where the page starts.
    pub offset: usize,
    /// Page size.
    pub limit: usize,
    /// The page, oldest first.
    pub deliveries: Vec<DeliverySummary<'a>>,
}

/// What a listing and a full view of a delivery share: its record without the body and attempts.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeliveryHead<'a> {
    /// Delivery id.
    pub id: &'a str,
    /// Event type (the body's `event`).
    pub event: &'a str,
    /// The entity's uid, when the body has one.
    pub entity_uid: Option<&'a str>,
    /// The entity's new status, when the body has one.
    pub status: Option<&'a str>,
    /// The entity's previous status, when the body has one.
    pub previous_status: Option<&'a str>,
    /// Subscriber URL.
    pub target: &'a str,
    /// Simulated creation time.
    #[schemars(schema_with = "instant")]
    pub created_at: Timestamp,
    /// Current state.
    #[schemars(schema_with = "state")]
    pub state: DeliveryState,
}

/// A delivery in a listing: its head, the number of attempts and how the last one went.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeliverySummary<'a> {
    /// Id, event, entity, target, creation time and state.
    #[serde(flatten)]
    pub head: DeliveryHead<'a>,
    /// Attempts made, manual ones included.
    pub attempts: usize,
    /// The last attempt's outcome.
    #[schemars(schema_with = "optional_outcome")]
    pub last_outcome: Option<AttemptOutcome>,
    /// The last attempt's latency (ms).
    pub last_latency_ms: Option<f64>,
}

impl<'a> From<&'a DeliveryRecord> for DeliverySummary<'a> {
    fn from(record: &'a DeliveryRecord) -> Self {
        let last = record.last_attempt();
        DeliverySummary {
            head: DeliveryHead::of(record).0,
            attempts: record.attempts.len(),
            last_outcome: last.map(|a| a.outcome),
            last_latency_ms: last.map(|a| a.latency_ms),
        }
    }
}

impl<'a> DeliveryHead<'a> {
    /// The head of `record`, with the body and attempts it leaves out.
    fn of(record: &'a DeliveryRecord) -> (Self, &'a str, &'a [AttemptRecord]) {
        let DeliveryRecord {
            id,
            event,
            entity_uid,
            status,
            previous_status,
            target,
            created_at,
            state,
            body,
            attempts,
        } = record;
        let head = DeliveryHead {
            id: id.as_str(),
            event,
            entity_uid: entity_uid.as_deref(),
            status: status.as_deref(),
            previous_status: previous_status.as_deref(),
            target,
            created_at: *created_at,
            state: *state,
        };
        (head, body, attempts)
    }
}

/// `GET /_mock/deliveries/{id}`: one delivery with every attempt, as the journal holds it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeliveryView<'a> {
    /// Id, event, entity, target, creation time and state.
    #[serde(flatten)]
    pub head: DeliveryHead<'a>,
    /// The exact request body.
    pub body: &'a str,
    /// Every attempt, scheduled and manual, in order.
    pub attempts: Vec<AttemptView<'a>>,
}

impl<'a> From<&'a DeliveryRecord> for DeliveryView<'a> {
    fn from(record: &'a DeliveryRecord) -> Self {
        let (head, body, attempts) = DeliveryHead::of(record);
        DeliveryView {
            head,
            body,
            attempts: attempts.iter().map(AttemptView::from).collect(),
        }
    }
}

/// One attempt, exactly as made and answered.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AttemptView<'a> {
    /// 1-based attempt number within the delivery.
    pub number: u32,
    /// Scheduled or manual.
    #[schemars(schema_with = "trigger")]
    pub trigger: Trigger,
    /// Simulated time the attempt started.
    #[schemars(schema_with = "instant")]
    pub started_at: Timestamp,
    /// Where it was sent.
    pub url: &'a str,
    /// The request headers as sent (secrets redacted).
    #[schemars(schema_with = "header_pairs")]
    pub request_headers: &'a SentHeaders,
    /// The answer, if any.
    pub response: Option<ResponseView<'a>>,
    /// Wall-clock latency in milliseconds.
    pub latency_ms: f64,
    /// Coded outcome.
    #[schemars(schema_with = "outcome")]
    pub outcome: AttemptOutcome,
    /// The failure below HTTP, if any.
    pub error: Option<&'a str>,
    /// When the next scheduled attempt is due, if one is.
    #[schemars(schema_with = "optional_instant")]
    pub next_attempt_at: Option<Timestamp>,
    /// Sent again after a restart (at-least-once across a crash); left out when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resent_after_crash: bool,
}

impl<'a> From<&'a AttemptRecord> for AttemptView<'a> {
    fn from(attempt: &'a AttemptRecord) -> Self {
        let AttemptRecord {
            number,
            trigger,
            started_at,
            url,
            request_headers,
            response,
            latency_ms,
            outcome,
            error,
            next_attempt_at,
            resent_after_crash,
        } = attempt;
        AttemptView {
            number: *number,
            trigger: *trigger,
            started_at: *started_at,
            url,
            request_headers,
            response: response.as_ref().map(ResponseView::from),
            latency_ms: *latency_ms,
            outcome: *outcome,
            error: error.as_deref(),
            next_attempt_at: *next_attempt_at,
            resent_after_crash: *resent_after_crash,
        }
    }
}

/// The subscriber's answer to an attempt.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ResponseView<'a> {
    /// HTTP status code.
    pub status: u16,
    /// Response headers in arrival order.
    #[schemars(schema_with = "header_pairs")]
    pub headers: &'a HeaderFields,
    /// Body as text (lossy UTF-8), capped.
    pub body: &'a str,
    /// Whether the body was longer than the cap.
    pub body_truncated: bool,
}

impl<'a> From<&'a RecordedResponse> for ResponseView<'a> {
    fn from(response: &'a RecordedResponse) -> Self {
        let RecordedResponse {
            status,
            headers,
            body,
            body_truncated,
        } = response;
        ResponseView {
            status: *status,
            headers,
            body,
            body_truncated: *body_truncated,
        }
    }
}

/// `POST /_mock/deliveries/{id}/redeliver`: the manual attempt made.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Redelivered<'a> {
    /// The delivery.
    pub delivery_id: &'a str,
    /// The attempt.
    pub attempt: AttemptView<'a>,
}

/// `POST /_mock/deliveries/redeliver`: what a bulk redelivery did.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BulkRedelivery {
    /// Deliveries the filter matched.
    pub matched: usize,
    /// Deliveries of the page tried.
    pub redelivered: usize,
    /// One result per delivery tried, in journal order.
    pub results: Vec<RedeliveryResult>,
}

/// One delivery of a bulk redelivery.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum RedeliveryResult {
    /// A manual attempt was made.
    Sent {
        /// The delivery.
        delivery_id: DeliveryId,
        /// The attempt's outcome.
        #[schemars(schema_with = "outcome")]
        outcome: AttemptOutcome,
    },
    /// It could not be redelivered.
    Failed {
        /// The delivery.
        delivery_id: DeliveryId,
        /// The problem's stable code.
        error: &'static str,
    },
}

impl JsonSchema for DeliveryId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DeliveryId".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "description": "A delivery id (`dlv_` + UUIDv7)."})
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::DateTime;

    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp(DateTime::parse_from_rfc3339(text).unwrap().to_utc())
    }

    /// A record with every field set, optional ones both present and absent.
    fn record() -> DeliveryRecord {
        let url: Arc<str> = "http://127.0.0.1:9/webhook".into();
        let mut headers = HeaderFields::default();
        headers.push("content-type", "text/plain");
        let attempt = |number, trigger, response, resent| AttemptRecord {
            number,
            trigger,
            started_at: at("2024-01-10T15:30:45.123Z"),
            url: url.clone(),
            request_headers: vec![("X-InboxKit-Event".into(), "domain.status_changed".into())],
            response,
            latency_ms: 1.5,
            outcome: AttemptOutcome::Http5xx,
            error: (number == 1).then(|| "reset".to_owned()),
            next_attempt_at: (number == 1).then(|| at("2024-01-10T15:31:45.123Z")),
            resent_after_crash: resent,
        };
        DeliveryRecord {
            id: DeliveryId("dlv_1".into()),
            event: "domain.status_changed".into(),
            entity_uid: Some("domain-1".into()),
            status: Some("active".into()),
            previous_status: None,
            target: url.clone(),
            created_at: at("2024-01-10T15:30:45.123Z"),
            state: DeliveryState::Retrying,
            body: "{\"event\":\"domain.status_changed\"}".into(),
            attempts: vec![
                attempt(1, Trigger::Scheduled, None, true),
                attempt(
                    2,
                    Trigger::Manual,
                    Some(RecordedResponse {
                        status: 503,
                        headers,
                        body: "busy".into(),
                        body_truncated: false,
                    }),
                    false,
                ),
            ],
        }
    }

    #[test]
    fn a_delivery_view_writes_the_records_own_bytes() {
        let record = record();
        assert_eq!(
            serde_json::to_string(&DeliveryView::from(&record)).unwrap(),
            serde_json::to_string(&record).unwrap()
        );
        for attempt in &record.attempts {
            assert_eq!(
                serde_json::to_string(&AttemptView::from(attempt)).unwrap(),
                serde_json::to_string(attempt).unwrap()
            );
        }
    }

    #[test]
    fn every_variant_is_documented_under_its_own_name() {
        fn named<T: Serialize>(value: T, names: &[&str]) {
            let name = serde_json::to_value(value).unwrap();
            assert!(
                names.contains(&name.as_str().unwrap()),
                "{name} is not documented"
            );
        }
        // Exhaustive: a new state does not compile until it is listed here and in `STATES`.
        for state in [
            DeliveryState::Pending,
            DeliveryState::Retrying,
            DeliveryState::Delivered,
            DeliveryState::Rejected,
            DeliveryState::Exhausted,
        ] {
            match state {
                DeliveryState::Pending
                | DeliveryState::Retrying
                | DeliveryState::Delivered
                | DeliveryState::Rejected
                | DeliveryState::Exhausted => named(state, &STATES),
            }
        }
        for trigger in [Trigger::Scheduled, Trigger::Manual] {
            match trigger {
                Trigger::Scheduled | Trigger::Manual => named(trigger, &TRIGGERS),
            }
        }
        assert_eq!(AttemptOutcome::ALL.len(), OUTCOMES.len());
        for outcome in AttemptOutcome::ALL {
            named(outcome, &OUTCOMES);
        }
    }
}
