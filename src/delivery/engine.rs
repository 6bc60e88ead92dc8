//! The sender: signs each event, makes attempts under the retry policy, journals every one.
//!
//! One delivery is a chain of small steps: prepare (sign once, headers per attempt) -> send ->
//! decide (pure policy) -> journal -> wait for the next attempt or finish. Attempts in flight are
//! bounded by a semaphore; waits between attempts hold no permit.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, debug_span};
use url::Url;

use super::journal::{
    AttemptRecord, BuiltHeaders, DeliveryId, DeliveryRecord, DeliveryState, Journal, Overloaded,
    SavedDelivery, Targets, Timestamp, Trigger, canonical_digest,
};
use super::outcome::{AttemptOutcome, TerminalState};
use super::policy::{Decision, RetryPolicy};
use super::timeline::{Busy, Timeline, Turn};
use super::transport::{Transport, TransportOptions};
use crate::contract::envelope::{TIMESTAMP_LEN, write_timestamp};
use crate::contract::headers::{self, HeaderInputs};
use crate::contract::{Envelope, EventType, Secret, Signer, duration, format_timestamp};
use crate::simulation::Clock;

/// Default bound on attempts in flight at once.
pub const DEFAULT_CONCURRENCY: usize = 256;

/// Where and how deliveries are sent.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// The subscriber's webhook URL.
    pub url: Url,
    /// Signs bodies under the chosen scheme.
    pub signer: Signer,
    /// Bearer token for `Authorization`, when the profile sends it.
    pub bearer: Option<Secret>,
    /// Real-time deadline for a complete answer (never scaled by the simulated clock).
    pub timeout: Duration,
    /// When to retry.
    pub policy: RetryPolicy,
    /// Whether to add the mock-only `X-InboxKit-Mock-*` headers.
    pub mock_headers: bool,
}

/// Why a body cannot be sent.
#[derive(Debug, thiserror::Error)]
pub enum InvalidBody {
    /// Not JSON.
    #[error("the body is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    /// No string `event` at the top level.
    #[error("the body has no string field `event`")]
    NoEvent,
    /// Not UTF-8 (JSON that parsed always is; kept so that no input can panic).
    #[error("the body is not UTF-8: {0}")]
    NotUtf8(#[from] std::str::Utf8Error),
}

/// A body's text as bytes to send: shares the text's allocation, so the journal and every
/// attempt hold one copy of each body.
struct SharedText(Arc<str>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

fn shared_bytes(text: &Arc<str>) -> Bytes {
    Bytes::from_owner(SharedText(text.clone()))
}

/// A webhook body ready to send, with what the journal indexes it by.
#[derive(Debug, Clone)]
pub struct OutgoingEvent {
    /// The body as text (JSON is UTF-8), what the journal keeps.
    text: Arc<str>,
    /// The same body as bytes to send; shares `text`'s allocation.
    body: Bytes,
    event: String,
    entity_uid: Option<String>,
    status: Option<String>,
    previous_status: Option<String>,
    /// A recorded `X-InboxKit-Signature` value sent as is instead of signing (replays).
    signature: Option<String>,
}

impl OutgoingEvent {
    /// Serializes a typed envelope.
    pub fn from_envelope(envelope: &Envelope) -> Self {
        let entity = &envelope.data.entity;
        let text: Arc<str> = envelope.to_json().into();
        OutgoingEvent {
            body: shared_bytes(&text),
            text,
            event: envelope.event.to_string(),
            entity_uid: Some(entity.uid().to_owned()),
            status: Some(entity.status().to_owned()),
            previous_status: entity.previous_status().map(str::to_owned),
            signature: None,
        }
    }

    /// Takes any JSON body with a top-level `event` (overridden or hand-written bodies).
    pub fn from_json(body: Bytes) -> Result<Self, InvalidBody> {
        let value: serde_json::Value = serde_json::from_slice(&body)?;
        let text: Arc<str> = std::str::from_utf8(&body)?.into();
        let event = value
            .get("event")
            .and_then(|e| e.as_str())
            .ok_or(InvalidBody::NoEvent)?
            .to_owned();
        let key = EventType::parse(&event).data_key();
        let entity = value
            .get("data")
            .and_then(|data| data.get(key?))
            .filter(|e| e.is_object());
        let field = |name: &str| {
            entity
                .and_then(|e| e.get(name))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        Ok(OutgoingEvent {
            entity_uid: field("uid"),
            status: field("status"),
            previous_status: field("previous_status"),
            event,
            body: shared_bytes(&text),
            text,
            signature: None,
        })
    }

    /// Sends `signature` as `X-InboxKit-Signature` on every attempt instead of signing the body
    /// with the subscriber's key: a recorded delivery replayed byte for byte.
    pub fn with_signature(mut self, signature: impl Into<String>) -> Self {
        self.signature = Some(signature.into());
        self
    }

    /// The fixed signature, when one was set with [`OutgoingEvent::with_signature`].
    pub fn signature(&self) -> Option<&str> {
        self.signature.as_deref()
    }

    /// The exact body bytes.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The event type, as in the body.
    pub fn event(&self) -> &str {
        &self.event
    }
}

/// How a delivery ended, without bodies or headers: what load statistics need.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryOutcome {
    /// The terminal state.
    pub state: DeliveryState,
    /// Each scheduled attempt, in order.
    pub attempts: Vec<AttemptSummary>,
}

/// One attempt's outcome and latency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttemptSummary {
    /// Coded outcome.
    pub outcome: AttemptOutcome,
    /// Wall-clock latency in milliseconds.
    pub latency_ms: f64,
}

/// Sender settings that are fixed for its life.
#[derive(Debug, Clone)]
pub struct SenderOptions {
    /// Attempts in flight at once.
    pub concurrency: usize,
    /// Deliveries the journal keeps.
    pub journal_capacity: usize,
    /// Most deliveries in progress at once that [`Sender::try_submit`] accepts.
    pub max_in_progress: usize,
    /// HTTP client settings.
    pub transport: TransportOptions,
    /// Seed for retry jitter (random when absent).
    pub jitter_seed: Option<u64>,
    /// Whether deliveries about one entity go out in the order they were submitted.
    pub order: DeliveryOrder,
}

/// Whether the sender keeps each entity's deliveries in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum DeliveryOrder {
    /// A delivery about an entity makes its first attempt only after the one before it about the
    /// same entity has had its first attempt answered (InboxKit's steps are minutes apart).
    #[default]
    PerEntity,
    /// No order: deliveries race, and a later change can arrive first (a fault on purpose).
    Any,
}

impl Default for SenderOptions {
    fn default() -> Self {
        SenderOptions {
            concurrency: DEFAULT_CONCURRENCY,
            journal_capacity: super::journal::DEFAULT_JOURNAL_CAPACITY,
            max_in_progress: super::journal::DEFAULT_MAX_IN_PROGRESS,
            transport: TransportOptions::default(),
            jitter_seed: None,
            order: DeliveryOrder::default(),
        }
    }
}

/// Why the sender could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// The HTTP client could not be created.
    #[error("could not create the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Why a redelivery could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RedeliverError {
    /// No such delivery in the journal (never made, or evicted).
    #[error("no delivery `{0}` in the journal")]
    UnknownDelivery(DeliveryId),
}

/// Delivers events; cheap to clone, all clones share one journal, pool and bound.
#[derive(Debug, Clone)]
pub struct Sender {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    journal: Journal,
    /// Subscriber URLs shared by every record and attempt to them.
    targets: Targets,
    clock: Clock,
    permits: Semaphore,
    jitter: Mutex<StdRng>,
    tasks: TaskTracker,
    timeline: Arc<Timeline>,
    order: DeliveryOrder,
    generation: Mutex<Generation>,
    /// The runtime the sender was made on, where every delivery runs: a delivery submitted
    /// from an HTTP worker's single-threaded runtime (a REST call, a clock advance) still gets
    /// every core of `serve`'s runtime.
    runtime: Option<tokio::runtime::Handle>,
}

/// The deliveries started since the last [`Sender::cancel_all`]: cancelled and awaited together.
#[derive(Debug, Default)]
struct Generation {
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl Inner {
    /// Starts a delivery's task on the sender's runtime (the caller's when it has none).
    fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.runtime {
            Some(runtime) => self.tasks.spawn_on(task, runtime),
            None => self.tasks.spawn(task),
        }
    }

    /// The current generation's cancellation and tracker.
    fn generation(&self) -> (CancellationToken, TaskTracker) {
        let generation = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        (generation.cancel.clone(), generation.tasks.clone())
    }
}

impl Sender {
    /// A sender on `clock` with its own connection pool and journal.
    pub fn new(clock: Clock, options: SenderOptions) -> Result<Self, SenderError> {
        let jitter = match options.jitter_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => rand::make_rng(),
        };
        Ok(Sender {
            inner: Arc::new(Inner {
                transport: Transport::new(&options.transport)?,
                journal: Journal::with_limits(options.journal_capacity, options.max_in_progress),
                targets: Targets::default(),
                clock,
                permits: Semaphore::new(options.concurrency.max(1)),
                jitter: Mutex::new(jitter),
                tasks: TaskTracker::new(),
                timeline: Arc::new(Timeline::default()),
                order: options.order,
                generation: Mutex::new(Generation::default()),
                runtime: tokio::runtime::Handle::try_current().ok(),
            }),
        })
    }

    /// The runtime every delivery runs on (the one the sender was made on), if it had one.
    pub fn runtime(&self) -> Option<&tokio::runtime::Handle> {
        self.inner.runtime.as_ref()
    }

    /// The journal of every delivery.
    pub fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    /// The clock deliveries are timed on.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// What is due and when: busy deliveries, retries waiting, attempts made.
    pub fn timeline(&self) -> &Timeline {
        &self.inner.timeline
    }

    /// Cancels every delivery started so far (scheduled retries, queued and running attempts)
    /// and waits until their tasks have ended. Deliveries submitted afterwards are unaffected.
    pub async fn cancel_all(&self) {
        let old = std::mem::take(
            &mut *self
                .inner
                .generation
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        old.cancel.cancel();
        old.tasks.close();
        old.tasks.wait().await;
    }

    /// Opens a delivery and starts it in the background; returns its id at once. Not bounded
    /// by the intake cap: callers that must stay bounded use [`Sender::try_submit`], or wait
    /// with [`Sender::wait_for_room`] first.
    pub fn submit(&self, subscriber: Arc<Subscriber>, event: OutgoingEvent) -> DeliveryId {
        self.start(subscriber, event, false).0
    }

    /// Like [`Sender::submit`] unless as many deliveries as the intake cap allows
    /// ([`SenderOptions::max_in_progress`]) are in progress: then nothing is opened or sent.
    pub fn try_submit(
        &self,
        subscriber: Arc<Subscriber>,
        event: OutgoingEvent,
    ) -> Result<DeliveryId, Overloaded> {
        // Refused before anything is made or signed (an overload's refusals stay cheap); the
        // journal checks again as it opens the delivery.
        self.inner.journal.check_room()?;
        let (record, delivery, fixed) = self.opening(subscriber, event);
        // The turn is taken only once the delivery is opened: a refused one must not take a
        // place in its entity's line (dropping it would let the next one past the delivery
        // before it).
        let entity_uid = record.entity_uid.clone();
        self.inner
            .journal
            .try_open_signed(record, fixed.then_some(&*delivery.signature.text))?;
        let work = self.work_about(&delivery.subscriber, entity_uid.as_deref(), true);
        Ok(self.launch(delivery, None, work).0)
    }

    /// Waits until fewer deliveries than the intake cap are in progress (at once if so). Room
    /// is not reserved; a driver that waits here before each batch of submissions keeps the
    /// deliveries in progress near the cap instead of piling up.
    pub async fn wait_for_room(&self) {
        self.inner.journal.wait_for_room().await;
    }

    /// Whether [`Sender::try_submit`] would accept a delivery now.
    pub fn has_room(&self) -> bool {
        self.inner.journal.has_room()
    }

    /// Refuses, as [`Sender::try_submit`] would, when the deliveries in progress are at the
    /// cap: for intake that opens its deliveries later or elsewhere.
    pub fn check_room(&self) -> Result<(), Overloaded> {
        self.inner.journal.check_room()
    }

    /// Delivers one event to a terminal state and returns its full record.
    pub async fn deliver(
        &self,
        subscriber: Arc<Subscriber>,
        event: OutgoingEvent,
    ) -> DeliveryRecord {
        let (id, task) = self.start(subscriber, event, true);
        match task.await {
            Ok((_, Some(record))) => record,
            Ok((_, None)) => unreachable!("a delivery started with a snapshot returns one"),
            Err(error) => panic!("delivery {id} failed: {error}"),
        }
    }

    /// Delivers one event to a terminal state and returns only its outcome: no bodies or
    /// headers are copied, for load runs (the journal still holds every attempt).
    ///
    /// The delivery runs in the caller's task rather than a task of its own (load runs make
    /// one call per event, each in its own task already): it is counted by [`Sender::drain`]
    /// and stopped by [`Sender::cancel_all`] like any other, but dropping the returned future
    /// before it completes abandons the delivery where it is.
    pub async fn deliver_outcome(
        &self,
        subscriber: Arc<Subscriber>,
        event: OutgoingEvent,
    ) -> DeliveryOutcome {
        let (record, delivery, fixed) = self.opening(subscriber, event);
        let work = self.work(&delivery.subscriber, &record);
        self.inner
            .journal
            .open_signed(record, fixed.then_some(&*delivery.signature.text));
        let span = debug_span!("delivery", id = %delivery.id, event = %delivery.event);
        let (cancel, generation) = self.inner.generation();
        // Tracked as if it were a task, so that drain and cancel_all wait for it.
        let (_all, _generation) = (self.inner.tasks.token(), generation.token());
        let job = Job::new(delivery, None, Resume::fresh(), work);
        self.inner
            .run_until_cancelled(job, cancel)
            .instrument(span)
            .await
            .0
    }

    fn start(
        &self,
        subscriber: Arc<Subscriber>,
        event: OutgoingEvent,
        snapshot: bool,
    ) -> (DeliveryId, DeliveryTask) {
        let (record, delivery, fixed) = self.opening(subscriber, event);
        let skeleton = snapshot.then(|| record.clone());
        let work = self.work(&delivery.subscriber, &record);
        // A fixed signature (a replay) is saved with the body; any other is computed again from
        // the subscriber's key when a saved delivery resumes.
        self.inner
            .journal
            .open_signed(record, fixed.then_some(&*delivery.signature.text));
        self.launch(delivery, skeleton, work)
    }

    /// A new delivery's place on the timeline: busy from now, and in its entity's line.
    /// A delivery whose first attempt was already made (a resumed one) takes no turn.
    fn work(&self, subscriber: &Subscriber, record: &DeliveryRecord) -> Work {
        let first_attempt_due = record.scheduled_attempts() == 0;
        self.work_about(subscriber, record.entity_uid.as_deref(), first_attempt_due)
    }

    /// [`Sender::work`] for a delivery about `entity_uid`.
    fn work_about(
        &self,
        subscriber: &Subscriber,
        entity_uid: Option<&str>,
        first_attempt_due: bool,
    ) -> Work {
        Work {
            busy: self.inner.timeline.busy(),
            turn: match (self.inner.order, entity_uid) {
                (DeliveryOrder::PerEntity, Some(uid)) if first_attempt_due => {
                    Some(self.inner.timeline.take_turn(&subscriber.url, uid))
                }
                _ => None,
            },
        }
    }

    /// The record a new delivery of `event` opens with, what it sends (signed), and whether its
    /// signature is a fixed one (a replay's, saved with the record).
    fn opening(
        &self,
        subscriber: Arc<Subscriber>,
        event: OutgoingEvent,
    ) -> (DeliveryRecord, Delivery, bool) {
        let OutgoingEvent {
            text,
            body,
            event,
            entity_uid,
            status,
            previous_status,
            signature,
        } = event;
        let target = self.inner.targets.get(subscriber.url.as_str());
        let record = DeliveryRecord {
            id: DeliveryId::generate(),
            event,
            entity_uid,
            status,
            previous_status,
            target: target.clone(),
            created_at: self.inner.clock.now().into(),
            state: DeliveryState::Pending,
            body: text,
            attempts: Vec::new(),
        };
        let fixed = signature.is_some();
        let signature = match signature {
            Some(text) => Signature::new(text),
            None => {
                let (text, digest) = subscriber.signer.sign_with_digest(&body);
                Signature {
                    text,
                    digest: Some(digest),
                }
            }
        };
        let delivery = Delivery {
            id: record.id.clone(),
            event: record.event.clone(),
            subscriber,
            target,
            body,
            signature,
        };
        (record, delivery, fixed)
    }

    /// Starts the attempts of an opened delivery in the background.
    fn launch(
        &self,
        delivery: Delivery,
        skeleton: Option<DeliveryRecord>,
        work: Work,
    ) -> (DeliveryId, DeliveryTask) {
        let span = debug_span!("delivery", id = %delivery.id, event = %delivery.event);
        let inner = self.inner.clone();
        let id = delivery.id.clone();
        let job = Job::new(delivery, skeleton, Resume::fresh(), work);
        let (cancel, generation) = self.inner.generation();
        let task = self.inner.spawn(generation.track_future(
            async move { inner.run_until_cancelled(job, cancel).await }.instrument(span),
        ));
        (id, task)
    }

    /// Puts a saved delivery back in the journal and, unless it is terminal, carries on with its
    /// retry schedule: saved attempts count toward the policy, a retry waits for the rest of its
    /// delay, and an attempt that was in flight when the process died is sent again (flagged
    /// `resent_after_crash` and counted). Returns whether it resumed.
    pub fn resume(&self, subscriber: Arc<Subscriber>, saved: SavedDelivery) -> bool {
        let resent = saved.in_flight();
        let record = saved.record;
        if record.state.terminal().is_some() {
            self.inner.journal.restore(record);
            return false;
        }
        let made = u32::try_from(record.scheduled_attempts()).unwrap_or(u32::MAX - 1);
        let due = record
            .attempts
            .iter()
            .rev()
            .find(|a| a.trigger == Trigger::Scheduled)
            .and_then(|a| a.next_attempt_at)
            .map(Timestamp::instant);
        let body = shared_bytes(&record.body);
        let signature = saved
            .signature
            .unwrap_or_else(|| subscriber.signer.sign(&body));
        let delivery = Delivery {
            id: record.id.clone(),
            event: record.event.clone(),
            // Where it goes now: a resumed delivery is sent to the current subscriber.
            target: self.inner.targets.get(subscriber.url.as_str()),
            subscriber,
            body,
            signature: Signature::new(signature),
        };
        let work = self.work(&delivery.subscriber, &record);
        self.inner.journal.restore(record);
        self.inner.journal.count_resumed(resent);
        let resume = Resume {
            number: made + 1,
            due,
            resent,
        };
        let span =
            debug_span!("delivery", id = %delivery.id, event = %delivery.event, resumed = true);
        let inner = self.inner.clone();
        let job = Job::new(delivery, None, resume, work);
        let (cancel, generation) = self.inner.generation();
        self.inner.spawn(
            generation.track_future(
                async move {
                    inner.run_until_cancelled(job, cancel).await;
                }
                .instrument(span),
            ),
        );
        true
    }

    /// Makes one manual attempt of a journaled delivery to `subscriber`; the delivery's terminal
    /// state does not change (the attempt is journaled with trigger `manual`).
    pub async fn redeliver(
        &self,
        id: &DeliveryId,
        subscriber: &Subscriber,
    ) -> Result<AttemptRecord, RedeliverError> {
        let record = self
            .inner
            .journal
            .get(id)
            .ok_or_else(|| RedeliverError::UnknownDelivery(id.clone()))?;
        let body = shared_bytes(&record.body);
        let delivery = Delivery {
            id: id.clone(),
            event: record.event.clone(),
            signature: Signature::new(subscriber.signer.sign(&body)),
            subscriber: Arc::new(subscriber.clone()),
            target: self.inner.targets.get(subscriber.url.as_str()),
            body,
        };
        let number = u32::try_from(record.attempts.len()).unwrap_or(u32::MAX - 1) + 1;
        let state = record.state;
        // Not held across the attempt: a record carries every attempt's answer.
        drop(record);
        let made = self.inner.attempt(&delivery, number, Trigger::Manual).await;
        let attempt = made.full(id, &delivery.event);
        made.journal(&self.inner.journal, id, state, false);
        Ok(attempt)
    }

    /// Waits until every submitted delivery is terminal.
    pub async fn drain(&self) {
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        self.inner.tasks.reopen();
    }
}

/// The task of one delivery: its outcome and, when asked for, its final record.
type DeliveryTask = tokio::task::JoinHandle<(DeliveryOutcome, Option<DeliveryRecord>)>;

/// What one delivery sends, signature included.
struct Delivery {
    id: DeliveryId,
    event: String,
    subscriber: Arc<Subscriber>,
    /// The subscriber's URL as every record of it holds it.
    target: Arc<str>,
    body: Bytes,
    signature: Signature,
}

/// Where a delivery's schedule starts: attempt 1 now, or further on after a restart.
struct Resume {
    /// The first attempt number to make.
    number: u32,
    /// When that attempt is due (now when absent).
    due: Option<DateTime<Utc>>,
    /// Whether that attempt was in flight when the process died (a possible duplicate).
    resent: bool,
}

impl Resume {
    fn fresh() -> Self {
        Resume {
            number: 1,
            due: None,
            resent: false,
        }
    }
}

/// A delivery's place on the timeline: busy from submission, and its turn in its entity's line.
struct Work {
    busy: Busy,
    turn: Option<Turn>,
}

/// Everything a delivery's run holds, boxed once: a waiting delivery's task then holds a
/// pointer and a few counters, not copies of it (an `async fn` keeps its arguments apart from
/// its locals), and never an attempt's transport state, which is boxed only while it runs. A
/// flood of deliveries waiting for their retries stays small (the intake cap times this).
struct Job {
    delivery: Delivery,
    /// The record as opened, when the caller wants the final record back.
    skeleton: Option<DeliveryRecord>,
    resume: Resume,
    work: Work,
}

impl Job {
    fn new(
        delivery: Delivery,
        skeleton: Option<DeliveryRecord>,
        resume: Resume,
        work: Work,
    ) -> Box<Job> {
        Box::new(Job {
            delivery,
            skeleton,
            resume,
            work,
        })
    }
}

impl Inner {
    /// [`Inner::run`] until `cancel` fires; a cancelled delivery stops where it is (waiting,
    /// queued or mid-attempt) and returns its record as opened.
    async fn run_until_cancelled(
        &self,
        job: Box<Job>,
        cancel: CancellationToken,
    ) -> (DeliveryOutcome, Option<DeliveryRecord>) {
        let opened = job.skeleton.clone().map(Box::new);
        tokio::select! {
            biased;
            () = cancel.cancelled() => {
                debug!("delivery cancelled");
                let outcome = DeliveryOutcome {
                    state: opened.as_ref().map_or(DeliveryState::Pending, |r| r.state),
                    attempts: Vec::new(),
                };
                (outcome, opened.map(|record| *record))
            }
            finished = self.run(job) => finished,
        }
    }

    /// Runs scheduled attempts until a terminal state. Returns the outcome and, when a
    /// `skeleton` (the record as opened) is given, the final record: the journal's snapshot, or
    /// the skeleton with its attempts if the journal dropped the delivery (a reset).
    async fn run(&self, mut job: Box<Job>) -> (DeliveryOutcome, Option<DeliveryRecord>) {
        // Only the small parts leave the box; the delivery and the skeleton stay in it.
        let mut busy = job.work.busy;
        let mut turn = job.work.turn.take();
        let (mut number, mut resent) = (job.resume.number, job.resume.resent);
        let mut outcome = DeliveryOutcome {
            state: DeliveryState::Pending,
            attempts: Vec::with_capacity(job.delivery.subscriber.policy.max_attempts() as usize),
        };
        if let Some(due) = job.resume.due {
            busy = self.wait_for(due, busy).await;
        }
        loop {
            // With saved state, the delivery and this attempt's start are durable before it is
            // sent: a crash can then cause a duplicate, never a loss.
            if let Some(turn) = &mut turn {
                turn.wait().await;
            }
            let delivery = &job.delivery;
            if let Some(store) = self.journal.store() {
                store.started(&delivery.id, number);
                store.flush().await;
            }
            // Boxed: an attempt's transport state (kilobytes) exists only while it runs, not
            // in every delivery waiting for a retry.
            let mut made = Box::pin(self.attempt(delivery, number, Trigger::Scheduled)).await;
            made.record.resent_after_crash = std::mem::take(&mut resent);
            // The next delivery about this entity may go once this first attempt is answered.
            drop(turn.take());
            let attempted = made.record.outcome;
            outcome.attempts.push(AttemptSummary {
                outcome: attempted,
                latency_ms: made.record.latency_ms,
            });
            // Drawn for every attempt, so that a seeded sender's delays depend on the seed and
            // the attempts' order only.
            let sample = self.jitter.lock().expect("jitter lock").random::<f64>();
            let Delivery {
                id,
                event,
                subscriber,
                ..
            } = &job.delivery;
            match subscriber.policy.decide(number, attempted, sample) {
                Decision::Finish(state) => {
                    debug!(attempts = number, state = %state, "delivery finished");
                    outcome.state = DeliveryState::from(state);
                    let Some(mut skeleton) = job.skeleton.take() else {
                        made.journal(&self.journal, id, outcome.state, false);
                        return (outcome, None);
                    };
                    skeleton.attempts.push(made.full(id, event));
                    skeleton.state = outcome.state;
                    let record = made
                        .journal(&self.journal, id, outcome.state, true)
                        .unwrap_or(skeleton);
                    return (outcome, Some(record));
                }
                Decision::RetryAfter(delay) => {
                    let due = duration::saturating_add(self.clock.now(), delay);
                    made.record.next_attempt_at = Some(due.into());
                    if let Some(skeleton) = &mut job.skeleton {
                        skeleton.attempts.push(made.full(id, event));
                    }
                    made.journal(&self.journal, id, DeliveryState::Retrying, false);
                    busy = self.wait_for(due, busy).await;
                    number += 1;
                }
            }
        }
    }

    /// Waits on the simulated clock until `due`, not busy meanwhile: the retry is noted on the
    /// timeline before the delivery stops being busy, and it is busy again before the note goes,
    /// so a clock advance never sees a moment with neither.
    async fn wait_for(&self, due: DateTime<Utc>, busy: Busy) -> Busy {
        let scheduled = self.timeline.retry_at(due);
        drop(busy);
        // Boxed: the sleep's state exists only while a delivery waits.
        Box::pin(self.clock.sleep_until(due)).await;
        let busy = self.timeline.busy();
        drop(scheduled);
        busy
    }

    async fn attempt(&self, delivery: &Delivery, number: u32, trigger: Trigger) -> Made {
        let Delivery {
            id,
            event,
            subscriber,
            target,
            body,
            signature,
        } = delivery;
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let started_at = self.clock.now();
        let mut stamp = [0u8; TIMESTAMP_LEN];
        let timestamp = match write_timestamp(started_at, &mut stamp) {
            Some(written) => Cow::Borrowed(written),
            None => Cow::Owned(format_timestamp(started_at)),
        };
        let inputs = HeaderInputs {
            event,
            timestamp: &timestamp,
            signature: &signature.text,
            bearer: subscriber.bearer.as_ref().map(Secret::expose),
            mock: subscriber.mock_headers.then_some((id.as_str(), number)),
        };
        let authorization = inputs.bearer.map(|token| format!("Bearer {token}"));
        let attempt_text = inputs.mock.map(|(_, number)| number.to_string());
        let wire = headers::pairs(&inputs, authorization.as_deref(), attempt_text.as_deref());
        let exchange = self
            .transport
            .post(&subscriber.url, &wire, body.clone(), subscriber.timeout)
            .await;
        self.timeline.count_attempt();
        debug!(attempt = number, outcome = %exchange.outcome, latency_ms = exchange.latency.as_secs_f64() * 1e3, "attempt");
        // The journal keeps the built set as its few varying values; only a signature it cannot
        // write back the same (a replayed one in another form) keeps the list itself.
        // A bearer token that is empty or blank is redacted as a whole value: the list keeps it.
        let blank_bearer = inputs.bearer.is_some_and(|token| token.trim().is_empty());
        let (request_headers, built) = match signature.digest.filter(|_| !blank_bearer) {
            Some(digest) => (
                Vec::new(),
                Some(BuiltHeaders {
                    signature: digest,
                    bearer: inputs.bearer.is_some(),
                    mock_attempt: inputs.mock.map(|(_, number)| number),
                }),
            ),
            None => (headers::redacted(headers::build(&inputs)), None),
        };
        Made {
            record: AttemptRecord {
                number,
                trigger,
                started_at: started_at.into(),
                url: target.clone(),
                request_headers,
                response: exchange.response,
                latency_ms: exchange.latency.as_secs_f64() * 1e3,
                outcome: exchange.outcome,
                error: exchange.error,
                next_attempt_at: None,
                resent_after_crash: false,
            },
            built,
        }
    }
}

/// A `X-InboxKit-Signature` value, with its digest when it is in the canonical form.
struct Signature {
    text: String,
    digest: Option<[u8; 32]>,
}

impl Signature {
    fn new(text: String) -> Self {
        Signature {
            digest: canonical_digest(&text),
            text,
        }
    }
}

/// An attempt as made: its record, and its request headers as built when they were (the
/// record's own list is then empty).
struct Made {
    record: AttemptRecord,
    built: Option<BuiltHeaders>,
}

impl Made {
    /// The record with its request headers, for a caller that returns it.
    fn full(&self, id: &DeliveryId, event: &str) -> AttemptRecord {
        let mut record = self.record.clone();
        if let Some(built) = &self.built {
            record.request_headers = built.render(id.as_str(), event, &record);
        }
        record
    }

    /// Journals the attempt, moving the delivery to `state`; with `snapshot`, returns the
    /// record if this attempt made it terminal.
    fn journal(
        self,
        journal: &Journal,
        id: &DeliveryId,
        state: DeliveryState,
        snapshot: bool,
    ) -> Option<DeliveryRecord> {
        match self.built {
            Some(built) => journal.record_built_attempt(id, self.record, built, state, snapshot),
            None if snapshot => journal.record_final_attempt(id, self.record, state),
            None => {
                journal.record_attempt(id, self.record, state);
                None
            }
        }
    }
}

/// The terminal state of a finished record (panics on an unfinished one: call after `deliver`).
pub fn terminal_state(record: &DeliveryRecord) -> TerminalState {
    record
        .state
        .terminal()
        .expect("deliver returns terminal records")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::SignatureScheme;

    /// What a delivery in progress costs while it waits: its task holds a boxed job and the
    /// wait's state, never an attempt's transport state, so that a flood of deliveries waiting
    /// for their retries stays within the intake cap's memory bound.
    #[tokio::test]
    async fn a_waiting_delivery_holds_a_small_state() {
        let sender = Sender::new(Clock::real(), SenderOptions::default()).expect("sender");
        let subscriber = Arc::new(Subscriber {
            url: Url::parse("http://127.0.0.1:9/hook").expect("url"),
            signer: Signer::new(SignatureScheme::HmacBody, Secret::new("s")),
            bearer: None,
            timeout: Duration::from_secs(10),
            policy: RetryPolicy::with_delays(vec![Duration::from_secs(10)]),
            mock_headers: false,
        });
        let record = DeliveryRecord {
            attempts: Vec::new(),
            ..crate::delivery::fixtures::delivered("domain.status_changed", "d", Vec::new())
        };
        let delivery = Delivery {
            id: record.id.clone(),
            event: record.event.clone(),
            subscriber: subscriber.clone(),
            target: record.target.clone(),
            body: Bytes::from_static(b"{}"),
            signature: Signature::new(String::new()),
        };
        let work = sender.work(&subscriber, &record);
        let job = Job::new(delivery, None, Resume::fresh(), work);
        let boxed = std::mem::size_of_val(&*job);
        let running = sender
            .inner
            .run_until_cancelled(job, CancellationToken::new());
        let size = std::mem::size_of_val(&running);
        eprintln!("a delivery's running state: {size} bytes, its boxed job {boxed} bytes");
        assert!(size + boxed <= 1024, "{size} + {boxed} bytes");
    }

    /// A delivery refused at the intake cap takes no place in its entity's line: the next one
    /// about the entity still waits for the delivery in flight before it.
    #[tokio::test]
    async fn a_refused_delivery_does_not_let_the_next_one_jump_the_line() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::AsyncReadExt;
        // A subscriber that reads requests and never answers, counting them.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/hook", listener.local_addr().unwrap())).unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let counted = counted.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    let mut seen = Vec::new();
                    while let Ok(read) = socket.read(&mut buffer).await {
                        if read == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buffer[..read]);
                        if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            counted.fetch_add(1, Ordering::SeqCst);
                            seen.clear();
                        }
                    }
                });
            }
        });
        let options = SenderOptions {
            max_in_progress: 1,
            ..SenderOptions::default()
        };
        let sender = Sender::new(Clock::real(), options).expect("sender");
        let subscriber = Arc::new(Subscriber {
            url,
            signer: Signer::new(SignatureScheme::HmacBody, Secret::new("s")),
            bearer: None,
            timeout: Duration::from_secs(60),
            policy: RetryPolicy::with_delays(vec![]),
            mock_headers: false,
        });
        let event = |status: &str| {
            let body = format!(
                r#"{{"event":"domain.status_changed","data":{{"domain":{{"uid":"x","status":"{status}"}}}}}}"#
            );
            OutgoingEvent::from_json(Bytes::from(body)).expect("event")
        };
        sender
            .try_submit(subscriber.clone(), event("registered"))
            .expect("the first is accepted");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while requests.load(Ordering::SeqCst) == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the first was never sent"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            sender
                .try_submit(subscriber.clone(), event("dns_pending"))
                .is_err(),
            "the second is refused at the cap"
        );
        sender.submit(subscriber.clone(), event("active"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            requests.load(Ordering::SeqCst),
            1,
            "the third went out before the first was answered"
        );
        sender.cancel_all().await;
    }
}
