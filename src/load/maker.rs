//! Makes a load run's sends on a thread of its own: paces the plan, draws each send's faults and
//! makes its event (the costliest part of a send that is not the delivery itself), while the
//! runtime only delivers.

use std::time::Duration;

use chrono::TimeDelta;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::schedule::{PhasePlan, Segment, planned_offsets};
use crate::contract::{Account, EventType, PayloadShape, format_timestamp};
use crate::delivery::OutgoingEvent;
use crate::model::Faker;
use crate::scenario::SenderFaults;
use crate::simulation::Clock;
use crate::simulation::sample::Sampler;

/// The shortest wait for a send: sends planned closer together than this (rates above
/// 10,000/s) are made together, each at most this much late, instead of one sleep (a system
/// call and two context switches) per send.
const TICK_QUANTUM: Duration = Duration::from_micros(100);

/// Most sends handed over at once when the maker is behind its plan: one thread switch per
/// batch, not per send.
const BATCH: usize = 32;

/// Batches the maker may be ahead of the deliveries. Small: an event is stamped when it is made.
const BATCHES_AHEAD: usize = 2;

/// A phase's batch: [`BATCH`], or an eighth of its in-flight slots when that is smaller (at
/// least one). Above capacity a send may wait in the hand-over until slots free up, behind at
/// most four batches (the one being handed out, [`BATCHES_AHEAD`] queued, and the one the maker
/// holds while it waits), and reaches its subscriber that much older than its timestamp: about
/// half an answer's time with 8 slots or more, up to 4 answers' time with a single slot.
fn batch_size(phase: &PhasePlan) -> usize {
    (phase.max_in_flight / 8).clamp(1, BATCH)
}

/// One send, as planned and made.
pub(super) struct PlannedSend {
    /// Index of its phase.
    pub phase: usize,
    /// When the plan wanted it sent.
    pub at: Instant,
    /// The event.
    pub event: OutgoingEvent,
    /// What it does wrong on purpose.
    pub faults: Drawn,
    /// The phase's last send: one still held back goes right after it.
    pub last_in_phase: bool,
}

/// The faults drawn for one send: what it does wrong on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Drawn {
    /// Its timestamp is an hour old.
    pub stale: bool,
    /// Signed with the wrong key.
    pub bad_signature: bool,
    /// Sent twice.
    pub duplicate: bool,
    /// Held back and sent right after the next send.
    pub hold: bool,
}

/// What the maker draws from: the seeded generators of one shard.
pub(super) struct EventSource {
    sampler: Sampler,
    faker: Faker,
    account: Account,
    shape: PayloadShape,
    rng: StdRng,
}

impl EventSource {
    /// The generators of a shard seeded with `seed`.
    pub fn seeded(seed: u64, shape: PayloadShape) -> Self {
        let mut faker = Faker::seeded(seed);
        EventSource {
            sampler: Sampler::default(),
            account: faker.account(),
            faker,
            shape,
            rng: StdRng::seed_from_u64(seed ^ 0xA5A5),
        }
    }

    fn pick(&mut self, mix: &[(EventType, f64)]) -> EventType {
        let total: f64 = mix.iter().map(|(_, w)| w).sum();
        let mut point = self.rng.random::<f64>() * total;
        for (event, weight) in mix {
            if point < *weight {
                return event.clone();
            }
            point -= weight;
        }
        mix.last()
            .map_or(EventType::DomainStatusChanged, |(e, _)| e.clone())
    }

    fn make(
        &mut self,
        event: &EventType,
        stale: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> OutgoingEvent {
        let at = if stale {
            now - TimeDelta::hours(1)
        } else {
            now
        };
        let mut envelope = self
            .sampler
            .envelope(event, &mut self.faker, &self.account, self.shape, at)
            .expect("mixes hold known event types");
        if stale {
            envelope.timestamp = format_timestamp(at);
        }
        OutgoingEvent::from_envelope(&envelope)
    }

    /// The next send of a phase: its event and faults, drawn in a fixed order so that a seed
    /// gives the same run. `holding` tells whether an earlier send is held back already.
    fn next(
        &mut self,
        phase: &PhasePlan,
        faults: &SenderFaults,
        clock: &Clock,
        holding: bool,
    ) -> (OutgoingEvent, Drawn) {
        let event_type = self.pick(&phase.mix);
        let stale = self.rng.random::<f64>() < faults.stale_timestamps;
        let event = self.make(&event_type, stale, clock.now());
        let bad_signature = self.rng.random::<f64>() < faults.bad_signatures;
        let duplicate = self.rng.random::<f64>() < faults.duplicates;
        let hold = !holding && self.rng.random::<f64>() < faults.reorder;
        let drawn = Drawn {
            stale,
            bad_signature,
            duplicate,
            hold,
        };
        (event, drawn)
    }
}

/// What the maker thread needs: the plan, the faults, and the clock that stamps events.
pub(super) struct Plan {
    /// The phases, in order.
    pub phases: Vec<PhasePlan>,
    /// Each phase's segments, scaled to this shard.
    pub segments: Vec<Vec<Segment>>,
    /// Faults drawn for each send.
    pub faults: SenderFaults,
    /// Stamps the events.
    pub clock: Clock,
    /// When the first phase starts.
    pub start: Instant,
}

/// The maker thread, seen from the runtime: its sends in order, in batches.
pub(super) struct Maker {
    sends: mpsc::Receiver<Vec<PlannedSend>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Maker {
    /// The next batch of sends; `None` once the last was handed over. A panic of the maker
    /// thread is raised here, so that a run never ends early as if its plan were done.
    pub async fn next(&mut self) -> Option<Vec<PlannedSend>> {
        let batch = self.sends.recv().await;
        if batch.is_none()
            && let Some(thread) = self.thread.take()
        {
            // The channel closes as the thread's work ends, a moment before the thread does.
            let joined = tokio::task::spawn_blocking(move || thread.join()).await;
            if let Ok(Err(panic)) = joined {
                std::panic::resume_unwind(panic);
            }
        }
        batch
    }
}

/// Starts the maker thread: it makes every send of `plan` at its planned time (at once when it
/// is behind) and hands them over in order. It ends after the last send, or at its next
/// hand-over once the [`Maker`] is dropped.
pub(super) fn start(plan: Plan, mut source: EventSource) -> Maker {
    let (sends, received) = mpsc::channel(BATCHES_AHEAD);
    let making = move || {
        let Plan {
            phases,
            segments,
            faults,
            clock,
            start,
        } = plan;
        let start = start.into_std();
        let mut batch = Vec::new();
        let mut phase_start = start;
        for (index, (phase, segments)) in phases.iter().zip(&segments).enumerate() {
            let size = batch_size(phase);
            let mut holding = false;
            let mut offsets = planned_offsets(segments).peekable();
            while let Some(offset) = offsets.next() {
                let planned = phase_start + offset;
                if planned > std::time::Instant::now() {
                    // Early: what is made goes out first, then the thread sleeps.
                    if !batch.is_empty() && sends.blocking_send(std::mem::take(&mut batch)).is_err()
                    {
                        return;
                    }
                    if let Some(wait) = planned.checked_duration_since(std::time::Instant::now()) {
                        std::thread::sleep(wait.max(TICK_QUANTUM));
                    }
                }
                let (event, drawn) = source.next(phase, &faults, &clock, holding);
                // A held send goes out right after the next one.
                holding = drawn.hold;
                batch.push(PlannedSend {
                    phase: index,
                    at: Instant::from_std(planned),
                    event,
                    faults: drawn,
                    last_in_phase: offsets.peek().is_none(),
                });
                if batch.len() >= size && sends.blocking_send(std::mem::take(&mut batch)).is_err() {
                    return;
                }
            }
            phase_start += segments.iter().map(|s| s.length).sum::<Duration>();
        }
        if !batch.is_empty() {
            let _ = sends.blocking_send(batch);
        }
    };
    let thread = std::thread::Builder::new()
        .name("load-maker".into())
        .spawn(making)
        .expect("a thread can be started");
    Maker {
        sends: received,
        thread: Some(thread),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(rate: f64, length: Duration, faults: SenderFaults, clock: Clock) -> Plan {
        let segments = vec![Segment {
            from: rate,
            to: rate,
            length,
        }];
        Plan {
            phases: vec![PhasePlan {
                name: "p".into(),
                segments: segments.clone(),
                mix: vec![(EventType::DomainStatusChanged, 1.0)],
                max_in_flight: 10,
            }],
            segments: vec![segments],
            faults,
            clock,
            start: Instant::now(),
        }
    }

    async fn all(mut sends: Maker) -> Vec<PlannedSend> {
        let mut all = Vec::new();
        while let Some(batch) = sends.next().await {
            all.extend(batch);
        }
        all
    }

    fn paused_clock() -> Clock {
        let clock = Clock::starting_at(chrono::DateTime::UNIX_EPOCH, 1.0).unwrap();
        clock.pause();
        clock
    }

    #[tokio::test]
    async fn every_other_send_is_held_when_all_are_reordered_and_the_last_is_released() {
        let faults = SenderFaults {
            reorder: 1.0,
            ..SenderFaults::default()
        };
        let plan = plan(5_000.0, Duration::from_millis(1), faults, paused_clock());
        let sends = all(start(plan, EventSource::seeded(1, PayloadShape::Seed))).await;
        let holds: Vec<bool> = sends.iter().map(|s| s.faults.hold).collect();
        assert_eq!(holds, [true, false, true, false, true]);
        let lasts: Vec<bool> = sends.iter().map(|s| s.last_in_phase).collect();
        assert_eq!(lasts, [false, false, false, false, true]);
    }

    /// The scenario parser only lets known event types into a mix; should one get through, the
    /// maker's panic reaches the run instead of ending it early as if the plan were done.
    #[tokio::test]
    async fn a_panic_of_the_maker_reaches_the_run() {
        let mut plan = plan(
            1_000.0,
            Duration::from_millis(5),
            SenderFaults::default(),
            paused_clock(),
        );
        plan.phases[0].mix = vec![(EventType::Other("made.up".into()), 1.0)];
        let run = tokio::spawn(all(start(plan, EventSource::seeded(1, PayloadShape::Seed))));
        match run.await {
            Err(error) => assert!(error.is_panic()),
            Ok(sends) => panic!("the run ended with {} sends", sends.len()),
        }
    }

    #[tokio::test]
    async fn a_seed_makes_the_same_sends_and_another_seed_others() {
        let make = |seed| {
            let plan = plan(
                20_000.0,
                Duration::from_millis(5),
                SenderFaults::default(),
                paused_clock(),
            );
            all(start(
                plan,
                EventSource::seeded(seed, PayloadShape::Current),
            ))
        };
        let bodies = |sends: Vec<PlannedSend>| -> Vec<_> {
            sends.into_iter().map(|s| s.event.body().clone()).collect()
        };
        let (first, again, other) = (
            bodies(make(7).await),
            bodies(make(7).await),
            bodies(make(8).await),
        );
        assert_eq!(first.len(), 100);
        assert_eq!(first, again);
        assert_ne!(first, other);
    }

    #[tokio::test]
    async fn sends_are_handed_over_at_their_planned_times_not_ahead() {
        // 20 sends 10 ms apart: none is handed over before its planned time.
        let clock = Clock::real();
        let plan = plan(
            100.0,
            Duration::from_millis(200),
            SenderFaults::default(),
            clock,
        );
        let start_at = plan.start;
        let mut sends = start(plan, EventSource::seeded(3, PayloadShape::Seed));
        let mut count = 0;
        while let Some(batch) = sends.next().await {
            for send in batch {
                let received = Instant::now();
                assert!(received >= send.at, "send {count} came before its time");
                assert!(send.at >= start_at);
                count += 1;
            }
        }
        assert_eq!(count, 20);
    }
}
