//! `replay`: sends recorded deliveries again through the delivery engine.
//!
//! By default each body is sent byte for byte with its recorded `X-InboxKit-Signature`;
//! `--resign` signs it with the local key instead. Retry policy, deadline and journal apply as
//! for `send`. `X-InboxKit-Timestamp` is the time of each attempt, and `Authorization` follows
//! the local settings (a recorded bearer token is never sent on).
//!
//! Order is kept: each delivery's first attempt finishes before the next one starts (retries
//! run in the background). `--rate` and `--keep-spacing` only ever delay a send.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use inboxkit_mock::contract::headers::SIGNATURE;
use inboxkit_mock::delivery::{DeliveryId, DeliveryState, OutgoingEvent, Sender};
use inboxkit_mock::recording::{LineError, NumberedRequest, load};

use super::contract_args::{DeliveryArgs, parse_target, random_token};
use super::send::Output;
use super::{CliError, exit, render};

/// Exit code when some delivery did not end `delivered`.
pub const NOT_ALL_DELIVERED: u8 = 1;

/// Deliveries per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(f64);

fn parse_rate(text: &str) -> Result<Rate, String> {
    let (number, per) = match text.split_once('/') {
        Some((number, unit)) => (number, unit.trim()),
        None => (text, "s"),
    };
    let seconds = match per {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        other => return Err(format!("unknown unit `{other}`: use N/s or N/m")),
    };
    let count: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a rate like 20/s"))?;
    if !(count.is_finite() && count > 0.0) {
        return Err(format!("`{text}`: the rate must be more than zero"));
    }
    Ok(Rate(count / seconds))
}

/// Options of `replay`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recording (JSON Lines, as written by `receive --record`).
    recording: PathBuf,
    /// Subscriber URL (http or https).
    #[arg(long, env = "INBOXKIT_MOCK_TARGET")]
    to: String,
    /// Sign each body with the local key (--secret or --api-key) instead of sending the
    /// recorded signature.
    #[arg(long)]
    resign: bool,
    /// Send at most this many deliveries per second, e.g. 20/s or 600/m.
    #[arg(long, value_parser = parse_rate, conflicts_with = "keep_spacing")]
    rate: Option<Rate>,
    /// Keep the recorded spacing between deliveries (divided by --time-scale).
    #[arg(long)]
    keep_spacing: bool,
    /// Skip lines that cannot be replayed (each is reported) instead of stopping.
    #[arg(long)]
    skip_bad: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(flatten)]
    delivery: DeliveryArgs,
}

/// One line ready to send.
struct Planned {
    line: usize,
    received_at: DateTime<Utc>,
    event: OutgoingEvent,
}

/// Turns a recorded request into an event to send, or says why it cannot be replayed.
fn plan(numbered: &NumberedRequest, resign: bool) -> Result<Planned, LineError> {
    let request = &numbered.request;
    let error = |problem: String| LineError {
        line: numbered.line,
        problem,
    };
    let body = request.body_bytes().map_err(|e| error(e.to_string()))?;
    let mut event = OutgoingEvent::from_json(Bytes::from(body))
        .map_err(|e| error(format!("cannot be replayed: {e}")))?;
    if !resign {
        let signature = request.header(SIGNATURE).ok_or_else(|| {
            error("has no X-InboxKit-Signature header to send again: pass --resign".into())
        })?;
        event = event.with_signature(signature);
    }
    let received_at = request
        .received_time()
        .map_err(|e| error(format!("`received_at`: {e}")))?;
    Ok(Planned {
        line: numbered.line,
        received_at,
        event,
    })
}

/// Replays the recording; exit 0 when every delivery ended `delivered`, 1 otherwise.
pub async fn run(args: Args) -> Result<u8, CliError> {
    let url = parse_target(&args.to)?;
    let recording = load(&args.recording, args.skip_bad)
        .map_err(|e| CliError::usage(format!("{e}; pass --skip-bad to replay the rest")))?;
    let mut problems = recording.skipped;
    let mut planned = Vec::new();
    let mut not_post = 0;
    let mut redacted = 0;
    for numbered in &recording.requests {
        if !numbered.request.method.eq_ignore_ascii_case("POST") {
            not_post += 1;
            continue;
        }
        redacted += usize::from(numbered.request.credentials_redacted);
        match plan(numbered, args.resign) {
            Ok(entry) => planned.push(entry),
            Err(problem) => problems.push(problem),
        }
    }
    problems.sort_by_key(|p| p.line);
    if !args.skip_bad && !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(CliError::usage(format!(
            "nothing was sent: {} line(s) cannot be replayed: {}; pass --skip-bad to replay the rest",
            problems.len(),
            list.join("; ")
        )));
    }
    for problem in &problems {
        eprintln!("skipped {problem}");
    }
    if not_post > 0 {
        eprintln!("skipped {not_post} recorded request(s) that are not POST");
    }
    if redacted > 0 && !args.resign {
        eprintln!(
            "warning: {redacted} delivery(ies) have redacted credentials, so their bodies differ \
             from what was signed; hmac-body signatures will not verify (pass --resign)"
        );
    }
    if planned.is_empty() {
        return Err(CliError::usage(format!(
            "{} holds no delivery to replay",
            args.recording.display()
        )));
    }

    let mut delivery = args.delivery.clone();
    if !args.resign
        && delivery
            .keys
            .signer(delivery.profile.settings().signature_scheme)
            .is_err()
    {
        // Every event carries its recorded signature, so the signer is never used; a random
        // key only satisfies the subscriber's shape.
        delivery.keys.signature_scheme = Some(inboxkit_mock::contract::SignatureScheme::HmacBody);
        delivery.keys.secret = Some(random_token());
    }
    let subscriber = delivery.subscriber(url)?;
    let clock = delivery.clock()?;
    let sender =
        Sender::new(clock.clone(), args.delivery.sender_options()).map_err(anyhow::Error::from)?;

    let first_recorded = planned[0].received_at;
    let started_real = tokio::time::Instant::now();
    let started_sim = clock.now();
    let mut sent: Vec<(usize, DeliveryId)> = Vec::with_capacity(planned.len());
    for (index, entry) in planned.into_iter().enumerate() {
        if let Some(Rate(per_second)) = args.rate {
            let due = started_real + Duration::from_secs_f64(index as f64 / per_second);
            tokio::time::sleep_until(due).await;
        }
        if args.keep_spacing {
            let offset = (entry.received_at - first_recorded).max(TimeDelta::zero());
            clock.sleep_until(started_sim + offset).await;
        }
        let id = sender.submit(subscriber.clone(), entry.event);
        let journal = sender.journal();
        journal
            .wait_until(|_| journal.get(&id).is_none_or(|r| !r.attempts.is_empty()))
            .await;
        sent.push((entry.line, id));
    }

    let mut records = Vec::with_capacity(sent.len());
    for (line, id) in &sent {
        if let Some(record) = sender.journal().wait_terminal(id).await {
            records.push((*line, record));
        }
    }
    let delivered = records
        .iter()
        .filter(|(_, r)| r.state == DeliveryState::Delivered)
        .count();
    match args.output {
        Output::Text => {
            for (line, record) in &records {
                println!("line {line}: {}", render::delivery(record).trim_end());
            }
            println!(
                "replayed {} delivery(ies): {delivered} delivered, {} not",
                records.len(),
                records.len() - delivered
            );
        }
        Output::Json => {
            let json: Vec<_> = records
                .iter()
                .map(|(line, record)| serde_json::json!({"line": line, "delivery": record}))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json).expect("records serialize")
            );
        }
    }
    Ok(if delivered == sent.len() {
        exit::OK
    } else {
        NOT_ALL_DELIVERED
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_per_second_and_per_minute() {
        assert_eq!(parse_rate("20/s"), Ok(Rate(20.0)));
        assert_eq!(parse_rate("5"), Ok(Rate(5.0)));
        assert_eq!(parse_rate("120/m"), Ok(Rate(2.0)));
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("3/h").is_err());
    }
}
