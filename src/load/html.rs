//! Self-contained HTML: a run's report (verdict first, a summary table, charts) and a run-to-run
//! comparison, drawn as inline SVG with axes, units and legends (no scripts, no external files).

use std::fmt::Write;

use super::report::compare::{Comparison, percent, signed_percent};
use super::report::failures::{Excerpt, FailedAttempt, FailedDelivery, Failures};
use super::report::{
    PERCENTILES, Report, escape, format_value, needs, summary_rows, verdict_figures,
};
use super::stats::{Ended, Micros, Second, Stats};
use crate::delivery::{AttemptOutcome, TerminalState};
use crate::scenario::Threshold;

/// Drawing area of every chart, in SVG units (the SVG scales down to the page width).
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
/// Room for the y-axis labels (left), the legend (top) and the x-axis labels (bottom).
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 52.0;

const COLORS: [&str; 4] = ["#3867d6", "#20bf6b", "#eb3b5a", "#8854d0"];
/// The colours of [`Ended::CLASSES`]: delivered green, 4xx amber, 5xx red, timeout purple,
/// connection errors slate, other failures grey.
const CLASS_COLORS: [&str; 6] = [
    "#20bf6b", "#f7b731", "#eb3b5a", "#8854d0", "#4b6584", "#a5b1c2",
];

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0;max-width:100%}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}td{overflow-wrap:anywhere}\
@media (max-width:600px){body{margin:1em auto;padding:0 .5em;font-size:12px}td,th{padding:.2em .3em}\
svg.chart text.tick:not(.bar),svg.chart text.axis-label{font-size:15px}}\
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\
td.value{text-align:right;overflow-wrap:normal;font-variant-numeric:tabular-nums}td.metric,td.verdict{white-space:nowrap}tr.regressed td{background:#fde7ea}.wide{overflow-x:auto;max-width:100%}\
.pass{color:#176b2c;font-weight:bold}.fail{color:#b00020;font-weight:bold}\
.banner{padding:.8em 1em;border-radius:4px;margin:1em 0}.banner.pass{background:#e6f4ea}.banner.fail{background:#fde7ea}\
svg.chart{display:block;width:100%;max-width:720px;height:auto;background:#fafafa;border:1px solid #ddd;margin:.5em 0}\
.note{color:#555}pre.body{white-space:pre-wrap;overflow-wrap:anywhere;background:#f4f4f4;padding:.5em;margin:.3em 0;font-size:12px;max-height:20em;overflow-y:auto}\
details{margin:.3em 0}details>summary{cursor:pointer;overflow-wrap:anywhere}details.failure{border-left:3px solid #eb3b5a;padding-left:.6em}\
.scale-linear:checked~.log,.scale-log:checked~.linear{display:none}.scales label{margin-right:1em}\
code{overflow-wrap:anywhere}td.answer{min-width:16em;font-size:12px}";

fn head(title: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>inboxkit-mock: {}</title><style>{STYLE}</style></head><body>\n",
        escape(title)
    )
}

/// Renders the report as one HTML page: the verdict and what failed first, then the summary,
/// thresholds, steps and charts.
pub fn render(report: &Report) -> String {
    let passed = report.passed();
    let mut page = head(&report.scenario);
    let _ = write!(
        page,
        "<h1>{name} <span class=\"{class}\">{verdict}</span></h1>\n<p>Target {target}; shards {shards}; started {started}.</p>\n",
        name = escape(&report.scenario),
        class = if passed { "pass" } else { "fail" },
        verdict = if passed { "PASS" } else { "FAIL" },
        target = escape(&report.target),
        shards = escape(&report.shards.join(", ")),
        started = escape(&report.started_at),
    );
    let failures: Vec<String> = report
        .verdicts
        .iter()
        .filter(|v| !v.pass)
        .map(|v| {
            format!(
                "threshold <code>{}</code>: {}",
                escape(&v.threshold),
                escape(&verdict_figures(v))
            )
        })
        .chain(
            report
                .steps
                .iter()
                .filter(|s| !s.pass)
                .map(|s| format!("{}: {}", escape(&s.step), escape(&s.detail))),
        )
        .collect();
    let undelivered = failed_line(&report.stats);
    if failures.is_empty() {
        let _ = writeln!(
            page,
            "<div class=\"banner pass\">Every threshold and step passed.{}</div>",
            undelivered
                .map(|line| format!(" {line}"))
                .unwrap_or_default()
        );
    } else {
        let _ = writeln!(
            page,
            "<div class=\"banner fail\"><strong>Failed:</strong><ul>{}{}</ul></div>",
            failures
                .iter()
                .map(|f| format!("<li>{f}</li>"))
                .collect::<String>(),
            undelivered
                .map(|line| format!("<li>{line}</li>"))
                .unwrap_or_default()
        );
    }
    if !report.verdicts.is_empty() {
        page.push_str("<h2>Thresholds</h2><table><tr><th>threshold</th><th>observed</th><th>verdict</th></tr>\n");
        for v in &report.verdicts {
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"{}\">{}</td></tr>",
                escape(&v.threshold),
                escape(&observed(v.observed, &v.threshold)),
                if v.pass { "pass" } else { "fail" },
                escape(&threshold_verdict(v))
            );
        }
        page.push_str("</table>\n");
    }
    if !report.steps.is_empty() {
        page.push_str(
            "<h2>Steps</h2><table><tr><th>step</th><th>verdict</th><th>detail</th></tr>\n",
        );
        for s in &report.steps {
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
                escape(&s.step),
                if s.pass { "pass" } else { "fail" },
                if s.pass { "pass" } else { "FAIL" },
                escape(&s.detail)
            );
        }
        page.push_str("</table>\n");
    }
    let s = &report.stats;
    if s.events > 0 {
        summary(&mut page, s, &report.memory_lines());
        outcomes(&mut page, s);
    }
    if let Some(failures) = &s.failures {
        failed_deliveries(&mut page, s, failures);
    }
    if !s.response_us.0.is_empty() {
        over_time(&mut page, &s.timeline);
        page.push_str("<h2>Response time distribution</h2>\n");
        page.push_str(&histogram_chart(&s.response_us));
    }
    if !s.outcomes.is_empty() {
        page.push_str("<h2>Attempts by outcome</h2>\n");
        let bars: Vec<(String, f64)> = s
            .outcomes
            .iter()
            .map(|(o, n)| (o.to_string(), *n as f64))
            .collect();
        page.push_str(&bar_chart(
            "attempts by outcome",
            "outcome",
            "attempts",
            &bars,
        ));
    }
    if !s.attempts_per_event.is_empty() {
        page.push_str("<h2>Attempts per event</h2>\n");
        let bars: Vec<(String, f64)> = s
            .attempts_per_event
            .iter()
            .map(|(k, n)| (format!("{k}"), *n as f64))
            .collect();
        page.push_str(&bar_chart(
            "events by attempts made",
            "attempts made",
            "events",
            &bars,
        ));
    }
    page.push_str("</body></html>\n");
    page
}

/// The banner's line about deliveries that failed, linking to their list (None when none did).
fn failed_line(s: &Stats) -> Option<String> {
    let (rejected, exhausted) = (
        s.count(TerminalState::Rejected),
        s.count(TerminalState::Exhausted),
    );
    let failed = rejected + exhausted;
    if failed == 0 {
        return None;
    }
    let listed = s.failures.as_ref().map_or(0, |f| f.kept.len());
    let what = format!(
        "{failed} of {} events were not delivered ({rejected} rejected, {exhausted} exhausted)",
        s.events
    );
    Some(if listed > 0 {
        format!(
            "{what}: <a href=\"#failures\">the first {listed} with every attempt's request and response</a>."
        )
    } else {
        format!("{what}.")
    })
}

/// The summary: counts and memory with their units, and the time table.
fn summary(page: &mut String, s: &Stats, memory: &[(Option<String>, String)]) {
    page.push_str("<h2>Summary</h2><table>\n");
    // Terminal states and attempt outcomes have tables of their own (below).
    for (label, value) in summary_rows(s)
        .into_iter()
        .filter(|(label, _)| !matches!(*label, "terminal" | "attempts"))
    {
        let _ = writeln!(
            page,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(label),
            escape(&value)
        );
    }
    for (shard, line) in memory {
        let label = shard
            .as_ref()
            .map_or("memory".into(), |s| format!("memory (shard {s})"));
        let _ = writeln!(
            page,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(&label),
            escape(line)
        );
    }
    page.push_str("</table>\n<div class=\"wide\"><table><tr><th>time (ms)</th>");
    for (name, _) in PERCENTILES {
        let _ = write!(page, "<th>{name}</th>");
    }
    page.push_str("</tr>\n");
    for (label, h) in [
        ("response", &s.response_us),
        ("service", &s.service_us),
        ("send lag", &s.lag_us),
    ] {
        let _ = write!(page, "<tr><th>{label}</th>");
        for (_, pick) in PERCENTILES {
            let _ = write!(
                page,
                "<td class=\"num\">{}</td>",
                pick(h).map_or("-".into(), |v| format!("{v:.3}"))
            );
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table></div>\n");
}

/// A share as a percentage of `total`, one decimal.
fn share(count: u64, total: u64) -> String {
    if total == 0 {
        "-".into()
    } else {
        format!("{:.1} %", count as f64 * 100.0 / total as f64)
    }
}

/// Where an outcome's failed deliveries are listed: its group (deliveries that ended on it),
/// else the first listed delivery with an attempt of that outcome.
fn failure_anchor(failures: Option<&Failures>, outcome: AttemptOutcome) -> Option<String> {
    let kept = &failures?.kept;
    if kept.iter().any(|f| f.last_outcome() == Some(outcome)) {
        return Some(format!("failed-{outcome}"));
    }
    kept.iter()
        .position(|f| f.attempts.iter().any(|a| a.outcome == outcome))
        .map(|i| format!("failure-{}", i + 1))
}

/// The outcome tables: events by terminal state, attempts by outcome (each failing outcome's
/// count linked to its failed deliveries).
fn outcomes(page: &mut String, s: &Stats) {
    page.push_str("<h2 id=\"outcomes\">Outcomes</h2>\n<table><tr><th>events by terminal state</th><th>events</th><th>share</th></tr>\n");
    for state in TerminalState::ALL {
        let count = s.count(state);
        let listed = s.failures.as_ref().is_some_and(|f| !f.kept.is_empty());
        let cell = if state != TerminalState::Delivered && count > 0 && listed {
            format!("<a href=\"#failures\">{count}</a>")
        } else {
            count.to_string()
        };
        let _ = writeln!(
            page,
            "<tr><td>{state}</td><td class=\"num\">{cell}</td><td class=\"num\">{}</td></tr>",
            share(count, s.events)
        );
    }
    let _ = writeln!(
        page,
        "<tr><th>all</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></table>",
        s.events,
        share(s.events, s.events)
    );
    let attempts = s.attempts();
    page.push_str("<table><tr><th>attempts by outcome</th><th>attempts</th><th>share</th></tr>\n");
    for (outcome, count) in &s.outcomes {
        let anchor = (*outcome != AttemptOutcome::Delivered)
            .then(|| failure_anchor(s.failures.as_ref(), *outcome))
            .flatten();
        let cell = match anchor {
            Some(anchor) => format!(
                "<a href=\"#{anchor}\" title=\"the failed deliveries with a {outcome} attempt\">{count}</a>"
            ),
            None => count.to_string(),
        };
        let _ = writeln!(
            page,
            "<tr><td>{outcome}</td><td class=\"num\">{cell}</td><td class=\"num\">{}</td></tr>",
            share(*count, attempts)
        );
    }
    let _ = writeln!(
        page,
        "<tr><th>all</th><td class=\"num\">{attempts}</td><td class=\"num\">{}</td></tr></table>",
        share(attempts, attempts)
    );
}

/// The failed deliveries, grouped by the outcome that ended them, each with every attempt.
fn failed_deliveries(page: &mut String, s: &Stats, failures: &Failures) {
    if failures.kept.is_empty() {
        return;
    }
    let failed = s.count(TerminalState::Rejected) + s.count(TerminalState::Exhausted);
    let _ = writeln!(
        page,
        "<h2 id=\"failures\">Failed deliveries</h2>\n<p class=\"note\">The first {} of the {failed} deliveries that ended rejected or exhausted, by planned send time (at most {} are kept: <code>run --failed-deliveries N</code> or <code>[report] failed_deliveries</code>), grouped by the outcome of their last attempt. Credentials are redacted (in headers, and the mailbox passwords and secrets in request bodies); bodies are cut at 2 KiB (requests) and 1 KiB (responses).</p>",
        failures.kept.len(),
        failures.limit
    );
    // Groups in the order of their first delivery; the first delivery of all is open.
    let mut order: Vec<AttemptOutcome> = Vec::new();
    for outcome in failures
        .kept
        .iter()
        .filter_map(FailedDelivery::last_outcome)
    {
        if !order.contains(&outcome) {
            order.push(outcome);
        }
    }
    for outcome in order {
        let group: Vec<(usize, &FailedDelivery)> = failures
            .kept
            .iter()
            .enumerate()
            .filter(|(_, f)| f.last_outcome() == Some(outcome))
            .collect();
        let _ = writeln!(
            page,
            "<h3 id=\"failed-{outcome}\">Ended on {outcome}: {} listed</h3>",
            group.len()
        );
        for (index, failed) in group {
            failed_delivery(page, index + 1, failed, index == 0);
        }
    }
    // Deliveries without attempts (never expected) still show.
    for (index, failed) in failures
        .kept
        .iter()
        .enumerate()
        .filter(|(_, f)| f.attempts.is_empty())
    {
        failed_delivery(page, index + 1, failed, false);
    }
}

fn failed_delivery(page: &mut String, number: usize, failed: &FailedDelivery, open: bool) {
    let _ = writeln!(
        page,
        "<details class=\"failure\" id=\"failure-{number}\"{}><summary><strong>#{number}</strong> +{:.3} s <code>{}</code> {} {} after {} attempt{} ({})</summary>",
        if open { " open" } else { "" },
        failed.planned_us as f64 / 1e6,
        escape(&failed.event),
        escape(failed.entity_uid.as_deref().unwrap_or("")),
        failed.state,
        failed.attempts.len(),
        if failed.attempts.len() == 1 { "" } else { "s" },
        escape(&failed.statuses())
    );
    if failed.journaled {
        let _ = writeln!(
            page,
            "<p>{} <code>{}</code>; delivery <code>{}</code>; shard {}; planned {:.3} s into the run.</p>",
            escape(&failed.method),
            escape(&failed.url),
            escape(&failed.id),
            escape(&failed.shard),
            failed.planned_us as f64 / 1e6
        );
    } else {
        page.push_str("<p class=\"note\">The journal no longer held this delivery when it failed: only each attempt's outcome and latency are known.</p>\n");
    }
    page.push_str("<div class=\"wide\"><table><tr><th>attempt</th><th>started (sender clock)</th><th>outcome</th><th>status</th><th>latency (ms)</th><th>answer (start) or error</th></tr>\n");
    for a in &failed.attempts {
        let _ = writeln!(
            page,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.3}</td><td class=\"answer\">{}</td></tr>",
            a.number,
            escape(a.started_at.as_deref().unwrap_or("-")),
            a.outcome,
            a.response
                .as_ref()
                .map_or("-".into(), |r| r.status.to_string()),
            a.latency_ms,
            escape(&answer(a))
        );
    }
    page.push_str("</table></div>\n");
    body_block(page, "Request body", &failed.body);
    for a in failed
        .attempts
        .iter()
        .filter(|a| !a.request_headers.is_empty() || a.response.is_some())
    {
        attempt_detail(page, a);
    }
    page.push_str("</details>\n");
}

/// The start of an attempt's answer (its first 160 characters), or its error.
fn answer(a: &FailedAttempt) -> String {
    match (&a.response, &a.error) {
        (Some(response), _) => {
            let text: String = response.body.text.chars().take(160).collect();
            if text.len() < response.body.text.len() || response.body.truncated {
                format!("{text}…")
            } else {
                text
            }
        }
        (None, Some(error)) => error.clone(),
        (None, None) => String::new(),
    }
}

fn body_block(page: &mut String, what: &str, body: &Excerpt) {
    let _ = writeln!(
        page,
        "<p>{what} ({} bytes{}):</p><pre class=\"body\">{}</pre>",
        body.bytes,
        if body.truncated { ", cut" } else { "" },
        escape(&body.text)
    );
}

fn headers_table(page: &mut String, caption: &str, headers: &[(String, String)]) {
    let _ = write!(
        page,
        "<div class=\"wide\"><table><tr><th colspan=\"2\">{caption}</th></tr>"
    );
    for (name, value) in headers {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(name),
            escape(value)
        );
    }
    page.push_str("</table></div>\n");
}

fn attempt_detail(page: &mut String, a: &FailedAttempt) {
    let _ = writeln!(
        page,
        "<details><summary>attempt {}: request and response</summary>",
        a.number
    );
    headers_table(page, "request headers", &a.request_headers);
    match &a.response {
        Some(response) => {
            headers_table(
                page,
                &format!("response {} headers", response.status),
                &response.headers,
            );
            body_block(page, "Response body", &response.body);
        }
        None => {
            let _ = writeln!(
                page,
                "<p>No answer: {} {}</p>",
                a.outcome,
                escape(a.error.as_deref().unwrap_or(""))
            );
        }
    }
    page.push_str("</details>\n");
}

/// The charts over the run: outcomes, throughput, and response and service time percentiles
/// (linear and logarithmic, switched by a radio button without scripts).
fn over_time(page: &mut String, timeline: &[Second]) {
    // Each second's figures sit in the middle of the second, as the stacked bars do.
    let mids: Vec<f64> = (0..timeline.len()).map(|i| i as f64 + 0.5).collect();
    let seconds = (mids.as_slice(), timeline.len() as f64);
    let counted = timeline.iter().any(|t| !t.ended.is_empty());
    if counted {
        page.push_str("<h2>Outcomes over the run</h2>\n");
        page.push_str(&stacked_chart(
            "events by how they ended, per second",
            "second the events were planned in (s)",
            "events (events/s)",
            timeline,
        ));
        page.push_str("<p class=\"note\">Each event counts once, in the second its send was planned in, by how it ended: delivered (possibly after retries), or the outcome of its last attempt.</p>\n");
    }
    page.push_str("<h2>Throughput over the run</h2>\n");
    let mut throughput = vec![(
        "attempted",
        timeline.iter().map(|t| t.events as f64).collect::<Vec<_>>(),
    )];
    if counted {
        throughput.push((
            "delivered",
            timeline.iter().map(|t| t.ended.delivered as f64).collect(),
        ));
    }
    page.push_str(&line_chart(
        "events attempted and delivered per second",
        "second the events were planned in (s)",
        "events (events/s)",
        seconds,
        &throughput,
        Scale::Linear,
    ));
    page.push_str("<p class=\"note\">Delivered events count in the second their send was planned in (reports of earlier versions: attempted only).</p>\n");
    page.push_str("<h2>Response and service time over the run</h2>\n<div class=\"scales\">\
<input type=\"radio\" name=\"scale\" id=\"scale-linear\" class=\"scale-linear\" checked><label for=\"scale-linear\">linear scale</label>\
<input type=\"radio\" name=\"scale\" id=\"scale-log\" class=\"scale-log\"><label for=\"scale-log\">logarithmic scale</label>\n");
    let service: Vec<(&str, Vec<f64>)> = if timeline.iter().any(|t| t.service.is_some()) {
        let pick = |f: fn(&super::stats::ServiceSecond) -> f64| {
            timeline
                .iter()
                .map(|t| t.service.as_ref().map_or(0.0, f))
                .collect::<Vec<f64>>()
        };
        vec![
            ("p50", pick(|s| s.p50_ms)),
            ("p90", pick(|s| s.p90_ms)),
            ("p99", pick(|s| s.p99_ms)),
            ("max", pick(|s| s.max_ms)),
        ]
    } else {
        Vec::new()
    };
    for (class, scale, unit) in [
        ("linear", Scale::Linear, "ms"),
        ("log", Scale::Log, "ms, log scale"),
    ] {
        let _ = writeln!(page, "<div class=\"{class}\">");
        page.push_str(&line_chart(
            &format!("response time percentiles over time ({class})"),
            "second of the run (s)",
            &format!("response time ({unit})"),
            seconds,
            &percentile_series(timeline),
            scale,
        ));
        if !service.is_empty() {
            page.push_str(&line_chart(
                &format!("service time percentiles over time ({class})"),
                "second of the run (s)",
                &format!("service time ({unit})"),
                seconds,
                &service,
                scale,
            ));
        }
        page.push_str("</div>\n");
    }
    page.push_str("</div>\n<p class=\"note\">Response time runs from an event's planned send to the end of its first attempt; service time is each attempt's own latency, in the second its event was planned in. Reports of earlier versions keep no p90 and no service time per second.</p>\n");
}

/// Renders a run-to-run comparison: the verdict first, then every metric side by side.
pub fn render_comparison(comparison: &Comparison, baseline: &Report, current: &Report) -> String {
    let regressed = comparison.regressed();
    let failed = regressed || !current.passed();
    let mut page = head(&format!("{} against its baseline", current.scenario));
    let _ = writeln!(
        page,
        "<h1>{} against its baseline <span class=\"{}\">{}</span></h1>",
        escape(&current.scenario),
        if failed { "fail" } else { "pass" },
        match (regressed, current.passed()) {
            (true, _) => "REGRESSION",
            (false, false) => "FAIL",
            (false, true) => "OK",
        }
    );
    let _ = writeln!(
        page,
        "<div class=\"banner {}\">{}{}</div>",
        if failed { "fail" } else { "pass" },
        escape(&comparison.verdict()),
        if current.passed() {
            ""
        } else {
            "; the current run fails its own thresholds"
        }
    );
    let _ = writeln!(
        page,
        "<p>Baseline: {} (shards {}, started {}). Current: {} (shards {}, started {}), {}.</p>",
        escape(&baseline.scenario),
        escape(&baseline.shards.join(", ")),
        escape(&baseline.started_at),
        escape(&current.scenario),
        escape(&current.shards.join(", ")),
        escape(&current.started_at),
        if current.passed() {
            "its thresholds pass"
        } else {
            "its thresholds FAIL"
        }
    );
    // The direction goes with the change, so the verdict stays in view on a narrow screen.
    page.push_str("<div class=\"wide\"><table class=\"compare\"><tr><th>metric</th><th>baseline</th><th>current</th><th>change</th><th>limit</th><th>verdict</th></tr>\n");
    for row in &comparison.rows {
        let value = |v: Option<f64>| v.map_or("-".into(), |v| format_value(row.metric, v));
        let class = match row.direction() {
            "worse" => " fail",
            "better" => " pass",
            _ => "",
        };
        let direction = match row.direction() {
            "-" => String::new(),
            word => format!(" {word}"),
        };
        let _ = writeln!(
            page,
            "<tr{}><td class=\"metric\">{}</td><td class=\"value\">{}</td><td class=\"value\">{}</td><td class=\"value{class}\">{}{direction}</td><td class=\"num\">{}</td><td class=\"verdict{}\">{}</td></tr>",
            if row.regressed {
                " class=\"regressed\""
            } else {
                ""
            },
            row.metric.name(),
            escape(&value(row.baseline)),
            escape(&value(row.current)),
            escape(&row.change().map_or("-".into(), signed_percent)).replace(' ', "&nbsp;"),
            escape(&row.limit.map_or("-".into(), percent)),
            match (row.limit, row.regressed) {
                (_, true) => " fail",
                (Some(_), false) => " pass",
                (None, _) => "",
            },
            match (row.limit, row.regressed) {
                (_, true) => "REGRESSED",
                (Some(_), false) => "ok",
                (None, _) => "-",
            }
        );
    }
    page.push_str("</table></div>\n");
    let seconds = baseline
        .stats
        .timeline
        .len()
        .max(current.stats.timeline.len());
    if seconds > 0 {
        page.push_str("<h2>Response time p99 over the run</h2>\n");
        let xs: Vec<f64> = (0..seconds).map(|i| i as f64 + 0.5).collect();
        let p99 = |r: &Report| r.stats.timeline.iter().map(|t| t.p99_ms).collect();
        page.push_str(&line_chart(
            "response time p99 of both runs",
            "second of the run (s)",
            "response time p99 (ms)",
            (&xs, seconds as f64),
            &[("baseline", p99(baseline)), ("current", p99(current))],
            Scale::Linear,
        ));
    }
    // Delivered per second, when both runs counted how each second's events ended.
    let counted = |r: &Report| r.stats.timeline.iter().any(|t| !t.ended.is_empty());
    if seconds > 0 && counted(baseline) && counted(current) {
        page.push_str("<h2>Delivered events per second over the run</h2>\n");
        let xs: Vec<f64> = (0..seconds).map(|i| i as f64 + 0.5).collect();
        let delivered = |r: &Report| {
            r.stats
                .timeline
                .iter()
                .map(|t| t.ended.delivered as f64)
                .collect()
        };
        page.push_str(&line_chart(
            "events delivered per second of both runs",
            "second the events were planned in (s)",
            "delivered (events/s)",
            (&xs, seconds as f64),
            &[
                ("baseline", delivered(baseline)),
                ("current", delivered(current)),
            ],
            Scale::Linear,
        ));
        page.push_str("<p class=\"note\">Each delivered event counts in the second its send was planned in, retries included. The table's <code>throughput</code> is delivered events over the time until every event was terminal, which retries at the end of a run lengthen.</p>\n");
    }
    page.push_str("</body></html>\n");
    page
}

/// The per-second series drawn: p50, p90 when every second has it, p99 and max.
fn percentile_series(timeline: &[Second]) -> Vec<(&'static str, Vec<f64>)> {
    let mut series = vec![("p50", timeline.iter().map(|t| t.p50_ms).collect())];
    if let Some(p90) = timeline
        .iter()
        .map(|t| t.p90_ms)
        .collect::<Option<Vec<f64>>>()
    {
        series.push(("p90", p90));
    }
    series.push(("p99", timeline.iter().map(|t| t.p99_ms).collect()));
    series.push(("max", timeline.iter().map(|t| t.max_ms).collect()));
    series
}

/// The verdict cell of a threshold: `pass`, or `FAIL` with what it needs (or why it could not
/// be judged).
fn threshold_verdict(v: &crate::scenario::threshold::Verdict) -> String {
    if v.pass {
        return "pass".into();
    }
    match (v.observed, v.threshold.parse::<Threshold>()) {
        (Some(_), Ok(t)) => format!("FAIL: {}", needs(&t)),
        _ => format!("FAIL: {}", v.reason.as_deref().unwrap_or("no samples")),
    }
}

fn observed(value: Option<f64>, threshold: &str) -> String {
    match (value, threshold.parse::<Threshold>()) {
        (None, _) => "no samples".into(),
        (Some(v), Ok(t)) => format_value(t.metric, v),
        (Some(v), Err(_)) => format!("{v:.3}"),
    }
}

/// Axis ticks from 0 to at least `top`: 1, 2 or 5 times a power of ten, about five of them.
fn ticks(top: f64) -> Vec<f64> {
    let top = if top > 0.0 && top.is_finite() {
        top
    } else {
        1.0
    };
    let raw = top / 5.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let count = (top / step).ceil() as usize;
    (0..=count)
        .map(|i| (i as f64 * step * 1e9).round() / 1e9)
        .collect()
}

fn number(v: f64) -> String {
    if v == 0.0 || v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').to_owned()
    }
}

/// How values map onto a chart's height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    /// From 0, evenly.
    Linear,
    /// Decades evenly (values at or below the lowest tick sit on the axis).
    Log,
}

/// A y axis: its scale, its range and its tick values.
#[derive(Debug, Clone, PartialEq)]
struct YAxis {
    scale: Scale,
    low: f64,
    high: f64,
    ticks: Vec<f64>,
}

impl YAxis {
    /// An axis covering `values`.
    fn new(scale: Scale, values: impl Iterator<Item = f64>) -> Self {
        let values = values.filter(|v| v.is_finite());
        match scale {
            Scale::Linear => {
                let ticks = ticks(values.fold(0.0_f64, f64::max));
                YAxis {
                    scale,
                    low: 0.0,
                    high: *ticks.last().unwrap_or(&1.0),
                    ticks,
                }
            }
            Scale::Log => {
                let (low, high) = values
                    .filter(|v| *v > 0.0)
                    .fold(None, |range: Option<(f64, f64)>, v| {
                        Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
                    })
                    .unwrap_or((1.0, 10.0));
                let low_exp = low.log10().floor() as i32;
                let high_exp = (high.log10().ceil() as i32).max(low_exp + 1);
                let dense = high_exp - low_exp <= 2;
                let top = 10f64.powi(high_exp);
                let ticks = (low_exp..=high_exp)
                    .flat_map(|e| {
                        let p = 10f64.powi(e);
                        if dense {
                            vec![p, 2.0 * p, 5.0 * p]
                        } else {
                            vec![p]
                        }
                    })
                    .filter(|t| *t <= top * 1.000_001)
                    .map(|t| (t * 1e9).round() / 1e9)
                    .collect();
                YAxis {
                    scale,
                    low: 10f64.powi(low_exp),
                    high: top,
                    ticks,
                }
            }
        }
    }

    /// The SVG y coordinate of `value`.
    fn y(&self, value: f64) -> f64 {
        let fraction = match self.scale {
            Scale::Linear => value / self.high,
            Scale::Log if value <= self.low => 0.0,
            Scale::Log => {
                (value.log10() - self.low.log10()) / (self.high.log10() - self.low.log10())
            }
        };
        let bottom = HEIGHT - BOTTOM;
        bottom - fraction.clamp(0.0, 1.0) * (bottom - TOP)
    }
}

/// Opens a chart: the SVG, its y axis with ticks and gridlines, and the axis titles.
fn frame(svg: &mut String, title: &str, x_label: &str, y_label: &str, axis: &YAxis) {
    let _ = writeln!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(title)
    );
    let bottom = HEIGHT - BOTTOM;
    for tick in &axis.ticks {
        let y = axis.y(*tick);
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e2e2e2\"/><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            number(*tick)
        );
    }
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\" stroke=\"#444\"/>\
<line x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{:.1}\" y2=\"{bottom}\" stroke=\"#444\"/>\
<text class=\"axis-label\" x=\"14\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 {:.1})\">{}</text>\
<text class=\"axis-label\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\">{}</text>",
        WIDTH - RIGHT,
        (TOP + bottom) / 2.0,
        (TOP + bottom) / 2.0,
        escape(y_label),
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 8.0,
        escape(x_label)
    );
}

/// The x axis of a chart over `0..=x_max`: tick marks and labels; returns where `x` is drawn.
fn x_axis(svg: &mut String, x_max: f64) -> impl Fn(f64) -> f64 + use<> {
    let x_max = x_max.max(1.0);
    let x_of = move |x: f64| LEFT + x / x_max * (WIDTH - RIGHT - LEFT);
    let bottom = HEIGHT - BOTTOM;
    for tick in ticks(x_max).into_iter().filter(|t| *t <= x_max) {
        let x = x_of(tick);
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{bottom}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#444\"/><text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            bottom + 4.0,
            bottom + 16.0,
            number(tick)
        );
    }
    x_of
}

/// The legend along the top: a swatch and a name per entry, each as wide as its name.
fn legend(svg: &mut String, entries: &[(&str, &str)]) {
    let mut lx = LEFT + 8.0;
    for (name, color) in entries {
        let _ = writeln!(
            svg,
            "<g class=\"legend\"><rect x=\"{lx:.1}\" y=\"8\" width=\"14\" height=\"6\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"15\" font-size=\"12\">{}</text></g>",
            lx + 18.0,
            escape(name)
        );
        // About 7 units a character at 12 px, then a gap.
        lx += 18.0 + 7.0 * name.chars().count() as f64 + 22.0;
    }
}

/// A line chart of `series` (name, values) at `xs`, on an x axis from 0 to `x_max`, with a
/// legend.
fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    (xs, x_max): (&[f64], f64),
    series: &[(&str, Vec<f64>)],
    scale: Scale,
) -> String {
    let axis = YAxis::new(scale, series.iter().flat_map(|(_, v)| v.iter().copied()));
    let mut svg = String::new();
    frame(&mut svg, title, x_label, y_label, &axis);
    let x_of = x_axis(&mut svg, x_max);
    let mut names = Vec::new();
    for (i, (name, values)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<String> = xs
            .iter()
            .zip(values)
            .map(|(x, v)| format!("{:.1},{:.1}", x_of(*x), axis.y(*v)))
            .collect();
        // Later series are dashed so that one lying on another stays visible.
        let dash = if i > 0 {
            format!(" stroke-dasharray=\"{} 3\"", 12 - 3 * i.min(3))
        } else {
            String::new()
        };
        let _ = writeln!(
            svg,
            "<polyline class=\"series\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\"{dash} points=\"{}\"/>",
            points.join(" ")
        );
        names.push((*name, color));
    }
    legend(&mut svg, &names);
    svg.push_str("</svg>\n");
    svg
}

/// Per second, the events stacked by how they ended ([`Ended::CLASSES`]), with a legend.
fn stacked_chart(title: &str, x_label: &str, y_label: &str, timeline: &[Second]) -> String {
    let totals = timeline
        .iter()
        .map(|t| t.ended.counts().iter().sum::<u64>() as f64);
    let axis = YAxis::new(Scale::Linear, totals);
    let mut svg = String::new();
    frame(&mut svg, title, x_label, y_label, &axis);
    let x_of = x_axis(&mut svg, timeline.len() as f64);
    let slot = x_of(1.0) - x_of(0.0);
    for (second, t) in timeline.iter().enumerate() {
        let mut below = 0u64;
        for (class, count) in t.ended.counts().into_iter().enumerate() {
            if count == 0 {
                continue;
            }
            let (y0, y1) = (axis.y(below as f64), axis.y((below + count) as f64));
            below += count;
            let _ = writeln!(
                svg,
                "<rect class=\"stack\" x=\"{:.1}\" y=\"{y1:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>second {second}: {count} {}</title></rect>",
                x_of(second as f64) + slot * 0.075,
                (slot * 0.85).max(0.5),
                y0 - y1,
                CLASS_COLORS[class],
                Ended::CLASSES[class]
            );
        }
    }
    let entries: Vec<(&str, &str)> = Ended::CLASSES.iter().copied().zip(CLASS_COLORS).collect();
    legend(&mut svg, &entries);
    svg.push_str("</svg>\n");
    svg
}

/// A bar chart of (label, value), each bar labelled with its value.
fn bar_chart(title: &str, x_label: &str, y_label: &str, bars: &[(String, f64)]) -> String {
    let axis = YAxis::new(Scale::Linear, bars.iter().map(|b| b.1));
    let mut svg = String::new();
    frame(&mut svg, title, x_label, y_label, &axis);
    let bottom = HEIGHT - BOTTOM;
    let slot = (WIDTH - RIGHT - LEFT) / bars.len().max(1) as f64;
    // Labels need about 58 units each: crowded ones alternate between two rows, and when even
    // that is too tight only every k-th bar is labelled (each bar keeps its tooltip).
    const LABEL: f64 = 58.0;
    let (rows, every) = if slot >= LABEL {
        (1, 1)
    } else {
        (2, (LABEL / (2.0 * slot)).ceil().max(1.0) as usize)
    };
    for (i, (label, value)) in bars.iter().enumerate() {
        let h = bottom - axis.y(*value);
        let x = LEFT + i as f64 * slot + slot * 0.15;
        let w = (slot * 0.7).max(1.0);
        let cx = x + w / 2.0;
        let _ = writeln!(
            svg,
            "<rect class=\"bar\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{}: {}</title></rect>",
            bottom - h,
            COLORS[0],
            escape(label),
            number(*value)
        );
        if slot >= 30.0 {
            let _ = writeln!(
                svg,
                "<text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                bottom - h - 3.0,
                number(*value)
            );
        }
        if i % every == 0 {
            let row = (i / every) % rows;
            let _ = writeln!(
                svg,
                "<text class=\"tick bar\" x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                bottom + 14.0 + 12.0 * row as f64,
                escape(label)
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// The response-time histogram: logarithmic buckets, each twice the one before from 10 µs,
/// labelled by their upper bound.
fn histogram_chart(histogram: &Micros) -> String {
    let mut buckets: Vec<(u64, u64)> = histogram
        .0
        .iter_log(10, 2.0)
        .map(|v| (v.value_iterated_to(), v.count_since_last_iteration()))
        .skip_while(|(_, count)| *count == 0)
        .collect();
    while buckets.last().is_some_and(|b| b.1 == 0) {
        buckets.pop();
    }
    let bars: Vec<(String, f64)> = buckets
        .iter()
        .map(|(upper, count)| (format!("≤ {}", format_micros(*upper)), *count as f64))
        .collect();
    bar_chart(
        "response time histogram",
        "response time bucket (upper bound)",
        "events",
        &bars,
    )
}

fn format_micros(micros: u64) -> String {
    if micros >= 1_000_000 {
        format!("{:.1} s", micros as f64 / 1e6)
    } else if micros >= 1_000 {
        format!("{:.1} ms", micros as f64 / 1e3)
    } else {
        format!("{micros} µs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_top() {
        assert_eq!(ticks(9.0), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(1.085), [0.0, 0.5, 1.0, 1.5]);
        assert_eq!(ticks(0.0), [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(1200.0), "1200");
    }

    #[test]
    fn log_axes_span_whole_decades_and_place_values_by_their_logarithm() {
        let axis = YAxis::new(Scale::Log, [15.0, 0.0, 64.7].into_iter());
        assert_eq!((axis.low, axis.high), (10.0, 100.0));
        assert_eq!(axis.ticks, [10.0, 20.0, 50.0, 100.0]);
        let bottom = HEIGHT - BOTTOM;
        assert_eq!(axis.y(10.0), bottom);
        assert_eq!(axis.y(0.0), bottom, "zero sits on the axis");
        assert_eq!(axis.y(100.0), TOP);
        let middle = (bottom + TOP) / 2.0;
        assert!((axis.y(10f64.sqrt() * 10.0) - middle).abs() < 1e-9);
        // Wide ranges keep one tick a decade.
        let wide = YAxis::new(Scale::Log, [0.002, 5000.0].into_iter());
        assert_eq!(
            wide.ticks,
            [0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0]
        );
    }

    /// Every `href="#x"` of `page` has an element with `id="x"`.
    fn dangling_links(page: &str) -> Vec<String> {
        page.split("href=\"#")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .filter(|id| !page.contains(&format!("id=\"{id}\"")))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn outcome_counts_link_only_to_failures_that_are_listed() {
        let mut stats = Stats::default();
        stats.events = 3;
        stats.terminal.insert(TerminalState::Delivered, 1);
        stats.terminal.insert(TerminalState::Rejected, 2);
        stats.outcomes.insert(AttemptOutcome::Delivered, 1);
        stats.outcomes.insert(AttemptOutcome::Http4xx, 2);
        let report = |failures: Option<Failures>| {
            let mut stats = stats.clone();
            stats.failures = failures;
            Report {
                scenario: "s".into(),
                shards: vec!["1/1".into()],
                target: "t".into(),
                started_at: String::new(),
                thresholds: Vec::new(),
                steps: Vec::new(),
                stats,
                verdicts: Vec::new(),
                memory: Default::default(),
            }
        };
        for failures in [
            None,
            Some(serde_json::from_str(r#"{"limit":0,"kept":[]}"#).unwrap()),
        ] {
            let page = render(&report(failures));
            assert!(
                dangling_links(&page).is_empty(),
                "{:?}",
                dangling_links(&page)
            );
            assert!(
                !page.contains("href=\"#fail"),
                "nothing listed, nothing linked"
            );
            assert!(page.contains("2 of 3 events were not delivered (2 rejected, 0 exhausted)."));
        }
    }

    #[test]
    fn the_stacked_chart_draws_each_class_with_its_count() {
        let mut second = Second::default();
        for _ in 0..3 {
            second
                .ended
                .count(crate::delivery::DeliveryState::Delivered, None);
        }
        second.ended.count(
            crate::delivery::DeliveryState::Exhausted,
            Some(AttemptOutcome::ConnectionClosed),
        );
        let svg = stacked_chart("t", "x", "y", &[second, Second::default()]);
        assert!(
            svg.contains("<title>second 0: 3 delivered</title>"),
            "{svg}"
        );
        assert!(
            svg.contains("<title>second 0: 1 connection error</title>"),
            "{svg}"
        );
        assert_eq!(svg.matches("class=\"stack\"").count(), 2);
        for class in Ended::CLASSES {
            assert!(svg.contains(&format!(">{class}</text></g>")), "{class}");
        }
    }
}
