//! The JSON body of a webhook: envelope, entity, and the shape-specific details object.

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::entities::Entity;
use super::profile::PayloadShape;
use super::vocab::{EventType, TriggeredBy};

/// Formats a time the way InboxKit does: ISO 8601, UTC, milliseconds, `Z`.
pub fn format_timestamp(time: DateTime<Utc>) -> String {
    let mut text = [0u8; TIMESTAMP_LEN];
    match write_timestamp(time, &mut text) {
        Some(text) => text.to_owned(),
        None => time.to_rfc3339_opts(SecondsFormat::Millis, true),
    }
}

/// Length of [`format_timestamp`]'s text for the years 0 to 9999.
pub const TIMESTAMP_LEN: usize = "2024-01-10T15:30:45.123Z".len();

/// Writes [`format_timestamp`]'s text into `buffer`, without allocating, for the years 0 to
/// 9999 outside a leap second (None otherwise: [`format_timestamp`] falls back to chrono).
pub fn write_timestamp(time: DateTime<Utc>, buffer: &mut [u8; TIMESTAMP_LEN]) -> Option<&str> {
    use chrono::{Datelike, Timelike};
    let year = u32::try_from(time.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = time.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let fields = [
        (0, 4, year),
        (5, 2, time.month()),
        (8, 2, time.day()),
        (11, 2, time.hour()),
        (14, 2, time.minute()),
        (17, 2, time.second()),
        (20, 3, nanos / 1_000_000),
    ];
    *buffer = *b"0000-00-00T00:00:00.000Z";
    for (start, width, mut value) in fields {
        for digit in buffer[start..start + width].iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    std::str::from_utf8(buffer).ok()
}

/// A complete webhook body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Envelope {
    /// Event type; always equal to the `X-InboxKit-Event` header.
    pub event: EventType,
    /// When the change happened (ISO 8601 UTC, ms).
    pub timestamp: String,
    /// Team id, e.g. `team-abc123def456`.
    pub team_id: String,
    /// Team display name.
    pub team_name: String,
    /// Workspace id; top-level in the seed shape only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    /// The entity and the change description.
    pub data: EventData,
}

/// `data`: the entity plus `change_details` (seed shape) or `metadata` (current shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EventData {
    /// The entity, under its documented key.
    #[serde(flatten)]
    pub entity: Entity,
    /// Seed shape: why and what changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_details: Option<ChangeDetails>,
    /// Current shape: workspace and update time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// `data.change_details` (seed shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChangeDetails {
    /// Human-readable reason.
    pub reason: String,
    /// Fields that changed.
    pub changed_fields: Vec<String>,
    /// Who caused the change.
    pub triggered_by: TriggeredBy,
    /// Whether the customer must act (optional in the contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_required: Option<bool>,
    /// Machine-readable error code on failures (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Whether the failed step can be retried (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_available: Option<bool>,
}

/// `data.metadata` (current shape; not documented in detail, so the mock emits these two).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Metadata {
    /// Workspace the entity belongs to.
    pub workspace_id: String,
    /// When the change happened.
    pub updated_at: String,
}

/// Who and where: the parts of an envelope that do not depend on the entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Team id.
    pub team_id: String,
    /// Team display name.
    pub team_name: String,
    /// Workspace id.
    pub workspace_id: String,
}

/// What a status change says about itself, independent of the payload shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Human-readable reason.
    pub reason: String,
    /// Fields that changed (always includes `status`).
    pub changed_fields: Vec<String>,
    /// Who caused it.
    pub triggered_by: TriggeredBy,
    /// Failure details, when the change is a failure.
    pub failure: Option<Failure>,
}

/// Failure details carried by `change_details` on failed transitions.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Machine-readable code, e.g. `payment_declined`.
    pub error_code: String,
    /// Whether the customer must act.
    pub action_required: bool,
    /// Whether the step can be retried.
    pub retry_available: bool,
}

impl Envelope {
    /// Builds the body announcing `entity`'s current status in the given shape.
    pub fn status_changed(
        shape: PayloadShape,
        account: &Account,
        entity: Entity,
        change: &Change,
        at: DateTime<Utc>,
    ) -> Self {
        let timestamp = format_timestamp(at);
        let (workspace_id, change_details, metadata) = match shape {
            PayloadShape::Seed => (
                Some(account.workspace_id.clone()),
                Some(ChangeDetails {
                    reason: change.reason.clone(),
                    changed_fields: change.changed_fields.clone(),
                    triggered_by: change.triggered_by.clone(),
                    action_required: change.failure.as_ref().map(|f| f.action_required),
                    error_code: change.failure.as_ref().map(|f| f.error_code.clone()),
                    retry_available: change.failure.as_ref().map(|f| f.retry_available),
                }),
                None,
            ),
            PayloadShape::Current => (
                None,
                None,
                Some(Metadata {
                    workspace_id: account.workspace_id.clone(),
                    updated_at: timestamp.clone(),
                }),
            ),
        };
        Envelope {
            event: entity.event_type(),
            timestamp,
            team_id: account.team_id.clone(),
            team_name: account.team_name.clone(),
            workspace_id,
            data: EventData {
                entity,
                change_details,
                metadata,
            },
        }
    }

    /// The body bytes exactly as sent (compact JSON, field order as documented).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an envelope always serializes")
    }

    /// The JSON body as text.
    pub fn to_json(&self) -> String {
        // Room for a typical body (~750 bytes) at once, instead of growing through 7 doublings.
        let mut text = Vec::with_capacity(1024);
        serde_json::to_writer(&mut text, self).expect("an envelope always serializes");
        String::from_utf8(text).expect("serde_json writes UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The fast formatter writes what chrono writes, for any instant it handles.
        #[test]
        fn timestamps_are_written_as_chrono_writes_them(
            millis in -62_167_219_200_000i64..253_402_300_800_000,
            sub_milli in 0u32..1_000_000,
        ) {
            let time = DateTime::from_timestamp_millis(millis).unwrap()
                + chrono::Duration::nanoseconds(i64::from(sub_milli));
            let expected = time.to_rfc3339_opts(SecondsFormat::Millis, true);
            prop_assert_eq!(format_timestamp(time), expected.clone());
            let mut buffer = [0u8; TIMESTAMP_LEN];
            prop_assert_eq!(write_timestamp(time, &mut buffer), Some(expected.as_str()));
        }
    }

    #[test]
    fn timestamps_outside_four_digit_years_fall_back_to_chrono() {
        let far = DateTime::from_timestamp_millis(253_402_300_800_000).unwrap();
        assert_eq!(format_timestamp(far), "+10000-01-01T00:00:00.000Z");
        let mut buffer = [0u8; TIMESTAMP_LEN];
        assert_eq!(write_timestamp(far, &mut buffer), None);
    }

    /// The example request body of the seed page (shared/seed), verbatim.
    pub(crate) const SEED_EXAMPLE: &str =
        include_str!("../../tests/fixtures/seed_example_body.json");

    #[test]
    fn seed_example_round_trips_field_for_field() {
        let original: serde_json::Value = serde_json::from_str(SEED_EXAMPLE).unwrap();
        let typed: Envelope = serde_json::from_str(SEED_EXAMPLE).unwrap();
        let again = serde_json::to_value(&typed).unwrap();
        assert_eq!(original, again);
        // Field order is kept too, so a byte-level comparison of the compact forms holds.
        assert_eq!(
            serde_json::to_string(&original).unwrap(),
            serde_json::to_string(&typed).unwrap()
        );
    }

    #[test]
    fn seed_example_parses_into_known_values() {
        let typed: Envelope = serde_json::from_str(SEED_EXAMPLE).unwrap();
        assert_eq!(typed.event, EventType::DomainStatusChanged);
        let Entity::Domain(domain) = &typed.data.entity else {
            panic!("expected a domain, got {:?}", typed.data.entity)
        };
        assert!(domain.status.is_known() && domain.dns_propagation_status.is_known());
        assert_eq!(domain.previous_status.as_ref().unwrap().as_str(), "pending");
        assert_eq!(typed.workspace_id.as_deref(), Some("ws_456def789abc"));
    }

    #[test]
    fn timestamps_have_milliseconds_and_z() {
        let at = DateTime::parse_from_rfc3339("2024-01-10T15:30:45.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_timestamp(at), "2024-01-10T15:30:45.123Z");
    }
}
