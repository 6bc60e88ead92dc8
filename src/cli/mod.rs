//! Command-line interface: argument parsing, exit codes, and one module per subcommand.

mod check;
mod config;
mod contract_args;
mod demo;
mod drift;
mod health;
mod receive;
mod render;
mod replay;
mod report;
mod run;
mod schema;
mod send;
mod serve;
mod sign;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// Exit codes shared by every subcommand.
pub mod exit {
    /// Success (for `send`: delivered; `send` maps terminal states with `TerminalState::exit_code`).
    pub const OK: u8 = 0;
    /// `send`: rejected (a no-retry answer); `verify`: the signature does not match.
    pub const REJECTED: u8 = 1;
    /// Bad usage: unknown flag or event, malformed `--set`, invalid URL, missing secret.
    pub const USAGE: u8 = 64;
    /// Something failed at run time (a port in use, an I/O error).
    pub const RUNTIME: u8 = 70;
}

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   success (send: delivered)
  1   send: rejected (4xx or another no-retry answer); verify: signature mismatch;
      drift: the recording differs from the contract; replay: not every delivery delivered;
      health: not healthy (no 2xx answer within --timeout)
  2   send: retries exhausted
  64  usage error (bad flag, unknown event, malformed --set, invalid URL, missing secret)
  65  run: invalid scenario file
  70  runtime error
  99  run/report: a threshold was breached or a step failed";

/// A local, programmable stand-in for InboxKit's signed status-change webhooks.
#[derive(Debug, Parser)]
#[command(name = "inboxkit-mock", version, about, after_help = EXIT_CODES_HELP)]
struct Cli {
    /// Log more (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Log only errors.
    #[arg(short, long, global = true, env = "INBOXKIT_MOCK_QUIET")]
    quiet: bool,
    /// Log lines as readable text or as JSON objects (one per line).
    #[arg(long, global = true, env = "INBOXKIT_MOCK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// A TOML file of option defaults: top-level keys for every subcommand, a [serve] (or
    /// [send], ...) table for one. Flags and INBOXKIT_MOCK_* variables override it.
    #[arg(long, global = true, env = config::ENV, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Readable lines (colored on a terminal).
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Drive a domain and a mailbox through their lifecycles to a built-in receiver.
    Demo(demo::Args),
    /// Send one signed event to a subscriber and print the delivery with every attempt.
    Send(send::Args),
    /// Print the X-InboxKit-Signature value of the body on standard input.
    Sign(sign::SignArgs),
    /// Check an X-InboxKit-Signature value against the body on standard input.
    Verify(sign::VerifyArgs),
    /// Run the reference receiver: verify, validate, dedupe, record, answer 200.
    Receive(receive::Args),
    /// Run a conformance battery against a consumer and print a table; exit 1 if a check fails.
    Check(check::Args),
    /// Run a scenario file: steps, open-model load, report, thresholds (exit 99 on a breach).
    Run(run::Args),
    /// Merge the JSON reports of several runs or shards into one.
    Report(report::Args),
    /// Print JSON Schemas (draft 2020-12) of every body the mock emits, from its own types.
    Schema(schema::Args),
    /// Compare a recording of real deliveries with the mock's contract; exit 1 on drift.
    Drift(drift::Args),
    /// Send recorded deliveries again, byte for byte or re-signed, under the retry policy.
    Replay(replay::Args),
    /// Serve the mock InboxKit REST API; lifecycles walk on their own and send signed webhooks.
    Serve(serve::Args),
    /// Probe a running mock's /_mock/health (or /_mock/ready); exit 0 healthy, 1 not.
    Health(health::Args),
}

/// How a subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The user asked for something impossible; exit 64.
    #[error("{0}")]
    Usage(String),
    /// Something broke while running; exit 70.
    #[error(transparent)]
    Runtime(#[from] anyhow::Error),
}

impl CliError {
    /// A usage error with this message.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }
}

/// Parses the command line, runs the subcommand, and maps the result to an exit code.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut command = Cli::command();
    if let Some(path) = config::locate(&args) {
        command = match config::apply(command, &path) {
            Ok(command) => command,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(exit::USAGE);
            }
        };
    }
    let cli = match command
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.verbose, cli.quiet, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return ExitCode::from(exit::RUNTIME);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => ExitCode::from(code),
        Err(CliError::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(exit::USAGE)
        }
        Err(CliError::Runtime(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit::RUNTIME)
        }
    }
}

async fn run(command: Command) -> Result<u8, CliError> {
    match command {
        Command::Demo(args) => demo::run(args).await,
        Command::Send(args) => send::run(args).await,
        Command::Sign(args) => sign::sign(args),
        Command::Verify(args) => sign::verify(args),
        Command::Receive(args) => receive::run(args).await,
        Command::Check(args) => check::run(args).await,
        Command::Run(args) => run::run(args).await,
        Command::Report(args) => report::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Drift(args) => drift::run(args),
        Command::Replay(args) => replay::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Health(args) => health::run(args).await,
    }
}

fn init_logging(verbose: u8, quiet: bool, format: LogFormat) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,inboxkit_mock=info",
        (false, 1) => "info,inboxkit_mock=debug",
        (false, _) => "debug,inboxkit_mock=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("INBOXKIT_MOCK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
}
