//! The reference load generators, each run as a child process for a fixed time: wrk (Lua
//! script), oha, and k6 (a script that builds and signs every body, what a user would write).
//! Each returns `None` when it is not installed or its output cannot be read.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one client did in one round.
#[derive(Debug, Clone, Copy)]
pub struct ClientRun {
    /// Successful (2xx) requests per second.
    pub rate: f64,
    /// Requests answered 2xx.
    pub requests: f64,
    /// Requests that failed or were not answered 2xx.
    pub failures: u64,
}

/// The request every client sends: one body, its signature, the seed header set.
#[derive(Debug, Clone)]
pub struct Request {
    /// The subscriber's URL.
    pub url: String,
    /// The body (a `domain.status_changed` event).
    pub body: Vec<u8>,
    /// Header names and values, as the sender sends them.
    pub headers: Vec<(String, String)>,
    /// The webhook secret (k6 signs each body with it).
    pub secret: String,
}

/// How long and how wide each client runs.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Seconds per run.
    pub seconds: u64,
    /// Connections (virtual users for k6).
    pub connections: usize,
}

/// A file of this run in the temporary directory (see [`remove_scratch`]).
pub fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("inboxkit-mock-bench-{}-{name}", std::process::id()))
}

/// Removes every file [`scratch`] named in this run.
pub fn remove_scratch() {
    let prefix = format!("inboxkit-mock-bench-{}-", std::process::id());
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) && entry.path().is_file() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// An executable named `name` on the PATH (or in `extra` directories), skipping scripts
/// (pyenv's shims re-enter Python on every start): the first ELF file found.
pub fn find(name: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let is_elf = |p: &Path| {
        let mut magic = [0u8; 4];
        std::fs::File::open(p)
            .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut magic))
            .is_ok_and(|()| &magic == b"\x7fELF")
    };
    std::env::split_paths(&path)
        .chain(extra.iter().cloned())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file() && is_elf(candidate))
}

/// wrk, 2 threads, posting the same body and headers from a Lua script.
pub fn wrk(request: &Request, load: Load) -> Option<ClientRun> {
    let wrk = find("wrk", &[])?;
    let body = String::from_utf8_lossy(&request.body);
    let mut script = String::from("wrk.method = \"POST\"\n");
    script.push_str(&format!("wrk.body = [==[{body}]==]\n"));
    for (name, value) in &request.headers {
        script.push_str(&format!("wrk.headers[\"{name}\"] = \"{value}\"\n"));
    }
    let path = scratch("wrk.lua");
    std::fs::write(&path, script).ok()?;
    let output = Command::new(wrk)
        .args([
            "-t2",
            &format!("-c{}", load.connections),
            &format!("-d{}s", load.seconds),
            "-s",
        ])
        .arg(&path)
        .arg(&request.url)
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let number = |prefix: &str, index: usize| -> Option<f64> {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(index))
            .and_then(|v| v.parse().ok())
    };
    let rate: f64 = number("Requests/sec:", 1)?;
    let total = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    let non_2xx = number("Non-2xx or 3xx responses:", 4).unwrap_or(0.0);
    let errors = text
        .lines()
        .find(|l| l.trim_start().starts_with("Socket errors:"))
        .map(|l| {
            l.split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse::<f64>().ok())
                .sum::<f64>()
        })
        .unwrap_or(0.0);
    let good = (total - non_2xx).max(0.0);
    Some(ClientRun {
        rate: if total > 0.0 {
            rate * good / total
        } else {
            rate
        },
        requests: good,
        failures: (non_2xx + errors) as u64,
    })
}

/// oha, without its terminal UI, summary as JSON.
pub fn oha(request: &Request, load: Load) -> Option<ClientRun> {
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin"));
    let oha = find("oha", &home.into_iter().collect::<Vec<_>>())?;
    let body = scratch("oha-body.json");
    std::fs::write(&body, &request.body).ok()?;
    let mut command = Command::new(oha);
    command
        .args(["--no-tui", "--output-format", "json", "-m", "POST"])
        .args(["-z", &format!("{}s", load.seconds)])
        .args(["-c", &load.connections.to_string()])
        .arg("-D")
        .arg(&body);
    for (name, value) in &request.headers {
        command.arg("-H").arg(format!("{name}: {value}"));
    }
    let output = command
        .arg(&request.url)
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    let codes = summary.get("statusCodeDistribution")?.as_object()?;
    let count = |ok: bool| -> f64 {
        codes
            .iter()
            .filter(|(code, _)| code.starts_with('2') == ok)
            .filter_map(|(_, n)| n.as_f64())
            .sum()
    };
    let (good, bad) = (count(true), count(false));
    // Requests cut off when the run's time is up are not failures.
    let errors: f64 = summary
        .get("errorDistribution")
        .and_then(|e| e.as_object())
        .map(|e| {
            e.iter()
                .filter(|(what, _)| !what.contains("aborted due to deadline"))
                .filter_map(|(_, n)| n.as_f64())
                .sum()
        })
        .unwrap_or(0.0);
    let total_s = summary.pointer("/summary/total")?.as_f64()?;
    Some(ClientRun {
        rate: good / total_s.max(1e-9),
        requests: good,
        failures: (bad + errors) as u64,
    })
}

/// The k6 script: per iteration a fresh timestamp and delivery id, the body serialized and
/// signed (HMAC-SHA256 of the body, hex) in the script.
const K6_SCRIPT: &str = r#"
import http from 'k6/http';
import crypto from 'k6/crypto';

const url = __ENV.URL;
const secret = __ENV.SECRET;
const event = JSON.parse(open(__ENV.BODY));
const fixed = JSON.parse(open(__ENV.HEADERS));

export const options = { discardResponseBodies: true };

export default function () {
  event.timestamp = new Date().toISOString();
  const body = JSON.stringify(event);
  const headers = Object.assign({}, fixed);
  headers['X-InboxKit-Timestamp'] = event.timestamp;
  headers['X-InboxKit-Signature'] = 'sha256=' + crypto.hmac('sha256', secret, body, 'hex');
  headers['X-InboxKit-Mock-Delivery'] = `dlv_k6_${__VU}_${__ITER}`;
  headers['X-InboxKit-Mock-Attempt'] = '1';
  http.post(url, body, { headers: headers });
}
"#;

/// Directories pip puts the `k6` wheel's binary in (the Python on the PATH's scripts folder).
fn python_scripts() -> Vec<PathBuf> {
    Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .collect()
}

/// k6 with a script that builds and signs each body.
pub fn k6(request: &Request, load: Load) -> Option<ClientRun> {
    let k6 = find("k6", &python_scripts())?;
    let (script, body, headers, summary) = (
        scratch("k6.js"),
        scratch("k6-body.json"),
        scratch("k6-headers.json"),
        scratch("k6-summary.json"),
    );
    std::fs::write(&script, K6_SCRIPT).ok()?;
    std::fs::write(&body, &request.body).ok()?;
    let fixed: serde_json::Map<String, serde_json::Value> = request
        .headers
        .iter()
        .filter(|(name, _)| !name.starts_with("X-InboxKit-Mock") && !name.ends_with("Signature"))
        .map(|(name, value)| (name.clone(), value.clone().into()))
        .collect();
    std::fs::write(&headers, serde_json::to_vec(&fixed).ok()?).ok()?;
    let _ = std::fs::remove_file(&summary);
    let status = Command::new(k6)
        .args(["run", "--quiet", "--no-color", "--no-usage-report"])
        .args(["--vus", &load.connections.to_string()])
        .args(["--duration", &format!("{}s", load.seconds)])
        .arg("--summary-export")
        .arg(&summary)
        .env("URL", &request.url)
        .env("SECRET", &request.secret)
        .env("BODY", &body)
        .env("HEADERS", &headers)
        .env("K6_NO_USAGE_REPORT", "true")
        .arg(&script)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .ok()?;
    if !status.success() {
        eprintln!("k6 exited with {status}");
    }
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).ok()?).ok()?;
    let count = summary.pointer("/metrics/http_reqs/count")?.as_f64()?;
    let rate = summary.pointer("/metrics/http_reqs/rate")?.as_f64()?;
    let failed = summary
        .pointer("/metrics/http_req_failed/passes")
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    let good = (count - failed).max(0.0);
    Some(ClientRun {
        rate: rate * good / count.max(1.0),
        requests: good,
        failures: failed as u64,
    })
}
