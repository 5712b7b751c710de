//! Helix GET requests: token, pacing, and the retry decision.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use tracing::warn;

use super::latency::{Counts, Histogram};
use super::{Backoff, HelixPage, Pacer, TokenSource};
use crate::twitch::TwitchSettings;

/// A Helix failure, saying what was asked and what to do.
#[derive(Debug, thiserror::Error)]
pub enum HelixError {
    #[error(
        "Twitch refused the app credentials (status {status}): {body}. Check TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET"
    )]
    Credentials { status: u16, body: String },
    #[error(
        "Helix refused GET {endpoint} even with a freshly fetched app token; check that the application is still enabled in the Twitch developer console"
    )]
    Unauthorized { endpoint: String },
    #[error("Helix refused GET {endpoint} with status {status}: {body}")]
    Rejected {
        endpoint: String,
        status: u16,
        body: String,
    },
    #[error(
        "Helix kept answering 429 (rate limited) to GET {endpoint}: {detail}. The run stops rather than wait past its slot; if another program uses the same Twitch app, its 800 points a minute are shared"
    )]
    RateLimited { endpoint: String, detail: String },
    #[error("{endpoint} failed {attempts} times; last error: {last}")]
    GaveUp {
        endpoint: String,
        attempts: u32,
        last: String,
    },
}

/// One unretried request's answer ([`HelixClient::probe`]).
#[derive(Clone, Debug)]
pub struct Probe {
    pub status: u16,
    pub round_trip: Duration,
    pub ratelimit_limit: Option<String>,
    pub ratelimit_remaining: Option<String>,
    /// The start of the body, for a refusal's message.
    pub body: String,
}

/// Tunables of the client; the defaults suit Helix.
#[derive(Clone, Copy, Debug)]
pub struct ClientOptions {
    /// A request taking longer than this is abandoned and retried.
    pub request_timeout: Duration,
    pub backoff: Backoff,
    /// The longest one request waits on 429s in all; a reset announced further out,
    /// or a storm of 429s that outlasts it, fails the request with that reason, well
    /// inside a run's deadline.
    pub rate_limit_patience: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            request_timeout: Duration::from_secs(15),
            backoff: Backoff::default(),
            rate_limit_patience: Duration::from_secs(90),
        }
    }
}

/// Counters of one client's requests, for summaries and manifests. A client outlives
/// a run in `serve`: a run takes a [`snapshot`](Self::snapshot) at its start and
/// reports the difference.
#[derive(Debug, Default)]
pub struct RequestStats {
    /// Requests sent; each costs one point of the bucket ("the default points value
    /// per request for an endpoint is 1", the API guide).
    pub requests: AtomicU64,
    /// Retries after a transient failure (5xx, timeout, connection, malformed body).
    pub retries: AtomicU64,
    /// Answers of 429.
    pub rate_limited: AtomicU64,
    /// Requests sent again after Helix refused the token.
    pub token_refreshes: AtomicU64,
    /// Each request's round trip, from sending it to its body read.
    pub latency: Histogram,
}

/// [`RequestStats`] at one moment.
#[derive(Clone, Debug)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub token_refreshes: u64,
    pub latency: Counts,
}

impl RequestStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            token_refreshes: self.token_refreshes.load(Ordering::Relaxed),
            latency: self.latency.snapshot(),
        }
    }
}

impl StatsSnapshot {
    /// What happened between `earlier` and this snapshot.
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests - earlier.requests,
            retries: self.retries - earlier.retries,
            rate_limited: self.rate_limited - earlier.rate_limited,
            token_refreshes: self.token_refreshes - earlier.token_refreshes,
            latency: self.latency.since(&earlier.latency),
        }
    }
}

/// How one request is sent.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestOptions {
    /// Among requests waiting for the rate limit, higher goes first (see [`Pacer`]).
    pub priority: u32,
    /// Transient failures retried before giving up; `None`: the client's backoff.
    pub max_retries: Option<u32>,
}

/// A Helix client for one app: every request goes through the same token and pacer.
pub struct HelixClient {
    http: reqwest::Client,
    api_base: String,
    client_id: String,
    tokens: TokenSource,
    pacer: Pacer,
    backoff: Backoff,
    rate_limit_patience: Duration,
    stats: RequestStats,
}

/// How one attempt ended, when it did not succeed.
enum Failure {
    /// Worth another try after a backoff.
    Transient(String),
    /// The token was refused: fetch another and try at once.
    TokenRefused,
    /// Rate limited: the pacer now waits for the reset, announced this far out.
    RateLimited(Duration),
}

impl HelixClient {
    /// Builds the client, fetches an app token and validates it.
    pub async fn connect(settings: &TwitchSettings, options: ClientOptions) -> Result<HelixClient, HelixError> {
        let http = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("twitch-pipeline/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client configuration is static and valid");
        let tokens = TokenSource::new(http.clone(), settings, options.backoff);
        tokens.validate().await?;
        Ok(HelixClient {
            http,
            api_base: settings.api_url.as_str().trim_end_matches('/').to_string(),
            client_id: settings.client_id.clone(),
            tokens,
            // A 429 holds callers no longer than one request would wait for it.
            pacer: Pacer::with_max_hold(options.rate_limit_patience),
            backoff: options.backoff,
            rate_limit_patience: options.rate_limit_patience,
            stats: RequestStats::default(),
        })
    }

    /// Request counters so far.
    pub fn stats(&self) -> &RequestStats {
        &self.stats
    }

    /// The client's retry schedule, for callers that retry a refused request themselves.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// Validates the token with Twitch if the last validation is an hour old: "Your app
    /// must validate the OAuth token when it starts and on an hourly basis thereafter"
    /// (<https://dev.twitch.tv/docs/authentication/validate-tokens>). A client kept
    /// across runs (`serve`) calls this at the start of each.
    pub async fn validate_if_due(&self) -> Result<(), HelixError> {
        self.tokens.validate_if_due().await
    }

    /// A GET of `url` as Helix wants it: the app's client id and token.
    fn authorized_get(&self, url: &str, query: &[(&str, &str)], token: &super::auth::Token) -> reqwest::RequestBuilder {
        self.http
            .get(url)
            .query(query)
            .header("Client-Id", &self.client_id)
            .bearer_auth(token.value.expose_secret())
    }

    /// The app token's validation, as Twitch answers it (for `doctor`).
    pub async fn token_validation(&self) -> Result<serde_json::Value, HelixError> {
        self.tokens.validation().await
    }

    /// One GET of a Helix endpoint, nothing retried (for `doctor`): its status, round
    /// trip and `Ratelimit-*` headers.
    pub async fn probe(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<Probe, HelixError> {
        let url = format!("{}/{endpoint}", self.api_base);
        let token = self.tokens.token().await?;
        let sent_at = std::time::Instant::now();
        let response = self
            .authorized_get(&url, query, &token)
            .send()
            .await
            .map_err(|e| HelixError::GaveUp {
                endpoint: url.clone(),
                attempts: 1,
                last: describe(&e),
            })?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (limit, remaining) = (header("ratelimit-limit"), header("ratelimit-remaining"));
        let status = response.status().as_u16();
        let body = snippet(response).await;
        Ok(Probe {
            status,
            round_trip: sent_at.elapsed(),
            ratelimit_limit: limit,
            ratelimit_remaining: remaining,
            body,
        })
    }

    /// GETs one Helix page, e.g. `get_page("streams", &[("first", "100")])`.
    ///
    /// Retries (see [`Backoff`]) timeouts, connection errors, 5xx and unreadable bodies;
    /// waits out 429s on the pacer; fetches a new token after a 401 (twice at most).
    /// Other 4xx answers fail at once, with Helix's message.
    pub async fn get_page(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<HelixPage, HelixError> {
        self.get(endpoint, query, RequestOptions::default()).await
    }

    /// [`get_page`](Self::get_page) with a priority and retry budget of its own.
    pub async fn get(
        &self,
        endpoint: &str,
        query: &[(&str, &str)],
        options: RequestOptions,
    ) -> Result<HelixPage, HelixError> {
        let url = format!("{}/{endpoint}", self.api_base);
        let max_retries = options.max_retries.unwrap_or(self.backoff.max_retries);
        let mut retries = 0;
        let mut token_refreshes = 0;
        let mut rate_limited_for = Duration::ZERO;
        loop {
            let token = self.tokens.token().await?;
            let permit = self.pacer.acquire(options.priority).await;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let sent_at = std::time::Instant::now();
            let sent = self.authorized_get(&url, query, &token).send().await;
            let failure = match sent {
                Err(e) => Failure::Transient(describe(&e)),
                Ok(response) => {
                    self.pacer.observe(response.headers());
                    match response.status() {
                        StatusCode::OK => {
                            let body = response.bytes().await;
                            self.stats.latency.record(sent_at.elapsed());
                            match body {
                                Ok(body) => match HelixPage::parse(&body) {
                                    Ok(page) => return Ok(page),
                                    Err(e) => Failure::Transient(format!("malformed JSON body: {e}")),
                                },
                                Err(e) => Failure::Transient(describe(&e)),
                            }
                        }
                        StatusCode::UNAUTHORIZED => Failure::TokenRefused,
                        StatusCode::TOO_MANY_REQUESTS => Failure::RateLimited(self.pacer.exhaust(response.headers())),
                        status if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT => {
                            Failure::Transient(format!("status {status}"))
                        }
                        status => {
                            let body = snippet(response).await;
                            return Err(HelixError::Rejected {
                                endpoint: url,
                                status: status.as_u16(),
                                body,
                            });
                        }
                    }
                }
            };
            drop(permit);
            match failure {
                Failure::RateLimited(reset_in) => {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    rate_limited_for = rate_limited_for.saturating_add(reset_in);
                    if reset_in > self.rate_limit_patience {
                        return Err(HelixError::RateLimited {
                            endpoint: url,
                            detail: format!(
                                "Ratelimit-Reset is {} s away, past the {} s this run waits",
                                reset_in.as_secs(),
                                self.rate_limit_patience.as_secs()
                            ),
                        });
                    }
                    if rate_limited_for > self.rate_limit_patience {
                        return Err(HelixError::RateLimited {
                            endpoint: url,
                            detail: format!(
                                "still refused after waiting {} s for resets",
                                rate_limited_for.as_secs()
                            ),
                        });
                    }
                    warn!(
                        endpoint,
                        reset_in_ms = reset_in.as_millis() as u64,
                        "Helix answered 429; waiting for the rate-limit reset"
                    );
                }
                Failure::TokenRefused => {
                    token_refreshes += 1;
                    if token_refreshes > 2 {
                        return Err(HelixError::Unauthorized { endpoint: url });
                    }
                    self.stats.token_refreshes.fetch_add(1, Ordering::Relaxed);
                    self.tokens.invalidate(&token).await;
                }
                Failure::Transient(reason) => {
                    if retries >= max_retries {
                        return Err(HelixError::GaveUp {
                            endpoint: url,
                            attempts: retries + 1,
                            last: reason,
                        });
                    }
                    let delay = self.backoff.delay(retries);
                    warn!(endpoint, error = %reason, retry = retries + 1, delay_ms = delay.as_millis() as u64, "Helix request failed; retrying");
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(delay).await;
                    retries += 1;
                }
            }
        }
    }
}

/// A reqwest error with its cause chain (reqwest's own Display hides the cause).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The start of an error body, for messages.
pub(super) async fn snippet(response: reqwest::Response) -> String {
    let text = response.text().await.unwrap_or_default();
    let mut end = text.len().min(300);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].trim().to_string()
}
