//! The world as a log of the changes made to it, so whoever keeps state (`--state`) can replay
//! it on a fresh simulation at start-up (`replay.rs`).
//!
//! The simulation is deterministic: the same seed, workspaces and failure rates, and the same
//! changes in the same order at the same simulated times, give the same entities, statuses and
//! scheduled steps. So the world is saved as what it was given ([`WorldConfig`]) and each
//! change ([`WorldOp`], numbered in the order it was made), not as a copy of its records.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::failures::FailureRates;
use crate::contract::{PayloadShape, Platform};

/// Receives the world's build config and every change made to it, in order, to keep them
/// across restarts (`persistence::StateWriter` for `--state sqlite:`). Calls must not block.
pub trait WorldLog: Send + Sync + std::fmt::Debug {
    /// What the world is built from (kept if one is saved already).
    fn config(&self, config: &WorldConfig);
    /// Changes made to the world, in the order made; a reset drops the earlier ones.
    fn changes(&self, ops: Vec<WorldOp>);
}

/// What a world is built from; a restart uses the saved one, whatever the flags say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorldConfig {
    /// Seed of the world.
    pub seed: u64,
    /// Workspaces in the team.
    pub workspaces: usize,
    /// Default failure-branch probability.
    pub failure_rate: f64,
    /// Failure-branch probabilities by code.
    pub failures: BTreeMap<String, f64>,
}

impl WorldConfig {
    /// The config of a simulation made with these arguments.
    pub fn new(seed: u64, workspaces: usize, failures: &FailureRates) -> Self {
        WorldConfig {
            seed,
            workspaces,
            failure_rate: failures.default,
            failures: failures
                .by_code
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        }
    }

    /// The failure rates it holds.
    pub fn failure_rates(&self) -> FailureRates {
        FailureRates {
            default: self.failure_rate,
            by_code: self.failures.clone().into_iter().collect(),
        }
    }
}

/// One change to the world, as the simulation was asked to make it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WorldOp {
    /// A domain registered.
    RegisterDomain {
        /// Workspace index.
        workspace: u16,
        /// Domain name.
        name: String,
        /// Registration years.
        years: u16,
        /// Simulated time.
        at: DateTime<Utc>,
    },
    /// A domain added for connection through DNS (in `cart`).
    ConnectDomain {
        /// Workspace index.
        workspace: u16,
        /// Domain name.
        name: String,
        /// Simulated time.
        at: DateTime<Utc>,
    },
    /// A mailbox bought.
    BuyMailbox {
        /// Workspace index.
        workspace: u16,
        /// Local part.
        username: String,
        /// First name.
        first_name: String,
        /// Last name.
        last_name: String,
        /// Mail platform.
        platform: Platform,
        /// Its domain.
        domain_name: String,
        /// Simulated time.
        at: DateTime<Utc>,
    },
    /// A consent or client-ID request opened.
    OpenRequest {
        /// `consent_request` or `client_id_request`.
        kind: String,
        /// Workspace index.
        workspace: u16,
        /// The domain of a client-ID request.
        domain_name: Option<String>,
        /// Simulated time.
        at: DateTime<Utc>,
    },
    /// An entity moved by hand (a user action, a cancellation, a removal).
    Transition {
        /// Entity kind (`domain`, `mailbox`, ...).
        kind: String,
        /// Entity uid.
        uid: String,
        /// Target status.
        to: String,
        /// Body layout in force.
        shape: PayloadShape,
        /// Simulated time.
        at: DateTime<Utc>,
    },
    /// Due steps fired up to `now` (at most `max`).
    FireDue {
        /// Simulated now.
        now: DateTime<Utc>,
        /// Body layout in force.
        shape: PayloadShape,
        /// Most steps fired.
        max: usize,
    },
    /// A workspace's webhook set.
    SetWebhook {
        /// Workspace index.
        workspace: u16,
        /// Its subscriber URL.
        url: String,
        /// Its webhook secret, when one was given (kept in the state file in clear).
        secret: Option<String>,
    },
    /// Back to the start (earlier changes are dropped from the log).
    Reset,
}
