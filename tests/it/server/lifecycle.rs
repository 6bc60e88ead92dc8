//! Lifecycles started through the REST API, driven by the paused clock, received as webhooks.

use serde_json::{Value, json};

use super::{Mock, statuses};
use inboxkit_mock::contract::headers;
use inboxkit_mock::receiver::Verdict;

#[tokio::test]
async fn a_registered_domain_walks_its_lifecycle_in_order() {
    let mock = Mock::start(1).await;
    let uid = mock.register("getbrightwave.io").await;
    assert!(
        uid.starts_with("domain-") && uid.len() == "domain-".len() + 12,
        "{uid}"
    );

    assert_eq!(
        mock.advance("1m").await,
        0,
        "nothing is due after one minute"
    );
    assert_eq!(
        mock.advance("1m").await,
        1,
        "registration takes two minutes"
    );
    mock.wait_terminal(1).await;
    assert_eq!(
        mock.advance("15m").await,
        1,
        "DNS propagation takes fifteen minutes"
    );
    mock.wait_terminal(2).await;

    let received = mock.received_about(&uid);
    assert_eq!(
        statuses(&received),
        ["waiting_for_dns_propagation", "active"]
    );
    for record in &received {
        assert_eq!(record.verdict, Verdict::Accepted, "{:?}", record.problem);
        assert_eq!(record.signature_valid, Some(true));
        assert_eq!(record.header(headers::EVENT), Some("domain.status_changed"));
    }
    let last: Value = serde_json::from_str(&received[1].body).unwrap();
    assert_eq!(
        last["data"]["domain"]["previous_status"],
        "waiting_for_dns_propagation"
    );
    assert_eq!(last["data"]["domain"]["name"], "getbrightwave.io");
    assert_eq!(
        last["timestamp"], "2024-01-10T15:47:45.123Z",
        "stamped with the due time"
    );
    assert_eq!(last["workspace_id"], mock.workspace_id());

    let list = mock
        .rest(
            "POST",
            "/domains/list",
            Some(json!({"page": 1, "limit": 10})),
        )
        .await;
    assert_eq!(list.body["domains"][0]["status"], "active");
    assert_eq!(list.body["pagination"]["total"], 1);
    mock.stop().await;
}

#[tokio::test]
async fn a_bought_mailbox_walks_its_lifecycle_and_can_be_cancelled() {
    let mock = Mock::start(2).await;
    mock.register("acme-mail.com").await;
    // Provisioning waits for the domain's DNS: buy once the domain is active.
    let mut delivered = mock.advance("17m").await;
    mock.wait_terminal(delivered).await;
    let uid = mock.buy("ada", "acme-mail.com").await;

    // Every mailbox step takes a multiple of 30 s: one step per advance keeps arrival order.
    for _ in 0..16 {
        delivered += mock.advance("30s").await;
        mock.wait_terminal(delivered).await;
    }
    let expected = [
        "pending",
        "processing",
        "configuring_workspace",
        "configuring_dns",
        "configuring_dkim",
        "configuring_auth",
        "finalizing_setup",
        "active",
    ];
    assert_eq!(statuses(&mock.received_about(&uid)), expected);

    let status = mock
        .rest("POST", "/mailboxes/status", Some(json!({"uids": [uid]})))
        .await;
    assert_eq!(status.body["mailboxes"][0]["status"], "active");
    let credentials = mock
        .rest(
            "GET",
            &format!("/mailboxes/show-credentials?uid={uid}"),
            None,
        )
        .await;
    assert_eq!(
        credentials.body["credentials"]["email"],
        "ada@acme-mail.com"
    );
    assert_eq!(
        credentials.body["credentials"]["password"]
            .as_str()
            .unwrap()
            .len(),
        16
    );

    let cancel = mock
        .rest("POST", "/mailboxes/cancel", Some(json!({"uids": [uid]})))
        .await;
    assert_eq!(cancel.status, 200, "{cancel:?}");
    assert_eq!(
        cancel.body["mailboxes"][0]["status"],
        "scheduled_for_cancellation"
    );
    mock.wait_terminal(delivered + 1).await;
    assert_eq!(
        mock.advance("1h").await,
        0,
        "cancellation waits for the period's end"
    );
    let more = mock.advance("31d").await;
    assert_eq!(more, 1, "the cancellation, at the end of the paid month");
    mock.wait_terminal(delivered + 1 + more).await;
    let tail: Vec<String> = statuses(&mock.received_about(&uid))
        .into_iter()
        .skip(expected.len())
        .collect();
    assert_eq!(tail, ["scheduled_for_cancellation", "cancelled"]);
    let cancelled: Value =
        serde_json::from_str(&mock.received_about(&uid).last().unwrap().body).unwrap();
    assert_eq!(
        cancelled["data"]["mailbox"]["mailbox_cancellation_status"],
        "completed"
    );
    mock.stop().await;
}

#[tokio::test]
async fn one_big_advance_fires_every_due_step_in_order() {
    let mock = Mock::start(3).await;
    mock.register("one.io").await;
    let uid = mock.buy("bo", "one.io").await;
    let fired = mock.advance("1h").await;
    assert_eq!(
        fired,
        2 + 9,
        "two domain steps, eight mailbox steps and the wait for the domain's DNS"
    );
    mock.wait_terminal(fired).await;
    let (journal, _) = mock
        .server
        .state()
        .sender()
        .journal()
        .list(&Default::default(), 0, 100);
    let mailbox: Vec<String> = journal
        .iter()
        .filter(|r| r.entity_uid.as_deref() == Some(uid.as_str()))
        .map(|r| r.status.clone().unwrap())
        .collect();
    assert_eq!(mailbox.first().map(String::as_str), Some("pending"));
    assert_eq!(mailbox.last().map(String::as_str), Some("active"));
    let times: Vec<String> = journal
        .iter()
        .map(|r| r.body.clone())
        .map(|b| {
            serde_json::from_str::<Value>(&b).unwrap()["timestamp"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "fired in due order: {times:?}"
    );
    mock.stop().await;
}

async fn bodies_of_a_scripted_run(seed: u64) -> Vec<String> {
    let mock = Mock::start(seed).await;
    mock.register("same.io").await;
    mock.buy("x", "same.io").await;
    let fired = mock.advance("2h").await;
    mock.wait_terminal(fired).await;
    let bodies = mock
        .server
        .state()
        .sender()
        .journal()
        .all()
        .into_iter()
        .map(|r| r.body.to_string())
        .collect();
    mock.stop().await;
    bodies
}

#[tokio::test]
async fn the_same_seed_and_clock_give_byte_identical_payloads() {
    let first = bodies_of_a_scripted_run(42).await;
    let second = bodies_of_a_scripted_run(42).await;
    assert_eq!(first.len(), 11);
    assert_eq!(first, second);
    let other = bodies_of_a_scripted_run(43).await;
    assert_ne!(first, other, "another seed gives other ids and credentials");
}

#[tokio::test]
async fn failure_branches_follow_their_configured_rate() {
    let mock = Mock::start_with(4, |config| {
        config
            .failures
            .by_code
            .insert("payment_declined".into(), 1.0);
    })
    .await;
    let uid = mock.register("unlucky.io").await;
    assert_eq!(mock.advance("1m").await, 1);
    mock.wait_terminal(1).await;
    let received = mock.received_about(&uid);
    assert_eq!(statuses(&received), ["payment_failed"]);
    let body: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(
        body["data"]["change_details"]["error_code"],
        "payment_declined"
    );
    assert_eq!(body["data"]["change_details"]["action_required"], true);
    mock.stop().await;
}
