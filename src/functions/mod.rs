//! `serve`: the Azure Functions custom handler. The host posts each invocation to the
//! route named after the function; see [`invocation`] for the envelopes.
//!
//! - `GET /`: the host's start and health probe.
//! - `POST /extract_timer`: extracts the slot `Metadata.sys.UtcNow` was scheduled for
//!   ([`Slot::scheduled`]: a timer firing a few ms early still gets its own slot, a
//!   retry the same one).
//! - `POST /transform_timer`: on Snowflake, first submits again the committed files
//!   Snowflake has no load record of (self-healing); then builds the dbt project.
//! - `POST /blob_trigger`: a new lake blob; a manifest's files go to Snowpipe
//!   (Snowflake) or are loaded into the embedded DuckDB (local `func start`).
//! - `POST /run`: the manual HTTP function ([`manual`]): `POST /api/run` with
//!   `{"job": "extract"|"transform"|"ingest", …}`, `GET /api/run?id=…` for a job's state.
//! - `POST /run_job`: the `jobs` queue's trigger, running what `run` accepted.
//!
//! A failure answers 500 with the reason, so the host records the invocation as
//! failed. The timers declare retry policies (their `function.json`): the host runs
//! a failed timer again only then ("Azure Functions error handling and retries",
//! learn.microsoft.com/azure/azure-functions/functions-bindings-error-pages: timer
//! triggers retry by a function-level policy). A failed blob trigger is retried by the
//! host's blob extension, five times, then parked in `webjobs-blobtrigger-poison`
//! ("Poison blobs", functions-bindings-storage-blob-trigger); Event Grid retries only
//! a delivery the app did not take. The hourly run resubmits what never loaded.

mod settings;
pub use settings::{ServeArgs, ServeSettings};

pub mod invocation;
mod jobs;
mod manual;

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tracing::{error, info};

pub use self::invocation::{Invocation, InvocationReply, TimerInfo};
use crate::extract::ExtractOutcome;
use crate::ingest::IngestOutcome;
use crate::lake::{Lake, Slot};
use crate::pipeline;
use crate::snowpipe::{SharedInsertCalls, SnowpipeClient};
use crate::warehouse::{DuckDbTarget, WarehouseTarget};

/// What every invocation shares.
struct Handler {
    settings: ServeSettings,
    lake: Lake,
    /// Where a committed slot's files go from the blob trigger.
    sink: Sink,
    /// The Helix client, connected at the first extraction and kept: its app token
    /// lives in this process's memory only (never in the lake), is validated hourly,
    /// and is replaced when Helix refuses it.
    helix: tokio::sync::OnceCell<Arc<crate::twitch::HelixClient>>,
}

/// Snowpipe's retries under `serve` (429, 5xx, timeouts). A failing `blob_trigger` is
/// run again by the host at once, five times, then parked in
/// `webjobs-blobtrigger-poison`: the blob extension's own queue takes no retry delay
/// from host.json (its SharedBlobQueueListenerFactory builds the queue's options from
/// `extensions.blobs`, leaving the visibility timeout between tries at zero; "since
/// starting v5, the host.json only applies to queue triggers, and not blob triggers":
/// Azure/azure-sdk-for-net#34269). So the handler rides out an outage of minutes
/// itself: ten retries, waits doubling from half a second to a minute, 4 minutes of
/// waiting in all (each request times out after 30 s), inside the host's 14-minute
/// timeout. Past that the poison-queue alert fires and the hourly run submits the
/// files again.
pub const SNOWPIPE_PATIENCE: crate::retry::Backoff = crate::retry::Backoff {
    base: std::time::Duration::from_millis(500),
    cap: std::time::Duration::from_secs(60),
    max_retries: 10,
};

/// Where a committed slot's files go from the blob trigger, as the warehouse setting
/// says.
enum Sink {
    /// Snowflake: to the database's pipes, through Snowpipe's REST API.
    Snowpipe { calls: SharedInsertCalls, database: String },
    /// Locally (`func start` with Azurite): loaded into the embedded DuckDB.
    DuckDb(DuckDbTarget),
}

/// Serves the custom handler on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    settings: ServeSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let lake = Lake::open(&settings.extract.lake)?;
    let sink = match &settings.warehouse {
        WarehouseTarget::Snowflake(snowflake) => Sink::Snowpipe {
            calls: SharedInsertCalls::new(Arc::new(SnowpipeClient::new(
                snowflake,
                crate::snowpipe::SnowpipeOptions {
                    backoff: SNOWPIPE_PATIENCE,
                    ..Default::default()
                },
            )?)),
            database: snowflake.database.clone(),
        },
        WarehouseTarget::DuckDb(database) => Sink::DuckDb(database.clone()),
    };
    let handler = Arc::new(Handler {
        settings,
        lake,
        sink,
        helix: tokio::sync::OnceCell::new(),
    });
    let app = Router::new()
        .route("/", get(|| async { "twitch-pipeline custom handler" }))
        .route("/extract_timer", post(extract_timer))
        .route("/transform_timer", post(transform_timer))
        .route("/blob_trigger", post(blob_trigger))
        .route("/run", post(manual::run))
        .route("/run_job", post(manual::run_job))
        .layer(axum::middleware::from_fn(server_timing))
        .with_state(handler);
    info!(addr = %listener.local_addr()?, "custom handler listening");
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

/// Adds `Server-Timing: handler;dur=<ms>`: how long the invocation took inside the
/// handler, from its request to its reply, whatever waited in front of it.
async fn server_timing(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    let timing = format!("handler;dur={:.3}", started.elapsed().as_secs_f64() * 1e3);
    if let Ok(value) = axum::http::HeaderValue::from_str(&timing) {
        response.headers_mut().insert("server-timing", value);
    }
    response
}

/// A successful reply with its log lines.
fn ok(logs: Vec<String>, outputs: serde_json::Map<String, Value>) -> Response {
    for line in &logs {
        info!(line = %line, "invocation");
    }
    Json(InvocationReply {
        outputs,
        logs,
        return_value: Value::Null,
    })
    .into_response()
}

/// A failed invocation: 500 with the reason, so the host records it as failed (and
/// retries it where the function declares a retry policy).
fn failed(function: &str, reason: String) -> Response {
    error!(function, %reason, "invocation failed");
    let reply = InvocationReply {
        logs: vec![reason.clone()],
        return_value: json!({ "error": reason }),
        ..Default::default()
    };
    (StatusCode::INTERNAL_SERVER_ERROR, Json(reply)).into_response()
}

fn extracted_line(outcome: &ExtractOutcome) -> String {
    pipeline::summary_line(outcome)
}

async fn extract(handler: &Handler, slot: Slot) -> anyhow::Result<String> {
    extract_within(handler, slot, handler.settings.extract.deadline).await
}

async fn extract_within(handler: &Handler, slot: Slot, deadline: std::time::Duration) -> anyhow::Result<String> {
    let mut settings = handler.settings.extract.clone();
    settings.slot = Some(slot);
    settings.deadline = deadline;
    let client = handler
        .helix
        .get_or_try_init(|| pipeline::connect(&settings.twitch))
        .await?
        .clone();
    Ok(extracted_line(&pipeline::extract_with(client, &settings).await?))
}

/// A timer run must end inside its slot: the next slot's run starts then. Its deadline
/// is the configured one, cut to the slot's end less [`SLOT_END_MARGIN`], measured from
/// the invocation's time; a retry that fires too late to finish is refused, and the
/// slot is reported as missed (`status`).
fn timer_deadline(
    slot: Slot,
    fired: chrono::DateTime<chrono::Utc>,
    configured: std::time::Duration,
) -> Result<std::time::Duration, String> {
    let end = slot.time() + chrono::Duration::minutes(crate::lake::SLOT_MINUTES) - SLOT_END_MARGIN;
    let left = (end - fired).to_std().unwrap_or_default();
    if left < MIN_EXTRACT_TIME {
        return Err(format!(
            "too late to extract slot {slot}: {} s left before the next slot's run (at least {} s needed); the slot is missed",
            left.as_secs(),
            MIN_EXTRACT_TIME.as_secs()
        ));
    }
    Ok(left.min(configured))
}

/// Time kept free before the next slot's run starts.
const SLOT_END_MARGIN: chrono::Duration = chrono::Duration::seconds(30);
/// Less than this is not enough for a snapshot: a late retry gives up at once.
const MIN_EXTRACT_TIME: std::time::Duration = std::time::Duration::from_secs(60);

/// What an hourly or manual transform did: its line, and the error-severity tests
/// that failed when every model built (the data is wrong; a retry rebuilds the same).
struct Transformed {
    line: String,
    failing_tests: Vec<String>,
}

async fn transform(handler: &Handler) -> anyhow::Result<Transformed> {
    let settings = crate::transform::TransformSettings {
        warehouse: handler.settings.warehouse.clone(),
        project: handler.settings.project.dir.clone(),
        options: crate::transform::TransformOptions {
            check_freshness: true,
            target_name: Some(handler.settings.project.target_name.clone()),
            threads: handler.settings.transform_threads,
            ..Default::default()
        },
    };
    let report = pipeline::transform(&settings, |step| info!(step = %step, "transform")).await?;
    // The package's folder is read-only in Azure: dbt's artifacts go to the lake, so
    // the last runs can be inspected (and read by tools that read dbt's artifacts).
    let kept = match pipeline::keep_artifacts(&handler.lake, chrono::Utc::now(), &report.artifacts).await {
        Ok(folder) => format!("artifacts: {folder}/"),
        Err(error) => {
            tracing::warn!(%error, "could not keep the run's dbt artifacts in the lake");
            format!("WARNING: dbt's artifacts not kept in the lake: {error}")
        }
    };
    let line = format!("{} ({kept})", report.summary_line());
    let failing_tests = match report.only_failing_tests() {
        Some(tests) => tests.into_iter().map(str::to_string).collect(),
        None if report.succeeded() => Vec::new(),
        None => anyhow::bail!("{line}"),
    };
    Ok(Transformed { line, failing_tests })
}

/// A new lake blob at `path` (relative to the lake root), with its bytes when the
/// invocation carried them.
async fn ingest(handler: &Handler, path: &str, content: Option<&[u8]>) -> anyhow::Result<String> {
    match &handler.sink {
        Sink::Snowpipe { calls, database } => Ok(
            match crate::ingest::ingest_path(&handler.lake, path, content, calls, database).await? {
                IngestOutcome::Submitted { slot, files } => format!("slot {slot}: submitted {files:?}"),
                IngestOutcome::Ignored { path, reason } => format!("{path}: ignored ({reason})"),
            },
        ),
        Sink::DuckDb(database) => local_load(handler, database, path).await,
    }
}

/// Locally (`func start` with Azurite) a committed slot loads into the embedded DuckDB.
#[cfg(feature = "duckdb")]
async fn local_load(handler: &Handler, database: &DuckDbTarget, path: &str) -> anyhow::Result<String> {
    use crate::lake::LakeObject;
    if !matches!(LakeObject::parse(path), LakeObject::Manifest { .. }) {
        return Ok(format!("{path}: ignored (not a manifest)"));
    }
    let settings = crate::load::LoadSettings {
        lake: handler.settings.extract.lake.clone(),
        warehouse: database.clone(),
    };
    Ok(pipeline::load(&settings).await?.line(0.0))
}

#[cfg(not(feature = "duckdb"))]
async fn local_load(_: &Handler, _: &DuckDbTarget, _: &str) -> anyhow::Result<String> {
    anyhow::bail!("this build has no embedded DuckDB: set WAREHOUSE_URL=snowflake")
}

async fn extract_timer(State(handler): State<Arc<Handler>>, Json(invocation): Json<Invocation>) -> Response {
    let result = async {
        let timer: TimerInfo = invocation.binding("timer").map_err(anyhow::Error::msg)?;
        let now = invocation
            .utc_now()
            .ok_or_else(|| anyhow::anyhow!("Metadata.sys.UtcNow is missing"))?;
        let slot = Slot::scheduled(now);
        let deadline = timer_deadline(slot, now, handler.settings.extract.deadline).map_err(anyhow::Error::msg)?;
        let line = extract_within(&handler, slot, deadline).await?;
        Ok::<_, anyhow::Error>(if timer.is_past_due {
            format!("{line} (past due)")
        } else {
            line
        })
    }
    .await;
    match result {
        Ok(line) => ok(vec![line], Default::default()),
        Err(e) => failed("extract_timer", format!("{e:#}")),
    }
}

async fn transform_timer(State(handler): State<Arc<Handler>>, Json(_): Json<Invocation>) -> Response {
    let mut lines = Vec::new();
    // Self-healing first: what was committed but never reached Snowpipe goes again.
    // A failure here is reported but does not hold the transform back.
    match resubmit_unloaded(&handler).await {
        Ok(resubmitted) => lines.extend(resubmitted),
        Err(e) => lines.push(format!(
            "WARNING: could not check for files Snowflake never loaded: {e:#}"
        )),
    }
    match transform(&handler).await {
        Ok(Transformed { line, failing_tests }) => {
            lines.push(line);
            // Failing data tests are answered 200, with the failure in the logs: the
            // host drops `Logs` of a non-2xx reply ("Only process output bindings if
            // response is succeess code": EnsureSuccessStatusCode, then
            // ProcessLogsFromHttpResponse, in azure-functions-host's
            // DefaultHttpWorkerService), which the data-test alert reads, and a retry
            // would build the same data twice more to fail the same tests.
            if !failing_tests.is_empty() {
                let line = format!(
                    "ERROR: data tests failed, not retried (the data, not the run, is wrong): {}",
                    failing_tests.join(", ")
                );
                error!(function = "transform_timer", %line, "data tests failed");
                lines.push(line);
            }
            ok(lines, Default::default())
        }
        Err(e) => failed("transform_timer", format!("{e:#}")),
    }
}

/// On Snowflake, the hourly run's self-healing ([`pipeline::resubmit::resubmit_unloaded`]):
/// a line per slot submitted again, then the reconciliation of the window it looked
/// at (24 hours, or back to the oldest slot it left unsettled; what `status` says), so
/// the hourly run reports a gap too.
async fn resubmit_unloaded(handler: &Handler) -> anyhow::Result<Vec<String>> {
    let Sink::Snowpipe { calls, database } = &handler.sink else {
        return Ok(Vec::new());
    };
    let mut warehouse = pipeline::open_warehouse(&handler.settings.warehouse, "resubmit").await?;
    let marts = pipeline::marts(&handler.settings.project, &mut warehouse).await?;
    let (status, resubmitted) = pipeline::resubmit::resubmit_unloaded(
        &handler.lake,
        &mut warehouse,
        &marts.fact_stream_snapshots,
        calls.client(),
        database,
        chrono::Utc::now(),
        handler.settings.resubmit_after,
    )
    .await?;
    let mut lines: Vec<String> = resubmitted
        .into_iter()
        .map(|(slot, files)| {
            format!(
                "slot {slot}: submitted {} file(s) again that Snowflake had no load record of: {}",
                files.len(),
                files.join(", ")
            )
        })
        .collect();
    lines.extend(
        status
            .failures()
            .map(|slot| format!("WARNING: {}", crate::status::slot_line(slot))),
    );
    // Lines Snowpipe rejected leave the slot complete (counted), but a person should
    // know: the alert on Snowpipe load errors reads these.
    lines.extend(status.slots.iter().flat_map(|slot| {
        slot.notes
            .iter()
            .filter(|note| note.contains("rejected by Snowpipe"))
            .map(move |note| format!("WARNING: slot {}: {note}", slot.slot))
    }));
    lines.push(crate::status::summary_line(&status));
    Ok(lines)
}

async fn blob_trigger(State(handler): State<Arc<Handler>>, Json(invocation): Json<Invocation>) -> Response {
    let Some(path) = blob_path(&handler, &invocation) else {
        return failed(
            "blob_trigger",
            "the invocation names no blob (Metadata.name or Metadata.Uri)".into(),
        );
    };
    // dataType binary: the blob's bytes, base64. Without them the lake is read.
    let content = invocation.binary("blob").ok().filter(|bytes| !bytes.is_empty());
    match ingest(&handler, &path, content.as_deref()).await {
        Ok(line) => ok(vec![line], Default::default()),
        Err(e) => failed("blob_trigger", format!("{e:#}")),
    }
}

/// The blob's path relative to the lake root, from `Metadata.name` (relative to the
/// container) or `Metadata.Uri`, without the lake's prefix.
fn blob_path(handler: &Handler, invocation: &Invocation) -> Option<String> {
    let name = invocation.metadata_string("name").or_else(|| {
        let uri = url::Url::parse(&invocation.metadata_string("Uri")?).ok()?;
        // /container/path…
        uri.path()
            .trim_start_matches('/')
            .split_once('/')
            .map(|(_, path)| path.to_string())
    })?;
    let prefix = handler.settings.extract.lake.prefix();
    Some(
        name.strip_prefix(&prefix)
            .unwrap_or(&name)
            .trim_start_matches('/')
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snowpipe_is_waited_for_minutes_inside_the_function_timeout() {
        let waits: std::time::Duration = (0..SNOWPIPE_PATIENCE.max_retries)
            .map(|retry| SNOWPIPE_PATIENCE.ceiling(retry))
            .sum();
        assert!(
            waits >= std::time::Duration::from_secs(180) && waits <= std::time::Duration::from_secs(300),
            "{waits:?}"
        );
    }

    #[test]
    fn a_timer_run_ends_inside_its_slot() {
        let slot: Slot = "2026-11-23T20:00:00Z".parse().unwrap();
        let at = |m: i64, s: i64| slot.time() + chrono::Duration::minutes(m) + chrono::Duration::seconds(s);
        let ten = std::time::Duration::from_secs(600);
        assert_eq!(
            timer_deadline(slot, at(0, 4), ten),
            Ok(ten),
            "on time: the configured deadline"
        );
        assert_eq!(
            timer_deadline(slot, at(9, 0), ten),
            Ok(std::time::Duration::from_secs(330)),
            "a retry at 20:09 must finish by 20:14:30"
        );
        let late = timer_deadline(slot, at(14, 0), ten).unwrap_err();
        assert!(
            late.contains("too late to extract slot 2026-11-23T20:00:00Z: 30 s left"),
            "{late}"
        );
        assert!(timer_deadline(slot, at(20, 0), ten).is_err());
    }
}
