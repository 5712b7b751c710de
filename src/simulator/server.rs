//! The simulator's HTTP routes.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::faults::Fault;
use super::listing::{Filter, Listing, Position, Score, score_as_float, score_from_float};
use super::{Simulator, SimulatorConfig};

/// App tokens last about two months on Twitch.
const TOKEN_LIFETIME_SECS: u64 = 5_184_000;

/// A simulator serving on a loopback port until stopped or dropped.
pub struct RunningSimulator {
    pub addr: SocketAddr,
    pub simulator: Arc<Simulator>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningSimulator {
    /// Helix base URL, for `TWITCH_API_URL`.
    pub fn api_url(&self) -> String {
        super::urls(self.addr).0
    }

    /// OAuth base URL, for `TWITCH_AUTH_URL`.
    pub fn auth_url(&self) -> String {
        super::urls(self.addr).1
    }

    /// Stops serving and waits for open connections to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a simulator on a free loopback port.
pub async fn spawn(config: SimulatorConfig) -> std::io::Result<RunningSimulator> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let simulator = Arc::new(Simulator::new(config));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, simulator.clone(), async {
        let _ = stopped.await;
    }));
    Ok(RunningSimulator {
        addr,
        simulator,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Serves `simulator` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    simulator: Arc<Simulator>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let helix = Router::new()
        .route("/helix/streams", get(streams))
        .route("/helix/users", get(users))
        .route("/helix/games", get(games))
        .layer(axum::middleware::from_fn_with_state(simulator.clone(), wire));
    let app = Router::new()
        .route("/oauth2/token", post(token))
        .route("/oauth2/validate", get(validate))
        .merge(helix)
        .with_state(simulator);
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// The network between the client and Helix: each request's round trip (half before
/// it is served, half after, so what it reads is of its middle), and the body gzipped
/// when the client accepts it. Requests are served concurrently: the round trips
/// overlap, as they do on a real connection pool.
async fn wire(
    State(sim): State<Arc<Simulator>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let round_trip = sim.config.latency.map(|latency| {
        let n = sim.latency_draws.fetch_add(1, Ordering::Relaxed);
        latency.sample(sim.config.seed, n)
    });
    let gzip = request
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|coding| coding.trim().starts_with("gzip")));
    if let Some(round_trip) = round_trip {
        tokio::time::sleep(round_trip / 2).await;
    }
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let bytes = if gzip && !bytes.is_empty() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, &bytes).expect("writing to memory");
        parts
            .headers
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        parts.headers.remove(header::CONTENT_LENGTH);
        sim.gzip_responses.fetch_add(1, Ordering::Relaxed);
        Bytes::from(encoder.finish().expect("writing to memory"))
    } else {
        bytes
    };
    sim.bytes_sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    if let Some(round_trip) = round_trip {
        tokio::time::sleep(round_trip - round_trip / 2).await;
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({
        "error": status.canonical_reason().unwrap_or(""),
        "status": status.as_u16(),
        "message": message,
    });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn form_pairs(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes()).into_owned().collect()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Client-credentials grant; parameters may come in the query or a form body.
async fn token(State(sim): State<Arc<Simulator>>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let mut pairs = form_pairs(query.as_deref().unwrap_or(""));
    pairs.extend(form_pairs(&String::from_utf8_lossy(&body)));
    if field(&pairs, "grant_type") != Some("client_credentials") {
        return error(StatusCode::BAD_REQUEST, "missing or unsupported grant_type");
    }
    if field(&pairs, "client_id") != Some(sim.config.client_id.as_str()) {
        return error(StatusCode::BAD_REQUEST, "invalid client");
    }
    if field(&pairs, "client_secret") != Some(sim.config.client_secret.as_str()) {
        return error(StatusCode::FORBIDDEN, "invalid client secret");
    }
    let n = sim.issued.fetch_add(1, Ordering::Relaxed) + 1;
    let token = format!(
        "{:030x}",
        (u128::from(sim.config.seed) << 64 | u128::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
            >> 8
    );
    sim.tokens.lock().expect("tokens lock").insert(token.clone());
    let body = serde_json::json!({ "access_token": token, "expires_in": TOKEN_LIFETIME_SECS, "token_type": "bearer" });
    ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn validate(State(sim): State<Arc<Simulator>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("OAuth "));
    match token {
        Some(token) if sim.tokens.lock().expect("tokens lock").contains(token) => {
            let body = serde_json::json!({ "client_id": sim.config.client_id, "scopes": [], "expires_in": TOKEN_LIFETIME_SECS });
            ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
        }
        _ => error(StatusCode::UNAUTHORIZED, "invalid access token"),
    }
}

/// What every Helix route checks first: credentials, rate limit and faults.
/// `Ok` carries the request number and the headers to send; `Err` is the answer.
async fn admit(sim: &Simulator, headers: &HeaderMap) -> Result<(u64, HeaderMap), Response> {
    let n = sim.helix_requests.fetch_add(1, Ordering::Relaxed) + 1;
    let faults = &sim.config.faults;
    if faults.fires(Fault::SlowResponses, n) {
        tokio::time::sleep(faults.slow_delay).await;
    }
    if faults.fires(Fault::TokenRevoked, n) {
        sim.tokens.lock().expect("tokens lock").clear();
    }
    if headers.get("client-id").and_then(|v| v.to_str().ok()) != Some(sim.config.client_id.as_str()) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "Client-Id header is missing or does not match the token",
        ));
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|t| sim.tokens.lock().expect("tokens lock").contains(t)) {
        return Err(error(StatusCode::UNAUTHORIZED, "Invalid OAuth token"));
    }
    let mut out = HeaderMap::new();
    if let Some(bucket) = &sim.bucket {
        let (level, allowed) = match bucket.take() {
            Ok(level) => (level, true),
            Err(level) => (level, false),
        };
        out.insert("ratelimit-limit", HeaderValue::from(level.limit));
        out.insert("ratelimit-remaining", HeaderValue::from(level.remaining));
        out.insert("ratelimit-reset", HeaderValue::from(level.reset));
        if !allowed {
            return Err((
                StatusCode::TOO_MANY_REQUESTS,
                out,
                error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"),
            )
                .into_response());
        }
    }
    let reset_in = if faults.fires(Fault::FarRateLimitReset, n) {
        Some(86_400)
    } else if faults.fires(Fault::RateLimitBursts, n) || faults.fires(Fault::RateLimitStorm, n) {
        Some(1)
    } else {
        None
    };
    if let Some(reset_in) = reset_in {
        let reset = chrono::Utc::now().timestamp() as u64 + reset_in;
        out.insert("ratelimit-limit", HeaderValue::from(800u64));
        out.insert("ratelimit-remaining", HeaderValue::from(0u64));
        out.insert("ratelimit-reset", HeaderValue::from(reset));
        return Err((out, error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")).into_response());
    }
    if faults.fires(Fault::ServerErrors, n) {
        let status = if n % 2 == 0 {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        return Err((out, error(status, "")).into_response());
    }
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok((n, out))
}

/// The answer body, cut in half when the malformed-body fault fires.
fn body(sim: &Simulator, n: u64, headers: HeaderMap, mut bytes: Vec<u8>) -> Response {
    if sim.config.faults.fires(Fault::MalformedBody, n) {
        bytes.truncate(bytes.len() / 2);
    }
    (StatusCode::OK, headers, bytes).into_response()
}

fn page_body(items: impl Iterator<Item = Vec<u8>>, cursor: Option<String>) -> Vec<u8> {
    let mut out = br#"{"data":["#.to_vec();
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&item);
    }
    out.extend_from_slice(br#"],"pagination":{"#);
    if let Some(cursor) = cursor {
        out.extend_from_slice(format!(r#""cursor":"{cursor}""#).as_bytes());
    }
    out.extend_from_slice(b"}}");
    out
}

/// One inner cursor as Helix writes it: base64 of `{"s":SCORE,"d":false,"t":true}`.
fn inner_cursor(score: Score) -> String {
    BASE64.encode(format!(r#"{{"s":{},"d":false,"t":true}}"#, score_as_float(score)))
}

/// A cursor as Helix hands it out: base64 of `{"b":{"Cursor":FIRST},"a":{"Cursor":LAST}}`,
/// `b` for the page before (`before=`), `a` for the page after (`after=`). An empty
/// `a` is what twitchdev/issues#199 and #543 decoded: it leads to an empty page.
fn encode_cursor(first: Score, last: Option<Score>) -> String {
    let after = last.map(inner_cursor).unwrap_or_default();
    BASE64.encode(format!(
        r#"{{"b":{{"Cursor":"{}"}},"a":{{"Cursor":"{after}"}}}}"#,
        inner_cursor(first)
    ))
}

/// Where a cursor points: `Ok(None)` for a cursor whose part is empty.
fn decode_cursor(cursor: &str, part: &str) -> Result<Option<Score>, ()> {
    let text = BASE64.decode(cursor).map_err(|_| ())?;
    let value: serde_json::Value = serde_json::from_slice(&text).map_err(|_| ())?;
    let inner = value[part]["Cursor"].as_str().ok_or(())?;
    if inner.is_empty() {
        return Ok(None);
    }
    let inner: serde_json::Value = serde_json::from_slice(&BASE64.decode(inner).map_err(|_| ())?).map_err(|_| ())?;
    inner["s"].as_f64().and_then(score_from_float).map(Some).ok_or(())
}

/// The listing of the slot being served, locked for one request and moved on to now.
/// A new slot's listing is rendered off the async threads, and its bucket starts
/// full: between two slots a quarter of an hour passes, which refills it in life.
async fn listing(sim: &Arc<Simulator>) -> tokio::sync::MutexGuard<'_, Option<Listing>> {
    let slot = sim.slot();
    let mut cached = sim.listing.lock().await;
    if cached.as_ref().is_none_or(|l| l.slot != slot) {
        let owner = sim.clone();
        let motion = sim.motion();
        let listing = tokio::task::spawn_blocking(move || Listing::new(&owner.world, owner.config.seed, slot, motion))
            .await
            .expect("rendering a listing does not panic");
        let mut listing = listing;
        if cached.is_none() && sim.config.faults.has(Fault::UnlistedLanguage) {
            listing.relabel(2, "tlh");
        }
        if let Some(previous) = cached.as_ref() {
            if let Some(bucket) = &sim.bucket {
                bucket.fill();
            }
            if sim.config.faults.has(Fault::StreamMissingFromListing) {
                *sim.hidden.lock().expect("hidden lock") = listing.hide_one_known(previous);
            }
        }
        *cached = Some(listing);
    }
    if let Some(listing) = cached.as_mut() {
        listing.advance(&sim.world, tokio::time::Instant::now());
    }
    cached
}

/// Values of a repeatable parameter; Helix takes at most 100 of each (the error names
/// the parameter).
fn many(pairs: &[(String, String)], name: &str) -> Result<Vec<String>, String> {
    let values: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect();
    if values.len() > 100 {
        return Err(format!(
            "The parameter \"{name}\" may only be specified up to 100 times"
        ));
    }
    Ok(values)
}

/// `GET /helix/streams` with Get Streams' parameters: `first` (1 to 100, default 20),
/// `after` or `before`, and the filters `user_id`, `user_login`, `game_id`, `language`
/// (up to 100 each) and `type` (`all` or `live`).
async fn streams(State(sim): State<Arc<Simulator>>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let (n, out) = match admit(&sim, &headers).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let k = sim.streams_requests.fetch_add(1, Ordering::Relaxed) + 1;
    // Helix sends its rate-limit headers with every answer, refusals too.
    let refuse = |message: &str| (out.clone(), error(StatusCode::BAD_REQUEST, message)).into_response();
    let faults = &sim.config.faults;
    if faults.fires(Fault::StreamsOutageMidRun, k) {
        return (out, error(StatusCode::SERVICE_UNAVAILABLE, "")).into_response();
    }
    let pairs = form_pairs(query.as_deref().unwrap_or(""));
    let first = match field(&pairs, "first").map(str::parse::<usize>) {
        None => 20,
        Some(Ok(first)) if (1..=100).contains(&first) => first,
        Some(_) => {
            return refuse("The parameter \"first\" must be between 1 and 100");
        }
    };
    if !matches!(field(&pairs, "type"), None | Some("all" | "live")) {
        return refuse("The parameter \"type\" must be all or live");
    }
    let mut filter = match (|| {
        Ok::<_, String>(Filter {
            user_ids: many(&pairs, "user_id")?,
            user_logins: many(&pairs, "user_login")?,
            game_ids: many(&pairs, "game_id")?,
            languages: many(&pairs, "language")?,
        })
    })() {
        Ok(filter) => filter,
        Err(message) => return refuse(&message),
    };
    if faults.has(Fault::IgnoresLanguageFilter) {
        filter.languages.clear();
    }
    let invalid_cursor = || refuse("invalid cursor");
    // `Some(None)`: a cursor whose part is empty, which leads nowhere.
    let position = match (field(&pairs, "after"), field(&pairs, "before")) {
        (None, None) => Some(Position::Top),
        (Some(cursor), _) => match decode_cursor(cursor, "a") {
            Ok(score) => score.map(Position::Below),
            Err(()) => return invalid_cursor(),
        },
        (None, Some(cursor)) => match decode_cursor(cursor, "b") {
            Ok(score) => score.map(Position::Above),
            Err(()) => return invalid_cursor(),
        },
    };
    let cursor_given = position != Some(Position::Top);
    if cursor_given && faults.fires(Fault::TransientBadCursor, k) {
        return invalid_cursor();
    }
    let refused = *sim.refused_cursor.lock().expect("refused cursor lock");
    if let (Some(Some(Position::Below(score))), Some(bad)) = (Some(position), refused)
        && score == bad
    {
        return invalid_cursor();
    }

    let mut guard = listing(&sim).await;
    let listing = guard.as_mut().expect("the listing was just rendered");
    listing.count_request();
    if let (true, Some(Position::Below(score) | Position::Above(score))) = (faults.has(Fault::CursorsExpire), position)
        && !listing.handed_out.contains(&score)
    {
        drop(guard);
        return invalid_cursor();
    }
    let Some(position) = position else {
        drop(guard);
        return body(&sim, n, out, page_body(std::iter::empty(), None));
    };
    let delivered = !faults.fires(Fault::MalformedBody, n);
    let first = if faults.fires(Fault::ShortPages, k) {
        first.min(40 + (super::world::hash(&[sim.config.seed, 0x5407, k]) % 21) as usize)
    } else {
        first
    };
    // Overlap: the page starts a few streams above the cursor, repeating the tail of
    // the last one.
    let mut page = match position {
        Position::Below(cursor) if faults.has(Fault::OverlappingPages) => {
            let overlap = 1 + (super::world::hash(&[sim.config.seed, 0x0E1A, k]) % 20) as usize;
            let mut page = listing.query(&filter, Position::Above(cursor), overlap.min(first - 1));
            page.extend(listing.query(&filter, position, first - page.len()));
            page
        }
        _ => listing.query(&filter, position, first),
    };
    let Some(&last) = page.last() else {
        drop(guard);
        return body(&sim, n, out, page_body(std::iter::empty(), None));
    };
    let (first_score, last_score) = (listing.score(page[0]), listing.score(last));
    let is_last = !listing.any_below(&filter, last_score);
    let cursor = if !is_last {
        let empty = faults.fires(Fault::EmptyCursorMidListing, k);
        Some(encode_cursor(first_score, (!empty).then_some(last_score)))
    } else if faults.has(Fault::NoCursorOnLastPage) {
        None
    } else if faults.has(Fault::LoopingCursor) {
        // The exact cursor the first page handed out.
        let top = listing.query(&filter, Position::Top, first);
        top.last()
            .map(|&i| encode_cursor(listing.score(top[0]), Some(listing.score(i))))
    } else if faults.has(Fault::WrapAround) {
        // A score above every stream: the page after it is the first.
        Some(encode_cursor(first_score, Some(u64::MAX >> 1)))
    } else {
        Some(encode_cursor(first_score, Some(last_score)))
    };
    if faults.fires(Fault::RefusedCursor, k) && !is_last {
        *sim.refused_cursor.lock().expect("refused cursor lock") = Some(last_score);
    }
    listing.handed_out.extend([first_score, last_score]);
    let mut items: Vec<Vec<u8>> = page.drain(..).map(|i| listing.render(i, delivered)).collect();
    // Duplicates: two streams from the pages before reappear mid-page, their counts
    // having dropped to this page's level, as happens while Twitch re-sorts.
    if let (true, Position::Below(cursor)) = (faults.has(Fault::Duplicates), position) {
        let above = listing.query(&filter, Position::Above(cursor), 5);
        if above.len() == 5 {
            let level = listing.stream(last).viewer_count;
            let middle = items.len() / 2;
            for &earlier in &above[..2] {
                let mut moved = listing.stream(earlier).clone();
                moved.viewer_count = level;
                listing.render(earlier, delivered);
                items.insert(middle, serde_json::to_vec(&moved).expect("stream serializes"));
            }
        }
    }
    drop(guard);
    if faults.fires(Fault::UnusableRecords, n) {
        spoil_records(&sim, &mut items, "viewer_count");
    }
    body(&sim, n, out, page_body(items.into_iter(), cursor))
}

/// Spoils the records [`Fault::UnusableRecords`] picks: one object in a hundred, by
/// its id, so a retry brings the same bad record back, as a bad row upstream would.
/// The spoiling is one of: no `id`; `wrong_type` holding a string of the wrong kind
/// (or a number where the id string belongs); invalid UTF-8 in a string. Each spoiled
/// record's id is kept so tests know which objects cannot land.
fn spoil_records(sim: &Simulator, items: &mut [Vec<u8>], wrong_type: &str) {
    let mut spoiled = sim.spoiled.lock().expect("spoiled lock");
    for item in items.iter_mut() {
        let Ok(serde_json::Value::Object(mut record)) = serde_json::from_slice(item) else {
            continue;
        };
        let Some(id) = record.get("id").and_then(|v| v.as_str()).map(str::to_string) else {
            continue;
        };
        let h = super::world::hash(&[sim.config.seed, 0x5B01, id.parse::<u64>().unwrap_or(0)]);
        if h % 100 != 7 {
            continue;
        }
        spoiled.insert(id);
        match (h >> 16) % 3 {
            0 => {
                record.remove("id");
            }
            1 if wrong_type == "id" => {
                record.insert("id".into(), serde_json::json!(12345));
            }
            1 => {
                record.insert(wrong_type.into(), serde_json::json!("many"));
            }
            _ => {}
        }
        let mut bytes = serde_json::to_vec(&record).expect("a record serializes");
        if (h >> 16) % 3 == 2 {
            // Bytes 0xFF 0xFE never occur in UTF-8; they go inside the first string value.
            let at = bytes.windows(3).position(|w| w == b"\":\"").map_or(1, |p| p + 3);
            bytes.splice(at..at, [0xFF, 0xFE]);
        }
        *item = bytes;
    }
}

/// `GET /helix/users?id=…` (up to 100 ids); unknown ids are left out, as Helix does.
async fn users(State(sim): State<Arc<Simulator>>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let slot = sim.slot();
    by_ids(&sim, query, &headers, |id| {
        sim.world.user(id, slot).map(|u| serde_json::to_vec(&u))
    })
    .await
}

/// `GET /helix/games?id=…` (up to 100 ids).
async fn games(State(sim): State<Arc<Simulator>>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    by_ids(&sim, query, &headers, |id| sim.world.game(id).map(serde_json::to_vec)).await
}

/// A look-up by `id` parameters: one item per id found, in the order asked.
async fn by_ids(
    sim: &Simulator,
    query: Option<String>,
    headers: &HeaderMap,
    find: impl Fn(&str) -> Option<serde_json::Result<Vec<u8>>>,
) -> Response {
    let (n, out) = match admit(sim, headers).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let ids = match ids(query.as_deref()) {
        Ok(ids) => ids,
        Err(message) => return (out, error(StatusCode::BAD_REQUEST, message)).into_response(),
    };
    if let Some((user, game)) = &sim.poisoned
        && ids.iter().any(|id| id == user || id == game)
    {
        return (out, error(StatusCode::INTERNAL_SERVER_ERROR, "")).into_response();
    }
    let mut items: Vec<Vec<u8>> = ids
        .iter()
        .filter_map(|id| find(id))
        .map(|item| item.expect("simulated objects serialize"))
        .collect();
    if sim.config.faults.fires(Fault::UnusableRecords, n) {
        spoil_records(sim, &mut items, "id");
    }
    body(sim, n, out, page_body(items.into_iter(), None))
}

fn ids(query: Option<&str>) -> Result<Vec<String>, &'static str> {
    let ids: Vec<String> = form_pairs(query.unwrap_or(""))
        .into_iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v)
        .collect();
    match ids.len() {
        0 => Err("at least one id is required with an app access token"),
        1..=100 => Ok(ids),
        _ => Err("The number of ids must not exceed 100"),
    }
}
