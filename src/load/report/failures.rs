//! The first failed deliveries of a run, each with every attempt's request and response: looked
//! up in the journal only when a delivery fails (never on the success path), kept in a fixed
//! order (planned send time, then shard, then delivery id) so that merging shards keeps the same
//! first N whatever order they come in.

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::contract::{EventType, headers};
use crate::delivery::journal::Filter;
use crate::delivery::{
    AttemptOutcome, AttemptRecord, DeliveryOutcome, DeliveryRecord, Journal, TerminalState,
};
use crate::recording::{REDACTED, credentials_in, redact_credentials};

/// Failed deliveries a report keeps when the scenario and the command line do not say.
pub const DEFAULT_FAILED_DELIVERIES: usize = 20;
/// The most of a request body a failed delivery keeps, bytes.
pub const REQUEST_BODY_EXCERPT: usize = 2048;
/// The most of a response body a failed attempt keeps, bytes.
pub const RESPONSE_BODY_EXCERPT: usize = 1024;

/// The first failed deliveries of a run (or of merged shards).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failures {
    /// How many are kept at most (N).
    pub limit: usize,
    /// The first failed deliveries, in order (planned send time, shard, delivery id).
    pub kept: Vec<FailedDelivery>,
    /// The run being recorded: when it started and which shard it is.
    #[serde(skip)]
    origin: Option<(Instant, String)>,
}

/// A delivery that ended rejected or exhausted, with every attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedDelivery {
    /// The shard that sent it, e.g. `1/2`.
    pub shard: String,
    /// Its planned send time from the start of the run, microseconds.
    pub planned_us: u64,
    /// Delivery id (also sent as `X-InboxKit-Mock-Delivery`).
    pub id: String,
    /// Event type.
    pub event: String,
    /// The entity's uid, when the body has one.
    pub entity_uid: Option<String>,
    /// How it ended.
    pub state: TerminalState,
    /// Request method (always POST).
    pub method: String,
    /// Where it was sent.
    pub url: String,
    /// The request body (every attempt sends the same bytes).
    pub body: Excerpt,
    /// Every attempt, in order.
    pub attempts: Vec<FailedAttempt>,
    /// False when the journal no longer held the delivery: then only each attempt's outcome and
    /// latency are known.
    pub journaled: bool,
}

/// One attempt of a failed delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedAttempt {
    /// 1-based attempt number.
    pub number: u32,
    /// When it started on the sender's (possibly scaled) clock, ISO 8601.
    pub started_at: Option<String>,
    /// The request headers, credentials redacted as the journal redacts them.
    pub request_headers: Vec<(String, String)>,
    /// The answer, when one arrived.
    pub response: Option<FailedResponse>,
    /// Coded outcome.
    pub outcome: AttemptOutcome,
    /// Wall-clock latency, ms.
    pub latency_ms: f64,
    /// The failure below HTTP, if any.
    pub error: Option<String>,
}

/// The subscriber's answer to one attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers in arrival order, credentials redacted.
    pub headers: Vec<(String, String)>,
    /// The start of the body.
    pub body: Excerpt,
}

/// The start of a body: at most a bound of bytes, cut on a character boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Excerpt {
    /// The text kept.
    pub text: String,
    /// The length of the whole body as known, bytes.
    pub bytes: usize,
    /// Whether `text` is shorter than the body.
    pub truncated: bool,
}

impl Excerpt {
    /// The first `bound` bytes of `text`; `known_truncated` when `text` is itself a cut.
    pub fn of(text: &str, bound: usize, known_truncated: bool) -> Self {
        let mut end = text.len().min(bound);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Excerpt {
            text: text[..end].to_owned(),
            bytes: text.len(),
            truncated: known_truncated || end < text.len(),
        }
    }
}

impl Excerpt {
    /// A request body as a report keeps it: the mailbox credentials InboxKit sends in plain text
    /// redacted (as `receive --record` does unless told to keep them), then cut at
    /// [`REQUEST_BODY_EXCERPT`]; `bytes` stays the length that was sent.
    pub fn of_request(body: &[u8]) -> Self {
        let redacted = redact_credentials(body);
        let kept = String::from_utf8_lossy(redacted.as_deref().unwrap_or(body));
        Excerpt {
            bytes: body.len(),
            ..Excerpt::of(&kept, REQUEST_BODY_EXCERPT, false)
        }
    }
}

impl FailedDelivery {
    /// The order the first N are chosen by.
    fn key(&self) -> (u64, &str, &str) {
        (self.planned_us, &self.shard, &self.id)
    }

    /// Each attempt's status, or its outcome code when no answer came: `500, 500, timeout`.
    pub fn statuses(&self) -> String {
        self.attempts
            .iter()
            .map(|a| {
                a.response
                    .as_ref()
                    .map_or_else(|| a.outcome.to_string(), |r| r.status.to_string())
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One line: when it was planned, what it was, how it ended and each attempt's status.
    pub fn brief(&self) -> String {
        let attempts = self.attempts.len();
        format!(
            "+{:.3} s  {} {}: {} after {attempts} attempt{} ({})",
            self.planned_us as f64 / 1e6,
            self.event,
            self.entity_uid.as_deref().unwrap_or("-"),
            self.state,
            if attempts == 1 { "" } else { "s" },
            self.statuses()
        )
    }

    /// The outcome of its last attempt (what ended it).
    pub fn last_outcome(&self) -> Option<AttemptOutcome> {
        self.attempts.last().map(|a| a.outcome)
    }
}

impl Failures {
    /// Records up to `limit` failures of shard `shard` of a run that started at `run_start`.
    pub fn new(limit: usize, shard: String, run_start: Instant) -> Self {
        Failures {
            limit,
            kept: Vec::new(),
            origin: Some((run_start, shard)),
        }
    }

    /// The shard this run's failures are recorded for (empty for a merged report).
    pub fn shard(&self) -> String {
        self.origin
            .as_ref()
            .map(|(_, shard)| shard.clone())
            .unwrap_or_default()
    }

    /// The planned time (µs into the run) of a failure planned at `planned`, when it would be
    /// among the first N kept.
    pub fn wants(&self, planned: Instant) -> Option<u64> {
        let (start, _) = self.origin.as_ref()?;
        let micros = u64::try_from(planned.saturating_duration_since(*start).as_micros())
            .unwrap_or(u64::MAX);
        let room = self.kept.len() < self.limit;
        let earlier = self.limit > 0 && self.kept.last().is_some_and(|l| micros <= l.planned_us);
        (room || earlier).then_some(micros)
    }

    /// Adds a failure and keeps the first N.
    pub fn keep(&mut self, failed: FailedDelivery) {
        self.kept.push(failed);
        self.settle();
    }

    fn settle(&mut self) {
        self.kept.sort_by(|a, b| a.key().cmp(&b.key()));
        self.kept
            .dedup_by(|a, b| a.shard == b.shard && a.id == b.id);
        self.kept.truncate(self.limit);
    }

    /// Merges two shards' failures: the first N of both, N the smaller limit (the larger one's
    /// first N may be missing from a shard that kept fewer). A report that recorded none (of an
    /// earlier version) leaves the other's.
    pub fn merge(mine: Option<Failures>, theirs: Option<Failures>) -> Option<Failures> {
        match (mine, theirs) {
            (Some(mut mine), Some(theirs)) => {
                mine.limit = mine.limit.min(theirs.limit);
                mine.kept.extend(theirs.kept);
                mine.origin = None;
                mine.settle();
                Some(mine)
            }
            (one, other) => one.or(other),
        }
    }
}

/// The event type and entity uid a webhook body names (`event`, `data.<entity>.uid`).
fn event_and_uid(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None);
    };
    let event = value
        .get("event")
        .and_then(|e| e.as_str())
        .map(str::to_owned);
    let uid = event
        .as_deref()
        .and_then(|e| EventType::parse(e).data_key())
        .and_then(|key| value.get("data")?.get(key)?.get("uid")?.as_str())
        .map(str::to_owned);
    (event, uid)
}

/// The journal's record of the delivery that sent `body` and ended as `outcome`.
pub(crate) fn find(
    journal: &Journal,
    body: &[u8],
    outcome: &DeliveryOutcome,
) -> Option<DeliveryRecord> {
    let (event, uid) = event_and_uid(body);
    let filter = Filter {
        event,
        uid,
        state: Some(outcome.state),
        ..Filter::default()
    };
    journal
        .list(&filter, 0, usize::MAX)
        .0
        .into_iter()
        .find(|record| {
            record.body.as_bytes() == body
                && record.attempts.len() == outcome.attempts.len()
                && record
                    .attempts
                    .iter()
                    .zip(&outcome.attempts)
                    .all(|(a, b)| a.outcome == b.outcome)
        })
}

fn redacted(list: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    headers::redacted(
        list.into_iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect(),
    )
    .into_iter()
    .map(|(name, value)| (name.into_owned(), value.into_owned()))
    .collect()
}

/// `text` with every credential of the request replaced by [`REDACTED`]: a subscriber's answer
/// may echo the body it was sent.
fn without(credentials: &[String], text: &str) -> String {
    credentials
        .iter()
        .fold(text.to_owned(), |text, credential| {
            text.replace(credential.as_str(), REDACTED)
        })
}

fn attempt_of(attempt: &AttemptRecord, credentials: &[String]) -> FailedAttempt {
    FailedAttempt {
        number: attempt.number,
        started_at: Some(attempt.started_at.to_string()),
        request_headers: redacted(
            attempt
                .request_headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string())),
        ),
        response: attempt.response.as_ref().map(|response| FailedResponse {
            status: response.status,
            headers: redacted(response.headers.to_list()),
            body: Excerpt::of(
                &without(credentials, &response.body),
                RESPONSE_BODY_EXCERPT,
                response.body_truncated,
            ),
        }),
        outcome: attempt.outcome,
        latency_ms: attempt.latency_ms,
        error: attempt.error.clone(),
    }
}

pub(crate) fn from_record(
    record: &DeliveryRecord,
    shard: String,
    planned_us: u64,
    state: TerminalState,
) -> FailedDelivery {
    FailedDelivery {
        shard,
        planned_us,
        id: record.id.to_string(),
        event: record.event.clone(),
        entity_uid: record.entity_uid.clone(),
        state,
        method: "POST".into(),
        url: record.target.to_string(),
        body: Excerpt::of_request(record.body.as_bytes()),
        attempts: {
            let credentials = credentials_in(record.body.as_bytes());
            record
                .attempts
                .iter()
                .map(|attempt| attempt_of(attempt, &credentials))
                .collect()
        },
        journaled: true,
    }
}

/// What is known of a failure the journal no longer holds: the body and each attempt's outcome.
pub(crate) fn from_outcome(
    body: &[u8],
    outcome: &DeliveryOutcome,
    shard: String,
    planned_us: u64,
    state: TerminalState,
) -> FailedDelivery {
    let (event, uid) = event_and_uid(body);
    FailedDelivery {
        shard,
        planned_us,
        id: String::new(),
        event: event.unwrap_or_default(),
        entity_uid: uid,
        state,
        method: "POST".into(),
        url: String::new(),
        body: Excerpt::of_request(body),
        attempts: outcome
            .attempts
            .iter()
            .zip(1..)
            .map(|(a, number)| FailedAttempt {
                number,
                started_at: None,
                request_headers: Vec::new(),
                response: None,
                outcome: a.outcome,
                latency_ms: a.latency_ms,
                error: None,
            })
            .collect(),
        journaled: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(shard: &str, planned_us: u64, id: &str) -> FailedDelivery {
        FailedDelivery {
            shard: shard.into(),
            planned_us,
            id: id.into(),
            event: "domain.status_changed".into(),
            entity_uid: None,
            state: TerminalState::Exhausted,
            method: "POST".into(),
            url: "http://127.0.0.1:1/".into(),
            body: Excerpt::of("{}", 10, false),
            attempts: Vec::new(),
            journaled: true,
        }
    }

    fn failures(limit: usize, kept: Vec<FailedDelivery>) -> Failures {
        let mut failures = Failures {
            limit,
            kept: Vec::new(),
            origin: None,
        };
        for failed in kept {
            failures.keep(failed);
        }
        failures
    }

    #[test]
    fn merging_keeps_the_first_n_by_planned_time_in_any_order() {
        let a = failures(
            3,
            vec![
                failure("1/2", 900, "a3"),
                failure("1/2", 100, "a1"),
                failure("1/2", 500, "a2"),
            ],
        );
        let b = failures(
            3,
            vec![
                failure("2/2", 100, "b1"),
                failure("2/2", 200, "b2"),
                failure("2/2", 700, "b3"),
            ],
        );
        let ab = Failures::merge(Some(a.clone()), Some(b.clone())).unwrap();
        let ba = Failures::merge(Some(b), Some(a)).unwrap();
        assert_eq!(ab, ba);
        let ids: Vec<&str> = ab.kept.iter().map(|f| f.id.as_str()).collect();
        // Ties on the planned time go to the lower shard.
        assert_eq!(ids, ["a1", "b1", "b2"]);
    }

    #[test]
    fn the_smaller_limit_wins_and_a_missing_side_leaves_the_other() {
        let a = failures(1, vec![failure("1/2", 5, "a")]);
        let b = failures(2, vec![failure("2/2", 1, "b"), failure("2/2", 2, "c")]);
        let merged = Failures::merge(Some(a.clone()), Some(b)).unwrap();
        assert_eq!(merged.limit, 1);
        assert_eq!(merged.kept[0].id, "b");
        assert_eq!(Failures::merge(None, Some(a.clone())), Some(a));
    }

    #[test]
    fn wants_only_what_would_be_kept() {
        let start = Instant::now();
        let mut recorder = Failures::new(1, "1/1".into(), start);
        let at = |us| start + std::time::Duration::from_micros(us);
        assert_eq!(recorder.wants(at(50)), Some(50));
        recorder.keep(failure("1/1", 50, "x"));
        assert_eq!(recorder.wants(at(80)), None, "full, and later");
        assert_eq!(
            recorder.wants(at(20)),
            Some(20),
            "earlier than the last kept"
        );
        assert_eq!(Failures::new(0, "1/1".into(), start).wants(at(1)), None);
    }

    /// A subscriber that echoes what it was sent (httpbin, error pages quoting the payload) must
    /// not bring the credentials back into the report through its answer.
    #[test]
    fn echoed_credentials_are_hidden_in_the_answers_too() {
        use crate::delivery::fixtures;
        let body = r#"{"event":"mailbox.status_changed","data":{"mailbox":{"uid":"m1","password":"hunter2-s3cret","secret":"JBSWY3DPEHPK3PXP"}}}"#;
        let mut attempt = fixtures::attempt(
            Some(500),
            AttemptOutcome::Http5xx,
            crate::delivery::journal::Trigger::Scheduled,
        );
        if let Some(response) = &mut attempt.response {
            response.body = format!(r#"{{"error":"bad","json":{body}}}"#);
        }
        let record = DeliveryRecord {
            body: body.into(),
            ..fixtures::delivered("mailbox.status_changed", "m1", vec![attempt])
        };
        let failed = from_record(&record, "1/1".into(), 0, TerminalState::Exhausted);
        let shown = serde_json::to_string(&failed).unwrap();
        for secret in ["hunter2-s3cret", "JBSWY3DPEHPK3PXP"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let answer = &failed.attempts[0].response.as_ref().unwrap().body.text;
        assert!(answer.contains(r#""password":"<redacted>""#), "{answer}");
    }

    #[test]
    fn request_bodies_keep_no_mailbox_credentials() {
        let body = br#"{"event":"mailbox.status_changed","data":{"mailbox":{"uid":"m1","password":"hunter2","app_password":"abcd efgh","secret":"JBSWY3DP"}}}"#;
        let kept = Excerpt::of_request(body);
        assert_eq!(
            kept.text,
            r#"{"event":"mailbox.status_changed","data":{"mailbox":{"uid":"m1","password":"<redacted>","app_password":"<redacted>","secret":"<redacted>"}}}"#
        );
        assert_eq!(kept.bytes, body.len());
        assert!(!kept.truncated);
        let domain = br#"{"event":"domain.status_changed","data":{"domain":{"uid":"d1"}}}"#;
        assert_eq!(Excerpt::of_request(domain).text.as_bytes(), domain);
    }

    #[test]
    fn excerpts_cut_on_a_character_boundary() {
        let cut = Excerpt::of("aé", 2, false);
        assert_eq!(
            (cut.text.as_str(), cut.bytes, cut.truncated),
            ("a", 3, true)
        );
        let whole = Excerpt::of("abc", 10, true);
        assert!(whole.truncated, "a body the journal already cut");
        assert_eq!(whole.text, "abc");
    }

    #[test]
    fn bodies_name_their_event_and_entity() {
        let body = br#"{"event":"mailbox.status_changed","data":{"mailbox":{"uid":"mbx-1"}}}"#;
        assert_eq!(
            event_and_uid(body),
            (Some("mailbox.status_changed".into()), Some("mbx-1".into()))
        );
        assert_eq!(event_and_uid(b"not json"), (None, None));
    }
}
