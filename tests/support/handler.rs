//! The custom handler in-process, and invocations posted to it as the Functions host does.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use twitch_pipeline::extract::ExtractSettings;
use twitch_pipeline::functions::ServeSettings;
use twitch_pipeline::lake::LakeUrl;
use twitch_pipeline::warehouse::WarehouseTarget;

use super::twitch_settings;

/// The handler on a free port; dropping the sender stops it.
pub async fn spawn_handler(settings: ServeSettings) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(twitch_pipeline::functions::serve(listener, settings, async {
        let _ = stopped.await;
    }));
    (url, stop)
}

/// Handler settings: the simulator, a local lake in `lake`, and `warehouse`.
pub fn serve_settings(
    sim: &twitch_pipeline::simulator::RunningSimulator,
    lake: &Path,
    warehouse: WarehouseTarget,
) -> ServeSettings {
    ServeSettings {
        port: 0,
        extract: ExtractSettings {
            twitch: twitch_settings(sim),
            lake: LakeUrl::Local(lake.to_path_buf()),
            slot: None,
            max_streams: None,
            deadline: Duration::from_secs(60),
            lookup_max_age: chrono::Duration::hours(24),
        },
        warehouse,
        project: twitch_pipeline::transform::ProjectSettings {
            dir: env!("CARGO_MANIFEST_DIR").into(),
            target_name: "prod".into(),
        },
        // The hourly transform on two connections, as an app setting may ask.
        transform_threads: 2,
        resubmit_after: chrono::Duration::minutes(30),
    }
}

/// A timer invocation as the host posts it, fired at `now`.
pub fn timer_envelope(function: &str, now: &str) -> Value {
    let timer = json!({"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false});
    json!({
        "Data": { "timer": timer },
        "Metadata": { "timer": timer.to_string(), "sys": { "MethodName": function, "UtcNow": now, "RandGuid": "0f6c0b5e-9a43-4f6e-8d47-6c1b7b0e6d1a" } }
    })
}

/// Posts an invocation to `function`; the status and the reply.
pub async fn post(url: &str, function: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}/{function}"))
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// A BlobTrigger (Event Grid source, dataType binary) for `path` in container `raw`.
pub fn blob_envelope(path: &str, content: &[u8]) -> Value {
    let encoded_twice = |s: String| Value::String(Value::String(s).to_string());
    json!({
        "Data": { "blob": base64::engine::general_purpose::STANDARD.encode(content) },
        "Metadata": {
            "name": encoded_twice(path.to_string()),
            "Uri": encoded_twice(format!("https://acct.blob.core.windows.net/raw/{path}")),
            "BlobTrigger": encoded_twice(format!("raw/{path}")),
            "sys": { "MethodName": "blob_trigger", "UtcNow": "2026-11-23T20:05:01.2345678Z", "RandGuid": "b" }
        }
    })
}

/// The manual HTTP function's invocation: a POST to /api/run with `body` as JSON.
pub fn run_envelope(url: &str, body: &Value, now: &str) -> Value {
    json!({"Data": {"req": {
        "Url": format!("{url}/api/run"), "Method": "POST", "Query": {}, "Headers": {"Content-Type": ["application/json"]},
        "Params": {}, "Body": body.to_string()
    }}, "Metadata": {"sys": {"MethodName": "run", "UtcNow": now, "RandGuid": "c"}}})
}

/// A GET of the manual function for job `id`, as the host forwards it (`Query` as the
/// custom handlers article shows it: the object's JSON text).
pub fn job_state_envelope(url: &str, id: &str) -> Value {
    json!({"Data": {"req": {
        "Url": format!("{url}/api/run?id={id}"), "Method": "GET", "Query": json!({"id": id}).to_string(),
        "Headers": {}, "Params": {}
    }}, "Metadata": {"sys": {"MethodName": "run", "UtcNow": "2026-11-23T20:16:30Z", "RandGuid": "d"}}})
}

/// The `jobs` queue's message `message` delivered to `run_job` for the `dequeue_count`th
/// time, at `now`.
pub fn queue_envelope(message: &str, dequeue_count: u32, now: &str) -> Value {
    // As the host builds it (Azure/azure-functions-host,
    // ScriptInvocationContextExtensions.GetHttpScriptInvocationContextValue): the message,
    // a string with no `dataType`, and the string and number metadata go through
    // JsonConvert.SerializeObject before the context is serialized: encoded twice;
    // dates parsed, so encoded once.
    let twice = |text: &str| Value::String(serde_json::to_string(text).unwrap());
    json!({
        "Data": { "job": twice(message) },
        "Metadata": {
            "DequeueCount": dequeue_count.to_string(), "Id": twice("5d4c3b2a-0000-4000-8000-000000000001"),
            "PopReceipt": twice("AgAAAAMAAAAAAAAA"), "InsertionTime": now, "ExpirationTime": "2026-11-30T20:16:00+00:00",
            "NextVisibleTime": now,
            "sys": { "MethodName": "run_job", "UtcNow": now, "RandGuid": "e" }
        }
    })
}

/// Accepts a manual job: posts `body` to `run` at `now`, expects 202 with a job id and
/// the queue message, then delivers the message to `run_job` as the host does. Returns
/// `run_job`'s status and reply, and the job's id.
pub async fn run_queued_job(url: &str, body: &Value, now: &str) -> (u16, Value, String) {
    let (status, accepted) = post(url, "run", &run_envelope(url, body, now)).await;
    assert_eq!(status, 200, "{accepted}");
    let res = &accepted["Outputs"]["res"];
    assert_eq!(res["statusCode"], 202, "{accepted}");
    let answer: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
    let id = answer["id"].as_str().unwrap().to_string();
    assert_eq!(answer["state"], "queued", "{answer}");
    assert_eq!(
        res["headers"]["Location"].as_str(),
        Some(format!("{url}/api/run?id={id}").as_str())
    );
    let message = accepted["Outputs"]["job"].as_str().expect("the job goes on the queue");
    let (status, reply) = post(url, "run_job", &queue_envelope(message, 1, now)).await;
    (status, reply, id)
}

/// The job's record as `GET /api/run?id=` answers it: the HTTP status and the record.
pub async fn job_state(url: &str, id: &str) -> (u64, Value) {
    let (status, reply) = post(url, "run", &job_state_envelope(url, id)).await;
    assert_eq!(status, 200, "{reply}");
    let res = &reply["Outputs"]["res"];
    let body = res["body"].as_str().unwrap_or_default();
    (
        res["statusCode"].as_u64().unwrap_or_default(),
        serde_json::from_str(body).unwrap_or(Value::String(body.to_string())),
    )
}

/// The host's front for the `run` function, as a caller outside the app meets it: a
/// function-level HTTP trigger refuses a request without a valid key with 401
/// ("Authorization level": a function-specific API key is required, in
/// `x-functions-key` or `code`; learn.microsoft.com/azure/azure-functions/
/// functions-bindings-http-webhook-trigger), and answers a GET with the `res` output
/// the handler returned, or 500 when the handler does not answer. Its URL; it stops
/// with the test's runtime.
pub async fn host_front(handler_url: String, key: &'static str) -> String {
    use axum::extract::{Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    async fn run(
        State((handler, key)): State<(String, &'static str)>,
        headers: HeaderMap,
        Query(query): Query<std::collections::HashMap<String, String>>,
    ) -> axum::response::Response {
        let given = headers
            .get("x-functions-key")
            .and_then(|v| v.to_str().ok())
            .or(query.get("code").map(String::as_str));
        if given != Some(key) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let id = query.get("id").cloned().unwrap_or_default();
        let reply = reqwest::Client::new()
            .post(format!("{handler}/run"))
            .json(&job_state_envelope(&handler, &id))
            .send()
            .await;
        let Ok(reply) = reply else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let reply: Value = reply.json().await.unwrap_or_default();
        let res = &reply["Outputs"]["res"];
        let status = res["statusCode"]
            .as_u64()
            .and_then(|s| StatusCode::from_u16(s as u16).ok());
        (
            status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            res["body"].as_str().unwrap_or_default().to_string(),
        )
            .into_response()
    }
    let app = axum::Router::new()
        .route("/api/run", axum::routing::get(run))
        .with_state((handler_url, key));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}
