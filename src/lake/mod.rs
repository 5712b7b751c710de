//! The lake: where extraction lands its files, on any `object_store` backend.
//!
//! Layout (the lake contract in shared/DESIGN.md):
//! `{entity}/date=YYYY-MM-DD/{entity}_{YYYYMMDDTHHMMZ}_{run}.ndjson.gz` per entity, slot
//! and run, then
//! `_manifests/date=YYYY-MM-DD/{YYYYMMDDTHHMMZ}.json`, written last and create-only: the
//! commit point. `_state/` holds what extraction remembers between runs.

mod settings;
pub use settings::LakeArgs;

mod lines;
mod manifest;
mod ndjson;
mod paths;
mod runs;
mod slot;
mod state;
mod store;

pub use lines::{CheckedFile, Rejected, check_file};
pub use manifest::{EntityFile, Manifest, PartitionRead};
pub use ndjson::{BackgroundWriter, NdjsonGzWriter, WrittenFile};
pub use paths::{Entity, JOBS_DIR, LakeObject, RUNS_DIR, RunTag, lake_path, manifest_path, quarantine_path};
pub use runs::{KeptRun, RunHistory, keep_run, run_history};
pub use slot::{SLOT_MINUTES, Slot, SlotParseError};
pub use state::{ListingMemory, LookupState};
pub use store::{Lake, LakeError, LakeUrl};
