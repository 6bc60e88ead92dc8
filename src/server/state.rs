//! Shared server state: the simulation, the sender, subscriber settings, and the driver task
//! that fires due transitions as simulated time passes.
//!
//! Lock order, to rule out deadlocks: `firing` (async) -> `settings` -> `sim` -> `subscribers`.
//! No lock is held across an `.await` except `firing`, which serializes firing only.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use url::Url;

mod change;
pub mod refusal;
mod walk;

pub use change::{Change, Changed};
pub use refusal::{AdvanceError, Refused};
pub use walk::Advanced;

use super::subscriber::SubscriberSettings;
use crate::contract::{PayloadShape, Secret};
use crate::delivery::{DeliveryRecord, JournalSink, Sender, Subscriber};
use crate::model::Faker;
use crate::model::world::World;
use crate::receiver::ReceivedStore;
use crate::simulation::Clock;
use crate::simulation::changes::{WorldConfig, WorldLog};
use crate::simulation::simulator::Simulation;

/// Transitions fired per lock acquisition; between batches other requests get the world.
pub const FIRE_BATCH: usize = 4096;

/// Where the server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Starting: routes answer, `/_mock/ready` says not yet.
    Starting = 0,
    /// Accepting work.
    Ready = 1,
    /// Shutting down: no new work, in-flight deliveries finishing.
    Draining = 2,
}

/// Where the server keeps state across restarts: the journal's sink and the world's change log,
/// in one store (`persistence::StateWriter` under `--state sqlite:`).
pub trait StateSink: JournalSink + WorldLog {}

impl<T: JournalSink + WorldLog> StateSink for T {}

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    sim: Mutex<Simulation>,
    firing: tokio::sync::Mutex<()>,
    wake: Notify,
    clock: Clock,
    sender: Sender,
    api_key: Secret,
    settings: RwLock<SubscriberSettings>,
    initial_settings: SubscriberSettings,
    builtin_url: Option<Url>,
    subscribers: RwLock<Vec<Arc<Subscriber>>>,
    builtin_store: Option<Arc<ReceivedStore>>,
    samples: Mutex<Faker>,
    phase: AtomicU8,
    max_body_bytes: usize,
    store: Option<Arc<dyn StateSink>>,
}

/// What [`AppState`] is made of.
#[derive(Debug)]
pub(crate) struct Parts {
    pub sim: Simulation,
    pub clock: Clock,
    pub sender: Sender,
    pub api_key: Secret,
    pub settings: SubscriberSettings,
    pub builtin_url: Option<Url>,
    pub builtin_store: Option<Arc<ReceivedStore>>,
    pub max_body_bytes: usize,
    pub store: Option<Arc<dyn StateSink>>,
}

impl AppState {
    /// State around a fresh simulation.
    pub(crate) fn new(parts: Parts) -> Self {
        let Parts {
            sim,
            clock,
            sender,
            api_key,
            settings,
            builtin_url,
            builtin_store,
            max_body_bytes,
            store,
        } = parts;
        if let Some(store) = &store {
            sender.journal().persist_to(store.clone());
        }
        let samples = Faker::seeded(sim.world().seed().wrapping_add(1));
        let state = AppState {
            sim: Mutex::new(sim),
            firing: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
            clock,
            sender,
            api_key,
            initial_settings: settings.clone(),
            settings: RwLock::new(settings),
            builtin_url,
            builtin_store,
            subscribers: RwLock::new(Vec::new()),
            samples: Mutex::new(samples),
            phase: AtomicU8::new(Phase::Starting as u8),
            max_body_bytes,
            store,
        };
        state.rebuild_subscribers();
        state
    }

    /// The simulated clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The sender (and through it, the journal).
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// The team API key REST calls must present.
    pub fn api_key(&self) -> &Secret {
        &self.api_key
    }

    /// The built-in receiver's webhook URL, when it runs.
    pub fn builtin_url(&self) -> Option<&Url> {
        self.builtin_url.as_ref()
    }

    /// What the built-in receiver got, when it runs.
    pub fn builtin_store(&self) -> Option<&Arc<ReceivedStore>> {
        self.builtin_store.as_ref()
    }

    /// Largest accepted request body.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The simulation, locked: only this module and the change service write to it.
    fn sim(&self) -> MutexGuard<'_, Simulation> {
        self.sim
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the simulation (scheduled steps, lookups, checks); to change it, see
    /// [`AppState::change`].
    pub fn read<T>(&self, read: impl FnOnce(&Simulation) -> T) -> T {
        read(&self.sim())
    }

    /// A generator for hand-triggered sample events (seeded from the world's seed).
    pub(crate) fn samples(&self) -> MutexGuard<'_, Faker> {
        self.samples
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of the subscriber settings.
    pub fn settings(&self) -> SubscriberSettings {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The body layout in force.
    pub fn shape(&self) -> PayloadShape {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .payload_shape
    }

    /// Replaces the subscriber settings and rebuilds every workspace's subscriber.
    pub fn set_settings(&self, settings: SubscriberSettings) {
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = settings;
        self.rebuild_subscribers();
    }

    /// Recomputes each workspace's delivery target (after a webhook or settings change).
    pub fn rebuild_subscribers(&self) {
        let settings = self.settings();
        let fallback = self.default_url(&settings);
        let built: Vec<Arc<Subscriber>> = {
            let sim = self.sim();
            sim.world()
                .workspaces()
                .iter()
                .map(|ws| settings.subscriber(ws, &fallback))
                .collect()
        };
        *self.subscribers.write().unwrap_or_else(|p| p.into_inner()) = built;
        self.save_world();
    }

    fn default_url(&self, settings: &SubscriberSettings) -> Url {
        settings
            .url
            .clone()
            .or_else(|| self.builtin_url.clone())
            .unwrap_or_else(|| {
                Url::parse("http://127.0.0.1:9/webhook").expect("a valid fallback URL")
            })
    }

    /// The subscriber of workspace `index`.
    pub fn subscriber(&self, index: u16) -> Arc<Subscriber> {
        let subscribers = self.subscribers.read().unwrap_or_else(|p| p.into_inner());
        subscribers
            .get(usize::from(index))
            .or_else(|| subscribers.first())
            .cloned()
            .expect("there is always a default workspace")
    }

    /// Where a delivery resumed from saved state goes: the subscriber with its target URL, or
    /// else (the URL changed between runs, e.g. the built-in receiver's port) the current
    /// subscriber of its workspace, as a redelivery would.
    pub fn subscriber_for(&self, record: &DeliveryRecord) -> Arc<Subscriber> {
        let known = self
            .subscribers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|s| s.url.as_str() == &*record.target)
            .cloned();
        known.unwrap_or_else(|| self.subscriber(self.workspace_of(record)))
    }

    /// The workspace a journaled body was addressed to (`workspace_id` or `data.metadata`).
    pub fn workspace_of(&self, record: &DeliveryRecord) -> u16 {
        let body: serde_json::Value =
            serde_json::from_str(&record.body).unwrap_or(serde_json::Value::Null);
        let id = body
            .get("workspace_id")
            .or_else(|| body.pointer("/data/metadata/workspace_id"))
            .and_then(serde_json::Value::as_str);
        id.and_then(|id| self.with_world(|w| w.workspace_index(id)))
            .unwrap_or(0)
    }

    /// The phase.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Starting,
            1 => Phase::Ready,
            _ => Phase::Draining,
        }
    }

    pub(crate) fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
    }

    /// Wakes the driver: something was scheduled that may be due earlier than it thought.
    /// Also saves the world's recent changes, when state is persisted.
    pub fn wake_driver(&self) {
        self.save_world();
        self.wake.notify_one();
    }

    /// Starts saving the world: its config (unless saved already) and every later change.
    pub(crate) fn persist_world(&self, config: &WorldConfig) {
        if let Some(store) = &self.store {
            store.config(config);
            self.sim().record_ops();
        }
    }

    /// Saves the world's last changes and waits until everything is committed (at shutdown).
    #[cfg(feature = "state")]
    pub(crate) async fn save_all(&self) {
        if let Some(store) = &self.store {
            self.save_world();
            store.flush().await;
        }
    }

    /// Whether state is kept across restarts (`--state`).
    pub fn persisted(&self) -> bool {
        self.store.is_some()
    }

    /// Fires every transition due by now, in order, and submits their webhooks; returns how many.
    pub async fn fire_due(&self) -> usize {
        let _firing = self.firing.lock().await;
        self.fire_due_locked().await
    }

    async fn fire_due_locked(&self) -> usize {
        let mut total = 0;
        loop {
            self.room_for_more().await;
            let shape = self.shape();
            let now = self.clock.now();
            let count = {
                let mut sim = self.sim();
                let batch = sim.fire_due(now, shape, FIRE_BATCH);
                let count = batch.len();
                if self.persisted() {
                    // Events queued before the world unlocks, then the change that fired them.
                    self.dispatch(batch);
                    self.log_changes(&mut sim);
                } else {
                    // Nothing to order against: other requests get the world meanwhile.
                    drop(sim);
                    self.dispatch(batch);
                }
                count
            };
            total += count;
            if count < FIRE_BATCH {
                return total;
            }
            tokio::task::yield_now().await;
        }
    }

    /// Back to the start of the world: same seed (same ids again), no scheduled lifecycle step,
    /// no delivery. Every scheduled retry is cancelled and every attempt in flight ends before it
    /// returns, so nothing sent afterwards belongs to the world before. Subscriber settings go
    /// back to those the server started with (changes through `/_mock/subscriber` are undone,
    /// so one test's faults never reach the next); the clock and the API key are kept.
    /// Refused while intake is closed; answers once the reset is saved.
    pub async fn reset(&self) -> Result<(), Refused> {
        self.intake()?;
        let _firing = self.firing.lock().await;
        self.sim().reset();
        *self.samples() = Faker::seeded(self.sim().world().seed().wrapping_add(1));
        self.sender.cancel_all().await;
        self.sender.journal().clear();
        self.set_settings(self.initial_settings.clone());
        self.wake_driver();
        self.saved().await
    }

    /// The world, for read-only views.
    pub fn with_world<T>(&self, read: impl FnOnce(&World) -> T) -> T {
        read(self.sim().world())
    }
}

/// Fires due transitions whenever simulated time reaches them, until `stop` is cancelled.
pub(crate) async fn drive(state: Arc<AppState>, stop: CancellationToken) {
    loop {
        state.fire_due().await;
        let woken = state.wake.notified();
        let next = state.sim().next_due();
        let clock = state.clock.clone();
        let sleep = async move {
            match next {
                Some(at) => clock.sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = woken => {}
            () = sleep => {}
        }
    }
}
