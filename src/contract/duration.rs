//! Human durations (`10s`, `5m`, `1h 30m`) with a range the rest of the mock can compute with.
//!
//! Every duration a user gives (clock advances, deadlines, retry delays, lifecycle waits, load
//! phases) goes through [`parse`], so no later arithmetic on instants can overflow: the longest
//! accepted duration, added to the latest instant the clock reaches, still fits a `DateTime`.

use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// The longest duration the mock accepts anywhere: 100 years of 365.25 days.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 31_557_600);

/// The text of [`MAX_DURATION`] in errors.
pub const MAX_DURATION_TEXT: &str = "100 years";

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a human duration.
    #[error("`{text}` is not a duration (e.g. 10s, 5m, 1h 30m): {reason}")]
    Syntax {
        /// The text given.
        text: String,
        /// What humantime found wrong.
        reason: String,
    },
    /// Longer than [`MAX_DURATION`].
    #[error("`{text}` is longer than the longest duration the mock accepts ({MAX_DURATION_TEXT})")]
    TooLong {
        /// The text given.
        text: String,
    },
}

/// Parses a human duration no longer than [`MAX_DURATION`].
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let duration = humantime::parse_duration(text.trim()).map_err(|e| DurationError::Syntax {
        text: text.to_owned(),
        reason: e.to_string(),
    })?;
    if duration <= MAX_DURATION {
        Ok(duration)
    } else {
        Err(DurationError::TooLong {
            text: text.to_owned(),
        })
    }
}

/// The latest instant the mock represents: timestamps keep four-digit years.
pub fn latest_instant() -> DateTime<Utc> {
    // Built once: every reading of the clock saturates at it.
    static LATEST: LazyLock<DateTime<Utc>> = LazyLock::new(|| {
        DateTime::parse_from_rfc3339("9999-12-31T23:59:59.999Z")
            .expect("a valid RFC 3339 instant")
            .to_utc()
    });
    *LATEST
}

/// `at + by`, or [`latest_instant`] when that would be later (or overflow).
pub fn saturating_add(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(by)
        .ok()
        .and_then(|delta| at.checked_add_signed(delta))
        .map_or_else(latest_instant, |sum| sum.min(latest_instant()))
}

/// `at + by` when it is no later than [`latest_instant`].
pub fn checked_add(at: DateTime<Utc>, by: Duration) -> Option<DateTime<Utc>> {
    TimeDelta::from_std(by)
        .ok()
        .and_then(|delta| at.checked_add_signed(delta))
        .filter(|sum| *sum <= latest_instant())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_human_durations_up_to_a_century() {
        assert_eq!(parse("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse(" 1h 30m "), Ok(Duration::from_secs(5400)));
        // humantime's year is 365.25 days, so 100y is exactly the limit.
        assert_eq!(parse("100y"), Ok(MAX_DURATION));
    }

    #[test]
    fn refuses_what_arithmetic_could_not_hold() {
        for text in ["300000y", "500000000y", "101y"] {
            let error = parse(text).unwrap_err();
            assert!(
                error.to_string().contains("longest duration") && error.to_string().contains(text),
                "{error}"
            );
        }
        assert!(matches!(parse("soon"), Err(DurationError::Syntax { .. })));
    }

    #[test]
    fn instants_saturate_at_the_last_representable_one() {
        let last = latest_instant();
        assert_eq!(saturating_add(last, Duration::from_secs(1)), last);
        assert_eq!(saturating_add(last, Duration::MAX), last);
        assert_eq!(checked_add(last, Duration::from_millis(1)), None);
        let early = DateTime::from_timestamp(0, 0).unwrap();
        assert_eq!(
            saturating_add(early, Duration::from_secs(60)),
            DateTime::from_timestamp(60, 0).unwrap()
        );
    }
}
