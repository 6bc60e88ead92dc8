//! The simulated InboxKit account: ids and fake-but-realistic entities.

pub mod compact;
pub mod fake;
pub mod ids;
pub mod world;

pub use fake::Faker;
pub use ids::{IdKind, new_id};
