//! The world as a log of the changes made to it, so whoever keeps state (`--state`) can replay
//! it on a fresh simulation at start-up.
//!
//! The simulation is deterministic: the same seed, workspaces and failure rates, and the same
//! changes in the same order at the same simulated times, give the same entities, statuses and
//! scheduled steps. So the world is saved as what it was given ([`WorldConfig`]) and each
//! change ([`WorldOp`], numbered in the order it was made), not as a copy of its records.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::simulator::{ActionError, FailureRates, Simulation};
use crate::contract::{PayloadShape, Platform, Secret};
use crate::model::world::{EntityKind, MailboxOrder};

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

/// Makes a recorded change again on `sim` (replaying saved state on a fresh simulation).
pub fn replay(sim: &mut Simulation, op: &WorldOp) -> Result<(), ActionError> {
    let kind_named = |name: &str| {
        EntityKind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| ActionError::UnknownEntity {
                kind: "entity kind",
                uid: name.to_owned(),
            })
    };
    match op {
        WorldOp::RegisterDomain {
            workspace,
            name,
            years,
            at,
        } => {
            sim.register_domain(*workspace, name, *years, *at)?;
        }
        WorldOp::ConnectDomain {
            workspace,
            name,
            at,
        } => {
            sim.connect_domain(*workspace, name, *at)?;
        }
        WorldOp::BuyMailbox {
            workspace,
            username,
            first_name,
            last_name,
            platform,
            domain_name,
            at,
        } => {
            let order = MailboxOrder {
                username: username.clone(),
                first_name: first_name.clone(),
                last_name: last_name.clone(),
                platform: platform.clone(),
                domain_name: domain_name.clone(),
            };
            sim.buy_mailbox(*workspace, &order, *at)?;
        }
        WorldOp::OpenRequest {
            kind,
            workspace,
            domain_name,
            at,
        } => {
            sim.open_request(kind_named(kind)?, *workspace, domain_name.as_deref(), *at);
        }
        WorldOp::Transition {
            kind,
            uid,
            to,
            shape,
            at,
        } => {
            let entity = sim.find(kind_named(kind)?, uid)?;
            sim.transition(entity, to, *shape, *at)?;
        }
        WorldOp::FireDue { now, shape, max } => {
            sim.fire_due(*now, *shape, *max);
        }
        WorldOp::SetWebhook {
            workspace,
            url,
            secret,
        } => {
            if let Ok(url) = url::Url::parse(url) {
                sim.set_webhook(*workspace, url, secret.clone().map(Secret::new));
            }
        }
        WorldOp::Reset => sim.reset(),
    }
    // What followed a replayed transition was announced in the first run; the journal holds it.
    sim.take_outbox();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::world::EntityKind;
    use chrono::TimeDelta;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-10T15:30:45.123Z")
            .unwrap()
            .to_utc()
    }

    /// Every entity of the world as JSON, in creation order.
    fn snapshot(sim: &Simulation) -> Vec<serde_json::Value> {
        EntityKind::ALL
            .into_iter()
            .flat_map(|kind| sim.world().list(kind, 0).collect::<Vec<_>>())
            .map(|entity| serde_json::to_value(sim.world().entity(entity)).unwrap())
            .collect()
    }

    #[test]
    fn connect_uncancel_and_cascades_replay_to_the_same_world() {
        let shape = PayloadShape::Seed;
        let mut sim = Simulation::new(5, 1, FailureRates::default());
        sim.record_ops();
        let own = sim.connect_domain(0, "own.io", t0()).unwrap();
        sim.issue_nameservers(own, shape, t0()).unwrap();
        sim.check_nameservers(own, shape, t0()).unwrap();
        let order = MailboxOrder {
            username: "ada".into(),
            first_name: "Ada".into(),
            last_name: "L".into(),
            platform: Platform::Microsoft,
            domain_name: "own.io".into(),
        };
        let mailbox = sim.buy_mailbox(0, &order, t0()).unwrap();
        let later = t0() + TimeDelta::hours(2);
        sim.fire_due(later, shape, usize::MAX);
        assert_eq!(sim.world().status(mailbox), "active");
        sim.transition_all(mailbox, "scheduled_for_cancellation", shape, later)
            .unwrap();
        sim.uncancel_mailbox(mailbox, shape, later).unwrap();
        sim.transition_all(own, "deleted", shape, later).unwrap();
        assert_eq!(
            sim.world().status(mailbox),
            "deleted",
            "the removal cascaded"
        );
        let ops = sim.take_ops();
        assert!(matches!(ops[0], WorldOp::ConnectDomain { .. }));

        let mut again = Simulation::new(5, 1, FailureRates::default());
        for op in &ops {
            replay(&mut again, op).unwrap();
        }
        assert_eq!(snapshot(&again), snapshot(&sim));
        assert_eq!(again.outbox_len(), 0, "replay announces nothing again");
    }
}
