//! Journal values for unit tests elsewhere in the crate.

use super::journal::{
    AttemptRecord, DeliveryId, DeliveryRecord, DeliveryState, Timestamp, Trigger,
};
use super::outcome::AttemptOutcome;
use super::transport::RecordedResponse;

/// Attempt number 1 with `outcome`, answered with an empty `status` response when given.
pub fn attempt(status: Option<u16>, outcome: AttemptOutcome, trigger: Trigger) -> AttemptRecord {
    AttemptRecord {
        number: 1,
        trigger,
        started_at: Timestamp::default(),
        url: "".into(),
        request_headers: vec![],
        response: status.map(|status| RecordedResponse {
            status,
            headers: Default::default(),
            body: String::new(),
            body_truncated: false,
        }),
        latency_ms: 1.0,
        outcome,
        error: None,
        next_attempt_at: None,
        resent_after_crash: false,
    }
}

/// Delivery `d1` of `event` about `uid`, now `active`, delivered after `attempts`.
pub fn delivered(event: &str, uid: &str, attempts: Vec<AttemptRecord>) -> DeliveryRecord {
    DeliveryRecord {
        id: DeliveryId("d1".into()),
        event: event.into(),
        entity_uid: Some(uid.into()),
        status: Some("active".into()),
        previous_status: None,
        target: "".into(),
        created_at: Timestamp::default(),
        state: DeliveryState::Delivered,
        body: "{}".into(),
        attempts,
    }
}
