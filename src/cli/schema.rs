//! `schema`: JSON Schemas (draft 2020-12) of the bodies the mock emits, from its own types.

use inboxkit_mock::contract::schema::{event_schema, shape_schema};
use inboxkit_mock::contract::{EventType, PayloadShape, Profile};

use super::{CliError, exit};

/// Options of `schema`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Contract profile whose payload shape is described: `seed` or `current`.
    #[arg(long, env = "INBOXKIT_MOCK_PROFILE", value_enum, default_value_t = Profile::Seed)]
    profile: Profile,
    /// Body layout [default: the profile's].
    #[arg(long, env = "INBOXKIT_MOCK_PAYLOAD_SHAPE", value_enum)]
    payload_shape: Option<PayloadShape>,
    /// Only this event type's schema [default: one schema covering every event type, `oneOf`
    /// the per-event schemas, told apart by `event`].
    #[arg(long)]
    event: Option<String>,
}

/// Prints the schema on standard output.
pub fn run(args: Args) -> Result<u8, CliError> {
    let shape = args
        .payload_shape
        .unwrap_or(args.profile.settings().payload_shape);
    let schema = match &args.event {
        Some(event) => {
            let event: EventType = event
                .parse()
                .map_err(|e| CliError::usage(format!("--event: {e}")))?;
            event_schema(shape, &event).expect("known event types have schemas")
        }
        None => shape_schema(shape),
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).expect("schemas serialize")
    );
    Ok(exit::OK)
}
