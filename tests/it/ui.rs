//! The web page at `/` of `serve`: its routes over real HTTP, and end to end in headless
//! Chromium (`tests/e2e/ui.mjs`: trigger, see the delivery, open it, redeliver, trigger again).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use inboxkit_mock::contract::Secret;
use inboxkit_mock::delivery::Trigger;
use inboxkit_mock::server::ui::CONTENT_SECURITY_POLICY;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::server::Mock;

const ADMIN_TOKEN: &str = "adm_ui_0123456789";
/// Longest the browser run may take (launch included).
const BROWSER_WAIT: Duration = Duration::from_secs(120);

/// GET `path` without credentials: status, content type, CSP header, body.
async fn fetch(mock: &Mock, path: &str) -> (u16, String, String, String) {
    let response = mock
        .client
        .get(format!("{}{path}", mock.base))
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (content_type, csp) = (header("content-type"), header("content-security-policy"));
    let status = response.status().as_u16();
    (status, content_type, csp, response.text().await.unwrap())
}

#[tokio::test]
async fn the_page_loads_without_the_admin_token_but_its_data_needs_it() {
    let mock = Mock::start_with(90, |config| {
        config.admin_token = Some(Secret::new(ADMIN_TOKEN));
    })
    .await;
    for (path, content_type, needle) in [
        (
            "/",
            "text/html; charset=utf-8",
            "<select id=\"trigger-event\">",
        ),
        (
            "/ui.js",
            "text/javascript; charset=utf-8",
            "/_mock/deliveries",
        ),
        ("/ui.css", "text/css; charset=utf-8", ".badge"),
    ] {
        let (status, served_type, csp, body) = fetch(&mock, path).await;
        assert_eq!(status, 200, "{path} without a token");
        assert_eq!(served_type, content_type, "{path}");
        assert_eq!(csp, CONTENT_SECURITY_POLICY, "{path}");
        assert!(body.contains(needle), "{path} lacks {needle}");
    }
    let (_, _, _, page) = fetch(&mock, "/").await;
    assert!(page.contains("<option value=\"mailbox.status_changed\">"));
    // The page holds no data: the API it calls still refuses a caller without the token.
    for path in ["/_mock/deliveries", "/_mock/clock"] {
        let answer = mock.call("GET", path, None, &[]).await;
        assert_eq!(answer.status, 401, "{path}: {answer:?}");
        assert_eq!(answer.body["code"], "admin_unauthorized");
    }
    let (status, content_type, _, _) = fetch(&mock, "/index.html").await;
    assert_eq!(
        (status, content_type.as_str()),
        (404, "application/problem+json")
    );
    mock.stop().await;
}

#[tokio::test]
async fn the_listing_carries_the_last_attempts_latency() {
    let mock = Mock::start(91).await;
    // The subscriber takes 150 ms: the listed latency must show it (and stay under the deadline).
    mock.receiver
        .set_faults(vec!["delay=150ms".parse().unwrap()]);
    let sent = mock
        .control(
            "POST",
            "/events",
            Some(serde_json::json!({"event": "domain.status_changed"})),
        )
        .await;
    assert_eq!(sent.status, 202, "{sent:?}");
    mock.wait_terminal(1).await;
    let listed = mock.control("GET", "/deliveries", None).await;
    let latency = listed.body["deliveries"][0]["last_latency_ms"].as_f64();
    assert!(
        latency.is_some_and(|ms| (150.0..10_000.0).contains(&ms)),
        "{listed:?}"
    );
    mock.stop().await;
}

#[tokio::test]
async fn the_serve_banner_names_the_page_it_serves() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_inboxkit-mock"))
        .args(["serve", "--port", "0"])
        .env_remove("INBOXKIT_MOCK_ADMIN_TOKEN")
        .env_remove("INBOXKIT_MOCK_PORT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let page = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.trim().strip_prefix("web UI") {
                return rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
        }
        panic!("serve printed no `web UI` line");
    })
    .await
    .expect("serve prints its banner within 30 s");
    assert!(
        page.starts_with("http://127.0.0.1:") && page.ends_with('/'),
        "{page}"
    );
    let response = reqwest::get(&page).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("<title>inboxkit-mock</title>")
    );
    child.kill().await.unwrap();
}

/// What the browser test needs, or why it cannot run.
fn browser_tools(e2e: &Path) -> Result<(), String> {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.exists() {
        return Err(format!(
            "no Chromium at {} (Debian: apt-get install chromium)",
            chromium.display()
        ));
    }
    if !e2e.join("node_modules/playwright-core").is_dir() {
        return Err(format!(
            "no {}/node_modules/playwright-core (npm ci --prefix tests/e2e)",
            e2e.display()
        ));
    }
    Ok(())
}

#[tokio::test]
async fn in_chromium_a_trigger_shows_a_delivery_that_can_be_opened_and_redelivered() {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    if let Err(missing) = browser_tools(&e2e) {
        if std::env::var_os("CI").is_some() {
            panic!("the web UI end-to-end test cannot run in CI: {missing}; .ci/run installs it");
        }
        eprintln!("skipping the web UI end-to-end test: {missing}");
        return;
    }
    let mock = Mock::start_with(92, |config| {
        config.admin_token = Some(Secret::new(ADMIN_TOKEN));
    })
    .await;
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui.png");
    let _ = std::fs::remove_file(&screenshot);
    let run = tokio::process::Command::new("node")
        .arg(e2e.join("ui.mjs"))
        .arg(format!("{}/", mock.base))
        .arg(&screenshot)
        .arg(ADMIN_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BROWSER_WAIT, run)
        .await
        .expect("the browser run finishes within two minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "tests/e2e/ui.mjs failed ({}); screenshot at {}\n{stdout}\n{stderr}",
        output.status,
        screenshot.display()
    );
    let png = std::fs::read(&screenshot).expect("the script writes its screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000);

    // What the browser did really happened on the server: two events, the first redelivered.
    let journal = mock.server.state().sender().journal().all();
    let events: Vec<&str> = journal.iter().map(|d| d.event.as_str()).collect();
    assert_eq!(
        events,
        ["domain.status_changed", "mailbox.status_changed"],
        "{journal:?}"
    );
    let triggers: Vec<Trigger> = journal[0].attempts.iter().map(|a| a.trigger).collect();
    assert_eq!(triggers, [Trigger::Scheduled, Trigger::Manual]);
    assert_eq!(journal[1].attempts.len(), 1);
    mock.stop().await;
}
