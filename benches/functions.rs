//! Custom-handler benchmark: prints the figures; not a timed test.
//!
//! 1. `serve` cold start: from spawning the release binary to its first 200 on `GET /`
//!    (what the Functions host waits for), median and worst of 20. Goal ≤ 50 ms.
//! 2. `blob_trigger` under 1,000 concurrent invocations (one committed manifest, its
//!    three files to the fake Snowpipe each time): p50 and p99 latency and errors.
//!    Goal p99 ≤ 5 ms, zero errors. With all 1,000 in flight at once on two cores the
//!    latency is mostly queueing, so the same invocation is also measured one at a
//!    time (the handler's service time).
//!
//! `cargo bench --bench functions`.

// The test helpers (the module allows what this bench leaves unused).
#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use twitch_pipeline::lake::{Entity, LakeUrl};

fn serve(port: u16, dir: &std::path::Path, extra: &[(&str, String)]) -> std::process::Child {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_twitch-pipeline"));
    command
        .arg("serve")
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("TWITCH_CLIENT_ID", "id")
        .env("TWITCH_CLIENT_SECRET", "secret")
        .env("LAKE_URL", dir.join("lake"))
        .env(
            "WAREHOUSE_URL",
            format!("duckdb:{}", dir.join("warehouse.duckdb").display()),
        )
        .env("TRANSFORM_PROJECT_DIR", env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (key, value) in extra {
        command.env(key, value);
    }
    command.spawn().expect("serve starts")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Spawn to the first `200` on `GET /`.
fn cold_start(dir: &std::path::Path) -> Duration {
    let port = free_port();
    let started = Instant::now();
    let mut child = serve(port, dir, &[]);
    let elapsed = loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") {
                break started.elapsed();
            }
        }
        assert!(started.elapsed() < Duration::from_secs(10), "serve did not answer");
        std::thread::sleep(Duration::from_micros(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize)
        .saturating_sub(1)
        .min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut starts: Vec<Duration> = (0..20).map(|_| cold_start(dir.path())).collect();
    starts.sort();
    let median = starts[starts.len() / 2];
    println!(
        "serve cold start (spawn to first 200 on GET /): median {:.1} ms, worst {:.1} ms; goal <= 50 ms: ratio {:.2}",
        median.as_secs_f64() * 1e3,
        starts.last().unwrap().as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3 / 50.0
    );

    // A committed slot in a local lake, and serve on Snowflake with the fake Snowpipe.
    let lake = twitch_pipeline::lake::Lake::open(&LakeUrl::Local(dir.path().join("lake"))).unwrap();
    let line = [r#"{"id":"1"}"#];
    let manifest = support::commit_slot(
        &lake,
        support::slot(),
        &[(Entity::Streams, &line), (Entity::Users, &line), (Entity::Games, &line)],
    )
    .await;
    let (fake, snowflake) = support::fake_snowpipe::fake_snowpipe_settings().await;
    use secrecy::ExposeSecret;
    let port = free_port();
    let mut child = serve(
        port,
        dir.path(),
        &[
            ("WAREHOUSE_URL", "snowflake".into()),
            ("SNOWFLAKE_ACCOUNT", snowflake.account.clone()),
            ("SNOWFLAKE_USER", snowflake.user.clone()),
            (
                "SNOWFLAKE_PRIVATE_KEY",
                snowflake.private_key.expose_secret().to_string(),
            ),
            ("SNOWFLAKE_WAREHOUSE", snowflake.warehouse.clone()),
            ("SNOWFLAKE_DATABASE", snowflake.database.clone()),
            ("SNOWFLAKE_URL", snowflake.base_url.as_ref().unwrap().to_string()),
        ],
    );
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1_000)
        .build()
        .unwrap();
    while http.get(&url).send().await.is_err() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let path = format!(
        "_manifests/date={}/{}.json",
        manifest.slot.date(),
        manifest.slot.compact()
    );
    let twice = |s: String| Value::String(Value::String(s).to_string());
    let envelope = json!({
        "Data": {"blob": base64::engine::general_purpose::STANDARD.encode(b"{}")},
        "Metadata": {"name": twice(path), "sys": {"MethodName": "blob_trigger", "UtcNow": "2026-11-23T20:00:09Z", "RandGuid": "s"}}
    });
    // Warm the connection pool and the token, as a running app would be.
    http.post(format!("{url}/blob_trigger"))
        .json(&envelope)
        .send()
        .await
        .unwrap();
    let invocations = 1_000;
    let tasks: Vec<_> = (0..invocations)
        .map(|_| {
            let (http, url, envelope) = (http.clone(), url.clone(), envelope.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let ok = http
                    .post(format!("{url}/blob_trigger"))
                    .json(&envelope)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                (started.elapsed(), ok)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (latency, ok) = task.await.unwrap();
        latencies.push(latency);
        errors += usize::from(!ok);
    }
    latencies.sort();
    let calls = fake.lock().unwrap().calls.len();
    println!(
        "blob_trigger, {invocations} concurrent: p50 {:.2} ms, p99 {:.2} ms, {errors} errors, {calls} insertFiles calls; goal p99 <= 5 ms: ratio {:.2}",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3 / 5.0
    );

    // The same invocation one at a time: the handler's own service time.
    let mut sequential = Vec::new();
    for _ in 0..invocations {
        let started = Instant::now();
        let response = http
            .post(format!("{url}/blob_trigger"))
            .json(&envelope)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        sequential.push(started.elapsed());
    }
    sequential.sort();
    println!(
        "blob_trigger, one at a time: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&sequential, 0.50).as_secs_f64() * 1e3,
        percentile(&sequential, 0.99).as_secs_f64() * 1e3
    );
    let _ = child.kill();
    let _ = child.wait();
}
