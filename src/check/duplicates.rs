//! `duplicate.*`: delivery is at least once, so an exact repeat is acknowledged (2xx) and not
//! processed again, while a new status of the same `uid` is a new event, not a duplicate.

use serde_json::{Value, json};

use super::bodies::{compact, entity_field, entity_mut};
use super::probe::{Probe, Request};
use super::{CheckResult, Timer, Verdict, verdict};
use crate::contract::EventType;

/// Runs both duplicate checks.
pub(super) async fn run(probe: &mut Probe, results: &mut Vec<CheckResult>) {
    let event = EventType::DomainStatusChanged;

    let timer = Timer::start();
    let body = probe.bodies().typical(&event);
    let sent = format!(
        "the same signed {event} twice, byte for byte (uid {}, status {})",
        entity_field(&body, &event, "uid"),
        entity_field(&body, &event, "status")
    );
    let before = probe.processed().await;
    let request = Request::signed(event.as_str(), compact(&body));
    let first = probe.send(&request).await;
    let repeat = probe.send(&request).await;
    let observed = format!("first: {first}; repeat: {repeat}");
    let outcome = processed_by(
        probe,
        first.is_2xx() && repeat.is_2xx(),
        observed,
        before,
        1,
    )
    .await;
    results.push(timer.finish(
        "duplicate.exact",
        sent,
        "2xx both times; processed once",
        outcome,
    ));

    let timer = Timer::start();
    let later = probe.bodies().typical(&event);
    let status = entity_field(&later, &event, "status");
    let earlier_status = later
        .get("data")
        .and_then(|d| d.get("domain"))
        .and_then(|d| d.get("previous_status"))
        .and_then(Value::as_str)
        .unwrap_or("pending")
        .to_owned();
    let mut earlier = later.clone();
    if let Some(domain) = entity_mut(&mut earlier, &event) {
        domain.insert("status".into(), json!(earlier_status));
        domain.insert("previous_status".into(), Value::Null);
    }
    let sent = format!(
        "two signed {event} for uid {}: status {earlier_status}, then {status}",
        entity_field(&later, &event, "uid")
    );
    let before = probe.processed().await;
    let first = probe
        .send(&Request::signed(event.as_str(), compact(&earlier)))
        .await;
    let second = probe
        .send(&Request::signed(event.as_str(), compact(&later)))
        .await;
    let observed = format!("first: {first}; second: {second}");
    let outcome = processed_by(
        probe,
        first.is_2xx() && second.is_2xx(),
        observed,
        before,
        2,
    )
    .await;
    results.push(timer.finish(
        "duplicate.new_status_same_uid",
        sent,
        "2xx both times; both processed (dedupe on uid + status, not uid alone)",
        outcome,
    ));
}

/// The verdict of a check whose answers were right when `answers_ok`, and which should have
/// raised the consumer's processed count by `increase` since `before`; `needs_cooperation`
/// when the consumer has no processed endpoint.
pub(super) async fn processed_by(
    probe: &Probe,
    answers_ok: bool,
    observed: String,
    before: Option<Result<u64, String>>,
    increase: u64,
) -> (Verdict, String) {
    if !answers_ok {
        return (Verdict::Fail, observed);
    }
    let before = match before {
        None => {
            return (
                Verdict::NeedsCooperation,
                format!(
                    "{observed}; how often it was processed cannot be seen: expose a processed endpoint (--processed-url)"
                ),
            );
        }
        Some(Err(problem)) => {
            return (
                Verdict::Fail,
                format!("{observed}; processed endpoint: {problem}"),
            );
        }
        Some(Ok(count)) => count,
    };
    match probe.processed().await {
        Some(Ok(after)) => {
            let change = i128::from(after) - i128::from(before);
            verdict(
                change == i128::from(increase),
                format!(
                    "{observed}; processed count {before} -> {after} ({change:+}, expected +{increase})"
                ),
            )
        }
        Some(Err(problem)) => (
            Verdict::Fail,
            format!("{observed}; processed endpoint: {problem}"),
        ),
        None => (Verdict::NeedsCooperation, observed),
    }
}
