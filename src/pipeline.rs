//! The stages composed: what the CLI, the demo and (later) the Functions routes call.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;

#[cfg(feature = "duckdb")]
use crate::config::LoadSettings;
use crate::config::{ExtractSettings, TwitchSettings};
use crate::config::{TransformSettings, WarehouseTarget};
use crate::extract::{ExtractOptions, ExtractOutcome, extract_slot};
use crate::lake::{Entity, Lake, LakeUrl, Manifest, Slot};
use crate::simulator::{self, SimClock, SimulatorConfig};
use crate::twitch::{ClientOptions, HelixClient};
use crate::warehouse::{AnyWarehouse, SnowflakeWarehouse};

/// Extracts one slot as configured: the given slot, or the current one.
pub async fn extract(settings: &ExtractSettings) -> anyhow::Result<ExtractOutcome> {
    let lake = Lake::open(&settings.lake)?;
    let client = connect(&settings.twitch).await?;
    let slot = settings.slot.unwrap_or_else(|| Slot::containing(Utc::now()));
    let options = ExtractOptions {
        max_streams: settings.max_streams,
        deadline: settings.deadline,
        lookup_max_age: settings.lookup_max_age,
        ..ExtractOptions::default()
    };
    Ok(extract_slot(client, &lake, slot, &options).await?)
}

/// A Helix client with a validated app token.
pub async fn connect(twitch: &TwitchSettings) -> anyhow::Result<Arc<HelixClient>> {
    let client = HelixClient::connect(twitch, ClientOptions::default())
        .await
        .with_context(|| format!("cannot start a Twitch session at {}", twitch.auth_url))?;
    Ok(Arc::new(client))
}

/// The one-line summary of a run, as the CLI prints it.
pub fn summary_line(outcome: &ExtractOutcome) -> String {
    match outcome {
        ExtractOutcome::AlreadyExtracted(slot) => format!("slot {slot} already extracted; nothing to do"),
        ExtractOutcome::Extracted(m) => {
            let rows = |entity| m.file(entity).map_or(0, |f| f.rows);
            format!(
                "slot {}: {} streams, {} users, {} games, {} pages, {} duplicates dropped, {} retries, {:.1} s",
                m.slot,
                rows(Entity::Streams),
                rows(Entity::Users),
                rows(Entity::Games),
                m.pages,
                m.duplicates_dropped,
                m.retries,
                m.seconds_total
            )
        }
    }
}

/// Opens the warehouse the settings name. On Snowflake every query of the session is
/// tagged `twitch-pipeline COMMAND RUN-ID`, so one run's queries can be found.
pub async fn open_warehouse(target: &WarehouseTarget, command: &str) -> anyhow::Result<AnyWarehouse> {
    match target {
        #[cfg(feature = "duckdb")]
        WarehouseTarget::DuckDb(path) => Ok(AnyWarehouse::DuckDb(crate::warehouse::DuckDbWarehouse::open(path)?)),
        #[cfg(not(feature = "duckdb"))]
        WarehouseTarget::DuckDb(_) => {
            anyhow::bail!("this build has no embedded DuckDB (cargo feature `duckdb`); use --warehouse snowflake")
        }
        WarehouseTarget::Snowflake(settings) => {
            let tag = format!("twitch-pipeline {command} {}", run_id());
            Ok(AnyWarehouse::Snowflake(
                SnowflakeWarehouse::connect(settings, &tag).await?,
            ))
        }
    }
}

/// A run's id: its start time and a random suffix, unique enough to search logs by.
pub fn run_id() -> String {
    format!("{}-{:08x}", Utc::now().format("%Y%m%dT%H%M%SZ"), rand::random::<u32>())
}

/// Loads every committed lake file not loaded yet into the embedded warehouse.
#[cfg(feature = "duckdb")]
pub async fn load(settings: &LoadSettings) -> anyhow::Result<crate::load::LoadSummary> {
    let lake = Lake::open(&settings.lake)?;
    let mut warehouse = crate::warehouse::DuckDbWarehouse::open(&settings.warehouse)?;
    Ok(crate::load::load_lake(&lake, &mut warehouse).await?)
}

/// Builds the project's models and runs its tests; `on_step` sees each result.
pub async fn transform(
    settings: &TransformSettings,
    on_step: impl FnMut(&crate::transform::Step),
) -> anyhow::Result<crate::transform::RunReport> {
    let project = crate::transform::Project::load(&settings.project)?;
    let mut warehouse = open_warehouse(&settings.warehouse, "transform").await?;
    Ok(crate::transform::run(&project, &mut warehouse, &settings.options, on_step).await?)
}

/// The terminal report over the marts.
pub async fn report(warehouse: &WarehouseTarget, top: usize) -> anyhow::Result<String> {
    let mut warehouse = open_warehouse(warehouse, "report").await?;
    let sections = crate::report::build(&mut warehouse, top)
        .await
        .context("cannot read the marts; run `twitch-pipeline transform` first")?;
    Ok(crate::report::render(&sections))
}

/// Options of the local demo.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub slots: u32,
    pub streams: usize,
    pub data_dir: PathBuf,
    pub seed: u64,
    /// The dbt project the transform builds (the folder with dbt_project.yml).
    pub project_dir: PathBuf,
}

/// Runs the pipeline locally against the built-in simulator: no account needed.
/// Extracts the slots into DATA/lake, loads them into DATA/warehouse.duckdb and builds
/// the models there.
///
/// Slots follow each other on a simulated clock, so nothing waits for real time. A
/// new lake ends at the current slot; a rerun continues after the newest committed
/// slot, extending the same world.
pub async fn demo(
    options: &DemoOptions,
    mut on_slot: impl FnMut(&Manifest),
    on_step: impl FnMut(&crate::transform::Step),
) -> anyhow::Result<DemoRun> {
    let lake_url = LakeUrl::Local(options.data_dir.join("lake"));
    let lake = Lake::open(&lake_url)?;
    let first = match lake.committed_slots().await?.last() {
        Some(newest) => newest.offset(1),
        None => Slot::containing(Utc::now()).offset(1 - i64::from(options.slots)),
    };
    let clock = SimClock::manual(first.time());
    let config = SimulatorConfig {
        seed: options.seed,
        streams: options.streams,
        // The simulator is local: Helix's limit would only slow the demo down.
        rate_limit: None,
        clock: clock.clone(),
        ..SimulatorConfig::default()
    };
    let sim = simulator::spawn(config)
        .await
        .context("cannot start the Helix simulator")?;
    let twitch = TwitchSettings {
        client_id: simulator::DEFAULT_CLIENT_ID.into(),
        client_secret: simulator::DEFAULT_CLIENT_SECRET.into(),
        api_url: sim.api_url().parse()?,
        auth_url: sim.auth_url().parse()?,
    };
    let client = connect(&twitch).await?;
    let mut manifests = Vec::new();
    for i in 0..options.slots {
        let slot = first.offset(i64::from(i));
        clock.set(slot.time());
        match extract_slot(client.clone(), &lake, slot, &ExtractOptions::default()).await? {
            ExtractOutcome::Extracted(manifest) => {
                on_slot(&manifest);
                manifests.push(*manifest);
            }
            ExtractOutcome::AlreadyExtracted(_) => {}
        }
    }
    sim.stop().await;

    let database = options.data_dir.join("warehouse.duckdb");
    let warehouse = WarehouseTarget::DuckDb(database.clone());
    #[cfg(feature = "duckdb")]
    let (load, transform) = {
        let settings = LoadSettings {
            lake: lake_url.clone(),
            warehouse: database,
        };
        let started = std::time::Instant::now();
        let load = load(&settings).await?.line(started.elapsed().as_secs_f64());
        let settings = TransformSettings {
            warehouse: warehouse.clone(),
            project: options.project_dir.clone(),
            options: crate::transform::TransformOptions {
                check_freshness: true,
                ..Default::default()
            },
        };
        (load, Some(transform(&settings, on_step).await?))
    };
    #[cfg(not(feature = "duckdb"))]
    let (load, transform) = {
        let _ = (on_step, database);
        (
            "load and transform skipped: this build has no embedded warehouse (cargo feature `duckdb`)".to_string(),
            None,
        )
    };
    Ok(DemoRun {
        manifests,
        load,
        transform,
        warehouse,
    })
}

/// What the demo did.
#[derive(Debug)]
pub struct DemoRun {
    /// One manifest per slot extracted by this run.
    pub manifests: Vec<Manifest>,
    /// The load's one-line summary.
    pub load: String,
    /// The transform's results, when this build has the embedded warehouse.
    pub transform: Option<crate::transform::RunReport>,
    /// Where the demo's warehouse is.
    pub warehouse: WarehouseTarget,
}
