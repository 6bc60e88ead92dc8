//! `check`: a conformance battery run against any webhook subscriber.
//!
//! Each check sends crafted, correctly (or deliberately wrongly) signed requests and compares
//! the answer with what the contract needs from a consumer. Every request is bounded by the
//! deadline, so a consumer that hangs, resets or answers garbage gives a failed check with what
//! was observed, never a hung `check`.
//!
//! Some properties (was a duplicate processed again?) cannot be seen from the answers. A
//! consumer can cooperate by exposing a *processed endpoint* (`--processed-url`): a `GET` that
//! answers `{"processed": N}` (N = events processed so far, acknowledged duplicates not
//! counted), `{"processed": [...]}` or a bare JSON list (its length is N). Without it, those
//! checks report `needs_cooperation` instead of passing.
//!
//! Checks, by group: `accept.<event>` (`acceptance`), `signature.*` and `payload.*`
//! (`validation`), `duplicate.*` (`duplicates`), `tolerance.*` (`acceptance`),
//! `load.burst` and `deadline.every_answer` (`load`).

mod acceptance;
mod bodies;
mod duplicates;
pub mod junit;
mod load;
mod probe;
mod validation;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::contract::{PayloadShape, Secret, Signer};
pub use probe::Observation;
use probe::Probe;

/// Concurrent deliveries of `load.burst` unless told otherwise.
pub const DEFAULT_BURST: usize = 20;
/// The most concurrent deliveries `load.burst` accepts.
pub const MAX_BURST: usize = 1000;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The consumer behaved as the contract needs.
    Pass,
    /// It did not.
    Fail,
    /// The answers were right, but the property needs the consumer's help to be seen.
    NeedsCooperation,
}

impl Verdict {
    /// The stable code, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NeedsCooperation => "needs_cooperation",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check: what was sent, what the contract expects, what came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Stable name, e.g. `duplicate.new_status_same_uid`.
    pub name: String,
    /// What was sent.
    pub sent: String,
    /// What a conforming consumer answers.
    pub expected: String,
    /// What was observed.
    pub observed: String,
    /// The verdict.
    pub verdict: Verdict,
    /// How long the check took, in milliseconds.
    pub duration_ms: f64,
}

/// What to check and how.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// The consumer's webhook URL.
    pub target: Url,
    /// Signs requests with the scheme under test (see the README's Signatures section).
    pub signer: Signer,
    /// Bearer token for `Authorization`, when the profile sends it.
    pub bearer: Option<Secret>,
    /// Body layout.
    pub shape: PayloadShape,
    /// The deadline every answer must meet.
    pub deadline: Duration,
    /// The consumer's processed endpoint, when it cooperates.
    pub processed_url: Option<Url>,
    /// Concurrent deliveries in `load.burst`.
    pub burst: usize,
    /// Seed for the fake entities (random when absent).
    pub seed: Option<u64>,
}

impl CheckConfig {
    /// A configuration with no bearer token, no processed endpoint and the default burst.
    pub fn new(target: Url, signer: Signer, shape: PayloadShape, deadline: Duration) -> Self {
        CheckConfig {
            target,
            signer,
            bearer: None,
            shape,
            deadline,
            processed_url: None,
            burst: DEFAULT_BURST,
            seed: None,
        }
    }
}

/// Why the battery could not run at all (a consumer's misbehaviour is a failed check instead).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A setting is out of range.
    #[error("{0}")]
    InvalidConfig(String),
    /// The HTTP client could not be created.
    #[error("could not create the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Every check's result, in the order run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The consumer checked.
    pub target: String,
    /// The deadline applied, e.g. `10s`.
    pub deadline: String,
    /// Results in order.
    pub results: Vec<CheckResult>,
    /// What a consumer needs that no request from outside can show, so no check tests it.
    #[serde(default)]
    pub untested: Vec<Untested>,
}

/// A property `check` cannot test from outside the consumer, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Untested {
    /// Stable name, e.g. `signature.constant_time`.
    pub name: String,
    /// Why it cannot be tested, and what to do instead.
    pub why: String,
}

/// The properties no check can test, named in every report.
pub const UNTESTABLE: [(&str, &str); 3] = [
    (
        "signature.constant_time",
        "comparing signatures in constant time leaves no trace in the answers that a few requests \
         could measure reliably; review the code (e.g. `subtle::ConstantTimeEq`, \
         `hmac::Mac::verify_slice`, `crypto.timingSafeEqual`, `hmac.compare_digest`)",
    ),
    (
        "duplicate.processing_side_effects",
        "whether a duplicate's side effects (emails, rows) happened twice is only visible through \
         the processed endpoint (--processed-url); without it the duplicate checks need cooperation",
    ),
    (
        "order.out_of_order_changes",
        "how a consumer orders changes that arrive late (older `timestamp`) is its own choice; \
         the contract only promises per-entity order of sending, which `check` cannot break",
    ),
];

/// [`UNTESTABLE`] as report entries.
pub fn untested() -> Vec<Untested> {
    UNTESTABLE
        .iter()
        .map(|(name, why)| Untested {
            name: (*name).to_owned(),
            why: (*why).to_owned(),
        })
        .collect()
}

impl Report {
    /// How many checks ended with `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.results.iter().filter(|r| r.verdict == verdict).count()
    }

    /// Whether any check failed.
    pub fn has_failures(&self) -> bool {
        self.count(Verdict::Fail) > 0
    }

    /// The names of the failed checks, in order.
    pub fn failed(&self) -> Vec<&str> {
        self.results
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .map(|r| r.name.as_str())
            .collect()
    }

    /// One result by name.
    pub fn result(&self, name: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.name == name)
    }
}

/// Runs every check against `config.target` and returns the report.
pub async fn run(config: &CheckConfig) -> Result<Report, CheckError> {
    if config.burst == 0 || config.burst > MAX_BURST {
        return Err(CheckError::InvalidConfig(format!(
            "the burst must be from 1 to {MAX_BURST} deliveries, got {}",
            config.burst
        )));
    }
    if config.deadline.is_zero() {
        return Err(CheckError::InvalidConfig(
            "the deadline must be longer than zero".into(),
        ));
    }
    let mut probe = Probe::new(config)?;
    let mut results = Vec::new();
    acceptance::events(&mut probe, &mut results).await;
    validation::run(&mut probe, &mut results).await;
    duplicates::run(&mut probe, &mut results).await;
    acceptance::tolerance(&mut probe, &mut results).await;
    load::burst(&mut probe, &mut results).await;
    results.push(load::every_answer(&probe));
    Ok(Report {
        target: config.target.to_string(),
        deadline: humantime::format_duration(config.deadline).to_string(),
        results,
        untested: untested(),
    })
}

/// Times a check and builds its result.
struct Timer {
    started: Instant,
}

impl Timer {
    fn start() -> Self {
        Timer {
            started: Instant::now(),
        }
    }

    fn finish(
        self,
        name: impl Into<String>,
        sent: impl Into<String>,
        expected: impl Into<String>,
        (verdict, observed): (Verdict, String),
    ) -> CheckResult {
        CheckResult {
            name: name.into(),
            sent: sent.into(),
            expected: expected.into(),
            observed,
            verdict,
            duration_ms: self.started.elapsed().as_secs_f64() * 1e3,
        }
    }
}

/// Pass when `holds`, else fail; the observation either way.
fn verdict(holds: bool, observed: String) -> (Verdict, String) {
    (if holds { Verdict::Pass } else { Verdict::Fail }, observed)
}
