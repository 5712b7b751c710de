//! What the runner needs of a warehouse: one SQL statement at a time, its dialect and
//! its default schema ([`Warehouse`]). The embedded DuckDB ([`DuckDbWarehouse`],
//! cargo feature `duckdb`) is one; a caller brings others (Snowflake, say).

#[cfg(feature = "duckdb")]
mod duckdb;
mod duckdb_target;
mod table;

#[cfg(feature = "duckdb")]
pub use self::duckdb::{Doing, DuckDbError, DuckDbWarehouse};
pub use self::duckdb_target::{DEFAULT_MEMORY_LIMIT, DuckDbTarget};
pub use self::table::{Cell, Table};

/// The SQL dialects the runner renders for; dbt names each by its adapter
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

/// A SQL warehouse the runner builds on: the embedded DuckDB, or one a caller brings.
///
/// Statements go one per call (Snowflake runs one statement per request). The
/// runner's bookkeeping (does a relation exist, which columns) is plain SQL over
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
    /// `count` more sessions on the same warehouse, for a run that builds several
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
