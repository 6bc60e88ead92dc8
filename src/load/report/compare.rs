//! Run-to-run comparison: every metric of a baseline and a current report side by side, the
//! change, and a verdict against regression limits (`latency_p99=10%,throughput=5%`).

use std::fmt::Write;

use super::{Report, format_value};
use crate::scenario::threshold::Metric;

/// Which way a metric gets better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Lower is better (times, failures, memory growth).
    Lower,
    /// Higher is better (success rate, throughput).
    Higher,
    /// Neither: the figure counts the load asked for (events, attempts, delivered).
    Neither,
}

/// The direction of `metric` (chosen: times, failures and retries up are worse; success rate and
/// throughput down are worse; counts that follow the offered load have no direction).
pub fn better(metric: Metric) -> Better {
    match metric {
        Metric::SuccessRate | Metric::Throughput => Better::Higher,
        Metric::Events | Metric::Delivered | Metric::Attempts => Better::Neither,
        _ => Better::Lower,
    }
}

/// Why a `--max-regression` list does not parse; each names the entry at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Not `metric=percent`.
    #[error("--max-regression: `{0}` is not `metric=percent`, e.g. `latency_p99=10%`")]
    Shape(String),
    /// The metric is not known.
    #[error("--max-regression: unknown metric `{0}`; known: {known}", known = Metric::ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join(", "))]
    UnknownMetric(String),
    /// The metric has no worse direction.
    #[error(
        "--max-regression: `{0}` counts the load asked for and has no worse direction; limit a rate or a time instead"
    )]
    NoDirection(String),
    /// The limit is not a non-negative percentage.
    #[error("--max-regression: `{value}` for {metric} is not a percentage like 10%")]
    Value {
        /// The metric.
        metric: String,
        /// What was given.
        value: String,
    },
}

/// How much worse each metric may get, as a fraction (0.1 = 10 %).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits(pub Vec<(Metric, f64)>);

impl std::str::FromStr for Limits {
    type Err = LimitError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut limits = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((name, value)) = entry.split_once('=') else {
                return Err(LimitError::Shape(entry.to_owned()));
            };
            let (name, value) = (name.trim(), value.trim());
            let metric = Metric::ALL
                .iter()
                .copied()
                .find(|m| m.name() == name)
                .ok_or_else(|| LimitError::UnknownMetric(name.to_owned()))?;
            if better(metric) == Better::Neither {
                return Err(LimitError::NoDirection(name.to_owned()));
            }
            let percent = value
                .strip_suffix('%')
                .and_then(|p| p.trim().parse::<f64>().ok())
                .filter(|p| p.is_finite() && *p >= 0.0)
                .ok_or_else(|| LimitError::Value {
                    metric: name.to_owned(),
                    value: value.to_owned(),
                })?;
            limits.retain(|(m, _)| *m != metric);
            limits.push((metric, percent / 100.0));
        }
        if limits.is_empty() {
            return Err(LimitError::Shape(spec.to_owned()));
        }
        Ok(Limits(limits))
    }
}

impl Limits {
    /// The limit of `metric`, as a fraction.
    pub fn of(&self, metric: Metric) -> Option<f64> {
        self.0.iter().find(|(m, _)| *m == metric).map(|(_, l)| *l)
    }
}

/// One metric of both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The metric.
    pub metric: Metric,
    /// Its value in the baseline (ms for durations), if it had samples.
    pub baseline: Option<f64>,
    /// Its value in the current run.
    pub current: Option<f64>,
    /// How much worse the current run is, as a fraction of the baseline (negative: better;
    /// infinite when the baseline was 0); None without both values or without a direction.
    pub worse_by: Option<f64>,
    /// The allowed regression, as a fraction.
    pub limit: Option<f64>,
    /// Whether the regression passes the limit (or a limited metric lost its samples).
    pub regressed: bool,
}

impl Row {
    /// The change from baseline to current as a signed fraction of the baseline.
    pub fn change(&self) -> Option<f64> {
        let (b, c) = (self.baseline?, self.current?);
        Some(relative(b, c))
    }

    /// `better`, `worse`, `same` (under 0.05 % either way, what the table shows as 0.0 %) or
    /// `-` (no direction or no values).
    pub fn direction(&self) -> &'static str {
        match self.worse_by {
            Some(w) if w >= 0.0005 => "worse",
            Some(w) if w <= -0.0005 => "better",
            Some(_) => "same",
            None => "-",
        }
    }
}

fn relative(baseline: f64, current: f64) -> f64 {
    let delta = current - baseline;
    if delta == 0.0 {
        0.0
    } else if baseline == 0.0 {
        f64::INFINITY.copysign(delta)
    } else {
        delta / baseline.abs()
    }
}

/// A baseline and a current report compared metric by metric.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Every metric, in the order of [`Metric::ALL`].
    pub rows: Vec<Row>,
    /// Whether regression limits were given at all.
    pub limited: bool,
}

impl Comparison {
    /// Compares `current` against `baseline` under `limits`.
    pub fn new(baseline: &Report, current: &Report, limits: &Limits) -> Comparison {
        let rows = Metric::ALL
            .iter()
            .map(|&metric| {
                let (b, c) = (baseline.value(metric), current.value(metric));
                let change = b.zip(c).map(|(b, c)| relative(b, c));
                let worse_by = match better(metric) {
                    Better::Lower => change,
                    Better::Higher => change.map(|c| -c),
                    Better::Neither => None,
                };
                let limit = limits.of(metric);
                let regressed = match (limit, worse_by) {
                    (Some(limit), Some(worse)) => worse > limit + 1e-12,
                    // A limited metric that had samples and has none now fails closed.
                    (Some(_), None) => b.is_some() && c.is_none(),
                    (None, _) => false,
                };
                Row {
                    metric,
                    baseline: b,
                    current: c,
                    worse_by,
                    limit,
                    regressed,
                }
            })
            .collect();
        Comparison {
            rows,
            limited: !limits.0.is_empty(),
        }
    }

    /// Whether any metric regressed past its limit.
    pub fn regressed(&self) -> bool {
        self.rows.iter().any(|r| r.regressed)
    }

    /// The one-line verdict a reader sees first.
    pub fn verdict(&self) -> String {
        let regressions: Vec<String> = self
            .rows
            .iter()
            .filter(|r| r.regressed)
            .map(|r| {
                format!(
                    "{} worse by {} (limit {})",
                    r.metric.name(),
                    r.worse_by.map_or("all its samples".into(), percent),
                    r.limit.map_or("-".into(), percent)
                )
            })
            .collect();
        if !regressions.is_empty() {
            format!("REGRESSION: {}", regressions.join("; "))
        } else if self.limited {
            "no regression past the limits".into()
        } else {
            "no limits given (--max-regression): compared only".into()
        }
    }

    /// The comparison as an aligned text table, ending with the verdict.
    pub fn text(&self, baseline: &Report, current: &Report) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "baseline {} (shards {}, started {}) against current {} (shards {}, started {})",
            baseline.scenario,
            baseline.shards.join(", "),
            baseline.started_at,
            current.scenario,
            current.shards.join(", "),
            current.started_at
        );
        let _ = writeln!(
            out,
            "  {:<14} {:>18} {:>18} {:>10} {:>9} {:>7}  verdict",
            "metric", "baseline", "current", "change", "direction", "limit"
        );
        for row in &self.rows {
            let value = |v: Option<f64>| v.map_or("-".into(), |v| format_value(row.metric, v));
            let verdict = match (row.limit, row.regressed) {
                (_, true) => "REGRESSED",
                (Some(_), false) => "ok",
                (None, _) => "-",
            };
            let _ = writeln!(
                out,
                "  {:<14} {:>18} {:>18} {:>10} {:>9} {:>7}  {verdict}",
                row.metric.name(),
                value(row.baseline),
                value(row.current),
                row.change().map_or("-".into(), signed_percent),
                row.direction(),
                row.limit.map_or("-".into(), percent),
            );
        }
        let _ = write!(out, "comparison: {}", self.verdict());
        out
    }
}

/// A fraction as a percentage, e.g. `12.5 %`.
pub fn percent(fraction: f64) -> String {
    if fraction.is_infinite() {
        "∞ %".into()
    } else {
        format!("{:.1} %", fraction * 100.0)
    }
}

/// A signed fraction as a percentage, e.g. `+12.5 %`.
pub fn signed_percent(fraction: f64) -> String {
    if fraction.is_infinite() {
        if fraction > 0.0 { "+∞ %" } else { "-∞ %" }.into()
    } else {
        format!("{:+.1} %", fraction * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Stats;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn run_with(latency_ms: u64, events: u64, seconds: f64) -> Report {
        let mut stats = Stats::default();
        for _ in 0..events {
            stats.response_us.record(Duration::from_millis(latency_ms));
        }
        stats.events = events;
        stats
            .terminal
            .insert(crate::delivery::TerminalState::Delivered, events);
        stats.duration_s = seconds;
        Report {
            scenario: "s".into(),
            shards: vec!["1/1".into()],
            target: "t".into(),
            started_at: String::new(),
            thresholds: vec![],
            steps: vec![],
            stats,
            verdicts: vec![],
            memory: BTreeMap::new(),
        }
    }

    #[test]
    fn limits_parse_and_name_the_bad_entry() {
        let limits: Limits = "latency_p99=10%, throughput=5%".parse().unwrap();
        assert_eq!(limits.of(Metric::LatencyP99), Some(0.1));
        assert_eq!(limits.of(Metric::Throughput), Some(0.05));
        for (spec, named) in [
            ("latency_p99", "latency_p99"),
            ("latncy_p99=10%", "latncy_p99"),
            ("latency_p99=ten%", "ten%"),
            ("latency_p99=10", "10"),
            ("latency_p99=-1%", "-1%"),
            ("events=10%", "events"),
            ("", "not `metric=percent`"),
        ] {
            let err = spec.parse::<Limits>().unwrap_err().to_string();
            assert!(err.contains(named), "{spec}: {err}");
        }
    }

    #[test]
    fn direction_decides_what_is_a_regression() {
        // Latency 10 -> 12 ms is 20 % worse; throughput 100 -> 90 events/s is 10 % worse.
        let baseline = run_with(10, 100, 1.0);
        let current = run_with(12, 90, 1.0);
        let limits: Limits = "latency_p99=25%,throughput=5%".parse().unwrap();
        let cmp = Comparison::new(&baseline, &current, &limits);
        let row = |m| cmp.rows.iter().find(|r| r.metric == m).unwrap().clone();
        let p99 = row(Metric::LatencyP99);
        assert!((p99.worse_by.unwrap() - 0.2).abs() < 0.01, "{p99:?}");
        assert!(!p99.regressed);
        let throughput = row(Metric::Throughput);
        assert!((throughput.worse_by.unwrap() - 0.1).abs() < 1e-9);
        assert!(throughput.regressed);
        assert!(row(Metric::Events).worse_by.is_none());
        assert!(cmp.regressed());
        assert!(
            cmp.verdict()
                .starts_with("REGRESSION: throughput worse by 10.0 % (limit 5.0 %)")
        );
        // The other way round both improved.
        let back = Comparison::new(&current, &baseline, &limits);
        assert!(!back.regressed(), "{}", back.text(&current, &baseline));
        assert_eq!(back.verdict(), "no regression past the limits");
    }
}
