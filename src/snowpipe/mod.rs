//! Snowpipe's REST API: how a committed slot's files reach Snowflake's raw tables.
//!
//! [`SnowpipeClient::insert_files`] submits staged files to a pipe
//! (`POST /v1/data/pipes/{pipe}/insertFiles`, at most 5,000 per call), authenticated
//! by a key-pair JWT ([`jwt`]) renewed before it expires. 429, 5xx, timeouts and
//! connection errors are retried with the shared backoff; any other 4xx is a
//! configuration problem (pipe name, grants, key) and is reported at once.
//! `insertReport` and `loadHistoryScan` tell what Snowpipe did with them.

mod history;
pub mod jwt;
mod shared_calls;

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tracing::{instrument, warn};
use url::Url;

pub use self::history::{LoadRecord, LoadRecords, PipeState};
pub use self::jwt::KeyPairJwt;
pub use self::shared_calls::SharedInsertCalls;
use crate::retry::Backoff;
use crate::warehouse::SnowflakeSettings;

/// Most files one insertFiles call may carry (Snowpipe's limit).
pub const MAX_FILES_PER_CALL: usize = 5_000;

/// A token lives this long; it is renewed once less than [`RENEW_BEFORE`] is left.
const TOKEN_LIFETIME: Duration = Duration::from_secs(59 * 60);
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

/// Why a Snowpipe call failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SnowpipeError {
    #[error("the Snowflake key pair cannot be used: {0}")]
    Key(String),
    #[error(
        "Snowpipe refused {what} on pipe {pipe} ({status}): {body}. Check that the pipe exists, that the user's role may operate it, and that the user's RSA_PUBLIC_KEY matches the key (fingerprint {fingerprint})"
    )]
    Refused {
        what: &'static str,
        pipe: String,
        status: u16,
        body: String,
        fingerprint: String,
    },
    #[error("Snowpipe did not accept {what} on pipe {pipe} after {attempts} attempts: {last}")]
    Unavailable {
        what: &'static str,
        pipe: String,
        attempts: u32,
        last: String,
    },
    #[error("Snowpipe answered {what} on pipe {pipe} with a body that is not its JSON: {error}")]
    Malformed {
        what: &'static str,
        pipe: String,
        error: String,
    },
}

/// What insertFiles answered for one call.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InsertResponse {
    pub request_id: String,
    pub response_code: String,
}

/// Timeouts and retries of the client.
#[derive(Clone, Copy, Debug)]
pub struct SnowpipeOptions {
    pub request_timeout: Duration,
    pub backoff: Backoff,
}

impl Default for SnowpipeOptions {
    fn default() -> Self {
        SnowpipeOptions {
            request_timeout: Duration::from_secs(30),
            backoff: Backoff::default(),
        }
    }
}

/// A Snowpipe REST client for one account and user.
#[derive(Debug)]
pub struct SnowpipeClient {
    http: reqwest::Client,
    base: Url,
    jwt: KeyPairJwt,
    token: Mutex<Option<(String, DateTime<Utc>)>>,
    options: SnowpipeOptions,
}

impl SnowpipeClient {
    /// A client for the account in `settings` (its `SNOWFLAKE_URL`, if set).
    pub fn new(settings: &SnowflakeSettings, options: SnowpipeOptions) -> Result<SnowpipeClient, SnowpipeError> {
        use secrecy::ExposeSecret;
        let jwt = KeyPairJwt::from_pem(settings.private_key.expose_secret(), &settings.account, &settings.user)
            .map_err(SnowpipeError::Key)?;
        let base = match &settings.base_url {
            Some(url) => url.clone(),
            None => format!(
                "https://{}.snowflakecomputing.com",
                settings.account.to_ascii_lowercase()
            )
            .parse()
            .map_err(|e| SnowpipeError::Key(format!("the account `{}` makes no URL: {e}", settings.account)))?,
        };
        let http = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .build()
            .map_err(|e| SnowpipeError::Key(format!("cannot build the HTTP client: {e}")))?;
        Ok(SnowpipeClient {
            http,
            base,
            jwt,
            token: Mutex::new(None),
            options,
        })
    }

    /// A valid token, issued again when it is near its expiry.
    fn token(&self) -> String {
        let mut cached = self.token.lock().expect("the token lock is not poisoned");
        let now = Utc::now();
        if let Some((token, expires)) = cached.as_ref() {
            if *expires - now > chrono::Duration::from_std(RENEW_BEFORE).expect("small duration") {
                return token.clone();
            }
        }
        let lifetime = TOKEN_LIFETIME.as_secs() as i64;
        let token = self.jwt.issue(now.timestamp(), lifetime);
        *cached = Some((token.clone(), now + chrono::Duration::seconds(lifetime)));
        token
    }

    /// Submits `paths` (relative to the pipe's stage) in calls of at most 5,000.
    #[instrument(skip_all, fields(pipe, files = paths.len()))]
    pub async fn insert_files(&self, pipe: &str, paths: &[String]) -> Result<Vec<InsertResponse>, SnowpipeError> {
        let mut responses = Vec::new();
        for batch in paths.chunks(MAX_FILES_PER_CALL) {
            let body = serde_json::json!({ "files": batch.iter().map(|p| serde_json::json!({ "path": p })).collect::<Vec<_>>() });
            // One request id per batch, the same across its retries: Snowpipe reports by it.
            let request_id = uuid::Uuid::new_v4().to_string();
            let url = self.url(pipe, "insertFiles", &[("requestId", &request_id)]);
            let text = self
                .send("insertFiles", pipe, || self.http.post(url.clone()).json(&body))
                .await?;
            let response = serde_json::from_str(&text).map_err(|e| SnowpipeError::Malformed {
                what: "insertFiles",
                pipe: pipe.to_string(),
                error: e.to_string(),
            })?;
            responses.push(response);
        }
        Ok(responses)
    }

    /// insertReport: the pipe's recent load events (Snowpipe keeps about 10 minutes).
    pub async fn insert_report(&self, pipe: &str) -> Result<serde_json::Value, SnowpipeError> {
        let url = self.url(pipe, "insertReport", &[]);
        self.json("insertReport", pipe, url).await
    }

    /// loadHistoryScan: the entries (one per file) of the pipe's load history between
    /// two times, every page of it. "There is a maximum of 10,000 items returned, but
    /// multiple calls can be issued to cover the desired time range": an answer with
    /// `completeResult` false is followed from its `rangeEndTime` as the next
    /// `startTimeInclusive` ("Snowpipe REST API", docs.snowflake.com/en/user-guide/
    /// data-load-snowpipe-rest-apis). An entry on the boundary comes twice; it is kept
    /// once. Neither of Snowflake's ingest SDKs follows the pages; a pipe loading a file
    /// every 5 seconds passes 10,000 in 14 hours.
    pub async fn load_history_scan(
        &self,
        pipe: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<serde_json::Value>, SnowpipeError> {
        let format = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let end = format(end);
        // The next page starts at the text Snowflake gave: its fractions of a second
        // matter, as entries a second apart can fill a page.
        let mut from = (start, format(start));
        let mut files = Vec::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            let url = self.url(
                pipe,
                "loadHistoryScan",
                &[("startTimeInclusive", &from.1), ("endTimeExclusive", &end)],
            );
            let mut answer = self.json("loadHistoryScan", pipe, url).await?;
            if let Some(page) = answer.get_mut("files").and_then(|f| f.as_array_mut()) {
                for file in page.drain(..) {
                    if seen.insert((file["path"].to_string(), file["lastInsertTime"].to_string())) {
                        files.push(file);
                    }
                }
            }
            if answer["completeResult"].as_bool() != Some(false) {
                return Ok(files);
            }
            let next = answer["rangeEndTime"].as_str().and_then(|text| {
                let time = DateTime::parse_from_rfc3339(text).ok()?.to_utc();
                (time > from.0).then(|| (time, text.to_string()))
            });
            match next {
                Some(next) => from = next,
                None => {
                    return Err(SnowpipeError::Malformed {
                        what: "loadHistoryScan",
                        pipe: pipe.to_string(),
                        error: format!(
                            "an incomplete answer whose rangeEndTime ({}) does not move past {}: more than one page of entries at one time",
                            answer["rangeEndTime"], from.1
                        ),
                    });
                }
            }
        }
    }

    async fn json(&self, what: &'static str, pipe: &str, url: Url) -> Result<serde_json::Value, SnowpipeError> {
        let text = self.send(what, pipe, || self.http.get(url.clone())).await?;
        serde_json::from_str(&text).map_err(|e| SnowpipeError::Malformed {
            what,
            pipe: pipe.to_string(),
            error: e.to_string(),
        })
    }

    fn url(&self, pipe: &str, endpoint: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        url.set_path(&format!("/v1/data/pipes/{pipe}/{endpoint}"));
        url.query_pairs_mut().extend_pairs(query);
        url
    }

    /// Sends a request, retrying what may pass on a second try (see [`SnowpipeError`]).
    async fn send(
        &self,
        what: &'static str,
        pipe: &str,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<String, SnowpipeError> {
        let backoff = self.options.backoff;
        let mut attempt = 0;
        loop {
            let response = request()
                .bearer_auth(self.token())
                .header("X-Snowflake-Authorization-Token-Type", "KEYPAIR_JWT")
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await;
            let last = match response {
                Ok(r) if r.status().is_success() => {
                    return r.text().await.map_err(|e| SnowpipeError::Malformed {
                        what,
                        pipe: pipe.to_string(),
                        error: e.to_string(),
                    });
                }
                Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                    format!("{} {}", r.status(), r.text().await.unwrap_or_default())
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    return Err(SnowpipeError::Refused {
                        what,
                        pipe: pipe.to_string(),
                        status,
                        body: r.text().await.unwrap_or_default(),
                        fingerprint: self.jwt.fingerprint().to_string(),
                    });
                }
                Err(e) => e.to_string(),
            };
            if attempt >= backoff.max_retries {
                return Err(SnowpipeError::Unavailable {
                    what,
                    pipe: pipe.to_string(),
                    attempts: attempt + 1,
                    last,
                });
            }
            let delay = backoff.delay(attempt);
            warn!(what, pipe, attempt, error = %last, delay_ms = delay.as_millis() as u64, "retrying Snowpipe");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}
