//! The local load: committed lake files into the raw tables of the embedded
//! warehouse, each file once — what Snowpipe does in Azure.
//!
//! Only files a manifest lists are read, so a slot whose extraction is incomplete is
//! never loaded. A file's rows, its rejected lines and its load-history row commit in
//! one transaction: a file is either loaded whole (less its rejects) or not at all,
//! and a second run skips it. A malformed line goes to `raw.load_rejects` with the
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

/// Why one slot could not be loaded this time.
enum SlotFailure {
    /// The lake could not give the slot: skip it, report it, try again next load.
    Skip(String),
    /// The warehouse failed: stop.
    Warehouse(DuckDbError),
}

impl From<DuckDbError> for SlotFailure {
    fn from(error: DuckDbError) -> Self {
        SlotFailure::Warehouse(error)
    }
}

/// Loads every committed file not loaded yet, oldest slot first. A slot whose manifest
/// or files cannot be read is skipped (and reported) while the later slots load.
#[instrument(skip_all, fields(lake = lake.url()))]
pub async fn load_lake(lake: &Lake, warehouse: &mut DuckDbWarehouse) -> Result<LoadSummary, LoadError> {
    load_lake_with_progress(lake, warehouse, |_, _, _| {}).await
}

/// [`load_lake`], calling `on_slot(done, total, summary so far)` after each committed
/// slot, for a progress bar.
pub async fn load_lake_with_progress(
    lake: &Lake,
    warehouse: &mut DuckDbWarehouse,
    mut on_slot: impl FnMut(usize, usize, &LoadSummary),
) -> Result<LoadSummary, LoadError> {
    let started = Instant::now();
    let loaded = loaded_files(warehouse)?;
    let mut summary = LoadSummary::default();
    let committed = lake.committed_slots().await?;
    for (done, slot) in committed.iter().copied().enumerate() {
        let outcome = load_slot(lake, warehouse, slot, &loaded, &mut summary).await;
        on_slot(done + 1, committed.len(), &summary);
        match outcome {
            Ok(0) => {}
            Ok(_) => summary.slots += 1,
            Err(SlotFailure::Skip(reason)) => {
                warn!(slot = %slot, reason, "committed slot not loaded; the next load tries again");
                summary.skipped.push(SkippedSlot { slot, reason });
            }
            Err(SlotFailure::Warehouse(error)) => return Err(error.into()),
        }
    }
    info!(
        seconds = started.elapsed().as_secs_f64(),
        files = summary.files_loaded,
        skipped = summary.skipped.len(),
        "load finished"
    );
    Ok(summary)
}

/// Loads the files of one slot not loaded yet; returns how many it loaded. Its files
/// load one by one, so the files loaded before a missing one stay loaded.
async fn load_slot(
    lake: &Lake,
    warehouse: &mut DuckDbWarehouse,
    slot: Slot,
    loaded: &HashSet<String>,
    summary: &mut LoadSummary,
) -> Result<u64, SlotFailure> {
    let manifest = lake.listed_manifest(slot).await.map_err(SlotFailure::Skip)?;
    let mut new_files = 0;
    for file in &manifest.files {
        if loaded.contains(&file.path) {
            summary.files_already_loaded += 1;
            continue;
        }
        let bytes = lake.listed_file(&file.path).await.map_err(SlotFailure::Skip)?;
        // Decompressing and checking is CPU work: keep it off the async threads.
        let checked = tokio::task::spawn_blocking(move || check_file(&bytes))
            .await
            .expect("checking a file does not panic");
        let rows = commit_file(warehouse, file.entity, slot, &file.path, &checked)?;
        *summary.rows.entry(file.entity).or_default() += rows;
        summary.rejected += checked.rejected.len() as u64;
        summary.files_loaded += 1;
        new_files += 1;
    }
    Ok(new_files)
}

fn loaded_files(warehouse: &mut DuckDbWarehouse) -> Result<HashSet<String>, DuckDbError> {
    let connection = warehouse.connection();
    let mut statement = connection
        .prepare(&format!("SELECT file_name FROM {RAW_SCHEMA}.load_history"))
        .doing("read the load history")?;
    let names = statement
        .query_map([], |row| row.get::<_, String>(0))
        .doing("read the load history")?
        .collect::<Result<HashSet<_>, _>>()
        .doing("read the load history")?;
    Ok(names)
}

/// Appends one file's rows, rejects and history row in a single transaction.
fn commit_file(
    warehouse: &mut DuckDbWarehouse,
    entity: Entity,
    slot: Slot,
    path: &str,
    checked: &CheckedFile,
) -> Result<u64, DuckDbError> {
    let loaded_at = Utc::now().naive_utc();
    let doing = |what: &str| format!("{what} `{path}`");
    let transaction = warehouse.connection().transaction().doing(doing("start loading"))?;
    {
        let mut appender = transaction
            .appender_to_db(raw_table(entity), RAW_SCHEMA)
            .doing(doing("append"))?;
        for (line_number, line) in &checked.rows {
            appender
                .append_row(params![line, path, *line_number as i64, loaded_at])
                .doing(doing("append"))?;
        }
        appender.flush().doing(doing("append"))?;
    }
    for reject in &checked.rejected {
        transaction
            .execute(
                &format!("INSERT INTO {RAW_SCHEMA}.load_rejects VALUES (?, ?, ?, ?, ?)"),
                params![path, reject.line_number as i64, reject.reason, reject.line, loaded_at],
            )
            .doing(doing("record a rejected line of"))?;
    }
    transaction
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
    transaction.commit().doing(doing("commit the load of"))?;
    Ok(checked.rows.len() as u64)
}
