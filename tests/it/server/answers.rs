//! Every REST route, journal route and subscriber settings route, called over loopback under
//! both profiles, answers what the served OpenAPI document describes (checked by the
//! `jsonschema` crate, not by the code that wrote the document), and the document is strict
//! enough that an answer with one field more or one field less would fail. So does the 401 of a
//! wrong API key, whose shape follows the profile.

use serde_json::{Value, json};

use super::{API_KEY, Mock, WEBHOOK_SECRET};

/// The documented schema of `method template`'s answer with `status`, a response `$ref`
/// followed.
fn documented(document: &Value, method: &str, template: &str, status: u16) -> Value {
    let mut response =
        &document["paths"][template][method.to_lowercase()]["responses"][status.to_string()];
    if let Some(reference) = response["$ref"].as_str() {
        let name = reference
            .strip_prefix("#/components/responses/")
            .expect("a response reference");
        response = &document["components"]["responses"][name];
    }
    let schema = response["content"]["application/json"]["schema"].clone();
    assert!(
        schema.as_object().is_some_and(|s| !s.is_empty()),
        "{method} {template} documents its {status} answer as any JSON: {schema}"
    );
    schema
}

/// Validates `answer` against the documented `status` answer of `method template`.
fn errors(
    document: &Value,
    method: &str,
    template: &str,
    status: u16,
    answer: &Value,
) -> Vec<String> {
    let mut schema = documented(document, method, template, status);
    schema["components"] = document["components"].clone();
    let validator = jsonschema::validator_for(&schema).expect("a valid draft 2020-12 schema");
    validator
        .iter_errors(answer)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// One answer, checked: `status` as expected, valid, and no longer valid with a field taken
/// away (or, when `closed`, one added).
fn check_answer(
    document: &Value,
    (method, template): (&str, &str),
    (expected, status): (u16, u16),
    answer: &Value,
    closed: bool,
) {
    assert_eq!(status, expected, "{method} {template}: {answer}");
    let found = errors(document, method, template, status, answer);
    assert!(
        found.is_empty(),
        "{method} {template} answered {answer}: {found:?}"
    );
    if closed {
        let mut more = answer.clone();
        more["undocumented"] = json!(1);
        assert!(
            !errors(document, method, template, status, &more).is_empty(),
            "{method} {template}: a field the document does not describe went unnoticed"
        );
    }
    let fields = answer.as_object().expect("an object answer");
    for field in fields.keys() {
        let mut less = answer.clone();
        less.as_object_mut().unwrap().remove(field);
        assert!(
            !errors(document, method, template, status, &less).is_empty(),
            "{method} {template}: `{field}` left out went unnoticed"
        );
    }
}

/// One success answer, checked: 200, valid, and closed both ways.
fn check(document: &Value, method: &str, template: &str, status: u16, answer: &Value) {
    check_answer(document, (method, template), (200, status), answer, true);
}

/// Calls every REST route, journal route and subscriber settings route once under `profile`
/// (the settings route twice more), and a REST route with a wrong and with no API key; returns
/// how many answers were checked.
async fn every_route(profile: &str) -> usize {
    let mock = Mock::start(40).await;
    let document = mock.control("GET", "/openapi.json", None).await.body;
    let mut checked = 0;
    let mut settings = async |method: &str, body: Option<Value>| {
        let answer = mock.control(method, "/subscriber", body).await;
        check(
            &document,
            method,
            "/_mock/subscriber",
            answer.status,
            &answer.body,
        );
        let text = answer.body.to_string();
        assert!(
            !text.contains(WEBHOOK_SECRET) && !text.contains(API_KEY) && !text.contains("tok_"),
            "a secret shows: {text}"
        );
        checked += 1;
        answer.body
    };
    let put = settings("PUT", Some(json!({"profile": profile}))).await;
    assert_eq!(put["profile"], profile, "{put}");
    // Every secret set, a URL, and back to the profile's scheme: nothing but `<redacted>` shows.
    let put = settings(
        "PUT",
        Some(
            json!({"url": "http://127.0.0.1:9/hook", "secret": "whsec_other",
            "api_key": "ik_other", "auth_token": "tok_other", "send_authorization": true,
            "retry_delays": ["1s", "2s"], "timeout": "5s", "profile": profile}),
        ),
    )
    .await;
    assert_eq!(
        (&put["secret"], &put["auth_token"], &put["url"]),
        (
            &json!("<redacted>"),
            &json!("<redacted>"),
            &json!("http://127.0.0.1:9/hook")
        ),
        "{put}"
    );
    // Back to the profile's settings and the mock's keys (the receiver checks signatures).
    let scheme = match profile {
        "seed" => "hmac-body",
        _ => "api-key-sha256",
    };
    let put = settings(
        "PUT",
        Some(
            json!({"profile": profile, "url": null, "secret": WEBHOOK_SECRET,
            "api_key": API_KEY, "auth_token": API_KEY, "signature_scheme": scheme,
            "retry_delays": "10s,30s,60s"}),
        ),
    )
    .await;
    let token = match profile {
        "seed" => json!("<redacted>"),
        _ => Value::Null,
    };
    assert_eq!(
        (&put["url"], &put["auth_token"], &put["signature_scheme"]),
        (&Value::Null, &token, &json!(scheme)),
        "{put}"
    );
    let shown = settings("GET", None).await;
    assert_eq!(shown, put, "GET shows what PUT answered");

    // A wrong key and no key: InboxKit's envelope under `seed`, the live 401 under `current`.
    for headers in [&[("authorization", "Bearer ik_wrong")][..], &[]] {
        let answer = mock
            .call("POST", "/v1/api/domains/list", Some(json!({})), headers)
            .await;
        check_answer(
            &document,
            ("POST", "/v1/api/domains/list"),
            (401, answer.status),
            &answer.body,
            profile == "current",
        );
        let shape = match profile {
            "seed" => answer.body["error"] == true && answer.body.get("code").is_none(),
            _ => answer.body["code"] == 401 && answer.body.get("error").is_none(),
        };
        assert!(shape, "{profile}'s 401: {}", answer.body);
        checked += 1;
    }
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
async fn every_rest_journal_and_settings_answer_matches_the_served_document_under_both_profiles() {
    // 4 settings answers, 2 unauthorized, 14 REST routes and 4 journal routes (one twice).
    assert_eq!(every_route("seed").await, 25);
    assert_eq!(every_route("current").await, 25);
}
