//! A Snowpipe emulator that really loads, for the production path's tests.
//!
//! One address serves what `SNOWFLAKE_URL` names in Azure: Snowpipe's REST API here,
//! and every other request (the SQL API) forwarded to fakesnow. It behaves as
//! Snowflake documents Snowpipe, not as the pipeline expects:
//! - `insertFiles` (key-pair JWT checked) queues the files and answers at once;
//!   loading comes later, in no particular order, each load stamped with its scan's
//!   start and committed a while after it (rows become visible after newer ones).
//! - Each pipe's COPY is read from `snowflake-setup`'s own DDL: its target table,
//!   its columns (the JSON, `METADATA$FILENAME`, `METADATA$FILE_ROW_NUMBER`, the scan
//!   time in UTC) and its `ON_ERROR` (Snowpipe's default, `SKIP_FILE`, when absent).
//! - `METADATA$FILENAME` is the file's path in the stage's location, the prefix of the
//!   stage's URL included and the container left out, as Snowflake's example has it
//!   (a stage on `azure://mycontainer/files/logs/` gives `files/logs/2018/…`:
//!   "Querying metadata for staged files", docs.snowflake.com): here `twitch/streams/…`,
//!   not the stage-relative `streams/…` that insertFiles names.
//! - A load history per pipe: a file already loaded, failed or queued is not loaded
//!   again (failed files "are still registered in the pipe's metadata ... ignored by
//!   subsequent pipe activity": Troubleshooting Snowpipe,
//!   docs.snowflake.com/en/user-guide/data-load-snowpipe-ts), for 14 days: "pipes
//!   only maintain the load history metadata for 14 days", and a file staged again
//!   after that loads again, "potentially resulting in duplicate records in the
//!   target table" (the same page; the emulator's clock moves on with
//!   [`Emulator::pass_days`]);
//!   `insertReport` and `loadHistoryScan` answer from it, the latter at most
//!   [`SCAN_LIMIT`] entries at a time with `completeResult` false past it.
//! - A file is committed in several transactions (200 rows each, or fewer with
//!   [`Emulator::commit_in`]), its rows visible as they come: "Loads are combined or
//!   split into a single or multiple transactions based on the number and size of the
//!   rows in each data file" (Introduction to Snowpipe,
//!   docs.snowflake.com/en/user-guide/data-load-snowpipe-intro). Its history entry
//!   comes with its last transaction; [`Emulator::stop_after_first_commit`] holds a
//!   file between its first transaction and the rest.
//! - A file the stage does not have fails with Snowflake's message.
//! - The pipes' owners, grants and pause are the fakesnow launcher's model of them
//!   (`fakesnow_json.py`), read with `show grants on pipe` and `system$pipe_status`:
//!   `insertFiles` runs with the user's default role, the one `snowflake-setup` gives
//!   the service user, and is answered 404 without any privilege on the pipe and 403
//!   without OPERATE ("Snowpipe REST API", docs.snowflake.com/en/user-guide/
//!   data-load-snowpipe-rest-apis); a paused pipe queues files without loading them
//!   (`pendingFileCount` "can increase even if a pipe is paused", SYSTEM$PIPE_STATUS).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use rand::RngExt;
use rsa::RsaPublicKey;
use serde_json::{Value, json};
use twitch_pipeline::lake::Lake;
use twitch_pipeline::warehouse::SnowflakeSettings;
use twitch_pipeline::warehouse::{SnowflakeWarehouse, Warehouse};

use super::fake_snowpipe::verify_jwt;

/// What a pipe does with a file that has a bad line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// Load the good lines, count the bad ones.
    Continue,
    /// Load nothing of the file (Snowpipe's default).
    SkipFile,
}

/// A pipe as `snowflake-setup` creates it.
#[derive(Clone, Debug)]
pub struct PipeDef {
    pub table: String,
    pub on_error: OnError,
}

/// `snowflake-setup`'s plan for `database` (the objects' names and DDL; the account
/// details are placeholders).
pub fn setup_plan(database: &str) -> twitch_pipeline::snowflake_setup::SetupPlan {
    twitch_pipeline::snowflake_setup::SetupPlan {
        database: database.into(),
        warehouse: "WH".into(),
        user: "SVC".into(),
        role: "ROLE".into(),
        lake_location: "azure://acct.blob.core.windows.net/raw/twitch/".into(),
        rotate_key: false,
        azure_tenant_id: "tenant".into(),
        public_key: "key".into(),
    }
}

/// The pipes `snowflake-setup` defines for `database`, from its DDL.
pub fn pipes_from_setup(database: &str) -> HashMap<String, PipeDef> {
    let mut pipes = HashMap::new();
    for statement in setup_plan(database).statements() {
        let Some(rest) = statement.sql.strip_prefix("create pipe if not exists ") else {
            continue;
        };
        let name = rest.split_whitespace().next().unwrap().to_string();
        let table = rest
            .split(" copy into ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        let columns = "(raw_json, file_name, file_row_number, loaded_at) from (select $1, metadata$filename, metadata$file_row_number, convert_timezone('UTC', metadata$start_scan_time)::timestamp_ntz from @";
        assert!(
            statement.sql.contains(columns),
            "the emulator copies these columns; the pipe says: {}",
            statement.sql
        );
        let on_error = match statement.sql.split(" on_error = ").nth(1) {
            Some(option) if option.trim().eq_ignore_ascii_case("continue") => OnError::Continue,
            Some(option) if option.trim().eq_ignore_ascii_case("skip_file") => OnError::SkipFile,
            Some(other) => panic!("the emulator does not know ON_ERROR = {other}"),
            None => OnError::SkipFile,
        };
        pipes.insert(
            name,
            PipeDef {
                table: table.to_string(),
                on_error,
            },
        );
    }
    pipes
}

/// One file's entry in a pipe's load history, as Snowpipe reports it.
#[derive(Clone, Debug)]
pub struct LoadRecord {
    pub pipe: String,
    pub path: String,
    pub status: &'static str,
    pub rows_parsed: u64,
    pub rows_inserted: u64,
    pub errors_seen: u64,
    pub first_error: Option<String>,
    pub last_insert_time: DateTime<Utc>,
}

impl LoadRecord {
    fn json(&self) -> Value {
        let mut record = json!({
            "path": self.path, "stageLocation": "azure://acct.blob.core.windows.net/raw/",
            "status": self.status, "rowsParsed": self.rows_parsed, "rowsInserted": self.rows_inserted,
            "errorsSeen": self.errors_seen, "errorLimit": 1, "complete": true,
            "lastInsertTime": self.last_insert_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        if let Some(error) = &self.first_error {
            record["firstError"] = json!(error);
        }
        record
    }
}

#[derive(Default)]
struct Loads {
    queue: Vec<(String, String)>,
    /// Files being loaded: a file submitted again meanwhile is not queued twice.
    in_flight: Vec<(String, String)>,
    history: Vec<LoadRecord>,
    /// insertFiles calls accepted, with their files.
    submitted: Vec<(String, Vec<String>)>,
    held: bool,
    /// Files (by a part of their path) whose load waits, once its scan started,
    /// until `release_commit`; and the files whose scan started.
    held_before_commit: Vec<String>,
    scans_started: Vec<String>,
    /// Rows per transaction.
    rows_per_commit: usize,
    /// Files (by a part of their path) held after their first transaction until
    /// `resume_commits`, and whether one of them has committed it.
    stop_after_first: Vec<String>,
    first_committed: bool,
    /// How far the emulator's clock is ahead of the machine's (for the history's
    /// 14 days).
    clock_ahead: chrono::Duration,
}

/// How long Snowpipe keeps a pipe's load history ("pipes only maintain the load
/// history metadata for 14 days": docs.snowflake.com/en/user-guide/data-load-snowpipe-ts).
const HISTORY_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(14);

impl Loads {
    /// The history entries Snowpipe still keeps.
    fn kept(&self) -> impl Iterator<Item = &LoadRecord> {
        let now = Utc::now() + self.clock_ahead;
        self.history
            .iter()
            .filter(move |r| r.last_insert_time + HISTORY_KEPT > now)
    }
}

struct Shared {
    pipes: HashMap<String, PipeDef>,
    public_key: RsaPublicKey,
    fakesnow: String,
    http: reqwest::Client,
    loads: Mutex<Loads>,
    lake: Lake,
    /// What `METADATA$FILENAME` puts before a stage-relative path: the stage URL's
    /// path below its container (`twitch/`).
    stage_prefix: String,
    /// The service user's default role, as `snowflake-setup` creates the user.
    caller_role: String,
    /// A session of its own for reading the pipes' grants and state.
    checks: tokio::sync::Mutex<SnowflakeWarehouse>,
    /// The longest a load takes between its scan's start and its commit.
    max_delay: Duration,
    /// Which queued file loads next and how long each takes: seeded, so a failing
    /// run's order can be replayed (the seed is printed).
    rng: Mutex<rand::rngs::StdRng>,
    /// Most entries one loadHistoryScan answer holds ([`SCAN_LIMIT`] unless lowered).
    scan_limit: std::sync::atomic::AtomicUsize,
    /// Whether `LIST @stage` sees nothing, as a stage over another place does.
    stage_blind: std::sync::atomic::AtomicBool,
}

/// The path of a stage's URL below its container: `azure://HOST/CONTAINER/P/` → `P/`.
fn stage_prefix(location: &str) -> String {
    let below_host = location.split_once("://").map_or(location, |(_, rest)| rest);
    let mut parts = below_host.splitn(3, '/');
    let (_host, _container) = (parts.next(), parts.next());
    parts.next().unwrap_or_default().to_string()
}

/// "There is a maximum of 10,000 items returned" by one loadHistoryScan ("Snowpipe
/// REST API", docs.snowflake.com/en/user-guide/data-load-snowpipe-rest-apis).
pub const SCAN_LIMIT: usize = 10_000;

/// The emulator: its address (for `SNOWFLAKE_URL`) and its state.
pub struct Emulator {
    pub url: String,
    shared: Arc<Shared>,
}

impl Emulator {
    /// Starts the emulator in front of fakesnow at `fakesnow_port`, reading files from
    /// `lake` (the stage), for users whose key is `settings`' private key. Its loader
    /// writes through its own session with `settings`.
    pub async fn start(fakesnow_port: u16, lake: Lake, settings: &SnowflakeSettings, max_delay: Duration) -> Emulator {
        use rsa::pkcs8::DecodePrivateKey;
        use secrecy::ExposeSecret;
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(settings.private_key.expose_secret()).unwrap();
        let mut direct = settings.clone();
        direct.base_url = Some(format!("http://127.0.0.1:{fakesnow_port}").parse().unwrap());
        let checks = SnowflakeWarehouse::connect(&direct, "snowpipe emulator checks")
            .await
            .unwrap();
        let shared = Arc::new(Shared {
            pipes: pipes_from_setup(&settings.database),
            public_key: key.to_public_key(),
            fakesnow: format!("http://127.0.0.1:{fakesnow_port}"),
            http: reqwest::Client::new(),
            loads: Mutex::new(Loads {
                rows_per_commit: 200,
                ..Loads::default()
            }),
            lake,
            stage_prefix: stage_prefix(&setup_plan(&settings.database).lake_location),
            caller_role: setup_plan(&settings.database).role,
            checks: tokio::sync::Mutex::new(checks),
            max_delay,
            rng: Mutex::new(seeded_rng()),
            scan_limit: SCAN_LIMIT.into(),
            stage_blind: false.into(),
        });
        let app = Router::new()
            .route("/v1/data/pipes/{pipe}/insertFiles", post(insert_files))
            .route("/v1/data/pipes/{pipe}/insertReport", get(insert_report))
            .route("/v1/data/pipes/{pipe}/loadHistoryScan", get(load_history_scan))
            .fallback(forward)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let mut loader_settings = settings.clone();
        loader_settings.base_url = Some(shared.fakesnow.parse().unwrap());
        let session = SnowflakeWarehouse::connect(&loader_settings, "snowpipe emulator")
            .await
            .unwrap();
        tokio::spawn(loader(Arc::clone(&shared), session));
        Emulator { url, shared }
    }

    /// Answers loadHistoryScan `limit` entries at a time, so a test with a few files
    /// sees the pages a busy pipe's history comes in.
    pub fn limit_scans(&self, limit: usize) {
        self.shared
            .scan_limit
            .store(limit, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes `LIST @stage` list nothing (or everything again).
    pub fn blind_stage(&self, blind: bool) {
        self.shared
            .stage_blind
            .store(blind, std::sync::atomic::Ordering::Relaxed);
    }

    /// Holds queued files (a slow Snowpipe) until `release`.
    pub fn hold(&self) {
        self.shared.loads.lock().unwrap().held = true;
    }

    pub fn release(&self) {
        self.shared.loads.lock().unwrap().held = false;
    }

    /// Holds the load of a file whose path contains `part` between its scan's start
    /// and its commit, until `release_commit`.
    pub fn hold_before_commit(&self, part: &str) {
        self.shared
            .loads
            .lock()
            .unwrap()
            .held_before_commit
            .push(part.to_string());
    }

    /// Waits until the load of a file whose path contains `part` has started its scan.
    pub async fn wait_scan_started(&self, part: &str) {
        self.wait_until(&format!("a scan of {part} started"), |loads| {
            loads.scans_started.iter().any(|path| path.contains(part))
        })
        .await;
    }

    /// Lets the files `hold_before_commit` held commit.
    pub fn release_commit(&self) {
        self.shared.loads.lock().unwrap().held_before_commit.clear();
    }

    /// Commits each file in transactions of `rows` rows.
    pub fn commit_in(&self, rows: usize) {
        self.shared.loads.lock().unwrap().rows_per_commit = rows.max(1);
    }

    /// Holds a file whose path contains `part` after its first transaction, until
    /// `resume_commits`.
    pub fn stop_after_first_commit(&self, part: &str) {
        self.shared
            .loads
            .lock()
            .unwrap()
            .stop_after_first
            .push(part.to_string());
    }

    /// Waits until a file held by `stop_after_first_commit` has committed its first
    /// transaction.
    pub async fn wait_first_commit(&self) {
        self.wait_until("a first transaction", |loads| loads.first_committed)
            .await;
    }

    /// Lets held files commit the rest of their rows.
    pub fn resume_commits(&self) {
        self.shared.loads.lock().unwrap().stop_after_first.clear();
    }

    /// Moves the emulator's clock `days` ahead: history entries older than 14 days
    /// are forgotten, as Snowpipe forgets them.
    pub fn pass_days(&self, days: i64) {
        self.shared.loads.lock().unwrap().clock_ahead += chrono::Duration::days(days);
    }

    /// Waits until a file whose path contains `part` has a history entry.
    pub async fn wait_loaded(&self, part: &str) {
        self.wait_until(&format!("a load of {part}"), |loads| {
            loads.history.iter().any(|r| r.path.contains(part))
        })
        .await;
    }

    /// Waits until every queued file is loaded (or failed).
    pub async fn drain(&self) {
        self.wait_until("the queue drained", |loads| {
            loads.queue.is_empty() && loads.in_flight.is_empty()
        })
        .await;
    }

    /// Waits, up to 30 s, until `done` holds of the emulator's loads.
    async fn wait_until(&self, what: &str, done: impl Fn(&Loads) -> bool) {
        for _ in 0..600 {
            if done(&self.shared.loads.lock().unwrap()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("not within 30 s: {what}");
    }

    pub fn history(&self) -> Vec<LoadRecord> {
        self.shared.loads.lock().unwrap().history.clone()
    }

    /// Every insertFiles call accepted: (pipe, files).
    pub fn submitted(&self) -> Vec<(String, Vec<String>)> {
        self.shared.loads.lock().unwrap().submitted.clone()
    }
}

async fn insert_files(
    State(shared): State<Arc<Shared>>,
    Path(pipe): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if let Err(reason) = verify_jwt(&shared.public_key, &headers) {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "message": reason })));
    }
    if !shared.pipes.contains_key(&pipe) {
        return (
            StatusCode::NOT_FOUND,
            Json(
                json!({"message": format!("Specified object does not exist or not authorized. Pipe not found: {pipe}")}),
            ),
        );
    }
    let held = privileges(&shared, &pipe).await;
    if held.is_empty() {
        return (
            StatusCode::NOT_FOUND,
            Json(
                json!({"message": format!("Specified object does not exist or not authorized. Pipe not found: {pipe}")}),
            ),
        );
    }
    if !held.iter().any(|p| p == "OPERATE" || p == "OWNERSHIP") {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"message": format!("Insufficient privileges to operate on pipe '{pipe}'")})),
        );
    }
    let files: Vec<String> = body["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["path"].as_str().map(str::to_string))
        .collect();
    let mut loads = shared.loads.lock().unwrap();
    loads.submitted.push((pipe.clone(), files.clone()));
    for path in files {
        let entry = (pipe.clone(), path);
        let known = loads.kept().any(|r| r.pipe == entry.0 && r.path == entry.1)
            || loads.queue.contains(&entry)
            || loads.in_flight.contains(&entry);
        if !known {
            loads.queue.push(entry);
        }
    }
    (
        StatusCode::OK,
        Json(json!({"requestId": "r", "responseCode": "SUCCESS"})),
    )
}

async fn insert_report(
    State(shared): State<Arc<Shared>>,
    Path(pipe): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    history_answer(&shared, &pipe, &headers, None, None)
}

async fn load_history_scan(
    State(shared): State<Arc<Shared>>,
    Path(pipe): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    let time = |key: &str| {
        query
            .get(key)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.to_utc())
    };
    history_answer(
        &shared,
        &pipe,
        &headers,
        time("startTimeInclusive"),
        time("endTimeExclusive"),
    )
}

fn history_answer(
    shared: &Shared,
    pipe: &str,
    headers: &HeaderMap,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> (StatusCode, Json<Value>) {
    if let Err(reason) = verify_jwt(&shared.public_key, headers) {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "message": reason })));
    }
    let loads = shared.loads.lock().unwrap();
    let mut entries: Vec<&LoadRecord> = loads
        .kept()
        .filter(|r| r.pipe == pipe)
        .filter(|r| start.is_none_or(|s| r.last_insert_time >= s) && end.is_none_or(|e| r.last_insert_time < e))
        .collect();
    let Some(start) = start else {
        let files: Vec<Value> = entries.into_iter().map(LoadRecord::json).collect();
        return (StatusCode::OK, Json(json!({"files": files, "completeResult": true})));
    };
    // loadHistoryScan: the oldest entries first, at most the limit of them; the range
    // is that of the entries given ("Timestamp ... of the oldest/latest entry in the
    // files included in the response"), and the next call starts at its end.
    entries.sort_by_key(|r| r.last_insert_time);
    let limit = shared.scan_limit.load(std::sync::atomic::Ordering::Relaxed);
    let complete = entries.len() <= limit;
    entries.truncate(limit);
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let answer = json!({
        "pipe": pipe,
        "completeResult": complete,
        "startTimeInclusive": start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "endTimeExclusive": time(end),
        "rangeStartTime": time(entries.first().map(|r| r.last_insert_time)),
        "rangeEndTime": time(entries.last().map(|r| r.last_insert_time)),
        "files": entries.into_iter().map(LoadRecord::json).collect::<Vec<_>>(),
    });
    (StatusCode::OK, Json(answer))
}

/// Everything that is not Snowpipe goes to fakesnow, as is, but for what only the
/// stage can answer (fakesnow has no stages): `LIST @stage…` and a query of
/// `METADATA$FILENAME` from a staged file, which become SELECTs of what Snowflake
/// would give from the lake.
async fn forward(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let gzipped = headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let (body, rewritten) = match stage_query(&shared, &body, gzipped).await {
        Some(body) => (Bytes::from(body), true),
        None => (body, false),
    };
    let mut request = shared
        .http
        .request(method, format!("{}{path}", shared.fakesnow))
        .body(body);
    for (name, value) in &headers {
        let encoding = name == "content-encoding" && rewritten;
        if name != "host" && name != "content-length" && !encoding {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await.unwrap_or_default();
            let mut reply = (status, body).into_response();
            for (name, value) in &headers {
                if name != "content-length" && name != "transfer-encoding" {
                    reply.headers_mut().insert(name, value.clone());
                }
            }
            reply
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

/// A query request's body with a stage query rewritten (uncompressed), or `None`.
///
/// - `LIST @STAGE[/PATH]` gives each file of the lake under PATH, its `name` the full
///   URL of the stage's location ("LIST": name, size, md5, last_modified;
///   docs.snowflake.com/en/sql-reference/sql/list).
/// - `SELECT METADATA$FILENAME FROM @STAGE/PATH …` gives PATH with the stage URL's
///   prefix (see the module's notes on `METADATA$FILENAME`).
async fn stage_query(shared: &Shared, body: &[u8], gzipped: bool) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut text = Vec::new();
    if gzipped {
        flate2::read::GzDecoder::new(body).read_to_end(&mut text).ok()?;
    } else {
        text = body.to_vec();
    }
    let mut request: Value = serde_json::from_slice(&text).ok()?;
    let sql = request["sqlText"].as_str()?.trim().to_string();
    let lower = sql.to_ascii_lowercase();
    let location = setup_plan("X").lake_location;
    let stage_path = |rest: &str| -> String {
        // `@DB.RAW.LAKE/some/path` → `some/path`
        rest.split_once('/')
            .map(|(_, p)| p.trim_end_matches(['\'', ';']))
            .unwrap_or("")
            .to_string()
    };
    let select = if let Some(rest) = lower.strip_prefix("list @") {
        let under = stage_path(rest.split_whitespace().next().unwrap_or_default());
        let listed = shared.lake.store().list(None);
        let files: Vec<object_store::ObjectMeta> = futures::TryStreamExt::try_collect(listed).await.ok()?;
        let rows: Vec<String> = files
            .iter()
            .filter(|f| f.location.as_ref().starts_with(&under))
            .filter(|_| !shared.stage_blind.load(std::sync::atomic::Ordering::Relaxed))
            .map(|f| {
                format!(
                    "select '{location}{}' as \"name\", {} as \"size\", 'md5' as \"md5\", 'now' as \"last_modified\"",
                    f.location, f.size
                )
            })
            .collect();
        if rows.is_empty() {
            "select null as \"name\" where false".to_string()
        } else {
            rows.join(" union all ")
        }
    } else if lower.starts_with("select metadata$filename from @") {
        let rest = &sql["select metadata$filename from @".len()..];
        let path = stage_path(rest.split_whitespace().next().unwrap_or_default());
        format!("select '{}{path}' as \"METADATA$FILENAME\"", shared.stage_prefix)
    } else {
        return None;
    };
    request["sqlText"] = Value::String(select);
    serde_json::to_vec(&request).ok()
}

/// The privileges the caller's role holds on `pipe` (none if it does not exist).
async fn privileges(shared: &Shared, pipe: &str) -> Vec<String> {
    let grants = shared
        .checks
        .lock()
        .await
        .query(&format!("show grants on pipe {pipe}"))
        .await;
    grants
        .map(|table| {
            table
                .rows
                .into_iter()
                .filter(|row| row.get(1).and_then(|r| r.as_deref()) == Some(shared.caller_role.as_str()))
                .filter_map(|row| row.first().cloned().flatten())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `pipe` is paused: its files wait in the queue.
async fn paused(shared: &Shared, pipe: &str) -> bool {
    let status = shared
        .checks
        .lock()
        .await
        .query(&format!("select system$pipe_status('{pipe}')"))
        .await;
    status
        .ok()
        .and_then(|table| table.scalar().map(str::to_string))
        .and_then(|json| serde_json::from_str::<Value>(&json).ok())
        .is_some_and(|state| state["executionState"] == "PAUSED")
}

/// Takes queued files in random order and loads them side by side, as Snowpipe's
/// workers do: each stamps its scan's start, takes a while (longer for a file given a
/// delay), then commits its rows and its history entry.
async fn loader(shared: Arc<Shared>, session: SnowflakeWarehouse) {
    let session = Arc::new(tokio::sync::Mutex::new(session));
    loop {
        let next = {
            let mut loads = shared.loads.lock().unwrap();
            if loads.held || loads.queue.is_empty() {
                None
            } else {
                let at = shared.rng.lock().unwrap().random_range(0..loads.queue.len());
                let next = loads.queue.swap_remove(at);
                loads.in_flight.push(next.clone());
                Some(next)
            }
        };
        let Some((pipe, path)) = next else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if paused(&shared, &pipe).await {
            {
                let mut loads = shared.loads.lock().unwrap();
                loads.in_flight.retain(|entry| entry != &(pipe.clone(), path.clone()));
                loads.queue.push((pipe, path));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let (shared, session) = (Arc::clone(&shared), Arc::clone(&session));
        tokio::spawn(async move {
            let scan_started = Utc::now();
            shared.loads.lock().unwrap().scans_started.push(path.clone());
            let delay = shared
                .rng
                .lock()
                .unwrap()
                .random_range(0..=shared.max_delay.as_millis() as u64);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            wait_while(&shared, |loads| held(&loads.held_before_commit, &path)).await;
            let record = load_file(&shared, &session, &pipe, &path, scan_started).await;
            let mut loads = shared.loads.lock().unwrap();
            loads.history.push(record);
            loads.in_flight.retain(|(p, f)| *p != pipe || *f != path);
        });
    }
}

/// Whether `path` is one of the files `parts` names (by a part of their path).
fn held(parts: &[String], path: &str) -> bool {
    parts.iter().any(|part| path.contains(part.as_str()))
}

/// Waits while `holds` says the emulator's loads hold a file back.
async fn wait_while(shared: &Shared, holds: impl Fn(&Loads) -> bool) {
    while holds(&shared.loads.lock().unwrap()) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The loader's random source, seeded from `SNOWPIPE_EMULATOR_SEED` when set (to
/// replay a run) or else at random; the seed is printed with the test's output.
fn seeded_rng() -> rand::rngs::StdRng {
    use rand::SeedableRng;
    let seed = std::env::var("SNOWPIPE_EMULATOR_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("snowpipe emulator: load order seed {seed} (SNOWPIPE_EMULATOR_SEED={seed} replays it)");
    rand::rngs::StdRng::seed_from_u64(seed)
}

/// One file through its pipe's COPY.
async fn load_file(
    shared: &Shared,
    session: &tokio::sync::Mutex<SnowflakeWarehouse>,
    pipe: &str,
    path: &str,
    scan_started: DateTime<Utc>,
) -> LoadRecord {
    let def = &shared.pipes[pipe];
    let mut record = LoadRecord {
        pipe: pipe.to_string(),
        path: path.to_string(),
        status: "LOAD_FAILED",
        rows_parsed: 0,
        rows_inserted: 0,
        errors_seen: 0,
        first_error: None,
        last_insert_time: Utc::now(),
    };
    let bytes = match shared.lake.get_optional(&object_store::path::Path::from(path)).await {
        Ok(Some(bytes)) => bytes,
        _ => {
            record.errors_seen = 1;
            record.first_error = Some(format!(
                "Remote file 'azure://acct.blob.core.windows.net/raw/{path}' was not found. There are several potential causes. The file might not exist. The required credentials may be missing or invalid."
            ));
            return record;
        }
    };
    let mut rows = Vec::new();
    let reader = BufReader::new(flate2::read::MultiGzDecoder::new(&bytes[..]));
    for (index, line) in reader.split(b'\n').enumerate() {
        let line_number = index as u64 + 1;
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                record.errors_seen += 1;
                record
                    .first_error
                    .get_or_insert(format!("Error decompressing the file: {e}"));
                break;
            }
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        record.rows_parsed += 1;
        let parsed = std::str::from_utf8(&line)
            .map_err(|_| "Invalid UTF8 detected in string".to_string())
            .and_then(|text| {
                serde_json::from_str::<Value>(text)
                    .map(|_| text.to_string())
                    .map_err(|e| format!("Error parsing JSON: {e}"))
            });
        match parsed {
            Ok(text) => rows.push((line_number, text)),
            Err(error) => {
                record.errors_seen += 1;
                record.first_error.get_or_insert(format!("{error}, line {line_number}"));
            }
        }
    }
    if record.errors_seen > 0 && def.on_error == OnError::SkipFile {
        return record;
    }
    let loaded_at = scan_started.format("%Y-%m-%d %H:%M:%S%.6f");
    let rows_per_commit = shared.loads.lock().unwrap().rows_per_commit;
    for (n, batch) in rows.chunks(rows_per_commit).enumerate() {
        if n == 1 {
            wait_while(shared, |loads| held(&loads.stop_after_first, path)).await;
        }
        let selects: Vec<String> = batch
            .iter()
            .map(|(row, text)| {
                format!(
                    "select parse_json('{}'), '{}{path}', {row}, '{loaded_at}'::timestamp_ntz",
                    text.replace('\\', "\\\\").replace('\'', "''"),
                    shared.stage_prefix
                )
            })
            .collect();
        let sql = format!(
            "insert into {} (raw_json, file_name, file_row_number, loaded_at) {}",
            def.table,
            selects.join(" union all ")
        );
        // One transaction at a time on the loader's session, which other files'
        // loads share while this one waits between its transactions.
        session.lock().await.execute(&sql).await.unwrap();
        if n == 0 {
            let mut loads = shared.loads.lock().unwrap();
            if loads.stop_after_first.iter().any(|part| path.contains(part.as_str())) {
                loads.first_committed = true;
            }
        }
    }
    record.rows_inserted = rows.len() as u64;
    record.status = if record.errors_seen > 0 {
        "PARTIALLY_LOADED"
    } else {
        "LOADED"
    };
    record.last_insert_time = Utc::now();
    record
}
