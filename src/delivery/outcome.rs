//! Coded attempt outcomes and the terminal states of a delivery.

use serde::{Deserialize, Serialize};

/// What one attempt came to, as a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// 200-299.
    Delivered,
    /// 400-499: client error, never retried (documented).
    #[serde(rename = "http_4xx")]
    Http4xx,
    /// 500-599: server error, retried (documented).
    #[serde(rename = "http_5xx")]
    Http5xx,
    /// 300-399: not followed (chosen).
    RedirectNotFollowed,
    /// 1xx or a code outside 100-599 (chosen: a failure without retry).
    UnexpectedStatus,
    /// No complete answer within the deadline (documented: retried).
    Timeout,
    /// The connection could not be made, e.g. refused (chosen: retried like 5xx).
    ConnectError,
    /// The host name did not resolve (chosen: retried like 5xx).
    DnsError,
    /// The TLS handshake failed, e.g. an untrusted or self-signed certificate without
    /// `--insecure` (chosen: retried like a connection error).
    TlsError,
    /// The subscriber closed or reset the connection before answering (chosen: retried).
    ConnectionClosed,
    /// The answer was not valid HTTP (chosen: retried).
    InvalidResponse,
    /// Anything else that stopped the request (chosen: retried).
    RequestError,
    /// The mock shut down during the attempt (chosen: retried after restart).
    Interrupted,
}

impl AttemptOutcome {
    /// Every outcome, for metrics and reports.
    pub const ALL: [AttemptOutcome; 13] = [
        AttemptOutcome::Delivered,
        AttemptOutcome::Http4xx,
        AttemptOutcome::Http5xx,
        AttemptOutcome::RedirectNotFollowed,
        AttemptOutcome::UnexpectedStatus,
        AttemptOutcome::Timeout,
        AttemptOutcome::ConnectError,
        AttemptOutcome::DnsError,
        AttemptOutcome::TlsError,
        AttemptOutcome::ConnectionClosed,
        AttemptOutcome::InvalidResponse,
        AttemptOutcome::RequestError,
        AttemptOutcome::Interrupted,
    ];

    /// The outcome of an answer with HTTP status `code`.
    pub fn from_status(code: u16) -> Self {
        match code {
            200..=299 => AttemptOutcome::Delivered,
            300..=399 => AttemptOutcome::RedirectNotFollowed,
            400..=499 => AttemptOutcome::Http4xx,
            500..=599 => AttemptOutcome::Http5xx,
            _ => AttemptOutcome::UnexpectedStatus,
        }
    }

    /// The stable code, e.g. `http_5xx`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Http4xx => "http_4xx",
            AttemptOutcome::Http5xx => "http_5xx",
            AttemptOutcome::RedirectNotFollowed => "redirect_not_followed",
            AttemptOutcome::UnexpectedStatus => "unexpected_status",
            AttemptOutcome::Timeout => "timeout",
            AttemptOutcome::ConnectError => "connect_error",
            AttemptOutcome::DnsError => "dns_error",
            AttemptOutcome::TlsError => "tls_error",
            AttemptOutcome::ConnectionClosed => "connection_closed",
            AttemptOutcome::InvalidResponse => "invalid_response",
            AttemptOutcome::RequestError => "request_error",
            AttemptOutcome::Interrupted => "interrupted",
        }
    }

    /// Whether the subscriber never gave a usable HTTP answer (network-level failure).
    pub fn is_transport_failure(self) -> bool {
        matches!(
            self,
            AttemptOutcome::ConnectError
                | AttemptOutcome::DnsError
                | AttemptOutcome::TlsError
                | AttemptOutcome::ConnectionClosed
                | AttemptOutcome::InvalidResponse
                | AttemptOutcome::RequestError
        )
    }
}

impl std::fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a delivery ended; every event reaches exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminalState {
    /// A 2xx answer.
    Delivered,
    /// An answer that is never retried (4xx, 3xx, other codes).
    Rejected,
    /// Retries used up.
    Exhausted,
}

impl TerminalState {
    /// Every terminal state.
    pub const ALL: [TerminalState; 3] = [
        TerminalState::Delivered,
        TerminalState::Rejected,
        TerminalState::Exhausted,
    ];

    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            TerminalState::Delivered => "delivered",
            TerminalState::Rejected => "rejected",
            TerminalState::Exhausted => "exhausted",
        }
    }

    /// The CLI exit code documented for `send`: 0 delivered, 1 rejected, 2 exhausted.
    pub fn exit_code(self) -> u8 {
        match self {
            TerminalState::Delivered => 0,
            TerminalState::Rejected => 1,
            TerminalState::Exhausted => 2,
        }
    }
}

impl std::fmt::Display for TerminalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_map_to_documented_classes() {
        assert_eq!(AttemptOutcome::from_status(200), AttemptOutcome::Delivered);
        assert_eq!(AttemptOutcome::from_status(299), AttemptOutcome::Delivered);
        assert_eq!(
            AttemptOutcome::from_status(302),
            AttemptOutcome::RedirectNotFollowed
        );
        assert_eq!(AttemptOutcome::from_status(404), AttemptOutcome::Http4xx);
        assert_eq!(AttemptOutcome::from_status(503), AttemptOutcome::Http5xx);
        assert_eq!(
            AttemptOutcome::from_status(101),
            AttemptOutcome::UnexpectedStatus
        );
        assert_eq!(
            AttemptOutcome::from_status(600),
            AttemptOutcome::UnexpectedStatus
        );
    }

    #[test]
    fn codes_serialize_as_documented() {
        for outcome in AttemptOutcome::ALL {
            assert_eq!(serde_json::to_value(outcome).unwrap(), outcome.as_str());
        }
    }
}
