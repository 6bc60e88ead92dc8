//! Simulation: the clock everything runs on, the entity lifecycles, and applying them.

pub mod causality;
pub mod changes;
pub mod clock;
pub mod failures;
pub mod lifecycle;
#[cfg(test)]
mod properties;
pub mod replay;
pub mod sample;
pub mod scheduler;
pub mod simulator;
pub mod transition;

pub use clock::{Clock, ClockError};
pub use transition::IllegalTransition;
