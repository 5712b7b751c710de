//! The warehouse: where lake files become tables and the models are built.
//!
//! Locally an embedded DuckDB file (cargo feature `duckdb`, on by default); in Azure,
//! Snowflake. [`AnyWarehouse`] is either, for the stages that run on both. The raw layer follows the warehouse contract of shared/DESIGN.md:
//! `RAW_STREAMS`, `RAW_USERS`, `RAW_GAMES` with `RAW_JSON`, `FILE_NAME`,
//! `FILE_ROW_NUMBER` and `LOADED_AT`.

mod settings;
pub use settings::{
    DEFAULT_MEMORY_LIMIT, DuckDbTarget, SnowflakeArgs, SnowflakeSettings, WarehouseArgs, WarehouseTarget,
};

#[cfg(feature = "duckdb")]
mod duckdb;
mod snowflake;
mod table;

use std::fmt;
use std::path::PathBuf;

#[cfg(feature = "duckdb")]
pub use self::duckdb::{Doing, DuckDbError, DuckDbWarehouse};

pub use self::snowflake::{SnowflakeConnectError, SnowflakeWarehouse};
pub use self::table::{Cell, Table};
use crate::lake::Entity;

/// The SQL dialects the transform renders for; dbt names each by its adapter
/// (`target.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    DuckDb,
    Snowflake,
}

impl Dialect {
    /// dbt's `target.type` and the artifacts' `adapter_type`.
    pub fn adapter(self) -> &'static str {
        match self {
            Dialect::DuckDb => "duckdb",
            Dialect::Snowflake => "snowflake",
        }
    }
}

/// A SQL warehouse the transform runs on: DuckDB locally, Snowflake in Azure.
///
/// Statements go one per call (Snowflake runs one statement per request). The
/// transform's bookkeeping (does a relation exist, which columns) is plain SQL over
/// `information_schema`, which both warehouses have, so this stays small.
pub trait Warehouse: Send {
    /// Which SQL dialect the warehouse speaks, and so the models render for.
    fn dialect(&self) -> Dialect;
    /// dbt's `target.schema`: where models without a custom schema go.
    fn default_schema(&self) -> &str;
    /// Runs one statement, discarding any result.
    fn execute(&mut self, sql: &str) -> impl Future<Output = Result<(), WarehouseError>> + Send;
    /// Runs one query and returns its rows as text.
    fn query(&mut self, sql: &str) -> impl Future<Output = Result<Table, WarehouseError>> + Send;
    /// `count` more sessions on the same warehouse, for a transform that builds several
    /// nodes at once (dbt's `threads`).
    fn more_sessions(&mut self, count: usize) -> impl Future<Output = Result<Vec<Self>, WarehouseError>> + Send
    where
        Self: Sized;
}

/// A statement the warehouse refused, with the statement itself to look at.
#[derive(Debug, thiserror::Error)]
#[error("{warehouse} rejected the statement: {message}\n--- statement ---\n{sql}")]
pub struct WarehouseError {
    pub warehouse: &'static str,
    pub message: String,
    pub sql: String,
}

/// Schema of the raw tables and the load bookkeeping.
pub const RAW_SCHEMA: &str = "raw";

/// The raw table of an entity: `RAW_STREAMS`, `RAW_USERS`, `RAW_GAMES`.
pub fn raw_table(entity: Entity) -> &'static str {
    match entity {
        Entity::Streams => "raw_streams",
        Entity::Users => "raw_users",
        Entity::Games => "raw_games",
    }
}

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
