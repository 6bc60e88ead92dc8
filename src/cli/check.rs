//! `check`: the conformance battery against a consumer, printed as a table, JSON or JUnit XML.

use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use inboxkit_mock::check::{self, CheckConfig, DEFAULT_BURST, Report, Verdict};
use inboxkit_mock::contract::Secret;

use super::contract_args::{KeyArgs, ProfileArgs, parse_target, random_token};
use super::{CliError, exit};

const CHECK_HELP: &str = "\
Checks: accept.<event> (each event type, 2xx within half the deadline), signature.raw_bytes,
signature.wrong, signature.missing, signature.tampered_body (hmac-body only),
payload.malformed_json, duplicate.exact, duplicate.new_status_same_uid,
tolerance.unknown_platform, tolerance.unknown_event, load.burst, deadline.every_answer.

Processed endpoint (--processed-url): a GET answering {\"processed\": N} (events processed so far,
acknowledged duplicates not counted), {\"processed\": [...]} or a JSON list. Without it the
duplicate checks report needs_cooperation instead of passing.

Exit codes:
  0   no check failed (needs_cooperation allowed, unless --require-cooperation)
  1   at least one check failed
  64  usage error (bad URL, missing key, bad option)
  70  runtime error (e.g. the JUnit file cannot be written)";

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A table, then a summary.
    Text,
    /// The report as JSON.
    Json,
}

/// Options of `check`.
#[derive(Debug, clap::Args)]
#[command(after_help = CHECK_HELP)]
pub struct Args {
    /// The consumer's webhook URL (http or https).
    #[arg(long, env = "INBOXKIT_MOCK_TARGET")]
    target: String,
    #[command(flatten)]
    profile: ProfileArgs,
    #[command(flatten)]
    keys: KeyArgs,
    /// Bearer token for `Authorization`, sent when the profile does (seed) [default: random].
    #[arg(long, env = "INBOXKIT_MOCK_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// The consumer's processed endpoint (see below), for the checks that need it.
    #[arg(long, value_name = "URL")]
    processed_url: Option<String>,
    /// Concurrent deliveries in load.burst (1-1000).
    #[arg(long, default_value_t = DEFAULT_BURST)]
    burst: usize,
    /// Seed for the fake entities (the same seed sends the same bodies).
    #[arg(long, env = "INBOXKIT_MOCK_SEED")]
    seed: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Also write the report as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Count needs_cooperation as a failure.
    #[arg(long)]
    require_cooperation: bool,
}

/// Runs the battery; exit 0 when nothing failed, 1 otherwise.
pub async fn run(args: Args) -> Result<u8, CliError> {
    let target =
        parse_target(&args.target).map_err(|e| CliError::usage(format!("--target: {e}")))?;
    let processed_url = args
        .processed_url
        .as_deref()
        .map(parse_target)
        .transpose()
        .map_err(|e| CliError::usage(format!("--processed-url: {e}")))?;
    if args.burst == 0 || args.burst > check::MAX_BURST {
        return Err(CliError::usage(format!(
            "--burst must be from 1 to {}, got {}",
            check::MAX_BURST,
            args.burst
        )));
    }
    let settings = args.profile.settings();
    if settings.timeout.is_zero() {
        return Err(CliError::usage("--timeout must be longer than zero"));
    }
    let signer = args.keys.signer(settings.signature_scheme)?;
    let mut config = CheckConfig::new(target, signer, settings.payload_shape, settings.timeout);
    config.bearer = settings
        .send_authorization
        .then(|| Secret::new(args.auth_token.clone().unwrap_or_else(random_token)));
    config.processed_url = processed_url;
    config.burst = args.burst;
    config.seed = args.seed;

    let report = check::run(&config).await.map_err(|error| match error {
        check::CheckError::InvalidConfig(message) => CliError::usage(message),
        other => CliError::Runtime(other.into()),
    })?;
    match args.output {
        Output::Text => print!("{}", render(&report)),
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialize")
        ),
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, check::junit::render(&report))
            .with_context(|| format!("writing the JUnit report to {}", path.display()))?;
    }
    let failed = report.has_failures()
        || (args.require_cooperation && report.count(Verdict::NeedsCooperation) > 0);
    Ok(if failed { exit::REJECTED } else { exit::OK })
}

/// Column headers and the widths text is wrapped to.
const COLUMNS: [(&str, usize); 5] = [
    ("CHECK", 39),
    ("SENT", 32),
    ("EXPECTED", 28),
    ("OBSERVED", 44),
    ("VERDICT", 17),
];

/// The report as a table with wrapped cells, then a summary.
pub fn render(report: &Report) -> String {
    let mut text = String::new();
    push_row(&mut text, COLUMNS.map(|(name, _)| name.to_owned()));
    for result in &report.results {
        push_row(
            &mut text,
            [
                result.name.clone(),
                result.sent.clone(),
                result.expected.clone(),
                result.observed.clone(),
                result.verdict.to_string().to_uppercase(),
            ],
        );
    }
    text.push_str(&format!(
        "\n{} checks against {} (deadline {}): {} passed, {} failed, {} need cooperation\n",
        report.results.len(),
        report.target,
        report.deadline,
        report.count(Verdict::Pass),
        report.count(Verdict::Fail),
        report.count(Verdict::NeedsCooperation)
    ));
    if report.has_failures() {
        text.push_str(&format!("failed: {}\n", report.failed().join(", ")));
    }
    for untested in &report.untested {
        text.push_str(&format!(
            "not tested: {}: {}\n",
            untested.name, untested.why
        ));
    }
    text
}

fn push_row(text: &mut String, cells: [String; 5]) {
    let wrapped: Vec<Vec<String>> = cells
        .iter()
        .zip(COLUMNS)
        .map(|(cell, (_, width))| wrap(cell, width))
        .collect();
    let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
    for line in 0..height {
        let parts: Vec<String> = wrapped
            .iter()
            .zip(COLUMNS)
            .map(|(lines, (_, width))| {
                format!("{:<width$}", lines.get(line).map_or("", String::as_str))
            })
            .collect();
        text.push_str(parts.join("  ").trim_end());
        text.push('\n');
    }
}

/// Splits `cell` into lines of at most `width` characters, at spaces where possible.
fn wrap(cell: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in cell.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let line = lines.last_mut().expect("there is always a line");
            let used = line.chars().count();
            let gap = usize::from(used > 0);
            if used + gap + word.len() <= width {
                if gap == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                break;
            }
            if used == 0 {
                let rest = word.split_off(width);
                line.extend(word.iter());
                word = rest;
            }
            lines.push(String::new());
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_wrap_at_spaces_and_long_words_are_cut() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), [""]);
    }
}
