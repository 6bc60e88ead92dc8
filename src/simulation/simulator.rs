//! The simulator: the world, its scheduled transitions, and the actions that start lifecycles.
//!
//! Every status change, scheduled or asked for, comes out as a [`Fired`] envelope for the
//! workspace's subscriber. After each change the entity's next step is drawn from its lifecycle
//! table: the typical step, or one of its failure branches with the configured probability.

use chrono::{DateTime, TimeDelta, Utc};

use super::causality::{self, Follow};
use super::changes::WorldOp;
pub use super::failures::FailureRates;
use super::lifecycle::{DOMAIN, Lifecycle, MAILBOX, REQUEST, StepKind};
use super::scheduler::Scheduler;
use super::transition::{IllegalTransition, changed_fields, for_shape, transition_in};
use crate::contract::{
    Change, DomainStatus, Entity, Envelope, MailboxStatus, PayloadShape, RenewalStatus,
    RequestStatus, Secret, TriggeredBy,
};
use crate::model::compact::index_of;
use crate::model::world::{EntityKind, EntityRef, MailboxOrder, World, WorldError};

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

/// What comes due for an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    /// A status change; the index of the target status in the entity's vocabulary.
    Status(u8),
    /// The domain's DNS propagates without a status change (the observed variant).
    DnsComplete,
    /// The paid period ends: the renewal starts (`renewal_status: pending`).
    RenewalDue,
    /// The renewal payment settles: `completed`, or the renewal failure branch by its rate.
    RenewalSettle,
}

/// A step waiting in the scheduler.
#[derive(Debug, Clone, Copy)]
struct Pending {
    entity: EntityRef,
    epoch: u32,
    work: Work,
}

/// How long after an observed-variant domain's `active` its DNS propagates (chosen: the
/// typical propagation time).
const VARIANT_DNS_DELAY: TimeDelta = TimeDelta::seconds(900);

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
    /// Announcements of changes that followed a [`Simulation::transition`] (its domain's
    /// mailboxes), with their instant: [`Simulation::fire_due`] returns them first.
    outbox: Vec<(DateTime<Utc>, Fired)>,
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
            outbox: Vec::new(),
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

    /// Scheduled steps waiting (stale ones included until they come due).
    pub fn queue_depth(&self) -> usize {
        self.scheduler.len()
    }

    /// Transitions fired by the scheduler so far.
    pub fn fired_total(&self) -> u64 {
        self.fired
    }

    /// When the next scheduled step is due (or the earliest announcement waiting in the outbox).
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        let waiting = self.outbox.iter().map(|(at, _)| *at).min();
        match (waiting, self.scheduler.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// How many announcements wait in the outbox.
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// Takes the announcements that followed earlier transitions (cascades to mailboxes), in
    /// order; [`Simulation::fire_due`] also returns them, so each is announced once.
    pub fn take_outbox(&mut self) -> Vec<Fired> {
        std::mem::take(&mut self.outbox)
            .into_iter()
            .map(|(_, fired)| fired)
            .collect()
    }

    /// Adds a domain the customer owns elsewhere, to connect through DNS (`connection_type:
    /// "dns"`): it rests in `cart` until nameservers are asked for.
    pub fn connect_domain(
        &mut self,
        workspace: u16,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<EntityRef, ActionError> {
        let entity = self.world.add_connected_domain(workspace, name, now)?;
        self.log(|| WorldOp::ConnectDomain {
            workspace,
            name: name.to_owned(),
            at: now,
        });
        Ok(entity)
    }

    /// Issues nameservers for a connected domain: `cart` -> `dns_setup_pending`; nothing to
    /// announce when they were issued already.
    pub fn issue_nameservers(
        &mut self,
        domain: EntityRef,
        shape: PayloadShape,
        now: DateTime<Utc>,
    ) -> Result<Vec<Fired>, ActionError> {
        match self.world.status(domain) {
            "cart" => {
                self.transition_all(domain, DomainStatus::DnsSetupPending.as_str(), shape, now)
            }
            "deleted" | "cancelled" => {
                Err(self.refusal(domain, DomainStatus::DnsSetupPending.as_str()))
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Checks a connected domain's nameservers: `dns_setup_pending` -> `pending` (propagation
    /// then completes on its own); nothing to announce in any later status.
    pub fn check_nameservers(
        &mut self,
        domain: EntityRef,
        shape: PayloadShape,
        now: DateTime<Utc>,
    ) -> Result<Vec<Fired>, ActionError> {
        match self.world.status(domain) {
            "dns_setup_pending" => {
                self.transition_all(domain, DomainStatus::Pending.as_str(), shape, now)
            }
            "cart" | "deleted" | "cancelled" => {
                Err(self.refusal(domain, DomainStatus::Pending.as_str()))
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Withdraws a mailbox's cancellation before its period ends: back to `active`.
    pub fn uncancel_mailbox(
        &mut self,
        mailbox: EntityRef,
        shape: PayloadShape,
        now: DateTime<Utc>,
    ) -> Result<Vec<Fired>, ActionError> {
        self.transition_all(mailbox, MailboxStatus::Active.as_str(), shape, now)
    }

    fn refusal(&self, entity: EntityRef, to: &str) -> ActionError {
        match self.check_transition(entity, to) {
            Err(error) => error,
            Ok(()) => ActionError::Illegal(IllegalTransition {
                entity: entity.kind.as_str(),
                from: self.world.status(entity).to_owned(),
                to: to.to_owned(),
                allowed: Vec::new(),
            }),
        }
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
    /// What follows from it (a domain's mailboxes) waits in the outbox: see
    /// [`Simulation::take_outbox`] and [`Simulation::transition_all`].
    pub fn transition(
        &mut self,
        entity: EntityRef,
        to: &str,
        shape: PayloadShape,
        now: DateTime<Utc>,
    ) -> Result<Fired, ActionError> {
        let mut all = self.transition_own(entity, to, shape, now)?.into_iter();
        let first = all.next().ok_or_else(|| self.refusal(entity, to))?;
        self.outbox.extend(all.map(|fired| (now, fired)));
        Ok(first)
    }

    /// Moves an entity to `to` now and announces it, followed by what that change caused (a
    /// removed or cancelled domain's mailboxes, mailboxes waiting for their domain). What still
    /// waits in the outbox from earlier transitions comes first, so each entity's changes are
    /// announced in order.
    pub fn transition_all(
        &mut self,
        entity: EntityRef,
        to: &str,
        shape: PayloadShape,
        now: DateTime<Utc>,
    ) -> Result<Vec<Fired>, ActionError> {
        let own = self.transition_own(entity, to, shape, now)?;
        let mut all = self.take_outbox();
        all.extend(own);
        Ok(all)
    }

    /// The change and what it caused, without the outbox.
    fn transition_own(
        &mut self,
        entity: EntityRef,
        to: &str,
        shape: PayloadShape,
        now: DateTime<Utc>,
    ) -> Result<Vec<Fired>, ActionError> {
        self.check_transition(entity, to)?;
        let fired = self.apply(entity, to, shape, now, TriggeredBy::UserAction)?;
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
        Ok(fired)
    }

    /// Applies a change and what follows from it; the entity's own announcement comes first.
    fn apply(
        &mut self,
        entity: EntityRef,
        to: &str,
        shape: PayloadShape,
        at: DateTime<Utc>,
        triggered_by: TriggeredBy,
    ) -> Result<Vec<Fired>, ActionError> {
        let before = self.world.entity(entity);
        let (mut object, mut change) = transition_in(&mut self.world, entity, to, shape)?;
        change.triggered_by = triggered_by;
        if entity.kind == EntityKind::Mailbox {
            self.world.set_held(entity, false);
        }
        self.schedule_next(entity, at);
        let mut follows = Vec::new();
        if entity.kind == EntityKind::Domain {
            follows = self.follow_domain(entity, shape, at);
            object = self.world.entity(entity);
            change.changed_fields = changed_fields(&before, &object);
        }
        let mut fired = vec![self.announce(entity, object, &change, shape, at)];
        fired.append(&mut follows);
        Ok(fired)
    }

    /// Moves the domain's mailboxes as the domain's state requires (see
    /// [`causality::follow`]) and announces each change.
    fn follow_domain(
        &mut self,
        domain: EntityRef,
        shape: PayloadShape,
        at: DateTime<Utc>,
    ) -> Vec<Fired> {
        let mut fired = Vec::new();
        for mailbox in self.world.mailboxes_on(domain) {
            let Some(follow) = causality::follow(&self.world, domain, mailbox) else {
                continue;
            };
            let Ok((object, mut change)) =
                transition_in(&mut self.world, mailbox, follow.to, shape)
            else {
                continue;
            };
            change.reason = follow.reason.to_owned();
            change.triggered_by = TriggeredBy::System;
            change.failure = None;
            self.world
                .set_held(mailbox, follow == Follow::HOLD_INACTIVE);
            self.schedule_next(mailbox, at);
            fired.push(self.announce(mailbox, object, &change, shape, at));
        }
        fired
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
            if entity.kind == EntityKind::Mailbox && to == MailboxStatus::Active.as_str() {
                let domain = self.world.domain_of(entity);
                if !self.world.domain_active(domain) {
                    return Err(ActionError::World(WorldError::DomainNotActive(
                        self.world.label(domain).into_owned(),
                    )));
                }
            }
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
    /// Announcements waiting in the outbox come first; a step may announce more than one change
    /// (a domain and then its mailboxes), so a batch can exceed `max` by those.
    pub fn fire_due(&mut self, now: DateTime<Utc>, shape: PayloadShape, max: usize) -> Vec<Fired> {
        let mut fired = self.take_outbox();
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
            let mut batch = self.work(pending, shape, due.at);
            if !batch.is_empty() {
                self.fired += 1;
            }
            fired.append(&mut batch);
        }
        fired
    }

    /// Does one due piece of work; returns the announcements it caused.
    fn work(&mut self, pending: Pending, shape: PayloadShape, at: DateTime<Utc>) -> Vec<Fired> {
        let entity = pending.entity;
        match pending.work {
            Work::Status(index) => {
                let planned = status_name(entity.kind, index);
                let to = match causality::resolve(&self.world, entity, planned) {
                    causality::Resolution::Go(to) => to,
                    causality::Resolution::Hold => {
                        self.world.set_held(entity, true);
                        return Vec::new();
                    }
                };
                self.apply(entity, to, shape, at, TriggeredBy::System)
                    .unwrap_or_default()
            }
            Work::DnsComplete => {
                self.world.complete_dns(entity);
                let fired = self.follow_domain(entity, shape, at);
                self.schedule_next(entity, at);
                fired
            }
            Work::RenewalDue => {
                self.world.set_renewal(entity, &RenewalStatus::Pending);
                let settle = renewal_step(entity.kind).map_or(TimeDelta::hours(1), |(_, after)| {
                    TimeDelta::from_std(after).unwrap_or(TimeDelta::MAX)
                });
                self.schedule_work(entity, at + settle, Work::RenewalSettle);
                Vec::new()
            }
            Work::RenewalSettle => {
                let failed = renewal_step(entity.kind).and_then(|(code, _)| {
                    let rate = self.failures.rate(code);
                    (rate > 0.0 && self.world.draw() < rate).then_some(())
                });
                let target = match entity.kind {
                    EntityKind::Domain => DomainStatus::PaymentFailed.as_str(),
                    _ => MailboxStatus::RenewalFailed.as_str(),
                };
                if failed.is_some() {
                    self.apply(entity, target, shape, at, TriggeredBy::System)
                        .unwrap_or_default()
                } else {
                    self.world.set_renewal(entity, &RenewalStatus::Completed);
                    self.schedule_next(entity, at);
                    Vec::new()
                }
            }
        }
    }

    fn announce(
        &self,
        entity: EntityRef,
        mut object: Entity,
        change: &Change,
        shape: PayloadShape,
        at: DateTime<Utc>,
    ) -> Fired {
        let workspace = self.world.workspace_of(entity);
        let account = self.world.account(workspace);
        for_shape(&mut object, shape);
        Fired {
            workspace,
            envelope: Envelope::status_changed(shape, account, object, change, at),
        }
    }

    fn schedule_work(&mut self, entity: EntityRef, due: DateTime<Utc>, work: Work) {
        let epoch = self.world.epoch(entity);
        self.scheduler.schedule(
            due,
            Pending {
                entity,
                epoch,
                work,
            },
        );
    }

    /// Draws the entity's next step from `at` and schedules it, if it moves on by itself.
    fn schedule_next(&mut self, entity: EntityRef, at: DateTime<Utc>) {
        let status = self.world.status(entity);
        let period_end = || self.world.renewal_at(entity).unwrap_or(at).max(at);
        let next = match (entity.kind, status) {
            (EntityKind::Domain, "active") if !self.world.dns_complete(entity) => {
                Some((at + VARIANT_DNS_DELAY, Work::DnsComplete))
            }
            (EntityKind::Domain, "active") => Some((period_end(), Work::RenewalDue)),
            // Forced to wait for DNS that already propagated: it goes on at once.
            (EntityKind::Mailbox, "waiting_for_dns_propagation")
                if self.world.domain_ready(self.world.domain_of(entity)) =>
            {
                Some((
                    at,
                    Work::Status(index_of(
                        MailboxStatus::KNOWN,
                        &MailboxStatus::ConfiguringWorkspace,
                    )),
                ))
            }
            (EntityKind::Mailbox, "scheduled_for_cancellation") => Some((
                period_end(),
                Work::Status(index_of(MailboxStatus::KNOWN, &MailboxStatus::Cancelled)),
            )),
            (EntityKind::Mailbox, "active") => {
                let due = period_end();
                Some(
                    self.draw_failure(&MAILBOX, &MailboxStatus::Active, MailboxStatus::KNOWN, at)
                        .unwrap_or((due, Work::RenewalDue)),
                )
            }
            (EntityKind::Domain, _) => self.draw_step(
                &DOMAIN,
                &DomainStatus::parse(status),
                DomainStatus::KNOWN,
                at,
            ),
            (EntityKind::Mailbox, _) => self.draw_step(
                &MAILBOX,
                &MailboxStatus::parse(status),
                MailboxStatus::KNOWN,
                at,
            ),
            (EntityKind::ConsentRequest | EntityKind::ClientIdRequest, _) => self.draw_step(
                &REQUEST,
                &RequestStatus::parse(status),
                RequestStatus::KNOWN,
                at,
            ),
        };
        if let Some((due, work)) = next {
            self.schedule_work(entity, due, work);
        }
    }

    /// Each failure branch is taken with its probability (checked in table order).
    fn draw_failure<S: PartialEq + Clone>(
        &mut self,
        table: &Lifecycle<S>,
        from: &S,
        known: &[S],
        at: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, Work)> {
        for step in table.failures_from(from) {
            let rate = step.failure.map_or(0.0, |f| self.failures.rate(f.code));
            if rate > 0.0 && self.world.draw() < rate {
                return Some((
                    after(at, step.after),
                    Work::Status(index_of(known, &step.to)),
                ));
            }
        }
        None
    }

    /// A failure branch by its probability, else an observed variant by its probability, else
    /// the typical step, if there is one.
    fn draw_step<S: PartialEq + Clone>(
        &mut self,
        table: &Lifecycle<S>,
        from: &S,
        known: &[S],
        at: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, Work)> {
        if let Some(failure) = self.draw_failure(table, from, known, at) {
            return Some(failure);
        }
        for step in table.variants_from(from) {
            let rate = step
                .failure
                .map_or(0.0, |f| self.failures.variant_rate(f.code));
            if rate > 0.0 && self.world.draw() < rate {
                return Some((
                    after(at, step.after),
                    Work::Status(index_of(known, &step.to)),
                ));
            }
        }
        table.typical_from(from).map(|step| {
            (
                after(at, step.after),
                Work::Status(index_of(known, &step.to)),
            )
        })
    }
}

fn after(at: DateTime<Utc>, delay: std::time::Duration) -> DateTime<Utc> {
    at + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX)
}

/// The renewal failure branch of a kind: its code and how long the payment takes to settle.
fn renewal_step(kind: EntityKind) -> Option<(&'static str, std::time::Duration)> {
    let step = match kind {
        EntityKind::Domain => DOMAIN
            .step_of_kind(&DomainStatus::Active, StepKind::Renewal)
            .map(|s| (s.failure, s.after)),
        EntityKind::Mailbox => MAILBOX
            .step_of_kind(&MailboxStatus::Active, StepKind::Renewal)
            .map(|s| (s.failure, s.after)),
        EntityKind::ConsentRequest | EntityKind::ClientIdRequest => None,
    }?;
    Some((step.0?.code, step.1))
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
        let times: Vec<&str> = fired
            .iter()
            .map(|f| f.envelope.timestamp.as_str())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        assert_eq!(
            fired[0].envelope.timestamp, "2024-01-10T15:31:15.123Z",
            "first mailbox step after 30 s"
        );
        // The mailbox waits for its domain's DNS (15 min after registration + 2 min), then goes on.
        assert_eq!(
            statuses(&fired),
            [
                "pending",
                "processing",
                "waiting_for_dns_propagation",
                "waiting_for_dns_propagation",
                "active",
                "configuring_workspace",
                "configuring_dns",
                "configuring_dkim",
                "configuring_auth",
                "finalizing_setup",
                "active"
            ]
        );
        assert_eq!(
            fired[4].envelope.timestamp, fired[5].envelope.timestamp,
            "the mailbox goes on at the instant its domain is ready"
        );
        assert_eq!(sim.fired_total(), 10, "one step announced two changes");
        assert!(
            sim.fire_due(t0() + TimeDelta::days(20), PayloadShape::Seed, usize::MAX)
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
        let error = sim
            .check_transition(domain, "waiting_for_dns_propagation")
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("registration_in_progress, active, cancelled, deleted"),
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
