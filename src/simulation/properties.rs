//! Property tests of the whole world: random sequences of the actions the REST API and the
//! control API take (register, connect, nameservers, propagation checks, buy, cancel, uncancel,
//! remove, forced transitions) and clock advances, under random failure and variant rates.
//!
//! The oracle is a small model written apart from the simulator: it only follows the webhooks,
//! starting from each entity's documented first status, and checks that every announced
//! `previous_status -> status` is an edge of the lifecycle table and continues the entity's last
//! announced status, that nothing follows `deleted`, that time never runs backwards for an
//! entity, and that no mailbox is announced (or is) `active` while its domain is not.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;

use super::lifecycle::{DOMAIN, MAILBOX};
use super::simulator::{FailureRates, Fired, Simulation};
use crate::contract::{DomainStatus, Entity, MailboxStatus, PayloadShape, Platform};
use crate::model::world::{EntityKind, EntityRef, MailboxOrder};

const NAMES: [&str; 3] = ["a.io", "b.io", "c.io"];
const USERS: [&str; 3] = ["ada", "bob", "cy"];
const PLATFORMS: [Platform; 3] = [Platform::Google, Platform::Microsoft, Platform::Smtp];
const ADVANCES: [i64; 7] = [30, 600, 3600, 7200, 2 * 86_400, 35 * 86_400, 400 * 86_400];
/// Codes a run may turn on (each at rate 1 when on).
const CODES: [&str; 9] = [
    "payment_declined",
    "dns_propagation_failed",
    "provisioning_failed",
    "dkim_setup_failed",
    "activation_email_timeout",
    "provider_suspension",
    "renewal_payment_declined",
    "domain_renewal_declined",
    "observed_active_before_dns",
];

#[derive(Debug, Clone)]
enum Action {
    Register(usize),
    Connect(usize),
    Nameservers(usize),
    CheckNameservers(usize),
    Buy(usize, usize, usize),
    Cancel(usize),
    Uncancel(usize),
    Remove(usize),
    ForceDomain(usize, usize),
    ForceMailbox(usize, usize),
    Advance(usize),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (0..3usize).prop_map(Action::Register),
        (0..3usize).prop_map(Action::Connect),
        (0..3usize).prop_map(Action::Nameservers),
        (0..3usize).prop_map(Action::CheckNameservers),
        (0..3usize, 0..3usize, 0..3usize).prop_map(|(d, u, p)| Action::Buy(d, u, p)),
        (0..9usize).prop_map(Action::Cancel),
        (0..9usize).prop_map(Action::Uncancel),
        (0..3usize).prop_map(Action::Remove),
        (0..3usize, 0..DomainStatus::KNOWN.len()).prop_map(|(d, s)| Action::ForceDomain(d, s)),
        (0..9usize, 0..MailboxStatus::KNOWN.len()).prop_map(|(m, s)| Action::ForceMailbox(m, s)),
        (0..ADVANCES.len()).prop_map(Action::Advance),
        (0..ADVANCES.len()).prop_map(Action::Advance),
    ]
}

/// The oracle: what the webhooks said so far.
#[derive(Default)]
struct Model {
    /// Last announced (or first documented) status and instant per uid.
    last: HashMap<String, (String, String)>,
    /// Domain uid per domain name.
    domains: HashMap<String, String>,
}

impl Model {
    fn created(&mut self, uid: String, status: &str) {
        self.last.insert(uid, (status.to_owned(), String::new()));
    }

    fn observe(&mut self, fired: &Fired) -> Result<(), TestCaseError> {
        let envelope = &fired.envelope;
        let entity = &envelope.data.entity;
        let uid = entity.uid().to_owned();
        let to = entity.status().to_owned();
        let from = entity.previous_status().map(str::to_owned);
        let edge = match entity {
            Entity::Domain(_) => DOMAIN
                .step(
                    &DomainStatus::parse(from.as_deref().unwrap_or("")),
                    &DomainStatus::parse(&to),
                )
                .is_some(),
            Entity::Mailbox(_) => MAILBOX
                .step(
                    &MailboxStatus::parse(from.as_deref().unwrap_or("")),
                    &MailboxStatus::parse(&to),
                )
                .is_some(),
            Entity::ConsentRequest(_) | Entity::ClientIdRequest(_) => true,
        };
        prop_assert!(edge, "{uid}: {from:?} -> {to} is not an edge of the table");
        let (last, at) = self.last.get(&uid).cloned().unwrap_or_default();
        prop_assert_ne!(
            &last,
            "deleted",
            "{} changed after `deleted` (to {})",
            uid,
            to
        );
        prop_assert_eq!(Some(&last), from.as_ref(), "{} skipped a change", uid);
        prop_assert!(at <= envelope.timestamp, "{uid}: time ran backwards");
        if let Entity::Mailbox(mailbox) = entity
            && to == "active"
        {
            let domain = self
                .domains
                .get(&mailbox.domain_name)
                .cloned()
                .unwrap_or_default();
            let domain_status = self.last.get(&domain).map(|(s, _)| s.as_str());
            prop_assert_eq!(
                domain_status,
                Some("active"),
                "{} active on a domain that is not",
                uid
            );
        }
        self.last.insert(uid, (to, envelope.timestamp.clone()));
        Ok(())
    }
}

struct Run {
    sim: Simulation,
    model: Model,
    now: DateTime<Utc>,
    shape: PayloadShape,
}

impl Run {
    fn domain(&self, index: usize) -> Option<EntityRef> {
        self.sim.world().list(EntityKind::Domain, 0).nth(index)
    }

    fn mailbox(&self, index: usize) -> Option<EntityRef> {
        self.sim.world().list(EntityKind::Mailbox, 0).nth(index)
    }

    fn announce(&mut self, fired: Vec<Fired>) -> Result<(), TestCaseError> {
        for one in &fired {
            self.model.observe(one)?;
        }
        Ok(())
    }

    /// Moves `entity` to `to` as the REST and control handlers do: check, then act.
    fn act(&mut self, entity: EntityRef, to: &str) -> Result<(), TestCaseError> {
        if self.sim.check_transition(entity, to).is_ok() {
            let fired = self.sim.transition_all(entity, to, self.shape, self.now);
            prop_assert!(fired.is_ok(), "a checked transition failed: {fired:?}");
            self.announce(fired.unwrap_or_default())?;
        }
        Ok(())
    }

    fn step(&mut self, action: &Action) -> Result<(), TestCaseError> {
        match action {
            Action::Register(n) => {
                if let Ok(domain) = self.sim.register_domain(0, NAMES[*n], 1, self.now) {
                    let uid = self.sim.world().uid(domain);
                    self.model.domains.insert(NAMES[*n].to_owned(), uid.clone());
                    self.model.created(uid, "registration_in_progress");
                }
            }
            Action::Connect(n) => {
                if let Ok(domain) = self.sim.connect_domain(0, NAMES[*n], self.now) {
                    let uid = self.sim.world().uid(domain);
                    self.model.domains.insert(NAMES[*n].to_owned(), uid.clone());
                    self.model.created(uid, "cart");
                }
            }
            Action::Nameservers(n) | Action::CheckNameservers(n) => {
                if let Some(domain) = self.domain(*n) {
                    let fired = if matches!(action, Action::Nameservers(_)) {
                        self.sim.issue_nameservers(domain, self.shape, self.now)
                    } else {
                        self.sim.check_nameservers(domain, self.shape, self.now)
                    };
                    self.announce(fired.unwrap_or_default())?;
                }
            }
            Action::Buy(d, u, p) => {
                let order = MailboxOrder {
                    username: USERS[*u].to_owned(),
                    first_name: "A".to_owned(),
                    last_name: "B".to_owned(),
                    platform: PLATFORMS[*p].clone(),
                    domain_name: NAMES[*d].to_owned(),
                };
                if self.sim.world().check_mailbox(0, &order).is_ok()
                    && let Ok(mailbox) = self.sim.buy_mailbox(0, &order, self.now)
                {
                    let uid = self.sim.world().uid(mailbox);
                    self.model.created(uid, "scheduled");
                }
            }
            Action::Cancel(m) => {
                if let Some(mailbox) = self.mailbox(*m) {
                    let target = self.sim.cancellation_target(mailbox);
                    self.act(mailbox, target)?;
                }
            }
            Action::Uncancel(m) => {
                if let Some(mailbox) = self.mailbox(*m)
                    && self.sim.world().status(mailbox) == "scheduled_for_cancellation"
                    && self.sim.check_transition(mailbox, "active").is_ok()
                {
                    let fired = self.sim.uncancel_mailbox(mailbox, self.shape, self.now);
                    self.announce(fired.unwrap_or_default())?;
                }
            }
            Action::Remove(n) => {
                if let Some(domain) = self.domain(*n) {
                    self.act(domain, "deleted")?;
                }
            }
            Action::ForceDomain(n, s) => {
                if let Some(domain) = self.domain(*n) {
                    self.act(domain, DomainStatus::KNOWN[*s].as_str())?;
                }
            }
            Action::ForceMailbox(m, s) => {
                if let Some(mailbox) = self.mailbox(*m) {
                    self.act(mailbox, MailboxStatus::KNOWN[*s].as_str())?;
                }
            }
            Action::Advance(i) => {
                self.now += TimeDelta::seconds(ADVANCES[*i]);
                let fired = self.sim.fire_due(self.now, self.shape, usize::MAX);
                self.announce(fired)?;
            }
        }
        self.invariants()
    }

    /// The world itself: no mailbox `active` on a domain that is not.
    fn invariants(&self) -> Result<(), TestCaseError> {
        let world = self.sim.world();
        for mailbox in world.list(EntityKind::Mailbox, 0) {
            if world.status(mailbox) == "active" {
                let domain = world.domain_of(mailbox);
                prop_assert_eq!(world.status(domain), "active", "{}", world.label(mailbox));
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_action_sequences_keep_the_world_causal(
        actions in proptest::collection::vec(action(), 1..60),
        codes in proptest::collection::vec(proptest::bool::weighted(0.15), CODES.len()),
        current in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut failures = FailureRates::default();
        for (code, on) in CODES.iter().zip(&codes) {
            if *on {
                failures.by_code.insert((*code).to_owned(), 1.0);
            }
        }
        let mut run = Run {
            sim: Simulation::new(seed, 1, failures),
            model: Model::default(),
            now: DateTime::parse_from_rfc3339("2024-01-10T15:30:45.123Z").unwrap().to_utc(),
            shape: if current { PayloadShape::Current } else { PayloadShape::Seed },
        };
        for action in &actions {
            run.step(action)?;
        }
        // Let everything that is due happen, then check once more.
        run.step(&Action::Advance(ADVANCES.len() - 1))?;
    }
}

/// A run of `actions` with the given failure codes on; the first broken property, if any.
fn run_actions(actions: &[Action], codes: &[&str]) -> Result<usize, TestCaseError> {
    let mut failures = FailureRates::default();
    for code in codes {
        failures.by_code.insert((*code).to_owned(), 1.0);
    }
    let mut run = Run {
        sim: Simulation::new(7, 1, failures),
        model: Model::default(),
        now: DateTime::parse_from_rfc3339("2024-01-10T15:30:45.123Z")
            .unwrap()
            .to_utc(),
        shape: PayloadShape::Seed,
    };
    for action in actions {
        run.step(action)?;
    }
    Ok(run.model.last.len())
}

#[test]
fn the_oracle_follows_a_known_run() {
    let inactive = DomainStatus::KNOWN
        .iter()
        .position(|s| *s == DomainStatus::Inactive)
        .unwrap();
    let active = DomainStatus::KNOWN
        .iter()
        .position(|s| *s == DomainStatus::Active)
        .unwrap();
    let actions = [
        Action::Register(0),
        Action::Buy(0, 0, 1),
        Action::Advance(3),
        Action::ForceDomain(0, inactive),
        Action::ForceDomain(0, active),
        Action::Cancel(0),
        Action::Uncancel(0),
        Action::Connect(1),
        Action::Nameservers(1),
        Action::CheckNameservers(1),
        Action::Advance(5),
        Action::Remove(0),
        Action::Advance(6),
    ];
    assert_eq!(run_actions(&actions, &[]).unwrap(), 3);
    assert_eq!(
        run_actions(
            &actions,
            &["observed_active_before_dns", "provider_suspension"]
        )
        .unwrap(),
        3
    );
}
