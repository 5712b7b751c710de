//! The Snowflake path, against fakesnow (Snowflake SQL on DuckDB) behind a launcher
//! that answers in JSON rowsets: key-pair login, the query tag, and every model and
//! test of the project built with `target.type` snowflake, to the same metrics.
//!
//! fakesnow is installed into `.tools/fakesnow` by `scripts/test`, which sets
//! `FAKESNOW_PYTHON`.

use std::path::Path;
use std::process::Command;

use crate::support::analytics;
use crate::support::fakesnow::{python, settings, spawn_fakesnow, spawn_fakesnow_where, spawn_fakesnow_with};
use crate::support::fixture::{game, stream, user};
use crate::support::*;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::Value;
use twitch_pipeline::lake::{Entity, Slot};
use twitch_pipeline::snowpipe::PipeState;
use twitch_pipeline::transform::{self, FreshnessStatus, Project, TransformOptions};
use twitch_pipeline::warehouse::{SnowflakeWarehouse, Warehouse};

/// The raw layer as snowflake-setup creates it, filled with `rows` per entity.
async fn raw_layer(warehouse: &mut SnowflakeWarehouse, rows: &[(Entity, Slot, Vec<String>)]) {
    warehouse.execute("create schema if not exists raw").await.unwrap();
    for entity in Entity::ALL {
        warehouse
            .execute(&format!(
                "create or replace table raw.raw_{} (raw_json variant, file_name varchar, file_row_number number, loaded_at timestamp_ntz)",
                entity.name()
            ))
            .await
            .unwrap();
    }
    for (entity, slot, lines) in rows {
        let loaded_at = (slot.time() + chrono::Duration::minutes(5))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string();
        insert_raw(warehouse, *entity, entity.data_path(*slot).as_ref(), &loaded_at, lines).await;
    }
}

#[tokio::test]
#[ignore = "needs fakesnow (scripts/test installs it)"]
async fn every_model_and_test_builds_on_snowflake_sql_with_the_same_metrics() {
    let python = python();
    // The pipeline's role cannot use the session's schema (as with `PUBLIC` of an
    // admin's database): every session has no current schema, so nothing the run
    // creates may go unqualified, its temporary tables included.
    let fakesnow = spawn_fakesnow_where(&python, &[], &["ANALYTICS"]).await;
    let mut warehouse = SnowflakeWarehouse::connect(&settings(fakesnow.port), "twitch-pipeline test run-1")
        .await
        .unwrap();
    assert!(
        fakesnow
            .lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l == "login QUERY_TAG=twitch-pipeline test run-1"),
        "the session carries the query tag: {:?}",
        fakesnow.lines.lock().unwrap()
    );

    let at = |n| slot().offset(n);
    let (alice, bob, carol) = (("u1", "alice"), ("u2", "bob"), ("u3", "carol"));
    let (one, two, none) = (("g1", "Game One"), ("g2", "Game Two"), ("", ""));
    raw_layer(
        &mut warehouse,
        &[
            (
                Entity::Streams,
                at(0),
                vec![
                    stream(at(0), "A", alice, one, "en", 100),
                    stream(at(0), "B", bob, none, "de", 10),
                ],
            ),
            (
                Entity::Streams,
                at(1),
                vec![
                    stream(at(1), "A", alice, one, "en", 200),
                    stream(at(1), "B", bob, none, "de", 30),
                    stream(at(1), "C", carol, two, "en", 50),
                ],
            ),
            (
                Entity::Streams,
                at(2),
                vec![
                    stream(at(2), "A", alice, two, "en", 300),
                    stream(at(2), "C", carol, two, "en", 70),
                ],
            ),
            (
                Entity::Streams,
                at(3),
                vec![stream(at(3), "A", ("u1", "alice2"), two, "en", 400)],
            ),
            (
                Entity::Users,
                at(0),
                vec![user(at(0), "u1", "alice", "affiliate"), user(at(0), "u2", "bob", "")],
            ),
            (Entity::Users, at(1), vec![user(at(1), "u3", "carol", "partner")]),
            (Entity::Games, at(0), vec![game(at(0), "g1", "Game One")]),
            (Entity::Games, at(2), vec![game(at(2), "g2", "Game Two")]),
        ],
    )
    .await;

    let project = Project::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    // The Function App's target: the production schemas; three nodes built at once,
    // each on a session of its own.
    let options = TransformOptions {
        check_freshness: true,
        target_name: Some("prod".into()),
        threads: 3,
        ..Default::default()
    };
    let mut problems = Vec::new();
    let report = transform::run(&project, &mut warehouse, &options, |step| {
        if !step.went_well() {
            problems.push(step.to_string());
        }
    })
    .await
    .unwrap();
    // The fixture is from 2026-11-23: the freshness check runs, and finds it stale.
    assert_eq!(report.freshness.len(), 1);
    assert_eq!(report.freshness[0].status, FreshnessStatus::Error);
    problems.retain(|p| !p.contains("freshness"));
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(report.nodes.len(), MODELS.len());
    assert_eq!(report.tests.len(), project.tests.len());
    let logins = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| *l == "login QUERY_TAG=twitch-pipeline test run-1")
            .count()
    };
    assert_eq!(
        logins(&fakesnow.lines.lock().unwrap()),
        3,
        "two more sessions, with the run's query tag"
    );

    // The same numbers the DuckDB build gives for this fixture (tests/transform.rs).
    assert_eq!(
        rows(&mut warehouse, "select stream_id, snapshots, peak_viewers, avg_viewers, hours_watched, hours_streamed, games_played from marts.fct_broadcasts order by stream_id").await,
        [
            ["A", "4", "400", "250", "250", "1", "2"],
            ["B", "2", "30", "20", "10", "0.5", "0"],
            ["C", "2", "70", "60", "30", "0.5", "1"],
        ]
    );
    assert_eq!(
        rows(&mut warehouse, "select game_id, hours_watched, hours_streamed, peak_viewers, avg_viewers, peak_channels, avg_channels, viewer_ratio from marts.agg_game_daily order by game_id").await,
        [
            ["g1", "75", "0.5", "200", "75", "1", "0.5", "150"],
            ["g2", "205", "1", "400", "205", "2", "1", "205"],
        ]
    );

    // A second run is incremental and changes nothing; its merges stage their rows in
    // temporary tables, on sessions that never created a schema (so have no current
    // one: only qualified names work there).
    let threaded = TransformOptions {
        threads: 3,
        ..TransformOptions::default()
    };
    let again = transform::run(&project, &mut warehouse, &threaded, |_| {})
        .await
        .unwrap();
    assert!(again.succeeded(), "{}", again.summary_line());
    assert_eq!(
        rows(&mut warehouse, "select count(*) from marts.fact_stream_snapshots").await,
        [["8"]]
    );
    assert_eq!(
        rows(&mut warehouse, "select count(*) from snapshots.snap_streamers").await,
        [["3"]]
    );
}

/// The analytics on complete days on Snowflake SQL: `analytics_world` loaded with its
/// 30 November noon slot late (after the days after it were counted), to the values
/// worked out by hand that DuckDB gives (tests/transform.rs).
#[tokio::test]
#[ignore = "needs fakesnow (scripts/test installs it)"]
async fn the_analytics_give_the_values_worked_out_by_hand_on_snowflake_sql() {
    let fakesnow = spawn_fakesnow(&python()).await;
    let mut warehouse = SnowflakeWarehouse::connect(&settings(fakesnow.port), "analytics")
        .await
        .unwrap();
    let mut world = analytics::analytics_world();
    let (late, late_streams) = world.remove(2);
    let on_time: Vec<_> = world
        .into_iter()
        .map(|(slot, streams)| (Entity::Streams, slot, streams))
        .collect();
    raw_layer(&mut warehouse, &on_time).await;
    let project = Project::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let prod = TransformOptions {
        check_freshness: false,
        target_name: Some("prod".into()),
        ..Default::default()
    };
    let first = transform::run(&project, &mut warehouse, &prod, |_| {}).await.unwrap();
    assert!(first.succeeded(), "{}", first.summary_line());
    // Loaded after the newest slot: within the staging tables' look-back window.
    insert_raw(
        &mut warehouse,
        Entity::Streams,
        Entity::Streams.data_path(late).as_ref(),
        "2026-12-02 00:20:00",
        &late_streams,
    )
    .await;
    let second = transform::run(&project, &mut warehouse, &prod, |_| {}).await.unwrap();
    assert!(second.succeeded(), "{}", second.summary_line());

    analytics::assert_expected(&mut warehouse, "marts").await;

    // The report and its site read them on Snowflake SQL too.
    let marts = transform::Marts::resolve(&project, &mut warehouse, "prod")
        .await
        .unwrap();
    let report = twitch_pipeline::report::build(&mut warehouse, &marts, 10)
        .await
        .unwrap();
    let (_dir, lake) = temp_lake();
    let site = tempfile::tempdir().unwrap();
    let written = twitch_pipeline::pipeline::write_site(
        &mut warehouse,
        &marts,
        &report,
        &[],
        &lake,
        Path::new(env!("CARGO_MANIFEST_DIR")),
        site.path(),
        "fakesnow",
        10,
        |_, _| {},
    )
    .await
    .unwrap();
    // Five pages, and one per channel and game the rankings' top 10 name: in every
    // period the same 10 channels lead (the crowd's 10 smallest never do), and all
    // 3 games.
    assert_eq!(written.pages, 5 + 10 + 3);
    let carol = std::fs::read_to_string(site.path().join("channel/u3.html")).unwrap();
    assert!(
        carol.contains("carol") && carol.contains("week of 2026-11-30"),
        "{carol}"
    );
}

/// An admin's session settings: the role infra/README.md runs `snowflake-setup` with.
fn admin(port: u16) -> twitch_pipeline::warehouse::SnowflakeSettings {
    let mut admin = settings(port);
    admin.role = Some("ACCOUNTADMIN".into());
    admin
}

/// `snowflake-setup` as an admin would run it, with the fake's address and a key.
fn setup_command(port: u16, dir: &Path, apply: bool) -> Command {
    let admin = admin(port);
    let service = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let key_file = dir.join("service.p8");
    std::fs::write(&key_file, service.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes()).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_twitch-pipeline"));
    snowflake_env(&mut command, &admin)
        .env("SNOWFLAKE_USER", "ADMIN")
        .env("SNOWFLAKE_ROLE", "ACCOUNTADMIN")
        .arg("snowflake-setup")
        .args([
            "--lake",
            "az://raw/twitch",
            "--storage-account",
            "lakeacct",
            "--azure-tenant-id",
            "tenant-1",
        ])
        .arg("--service-key")
        .arg(&key_file);
    if apply {
        command.arg("--apply");
    }
    command
}

/// fakesnow with what it cannot model (integrations, stages, roles, users and the
/// grants but on pipes) succeeding without effect; the pipes are the launcher's model
/// of Snowflake's (ownership, pause, force-resume, grants: `fakesnow_json.py`).
async fn setup_fakesnow(python: &Path) -> crate::support::fakesnow::FakeSnow {
    spawn_fakesnow_with(
        python,
        &[
            "^create storage integration",
            "^create stage",
            "^create role",
            "^create user",
            "^alter user",
            "^grant ",
        ],
    )
    .await
}

/// Each pipe's `executionState`, and the privileges `role` holds on it.
async fn pipes(warehouse: &mut SnowflakeWarehouse, role: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for pipe in ["RAW_STREAMS_PIPE", "RAW_USERS_PIPE", "RAW_GAMES_PIPE"] {
        let pipe = format!("TWITCH.RAW.{pipe}");
        let status = rows(warehouse, &format!("select system$pipe_status('{pipe}')")).await;
        let state: Value = serde_json::from_str(&status[0][0]).unwrap();
        let grants = rows(warehouse, &format!("show grants on pipe {pipe}")).await;
        let held: Vec<String> = grants
            .into_iter()
            .filter(|g| g[1] == role)
            .map(|g| g[0].clone())
            .collect();
        out.push((state["executionState"].as_str().unwrap().to_string(), held));
    }
    out
}

/// What fakesnow can hold of `snowflake-setup`: the printed script, each statement run
/// twice, the raw tables and the pipes (running, granted to the role). fakesnow has no
/// integrations, stages, roles or users, so those statements run without effect here
/// and nothing checks them; the Snowpipe emulator's tests check the pipes' grants.
#[tokio::test]
#[ignore = "needs fakesnow (scripts/test installs it)"]
async fn snowflake_setup_runs_every_statement_twice_and_leaves_its_tables_and_pipes_running() {
    let python = python();
    let fakesnow = setup_fakesnow(&python).await;
    let dir = tempfile::tempdir().unwrap();

    let printed = run(setup_command(fakesnow.port, dir.path(), false)).await;
    let script = String::from_utf8_lossy(&printed.stdout).to_string();
    assert!(
        printed.status.success(),
        "{script}{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    assert!(
        script.contains("create pipe if not exists TWITCH.RAW.RAW_STREAMS_PIPE auto_ingest = false"),
        "{script}"
    );
    assert!(
        script.contains("url = 'azure://lakeacct.blob.core.windows.net/raw/twitch/'"),
        "{script}"
    );
    assert!(
        script.contains("create user if not exists TWITCH_PIPELINE_SVC type = service"),
        "{script}"
    );
    let statements = script.matches(";\n").count();

    for attempt in 0..2 {
        let applied = run(setup_command(fakesnow.port, dir.path(), true)).await;
        let stdout = String::from_utf8_lossy(&applied.stdout).to_string();
        assert!(
            applied.status.success(),
            "attempt {attempt}: {stdout}{}",
            String::from_utf8_lossy(&applied.stderr)
        );
        assert_eq!(
            stdout.matches("ok: ").count(),
            statements,
            "every statement ran: {stdout}"
        );
        assert!(!stdout.contains("resumed: "), "nothing was paused: {stdout}");
    }
    let mut warehouse = SnowflakeWarehouse::connect(&admin(fakesnow.port), "check")
        .await
        .unwrap();
    let tables = rows(
        &mut warehouse,
        "select count(*) from information_schema.tables where table_schema = 'RAW'",
    )
    .await;
    assert_eq!(tables, [["3"]]);
    // Running, and the role may submit files and read the history.
    for (state, held) in pipes(&mut warehouse, "TWITCH_PIPELINE").await {
        assert_eq!(state, "RUNNING");
        assert_eq!(held, ["MONITOR", "OPERATE"]);
    }

    // `status` reads the pipes' state with the pipeline's role: running; one paused
    // is named; a role without MONITOR cannot read it, which is named too.
    let as_role = |role: &str| {
        let mut settings = settings(fakesnow.port);
        settings.role = Some(role.into());
        settings
    };
    let mut pipeline = SnowflakeWarehouse::connect(&as_role("TWITCH_PIPELINE"), "status")
        .await
        .unwrap();
    let states = twitch_pipeline::ingest::pipe_states(&mut pipeline, "TWITCH").await;
    assert!(states.values().all(|s| *s == PipeState::Running), "{states:?}");
    warehouse
        .execute("alter pipe TWITCH.RAW.RAW_USERS_PIPE set pipe_execution_paused = true")
        .await
        .unwrap();
    let states = twitch_pipeline::ingest::pipe_states(&mut pipeline, "TWITCH").await;
    assert_eq!(
        states[&Entity::Users],
        PipeState::Stopped {
            pipe: "TWITCH.RAW.RAW_USERS_PIPE".into(),
            state: "PAUSED".into(),
            error: None
        }
    );
    let mut stranger = SnowflakeWarehouse::connect(&as_role("ANALYST"), "status")
        .await
        .unwrap();
    let states = twitch_pipeline::ingest::pipe_states(&mut stranger, "TWITCH").await;
    assert!(
        matches!(&states[&Entity::Streams], PipeState::Unreadable { error, .. } if error.contains("does not exist or not authorized")),
        "{states:?}"
    );
}

#[tokio::test]
#[ignore = "needs fakesnow (scripts/test installs it)"]
async fn a_pipe_an_earlier_setup_handed_over_and_left_paused_is_resumed() {
    let python = python();
    let fakesnow = setup_fakesnow(&python).await;
    let dir = tempfile::tempdir().unwrap();
    let mut admin = SnowflakeWarehouse::connect(&admin(fakesnow.port), "earlier setup")
        .await
        .unwrap();
    // What the earlier version ran: pause, hand over, resume. Snowflake refuses the
    // resume after a change of owner, with this message, so the pipes stayed paused.
    let pipe = "TWITCH.RAW.RAW_STREAMS_PIPE";
    admin.execute("create database if not exists TWITCH").await.unwrap();
    admin.execute("create schema if not exists TWITCH.RAW").await.unwrap();
    for sql in [
        format!(
            "create pipe if not exists {pipe} auto_ingest = false as copy into TWITCH.RAW.RAW_STREAMS from @TWITCH.RAW.LAKE"
        ),
        format!("alter pipe {pipe} set pipe_execution_paused = true"),
        format!("grant ownership on pipe {pipe} to role TWITCH_PIPELINE copy current grants"),
    ] {
        admin.execute(&sql).await.unwrap();
    }
    let refused = admin
        .execute(&format!("alter pipe {pipe} set pipe_execution_paused = false"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("cannot be resumed as ownership had changed")
            && refused.contains(&format!("SYSTEM$PIPE_FORCE_RESUME('{pipe}')")),
        "{refused}"
    );
    // A hand-over of a running pipe is refused too.
    let users = "TWITCH.RAW.RAW_USERS_PIPE";
    admin
        .execute(&format!("create pipe if not exists {users} auto_ingest = false as copy into TWITCH.RAW.RAW_USERS from @TWITCH.RAW.LAKE"))
        .await
        .unwrap();
    let running = admin
        .execute(&format!("grant ownership on pipe {users} to role TWITCH_PIPELINE"))
        .await
        .unwrap_err()
        .to_string();
    assert!(running.contains("not in paused state"), "{running}");

    let applied = run(setup_command(fakesnow.port, dir.path(), true)).await;
    let stdout = String::from_utf8_lossy(&applied.stdout).to_string();
    assert!(
        applied.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    assert!(stdout.contains(&format!("resumed: {pipe} was paused")), "{stdout}");
    for (state, held) in pipes(&mut admin, "TWITCH_PIPELINE").await {
        assert_eq!(state, "RUNNING");
        assert!(held.contains(&"OPERATE".to_string()), "{held:?}");
    }
}

#[tokio::test]
#[ignore = "needs fakesnow (scripts/test installs it)"]
async fn a_late_visible_file_is_still_merged_on_snowflake_sql() {
    let project = Project::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let (_fakesnow, mut warehouse) = late_visible_file(&project, "prod", "marts", &[]).await;
    assert_eq!(schemas(&mut warehouse).await, ["MARTS", "RAW", "SNAPSHOTS", "STAGING"]);
}

/// A dev target builds and reads `<schema>_staging` and so on, incremental predicates
/// included: it never writes, nor reads, a production table.
#[tokio::test]
#[ignore = "needs fakesnow (scripts/test installs it)"]
async fn a_dev_target_builds_its_own_schemas_and_never_touches_production() {
    let project = Project::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let (_fakesnow, mut warehouse) = late_visible_file(&project, "dev", "analytics_marts", &[]).await;
    assert_eq!(
        schemas(&mut warehouse).await,
        ["ANALYTICS_MARTS", "ANALYTICS_SNAPSHOTS", "ANALYTICS_STAGING", "RAW"]
    );
}

/// The incremental predicates are qualified (`DBT_INTERNAL_DEST`), so they hold inside a
/// MERGE too: the project with its models that have predicates switched to `merge`,
/// the Snowflake adapter's default, gives the same tables.
#[tokio::test]
#[ignore = "needs fakesnow (scripts/test installs it)"]
async fn the_incremental_predicates_hold_inside_a_merge() {
    let dir = tempfile::tempdir().unwrap();
    copy_project(dir.path());
    let mut switched = Vec::new();
    for file in files_under(&dir.path().join("models")) {
        let text = std::fs::read_to_string(&file).unwrap();
        // The models with predicates (the daily aggregates replace whole days by a key
        // that is not unique, which only delete+insert does).
        if text.contains("incremental_predicates=") {
            switched.push(file.file_name().unwrap().to_string_lossy().into_owned());
            let merge = text.replace("incremental_strategy='delete+insert'", "incremental_strategy='merge'");
            std::fs::write(&file, merge).unwrap();
        }
    }
    switched.sort();
    assert_eq!(
        switched,
        [
            "fact_stream_snapshots.sql",
            "fct_broadcasts.sql",
            "stg_streams.sql",
            "stg_users.sql"
        ]
    );
    let project = Project::load(dir.path()).unwrap();
    // fakesnow cannot MERGE inside a transaction: it records table metadata in a second
    // DuckDB database, and a DuckDB transaction writes to one database only. The
    // transaction is not what this test checks, so it runs without one.
    let no_transaction = ["(?i)^begin transaction$", "(?i)^commit$"];
    late_visible_file(&project, "prod", "marts", &no_transaction).await;
}

/// The schemas holding tables or views.
async fn schemas(warehouse: &mut SnowflakeWarehouse) -> Vec<String> {
    rows(
        warehouse,
        "select distinct table_schema from information_schema.tables \
         where table_schema <> 'INFORMATION_SCHEMA' order by 1",
    )
    .await
    .into_iter()
    .map(|row| row[0].clone())
    .collect()
}

/// Slot 2 is transformed, then slots 1 and 0 become visible with older load times;
/// `project` built for `target_name` must merge each once, into `marts`. fakesnow
/// (statements matching `nops` succeed without effect) runs while the first is kept.
async fn late_visible_file(
    project: &Project,
    target_name: &str,
    marts: &str,
    nops: &[&str],
) -> (crate::support::fakesnow::FakeSnow, SnowflakeWarehouse) {
    let python = python();
    let fakesnow = spawn_fakesnow_with(&python, nops).await;
    let mut warehouse = SnowflakeWarehouse::connect(&settings(fakesnow.port), "late")
        .await
        .unwrap();
    raw_layer(&mut warehouse, &[]).await;
    let at = |n| slot().offset(n);
    let streams = |slot: Slot, viewers: i64| {
        vec![
            stream(slot, "A", ("u1", "alice"), ("g1", "Game One"), "en", viewers),
            stream(slot, "B", ("u2", "bob"), ("g1", "Game One"), "de", viewers / 10),
        ]
    };
    let options = TransformOptions {
        target_name: Some(target_name.into()),
        ..Default::default()
    };
    let run = async |warehouse: &mut SnowflakeWarehouse| {
        let mut problems = Vec::new();
        let report = transform::run(project, warehouse, &options, |step| {
            if !step.went_well() {
                problems.push(step.to_string());
            }
        })
        .await
        .unwrap();
        assert!(report.succeeded(), "{}: {problems:#?}", report.summary_line());
    };
    insert_raw(
        &mut warehouse,
        Entity::Streams,
        "streams/s2.ndjson.gz",
        "2026-11-23 21:10:00",
        &streams(at(2), 300),
    )
    .await;
    run(&mut warehouse).await;
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
    run(&mut warehouse).await;
    run(&mut warehouse).await;
    assert_eq!(
        rows(
            &mut warehouse,
            &format!("select count(*) from {marts}.fact_stream_snapshots")
        )
        .await,
        [["6"]]
    );
    assert_eq!(
        rows(
            &mut warehouse,
            &format!("select stream_id, snapshots, peak_viewers from {marts}.fct_broadcasts order by stream_id")
        )
        .await,
        [["A", "3", "300"], ["B", "3", "30"]]
    );
    assert_eq!(
        rows(
            &mut warehouse,
            &format!("select hours_watched, peak_viewers from {marts}.agg_game_daily")
        )
        .await,
        [["165", "330"]]
    );
    (fakesnow, warehouse)
}

/// `raw.people` (id, name, updated_at), holding keys 1 and 2.
async fn people(warehouse: &mut SnowflakeWarehouse) {
    for sql in [
        "create schema if not exists raw",
        "create table raw.people (id number, name varchar, updated_at timestamp_ntz)",
        "insert into raw.people values (1, 'a', '2026-01-01'), (2, 'b', '2026-01-01')",
    ] {
        warehouse.execute(sql).await.unwrap();
    }
}

/// A run of `project` that must succeed.
async fn run_succeeds(project: &Project, warehouse: &mut SnowflakeWarehouse) {
    let report = transform::run(project, warehouse, &TransformOptions::default(), |_| {})
        .await
        .unwrap();
    assert!(report.succeeded(), "{}: {:?}", report.summary_line(), report.nodes);
}

/// On Snowflake SQL, `hard_deletes` and `dbt_valid_to_current` (cross-checked against
/// dbt on DuckDB in tests/dbt_crosscheck.rs): key 2 goes, then comes back newer.
/// `invalidate` closes its row and opens a new one on its return; `new_record` also
/// opens a deletion record, which the return closes; current rows of `recorded` end
/// at 9999-12-31, not NULL. Then a column new to the source joins the snapshots; the
/// check strategy counts it as a change.
#[tokio::test]
#[ignore = "needs fakesnow (scripts/test installs it)"]
async fn snapshots_close_and_record_deleted_keys_on_snowflake_sql() {
    let python = python();
    let fakesnow = spawn_fakesnow(&python).await;
    let mut warehouse = SnowflakeWarehouse::connect(&settings(fakesnow.port), "snapshots")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    snapshot_project(
        dir.path(),
        "target_schema='history', unique_key='id'",
        &[
            (
                "invalidated",
                "strategy='timestamp', updated_at='updated_at', hard_deletes='invalidate'",
            ),
            (
                "recorded",
                "strategy='timestamp', updated_at='updated_at', hard_deletes='new_record', \
                 dbt_valid_to_current=\"to_timestamp_ntz('9999-12-31')\"",
            ),
            ("checked", "strategy='check', check_cols='all'"),
        ],
    );
    let project = Project::load(dir.path()).unwrap();
    people(&mut warehouse).await;
    let run = async |warehouse: &mut SnowflakeWarehouse| run_succeeds(&project, warehouse).await;
    run(&mut warehouse).await;
    warehouse.execute("delete from raw.people where id = 2").await.unwrap();
    run(&mut warehouse).await;
    let count = async |warehouse: &mut SnowflakeWarehouse, name: &str, condition: &str| {
        rows(
            warehouse,
            &format!("select count(*) from history.{name} where {condition}"),
        )
        .await[0][0]
            .clone()
    };
    assert_eq!(
        count(&mut warehouse, "invalidated", "id = 2 and dbt_valid_to is not null").await,
        "1"
    );
    assert_eq!(count(&mut warehouse, "recorded", "dbt_is_deleted = 'True'").await, "1");
    // The deletion record opens when key 2's last row closes.
    assert_eq!(
        count(
            &mut warehouse,
            "recorded",
            "id = 2 and dbt_is_deleted = 'False' and dbt_valid_to = \
             (select dbt_valid_from from history.recorded where dbt_is_deleted = 'True')"
        )
        .await,
        "1"
    );
    warehouse
        .execute("insert into raw.people values (2, 'B', '2026-01-03')")
        .await
        .unwrap();
    run(&mut warehouse).await;
    run(&mut warehouse).await;
    // invalidate: 1; 2 (b closed, B). new_record: 1; 2 (b, its deletion record closed
    // by B's time, B); the current rows end at 9999-12-31.
    assert_eq!(count(&mut warehouse, "invalidated", "true").await, "3");
    assert_eq!(count(&mut warehouse, "invalidated", "dbt_valid_to is null").await, "2");
    assert_eq!(count(&mut warehouse, "recorded", "true").await, "4");
    assert_eq!(
        count(
            &mut warehouse,
            "recorded",
            "dbt_is_deleted = 'True' and dbt_valid_to = to_timestamp_ntz('2026-01-03')"
        )
        .await,
        "1"
    );
    assert_eq!(
        count(
            &mut warehouse,
            "recorded",
            "dbt_valid_to = to_timestamp_ntz('9999-12-31') and dbt_is_deleted = 'False'"
        )
        .await,
        "2"
    );

    // A column new to the source is added to the snapshots, as dbt adds it.
    for sql in [
        "alter table raw.people add column city varchar",
        "update raw.people set city = 'x', updated_at = '2026-01-04' where id = 1",
    ] {
        warehouse.execute(sql).await.unwrap();
    }
    run(&mut warehouse).await;
    for name in ["invalidated", "recorded"] {
        assert_eq!(
            count(&mut warehouse, name, "id = 1 and city = 'x'").await,
            "1",
            "{name}"
        );
    }
}

/// `on_schema_change='append_new_columns'` on Snowflake SQL: the new column's type is
/// read with `describe table` from the temporary table of new rows, as dbt-snowflake
/// reads it, and the column is added before the rows are merged.
#[tokio::test]
#[ignore = "needs fakesnow (scripts/test installs it)"]
async fn an_incremental_model_gains_a_new_column_on_snowflake_sql() {
    let python = python();
    let fakesnow = spawn_fakesnow(&python).await;
    let mut warehouse = SnowflakeWarehouse::connect(&settings(fakesnow.port), "widened")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_project(
        dir.path(),
        &[
            (
                "dbt_project.yml",
                "name: widened\nversion: \"1.0.0\"\nconfig-version: 2\nprofile: twitch_pipeline\n",
            ),
            PEOPLE_SOURCE,
            (
                "models/widened.sql",
                "{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='id', \
                 on_schema_change='append_new_columns') }}\n\
                 select * from {{ source('raw', 'people') }}\n\
                 {% if is_incremental() %} where updated_at > (select max(updated_at) from {{ this }}) {% endif %}",
            ),
        ],
    );
    let project = Project::load(dir.path()).unwrap();
    people(&mut warehouse).await;
    let run = async |warehouse: &mut SnowflakeWarehouse| run_succeeds(&project, warehouse).await;
    run(&mut warehouse).await;
    for sql in [
        "alter table raw.people add column city varchar",
        "insert into raw.people values (3, 'c', '2026-01-02', 'x')",
        "update raw.people set city = 'y', updated_at = '2026-01-02' where id = 1",
    ] {
        warehouse.execute(sql).await.unwrap();
    }
    run(&mut warehouse).await;
    assert_eq!(
        rows(
            &mut warehouse,
            "select id, coalesce(city, '-') from widened order by id"
        )
        .await,
        [["1", "y"], ["2", "-"], ["3", "x"]]
    );
}
