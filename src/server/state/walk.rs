//! A clock advance that walks the timeline, as Stripe's test clocks do: from now to the target
//! it visits every instant at which something is due (a lifecycle step or a retry), in order,
//! sets the clock to it, fires what is due, and waits until every attempt due by then has been
//! answered before it moves on. Each webhook's first attempt is therefore made at its change's
//! instant, retries at their own, and a consumer sees the changes spaced as they happened.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::AppState;
use super::refusal::{AdvanceError, Refused};
use crate::contract::format_timestamp;

/// What one clock advance did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Advanced {
    /// Simulated now before the advance.
    #[serde(serialize_with = "instant")]
    #[schemars(with = "String")]
    pub from: DateTime<Utc>,
    /// Simulated now after it (the target).
    #[serde(serialize_with = "instant")]
    #[schemars(with = "String")]
    pub to: DateTime<Utc>,
    /// Distinct instants at which something was due and happened.
    pub instants: usize,
    /// Lifecycle steps fired.
    pub steps_fired: usize,
    /// Delivery attempts made during the advance (first attempts and retries).
    pub attempts_made: u64,
    /// Lifecycle steps still scheduled after the target (steps a forced transition made stale
    /// count until their instant).
    pub steps_scheduled: usize,
    /// Retries still scheduled after the target.
    pub retries_scheduled: usize,
}

fn instant<S: serde::Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_timestamp(*at))
}

impl AppState {
    /// Advances the clock by `by`, walking every due instant in order (see the module docs).
    /// Answers once everything due up to the target has been attempted and, with saved state,
    /// committed; refuses, changing nothing, a target past the latest instant the mock
    /// represents, and any advance while intake is closed.
    pub async fn advance(&self, by: Duration) -> Result<Advanced, AdvanceError> {
        self.intake()?;
        let _firing = self.firing.lock().await;
        let from = self.clock.now();
        let target = self.clock.after(by)?;
        let running = !self.clock.is_paused();
        if running {
            // Time stands still during the walk; it runs on from the target afterwards.
            self.clock.pause();
        }
        let timeline = self.sender.timeline();
        let attempts_before = timeline.attempts_made();
        let mut instants = 0;
        let mut steps_fired = 0;
        loop {
            self.settle().await;
            let next_step = self.sim().next_due();
            let next = next_step.into_iter().chain(timeline.next_retry()).min();
            match next {
                Some(at) if at <= target => {
                    if at > self.clock.now() {
                        self.clock.jump_to(at);
                    }
                    instants += 1;
                    steps_fired += self.fire_due_locked().await;
                }
                _ => break,
            }
        }
        if target > self.clock.now() {
            self.clock.jump_to(target);
        }
        if running {
            self.clock.resume();
        }
        let steps_scheduled = self.sim().queue_depth();
        self.saved().await?;
        Ok(Advanced {
            from,
            to: target,
            instants,
            steps_fired,
            attempts_made: timeline.attempts_made() - attempts_before,
            steps_scheduled,
            retries_scheduled: timeline.retries_scheduled(),
        })
    }

    /// Like [`AppState::advance`], run on the sender's runtime (the one the server started on,
    /// a thread per core under `serve`) rather than the caller's: an HTTP worker has one thread,
    /// which the firing would otherwise hold. The advance completes even if the caller stops
    /// waiting.
    pub async fn advance_on_server_runtime(
        self: Arc<Self>,
        by: Duration,
    ) -> Result<Advanced, AdvanceError> {
        let Some(runtime) = self.sender.runtime().cloned() else {
            return self.advance(by).await;
        };
        match runtime.spawn(async move { self.advance(by).await }).await {
            Ok(advanced) => advanced,
            Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
            // The runtime is shutting down.
            Err(_) => Err(Refused::ShuttingDown.into()),
        }
    }

    /// Before firing more steps, waits while the deliveries in progress are at the intake cap
    /// (`--max-in-progress`) and attempts are running that may free room, so a world advance
    /// waits for capacity instead of piling up deliveries. On a paused clock, once nothing runs
    /// and only retries after now hold the cap, it goes on: waiting would never end.
    pub(super) async fn room_for_more(&self) {
        let timeline = self.sender.timeline();
        while !self.sender.has_room() {
            if !timeline.is_settled(self.clock.now()) {
                tokio::select! {
                    () = self.sender.wait_for_room() => return,
                    () = self.settle() => {}
                }
                continue;
            }
            if self.clock.is_paused() {
                return;
            }
            // Running clock: room comes once a retry's attempt ends; wait for its instant.
            let next = timeline.next_retry();
            let clock = self.clock.clone();
            tokio::select! {
                () = self.sender.wait_for_room() => return,
                () = async move {
                    match next {
                        Some(at) => clock.sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        }
    }

    /// Waits until every attempt due by now has been made and answered.
    pub async fn settle(&self) {
        let clock = self.clock.clone();
        self.sender.timeline().settled(move || clock.now()).await;
    }
}
