//! A typical status change of each event type, for `send`, `check` and direct triggers.

use chrono::{DateTime, Utc};

use super::lifecycle::{DOMAIN, MAILBOX, REQUEST, Step};
use super::transition::{
    IllegalTransition, advance_client_id, advance_consent, advance_domain, advance_mailbox,
    walk_domain, walk_mailbox,
};
use crate::contract::{
    Account, Change, DomainStatus, Entity, Envelope, EventType, MailboxStatus, PayloadShape,
    Platform, RequestStatus,
};
use crate::model::Faker;

/// Makes sample envelopes as [`sample_envelope`] does, for load runs that make one per send:
/// the report of a typical path's last step (reason, changed fields, trigger, failure) is the same
/// for every entity of a kind, so it is worked out (by comparing the entity before and after)
/// for each event type and shape's first sample only; later samples walk the path unreported.
#[derive(Debug, Default)]
pub struct Sampler {
    reports: Vec<((EventType, PayloadShape), Change)>,
}

impl Sampler {
    /// The same envelope as [`sample_envelope`] with the same generator state.
    pub fn envelope(
        &mut self,
        event: &EventType,
        faker: &mut Faker,
        account: &Account,
        shape: PayloadShape,
        now: DateTime<Utc>,
    ) -> Option<Envelope> {
        let key = (event.clone(), shape);
        let known = self
            .reports
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, change)| change.clone());
        let (entity, report) = walk_typical(event, faker, shape, now, known.is_none())?;
        let change = match known {
            Some(change) => change,
            None => {
                let change = report.expect("a report was asked for");
                self.reports.push((key, change.clone()));
                change
            }
        };
        Some(Envelope::status_changed(
            shape, account, entity, &change, now,
        ))
    }
}

/// Takes every step of `path`; reports the last one (with `advance`) when `report` is set. The
/// steps before it skip the report's cost: it compares the whole entity before and after.
fn walk_path<E, S>(
    entity: &mut E,
    path: &[&Step<S>],
    report: bool,
    walk: impl Fn(&mut E, &S) -> Result<(), IllegalTransition>,
    advance: impl Fn(&mut E, &S) -> Result<Change, IllegalTransition>,
) -> Option<Change> {
    let (last, before) = path.split_last().expect("a typical path has steps");
    for step in before {
        walk(entity, &step.to).expect("typical steps are allowed");
    }
    if report {
        Some(advance(entity, &last.to).expect("typical steps are allowed"))
    } else {
        walk(entity, &last.to).expect("typical steps are allowed");
        None
    }
}

/// Takes every step of a request's typical path (a request's report costs little: always made);
/// the last step's report.
fn walk_request<R>(
    request: &mut R,
    advance: impl Fn(&mut R, &RequestStatus) -> Result<Change, IllegalTransition>,
) -> Option<Change> {
    REQUEST
        .typical_path(&RequestStatus::Queued)
        .into_iter()
        .map(|step| advance(request, &step.to).expect("typical steps are allowed"))
        .last()
}

/// A plausible entity of `event`'s kind that has just taken the last step of its typical path
/// (a domain becoming `active`, a mailbox becoming `active`, a request `completed`).
/// `None` for an event type the contract does not list.
pub fn typical_entity(
    event: &EventType,
    faker: &mut Faker,
    shape: PayloadShape,
    now: DateTime<Utc>,
) -> Option<(Entity, Change)> {
    let (entity, change) = walk_typical(event, faker, shape, now, true)?;
    Some((entity, change.expect("a report was asked for")))
}

/// [`typical_entity`], with the last step's report only when `report` is set for a domain or a
/// mailbox (whose report compares the whole entity before and after; a request's costs little
/// and is always made).
fn walk_typical(
    event: &EventType,
    faker: &mut Faker,
    shape: PayloadShape,
    now: DateTime<Utc>,
    report: bool,
) -> Option<(Entity, Option<Change>)> {
    Some(match event {
        EventType::DomainStatusChanged => {
            let mut domain = faker.purchased_domain(None, 1, now);
            let change = walk_path(
                &mut domain,
                &DOMAIN.typical_path(&DomainStatus::RegistrationInProgress),
                report,
                |domain, to| walk_domain(domain, to, shape),
                |domain, to| advance_domain(domain, to, shape),
            );
            (Entity::Domain(domain), change)
        }
        EventType::MailboxStatusChanged => {
            let domain = faker.domain_name();
            let mut mailbox = faker.mailbox(&domain, Platform::Google, now);
            let change = walk_path(
                &mut mailbox,
                &MAILBOX.typical_path(&MailboxStatus::Scheduled),
                report,
                |mailbox, to| walk_mailbox(mailbox, to, shape),
                |mailbox, to| advance_mailbox(mailbox, to, shape),
            );
            (Entity::Mailbox(mailbox), change)
        }
        EventType::ConsentRequestStatusChanged => {
            let mut request = faker.consent_request();
            let change = walk_request(&mut request, advance_consent);
            (Entity::ConsentRequest(request), change)
        }
        EventType::ClientIdRequestStatusChanged => {
            let domain = faker.domain_name();
            let mut request = faker.client_id_request(&domain);
            let change = walk_request(&mut request, advance_client_id);
            (Entity::ClientIdRequest(request), change)
        }
        EventType::Other(_) => return None,
    })
}

/// A complete, typical body for `event`.
pub fn sample_envelope(
    event: &EventType,
    faker: &mut Faker,
    account: &Account,
    shape: PayloadShape,
    now: DateTime<Utc>,
) -> Option<Envelope> {
    let (entity, change) = typical_entity(event, faker, shape, now)?;
    Some(Envelope::status_changed(
        shape, account, entity, &change, now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sampler's remembered reports give exactly what working each one out gives, for
    /// every event type and shape and many generated entities.
    #[test]
    fn the_sampler_makes_the_same_envelopes_as_working_each_out() {
        let now = Utc::now();
        let events = [
            EventType::DomainStatusChanged,
            EventType::MailboxStatusChanged,
            EventType::ConsentRequestStatusChanged,
            EventType::ClientIdRequestStatusChanged,
        ];
        for shape in [PayloadShape::Seed, PayloadShape::Current] {
            let (mut fast, mut slow) = (Faker::seeded(11), Faker::seeded(11));
            let account = fast.account();
            let _ = slow.account();
            let mut sampler = Sampler::default();
            for round in 0..300 {
                let event = &events[round % events.len()];
                let made = sampler.envelope(event, &mut fast, &account, shape, now);
                let expected = sample_envelope(event, &mut slow, &account, shape, now);
                assert_eq!(made, expected, "{event} {shape:?} round {round}");
            }
        }
    }

    /// The sample skips the reports of the steps before the last: the same entity and change
    /// as reporting every step, as the simulation does.
    #[test]
    fn a_sample_equals_its_path_walked_with_every_step_reported() {
        let now = Utc::now();
        for shape in [PayloadShape::Seed, PayloadShape::Current] {
            let (mut sampled, mut walked) = (Faker::seeded(3), Faker::seeded(3));
            let _ = (sampled.account(), walked.account());
            let (entity, change) =
                typical_entity(&EventType::DomainStatusChanged, &mut sampled, shape, now).unwrap();
            let mut domain = walked.purchased_domain(None, 1, now);
            let mut expected = None;
            for step in DOMAIN.typical_path(&DomainStatus::RegistrationInProgress) {
                expected = Some(advance_domain(&mut domain, &step.to, shape).unwrap());
            }
            assert_eq!(entity, Entity::Domain(domain));
            assert_eq!(Some(change), expected);
            let (entity, change) =
                typical_entity(&EventType::MailboxStatusChanged, &mut sampled, shape, now).unwrap();
            let name = walked.domain_name();
            let mut mailbox = walked.mailbox(&name, Platform::Google, now);
            let mut expected = None;
            for step in MAILBOX.typical_path(&MailboxStatus::Scheduled) {
                expected = Some(advance_mailbox(&mut mailbox, &step.to, shape).unwrap());
            }
            assert_eq!(entity, Entity::Mailbox(mailbox));
            assert_eq!(Some(change), expected);
        }
    }

    #[test]
    fn every_known_event_has_a_sample_in_both_shapes() {
        let now = Utc::now();
        for event in EventType::KNOWN {
            for shape in [PayloadShape::Seed, PayloadShape::Current] {
                let mut faker = Faker::seeded(9);
                let account = faker.account();
                let envelope = sample_envelope(event, &mut faker, &account, shape, now).unwrap();
                assert_eq!(&envelope.event, event);
                let json: serde_json::Value = serde_json::from_slice(&envelope.to_bytes()).unwrap();
                assert!(json["data"][event.data_key().unwrap()]["uid"].is_string());
                assert_eq!(
                    json.get("workspace_id").is_some(),
                    shape == PayloadShape::Seed
                );
                assert_eq!(
                    json["data"].get("change_details").is_some(),
                    shape == PayloadShape::Seed
                );
                assert_eq!(
                    json["data"].get("metadata").is_some(),
                    shape == PayloadShape::Current
                );
            }
        }
    }
}
