//! The bodies the checks send: typical events from the faker, and their deliberate variants.

use bytes::Bytes;
use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::contract::{Account, EventType, PayloadShape, format_timestamp};
use crate::model::{Faker, IdKind};
use crate::simulation::sample::sample_envelope;

/// An event type no version of the contract lists, standing for one InboxKit may add.
pub(super) const FUTURE_EVENT: &str = "workspace.status_changed";
/// A `status` value the contract does not list, standing for one InboxKit may add.
pub(super) const FUTURE_STATUS: &str = "quarantined";
/// A `platform` value the contract does not list.
pub(super) const FUTURE_PLATFORM: &str = "ZOHO";

/// Makes fresh, realistic bodies; every entity gets a new `uid`.
pub(super) struct Bodies {
    faker: Faker,
    account: Account,
    shape: PayloadShape,
}

impl Bodies {
    pub fn new(seed: Option<u64>, shape: PayloadShape) -> Self {
        let mut faker = seed.map_or_else(Faker::from_entropy, Faker::seeded);
        let account = faker.account();
        Bodies {
            faker,
            account,
            shape,
        }
    }

    /// A typical body of a known `event`, as JSON to be varied.
    pub fn typical(&mut self, event: &EventType) -> Value {
        let envelope = sample_envelope(
            event,
            &mut self.faker,
            &self.account,
            self.shape,
            Utc::now(),
        )
        .expect("every known event type has a sample");
        serde_json::to_value(&envelope).expect("envelopes serialize")
    }

    /// A well-formed body of [`FUTURE_EVENT`], shaped like the documented events.
    pub fn future_event(&mut self) -> Value {
        let mut body = self.typical(&EventType::DomainStatusChanged);
        let uid = self
            .faker
            .id(IdKind::Workspace)
            .replace("ws_", "workspace-");
        if let Some(object) = body.as_object_mut() {
            object.insert("event".into(), json!(FUTURE_EVENT));
        }
        if let Some(data) = body.get_mut("data").and_then(Value::as_object_mut) {
            data.remove("domain");
            data.insert(
                "workspace".into(),
                json!({"uid": uid, "name": "Outbound", "status": "active", "previous_status": "provisioning",
                       "updated_at": format_timestamp(Utc::now())}),
            );
        }
        body
    }
}

/// The entity object of a body (`data.<key>`), to change fields.
pub(super) fn entity_mut<'a>(
    body: &'a mut Value,
    event: &EventType,
) -> Option<&'a mut Map<String, Value>> {
    body.get_mut("data")?
        .get_mut(event.data_key()?)?
        .as_object_mut()
}

/// A string field of the entity of a body.
pub(super) fn entity_field(body: &Value, event: &EventType, name: &str) -> String {
    event
        .data_key()
        .and_then(|key| body.get("data")?.get(key)?.get(name)?.as_str())
        .unwrap_or("-")
        .to_owned()
}

/// Compact bytes, as InboxKit sends them.
pub(super) fn compact(body: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(body).expect("JSON values serialize"))
}

/// Pretty-printed bytes: the same JSON value, different bytes.
pub(super) fn pretty(body: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec_pretty(body).expect("JSON values serialize"))
}
