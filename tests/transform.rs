//! The transform on the embedded DuckDB: a hand-made lake with the edge cases a real
//! one has, loaded and transformed, with metric values worked out by hand.
#![cfg(feature = "duckdb")]

use std::path::Path;

use crate::support::analytics;
use crate::support::fixture::{game, stream, user};
use crate::support::*;
use twitch_pipeline::lake::{Entity, Lake, Slot};
use twitch_pipeline::load::load_lake;
use twitch_pipeline::transform::{self, NodeOutcome, Project, RunReport, Step, TestOutcome, TransformOptions};
use twitch_pipeline::warehouse::{DuckDbWarehouse, Warehouse};

/// Slots of the fixture: 20:00, 20:15, 20:30, 20:45 on 2026-11-23.
fn at(n: i64) -> Slot {
    slot().offset(n)
}

fn strs(lines: &[String]) -> Vec<&str> {
    lines.iter().map(String::as_str).collect()
}

async fn commit(lake: &Lake, slot: Slot, streams: &[String], users: &[String], games: &[String]) {
    let (s, u, g) = (strs(streams), strs(users), strs(games));
    commit_slot(
        lake,
        slot,
        &[(Entity::Streams, &s), (Entity::Users, &u), (Entity::Games, &g)],
    )
    .await;
}

fn project() -> Project {
    Project::load(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("the repository's dbt project loads")
}

async fn transform(warehouse: &mut DuckDbWarehouse) -> RunReport {
    let options = TransformOptions {
        check_freshness: false,
        ..Default::default()
    };
    let report = transform::run(&project(), warehouse, &options, |_| {}).await.unwrap();
    let problems: Vec<String> = report
        .nodes
        .iter()
        .map(|n| Step::Node(n.clone()))
        .chain(report.tests.iter().map(|t| Step::Test(t.clone())))
        .filter(|s| !s.went_well())
        .map(|s| s.to_string())
        .collect();
    assert!(report.succeeded() && problems.is_empty(), "{problems:#?}");
    report
}

/// `transform --full-refresh [--select …]`.
async fn rebuild(warehouse: &mut DuckDbWarehouse, select: &[&str]) -> RunReport {
    let options = TransformOptions {
        select: select.iter().map(|s| s.to_string()).collect(),
        full_refresh: true,
        ..Default::default()
    };
    transform::run(&project(), warehouse, &options, |_| {}).await.unwrap()
}

/// `transform` with its defaults, its failures left for the test to look at.
async fn run_with_failures(warehouse: &mut DuckDbWarehouse) -> RunReport {
    transform::run(&project(), warehouse, &TransformOptions::default(), |_| {})
        .await
        .unwrap()
}

/// What the run did with `model`.
fn outcome<'r>(report: &'r RunReport, model: &str) -> &'r NodeOutcome {
    &report.nodes.iter().find(|n| n.name.0 == model).unwrap().outcome
}

async fn count(warehouse: &mut DuckDbWarehouse, relation: &str) -> i64 {
    count_where(warehouse, &format!("select count(*) from {relation}")).await
}

/// The fixture, in two deliveries: slot 1 arrives late (after slot 2 was transformed),
/// streamer u1 renames itself in slot 3, slot 2 has a malformed line, u2 streams
/// with no category (`game_id` ""), and a copy of slot 0's file is ingested again.
#[tokio::test]
async fn a_hand_made_lake_transforms_to_the_metrics_worked_out_by_hand() {
    let (_dir, lake) = temp_lake();
    let mut warehouse = duckdb_in_memory_with_raw().await;
    let (alice, bob, carol) = (("u1", "alice"), ("u2", "bob"), ("u3", "carol"));
    let (one, two, none) = (("g1", "Game One"), ("g2", "Game Two"), ("", ""));

    // First delivery: slots 0 and 2; slot 1 is late.
    commit(
        &lake,
        at(0),
        &[
            stream(at(0), "A", alice, one, "en", 100),
            stream(at(0), "B", bob, none, "de", 10),
        ],
        &[user(at(0), "u1", "alice", "affiliate"), user(at(0), "u2", "bob", "")],
        &[game(at(0), "g1", "Game One")],
    )
    .await;
    let mut slot_2 = vec![
        stream(at(2), "A", alice, two, "en", 300),
        stream(at(2), "C", carol, two, "en", 70),
    ];
    slot_2.insert(1, r#"{"id": "broken"#.to_string());
    commit(&lake, at(2), &slot_2, &[], &[game(at(2), "g2", "Game Two")]).await;
    let loaded = load_lake(&lake, &mut warehouse).await.unwrap();
    assert_eq!(loaded.rejected, 1, "the malformed line is rejected, the rest loads");
    let first = transform(&mut warehouse).await;
    assert_eq!(first.nodes.len(), MODELS.len());
    assert_eq!(count(&mut warehouse, "main_marts.fact_stream_snapshots").await, 4);

    // Second delivery: the late slot 1, and slot 3 where alice is now alice2.
    commit(
        &lake,
        at(1),
        &[
            stream(at(1), "A", alice, one, "en", 200),
            stream(at(1), "B", bob, none, "de", 30),
            stream(at(1), "C", carol, two, "en", 50),
        ],
        &[user(at(1), "u3", "carol", "partner")],
        &[],
    )
    .await;
    commit(
        &lake,
        at(3),
        &[stream(at(3), "A", ("u1", "alice2"), two, "en", 400)],
        // bob, not live in slot 3, is fetched again: now an affiliate.
        &[
            user(at(3), "u1", "alice2", "affiliate"),
            user(at(3), "u2", "bob", "affiliate"),
        ],
        &[],
    )
    .await;
    load_lake(&lake, &mut warehouse).await.unwrap();
    let second = transform(&mut warehouse).await;
    assert!(second.nodes.iter().any(|n| n.name.0 == "fact_stream_snapshots"
        && matches!(
            n.outcome,
            NodeOutcome::Built(transform::Built::Incremental { created: false })
        )));
    assert_eq!(
        count(&mut warehouse, "main_marts.fact_stream_snapshots").await,
        8,
        "the late slot is merged"
    );

    // A copy of slot 0's file, ingested under another name (as a re-upload would be).
    warehouse
        .execute(
            "insert into raw.raw_streams select raw_json, 'copy-of-' || file_name, file_row_number, loaded_at + interval 1 hour \
             from raw.raw_streams where file_name like '%20261123T2000Z%'",
        )
        .await
        .unwrap();
    transform(&mut warehouse).await;
    assert_eq!(
        count(&mut warehouse, "main_marts.fact_stream_snapshots").await,
        8,
        "a duplicate file adds no rows"
    );

    // Broadcasts: A = 100+200+300+400 viewers over 4 slots, B = 10+30 (no category), C = 50+70.
    assert_eq!(
        rows(&mut warehouse, "select stream_id, snapshots, peak_viewers, avg_viewers, hours_watched, hours_streamed, games_played, cast(first_seen_at as varchar), cast(last_seen_at as varchar) from main_marts.fct_broadcasts order by stream_id").await,
        [
            ["A", "4", "400", "250", "250", "1", "2", "2026-11-23 20:00:00", "2026-11-23 20:45:00"],
            ["B", "2", "30", "20", "10", "0.5", "0", "2026-11-23 20:00:00", "2026-11-23 20:15:00"],
            ["C", "2", "70", "60", "30", "0.5", "1", "2026-11-23 20:15:00", "2026-11-23 20:30:00"],
        ]
    );
    // Games over the day's 4 observed slots. g1: 100, 200 (one channel each).
    // g2: 50 (C), 370 (A+C, two channels), 400 (A). B has no game and is not here.
    assert_eq!(
        rows(&mut warehouse, "select game_id, hours_watched, hours_streamed, peak_viewers, avg_viewers, peak_channels, avg_channels, viewer_ratio from main_marts.agg_game_daily order by game_id").await,
        [
            ["g1", "75", "0.5", "200", "75", "1", "0.5", "150"],
            ["g2", "205", "1", "400", "205", "2", "1", "205"],
        ]
    );
    // Languages: en = 100, 250, 370, 400 over 6 channel-slots; de = 10, 30.
    assert_eq!(
        rows(&mut warehouse, "select language, hours_watched, hours_streamed, peak_viewers, avg_viewers, peak_channels, avg_channels, round(viewer_ratio, 4) from main_marts.agg_language_daily order by language").await,
        [
            ["de", "10", "0.5", "30", "10", "1", "0.5", "20"],
            ["en", "280", "1.5", "400", "280", "2", "1.5", "186.6667"],
        ]
    );
    assert_eq!(
        rows(&mut warehouse, "select user_id, broadcasts, hours_watched, hours_streamed, avg_viewers, peak_viewers, games_played from main_marts.agg_streamer_daily order by user_id").await,
        [
            ["u1", "1", "250", "1", "250", "400", "2"],
            ["u2", "1", "10", "0.5", "20", "30", "0"],
            ["u3", "1", "30", "0.5", "60", "70", "1"],
        ]
    );
    // The empty game id is NULL, not "".
    assert_eq!(
        count(&mut warehouse, "main_staging.stg_streams where game_id = ''").await,
        0
    );
    assert_eq!(
        count(
            &mut warehouse,
            "main_staging.stg_streams where stream_id = 'B' and game_id is null"
        )
        .await,
        2
    );

    // The rename closed alice's row and opened alice2's; carol (late) got her first row.
    assert_eq!(
        rows(&mut warehouse, "select user_id, login, cast(dbt_valid_from as varchar), cast(dbt_valid_to as varchar) from main_snapshots.snap_streamers order by user_id, dbt_valid_from").await,
        [
            ["u1", "alice", "2026-11-23 20:00:00", "2026-11-23 20:45:00"],
            ["u1", "alice2", "2026-11-23 20:45:00", "NULL"],
            ["u2", "bob", "2026-11-23 20:00:00", "2026-11-23 20:45:00"],
            ["u2", "bob", "2026-11-23 20:45:00", "NULL"],
            ["u3", "carol", "2026-11-23 20:15:00", "NULL"],
        ]
    );
    assert_eq!(
        rows(&mut warehouse, "select user_id, login, broadcaster_type, cast(first_seen_at as varchar), cast(last_seen_at as varchar) from main_marts.dim_streamers order by user_id").await,
        [
            ["u1", "alice2", "affiliate", "2026-11-23 20:00:00", "2026-11-23 20:45:00"],
            ["u2", "bob", "affiliate", "2026-11-23 20:00:00", "2026-11-23 20:15:00"],
            ["u3", "carol", "partner", "2026-11-23 20:15:00", "2026-11-23 20:30:00"],
        ]
    );

    // However the data arrived, the incremental runs left what a rebuild gives.
    let incremental = contents(&mut warehouse).await;
    let rebuilt = rebuild(&mut warehouse, &[]).await;
    assert!(rebuilt.succeeded(), "{}", rebuilt.summary_line());
    assert_eq!(contents(&mut warehouse).await, incremental);
}

/// Every row of every relation the project builds, in a stable order.
async fn contents(warehouse: &mut DuckDbWarehouse) -> Vec<Vec<Vec<String>>> {
    contents_of(warehouse, &MODELS).await
}

/// Every row of `relations`, in a stable order.
async fn contents_of(warehouse: &mut DuckDbWarehouse, relations: &[&str]) -> Vec<Vec<Vec<String>>> {
    let mut all = Vec::new();
    for relation in relations {
        // staged_at is when a run took the row (volatile by design): all but it.
        let sql = format!("select columns(lambda c: c <> 'staged_at') from {relation} order by all");
        all.push(rows(warehouse, &sql).await);
    }
    all
}

/// A simulator of `streams` live streams, a lake of its first `slots`, and a
/// warehouse that loaded and transformed them. Keep `_dir` while the lake is used.
struct Simulated {
    sim: twitch_pipeline::simulator::RunningSimulator,
    client: std::sync::Arc<twitch_pipeline::twitch::HelixClient>,
    _dir: tempfile::TempDir,
    lake: Lake,
    warehouse: DuckDbWarehouse,
}

async fn simulated(streams: usize, slots: std::ops::Range<i64>) -> Simulated {
    let sim = spawn_sim(twitch_pipeline::simulator::SimulatorConfig {
        streams,
        rate_limit: None,
        ..Default::default()
    })
    .await;
    let (dir, lake) = temp_lake();
    let client = connect(&sim).await;
    extract_slots(&sim, &client, &lake, slots).await;
    let mut warehouse = duckdb_in_memory_with_raw().await;
    load_lake(&lake, &mut warehouse).await.unwrap();
    assert!(transform(&mut warehouse).await.succeeded());
    Simulated {
        sim,
        client,
        _dir: dir,
        lake,
        warehouse,
    }
}

#[tokio::test]
async fn loading_and_transforming_twice_adds_zero_rows() {
    let Simulated {
        lake,
        mut warehouse,
        _dir,
        ..
    } = simulated(300, 0..3).await;
    let mut before = Vec::new();
    for relation in MODELS {
        before.push(count(&mut warehouse, relation).await);
    }
    let fact = MODELS
        .iter()
        .position(|m| *m == "main_marts.fact_stream_snapshots")
        .unwrap();
    assert_eq!(before[fact], 900, "three slots of 300 streams");

    assert_eq!(load_lake(&lake, &mut warehouse).await.unwrap().files_loaded, 0);
    transform(&mut warehouse).await;
    let mut after = Vec::new();
    for relation in MODELS {
        after.push(count(&mut warehouse, relation).await);
    }
    assert_eq!(before, after);
}

/// The history tables' tests read the rows of recent runs: a bad row there fails them.
#[tokio::test]
async fn a_bad_row_among_the_recent_loads_fails_the_history_tests() {
    let Simulated { mut warehouse, .. } = simulated(100, 0..2).await;

    // A second copy of one row, with negative viewers, as a faulty merge might leave it.
    // Written by hand, outside any run, so only `--full-checks` reads it.
    warehouse
        .execute(
            "insert into main_marts.fact_stream_snapshots \
             select * replace (-1 as viewer_count) from main_marts.fact_stream_snapshots limit 1",
        )
        .await
        .unwrap();
    let full_checks = TransformOptions {
        full_checks: true,
        ..Default::default()
    };
    let report = transform::run(&project(), &mut warehouse, &full_checks, |_| {})
        .await
        .unwrap();
    assert!(!report.succeeded());
    let outcome = |name: &str| {
        report
            .tests
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name} ran"))
            .outcome
            .clone()
    };
    for failing in [
        "unique_fact_stream_snapshots_slot_stream_key",
        "assert_no_negative_viewers",
    ] {
        assert_eq!(outcome(failing), TestOutcome::Fail { failing_rows: 1 }, "{failing}");
    }
    assert_eq!(outcome("not_null_fact_stream_snapshots_user_id"), TestOutcome::Pass);
}

/// A project of one model and a failing singular test, in a temporary folder.
fn failing_project(dir: &Path) -> Project {
    // dbt's default paths: models/ for models, tests/ for singular tests.
    std::fs::create_dir_all(dir.join("models")).unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(dir.join("dbt_project.yml"), "name: t\nconfig-version: 2\nprofile: t\n").unwrap();
    std::fs::write(
        dir.join("models/counts.sql"),
        "{{ config(materialized='table') }}\nselect -5 as viewers union all select 3",
    )
    .unwrap();
    std::fs::write(
        dir.join("models/doubled.sql"),
        "select viewers * 2 as viewers from {{ ref('counts') }}",
    )
    .unwrap();
    std::fs::write(
        dir.join("tests/no_negative.sql"),
        "select * from {{ ref('counts') }} where viewers < 0",
    )
    .unwrap();
    Project::load(dir).unwrap()
}

#[tokio::test]
async fn a_failing_test_is_named_with_its_row_count_and_stops_what_is_built_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let project = failing_project(dir.path());
    let mut warehouse = duckdb_in_memory_with_raw().await;
    let mut lines = Vec::new();
    let report = transform::run(&project, &mut warehouse, &TransformOptions::default(), |s| {
        lines.push(s.to_string())
    })
    .await
    .unwrap();
    assert!(!report.succeeded());
    let test = report.tests.iter().find(|t| t.name == "no_negative").unwrap();
    assert_eq!(test.outcome, TestOutcome::Fail { failing_rows: 1 });
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("FAIL") && l.contains("no_negative (1 failing rows)")),
        "{lines:#?}"
    );
    assert!(matches!(outcome(&report, "doubled"), NodeOutcome::Skipped { because } if because.0 == "counts"));
}

#[tokio::test]
async fn select_and_full_refresh_rebuild_only_what_is_asked() {
    let (_dir, lake) = temp_lake();
    commit(
        &lake,
        at(0),
        &[stream(at(0), "A", ("u1", "a"), ("g1", "G"), "en", 5)],
        &[user(at(0), "u1", "a", "")],
        &[game(at(0), "g1", "G")],
    )
    .await;
    let mut warehouse = duckdb_in_memory_with_raw().await;
    load_lake(&lake, &mut warehouse).await.unwrap();
    transform(&mut warehouse).await;

    let report = rebuild(&mut warehouse, &["+fact_stream_snapshots"]).await;
    let built: Vec<&str> = report.nodes.iter().map(|n| n.name.0.as_str()).collect();
    assert_eq!(built, ["stg_streams", "fact_stream_snapshots"]);
    assert!(matches!(
        report.nodes[1].outcome,
        NodeOutcome::Built(transform::Built::Incremental { created: true })
    ));
    assert_eq!(count(&mut warehouse, "main_marts.fact_stream_snapshots").await, 1);

    // A table built by an older version of a model: the error says how to rebuild it.
    warehouse
        .execute("alter table main_marts.streamer_activity drop column stream_login")
        .await
        .unwrap();
    let report = run_with_failures(&mut warehouse).await;
    let NodeOutcome::Failed(message) = outcome(&report, "streamer_activity") else {
        panic!("{:?}", outcome(&report, "streamer_activity"))
    };
    assert!(
        message.contains("stream_login") && message.contains("--full-refresh --select streamer_activity"),
        "{message}"
    );
    let report = rebuild(&mut warehouse, &["streamer_activity"]).await;
    assert!(report.succeeded(), "{}", report.summary_line());
}

#[tokio::test]
async fn freshness_fails_the_run_when_the_newest_snapshot_is_too_old_and_passes_when_recent() {
    let (_dir, lake) = temp_lake();
    let recent = Slot::containing(chrono::Utc::now());
    commit(
        &lake,
        at(0),
        &[stream(at(0), "old", ("u1", "a"), ("g1", "G"), "en", 5)],
        &[],
        &[],
    )
    .await;
    let mut warehouse = duckdb_in_memory_with_raw().await;
    load_lake(&lake, &mut warehouse).await.unwrap();
    let options = TransformOptions {
        check_freshness: true,
        ..Default::default()
    };
    let stale = transform::run(&project(), &mut warehouse, &options, |_| {})
        .await
        .unwrap();
    assert_eq!(stale.freshness.len(), 1);
    assert_eq!(stale.freshness[0].status, transform::FreshnessStatus::Error);
    assert!(!stale.succeeded(), "a source past its error_after fails the run");

    commit(
        &lake,
        recent,
        &[stream(recent, "new", ("u1", "a"), ("g1", "G"), "en", 5)],
        &[],
        &[],
    )
    .await;
    load_lake(&lake, &mut warehouse).await.unwrap();
    let fresh = transform::run(&project(), &mut warehouse, &options, |_| {})
        .await
        .unwrap();
    assert_eq!(fresh.freshness[0].status, transform::FreshnessStatus::Pass);
    assert!(fresh.succeeded(), "{}", fresh.summary_line());
}

/// Snowpipe stamps a file's rows with its load's start and commits later, out of
/// order: a file can become visible after a newer one was transformed. It is still
/// staged, merged and counted once, and the marts equal a rebuild; a file later than
/// the window (`late_load_window_hours`) is the one case left to reconciliation.
#[tokio::test]
async fn a_file_that_becomes_visible_after_newer_ones_were_transformed_is_still_processed() {
    let mut warehouse = duckdb_in_memory_with_raw().await;
    let (alice, bob) = (("u1", "alice"), ("u2", "bob"));
    let one = ("g1", "Game One");
    let streams = |slot: Slot, viewers: i64| {
        vec![
            stream(slot, "A", alice, one, "en", viewers),
            stream(slot, "B", bob, one, "de", viewers / 10),
        ]
    };
    insert_raw(
        &mut warehouse,
        Entity::Streams,
        "streams/s2.ndjson.gz",
        "2026-11-23 21:10:00",
        &streams(at(2), 300),
    )
    .await;
    insert_raw(
        &mut warehouse,
        Entity::Users,
        "users/u2.ndjson.gz",
        "2026-11-23 21:10:00",
        &[user(at(2), "u1", "alice", "")],
    )
    .await;
    transform(&mut warehouse).await;
    assert_eq!(count(&mut warehouse, "main_marts.fact_stream_snapshots").await, 2);

    // Loads that started before the newest one but committed after the run: slot 1
    // five minutes earlier, slot 0 (with a user) 50 minutes earlier.
    insert_raw(
        &mut warehouse,
        Entity::Streams,
        "streams/s1.ndjson.gz",
        "2026-11-23 21:05:00",
        &streams(at(1), 200),
    )
    .await;
    insert_raw(
        &mut warehouse,
        Entity::Streams,
        "streams/s0.ndjson.gz",
        "2026-11-23 20:20:00",
        &streams(at(0), 100),
    )
    .await;
    insert_raw(
        &mut warehouse,
        Entity::Users,
        "users/u0.ndjson.gz",
        "2026-11-23 20:20:00",
        &[user(at(0), "u2", "bob", "")],
    )
    .await;
    transform(&mut warehouse).await;
    assert_eq!(
        count(&mut warehouse, "main_marts.fact_stream_snapshots").await,
        6,
        "both late files merged"
    );
    assert_eq!(
        count(&mut warehouse, "main_staging.stg_users").await,
        2,
        "the late user fetch staged"
    );
    assert_eq!(
        rows(
            &mut warehouse,
            "select stream_id, snapshots, peak_viewers from main_marts.fct_broadcasts order by all"
        )
        .await,
        [["A", "3", "300"], ["B", "3", "30"]]
    );
    assert_eq!(
        rows(
            &mut warehouse,
            "select hours_watched, peak_viewers from main_marts.agg_game_daily"
        )
        .await,
        [["165", "330"]],
        "(110 + 220 + 330) x 0.25 h"
    );

    // Again: nothing is taken twice.
    transform(&mut warehouse).await;
    assert_eq!(count(&mut warehouse, "main_marts.fact_stream_snapshots").await, 6);
    let incremental = contents(&mut warehouse).await;
    let rebuilt = rebuild(&mut warehouse, &[]).await;
    assert!(rebuilt.succeeded(), "{}", rebuilt.summary_line());
    assert_eq!(contents(&mut warehouse).await, incremental);

    // A load older than the window before the newest is not staged: the data test
    // names it, as a warning (the rest of the run goes on).
    let late = "streams/date=2026-11-23/streams_20261123T2045Z_r1.ndjson.gz";
    insert_raw(
        &mut warehouse,
        Entity::Streams,
        late,
        "2026-11-23 19:59:00",
        &streams(at(3), 400),
    )
    .await;
    let options = TransformOptions {
        check_freshness: false,
        ..Default::default()
    };
    let mut warnings = Vec::new();
    let report = transform::run(&project(), &mut warehouse, &options, |step| {
        if !step.went_well() {
            warnings.push(step.to_string());
        }
    })
    .await
    .unwrap();
    assert!(report.succeeded(), "{}", report.summary_line());
    assert_eq!(count(&mut warehouse, "main_marts.fact_stream_snapshots").await, 6);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("WARN") && warnings[0].contains("assert_every_loaded_file_was_staged (1 failing rows)"),
        "{warnings:?}"
    );
}

/// Snowpipe may commit one file in several transactions ("Loads are combined or split
/// into a single or multiple transactions based on the number and size of the rows in
/// each data file", Introduction to Snowpipe): a run between two of them sees part of
/// the file, and the next run takes the rest. A slot loaded again under another name
/// replaces the first load, and stays replaced on later runs, while the first load's
/// rows are still in the look-back window.
#[tokio::test]
async fn a_file_committed_in_several_transactions_is_staged_whole_and_a_reload_stays_the_latest() {
    let mut warehouse = duckdb_in_memory_with_raw().await;
    let one = ("g1", "Game One");
    let streams_with = |viewers: i64| -> Vec<String> {
        ["A", "B", "C"]
            .iter()
            .enumerate()
            .map(|(n, id)| {
                let (user_id, login) = (format!("u{n}"), format!("login{n}"));
                stream(at(0), id, (&user_id, &login), one, "en", viewers * (n as i64 + 1))
            })
            .collect()
    };
    let streams = streams_with(100);
    let users: Vec<String> = (0..3)
        .map(|n| user(at(0), &format!("u{n}"), &format!("login{n}"), ""))
        .collect();
    let (streams_file, users_file) = ("streams/s0.ndjson.gz", "users/u0.ndjson.gz");
    let loaded_at = "2026-11-23 21:10:00";

    // The first transaction of each file, then a run.
    insert_raw_from(
        &mut warehouse,
        Entity::Streams,
        streams_file,
        loaded_at,
        1,
        &streams[..1],
    )
    .await;
    insert_raw_from(&mut warehouse, Entity::Users, users_file, loaded_at, 1, &users[..1]).await;
    transform(&mut warehouse).await;
    assert_eq!(count(&mut warehouse, "main_marts.fact_stream_snapshots").await, 1);

    // The rest of each file commits; the next run takes it.
    insert_raw_from(
        &mut warehouse,
        Entity::Streams,
        streams_file,
        loaded_at,
        2,
        &streams[1..],
    )
    .await;
    insert_raw_from(&mut warehouse, Entity::Users, users_file, loaded_at, 2, &users[1..]).await;
    transform(&mut warehouse).await;
    assert_eq!(
        count(&mut warehouse, "main_marts.fact_stream_snapshots").await,
        3,
        "the rest of the file staged"
    );
    assert_eq!(
        count(&mut warehouse, "main_staging.stg_users").await,
        3,
        "the rest of the users staged"
    );
    assert_eq!(
        rows(
            &mut warehouse,
            "select sum(viewer_count) from main_marts.fact_stream_snapshots"
        )
        .await,
        [["600"]]
    );

    // The slot loaded again under another name, with other figures: the later load wins,
    // and the first load's rows, back in the window on every run, never win again.
    insert_raw(
        &mut warehouse,
        Entity::Streams,
        "streams/s0_r2.ndjson.gz",
        "2026-11-23 21:20:00",
        &streams_with(1000),
    )
    .await;
    transform(&mut warehouse).await;
    assert_eq!(
        rows(
            &mut warehouse,
            "select sum(viewer_count) from main_marts.fact_stream_snapshots"
        )
        .await,
        [["6000"]],
        "the reload's figures"
    );
    for _ in 0..2 {
        transform(&mut warehouse).await;
        assert_eq!(
            rows(
                &mut warehouse,
                "select sum(viewer_count), count(*) from main_marts.fact_stream_snapshots"
            )
            .await,
            [["6000", "3"]],
            "the replaced load stays replaced"
        );
    }
    let incremental = contents(&mut warehouse).await;
    let rebuilt = rebuild(&mut warehouse, &[]).await;
    assert!(rebuilt.succeeded(), "{}", rebuilt.summary_line());
    assert_eq!(contents(&mut warehouse).await, incremental);
}

/// The metric rules, worked out by hand on four slots across midnight (23:30, 23:45,
/// 00:00, 00:15): a broadcast that crosses midnight is counted once, on its first
/// day, with its hours on the days they were watched; a broadcast's language is its
/// latest; a reload that moves a stream to another game and language leaves no row of
/// the old ones, and the aggregates equal a rebuild.
#[tokio::test]
async fn midnight_a_language_switch_and_a_reload_give_the_metrics_worked_out_by_hand() {
    let (_dir, lake) = temp_lake();
    let mut warehouse = duckdb_in_memory_with_raw().await;
    let start: Slot = "2026-11-23T23:30:00Z".parse().unwrap();
    let s = |n: i64| start.offset(n);
    let (alice, bob) = (("u1", "alice"), ("u2", "bob"));
    let (one, two) = (("g1", "Game One"), ("g2", "Game Two"));
    // M (alice) from 23:30 to 00:15: Game Two in English, then Game One in French at
    // 23:45, then Game Two in German after midnight. N (bob) only after midnight.
    let slots = [
        vec![stream(s(0), "M", alice, two, "en", 100)],
        vec![stream(s(1), "M", alice, one, "fr", 100)],
        vec![
            stream(s(2), "M", alice, two, "de", 200),
            stream(s(2), "N", bob, two, "de", 50),
        ],
        vec![
            stream(s(3), "M", alice, two, "de", 200),
            stream(s(3), "N", bob, two, "de", 50),
        ],
    ];
    for (n, streams) in slots.iter().enumerate() {
        commit(&lake, s(n as i64), streams, &[], &[]).await;
    }
    load_lake(&lake, &mut warehouse).await.unwrap();
    transform(&mut warehouse).await;
    let by_day = |table: &str, dimension: &str| {
        format!(
            "select {dimension}, cast(snapshot_date as varchar), hours_watched, hours_streamed, peak_viewers, avg_viewers \
             from main_marts.{table} order by snapshot_date, {dimension}"
        )
    };
    assert_eq!(
        rows(&mut warehouse, &by_day("agg_game_daily", "game_id")).await,
        [
            ["g1", "2026-11-23", "25", "0.25", "100", "50"],
            ["g2", "2026-11-23", "25", "0.25", "100", "50"],
            ["g2", "2026-11-24", "125", "1", "250", "250"],
        ]
    );

    // The 23:45 file is loaded again, corrected: M was in Game Two, in English.
    warehouse
        .execute(
            "insert into raw.raw_streams select \
             cast(replace(replace(cast(raw_json as varchar), '\"game_id\":\"g1\"', '\"game_id\":\"g2\"'), '\"language\":\"fr\"', '\"language\":\"en\"') as json), \
             'reload-' || file_name, file_row_number, loaded_at + interval 1 hour \
             from raw.raw_streams where file_name like '%20261123T2345Z%'",
        )
        .await
        .unwrap();
    transform(&mut warehouse).await;

    // Games: day 23 has M's two slots (100 each) in Game Two alone: Game One's row is
    // gone. Day 24: M 200 + N 50 in two slots.
    assert_eq!(
        rows(&mut warehouse, &by_day("agg_game_daily", "game_id")).await,
        [
            ["g2", "2026-11-23", "50", "0.5", "100", "100"],
            ["g2", "2026-11-24", "125", "1", "250", "250"],
        ]
    );
    assert_eq!(
        rows(&mut warehouse, &by_day("agg_language_daily", "language")).await,
        [
            ["en", "2026-11-23", "50", "0.5", "100", "100"],
            ["de", "2026-11-24", "125", "1", "250", "250"],
        ]
    );
    // M counts once for alice, on the 23rd; its 00:00 and 00:15 hours are on the 24th.
    assert_eq!(
        rows(
            &mut warehouse,
            "select user_id, cast(snapshot_date as varchar), broadcasts, hours_watched, hours_streamed, avg_viewers, peak_viewers \
             from main_marts.agg_streamer_daily order by snapshot_date, user_id"
        )
        .await,
        [
            ["u1", "2026-11-23", "1", "50", "0.5", "100", "100"],
            ["u1", "2026-11-24", "0", "100", "0.5", "200", "200"],
            ["u2", "2026-11-24", "1", "25", "0.5", "50", "50"],
        ]
    );
    // M's language is its latest (de), not the greatest (en).
    assert_eq!(
        rows(
            &mut warehouse,
            "select stream_id, language, snapshots from main_marts.fct_broadcasts order by stream_id"
        )
        .await,
        [["M", "de", "4"], ["N", "de", "2"]]
    );

    // The fact and the aggregates equal a rebuild. (dim_games keeps Game One, first
    // and last seen at 23:45: a dimension folds in what it has seen, and a reload
    // that takes a game out of every slot is not something it unlearns.)
    let facts = [
        "main_marts.fact_stream_snapshots",
        "main_marts.fct_broadcasts",
        "main_marts.agg_streamer_daily",
        "main_marts.agg_game_daily",
        "main_marts.agg_language_daily",
    ];
    let incremental = contents_of(&mut warehouse, &facts).await;
    let rebuilt = rebuild(&mut warehouse, &[]).await;
    assert!(rebuilt.succeeded(), "{}", rebuilt.summary_line());
    assert_eq!(contents_of(&mut warehouse, &facts).await, incremental);
}

/// The report and `status` read where the transform wrote for the same target: `prod`
/// the production schemas, any other target its own; a model they need that the
/// project does not build is named.
#[tokio::test]
async fn the_readers_find_the_marts_where_each_target_builds_them() {
    let mut warehouse = duckdb_in_memory_with_raw().await;
    let project = project();
    let marts = |name: &str| transform::Marts {
        fact_stream_snapshots: format!("{name}.fact_stream_snapshots"),
        dim_streamers: format!("{name}.dim_streamers"),
        dim_games: format!("{name}.dim_games"),
        rank_streamers: format!("{name}.rank_streamers"),
        rank_games: format!("{name}.rank_games"),
        all: Default::default(),
    };
    for (target, expected) in [
        ("prod", marts("marts")),
        ("dev", marts("main_marts")),
        ("ci", marts("main_marts")),
    ] {
        let resolved = transform::Marts::resolve(&project, &mut warehouse, target)
            .await
            .unwrap();
        assert_eq!(
            resolved.relation("platform_daily").unwrap(),
            format!("{}.platform_daily", expected.dim_games.split_once('.').unwrap().0)
        );
        assert_eq!(
            transform::Marts {
                all: Default::default(),
                ..resolved
            },
            expected,
            "{target}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    copy_project(dir.path());
    let dim_games = dir.path().join("models/marts/dim_games.sql");
    let sql = std::fs::read_to_string(&dim_games).unwrap();
    std::fs::write(&dim_games, format!("{{{{ config(enabled=false) }}}}\n{sql}")).unwrap();
    let disabled = Project::load(dir.path()).unwrap();
    let error = transform::Marts::resolve(&disabled, &mut warehouse, "prod")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("builds no model `dim_games`"), "{error}");
}

/// After a run where a test of an incremental model passed, the next run checks only
/// what it merges; a test that failed checks the whole table until it passes, so its
/// failing rows are never forgotten.
#[tokio::test]
async fn a_failed_test_checks_the_whole_table_until_it_passes_then_only_what_is_merged() {
    let Simulated {
        sim,
        client,
        _dir,
        lake,
        mut warehouse,
    } = simulated(50, 0..2).await;
    let unique = "unique_fact_stream_snapshots_slot_stream_key";
    let run = async |warehouse: &mut DuckDbWarehouse, full_checks: bool| {
        let options = TransformOptions {
            full_checks,
            ..Default::default()
        };
        let report = transform::run(&project(), warehouse, &options, |_| {}).await.unwrap();
        report.tests.into_iter().find(|t| t.name == unique).unwrap().outcome
    };
    let duplicate =
        "insert into main_marts.fact_stream_snapshots select * from main_marts.fact_stream_snapshots limit 1";
    let deduplicate = "create or replace table main_marts.fact_stream_snapshots as \
                       select distinct * from main_marts.fact_stream_snapshots order by snapshot_at";

    // A duplicate written by hand: the passed test checks only what runs merge.
    warehouse.execute(duplicate).await.unwrap();
    assert_eq!(run(&mut warehouse, false).await, TestOutcome::Pass);
    // The whole table, asked for: it fails, and keeps failing on the runs after it.
    assert_eq!(run(&mut warehouse, true).await, TestOutcome::Fail { failing_rows: 1 });
    assert_eq!(run(&mut warehouse, false).await, TestOutcome::Fail { failing_rows: 1 });
    extract_slots(&sim, &client, &lake, 2..3).await;
    load_lake(&lake, &mut warehouse).await.unwrap();
    assert_eq!(run(&mut warehouse, false).await, TestOutcome::Fail { failing_rows: 1 });

    // Fixed by hand: the whole table passes, and the next runs check their merges.
    warehouse.execute(deduplicate).await.unwrap();
    assert_eq!(run(&mut warehouse, false).await, TestOutcome::Pass);
    warehouse.execute(duplicate).await.unwrap();
    assert_eq!(run(&mut warehouse, false).await, TestOutcome::Pass);

    // Fixed again; then a duplicate that a merge brings: two staged copies of one row,
    // newer than the fact, so the next run merges both. The narrowed check sees it.
    warehouse.execute(deduplicate).await.unwrap();
    assert_eq!(run(&mut warehouse, false).await, TestOutcome::Pass);
    for _ in 0..2 {
        warehouse
            .execute(
                "insert into main_staging.stg_streams \
                 select * replace (staged_at + interval 1 hour as staged_at) from main_staging.stg_streams \
                 order by slot_stream_key limit 1",
            )
            .await
            .unwrap();
    }
    assert_eq!(run(&mut warehouse, false).await, TestOutcome::Fail { failing_rows: 1 });
}

/// A record of passed tests that cannot be read (here: its table lost a column; in
/// Snowflake, a lost grant) fails the model with the reason, instead of merging rows
/// that a stale record would let go unchecked.
#[tokio::test]
async fn an_unreadable_record_of_passed_tests_fails_the_model_with_the_reason() {
    let Simulated { mut warehouse, .. } = simulated(20, 0..2).await;
    warehouse
        .execute(
            "create or replace table main_marts.dbt_runner_passed_checks as \
             select 'fact_stream_snapshots' as relation_name, 'x' as test_name",
        )
        .await
        .unwrap();
    let report = run_with_failures(&mut warehouse).await;
    let failed: Vec<String> = report
        .nodes
        .iter()
        .filter_map(|node| match &node.outcome {
            NodeOutcome::Failed(message) => Some(format!("{}: {message}", node.name)),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(
        failed[0].starts_with("fact_stream_snapshots: ")
            && failed[0].contains("cannot take the record of its tests that passed last run"),
        "{failed:#?}"
    );
}

/// Hour by hour, the broadcasts and the streamers' days fold each run's new slots into
/// their rows (streams switch games, broadcasts start and end, the days cross
/// midnight); a late slot makes them recompute from it. Either way they and the other
/// daily aggregates equal a full rebuild.
#[tokio::test]
async fn the_daily_aggregates_run_slot_by_slot_equal_a_rebuild() {
    let mut s = simulated(200, 10..12).await;
    let aggregates = [
        "main_marts.fct_broadcasts",
        "main_marts.agg_streamer_daily",
        "main_marts.agg_game_daily",
        "main_marts.agg_language_daily",
    ];
    // 22:30 to 00:15 one slot a run, across midnight.
    for n in 12..18 {
        add_slots(&mut s, n..n + 1).await;
    }
    let [games, days] = rows(
        &mut s.warehouse,
        "select max(games_played), count(distinct snapshot_date) from main_marts.agg_streamer_daily",
    )
    .await
    .remove(0)
    .try_into()
    .unwrap();
    assert!(
        games.parse::<i64>().unwrap() >= 2 && days == "2",
        "{games} games, {days} days"
    );

    // The runs folded: a value written into the day's row by hand outlives the next
    // run that adds a slot after it...
    let tamper = "update main_marts.agg_streamer_daily set broadcasts = broadcasts + 1000 \
                  where snapshot_date = '2026-11-24' and user_id = (select min(user_id) from main_marts.agg_streamer_daily where snapshot_date = '2026-11-24')";
    let tampered = "select count(*) from main_marts.agg_streamer_daily where broadcasts >= 1000";
    s.warehouse.execute(tamper).await.unwrap();
    add_slots(&mut s, 18..19).await;
    assert_eq!(count_where(&mut s.warehouse, tampered).await, 1, "folded into");
    // ...and a late slot (21:30, before every slot counted) rebuilds the days from it.
    add_slots(&mut s, 6..7).await;
    assert_eq!(count_where(&mut s.warehouse, tampered).await, 0, "rebuilt");

    add_slots(&mut s, 19..20).await;
    let incremental = contents_of(&mut s.warehouse, &aggregates).await;
    let rebuilt = rebuild(&mut s.warehouse, &[]).await;
    assert!(rebuilt.succeeded(), "{}", rebuilt.summary_line());
    assert_eq!(contents_of(&mut s.warehouse, &aggregates).await, incremental);
}

/// Extracts `slots`, loads them and transforms.
async fn add_slots(s: &mut Simulated, slots: std::ops::Range<i64>) {
    extract_slots(&s.sim, &s.client, &s.lake, slots).await;
    load_lake(&s.lake, &mut s.warehouse).await.unwrap();
    transform(&mut s.warehouse).await;
}

/// The count a `select count(*) …` returns.
async fn count_where(warehouse: &mut DuckDbWarehouse, sql: &str) -> i64 {
    warehouse.query(sql).await.unwrap().scalar_i64().unwrap()
}

/// `fct_broadcasts` reads a touched broadcast's row from a day before its Helix
/// `started_at` on (so the table's older blocks go unread), and from the start of the
/// table when a new snapshot has no `started_at`: a broadcast seen again two days
/// later, with and without one, is found and counted whole.
#[tokio::test]
async fn a_broadcast_seen_again_days_later_is_folded_into_its_row_with_or_without_started_at() {
    let (_dir, lake) = temp_lake();
    let mut warehouse = duckdb_in_memory_with_raw().await;
    let (alice, bob, one) = (("u1", "alice"), ("u2", "bob"), ("g1", "Game One"));
    let without_started_at =
        |line: String| line.replace(r#""started_at":"2026-11-23T19:00:00Z""#, r#""started_at":null"#);
    let dated = |slot, viewers| stream(slot, "DATED", alice, one, "en", viewers);
    let undated = |slot, viewers| without_started_at(stream(slot, "UNDATED", bob, one, "en", viewers));
    // Both on day 1; two days later each again, alone in its run (so no other snapshot
    // lends the run a started_at).
    let (first, again, later) = (at(0), at(2 * 96), at(2 * 96 + 1));
    for (slot, streams) in [
        (first, vec![dated(first, 10), undated(first, 10)]),
        (again, vec![dated(again, 30)]),
        (later, vec![undated(later, 30)]),
    ] {
        commit(&lake, slot, &streams, &[], &[]).await;
        load_lake(&lake, &mut warehouse).await.unwrap();
        transform(&mut warehouse).await;
    }
    assert!(undated(first, 10).contains(r#""started_at":null"#));
    assert_eq!(
        rows(
            &mut warehouse,
            "select stream_id, cast(first_seen_at as varchar), cast(last_seen_at as varchar), snapshots, peak_viewers, avg_viewers \
             from main_marts.fct_broadcasts order by stream_id"
        )
        .await,
        [
            ["DATED", "2026-11-23 20:00:00", "2026-11-25 20:00:00", "2", "30", "20"],
            ["UNDATED", "2026-11-23 20:00:00", "2026-11-25 20:15:00", "2", "30", "20"],
        ]
    );
}

/// A warehouse built before `dim_streamers` became a view of `streamer_activity` has
/// the dimension as a table and no activity: its next run builds the activity from
/// the fact and replaces the table by the view, with the rows a rebuild gives.
#[tokio::test]
async fn a_dimension_table_from_before_streamer_activity_becomes_the_view_on_the_next_run() {
    let mut s = simulated(200, 0..2).await;
    for sql in [
        "create table main_marts.dim_streamers_built as select * from main_marts.dim_streamers",
        "drop view main_marts.dim_streamers",
        "alter table main_marts.dim_streamers_built rename to dim_streamers",
        "drop table main_marts.streamer_activity",
    ] {
        s.warehouse.execute(sql).await.unwrap();
    }
    let kind = "select table_type from information_schema.tables \
                where table_schema = 'main_marts' and table_name = 'dim_streamers'";
    assert_eq!(rows(&mut s.warehouse, kind).await, [["BASE TABLE"]]);

    add_slots(&mut s, 2..3).await;
    assert_eq!(rows(&mut s.warehouse, kind).await, [["VIEW"]]);
    let dimension = ["main_marts.streamer_activity", "main_marts.dim_streamers"];
    let upgraded = contents_of(&mut s.warehouse, &dimension).await;
    assert_eq!(
        upgraded[1].len() as i64,
        count_where(
            &mut s.warehouse,
            "select count(distinct user_id) from main_marts.fact_stream_snapshots"
        )
        .await
    );
    let rebuilt = rebuild(&mut s.warehouse, &[]).await;
    assert!(rebuilt.succeeded(), "{}", rebuilt.summary_line());
    assert_eq!(contents_of(&mut s.warehouse, &dimension).await, upgraded);
}

/// Loads `users` as the file `users/f{delivery}.ndjson.gz`, an hour after the
/// delivery before it, and transforms.
async fn deliver_users(warehouse: &mut DuckDbWarehouse, delivery: u32, users: &[String]) {
    let loaded_at = format!("2026-11-24 {delivery:02}:00:00");
    let file = format!("users/f{delivery}.ndjson.gz");
    insert_raw(warehouse, Entity::Users, &file, &loaded_at, users).await;
    transform(warehouse).await;
}

/// `stg_user_versions` folds a streamer's new fetches into its row when they all come
/// after its latest one (a `version_at` written by hand outlives a refetch that
/// changed nothing), and recomputes the streamer from all its fetches after a late
/// fetch, a fetch loaded again, or a row without `fetched_at`. Run by run it gives
/// the version times worked out by hand, and what a rebuild gives; a table built
/// before `fetched_at` existed fails the run, naming the rebuild it needs.
#[tokio::test]
async fn a_streamers_fetches_run_by_run_give_the_versions_a_rebuild_gives() {
    let mut warehouse = duckdb_in_memory_with_raw().await;
    let versions = "select user_id, broadcaster_type, cast(version_at as varchar), cast(fetched_at as varchar) \
                    from main_staging.stg_user_versions order by user_id";
    let everything = "select * from main_staging.stg_user_versions order by user_id";
    let tamper = |user: &str| {
        format!("update main_staging.stg_user_versions set version_at = '2000-01-01' where user_id = '{user}'")
    };
    let (twenty, twenty_two) = ("2026-11-23 20:00:00", "2026-11-23 22:00:00");

    // 20:00: three streamers; 21:00: alice turns partner, bob unchanged (folded).
    let first = [
        user(at(0), "u1", "alice", "affiliate"),
        user(at(0), "u2", "bob", ""),
        user(at(0), "u3", "carol", ""),
    ];
    deliver_users(&mut warehouse, 1, &first).await;
    deliver_users(
        &mut warehouse,
        2,
        &[user(at(4), "u1", "alice", "partner"), user(at(4), "u2", "bob", "")],
    )
    .await;
    // 22:00: alice back to affiliate (a new version, though seen before); bob again
    // unchanged, folded: the time written by hand stays.
    warehouse.execute(&tamper("u2")).await.unwrap();
    deliver_users(
        &mut warehouse,
        3,
        &[user(at(8), "u1", "alice", "affiliate"), user(at(8), "u2", "bob", "")],
    )
    .await;
    assert_eq!(
        rows(&mut warehouse, versions).await,
        [
            ["u1", "affiliate", twenty_two, twenty_two],
            ["u2", "", "2000-01-01 00:00:00", twenty_two],
            ["u3", "", twenty, twenty],
        ]
    );

    // A late fetch of bob (21:30, an affiliate then): recomputed from all four
    // fetches, "" at 20:00 and 21:00, affiliate at 21:30, "" at 22:00 (a change).
    // And carol's 20:00 fetch loaded again, now saying partner: the later load wins.
    deliver_users(&mut warehouse, 4, &[user(at(6), "u2", "bob", "affiliate")]).await;
    deliver_users(&mut warehouse, 5, &[user(at(0), "u3", "carol", "partner")]).await;
    let by_hand = [
        ["u1", "affiliate", twenty_two, twenty_two],
        ["u2", "", twenty_two, twenty_two],
        ["u3", "partner", twenty, twenty],
    ];
    assert_eq!(rows(&mut warehouse, versions).await, by_hand);
    let incremental = rows(&mut warehouse, everything).await;
    assert!(rebuild(&mut warehouse, &["stg_user_versions"]).await.succeeded());
    assert_eq!(rows(&mut warehouse, everything).await, incremental);

    // A table from before `fetched_at`: the run fails, saying how to rebuild it.
    warehouse
        .execute("alter table main_staging.stg_user_versions drop column fetched_at")
        .await
        .unwrap();
    insert_raw(
        &mut warehouse,
        Entity::Users,
        "users/f6.ndjson.gz",
        "2026-11-24 06:00:00",
        &[user(at(12), "u1", "alice", "affiliate")],
    )
    .await;
    let report = run_with_failures(&mut warehouse).await;
    let upgraded = outcome(&report, "stg_user_versions");
    assert!(
        matches!(upgraded, NodeOutcome::Failed(m) if m.contains("--full-refresh --select stg_user_versions")),
        "{upgraded:?}"
    );
    assert!(rebuild(&mut warehouse, &["stg_user_versions"]).await.succeeded());
    // A row without `fetched_at` is recomputed (alice's time written by hand goes).
    warehouse.execute(&tamper("u1")).await.unwrap();
    warehouse
        .execute("update main_staging.stg_user_versions set fetched_at = null where user_id = 'u1'")
        .await
        .unwrap();
    deliver_users(&mut warehouse, 7, &[user(at(13), "u1", "alice", "affiliate")]).await;
    assert_eq!(
        rows(&mut warehouse, versions).await,
        [
            ["u1", "affiliate", twenty_two, "2026-11-23 23:15:00"],
            ["u2", "", twenty_two, twenty_two],
            ["u3", "partner", twenty, twenty],
        ]
    );
    // And folds go on: a rebuild gives the same table.
    deliver_users(
        &mut warehouse,
        8,
        &[user(at(16), "u2", "bob", ""), user(at(16), "u3", "carol", "partner")],
    )
    .await;
    let incremental = rows(&mut warehouse, everything).await;
    assert!(rebuild(&mut warehouse, &["stg_user_versions"]).await.succeeded());
    assert_eq!(rows(&mut warehouse, everything).await, incremental);
    assert_eq!(
        rows(&mut warehouse, versions).await,
        [
            ["u1", "affiliate", twenty_two, "2026-11-23 23:15:00"],
            ["u2", "", twenty_two, "2026-11-24 00:00:00"],
            ["u3", "partner", twenty, "2026-11-24 00:00:00"],
        ]
    );
}

/// A model the run does not build, because one it depends on failed, keeps the record
/// of its tests that passed (its rows did not change), taken when the run started.
#[tokio::test]
async fn a_model_skipped_for_a_failed_parent_keeps_the_record_of_its_passed_tests() {
    let Simulated { mut warehouse, .. } = simulated(20, 0..2).await;
    let records = "select count(*) from main_marts.dbt_runner_passed_checks \
                   where relation_name = 'fact_stream_snapshots'";
    let before = count_where(&mut warehouse, records).await;
    assert!(before > 0, "the fact's tests passed and were recorded");

    // stg_streams' merge deletes by its key (snapshot_at, stream_id): without a key
    // column, it fails.
    warehouse
        .execute("alter table main_staging.stg_streams drop column stream_id")
        .await
        .unwrap();
    let report = run_with_failures(&mut warehouse).await;
    let streams = outcome(&report, "stg_streams");
    assert!(matches!(streams, NodeOutcome::Failed(_)), "{streams:?}");
    assert!(matches!(
        outcome(&report, "fact_stream_snapshots"),
        NodeOutcome::Skipped { .. }
    ));
    assert_eq!(count_where(&mut warehouse, records).await, before);
}

/// `transform` as [`transform`] runs it, building on `threads` sessions at once.
async fn transform_on(warehouse: &mut DuckDbWarehouse, threads: usize) -> RunReport {
    let options = TransformOptions {
        check_freshness: false,
        threads,
        ..Default::default()
    };
    transform::run(&project(), warehouse, &options, |_| {}).await.unwrap()
}

/// Each test's name and outcome, in name order (units on several sessions finish in
/// any order).
fn test_outcomes(report: &RunReport) -> Vec<(String, TestOutcome)> {
    let mut outcomes: Vec<_> = report
        .tests
        .iter()
        .map(|t| (t.name.clone(), t.outcome.clone()))
        .collect();
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    outcomes
}

/// Every row of every model but the times of its load and staging (two warehouses
/// load the same lake at different times), in a stable order.
async fn contents_but_load_times(warehouse: &mut DuckDbWarehouse) -> Vec<Vec<Vec<String>>> {
    let mut all = Vec::new();
    for relation in MODELS {
        let sql = format!("select columns(lambda c: c not in ('staged_at', 'loaded_at')) from {relation} order by all");
        all.push(rows(warehouse, &sql).await);
    }
    all
}

/// dbt's `threads`: three sessions building at once give the tables, and the test
/// outcomes, of one session building in order: the full build, then an incremental
/// run with a late slot among the new ones.
#[tokio::test]
async fn three_sessions_at_once_build_what_one_session_builds() {
    let mut s = simulated(200, 0..3).await;
    let mut parallel = duckdb_in_memory_with_raw().await;
    load_lake(&s.lake, &mut parallel).await.unwrap();
    let full = transform_on(&mut parallel, 3).await;
    assert!(full.succeeded(), "{}", full.summary_line());
    assert_eq!(full.nodes.len(), MODELS.len(), "every model once");
    assert_eq!(
        contents_but_load_times(&mut s.warehouse).await,
        contents_but_load_times(&mut parallel).await
    );

    // Slot 4, then the late slot 3.
    extract_slots(&s.sim, &s.client, &s.lake, 4..5).await;
    for warehouse in [&mut s.warehouse, &mut parallel] {
        load_lake(&s.lake, warehouse).await.unwrap();
    }
    extract_slots(&s.sim, &s.client, &s.lake, 3..4).await;
    let mut reports = Vec::new();
    for (warehouse, threads) in [(&mut s.warehouse, 1), (&mut parallel, 3)] {
        load_lake(&s.lake, warehouse).await.unwrap();
        reports.push(transform_on(warehouse, threads).await);
    }
    assert!(reports.iter().all(RunReport::succeeded), "{reports:#?}");
    assert_eq!(test_outcomes(&reports[0]), test_outcomes(&reports[1]));
    assert_eq!(
        contents_but_load_times(&mut s.warehouse).await,
        contents_but_load_times(&mut parallel).await,
        "the same rows in every model"
    );
    assert_eq!(count(&mut parallel, "main_marts.fact_stream_snapshots").await, 5 * 200);
}

/// A failing test stops what is built on its model when units run at once too, and
/// the other units still run.
#[tokio::test]
async fn on_several_sessions_a_failing_test_still_stops_what_is_built_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let project = failing_project(dir.path());
    std::fs::write(dir.path().join("models/apart.sql"), "select 1 as one").unwrap();
    let project = Project::load(&project.root).unwrap();
    let mut warehouse = duckdb_in_memory_with_raw().await;
    let options = TransformOptions {
        threads: 2,
        ..Default::default()
    };
    let report = transform::run(&project, &mut warehouse, &options, |_| {})
        .await
        .unwrap();
    assert!(!report.succeeded());
    assert_eq!(
        report.tests.iter().find(|t| t.name == "no_negative").unwrap().outcome,
        TestOutcome::Fail { failing_rows: 1 }
    );
    assert!(matches!(outcome(&report, "doubled"), NodeOutcome::Skipped { because } if because.0 == "counts"));
    assert!(matches!(outcome(&report, "apart"), NodeOutcome::Built(_)));
}

/// The rankings, the platform, concentration, saturation and schedules, worked out by
/// hand on `analytics_world` (tests/support/analytics.rs holds the arithmetic),
/// delivered hour by hour with its 30 November noon slot late, after the next day was
/// counted. Then a full rebuild gives the same rows.
#[tokio::test]
async fn the_analytics_give_the_values_worked_out_by_hand_and_equal_a_rebuild() {
    let (_dir, lake) = temp_lake();
    let mut warehouse = duckdb_in_memory_with_raw().await;
    let world = analytics::analytics_world();
    for index in [0, 1, 3, 4, 2] {
        let (slot, streams) = &world[index];
        commit(&lake, *slot, streams, &[], &[]).await;
        load_lake(&lake, &mut warehouse).await.unwrap();
        transform(&mut warehouse).await;
    }

    analytics::assert_expected(&mut warehouse, "main_marts").await;

    let incremental = contents_of(&mut warehouse, analytics_models()).await;
    let rebuilt = rebuild(&mut warehouse, &[]).await;
    assert!(rebuilt.succeeded(), "{}", rebuilt.summary_line());
    assert_eq!(contents_of(&mut warehouse, analytics_models()).await, incremental);

    // The streamers' schedules are of the most watched channels only: with two, alice
    // (55 hours in the window) and carol (30).
    let two = TransformOptions {
        select: vec!["schedule_hour_of_week".into()],
        full_refresh: true,
        vars: [("schedule_channels".to_string(), serde_json::json!(2))].into(),
        ..Default::default()
    };
    let report = transform::run(&project(), &mut warehouse, &two, |_| {}).await.unwrap();
    assert!(report.succeeded(), "{}", report.summary_line());
    assert_eq!(
        rows(
            &mut warehouse,
            "select distinct user_id from main_marts.schedule_hour_of_week where scope = 'streamer' order by 1"
        )
        .await,
        [["u1"], ["u3"]]
    );
}

/// The simulator's channels are ranked by a Zipf law of exponent 1 / POPULARITY_TAIL
/// (their popularity is Pareto): over a complete day of a flat world, the hours watched
/// per channel fall with their rank at that slope (fitted over ranks 10 to 1,000, where
/// neither the few giants nor the channels of a viewer or two bend it), and
/// concentration_daily's shares and Gini are those of the same hours, computed here
/// by their definitions.
#[tokio::test]
async fn the_concentration_follows_the_simulated_worlds_zipf_law() {
    // 20:00 on 23 Nov to 00:00 on 25 Nov: 24 November complete.
    let mut s = simulated(1_500, 16..113).await;
    let mut hours: Vec<f64> = rows(
        &mut s.warehouse,
        "select hours_watched from main_marts.agg_streamer_daily where snapshot_date = '2026-11-24'",
    )
    .await
    .into_iter()
    .map(|r| r[0].parse().unwrap())
    .collect();
    hours.sort_by(|a, b| b.total_cmp(a));
    let [channels, top_100, top_1000, gini] = rows(
        &mut s.warehouse,
        "select channels, top_100_share, top_1000_share, gini from main_marts.concentration_daily where snapshot_date = '2026-11-24'",
    )
    .await
    .remove(0)
    .into_iter()
    .map(|v| v.parse::<f64>().unwrap())
    .collect::<Vec<_>>()
    .try_into()
    .unwrap();
    assert_eq!(channels as usize, hours.len());
    let total: f64 = hours.iter().sum();
    let share = |n: usize| hours.iter().take(n).sum::<f64>() / total;
    assert!((top_100 - share(100)).abs() < 1e-6, "{top_100} against {}", share(100));
    assert!(
        (top_1000 - share(1000)).abs() < 1e-6,
        "{top_1000} against {}",
        share(1000)
    );
    assert!((gini - analytics::gini(&hours)).abs() < 1e-5, "{gini}");

    // Least squares of ln(hours) on ln(rank), ranks 10 to 1,000.
    let points: Vec<(f64, f64)> = (10..=1000)
        .filter(|rank| hours[rank - 1] > 0.0)
        .map(|rank| ((rank as f64).ln(), hours[rank - 1].ln()))
        .collect();
    let n = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let slope = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
        / points.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
    let zipf = 1.0 / twitch_pipeline::simulator::POPULARITY_TAIL;
    assert!(
        (-slope - zipf).abs() < 0.15,
        "hours fall with rank at exponent {:.3}; the world's Zipf exponent is {zipf:.3}",
        -slope
    );
}
