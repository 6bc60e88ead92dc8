//! The end of a run: let in-flight attempts finish, journal the rest as interrupted, and tally.
//!
//! Nothing is dropped silently: every delivery still open when the grace period ends gets an
//! `interrupted` attempt in the journal (its state stays `pending` or `retrying`), and the tally
//! counts it.

use std::time::Duration;

use serde::Serialize;

use super::state::AppState;
use crate::delivery::journal::Filter;
use crate::delivery::{
    AttemptOutcome, AttemptRecord, DeliveryRecord, DeliveryState, TerminalState, Trigger,
};
use chrono::{DateTime, Utc};

/// How often the drain checks for attempts still in flight.
const POLL: Duration = Duration::from_millis(20);

/// What a run came to, printed at shutdown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShutdownTally {
    /// Events submitted.
    pub events: u64,
    /// Deliveries that ended `delivered`.
    pub delivered: u64,
    /// Deliveries that ended `rejected`.
    pub rejected: u64,
    /// Deliveries that ended `exhausted`.
    pub exhausted: u64,
    /// Deliveries still open at the end: journaled with an `interrupted` attempt, or, with saved
    /// state (`--state sqlite:PATH`), left as they are to resume at the next start.
    pub interrupted: u64,
    /// Attempts made (interrupted ones included).
    pub attempts: u64,
    /// Lifecycle steps fired by the scheduler.
    pub transitions_fired: u64,
    /// Lifecycle steps still scheduled (the world lives in memory and ends with the process).
    pub transitions_pending: usize,
}

impl std::fmt::Display for ShutdownTally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} events: {} delivered, {} rejected, {} exhausted, {} interrupted; {} attempts; {} transitions fired, {} still scheduled",
            self.events,
            self.delivered,
            self.rejected,
            self.exhausted,
            self.interrupted,
            self.attempts,
            self.transitions_fired,
            self.transitions_pending
        )
    }
}

fn open(state: &AppState) -> Vec<DeliveryRecord> {
    let journal = state.sender().journal();
    [DeliveryState::Pending, DeliveryState::Retrying]
        .into_iter()
        .flat_map(|s| {
            let filter = Filter {
                state: Some(s),
                ..Filter::default()
            };
            journal.list(&filter, 0, usize::MAX).0
        })
        .collect()
}

/// An attempt is in flight unless the delivery is waiting for a retry that is not due yet.
fn in_flight(record: &DeliveryRecord, now: DateTime<Utc>) -> bool {
    match record.last_attempt().and_then(|a| a.next_attempt_at) {
        Some(next) => next.instant() <= now,
        None => true,
    }
}

/// Waits up to `grace` for in-flight attempts, journals what is left as interrupted, tallies.
pub(super) async fn drain(state: &AppState, grace: Duration) -> ShutdownTally {
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        let now = state.clock().now();
        if !open(state).iter().any(|r| in_flight(r, now)) || tokio::time::Instant::now() >= deadline
        {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    // Past the grace, nothing more is sent: every delivery task ends here (scheduled retries
    // and attempts still in flight alike), so no webhook leaves a server that has stopped.
    state.sender().cancel_all().await;
    let journal = state.sender().journal();
    let now = state.clock().now();
    let leftovers = open(state);
    // With saved state, unfinished deliveries resume at the next start instead: an
    // `interrupted` attempt would wrongly count toward their retry policy.
    let persisted = state.persisted();
    for record in leftovers.iter().filter(|_| !persisted) {
        let waiting = !in_flight(record, now);
        let error = if waiting {
            "the mock shut down before the scheduled retry"
        } else {
            "the mock shut down before this attempt finished"
        };
        let attempt = AttemptRecord {
            number: u32::try_from(record.attempts.len()).unwrap_or(u32::MAX - 1) + 1,
            trigger: Trigger::Scheduled,
            started_at: now.into(),
            url: record.target.clone(),
            request_headers: Vec::new(),
            response: None,
            latency_ms: 0.0,
            outcome: AttemptOutcome::Interrupted,
            error: Some(error.to_owned()),
            next_attempt_at: None,
            resent_after_crash: false,
        };
        journal.record_attempt(&record.id, attempt, record.state);
    }
    let counters = journal.counters();
    let (fired, pending) = state.read(|sim| (sim.fired_total(), sim.queue_depth()));
    let terminal = |t: TerminalState| counters.terminal.get(&t).copied().unwrap_or(0);
    ShutdownTally {
        events: counters.events,
        delivered: terminal(TerminalState::Delivered),
        rejected: terminal(TerminalState::Rejected),
        exhausted: terminal(TerminalState::Exhausted),
        interrupted: leftovers.len() as u64,
        attempts: counters.attempts_total(),
        transitions_fired: fired,
        transitions_pending: pending,
    }
}
