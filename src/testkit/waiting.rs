//! Moving the clock and waiting for deliveries, each wait bounded by the mock's wait timeout.

use std::time::Duration;

use super::builder::whole_millis;
use super::matcher::DeliveryMatcher;
use super::mock::MockInboxKit;
use super::table::render;
use crate::delivery::{DeliveryId, DeliveryRecord};
use crate::server::Advanced;

/// Extra real time a wait gives a running attempt beyond its deadline, to be journaled.
const GRACE: Duration = Duration::from_millis(250);

impl MockInboxKit {
    /// Walks the clock forward by `by` (rounded up to whole milliseconds), as `serve`'s
    /// `POST /_mock/clock/advance` does: every lifecycle step and every retry at its own due
    /// instant, in order, each instant's attempts answered before the clock moves on. Each
    /// webhook's first attempt is therefore stamped with its change's instant, and the webhooks
    /// about one entity arrive in the order of its changes. Returns what the walk did.
    ///
    /// Retries sleep on the same clock, so a 500-then-200 subscriber is retried by
    /// `advance(Duration::from_secs(10))`, without waiting 10 s. Panics with the journal when
    /// attempts are still running after the wait timeout, or when the target is past the latest
    /// instant the mock represents.
    pub async fn advance(&self, by: Duration) -> Advanced {
        let by = whole_millis(by);
        match self.within(self.state().advance(by)).await {
            Some(Ok(advanced)) => advanced,
            Some(Err(error)) => panic!("cannot advance the clock by {by:?}: {error}"),
            None => panic!(
                "advancing by {by:?}: {} deliveries were still being attempted after {:?}:\n{}",
                self.running(),
                self.wait,
                render(&self.journal().all())
            ),
        }
    }

    /// Deliveries with an attempt due now or running.
    fn running(&self) -> usize {
        self.state().sender().timeline().busy_count()
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
        let deadline = self.state().settings().timeout;
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
        let waiting = self.state().sender().timeline().retries_scheduled();
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
