//! Hostile input: property tests that the scenario parser, signature verification and the JSON
//! APIs never panic and never answer 5xx, and that oversized bodies are refused with 413.
//!
//! Case counts: 100,000 each for the parser and signature targets; the API targets go through
//! the real route table in-process (`build_app` + `init_service`) and run 20,000 cases each
//! ([`API_CASES`]): the cases register domains and buy mailboxes, so the world and the journal
//! grow and list/redeliver calls get slower; 20,000 take about 2 s per API in a debug build,
//! 100,000 took over 10 minutes.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::rt::{System, SystemRunner};
use actix_web::test as web_test;
use inboxkit_mock::contract::{Secret, SignatureScheme, Signer};
use inboxkit_mock::receiver::{MAX_BODY_BYTES, ReceiverConfig, RunningReceiver};
use inboxkit_mock::scenario::Scenario;
use inboxkit_mock::server::{RunningServer, ServerConfig, build_app};
use inboxkit_mock::simulation::Clock;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

#[path = "../../fuzz/fuzz_targets/routes.rs"]
mod routes;

/// Cases of the parser and signature properties.
const CASES: u32 = 100_000;
/// Cases of each API property (each one is a full request through the route table).
const API_CASES: u32 = 20_000;
/// The body limit of the API test servers.
const SMALL_LIMIT: usize = 4096;
/// The team API key of the API test servers.
const API_KEY: &str = "ik_hostile_key";

/// The shipped scenario files, the starting points of mutations.
const SCENARIOS: [&str; 4] = [
    include_str!("../../scenarios/duplicates-and-reordering.toml"),
    include_str!("../../scenarios/load-1k-per-second.toml"),
    include_str!("../../scenarios/retry-storm.toml"),
    include_str!("../../scenarios/soak.toml"),
];

fn config(cases: u32) -> ProptestConfig {
    // A failure's seed is kept in proptest-regressions/ (committed) and replayed first on
    // every later run, so a case that once failed is always tried again.
    ProptestConfig::with_cases(cases)
}

/// One edit of a text: where (a fraction of its length) and what.
#[derive(Debug, Clone)]
enum Edit {
    Delete(f64, usize),
    Insert(f64, String),
    DuplicateLine(f64),
    SwapLines(f64, f64),
    Truncate(f64),
}

fn edit() -> impl Strategy<Value = Edit> {
    let fraction = 0.0..1.0f64;
    let fragment = prop_oneof![
        "\\PC{0,12}",
        Just("\n[[load]]\n".to_owned()),
        Just("\n[target]\n".to_owned()),
        Just(" = ".to_owned()),
        Just("\"".to_owned()),
        Just("'''".to_owned()),
        Just("-1".to_owned()),
        Just("1e309".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("\"0s\"".to_owned()),
        Just("\"999999999999y\"".to_owned()),
        Just("nan".to_owned()),
        Just("[".to_owned()),
        Just("{".to_owned()),
    ];
    prop_oneof![
        (fraction.clone(), 0..40usize).prop_map(|(at, len)| Edit::Delete(at, len)),
        (fraction.clone(), fragment).prop_map(|(at, text)| Edit::Insert(at, text)),
        fraction.clone().prop_map(Edit::DuplicateLine),
        (fraction.clone(), fraction.clone()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        fraction.prop_map(Edit::Truncate),
    ]
}

/// The char boundary nearest below `fraction` of `text`'s length.
fn boundary(text: &str, fraction: f64) -> usize {
    let mut at = ((text.len() as f64) * fraction) as usize;
    while at > 0 && !text.is_char_boundary(at.min(text.len())) {
        at -= 1;
    }
    at.min(text.len())
}

fn apply(text: &mut String, edit: &Edit) {
    match edit {
        Edit::Delete(at, len) => {
            let start = boundary(text, *at);
            let mut end = (start + len).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.replace_range(start..end, "");
        }
        Edit::Insert(at, fragment) => {
            let at = boundary(text, *at);
            text.insert_str(at, fragment);
        }
        Edit::DuplicateLine(at) => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let index = ((lines.len() as f64) * at) as usize % lines.len();
                lines.insert(index, lines[index]);
            }
            *text = lines.join("\n");
        }
        Edit::SwapLines(a, b) => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let a = ((lines.len() as f64) * a) as usize % lines.len();
                let b = ((lines.len() as f64) * b) as usize % lines.len();
                lines.swap(a, b);
            }
            *text = lines.join("\n");
        }
        Edit::Truncate(at) => {
            let at = boundary(text, *at);
            text.truncate(at);
        }
    }
}

#[test]
fn the_shipped_scenarios_parse() {
    for text in SCENARIOS {
        Scenario::parse(text, Path::new("shipped.toml")).unwrap();
    }
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn the_scenario_parser_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        let _ = Scenario::parse(&text, Path::new("arbitrary.toml"));
    }

    #[test]
    fn the_scenario_parser_never_panics_on_mutated_scenarios(
        file in 0..SCENARIOS.len(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let mut text = SCENARIOS[file].to_owned();
        for edit in &edits {
            apply(&mut text, edit);
        }
        let _ = Scenario::parse(&text, Path::new("mutated.toml"));
    }

    #[test]
    fn signature_verification_never_panics_and_accepts_only_matching_values(
        body in prop::collection::vec(any::<u8>(), 0..256),
        key in "\\PC{0,40}",
        header in prop_oneof![
            Just(None),
            "\\PC{0,80}".prop_map(Some),
            "[0-9a-fA-FxX=]{0,70}".prop_map(|h| Some(format!("sha256={h}"))),
            "[0-9a-f]{64}".prop_map(|h| Some(format!("sha256={h}"))),
        ],
        hmac in any::<bool>(),
    ) {
        let scheme = if hmac { SignatureScheme::HmacBody } else { SignatureScheme::ApiKeySha256 };
        let signer = Signer::new(scheme, Secret::new(key));
        let right = signer.sign(&body);
        prop_assert!(signer.verify(&body, Some(&right)).is_ok());
        prop_assert!(signer.verify(&body, Some(&right.to_uppercase().replace("SHA256=", "sha256="))).is_ok());
        if let Ok(()) = signer.verify(&body, header.as_deref()) {
            let given = header.unwrap_or_default().trim().to_ascii_lowercase();
            prop_assert_eq!(given, right);
        }
    }
}

/// A JSON value of any shape, with the field names and values the APIs know mixed in so that
/// cases get past deserialization into the handlers.
fn json_value() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "by",
        "scale",
        "event",
        "uid",
        "uids",
        "set",
        "workspace_id",
        "to",
        "domains",
        "name",
        "registration_years",
        "mailboxes",
        "first_name",
        "last_name",
        "username",
        "platform",
        "domain_name",
        "page",
        "limit",
        "keyword",
        "webhook_url",
        "secret",
        "url",
        "profile",
        "payload_shape",
        "signature_scheme",
        "timeout",
        "retry_delays",
        "state",
        "ids",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,24}".prop_map(Value::from),
        prop::sample::select(vec![
            "10s",
            "0s",
            "-1s",
            "99999999999999y",
            "1ns",
            "domain.status_changed",
            "mailbox.status_changed",
            "consent_request.status_changed",
            "active",
            "deleted",
            "GOOGLE",
            "example.com",
            "http://127.0.0.1:9/webhook",
            "ftp://x",
            "seed",
            "current",
            "hmac-body",
            "data.domain.status=active",
            "data.domain=null",
            "",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((names.clone(), inner), 0..6).prop_map(|fields| {
                Value::Object(
                    fields
                        .into_iter()
                        .map(|(name, value)| (name.to_owned(), value))
                        .collect(),
                )
            }),
        ]
    })
}

/// Starts a mock (paused clock, no built-in receiver, a small body limit) on `system`.
fn hostile_server(system: &SystemRunner) -> RunningServer {
    system.block_on(async {
        let clock = Clock::scaled(1.0).unwrap();
        clock.pause();
        let mut config = ServerConfig::new(
            99,
            clock,
            Secret::new(API_KEY),
            Secret::new("whsec_hostile"),
        );
        config.builtin_receiver = false;
        config.max_body_bytes = SMALL_LIMIT;
        RunningServer::start(TcpListener::bind("127.0.0.1:0").unwrap(), config).unwrap()
    })
}

/// Sends arbitrary JSON bodies to `routes` through the real route table; every answer must be
/// 2xx or 4xx.
fn api_never_fails(routes: &[(&str, &str)], rest: bool) {
    let system = System::new();
    let server = hostile_server(&system);
    let app = system.block_on(web_test::init_service(build_app(server.app_data())));
    let mut runner = TestRunner::new(config(API_CASES));
    let strategy = (0..routes.len(), json_value(), any::<bool>());
    let started = std::time::Instant::now();
    runner
        .run(&strategy, |(route, body, as_text)| {
            let (method, path) = routes[route];
            let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
            let mut request = web_test::TestRequest::default()
                .method(method)
                .uri(path)
                .insert_header(("authorization", format!("Bearer {API_KEY}")));
            request = if as_text {
                // The same value, sent as a JSON body.
                request
                    .insert_header(("content-type", "application/json"))
                    .set_payload(body.to_string())
            } else {
                request.set_json(&body)
            };
            let status = system.block_on(async {
                web_test::call_service(&app, request.to_request())
                    .await
                    .status()
            });
            prop_assert!(
                status.is_success() || status.is_client_error(),
                "{} {path} with {body} answered {status}",
                routes[route].0
            );
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!(
        "{} cases through {} routes ({}) in {:.1?}",
        API_CASES,
        routes.len(),
        if rest { "REST" } else { "control" },
        started.elapsed()
    );
    system.block_on(server.shutdown(Duration::from_millis(100)));
}

#[test]
fn the_control_api_answers_arbitrary_json_with_2xx_or_4xx() {
    api_never_fails(&routes::CONTROL, false);
}

#[test]
fn the_rest_api_answers_arbitrary_json_with_2xx_or_4xx() {
    api_never_fails(&routes::REST, true);
}

/// A JSON document of exactly `size` bytes: `{"pad":"xxx..."}`.
fn padded_json(size: usize) -> String {
    let overhead = r#"{"pad":""}"#.len();
    format!(
        r#"{{"pad":"{}"}}"#,
        "x".repeat(size.saturating_sub(overhead))
    )
}

#[test]
fn oversized_bodies_get_413_from_both_apis() {
    let system = System::new();
    let server = hostile_server(&system);
    let app = system.block_on(web_test::init_service(build_app(server.app_data())));
    for size in [SMALL_LIMIT + 1, SMALL_LIMIT * 2, SMALL_LIMIT * 64] {
        for (path, problem) in [
            ("/_mock/events", true),
            ("/_mock/clock/advance", true),
            ("/v1/api/domains/register", false),
            ("/v1/api/mailboxes/buy", false),
        ] {
            let request = web_test::TestRequest::post()
                .uri(path)
                .insert_header(("authorization", format!("Bearer {API_KEY}")))
                .insert_header(("content-type", "application/json"))
                .set_payload(padded_json(size))
                .to_request();
            let (status, body) = system.block_on(async {
                let response = web_test::call_service(&app, request).await;
                let status = response.status();
                (status, web_test::read_body(response).await)
            });
            assert_eq!(
                status,
                StatusCode::PAYLOAD_TOO_LARGE,
                "{path} with {size} bytes"
            );
            let body: Value = serde_json::from_slice(&body).unwrap();
            if problem {
                assert_eq!(body["code"], "payload_too_large", "{body}");
            } else {
                assert_eq!(body["error"], true, "{body}");
            }
        }
    }
    // Just under the limit is parsed (and refused for its content, not its size).
    let request = web_test::TestRequest::post()
        .uri("/_mock/events")
        .insert_header(("content-type", "application/json"))
        .set_payload(padded_json(SMALL_LIMIT))
        .to_request();
    let status = system.block_on(async { web_test::call_service(&app, request).await.status() });
    assert_eq!(status, StatusCode::BAD_REQUEST);
    system.block_on(server.shutdown(Duration::from_millis(100)));
}

#[tokio::test]
async fn oversized_bodies_get_413_from_the_receiver() {
    let receiver = RunningReceiver::start_local(ReceiverConfig::default()).unwrap();
    let client = reqwest::Client::new();
    for size in [MAX_BODY_BYTES + 1, MAX_BODY_BYTES * 3] {
        let answer = client
            .post(receiver.webhook_url())
            .header("content-type", "application/json")
            .body(padded_json(size))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 413, "{size} bytes");
    }
    let recorded = receiver.store().count();
    assert_eq!(recorded, 0, "oversized requests are not recorded");
    receiver.stop().await;
}
