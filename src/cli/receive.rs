//! `receive`: the reference receiver in the foreground, one line per delivery, with optional
//! fault programs.

use std::net::TcpListener;

use anyhow::Context;

use inboxkit_mock::contract::{Profile, Secret};
use inboxkit_mock::receiver::{
    FaultProgram, ReceivedRecord, ReceiverConfig, Recording, RunningReceiver,
};
use inboxkit_mock::recording::{Recorder, SignatureKeys};
use tokio::sync::broadcast::error::RecvError;

use super::contract_args::KeyArgs;
use super::{CliError, exit};

const FAULT_HELP: &str = "\
Fault programs (--fault, repeatable; also at run time: PUT /faults with [\"status=500,200\"]):
  status=500,500,200          answer these codes in turn, the last one repeats (2xx: handle normally)
  status=429:retry-after=30   add Retry-After (seconds) to the answer
  status=410                  gone: the sender must not retry
  delay=15s | delay=1s..20s   wait before answering (fixed or random; may exceed the deadline)
  fail=20%[:503]              answer 500 (or the code given) to 20% of requests at random
  close                       close the connection without an HTTP answer
  drip=10s                    answer, but drip the body over 10 s
  bad-signature               refuse the signature (401) whatever it is
Limit a program with :event=EVENT or :uid=UID, or limit every --fault with --fault-event and
--fault-uid. Every matching program applies in order: delays add up, the first program that
decides the answer wins. GET /faults lists them, DELETE /faults removes them.";

/// Options of `receive`.
#[derive(Debug, clap::Args)]
#[command(after_help = FAULT_HELP)]
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
    /// A fault program, e.g. status=500,500,200 (repeatable; see below).
    #[arg(long = "fault", value_name = "PROGRAM", value_parser = parse_fault)]
    faults: Vec<FaultProgram>,
    /// Apply the --fault programs only to this event type.
    #[arg(long, value_name = "EVENT", requires = "faults")]
    fault_event: Option<String>,
    /// Apply the --fault programs only to this entity uid.
    #[arg(long, value_name = "UID", requires = "faults")]
    fault_uid: Option<String>,
    /// Seed for random delays and failures, so a run can be repeated.
    #[arg(long, value_name = "N")]
    fault_seed: Option<u64>,
    /// Append every request exactly as received (headers, raw body, signature verdicts under
    /// both schemes) to this JSON Lines file, for `drift` and `replay`.
    #[arg(long, value_name = "FILE")]
    record: Option<std::path::PathBuf>,
    /// Keep mailbox credentials (password, app_password, secret) in the recording.
    #[arg(long, requires = "record")]
    keep_credentials: bool,
    /// Token `/received` and `/faults` require as `Authorization: Bearer <token>` [default:
    /// none, they are open]; webhooks, `/processed` and `/health` stay open.
    #[arg(
        long,
        env = "INBOXKIT_MOCK_RECEIVER_ADMIN_TOKEN",
        hide_env_values = true
    )]
    admin_token: Option<String>,
}

fn parse_fault(text: &str) -> Result<FaultProgram, String> {
    text.parse::<FaultProgram>().map_err(|e| e.to_string())
}

impl Args {
    /// The fault programs with the global targets applied where a program has none.
    fn fault_programs(&self) -> Result<Vec<FaultProgram>, CliError> {
        let mut programs = self.faults.clone();
        for program in &mut programs {
            if program.event.is_none() {
                program.event.clone_from(&self.fault_event);
            }
            if program.uid.is_none() {
                program.uid.clone_from(&self.fault_uid);
            }
            program
                .validate()
                .map_err(|e| CliError::usage(format!("--fault-event/--fault-uid: {e}")))?;
        }
        Ok(programs)
    }
}

/// Runs until Ctrl-C.
pub async fn run(args: Args) -> Result<u8, CliError> {
    let faults = args.fault_programs()?;
    let verifier = if args.keys.secret.is_some() || args.keys.api_key.is_some() {
        Some(args.keys.signer(args.profile.settings().signature_scheme)?)
    } else {
        None
    };
    let recording = match &args.record {
        Some(path) => Some(Recording {
            recorder: Recorder::create(path, args.keep_credentials)
                .map_err(|e| CliError::usage(format!("--record {}: {e}", path.display())))?,
            keys: SignatureKeys::new(
                args.keys.secret.clone().map(Secret::new),
                args.keys.api_key.clone().map(Secret::new),
            ),
        }),
        None => None,
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
            faults: faults.clone(),
            fault_seed: args.fault_seed,
            recording,
            admin_token: args.admin_token.clone().map(Secret::new),
            ..ReceiverConfig::default()
        },
    )
    .context("starting the receiver")?;
    println!(
        "receiver listening on {} ({verifying}); GET {}received lists requests",
        receiver.webhook_url(),
        receiver.base_url()
    );
    for program in &faults {
        println!("fault: {program}");
    }
    if let Some(path) = &args.record {
        let credentials = if args.keep_credentials {
            "kept"
        } else {
            "redacted"
        };
        println!(
            "recording every request to {} (mailbox credentials {credentials})",
            path.display()
        );
    }
    let mut stream = receiver.store().subscribe();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            next = stream.recv() => match next {
                Ok(record) => println!("{}", line(&record)),
                Err(RecvError::Lagged(missed)) => println!("({missed} requests not shown: printing fell behind)"),
                Err(RecvError::Closed) => break,
            }
        }
    }
    receiver.stop().await;
    Ok(exit::OK)
}

/// One line per request: what arrived, what was answered, and why.
fn line(record: &ReceivedRecord) -> String {
    let answered = match record.answered {
        0 => "closed".to_owned(),
        code => code.to_string(),
    };
    format!(
        "#{:<5} {} {:<34} {:<22} {:<28} -> {answered} {:?}{}{}",
        record.seq,
        record.received_at,
        record.event.as_deref().unwrap_or("-"),
        record.uid.as_deref().unwrap_or("-"),
        record.status.as_deref().unwrap_or("-"),
        record.verdict,
        record
            .problem
            .as_ref()
            .filter(|_| record.fault.is_none())
            .map(|p| format!(" ({p})"))
            .unwrap_or_default(),
        record
            .fault
            .as_ref()
            .map(|f| format!(" [fault: {f}]"))
            .unwrap_or_default(),
    )
}
