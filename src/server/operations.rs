//! The documented operations of the mock REST API and the control API, and the limits their
//! bodies and queries take: the one table that the router's 405 answers, the OpenAPI document
//! and the handlers all read.

/// Most items one REST batch call may carry.
pub const MAX_BATCH: usize = 1000;
/// Default page size of REST list calls.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest page size of REST list calls.
pub const MAX_PAGE_SIZE: usize = 1000;
/// Largest page of the delivery journal (`GET /_mock/deliveries?limit=`).
pub const MAX_JOURNAL_PAGE: usize = 1000;

/// The request body an operation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body.
    None,
    /// A JSON body that may be left out.
    Optional,
    /// A JSON body that must be sent.
    Required,
}

/// What an operation answers when it succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A JSON body with this status.
    Json(u16),
    /// Prometheus text exposition.
    Prometheus,
}

/// One documented route: method, full path (`{name}` for a path parameter) and what it does.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// The full path, scope included.
    pub path: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// Its request body.
    pub body: Body,
    /// Its success answer.
    pub answer: Answer,
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    body: Body,
    answer: Answer,
) -> Operation {
    Operation {
        method,
        path,
        summary,
        body,
        answer,
    }
}

const OK: Answer = Answer::Json(200);

/// Every route the server registers, REST first, then control.
#[rustfmt::skip]
pub const OPERATIONS: &[Operation] = &[
    op("POST", "/v1/api/workspaces/webhook", "Set a workspace's webhook URL.", Body::Required, OK),
    op("GET", "/v1/api/workspaces/list", "List the team's workspaces.", Body::None, OK),
    op("POST", "/v1/api/domains/register", "Register domains; their lifecycles start.", Body::Required, OK),
    op("POST", "/v1/api/domains/list", "List domains, filtered and paged.", Body::Required, OK),
    op("POST", "/v1/api/domains/remove", "Remove domains.", Body::Required, OK),
    op("POST", "/v1/api/domains/connect", "Add domains to connect through DNS (in `cart`).", Body::Required, OK),
    op("POST", "/v1/api/domains/nameservers", "Nameservers for connecting a domain.", Body::Required, OK),
    op("POST", "/v1/api/domains/check-nameservers", "Check a connected domain's nameservers.", Body::Required, OK),
    op("POST", "/v1/api/mailboxes/buy", "Buy mailboxes; their lifecycles start.", Body::Required, OK),
    op("POST", "/v1/api/mailboxes/list", "List mailboxes, filtered and paged.", Body::Required, OK),
    op("POST", "/v1/api/mailboxes/status", "Statuses of the given mailboxes.", Body::Required, OK),
    op("POST", "/v1/api/mailboxes/cancel", "Cancel mailboxes.", Body::Required, OK),
    op("POST", "/v1/api/mailboxes/uncancel", "Withdraw mailbox cancellations.", Body::Required, OK),
    op("GET", "/v1/api/mailboxes/show-credentials", "A mailbox's credentials.", Body::None, OK),
    op("GET", "/_mock/health", "Liveness: 200 while the process serves.", Body::None, OK),
    op("GET", "/_mock/ready", "Readiness: 200 when ready, 503 starting or shutting down.", Body::None, OK),
    op("GET", "/_mock/metrics", "Prometheus metrics.", Body::None, Answer::Prometheus),
    op("GET", "/_mock/openapi.json", "This document.", Body::None, OK),
    op("GET", "/_mock/clock", "The simulated clock: now, paused, scale, next due step.", Body::None, OK),
    op("POST", "/_mock/clock/pause", "Pause the simulated clock.", Body::None, OK),
    op("POST", "/_mock/clock/resume", "Resume the simulated clock.", Body::None, OK),
    op("POST", "/_mock/clock/advance", "Jump the clock (`{\"by\": \"10m\"}`) and fire what came due.", Body::Required, OK),
    op("POST", "/_mock/clock/scale", "Set simulated seconds per real second.", Body::Required, OK),
    op("POST", "/_mock/events", "Send one event now, with optional field overrides.", Body::Required, Answer::Json(202)),
    op("GET", "/_mock/subscriber", "The subscriber settings, secrets redacted.", Body::None, OK),
    op("PUT", "/_mock/subscriber", "Change the subscriber settings.", Body::Required, OK),
    op("POST", "/_mock/reset", "Reset the world, the journal and the clock.", Body::None, OK),
    op("GET", "/_mock/world", "The simulated team, workspaces and entity counts.", Body::None, OK),
    op("POST", "/_mock/consent_requests", "Open a consent request.", Body::Optional, Answer::Json(201)),
    op("POST", "/_mock/client_id_requests", "Open a client-ID request (`domain_name`).", Body::Required, Answer::Json(201)),
    op("GET", "/_mock/{kind}/{uid}", "An entity and the transitions its lifecycle allows.", Body::None, OK),
    op("POST", "/_mock/{kind}/{uid}/transition", "Move an entity to `to` now.", Body::Required, OK),
    op("GET", "/_mock/deliveries", "The delivery journal, filtered and paged.", Body::None, OK),
    op("POST", "/_mock/deliveries/redeliver", "Redeliver the deliveries a filter selects.", Body::Required, OK),
    op("GET", "/_mock/deliveries/{id}", "One delivery with every attempt.", Body::None, OK),
    op("POST", "/_mock/deliveries/{id}/redeliver", "Redeliver one delivery.", Body::None, OK),
];

/// The methods documented for a concrete `path` (`{name}` segments match any segment).
/// Only the most specific templates count: `/_mock/clock/pause` is `POST` only, even though
/// `GET /_mock/{kind}/{uid}` would also match it.
pub fn methods_of(path: &str) -> Vec<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    let matches: Vec<(usize, &'static str)> = OPERATIONS
        .iter()
        .filter_map(|operation| {
            let template: Vec<&str> = operation.path.split('/').collect();
            let fits = template.len() == segments.len()
                && template.iter().zip(&segments).all(|(t, s)| {
                    t == s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty())
                });
            let literal = template.iter().filter(|t| !t.starts_with('{')).count();
            fits.then_some((literal, operation.method))
        })
        .collect();
    let best = matches.iter().map(|(literal, _)| *literal).max();
    matches
        .into_iter()
        .filter(|(literal, _)| Some(*literal) == best)
        .map(|(_, method)| method)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::methods_of;

    #[test]
    fn the_most_specific_path_decides_the_allowed_methods() {
        assert_eq!(methods_of("/_mock/clock/pause"), ["POST"]);
        assert_eq!(methods_of("/_mock/domains/domain-1"), ["GET"]);
        assert_eq!(methods_of("/_mock/clock"), ["GET"]);
        assert!(methods_of("/nothing").is_empty());
    }
}
