//! Fault programs: how the reference receiver misbehaves on purpose, so a sender's retry policy
//! (ours, or any other) can be watched against a subscriber that fails in known ways.
//!
//! A program is one action plus an optional target. The compact syntax (CLI and `PUT /faults`):
//!
//! ```text
//! PROGRAM  := ACTION (':' MODIFIER)*
//! ACTION   := status=CODE[,CODE...]   answer these codes in turn; the last one repeats
//!           | delay=DUR[..DUR]        wait before answering (fixed, or uniform in the range)
//!           | fail=PCT%               answer 500 (or the CODE modifier) to PCT % of requests
//!           | close                   close the connection without an HTTP answer
//!           | drip=DUR                answer, but spread the body over DUR
//!           | bad-signature           treat the signature as wrong (401)
//! MODIFIER := retry-after=SECS        add `Retry-After` to status and fail answers
//!           | CODE                    the code `fail` answers (default 500)
//!           | event=EVENT             only requests whose event is EVENT
//!           | uid=UID                 only requests about entity UID
//! ```
//!
//! A 2xx code in a `status` sequence lets the request through to normal handling (verify,
//! dedupe) and answers that code. Every matching program is applied, in order: delays add up,
//! the first program that decides the answer wins, and a drip applies to whatever is answered.

mod plan;
mod syntax;

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

pub use plan::{FaultAnswer, FaultPlan, Faults};

/// The action names the compact syntax knows, for error messages.
pub const KNOWN_ACTIONS: &str =
    "status=CODES, delay=DUR[..DUR], fail=PCT%, close, drip=DUR, bad-signature";

/// The code `fail` answers unless told otherwise.
pub const DEFAULT_FAIL_STATUS: u16 = 500;

/// What a fault program does to a matching request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FaultAction {
    /// Answer these codes to successive matching requests; the last one repeats.
    Status {
        /// HTTP codes in order; a 2xx code means "handle normally, answer this code".
        codes: Vec<u16>,
        /// `Retry-After` sent with non-2xx answers.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "optional_duration"
        )]
        retry_after: Option<Duration>,
    },
    /// Wait before answering: `min` when `min == max`, else uniformly random in `[min, max]`.
    Delay {
        /// Shortest wait.
        #[serde(with = "crate::contract::profile::humantime_serde_compat")]
        min: Duration,
        /// Longest wait.
        #[serde(with = "crate::contract::profile::humantime_serde_compat")]
        max: Duration,
    },
    /// Answer `status` to a random `percent` % of matching requests; handle the rest normally.
    Fail {
        /// Share of requests that fail, 0-100.
        percent: f64,
        /// The failure answer's code.
        #[serde(default = "default_fail_status")]
        status: u16,
        /// `Retry-After` sent with the failure answer.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "optional_duration"
        )]
        retry_after: Option<Duration>,
    },
    /// Close the connection without sending any HTTP answer.
    Close,
    /// Handle normally, but send the answer's body in pieces spread over `over`.
    Drip {
        /// How long the body takes to arrive in full.
        #[serde(with = "crate::contract::profile::humantime_serde_compat")]
        over: Duration,
    },
    /// Refuse the signature (401) whatever it is.
    BadSignature,
}

fn default_fail_status() -> u16 {
    DEFAULT_FAIL_STATUS
}

/// One fault: an action, limited to an event type and/or an entity uid when those are set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultProgram {
    /// What happens.
    #[serde(flatten)]
    pub action: FaultAction,
    /// Only requests whose `event` (body, else `X-InboxKit-Event`) equals this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Only requests whose entity `uid` equals this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// Why a fault program was refused; names the program and the offending token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault program `{program}`: `{token}` {reason}")]
pub struct FaultError {
    /// The whole program as given.
    pub program: String,
    /// The part that is wrong.
    pub token: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FaultError {
    fn new(program: &str, token: &str, reason: impl Into<String>) -> Self {
        FaultError {
            program: program.to_owned(),
            token: token.to_owned(),
            reason: reason.into(),
        }
    }
}

impl FaultProgram {
    /// A program without a target.
    pub fn new(action: FaultAction) -> Self {
        FaultProgram {
            action,
            event: None,
            uid: None,
        }
    }

    /// This program limited to one event type.
    pub fn for_event(mut self, event: impl Into<String>) -> Self {
        self.event = Some(event.into());
        self
    }

    /// This program limited to one entity uid.
    pub fn for_uid(mut self, uid: impl Into<String>) -> Self {
        self.uid = Some(uid.into());
        self
    }

    /// Whether a request about `event` / `uid` is one this program applies to.
    pub fn matches(&self, event: Option<&str>, uid: Option<&str>) -> bool {
        self.event.as_deref().is_none_or(|e| Some(e) == event)
            && self.uid.as_deref().is_none_or(|u| Some(u) == uid)
    }

    /// Checks the values a structured (JSON) program can get wrong.
    pub fn validate(&self) -> Result<(), FaultError> {
        let program = self.to_string();
        match &self.action {
            FaultAction::Status { codes, .. } => {
                if codes.is_empty() {
                    return Err(FaultError::new(
                        &program,
                        "status",
                        "needs at least one code",
                    ));
                }
                for code in codes {
                    check_code(&program, *code)?;
                }
            }
            FaultAction::Delay { min, max } if min > max => {
                return Err(FaultError::new(
                    &program,
                    "delay",
                    "has a minimum above its maximum",
                ));
            }
            FaultAction::Fail {
                percent, status, ..
            } => {
                if !(0.0..=100.0).contains(percent) {
                    return Err(FaultError::new(
                        &program,
                        &percent.to_string(),
                        "is not a percentage from 0 to 100",
                    ));
                }
                check_code(&program, *status)?;
            }
            _ => {}
        }
        for (name, value) in [("event", &self.event), ("uid", &self.uid)] {
            if value
                .as_deref()
                .is_some_and(|v| v.is_empty() || v.contains(':'))
            {
                return Err(FaultError::new(
                    &program,
                    name,
                    "must be a non-empty value without `:`",
                ));
            }
        }
        Ok(())
    }
}

pub(super) fn check_code(program: &str, code: u16) -> Result<(), FaultError> {
    if (200..=599).contains(&code) {
        Ok(())
    } else {
        Err(FaultError::new(
            program,
            &code.to_string(),
            "is not an HTTP status code from 200 to 599",
        ))
    }
}

/// Every key the structured JSON form may use (serde cannot deny unknown keys with `flatten`).
const STRUCTURED_KEYS: [&str; 10] = [
    "kind",
    "codes",
    "retry_after",
    "min",
    "max",
    "percent",
    "status",
    "over",
    "event",
    "uid",
];

/// The structured JSON form, before validation.
#[derive(Deserialize)]
struct StructuredProgram {
    #[serde(flatten)]
    action: FaultAction,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    uid: Option<String>,
}

impl<'de> Deserialize<'de> for FaultProgram {
    /// Accepts the compact syntax as a string (`"status=500,200"`) or the structured object
    /// (`{"kind": "status", "codes": [500, 200]}`); both are validated.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let program = match value {
            serde_json::Value::String(text) => text
                .parse::<FaultProgram>()
                .map_err(serde::de::Error::custom)?,
            serde_json::Value::Object(object) => {
                if let Some(key) = object
                    .keys()
                    .find(|k| !STRUCTURED_KEYS.contains(&k.as_str()))
                {
                    return Err(serde::de::Error::custom(format!(
                        "unknown key `{key}` in a fault program; known: {}",
                        STRUCTURED_KEYS.join(", ")
                    )));
                }
                let structured: StructuredProgram =
                    serde_json::from_value(serde_json::Value::Object(object))
                        .map_err(serde::de::Error::custom)?;
                let program = FaultProgram {
                    action: structured.action,
                    event: structured.event,
                    uid: structured.uid,
                };
                program.validate().map_err(serde::de::Error::custom)?;
                program
            }
            other => {
                return Err(serde::de::Error::custom(format!(
                    "a fault program is a string like \"status=500,200\" or an object with `kind`, not {other}"
                )));
            }
        };
        Ok(program)
    }
}

mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => {
                serializer.serialize_str(&humantime::format_duration(*duration).to_string())
            }
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| {
                let duration = humantime::parse_duration(&text).map_err(serde::de::Error::custom)?;
                if duration.subsec_nanos() != 0 {
                    return Err(serde::de::Error::custom(format!(
                        "`{text}` is not a whole number of seconds (Retry-After carries whole seconds)"
                    )));
                }
                Ok(duration)
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> FaultProgram {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn json_takes_strings_or_objects_and_validates_both() {
        let from_string: FaultProgram = serde_json::from_str(r#""status=500,200""#).unwrap();
        let from_object: FaultProgram =
            serde_json::from_str(r#"{"kind": "status", "codes": [500, 200]}"#).unwrap();
        assert_eq!(from_string, from_object);
        let json = serde_json::to_value(parse("delay=1s..2s:event=e")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "delay", "min": "1s", "max": "2s", "event": "e"})
        );
        let back: FaultProgram = serde_json::from_value(json).unwrap();
        assert_eq!(back, parse("delay=1s..2s:event=e"));
        let error = serde_json::from_str::<FaultProgram>(r#"{"kind": "status", "codes": [999]}"#)
            .unwrap_err();
        assert!(error.to_string().contains("`999`"), "{error}");
        assert!(serde_json::from_str::<FaultProgram>(r#"{"kind": "teleport"}"#).is_err());
        assert!(serde_json::from_str::<FaultProgram>("42").is_err());
    }
}
