//! Moving the clock and waiting for deliveries, each wait bounded by the mock's wait timeout.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::builder::whole_millis;
use super::matcher::DeliveryMatcher;
use super::mock::MockInboxKit;
use super::table::render;
use crate::delivery::journal::Filter;
use crate::delivery::{DeliveryId, DeliveryRecord, DeliveryState};

/// Extra real time a wait gives a running attempt beyond its deadline, to be journaled.
const GRACE: Duration = Duration::from_millis(250);

impl MockInboxKit {
    /// Moves the clock forward by `by` (rounded up to whole milliseconds) and lets everything
    /// due in that time happen, in order: each lifecycle step and each retry at its due
    /// instant, waiting for the attempts it starts. Returns how many lifecycle steps fired.
    ///
    /// Retries sleep on the same clock, so a 500-then-200 subscriber is retried by
    /// `advance(Duration::from_secs(10))`, without waiting 10 s. Panics with the journal when
    /// attempts are still running after the wait timeout.
    pub async fn advance(&self, by: Duration) -> usize {
        let state = self.state();
        let target = self.now() + delta(whole_millis(by));
        let mut fired = 0;
        loop {
            self.settle().await;
            let now = self.now();
            let next = [state.sim().next_due(), self.next_retry()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(at) if at <= target => fired += state.advance(until(now, at)).await,
                _ => break,
            }
        }
        fired += state.advance(until(self.now(), target)).await;
        self.settle().await;
        fired
    }

    /// Waits until no attempt is running: every delivery is finished or waiting for a retry
    /// that is not due yet.
    async fn settle(&self) {
        let journal = self.journal();
        let settled = journal.wait_until(|_| self.running() == 0);
        if self.within(settled).await.is_none() {
            panic!(
                "{} deliveries were still being attempted after {:?}:\n{}",
                self.running(),
                self.wait,
                render(&journal.all())
            );
        }
    }

    /// Deliveries whose attempt is running: not attempted yet, or with a retry due by now.
    fn running(&self) -> usize {
        let now = self.now();
        let pending = Filter {
            state: Some(DeliveryState::Pending),
            ..Filter::default()
        };
        let (_, pending) = self.journal().list(&pending, 0, 0);
        let due = self.retries().into_iter().filter(|at| *at <= now).count();
        pending + due
    }

    /// When each retrying delivery's next attempt is due.
    fn retries(&self) -> Vec<DateTime<Utc>> {
        let retrying = Filter {
            state: Some(DeliveryState::Retrying),
            ..Filter::default()
        };
        self.journal()
            .list(&retrying, 0, usize::MAX)
            .0
            .iter()
            .filter_map(|r| r.last_attempt()?.next_attempt_at)
            .map(|at| at.instant())
            .collect()
    }

    /// The earliest retry due after now.
    fn next_retry(&self) -> Option<DateTime<Utc>> {
        let now = self.now();
        self.retries().into_iter().filter(|at| *at > now).min()
    }

    /// Waits until at least `count` deliveries are finished (delivered, rejected or exhausted)
    /// and returns every delivery, oldest first. Panics with the journal after the wait timeout.
    pub async fn wait_for_deliveries(&self, count: usize) -> Vec<DeliveryRecord> {
        let journal = self.journal();
        let finished = || self.finished();
        let done = journal.wait_until(|_| finished() >= count);
        if self.within(done).await.is_none() {
            panic!(
                "expected at least {count} finished deliveries within {:?}, {} finished:\n{}{}",
                self.wait,
                finished(),
                render(&journal.all()),
                self.retry_hint()
            );
        }
        journal.all()
    }

    /// Waits until a delivery matches (a finished one, unless the matcher asks for `pending`
    /// or `retrying`) and returns it. Panics with the journal after the wait timeout.
    pub async fn wait_for(&self, matcher: impl Into<DeliveryMatcher>) -> DeliveryRecord {
        let matcher = matcher.into();
        let journal = self.journal();
        let found = || {
            journal.all().into_iter().find(|r| {
                (matcher.wants_unfinished() || r.state.terminal().is_some()) && matcher.matches(r)
            })
        };
        let done = journal.wait_until(|_| found().is_some());
        if self.within(done).await.is_none() {
            panic!(
                "expected a delivery matching {{{matcher}}} within {:?}; the journal:\n{}{}",
                self.wait,
                render(&journal.all()),
                self.retry_hint()
            );
        }
        found().expect("the wait ended because one matched")
    }

    /// Waits until delivery `id` is finished and returns it. Panics after the wait timeout.
    pub async fn wait_for_delivery(&self, id: &DeliveryId) -> DeliveryRecord {
        let journal = self.journal();
        match self.within(journal.wait_terminal(id)).await {
            Some(Some(record)) => record,
            Some(None) => panic!(
                "no delivery `{id}` in the journal:\n{}",
                render(&journal.all())
            ),
            None => panic!(
                "delivery `{id}` was not finished within {:?}; the journal:\n{}{}",
                self.wait,
                render(&journal.all()),
                self.retry_hint()
            ),
        }
    }

    /// Runs `wait` for the wait timeout; if attempts are still running then, once more for as
    /// long as an attempt may take (the subscriber deadline in real time), so a slow answer is
    /// still seen. `None` when it did not finish.
    async fn within<F: Future>(&self, wait: F) -> Option<F::Output> {
        let mut wait = std::pin::pin!(wait);
        if let Ok(done) = tokio::time::timeout(self.wait, &mut wait).await {
            return Some(done);
        }
        if self.running() == 0 {
            return None;
        }
        let deadline = self.clock().to_real(self.state().settings().timeout);
        tokio::time::timeout(deadline.saturating_add(GRACE), wait)
            .await
            .ok()
    }

    fn finished(&self) -> usize {
        let counters = self.journal().counters();
        usize::try_from(counters.terminal.values().sum::<u64>()).unwrap_or(usize::MAX)
    }

    /// A reminder that retries wait for the paused clock, when some do.
    fn retry_hint(&self) -> String {
        let waiting = self.retries().len();
        if waiting > 0 && self.clock().is_paused() {
            format!(
                "\n{waiting} waiting for a retry on the paused clock (now {}): `mock.advance(..)` moves it",
                crate::contract::format_timestamp(self.now())
            )
        } else {
            String::new()
        }
    }
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// The time from `now` to `at`, zero when `at` has passed.
fn until(now: DateTime<Utc>, at: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or_default()
}
