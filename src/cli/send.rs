//! `send`: one event, delivered under the retry policy, printed with every attempt.

use bytes::Bytes;
use clap::ValueEnum;
use inboxkit_mock::contract::{EventType, FieldOverride, apply_all};
use inboxkit_mock::delivery::{OutgoingEvent, Sender};
use inboxkit_mock::model::Faker;
use inboxkit_mock::simulation::sample::sample_envelope;

use super::contract_args::{DeliveryArgs, parse_target};
use super::{CliError, render};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Readable lines.
    Text,
    /// The journal record as JSON.
    Json,
}

/// Options of `send`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Subscriber URL (http or https).
    #[arg(long, env = "INBOXKIT_MOCK_TARGET")]
    to: String,
    /// Event type: domain.status_changed, mailbox.status_changed,
    /// consent_request.status_changed or client_id_request.status_changed.
    #[arg(long, default_value = "domain.status_changed")]
    event: String,
    /// Override a body field before signing, e.g. data.domain.status=active (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Seed for the fake entity (the same seed gives the same body).
    #[arg(long, env = "INBOXKIT_MOCK_SEED")]
    seed: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(flatten)]
    delivery: DeliveryArgs,
}

/// Builds, signs and delivers one event; the exit code is the terminal state's.
pub async fn run(args: Args) -> Result<u8, CliError> {
    let url = parse_target(&args.to)?;
    let event: EventType = args
        .event
        .parse()
        .map_err(|e| CliError::usage(format!("--event: {e}")))?;
    let sets = args
        .sets
        .iter()
        .map(|s| s.parse::<FieldOverride>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::usage(format!("--set {e}")))?;
    let subscriber = args.delivery.subscriber(url)?;
    let clock = args.delivery.clock()?;
    let shape = args.delivery.profile.settings().payload_shape;

    let mut faker = args.seed.map_or_else(Faker::from_entropy, Faker::seeded);
    let account = faker.account();
    let envelope = sample_envelope(&event, &mut faker, &account, shape, clock.now())
        .expect("known event types always have a sample");
    let mut body = serde_json::to_value(&envelope).expect("envelopes serialize");
    apply_all(&mut body, &sets).map_err(|e| CliError::usage(format!("--set {e}")))?;
    let body = Bytes::from(serde_json::to_vec(&body).expect("JSON values serialize"));
    let outgoing = OutgoingEvent::from_json(body)
        .map_err(|e| CliError::usage(format!("--set made an invalid body: {e}")))?;

    let sender = Sender::new(clock, args.delivery.sender_options()).map_err(anyhow::Error::from)?;
    let record = sender.deliver(subscriber, outgoing).await;
    match args.output {
        Output::Text => println!("{}", render::delivery(&record)),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&record).expect("records serialize")
        ),
    }
    Ok(record
        .state
        .terminal()
        .map_or(super::exit::RUNTIME, |s| s.exit_code()))
}
