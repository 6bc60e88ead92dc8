//! The one thread that writes the state database, fed by a channel.
//!
//! Callers never touch the disk: they queue a [`Write`] and go on. The thread takes everything
//! queued (up to [`MAX_BATCH`]) and applies it in one transaction, together with the clock's
//! simulated time. A caller that must know its writes are durable (before sending a first
//! attempt, before answering "accepted") awaits [`StateWriter::flush`], which resolves once
//! everything queued before it is committed.
//!
//! **When saving fails** (a full disk, a file cap, an I/O error) nothing is dropped: the batch
//! that failed is kept, later writes join it, and the whole is retried every
//! [`RETRY_INTERVAL`] until it commits. Meanwhile [`StateWriter::healthy`] is false, every
//! [`StateWriter::flush`] reports the failure (the server answers 503 and is not ready), and
//! the first commit that succeeds makes the writer healthy again by itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rusqlite::{Connection, params};
use tokio::sync::oneshot;
use tracing::{error, info, warn};

use super::{StateError, state_name};
use crate::contract::format_timestamp;
use crate::delivery::journal::Flushed;
use crate::delivery::{AttemptRecord, DeliveryId, DeliveryRecord, DeliveryState, JournalSink};
use crate::simulation::Clock;
use crate::simulation::changes::{WorldConfig, WorldLog, WorldOp};

/// How long a failed batch waits before it is tried again (new writes join it meanwhile).
pub const RETRY_INTERVAL: Duration = Duration::from_millis(500);

/// Most writes applied in one transaction.
pub const MAX_BATCH: usize = 4096;

/// One change to the state database.
#[derive(Debug)]
enum Write {
    Open {
        record: DeliveryRecord,
        signature: Option<String>,
    },
    Attempt {
        id: DeliveryId,
        attempt: AttemptRecord,
        state: DeliveryState,
    },
    Started {
        id: DeliveryId,
        number: u32,
    },
    Forget(DeliveryId),
    Clear,
    WorldConfig(WorldConfig),
    World(Vec<WorldOp>),
    Flush(oneshot::Sender<()>),
    Close(oneshot::Sender<()>),
    Limit(Option<u64>),
}

/// Whether the last commit succeeded, and why it failed if not; shared with every handle.
#[derive(Debug, Default)]
struct Health {
    failing: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl Health {
    fn set(&self, failure: Option<String>) {
        self.failing.store(failure.is_some(), Ordering::Release);
        *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = failure;
    }
}

/// A handle on the writer thread; cheap to clone, and the thread ends when every clone is gone.
#[derive(Debug, Clone)]
pub struct StateWriter {
    queue: mpsc::Sender<Write>,
    health: Arc<Health>,
}

impl StateWriter {
    /// Starts the writer thread on `conn`; it stamps each commit with `clock`'s simulated time.
    pub(super) fn spawn(conn: Connection, clock: Clock) -> Result<Self, StateError> {
        let (queue, writes) = mpsc::channel();
        let health = Arc::new(Health::default());
        let shared = health.clone();
        std::thread::Builder::new()
            .name("state-writer".to_owned())
            .spawn(move || run(conn, &writes, &clock, &shared))
            .map_err(StateError::Thread)?;
        Ok(StateWriter { queue, health })
    }

    fn send(&self, write: Write) {
        if self.queue.send(write).is_err() {
            self.health
                .set(Some("the state writer has stopped".to_owned()));
            error!("the state writer has stopped; a change was not saved");
        }
    }

    /// False while the last commit failed (changes are kept and retried meanwhile).
    pub fn healthy(&self) -> bool {
        !self.health.failing.load(Ordering::Acquire)
    }

    /// Caps the database at about `bytes` (SQLite's `max_page_count`; `None` lifts the cap):
    /// past it a commit fails with "database or disk is full", exactly as on a full disk. Used
    /// to test the full-disk path without filling a real disk; applied in order with the
    /// writes queued before it.
    pub fn limit_size(&self, bytes: Option<u64>) {
        self.send(Write::Limit(bytes));
    }

    /// Commits what is queued, closes the database (freeing the file for another server) and
    /// stops the thread; later writes are logged as lost. Resolves once the file is closed.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        self.send(Write::Close(done));
        let _ = closed.await;
    }

    /// Resolves once everything queued before it is committed; false if the writer failed.
    pub async fn flush(&self) -> bool {
        let (done, committed) = oneshot::channel();
        self.send(Write::Flush(done));
        committed.await.is_ok()
    }
}

impl JournalSink for StateWriter {
    fn open(&self, record: &DeliveryRecord, signature: Option<&str>) {
        self.send(Write::Open {
            record: record.clone(),
            signature: signature.map(str::to_owned),
        });
    }

    fn attempt(&self, id: &DeliveryId, attempt: &AttemptRecord, state: DeliveryState) {
        self.send(Write::Attempt {
            id: id.clone(),
            attempt: attempt.clone(),
            state,
        });
    }

    fn started(&self, id: &DeliveryId, number: u32) {
        self.send(Write::Started {
            id: id.clone(),
            number,
        });
    }

    fn forget(&self, id: &DeliveryId) {
        self.send(Write::Forget(id.clone()));
    }

    fn clear(&self) {
        self.send(Write::Clear);
    }

    fn flush(&self) -> Flushed<'_> {
        Box::pin(StateWriter::flush(self))
    }

    fn failure(&self) -> Option<String> {
        self.health
            .reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn healthy(&self) -> bool {
        StateWriter::healthy(self)
    }
}

impl WorldLog for StateWriter {
    fn config(&self, config: &WorldConfig) {
        self.send(Write::WorldConfig(config.clone()));
    }

    fn changes(&self, ops: Vec<WorldOp>) {
        if !ops.is_empty() {
            self.send(Write::World(ops));
        }
    }
}

fn run(mut conn: Connection, writes: &mpsc::Receiver<Write>, clock: &Clock, health: &Health) {
    // Changes not committed yet: a failed batch stays here, and is retried, until it commits.
    let mut pending: Vec<Write> = Vec::new();
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut closing = None;
    loop {
        let first = if health.failing.load(Ordering::Acquire) {
            match writes.recv_timeout(RETRY_INTERVAL) {
                Ok(write) => Some(write),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match writes.recv() {
                Ok(write) => Some(write),
                Err(_) => break,
            }
        };
        let mut taken = 0;
        let mut next = first;
        while let Some(write) = next {
            taken += 1;
            match write {
                Write::Flush(waiter) => waiters.push(waiter),
                Write::Close(waiter) => {
                    // Nothing after a close is written (the caller is done with the file).
                    closing = Some(waiter);
                    break;
                }
                Write::Limit(bytes) => limit(&conn, bytes),
                other => pending.push(other),
            }
            next = if taken < MAX_BATCH {
                writes.try_recv().ok()
            } else {
                None
            };
        }
        match commit(&mut conn, &pending, clock) {
            Ok(()) => {
                if health.failing.load(Ordering::Acquire) {
                    info!(
                        changes = pending.len(),
                        "state saved again: the changes kept while saving failed are committed"
                    );
                }
                health.set(None);
                pending.clear();
                for waiter in waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
            Err(failure) => {
                if !health.failing.load(Ordering::Acquire) {
                    error!(error = %failure, "could not save state; changes are kept and retried");
                }
                health.set(Some(failure.to_string()));
                // Dropped waiters see their flush fail; the changes stay pending.
                waiters.clear();
            }
        }
        if closing.is_some() {
            break;
        }
    }
    if !pending.is_empty() {
        warn!(
            changes = pending.len(),
            "the state writer stopped with changes it could not save"
        );
    }
    drop(conn);
    if let Some(waiter) = closing {
        let _ = waiter.send(());
    }
}

/// Applies a size cap (see [`StateWriter::limit_size`]).
fn limit(conn: &Connection, bytes: Option<u64>) {
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |row| row.get(0))
        .unwrap_or(4096);
    // SQLite's own ceiling when no cap is set.
    let pages = bytes.map_or(4_294_967_294, |bytes| {
        (i64::try_from(bytes).unwrap_or(i64::MAX) / page_size.max(1)).max(1)
    });
    if let Err(error) = conn.pragma_update(None, "max_page_count", pages) {
        error!(%error, "could not cap the state database's size");
    }
}

fn commit(conn: &mut Connection, batch: &[Write], clock: &Clock) -> Result<(), StateError> {
    let tx = conn.transaction()?;
    for write in batch {
        match write {
            Write::Open { record, signature } => {
                tx.prepare_cached(
                    "INSERT INTO deliveries (id, state, record, signature) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO NOTHING",
                )?
                .execute(params![
                    record.id.as_str(),
                    state_name(record.state),
                    serde_json::to_string(record)?,
                    signature
                ])?;
            }
            Write::Attempt { id, attempt, state } => {
                tx.prepare_cached("INSERT INTO attempts (delivery, attempt) VALUES (?1, ?2)")?
                    .execute(params![id.as_str(), serde_json::to_string(attempt)?])?;
                tx.prepare_cached("UPDATE deliveries SET state = ?2 WHERE id = ?1")?
                    .execute(params![id.as_str(), state_name(*state)])?;
            }
            Write::Started { id, number } => {
                tx.prepare_cached(
                    "UPDATE deliveries SET started = MAX(started, ?2) WHERE id = ?1",
                )?
                .execute(params![id.as_str(), number])?;
            }
            Write::Forget(id) => {
                tx.prepare_cached("DELETE FROM attempts WHERE delivery = ?1")?
                    .execute(params![id.as_str()])?;
                tx.prepare_cached("DELETE FROM deliveries WHERE id = ?1")?
                    .execute(params![id.as_str()])?;
            }
            Write::Clear => tx.execute_batch("DELETE FROM attempts; DELETE FROM deliveries;")?,
            Write::WorldConfig(config) => {
                tx.prepare_cached("INSERT OR IGNORE INTO meta (key, value) VALUES ('world', ?1)")?
                    .execute(params![serde_json::to_string(config)?])?;
            }
            Write::World(ops) => {
                for op in ops {
                    if *op == WorldOp::Reset {
                        tx.execute("DELETE FROM world_ops", [])?;
                        continue;
                    }
                    tx.prepare_cached("INSERT INTO world_ops (op) VALUES (?1)")?
                        .execute(params![serde_json::to_string(op)?])?;
                }
            }
            // Handled by the loop, never queued in a batch.
            Write::Flush(_) | Write::Close(_) | Write::Limit(_) => {}
        }
    }
    tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('clock', ?1)")?
        .execute(params![format_timestamp(clock.now())])?;
    tx.commit()?;
    Ok(())
}
