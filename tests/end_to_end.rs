//! End to end on loopback, as in Azure: the host (emulated) fires extract_timer on
//! `serve`, the slot lands in Blob Storage (Azurite), Event Grid (emulated) delivers
//! the new manifest to blob_trigger, and its files reach Snowpipe (the fake).

use std::sync::Arc;

use crate::support::azurite::Azurite;
use crate::support::fake_snowpipe::fake_snowpipe_settings;
use crate::support::*;
use base64::Engine;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde_json::{Value, json};
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
#[ignore = "needs Azurite (scripts/test installs it)"]
async fn a_timer_slot_travels_through_azurite_and_the_blob_trigger_to_snowpipe() {
    let azurite = Azurite::start();
    azurite.create_container("raw").await;
    let sim = spawn_sim(SimulatorConfig {
        streams: 1_000,
        rate_limit: None,
        ..Default::default()
    })
    .await;
    let (fake, snowflake) = fake_snowpipe_settings().await;

    let (_serve, url) = spawn_serve(&azurite, &sim, &snowflake, "30").await;
    let http = reqwest::Client::new();

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

/// `serve` as the host runs it against Azurite and Snowpipe (a fake, or the emulator,
/// which forwards the SQL API to fakesnow); `resubmit_after` is RESUBMIT_AFTER_MINUTES.
async fn spawn_serve(
    azurite: &Azurite,
    sim: &twitch_pipeline::simulator::RunningSimulator,
    snowflake: &twitch_pipeline::warehouse::SnowflakeSettings,
    resubmit_after: &str,
) -> (Serve, String) {
    let port = free_port();
    let mut command = serve_command(port);
    production_env(&mut command, snowflake);
    azurite.lake_env(sim_env(&mut command, sim));
    let mut serve = Serve(
        command
            .env("RESUBMIT_AFTER_MINUTES", resubmit_after)
            // Two sessions build at once: each must have a schema it may use.
            .env("TRANSFORM_THREADS", "2")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_for_serve(&mut serve.0, &url, std::time::Duration::from_secs(15)).await;
    (serve, url)
}

#[cfg(feature = "duckdb")]
/// Each model's rows with every column both warehouses compute alike, as sorted
/// text: timestamps as epoch seconds, doubles rounded. Left out: the load and staging
/// times (when each warehouse happened to load and stage a row) and snapshots'
/// dbt_scd_id (a hash of a timestamp's text, which each warehouse spells its own way).
async fn comparable<W: twitch_pipeline::warehouse::Warehouse>(
    warehouse: &mut W,
    columns: &[(String, String)],
    model: &str,
) -> Vec<Vec<String>> {
    let snowflake = warehouse.dialect() == twitch_pipeline::warehouse::Dialect::Snowflake;
    let list: Vec<String> = columns
        .iter()
        .filter(|(name, _)| !["loaded_at", "staged_at", "dbt_scd_id"].contains(&name.as_str()))
        .map(|(name, kind)| match kind.as_str() {
            "TIMESTAMP" if snowflake => format!("date_part(epoch_second, {name})"),
            "TIMESTAMP" => format!("cast(epoch({name}) as bigint)"),
            "DOUBLE" | "FLOAT" => format!("round({name}, 6)"),
            "DATE" | "BOOLEAN" => format!("cast({name} as varchar)"),
            _ => name.clone(),
        })
        .collect();
    let mut rows = rows(warehouse, &format!("select {} from {model}", list.join(", "))).await;
    // A file's name as loaded: the lake path locally; on Snowflake the path in the
    // stage's location, its prefix included (`twitch/streams/…`). Compared as lake paths.
    if let Some(at) = columns
        .iter()
        .filter(|(name, _)| !["loaded_at", "staged_at", "dbt_scd_id"].contains(&name.as_str()))
        .position(|(name, _)| name == "file_name")
    {
        for row in &mut rows {
            row[at] = twitch_pipeline::lake::lake_path(&row[at]).to_string();
        }
    }
    rows.sort();
    rows
}

#[cfg(feature = "duckdb")]
/// The production path whole, through `serve` as the Functions host calls it: timer
/// slots extracted into Azurite; their manifests delivered to blob_trigger as Event
/// Grid does (twice, late, out of order, one never); the emulator loading into
/// fakesnow asynchronously and out of order, one file with a bad line; hourly
/// transforms in between. Snowflake ends with what the local path builds from the
/// same lake; `status` names the missed slot; the lost delivery is healed.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Azurite and fakesnow (scripts/test installs them)"]
async fn the_production_path_loses_nothing_and_matches_the_local_path() {
    use crate::support::fakesnow::{settings as snowflake_settings, spawn_fakesnow};
    use crate::support::snowpipe_emulator::Emulator;
    use std::time::Duration;
    use twitch_pipeline::lake::Slot;
    use twitch_pipeline::warehouse::{SnowflakeWarehouse, Warehouse};

    let azurite = Azurite::start();
    let python = crate::support::fakesnow::python();
    azurite.create_container("raw").await;
    let fakesnow = spawn_fakesnow(&python).await;
    let sim = spawn_sim(SimulatorConfig {
        streams: 30,
        rate_limit: None,
        ..Default::default()
    })
    .await;
    let lake = Lake::from_store(
        Arc::new(object_store::prefix::PrefixStore::new(azurite.store("raw"), "twitch")),
        "az://raw/twitch".into(),
    );

    // The raw layer, the pipes and the service role's grants on them, from
    // snowflake-setup's own DDL (the pipes and their grants go to the launcher's model
    // of them, which the emulator consults: without OPERATE, insertFiles is refused).
    let snowflake = snowflake_settings(fakesnow.port);
    let mut direct = SnowflakeWarehouse::connect(&snowflake, "test").await.unwrap();
    for statement in crate::support::snowpipe_emulator::setup_plan(&snowflake.database).statements() {
        if [
            "create database",
            "create schema",
            "create table",
            "create stage",
            "create pipe",
            "grant operate",
        ]
        .iter()
        .any(|p| statement.sql.starts_with(p))
        {
            direct.execute(&statement.sql).await.unwrap();
        }
    }
    let emulator = Emulator::start(fakesnow.port, lake.clone(), &snowflake, Duration::from_millis(150)).await;
    // A page of load history holds 2 entries here, 10,000 in Snowflake: every reader
    // of it must follow the pages.
    emulator.limit_scans(2);
    let mut through_emulator = snowflake.clone();
    through_emulator.base_url = Some(emulator.url.parse().unwrap());

    let (serve, url) = spawn_serve(&azurite, &sim, &through_emulator, "600").await;
    let http = reqwest::Client::new();
    let post = |function: &'static str, body: Value| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let reply = http.post(format!("{url}/{function}")).json(&body).send().await.unwrap();
            let status = reply.status().as_u16();
            let body: Value = reply.json().await.unwrap();
            assert_eq!(status, 200, "{function}: {body}");
            body
        }
    };
    let timer = |function: &str, now: String| {
        let timer = json!({"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false});
        json!({"Data": {"timer": timer}, "Metadata": {"timer": timer.to_string(),
            "sys": {"MethodName": function, "UtcNow": now, "RandGuid": "r"}}})
    };

    // Six slots up to now; slot 4's timer never runs.
    let first = Slot::containing(chrono::Utc::now()).offset(-5);
    let at = |n: i64| first.offset(n);
    for n in [0, 1, 2, 3, 5] {
        let fired = (at(n).time() + chrono::Duration::seconds(2)).to_rfc3339();
        post("extract_timer", timer("extract_timer", fired)).await;
    }
    let manifest = |n: i64| {
        let lake = lake.clone();
        async move { lake.manifest(at(n)).await.unwrap().unwrap() }
    };
    // One line of slot 1's streams file goes bad in storage.
    let bad_file = manifest(1).await.file(Entity::Streams).unwrap().path.clone();
    {
        use std::io::{Read, Write};
        let gzip = lake
            .get_optional(&Path::from(bad_file.as_str()))
            .await
            .unwrap()
            .unwrap();
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&gzip[..])
            .read_to_string(&mut text)
            .unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines[1] = r#"{"id": "broken"#;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all((lines.join("\n") + "\n").as_bytes()).unwrap();
        lake.put(&Path::from(bad_file.as_str()), encoder.finish().unwrap())
            .await
            .unwrap();
    }
    let deliver = |n: i64| {
        let (post, azurite_url, lake) = (&post, azurite.url.clone(), lake.clone());
        async move {
            let blob = format!("twitch/_manifests/date={}/{}.json", at(n).date(), at(n).compact());
            let content = lake
                .get_optional(&twitch_pipeline::lake::manifest_path(at(n)))
                .await
                .unwrap()
                .unwrap();
            let twice = |s: String| Value::String(Value::String(s).to_string());
            post(
                "blob_trigger",
                json!({
                    "Data": {"blob": base64::engine::general_purpose::STANDARD.encode(&content)},
                    "Metadata": {"name": twice(blob.clone()), "Uri": twice(format!("{azurite_url}/devstoreaccount1/raw/{blob}")),
                        "sys": {"MethodName": "blob_trigger", "UtcNow": chrono::Utc::now().to_rfc3339(), "RandGuid": "s"}}
                }),
            )
            .await;
        }
    };
    let hourly = || {
        post(
            "transform_timer",
            timer("transform_timer", chrono::Utc::now().to_rfc3339()),
        )
    };

    // Slots 0 and 1 arrive; slot 1's event twice (Event Grid delivers at least once).
    // Files commit 10 rows at a time, and slot 0's streams file stops after its first
    // transaction: the hourly run sees a third of it, the next one the rest.
    emulator.commit_in(10);
    let split = manifest(0).await.file(Entity::Streams).unwrap().path.clone();
    emulator.stop_after_first_commit(&split);
    deliver(0).await;
    deliver(1).await;
    deliver(1).await;
    emulator.wait_first_commit().await;
    emulator
        .wait_loaded(&manifest(1).await.file(Entity::Streams).unwrap().path)
        .await;
    hourly().await;
    emulator.resume_commits();
    emulator.drain().await;
    hourly().await;

    // Slot 2's streams file starts loading first and commits last: slot 3 is loaded
    // and transformed in between, so slot 2's rows appear behind newer ones.
    let late = manifest(2).await.file(Entity::Streams).unwrap().path.clone();
    emulator.hold_before_commit(&late);
    deliver(2).await;
    emulator.wait_scan_started(&late).await;
    deliver(3).await;
    emulator
        .wait_loaded(&manifest(3).await.file(Entity::Streams).unwrap().path)
        .await;
    hourly().await;
    assert!(
        !emulator.history().iter().any(|r| r.path == late),
        "slot 2's streams file commits after that run"
    );
    emulator.release_commit();
    emulator.drain().await;
    hourly().await;

    // Slot 5's event is never delivered: `status` finds it.
    let (code, out) = status_on_snowflake(&azurite, &through_emulator, at(0), at(6)).await;
    assert_eq!(code, Some(1), "{out}");
    let slot_5 = out
        .lines()
        .find(|l| l.starts_with(&at(5).rfc3339()))
        .unwrap_or_default();
    assert!(
        slot_5.contains("INCOMPLETE") && slot_5.contains("its delivery may be lost"),
        "{out}"
    );

    // The next hourly run (with no grace left) submits its files again, and the one
    // after transforms them.
    drop(serve);
    let (_serve, url) = spawn_serve(&azurite, &sim, &through_emulator, "0").await;
    let reply = http
        .post(format!("{url}/transform_timer"))
        .json(&timer("transform_timer", chrono::Utc::now().to_rfc3339()))
        .send()
        .await
        .unwrap();
    let reply: Value = reply.json().await.unwrap();
    let logs = reply["Logs"].to_string();
    assert!(
        logs.contains("WARNING: ") && logs.contains("MISSED"),
        "the run reports the missed slot: {logs}"
    );
    // …and the line Snowpipe rejected (what the alert on Snowpipe load errors reads).
    assert!(
        logs.contains(&format!(
            "WARNING: slot {}: `{bad_file}`: 1 line(s) rejected by Snowpipe",
            at(1)
        )),
        "{logs}"
    );
    assert!(
        logs.contains(&format!("slot {}: submitted", at(5)))
            && logs.contains(&manifest(5).await.file(Entity::Streams).unwrap().path)
            && logs.matches("submitted").count() == 1,
        "{logs}"
    );
    emulator.drain().await;
    http.post(format!("{url}/transform_timer"))
        .json(&timer("transform_timer", chrono::Utc::now().to_rfc3339()))
        .send()
        .await
        .unwrap();
    // serve's sessions let Snowflake cancel a statement inside the host's 14 minutes.
    assert!(
        fakesnow
            .lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l == "login STATEMENT_TIMEOUT_IN_SECONDS=720"),
        "serve's sessions carry a statement timeout"
    );

    // `status` on Snowflake: the missed slot named, the bad line counted from
    // Snowpipe's load history, every other slot complete.
    let (code, out) = status_on_snowflake(&azurite, &through_emulator, at(0), at(6)).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("6 slot(s) expected, 5 committed (5 complete, 0 pending, 0 incomplete, 0 unreadable), 1 missed"),
        "{out}"
    );
    assert!(out.contains(&format!("{}  MISSED", at(4).rfc3339())), "{out}");
    assert!(
        out.contains(&format!(
            "`{bad_file}`: 1 line(s) rejected by Snowpipe: Error parsing JSON"
        )),
        "{out}"
    );

    // The report opens with the same health: the missed slot, the rejected line.
    let (code, out) = on_snowflake(&azurite, &through_emulator, &["report"]).await;
    assert_eq!(code, Some(0), "{out}");
    let row = |measure: &str| {
        out.lines()
            .find(|l| l.contains(measure))
            .unwrap_or_default()
            .to_string()
    };
    assert!(row("lines rejected at load").contains(" 1 "), "{out}");
    assert!(row("missed slots").contains(&at(4).rfc3339()), "{out}");

    // Slot 1's files were submitted twice and loaded once; its bad line cost that line.
    let submissions = emulator.submitted();
    assert_eq!(
        submissions
            .iter()
            .filter(|(_, files)| files.contains(&bad_file))
            .count(),
        2
    );
    let history = emulator.history();
    let loads: Vec<_> = history.iter().filter(|r| r.path == bad_file).collect();
    assert_eq!(loads.len(), 1, "{loads:?}");
    assert_eq!((loads[0].status, loads[0].errors_seen), ("PARTIALLY_LOADED", 1));

    // Snowpipe's load history, read page by page, has every file that was loaded.
    let client = twitch_pipeline::snowpipe::SnowpipeClient::new(&through_emulator, Default::default()).unwrap();
    let now = chrono::Utc::now();
    let records = twitch_pipeline::ingest::load_records(
        &client,
        &through_emulator.database,
        now - chrono::Duration::hours(1),
        now,
    )
    .await
    .unwrap();
    let loaded: std::collections::BTreeSet<&str> = history.iter().map(|r| r.path.as_str()).collect();
    assert!(loaded.len() > 2, "more than a page: {loaded:?}");
    for path in &loaded {
        assert!(
            records.files.contains_key(*path),
            "{path} missing from {:?}",
            records.files.keys()
        );
    }

    // A backfill submits nothing RAW holds already: past Snowpipe's 14-day load
    // history each of these files would load a second time.
    emulator.pass_days(15);
    let (code, out) = on_snowflake(&azurite, &through_emulator, &["ingest", "--backfill"]).await;
    assert_eq!(code, Some(0), "{out}");
    let committed: Vec<_> = [0, 1, 2, 3, 5]
        .iter()
        .flat_map(|n| futures::executor::block_on(manifest(*n)).files)
        .collect();
    let empty = committed.iter().filter(|f| f.rows == 0).count();
    assert!(
        out.contains(&format!(
            "{} file(s) not submitted: RAW holds them already; {empty} without rows",
            committed.len() - empty
        )),
        "{out}"
    );
    assert_eq!(
        emulator.submitted().len(),
        submissions.len(),
        "nothing submitted: {out}"
    );

    // The local path over the same lake builds the same tables.
    let mut local = duckdb_in_memory_with_raw().await;
    let loaded = twitch_pipeline::load::load_lake(&lake, &mut local).await.unwrap();
    assert_eq!(loaded.rejected, 1);
    // Built for prod, as the Function App builds Snowflake: the same schemas.
    let options = twitch_pipeline::transform::TransformOptions {
        check_freshness: false,
        target_name: Some("prod".into()),
        ..Default::default()
    };
    let project = twitch_pipeline::transform::Project::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let report = twitch_pipeline::transform::run(&project, &mut local, &options, |_| {})
        .await
        .unwrap();
    assert!(report.succeeded(), "{}", report.summary_line());
    let facts = rows(&mut direct, "select count(*) from marts.fact_stream_snapshots").await;
    let expected: u64 = [0, 1, 2, 3, 5]
        .iter()
        .map(|n| {
            futures::executor::block_on(manifest(*n))
                .file(Entity::Streams)
                .unwrap()
                .rows
        })
        .sum::<u64>()
        - 1;
    assert_eq!(
        facts,
        [[expected.to_string()]],
        "every committed stream row but the bad line, once"
    );
    for model in MODELS.iter().map(|m| m.trim_start_matches("main_")) {
        let (schema, name) = model.split_once('.').unwrap();
        let columns: Vec<(String, String)> = rows(
            &mut local,
            &format!(
                "select column_name, data_type from information_schema.columns where table_schema = '{schema}' and table_name = '{name}' order by ordinal_position"
            ),
        )
        .await
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
        let ours = comparable(&mut local, &columns, model).await;
        let theirs = comparable(&mut direct, &columns, model).await;
        // The slots fall on one day: the analytics on complete days have none yet.
        assert!(
            !ours.is_empty() || analytics_models().contains(&format!("main_{model}").as_str()),
            "{model} is empty"
        );
        let only = |a: &[Vec<String>], b: &[Vec<String>]| -> Vec<Vec<String>> {
            a.iter().filter(|r| !b.contains(r)).take(3).cloned().collect()
        };
        assert!(
            theirs == ours,
            "{model} differs ({} rows on Snowflake, {} on the local path).\nonly on Snowflake: {:?}\nonly locally: {:?}",
            theirs.len(),
            ours.len(),
            only(&theirs, &ours),
            only(&ours, &theirs)
        );
    }

    // `doctor` with the app's settings: every hop passes on the stand-ins…
    let (code, out) = doctor(&azurite, &through_emulator, &sim, &[]).await;
    assert_eq!(code, Some(0), "{out}");
    for line in [
        "✓ twitch: an app token for the client id and secret",
        "✓ twitch: one page of Get Streams",
        "✓ lake: write, read, list and delete a probe in container `raw`, prefix `twitch/`",
        "✓ snowflake: login as",
        "✓ snowflake: a temporary table in TWITCH.marts, where the transform makes them: created and dropped",
        "✓ snowflake: pipe TWITCH.RAW.RAW_STREAMS_PIPE: RUNNING; role ROLE holds MONITOR, OPERATE",
        "✓ snowflake: Snowpipe's REST API with the key-pair JWT",
        "✓ snowflake: stage TWITCH.RAW.LAKE against LAKE_URL",
        "✓ snowflake: LIST @TWITCH.RAW.LAKE sees the newest committed manifest",
        "✓ snowflake: METADATA$FILENAME of a staged file against the manifest's path: `twitch/streams/",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    // …and each injected failure is named, with its fix.
    direct
        .execute("alter pipe TWITCH.RAW.RAW_USERS_PIPE set pipe_execution_paused = true")
        .await
        .unwrap();
    let other_key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let other_key = {
        use rsa::pkcs8::EncodePrivateKey;
        other_key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap().to_string()
    };
    let (code, out) = doctor(&azurite, &through_emulator, &sim, &[]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("✗ snowflake: pipe TWITCH.RAW.RAW_USERS_PIPE: PAUSED — fix: run snowflake-setup --apply"),
        "{out}"
    );
    direct
        .execute("alter pipe TWITCH.RAW.RAW_USERS_PIPE set pipe_execution_paused = false")
        .await
        .unwrap();
    emulator.blind_stage(true);
    let (code, out) = doctor(&azurite, &through_emulator, &sim, &[]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("✗ snowflake: LIST @TWITCH.RAW.LAKE sees the newest committed manifest: _manifests/")
            && out.contains("is not among the 0 file(s) it lists — fix: "),
        "{out}"
    );
    emulator.blind_stage(false);
    for (extra, says) in [
        (
            vec![("TWITCH_CLIENT_SECRET", "wrong")],
            "✗ twitch: an app token for the client id and secret: Twitch refused the app credentials",
        ),
        (
            vec![("LAKE_URL", "az://no-such-container")],
            "✗ lake: write, read, list and delete a probe in container `no-such-container`",
        ),
        (
            vec![("SNOWFLAKE_ROLE", "ANALYST")],
            "✗ snowflake: pipe TWITCH.RAW.RAW_STREAMS_PIPE: ",
        ),
        (
            vec![("SNOWFLAKE_PRIVATE_KEY", other_key.as_str())],
            "✗ snowflake: Snowpipe's REST API with the key-pair JWT",
        ),
        (
            vec![("LAKE_URL", "az://raw/elsewhere")],
            "✗ snowflake: stage TWITCH.RAW.LAKE against LAKE_URL: the stage reads azure://acct.blob.core.windows.net/raw/twitch/, the lake is azure://ACCOUNT.blob.core.windows.net/raw/elsewhere/",
        ),
    ] {
        let (code, out) = doctor(&azurite, &through_emulator, &sim, &extra).await;
        assert_eq!(code, Some(1), "{says}: {out}");
        assert!(out.contains(says) && out.contains(" — fix: "), "{says}: {out}");
    }
}

/// `doctor` with the app's settings (the simulator as Twitch, Azurite as the lake, the
/// emulator in front of fakesnow as Snowflake), and `extra` changed: exit code, output.
#[cfg(feature = "duckdb")]
async fn doctor(
    azurite: &Azurite,
    snowflake: &twitch_pipeline::warehouse::SnowflakeSettings,
    sim: &twitch_pipeline::simulator::RunningSimulator,
    extra: &[(&str, &str)],
) -> (Option<i32>, String) {
    let mut command = std::process::Command::new(pipeline_binary());
    production_env(&mut command, snowflake);
    azurite.lake_env(&mut command);
    sim_env(&mut command, sim).arg("doctor").envs(extra.iter().copied());
    exit_and_output(command).await
}

/// `status --warehouse snowflake` over the lake in Azurite, with no grace period.
#[cfg(feature = "duckdb")]
async fn status_on_snowflake(
    azurite: &Azurite,
    snowflake: &twitch_pipeline::warehouse::SnowflakeSettings,
    since: twitch_pipeline::lake::Slot,
    until: twitch_pipeline::lake::Slot,
) -> (Option<i32>, String) {
    let args = [
        "status",
        "--since",
        &since.rfc3339(),
        "--until",
        &until.rfc3339(),
        "--grace-minutes",
        "0",
    ];
    on_snowflake(azurite, snowflake, &args).await
}

/// The Function App's settings for `command`: Snowflake with the role
/// `snowflake-setup` creates (functionapp.bicep sets SNOWFLAKE_ROLE), and the `prod`
/// target (the production schemas).
fn production_env<'c>(
    command: &'c mut std::process::Command,
    snowflake: &twitch_pipeline::warehouse::SnowflakeSettings,
) -> &'c mut std::process::Command {
    snowflake_env(command, snowflake)
        .env(
            "SNOWFLAKE_ROLE",
            crate::support::snowpipe_emulator::setup_plan(&snowflake.database).role,
        )
        .env("SNOWFLAKE_SCHEMA", &snowflake.schema)
        .env("WAREHOUSE_URL", "snowflake")
        .env("TRANSFORM_TARGET_NAME", "prod")
}

/// A command with `WAREHOUSE_URL=snowflake` over the lake in Azurite: exit code, output.
#[cfg(feature = "duckdb")]
async fn on_snowflake(
    azurite: &Azurite,
    snowflake: &twitch_pipeline::warehouse::SnowflakeSettings,
    args: &[&str],
) -> (Option<i32>, String) {
    let mut command = std::process::Command::new(pipeline_binary());
    production_env(&mut command, snowflake);
    azurite.lake_env(&mut command).args(args);
    exit_and_output(command).await
}

/// Runs `command` off the runtime's threads: its exit code, its stdout then stderr.
#[cfg(feature = "duckdb")]
async fn exit_and_output(mut command: std::process::Command) -> (Option<i32>, String) {
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), out)
}
