//! `report`'s settings.

use std::path::PathBuf;

use crate::config::{ConfigError, Problems};
use crate::lake::{LakeArgs, LakeUrl};
use crate::transform::{ProjectArgs, ProjectSettings};
use crate::warehouse::{WarehouseArgs, WarehouseTarget};

/// Options of a report, as given.
#[derive(clap::Args, Clone, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// The lake whose slots the pipeline-health section checks (LAKE_URL); a lake
    /// with no committed slot leaves the section out.
    #[command(flatten)]
    pub lake: LakeArgs,
    /// The project and target whose marts to read.
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Rows per table.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Also write the report as a self-contained HTML page with charts here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Also write the report as a static site into this folder: the overview, the
    /// rankings, the platform, the pipeline's health and runs, the model lineage, and
    /// a page per channel and game in its tables (open index.html; no network needed).
    #[arg(long, value_name = "DIR")]
    pub site: Option<PathBuf>,
}

impl ReportArgs {
    /// The validated warehouse, lake and project.
    pub fn validate(&self) -> Result<(WarehouseTarget, LakeUrl, ProjectSettings), ConfigError> {
        let mut problems = Problems::default();
        let warehouse = self.warehouse.check(&mut problems);
        let lake = self.lake.check(&mut problems);
        let project = self.project.check(&mut problems);
        problems.finish(|| {
            (
                warehouse.expect("validated"),
                lake.expect("validated"),
                project.expect("validated"),
            )
        })
    }
}
