//! `serve --state sqlite:PATH`: the real binary is killed with SIGKILL while retries are pending,
//! restarted on the same file, and every event still ends in exactly one terminal state with
//! the policy's attempt count; a duplicate after the crash is allowed and counted, a loss is not.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inboxkit_mock::persistence::StateStore;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::JsonAnswer;

mod full_disk;
mod graceful;
mod world;

/// Events triggered before the kill.
const EVENTS: usize = 300;
/// 20 simulated seconds per real second: retries wait 0.5 s, 1.5 s and 3 s of real time.
const SCALE: &str = "20";
/// How long the subscriber holds each answer, so some attempts are in flight at the kill.
const ANSWER_DELAY: Duration = Duration::from_millis(40);

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The subscriber's answer to attempt `attempt` of delivery `id`, the same every time it is
/// asked: one delivery in ten is refused (400), otherwise each attempt fails (503) 60% of the
/// time, so deliveries end delivered after 1 to 4 attempts or exhausted after 4.
fn answer(id: &str, attempt: u32) -> u16 {
    if fnv(id).is_multiple_of(10) {
        400
    } else if fnv(&format!("{id}/{attempt}")) % 100 < 60 {
        503
    } else {
        200
    }
}

/// The terminal state and attempt count the policy gives a delivery under [`answer`].
fn expected(id: &str) -> (&'static str, u32) {
    if answer(id, 1) == 400 {
        return ("rejected", 1);
    }
    match (1..=4).find(|n| answer(id, *n) == 200) {
        Some(n) => ("delivered", n),
        None => ("exhausted", 4),
    }
}

/// Counts every (delivery, attempt number) it receives and answers by [`answer`].
#[derive(Clone, Default)]
struct Flaky {
    seen: Arc<Mutex<HashMap<(String, u32), u32>>>,
}

impl Respond for Flaky {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let id = header("x-inboxkit-mock-delivery");
        let attempt: u32 = header("x-inboxkit-mock-attempt").parse().unwrap_or(0);
        *self
            .seen
            .lock()
            .unwrap()
            .entry((id.clone(), attempt))
            .or_default() += 1;
        ResponseTemplate::new(answer(&id, attempt)).set_delay(ANSWER_DELAY)
    }
}

/// A `serve` process on a free port; stdout is drained so the pipe never fills.
struct Serve {
    child: Child,
    base: String,
}

impl Serve {
    fn start(state: &Path, webhook: &str, log: &Path) -> Serve {
        Serve::start_with(
            state,
            log,
            &["--webhook-url", webhook, "--time-scale", SCALE],
        )
    }

    fn start_with(state: &Path, log: &Path, extra: &[&str]) -> Serve {
        let mut command = Command::new(env!("CARGO_BIN_EXE_inboxkit-mock"));
        for (name, _) in std::env::vars() {
            if name.starts_with("INBOXKIT_MOCK_") {
                command.env_remove(name);
            }
        }
        let state = format!("sqlite:{}", state.display());
        let mut child = command
            .args(["serve", "--port", "0", "--state", &state, "--seed", "7"])
            .args(["--secret", "whsec_persist", "--api-key", "ik_persist"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("the binary runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("serve exited early; see {}", log.display()))
                .unwrap();
            if let Some(base) = line.strip_prefix("inboxkit-mock serve: listening on ") {
                break base.trim().to_owned();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        Serve { child, base }
    }

    /// SIGKILL: no shutdown, no last flush.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

async fn metric(http: &reqwest::Client, base: &str, name: &str) -> u64 {
    let text = http
        .get(format!("{base}/_mock/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
}

async fn get_json(http: &reqwest::Client, url: String) -> Value {
    http.get(url).json_answer().await
}

pub(crate) fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "inboxkit-mock-persist-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_resumes_every_event_to_one_terminal_state() {
    let subscriber = MockServer::start().await;
    let flaky = Flaky::default();
    Mock::given(method("POST"))
        .respond_with(flaky.clone())
        .mount(&subscriber)
        .await;
    let webhook = format!("{}/webhook", subscriber.uri());
    let dir = temp_dir();
    let db = dir.join("state.db");
    let http = reqwest::Client::new();

    // Run 1: trigger, let retries get going, kill.
    let first = Serve::start(&db, &webhook, &dir.join("run1.log"));
    let mut triggered = Vec::new();
    for n in 0..EVENTS {
        let event = ["domain.status_changed", "mailbox.status_changed"][n % 2];
        let answer: Value = http
            .post(format!("{}/_mock/events", first.base))
            .json(&json!({ "event": event }))
            .json_answer()
            .await;
        triggered.push(answer["delivery_id"].as_str().unwrap().to_owned());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let open_before_kill = metric(&http, &first.base, "inboxkit_mock_deliveries_in_progress").await;
    assert!(open_before_kill > 0, "retries were pending at the kill");
    first.kill();

    // What the file holds at the kill.
    let saved = StateStore::open(&db).unwrap().load().unwrap();
    let pending_at_kill = saved
        .deliveries
        .iter()
        .filter(|d| d.record.state.terminal().is_none())
        .count() as u64;
    let in_flight_at_kill = saved.deliveries.iter().filter(|d| d.in_flight()).count() as u64;
    assert_eq!(
        saved.deliveries.len(),
        EVENTS,
        "every accepted event was saved"
    );
    assert!(pending_at_kill > 0, "some deliveries were not terminal");

    // Run 2: same file, wait until everything is terminal.
    let second = Serve::start(&db, &webhook, &dir.join("run2.log"));
    let started = Instant::now();
    while metric(&http, &second.base, "inboxkit_mock_deliveries_in_progress").await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "deliveries still open after a minute; see {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resumed = metric(
        &http,
        &second.base,
        "inboxkit_mock_deliveries_resumed_total",
    )
    .await;
    let duplicates = metric(
        &http,
        &second.base,
        "inboxkit_mock_duplicates_after_crash_total",
    )
    .await;
    assert_eq!(
        resumed, pending_at_kill,
        "every unfinished delivery resumed"
    );
    assert_eq!(
        duplicates, in_flight_at_kill,
        "every in-flight attempt is counted"
    );

    // Every triggered event is in the journal exactly once, terminal, with the policy's count.
    let listing = get_json(
        &http,
        format!("{}/_mock/deliveries?limit=1000", second.base),
    )
    .await;
    assert_eq!(listing["total"], EVENTS, "no event lost or added");
    let listed: Vec<&str> = listing["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    let listed_set: HashSet<&str> = listed.iter().copied().collect();
    assert_eq!(listed_set.len(), EVENTS, "each delivery listed once");
    assert_eq!(
        listed_set,
        triggered.iter().map(String::as_str).collect::<HashSet<_>>()
    );

    let seen = flaky.seen.lock().unwrap().clone();
    let mut states: HashMap<String, u64> = HashMap::new();
    let (mut attempts, mut flagged, mut subscriber_duplicates) = (0u64, 0u64, 0u64);
    for id in &triggered {
        let record = get_json(&http, format!("{}/_mock/deliveries/{id}", second.base)).await;
        let state = record["state"].as_str().unwrap().to_owned();
        let numbers: Vec<u32> = record["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["number"].as_u64().unwrap() as u32)
            .collect();
        let (want_state, want_attempts) = expected(id);
        assert_eq!(
            (state.as_str(), numbers.clone()),
            (want_state, (1..=want_attempts).collect::<Vec<_>>()),
            "{id}: one terminal state after the policy's attempts, each number once"
        );
        *states.entry(state).or_default() += 1;
        attempts += numbers.len() as u64;
        let resent: HashSet<u32> = record["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["resent_after_crash"] == true)
            .map(|a| a["number"].as_u64().unwrap() as u32)
            .collect();
        flagged += resent.len() as u64;
        for number in 1..=want_attempts {
            let times = seen.get(&(id.clone(), number)).copied().unwrap_or(0);
            assert!(
                times >= 1,
                "{id}: attempt {number} never reached the subscriber"
            );
            if times > 1 {
                assert!(
                    resent.contains(&number),
                    "{id}: attempt {number} arrived {times} times but is not flagged"
                );
                subscriber_duplicates += u64::from(times - 1);
            }
        }
        assert!(
            !seen.contains_key(&(id.clone(), want_attempts + 1)),
            "{id}: an attempt beyond the journal reached the subscriber"
        );
    }
    assert_eq!(flagged, duplicates, "the flags and the counter agree");
    assert!(
        subscriber_duplicates <= duplicates,
        "the subscriber saw {subscriber_duplicates} duplicates; the mock allowed for {duplicates}"
    );
    println!(
        "persistence tally: {EVENTS} events, {attempts} attempts; at the kill {pending_at_kill} \
         not terminal, {in_flight_at_kill} attempts in flight; resumed {resumed}; duplicates \
         after crash {duplicates} counted by the mock, {subscriber_duplicates} seen by the \
         subscriber; terminal: {} delivered, {} exhausted, {} rejected",
        states.get("delivered").unwrap_or(&0),
        states.get("exhausted").unwrap_or(&0),
        states.get("rejected").unwrap_or(&0),
    );
    second.kill();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn serve_refuses_unknown_schemes_and_unusable_files_clearly() {
    let (code, stdout, stderr) = crate::support::run_cli(
        &[
            "serve",
            "--port",
            "0",
            "--state",
            "postgres://localhost/mock",
        ],
        b"",
    )
    .await;
    assert_ne!(code, 0, "{stdout}");
    assert!(stderr.contains("use `memory` or `sqlite:PATH`"), "{stderr}");
    let missing = temp_dir().join("no-such-dir").join("state.db");
    let state = format!("sqlite:{}", missing.display());
    let (code, stdout, stderr) =
        crate::support::run_cli(&["serve", "--port", "0", "--state", &state], b"").await;
    assert_ne!(code, 0, "{stdout}");
    assert!(
        stderr.contains("could not open the state database"),
        "{stderr}"
    );
}
