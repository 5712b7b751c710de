//! The hourly run's self-healing on Snowflake: the files of committed slots that
//! Snowflake never loaded nor recorded (a lost blob event, a trigger that gave up)
//! are submitted again. It composes `status`'s reconciliation and `ingest`'s
//! submission, so it lives here rather than in either.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tracing::warn;

use super::unsettled;
use crate::ingest;
use crate::lake::{Lake, Slot};
use crate::snowpipe::SnowpipeClient;
use crate::status::{self, FileStatus, SlotState, Status, StatusOptions};
use crate::warehouse::Warehouse;

/// How far back the hourly run looks for files to submit again at least, and so
/// reports on.
pub const RESUBMIT_LOOKBACK: chrono::Duration = chrono::Duration::hours(24);

/// How far back it looks at most, when slots stayed unsettled longer (a lost event
/// and a paused pipe over a weekend): inside the 14 days a pipe keeps its load
/// history, so a file Snowpipe failed is still known as failed and not submitted again
/// ("pipes only maintain the load history metadata for 14 days":
/// docs.snowflake.com/en/user-guide/data-load-snowpipe-ts). Older files are for
/// `ingest --backfill --since`.
pub const RESUBMIT_LOOKBACK_MAX: chrono::Duration = chrono::Duration::days(13);

/// Self-healing, for the hourly run: the files of committed slots that `grace` after
/// their commit have no row in RAW and no record in Snowpipe's load history (their
/// blob event was lost, or the blob trigger gave up) are submitted again. It looks
/// back [`RESUBMIT_LOOKBACK`], or to the oldest slot the last run left unsettled
/// ([`unsettled`]), at most [`RESUBMIT_LOOKBACK_MAX`]. Returns the reconciliation it
/// acted on, and the slots and files submitted.
pub async fn resubmit_unloaded<W: Warehouse>(
    lake: &Lake,
    warehouse: &mut W,
    fact: &str,
    snowpipe: &SnowpipeClient,
    database: &str,
    now: DateTime<Utc>,
    grace: chrono::Duration,
) -> anyhow::Result<(Status, Vec<(Slot, Vec<String>)>)> {
    let unsettled_since = match unsettled::read(lake).await {
        Ok(since) => since,
        Err(reason) => {
            warn!(%reason, "looking back as far as the hourly run may");
            Some(now - RESUBMIT_LOOKBACK_MAX)
        }
    };
    let since = unsettled_since
        .map_or(now - RESUBMIT_LOOKBACK, |t| t.min(now - RESUBMIT_LOOKBACK))
        .max(now - RESUBMIT_LOOKBACK_MAX);
    let records = ingest::loads_and_pipes(snowpipe, warehouse, database, since, now).await?;
    let options = StatusOptions {
        since,
        until: now,
        now,
        grace,
    };
    let status = status::reconcile(lake, warehouse, fact, options, Some(&records)).await?;
    let mut resubmitted = Vec::new();
    let mut by_pipe: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for slot in status.slots.iter().filter(|s| s.state == SlotState::Incomplete) {
        let lost: Vec<&FileStatus> = slot.files.iter().filter(|f| unsettled::never_loaded(f)).collect();
        if lost.is_empty() {
            continue;
        }
        for file in &lost {
            by_pipe
                .entry(ingest::pipe_for(database, file.entity))
                .or_default()
                .push(file.path.clone());
        }
        resubmitted.push((slot.slot, lost.iter().map(|f| f.path.clone()).collect()));
    }
    for (pipe, paths) in by_pipe {
        snowpipe.insert_files(&pipe, &paths).await?;
    }
    for (slot, files) in &resubmitted {
        warn!(slot = %slot, ?files, "submitted again: Snowflake had no load record of them");
    }
    // Written once the submissions went through: a run that failed before them looks
    // back as far next time.
    let next = unsettled::first_unsettled(&status).map_or(now, |slot| slot.time());
    unsettled::write(lake, next).await?;
    Ok((status, resubmitted))
}
