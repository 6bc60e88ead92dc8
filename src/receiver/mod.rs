//! The reference receiver: a subscriber that verifies, validates, dedupes and records.
//!
//! It answers like a correct consumer should: 401 for a bad signature, 400 for a body that is not
//! a webhook, 200 with the documented body otherwise (duplicates included, not reprocessed).
//! Fault programs ([`faults`]) make it misbehave on purpose: set at start, with
//! [`RunningReceiver::set_faults`], or over HTTP with `PUT /faults`.
//!
//! Routes: `POST <any path>` (webhooks), `GET`/`DELETE /received` (the record),
//! `GET`/`PUT`/`DELETE /faults` (fault programs; with an admin token, these and `/received` need
//! `Authorization: Bearer <token>`), `GET /processed` (`{"processed": N}`, the
//! processed-endpoint protocol of `check`), `GET /health`.

mod app;
pub mod faults;
pub mod store;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

pub use app::{MAX_BODY_BYTES, SUCCESS_MESSAGE};
pub use faults::{FaultAction, FaultError, FaultProgram, Faults};
pub use store::{ChangeKey, ReceivedRecord, ReceivedStore, Verdict};

use crate::contract::Signer;

/// How the receiver checks requests.
#[derive(Debug, Clone, Default)]
pub struct ReceiverConfig {
    /// Verifies `X-InboxKit-Signature`; `None` accepts any signature.
    pub verifier: Option<Signer>,
    /// Requests kept for `GET /received`.
    pub capacity: Option<usize>,
    /// HTTP worker threads (default: 2).
    pub workers: Option<usize>,
    /// Fault programs in force from the start (see [`faults`]).
    pub faults: Vec<FaultProgram>,
    /// Seed for random delays and failures, so a run can be repeated.
    pub fault_seed: Option<u64>,
    /// Append every request, exactly as received, to a JSON Lines file (`receive --record`).
    pub recording: Option<Recording>,
    /// When set, `/received` and `/faults` need `Authorization: Bearer <token>` (the webhook
    /// endpoint, `/processed` and `/health` stay open).
    pub admin_token: Option<crate::contract::Secret>,
}

/// Where and how the receiver records what it receives.
#[derive(Clone)]
pub struct Recording {
    /// The JSON Lines writer.
    pub recorder: crate::recording::Recorder,
    /// Keys to judge each signature under both schemes for the record.
    pub keys: crate::recording::SignatureKeys,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording").finish_non_exhaustive()
    }
}

/// Why the receiver could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    /// Binding or starting the HTTP server failed.
    #[error("could not start the receiver: {0}")]
    Io(#[from] std::io::Error),
}

/// A receiver running in the background; stops when [`RunningReceiver::stop`] is called.
#[derive(Debug)]
pub struct RunningReceiver {
    addr: SocketAddr,
    store: Arc<ReceivedStore>,
    faults: Arc<Faults>,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningReceiver {
    /// Starts a receiver on an already bound listener (bind port 0 in tests).
    pub fn start(listener: TcpListener, config: ReceiverConfig) -> Result<Self, ReceiverError> {
        let addr = listener.local_addr()?;
        let store = Arc::new(
            config
                .capacity
                .map(ReceivedStore::with_capacity)
                .unwrap_or_default(),
        );
        let faults = Arc::new(Faults::new(config.faults.clone(), config.fault_seed));
        let server = app::server(listener, store.clone(), faults.clone(), config)?;
        let handle = server.handle();
        let task = tokio::spawn(server);
        Ok(RunningReceiver {
            addr,
            store,
            faults,
            handle,
            task,
        })
    }

    /// Binds 127.0.0.1 on a free port and starts there.
    pub fn start_local(config: ReceiverConfig) -> Result<Self, ReceiverError> {
        RunningReceiver::start(TcpListener::bind(("127.0.0.1", 0))?, config)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The webhook URL to give a sender.
    pub fn webhook_url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}/webhook", self.addr))
            .expect("a socket address makes a valid URL")
    }

    /// The URL of its own routes (`/received`, `/faults`, `/health`).
    pub fn base_url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}/", self.addr))
            .expect("a socket address makes a valid URL")
    }

    /// What it received.
    pub fn store(&self) -> &Arc<ReceivedStore> {
        &self.store
    }

    /// Replaces the fault programs from the next request on; sequences start over.
    pub fn set_faults(&self, programs: Vec<FaultProgram>) {
        self.faults.set(programs);
    }

    /// The fault programs in force.
    pub fn faults(&self) -> Vec<FaultProgram> {
        self.faults.programs()
    }

    /// Stops accepting, finishes in-flight requests, and waits for the server to end.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
    }
}
