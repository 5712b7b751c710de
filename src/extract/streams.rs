//! Paging `/streams` through every live stream, on a listing that moves while it is read.
//!
//! Helix sorts the list by current viewers and it re-sorts between requests: "across
//! multiple pages of results, there may be duplicate or missing streams, as viewers
//! join and leave streams" (<https://dev.twitch.tv/docs/api/reference/#get-streams>).
//! So a page can begin with streams the previous page returned, with more viewers
//! than the last one kept. A stream seen again is dropped by id, and paging goes on:
//! viewer order never ends it. It ends on
//! - a page without a cursor, or an empty page: the listing's end;
//! - a cursor seen before: the last page's cursor can lead back to the first page
//!   (<https://github.com/twitchdev/issues/issues/93>);
//! - a page whose streams were all kept already: the same loop where the cursors
//!   differ, since the first page's contents have moved on by then. A page of
//!   repeats cannot happen mid-listing unless a hundred streams jumped above the
//!   reader between two requests;
//! - `--max-streams`.
//!
//! A loop after a short page is the listing's end; after a full page it may not be,
//! and the run says so (`reached_end` false) rather than passing it off as complete.

use std::fmt;
use std::hash::BuildHasher;
use std::ops::ControlFlow;

use chrono::{SecondsFormat, Utc};
use tracing::{debug, warn};

use super::quarantine::Quarantine;
use rustc_hash::FxHashSet;

use super::record::{Stamp, usable_item};
use crate::lake::{BackgroundWriter, LakeError, Slot};
use crate::twitch::{HelixClient, HelixError, StreamKey};

/// Streams asked for per page: Helix's maximum.
const PAGE_SIZE: usize = 100;

/// Why paging ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    LastPage,
    EmptyPage,
    RepeatedCursor,
    NoNewStreams,
    MaxStreams,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopReason::LastPage => "last page (no cursor)",
            StopReason::EmptyPage => "empty page",
            StopReason::RepeatedCursor => "cursor seen before",
            StopReason::NoNewStreams => "a page of streams already kept (the listing started over)",
            StopReason::MaxStreams => "--max-streams reached",
        })
    }
}

/// What the passes of one run share: the streams kept and the unusable records kept
/// (by a hash of their text), so a re-read neither lands nor quarantines one twice.
#[derive(Default)]
pub struct Kept {
    ids: FxHashSet<Box<str>>,
    quarantined: FxHashSet<u64>,
}

/// What one pass saw.
#[derive(Debug)]
pub struct Paged {
    pub pages: u64,
    pub duplicates_dropped: u64,
    pub quarantined: u64,
    /// Streams this pass landed that no earlier pass had.
    pub new_streams: u64,
    pub stop: StopReason,
    /// Whether paging ended at the listing's end: no cursor, an empty page, or a loop
    /// right after a short (last) page. False after a loop that followed a full page,
    /// and under `--max-streams`.
    pub reached_end: bool,
}

/// A paging failure: Helix or the lake, or a look-up that stopped (its `finish` says why).
#[derive(Debug, thiserror::Error)]
pub enum PagingError {
    #[error(transparent)]
    Helix(#[from] HelixError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("a user or game look-up stopped on an error")]
    LookupStopped,
}

/// Reads every page of live streams into `writer` (one pass over the listing), calling
/// `on_stream` once per stream not in `kept` (extraction uses it to queue user and game
/// look-ups; it breaks to stop paging when a look-up has failed). Stops at the first
/// failed write.
pub async fn page_streams(
    client: &HelixClient,
    slot: Slot,
    max_streams: Option<u64>,
    kept: &mut Kept,
    writer: &mut BackgroundWriter,
    quarantine: &mut Quarantine,
    mut on_stream: impl FnMut(&StreamKey) -> ControlFlow<()>,
) -> Result<Paged, PagingError> {
    let snapshot_at = slot.rfc3339();
    let Kept {
        ids: kept_ids,
        quarantined: kept_unusable,
    } = kept;
    // Streams this pass has read: a page of nothing but these means the listing
    // started over. (Streams an earlier pass kept are expected on every page.)
    let mut seen_ids: FxHashSet<Box<str>> = FxHashSet::default();
    let mut new_streams = 0u64;
    let mut seen_cursors: FxHashSet<String> = FxHashSet::default();
    let mut cursor: Option<String> = None;
    let (mut pages, mut duplicates, mut quarantined) = (0u64, 0u64, 0u64);
    let limit = max_streams.unwrap_or(u64::MAX);
    let page_size = PAGE_SIZE.to_string();
    // Whether the page before the current one was short: a loop after it is the end.
    let mut previous_short = false;

    let stop = loop {
        let mut query = vec![("first", page_size.as_str())];
        if let Some(after) = cursor.as_deref() {
            query.push(("after", after));
        }
        let page = client.get_page("streams", &query).await?;
        let stamp = Stamp::new(&snapshot_at, &Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true));
        pages += 1;
        if page.data.is_empty() {
            break StopReason::EmptyPage;
        }
        // The page's lines go to the writer as one block: compression runs on its
        // own task while the next page is requested.
        let mut block = Vec::with_capacity(page.data.iter().map(|r| r.get().len() + 96).sum());
        let (mut rows, mut usable, mut new_to_pass) = (0, 0, 0);
        let mut stop_paging = false;
        for (index, raw) in page.data.iter().enumerate() {
            let line = usable_item::<StreamKey>(&page, index, &stamp, "stream");
            let (key, line) = match line {
                Ok(ok) => ok,
                Err(reason) => {
                    if kept_unusable.insert(rustc_hash::FxBuildHasher.hash_one(raw.get())) {
                        quarantine.keep(raw, &reason).await?;
                        quarantined += 1;
                    }
                    continue;
                }
            };
            usable += 1;
            if !seen_ids.insert(key.id.as_ref().into()) {
                duplicates += 1;
                continue;
            }
            new_to_pass += 1;
            if !kept_ids.insert(key.id.as_ref().into()) {
                // Landed by an earlier pass.
                continue;
            }
            block.extend_from_slice(line.head.as_bytes());
            block.extend_from_slice(line.tail.as_bytes());
            block.push(b'\n');
            rows += 1;
            new_streams += 1;
            if on_stream(&key).is_break() {
                stop_paging = true;
                break;
            }
            if kept_ids.len() as u64 >= limit {
                break;
            }
        }
        writer.write_block(block, rows).await?;
        if stop_paging {
            return Err(PagingError::LookupStopped);
        }
        if kept_ids.len() as u64 >= limit {
            break StopReason::MaxStreams;
        }
        if usable > 0 && new_to_pass == 0 {
            debug!(pages, "a whole page of streams already kept");
            break StopReason::NoNewStreams;
        }
        previous_short = page.data.len() < PAGE_SIZE;
        match page.cursor() {
            None => break StopReason::LastPage,
            Some(next) if !seen_cursors.insert(next.to_string()) => break StopReason::RepeatedCursor,
            Some(next) => cursor = Some(next.to_string()),
        }
    };
    let reached_end = match stop {
        StopReason::LastPage | StopReason::EmptyPage => true,
        // A repeated cursor is judged on the page that handed it out (the current
        // one); a page of repeats on the page before it.
        StopReason::RepeatedCursor | StopReason::NoNewStreams => previous_short,
        StopReason::MaxStreams => false,
    };
    if !reached_end && stop != StopReason::MaxStreams {
        warn!(%stop, pages, "paging stopped on a loop after a full page; the listing may not have been read to its end");
    }
    Ok(Paged {
        pages,
        duplicates_dropped: duplicates,
        quarantined,
        new_streams,
        stop,
        reached_end,
    })
}
