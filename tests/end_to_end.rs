//! End to end on loopback, as in Azure: the host (emulated) fires extract_timer on
//! `serve`, the slot lands in Blob Storage (Azurite), Event Grid (emulated) delivers
//! the new manifest to blob_trigger, and its files reach Snowpipe (the fake).

mod support;

use std::sync::Arc;

use base64::Engine;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde_json::{Value, json};
use support::azurite::Azurite;
use support::fake_snowpipe::fake_snowpipe_settings;
use support::*;
use twitch_pipeline::ingest::pipe_for;
use twitch_pipeline::lake::{Entity, Lake};
use twitch_pipeline::simulator::SimulatorConfig;

struct Serve(std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timer_slot_travels_through_azurite_and_the_blob_trigger_to_snowpipe() {
    let Some(azurite) = Azurite::start() else { return };
    azurite.create_container("raw").await;
    let sim = spawn_sim(SimulatorConfig {
        streams: 1_000,
        rate_limit: None,
        ..Default::default()
    })
    .await;
    let (fake, snowflake) = fake_snowpipe_settings().await;

    let port = free_port();
    let mut command = serve_command(port);
    let mut serve = Serve(
        snowflake_env(&mut command, &snowflake)
            .env("TWITCH_CLIENT_ID", twitch_pipeline::simulator::DEFAULT_CLIENT_ID)
            .env(
                "TWITCH_CLIENT_SECRET",
                twitch_pipeline::simulator::DEFAULT_CLIENT_SECRET,
            )
            .env("TWITCH_API_URL", sim.api_url())
            .env("TWITCH_AUTH_URL", sim.auth_url())
            .env("LAKE_URL", "az://raw/twitch")
            .env("AZURE_STORAGE_USE_EMULATOR", "true")
            .env("AZURITE_BLOB_STORAGE_URL", &azurite.url)
            .env_remove("AZURE_STORAGE_ACCOUNT_NAME")
            .env("WAREHOUSE_URL", "snowflake")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_for_serve(&mut serve.0, &url, std::time::Duration::from_secs(15)).await;

    // The host fires the 20:00 timer four seconds late.
    let timer = json!({"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false});
    let envelope = json!({"Data": {"timer": timer}, "Metadata": {"timer": timer.to_string(),
        "sys": {"MethodName": "extract_timer", "UtcNow": "2026-11-23T20:00:04.1234567Z", "RandGuid": "r"}}});
    let reply = http
        .post(format!("{url}/extract_timer"))
        .json(&envelope)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap());

    // The manifest is in Blob Storage, under the lake's prefix.
    let store = Arc::new(azurite.store("raw"));
    let manifest_blob = format!("twitch/_manifests/date=2026-11-23/{}.json", slot().compact());
    let content = store
        .get(&Path::from(manifest_blob.as_str()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let lake = Lake::from_store(
        Arc::new(object_store::prefix::PrefixStore::new(azurite.store("raw"), "twitch")),
        "az://raw/twitch".into(),
    );
    let manifest = lake.manifest(slot()).await.unwrap().unwrap();

    // Event Grid delivers BlobCreated for it: name relative to the container, encoded twice.
    let twice = |s: String| Value::String(Value::String(s).to_string());
    let envelope = json!({
        "Data": {"blob": base64::engine::general_purpose::STANDARD.encode(&content)},
        "Metadata": {"name": twice(manifest_blob.clone()), "Uri": twice(format!("{}/devstoreaccount1/raw/{manifest_blob}", azurite.url)),
            "sys": {"MethodName": "blob_trigger", "UtcNow": "2026-11-23T20:00:09Z", "RandGuid": "s"}}
    });
    let reply = http
        .post(format!("{url}/blob_trigger"))
        .json(&envelope)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap());

    let calls = fake.lock().unwrap().calls.clone();
    assert_eq!(calls.len(), 3);
    for entity in Entity::ALL {
        let call = calls.iter().find(|c| c.pipe == pipe_for("TWITCH", entity)).unwrap();
        assert_eq!(
            call.files,
            [manifest.file(entity).unwrap().path.clone()],
            "paths relative to the stage at az://raw/twitch"
        );
    }
}
