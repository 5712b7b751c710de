//! The report as one self-contained HTML page: inline CSS and SVG, no network.
//!
//! Charts: concurrent viewers and live channels per slot, top streamers and games by
//! hours watched, the language share of hours watched; then the data-test results.
//! The figures are also embedded as JSON (`<script id="figures">`), so tests and
//! other tools can read exactly what the page shows. It has no script: each chart's
//! marks carry the class `mark`, which the Chromium test measures.

use std::fmt::Write;

use serde_json::json;

use super::Report;
use crate::transform::{Severity, TestOutcome, TestResult};
use crate::warehouse::Table;

const WIDTH: f64 = 820.0;

/// The page's style, shared with the site's pages (super::site).
pub(super) const STYLE: &str = r#"body { font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 880px; color: #1f2328; }
h1 { margin-bottom: 0; } .subtitle { color: #59636e; margin-top: 4px; }
section { margin: 28px 0; } h2 { font-size: 17px; margin-bottom: 8px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #d1d9e0; border-radius: 6px; padding: 8px 14px; }
.card b { display: block; font-size: 20px; }
svg text { font: 12px system-ui, sans-serif; fill: #1f2328; }
.line { fill: none; stroke: #8250df; stroke-width: 2; } .bar { fill: #8250df; }
.grid { stroke: #d1d9e0; }
table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: 3px 8px; border-bottom: 1px solid #d1d9e0; }
.slot-ok { fill: #1a7f37; } .slot-pending { fill: #afb8c1; } .slot-missed { fill: #d1242f; } .slot-incomplete { fill: #bf8700; }
.pass { color: #1a7f37; } .fail { color: #d1242f; font-weight: bold; } .warn { color: #9a6700; }"#;

/// The page for `report`, with the run's test results (none when not transformed).
pub fn page(report: &Report, tests: &[TestResult], subtitle: &str) -> String {
    let body = overview_body(report, tests);
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Twitch pipeline report</title>
<style>
{STYLE}
</style>
</head>
<body>
<h1>Twitch, the last 24 hours</h1>
<p class="subtitle">{subtitle}</p>
{body}
</body>
</html>
"#,
        subtitle = escape(subtitle),
    )
}

/// The report's sections, charts and tests as HTML, with its figures as JSON
/// (`<script id="figures">`): the page's body, and the site's overview.
pub(super) fn overview_body(report: &Report, tests: &[TestResult]) -> String {
    let mut body = String::new();
    if let Some(health) = &report.health {
        body.push_str(&health_section(health));
    }
    let overview = report.sections.first().map(|s| &s.table);
    if let Some(overview) = overview {
        body.push_str(&overview_cards(overview));
    }
    let series = |column: &str| -> Vec<(String, f64)> {
        let index = report.timeline.columns.iter().position(|c| c == column).unwrap_or(0);
        report
            .timeline
            .rows
            .iter()
            .map(|row| (cell(row, 0), number(row, index)))
            .collect()
    };
    let _ = write!(
        body,
        "<section><h2>Concurrent viewers</h2>{}</section>\
         <section><h2>Live channels</h2>{}</section>",
        line_chart("viewers", &series("viewers")),
        line_chart("channels", &series("channels")),
    );
    for (index, id) in [(1, "streamers"), (2, "games")] {
        if let Some(section) = report.sections.get(index) {
            let bars: Vec<(String, f64, String)> = section
                .table
                .rows
                .iter()
                .map(|row| {
                    let hours = super::numbers::for_people(&cell(row, 1));
                    (cell(row, 0), number(row, 1), format!("{hours} h"))
                })
                .collect();
            let _ = write!(
                body,
                "<section><h2>{}</h2>{}</section>",
                escape(&section.title),
                bar_chart(id, &bars)
            );
        }
    }
    let shares: Vec<(String, f64, String)> = report
        .languages
        .rows
        .iter()
        .map(|row| {
            let share = number(row, 2);
            (cell(row, 0), share, format!("{:.1} %", share * 100.0))
        })
        .collect();
    let _ = write!(
        body,
        "<section><h2>Language share of hours watched</h2>{}</section>",
        bar_chart("languages", &shares)
    );
    body.push_str(&tests_table(tests));

    let figures = json!({
        "overview": overview.map(table_json),
        "top_streamers": report.sections.get(1).map(|s| table_json(&s.table)),
        "top_games": report.sections.get(2).map(|s| table_json(&s.table)),
        "languages": table_json(&report.languages),
        "timeline": table_json(&report.timeline),
        "health": report.health.as_ref().map(|h| json!({
            "figures": table_json(&h.section.table),
            "slots": h.slots.iter().map(|(slot, state)| json!({"slot": slot.rfc3339(), "state": state.label()})).collect::<Vec<_>>(),
        })),
        "tests": tests.iter().map(|t| json!({"name": t.name, "outcome": outcome(t)})).collect::<Vec<_>>(),
    });
    // `</` cannot end the script element early inside JSON written this way.
    let figures = figures.to_string().replace("</", "<\\/");
    let _ = write!(
        body,
        r#"<script type="application/json" id="figures">{figures}</script>"#
    );
    body
}

/// The pipeline's health first: the figures, and every expected slot on a time axis,
/// coloured by state, so a gap is seen before a chart is read.
pub(super) fn health_section(health: &super::Health) -> String {
    use crate::status::SlotState;
    let width = 840.0;
    let step = width / health.slots.len().max(1) as f64;
    let mut strip =
        format!(r#"<svg class="chart health" width="{width}" height="46" role="img" aria-label="slots by state">"#);
    for (index, (slot, state)) in health.slots.iter().enumerate() {
        let class = match state {
            SlotState::Complete => "ok",
            SlotState::Pending => "pending",
            SlotState::Missed => "missed",
            SlotState::Incomplete | SlotState::Unreadable | SlotState::Duplicated => "incomplete",
        };
        let _ = write!(
            strip,
            r#"<rect class="mark slot-{class}" x="{:.1}" y="4" width="{:.1}" height="24"><title>{} {}</title></rect>"#,
            index as f64 * step,
            (step - 1.0).max(1.0),
            slot.rfc3339(),
            state.label()
        );
    }
    if let (Some((first, _)), Some((last, _))) = (health.slots.first(), health.slots.last()) {
        let _ = write!(
            strip,
            r#"<text x="0" y="42">{}</text><text x="{width}" y="42" text-anchor="end">{}</text>"#,
            first.rfc3339(),
            last.rfc3339()
        );
    }
    strip.push_str("</svg>");
    let rows: String = health
        .section
        .table
        .rows
        .iter()
        .map(|row| {
            format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(&cell(row, 0)),
                escape(&cell(row, 1))
            )
        })
        .collect();
    let verdict = if health.has_gaps() {
        r#"<p class="fail">Some slots are missing or not all there: read the charts with that in mind.</p>"#
    } else {
        r#"<p class="pass">Every expected slot is complete.</p>"#
    };
    format!(r#"<section id="health"><h2>Pipeline health</h2>{verdict}{strip}<table>{rows}</table></section>"#)
}

pub(super) fn overview_cards(overview: &Table) -> String {
    let mut html = String::from(r#"<section class="cards">"#);
    if let Some(row) = overview.rows.first() {
        for (index, column) in overview.columns.iter().enumerate() {
            let _ = write!(
                html,
                r#"<div class="card">{}<b>{}</b></div>"#,
                escape(&column.replace('_', " ")),
                escape(&super::numbers::for_people(&cell(row, index)))
            );
        }
    }
    html.push_str("</section>");
    html
}

/// A line over the slots, from 0 to the largest value, first and last slot labelled.
pub(super) fn line_chart(id: &str, points: &[(String, f64)]) -> String {
    let (height, left, bottom, top) = (200.0, 70.0, 24.0, 10.0);
    let max = points.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1.0);
    let plot_width = WIDTH - left - 10.0;
    let x = |i: usize| {
        left + if points.len() > 1 {
            plot_width * i as f64 / (points.len() - 1) as f64
        } else {
            0.0
        }
    };
    let y = |v: f64| top + (height - top - bottom) * (1.0 - v / max);
    let mut svg = format!(r#"<svg class="chart" id="chart-{id}" width="{WIDTH}" height="{height}" role="img">"#);
    for fraction in [0.0, 0.5, 1.0] {
        let value = max * fraction;
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - 10.0,
            left - 6.0,
            y(value) + 4.0,
            super::numbers::grouped(value, 0),
            y = y(value),
        );
    }
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| format!("{:.1},{:.1}", x(i), y(*v)))
        .collect();
    if let [(_, value)] = points {
        // One point is no line: a dot, so the one value is still seen.
        let _ = write!(
            svg,
            r#"<circle class="line mark" cx="{:.1}" cy="{:.1}" r="4"/>"#,
            x(0),
            y(*value)
        );
    } else {
        let _ = write!(svg, r#"<polyline class="line mark" points="{}"/>"#, path.join(" "));
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let _ = write!(
            svg,
            r#"<text x="{left}" y="{}">{}</text><text x="{}" y="{}" text-anchor="end">{}</text>"#,
            height - 6.0,
            escape(&first.0),
            WIDTH - 10.0,
            height - 6.0,
            escape(&last.0)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars: a label, a bar as long as the value, the value's text.
pub(super) fn bar_chart(id: &str, rows: &[(String, f64, String)]) -> String {
    let (row_height, label_width, value_width) = (24.0, 210.0, 90.0);
    let height = row_height * rows.len().max(1) as f64;
    let max = rows.iter().map(|(_, v, _)| *v).fold(0.0, f64::max);
    let bar_space = WIDTH - label_width - value_width;
    let mut svg = format!(r#"<svg class="chart" id="chart-{id}" width="{WIDTH}" height="{height}" role="img">"#);
    for (i, (label, value, text)) in rows.iter().enumerate() {
        let top = i as f64 * row_height;
        let width = if max > 0.0 {
            (bar_space * value / max).max(1.0)
        } else {
            1.0
        };
        let _ = write!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text><rect class="bar mark" x="{label_width}" y="{:.1}" width="{width:.1}" height="{:.1}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            label_width - 8.0,
            top + 16.0,
            escape(label),
            top + 4.0,
            row_height - 8.0,
            label_width + width + 6.0,
            top + 16.0,
            escape(text),
        );
    }
    svg.push_str("</svg>");
    svg
}

pub(super) fn tests_table(tests: &[TestResult]) -> String {
    let mut html = String::from("<section><h2>Data tests</h2>");
    if tests.is_empty() {
        html.push_str("<p>No tests ran with this report.</p></section>");
        return html;
    }
    let passed = tests.iter().filter(|t| t.outcome == TestOutcome::Pass).count();
    let _ = write!(
        html,
        "<p>{passed} of {} passed.</p><table><tr><th>test</th><th>result</th></tr>",
        tests.len()
    );
    for test in tests {
        let class = match (&test.outcome, test.severity) {
            (TestOutcome::Pass, _) => "pass",
            (TestOutcome::Fail { .. }, Severity::Warn) | (TestOutcome::Skipped, _) => "warn",
            _ => "fail",
        };
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td class="{class}">{}</td></tr>"#,
            escape(&test.name),
            escape(&outcome(test))
        );
    }
    html.push_str("</table></section>");
    html
}

fn outcome(test: &TestResult) -> String {
    match &test.outcome {
        TestOutcome::Pass => "pass".into(),
        TestOutcome::Fail { failing_rows } if test.severity == Severity::Warn => format!("warn: {failing_rows} rows"),
        TestOutcome::Fail { failing_rows } => format!("fail: {failing_rows} rows"),
        TestOutcome::Error(message) => format!("error: {message}"),
        TestOutcome::Skipped => "skipped".into(),
    }
}

fn table_json(table: &Table) -> serde_json::Value {
    json!({ "columns": table.columns, "rows": table.rows })
}

pub(super) fn cell(row: &[Option<String>], index: usize) -> String {
    row.get(index).cloned().flatten().unwrap_or_default()
}

pub(super) fn number(row: &[Option<String>], index: usize) -> f64 {
    cell(row, index).parse().unwrap_or(0.0)
}

/// Text safe inside HTML and SVG elements and attributes.
pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped() {
        assert_eq!(
            escape(r#"<b>"Tom" & 'Jerry'</b>"#),
            "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        let svg = bar_chart("t", &[("a".into(), 10.0, "10".into()), ("b".into(), 5.0, "5".into())]);
        assert_eq!(svg.matches(r#"class="bar mark""#).count(), 2);
        assert!(
            svg.contains(r#"width="520.0""#) && svg.contains(r#"width="260.0""#),
            "{svg}"
        );
    }
}
