//! Extraction against the simulator over real HTTP, into a real (local) lake. The
//! faults (Helix's and the lake's) have their own file: `fault_matrix.rs`.

use std::time::Duration;

use crate::support::*;
use twitch_pipeline::extract::{ExtractError, ExtractOptions, ExtractOutcome};
use twitch_pipeline::lake::Entity;
use twitch_pipeline::simulator::{Fault, Latency, SimulatorConfig};

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
    assert_eq!((manifest.passes, manifest.found_by_rereads), (1, 0));
    assert_eq!(manifest.duplicates_dropped, 0);
    assert_eq!(manifest.retries, 0);
    assert_eq!(manifest.stop_reason, "every partition read to its end");
    assert!(manifest.listing_complete && manifest.partitions.iter().all(|p| p.complete));
    // Each partition's pages, plus the empty page that ends it.
    let streams: u64 = manifest.partitions.iter().map(|p| p.streams).sum();
    assert_eq!(streams, 2_500);
    assert!(
        manifest.pages >= 25 + manifest.partitions.len() as u64,
        "{}",
        manifest.pages
    );
    assert_eq!(
        manifest.requests,
        manifest.pages
            + 1
            + 25
            + manifest.file(Entity::Games).unwrap().rows.div_ceil(100)
            + manifest.games_missing.div_ceil(100),
        "every request counted: pages, the probe of the top, 25 calls for 2,500 users, the game calls"
    );
    assert!(manifest.latency_ms_p95 >= manifest.latency_ms_p50);
}

#[tokio::test]
async fn the_listing_is_read_in_language_partitions_that_cover_every_language() {
    let manifest = lands_exactly_the_live_set(&[]).await;
    let names: Vec<&str> = manifest.partitions.iter().map(|p| p.partition.as_str()).collect();
    assert!(names.contains(&"language=en"), "{names:?}");
    // The catch-alls hold the codes nobody used: 184 ISO 639-1 codes, other, zh-hk, asl.
    let values: usize = manifest
        .partitions
        .iter()
        .map(|p| match p.partition.rsplit_once('(') {
            Some((_, n)) => n.trim_end_matches(" values)").parse::<usize>().unwrap(),
            None => p.partition.matches('+').count() + 1,
        })
        .sum();
    assert_eq!(values, 187, "{names:?}");
}

#[tokio::test]
async fn the_second_slot_sizes_its_partitions_by_the_first_and_rereads_what_it_did_not_see() {
    let sim = spawn_sim(world(3_000, &[])).await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;
    let manifests = extract_slots(&sim, &client, &lake, 0..2).await;
    // At 3,000 streams no language fills a chain of its own: the first slot's plan,
    // sized for Twitch's 100,000, has a dozen partitions; the second has a few.
    assert!(manifests[1].partitions.len() < manifests[0].partitions.len());
    assert!(manifests[1].partitions.len() <= 4, "{:?}", manifests[1].partitions);
    // Streams of the first slot that ended are asked for by user id, and not found.
    assert!(manifests[1].reread_users > 0);
    assert_eq!(
        manifests[1].found_by_rereads, 0,
        "a listing that holds still misses nothing"
    );
    let live = sim.simulator.live_stream_ids(slot().offset(1));
    assert_eq!(ids(&records(&lake, &manifests[1], Entity::Streams).await), live);
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

/// A world of `streams` whose every request takes `ms` milliseconds.
fn behind_a_network(streams: usize, ms: u64) -> SimulatorConfig {
    SimulatorConfig {
        latency: Some(Latency {
            mean: Duration::from_millis(ms),
            spread: 0.0,
        }),
        ..world(streams, &[])
    }
}

#[tokio::test]
async fn a_run_at_its_deadline_commits_what_landed_marked_incomplete() {
    // 40 ms a request: a 1 s run reads only part of the listing before its chains
    // stop at 80% of the deadline.
    let sim = spawn_sim(behind_a_network(5_000, 40)).await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;
    let hurried = ExtractOptions {
        deadline: Duration::from_secs(1),
        ..ExtractOptions::default()
    };
    let started = std::time::Instant::now();
    let manifest = manifest_of(extract(client.clone(), &lake, slot(), &hurried).await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert!(!manifest.listing_complete);
    let reason = manifest.incomplete_reason.clone().unwrap();
    assert!(
        reason.contains("language=en: stopped at the run's deadline"),
        "{reason}"
    );
    let landed = records(&lake, &manifest, Entity::Streams).await.len();
    assert!(landed > 500 && landed < 5_000, "{landed}");
    assert!(lake.is_committed(slot()).await.unwrap());
    let line = twitch_pipeline::pipeline::summary_line(&ExtractOutcome::Extracted(Box::new(manifest)));
    assert!(
        line.contains("WARNING: the listing was not read to its end (language=en: stopped at the run's deadline"),
        "{line}"
    );
}

#[tokio::test]
async fn a_run_that_cannot_finish_even_its_commit_by_the_deadline_publishes_nothing() {
    // Every response takes 1.5 s and the client gives up after 0.7 s: nothing lands.
    let sim = spawn_sim(behind_a_network(300, 1_500)).await;
    let (_dir, lake) = temp_lake();
    let hurried = ExtractOptions {
        deadline: Duration::from_secs(2),
        ..ExtractOptions::default()
    };
    let error = extract(connect(&sim).await, &lake, slot(), &hurried).await.unwrap_err();
    assert!(
        matches!(error, ExtractError::NothingRead { .. } | ExtractError::Deadline { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("nothing was published"), "{error}");
    assert!(lake.committed_slots().await.unwrap().is_empty());
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
    assert!(matches!(error, ExtractError::NothingRead { .. }), "{text}");
    assert!(
        text.contains("failed 7 times") && text.contains("nothing was published"),
        "{text}"
    );
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
    assert!(!manifest.listing_complete, "a capped slot says it is partial");
    // The most watched 250, since Helix lists by viewers.
    let top: Vec<u64> = streams.iter().map(|s| s["viewer_count"].as_u64().unwrap()).collect();
    assert!(top.windows(2).all(|w| w[0] >= w[1]));
}

#[tokio::test]
async fn users_and_games_fetched_within_a_day_are_skipped_next_slot() {
    let sim = spawn_sim(world(1_000, &[])).await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;
    let mut manifests = extract_slots(&sim, &client, &lake, 0..2).await;
    let (first, second) = (manifests.remove(0), manifests.remove(0));

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
    // One chain (the top 1,000 of 1,000, read whole): the point is the pacing, and
    // each request costs ~3 s past the 20th.
    let one_chain = ExtractOptions {
        max_streams: Some(1_000),
        ..ExtractOptions::default()
    };
    let manifest = manifest_of(extract(client.clone(), &lake, slot(), &one_chain).await.unwrap());
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
async fn helix_objects_land_field_for_field_with_nulls_and_empty_game_ids_kept() {
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
    // Every record, field for field, as the simulator serialized it.
    let expected: std::collections::HashMap<String, serde_json::Value> = sim
        .simulator
        .world()
        .streams(slot())
        .iter()
        .map(|s| (s.id.clone(), serde_json::to_value(s).unwrap()))
        .collect();
    assert_eq!(streams.len(), expected.len());
    for landed in &streams {
        let mut original = expected[landed["id"].as_str().unwrap()].clone();
        original["_snapshot_at"] = landed["_snapshot_at"].clone();
        original["_extracted_at"] = landed["_extracted_at"].clone();
        assert_eq!(landed, &original, "every Helix field, unchanged");
    }
}

#[tokio::test]
async fn pages_come_gzipped_when_helix_compresses_them() {
    let sim = spawn_sim(world(2_000, &[])).await;
    let (_dir, lake) = temp_lake();
    let manifest = manifest_of(
        extract(connect(&sim).await, &lake, slot(), &ExtractOptions::default())
            .await
            .unwrap(),
    );
    assert_eq!(records(&lake, &manifest, Entity::Streams).await.len(), 2_000);
    let (gzipped, bytes) = sim.simulator.wire_counts();
    assert_eq!(
        gzipped,
        sim.simulator.helix_requests(),
        "the client asked for gzip every time"
    );
    // A page of 100 streams is ~45 KB of JSON; compressed, a few KB.
    assert!(
        bytes / manifest.pages.max(1) < 20_000,
        "{bytes} bytes for {} pages",
        manifest.pages
    );
}

/// The English partition of each manifest.
fn english(manifest: &twitch_pipeline::lake::Manifest) -> twitch_pipeline::lake::PartitionRead {
    manifest
        .partitions
        .iter()
        .find(|p| p.partition == "language=en")
        .expect("English has a partition of its own")
        .clone()
}

#[tokio::test]
async fn a_big_partition_is_read_in_segments_started_from_the_slot_befores_cursors() {
    // 30,000 streams: English is ~120 pages, read in one chain at the first slot and
    // in segments of ~50 pages after, which meet where the one below began.
    let sim = spawn_sim(world(30_000, &[])).await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;
    let manifests = extract_slots(&sim, &client, &lake, 0..3).await;
    assert_eq!(english(&manifests[0]).segments, 1);
    for (n, manifest) in manifests.iter().enumerate().skip(1) {
        let en = english(manifest);
        assert!(en.segments >= 2, "{en:?}");
        assert!(en.complete, "{en:?}");
        // Meeting costs a page or so a segment, never a second read.
        assert!(
            en.pages <= english(&manifests[0]).pages + 3 * u64::from(en.segments),
            "{en:?}"
        );
        let live = sim.simulator.live_stream_ids(slot().offset(n as i64));
        assert_eq!(ids(&records(&lake, manifest, Entity::Streams).await), live, "slot {n}");
        assert!(manifest.listing_complete);
    }
}

#[tokio::test]
async fn segments_whose_cursors_expired_leave_their_part_to_the_segment_above() {
    let sim = spawn_sim(world(30_000, &[Fault::CursorsExpire])).await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;
    let manifests = extract_slots(&sim, &client, &lake, 0..2).await;
    let en = english(&manifests[1]);
    assert!(en.segments >= 2 && en.complete, "{en:?}");
    assert!(en.end.contains("empty page"), "{en:?}");
    let live = sim.simulator.live_stream_ids(slot().offset(1));
    assert_eq!(ids(&records(&lake, &manifests[1], Entity::Streams).await), live);
}

#[tokio::test]
async fn the_simulator_refuses_what_get_streams_refuses() {
    let sim = spawn_sim(world(500, &[])).await;
    let client = connect(&sim).await;
    let rejected =
        |result: Result<twitch_pipeline::twitch::HelixPage, twitch_pipeline::twitch::HelixError>| match result {
            Err(twitch_pipeline::twitch::HelixError::Rejected { status: 400, body, .. }) => body,
            other => panic!("expected a 400, got {other:?}"),
        };
    let codes: Vec<String> = (0..101).map(|i| format!("l{i}")).collect();
    let many: Vec<(&str, &str)> = codes.iter().map(|c| ("language", c.as_str())).collect();
    assert!(rejected(client.get_page("streams", &many).await).contains("up to 100 times"));
    assert!(rejected(client.get_page("streams", &[("first", "101")]).await).contains("between 1 and 100"));
    assert!(rejected(client.get_page("streams", &[("after", "bm90IGEgY3Vyc29y")]).await).contains("invalid cursor"));
    assert!(rejected(client.get_page("streams", &[("type", "vod")]).await).contains("all or live"));
    // Filters within one parameter are alternatives; across parameters, all must hold.
    let page = client
        .get_page("streams", &[("first", "100"), ("language", "en"), ("language", "de")])
        .await
        .unwrap();
    let languages: std::collections::HashSet<String> = page
        .data
        .iter()
        .map(|s| {
            serde_json::from_str::<serde_json::Value>(s.get()).unwrap()["language"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(languages, ["en".to_string(), "de".to_string()].into());
}

#[tokio::test]
async fn a_language_no_partition_holds_is_found_on_the_probe_page_and_read_from_the_next_slot() {
    let sim = spawn_sim(world(3_000, &[Fault::UnlistedLanguage])).await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;
    let manifests = extract_slots(&sim, &client, &lake, 0..2).await;
    assert_eq!(manifests[0].languages_outside_partitions, ["tlh"]);
    assert!(!manifests[0].listing_complete);
    assert!(manifests[0].incomplete_reason.as_deref().unwrap().contains("(tlh)"));
    // The stream is on the probe page: it landed all the same.
    let live = sim.simulator.live_stream_ids(slot());
    assert_eq!(ids(&records(&lake, &manifests[0], Entity::Streams).await), live);
    // The next slot's partitions hold `tlh`.
    assert!(manifests[1].listing_complete, "{:?}", manifests[1].incomplete_reason);
    assert!(manifests[1].languages_outside_partitions.is_empty());
}

#[tokio::test]
async fn segments_stop_where_the_listing_loops_back_to_its_top() {
    for fault in [Fault::WrapAround, Fault::LoopingCursor] {
        let sim = spawn_sim(world(30_000, &[fault])).await;
        let (_dir, lake) = temp_lake();
        let client = connect(&sim).await;
        let manifests = extract_slots(&sim, &client, &lake, 0..3).await;
        for (n, manifest) in manifests.iter().enumerate().skip(1) {
            let en = english(manifest);
            assert!(en.segments >= 2 && en.complete, "{fault:?}: {en:?}");
            // The last segment does not read the listing again from its top.
            assert!(
                en.pages <= english(&manifests[0]).pages + 3 * u64::from(en.segments),
                "{fault:?}: {en:?}"
            );
            let live = sim.simulator.live_stream_ids(slot().offset(n as i64));
            assert_eq!(ids(&records(&lake, manifest, Entity::Streams).await), live, "{fault:?}");
        }
    }
}

#[tokio::test]
async fn a_first_slot_whose_partitions_are_only_guessed_is_not_doubted() {
    // The first slot sizes partitions by Twitch's usual shares (Spanish ~7,000 of
    // 100,000). A world of 30 streams has no Spanish at all: a guess is no count, and
    // an empty partition that was only guessed is simply empty.
    let sim = spawn_sim(world(30, &[])).await;
    let (_dir, lake) = temp_lake();
    let manifest = manifest_of(
        extract(connect(&sim).await, &lake, slot(), &ExtractOptions::default())
            .await
            .unwrap(),
    );
    assert!(manifest.listing_complete, "{:?}", manifest.incomplete_reason);
    let live = sim.simulator.live_stream_ids(slot());
    assert_eq!(ids(&records(&lake, &manifest, Entity::Streams).await), live);
}
