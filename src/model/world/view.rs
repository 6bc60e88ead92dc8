//! Materializing compact records as contract objects, and writing changed objects back.

use super::{EntityKind, EntityRef, World};
use crate::contract::{
    ClientIdRequest, ConnectionType, ConsentRequest, DnsPropagationStatus, Domain, DomainStatus,
    Entity, Mailbox, MailboxStatus, Platform, RenewalStatus, RequestStatus, format_timestamp,
};
use crate::model::compact::{NONE, encode_uid, index_of, value_at};
use crate::model::fake::{Faker, MAILBOXES_PER_DOMAIN, status_text};
use crate::model::ids::IdKind;

/// Whether a mailbox in `status` takes one of its domain's places (`assigned_mailboxes`):
/// every status but `cancelled`, `archived` and `deleted`.
fn counts(status: Option<&MailboxStatus>) -> bool {
    !matches!(
        status,
        None | Some(MailboxStatus::Cancelled | MailboxStatus::Archived | MailboxStatus::Deleted)
    )
}

/// `mailbox_cancellation_status` by its stored code.
const CANCELLATION: [Option<&str>; 3] = [None, Some("pending"), Some("completed")];

impl World {
    /// The entity as its contract object (what a webhook carries).
    pub fn entity(&self, entity: EntityRef) -> Entity {
        match entity.kind {
            EntityKind::Domain => Entity::Domain(self.domain(entity.index)),
            EntityKind::Mailbox => Entity::Mailbox(self.mailbox(entity.index)),
            EntityKind::ConsentRequest => {
                let record = &self.requests[0][entity.index as usize];
                let uid = encode_uid(IdKind::ConsentRequest, record.uid);
                let status =
                    value_at(RequestStatus::KNOWN, record.status).unwrap_or(RequestStatus::Queued);
                Entity::ConsentRequest(ConsentRequest {
                    consent_url: format!("https://app.inboxkit.com/consent/{uid}"),
                    uid,
                    status_text: status_text(&status),
                    status,
                    status_reason: record.reason.as_deref().map(str::to_owned),
                })
            }
            EntityKind::ClientIdRequest => {
                let record = &self.requests[1][entity.index as usize];
                let status =
                    value_at(RequestStatus::KNOWN, record.status).unwrap_or(RequestStatus::Queued);
                Entity::ClientIdRequest(ClientIdRequest {
                    uid: encode_uid(IdKind::ClientIdRequest, record.uid),
                    status_text: status_text(&status),
                    status,
                    status_reason: record.reason.as_deref().map(str::to_owned),
                    domain_name: record.domain_name.to_string(),
                })
            }
        }
    }

    fn domain(&self, index: u32) -> Domain {
        let record = &self.domains[index as usize];
        let mut domain = Faker::seeded(record.seed).purchased_domain(
            Some(record.name.to_string()),
            u32::from(record.years),
            record.created_at,
        );
        domain.uid = encode_uid(IdKind::Domain, record.uid);
        domain.status =
            value_at(DomainStatus::KNOWN, record.status).unwrap_or(DomainStatus::Deleted);
        domain.previous_status = value_at(DomainStatus::KNOWN, record.previous);
        domain.dns_propagation_status = value_at(DnsPropagationStatus::KNOWN, record.dns)
            .unwrap_or(DnsPropagationStatus::Pending);
        domain.assigned_mailboxes = record.assigned;
        domain.available_mailboxes = MAILBOXES_PER_DOMAIN.saturating_sub(record.assigned);
        domain.connection_type =
            value_at(ConnectionType::KNOWN, record.connection).unwrap_or(ConnectionType::Purchased);
        if domain.connection_type == ConnectionType::Dns {
            // Owned elsewhere and connected through DNS: nothing was registered (as in the seed
            // page's example, which has no `registration_years`).
            domain.registration_years = None;
        }
        if domain.connection_type == ConnectionType::Dns && domain.status == DomainStatus::Cart {
            // Nameservers are issued when the customer asks for them (`domains/nameservers`).
            domain.nameservers.clear();
        }
        domain.renewal_status =
            value_at(RenewalStatus::KNOWN, record.renewal).unwrap_or(RenewalStatus::NotDue);
        domain.renewal_date = self
            .renewal_at(super::EntityRef {
                kind: EntityKind::Domain,
                index,
            })
            .map(format_timestamp);
        domain
    }

    fn mailbox(&self, index: u32) -> Mailbox {
        let record = &self.mailboxes[index as usize];
        let mut names = record.names.split('\0');
        let (username, first, last) = (
            names.next().unwrap_or_default(),
            names.next().unwrap_or_default(),
            names.next().unwrap_or_default(),
        );
        let domain_name = &self.domains[record.domain as usize].name;
        let platform = value_at(Platform::KNOWN, record.platform).unwrap_or(Platform::Google);
        let mut mailbox = Faker::seeded(record.seed).mailbox_named(
            username,
            first,
            last,
            domain_name,
            platform,
            record.created_at,
        );
        mailbox.uid = encode_uid(IdKind::Mailbox, record.uid);
        mailbox.status =
            value_at(MailboxStatus::KNOWN, record.status).unwrap_or(MailboxStatus::Deleted);
        mailbox.previous_status = value_at(MailboxStatus::KNOWN, record.previous);
        mailbox.dns_propagation_status = value_at(DnsPropagationStatus::KNOWN, record.dns)
            .unwrap_or(DnsPropagationStatus::Pending);
        mailbox.mailbox_cancellation_status =
            CANCELLATION[usize::from(record.cancellation.min(2))].map(str::to_owned);
        mailbox.renewal_status =
            value_at(RenewalStatus::KNOWN, record.renewal).unwrap_or(RenewalStatus::NotDue);
        mailbox.renewal_date = self
            .renewal_at(super::EntityRef {
                kind: EntityKind::Mailbox,
                index,
            })
            .map(format_timestamp);
        if !record.provisioned {
            // Credentials exist once the mailbox is provisioned (first `active`).
            mailbox.password = None;
            mailbox.app_password = None;
            mailbox.secret = None;
        }
        mailbox
    }

    /// Writes `object`, a changed copy of `entity` (the simulation decides the change), back into
    /// the compact records; returns the object as stored, and whether the mailbox's credentials
    /// appeared with it (it became `active` for the first time: the stored object then carries
    /// them, so its changed fields differ from the copy's).
    pub fn store(&mut self, entity: EntityRef, object: Entity) -> (Entity, bool) {
        let mut object = object;
        let mut provisioned = false;
        let index = entity.index as usize;
        match object.clone() {
            Entity::Domain(d) => {
                let record = &mut self.domains[index];
                record.status = index_of(DomainStatus::KNOWN, &d.status);
                record.previous = d
                    .previous_status
                    .as_ref()
                    .map_or(NONE, |p| index_of(DomainStatus::KNOWN, p));
                record.dns = index_of(DnsPropagationStatus::KNOWN, &d.dns_propagation_status);
                record.renewal = index_of(RenewalStatus::KNOWN, &d.renewal_status);
                record.epoch = record.epoch.wrapping_add(1);
            }
            Entity::Mailbox(m) => {
                let record = &mut self.mailboxes[index];
                record.status = index_of(MailboxStatus::KNOWN, &m.status);
                record.previous = m
                    .previous_status
                    .as_ref()
                    .map_or(NONE, |p| index_of(MailboxStatus::KNOWN, p));
                record.dns = index_of(DnsPropagationStatus::KNOWN, &m.dns_propagation_status);
                record.cancellation = CANCELLATION
                    .iter()
                    .position(|c| *c == m.mailbox_cancellation_status.as_deref())
                    .unwrap_or(0) as u8;
                record.renewal = index_of(RenewalStatus::KNOWN, &m.renewal_status);
                record.epoch = record.epoch.wrapping_add(1);
                let released = counts(m.previous_status.as_ref()) && !counts(Some(&m.status));
                if m.status == MailboxStatus::Active && !record.provisioned {
                    record.provisioned = true;
                    provisioned = true;
                    // Credentials appear with this change.
                    object = Entity::Mailbox(self.mailbox(entity.index));
                }
                if released {
                    let domain = self.mailboxes[index].domain as usize;
                    let record = &mut self.domains[domain];
                    record.assigned = record.assigned.saturating_sub(1);
                }
            }
            Entity::ConsentRequest(ConsentRequest {
                status,
                status_reason,
                ..
            })
            | Entity::ClientIdRequest(ClientIdRequest {
                status,
                status_reason,
                ..
            }) => {
                let slot = usize::from(entity.kind == EntityKind::ClientIdRequest);
                let record = &mut self.requests[slot][index];
                record.status = index_of(RequestStatus::KNOWN, &status);
                record.reason = status_reason.as_deref().map(Into::into);
                record.epoch = record.epoch.wrapping_add(1);
            }
        }
        (object, provisioned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::world::tests::{now, order};

    #[test]
    fn compact_records_materialize_as_full_entities() {
        let mut world = World::new(9, 2);
        assert_eq!(world.workspaces().len(), 2);
        let domain = world.add_domain(1, "Example.COM", 2, now()).unwrap();
        let mailbox = world
            .add_mailbox(1, &order("grace", "example.com"), now())
            .unwrap();
        let Entity::Domain(d) = world.entity(domain) else {
            panic!("a domain")
        };
        assert_eq!(
            (
                d.name.as_str(),
                d.tld.as_str(),
                d.assigned_mailboxes,
                d.available_mailboxes
            ),
            ("example.com", "com", 1, 49)
        );
        assert_eq!(d.registration_years, Some(2));
        assert_eq!(world.find(&d.uid), Some(domain));
        let Entity::Mailbox(m) = world.entity(mailbox) else {
            panic!("a mailbox")
        };
        assert_eq!(
            (m.email.as_str(), m.first_name.as_str(), m.platform.as_str()),
            ("grace@example.com", "Grace", "MICROSOFT")
        );
        assert_eq!(
            world.entity(mailbox),
            Entity::Mailbox(m.clone()),
            "materializing twice gives the same credentials"
        );
        assert_eq!(world.label(mailbox), "grace@example.com");
        assert_eq!(world.list(EntityKind::Domain, 0).count(), 0);
        assert_eq!(world.list(EntityKind::Domain, 1).count(), 1);
    }

    #[test]
    fn a_stored_object_is_read_back_and_bumps_the_epoch() {
        let mut world = World::new(9, 1);
        let domain = world.add_domain(0, "a.io", 1, now()).unwrap();
        let Entity::Domain(mut d) = world.entity(domain) else {
            panic!("a domain");
        };
        d.status = DomainStatus::WaitingForDnsPropagation;
        d.previous_status = Some(DomainStatus::Pending);
        let (stored, provisioned) = world.store(domain, Entity::Domain(d.clone()));
        assert!(!provisioned);
        assert_eq!(stored, Entity::Domain(d));
        assert_eq!(world.entity(domain), stored);
        assert_eq!(
            (world.status(domain), world.epoch(domain)),
            ("waiting_for_dns_propagation", 1)
        );
    }
}
