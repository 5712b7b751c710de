//! The lake on Azure Blob Storage, through Azurite: the real Blob API on loopback.

use std::sync::Arc;

use crate::support::azurite::Azurite;
use crate::support::*;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use twitch_pipeline::lake::{Entity, Lake};
use twitch_pipeline::simulator::SimulatorConfig;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Azurite (scripts/test installs it)"]
async fn extract_round_trips_through_azurite_and_a_rerun_writes_nothing() {
    let azurite = Azurite::start();
    azurite.create_container("raw").await;
    // Enough streams that the streams file crosses the upload part size (multipart).
    let sim = spawn_sim(SimulatorConfig {
        streams: 80_000,
        rate_limit: None,
        ..Default::default()
    })
    .await;

    let first = run(extract_command(&sim, &azurite)).await;
    let log = String::from_utf8_lossy(&first.stderr).into_owned();
    assert!(first.status.success(), "{log}");

    // Read back what landed, through a store of our own under the same prefix.
    let store = Arc::new(object_store::prefix::PrefixStore::new(azurite.store("raw"), "twitch"));
    let lake = Lake::from_store(store.clone(), "az://raw/twitch".into());
    let manifest = lake.manifest(slot()).await.unwrap().expect("the slot is committed");
    let streams = records(&lake, &manifest, Entity::Streams).await;
    assert_eq!(ids(&streams), sim.simulator.live_stream_ids(slot()));
    assert!(
        manifest.file(Entity::Streams).unwrap().bytes > 5 * 1024 * 1024,
        "multipart upload exercised"
    );
    assert_eq!(records(&lake, &manifest, Entity::Users).await.len(), 80_000);
    let paths = lake_paths(&lake).await;
    assert!(
        paths.contains(&"_manifests/date=2026-11-23/20261123T2000Z.json".to_string()),
        "{paths:?}"
    );
    assert!(paths.contains(&"_state/lookups.json".to_string()));

    // The manifest is create-only on the real Blob API too: a second write is refused.
    let manifest_path = Path::from("_manifests/date=2026-11-23/20261123T2000Z.json");
    let create = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    let second = store
        .put_opts(&manifest_path, PutPayload::from_static(b"{}"), create)
        .await;
    assert!(
        matches!(second, Err(object_store::Error::AlreadyExists { .. })),
        "{second:?}"
    );

    let before = store.head(&manifest_path).await.unwrap();
    let requests = sim.simulator.helix_requests();
    let rerun = run(extract_command(&sim, &azurite)).await;
    assert!(rerun.status.success());
    assert!(String::from_utf8_lossy(&rerun.stdout).contains("already extracted"));
    assert_eq!(
        sim.simulator.helix_requests(),
        requests,
        "no Helix call for a committed slot"
    );
    assert_eq!(
        store.head(&manifest_path).await.unwrap().e_tag,
        before.e_tag,
        "manifest untouched"
    );
    assert_eq!(lake_paths(&lake).await, paths);
}

/// `extract` of `slot()` into `az://raw/twitch` on Azurite, configured as a user would.
fn extract_command(sim: &twitch_pipeline::simulator::RunningSimulator, azurite: &Azurite) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_twitch-pipeline"));
    command.args(["extract", "--slot", &slot().rfc3339()]);
    azurite.lake_env(sim_env(&mut command, sim));
    command
}
