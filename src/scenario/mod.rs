//! Scenario files: what to set up, what to check, how much load, and the pass/fail thresholds.
//!
//! Scenarios are TOML. Every error names the file, line, column and field; values that are
//! checked after parsing (durations, thresholds, event names) keep their position for that.

mod spec;
pub mod steps;
pub mod threshold;

use std::path::{Path, PathBuf};

pub use spec::{
    Expectation, Phase, ReportSpec, Scenario, SenderFaults, Stage, Step, TargetSpec, WorldSpec,
};
pub use steps::StepResult;
pub use threshold::{Comparison, Metric, Threshold};

/// A position in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the scenario format.
    #[error("{location}: {field}{message}")]
    Invalid {
        /// Where.
        location: Location,
        /// The field path (`load[0].rate: `), empty when unknown.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl Scenario {
    /// Reads, parses and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            file: path.to_owned(),
            source,
        })?;
        Scenario::parse(&text, path)
    }

    /// Parses and validates scenario text; `file` is used in error messages.
    pub fn parse(text: &str, file: &Path) -> Result<Scenario, ScenarioError> {
        let invalid = |span: Option<std::ops::Range<usize>>, field: String, message: String| {
            let (line, column) = span.map_or((1, 1), |span| line_column(text, span.start));
            ScenarioError::Invalid {
                location: Location {
                    file: file.to_owned(),
                    line,
                    column,
                },
                field,
                message,
            }
        };
        let deserializer = toml::Deserializer::parse(text)
            .map_err(|e| invalid(e.span(), String::new(), e.message().to_owned()))?;
        let scenario: Scenario = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                String::new()
            } else {
                format!("{path}: ")
            };
            let inner = e.into_inner();
            invalid(inner.span(), field, inner.message().to_owned())
        })?;
        scenario
            .validate()
            .map_err(|(span, field, message)| invalid(Some(span), format!("{field}: "), message))?;
        Ok(scenario)
    }
}

/// 1-based line and column of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        Scenario::parse(text, Path::new("s.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_file_line_column_and_field() {
        let text = "name = \"x\"\n\n[[load]]\nrate = \"fast\"\nduration = \"10s\"\n";
        let message = error(text);
        assert!(message.starts_with("s.toml:4:"), "{message}");
        assert!(message.contains("load[0].rate"), "{message}");
    }

    #[test]
    fn unknown_fields_are_errors() {
        let message = error("name = \"x\"\nspeed = 3\n");
        assert!(message.contains("s.toml:2:1"), "{message}");
        assert!(message.contains("speed"), "{message}");
    }

    #[test]
    fn unknown_threshold_metrics_are_errors_with_position() {
        let text = "name = \"x\"\nthresholds = [\"success_rate >= 0.99\", \"happiness > 3\"]\n";
        let message = error(text);
        assert!(message.contains("s.toml:2:39"), "{message}");
        assert!(message.contains("unknown metric `happiness`"), "{message}");
    }

    #[test]
    fn bad_durations_and_events_are_located() {
        let message = error("name = \"x\"\n[[load]]\nrate = 5\nduration = \"ten\"\n");
        assert!(
            message.contains("s.toml:4:12") && message.contains("load[0].duration"),
            "{message}"
        );
        let message = error(
            "name = \"x\"\n[[load]]\nrate = 5\nduration = \"1s\"\nmix = { \"domain.renamed\" = 1 }\n",
        );
        assert!(message.contains("unknown EventType"), "{message}");
    }

    #[test]
    fn line_columns_count_from_one() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
    }
}
