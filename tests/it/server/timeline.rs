//! The timeline a consumer sees: one clock advance walks every due instant in order, so each
//! entity's webhooks arrive in the order of its changes, each first attempt stamped with its
//! change's instant and each retry with its own; reset leaves nothing of the world before.
//!
//! The subscriber here is wiremock, not the project's receiver: the expectations (the chain of
//! `previous_status`, the timestamps, the REST statuses) come from what arrived on the wire.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{header, method};
use wiremock::{Mock as Expect, MockServer, ResponseTemplate};

use super::{Mock, start_time};
use crate::support::server_answering;

/// One request as the subscriber saw it.
#[derive(Debug, Clone)]
struct Arrival {
    uid: String,
    status: String,
    previous_status: Option<String>,
    body_timestamp: DateTime<Utc>,
    header_timestamp: DateTime<Utc>,
    attempt: u32,
    delivery: String,
}

fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("`{text}` is not RFC 3339: {e}"))
        .to_utc()
}

/// Every request the subscriber got, in arrival order.
async fn arrivals(subscriber: &MockServer) -> Vec<Arrival> {
    let requests = subscriber.received_requests().await.unwrap();
    requests
        .iter()
        .map(|request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            let entity = body["data"]
                .as_object()
                .and_then(|data| data.values().find(|v| v.get("uid").is_some()))
                .unwrap_or_else(|| panic!("no entity in {body}"));
            let header = |name: &str| {
                request
                    .headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_else(|| panic!("no {name} header"))
                    .to_owned()
            };
            Arrival {
                uid: entity["uid"].as_str().unwrap().to_owned(),
                status: entity["status"].as_str().unwrap().to_owned(),
                previous_status: entity["previous_status"].as_str().map(str::to_owned),
                body_timestamp: instant(body["timestamp"].as_str().unwrap()),
                header_timestamp: instant(&header("x-inboxkit-timestamp")),
                attempt: header("x-inboxkit-mock-attempt").parse().unwrap(),
                delivery: header("x-inboxkit-mock-delivery"),
            }
        })
        .collect()
}

/// The arrivals about each entity, in arrival order.
fn by_entity(arrivals: &[Arrival]) -> HashMap<String, Vec<Arrival>> {
    let mut grouped: HashMap<String, Vec<Arrival>> = HashMap::new();
    for arrival in arrivals {
        grouped
            .entry(arrival.uid.clone())
            .or_default()
            .push(arrival.clone());
    }
    grouped
}

/// Asserts that `accepted` (one entity's accepted webhooks, in arrival order) tell its story in
/// order: each `previous_status` is the status before it, timestamps strictly increase.
fn assert_in_order(uid: &str, first_status: &str, accepted: &[Arrival]) {
    let mut status = first_status.to_owned();
    let mut last: Option<DateTime<Utc>> = None;
    for arrival in accepted {
        assert_eq!(
            arrival.previous_status.as_deref(),
            Some(status.as_str()),
            "{uid}: a webhook arrived out of order: {accepted:#?}"
        );
        if let Some(last) = last {
            assert!(
                arrival.body_timestamp > last,
                "{uid}: timestamps must strictly increase: {accepted:#?}"
            );
        }
        last = Some(arrival.body_timestamp);
        status = arrival.status.clone();
    }
}

/// A paused mock whose workspace delivers to `subscriber`; a domain and three mailboxes bought
/// through REST. Returns the mock and (uid, status at purchase) of each entity.
async fn world_on(subscriber: &MockServer) -> (Mock, Vec<(String, String)>) {
    let mock = Mock::start(13).await;
    let url = format!("{}/hook", subscriber.uri());
    let set = mock
        .rest(
            "POST",
            "/workspaces/webhook",
            Some(json!({"uid": mock.workspace_id(), "webhook_url": url})),
        )
        .await;
    assert_eq!(set.status, 200, "{set:?}");
    let domain = mock.register("timeline.io").await;
    let mut entities = vec![(domain, "registration_in_progress".to_owned())];
    for name in ["ada", "grace", "edsger"] {
        entities.push((mock.buy(name, "timeline.io").await, "scheduled".to_owned()));
    }
    (mock, entities)
}

/// Statuses of every domain and mailbox, as the REST API lists them.
async fn rest_statuses(mock: &Mock) -> HashMap<String, String> {
    let mut statuses = HashMap::new();
    for (path, key) in [
        ("/domains/list", "domains"),
        ("/mailboxes/list", "mailboxes"),
    ] {
        let answer = mock.rest("POST", path, Some(json!({"limit": 100}))).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let list = answer.body[key]
            .as_array()
            .or_else(|| answer.body["data"].as_array())
            .unwrap_or_else(|| panic!("no {key} in {}", answer.body))
            .clone();
        for entity in list {
            statuses.insert(
                entity["uid"].as_str().unwrap().to_owned(),
                entity["status"].as_str().unwrap().to_owned(),
            );
        }
    }
    statuses
}

async fn advance(mock: &Mock, by: &str) -> Value {
    let answer = mock
        .control("POST", "/clock/advance", Some(json!({"by": by})))
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.body
}

#[tokio::test]
async fn one_advance_delivers_each_entitys_webhooks_in_order_at_their_instants() {
    let subscriber = server_answering(200).await;
    let (mock, entities) = world_on(&subscriber).await;

    let answer = advance(&mock, "3d").await;
    let arrivals = arrivals(&subscriber).await;
    assert_eq!(
        answer["advanced"]["attempts_made"].as_u64(),
        Some(arrivals.len() as u64),
        "the advance answers once every attempt due in it was made: {answer}"
    );
    assert_eq!(answer["advanced"]["retries_scheduled"], 0, "{answer}");
    assert_eq!(
        answer["now"].as_str().map(instant),
        Some(start_time() + TimeDelta::days(3))
    );

    let statuses = rest_statuses(&mock).await;
    let grouped = by_entity(&arrivals);
    for (uid, first_status) in &entities {
        let mine = grouped
            .get(uid)
            .unwrap_or_else(|| panic!("nothing arrived about {uid}"));
        assert!(mine.len() >= 2, "{uid}: {mine:#?}");
        assert_in_order(uid, first_status, mine);
        for arrival in mine {
            assert_eq!(
                arrival.header_timestamp, arrival.body_timestamp,
                "{uid}: a first attempt is made at its change's instant"
            );
            assert!(arrival.body_timestamp > start_time());
        }
        assert_eq!(
            mine.last().map(|a| a.status.as_str()),
            statuses.get(uid).map(String::as_str),
            "{uid}: the last webhook tells the status the REST API shows"
        );
    }
    mock.stop().await;
}

#[tokio::test]
async fn retries_fall_at_their_own_instants_and_order_per_entity_holds() {
    let subscriber = MockServer::start().await;
    Expect::given(method("POST"))
        .and(header("x-inboxkit-mock-attempt", "1"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&subscriber)
        .await;
    Expect::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&subscriber)
        .await;
    let (mock, entities) = world_on(&subscriber).await;

    let answer = advance(&mock, "3d").await;
    assert_eq!(answer["advanced"]["retries_scheduled"], 0, "{answer}");
    let arrivals = arrivals(&subscriber).await;
    let firsts: HashMap<&str, &Arrival> = arrivals
        .iter()
        .filter(|a| a.attempt == 1)
        .map(|a| (a.delivery.as_str(), a))
        .collect();
    let retries: Vec<&Arrival> = arrivals.iter().filter(|a| a.attempt > 1).collect();
    assert_eq!(
        retries.len(),
        firsts.len(),
        "every delivery failed once, then was retried once"
    );
    for retry in &retries {
        let first = firsts[retry.delivery.as_str()];
        assert_eq!(retry.attempt, 2);
        assert_eq!(
            retry.header_timestamp - first.header_timestamp,
            TimeDelta::seconds(10),
            "the first retry is made 10 s (simulated) after the first attempt"
        );
        assert_eq!(retry.body_timestamp, first.body_timestamp, "same body");
    }

    let statuses = rest_statuses(&mock).await;
    let accepted: Vec<Arrival> = retries.into_iter().cloned().collect();
    let grouped = by_entity(&accepted);
    for (uid, first_status) in &entities {
        let mine = &grouped[uid];
        assert_in_order(uid, first_status, mine);
        assert_eq!(
            mine.last().map(|a| a.status.as_str()),
            statuses.get(uid).map(String::as_str)
        );
    }
    mock.stop().await;
}

#[tokio::test]
async fn reset_cancels_scheduled_retries_and_nothing_of_the_old_world_arrives_after() {
    let subscriber = server_answering(503).await;
    let (mock, _) = world_on(&subscriber).await;
    let answer = advance(&mock, "30s").await;
    assert!(
        answer["advanced"]["retries_scheduled"].as_u64() >= Some(1),
        "a failed delivery waits for its retry: {answer}"
    );
    let before = subscriber.received_requests().await.unwrap().len();
    assert!(before >= 1);

    let reset = mock.control("POST", "/reset", None).await;
    assert_eq!(reset.status, 200, "{reset:?}");
    let answer = advance(&mock, "2h").await;
    assert_eq!(answer["advanced"]["attempts_made"], 0, "{answer}");
    let journal = mock.control("GET", "/deliveries", None).await;
    assert_eq!(journal.body["total"], 0, "{}", journal.body);
    assert_eq!(
        subscriber.received_requests().await.unwrap().len(),
        before,
        "nothing was sent after the reset"
    );
    mock.stop().await;
}

#[tokio::test]
async fn an_advance_past_the_last_instant_is_refused_and_the_server_keeps_serving() {
    let subscriber = MockServer::start().await;
    let (mock, _) = world_on(&subscriber).await;
    let refused = mock
        .control("POST", "/clock/advance", Some(json!({"by": "300000y"})))
        .await;
    refused.assert_problem(400, "bad_request");
    assert!(
        refused.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("by") && d.contains("100 years")),
        "{}",
        refused.body
    );
    let clock = mock.control("GET", "/clock", None).await;
    assert_eq!(clock.body["now"].as_str().map(instant), Some(start_time()));
    let answer = advance(&mock, "1m").await;
    assert!(answer["fired"].as_u64().is_some(), "{answer}");
    mock.stop().await;
}

#[tokio::test]
async fn a_fast_clock_does_not_shorten_the_time_a_consumer_has_to_answer() {
    let subscriber = MockServer::start().await;
    Expect::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_millis(300)))
        .mount(&subscriber)
        .await;
    let (mock, _) = world_on(&subscriber).await;
    mock.server.state().clock().set_scale(1000.0).unwrap();
    let answer = advance(&mock, "1h").await;
    let made = answer["advanced"]["attempts_made"].as_u64().unwrap();
    assert!(made >= 10, "{answer}");
    let arrivals = arrivals(&subscriber).await;
    assert!(
        arrivals.iter().all(|a| a.attempt == 1),
        "every attempt was answered in time at scale 1000: {arrivals:#?}"
    );
    let journal = mock.server.state().sender().journal().counters();
    assert_eq!(journal.terminal.values().sum::<u64>(), made, "{journal:?}");
    mock.stop().await;
}
