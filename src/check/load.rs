//! `load.burst`: concurrent deliveries are all acknowledged in time; `deadline.every_answer`:
//! no answer during the whole battery missed the deadline.

use std::time::Duration;

use futures::future::join_all;

use super::bodies::compact;
use super::duplicates::processed_by;
use super::probe::{Probe, Request, format_latency};
use super::{CheckResult, Timer, Verdict, verdict};
use crate::contract::EventType;

/// Sends `burst` distinct events at once.
pub(super) async fn burst(probe: &mut Probe, results: &mut Vec<CheckResult>) {
    let timer = Timer::start();
    let count = probe.config().burst;
    let deadline = probe.config().deadline;
    let requests: Vec<Request> = EventType::KNOWN
        .iter()
        .cycle()
        .take(count)
        .map(|event| Request::signed(event.as_str(), compact(&probe.bodies().typical(event))))
        .collect();
    let before = probe.processed().await;
    let observations = join_all(requests.iter().map(|request| probe.send(request))).await;
    let good = observations
        .iter()
        .filter(|o| o.is_2xx() && o.answered_within(deadline))
        .count();
    let slowest = observations
        .iter()
        .map(|o| o.latency)
        .max()
        .unwrap_or_default();
    let mut observed = format!(
        "{good} of {count} answered 2xx in time; slowest {}",
        format_latency(slowest)
    );
    if let Some(bad) = observations
        .iter()
        .find(|o| !(o.is_2xx() && o.answered_within(deadline)))
    {
        observed.push_str(&format!("; e.g. {bad}"));
    }
    // A cooperating consumer must also have processed every one of them; the burst itself
    // needs no cooperation.
    let outcome =
        match processed_by(probe, good == count, observed.clone(), before, count as u64).await {
            (Verdict::NeedsCooperation, _) => (Verdict::Pass, observed),
            outcome => outcome,
        };
    results.push(timer.finish(
        "load.burst",
        format!("{count} distinct signed events at once"),
        format!("all 2xx within {}", humantime::format_duration(deadline)),
        outcome,
    ));
}

/// Summarizes every request the battery made.
pub(super) fn every_answer(probe: &Probe) -> CheckResult {
    let timer = Timer::start();
    let deadline = probe.config().deadline;
    let observations = probe.observations();
    let late: Vec<_> = observations
        .iter()
        .filter(|o| !o.answered_within(deadline))
        .collect();
    let slowest = observations
        .iter()
        .map(|o| o.latency)
        .max()
        .unwrap_or(Duration::ZERO);
    let mut observed = format!(
        "{} of {} requests answered in time; slowest {}",
        observations.len() - late.len(),
        observations.len(),
        format_latency(slowest)
    );
    if let Some(first) = late.first() {
        observed.push_str(&format!("; e.g. {first}"));
    }
    timer.finish(
        "deadline.every_answer",
        format!("all {} requests above", observations.len()),
        format!(
            "a complete HTTP answer to each within {}",
            humantime::format_duration(deadline)
        ),
        verdict(late.is_empty(), observed),
    )
}
