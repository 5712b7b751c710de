//! The local load: committed lake files into the raw tables of the embedded
//! warehouse, each file once — what Snowpipe does in Azure.
//!
//! Only files a manifest lists are read, so a slot whose extraction is incomplete is
//! never loaded. A file's rows, its rejected lines and its load-history row commit in
//! one transaction: a file is either loaded whole (less its rejects) or not at all,
//! and a second run skips it. A malformed line goes to `raw.load_rejects` with the
//! file, line number and reason; the rest of the file still loads.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use chrono::Utc;
use duckdb::params;
use object_store::path::Path;
use tracing::{info, instrument};

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
}

impl LoadSummary {
    /// One line for the terminal.
    pub fn line(&self, seconds: f64) -> String {
        let rows = |e| self.rows.get(&e).copied().unwrap_or(0);
        format!(
            "loaded {} file(s) of {} slot(s): {} stream, {} user, {} game rows; {} line(s) rejected; {} file(s) already loaded; {seconds:.1} s",
            self.files_loaded,
            self.slots,
            rows(Entity::Streams),
            rows(Entity::Users),
            rows(Entity::Games),
            self.rejected,
            self.files_already_loaded,
        )
    }
}

/// Why a load stopped. Files committed before the failure stay loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Warehouse(#[from] DuckDbError),
    #[error("manifest of slot {slot} lists `{path}`, which the lake does not have; the slot was committed incomplete")]
    MissingFile { slot: Slot, path: String },
}

/// Loads every committed file not loaded yet, oldest slot first.
#[instrument(skip_all, fields(lake = lake.url()))]
pub async fn load_lake(lake: &Lake, warehouse: &mut DuckDbWarehouse) -> Result<LoadSummary, LoadError> {
    let started = Instant::now();
    let loaded = loaded_files(warehouse)?;
    let mut summary = LoadSummary::default();
    for slot in lake.committed_slots().await? {
        let manifest = lake
            .manifest(slot)
            .await?
            .expect("a listed manifest exists; manifests are never deleted");
        let mut new_files = 0;
        for file in &manifest.files {
            if loaded.contains(&file.path) {
                summary.files_already_loaded += 1;
                continue;
            }
            let bytes = lake
                .get_optional(&Path::from(file.path.as_str()))
                .await?
                .ok_or_else(|| LoadError::MissingFile {
                    slot,
                    path: file.path.clone(),
                })?;
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
        if new_files > 0 {
            summary.slots += 1;
        }
    }
    info!(
        seconds = started.elapsed().as_secs_f64(),
        files = summary.files_loaded,
        "load finished"
    );
    Ok(summary)
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
