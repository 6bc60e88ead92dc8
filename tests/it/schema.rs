//! `schema`: every payload the mock emits validates against the generated JSON Schemas,
//! checked by an independent validator (the `jsonschema` crate).

use chrono::{TimeZone, Utc};
use inboxkit_mock::contract::schema::{event_schema, shape_schema};
use inboxkit_mock::contract::{Entity, Envelope, EventType, PayloadShape, Platform};
use inboxkit_mock::model::Faker;
use inboxkit_mock::simulation::transition::{advance_entity, allowed_next};
use proptest::prelude::*;
use serde_json::Value;

use crate::recording::fixture;
use crate::support::run_cli;

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::validator_for(schema).expect("the generated schema is a valid draft 2020-12 schema")
}

fn errors(validator: &jsonschema::Validator, body: &Value) -> Vec<String> {
    validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn shape_of(seed_shape: bool) -> PayloadShape {
    if seed_shape {
        PayloadShape::Seed
    } else {
        PayloadShape::Current
    }
}

/// A fresh entity of `event`'s kind.
fn fresh_entity(event: &EventType, faker: &mut Faker, platform: usize) -> Entity {
    let now = Utc.with_ymd_and_hms(2025, 9, 1, 12, 0, 0).unwrap();
    match event {
        EventType::DomainStatusChanged => Entity::Domain(faker.purchased_domain(None, 1, now)),
        EventType::MailboxStatusChanged => {
            let domain = faker.domain_name();
            let platform = Platform::KNOWN[platform % Platform::KNOWN.len()].clone();
            Entity::Mailbox(faker.mailbox(&domain, platform, now))
        }
        EventType::ConsentRequestStatusChanged => Entity::ConsentRequest(faker.consent_request()),
        _ => {
            let domain = faker.domain_name();
            Entity::ClientIdRequest(faker.client_id_request(&domain))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random walks through each lifecycle (typical steps and failures alike), in both shapes:
    /// every body emitted on the way validates against its event's schema and the shape's.
    #[test]
    fn every_emitted_payload_validates(
        seed in any::<u64>(),
        event_index in 0..EventType::KNOWN.len(),
        seed_shape in any::<bool>(),
        platform in 0usize..8,
        choices in proptest::collection::vec(any::<proptest::sample::Index>(), 1..10),
    ) {
        let event = &EventType::KNOWN[event_index];
        let shape = shape_of(seed_shape);
        let by_event = validator(&event_schema(shape, event).unwrap().to_value());
        let by_shape = validator(&shape_schema(shape).to_value());
        let mut faker = Faker::seeded(seed);
        let account = faker.account();
        let mut entity = fresh_entity(event, &mut faker, platform);
        let at = Utc.with_ymd_and_hms(2025, 9, 1, 12, 0, 0).unwrap();
        for choice in choices {
            let next = allowed_next(&entity);
            if next.is_empty() {
                break;
            }
            let to = next[choice.index(next.len())].clone();
            let change = advance_entity(&mut entity, &to, shape).unwrap();
            let envelope = Envelope::status_changed(shape, &account, entity.clone(), &change, at);
            let body: Value = serde_json::from_slice(&envelope.to_bytes()).unwrap();
            let problems = errors(&by_event, &body);
            prop_assert!(problems.is_empty(), "{event} {shape:?} -> {to}: {problems:?}");
            prop_assert!(by_shape.is_valid(&body));
        }
    }
}

#[test]
fn bodies_of_the_other_shape_or_another_contract_fail() {
    let seed_domain = validator(
        &event_schema(PayloadShape::Seed, &EventType::DomainStatusChanged)
            .unwrap()
            .to_value(),
    );
    let current_domain = validator(
        &event_schema(PayloadShape::Current, &EventType::DomainStatusChanged)
            .unwrap()
            .to_value(),
    );
    let body = |name: &str| -> Value {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        serde_json::from_str(line["body"].as_str().unwrap()).unwrap()
    };
    let example = body("seed-example.jsonl");
    assert!(errors(&seed_domain, &example).is_empty());
    assert!(
        !current_domain.is_valid(&example),
        "seed shape is not current shape"
    );
    for name in [
        "extra-field.jsonl",
        "renamed-field.jsonl",
        "unknown-status.jsonl",
    ] {
        assert!(!seed_domain.is_valid(&body(name)), "{name}");
    }
}

#[tokio::test]
async fn the_cli_prints_schemas_a_validator_accepts() {
    let (code, stdout, stderr) = run_cli(&["schema", "--profile", "current"], b"").await;
    assert_eq!(code, 0, "{stderr}");
    let schema: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(
        jsonschema::meta::is_valid(&schema),
        "the output is itself a valid schema"
    );
    let (code, stdout, _) = run_cli(
        &["schema", "--event", "client_id_request.status_changed"],
        b"",
    )
    .await;
    assert_eq!(code, 0);
    let schema: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        schema["properties"]["event"]["const"],
        "client_id_request.status_changed"
    );
    assert!(
        schema["properties"]["workspace_id"].is_object(),
        "seed by default"
    );
    let (code, _, stderr) = run_cli(&["schema", "--event", "domain.renamed"], b"").await;
    assert_eq!(code, 64);
    assert!(stderr.contains("domain.renamed"), "{stderr}");
}
