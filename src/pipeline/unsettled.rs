//! Where the hourly resubmission starts looking: the oldest slot that was not settled
//! when it last looked, kept in the lake (`_state/resubmission.json`).
//!
//! A slot is settled once nothing more can come of submitting its files again: it was
//! missed (no files), or every file with rows has rows in RAW or a record in Snowpipe's
//! load history (loaded, or failed: Snowpipe ignores a failed file submitted again).
//! A lost blob event, a paused pipe or a rejected key over a weekend leaves slots
//! unsettled; the next hourly run looks back to the oldest of them, not a fixed day.

use chrono::{DateTime, Utc};
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use crate::lake::{Lake, LakeError, Slot};
use crate::status::{FileStatus, SlotState, SlotStatus, Status};

/// The record's place in the lake: outside `_manifests/`, so no blob event fires for it.
const STATE_PATH: &str = "_state/resubmission.json";

#[derive(Debug, Serialize, Deserialize)]
struct Mark {
    /// The oldest slot not settled at the last run, or that run's time when all were.
    unsettled_since: DateTime<Utc>,
}

/// The oldest slot left unsettled by the last run; `None` before any run. A record
/// that cannot be parsed is an error with its reason (the caller then looks back as
/// far as it may).
pub async fn read(lake: &Lake) -> Result<Option<DateTime<Utc>>, String> {
    let bytes = lake
        .get_optional(&Path::from(STATE_PATH))
        .await
        .map_err(|e| format!("cannot read {STATE_PATH}: {e}"))?;
    let Some(bytes) = bytes else { return Ok(None) };
    serde_json::from_slice::<Mark>(&bytes)
        .map(|mark| Some(mark.unsettled_since))
        .map_err(|e| format!("{STATE_PATH} is not the record the hourly run writes: {e}"))
}

pub async fn write(lake: &Lake, unsettled_since: DateTime<Utc>) -> Result<(), LakeError> {
    let mark = serde_json::to_vec(&Mark { unsettled_since }).expect("a timestamp serializes");
    lake.put(&Path::from(STATE_PATH), mark).await
}

/// A file with rows that reached neither RAW nor Snowpipe's load history: its blob
/// event was lost, or the blob trigger gave up. The hourly run submits it again.
pub fn never_loaded(file: &FileStatus) -> bool {
    file.committed_rows > 0 && file.raw_rows == 0 && file.load.is_none()
}

/// Whether submitting the slot's files again could still change anything.
pub fn settled(slot: &SlotStatus) -> bool {
    match slot.state {
        SlotState::Missed => true,
        // Its files are unknown until it can be read: `status` names it meanwhile.
        SlotState::Unreadable => false,
        _ => !slot.files.iter().any(never_loaded),
    }
}

/// The oldest slot of `status` not settled.
pub fn first_unsettled(status: &Status) -> Option<Slot> {
    status.slots.iter().filter(|s| !settled(s)).map(|s| s.slot).min()
}
