//! The one thread that writes the state database, fed by a channel.
//!
//! Callers never touch the disk: they queue a [`Write`] and go on. The thread takes everything
//! queued (up to [`MAX_BATCH`]) and applies it in one transaction, together with the clock's
//! simulated time. A caller that must know its writes are durable (before sending a first
//! attempt, before answering "accepted") awaits [`StateWriter::flush`], which resolves once
//! everything queued before it is committed.

use std::sync::mpsc;

use rusqlite::{Connection, params};
use tokio::sync::oneshot;
use tracing::error;

use super::{StateError, WorldConfig, WorldOp, state_name};
use crate::contract::format_timestamp;
use crate::delivery::{AttemptRecord, DeliveryId, DeliveryRecord, DeliveryState};
use crate::simulation::Clock;

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
}

/// A handle on the writer thread; cheap to clone, and the thread ends when every clone is gone.
#[derive(Debug, Clone)]
pub struct StateWriter {
    queue: mpsc::Sender<Write>,
}

impl StateWriter {
    /// Starts the writer thread on `conn`; it stamps each commit with `clock`'s simulated time.
    pub(super) fn spawn(conn: Connection, clock: Clock) -> Result<Self, StateError> {
        let (queue, writes) = mpsc::channel();
        std::thread::Builder::new()
            .name("state-writer".to_owned())
            .spawn(move || run(conn, &writes, &clock))
            .map_err(StateError::Thread)?;
        Ok(StateWriter { queue })
    }

    fn send(&self, write: Write) {
        if self.queue.send(write).is_err() {
            error!("the state writer has stopped; a change was not saved");
        }
    }

    /// Saves a newly opened delivery (its frozen body) and the signature it is sent with.
    pub fn open(&self, record: &DeliveryRecord, signature: Option<&str>) {
        self.send(Write::Open {
            record: record.clone(),
            signature: signature.map(str::to_owned),
        });
    }

    /// Saves a finished attempt and the state it left the delivery in.
    pub fn attempt(&self, id: &DeliveryId, attempt: &AttemptRecord, state: DeliveryState) {
        self.send(Write::Attempt {
            id: id.clone(),
            attempt: attempt.clone(),
            state,
        });
    }

    /// Marks attempt `number` as started: if the process dies before the attempt is saved, the
    /// resumed run knows it may have reached the subscriber.
    pub fn started(&self, id: &DeliveryId, number: u32) {
        self.send(Write::Started {
            id: id.clone(),
            number,
        });
    }

    /// Drops a delivery the journal evicted.
    pub fn forget(&self, id: &DeliveryId) {
        self.send(Write::Forget(id.clone()));
    }

    /// Drops every delivery (a reset).
    pub fn clear(&self) {
        self.send(Write::Clear);
    }

    /// Saves what the world is built from (kept if one is saved already).
    pub fn world_config(&self, config: &WorldConfig) {
        self.send(Write::WorldConfig(config.clone()));
    }

    /// Saves changes made to the world, in the order made; a reset drops the earlier ones.
    pub fn world(&self, ops: Vec<WorldOp>) {
        if !ops.is_empty() {
            self.send(Write::World(ops));
        }
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

fn run(mut conn: Connection, writes: &mpsc::Receiver<Write>, clock: &Clock) {
    let mut closing = None;
    while let Ok(first) = writes.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match writes.try_recv() {
                Ok(write) => batch.push(write),
                Err(_) => break,
            }
        }
        // Nothing after a close is written (the caller is done with the file).
        if let Some(at) = batch.iter().position(|w| matches!(w, Write::Close(_)))
            && let Some(Write::Close(waiter)) = batch.drain(at..).next()
        {
            closing = Some(waiter);
        }
        let mut waiters = Vec::new();
        match commit(&mut conn, batch, &mut waiters, clock) {
            Ok(()) => {
                for waiter in waiters {
                    let _ = waiter.send(());
                }
            }
            // Waiters are dropped: their flush reports the failure.
            Err(failure) => error!(error = %failure, "could not save state"),
        }
        if closing.is_some() {
            break;
        }
    }
    drop(conn);
    if let Some(waiter) = closing {
        let _ = waiter.send(());
    }
}

fn commit(
    conn: &mut Connection,
    batch: Vec<Write>,
    waiters: &mut Vec<oneshot::Sender<()>>,
    clock: &Clock,
) -> Result<(), StateError> {
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
                    serde_json::to_string(&record)?,
                    signature
                ])?;
            }
            Write::Attempt { id, attempt, state } => {
                tx.prepare_cached("INSERT INTO attempts (delivery, attempt) VALUES (?1, ?2)")?
                    .execute(params![id.as_str(), serde_json::to_string(&attempt)?])?;
                tx.prepare_cached("UPDATE deliveries SET state = ?2 WHERE id = ?1")?
                    .execute(params![id.as_str(), state_name(state)])?;
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
                    .execute(params![serde_json::to_string(&config)?])?;
            }
            Write::World(ops) => {
                for op in ops {
                    if op == WorldOp::Reset {
                        tx.execute("DELETE FROM world_ops", [])?;
                        continue;
                    }
                    tx.prepare_cached("INSERT INTO world_ops (op) VALUES (?1)")?
                        .execute(params![serde_json::to_string(&op)?])?;
                }
            }
            Write::Flush(waiter) => waiters.push(waiter),
            Write::Close(_) => unreachable!("a close ends the batch before it is committed"),
        }
    }
    tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('clock', ?1)")?
        .execute(params![format_timestamp(clock.now())])?;
    tx.commit()?;
    Ok(())
}
