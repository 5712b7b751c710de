//! The Twitch application's settings: credentials and endpoints.

use std::fmt;

use secrecy::SecretString;
use url::Url;

use crate::config::{ConfigError, Problems, parse_http_url};

/// Twitch application credentials and endpoints, as given.
#[derive(clap::Args, Clone, Default)]
pub struct TwitchArgs {
    /// Twitch application client id.
    #[arg(long = "client-id", env = "TWITCH_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Twitch application client secret (never printed).
    #[arg(long = "client-secret", env = "TWITCH_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// Helix API base URL.
    #[arg(
        long = "api-url",
        env = "TWITCH_API_URL",
        default_value = "https://api.twitch.tv/helix"
    )]
    pub api_url: String,
    /// Twitch OAuth base URL (token and validate endpoints).
    #[arg(
        long = "auth-url",
        env = "TWITCH_AUTH_URL",
        default_value = "https://id.twitch.tv/oauth2"
    )]
    pub auth_url: String,
}

// The raw arguments hold the secret as a plain string: keep it out of Debug.
impl fmt::Debug for TwitchArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwitchArgs")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[REDACTED]"))
            .field("api_url", &self.api_url)
            .field("auth_url", &self.auth_url)
            .finish()
    }
}

/// Validated Twitch settings.
#[derive(Clone, Debug)]
pub struct TwitchSettings {
    pub client_id: String,
    /// Redacted in Debug by `secrecy`; it has no Display.
    pub client_secret: SecretString,
    pub api_url: Url,
    pub auth_url: Url,
}

impl TwitchArgs {
    pub(crate) fn check(&self, problems: &mut Problems) -> Option<TwitchSettings> {
        let client_id = problems.required(&self.client_id, "TWITCH_CLIENT_ID", "--client-id");
        let client_secret = problems.required(&self.client_secret, "TWITCH_CLIENT_SECRET", "--client-secret");
        let api_url = problems.parse(&self.api_url, "TWITCH_API_URL", parse_http_url);
        let auth_url = problems.parse(&self.auth_url, "TWITCH_AUTH_URL", parse_http_url);
        Some(TwitchSettings {
            client_id: client_id?,
            client_secret: SecretString::from(client_secret?),
            api_url: api_url?,
            auth_url: auth_url?,
        })
    }

    /// Validates the Twitch settings alone.
    pub fn validate(&self) -> Result<TwitchSettings, ConfigError> {
        let mut problems = Problems::default();
        let settings = self.check(&mut problems);
        problems.finish(|| settings.expect("no problems means every field parsed"))
    }
}
