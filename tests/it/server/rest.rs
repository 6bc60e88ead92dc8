//! The mock InboxKit REST API: auth, envelopes, validation, batch semantics.

use serde_json::json;

use super::{API_KEY, Mock, statuses};

#[tokio::test]
async fn a_wrong_or_missing_api_key_gets_401_in_the_envelope() {
    let mock = Mock::start(10).await;
    for headers in [
        vec![],
        vec![("authorization", "Bearer not-the-key")],
        vec![("authorization", API_KEY)],
    ] {
        let answer = mock
            .call("GET", "/v1/api/workspaces/list", None, &headers)
            .await;
        assert_eq!(answer.status, 401, "{headers:?}");
        assert_eq!(answer.body["error"], true);
        assert!(
            answer.body["message"].as_str().unwrap().contains("API key"),
            "{answer:?}"
        );
    }
    let ok = mock.rest("GET", "/workspaces/list", None).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["error"], false);
    assert_eq!(ok.body["workspaces"][0]["uid"], mock.workspace_id());
    assert_eq!(
        ok.body["workspaces"][0]["webhook_url"],
        mock.receiver.webhook_url().as_str()
    );
    mock.stop().await;
}

#[tokio::test]
async fn an_unknown_uid_gets_the_documented_error_envelope() {
    let mock = Mock::start(11).await;
    let answer = mock
        .rest(
            "GET",
            "/mailboxes/show-credentials?uid=mailbox-000000000000",
            None,
        )
        .await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.body,
        json!({"error": true, "message": "no mailbox with uid `mailbox-000000000000`"})
    );
    let cancel = mock
        .rest("POST", "/mailboxes/cancel", Some(json!({"uids": ["nope"]})))
        .await;
    assert_eq!(cancel.status, 404);
    assert_eq!(cancel.body["error"], true);
    let workspace = mock
        .call(
            "GET",
            "/v1/api/workspaces/list",
            None,
            &[
                ("authorization", &format!("Bearer {API_KEY}")),
                ("x-workspace-id", "ws_nope"),
            ],
        )
        .await;
    assert_eq!(
        (workspace.status, workspace.body["error"].clone()),
        (404, json!(true))
    );
    mock.stop().await;
}

#[tokio::test]
async fn duplicates_and_bad_orders_are_refused_and_change_nothing() {
    let mock = Mock::start(12).await;
    mock.register("dup.io").await;
    let again = mock
        .rest(
            "POST",
            "/domains/register",
            Some(json!({"domains": [{"name": "new.io"}, {"name": "DUP.io"}]})),
        )
        .await;
    assert_eq!(again.status, 409, "{again:?}");
    assert!(again.body["message"].as_str().unwrap().contains("dup.io"));
    mock.buy("ada", "dup.io").await;
    let order = |username: &str, domain: &str, platform: &str| json!({"mailboxes": [{"first_name": "A", "last_name": "B", "username": username, "platform": platform, "domain_name": domain}]});
    let duplicate = mock
        .rest(
            "POST",
            "/mailboxes/buy",
            Some(order("ada", "dup.io", "GOOGLE")),
        )
        .await;
    assert_eq!(
        (duplicate.status, duplicate.body["error"].clone()),
        (409, json!(true))
    );
    let unknown_domain = mock
        .rest(
            "POST",
            "/mailboxes/buy",
            Some(order("bob", "elsewhere.io", "GOOGLE")),
        )
        .await;
    // The domain a mailbox is bought on does not exist: 404, as for any unknown resource.
    assert_eq!(unknown_domain.status, 404);
    let bad_platform = mock
        .rest(
            "POST",
            "/mailboxes/buy",
            Some(order("bob", "dup.io", "YAHOO")),
        )
        .await;
    assert_eq!(bad_platform.status, 400);
    let list = mock.rest("POST", "/domains/list", Some(json!({}))).await;
    assert_eq!(
        list.body["pagination"]["total"], 1,
        "the failed batch registered nothing"
    );
    let mailboxes = mock
        .rest("POST", "/mailboxes/list", Some(json!({"keyword": "ada"})))
        .await;
    assert_eq!(mailboxes.body["pagination"]["total"], 1);
    assert!(
        mailboxes.body["mailboxes"][0].get("password").is_none(),
        "lists never show credentials"
    );
    mock.stop().await;
}

#[tokio::test]
async fn oversized_and_malformed_bodies_get_413_and_400() {
    let mock = Mock::start_with(13, |config| config.max_body_bytes = 4096).await;
    let names: Vec<_> = (0..500)
        .map(|i| json!({"name": format!("domain{i}.io")}))
        .collect();
    let big = mock
        .rest("POST", "/domains/register", Some(json!({"domains": names})))
        .await;
    assert_eq!(big.status, 413, "{big:?}");
    assert_eq!(big.body["error"], true);
    let control = mock
        .control(
            "POST",
            "/clock/advance",
            Some(json!({"by": "x".repeat(5000)})),
        )
        .await;
    assert_eq!(control.status, 413);
    assert_eq!(control.content_type, "application/problem+json");
    assert_eq!(control.body["code"], "payload_too_large");
    let malformed = mock
        .rest("POST", "/domains/register", Some(json!({"domain": []})))
        .await;
    assert_eq!(
        (malformed.status, malformed.body["error"].clone()),
        (400, json!(true))
    );
    mock.stop().await;
}

#[tokio::test]
async fn removing_a_domain_announces_deleted_and_hides_it_from_lists() {
    let mock = Mock::start(14).await;
    let uid = mock.register("gone.io").await;
    let early = mock
        .rest("POST", "/domains/remove", Some(json!({"uids": [uid]})))
        .await;
    assert_eq!(
        early.status, 409,
        "a domain still registering cannot be removed: {early:?}"
    );
    mock.advance("2m").await;
    mock.wait_terminal(1).await;
    let removed = mock
        .rest("POST", "/domains/remove", Some(json!({"uids": [uid]})))
        .await;
    assert_eq!(removed.status, 200, "{removed:?}");
    mock.wait_terminal(2).await;
    assert_eq!(
        statuses(&mock.received_about(&uid)),
        ["waiting_for_dns_propagation", "deleted"]
    );
    let list = mock
        .rest("POST", "/domains/list", Some(json!({"page": 1})))
        .await;
    assert_eq!(list.body["pagination"]["total"], 0);
    assert_eq!(
        mock.advance("1h").await,
        0,
        "the pending propagation step is stale after removal"
    );
    mock.stop().await;
}
