//! `duplicate.*`: delivery is at least once, so an exact repeat of a change (same `uid`,
//! `status`, `previous_status` and `timestamp`) is acknowledged (2xx) and not processed again,
//! while a new status of the same `uid`, or a later change back to a status seen before, is a
//! new event, not a duplicate.

use serde_json::{Value, json};

use super::bodies::{compact, entity_field, entity_mut};
use super::probe::{Probe, Request};
use super::{CheckResult, Timer, Verdict, verdict};
use crate::contract::{EventType, format_timestamp};

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
        "2xx both times; both processed (dedupe on the whole change, not uid alone)",
        outcome,
    ));

    later_change_back(probe, results).await;
}

/// `duplicate.same_status_later_change`: active -> inactive -> active of one uid, three changes
/// at three instants, must all be processed (a consumer deduping on `uid` + `status` processes
/// two).
async fn later_change_back(probe: &mut Probe, results: &mut Vec<CheckResult>) {
    let timer = Timer::start();
    let event = EventType::MailboxStatusChanged;
    let template = probe.bodies().typical(&event);
    let start = chrono::Utc::now();
    let steps = [
        ("active", "finalizing_setup"),
        ("inactive", "active"),
        ("active", "inactive"),
    ];
    let bodies: Vec<Value> = steps
        .iter()
        .enumerate()
        .map(|(n, (status, previous))| {
            let mut body = template.clone();
            let at = start + chrono::TimeDelta::minutes(i64::try_from(n).unwrap_or(0));
            if let Some(object) = body.as_object_mut() {
                object.insert("timestamp".into(), json!(format_timestamp(at)));
            }
            if let Some(mailbox) = entity_mut(&mut body, &event) {
                mailbox.insert("status".into(), json!(status));
                mailbox.insert("previous_status".into(), json!(previous));
            }
            body
        })
        .collect();
    let sent = format!(
        "three signed {event} for uid {}, a minute apart: active, inactive, active again",
        entity_field(&template, &event, "uid")
    );
    let before = probe.processed().await;
    let mut answers = Vec::new();
    for body in &bodies {
        answers.push(
            probe
                .send(&Request::signed(event.as_str(), compact(body)))
                .await,
        );
    }
    let all_2xx = answers.iter().all(|a| a.is_2xx());
    let observed = answers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    let outcome = processed_by(probe, all_2xx, observed, before, 3).await;
    results.push(timer.finish(
        "duplicate.same_status_later_change",
        sent,
        "2xx each time; all three processed (a repeat of a status is a change of its own)",
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
