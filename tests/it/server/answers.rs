//! Every REST route and journal route, called over loopback under both profiles, answers what
//! the served OpenAPI document describes (checked by the `jsonschema` crate, not by the code
//! that wrote the document), and the document is strict enough that an answer with one field
//! more or one field less would fail.

use serde_json::{Value, json};

use super::Mock;

/// Validates `answer` against the documented 200 answer of `method template`.
fn errors(document: &Value, method: &str, template: &str, answer: &Value) -> Vec<String> {
    let mut schema = document["paths"][template][method.to_lowercase()]["responses"]["200"]
        ["content"]["application/json"]["schema"]
        .clone();
    assert!(
        schema.as_object().is_some_and(|s| !s.is_empty()),
        "{method} {template} documents its answer as any JSON: {schema}"
    );
    schema["components"] = document["components"].clone();
    let validator = jsonschema::validator_for(&schema).expect("a valid draft 2020-12 schema");
    validator
        .iter_errors(answer)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// One answer, checked: 200, valid, and no longer valid with a field added or one taken away.
fn check(document: &Value, method: &str, template: &str, status: u16, answer: &Value) {
    assert_eq!(status, 200, "{method} {template}: {answer}");
    let found = errors(document, method, template, answer);
    assert!(
        found.is_empty(),
        "{method} {template} answered {answer}: {found:?}"
    );
    let mut more = answer.clone();
    more["undocumented"] = json!(1);
    assert!(
        !errors(document, method, template, &more).is_empty(),
        "{method} {template}: a field the document does not describe went unnoticed"
    );
    let fields = answer.as_object().expect("an object answer");
    for field in fields.keys() {
        let mut less = answer.clone();
        less.as_object_mut().unwrap().remove(field);
        assert!(
            !errors(document, method, template, &less).is_empty(),
            "{method} {template}: `{field}` left out went unnoticed"
        );
    }
}

/// Calls every REST route and journal route once under `profile`; returns how many answers
/// were checked.
async fn every_route(profile: &str) -> usize {
    let mock = Mock::start(40).await;
    let put = mock
        .control("PUT", "/subscriber", Some(json!({"profile": profile})))
        .await;
    assert_eq!(put.status, 200, "{put:?}");
    let document = mock.control("GET", "/openapi.json", None).await.body;
    let mut checked = 0;
    let mut rest = async |method: &str, path: &str, body: Option<Value>| {
        let answer = mock.rest(method, path, body).await;
        let template = path.split('?').next().unwrap();
        check(
            &document,
            method,
            &format!("/v1/api{template}"),
            answer.status,
            &answer.body,
        );
        checked += 1;
        answer.body
    };
    let workspace = mock.workspace_id();
    let url = mock.receiver.webhook_url().to_string();
    rest(
        "POST",
        "/workspaces/webhook",
        Some(json!({"uid": workspace, "webhook_url": url})),
    )
    .await;
    let registered = rest(
        "POST",
        "/domains/register",
        Some(json!({"domains": [{"name": "typed.io", "registration_years": 2}]})),
    )
    .await;
    assert!(registered["domain_uids"][0].is_string(), "{registered}");
    let connected = rest(
        "POST",
        "/domains/connect",
        Some(json!({"domains": [{"name": "owned.io"}]})),
    )
    .await;
    let owned = connected["domain_uids"][0].as_str().unwrap().to_owned();
    rest("POST", "/domains/nameservers", Some(json!({"uid": owned}))).await;
    rest(
        "POST",
        "/domains/check-nameservers",
        Some(json!({"uid": owned})),
    )
    .await;
    mock.advance("20m").await;
    rest("GET", "/workspaces/list", None).await;
    rest("POST", "/domains/list", Some(json!({"limit": 5}))).await;
    let bought = rest(
        "POST",
        "/mailboxes/buy",
        Some(
            json!({"mailboxes": [{"first_name": "Ada", "last_name": "Lovelace",
            "username": "ada", "platform": "GOOGLE", "domain_name": "typed.io"}]}),
        ),
    )
    .await;
    let mailbox = bought["mailboxes"][0]["uid"].as_str().unwrap().to_owned();
    mock.advance("1h").await;
    rest("POST", "/mailboxes/list", Some(json!({}))).await;
    rest(
        "POST",
        "/mailboxes/status",
        Some(json!({"uids": [mailbox]})),
    )
    .await;
    rest(
        "GET",
        &format!("/mailboxes/show-credentials?uid={mailbox}"),
        None,
    )
    .await;
    rest(
        "POST",
        "/mailboxes/cancel",
        Some(json!({"uids": [mailbox]})),
    )
    .await;
    rest(
        "POST",
        "/mailboxes/uncancel",
        Some(json!({"uids": [mailbox]})),
    )
    .await;
    rest("POST", "/domains/remove", Some(json!({"uids": [owned]}))).await;

    let mut control = async |method: &str, path: &str, template: &str, body: Option<Value>| {
        let answer = mock.control(method, path, body).await;
        check(
            &document,
            method,
            &format!("/_mock{template}"),
            answer.status,
            &answer.body,
        );
        checked += 1;
        answer.body
    };
    let listed = control("GET", "/deliveries?limit=5", "/deliveries", None).await;
    let id = listed["deliveries"][0]["id"].as_str().unwrap().to_owned();
    control(
        "GET",
        &format!("/deliveries/{id}"),
        "/deliveries/{id}",
        None,
    )
    .await;
    control(
        "POST",
        &format!("/deliveries/{id}/redeliver"),
        "/deliveries/{id}/redeliver",
        None,
    )
    .await;
    // The full record again, now with a manual attempt beside the scheduled ones.
    control(
        "GET",
        &format!("/deliveries/{id}"),
        "/deliveries/{id}",
        None,
    )
    .await;
    control(
        "POST",
        "/deliveries/redeliver",
        "/deliveries/redeliver",
        Some(json!({"limit": 2})),
    )
    .await;
    mock.stop().await;
    checked
}

#[tokio::test]
async fn every_rest_and_journal_answer_matches_the_served_document_under_both_profiles() {
    // 14 REST routes and 4 journal routes (one twice).
    assert_eq!(every_route("seed").await, 19);
    assert_eq!(every_route("current").await, 19);
}
