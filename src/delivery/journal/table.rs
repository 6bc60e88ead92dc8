//! The journal's records in creation order, with the finished ones queued in the order they
//! finished, so the journal can evict without searching: every operation here is O(1)
//! (amortized), except replacing a record under an id already held, which never happens in
//! practice (ids are UUIDv7s).

use std::collections::{HashMap, VecDeque};

use super::compact::Held;
use super::record::{DeliveryId, DeliveryRecord};

/// No slot: the end of a list.
const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Node {
    record: Held,
    /// The record opened just before (NIL for the oldest).
    prev: u32,
    /// The record opened just after (NIL for the newest).
    next: u32,
}

/// Records in a slab threaded by a doubly linked list (creation order), an id index, and a FIFO
/// of the terminal ones.
#[derive(Debug)]
pub(super) struct Table {
    slots: Vec<Option<Node>>,
    free: Vec<u32>,
    /// foldhash: seeded per process and minimally DoS-resistant; ids are made by the mock.
    index: HashMap<DeliveryId, u32, foldhash::fast::RandomState>,
    head: u32,
    tail: u32,
    /// Exactly the slots of terminal records, in the order they became terminal.
    finished: VecDeque<u32>,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::default(),
            head: NIL,
            tail: NIL,
            finished: VecDeque::new(),
        }
    }
}

impl Table {
    /// Records held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Terminal records held.
    pub fn finished(&self) -> usize {
        self.finished.len()
    }

    /// Adds `record` as the newest (replacing any record with its id).
    pub fn insert(&mut self, record: DeliveryRecord) {
        if let Some(&slot) = self.index.get(&record.id) {
            self.remove(slot);
        }
        let terminal = record.state.terminal().is_some();
        let id = record.id.clone();
        let node = Node {
            record: Held::new(record),
            prev: self.tail,
            next: NIL,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(node);
                slot
            }
            None => {
                self.slots.push(Some(node));
                u32::try_from(self.slots.len() - 1).expect("fewer than 4 billion records")
            }
        };
        match self.tail {
            NIL => self.head = slot,
            tail => self.node_mut(tail).next = slot,
        }
        self.tail = slot;
        self.index.insert(id, slot);
        if terminal {
            self.finished.push_back(slot);
        }
    }

    /// The record with `id`.
    pub fn get(&self, id: &DeliveryId) -> Option<&Held> {
        let slot = *self.index.get(id)?;
        Some(&self.node(slot).record)
    }

    /// Changes the record with `id`; if the change makes it terminal, it joins the eviction
    /// queue. A terminal record must stay terminal.
    pub fn update<T>(&mut self, id: &DeliveryId, change: impl FnOnce(&mut Held) -> T) -> Option<T> {
        let slot = *self.index.get(id)?;
        let record = &mut self.node_mut(slot).record;
        let was_terminal = record.record().state.terminal().is_some();
        let result = change(record);
        let terminal = record.record().state.terminal().is_some();
        debug_assert!(
            terminal || !was_terminal,
            "a terminal record stays terminal"
        );
        if terminal && !was_terminal {
            self.finished.push_back(slot);
        }
        Some(result)
    }

    /// Removes and returns the terminal record that finished first.
    pub fn pop_finished(&mut self) -> Option<Held> {
        let slot = self.finished.pop_front()?;
        Some(self.unlink(slot))
    }

    /// Every record, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Held> {
        let mut slot = self.head;
        std::iter::from_fn(move || {
            let node = self.slots.get(slot as usize)?.as_ref()?;
            slot = node.next;
            Some(&node.record)
        })
    }

    /// Removes the record in `slot`, from the eviction queue too (a search: rare path only).
    fn remove(&mut self, slot: u32) {
        if let Some(position) = self.finished.iter().position(|s| *s == slot) {
            self.finished.remove(position);
        }
        self.unlink(slot);
    }

    fn unlink(&mut self, slot: u32) -> Held {
        let node = self.slots[slot as usize]
            .take()
            .expect("a queued slot holds a record");
        match node.prev {
            NIL => self.head = node.next,
            prev => self.node_mut(prev).next = node.next,
        }
        match node.next {
            NIL => self.tail = node.prev,
            next => self.node_mut(next).prev = node.prev,
        }
        self.index.remove(&node.record.record().id);
        self.free.push(slot);
        node.record
    }

    fn node(&self, slot: u32) -> &Node {
        self.slots[slot as usize]
            .as_ref()
            .expect("an indexed slot holds a record")
    }

    fn node_mut(&mut self, slot: u32) -> &mut Node {
        self.slots[slot as usize]
            .as_mut()
            .expect("a linked slot holds a record")
    }
}
