//! The local demo: the whole pipeline on the simulator and the embedded DuckDB.

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;

use super::{connect, load_with_progress, open_warehouse};
use crate::extract::{ExtractOptions, ExtractOutcome, extract_slot};
use crate::lake::{Lake, LakeUrl, Manifest, Slot};
use crate::load::LoadSettings;
use crate::simulator::{self, SimClock, SimulatorConfig};
use crate::twitch::TwitchSettings;
use crate::warehouse::WarehouseTarget;

/// Options of the local demo.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub slots: u32,
    pub streams: usize,
    pub data_dir: PathBuf,
    pub seed: u64,
    /// The dbt project the transform builds (the folder with dbt_project.yml).
    pub project_dir: PathBuf,
    /// DuckDB's memory limit (it spills beside the database file past it).
    pub duckdb_memory_limit: String,
}

/// What the demo is doing, for progress display.
#[derive(Debug)]
pub enum DemoEvent<'a> {
    /// A stage begins; `total` is how many steps it has, when known.
    Stage { name: &'static str, total: Option<u64> },
    /// A slot was extracted.
    Slot(&'a Manifest),
    /// The load finished `done` of `total` committed slots, with `rows` rows so far.
    Loading { done: usize, total: usize, rows: u64 },
    /// The load finished.
    Loaded(&'a crate::load::LoadSummary),
    /// A model, test or freshness check finished.
    Step(&'a crate::transform::Step),
    /// The report site has `done` of its `total` pages written.
    SitePage { done: usize, total: usize },
    /// `doctor`'s checks of the local stand-ins, before anything runs on them.
    Doctor(&'a [crate::doctor::Check]),
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
    /// The report site (DATA/site), when the transform succeeded.
    pub site: Option<crate::report::site::SiteSummary>,
    /// The demo's warehouse.
    pub warehouse: WarehouseTarget,
}

/// Runs the pipeline locally against the built-in simulator: no account needed.
/// Extracts the slots into DATA/lake, loads them into DATA/warehouse.duckdb, builds
/// the models there and writes DATA/report.html and the report site, DATA/site.
/// Every stage is the real one.
///
/// Slots follow each other on a simulated clock, so nothing waits for real time. A
/// new lake ends at the current slot; a rerun continues after the newest committed
/// slot, extending the same world, and the transform runs incrementally.
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
        // Twitch's day and week, so the charts and analytics show their shapes.
        rhythm: simulator::Rhythm::Daily,
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
    // The hops the demo uses, checked as `doctor` checks a deployment's.
    let checks = crate::doctor::run(&crate::doctor::DoctorSettings {
        app: None,
        project: None,
        twitch: Some(twitch.clone()),
        lake: Some(lake_url.clone()),
        snowflake: None,
        storage_account: None,
        problems: Vec::new(),
        json: false,
    })
    .await;
    on_event(DemoEvent::Doctor(&checks));
    if let Some(failed) = checks.iter().find(|c| !c.ok) {
        anyhow::bail!("doctor: {}", failed.line());
    }
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

    let database = crate::warehouse::DuckDbTarget {
        memory_limit: options.duckdb_memory_limit.clone(),
        ..crate::warehouse::DuckDbTarget::at(options.data_dir.join("warehouse.duckdb"))
    };
    on_event(DemoEvent::Stage {
        name: "load",
        total: None,
    });
    let load = load_with_progress(
        &LoadSettings {
            lake: lake_url,
            warehouse: database.clone(),
        },
        |done, total, summary| {
            let rows = summary.rows.values().sum();
            on_event(DemoEvent::Loading { done, total, rows })
        },
    )
    .await?;
    on_event(DemoEvent::Loaded(&load));

    let warehouse = WarehouseTarget::DuckDb(database);
    let steps = project.nodes.len()
        + project.tests.iter().filter(|t| t.settings.enabled).count()
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
    let started = Utc::now();
    let transform = crate::transform::run(&project, &mut connection, &options_transform, |step| {
        on_event(DemoEvent::Step(step))
    })
    .await?;
    // As the Function App does: the run's artifacts in the lake, for the site's run
    // history and lineage. Losing them loses no data: a warning.
    if let Err(error) = super::keep_artifacts(&lake, started, &transform.artifacts).await {
        tracing::warn!(%error, "could not keep the run's dbt artifacts in the lake");
    }

    let (mut report, mut report_page, mut site) = (None, None, None);
    if transform.succeeded() {
        on_event(DemoEvent::Stage {
            name: "report",
            total: None,
        });
        let marts =
            crate::transform::Marts::resolve(&project, &mut connection, options_transform.target_name()).await?;
        let mut built = crate::report::build(&mut connection, &marts, 10)
            .await
            .context("cannot read the marts for the report")?;
        built.health = super::report_health(&lake, &mut connection, &warehouse, &marts).await?;
        let page = options.data_dir.join("report.html");
        let subtitle = format!(
            "Simulated Twitch (synthetic data): {} live streams on average, following Twitch's day, seed {}. Built by twitch-pipeline demo from {}.",
            options.streams, options.seed, warehouse
        );
        std::fs::write(&page, crate::report::html::page(&built, &transform.tests, &subtitle))
            .with_context(|| format!("cannot write {}", page.display()))?;
        on_event(DemoEvent::Stage {
            name: "site",
            total: None,
        });
        site = Some(
            super::write_site(
                &mut connection,
                &marts,
                &built,
                &transform.tests,
                &lake,
                &options.project_dir,
                &options.data_dir.join("site"),
                &subtitle,
                50,
                |done, total| on_event(DemoEvent::SitePage { done, total }),
            )
            .await?,
        );
        report = Some(built);
        report_page = Some(page);
    }
    Ok(DemoRun {
        manifests,
        load,
        transform,
        report,
        report_page,
        site,
        warehouse,
    })
}
