//! Run statistics: counters and HDR histograms, serializable and mergeable across shards.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::report::failures::{self, Failures};
use crate::delivery::{AttemptOutcome, DeliveryOutcome, DeliveryState, Journal, TerminalState};

/// Seconds of the timeline kept as histograms before they are summarized.
const OPEN_SECONDS: usize = 30;
/// Highest value histograms track: one hour in microseconds.
const MAX_MICROS: u64 = 3_600_000_000;

/// A histogram of microseconds, serialized as base64 HDR V2.
#[derive(Debug, Clone)]
pub struct Micros(pub Histogram<u64>);

impl Default for Micros {
    fn default() -> Self {
        Micros(Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid bounds"))
    }
}

impl Micros {
    /// Adds one sample.
    pub fn record(&mut self, value: Duration) {
        let micros = u64::try_from(value.as_micros())
            .unwrap_or(MAX_MICROS)
            .clamp(1, MAX_MICROS);
        self.0.record(micros).expect("clamped into range");
    }

    /// A percentile in milliseconds, or None without samples.
    pub fn percentile_ms(&self, quantile: f64) -> Option<f64> {
        (!self.0.is_empty()).then(|| self.0.value_at_quantile(quantile) as f64 / 1e3)
    }

    /// Mean in milliseconds.
    pub fn mean_ms(&self) -> Option<f64> {
        (!self.0.is_empty()).then(|| self.0.mean() / 1e3)
    }

    /// Minimum in milliseconds.
    pub fn min_ms(&self) -> Option<f64> {
        (!self.0.is_empty()).then(|| self.0.min() as f64 / 1e3)
    }

    /// Maximum in milliseconds.
    pub fn max_ms(&self) -> Option<f64> {
        (!self.0.is_empty()).then(|| self.0.max() as f64 / 1e3)
    }
}

impl Micros {
    /// The histogram as base64 HDR V2 (compact: runs of empty buckets take a few bytes).
    pub fn to_base64(&self) -> Result<String, String> {
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(&self.0, &mut bytes)
            .map_err(|e| e.to_string())?;
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// Reads what [`Micros::to_base64`] wrote.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| e.to_string())?;
        let histogram: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| e.to_string())?;
        Ok(Micros(histogram))
    }
}

impl Serialize for Micros {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64().map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for Micros {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Micros::from_base64(&text).map_err(serde::de::Error::custom)
    }
}

/// One second of the run, for the latency-over-time plot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Second {
    /// Events whose planned send fell in this second.
    pub events: u64,
    /// Response-time median, ms.
    pub p50_ms: f64,
    /// Response-time 90th percentile, ms (absent in reports of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90_ms: Option<f64>,
    /// Response-time 99th percentile, ms.
    pub p99_ms: f64,
    /// Response-time maximum, ms.
    pub max_ms: f64,
    /// The second's response times as base64 HDR V2, so that shards' seconds merge exactly
    /// (absent in reports of earlier versions: their seconds merge by the worse shard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<String>,
    /// Service time (each attempt's own latency) of the attempts of this second's events
    /// (absent in reports of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceSecond>,
    /// How this second's events ended (absent in reports of earlier versions).
    #[serde(default, skip_serializing_if = "Ended::is_empty")]
    pub ended: Ended,
}

/// The service time of one second's attempts: percentiles, ms, and the histogram they came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceSecond {
    /// Median, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
    /// The attempts' latencies as base64 HDR V2 (merged exactly across shards).
    pub histogram: String,
}

impl ServiceSecond {
    fn of(histogram: &Micros) -> Option<Self> {
        Some(ServiceSecond {
            p50_ms: histogram.percentile_ms(0.5)?,
            p90_ms: histogram.percentile_ms(0.9)?,
            p99_ms: histogram.percentile_ms(0.99)?,
            max_ms: histogram.max_ms()?,
            histogram: histogram.to_base64().ok()?,
        })
    }

    fn merge(mine: Option<&Self>, theirs: Option<&Self>) -> Option<Self> {
        match (mine, theirs) {
            (Some(a), Some(b)) => {
                let mut merged = Micros::from_base64(&a.histogram).ok()?;
                let theirs = Micros::from_base64(&b.histogram).ok()?;
                merged.0.add(&theirs.0).ok()?;
                ServiceSecond::of(&merged)
            }
            (one, other) => one.or(other).cloned(),
        }
    }
}

/// How events ended, by class: what the outcomes-over-time chart stacks. An event counts once,
/// by its terminal state and, when it failed, its last attempt's outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    /// Delivered (a 2xx, possibly after retries).
    #[serde(default)]
    pub delivered: u64,
    /// Failed on a 4xx answer.
    #[serde(default)]
    pub http_4xx: u64,
    /// Failed on a 5xx answer.
    #[serde(default)]
    pub http_5xx: u64,
    /// Failed on a timeout.
    #[serde(default)]
    pub timeout: u64,
    /// Failed below HTTP: refused, reset, DNS, TLS, or an answer that was not HTTP.
    #[serde(default)]
    pub connection: u64,
    /// Failed otherwise: a redirect, an unexpected status, an interrupted attempt.
    #[serde(default)]
    pub other: u64,
}

impl Ended {
    /// The classes in stacking order, with their names as the legend shows them.
    pub const CLASSES: [&'static str; 6] = [
        "delivered",
        "4xx",
        "5xx",
        "timeout",
        "connection error",
        "other failure",
    ];

    /// The counts in the order of [`Ended::CLASSES`].
    pub fn counts(&self) -> [u64; 6] {
        [
            self.delivered,
            self.http_4xx,
            self.http_5xx,
            self.timeout,
            self.connection,
            self.other,
        ]
    }

    /// Whether no event is counted.
    pub fn is_empty(&self) -> bool {
        self.counts().iter().all(|n| *n == 0)
    }

    /// Counts one event that ended in `state` after `last` (its last attempt's outcome).
    pub fn count(&mut self, state: DeliveryState, last: Option<AttemptOutcome>) {
        let slot = match (state, last) {
            (DeliveryState::Delivered, _) => &mut self.delivered,
            (_, Some(AttemptOutcome::Http4xx)) => &mut self.http_4xx,
            (_, Some(AttemptOutcome::Http5xx)) => &mut self.http_5xx,
            (_, Some(AttemptOutcome::Timeout)) => &mut self.timeout,
            (_, Some(outcome)) if outcome.is_transport_failure() => &mut self.connection,
            _ => &mut self.other,
        };
        *slot += 1;
    }

    fn add(&mut self, other: &Ended) {
        self.delivered += other.delivered;
        self.http_4xx += other.http_4xx;
        self.http_5xx += other.http_5xx;
        self.timeout += other.timeout;
        self.connection += other.connection;
        self.other += other.other;
    }
}

impl Second {
    /// Adds another shard's same second: counts add up; percentiles come from the merged
    /// histograms when both seconds carry one, else from the worse shard.
    fn merge(&mut self, other: &Second) {
        let merged = match (self.histogram.as_deref(), other.histogram.as_deref()) {
            (Some(mine), Some(theirs)) => Micros::from_base64(mine)
                .and_then(|mut mine| {
                    let theirs = Micros::from_base64(theirs)?;
                    mine.0.add(&theirs.0).map_err(|e| e.to_string())?;
                    Ok(mine)
                })
                .ok(),
            (None, Some(theirs)) if self.events == 0 => Micros::from_base64(theirs).ok(),
            (Some(mine), None) if other.events == 0 => Micros::from_base64(mine).ok(),
            _ => None,
        };
        self.events += other.events;
        self.ended.add(&other.ended);
        self.service = ServiceSecond::merge(self.service.as_ref(), other.service.as_ref());
        match merged {
            Some(histogram) => self.summarize(&histogram),
            None => {
                self.histogram = None;
                self.p50_ms = self.p50_ms.max(other.p50_ms);
                self.p90_ms = self.p90_ms.zip(other.p90_ms).map(|(a, b)| a.max(b));
                self.p99_ms = self.p99_ms.max(other.p99_ms);
                self.max_ms = self.max_ms.max(other.max_ms);
            }
        }
    }

    fn summarize(&mut self, histogram: &Micros) {
        self.p50_ms = histogram.percentile_ms(0.5).unwrap_or(0.0);
        self.p90_ms = Some(histogram.percentile_ms(0.9).unwrap_or(0.0));
        self.p99_ms = histogram.percentile_ms(0.99).unwrap_or(0.0);
        self.max_ms = histogram.max_ms().unwrap_or(0.0);
        self.histogram = histogram.to_base64().ok();
    }
}

/// Everything a run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Events planned and sent (duplicates sent on purpose not included).
    pub events: u64,
    /// Events signed with a wrong key on purpose.
    pub bad_signature_events: u64,
    /// Exact duplicates sent on purpose.
    pub duplicates_sent: u64,
    /// Events held back and sent after a later one.
    pub reordered: u64,
    /// Events sent with an hour-old timestamp.
    pub stale_timestamps: u64,
    /// Terminal states of the events.
    pub terminal: BTreeMap<TerminalState, u64>,
    /// Attempt outcomes.
    pub outcomes: BTreeMap<AttemptOutcome, u64>,
    /// Attempts of each event, by count (1..=4 under the documented policy).
    pub attempts_per_event: BTreeMap<u32, u64>,
    /// Sends that had to wait for a free in-flight slot (the phase's `max_in_flight`).
    pub late_starts: u64,
    /// Wall-clock length of the run until every event was terminal, seconds.
    pub duration_s: f64,
    /// Planned length of the load phases, seconds (the attempted rate's denominator).
    #[serde(default)]
    pub load_s: f64,
    /// Response time: planned send to the end of the first attempt.
    pub response_us: Micros,
    /// Service time: each attempt's own latency.
    pub service_us: Micros,
    /// Send lag: planned to actual send.
    pub lag_us: Micros,
    /// Response time per second of the run.
    pub timeline: Vec<Second>,
    /// Resident memory of this process, MiB, sampled every second (Linux; empty elsewhere).
    #[serde(default)]
    pub rss_mib: Vec<f64>,
    /// The first failed deliveries with their attempts (absent in reports of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<Failures>,
    /// Histograms of the seconds still open (late answers may still land in them).
    #[serde(skip)]
    open_seconds: BTreeMap<usize, OpenSecond>,
}

/// The histograms of a second still open: response times, and the attempts' service times.
#[derive(Debug, Clone)]
struct OpenSecond {
    response: Micros,
    service: Micros,
}

impl Default for OpenSecond {
    fn default() -> Self {
        let coarse = || Micros(Histogram::new_with_bounds(1, MAX_MICROS, 2).expect("valid bounds"));
        OpenSecond {
            response: coarse(),
            service: coarse(),
        }
    }
}

impl Stats {
    /// Records one finished event: `lag` from planned to actual send, `late` whether it waited
    /// for an in-flight slot, `response` from planned send to the end of its first attempt,
    /// `second` the second of the run it was planned in.
    pub fn record(
        &mut self,
        record: &DeliveryOutcome,
        lag: Duration,
        late: bool,
        response: Duration,
        second: usize,
    ) {
        self.events += 1;
        if let Some(state) = record.state.terminal() {
            *self.terminal.entry(state).or_default() += 1;
        }
        *self
            .attempts_per_event
            .entry(record.attempts.len() as u32)
            .or_default() += 1;
        let open = self.open_seconds.entry(second).or_default();
        for attempt in &record.attempts {
            *self.outcomes.entry(attempt.outcome).or_default() += 1;
            let latency = Duration::from_secs_f64(attempt.latency_ms.max(0.0) / 1e3);
            self.service_us.record(latency);
            open.service.record(latency);
        }
        open.response.record(response);
        self.lag_us.record(lag);
        self.late_starts += u64::from(late);
        self.response_us.record(response);
        if self.timeline.len() <= second {
            self.timeline.resize(second + 1, Second::default());
        }
        self.timeline[second]
            .ended
            .count(record.state, record.attempts.last().map(|a| a.outcome));
        // Seconds well in the past are summarized, so memory stays flat on long runs.
        while let Some(entry) = self.open_seconds.first_entry() {
            if *entry.key() + OPEN_SECONDS >= second {
                break;
            }
            let (done, open) = entry.remove_entry();
            self.close_second(done, &open);
        }
    }

    fn close_second(&mut self, second: usize, open: &OpenSecond) {
        if self.timeline.len() <= second {
            self.timeline.resize(second + 1, Second::default());
        }
        let slot = &mut self.timeline[second];
        // An answer later than OPEN_SECONDS adds to the count; the percentiles stay as closed.
        if slot.events == 0 {
            slot.summarize(&open.response);
            slot.service = ServiceSecond::of(&open.service);
        }
        slot.events += open.response.0.len();
    }

    /// Summarizes the seconds still open into the timeline (call once, at the end).
    pub fn finish(&mut self, duration: Duration) {
        self.duration_s = duration.as_secs_f64();
        for (second, open) in std::mem::take(&mut self.open_seconds) {
            self.close_second(second, &open);
        }
    }

    /// Adds another run's numbers (another shard of the same scenario).
    pub fn merge(&mut self, other: &Stats) {
        self.events += other.events;
        self.bad_signature_events += other.bad_signature_events;
        self.duplicates_sent += other.duplicates_sent;
        self.reordered += other.reordered;
        self.stale_timestamps += other.stale_timestamps;
        for (k, v) in &other.terminal {
            *self.terminal.entry(*k).or_default() += v;
        }
        for (k, v) in &other.outcomes {
            *self.outcomes.entry(*k).or_default() += v;
        }
        for (k, v) in &other.attempts_per_event {
            *self.attempts_per_event.entry(*k).or_default() += v;
        }
        self.late_starts += other.late_starts;
        self.duration_s = self.duration_s.max(other.duration_s);
        self.load_s = self.load_s.max(other.load_s);
        self.response_us
            .0
            .add(&other.response_us.0)
            .expect("same bounds");
        self.service_us
            .0
            .add(&other.service_us.0)
            .expect("same bounds");
        self.lag_us.0.add(&other.lag_us.0).expect("same bounds");
        // Shards run side by side: each second merges with the same second of the other.
        if self.timeline.len() < other.timeline.len() {
            self.timeline
                .resize(other.timeline.len(), Second::default());
        }
        for (mine, theirs) in self.timeline.iter_mut().zip(&other.timeline) {
            mine.merge(theirs);
        }
        self.failures = Failures::merge(self.failures.take(), other.failures.clone());
    }

    /// Memory growth over the run: the last RSS sample against the one a tenth into the run
    /// (minute 1 of a 10-minute soak), as a fraction (0.05 = 5 % more).
    pub fn rss_growth(&self) -> Option<f64> {
        rss_growth(&self.rss_mib)
    }

    /// Events that reached `state`.
    pub fn count(&self, state: TerminalState) -> u64 {
        self.terminal.get(&state).copied().unwrap_or(0)
    }

    /// All attempts made.
    pub fn attempts(&self) -> u64 {
        self.outcomes.values().sum()
    }
}

/// Growth of a series of memory samples: the last against the one a tenth in, as a fraction.
pub fn rss_growth(rss_mib: &[f64]) -> Option<f64> {
    let last = *rss_mib.last()?;
    let early = *rss_mib.get(rss_mib.len() / 10)?;
    (rss_mib.len() >= 2 && early > 0.0).then(|| last / early - 1.0)
}

/// Keeps the delivery that just ended as `outcome` among `stats`' failures when it failed and is
/// among the first N: a no-op for a delivered event. `body` is the event's body (to find it in the
/// journal), `planned` its planned send time.
pub fn capture_failure(
    journal: &Journal,
    stats: &Mutex<Stats>,
    body: &Bytes,
    planned: Instant,
    outcome: &DeliveryOutcome,
) {
    let Some(state) = outcome.state.terminal() else {
        return;
    };
    if state == TerminalState::Delivered {
        return;
    }
    let (planned_us, shard) = {
        let stats = stats.lock().unwrap_or_else(|p| p.into_inner());
        let Some(failures) = stats.failures.as_ref() else {
            return;
        };
        let Some(planned_us) = failures.wants(planned) else {
            return;
        };
        let shard = failures.shard();
        (planned_us, shard)
    };
    let failed = match failures::find(journal, body, outcome) {
        Some(record) => failures::from_record(&record, shard, planned_us, state),
        None => failures::from_outcome(body, outcome, shard, planned_us, state),
    };
    if let Some(failures) = stats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .failures
        .as_mut()
    {
        failures.keep(failed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One shard's second with `values` (ms) as response times.
    fn second_of(values: &[u64]) -> Stats {
        let mut stats = Stats::default();
        let outcome = DeliveryOutcome {
            state: crate::delivery::DeliveryState::Delivered,
            attempts: Vec::new(),
        };
        for ms in values {
            let d = Duration::from_millis(*ms);
            stats.record(&outcome, Duration::ZERO, false, d, 0);
        }
        stats.finish(Duration::from_secs(1));
        serde_json::from_str(&serde_json::to_string(&stats).unwrap()).unwrap()
    }

    #[test]
    fn per_second_percentiles_merge_from_histograms_in_any_order() {
        // Shard A: 99 answers of 1 ms; shard B: one of 1,000 ms. Together the median is 1 ms and
        // the p99 1 ms (99 of 100 samples), not the worse shard's 1,000 ms.
        let a = second_of(&[1; 99]);
        let b = second_of(&[1000]);
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        for merged in [&ab, &ba] {
            let second = &merged.timeline[0];
            assert_eq!(second.events, 100);
            assert!((0.99..1.02).contains(&second.p50_ms), "{second:?}");
            assert!((0.99..1.02).contains(&second.p99_ms), "{second:?}");
            assert!(second.p90_ms.is_some_and(|p90| (0.99..1.02).contains(&p90)));
            assert!((990.0..1010.0).contains(&second.max_ms), "{second:?}");
        }
        assert_eq!(ab.timeline[0].p99_ms, ba.timeline[0].p99_ms);
    }

    /// One event that ended in `state` after attempts with these outcomes and latencies (ms).
    fn event(state: DeliveryState, attempts: &[(AttemptOutcome, f64)]) -> DeliveryOutcome {
        DeliveryOutcome {
            state,
            attempts: attempts
                .iter()
                .map(|(outcome, latency_ms)| crate::delivery::AttemptSummary {
                    outcome: *outcome,
                    latency_ms: *latency_ms,
                })
                .collect(),
        }
    }

    #[test]
    fn each_second_counts_how_its_events_ended_and_merges_service_times() {
        let five = AttemptOutcome::Http5xx;
        let mut a = Stats::default();
        let ms = Duration::from_millis;
        a.record(
            &event(
                DeliveryState::Delivered,
                &[(five, 2.0), (AttemptOutcome::Delivered, 2.0)],
            ),
            Duration::ZERO,
            false,
            ms(2),
            0,
        );
        a.record(
            &event(DeliveryState::Exhausted, &[(five, 2.0); 4]),
            Duration::ZERO,
            false,
            ms(2),
            0,
        );
        a.record(
            &event(DeliveryState::Exhausted, &[(AttemptOutcome::Timeout, 2.0)]),
            Duration::ZERO,
            false,
            ms(2),
            1,
        );
        a.finish(Duration::from_secs(2));
        let mut b = Stats::default();
        b.record(
            &event(DeliveryState::Rejected, &[(AttemptOutcome::Http4xx, 100.0)]),
            Duration::ZERO,
            false,
            ms(100),
            0,
        );
        b.finish(Duration::from_secs(1));
        let b: Stats = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        assert_eq!(a.timeline[0].ended.counts(), [1, 0, 1, 0, 0, 0]);
        assert_eq!(a.timeline[1].ended.counts(), [0, 0, 0, 1, 0, 0]);
        // Per-second histograms keep two significant digits.
        let near = |v: f64, want: f64| (want * 0.98..want * 1.02).contains(&v);
        assert!(near(a.timeline[0].service.as_ref().unwrap().max_ms, 2.0));
        a.merge(&b);
        assert_eq!(a.timeline[0].ended.counts(), [1, 1, 1, 0, 0, 0]);
        let service = a.timeline[0].service.as_ref().unwrap();
        // Six attempts of 2 ms and one of 100 ms: the median stays 2 ms, the maximum is 100 ms.
        assert!(near(service.p50_ms, 2.0), "{service:?}");
        assert!(near(service.max_ms, 100.0), "{service:?}");
    }

    #[test]
    fn histograms_survive_json_and_merge() {
        let mut a = Stats::default();
        a.response_us.record(Duration::from_millis(5));
        let mut b = Stats::default();
        b.response_us.record(Duration::from_millis(50));
        let b: Stats = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        a.merge(&b);
        assert_eq!(a.response_us.0.len(), 2);
        let max = a.response_us.max_ms().unwrap();
        assert!((49.9..50.1).contains(&max), "{max}");
    }
}
