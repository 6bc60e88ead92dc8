//! `accept.<event>`: each documented event is acknowledged well within the deadline;
//! `tolerance.*`: values InboxKit may add later never cause a 5xx.

use serde_json::json;

use super::bodies::{
    FUTURE_EVENT, FUTURE_PLATFORM, FUTURE_STATUS, compact, entity_field, entity_mut,
};
use super::probe::{Observation, Probe, Request};
use super::{CheckResult, Timer, Verdict, verdict};
use crate::contract::EventType;

/// Checks every documented event type.
pub(super) async fn events(probe: &mut Probe, results: &mut Vec<CheckResult>) {
    // "Well within": half the deadline, leaving the other half to the network and to load.
    let within = probe.config().deadline / 2;
    for event in EventType::KNOWN {
        let timer = Timer::start();
        let body = probe.bodies().typical(event);
        let sent = format!(
            "a signed {event} (uid {}, status {})",
            entity_field(&body, event, "uid"),
            entity_field(&body, event, "status")
        );
        let observation = probe
            .send(&Request::signed(event.as_str(), compact(&body)))
            .await;
        let expected = format!(
            "2xx within {} (half the deadline)",
            humantime::format_duration(within)
        );
        let holds = observation.is_2xx() && observation.latency <= within;
        results.push(timer.finish(
            format!("accept.{event}"),
            sent,
            expected,
            verdict(holds, observation.to_string()),
        ));
    }
}

/// Checks an unknown `platform`, an unknown `status` and an unknown event type.
pub(super) async fn tolerance(probe: &mut Probe, results: &mut Vec<CheckResult>) {
    let timer = Timer::start();
    let event = EventType::MailboxStatusChanged;
    let mut body = probe.bodies().typical(&event);
    if let Some(mailbox) = entity_mut(&mut body, &event) {
        mailbox.insert("platform".into(), json!(FUTURE_PLATFORM));
    }
    let observation = probe
        .send(&Request::signed(event.as_str(), compact(&body)))
        .await;
    results.push(timer.finish(
        "tolerance.unknown_platform",
        format!("a signed {event} with platform \"{FUTURE_PLATFORM}\" (the list may grow)"),
        "an answer that is not 5xx (2xx expected: the event is real)",
        not_5xx(&observation, probe),
    ));

    let timer = Timer::start();
    let event = EventType::DomainStatusChanged;
    let mut body = probe.bodies().typical(&event);
    if let Some(domain) = entity_mut(&mut body, &event) {
        domain.insert("status".into(), json!(FUTURE_STATUS));
    }
    let observation = probe
        .send(&Request::signed(event.as_str(), compact(&body)))
        .await;
    results.push(timer.finish(
        "tolerance.unknown_status",
        format!("a signed {event} with status \"{FUTURE_STATUS}\" (the list may grow)"),
        "an answer that is not 5xx (2xx expected: the event is real)",
        not_5xx(&observation, probe),
    ));

    let timer = Timer::start();
    let body = probe.bodies().future_event();
    let observation = probe
        .send(&Request::signed(FUTURE_EVENT, compact(&body)))
        .await;
    results.push(timer.finish(
        "tolerance.unknown_event",
        format!("a signed, well-formed \"{FUTURE_EVENT}\" (an event type InboxKit may add)"),
        "an answer that is not 5xx (2xx: acknowledge and ignore)",
        not_5xx(&observation, probe),
    ));
}

/// 2xx or 4xx within the deadline: InboxKit would otherwise retry an event that cannot succeed.
fn not_5xx(observation: &Observation, probe: &Probe) -> (Verdict, String) {
    let answered = observation.answered_within(probe.config().deadline);
    let holds = answered
        && observation
            .status
            .is_some_and(|s| (200..300).contains(&s) || (400..500).contains(&s));
    verdict(holds, observation.to_string())
}
