//! `sign` and `verify`: the signature of a body read from standard input.

use std::io::Read;

use anyhow::Context;
use clap::Args;
use inboxkit_mock::contract::Profile;

use super::contract_args::KeyArgs;
use super::{CliError, exit};

/// Options of `sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    #[command(flatten)]
    keys: KeyArgs,
    /// Profile whose scheme applies when neither a scheme nor a single key decides it.
    #[arg(long, env = "INBOXKIT_MOCK_PROFILE", value_enum, default_value_t = Profile::Seed)]
    profile: Profile,
}

/// Options of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    keys: KeyArgs,
    /// Profile whose scheme applies when neither a scheme nor a single key decides it.
    #[arg(long, env = "INBOXKIT_MOCK_PROFILE", value_enum, default_value_t = Profile::Seed)]
    profile: Profile,
    /// The X-InboxKit-Signature value to check, e.g. `sha256=...`.
    #[arg(long)]
    signature: String,
}

fn read_stdin() -> Result<Vec<u8>, CliError> {
    let mut body = Vec::new();
    std::io::stdin()
        .read_to_end(&mut body)
        .context("reading the body from standard input")?;
    Ok(body)
}

/// Prints `sha256=<hex>` for the exact bytes on standard input.
pub fn sign(args: SignArgs) -> Result<u8, CliError> {
    let signer = args.keys.signer(args.profile.settings().signature_scheme)?;
    println!("{}", signer.sign(&read_stdin()?));
    Ok(exit::OK)
}

/// Exits 0 when the signature matches the bytes on standard input, 1 otherwise.
pub fn verify(args: VerifyArgs) -> Result<u8, CliError> {
    let signer = args.keys.signer(args.profile.settings().signature_scheme)?;
    match signer.verify(&read_stdin()?, Some(&args.signature)) {
        Ok(()) => {
            println!("valid ({})", signer.scheme());
            Ok(exit::OK)
        }
        Err(error) => {
            println!("invalid: {error}");
            Ok(exit::REJECTED)
        }
    }
}
