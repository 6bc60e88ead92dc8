//! Self-contained HTML: a run's report (verdict first, a summary table, charts) and a run-to-run
//! comparison, drawn as inline SVG with axes, units and legends (no scripts, no external files).

use std::fmt::Write;

use super::report::compare::{Comparison, percent, signed_percent};
use super::report::{PERCENTILES, Report, escape, format_value, summary_rows};
use super::stats::{Micros, Second};
use crate::scenario::Threshold;

/// Drawing area of every chart, in SVG units (the SVG scales down to the page width).
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
/// Room for the y-axis labels (left), the legend (top) and the x-axis labels (bottom).
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 52.0;

const COLORS: [&str; 4] = ["#3867d6", "#eb3b5a", "#20bf6b", "#8854d0"];

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0;max-width:100%}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}td{overflow-wrap:anywhere}\
@media (max-width:600px){body{margin:1em auto;padding:0 .5em;font-size:12px}td,th{padding:.2em .3em}}\
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}.wide{overflow-x:auto;max-width:100%}\
.pass{color:#176b2c;font-weight:bold}.fail{color:#b00020;font-weight:bold}\
.banner{padding:.8em 1em;border-radius:4px;margin:1em 0}.banner.pass{background:#e6f4ea}.banner.fail{background:#fde7ea}\
svg.chart{display:block;width:100%;max-width:720px;height:auto;background:#fafafa;border:1px solid #ddd}\
.note{color:#555}";

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
                "threshold <code>{}</code>: observed {}",
                escape(&v.threshold),
                escape(&observed(v.observed, &v.threshold))
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
    if failures.is_empty() {
        page.push_str("<div class=\"banner pass\">Every threshold and step passed.</div>\n");
    } else {
        let _ = writeln!(
            page,
            "<div class=\"banner fail\"><strong>Failed:</strong><ul>{}</ul></div>",
            failures
                .iter()
                .map(|f| format!("<li>{f}</li>"))
                .collect::<String>()
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
    let s = &report.stats;
    if s.events > 0 {
        page.push_str("<h2>Summary</h2><table>\n");
        for (label, value) in summary_rows(s) {
            let _ = writeln!(
                page,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(label),
                escape(&value)
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
    if !s.response_us.0.is_empty() {
        page.push_str("<h2>Response time over the run</h2>\n");
        let seconds: Vec<f64> = (0..s.timeline.len()).map(|i| i as f64).collect();
        page.push_str(&line_chart(
            "response time percentiles over time",
            "second of the run (s)",
            "response time (ms)",
            &seconds,
            &percentile_series(&s.timeline),
        ));
        page.push_str("<p class=\"note\">Per second the report keeps the response time's p50, p90 (reports of earlier versions: none), p99 and maximum; service time over time is not recorded (see the summary table for the whole run).</p>\n");
        page.push_str("<h2>Throughput over the run</h2>\n");
        page.push_str(&line_chart(
            "events attempted per second",
            "second of the run (s)",
            "events attempted (events/s)",
            &seconds,
            &[(
                "attempted",
                s.timeline.iter().map(|t| t.events as f64).collect(),
            )],
        ));
        page.push_str("<p class=\"note\">Deliveries per second are not recorded; the summary gives the delivered rate over the whole run.</p>\n");
        page.push_str("<h2>Response time distribution</h2>\n");
        page.push_str(&histogram_chart(&s.response_us));
    }
    if !s.outcomes.is_empty() {
        page.push_str("<h2>Attempt outcomes</h2>\n");
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
    page.push_str("<div class=\"wide\"><table><tr><th>metric</th><th>baseline</th><th>current</th><th>change</th><th>direction</th><th>limit</th><th>verdict</th></tr>\n");
    for row in &comparison.rows {
        let value = |v: Option<f64>| v.map_or("-".into(), |v| format_value(row.metric, v));
        let class = match row.direction() {
            "worse" => " class=\"fail\"",
            "better" => " class=\"pass\"",
            _ => "",
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td{class}>{}</td><td class=\"num\">{}</td><td class=\"{}\">{}</td></tr>",
            row.metric.name(),
            escape(&value(row.baseline)),
            escape(&value(row.current)),
            escape(&row.change().map_or("-".into(), signed_percent)),
            row.direction(),
            escape(&row.limit.map_or("-".into(), percent)),
            match (row.limit, row.regressed) {
                (_, true) => "fail",
                (Some(_), false) => "pass",
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
        let xs: Vec<f64> = (0..seconds).map(|i| i as f64).collect();
        let p99 = |r: &Report| r.stats.timeline.iter().map(|t| t.p99_ms).collect();
        page.push_str(&line_chart(
            "response time p99 of both runs",
            "second of the run (s)",
            "response time p99 (ms)",
            &xs,
            &[("baseline", p99(baseline)), ("current", p99(current))],
        ));
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

/// Opens a chart: the SVG, its y axis with ticks and gridlines up to `top`, and the axis titles.
fn frame(svg: &mut String, title: &str, x_label: &str, y_label: &str, top: f64) -> f64 {
    let ticks = ticks(top);
    let top = *ticks.last().unwrap_or(&1.0);
    let _ = writeln!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(title)
    );
    let bottom = HEIGHT - BOTTOM;
    for tick in &ticks {
        let y = bottom - tick / top * (bottom - TOP);
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
    top
}

/// A line chart of `series` (name, values) over `xs`, with a legend.
fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    xs: &[f64],
    series: &[(&str, Vec<f64>)],
) -> String {
    let most = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0_f64, f64::max);
    let mut svg = String::new();
    let top = frame(&mut svg, title, x_label, y_label, most);
    let bottom = HEIGHT - BOTTOM;
    let x_max = xs.last().copied().unwrap_or(0.0).max(1.0);
    let x_of = |x: f64| LEFT + x / x_max * (WIDTH - RIGHT - LEFT);
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
    for (i, (name, values)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<String> = xs
            .iter()
            .zip(values)
            .map(|(x, v)| format!("{:.1},{:.1}", x_of(*x), bottom - v / top * (bottom - TOP)))
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
        let lx = LEFT + 8.0 + i as f64 * 110.0;
        let _ = writeln!(
            svg,
            "<g class=\"legend\"><rect x=\"{lx:.1}\" y=\"8\" width=\"14\" height=\"4\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"14\" font-size=\"12\">{}</text></g>",
            lx + 18.0,
            escape(name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A bar chart of (label, value), each bar labelled with its value.
fn bar_chart(title: &str, x_label: &str, y_label: &str, bars: &[(String, f64)]) -> String {
    let most = bars.iter().map(|b| b.1).fold(0.0_f64, f64::max);
    let mut svg = String::new();
    let top = frame(&mut svg, title, x_label, y_label, most);
    let bottom = HEIGHT - BOTTOM;
    let slot = (WIDTH - RIGHT - LEFT) / bars.len().max(1) as f64;
    let rotate = bars.len() > 6;
    for (i, (label, value)) in bars.iter().enumerate() {
        let h = value / top * (bottom - TOP);
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
        if !rotate {
            let _ = writeln!(
                svg,
                "<text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                bottom - h - 3.0,
                number(*value)
            );
        }
        let _ = writeln!(
            svg,
            "<text class=\"tick\" x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"{}\"{}>{}</text>",
            bottom + 14.0,
            if rotate { "end" } else { "middle" },
            if rotate {
                format!(" transform=\"rotate(-35 {cx:.1} {:.1})\"", bottom + 14.0)
            } else {
                String::new()
            },
            escape(label)
        );
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
}
