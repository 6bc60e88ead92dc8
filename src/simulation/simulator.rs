//! The simulator: the world, its scheduled transitions, and the actions that start lifecycles.
//!
//! Every status change, scheduled or asked for, comes out as a [`Fired`] envelope for the
//! workspace's subscriber. After each change the entity's next step is drawn from its lifecycle
//! table: the typical step, or one of its failure branches with the configured probability.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::lifecycle::{DOMAIN, Lifecycle, MAILBOX, REQUEST};
use super::scheduler::Scheduler;
use super::transition::IllegalTransition;
use crate::contract::{
    Change, DomainStatus, Entity, Envelope, MailboxStatus, PayloadShape, RequestStatus, Secret,
    TriggeredBy,
};
use crate::model::compact::index_of;
use crate::model::world::{EntityKind, EntityRef, MailboxOrder, World, WorldError};
use crate::persistence::WorldOp;

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

    /// Every failure code the lifecycle tables know, for validating per-code rates.
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

/// A status change to announce: the body for one workspace's subscriber.
#[derive(Debug, Clone)]
pub struct Fired {
    /// Index of the workspace whose subscriber receives it.
    pub workspace: u16,
    /// The webhook body.
    pub envelope: Envelope,
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    /// No entity with this uid (of this kind).
    #[error("no {kind} with uid `{uid}`")]
    UnknownEntity {
        /// Entity kind looked for.
        kind: &'static str,
        /// The uid given.
        uid: String,
    },
    /// The lifecycle does not allow the transition.
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    /// The world refused (duplicate, unknown domain, invalid name).
    #[error(transparent)]
    World(#[from] WorldError),
}

/// A step waiting in the scheduler.
#[derive(Debug, Clone, Copy)]
struct Pending {
    entity: EntityRef,
    epoch: u32,
    /// Index of the target status in the entity's vocabulary.
    to: u8,
}

/// The simulated InboxKit: world + scheduler + failure draws.
#[derive(Debug)]
pub struct Simulation {
    world: World,
    scheduler: Scheduler<Pending>,
    failures: FailureRates,
    workspaces: usize,
    fired: u64,
    /// Changes not yet taken by [`Simulation::take_ops`], when they are recorded (saved state).
    ops: Option<Vec<WorldOp>>,
}

impl Simulation {
    /// A fresh world from `seed` with `workspaces` workspaces.
    pub fn new(seed: u64, workspaces: usize, failures: FailureRates) -> Self {
        Simulation {
            world: World::new(seed, workspaces),
            scheduler: Scheduler::new(),
            failures,
            workspaces,
            fired: 0,
            ops: None,
        }
    }

    /// Back to the state [`Simulation::new`] made (same seed, same ids again).
    pub fn reset(&mut self) {
        let failures = std::mem::take(&mut self.failures);
        let recording = self.ops.is_some();
        *self = Simulation::new(self.world.seed(), self.workspaces, failures);
        if recording {
            self.ops = Some(vec![WorldOp::Reset]);
        }
    }

    /// Records every later change as a [`WorldOp`], for saving.
    pub fn record_ops(&mut self) {
        self.ops.get_or_insert_with(Vec::new);
    }

    /// The changes recorded since the last call, in the order they were made.
    pub fn take_ops(&mut self) -> Vec<WorldOp> {
        self.ops.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn log(&mut self, op: impl FnOnce() -> WorldOp) {
        if let Some(ops) = &mut self.ops {
            ops.push(op());
        }
    }

    /// Sets workspace `workspace`'s subscriber (and its secret, when given); false if unknown.
    pub fn set_webhook(&mut self, workspace: u16, url: url::Url, secret: Option<Secret>) -> bool {
        let Some(target) = self.world.workspace_mut(workspace) else {
            return false;
        };
        if let Some(ops) = &mut self.ops {
            ops.push(WorldOp::SetWebhook {
                workspace,
                url: url.to_string(),
                secret: secret.as_ref().map(|s| s.expose().to_owned()),
            });
        }
        target.webhook_url = Some(url);
        if let Some(secret) = secret {
            target.webhook_secret = Some(secret);
        }
        true
    }

    /// The world, to read.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The world, to change workspaces' webhooks.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// Scheduled steps waiting (stale ones included until they come due).
    pub fn queue_depth(&self) -> usize {
        self.scheduler.len()
    }

    /// Transitions fired by the scheduler so far.
    pub fn fired_total(&self) -> u64 {
        self.fired
    }

    /// When the next scheduled step is due.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.scheduler.next_due()
    }

    /// Registers a domain; its lifecycle starts at once.
    pub fn register_domain(
        &mut self,
        workspace: u16,
        name: &str,
        years: u16,
        now: DateTime<Utc>,
    ) -> Result<EntityRef, ActionError> {
        let entity = self.world.add_domain(workspace, name, years, now)?;
        self.log(|| WorldOp::RegisterDomain {
            workspace,
            name: name.to_owned(),
            years,
            at: now,
        });
        self.schedule_next(entity, now);
        Ok(entity)
    }

    /// Buys a mailbox; it starts in `scheduled` and moves on by itself.
    pub fn buy_mailbox(
        &mut self,
        workspace: u16,
        order: &MailboxOrder,
        now: DateTime<Utc>,
    ) -> Result<EntityRef, ActionError> {
        let entity = self.world.add_mailbox(workspace, order, now)?;
        self.log(|| WorldOp::BuyMailbox {
            workspace,
            username: order.username.clone(),
            first_name: order.first_name.clone(),
            last_name: order.last_name.clone(),
            platform: order.platform.clone(),
            domain_name: order.domain_name.clone(),
            at: now,
        });
        self.schedule_next(entity, now);
        Ok(entity)
    }

    /// Opens a consent request (no domain) or a client-ID request (with one).
    pub fn open_request(
        &mut self,
        kind: EntityKind,
        workspace: u16,
        domain_name: Option<&str>,
        now: DateTime<Utc>,
    ) -> EntityRef {
        let entity = self.world.add_request(kind, workspace, domain_name);
        self.log(|| WorldOp::OpenRequest {
            kind: kind.as_str().to_owned(),
            workspace,
            domain_name: domain_name.map(str::to_owned),
            at: now,
        });
        self.schedule_next(entity, now);
        entity
    }

    /// Looks an entity up by kind and uid.
    pub fn find(&self, kind: EntityKind, uid: &str) -> Result<EntityRef, ActionError> {
        self.world
            .find_kind(kind, uid)
            .ok_or_else(|| ActionError::UnknownEntity {
                kind: kind.as_str(),
                uid: uid.to_owned(),
            })
    }

    /// Moves an entity to `to` now (a user's action or a forced transition) and announces it.
    pub fn transition(
        &mut self,
        entity: EntityRef,
        to: &str,
        shape: PayloadShape,
        now: DateTime<Utc>,
    ) -> Result<Fired, ActionError> {
        let (object, mut change) = self.world.transition(entity, to, shape)?;
        if self.ops.is_some() {
            let op = WorldOp::Transition {
                kind: entity.kind.as_str().to_owned(),
                uid: self.world.uid(entity),
                to: to.to_owned(),
                shape,
                at: now,
            };
            self.log(|| op);
        }
        change.triggered_by = TriggeredBy::UserAction;
        self.schedule_next(entity, now);
        Ok(self.announce(entity, object, &change, shape, now))
    }

    /// Fails with the allowed statuses unless the entity may move to `to` now.
    pub fn check_transition(&self, entity: EntityRef, to: &str) -> Result<(), ActionError> {
        let from = self.world.status(entity);
        let (table, allowed): (&str, Vec<String>) = match entity.kind {
            EntityKind::Domain => (DOMAIN.entity, allowed(&DOMAIN, &DomainStatus::parse(from))),
            EntityKind::Mailbox => (
                MAILBOX.entity,
                allowed(&MAILBOX, &MailboxStatus::parse(from)),
            ),
            EntityKind::ConsentRequest | EntityKind::ClientIdRequest => (
                REQUEST.entity,
                allowed(&REQUEST, &RequestStatus::parse(from)),
            ),
        };
        if allowed.iter().any(|a| a == to) {
            return Ok(());
        }
        Err(ActionError::Illegal(IllegalTransition {
            entity: if table == REQUEST.entity {
                entity.kind.as_str()
            } else {
                table
            },
            from: from.to_owned(),
            to: to.to_owned(),
            allowed,
        }))
    }

    /// Where cancelling a mailbox leads from its current status: `cancelled` when it never
    /// started or failed, `scheduled_for_cancellation` otherwise.
    pub fn cancellation_target(&self, entity: EntityRef) -> &'static str {
        match self.world.status(entity) {
            "scheduled" | "failed" => MailboxStatus::Cancelled.as_str(),
            _ => MailboxStatus::ScheduledForCancellation.as_str(),
        }
    }

    /// Cancels a mailbox (see [`Simulation::cancellation_target`]).
    pub fn cancel_mailbox(
        &mut self,
        entity: EntityRef,
        shape: PayloadShape,
        now: DateTime<Utc>,
    ) -> Result<Fired, ActionError> {
        let target = self.cancellation_target(entity);
        self.transition(entity, target, shape, now)
    }

    /// Removes a domain (`deleted`).
    pub fn remove_domain(
        &mut self,
        entity: EntityRef,
        shape: PayloadShape,
        now: DateTime<Utc>,
    ) -> Result<Fired, ActionError> {
        self.transition(entity, DomainStatus::Deleted.as_str(), shape, now)
    }

    /// Announces an entity's current state without changing it (a hand-triggered event).
    pub fn announce_current(
        &self,
        entity: EntityRef,
        shape: PayloadShape,
        now: DateTime<Utc>,
    ) -> Fired {
        let change = Change {
            reason: "Event triggered through the mock's control API".to_owned(),
            changed_fields: vec!["status".to_owned()],
            triggered_by: TriggeredBy::UserAction,
            failure: None,
        };
        self.announce(entity, self.world.entity(entity), &change, shape, now)
    }

    /// Fires up to `max` steps due at or before `now`, in (due time, scheduling) order; each
    /// announcement is stamped with its due time, so results do not depend on how time advanced.
    pub fn fire_due(&mut self, now: DateTime<Utc>, shape: PayloadShape, max: usize) -> Vec<Fired> {
        let mut fired = Vec::new();
        let mut popped = false;
        while fired.len() < max {
            let Some(due) = self.scheduler.pop_due(now) else {
                break;
            };
            if !popped {
                popped = true;
                self.log(|| WorldOp::FireDue { now, shape, max });
            }
            let pending = due.item;
            if self.world.epoch(pending.entity) != pending.epoch {
                continue;
            }
            let to = status_name(pending.entity.kind, pending.to);
            let Ok((object, change)) = self.world.transition(pending.entity, to, shape) else {
                continue;
            };
            self.fired += 1;
            self.schedule_next(pending.entity, due.at);
            fired.push(self.announce(pending.entity, object, &change, shape, due.at));
        }
        fired
    }

    fn announce(
        &self,
        entity: EntityRef,
        object: Entity,
        change: &Change,
        shape: PayloadShape,
        at: DateTime<Utc>,
    ) -> Fired {
        let workspace = self.world.workspace_of(entity);
        let account = self.world.account(workspace);
        Fired {
            workspace,
            envelope: Envelope::status_changed(shape, account, object, change, at),
        }
    }

    /// Draws the entity's next step from `at` and schedules it, if it moves on by itself.
    fn schedule_next(&mut self, entity: EntityRef, at: DateTime<Utc>) {
        let status = self.world.status(entity);
        let next = match entity.kind {
            EntityKind::Domain => {
                self.draw_step(&DOMAIN, &DomainStatus::parse(status), DomainStatus::KNOWN)
            }
            EntityKind::Mailbox => self.draw_step(
                &MAILBOX,
                &MailboxStatus::parse(status),
                MailboxStatus::KNOWN,
            ),
            EntityKind::ConsentRequest | EntityKind::ClientIdRequest => self.draw_step(
                &REQUEST,
                &RequestStatus::parse(status),
                RequestStatus::KNOWN,
            ),
        };
        if let Some((to, after)) = next {
            let due = at + TimeDelta::from_std(after).unwrap_or(TimeDelta::MAX);
            let epoch = self.world.epoch(entity);
            self.scheduler.schedule(due, Pending { entity, epoch, to });
        }
    }

    /// Each failure branch is taken with its probability (checked in table order); otherwise the
    /// typical step, if there is one.
    fn draw_step<S: PartialEq + Clone>(
        &mut self,
        table: &Lifecycle<S>,
        from: &S,
        known: &[S],
    ) -> Option<(u8, std::time::Duration)> {
        for step in table.failures_from(from) {
            let rate = step.failure.map_or(0.0, |f| self.failures.rate(f.code));
            if rate > 0.0 && self.world.draw() < rate {
                return Some((index_of(known, &step.to), step.after));
            }
        }
        table
            .typical_from(from)
            .map(|step| (index_of(known, &step.to), step.after))
    }
}

fn allowed<S: PartialEq + Clone + std::fmt::Display>(
    table: &Lifecycle<S>,
    from: &S,
) -> Vec<String> {
    table
        .allowed_from(from)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn status_name(kind: EntityKind, index: u8) -> &'static str {
    let index = usize::from(index);
    let name = match kind {
        EntityKind::Domain => DomainStatus::KNOWN.get(index).map(|s| s.as_str()),
        EntityKind::Mailbox => MailboxStatus::KNOWN.get(index).map(|s| s.as_str()),
        EntityKind::ConsentRequest | EntityKind::ClientIdRequest => {
            RequestStatus::KNOWN.get(index).map(|s| s.as_str())
        }
    };
    name.unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-10T15:30:45.123Z")
            .unwrap()
            .to_utc()
    }

    fn order(username: &str, domain: &str) -> MailboxOrder {
        MailboxOrder {
            username: username.into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            platform: crate::contract::Platform::Google,
            domain_name: domain.into(),
        }
    }

    fn statuses(fired: &[Fired]) -> Vec<String> {
        fired
            .iter()
            .map(|f| f.envelope.data.entity.status().to_owned())
            .collect()
    }

    #[test]
    fn due_steps_fire_in_order_stamped_with_their_due_time() {
        let mut sim = Simulation::new(1, 1, FailureRates::default());
        sim.register_domain(0, "a.io", 1, t0()).unwrap();
        sim.buy_mailbox(0, &order("x", "a.io"), t0()).unwrap();
        let fired = sim.fire_due(t0() + TimeDelta::hours(1), PayloadShape::Seed, usize::MAX);
        assert_eq!(fired.len(), 10);
        let times: Vec<&str> = fired
            .iter()
            .map(|f| f.envelope.timestamp.as_str())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        assert_eq!(
            fired[0].envelope.timestamp, "2024-01-10T15:31:15.123Z",
            "first mailbox step after 30 s"
        );
        assert_eq!(sim.fired_total(), 10);
        assert!(
            sim.fire_due(t0() + TimeDelta::days(300), PayloadShape::Seed, usize::MAX)
                .is_empty()
        );
    }

    #[test]
    fn a_forced_transition_makes_the_scheduled_step_stale() {
        let mut sim = Simulation::new(2, 1, FailureRates::default());
        let domain = sim.register_domain(0, "b.io", 1, t0()).unwrap();
        let forced = sim
            .transition(domain, "payment_failed", PayloadShape::Seed, t0())
            .unwrap();
        assert_eq!(forced.envelope.data.entity.status(), "payment_failed");
        assert!(
            sim.fire_due(t0() + TimeDelta::days(1), PayloadShape::Seed, usize::MAX)
                .is_empty()
        );
        let error = sim.check_transition(domain, "active").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("registration_in_progress, deleted"),
            "{error}"
        );
    }

    #[test]
    fn a_certain_failure_replaces_the_typical_step() {
        let failures = FailureRates {
            default: 0.0,
            by_code: [("provisioning_failed".to_owned(), 1.0)].into(),
        };
        let mut sim = Simulation::new(3, 1, failures);
        sim.register_domain(0, "c.io", 1, t0()).unwrap();
        let mailbox = sim.buy_mailbox(0, &order("y", "c.io"), t0()).unwrap();
        let fired = sim.fire_due(t0() + TimeDelta::hours(1), PayloadShape::Seed, usize::MAX);
        let uid = sim.world().uid(mailbox);
        let mine: Vec<Fired> = fired
            .into_iter()
            .filter(|f| f.envelope.data.entity.uid() == uid)
            .collect();
        assert_eq!(statuses(&mine), ["pending", "processing", "failed"]);
        assert!(FailureRates::known_codes().contains(&"dkim_setup_failed"));
    }

    #[test]
    fn cancelling_depends_on_how_far_the_mailbox_got() {
        let mut sim = Simulation::new(4, 1, FailureRates::default());
        sim.register_domain(0, "d.io", 1, t0()).unwrap();
        let early = sim.buy_mailbox(0, &order("e", "d.io"), t0()).unwrap();
        assert_eq!(sim.cancellation_target(early), "cancelled");
        let fired = sim.cancel_mailbox(early, PayloadShape::Seed, t0()).unwrap();
        assert_eq!(fired.envelope.data.entity.status(), "cancelled");
    }
}
