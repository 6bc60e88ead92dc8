//! One HTTP attempt over a pooled client: send, read a capped answer, classify failures.

use std::error::Error as StdError;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use url::Url;

use super::outcome::AttemptOutcome;
use crate::contract::headers::HeaderList;

/// The most of a response body the journal keeps.
pub const RESPONSE_BODY_CAP: usize = 64 * 1024;

/// The subscriber's answer, as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers in arrival order.
    pub headers: HeaderList,
    /// Body as text (lossy UTF-8), at most [`RESPONSE_BODY_CAP`] bytes.
    pub body: String,
    /// Whether the body was longer than the cap.
    pub body_truncated: bool,
}

/// What one attempt produced.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The coded outcome.
    pub outcome: AttemptOutcome,
    /// The answer, when one arrived.
    pub response: Option<RecordedResponse>,
    /// The error chain, when the attempt failed below HTTP.
    pub error: Option<String>,
    /// Wall-clock time from send to the end of the answer (or the failure).
    pub latency: Duration,
}

/// Builds HTTP clients for deliveries.
#[derive(Debug, Clone, Default)]
pub struct TransportOptions {
    /// Accept invalid TLS certificates (self-signed subscribers).
    pub insecure: bool,
}

/// A pooled HTTP client that never follows redirects.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
}

impl Transport {
    /// A transport with its own connection pool.
    pub fn new(options: &TransportOptions) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(30))
            .danger_accept_invalid_certs(options.insecure)
            .no_proxy()
            .build()?;
        Ok(Transport { client })
    }

    /// POSTs `body` with `headers` to `url`; the answer must be complete within `deadline`.
    pub async fn post(
        &self,
        url: &Url,
        headers: &HeaderList,
        body: Bytes,
        deadline: Duration,
    ) -> Exchange {
        let started = Instant::now();
        let header_map = match header_map(headers) {
            Ok(map) => map,
            Err(error) => {
                return Exchange {
                    outcome: AttemptOutcome::RequestError,
                    response: None,
                    error: Some(error),
                    latency: started.elapsed(),
                };
            }
        };
        let request = self.client.post(url.clone()).headers(header_map).body(body);
        let exchange = tokio::time::timeout(deadline, async {
            let mut response = request.send().await?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let (body, body_truncated, body_error) = read_capped(&mut response).await;
            Ok::<_, reqwest::Error>((
                RecordedResponse {
                    status,
                    headers,
                    body,
                    body_truncated,
                },
                body_error,
            ))
        })
        .await;
        let latency = started.elapsed();
        match exchange {
            Err(_elapsed) => Exchange {
                outcome: AttemptOutcome::Timeout,
                response: None,
                error: Some(format!(
                    "no complete answer within {}",
                    humantime::format_duration(deadline)
                )),
                latency,
            },
            Ok(Err(error)) => Exchange {
                outcome: classify(&error),
                response: None,
                error: Some(error_chain(&error)),
                latency,
            },
            Ok(Ok((response, body_error))) => Exchange {
                outcome: AttemptOutcome::from_status(response.status),
                response: Some(response),
                error: body_error,
                latency,
            },
        }
    }
}

/// Reads at most [`RESPONSE_BODY_CAP`] bytes; a longer body is cut and the rest not read.
async fn read_capped(response: &mut reqwest::Response) -> (String, bool, Option<String>) {
    let mut buffer: Vec<u8> = Vec::new();
    let mut truncated = false;
    let mut error = None;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = RESPONSE_BODY_CAP - buffer.len();
                if chunk.len() > room {
                    buffer.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                buffer.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                error = Some(format!("reading the response body: {}", error_chain(&e)));
                break;
            }
        }
    }
    (
        String::from_utf8_lossy(&buffer).into_owned(),
        truncated,
        error,
    )
}

fn header_map(headers: &HeaderList) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("header name `{name}`: {e}"))?;
        let value =
            HeaderValue::from_str(value).map_err(|e| format!("header `{name}` value: {e}"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// Maps a client error onto an outcome code by walking its source chain.
fn classify(error: &reqwest::Error) -> AttemptOutcome {
    if error.is_timeout() {
        return AttemptOutcome::Timeout;
    }
    if is_tls_failure(error) {
        return AttemptOutcome::TlsError;
    }
    let chain = error_chain(error);
    if error.is_connect() {
        return if chain.contains("dns error") || chain.contains("failed to lookup address") {
            AttemptOutcome::DnsError
        } else {
            AttemptOutcome::ConnectError
        };
    }
    let mut source: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(cause) = source {
        if let Some(hyper_error) = cause.downcast_ref::<hyper::Error>() {
            if hyper_error.is_parse() || hyper_error.is_parse_status() {
                return AttemptOutcome::InvalidResponse;
            }
            if hyper_error.is_incomplete_message()
                || hyper_error.is_closed()
                || hyper_error.is_canceled()
            {
                return AttemptOutcome::ConnectionClosed;
            }
        }
        if let Some(io_error) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io_error.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            ) {
                return AttemptOutcome::ConnectionClosed;
            }
        }
        source = cause.source();
    }
    AttemptOutcome::RequestError
}

/// Whether a rustls error (a refused certificate, a failed handshake) is among the causes.
fn is_tls_failure(error: &(dyn StdError + 'static)) -> bool {
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.is::<rustls::Error>() {
            return true;
        }
        // io::Error's `source` skips the error it wraps, so step into that one instead.
        source = match cause.downcast_ref::<std::io::Error>() {
            Some(io_error) => io_error
                .get_ref()
                .map(|inner| inner as &(dyn StdError + 'static)),
            None => cause.source(),
        };
    }
    false
}

/// The error and all its causes, joined with `: `.
pub fn error_chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
