//! [`DeliveryMatcher`]: which journal records an assertion or a wait is about.

use std::fmt;

use super::table::{attempt_code, state_name};
use crate::contract::EventType;
use crate::delivery::{DeliveryRecord, DeliveryState, TerminalState, Trigger};

/// Describes the deliveries an assertion expects; every condition left unset matches anything.
///
/// Built like a sentence: `DeliveryMatcher::event(EventType::DomainStatusChanged).status("active")`.
/// An [`EventType`] converts into a matcher on that event alone.
///
/// ```
/// use inboxkit_mock::testkit::{DeliveryMatcher, EventType, TerminalState};
///
/// let matcher = DeliveryMatcher::event(EventType::MailboxStatusChanged)
///     .status("active")
///     .state(TerminalState::Delivered)
///     .codes([500, 200]);
/// assert_eq!(
///     matcher.to_string(),
///     "event = mailbox.status_changed, status = active, state = delivered, codes = [500, 200]"
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryMatcher {
    event: Option<String>,
    uid: Option<String>,
    status: Option<String>,
    state: Option<DeliveryState>,
    attempts: Option<usize>,
    codes: Option<Vec<String>>,
}

impl DeliveryMatcher {
    /// Matches every delivery.
    pub fn any() -> Self {
        DeliveryMatcher::default()
    }

    /// Matches deliveries of `event` (the body's `event`).
    pub fn event(event: EventType) -> Self {
        DeliveryMatcher::any().and_event(event)
    }

    /// Also requires the event type `event`.
    pub fn and_event(mut self, event: EventType) -> Self {
        self.event = Some(event.to_string());
        self
    }

    /// Also requires the entity `uid` (`data.<entity>.uid`).
    pub fn uid(mut self, uid: impl Into<String>) -> Self {
        self.uid = Some(uid.into());
        self
    }

    /// Also requires the entity's new `status`, e.g. `"active"`.
    pub fn status(mut self, status: impl Into<String>) -> Self {
        self.status = Some(status.into());
        self
    }

    /// Also requires the delivery's state: a [`TerminalState`] or any [`DeliveryState`].
    pub fn state(mut self, state: impl Into<DeliveryState>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// Also requires exactly `count` scheduled attempts (the first one included).
    pub fn attempts(mut self, count: usize) -> Self {
        self.attempts = Some(count);
        self
    }

    /// Also requires the HTTP status of every scheduled attempt, in order, e.g. `[500, 200]`.
    pub fn codes(mut self, codes: impl IntoIterator<Item = u16>) -> Self {
        self.codes = Some(codes.into_iter().map(|c| c.to_string()).collect());
        self
    }

    /// Whether `record` meets every condition set.
    pub fn matches(&self, record: &DeliveryRecord) -> bool {
        let scheduled = || {
            record
                .attempts
                .iter()
                .filter(|a| a.trigger == Trigger::Scheduled)
        };
        self.event.as_ref().is_none_or(|e| *e == record.event)
            && self
                .uid
                .as_ref()
                .is_none_or(|u| record.entity_uid.as_ref() == Some(u))
            && self
                .status
                .as_ref()
                .is_none_or(|s| record.status.as_ref() == Some(s))
            && self.state.is_none_or(|s| s == record.state)
            && self.attempts.is_none_or(|n| n == scheduled().count())
            && self
                .codes
                .as_ref()
                .is_none_or(|codes| scheduled().map(attempt_code).eq(codes.iter().cloned()))
    }

    /// Whether the matcher asks for a state that is not terminal (a wait must not expect the
    /// delivery to finish first).
    pub(crate) fn wants_unfinished(&self) -> bool {
        self.state.is_some_and(|s| s.terminal().is_none())
    }
}

impl From<EventType> for DeliveryMatcher {
    fn from(event: EventType) -> Self {
        DeliveryMatcher::event(event)
    }
}

impl From<TerminalState> for DeliveryMatcher {
    fn from(state: TerminalState) -> Self {
        DeliveryMatcher::any().state(state)
    }
}

impl fmt::Display for DeliveryMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(event) = &self.event {
            parts.push(format!("event = {event}"));
        }
        if let Some(uid) = &self.uid {
            parts.push(format!("uid = {uid}"));
        }
        if let Some(status) = &self.status {
            parts.push(format!("status = {status}"));
        }
        if let Some(state) = self.state {
            parts.push(format!("state = {}", state_name(state)));
        }
        if let Some(attempts) = self.attempts {
            parts.push(format!("attempts = {attempts}"));
        }
        if let Some(codes) = &self.codes {
            parts.push(format!("codes = [{}]", codes.join(", ")));
        }
        if parts.is_empty() {
            f.write_str("any delivery")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::AttemptOutcome;
    use crate::delivery::fixtures::{attempt, delivered};

    fn record() -> DeliveryRecord {
        delivered(
            "mailbox.status_changed",
            "mailbox-abc",
            vec![
                attempt(None, AttemptOutcome::Timeout, Trigger::Scheduled),
                attempt(Some(200), AttemptOutcome::Delivered, Trigger::Scheduled),
                attempt(Some(200), AttemptOutcome::Delivered, Trigger::Manual),
            ],
        )
    }

    #[test]
    fn every_condition_set_must_hold_and_manual_attempts_do_not_count() {
        let record = record();
        let mailbox = DeliveryMatcher::event(EventType::MailboxStatusChanged);
        assert!(DeliveryMatcher::any().matches(&record));
        assert!(
            mailbox
                .clone()
                .uid("mailbox-abc")
                .status("active")
                .matches(&record)
        );
        assert!(mailbox.clone().attempts(2).matches(&record));
        assert!(!mailbox.clone().attempts(3).matches(&record));
        assert!(!mailbox.clone().codes([200]).matches(&record));
        assert!(
            !mailbox.clone().codes([504, 200]).matches(&record),
            "an attempt without an answer has no status code"
        );
        assert!(DeliveryMatcher::from(TerminalState::Delivered).matches(&record));
        assert!(!DeliveryMatcher::from(TerminalState::Exhausted).matches(&record));
        assert!(!DeliveryMatcher::from(EventType::DomainStatusChanged).matches(&record));
        assert!(!mailbox.uid("mailbox-other").matches(&record));
        assert_eq!(DeliveryMatcher::any().to_string(), "any delivery");
    }
}
