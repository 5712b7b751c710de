//! Custom-handler benchmark: prints the figures; not a timed test.
//!
//! 1. `serve` cold start: from spawning the release binary to its first 200 on `GET /`
//!    (what the Functions host waits for), median and worst of 20. Goal ≤ 50 ms.
//! 2. `blob_trigger` (each invocation carrying a committed manifest, as the host sends
//!    it; its three files to the fake Snowpipe), with `serve` pinned to one core and
//!    this process (the sender and the fake Snowpipe) to the others (`taskset`), five
//!    runs, medians printed:
//!    - 1,000 invocations, 16 in flight (the host's per-instance concurrency): p50
//!      and p99 of the handling time (the handler's `Server-Timing`, request to
//!      reply). Goal: p99 ≤ 5 ms, zero errors.
//!    - 1,000 posted at once: the time to drain them against its CPU floor (the
//!      larger of serve's CPU time on its core and the sender's on the others). Goal
//!      ≤ 1.3×.
//!    - then one at a time, once.
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

/// `serve` with a local lake and DuckDB in `dir`, or on Snowflake with `snowflake`.
fn serve(
    port: u16,
    dir: &std::path::Path,
    snowflake: Option<&twitch_pipeline::warehouse::SnowflakeSettings>,
) -> std::process::Child {
    let mut command = support::local_serve_command(port, dir);
    if let Some(snowflake) = snowflake {
        support::snowflake_env(&mut command, snowflake).env("WAREHOUSE_URL", "snowflake");
    }
    command
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve starts")
}

/// Spawn to the first `200` on `GET /`.
fn cold_start(dir: &std::path::Path) -> Duration {
    let port = support::free_port();
    let started = Instant::now();
    let mut child = serve(port, dir, None);
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

fn percentile(values: &mut [Duration], p: f64) -> Duration {
    values.sort();
    values[((values.len() as f64 * p).ceil() as usize)
        .saturating_sub(1)
        .min(values.len() - 1)]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// CPU time all threads of a process have run so far (Linux's schedstat; zero elsewhere).
fn cpu_time(pid: u32) -> Duration {
    let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten();
    threads
        .filter_map(|thread| std::fs::read_to_string(thread.path().join("schedstat")).ok())
        .filter_map(|text| text.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .sum()
}

/// CPU time of every thread of this process.
fn cpu_time_self() -> Duration {
    cpu_time(std::process::id())
}

/// The handler's own time, from its `Server-Timing: handler;dur=<ms>` header.
fn handling_time(response: &reqwest::Response) -> Option<Duration> {
    let header = response.headers().get("server-timing")?.to_str().ok()?;
    let millis: f64 = header.strip_prefix("handler;dur=")?.parse().ok()?;
    Some(Duration::from_secs_f64(millis / 1e3))
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut starts: Vec<Duration> = (0..20).map(|_| cold_start(dir.path())).collect();
    let start_median = percentile(&mut starts, 0.5);
    println!(
        "serve cold start (spawn to first 200 on GET /): median {:.1} ms, worst {:.1} ms; goal <= 50 ms: ratio {:.2}",
        start_median.as_secs_f64() * 1e3,
        starts.last().unwrap().as_secs_f64() * 1e3,
        start_median.as_secs_f64() * 1e3 / 50.0
    );

    // 1,000 committed slots in a local lake (a burst is many manifests: the handler
    // shares concurrent identical Snowpipe calls, so one manifest posted 1,000 times
    // would measure that sharing instead), and serve on Snowflake with the fake Snowpipe.
    let invocations: u32 = 1_000;
    let lake = twitch_pipeline::lake::Lake::open(&LakeUrl::Local(dir.path().join("lake"))).unwrap();
    let line = [r#"{"id":"1"}"#];
    let twice = |s: String| Value::String(Value::String(s).to_string());
    let mut envelopes = Vec::new();
    for n in 0..invocations {
        let manifest = support::commit_slot(
            &lake,
            support::slot().offset(-i64::from(n)),
            &[(Entity::Streams, &line), (Entity::Users, &line), (Entity::Games, &line)],
        )
        .await;
        let path = format!(
            "_manifests/date={}/{}.json",
            manifest.slot.date(),
            manifest.slot.compact()
        );
        let content = serde_json::to_vec(&manifest).unwrap();
        envelopes.push(json!({
            "Data": {"blob": base64::engine::general_purpose::STANDARD.encode(&content)},
            "Metadata": {"name": twice(path), "sys": {"MethodName": "blob_trigger", "UtcNow": "2026-11-23T20:00:09Z", "RandGuid": "s"}}
        }));
    }
    let envelopes = std::sync::Arc::new(envelopes);
    let (fake, snowflake) = support::fake_snowpipe::fake_snowpipe_settings().await;
    let port = support::free_port();
    let mut child = serve(port, dir.path(), Some(&snowflake));
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1_000)
        .build()
        .unwrap();
    support::wait_for_serve(&mut child, &url, Duration::from_secs(15)).await;
    // Warm the connection pool and the token, as a running app would be.
    http.post(format!("{url}/blob_trigger"))
        .json(&envelopes[0])
        .send()
        .await
        .unwrap();
    // The handler on core 0, this process (the sender and the fake Snowpipe) on the
    // other cores, so the load generator does not compete for the handler's core.
    // Counted before pinning: the count follows this process's affinity.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let pinned = pin_apart(child.id(), cores);
    println!(
        "{}",
        match &pinned {
            Ok(()) => "serve pinned to core 0, the load generator to the others (taskset)".to_string(),
            Err(why) => format!("not pinned ({why}): the figures include the sender's competition for the cores"),
        }
    );
    let runs = 5;
    let (mut burst_p99, mut burst_ratio, mut bounded_p50, mut bounded_p99) = (vec![], vec![], vec![], vec![]);
    let mut total_errors = 0;
    for run in 1..=runs {
        let burst = burst_run(&http, &url, &envelopes, child.id(), (cores, pinned.is_ok())).await;
        let bounded = bounded_run(&http, &url, &envelopes, 16).await;
        println!(
            "run {run}: burst of {invocations}: handling p99 {:.2} ms, drained in {:.1} ms, floor {:.1} ms, ratio {:.2}; 16 in flight: handling p50 {:.2} ms, p99 {:.2} ms, sender p99 {:.2} ms; errors {}",
            ms(burst.handling_p99),
            ms(burst.drained),
            ms(burst.floor),
            burst.drained.as_secs_f64() / burst.floor.as_secs_f64(),
            ms(bounded.handling_p50),
            ms(bounded.handling_p99),
            ms(bounded.sender_p99),
            burst.errors + bounded.errors
        );
        total_errors += burst.errors + bounded.errors;
        burst_p99.push(ms(burst.handling_p99));
        burst_ratio.push(burst.drained.as_secs_f64() / burst.floor.as_secs_f64());
        bounded_p50.push(ms(bounded.handling_p50));
        bounded_p99.push(ms(bounded.handling_p99));
    }
    let calls = fake.lock().unwrap().calls.len();
    println!(
        "blob_trigger, 16 in flight (the host's per-instance concurrency), median of {runs} runs: handling p50 {:.2} ms, p99 {:.2} ms; goal p99 <= 5 ms: ratio {:.2}",
        support::median(&mut bounded_p50),
        support::median(&mut bounded_p99),
        support::median(&mut bounded_p99) / 5.0
    );
    println!(
        "blob_trigger, burst of {invocations} at once, median of {runs} runs: drained in {:.2}x its CPU floor (goal <= 1.3); handling p99 {:.2} ms; {total_errors} errors; {calls} insertFiles calls",
        support::median(&mut burst_ratio),
        support::median(&mut burst_p99),
    );

    // The same invocation one at a time.
    let (mut sequential, mut handling) = (Vec::new(), Vec::new());
    let serve_before = cpu_time(child.id());
    for n in 0..envelopes.len() {
        let (latency, handled, ok) = post(http.clone(), url.clone(), envelopes.clone(), n).await;
        assert!(ok);
        sequential.push(latency);
        handling.extend(handled);
    }
    println!(
        "blob_trigger, one at a time: handling p50 {:.2} ms, p99 {:.2} ms; as the sender sees it p50 {:.2} ms, p99 {:.2} ms; serve CPU {:.0} us per invocation",
        ms(percentile(&mut handling, 0.50)),
        ms(percentile(&mut handling, 0.99)),
        ms(percentile(&mut sequential, 0.50)),
        ms(percentile(&mut sequential, 0.99)),
        (cpu_time(child.id()) - serve_before).as_secs_f64() * 1e6 / f64::from(invocations),
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// Pins `serve` (every thread of `pid`) to core 0 and this process to the other cores.
fn pin_apart(pid: u32, cores: u32) -> Result<(), String> {
    if cores < 2 {
        return Err(format!("{cores} core"));
    }
    let others = format!("1-{}", cores - 1);
    for (cpus, pid) in [("0".to_string(), pid), (others, std::process::id())] {
        let status = std::process::Command::new("taskset")
            .args(["-a", "-p", "-c", &cpus, &pid.to_string()])
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("taskset: {e}"))?;
        if !status.success() {
            return Err(format!("taskset exited {status}"));
        }
    }
    Ok(())
}

/// One blob_trigger invocation per committed slot.
type Envelopes = std::sync::Arc<Vec<Value>>;

/// One invocation: the sender's latency, the handler's own time, and whether it succeeded.
async fn post(
    http: reqwest::Client,
    url: String,
    envelopes: Envelopes,
    n: usize,
) -> (Duration, Option<Duration>, bool) {
    let started = Instant::now();
    let response = http
        .post(format!("{url}/blob_trigger"))
        .json(&envelopes[n])
        .send()
        .await;
    let latency = started.elapsed();
    let handling = response.as_ref().ok().and_then(handling_time);
    let ok = response.is_ok_and(|r| r.status().is_success());
    (latency, handling, ok)
}

struct Burst {
    handling_p99: Duration,
    drained: Duration,
    /// The least time the burst's CPU work allows: pinned, the larger of serve's CPU
    /// (one core) and the sender's (the others); else all of it over every core.
    floor: Duration,
    errors: usize,
}

/// All `invocations` posted at once.
async fn burst_run(
    http: &reqwest::Client,
    url: &str,
    envelopes: &Envelopes,
    serve_pid: u32,
    (cores, pinned): (u32, bool),
) -> Burst {
    let cpu_before = (cpu_time(serve_pid), cpu_time_self());
    let started = Instant::now();
    let tasks: Vec<_> = (0..envelopes.len())
        .map(|n| tokio::spawn(post(http.clone(), url.to_string(), envelopes.clone(), n)))
        .collect();
    let mut handling = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (_, handled, ok) = task.await.unwrap();
        handling.extend(handled);
        errors += usize::from(!ok || handled.is_none());
    }
    let drained = started.elapsed();
    let serve_cpu = cpu_time(serve_pid) - cpu_before.0;
    let sender_cpu = cpu_time_self() - cpu_before.1;
    let floor = if pinned {
        serve_cpu.max(sender_cpu / (cores - 1))
    } else {
        (serve_cpu + sender_cpu) / cores
    };
    Burst {
        handling_p99: percentile(&mut handling, 0.99),
        drained,
        floor,
        errors,
    }
}

struct Bounded {
    handling_p50: Duration,
    handling_p99: Duration,
    sender_p99: Duration,
    errors: usize,
}

/// The same invocations, at most `in_flight` at a time: a host that bounds its
/// per-instance concurrency (Flex Consumption's perInstanceConcurrency) and scales out
/// beyond it.
async fn bounded_run(http: &reqwest::Client, url: &str, envelopes: &Envelopes, in_flight: usize) -> Bounded {
    use futures::StreamExt;
    let results: Vec<_> =
        futures::stream::iter((0..envelopes.len()).map(|n| post(http.clone(), url.to_string(), envelopes.clone(), n)))
            .buffer_unordered(in_flight)
            .collect()
            .await;
    let (mut latencies, mut handling) = (Vec::new(), Vec::new());
    let mut errors = 0;
    for (latency, handled, ok) in results {
        latencies.push(latency);
        handling.extend(handled);
        errors += usize::from(!ok || handled.is_none());
    }
    Bounded {
        handling_p50: percentile(&mut handling, 0.50),
        handling_p99: percentile(&mut handling, 0.99),
        sender_p99: percentile(&mut latencies, 0.99),
        errors,
    }
}
