//! The retry policy as a pure value: an attempt's outcome in, the next step out.
//!
//! Documented: 2xx done; 4xx no retry; 5xx and timeout retried 3 times (4 attempts at most).
//! Chosen (configurable): connection failures retried like 5xx; 3xx and other codes not retried;
//! delays 10 s, 30 s, 60 s with optional jitter. Time and randomness come in as arguments.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::outcome::{AttemptOutcome, TerminalState};
use crate::contract::duration::{self, DurationError};

/// Default delays before retries 1, 2 and 3 (not documented; integrators saw "within minutes").
pub const DEFAULT_RETRY_DELAYS: [Duration; 3] = [
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(60),
];

/// What happens after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try again after this (simulated) delay.
    RetryAfter(Duration),
    /// Stop here.
    Finish(TerminalState),
}

/// When and whether a failed attempt is retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Delay before each retry; the number of retries is its length (documented: 3).
    #[serde(with = "delay_list")]
    pub delays: Vec<Duration>,
    /// Jitter as a fraction of each delay: 0.2 spreads a 10 s delay over 8-12 s.
    #[serde(default)]
    pub jitter: f64,
    /// Retry connection failures (refused, reset, DNS, garbage answers) like 5xx.
    #[serde(default = "yes")]
    pub retry_connection_errors: bool,
    /// Retry 3xx answers (default: no, and redirects are never followed).
    #[serde(default)]
    pub retry_redirects: bool,
}

fn yes() -> bool {
    true
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            delays: DEFAULT_RETRY_DELAYS.to_vec(),
            jitter: 0.0,
            retry_connection_errors: true,
            retry_redirects: false,
        }
    }
}

impl RetryPolicy {
    /// A policy with the given retry delays and default rules.
    pub fn with_delays(delays: Vec<Duration>) -> Self {
        RetryPolicy {
            delays,
            ..RetryPolicy::default()
        }
    }

    /// The most attempts one delivery gets (documented: 4).
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).unwrap_or(u32::MAX - 1) + 1
    }

    /// Whether an attempt with this outcome may be followed by another.
    pub fn is_retryable(&self, outcome: AttemptOutcome) -> bool {
        match outcome {
            AttemptOutcome::Delivered
            | AttemptOutcome::Http4xx
            | AttemptOutcome::UnexpectedStatus => false,
            AttemptOutcome::RedirectNotFollowed => self.retry_redirects,
            AttemptOutcome::Http5xx | AttemptOutcome::Timeout | AttemptOutcome::Interrupted => true,
            AttemptOutcome::ConnectError
            | AttemptOutcome::DnsError
            | AttemptOutcome::TlsError
            | AttemptOutcome::ConnectionClosed
            | AttemptOutcome::InvalidResponse
            | AttemptOutcome::RequestError => self.retry_connection_errors,
        }
    }

    /// The step after attempt number `attempt` (1-based) ended with `outcome`.
    ///
    /// `jitter_sample` is a uniform draw from `[0, 1)`; 0.5 means "no jitter".
    pub fn decide(&self, attempt: u32, outcome: AttemptOutcome, jitter_sample: f64) -> Decision {
        if outcome == AttemptOutcome::Delivered {
            return Decision::Finish(TerminalState::Delivered);
        }
        if !self.is_retryable(outcome) {
            return Decision::Finish(TerminalState::Rejected);
        }
        match self.delays.get(attempt.saturating_sub(1) as usize) {
            Some(delay) if attempt >= 1 => {
                Decision::RetryAfter(self.jittered(*delay, jitter_sample))
            }
            _ => Decision::Finish(TerminalState::Exhausted),
        }
    }

    fn jittered(&self, delay: Duration, sample: f64) -> Duration {
        let spread = self.jitter.clamp(0.0, 1.0) * (2.0 * sample.clamp(0.0, 1.0) - 1.0);
        delay.mul_f64(1.0 + spread)
    }
}

/// Parses `10s,30s,60s` (human durations, comma-separated; empty means no retries).
pub fn parse_delays(text: &str) -> Result<Vec<Duration>, DurationError> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(duration::parse)
        .collect()
}

mod delay_list {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(delays: &[Duration], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            delays
                .iter()
                .map(|d| humantime::format_duration(*d).to_string()),
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|text| crate::contract::duration::parse(text).map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn outcome() -> impl Strategy<Value = AttemptOutcome> {
        proptest::sample::select(AttemptOutcome::ALL.to_vec())
    }

    /// Runs the policy over a script of answers; returns attempts made and the terminal state.
    fn simulate(
        policy: &RetryPolicy,
        answers: &[AttemptOutcome],
    ) -> (usize, Option<TerminalState>, Vec<Duration>) {
        let mut waited = Vec::new();
        for (index, answer) in answers.iter().enumerate() {
            match policy.decide(index as u32 + 1, *answer, 0.5) {
                Decision::Finish(state) => return (index + 1, Some(state), waited),
                Decision::RetryAfter(delay) => waited.push(delay),
            }
        }
        (answers.len(), None, waited)
    }

    #[test]
    fn documented_cases() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.max_attempts(), 4);
        let always_500 = [AttemptOutcome::Http5xx; 10];
        assert_eq!(
            simulate(&policy, &always_500),
            (
                4,
                Some(TerminalState::Exhausted),
                DEFAULT_RETRY_DELAYS.to_vec()
            )
        );
        assert_eq!(
            simulate(&policy, &[AttemptOutcome::Http4xx]).1,
            Some(TerminalState::Rejected)
        );
        let (attempts, state, _) = simulate(
            &policy,
            &[AttemptOutcome::Http5xx, AttemptOutcome::Delivered],
        );
        assert_eq!((attempts, state), (2, Some(TerminalState::Delivered)));
        let (attempts, state, _) = simulate(&policy, &[AttemptOutcome::Timeout; 4]);
        assert_eq!((attempts, state), (4, Some(TerminalState::Exhausted)));
        assert_eq!(
            policy.decide(1, AttemptOutcome::RedirectNotFollowed, 0.5),
            Decision::Finish(TerminalState::Rejected)
        );
    }

    #[test]
    fn connection_errors_follow_their_switch() {
        let mut policy = RetryPolicy::default();
        assert!(matches!(
            policy.decide(1, AttemptOutcome::ConnectError, 0.5),
            Decision::RetryAfter(_)
        ));
        policy.retry_connection_errors = false;
        assert_eq!(
            policy.decide(1, AttemptOutcome::ConnectError, 0.5),
            Decision::Finish(TerminalState::Rejected)
        );
    }

    #[test]
    fn delays_parse_from_human_lists() {
        assert_eq!(
            parse_delays("10s, 30s,1m").unwrap(),
            DEFAULT_RETRY_DELAYS.to_vec()
        );
        assert!(parse_delays("10s,soon").is_err());
        assert_eq!(parse_delays("").unwrap(), Vec::<Duration>::new());
    }

    proptest! {
        #[test]
        fn at_most_max_attempts_none_after_2xx_or_4xx(
            answers in proptest::collection::vec(outcome(), 1..12),
            retries in 0usize..6,
        ) {
            let policy = RetryPolicy::with_delays(vec![Duration::from_secs(1); retries]);
            let (attempts, state, _) = simulate(&policy, &answers);
            prop_assert!(attempts <= policy.max_attempts() as usize);
            let last = answers[attempts - 1];
            // Nothing follows a 2xx or a 4xx.
            for earlier in &answers[..attempts - 1] {
                prop_assert!(!matches!(earlier, AttemptOutcome::Delivered | AttemptOutcome::Http4xx));
            }
            // The terminal state follows from the last answer.
            match state {
                Some(TerminalState::Delivered) => prop_assert_eq!(last, AttemptOutcome::Delivered),
                Some(TerminalState::Rejected) => prop_assert!(!policy.is_retryable(last) && last != AttemptOutcome::Delivered),
                Some(TerminalState::Exhausted) => {
                    prop_assert!(policy.is_retryable(last));
                    prop_assert_eq!(attempts, policy.max_attempts() as usize);
                }
                None => prop_assert!(answers.len() < policy.max_attempts() as usize && policy.is_retryable(last)),
            }
        }

        #[test]
        fn jitter_stays_within_its_band(sample in 0.0f64..1.0, jitter in 0.0f64..1.0, attempt in 1u32..4) {
            let policy = RetryPolicy { jitter, ..RetryPolicy::default() };
            let base = DEFAULT_RETRY_DELAYS[attempt as usize - 1].as_secs_f64();
            if let Decision::RetryAfter(delay) = policy.decide(attempt, AttemptOutcome::Http5xx, sample) {
                let secs = delay.as_secs_f64();
                prop_assert!(secs >= base * (1.0 - jitter) - 1e-9 && secs <= base * (1.0 + jitter) + 1e-9);
            } else {
                prop_assert!(false, "a 5xx before the last attempt is retried");
            }
        }
    }
}
