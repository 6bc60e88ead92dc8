//! Contract drift: how recorded deliveries differ from what the mock sends.
//!
//! Each recorded POST is compared with the expected contract (a payload shape, a signature
//! scheme, whether `Authorization` is sent): its body against the JSON Schema the mock's own
//! types generate (`contract::schema`), its headers against the contract's header set, and its
//! signature verdicts against the expected scheme. Differences are counted per event type.
//! Optional fields the mock sometimes leaves out (`registration_years`, `action_required`...)
//! are not required, nullable fields accept null, and array items are checked item by item
//! (path `tags[]`), so a recording of the mock itself shows no drift.

mod body;
mod headers;
mod render;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::contract::headers::EVENT;
use crate::contract::schema::event_schema;
use crate::contract::{ContractSettings, EventType, PayloadShape, SignatureScheme};
use crate::recording::{RecordedRequest, SignatureKeys, SignatureVerdicts};

pub use body::{Finding, json_type};
pub use headers::{HeaderProblem, IGNORED_PREFIXES, TRANSPORT_HEADERS};

/// The contract recorded deliveries are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Expectation {
    /// The body layout.
    pub payload_shape: PayloadShape,
    /// The signature scheme that should verify.
    pub signature_scheme: SignatureScheme,
    /// Whether `Authorization: Bearer <token>` should be present.
    pub authorization: bool,
}

impl From<&ContractSettings> for Expectation {
    fn from(settings: &ContractSettings) -> Self {
        Expectation {
            payload_shape: settings.payload_shape,
            signature_scheme: settings.signature_scheme,
            authorization: settings.send_authorization,
        }
    }
}

/// A field only the recording has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtraField {
    /// Path, e.g. `data.domain.auto_renew` (`[]` marks array items).
    pub path: String,
    /// JSON types seen there.
    pub seen_types: Vec<String>,
    /// Deliveries that had it.
    pub count: usize,
}

/// A field the mock always sends and the recording lacked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingField {
    /// Path.
    pub path: String,
    /// Deliveries that lacked it.
    pub count: usize,
}

/// A value of another JSON type than the mock sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeMismatch {
    /// Path.
    pub path: String,
    /// Types the mock sends there.
    pub expected: Vec<String>,
    /// Type seen.
    pub seen: String,
    /// Deliveries where it was seen.
    pub count: usize,
}

/// A value outside one of the contract's vocabularies (a status the mock does not know...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownValue {
    /// Path.
    pub path: String,
    /// The value seen.
    pub value: String,
    /// The values the mock knows there.
    pub known: Vec<String>,
    /// Deliveries where it was seen.
    pub count: usize,
}

/// A header that differs from the contract's header set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderDifference {
    /// Lowercase header name.
    pub header: String,
    /// How it differs.
    pub problem: HeaderProblem,
    /// Deliveries where it differed.
    pub count: usize,
}

/// Signatures that did not verify under the expected scheme although they could be judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureDifference {
    /// The scheme the contract expects.
    pub expected: SignatureScheme,
    /// The scheme that verified instead, or None when none did.
    pub verified_instead: Option<SignatureScheme>,
    /// Deliveries concerned.
    pub count: usize,
}

/// Which schemes verified, over every delivery of one event type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SignatureSummary {
    /// Deliveries whose signature verified under `hmac-body`.
    pub hmac_body: usize,
    /// Deliveries whose signature verified under `api-key-sha256`.
    pub api_key_sha256: usize,
    /// Deliveries checked under at least one scheme where none verified.
    pub none: usize,
    /// Deliveries that could not be checked (no key, no recorded verdict).
    pub unchecked: usize,
}

/// Everything that differs for one event type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EventDrift {
    /// The event type (`event` of the body, else the `X-InboxKit-Event` header).
    pub event: String,
    /// Recorded deliveries of this type.
    pub deliveries: usize,
    /// Bodies that are not JSON objects (nothing else of them is compared).
    pub unparsable_bodies: usize,
    /// Fields the recording has and the mock does not send.
    pub extra_fields: Vec<ExtraField>,
    /// Fields the mock always sends that the recording lacked.
    pub missing_fields: Vec<MissingField>,
    /// Values of another JSON type.
    pub type_mismatches: Vec<TypeMismatch>,
    /// Values outside the mock's vocabularies (including an unknown event type).
    pub unknown_values: Vec<UnknownValue>,
    /// Header differences.
    pub header_differences: Vec<HeaderDifference>,
    /// Signatures that verified under another scheme, or under none.
    pub signature_differences: Vec<SignatureDifference>,
    /// Which schemes verified.
    pub signatures: SignatureSummary,
}

impl EventDrift {
    /// Whether anything differs.
    pub fn has_drift(&self) -> bool {
        self.unparsable_bodies > 0
            || !self.extra_fields.is_empty()
            || !self.missing_fields.is_empty()
            || !self.type_mismatches.is_empty()
            || !self.unknown_values.is_empty()
            || !self.header_differences.is_empty()
            || !self.signature_differences.is_empty()
    }
}

/// The comparison of a whole recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftReport {
    /// What the deliveries were compared with.
    pub expected: Expectation,
    /// POST requests compared.
    pub deliveries: usize,
    /// Requests of other methods (health checks...), not compared.
    pub ignored_requests: usize,
    /// Per event type, in name order.
    pub events: Vec<EventDrift>,
}

impl DriftReport {
    /// Whether any event type drifted.
    pub fn has_drift(&self) -> bool {
        self.events.iter().any(EventDrift::has_drift)
    }

    /// The report as readable lines.
    pub fn to_text(&self) -> String {
        render::text(self)
    }
}

/// Per-event tallies while comparing; turned into an [`EventDrift`] at the end.
#[derive(Default)]
struct Tally {
    deliveries: usize,
    unparsable: usize,
    extra: BTreeMap<String, (BTreeSet<String>, usize)>,
    missing: BTreeMap<String, usize>,
    types: BTreeMap<(String, String), (Vec<String>, usize)>,
    unknown: BTreeMap<(String, String), (Vec<String>, usize)>,
    headers: BTreeMap<(String, HeaderProblem), usize>,
    /// By the name of the scheme that verified instead (SignatureScheme is not `Ord`).
    signature_drift: BTreeMap<Option<&'static str>, (Option<SignatureScheme>, usize)>,
    signatures: SignatureSummary,
}

/// Compares recorded requests with `expected`. Signatures are judged with `keys` for the
/// schemes it has a key for, and with the verdicts in the recording for the others.
pub fn analyze<'a>(
    requests: impl IntoIterator<Item = &'a RecordedRequest>,
    expected: Expectation,
    keys: &SignatureKeys,
) -> DriftReport {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut schemas: HashMap<EventType, Option<Value>> = HashMap::new();
    let mut deliveries = 0;
    let mut ignored_requests = 0;
    for request in requests {
        if !request.method.eq_ignore_ascii_case("POST") {
            ignored_requests += 1;
            continue;
        }
        deliveries += 1;
        let body = request.body_bytes().unwrap_or_default();
        let parsed: Option<Value> = serde_json::from_slice(&body).ok().filter(Value::is_object);
        let body_event = parsed
            .as_ref()
            .and_then(|v| v.get("event"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let event = body_event
            .clone()
            .or_else(|| request.header(EVENT).map(str::to_owned))
            .unwrap_or_else(|| "(no event)".to_owned());
        let tally = tallies.entry(event.clone()).or_default();
        tally.deliveries += 1;

        for finding in headers::compare(
            &request.headers,
            body_event.as_deref(),
            expected.authorization,
        ) {
            *tally.headers.entry(finding).or_default() += 1;
        }
        tally_signature(tally, request, &body, expected.signature_scheme, keys);

        let Some(value) = parsed else {
            tally.unparsable += 1;
            continue;
        };
        let event_type = EventType::parse(&event);
        let schema = schemas
            .entry(event_type.clone())
            .or_insert_with(|| {
                event_schema(expected.payload_shape, &event_type).map(|s| s.to_value())
            })
            .as_ref();
        let findings = match schema {
            Some(schema) => body::compare(schema, &value),
            None => BTreeSet::from([Finding::Unknown {
                path: "event".into(),
                value: event.clone(),
                known: EventType::KNOWN
                    .iter()
                    .map(|e| e.as_str().to_owned())
                    .collect(),
            }]),
        };
        for finding in findings {
            tally_finding(tally, finding);
        }
    }
    DriftReport {
        expected,
        deliveries,
        ignored_requests,
        events: tallies
            .into_iter()
            .map(|(event, tally)| finish(event, tally, expected.signature_scheme))
            .collect(),
    }
}

fn tally_signature(
    tally: &mut Tally,
    request: &RecordedRequest,
    body: &[u8],
    expected: SignatureScheme,
    keys: &SignatureKeys,
) {
    let fresh = keys.verdicts_for(&request.headers, body);
    let recorded = request.signature;
    // A redacted body is not what was signed: the verdicts taken on arrival come first.
    let (first, second) = if request.credentials_redacted {
        (recorded, fresh)
    } else {
        (fresh, recorded)
    };
    let verdicts = SignatureVerdicts {
        hmac_body: first.hmac_body.or(second.hmac_body),
        api_key_sha256: first.api_key_sha256.or(second.api_key_sha256),
    };
    let verified = verdicts.verified();
    for scheme in &verified {
        match scheme {
            SignatureScheme::HmacBody => tally.signatures.hmac_body += 1,
            SignatureScheme::ApiKeySha256 => tally.signatures.api_key_sha256 += 1,
        }
    }
    if !verdicts.any_checked() {
        tally.signatures.unchecked += 1;
        return;
    }
    if verified.is_empty() {
        tally.signatures.none += 1;
    }
    // Unjudged under the expected scheme and verified under none: nothing can be said.
    let judged = verdicts.get(expected).is_some() || !verified.is_empty();
    if judged && verdicts.get(expected) != Some(true) {
        let instead = verified.into_iter().find(|s| *s != expected);
        let entry = tally
            .signature_drift
            .entry(instead.map(SignatureScheme::as_str))
            .or_insert((instead, 0));
        entry.1 += 1;
    }
}

fn tally_finding(tally: &mut Tally, finding: Finding) {
    match finding {
        Finding::Extra { path, seen } => {
            let entry = tally.extra.entry(path).or_default();
            entry.0.insert(seen.to_owned());
            entry.1 += 1;
        }
        Finding::Missing { path } => *tally.missing.entry(path).or_default() += 1,
        Finding::Type {
            path,
            expected,
            seen,
        } => {
            let entry = tally
                .types
                .entry((path, seen.to_owned()))
                .or_insert((expected, 0));
            entry.1 += 1;
        }
        Finding::Unknown { path, value, known } => {
            let entry = tally.unknown.entry((path, value)).or_insert((known, 0));
            entry.1 += 1;
        }
    }
}

fn finish(event: String, tally: Tally, expected: SignatureScheme) -> EventDrift {
    EventDrift {
        event,
        deliveries: tally.deliveries,
        unparsable_bodies: tally.unparsable,
        extra_fields: tally
            .extra
            .into_iter()
            .map(|(path, (types, count))| ExtraField {
                path,
                seen_types: types.into_iter().collect(),
                count,
            })
            .collect(),
        missing_fields: tally
            .missing
            .into_iter()
            .map(|(path, count)| MissingField { path, count })
            .collect(),
        type_mismatches: tally
            .types
            .into_iter()
            .map(|((path, seen), (expected, count))| TypeMismatch {
                path,
                expected,
                seen,
                count,
            })
            .collect(),
        unknown_values: tally
            .unknown
            .into_iter()
            .map(|((path, value), (known, count))| UnknownValue {
                path,
                value,
                known,
                count,
            })
            .collect(),
        header_differences: tally
            .headers
            .into_iter()
            .map(|((header, problem), count)| HeaderDifference {
                header,
                problem,
                count,
            })
            .collect(),
        signature_differences: tally
            .signature_drift
            .into_values()
            .map(|(verified_instead, count)| SignatureDifference {
                expected,
                verified_instead,
                count,
            })
            .collect(),
        signatures: tally.signatures,
    }
}
