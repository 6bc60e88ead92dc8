use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::delivery::fixtures::attempt;

fn id(n: usize) -> DeliveryId {
    DeliveryId(format!("d{n}").into())
}

fn record(n: usize) -> DeliveryRecord {
    DeliveryRecord {
        id: id(n),
        event: "domain.status_changed".into(),
        entity_uid: Some(format!("domain-{n}")),
        status: Some("active".into()),
        previous_status: None,
        target: "http://127.0.0.1:1/".into(),
        created_at: Timestamp::parse(&format!("2024-01-10T15:30:{:02}.000Z", n % 60)).unwrap(),
        state: DeliveryState::Pending,
        body: "{}".into(),
        attempts: vec![],
    }
}

fn finish(journal: &Journal, n: usize, state: DeliveryState) {
    journal.record_attempt(
        &id(n),
        attempt(Some(200), AttemptOutcome::Delivered, Trigger::Scheduled),
        state,
    );
}

fn ids(journal: &Journal) -> Vec<String> {
    journal
        .all()
        .into_iter()
        .map(|r| r.id.to_string())
        .collect()
}

#[test]
fn eviction_keeps_in_progress_deliveries_and_counters() {
    let journal = Journal::with_capacity(2);
    for n in 0..3 {
        journal.open(record(n));
    }
    // All three are pending: none may be evicted.
    assert_eq!(journal.all().len(), 3);
    // Over capacity, a delivery that finishes is evicted at once.
    finish(&journal, 1, DeliveryState::Delivered);
    assert_eq!(ids(&journal), ["d0", "d2"]);
    finish(&journal, 2, DeliveryState::Delivered);
    journal.open(record(3));
    assert_eq!(ids(&journal), ["d0", "d3"]);
    let counters = journal.counters();
    assert_eq!(
        (counters.events, counters.evicted, counters.in_progress()),
        (4, 2, 2)
    );
}

#[test]
fn the_delivery_that_finished_first_is_evicted_first() {
    let journal = Journal::with_capacity(3);
    for n in 0..3 {
        journal.open(record(n));
    }
    finish(&journal, 2, DeliveryState::Delivered);
    finish(&journal, 0, DeliveryState::Exhausted);
    journal.open(record(3));
    assert_eq!(ids(&journal), ["d0", "d1", "d3"]);
    journal.open(record(4));
    assert_eq!(ids(&journal), ["d1", "d3", "d4"]);
}

#[test]
fn a_journal_never_holds_more_terminal_records_than_its_capacity() {
    // All opened before any finishes: eviction must also run when deliveries finish.
    let journal = Journal::with_capacity(100);
    for n in 0..1000 {
        journal.open(record(n));
    }
    for n in 0..1000 {
        finish(&journal, n, DeliveryState::Delivered);
        let (held, terminal) = journal.held();
        assert!(terminal <= 100, "{terminal} terminal records held");
        assert!(held <= 1000);
    }
    assert_eq!(journal.held(), (100, 100));
    assert_eq!(
        ids(&journal),
        (900..1000).map(|n| format!("d{n}")).collect::<Vec<_>>()
    );
    assert_eq!(journal.counters().evicted, 900);
}

#[test]
fn terminal_state_is_counted_once_and_never_changes() {
    let journal = Journal::default();
    journal.open(record(0));
    let id = id(0);
    journal.record_attempt(
        &id,
        attempt(None, AttemptOutcome::Http4xx, Trigger::Scheduled),
        DeliveryState::Rejected,
    );
    journal.record_attempt(
        &id,
        attempt(None, AttemptOutcome::Delivered, Trigger::Scheduled),
        DeliveryState::Delivered,
    );
    assert_eq!(journal.get(&id).unwrap().state, DeliveryState::Rejected);
    assert_eq!(journal.counters().terminal.values().sum::<u64>(), 1);
}

#[test]
fn listing_filters_by_instant_and_pages() {
    let journal = Journal::default();
    for n in 0..5 {
        journal.open(record(n));
    }
    // The same instant written with another offset: compared as an instant, not as text.
    let filter = Filter {
        since: Some(
            Timestamp::parse("2024-01-10T16:30:01+01:00")
                .unwrap()
                .instant(),
        ),
        ..Filter::default()
    };
    let (page, total) = journal.list(&filter, 1, 2);
    assert_eq!(total, 4);
    assert_eq!(
        page.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["d2", "d3"]
    );
    let until = Filter {
        until: Some(
            Timestamp::parse("2024-01-10T15:30:02.000Z")
                .unwrap()
                .instant(),
        ),
        ..Filter::default()
    };
    assert_eq!(journal.list(&until, 0, 10).1, 2);
    let by_uid = Filter {
        uid: Some("domain-3".into()),
        ..Filter::default()
    };
    assert_eq!(journal.list(&by_uid, 0, 10).1, 1);
}

#[test]
fn the_intake_cap_refuses_past_it_and_counts_refusals() {
    let journal = Journal::with_limits(10, 2);
    journal.try_open_signed(record(0), None).unwrap();
    journal.try_open_signed(record(1), None).unwrap();
    let refused = journal.try_open_signed(record(2), None).unwrap_err();
    assert_eq!(
        refused,
        Overloaded {
            in_progress: 2,
            limit: 2
        }
    );
    assert!(!journal.has_room());
    assert!(journal.get(&id(2)).is_none());
    finish(&journal, 0, DeliveryState::Delivered);
    assert!(journal.has_room());
    journal.try_open_signed(record(2), None).unwrap();
    let counters = journal.counters();
    assert_eq!((counters.events, counters.refused), (3, 1));
}

#[tokio::test]
async fn waiting_for_room_ends_when_a_delivery_finishes() {
    let journal = Arc::new(Journal::with_limits(10, 1));
    journal.open(record(0));
    journal.open(record(1));
    let waiter = tokio::spawn({
        let journal = journal.clone();
        async move { journal.wait_for_room().await }
    });
    finish(&journal, 0, DeliveryState::Delivered);
    // Still one in progress: the cap is one, so no room yet.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished());
    finish(&journal, 1, DeliveryState::Rejected);
    tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("woken once there is room")
        .unwrap();
    // With room already, it returns at once.
    journal.wait_for_room().await;
}

#[tokio::test]
async fn a_reset_makes_room() {
    let journal = Arc::new(Journal::with_limits(10, 1));
    journal.open(record(0));
    let waiter = tokio::spawn({
        let journal = journal.clone();
        async move { journal.wait_for_room().await }
    });
    tokio::task::yield_now().await;
    journal.clear();
    tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("woken by the reset")
        .unwrap();
}

/// One step of a journal's life.
#[derive(Debug, Clone)]
enum Op {
    /// Open the next delivery.
    Open,
    /// Finish the in-progress delivery at this index (modulo their count), if any.
    Finish(usize),
    /// Add an attempt to a held delivery without changing its state.
    Retry(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Open),
        3 => any::<usize>().prop_map(Op::Finish),
        1 => any::<usize>().prop_map(Op::Retry),
    ]
}

/// The reference: the journal's documented behaviour written the slow, obvious way.
#[derive(Debug, Default)]
struct Model {
    /// (number, terminal) of each held delivery, oldest first.
    held: VecDeque<(usize, bool)>,
    /// Numbers of terminal deliveries in the order they finished.
    finished: VecDeque<usize>,
    evicted: u64,
}

impl Model {
    fn evict(&mut self, capacity: usize) {
        while self.held.len() > capacity {
            let Some(gone) = self.finished.pop_front() else {
                break;
            };
            self.held.retain(|(n, _)| *n != gone);
            self.evicted += 1;
        }
    }
}

proptest! {
    #[test]
    fn eviction_matches_a_reference_model(
        capacity in 1usize..8,
        ops in proptest::collection::vec(op(), 0..200),
    ) {
        let journal = Journal::with_capacity(capacity);
        let mut model = Model::default();
        let mut next = 0;
        for op in ops {
            match op {
                Op::Open => {
                    journal.open(record(next));
                    model.held.push_back((next, false));
                    next += 1;
                }
                Op::Finish(pick) => {
                    let open: Vec<usize> =
                        model.held.iter().filter(|(_, t)| !t).map(|(n, _)| *n).collect();
                    if open.is_empty() {
                        continue;
                    }
                    let n = open[pick % open.len()];
                    finish(&journal, n, DeliveryState::Delivered);
                    for entry in model.held.iter_mut().filter(|(m, _)| *m == n) {
                        entry.1 = true;
                    }
                    model.finished.push_back(n);
                }
                Op::Retry(pick) => {
                    if model.held.is_empty() {
                        continue;
                    }
                    let (n, terminal) = model.held[pick % model.held.len()];
                    let state = if terminal { DeliveryState::Delivered } else { DeliveryState::Retrying };
                    finish(&journal, n, state);
                }
            }
            model.evict(capacity);
            let expected: Vec<String> = model.held.iter().map(|(n, _)| format!("d{n}")).collect();
            prop_assert_eq!(ids(&journal), expected);
            let terminal = model.held.iter().filter(|(_, t)| *t).count();
            prop_assert_eq!(journal.held(), (model.held.len(), terminal));
            prop_assert!(terminal <= capacity);
            let counters = journal.counters();
            prop_assert_eq!(counters.evicted, model.evicted);
            prop_assert_eq!(
                counters.in_progress(),
                model.held.iter().filter(|(_, t)| !t).count() as u64
            );
        }
    }
}
