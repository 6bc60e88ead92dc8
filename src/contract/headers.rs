//! The request header set of a webhook delivery.

use std::borrow::Cow;

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

/// An ordered list of header name/value pairs, as received or recorded.
pub type HeaderList = Vec<(String, String)>;

/// A header name or value: the contract's fixed ones are not copied for every request.
pub type HeaderText = Cow<'static, str>;

/// The header set of a request as sent, in order.
pub type SentHeaders = Vec<(HeaderText, HeaderText)>;

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
pub fn build(inputs: &HeaderInputs<'_>) -> SentHeaders {
    let owned = |value: &str| Cow::Owned(value.to_owned());
    let mut headers = Vec::with_capacity(8);
    headers.extend([
        (CONTENT_TYPE.into(), CONTENT_TYPE_VALUE.into()),
        (USER_AGENT.into(), USER_AGENT_VALUE.into()),
        (EVENT.into(), owned(inputs.event)),
        (TIMESTAMP.into(), owned(inputs.timestamp)),
        (SIGNATURE.into(), owned(inputs.signature)),
    ]);
    if let Some(token) = inputs.bearer {
        headers.push((AUTHORIZATION.into(), format!("Bearer {token}").into()));
    }
    if let Some((delivery, attempt)) = inputs.mock {
        headers.push((MOCK_DELIVERY.into(), owned(delivery)));
        headers.push((MOCK_ATTEMPT.into(), attempt.to_string().into()));
    }
    headers
}

/// What a redacted credential header's value becomes (an `Authorization` scheme is kept).
pub const REDACTED: &str = "[redacted]";

/// Whether a header carries a credential and is never stored or shown as is: `Authorization`,
/// `Proxy-Authorization`, cookies, and any name containing `token`, `secret`, `password`,
/// `api-key` or `apikey` (case-insensitive).
pub fn is_credential(name: &str) -> bool {
    const EXACT: [&[u8]; 4] = [
        b"authorization",
        b"proxy-authorization",
        b"cookie",
        b"set-cookie",
    ];
    const WORDS: [&[u8]; 6] = [
        b"token",
        b"secret",
        b"password",
        b"api-key",
        b"apikey",
        b"api_key",
    ];
    // Lowercased on the stack: every delivery's header set goes through here.
    let mut buffer = [0u8; 64];
    let Some(lower) = buffer.get_mut(..name.len()) else {
        let lower = name.to_ascii_lowercase();
        return EXACT.contains(&lower.as_bytes())
            || WORDS
                .iter()
                .any(|word| lower.contains(std::str::from_utf8(word).unwrap_or("")));
    };
    lower.copy_from_slice(name.as_bytes());
    lower.make_ascii_lowercase();
    let lower = &*lower;
    EXACT.contains(&lower)
        || WORDS.iter().any(|word| {
            lower
                .windows(word.len())
                .any(|part| part[0] == word[0] && part == *word)
        })
}

/// `value` with its credential hidden: `Bearer abc` becomes `Bearer [redacted]`, anything else
/// [`REDACTED`].
fn redact_value(value: &str) -> String {
    match value.trim().split_once(' ') {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-') =>
        {
            format!("{scheme} {REDACTED}")
        }
        _ => REDACTED.to_owned(),
    }
}

/// The header set as it may be stored and shown: every credential header's value redacted
/// (see [`is_credential`]), names and order kept. The journal, its API, the web page and the
/// state file only ever see this view.
pub fn redacted(headers: SentHeaders) -> SentHeaders {
    headers
        .into_iter()
        .map(|(name, value)| {
            if is_credential(&name) && value != REDACTED && !value.ends_with(REDACTED) {
                let hidden = redact_value(&value).into();
                (name, hidden)
            } else {
                (name, value)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_and_the_rest_kept() {
        let headers = build(&HeaderInputs {
            event: "domain.status_changed",
            timestamp: "2024-01-10T15:30:45.123Z",
            signature: "sha256=00",
            bearer: Some("ik_live_secret_key"),
            mock: Some(("d1", 2)),
        });
        let mut sent = headers.clone();
        sent.push(("X-Api-Key".into(), "k123".into()));
        sent.push(("cookie".into(), "session=abc".into()));
        let shown = redacted(sent);
        let text = format!("{shown:?}");
        for secret in ["ik_live_secret_key", "k123", "session=abc"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert_eq!(shown[5], (AUTHORIZATION.into(), "Bearer [redacted]".into()));
        assert_eq!(shown[4], headers[4], "the signature is kept");
        assert_eq!(shown[..5], headers[..5]);
        assert_eq!(shown[6..8], headers[6..8]);
        assert_eq!(
            redacted(shown.clone()),
            shown,
            "redacting twice changes nothing"
        );
    }

    #[test]
    fn credential_names_are_recognized() {
        for name in [
            "Authorization",
            "proxy-authorization",
            "X-Auth-Token",
            "Cookie",
            "X-Client-Secret",
        ] {
            assert!(is_credential(name), "{name}");
        }
        for name in [
            CONTENT_TYPE,
            USER_AGENT,
            EVENT,
            TIMESTAMP,
            SIGNATURE,
            MOCK_DELIVERY,
        ] {
            assert!(!is_credential(name), "{name}");
        }
    }

    #[test]
    fn header_set_is_complete_and_ordered() {
        let headers = build(&HeaderInputs {
            event: "domain.status_changed",
            timestamp: "2024-01-10T15:30:45.123Z",
            signature: "sha256=00",
            bearer: Some("tok"),
            mock: Some(("d1", 2)),
        });
        let names: Vec<_> = headers.iter().map(|(n, _)| n.as_ref()).collect();
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
