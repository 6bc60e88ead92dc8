//! inboxkit-mock: a local, programmable stand-in for InboxKit's signed status-change webhooks.
//!
//! The modules follow the data flow: [`contract`] (what goes on the wire) -> [`model`] (the
//! simulated account) -> [`simulation`] (clock and lifecycles) -> [`delivery`] (signing, retry
//! policy, journal) -> [`receiver`] (the reference subscriber).

pub mod admin_token;
pub mod check;
pub mod contract;
pub mod delivery;
pub mod drift;
pub mod load;
pub mod markup;
pub mod model;
pub mod persistence;
pub mod receiver;
pub mod recording;
pub mod scenario;
pub mod server;
pub mod simulation;
pub mod testkit;
