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

/// The report's figures, from the marts.
pub async fn report(warehouse: &WarehouseTarget, top: usize) -> anyhow::Result<crate::report::Report> {
    let mut warehouse = open_warehouse(warehouse, "report").await?;
    crate::report::build(&mut warehouse, top)
        .await
        .context("cannot read the marts; run `twitch-pipeline transform` first")
}

/// Ingests into Snowflake as `settings` says; returns the lines to print.
pub async fn ingest(settings: &crate::config::IngestSettings) -> anyhow::Result<Vec<String>> {
    use crate::config::IngestMode;
    use crate::ingest::{self, IngestOutcome};
    let client = crate::snowpipe::SnowpipeClient::new(&settings.snowflake, Default::default())?;
    let database = &settings.snowflake.database;
    let lake = Lake::open(&settings.lake)?;
    let submitted = |files: &std::collections::BTreeMap<String, usize>| {
        files
            .iter()
            .map(|(pipe, n)| format!("{pipe}: {n} file(s) submitted"))
            .collect::<Vec<_>>()
    };
    Ok(match &settings.mode {
        IngestMode::Path(path) => match ingest::ingest_path(&lake, path, &client, database).await? {
            IngestOutcome::Submitted { slot, files } => {
                let mut lines = vec![format!("slot {slot}: manifest submitted")];
                lines.extend(submitted(&files));
                lines
            }
            IngestOutcome::Ignored { path, reason } => vec![format!("{path}: ignored ({reason})")],
        },
        IngestMode::Backfill { since } => submitted(&ingest::backfill(&lake, *since, &client, database).await?),
        IngestMode::Status => {
            let mut lines = Vec::new();
            let now = Utc::now();
            for entity in Entity::ALL {
                let pipe = ingest::pipe_for(database, entity);
                let report = client.insert_report(&pipe).await?;
                let history = client
                    .load_history_scan(&pipe, now - chrono::Duration::hours(24), now)
                    .await?;
                lines.push(format!(
                    "{pipe}: recent events {}; loaded in the last 24 h {}",
                    count_by_status(&report),
                    count_by_status(&history)
                ));
            }
            lines
        }
    })
}

/// `N STATUS, M STATUS…` over a Snowpipe answer's `files`.
fn count_by_status(answer: &serde_json::Value) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for file in answer["files"].as_array().into_iter().flatten() {
        *counts
            .entry(file["status"].as_str().unwrap_or("UNKNOWN").to_string())
            .or_insert(0) += 1;
    }
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(status, n)| format!("{n} {status}"))
        .collect::<Vec<_>>()
        .join(", ")
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

/// What the demo is doing, for progress display.
#[derive(Debug)]
pub enum DemoEvent<'a> {
    /// A stage begins; `total` is how many steps it has, when known.
    Stage { name: &'static str, total: Option<u64> },
    /// A slot was extracted.
    Slot(&'a Manifest),
    /// The load finished.
    Loaded(&'a crate::load::LoadSummary),
    /// A model, test or freshness check finished.
    Step(&'a crate::transform::Step),
}

/// What the demo did.
#[derive(Debug)]
pub struct DemoRun {
    /// One manifest per slot extracted by this run.
    pub manifests: Vec<Manifest>,
    pub load: crate::load::LoadSummary,
    pub transform: crate::transform::RunReport,
    /// The report's figures, when the transform succeeded.
    pub report: Option<crate::report::Report>,
    /// Where the report page was written.
    pub report_page: Option<PathBuf>,
    /// The demo's warehouse.
    pub warehouse: WarehouseTarget,
}

/// Runs the pipeline locally against the built-in simulator: no account needed.
/// Extracts the slots into DATA/lake, loads them into DATA/warehouse.duckdb, builds
/// the models there and writes DATA/report.html. Every stage is the real one.
///
/// Slots follow each other on a simulated clock, so nothing waits for real time. A
/// new lake ends at the current slot; a rerun continues after the newest committed
/// slot, extending the same world, and the transform runs incrementally.
#[cfg(feature = "duckdb")]
pub async fn demo(options: &DemoOptions, mut on_event: impl FnMut(DemoEvent<'_>)) -> anyhow::Result<DemoRun> {
    // Read the project first: a demo started outside the repository fails at once.
    let project = crate::transform::Project::load(&options.project_dir).with_context(|| {
        format!(
            "run the demo from the repository, or pass --project DIR ({})",
            options.project_dir.display()
        )
    })?;
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
    on_event(DemoEvent::Stage {
        name: "extract",
        total: Some(u64::from(options.slots)),
    });
    let mut manifests = Vec::new();
    for i in 0..options.slots {
        let slot = first.offset(i64::from(i));
        clock.set(slot.time());
        match extract_slot(client.clone(), &lake, slot, &ExtractOptions::default()).await? {
            ExtractOutcome::Extracted(manifest) => {
                on_event(DemoEvent::Slot(&manifest));
                manifests.push(*manifest);
            }
            ExtractOutcome::AlreadyExtracted(_) => {}
        }
    }
    sim.stop().await;

    let database = options.data_dir.join("warehouse.duckdb");
    on_event(DemoEvent::Stage {
        name: "load",
        total: None,
    });
    let load = load(&LoadSettings {
        lake: lake_url,
        warehouse: database.clone(),
    })
    .await?;
    on_event(DemoEvent::Loaded(&load));

    let warehouse = WarehouseTarget::DuckDb(database);
    let steps = project.nodes.len()
        + project.tests.len()
        + project.sources.iter().filter(|s| s.loaded_at_field.is_some()).count();
    on_event(DemoEvent::Stage {
        name: "transform",
        total: Some(steps as u64),
    });
    let options_transform = crate::transform::TransformOptions {
        check_freshness: true,
        ..Default::default()
    };
    let mut connection = open_warehouse(&warehouse, "demo").await?;
    let transform = crate::transform::run(&project, &mut connection, &options_transform, |step| {
        on_event(DemoEvent::Step(step))
    })
    .await?;

    let (mut report, mut report_page) = (None, None);
    if transform.succeeded() {
        on_event(DemoEvent::Stage {
            name: "report",
            total: None,
        });
        let built = crate::report::build(&mut connection, 10)
            .await
            .context("cannot read the marts for the report")?;
        let page = options.data_dir.join("report.html");
        let subtitle = format!(
            "Simulated Twitch (synthetic data): {} live streams, seed {}. Built by twitch-pipeline demo from {}.",
            options.streams, options.seed, warehouse
        );
        std::fs::write(&page, crate::report::html::page(&built, &transform.tests, &subtitle))
            .with_context(|| format!("cannot write {}", page.display()))?;
        report = Some(built);
        report_page = Some(page);
    }
    Ok(DemoRun {
        manifests,
        load,
        transform,
        report,
        report_page,
        warehouse,
    })
}
