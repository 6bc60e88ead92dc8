//! The event the benches send: a typical `domain.status_changed` body in the `seed` shape, as a
//! load run samples it.

use inboxkit_mock::contract::{Account, EventType, PayloadShape};
use inboxkit_mock::delivery::OutgoingEvent;
use inboxkit_mock::model::Faker;
use inboxkit_mock::simulation::sample::Sampler;

/// A fresh `domain.status_changed` event from `faker`, stamped now.
pub fn domain_event(sampler: &mut Sampler, faker: &mut Faker, account: &Account) -> OutgoingEvent {
    let envelope = sampler
        .envelope(
            &EventType::DomainStatusChanged,
            faker,
            account,
            PayloadShape::Seed,
            chrono::Utc::now(),
        )
        .expect("a known event type");
    OutgoingEvent::from_envelope(&envelope)
}
