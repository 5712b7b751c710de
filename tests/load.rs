//! Loading the lake into the embedded DuckDB warehouse.
#![cfg(feature = "duckdb")]

use crate::support::*;
use twitch_pipeline::extract::ExtractOptions;
use twitch_pipeline::lake::{Entity, Lake, Manifest, Slot};
use twitch_pipeline::load::load_lake;
use twitch_pipeline::simulator::SimulatorConfig;
use twitch_pipeline::warehouse::{DuckDbWarehouse, Warehouse};

async fn count(warehouse: &mut DuckDbWarehouse, sql: &str) -> i64 {
    rows(warehouse, sql).await[0][0].parse().unwrap()
}

/// Commits a slot by hand: one streams file with `lines`, as extraction would.
async fn commit_by_hand(lake: &Lake, slot: Slot, lines: &[&str]) -> Manifest {
    commit_slot(lake, slot, &[(Entity::Streams, lines)]).await
}

#[tokio::test]
async fn loading_twice_adds_zero_rows() {
    let sim = spawn_sim(SimulatorConfig {
        streams: 400,
        rate_limit: None,
        ..Default::default()
    })
    .await;
    let (_dir, lake) = temp_lake();
    let client = connect(&sim).await;
    let manifests = extract_slots(&sim, &client, &lake, 0..2).await;
    let expected: u64 = manifests.iter().flat_map(|m| &m.files).map(|f| f.rows).sum();
    let mut warehouse = duckdb_in_memory_with_raw().await;

    let first = load_lake(&lake, &mut warehouse).await.unwrap();
    assert_eq!((first.slots, first.files_loaded, first.rejected), (2, 6, 0));
    assert_eq!(first.rows[&Entity::Streams], 800);
    const TOTAL: &str = "SELECT (SELECT count(*) FROM raw.raw_streams) + (SELECT count(*) FROM raw.raw_users) \
                         + (SELECT count(*) FROM raw.raw_games)";
    assert_eq!(count(&mut warehouse, TOTAL).await as u64, expected);

    let second = load_lake(&lake, &mut warehouse).await.unwrap();
    assert_eq!((second.files_loaded, second.files_already_loaded), (0, 6));
    assert_eq!(count(&mut warehouse, TOTAL).await as u64, expected, "a file loads once");
}

#[tokio::test]
async fn raw_rows_keep_the_json_file_name_row_number_and_load_time() {
    let sim = spawn_sim(SimulatorConfig {
        streams: 150,
        rate_limit: None,
        ..Default::default()
    })
    .await;
    let (_dir, lake) = temp_lake();
    let manifest = manifest_of(
        extract(connect(&sim).await, &lake, slot(), &ExtractOptions::default())
            .await
            .unwrap(),
    );
    let mut warehouse = duckdb_in_memory_with_raw().await;
    load_lake(&lake, &mut warehouse).await.unwrap();

    let path = &manifest.file(Entity::Streams).unwrap().path;
    let figures = rows(
        &mut warehouse,
        &format!(
            "SELECT count(DISTINCT raw_json->>'id'), count(*), min(file_row_number), max(file_row_number)
             FROM raw.raw_streams WHERE file_name = '{path}'"
        ),
    )
    .await;
    assert_eq!(figures, [["150", "150", "1", "150"]]);
    // The snapshot time lives in the data and is never the load time.
    let snapshot_before_load = count(
        &mut warehouse,
        "SELECT count(*) FROM raw.raw_streams WHERE CAST(raw_json->>'_snapshot_at' AS TIMESTAMP) < loaded_at",
    )
    .await;
    assert_eq!(snapshot_before_load, 150);
}

#[tokio::test]
async fn a_malformed_line_is_rejected_with_its_reason_and_the_rest_of_the_file_loads() {
    let (_dir, lake) = temp_lake();
    let manifest = commit_by_hand(
        &lake,
        slot(),
        &[r#"{"id":"1"}"#, r#"{"id": "2""#, r#"{"id":"3"}"#, "42"],
    )
    .await;
    let mut warehouse = duckdb_in_memory_with_raw().await;
    let summary = load_lake(&lake, &mut warehouse).await.unwrap();
    assert_eq!((summary.rows[&Entity::Streams], summary.rejected), (2, 2));

    let path = &manifest.files[0].path;
    let rejects = rows(
        &mut warehouse,
        "SELECT file_name, line_number, reason, line FROM raw.load_rejects ORDER BY line_number",
    )
    .await;
    assert_eq!(rejects.len(), 2);
    assert_eq!(
        (&rejects[0][0], rejects[0][1].as_str(), rejects[0][3].as_str()),
        (path, "2", r#"{"id": "2""#)
    );
    assert!(rejects[0][2].starts_with("not valid JSON"), "{}", rejects[0][2]);
    assert_eq!(
        (rejects[1][1].as_str(), rejects[1][2].as_str()),
        ("4", "not a JSON object")
    );
    assert_eq!(
        count(
            &mut warehouse,
            "SELECT count(*) FROM raw.raw_streams WHERE file_row_number IN (1, 3)"
        )
        .await,
        2
    );
    let history = count(&mut warehouse, "SELECT rows_rejected FROM raw.load_history").await;
    assert_eq!(history, 2);
}

#[tokio::test]
async fn only_committed_slots_load_and_a_late_slot_loads_when_it_commits() {
    let (_dir, lake) = temp_lake();
    commit_by_hand(&lake, slot().offset(1), &[r#"{"id":"later"}"#]).await;
    // An earlier slot whose run died before its manifest: data file, no manifest.
    let mut orphan = lake.writer_at(Entity::Streams.data_path(slot()));
    orphan.write_line(br#"{"id":"uncommitted"}"#).await.unwrap();
    orphan.finish().await.unwrap();

    let mut warehouse = duckdb_in_memory_with_raw().await;
    load_lake(&lake, &mut warehouse).await.unwrap();
    assert_eq!(
        count(
            &mut warehouse,
            "SELECT count(*) FROM raw.raw_streams WHERE raw_json->>'id' = 'uncommitted'"
        )
        .await,
        0
    );
    assert_eq!(count(&mut warehouse, "SELECT count(*) FROM raw.raw_streams").await, 1);

    // The retry commits the earlier slot after the later one: it still loads.
    commit_by_hand(&lake, slot(), &[r#"{"id":"late"}"#, r#"{"id":"late-2"}"#]).await;
    let summary = load_lake(&lake, &mut warehouse).await.unwrap();
    assert_eq!((summary.files_loaded, summary.files_already_loaded), (1, 1));
    assert_eq!(count(&mut warehouse, "SELECT count(*) FROM raw.raw_streams").await, 3);
}

#[tokio::test]
async fn the_warehouse_file_persists_between_runs() {
    let (dir, lake) = temp_lake();
    commit_by_hand(&lake, slot(), &[r#"{"id":"1"}"#]).await;
    let path = dir.path().join("nested/warehouse.duckdb");
    load_lake(&lake, &mut duckdb_with_raw(&path).await).await.unwrap();
    let mut reopened = duckdb_with_raw(&path).await;
    assert_eq!(count(&mut reopened, "SELECT count(*) FROM raw.raw_streams").await, 1);
    assert_eq!(load_lake(&lake, &mut reopened).await.unwrap().files_loaded, 0);
}

#[tokio::test]
async fn a_slot_the_lake_cannot_give_is_skipped_and_reported_and_the_later_slots_load() {
    use object_store::ObjectStoreExt;
    use object_store::path::Path;
    let (_dir, lake) = temp_lake();
    // Slot 0: its data file was deleted after the commit. Slot 1: its manifest is not
    // JSON. Slot 2: fine.
    let gone = commit_by_hand(&lake, slot(), &[r#"{"id":"a"}"#]).await;
    let gone_path = gone.files[0].path.clone();
    lake.store().delete(&Path::from(gone_path.as_str())).await.unwrap();
    let good = commit_by_hand(&lake, slot().offset(1), &[r#"{"id":"b"}"#]).await;
    let broken = twitch_pipeline::lake::manifest_path(slot().offset(1));
    lake.put(&broken, b"{not a manifest".to_vec()).await.unwrap();
    commit_by_hand(&lake, slot().offset(2), &[r#"{"id":"c"}"#]).await;

    let mut warehouse = duckdb_in_memory_with_raw().await;
    let summary = load_lake(&lake, &mut warehouse).await.unwrap();
    assert_eq!((summary.slots, summary.files_loaded), (1, 1), "the good slot loads");
    let skipped: Vec<(Slot, &str)> = summary.skipped.iter().map(|s| (s.slot, s.reason.as_str())).collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(skipped[0].0, slot());
    assert!(
        skipped[0].1.contains(&gone_path) && skipped[0].1.contains("does not have"),
        "{}",
        skipped[0].1
    );
    assert_eq!(skipped[1].0, slot().offset(1));
    assert!(skipped[1].1.contains("manifest cannot be used"), "{}", skipped[1].1);
    assert!(summary.line(0.0).contains("WARNING: 2 committed slot(s) skipped"));
    assert_eq!(
        count(
            &mut warehouse,
            "SELECT count(*) FROM raw.raw_streams WHERE raw_json->>'id' = 'c'"
        )
        .await,
        1
    );

    // Repaired, the skipped slots load on the next run; nothing loads twice.
    let mut restored = lake.writer_at(Path::from(gone_path.as_str()));
    restored.write_line(br#"{"id":"a"}"#).await.unwrap();
    restored.finish().await.unwrap();
    lake.put(&broken, serde_json::to_vec(&good).unwrap()).await.unwrap();
    let next = load_lake(&lake, &mut warehouse).await.unwrap();
    assert!(next.skipped.is_empty(), "{:?}", next.skipped);
    assert_eq!((next.files_loaded, next.files_already_loaded), (2, 1));
    assert_eq!(count(&mut warehouse, "SELECT count(*) FROM raw.raw_streams").await, 3);
}

#[tokio::test]
async fn a_warehouse_failure_mid_load_leaves_no_file_half_loaded_and_the_next_load_takes_them_all() {
    let (_dir, lake) = temp_lake();
    for n in 0..3 {
        let stream = format!(r#"{{"id":"s{n}"}}"#);
        let game = format!(r#"{{"id":"g{n}"}}"#);
        commit_slot(
            &lake,
            slot().offset(n),
            &[(Entity::Streams, &[stream.as_str()]), (Entity::Games, &[game.as_str()])],
        )
        .await;
    }
    // The warehouse refuses the last slot's game (a constraint stands in for a full
    // disk or a crash): the load stops there, naming the batch of files that holds it.
    let mut warehouse = duckdb_in_memory_with_raw().await;
    warehouse
        .execute(
            "DROP TABLE raw.raw_games;
             CREATE TABLE raw.raw_games (
                 raw_json JSON NOT NULL CHECK (raw_json->>'id' <> 'g2'),
                 file_name VARCHAR NOT NULL,
                 file_row_number BIGINT NOT NULL,
                 loaded_at TIMESTAMP NOT NULL
             );",
        )
        .await
        .unwrap();
    let error = load_lake(&lake, &mut warehouse).await.unwrap_err().to_string();
    let refused = Entity::Games.data_path(slot().offset(2)).to_string();
    assert!(error.contains(&refused), "{error}");

    // Whatever committed before the failure is whole: every file in the history has
    // all its rows, and no row lacks its file's history.
    async fn consistent(w: &mut DuckDbWarehouse) -> i64 {
        count(
            w,
            "SELECT count(*) FROM raw.load_history h
             FULL JOIN (SELECT file_name, count(*) AS n FROM raw.raw_streams GROUP BY ALL
                        UNION ALL SELECT file_name, count(*) FROM raw.raw_games GROUP BY ALL) r
               USING (file_name)
             WHERE h.rows_loaded IS DISTINCT FROM r.n",
        )
        .await
    }
    assert_eq!(consistent(&mut warehouse).await, 0);
    assert!(count(&mut warehouse, "SELECT count(*) FROM raw.load_history").await < 6);

    // The warehouse is usable again, and the next load takes every file left, once.
    warehouse
        .execute(
            "ALTER TABLE raw.raw_games RENAME TO refusing;
             CREATE TABLE raw.raw_games AS SELECT * FROM raw.refusing;
             DROP TABLE raw.refusing;",
        )
        .await
        .unwrap();
    load_lake(&lake, &mut warehouse).await.unwrap();
    assert_eq!(consistent(&mut warehouse).await, 0);
    assert_eq!(count(&mut warehouse, "SELECT count(*) FROM raw.load_history").await, 6);
    assert_eq!(
        count(
            &mut warehouse,
            "SELECT count(*) FROM raw.raw_games WHERE raw_json->>'id' = 'g2'"
        )
        .await,
        1
    );
}
