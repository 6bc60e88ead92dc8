//! Independent oracles for the payloads: a hand-written fixture of every event type in both
//! payload shapes (`tests/fixtures/events/<profile>/<event>.json`, written from the contract and
//! the seed page, each field's source in `tests/fixtures/events/SOURCES.md`).
//!
//! For each fixture the mock builds the same event from fixed inputs (the fixture's ids, names
//! and timestamp; the entity one step before, moved by the mock's own transition code), and the
//! bytes it sends must equal the fixture's compact form; the world (`serve`, entities forced
//! through the fixture's statuses) must send the fixture's fields in its order. The fixtures also
//! validate against the schemas the mock publishes (`inboxkit-mock schema`), signatures match
//! vectors computed with `openssl` and Python (not with the code under test), and the reference
//! receiver accepts each fixture signed with them. A coverage test fails when an event type or a
//! payload shape has no fixture.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::ValueEnum;
use inboxkit_mock::contract::schema::event_schema;
use inboxkit_mock::contract::{
    Account, ClientIdRequest, ConnectionType, ConsentRequest, DnsPropagationStatus, Domain,
    DomainStatus, Entity, Envelope, EventType, Mailbox, MailboxStatus, PayloadShape, Platform,
    Profile, RenewalStatus, RequestStatus, Secret, SignatureScheme, Signer,
};
use inboxkit_mock::delivery::{DeliveryState, OutgoingEvent, RetryPolicy, Subscriber};
use inboxkit_mock::receiver::{ReceiverConfig, RunningReceiver, Verdict};
use inboxkit_mock::simulation::transition::{advance_entity, for_shape};
use serde_json::Value;
use url::Url;

use crate::support::{FAST, SECRET, run_cli, sender};

/// The instant of every fixture: the seed example's `timestamp`.
const TIMESTAMP: &str = "2024-01-10T15:30:45.123Z";

/// The API key the `current` profile signs with (the `api-key-sha256` scheme).
const API_KEY: &str = "ik_live_abc123";

/// `printf '%s' 'ik_live_abc123' | openssl dgst -sha256` (SOURCES.md): the `api-key-sha256`
/// signature of every body under that key.
const API_KEY_SIGNATURE: &str =
    "sha256=0c530431e84be11903b8b716a4de19b8456c53f91fa5cbc025f447d10a4f3660";

/// Known answers of the `hmac-body` scheme keyed with [`SECRET`], over each `seed` fixture's
/// compact bytes, computed with `openssl dgst -sha256 -hmac` and Python's `hmac` (SOURCES.md):
/// (event, compact length in bytes, hex digest).
const HMAC_VECTORS: [(&str, usize, &str); 4] = [
    (
        "domain.status_changed",
        706,
        "a22d22f8ff8051e3d0d71be21dee830f48563cfea53636807de44b383db948b5",
    ),
    (
        "mailbox.status_changed",
        923,
        "5182745a54a178054b9ad7dd1638c03d668c799bbce8618e1d0be9c650757141",
    ),
    (
        "consent_request.status_changed",
        483,
        "0e59cd7633793883abc973e63aa7134ff5455b7edbe9d65cf832f4828fff99db",
    ),
    (
        "client_id_request.status_changed",
        454,
        "f2d10724c1125a9496e3a6a95029065d3a840aae63ac9a7083b438e8d275edca",
    ),
];

/// A documented value the mock does not send yet: the fixture keeps the documented value, the
/// test names the difference and checks that it is the only one. When the mock is fixed, the
/// test fails until the entry is removed.
struct KnownMismatch {
    /// The fixture's compact fragment (documented).
    documented: &'static str,
    /// What the mock sends instead.
    mock: &'static str,
    /// Why the fixture says otherwise.
    why: &'static str,
}

/// One fixture and how the mock is made to produce it.
struct Case {
    shape: PayloadShape,
    /// The entity one step before the fixture's change (the fixture's ids, names, counts).
    before: Entity,
    /// The status the mock moves it to.
    to: &'static str,
    known_mismatch: Option<KnownMismatch>,
}

impl Case {
    fn event(&self) -> EventType {
        self.before.event_type()
    }

    fn label(&self) -> String {
        format!("{}/{}", profile_dir(self.shape), self.event())
    }
}

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(TIMESTAMP)
        .unwrap()
        .with_timezone(&Utc)
}

/// The seed example's team and workspace.
fn account() -> Account {
    Account {
        team_id: "team-abc123def456".into(),
        team_name: "Marketing Team".into(),
        workspace_id: "ws_456def789abc".into(),
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn inboxkit_nameservers() -> Vec<String> {
    strings(&["ns1.inboxkit.com", "ns2.inboxkit.com"])
}

/// Every fixture's inputs. The coverage test checks that this covers every event and shape.
fn cases() -> Vec<Case> {
    vec![
        // The seed page's example: a connected domain whose DNS propagated (pending -> active).
        Case {
            shape: PayloadShape::Seed,
            before: Entity::Domain(Domain {
                uid: "domain-xyz789ghi012".into(),
                name: "yourdomain.com".into(),
                tld: "com".into(),
                status: DomainStatus::Pending,
                previous_status: Some(DomainStatus::DnsSetupPending),
                dns_propagation_status: DnsPropagationStatus::Waiting,
                nameservers: inboxkit_nameservers(),
                connection_type: ConnectionType::Dns,
                assigned_mailboxes: 0,
                available_mailboxes: 50,
                tags: strings(&["production", "marketing"]),
                renewal_date: Some("2025-01-10T00:00:00.000Z".into()),
                renewal_status: RenewalStatus::NotDue,
                registration_years: None,
            }),
            to: "active",
            known_mismatch: None,
        },
        // A purchased domain whose DNS propagated.
        Case {
            shape: PayloadShape::Current,
            before: Entity::Domain(Domain {
                uid: "domain-k3m9p2q7r4s8".into(),
                name: "brightwave.io".into(),
                tld: "io".into(),
                status: DomainStatus::WaitingForDnsPropagation,
                previous_status: Some(DomainStatus::RegistrationInProgress),
                dns_propagation_status: DnsPropagationStatus::Waiting,
                nameservers: inboxkit_nameservers(),
                connection_type: ConnectionType::Purchased,
                assigned_mailboxes: 2,
                available_mailboxes: 48,
                tags: strings(&["outreach"]),
                renewal_date: Some("2025-01-10T00:00:00.000Z".into()),
                renewal_status: RenewalStatus::NotDue,
                registration_years: Some(1),
            }),
            to: "active",
            known_mismatch: None,
        },
        // A mailbox whose DKIM setup failed, before it ever had credentials.
        Case {
            shape: PayloadShape::Seed,
            before: Entity::Mailbox(Mailbox {
                uid: "mailbox-a1b2c3d4e5f6".into(),
                email: "jane.doe@yourdomain.com".into(),
                username: "jane.doe".into(),
                first_name: "Jane".into(),
                last_name: "Doe".into(),
                profile_picture: String::new(),
                domain_name: "yourdomain.com".into(),
                platform: Platform::Google,
                status: MailboxStatus::ConfiguringDkim,
                previous_status: Some(MailboxStatus::ConfiguringDns),
                is_admin: false,
                forwarding_email: None,
                tags: strings(&["production"]),
                mailbox_update_status: None,
                mailbox_cancellation_status: None,
                dns_propagation_status: DnsPropagationStatus::Waiting,
                renewal_date: Some("2024-02-10T00:00:00.000Z".into()),
                renewal_status: RenewalStatus::NotDue,
                renewal_cycle: "monthly".into(),
                password: None,
                app_password: None,
                secret: None,
            }),
            to: "failed",
            known_mismatch: None,
        },
        // A mailbox finishing its setup, with its credentials.
        Case {
            shape: PayloadShape::Current,
            before: Entity::Mailbox(Mailbox {
                uid: "mailbox-z9y8x7w6v5u4".into(),
                email: "sam.lee@brightwave.io".into(),
                username: "sam.lee".into(),
                first_name: "Sam".into(),
                last_name: "Lee".into(),
                profile_picture: "https://cdn.example.com/avatars/sam-lee.png".into(),
                domain_name: "brightwave.io".into(),
                platform: Platform::Microsoft,
                status: MailboxStatus::FinalizingSetup,
                previous_status: Some(MailboxStatus::ConfiguringAuth),
                is_admin: true,
                forwarding_email: Some("ops@brightwave.io".into()),
                tags: Vec::new(),
                mailbox_update_status: None,
                mailbox_cancellation_status: None,
                dns_propagation_status: DnsPropagationStatus::Waiting,
                renewal_date: Some("2024-02-10T00:00:00.000Z".into()),
                renewal_status: RenewalStatus::NotDue,
                renewal_cycle: "monthly".into(),
                password: Some("Xk7#mP2qR9!vT4wz".into()),
                app_password: Some("abcd efgh ijkl mnop".into()),
                secret: Some("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP".into()),
            }),
            to: "active",
            known_mismatch: None,
        },
        Case {
            shape: PayloadShape::Seed,
            before: Entity::ConsentRequest(ConsentRequest {
                uid: "consent-q8w7e6r5t4y3".into(),
                status: RequestStatus::Processing,
                status_text: "In progress".into(),
                status_reason: None,
                consent_url: "https://app.inboxkit.com/consent/consent-q8w7e6r5t4y3".into(),
            }),
            to: "completed",
            known_mismatch: None,
        },
        Case {
            shape: PayloadShape::Current,
            before: Entity::ConsentRequest(ConsentRequest {
                uid: "consent-m1n2b3v4c5x6".into(),
                status: RequestStatus::Processing,
                status_text: "In progress".into(),
                status_reason: None,
                consent_url: "https://app.inboxkit.com/consent/consent-m1n2b3v4c5x6".into(),
            }),
            to: "failed",
            known_mismatch: None,
        },
        // Cancelled by the customer: `triggered_by: user_action`.
        Case {
            shape: PayloadShape::Seed,
            before: Entity::ClientIdRequest(ClientIdRequest {
                uid: "clientid-h7j8k9l0p1o2".into(),
                status: RequestStatus::Pending,
                status_text: "Waiting for approval".into(),
                status_reason: None,
                domain_name: "yourdomain.com".into(),
            }),
            to: "cancelled",
            known_mismatch: None,
        },
        Case {
            shape: PayloadShape::Current,
            before: Entity::ClientIdRequest(ClientIdRequest {
                uid: "clientid-r3t5y7u9i2o4".into(),
                status: RequestStatus::Processing,
                status_text: "In progress".into(),
                status_reason: None,
                domain_name: "brightwave.io".into(),
            }),
            to: "completed",
            known_mismatch: None,
        },
    ]
}

/// The fixture folder of a payload shape: the profile of the same name.
fn profile_dir(shape: PayloadShape) -> String {
    shape
        .to_possible_value()
        .expect("every shape has a name")
        .get_name()
        .to_owned()
}

fn profile_of(shape: PayloadShape) -> Profile {
    <Profile as ValueEnum>::from_str(&profile_dir(shape), false)
        .expect("each shape names its profile")
}

fn fixtures_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events")
}

fn fixture_path(shape: PayloadShape, event: &EventType) -> PathBuf {
    fixtures_root()
        .join(profile_dir(shape))
        .join(format!("{event}.json"))
}

fn fixture_text(shape: PayloadShape, event: &EventType) -> String {
    let path = fixture_path(shape, event);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixture with the whitespace between tokens removed: the compact form the mock claims to
/// send (written here rather than through serde, so key order and spelling stay the fixture's).
fn minify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

/// The compact fixture bytes of `shape`/`event`.
fn fixture_bytes(shape: PayloadShape, event: &EventType) -> String {
    minify(&fixture_text(shape, event))
}

/// The event the mock sends for `case`: its transition code moves the entity, the entity is
/// spelled for the shape, and the envelope builder freezes the body, as in the simulator.
fn produce(case: &Case) -> OutgoingEvent {
    let mut entity = case.before.clone();
    let change = advance_entity(&mut entity, case.to, case.shape)
        .unwrap_or_else(|e| panic!("{}: {e}", case.label()));
    for_shape(&mut entity, case.shape);
    let envelope = Envelope::status_changed(case.shape, &account(), entity, &change, at());
    OutgoingEvent::from_envelope(&envelope)
}

/// What the mock is expected to send for `case`: the fixture's compact bytes, with a known
/// mismatch replaced by what the mock sends (checked to occur exactly once).
fn expected_bytes(case: &Case) -> String {
    let fixture = fixture_bytes(case.shape, &case.event());
    match &case.known_mismatch {
        None => fixture,
        Some(known) => {
            assert_eq!(
                fixture.matches(known.documented).count(),
                1,
                "{}: the fixture states `{}` once",
                case.label(),
                known.documented
            );
            fixture.replace(known.documented, known.mock)
        }
    }
}

/// The keys of `map` that `other` has too, in `map`'s order.
fn shared_keys<'a>(
    map: &'a serde_json::Map<String, Value>,
    other: &serde_json::Map<String, Value>,
) -> Vec<&'a String> {
    map.keys().filter(|k| other.contains_key(*k)).collect()
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The fields of the fixture's object `want` that `got` lacks, and those it has in excess.
fn missing_and_extra(
    path: &str,
    want: &serde_json::Map<String, Value>,
    got: &serde_json::Map<String, Value>,
    out: &mut Vec<String>,
) {
    for key in want.keys().filter(|k| !got.contains_key(*k)) {
        out.push(format!("{path}.{key}: missing"));
    }
    for key in got.keys().filter(|k| !want.contains_key(*k)) {
        out.push(format!("{path}.{key}: not in the fixture"));
    }
}

/// Differences between two JSON values as readable lines: missing and extra fields, type and
/// value changes, and key order, each with its path.
fn differences(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            missing_and_extra(path, want, got, out);
            for (key, value) in want {
                if let Some(other) = got.get(key) {
                    differences(&format!("{path}.{key}"), value, other, out);
                }
            }
            if shared_keys(want, got) != shared_keys(got, want) {
                out.push(format!(
                    "{path}: key order {:?}, fixture {:?}",
                    got.keys().collect::<Vec<_>>(),
                    want.keys().collect::<Vec<_>>()
                ));
            }
        }
        (Value::Array(want), Value::Array(got)) if want.len() == got.len() => {
            for (index, (w, g)) in want.iter().zip(got).enumerate() {
                differences(&format!("{path}[{index}]"), w, g, out);
            }
        }
        _ if type_name(expected) != type_name(actual) => out.push(format!(
            "{path}: {} {actual}, fixture {} {expected}",
            type_name(actual),
            type_name(expected)
        )),
        _ if expected != actual => out.push(format!("{path}: {actual}, fixture {expected}")),
        _ => {}
    }
}

/// (a) The mock's bytes for each fixture's inputs are the fixture's compact bytes: same fields,
/// types, values, key order and number formatting.
#[test]
fn the_mock_sends_each_fixture_byte_for_byte() {
    let mut failures = Vec::new();
    for case in cases() {
        let sent = produce(&case);
        let sent = std::str::from_utf8(sent.body()).unwrap().to_owned();
        let fixture = fixture_bytes(case.shape, &case.event());
        if let Some(known) = &case.known_mismatch {
            assert_ne!(
                sent,
                fixture,
                "{}: the mock now sends the documented `{}`; remove the known mismatch",
                case.label(),
                known.documented
            );
            assert!(sent.contains(known.mock), "{}: {}", case.label(), known.why);
        }
        let expected = expected_bytes(&case);
        if sent != expected {
            let mut lines = Vec::new();
            differences(
                "$",
                &serde_json::from_str(&expected).unwrap(),
                &serde_json::from_str(&sent).unwrap(),
                &mut lines,
            );
            failures.push(format!(
                "{}:\n  {}\n  sent:    {sent}\n  fixture: {expected}",
                case.label(),
                if lines.is_empty() {
                    "same JSON, different bytes".to_owned()
                } else {
                    lines.join("\n  ")
                }
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The seed fixture of `domain.status_changed` is the seed page's example, unchanged.
#[test]
fn the_seed_domain_fixture_is_the_seed_example() {
    let example = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed_example_body.json"),
    )
    .unwrap();
    assert_eq!(
        fixture_text(PayloadShape::Seed, &EventType::DomainStatusChanged),
        example
    );
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::validator_for(schema).expect("a valid draft 2020-12 schema")
}

fn errors(validator: &jsonschema::Validator, body: &Value) -> Vec<String> {
    validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn fixture_value(shape: PayloadShape, event: &EventType) -> Value {
    serde_json::from_str(&fixture_text(shape, event)).unwrap()
}

fn other_shape(shape: PayloadShape) -> PayloadShape {
    match shape {
        PayloadShape::Seed => PayloadShape::Current,
        PayloadShape::Current => PayloadShape::Seed,
    }
}

/// (b) Each fixture validates against its event's schema and the shape's published schema
/// (`inboxkit-mock schema --profile P`); the other shape's fixture does not.
#[tokio::test]
async fn each_fixture_validates_against_the_published_schemas() {
    let mut problems = Vec::new();
    for shape in PayloadShape::value_variants().iter().copied() {
        let profile = profile_dir(shape);
        let (code, stdout, stderr) = run_cli(&["schema", "--profile", &profile], b"").await;
        assert_eq!(code, 0, "{stderr}");
        let published = validator(&serde_json::from_str(&stdout).unwrap());
        for event in EventType::KNOWN {
            let by_event = validator(&event_schema(shape, event).unwrap().to_value());
            let fixture = fixture_value(shape, event);
            for (schema, validator) in [("event", &by_event), ("published", &published)] {
                for error in errors(validator, &fixture) {
                    problems.push(format!("{profile}/{event} ({schema} schema): {error}"));
                }
            }
            let other = fixture_value(other_shape(shape), event);
            assert!(
                !by_event.is_valid(&other) && !published.is_valid(&other),
                "the {profile} schemas accept the other shape's {event}"
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Signatures of the fixtures under both schemes equal vectors computed outside the code, and
/// the compact form used here is the one Python printed (same length).
#[test]
fn signatures_match_vectors_computed_outside_the_code() {
    let hmac = Signer::new(SignatureScheme::HmacBody, Secret::new(SECRET));
    // Reused from src/contract/signature.rs; confirmed with openssl (SOURCES.md).
    assert_eq!(
        hmac.sign(b"Hello, World!"),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    for (event, length, hex) in HMAC_VECTORS {
        let body = fixture_bytes(PayloadShape::Seed, &EventType::parse(event));
        assert_eq!(body.len(), length, "{event}: compact length");
        assert_eq!(
            hmac.sign(body.as_bytes()),
            format!("sha256={hex}"),
            "{event}"
        );
    }
    let api_key = Signer::new(SignatureScheme::ApiKeySha256, Secret::new(API_KEY));
    for event in EventType::KNOWN {
        let body = fixture_bytes(PayloadShape::Current, event);
        assert_eq!(api_key.sign(body.as_bytes()), API_KEY_SIGNATURE, "{event}");
    }
}

/// The independently computed signature of a fixture's compact bytes under its profile.
fn known_signature(shape: PayloadShape, event: &EventType) -> String {
    match profile_of(shape).settings().signature_scheme {
        SignatureScheme::HmacBody => {
            let (_, _, hex) = HMAC_VECTORS
                .iter()
                .find(|(name, _, _)| *name == event.as_str())
                .unwrap_or_else(|| panic!("no hmac vector for {event}"));
            format!("sha256={hex}")
        }
        SignatureScheme::ApiKeySha256 => API_KEY_SIGNATURE.to_owned(),
    }
}

/// The key each profile signs with in these tests.
fn signer_of(shape: PayloadShape) -> Signer {
    match profile_of(shape).settings().signature_scheme {
        scheme @ SignatureScheme::HmacBody => Signer::new(scheme, Secret::new(SECRET)),
        scheme @ SignatureScheme::ApiKeySha256 => Signer::new(scheme, Secret::new(API_KEY)),
    }
}

fn receiver_for(shape: PayloadShape) -> RunningReceiver {
    RunningReceiver::start_local(ReceiverConfig {
        verifier: Some(signer_of(shape)),
        ..ReceiverConfig::default()
    })
    .unwrap()
}

async fn post(url: &Url, event: &str, body: &str, signature: &str) -> u16 {
    reqwest::Client::new()
        .post(url.as_str())
        .header("Content-Type", "application/json")
        .header("X-InboxKit-Event", event)
        .header("X-InboxKit-Timestamp", TIMESTAMP)
        .header("X-InboxKit-Signature", signature)
        .body(body.to_owned())
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// (b) The reference receiver accepts each fixture signed with its known answer, and refuses a
/// wrong signature (and, for the body-keyed scheme, a changed body).
#[tokio::test]
async fn the_reference_receiver_accepts_each_fixture_with_its_known_signature() {
    for shape in PayloadShape::value_variants().iter().copied() {
        let receiver = receiver_for(shape);
        let url = receiver.webhook_url();
        for event in EventType::KNOWN {
            let label = format!("{}/{event}", profile_dir(shape));
            let body = fixture_bytes(shape, event);
            let signature = known_signature(shape, event);
            assert_eq!(
                post(&url, event.as_str(), &body, &signature).await,
                200,
                "{label}"
            );
            let record = receiver
                .store()
                .all()
                .pop()
                .expect("the request is recorded");
            assert_eq!(
                (record.verdict, record.signature_valid),
                (Verdict::Accepted, Some(true)),
                "{label}: {:?}",
                record.problem
            );
            let wrong = format!("sha256={}", "0".repeat(64));
            assert_eq!(
                post(&url, event.as_str(), &body, &wrong).await,
                401,
                "{label}"
            );
            let changed = body.replacen("Marketing Team", "Marketing Tean", 1);
            let expected = match profile_of(shape).settings().signature_scheme {
                SignatureScheme::HmacBody => 401,
                // The observed scheme does not depend on the body.
                SignatureScheme::ApiKeySha256 => 200,
            };
            assert_eq!(
                post(&url, event.as_str(), &changed, &signature).await,
                expected,
                "{label}: changed body"
            );
        }
        receiver.stop().await;
    }
}

/// (a, over HTTP) The sender delivers each event the mock builds to the reference receiver with
/// the profile's headers; the bytes received are the fixture's, signed with the known answer.
#[tokio::test]
async fn the_sender_delivers_the_fixture_bytes_with_the_known_signature() {
    for shape in PayloadShape::value_variants().iter().copied() {
        let settings = profile_of(shape).settings();
        let receiver = receiver_for(shape);
        let subscriber = Arc::new(Subscriber {
            url: receiver.webhook_url(),
            signer: signer_of(shape),
            bearer: settings
                .send_authorization
                .then(|| Secret::new("test-token")),
            timeout: Duration::from_secs(60),
            policy: RetryPolicy::default(),
            mock_headers: false,
        });
        let sender = sender(FAST);
        for case in cases().into_iter().filter(|c| c.shape == shape) {
            let label = case.label();
            let record = sender.deliver(subscriber.clone(), produce(&case)).await;
            assert_eq!(record.state, DeliveryState::Delivered, "{label}");
            let received = receiver
                .store()
                .all()
                .into_iter()
                .last()
                .expect("one request");
            assert_eq!(received.verdict, Verdict::Accepted, "{label}");
            assert_eq!(received.body, expected_bytes(&case), "{label}");
            let header = |name: &str| received.header(name).map(str::to_owned);
            if case.known_mismatch.is_none() {
                assert_eq!(
                    header("X-InboxKit-Signature"),
                    Some(known_signature(shape, &case.event())),
                    "{label}"
                );
            }
            assert_eq!(
                header("Content-Type").as_deref(),
                Some("application/json"),
                "{label}"
            );
            assert_eq!(
                header("User-Agent").as_deref(),
                Some("InboxKit-Webhook/1.0"),
                "{label}"
            );
            assert_eq!(
                header("X-InboxKit-Event"),
                Some(case.event().to_string()),
                "{label}"
            );
            let stamp = header("X-InboxKit-Timestamp").expect("a timestamp header");
            assert!(
                stamp.len() == TIMESTAMP.len()
                    && stamp.ends_with('Z')
                    && DateTime::parse_from_rfc3339(&stamp).is_ok(),
                "{label}: {stamp} is not ISO 8601 UTC with milliseconds"
            );
            assert_eq!(
                header("Authorization"),
                settings
                    .send_authorization
                    .then(|| "Bearer test-token".to_owned()),
                "{label}"
            );
        }
        receiver.stop().await;
    }
}

/// (c) Every event type the mock knows has a fixture and a case in both payload shapes, every
/// fixture file is one of them, and SOURCES.md accounts for each.
#[test]
fn every_event_type_and_shape_has_a_fixture() {
    let cases: BTreeSet<String> = cases().iter().map(Case::label).collect();
    let sources = std::fs::read_to_string(fixtures_root().join("SOURCES.md")).unwrap();
    let mut expected = BTreeSet::new();
    let mut missing = Vec::new();
    for shape in PayloadShape::value_variants().iter().copied() {
        for event in EventType::KNOWN {
            let label = format!("{}/{event}", profile_dir(shape));
            if !fixture_path(shape, event).is_file() {
                missing.push(format!("{label}.json: no fixture file"));
            }
            if !cases.contains(&label) {
                missing.push(format!("{label}: no case in event_fixtures.rs"));
            }
            if !sources.contains(&format!("`{label}.json`")) {
                missing.push(format!("{label}: not in SOURCES.md"));
            }
            expected.insert(label);
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    let mut present = BTreeSet::new();
    for folder in std::fs::read_dir(fixtures_root()).unwrap() {
        let folder = folder.unwrap().path();
        if !folder.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&folder).unwrap() {
            let file = file.unwrap().path();
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let dir = folder.file_name().unwrap().to_string_lossy().into_owned();
            present.insert(format!("{dir}/{}", name.trim_end_matches(".json")));
        }
    }
    assert_eq!(present, expected, "fixture files without an event or shape");
    assert_eq!(cases, expected, "cases without a fixture");
}

/// Field-set differences between a fixture and a body built from other values: missing and
/// extra fields, key order, and JSON types where neither side is `null` (the world's example
/// values differ from the fixture's, and a nullable field may be null in one of them).
fn layout_differences(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(want), Value::Object(got)) => {
            missing_and_extra(path, want, got, out);
            for (key, value) in want {
                if let Some(other) = got.get(key) {
                    layout_differences(&format!("{path}.{key}"), value, other, out);
                }
            }
            if shared_keys(want, got) != shared_keys(got, want) {
                out.push(format!("{path}: key order differs"));
            }
        }
        (Value::Array(want), Value::Array(got)) => {
            if let Some(first) = want.first() {
                for (index, item) in got.iter().enumerate() {
                    layout_differences(&format!("{path}[{index}]"), first, item, out);
                }
            }
        }
        _ if type_name(expected) != type_name(actual) => out.push(format!(
            "{path}: {}, fixture {}",
            type_name(actual),
            type_name(expected)
        )),
        _ => {}
    }
}

/// Field-set differences the world's events show against the fixtures, found by
/// [`the_world_sends_each_fixtures_fields_in_order`]; the test fails if they change, so a fix
/// must remove its line.
const WORLD_KNOWN: &[(&str, &[&str])] = &[];

/// The statuses each case's entity is forced through in the world, from where the API creates
/// it, ending with the fixture's status.
fn forced_path(case: &Case) -> &'static [&'static str] {
    match (case.shape, &case.before) {
        (PayloadShape::Seed, Entity::Domain(_)) => &["dns_setup_pending", "pending", "active"],
        (PayloadShape::Current, Entity::Domain(_)) => &["waiting_for_dns_propagation", "active"],
        (PayloadShape::Seed, Entity::Mailbox(_)) => &[
            "pending",
            "processing",
            "configuring_workspace",
            "configuring_dns",
            "configuring_dkim",
            "failed",
        ],
        (PayloadShape::Current, Entity::Mailbox(_)) => &[
            "pending",
            "processing",
            "configuring_workspace",
            "configuring_dns",
            "configuring_dkim",
            "configuring_auth",
            "finalizing_setup",
            "active",
        ],
        (PayloadShape::Seed, Entity::ConsentRequest(_)) => &["pending", "processing", "completed"],
        (PayloadShape::Current, Entity::ConsentRequest(_)) => &["pending", "processing", "failed"],
        (PayloadShape::Seed, Entity::ClientIdRequest(_)) => &["pending", "cancelled"],
        (PayloadShape::Current, Entity::ClientIdRequest(_)) => {
            &["pending", "processing", "completed"]
        }
    }
}

/// Creates the entity of `case`'s kind through the mock's APIs; returns its control-API kind
/// and uid.
async fn create_in_world(mock: &crate::server::Mock, case: &Case) -> (&'static str, String) {
    let answer = match (case.shape, &case.before) {
        (PayloadShape::Seed, Entity::Domain(_)) => {
            let body = serde_json::json!({"domains": [{"name": "yourdomain.com"}]});
            mock.rest("POST", "/domains/connect", Some(body)).await
        }
        (PayloadShape::Current, Entity::Domain(_)) => {
            let uid = mock.register("brightwave.io").await;
            return ("domains", uid);
        }
        (_, Entity::Mailbox(_)) => {
            let domain = mock.register("mail.example.com").await;
            for to in ["waiting_for_dns_propagation", "active"] {
                force(mock, "domains", &domain, to).await;
            }
            return ("mailboxes", mock.buy("jane.doe", "mail.example.com").await);
        }
        (_, Entity::ConsentRequest(_)) => {
            let answer = mock.control("POST", "/consent_requests", None).await;
            assert_eq!(answer.status, 201, "{answer:?}");
            return ("consent_requests", string_at(&answer.body, "uid"));
        }
        (_, Entity::ClientIdRequest(_)) => {
            let body = serde_json::json!({"domain_name": "yourdomain.com"});
            let answer = mock
                .control("POST", "/client_id_requests", Some(body))
                .await;
            assert_eq!(answer.status, 201, "{answer:?}");
            return ("client_id_requests", string_at(&answer.body, "uid"));
        }
    };
    assert_eq!(answer.status, 200, "{answer:?}");
    (
        "domains",
        answer.body["domain_uids"][0].as_str().unwrap().to_owned(),
    )
}

fn string_at(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no `{key}` in {value}"))
        .to_owned()
}

async fn force(mock: &crate::server::Mock, kind: &str, uid: &str, to: &str) {
    let body = serde_json::json!({"to": to});
    let answer = mock
        .control("POST", &format!("/{kind}/{uid}/transition"), Some(body))
        .await;
    assert_eq!(answer.status, 200, "{kind} {uid} -> {to}: {answer:?}");
}

/// (a, through the world) The events `serve` sends when an entity reaches each fixture's status
/// through its APIs carry the fixture's fields, in its order, with its types (the values are
/// the world's own: ids, names and times differ).
#[tokio::test]
async fn the_world_sends_each_fixtures_fields_in_order() {
    let mut unexpected = Vec::new();
    for shape in PayloadShape::value_variants().iter().copied() {
        let mock =
            crate::server::Mock::start_with(31, |config| config.subscriber.payload_shape = shape)
                .await;
        for case in cases().into_iter().filter(|c| c.shape == shape) {
            let label = case.label();
            let (kind, uid) = create_in_world(&mock, &case).await;
            for to in forced_path(&case) {
                force(&mock, kind, &uid, to).await;
            }
            let journal = mock.server.state().sender().journal();
            mock.wait_terminal(journal.counters().events).await;
            let last = journal
                .all()
                .into_iter()
                .filter(|r| r.entity_uid.as_deref() == Some(uid.as_str()))
                .last()
                .unwrap_or_else(|| panic!("{label}: no webhook about {uid}"));
            let sent: Value = serde_json::from_str(&last.body).unwrap();
            let status = &sent["data"][case.event().data_key().unwrap()]["status"];
            assert_eq!(status, case.to, "{label}");
            let mut found = Vec::new();
            layout_differences("$", &fixture_value(shape, &case.event()), &sent, &mut found);
            let known: Vec<String> = WORLD_KNOWN
                .iter()
                .filter(|(name, _)| *name == label)
                .flat_map(|(_, lines)| lines.iter().map(|l| (*l).to_owned()))
                .collect();
            if found != known {
                unexpected.push(format!(
                    "{label}: found {found:?}, known {known:?}\n  sent: {sent}"
                ));
            }
        }
        mock.stop().await;
    }
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
}
