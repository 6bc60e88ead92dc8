//! `receive`: the reference receiver in the foreground, one line per delivery.

use std::net::TcpListener;

use anyhow::Context;

use inboxkit_mock::contract::Profile;
use inboxkit_mock::receiver::{ReceiverConfig, RunningReceiver};
use tokio::sync::broadcast::error::RecvError;

use super::contract_args::KeyArgs;
use super::{CliError, exit};

/// Options of `receive`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "INBOXKIT_MOCK_RECEIVER_BIND", default_value = "127.0.0.1")]
    bind: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "INBOXKIT_MOCK_RECEIVER_PORT", default_value_t = 8026)]
    port: u16,
    /// Profile whose scheme applies when neither a scheme nor a single key decides it.
    #[arg(long, env = "INBOXKIT_MOCK_PROFILE", value_enum, default_value_t = Profile::Seed)]
    profile: Profile,
    #[command(flatten)]
    keys: KeyArgs,
}

/// Runs until Ctrl-C.
pub async fn run(args: Args) -> Result<u8, CliError> {
    let verifier = if args.keys.secret.is_some() || args.keys.api_key.is_some() {
        Some(args.keys.signer(args.profile.settings().signature_scheme)?)
    } else {
        None
    };
    let listener = TcpListener::bind((args.bind.as_str(), args.port))
        .with_context(|| format!("binding {}:{}", args.bind, args.port))?;
    let verifying = verifier
        .as_ref()
        .map_or("any signature accepted (no key given)".to_owned(), |s| {
            format!("verifying {} signatures", s.scheme())
        });
    let receiver = RunningReceiver::start(
        listener,
        ReceiverConfig {
            verifier,
            ..ReceiverConfig::default()
        },
    )
    .context("starting the receiver")?;
    println!(
        "receiver listening on {} ({verifying}); GET {}received lists requests",
        receiver.webhook_url(),
        receiver.webhook_url().join("/").expect("valid")
    );
    let mut stream = receiver.store().subscribe();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            next = stream.recv() => match next {
                Ok(record) => println!(
                    "#{:<5} {} {:<34} {:<22} {:<28} -> {} {:?}{}",
                    record.seq,
                    record.received_at,
                    record.event.as_deref().unwrap_or("-"),
                    record.uid.as_deref().unwrap_or("-"),
                    record.status.as_deref().unwrap_or("-"),
                    record.answered,
                    record.verdict,
                    record.problem.map(|p| format!(" ({p})")).unwrap_or_default(),
                ),
                Err(RecvError::Lagged(missed)) => println!("({missed} requests not shown: printing fell behind)"),
                Err(RecvError::Closed) => break,
            }
        }
    }
    receiver.stop().await;
    Ok(exit::OK)
}
