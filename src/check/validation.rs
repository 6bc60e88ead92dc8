//! `signature.*`: the signature is verified over the exact bytes received, and a wrong, missing
//! or stale one is refused with 4xx; `payload.malformed_json`: garbage gets 4xx, not 5xx.

use bytes::Bytes;
use serde_json::json;

use super::bodies::{compact, entity_mut, pretty};
use super::probe::{Probe, Request, Signing};
use super::{CheckResult, Timer, verdict};
use crate::contract::{EventType, SignatureScheme};

/// Runs the signature and payload checks.
pub(super) async fn run(probe: &mut Probe, results: &mut Vec<CheckResult>) {
    let event = EventType::DomainStatusChanged;
    let scheme = probe.config().signer.scheme();

    let timer = Timer::start();
    let body = probe.bodies().typical(&event);
    let observation = probe
        .send(&Request::signed(event.as_str(), pretty(&body)))
        .await;
    let note = match scheme {
        SignatureScheme::HmacBody => "",
        SignatureScheme::ApiKeySha256 => " (the api-key-sha256 signature does not cover the body)",
    };
    results.push(timer.finish(
        "signature.raw_bytes",
        format!("a pretty-printed {event}, signed over exactly those bytes"),
        format!("2xx: the signature is checked over the raw bytes, not a re-serialized body{note}"),
        verdict(observation.is_2xx(), observation.to_string()),
    ));

    let refusals = [
        (
            "signature.wrong",
            "a valid body signed with another key",
            Signing::WrongKey,
        ),
        (
            "signature.missing",
            "a valid body without X-InboxKit-Signature",
            Signing::Missing,
        ),
    ];
    for (name, sent, signing) in refusals {
        let timer = Timer::start();
        let body = compact(&probe.bodies().typical(&event));
        let request = Request {
            event: event.to_string(),
            body,
            signing,
        };
        let observation = probe.send(&request).await;
        results.push(timer.finish(
            name,
            sent,
            "4xx (401 or 403)",
            verdict(observation.is_4xx(), observation.to_string()),
        ));
    }

    if scheme == SignatureScheme::HmacBody {
        let timer = Timer::start();
        let original = probe.bodies().typical(&event);
        let mut tampered = original.clone();
        if let Some(domain) = entity_mut(&mut tampered, &event) {
            domain.insert("status".into(), json!("deleted"));
        }
        let request = Request {
            event: event.to_string(),
            body: compact(&tampered),
            signing: Signing::Over(compact(&original)),
        };
        let observation = probe.send(&request).await;
        results.push(timer.finish(
            "signature.tampered_body",
            "a body whose status was changed after signing",
            "4xx (401 or 403)",
            verdict(observation.is_4xx(), observation.to_string()),
        ));
    }

    let timer = Timer::start();
    let garbage =
        Bytes::from_static(br#"{"event": "domain.status_changed", "data": {"domain": {"uid": "#);
    let observation = probe.send(&Request::signed(event.as_str(), garbage)).await;
    results.push(timer.finish(
        "payload.malformed_json",
        "a correctly signed body that is cut-off JSON",
        "4xx (400), not 5xx: retrying cannot fix it",
        verdict(observation.is_4xx(), observation.to_string()),
    ));
}
