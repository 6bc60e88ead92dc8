//! Load: the open-model schedule, the runner, statistics and reports.

pub mod html;
mod maker;
pub mod report;
pub mod runner;
pub mod schedule;
pub(crate) mod stats;

pub use report::{Report, StepResult};
pub use runner::{LoadTarget, PhasePlan, Progress, Shard};
pub use stats::Stats;
