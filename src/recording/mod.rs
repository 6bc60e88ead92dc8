//! Recordings of received webhook requests, one JSON object per line (JSON Lines).
//!
//! A recording keeps each request exactly as it arrived: method, path, every header in arrival
//! order, the raw body (verbatim when it is UTF-8, base64 otherwise), the arrival time, and the
//! signature verdict under each scheme for which a key was at hand. `replay` sends the lines
//! again and `drift` compares them with the mock's contract.
//!
//! Mailbox credentials are redacted before a line is written unless the caller keeps them;
//! a redacted line says so (`credentials_redacted`), since its body is no longer the bytes that
//! were signed.

mod reader;
mod recorder;
mod redact;
mod verdicts;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::contract::format_timestamp;
use crate::contract::headers::HeaderList;

pub use reader::{LineError, NumberedRequest, Recording, load, read_lines};
pub use recorder::Recorder;
pub use redact::{CREDENTIAL_FIELDS, REDACTED, credentials_in, redact_credentials};
pub use verdicts::{SignatureKeys, SignatureVerdicts};

/// Why a recording could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The file could not be opened or created.
    #[error("could not open {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A line could not be written.
    #[error("could not write to the recording: {0}")]
    Write(#[from] std::io::Error),
    /// Lines that are not recorded requests (truncated, corrupt, or invalid).
    #[error("{path} has {} bad line(s): {}", errors.len(), summarize(errors))]
    BadLines {
        /// The file.
        path: String,
        /// Every bad line, in file order.
        errors: Vec<LineError>,
    },
}

/// At most this many bad lines are spelled out in an error message.
const BAD_LINES_SHOWN: usize = 5;

fn summarize(errors: &[LineError]) -> String {
    let mut text = errors
        .iter()
        .take(BAD_LINES_SHOWN)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if errors.len() > BAD_LINES_SHOWN {
        text.push_str(&format!("; and {} more", errors.len() - BAD_LINES_SHOWN));
    }
    text
}

/// Why a recorded body cannot be turned back into bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Both `body` and `body_base64` are set.
    #[error("both `body` and `body_base64` are set; a line holds one of them")]
    Both,
    /// `body_base64` is not valid base64.
    #[error("`body_base64` is not valid base64: {0}")]
    Base64(String),
}

/// One request as received: a line of a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// Arrival time, ISO 8601 UTC with milliseconds.
    pub received_at: String,
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Request path (with the query string, if any).
    pub path: String,
    /// Every header, in arrival order, names as received.
    pub headers: HeaderList,
    /// The raw body, when it is valid UTF-8 (exact bytes unless `credentials_redacted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The raw body in standard base64, when it is not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// The signature verdict under each scheme (`null` when no key for it was given).
    #[serde(default)]
    pub signature: SignatureVerdicts,
    /// Whether mailbox credentials in `body` were replaced by [`REDACTED`].
    #[serde(default)]
    pub credentials_redacted: bool,
}

impl RecordedRequest {
    /// A line for a request that arrived at `received_at`, keeping `body` exactly.
    pub fn new(
        received_at: DateTime<Utc>,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
        signature: SignatureVerdicts,
    ) -> Self {
        let (text, base64) = match std::str::from_utf8(body) {
            Ok(text) => (Some(text.to_owned()), None),
            Err(_) => (None, Some(BASE64.encode(body))),
        };
        RecordedRequest {
            received_at: format_timestamp(received_at),
            method: method.to_owned(),
            path: path.to_owned(),
            headers: headers.to_vec(),
            body: text,
            body_base64: base64,
            signature,
            credentials_redacted: false,
        }
    }

    /// The body bytes as recorded (empty when the line holds no body).
    pub fn body_bytes(&self) -> Result<Vec<u8>, BodyError> {
        match (&self.body, &self.body_base64) {
            (Some(_), Some(_)) => Err(BodyError::Both),
            (Some(text), None) => Ok(text.as_bytes().to_vec()),
            (None, Some(encoded)) => BASE64
                .decode(encoded)
                .map_err(|e| BodyError::Base64(e.to_string())),
            (None, None) => Ok(Vec::new()),
        }
    }

    /// The first value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The arrival time, parsed.
    pub fn received_time(&self) -> Result<DateTime<Utc>, chrono::ParseError> {
        DateTime::parse_from_rfc3339(&self.received_at).map(|t| t.with_timezone(&Utc))
    }

    /// Checks what serde cannot: a parsable time, a method, and one decodable body.
    pub fn check(&self) -> Result<(), String> {
        if self.method.trim().is_empty() {
            return Err("`method` is empty".into());
        }
        self.received_time().map_err(|e| {
            format!(
                "`received_at` ({}) is not an ISO 8601 time: {e}",
                self.received_at
            )
        })?;
        self.body_bytes().map(|_| ()).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-10T15:30:45.123Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn utf8_bodies_are_kept_verbatim_and_others_in_base64() {
        let text =
            RecordedRequest::new(at(), "POST", "/w", &[], b"{ \"a\" :1}", Default::default());
        assert_eq!(text.body.as_deref(), Some("{ \"a\" :1}"));
        assert_eq!(text.body_base64, None);
        assert_eq!(text.body_bytes().unwrap(), b"{ \"a\" :1}");

        let binary = [0xff, 0x00, 0xfe];
        let other = RecordedRequest::new(at(), "POST", "/w", &[], &binary, Default::default());
        assert_eq!(other.body, None);
        assert_eq!(other.body_bytes().unwrap(), binary);
        assert_eq!(other.received_at, "2024-01-10T15:30:45.123Z");
    }

    #[test]
    fn lines_round_trip_through_json() {
        let headers = vec![("X-InboxKit-Event".to_owned(), "e".to_owned())];
        let verdicts = SignatureVerdicts {
            hmac_body: Some(true),
            api_key_sha256: None,
        };
        let line = RecordedRequest::new(at(), "POST", "/webhook", &headers, b"{}", verdicts);
        let json = serde_json::to_string(&line).unwrap();
        assert!(
            json.contains(r#""signature":{"hmac-body":true,"api-key-sha256":null}"#),
            "{json}"
        );
        let back: RecordedRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, line);
        assert_eq!(back.header("x-inboxkit-event"), Some("e"));
        assert!(back.check().is_ok());
    }

    #[test]
    fn check_names_the_problem() {
        let mut line = RecordedRequest::new(at(), "POST", "/", &[], b"{}", Default::default());
        line.body_base64 = Some("AA==".into());
        assert!(line.check().unwrap_err().contains("both"));
        line.body = None;
        line.body_base64 = Some("!!".into());
        assert!(line.check().unwrap_err().contains("base64"));
        line.body_base64 = None;
        line.received_at = "yesterday".into();
        assert!(line.check().unwrap_err().contains("received_at"));
    }
}
