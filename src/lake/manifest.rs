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
    /// The run that wrote the files: their names carry it. Empty in older manifests.
    #[serde(default)]
    pub run: String,
    /// Helix `/streams` pages read.
    pub pages: u64,
    /// Streams seen again on a later page and dropped.
    pub duplicates_dropped: u64,
    /// Why paging stopped (last page, empty page, repeated cursor, a page of repeats, cap).
    pub stop_reason: String,
    /// Whether paging read the listing to its end. False after a loop that followed a
    /// full page, or under `--max-streams`: the slot may lack streams, and says so.
    #[serde(default = "reached_end_by_default")]
    pub listing_complete: bool,
    /// Passes over the listing, and the streams the later ones found that the first
    /// missed (streams that climbed above the reader while it paged).
    #[serde(default = "one_pass")]
    pub passes: u32,
    #[serde(default)]
    pub found_by_rereads: u64,
    /// Why a later pass stopped early, if one did (the slot keeps what was landed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reread_failure: Option<String>,
    /// Ids not fetched again because they were fetched recently.
    pub users_skipped_fresh: u64,
    pub games_skipped_fresh: u64,
    /// Ids Helix did not return (deleted or banned accounts, retired games).
    pub users_missing: u64,
    pub games_missing: u64,
    /// Records kept under `_quarantine/` instead of the data files, with their reason.
    #[serde(default)]
    pub quarantined: u64,
    /// The files holding the quarantined records, each line `{"reason", "record"}`.
    #[serde(default)]
    pub quarantine_files: Vec<String>,
    /// Requests retried after 429, 5xx, timeouts or a refreshed token.
    pub retries: u64,
    /// Seconds spent on streams, on look-ups, and in total.
    pub seconds_streams: f64,
    pub seconds_total: f64,
    pub extractor_version: String,
}

fn reached_end_by_default() -> bool {
    true
}

fn one_pass() -> u32 {
    1
}

impl Manifest {
    /// The file of `entity`, if the slot has one.
    pub fn file(&self, entity: Entity) -> Option<&EntityFile> {
        self.files.iter().find(|f| f.entity == entity)
    }
}
