//! The `twitch-pipeline` command: parses the command line and calls the library.

#[cfg(feature = "simulator")]
use std::net::SocketAddr;
#[cfg(feature = "duckdb")]
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use twitch_pipeline::doctor::DoctorArgs;
use twitch_pipeline::extract::ExtractArgs;
use twitch_pipeline::functions::ServeArgs;
use twitch_pipeline::ingest::IngestArgs;
#[cfg(feature = "simulator")]
use twitch_pipeline::lake::Slot;
#[cfg(feature = "duckdb")]
use twitch_pipeline::load::LoadArgs;
use twitch_pipeline::pipeline::{self};
#[cfg(feature = "duckdb")]
use twitch_pipeline::pipeline::{DemoEvent, DemoOptions};
use twitch_pipeline::report::ReportArgs;
#[cfg(feature = "simulator")]
use twitch_pipeline::simulator::{self, Fault, Faults, SimClock, SimulatorConfig};
use twitch_pipeline::snowflake_setup::SetupArgs;
use twitch_pipeline::status::StatusArgs;
use twitch_pipeline::telemetry::{self, LogFormat, LogTarget};
use twitch_pipeline::transform::TransformArgs;

// Progress bars are the demo's (the Azure build has no demo).
#[cfg(feature = "duckdb")]
mod progress;

/// A Twitch analytics pipeline: Helix snapshots into a lake, then a warehouse.
#[derive(Parser)]
#[command(version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the pipeline locally against the built-in Twitch simulator (no account needed).
    #[cfg(feature = "duckdb")]
    Demo {
        /// Consecutive 15-minute slots to extract.
        #[arg(long, default_value_t = 8)]
        slots: u32,
        /// Live streams in the simulated world, on average over a week (it follows Twitch's day).
        #[arg(long, default_value_t = 20_000)]
        streams: usize,
        /// Folder for the lake (DATA/lake) and later the warehouse.
        #[arg(long = "data", default_value = "./data")]
        data_dir: PathBuf,
        /// Seed of the simulated world.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Folder holding dbt_project.yml.
        #[arg(long = "project", default_value = ".")]
        project_dir: PathBuf,
        /// The most memory the embedded DuckDB may use before it spills to disk.
        #[arg(long = "duckdb-memory-limit", env = "DUCKDB_MEMORY_LIMIT", default_value = twitch_pipeline::warehouse::DEFAULT_MEMORY_LIMIT)]
        duckdb_memory_limit: String,
    },
    /// Snapshot every live stream, with its users and games, into the lake for one slot.
    Extract(ExtractArgs),
    /// Load committed lake files into the embedded DuckDB warehouse (each file once).
    #[cfg(feature = "duckdb")]
    Load(LoadArgs),
    /// Serve the Azure Functions custom handler on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT.
    Serve(Box<ServeArgs>),
    /// Print (or --apply) the Snowflake DDL the pipeline needs: tables, stage, pipes, role, user.
    SnowflakeSetup(Box<SetupArgs>),
    /// Submit committed lake files to Snowflake's pipes (Snowpipe REST), or report on them.
    Ingest(IngestArgs),
    /// Build the dbt project's models in the warehouse and run its tests.
    Transform(TransformArgs),
    /// Print top streamers, games and languages of the last 24 hours of data.
    Report(ReportArgs),
    /// Check each slot since a time: committed or missed, and how much of it reached
    /// the raw tables and the fact. Exits non-zero on a missed, incomplete or duplicated slot.
    Status(StatusArgs),
    /// Check a deployment hop by hop (Twitch, the lake, Snowflake and Snowpipe) with
    /// the app's own settings: one line per check, and what to do about a failure.
    Doctor(Box<DoctorArgs>),
    /// Serve a synthetic Twitch Helix API (the test double and demo data source).
    #[cfg(feature = "simulator")]
    MockHelix {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Live streams at every slot (flat), or on average over a week (daily).
        #[arg(long, default_value_t = 10_000)]
        streams: usize,
        /// `daily` follows Twitch's day and week: channels and viewers rise and fall
        /// by region; `flat` keeps exactly `--streams` live.
        #[arg(long, value_enum, default_value = "flat")]
        rhythm: simulator::Rhythm,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Rate limit in points per minute; 0 lifts it.
        #[arg(long, default_value_t = 800)]
        rate_limit: u32,
        /// Misbehave like the real Helix; repeat to combine.
        #[arg(long = "fault", value_enum)]
        faults: Vec<Fault>,
        /// How long a slow response takes, with `--fault slow-responses`.
        #[arg(long, default_value_t = 3_000)]
        slow_delay_ms: u64,
        /// Each request's mean round trip, as from an Azure region (the benchmarks use
        /// 250); 0 answers at loopback speed.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// How far a round trip strays from the mean, as a fraction (0.4: ±40%).
        #[arg(long, default_value_t = 0.4)]
        latency_spread: f64,
        /// Serve this time's slot forever instead of following the wall clock.
        #[arg(long)]
        at: Option<Slot>,
        #[arg(long, default_value = simulator::DEFAULT_CLIENT_ID)]
        client_id: String,
        #[arg(long, default_value = simulator::DEFAULT_CLIENT_SECRET, hide_default_value = true)]
        client_secret: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(feature = "duckdb")]
    let quiet = matches!(cli.command, Command::Demo { .. });
    #[cfg(not(feature = "duckdb"))]
    let quiet = false;
    let target = if matches!(cli.command, Command::Serve(_)) {
        LogTarget::Stdout
    } else {
        LogTarget::Stderr
    };
    telemetry::init(LogFormat::from_env(), target, if quiet { "warn" } else { "info" });
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Extract(args) => {
            let settings = args.validate()?;
            let outcome = pipeline::extract(&settings).await?;
            println!("{}", pipeline::summary_line(&outcome));
        }
        #[cfg(feature = "duckdb")]
        Command::Load(args) => {
            let settings = args.validate()?;
            let started = std::time::Instant::now();
            let summary = pipeline::load(&settings).await?;
            println!("{}", summary.line(started.elapsed().as_secs_f64()));
            for line in summary.skipped_lines() {
                eprintln!("WARNING: {line}");
            }
            anyhow::ensure!(
                summary.skipped.is_empty(),
                "{} committed slot(s) could not be loaded (see the warnings above); the other slots loaded, and the next load tries these again",
                summary.skipped.len()
            );
        }
        Command::Serve(args) => pipeline::serve(args.validate()?, shutdown_signal()).await?,
        Command::SnowflakeSetup(args) => print!("{}", pipeline::snowflake_setup(&args.validate()?).await?),
        Command::Ingest(args) => {
            let settings = args.validate()?;
            let report = pipeline::ingest(&settings).await?;
            for line in &report.lines {
                println!("{line}");
            }
            anyhow::ensure!(
                report.slots_skipped == 0,
                "{} committed slot(s) were not submitted (see the warnings above); the others were",
                report.slots_skipped
            );
        }
        Command::Transform(args) if args.list => {
            let listed = pipeline::list(&args.validate()?)?;
            for name in listed.nodes.iter().map(|n| &n.0).chain(&listed.tests) {
                println!("{name}");
            }
        }
        Command::Transform(args) => {
            let settings = args.validate()?;
            let report = pipeline::transform(&settings, |step| println!("{step}")).await?;
            println!("{}", report.summary_line());
            anyhow::ensure!(
                report.succeeded(),
                "the transform failed; see the ERROR and FAIL lines above"
            );
        }
        Command::Status(args) => {
            let settings = args.validate()?;
            let status = pipeline::status(&settings).await?;
            for line in twitch_pipeline::status::lines(&status) {
                println!("{line}");
            }
            println!("{}", twitch_pipeline::status::summary_line(&status));
            let failures = status.failures().count();
            anyhow::ensure!(
                failures == 0,
                "{failures} slot(s) missed, incomplete or duplicated (see the lines above)"
            );
        }
        Command::Doctor(args) => {
            let settings = args.validate();
            let checks = pipeline::doctor(&settings).await;
            if settings.json {
                println!("{}", serde_json::to_string_pretty(&checks)?);
            } else {
                for check in &checks {
                    println!("{}", check.line());
                }
            }
            let failed = checks.iter().filter(|c| !c.ok).count();
            anyhow::ensure!(
                failed == 0,
                "{failed} of {} check(s) failed (see the lines above)",
                checks.len()
            );
        }
        Command::Report(args) => {
            let (warehouse, lake, project) = args.validate()?;
            let (report, site) = match &args.site {
                Some(dir) => {
                    let (report, site) =
                        pipeline::report_site(&warehouse, &project, args.top, &lake, dir, |_, _| {}).await?;
                    (report, Some(site))
                }
                None => (
                    pipeline::report(&warehouse, &project, args.top, Some(&lake)).await?,
                    None,
                ),
            };
            print!("{}", twitch_pipeline::report::terminal::render_report(&report));
            if let Some(site) = &site {
                println!("\n{}", site_line(site));
            }
            if let Some(path) = &args.html {
                let subtitle = format!("From {warehouse}.");
                std::fs::write(path, twitch_pipeline::report::html::page(&report, &[], &subtitle))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("\nreport page: {}", path.display());
            }
        }
        #[cfg(feature = "duckdb")]
        Command::Demo {
            slots,
            streams,
            data_dir,
            seed,
            project_dir,
            duckdb_memory_limit,
        } => {
            let options = DemoOptions {
                slots,
                streams,
                data_dir,
                seed,
                project_dir,
                duckdb_memory_limit,
            };
            println!(
                "Simulated Twitch (synthetic data): {streams} live streams on average, {slots} slots → {}",
                options.data_dir.display()
            );
            let mut progress = progress::Stages::default();
            let (mut extracted, mut slots_extracted) = (0u64, 0u64);
            let run = pipeline::demo(&options, |event| match event {
                DemoEvent::Stage { name, total } => progress.start(name, total),
                DemoEvent::Slot(manifest) => {
                    let outcome = twitch_pipeline::extract::ExtractOutcome::Extracted(Box::new(manifest.clone()));
                    progress.step(Some(format!("  {}", pipeline::summary_line(&outcome))));
                    extracted += manifest.files.iter().map(|f| f.rows).sum::<u64>();
                    slots_extracted += 1;
                    progress.rows(slots_extracted, u64::from(slots), extracted);
                }
                DemoEvent::Loading { done, total, rows } => progress.rows(done as u64, total as u64, rows),
                DemoEvent::Loaded(summary) => {
                    progress.line(format!("  {}", summary.line(0.0).trim_end_matches("; 0.0 s")))
                }
                // The demo shows only what went wrong; `transform` shows every step.
                DemoEvent::Step(step) => progress.step((!step.went_well()).then(|| format!("  {step}"))),
                DemoEvent::SitePage { done, total } => progress.position(done as u64, total as u64),
                DemoEvent::Doctor(checks) => {
                    for check in checks {
                        progress.line(format!("  {}", check.line()));
                    }
                }
            })
            .await?;
            progress.finish();
            println!("{} (in {})", run.transform.summary_line(), run.warehouse);
            anyhow::ensure!(run.transform.succeeded(), "the transform failed; see the lines above");
            if let Some(report) = &run.report {
                print!("{}", twitch_pipeline::report::terminal::render_report(report));
            }
            if let Some(page) = &run.report_page {
                println!("\nreport page: {}", page.display());
            }
            if let Some(site) = &run.site {
                println!("{}", site_line(site));
            }
        }
        #[cfg(feature = "simulator")]
        Command::MockHelix {
            addr,
            streams,
            rhythm,
            seed,
            rate_limit,
            faults,
            slow_delay_ms,
            latency_ms,
            latency_spread,
            at,
            client_id,
            client_secret,
        } => {
            let config = SimulatorConfig {
                seed,
                streams,
                rhythm,
                rate_limit: (rate_limit > 0).then_some(rate_limit),
                faults: Faults {
                    enabled: faults.into_iter().collect(),
                    slow_delay: std::time::Duration::from_millis(slow_delay_ms),
                },
                clock: at.map_or(SimClock::Wall, |slot| SimClock::manual(slot.time())),
                client_id,
                client_secret,
                latency: (latency_ms > 0).then(|| simulator::Latency {
                    mean: std::time::Duration::from_millis(latency_ms),
                    spread: latency_spread.clamp(0.0, 1.0),
                }),
                speed: 1.0,
            };
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let addr = listener.local_addr()?;
            let (api, auth) = simulator::urls(addr);
            println!("Helix simulator (synthetic data) on http://{addr}: TWITCH_API_URL={api} TWITCH_AUTH_URL={auth}");
            let sim = std::sync::Arc::new(simulator::Simulator::new(config));
            simulator::serve(listener, sim, shutdown_signal()).await?;
        }
    }
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed now, before the
/// caller starts serving: installed on the future's first poll, a SIGTERM that came
/// first (the host stopping an instance just started) would kill the process.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).ok();
        let mut interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(term.take()) => {},
                _ = wait(interrupt.take()) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Where the report site is and what it weighs.
fn site_line(site: &twitch_pipeline::report::site::SiteSummary) -> String {
    format!(
        "report site: {} ({} pages, {:.1} MB, the largest {:.0} kB; written in {:.1} s)",
        site.dir.join("index.html").display(),
        site.pages,
        site.bytes as f64 / 1e6,
        site.largest_page as f64 / 1e3,
        site.seconds
    )
}
