//! Replaying a saved world: each recorded change made again, in order, on a fresh simulation.

use super::changes::WorldOp;
use super::simulator::{ActionError, Simulation};
use crate::contract::Secret;
use crate::model::world::{EntityKind, MailboxOrder};

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
    use crate::contract::{PayloadShape, Platform};
    use crate::simulation::failures::FailureRates;
    use chrono::{DateTime, TimeDelta, Utc};

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
