//! The drift report as readable text.

use std::fmt::Write;

use super::{DriftReport, EventDrift, HeaderProblem};
use crate::contract::PayloadShape;

/// Vocabularies longer than this are summarized by their size in text output.
const KNOWN_SHOWN: usize = 12;

pub(super) fn text(report: &DriftReport) -> String {
    let mut out = String::new();
    let expected = &report.expected;
    let shape = match expected.payload_shape {
        PayloadShape::Seed => "seed",
        PayloadShape::Current => "current",
    };
    let _ = writeln!(
        out,
        "compared {} deliveries with the mock's contract: payload shape {shape}, signature {}, Authorization {}",
        report.deliveries,
        expected.signature_scheme,
        if expected.authorization {
            "sent"
        } else {
            "not sent"
        },
    );
    if report.ignored_requests > 0 {
        let _ = writeln!(
            out,
            "ignored {} request(s) that are not POST",
            report.ignored_requests
        );
    }
    for event in &report.events {
        event_text(&mut out, event);
    }
    let drifted = report.events.iter().filter(|e| e.has_drift()).count();
    let _ = write!(
        out,
        "{}",
        if drifted == 0 {
            "no drift".to_owned()
        } else {
            format!(
                "drift in {drifted} of {} event type(s)",
                report.events.len()
            )
        }
    );
    out
}

fn event_text(out: &mut String, event: &EventDrift) {
    let n = event.deliveries;
    let verdict = if event.has_drift() {
        "drift"
    } else {
        "no drift"
    };
    let _ = writeln!(out, "\n{}: {n} deliveries, {verdict}", event.event);
    let of = |count: usize| format!("({count} of {n})");
    if event.unparsable_bodies > 0 {
        let _ = writeln!(
            out,
            "  body is not a JSON object         {}",
            of(event.unparsable_bodies)
        );
    }
    for field in &event.extra_fields {
        let _ = writeln!(
            out,
            "  extra field (mock lacks it)       {} [{}] {}",
            field.path,
            field.seen_types.join("|"),
            of(field.count)
        );
    }
    for field in &event.missing_fields {
        let _ = writeln!(
            out,
            "  missing field (mock sends it)     {} {}",
            field.path,
            of(field.count)
        );
    }
    for mismatch in &event.type_mismatches {
        let _ = writeln!(
            out,
            "  type mismatch                     {}: mock sends {}, saw {} {}",
            mismatch.path,
            mismatch.expected.join("|"),
            mismatch.seen,
            of(mismatch.count)
        );
    }
    for unknown in &event.unknown_values {
        let known = if unknown.known.len() <= KNOWN_SHOWN {
            unknown.known.join(", ")
        } else {
            format!("{} values", unknown.known.len())
        };
        let _ = writeln!(
            out,
            "  unknown value                     {} = {:?} (mock knows {known}) {}",
            unknown.path,
            unknown.value,
            of(unknown.count)
        );
    }
    for header in &event.header_differences {
        let problem = match &header.problem {
            HeaderProblem::Missing => "missing (mock sends it)".to_owned(),
            HeaderProblem::Unexpected => "not sent by the mock".to_owned(),
            HeaderProblem::Value { expected, seen } => {
                format!("{seen:?}, mock sends {expected:?}")
            }
            HeaderProblem::Format { expected } => format!("not of the form {expected}"),
        };
        let _ = writeln!(
            out,
            "  header                            {}: {problem} {}",
            header.header,
            of(header.count)
        );
    }
    for signature in &event.signature_differences {
        let what = match signature.verified_instead {
            Some(other) => format!("verified under {other}, not {}", signature.expected),
            None => format!(
                "did not verify under {} (nor any scheme)",
                signature.expected
            ),
        };
        let _ = writeln!(
            out,
            "  signature                         {what} {}",
            of(signature.count)
        );
    }
    let s = &event.signatures;
    let _ = writeln!(
        out,
        "  signatures verified               hmac-body {}, api-key-sha256 {}, none {}, unchecked {}",
        s.hmac_body, s.api_key_sha256, s.none, s.unchecked
    );
}
