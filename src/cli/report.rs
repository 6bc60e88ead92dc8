//! `report`: merges the JSON reports of several runs (shards) into one.

use std::path::PathBuf;

use anyhow::Context;
use inboxkit_mock::load::Report;

use super::run::{THRESHOLD_BREACHED, write_outputs};
use super::{CliError, exit};

/// Options of `report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Reports written by `run --out`.
    #[arg(required = true)]
    reports: Vec<PathBuf>,
    /// Write the merged report as JSON.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write a self-contained HTML report.
    #[arg(long)]
    html: Option<PathBuf>,
}

/// Merges, prints, and exits 0 when the merged run passes its thresholds, 99 otherwise.
pub fn run(args: Args) -> Result<u8, CliError> {
    let mut reports = Vec::new();
    for path in &args.reports {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let report: Report = serde_json::from_str(&text).map_err(|e| {
            CliError::usage(format!(
                "{}: not a report written by `run --out`: {e}",
                path.display()
            ))
        })?;
        reports.push(report);
    }
    if let Some(other) = reports.iter().find(|r| r.scenario != reports[0].scenario) {
        return Err(CliError::usage(format!(
            "the reports are of different scenarios: `{}` and `{}`",
            reports[0].scenario, other.scenario
        )));
    }
    let merged = Report::merge(reports).expect("at least one report");
    write_outputs(
        &merged,
        args.out.as_ref(),
        args.junit.as_ref(),
        args.html.as_ref(),
    )?;
    println!("{}", merged.text());
    Ok(if merged.passed() {
        exit::OK
    } else {
        THRESHOLD_BREACHED
    })
}
