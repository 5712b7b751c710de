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

/// One partition of the listing, as its chain read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartitionRead {
    /// Its filter: `language=en`, or several values.
    pub partition: String,
    pub pages: u64,
    /// Streams it landed first (others may also have been in it, landed by another
    /// chain or by a re-read).
    pub streams: u64,
    /// Read to its end.
    pub complete: bool,
    /// How it ended, in words.
    pub end: String,
    /// Times it started over from its top (after a cursor Helix kept refusing).
    pub restarts: u32,
    /// Chains it was read in at once (segments started from last slot's cursors).
    #[serde(default = "one_segment")]
    pub segments: u32,
    pub seconds: f64,
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
    /// Why paging stopped: "every partition read to its end", or the first partition
    /// that was not, with why.
    pub stop_reason: String,
    /// Whether every partition of the listing was read to its end. False when one
    /// stopped at the deadline, gave up on failing pages, ended above the listing's
    /// tail (it may be cut), or under `--max-streams`: the slot may lack streams, and
    /// `incomplete_reason` says which partitions and why.
    #[serde(default = "reached_end_by_default")]
    pub listing_complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<String>,
    /// Each partition's chain: its pages, the streams it landed first, how it ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<PartitionRead>,
    /// Set when Helix ignored the language filter and the listing was read whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_ignored: Option<String>,
    /// Languages seen on the probe page (the top of the whole listing) that no
    /// partition held: streams in them below the top may be missing; the next slot
    /// gives them partitions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages_outside_partitions: Vec<String>,
    /// Passes over the listing (1 since partitions replaced re-reading the listing).
    #[serde(default = "one_pass")]
    pub passes: u32,
    /// Streams the listing missed (they rose past its reader) that the re-read of last
    /// slot's users found: they started before the run.
    #[serde(default)]
    pub found_by_rereads: u64,
    /// Streams only the re-read found that started during the run: not missed, new.
    #[serde(default)]
    pub started_during_run: u64,
    /// Last slot's users the listing did not return, asked for by user id.
    #[serde(default)]
    pub reread_users: u64,
    /// Why re-read calls failed, if any did (their streams may be missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reread_failure: Option<String>,
    /// Ids not fetched again because they were fetched recently.
    pub users_skipped_fresh: u64,
    pub games_skipped_fresh: u64,
    /// Ids Helix did not return (deleted or banned accounts, retired games).
    pub users_missing: u64,
    pub games_missing: u64,
    /// Ids not looked up: their calls kept failing, or the deadline came first. They
    /// are not marked fresh, and the next run asks for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users_not_looked_up: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub games_not_looked_up: Vec<String>,
    /// Why, one line per distinct reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lookup_failures: Vec<String>,
    /// Records kept under `_quarantine/` instead of the data files, with their reason.
    #[serde(default)]
    pub quarantined: u64,
    /// The files holding the quarantined records, each line `{"reason", "record"}`.
    #[serde(default)]
    pub quarantine_files: Vec<String>,
    /// Requests retried after 429, 5xx, timeouts or a refreshed token.
    pub retries: u64,
    /// Helix requests sent, and the points they cost: one each ("the default points
    /// value per request for an endpoint is 1", the API guide; refused ones counted).
    #[serde(default)]
    pub requests: u64,
    #[serde(default)]
    pub points: u64,
    /// Round trips of the run's requests, median and 95th percentile (within 5%).
    #[serde(default)]
    pub latency_ms_p50: f64,
    #[serde(default)]
    pub latency_ms_p95: f64,
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

fn one_segment() -> u32 {
    1
}

impl Manifest {
    /// The file of `entity`, if the slot has one.
    pub fn file(&self, entity: Entity) -> Option<&EntityFile> {
        self.files.iter().find(|f| f.entity == entity)
    }
}
