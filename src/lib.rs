//! inboxkit-mock: a local, programmable stand-in for InboxKit's signed status-change webhooks.
//!
//! The library's API is two modules: [`testkit`], a mock InboxKit in-process for a consumer's own
//! Rust tests, and [`contract`], the wire contract (event types, entities, envelopes, headers,
//! schemas, signing and verification). The other modules are public only because the
//! `inboxkit-mock` binary is built on them; they are hidden from the documentation and are not a
//! stable API.
//!
//! The modules follow the data flow: `contract` (what goes on the wire) -> `model` (the simulated
//! account) -> `simulation` (clock and lifecycles) -> `delivery` (signing, retry policy,
//! journal) -> interfaces (`server`, `receiver`, `check`, `scenario` and `load`, `recording` and
//! `drift`, `testkit`).
//!
//! Features: `cli` (default; the binary's dependencies, and with it `state` and `load`),
//! `state` (`--state sqlite:`, module `persistence`), `load` (modules `scenario` and `load`).
//! A test suite that needs only [`testkit`] depends with `default-features = false`.

pub(crate) mod admin_token;
#[doc(hidden)]
pub mod check;
pub mod contract;
#[doc(hidden)]
pub mod delivery;
#[doc(hidden)]
pub mod drift;
#[doc(hidden)]
pub mod listener_limits;
#[cfg(feature = "load")]
#[doc(hidden)]
pub mod load;
pub(crate) mod markup;
#[doc(hidden)]
pub mod model;
#[cfg(feature = "state")]
#[doc(hidden)]
pub mod persistence;
#[doc(hidden)]
pub mod receiver;
#[doc(hidden)]
pub mod recording;
#[cfg(feature = "load")]
#[doc(hidden)]
pub mod scenario;
#[doc(hidden)]
pub mod server;
#[doc(hidden)]
pub mod simulation;
pub mod testkit;
