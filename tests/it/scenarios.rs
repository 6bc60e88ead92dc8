//! Scenario files through the binary: shipped scenarios (shortened), verdicts, merging shards.

use std::path::PathBuf;

use inboxkit_mock::contract::{Secret, SignatureScheme, Signer};
use inboxkit_mock::receiver::{ReceiverConfig, RunningReceiver};

use crate::support::run_cli;

fn scenario(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
        .display()
        .to_string()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("inboxkit-mock-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A scenario file `name` holding `text`, in the temporary folder.
fn written(name: &str, text: &str) -> PathBuf {
    let path = temp(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn the_1k_per_second_load_runs_short_and_passes() {
    let out = temp("load.json");
    let html = temp("load.html");
    let junit = temp("load.xml");
    let (code, stdout, stderr) = run_cli(
        &[
            "run",
            &scenario("load-1k-per-second.toml"),
            "--duration-factor",
            "0.02",
            "--out",
            out.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
        b"",
    )
    .await;
    assert!(
        stdout.contains("terminal    delivered 1200, rejected 0, exhausted 0"),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("pass success_rate >= 0.999"), "{stdout}");
    // The lag threshold is machine-dependent; the verdict and exit code must agree either way.
    assert_exit_matches_verdict(code, &stdout);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(report["stats"]["events"], 1200);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("Response and service time over the run"));
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("<testsuite name=\"load-1k-per-second\"")
    );
}

#[tokio::test]
async fn duplicates_and_reordering_keep_every_event_terminal() {
    let (code, stdout, stderr) = run_cli(
        &[
            "run",
            &scenario("duplicates-and-reordering.toml"),
            "--duration-factor",
            "0.1",
        ],
        b"",
    )
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("400 events ("), "{stdout}");
    assert!(stdout.contains("exhausted 0"), "{stdout}");
}

/// A mis-signed event stays mis-signed when it is also held back: the reference receiver
/// rejects every one, reordered or not.
#[tokio::test]
async fn held_back_events_keep_their_wrong_signature() {
    let path = written(
        "mis-signed.toml",
        "name = \"mis-signed\"\n[world]\nseed = 9\n[faults]\nbad_signatures = 1.0\nreorder = 0.5\n[[load]]\nrate = 200\nduration = \"0.5s\"\n",
    );
    let (code, stdout, stderr) = run_cli(&["run", path.to_str().unwrap()], b"").await;
    assert_ne!(code, 2, "{stdout}{stderr}");
    assert!(stdout.contains("100 events (100 mis-signed"), "{stdout}");
    assert!(!stdout.contains(" 0 reordered"), "{stdout}");
    assert!(stdout.contains("delivered 0, rejected 100"), "{stdout}");
}

/// A phase whose last send is held back releases it even with one in-flight slot: the slot of
/// a held send is free while it waits.
#[tokio::test]
async fn a_held_back_last_send_is_released_with_one_slot() {
    let path = written(
        "one-slot.toml",
        "name = \"one-slot\"\n[world]\nseed = 4\n[faults]\nreorder = 1.0\n[[load]]\nrate = 200\nduration = \"25ms\"\nmax_in_flight = 1\n",
    );
    let args = ["run", path.to_str().unwrap()];
    let run = run_cli(&args, b"");
    let (code, stdout, stderr) = tokio::time::timeout(std::time::Duration::from_secs(10), run)
        .await
        .expect("the run ends");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("5 events (0 mis-signed, 0 duplicates, 3 reordered"),
        "{stdout}"
    );
    assert!(stdout.contains("delivered 5,"), "{stdout}");
}

#[tokio::test]
async fn an_invalid_scenario_exits_65_naming_the_place() {
    let path = written(
        "bad.toml",
        "name = \"bad\"\nthresholds = [\"happiness > 1\"]\n",
    );
    let (code, _, stderr) = run_cli(&["run", path.to_str().unwrap()], b"").await;
    assert_eq!(code, 65, "{stderr}");
    assert!(
        stderr.contains("bad.toml:2:15: thresholds[0]: unknown metric `happiness`"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_breached_threshold_exits_99_and_shards_merge() {
    let path = written(
        "strict.toml",
        "name = \"strict\"\nthresholds = [\"latency_max < 1us\", \"events >= 20\"]\n[world]\nseed = 3\n[[load]]\nrate = 40\nduration = \"0.5s\"\n",
    );
    let mut outs = Vec::new();
    for shard in ["1/2", "2/2"] {
        let out = temp(&format!("shard-{}.json", &shard[..1]));
        let (code, stdout, _) = run_cli(
            &[
                "run",
                path.to_str().unwrap(),
                "--shard",
                shard,
                "--out",
                out.to_str().unwrap(),
            ],
            b"",
        )
        .await;
        assert_eq!(code, 99, "{stdout}");
        assert!(stdout.contains("FAIL latency_max < 1us"), "{stdout}");
        outs.push(out);
    }
    let (code, stdout, _) = run_cli(
        &[
            "report",
            outs[0].to_str().unwrap(),
            outs[1].to_str().unwrap(),
        ],
        b"",
    )
    .await;
    assert_eq!(code, 99, "{stdout}");
    assert!(stdout.contains("shards 1/2, 2/2"), "{stdout}");
    assert!(
        stdout.contains("pass events >= 20 (observed 20 events)"),
        "{stdout}"
    );
}

#[test]
fn every_shipped_scenario_is_valid() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        inboxkit_mock::scenario::Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
    }
    names.sort();
    assert_eq!(
        names,
        [
            "domain-lifecycle",
            "duplicates-and-reordering",
            "load-1k-per-second",
            "mailbox-lifecycle",
            "quickstart",
            "retry-storm",
            "soak"
        ]
    );
}

#[tokio::test]
async fn the_lifecycle_scenarios_pass_step_by_step() {
    for name in [
        "domain-lifecycle.toml",
        "mailbox-lifecycle.toml",
        "quickstart.toml",
    ] {
        let (code, stdout, stderr) =
            run_cli(&["run", &scenario(name), "--duration-factor", "0.2"], b"").await;
        assert_eq!(code, 0, "{name}: {stdout}{stderr}");
        assert!(!stdout.contains("FAIL"), "{stdout}");
        assert!(
            stdout.contains("ok   steps[") && stdout.ends_with("result: PASS\n"),
            "{stdout}"
        );
    }
}

#[tokio::test]
async fn a_failed_expectation_names_what_arrived() {
    let path = written(
        "expect.toml",
        "name = \"expect\"\n[[steps]]\nregister_domain = { as = \"d\" }\n[[steps]]\nadvance = \"2m\"\n[[steps]]\nexpect = { entity = \"$d\", statuses = [\"active\"], within = \"300ms\" }\n",
    );
    let (code, stdout, _) = run_cli(&["run", path.to_str().unwrap()], b"").await;
    assert_eq!(code, 99, "{stdout}");
    assert!(
        stdout.contains(
            "statuses were [waiting_for_dns_propagation], expected [active] after waiting 300ms"
        ),
        "{stdout}"
    );
}

#[tokio::test]
async fn the_retry_storm_retries_by_the_policy() {
    let (code, stdout, stderr) = run_cli(
        &[
            "run",
            &scenario("retry-storm.toml"),
            "--duration-factor",
            "0.1",
        ],
        b"",
    )
    .await;
    assert!(
        stdout.contains("pass attempts_max <= 4"),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("http_5xx"), "{stdout}");
    assert_exit_matches_verdict(code, &stdout);
}

#[tokio::test]
async fn the_soak_runs_short_with_memory_samples() {
    let out = temp("soak.json");
    let (code, stdout, stderr) = run_cli(
        &[
            "run",
            &scenario("soak.toml"),
            "--duration-factor",
            "0.005",
            "--out",
            out.to_str().unwrap(),
        ],
        b"",
    )
    .await;
    assert!(
        stdout.contains("terminal    delivered 3000, rejected 0, exhausted 0"),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("memory      RSS"), "{stdout}");
    assert_exit_matches_verdict(code, &stdout);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert!(report["stats"]["rss_mib"].as_array().unwrap().len() >= 2);
}

/// A run whose verdict depends on the machine (lag thresholds): the exit code must agree with it.
#[track_caller]
fn assert_exit_matches_verdict(code: i32, stdout: &str) {
    let expected = if stdout.ends_with("result: PASS\n") {
        0
    } else {
        99
    };
    assert_eq!(code, expected, "{stdout}");
}

/// A scenario of steps only, with no key of its own.
fn steps_only() -> PathBuf {
    written(
        "steps-only.toml",
        r#"name = "steps-only"
[[steps]]
register_domain = { as = "domain" }
[[steps]]
advance = "17m"
[[steps]]
expect = { entity = "$domain", statuses = ["waiting_for_dns_propagation", "active"], state = "delivered", within = "10s" }
"#,
    )
}

fn verifying_receiver(secret: &str) -> RunningReceiver {
    RunningReceiver::start_local(ReceiverConfig {
        verifier: Some(Signer::new(SignatureScheme::HmacBody, Secret::new(secret))),
        ..ReceiverConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn run_signs_the_steps_with_the_target_secret_given_on_the_command_line() {
    let receiver = verifying_receiver("whsec_consumer");
    let url = receiver.webhook_url().to_string();
    let path = steps_only();
    let (code, stdout, stderr) = run_cli(
        &[
            "run",
            path.to_str().unwrap(),
            "--target",
            &url,
            "--secret",
            "whsec_consumer",
        ],
        b"",
    )
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let received = receiver.store().all();
    assert_eq!(received.len(), 2, "{received:#?}");
    assert!(
        received
            .iter()
            .all(|r| r.signature_valid == Some(true) && r.answered == 200),
        "{received:#?}"
    );

    let (code, stdout, _) = run_cli(
        &[
            "run",
            path.to_str().unwrap(),
            "--target",
            &url,
            "--secret",
            "whsec_not_the_consumers",
        ],
        b"",
    )
    .await;
    assert_eq!(code, 99, "{stdout}");
    assert!(
        stdout.contains("with HTTP 401") && stdout.contains("signature or key may not match"),
        "a rejected step says why: {stdout}"
    );
    receiver.stop().await;
}

/// Every metric, each with a threshold the run below must pass and one it must breach: 60 events
/// (40/s for 1.5 s) to the built-in receiver, all delivered on the first attempt.
const VERDICTS: &[(&str, &str)] = &[
    ("success_rate >= 0.99", "success_rate > 1"),
    ("events >= 60", "events < 60"),
    ("delivered >= 60", "delivered < 60"),
    ("rejected <= 0", "rejected > 0"),
    ("exhausted <= 0", "exhausted > 0"),
    ("attempts >= 60", "attempts < 60"),
    ("attempts_max <= 1", "attempts_max > 1"),
    ("attempts_mean <= 1", "attempts_mean > 1"),
    ("throughput > 1", "throughput > 1000000"),
    ("late_starts <= 60", "late_starts > 60"),
    ("latency_min < 1h", "latency_min > 1h"),
    ("latency_mean < 1h", "latency_mean > 1h"),
    ("latency_p50 < 1h", "latency_p50 > 1h"),
    ("latency_p90 < 1h", "latency_p90 > 1h"),
    ("latency_p95 < 1h", "latency_p95 > 1h"),
    ("latency_p99 < 1h", "latency_p99 > 1h"),
    ("latency_p999 < 1h", "latency_p999 > 1h"),
    ("latency_max < 1h", "latency_max > 1h"),
    ("service_p50 < 1h", "service_p50 > 1h"),
    ("service_p99 < 1h", "service_p99 > 1h"),
    ("service_max < 1h", "service_max > 1h"),
    ("lag_p99 < 1h", "lag_p99 > 1h"),
    ("lag_max < 1h", "lag_max > 1h"),
    ("rss_growth < 100", "rss_growth > 100"),
];

async fn run_with_thresholds(name: &str, thresholds: &[&str]) -> (i32, String) {
    let path = temp(&format!("{name}.toml"));
    let list: Vec<String> = thresholds.iter().map(|t| format!("{t:?}")).collect();
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\nthresholds = [{}]\n[world]\nseed = 5\n[[load]]\nrate = 40\nduration = \"1.5s\"\n",
            list.join(", ")
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = run_cli(&["run", path.to_str().unwrap()], b"").await;
    (code, format!("{stdout}{stderr}"))
}

#[tokio::test]
async fn every_metric_is_judged_exactly_both_ways() {
    let metrics = inboxkit_mock::scenario::threshold::Metric::ALL;
    assert_eq!(VERDICTS.len(), metrics.len(), "one pair per metric");
    for metric in metrics {
        assert!(
            VERDICTS
                .iter()
                .any(|(pass, _)| pass.starts_with(&format!("{} ", metric.name()))),
            "no verdict pair for {}",
            metric.name()
        );
    }
    let passing: Vec<&str> = VERDICTS.iter().map(|(pass, _)| *pass).collect();
    let (code, out) = run_with_thresholds("all-pass", &passing).await;
    for threshold in &passing {
        assert!(
            out.contains(&format!("  pass {threshold} (observed")),
            "{threshold}: {out}"
        );
    }
    assert_eq!(code, 0, "{out}");

    let breaching: Vec<&str> = VERDICTS.iter().map(|(_, breach)| *breach).collect();
    let (code, out) = run_with_thresholds("all-breach", &breaching).await;
    for threshold in &breaching {
        assert!(
            out.contains(&format!("  FAIL {threshold} (observed")),
            "{threshold}: {out}"
        );
    }
    assert_eq!(code, 99, "{out}");
}
