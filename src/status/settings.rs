//! `status`'s settings: the locations and the window to reconcile.

use crate::config::{ConfigError, Problems};
use crate::lake::{LakeArgs, LakeUrl};
use crate::transform::{ProjectArgs, ProjectSettings};
use crate::warehouse::{WarehouseArgs, WarehouseTarget};

/// Options of `status`, as given.
#[derive(clap::Args, Clone, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// The project and target whose fact to reconcile with.
    #[command(flatten)]
    pub project: ProjectArgs,
    /// First slot to check: a UTC date (2026-11-23) or an RFC 3339 time. Default: 24
    /// hours ago.
    #[arg(long)]
    pub since: Option<String>,
    /// Leave out the slots from this date or time on. Default: now.
    #[arg(long)]
    pub until: Option<String>,
    /// Minutes after its commit a slot may still be on its way (Snowpipe's queue, the
    /// next hourly transform) before it counts as incomplete.
    #[arg(long, default_value_t = 120)]
    pub grace_minutes: u32,
}

/// A validated `status`.
#[derive(Clone, Debug)]
pub struct StatusSettings {
    pub lake: LakeUrl,
    pub warehouse: WarehouseTarget,
    pub project: ProjectSettings,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub grace: chrono::Duration,
}

impl StatusArgs {
    /// Validates the locations and the window, reporting all problems at once.
    pub fn validate(&self) -> Result<StatusSettings, ConfigError> {
        let mut problems = Problems::default();
        let lake = self.lake.check(&mut problems);
        let warehouse = self.warehouse.check(&mut problems);
        let project = self.project.check(&mut problems);
        let since = self
            .since
            .as_deref()
            .and_then(|text| problems.parse(text, "--since", parse_time));
        let until = self
            .until
            .as_deref()
            .and_then(|text| problems.parse(text, "--until", parse_time));
        problems.finish(|| StatusSettings {
            lake: lake.expect("validated"),
            warehouse: warehouse.expect("validated"),
            project: project.expect("validated"),
            since,
            until,
            grace: chrono::Duration::minutes(self.grace_minutes.into()),
        })
    }
}

/// A UTC date (its midnight) or an RFC 3339 time.
fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(date) = text.parse::<chrono::NaiveDate>() {
        return Ok(date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .map_err(|e| format!("`{text}` is neither a date (2026-11-23) nor an RFC 3339 time ({e})"))
}
