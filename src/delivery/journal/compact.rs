//! A record as the journal holds it: the request headers of each attempt kept as the few values
//! that vary, the list rebuilt (byte for byte) only when the record is read.
//!
//! An attempt's header set is almost always exactly what [`headers::build`] makes, redacted, for
//! the record's event and id and the attempt's start time: then only its signature (32 bytes),
//! whether the (redacted) `Authorization` header was sent, and the mock attempt number are
//! kept, instead of eight name/value pairs (~555 bytes of heap). Any other list (an older state
//! file, another signature form) is kept verbatim.

use crate::contract::envelope::{TIMESTAMP_LEN, format_timestamp, write_timestamp};
use crate::contract::headers::{self, HeaderInputs, REDACTED, SentHeaders};
use crate::contract::signature::SIGNATURE_PREFIX;

use super::record::{AttemptRecord, DeliveryRecord};

/// An attempt's request headers exactly as [`headers::build`] makes them, redacted, for its
/// record's event and id and its `started_at`: the few values that vary. The sender hands these
/// to the journal directly, so the hot path builds no header list at all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BuiltHeaders {
    /// The `X-InboxKit-Signature` digest (written `sha256=<64 lowercase hex>`).
    pub signature: [u8; 32],
    /// Whether `Authorization: Bearer [redacted]` was sent.
    pub bearer: bool,
    /// The `X-InboxKit-Mock-Attempt` number, when the mock headers were sent.
    pub mock_attempt: Option<u32>,
}

impl BuiltHeaders {
    /// The header list they stand for, redacted, for delivery `id` of `event` made at `attempt`'s
    /// `started_at`.
    pub fn render(&self, id: &str, event: &str, attempt: &AttemptRecord) -> SentHeaders {
        let mut digits = [0u8; 64];
        hex::encode_to_slice(self.signature, &mut digits).expect("64 digits for 32 bytes");
        let mut signature = String::with_capacity(SIGNATURE_PREFIX.len() + digits.len());
        signature.push_str(SIGNATURE_PREFIX);
        signature.push_str(std::str::from_utf8(&digits).expect("hex digits are ASCII"));
        headers::build(&HeaderInputs {
            event,
            timestamp: &format_timestamp(attempt.started_at.instant()),
            signature: &signature,
            bearer: self.bearer.then_some(REDACTED),
            mock: self.mock_attempt.map(|number| (id, number)),
        })
    }
}

/// The request headers of one attempt.
#[derive(Debug, Clone, PartialEq)]
enum StoredHeaders {
    /// Exactly the built set.
    Built(BuiltHeaders),
    /// Any other list, as it was.
    Verbatim(SentHeaders),
}

/// A delivery record whose attempts' request headers are held apart, compactly.
#[derive(Debug)]
pub(super) struct Held {
    /// The record; every attempt's `request_headers` is empty (see `headers`).
    record: DeliveryRecord,
    /// The request headers of each attempt, in order.
    headers: Vec<StoredHeaders>,
}

impl Held {
    /// Holds `record`, its attempts' header lists compacted.
    pub fn new(mut record: DeliveryRecord) -> Self {
        let mut headers = Vec::with_capacity(record.attempts.len());
        for attempt in &mut record.attempts {
            headers.push(StoredHeaders::take(&record.id.0, &record.event, attempt));
        }
        Held { record, headers }
    }

    /// The record without its request headers (for filters, ids and states).
    pub fn record(&self) -> &DeliveryRecord {
        &self.record
    }

    /// The record without its request headers, to change anything but its attempts.
    pub fn record_mut(&mut self) -> &mut DeliveryRecord {
        &mut self.record
    }

    /// Appends an attempt.
    pub fn push_attempt(&mut self, mut attempt: AttemptRecord) {
        let stored = StoredHeaders::take(&self.record.id.0, &self.record.event, &mut attempt);
        self.push(attempt, stored);
    }

    /// Appends an attempt whose request headers were `built` (its own list is ignored).
    pub fn push_built(&mut self, mut attempt: AttemptRecord, built: BuiltHeaders) {
        attempt.request_headers = Vec::new();
        self.push(attempt, StoredHeaders::Built(built));
    }

    fn push(&mut self, attempt: AttemptRecord, stored: StoredHeaders) {
        // Grown one at a time: most deliveries make one attempt, and a doubling Vec would
        // reserve room for four.
        self.headers.reserve_exact(1);
        self.headers.push(stored);
        self.record.attempts.reserve_exact(1);
        self.record.attempts.push(attempt);
    }

    /// A copy of the whole record, headers rebuilt.
    pub fn expand(&self) -> DeliveryRecord {
        let mut record = self.record.clone();
        let DeliveryRecord {
            id,
            event,
            attempts,
            ..
        } = &mut record;
        for (attempt, stored) in attempts.iter_mut().zip(&self.headers) {
            attempt.request_headers = stored.rebuild(&id.0, event, attempt);
        }
        record
    }
}

impl StoredHeaders {
    /// Takes `attempt`'s header list, compactly when it is the built set.
    fn take(id: &str, event: &str, attempt: &mut AttemptRecord) -> Self {
        match built(id, event, attempt) {
            Some(built) => {
                attempt.request_headers = Vec::new();
                built
            }
            None => StoredHeaders::Verbatim(std::mem::take(&mut attempt.request_headers)),
        }
    }

    /// The header list as it was taken.
    fn rebuild(&self, id: &str, event: &str, attempt: &AttemptRecord) -> SentHeaders {
        match self {
            StoredHeaders::Verbatim(list) => list.clone(),
            StoredHeaders::Built(built) => built.render(id, event, attempt),
        }
    }
}

/// The compact form of `attempt`'s headers, when they are exactly the built set.
fn built(id: &str, event: &str, attempt: &AttemptRecord) -> Option<StoredHeaders> {
    use headers::{
        AUTHORIZATION, CONTENT_TYPE, CONTENT_TYPE_VALUE, EVENT, MOCK_ATTEMPT, MOCK_DELIVERY,
        SIGNATURE, TIMESTAMP, USER_AGENT, USER_AGENT_VALUE,
    };
    let list = &attempt.request_headers;
    let mut pairs = list
        .iter()
        .map(|(name, value)| (name.as_ref(), value.as_ref()));
    let mut expect = |name: &str| pairs.next().filter(|(n, _)| *n == name).map(|(_, v)| v);
    if expect(CONTENT_TYPE)? != CONTENT_TYPE_VALUE
        || expect(USER_AGENT)? != USER_AGENT_VALUE
        || expect(EVENT)? != event
    {
        return None;
    }
    let mut written = [0u8; TIMESTAMP_LEN];
    if Some(expect(TIMESTAMP)?) != write_timestamp(attempt.started_at.instant(), &mut written) {
        return None;
    }
    let signature = canonical_digest(expect(SIGNATURE)?)?;
    let rest = &list[5..];
    let bearer = rest.first().is_some_and(|(name, _)| name == AUTHORIZATION);
    let rest = if bearer {
        if rest[0].1 != format!("Bearer {REDACTED}") {
            return None;
        }
        &rest[1..]
    } else {
        rest
    };
    let mock_attempt = match rest {
        [] => None,
        [(delivery, given_id), (number_name, number)]
            if delivery == MOCK_DELIVERY && number_name == MOCK_ATTEMPT && given_id == id =>
        {
            Some(canonical_number(number)?)
        }
        _ => return None,
    };
    Some(StoredHeaders::Built(BuiltHeaders {
        signature,
        bearer,
        mock_attempt,
    }))
}

/// The digest of `sha256=<64 lowercase hex>` (None for any other form, which would not be
/// written back the same).
pub fn canonical_digest(value: &str) -> Option<[u8; 32]> {
    let digits = value.strip_prefix(SIGNATURE_PREFIX)?;
    if digits.len() != 64
        || !digits
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut digest = [0u8; 32];
    hex::decode_to_slice(digits, &mut digest).ok()?;
    Some(digest)
}

/// A number written as `u32::to_string` writes it (no sign, no leading zero).
fn canonical_number(text: &str) -> Option<u32> {
    let plain = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    plain.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::fixtures::attempt;
    use crate::delivery::journal::{DeliveryId, DeliveryState, Timestamp, Trigger};
    use crate::delivery::outcome::AttemptOutcome;

    const SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn record(attempts: Vec<AttemptRecord>) -> DeliveryRecord {
        DeliveryRecord {
            id: DeliveryId("dlv_0190f1a2b3c4d5e6f708192a3b4c5d6e".into()),
            event: "domain.status_changed".into(),
            entity_uid: None,
            status: None,
            previous_status: None,
            target: "".into(),
            created_at: Timestamp::default(),
            state: DeliveryState::Pending,
            body: "{}".into(),
            attempts,
        }
    }

    /// An attempt whose headers are what the sender sends, redacted.
    fn sent(bearer: Option<&str>, mock: Option<u32>, number: u32) -> AttemptRecord {
        let mut attempt = attempt(Some(200), AttemptOutcome::Delivered, Trigger::Scheduled);
        attempt.number = number;
        attempt.started_at = Timestamp::parse("2024-01-10T15:30:45.123Z").unwrap();
        attempt.request_headers = headers::redacted(headers::build(&HeaderInputs {
            event: "domain.status_changed",
            timestamp: "2024-01-10T15:30:45.123Z",
            signature: SIGNATURE,
            bearer,
            mock: mock.map(|n| ("dlv_0190f1a2b3c4d5e6f708192a3b4c5d6e", n)),
        }));
        attempt
    }

    /// What the sender hands over (the built values, no list) reads back as the contract's
    /// header list, written out here by hand, and as the same record as the list itself gives.
    #[test]
    fn built_headers_read_back_as_the_list_that_was_sent() {
        let id = "dlv_0190f1a2b3c4d5e6f708192a3b4c5d6e";
        let built = BuiltHeaders {
            signature: canonical_digest(SIGNATURE).unwrap(),
            bearer: true,
            mock_attempt: Some(2),
        };
        let mut bare = sent(None, None, 2);
        bare.request_headers = Vec::new();
        let mut held = Held::new(record(vec![]));
        held.push_built(bare, built);
        let expected: Vec<(&str, &str)> = vec![
            ("Content-Type", "application/json"),
            ("User-Agent", "InboxKit-Webhook/1.0"),
            ("X-InboxKit-Event", "domain.status_changed"),
            ("X-InboxKit-Timestamp", "2024-01-10T15:30:45.123Z"),
            ("X-InboxKit-Signature", SIGNATURE),
            ("Authorization", "Bearer [redacted]"),
            ("X-InboxKit-Mock-Delivery", id),
            ("X-InboxKit-Mock-Attempt", "2"),
        ];
        let read = held.expand();
        let list: Vec<(&str, &str)> = read.attempts[0]
            .request_headers
            .iter()
            .map(|(n, v)| (&**n, &**v))
            .collect();
        assert_eq!(list, expected);
        let mut listed = Held::new(record(vec![]));
        listed.push_attempt(sent(Some("ik_live_key"), Some(2), 2));
        assert_eq!(listed.expand(), read);
        assert_eq!(is_built(&listed), [true]);
    }

    fn is_built(held: &Held) -> Vec<bool> {
        held.headers
            .iter()
            .map(|h| matches!(h, StoredHeaders::Built { .. }))
            .collect()
    }

    #[test]
    fn the_sent_header_sets_are_held_compactly_and_read_back_exactly() {
        let attempts = vec![
            sent(Some("ik_live_secret"), Some(1), 1),
            sent(None, None, 2),
            sent(Some("tok"), None, 3),
            sent(None, Some(4_000_000_000), 4),
        ];
        let original = record(attempts);
        let held = Held::new(original.clone());
        assert_eq!(is_built(&held), [true; 4]);
        assert!(
            held.record()
                .attempts
                .iter()
                .all(|a| a.request_headers.is_empty())
        );
        assert_eq!(held.expand(), original);
        assert_eq!(
            serde_json::to_string(&held.expand()).unwrap(),
            serde_json::to_string(&original).unwrap()
        );
    }

    #[test]
    fn attempts_appended_later_are_read_back_exactly() {
        let mut held = Held::new(record(vec![]));
        let mut expected = record(vec![]);
        for number in 1..=3 {
            held.push_attempt(sent(Some("t"), Some(number), number));
            expected
                .attempts
                .push(sent(Some("t"), Some(number), number));
        }
        assert_eq!(held.expand(), expected);
    }

    #[test]
    fn any_other_header_list_is_kept_verbatim() {
        let mut changed = Vec::new();
        // Each of these differs from the built set in one way the compact form cannot hold.
        let edits: [fn(&mut SentHeaders); 9] = [
            |h| h[0].1 = "application/json; charset=utf-8".into(),
            |h| h[2].1 = "mailbox.status_changed".into(),
            |h| h[3].1 = "2024-01-10T15:30:45.124Z".into(),
            |h| h[3].1 = "2024-01-10T16:30:45.123+01:00".into(),
            |h| h[4].1 = SIGNATURE.to_uppercase().replace("SHA256", "sha256").into(),
            |h| h[5].1 = "Bearer visible".into(),
            |h| h[6].1 = "dlv_other".into(),
            |h| h[7].1 = "01".into(),
            |h| h.push(("X-Extra".into(), "1".into())),
        ];
        for edit in edits {
            let mut attempt = sent(Some("t"), Some(1), 1);
            edit(&mut attempt.request_headers);
            changed.push(attempt);
        }
        let mut reordered = sent(Some("t"), Some(1), 1);
        reordered.request_headers.swap(0, 1);
        changed.push(reordered);
        let mut empty = sent(None, None, 1);
        empty.request_headers.clear();
        changed.push(empty);
        let original = record(changed);
        let held = Held::new(original.clone());
        assert_eq!(is_built(&held), [false; 11]);
        assert_eq!(held.expand(), original);
    }

    #[test]
    fn numbers_are_read_only_in_their_canonical_form() {
        assert_eq!(canonical_number("0"), Some(0));
        assert_eq!(canonical_number("12"), Some(12));
        for odd in ["", "+1", "01", "1 ", "4294967296", "-1"] {
            assert_eq!(canonical_number(odd), None, "{odd}");
        }
    }
}
