//! The demo end to end, as a new user runs it: the report page's figures equal
//! queries on the warehouse, and the page renders its charts in headless Chromium.
#![cfg(feature = "duckdb")]

use std::path::{Path, PathBuf};
use std::process::Command;

use twitch_pipeline::warehouse::{DuckDbWarehouse, Warehouse};

/// Runs a small demo into `dir` and returns the report page's path.
fn small_demo(dir: &Path) -> PathBuf {
    demo(dir, 3)
}

/// `demo --slots <slots> --streams 400 --data <dir>`, which must succeed; the report
/// page's path.
fn demo(dir: &Path, slots: u32) -> PathBuf {
    let output = Command::new(env!("CARGO_BIN_EXE_twitch-pipeline"))
        .args(["demo", "--slots", &slots.to_string(), "--streams", "400", "--data"])
        .arg(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Top 10 streamers by hours watched"), "{stdout}");
    // doctor's checks of the stand-ins come first.
    for check in [
        "✓ twitch: an app token for the client id and secret",
        "✓ twitch: one page of Get Streams",
        "✓ lake: write, read, list and delete a probe",
    ] {
        assert!(stdout.contains(check), "{check}: {stdout}");
    }
    let page = dir.join("report.html");
    assert!(stdout.contains(&format!("report page: {}", page.display())), "{stdout}");
    page
}

/// The JSON figures embedded in the page.
fn figures(page: &Path) -> serde_json::Value {
    let html = std::fs::read_to_string(page).unwrap();
    let marker = r#"<script type="application/json" id="figures">"#;
    let start = html.find(marker).expect("figures block") + marker.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end].replace("<\\/", "</")).unwrap()
}

async fn query(warehouse: &mut DuckDbWarehouse, sql: &str) -> Vec<Vec<serde_json::Value>> {
    let table = warehouse.query(sql).await.unwrap();
    table
        .rows
        .into_iter()
        .map(|r| r.into_iter().map(|c| serde_json::json!(c)).collect())
        .collect()
}

#[tokio::test]
async fn the_report_page_shows_what_the_warehouse_holds() {
    let dir = tempfile::tempdir().unwrap();
    let page = small_demo(dir.path());
    let figures = figures(&page);
    let mut warehouse = DuckDbWarehouse::open(&dir.path().join("warehouse.duckdb")).unwrap();

    // Three slots of about 400 streams (the demo's world follows Twitch's day): viewers
    // and channels per slot, straight from the fact.
    let timeline = query(
        &mut warehouse,
        "select cast(snapshot_at as varchar), sum(viewer_count), count(*) from main_marts.fact_stream_snapshots group by snapshot_at order by snapshot_at",
    )
    .await;
    assert_eq!(figures["timeline"]["rows"], serde_json::json!(timeline));
    assert_eq!(timeline.len(), 3);
    assert!(
        timeline
            .iter()
            .all(|row| (200..=600).contains(&row[2].as_str().unwrap().parse::<i64>().unwrap())),
        "{timeline:?}"
    );

    // The pipeline's health comes first: three slots expected, each complete.
    let health = &figures["health"];
    let states: Vec<&str> = health["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["complete"; 3]);
    assert_eq!(health["figures"]["rows"][0], serde_json::json!(["slots expected", "3"]));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.find("Pipeline health").unwrap() < html.find("Concurrent viewers").unwrap());

    let hours = query(
        &mut warehouse,
        "select round(sum(viewer_count) * 0.25, 0) from main_marts.fact_stream_snapshots",
    )
    .await;
    let overview = &figures["overview"];
    let column = overview["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c == "hours_watched")
        .unwrap();
    assert_eq!(overview["rows"][0][column], hours[0][0]);

    // The top streamer and game are the marts' own, by hours watched.
    let top_streamer = query(
        &mut warehouse,
        "select d.display_name from main_marts.fact_stream_snapshots f join main_marts.dim_streamers d using (user_id) group by f.user_id, d.display_name order by sum(viewer_count) desc limit 1",
    )
    .await;
    assert_eq!(figures["top_streamers"]["rows"][0][0], top_streamer[0][0]);
    let top_game = query(
        &mut warehouse,
        "select d.game_name from main_marts.fact_stream_snapshots f join main_marts.dim_games d using (game_id) group by f.game_id, d.game_name order by sum(viewer_count) desc limit 1",
    )
    .await;
    assert_eq!(figures["top_games"]["rows"][0][0], top_game[0][0]);

    let shares: f64 = figures["languages"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[2].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-9, "language shares add up to {shares}");
    let tests = figures["tests"].as_array().unwrap();
    assert!(
        tests.len() > 20 && tests.iter().all(|t| t["outcome"] == "pass"),
        "{tests:?}"
    );
}

/// Every page of the site under `dir`, by its path in the site.
fn site_pages(dir: &Path) -> Vec<PathBuf> {
    let mut pages = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            pages.extend(site_pages(&path));
        } else if path.extension().is_some_and(|e| e == "html") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

/// The `href`s of a page.
fn links(html: &str) -> Vec<String> {
    html.split(r#"href=""#)
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(link, _)| link.replace("&amp;", "&")))
        .collect()
}

/// The demo over two days and a bit, run twice (two transform runs kept in the lake),
/// writes the site: every link of every page leads to a page of the site, every name
/// in a ranking links to its page, and in Chromium each sort of page opens and draws
/// every chart it has.
#[test]
#[ignore = "needs Chromium (scripts/test installs it)"]
fn the_report_site_links_every_page_and_renders_its_charts_in_chromium() {
    let chromium = crate::support::tools::Tool::Chromium.path();
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path(), 196);
    demo(dir.path(), 8);
    let site = dir.path().join("site");
    let pages = site_pages(&site);
    let channels = pages
        .iter()
        .filter(|p| p.parent().unwrap().ends_with("channel"))
        .count();
    let games = pages.iter().filter(|p| p.parent().unwrap().ends_with("game")).count();
    assert!(
        channels >= 10 && games >= 10,
        "{channels} channel and {games} game pages"
    );
    for page in &pages {
        let html = std::fs::read_to_string(page).unwrap();
        for link in links(&html) {
            let target = page.parent().unwrap().join(&link);
            assert!(
                target.is_file(),
                "{} links to {link}, which is not a page",
                page.display()
            );
        }
    }
    let rankings = std::fs::read_to_string(site.join("rankings.html")).unwrap();
    let named = rankings.matches(r#"<a href="channel/"#).count() + rankings.matches(r#"<a href="game/"#).count();
    assert!(named >= 50, "{named} names linked in the rankings");
    assert!(
        rankings.contains("Rolling 30 days: top languages"),
        "every ranking and period"
    );

    let first = |folder: &str| {
        pages
            .iter()
            .find(|p| p.parent().unwrap().ends_with(folder))
            .unwrap()
            .clone()
    };
    for page in [
        site.join("index.html"),
        site.join("rankings.html"),
        site.join("platform.html"),
        site.join("health.html"),
        site.join("lineage.html"),
        first("channel"),
        first("game"),
    ] {
        let charts = measured_charts(&chromium, &dir.path().join("profile"), &page);
        let html = std::fs::read_to_string(&page).unwrap();
        let expected = html.matches(r#"<svg class="chart"#).count();
        assert_eq!(charts.len(), expected, "{}: {charts:?}", page.display());
        for chart in &charts {
            assert!(
                chart["width"].as_f64() > Some(100.0) && chart["height"].as_f64() > Some(20.0),
                "{}: a chart has no size: {chart}",
                page.display()
            );
            assert!(
                chart["drawn"].as_u64() > Some(0) && chart["drawn"] == chart["marks"],
                "{}: not every mark is drawn: {chart}",
                page.display()
            );
        }
    }
}

/// `page` opened in Chromium with the test's own measurement added to a copy of it:
/// each chart's laid-out size, and how many of its marks the browser drew with a size
/// and a paint (see MEASURE).
fn measured_charts(chromium: &Path, profile: &Path, page: &Path) -> Vec<serde_json::Value> {
    let measured = page.with_extension("measured.html");
    let html = std::fs::read_to_string(page).unwrap();
    std::fs::write(&measured, html.replace("</body>", &format!("{MEASURE}</body>"))).unwrap();
    let dom = headless(chromium, profile)
        .args(["--dump-dom", &format!("file://{}", measured.display())])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    let json = dom
        .split_once(r#"<pre id="measured">"#)
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(json, _)| json.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
        .unwrap_or_else(|| {
            panic!(
                "{} did not open, or its measuring script did not run: {dom}",
                page.display()
            )
        });
    serde_json::from_str(&json).unwrap()
}

/// Measures, in the browser, each chart (`svg.chart`): its laid-out size, its marks
/// (`.mark`), and those drawn with an area or a length and a fill or stroke that is
/// not `none`; writes them as JSON into `<pre id="measured">`.
const MEASURE: &str = r#"<script>
const measured = [...document.querySelectorAll("svg.chart")].map(svg => {
  const box = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll(".mark")];
  const drawn = marks.filter(mark => {
    const b = mark.getBBox();
    const style = getComputedStyle(mark);
    return (b.width > 0 || b.height > 0) && (style.fill !== "none" || style.stroke !== "none");
  });
  return { id: svg.id, width: box.width, height: box.height, marks: marks.length, drawn: drawn.length };
});
const pre = document.createElement("pre");
pre.id = "measured";
pre.textContent = JSON.stringify(measured);
document.body.append(pre);
</script>"#;

fn headless(chromium: &Path, profile: &Path) -> Command {
    let mut command = Command::new(chromium);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=900,2400",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

#[test]
#[ignore = "needs Chromium (scripts/test installs it)"]
fn the_report_page_renders_every_chart_in_chromium() {
    let chromium = crate::support::tools::Tool::Chromium.path();
    let dir = tempfile::tempdir().unwrap();
    let page = small_demo(dir.path());
    let url = format!("file://{}", page.display());

    let charts = measured_charts(&chromium, &dir.path().join("profile"), &page);
    let json = serde_json::to_string(&charts).unwrap();
    for chart in ["viewers", "channels", "streamers", "games", "languages"] {
        let measure = charts
            .iter()
            .find(|c| c["id"] == format!("chart-{chart}"))
            .unwrap_or_else(|| panic!("chart {chart} missing: {json}"));
        assert!(
            measure["width"].as_f64() > Some(100.0) && measure["height"].as_f64() > Some(20.0),
            "chart {chart} has no size: {measure}"
        );
        assert!(
            measure["drawn"].as_u64() > Some(0) && measure["drawn"] == measure["marks"],
            "chart {chart}: not every mark is drawn: {measure}"
        );
    }

    // A screenshot, kept with the test output for a person to look at.
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-report.png");
    let _ = std::fs::remove_file(&screenshot);
    let shot = headless(&chromium, &dir.path().join("profile"))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(shot.status.success(), "{}", String::from_utf8_lossy(&shot.stderr));
    let size = std::fs::metadata(&screenshot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 20_000,
        "the screenshot at {} is {size} bytes",
        screenshot.display()
    );
    println!("screenshot of the report page: {}", screenshot.display());
}
