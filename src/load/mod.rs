//! Load: the open-model schedule, the maker thread that makes the sends, the runner that
//! delivers them, statistics and reports.

pub mod html;
mod maker;
pub mod report;
pub mod runner;
pub mod schedule;
pub(crate) mod stats;

pub use report::{Report, StepResult};
pub use runner::{LoadTarget, Progress, Shard};
pub use schedule::PhasePlan;
pub use stats::Stats;
