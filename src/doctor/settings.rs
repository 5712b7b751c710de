//! `doctor`'s settings: the same as the app's, each hop checked when it is configured.

use super::Check;
use crate::config::Problems;
use crate::lake::{LakeArgs, LakeUrl};
use crate::twitch::{TwitchArgs, TwitchSettings};
use crate::warehouse::{SnowflakeArgs, SnowflakeSettings};

/// Options of `doctor`, as given: the app's own settings.
#[derive(clap::Args, Clone)]
pub struct DoctorArgs {
    /// Print the checks as JSON, one object per check, for machines.
    #[arg(long)]
    pub json: bool,
    /// The Function App's URL (https://APP.azurewebsites.net), to check it answers
    /// from outside.
    #[arg(long = "app-url", env = "FUNCTION_APP_URL")]
    pub app_url: Option<String>,
    /// A function key of the app's `run` function (never printed).
    #[arg(long = "app-key", env = "FUNCTION_APP_KEY", hide_env_values = true)]
    pub app_key: Option<String>,
    #[command(flatten)]
    pub twitch: TwitchArgs,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub snowflake: SnowflakeArgs,
    /// The project and target the app builds (TRANSFORM_TARGET_NAME=prod in Azure):
    /// where the transform makes its tables is where its temporary tables go.
    #[command(flatten)]
    pub project: crate::transform::ProjectArgs,
}

// The raw arguments hold the app's key as a plain string: keep it out of Debug.
impl std::fmt::Debug for DoctorArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoctorArgs")
            .field("json", &self.json)
            .field("app_url", &self.app_url)
            .field("app_key", &self.app_key.as_ref().map(|_| "[REDACTED]"))
            .field("twitch", &self.twitch)
            .field("lake", &self.lake)
            .field("snowflake", &self.snowflake)
            .field("project", &self.project)
            .finish()
    }
}

/// The Function App, called from outside: its URL and a function key.
#[derive(Clone, Debug)]
pub struct AppEndpoint {
    pub url: url::Url,
    /// Redacted in Debug by `secrecy`.
    pub key: secrecy::SecretString,
}

/// What `doctor` checks: each hop whose settings are given, and a failed check for
/// each hop whose settings are given but wrong.
#[derive(Clone, Debug)]
pub struct DoctorSettings {
    /// The app from outside, when its URL is given.
    pub app: Option<AppEndpoint>,
    /// The transform's project and target, to find the schemas it builds in.
    pub project: Option<crate::transform::ProjectSettings>,
    pub twitch: Option<TwitchSettings>,
    pub lake: Option<LakeUrl>,
    pub snowflake: Option<SnowflakeSettings>,
    /// The storage account the lake is in (AZURE_STORAGE_ACCOUNT_NAME), to compare
    /// with the stage's; none for Azurite.
    pub storage_account: Option<String>,
    /// Settings that are given but wrong, as failed checks.
    pub problems: Vec<Check>,
    pub json: bool,
}

impl DoctorArgs {
    /// Never fails: a hop with bad settings becomes a failed check that lists them.
    pub fn validate(&self) -> DoctorSettings {
        const FIX: &str = "set them as the Function App's settings are set (infra/README.md)";
        let mut problems = Vec::new();
        // Twitch and Snowflake are checked when their first setting is given; the lake
        // always (its default is the local folder).
        let twitch = self
            .twitch
            .client_id
            .as_ref()
            .and_then(|_| checked(&mut problems, "twitch", FIX, |p| self.twitch.check(p)));
        let lake = checked(&mut problems, "lake", FIX, |p| self.lake.check(p));
        let snowflake = self
            .snowflake
            .account
            .as_ref()
            .and_then(|_| checked(&mut problems, "snowflake", FIX, |p| self.snowflake.check(p)));
        let storage_account = storage_account_from_env();
        let app = self.app_url.as_ref().and_then(|url| {
            let fix = "give the app's URL and a function key of `run` (az functionapp function keys list --function-name run)";
            checked(&mut problems, "functions", fix, |found| {
                let url = found.parse(url, "FUNCTION_APP_URL (--app-url)", crate::config::parse_http_url);
                let key = found.required(&self.app_key, "FUNCTION_APP_KEY", "--app-key");
                Some(AppEndpoint {
                    url: url?,
                    key: key?.into(),
                })
            })
        });
        // The project only matters to Snowflake's checks; a wrong one is named there.
        let project = snowflake
            .as_ref()
            .and_then(|_| self.project.check(&mut Problems::default()));
        DoctorSettings {
            app,
            project,
            twitch,
            lake,
            snowflake,
            storage_account,
            problems,
            json: self.json,
        }
    }
}

/// A hop's settings, checked once: `None`, and a failed check listing every problem
/// with `fix`, when any is wrong.
fn checked<T>(
    problems: &mut Vec<Check>,
    hop: &'static str,
    fix: &str,
    check: impl FnOnce(&mut Problems) -> Option<T>,
) -> Option<T> {
    let mut found = Problems::default();
    let value = check(&mut found);
    match found.finish(|| ()) {
        Ok(()) => value,
        Err(error) => {
            problems.push(Check::fail(hop, "settings", error.problems.join("; "), fix));
            None
        }
    }
}

/// The storage account the lake is in (AZURE_STORAGE_ACCOUNT_NAME), unless Azurite
/// stands in (AZURE_STORAGE_USE_EMULATOR), whose account no stage names.
pub fn storage_account_from_env() -> Option<String> {
    let emulated = std::env::var("AZURE_STORAGE_USE_EMULATOR").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    std::env::var("AZURE_STORAGE_ACCOUNT_NAME")
        .ok()
        .filter(|a| !a.is_empty() && !emulated)
}
