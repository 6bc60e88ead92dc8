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
    /// Happens on its own instead of the typical step with the probability of its code, which
    /// only `--failure CODE=P` sets (never the default failure rate): an observed variant.
    Variant,
    /// Happens on its own instead of the typical step when the world says so: the mailbox's
    /// domain is not ready yet, or the platform sends an activation email.
    Conditional,
    /// Happens at the entity's renewal date, with the probability of its code; otherwise the
    /// entity renews without changing status.
    Renewal,
    /// Happens on its own at the entity's renewal date (the end of the paid period).
    PeriodEnd,
    /// Happens when the entity's domain changes (removed, cancelled, ready, not active).
    Cascade,
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
            _ => TriggeredBy::System,
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

    /// Observed variants that may replace the typical step from `from`.
    pub fn variants_from(&self, from: &S) -> impl Iterator<Item = &Step<S>> {
        self.steps
            .iter()
            .filter(move |s| s.from == *from && s.kind == StepKind::Variant)
    }

    /// The step of `kind` leaving `from`, if there is one.
    pub fn step_of_kind(&self, from: &S, kind: StepKind) -> Option<&Step<S>> {
        self.steps
            .iter()
            .find(|s| s.from == *from && s.kind == kind)
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

const DAY: u64 = 86_400;
/// Days a failed renewal payment may be paid before the entity is cancelled (chosen).
pub const GRACE_DAYS: u64 = 7;

/// Domains: purchase `registration_in_progress` -> `waiting_for_dns_propagation` -> `active`;
/// connection `cart` -> `dns_setup_pending` -> `pending` -> `active`; removal -> `deleted`;
/// failed payment -> `payment_failed`; renewal at the renewal date.
pub static DOMAIN: Lifecycle<DomainStatus> = Lifecycle {
    entity: "domain",
    steps: &[
        step!(Action, D::Cart => D::RegistrationInProgress, secs(0), "Domain purchase started", STATUS),
        step!(Action, D::Cart => D::DnsSetupPending, secs(0), "Nameservers issued; waiting for the customer to point the domain at them", STATUS),
        step!(Typical, D::RegistrationInProgress => D::WaitingForDnsPropagation, secs(120), "Domain registered; nameservers set", STATUS_DNS),
        step!(Variant, D::RegistrationInProgress => D::Active, secs(120), "Domain registered", STATUS, "observed_active_before_dns", false, false),
        step!(Failure, D::RegistrationInProgress => D::PaymentFailed, secs(60), "Payment for the domain failed", STATUS, "payment_declined", true, true),
        step!(Action, D::DnsSetupPending => D::Pending, secs(0), "Nameservers found; waiting for DNS propagation", STATUS_DNS),
        step!(Typical, D::Pending => D::Active, secs(600), "DNS propagation completed successfully", STATUS_DNS),
        step!(Failure, D::Pending => D::Inactive, secs(3600), "DNS propagation failed", STATUS_DNS, "dns_propagation_failed", true, true),
        step!(Typical, D::WaitingForDnsPropagation => D::Active, secs(900), "DNS propagation completed successfully", STATUS_DNS),
        step!(Failure, D::WaitingForDnsPropagation => D::Inactive, secs(3600), "DNS propagation failed", STATUS_DNS, "dns_propagation_failed", true, true),
        step!(Action, D::PaymentFailed => D::RegistrationInProgress, secs(0), "Payment retried", STATUS),
        step!(Action, D::PaymentFailed => D::Active, secs(0), "Renewal paid", STATUS),
        step!(Typical, D::PaymentFailed => D::Cancelled, secs(GRACE_DAYS * DAY), "Unpaid domain cancelled", STATUS),
        step!(Action, D::Active => D::Inactive, secs(0), "Domain deactivated", STATUS),
        step!(Action, D::Inactive => D::Active, secs(0), "Domain reactivated", STATUS),
        step!(Action, D::Inactive => D::WaitingForDnsPropagation, secs(0), "DNS check restarted", STATUS_DNS),
        step!(Renewal, D::Active => D::PaymentFailed, secs(3600), "Renewal payment failed", STATUS, "domain_renewal_declined", true, true),
        step!(Action, D::Active => D::Cancelled, secs(0), "Domain cancelled", STATUS),
        step!(Action, D::Cart => D::Deleted, secs(0), "Domain removed", STATUS),
        step!(Action, D::DnsSetupPending => D::Deleted, secs(0), "Domain removed", STATUS),
        step!(Action, D::Pending => D::Deleted, secs(0), "Domain removed", STATUS),
        step!(Action, D::WaitingForDnsPropagation => D::Deleted, secs(0), "Domain removed", STATUS),
        step!(Action, D::Active => D::Deleted, secs(0), "Domain removed", STATUS),
        step!(Action, D::Inactive => D::Deleted, secs(0), "Domain removed", STATUS),
        step!(Action, D::PaymentFailed => D::Deleted, secs(0), "Domain removed", STATUS),
        step!(Typical, D::Cancelled => D::Deleted, secs(DAY), "Cancelled domain removed", STATUS),
    ],
};

macro_rules! cascade {
    ($from:expr => $to:expr, $reason:literal) => {
        step!(Cascade, $from => $to, secs(0), $reason, STATUS)
    };
}

/// Mailboxes: buy -> `scheduled` -> `pending` -> `processing` -> (`waiting_for_dns_propagation`
/// until the domain is ready) -> `configuring_workspace` -> (activation email, on platforms that
/// use one) -> `configuring_*` -> `finalizing_setup` -> `active`; cancel ->
/// `scheduled_for_cancellation` -> `cancelled` at the period's end; the domain's removal or
/// cancellation cascades.
pub static MAILBOX: Lifecycle<MailboxStatus> = Lifecycle {
    entity: "mailbox",
    steps: &[
        step!(Typical, M::Scheduled => M::Pending, secs(30), "Mailbox queued for provisioning", STATUS),
        step!(Typical, M::Pending => M::Processing, secs(30), "Provisioning started", STATUS),
        step!(Typical, M::Processing => M::ConfiguringWorkspace, secs(60), "Creating the mailbox in the workspace", STATUS),
        step!(Conditional, M::Processing => M::WaitingForDnsPropagation, secs(60), "Waiting for the domain's DNS to propagate", STATUS),
        step!(Failure, M::Processing => M::Failed, secs(60), "Provisioning failed", STATUS, "provisioning_failed", false, true),
        step!(Cascade, M::WaitingForDnsPropagation => M::ConfiguringWorkspace, secs(0), "Domain DNS propagated", STATUS),
        step!(Conditional, M::ConfiguringWorkspace => M::WaitingForActivationEmail, secs(60), "Waiting for the provider's activation email", STATUS),
        step!(Typical, M::WaitingForActivationEmail => M::ActivationEmailReceived, secs(300), "Activation email received", STATUS),
        step!(Failure, M::WaitingForActivationEmail => M::Failed, secs(3600), "The activation email never arrived", STATUS, "activation_email_timeout", true, true),
        step!(Typical, M::ActivationEmailReceived => M::ConfiguringDns, secs(60), "Writing DNS records", STATUS),
        step!(Typical, M::ConfiguringWorkspace => M::ConfiguringDns, secs(60), "Writing DNS records", STATUS),
        step!(Typical, M::ConfiguringDns => M::ConfiguringDkim, secs(60), "Setting up DKIM", STATUS),
        step!(Typical, M::ConfiguringDkim => M::ConfiguringAuth, secs(60), "Setting up SPF and DMARC", STATUS),
        step!(Failure, M::ConfiguringDkim => M::Failed, secs(60), "DKIM setup failed", STATUS, "dkim_setup_failed", false, true),
        step!(Typical, M::ConfiguringAuth => M::FinalizingSetup, secs(60), "Finalizing setup", STATUS),
        step!(Typical, M::FinalizingSetup => M::Active, secs(60), "Mailbox is active", STATUS),
        step!(Failure, M::Active => M::Suspended, secs(DAY), "Mailbox suspended by the provider", STATUS, "provider_suspension", true, false),
        step!(Renewal, M::Active => M::RenewalFailed, secs(3600), "Renewal payment failed", STATUS, "renewal_payment_declined", true, true),
        step!(Action, M::Failed => M::Processing, secs(0), "Provisioning retried", STATUS),
        step!(Action, M::Active => M::Inactive, secs(0), "Mailbox deactivated", STATUS),
        step!(Action, M::Inactive => M::Active, secs(0), "Mailbox reactivated", STATUS),
        step!(Action, M::Suspended => M::Active, secs(0), "Suspension lifted", STATUS),
        step!(Action, M::RenewalFailed => M::Active, secs(0), "Renewal paid", STATUS),
        step!(Typical, M::RenewalFailed => M::Cancelled, secs(GRACE_DAYS * DAY), "Unpaid mailbox cancelled", STATUS),
        step!(Action, M::Active => M::ScheduledForCancellation, secs(0), "Cancellation requested", STATUS),
        step!(Action, M::Inactive => M::ScheduledForCancellation, secs(0), "Cancellation requested", STATUS),
        step!(Action, M::Suspended => M::ScheduledForCancellation, secs(0), "Cancellation requested", STATUS),
        step!(Action, M::RenewalFailed => M::ScheduledForCancellation, secs(0), "Cancellation requested", STATUS),
        step!(Action, M::ScheduledForCancellation => M::Active, secs(0), "Cancellation withdrawn", STATUS),
        step!(Action, M::Failed => M::Cancelled, secs(0), "Failed mailbox cancelled", STATUS),
        step!(Action, M::Scheduled => M::Cancelled, secs(0), "Order cancelled", STATUS),
        step!(PeriodEnd, M::ScheduledForCancellation => M::Cancelled, secs(0), "Mailbox cancelled at the end of its billing period", STATUS),
        step!(Typical, M::Cancelled => M::Archived, secs(DAY), "Mailbox archived", STATUS),
        step!(Action, M::Archived => M::Deleted, secs(0), "Mailbox deleted", STATUS),
        step!(Action, M::Cancelled => M::Deleted, secs(0), "Mailbox deleted", STATUS),
        cascade!(M::Pending => M::Cancelled, "Domain cancelled"),
        cascade!(M::Processing => M::Cancelled, "Domain cancelled"),
        cascade!(M::WaitingForDnsPropagation => M::Cancelled, "Domain cancelled"),
        cascade!(M::WaitingForActivationEmail => M::Cancelled, "Domain cancelled"),
        cascade!(M::ActivationEmailReceived => M::Cancelled, "Domain cancelled"),
        cascade!(M::ConfiguringWorkspace => M::Cancelled, "Domain cancelled"),
        cascade!(M::ConfiguringDns => M::Cancelled, "Domain cancelled"),
        cascade!(M::ConfiguringDkim => M::Cancelled, "Domain cancelled"),
        cascade!(M::ConfiguringAuth => M::Cancelled, "Domain cancelled"),
        cascade!(M::FinalizingSetup => M::Cancelled, "Domain cancelled"),
        cascade!(M::Active => M::Cancelled, "Domain cancelled"),
        cascade!(M::Inactive => M::Cancelled, "Domain cancelled"),
        cascade!(M::Suspended => M::Cancelled, "Domain cancelled"),
        cascade!(M::Scheduled => M::Deleted, "Domain removed"),
        cascade!(M::Pending => M::Deleted, "Domain removed"),
        cascade!(M::Processing => M::Deleted, "Domain removed"),
        cascade!(M::WaitingForDnsPropagation => M::Deleted, "Domain removed"),
        cascade!(M::WaitingForActivationEmail => M::Deleted, "Domain removed"),
        cascade!(M::ActivationEmailReceived => M::Deleted, "Domain removed"),
        cascade!(M::ConfiguringWorkspace => M::Deleted, "Domain removed"),
        cascade!(M::ConfiguringDns => M::Deleted, "Domain removed"),
        cascade!(M::ConfiguringDkim => M::Deleted, "Domain removed"),
        cascade!(M::ConfiguringAuth => M::Deleted, "Domain removed"),
        cascade!(M::FinalizingSetup => M::Deleted, "Domain removed"),
        cascade!(M::Active => M::Deleted, "Domain removed"),
        cascade!(M::Inactive => M::Deleted, "Domain removed"),
        cascade!(M::Suspended => M::Deleted, "Domain removed"),
        cascade!(M::Failed => M::Deleted, "Domain removed"),
        cascade!(M::RenewalFailed => M::Deleted, "Domain removed"),
        cascade!(M::ScheduledForCancellation => M::Deleted, "Domain removed"),
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
        let cancel = MAILBOX
            .step_of_kind(&M::ScheduledForCancellation, StepKind::PeriodEnd)
            .map(|s| s.to.as_str());
        assert_eq!(
            cancel,
            Some("cancelled"),
            "cancellation ends with the period"
        );
        let after: Vec<_> = MAILBOX
            .typical_path(&M::Cancelled)
            .iter()
            .map(|s| s.to.as_str())
            .collect();
        assert_eq!(after, ["archived"]);
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
