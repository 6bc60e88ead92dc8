//! Simulation: the clock everything runs on, the entity lifecycles, and applying them.

pub(crate) mod causality;
pub(crate) mod changes;
pub(crate) mod clock;
pub(crate) mod failures;
mod fields;
pub mod lifecycle;
#[cfg(test)]
mod properties;
#[cfg(feature = "state")]
pub(crate) mod replay;
pub mod sample;
pub(crate) mod scheduler;
pub mod simulator;
pub mod transition;

pub use clock::{Clock, ClockError};
pub use transition::IllegalTransition;
