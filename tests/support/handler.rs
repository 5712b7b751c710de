//! The custom handler in-process, and invocations posted to it as the Functions host does.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use twitch_pipeline::config::{ExtractSettings, ServeSettings, WarehouseTarget};
use twitch_pipeline::lake::LakeUrl;

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
            passes: 2,
        },
        warehouse,
        project: env!("CARGO_MANIFEST_DIR").into(),
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
