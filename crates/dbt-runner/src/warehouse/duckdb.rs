//! The embedded DuckDB warehouse.

use std::path::Path;

use chrono::DateTime;
use duckdb::Connection;
use duckdb::types::{TimeUnit, Value};

use super::{Cell, Table, Warehouse, WarehouseError};

/// An open DuckDB database: a connection on a session thread of its own.
pub struct DuckDbWarehouse {
    session: Session,
}

/// A DuckDB connection on a thread of its own, running what it is sent in order.
///
/// A DuckDB call holds its thread until its statement ends, which can take minutes.
/// On a worker of the async runtime it would hold every task queued there (a server
/// on the same runtime would stop answering while a run builds). So the connection
/// lives on its own thread, and a caller awaits its answer.
struct Session {
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    interrupt: std::sync::Arc<duckdb::InterruptHandle>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Work for a session's connection.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

impl Session {
    fn start(mut connection: Connection) -> Result<Session, DuckDbError> {
        let interrupt = connection.interrupt_handle();
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("duckdb-session".into())
            .spawn(move || {
                for job in queue {
                    // A panic is a bug: its caller hears that its answer never came,
                    // and the session serves on.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut connection)));
                }
            })
            .map_err(|e| DuckDbError {
                doing: "start a thread for a DuckDB session".into(),
                source: duckdb::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        Ok(Session {
            jobs: Some(jobs),
            interrupt,
            thread: Some(thread),
        })
    }

    /// Runs `work` on the session's connection and waits for it without holding the
    /// caller's thread; `None` if `work` panicked (the session serves on).
    async fn run<R: Send + 'static>(&self, work: impl FnOnce(&mut Connection) -> R + Send + 'static) -> Option<R> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |connection| {
            let _entered = span.enter();
            let _ = answer.send(work(connection));
        });
        self.jobs.as_ref()?.send(job).ok()?;
        answered.await.ok()
    }
}

impl Drop for Session {
    /// Interrupts a statement still running (its caller is gone, so is the one who
    /// would read its result; an open transaction rolls back), then waits for the
    /// thread to close the connection, so the file can be opened again at once.
    fn drop(&mut self) {
        self.interrupt.interrupt();
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Why a session gave no answer: the work sent to it panicked (see [`Session::run`]).
const NO_ANSWER: &str = "the work on its connection panicked (a bug: see the log)";

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

    /// Opens (creating if needed) the database `target` names, with its limits.
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
        Ok(DuckDbWarehouse {
            session: Session::start(connection)?,
        })
    }

    /// An in-memory database (tests, scratch work).
    pub fn in_memory() -> Result<DuckDbWarehouse, DuckDbError> {
        let connection = Connection::open_in_memory().doing("open an in-memory database")?;
        Ok(DuckDbWarehouse {
            session: Session::start(connection)?,
        })
    }

    /// Runs `work` on the connection, on the session's thread: for what a caller
    /// needs beyond SQL text (an appender, say).
    pub async fn on_connection<R: Send + 'static>(
        &mut self,
        work: impl FnOnce(&mut Connection) -> Result<R, DuckDbError> + Send + 'static,
    ) -> Result<R, DuckDbError> {
        self.session.run(work).await.unwrap_or_else(|| {
            Err(DuckDbError {
                doing: "reach the database".into(),
                source: duckdb::Error::ToSqlConversionFailure(NO_ANSWER.into()),
            })
        })
    }

    /// Runs `sql` with `run` on the session's thread, its time logged at debug level
    /// (where a slow run spends it).
    async fn statement<R: Send + 'static>(
        &mut self,
        sql: &str,
        run: fn(&mut Connection, &str) -> Result<R, WarehouseError>,
    ) -> Result<R, WarehouseError> {
        let statement = sql.to_string();
        self.session
            .run(move |connection| {
                let started = std::time::Instant::now();
                let result = run(connection, &statement);
                tracing::debug!(
                    ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1e3),
                    sql = statement,
                    "DuckDB statement"
                );
                result
            })
            .await
            .unwrap_or_else(|| {
                Err(WarehouseError {
                    warehouse: "DuckDB",
                    message: NO_ANSWER.into(),
                    sql: sql.to_string(),
                })
            })
    }
}

impl Warehouse for DuckDbWarehouse {
    fn dialect(&self) -> super::Dialect {
        super::Dialect::DuckDb
    }

    fn default_schema(&self) -> &str {
        "main"
    }

    async fn execute(&mut self, sql: &str) -> Result<(), WarehouseError> {
        self.statement(sql, |connection, sql| {
            connection.execute_batch(sql).map_err(|e| refused(sql, e))
        })
        .await
    }

    async fn query(&mut self, sql: &str) -> Result<Table, WarehouseError> {
        self.statement(sql, query_rows).await
    }

    /// Connections to the same open database. DuckDB runs their writes at once: appends
    /// never conflict, separate tables may be changed together, and only the second of
    /// two edits of the same row fails ("Concurrency", duckdb.org/docs/2.0/connect/concurrency).
    /// `SET memory_limit` is global to the instance, so they share the limit ("SET and
    /// RESET Statements", duckdb.org/docs/2.0/sql/statements/set). Temporary tables stay
    /// with the connection that made them, as do a node's batch tables with its unit.
    async fn more_sessions(&mut self, count: usize) -> Result<Vec<Self>, WarehouseError> {
        let cannot = |e: &dyn std::fmt::Display| WarehouseError {
            warehouse: "DuckDB",
            message: format!("cannot open another connection to the database: {e}"),
            sql: String::new(),
        };
        let connections = self
            .session
            .run(move |connection| {
                (0..count)
                    .map(|_| connection.try_clone())
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .ok_or_else(|| cannot(&NO_ANSWER))?
            .map_err(|e| cannot(&e))?;
        connections
            .into_iter()
            .map(|connection| {
                Ok(DuckDbWarehouse {
                    session: Session::start(connection).map_err(|e| cannot(&e))?,
                })
            })
            .collect()
    }
}

fn query_rows(connection: &mut Connection, sql: &str) -> Result<Table, WarehouseError> {
    let mut statement = connection.prepare(sql).map_err(|e| refused(sql, e))?;
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
