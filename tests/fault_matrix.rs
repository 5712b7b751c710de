//! The fault matrix: one test per fault of Helix (and the lake), each asserting which
//! streams must land, against the simulator's ground truth: every stream live from
//! the run's first request to its end. A listing that holds still must land exactly
//! its live set. A fault that costs part of the listing must commit the rest, marked
//! incomplete with the reason, or publish nothing. Nothing lands twice; nothing panics.
//! docs/extraction.md's fault matrix links each row here.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::failing_store::FailingStore;
use crate::support::*;
use object_store::local::LocalFileSystem;
use twitch_pipeline::extract::{ExtractError, ExtractOptions, ExtractOutcome};
use twitch_pipeline::lake::{Entity, Lake, Manifest};
use twitch_pipeline::simulator::{Fault, Latency, PassTruth, RunningSimulator, SimulatorConfig};

/// Runs one extraction of `slot()` against a simulator built from `config`.
async fn run(config: SimulatorConfig) -> (RunningSimulator, tempfile::TempDir, Lake, Manifest) {
    run_with(config, &ExtractOptions::default()).await
}

async fn run_with(
    config: SimulatorConfig,
    options: &ExtractOptions,
) -> (RunningSimulator, tempfile::TempDir, Lake, Manifest) {
    let faults = config.faults.enabled.clone();
    let sim = spawn_sim(config).await;
    let (dir, lake) = temp_lake();
    let outcome = extract(connect(&sim).await, &lake, slot(), options).await;
    let manifest = manifest_of(outcome.unwrap_or_else(|e| panic!("{faults:?}: {e}")));
    (sim, dir, lake, manifest)
}

/// The same world with a network between it and the extractor (5 ms ± 40% a request,
/// so paging takes time), and its motion fifty times faster than Twitch's: a test's
/// second of paging sees the churn of a real run of a minute.
fn moving(streams: usize, faults: &[Fault]) -> SimulatorConfig {
    SimulatorConfig {
        latency: Some(Latency {
            mean: Duration::from_millis(5),
            spread: 0.4,
        }),
        speed: 50.0,
        ..world(streams, faults)
    }
}

/// The slot holds each stream of `must` exactly once and nothing outside `allowed`,
/// with the user and game of every stream (but those served unusable or not looked
/// up); its manifest agrees with its files.
async fn assert_lands(
    lake: &Lake,
    manifest: &Manifest,
    must: &HashSet<String>,
    allowed: Option<&HashSet<String>>,
    spoiled: &HashSet<String>,
) -> HashSet<String> {
    let streams = records(lake, manifest, Entity::Streams).await;
    let landed = ids(&streams);
    assert_eq!(landed.len(), streams.len(), "no stream lands twice");
    let missing: Vec<_> = must.difference(&landed).take(5).collect();
    assert!(
        missing.is_empty(),
        "landed {} of {} that must land; missing {missing:?}",
        must.intersection(&landed).count(),
        must.len()
    );
    if let Some(allowed) = allowed {
        let extra: Vec<_> = landed.difference(allowed).take(5).collect();
        assert!(extra.is_empty(), "landed streams that were never live: {extra:?}");
    }
    // Users and games fetched within the day are not fetched again: any committed
    // slot up to this one may hold them.
    let (mut users, mut games) = (HashSet::new(), HashSet::new());
    for committed in lake.committed_slots().await.unwrap() {
        if committed > manifest.slot {
            continue;
        }
        let earlier = lake.manifest(committed).await.unwrap().unwrap();
        users.extend(ids(&records(lake, &earlier, Entity::Users).await));
        games.extend(ids(&records(lake, &earlier, Entity::Games).await));
    }
    let skipped: HashSet<&String> = manifest
        .users_not_looked_up
        .iter()
        .chain(&manifest.games_not_looked_up)
        .collect();
    for stream in &streams {
        let user = stream["user_id"].as_str().unwrap();
        assert!(
            users.contains(user) || spoiled.contains(user) || skipped.contains(&user.to_string()),
            "user {user} of a stream"
        );
        let game = stream["game_id"].as_str().unwrap();
        assert!(
            game.is_empty() || games.contains(game) || spoiled.contains(game) || skipped.contains(&game.to_string()),
            "game {game} of a stream"
        );
    }
    for file in &manifest.files {
        let lines = read_ndjson(lake, &file.path).await.len() as u64;
        assert_eq!(lines, file.rows, "{}: the manifest counts its lines", file.path);
        assert!(file.path.contains(&manifest.run), "{}: a run's own file", file.path);
    }
    assert!(lake.is_committed(manifest.slot).await.unwrap());
    landed
}

/// A listing that holds still: the slot holds exactly the live set, read to its end.
async fn lands_the_live_set(streams: usize, faults: &[Fault]) -> Manifest {
    let (sim, _dir, lake, manifest) = run(world(streams, faults)).await;
    let live = sim.simulator.live_stream_ids(slot());
    assert_lands(&lake, &manifest, &live, Some(&live), &HashSet::new()).await;
    assert_complete(&manifest);
    manifest
}

fn assert_complete(manifest: &Manifest) {
    assert!(
        manifest.listing_complete && manifest.incomplete_reason.is_none(),
        "every partition read to its end: {:?}",
        manifest.incomplete_reason
    );
    assert!(
        manifest.partitions.iter().all(|p| p.complete),
        "{:?}",
        manifest.partitions
    );
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
async fn a_429_storm_commits_what_landed_at_the_deadline_marked_incomplete() {
    // From the 5th request on, another consumer spends the whole bucket.
    let started = Instant::now();
    let options = ExtractOptions {
        deadline: Duration::from_secs(4),
        ..ExtractOptions::default()
    };
    let (sim, _dir, lake, manifest) = run_with(world(2_500, &[Fault::RateLimitStorm]), &options).await;
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
    assert!(!manifest.listing_complete);
    let reason = manifest.incomplete_reason.clone().unwrap();
    assert!(reason.contains("deadline") || reason.contains("429"), "{reason}");
    let live = sim.simulator.live_stream_ids(slot());
    let landed = assert_lands(&lake, &manifest, &HashSet::new(), Some(&live), &HashSet::new()).await;
    assert!(!landed.is_empty() && landed.len() < live.len(), "{}", landed.len());
}

#[tokio::test]
async fn a_rate_limit_reset_a_day_away_costs_a_pause_not_the_slot() {
    // The pacer holds callers for the client's patience (3 s in tests, a minute at
    // most in life), never for the day the header announces.
    let started = Instant::now();
    let manifest = lands_the_live_set(2_500, &[Fault::FarRateLimitReset]).await;
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    assert!(manifest.retries >= 1);
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
    assert!(
        manifest
            .partitions
            .iter()
            .any(|p| p.end.contains("a cursor seen before")),
        "{:?}",
        manifest.partitions
    );
}

#[tokio::test]
async fn a_listing_that_wraps_to_its_top_ends_paging() {
    let manifest = lands_the_live_set(2_537, &[Fault::WrapAround]).await;
    assert!(
        manifest.partitions.iter().any(|p| p.end.contains("started over")),
        "{:?}",
        manifest.partitions
    );
}

#[tokio::test]
async fn a_last_page_without_a_cursor_ends_paging() {
    let manifest = lands_the_live_set(2_500, &[Fault::NoCursorOnLastPage]).await;
    assert!(
        manifest.partitions.iter().all(|p| p.end.contains("last page")),
        "{:?}",
        manifest.partitions
    );
}

#[tokio::test]
async fn by_default_the_last_cursor_leads_to_an_empty_page_that_ends_paging() {
    let manifest = lands_the_live_set(2_500, &[]).await;
    assert!(
        manifest.partitions.iter().all(|p| p.end.contains("empty page")),
        "{:?}",
        manifest.partitions
    );
}

#[tokio::test]
async fn streams_repeated_on_a_later_page_land_once() {
    let manifest = lands_the_live_set(2_500, &[Fault::Duplicates]).await;
    assert!(manifest.duplicates_dropped >= 20, "{}", manifest.duplicates_dropped);
}

#[tokio::test]
async fn overlapping_pages_land_every_live_stream() {
    // The case that once landed 100 of 1,000: each page repeats the previous page's
    // tail, whose streams have more viewers than the last one kept.
    let manifest = lands_the_live_set(1_000, &[Fault::OverlappingPages]).await;
    assert!(manifest.duplicates_dropped >= 9, "{}", manifest.duplicates_dropped);
}

#[tokio::test]
async fn a_transient_bad_cursor_costs_a_retry_not_the_slot() {
    let manifest = lands_the_live_set(5_000, &[Fault::TransientBadCursor]).await;
    assert!(manifest.partitions.iter().all(|p| p.restarts == 0));
}

#[tokio::test]
async fn a_cursor_refused_every_time_ends_its_partition_and_the_manifest_says_which() {
    let (sim, _dir, lake, manifest) = run(world(5_000, &[Fault::RefusedCursor])).await;
    assert!(!manifest.listing_complete);
    let failed: Vec<_> = manifest.partitions.iter().filter(|p| !p.complete).collect();
    assert_eq!(failed.len(), 1, "{:?}", manifest.partitions);
    assert!(failed[0].end.contains("invalid cursor"), "{}", failed[0].end);
    assert_eq!(failed[0].restarts, 1, "started over once before giving up");
    let reason = manifest.incomplete_reason.clone().unwrap();
    assert!(reason.starts_with(&failed[0].partition), "{reason}");
    // Every other partition's streams landed.
    let world = sim.simulator.world().streams(slot());
    let language_of = |partition: &str| partition.trim_start_matches("language=").to_string();
    let cut = language_of(&failed[0].partition);
    let must: HashSet<String> = world
        .iter()
        .filter(|s| !cut.split('+').any(|l| l == s.language))
        .map(|s| s.id.clone())
        .collect();
    let live = sim.simulator.live_stream_ids(slot());
    assert_lands(&lake, &manifest, &must, Some(&live), &HashSet::new()).await;
}

#[tokio::test]
async fn an_empty_page_mid_listing_is_asked_again_not_taken_for_the_end() {
    lands_the_live_set(5_000, &[Fault::EmptyCursorMidListing]).await;
}

#[tokio::test]
async fn short_pages_mid_listing_do_not_end_it() {
    let manifest = lands_the_live_set(5_000, &[Fault::ShortPages]).await;
    assert!(manifest.pages > 50, "{}", manifest.pages);
}

#[tokio::test]
async fn a_streams_outage_mid_run_commits_what_landed_and_names_each_partition_cut() {
    let (sim, _dir, lake, manifest) = run(world(5_000, &[Fault::StreamsOutageMidRun])).await;
    assert!(!manifest.listing_complete);
    let reason = manifest.incomplete_reason.clone().unwrap();
    assert!(reason.contains("503"), "{reason}");
    for partition in manifest.partitions.iter().filter(|p| !p.complete) {
        assert!(reason.contains(&partition.partition), "{reason}");
    }
    let live = sim.simulator.live_stream_ids(slot());
    let landed = assert_lands(&lake, &manifest, &HashSet::new(), Some(&live), &HashSet::new()).await;
    assert!(!landed.is_empty());
    let line = twitch_pipeline::pipeline::summary_line(&ExtractOutcome::Extracted(Box::new(manifest)));
    assert!(line.contains("WARNING: the listing was not read to its end"), "{line}");
}

#[tokio::test]
async fn a_lookup_failing_for_one_id_costs_that_id_not_the_slot_and_is_asked_again_next_slot() {
    let sim = spawn_sim(world(3_000, &[Fault::LookupFailsForOneId])).await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;
    let (user, game) = sim.simulator.poisoned_ids().unwrap();
    let manifest = manifest_of(
        extract(client.clone(), &lake, slot(), &ExtractOptions::default())
            .await
            .unwrap(),
    );
    let live = sim.simulator.live_stream_ids(slot());
    assert_lands(&lake, &manifest, &live, Some(&live), &HashSet::new()).await;
    assert_complete(&manifest);
    assert_eq!(manifest.users_not_looked_up, std::slice::from_ref(&user));
    assert_eq!(manifest.games_not_looked_up, std::slice::from_ref(&game));
    assert!(
        manifest.lookup_failures[0].contains("500"),
        "{:?}",
        manifest.lookup_failures
    );
    let users = ids(&records(&lake, &manifest, Entity::Users).await);
    assert_eq!(users.len(), 2_999, "every other user landed");
    // Not marked fresh: the next slot asks for both again (and, still failing, says so).
    sim.simulator.config().clock.set(slot().offset(1).time());
    let next = manifest_of(
        extract(client, &lake, slot().offset(1), &ExtractOptions::default())
            .await
            .unwrap(),
    );
    assert_eq!(next.users_not_looked_up, [user]);
    assert_eq!(next.games_not_looked_up, [game]);
}

#[tokio::test]
async fn a_stream_missing_from_the_listing_is_found_by_its_user_id() {
    // twitchdev/issues#558: a live stream absent from Get Streams. Its user was live
    // at the slot before, so the re-read by user id finds it.
    let sim = spawn_sim(world(3_000, &[Fault::StreamMissingFromListing])).await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;
    extract_slots(&sim, &client, &lake, 0..1).await;
    let manifest = extract_slots(&sim, &client, &lake, 1..2).await.remove(0);
    let hidden = sim
        .simulator
        .hidden_stream()
        .expect("a stream is hidden from the second slot");
    let live = sim.simulator.live_stream_ids(slot().offset(1));
    let landed = assert_lands(&lake, &manifest, &live, Some(&live), &HashSet::new()).await;
    assert!(landed.contains(&hidden));
    assert_eq!(manifest.found_by_rereads, 1, "only the re-read found it");
    assert!(manifest.reread_users >= 1);
    assert_complete(&manifest);
}

#[tokio::test]
async fn an_ignored_language_filter_falls_back_to_the_whole_listing() {
    let (sim, _dir, lake, manifest) = run(world(2_500, &[Fault::IgnoresLanguageFilter])).await;
    let live = sim.simulator.live_stream_ids(slot());
    assert_lands(&lake, &manifest, &live, Some(&live), &HashSet::new()).await;
    assert!(manifest.filter_ignored.is_some());
    assert_eq!(manifest.partitions.len(), 1);
    assert_eq!(manifest.partitions[0].partition, "all languages");
    assert_complete(&manifest);
}

#[tokio::test]
async fn unusable_records_are_quarantined_with_their_reason_and_counted() {
    let (sim, _dir, lake, manifest) = run(world(2_500, &[Fault::UnusableRecords])).await;
    let spoiled = sim.simulator.spoiled_ids();
    let live = sim.simulator.live_stream_ids(slot());
    let expected: HashSet<String> = live.difference(&spoiled).cloned().collect();
    assert!(expected.len() < live.len(), "some streams were served unusable");
    assert_lands(&lake, &manifest, &expected, Some(&expected), &spoiled).await;
    assert_complete(&manifest);

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
    // The whole listing is 500 pages of streams and 500 calls for users.
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
    let live = sim.simulator.live_stream_ids(slot());
    assert_lands(&lake, &manifest, &live, Some(&live), &HashSet::new()).await;

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
    for (path, text) in [
        ("_state/lookups.json", "{\"users\": {\"1\": \"not a time\""),
        ("_state/listing.json", "{\"slot\": 7"),
    ] {
        lake.put(&object_store::path::Path::from(path), text.as_bytes().to_vec())
            .await
            .unwrap();
    }
    let manifest = manifest_of(
        extract(connect(&sim).await, &lake, slot(), &ExtractOptions::default())
            .await
            .unwrap(),
    );
    let live = sim.simulator.live_stream_ids(slot());
    assert_lands(&lake, &manifest, &live, Some(&live), &HashSet::new()).await;
    assert_eq!(manifest.file(Entity::Users).unwrap().rows, 1_000, "every user fetched");
    for path in ["_state/lookups.json", "_state/listing.json"] {
        let saved = lake
            .get_optional(&object_store::path::Path::from(path))
            .await
            .unwrap()
            .unwrap();
        assert!(
            serde_json::from_slice::<serde_json::Value>(&saved).is_ok(),
            "{path} saved whole"
        );
    }
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
    let live = sim.simulator.live_stream_ids(slot());
    assert_lands(&lake, &manifest, &live, Some(&live), &HashSet::new()).await;
    for orphan in &orphans {
        assert!(
            manifest.files.iter().all(|f| &f.path != orphan),
            "{orphan} of the crashed run is listed"
        );
    }
}

#[tokio::test]
async fn a_timer_firing_early_extracts_its_own_slot_and_a_late_one_the_same() {
    use crate::support::handler::*;
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
async fn every_request_fault_at_once_over_a_network_still_lands_the_live_set() {
    let faults = [
        Fault::Duplicates,
        Fault::OverlappingPages,
        Fault::RateLimitBursts,
        Fault::ServerErrors,
        Fault::TokenRevoked,
        Fault::SlowResponses,
        Fault::MalformedBody,
        Fault::TransientBadCursor,
        Fault::EmptyCursorMidListing,
        Fault::ShortPages,
    ];
    let (sim, _dir, lake, manifest) = run(moving(2_500, &faults)).await;
    let live = sim.simulator.live_stream_ids(slot());
    assert_lands(&lake, &manifest, &live, Some(&live), &HashSet::new()).await;
    assert_complete(&manifest);
    assert!(manifest.latency_ms_p50 >= 2.0, "{}", manifest.latency_ms_p50);
}

/// Extracts `slot()` and the slot after it, and returns the second's manifest, the
/// users live at the first, and the second listing's truth, taken at the run's end.
async fn two_slots(
    config: SimulatorConfig,
) -> (
    RunningSimulator,
    tempfile::TempDir,
    Lake,
    Manifest,
    HashSet<String>,
    PassTruth,
) {
    let sim = spawn_sim(config).await;
    let (dir, lake) = temp_lake();
    let client = connect(&sim).await;
    let first = extract_slots(&sim, &client, &lake, 0..1).await.remove(0);
    let known_users: HashSet<String> = records(&lake, &first, Entity::Streams)
        .await
        .iter()
        .map(|s| s["user_id"].as_str().unwrap().to_string())
        .collect();
    let second = extract_slots(&sim, &client, &lake, 1..2).await.remove(0);
    let truth = sim.simulator.pass_truth().await.unwrap();
    (sim, dir, lake, second, known_users, truth)
}

/// On a listing that moves, at the second of two slots: every stream live throughout
/// the run whose user was live at the slot before lands (the re-read by user id finds
/// those the chains missed); of the streams new since, a chain misses those that rose
/// past its reader, and nothing can find them. The share is printed; the benchmark
/// holds it to 0.995 at Twitch's pace, this test to 0.99 at fifty times that.
async fn lands_every_known_stream_live_throughout(faults: &[Fault]) -> Manifest {
    let (sim, _dir, lake, manifest, known_users, truth) = two_slots(moving(5_000, faults)).await;
    let streams = records(&lake, &manifest, Entity::Streams).await;
    let landed = ids(&streams);
    let world_now = sim.simulator.world().streams(slot().offset(1));
    let known: HashSet<String> = world_now
        .iter()
        .filter(|s| known_users.contains(&s.user_id) && truth.live_throughout.contains(&s.id))
        .map(|s| s.id.clone())
        .collect();
    assert_lands(&lake, &manifest, &known, None, &HashSet::new()).await;
    assert_complete(&manifest);
    let covered = truth.live_throughout.intersection(&landed).count() as f64 / truth.live_throughout.len() as f64;
    eprintln!(
        "{faults:?}: coverage {covered:.4} of {} live throughout ({} known at the slot before); {} refreshes, {} started, {} ended; {} found by re-reads, {} duplicates dropped",
        truth.live_throughout.len(),
        known.len(),
        truth.refreshes,
        truth.started,
        truth.ended,
        manifest.found_by_rereads,
        manifest.duplicates_dropped
    );
    assert!(covered >= 0.99, "coverage {covered}");
    manifest
}

#[tokio::test]
async fn counts_changing_in_wall_clock_time_land_every_known_stream_live_throughout() {
    let manifest = lands_every_known_stream_live_throughout(&[Fault::ListingChurn]).await;
    assert!(manifest.duplicates_dropped > 0, "churn moves streams across pages");
}

#[tokio::test]
async fn streams_ending_and_starting_land_every_stream_live_throughout() {
    // Without count changes nothing rises past a reader: a single run lands every
    // stream live from its first request to its end, and none twice.
    let sim = spawn_sim(moving(5_000, &[Fault::StreamsComeAndGo])).await;
    let (_dir, lake) = temp_lake();
    let manifest = manifest_of(
        extract(connect(&sim).await, &lake, slot(), &ExtractOptions::default())
            .await
            .unwrap(),
    );
    let truth = sim.simulator.pass_truth().await.unwrap();
    assert!(truth.started > 0 && truth.ended > 0, "{truth:?}");
    assert_lands(
        &lake,
        &manifest,
        &truth.live_throughout,
        Some(&truth.served),
        &HashSet::new(),
    )
    .await;
    assert_complete(&manifest);
}

#[tokio::test]
async fn a_moving_listing_with_every_paging_fault_lands_every_known_stream_live_throughout() {
    lands_every_known_stream_live_throughout(&[
        Fault::ListingChurn,
        Fault::StreamsComeAndGo,
        Fault::OverlappingPages,
        Fault::Duplicates,
        Fault::ServerErrors,
        Fault::MalformedBody,
        Fault::TransientBadCursor,
        Fault::EmptyCursorMidListing,
        Fault::ShortPages,
    ])
    .await;
}

#[tokio::test]
async fn a_moving_listing_read_in_segments_lands_every_known_stream_live_throughout() {
    // 30,000 streams: from the second slot on, English (~120 pages) is read in two
    // segments; a stream falling past where the lower one began after it passed is
    // the segments' own miss, and the re-read by user id finds those it knew.
    let sim = spawn_sim(moving(30_000, &[Fault::ListingChurn, Fault::StreamsComeAndGo])).await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;
    extract_slots(&sim, &client, &lake, 0..2).await;
    let known_users: HashSet<String> = {
        let before = lake.manifest(slot().offset(1)).await.unwrap().unwrap();
        records(&lake, &before, Entity::Streams)
            .await
            .iter()
            .map(|s| s["user_id"].as_str().unwrap().to_string())
            .collect()
    };
    let manifest = extract_slots(&sim, &client, &lake, 2..3).await.remove(0);
    let truth = sim.simulator.pass_truth().await.unwrap();
    let en = manifest
        .partitions
        .iter()
        .find(|p| p.partition == "language=en")
        .unwrap();
    assert!(en.segments >= 2, "{en:?}");
    let known: HashSet<String> = sim
        .simulator
        .world()
        .streams(slot().offset(2))
        .into_iter()
        .filter(|s| known_users.contains(&s.user_id) && truth.live_throughout.contains(&s.id))
        .map(|s| s.id)
        .collect();
    let landed = assert_lands(&lake, &manifest, &known, None, &HashSet::new()).await;
    assert_complete(&manifest);
    let covered = truth.live_throughout.intersection(&landed).count() as f64 / truth.live_throughout.len() as f64;
    eprintln!(
        "segments: coverage {covered:.4} of {} live throughout; {} found by re-reads",
        truth.live_throughout.len(),
        manifest.found_by_rereads
    );
    assert!(covered >= 0.99, "coverage {covered}");
}
