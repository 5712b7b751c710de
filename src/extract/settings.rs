//! One extraction run's settings.

use std::time::Duration;

use crate::config::{ConfigError, Problems};
use crate::lake::{LakeArgs, LakeUrl, Slot};
use crate::twitch::{TwitchArgs, TwitchSettings};

/// Options of one extraction run, as given.
#[derive(clap::Args, Clone, Debug)]
pub struct ExtractArgs {
    #[command(flatten)]
    pub twitch: TwitchArgs,
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Slot to extract (RFC 3339, floored to the 15-minute grid); default: the current slot.
    #[arg(long, env = "EXTRACT_SLOT")]
    pub slot: Option<String>,
    /// Stop after this many unique streams (default: every live stream).
    #[arg(long, env = "EXTRACT_MAX_STREAMS")]
    pub max_streams: Option<String>,
    /// The run's seconds: the listing stops at 80% of them and look-ups at 90%, and
    /// what landed is committed (marked incomplete); a run still going at the end
    /// publishes nothing.
    #[arg(long, env = "EXTRACT_DEADLINE_SECS", default_value = "600")]
    pub deadline_secs: String,
    /// Hours during which a fetched user or game is not fetched again.
    #[arg(long, env = "EXTRACT_LOOKUP_MAX_AGE_HOURS", default_value = "24")]
    pub lookup_max_age_hours: String,
}

/// A validated extraction run.
#[derive(Clone, Debug)]
pub struct ExtractSettings {
    pub twitch: TwitchSettings,
    pub lake: LakeUrl,
    /// `None`: the slot containing the current time.
    pub slot: Option<Slot>,
    pub max_streams: Option<u64>,
    pub deadline: Duration,
    pub lookup_max_age: chrono::Duration,
}

fn positive_integer(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{text}` is not a positive whole number")),
    }
}

impl ExtractArgs {
    /// Validates every setting of the run, reporting all problems at once.
    pub fn validate(&self) -> Result<ExtractSettings, ConfigError> {
        let mut problems = Problems::default();
        let twitch = self.twitch.check(&mut problems);
        let lake = self.lake.check(&mut problems);
        let slot = match &self.slot {
            Some(text) => problems
                .parse(text, "EXTRACT_SLOT (--slot)", |t| {
                    t.parse::<Slot>().map_err(|e| e.to_string())
                })
                .map(Some),
            None => Some(None),
        };
        let max_streams = match &self.max_streams {
            Some(text) => problems
                .parse(text, "EXTRACT_MAX_STREAMS (--max-streams)", positive_integer)
                .map(Some),
            None => Some(None),
        };
        let deadline = problems.parse(&self.deadline_secs, "EXTRACT_DEADLINE_SECS (--deadline-secs)", |text| {
            positive_integer(text)
                .ok()
                .filter(|n| *n <= 86_400)
                .ok_or_else(|| format!("`{text}` is not a number of seconds from 1 to 86400 (a day)"))
        });
        let max_age = problems.parse(
            &self.lookup_max_age_hours,
            "EXTRACT_LOOKUP_MAX_AGE_HOURS (--lookup-max-age-hours)",
            positive_integer,
        );
        problems.finish(|| ExtractSettings {
            twitch: twitch.expect("validated"),
            lake: lake.expect("validated"),
            slot: slot.expect("validated"),
            max_streams: max_streams.expect("validated"),
            deadline: Duration::from_secs(deadline.expect("validated")),
            lookup_max_age: chrono::Duration::hours(max_age.expect("validated") as i64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::LakeArgs;
    use crate::twitch::TwitchArgs;

    fn args() -> ExtractArgs {
        ExtractArgs {
            twitch: TwitchArgs {
                client_id: Some("id".into()),
                client_secret: Some("hunter2-secret".into()),
                api_url: "https://api.twitch.tv/helix".into(),
                auth_url: "https://id.twitch.tv/oauth2".into(),
            },
            lake: LakeArgs {
                lake: "./data/lake".into(),
            },
            slot: None,
            max_streams: None,
            deadline_secs: "600".into(),
            lookup_max_age_hours: "24".into(),
        }
    }

    #[test]
    fn every_problem_is_listed_together() {
        let mut bad = args();
        bad.twitch.client_id = None;
        bad.twitch.client_secret = Some("  ".into());
        bad.twitch.api_url = "ftp://x".into();
        bad.lake.lake = "s3://bucket".into();
        bad.slot = Some("noon".into());
        bad.max_streams = Some("0".into());
        bad.deadline_secs = "ten".into();
        bad.lookup_max_age_hours = "-1".into();
        let err = bad.validate().unwrap_err();
        assert_eq!(err.problems.len(), 8, "{err}");
        let text = err.to_string();
        for needle in [
            "TWITCH_CLIENT_ID",
            "TWITCH_CLIENT_SECRET",
            "TWITCH_API_URL",
            "LAKE_URL",
            "EXTRACT_SLOT",
            "EXTRACT_MAX_STREAMS",
            "EXTRACT_DEADLINE_SECS",
            "EXTRACT_LOOKUP_MAX_AGE_HOURS",
        ] {
            assert!(text.contains(needle), "{needle} missing from: {text}");
        }
    }

    #[test]
    fn valid_settings_parse() {
        let mut good = args();
        good.slot = Some("2026-11-23T22:20:00Z".into());
        good.max_streams = Some("500".into());
        let settings = good.validate().unwrap();
        assert_eq!(settings.slot.unwrap().rfc3339(), "2026-11-23T22:15:00Z");
        assert_eq!(settings.max_streams, Some(500));
        assert_eq!(settings.deadline, Duration::from_secs(600));
    }

    #[test]
    fn an_unresolved_key_vault_reference_is_named_not_used_as_the_secret() {
        let mut args = args();
        args.twitch.client_secret =
            Some("@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/twitch-client-secret/)".into());
        let error = args.validate().unwrap_err().to_string();
        assert!(
            error.contains("TWITCH_CLIENT_SECRET is a Key Vault reference the platform has not resolved"),
            "{error}"
        );
    }

    #[test]
    fn debug_output_hides_the_client_secret() {
        let raw = args();
        assert!(!format!("{raw:?}").contains("hunter2"));
        let settings = raw.validate().unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
        assert!(format!("{settings:?}").contains("REDACTED"));
    }
}
