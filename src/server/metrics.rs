//! `GET /_mock/metrics`: Prometheus text exposition (format 0.0.4), written by hand.
//!
//! Counters come from the journal's lasting totals (they survive eviction), so they only grow
//! until `POST /_mock/reset`.

use std::fmt::Write;

use actix_web::{HttpResponse, web};

use super::state::AppState;
use crate::delivery::journal::LATENCY_BUCKETS_MS;
use crate::delivery::{AttemptOutcome, TerminalState};
use crate::model::world::EntityKind;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Registers `/metrics` (under `/_mock`).
pub fn routes(config: &mut web::ServiceConfig) {
    config.route("/metrics", web::get().to(metrics));
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(render(&state))
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The whole exposition.
pub fn render(state: &AppState) -> String {
    let journal = state.sender().journal();
    let counters = journal.counters();
    let (held, finished) = journal.held();
    let (entities, scheduled, fired) = state.read(|sim| {
        let counts: Vec<(EntityKind, usize)> = EntityKind::ALL
            .iter()
            .map(|k| (*k, sim.world().count(*k)))
            .collect();
        (counts, sim.queue_depth(), sim.fired_total())
    });
    let mut out = String::with_capacity(4096);

    header(
        &mut out,
        "inboxkit_mock_events_total",
        "counter",
        "Webhook events submitted for delivery.",
    );
    let _ = writeln!(out, "inboxkit_mock_events_total {}", counters.events);

    header(
        &mut out,
        "inboxkit_mock_attempts_total",
        "counter",
        "Delivery attempts made, by outcome.",
    );
    for outcome in AttemptOutcome::ALL {
        let count = counters.attempts.get(&outcome).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "inboxkit_mock_attempts_total{{outcome=\"{outcome}\"}} {count}"
        );
    }

    header(
        &mut out,
        "inboxkit_mock_deliveries_total",
        "counter",
        "Deliveries that reached a terminal state, by state.",
    );
    for terminal in TerminalState::ALL {
        let count = counters.terminal.get(&terminal).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "inboxkit_mock_deliveries_total{{state=\"{}\"}} {count}",
            terminal.as_str()
        );
    }

    header(
        &mut out,
        "inboxkit_mock_deliveries_in_progress",
        "gauge",
        "Deliveries not yet terminal (in flight or waiting to retry).",
    );
    let _ = writeln!(
        out,
        "inboxkit_mock_deliveries_in_progress {}",
        counters.in_progress()
    );

    header(
        &mut out,
        "inboxkit_mock_deliveries_in_progress_limit",
        "gauge",
        "Most deliveries in progress before intake answers 429 (--max-in-progress).",
    );
    let _ = writeln!(
        out,
        "inboxkit_mock_deliveries_in_progress_limit {}",
        journal.max_in_progress()
    );

    header(
        &mut out,
        "inboxkit_mock_deliveries_refused_total",
        "counter",
        "Deliveries refused with 429 because too many were in progress.",
    );
    let _ = writeln!(
        out,
        "inboxkit_mock_deliveries_refused_total {}",
        counters.refused
    );

    header(
        &mut out,
        "inboxkit_mock_journal_records",
        "gauge",
        "Deliveries held in the journal, by whether they are finished.",
    );
    let _ = writeln!(
        out,
        "inboxkit_mock_journal_records{{finished=\"false\"}} {}",
        held - finished
    );
    let _ = writeln!(
        out,
        "inboxkit_mock_journal_records{{finished=\"true\"}} {finished}"
    );

    header(
        &mut out,
        "inboxkit_mock_deliveries_resumed_total",
        "counter",
        "Unfinished deliveries resumed from saved state at start-up (--state sqlite:PATH).",
    );
    let _ = writeln!(
        out,
        "inboxkit_mock_deliveries_resumed_total {}",
        counters.resumed
    );

    header(
        &mut out,
        "inboxkit_mock_duplicates_after_crash_total",
        "counter",
        "Attempts sent again after a restart because they were in flight when the process died.",
    );
    let _ = writeln!(
        out,
        "inboxkit_mock_duplicates_after_crash_total {}",
        counters.duplicates_after_crash
    );

    header(
        &mut out,
        "inboxkit_mock_journal_evicted_total",
        "counter",
        "Finished deliveries dropped to keep the journal bounded.",
    );
    let _ = writeln!(
        out,
        "inboxkit_mock_journal_evicted_total {}",
        counters.evicted
    );

    header(
        &mut out,
        "inboxkit_mock_attempt_duration_seconds",
        "histogram",
        "Wall-clock latency of delivery attempts.",
    );
    let mut cumulative = 0;
    for (index, bound) in LATENCY_BUCKETS_MS.iter().enumerate() {
        cumulative += counters.latency.buckets.get(index).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "inboxkit_mock_attempt_duration_seconds_bucket{{le=\"{}\"}} {cumulative}",
            bound / 1000.0
        );
    }
    let _ = writeln!(
        out,
        "inboxkit_mock_attempt_duration_seconds_bucket{{le=\"+Inf\"}} {}",
        counters.latency.count
    );
    let _ = writeln!(
        out,
        "inboxkit_mock_attempt_duration_seconds_sum {}",
        counters.latency.sum_ms / 1000.0
    );
    let _ = writeln!(
        out,
        "inboxkit_mock_attempt_duration_seconds_count {}",
        counters.latency.count
    );

    header(
        &mut out,
        "inboxkit_mock_scheduler_queue_depth",
        "gauge",
        "Lifecycle steps waiting in the scheduler.",
    );
    let _ = writeln!(out, "inboxkit_mock_scheduler_queue_depth {scheduled}");

    header(
        &mut out,
        "inboxkit_mock_transitions_fired_total",
        "counter",
        "Scheduled lifecycle steps fired.",
    );
    let _ = writeln!(out, "inboxkit_mock_transitions_fired_total {fired}");

    header(
        &mut out,
        "inboxkit_mock_entities",
        "gauge",
        "Simulated entities, by kind.",
    );
    for (kind, count) in entities {
        let _ = writeln!(
            out,
            "inboxkit_mock_entities{{kind=\"{}\"}} {count}",
            kind.as_str()
        );
    }
    out
}
