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
    let mut cli = match command
        .clone()
        .try_get_matches_from(&args)
        .and_then(|matches| {
            empty_admin_token(&matches)?;
            Cli::from_arg_matches(&matches)
        }) {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            match blame_environment(&command, &args, &error) {
                Some(message) => eprint!("{message}"),
                None => {
                    let _ = error.print();
                }
            }
            return ExitCode::from(code);
        }
    };
    quiet_broken_pipes();
    init_logging(cli.verbose, cli.quiet, cli.log_format);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Command::Run(args) = &mut cli.command {
        builder.worker_threads(run::worker_threads(args));
    }
    let runtime = match builder.enable_all().build() {
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

/// `--admin-token ""` (or an empty `INBOXKIT_MOCK_ADMIN_TOKEN`) would silently leave the control
/// API open: refused as a usage error.
fn empty_admin_token(matches: &clap::ArgMatches) -> Result<(), clap::Error> {
    let Some((_, sub)) = matches.subcommand() else {
        return Ok(());
    };
    let empty = sub
        .try_get_raw("admin_token")
        .ok()
        .flatten()
        .is_some_and(|mut values| values.any(|v| v.to_string_lossy().trim().is_empty()));
    if empty {
        return Err(clap::Error::raw(
            clap::error::ErrorKind::InvalidValue,
            "--admin-token (or INBOXKIT_MOCK_ADMIN_TOKEN) is empty: pass a token, or leave the \
             option out to keep the control API open on loopback\n",
        ));
    }
    Ok(())
}

/// When a bad value came from an `INBOXKIT_MOCK_*` variable rather than the command line, clap
/// blames the flag (`'--port <PORT>'`); this names the variable instead. `None` when the value
/// was not from the environment.
fn blame_environment(
    command: &clap::Command,
    args: &[std::ffi::OsString],
    error: &clap::Error,
) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let context = |kind| match error.get(kind) {
        Some(ContextValue::String(text)) => Some(text.clone()),
        _ => None,
    };
    let shown = context(ContextKind::InvalidArg)?;
    let value = context(ContextKind::InvalidValue)?;
    let long = shown
        .split_whitespace()
        .next()?
        .strip_prefix("--")?
        .to_owned();
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if words
        .iter()
        .any(|w| w == &format!("--{long}") || w.starts_with(&format!("--{long}=")))
    {
        return None;
    }
    let sub = words
        .iter()
        .find_map(|w| command.find_subcommand(w.as_str()));
    let scopes = sub.into_iter().chain(std::iter::once(command));
    let variable = scopes
        .flat_map(clap::Command::get_arguments)
        .find(|arg| arg.get_long() == Some(long.as_str()))?
        .get_env()?
        .to_string_lossy()
        .into_owned();
    if std::env::var_os(&variable)?.to_string_lossy() != value {
        return None;
    }
    let rendered = error.render().to_string();
    Some(rendered.replacen(
        &format!("for '{shown}'"),
        &format!("in the environment variable {variable} (read for --{long})"),
        1,
    ))
}

/// Writing to a closed pipe (`inboxkit-mock demo | head`) ends the process quietly with exit 0
/// instead of a panic: Rust ignores SIGPIPE, so `println!` fails with a broken pipe and panics.
/// Restoring SIGPIPE's default would be the classic fix, but vectored socket writes carry no
/// `MSG_NOSIGNAL`, so a client hanging up could then kill `serve`; the panic hook is narrower.
fn quiet_broken_pipes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        let printing = message.starts_with("failed printing to stdout")
            || message.starts_with("failed printing to stderr");
        if printing && message.contains("Broken pipe") {
            std::process::exit(i32::from(exit::OK));
        }
        default(info);
    }));
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
