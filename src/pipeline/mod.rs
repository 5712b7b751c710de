//! The stages composed: what the CLI, the demo and the Functions routes call.

pub mod resubmit;
pub mod unsettled;

use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;

use crate::extract::ExtractSettings;
use crate::extract::{ExtractOptions, ExtractOutcome, extract_slot};
use crate::lake::{Entity, Lake, Slot};
#[cfg(feature = "duckdb")]
use crate::load::LoadSettings;
use crate::transform::TransformSettings;
use crate::twitch::TwitchSettings;
use crate::twitch::{ClientOptions, HelixClient};
use crate::warehouse::WarehouseTarget;
use crate::warehouse::{AnyWarehouse, SnowflakeWarehouse};

/// Extracts one slot as configured: the given slot, or the current one.
pub async fn extract(settings: &ExtractSettings) -> anyhow::Result<ExtractOutcome> {
    extract_with(connect(&settings.twitch).await?, settings).await
}

/// [`extract`] with a client already connected: `serve` keeps one across invocations,
/// so its app token (valid about 60 days) is reused until Helix refuses it, rather than
/// minted every run.
pub async fn extract_with(client: Arc<HelixClient>, settings: &ExtractSettings) -> anyhow::Result<ExtractOutcome> {
    let lake = Lake::open(&settings.lake)?;
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
            let mut line = format!(
                "slot {}: {} streams ({} found by a re-read), {} users, {} games, {} pages in {} partition(s), {} requests (p50 {:.0} ms, p95 {:.0} ms), {} duplicates dropped, {} quarantined, {} retries, {:.1} s",
                m.slot,
                rows(Entity::Streams),
                m.found_by_rereads,
                rows(Entity::Users),
                rows(Entity::Games),
                m.pages,
                m.partitions.len(),
                m.requests,
                m.latency_ms_p50,
                m.latency_ms_p95,
                m.duplicates_dropped,
                m.quarantined,
                m.retries,
                m.seconds_total
            );
            // Anything but the listing's end is said, so a partial slot is never
            // mistaken for a complete one.
            if !m.listing_complete {
                line.push_str(&format!(
                    "; WARNING: the listing was not read to its end ({}), so streams may be missing",
                    m.incomplete_reason.as_deref().unwrap_or(&m.stop_reason)
                ));
            }
            if let Some(failure) = &m.reread_failure {
                line.push_str(&format!(
                    "; a re-read by user id failed, so streams may be missing: {failure}"
                ));
            }
            let not_looked_up = m.users_not_looked_up.len() + m.games_not_looked_up.len();
            if not_looked_up > 0 {
                line.push_str(&format!(
                    "; {not_looked_up} user(s) or game(s) not looked up (asked for again next slot): {}",
                    m.lookup_failures.join("; ")
                ));
            }
            line
        }
    }
}

/// Opens the warehouse the settings name. On Snowflake every query of the session is
/// tagged `twitch-pipeline COMMAND RUN-ID`, so one run's queries can be found.
pub async fn open_warehouse(target: &WarehouseTarget, command: &str) -> anyhow::Result<AnyWarehouse> {
    match target {
        #[cfg(feature = "duckdb")]
        WarehouseTarget::DuckDb(target) => {
            // The raw tables the models read, where nothing was loaded yet.
            let mut warehouse = crate::warehouse::DuckDbWarehouse::open_target(target)?;
            crate::load::create_raw_layer(&mut warehouse).await?;
            Ok(AnyWarehouse::DuckDb(warehouse))
        }
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

/// `serve`: the Functions custom handler on `127.0.0.1:port` (the host reaches it
/// there, `FUNCTIONS_CUSTOMHANDLER_PORT`), until `shutdown` resolves.
pub async fn serve(
    settings: crate::functions::ServeSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], settings.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    crate::functions::serve(listener, settings, shutdown).await
}

/// `snowflake-setup`: the DDL as a script to run by hand, or, with `--apply`, run
/// as the admin login; the text to print (the script, or a line per statement run).
pub async fn snowflake_setup(settings: &crate::snowflake_setup::SetupSettings) -> anyhow::Result<String> {
    let statements = settings.plan.statements();
    match &settings.apply_as {
        None => Ok(crate::snowflake_setup::script(&statements)),
        Some(login) => {
            let tag = format!("twitch-pipeline snowflake-setup {}", run_id());
            let mut snowflake = SnowflakeWarehouse::connect(login, &tag).await?;
            let lines = crate::snowflake_setup::apply(&mut snowflake, &settings.plan, &statements).await?;
            Ok(lines.iter().map(|line| format!("{line}\n")).collect())
        }
    }
}

/// `doctor`: every hop of the deployment checked, each with its result.
pub async fn doctor(settings: &crate::doctor::DoctorSettings) -> Vec<crate::doctor::Check> {
    crate::doctor::run(settings).await
}

/// A run's id: its start time and a random suffix, unique enough to search logs by.
pub fn run_id() -> String {
    format!("{}-{:08x}", Utc::now().format("%Y%m%dT%H%M%SZ"), rand::random::<u32>())
}

/// Loads every committed lake file not loaded yet into the embedded warehouse.
#[cfg(feature = "duckdb")]
pub async fn load(settings: &LoadSettings) -> anyhow::Result<crate::load::LoadSummary> {
    load_with_progress(settings, |_, _, _| {}).await
}

/// [`load`], calling `on_slot(done, total, summary so far)` after each committed slot.
#[cfg(feature = "duckdb")]
pub async fn load_with_progress(
    settings: &LoadSettings,
    on_slot: impl FnMut(usize, usize, &crate::load::LoadSummary),
) -> anyhow::Result<crate::load::LoadSummary> {
    let lake = Lake::open(&settings.lake)?;
    let mut warehouse = crate::warehouse::DuckDbWarehouse::open_target(&settings.warehouse)?;
    Ok(crate::load::load_lake_with_progress(&lake, &mut warehouse, on_slot).await?)
}

/// Where `project`, built for its target, puts the models the report and `status` read.
pub async fn marts<W: crate::warehouse::Warehouse>(
    project: &crate::transform::ProjectSettings,
    warehouse: &mut W,
) -> anyhow::Result<crate::transform::Marts> {
    let parsed = crate::transform::Project::load(&project.dir)?;
    Ok(crate::transform::Marts::resolve(&parsed, warehouse, &project.target_name).await?)
}

/// Reconciles the lake's committed slots with the warehouse (`status`).
pub async fn status(settings: &crate::status::StatusSettings) -> anyhow::Result<crate::status::Status> {
    let lake = Lake::open(&settings.lake)?;
    let mut warehouse = open_warehouse(&settings.warehouse, "status").await?;
    let marts = marts(&settings.project, &mut warehouse).await?;
    let now = Utc::now();
    let options = crate::status::StatusOptions {
        since: settings.since.unwrap_or(now - chrono::Duration::hours(24)),
        until: settings.until.unwrap_or(now),
        now,
        grace: settings.grace,
    };
    let records = load_records(&settings.warehouse, &mut warehouse, options.since, now).await?;
    Ok(crate::status::reconcile(
        &lake,
        &mut warehouse,
        &marts.fact_stream_snapshots,
        options,
        records.as_ref(),
    )
    .await?)
}

/// On Snowflake, Snowpipe's load history since `since` (each file's fate and error)
/// and the pipes' states, read through `warehouse`; the local load keeps its own
/// history, in the warehouse.
async fn load_records<W: crate::warehouse::Warehouse>(
    target: &WarehouseTarget,
    warehouse: &mut W,
    since: chrono::DateTime<Utc>,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<Option<crate::snowpipe::LoadRecords>> {
    Ok(match target {
        WarehouseTarget::Snowflake(snowflake) => {
            let snowpipe = crate::snowpipe::SnowpipeClient::new(snowflake, Default::default())?;
            Some(crate::ingest::loads_and_pipes(&snowpipe, warehouse, &snowflake.database, since, now).await?)
        }
        WarehouseTarget::DuckDb(_) => None,
    })
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

/// What `settings` select of the project, without opening the warehouse: the SQL is
/// rendered for its type, as `dbt ls` renders it for the profile's.
pub fn list(settings: &TransformSettings) -> anyhow::Result<crate::transform::Listed> {
    let project = crate::transform::Project::load(&settings.project)?;
    let dialect = match &settings.warehouse {
        WarehouseTarget::DuckDb(_) => crate::warehouse::Dialect::DuckDb,
        WarehouseTarget::Snowflake(_) => crate::warehouse::Dialect::Snowflake,
    };
    Ok(crate::transform::list(&project, &settings.options, dialect)?)
}

/// The report's figures, from the marts; with a lake that has committed slots, the
/// pipeline's health over the same window first.
pub async fn report(
    target: &WarehouseTarget,
    project: &crate::transform::ProjectSettings,
    top: usize,
    lake: Option<&crate::lake::LakeUrl>,
) -> anyhow::Result<crate::report::Report> {
    let mut warehouse = open_warehouse(target, "report").await?;
    let lake = lake.map(Lake::open).transpose()?;
    let (report, _) = report_on(&mut warehouse, target, project, top, lake.as_ref()).await?;
    Ok(report)
}

/// `report` on an open warehouse, with the marts it read.
async fn report_on<W: crate::warehouse::Warehouse>(
    warehouse: &mut W,
    target: &WarehouseTarget,
    project: &crate::transform::ProjectSettings,
    top: usize,
    lake: Option<&Lake>,
) -> anyhow::Result<(crate::report::Report, crate::transform::Marts)> {
    let marts = marts(project, warehouse).await?;
    let mut report = crate::report::build(warehouse, &marts, top).await.with_context(|| {
        format!(
            "cannot read the marts of target `{}`; run `twitch-pipeline transform` for it first",
            project.target_name
        )
    })?;
    if let Some(lake) = lake {
        report.health = report_health(lake, warehouse, target, &marts).await?;
    }
    Ok((report, marts))
}

/// `report --site DIR`: the report, then the site from it, the marts, and the runs
/// the lake kept; `on_page(done, total)` follows the pages written.
pub async fn report_site(
    target: &WarehouseTarget,
    project: &crate::transform::ProjectSettings,
    top: usize,
    lake: &crate::lake::LakeUrl,
    dir: &std::path::Path,
    on_page: impl FnMut(usize, usize),
) -> anyhow::Result<(crate::report::Report, crate::report::site::SiteSummary)> {
    let mut warehouse = open_warehouse(target, "report").await?;
    let lake = Lake::open(lake)?;
    let (report, marts) = report_on(&mut warehouse, target, project, top, Some(&lake)).await?;
    let subtitle = format!("From {target}.");
    let site = write_site(
        &mut warehouse,
        &marts,
        &report,
        &[],
        &lake,
        &project.dir,
        dir,
        &subtitle,
        top,
        on_page,
    )
    .await?;
    Ok((report, site))
}

/// Keeps a transform run's dbt artifacts in the lake (`_runs/`, named by `started` and
/// the run's invocation id), as the Function App and the demo do: the package folder
/// is read-only in Azure, and the report site reads the runs' history there. Returns
/// the folder.
pub async fn keep_artifacts(
    lake: &Lake,
    started: chrono::DateTime<Utc>,
    artifacts: &dbt_runner::Artifacts,
) -> Result<String, crate::lake::LakeError> {
    let invocation = artifacts.run_results["metadata"]["invocation_id"]
        .as_str()
        .unwrap_or_default();
    crate::lake::keep_run(lake, started, invocation, artifacts.files()).await
}

/// Writes the report site into `dir`: `report`'s overview, the marts' analytics, and
/// the transform runs the lake kept (the lineage from the newest one's manifest, or
/// from the project's `target/manifest.json` when the lake kept none).
#[allow(clippy::too_many_arguments)]
pub async fn write_site<W: crate::warehouse::Warehouse>(
    warehouse: &mut W,
    marts: &crate::transform::Marts,
    report: &crate::report::Report,
    tests: &[crate::transform::TestResult],
    lake: &Lake,
    project_dir: &std::path::Path,
    dir: &std::path::Path,
    subtitle: &str,
    top: usize,
    on_page: impl FnMut(usize, usize),
) -> anyhow::Result<crate::report::site::SiteSummary> {
    // The newest 48 runs: two days of the hourly timer.
    let runs = crate::lake::run_history(lake, 48).await?;
    let fallback_manifest = std::fs::read(project_dir.join("target/manifest.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let input = crate::report::site::SiteInput {
        report,
        tests,
        runs: &runs,
        fallback_manifest,
        subtitle,
        top,
    };
    crate::report::site::write_site(warehouse, marts, &input, dir, on_page)
        .await
        .with_context(|| format!("cannot write the report site into {}", dir.display()))
}

/// The health of the 24 hours up to the lake's newest committed slot (from its first
/// slot, if it is younger: `reconcile` expects nothing before the pipeline started).
pub async fn report_health<W: crate::warehouse::Warehouse>(
    lake: &Lake,
    warehouse: &mut W,
    target: &WarehouseTarget,
    marts: &crate::transform::Marts,
) -> anyhow::Result<Option<crate::report::Health>> {
    let committed = lake.committed_slots().await?;
    let Some(newest) = committed.last() else {
        return Ok(None);
    };
    let until = newest.offset(1).time();
    let options = crate::status::StatusOptions {
        since: until - chrono::Duration::hours(24),
        until,
        now: Utc::now(),
        grace: chrono::Duration::hours(2),
    };
    let records = load_records(target, warehouse, options.since, options.now).await?;
    let status =
        crate::status::reconcile(lake, warehouse, &marts.fact_stream_snapshots, options, records.as_ref()).await?;
    Ok(Some(crate::report::Health::from_status(&status)))
}

/// What `ingest` says: the lines to print, and the committed slots a backfill left out.
#[derive(Debug, Default)]
pub struct IngestReport {
    pub lines: Vec<String>,
    pub slots_skipped: usize,
}

/// Ingests into Snowflake as `settings` says.
pub async fn ingest(settings: &crate::ingest::IngestSettings) -> anyhow::Result<IngestReport> {
    use crate::ingest::IngestMode;
    use crate::ingest::{self, IngestOutcome};
    let calls = crate::snowpipe::SharedInsertCalls::new(std::sync::Arc::new(crate::snowpipe::SnowpipeClient::new(
        &settings.snowflake,
        Default::default(),
    )?));
    let client = calls.client();
    let database = &settings.snowflake.database;
    let lake = Lake::open(&settings.lake)?;
    let submitted = |files: &std::collections::BTreeMap<String, usize>| {
        files
            .iter()
            .map(|(pipe, n)| format!("{pipe}: {n} file(s) submitted"))
            .collect::<Vec<_>>()
    };
    let lines = match &settings.mode {
        IngestMode::Path(path) => match ingest::ingest_path(&lake, path, None, &calls, database).await? {
            IngestOutcome::Submitted { slot, files } => {
                let mut lines = vec![format!("slot {slot}: manifest submitted")];
                lines.extend(submitted(&files));
                lines
            }
            IngestOutcome::Ignored { path, reason } => vec![format!("{path}: ignored ({reason})")],
        },
        IngestMode::Backfill { since } => {
            let target = crate::warehouse::WarehouseTarget::Snowflake(Box::new(settings.snowflake.clone()));
            let mut warehouse = open_warehouse(&target, "ingest").await?;
            let backfill = ingest::backfill(&lake, *since, client, &mut warehouse, database).await?;
            let mut lines = submitted(&backfill.submitted);
            if backfill.already_in_raw + backfill.empty > 0 {
                lines.push(format!(
                    "{} file(s) not submitted: RAW holds them already; {} without rows",
                    backfill.already_in_raw, backfill.empty
                ));
            }
            lines.extend(
                backfill
                    .skipped
                    .iter()
                    .map(|(slot, reason)| format!("WARNING: slot {slot} not submitted: {reason}")),
            );
            return Ok(IngestReport {
                lines,
                slots_skipped: backfill.skipped.len(),
            });
        }
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
                    count_by_status(report["files"].as_array().into_iter().flatten()),
                    count_by_status(&history)
                ));
            }
            lines
        }
    };
    Ok(IngestReport {
        lines,
        slots_skipped: 0,
    })
}

/// `N STATUS, M STATUS…` over a Snowpipe answer's `files`.
fn count_by_status<'a>(files: impl IntoIterator<Item = &'a serde_json::Value>) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for file in files {
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

#[cfg(feature = "duckdb")]
mod demo;
#[cfg(feature = "duckdb")]
pub use demo::{DemoEvent, DemoOptions, DemoRun, demo};
