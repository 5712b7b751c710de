//! `load`'s settings.

use crate::config::{ConfigError, Problems};
use crate::lake::{LakeArgs, LakeUrl};
use crate::warehouse::{DuckDbTarget, WarehouseArgs, WarehouseTarget};

/// Options of a local load, as given.
#[derive(clap::Args, Clone, Debug)]
pub struct LoadArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
}

/// A validated local load.
#[derive(Clone, Debug)]
pub struct LoadSettings {
    pub lake: LakeUrl,
    /// The embedded DuckDB file (Snowflake loads through Snowpipe instead).
    pub warehouse: DuckDbTarget,
}

impl LoadArgs {
    /// Validates both locations, reporting all problems at once.
    pub fn validate(&self) -> Result<LoadSettings, ConfigError> {
        let mut problems = Problems::default();
        let lake = self.lake.check(&mut problems);
        let warehouse = match self.warehouse.check(&mut problems) {
            Some(WarehouseTarget::DuckDb(target)) => Some(target),
            Some(WarehouseTarget::Snowflake(_)) => {
                problems.push(
                    "WAREHOUSE_URL (--warehouse) is snowflake: `load` fills the embedded DuckDB; Snowflake loads through Snowpipe (`ingest`)"
                        .into(),
                );
                None
            }
            None => None,
        };
        problems.finish(|| LoadSettings {
            lake: lake.expect("validated"),
            warehouse: warehouse.expect("validated"),
        })
    }
}
