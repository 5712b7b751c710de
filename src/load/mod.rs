//! The local load: committed lake files into the raw tables of the embedded
//! warehouse, each file once — what Snowpipe does in Azure.
//!
//! Only files a manifest lists are read, so a slot whose extraction is incomplete is
//! never loaded. A file's rows, its rejected lines and its load-history row commit in
//! one transaction (with the files before it, in batches of about half a million
//! rows): a file is either loaded whole (less its rejects) or not at all, and a
//! second run skips it. A malformed line goes to `raw.load_rejects` with the
//! file, line number and reason; the rest of the file still loads.
//!
//! One bad slot never holds the others back: a slot whose manifest is malformed or
//! whose file is missing or unreadable is reported with its reason and skipped, the
//! later slots load, and the next load tries it again.

mod settings;
pub use settings::{LoadArgs, LoadSettings};

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use chrono::Utc;
use duckdb::params;
use tokio::sync::mpsc;
use tracing::{info, instrument, warn};

pub use crate::lake::{CheckedFile, Rejected, check_file};

use crate::lake::{Entity, Lake, LakeError, Slot};
use crate::warehouse::{Doing, DuckDbError, DuckDbWarehouse, RAW_SCHEMA, raw_table};

/// What a load did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadSummary {
    pub slots: u64,
    pub files_loaded: u64,
    pub files_already_loaded: u64,
    pub rows: BTreeMap<Entity, u64>,
    pub rejected: u64,
    /// Committed slots this load could not take (all or part), and why. The next load
    /// tries them again; the slots after them loaded all the same.
    pub skipped: Vec<SkippedSlot>,
}

/// A committed slot left (in part) unloaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedSlot {
    pub slot: Slot,
    pub reason: String,
}

impl LoadSummary {
    /// One line for the terminal.
    pub fn line(&self, seconds: f64) -> String {
        let rows = |e| self.rows.get(&e).copied().unwrap_or(0);
        let mut line = format!(
            "loaded {} file(s) of {} slot(s): {} stream, {} user, {} game rows; {} line(s) rejected; {} file(s) already loaded",
            self.files_loaded,
            self.slots,
            rows(Entity::Streams),
            rows(Entity::Users),
            rows(Entity::Games),
            self.rejected,
            self.files_already_loaded,
        );
        if !self.skipped.is_empty() {
            line.push_str(&format!(
                "; WARNING: {} committed slot(s) skipped, tried again next load",
                self.skipped.len()
            ));
        }
        line.push_str(&format!("; {seconds:.1} s"));
        line
    }

    /// One line per skipped slot: which, and why.
    pub fn skipped_lines(&self) -> Vec<String> {
        self.skipped
            .iter()
            .map(|s| format!("slot {} not loaded: {}", s.slot, s.reason))
            .collect()
    }
}

/// Why a load stopped: the warehouse failed, or the lake could not be listed. Files
/// committed before the failure stay loaded. A slot the lake cannot give whole is not
/// an error of the load: it is skipped and reported ([`LoadSummary::skipped`]).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Warehouse(#[from] DuckDbError),
}

/// Creates, where missing, the raw tables as the contract names them (what Snowpipe
/// loads into in Azure, `snowflake-setup` making them there), plus the load bookkeeping: a history
/// with one row per loaded file (as Snowpipe keeps), and rejected lines.
///
/// The JSON is stored with zstd, which DuckDB picks by itself only for strings of
/// 4 KiB and more on average (`zstd_min_string_length`; DuckDB v2.0.0,
/// `src/storage/compression/zstd.cpp`): a day of the full catalog's streams took
/// 2.00 GiB with its own choice (dictionary + FSST) and 0.64 GiB with zstd, and
/// was written in 10.7 s instead of 18.6 s; staging it read 3.1 s instead of 2.8 s.
pub async fn create_raw_layer(warehouse: &mut DuckDbWarehouse) -> Result<(), DuckDbError> {
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
    warehouse
        .on_connection(move |connection| connection.execute_batch(&sql).doing("create the raw layer"))
        .await
}

/// Loads every committed file not loaded yet, oldest slot first. A slot whose manifest
/// or files cannot be read is skipped (and reported) while the later slots load.
#[instrument(skip_all, fields(lake = lake.url()))]
pub async fn load_lake(lake: &Lake, warehouse: &mut DuckDbWarehouse) -> Result<LoadSummary, LoadError> {
    load_lake_with_progress(lake, warehouse, |_, _, _| {}).await
}

/// [`load_lake`], calling `on_slot(done, total, summary so far)` after each committed
/// slot, for a progress bar.
///
/// The next file is read and checked (decompressed, each line parsed) while this one
/// commits, on the other core: one file ahead, no more, to hold two files in memory.
/// On a day of the full catalog, checking took 12 s and appending 40 s, one after
/// the other before.
pub async fn load_lake_with_progress(
    lake: &Lake,
    warehouse: &mut DuckDbWarehouse,
    mut on_slot: impl FnMut(usize, usize, &LoadSummary),
) -> Result<LoadSummary, LoadError> {
    let started = Instant::now();
    create_raw_layer(warehouse).await?;
    let loaded = loaded_files(warehouse).await?;
    let mut summary = LoadSummary::default();
    let committed = lake.committed_slots().await?;
    let total = committed.len();
    let (ahead, mut reads) = mpsc::channel(1);
    // The reader is a task; its CPU work (decompressing, checking) runs on a blocking
    // thread, and the commits on the warehouse's session thread, so neither holds a
    // worker of the runtime.
    let reader = tokio::spawn(read_ahead(lake.clone(), committed, loaded, ahead));
    let committed = commit_reads(warehouse, &mut reads, &mut summary, |done, summary| {
        on_slot(done, total, summary)
    })
    .await;
    if committed.is_err() {
        // Nothing of the open batch stays: its files load again next time. (There may
        // be no transaction open; then there is nothing to undo.)
        let _ = warehouse
            .on_connection(|connection| connection.execute_batch("ROLLBACK").doing("roll back"))
            .await;
    }
    committed?;
    // The reader ends by closing the channel; a panic there must not pass for the end.
    if let Err(error) = reader.await {
        std::panic::resume_unwind(error.into_panic());
    }
    info!(
        seconds = started.elapsed().as_secs_f64(),
        files = summary.files_loaded,
        skipped = summary.skipped.len(),
        "load finished"
    );
    Ok(summary)
}

/// Files commit together, in one transaction, until they hold this many rows. DuckDB
/// writes a transaction's append of at least a row group (122,880 rows) to a table
/// straight into the database file, compressed, and logs only where it is; a smaller
/// append goes whole into the write-ahead log and is written again at the next
/// checkpoint (DuckDB v2.0.0, `src/storage/local_storage.cpp`: `LocalStorage::Flush`,
/// `LocalTableStorage::IsBulkAppend`). A file of 100,000 streams is the second kind:
/// committed one by one, commits took 45 s of a day's 78 s load. Four row groups
/// also let the copy at the commit ([`begin_batch`]) run on two threads: DuckDB
/// parallelises by row group, "for a query to run on k threads, it needs to scan at
/// least k * 122,880 rows" (duckdb.org/docs/2.0/guides/performance/how_to_tune_workloads).
const BATCH_ROWS: u64 = 4 * 122_880;

/// Commits what the reader hands over, in batches of files ([`BATCH_ROWS`]), calling
/// `on_slot(slots done, summary so far)` as each slot ends.
async fn commit_reads(
    warehouse: &mut DuckDbWarehouse,
    reads: &mut mpsc::Receiver<(Slot, FromReader)>,
    summary: &mut LoadSummary,
    mut on_slot: impl FnMut(usize, &LoadSummary),
) -> Result<(), DuckDbError> {
    let (mut done, mut new_files) = (0, 0);
    // The files appended in the open transaction, if one is open.
    let mut batch: Option<OpenBatch> = None;
    while let Some((slot, read)) = reads.recv().await {
        match read {
            FromReader::File { entity, path, checked } => {
                if batch.is_none() {
                    begin_batch(warehouse).await?;
                }
                let rejected = checked.rejected.len() as u64;
                let appended = path.clone();
                let rows = warehouse
                    .on_connection(move |connection| append_file(connection, entity, slot, &appended, &checked))
                    .await?;
                let open = batch.get_or_insert_with(|| OpenBatch::starting_with(&path));
                open.add(&path, rows);
                if open.rows >= BATCH_ROWS {
                    commit(warehouse, open).await?;
                    batch = None;
                }
                *summary.rows.entry(entity).or_default() += rows;
                summary.rejected += rejected;
                summary.files_loaded += 1;
                new_files += 1;
                continue;
            }
            FromReader::AlreadyLoaded => {
                summary.files_already_loaded += 1;
                continue;
            }
            FromReader::SlotComplete => summary.slots += u64::from(new_files > 0),
            FromReader::SlotSkipped(reason) => {
                warn!(slot = %slot, reason, "committed slot not loaded; the next load tries again");
                summary.skipped.push(SkippedSlot { slot, reason });
            }
        }
        done += 1;
        new_files = 0;
        on_slot(done, summary);
    }
    if let Some(open) = &batch {
        commit(warehouse, open).await?;
    }
    Ok(())
}

/// The files appended in the open transaction, for the commit and its error.
struct OpenBatch {
    first: String,
    last: String,
    files: usize,
    rows: u64,
}

impl OpenBatch {
    fn starting_with(path: &str) -> OpenBatch {
        OpenBatch {
            first: path.to_string(),
            last: path.to_string(),
            files: 0,
            rows: 0,
        }
    }

    fn add(&mut self, path: &str, rows: u64) {
        self.last = path.to_string();
        self.files += 1;
        self.rows += rows;
    }

    /// The files, for an error.
    fn describe(&self) -> String {
        match self.files {
            1 => format!("the file `{}`", self.first),
            n => format!("{n} files, `{}` to `{}`", self.first, self.last),
        }
    }
}

/// Opens a batch's transaction, with a temporary table per entity where its files'
/// rows wait for the commit.
///
/// Appending runs on one thread, and so did the compression of what it appended into
/// a raw table: that thread was busy 65% of a day's load against the reader's 24%,
/// zstd alone 16% (perf). A copy from table to table runs on all of DuckDB's threads,
/// compressing row groups side by side. So the rows go into temporary tables ("reside
/// in memory rather than on disk", spilling to the temp directory:
/// duckdb.org/docs/sql/statements/create_table.html#temporary-tables) and move into
/// the raw tables in one copy per table at the commit.
/// Measured on a day of the full catalog (11.6M rows), alternating the two: a median
/// of 70.1 s (7 runs) against 82.6 s (9 runs), at 0.73-0.81 GB peak RSS against
/// 0.56-0.69 GB (the batch's rows wait in memory). The raw tables come out the same,
/// row for row and in the same order.
async fn begin_batch(warehouse: &mut DuckDbWarehouse) -> Result<(), DuckDbError> {
    let mut sql = String::from("BEGIN TRANSACTION;\n");
    for entity in Entity::ALL {
        sql.push_str(&format!(
            "CREATE TEMP TABLE {} AS SELECT * FROM {RAW_SCHEMA}.{} LIMIT 0;\n",
            batch_table(entity),
            raw_table(entity)
        ));
    }
    warehouse
        .on_connection(move |connection| connection.execute_batch(&sql).doing("start a load transaction"))
        .await
}

/// The temporary table (in DuckDB's `temp.main`) where a batch's rows of `entity` wait.
fn batch_table(entity: Entity) -> String {
    format!("load_batch_{}", entity.name())
}

/// Moves the batch's rows into the raw tables and commits the open transaction. The
/// temporary tables go with the transaction.
async fn commit(warehouse: &mut DuckDbWarehouse, batch: &OpenBatch) -> Result<(), DuckDbError> {
    let mut sql = String::new();
    for entity in Entity::ALL {
        // A copy from one table keeps the rows' order
        // (duckdb.org/docs/2.0/sql/dialect/order_preservation).
        let table = format!("temp.main.{}", batch_table(entity));
        sql.push_str(&format!(
            "INSERT INTO {RAW_SCHEMA}.{} SELECT * FROM {table};\nDROP TABLE {table};\n",
            raw_table(entity)
        ));
    }
    sql.push_str("COMMIT");
    let doing = format!("load (commit) {}", batch.describe());
    warehouse
        .on_connection(move |connection| connection.execute_batch(&sql).doing(doing))
        .await
}

/// What the reader hands the committer, slot by slot in order: each file of the slot,
/// then how the slot ended.
enum FromReader {
    /// A file not loaded yet, read and checked.
    File {
        entity: Entity,
        path: String,
        checked: CheckedFile,
    },
    /// A file the load history already has.
    AlreadyLoaded,
    /// Every file of the slot was handed over.
    SlotComplete,
    /// The lake could not give the slot (or its remaining files): the files handed
    /// over before stay loaded; the rest wait for the next load.
    SlotSkipped(String),
}

/// Reads and checks the files of `slots` not in `loaded`, handing them over in order.
/// Stops when the committer stops taking them.
async fn read_ahead(lake: Lake, slots: Vec<Slot>, loaded: HashSet<String>, ahead: mpsc::Sender<(Slot, FromReader)>) {
    for slot in slots {
        let end = match read_slot(&lake, slot, &loaded, &ahead).await {
            Ok(true) => FromReader::SlotComplete,
            Ok(false) => return,
            Err(reason) => FromReader::SlotSkipped(reason),
        };
        if ahead.send((slot, end)).await.is_err() {
            return;
        }
    }
}

/// Hands over one slot's files; `Ok(false)` if the committer stopped taking them, `Err`
/// with the reason if the lake could not give the slot.
async fn read_slot(
    lake: &Lake,
    slot: Slot,
    loaded: &HashSet<String>,
    ahead: &mpsc::Sender<(Slot, FromReader)>,
) -> Result<bool, String> {
    let manifest = lake.listed_manifest(slot).await?;
    for file in manifest.files {
        // Wait for room before reading, so no more than one checked file waits.
        let Ok(room) = ahead.reserve().await else {
            return Ok(false);
        };
        if loaded.contains(&file.path) {
            room.send((slot, FromReader::AlreadyLoaded));
            continue;
        }
        let bytes = lake.listed_file(&file.path).await?;
        // Decompressing and checking is CPU work (a second or so for a file of the
        // full catalog): off the runtime's workers.
        let checked = match tokio::task::spawn_blocking(move || check_file(&bytes)).await {
            Ok(checked) => checked,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        };
        room.send((
            slot,
            FromReader::File {
                entity: file.entity,
                path: file.path,
                checked,
            },
        ));
    }
    Ok(true)
}

async fn loaded_files(warehouse: &mut DuckDbWarehouse) -> Result<HashSet<String>, DuckDbError> {
    warehouse
        .on_connection(|connection| {
            let mut statement = connection
                .prepare(&format!("SELECT file_name FROM {RAW_SCHEMA}.load_history"))
                .doing("read the load history")?;
            let names = statement
                .query_map([], |row| row.get::<_, String>(0))
                .doing("read the load history")?
                .collect::<Result<HashSet<_>, _>>()
                .doing("read the load history")?;
            Ok(names)
        })
        .await
}

/// Appends one file's rows (to the batch's table), rejects and history row to the open
/// transaction.
fn append_file(
    connection: &mut duckdb::Connection,
    entity: Entity,
    slot: Slot,
    path: &str,
    checked: &CheckedFile,
) -> Result<u64, DuckDbError> {
    let loaded_at = Utc::now().naive_utc();
    let doing = |what: &str| format!("{what} `{path}`");
    {
        let mut appender = connection
            .appender_to_catalog_and_db(&batch_table(entity), "temp", "main")
            .doing(doing("append"))?;
        for (line_number, line) in &checked.rows {
            appender
                .append_row(params![line, path, *line_number as i64, loaded_at])
                .doing(doing("append"))?;
        }
        appender.flush().doing(doing("append"))?;
    }
    for reject in &checked.rejected {
        connection
            .execute(
                &format!("INSERT INTO {RAW_SCHEMA}.load_rejects VALUES (?, ?, ?, ?, ?)"),
                params![path, reject.line_number as i64, reject.reason, reject.line, loaded_at],
            )
            .doing(doing("record a rejected line of"))?;
    }
    connection
        .execute(
            &format!("INSERT INTO {RAW_SCHEMA}.load_history VALUES (?, ?, ?, ?, ?, ?)"),
            params![
                path,
                entity.name(),
                slot.time().naive_utc(),
                checked.rows.len() as i64,
                checked.rejected.len() as i64,
                loaded_at
            ],
        )
        .doing(doing("record the load of"))?;
    Ok(checked.rows.len() as u64)
}
