//! Due transitions in simulated time: a min-heap keyed by (due time, sequence number).
//!
//! Popping yields items in due order, and items due at the same instant in the order they were
//! scheduled, so advancing the clock over many transitions fires them exactly in order. Stale
//! items (an entity moved on by hand before its step came due) are recognised by the caller, not
//! removed here: removal from a binary heap is O(n), skipping on pop is O(1).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use chrono::{DateTime, Utc};

/// One scheduled item, as popped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due<T> {
    /// When it is due (simulated time).
    pub at: DateTime<Utc>,
    /// Scheduling order, unique per scheduler; breaks ties between equal `at`.
    pub seq: u64,
    /// What is due.
    pub item: T,
}

/// A min-heap of due items.
#[derive(Debug)]
pub struct Scheduler<T> {
    heap: BinaryHeap<HeapEntry<T>>,
    next_seq: u64,
}

/// Heap entry whose equality, like its order, looks only at (at, seq).
#[derive(Debug)]
struct HeapEntry<T>(Due<T>);

impl<T> PartialEq for HeapEntry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.0.at, self.0.seq) == (other.0.at, other.0.seq)
    }
}

impl<T> Eq for HeapEntry<T> {}

impl<T> Ord for HeapEntry<T> {
    /// Reversed, so the max-heap of `std` pops the earliest (at, seq) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.0.at, other.0.seq).cmp(&(self.0.at, self.0.seq))
    }
}

impl<T> PartialOrd for HeapEntry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Default for Scheduler<T> {
    fn default() -> Self {
        Scheduler {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<T> Scheduler<T> {
    /// An empty scheduler.
    pub fn new() -> Self {
        Scheduler::default()
    }

    /// Schedules `item` at `at`; returns its sequence number.
    pub fn schedule(&mut self, at: DateTime<Utc>, item: T) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(HeapEntry(Due { at, seq, item }));
        seq
    }

    /// When the earliest item is due, if any.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.heap.peek().map(|entry| entry.0.at)
    }

    /// Removes and returns the earliest item if it is due at or before `now`.
    pub fn pop_due(&mut self, now: DateTime<Utc>) -> Option<Due<T>> {
        if self.next_due()? > now {
            return None;
        }
        self.heap.pop().map(|entry| entry.0)
    }

    /// Items waiting (stale ones included until they are popped).
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use proptest::prelude::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).expect("valid time")
    }

    #[test]
    fn pops_only_what_is_due() {
        let mut scheduler = Scheduler::new();
        scheduler.schedule(at(10), "b");
        scheduler.schedule(at(5), "a");
        assert_eq!(scheduler.next_due(), Some(at(5)));
        assert_eq!(scheduler.pop_due(at(4)), None);
        assert_eq!(scheduler.pop_due(at(10)).map(|d| d.item), Some("a"));
        assert_eq!(scheduler.pop_due(at(10)).map(|d| d.item), Some("b"));
        assert!(scheduler.pop_due(at(100)).is_none() && scheduler.len() == 0);
    }

    proptest! {
        /// Whatever the scheduling order, items come out by due time, and items due at the same
        /// time come out in the order they were scheduled.
        #[test]
        fn pops_in_due_then_scheduling_order(offsets in proptest::collection::vec(0i64..50, 0..200), cut in 0i64..60) {
            let mut scheduler = Scheduler::new();
            for (index, offset) in offsets.iter().enumerate() {
                scheduler.schedule(at(*offset), index);
            }
            let mut popped = Vec::new();
            while let Some(due) = scheduler.pop_due(at(cut)) {
                popped.push(due);
            }
            let mut expected: Vec<(i64, usize)> = offsets.iter().copied().enumerate()
                .filter(|(_, offset)| *offset <= cut)
                .map(|(index, offset)| (offset, index))
                .collect();
            expected.sort();
            let got: Vec<(i64, usize)> = popped.iter().map(|d| ((d.at - at(0)).num_seconds(), d.item)).collect();
            prop_assert_eq!(got, expected);
            prop_assert!(scheduler.next_due().is_none_or(|next| next > at(cut)));
            prop_assert_eq!(scheduler.len() + popped.len(), offsets.len());
        }

        /// Items scheduled while popping (a step scheduling the next one) still come out in order.
        #[test]
        fn chained_items_keep_order(gaps in proptest::collection::vec(0i64..20, 1..50)) {
            let mut scheduler = Scheduler::new();
            scheduler.schedule(at(0), 0usize);
            let mut times = Vec::new();
            while let Some(due) = scheduler.pop_due(at(10_000)) {
                times.push(due.at);
                if let Some(gap) = gaps.get(due.item) {
                    scheduler.schedule(due.at + TimeDelta::seconds(*gap), due.item + 1);
                }
            }
            prop_assert_eq!(times.len(), gaps.len() + 1);
            prop_assert!(times.windows(2).all(|pair| pair[0] <= pair[1]));
        }
    }
}
