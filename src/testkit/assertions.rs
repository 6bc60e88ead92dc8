//! Assertions on the journal, failing with what was expected and a table of what was sent.

use super::matcher::DeliveryMatcher;
use super::mock::MockInboxKit;
use super::table::render;
use crate::contract::EventType;
use crate::delivery::{DeliveryRecord, TerminalState};

impl MockInboxKit {
    /// Every delivery still in the journal, oldest first.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.journal().all()
    }

    /// The deliveries `matcher` matches, oldest first.
    pub fn deliveries_matching(&self, matcher: impl Into<DeliveryMatcher>) -> Vec<DeliveryRecord> {
        let matcher = matcher.into();
        self.deliveries()
            .into_iter()
            .filter(|r| matcher.matches(r))
            .collect()
    }

    /// Asserts that at least one `event` was delivered (a 2xx answer) and returns the first.
    #[track_caller]
    pub fn assert_delivered(&self, event: EventType) -> DeliveryRecord {
        let matcher = DeliveryMatcher::event(event).state(TerminalState::Delivered);
        let all = self.deliveries();
        match all.iter().find(|r| matcher.matches(r)) {
            Some(record) => record.clone(),
            None => panic!("{}", failure("at least 1", &matcher, 0, &all)),
        }
    }

    /// Asserts that exactly one delivery matches and returns it.
    #[track_caller]
    pub fn assert_one(&self, matcher: impl Into<DeliveryMatcher>) -> DeliveryRecord {
        self.assert_count(matcher, 1).remove(0)
    }

    /// Asserts that exactly `count` deliveries match and returns them, oldest first.
    #[track_caller]
    pub fn assert_count(
        &self,
        matcher: impl Into<DeliveryMatcher>,
        count: usize,
    ) -> Vec<DeliveryRecord> {
        let matcher = matcher.into();
        let all = self.deliveries();
        let matching: Vec<DeliveryRecord> =
            all.iter().filter(|r| matcher.matches(r)).cloned().collect();
        if matching.len() != count {
            panic!(
                "{}",
                failure(&format!("exactly {count}"), &matcher, matching.len(), &all)
            );
        }
        matching
    }

    /// Asserts that no delivery matches.
    #[track_caller]
    pub fn assert_none(&self, matcher: impl Into<DeliveryMatcher>) {
        self.assert_count(matcher, 0);
    }
}

/// `expected exactly 1 delivery matching {..}, found 0 among 2:` and the table.
fn failure(
    expected: &str,
    matcher: &DeliveryMatcher,
    found: usize,
    all: &[DeliveryRecord],
) -> String {
    let noun = if expected.ends_with(" 1") {
        "delivery"
    } else {
        "deliveries"
    };
    format!(
        "expected {expected} {noun} matching {{{matcher}}}, found {found} among {}:\n{}",
        all.len(),
        render(all)
    )
}
