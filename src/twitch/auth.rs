//! The app access token: client-credentials grant, validated, fetched again on 401
//! or when it nears expiry.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{info, warn};

use super::{Backoff, HelixError};
use crate::twitch::TwitchSettings;

/// A token is replaced this long before Twitch says it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(300);

/// One app access token; `generation` tells a stale 401 from a fresh one.
#[derive(Clone)]
pub struct Token {
    pub value: SecretString,
    pub generation: u64,
    expires_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

/// Hands out the current app token, fetching a new one when needed.
pub struct TokenSource {
    http: reqwest::Client,
    token_url: String,
    validate_url: String,
    client_id: String,
    client_secret: SecretString,
    backoff: Backoff,
    current: Mutex<Option<Token>>,
    /// When the token in use was last validated with Twitch.
    validated_at: Mutex<Option<Instant>>,
}

/// Twitch asks apps to validate tokens "on an hourly basis"
/// (<https://dev.twitch.tv/docs/authentication/validate-tokens>).
const VALIDATE_EVERY: Duration = Duration::from_secs(3_600);

impl TokenSource {
    pub fn new(http: reqwest::Client, settings: &TwitchSettings, backoff: Backoff) -> Self {
        let base = settings.auth_url.as_str().trim_end_matches('/');
        TokenSource {
            http,
            token_url: format!("{base}/token"),
            validate_url: format!("{base}/validate"),
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            backoff,
            current: Mutex::new(None),
            validated_at: Mutex::new(None),
        }
    }

    /// Validates the token if it was last validated an hour ago or more; a token
    /// Twitch no longer accepts is dropped and a new one fetched and validated.
    pub async fn validate_if_due(&self) -> Result<(), HelixError> {
        let due = self
            .validated_at
            .lock()
            .await
            .is_none_or(|at| at.elapsed() >= VALIDATE_EVERY);
        if !due {
            return Ok(());
        }
        match self.validate().await {
            Err(HelixError::Credentials { status: 401, .. }) => {
                if let Some(token) = self.current.lock().await.clone() {
                    self.invalidate(&token).await;
                }
                self.validate().await
            }
            other => other,
        }
    }

    /// The current token, fetching one if there is none or it is about to expire.
    pub async fn token(&self) -> Result<Token, HelixError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current
            .as_ref()
            .filter(|t| t.expires_at > Instant::now() + EXPIRY_MARGIN)
        {
            return Ok(token.clone());
        }
        let generation = current.as_ref().map_or(1, |t| t.generation + 1);
        let token = self.fetch(generation).await?;
        *current = Some(token.clone());
        Ok(token)
    }

    /// Drops `token` after Helix refused it, unless a newer one replaced it already.
    pub async fn invalidate(&self, token: &Token) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|t| t.generation == token.generation) {
            warn!(
                generation = token.generation,
                "Helix refused the app token; fetching a new one"
            );
            *current = None;
            *self.validated_at.lock().await = None;
        }
    }

    /// Checks the current token with `/oauth2/validate`, as Twitch asks apps to do at start.
    pub async fn validate(&self) -> Result<(), HelixError> {
        self.validation().await.map(|_| ())
    }

    /// `/oauth2/validate`'s answer for the current token: its `client_id` and
    /// `expires_in` ("Validating requests", dev.twitch.tv/docs/authentication/
    /// validate-tokens).
    pub async fn validation(&self) -> Result<serde_json::Value, HelixError> {
        let token = self.token().await?;
        let response = self
            .http
            .get(&self.validate_url)
            .header("Authorization", format!("OAuth {}", token.value.expose_secret()))
            .send()
            .await
            .map_err(|e| HelixError::Credentials {
                status: 0,
                body: format!("cannot reach {}: {e}", self.validate_url),
            })?;
        let status = response.status();
        if status.is_success() {
            *self.validated_at.lock().await = Some(Instant::now());
            let body = response.text().await.unwrap_or_default();
            return Ok(serde_json::from_str(&body).unwrap_or(serde_json::Value::Null));
        }
        let body = super::client::snippet(response).await;
        Err(HelixError::Credentials {
            status: status.as_u16(),
            body,
        })
    }

    /// Client-credentials grant; the secret travels in the form body, never the URL,
    /// so it cannot surface in an error message that quotes the URL.
    async fn fetch(&self, generation: u64) -> Result<Token, HelixError> {
        let form = [
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
            ("grant_type", "client_credentials"),
        ];
        let mut retry = 0;
        loop {
            let failure = match self.http.post(&self.token_url).form(&form).send().await {
                Ok(response) if response.status().is_success() => match response.json::<TokenResponse>().await {
                    Ok(body) => {
                        info!(generation, expires_in = body.expires_in, "fetched a Twitch app token");
                        return Ok(Token {
                            value: SecretString::from(body.access_token),
                            generation,
                            // An absurd `expires_in` must not overflow the clock: app
                            // tokens last about 60 days, and a refused one is replaced.
                            expires_at: Instant::now() + Duration::from_secs(body.expires_in.min(86_400 * 60)),
                        });
                    }
                    Err(e) => format!("unreadable token response: {e}"),
                },
                Ok(response) if response.status().is_server_error() || response.status() == 429 => {
                    format!("status {}", response.status())
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body = super::client::snippet(response).await;
                    return Err(HelixError::Credentials { status, body });
                }
                Err(e) => e.to_string(),
            };
            if retry >= self.backoff.max_retries {
                return Err(HelixError::GaveUp {
                    endpoint: self.token_url.clone(),
                    attempts: retry + 1,
                    last: failure,
                });
            }
            warn!(error = %failure, retry, "token request failed; retrying");
            tokio::time::sleep(self.backoff.delay(retry)).await;
            retry += 1;
        }
    }
}
