//! The simulated world over real HTTP: causality between domains and mailboxes, every
//! documented status reachable through REST calls and failure rates, the observed variant,
//! renewals and period-end cancellation on the calendar, and the REST answers' shapes.
//!
//! Webhooks are read from the journal (the order they were submitted, which is the order of the
//! changes) and checked against the test receiver (verified, accepted).

use std::collections::BTreeSet;
use std::time::Duration;

use inboxkit_mock::contract::{DomainStatus, MailboxStatus, PayloadShape};
use inboxkit_mock::receiver::Verdict;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::server::{Answer, Mock, WAIT};

/// Waits until nothing waits to be announced and every delivery submitted so far is terminal.
async fn settle(mock: &Mock) {
    let state = mock.server.state();
    let journal = state.sender().journal();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let counters = journal.counters();
        let done = counters.in_progress() == 0
            && counters.terminal.values().sum::<u64>() == counters.events;
        if done && state.read(|sim| sim.outbox_len()) == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "deliveries not terminal within {WAIT:?}: {counters:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Advances the paused clock and waits for the webhooks.
async fn advance(mock: &Mock, by: &str) {
    mock.advance(by).await;
    settle(mock).await;
}

/// The webhook bodies about `uid`, in the order their changes were made.
fn changes(mock: &Mock, uid: &str) -> Vec<Value> {
    mock.server
        .state()
        .sender()
        .journal()
        .all()
        .into_iter()
        .filter(|r| r.entity_uid.as_deref() == Some(uid))
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect()
}

/// The entity object of a webhook body.
fn entity(body: &Value) -> &Value {
    let data = &body["data"];
    if data.get("domain").is_some() {
        &data["domain"]
    } else {
        &data["mailbox"]
    }
}

fn statuses_of(bodies: &[Value]) -> Vec<String> {
    bodies
        .iter()
        .map(|b| entity(b)["status"].as_str().unwrap().to_owned())
        .collect()
}

/// Every status any webhook carried so far.
fn all_statuses(mock: &Mock) -> Vec<(String, String)> {
    mock.server
        .state()
        .sender()
        .journal()
        .all()
        .into_iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).unwrap();
            let kind = if body["data"].get("domain").is_some() {
                "domain"
            } else {
                "mailbox"
            };
            (
                kind.to_owned(),
                entity(&body)["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Buys one mailbox on `domain` on `platform`; returns its uid.
async fn buy_on(mock: &Mock, username: &str, domain: &str, platform: &str) -> String {
    let order = json!({"mailboxes": [{
        "first_name": "Ada", "last_name": "Lovelace", "username": username, "platform": platform, "domain_name": domain,
    }]});
    let answer = mock.rest("POST", "/mailboxes/buy", Some(order)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.body["mailboxes"][0]["uid"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The listed domain with `uid`.
async fn listed_domain(mock: &Mock, uid: &str) -> Value {
    let list = mock
        .rest("POST", "/domains/list", Some(json!({"limit": 1000})))
        .await;
    list.body["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["uid"] == uid)
        .cloned()
        .unwrap_or(Value::Null)
}

/// `GET /mailboxes/show-credentials` for mailbox `uid`.
async fn show_credentials(mock: &Mock, uid: &str) -> Answer {
    mock.rest(
        "GET",
        &format!("/mailboxes/show-credentials?uid={uid}"),
        None,
    )
    .await
}

/// The listed mailbox with `uid`.
async fn listed_mailbox(mock: &Mock, uid: &str) -> Value {
    let list = mock
        .rest("POST", "/mailboxes/list", Some(json!({"limit": 1000})))
        .await;
    list.body["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["uid"] == uid)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Every webhook the receiver got was verified and accepted.
fn all_accepted(mock: &Mock) {
    for record in mock.receiver.store().all() {
        assert_eq!(record.verdict, Verdict::Accepted, "{:?}", record.problem);
        assert_eq!(record.signature_valid, Some(true));
    }
}

#[tokio::test]
async fn a_mailbox_waits_for_its_domain_and_gets_credentials_once_provisioned() {
    let mock = Mock::start(21).await;
    let domain = mock.register("waits.io").await;
    let mailbox = mock.buy("ada", "waits.io").await;
    advance(&mock, "10m").await;
    assert_eq!(
        statuses_of(&changes(&mock, &mailbox)),
        ["pending", "processing", "waiting_for_dns_propagation"],
        "provisioning waits while the domain's DNS propagates"
    );
    for body in changes(&mock, &mailbox) {
        for field in ["password", "app_password", "secret"] {
            assert!(
                entity(&body)[field].is_null(),
                "no {field} before provisioning: {body}"
            );
        }
    }
    let early = show_credentials(&mock, &mailbox).await;
    assert_eq!(early.status, 409, "{early:?}");

    advance(&mock, "1h").await;
    let domain_changes = changes(&mock, &domain);
    assert_eq!(
        statuses_of(&domain_changes),
        ["waiting_for_dns_propagation", "active"]
    );
    let mailbox_changes = changes(&mock, &mailbox);
    assert_eq!(
        statuses_of(&mailbox_changes),
        [
            "pending",
            "processing",
            "waiting_for_dns_propagation",
            "configuring_workspace",
            "configuring_dns",
            "configuring_dkim",
            "configuring_auth",
            "finalizing_setup",
            "active"
        ]
    );
    assert_eq!(domain_changes[1]["timestamp"], "2024-01-10T15:47:45.123Z");
    assert_eq!(
        mailbox_changes[3]["timestamp"], domain_changes[1]["timestamp"],
        "the mailbox goes on at the instant its domain's DNS completes"
    );
    assert_eq!(
        mailbox_changes[3]["data"]["change_details"]["reason"],
        "Domain DNS propagated"
    );
    let active = &mailbox_changes[8];
    assert_eq!(entity(active)["password"].as_str().map(str::len), Some(16));
    assert_eq!(
        active["data"]["change_details"]["changed_fields"],
        json!([
            "status",
            "dns_propagation_status",
            "password",
            "app_password",
            "secret"
        ]),
        "every field that changed"
    );
    let credentials = show_credentials(&mock, &mailbox).await;
    assert_eq!(credentials.status, 200, "{credentials:?}");
    assert_eq!(
        credentials.body["credentials"]["password"],
        entity(active)["password"]
    );
    all_accepted(&mock);
    mock.stop().await;
}

/// A domain `active` with two `active` mailboxes on it.
async fn active_domain_with_two_mailboxes(mock: &Mock, name: &str) -> (String, [String; 2]) {
    let domain = mock.register(name).await;
    advance(mock, "20m").await;
    let first = mock.buy("first", name).await;
    let second = mock.buy("second", name).await;
    advance(mock, "1h").await;
    for uid in [&first, &second] {
        assert_eq!(statuses_of(&changes(mock, uid)).last().unwrap(), "active");
    }
    (domain, [first, second])
}

#[tokio::test]
async fn removing_a_domain_cascades_to_its_mailboxes_and_counts() {
    let mock = Mock::start(22).await;
    let (domain, mailboxes) = active_domain_with_two_mailboxes(&mock, "gone.io").await;
    assert_eq!(listed_domain(&mock, &domain).await["assigned_mailboxes"], 2);
    let removed = mock
        .rest("POST", "/domains/remove", Some(json!({"uids": [domain]})))
        .await;
    assert_eq!(removed.status, 200, "{removed:?}");
    settle(&mock).await;
    let last = changes(&mock, &domain).pop().unwrap();
    assert_eq!(entity(&last)["status"], "deleted");
    assert_eq!(entity(&last)["assigned_mailboxes"], 0);
    assert_eq!(entity(&last)["available_mailboxes"], 50);
    assert_eq!(
        last["data"]["change_details"]["changed_fields"],
        json!(["status", "assigned_mailboxes", "available_mailboxes"])
    );
    for uid in &mailboxes {
        let body = changes(&mock, uid).pop().unwrap();
        assert_eq!(entity(&body)["status"], "deleted");
        assert_eq!(entity(&body)["previous_status"], "active");
        assert_eq!(
            body["timestamp"], last["timestamp"],
            "at the domain's instant"
        );
        assert_eq!(body["data"]["change_details"]["reason"], "Domain removed");
        assert_eq!(body["data"]["change_details"]["triggered_by"], "system");
    }
    // Nothing changes after `deleted`.
    let before = mock.server.state().sender().journal().all().len();
    advance(&mock, "400d").await;
    assert_eq!(mock.server.state().sender().journal().all().len(), before);
    all_accepted(&mock);
    mock.stop().await;
}

#[tokio::test]
async fn cancellation_completes_at_the_period_end_and_can_be_withdrawn_before() {
    let mock = Mock::start(23).await;
    let (domain, [mailbox, _]) = active_domain_with_two_mailboxes(&mock, "period.io").await;
    let listed = listed_mailbox(&mock, &mailbox).await;
    assert_eq!(
        listed["renewal_date"], "2024-02-10T00:00:00.000Z",
        "one calendar month"
    );
    let cancel = mock
        .rest(
            "POST",
            "/mailboxes/cancel",
            Some(json!({"uids": [mailbox]})),
        )
        .await;
    assert_eq!(
        cancel.body["mailboxes"][0]["status"],
        "scheduled_for_cancellation"
    );
    advance(&mock, "20d").await;
    assert_eq!(
        statuses_of(&changes(&mock, &mailbox)).last().unwrap(),
        "scheduled_for_cancellation"
    );
    let uncancel = mock
        .rest(
            "POST",
            "/mailboxes/uncancel",
            Some(json!({"uids": [mailbox]})),
        )
        .await;
    assert_eq!(uncancel.status, 200, "{uncancel:?}");
    assert_eq!(uncancel.body["mailboxes"][0]["status"], "active");
    let again = mock
        .rest(
            "POST",
            "/mailboxes/uncancel",
            Some(json!({"uids": [mailbox]})),
        )
        .await;
    assert_eq!(
        again.status, 409,
        "only a scheduled cancellation can be withdrawn: {again:?}"
    );
    mock.rest(
        "POST",
        "/mailboxes/cancel",
        Some(json!({"uids": [mailbox]})),
    )
    .await;
    advance(&mock, "15d").await;
    let bodies = changes(&mock, &mailbox);
    assert_eq!(
        statuses_of(&bodies)[bodies.len() - 5..],
        [
            "scheduled_for_cancellation",
            "active",
            "scheduled_for_cancellation",
            "cancelled",
            "archived"
        ]
    );
    let cancelled = &bodies[bodies.len() - 2];
    assert_eq!(
        cancelled["timestamp"], "2024-02-10T00:00:00.000Z",
        "at the period's end"
    );
    assert_eq!(
        entity(cancelled)["mailbox_cancellation_status"],
        "completed"
    );
    assert_eq!(
        listed_domain(&mock, &domain).await["assigned_mailboxes"],
        1,
        "a cancelled mailbox frees its place"
    );
    all_accepted(&mock);
    mock.stop().await;
}

#[tokio::test]
async fn a_connected_domain_reproduces_the_seed_example() {
    let mock = Mock::start(24).await;
    let connect = mock
        .rest(
            "POST",
            "/domains/connect",
            Some(json!({"domains": [{"name": "yourdomain.com"}]})),
        )
        .await;
    assert_eq!(connect.status, 200, "{connect:?}");
    let uid = connect.body["domain_uids"][0].as_str().unwrap().to_owned();
    let listed = listed_domain(&mock, &uid).await;
    assert_eq!(
        (
            &listed["status"],
            &listed["connection_type"],
            &listed["nameservers"]
        ),
        (&json!("cart"), &json!("dns"), &json!([]))
    );
    let early = mock
        .rest(
            "POST",
            "/domains/check-nameservers",
            Some(json!({"uid": uid})),
        )
        .await;
    assert_eq!(early.status, 409, "no nameservers issued yet: {early:?}");
    let nameservers = mock
        .rest("POST", "/domains/nameservers", Some(json!({"uid": uid})))
        .await;
    assert_eq!(
        nameservers.body["nameservers"],
        json!(["ns1.inboxkit.com", "ns2.inboxkit.com"])
    );
    let check = mock
        .rest(
            "POST",
            "/domains/check-nameservers",
            Some(json!({"uid": uid})),
        )
        .await;
    assert_eq!(check.body["propagated"], false);
    advance(&mock, "10m").await;
    let bodies = changes(&mock, &uid);
    assert_eq!(
        statuses_of(&bodies),
        ["dns_setup_pending", "pending", "active"]
    );
    let active = &bodies[2];
    let domain = entity(active);
    assert_eq!(domain["previous_status"], "pending");
    assert_eq!(domain["dns_propagation_status"], "completed");
    assert_eq!(domain["connection_type"], "dns");
    assert_eq!(domain["renewal_status"], "not_due");
    assert_eq!(
        domain["renewal_date"], "2025-01-10T00:00:00.000Z",
        "2024-01-10 + 1 year"
    );
    assert_eq!(
        active["data"]["change_details"],
        json!({
            "reason": "DNS propagation completed successfully",
            "changed_fields": ["status", "dns_propagation_status"],
            "triggered_by": "system"
        })
    );
    let check = mock
        .rest(
            "POST",
            "/domains/check-nameservers",
            Some(json!({"uid": uid})),
        )
        .await;
    assert_eq!(check.body["propagated"], true);
    all_accepted(&mock);
    mock.stop().await;
}

#[tokio::test]
async fn microsoft_mailboxes_wait_for_their_activation_email() {
    let mock = Mock::start(25).await;
    mock.register("tenant.io").await;
    advance(&mock, "20m").await;
    let uid = buy_on(&mock, "ms", "tenant.io", "MICROSOFT").await;
    advance(&mock, "1h").await;
    assert_eq!(
        statuses_of(&changes(&mock, &uid)),
        [
            "pending",
            "processing",
            "configuring_workspace",
            "waiting_for_activation_email",
            "activation_email_received",
            "configuring_dns",
            "configuring_dkim",
            "configuring_auth",
            "finalizing_setup",
            "active"
        ]
    );
    mock.stop().await;
}

#[tokio::test]
async fn renewals_follow_the_calendar_and_failures_their_rate() {
    let mock = Mock::start(26).await;
    let (domain, [mailbox, _]) = active_domain_with_two_mailboxes(&mock, "renews.io").await;
    let before = changes(&mock, &mailbox).len();
    assert_eq!(
        listed_mailbox(&mock, &mailbox).await["renewal_status"],
        "not_due"
    );
    // From 2024-01-10 16:50:45 to 2024-02-10 00:30:45: half an hour into the renewal.
    advance(&mock, "30days 7h 40m").await;
    let listed = listed_mailbox(&mock, &mailbox).await;
    assert_eq!(
        listed["renewal_status"], "pending",
        "the payment settles in an hour"
    );
    assert_eq!(listed["renewal_date"], "2024-02-10T00:00:00.000Z");
    advance(&mock, "1d").await;
    let listed = listed_mailbox(&mock, &mailbox).await;
    assert_eq!(listed["renewal_status"], "completed");
    assert_eq!(listed["renewal_date"], "2024-03-10T00:00:00.000Z");
    assert_eq!(
        changes(&mock, &mailbox).len(),
        before,
        "a renewal changes no status"
    );
    advance(&mock, "340d").await;
    let listed = listed_domain(&mock, &domain).await;
    assert_eq!(listed["renewal_status"], "completed");
    assert_eq!(listed["renewal_date"], "2026-01-10T00:00:00.000Z");
    mock.stop().await;

    let mock = Mock::start_with(27, |config| {
        config
            .failures
            .by_code
            .insert("renewal_payment_declined".into(), 1.0);
    })
    .await;
    let (_, [mailbox, _]) = active_domain_with_two_mailboxes(&mock, "unpaid.io").await;
    advance(&mock, "31d").await;
    let failed = changes(&mock, &mailbox).pop().unwrap();
    assert_eq!(entity(&failed)["status"], "renewal_failed");
    assert_eq!(
        failed["timestamp"], "2024-02-10T01:00:00.000Z",
        "an hour into the renewal"
    );
    assert_eq!(entity(&failed)["renewal_status"], "failed");
    assert_eq!(
        failed["data"]["change_details"]["changed_fields"],
        json!(["status", "renewal_status"])
    );
    assert_eq!(
        failed["data"]["change_details"]["error_code"],
        "renewal_payment_declined"
    );
    advance(&mock, "8d").await;
    assert_eq!(
        statuses_of(&changes(&mock, &mailbox))[changes(&mock, &mailbox).len() - 3..],
        ["renewal_failed", "cancelled", "archived"]
    );
    mock.stop().await;
}

#[tokio::test]
async fn the_observed_variant_announces_active_before_dns_completes() {
    let mock = Mock::start_with(28, |config| {
        config
            .failures
            .by_code
            .insert("observed_active_before_dns".into(), 1.0);
    })
    .await;
    let domain = mock.register("captured.io").await;
    let mailbox = mock.buy("ada", "captured.io").await;
    advance(&mock, "3m").await;
    let bodies = changes(&mock, &domain);
    assert_eq!(statuses_of(&bodies), ["active"]);
    assert_eq!(
        entity(&bodies[0])["previous_status"],
        "registration_in_progress"
    );
    assert_eq!(entity(&bodies[0])["dns_propagation_status"], "pending");
    assert!(
        bodies[0]["data"]["change_details"]
            .get("error_code")
            .is_none()
    );
    assert_eq!(
        listed_domain(&mock, &domain).await["dns_propagation_status"],
        "pending"
    );
    assert_eq!(
        statuses_of(&changes(&mock, &mailbox)).last().unwrap(),
        "waiting_for_dns_propagation",
        "`active` does not mean DNS is ready"
    );
    advance(&mock, "15m").await;
    assert_eq!(
        changes(&mock, &domain).len(),
        1,
        "DNS completes with no status change"
    );
    assert_eq!(
        listed_domain(&mock, &domain).await["dns_propagation_status"],
        "completed"
    );
    let resumed = changes(&mock, &mailbox)
        .into_iter()
        .find(|b| entity(b)["status"] == "configuring_workspace")
        .expect("provisioning went on");
    assert_eq!(
        resumed["timestamp"], "2024-01-10T15:47:45.123Z",
        "when the domain's DNS completed, 15 min after its `active`"
    );
    mock.stop().await;
}

#[tokio::test]
async fn a_domain_that_stops_being_active_takes_its_mailboxes_with_it() {
    let mock = Mock::start(29).await;
    let (domain, mailboxes) = active_domain_with_two_mailboxes(&mock, "flaky.io").await;
    let forced = mock
        .control(
            "POST",
            &format!("/domains/{domain}/transition"),
            Some(json!({"to": "inactive"})),
        )
        .await;
    assert_eq!(forced.status, 200, "{forced:?}");
    settle(&mock).await;
    let refused = mock
        .control(
            "POST",
            &format!("/mailboxes/{}/transition", mailboxes[0]),
            Some(json!({"to": "active"})),
        )
        .await;
    assert_eq!(
        refused.status, 409,
        "no active mailbox on an inactive domain: {refused:?}"
    );
    mock.control(
        "POST",
        &format!("/domains/{domain}/transition"),
        Some(json!({"to": "active"})),
    )
    .await;
    settle(&mock).await;
    for uid in &mailboxes {
        let tail = statuses_of(&changes(&mock, uid));
        assert_eq!(
            tail[tail.len() - 3..],
            ["active", "inactive", "active"],
            "{uid}"
        );
    }
    mock.stop().await;
}

/// Forces `uid`'s domain to `to` through the control API.
async fn force_domain(mock: &Mock, uid: &str, to: &str) {
    let forced = mock
        .control(
            "POST",
            &format!("/domains/{uid}/transition"),
            Some(json!({"to": to})),
        )
        .await;
    assert_eq!(forced.status, 200, "{forced:?}");
    settle(mock).await;
}

/// The last webhook about `uid`.
fn last_change(mock: &Mock, uid: &str) -> Value {
    changes(mock, uid).pop().unwrap_or(Value::Null)
}

/// Liveness: a mailbox whose step to `active` came due while its domain was not active is held
/// (README: "`active` | a minute after `finalizing_setup`, only while its domain is `active`
/// (held otherwise)") and must follow once the domain is active again, however long that took,
/// within that documented minute; never before.
#[tokio::test]
async fn a_held_mailbox_becomes_active_once_its_domain_is_active_again() {
    let mock = Mock::start(41).await;
    let domain = mock.register("held.io").await;
    advance(&mock, "20m").await;
    let mailbox = mock.buy("ada", "held.io").await;
    // Bought at 15:50:45.123 (t0 + 20 min); `configuring_workspace` 2 min later.
    advance(&mock, "150s").await;
    assert_eq!(
        entity(&last_change(&mock, &mailbox))["status"],
        "configuring_workspace"
    );
    force_domain(&mock, &domain, "inactive").await;
    // A minute per step: `finalizing_setup` at 15:56:45.123, `active` due at 15:57:45.123,
    // while the domain is inactive. An hour later it still waits.
    advance(&mock, "1h").await;
    let held = statuses_of(&changes(&mock, &mailbox));
    assert_eq!(
        held,
        [
            "pending",
            "processing",
            "configuring_workspace",
            "configuring_dns",
            "configuring_dkim",
            "configuring_auth",
            "finalizing_setup"
        ],
        "no `active` while the domain is inactive"
    );
    assert_eq!(
        listed_mailbox(&mock, &mailbox).await["status"],
        "finalizing_setup"
    );
    let early = show_credentials(&mock, &mailbox).await;
    assert_eq!(early.status, 409, "{early:?}");

    // Reactivated at 16:53:15.123; the mailbox's remaining step takes a minute.
    force_domain(&mock, &domain, "active").await;
    assert_eq!(
        last_change(&mock, &domain)["timestamp"],
        "2024-01-10T16:53:15.123Z"
    );
    advance(&mock, "1m").await;
    let resumed = last_change(&mock, &mailbox);
    assert_eq!(
        entity(&resumed)["status"],
        "active",
        "the held mailbox follows its domain: {:?}",
        statuses_of(&changes(&mock, &mailbox))
    );
    assert_eq!(entity(&resumed)["previous_status"], "finalizing_setup");
    let at = resumed["timestamp"].as_str().unwrap();
    assert!(
        ("2024-01-10T16:53:15.123Z"..="2024-01-10T16:54:15.123Z").contains(&at),
        "active within a minute of the domain's reactivation, not before: {at}"
    );
    assert_eq!(listed_mailbox(&mock, &mailbox).await["status"], "active");
    let credentials = show_credentials(&mock, &mailbox).await;
    assert_eq!(credentials.status, 200, "{credentials:?}");
    all_accepted(&mock);
    mock.stop().await;
}

/// Liveness through a failure branch: a domain whose DNS propagation fails is `inactive` (an
/// hour into propagation, README), its mailbox waits in `waiting_for_dns_propagation`; once the
/// domain is reactivated the mailbox goes on at that instant and is `active` within the
/// documented minute per remaining step (`configuring_workspace` to `active`: 5 min).
#[tokio::test]
async fn a_mailbox_waiting_for_a_failed_domain_follows_it_once_reactivated() {
    let mock = with_rate(42, &["dns_propagation_failed"]).await;
    let domain = mock.register("failing.io").await;
    let mailbox = mock.buy("ada", "failing.io").await;
    // Registered at 15:30:45.123, `waiting_for_dns_propagation` 2 min later, `inactive` an
    // hour after that.
    advance(&mock, "3h").await;
    assert_eq!(
        statuses_of(&changes(&mock, &domain)),
        ["waiting_for_dns_propagation", "inactive"]
    );
    assert_eq!(
        statuses_of(&changes(&mock, &mailbox)),
        ["pending", "processing", "waiting_for_dns_propagation"]
    );
    force_domain(&mock, &domain, "active").await;
    let reactivated = last_change(&mock, &domain);
    assert_eq!(reactivated["timestamp"], "2024-01-10T18:30:45.123Z");
    advance(&mock, "5m").await;
    let tail = changes(&mock, &mailbox);
    assert_eq!(
        statuses_of(&tail)[2..],
        [
            "waiting_for_dns_propagation",
            "configuring_workspace",
            "configuring_dns",
            "configuring_dkim",
            "configuring_auth",
            "finalizing_setup",
            "active"
        ]
    );
    assert_eq!(tail[3]["timestamp"], reactivated["timestamp"]);
    assert!(
        tail[8]["timestamp"].as_str().unwrap() <= "2024-01-10T18:35:45.123Z",
        "{}",
        tail[8]["timestamp"]
    );
    assert_eq!(listed_mailbox(&mock, &mailbox).await["status"], "active");
    all_accepted(&mock);
    mock.stop().await;
}

#[tokio::test]
async fn rest_answers_take_the_observed_shapes_under_the_current_profile() {
    let mock = Mock::start_with(30, |config| {
        config.subscriber.payload_shape = PayloadShape::Current;
    })
    .await;
    let register = mock
        .rest(
            "POST",
            "/domains/register",
            Some(json!({"domains": [{"name": "a.io", "registration_years": 2}, {"name": "b.io"}]})),
        )
        .await;
    assert_eq!(register.body["domains_count"], 2);
    assert_eq!(register.body["total_cost"], 36.0);
    assert_eq!(register.body["payment_type"], "wallet");
    let uid = register.body["domain_uids"][0].as_str().unwrap().to_owned();
    let list = mock
        .rest(
            "POST",
            "/domains/list",
            Some(json!({"page": 2, "limit": 1})),
        )
        .await;
    assert_eq!(
        (
            &list.body["total"],
            &list.body["pages"],
            &list.body["current_page"],
            &list.body["limit"]
        ),
        (&json!(2), &json!(2), &json!(2), &json!(1))
    );
    assert!(list.body.get("pagination").is_none());
    advance(&mock, "20m").await;
    let mailbox = mock.buy("ada", "a.io").await;
    advance(&mock, "1h").await;
    let credentials = show_credentials(&mock, &mailbox).await;
    assert_eq!(
        credentials.body["email"], "ada@a.io",
        "flat: {credentials:?}"
    );
    assert!(credentials.body["password"].is_string());
    let workspaces = mock.rest("GET", "/workspaces/list", None).await;
    let first = &workspaces.body["workspaces"][0];
    assert!(first["team"]["uid"].as_str().unwrap().starts_with("team-"));
    assert_eq!(first["domains_count"], 2);
    let removed = mock
        .rest("POST", "/domains/remove", Some(json!({"uids": [uid]})))
        .await;
    assert_eq!(removed.body["message"], "Domains scheduled for deletion");
    assert_eq!(
        removed.body["result"]["deleted"],
        json!([{"name": "a.io", "uid": uid, "previous_status": "active", "new_status": "deleted"}])
    );
    let unauthorized = mock
        .call(
            "GET",
            "/v1/api/workspaces/list",
            None,
            &[("authorization", "Bearer nope")],
        )
        .await;
    assert_eq!(unauthorized.status, 401);
    assert_eq!(unauthorized.body["code"], 401);
    assert!(unauthorized.body["message"].is_string());
    let webhook = changes(&mock, &uid).pop().unwrap();
    assert_eq!(
        entity(&webhook)["renewal_status"],
        "na",
        "the newer docs' spelling"
    );
    mock.stop().await;

    let seed = Mock::start(30).await;
    let unauthorized = seed
        .call(
            "GET",
            "/v1/api/workspaces/list",
            None,
            &[("authorization", "Bearer nope")],
        )
        .await;
    assert_eq!(unauthorized.status, 401);
    assert_eq!(
        unauthorized.body["error"], true,
        "the seed profile keeps its shape"
    );
    seed.stop().await;
}

/// Statuses a scenario made visible: webhooks' statuses plus the statuses REST answers showed.
#[derive(Default)]
struct Seen(BTreeSet<(String, String)>);

impl Seen {
    fn webhooks(&mut self, mock: &Mock) {
        self.0.extend(all_statuses(mock));
    }

    fn listed(&mut self, kind: &str, status: &Value) {
        self.0
            .insert((kind.to_owned(), status.as_str().unwrap().to_owned()));
    }
}

async fn with_rate(seed: u64, codes: &[&str]) -> Mock {
    let codes: Vec<String> = codes.iter().map(|c| (*c).to_owned()).collect();
    Mock::start_with(seed, move |config| {
        for code in codes {
            config.failures.by_code.insert(code, 1.0);
        }
    })
    .await
}

#[tokio::test]
async fn every_documented_status_is_reachable_through_rest_calls_and_rates() {
    let mut seen = Seen::default();

    // The typical paths, connection, activation email, cancellation, archive and removal.
    let mock = Mock::start(31).await;
    let connect = mock
        .rest(
            "POST",
            "/domains/connect",
            Some(json!({"domains": [{"name": "own.io"}]})),
        )
        .await;
    seen.listed("domain", &connect.body["domains"][0]["status"]);
    let own = connect.body["domain_uids"][0].as_str().unwrap().to_owned();
    mock.rest("POST", "/domains/nameservers", Some(json!({"uid": own})))
        .await;
    mock.rest(
        "POST",
        "/domains/check-nameservers",
        Some(json!({"uid": own})),
    )
    .await;
    let bought = mock.register("bought.io").await;
    seen.listed("domain", &listed_domain(&mock, &bought).await["status"]);
    let answer = mock
        .rest("POST", "/mailboxes/buy", Some(json!({"mailboxes": [{
            "first_name": "A", "last_name": "B", "username": "ms", "platform": "MICROSOFT", "domain_name": "bought.io",
        }]})))
        .await;
    seen.listed("mailbox", &answer.body["mailboxes"][0]["status"]);
    let ms = answer.body["mailboxes"][0]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    advance(&mock, "2h").await;
    mock.rest("POST", "/mailboxes/cancel", Some(json!({"uids": [ms]})))
        .await;
    advance(&mock, "33d").await;
    mock.rest("POST", "/domains/remove", Some(json!({"uids": [bought]})))
        .await;
    settle(&mock).await;
    seen.webhooks(&mock);
    mock.stop().await;

    // Failure branches, each by its rate.
    for (seed, codes, wait) in [
        (32, &["payment_declined"][..], "8d"),
        (
            33,
            &["dns_propagation_failed", "provisioning_failed"][..],
            "2h",
        ),
        (34, &["provider_suspension"][..], "2d"),
        (35, &["renewal_payment_declined"][..], "33d"),
        (36, &["domain_renewal_declined"][..], "370d"),
    ] {
        let mock = with_rate(seed, codes).await;
        mock.register("rated.io").await;
        if codes != ["payment_declined"] {
            if !codes.contains(&"dns_propagation_failed") {
                advance(&mock, "20m").await;
            }
            mock.buy("m", "rated.io").await;
        }
        advance(&mock, wait).await;
        seen.webhooks(&mock);
        mock.stop().await;
    }

    let expected: BTreeSet<(String, String)> = DomainStatus::KNOWN
        .iter()
        .map(|s| ("domain".to_owned(), s.as_str().to_owned()))
        .chain(
            MailboxStatus::KNOWN
                .iter()
                .map(|s| ("mailbox".to_owned(), s.as_str().to_owned())),
        )
        .collect();
    let missing: Vec<_> = expected.difference(&seen.0).collect();
    assert!(missing.is_empty(), "never reached: {missing:?}");
}

#[tokio::test]
async fn a_receiver_processes_a_legitimate_repeat_of_a_status() {
    let mock = Mock::start(37).await;
    let (domain, [mailbox, _]) = active_domain_with_two_mailboxes(&mock, "repeat.io").await;
    let processed_before = mock.receiver.store().processed_count();
    for to in ["inactive", "active"] {
        mock.control(
            "POST",
            &format!("/domains/{domain}/transition"),
            Some(json!({"to": to})),
        )
        .await;
        settle(&mock).await;
    }
    let tail = statuses_of(&changes(&mock, &mailbox));
    assert_eq!(tail[tail.len() - 3..], ["active", "inactive", "active"]);
    // Two domain changes and two changes of each mailbox: all processed, none a duplicate.
    assert_eq!(
        mock.receiver.store().processed_count(),
        processed_before + 6
    );
    mock.stop().await;
}

/// One call a user or a test suite makes: REST, control (forced transitions) or the clock.
#[derive(Debug, Clone)]
enum Call {
    Register(usize),
    Connect(usize),
    Nameservers(usize),
    CheckNameservers(usize),
    Buy(usize, usize, usize),
    Cancel(usize),
    Uncancel(usize),
    Remove(usize),
    ForceDomain(usize, usize),
    ForceMailbox(usize, usize),
    Advance(usize),
}

const NAMES: [&str; 3] = ["a.io", "b.io", "c.io"];
const USERS: [&str; 3] = ["ada", "bob", "cy"];
const PLATFORMS: [&str; 3] = ["GOOGLE", "MICROSOFT", "SMTP"];
const ADVANCES: [&str; 6] = ["30s", "10m", "2h", "2d", "35d", "400d"];
const CODES: [&str; 9] = [
    "payment_declined",
    "dns_propagation_failed",
    "provisioning_failed",
    "dkim_setup_failed",
    "activation_email_timeout",
    "provider_suspension",
    "renewal_payment_declined",
    "domain_renewal_declined",
    "observed_active_before_dns",
];

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        (0..3usize).prop_map(Call::Register),
        (0..3usize).prop_map(Call::Connect),
        (0..3usize).prop_map(Call::Nameservers),
        (0..3usize).prop_map(Call::CheckNameservers),
        (0..3usize, 0..3usize, 0..3usize).prop_map(|(d, u, p)| Call::Buy(d, u, p)),
        (0..9usize).prop_map(Call::Cancel),
        (0..9usize).prop_map(Call::Uncancel),
        (0..3usize).prop_map(Call::Remove),
        (0..3usize, 0..DomainStatus::KNOWN.len()).prop_map(|(d, s)| Call::ForceDomain(d, s)),
        (0..9usize, 0..MailboxStatus::KNOWN.len()).prop_map(|(m, s)| Call::ForceMailbox(m, s)),
        (0..ADVANCES.len()).prop_map(Call::Advance),
        (0..ADVANCES.len()).prop_map(Call::Advance),
    ]
}

/// Makes the calls over HTTP; returns the uids created with their first (unannounced) status.
async fn make_calls(mock: &Mock, calls: &[Call]) -> Result<Vec<(String, String)>, TestCaseError> {
    let mut domains: Vec<String> = Vec::new();
    let mut mailboxes: Vec<String> = Vec::new();
    let mut created = Vec::new();
    for call in calls {
        let answer = match call {
            Call::Register(n) | Call::Connect(n) => {
                let (path, first) = match call {
                    Call::Register(_) => ("/domains/register", "registration_in_progress"),
                    _ => ("/domains/connect", "cart"),
                };
                let answer = mock
                    .rest(
                        "POST",
                        path,
                        Some(json!({"domains": [{"name": NAMES[*n]}]})),
                    )
                    .await;
                if let Some(uid) = answer.body["domain_uids"][0].as_str() {
                    domains.push(uid.to_owned());
                    created.push((uid.to_owned(), first.to_owned()));
                }
                answer
            }
            Call::Nameservers(n) | Call::CheckNameservers(n) => {
                let Some(uid) = domains.get(*n) else { continue };
                let path = match call {
                    Call::Nameservers(_) => "/domains/nameservers",
                    _ => "/domains/check-nameservers",
                };
                mock.rest("POST", path, Some(json!({"uid": uid}))).await
            }
            Call::Buy(d, u, p) => {
                let order = json!({"mailboxes": [{
                    "first_name": "A", "last_name": "B", "username": USERS[*u], "platform": PLATFORMS[*p], "domain_name": NAMES[*d],
                }]});
                let answer = mock.rest("POST", "/mailboxes/buy", Some(order)).await;
                if let Some(uid) = answer.body["mailboxes"][0]["uid"].as_str() {
                    mailboxes.push(uid.to_owned());
                    created.push((uid.to_owned(), "scheduled".to_owned()));
                }
                answer
            }
            Call::Cancel(m) | Call::Uncancel(m) => {
                let Some(uid) = mailboxes.get(*m) else {
                    continue;
                };
                let path = match call {
                    Call::Cancel(_) => "/mailboxes/cancel",
                    _ => "/mailboxes/uncancel",
                };
                mock.rest("POST", path, Some(json!({"uids": [uid]}))).await
            }
            Call::Remove(n) => {
                let Some(uid) = domains.get(*n) else { continue };
                mock.rest("POST", "/domains/remove", Some(json!({"uids": [uid]})))
                    .await
            }
            Call::ForceDomain(n, s) => {
                let Some(uid) = domains.get(*n) else { continue };
                let to = DomainStatus::KNOWN[*s].as_str();
                mock.control(
                    "POST",
                    &format!("/domains/{uid}/transition"),
                    Some(json!({"to": to})),
                )
                .await
            }
            Call::ForceMailbox(m, s) => {
                let Some(uid) = mailboxes.get(*m) else {
                    continue;
                };
                let to = MailboxStatus::KNOWN[*s].as_str();
                mock.control(
                    "POST",
                    &format!("/mailboxes/{uid}/transition"),
                    Some(json!({"to": to})),
                )
                .await
            }
            Call::Advance(i) => {
                advance(mock, ADVANCES[*i]).await;
                continue;
            }
        };
        prop_assert!(answer.status < 500, "{call:?} answered {answer:?}");
        settle(mock).await;
        no_active_mailbox_on_an_inactive_domain(mock).await?;
    }
    advance(mock, "400d").await;
    no_active_mailbox_on_an_inactive_domain(mock).await?;
    Ok(created)
}

/// What the REST lists show: no `active` mailbox on a domain that is not `active`.
async fn no_active_mailbox_on_an_inactive_domain(mock: &Mock) -> Result<(), TestCaseError> {
    let domains = mock
        .rest("POST", "/domains/list", Some(json!({"limit": 1000})))
        .await;
    let mailboxes = mock
        .rest("POST", "/mailboxes/list", Some(json!({"limit": 1000})))
        .await;
    for mailbox in mailboxes.body["mailboxes"].as_array().unwrap() {
        if mailbox["status"] == "active" {
            let domain = domains.body["domains"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["name"] == mailbox["domain_name"]);
            prop_assert_eq!(
                domain.map(|d| d["status"].clone()),
                Some(json!("active")),
                "{} is active",
                mailbox["email"]
            );
        }
    }
    Ok(())
}

/// The oracle: follows only the webhooks, in the order they were sent.
fn check_webhooks(mock: &Mock, created: Vec<(String, String)>) -> Result<(), TestCaseError> {
    use inboxkit_mock::simulation::lifecycle::{DOMAIN, MAILBOX};
    let mut last: std::collections::HashMap<String, String> = created.into_iter().collect();
    let mut domain_of_name: std::collections::HashMap<String, String> = Default::default();
    for body in mock
        .server
        .state()
        .sender()
        .journal()
        .all()
        .into_iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
    {
        let object = entity(&body);
        let uid = object["uid"].as_str().unwrap().to_owned();
        let to = object["status"].as_str().unwrap();
        let from = object["previous_status"].as_str().unwrap_or("");
        let is_domain = body["data"].get("domain").is_some();
        let edge = if is_domain {
            domain_of_name.insert(object["name"].as_str().unwrap().to_owned(), uid.clone());
            DOMAIN
                .step(&DomainStatus::parse(from), &DomainStatus::parse(to))
                .is_some()
        } else {
            MAILBOX
                .step(&MailboxStatus::parse(from), &MailboxStatus::parse(to))
                .is_some()
        };
        prop_assert!(edge, "{uid}: {from} -> {to} is not an edge of the table");
        let before = last.get(&uid).cloned().unwrap_or_default();
        prop_assert_ne!(
            before.as_str(),
            "deleted",
            "{} changed after `deleted`",
            uid
        );
        prop_assert_eq!(before.as_str(), from, "{} skipped a change", uid);
        if !is_domain && to == "active" {
            let domain = domain_of_name
                .get(object["domain_name"].as_str().unwrap())
                .and_then(|d| last.get(d))
                .map(String::as_str);
            prop_assert_eq!(
                domain,
                Some("active"),
                "{} active on a domain that is not",
                uid
            );
        }
        last.insert(uid, to.to_owned());
    }
    for record in mock.receiver.store().all() {
        prop_assert_eq!(record.verdict, Verdict::Accepted, "{:?}", record.problem);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random REST calls, forced transitions and advances over HTTP, under random rates: every
    /// webhook is an edge of the lifecycle table continuing the entity's last one, nothing
    /// follows `deleted`, no mailbox is announced `active` while its domain is not, and the
    /// reference receiver processes every change (none is taken for a duplicate).
    #[test]
    fn random_calls_over_http_keep_the_world_causal(
        calls in proptest::collection::vec(call(), 1..30),
        codes in proptest::collection::vec(proptest::bool::weighted(0.15), CODES.len()),
        seed in 0u64..1000,
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let on: Vec<String> = CODES
                .iter()
                .zip(&codes)
                .filter(|(_, on)| **on)
                .map(|(code, _)| (*code).to_owned())
                .collect();
            let mock = Mock::start_with(seed, move |config| {
                for code in on {
                    config.failures.by_code.insert(code, 1.0);
                }
            })
            .await;
            // Every run starts from an active domain with an active mailbox on it.
            let prelude = [
                Call::Register(0),
                Call::Advance(1),
                Call::Advance(1),
                Call::Buy(0, 0, 0),
                Call::Advance(1),
            ];
            let all: Vec<Call> = prelude.into_iter().chain(calls).collect();
            let created = make_calls(&mock, &all).await;
            let checked = created.and_then(|created| check_webhooks(&mock, created));
            mock.stop().await;
            checked
        })?;
    }
}
