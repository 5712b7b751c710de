//! The manifest: a slot's commit record, written last.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Entity, Slot};

/// One data file of a committed slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityFile {
    pub entity: Entity,
    /// Path relative to the lake root, as a stage or pipe sees it.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
}

/// What one extraction run committed for one slot, and how it went.
///
/// Everything downstream (the blob trigger, the local load) acts on manifests only,
/// so a slot whose run died halfway is never ingested.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub slot: Slot,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub files: Vec<EntityFile>,
    /// Helix `/streams` pages read.
    pub pages: u64,
    /// Streams seen again on a later page and dropped.
    pub duplicates_dropped: u64,
    /// Why paging stopped (empty page, repeated cursor, viewer order broke, cap).
    pub stop_reason: String,
    /// Ids not fetched again because they were fetched recently.
    pub users_skipped_fresh: u64,
    pub games_skipped_fresh: u64,
    /// Ids Helix did not return (deleted or banned accounts, retired games).
    pub users_missing: u64,
    pub games_missing: u64,
    /// Records kept under `_quarantine/` instead of the data files, with their reason.
    #[serde(default)]
    pub quarantined: u64,
    /// Requests retried after 429, 5xx, timeouts or a refreshed token.
    pub retries: u64,
    /// Seconds spent on streams, on look-ups, and in total.
    pub seconds_streams: f64,
    pub seconds_total: f64,
    pub extractor_version: String,
}

impl Manifest {
    /// The file of `entity`, if the slot has one.
    pub fn file(&self, entity: Entity) -> Option<&EntityFile> {
        self.files.iter().find(|f| f.entity == entity)
    }
}
