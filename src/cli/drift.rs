//! `drift`: compares a recording of real deliveries with the mock's contract.

use std::path::PathBuf;

use inboxkit_mock::contract::{PayloadShape, Profile, Secret, SignatureScheme};
use inboxkit_mock::drift::{Expectation, analyze};
use inboxkit_mock::recording::{SignatureKeys, load};

use super::send::Output;
use super::{CliError, exit};

/// Exit code when the recording differs from the contract.
pub const DRIFT_FOUND: u8 = 1;

/// Options of `drift`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recording (JSON Lines, as written by `receive --record`).
    recording: PathBuf,
    /// Contract profile to compare with: `seed` or `current`.
    #[arg(long, env = "INBOXKIT_MOCK_PROFILE", value_enum, default_value_t = Profile::Seed)]
    profile: Profile,
    /// Body layout expected [default: the profile's].
    #[arg(long, value_enum)]
    payload_shape: Option<PayloadShape>,
    /// Signature scheme expected to verify [default: the profile's].
    #[arg(long, value_enum)]
    signature_scheme: Option<SignatureScheme>,
    /// Whether `Authorization: Bearer` is expected [default: the profile's: seed yes, current no].
    #[arg(long)]
    authorization: Option<bool>,
    /// Webhook secret to check hmac-body signatures with [default: the recorded verdicts].
    #[arg(long, env = "INBOXKIT_MOCK_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Team API key to check api-key-sha256 signatures with [default: the recorded verdicts].
    #[arg(long, env = "INBOXKIT_MOCK_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Skip lines that are not recorded requests (each is reported) instead of stopping.
    #[arg(long)]
    skip_bad: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// Prints the report; exit 0 without drift, 1 with drift, 64 for a bad or empty recording.
pub fn run(args: Args) -> Result<u8, CliError> {
    let recording = load(&args.recording, args.skip_bad)
        .map_err(|e| CliError::usage(format!("{e}; pass --skip-bad to compare the rest")))?;
    for skipped in &recording.skipped {
        eprintln!("skipped {skipped}");
    }
    let mut settings = args.profile.settings();
    if let Some(shape) = args.payload_shape {
        settings.payload_shape = shape;
    }
    if let Some(scheme) = args.signature_scheme {
        settings.signature_scheme = scheme;
    }
    if let Some(authorization) = args.authorization {
        settings.send_authorization = authorization;
    }
    let keys = SignatureKeys::new(args.secret.map(Secret::new), args.api_key.map(Secret::new));
    let report = analyze(
        recording.requests.iter().map(|numbered| &numbered.request),
        Expectation::from(&settings),
        &keys,
    );
    if report.deliveries == 0 {
        return Err(CliError::usage(format!(
            "{} holds no recorded POST request to compare",
            args.recording.display()
        )));
    }
    match args.output {
        Output::Text => println!("{}", report.to_text()),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialize")
        ),
    }
    Ok(if report.has_drift() {
        DRIFT_FOUND
    } else {
        exit::OK
    })
}
