//! Paging `/streams` through every live stream, with Helix's paging hazards handled.
//!
//! The list is sorted by viewers and changes while it is read, so a stream can show
//! up on two pages (kept once, by id) and the listing can run past its end: paging
//! stops on an empty page, a cursor seen before, or a page whose first stream has
//! more viewers than the last stream kept (the list started over).

use std::fmt;

use chrono::{SecondsFormat, Utc};
use tracing::debug;

use super::quarantine::Quarantine;
use rustc_hash::FxHashSet;

use super::record::{Stamp, annotate};
use crate::lake::{BackgroundWriter, LakeError, Slot};
use crate::twitch::{HelixClient, HelixError, StreamKey};

/// Why paging ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    LastPage,
    EmptyPage,
    RepeatedCursor,
    ViewerOrderBroke,
    MaxStreams,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopReason::LastPage => "last page (no cursor)",
            StopReason::EmptyPage => "empty page",
            StopReason::RepeatedCursor => "cursor seen before",
            StopReason::ViewerOrderBroke => "a page started above the last stream kept",
            StopReason::MaxStreams => "--max-streams reached",
        })
    }
}

/// What paging saw.
#[derive(Debug)]
pub struct Paged {
    pub pages: u64,
    pub duplicates_dropped: u64,
    pub quarantined: u64,
    pub stop: StopReason,
}

/// A paging failure: Helix or the lake.
#[derive(Debug, thiserror::Error)]
pub enum PagingError {
    #[error(transparent)]
    Helix(#[from] HelixError),
    #[error(transparent)]
    Lake(#[from] LakeError),
}

/// Reads every page of live streams into `writer`, calling `on_stream` once per
/// unique stream (extraction uses it to queue user and game look-ups).
pub async fn page_streams(
    client: &HelixClient,
    slot: Slot,
    max_streams: Option<u64>,
    writer: &BackgroundWriter,
    quarantine: &mut Quarantine,
    mut on_stream: impl FnMut(&StreamKey),
) -> Result<Paged, PagingError> {
    let snapshot_at = slot.rfc3339();
    let mut seen_ids: FxHashSet<Box<str>> = FxHashSet::default();
    let mut seen_cursors: FxHashSet<String> = FxHashSet::default();
    let mut cursor: Option<String> = None;
    let mut last_kept_viewers: Option<u64> = None;
    let (mut pages, mut duplicates, mut quarantined) = (0u64, 0u64, 0u64);
    let limit = max_streams.unwrap_or(u64::MAX);

    let stop = loop {
        let mut query = vec![("first", "100")];
        if let Some(after) = cursor.as_deref() {
            query.push(("after", after));
        }
        let page = client.get_page("streams", &query).await?;
        let stamp = Stamp::new(&snapshot_at, &Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true));
        pages += 1;
        if page.data.is_empty() {
            break StopReason::EmptyPage;
        }
        let keys: Vec<Result<StreamKey, String>> = page
            .data
            .iter()
            .map(|raw| serde_json::from_str::<StreamKey>(raw.get()).map_err(|e| format!("unusable stream: {e}")))
            .collect();
        let first_viewers = keys.iter().find_map(|k| k.as_ref().ok().map(|k| k.viewer_count));
        if let (Some(first), Some(last)) = (first_viewers, last_kept_viewers)
            && first > last
        {
            debug!(
                first,
                last, "page starts above the last stream kept; the listing started over"
            );
            break StopReason::ViewerOrderBroke;
        }
        // The page's lines go to the writer as one block: compression runs on its
        // own task while the next page is requested.
        let (mut block, mut rows) = (
            Vec::with_capacity(page.data.iter().map(|r| r.get().len() + 96).sum()),
            0,
        );
        for (raw, key) in page.data.iter().zip(keys) {
            let line = key.and_then(|key| {
                annotate(raw.get(), &stamp)
                    .map(|line| (key, line))
                    .ok_or_else(|| "a stream is not a JSON object".to_string())
            });
            let (key, line) = match line {
                Ok(ok) => ok,
                Err(reason) => {
                    quarantine.keep(raw, &reason).await?;
                    quarantined += 1;
                    continue;
                }
            };
            if !seen_ids.insert(key.id.as_ref().into()) {
                duplicates += 1;
                continue;
            }
            block.extend_from_slice(line.head.as_bytes());
            block.extend_from_slice(line.tail.as_bytes());
            block.push(b'\n');
            rows += 1;
            last_kept_viewers = Some(key.viewer_count);
            on_stream(&key);
            if seen_ids.len() as u64 >= limit {
                break;
            }
        }
        writer.write_block(block, rows).await;
        if seen_ids.len() as u64 >= limit {
            break StopReason::MaxStreams;
        }
        match page.cursor() {
            None => break StopReason::LastPage,
            Some(next) if !seen_cursors.insert(next.to_string()) => break StopReason::RepeatedCursor,
            Some(next) => cursor = Some(next.to_string()),
        }
    };
    Ok(Paged {
        pages,
        duplicates_dropped: duplicates,
        quarantined,
        stop,
    })
}
