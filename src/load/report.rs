//! The report of a run: JSON (mergeable), a text summary, JUnit XML and a self-contained HTML.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::stats::{Micros, Stats, rss_growth};
use crate::delivery::TerminalState;
pub use crate::markup::escape;

pub mod compare;
pub mod failures;
pub use crate::scenario::StepResult;
use crate::scenario::threshold::{Metric, Threshold, Verdict};

/// Everything a run produced; `report` merges several into one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Shards included, e.g. `["1/2", "2/2"]`.
    pub shards: Vec<String>,
    /// Where deliveries went.
    pub target: String,
    /// When the run started (ISO 8601).
    pub started_at: String,
    /// Thresholds as written in the scenario.
    pub thresholds: Vec<String>,
    /// Functional steps.
    pub steps: Vec<StepResult>,
    /// Load statistics.
    pub stats: Stats,
    /// Threshold verdicts.
    pub verdicts: Vec<Verdict>,
    /// Resident memory of each shard's process, MiB, sampled every second, by shard (`1/2`):
    /// shards are separate processes, so their memory is never added or mixed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub memory: BTreeMap<String, Vec<f64>>,
}

/// The value of `metric` in `stats`, or None when there are no samples.
pub fn observe(stats: &Stats, metric: Metric) -> Option<f64> {
    let events = stats.events;
    let some_events = (events > 0).then_some(events as f64);
    let attempts_max = stats.attempts_per_event.keys().max().map(|m| f64::from(*m));
    let attempts = stats.attempts() as f64;
    match metric {
        Metric::SuccessRate => {
            let eligible = events.saturating_sub(stats.bad_signature_events);
            (eligible > 0).then(|| {
                stats.count(TerminalState::Delivered).min(eligible) as f64 / eligible as f64
            })
        }
        Metric::Events => Some(events as f64),
        Metric::Delivered => some_events.map(|_| stats.count(TerminalState::Delivered) as f64),
        Metric::Rejected => some_events.map(|_| stats.count(TerminalState::Rejected) as f64),
        Metric::Exhausted => some_events.map(|_| stats.count(TerminalState::Exhausted) as f64),
        Metric::Attempts => some_events.map(|_| attempts),
        Metric::AttemptsMax => attempts_max,
        Metric::AttemptsMean => some_events.map(|n| attempts / n),
        Metric::Throughput => (stats.duration_s > 0.0 && events > 0)
            .then(|| stats.count(TerminalState::Delivered) as f64 / stats.duration_s),
        Metric::LateStarts => some_events.map(|_| stats.late_starts as f64),
        Metric::LatencyMin => stats.response_us.min_ms(),
        Metric::LatencyMean => stats.response_us.mean_ms(),
        Metric::LatencyP50 => stats.response_us.percentile_ms(0.5),
        Metric::LatencyP90 => stats.response_us.percentile_ms(0.9),
        Metric::LatencyP95 => stats.response_us.percentile_ms(0.95),
        Metric::LatencyP99 => stats.response_us.percentile_ms(0.99),
        Metric::LatencyP999 => stats.response_us.percentile_ms(0.999),
        Metric::LatencyMax => stats.response_us.max_ms(),
        Metric::ServiceP50 => stats.service_us.percentile_ms(0.5),
        Metric::ServiceP99 => stats.service_us.percentile_ms(0.99),
        Metric::ServiceMax => stats.service_us.max_ms(),
        Metric::LagP99 => stats.lag_us.percentile_ms(0.99),
        Metric::LagMax => stats.lag_us.max_ms(),
        Metric::RssGrowth => stats.rss_growth(),
    }
}

/// Failed deliveries the text summary lists (the JSON and HTML reports hold all kept).
const TEXT_FAILURES: usize = 10;

/// How a column of the time table reads its figure (ms) from a histogram.
pub type Pick = fn(&Micros) -> Option<f64>;

/// The columns of the time table: name and how to read it from a histogram (ms).
pub const PERCENTILES: &[(&str, Pick)] = &[
    ("min", Micros::min_ms),
    ("mean", Micros::mean_ms),
    ("p50", |h| h.percentile_ms(0.5)),
    ("p90", |h| h.percentile_ms(0.9)),
    ("p95", |h| h.percentile_ms(0.95)),
    ("p99", |h| h.percentile_ms(0.99)),
    ("p99.9", |h| h.percentile_ms(0.999)),
    ("max", Micros::max_ms),
];

/// The counting rows of the summary (label, value with its unit), shared by text and HTML.
pub fn summary_rows(s: &Stats) -> Vec<(&'static str, String)> {
    let per_second = |n: f64, over: f64| n / over.max(f64::MIN_POSITIVE);
    vec![
        (
            "events",
            format!(
                "{} events ({} mis-signed, {} duplicates, {} reordered, {} stale on purpose)",
                s.events,
                s.bad_signature_events,
                s.duplicates_sent,
                s.reordered,
                s.stale_timestamps
            ),
        ),
        (
            "terminal",
            TerminalState::ALL
                .iter()
                .map(|t| format!("{t} {}", s.count(*t)))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "attempts",
            format!(
                "{} attempts ({})",
                s.attempts(),
                s.outcomes
                    .iter()
                    .map(|(o, n)| format!("{o} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        (
            "per event",
            s.attempts_per_event
                .iter()
                .map(|(k, n)| {
                    format!(
                        "{n} event{} with {k} attempt{}",
                        if *n == 1 { "" } else { "s" },
                        if *k == 1 { "" } else { "s" }
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "throughput",
            format!(
                "attempted {:.1} events/s over the {:.1} s of load; delivered {:.1} events/s over the {:.1} s until all were terminal",
                per_second(s.events as f64, s.load_s),
                s.load_s,
                per_second(s.count(TerminalState::Delivered) as f64, s.duration_s),
                s.duration_s
            ),
        ),
        (
            "late starts",
            format!("{} sends waited for an in-flight slot", s.late_starts),
        ),
    ]
}

/// The unit a value of `metric` is given in (after a space), empty for fractions.
fn unit(metric: Metric) -> &'static str {
    match metric {
        m if m.is_duration() => " ms",
        Metric::SuccessRate | Metric::RssGrowth => "",
        Metric::Throughput => " events/s",
        Metric::Attempts | Metric::AttemptsMax | Metric::AttemptsMean => " attempts",
        Metric::LateStarts => " sends",
        _ => " events",
    }
}

/// A value of `metric` with its unit: durations in ms, counts as integers of events, attempts
/// or sends, rates in events/s, fractions as numbers (memory growth also as a percentage).
pub fn format_value(metric: Metric, value: f64) -> String {
    let unit = unit(metric);
    match metric {
        m if m.is_duration() => format!("{value:.3}{unit}"),
        Metric::SuccessRate => format!("{value:.4}"),
        Metric::Throughput => format!("{value:.1}{unit}"),
        Metric::AttemptsMean => format!("{value:.2}{unit}"),
        Metric::RssGrowth => format!("{value:.3} ({:+.1} %)", value * 100.0),
        // One event, attempt or send: the unit in the singular.
        _ if value == 1.0 => format!("1{}", unit.trim_end_matches('s')),
        _ if value.fract() == 0.0 && value.abs() < 1e15 => format!("{}{unit}", value as i64),
        _ => format!("{value:.3}{unit}"),
    }
}

/// What a verdict observed, with units, and for a failure what the threshold needs, e.g.
/// `observed 252.543 ms, needs < 150 ms`; a threshold without samples says so.
pub fn verdict_figures(verdict: &Verdict) -> String {
    let threshold = verdict.threshold.parse::<Threshold>().ok();
    match (verdict.observed, threshold) {
        (None, _) => verdict
            .reason
            .clone()
            .unwrap_or_else(|| "no samples".into()),
        (Some(v), None) => format!("observed {v:.3}"),
        (Some(v), Some(t)) if verdict.pass => format!("observed {}", format_value(t.metric, v)),
        (Some(v), Some(t)) => format!("observed {}, {}", format_value(t.metric, v), needs(&t)),
    }
}

/// What a threshold needs, its limit in the metric's unit, e.g. `needs < 150 ms`.
pub fn needs(threshold: &Threshold) -> String {
    format!(
        "needs {} {}{}",
        // `metric op value`, as parsing checked.
        threshold.text.split_whitespace().nth(1).unwrap_or("?"),
        threshold.limit,
        unit(threshold.metric)
    )
}

impl Report {
    /// Checks `thresholds` against the stats and stores the verdicts; `rss_growth` is judged on
    /// the shard whose memory grew most.
    pub fn evaluate(&mut self) {
        let worst_growth = self.worst_rss_growth();
        self.verdicts = self
            .thresholds
            .iter()
            .filter_map(|t| t.parse::<Threshold>().ok())
            .map(|t| match t.metric {
                Metric::RssGrowth => t.check(worst_growth),
                metric => t.check(observe(&self.stats, metric)),
            })
            .collect();
    }

    /// Each shard's memory samples (a report of an earlier version keeps them in its stats).
    pub fn memory_by_shard(&self) -> BTreeMap<String, Vec<f64>> {
        if self.memory.is_empty() && !self.stats.rss_mib.is_empty() {
            let shard = self.shards.first().cloned().unwrap_or_else(|| "1/1".into());
            return BTreeMap::from([(shard, self.stats.rss_mib.clone())]);
        }
        self.memory.clone()
    }

    /// Each shard's resident memory in words with units (the shard named when there are
    /// several), e.g. `RSS 26.8 MiB at start, 33.1 MiB at the end (+5.2 % since a tenth into
    /// the run)`.
    pub fn memory_lines(&self) -> Vec<(Option<String>, String)> {
        let memory = self.memory_by_shard();
        let several = memory.len() > 1;
        memory
            .iter()
            .filter_map(|(shard, rss_mib)| {
                let (first, last) = (rss_mib.first()?, rss_mib.last()?);
                let growth = rss_growth(rss_mib).map_or(String::new(), |g| {
                    format!(" ({:+.1} % since a tenth into the run)", g * 100.0)
                });
                Some((
                    several.then(|| shard.clone()),
                    format!("RSS {first:.1} MiB at start, {last:.1} MiB at the end{growth}"),
                ))
            })
            .collect()
    }

    /// The largest memory growth of any shard (see [`Stats::rss_growth`]).
    pub fn worst_rss_growth(&self) -> Option<f64> {
        self.memory_by_shard()
            .into_values()
            .filter_map(|rss_mib| rss_growth(&rss_mib))
            .reduce(f64::max)
    }

    /// The value of `metric` for this run; `rss_growth` is the worst shard's.
    pub fn value(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::RssGrowth => self.worst_rss_growth(),
            metric => observe(&self.stats, metric),
        }
    }

    /// Whether every step and threshold passed.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.pass) && self.verdicts.iter().all(|v| v.pass)
    }

    /// Merges reports of shards of one scenario; the result does not depend on their order.
    pub fn merge(mut reports: Vec<Report>) -> Option<Report> {
        reports.sort_by(|a, b| {
            a.shards
                .cmp(&b.shards)
                .then(a.started_at.cmp(&b.started_at))
        });
        let mut reports = reports.into_iter();
        let mut merged = reports.next()?;
        merged.memory = merged.memory_by_shard();
        for report in reports {
            merged.memory.extend(report.memory_by_shard());
            merged.shards.extend(report.shards);
            merged.steps.extend(report.steps);
            merged.stats.merge(&report.stats);
            merged.started_at = merged.started_at.min(report.started_at);
        }
        // Memory is per shard (above), never one shard's series standing for all.
        merged.stats.rss_mib.clear();
        merged.evaluate();
        Some(merged)
    }

    /// The terminal summary: an aligned table, every figure with its unit.
    pub fn text(&self) -> String {
        let s = &self.stats;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "scenario {} (shards {}) -> {}",
            self.scenario,
            self.shards.join(", "),
            self.target
        );
        for step in &self.steps {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                if step.pass { "ok  " } else { "FAIL" },
                step.step,
                step.detail
            );
        }
        if s.events > 0 {
            for (label, value) in summary_rows(s) {
                let _ = writeln!(out, "  {label:<11} {value}");
            }
            let _ = writeln!(
                out,
                "  {:<11} {}",
                "time (ms)",
                PERCENTILES
                    .iter()
                    .map(|(name, _)| format!("{name:>9}"))
                    .collect::<String>()
            );
            for (label, h) in [
                ("response", &s.response_us),
                ("service", &s.service_us),
                ("send lag", &s.lag_us),
            ] {
                let cells: String = PERCENTILES
                    .iter()
                    .map(|(_, pick)| {
                        format!("{:>9}", pick(h).map_or("-".into(), |v| format!("{v:.3}")))
                    })
                    .collect();
                let _ = writeln!(out, "  {label:<11} {cells}");
            }
        }
        for (shard, line) in self.memory_lines() {
            let whose = shard.map(|s| format!("shard {s}: ")).unwrap_or_default();
            let _ = writeln!(out, "  memory      {whose}{line}");
        }
        if let Some(failures) = s.failures.as_ref().filter(|f| !f.kept.is_empty()) {
            let failed = s.count(TerminalState::Rejected) + s.count(TerminalState::Exhausted);
            let _ = writeln!(
                out,
                "  failed      {failed} deliveries rejected or exhausted; the first {} by planned send time{}:",
                failures.kept.len(),
                if self.shards.len() > 1 {
                    " (all shards)"
                } else {
                    ""
                }
            );
            for failed in failures.kept.iter().take(TEXT_FAILURES) {
                let _ = writeln!(out, "    {}", failed.brief());
            }
            if failures.kept.len() > TEXT_FAILURES {
                let _ = writeln!(
                    out,
                    "    ... {} more in the JSON and HTML reports, with every attempt",
                    failures.kept.len() - TEXT_FAILURES
                );
            }
        }
        for verdict in &self.verdicts {
            let _ = writeln!(
                out,
                "  {} {} ({})",
                if verdict.pass { "pass" } else { "FAIL" },
                verdict.threshold,
                verdict_figures(verdict)
            );
        }
        let _ = write!(
            out,
            "result: {}",
            if self.passed() { "PASS" } else { "FAIL" }
        );
        out
    }

    /// JUnit XML: one test case per step and per threshold.
    pub fn junit(&self) -> String {
        let cases: Vec<(String, bool, String)> = self
            .steps
            .iter()
            .map(|s| (s.step.clone(), s.pass, s.detail.clone()))
            .chain(self.verdicts.iter().map(|v| {
                (
                    format!("threshold {}", v.threshold),
                    v.pass,
                    v.reason
                        .clone()
                        .unwrap_or_else(|| format!("observed {:?}", v.observed)),
                )
            }))
            .collect();
        let failures = cases.iter().filter(|c| !c.1).count();
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n",
            escape(&self.scenario),
            cases.len(),
            self.stats.duration_s
        );
        for (name, pass, detail) in cases {
            let _ = write!(
                xml,
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(&self.scenario),
                escape(&name)
            );
            if pass {
                xml.push_str("/>\n");
            } else {
                let _ = write!(
                    xml,
                    ">\n      <failure message=\"{}\"/>\n    </testcase>\n",
                    escape(&detail)
                );
            }
        }
        xml.push_str("  </testsuite>\n</testsuites>\n");
        xml
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_escapes_and_counts_failures() {
        let mut report = Report {
            scenario: "a<b".into(),
            shards: vec!["1/1".into()],
            target: "t".into(),
            started_at: String::new(),
            thresholds: vec!["events > 0".into()],
            steps: vec![StepResult {
                step: "steps[0] \"x\"".into(),
                pass: false,
                detail: "&".into(),
            }],
            stats: Stats::default(),
            verdicts: vec![],
            memory: BTreeMap::new(),
        };
        report.evaluate();
        let xml = report.junit();
        assert!(xml.contains("name=\"a&lt;b\""));
        assert!(xml.contains("failures=\"2\""), "{xml}");
        assert!(xml.contains("steps[0] &quot;x&quot;"));
        assert!(!report.passed());
    }

    #[test]
    fn every_figure_has_its_unit_and_one_is_singular() {
        for (metric, value, shown) in [
            (Metric::LatencyP99, 252.5431, "252.543 ms"),
            (Metric::SuccessRate, 0.975, "0.9750"),
            (Metric::Throughput, 44.04, "44.0 events/s"),
            (Metric::Events, 600.0, "600 events"),
            (Metric::Exhausted, 1.0, "1 event"),
            (Metric::AttemptsMax, 4.0, "4 attempts"),
            (Metric::AttemptsMax, 1.0, "1 attempt"),
            (Metric::AttemptsMean, 1.0, "1.00 attempts"),
            (Metric::LateStarts, 0.0, "0 sends"),
            (Metric::RssGrowth, 0.052, "0.052 (+5.2 %)"),
        ] {
            assert_eq!(format_value(metric, value), shown, "{metric:?}");
        }
    }

    #[test]
    fn a_verdict_says_what_was_observed_and_what_was_needed_once() {
        let check = |threshold: &str, observed: Option<f64>| {
            verdict_figures(&threshold.parse::<Threshold>().unwrap().check(observed))
        };
        assert_eq!(
            check("latency_p99 < 150ms", Some(252.543)),
            "observed 252.543 ms, needs < 150 ms"
        );
        assert_eq!(
            check("success_rate >= 0.99", Some(0.975)),
            "observed 0.9750, needs >= 0.99"
        );
        assert_eq!(check("attempts_max <= 4", Some(4.0)), "observed 4 attempts");
        assert_eq!(
            check("attempts_max <= 4", None),
            "no samples for attempts_max"
        );
    }
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    fn shard(name: &str, rss_mib: Vec<f64>) -> Report {
        let mut stats = Stats::default();
        stats.rss_mib = rss_mib;
        Report {
            scenario: "soak".into(),
            shards: vec![name.into()],
            target: "t".into(),
            started_at: "2026-11-30T00:00:00.000Z".into(),
            thresholds: vec!["rss_growth < 0.5".into()],
            steps: vec![],
            stats,
            verdicts: vec![],
            memory: BTreeMap::new(),
        }
    }

    #[test]
    fn memory_stays_per_shard_and_rss_growth_judges_the_worst_in_any_order() {
        let flat = shard("1/2", vec![100.0, 100.0, 101.0]);
        let growing = shard("2/2", vec![100.0, 150.0, 200.0]);
        for order in [
            vec![flat.clone(), growing.clone()],
            vec![growing.clone(), flat.clone()],
        ] {
            let merged = Report::merge(order).unwrap();
            assert_eq!(merged.shards, ["1/2", "2/2"]);
            assert_eq!(merged.memory.len(), 2);
            assert_eq!(merged.worst_rss_growth(), Some(1.0));
            assert!(
                !merged.passed(),
                "the growing shard breaches rss_growth < 0.5"
            );
            let text = merged.text();
            assert!(
                text.contains("  memory      shard 1/2: RSS 100.0 MiB at start, 101.0 MiB at the end (+1.0 % since a tenth into the run)\n"),
                "{text}"
            );
            assert!(
                text.contains(
                    "shard 2/2: RSS 100.0 MiB at start, 200.0 MiB at the end (+100.0 % since"
                ),
                "{text}"
            );
        }
    }
}
