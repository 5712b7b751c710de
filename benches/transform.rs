//! Transform benchmark: prints ratios; not a timed test.
//!
//! Data: 7 days × 96 slots × 5,000 live streams (3.36M snapshot rows) from the
//! simulator's world, in the raw tables of a DuckDB file, users and games as
//! extraction fetches them (each at most once a day). Measured:
//!
//! 1. Full build of the project by our runner, and by `dbt build` (dbt-duckdb, same
//!    DuckDB version) on the same data: dbt ÷ ours, goal ≥ 1.5 (both run the same SQL).
//! 2. The hourly incremental run (4 new slots on top of the rest, after an hourly run
//!    of the 4 before them), as the hourly timer runs it (with source freshness), ÷ a
//!    build of just those 4 slots from empty (the same checks): goal ≤ 2. dbt's own
//!    hourly run (`dbt build`) is measured the same way: dbt ÷ ours, goal ≥ 10. The
//!    first run after the catch-up build is printed too, for both.
//!
//! Both runners are timed over a whole invocation: dbt's process from start to exit;
//! ours from reading the project to closing the database. Closing checkpoints the
//! run's writes into the file, on both sides (about a second of an hourly run); before
//! 2026-12-01 ours was timed without opening and closing, which flattered the hourly
//! ratio about twofold.
//!
//! `cargo bench --bench transform`; `BENCH_STREAMS`, `BENCH_DAYS` change the size,
//! `BENCH_END` the last slot, `BENCH_THREADS` how many nodes both runners build at once
//! (dbt's `threads`, 1 by default), and `DBT` names the dbt executable (scripts/test
//! installs one in .tools/venv).

// The test helpers (the module allows what this bench leaves unused).
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Duration;
use duckdb::params;
use twitch_pipeline::lake::{Entity, Slot};
use twitch_pipeline::simulator::World;
use twitch_pipeline::transform::{self, Project, TransformOptions};
use twitch_pipeline::warehouse::{DuckDbWarehouse, Warehouse};

const NEW_SLOTS: i64 = 4;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn stamp(record: &impl serde::Serialize, slot: Slot) -> String {
    let mut value = serde_json::to_value(record).unwrap();
    value["_snapshot_at"] = serde_json::json!(slot.rfc3339());
    value["_extracted_at"] = serde_json::json!((slot.time() + Duration::seconds(20)).to_rfc3339());
    value.to_string()
}

/// Writes `slots` of the world into the raw tables of a new database at `path`.
async fn generate(path: &Path, world: &World, slots: &[Slot]) {
    let _ = std::fs::remove_file(path);
    // The raw layer as `load` makes it, then a connection of the bench's own for
    // DuckDB's appender.
    let mut warehouse = DuckDbWarehouse::open(path).unwrap();
    twitch_pipeline::load::create_raw_layer(&mut warehouse).await.unwrap();
    drop(warehouse);
    let connection = duckdb::Connection::open(path).unwrap();
    let mut users_fetched: HashMap<String, i64> = HashMap::new();
    let mut games_fetched: HashMap<String, i64> = HashMap::new();
    let day = 96;
    for &slot in slots {
        let loaded_at = (slot.time() + Duration::minutes(5)).naive_utc();
        let streams = world.streams(slot);
        let mut users = Vec::new();
        let mut games = Vec::new();
        for stream in &streams {
            let fresh = |seen: &mut HashMap<String, i64>, id: &str| {
                let stale = seen.get(id).is_none_or(|at| slot.index() - at >= day);
                if stale {
                    seen.insert(id.to_string(), slot.index());
                }
                stale
            };
            if fresh(&mut users_fetched, &stream.user_id) {
                users.push(stamp(&world.user(&stream.user_id, slot).unwrap(), slot));
            }
            if !stream.game_id.is_empty() && fresh(&mut games_fetched, &stream.game_id) {
                games.push(stamp(world.game(&stream.game_id).unwrap(), slot));
            }
        }
        let streams: Vec<String> = streams.iter().map(|s| stamp(s, slot)).collect();
        for (entity, lines) in [
            (Entity::Streams, streams),
            (Entity::Users, users),
            (Entity::Games, games),
        ] {
            let file = entity.data_path(slot).to_string();
            let mut appender = connection
                .appender_to_db(&format!("raw_{}", entity.name()), "raw")
                .unwrap();
            for (row, line) in lines.iter().enumerate() {
                appender
                    .append_row(params![line, file, row as i64 + 1, loaded_at])
                    .unwrap();
            }
            appender.flush().unwrap();
        }
    }
}

/// Our runner on the database at `path`; with `freshness`, as the hourly timer runs
/// it (source freshness checked too).
async fn ours(path: &Path, freshness: bool) -> f64 {
    ours_run(path, freshness).await.seconds
}

/// One run of ours, timed as `dbt build`'s process is: from reading the project to
/// closing the database. Closing checkpoints the run's writes into the file, as
/// dbt-duckdb's connection does when its process ends (dbt-duckdb leaves no WAL
/// behind, and its process outlives "Done." by about a second on an hourly run).
struct OursRun {
    seconds: f64,
    /// Of `seconds`, closing the database: DuckDB's checkpoint.
    closing: f64,
    report: transform::RunReport,
}

async fn ours_run(path: &Path, freshness: bool) -> OursRun {
    let started = Instant::now();
    let project = Project::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut warehouse = DuckDbWarehouse::open(path).unwrap();
    let options = TransformOptions {
        check_freshness: freshness,
        threads: threads(),
        ..Default::default()
    };
    let report = transform::run(&project, &mut warehouse, &options, |_| {})
        .await
        .unwrap();
    let closing_started = Instant::now();
    drop(warehouse);
    let closing = closing_started.elapsed().as_secs_f64();
    assert!(report.succeeded(), "{}", report.summary_line());
    OursRun {
        seconds: started.elapsed().as_secs_f64(),
        closing,
        report,
    }
}

/// How many nodes both runners build at once (`BENCH_THREADS`).
fn threads() -> usize {
    env_number("BENCH_THREADS", 1)
}

fn dbt(dbt: &Path, work: &Path, database: &Path) -> f64 {
    let started = Instant::now();
    let output = support::dbt_command(dbt, Path::new(env!("CARGO_MANIFEST_DIR")), work, database, &["build"])
        .arg("--threads")
        .arg(threads().to_string())
        .output()
        .expect("dbt runs");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "dbt build failed:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    seconds
}

/// Copies the raw rows of `slots` from `from` into `to`.
async fn add_slots(from: &Path, to: &Path, slots: &[Slot]) {
    let files: Vec<String> = slots
        .iter()
        .flat_map(|s| Entity::ALL.map(|e| format!("'{}'", e.data_path(*s))))
        .collect();
    let mut warehouse = DuckDbWarehouse::open(to).unwrap();
    warehouse
        .execute(&format!("attach '{}' as source (read_only)", from.display()))
        .await
        .unwrap();
    for entity in Entity::ALL {
        let table = format!("raw.raw_{}", entity.name());
        warehouse
            .execute(&format!(
                "insert into {table} select * from source.{table} where file_name in ({})",
                files.join(", ")
            ))
            .await
            .unwrap();
    }
    warehouse.execute("detach source").await.unwrap();
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let streams = env_number("BENCH_STREAMS", 5_000);
    let days = env_number("BENCH_DAYS", 7) as i64;
    let dir: PathBuf = std::env::temp_dir().join("twitch-pipeline-bench-transform");
    std::fs::create_dir_all(&dir).unwrap();
    let world = World::new(7, streams);
    // The data ends with the current slot, so the hourly run's freshness check passes.
    // BENCH_END (RFC 3339) ends it at another slot instead, such as a day's last, when
    // the daily aggregates have the most to redo; then neither run checks freshness.
    let end: Option<Slot> = std::env::var("BENCH_END")
        .ok()
        .map(|t| t.parse().expect("BENCH_END is RFC 3339"));
    let check_freshness = end.is_none();
    let last = end.unwrap_or_else(|| Slot::containing(chrono::Utc::now()));
    let first = last.offset(1 - days * 96);
    let all: Vec<Slot> = (0..days * 96).map(|i| first.offset(i)).collect();
    let new = &all[all.len() - NEW_SLOTS as usize..];
    // The hour before it: an hourly run of those slots comes between the catch-up build
    // and the measured run, as the hourly timer's runs follow each other.
    let before = &all[all.len() - 2 * NEW_SLOTS as usize..all.len() - NEW_SLOTS as usize];
    println!(
        "transform benchmark: {days} days x 96 slots x {streams} streams = {} snapshot rows, {} thread(s)",
        all.len() * streams,
        threads()
    );

    let started = Instant::now();
    let full = dir.join("full.duckdb");
    generate(&full, &world, &all).await;
    let slice = dir.join("slice.duckdb");
    generate(&slice, &world, new).await;
    println!("  generated the raw tables in {:.1} s", started.elapsed().as_secs_f64());

    // Everything but the last two hours, for the hourly runs.
    let base = dir.join("base.duckdb");
    std::fs::copy(&full, &base).unwrap();
    {
        let mut warehouse = DuckDbWarehouse::open(&base).unwrap();
        for entity in Entity::ALL {
            let files: Vec<String> = before
                .iter()
                .chain(new)
                .map(|s| format!("'{}'", entity.data_path(*s)))
                .collect();
            let sql = format!(
                "delete from raw.raw_{} where file_name in ({})",
                entity.name(),
                files.join(", ")
            );
            warehouse.execute(&sql).await.unwrap();
        }
    }
    let dbt_path = std::env::var_os("DBT").map(std::path::PathBuf::from);

    // 1. Full builds, ours then dbt's, each on its own copy of the same raw data.
    let ours_full = dir.join("ours-full.duckdb");
    std::fs::copy(&full, &ours_full).unwrap();
    let ours_seconds = ours(&ours_full, false).await;
    println!("  full build, our runner:   {ours_seconds:8.2} s");
    if let Some(dbt_path) = &dbt_path {
        let dbt_full = dir.join("dbt-full.duckdb");
        std::fs::copy(&full, &dbt_full).unwrap();
        let dbt_seconds = dbt(dbt_path, &dir, &dbt_full);
        println!("  full build, dbt build:    {dbt_seconds:8.2} s");
        println!("  dbt ÷ ours, full = {:.2} (goal ≥ 1.5)", dbt_seconds / ours_seconds);
    } else {
        println!("  dbt: skipped (set DBT to the dbt executable, e.g. .tools/venv/bin/dbt)");
    }

    // 2. The hourly run: everything but the last two hours built (catching up), the
    // hour before the last run as an hourly run, then the last hour arrives. The run
    // after the catch-up is slower (its deletes fall all over tables the full build
    // wrote in its joins' order, and the checkpoint compacts them), so it is printed
    // too, for both runners, but the goals are the hourly timer's case.
    let incremental = dir.join("incremental.duckdb");
    std::fs::copy(&base, &incremental).unwrap();
    ours(&incremental, false).await;
    add_slots(&full, &incremental, before).await;
    let after_catch_up = dir.join("after-catch-up.duckdb");
    std::fs::copy(&incremental, &after_catch_up).unwrap();
    ours(&incremental, false).await;
    add_slots(&full, &incremental, new).await;
    // Sub-second runs on a shared machine are noisy: the median of three, each on a
    // fresh copy of the same database.
    // The median run's report says where its time went.
    let median_of_runs = |template: PathBuf| async move {
        let mut runs = Vec::new();
        for run in 0..3 {
            let copy = template.with_extension(format!("run{run}.duckdb"));
            std::fs::copy(&template, &copy).unwrap();
            runs.push(ours_run(&copy, check_freshness).await);
            std::fs::remove_file(&copy).unwrap();
        }
        runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        let seconds: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
        let median = runs.swap_remove(1);
        (median.seconds, seconds, median)
    };
    let (incremental_seconds, incremental_runs, incremental_run) = median_of_runs(incremental.clone()).await;
    println!(
        "  hourly run's slowest steps: {}; closing the database (DuckDB's checkpoint) {:.3} s",
        support::slowest_steps(&incremental_run.report, 6),
        incremental_run.closing
    );
    let (catch_up_seconds, catch_up_runs, _) = median_of_runs(after_catch_up.clone()).await;
    let (slice_seconds, slice_runs, _) = median_of_runs(slice.clone()).await;
    println!("  hourly run, our runner:   {incremental_seconds:8.2} s (median of {incremental_runs:.2?})");
    println!("  the run after catching up: {catch_up_seconds:7.2} s (median of {catch_up_runs:.2?})");
    println!("  that hour built alone:    {slice_seconds:8.2} s (median of {slice_runs:.2?})");
    println!(
        "  incremental ÷ slice = {:.2} (goal ≤ 2)",
        incremental_seconds / slice_seconds
    );
    if let Some(dbt_path) = &dbt_path {
        let dbt_incremental = dir.join("dbt-incremental.duckdb");
        std::fs::copy(&base, &dbt_incremental).unwrap();
        dbt(dbt_path, &dir, &dbt_incremental);
        add_slots(&full, &dbt_incremental, before).await;
        let dbt_catch_up_seconds = dbt(dbt_path, &dir, &dbt_incremental);
        add_slots(&full, &dbt_incremental, new).await;
        let dbt_seconds = dbt(dbt_path, &dir, &dbt_incremental);
        println!("  hourly run, dbt build:    {dbt_seconds:8.2} s");
        println!(
            "  the run after catching up, dbt build: {dbt_catch_up_seconds:.2} s (dbt ÷ ours = {:.2})",
            dbt_catch_up_seconds / catch_up_seconds
        );
        println!(
            "  dbt ÷ ours, hourly = {:.2} (goal ≥ 10)",
            dbt_seconds / incremental_seconds
        );
    }
}
