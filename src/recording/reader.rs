//! Reads recordings line by line, naming the line of every problem.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::{RecordedRequest, RecordingError};

/// A line that is not a recorded request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub problem: String,
}

/// A recorded request with the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberedRequest {
    /// 1-based line number.
    pub line: usize,
    /// The request.
    pub request: RecordedRequest,
}

/// Every line of a file: a request, or the problem with the line. Blank lines are skipped;
/// a read error ends the sequence after being reported for the line it happened on.
pub fn read_lines(
    reader: impl BufRead,
) -> impl Iterator<Item = (usize, Result<RecordedRequest, LineError>)> {
    let mut reader = reader;
    let mut number = 0;
    let mut failed = false;
    std::iter::from_fn(move || {
        loop {
            if failed {
                return None;
            }
            number += 1;
            let mut bytes = Vec::new();
            match reader.read_until(b'\n', &mut bytes) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(error) => {
                    failed = true;
                    let problem = format!("could not be read: {error}");
                    return Some((
                        number,
                        Err(LineError {
                            line: number,
                            problem,
                        }),
                    ));
                }
            }
            let line = String::from_utf8_lossy(&bytes);
            if line.trim().is_empty() {
                continue;
            }
            return Some((number, parse_line(number, &bytes)));
        }
    })
}

fn parse_line(number: usize, bytes: &[u8]) -> Result<RecordedRequest, LineError> {
    let error = |problem: String| LineError {
        line: number,
        problem,
    };
    let text = std::str::from_utf8(bytes).map_err(|_| error("is not valid UTF-8".into()))?;
    let mut deserializer = serde_json::Deserializer::from_str(text.trim_end());
    let request: RecordedRequest =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let inner = e.inner();
            let problem = if inner.is_eof() {
                format!("is truncated (the JSON ends early: {inner})")
            } else if e.path().to_string() == "." {
                format!("is not a recorded request: {inner}")
            } else {
                format!("is not a recorded request: at `{}`: {inner}", e.path())
            };
            error(problem)
        })?;
    deserializer
        .end()
        .map_err(|e| error(format!("has text after the JSON object: {e}")))?;
    request.check().map_err(error)?;
    Ok(request)
}

/// A loaded recording: the good lines, and the bad ones that were skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recording {
    /// Requests in file order.
    pub requests: Vec<NumberedRequest>,
    /// Lines skipped as bad (only when skipping was asked for).
    pub skipped: Vec<LineError>,
}

/// Reads the whole file at `path`. Bad lines make it fail with every bad line named, unless
/// `skip_bad`, in which case they are returned in [`Recording::skipped`].
pub fn load(path: &Path, skip_bad: bool) -> Result<Recording, RecordingError> {
    let file = File::open(path).map_err(|source| RecordingError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let mut recording = Recording::default();
    for (line, result) in read_lines(BufReader::new(file)) {
        match result {
            Ok(request) => recording.requests.push(NumberedRequest { line, request }),
            Err(error) => recording.skipped.push(error),
        }
    }
    if !skip_bad && !recording.skipped.is_empty() {
        return Err(RecordingError::BadLines {
            path: path.display().to_string(),
            errors: recording.skipped,
        });
    }
    Ok(recording)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"received_at":"2024-01-10T15:30:45.123Z","method":"POST","path":"/webhook","headers":[["content-type","application/json"]],"body":"{}","signature":{"hmac-body":null,"api-key-sha256":null},"credentials_redacted":false}"#;

    #[test]
    fn bad_lines_are_named_and_good_ones_kept() {
        let text = format!(
            "{GOOD}\n\n{}\nnot json at all\n{}\n{GOOD}",
            &GOOD[..60],
            GOOD.replace(r#""method":"POST""#, r#""method":7"#)
        );
        let lines: Vec<_> = read_lines(text.as_bytes()).collect();
        let numbers: Vec<_> = lines.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [1, 3, 4, 5, 6], "blank line 2 is skipped");
        assert!(lines[0].1.is_ok() && lines[4].1.is_ok());
        let truncated = lines[1].1.as_ref().unwrap_err();
        assert_eq!(truncated.line, 3);
        assert!(truncated.problem.contains("truncated"), "{truncated}");
        assert!(
            lines[2]
                .1
                .as_ref()
                .unwrap_err()
                .problem
                .contains("not a recorded request")
        );
        let typed = lines[3].1.as_ref().unwrap_err().to_string();
        assert!(
            typed.starts_with("line 5:") && typed.contains("method"),
            "{typed}"
        );
    }

    #[test]
    fn load_refuses_bad_lines_unless_skipping() {
        let dir = std::env::temp_dir().join(format!("ikm-rec-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.jsonl");
        std::fs::write(&path, format!("{GOOD}\n{{\"received_at\":\n{GOOD}\n")).unwrap();
        let error = load(&path, false).unwrap_err().to_string();
        assert!(
            error.contains("1 bad line") && error.contains("line 2:"),
            "{error}"
        );
        let recording = load(&path, true).unwrap();
        assert_eq!(recording.requests.len(), 2);
        assert_eq!(recording.requests[1].line, 3);
        assert_eq!(recording.skipped.len(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
