//! Extraction against the simulator over real HTTP, into a real (local) lake. The
//! faults (Helix's and the lake's) have their own file: `fault_matrix.rs`.

mod support;

use std::time::Duration;

use support::*;
use twitch_pipeline::extract::{ExtractError, ExtractOptions, ExtractOutcome};
use twitch_pipeline::lake::Entity;
use twitch_pipeline::simulator::{Fault, SimulatorConfig};

/// Extracts `slot()` with `faults` on, and checks the landed streams are exactly the
/// live set, each once, with users and games for all of them.
async fn lands_exactly_the_live_set(faults: &[Fault]) -> twitch_pipeline::lake::Manifest {
    let sim = spawn_sim(world(2_500, faults)).await;
    let (_dir, lake) = temp_lake();
    let outcome = extract(connect(&sim).await, &lake, slot(), &ExtractOptions::default()).await;
    let manifest = manifest_of(outcome.unwrap_or_else(|e| panic!("{faults:?}: {e}")));

    let streams = records(&lake, &manifest, Entity::Streams).await;
    let live = sim.simulator.live_stream_ids(slot());
    assert_eq!(streams.len(), live.len(), "{faults:?}: one line per live stream");
    assert_eq!(ids(&streams), live, "{faults:?}: the landed ids are the live set");

    let users = ids(&records(&lake, &manifest, Entity::Users).await);
    let games = ids(&records(&lake, &manifest, Entity::Games).await);
    for stream in &streams {
        assert!(
            users.contains(stream["user_id"].as_str().unwrap()),
            "{faults:?}: user of every stream"
        );
        let game = stream["game_id"].as_str().unwrap();
        assert!(
            game.is_empty() || games.contains(game),
            "{faults:?}: game of every stream"
        );
        assert_eq!(stream["_snapshot_at"], "2026-11-23T20:00:00Z");
        assert!(stream["_extracted_at"].as_str().unwrap() > "2026-11-23T20:00:00Z");
    }
    assert!(lake.is_committed(slot()).await.unwrap());
    manifest
}

#[tokio::test]
async fn a_clean_run_lands_exactly_the_live_set() {
    let manifest = lands_exactly_the_live_set(&[]).await;
    assert_eq!((manifest.pages, manifest.passes, manifest.found_by_rereads), (50, 2, 0));
    assert_eq!(manifest.duplicates_dropped, 0);
    assert_eq!(manifest.retries, 0);
    assert_eq!(manifest.stop_reason, "last page (no cursor)");
}

#[tokio::test]
async fn rerun_of_a_completed_slot_writes_nothing() {
    let sim = spawn_sim(world(500, &[])).await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;
    manifest_of(
        extract(client.clone(), &lake, slot(), &ExtractOptions::default())
            .await
            .unwrap(),
    );
    let before = lake_paths(&lake).await;
    let requests = sim.simulator.helix_requests();

    let again = extract(client, &lake, slot(), &ExtractOptions::default())
        .await
        .unwrap();
    assert!(matches!(again, ExtractOutcome::AlreadyExtracted(s) if s == slot()));
    assert_eq!(lake_paths(&lake).await, before);
    assert_eq!(
        sim.simulator.helix_requests(),
        requests,
        "no Helix call for a committed slot"
    );
}

#[tokio::test]
async fn a_run_past_its_deadline_publishes_nothing_and_a_retry_completes_the_slot() {
    let sim = spawn_sim(world(2_000, &[Fault::SlowResponses])).await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;
    let hurried = ExtractOptions {
        deadline: Duration::from_millis(300),
        ..ExtractOptions::default()
    };
    let error = extract(client.clone(), &lake, slot(), &hurried).await.unwrap_err();
    assert!(matches!(error, ExtractError::Deadline { .. }), "{error}");
    assert!(error.to_string().contains("nothing was published"), "{error}");
    assert!(!lake.is_committed(slot()).await.unwrap());
    assert!(lake.committed_slots().await.unwrap().is_empty());

    let manifest = manifest_of(
        extract(client, &lake, slot(), &ExtractOptions::default())
            .await
            .unwrap(),
    );
    assert_eq!(records(&lake, &manifest, Entity::Streams).await.len(), 2_000);
}

#[tokio::test]
async fn a_persistent_server_failure_fails_the_run_without_a_manifest() {
    // Every request after the token fails: the run gives up and publishes nothing.
    let sim = spawn_sim(world(300, &[])).await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;
    sim.stop().await;
    let error = extract(client, &lake, slot(), &ExtractOptions::default())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ExtractError::Helix { .. }), "{text}");
    assert!(text.contains("failed 7 times"), "{text}");
    assert!(!lake.is_committed(slot()).await.unwrap());
}

#[tokio::test]
async fn wrong_credentials_are_reported_as_such() {
    let sim = spawn_sim(world(10, &[])).await;
    let mut settings = twitch_settings(&sim);
    settings.client_secret = "wrong".into();
    let error = twitch_pipeline::twitch::HelixClient::connect(&settings, fast_client())
        .await
        .err()
        .unwrap();
    let text = error.to_string();
    assert!(
        text.contains("refused the app credentials") && text.contains("TWITCH_CLIENT_SECRET"),
        "{text}"
    );
    assert!(!text.contains("wrong"), "the secret itself is never echoed: {text}");
}

#[tokio::test]
async fn max_streams_caps_the_snapshot() {
    let sim = spawn_sim(world(1_000, &[])).await;
    let (_dir, lake) = temp_lake();
    let options = ExtractOptions {
        max_streams: Some(250),
        ..ExtractOptions::default()
    };
    let manifest = manifest_of(extract(connect(&sim).await, &lake, slot(), &options).await.unwrap());
    let streams = records(&lake, &manifest, Entity::Streams).await;
    assert_eq!(streams.len(), 250);
    assert_eq!(manifest.stop_reason, "--max-streams reached");
    // The most watched 250, since Helix lists by viewers.
    let top: Vec<u64> = streams.iter().map(|s| s["viewer_count"].as_u64().unwrap()).collect();
    assert!(top.windows(2).all(|w| w[0] >= w[1]));
}

#[tokio::test]
async fn users_and_games_fetched_within_a_day_are_skipped_next_slot() {
    let sim = spawn_sim(world(1_000, &[])).await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;
    let first = manifest_of(
        extract(client.clone(), &lake, slot(), &ExtractOptions::default())
            .await
            .unwrap(),
    );
    sim.simulator.config().clock.set(slot().offset(1).time());
    let second = manifest_of(
        extract(client, &lake, slot().offset(1), &ExtractOptions::default())
            .await
            .unwrap(),
    );

    let mut known = ids(&records(&lake, &first, Entity::Users).await);
    let new_users = ids(&records(&lake, &second, Entity::Users).await);
    assert!(new_users.is_disjoint(&known), "no user is fetched twice within a day");
    assert!(!new_users.is_empty(), "streams that started since bring new users");
    assert_eq!(second.users_skipped_fresh as usize + new_users.len(), 1_000);
    known.extend(new_users);
    for stream in records(&lake, &second, Entity::Streams).await {
        assert!(known.contains(stream["user_id"].as_str().unwrap()));
    }
    assert_eq!(second.file(Entity::Games).unwrap().rows + second.games_skipped_fresh, {
        let games: std::collections::HashSet<_> = records(&lake, &second, Entity::Streams)
            .await
            .iter()
            .filter_map(|s| s["game_id"].as_str().filter(|g| !g.is_empty()).map(String::from))
            .collect();
        games.len() as u64
    });
}

#[tokio::test]
async fn pacing_keeps_under_the_rate_limit_without_a_429() {
    // 20 points a minute, and a snapshot that needs ~23 requests: the last few must
    // wait for the bucket to refill (~3 s each) instead of being refused.
    let sim = spawn_sim(SimulatorConfig {
        rate_limit: Some(20),
        ..world(1_000, &[])
    })
    .await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;
    // One pass: the point is the pacing, and each request costs ~3 s past the 20th.
    let one_pass = ExtractOptions {
        passes: 1,
        ..ExtractOptions::default()
    };
    let manifest = manifest_of(extract(client.clone(), &lake, slot(), &one_pass).await.unwrap());
    assert_eq!(records(&lake, &manifest, Entity::Streams).await.len(), 1_000);
    let stats = client.stats();
    assert!(stats.requests.load(std::sync::atomic::Ordering::Relaxed) > 20);
    assert_eq!(
        stats.rate_limited.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "paced, never refused"
    );
}

#[tokio::test]
async fn helix_objects_land_byte_for_byte_with_nulls_and_empty_game_ids_kept() {
    let sim = spawn_sim(world(3_000, &[])).await;
    let (_dir, lake) = temp_lake();
    let manifest = manifest_of(
        extract(connect(&sim).await, &lake, slot(), &ExtractOptions::default())
            .await
            .unwrap(),
    );
    let streams = records(&lake, &manifest, Entity::Streams).await;
    assert!(streams.iter().any(|s| s["tags"].is_null()), "null tags kept as null");
    assert!(
        streams.iter().any(|s| s["game_id"] == ""),
        "empty game ids kept as \"\""
    );
    let expected = sim.simulator.world().streams(slot());
    let first = &streams[0];
    let mut original = serde_json::to_value(&expected[0]).unwrap();
    original["_snapshot_at"] = first["_snapshot_at"].clone();
    original["_extracted_at"] = first["_extracted_at"].clone();
    assert_eq!(first, &original, "every Helix field, unchanged");
}
