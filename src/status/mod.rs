//! Reconciliation: slot by slot, what the lake committed against what reached the
//! warehouse, so a gap is seen before a chart is trusted.
//!
//! For every slot on the 15-minute grid since a time, [`reconcile`] reads the lake's
//! manifest (committed, or missed: the timer did not run or failed) and compares each
//! file's committed rows with the rows the raw tables hold of it (less the lines the
//! load rejected, where the warehouse records them) and the slot's streams with the
//! fact's rows. A committed slot that is not all there within a grace period after its
//! commit is incomplete, and the reason names the file.
//!
//! The warehouse side is plain SQL over the raw tables and the fact, the same on
//! DuckDB and Snowflake, bounded by load time so its cost follows the window asked
//! for, not the history.

mod settings;
pub use settings::{StatusArgs, StatusSettings};

mod render;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::lake::{Entity, Lake, LakeError, Manifest, SLOT_MINUTES, Slot, lake_path};
use crate::snowpipe::{LoadRecord, LoadRecords, PipeState};
use crate::warehouse::Dialect;
use crate::warehouse::{Warehouse, WarehouseError, key_counts, loaded_since, raw_rows_by_file};

/// What to reconcile, and when a committed slot must be complete.
#[derive(Clone, Copy, Debug)]
pub struct StatusOptions {
    /// The first slot looked at is the one containing this time.
    pub since: DateTime<Utc>,
    /// Slots from this time on are left out.
    pub until: DateTime<Utc>,
    /// The time of the check: slots due by then are expected.
    pub now: DateTime<Utc>,
    /// How long after its commit a slot may still be on its way (Snowpipe's queue,
    /// the next hourly transform) before it counts as incomplete.
    pub grace: Duration,
}

/// Where a slot stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// Every committed row is in the raw tables (or was rejected at load, and counted)
    /// and every stream is in the fact.
    Complete,
    /// Committed; not all there yet, within the grace period.
    Pending,
    /// Committed; not all there past the grace period. The reason names the file.
    Incomplete,
    /// No manifest: the timer did not run, or its run failed. Twitch keeps no history,
    /// so the slot cannot be fetched later.
    Missed,
    /// A manifest the pipeline cannot read.
    Unreadable,
    /// A file has more rows in RAW than it committed: it was loaded more than once
    /// (submitted again after Snowpipe's load history forgot it). The marts keep the
    /// latest load of each stream and slot, but RAW holds the rows twice.
    Duplicated,
}

impl SlotState {
    /// Whether the slot makes `status` fail.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            SlotState::Incomplete | SlotState::Missed | SlotState::Unreadable | SlotState::Duplicated
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            SlotState::Complete => "complete",
            SlotState::Pending => "pending",
            SlotState::Incomplete => "INCOMPLETE",
            SlotState::Missed => "MISSED",
            SlotState::Unreadable => "UNREADABLE",
            SlotState::Duplicated => "DUPLICATED",
        }
    }
}

/// One committed file: its rows in the manifest and in the warehouse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStatus {
    pub entity: Entity,
    pub path: String,
    pub committed_rows: u64,
    pub raw_rows: u64,
    /// Lines the load rejected, where known: the local load's `raw.load_history`, or
    /// Snowpipe's load history.
    pub rejected: Option<u64>,
    /// Snowpipe's record of the file, when its load history was read.
    pub load: Option<LoadRecord>,
    /// Its pipe's state, when it was read.
    pub pipe: Option<PipeState>,
}

impl FileStatus {
    fn is_whole(&self) -> bool {
        let failed = self.load.as_ref().is_some_and(|l| l.status == "LOAD_FAILED");
        !failed && self.raw_rows + self.rejected.unwrap_or(0) >= self.committed_rows
    }
}

/// One slot of the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct SlotStatus {
    pub slot: Slot,
    pub state: SlotState,
    pub files: Vec<FileStatus>,
    /// Rows of the slot in the fact.
    pub fact_rows: u64,
    /// Why the slot is not complete, when it is not.
    pub reason: Option<String>,
    /// What the extraction reported that a reader should know: paging stopped early,
    /// records quarantined, a failed re-read.
    pub notes: Vec<String>,
    pub quarantined: u64,
    /// Whether the extraction did not read the whole listing (the slot may lack streams).
    pub stopped_early: bool,
}

impl SlotStatus {
    /// Lines rejected at load, where known.
    pub fn rejected(&self) -> u64 {
        self.files.iter().filter_map(|f| f.rejected).sum()
    }
}

/// The reconciliation of a window of slots.
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    pub slots: Vec<SlotStatus>,
    /// False when the warehouse has no fact yet (the transform never ran).
    pub fact_available: bool,
}

impl Status {
    /// The slots that make the check fail.
    pub fn failures(&self) -> impl Iterator<Item = &SlotStatus> {
        self.slots.iter().filter(|s| s.state.is_failure())
    }

    /// How many slots are in `state`.
    pub fn count(&self, state: SlotState) -> usize {
        self.slots.iter().filter(|s| s.state == state).count()
    }

    /// Records the extraction quarantined, over every slot.
    pub fn quarantined(&self) -> u64 {
        self.slots.iter().map(|s| s.quarantined).sum()
    }

    /// Lines rejected at load, where known, over every slot.
    pub fn rejected(&self) -> u64 {
        self.slots.iter().map(SlotStatus::rejected).sum()
    }

    /// Slots whose extraction did not read the whole listing.
    pub fn stopped_early(&self) -> usize {
        self.slots.iter().filter(|s| s.stopped_early).count()
    }
}

/// Why the reconciliation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("cannot read the raw tables: {0}")]
    Warehouse(#[from] WarehouseError),
}

/// Reconciles the slots since `options.since` (or the lake's first committed slot, if
/// later) between `lake` and `warehouse`, whose snapshot fact is the relation `fact`
/// ([`crate::transform::Marts`]); with Snowpipe's `records`, each file's load record
/// and error too.
pub async fn reconcile<W: Warehouse>(
    lake: &Lake,
    warehouse: &mut W,
    fact: &str,
    options: StatusOptions,
    records: Option<&LoadRecords>,
) -> Result<Status, StatusError> {
    let all = lake.committed_slots().await?;
    // Nothing was expected before the pipeline's first slot: a window reaching back
    // past it starts there, so a new deployment is not a day of missed slots.
    let first = match all.first() {
        Some(earliest) => Slot::containing(options.since).max(*earliest),
        None => Slot::containing(options.since),
    };
    let committed: Vec<Slot> = all
        .into_iter()
        .filter(|s| *s >= first && s.time() < options.until)
        .collect();
    let counts = WarehouseCounts::read(warehouse, fact, first).await?;
    let mut slots = Vec::new();
    for slot in expected_slots(first, options.until.min(options.now), &committed) {
        let status = if committed.contains(&slot) {
            match lake.manifest(slot).await {
                Ok(Some(manifest)) => committed_slot(&manifest, &counts, records, options),
                Ok(None) => missed(slot),
                Err(error) => unreadable(slot, error.to_string()),
            }
        } else {
            missed(slot)
        };
        slots.push(status);
    }
    Ok(Status {
        slots,
        fact_available: counts.fact_available,
    })
}

/// Every slot from `first` whose run is over by `end` (it commits within its own 15
/// minutes), and any later one already committed.
fn expected_slots(first: Slot, end: DateTime<Utc>, committed: &[Slot]) -> Vec<Slot> {
    let mut slots = Vec::new();
    let mut slot = first;
    while slot.time() + Duration::minutes(SLOT_MINUTES) <= end {
        slots.push(slot);
        slot = slot.offset(1);
    }
    slots.extend(committed.iter().copied().filter(|s| *s >= slot));
    slots.sort();
    slots.dedup();
    slots
}

fn missed(slot: Slot) -> SlotStatus {
    SlotStatus {
        slot,
        state: SlotState::Missed,
        files: Vec::new(),
        fact_rows: 0,
        reason: Some(
            "no manifest: the timer did not run or its run failed; Twitch keeps no history, so this slot cannot be fetched again"
                .into(),
        ),
        notes: Vec::new(),
        quarantined: 0,
        stopped_early: false,
    }
}

fn unreadable(slot: Slot, error: String) -> SlotStatus {
    SlotStatus {
        reason: Some(format!("its manifest cannot be read: {error}")),
        state: SlotState::Unreadable,
        ..missed(slot)
    }
}

fn committed_slot(
    manifest: &Manifest,
    counts: &WarehouseCounts,
    records: Option<&LoadRecords>,
    options: StatusOptions,
) -> SlotStatus {
    let files: Vec<FileStatus> = manifest
        .files
        .iter()
        .map(|file| {
            let load = records.and_then(|r| r.files.get(&file.path)).cloned();
            let pipe = records.and_then(|r| r.pipes.get(&file.entity)).cloned();
            let rejected = match &counts.rejected {
                Some(rejected) => Some(rejected.get(&file.path).copied().unwrap_or(0)),
                None => load.as_ref().map(|l| l.errors_seen),
            };
            FileStatus {
                entity: file.entity,
                path: file.path.clone(),
                committed_rows: file.rows,
                raw_rows: counts.raw.get(&file.path).copied().unwrap_or(0),
                rejected,
                load,
                pipe,
            }
        })
        .collect();
    let fact_rows = counts.fact.get(&manifest.slot).copied().unwrap_or(0);
    let arrival = missing_part(&files, fact_rows, counts.fact_available);
    let mut notes = notes(manifest);
    notes.extend(files.iter().filter_map(|f| {
        let load = f.load.as_ref()?;
        (load.errors_seen > 0 && f.raw_rows > 0).then(|| {
            format!(
                "`{}`: {} line(s) rejected by Snowpipe: {}",
                f.path,
                load.errors_seen,
                load.error()
            )
        })
    }));
    let duplicated = duplicated_files(&files);
    let state = match &arrival {
        _ if duplicated.is_some() => SlotState::Duplicated,
        // All of it arrived, but the extraction committed only part of the listing.
        None if !manifest.listing_complete => SlotState::Incomplete,
        None => SlotState::Complete,
        Some(_) if options.now - manifest.finished_at <= options.grace => SlotState::Pending,
        Some(_) => SlotState::Incomplete,
    };
    // The slot's reason is what has not arrived, if anything; otherwise the
    // extraction's shortfall. A slot with both keeps the shortfall as a note.
    if arrival.is_some() && !manifest.listing_complete {
        notes.insert(0, extraction_shortfall(manifest));
    }
    let reason = duplicated
        .or(arrival)
        .or_else(|| (!manifest.listing_complete).then(|| extraction_shortfall(manifest)));
    SlotStatus {
        slot: manifest.slot,
        state,
        files,
        fact_rows,
        reason,
        notes,
        quarantined: manifest.quarantined,
        stopped_early: !manifest.listing_complete,
    }
}

/// The files with more rows in RAW than committed, and what to do; `None` if none.
fn duplicated_files(files: &[FileStatus]) -> Option<String> {
    let twice: Vec<String> = files
        .iter()
        .filter(|f| f.raw_rows > f.committed_rows)
        .map(|f| {
            format!(
                "`{}`: {} row(s) in RAW of {} committed",
                f.path, f.raw_rows, f.committed_rows
            )
        })
        .collect();
    (!twice.is_empty()).then(|| {
        format!(
            "{}: loaded more than once (submitted again after Snowpipe's 14-day load history forgot it?). The marts keep the latest load of each stream and slot; RAW holds the rows twice: delete the older load's rows (same file_name, the earlier loaded_at)",
            twice.join(", ")
        )
    })
}

/// What of the slot has not arrived, naming the file; `None` when all of it has.
fn missing_part(files: &[FileStatus], fact_rows: u64, fact_available: bool) -> Option<String> {
    if let Some(file) = files.iter().find(|f| !f.is_whole()) {
        let failed;
        let why = match &file.load {
            // "Files that couldn't load during a pipe's COPY operation ... are still
            // registered in the pipe's metadata. The registered file names are ignored
            // by subsequent pipe activity" (Troubleshooting Snowpipe,
            // docs.snowflake.com/en/user-guide/data-load-snowpipe-ts): submitting it
            // again does nothing, so the fix is a COPY of that one file.
            Some(load) if load.status == "LOAD_FAILED" => {
                failed = format!(
                    "Snowpipe did not load it: {}. Snowpipe ignores a failed file when it is submitted again: once the cause is fixed, run the pipe's COPY statement (`describe pipe` shows it) with `files = ('{}')` added",
                    load.error(),
                    file.path
                );
                failed.as_str()
            }
            None if file.raw_rows == 0 => match file.pipe.as_ref().and_then(PipeState::obstacle) {
                Some(obstacle) => {
                    failed = format!("not loaded: {obstacle}");
                    failed.as_str()
                }
                None => {
                    "not loaded: its delivery may be lost, or the load failed. The hourly run submits it again (it looks back to the oldest slot not settled, 13 days at most); past that, `ingest --backfill --since` its date does (it leaves out every file RAW holds)"
                }
            },
            _ if file.raw_rows == 0 => "not loaded yet",
            _ => "loaded in part: lines were dropped without a record",
        };
        return Some(format!(
            "`{}`: {} of {} row(s) in RAW ({why})",
            file.path, file.raw_rows, file.committed_rows
        ));
    }
    if !fact_available {
        return Some("the warehouse has no fact yet: run `transform`".into());
    }
    let streams = files.iter().find(|f| f.entity == Entity::Streams)?;
    (fact_rows < streams.raw_rows).then(|| {
        format!(
            "`{}`: {} stream row(s) in RAW, {fact_rows} in the fact (not transformed yet, or dropped on the way)",
            streams.path, streams.raw_rows
        )
    })
}

/// Why the extraction committed less than the whole listing.
fn extraction_shortfall(manifest: &Manifest) -> String {
    format!(
        "the extraction did not read the whole listing, so streams may be missing: {}",
        manifest.incomplete_reason.as_deref().unwrap_or(&manifest.stop_reason)
    )
}

/// What the extraction reported that a reader of the slot's figures should know.
fn notes(manifest: &Manifest) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(failure) = &manifest.reread_failure {
        notes.push(format!("a re-read by user id failed: {failure}"));
    }
    let not_looked_up = manifest.users_not_looked_up.len() + manifest.games_not_looked_up.len();
    if not_looked_up > 0 {
        notes.push(format!(
            "{not_looked_up} user(s) or game(s) not looked up (asked for again by the next slot): {}",
            manifest.lookup_failures.join("; ")
        ));
    }
    if manifest.quarantined > 0 {
        notes.push(format!(
            "{} record(s) quarantined in {}",
            manifest.quarantined,
            manifest.quarantine_files.join(", ")
        ));
    }
    notes
}

/// What the warehouse holds of the window: rows per raw file, rejected lines per file
/// (where recorded), fact rows per slot.
struct WarehouseCounts {
    raw: HashMap<String, u64>,
    rejected: Option<HashMap<String, u64>>,
    fact: HashMap<Slot, u64>,
    fact_available: bool,
}

impl WarehouseCounts {
    async fn read<W: Warehouse>(warehouse: &mut W, fact: &str, first: Slot) -> Result<Self, WarehouseError> {
        // A slot's files are loaded after the slot began: the bound lets the
        // warehouse skip older data unread.
        let since = loaded_since(first.time());
        let raw = raw_rows_by_file(warehouse, first.time()).await?;
        let rejected = if warehouse.dialect() == Dialect::DuckDb {
            let table = warehouse
                .query(&format!(
                    "select file_name, sum(rows_rejected) from raw.load_history where loaded_at >= {since} group by file_name"
                ))
                .await?;
            Some(
                key_counts(&table)
                    .map(|(file, n)| (lake_path(file).to_string(), n))
                    .collect(),
            )
        } else {
            None
        };
        let epoch = if warehouse.dialect() == Dialect::Snowflake {
            "date_part(epoch_second, snapshot_at)"
        } else {
            "cast(epoch(snapshot_at) as bigint)"
        };
        let fact = warehouse
            .query(&format!(
                "select {epoch}, count(*) from {fact} where snapshot_at >= {since} group by snapshot_at"
            ))
            .await;
        // No fact yet (the transform never ran) is a state to report, not an error.
        let (fact, fact_available) = match fact {
            Ok(table) => (
                key_counts(&table)
                    .filter_map(|(epoch, n)| {
                        let seconds: i64 = epoch.parse().ok()?;
                        Some((Slot::containing(DateTime::from_timestamp(seconds, 0)?), n))
                    })
                    .collect(),
                true,
            ),
            Err(_) => (HashMap::new(), false),
        };
        Ok(WarehouseCounts {
            raw,
            rejected,
            fact,
            fact_available,
        })
    }
}

pub use render::{lines, slot_line, summary_line};

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> Slot {
        "2026-11-23T20:00:00Z".parse().unwrap()
    }

    #[test]
    fn due_slots_are_expected_and_a_committed_later_one_is_kept() {
        let now = slot().time() + Duration::minutes(29);
        assert_eq!(expected_slots(slot(), now, &[]), [slot()]);
        let now = slot().time() + Duration::minutes(30);
        assert_eq!(
            expected_slots(slot(), now, &[slot().offset(5)]),
            [slot(), slot().offset(1), slot().offset(5)]
        );
    }

    fn file(raw_rows: u64, rejected: Option<u64>) -> FileStatus {
        FileStatus {
            entity: Entity::Streams,
            path: "streams/x.ndjson.gz".into(),
            committed_rows: 10,
            raw_rows,
            rejected,
            load: None,
            pipe: None,
        }
    }

    #[test]
    fn a_file_not_loaded_behind_a_paused_or_hidden_pipe_names_the_pipe() {
        let mut behind = file(0, None);
        behind.pipe = Some(PipeState::Stopped {
            pipe: "TWITCH.RAW.RAW_STREAMS_PIPE".into(),
            state: "PAUSED".into(),
            error: None,
        });
        let why = missing_part(&[behind.clone()], 0, true).unwrap();
        assert!(
            why.contains("not loaded: pipe TWITCH.RAW.RAW_STREAMS_PIPE is PAUSED: run `snowflake-setup --apply`"),
            "{why}"
        );
        behind.pipe = Some(PipeState::Unreadable {
            pipe: "TWITCH.RAW.RAW_STREAMS_PIPE".into(),
            error: "does not exist or not authorized".into(),
        });
        let why = missing_part(&[behind.clone()], 0, true).unwrap();
        assert!(why.contains("lacks MONITOR and OPERATE"), "{why}");
        behind.pipe = Some(PipeState::Running);
        let why = missing_part(&[behind], 0, true).unwrap();
        assert!(why.contains("its delivery may be lost"), "{why}");
    }

    #[test]
    fn a_file_with_more_rows_in_raw_than_committed_is_named_duplicated() {
        assert_eq!(duplicated_files(&[file(10, None), file(9, Some(1))]), None);
        let twice = duplicated_files(&[file(20, None)]).unwrap();
        assert!(
            twice.contains("`streams/x.ndjson.gz`: 20 row(s) in RAW of 10 committed"),
            "{twice}"
        );
        assert!(SlotState::Duplicated.is_failure());
    }

    #[test]
    fn a_missing_part_names_the_file_and_what_is_missing() {
        assert_eq!(missing_part(&[file(10, None)], 10, true), None);
        assert_eq!(
            missing_part(&[file(9, Some(1))], 9, true),
            None,
            "a rejected line is counted"
        );
        let not_loaded = missing_part(&[file(0, Some(0))], 0, true).unwrap();
        assert!(not_loaded.contains("`streams/x.ndjson.gz`: 0 of 10") && not_loaded.contains("not loaded"));
        assert!(
            missing_part(&[file(7, None)], 7, true)
                .unwrap()
                .contains("loaded in part")
        );
        assert!(
            missing_part(&[file(10, None)], 4, true)
                .unwrap()
                .contains("10 stream row(s) in RAW, 4 in the fact")
        );
        assert!(
            missing_part(&[file(10, None)], 0, false)
                .unwrap()
                .contains("run `transform`")
        );
        let mut failed = file(0, Some(1));
        failed.load = Some(LoadRecord {
            status: "LOAD_FAILED".into(),
            errors_seen: 1,
            first_error: None,
            system_error: Some("Remote file 'x' was not found".into()),
        });
        assert!(
            missing_part(&[failed], 0, true)
                .unwrap()
                .contains("Snowpipe did not load it: Remote file 'x' was not found")
        );
    }
}
