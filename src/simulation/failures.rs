//! How often lifecycles take their failure branches (and observed variants) instead of the
//! typical step.

use std::collections::HashMap;

use super::lifecycle::{DOMAIN, MAILBOX, REQUEST};

/// How likely each failure branch is taken instead of the typical step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailureRates {
    /// Probability of every failure branch without its own rate (0 = never fail).
    pub default: f64,
    /// Probability per failure code (e.g. `dkim_setup_failed`), overriding the default.
    pub by_code: HashMap<String, f64>,
}

impl FailureRates {
    /// The probability of the failure branch with `code`.
    pub fn rate(&self, code: &str) -> f64 {
        self.by_code
            .get(code)
            .copied()
            .unwrap_or(self.default)
            .clamp(0.0, 1.0)
    }

    /// The probability of the observed variant with `code`: only a per-code rate turns it on,
    /// never the default failure rate (a variant is not a failure).
    pub fn variant_rate(&self, code: &str) -> f64 {
        self.by_code
            .get(code)
            .copied()
            .unwrap_or(0.0)
            .clamp(0.0, 1.0)
    }

    /// Every failure and variant code the lifecycle tables know, for validating per-code rates.
    pub fn known_codes() -> Vec<&'static str> {
        let mut codes: Vec<&'static str> = DOMAIN
            .steps
            .iter()
            .filter_map(|s| s.failure.map(|f| f.code))
            .chain(
                MAILBOX
                    .steps
                    .iter()
                    .filter_map(|s| s.failure.map(|f| f.code)),
            )
            .chain(
                REQUEST
                    .steps
                    .iter()
                    .filter_map(|s| s.failure.map(|f| f.code)),
            )
            .collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    }
}
