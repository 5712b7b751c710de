//! The cross-check: `dbt build` (dbt-duckdb) and our runner, on the same raw data,
//! build identical tables, through the first build and an incremental one.
//!
//! dbt is installed into `.tools/venv` by `scripts/test`, which sets `DBT`.
#![cfg(feature = "duckdb")]

mod support;

use std::path::Path;

use support::*;
use twitch_pipeline::load::load_lake;
use twitch_pipeline::simulator::SimulatorConfig;
use twitch_pipeline::transform::{self, Project, TransformOptions};
use twitch_pipeline::warehouse::{DuckDbWarehouse, Warehouse};

/// The dbt executable, or None (skip) when this run does not require it.
fn dbt() -> Option<String> {
    required_tool("DBT", "dbt-duckdb")
}

async fn dbt_build(dbt: &str, work: &Path, database: &Path) {
    let output = run(support::dbt::build_command(dbt, work, database)).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "dbt build failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn our_build(database: &Path) {
    let project = Project::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut warehouse = DuckDbWarehouse::open(database).unwrap();
    let report = transform::run(&project, &mut warehouse, &TransformOptions::default(), |_| {})
        .await
        .unwrap();
    assert!(report.succeeded(), "{}", report.summary_line());
}

/// Copies raw rows that `to` lacks from `from` (same files, same load times).
async fn copy_raw(from: &Path, to: &Path) {
    let mut warehouse = DuckDbWarehouse::open(from).unwrap();
    warehouse
        .execute(&format!("attach '{}' as other", to.display()))
        .await
        .unwrap();
    for table in ["raw_streams", "raw_users", "raw_games"] {
        warehouse
            .execute(&format!(
                "insert into other.raw.{table} select * from raw.{table} \
                 where file_name not in (select file_name from other.raw.{table})"
            ))
            .await
            .unwrap();
    }
    warehouse.execute("detach other").await.unwrap();
}

/// Rows of each model in one database and not the other, by column name.
async fn differences(ours: &Path, theirs: &Path) -> Vec<String> {
    let mut warehouse = DuckDbWarehouse::open(ours).unwrap();
    warehouse
        .execute(&format!("attach '{}' as dbt (read_only)", theirs.display()))
        .await
        .unwrap();
    let mut problems = Vec::new();
    for model in MODELS {
        let (schema, name) = model.split_once('.').unwrap();
        let columns = |catalog: &str| {
            format!(
                "select column_name from information_schema.columns where table_catalog = {catalog} \
                 and table_schema = '{schema}' and table_name = '{name}' order by column_name"
            )
        };
        let ours_columns = warehouse.query(&columns("current_database()")).await.unwrap();
        let theirs_columns = warehouse.query(&columns("'dbt'")).await.unwrap();
        if ours_columns != theirs_columns {
            problems.push(format!(
                "{model}: columns differ:\nours:\n{ours_columns}theirs:\n{theirs_columns}"
            ));
            continue;
        }
        // staged_at is the time a run staged a row: volatile by design, and only
        // compared with itself (macros/merging.sql).
        let list: Vec<String> = ours_columns
            .rows
            .iter()
            .map(|r| r[0].clone().unwrap())
            .filter(|column| column != "staged_at")
            .collect();
        let list = list.join(", ");
        for (a, b) in [("", "dbt."), ("dbt.", "")] {
            let sql = format!(
                "select count(*) from (select {list} from {a}{model} except all select {list} from {b}{model})"
            );
            let extra = warehouse.query(&sql).await.unwrap().scalar_i64().unwrap();
            if extra > 0 {
                problems.push(format!(
                    "{model}: {extra} row(s) only in {}",
                    if a.is_empty() { "ours" } else { "dbt's" }
                ));
            }
        }
        let rows = warehouse
            .query(&format!("select count(*) from {model}"))
            .await
            .unwrap()
            .scalar_i64()
            .unwrap();
        if rows == 0 {
            problems.push(format!("{model}: empty, so the comparison proves nothing"));
        }
    }
    problems
}

#[tokio::test]
async fn dbt_and_our_runner_build_identical_tables() {
    let Some(dbt) = dbt() else { return };
    let work = tempfile::tempdir().unwrap();
    let (ours, theirs) = (work.path().join("ours.duckdb"), work.path().join("theirs.duckdb"));
    let sim = spawn_sim(SimulatorConfig {
        streams: 400,
        rate_limit: None,
        ..Default::default()
    })
    .await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;

    // First build: both from the same raw file.
    extract_slots(&sim, &client, &lake, 0..4).await;
    load_lake(&lake, &mut DuckDbWarehouse::open(&ours).unwrap())
        .await
        .unwrap();
    std::fs::copy(&ours, &theirs).unwrap();
    our_build(&ours).await;
    dbt_build(&dbt, work.path(), &theirs).await;
    let problems = differences(&ours, &theirs).await;
    assert!(problems.is_empty(), "after the first build:\n{}", problems.join("\n"));

    // Incremental build: new slots (streams end, start, rename) reach both the same way.
    extract_slots(&sim, &client, &lake, 4..8).await;
    load_lake(&lake, &mut DuckDbWarehouse::open(&ours).unwrap())
        .await
        .unwrap();
    copy_raw(&ours, &theirs).await;
    our_build(&ours).await;
    dbt_build(&dbt, work.path(), &theirs).await;
    let problems = differences(&ours, &theirs).await;
    assert!(
        problems.is_empty(),
        "after the incremental build:\n{}",
        problems.join("\n")
    );
}
