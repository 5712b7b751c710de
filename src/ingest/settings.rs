//! `ingest`'s settings: the lake, Snowflake, and what to submit.

use crate::config::{ConfigError, Problems};
use crate::lake::{LakeArgs, LakeUrl};
use crate::warehouse::{SnowflakeArgs, SnowflakeSettings};

/// Options of `ingest`, as given.
#[derive(clap::Args, Clone, Debug)]
pub struct IngestArgs {
    /// A lake path (relative to the lake root) to ingest: a manifest's files go to their pipes.
    pub path: Option<String>,
    /// Submit every committed slot instead (Snowpipe skips files it already loaded).
    #[arg(long, conflicts_with_all = ["path", "status"])]
    pub backfill: bool,
    /// With --backfill: only slots from this UTC date (YYYY-MM-DD) on.
    #[arg(long, requires = "backfill")]
    pub since: Option<String>,
    /// Report what the pipes did: insertReport and the last 24 hours of loadHistoryScan.
    #[arg(long, conflicts_with = "path")]
    pub status: bool,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub snowflake: SnowflakeArgs,
}

/// What `ingest` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IngestMode {
    Path(String),
    Backfill { since: Option<chrono::NaiveDate> },
    Status,
}

/// A validated `ingest`.
#[derive(Clone, Debug)]
pub struct IngestSettings {
    pub lake: LakeUrl,
    pub snowflake: SnowflakeSettings,
    pub mode: IngestMode,
}

impl IngestArgs {
    /// Validates the lake, Snowflake and the mode, reporting all problems at once.
    pub fn validate(&self) -> Result<IngestSettings, ConfigError> {
        let mut problems = Problems::default();
        let lake = self.lake.check(&mut problems);
        let snowflake = self.snowflake.check(&mut problems);
        let since = match &self.since {
            Some(date) => problems.parse(date, "--since", |d| {
                chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                    .map_err(|e| format!("`{d}` is not YYYY-MM-DD ({e})"))
            }),
            None => None,
        };
        let mode = match (&self.path, self.backfill, self.status) {
            (Some(path), false, false) => Some(IngestMode::Path(path.clone())),
            (None, true, false) => Some(IngestMode::Backfill { since }),
            (None, false, true) => Some(IngestMode::Status),
            _ => {
                problems.push("ingest needs one of: a lake PATH, --backfill, or --status".into());
                None
            }
        };
        problems.finish(|| IngestSettings {
            lake: lake.expect("validated"),
            snowflake: snowflake.expect("validated"),
            mode: mode.expect("validated"),
        })
    }
}
