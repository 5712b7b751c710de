//! Ingest: a committed slot's files reach their pipes through the fake Snowpipe;
//! everything that is not a manifest is ignored; a second delivery is harmless.

use std::sync::Arc;

use crate::support::fake_snowpipe::fake_snowpipe;
use crate::support::*;
use twitch_pipeline::ingest::{self, IngestOutcome};
use twitch_pipeline::lake::{Entity, Slot};
use twitch_pipeline::snowpipe::SharedInsertCalls;
#[cfg(feature = "duckdb")]
use twitch_pipeline::warehouse::Warehouse;

async fn commit_full_slot(lake: &twitch_pipeline::lake::Lake, slot: Slot) -> twitch_pipeline::lake::Manifest {
    let line = [r#"{"id":"1"}"#];
    commit_slot(
        lake,
        slot,
        &[(Entity::Streams, &line), (Entity::Users, &line), (Entity::Games, &line)],
    )
    .await
}

/// The fake Snowpipe, and calls shared between concurrent submitters to it.
async fn shared_calls() -> (crate::support::fake_snowpipe::Shared, SharedInsertCalls) {
    let (fake, client) = fake_snowpipe().await;
    (fake, SharedInsertCalls::new(Arc::new(client)))
}

/// Every file the fake Snowpipe was given, in order (the backfill tests use the
/// embedded DuckDB as RAW).
#[cfg(feature = "duckdb")]
fn sent_files(fake: &crate::support::fake_snowpipe::Shared) -> Vec<String> {
    fake.lock()
        .unwrap()
        .calls
        .iter()
        .flat_map(|c| c.files.clone())
        .collect()
}

fn manifest_path(slot: Slot) -> String {
    format!("_manifests/date={}/{}.json", slot.date(), slot.compact())
}

#[tokio::test]
async fn a_manifest_sends_each_file_to_its_entitys_pipe_once() {
    let (fake, calls) = shared_calls().await;
    let (_dir, lake) = temp_lake();
    let manifest = commit_full_slot(&lake, slot()).await;
    let path = manifest_path(slot());

    let outcome = ingest::ingest_path(&lake, &path, None, &calls, "twitch").await.unwrap();
    let IngestOutcome::Submitted { slot: submitted, files } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(submitted, slot());
    assert_eq!(files.values().sum::<usize>(), 3);
    let accepted = fake.lock().unwrap().calls.clone();
    assert_eq!(accepted.len(), 3, "one call per pipe");
    for entity in Entity::ALL {
        let call = accepted
            .iter()
            .find(|c| c.pipe == ingest::pipe_for("twitch", entity))
            .unwrap();
        assert_eq!(call.files, [manifest.file(entity).unwrap().path.clone()]);
    }

    // The same event again: the same files again, which Snowpipe's history ignores.
    ingest::ingest_path(&lake, &path, None, &calls, "twitch").await.unwrap();
    assert_eq!(fake.lock().unwrap().calls.len(), 6);
}

#[tokio::test]
async fn the_blob_content_is_used_as_the_manifest_and_checked() {
    let (fake, calls) = shared_calls().await;
    let (_dir, written) = temp_lake();
    let manifest = commit_full_slot(&written, slot()).await;
    let bytes = serde_json::to_vec(&manifest).unwrap();
    // A lake without the manifest: the content alone is enough.
    let (_empty, lake) = temp_lake();
    let outcome = ingest::ingest_path(&lake, &manifest_path(slot()), Some(&bytes), &calls, "twitch")
        .await
        .unwrap();
    assert!(matches!(outcome, IngestOutcome::Submitted { .. }), "{outcome:?}");
    assert_eq!(fake.lock().unwrap().calls.len(), 3);

    let elsewhere = ingest::ingest_path(&lake, &manifest_path(slot().offset(1)), Some(&bytes), &calls, "twitch").await;
    let message = elsewhere.unwrap_err().to_string();
    assert!(message.contains("its path names slot"), "{message}");
    let garbage = ingest::ingest_path(&lake, &manifest_path(slot()), Some(b"{}"), &calls, "twitch").await;
    let message = garbage.unwrap_err().to_string();
    assert!(message.contains("not a manifest this pipeline writes"), "{message}");
    assert_eq!(fake.lock().unwrap().calls.len(), 3);
}

#[tokio::test]
async fn concurrent_manifests_share_one_call_per_pipe_and_its_outcome() {
    let (fake, calls) = shared_calls().await;
    let (_dir, lake) = temp_lake();
    let mut bytes = Vec::new();
    for i in 0..20 {
        bytes.push(serde_json::to_vec(&commit_full_slot(&lake, slot().offset(i)).await).unwrap());
    }
    // Twenty slots, each delivered twice, all at once.
    let deliveries = (0..40).map(|i| {
        let path = manifest_path(slot().offset(i % 20));
        let content = bytes[i as usize % 20].clone();
        let (lake, calls) = (&lake, &calls);
        async move { ingest::ingest_path(lake, &path, Some(&content), calls, "twitch").await }
    });
    let outcomes = futures::future::join_all(deliveries).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let accepted = fake.lock().unwrap().calls.clone();
    assert_eq!(accepted.len(), 3, "the waiting files went together: {accepted:?}");
    for call in &accepted {
        assert_eq!(call.files.len(), 20, "each file once: {call:?}");
    }

    // When the shared call is refused, every submitter in it hears so.
    fake.lock().unwrap().failures.push_back(403);
    let deliveries = (0..10).map(|i| {
        let path = manifest_path(slot().offset(i));
        let content = bytes[i as usize].clone();
        let (lake, calls) = (&lake, &calls);
        async move { ingest::ingest_path(lake, &path, Some(&content), calls, "twitch").await }
    });
    let outcomes = futures::future::join_all(deliveries).await;
    for outcome in outcomes {
        let message = outcome.unwrap_err().to_string();
        assert!(message.contains("Snowpipe refused insertFiles"), "{message}");
    }
}

#[tokio::test]
async fn data_files_state_and_foreign_blobs_are_ignored() {
    let (fake, calls) = shared_calls().await;
    let (_dir, lake) = temp_lake();
    commit_full_slot(&lake, slot()).await;
    for path in [
        format!("streams/date=2026-11-23/streams_{}.ndjson.gz", slot().compact()),
        "_state/lookups.json".to_string(),
        "notes/readme.txt".to_string(),
    ] {
        let outcome = ingest::ingest_path(&lake, &path, None, &calls, "twitch").await.unwrap();
        assert!(matches!(outcome, IngestOutcome::Ignored { .. }), "{path}: {outcome:?}");
    }
    assert!(fake.lock().unwrap().calls.is_empty());
    let missing = ingest::ingest_path(
        &lake,
        "_manifests/date=2026-11-23/20261123T2345Z.json",
        None,
        &calls,
        "twitch",
    )
    .await;
    assert!(missing.unwrap_err().to_string().contains("no manifest"));
}

// RAW, the ledger a backfill checks, is the embedded DuckDB here.
#[cfg(feature = "duckdb")]
#[tokio::test]
async fn backfill_submits_every_committed_slot_since_a_date() {
    let (fake, client) = fake_snowpipe().await;
    let (_dir, lake) = temp_lake();
    for i in [0, 1, 96] {
        commit_full_slot(&lake, slot().offset(i)).await;
    }
    let mut raw = duckdb_in_memory_with_raw().await;
    let all = ingest::backfill(&lake, None, &client, &mut raw, "twitch")
        .await
        .unwrap();
    assert_eq!(all.submitted.values().copied().collect::<Vec<_>>(), [3, 3, 3]);
    assert!(all.skipped.is_empty());
    let next_day = slot().offset(96).date();
    let since = ingest::backfill(&lake, Some(next_day), &client, &mut raw, "twitch")
        .await
        .unwrap();
    assert_eq!(since.submitted.values().sum::<usize>(), 3);
    assert_eq!(fake.lock().unwrap().calls.len(), 6);
}

// RAW, the ledger a backfill checks, is the embedded DuckDB here.
#[cfg(feature = "duckdb")]
#[tokio::test]
async fn backfill_leaves_out_a_slot_the_lake_cannot_give_whole_and_submits_the_others() {
    use object_store::ObjectStoreExt;
    let (fake, client) = fake_snowpipe().await;
    let (_dir, lake) = temp_lake();
    let mut manifests = Vec::new();
    for i in 0..3 {
        manifests.push(commit_full_slot(&lake, slot().offset(i)).await);
    }
    let deleted = manifests[0].file(Entity::Users).unwrap().path.clone();
    lake.store()
        .delete(&object_store::path::Path::from(deleted.as_str()))
        .await
        .unwrap();
    lake.put(&twitch_pipeline::lake::manifest_path(slot().offset(1)), b"[]".to_vec())
        .await
        .unwrap();

    let mut raw = duckdb_in_memory_with_raw().await;
    let backfill = ingest::backfill(&lake, None, &client, &mut raw, "twitch")
        .await
        .unwrap();
    assert_eq!(backfill.submitted.values().sum::<usize>(), 3, "the whole slot goes");
    let sent = sent_files(&fake);
    assert!(
        sent.iter().all(|p| manifests[2].files.iter().any(|f| &f.path == p)),
        "{sent:?}"
    );
    assert_eq!(backfill.skipped.len(), 2);
    assert_eq!(backfill.skipped[0].0, slot());
    assert!(backfill.skipped[0].1.contains(&deleted), "{}", backfill.skipped[0].1);
    assert_eq!(backfill.skipped[1].0, slot().offset(1));
    assert!(
        backfill.skipped[1].1.contains("cannot be used"),
        "{}",
        backfill.skipped[1].1
    );
}

// RAW, the ledger a backfill checks, is the embedded DuckDB here.
#[cfg(feature = "duckdb")]
#[tokio::test]
async fn backfill_leaves_out_the_files_raw_holds_already_whatever_their_prefix() {
    // Snowpipe's load history forgets a file after 14 days: submitted again after
    // that, it loads twice. RAW's file names carry the stage's prefix.
    let (fake, client) = fake_snowpipe().await;
    let (_dir, lake) = temp_lake();
    let loaded = commit_full_slot(&lake, slot()).await;
    let partly = commit_full_slot(&lake, slot().offset(1)).await;
    let mut raw = duckdb_in_memory_with_raw().await;
    let mut in_raw: Vec<String> = loaded.files.iter().map(|f| f.path.clone()).collect();
    in_raw.push(partly.file(Entity::Streams).unwrap().path.clone());
    for path in &in_raw {
        let table = format!("raw_{}", path.split('/').next().unwrap());
        raw.execute(&format!(
            "insert into raw.{table} values ('{{}}', 'twitch/{path}', 1, cast('{}' as timestamp) + interval 20 minute)",
            slot().time().format("%Y-%m-%d %H:%M:%S")
        ))
        .await
        .unwrap();
    }

    let backfill = ingest::backfill(&lake, None, &client, &mut raw, "twitch")
        .await
        .unwrap();
    assert_eq!(backfill.already_in_raw, 4);
    let sent = sent_files(&fake);
    let expected = [
        partly.file(Entity::Users).unwrap().path.clone(),
        partly.file(Entity::Games).unwrap().path.clone(),
    ];
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(expected.iter().all(|p| sent.contains(p)), "{sent:?}");
}

/// The `ingest` command, with the fake's settings in the environment.
fn ingest_command(
    settings: &twitch_pipeline::warehouse::SnowflakeSettings,
    lake: &std::path::Path,
) -> std::process::Command {
    let mut command = std::process::Command::new(pipeline_binary());
    snowflake_env(command.arg("ingest").env("LAKE_URL", lake), settings);
    command
}

#[tokio::test]
async fn the_ingest_command_submits_a_manifest_and_reports_status() {
    let (fake, settings) = crate::support::fake_snowpipe::fake_snowpipe_settings().await;
    let (dir, lake) = temp_lake();
    commit_full_slot(&lake, slot()).await;
    let lake_dir = dir.path().join("lake");

    let mut submit = ingest_command(&settings, &lake_dir);
    submit.arg(format!("_manifests/date=2026-11-23/{}.json", slot().compact()));
    let output = run(submit).await;
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("TWITCH.RAW.RAW_STREAMS_PIPE: 1 file(s) submitted"),
        "{stdout}"
    );
    assert_eq!(fake.lock().unwrap().calls.len(), 3);

    let mut status = ingest_command(&settings, &lake_dir);
    status.arg("--status");
    let output = run(status).await;
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("RAW_GAMES_PIPE: recent events 3 LOADED"), "{stdout}");

    let output = run(ingest_command(&settings, &lake_dir)).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("a lake PATH, --backfill, or --status"));
}

/// The hourly resubmission looks back to the oldest slot the previous run left
/// unsettled (its files neither in RAW nor in Snowpipe's load history), not a fixed
/// day: a slot whose event was lost over a weekend is submitted again on Monday. An
/// unreadable record makes it look back as far as it may, 13 days, and no further.
#[cfg(feature = "duckdb")]
#[tokio::test]
async fn the_hourly_resubmission_looks_back_to_the_oldest_unsettled_slot() {
    use chrono::{Duration, Utc};
    // One hourly resubmission at `now`, with Snowpipe holding load records of
    // `recorded` (the fake reports every file it was given as loaded).
    let resubmit_with = |lake: twitch_pipeline::lake::Lake,
                         now: chrono::DateTime<Utc>,
                         grace: Duration,
                         recorded: Vec<String>| async move {
        let (fake, client) = fake_snowpipe().await;
        fake.lock().unwrap().calls.push(crate::support::fake_snowpipe::Call {
            pipe: ingest::pipe_for("twitch", Entity::Streams),
            request_id: String::new(),
            files: recorded,
        });
        let mut raw = duckdb_in_memory_with_raw().await;
        let (_, resubmitted) = twitch_pipeline::pipeline::resubmit::resubmit_unloaded(
            &lake,
            &mut raw,
            "marts.fact_stream_snapshots",
            &client,
            "twitch",
            now,
            grace,
        )
        .await
        .unwrap();
        (fake, resubmitted)
    };
    let resubmit = |lake, now, grace| resubmit_with(lake, now, grace, Vec::new());
    // Manifests are committed now; the runs are placed around them (a slot is past its
    // grace once its commit is).
    let (_dir, lake) = temp_lake();
    let lost = Slot::containing(Utc::now()).offset(-160); // 40 hours ago
    let manifest = commit_full_slot(&lake, lost).await;
    let now = Utc::now() + Duration::minutes(1);

    // The run just after the slot: within its grace, so nothing is submitted, and the
    // slot is the oldest one not settled.
    let (_, resubmitted) = resubmit(lake.clone(), lost.time() + Duration::hours(1), Duration::hours(2)).await;
    assert!(resubmitted.is_empty());
    assert_eq!(
        twitch_pipeline::pipeline::unsettled::read(&lake).await.unwrap(),
        Some(lost.time())
    );

    // 40 hours later its files are still nowhere: submitted again, a day and more on.
    let (fake, resubmitted) = resubmit(lake.clone(), now, Duration::zero()).await;
    assert_eq!(resubmitted.len(), 1, "{resubmitted:?}");
    assert_eq!(resubmitted[0].0, lost);
    let mut sent = sent_files(&fake);
    sent.sort();
    let mut files: Vec<String> = manifest.files.iter().map(|f| f.path.clone()).collect();
    files.sort();
    assert_eq!(sent, files);

    // A lake without the record looks back a day only: the slot would stay lost.
    let (_other_dir, fresh) = temp_lake();
    commit_full_slot(&fresh, lost).await;
    let (_, resubmitted) = resubmit(fresh, now, Duration::zero()).await;
    assert!(resubmitted.is_empty(), "{resubmitted:?}");

    // Once Snowpipe has a record of its files the slot is settled, and the record
    // moves on to the run's time.
    let later = now + Duration::minutes(5);
    let (_, resubmitted) = resubmit_with(lake.clone(), later, Duration::zero(), files).await;
    assert!(resubmitted.is_empty(), "{resubmitted:?}");
    assert_eq!(
        twitch_pipeline::pipeline::unsettled::read(&lake).await.unwrap(),
        Some(later)
    );

    // An unreadable record: 13 days back, not 14.
    let (_third_dir, lake) = temp_lake();
    let five_days = Slot::containing(now).offset(-96 * 5);
    let fourteen_days = Slot::containing(now).offset(-96 * 14);
    commit_full_slot(&lake, five_days).await;
    commit_full_slot(&lake, fourteen_days).await;
    let now = Utc::now() + Duration::minutes(1);
    lake.put(
        &object_store::path::Path::from("_state/resubmission.json"),
        b"{not json".to_vec(),
    )
    .await
    .unwrap();
    assert!(twitch_pipeline::pipeline::unsettled::read(&lake).await.is_err());
    let (_, resubmitted) = resubmit(lake, now, Duration::zero()).await;
    let slots: Vec<Slot> = resubmitted.iter().map(|(slot, _)| *slot).collect();
    assert_eq!(slots, [five_days]);
}
