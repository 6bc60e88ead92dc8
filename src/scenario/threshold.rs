//! Thresholds: `metric op value`, e.g. `success_rate >= 0.999` or `latency_p99 < 200ms`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How an observed value is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    /// `<`
    #[serde(rename = "<")]
    Less,
    /// `<=`
    #[serde(rename = "<=")]
    LessOrEqual,
    /// `>`
    #[serde(rename = ">")]
    Greater,
    /// `>=`
    #[serde(rename = ">=")]
    GreaterOrEqual,
    /// `==`
    #[serde(rename = "==")]
    Equal,
}

impl Comparison {
    fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Comparison::Less => observed < limit,
            Comparison::LessOrEqual => observed <= limit,
            Comparison::Greater => observed > limit,
            Comparison::GreaterOrEqual => observed >= limit,
            Comparison::Equal => (observed - limit).abs() < f64::EPSILON,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Equal => "==",
        }
    }
}

macro_rules! metrics {
    ($( $variant:ident => $name:literal, $kind:ident, $doc:literal; )+) => {
        /// A metric a threshold can name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Metric {
            $( #[doc = $doc] #[serde(rename = $name)] $variant, )+
        }

        impl Metric {
            /// Every metric, for error messages and docs.
            pub const ALL: &'static [Metric] = &[ $( Metric::$variant ),+ ];

            /// The name used in scenario files.
            pub fn name(self) -> &'static str {
                match self { $( Metric::$variant => $name, )+ }
            }

            /// Whether values are durations (milliseconds when observed).
            pub fn is_duration(self) -> bool {
                match self { $( Metric::$variant => stringify!($kind) == "duration", )+ }
            }

            fn parse(name: &str) -> Option<Metric> {
                match name { $( $name => Some(Metric::$variant), )+ _ => None }
            }
        }
    };
}

metrics! {
    SuccessRate => "success_rate", number, "Delivered events / events (deliberately mis-signed ones excluded).";
    Events => "events", number, "Events sent.";
    Delivered => "delivered", number, "Events delivered.";
    Rejected => "rejected", number, "Events rejected (no-retry answer).";
    Exhausted => "exhausted", number, "Events whose retries ran out.";
    Attempts => "attempts", number, "Attempts made.";
    AttemptsMax => "attempts_max", number, "Most attempts of one event.";
    AttemptsMean => "attempts_mean", number, "Mean attempts per event.";
    Throughput => "throughput", number, "Delivered events per second.";
    LateStarts => "late_starts", number, "Sends that had to wait for a free in-flight slot.";
    LatencyMin => "latency_min", duration, "Response time (from the planned send) minimum.";
    LatencyMean => "latency_mean", duration, "Response time mean.";
    LatencyP50 => "latency_p50", duration, "Response time median.";
    LatencyP90 => "latency_p90", duration, "Response time 90th percentile.";
    LatencyP95 => "latency_p95", duration, "Response time 95th percentile.";
    LatencyP99 => "latency_p99", duration, "Response time 99th percentile.";
    LatencyP999 => "latency_p999", duration, "Response time 99.9th percentile.";
    LatencyMax => "latency_max", duration, "Response time maximum.";
    ServiceP50 => "service_p50", duration, "Attempt latency median.";
    ServiceP99 => "service_p99", duration, "Attempt latency 99th percentile.";
    ServiceMax => "service_max", duration, "Attempt latency maximum.";
    LagP99 => "lag_p99", duration, "Planned-to-actual send lag, 99th percentile.";
    LagMax => "lag_max", duration, "Planned-to-actual send lag, maximum.";
    RssGrowth => "rss_growth", number, "Resident memory at the end against a tenth into the run, as a fraction.";
}

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// The metric.
    pub metric: Metric,
    /// The comparison.
    pub comparison: Comparison,
    /// The limit (milliseconds for duration metrics).
    pub limit: f64,
    /// The text as written.
    pub text: String,
}

/// Why a threshold does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// Not `metric op value`.
    #[error("`{0}` is not `metric op value`, e.g. `latency_p99 < 200ms`")]
    Shape(String),
    /// The metric is not known.
    #[error("unknown metric `{0}`; known: {known}", known = Metric::ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join(", "))]
    UnknownMetric(String),
    /// The value does not fit the metric.
    #[error("`{value}` is not a {kind} for {metric}")]
    Value {
        /// The metric.
        metric: &'static str,
        /// What it needs.
        kind: &'static str,
        /// What was given.
        value: String,
    },
}

impl std::str::FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [name, op, value] = parts[..] else {
            return Err(ThresholdError::Shape(text.to_owned()));
        };
        let metric =
            Metric::parse(name).ok_or_else(|| ThresholdError::UnknownMetric(name.to_owned()))?;
        let comparison = match op {
            "<" => Comparison::Less,
            "<=" => Comparison::LessOrEqual,
            ">" => Comparison::Greater,
            ">=" => Comparison::GreaterOrEqual,
            "==" => Comparison::Equal,
            _ => return Err(ThresholdError::Shape(text.to_owned())),
        };
        let limit = if metric.is_duration() {
            humantime::parse_duration(value)
                .map(|d: Duration| d.as_secs_f64() * 1e3)
                .map_err(|_| ThresholdError::Value {
                    metric: metric.name(),
                    kind: "duration like 200ms",
                    value: value.to_owned(),
                })?
        } else {
            value.parse::<f64>().map_err(|_| ThresholdError::Value {
                metric: metric.name(),
                kind: "number",
                value: value.to_owned(),
            })?
        };
        Ok(Threshold {
            metric,
            comparison,
            limit,
            text: text.to_owned(),
        })
    }
}

/// A threshold checked against a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The threshold as written.
    pub threshold: String,
    /// The observed value (milliseconds for durations), if there were samples.
    pub observed: Option<f64>,
    /// Whether it held.
    pub pass: bool,
    /// Why it failed, when it did.
    pub reason: Option<String>,
}

impl Threshold {
    /// Checks the threshold; a metric with no samples fails and says so.
    pub fn check(&self, observed: Option<f64>) -> Verdict {
        match observed {
            None => Verdict {
                threshold: self.text.clone(),
                observed: None,
                pass: false,
                reason: Some(format!("no samples for {}", self.metric.name())),
            },
            Some(value) => {
                let pass = self.comparison.holds(value, self.limit);
                Verdict {
                    threshold: self.text.clone(),
                    observed: Some(value),
                    pass,
                    reason: (!pass).then(|| {
                        let unit = if self.metric.is_duration() { " ms" } else { "" };
                        format!(
                            "observed {value:.3}{unit}, needs {} {}{unit}",
                            self.comparison.as_str(),
                            self.limit
                        )
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_numbers_and_durations() {
        let t: Threshold = "latency_p99 < 200ms".parse().unwrap();
        assert_eq!(
            (t.metric, t.comparison, t.limit),
            (Metric::LatencyP99, Comparison::Less, 200.0)
        );
        let t: Threshold = "success_rate >= 0.999".parse().unwrap();
        assert!(t.check(Some(1.0)).pass);
        assert!(!t.check(Some(0.99)).pass);
    }

    #[test]
    fn no_samples_fail_with_a_reason() {
        let t: Threshold = "attempts_max <= 4".parse().unwrap();
        let verdict = t.check(None);
        assert!(!verdict.pass);
        assert_eq!(
            verdict.reason.as_deref(),
            Some("no samples for attempts_max")
        );
    }

    #[test]
    fn bad_thresholds_say_why() {
        assert!(matches!(
            "happiness > 3".parse::<Threshold>(),
            Err(ThresholdError::UnknownMetric(_))
        ));
        assert!(matches!(
            "latency_p99 < fast".parse::<Threshold>(),
            Err(ThresholdError::Value { .. })
        ));
        assert!(matches!(
            "latency_p99 200ms".parse::<Threshold>(),
            Err(ThresholdError::Shape(_))
        ));
    }
}
