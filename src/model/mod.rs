//! The simulated InboxKit account: ids and fake-but-realistic entities.

pub(crate) mod compact;
pub mod fake;
pub(crate) mod ids;
pub mod world;

pub use fake::Faker;
pub use ids::{IdKind, new_id};
