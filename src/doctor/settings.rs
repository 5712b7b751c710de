//! `doctor`'s settings: the same as the app's, each hop checked when it is configured.

use super::Check;
use crate::config::Problems;
use crate::lake::{LakeArgs, LakeUrl};
use crate::twitch::{TwitchArgs, TwitchSettings};
use crate::warehouse::{SnowflakeArgs, SnowflakeSettings};

/// Options of `doctor`, as given: the app's own settings.
#[derive(clap::Args, Clone, Debug)]
pub struct DoctorArgs {
    /// Print the checks as JSON, one object per check, for machines.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub twitch: TwitchArgs,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub snowflake: SnowflakeArgs,
}

/// What `doctor` checks: each hop whose settings are given, and a failed check for
/// each hop whose settings are given but wrong.
#[derive(Clone, Debug)]
pub struct DoctorSettings {
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
        let mut problems = Vec::new();
        let mut settings_of = |hop: &'static str, check: &dyn Fn(&mut Problems) -> bool| {
            let mut found = Problems::default();
            let given = check(&mut found);
            match found.finish(|| ()) {
                Ok(()) => given,
                Err(error) => {
                    problems.push(Check::fail(
                        hop,
                        "settings",
                        error.problems.join("; "),
                        "set them as the Function App's settings are set (infra/README.md)",
                    ));
                    false
                }
            }
        };
        // Twitch and Snowflake are checked when their first setting is given; the lake
        // always (its default is the local folder).
        let twitch = (self.twitch.client_id.is_some()
            && settings_of("twitch", &|p: &mut Problems| self.twitch.check(p).is_some()))
        .then(|| self.twitch.check(&mut Problems::default()))
        .flatten();
        let lake = settings_of("lake", &|p: &mut Problems| self.lake.check(p).is_some())
            .then(|| self.lake.check(&mut Problems::default()))
            .flatten();
        let snowflake = (self.snowflake.account.is_some()
            && settings_of("snowflake", &|p: &mut Problems| self.snowflake.check(p).is_some()))
        .then(|| self.snowflake.check(&mut Problems::default()))
        .flatten();
        let storage_account = storage_account_from_env();
        DoctorSettings {
            twitch,
            lake,
            snowflake,
            storage_account,
            problems,
            json: self.json,
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
