//! Sending crafted requests with the project's own signing, bounded by the deadline, and
//! describing what came back.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use serde::Serialize;
use serde_json::Value;

use super::bodies::Bodies;
use super::{CheckConfig, CheckError};
use crate::contract::headers::{self, HeaderInputs};
use crate::contract::{Secret, Signer, format_timestamp};
use crate::delivery::AttemptOutcome;
use crate::delivery::transport::{Transport, TransportOptions, error_chain};

/// The most of an answer's body an observation quotes.
const QUOTED_BODY_CHARS: usize = 120;

/// How a request is signed.
#[derive(Debug, Clone)]
pub(super) enum Signing {
    /// Correctly, over the exact bytes sent.
    Valid,
    /// With a key that is not the consumer's.
    WrongKey,
    /// Without `X-InboxKit-Signature`.
    Missing,
    /// Correctly, but over these bytes instead of the ones sent.
    Over(Bytes),
}

/// One crafted request.
#[derive(Debug, Clone)]
pub(super) struct Request {
    /// `X-InboxKit-Event`.
    pub event: String,
    /// The exact body bytes.
    pub body: Bytes,
    /// How it is signed.
    pub signing: Signing,
}

impl Request {
    /// A correctly signed request.
    pub fn signed(event: &str, body: Bytes) -> Self {
        Request {
            event: event.to_owned(),
            body,
            signing: Signing::Valid,
        }
    }
}

/// What one request produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    /// The coded outcome, as the sender would journal it.
    pub outcome: AttemptOutcome,
    /// The HTTP status, when an answer arrived.
    pub status: Option<u16>,
    /// Time from sending to the end of the answer (or the failure).
    pub latency: Duration,
    /// The start of the answer's body.
    pub body: String,
    /// The failure below HTTP, when there was one.
    pub error: Option<String>,
}

impl Observation {
    /// Whether the answer is 2xx.
    pub fn is_2xx(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// Whether the answer is 4xx.
    pub fn is_4xx(&self) -> bool {
        self.status.is_some_and(|s| (400..500).contains(&s))
    }

    /// Whether a complete answer arrived within `deadline`.
    pub fn answered_within(&self, deadline: Duration) -> bool {
        self.status.is_some() && self.error.is_none() && self.latency <= deadline
    }
}

impl std::fmt::Display for Observation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let latency = format_latency(self.latency);
        match self.status {
            Some(status) => {
                write!(f, "HTTP {status} in {latency}")?;
                if !(200..300).contains(&status) && !self.body.is_empty() {
                    write!(f, ": {}", self.body)?;
                }
                if let Some(error) = &self.error {
                    write!(f, " ({error})")?;
                }
                Ok(())
            }
            None => write!(
                f,
                "{} after {latency}: {}",
                self.outcome,
                self.error.as_deref().unwrap_or("no answer")
            ),
        }
    }
}

/// `12.3 ms` or `1.25 s`.
pub(super) fn format_latency(latency: Duration) -> String {
    if latency < Duration::from_secs(1) {
        format!("{:.1} ms", latency.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", latency.as_secs_f64())
    }
}

/// Sends requests to the consumer and remembers every observation for the deadline check.
pub(super) struct Probe {
    config: CheckConfig,
    transport: Transport,
    http: reqwest::Client,
    wrong_signer: Signer,
    bodies: Bodies,
    seen: Mutex<Vec<Observation>>,
}

impl Probe {
    pub fn new(config: &CheckConfig) -> Result<Self, CheckError> {
        let transport = Transport::new(&TransportOptions::default())?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.deadline)
            .no_proxy()
            .build()?;
        let wrong_key = Secret::new(format!("not-the-key-{}", uuid::Uuid::new_v4().simple()));
        Ok(Probe {
            wrong_signer: Signer::new(config.signer.scheme(), wrong_key),
            bodies: Bodies::new(config.seed, config.shape),
            config: config.clone(),
            transport,
            http,
            seen: Mutex::new(Vec::new()),
        })
    }

    /// The settings of this run.
    pub fn config(&self) -> &CheckConfig {
        &self.config
    }

    /// The body factory.
    pub fn bodies(&mut self) -> &mut Bodies {
        &mut self.bodies
    }

    /// Every observation so far.
    pub fn observations(&self) -> Vec<Observation> {
        self.seen.lock().expect("observations lock").clone()
    }

    /// Sends `request`; never takes longer than the deadline.
    pub async fn send(&self, request: &Request) -> Observation {
        let signature = match &request.signing {
            Signing::Valid => Some(self.config.signer.sign(&request.body)),
            Signing::WrongKey => Some(self.wrong_signer.sign(&request.body)),
            Signing::Missing => None,
            Signing::Over(bytes) => Some(self.config.signer.sign(bytes)),
        };
        let timestamp = format_timestamp(Utc::now());
        let mut list = headers::build(&HeaderInputs {
            event: &request.event,
            timestamp: &timestamp,
            signature: signature.as_deref().unwrap_or_default(),
            bearer: self.config.bearer.as_ref().map(Secret::expose),
            mock: None,
        });
        if signature.is_none() {
            list.retain(|(name, _)| name != headers::SIGNATURE);
        }
        let pairs: Vec<(&str, &str)> = list.iter().map(|(n, v)| (&**n, &**v)).collect();
        let exchange = self
            .transport
            .post(
                &self.config.target,
                &pairs,
                request.body.clone(),
                self.config.deadline,
            )
            .await;
        let observation = Observation {
            outcome: exchange.outcome,
            status: exchange.response.as_ref().map(|r| r.status),
            latency: exchange.latency,
            body: exchange
                .response
                .map(|r| quote(&r.body))
                .unwrap_or_default(),
            error: exchange.error,
        };
        self.seen
            .lock()
            .expect("observations lock")
            .push(observation.clone());
        observation
    }

    /// The consumer's processed count: `None` when it does not cooperate, `Some(Err)` when its
    /// processed endpoint fails or answers something unreadable.
    pub async fn processed(&self) -> Option<Result<u64, String>> {
        let url = self.config.processed_url.clone()?;
        Some(self.fetch_processed(url).await)
    }

    async fn fetch_processed(&self, url: url::Url) -> Result<u64, String> {
        let response = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| format!("GET {url} failed: {}", error_chain(&e)))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("GET {url}: reading the answer failed: {}", error_chain(&e)))?;
        if !status.is_success() {
            return Err(format!(
                "GET {url} answered HTTP {}: {}",
                status.as_u16(),
                quote(&text)
            ));
        }
        let value: Value = serde_json::from_str(&text)
            .map_err(|_| format!("GET {url} did not answer JSON: {}", quote(&text)))?;
        processed_count(&value).ok_or_else(|| {
            format!(
                "GET {url} answered {}, not {{\"processed\": N}}, {{\"processed\": [...]}} or a list",
                quote(&text)
            )
        })
    }
}

/// Reads the processed-endpoint protocol: `{"processed": N}`, `{"processed": [...]}`, `[...]`.
pub(super) fn processed_count(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::Array(list) => u64::try_from(list.len()).ok(),
        Value::Object(object) => match object.get("processed")? {
            Value::Object(_) => None,
            inner => processed_count(inner),
        },
        _ => None,
    }
}

/// The start of a text, on one line.
fn quote(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.chars().count() > QUOTED_BODY_CHARS {
        let cut: String = flat.chars().take(QUOTED_BODY_CHARS).collect();
        format!("{cut}...")
    } else {
        flat.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_processed_protocol_takes_counts_and_lists() {
        assert_eq!(processed_count(&json!({"processed": 3})), Some(3));
        assert_eq!(processed_count(&json!({"processed": ["a", "b"]})), Some(2));
        assert_eq!(processed_count(&json!(["a"])), Some(1));
        assert_eq!(processed_count(&json!({"processed": -1})), None);
        assert_eq!(processed_count(&json!({"count": 1})), None);
        assert_eq!(processed_count(&json!("3")), None);
    }

    #[test]
    fn observations_read_well() {
        let answered = Observation {
            outcome: AttemptOutcome::Http5xx,
            status: Some(500),
            latency: Duration::from_micros(2500),
            body: "boom".into(),
            error: None,
        };
        assert_eq!(answered.to_string(), "HTTP 500 in 2.5 ms: boom");
        let hung = Observation {
            outcome: AttemptOutcome::Timeout,
            status: None,
            latency: Duration::from_millis(10_000),
            body: String::new(),
            error: Some("no complete answer within 10s".into()),
        };
        assert_eq!(
            hung.to_string(),
            "timeout after 10.00 s: no complete answer within 10s"
        );
        assert!(!hung.answered_within(Duration::from_secs(60)));
        assert_eq!(
            quote(&format!("a\nb{}", "x".repeat(200))).len(),
            QUOTED_BODY_CHARS + 3
        );
    }
}
