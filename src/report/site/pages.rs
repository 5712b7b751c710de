//! The site's pages: one layout, tables whose names link to their pages, and the
//! report page's charts (super::super::html) plus a heatmap of the hours of the week.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use serde_json::Value;

use super::SiteInput;
use super::data::{Member, Ranking, SiteData};
use super::lineage::lineage as lineage_of;
use crate::report::html::{STYLE, bar_chart, escape, health_section, line_chart, overview_body, tests_table};
use crate::report::numbers::{for_people, is_quantity};
use crate::warehouse::Table;

/// The site's own style on top of the report page's.
const SITE_STYLE: &str = "nav a { margin-right: 14px; } nav { margin-bottom: 12px; }
td.num, th.num { text-align: right; } .heat { fill: #8250df; } .edge { stroke: #afb8c1; fill: none; }
.node { fill: #f6f8fa; stroke: #8250df; } .up { color: #1a7f37; } .down { color: #d1242f; }";

const PERIODS: [(&str, &str); 4] = [
    ("week", "This ISO week"),
    ("month", "This month"),
    ("7d", "Rolling 7 days"),
    ("30d", "Rolling 30 days"),
];

pub fn channel_path(id: &str) -> PathBuf {
    PathBuf::from("channel").join(format!("{}.html", file_name(id)))
}

pub fn game_path(id: &str) -> PathBuf {
    PathBuf::from("game").join(format!("{}.html", file_name(id)))
}

/// An id as a file name: Helix's ids are digits; anything else is spelled out.
fn file_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_string()
            } else {
                format!("~{:x}", c as u32)
            }
        })
        .collect()
}

/// A page: the navigation, the title, the subtitle, the body. `depth` is how many
/// folders below the site's root the page is.
fn layout(title: &str, input: &SiteInput<'_>, depth: usize, body: &str) -> String {
    let root = "../".repeat(depth);
    let nav: String = [
        ("index.html", "Overview"),
        ("rankings.html", "Rankings"),
        ("platform.html", "Platform"),
        ("health.html", "Health and runs"),
        ("lineage.html", "Lineage"),
    ]
    .iter()
    .map(|(page, label)| format!(r#"<a href="{root}{page}">{label}</a>"#))
    .collect();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} · Twitch pipeline</title>
<style>
{STYLE}
{SITE_STYLE}
</style>
</head>
<body>
<nav>{nav}</nav>
<h1>{title}</h1>
<p class="subtitle">{subtitle}</p>
{body}
</body>
</html>
"#,
        title = escape(title),
        subtitle = escape(input.subtitle),
    )
}

/// A table; numbers formatted for people and right-aligned; a cell of `name_column`
/// links to the page `link` gives for its row; `hidden` columns are not shown.
fn table(
    table: &Table,
    hidden: &[&str],
    name_column: Option<&str>,
    link: impl Fn(&[Option<String>]) -> Option<String>,
) -> String {
    let shown: Vec<usize> = (0..table.columns.len())
        .filter(|i| !hidden.iter().any(|h| h.eq_ignore_ascii_case(&table.columns[*i])))
        .collect();
    let numeric: Vec<bool> = (0..table.columns.len())
        .map(|i| {
            !table.rows.is_empty()
                && table.rows.iter().all(|r| {
                    r.get(i)
                        .and_then(|c| c.as_deref())
                        .is_none_or(|c| c.parse::<f64>().is_ok())
                })
        })
        .collect();
    let class = |i: usize| if numeric[i] { r#" class="num""# } else { "" };
    let mut html = String::from("<table><tr>");
    for &i in &shown {
        let _ = write!(
            html,
            "<th{}>{}</th>",
            class(i),
            escape(&table.columns[i].replace('_', " "))
        );
    }
    html.push_str("</tr>");
    for row in &table.rows {
        html.push_str("<tr>");
        for &i in &shown {
            let column = &table.columns[i];
            let text = row.get(i).cloned().flatten().unwrap_or_default();
            let text = if numeric[i] && is_quantity(column) {
                for_people(&text)
            } else {
                text
            };
            let mut cell = escape(&text);
            if name_column.is_some_and(|n| n.eq_ignore_ascii_case(column))
                && let Some(href) = link(row)
            {
                cell = format!(r#"<a href="{}">{cell}</a>"#, escape(&href));
            }
            if column.eq_ignore_ascii_case("rank_change") {
                let direction = match text.chars().next() {
                    Some('+') => "up",
                    Some('-') => "down",
                    _ => "",
                };
                cell = format!(r#"<span class="{direction}">{cell}</span>"#);
            }
            let _ = write!(html, "<td{}>{cell}</td>", class(i));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
    html
}

/// The rows of `table` whose `column` is `value`.
fn rows_where(table: &Table, column: &str, value: &str) -> Table {
    let index = table.column(column);
    Table {
        columns: table.columns.clone(),
        rows: table
            .rows
            .iter()
            .filter(|row| index.and_then(|i| row.get(i).cloned().flatten()).as_deref() == Some(value))
            .cloned()
            .collect(),
    }
}

/// The link from a ranking's row to its member's page (streamers and games have one).
fn member_link(ranking: &Ranking, root: &str) -> impl Fn(&[Option<String>]) -> Option<String> {
    let index = ranking.table.column(ranking.id_column);
    let page: Option<fn(&str) -> PathBuf> = match ranking.what {
        "streamers" => Some(channel_path),
        "games" => Some(game_path),
        _ => None,
    };
    let root = root.to_string();
    move |row| {
        let id = row.get(index?)?.as_deref()?;
        Some(format!("{root}{}", page?(id).display()))
    }
}

/// A ranking's rows of one period kind, as a section.
fn ranking_section(ranking: &Ranking, kind: &str, label: &str, root: &str, top: Option<usize>) -> String {
    let mut rows = rows_where(&ranking.table, "period_kind", kind);
    if let Some(top) = top {
        rows.rows.truncate(top);
    }
    let period = rows
        .rows
        .first()
        .map(|row| {
            let at = |c| {
                rows.column(c)
                    .and_then(|i| row.get(i).cloned().flatten())
                    .unwrap_or_default()
            };
            format!(" ({} to {})", at("period_start"), at("period_end"))
        })
        .unwrap_or_default();
    let body = if rows.rows.is_empty() {
        "<p>No complete day yet: rankings count complete UTC days.</p>".to_string()
    } else {
        table(
            &rows,
            &["period_kind", "period_start", "period_end", ranking.id_column],
            Some(ranking.name_column),
            member_link(ranking, root),
        )
    };
    format!(
        "<section><h2>{label}: top {}{period}</h2>{body}</section>",
        ranking.what
    )
}

pub fn overview(input: &SiteInput<'_>, data: &SiteData) -> String {
    let mut body = overview_body(input.report, input.tests);
    for ranking in data.rankings.iter().filter(|r| r.what != "languages") {
        body.push_str(&ranking_section(ranking, "week", "This week", "", Some(10)));
    }
    layout("Twitch, the last 24 hours", input, 0, &body)
}

pub fn rankings(input: &SiteInput<'_>, data: &SiteData) -> String {
    let mut body = String::from(
        "<p>Ranked by hours watched over complete UTC days; the change of rank and the growth \
         of hours are against the period before (a member new in the period has none).</p>",
    );
    for ranking in &data.rankings {
        for (kind, label) in PERIODS {
            body.push_str(&ranking_section(ranking, kind, label, "", None));
        }
    }
    layout("Rankings", input, 0, &body)
}

/// A line chart of one column of a table, by its first column.
fn chart_of(id: &str, table: &Table, column: &str) -> String {
    let index = table.column(column).unwrap_or(0);
    let points: Vec<(String, f64)> = table
        .rows
        .iter()
        .map(|row| {
            (
                row.first().cloned().flatten().unwrap_or_default(),
                row.get(index)
                    .cloned()
                    .flatten()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0.0),
            )
        })
        .collect();
    line_chart(id, &points)
}

pub fn platform(input: &SiteInput<'_>, data: &SiteData) -> String {
    let mut body = String::new();
    if data.platform.rows.is_empty() {
        body.push_str("<p>No complete day yet: the platform's figures count complete UTC days.</p>");
    }
    for (id, column, title) in [
        ("channels-live", "channels_live", "Channels live per day"),
        ("hours-watched", "hours_watched", "Hours watched per day"),
        ("avg-viewers", "avg_viewers", "Average concurrent viewers per day"),
    ] {
        let _ = write!(
            body,
            "<section><h2>{title}</h2>{}</section>",
            chart_of(id, &data.platform, column)
        );
    }
    for (id, column, title) in [
        (
            "top-100-share",
            "top_100_share",
            "Share of hours watched of the top 100 channels",
        ),
        ("gini", "gini", "Gini coefficient of hours watched across channels"),
    ] {
        let _ = write!(
            body,
            "<section><h2>{title}</h2>{}</section>",
            chart_of(id, &data.concentration, column)
        );
    }
    let viewers: BTreeMap<i64, f64> = data
        .platform_week
        .rows
        .iter()
        .filter_map(|row| {
            Some((
                row.first()?.as_deref()?.parse().ok()?,
                row.get(1)?.as_deref()?.parse().ok()?,
            ))
        })
        .collect();
    let _ = write!(
        body,
        "<section><h2>Average concurrent viewers by hour of the week (UTC, last 28 complete days)</h2>{}</section>",
        heatmap("platform-week", &viewers)
    );
    let _ = write!(
        body,
        "<section><h2>Per day</h2>{}</section><section><h2>Concentration per day</h2>{}</section>",
        table(&data.platform, &[], None, |_| None),
        table(&data.concentration, &[], None, |_| None)
    );
    layout("The platform", input, 0, &body)
}

/// Hours of the week as a grid, a row per day (Monday first) and a column per hour,
/// each cell as dark as its value is large; an hour without a value is left blank.
fn heatmap(id: &str, values: &BTreeMap<i64, f64>) -> String {
    let (left, top, cell_width, cell_height) = (40.0, 18.0, 32.0, 20.0);
    let max = values.values().copied().fold(0.0, f64::max);
    let mut svg = format!(
        r#"<svg class="chart" id="chart-{id}" width="{}" height="{}" role="img">"#,
        left + 24.0 * cell_width,
        top + 7.0 * cell_height + 4.0
    );
    for hour in (0..24).step_by(3) {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="12">{hour:02}</text>"#,
            left + hour as f64 * cell_width
        );
    }
    for (day, name) in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].iter().enumerate() {
        let _ = write!(
            svg,
            r#"<text x="0" y="{:.1}">{name}</text>"#,
            top + day as f64 * cell_height + 14.0
        );
    }
    for (&hour, &value) in values {
        if !(0..168).contains(&hour) || value <= 0.0 {
            continue;
        }
        let _ = write!(
            svg,
            r#"<rect class="heat mark" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" opacity="{:.3}"><title>{} {:02}:00 UTC: {}</title></rect>"#,
            left + (hour % 24) as f64 * cell_width,
            top + (hour / 24) as f64 * cell_height,
            cell_width - 2.0,
            cell_height - 2.0,
            0.15 + 0.85 * value / max,
            ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][(hour / 24) as usize],
            hour % 24,
            for_people(&value.to_string()),
        );
    }
    svg.push_str("</svg>");
    svg
}

pub fn health(input: &SiteInput<'_>) -> String {
    let mut body = match &input.report.health {
        Some(health) => health_section(health),
        None => "<p>No lake was given, or it has no committed slot: the slots' health is not shown.</p>".into(),
    };
    let runs = &input.runs.runs;
    if runs.is_empty() {
        body.push_str(
            "<section><h2>Transform runs</h2><p>No run kept its artifacts in the lake (`_runs/`).</p></section>",
        );
    } else {
        let mut history = Table {
            columns: [
                "run",
                "generated_at",
                "seconds",
                "succeeded",
                "failed or errored",
                "skipped",
            ]
            .map(String::from)
            .to_vec(),
            rows: Vec::new(),
        };
        let mut durations = Vec::new();
        for run in runs.iter().rev() {
            let results = run.run_results["results"].as_array().cloned().unwrap_or_default();
            let count = |statuses: &[&str]| {
                results
                    .iter()
                    .filter(|r| statuses.contains(&r["status"].as_str().unwrap_or_default()))
                    .count()
                    .to_string()
            };
            let seconds = run.run_results["elapsed_time"].as_f64().unwrap_or(0.0);
            let generated = run.run_results["metadata"]["generated_at"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            durations.push((generated.clone(), seconds));
            history.rows.push(vec![
                Some(run.folder.trim_start_matches("_runs/").to_string()),
                Some(generated),
                Some(format!("{seconds:.1}")),
                Some(count(&["success", "pass"])),
                Some(count(&["error", "fail"])),
                Some(count(&["skipped"])),
            ]);
        }
        history.rows.reverse();
        let _ = write!(
            body,
            "<section><h2>Transform runs: seconds each</h2>{}</section><section><h2>Transform runs, newest first</h2>{}</section>",
            line_chart("run-seconds", &durations),
            table(&history, &[], None, |_| None)
        );
    }
    body.push_str(&tests_table(input.tests));
    layout("Pipeline health and runs", input, 0, &body)
}

pub fn lineage(input: &SiteInput<'_>, manifest: Option<&Value>) -> String {
    let Some(manifest) = manifest else {
        return layout(
            "Model lineage",
            input,
            0,
            "<p>No manifest.json: no run kept one in the lake, and the project has none in target/.</p>",
        );
    };
    let nodes = lineage_of(manifest);
    let (column_width, row_height, box_width) = (190.0, 26.0, 170.0);
    let mut rows_in_layer: BTreeMap<usize, usize> = BTreeMap::new();
    let mut at: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for node in &nodes {
        let row = rows_in_layer.entry(node.layer).or_default();
        at.insert(&node.id, (node.layer as f64 * column_width, *row as f64 * row_height));
        *row += 1;
    }
    let height = rows_in_layer.values().max().copied().unwrap_or(1) as f64 * row_height;
    let width = (rows_in_layer.len().max(1)) as f64 * column_width;
    let mut svg = format!(r#"<svg class="chart" id="chart-lineage" width="{width}" height="{height}" role="img">"#);
    for node in &nodes {
        let (x, y) = at[node.id.as_str()];
        for parent in &node.parents {
            if let Some((px, py)) = at.get(parent.as_str()) {
                let _ = write!(
                    svg,
                    r#"<path class="edge" d="M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {x:.1},{:.1}"/>"#,
                    px + box_width,
                    py + 11.0,
                    px + box_width + 12.0,
                    py + 11.0,
                    x - 12.0,
                    y + 11.0,
                    y + 11.0
                );
            }
        }
    }
    for node in &nodes {
        let (x, y) = at[node.id.as_str()];
        let _ = write!(
            svg,
            r#"<rect class="node mark" x="{x:.1}" y="{y:.1}" width="{box_width}" height="22" rx="4"><title>{} ({})</title></rect><text x="{:.1}" y="{:.1}">{}</text>"#,
            escape(&node.name),
            escape(&node.kind),
            x + 6.0,
            y + 15.0,
            escape(&node.name)
        );
    }
    svg.push_str("</svg>");
    let names: BTreeMap<&str, &str> = nodes.iter().map(|n| (n.id.as_str(), n.name.as_str())).collect();
    let listed = Table {
        columns: ["node", "kind", "built from"].map(String::from).to_vec(),
        rows: nodes
            .iter()
            .map(|node| {
                let parents: Vec<&str> = node
                    .parents
                    .iter()
                    .filter_map(|p| names.get(p.as_str()).copied())
                    .collect();
                vec![
                    Some(node.name.clone()),
                    Some(node.kind.clone()),
                    Some(parents.join(", ")),
                ]
            })
            .collect(),
    };
    let body = format!(
        "<p>Each node in the column after its deepest parent (read from manifest.json).</p>\
         <section style=\"overflow-x: auto\">{svg}</section><section>{}</section>",
        table(&listed, &[], None, |_| None)
    );
    layout("Model lineage", input, 0, &body)
}

/// The facts of a member as cards.
fn facts(member: &Member) -> String {
    let mut html = String::from(r#"<section class="cards">"#);
    for (measure, value) in &member.facts {
        let value = if is_quantity(measure) {
            for_people(value)
        } else {
            value.clone()
        };
        let _ = write!(
            html,
            r#"<div class="card">{}<b>{}</b></div>"#,
            escape(measure),
            escape(&value)
        );
    }
    html.push_str("</section>");
    html
}

/// A member's page: its facts, its days, its weekly rank and its hours of the week.
fn member_page(input: &SiteInput<'_>, member: &Member, what: &str, days_title: &str, hours_title: &str) -> String {
    let mut body = facts(member);
    let _ = write!(
        body,
        "<section><h2>Hours watched per day</h2>{}</section>",
        chart_of("days", &member.days, "hours_watched")
    );
    let ranks: Vec<(String, f64, String)> = member
        .weekly_ranks
        .rows
        .iter()
        .map(|row| {
            let week = row.first().cloned().flatten().unwrap_or_default();
            let rank = row.get(1).cloned().flatten().unwrap_or_default();
            (
                format!("week of {week}"),
                rank.parse().unwrap_or(0.0),
                format!("#{rank}"),
            )
        })
        .collect();
    let _ = write!(
        body,
        "<section><h2>Rank among {what} per ISO week (1 is the most watched)</h2>{}</section>\
         <section><h2>{hours_title}</h2>{}</section><section><h2>{days_title}</h2>{}</section>",
        bar_chart("ranks", &ranks),
        heatmap("hours", &member.hours_of_week),
        table(&member.days, &[], None, |_| None)
    );
    layout(&member.name, input, 1, &body)
}

pub fn channel(input: &SiteInput<'_>, member: &Member) -> String {
    member_page(
        input,
        member,
        "streamers",
        "Per day",
        "Average viewers by hour of the week (UTC, last 28 complete days)",
    )
}

pub fn game(input: &SiteInput<'_>, member: &Member) -> String {
    member_page(
        input,
        member,
        "games",
        "Per day, with its saturation (average viewers per channel without its top 5%, share of channels under 5 viewers)",
        "Average viewers by hour of the week (UTC, last 28 days)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_file_names_and_names_link_to_their_pages() {
        assert_eq!(channel_path("41002873"), PathBuf::from("channel/41002873.html"));
        assert_eq!(file_name("a/b c"), "a~2fb~20c");
        let ranking = Table {
            columns: ["streamer", "user_id", "hours_watched"].map(String::from).to_vec(),
            rows: vec![vec![Some("<Alice>".into()), Some("7".into()), Some("1234.6".into())]],
        };
        let html = table(&ranking, &["user_id"], Some("streamer"), |row| {
            Some(format!("channel/{}.html", row[1].as_deref()?))
        });
        assert!(html.contains(r#"<a href="channel/7.html">&lt;Alice&gt;</a>"#), "{html}");
        assert!(html.contains(r#"<td class="num">1,235</td>"#), "{html}");
        assert!(!html.contains("user id"), "{html}");
    }

    #[test]
    fn the_heatmap_draws_an_hour_only_where_it_has_a_value() {
        let svg = heatmap("t", &BTreeMap::from([(0, 10.0), (167, 5.0), (30, 0.0)]));
        assert_eq!(svg.matches("heat mark").count(), 2);
        assert!(svg.contains("Sun 23:00 UTC"), "{svg}");
    }
}
