//! Journal records as a plain-text table, for failure messages.

use crate::delivery::{AttemptRecord, DeliveryRecord, DeliveryState};

/// What a record shows when it has no entity uid or status.
const NONE: &str = "-";

/// One attempt as a short code: the HTTP status answered, or the outcome when there was none
/// (`timeout`, `connect_error`, ...).
pub fn attempt_code(attempt: &AttemptRecord) -> String {
    match &attempt.response {
        Some(response) => response.status.to_string(),
        None => attempt.outcome.as_str().to_owned(),
    }
}

/// Every attempt's code, in order, e.g. `500, 200`.
pub fn attempt_codes(record: &DeliveryRecord) -> String {
    let codes: Vec<String> = record.attempts.iter().map(attempt_code).collect();
    if codes.is_empty() {
        "none yet".to_owned()
    } else {
        codes.join(", ")
    }
}

/// A state's wire name, e.g. `delivered`.
pub fn state_name(state: DeliveryState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{state:?}"))
}

/// A record's state, with when the next attempt is due while it is retrying.
pub fn state_label(record: &DeliveryRecord) -> String {
    let state = state_name(record.state);
    let next = record.last_attempt().and_then(|a| a.next_attempt_at);
    match (record.state, next) {
        (DeliveryState::Retrying, Some(next)) => format!("{state} (next attempt {next})"),
        _ => state,
    }
}

/// The records as an aligned table with a header row; `(none)` when there are none.
pub fn render(records: &[DeliveryRecord]) -> String {
    if records.is_empty() {
        return "  (no deliveries)".to_owned();
    }
    let header = ["#", "event", "uid", "status", "state", "attempts"].map(str::to_owned);
    let rows: Vec<[String; 6]> = records
        .iter()
        .enumerate()
        .map(|(index, record)| {
            [
                (index + 1).to_string(),
                record.event.clone(),
                record.entity_uid.clone().unwrap_or_else(|| NONE.into()),
                record.status.clone().unwrap_or_else(|| NONE.into()),
                state_label(record),
                attempt_codes(record),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            format!("  {}", cells.join("  ").trim_end())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::fixtures::{attempt, delivered};
    use crate::delivery::{AttemptOutcome, Trigger};

    #[test]
    fn rows_show_codes_or_outcomes_aligned_under_their_headers() {
        let record = delivered(
            "domain.status_changed",
            "domain-abc",
            vec![
                attempt(None, AttemptOutcome::Timeout, Trigger::Scheduled),
                attempt(Some(500), AttemptOutcome::Http5xx, Trigger::Scheduled),
                attempt(Some(200), AttemptOutcome::Delivered, Trigger::Scheduled),
            ],
        );
        let table = render(&[record]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2, "{table}");
        assert!(
            lines[1].ends_with("delivered  timeout, 500, 200"),
            "{table}"
        );
        assert_eq!(
            lines[0].find("uid"),
            lines[1].find("domain-abc"),
            "columns line up: {table}"
        );
        assert_eq!(render(&[]), "  (no deliveries)");
    }
}
