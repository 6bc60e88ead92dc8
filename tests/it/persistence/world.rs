//! The world across a SIGKILL: entities, statuses, the schedule and the clock come back as they
//! were, and the lifecycles carry on with every status change announced once, in order.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{Serve, get_json, metric, temp_dir};
use crate::support::JsonAnswer;

const KEY: &str = "Bearer ik_persist";

async fn rest(http: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    let answer: Value = http
        .post(format!("{base}/v1/api/{path}"))
        .header("Authorization", KEY)
        .json(&body)
        .json_answer()
        .await;
    assert_eq!(answer["error"], false, "{path}: {answer}");
    answer
}

async fn control(http: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    http.post(format!("{base}/_mock/{path}"))
        .json(&body)
        .json_answer()
        .await
}

/// The world as the control API shows it: counts, schedule, clock, and every entity.
async fn snapshot(http: &reqwest::Client, base: &str, uids: &[(&str, String)]) -> Value {
    let mut entities = Vec::new();
    for (kind, uid) in uids {
        entities.push(get_json(http, format!("{base}/_mock/{kind}/{uid}")).await);
    }
    let deliveries = get_json(http, format!("{base}/_mock/deliveries?limit=1")).await;
    json!({
        "world": get_json(http, format!("{base}/_mock/world")).await,
        "clock": get_json(http, format!("{base}/_mock/clock")).await,
        "entities": entities,
        "deliveries": deliveries["total"],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_comes_back_with_its_world_and_carries_on() {
    let subscriber = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&subscriber)
        .await;
    let webhook = format!("{}/webhook", subscriber.uri());
    let dir = temp_dir();
    let db = dir.join("state.db");
    let http = reqwest::Client::new();
    // Paused: the world moves only when advanced, so both runs can be compared exactly. Failure
    // branches are drawn too, so the replay must draw the same numbers in the same order.
    let args = [
        "--webhook-url",
        webhook.as_str(),
        "--paused",
        "--start-time",
        "2024-01-10T00:00:00Z",
        "--failure-rate",
        "0.2",
    ];

    let first = Serve::start_with(&db, &dir.join("world1.log"), &args);
    let base = first.base.clone();
    let registered = rest(
        &http,
        &base,
        "domains/register",
        json!({"domains": [{"name": "alpha.io"}, {"name": "beta.io", "registration_years": 2}]}),
    )
    .await;
    let mut uids: Vec<(&str, String)> = registered["domain_uids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| ("domains", u.as_str().unwrap().to_owned()))
        .collect();
    let mailboxes: Vec<Value> = ["ada", "grace", "alan", "edsger"]
        .iter()
        .map(|user| json!({"first_name": "Test", "last_name": "User", "username": user, "platform": "GOOGLE", "domain_name": "alpha.io"}))
        .collect();
    let bought = rest(
        &http,
        &base,
        "mailboxes/buy",
        json!({ "mailboxes": mailboxes }),
    )
    .await;
    for mailbox in bought["mailboxes"].as_array().unwrap() {
        uids.push(("mailboxes", mailbox["uid"].as_str().unwrap().to_owned()));
    }
    let (_, cancelled) = &uids[3];
    rest(
        &http,
        &base,
        "mailboxes/cancel",
        json!({ "uids": [cancelled] }),
    )
    .await;
    let advanced = control(&http, &base, "clock/advance", json!({"by": "3m"})).await;
    assert!(advanced["fired"].as_u64().unwrap() > 0, "{advanced}");
    // A trigger answers once everything before it is saved.
    control(
        &http,
        &base,
        "events",
        json!({"event": "domain.status_changed"}),
    )
    .await;
    let before = snapshot(&http, &base, &uids).await;
    first.kill();

    let second = Serve::start_with(&db, &dir.join("world2.log"), &args);
    let base = second.base.clone();
    let after = snapshot(&http, &base, &uids).await;
    assert_eq!(
        after, before,
        "the world, its schedule and the clock are back"
    );

    // Carry on: every lifecycle runs to its end, each change announced once, in order.
    control(&http, &base, "clock/advance", json!({"by": "2h"})).await;
    let started = Instant::now();
    while metric(&http, &base, "inboxkit_mock_deliveries_in_progress").await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "deliveries still open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut statuses: HashMap<String, Vec<(Value, Value)>> = HashMap::new();
    let listing = get_json(&http, format!("{base}/_mock/deliveries?limit=1000")).await;
    for delivery in listing["deliveries"].as_array().unwrap() {
        assert_eq!(delivery["state"], "delivered", "{delivery}");
        if let Some(uid) = delivery["entity_uid"].as_str() {
            statuses.entry(uid.to_owned()).or_default().push((
                delivery["previous_status"].clone(),
                delivery["status"].clone(),
            ));
        }
    }
    for (kind, uid) in &uids {
        let entity = get_json(&http, format!("{base}/_mock/{kind}/{uid}")).await;
        let chain = &statuses[uid];
        for pair in chain.windows(2) {
            assert_eq!(
                pair[1].0, pair[0].1,
                "{uid}: a gap or a repeat in {chain:?}"
            );
        }
        // `{"entity": {"domain": {...}}}`: the object under its kind's key.
        let object = entity["entity"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap();
        assert_eq!(
            chain.last().unwrap().1,
            object["status"],
            "{uid}: its last change was announced"
        );
    }
    second.kill();
    let _ = std::fs::remove_dir_all(&dir);
}
