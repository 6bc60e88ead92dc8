//! Entity lifecycles as data: one transition table per entity kind.
//!
//! Each row is an allowed transition with its default (simulated) duration, the reason and
//! changed fields it reports, and whether it is the typical path, a failure branch, or only
//! reachable by a user's action. The typical paths follow CONTRACT.md; durations are chosen.

use std::time::Duration;

use crate::contract::{DomainStatus, MailboxStatus, RequestStatus, TriggeredBy};

/// How a transition comes about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// Happens on its own after `after`, on the typical path.
    Typical,
    /// Happens on its own instead of the typical step, with a configured probability.
    Failure,
    /// Happens only when asked for (an API call or a forced transition).
    Action,
}

/// Failure details reported by a failure step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureSpec {
    /// Machine-readable code.
    pub code: &'static str,
    /// Whether the customer must act.
    pub action_required: bool,
    /// Whether the step can be retried.
    pub retry_available: bool,
}

/// One allowed transition.
#[derive(Debug, Clone, PartialEq)]
pub struct Step<S: 'static> {
    /// Status before.
    pub from: S,
    /// Status after.
    pub to: S,
    /// Typical, failure or action.
    pub kind: StepKind,
    /// Default simulated time spent in `from` before a typical or failure step fires.
    pub after: Duration,
    /// `change_details.reason`.
    pub reason: &'static str,
    /// `change_details.changed_fields`.
    pub changed_fields: &'static [&'static str],
    /// Failure details for failure steps.
    pub failure: Option<FailureSpec>,
}

impl<S> Step<S> {
    /// Who `change_details.triggered_by` names.
    pub fn triggered_by(&self) -> TriggeredBy {
        match self.kind {
            StepKind::Action => TriggeredBy::UserAction,
            StepKind::Typical | StepKind::Failure => TriggeredBy::System,
        }
    }
}

/// A transition table.
#[derive(Debug)]
pub struct Lifecycle<S: 'static> {
    /// Entity kind, for messages.
    pub entity: &'static str,
    /// Every allowed transition.
    pub steps: &'static [Step<S>],
}

impl<S: PartialEq + Clone> Lifecycle<S> {
    /// The transition from `from` to `to`, if allowed.
    pub fn step(&self, from: &S, to: &S) -> Option<&Step<S>> {
        self.steps.iter().find(|s| s.from == *from && s.to == *to)
    }

    /// Statuses reachable from `from` in one transition.
    pub fn allowed_from(&self, from: &S) -> Vec<S> {
        self.steps
            .iter()
            .filter(|s| s.from == *from)
            .map(|s| s.to.clone())
            .collect()
    }

    /// The typical next step from `from`, if the entity moves on by itself.
    pub fn typical_from(&self, from: &S) -> Option<&Step<S>> {
        self.steps
            .iter()
            .find(|s| s.from == *from && s.kind == StepKind::Typical)
    }

    /// Failure branches that may replace the typical step from `from`.
    pub fn failures_from(&self, from: &S) -> impl Iterator<Item = &Step<S>> {
        self.steps
            .iter()
            .filter(move |s| s.from == *from && s.kind == StepKind::Failure)
    }

    /// The typical steps from `start` until the entity rests.
    pub fn typical_path(&self, start: &S) -> Vec<&Step<S>> {
        let mut path = Vec::new();
        let mut current = start.clone();
        while let Some(step) = self.typical_from(&current) {
            if path.len() > self.steps.len() {
                break;
            }
            current = step.to.clone();
            path.push(step);
        }
        path
    }
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const STATUS: &[&str] = &["status"];
const STATUS_DNS: &[&str] = &["status", "dns_propagation_status"];

macro_rules! step {
    ($kind:ident, $from:expr => $to:expr, $after:expr, $reason:literal, $fields:expr) => {
        Step {
            from: $from,
            to: $to,
            kind: StepKind::$kind,
            after: $after,
            reason: $reason,
            changed_fields: $fields,
            failure: None,
        }
    };
    ($kind:ident, $from:expr => $to:expr, $after:expr, $reason:literal, $fields:expr, $code:literal, $action:literal, $retry:literal) => {
        Step {
            from: $from,
            to: $to,
            kind: StepKind::$kind,
            after: $after,
            reason: $reason,
            changed_fields: $fields,
            failure: Some(FailureSpec {
                code: $code,
                action_required: $action,
                retry_available: $retry,
            }),
        }
    };
}

use DomainStatus as D;
use MailboxStatus as M;
use RequestStatus as R;

/// Domains: purchase `registration_in_progress` (or connect `dns_setup_pending`) ->
/// `waiting_for_dns_propagation` -> `active`; removal -> `deleted`; failed payment.
pub static DOMAIN: Lifecycle<DomainStatus> = Lifecycle {
    entity: "domain",
    steps: &[
        step!(Action, D::Cart => D::RegistrationInProgress, secs(0), "Domain purchase started", STATUS),
        step!(Typical, D::RegistrationInProgress => D::WaitingForDnsPropagation, secs(120), "Domain registered; nameservers set", STATUS_DNS),
        step!(Failure, D::RegistrationInProgress => D::PaymentFailed, secs(60), "Payment for the domain failed", STATUS, "payment_declined", true, true),
        step!(Typical, D::DnsSetupPending => D::WaitingForDnsPropagation, secs(600), "Nameservers updated by the customer", STATUS_DNS),
        step!(Typical, D::Pending => D::Active, secs(600), "DNS propagation completed successfully", STATUS_DNS),
        step!(Typical, D::WaitingForDnsPropagation => D::Active, secs(900), "DNS propagation completed successfully", STATUS_DNS),
        step!(Failure, D::WaitingForDnsPropagation => D::Inactive, secs(3600), "DNS propagation failed", STATUS_DNS, "dns_propagation_failed", true, true),
        step!(Action, D::PaymentFailed => D::RegistrationInProgress, secs(0), "Payment retried", STATUS),
        step!(Action, D::Active => D::Inactive, secs(0), "Domain deactivated", STATUS),
        step!(Action, D::Inactive => D::Active, secs(0), "Domain reactivated", STATUS),
        step!(Action, D::Inactive => D::WaitingForDnsPropagation, secs(0), "DNS check restarted", STATUS_DNS),
        step!(Action, D::Active => D::PaymentFailed, secs(0), "Renewal payment failed", STATUS, "renewal_payment_declined", true, true),
        step!(Action, D::Active => D::Cancelled, secs(0), "Domain cancelled", STATUS),
        step!(Action, D::Active => D::Deleted, secs(0), "Domain removed", STATUS),
        step!(Action, D::Inactive => D::Deleted, secs(0), "Domain removed", STATUS),
        step!(Action, D::PaymentFailed => D::Deleted, secs(0), "Domain removed", STATUS),
        step!(Action, D::WaitingForDnsPropagation => D::Deleted, secs(0), "Domain removed", STATUS),
        step!(Action, D::DnsSetupPending => D::Deleted, secs(0), "Domain removed", STATUS),
        step!(Typical, D::Cancelled => D::Deleted, secs(86_400), "Cancelled domain removed", STATUS),
    ],
};

/// Mailboxes: buy -> `scheduled` -> `pending` -> `processing` -> `configuring_*` ->
/// `finalizing_setup` -> `active`; cancel -> `scheduled_for_cancellation` -> `cancelled`.
pub static MAILBOX: Lifecycle<MailboxStatus> = Lifecycle {
    entity: "mailbox",
    steps: &[
        step!(Typical, M::Scheduled => M::Pending, secs(30), "Mailbox queued for provisioning", STATUS),
        step!(Typical, M::Pending => M::Processing, secs(30), "Provisioning started", STATUS),
        step!(Typical, M::Processing => M::ConfiguringWorkspace, secs(60), "Creating the mailbox in the workspace", STATUS),
        step!(Failure, M::Processing => M::Failed, secs(60), "Provisioning failed", STATUS, "provisioning_failed", false, true),
        step!(Action, M::Processing => M::WaitingForDnsPropagation, secs(0), "Waiting for the domain's DNS", STATUS_DNS),
        step!(Action, M::WaitingForDnsPropagation => M::ConfiguringWorkspace, secs(0), "Domain DNS propagated", STATUS_DNS),
        step!(Action, M::ConfiguringWorkspace => M::WaitingForActivationEmail, secs(0), "Waiting for the provider's activation email", STATUS),
        step!(Action, M::WaitingForActivationEmail => M::ActivationEmailReceived, secs(0), "Activation email received", STATUS),
        step!(Action, M::ActivationEmailReceived => M::ConfiguringDns, secs(0), "Writing DNS records", STATUS),
        step!(Typical, M::ConfiguringWorkspace => M::ConfiguringDns, secs(60), "Writing DNS records", STATUS),
        step!(Typical, M::ConfiguringDns => M::ConfiguringDkim, secs(60), "Setting up DKIM", STATUS),
        step!(Typical, M::ConfiguringDkim => M::ConfiguringAuth, secs(60), "Setting up SPF and DMARC", STATUS),
        step!(Failure, M::ConfiguringDkim => M::Failed, secs(60), "DKIM setup failed", STATUS, "dkim_setup_failed", false, true),
        step!(Typical, M::ConfiguringAuth => M::FinalizingSetup, secs(60), "Finalizing setup", STATUS),
        step!(Typical, M::FinalizingSetup => M::Active, secs(60), "Mailbox is active", STATUS),
        step!(Failure, M::Active => M::Suspended, secs(86_400), "Mailbox suspended by the provider", STATUS, "provider_suspension", true, false),
        step!(Action, M::Failed => M::Processing, secs(0), "Provisioning retried", STATUS),
        step!(Action, M::Active => M::Inactive, secs(0), "Mailbox deactivated", STATUS),
        step!(Action, M::Inactive => M::Active, secs(0), "Mailbox reactivated", STATUS),
        step!(Action, M::Suspended => M::Active, secs(0), "Suspension lifted", STATUS),
        step!(Action, M::Active => M::RenewalFailed, secs(0), "Renewal payment failed", STATUS, "renewal_payment_declined", true, true),
        step!(Action, M::RenewalFailed => M::Active, secs(0), "Renewal paid", STATUS),
        step!(Action, M::Active => M::ScheduledForCancellation, secs(0), "Cancellation requested", STATUS),
        step!(Action, M::Inactive => M::ScheduledForCancellation, secs(0), "Cancellation requested", STATUS),
        step!(Action, M::Suspended => M::ScheduledForCancellation, secs(0), "Cancellation requested", STATUS),
        step!(Action, M::RenewalFailed => M::ScheduledForCancellation, secs(0), "Cancellation requested", STATUS),
        step!(Action, M::Failed => M::Cancelled, secs(0), "Failed mailbox cancelled", STATUS),
        step!(Action, M::Scheduled => M::Cancelled, secs(0), "Order cancelled", STATUS),
        step!(Typical, M::ScheduledForCancellation => M::Cancelled, secs(3600), "Mailbox cancelled", STATUS),
        step!(Typical, M::Cancelled => M::Archived, secs(86_400), "Mailbox archived", STATUS),
        step!(Action, M::Archived => M::Deleted, secs(0), "Mailbox deleted", STATUS),
        step!(Action, M::Cancelled => M::Deleted, secs(0), "Mailbox deleted", STATUS),
    ],
};

/// Consent and client-ID requests: `queued` -> `pending` -> `processing` -> `completed`, or
/// ending in `failed`, `errored` or `cancelled`.
pub static REQUEST: Lifecycle<RequestStatus> = Lifecycle {
    entity: "request",
    steps: &[
        step!(Typical, R::Queued => R::Pending, secs(10), "Request accepted", STATUS),
        step!(Typical, R::Pending => R::Processing, secs(60), "Approval received", STATUS),
        step!(Typical, R::Processing => R::Completed, secs(60), "Request completed", STATUS),
        step!(Failure, R::Processing => R::Failed, secs(60), "Request failed", STATUS, "request_failed", true, true),
        step!(Failure, R::Processing => R::Errored, secs(60), "Request errored", STATUS, "internal_error", false, true),
        step!(Action, R::Queued => R::Cancelled, secs(0), "Request cancelled", STATUS),
        step!(Action, R::Pending => R::Cancelled, secs(0), "Request cancelled", STATUS),
        step!(Action, R::Processing => R::Cancelled, secs(0), "Request cancelled", STATUS),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn typical_paths_match_the_contract() {
        let domain: Vec<_> = DOMAIN
            .typical_path(&D::RegistrationInProgress)
            .iter()
            .map(|s| s.to.as_str())
            .collect();
        assert_eq!(domain, ["waiting_for_dns_propagation", "active"]);
        let mailbox: Vec<_> = MAILBOX
            .typical_path(&M::Scheduled)
            .iter()
            .map(|s| s.to.as_str())
            .collect();
        assert_eq!(
            mailbox,
            [
                "pending",
                "processing",
                "configuring_workspace",
                "configuring_dns",
                "configuring_dkim",
                "configuring_auth",
                "finalizing_setup",
                "active"
            ]
        );
        let cancel: Vec<_> = MAILBOX
            .typical_path(&M::ScheduledForCancellation)
            .iter()
            .map(|s| s.to.as_str())
            .collect();
        assert_eq!(cancel, ["cancelled", "archived"]);
        let request: Vec<_> = REQUEST
            .typical_path(&R::Queued)
            .iter()
            .map(|s| s.to.as_str())
            .collect();
        assert_eq!(request, ["pending", "processing", "completed"]);
    }

    fn check_table<S: PartialEq + Clone + std::fmt::Debug>(table: &Lifecycle<S>) {
        for (index, step) in table.steps.iter().enumerate() {
            assert_ne!(
                step.from, step.to,
                "{}: a step must change the status",
                table.entity
            );
            assert!(step.changed_fields.contains(&"status"));
            assert!(
                !(step.failure.is_some() && step.kind == StepKind::Typical),
                "{step:?}"
            );
            assert!(
                table.steps[..index]
                    .iter()
                    .all(|s| s.from != step.from || s.to != step.to),
                "duplicate row {step:?}"
            );
        }
        // At most one typical step leaves any status: the entity's own path is unambiguous.
        for step in table.steps {
            let typical = table
                .steps
                .iter()
                .filter(|s| s.from == step.from && s.kind == StepKind::Typical)
                .count();
            assert!(typical <= 1, "{:?} has {typical} typical steps", step.from);
        }
    }

    #[test]
    fn tables_are_well_formed() {
        check_table(&DOMAIN);
        check_table(&MAILBOX);
        check_table(&REQUEST);
    }

    proptest! {
        /// A random walk only takes allowed steps, and statuses with no way out are ends.
        #[test]
        fn random_walks_follow_the_table(choices in proptest::collection::vec(any::<proptest::sample::Index>(), 0..40)) {
            let mut status = M::Scheduled;
            for choice in choices {
                let next = MAILBOX.allowed_from(&status);
                if next.is_empty() {
                    prop_assert!(matches!(status, M::Deleted), "dead end at {status:?}");
                    break;
                }
                let to = choice.get(&next).clone();
                prop_assert!(MAILBOX.step(&status, &to).is_some());
                status = to;
            }
        }

        #[test]
        fn domain_walks_never_leave_deleted(choices in proptest::collection::vec(any::<proptest::sample::Index>(), 0..30)) {
            let mut status = D::Cart;
            for choice in choices {
                let next = DOMAIN.allowed_from(&status);
                if next.is_empty() {
                    prop_assert_eq!(&status, &D::Deleted);
                    break;
                }
                status = choice.get(&next).clone();
            }
        }
    }
}
