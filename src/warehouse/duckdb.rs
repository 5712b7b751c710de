//! The embedded DuckDB warehouse.

use std::path::Path;

use chrono::DateTime;
use duckdb::Connection;
use duckdb::types::{TimeUnit, Value};

use super::{Cell, RAW_SCHEMA, Table, Warehouse, WarehouseError, raw_table};
use crate::lake::Entity;

/// An open DuckDB database file with the raw layer in place.
pub struct DuckDbWarehouse {
    connection: Connection,
}

impl std::fmt::Debug for DuckDbWarehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuckDbWarehouse").finish_non_exhaustive()
    }
}

/// A DuckDB failure with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("DuckDB failed to {doing}: {source}")]
pub struct DuckDbError {
    pub doing: String,
    #[source]
    pub source: duckdb::Error,
}

/// Adds what was being done to a DuckDB error.
pub trait Doing<T> {
    fn doing(self, what: impl Into<String>) -> Result<T, DuckDbError>;
}

impl<T> Doing<T> for Result<T, duckdb::Error> {
    fn doing(self, what: impl Into<String>) -> Result<T, DuckDbError> {
        self.map_err(|source| DuckDbError {
            doing: what.into(),
            source,
        })
    }
}

impl DuckDbWarehouse {
    /// Opens (creating if needed) the database at `path`, with the default limits.
    pub fn open(path: &Path) -> Result<DuckDbWarehouse, DuckDbError> {
        Self::open_target(&super::DuckDbTarget::at(path))
    }

    /// Opens (creating if needed) the database `target` names, with its limits, and
    /// its raw layer.
    pub fn open_target(target: &super::DuckDbTarget) -> Result<DuckDbWarehouse, DuckDbError> {
        let path = target.path.as_path();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| DuckDbError {
                doing: format!("create the folder {}", parent.display()),
                source: duckdb::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        }
        let connection = Connection::open(path).doing(format!("open {}", path.display()))?;
        let limits = format!(
            "SET memory_limit = '{}'; SET temp_directory = '{}';",
            target.memory_limit.replace('\'', "''"),
            target.spill_directory().display().to_string().replace('\'', "''")
        );
        connection
            .execute_batch(&limits)
            .doing(format!("set DuckDB's limits ({limits})"))?;
        let warehouse = DuckDbWarehouse { connection };
        warehouse.create_raw_layer()?;
        Ok(warehouse)
    }

    /// An in-memory database (tests, scratch work).
    pub fn in_memory() -> Result<DuckDbWarehouse, DuckDbError> {
        let warehouse = DuckDbWarehouse {
            connection: Connection::open_in_memory().doing("open an in-memory database")?,
        };
        warehouse.create_raw_layer()?;
        Ok(warehouse)
    }

    /// The connection, for stages that run SQL.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.connection
    }

    /// Raw tables as the contract names them, plus the load bookkeeping: a history
    /// with one row per loaded file (as Snowpipe keeps), and rejected lines.
    ///
    /// The JSON is stored with zstd, which DuckDB picks by itself only for strings of
    /// 4 KiB and more on average (`zstd_min_string_length`; DuckDB v2.0.0,
    /// `src/storage/compression/zstd.cpp`): a day of the full catalog's streams took
    /// 2.00 GiB with its own choice (dictionary + FSST) and 0.64 GiB with zstd, and
    /// was written in 10.7 s instead of 18.6 s; staging it read 3.1 s instead of 2.8 s.
    fn create_raw_layer(&self) -> Result<(), DuckDbError> {
        let mut sql = format!("CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA};\n");
        for entity in Entity::ALL {
            sql.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{} (
                    raw_json JSON NOT NULL USING COMPRESSION zstd,
                    file_name VARCHAR NOT NULL,
                    file_row_number BIGINT NOT NULL,
                    loaded_at TIMESTAMP NOT NULL
                );\n",
                raw_table(entity)
            ));
        }
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.load_history (
                file_name VARCHAR PRIMARY KEY,
                entity VARCHAR NOT NULL,
                slot TIMESTAMP NOT NULL,
                rows_loaded BIGINT NOT NULL,
                rows_rejected BIGINT NOT NULL,
                loaded_at TIMESTAMP NOT NULL
            );
            CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.load_rejects (
                file_name VARCHAR NOT NULL,
                line_number BIGINT NOT NULL,
                reason VARCHAR NOT NULL,
                line VARCHAR NOT NULL,
                loaded_at TIMESTAMP NOT NULL
            );"
        ));
        self.connection.execute_batch(&sql).doing("create the raw layer")
    }
}

impl Warehouse for DuckDbWarehouse {
    fn target_type(&self) -> &'static str {
        "duckdb"
    }

    fn default_schema(&self) -> &str {
        "main"
    }

    async fn execute(&mut self, sql: &str) -> Result<(), WarehouseError> {
        let started = std::time::Instant::now();
        let result = self.connection.execute_batch(sql).map_err(|e| refused(sql, e));
        statement_ran(sql, started);
        result
    }

    async fn query(&mut self, sql: &str) -> Result<Table, WarehouseError> {
        let started = std::time::Instant::now();
        let result = self.query_rows(sql);
        statement_ran(sql, started);
        result
    }

    /// Connections to the same open database. DuckDB runs their writes at once: appends
    /// never conflict, separate tables may be changed together, and only the second of
    /// two edits of the same row fails ("Concurrency", duckdb.org/docs/2.0/connect/concurrency).
    /// `SET memory_limit` is global to the instance, so they share the limit ("SET and
    /// RESET Statements", duckdb.org/docs/2.0/sql/statements/set). Temporary tables stay
    /// with the connection that made them, as do a node's batch tables with its unit.
    async fn more_sessions(&mut self, count: usize) -> Result<Vec<Self>, WarehouseError> {
        (0..count)
            .map(|_| {
                self.connection
                    .try_clone()
                    .map(|connection| DuckDbWarehouse { connection })
                    .map_err(|e| WarehouseError {
                        warehouse: "DuckDB",
                        message: format!("cannot open another connection to the database: {e}"),
                        sql: String::new(),
                    })
            })
            .collect()
    }

    fn runs_in_process(&self) -> bool {
        true
    }
}

/// At debug level, each statement with its time: where a slow run spends it.
fn statement_ran(sql: &str, started: std::time::Instant) {
    tracing::debug!(
        ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1e3),
        sql,
        "DuckDB statement"
    );
}

impl DuckDbWarehouse {
    fn query_rows(&mut self, sql: &str) -> Result<Table, WarehouseError> {
        let mut statement = self.connection.prepare(sql).map_err(|e| refused(sql, e))?;
        let mut rows = statement.query([]).map_err(|e| refused(sql, e))?;
        let mut table = Table::default();
        while let Some(row) = rows.next().map_err(|e| refused(sql, e))? {
            let width = row.as_ref().column_count();
            let cells = (0..width)
                .map(|i| row.get::<_, Value>(i).map(cell))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| refused(sql, e))?;
            table.rows.push(cells);
        }
        drop(rows);
        table.columns = statement.column_names();
        Ok(table)
    }
}

fn refused(sql: &str, error: duckdb::Error) -> WarehouseError {
    WarehouseError {
        warehouse: "DuckDB",
        message: error.to_string(),
        sql: sql.to_string(),
    }
}

/// A DuckDB value as text, formatted as DuckDB's own CLI would show it.
fn cell(value: Value) -> Cell {
    let text = match value {
        Value::Null => return None,
        Value::Boolean(b) => b.to_string(),
        Value::TinyInt(n) => n.to_string(),
        Value::SmallInt(n) => n.to_string(),
        Value::Int(n) => n.to_string(),
        Value::BigInt(n) => n.to_string(),
        Value::HugeInt(n) => n.to_string(),
        Value::UHugeInt(n) => n.to_string(),
        Value::UTinyInt(n) => n.to_string(),
        Value::USmallInt(n) => n.to_string(),
        Value::UInt(n) => n.to_string(),
        Value::UBigInt(n) => n.to_string(),
        Value::Float(n) => n.to_string(),
        Value::Double(n) => n.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Text(s) | Value::Enum(s) => s,
        Value::Timestamp(unit, n) => {
            let micros = match unit {
                TimeUnit::Second => n * 1_000_000,
                TimeUnit::Millisecond => n * 1_000,
                TimeUnit::Microsecond => n,
                TimeUnit::Nanosecond => n / 1_000,
            };
            match DateTime::from_timestamp_micros(micros) {
                Some(t) if t.timestamp_subsec_micros() == 0 => t.format("%Y-%m-%d %H:%M:%S").to_string(),
                Some(t) => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
                None => format!("{micros} µs since 1970"),
            }
        }
        Value::Date32(days) => match DateTime::from_timestamp(i64::from(days) * 86_400, 0) {
            Some(t) => t.format("%Y-%m-%d").to_string(),
            None => format!("{days} days since 1970"),
        },
        other => format!("{other:?}"),
    };
    Some(text)
}
