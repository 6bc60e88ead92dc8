//! The one place the world changes. REST calls, control routes and the testkit describe a
//! change as a closure over a [`Change`]; [`AppState::change`] runs it with everything a change
//! needs around it, in this order:
//!
//! 1. refuse when intake is closed (shutting down, or saved state cannot be written);
//! 2. lock the simulation and act, at one instant (simulated now) and in one body layout;
//! 3. submit what the change announced, in order, before the world unlocks: each entity's
//!    events leave in the order they happened, and saved state never holds a change without
//!    its events (what was announced is submitted even when the closure then fails, so a
//!    change that happened is never silent);
//! 4. hand the change log to the state store, after those events;
//! 5. rebuild the subscribers if a webhook changed, and wake the driver (a new step may be due
//!    earlier than it thought);
//! 6. with saved state, wait until the change is committed, so a 2xx answer survives a crash.

use chrono::{DateTime, Utc};
use url::Url;

use super::refusal::Refused;
use super::{AppState, Phase};
use crate::contract::{PayloadShape, Secret};
use crate::delivery::{DeliveryId, OutgoingEvent};
use crate::model::world::{EntityKind, EntityRef, MailboxOrder, World};
use crate::simulation::simulator::{ActionError, Fired, Simulation};

/// A change in progress: the locked simulation, the instant it happens at and the body layout
/// in force. Its actions stamp every step with that instant and collect what they announce.
#[derive(Debug)]
pub struct Change<'a> {
    sim: &'a mut Simulation,
    now: DateTime<Utc>,
    shape: PayloadShape,
    announced: Vec<Fired>,
    webhooks_changed: bool,
}

/// What a change returned, with the deliveries of the events it announced, in order.
#[derive(Debug)]
pub struct Changed<T> {
    /// The closure's result.
    pub value: T,
    /// One delivery per announced event, in the order announced.
    pub deliveries: Vec<DeliveryId>,
}

impl Change<'_> {
    /// Simulated now: the instant of every step this change makes.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The body layout in force.
    pub fn shape(&self) -> PayloadShape {
        self.shape
    }

    /// The world as it stands (changes made so far included).
    pub fn world(&self) -> &World {
        self.sim.world()
    }

    /// The simulation, read-only: its checks (`check_transition`, `cancellation_target`,
    /// `find`) run before acting.
    pub fn sim(&self) -> &Simulation {
        self.sim
    }

    /// What this change announced so far, in order (the events it will submit).
    pub fn announced(&self) -> &[Fired] {
        &self.announced
    }

    fn announce(&mut self, fired: Vec<Fired>) {
        self.announced.extend(fired);
    }

    /// Moves `entity` to `to` with what follows from it (a removed domain's mailboxes); returns
    /// the position of the entity's own event among everything this change announced (events
    /// waiting in the outbox go first).
    pub fn transition(&mut self, entity: EntityRef, to: &str) -> Result<usize, ActionError> {
        let own = self.announced.len() + self.sim.outbox_len();
        let fired = self.sim.transition_all(entity, to, self.shape, self.now)?;
        self.announce(fired);
        Ok(own)
    }

    /// Withdraws a mailbox's cancellation (`scheduled_for_cancellation` -> `active`).
    pub fn uncancel_mailbox(&mut self, mailbox: EntityRef) -> Result<(), ActionError> {
        let fired = self.sim.uncancel_mailbox(mailbox, self.shape, self.now)?;
        self.announce(fired);
        Ok(())
    }

    /// Issues InboxKit's nameservers for a connected domain (`cart` -> `dns_setup_pending`).
    pub fn issue_nameservers(&mut self, domain: EntityRef) -> Result<(), ActionError> {
        let fired = self.sim.issue_nameservers(domain, self.shape, self.now)?;
        self.announce(fired);
        Ok(())
    }

    /// The customer pointed a domain at the nameservers (`dns_setup_pending` -> `pending`).
    pub fn check_nameservers(&mut self, domain: EntityRef) -> Result<(), ActionError> {
        let fired = self.sim.check_nameservers(domain, self.shape, self.now)?;
        self.announce(fired);
        Ok(())
    }

    /// Registers a domain for `years`; its lifecycle starts.
    pub fn register_domain(
        &mut self,
        workspace: u16,
        name: &str,
        years: u16,
    ) -> Result<EntityRef, ActionError> {
        self.sim.register_domain(workspace, name, years, self.now)
    }

    /// Adds a domain to connect through DNS (in `cart`).
    pub fn connect_domain(&mut self, workspace: u16, name: &str) -> Result<EntityRef, ActionError> {
        self.sim.connect_domain(workspace, name, self.now)
    }

    /// Buys a mailbox; its lifecycle starts (it waits for its domain).
    pub fn buy_mailbox(
        &mut self,
        workspace: u16,
        order: &MailboxOrder,
    ) -> Result<EntityRef, ActionError> {
        self.sim.buy_mailbox(workspace, order, self.now)
    }

    /// Opens a consent or client-ID request.
    pub fn open_request(
        &mut self,
        kind: EntityKind,
        workspace: u16,
        domain_name: Option<&str>,
    ) -> EntityRef {
        self.sim
            .open_request(kind, workspace, domain_name, self.now)
    }

    /// Sets a workspace's subscriber (and its secret, when given); false if it is unknown.
    pub fn set_webhook(&mut self, workspace: u16, url: Url, secret: Option<Secret>) -> bool {
        let set = self.sim.set_webhook(workspace, url, secret);
        self.webhooks_changed |= set;
        set
    }
}

impl AppState {
    /// Refuses new work once shutdown began, or while saved state cannot be written.
    pub fn intake(&self) -> Result<(), Refused> {
        match self.phase() {
            Phase::Draining => Err(Refused::ShuttingDown),
            Phase::Starting | Phase::Ready => self.storage(),
        }
    }

    /// With saved state, an error while the state writer cannot commit (a full disk).
    pub fn storage(&self) -> Result<(), Refused> {
        match &self.store {
            Some(store) if !store.healthy() => {
                Err(Refused::StateUnsaved(store.failure().unwrap_or_default()))
            }
            _ => Ok(()),
        }
    }

    /// Changes the world through `act` (see the module docs for what surrounds it). Fails with
    /// the closure's error, or with [`Refused`] (converted) when intake is closed or the change
    /// could not be saved.
    pub async fn change<T, E: From<Refused>>(
        &self,
        act: impl FnOnce(&mut Change<'_>) -> Result<T, E>,
    ) -> Result<Changed<T>, E> {
        self.intake()?;
        let now = self.clock.now();
        let shape = self.shape();
        let (value, deliveries, webhooks_changed) = {
            let mut sim = self.sim();
            let mut change = Change {
                sim: &mut sim,
                now,
                shape,
                announced: Vec::new(),
                webhooks_changed: false,
            };
            let value = act(&mut change);
            let Change {
                announced,
                webhooks_changed,
                ..
            } = change;
            let deliveries = self.dispatch(announced);
            self.log_changes(&mut sim);
            (value, deliveries, webhooks_changed)
        };
        if webhooks_changed {
            self.rebuild_subscribers();
        }
        self.wake.notify_one();
        let value = value?;
        self.saved().await?;
        Ok(Changed { value, deliveries })
    }

    /// With saved state, waits until every change made so far (world and journal) is committed,
    /// so an answer sent after it survives a crash; returns at once otherwise. An error when
    /// the commit failed (the changes are kept and retried, but the answer must not be 2xx).
    pub async fn saved(&self) -> Result<(), Refused> {
        if let Some(store) = &self.store {
            self.save_world();
            if !store.flush().await {
                return Err(Refused::StateUnsaved(store.failure().unwrap_or_default()));
            }
        }
        Ok(())
    }

    /// Submits announcements to their workspaces' subscribers, in order; returns delivery ids.
    pub(super) fn dispatch(&self, fired: Vec<Fired>) -> Vec<DeliveryId> {
        if fired.is_empty() {
            return Vec::new();
        }
        let subscribers = self
            .subscribers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        fired
            .into_iter()
            .map(|f| {
                let subscriber = subscribers
                    .get(usize::from(f.workspace))
                    .or_else(|| subscribers.first());
                let subscriber = subscriber
                    .cloned()
                    .expect("there is always a default workspace");
                self.sender
                    .submit(subscriber, OutgoingEvent::from_envelope(&f.envelope))
            })
            .collect()
    }

    /// Hands `sim`'s recorded changes to the state store; called with the world locked, after
    /// the events of those changes were submitted, so a change is never saved before its events.
    pub(super) fn log_changes(&self, sim: &mut Simulation) {
        if let Some(store) = &self.store {
            store.changes(sim.take_ops());
        }
    }

    /// Hands the world's changes made so far to the state store, when state is kept.
    pub(super) fn save_world(&self) {
        if self.store.is_some() {
            self.log_changes(&mut self.sim());
        }
    }
}
