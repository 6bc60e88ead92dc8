//! The simulated clock: scaled, pausable and advanceable, shared by simulation and delivery.
//!
//! Simulated time runs `scale` times faster than real time. Waits of the contract (retry delays,
//! lifecycle steps) are simulated time, so a scale of 100 makes a 10 s retry delay 100 ms of real
//! waiting; how long a subscriber may take to answer is real time and never scaled. Tests pause
//! the clock and advance it by hand, like Stripe's test clocks; sleepers wake when time reaches
//! them, whichever way it got there.
//!
//! No clock operation can panic: instants saturate at [`duration::latest_instant`], scales are
//! bounded by [`MAX_SCALE`], and a poisoned lock is taken over (its state is always whole).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::contract::duration;

/// The fastest the clock may run: one real second is then 11.6 simulated days.
pub const MAX_SCALE: f64 = 1_000_000.0;

/// Why a clock setting was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClockError {
    /// Scale must be a positive, finite number no larger than `MAX_SCALE`.
    #[error("time scale must be a positive number no larger than {MAX_SCALE}, got {0}")]
    BadScale(f64),
    /// The clock would pass the latest instant the mock represents.
    #[error("the clock would pass {latest} (now {now}), the latest instant the mock represents")]
    PastLatest {
        /// Simulated now.
        now: String,
        /// The latest instant.
        latest: String,
    },
}

#[derive(Debug, Clone, Copy)]
struct State {
    anchor_real: Instant,
    anchor_sim: DateTime<Utc>,
    scale: f64,
    paused: bool,
}

impl State {
    fn now(&self) -> DateTime<Utc> {
        if self.paused {
            return self.anchor_sim;
        }
        let real = self.anchor_real.elapsed().as_secs_f64() * self.scale;
        let simulated = Duration::try_from_secs_f64(real).unwrap_or(Duration::MAX);
        duration::saturating_add(self.anchor_sim, simulated)
    }

    /// Moves the anchor to now, so later changes apply from this moment.
    fn rebase(&mut self) {
        self.anchor_sim = self.now();
        self.anchor_real = Instant::now();
    }
}

/// A shared handle to one simulated clock.
#[derive(Debug, Clone)]
pub struct Clock {
    state: Arc<Mutex<State>>,
    changes: Arc<watch::Sender<u64>>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::real()
    }
}

impl Clock {
    /// A clock that follows real time from now.
    pub fn real() -> Self {
        Clock::starting_at(Utc::now(), 1.0).expect("1.0 is a valid scale")
    }

    /// A clock starting at `start`, running `scale` times faster than real time.
    pub fn starting_at(start: DateTime<Utc>, scale: f64) -> Result<Self, ClockError> {
        check_scale(scale)?;
        Ok(Clock {
            state: Arc::new(Mutex::new(State {
                anchor_real: Instant::now(),
                anchor_sim: start.min(duration::latest_instant()),
                scale,
                paused: false,
            })),
            changes: Arc::new(watch::channel(0).0),
        })
    }

    /// A clock following real time from now, scaled.
    pub fn scaled(scale: f64) -> Result<Self, ClockError> {
        Clock::starting_at(Utc::now(), scale)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn change<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        let result = change(&mut self.state());
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
        result
    }

    /// Simulated now.
    pub fn now(&self) -> DateTime<Utc> {
        // Copied out, so that the lock is held for a copy, not for reading the time.
        let state = *self.state();
        state.now()
    }

    /// Simulated seconds per real second.
    pub fn scale(&self) -> f64 {
        self.state().scale
    }

    /// Whether time stands still until advanced or resumed.
    pub fn is_paused(&self) -> bool {
        self.state().paused
    }

    /// Changes the speed from now on.
    pub fn set_scale(&self, scale: f64) -> Result<(), ClockError> {
        check_scale(scale)?;
        self.change(|state| {
            state.rebase();
            state.scale = scale;
        });
        Ok(())
    }

    /// Stops time.
    pub fn pause(&self) {
        self.change(|state| {
            state.rebase();
            state.paused = true;
        });
    }

    /// Lets time run again from where it stood.
    pub fn resume(&self) {
        self.change(|state| {
            state.rebase();
            state.paused = false;
        });
    }

    /// Jumps forward by `by`; returns the new simulated now, or an error (and no change) when
    /// that would pass the latest instant the mock represents.
    pub fn advance(&self, by: Duration) -> Result<DateTime<Utc>, ClockError> {
        let target = self.after(by)?;
        self.change(|state| {
            state.rebase();
            state.anchor_sim = state.anchor_sim.max(target);
            state.anchor_sim
        });
        Ok(target)
    }

    /// Simulated now plus `by`, when that is representable.
    pub fn after(&self, by: Duration) -> Result<DateTime<Utc>, ClockError> {
        let now = self.now();
        duration::checked_add(now, by).ok_or_else(|| ClockError::PastLatest {
            now: crate::contract::format_timestamp(now),
            latest: crate::contract::format_timestamp(duration::latest_instant()),
        })
    }

    /// Sets simulated now to `at` (forward or back), keeping scale and pause: a run resumed
    /// from saved state continues at the simulated time it had reached.
    pub fn jump_to(&self, at: DateTime<Utc>) {
        self.change(|state| {
            state.anchor_real = Instant::now();
            state.anchor_sim = at.min(duration::latest_instant());
        });
    }

    /// The real time a simulated duration takes at the current scale.
    pub fn to_real(&self, simulated: Duration) -> Duration {
        scale_down(simulated, self.scale())
    }

    /// Waits until simulated time reaches `at` (at once if it already has).
    pub async fn sleep_until(&self, at: DateTime<Utc>) {
        let mut changes = self.changes.subscribe();
        loop {
            let (remaining, paused, scale) = {
                let state = self.state();
                (at - state.now(), state.paused, state.scale)
            };
            if remaining <= TimeDelta::zero() {
                return;
            }
            let wait = scale_down(remaining.to_std().unwrap_or(Duration::MAX), scale);
            tokio::select! {
                _ = tokio::time::sleep(wait), if !paused => {}
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Waits for a simulated duration.
    pub async fn sleep(&self, simulated: Duration) {
        let at = duration::saturating_add(self.now(), simulated);
        self.sleep_until(at).await;
    }

    /// A receiver that changes whenever the clock is paused, resumed, advanced or rescaled.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

/// `simulated / scale`, saturating at `Duration::MAX`: a huge duration or a tiny scale (both
/// accepted from the control API) must not panic, as `Duration::div_f64` does on overflow.
fn scale_down(simulated: Duration, scale: f64) -> Duration {
    Duration::try_from_secs_f64(simulated.as_secs_f64() / scale).unwrap_or(Duration::MAX)
}

fn check_scale(scale: f64) -> Result<(), ClockError> {
    if scale.is_finite() && scale > 0.0 && scale <= MAX_SCALE {
        Ok(())
    } else {
        Err(ClockError::BadScale(scale))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-10T15:30:45.123Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn real_durations_saturate_instead_of_panicking() {
        let slow = Clock::scaled(1e-300).unwrap();
        assert_eq!(slow.to_real(Duration::from_secs(10)), Duration::MAX);
        let fast = Clock::scaled(2.0).unwrap();
        let half_of_max = Duration::from_secs_f64(Duration::MAX.as_secs_f64() / 2.0);
        assert_eq!(fast.to_real(Duration::MAX), half_of_max);
        assert_eq!(
            fast.to_real(Duration::from_secs(10)),
            Duration::from_secs(5)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn scaled_time_runs_faster() {
        let clock = Clock::starting_at(start(), 60.0).unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(clock.now() - start(), TimeDelta::seconds(60));
        assert_eq!(
            clock.to_real(Duration::from_secs(10)),
            Duration::from_secs(10).div_f64(60.0)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_clock_wakes_sleepers_only_when_advanced() {
        let clock = Clock::starting_at(start(), 1.0).unwrap();
        clock.pause();
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep(Duration::from_secs(600)).await })
        };
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(!sleeper.is_finished(), "paused time must not pass");
        clock.advance(Duration::from_secs(599)).unwrap();
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(1)).unwrap();
        sleeper.await.unwrap();
        assert_eq!(clock.now() - start(), TimeDelta::seconds(600));
    }

    #[tokio::test(start_paused = true)]
    async fn resume_continues_from_the_paused_instant() {
        let clock = Clock::starting_at(start(), 2.0).unwrap();
        clock.pause();
        tokio::time::advance(Duration::from_secs(5)).await;
        clock.resume();
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(clock.now() - start(), TimeDelta::seconds(10));
    }

    #[test]
    fn bad_scales_are_refused() {
        assert!(Clock::scaled(0.0).is_err());
        assert!(Clock::scaled(f64::NAN).is_err());
        assert!(Clock::scaled(1e13).is_err());
        assert!(Clock::real().set_scale(-1.0).is_err());
        assert!(Clock::real().set_scale(MAX_SCALE * 10.0).is_err());
        assert!(Clock::scaled(MAX_SCALE).is_ok());
    }

    #[test]
    fn advancing_past_the_last_instant_is_refused_without_a_change() {
        let clock = Clock::starting_at(start(), 1.0).unwrap();
        clock.pause();
        let before = clock.now();
        let error = clock
            .advance(Duration::from_secs(300_000 * 31_557_600))
            .unwrap_err();
        assert!(error.to_string().contains("9999-12-31"), "{error}");
        assert_eq!(clock.now(), before);
        let last = duration::latest_instant();
        clock.jump_to(last);
        assert!(clock.advance(Duration::from_secs(1)).is_err());
        assert_eq!(clock.now(), last);
    }

    #[tokio::test(start_paused = true)]
    async fn the_fastest_clock_saturates_instead_of_panicking() {
        let clock = Clock::starting_at(duration::latest_instant(), MAX_SCALE).unwrap();
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(clock.now(), duration::latest_instant());
        clock.sleep(Duration::MAX).await;
    }
}
