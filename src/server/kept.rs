//! Saved state (`--state sqlite:PATH`, feature `state`) as `serve` uses it: opened before the
//! world is built, replayed into it, handed to the core as its [`StateSink`], its unfinished
//! deliveries resumed, and closed at shutdown.

use std::sync::Arc;

use super::state::{AppState, StateSink};
use super::{ServerConfig, ServerError};
use crate::persistence::{Saved, StateSpec, StateStore, StateWriter};
use crate::simulation::changes::WorldConfig;
use crate::simulation::replay::replay;
use crate::simulation::simulator::Simulation;

/// Saved state opened for a run: what the last run left, and the writer of this one.
#[derive(Debug)]
pub(super) struct Kept {
    saved: Saved,
    writer: StateWriter,
}

impl Kept {
    /// Opens the saved state `config` names, if any. Simulated time carries on from where the
    /// last run got (never backwards), so saved retry times keep their meaning.
    pub(super) fn open(config: &ServerConfig) -> Result<Option<Kept>, ServerError> {
        let StateSpec::Sqlite(path) = &config.state else {
            return Ok(None);
        };
        let store = StateStore::open(path)?;
        let saved = store.load()?;
        if let Some(at) = saved.clock.filter(|at| *at > config.clock.now()) {
            config.clock.jump_to(at);
        }
        let writer = store.into_writer(config.clock.clone())?;
        Ok(Some(Kept { saved, writer }))
    }

    /// What the saved world was built from: it wins over the flags, since replaying its changes
    /// needs the same seed, workspaces and failure rates.
    pub(super) fn world(&self) -> Option<WorldConfig> {
        self.saved.world.clone()
    }

    /// Makes every saved change again on `sim`, in order.
    pub(super) fn replay(&self, sim: &mut Simulation) {
        for op in &self.saved.world_ops {
            if let Err(error) = replay(sim, op) {
                tracing::warn!(%error, ?op, "a saved world change could not be replayed");
            }
        }
    }

    /// The store the core saves through.
    pub(super) fn sink(&self) -> Arc<dyn StateSink> {
        Arc::new(self.writer.clone())
    }

    /// Puts saved deliveries back in the journal and resumes the unfinished ones (see
    /// [`AppState::subscriber_for`] for where they go); returns the writer, to close at shutdown.
    pub(super) fn resume(self, state: &AppState) -> StateWriter {
        let total = self.saved.deliveries.len();
        let mut resumed = 0;
        for delivery in self.saved.deliveries {
            let subscriber = state.subscriber_for(&delivery.record);
            resumed += usize::from(state.sender().resume(subscriber, delivery));
        }
        tracing::info!(total, resumed, "state loaded");
        self.writer
    }
}
