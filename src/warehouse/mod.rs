//! The warehouse: where lake files become tables and the models are built.
//!
//! Locally an embedded DuckDB file (cargo feature `duckdb`, on by default); in Azure,
//! Snowflake. [`AnyWarehouse`] is either, for the stages that run on both. The raw layer follows the warehouse contract of shared/DESIGN.md:
//! `RAW_STREAMS`, `RAW_USERS`, `RAW_GAMES` with `RAW_JSON`, `FILE_NAME`,
//! `FILE_ROW_NUMBER` and `LOADED_AT`.

mod settings;
pub use settings::{SnowflakeArgs, SnowflakeSettings, WarehouseArgs, WarehouseTarget};

mod raw;
mod snowflake;

use std::fmt;
use std::path::PathBuf;

// The runner's view of a warehouse, and its embedded DuckDB: the pipeline's stages
// use them through here.
pub use dbt_runner::warehouse::{Cell, DEFAULT_MEMORY_LIMIT, Dialect, DuckDbTarget, Table, Warehouse, WarehouseError};
#[cfg(feature = "duckdb")]
pub use dbt_runner::warehouse::{Doing, DuckDbError, DuckDbWarehouse};

pub use self::raw::{RAW_SCHEMA, key_counts, loaded_since, raw_rows_by_file, raw_table};
pub use self::snowflake::{SnowflakeConnectError, SnowflakeWarehouse};

/// Which warehouse, parsed from `--warehouse` / `WAREHOUSE_URL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WarehouseUrl {
    /// `duckdb:PATH`: an embedded DuckDB database file.
    DuckDb(PathBuf),
    /// `snowflake`: the account in the `SNOWFLAKE_*` settings.
    Snowflake,
}

impl std::str::FromStr for WarehouseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().split_once(':') {
            Some(("duckdb", path)) if !path.is_empty() => Ok(WarehouseUrl::DuckDb(PathBuf::from(path))),
            None if s.trim().eq_ignore_ascii_case("snowflake") => Ok(WarehouseUrl::Snowflake),
            _ => Err(format!(
                "`{s}` is not a warehouse: use duckdb:PATH (e.g. duckdb:./data/warehouse.duckdb) or snowflake"
            )),
        }
    }
}

impl fmt::Display for WarehouseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarehouseUrl::DuckDb(path) => write!(f, "duckdb:{}", path.display()),
            WarehouseUrl::Snowflake => f.write_str("snowflake"),
        }
    }
}

/// Either warehouse, behind one type: what the pipeline opens from the settings.
#[derive(Debug)]
pub enum AnyWarehouse {
    #[cfg(feature = "duckdb")]
    DuckDb(DuckDbWarehouse),
    Snowflake(SnowflakeWarehouse),
}

impl Warehouse for AnyWarehouse {
    fn dialect(&self) -> Dialect {
        match self {
            #[cfg(feature = "duckdb")]
            AnyWarehouse::DuckDb(w) => w.dialect(),
            AnyWarehouse::Snowflake(w) => w.dialect(),
        }
    }

    fn default_schema(&self) -> &str {
        match self {
            #[cfg(feature = "duckdb")]
            AnyWarehouse::DuckDb(w) => w.default_schema(),
            AnyWarehouse::Snowflake(w) => w.default_schema(),
        }
    }

    async fn execute(&mut self, sql: &str) -> Result<(), WarehouseError> {
        match self {
            #[cfg(feature = "duckdb")]
            AnyWarehouse::DuckDb(w) => w.execute(sql).await,
            AnyWarehouse::Snowflake(w) => w.execute(sql).await,
        }
    }

    async fn query(&mut self, sql: &str) -> Result<Table, WarehouseError> {
        match self {
            #[cfg(feature = "duckdb")]
            AnyWarehouse::DuckDb(w) => w.query(sql).await,
            AnyWarehouse::Snowflake(w) => w.query(sql).await,
        }
    }

    async fn more_sessions(&mut self, count: usize) -> Result<Vec<Self>, WarehouseError> {
        Ok(match self {
            #[cfg(feature = "duckdb")]
            AnyWarehouse::DuckDb(w) => w
                .more_sessions(count)
                .await?
                .into_iter()
                .map(AnyWarehouse::DuckDb)
                .collect(),
            AnyWarehouse::Snowflake(w) => w
                .more_sessions(count)
                .await?
                .into_iter()
                .map(AnyWarehouse::Snowflake)
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_duckdb_paths_and_explains_other_values() {
        assert_eq!(
            "duckdb:./data/w.duckdb".parse(),
            Ok(WarehouseUrl::DuckDb("./data/w.duckdb".into()))
        );
        assert!(
            "postgres://x"
                .parse::<WarehouseUrl>()
                .unwrap_err()
                .contains("duckdb:PATH")
        );
        assert!("duckdb:".parse::<WarehouseUrl>().is_err());
    }
}
