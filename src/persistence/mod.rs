//! Optional persistence: `--state sqlite:PATH` (env `INBOXKIT_MOCK_STATE`) keeps the world, the
//! journal, pending retries and the simulated time in an embedded SQLite database, so a restart
//! (or a crash) carries on where the last run stopped. The default, `memory`, keeps nothing and
//! costs nothing: the core saves through two small traits it owns, `delivery::JournalSink` and
//! `simulation::changes::WorldLog`, which [`StateWriter`] implements; without it there is none.
//!
//! **What is saved.** Each delivery with its frozen body, every attempt as it finishes, the
//! terminal state with the attempt that reached it; the world as its build config (seed,
//! workspaces, failure rates) plus every change made to it, in order (`simulation/changes.rs`), replayed on a
//! fresh simulation at start-up; the simulated time of the last commit. A saved world wins over
//! `--seed`/`--workspaces`/`--failure-rate`. Subscriber settings changed through the control API
//! and the sample generator of hand-triggered events are not saved (the flags apply again).
//!
//! **Delivery across a crash is at least once.** A delivery is saved before its first attempt is
//! sent, and each attempt is durably marked as started before it is sent. On restart every
//! delivery that is not terminal resumes: attempts already saved count toward the retry policy
//! (4 at most), and a retry waits for the rest of its delay. An attempt that had started but was
//! not saved when the process died may have reached the subscriber; it is sent again with the
//! same attempt number and delivery id, flagged `resent_after_crash` in the journal and counted
//! in `inboxkit_mock_duplicates_after_crash_total` (an upper bound: the first copy may never have
//! left). That is the only duplicate a crash causes, and no accepted event is lost. A world
//! change is saved after the events it caused, so a crash between the two can at worst announce
//! a lifecycle step twice (same `uid` and `status`), never skip one. Answers of the REST and
//! control APIs that change the world or the journal are sent after the change is committed.
//! A body is signed again with the key in force when it resumes (pass `--secret` with `--state`
//! so signatures stay verifiable across restarts); a replayed, fixed signature is kept as is.
//!
//! **How it writes.** One thread owns the connection ([`StateWriter`]) and is fed by a channel;
//! it applies everything queued in one transaction. The delivery path never touches the disk: it
//! queues writes and awaits a commit only before sending an attempt. The database runs in WAL
//! mode with `synchronous = NORMAL`: a commit survives the process being killed (the data is in
//! the OS), only a power loss may lose the last commits, and no commit waits for an fsync;
//! `FULL` would fsync before every attempt for a guarantee a local mock does not need. One server
//! per file: a second one is refused with a clear error.

mod schema;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};

pub use schema::SCHEMA_VERSION;
pub use writer::StateWriter;

use crate::delivery::{AttemptRecord, DeliveryRecord, DeliveryState, SavedDelivery};
use crate::simulation::Clock;
use crate::simulation::changes::{WorldConfig, WorldOp};

/// How long opening waits for a file another server holds before giving up.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Where the server keeps its state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StateSpec {
    /// In memory only: everything ends with the process (the default).
    #[default]
    Memory,
    /// An SQLite database file, created if missing.
    Sqlite(PathBuf),
}

impl FromStr for StateSpec {
    type Err = StateError;

    /// Parses `memory` or `sqlite:PATH`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "memory" {
            return Ok(StateSpec::Memory);
        }
        match text.split_once(':') {
            Some(("sqlite", "")) => Err(StateError::EmptyPath),
            Some(("sqlite", path)) => Ok(StateSpec::Sqlite(PathBuf::from(path))),
            _ => Err(StateError::UnsupportedScheme(text.to_owned())),
        }
    }
}

impl std::fmt::Display for StateSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateSpec::Memory => f.write_str("memory"),
            StateSpec::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
        }
    }
}

/// Why state could not be opened, read or saved.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Neither `memory` nor `sqlite:PATH`.
    #[error("unsupported state `{0}`: use `memory` or `sqlite:PATH` (e.g. sqlite:./state.db)")]
    UnsupportedScheme(String),
    /// `sqlite:` without a path.
    #[error("`sqlite:` needs a file path, e.g. sqlite:./state.db")]
    EmptyPath,
    /// The file could not be opened or is not a database.
    #[error("could not open the state database {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// Another process (or connection) has the file open.
    #[error("the state database {path} is in use by another server")]
    InUse {
        /// The file.
        path: PathBuf,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// A database operation failed.
    #[error("state database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Written by a newer build.
    #[error("the state database has schema version {found}; this build knows up to {supported}")]
    TooNew {
        /// The file's version.
        found: u32,
        /// This build's version.
        supported: u32,
    },
    /// A saved record does not parse.
    #[error("a saved record is not valid: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The writer thread could not start.
    #[error("could not start the state writer: {0}")]
    Thread(std::io::Error),
    /// The file (or its folder, where SQLite keeps its write-ahead log) cannot be written.
    #[error(
        "the state database {path} is read-only: serve must write it and create files next to it \
         (give the file and its folder write permission, or pick another path)"
    )]
    ReadOnly {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be created with owner-only permissions.
    #[error("could not create the state database {path}: {source}")]
    Create {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
}

/// Everything a restart gets back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Saved {
    /// Every delivery, oldest first.
    pub deliveries: Vec<SavedDelivery>,
    /// The simulated time of the last commit.
    pub clock: Option<DateTime<Utc>>,
    /// What the world was built from, if it was saved.
    pub world: Option<WorldConfig>,
    /// Every change made to the world since it was built (or last reset), in order.
    pub world_ops: Vec<WorldOp>,
}

/// An open state database, before its writer starts.
#[derive(Debug)]
pub struct StateStore {
    conn: Connection,
}

impl StateStore {
    /// Opens (or creates) the database at `path` and brings its schema up to date. A new file
    /// is created readable by its owner only (0600): it holds mailbox app passwords. A file or
    /// folder serve cannot write is refused with [`StateError::ReadOnly`].
    pub fn open(path: &Path) -> Result<Self, StateError> {
        create_private(path)?;
        if read_only(path) {
            return Err(StateError::ReadOnly {
                path: path.to_owned(),
            });
        }
        let opened = |source| StateError::Open {
            path: path.to_owned(),
            source,
        };
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(opened)?;
        let opened = |source: rusqlite::Error| match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StateError::InUse {
                    path: path.to_owned(),
                    source,
                }
            }
            _ => opened(source),
        };
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return Err(StateError::ReadOnly {
                path: path.to_owned(),
            });
        }
        conn.busy_timeout(LOCK_WAIT).map_err(opened)?;
        // One server per file: the first write takes a lock held until the connection closes
        // (the OS drops it when the process dies, so a restart after a crash is not blocked).
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(opened)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(opened)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(opened)?;
        schema::migrate(&mut conn).map_err(|e| match e {
            StateError::Sqlite(source) => opened(source),
            other => other,
        })?;
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('pid', ?1)",
            [std::process::id().to_string()],
        )
        .map_err(opened)?;
        Ok(StateStore { conn })
    }

    /// The schema version of the open database.
    pub fn version(&self) -> Result<u32, StateError> {
        schema::version(&self.conn)
    }

    /// Reads back everything saved.
    pub fn load(&self) -> Result<Saved, StateError> {
        let clock = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'clock'", [], |row| {
                row.get::<_, String>(0)
            })
            .ok()
            .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
            .map(|t| t.to_utc());
        let world = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'world'", [], |row| {
                row.get::<_, String>(0)
            })
            .ok()
            .map(|text| serde_json::from_str(&text))
            .transpose()?;
        let mut world_ops = Vec::new();
        let mut rows = self.conn.prepare("SELECT op FROM world_ops ORDER BY seq")?;
        let mut cursor = rows.query([])?;
        while let Some(row) = cursor.next()? {
            world_ops.push(serde_json::from_str(&row.get::<_, String>(0)?)?);
        }
        let mut attempts: HashMap<String, Vec<AttemptRecord>> = HashMap::new();
        let mut rows = self
            .conn
            .prepare("SELECT delivery, attempt FROM attempts ORDER BY seq")?;
        let mut cursor = rows.query([])?;
        while let Some(row) = cursor.next()? {
            let delivery: String = row.get(0)?;
            let attempt: AttemptRecord = serde_json::from_str(&row.get::<_, String>(1)?)?;
            attempts.entry(delivery).or_default().push(attempt);
        }
        let mut rows = self
            .conn
            .prepare("SELECT id, state, record, signature, started FROM deliveries ORDER BY seq")?;
        let mut cursor = rows.query([])?;
        let mut deliveries = Vec::new();
        while let Some(row) = cursor.next()? {
            let id: String = row.get(0)?;
            let state: DeliveryState = serde_json::from_value(row.get::<_, String>(1)?.into())?;
            let mut record: DeliveryRecord = serde_json::from_str(&row.get::<_, String>(2)?)?;
            record.state = state;
            record.attempts = attempts.remove(&id).unwrap_or_default();
            // Files written before credentials were redacted still hold them: never shown again.
            for attempt in &mut record.attempts {
                attempt.request_headers = crate::contract::headers::redacted(std::mem::take(
                    &mut attempt.request_headers,
                ));
            }
            deliveries.push(SavedDelivery {
                record,
                signature: row.get(3)?,
                started: row.get(4)?,
            });
        }
        Ok(Saved {
            deliveries,
            clock,
            world,
            world_ops,
        })
    }

    /// Hands the connection to the writer thread, which stamps commits with `clock`'s time.
    pub fn into_writer(self, clock: Clock) -> Result<StateWriter, StateError> {
        StateWriter::spawn(self.conn, clock)
    }
}

/// Creates `path` with owner-only permissions (0600) when it does not exist; SQLite gives its
/// write-ahead log and shared-memory files the same permissions.
fn create_private(path: &Path) -> Result<(), StateError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // Reported by SQLite with its own words (a missing folder, say) or as read-only below.
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StateError::Create {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Whether the file exists but cannot be opened for writing, or its folder takes no new files
/// (SQLite's write-ahead log lives next to the file).
fn read_only(path: &Path) -> bool {
    let denied = |result: std::io::Result<std::fs::File>| {
        matches!(result, Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied
            || e.raw_os_error() == Some(30))
    };
    if path.exists() && denied(std::fs::OpenOptions::new().write(true).open(path)) {
        return true;
    }
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let probe = folder.join(format!(".inboxkit-mock-probe-{}", std::process::id()));
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe);
    let refused = denied(result);
    let _ = std::fs::remove_file(&probe);
    refused
}

/// A state's stored name (`pending`, `delivered`, ...).
fn state_name(state: DeliveryState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
