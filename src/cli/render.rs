//! Human-readable renderings of journal records.

use std::fmt::Write;

use inboxkit_mock::delivery::{AttemptRecord, DeliveryRecord, Trigger};

/// `old -> new`, or just `new` when there is no previous status.
pub fn status_change(record: &DeliveryRecord) -> String {
    match (&record.previous_status, &record.status) {
        (Some(previous), Some(status)) => format!("{previous} -> {status}"),
        (None, Some(status)) => status.clone(),
        _ => "-".to_owned(),
    }
}

fn answer(attempt: &AttemptRecord) -> String {
    match (&attempt.response, &attempt.error) {
        (Some(response), _) => format!("HTTP {}", response.status),
        (None, Some(_)) => "no answer".to_owned(),
        (None, None) => "-".to_owned(),
    }
}

/// A delivery with one line per attempt.
pub fn delivery(record: &DeliveryRecord) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "delivery {}  {}  {}  ({})",
        record.id,
        record.event,
        record.entity_uid.as_deref().unwrap_or("-"),
        status_change(record)
    );
    let _ = writeln!(text, "  to {}", record.target);
    for attempt in &record.attempts {
        let manual = if attempt.trigger == Trigger::Manual {
            " (manual)"
        } else {
            ""
        };
        let _ = write!(
            text,
            "  attempt {}{manual}  {}  {:<10} {:>9.1} ms  {}",
            attempt.number,
            attempt.started_at,
            answer(attempt),
            attempt.latency_ms,
            attempt.outcome
        );
        if let Some(next) = &attempt.next_attempt_at {
            let _ = write!(text, "  next at {next}");
        }
        if let Some(error) = &attempt.error {
            let _ = write!(text, "\n      {error}");
        }
        text.push('\n');
    }
    let _ = write!(
        text,
        "result: {} after {} attempt{}",
        record
            .state
            .terminal()
            .map_or("in progress", |s| s.as_str()),
        record.attempts.len(),
        if record.attempts.len() == 1 { "" } else { "s" }
    );
    text
}

/// A one-line-per-delivery table with a header.
pub fn table(records: &[DeliveryRecord]) -> String {
    let mut text = format!(
        "{:<34} {:<22} {:<55} {:>8}  {:<10} {:>10}\n",
        "EVENT", "UID", "STATUS CHANGE", "ATTEMPTS", "OUTCOME", "LATENCY"
    );
    for record in records {
        let latency = record.last_attempt().map_or(0.0, |a| a.latency_ms);
        let _ = writeln!(
            text,
            "{:<34} {:<22} {:<55} {:>8}  {:<10} {:>7.1} ms",
            record.event,
            record.entity_uid.as_deref().unwrap_or("-"),
            status_change(record),
            record.attempts.len(),
            record.state.terminal().map_or("pending", |s| s.as_str()),
            latency
        );
    }
    text
}
