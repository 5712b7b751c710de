//! The `twitch-pipeline` command as a person runs it: exit codes, messages, logs.

use std::process::{Command, Output};

use crate::support::*;
use twitch_pipeline::simulator::SimulatorConfig;

const SECRET: &str = "s3cr3t-client-value-7731";

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_twitch-pipeline"));
    // Start from a clean slate: no setting leaks in from the machine running the tests.
    for (key, _) in std::env::vars() {
        let ours = ["TWITCH_", "EXTRACT_", "LAKE_", "WAREHOUSE_", "TRANSFORM_", "SNOWFLAKE_"];
        if ours.iter().any(|prefix| key.starts_with(prefix)) || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    command
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn config_errors_are_listed_together() {
    let output = binary()
        .args([
            "extract",
            "--lake",
            "s3://bucket",
            "--max-streams",
            "0",
            "--slot",
            "noon",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for setting in [
        "TWITCH_CLIENT_ID",
        "TWITCH_CLIENT_SECRET",
        "LAKE_URL",
        "EXTRACT_MAX_STREAMS",
        "EXTRACT_SLOT",
    ] {
        assert!(stderr.contains(setting), "{setting} missing from:\n{stderr}");
    }
    assert!(stderr.contains("5 problem(s)"), "{stderr}");
}

#[test]
fn help_never_shows_the_secret_from_the_environment() {
    let output = binary()
        .args(["extract", "--help"])
        .env("TWITCH_CLIENT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = text(&output);
    assert!(help.contains("TWITCH_CLIENT_SECRET"), "{help}");
    assert!(!help.contains(SECRET), "{help}");
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_appear_in_logs_even_at_trace_level() {
    let sim = spawn_sim(SimulatorConfig {
        client_secret: SECRET.into(),
        streams: 300,
        rate_limit: None,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = binary();
    command
        .args([
            "extract",
            "--slot",
            &slot().rfc3339(),
            "--lake",
            dir.path().to_str().unwrap(),
        ])
        .env("TWITCH_CLIENT_ID", twitch_pipeline::simulator::DEFAULT_CLIENT_ID)
        .env("TWITCH_CLIENT_SECRET", SECRET)
        .env("TWITCH_API_URL", sim.api_url())
        .env("TWITCH_AUTH_URL", sim.auth_url())
        .env("RUST_LOG", "trace")
        .env("LOG_FORMAT", "json");
    let output = run(command).await;
    let logs = text(&output);
    assert!(output.status.success(), "{logs}");
    assert!(logs.len() > 10_000, "trace logging was on: {} bytes", logs.len());
    assert!(!logs.contains(SECRET), "the client secret leaked into the logs");
    let tokens = sim.simulator.issued_tokens();
    assert!(!tokens.is_empty());
    for token in tokens {
        assert!(!logs.contains(&token), "an access token leaked into the logs");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn extract_prints_a_summary_then_already_extracted_on_rerun() {
    let sim = spawn_sim(SimulatorConfig {
        streams: 450,
        rate_limit: None,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let command = || {
        let mut command = binary();
        command
            .args(["extract", "--slot", "2026-11-23T20:07:00Z"])
            .env("LAKE_URL", dir.path());
        sim_env(&mut command, &sim);
        command
    };
    let first = run(command()).await;
    assert!(first.status.success(), "{}", text(&first));
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.starts_with("slot 2026-11-23T20:00:00Z: 450 streams (0 found by a re-read), 450 users, ")
            && stdout.contains(" partition(s), ")
            && stdout.contains(" requests (p50 ")
            && stdout.contains(" 0 duplicates dropped, 0 quarantined, 0 retries, ")
            && !stdout.contains("WARNING"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1);

    let again = run(command()).await;
    assert!(again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        "slot 2026-11-23T20:00:00Z already extracted; nothing to do"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_extract_exits_non_zero_with_the_reason() {
    let sim = spawn_sim(SimulatorConfig {
        streams: 10,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = binary();
    command
        .args(["extract", "--lake", dir.path().to_str().unwrap()])
        .env("TWITCH_CLIENT_ID", "not-the-app")
        .env("TWITCH_CLIENT_SECRET", SECRET)
        .env("TWITCH_API_URL", sim.api_url())
        .env("TWITCH_AUTH_URL", sim.auth_url());
    let output = run(command).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: cannot start a Twitch session") && stderr.contains("TWITCH_CLIENT_ID"),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET));
}

// The local warehouse: the embedded DuckDB (the Azure build has none).
#[cfg(feature = "duckdb")]
#[test]
fn demo_runs_and_a_rerun_continues_with_the_next_slots() {
    let dir = tempfile::tempdir().unwrap();
    let demo = || {
        binary()
            .args([
                "demo",
                "--slots",
                "2",
                "--streams",
                "300",
                "--data",
                dir.path().to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let first = demo();
    assert!(first.status.success(), "{}", text(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("synthetic data"));
    let again = demo();
    assert!(again.status.success(), "{}", text(&again));

    let manifests: Vec<String> = walk(&dir.path().join("lake/_manifests"));
    assert_eq!(manifests.len(), 4, "{manifests:?}");
    let slots: Vec<twitch_pipeline::lake::Slot> = manifests
        .iter()
        .map(|name| twitch_pipeline::lake::Slot::from_compact(name.trim_end_matches(".json")).unwrap())
        .collect();
    for pair in slots.windows(2) {
        assert_eq!(pair[1], pair[0].offset(1), "consecutive slots: {slots:?}");
    }
}

/// The names of the files under `dir`, at any depth, sorted.
#[cfg(feature = "duckdb")]
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = files_under(dir)
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A dbt project in `dir` with one model per (name, sql) and singular tests.
fn project(dir: &std::path::Path, models: &[(&str, &str)], tests: &[(&str, &str)]) {
    std::fs::create_dir_all(dir.join("models")).unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(dir.join("dbt_project.yml"), "name: t\nconfig-version: 2\nprofile: t\n").unwrap();
    for (name, sql) in models {
        std::fs::write(dir.join(format!("models/{name}.sql")), sql).unwrap();
    }
    for (name, sql) in tests {
        std::fs::write(dir.join(format!("tests/{name}.sql")), sql).unwrap();
    }
}

#[cfg(feature = "duckdb")]
fn transform(dir: &std::path::Path) -> std::process::Output {
    binary()
        .arg("transform")
        .arg("--project")
        .arg(dir)
        .arg("--warehouse")
        .arg(format!("duckdb:{}", dir.join("w.duckdb").display()))
        .output()
        .unwrap()
}

/// `transform --list` prints what a selection picks, as `dbt ls --output name`, and
/// builds nothing; a criterion matching nothing is refused by name.
#[test]
fn transform_lists_what_a_selection_picks_without_building() {
    let dir = tempfile::tempdir().unwrap();
    project(
        dir.path(),
        &[
            ("base", "select 1 as id"),
            (
                "tagged",
                "{{ config(tags=['hourly']) }} select id from {{ ref('base') }}",
            ),
        ],
        &[("tagged_has_rows", "select 1 from {{ ref('tagged') }} where false")],
    );
    let list = |args: &[&str]| {
        binary()
            .args(["transform", "--list", "--project"])
            .arg(dir.path())
            .arg("--warehouse")
            .arg(format!("duckdb:{}", dir.path().join("w.duckdb").display()))
            .args(args)
            .output()
            .unwrap()
    };
    let output = list(&["--select", "+tag:hourly"]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "base\ntagged\ntagged_has_rows\n"
    );
    let output = list(&["--exclude", "tagged_has_rows"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "base\ntagged\n",
        "{}",
        text(&output)
    );
    assert!(!dir.path().join("w.duckdb").exists(), "--list opens no warehouse");
    let output = list(&["--select", "tag:daily"]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("`tag:daily`: selects nothing"),
        "{}",
        text(&output)
    );
}

// The local warehouse: the embedded DuckDB (the Azure build has none).
#[cfg(feature = "duckdb")]
#[test]
fn transform_exits_non_zero_naming_the_failing_test_and_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    project(
        dir.path(),
        &[(
            "counts",
            "{{ config(materialized='table') }}\nselect -5 as viewers union all select 3",
        )],
        &[(
            "no_negative_viewers",
            "select * from {{ ref('counts') }} where viewers < 0",
        )],
    );
    let output = transform(dir.path());
    assert!(!output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("FAIL     no_negative_viewers (1 failing rows)"),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("the transform failed"),
        "{}",
        text(&output)
    );
}

// The local warehouse: the embedded DuckDB (the Azure build has none).
#[cfg(feature = "duckdb")]
#[test]
fn a_bad_ref_is_reported_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    project(
        dir.path(),
        &[("broken", "select 1 as x\nfrom {{ ref('missing_model') }}")],
        &[],
    );
    let output = transform(dir.path());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("models/broken.sql:2") && stderr.contains("missing_model"),
        "{stderr}"
    );
}

#[test]
fn snowflake_settings_are_all_listed_when_missing() {
    let output = binary()
        .args([
            "transform",
            "--warehouse",
            "snowflake",
            "--project",
            env!("CARGO_MANIFEST_DIR"),
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for setting in [
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_USER",
        "SNOWFLAKE_PRIVATE_KEY",
        "SNOWFLAKE_WAREHOUSE",
        "SNOWFLAKE_DATABASE",
    ] {
        assert!(stderr.contains(setting), "{setting} missing from: {stderr}");
    }
}

/// `load`, `transform` and `status` over a lake with the faults a real one has: a
/// missed slot, a committed file deleted, a malformed line. Each is named, and the
/// other slots flow.
#[cfg(feature = "duckdb")]
#[tokio::test]
async fn status_names_the_missed_slot_and_the_missing_file_and_load_goes_on_past_them() {
    use crate::support::fixture::{game, stream, user};
    use object_store::ObjectStoreExt;
    use twitch_pipeline::lake::Entity;

    let (dir, lake) = temp_lake();
    let at = |n| slot().offset(n);
    let mut manifests = Vec::new();
    // Slot 2 is never committed: its timer did not run.
    for n in [0, 1, 3, 4] {
        let mut streams = vec![
            stream(at(n), "A", ("u1", "alice"), ("g1", "Game One"), "en", 100),
            stream(at(n), "B", ("u2", "bob"), ("g1", "Game One"), "de", 10),
        ];
        if n == 4 {
            streams.push(r#"{"id": "broken"#.to_string());
        }
        let users = [user(at(n), "u1", "alice", "")];
        let games = [game(at(n), "g1", "Game One")];
        let (s, u, g): (Vec<&str>, Vec<&str>, Vec<&str>) = (
            streams.iter().map(String::as_str).collect(),
            users.iter().map(String::as_str).collect(),
            games.iter().map(String::as_str).collect(),
        );
        manifests.push(
            commit_slot(
                &lake,
                at(n),
                &[(Entity::Streams, &s), (Entity::Users, &u), (Entity::Games, &g)],
            )
            .await,
        );
    }
    // Slot 3's users file is deleted after the commit.
    let deleted = manifests[2].file(Entity::Users).unwrap().path.clone();
    lake.store()
        .delete(&object_store::path::Path::from(deleted.as_str()))
        .await
        .unwrap();

    // Slot 1's extraction stopped its English chain at the deadline, and two records
    // were quarantined: the slot is incomplete with that reason, the records a note.
    let mut partial = manifests[1].clone();
    partial.listing_complete = false;
    partial.incomplete_reason = Some("language=en: stopped at the run's deadline after 210 page(s)".into());
    partial.quarantined = 2;
    partial.quarantine_files = vec!["_quarantine/streams_x.ndjson.gz".into()];
    lake.put(
        &twitch_pipeline::lake::manifest_path(at(1)),
        serde_json::to_vec(&partial).unwrap(),
    )
    .await
    .unwrap();

    let lake_dir = dir.path().join("lake");
    let warehouse = format!("duckdb:{}", dir.path().join("warehouse.duckdb").display());
    let with_locations = |command: &str| {
        let mut c = binary();
        c.arg(command)
            .env("LAKE_URL", &lake_dir)
            .env("WAREHOUSE_URL", &warehouse);
        c
    };
    let load = with_locations("load").output().unwrap();
    assert_eq!(load.status.code(), Some(1), "{}", text(&load));
    assert!(
        text(&load).contains(&format!("slot {} not loaded", at(3))) && text(&load).contains(&deleted),
        "{}",
        text(&load)
    );
    // dbt's artifacts go where --target-path says, not into the checkout.
    let artifacts = dir.path().join("artifacts");
    let transform = with_locations("transform")
        .args(["--skip-freshness", "--project", env!("CARGO_MANIFEST_DIR")])
        .arg("--target-path")
        .arg(&artifacts)
        .output()
        .unwrap();
    assert!(transform.status.success(), "{}", text(&transform));
    assert!(artifacts.join("manifest.json").is_file() && artifacts.join("run_results.json").is_file());

    let status = with_locations("status")
        .args([
            "--since",
            &at(0).rfc3339(),
            "--until",
            &at(5).rfc3339(),
            "--grace-minutes",
            "0",
        ])
        .output()
        .unwrap();
    let out = text(&status);
    assert_eq!(status.status.code(), Some(1), "{out}");
    let line = |n: i64| {
        out.lines()
            .find(|l| l.starts_with(&at(n).rfc3339()))
            .unwrap_or_else(|| panic!("no line for slot {n}: {out}"))
            .to_string()
    };
    assert!(
        line(0).contains("complete") && line(0).contains("streams 2/2, users 1/1, games 1/1 in RAW; 2 in the fact"),
        "{out}"
    );
    assert!(
        line(1).contains("INCOMPLETE")
            && line(1).contains("the extraction did not read the whole listing, so streams may be missing: language=en: stopped at the run's deadline after 210 page(s)")
            && out.contains("    note: 2 record(s) quarantined in _quarantine/streams_x.ndjson.gz\n"),
        "{out}"
    );
    assert!(
        out.contains("2 record(s) quarantined")
            && out.contains("1 slot(s) whose extraction did not read the whole listing"),
        "{out}"
    );
    assert!(
        line(2).contains("MISSED") && line(2).contains("cannot be fetched again"),
        "{out}"
    );
    assert!(
        line(3).contains("INCOMPLETE") && line(3).contains(&format!("`{deleted}`: 0 of 1 row(s) in RAW")),
        "{out}"
    );
    assert!(
        line(4).contains("complete")
            && line(4).contains("streams 2/3")
            && line(4).contains("1 line(s) rejected at load"),
        "{out}"
    );
    assert!(
        out.contains("5 slot(s) expected, 4 committed (2 complete, 0 pending, 2 incomplete, 0 unreadable), 1 missed"),
        "{out}"
    );
    assert!(out.contains("3 slot(s) missed, incomplete or duplicated"), "{out}");

    // Nothing was expected before the lake's first slot: a day-long window still
    // counts five slots.
    let earlier = with_locations("status")
        .args([
            "--since",
            &at(-96).rfc3339(),
            "--until",
            &at(5).rfc3339(),
            "--grace-minutes",
            "0",
        ])
        .output()
        .unwrap();
    assert!(
        text(&earlier).contains("since 2026-11-23T20:00:00Z: 5 slot(s) expected"),
        "{}",
        text(&earlier)
    );

    // The report puts the pipeline's health first, the missed slot named.
    let report = with_locations("report").output().unwrap();
    let printed = text(&report);
    assert!(report.status.success(), "{printed}");
    let health = printed.find("Pipeline health").expect("a health section");
    assert!(health < printed.find("Last 24 hours").unwrap(), "{printed}");
    assert!(
        printed.contains(&at(2).rfc3339()) && printed.contains("records quarantined"),
        "{printed}"
    );

    // Within the grace period, the same gap is pending, not yet a failure.
    let status = with_locations("status")
        .args(["--since", &at(3).rfc3339(), "--until", &at(4).rfc3339()])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", text(&status));
    assert!(text(&status).contains("pending"), "{}", text(&status));

    // Slot 0's streams loaded a second time (submitted again after Snowpipe's 14-day
    // load history forgot them): RAW holds them twice, which `status` names.
    let streams = manifests[0].file(Entity::Streams).unwrap().path.clone();
    {
        let mut warehouse =
            twitch_pipeline::warehouse::DuckDbWarehouse::open(&dir.path().join("warehouse.duckdb")).unwrap();
        use twitch_pipeline::warehouse::Warehouse;
        warehouse
            .execute(&format!(
                "insert into raw.raw_streams select raw_json, file_name, file_row_number, loaded_at + interval 15 day from raw.raw_streams where file_name = '{streams}'"
            ))
            .await
            .unwrap();
    }
    let status = with_locations("status")
        .args(["--since", &at(0).rfc3339(), "--until", &at(1).rfc3339()])
        .output()
        .unwrap();
    let out = text(&status);
    assert_eq!(status.status.code(), Some(1), "{out}");
    assert!(
        out.contains("DUPLICATED")
            && out.contains(&format!(
                "`{streams}`: 4 row(s) in RAW of 2 committed: loaded more than once"
            ))
            && out.contains("1 slot(s) DUPLICATED in RAW"),
        "{out}"
    );
}
