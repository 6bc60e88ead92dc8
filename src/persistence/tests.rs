//! The store on its own: round trip, migration, refused paths and schemes.

use super::*;
use crate::delivery::JournalSink;
use crate::delivery::journal::Timestamp;
use crate::delivery::{AttemptOutcome, DeliveryId, Trigger};
use crate::simulation::replay::replay;

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "inboxkit-mock-state-{}-{name}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("state.db")
}

fn time(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn record(id: &str) -> DeliveryRecord {
    DeliveryRecord {
        id: DeliveryId(id.into()),
        event: "domain.status_changed".into(),
        entity_uid: Some("domain-abc".into()),
        status: Some("active".into()),
        previous_status: None,
        target: "http://127.0.0.1:1/webhook".into(),
        created_at: time("2024-01-10T15:30:45.123Z"),
        state: DeliveryState::Pending,
        body: "{\"event\":\"domain.status_changed\",\"n\":\"\u{e9}\"}".into(),
        attempts: vec![],
    }
}

fn attempt(number: u32, outcome: AttemptOutcome, next: Option<&str>) -> AttemptRecord {
    AttemptRecord {
        number,
        trigger: Trigger::Scheduled,
        started_at: time("2024-01-10T15:30:45.123Z"),
        url: "http://127.0.0.1:1/webhook".into(),
        request_headers: vec![("X-InboxKit-Event".into(), "domain.status_changed".into())],
        response: None,
        latency_ms: 1.5,
        outcome,
        error: None,
        next_attempt_at: next.map(time),
        resent_after_crash: false,
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

#[tokio::test]
async fn what_is_written_reads_back_with_the_in_flight_attempt_and_the_clock() {
    let path = temp_path("round-trip");
    let clock = Clock::starting_at(at("2024-01-10T15:30:45.123Z"), 1.0).unwrap();
    clock.pause();
    let writer = StateStore::open(&path).unwrap().into_writer(clock).unwrap();
    let (a, b, c) = (record("a"), record("b"), record("c"));
    writer.open(&a, Some("sha256=aa"));
    writer.open(&b, None);
    writer.open(&c, None);
    writer.started(&a.id, 1);
    let first = attempt(1, AttemptOutcome::Http5xx, Some("2024-01-10T15:30:55.123Z"));
    writer.attempt(&a.id, &first, DeliveryState::Retrying);
    writer.started(&a.id, 2);
    writer.started(&b.id, 1);
    let done = attempt(1, AttemptOutcome::Delivered, None);
    writer.attempt(&b.id, &done, DeliveryState::Delivered);
    writer.forget(&c.id);
    assert!(writer.flush().await, "the writer commits");
    writer.close().await;

    let saved = StateStore::open(&path).unwrap().load().unwrap();
    assert_eq!(saved.clock, Some(at("2024-01-10T15:30:45.123Z")));
    let ids: Vec<&str> = saved
        .deliveries
        .iter()
        .map(|d| d.record.id.as_str())
        .collect();
    assert_eq!(ids, ["a", "b"], "forgotten deliveries are gone, order kept");
    let (a_saved, b_saved) = (&saved.deliveries[0], &saved.deliveries[1]);
    assert_eq!(a_saved.record.state, DeliveryState::Retrying);
    assert_eq!(a_saved.record.attempts, vec![first]);
    assert_eq!(
        a_saved.record.body, a.body,
        "the body is kept byte for byte"
    );
    assert_eq!(a_saved.signature.as_deref(), Some("sha256=aa"));
    assert!(a_saved.in_flight(), "attempt 2 started and was not saved");
    assert_eq!(b_saved.record.state, DeliveryState::Delivered);
    assert!(
        !b_saved.in_flight(),
        "a terminal delivery has nothing in flight"
    );
}

#[tokio::test]
async fn clear_drops_every_delivery() {
    let path = temp_path("clear");
    let writer = StateStore::open(&path)
        .unwrap()
        .into_writer(Clock::real())
        .unwrap();
    writer.open(&record("a"), None);
    writer.attempt(
        &DeliveryId("a".into()),
        &attempt(1, AttemptOutcome::Http4xx, None),
        DeliveryState::Rejected,
    );
    writer.clear();
    assert!(writer.flush().await);
    writer.close().await;
    assert!(
        StateStore::open(&path)
            .unwrap()
            .load()
            .unwrap()
            .deliveries
            .is_empty()
    );
}

#[test]
fn a_new_file_is_migrated_once_and_a_newer_one_is_refused() {
    let path = temp_path("migration");
    let store = StateStore::open(&path).unwrap();
    assert_eq!(store.version().unwrap(), SCHEMA_VERSION);
    drop(store);
    // Opening again applies nothing (the tables exist; a second CREATE would fail).
    let store = StateStore::open(&path).unwrap();
    assert_eq!(store.version().unwrap(), SCHEMA_VERSION);
    store
        .conn
        .pragma_update(None, "user_version", i64::from(SCHEMA_VERSION) + 1)
        .unwrap();
    drop(store);
    let error = StateStore::open(&path).unwrap_err();
    assert!(
        matches!(error, StateError::TooNew { found, supported } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{error}"
    );
}

#[test]
fn a_file_in_use_by_another_server_is_refused() {
    let path = temp_path("in-use");
    let first = StateStore::open(&path).unwrap();
    let error = StateStore::open(&path).unwrap_err();
    assert!(matches!(error, StateError::InUse { .. }), "{error}");
    drop(first);
    StateStore::open(&path).expect("free again once the first is closed");
}

#[test]
fn an_old_schema_is_brought_up_to_date() {
    let path = temp_path("upgrade");
    let mut conn = Connection::open(&path).unwrap();
    assert_eq!(
        schema::migrate(&mut conn).unwrap(),
        0,
        "a new file is version 0"
    );
    assert_eq!(schema::version(&conn).unwrap(), SCHEMA_VERSION);
    assert_eq!(schema::migrate(&mut conn).unwrap(), SCHEMA_VERSION);
}

#[test]
fn bad_paths_and_schemes_are_clear_errors() {
    let missing_dir = std::env::temp_dir()
        .join(format!("no-such-dir-{}", uuid::Uuid::new_v4().simple()))
        .join("state.db");
    let error = StateStore::open(&missing_dir).unwrap_err();
    assert!(matches!(error, StateError::Open { .. }), "{error}");
    assert!(error.to_string().contains("no-such-dir"), "{error}");

    let not_a_database = temp_path("garbage");
    std::fs::write(&not_a_database, vec![b'x'; 4096]).unwrap();
    assert!(StateStore::open(&not_a_database).is_err());

    assert_eq!(
        "sqlite:/tmp/s.db".parse::<StateSpec>().unwrap(),
        StateSpec::Sqlite("/tmp/s.db".into())
    );
    assert_eq!("memory".parse::<StateSpec>().unwrap(), StateSpec::Memory);
    let error = "postgres://db/state".parse::<StateSpec>().unwrap_err();
    assert!(error.to_string().contains("sqlite:PATH"), "{error}");
    assert!(matches!(
        "sqlite:".parse::<StateSpec>(),
        Err(StateError::EmptyPath)
    ));
}

/// Everything observable about a simulation: entities, schedule, counters.
fn fingerprint(sim: &crate::simulation::simulator::Simulation) -> serde_json::Value {
    use crate::model::world::{EntityKind, EntityRef};
    let world = sim.world();
    let entities: Vec<serde_json::Value> = EntityKind::ALL
        .iter()
        .flat_map(|kind| {
            (0..world.count(*kind)).map(move |index| {
                let entity = EntityRef {
                    kind: *kind,
                    index: index as u32,
                };
                serde_json::to_value(world.entity(entity)).unwrap()
            })
        })
        .collect();
    let webhooks: Vec<Option<String>> = world
        .workspaces()
        .iter()
        .map(|w| w.webhook_url.as_ref().map(|u| u.to_string()))
        .collect();
    serde_json::json!({
        "entities": entities,
        "webhooks": webhooks,
        "next_due": sim.next_due(),
        "scheduled": sim.queue_depth(),
        "fired": sim.fired_total(),
    })
}

#[test]
fn replaying_the_recorded_changes_rebuilds_the_same_world() {
    use crate::contract::{PayloadShape, Platform, Secret};
    use crate::model::world::{EntityKind, MailboxOrder};
    use crate::simulation::simulator::{FailureRates, Simulation};
    let failures = FailureRates {
        default: 0.3,
        ..FailureRates::default()
    };
    let t0 = at("2024-01-10T15:30:45.123Z");
    let mut live = Simulation::new(42, 2, failures.clone());
    live.record_ops();
    live.register_domain(0, "a.io", 1, t0).unwrap();
    live.register_domain(1, "b.io", 2, t0).unwrap();
    for (n, user) in ["x", "y", "z"].iter().enumerate() {
        let order = MailboxOrder {
            username: (*user).into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            platform: Platform::Google,
            domain_name: "a.io".into(),
        };
        live.buy_mailbox(0, &order, t0 + chrono::TimeDelta::seconds(n as i64))
            .unwrap();
    }
    live.open_request(EntityKind::ConsentRequest, 0, None, t0);
    live.set_webhook(
        1,
        url::Url::parse("http://127.0.0.1:9/hook").unwrap(),
        Some(Secret::new("whsec_b")),
    );
    let mut fired = 0;
    for minute in 1..=20 {
        fired += live
            .fire_due(
                t0 + chrono::TimeDelta::minutes(minute),
                PayloadShape::Seed,
                3,
            )
            .len();
    }
    let mailbox = live
        .find(
            EntityKind::Mailbox,
            &live.world().uid(crate::model::world::EntityRef {
                kind: EntityKind::Mailbox,
                index: 0,
            }),
        )
        .unwrap();
    let target = live.cancellation_target(mailbox);
    live.transition(
        mailbox,
        target,
        PayloadShape::Seed,
        t0 + chrono::TimeDelta::minutes(21),
    )
    .unwrap();
    assert!(fired > 5, "the schedule moved: {fired} steps fired");
    let ops = live.take_ops();
    assert!(live.take_ops().is_empty(), "taking empties the log");

    let ops: Vec<WorldOp> = serde_json::from_str(&serde_json::to_string(&ops).unwrap()).unwrap();
    let mut replayed = Simulation::new(42, 2, failures);
    for op in &ops {
        replay(&mut replayed, op).unwrap();
    }
    assert_eq!(fingerprint(&replayed), fingerprint(&live));
    assert!(replayed.take_ops().is_empty(), "a replay records nothing");
}
