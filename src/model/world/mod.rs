//! The simulated account: one team, its workspaces, and every entity, stored compactly.
//!
//! Entities live in one arena per kind (creation order, which listings follow) with a uid index.
//! A record keeps only what changes or was chosen by the caller; everything else (tags,
//! credentials, renewal dates) is regenerated from the entity's seed when the entity is
//! materialized as its contract object (`view.rs`), so a million entities fit in a few hundred
//! bytes each.

mod view;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use url::Url;

use super::compact::{NONE, decode_uid, encode_uid, index_of, mix, value_at};
use super::fake::{Faker, MAILBOXES_PER_DOMAIN, add_months};
use super::ids::IdKind;
use crate::contract::{
    Account, ConnectionType, DnsPropagationStatus, DomainStatus, MailboxStatus, Platform,
    RenewalStatus, RequestStatus, Secret,
};

/// The four kinds of entity that announce status changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    /// `data.domain`.
    Domain,
    /// `data.mailbox`.
    Mailbox,
    /// `data.consent_request`.
    ConsentRequest,
    /// `data.client_id_request`.
    ClientIdRequest,
}

impl EntityKind {
    /// Every kind.
    pub const ALL: [EntityKind; 4] = [
        EntityKind::Domain,
        EntityKind::Mailbox,
        EntityKind::ConsentRequest,
        EntityKind::ClientIdRequest,
    ];

    /// The id format of this kind.
    pub fn id_kind(self) -> IdKind {
        match self {
            EntityKind::Domain => IdKind::Domain,
            EntityKind::Mailbox => IdKind::Mailbox,
            EntityKind::ConsentRequest => IdKind::ConsentRequest,
            EntityKind::ClientIdRequest => IdKind::ClientIdRequest,
        }
    }

    /// The key under `data` (`domain`, `mailbox`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Domain => "domain",
            EntityKind::Mailbox => "mailbox",
            EntityKind::ConsentRequest => "consent_request",
            EntityKind::ClientIdRequest => "client_id_request",
        }
    }

    /// The plural used in control-API paths (`domains`, `consent_requests`, ...).
    pub fn from_plural(plural: &str) -> Option<Self> {
        match plural {
            "domains" => Some(EntityKind::Domain),
            "mailboxes" => Some(EntityKind::Mailbox),
            "consent_requests" => Some(EntityKind::ConsentRequest),
            "client_id_requests" => Some(EntityKind::ClientIdRequest),
            _ => None,
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// Where an entity lives in the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntityRef {
    /// Its kind.
    pub kind: EntityKind,
    /// Its position in the kind's arena (creation order).
    pub index: u32,
}

/// The team that owns everything; its API key authenticates REST calls.
#[derive(Debug, Clone)]
pub struct Team {
    /// `team-...`.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A workspace: where entities live and where their webhooks go.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// `ws_...`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The workspace's subscriber; `None` uses the mock's default subscriber.
    pub webhook_url: Option<Url>,
    /// The workspace's webhook secret; `None` uses the mock's default secret.
    pub webhook_secret: Option<Secret>,
}

/// What the buy endpoint receives for one mailbox.
#[derive(Debug, Clone)]
pub struct MailboxOrder {
    /// Local part of the address.
    pub username: String,
    /// Display first name.
    pub first_name: String,
    /// Display last name.
    pub last_name: String,
    /// Mail platform.
    pub platform: Platform,
    /// A domain of the workspace.
    pub domain_name: String,
}

/// Why the world refused to add an entity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorldError {
    /// The domain name is taken.
    #[error("the domain `{0}` is already registered")]
    DuplicateDomain(String),
    /// The address is taken.
    #[error("the mailbox `{0}` already exists")]
    DuplicateEmail(String),
    /// No such domain in the workspace.
    #[error("no domain `{0}` in this workspace")]
    UnknownDomain(String),
    /// The domain holds no more mailboxes.
    #[error("the domain `{0}` has no mailboxes available")]
    DomainFull(String),
    /// A name that cannot be a domain or an address.
    #[error("`{0}` is not a valid {1}")]
    Invalid(String, &'static str),
    /// The mailbox's domain is not active, so the mailbox cannot be.
    #[error("the domain `{0}` is not active, so its mailboxes cannot be active")]
    DomainNotActive(String),
}

#[derive(Debug)]
struct DomainRecord {
    uid: u64,
    seed: u64,
    name: Arc<str>,
    created_at: DateTime<Utc>,
    assigned: u32,
    epoch: u32,
    workspace: u16,
    years: u16,
    status: u8,
    previous: u8,
    dns: u8,
    /// Index in [`ConnectionType::KNOWN`].
    connection: u8,
    /// Index in [`RenewalStatus::KNOWN`].
    renewal: u8,
    /// Renewals completed so far (each moves the renewal date a period on).
    renewals: u16,
}

#[derive(Debug)]
struct MailboxRecord {
    uid: u64,
    seed: u64,
    /// `username`, `first_name` and `last_name`, separated by NUL: one allocation.
    names: Box<str>,
    created_at: DateTime<Utc>,
    domain: u32,
    epoch: u32,
    workspace: u16,
    platform: u8,
    status: u8,
    previous: u8,
    dns: u8,
    /// 0: none, 1: pending, 2: completed.
    cancellation: u8,
    /// Index in [`RenewalStatus::KNOWN`].
    renewal: u8,
    /// Renewals completed so far.
    renewals: u16,
    /// Reached `active` once: its credentials exist.
    provisioned: bool,
    /// Waiting for its domain to be active again (held at `finalizing_setup`, or made
    /// `inactive` because the domain stopped being active).
    held: bool,
}

#[derive(Debug)]
struct RequestRecord {
    uid: u64,
    /// Client-ID requests: the domain; consent requests: empty.
    domain_name: Arc<str>,
    reason: Option<Box<str>>,
    epoch: u32,
    workspace: u16,
    status: u8,
}

/// The whole simulated account.
#[derive(Debug)]
pub struct World {
    seed: u64,
    faker: Faker,
    created: u64,
    team: Team,
    workspaces: Vec<Workspace>,
    /// Envelope ids per workspace, built once (workspace ids never change).
    accounts: Vec<Account>,
    domains: Vec<DomainRecord>,
    mailboxes: Vec<MailboxRecord>,
    requests: [Vec<RequestRecord>; 2],
    uids: [HashMap<u64, u32>; 4],
    domain_names: HashMap<Arc<str>, u32>,
    emails: HashMap<Box<str>, u32>,
    /// Mailbox indexes per domain index, in creation order.
    domain_mailboxes: Vec<Vec<u32>>,
}

impl World {
    /// A world with one team and `workspaces` workspaces (at least one), all from `seed`.
    pub fn new(seed: u64, workspaces: usize) -> Self {
        let mut faker = Faker::seeded(seed);
        let account = faker.account();
        let mut list = vec![Workspace {
            id: account.workspace_id,
            name: "Default workspace".to_owned(),
            webhook_url: None,
            webhook_secret: None,
        }];
        for number in 2..=workspaces.clamp(1, usize::from(u16::MAX)) {
            list.push(Workspace {
                id: faker.id(IdKind::Workspace),
                name: format!("Workspace {number}"),
                webhook_url: None,
                webhook_secret: None,
            });
        }
        let accounts = list
            .iter()
            .map(|w| Account {
                team_id: account.team_id.clone(),
                team_name: account.team_name.clone(),
                workspace_id: w.id.clone(),
            })
            .collect();
        World {
            seed,
            faker,
            created: 0,
            team: Team {
                id: account.team_id,
                name: account.team_name,
            },
            workspaces: list,
            accounts,
            domains: Vec::new(),
            mailboxes: Vec::new(),
            requests: [Vec::new(), Vec::new()],
            uids: Default::default(),
            domain_names: HashMap::new(),
            emails: HashMap::new(),
            domain_mailboxes: Vec::new(),
        }
    }

    /// The seed everything was drawn from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The team.
    pub fn team(&self) -> &Team {
        &self.team
    }

    /// Every workspace; index 0 is the default one.
    pub fn workspaces(&self) -> &[Workspace] {
        &self.workspaces
    }

    /// A workspace by index, to change its webhook.
    pub fn workspace_mut(&mut self, index: u16) -> Option<&mut Workspace> {
        self.workspaces.get_mut(usize::from(index))
    }

    /// The index of the workspace with id `id`.
    pub fn workspace_index(&self, id: &str) -> Option<u16> {
        self.workspaces
            .iter()
            .position(|w| w.id == id)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// Team and workspace ids as an envelope needs them.
    pub fn account(&self, workspace: u16) -> &Account {
        &self.accounts[usize::from(workspace).min(self.accounts.len() - 1)]
    }

    /// A uniform draw in `[0, 1)` from the world's seeded generator.
    pub fn draw(&mut self) -> f64 {
        self.faker.unit()
    }

    /// A fake, plausible domain name from the world's generator.
    pub fn fake_domain_name(&mut self) -> String {
        self.faker.domain_name()
    }

    /// How many entities of `kind` exist (deleted ones included).
    pub fn count(&self, kind: EntityKind) -> usize {
        match kind {
            EntityKind::Domain => self.domains.len(),
            EntityKind::Mailbox => self.mailboxes.len(),
            EntityKind::ConsentRequest => self.requests[0].len(),
            EntityKind::ClientIdRequest => self.requests[1].len(),
        }
    }

    fn new_uid(&mut self, kind: EntityKind) -> u64 {
        loop {
            let uid = self.faker.id(kind.id_kind());
            let code = decode_uid(kind.id_kind(), &uid).expect("generated ids decode");
            if !self.uids[kind.slot()].contains_key(&code) {
                return code;
            }
        }
    }

    fn next_seed(&mut self) -> u64 {
        self.created += 1;
        mix(self.seed ^ mix(self.created))
    }

    fn insert_uid(&mut self, kind: EntityKind, code: u64, index: usize) -> EntityRef {
        let index = u32::try_from(index).expect("fewer than 2^32 entities of a kind");
        self.uids[kind.slot()].insert(code, index);
        EntityRef { kind, index }
    }

    /// Whether `name` (lowercased) could be registered: valid and not taken.
    pub fn check_domain(&self, name: &str) -> Result<(), WorldError> {
        let name = name.trim().to_ascii_lowercase();
        if !valid_domain(&name) {
            return Err(WorldError::Invalid(name, "domain name"));
        }
        if self.domain_names.contains_key(name.as_str()) {
            return Err(WorldError::DuplicateDomain(name));
        }
        Ok(())
    }

    /// Registers a domain in `registration_in_progress`.
    pub fn add_domain(
        &mut self,
        workspace: u16,
        name: &str,
        years: u16,
        now: DateTime<Utc>,
    ) -> Result<EntityRef, WorldError> {
        self.insert_domain(
            workspace,
            name,
            years,
            now,
            DomainStatus::RegistrationInProgress,
            ConnectionType::Purchased,
        )
    }

    /// Adds a domain the customer owns elsewhere, to connect through DNS: it starts in `cart`.
    pub fn add_connected_domain(
        &mut self,
        workspace: u16,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<EntityRef, WorldError> {
        self.insert_domain(
            workspace,
            name,
            1,
            now,
            DomainStatus::Cart,
            ConnectionType::Dns,
        )
    }

    fn insert_domain(
        &mut self,
        workspace: u16,
        name: &str,
        years: u16,
        now: DateTime<Utc>,
        status: DomainStatus,
        connection: ConnectionType,
    ) -> Result<EntityRef, WorldError> {
        self.check_domain(name)?;
        let uid = self.new_uid(EntityKind::Domain);
        let seed = self.next_seed();
        let name: Arc<str> = name.trim().to_ascii_lowercase().into();
        self.domain_names
            .insert(name.clone(), self.domains.len() as u32);
        self.domains.push(DomainRecord {
            uid,
            seed,
            name,
            created_at: now,
            assigned: 0,
            epoch: 0,
            workspace,
            years: years.max(1),
            status: index_of(DomainStatus::KNOWN, &status),
            previous: NONE,
            dns: index_of(DnsPropagationStatus::KNOWN, &DnsPropagationStatus::Pending),
            connection: index_of(ConnectionType::KNOWN, &connection),
            renewal: index_of(RenewalStatus::KNOWN, &RenewalStatus::NotDue),
            renewals: 0,
        });
        self.domain_mailboxes.push(Vec::new());
        Ok(self.insert_uid(EntityKind::Domain, uid, self.domains.len() - 1))
    }

    /// Whether `order` could be bought in `workspace`; returns the domain's index and the address.
    pub fn check_mailbox(
        &self,
        workspace: u16,
        order: &MailboxOrder,
    ) -> Result<(u32, String), WorldError> {
        let domain_name = order.domain_name.trim().to_ascii_lowercase();
        let username = order.username.trim().to_ascii_lowercase();
        if username.is_empty()
            || username.len() > 64
            || !username
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
        {
            return Err(WorldError::Invalid(username, "username"));
        }
        let domain = self
            .domain_names
            .get(domain_name.as_str())
            .copied()
            .filter(|d| self.domains[*d as usize].workspace == workspace)
            .filter(|d| {
                !matches!(
                    self.domain_status(*d),
                    DomainStatus::Deleted | DomainStatus::Cancelled
                )
            })
            .ok_or_else(|| WorldError::UnknownDomain(domain_name.clone()))?;
        self.check_capacity(domain, 1)?;
        let email = format!("{username}@{domain_name}");
        if self.emails.contains_key(email.as_str()) {
            return Err(WorldError::DuplicateEmail(email));
        }
        Ok((domain, email))
    }

    /// Whether domain `domain` can take `more` mailboxes.
    pub fn check_capacity(&self, domain: u32, more: u32) -> Result<(), WorldError> {
        let record = &self.domains[domain as usize];
        if record.assigned.saturating_add(more) > MAILBOXES_PER_DOMAIN {
            return Err(WorldError::DomainFull(record.name.to_string()));
        }
        Ok(())
    }

    /// Adds a mailbox in `scheduled` on a domain of `workspace`.
    pub fn add_mailbox(
        &mut self,
        workspace: u16,
        order: &MailboxOrder,
        now: DateTime<Utc>,
    ) -> Result<EntityRef, WorldError> {
        let (domain, email) = self.check_mailbox(workspace, order)?;
        let username = email.split('@').next().unwrap_or_default().to_owned();
        let uid = self.new_uid(EntityKind::Mailbox);
        let seed = self.next_seed();
        self.domains[domain as usize].assigned += 1;
        self.domain_mailboxes[domain as usize].push(self.mailboxes.len() as u32);
        self.emails
            .insert(email.into_boxed_str(), self.mailboxes.len() as u32);
        self.mailboxes.push(MailboxRecord {
            uid,
            seed,
            names: format!(
                "{username}\0{}\0{}",
                clean(&order.first_name),
                clean(&order.last_name)
            )
            .into_boxed_str(),
            created_at: now,
            domain,
            epoch: 0,
            workspace,
            platform: index_of(Platform::KNOWN, &order.platform),
            status: index_of(MailboxStatus::KNOWN, &MailboxStatus::Scheduled),
            previous: NONE,
            dns: index_of(DnsPropagationStatus::KNOWN, &DnsPropagationStatus::Pending),
            cancellation: 0,
            renewal: index_of(RenewalStatus::KNOWN, &RenewalStatus::NotDue),
            renewals: 0,
            provisioned: false,
            held: false,
        });
        Ok(self.insert_uid(EntityKind::Mailbox, uid, self.mailboxes.len() - 1))
    }

    /// Adds a consent request (or, with a domain, a client-ID request) in `queued`.
    pub fn add_request(
        &mut self,
        kind: EntityKind,
        workspace: u16,
        domain_name: Option<&str>,
    ) -> EntityRef {
        let slot = usize::from(kind == EntityKind::ClientIdRequest);
        let uid = self.new_uid(kind);
        self.requests[slot].push(RequestRecord {
            uid,
            domain_name: domain_name.unwrap_or_default().to_ascii_lowercase().into(),
            reason: None,
            epoch: 0,
            workspace,
            status: index_of(RequestStatus::KNOWN, &RequestStatus::Queued),
        });
        let index = self.requests[slot].len() - 1;
        self.insert_uid(kind, uid, index)
    }

    /// The entity with `uid`, of whichever kind its prefix names.
    pub fn find(&self, uid: &str) -> Option<EntityRef> {
        EntityKind::ALL
            .into_iter()
            .find_map(|kind| self.find_kind(kind, uid))
    }

    /// The entity of `kind` with `uid`.
    pub fn find_kind(&self, kind: EntityKind, uid: &str) -> Option<EntityRef> {
        let code = decode_uid(kind.id_kind(), uid)?;
        let index = *self.uids[kind.slot()].get(&code)?;
        Some(EntityRef { kind, index })
    }

    /// The entity's uid as sent.
    pub fn uid(&self, entity: EntityRef) -> String {
        let code = match entity.kind {
            EntityKind::Domain => self.domains[entity.index as usize].uid,
            EntityKind::Mailbox => self.mailboxes[entity.index as usize].uid,
            EntityKind::ConsentRequest => self.requests[0][entity.index as usize].uid,
            EntityKind::ClientIdRequest => self.requests[1][entity.index as usize].uid,
        };
        encode_uid(entity.kind.id_kind(), code)
    }

    fn domain_status(&self, index: u32) -> DomainStatus {
        value_at(DomainStatus::KNOWN, self.domains[index as usize].status)
            .unwrap_or(DomainStatus::Deleted)
    }

    /// The workspace the entity belongs to.
    pub fn workspace_of(&self, entity: EntityRef) -> u16 {
        match entity.kind {
            EntityKind::Domain => self.domains[entity.index as usize].workspace,
            EntityKind::Mailbox => self.mailboxes[entity.index as usize].workspace,
            EntityKind::ConsentRequest => self.requests[0][entity.index as usize].workspace,
            EntityKind::ClientIdRequest => self.requests[1][entity.index as usize].workspace,
        }
    }

    /// Bumped on every status change; a scheduled step made at another epoch is stale.
    pub fn epoch(&self, entity: EntityRef) -> u32 {
        match entity.kind {
            EntityKind::Domain => self.domains[entity.index as usize].epoch,
            EntityKind::Mailbox => self.mailboxes[entity.index as usize].epoch,
            EntityKind::ConsentRequest => self.requests[0][entity.index as usize].epoch,
            EntityKind::ClientIdRequest => self.requests[1][entity.index as usize].epoch,
        }
    }

    /// The current status, as sent on the wire.
    pub fn status(&self, entity: EntityRef) -> &'static str {
        let index = usize::from(match entity.kind {
            EntityKind::Domain => self.domains[entity.index as usize].status,
            EntityKind::Mailbox => self.mailboxes[entity.index as usize].status,
            EntityKind::ConsentRequest => self.requests[0][entity.index as usize].status,
            EntityKind::ClientIdRequest => self.requests[1][entity.index as usize].status,
        });
        let name = match entity.kind {
            EntityKind::Domain => DomainStatus::KNOWN.get(index).map(|s| s.as_str()),
            EntityKind::Mailbox => MailboxStatus::KNOWN.get(index).map(|s| s.as_str()),
            _ => RequestStatus::KNOWN.get(index).map(|s| s.as_str()),
        };
        name.unwrap_or("unknown")
    }

    /// Entities of `kind` in `workspace`, in creation order.
    pub fn list(&self, kind: EntityKind, workspace: u16) -> impl Iterator<Item = EntityRef> + '_ {
        (0..self.count(kind) as u32)
            .map(move |index| EntityRef { kind, index })
            .filter(move |entity| self.workspace_of(*entity) == workspace)
    }

    /// The domain a mailbox lives on.
    pub fn domain_of(&self, mailbox: EntityRef) -> EntityRef {
        EntityRef {
            kind: EntityKind::Domain,
            index: self.mailboxes[mailbox.index as usize].domain,
        }
    }

    /// The mailboxes on a domain, in creation order.
    pub fn mailboxes_on(&self, domain: EntityRef) -> Vec<EntityRef> {
        self.domain_mailboxes
            .get(domain.index as usize)
            .map(|list| {
                list.iter()
                    .map(|index| EntityRef {
                        kind: EntityKind::Mailbox,
                        index: *index,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the domain's DNS has propagated (`completed` or `propagated`).
    pub fn dns_complete(&self, domain: EntityRef) -> bool {
        matches!(
            value_at(
                DnsPropagationStatus::KNOWN,
                self.domains[domain.index as usize].dns
            ),
            Some(DnsPropagationStatus::Completed | DnsPropagationStatus::Propagated)
        )
    }

    /// Whether the domain is `active`.
    pub fn domain_active(&self, domain: EntityRef) -> bool {
        self.domain_status(domain.index) == DomainStatus::Active
    }

    /// Whether mailboxes on the domain can be provisioned: `active` with DNS propagated.
    pub fn domain_ready(&self, domain: EntityRef) -> bool {
        self.domain_active(domain) && self.dns_complete(domain)
    }

    /// Records that the domain's DNS propagated, without a status change (no webhook).
    pub fn complete_dns(&mut self, domain: EntityRef) {
        self.domains[domain.index as usize].dns = index_of(
            DnsPropagationStatus::KNOWN,
            &DnsPropagationStatus::Completed,
        );
    }

    /// A mailbox's platform.
    pub fn platform(&self, mailbox: EntityRef) -> Platform {
        value_at(
            Platform::KNOWN,
            self.mailboxes[mailbox.index as usize].platform,
        )
        .unwrap_or(Platform::Google)
    }

    /// Whether a mailbox waits for its domain to be active again.
    pub fn held(&self, mailbox: EntityRef) -> bool {
        self.mailboxes[mailbox.index as usize].held
    }

    /// Marks a mailbox as waiting (or no longer waiting) for its domain.
    pub fn set_held(&mut self, mailbox: EntityRef, held: bool) {
        self.mailboxes[mailbox.index as usize].held = held;
    }

    /// When the entity's paid period ends (domains and mailboxes): its creation date plus the
    /// years bought (domains) or one month (mailboxes) per period, by the calendar.
    pub fn renewal_at(&self, entity: EntityRef) -> Option<DateTime<Utc>> {
        match entity.kind {
            EntityKind::Domain => {
                let record = &self.domains[entity.index as usize];
                let months = 12 * (u32::from(record.years) + u32::from(record.renewals));
                Some(add_months(record.created_at, months))
            }
            EntityKind::Mailbox => {
                let record = &self.mailboxes[entity.index as usize];
                Some(add_months(
                    record.created_at,
                    1 + u32::from(record.renewals),
                ))
            }
            EntityKind::ConsentRequest | EntityKind::ClientIdRequest => None,
        }
    }

    /// The entity's `renewal_status`.
    pub fn renewal_status(&self, entity: EntityRef) -> RenewalStatus {
        let index = match entity.kind {
            EntityKind::Domain => self.domains[entity.index as usize].renewal,
            EntityKind::Mailbox => self.mailboxes[entity.index as usize].renewal,
            EntityKind::ConsentRequest | EntityKind::ClientIdRequest => NONE,
        };
        value_at(RenewalStatus::KNOWN, index).unwrap_or(RenewalStatus::Na)
    }

    /// Sets the entity's `renewal_status` without a status change (no webhook); a `completed`
    /// renewal also moves the renewal date a period on.
    pub fn set_renewal(&mut self, entity: EntityRef, status: &RenewalStatus) {
        let index = index_of(RenewalStatus::KNOWN, status);
        let completed = *status == RenewalStatus::Completed;
        let (renewal, renewals) = match entity.kind {
            EntityKind::Domain => {
                let r = &mut self.domains[entity.index as usize];
                (&mut r.renewal, &mut r.renewals)
            }
            EntityKind::Mailbox => {
                let r = &mut self.mailboxes[entity.index as usize];
                (&mut r.renewal, &mut r.renewals)
            }
            EntityKind::ConsentRequest | EntityKind::ClientIdRequest => return,
        };
        *renewal = index;
        if completed {
            *renewals = renewals.saturating_add(1);
        }
    }

    /// The domain's name or the mailbox's address (for keyword searches); "" for requests.
    pub fn label(&self, entity: EntityRef) -> std::borrow::Cow<'_, str> {
        match entity.kind {
            EntityKind::Domain => self.domains[entity.index as usize].name.as_ref().into(),
            EntityKind::Mailbox => {
                let record = &self.mailboxes[entity.index as usize];
                let username = record.names.split('\0').next().unwrap_or_default();
                format!("{username}@{}", self.domains[record.domain as usize].name).into()
            }
            EntityKind::ConsentRequest | EntityKind::ClientIdRequest => "".into(),
        }
    }
}

/// A display name as stored: trimmed, without the NUL that separates stored names.
fn clean(name: &str) -> String {
    name.trim().replace('\0', "")
}

fn valid_domain(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fixed instant for tests in the world's modules.
    pub(crate) fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-10T15:30:45.123Z")
            .unwrap()
            .to_utc()
    }

    /// A mailbox order for tests in the world's modules.
    pub(crate) fn order(username: &str, domain: &str) -> MailboxOrder {
        MailboxOrder {
            username: username.into(),
            first_name: "Grace".into(),
            last_name: "Hopper".into(),
            platform: Platform::Microsoft,
            domain_name: domain.into(),
        }
    }

    #[test]
    fn names_are_checked_and_unique() {
        let mut world = World::new(1, 1);
        world.add_domain(0, "a.io", 1, now()).unwrap();
        assert_eq!(
            world.add_domain(0, "A.IO", 1, now()),
            Err(WorldError::DuplicateDomain("a.io".into()))
        );
        assert!(matches!(
            world.add_domain(0, "no_tld", 1, now()),
            Err(WorldError::Invalid(..))
        ));
        world.add_mailbox(0, &order("x", "a.io"), now()).unwrap();
        assert!(matches!(
            world.add_mailbox(0, &order("X", "a.io"), now()),
            Err(WorldError::DuplicateEmail(_))
        ));
        assert!(matches!(
            world.add_mailbox(0, &order("y", "b.io"), now()),
            Err(WorldError::UnknownDomain(_))
        ));
        assert!(matches!(
            world.add_mailbox(0, &order("a b", "a.io"), now()),
            Err(WorldError::Invalid(..))
        ));
        assert_eq!(
            World::new(1, 1).team().id,
            world.team().id,
            "the same seed, the same team"
        );
    }
}
