//! What Snowflake says of the loads: Snowpipe's load history of each file
//! (`loadHistoryScan`) and each pipe's state (`SYSTEM$PIPE_STATUS`), as `ingest`
//! reads them and `status`, `doctor` and `snowflake-setup` judge them.

use std::collections::HashMap;

use crate::lake::Entity;

/// What Snowpipe's load history says of one file (`loadHistoryScan`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadRecord {
    /// `LOADED`, `PARTIALLY_LOADED`, `LOAD_FAILED`, …
    pub status: String,
    pub errors_seen: u64,
    pub first_error: Option<String>,
    /// "General error describing why the file was not processed" (insertReport's
    /// fields, docs.snowflake.com/en/user-guide/data-load-snowpipe-rest-apis).
    pub system_error: Option<String>,
}

impl LoadRecord {
    /// Why the load failed or dropped lines, as Snowpipe says it.
    pub fn error(&self) -> &str {
        self.first_error
            .as_deref()
            .or(self.system_error.as_deref())
            .unwrap_or("no error given")
    }
}

/// What Snowflake says of the loads: each file's load record, by its path (relative
/// to the stage: the lake's paths), and each pipe's state, where it could be read.
#[derive(Clone, Debug, Default)]
pub struct LoadRecords {
    pub files: HashMap<String, LoadRecord>,
    pub pipes: HashMap<Entity, PipeState>,
}

/// A pipe's state, from `SYSTEM$PIPE_STATUS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PipeState {
    /// `executionState` RUNNING: it loads what it is given.
    Running,
    /// Any other `executionState` (PAUSED, STOPPED_…, STALLED_…), and the pipe's
    /// `error` if it gives one: files given to it wait, or are lost.
    Stopped {
        pipe: String,
        state: String,
        error: Option<String>,
    },
    /// The status could not be read: the pipe is missing, or the role has neither
    /// OWNERSHIP nor MONITOR on it ("Returns results only for the pipe owner ... or a
    /// role with the MONITOR privilege", SYSTEM$PIPE_STATUS), which insertFiles needs
    /// beside OPERATE.
    Unreadable { pipe: String, error: String },
}

impl PipeState {
    /// Why files given to the pipe do not load, if they do not.
    pub(crate) fn obstacle(&self) -> Option<String> {
        match self {
            PipeState::Running => None,
            PipeState::Stopped { pipe, state, error } => Some(format!(
                "pipe {pipe} is {state}{}: {}",
                error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default(),
                if state == "PAUSED" {
                    "run `snowflake-setup --apply`, which resumes it; the files it was given load then"
                } else {
                    "see SYSTEM$PIPE_STATUS in Snowflake's documentation for this state"
                }
            )),
            PipeState::Unreadable { pipe, error } => Some(format!(
                "the pipeline's role cannot read pipe {pipe}'s status ({error}): the pipe is missing or the role lacks MONITOR and OPERATE on it; run `snowflake-setup --apply`"
            )),
        }
    }
}
