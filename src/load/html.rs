//! A self-contained HTML report: summary tables, a latency histogram and latency over time,
//! drawn as inline SVG (no scripts, no external files).

use std::fmt::Write;

use super::report::{Report, escape};
use super::stats::Micros;
use crate::scenario::Threshold;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const MARGIN: f64 = 40.0;

/// Renders the report as one HTML page.
pub fn render(report: &Report) -> String {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>inboxkit-mock: {name}</title>\
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:60em;color:#222}}\
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}\
.pass{{color:#176b2c;font-weight:bold}}.fail{{color:#b00020;font-weight:bold}}svg{{background:#fafafa;border:1px solid #ddd}}\
pre{{background:#f4f4f4;padding:1em;overflow:auto}}</style></head><body>\n\
<h1>{name} <span class=\"{class}\">{verdict}</span></h1>\n<p>Target {target}; shards {shards}; started {started}.</p>\n",
        name = escape(&report.scenario),
        class = if report.passed() { "pass" } else { "fail" },
        verdict = if report.passed() { "PASS" } else { "FAIL" },
        target = escape(&report.target),
        shards = escape(&report.shards.join(", ")),
        started = escape(&report.started_at),
    );
    if !report.verdicts.is_empty() {
        page.push_str("<h2>Thresholds</h2><table><tr><th>threshold</th><th>observed</th><th>verdict</th></tr>\n");
        for v in &report.verdicts {
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                escape(&v.threshold),
                v.observed.map_or("no samples".to_owned(), |o| {
                    let unit = v
                        .threshold
                        .parse::<Threshold>()
                        .ok()
                        .filter(|t| t.metric.is_duration())
                        .map_or("", |_| " ms");
                    format!("{o:.3}{unit}")
                }),
                if v.pass { "pass" } else { "fail" },
                escape(v.reason.as_deref().unwrap_or("pass"))
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
    let _ = writeln!(
        page,
        "<h2>Summary</h2><pre>{}</pre>",
        escape(&report.text())
    );
    if !report.stats.response_us.0.is_empty() {
        page.push_str("<h2>Response time distribution</h2>\n");
        page.push_str(&histogram_svg(&report.stats.response_us));
        page.push_str("<h2>Response time over the run</h2>\n");
        page.push_str(&timeline_svg(report));
    }
    page.push_str("</body></html>\n");
    page
}

fn histogram_svg(histogram: &Micros) -> String {
    // Logarithmic buckets: each twice the one before, from 10 µs.
    let buckets: Vec<(u64, u64)> = histogram
        .0
        .iter_log(10, 2.0)
        .map(|v| (v.value_iterated_to(), v.count_since_last_iteration()))
        .skip_while(|(_, count)| *count == 0)
        .collect();
    let most = buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let width = (WIDTH - 2.0 * MARGIN) / buckets.len().max(1) as f64;
    let mut svg = format!(
        "<svg width=\"{WIDTH}\" height=\"{}\" role=\"img\" aria-label=\"latency histogram\">\n",
        HEIGHT + 40.0
    );
    for (i, (upper, count)) in buckets.iter().enumerate() {
        let h = (*count as f64 / most) * (HEIGHT - MARGIN);
        let x = MARGIN + i as f64 * width;
        let _ = writeln!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#3867d6\"><title>&lt;= {} : {count}</title></rect>",
            HEIGHT - h,
            (width - 1.0).max(1.0),
            format_micros(*upper)
        );
        if i % 2 == 0 {
            let _ = writeln!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" transform=\"rotate(45 {x:.1} {:.1})\">{}</text>",
                HEIGHT + 12.0,
                HEIGHT + 12.0,
                format_micros(*upper)
            );
        }
    }
    let _ = writeln!(
        svg,
        "<text x=\"4\" y=\"14\" font-size=\"11\">events (max {most})</text></svg>"
    );
    svg
}

fn timeline_svg(report: &Report) -> String {
    let timeline = &report.stats.timeline;
    let top = timeline
        .iter()
        .map(|s| s.p99_ms)
        .fold(0.0_f64, f64::max)
        .max(0.001);
    let step = (WIDTH - 2.0 * MARGIN) / timeline.len().max(1) as f64;
    let line = |pick: fn(&super::stats::Second) -> f64| -> String {
        timeline
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "{:.1},{:.1}",
                    MARGIN + i as f64 * step,
                    HEIGHT - pick(s) / top * (HEIGHT - MARGIN)
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "<svg width=\"{WIDTH}\" height=\"{}\" role=\"img\" aria-label=\"latency over time\">\n\
<polyline fill=\"none\" stroke=\"#3867d6\" stroke-width=\"1.5\" points=\"{}\"/>\n\
<polyline fill=\"none\" stroke=\"#eb3b5a\" stroke-width=\"1.5\" points=\"{}\"/>\n\
<text x=\"4\" y=\"14\" font-size=\"11\">ms (top {top:.2}); blue p50, red p99; x: seconds 0-{}</text></svg>\n",
        HEIGHT + 20.0,
        line(|s| s.p50_ms),
        line(|s| s.p99_ms),
        timeline.len()
    )
}

fn format_micros(micros: u64) -> String {
    if micros >= 1_000_000 {
        format!("{:.1}s", micros as f64 / 1e6)
    } else if micros >= 1_000 {
        format!("{:.1}ms", micros as f64 / 1e3)
    } else {
        format!("{micros}µs")
    }
}
