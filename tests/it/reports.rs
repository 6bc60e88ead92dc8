//! Reports through the binary: units in the text summary, the HTML validated by an HTML5 parser,
//! and `report --baseline` with its exit codes, on real short runs and on edited copies of them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use scraper::{Html, Selector};

use crate::support::run_cli;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("inboxkit-mock-it-reports-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A 1.5 s run at 40 events/s against the built-in receiver, with `thresholds` and extra args;
/// returns the exit code and everything printed.
async fn short_run(name: &str, thresholds: &[&str], extra: &[&str]) -> (i32, String) {
    let path = temp(&format!("{name}.toml"));
    let list: Vec<String> = thresholds.iter().map(|t| format!("{t:?}")).collect();
    std::fs::write(
        &path,
        format!(
            "name = \"reports\"\nthresholds = [{}]\n[world]\nseed = 5\n[[load]]\nrate = 40\nduration = \"1.5s\"\n",
            list.join(", ")
        ),
    )
    .unwrap();
    let mut args = vec!["run", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run_cli(&args, b"").await;
    (code, format!("{stdout}{stderr}"))
}

/// A 2 s run at 20 events/s against the built-in receiver answering 500 to every domain event
/// and 400 to every consent-request event (the others are delivered), retries 20 ms apart:
/// domain events end exhausted after 4 attempts, consent-request events rejected after 1.
async fn failing_subscriber_run(name: &str, extra: &[&str]) -> (i32, String) {
    let path = temp(&format!("{name}.toml"));
    std::fs::write(
        &path,
        r#"name = "failing-subscriber"
thresholds = ["success_rate >= 0.99"]
[target]
retry_delays = ["20ms", "20ms", "20ms"]
receiver_faults = ["status=500:event=domain.status_changed", "status=400:event=consent_request.status_changed"]
[world]
seed = 7
[report]
failed_deliveries = 2
[[load]]
rate = 20
duration = "2s"
"#,
    )
    .unwrap();
    let mut args = vec!["run", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run_cli(&args, b"").await;
    (code, format!("{stdout}{stderr}"))
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn select<'a>(page: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    page.select(&Selector::parse(css).unwrap()).collect()
}

fn text_of(element: &scraper::ElementRef<'_>) -> String {
    element.text().collect()
}

#[tokio::test]
async fn a_failing_run_reads_with_units_and_its_html_parses_with_charts() {
    let html = temp("failing.html");
    let (code, out) = short_run(
        "failing",
        &[
            "latency_p99 > 1h",
            "attempts_max <= 4",
            "success_rate >= 0.5",
        ],
        &["--html", s(&html)],
    )
    .await;
    assert_eq!(code, 99, "{out}");
    // Durations in ms, counts as integers, rates as numbers.
    let failed = out
        .lines()
        .find(|l| l.starts_with("  FAIL latency_p99 > 1h (observed "))
        .unwrap_or_else(|| panic!("{out}"));
    // What was observed and what was needed, each once, in the metric's unit.
    assert!(failed.ends_with(" ms, needs > 3600000 ms)"), "{failed}");
    assert_eq!(failed.matches("observed").count(), 1, "{failed}");
    assert!(
        out.contains("  pass attempts_max <= 4 (observed 1 attempt)\n"),
        "{out}"
    );
    assert!(
        out.contains("  pass success_rate >= 0.5 (observed 1.0000)\n"),
        "{out}"
    );
    assert!(out.contains("  events      60 events ("), "{out}");
    // The time table: every cell ends where its column's header ends.
    let header = out.lines().find(|l| l.starts_with("  time (ms)")).unwrap();
    let ends = |line: &str| -> Vec<usize> {
        line.char_indices()
            .filter(|(i, c)| {
                *c != ' ' && line[i + c.len_utf8()..].starts_with(' ')
                    || *i + c.len_utf8() == line.len()
            })
            .map(|(i, _)| i)
            .filter(|i| *i > 13)
            .collect()
    };
    for label in ["  response ", "  service ", "  send lag "] {
        let row = out.lines().find(|l| l.starts_with(label)).unwrap();
        assert_eq!(ends(row), ends(header), "{header}\n{row}");
    }

    let text = std::fs::read_to_string(&html).unwrap();
    let page = Html::parse_document(&text);
    assert!(
        page.errors.is_empty(),
        "HTML5 parse errors: {:?}",
        page.errors
    );
    assert!(
        !text.contains("http://") || !text.contains("src="),
        "no external resources"
    );
    // What a reader sees first: the verdict, then what failed.
    let h1 = text_of(&select(&page, "h1")[0]);
    assert!(h1.contains("FAIL"), "{h1}");
    let banner = text_of(&select(&page, "div.banner.fail")[0]);
    assert!(banner.contains("latency_p99 > 1h: observed"), "{banner}");
    assert!(banner.contains(" ms, needs > 3600000 ms"), "{banner}");
    // The thresholds table: the observed value with its unit, the verdict with what it needs.
    let cells: Vec<String> = select(&page, "table tr")
        .iter()
        .find(|tr| text_of(tr).starts_with("latency_p99 > 1h"))
        .unwrap()
        .select(&Selector::parse("td").unwrap())
        .map(|td| text_of(&td))
        .collect();
    assert!(cells[1].ends_with(" ms"), "{cells:?}");
    assert_eq!(cells[2], "FAIL: needs > 3600000 ms");
    // Memory, when sampled, is in the summary as in the text.
    if let Some(memory) = out.lines().find_map(|l| l.strip_prefix("  memory      ")) {
        let row = select(&page, "table tr")
            .into_iter()
            .find(|tr| text_of(tr).starts_with("memory"))
            .map(|tr| text_of(&tr));
        assert_eq!(row, Some(format!("memory{memory}")), "{out}");
        assert!(memory.contains(" MiB at the end"), "{memory}");
    }
    assert!(text.find("banner fail").unwrap() < text.find("<h2>").unwrap());
    // The summary is a table, not pasted terminal text (bodies of failed deliveries aside).
    assert!(select(&page, "pre:not(.body)").is_empty());
    let headers: Vec<String> = select(&page, "table th").iter().map(text_of).collect();
    for wanted in [
        "events",
        "events by terminal state",
        "attempts by outcome",
        "throughput",
        "time (ms)",
        "p99",
        "response",
    ] {
        assert!(headers.iter().any(|h| h == wanted), "{wanted}: {headers:?}");
    }
    // Charts: each with two axis titles, tick labels, and the units in the titles.
    let charts = select(&page, "svg.chart");
    let titles: Vec<String> = charts
        .iter()
        .map(|c| c.value().attr("aria-label").unwrap().to_owned())
        .collect();
    for wanted in [
        "response time percentiles over time (linear)",
        "events attempted and delivered per second",
        "events by how they ended, per second",
        "response time percentiles over time (log)",
        "service time percentiles over time (linear)",
        "response time histogram",
        "attempts by outcome",
        "events by attempts made",
    ] {
        assert!(titles.iter().any(|t| t == wanted), "{wanted}: {titles:?}");
    }
    let mut axis_titles = Vec::new();
    for chart in &charts {
        let labels: Vec<String> = chart
            .select(&Selector::parse("text.axis-label").unwrap())
            .map(|t| text_of(&t))
            .collect();
        assert_eq!(labels.len(), 2, "{labels:?}");
        assert!(
            chart.select(&Selector::parse("text.tick").unwrap()).count() >= 3,
            "ticks"
        );
        axis_titles.extend(labels);
    }
    for wanted in [
        "response time (ms)",
        "second of the run (s)",
        "events (events/s)",
        "response time (ms, log scale)",
        "response time bucket (upper bound)",
    ] {
        assert!(
            axis_titles.iter().any(|t| t == wanted),
            "{wanted}: {axis_titles:?}"
        );
    }
    let legend: Vec<String> = select(&page, "g.legend text").iter().map(text_of).collect();
    for wanted in [
        "p50",
        "p90",
        "p99",
        "max",
        "attempted",
        "delivered",
        "5xx",
        "timeout",
        "connection error",
    ] {
        assert!(legend.iter().any(|l| l == wanted), "{wanted}: {legend:?}");
    }
    let buckets: Vec<String> = select(
        &page,
        "svg[aria-label=\"response time histogram\"] text.tick",
    )
    .iter()
    .map(text_of)
    .filter(|t| t.starts_with('≤'))
    .collect();
    assert!(
        !buckets.is_empty()
            && buckets
                .iter()
                .all(|b| b.ends_with(" ms") || b.ends_with(" µs") || b.ends_with(" s")),
        "{buckets:?}"
    );
}

/// The comparison table's row of `metric` (after the summary of the current run).
fn row<'a>(stdout: &'a str, metric: &str) -> &'a str {
    stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("metric "))
        .find(|l| l.starts_with(&format!("  {metric} ")))
        .unwrap_or_else(|| panic!("no row {metric}: {stdout}"))
}

/// Rewrites a report's duration so that its throughput (delivered / duration) is `factor` times
/// what it was.
fn with_throughput_times(from: &Path, to: &Path, factor: f64) {
    let mut report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(from).unwrap()).unwrap();
    let duration = report["stats"]["duration_s"].as_f64().unwrap();
    report["stats"]["duration_s"] = serde_json::json!(duration / factor);
    std::fs::write(to, serde_json::to_vec(&report).unwrap()).unwrap();
}

#[tokio::test]
async fn a_baseline_comparison_gives_the_table_and_a_ci_verdict() {
    let shard_1 = temp("shard-1.json");
    let shard_2 = temp("shard-2.json");
    for (shard, out) in [("1/2", &shard_1), ("2/2", &shard_2)] {
        let (code, out_text) = short_run(
            "baseline",
            &["success_rate >= 0.5"],
            &["--shard", shard, "--out", s(out)],
        )
        .await;
        assert_eq!(code, 0, "{out_text}");
    }
    let merged = temp("merged.json");
    let (code, stdout, stderr) = run_cli(
        &["report", "--out", s(&merged), s(&shard_1), s(&shard_2)],
        b"",
    )
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");

    // The same shards against their merged file: every change is 0, so even 0 % limits hold.
    let diff = temp("diff.html");
    let (code, stdout, stderr) = run_cli(
        &[
            "report",
            "--baseline",
            s(&merged),
            s(&shard_1),
            s(&shard_2),
            "--max-regression",
            "latency_p99=0%,throughput=0%,success_rate=0%",
            "--html",
            s(&diff),
        ],
        b"",
    )
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let header = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("metric "))
        .unwrap();
    for column in ["baseline", "current", "change", "limit", "verdict"] {
        assert!(header.contains(column), "{header}");
    }
    let p99 = row(&stdout, "latency_p99");
    assert!(
        p99.contains(" ms ")
            && p99.contains("+0.0 %")
            && p99.contains("same")
            && p99.ends_with("  ok"),
        "{p99}"
    );
    let events = row(&stdout, "events");
    assert!(
        events.contains(" 60 ") && events.ends_with("  -"),
        "{events}"
    );
    assert!(
        stdout.ends_with("comparison: no regression past the limits\nresult: PASS\n"),
        "{stdout}"
    );
    let page = Html::parse_document(&std::fs::read_to_string(&diff).unwrap());
    assert!(page.errors.is_empty(), "{:?}", page.errors);
    assert!(
        text_of(&select(&page, "div.banner.pass")[0]).contains("no regression past the limits")
    );
    let rows = select(&page, "table tr").len();
    assert_eq!(
        rows,
        1 + inboxkit_mock::scenario::threshold::Metric::ALL.len()
    );

    // Throughput halved: 50 % worse, past a 5 % limit: exit 99, named first in the HTML.
    let slower = temp("slower.json");
    with_throughput_times(&merged, &slower, 0.5);
    let (code, stdout, _) = run_cli(
        &[
            "report",
            "--baseline",
            s(&merged),
            s(&slower),
            "--max-regression",
            "latency_p99=10%,throughput=5%",
            "--html",
            s(&diff),
        ],
        b"",
    )
    .await;
    assert_eq!(code, 99, "{stdout}");
    let line = row(&stdout, "throughput");
    assert!(
        line.contains("-50.0 %") && line.contains("worse") && line.ends_with("REGRESSED"),
        "{line}"
    );
    assert!(
        stdout.ends_with(
            "comparison: REGRESSION: throughput worse by 50.0 % (limit 5.0 %)\nresult: FAIL (regression)\n"
        ),
        "{stdout}"
    );
    let page = Html::parse_document(&std::fs::read_to_string(&diff).unwrap());
    assert!(page.errors.is_empty(), "{:?}", page.errors);
    assert!(text_of(&select(&page, "h1")[0]).contains("REGRESSION"));
    assert!(text_of(&select(&page, "div.banner.fail")[0]).contains("throughput worse by 50.0 %"));
    // A row: the metric, both values with their unit, the change with its direction, the limit
    // and the verdict.
    let throughput: Vec<String> = select(&page, "table.compare tr")
        .iter()
        .find(|tr| text_of(tr).starts_with("throughput"))
        .unwrap()
        .select(&Selector::parse("td").unwrap())
        .map(|td| text_of(&td))
        .collect();
    assert_eq!(throughput.len(), 6, "{throughput:?}");
    assert!(
        throughput[1].ends_with(" events/s") && throughput[2].ends_with(" events/s"),
        "{throughput:?}"
    );
    assert_eq!(
        throughput[3..],
        ["-50.0\u{a0}% worse", "5.0 %", "REGRESSED"]
    );
    // Only the regressed row is highlighted; both runs' p99 and delivered events per second.
    let highlighted: Vec<String> = select(&page, "table.compare tr.regressed td.metric")
        .iter()
        .map(text_of)
        .collect();
    assert_eq!(highlighted, ["throughput"]);
    let charts: Vec<&str> = select(&page, "svg.chart")
        .iter()
        .filter_map(|c| c.value().attr("aria-label"))
        .collect();
    assert_eq!(
        charts,
        [
            "response time p99 of both runs",
            "events delivered per second of both runs"
        ]
    );

    // Throughput doubled is better (direction-aware), and a regression without a limit on it is
    // reported but does not fail.
    let faster = temp("faster.json");
    with_throughput_times(&merged, &faster, 2.0);
    let (code, stdout, _) = run_cli(
        &[
            "report",
            "--baseline",
            s(&merged),
            s(&faster),
            "--max-regression",
            "throughput=5%",
        ],
        b"",
    )
    .await;
    assert_eq!(code, 0, "{stdout}");
    let line = row(&stdout, "throughput");
    assert!(
        line.contains("+100.0 %") && line.contains("better"),
        "{line}"
    );
    let (code, stdout, _) = run_cli(&["report", "--baseline", s(&merged), s(&slower)], b"").await;
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.ends_with(
            "comparison: no limits given (--max-regression): compared only\nresult: PASS\n"
        ),
        "{stdout}"
    );

    // No regression, but the current run fails its own thresholds: still 99, and it says why.
    let mut strict: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&merged).unwrap()).unwrap();
    strict["thresholds"] = serde_json::json!(["events > 1000"]);
    let strict_path = temp("strict.json");
    std::fs::write(&strict_path, serde_json::to_vec(&strict).unwrap()).unwrap();
    let (code, stdout, _) = run_cli(
        &[
            "report",
            "--baseline",
            s(&merged),
            s(&strict_path),
            "--max-regression",
            "throughput=5%",
        ],
        b"",
    )
    .await;
    assert_eq!(code, 99, "{stdout}");
    assert!(
        stdout.ends_with(
            "comparison: no regression past the limits\nresult: FAIL (the current run's thresholds)\n"
        ),
        "{stdout}"
    );

    // A bad limit is a usage error naming the entry at fault.
    for (spec, named) in [
        ("latency_p99=ten%", "`ten%`"),
        ("latncy_p99=10%", "`latncy_p99`"),
        ("events=10%", "`events`"),
        ("throughput", "`throughput`"),
    ] {
        let (code, stdout, stderr) = run_cli(
            &[
                "report",
                "--baseline",
                s(&merged),
                s(&merged),
                "--max-regression",
                spec,
            ],
            b"",
        )
        .await;
        assert_eq!(code, 64, "{spec}: {stdout}{stderr}");
        assert!(stderr.contains(named), "{spec}: {stderr}");
    }
}

/// Runs `tests/e2e/report.mjs` on `html` in headless Chromium: what it measured, or why the
/// browser is missing (None: skipped outside CI).
async fn in_chromium(
    html: &Path,
    name: &str,
    min_charts: usize,
    failures: bool,
) -> Option<serde_json::Value> {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let missing = if !chromium.exists() {
        Some(format!("no Chromium at {}", chromium.display()))
    } else if !e2e.join("node_modules/playwright-core").is_dir() {
        Some("no tests/e2e/node_modules/playwright-core (npm ci --prefix tests/e2e)".into())
    } else {
        None
    };
    if let Some(missing) = missing {
        assert!(
            std::env::var_os("CI").is_none(),
            "the report browser test cannot run in CI: {missing}"
        );
        eprintln!("skipping the report browser test: {missing}");
        return None;
    }
    let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let run = tokio::process::Command::new("node")
        .arg(e2e.join("report.mjs"))
        .arg(html)
        .arg(&prefix)
        .arg(min_charts.to_string())
        .args(failures.then_some("failures"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the browser run finishes within two minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "tests/e2e/report.mjs on {} failed; screenshots at {}-*.png\n{stdout}\n{stderr}",
        html.display(),
        prefix.display()
    );
    for width in ["1280", "480"] {
        let png = std::fs::read(format!("{}-{width}.png", prefix.display())).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000);
    }
    Some(serde_json::from_str(stdout.trim()).unwrap())
}

#[tokio::test]
async fn in_chromium_the_reports_show_charts_with_axes_and_fit_the_page() {
    let html = temp("browser-failing.html");
    let json = temp("browser-failing.json");
    let (code, out) = failing_subscriber_run(
        "browser",
        &[
            "--failed-deliveries",
            "5",
            "--html",
            s(&html),
            "--out",
            s(&json),
        ],
    )
    .await;
    assert_eq!(code, 99, "{out}");
    let diff = temp("browser-diff.html");
    let (code, stdout, stderr) = run_cli(
        &[
            "report",
            "--baseline",
            s(&json),
            s(&json),
            "--html",
            s(&diff),
        ],
        b"",
    )
    .await;
    assert_eq!(
        code, 99,
        "the current run fails its thresholds: {stdout}{stderr}"
    );
    let Some(seen) = in_chromium(&html, "report-failing", 7, true).await else {
        return;
    };
    // What a reader sees first: the verdict, then the failed threshold with its unit, then how
    // many deliveries failed, linked to their list.
    assert!(
        seen["1280"]["heading"].as_str().unwrap().ends_with("FAIL"),
        "{seen}"
    );
    let banner = seen["1280"]["banner"].as_str().unwrap();
    assert!(
        banner.contains("success_rate >= 0.99: observed 0.")
            && banner.contains("events were not delivered")
            && banner.contains("the first 5 with every attempt's request and response"),
        "{banner}"
    );
    let failures = &seen["1280"]["failures"];
    assert_eq!(failures["deliveries"], 5, "{seen}");
    assert_eq!(failures["firstOpen"], true, "{seen}");
    // On the log scale the response and service time charts replace the linear ones.
    let log: Vec<&str> = seen["1280-log"]["charts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["title"].as_str())
        .filter(|t| t.ends_with("(log)"))
        .collect();
    assert_eq!(
        log,
        [
            "response time percentiles over time (log)",
            "service time percentiles over time (log)"
        ]
    );
    let seen = in_chromium(&diff, "report-diff", 2, false).await.unwrap();
    assert!(
        seen["480"]["heading"].as_str().unwrap().ends_with("FAIL"),
        "{seen}"
    );
}

/// A header's value in a failed attempt's `[name, value]` list.
fn header<'a>(headers: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    headers
        .as_array()
        .unwrap()
        .iter()
        .find(|pair| pair[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|pair| pair[1].as_str().unwrap())
}

/// The count in a stacked bar's tooltip, `second 3: 12 5xx`.
fn stacked_count(title: &str) -> u64 {
    let after = title.split(": ").nth(1).unwrap();
    after.split(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_failing_subscriber_s_report_lists_its_failed_deliveries_with_every_attempt() {
    let json = temp("failures.json");
    let html = temp("failures.html");
    // The command line's N (50, all of them) wins over the scenario's 2.
    let (code, out) = failing_subscriber_run(
        "failures",
        &[
            "--failed-deliveries",
            "50",
            "--out",
            s(&json),
            "--html",
            s(&html),
        ],
    )
    .await;
    assert_eq!(code, 99, "{out}");
    let report = read_json(&json);
    let stats = &report["stats"];
    let failures = &stats["failures"];
    assert_eq!(failures["limit"], 50);
    let kept = failures["kept"].as_array().unwrap();
    let exhausted = stats["terminal"]["exhausted"].as_u64().unwrap();
    let rejected = stats["terminal"]["rejected"].as_u64().unwrap();
    assert!(exhausted > 0 && rejected > 0, "{stats}");
    assert!(
        exhausted + rejected <= 10,
        "all listed in the text: {stats}"
    );
    // Exactly the failures the fault programs make: every domain event, 4 attempts answered 500;
    // every consent-request event, 1 attempt answered 400; nothing else.
    let domain: Vec<&serde_json::Value> = kept
        .iter()
        .filter(|f| f["event"] == "domain.status_changed")
        .collect();
    let consent: Vec<&serde_json::Value> = kept
        .iter()
        .filter(|f| f["event"] == "consent_request.status_changed")
        .collect();
    assert_eq!(domain.len() as u64, exhausted, "{failures}");
    assert_eq!(consent.len() as u64, rejected, "{failures}");
    assert_eq!(kept.len(), domain.len() + consent.len(), "{failures}");
    for (failed, state, status, attempts) in domain
        .iter()
        .map(|f| (f, "exhausted", 500, 4))
        .chain(consent.iter().map(|f| (f, "rejected", 400, 1)))
    {
        assert_eq!(failed["state"], state, "{failed}");
        assert_eq!(failed["method"], "POST");
        assert!(
            failed["url"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:"),
            "{failed}"
        );
        assert_eq!(failed["journaled"], true);
        let body: serde_json::Value =
            serde_json::from_str(failed["body"]["text"].as_str().unwrap()).unwrap();
        assert_eq!(body["event"], failed["event"]);
        let entity = body["data"].as_object().unwrap().values().next().unwrap();
        assert_eq!(entity["uid"], failed["entity_uid"]);
        let list = failed["attempts"].as_array().unwrap();
        assert_eq!(list.len(), attempts, "{failed}");
        for (number, attempt) in (1..).zip(list) {
            assert_eq!(attempt["number"], number);
            assert_eq!(
                attempt["outcome"],
                if status == 500 {
                    "http_5xx"
                } else {
                    "http_4xx"
                }
            );
            let response = &attempt["response"];
            assert_eq!(response["status"], status, "{attempt}");
            let answer = response["body"]["text"].as_str().unwrap();
            assert!(
                answer.contains(&format!("-> {status}")),
                "the receiver's fault answer: {answer}"
            );
            let sent = &attempt["request_headers"];
            assert_eq!(header(sent, "X-InboxKit-Event"), failed["event"].as_str());
            assert_eq!(
                header(sent, "X-InboxKit-Mock-Delivery"),
                failed["id"].as_str()
            );
            assert_eq!(
                header(sent, "X-InboxKit-Mock-Attempt"),
                Some(number.to_string().as_str())
            );
            // The bearer token is redacted as the journal redacts it.
            assert_eq!(header(sent, "Authorization"), Some("Bearer [redacted]"));
            assert!(
                header(sent, "X-InboxKit-Signature").is_some_and(|v| v.starts_with("sha256=")),
                "{sent}"
            );
        }
    }
    let planned: Vec<u64> = kept
        .iter()
        .map(|f| f["planned_us"].as_u64().unwrap())
        .collect();
    assert!(planned.windows(2).all(|w| w[0] <= w[1]), "{planned:?}");

    // The text lists them, one line each.
    let failed = exhausted + rejected;
    assert!(
        out.contains(&format!(
            "  failed      {failed} deliveries rejected or exhausted; the first {failed} by planned send time:\n"
        )),
        "{out}"
    );
    let first = &kept[0];
    assert!(
        out.contains(&format!(
            "    +{:.3} s  {} {}: ",
            first["planned_us"].as_u64().unwrap() as f64 / 1e6,
            first["event"].as_str().unwrap(),
            first["entity_uid"].as_str().unwrap()
        )),
        "{out}"
    );
    assert_eq!(
        out.matches(": exhausted after 4 attempts (500, 500, 500, 500)\n")
            .count() as u64,
        exhausted,
        "{out}"
    );
    assert_eq!(
        out.matches(": rejected after 1 attempt (400)\n").count() as u64,
        rejected,
        "{out}"
    );

    // The HTML: valid, the failures listed and linked from the outcome counts.
    let text = std::fs::read_to_string(&html).unwrap();
    let page = Html::parse_document(&text);
    assert!(page.errors.is_empty(), "{:?}", page.errors);
    assert!(!text.contains("<script"), "readable without scripts");
    let banner = text_of(&select(&page, "div.banner.fail")[0]);
    assert!(
        banner.contains(&format!(
            "{failed} of {} events were not delivered ({rejected} rejected, {exhausted} exhausted)",
            stats["events"]
        )),
        "{banner}"
    );
    let listed = select(&page, "details.failure");
    assert_eq!(listed.len(), kept.len());
    let first_listed = select(&page, "details.failure#failure-1");
    assert!(first_listed[0].value().attr("open").is_some());
    for (outcome, count) in [
        ("http_5xx", stats["outcomes"]["http_5xx"].as_u64().unwrap()),
        ("http_4xx", rejected),
    ] {
        let links = select(&page, &format!("a[href=\"#failed-{outcome}\"]"));
        assert_eq!(links.len(), 1, "{outcome}");
        assert_eq!(text_of(&links[0]), count.to_string());
        assert_eq!(select(&page, &format!("h3#failed-{outcome}")).len(), 1);
    }
    assert_eq!(
        text_of(&select(&page, "h3#failed-http_5xx")[0]),
        format!("Ended on http_5xx: {exhausted} listed")
    );
    let first_id = first["id"].as_str().unwrap();
    assert!(
        select(&page, "#failure-1 code")
            .iter()
            .any(|c| text_of(c) == first_id),
        "the first failure shows its delivery id"
    );
    assert!(
        select(&page, "#failure-1 td.answer")
            .iter()
            .all(|td| text_of(td).contains("fault injected: status=")),
        "the attempts table shows the start of each answer"
    );
    assert!(text.contains("Bearer [redacted]"));
    // The outcomes over time add up to the events, by how they ended.
    let stacks: Vec<String> = select(
        &page,
        "svg[aria-label=\"events by how they ended, per second\"] rect.stack title",
    )
    .iter()
    .map(text_of)
    .collect();
    let total: u64 = stacks.iter().map(|t| stacked_count(t)).sum();
    assert_eq!(total, stats["events"].as_u64().unwrap());
    let five: u64 = stacks
        .iter()
        .filter(|t| t.ends_with(" 5xx"))
        .map(|t| stacked_count(t))
        .sum();
    assert_eq!(five, exhausted);
}

#[tokio::test]
async fn merged_shards_keep_the_first_n_failed_deliveries_in_any_order() {
    let (a, b) = (temp("failing-1.json"), temp("failing-2.json"));
    let (args_1, args_2) = (
        ["--shard", "1/2", "--out", s(&a)],
        ["--shard", "2/2", "--out", s(&b)],
    );
    let (one, two) = tokio::join!(
        failing_subscriber_run("failing-1", &args_1),
        failing_subscriber_run("failing-2", &args_2),
    );
    assert_eq!(one.0, 99, "{}", one.1);
    assert_eq!(two.0, 99, "{}", two.1);
    // The scenario's N (2) applies without the flag.
    let mut union = Vec::new();
    for shard in [&a, &b] {
        let report = read_json(shard);
        let failures = &report["stats"]["failures"];
        assert_eq!(failures["limit"], 2);
        let kept = failures["kept"].as_array().unwrap();
        assert_eq!(kept.len(), 2, "{failures}");
        union.extend(kept.iter().cloned());
    }
    // A second implementation of "the first N": by planned time, then shard, then id.
    union.sort_by_key(|f| {
        (
            f["planned_us"].as_u64().unwrap(),
            f["shard"].as_str().unwrap().to_owned(),
            f["id"].as_str().unwrap().to_owned(),
        )
    });
    union.truncate(2);
    let mut merged_failures = Vec::new();
    for (name, order) in [("ab", [&a, &b]), ("ba", [&b, &a])] {
        let merged = temp(&format!("failing-merged-{name}.json"));
        let (code, stdout, stderr) = run_cli(
            &["report", "--out", s(&merged), s(order[0]), s(order[1])],
            b"",
        )
        .await;
        assert_eq!(code, 99, "{stdout}{stderr}");
        assert!(
            stdout.contains("; the first 2 by planned send time (all shards):"),
            "{stdout}"
        );
        let failures = read_json(&merged)["stats"]["failures"].clone();
        assert_eq!(failures["limit"], 2);
        assert_eq!(failures["kept"].as_array().unwrap(), &union, "{name}");
        merged_failures.push(failures);
    }
    assert_eq!(merged_failures[0], merged_failures[1]);
}
