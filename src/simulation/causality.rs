//! Causality between a domain and its mailboxes: what a mailbox waits for, and what a change of
//! its domain does to it. The rules are chosen (InboxKit documents the statuses, not their
//! causes) and listed in the README's status table.

use crate::contract::Platform;
use crate::model::world::{EntityKind, EntityRef, World};

/// What becomes of a mailbox's planned step when it comes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Take this step (the planned one, or what the world requires instead).
    Go(&'static str),
    /// Wait, unchanged, until the domain is active again.
    Hold,
}

/// A mailbox change caused by its domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Follow {
    /// The mailbox's new status.
    pub to: &'static str,
    /// `change_details.reason`.
    pub reason: &'static str,
}

impl Follow {
    /// An `active` mailbox whose domain stopped being active: `inactive` until it is again.
    pub const HOLD_INACTIVE: Follow = Follow {
        to: "inactive",
        reason: "Domain is not active",
    };
}

/// Platforms whose provisioning waits for the provider's activation email (chosen: the
/// Microsoft platforms, whose tenants are activated by email).
pub fn uses_activation_email(platform: &Platform) -> bool {
    matches!(platform, Platform::Microsoft | Platform::Azure)
}

/// The step a mailbox takes when its planned step to `planned` comes due: provisioning waits in
/// `waiting_for_dns_propagation` until the domain is active with DNS propagated (and a mailbox
/// forced there while it is goes on at once, unless it stopped being so); platforms with
/// an activation email wait for it after `configuring_workspace`; a mailbox never becomes
/// `active` on a domain that is not.
pub fn resolve(world: &World, entity: EntityRef, planned: &'static str) -> Resolution {
    if entity.kind != EntityKind::Mailbox {
        return Resolution::Go(planned);
    }
    let domain = world.domain_of(entity);
    match (world.status(entity), planned) {
        ("processing", "configuring_workspace") if !world.domain_ready(domain) => {
            Resolution::Go("waiting_for_dns_propagation")
        }
        ("waiting_for_dns_propagation", _) if !world.domain_ready(domain) => Resolution::Hold,
        ("configuring_workspace", "configuring_dns")
            if uses_activation_email(&world.platform(entity)) =>
        {
            Resolution::Go("waiting_for_activation_email")
        }
        (_, "active") if !world.domain_active(domain) => Resolution::Hold,
        _ => Resolution::Go(planned),
    }
}

/// What a mailbox does after its domain changed, if anything: a removed domain's mailboxes are
/// `deleted`, a cancelled domain's are `cancelled`; once the domain is active with DNS
/// propagated, waiting mailboxes go on and held ones become `active`; an `active` mailbox on a
/// domain that is no longer active becomes `inactive` (held).
pub fn follow(world: &World, domain: EntityRef, mailbox: EntityRef) -> Option<Follow> {
    let status = world.status(mailbox);
    match world.status(domain) {
        "deleted" => (status != "deleted").then_some(Follow {
            to: "deleted",
            reason: "Domain removed",
        }),
        "cancelled" => {
            (!matches!(status, "cancelled" | "archived" | "deleted")).then_some(Follow {
                to: "cancelled",
                reason: "Domain cancelled",
            })
        }
        _ if world.domain_ready(domain) => match status {
            "waiting_for_dns_propagation" => Some(Follow {
                to: "configuring_workspace",
                reason: "Domain DNS propagated",
            }),
            "finalizing_setup" if world.held(mailbox) => Some(Follow {
                to: "active",
                reason: "Mailbox is active",
            }),
            "inactive" if world.held(mailbox) => Some(Follow {
                to: "active",
                reason: "Domain is active again",
            }),
            _ => None,
        },
        _ if !world.domain_active(domain) => (status == "active").then_some(Follow::HOLD_INACTIVE),
        _ => None,
    }
}
