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

/// Header fields in arrival order, held in one allocation (a journaled answer keeps its header
/// fields for as long as the journal keeps the attempt). Written and read as a list of
/// `[name, value]` pairs, as [`HeaderList`] is.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeaderFields {
    /// Each field as `<name length>:<name><value length>:<value>`: unambiguous for any text.
    text: String,
}

impl HeaderFields {
    /// No fields, with room for about `bytes` of names and values.
    pub fn with_capacity(bytes: usize) -> Self {
        HeaderFields {
            text: String::with_capacity(bytes),
        }
    }

    /// Appends a field.
    pub fn push(&mut self, name: &str, value: &str) {
        let mut digits = itoa::Buffer::new();
        for part in [name, value] {
            self.text.push_str(digits.format(part.len()));
            self.text.push(':');
            self.text.push_str(part);
        }
    }

    /// The fields, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let mut rest = self.text.as_str();
        std::iter::from_fn(move || {
            let mut part = || {
                let (length, tail) = rest.split_once(':')?;
                let length: usize = length.parse().ok()?;
                let (part, tail) = tail.split_at_checked(length)?;
                rest = tail;
                Some(part)
            };
            Some((part()?, part()?))
        })
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The fields as an owned list.
    pub fn to_list(&self) -> HeaderList {
        self.iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for HeaderFields {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(fields: I) -> Self {
        let mut all = HeaderFields::default();
        for (name, value) in fields {
            all.push(name.as_ref(), value.as_ref());
        }
        all
    }
}

impl std::fmt::Debug for HeaderFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl serde::Serialize for HeaderFields {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for HeaderFields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(
            <HeaderList as serde::Deserialize>::deserialize(deserializer)?
                .into_iter()
                .collect(),
        )
    }
}

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

/// Builds the header set in a fixed order, owned (for records and tests; the sender sends
/// [`pairs`], which copies nothing).
pub fn build(inputs: &HeaderInputs<'_>) -> SentHeaders {
    let authorization = inputs.bearer.map(|token| format!("Bearer {token}"));
    let attempt = inputs.mock.map(|(_, number)| number.to_string());
    pairs(inputs, authorization.as_deref(), attempt.as_deref())
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                CONTENT_TYPE_VALUE => Cow::Borrowed(CONTENT_TYPE_VALUE),
                USER_AGENT_VALUE => Cow::Borrowed(USER_AGENT_VALUE),
                value => Cow::Owned(value.to_owned()),
            };
            (Cow::Borrowed(name), value)
        })
        .collect()
}

/// The header set [`build`] makes, in the same order, borrowed from `inputs`: `authorization`
/// is the whole `Authorization` value (sent when `inputs.bearer` is set) and `attempt` the mock
/// attempt number as text (sent when `inputs.mock` is set).
pub fn pairs<'a>(
    inputs: &HeaderInputs<'a>,
    authorization: Option<&'a str>,
    attempt: Option<&'a str>,
) -> Vec<(&'static str, &'a str)> {
    debug_assert_eq!(inputs.bearer.is_some(), authorization.is_some());
    debug_assert_eq!(inputs.mock.is_some(), attempt.is_some());
    let mut headers = Vec::with_capacity(8);
    headers.extend([
        (CONTENT_TYPE, CONTENT_TYPE_VALUE),
        (USER_AGENT, USER_AGENT_VALUE),
        (EVENT, inputs.event),
        (TIMESTAMP, inputs.timestamp),
        (SIGNATURE, inputs.signature),
    ]);
    if let (Some(_), Some(value)) = (inputs.bearer, authorization) {
        headers.push((AUTHORIZATION, value));
    }
    if let (Some((delivery, _)), Some(number)) = (inputs.mock, attempt) {
        headers.push((MOCK_DELIVERY, delivery));
        headers.push((MOCK_ATTEMPT, number));
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
            if is_credential(&name) {
                // Already redacted values come out the same, so redacting twice changes nothing;
                // a secret that merely ends in the marker is still hidden.
                let hidden = redact_value(&value);
                if hidden == value {
                    (name, value)
                } else {
                    (name, hidden.into())
                }
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
        sent.push(("X-Auth-Token".into(), "tok-[redacted]".into()));
        let shown = redacted(sent);
        let text = format!("{shown:?}");
        for secret in ["ik_live_secret_key", "k123", "session=abc", "tok-"] {
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
    fn header_fields_keep_any_text_in_order_and_read_as_a_list() {
        // Lengths of one to five digits, separators inside names and values, non-ASCII text.
        let long = "9".repeat(12_345);
        let list = vec![
            ("date", "Mon, 30 Nov 2026 10:00:00 GMT"),
            ("x-odd:name", "12:34"),
            ("", ""),
            ("set-cookie", "a=1"),
            ("été", "vé"),
            ("x-long", long.as_str()),
        ];
        let fields: HeaderFields = list.iter().copied().collect();
        assert_eq!(fields.iter().collect::<Vec<_>>(), list);
        let short: HeaderFields = list[..5].iter().copied().collect();
        let json = serde_json::to_string(&short).unwrap();
        assert_eq!(
            json,
            r#"[["date","Mon, 30 Nov 2026 10:00:00 GMT"],["x-odd:name","12:34"],["",""],["set-cookie","a=1"],["été","vé"]]"#
        );
        let back: HeaderFields = serde_json::from_str(&json).unwrap();
        assert_eq!(back, short);
        assert!(HeaderFields::default().is_empty());
        assert_eq!(HeaderFields::default().iter().count(), 0);
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
