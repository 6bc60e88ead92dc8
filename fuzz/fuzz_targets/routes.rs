//! The JSON routes that must answer any body with 2xx or 4xx: fuzzed here, and property-tested
//! by `tests/it/hostile.rs`, which includes this file.

// Each fuzz target uses one of the two lists.
#![allow(dead_code)]

/// The `/_mock` control API.
pub const CONTROL: [(&str, &str); 8] = [
    ("POST", "/_mock/clock/advance"),
    ("POST", "/_mock/clock/scale"),
    ("POST", "/_mock/events"),
    ("PUT", "/_mock/subscriber"),
    ("POST", "/_mock/consent_requests"),
    ("POST", "/_mock/client_id_requests"),
    ("POST", "/_mock/domains/domain-000000000000/transition"),
    ("POST", "/_mock/deliveries/redeliver"),
];

/// The mock InboxKit REST API.
pub const REST: [(&str, &str); 12] = [
    ("POST", "/v1/api/workspaces/webhook"),
    ("POST", "/v1/api/domains/register"),
    ("POST", "/v1/api/domains/list"),
    ("POST", "/v1/api/domains/remove"),
    ("POST", "/v1/api/mailboxes/buy"),
    ("POST", "/v1/api/mailboxes/list"),
    ("POST", "/v1/api/mailboxes/status"),
    ("POST", "/v1/api/mailboxes/cancel"),
    ("POST", "/v1/api/domains/connect"),
    ("POST", "/v1/api/domains/nameservers"),
    ("POST", "/v1/api/domains/check-nameservers"),
    ("POST", "/v1/api/mailboxes/uncancel"),
];
