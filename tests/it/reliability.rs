//! Reliability: the admin token of the control API, secrets kept out of logs, and nothing lost
//! when 100,000 events meet a faulty subscriber.

use std::collections::{BTreeMap, HashSet};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use inboxkit_mock::contract::{EventType, PayloadShape, Secret, SignatureScheme, Signer};
use inboxkit_mock::delivery::{
    AttemptOutcome, Decision, DeliveryRecord, OutgoingEvent, RetryPolicy, Sender, SenderOptions,
    TerminalState,
};
use inboxkit_mock::receiver::{ChangeKey, FaultProgram, ReceiverConfig, RunningReceiver};
use inboxkit_mock::simulation::Clock;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::server::Mock;
use crate::support::{JsonAnswer, SECRET, event_of, subscriber};

const ADMIN_TOKEN: &str = "adm_0123456789abcdef";

#[tokio::test]
async fn the_admin_token_guards_every_control_route_but_the_probes() {
    let mock = Mock::start_with(70, |config| {
        config.admin_token = Some(Secret::new(ADMIN_TOKEN));
    })
    .await;
    // Probes stay open: orchestrators check them without credentials.
    for probe in ["/health", "/ready"] {
        let answer = mock.control("GET", probe, None).await;
        assert_eq!(answer.status, 200, "{probe}: {answer:?}");
    }
    let good = format!("Bearer {ADMIN_TOKEN}");
    let wrong = format!("Bearer {ADMIN_TOKEN}x");
    let short = format!("Bearer {}", &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1]);
    let routes: [(&str, &str, Option<Value>); 5] = [
        ("GET", "/clock", None),
        ("POST", "/clock/advance", Some(json!({"by": "1s"}))),
        ("GET", "/deliveries", None),
        ("GET", "/subscriber", None),
        ("GET", "/nothing/here", None),
    ];
    for (method, path, body) in &routes {
        let path = format!("/_mock{path}");
        for headers in [
            vec![],
            vec![("authorization", wrong.as_str())],
            vec![("authorization", short.as_str())],
            vec![("authorization", ADMIN_TOKEN)],
            vec![("authorization", "Bearer ")],
            // The REST API key is not the admin token.
            vec![("authorization", "Bearer ik_test_key")],
        ] {
            let answer = mock.call(method, &path, body.clone(), &headers).await;
            assert_eq!(
                answer.status, 401,
                "{method} {path} {headers:?}: {answer:?}"
            );
            assert_eq!(answer.content_type, "application/problem+json");
            assert_eq!(answer.body["code"], "admin_unauthorized");
            assert_eq!(
                answer.body["type"],
                "urn:inboxkit-mock:problem:admin_unauthorized"
            );
        }
    }
    let clock = mock
        .call("GET", "/_mock/clock", None, &[("authorization", &good)])
        .await;
    assert_eq!(clock.status, 200, "{clock:?}");
    let advanced = mock
        .call(
            "POST",
            "/_mock/clock/advance",
            Some(json!({"by": "1s"})),
            &[("authorization", &good)],
        )
        .await;
    assert_eq!(advanced.status, 200, "{advanced:?}");
    // The REST API keeps its own key and ignores the admin token.
    assert_eq!(mock.rest("GET", "/workspaces/list", None).await.status, 200);
    mock.stop().await;
}

#[tokio::test]
async fn without_an_admin_token_the_control_api_stays_open() {
    let mock = Mock::start(71).await;
    assert_eq!(mock.control("GET", "/clock", None).await.status, 200);
    mock.stop().await;
}

/// `serve` started as a child process; stderr (the log) is collected until it exits.
struct Served {
    child: Child,
    base: String,
    stderr: tokio::task::JoinHandle<String>,
}

impl Served {
    /// Starts `inboxkit-mock serve --port 0 ARGS` and waits for its listening line.
    async fn start(args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_inboxkit-mock"))
            .arg("serve")
            .args(["--port", "0"])
            .args(args)
            .env_remove("INBOXKIT_MOCK_LOG")
            .env_remove("INBOXKIT_MOCK_ADMIN_TOKEN")
            .env_remove("INBOXKIT_MOCK_SECRET")
            .env_remove("INBOXKIT_MOCK_API_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary runs");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let base = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(base) = line.split("listening on ").nth(1) {
                    return base.trim().to_owned();
                }
            }
            panic!("serve exited before listening");
        })
        .await
        .expect("serve listens within 30 s");
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Served {
            child,
            base,
            stderr,
        }
    }

    /// Stops it with SIGTERM (a graceful shutdown, which logs too) and returns its stderr.
    async fn stop(mut self) -> String {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        let waited = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
        if waited.is_err() {
            let _ = self.child.kill().await;
        }
        self.stderr.await.unwrap_or_default()
    }
}

#[tokio::test]
async fn serve_warns_when_exposed_without_an_admin_token() {
    let exposed = Served::start(&["--bind", "0.0.0.0", "--paused"]).await;
    let log = exposed.stop().await;
    assert!(
        log.contains("warning:") && log.contains("--admin-token"),
        "{log}"
    );
    let guarded = Served::start(&["--bind", "0.0.0.0", "--paused", "--admin-token", "t0k3n"]).await;
    let log = guarded.stop().await;
    assert!(!log.contains("--admin-token"), "{log}");
    let local = Served::start(&["--bind", "127.0.0.1", "--paused"]).await;
    let log = local.stop().await;
    assert!(!log.contains("--admin-token"), "{log}");
}

#[tokio::test]
async fn secrets_never_reach_the_log_even_at_trace_level() {
    let api_key = "ik_live_k3y_9f8e7d6c5b4a";
    let secret = "whsec_s3cr3t_0a1b2c3d4e5f";
    let admin = "adm_t0k3n_5e6f7a8b9c0d";
    let served = Served::start(&[
        "-vv",
        "--paused",
        "--seed",
        "5",
        "--api-key",
        api_key,
        "--secret",
        secret,
        "--admin-token",
        admin,
        "--start-time",
        "2024-01-10T15:30:45Z",
    ])
    .await;
    let client = reqwest::Client::new();
    let base = served.base.clone();
    let rest = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = client
            .request(method, format!("{base}/v1/api{path}"))
            .bearer_auth(api_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
    };
    let registered: Value = rest(
        reqwest::Method::POST,
        "/domains/register",
        Some(json!({"domains": [{"name": "quiet-logs.io", "registration_years": 1}]})),
    )
    .json_answer()
    .await;
    assert_eq!(registered["error"], false, "{registered}");
    let mut uids = Vec::new();
    for username in ["ada", "grace"] {
        let bought: Value = rest(
            reqwest::Method::POST,
            "/mailboxes/buy",
            Some(json!({"mailboxes": [{
                "first_name": "Ada", "last_name": "Lovelace", "username": username,
                "platform": "GOOGLE", "domain_name": "quiet-logs.io",
            }]})),
        )
        .json_answer()
        .await;
        let uid = bought["mailboxes"][0]["uid"].as_str().unwrap().to_owned();
        uids.push(uid);
    }
    // Walk every lifecycle to its end: webhooks with credentials in their bodies go out.
    for _ in 0..6 {
        let advanced = client
            .post(format!("{base}/_mock/clock/advance"))
            .bearer_auth(admin)
            .json(&json!({"by": "6h"}))
            .send()
            .await
            .unwrap();
        assert_eq!(advanced.status(), 200);
    }
    let mut passwords = Vec::new();
    for uid in &uids {
        let shown: Value = rest(
            reqwest::Method::GET,
            &format!("/mailboxes/show-credentials?uid={uid}"),
            None,
        )
        .json_answer()
        .await;
        let found: Vec<String> = ["password", "app_password", "secret"]
            .iter()
            .filter_map(|field| find_string(&shown, field))
            .filter(|value| value.len() >= 6)
            .collect();
        assert!(!found.is_empty(), "no credentials in {shown}");
        passwords.extend(found);
    }
    // Let the deliveries finish, so their attempts are logged too.
    let deliveries = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let page: Value = client
                .get(format!("{base}/_mock/deliveries?state=delivered"))
                .bearer_auth(admin)
                .json_answer()
                .await;
            let total = page["total"].as_u64().unwrap_or_default();
            if total >= 10 {
                return total;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the lifecycles' webhooks are delivered");
    let log = served.stop().await;
    assert!(
        log.contains("DEBUG") && log.contains("delivery"),
        "the log ran at debug level and covered deliveries: {log}"
    );
    let mut secrets = vec![api_key, secret, admin];
    secrets.extend(passwords.iter().map(String::as_str));
    for value in secrets {
        assert!(
            !log.contains(value),
            "`{value}` appears in the log ({} lines, {deliveries} deliveries)",
            log.lines().count()
        );
    }
}

/// The first string under `key` anywhere in `value`.
fn find_string(value: &Value, key: &str) -> Option<String> {
    match value {
        Value::Object(map) => map
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| map.values().find_map(|v| find_string(v, key))),
        Value::Array(items) => items.iter().find_map(|v| find_string(v, key)),
        _ => None,
    }
}

/// Events in the load test.
const LOAD_EVENTS: usize = 100_000;

/// Event `i` of the load mix, with a uid of its own so the receiver's dedupe keeps each one:
/// 0.5 % consent requests (the receiver delays them 0.5-1.5 s against a 1 s deadline), 1 %
/// client-ID requests (the receiver closes their connections), the rest domains and mailboxes.
fn load_event(i: usize, templates: &[(EventType, Value)]) -> OutgoingEvent {
    let kind = match i % 200 {
        0 => 2,
        1 | 101 => 3,
        n => n % 2,
    };
    let (event, template) = &templates[kind];
    let mut body = template.clone();
    let key = event.data_key().expect("documented events have a data key");
    let uid = body["data"][key]["uid"].as_str().unwrap_or_default();
    let prefix = uid.rsplit_once('-').map_or("entity", |(prefix, _)| prefix);
    body["data"][key]["uid"] = json!(format!("{prefix}-{i:012x}"));
    OutgoingEvent::from_json(serde_json::to_vec(&body).unwrap().into()).unwrap()
}

/// Checks one finished delivery against the policy; returns its terminal state.
fn check_against_policy(record: &DeliveryRecord, policy: &RetryPolicy) -> TerminalState {
    let terminal = record
        .state
        .terminal()
        .unwrap_or_else(|| panic!("{} is not terminal: {:?}", record.id, record.state));
    let attempts = &record.attempts;
    assert!(
        (1..=4).contains(&attempts.len()),
        "{} made {} attempts",
        record.id,
        attempts.len()
    );
    for (index, attempt) in attempts.iter().enumerate() {
        let number = u32::try_from(index + 1).unwrap();
        assert_eq!(attempt.number, number, "{}", record.id);
        let decision = policy.decide(number, attempt.outcome, 0.5);
        if index + 1 < attempts.len() {
            assert!(
                matches!(decision, Decision::RetryAfter(_)),
                "{}: attempt {number} ({}) should have ended it",
                record.id,
                attempt.outcome
            );
        } else {
            assert_eq!(
                decision,
                Decision::Finish(terminal),
                "{}: the last attempt ({}) did not decide {terminal}",
                record.id,
                attempt.outcome
            );
        }
    }
    if terminal == TerminalState::Exhausted {
        assert_eq!(attempts.len(), 4, "{} exhausted early", record.id);
    }
    terminal
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_events_through_faults_each_end_exactly_once() {
    let started = Instant::now();
    let faults: Vec<FaultProgram> = [
        "fail=12%:503",
        "fail=3%:422",
        "close:event=client_id_request.status_changed",
        "delay=500ms..1500ms:event=consent_request.status_changed",
    ]
    .iter()
    .map(|program| program.parse().unwrap())
    .collect();
    let receiver = RunningReceiver::start_local(ReceiverConfig {
        verifier: Some(Signer::new(SignatureScheme::HmacBody, Secret::new(SECRET))),
        capacity: Some(1000),
        faults,
        fault_seed: Some(7),
        ..ReceiverConfig::default()
    })
    .unwrap();
    // 1000x: the 1 s retry delays take 1 ms; the deadline is real time, 1 s (well above a
    // loaded debug build's latency, well below the consent requests' 1.5-3 s delay).
    let sender = Sender::new(
        Clock::scaled(1000.0).unwrap(),
        SenderOptions {
            journal_capacity: 1000,
            concurrency: 1024,
            jitter_seed: Some(7),
            ..SenderOptions::default()
        },
    )
    .unwrap();
    let policy = RetryPolicy::with_delays(vec![Duration::from_secs(1); 3]);
    let mut target = (*subscriber(receiver.webhook_url().as_str())).clone();
    target.timeout = Duration::from_secs(1);
    target.policy = policy.clone();
    let target = Arc::new(target);
    let templates: Vec<(EventType, Value)> = [
        EventType::DomainStatusChanged,
        EventType::MailboxStatusChanged,
        EventType::ConsentRequestStatusChanged,
        EventType::ClientIdRequestStatusChanged,
    ]
    .into_iter()
    .map(|event| {
        let body =
            serde_json::from_slice(event_of(event.clone(), PayloadShape::Seed).body()).unwrap();
        (event, body)
    })
    .collect();

    let mut ids = HashSet::with_capacity(LOAD_EVENTS);
    let mut terminal: BTreeMap<TerminalState, u64> = BTreeMap::new();
    let mut delivered_uids = Vec::new();
    let mut finished = stream::iter(0..LOAD_EVENTS)
        .map(|i| sender.deliver(target.clone(), load_event(i, &templates)))
        .buffer_unordered(512);
    while let Some(record) = finished.next().await {
        let state = check_against_policy(&record, &policy);
        assert!(
            ids.insert(record.id.clone()),
            "{} finished twice",
            record.id
        );
        *terminal.entry(state).or_default() += 1;
        if state == TerminalState::Delivered {
            delivered_uids.push((record.entity_uid.unwrap(), record.status.unwrap()));
        }
    }
    drop(finished);
    sender.drain().await;

    let counters = sender.journal().counters();
    assert_eq!(ids.len(), LOAD_EVENTS);
    assert_eq!(counters.events, LOAD_EVENTS as u64);
    assert_eq!(counters.terminal, terminal, "the journal agrees");
    assert_eq!(terminal.values().sum::<u64>(), LOAD_EVENTS as u64);
    assert_eq!(counters.in_progress(), 0);
    // Every event the sender calls delivered was processed by the receiver (nothing lost).
    let store = receiver.store();
    // Each event keeps its template's previous status and timestamp (only the uid differs).
    let template_of = |uid: &str| {
        templates.iter().map(|(_, body)| body).find(|body| {
            let data = &body["data"];
            let key = ["domain", "mailbox", "consent_request", "client_id_request"]
                .into_iter()
                .find(|k| data.get(*k).is_some())
                .unwrap();
            let template_uid = data[key]["uid"].as_str().unwrap();
            template_uid.rsplit_once('-').map(|(p, _)| p) == uid.rsplit_once('-').map(|(p, _)| p)
        })
    };
    let lost = delivered_uids
        .iter()
        .filter(|(uid, status)| {
            let body = template_of(uid).expect("every uid comes from a template");
            let entity = body["data"]
                .as_object()
                .and_then(|d| d.values().find(|v| v.get("uid").is_some()))
                .unwrap();
            store.first_sighting(&ChangeKey {
                uid,
                status,
                previous_status: entity["previous_status"].as_str(),
                timestamp: body["timestamp"].as_str(),
            })
        })
        .count();
    assert_eq!(lost, 0, "delivered but never processed");
    // Every kind of fault was injected and seen.
    for outcome in [
        AttemptOutcome::Http5xx,
        AttemptOutcome::Http4xx,
        AttemptOutcome::Timeout,
        AttemptOutcome::ConnectionClosed,
    ] {
        assert!(
            counters.attempts.get(&outcome).copied().unwrap_or_default() > 0,
            "no {outcome} attempts: {:?}",
            counters.attempts
        );
    }
    for state in TerminalState::ALL {
        assert!(
            terminal.get(&state).copied().unwrap_or_default() > 0,
            "no {state}"
        );
    }
    println!(
        "load tally: {LOAD_EVENTS} events, {} attempts in {:.1?}; requests received {}",
        counters.attempts_total(),
        started.elapsed(),
        store.count()
    );
    for (outcome, count) in &counters.attempts {
        println!("  attempt outcome {outcome:<22} {count}");
    }
    for (state, count) in &terminal {
        println!("  terminal state  {state:<22} {count}");
    }
    receiver.stop().await;
}
