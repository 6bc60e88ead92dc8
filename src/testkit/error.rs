//! What can go wrong starting the harness or asking it to act.

use crate::contract::{EventType, OverrideError};
use crate::delivery::engine::InvalidBody;
use crate::model::world::WorldError;
use crate::server::{AdvanceError, Refused, ServerError};
use crate::simulation::ClockError;
use crate::simulation::simulator::ActionError;

/// Why [`MockInboxKit`](super::MockInboxKit) could not start or refused an action.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// The subscriber URL is not an `http://` or `https://` URL with a host.
    #[error("`{url}` is not an http:// or https:// URL with a host")]
    BadUrl {
        /// The URL given.
        url: String,
    },
    /// The time scale is not a positive number.
    #[error(transparent)]
    Clock(#[from] ClockError),
    /// The in-process server could not start (binding a loopback port, the HTTP client).
    #[error(transparent)]
    Start(#[from] ServerError),
    /// Binding a loopback port failed.
    #[error("could not bind a loopback port: {0}")]
    Bind(#[from] std::io::Error),
    /// The world refused an entity (duplicate, unknown domain, invalid name, full domain).
    #[error(transparent)]
    World(#[from] WorldError),
    /// The simulation refused an action (unknown uid, a transition its lifecycle forbids).
    #[error(transparent)]
    Action(ActionError),
    /// No entity has this uid.
    #[error("no entity with uid `{0}`")]
    UnknownEntity(String),
    /// A field override has a bad path or walks into a value without fields.
    #[error(transparent)]
    Override(#[from] OverrideError),
    /// The event type is not one the contract lists, so there is no typical body for it.
    #[error("no typical body for `{0}`: the contract does not list it")]
    NoSample(EventType),
    /// The mock takes no new work: it is stopping, or its saved state cannot be written.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The body after overrides cannot be sent (e.g. `event` was overridden with a non-string).
    #[error(transparent)]
    Body(#[from] InvalidBody),
}

impl From<AdvanceError> for TestkitError {
    fn from(error: AdvanceError) -> Self {
        match error {
            AdvanceError::Refused(refused) => TestkitError::Refused(refused),
            AdvanceError::OutOfRange(error) => TestkitError::Clock(error),
        }
    }
}

impl From<ActionError> for TestkitError {
    /// The world's refusals stay [`TestkitError::World`] whichever way they came.
    fn from(error: ActionError) -> Self {
        match error {
            ActionError::World(error) => TestkitError::World(error),
            other => TestkitError::Action(other),
        }
    }
}
