//! The fault matrix: one test per fault, each asserting that extraction publishes a
//! complete slot or none, with no stream twice and no panic. The README's reliability
//! section links each row here.
//!
//! "Complete" is measured against the simulator's ground truth: the live set for a
//! listing that holds still, and every stream the pass was served for one that moves
//! (a single pass over an offset-paged listing that re-sorts can miss a stream that
//! climbs above the reader; see `simulator::listing`).

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::local::LocalFileSystem;
use support::failing_store::FailingStore;
use support::*;
use twitch_pipeline::extract::{ExtractError, ExtractOptions, ExtractOutcome};
use twitch_pipeline::lake::{Entity, Lake, Manifest};
use twitch_pipeline::simulator::{Fault, RunningSimulator};

/// Runs one extraction of `slot()` against a simulator with `faults`.
async fn extract_with(streams: usize, faults: &[Fault]) -> (RunningSimulator, tempfile::TempDir, Lake, Manifest) {
    let sim = spawn_sim(world(streams, faults)).await;
    let (dir, lake) = temp_lake();
    let outcome = extract(connect(&sim).await, &lake, slot(), &ExtractOptions::default()).await;
    let manifest = manifest_of(outcome.unwrap_or_else(|e| panic!("{faults:?}: {e}")));
    (sim, dir, lake, manifest)
}

/// The published slot holds exactly `expected` streams, each once, with the user and
/// game of every one (but those served unusable), and its manifest agrees with its
/// files.
async fn assert_complete(lake: &Lake, manifest: &Manifest, expected: &HashSet<String>, spoiled: &HashSet<String>) {
    let streams = records(lake, manifest, Entity::Streams).await;
    let landed = ids(&streams);
    assert_eq!(landed.len(), streams.len(), "no stream lands twice");
    let missing: Vec<_> = expected.difference(&landed).take(5).collect();
    let extra: Vec<_> = landed.difference(expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "landed {} of {} expected; missing {missing:?}, unexpected {extra:?}",
        landed.len(),
        expected.len()
    );
    let users = ids(&records(lake, manifest, Entity::Users).await);
    let games = ids(&records(lake, manifest, Entity::Games).await);
    for stream in &streams {
        let user = stream["user_id"].as_str().unwrap();
        assert!(
            users.contains(user) || spoiled.contains(user),
            "user {user} of a stream"
        );
        let game = stream["game_id"].as_str().unwrap();
        assert!(
            game.is_empty() || games.contains(game) || spoiled.contains(game),
            "game {game} of a stream"
        );
    }
    for file in &manifest.files {
        let lines = read_ndjson(lake, &file.path).await.len() as u64;
        assert_eq!(lines, file.rows, "{}: the manifest counts its lines", file.path);
        assert!(file.path.contains(&manifest.run), "{}: a run's own file", file.path);
    }
    assert!(
        manifest.listing_complete,
        "paging read the listing to its end: {}",
        manifest.stop_reason
    );
    assert!(lake.is_committed(slot()).await.unwrap());
}

/// A listing that holds still: the slot holds exactly the live set.
async fn lands_the_live_set(streams: usize, faults: &[Fault]) -> Manifest {
    let (sim, _dir, lake, manifest) = extract_with(streams, faults).await;
    let live = sim.simulator.live_stream_ids(slot());
    assert_complete(&lake, &manifest, &live, &HashSet::new()).await;
    manifest
}

/// A listing that moves: every stream the pass was served lands once, and coverage of
/// the streams live all through the pass is what a complete single pass reaches.
async fn lands_every_stream_served(streams: usize, faults: &[Fault]) -> Manifest {
    let (sim, _dir, lake, manifest) = extract_with(streams, faults).await;
    let truth = sim.simulator.pass_truth().await.expect("the listing was read");
    assert_complete(&lake, &manifest, &truth.served, &HashSet::new()).await;
    let landed = ids(&records(&lake, &manifest, Entity::Streams).await);
    let covered = truth.live_throughout.intersection(&landed).count() as f64 / truth.live_throughout.len() as f64;
    eprintln!(
        "{faults:?}: coverage {covered:.4} of {} streams live all through; {} started, {} ended, {} duplicates dropped",
        truth.live_throughout.len(),
        truth.started,
        truth.ended,
        manifest.duplicates_dropped
    );
    // Two passes (the default): the second lands what climbed past the first.
    assert!(covered > 0.99, "coverage {covered}");
    manifest
}

fn assert_nothing_published(lake_paths: &[String]) {
    assert!(
        !lake_paths.iter().any(|p| p.starts_with("_manifests/")),
        "no manifest: {lake_paths:?}"
    );
}

#[tokio::test]
async fn rate_limit_bursts_are_waited_out() {
    let manifest = lands_the_live_set(2_500, &[Fault::RateLimitBursts]).await;
    assert!(manifest.retries >= 1);
}

#[tokio::test]
async fn a_429_storm_fails_the_run_well_before_its_deadline_and_publishes_nothing() {
    let sim = spawn_sim(world(2_500, &[Fault::RateLimitStorm])).await;
    let (_dir, lake) = temp_lake();
    let started = Instant::now();
    let error = extract(connect(&sim).await, &lake, slot(), &ExtractOptions::default())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ExtractError::Helix { .. }), "{text}");
    assert!(text.contains("kept answering 429"), "{text}");
    // The test client waits 3 s on 429s at most; the run's deadline is 600 s.
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    assert_nothing_published(&lake_paths(&lake).await);
}

#[tokio::test]
async fn a_rate_limit_reset_a_day_away_fails_at_once_instead_of_sleeping_past_the_slot() {
    let sim = spawn_sim(world(2_500, &[Fault::FarRateLimitReset])).await;
    let (_dir, lake) = temp_lake();
    let started = Instant::now();
    let error = extract(connect(&sim).await, &lake, slot(), &ExtractOptions::default())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("Ratelimit-Reset is 86"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_nothing_published(&lake_paths(&lake).await);
}

#[tokio::test]
async fn server_errors_are_retried() {
    let manifest = lands_the_live_set(2_500, &[Fault::ServerErrors]).await;
    assert!(manifest.retries >= 5, "{}", manifest.retries);
}

#[tokio::test]
async fn timeouts_are_retried() {
    let manifest = lands_the_live_set(2_500, &[Fault::SlowResponses]).await;
    assert!(manifest.retries >= 3, "{}", manifest.retries);
}

#[tokio::test]
async fn a_revoked_token_is_replaced() {
    let manifest = lands_the_live_set(2_500, &[Fault::TokenRevoked]).await;
    assert!(manifest.retries >= 1);
}

#[tokio::test]
async fn truncated_bodies_are_retried() {
    let manifest = lands_the_live_set(2_500, &[Fault::MalformedBody]).await;
    assert!(manifest.retries >= 3, "{}", manifest.retries);
}

#[tokio::test]
async fn a_cursor_looping_back_after_the_last_page_ends_paging() {
    let manifest = lands_the_live_set(2_537, &[Fault::LoopingCursor]).await;
    assert_eq!(manifest.stop_reason, "cursor seen before");
}

#[tokio::test]
async fn a_listing_that_wraps_to_its_top_ends_paging() {
    let manifest = lands_the_live_set(2_537, &[Fault::WrapAround]).await;
    assert_eq!(
        manifest.stop_reason,
        "a page of streams already kept (the listing started over)"
    );
}

#[tokio::test]
async fn a_loop_after_a_full_page_is_reported_not_passed_off_as_complete() {
    // 2,500 streams: the last page is full, so the loop after it may not be the end.
    let (_sim, _dir, _lake, manifest) = extract_with(2_500, &[Fault::LoopingCursor]).await;
    assert!(!manifest.listing_complete);
    let line = twitch_pipeline::pipeline::summary_line(&ExtractOutcome::Extracted(Box::new(manifest)));
    assert!(
        line.contains("WARNING: paging stopped before the listing's end (cursor seen before)"),
        "{line}"
    );
}

#[tokio::test]
async fn an_empty_last_page_ends_paging() {
    let manifest = lands_the_live_set(2_500, &[Fault::EmptyLastPage]).await;
    assert_eq!(manifest.stop_reason, "empty page");
    assert_eq!(manifest.pages, 2 * 26, "two passes, each ending on the empty page");
}

#[tokio::test]
async fn streams_repeated_on_a_later_page_land_once() {
    let manifest = lands_the_live_set(2_500, &[Fault::Duplicates]).await;
    assert!(manifest.duplicates_dropped >= 40, "{}", manifest.duplicates_dropped);
}

#[tokio::test]
async fn overlapping_pages_land_every_live_stream() {
    // The case that landed 100 of 1,000: each page repeats the previous page's tail,
    // whose streams have more viewers than the last one kept.
    let manifest = lands_the_live_set(1_000, &[Fault::OverlappingPages]).await;
    assert!(manifest.duplicates_dropped >= 9, "{}", manifest.duplicates_dropped);
    assert_eq!(manifest.stop_reason, "last page (no cursor)");
}

#[tokio::test]
async fn counts_that_change_and_re_sort_land_every_stream_served_once() {
    let manifest = lands_every_stream_served(5_000, &[Fault::ListingChurn]).await;
    assert!(manifest.duplicates_dropped > 0, "churn moves streams across pages");
    assert!(
        manifest.found_by_rereads > 50,
        "the second pass lands streams the first missed: {}",
        manifest.found_by_rereads
    );
}

#[tokio::test]
async fn streams_going_offline_and_starting_mid_pass_land_every_stream_served_once() {
    lands_every_stream_served(5_000, &[Fault::StreamsComeAndGo]).await;
}

#[tokio::test]
async fn a_moving_listing_with_every_paging_fault_lands_every_stream_served_once() {
    lands_every_stream_served(
        5_000,
        &[
            Fault::OverlappingPages,
            Fault::ListingChurn,
            Fault::StreamsComeAndGo,
            Fault::Duplicates,
            Fault::ServerErrors,
            Fault::MalformedBody,
            Fault::EmptyLastPage,
        ],
    )
    .await;
}

#[tokio::test]
async fn a_streams_outage_during_the_re_read_keeps_the_first_pass_and_says_so() {
    let (sim, _dir, lake, manifest) = extract_with(2_500, &[Fault::StreamsOutageAfterFirstPass]).await;
    assert_complete(
        &lake,
        &manifest,
        &sim.simulator.live_stream_ids(slot()),
        &HashSet::new(),
    )
    .await;
    assert_eq!(manifest.passes, 1);
    let failure = manifest.reread_failure.clone().expect("the failed re-read is recorded");
    assert!(failure.contains("503"), "{failure}");
    let line = twitch_pipeline::pipeline::summary_line(&ExtractOutcome::Extracted(Box::new(manifest)));
    assert!(line.contains("a re-read of the listing failed"), "{line}");
}

#[tokio::test]
async fn unusable_records_are_quarantined_with_their_reason_and_counted() {
    let (sim, _dir, lake, manifest) = extract_with(2_500, &[Fault::UnusableRecords]).await;
    let spoiled = sim.simulator.spoiled_ids();
    let live = sim.simulator.live_stream_ids(slot());
    let expected: HashSet<String> = live.difference(&spoiled).cloned().collect();
    assert!(expected.len() < live.len(), "some streams were served unusable");
    assert_complete(&lake, &manifest, &expected, &spoiled).await;

    let mut reasons = Vec::new();
    for path in &manifest.quarantine_files {
        for line in read_ndjson(&lake, path).await {
            assert!(line["record"].is_object(), "{line}");
            reasons.push(line["reason"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(reasons.len() as u64, manifest.quarantined);
    assert_eq!(
        manifest.quarantined as usize,
        spoiled.len(),
        "every unusable record is kept"
    );
    for expected in ["missing field `id`", "invalid type", "invalid UTF-8"] {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "a reason says {expected:?}: {reasons:?}"
        );
    }
}

#[tokio::test]
async fn a_lake_outage_stops_paging_at_the_first_failed_write() {
    let sim = spawn_sim(world(50_000, &[])).await;
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let failing = FailingStore::new(local, None);
    let lake = Lake::from_store(failing.clone(), "failing".into());
    let error = extract(connect(&sim).await, &lake, slot(), &ExtractOptions::default())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ExtractError::Lake { .. }), "{text}");
    assert!(text.contains("injected outage"), "{text}");
    // A whole pass is 500 pages of streams and 500 calls for users.
    let requests = sim.simulator.helix_requests();
    assert!(requests < 300, "{requests} Helix requests after the lake failed");
    assert_nothing_published(&lake_paths(&lake).await);
}

#[tokio::test]
async fn concurrent_runs_of_one_slot_commit_one_manifest_that_matches_its_files() {
    let sim = spawn_sim(world(3_000, &[])).await;
    let (_dir, lake) = temp_lake();
    let (a, b) = (connect(&sim).await, connect(&sim).await);
    let options = ExtractOptions::default();
    let (first, second) = tokio::join!(extract(a, &lake, slot(), &options), extract(b, &lake, slot(), &options));
    let outcomes = [first.unwrap(), second.unwrap()];
    let committed: Vec<&Manifest> = outcomes
        .iter()
        .filter_map(|o| match o {
            ExtractOutcome::Extracted(m) => Some(&**m),
            ExtractOutcome::AlreadyExtracted(_) => None,
        })
        .collect();
    assert_eq!(committed.len(), 1, "one run commits, the other stands down");
    let manifest = lake.manifest(slot()).await.unwrap().unwrap();
    assert_eq!(&manifest, committed[0]);
    assert_complete(
        &lake,
        &manifest,
        &sim.simulator.live_stream_ids(slot()),
        &HashSet::new(),
    )
    .await;

    // The loser's files are gone: every data file in the lake is one the manifest lists.
    let listed: HashSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    for path in lake_paths(&lake).await {
        if Entity::ALL.iter().any(|e| path.starts_with(&format!("{e}/"))) {
            assert!(listed.contains(path.as_str()), "{path} is unreferenced");
        }
    }
}

#[tokio::test]
async fn a_corrupt_lookup_state_is_a_cache_miss_not_a_blocked_run() {
    let sim = spawn_sim(world(1_000, &[])).await;
    let (_dir, lake) = temp_lake();
    let state = object_store::path::Path::from("_state/lookups.json");
    lake.put(&state, b"{\"users\": {\"1\": \"not a time\"".to_vec())
        .await
        .unwrap();
    let manifest = manifest_of(
        extract(connect(&sim).await, &lake, slot(), &ExtractOptions::default())
            .await
            .unwrap(),
    );
    assert_complete(
        &lake,
        &manifest,
        &sim.simulator.live_stream_ids(slot()),
        &HashSet::new(),
    )
    .await;
    assert_eq!(manifest.file(Entity::Users).unwrap().rows, 1_000, "every user fetched");
    let saved = lake.get_optional(&state).await.unwrap().unwrap();
    assert!(
        serde_json::from_slice::<serde_json::Value>(&saved).is_ok(),
        "saved whole"
    );
}

#[tokio::test]
async fn a_crash_before_the_manifest_publishes_nothing_and_the_retry_completes() {
    let sim = spawn_sim(world(1_500, &[])).await;
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let failing = FailingStore::new(local, Some("_manifests"));
    let lake = Lake::from_store(failing.clone(), "crashing at the commit".into());
    let client = connect(&sim).await;
    let error = extract(client.clone(), &lake, slot(), &ExtractOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, ExtractError::Lake { .. }), "{error}");
    let orphans = lake_paths(&lake).await;
    assert_nothing_published(&orphans);
    assert!(
        orphans.iter().any(|p| p.starts_with("streams/")),
        "the crash left files"
    );

    failing.heal();
    let manifest = manifest_of(
        extract(client, &lake, slot(), &ExtractOptions::default())
            .await
            .unwrap(),
    );
    assert_complete(
        &lake,
        &manifest,
        &sim.simulator.live_stream_ids(slot()),
        &HashSet::new(),
    )
    .await;
    for orphan in &orphans {
        assert!(
            manifest.files.iter().all(|f| &f.path != orphan),
            "{orphan} of the crashed run is listed"
        );
    }
}

#[tokio::test]
async fn a_timer_firing_early_extracts_its_own_slot_and_a_late_one_the_same() {
    use support::handler::*;
    let sim = spawn_sim(world(300, &[])).await;
    let dir = tempfile::tempdir().unwrap();
    let lake_dir = dir.path().join("lake");
    let warehouse = twitch_pipeline::warehouse::WarehouseTarget::DuckDb(twitch_pipeline::warehouse::DuckDbTarget::at(
        dir.path().join("w.duckdb"),
    ));
    let (url, _stop) = spawn_handler(serve_settings(&sim, &lake_dir, warehouse)).await;

    // 19:59:59.996 is the 20:00 run, fired 4 ms early: not the 19:45 slot.
    let (status, reply) = post(
        &url,
        "extract_timer",
        &timer_envelope("extract_timer", "2026-11-23T19:59:59.9960000Z"),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let log = reply["Logs"][0].as_str().unwrap();
    assert!(log.contains("slot 2026-11-23T20:00:00Z: 300 streams"), "{log}");

    // A past-due run of the same schedule (the host marks it IsPastDue), minutes
    // late, finds its slot done.
    let mut past_due = timer_envelope("extract_timer", "2026-11-23T20:09:30Z");
    past_due["Data"]["timer"]["IsPastDue"] = serde_json::Value::Bool(true);
    let (status, reply) = post(&url, "extract_timer", &past_due).await;
    assert_eq!(status, 200, "{reply}");
    let log = reply["Logs"][0].as_str().unwrap();
    assert!(
        log.contains("slot 2026-11-23T20:00:00Z already extracted") && log.ends_with("(past due)"),
        "{log}"
    );
}

#[tokio::test]
async fn every_fault_at_once_still_lands_the_live_set() {
    lands_the_live_set(
        2_500,
        &[
            Fault::Duplicates,
            Fault::OverlappingPages,
            Fault::EmptyLastPage,
            Fault::RateLimitBursts,
            Fault::ServerErrors,
            Fault::TokenRevoked,
            Fault::SlowResponses,
            Fault::MalformedBody,
        ],
    )
    .await;
}
