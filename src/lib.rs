//! inboxkit-mock: a local, programmable stand-in for InboxKit's signed status-change webhooks.
//!
//! The modules follow the data flow: [`contract`] (what goes on the wire) -> [`model`] (the
//! simulated account) -> [`simulation`] (clock and lifecycles) -> [`delivery`] (signing, retry
//! policy, journal) -> [`receiver`] (the reference subscriber).
//!
//! Features: `cli` (default; the binary's dependencies, and with it `state` and `load`),
//! `state` (`--state sqlite:`, module `persistence`), `load` (modules `scenario` and `load`).
//! A test suite that needs only [`testkit`] depends with `default-features = false`.

pub(crate) mod admin_token;
pub mod check;
pub mod contract;
pub mod delivery;
pub mod drift;
pub mod listener_limits;
#[cfg(feature = "load")]
pub mod load;
pub(crate) mod markup;
pub mod model;
#[cfg(feature = "state")]
pub mod persistence;
pub mod receiver;
pub mod recording;
#[cfg(feature = "load")]
pub mod scenario;
pub mod server;
pub mod simulation;
pub mod testkit;
