//! Compares a recorded request's headers with the contract's header set.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::contract::headers::{
    AUTHORIZATION, CONTENT_TYPE, CONTENT_TYPE_VALUE, EVENT, SIGNATURE, TIMESTAMP, USER_AGENT,
    USER_AGENT_VALUE,
};

/// Headers any HTTP client, proxy or tunnel may add; they say nothing about the contract.
pub const TRANSPORT_HEADERS: [&str; 21] = [
    "host",
    "content-length",
    "transfer-encoding",
    "accept",
    "accept-encoding",
    "accept-language",
    "accept-charset",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "via",
    "forwarded",
    "x-real-ip",
    "x-request-id",
    "x-amzn-trace-id",
    "traceparent",
    "tracestate",
];

/// Prefixes of header names that are ignored the same way (proxies, and the mock-only headers).
pub const IGNORED_PREFIXES: [&str; 3] = ["x-forwarded-", "cf-", "x-inboxkit-mock-"];

/// How one header differs from the contract.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HeaderProblem {
    /// The contract's header is absent.
    Missing,
    /// A header the mock never sends (its value is not kept: it may be a credential).
    Unexpected,
    /// A fixed-value header with another value.
    Value {
        /// What the mock sends.
        expected: String,
        /// What was received.
        seen: String,
    },
    /// A header whose value does not have the contract's form (value not kept).
    Format {
        /// The form the contract gives.
        expected: String,
    },
}

/// One header difference of one request, by lowercase header name.
pub type HeaderFinding = (String, HeaderProblem);

fn ignored(name: &str) -> bool {
    TRANSPORT_HEADERS.contains(&name) || IGNORED_PREFIXES.iter().any(|p| name.starts_with(p))
}

fn is_timestamp(value: &str) -> bool {
    // 2024-01-10T15:30:45.123Z: exactly milliseconds and `Z`.
    value.len() == 24
        && value.ends_with('Z')
        && value.as_bytes()[19] == b'.'
        && chrono::NaiveDateTime::parse_from_str(&value[..23], "%Y-%m-%dT%H:%M:%S%.3f").is_ok()
}

fn is_signature(value: &str) -> bool {
    value.strip_prefix("sha256=").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Every way `headers` differ from the set the mock sends for a body whose `event` is
/// `body_event`; `authorization` says whether the expected profile sends `Authorization`.
pub fn compare(
    headers: &[(String, String)],
    body_event: Option<&str>,
    authorization: bool,
) -> BTreeSet<HeaderFinding> {
    let mut findings = BTreeSet::new();
    let lower: Vec<(String, &str)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str()))
        .collect();
    let get = |name: &str| {
        let name = name.to_ascii_lowercase();
        lower.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    };
    let mut expect = |name: &str, check: &dyn Fn(&str) -> Option<HeaderProblem>| {
        let problem = match get(name) {
            None => Some(HeaderProblem::Missing),
            Some(value) => check(value),
        };
        if let Some(problem) = problem {
            findings.insert((name.to_ascii_lowercase(), problem));
        }
    };
    let fixed = |expected: &'static str| {
        move |seen: &str| {
            (seen != expected).then(|| HeaderProblem::Value {
                expected: expected.to_owned(),
                seen: seen.to_owned(),
            })
        }
    };
    expect(CONTENT_TYPE, &fixed(CONTENT_TYPE_VALUE));
    expect(USER_AGENT, &fixed(USER_AGENT_VALUE));
    expect(EVENT, &|seen: &str| match body_event {
        Some(event) if event != seen => Some(HeaderProblem::Value {
            expected: event.to_owned(),
            seen: seen.to_owned(),
        }),
        _ => None,
    });
    expect(TIMESTAMP, &|seen: &str| {
        (!is_timestamp(seen)).then(|| HeaderProblem::Format {
            expected: "ISO 8601 UTC with milliseconds, e.g. 2024-01-10T15:30:45.123Z".into(),
        })
    });
    expect(SIGNATURE, &|seen: &str| {
        (!is_signature(seen)).then(|| HeaderProblem::Format {
            expected: "sha256= followed by 64 lowercase hex digits".into(),
        })
    });
    if authorization {
        expect(AUTHORIZATION, &|seen: &str| {
            (seen
                .strip_prefix("Bearer ")
                .is_none_or(|t| t.trim().is_empty()))
            .then(|| HeaderProblem::Format {
                expected: "Bearer <token>".into(),
            })
        });
    }
    let known =
        [CONTENT_TYPE, USER_AGENT, EVENT, TIMESTAMP, SIGNATURE].map(str::to_ascii_lowercase);
    for (name, _) in &lower {
        let contract = known.contains(name) || (authorization && name == "authorization");
        if !contract && !ignored(name) {
            findings.insert((name.clone(), HeaderProblem::Unexpected));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock_headers() -> Vec<(String, String)> {
        [
            ("content-type", "application/json"),
            ("user-agent", "InboxKit-Webhook/1.0"),
            ("x-inboxkit-event", "domain.status_changed"),
            ("x-inboxkit-timestamp", "2024-01-10T15:30:45.123Z"),
            (
                "x-inboxkit-signature",
                &format!("sha256={}", "ab".repeat(32)),
            ),
            ("authorization", "Bearer tok"),
            ("x-inboxkit-mock-delivery", "d1"),
            ("host", "127.0.0.1:9"),
            ("content-length", "2"),
            ("x-forwarded-for", "1.2.3.4"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn the_mock_header_set_matches() {
        assert!(compare(&mock_headers(), Some("domain.status_changed"), true).is_empty());
    }

    #[test]
    fn differences_are_named() {
        let mut headers = mock_headers();
        headers.retain(|(n, _)| n != "user-agent");
        headers[0].1 = "application/json; charset=utf-8".into();
        headers[2].1 = "x-inboxkit-timestamp".into();
        headers.push(("X-Webhook-Id".into(), "secret-ish".into()));
        let findings: Vec<_> = compare(&headers, Some("domain.status_changed"), false)
            .into_iter()
            .collect();
        let names: Vec<_> = findings.iter().map(|(n, p)| (n.as_str(), p)).collect();
        assert_eq!(names.len(), 5, "{findings:?}");
        assert!(findings.contains(&("user-agent".into(), HeaderProblem::Missing)));
        assert!(findings.contains(&("authorization".into(), HeaderProblem::Unexpected)));
        assert!(findings.contains(&("x-webhook-id".into(), HeaderProblem::Unexpected)));
        assert!(findings.iter().any(|(n, p)| n == "content-type"
            && matches!(p, HeaderProblem::Value { seen, .. } if seen.contains("charset"))));
        assert!(findings.iter().any(|(n, _)| n == "x-inboxkit-timestamp"));
    }

    #[test]
    fn timestamp_and_signature_forms() {
        assert!(is_timestamp("2024-01-10T15:30:45.123Z"));
        assert!(!is_timestamp("2024-01-10T15:30:45Z"));
        assert!(!is_timestamp("2024-01-10T15:30:45.123456Z"));
        assert!(is_signature(&format!("sha256={}", "0".repeat(64))));
        assert!(!is_signature(&format!("sha256={}", "A".repeat(64))));
    }
}
