//! `report`: merges the JSON reports of several runs (shards) into one, and compares it with a
//! baseline run (`--baseline`, `--max-regression`).

use std::path::PathBuf;

use anyhow::Context;
use inboxkit_mock::load::Report;
use inboxkit_mock::load::html;
use inboxkit_mock::load::report::compare::{Comparison, Limits};

use super::run::{REPORT_BEGIN, REPORT_END, THRESHOLD_BREACHED, write_outputs};
use super::{CliError, exit};

/// Options of `report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Reports written by `run --out`, or logs holding reports printed by `run --print-report`
    /// (e.g. `kubectl logs --prefix` of every shard); `-` reads standard input.
    #[arg(required = true)]
    reports: Vec<PathBuf>,
    /// Write the merged report as JSON.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write a self-contained HTML report (with `--baseline`: the comparison).
    #[arg(long)]
    html: Option<PathBuf>,
    /// A previous run's report (or a log of its shards) to compare with: every metric side by
    /// side with the change.
    #[arg(long, value_name = "PREVIOUS")]
    baseline: Option<PathBuf>,
    /// How much worse metrics may get against the baseline before the exit code is 99, e.g.
    /// `latency_p99=10%,throughput=5%` (times up, success rate and throughput down are worse).
    #[arg(long, value_name = "METRIC=PERCENT,...", requires = "baseline")]
    max_regression: Option<String>,
}

/// Merges, prints, and exits 0 when the merged run passes its thresholds (and, with `--baseline`,
/// no metric regressed past `--max-regression`), 99 otherwise, 64 on a bad limit.
pub fn run(args: Args) -> Result<u8, CliError> {
    let limits = match &args.max_regression {
        Some(spec) => spec
            .parse::<Limits>()
            .map_err(|e| CliError::usage(e.to_string()))?,
        None => Limits::default(),
    };
    let baseline = match &args.baseline {
        Some(path) => Some(merged_from(std::slice::from_ref(path))?),
        None => None,
    };
    let merged = merged_from(&args.reports)?;
    let Some(baseline) = baseline else {
        write_outputs(
            &merged,
            args.out.as_ref(),
            args.junit.as_ref(),
            args.html.as_ref(),
        )?;
        println!("{}", merged.text());
        return Ok(if merged.passed() {
            exit::OK
        } else {
            THRESHOLD_BREACHED
        });
    };
    let comparison = Comparison::new(&baseline, &merged, &limits);
    write_outputs(&merged, args.out.as_ref(), args.junit.as_ref(), None)?;
    if let Some(path) = &args.html {
        std::fs::write(
            path,
            html::render_comparison(&comparison, &baseline, &merged),
        )
        .with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{}\n", merged.text());
    println!("{}", comparison.text(&baseline, &merged));
    let pass = merged.passed() && !comparison.regressed();
    println!(
        "result: {}",
        match (comparison.regressed(), merged.passed()) {
            (true, _) => "FAIL (regression)",
            (false, false) => "FAIL (the current run's thresholds)",
            (false, true) => "PASS",
        }
    );
    Ok(if pass { exit::OK } else { THRESHOLD_BREACHED })
}

/// The reports in `paths` (files, logs or `-`), merged into one.
fn merged_from(paths: &[PathBuf]) -> Result<Report, CliError> {
    let mut reports = Vec::new();
    for path in paths {
        let text = if path.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin()).context("reading standard input")?
        } else {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        };
        reports.extend(
            parse_reports(&text)
                .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?,
        );
    }
    if reports.is_empty() {
        return Err(CliError::usage(
            "no report found in the given files (written by `run --out` or `run --print-report`)",
        ));
    }
    if let Some(other) = reports.iter().find(|r| r.scenario != reports[0].scenario) {
        return Err(CliError::usage(format!(
            "the reports are of different scenarios: `{}` and `{}`",
            reports[0].scenario, other.scenario
        )));
    }
    Ok(Report::merge(reports).expect("at least one report"))
}
/// The reports in `text`: one JSON report (`run --out`), or every report between the marker
/// lines of `run --print-report` in a log, whatever each line's prefix (`kubectl logs --prefix`
/// puts the pod's name before every line).
fn parse_reports(text: &str) -> Result<Vec<Report>, String> {
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text)
            .map(|report| vec![report])
            .map_err(|e| format!("not a report written by `run --out`: {e}"));
    }
    let mut reports = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((_, line)) = lines.next() {
        let Some(at) = line.find(REPORT_BEGIN) else {
            continue;
        };
        let prefix = &line[..at];
        let mut json = String::new();
        let mut closed = false;
        for (number, line) in lines.by_ref() {
            let line = line.strip_prefix(prefix).unwrap_or(line);
            if line.trim_end() == REPORT_END {
                closed = true;
                let report = serde_json::from_str(&json).map_err(|e| {
                    format!("the report ending on line {} is not valid: {e}", number + 1)
                })?;
                reports.push(report);
                break;
            }
            json.push_str(line);
            json.push('\n');
        }
        if !closed {
            return Err(format!(
                "a report starting after `{prefix}` has no end line"
            ));
        }
    }
    if reports.is_empty() {
        return Err(
            "neither a JSON report nor a log with reports printed by `run --print-report`".into(),
        );
    }
    Ok(reports)
}
