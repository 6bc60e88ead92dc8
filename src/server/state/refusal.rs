//! Why the world service refused a request, as typed values the interfaces turn into their own
//! errors (an HTTP problem, a testkit error).

use crate::simulation::clock::ClockError;

/// Why the service refused to change the world.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Shutdown began: no new work.
    #[error("the mock is shutting down and takes no new work")]
    ShuttingDown,
    /// Saved state cannot be written (a full disk): nothing is accepted that could be lost.
    #[error("the mock's saved state cannot be written: {0}")]
    StateUnsaved(String),
}

/// Why a clock advance did not happen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdvanceError {
    /// Intake is closed (shutting down, saved state unwritable).
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The target is past the latest instant the mock represents; nothing changed.
    #[error(transparent)]
    OutOfRange(#[from] ClockError),
}
