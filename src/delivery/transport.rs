//! One HTTP attempt over a pooled client: send, read a capped answer, classify failures.
//!
//! `http://` subscribers go through keep-alive HTTP/1.1 connections in a `ConnectionPool`,
//! written and read by the attempt's own task: it is the hot path of load runs and costs far less
//! per request than a full-featured client. `https://` ones go through reqwest
//! with rustls, which also honours [`TransportOptions::insecure`]. Both send the same header set
//! (plus `Accept: */*`), never follow redirects, and code failures alike.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self as http_header, HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use url::{Position, Url};

use super::connections::{self, CappedBody, ConnectionPool, Origin, ReplyError};
use super::outcome::AttemptOutcome;
use crate::contract::headers::{self, HeaderFields};

/// The most of a response body the journal keeps.
pub const RESPONSE_BODY_CAP: usize = 64 * 1024;

/// How long an idle pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The subscriber's answer, as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers in arrival order.
    pub headers: HeaderFields,
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

impl Exchange {
    fn failed(outcome: AttemptOutcome, error: String, started: Instant) -> Self {
        Exchange {
            outcome,
            response: None,
            error: Some(error),
            latency: started.elapsed(),
        }
    }
}

/// Builds HTTP clients for deliveries.
#[derive(Debug, Clone, Default)]
pub struct TransportOptions {
    /// Accept invalid TLS certificates (self-signed subscribers).
    pub insecure: bool,
}

/// Pooled HTTP clients that never follow redirects: our own connections for `http://`, reqwest
/// for `https://`.
#[derive(Debug, Clone)]
pub struct Transport {
    plain: Arc<ConnectionPool>,
    tls: reqwest::Client,
}

impl Transport {
    /// A transport with its own connection pools.
    pub fn new(options: &TransportOptions) -> Result<Self, reqwest::Error> {
        let tls = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .danger_accept_invalid_certs(options.insecure)
            .no_proxy()
            .dns_resolver(Arc::new(TypedResolver))
            .build()?;
        Ok(Transport {
            plain: Arc::new(ConnectionPool::new(POOL_IDLE_TIMEOUT)),
            tls,
        })
    }

    /// POSTs `body` with `headers` to `url`; the answer must be complete within `deadline`.
    pub async fn post(
        &self,
        url: &Url,
        headers: &[(&str, &str)],
        body: Bytes,
        deadline: Duration,
    ) -> Exchange {
        let started = Instant::now();
        let exchange = if url.scheme() == "http" {
            self.post_plain(url, headers, &body, deadline).await
        } else {
            match header_map(headers) {
                Ok(map) => self.post_tls(url, map, body, deadline).await,
                Err(error) => {
                    return Exchange::failed(AttemptOutcome::RequestError, error, started);
                }
            }
        };
        let latency = started.elapsed();
        match exchange {
            None => Exchange {
                outcome: AttemptOutcome::Timeout,
                response: None,
                error: Some(format!(
                    "no complete answer within {}",
                    humantime::format_duration(deadline)
                )),
                latency,
            },
            Some(Err((outcome, error))) => Exchange {
                outcome,
                response: None,
                error: Some(error),
                latency,
            },
            Some(Ok((response, body_error))) => Exchange {
                outcome: AttemptOutcome::from_status(response.status),
                response: Some(response),
                error: body_error,
                latency,
            },
        }
    }

    /// One exchange over a pooled keep-alive connection; `None` when the deadline passed.
    async fn post_plain(
        &self,
        url: &Url,
        headers: &[(&str, &str)],
        body: &[u8],
        deadline: Duration,
    ) -> Option<Verdict> {
        let Some(origin) = Origin::of(url) else {
            let error = format!("the URL `{url}` has no host to connect to");
            return Some(Err((AttemptOutcome::RequestError, error)));
        };
        let request = connections::Request {
            target: &url[Position::BeforePath..Position::AfterQuery],
            host: &url[Position::BeforeHost..Position::BeforePath],
            headers,
            body,
            // Half the deadline: the other half is left for the answer.
            connect_timeout: deadline / 2,
        };
        let exchange = self.plain.round_trip(&origin, &request, RESPONSE_BODY_CAP);
        Some(match tokio::time::timeout(deadline, exchange).await.ok()? {
            Ok(answer) => Ok((
                RecordedResponse {
                    status: answer.status,
                    headers: answer.headers,
                    body: text(answer.body),
                    body_truncated: answer.truncated,
                },
                answer.body_error,
            )),
            Err(error) => Err((classify_plain(&error), error.to_string())),
        })
    }

    /// One exchange through reqwest (TLS); `None` when the deadline passed.
    async fn post_tls(
        &self,
        url: &Url,
        headers: HeaderMap,
        body: Bytes,
        deadline: Duration,
    ) -> Option<Verdict> {
        let request = self.tls.post(url.clone()).headers(headers).body(body);
        tokio::time::timeout(deadline, async {
            let mut response = match request.send().await {
                Ok(response) => response,
                Err(error) => return Err((classify_reqwest(&error), error_chain(&error))),
            };
            let mut capped = CappedBody::new(RESPONSE_BODY_CAP);
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        if !capped.push(&chunk) {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        capped.fail(body_failure(&error));
                        break;
                    }
                }
            }
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect();
            Ok((
                RecordedResponse {
                    status,
                    headers,
                    body: text(capped.bytes),
                    body_truncated: capped.truncated,
                },
                capped.error,
            ))
        })
        .await
        .ok()
    }
}

/// An answer with an optional body-reading error, or a coded failure with its error chain.
type Verdict = Result<(RecordedResponse, Option<String>), (AttemptOutcome, String)>;

/// A body as text: as is when it is UTF-8 (no copy), else lossily.
fn text(body: Vec<u8>) -> String {
    match String::from_utf8(body) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

fn body_failure(error: &dyn StdError) -> String {
    format!("reading the response body: {}", error_chain(error))
}

/// The header list as a map; the contract's own names and fixed values are not parsed again.
fn header_map(list: &[(&str, &str)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::with_capacity(list.len() + 3);
    for &(name, value) in list {
        let (name, value) = match (name, value) {
            (headers::CONTENT_TYPE, headers::CONTENT_TYPE_VALUE) => (
                http_header::CONTENT_TYPE,
                HeaderValue::from_static(headers::CONTENT_TYPE_VALUE),
            ),
            (headers::USER_AGENT, headers::USER_AGENT_VALUE) => (
                http_header::USER_AGENT,
                HeaderValue::from_static(headers::USER_AGENT_VALUE),
            ),
            (name, value) => (
                known_name(name).map_or_else(
                    || {
                        HeaderName::from_bytes(name.as_bytes())
                            .map_err(|e| format!("header name `{name}`: {e}"))
                    },
                    Ok,
                )?,
                HeaderValue::from_str(value).map_err(|e| format!("header `{name}` value: {e}"))?,
            ),
        };
        map.append(name, value);
    }
    Ok(map)
}

/// The contract's header names, already in the form the map keeps.
fn known_name(name: &str) -> Option<HeaderName> {
    Some(match name {
        headers::CONTENT_TYPE => http_header::CONTENT_TYPE,
        headers::USER_AGENT => http_header::USER_AGENT,
        headers::AUTHORIZATION => http_header::AUTHORIZATION,
        headers::EVENT => HeaderName::from_static("x-inboxkit-event"),
        headers::TIMESTAMP => HeaderName::from_static("x-inboxkit-timestamp"),
        headers::SIGNATURE => HeaderName::from_static("x-inboxkit-signature"),
        headers::MOCK_DELIVERY => HeaderName::from_static("x-inboxkit-mock-delivery"),
        headers::MOCK_ATTEMPT => HeaderName::from_static("x-inboxkit-mock-attempt"),
        _ => return None,
    })
}

/// Maps a failed plain-HTTP exchange onto an outcome code.
fn classify_plain(error: &ReplyError) -> AttemptOutcome {
    match error {
        ReplyError::Dns { .. } => AttemptOutcome::DnsError,
        ReplyError::Connect { .. } => AttemptOutcome::ConnectError,
        ReplyError::Closed(_) => AttemptOutcome::ConnectionClosed,
        ReplyError::InvalidResponse(_) => AttemptOutcome::InvalidResponse,
        ReplyError::InvalidHeader(_) | ReplyError::Io { .. } => AttemptOutcome::RequestError,
    }
}

/// Maps a reqwest error onto an outcome code.
fn classify_reqwest(error: &reqwest::Error) -> AttemptOutcome {
    if error.is_timeout() {
        return AttemptOutcome::Timeout;
    }
    if has_cause::<rustls::Error>(error) {
        return AttemptOutcome::TlsError;
    }
    if error.is_connect() {
        return if has_cause::<DnsFailure>(error) {
            AttemptOutcome::DnsError
        } else {
            AttemptOutcome::ConnectError
        };
    }
    classify_causes(error.source())
}

/// A host name that did not resolve, as [`TypedResolver`] reports it: recognised in reqwest's
/// error chain by its type, not by the words of a message.
#[derive(Debug, thiserror::Error)]
#[error("the name `{host}` did not resolve")]
struct DnsFailure {
    host: String,
    source: std::io::Error,
}

/// The system resolver (as reqwest's default, through Tokio's blocking pool), with failures typed
/// as [`DnsFailure`].
#[derive(Debug)]
struct TypedResolver;

impl reqwest::dns::Resolve for TypedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let looked_up = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map(Iterator::collect::<Vec<_>>);
            match looked_up {
                Ok(addresses) => Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs),
                Err(source) => Err(Box::new(DnsFailure { host, source }) as _),
            }
        })
    }
}

/// Whether an error of type `T` is among `error`'s causes (stepping into I/O errors' payloads).
fn has_cause<T: StdError + 'static>(error: &(dyn StdError + 'static)) -> bool {
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.is::<T>() {
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

/// Walks a source chain for hyper (inside reqwest) and I/O errors that say what went wrong.
fn classify_causes(mut source: Option<&(dyn StdError + 'static)>) -> AttemptOutcome {
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn outcome_of(url: &str) -> AttemptOutcome {
        let transport = Transport::new(&TransportOptions::default()).unwrap();
        let url = Url::parse(url).unwrap();
        let exchange = transport
            .post(&url, &Vec::new(), Bytes::new(), Duration::from_secs(30))
            .await;
        exchange.outcome
    }

    /// Both stacks tell a name that does not resolve from an address that refuses, by the type
    /// of the failure (`.invalid` never resolves: RFC 6761 §6.4).
    #[tokio::test]
    async fn dns_and_connect_failures_are_told_apart_by_type_on_both_stacks() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused = listener.local_addr().unwrap();
        drop(listener);
        for scheme in ["http", "https"] {
            assert_eq!(
                outcome_of(&format!("{scheme}://no-such-host.invalid/")).await,
                AttemptOutcome::DnsError,
                "{scheme}"
            );
            assert_eq!(
                outcome_of(&format!("{scheme}://{refused}/")).await,
                AttemptOutcome::ConnectError,
                "{scheme}"
            );
        }
    }
}
