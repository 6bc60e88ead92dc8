//! What the sender has due, and when: the bookkeeping behind a clock advance that walks the
//! timeline, and behind per-entity order.
//!
//! A delivery is *busy* from the moment it is submitted until its attempt is answered, and again
//! from the moment a retry comes due until that attempt is answered; in between it waits for a
//! retry at a known instant. The sender is *settled* at an instant when nothing is busy and no
//! retry is due by then: every attempt due up to that instant has been made. A clock advance
//! moves from one due instant to the next only once the sender has settled.
//!
//! Per-entity order: each delivery about an entity takes a turn in that entity's line (one line
//! per subscriber URL and entity uid) when it is submitted, and makes its first attempt only
//! after the delivery before it in the line has had its first attempt answered (or given up).
//! Deliveries about different entities, or to different subscribers, never wait for each other.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, oneshot};

/// The sender's due work, shared by every delivery task.
#[derive(Debug, Default)]
pub struct Timeline {
    busy: AtomicUsize,
    retries: Mutex<BTreeMap<DateTime<Utc>, usize>>,
    attempts: AtomicU64,
    waiters: AtomicUsize,
    changed: Notify,
    lines: Mutex<Lines>,
    tickets: AtomicU64,
}

impl Timeline {
    /// Marks one delivery busy until the guard is dropped.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }

    /// Notes a retry due at `at` until the guard is dropped.
    pub fn retry_at(self: &Arc<Self>, at: DateTime<Utc>) -> ScheduledRetry {
        *self.retries().entry(at).or_default() += 1;
        self.notify();
        ScheduledRetry {
            timeline: self.clone(),
            at,
        }
    }

    /// Counts one attempt made.
    pub fn count_attempt(&self) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }

    /// Attempts made so far (scheduled and manual).
    pub fn attempts_made(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }

    /// Deliveries with an attempt due now or running.
    pub fn busy_count(&self) -> usize {
        self.busy.load(Ordering::SeqCst)
    }

    /// The earliest retry waiting, if any.
    pub fn next_retry(&self) -> Option<DateTime<Utc>> {
        self.retries().keys().next().copied()
    }

    /// Retries waiting for their instant.
    pub fn retries_scheduled(&self) -> usize {
        self.retries().values().sum()
    }

    /// Whether every attempt due at or before `now` has been made and answered.
    pub fn is_settled(&self, now: DateTime<Utc>) -> bool {
        self.busy.load(Ordering::SeqCst) == 0 && self.next_retry().is_none_or(|at| at > now)
    }

    /// Waits until [`Timeline::is_settled`] holds at the instant `now()` gives.
    pub async fn settled(&self, now: impl Fn() -> DateTime<Utc>) {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let _leave = Leave(&self.waiters);
        loop {
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            if self.is_settled(now()) {
                return;
            }
            changed.await;
        }
    }

    /// Takes the next turn in the line of deliveries to `target` about `entity`.
    pub fn take_turn(self: &Arc<Self>, target: &url::Url, entity: &str) -> Turn {
        let entity: Arc<str> = [target.as_str(), entity].join("\n").into();
        let ticket = self.tickets.fetch_add(1, Ordering::Relaxed);
        let (done, next) = oneshot::channel();
        let before = self
            .lines()
            .insert(entity.clone(), (ticket, next))
            .map(|(_, before)| before);
        Turn {
            timeline: self.clone(),
            entity,
            ticket,
            before,
            done: Some(done),
        }
    }

    fn retries(&self) -> MutexGuard<'_, BTreeMap<DateTime<Utc>, usize>> {
        self.retries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lines(&self) -> MutexGuard<'_, Lines> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.changed.notify_waiters();
        }
    }
}

struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One busy delivery; dropping it (finished, waiting for a retry, or cancelled) frees it.
#[derive(Debug)]
pub struct Busy(Arc<Timeline>);

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.notify();
        }
    }
}

/// A retry waiting for its instant; dropping it (the retry came due, or was cancelled) removes it.
#[derive(Debug)]
pub struct ScheduledRetry {
    timeline: Arc<Timeline>,
    at: DateTime<Utc>,
}

impl Drop for ScheduledRetry {
    fn drop(&mut self) {
        let mut retries = self.timeline.retries();
        if let Some(count) = retries.get_mut(&self.at) {
            *count -= 1;
            if *count == 0 {
                retries.remove(&self.at);
            }
        }
        drop(retries);
        self.timeline.notify();
    }
}

/// The last turn taken in each line (target and entity), and how to wait for it.
type Lines = HashMap<Arc<str>, (u64, oneshot::Receiver<()>), foldhash::fast::RandomState>;

/// A delivery's place in its entity's line.
#[derive(Debug)]
pub struct Turn {
    timeline: Arc<Timeline>,
    entity: Arc<str>,
    ticket: u64,
    before: Option<oneshot::Receiver<()>>,
    done: Option<oneshot::Sender<()>>,
}

impl Turn {
    /// Waits until the delivery before this one has had its first attempt answered.
    pub async fn wait(&mut self) {
        if let Some(before) = self.before.take() {
            // An error means the one before was dropped (finished early or cancelled): go on.
            let _ = before.await;
        }
    }

    /// Lets the next delivery about the entity make its first attempt.
    pub fn pass(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
            let mut lines = self.timeline.lines();
            if lines
                .get(&self.entity)
                .is_some_and(|(ticket, _)| *ticket == self.ticket)
            {
                lines.remove(&self.entity);
            }
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.pass();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).expect("valid time")
    }

    #[test]
    fn settled_means_nothing_busy_and_no_retry_due() {
        let timeline = Arc::new(Timeline::default());
        assert!(timeline.is_settled(at(0)));
        let busy = timeline.busy();
        assert!(!timeline.is_settled(at(0)));
        let retry = timeline.retry_at(at(10));
        drop(busy);
        assert!(timeline.is_settled(at(9)));
        assert!(!timeline.is_settled(at(10)), "a retry due by now is work");
        assert_eq!(timeline.next_retry(), Some(at(10)));
        assert_eq!(timeline.retries_scheduled(), 1);
        drop(retry);
        assert!(timeline.is_settled(at(10)));
        assert_eq!(timeline.next_retry(), None);
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_the_last_busy_delivery_ends() {
        let timeline = Arc::new(Timeline::default());
        let busy = timeline.busy();
        let waiter = {
            let timeline = timeline.clone();
            tokio::spawn(async move { timeline.settled(|| at(0)).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(busy);
        tokio::time::timeout(Duration::from_secs(30), waiter)
            .await
            .expect("woken")
            .unwrap();
    }

    #[tokio::test]
    async fn turns_about_one_entity_go_in_order_and_others_do_not_wait() {
        let timeline = Arc::new(Timeline::default());
        let hook = url::Url::parse("http://127.0.0.1:9/hook").unwrap();
        let elsewhere = url::Url::parse("http://127.0.0.1:9/other").unwrap();
        let mut first = timeline.take_turn(&hook, "mailbox-1");
        let mut second = timeline.take_turn(&hook, "mailbox-1");
        let mut other = timeline.take_turn(&hook, "mailbox-2");
        let mut same_entity_elsewhere = timeline.take_turn(&elsewhere, "mailbox-1");
        same_entity_elsewhere.wait().await;
        first.wait().await;
        other.wait().await;
        {
            let mut waiting = std::pin::pin!(second.wait());
            assert!(futures::poll!(waiting.as_mut()).is_pending());
            first.pass();
            waiting.await;
        }
        drop((second, other, same_entity_elsewhere));
        assert!(timeline.lines().is_empty(), "finished lines are removed");
    }

    #[tokio::test]
    async fn a_dropped_turn_lets_the_next_one_go() {
        let timeline = Arc::new(Timeline::default());
        let hook = url::Url::parse("http://127.0.0.1:9/hook").unwrap();
        let first = timeline.take_turn(&hook, "domain-1");
        let mut second = timeline.take_turn(&hook, "domain-1");
        drop(first);
        tokio::time::timeout(Duration::from_secs(30), second.wait())
            .await
            .expect("not blocked by a cancelled delivery");
    }
}
