//! The open model: when each send is planned, from constant or linearly ramping rates.

use std::time::Duration;

use crate::contract::EventType;

/// One phase, ready to run.
#[derive(Debug, Clone)]
pub struct PhasePlan {
    /// Name in reports.
    pub name: String,
    /// Rate segments.
    pub segments: Vec<Segment>,
    /// Event types and weights.
    pub mix: Vec<(EventType, f64)>,
    /// Deliveries in flight at once.
    pub max_in_flight: usize,
}

/// One stretch of a phase: the rate moves linearly from `from` to `to` over `length`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Events per second at the start.
    pub from: f64,
    /// Events per second at the end.
    pub to: f64,
    /// How long it lasts.
    pub length: Duration,
}

impl Segment {
    /// Events the segment plans: the area under the rate line.
    pub fn expected_events(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.length.as_secs_f64()
    }

    /// When the `k`-th event (from 0) is due, if it falls inside the segment.
    fn offset_of(&self, k: u64) -> Option<Duration> {
        let length = self.length.as_secs_f64();
        if length <= 0.0 {
            return None;
        }
        let k = k as f64;
        // Events so far: N(t) = from*t + (to-from)*t^2/(2*length); solve N(t) = k.
        let a = (self.to - self.from) / (2.0 * length);
        let b = self.from;
        let t = if a.abs() < 1e-12 {
            if b <= 0.0 {
                return None;
            }
            k / b
        } else {
            let discriminant = b * b + 4.0 * a * k;
            if discriminant < 0.0 {
                return None;
            }
            (-b + discriminant.sqrt()) / (2.0 * a)
        };
        (t.is_finite() && t >= 0.0 && t < length).then(|| Duration::from_secs_f64(t))
    }
}

/// Planned send offsets from the start of a list of segments, in order.
pub fn planned_offsets(segments: &[Segment]) -> impl Iterator<Item = Duration> + '_ {
    let mut base = Duration::ZERO;
    segments.iter().flat_map(move |segment| {
        let start = base;
        base += segment.length;
        (0u64..)
            .map_while(move |k| segment.offset_of(k))
            .map(move |offset| start + offset)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_constant_rate_is_evenly_spaced() {
        let segment = Segment {
            from: 4.0,
            to: 4.0,
            length: Duration::from_secs(1),
        };
        let offsets: Vec<_> = planned_offsets(&[segment]).collect();
        assert_eq!(offsets, [0, 250, 500, 750].map(Duration::from_millis));
    }

    #[test]
    fn a_ramp_plans_the_area_under_its_line() {
        let ramp = Segment {
            from: 0.0,
            to: 100.0,
            length: Duration::from_secs(10),
        };
        let count = planned_offsets(&[ramp]).count();
        assert!(
            (count as f64 - ramp.expected_events()).abs() <= 1.0,
            "{count}"
        );
    }

    proptest! {
        #[test]
        fn offsets_are_ordered_and_inside_the_phase(
            rates in proptest::collection::vec((0.0f64..500.0, 0.0f64..500.0, 1u64..3000), 1..4)
        ) {
            let segments: Vec<_> = rates.iter().map(|(from, to, ms)| Segment { from: *from, to: *to, length: Duration::from_millis(*ms) }).collect();
            let total: Duration = segments.iter().map(|s| s.length).sum();
            let expected: f64 = segments.iter().map(Segment::expected_events).sum();
            let offsets: Vec<_> = planned_offsets(&segments).collect();
            prop_assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
            prop_assert!(offsets.iter().all(|o| *o < total));
            prop_assert!((offsets.len() as f64 - expected).abs() <= segments.len() as f64 + 1.0);
        }
    }
}
