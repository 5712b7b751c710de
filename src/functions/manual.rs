//! The manual HTTP function `run`, and `run_job`, the queue function that runs what
//! `run` accepted.
//!
//! - `POST /api/run {"job": "ingest", "path": …}` runs at once (a few Snowpipe calls)
//!   and answers 200 with its line.
//! - `POST /api/run {"job": "extract" [, "slot": RFC3339] | "transform"}` answers
//!   `202 Accepted` at once with a job id: an HTTP-triggered function must answer
//!   within 230 s on Azure whatever `functionTimeout` says, and these can take longer
//!   ("Azure Functions hosting options", function app time-out duration:
//!   learn.microsoft.com/azure/azure-functions/functions-scale#timeout). The job's
//!   record goes to the lake and its id to the `jobs` queue (the function's queue
//!   output); `run_job` takes it from there. The work does not run in the background
//!   of the HTTP invocation: the host does not track background tasks and may shut an
//!   instance down under them, so deferred work belongs to a queue-triggered function
//!   ("Improve the performance and reliability of Azure Functions": avoid long-running
//!   functions, make sure background tasks complete,
//!   learn.microsoft.com/azure/azure-functions/performance-reliability).
//! - `GET /api/run?id=…` answers the job's record from the lake, on any instance.
//!
//! The host treats a non-2xx reply from the handler as a failed invocation and gives
//! its caller a bare 500, so every outcome goes back through the HTTP output `res`,
//! with its real status (200, 202, 400 for a bad request, 404 for an unknown job, 500
//! for a failed one) and the reason in the body ("Azure Functions custom handlers":
//! the handler's response carries the HTTP output binding,
//! learn.microsoft.com/azure/azure-functions/functions-custom-handlers).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};
use tracing::{error, info};

use super::jobs::{HEARTBEAT, JobRecord, JobSpec, JobState};
use super::{Handler, Invocation, extract, failed, ingest, ok, transform};
use crate::lake::Slot;

/// What went wrong with a manual run, as its caller should see it.
enum RunError {
    /// The request cannot be run as asked: 400.
    BadRequest(String),
    /// No such job: 404.
    NotFound(String),
    /// The job ran and failed, or its record could not be kept: 500.
    Failed(anyhow::Error),
}

/// What the caller gets: a status, and a text or JSON body.
struct Answer {
    status: u16,
    body: Value,
    /// The `Location` of a job's state, for a 202.
    location: Option<String>,
    /// A job to put on the `jobs` queue.
    queued: Option<String>,
}

impl Answer {
    fn text(status: u16, text: String) -> Answer {
        Answer {
            status,
            body: Value::String(text),
            location: None,
            queued: None,
        }
    }
}

/// The request the host forwarded in `Data.req`.
struct HttpRequest {
    method: String,
    url: String,
    query: serde_json::Map<String, Value>,
    body: Value,
}

impl HttpRequest {
    fn from(invocation: &Invocation) -> HttpRequest {
        let request = invocation.data.get("req").cloned().unwrap_or(Value::Null);
        let body = match request.get("Body") {
            Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
            Some(other) => other.clone(),
            None => Value::Null,
        };
        let url = request
            .get("Url")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        // `Query` arrives as an object, or as that object's JSON text (the custom
        // handlers article shows `"Query": "{}"`); the URL's own query is the fallback.
        let mut query = match request.get("Query") {
            Some(Value::Object(map)) => map.clone(),
            Some(Value::String(text)) => serde_json::from_str(text).unwrap_or_default(),
            _ => serde_json::Map::new(),
        };
        if let Ok(parsed) = url::Url::parse(&url) {
            for (key, value) in parsed.query_pairs() {
                query
                    .entry(key.into_owned())
                    .or_insert_with(|| Value::String(value.into_owned()));
            }
        }
        HttpRequest {
            method: request
                .get("Method")
                .and_then(Value::as_str)
                .unwrap_or("POST")
                .to_ascii_uppercase(),
            url,
            query,
            body,
        }
    }

    /// Where the caller reads a job's state: this function's URL with `?id=`.
    fn status_url(&self, id: &str) -> String {
        let base = self.url.split('?').next().unwrap_or_default();
        format!("{base}?id={id}")
    }
}

/// `run`: see the module documentation.
pub(super) async fn run(State(handler): State<Arc<Handler>>, Json(invocation): Json<Invocation>) -> Response {
    let request = HttpRequest::from(&invocation);
    let now = invocation.utc_now().unwrap_or_else(chrono::Utc::now);
    let result = match request.method.as_str() {
        "GET" => job_state(&handler, &request, chrono::Utc::now()).await,
        _ => start(&handler, &request, now).await,
    };
    let answer = result.unwrap_or_else(|e| match e {
        RunError::BadRequest(reason) => Answer::text(400, reason),
        RunError::NotFound(reason) => Answer::text(404, reason),
        RunError::Failed(error) => {
            let reason = format!("{error:#}");
            error!(function = "run", %reason, "job failed");
            Answer::text(500, reason)
        }
    });
    let log = format!("{}: {}", answer.status, text_of(&answer.body));
    let (body, content_type) = match &answer.body {
        Value::String(text) => (text.clone(), "text/plain"),
        other => (other.to_string(), "application/json"),
    };
    let mut headers = json!({ "Content-Type": content_type });
    if let Some(location) = &answer.location {
        headers["Location"] = Value::String(location.clone());
    }
    let mut outputs = serde_json::Map::new();
    outputs.insert(
        "res".into(),
        json!({ "statusCode": answer.status, "body": body, "headers": headers }),
    );
    if let Some(message) = answer.queued {
        outputs.insert("job".into(), Value::String(message));
    }
    ok(vec![log], outputs)
}

fn text_of(body: &Value) -> String {
    match body {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A POST: ingest runs now; extract and transform are queued and answered 202.
async fn start(
    handler: &Handler,
    request: &HttpRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Answer, RunError> {
    let body = &request.body;
    let spec = match body.get("job").and_then(Value::as_str) {
        Some("extract") => {
            let slot = match body.get("slot").and_then(Value::as_str) {
                Some(text) => text
                    .parse::<Slot>()
                    .map_err(|e| RunError::BadRequest(format!("\"slot\": {e}")))?,
                None => Slot::containing(now),
            };
            manual_slot(slot, now).map_err(RunError::BadRequest)?;
            JobSpec::Extract { slot }
        }
        Some("transform") => JobSpec::Transform,
        Some("ingest") => {
            let path = body
                .get("path")
                .and_then(Value::as_str)
                .ok_or_else(|| RunError::BadRequest("ingest needs \"path\"".into()))?;
            let line = ingest(handler, path, None).await.map_err(RunError::Failed)?;
            return Ok(Answer::text(200, line));
        }
        Some("doctor") => {
            // Quick (seconds), so answered at once: the app's own settings and
            // identity, checked hop by hop from inside the Function App.
            let checks = crate::doctor::run(&doctor_settings(handler)).await;
            let failed = checks.iter().filter(|c| !c.ok).count();
            return Ok(Answer {
                status: if failed == 0 { 200 } else { 500 },
                body: json!({ "failed": failed, "checks": checks }),
                location: None,
                queued: None,
            });
        }
        _ => {
            return Err(RunError::BadRequest(
                r#"the body must be {"job": "extract"|"transform"|"ingest"|"doctor", …}"#.into(),
            ));
        }
    };
    let record = JobRecord::queued(spec, now);
    record
        .save(&handler.lake)
        .await
        .map_err(|e| RunError::Failed(anyhow::anyhow!("could not record the job in the lake: {e}")))?;
    let location = request.status_url(&record.id);
    info!(id = %record.id, job = ?spec, "job queued");
    Ok(Answer {
        status: 202,
        body: json!({ "id": record.id, "state": record.state, "status": location }),
        location: Some(location),
        queued: Some(json!({ "id": record.id }).to_string()),
    })
}

/// A GET: the job's record, as the lake has it.
async fn job_state(
    handler: &Handler,
    request: &HttpRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Answer, RunError> {
    let id =
        request.query.get("id").and_then(Value::as_str).ok_or_else(|| {
            RunError::BadRequest("GET needs ?id=<job id>, as the 202 that accepted the job gave".into())
        })?;
    match JobRecord::load(&handler.lake, id).await {
        Ok(Some(record)) => Ok(Answer {
            status: 200,
            body: record.view(now),
            location: None,
            queued: None,
        }),
        Ok(None) => Err(RunError::NotFound(format!("no job {id} in this lake"))),
        Err(reason) if reason.contains("is not a job id") => Err(RunError::BadRequest(reason)),
        Err(reason) => Err(RunError::Failed(anyhow::Error::msg(reason))),
    }
}

/// `run_job`: the `jobs` queue's trigger. Runs the job its message names, beating
/// while it runs, and records how it ended. A failed job answers 500, so the host
/// records the invocation as failed (the `function-failed` alert); the queue's
/// redelivery then finds the record finished and does not run it again: a manual job
/// runs once, and its caller decides. A record found `running` means the instance
/// that ran it stopped: that job runs again.
pub(super) async fn run_job(State(handler): State<Arc<Handler>>, Json(invocation): Json<Invocation>) -> Response {
    let result = async {
        let message: Value = invocation.binding("job").map_err(anyhow::Error::msg)?;
        let id = message
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow::anyhow!("the queue message names no job: {message}"))?;
        let mut record = JobRecord::load(&handler.lake, id)
            .await
            .map_err(anyhow::Error::msg)?
            .ok_or_else(|| anyhow::anyhow!("no record of job {id} in the lake"))?;
        if record.is_finished() {
            return Ok(format!(
                "job {id} already {}; POST the job again to run it again",
                serde_json::to_value(record.state)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or("finished")
            ));
        }
        let now = invocation.utc_now().unwrap_or_else(chrono::Utc::now);
        run_recorded(&handler, &mut record, now).await
    }
    .await;
    match result {
        Ok(line) => ok(vec![line], Default::default()),
        Err(e) => failed("run_job", format!("{e:#}")),
    }
}

/// Runs the job of `record`, invoked at `now` (the invocation's time).
async fn run_recorded(
    handler: &Handler,
    record: &mut JobRecord,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<String> {
    let started = chrono::Utc::now();
    record.state = JobState::Running;
    record.started_at = Some(started);
    record.heartbeat_at = Some(started);
    record.attempts += 1;
    record.save(&handler.lake).await?;

    let job = run_spec(handler, record.spec, now);
    tokio::pin!(job);
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    let outcome = loop {
        tokio::select! {
            outcome = &mut job => break outcome,
            _ = beat.tick() => {
                record.heartbeat_at = Some(chrono::Utc::now());
                if let Err(error) = record.save(&handler.lake).await {
                    tracing::warn!(%error, id = %record.id, "could not record the job's heartbeat");
                }
            }
        }
    };
    record.finished_at = Some(chrono::Utc::now());
    let (state, line) = match &outcome {
        Ok(line) => (JobState::Succeeded, format!("job {}: {line}", record.id)),
        Err(error) => (JobState::Failed, format!("job {} failed: {error:#}", record.id)),
    };
    record.state = state;
    match outcome {
        Ok(result) => record.result = Some(result),
        Err(error) => record.error = Some(format!("{error:#}")),
    }
    record.save(&handler.lake).await?;
    anyhow::ensure!(state == JobState::Succeeded, "{line}");
    Ok(line)
}

/// `doctor`'s settings from the app's: Twitch, the lake, and Snowflake when it is the
/// warehouse.
fn doctor_settings(handler: &Handler) -> crate::doctor::DoctorSettings {
    let settings = &handler.settings;
    crate::doctor::DoctorSettings {
        app: None,
        project: Some(settings.project.clone()),
        twitch: Some(settings.extract.twitch.clone()),
        lake: Some(settings.extract.lake.clone()),
        snowflake: match &settings.warehouse {
            crate::warehouse::WarehouseTarget::Snowflake(snowflake) => Some((**snowflake).clone()),
            crate::warehouse::WarehouseTarget::DuckDb(_) => None,
        },
        storage_account: crate::doctor::storage_account_from_env(),
        problems: Vec::new(),
        json: true,
    }
}

async fn run_spec(handler: &Handler, spec: JobSpec, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<String> {
    match spec {
        JobSpec::Extract { slot } => {
            // The queue may have held it: the slot must still be current.
            manual_slot(slot, now).map_err(anyhow::Error::msg)?;
            extract(handler, slot).await
        }
        JobSpec::Transform => {
            let done = transform(handler).await?;
            anyhow::ensure!(
                done.failing_tests.is_empty(),
                "{}: data tests failed: {}",
                done.line,
                done.failing_tests.join(", ")
            );
            Ok(done.line)
        }
    }
}

/// A manual extraction may take only the current slot (one either side, for clocks
/// and a run started at a boundary): Twitch keeps no history, so a past slot would
/// stamp today's streams with an old time, and a future one would block its real run.
fn manual_slot(slot: Slot, now: chrono::DateTime<chrono::Utc>) -> Result<(), String> {
    let current = Slot::containing(now);
    if (slot.index() - current.index()).abs() <= 1 {
        return Ok(());
    }
    let why = if slot < current {
        "Twitch keeps no history, so a past slot cannot be snapshotted again (it would stamp today's streams with an old time)"
    } else {
        "a future slot would be committed now and block its real run"
    };
    Err(format!(
        "slot {slot} is not the current slot ({current}, one either side allowed): {why}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_extraction_takes_only_the_current_slot() {
        let now: chrono::DateTime<chrono::Utc> = "2026-11-23T20:16:00Z".parse().unwrap();
        let current = Slot::containing(now);
        for n in [-1, 0, 1] {
            assert_eq!(manual_slot(current.offset(n), now), Ok(()));
        }
        let past = manual_slot(current.offset(-2), now).unwrap_err();
        assert!(
            past.contains("keeps no history") && past.contains("2026-11-23T19:45:00Z"),
            "{past}"
        );
        assert!(
            manual_slot(current.offset(4), now)
                .unwrap_err()
                .contains("block its real run")
        );
    }

    #[test]
    fn the_query_comes_as_an_object_as_json_text_or_in_the_url() {
        let request = |req: Value| HttpRequest::from(&serde_json::from_value(json!({"Data": {"req": req}})).unwrap());
        for req in [
            json!({"Method": "GET", "Url": "https://a/api/run", "Query": {"id": "x1"}}),
            json!({"Method": "GET", "Url": "https://a/api/run", "Query": "{\"id\":\"x1\"}"}),
            json!({"Method": "GET", "Url": "https://a/api/run?code=k&id=x1", "Query": "{}"}),
        ] {
            let parsed = request(req.clone());
            assert_eq!(
                (parsed.method.as_str(), parsed.query["id"].as_str()),
                ("GET", Some("x1")),
                "{req}"
            );
        }
        let posted = request(json!({"Url": "https://a/api/run?code=k", "Body": "{\"job\":\"transform\"}"}));
        assert_eq!(posted.method, "POST");
        assert_eq!(posted.body["job"], "transform");
        assert_eq!(posted.status_url("x1"), "https://a/api/run?id=x1");
    }
}
