//! The state database's tables, versioned with SQLite's `user_version`.
//!
//! Migration `n` (1-based) takes the database from version `n - 1` to `n`, in one transaction
//! with its version bump, so a crash mid-migration leaves the old version intact. A database
//! newer than this build is refused rather than guessed at.

use rusqlite::{Connection, Transaction};

use super::StateError;

/// Each migration's SQL, in order; the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: the journal. A delivery row holds the record without its attempts (frozen body
    // included), its fixed signature if it has one (replays), and the highest attempt started:
    // `started` above the attempts journaled means one was in flight when the process stopped.
    "CREATE TABLE meta (
         key TEXT PRIMARY KEY NOT NULL,
         value TEXT NOT NULL
     );
     CREATE TABLE deliveries (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         id TEXT NOT NULL UNIQUE,
         state TEXT NOT NULL,
         record TEXT NOT NULL,
         signature TEXT,
         started INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE attempts (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         delivery TEXT NOT NULL,
         attempt TEXT NOT NULL
     );
     CREATE INDEX attempts_by_delivery ON attempts (delivery, seq);",
    // 2: the world, as the changes made to it in order (see `world.rs`); its config is in
    // `meta` under `world`.
    "CREATE TABLE world_ops (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         op TEXT NOT NULL
     );",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The database's schema version (0 for a new file).
pub fn version(conn: &Connection) -> Result<u32, StateError> {
    Ok(conn.query_row("PRAGMA user_version", [], |row| row.get(0))?)
}

/// Brings the schema up to [`SCHEMA_VERSION`]; returns the version found before.
pub fn migrate(conn: &mut Connection) -> Result<u32, StateError> {
    let found = version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(StateError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx: Transaction<'_> = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(found)
}
