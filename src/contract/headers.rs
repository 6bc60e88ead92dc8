//! The request header set of a webhook delivery.

/// Always `application/json`.
pub const CONTENT_TYPE: &str = "Content-Type";
/// `InboxKit-Webhook/1.0` (documented in the newer pages).
pub const USER_AGENT: &str = "User-Agent";
/// The event type; equal to the body's `event`.
pub const EVENT: &str = "X-InboxKit-Event";
/// ISO 8601 UTC with milliseconds.
pub const TIMESTAMP: &str = "X-InboxKit-Timestamp";
/// `sha256=<64 lowercase hex>`.
pub const SIGNATURE: &str = "X-InboxKit-Signature";
/// `Bearer <token>` (seed profile).
pub const AUTHORIZATION: &str = "Authorization";
/// Mock-only: the delivery id, stable across attempts and redeliveries.
pub const MOCK_DELIVERY: &str = "X-InboxKit-Mock-Delivery";
/// Mock-only: the attempt number (1-based); `manual` attempts are flagged in the journal.
pub const MOCK_ATTEMPT: &str = "X-InboxKit-Mock-Attempt";

/// The documented `User-Agent` value.
pub const USER_AGENT_VALUE: &str = "InboxKit-Webhook/1.0";
/// The `Content-Type` value.
pub const CONTENT_TYPE_VALUE: &str = "application/json";

/// An ordered list of header name/value pairs, as sent or received.
pub type HeaderList = Vec<(String, String)>;

/// Everything that varies per attempt in the header set.
#[derive(Debug, Clone)]
pub struct HeaderInputs<'a> {
    /// `X-InboxKit-Event`.
    pub event: &'a str,
    /// `X-InboxKit-Timestamp`.
    pub timestamp: &'a str,
    /// `X-InboxKit-Signature`.
    pub signature: &'a str,
    /// Bearer token, when the Authorization header is sent.
    pub bearer: Option<&'a str>,
    /// Delivery id and attempt number, when mock headers are on.
    pub mock: Option<(&'a str, u32)>,
}

/// Builds the header set in a fixed order.
pub fn build(inputs: &HeaderInputs<'_>) -> HeaderList {
    let mut headers = vec![
        (CONTENT_TYPE.to_owned(), CONTENT_TYPE_VALUE.to_owned()),
        (USER_AGENT.to_owned(), USER_AGENT_VALUE.to_owned()),
        (EVENT.to_owned(), inputs.event.to_owned()),
        (TIMESTAMP.to_owned(), inputs.timestamp.to_owned()),
        (SIGNATURE.to_owned(), inputs.signature.to_owned()),
    ];
    if let Some(token) = inputs.bearer {
        headers.push((AUTHORIZATION.to_owned(), format!("Bearer {token}")));
    }
    if let Some((delivery, attempt)) = inputs.mock {
        headers.push((MOCK_DELIVERY.to_owned(), delivery.to_owned()));
        headers.push((MOCK_ATTEMPT.to_owned(), attempt.to_string()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_set_is_complete_and_ordered() {
        let headers = build(&HeaderInputs {
            event: "domain.status_changed",
            timestamp: "2024-01-10T15:30:45.123Z",
            signature: "sha256=00",
            bearer: Some("tok"),
            mock: Some(("d1", 2)),
        });
        let names: Vec<_> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                CONTENT_TYPE,
                USER_AGENT,
                EVENT,
                TIMESTAMP,
                SIGNATURE,
                AUTHORIZATION,
                MOCK_DELIVERY,
                MOCK_ATTEMPT
            ]
        );
        assert_eq!(headers[5].1, "Bearer tok");
        assert_eq!(headers[7].1, "2");
    }

    #[test]
    fn optional_headers_can_be_left_out() {
        let headers = build(&HeaderInputs {
            event: "e",
            timestamp: "t",
            signature: "s",
            bearer: None,
            mock: None,
        });
        assert_eq!(headers.len(), 5);
    }
}
