//! Simulation: the clock everything runs on, the entity lifecycles, and applying them.

pub mod causality;
pub mod clock;
mod fields;
pub mod lifecycle;
#[cfg(test)]
mod properties;
pub mod sample;
pub mod scheduler;
pub mod simulator;
pub mod transition;

pub use clock::{Clock, ClockError};
pub use transition::IllegalTransition;
