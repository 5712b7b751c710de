//! Shared test helpers: a simulator on a free port, a temporary lake, readers.
#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod analytics;
pub mod azurite;
pub mod failing_store;
pub mod fake_snowpipe;
pub mod fakesnow;
pub mod fixture;
pub mod handler;
/// The runner crate's test helpers (dbt on a DuckDB file, small projects on disk):
/// one copy for both crates' tests.
#[path = "../../crates/dbt-runner/tests/support.rs"]
pub mod runner;
pub mod snowpipe_emulator;
pub mod tools;

#[allow(unused_imports, reason = "each test binary and bench uses a different subset")]
pub use runner::{PEOPLE_SOURCE, dbt_command, rows, run, snapshot_project, write_project};

use std::collections::HashSet;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use twitch_pipeline::extract::{ExtractError, ExtractOptions, ExtractOutcome, extract_slot};
use twitch_pipeline::lake::{Entity, EntityFile, Lake, LakeUrl, Manifest, Slot};
use twitch_pipeline::simulator::{self, RunningSimulator, SimClock, SimulatorConfig};
use twitch_pipeline::twitch::TwitchSettings;
use twitch_pipeline::twitch::{Backoff, ClientOptions, HelixClient};

/// Every relation the repository's dbt project builds.
pub const MODELS: [&str; 23] = [
    "main_staging.stg_streams",
    "main_staging.stg_users",
    "main_staging.stg_games",
    "main_snapshots.snap_streamers",
    "main_snapshots.snap_games",
    "main_marts.streamer_activity",
    "main_marts.dim_streamers",
    "main_marts.dim_games",
    "main_marts.fact_stream_snapshots",
    "main_marts.fct_broadcasts",
    "main_marts.agg_streamer_daily",
    "main_marts.agg_game_daily",
    "main_marts.agg_language_daily",
    "main_staging.stg_user_versions",
    // Built on complete days (models/macros/periods.sql): empty until a day completes.
    "main_marts.agg_channel_game_daily",
    "main_marts.platform_daily",
    "main_marts.concentration_daily",
    "main_marts.game_saturation_daily",
    "main_marts.rank_streamers",
    "main_marts.rank_games",
    "main_marts.rank_languages",
    "main_marts.schedule_hour_of_week",
    "main_marts.streamer_last_30_days",
];

/// The models built on complete UTC days (models/macros/periods.sql), empty until a
/// day completes: the last of MODELS.
pub fn analytics_models() -> &'static [&'static str] {
    let first = MODELS
        .iter()
        .position(|m| *m == "main_marts.agg_channel_game_daily")
        .expect("the first analytics model is in MODELS");
    &MODELS[first..]
}

pub fn slot() -> Slot {
    "2026-11-23T20:00:00Z".parse().unwrap()
}

/// A world of `streams` live streams with `faults` on, no rate limit, and slow
/// responses slow enough to hit the test client's timeout.
pub fn world(streams: usize, faults: &[twitch_pipeline::simulator::Fault]) -> SimulatorConfig {
    let mut faults = twitch_pipeline::simulator::Faults::with(faults.iter().copied());
    faults.slow_delay = Duration::from_millis(1_500);
    SimulatorConfig {
        seed: 42,
        streams,
        rate_limit: None,
        faults,
        ..SimulatorConfig::default()
    }
}

/// A simulator serving `slot()` on a free port.
pub async fn spawn_sim(config: SimulatorConfig) -> RunningSimulator {
    let config = SimulatorConfig {
        clock: SimClock::manual(slot().time()),
        ..config
    };
    simulator::spawn(config).await.expect("simulator starts")
}

pub fn twitch_settings(sim: &RunningSimulator) -> TwitchSettings {
    TwitchSettings {
        client_id: simulator::DEFAULT_CLIENT_ID.into(),
        client_secret: simulator::DEFAULT_CLIENT_SECRET.into(),
        api_url: sim.api_url().parse().unwrap(),
        auth_url: sim.auth_url().parse().unwrap(),
    }
}

/// Client options for tests: short timeouts and backoff, so faults cost milliseconds.
pub fn fast_client() -> ClientOptions {
    ClientOptions {
        request_timeout: Duration::from_millis(700),
        backoff: Backoff {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(50),
            max_retries: 6,
        },
        rate_limit_patience: Duration::from_secs(3),
    }
}

pub async fn connect(sim: &RunningSimulator) -> Arc<HelixClient> {
    Arc::new(
        HelixClient::connect(&twitch_settings(sim), fast_client())
            .await
            .expect("client connects"),
    )
}

pub fn temp_lake() -> (tempfile::TempDir, Lake) {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&LakeUrl::Local(dir.path().join("lake"))).unwrap();
    (dir, lake)
}

pub async fn extract(
    client: Arc<HelixClient>,
    lake: &Lake,
    slot: Slot,
    options: &ExtractOptions,
) -> Result<ExtractOutcome, ExtractError> {
    extract_slot(client, lake, slot, options).await
}

/// Extracts consecutive slots `slot() + n` for each `n` in `offsets`, moving the
/// simulator's clock to each first, and returns their manifests.
pub async fn extract_slots(
    sim: &RunningSimulator,
    client: &Arc<HelixClient>,
    lake: &Lake,
    offsets: std::ops::Range<i64>,
) -> Vec<Manifest> {
    let mut manifests = Vec::new();
    for n in offsets {
        let at = slot().offset(n);
        sim.simulator.config().clock.set(at.time());
        manifests.push(manifest_of(
            extract(client.clone(), lake, at, &ExtractOptions::default())
                .await
                .unwrap(),
        ));
    }
    manifests
}

pub fn manifest_of(outcome: ExtractOutcome) -> Manifest {
    match outcome {
        ExtractOutcome::Extracted(manifest) => *manifest,
        other => panic!("expected an extraction, got {other:?}"),
    }
}

/// Every line of a gzip NDJSON object, parsed.
pub async fn read_ndjson(lake: &Lake, path: &str) -> Vec<serde_json::Value> {
    let bytes = lake
        .store()
        .get(&Path::from(path))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect()
}

/// Every record of `entity` in a committed slot.
pub async fn records(lake: &Lake, manifest: &Manifest, entity: Entity) -> Vec<serde_json::Value> {
    read_ndjson(lake, &manifest.file(entity).unwrap().path).await
}

pub fn ids(records: &[serde_json::Value]) -> HashSet<String> {
    records.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

/// Every object path in the lake.
pub async fn lake_paths(lake: &Lake) -> Vec<String> {
    let mut paths: Vec<String> = lake
        .store()
        .list(None)
        .map_ok(|o| o.location.to_string())
        .try_collect()
        .await
        .unwrap();
    paths.sort();
    paths
}

/// A free loopback port for a server a test starts as a child process.
///
/// A port from `bind(0)`, released for the child to bind, can be handed to another
/// test's server or connection first (seen in CI: Azurite could not bind it and
/// exited, and the container's creation was refused). So ports come from below the
/// kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`), where
/// `bind(0)` and outgoing connections never land, each at most once per test binary,
/// from a start that differs by process; one still bound elsewhere is skipped.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static HANDED_OUT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 10_000;
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let span = ephemeral_start.saturating_sub(LOW).max(1_000);
    let start = std::process::id() % span;
    loop {
        let n = HANDED_OUT.fetch_add(1, Ordering::Relaxed);
        assert!(n < span, "no free port left below the ephemeral range");
        let port = u16::try_from(LOW + (start + n) % span).expect("below the ephemeral range");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The real binary as `serve`, the custom handler, on `port`.
/// The binary the tests run: this build's, or the one `TWITCH_PIPELINE_BIN` names
/// (`scripts/test` runs the handler's tests against the deploy package's musl binary).
pub fn pipeline_binary() -> std::path::PathBuf {
    std::env::var_os("TWITCH_PIPELINE_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_twitch-pipeline").into())
}

pub fn serve_command(port: u16) -> std::process::Command {
    let mut command = std::process::Command::new(pipeline_binary());
    command
        .arg("serve")
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("TRANSFORM_PROJECT_DIR", env!("CARGO_MANIFEST_DIR"));
    command
}

/// `serve` on `port` with a local lake and DuckDB in `dir`, and placeholder Twitch
/// credentials.
pub fn local_serve_command(port: u16, dir: &std::path::Path) -> std::process::Command {
    let mut command = serve_command(port);
    command
        .env("TWITCH_CLIENT_ID", "id")
        .env("TWITCH_CLIENT_SECRET", "secret")
        .env("LAKE_URL", dir.join("lake"))
        .env(
            "WAREHOUSE_URL",
            format!("duckdb:{}", dir.join("warehouse.duckdb").display()),
        );
    command
}

/// Waits until the `serve` process `child` answers `GET url`; fails with its stderr
/// (when piped) if it exits first, or once `within` has passed.
pub async fn wait_for_serve(child: &mut std::process::Child, url: &str, within: Duration) {
    let started = std::time::Instant::now();
    while reqwest::get(url).await.is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            if let Some(pipe) = child.stderr.as_mut() {
                std::io::Read::read_to_string(pipe, &mut stderr).unwrap();
            }
            panic!("serve exited ({status}) before answering:\n{stderr}");
        }
        assert!(
            started.elapsed() < within,
            "serve did not answer {url} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Gives `command` the Snowflake settings in `settings`, as `SNOWFLAKE_*` variables.
pub fn snowflake_env<'c>(
    command: &'c mut std::process::Command,
    settings: &twitch_pipeline::warehouse::SnowflakeSettings,
) -> &'c mut std::process::Command {
    use secrecy::ExposeSecret;
    command
        .env("SNOWFLAKE_ACCOUNT", &settings.account)
        .env("SNOWFLAKE_USER", &settings.user)
        .env("SNOWFLAKE_PRIVATE_KEY", settings.private_key.expose_secret())
        .env("SNOWFLAKE_WAREHOUSE", &settings.warehouse)
        .env("SNOWFLAKE_DATABASE", &settings.database)
        .env("SNOWFLAKE_URL", settings.base_url.as_ref().unwrap().as_str())
}

/// Commits a slot by hand, as extraction would: each entity's file with its lines,
/// then the manifest listing them.
pub async fn commit_slot(lake: &Lake, slot: Slot, files: &[(Entity, &[&str])]) -> Manifest {
    let mut listed = Vec::new();
    for (entity, lines) in files {
        let mut writer = lake.writer_at(entity.data_path(slot));
        for line in *lines {
            writer.write_line(line.as_bytes()).await.unwrap();
        }
        let file = writer.finish().await.unwrap();
        listed.push(EntityFile {
            entity: *entity,
            path: file.path.to_string(),
            rows: file.rows,
            bytes: file.bytes,
        });
    }
    let manifest = Manifest {
        slot,
        started_at: Utc::now(),
        finished_at: Utc::now(),
        files: listed,
        run: String::new(),
        pages: 1,
        duplicates_dropped: 0,
        stop_reason: "every partition read to its end".into(),
        listing_complete: true,
        incomplete_reason: None,
        partitions: Vec::new(),
        filter_ignored: None,
        languages_outside_partitions: Vec::new(),
        passes: 1,
        found_by_rereads: 0,
        started_during_run: 0,
        reread_users: 0,
        reread_failure: None,
        users_skipped_fresh: 0,
        games_skipped_fresh: 0,
        users_missing: 0,
        games_missing: 0,
        users_not_looked_up: Vec::new(),
        games_not_looked_up: Vec::new(),
        lookup_failures: Vec::new(),
        quarantined: 0,
        quarantine_files: Vec::new(),
        retries: 0,
        requests: 0,
        points: 0,
        latency_ms_p50: 0.0,
        latency_ms_p95: 0.0,
        seconds_streams: 0.0,
        seconds_total: 0.0,
        extractor_version: "test".into(),
    };
    lake.commit(&manifest).await.unwrap();
    manifest
}

/// Raw rows of `file`, loaded at `loaded_at` (`YYYY-MM-DD HH:MM:SS`), as a loader
/// leaves them: the local load (JSON as text) or a pipe's COPY (a VARIANT).
pub async fn insert_raw<W: twitch_pipeline::warehouse::Warehouse>(
    warehouse: &mut W,
    entity: Entity,
    file: &str,
    loaded_at: &str,
    lines: &[String],
) {
    insert_raw_from(warehouse, entity, file, loaded_at, 1, lines).await
}

/// `insert_raw` of a part of a file whose first line here is line `first_row` of the
/// file: one of the transactions Snowpipe may commit a file in.
pub async fn insert_raw_from<W: twitch_pipeline::warehouse::Warehouse>(
    warehouse: &mut W,
    entity: Entity,
    file: &str,
    loaded_at: &str,
    first_row: usize,
    lines: &[String],
) {
    let snowflake = warehouse.dialect() == twitch_pipeline::warehouse::Dialect::Snowflake;
    for (row, line) in lines.iter().enumerate() {
        let text = format!("'{}'", line.replace('\'', "''"));
        let json = if snowflake { format!("parse_json({text})") } else { text };
        warehouse
            .execute(&format!(
                "insert into raw.raw_{} select {json}, '{file}', {}, cast('{loaded_at}' as timestamp)",
                entity.name(),
                row + first_row
            ))
            .await
            .unwrap();
    }
}

/// `command` with the simulator as Twitch, and the simulator's own app credentials.
pub fn sim_env<'c>(command: &'c mut std::process::Command, sim: &RunningSimulator) -> &'c mut std::process::Command {
    command
        .env("TWITCH_CLIENT_ID", simulator::DEFAULT_CLIENT_ID)
        .env("TWITCH_CLIENT_SECRET", simulator::DEFAULT_CLIENT_SECRET)
        .env("TWITCH_API_URL", sim.api_url())
        .env("TWITCH_AUTH_URL", sim.auth_url())
}

/// The median of `values` (the upper one of an even count), for benches' repeated runs.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A transform's `n` slowest models and tests, slowest first, for where its time goes.
pub fn slowest_steps(report: &twitch_pipeline::transform::RunReport, n: usize) -> String {
    let mut steps: Vec<(f64, String)> = report
        .nodes
        .iter()
        .map(|node| (node.seconds, node.name.0.clone()))
        .chain(report.tests.iter().map(|t| (t.seconds, format!("test {}", t.name))))
        .collect();
    steps.sort_by(|a, b| b.0.total_cmp(&a.0));
    let top: Vec<String> = steps
        .iter()
        .take(n)
        .map(|(s, name)| format!("{name} {s:.3} s"))
        .collect();
    top.join(", ")
}

/// Copies the project (dbt_project.yml and models/) into `to`, to be edited there.
pub fn copy_project(to: &std::path::Path) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(root.join("dbt_project.yml"), to.join("dbt_project.yml")).unwrap();
    for file in files_under(&root.join("models")) {
        let copy = to.join(file.strip_prefix(root).unwrap());
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(&file, &copy).unwrap();
    }
}

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The embedded DuckDB at `path` with the pipeline's raw tables, as `load` makes them.
#[cfg(feature = "duckdb")]
pub async fn duckdb_with_raw(path: &std::path::Path) -> twitch_pipeline::warehouse::DuckDbWarehouse {
    let mut warehouse = twitch_pipeline::warehouse::DuckDbWarehouse::open(path).unwrap();
    twitch_pipeline::load::create_raw_layer(&mut warehouse).await.unwrap();
    warehouse
}

/// An in-memory DuckDB with the pipeline's raw tables, as `load` makes them.
#[cfg(feature = "duckdb")]
pub async fn duckdb_in_memory_with_raw() -> twitch_pipeline::warehouse::DuckDbWarehouse {
    let mut warehouse = twitch_pipeline::warehouse::DuckDbWarehouse::in_memory().unwrap();
    twitch_pipeline::load::create_raw_layer(&mut warehouse).await.unwrap();
    warehouse
}
