//! The custom handler under a host emulator: real invocation envelopes over HTTP, as
//! the Functions host posts them (timer with a null ScheduleStatus, blob with base64
//! content and doubly encoded metadata, an HTTP `req`), and the replies checked.
#![cfg(feature = "duckdb")]

use std::time::Duration;

use crate::support::fake_snowpipe::fake_snowpipe_settings;
use crate::support::handler::*;
use crate::support::*;
use serde_json::{Value, json};
use twitch_pipeline::lake::Slot;
use twitch_pipeline::simulator::SimulatorConfig;
use twitch_pipeline::warehouse::WarehouseTarget;

/// The handler on Snowflake (the fake Snowpipe) with a simulator and a local lake.
struct Handler {
    sim: twitch_pipeline::simulator::RunningSimulator,
    fake: crate::support::fake_snowpipe::Shared,
    url: String,
    dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn snowpipe_handler(streams: usize) -> Handler {
    let (fake, snowflake) = fake_snowpipe_settings().await;
    let LocalHandler { sim, dir, url, _stop } = spawn_in(streams, |sim, dir| {
        serve_settings(sim, dir, WarehouseTarget::Snowflake(Box::new(snowflake)))
    })
    .await;
    Handler {
        sim,
        fake,
        url,
        dir,
        _stop,
    }
}

/// The handler on the embedded DuckDB (`DIR/w.duckdb`), with a simulator of `streams`
/// and a lake in `DIR/lake`; `adjust` changes its settings first. Bind every field:
/// the handler stops and the folder goes when they drop.
struct LocalHandler {
    sim: twitch_pipeline::simulator::RunningSimulator,
    dir: tempfile::TempDir,
    url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn local_handler(
    streams: usize,
    adjust: impl FnOnce(&mut twitch_pipeline::functions::ServeSettings, &std::path::Path),
) -> LocalHandler {
    spawn_in(streams, |sim, dir| {
        let warehouse = WarehouseTarget::DuckDb(twitch_pipeline::warehouse::DuckDbTarget::at(dir.join("w.duckdb")));
        let mut settings = serve_settings(sim, &dir.join("lake"), warehouse);
        adjust(&mut settings, dir);
        settings
    })
    .await
}

/// A simulator of `streams`, a temporary folder, and the handler with the settings
/// `settings` makes of them.
async fn spawn_in(
    streams: usize,
    settings: impl FnOnce(
        &twitch_pipeline::simulator::RunningSimulator,
        &std::path::Path,
    ) -> twitch_pipeline::functions::ServeSettings,
) -> LocalHandler {
    let sim = spawn_sim(SimulatorConfig {
        streams,
        rate_limit: None,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (url, _stop) = spawn_handler(settings(&sim, dir.path())).await;
    LocalHandler { sim, dir, url, _stop }
}

#[tokio::test]
async fn timer_blob_and_http_invocations_run_the_pipeline_on_snowpipe() {
    let Handler {
        sim,
        fake,
        url,
        dir,
        _stop,
    } = snowpipe_handler(250).await;

    let probe = reqwest::get(format!("{url}/")).await.unwrap();
    assert_eq!(probe.status(), 200);
    let timing = probe.headers()["server-timing"].to_str().unwrap();
    assert!(timing.starts_with("handler;dur="), "{timing}");

    // The timer fires a few seconds after 20:00: the run extracts the 20:00 slot.
    let (status, reply) = post(
        &url,
        "extract_timer",
        &timer_envelope("extract_timer", "2026-11-23T20:00:04.0304567Z"),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert!(
        reply["Logs"][0]
            .as_str()
            .unwrap()
            .contains("slot 2026-11-23T20:00:00Z: 250 streams"),
        "{reply}"
    );
    assert!(
        reply["Outputs"].is_object() && reply.get("ReturnValue").is_some(),
        "{reply}"
    );

    // A retry of the 20:15 timer that fires at 20:29:10 cannot finish before the 20:30
    // run starts: refused with the reason, nothing extracted.
    let (status, reply) = post(
        &url,
        "extract_timer",
        &timer_envelope("extract_timer", "2026-11-23T20:29:10Z"),
    )
    .await;
    assert_eq!(status, 500, "{reply}");
    assert!(
        reply["Logs"][0]
            .as_str()
            .unwrap()
            .contains("too late to extract slot 2026-11-23T20:15:00Z"),
        "{reply}"
    );
    assert!(
        !dir.path()
            .join("_manifests/date=2026-11-23/20261123T2015Z.json")
            .exists()
    );

    // Event Grid delivers the manifest: its three files go to their pipes, once per pipe.
    let manifest = format!("_manifests/date=2026-11-23/{}.json", slot().compact());
    let content = std::fs::read(dir.path().join(&manifest)).unwrap();
    let (status, reply) = post(&url, "blob_trigger", &blob_envelope(&manifest, &content)).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(fake.lock().unwrap().calls.len(), 3);
    // A second delivery is harmless; data files and state are ignored.
    assert_eq!(
        post(&url, "blob_trigger", &blob_envelope(&manifest, &content)).await.0,
        200
    );
    let data = format!("streams/date=2026-11-23/streams_{}.ndjson.gz", slot().compact());
    let (status, reply) = post(&url, "blob_trigger", &blob_envelope(&data, b"x")).await;
    assert_eq!(status, 200);
    assert!(reply["Logs"][0].as_str().unwrap().contains("ignored"), "{reply}");
    assert_eq!(fake.lock().unwrap().calls.len(), 6);

    // The manual HTTP function, as the host forwards a POST: an extraction is
    // accepted at once (202, its id on the jobs queue), run by `run_job`, and its
    // state read back with a GET.
    let next: Slot = slot().offset(1);
    sim.simulator.config().clock.set(next.time());
    let (status, reply, id) = run_queued_job(
        &url,
        &json!({"job": "extract", "slot": next.rfc3339()}),
        "2026-11-23T20:16:00Z",
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert!(
        reply["Logs"][0].as_str().unwrap().contains("2026-11-23T20:15:00Z"),
        "{reply}"
    );
    let (code, record) = job_state(&url, &id).await;
    assert_eq!((code, record["state"].as_str()), (200, Some("succeeded")), "{record}");
    assert_eq!(record["job"], "extract");
    assert_eq!(record["slot"], "2026-11-23T20:15:00Z");
    assert_eq!(record["attempts"], 1);
    assert!(
        record["result"]
            .as_str()
            .unwrap()
            .contains("slot 2026-11-23T20:15:00Z: 250 streams"),
        "{record}"
    );
    assert!(dir.path().join(format!("_jobs/{id}.json")).is_file());
    assert!(
        dir.path()
            .join("_manifests/date=2026-11-23/20261123T2015Z.json")
            .is_file()
    );
    // The queue delivers a message at least once: a second delivery runs nothing.
    let message = json!({"id": id}).to_string();
    let (status, reply) = post(&url, "run_job", &queue_envelope(&message, 2, "2026-11-23T20:17:00Z")).await;
    assert_eq!(status, 200, "{reply}");
    assert!(
        reply["Logs"][0].as_str().unwrap().contains("already succeeded"),
        "{reply}"
    );
    assert_eq!(job_state(&url, &id).await.1["attempts"], 1);
}

#[tokio::test]
async fn failures_say_why_to_the_host_and_to_the_caller() {
    // Everything bound: the folder and the server live until the test ends.
    let Handler {
        sim: _sim,
        fake,
        url,
        dir: _dir,
        _stop,
    } = snowpipe_handler(50).await;

    let no_timer = json!({"Data": {}, "Metadata": {"sys": {"UtcNow": "2026-11-23T20:00:04Z"}}});
    let (status, reply) = post(&url, "extract_timer", &no_timer).await;
    assert_eq!(status, 500);
    assert!(
        reply["Logs"][0].as_str().unwrap().contains("no `timer` binding"),
        "{reply}"
    );

    // A blob that is not a manifest: the host records the failure with its reason.
    fake.lock().unwrap().failures.clear();
    let (status, reply) = post(
        &url,
        "blob_trigger",
        &blob_envelope("_manifests/date=2026-11-23/20261123T2345Z.json", b"{}"),
    )
    .await;
    assert_eq!(status, 500);
    assert!(
        reply["ReturnValue"]["error"]
            .as_str()
            .unwrap()
            .contains("not a manifest this pipeline writes"),
        "{reply}"
    );
    // The manual function answers its caller through `res` with the real status and
    // the reason (a non-2xx reply would reach the caller as a bare 500): a job that
    // fails is a 500 (here a manifest the lake lacks)…
    let res = |reply: &serde_json::Value| {
        (
            reply["Outputs"]["res"]["statusCode"].as_u64().unwrap_or_default(),
            reply["Outputs"]["res"]["body"].as_str().unwrap_or_default().to_string(),
        )
    };
    let (status, reply) = post(
        &url,
        "run",
        &json!({"Data": {"req": {"Body": {"job": "ingest", "path": "_manifests/date=2026-11-23/20261123T2345Z.json"}}}, "Metadata": {}}),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let (code, body) = res(&reply);
    assert!(code == 500 && body.contains("no manifest"), "{reply}");

    // A queued job that fails is recorded as failed with its reason (here Snowflake
    // cannot be reached), and the host records the failed invocation; the queue's
    // redelivery does not run it again.
    let (status, reply, id) = run_queued_job(&url, &json!({"job": "transform"}), "2026-11-23T20:16:00Z").await;
    assert_eq!(status, 500, "{reply}");
    let (code, record) = job_state(&url, &id).await;
    assert_eq!((code, record["state"].as_str()), (200, Some("failed")), "{record}");
    let error = record["error"].as_str().unwrap();
    assert!(
        !error.is_empty() && reply["Logs"][0].as_str().unwrap().contains(error),
        "{record} {reply}"
    );
    assert!(record["finished_at"].is_string(), "{record}");
    let (status, reply) = post(
        &url,
        "run_job",
        &queue_envelope(&json!({"id": id}).to_string(), 2, "2026-11-23T20:16:10Z"),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply["Logs"][0].as_str().unwrap().contains("already failed"), "{reply}");
    // A job the queue holds past its slot is refused when it runs, not extracted.
    let (_, accepted) = post(
        &url,
        "run",
        &run_envelope(&url, &json!({"job": "extract"}), "2026-11-23T20:16:00Z"),
    )
    .await;
    let message = accepted["Outputs"]["job"].as_str().unwrap();
    let (status, reply) = post(&url, "run_job", &queue_envelope(message, 1, "2026-11-23T21:05:00Z")).await;
    assert_eq!(status, 500, "{reply}");
    assert!(
        reply["Logs"][0].as_str().unwrap().contains("keeps no history"),
        "{reply}"
    );
    // A message naming no job, or a job the lake has no record of: failed, with why.
    for (message, reason) in [
        ("{}", "names no job"),
        (r#"{"id": "20261123T201600Z-00000000"}"#, "no record of job"),
    ] {
        let (status, reply) = post(&url, "run_job", &queue_envelope(message, 1, "2026-11-23T20:16:10Z")).await;
        assert_eq!(status, 500, "{reply}");
        assert!(reply["Logs"][0].as_str().unwrap().contains(reason), "{reply}");
    }
    // A GET of an unknown job is a 404, of something that is not a job id a 400, and
    // without an id a 400.
    assert_eq!(job_state(&url, "20261123T201600Z-00000000").await.0, 404);
    assert_eq!(job_state(&url, "..%2F_manifests").await.0, 400);
    let mut no_id = job_state_envelope(&url, "x");
    no_id["Data"]["req"]["Query"] = json!({});
    no_id["Data"]["req"]["Url"] = json!(format!("{url}/api/run"));
    let (_, reply) = post(&url, "run", &no_id).await;
    assert_eq!(reply["Outputs"]["res"]["statusCode"], 400, "{reply}");

    // …and a request that cannot be run is a 400: an unknown job, a missing path, a
    // past slot (Twitch keeps no history), a future one.
    for (request, reason) in [
        (json!({"job": "dance"}), "the body must be"),
        (json!({"job": "ingest"}), "ingest needs \"path\""),
        (
            json!({"job": "extract", "slot": "2026-11-23T18:00:00Z"}),
            "keeps no history",
        ),
        (
            json!({"job": "extract", "slot": "2026-11-23T23:00:00Z"}),
            "block its real run",
        ),
        (json!({"job": "extract", "slot": "yesterday"}), "\"slot\""),
    ] {
        let (status, reply) = post(&url, "run", &run_envelope(&url, &request, "2026-11-23T20:16:00Z")).await;
        assert_eq!(status, 200, "{reply}");
        let (code, body) = res(&reply);
        assert!(code == 400 && body.contains(reason), "{request}: {reply}");
    }
}

/// On a first start, before the app's identity can read Key Vault, App Service leaves
/// the reference's text in the setting: serve must say so and stop, not use that text
/// as the secret.
#[test]
fn serve_refuses_an_unresolved_key_vault_reference_at_start() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let reference = "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/twitch-client-secret/)";
    let output = local_serve_command(port, dir.path())
        .env("TWITCH_CLIENT_SECRET", reference)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("TWITCH_CLIENT_SECRET is a Key Vault reference the platform has not resolved")
            && stderr.contains("restart the app"),
        "{stderr}"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn serve_answers_the_hosts_probe_from_the_real_binary() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = local_serve_command(port, dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let answered = loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            break answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "serve did not listen within 10 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
}

#[tokio::test]
async fn serve_logs_json_to_stdout_and_stops_cleanly_on_sigterm() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = local_serve_command(port, dir.path())
        .env("TWITCH_CLIENT_SECRET", "hunter2-serve-secret")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    wait_for_serve(&mut child, &url, Duration::from_secs(10)).await;
    let (status, _) = post(&url, "extract_timer", &json!({"Data": {}, "Metadata": {}})).await;
    assert_eq!(status, 500);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let stopped = std::time::Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "serve did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(exit.success(), "{exit}");
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["function"] == "extract_timer" && l["message"] == "invocation failed"),
        "{stdout}"
    );
    assert!(!stdout.contains("hunter2"), "a secret reached the logs: {stdout}");
}

#[tokio::test]
async fn serve_keeps_its_app_token_across_timer_runs() {
    // Twitch's app tokens last about 60 days; `serve` reuses one until Helix refuses
    // it, instead of minting one a run.
    let LocalHandler {
        sim,
        url,
        dir: _dir,
        _stop,
    } = local_handler(200, |_, _| {}).await;
    for (n, fired) in [(0, "2026-11-23T20:00:02Z"), (1, "2026-11-23T20:15:01Z")] {
        sim.simulator.config().clock.set(slot().offset(n).time());
        let (status, reply) = post(&url, "extract_timer", &timer_envelope("extract_timer", fired)).await;
        assert_eq!(status, 200, "{reply}");
        assert!(reply["Logs"][0].as_str().unwrap().contains("200 streams"), "{reply}");
    }
    assert_eq!(sim.simulator.issued_tokens().len(), 1, "one token for both runs");
}

/// The regular expression of an alert rule's query in infra/modules/alerts.bicep
/// (`matches regex @"…"`).
fn alert_regex(rule: &str) -> regex::Regex {
    let alerts =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/modules/alerts.bicep"))
            .unwrap();
    let at = alerts
        .find(&format!("name: '{rule}'"))
        .unwrap_or_else(|| panic!("no alert {rule}"));
    let query = alerts[at..]
        .lines()
        .find(|l| l.trim_start().starts_with("query: "))
        .unwrap();
    let pattern = query
        .split("matches regex @\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("{rule}'s query has no regex: {query}"));
    regex::Regex::new(pattern).unwrap()
}

/// The handler answers the host while the hourly transform runs a long statement on
/// the embedded DuckDB. The runtime here has one worker: a statement run on it would
/// hold every reply until the statement ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_handler_answers_while_a_long_statement_runs() {
    // About 2-5 s of DuckDB's work on two cores.
    let slow = "{{ config(materialized='table') }}\n\
                select count(*) as n from range(800000000) t(i) where hash(i) % 7 = 3";
    let LocalHandler {
        url,
        _stop,
        sim: _sim,
        dir: _dir,
    } = local_handler(10, |settings, dir| {
        let project = dir.join("project");
        write_project(
            &project,
            &[
                ("dbt_project.yml", "name: slow\nconfig-version: 2\nprofile: slow\n"),
                ("models/slow.sql", slow),
            ],
        );
        settings.project.dir = project;
    })
    .await;
    let fired = chrono::Utc::now().to_rfc3339();
    let transform = {
        let url = url.clone();
        tokio::spawn(async move { post(&url, "transform_timer", &timer_envelope("transform_timer", &fired)).await })
    };
    let started = std::time::Instant::now();
    let mut slowest = Duration::ZERO;
    let mut answered = 0;
    while !transform.is_finished() {
        let asked = std::time::Instant::now();
        let probe = reqwest::get(&url).await.unwrap();
        assert!(probe.status().is_success());
        slowest = slowest.max(asked.elapsed());
        answered += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    let (status, reply) = transform.await.unwrap();
    assert_eq!(status, 200, "{reply}");
    assert!(
        took > Duration::from_secs(1),
        "the statement took {took:?}: too short to show anything"
    );
    assert!(
        answered >= 10 && slowest < Duration::from_millis(500),
        "{answered} probe(s) answered during a {took:?} transform, the slowest in {slowest:?}"
    );
}

#[tokio::test]
async fn failing_data_tests_are_logged_to_the_host_and_not_retried() {
    // The host keeps the Logs of a 2xx reply only, and retries a failed timer run: a
    // run whose models all built but whose data fails a test answers 200 with the
    // failure in its Logs (where the data-test alert reads it), not 500 twice more.
    let LocalHandler { sim, dir, url, _stop } = local_handler(50, |settings, dir| {
        let project = dir.join("project");
        std::fs::create_dir_all(&project).unwrap();
        copy_project(&project);
        std::fs::write(
            project.join("models/tests/assert_always_fails.sql"),
            "-- A test that finds a row whatever the data.\nselect 1 as id\n",
        )
        .unwrap();
        settings.project.dir = project;
    })
    .await;
    let database = dir.path().join("w.duckdb");
    // Now, so that the sources are fresh: only the test fails.
    let now = Slot::containing(chrono::Utc::now());
    sim.simulator.config().clock.set(now.time());
    let fired = (now.time() + chrono::Duration::seconds(2)).to_rfc3339();
    let (status, reply) = post(&url, "extract_timer", &timer_envelope("extract_timer", &fired)).await;
    assert_eq!(status, 200, "{reply}");
    // The local warehouse is loaded by `load`; Snowpipe does it in Azure.
    let lake =
        twitch_pipeline::lake::Lake::open(&twitch_pipeline::lake::LakeUrl::Local(dir.path().join("lake"))).unwrap();
    twitch_pipeline::load::load_lake(&lake, &mut duckdb_with_raw(&database).await)
        .await
        .unwrap();

    let (status, reply) = post(&url, "transform_timer", &timer_envelope("transform_timer", &fired)).await;
    assert_eq!(status, 200, "{reply}");
    let logs: Vec<&str> = reply["Logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // The data-test alert's own expression (KQL's `matches regex`, RE2 syntax, which
    // the regex crate shares) finds the summary, and would not find it with 0 failed.
    let alert = alert_regex("transform-tests-failed");
    let summary = logs
        .iter()
        .find(|l| alert.is_match(l))
        .unwrap_or_else(|| panic!("the data-test alert ({alert}) matches none of {logs:?}"));
    assert!(summary.contains(" 1 failed"), "{summary}");
    assert!(!alert.is_match(&summary.replace(" 1 failed", " 0 failed")), "{summary}");
    assert!(
        logs.iter()
            .any(|l| l.starts_with("ERROR: data tests failed") && l.contains("assert_always_fails")),
        "{logs:?}"
    );

    // A model that does not build is a failed run, answered 500 (and retried).
    std::fs::write(
        dir.path().join("project/models/marts/broken.sql"),
        "select * from a_table_that_is_not_there\n",
    )
    .unwrap();
    let (status, reply) = post(&url, "transform_timer", &timer_envelope("transform_timer", &fired)).await;
    assert_eq!(status, 500, "{reply}");
}

#[tokio::test]
async fn doctor_runs_inside_the_app_with_its_own_settings() {
    let LocalHandler {
        sim,
        url,
        dir: _dir,
        _stop,
    } = local_handler(20, |_, _| {}).await;
    let (status, reply) = post(
        &url,
        "run",
        &run_envelope(&url, &json!({"job": "doctor"}), "2026-11-23T20:16:00Z"),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let res = &reply["Outputs"]["res"];
    assert_eq!(res["statusCode"], 200, "{reply}");
    let body: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["failed"], 0, "{body}");
    let hops: Vec<&str> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["hop"].as_str().unwrap())
        .collect();
    assert!(hops.contains(&"twitch") && hops.contains(&"lake"), "{body}");

    // With Snowflake as the warehouse and no Snowflake to reach, the login is named.
    let (_fake, snowflake) = fake_snowpipe_settings().await;
    let dir = tempfile::tempdir().unwrap();
    let (url, _stop) = spawn_handler(serve_settings(
        &sim,
        dir.path(),
        WarehouseTarget::Snowflake(Box::new(snowflake)),
    ))
    .await;
    let (_, reply) = post(
        &url,
        "run",
        &run_envelope(&url, &json!({"job": "doctor"}), "2026-11-23T20:16:00Z"),
    )
    .await;
    let res = &reply["Outputs"]["res"];
    assert_eq!(res["statusCode"], 500, "{reply}");
    let body: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
    let login = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["hop"] == "snowflake")
        .unwrap();
    assert_eq!(login["ok"], false, "{body}");
    assert!(
        login["fix"].as_str().unwrap().contains("snowflake-setup --apply"),
        "{body}"
    );
}

#[tokio::test]
async fn doctor_calls_the_app_from_outside_through_the_hosts_key_check() {
    let LocalHandler {
        dir,
        url,
        _stop,
        sim: _sim,
    } = local_handler(20, |_, _| {}).await;
    let app = host_front(url, "the-key").await;
    let lake = dir.path().join("lake");
    let doctor = async |key: &str| {
        let output = tokio::process::Command::new(pipeline_binary())
            .arg("doctor")
            .env("LAKE_URL", &lake)
            .env_remove("TWITCH_CLIENT_ID")
            .env_remove("SNOWFLAKE_ACCOUNT")
            .env("FUNCTION_APP_URL", &app)
            .env("FUNCTION_APP_KEY", key)
            .output()
            .await
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).to_string(),
        )
    };
    let (code, out) = doctor("the-key").await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("✓ functions: GET ") && out.contains("404, as it should"),
        "{out}"
    );
    let (code, out) = doctor("wrong").await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("401 Unauthorized: the key was refused — fix: use a function key of `run`"),
        "{out}"
    );
    assert!(!out.contains("wrong"), "the key is never printed: {out}");
}
