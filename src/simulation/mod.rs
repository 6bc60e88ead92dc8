//! Simulation: the clock everything runs on, and the entity lifecycles.

pub mod clock;
pub mod lifecycle;

pub use clock::{Clock, ClockError};
