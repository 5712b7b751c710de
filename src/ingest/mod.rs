//! Ingest: committed lake files into Snowflake's raw tables through Snowpipe.
//!
//! A slot is complete only once its manifest exists, so ingestion acts on manifests:
//! [`ingest_path`] (what the blob trigger calls for each new blob) submits the files a
//! manifest lists to their entities' pipes, and logs and ignores data files, state
//! files and unknown paths. Concurrent manifests share insertFiles calls
//! ([`SharedInsertCalls`]). A second delivery of the same manifest submits the same
//! files again, which Snowpipe's load history makes harmless. [`backfill`] submits
//! every committed slot since a date, leaving out (and reporting) a slot the lake
//! cannot give whole and every file RAW already holds rows of
//! ([`crate::warehouse::raw_rows_by_file`]):
//! Snowpipe's load history forgets a file after 14 days, and a file submitted after
//! that loads twice. The hourly run's self-healing, which submits again what was
//! committed but never reached Snowpipe, is the pipeline's
//! (`crate::pipeline::resubmit`): it acts on `status`'s reconciliation.

mod settings;
pub use settings::{IngestArgs, IngestMode, IngestSettings};

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use tracing::{info, instrument, warn};

use crate::lake::{Entity, Lake, LakeError, LakeObject, Manifest, Slot};
use crate::snowpipe::{LoadRecord, LoadRecords, PipeState};
use crate::snowpipe::{SharedInsertCalls, SnowpipeClient, SnowpipeError};
use crate::warehouse::{Warehouse, WarehouseError};

/// Schema of the raw tables and their pipes in Snowflake.
pub const RAW_SCHEMA: &str = "RAW";

/// The pipe that loads `entity`: `DATABASE.RAW.RAW_STREAMS_PIPE` and so on, as
/// `snowflake-setup` creates them.
pub fn pipe_for(database: &str, entity: Entity) -> String {
    format!(
        "{}.{RAW_SCHEMA}.RAW_{}_PIPE",
        database.to_ascii_uppercase(),
        entity.name().to_ascii_uppercase()
    )
}

/// The external stage over the lake the pipes load from: `DATABASE.RAW.LAKE`, as
/// `snowflake-setup` creates it.
pub fn stage_for(database: &str) -> String {
    format!("{}.{RAW_SCHEMA}.LAKE", database.to_ascii_uppercase())
}

/// Why ingestion failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Snowpipe(#[from] SnowpipeError),
    #[error("the lake has no manifest at {0}: a blob event named a manifest that is not there")]
    MissingManifest(String),
    #[error("the blob at {path} is not a manifest this pipeline writes: {reason}")]
    MalformedManifest { path: String, reason: String },
    #[error(
        "cannot read which files RAW holds, so nothing was submitted (a file loaded already would load twice): {0}"
    )]
    Ledger(#[from] WarehouseError),
}

/// What ingesting one lake path did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// A manifest's files went to their pipes: pipe -> files submitted.
    Submitted { slot: Slot, files: BTreeMap<String, usize> },
    /// Not a manifest: nothing to do, and why.
    Ignored { path: String, reason: &'static str },
}

/// Submits the files of the manifest at `path` (relative to the lake root). `content`
/// is the manifest's bytes when the caller already has them (the blob trigger's
/// binding carries the blob), which saves reading it back from the lake.
#[instrument(skip_all, fields(path))]
pub async fn ingest_path(
    lake: &Lake,
    path: &str,
    content: Option<&[u8]>,
    calls: &SharedInsertCalls,
    database: &str,
) -> Result<IngestOutcome, IngestError> {
    let slot = match LakeObject::parse(path) {
        LakeObject::Manifest { slot } => slot,
        other => {
            let reason = match other {
                LakeObject::Data { .. } => "a data file: its slot's manifest brings it",
                LakeObject::State => "extraction's own state",
                _ => "not a lake path this pipeline writes",
            };
            info!(path, reason, "ignored");
            return Ok(IngestOutcome::Ignored {
                path: path.to_string(),
                reason,
            });
        }
    };
    let manifest = match content {
        Some(bytes) => parse_manifest(path, slot, bytes)?,
        None => lake
            .manifest(slot)
            .await?
            .ok_or_else(|| IngestError::MissingManifest(path.to_string()))?,
    };
    let by_pipe = files_by_pipe(std::slice::from_ref(&manifest), database);
    let submissions = by_pipe.into_iter().map(|(pipe, paths)| async move {
        let count = paths.len();
        calls.submit(&pipe, paths).await.map(|()| (pipe, count))
    });
    let files: BTreeMap<String, usize> = futures::future::try_join_all(submissions).await?.into_iter().collect();
    info!(slot = %slot, ?files, "submitted to Snowpipe");
    Ok(IngestOutcome::Submitted { slot, files })
}

/// A manifest's bytes, checked against the slot its path names.
fn parse_manifest(path: &str, slot: Slot, bytes: &[u8]) -> Result<Manifest, IngestError> {
    let malformed = |reason: String| IngestError::MalformedManifest {
        path: path.to_string(),
        reason,
    };
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    if manifest.slot != slot {
        return Err(malformed(format!(
            "it commits slot {}, but its path names slot {slot}",
            manifest.slot
        )));
    }
    Ok(manifest)
}

/// What a backfill submitted, and the committed slots it could not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Backfill {
    /// Pipe -> files submitted.
    pub submitted: BTreeMap<String, usize>,
    /// Slots left out, and why: a manifest that cannot be read, a file it lists that
    /// the lake does not have. The slots after them were submitted all the same.
    pub skipped: Vec<(Slot, String)>,
    /// Files not submitted because RAW holds rows of them already.
    pub already_in_raw: usize,
    /// Files not submitted because they hold no rows (no new users or games that slot).
    pub empty: usize,
}

/// Submits every committed slot from `since` (a UTC date) on; all slots without it.
/// A slot the lake cannot give whole (its manifest unreadable, a listed file missing)
/// is left out and reported, so Snowpipe never sees part of a slot, and the others go.
/// A file RAW (in `warehouse`) holds rows of is not submitted again.
pub async fn backfill<W: Warehouse>(
    lake: &Lake,
    since: Option<NaiveDate>,
    snowpipe: &SnowpipeClient,
    warehouse: &mut W,
    database: &str,
) -> Result<Backfill, IngestError> {
    let mut manifests = Vec::new();
    let mut skipped = Vec::new();
    for slot in lake.committed_slots().await? {
        if since.is_some_and(|since| slot.date() < since) {
            continue;
        }
        match whole_slot(lake, slot).await {
            Ok(manifest) => manifests.push(manifest),
            Err(reason) => {
                warn!(slot = %slot, reason, "committed slot not submitted");
                skipped.push((slot, reason));
            }
        }
    }
    let (mut already_in_raw, mut empty) = (0, 0);
    if let Some(first) = manifests.first() {
        // RAW's ledger: past Snowpipe's 14-day history, "pipes only maintain the load
        // history metadata for 14 days", a file staged again is loaded again,
        // "potentially resulting in duplicate records in the target table"
        // (docs.snowflake.com/en/user-guide/data-load-snowpipe-ts).
        let in_raw = crate::warehouse::raw_rows_by_file(warehouse, first.slot.time()).await?;
        for manifest in &mut manifests {
            manifest.files.retain(|file| {
                let there = in_raw.contains_key(&file.path);
                already_in_raw += usize::from(there);
                empty += usize::from(!there && file.rows == 0);
                !there && file.rows > 0
            });
        }
    }
    if already_in_raw > 0 {
        info!(files = already_in_raw, "not submitted: RAW holds them already");
    }
    Ok(Backfill {
        submitted: submit(&manifests, snowpipe, database).await?,
        skipped,
        already_in_raw,
        empty,
    })
}

/// The slot's manifest, if it and every file it lists can be read; why not, if not.
async fn whole_slot(lake: &Lake, slot: Slot) -> Result<Manifest, String> {
    let manifest = lake.listed_manifest(slot).await?;
    for file in &manifest.files {
        lake.check_listed_file(&file.path).await?;
    }
    Ok(manifest)
}

/// Snowpipe's load history of every pipe between `start` and `end` (`loadHistoryScan`):
/// each file's status, errors, first error and system error, by path.
pub async fn load_records(
    snowpipe: &SnowpipeClient,
    database: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<LoadRecords, SnowpipeError> {
    let mut records = LoadRecords::default();
    for entity in Entity::ALL {
        let files = snowpipe
            .load_history_scan(&pipe_for(database, entity), start, end)
            .await?;
        for file in &files {
            let Some(path) = file["path"].as_str() else { continue };
            records.files.insert(
                crate::lake::lake_path(path).to_string(),
                LoadRecord {
                    status: file["status"].as_str().unwrap_or("UNKNOWN").to_string(),
                    errors_seen: file["errorsSeen"].as_u64().unwrap_or(0),
                    first_error: file["firstError"].as_str().map(str::to_string),
                    system_error: file["systemError"].as_str().map(str::to_string),
                },
            );
        }
    }
    Ok(records)
}

/// What Snowflake says of the loads between `start` and `end`: Snowpipe's load history
/// ([`load_records`]) and each pipe's state ([`pipe_states`]), what `status` and the
/// hourly run reconcile with.
pub async fn loads_and_pipes<W: Warehouse>(
    snowpipe: &SnowpipeClient,
    warehouse: &mut W,
    database: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<LoadRecords, SnowpipeError> {
    let mut records = load_records(snowpipe, database, start, end).await?;
    records.pipes = pipe_states(warehouse, database).await;
    Ok(records)
}

/// Each pipe's state (`SYSTEM$PIPE_STATUS`, through `warehouse`'s session, whose role
/// `snowflake-setup` grants MONITOR on the pipes): a paused pipe, or one the role
/// cannot see, is what keeps a file from loading, and `status` says so.
pub async fn pipe_states<W: Warehouse>(warehouse: &mut W, database: &str) -> HashMap<Entity, PipeState> {
    let mut states = HashMap::new();
    for entity in Entity::ALL {
        let pipe = pipe_for(database, entity);
        let state = match pipe_status(warehouse, &pipe).await {
            Ok(state) => state,
            Err(e) => PipeState::Unreadable { pipe, error: e.message },
        };
        states.insert(entity, state);
    }
    states
}

/// `pipe`'s state from `SYSTEM$PIPE_STATUS`; an answer that is not its JSON is
/// `Unreadable`, a refused query an error.
pub async fn pipe_status<W: Warehouse>(warehouse: &mut W, pipe: &str) -> Result<PipeState, WarehouseError> {
    let table = warehouse.query(&format!("select system$pipe_status('{pipe}')")).await?;
    let pipe = pipe.to_string();
    Ok(match table.scalar().map(serde_json::from_str::<serde_json::Value>) {
        Some(Ok(status)) => match status["executionState"].as_str() {
            Some("RUNNING") => PipeState::Running,
            Some(state) => PipeState::Stopped {
                pipe,
                state: state.to_string(),
                error: status["error"].as_str().map(str::to_string),
            },
            None => PipeState::Unreadable {
                pipe,
                error: format!("no executionState in {status}"),
            },
        },
        _ => PipeState::Unreadable {
            error: format!("not the JSON SYSTEM$PIPE_STATUS returns: {:?}", table.scalar()),
            pipe,
        },
    })
}

/// One insertFiles per pipe (the client splits past 5,000 files), the pipes at once.
async fn submit(
    manifests: &[Manifest],
    snowpipe: &SnowpipeClient,
    database: &str,
) -> Result<BTreeMap<String, usize>, IngestError> {
    let calls = files_by_pipe(manifests, database)
        .into_iter()
        .map(|(pipe, paths)| async move { snowpipe.insert_files(&pipe, &paths).await.map(|_| (pipe, paths.len())) });
    Ok(futures::future::try_join_all(calls).await?.into_iter().collect())
}

/// The manifests' files, grouped by the pipe that loads them.
fn files_by_pipe(manifests: &[Manifest], database: &str) -> BTreeMap<String, Vec<String>> {
    let mut by_pipe: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for manifest in manifests {
        for file in &manifest.files {
            by_pipe
                .entry(pipe_for(database, file.entity))
                .or_default()
                .push(file.path.clone());
        }
    }
    by_pipe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_are_named_as_snowflake_setup_creates_them() {
        assert_eq!(pipe_for("twitch", Entity::Streams), "TWITCH.RAW.RAW_STREAMS_PIPE");
        assert_eq!(pipe_for("TWITCH", Entity::Games), "TWITCH.RAW.RAW_GAMES_PIPE");
    }
}
