//! The extract stage: one slot from Helix into the lake.
//!
//! Streams are paged into their file while their users and games are looked up
//! concurrently; when all three files are written the manifest commits the slot.
//! A slot that already has a manifest is left alone. A run that fails or passes its
//! deadline publishes no manifest, so nothing downstream ever sees half a slot.

mod settings;
pub use settings::{ExtractArgs, ExtractSettings};

mod lookups;
mod quarantine;
mod record;
mod streams;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use rustc_hash::FxHashSet;
use tracing::{info, instrument, warn};

pub use crate::lake::quarantine_path;
pub use record::{Annotated, Stamp, annotate, usable_item};
pub use streams::StopReason;

use crate::lake::{BackgroundWriter, Entity, EntityFile, Lake, LakeError, LookupState, Manifest, RunTag, Slot};
use crate::twitch::{HelixClient, HelixError};
use lookups::Lookup;
use streams::{Kept, PagingError, page_streams};

/// How one run behaves.
#[derive(Clone, Debug)]
pub struct ExtractOptions {
    /// Stop after this many unique streams; `None` reads every live stream.
    pub max_streams: Option<u64>,
    /// The run fails, publishing nothing, if it takes longer than this.
    pub deadline: Duration,
    /// A user or game fetched less than this long ago (on the slot clock) is skipped.
    pub lookup_max_age: chrono::Duration,
    /// Look-up calls in flight at once, per entity.
    pub lookup_concurrency: usize,
    /// Passes over the listing. A single pass misses streams that climb above the
    /// reader while it pages (Helix re-sorts as it is read); each further pass lands
    /// the streams earlier passes missed. One pass of 100,000 streams is ~1,000 of the
    /// 800-a-minute points. A further pass starts only while under a third of the
    /// deadline has passed, and a Helix failure in it keeps what is landed.
    pub passes: u32,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            max_streams: None,
            deadline: Duration::from_secs(600),
            lookup_max_age: chrono::Duration::hours(24),
            lookup_concurrency: 4,
            passes: 2,
        }
    }
}

/// How a run ended when it did not fail.
#[derive(Debug)]
pub enum ExtractOutcome {
    /// The slot was extracted and committed; the manifest says what it holds.
    Extracted(Box<Manifest>),
    /// The slot had a manifest already; nothing was written.
    AlreadyExtracted(Slot),
}

/// Why a run failed. No manifest was published.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("extracting slot {slot} from Twitch failed: {source}")]
    Helix { slot: Slot, source: HelixError },
    #[error("writing slot {slot} to the lake failed: {source}")]
    Lake { slot: Slot, source: LakeError },
    #[error("extracting slot {slot} stopped: a user or game look-up ended early; nothing was published")]
    Interrupted { slot: Slot },
    #[error(
        "extracting slot {slot} passed its {seconds} s deadline; nothing was published (a retry within the slot may still take it)"
    )]
    Deadline { slot: Slot, seconds: u64 },
}

/// Extracts `slot` into `lake`, or does nothing if it is committed already.
#[instrument(skip_all, fields(slot = %slot))]
pub async fn extract_slot(
    client: Arc<HelixClient>,
    lake: &Lake,
    slot: Slot,
    options: &ExtractOptions,
) -> Result<ExtractOutcome, ExtractError> {
    let lake_error = |source| ExtractError::Lake { slot, source };
    if lake.is_committed(slot).await.map_err(lake_error)? {
        info!("slot already extracted; nothing to do");
        return Ok(ExtractOutcome::AlreadyExtracted(slot));
    }
    let run = extract_uncommitted(client, lake, slot, options);
    match tokio::time::timeout(options.deadline, run).await {
        Ok(Ok(manifest)) => Ok(ExtractOutcome::Extracted(Box::new(manifest))),
        Ok(Err(PagingError::Helix(source))) => Err(ExtractError::Helix { slot, source }),
        Ok(Err(PagingError::LookupStopped)) => Err(ExtractError::Interrupted { slot }),
        Ok(Err(PagingError::Lake(LakeError::AlreadyCommitted(_)))) => {
            info!("another run committed the slot first; nothing to do");
            Ok(ExtractOutcome::AlreadyExtracted(slot))
        }
        Ok(Err(PagingError::Lake(source))) => Err(ExtractError::Lake { slot, source }),
        Err(_) => Err(ExtractError::Deadline {
            slot,
            seconds: options.deadline.as_secs(),
        }),
    }
}

async fn extract_uncommitted(
    client: Arc<HelixClient>,
    lake: &Lake,
    slot: Slot,
    options: &ExtractOptions,
) -> Result<Manifest, PagingError> {
    let started_at = Utc::now();
    let clock = Instant::now();
    // This run's files carry its tag: another run of the slot never touches them.
    let run = RunTag::new();
    let mut state = LookupState::load(lake).await?;
    let mut users = Lookup::start(
        client.clone(),
        lake.clone(),
        Entity::Users,
        slot,
        run.clone(),
        options.lookup_concurrency,
    );
    let mut games = Lookup::start(
        client.clone(),
        lake.clone(),
        Entity::Games,
        slot,
        run.clone(),
        options.lookup_concurrency,
    );

    // Each id is asked for once per run, and not at all if fetched recently.
    let (mut seen_users, mut seen_games) = (FxHashSet::<Box<str>>::default(), FxHashSet::<Box<str>>::default());
    let (mut users_fresh, mut games_fresh) = (0u64, 0u64);
    let now = slot.time();
    let max_age = options.lookup_max_age;
    let mut streams_file = BackgroundWriter::spawn(lake.data_writer(Entity::Streams, slot, &run));
    let mut quarantine = quarantine::Quarantine::new(lake.clone(), Entity::Streams, slot, run.clone());
    let mut on_stream = |stream: &crate::twitch::StreamKey| {
        if seen_users.insert(stream.user_id.as_ref().into()) {
            if state.is_fresh(Entity::Users, &stream.user_id, now, max_age) {
                users_fresh += 1;
            } else {
                users.request(&stream.user_id)?;
            }
        }
        // A stream with no category has game_id "": nothing to look up.
        if !stream.game_id.is_empty() && seen_games.insert(stream.game_id.as_ref().into()) {
            if state.is_fresh(Entity::Games, &stream.game_id, now, max_age) {
                games_fresh += 1;
            } else {
                games.request(&stream.game_id)?;
            }
        }
        std::ops::ControlFlow::Continue(())
    };
    let mut kept = Kept::default();
    let mut passes = Vec::new();
    let mut failed_pass = None;
    while passes.len() < options.passes.max(1) as usize {
        let first = passes.is_empty();
        if !first && options.max_streams.is_some() {
            break;
        }
        if !first && clock.elapsed() > options.deadline / 3 {
            warn!(
                passes = passes.len(),
                seconds = clock.elapsed().as_secs(),
                "no time for a re-read of the listing (a third of the deadline has passed); streams that moved past the first pass stay missing"
            );
            break;
        }
        let pass = page_streams(
            &client,
            slot,
            options.max_streams,
            &mut kept,
            &mut streams_file,
            &mut quarantine,
            &mut on_stream,
        )
        .await;
        match pass {
            Ok(pass) => passes.push(pass),
            // A re-read that fails leaves the earlier passes' streams as they are.
            Err(PagingError::Helix(error)) if !first => {
                warn!(%error, pass = passes.len() + 1, "a re-read of the listing failed; the slot keeps what earlier passes landed");
                failed_pass = Some(error.to_string());
                break;
            }
            Err(error) => {
                if matches!(error, PagingError::LookupStopped) {
                    // A look-up stopped: its own error says why.
                    users.finish().await?;
                    games.finish().await?;
                }
                return Err(error);
            }
        }
    }
    let paged = &passes[0];
    let found_by_rereads: u64 = passes[1..].iter().map(|p| p.new_streams).sum();
    let seconds_streams = clock.elapsed().as_secs_f64();
    drop((seen_users, seen_games));
    let streams = streams_file.finish().await?;
    let streams_quarantine = quarantine.finish().await?;
    let users = users.finish().await?;
    let games = games.finish().await?;

    let stats = client.stats();
    let manifest = Manifest {
        slot,
        started_at,
        finished_at: Utc::now(),
        files: [
            (Entity::Streams, &streams),
            (Entity::Users, &users.file),
            (Entity::Games, &games.file),
        ]
        .into_iter()
        .map(|(entity, file)| EntityFile {
            entity,
            path: file.path.to_string(),
            rows: file.rows,
            bytes: file.bytes,
        })
        .collect(),
        run: run.to_string(),
        pages: passes.iter().map(|p| p.pages).sum(),
        duplicates_dropped: passes.iter().map(|p| p.duplicates_dropped).sum(),
        stop_reason: paged.stop.to_string(),
        // Read to its end once is enough: later passes only add what moved.
        listing_complete: passes.iter().any(|p| p.reached_end),
        passes: passes.len() as u32,
        found_by_rereads,
        reread_failure: failed_pass,
        users_skipped_fresh: users_fresh,
        games_skipped_fresh: games_fresh,
        users_missing: users.missing,
        games_missing: games.missing,
        quarantined: passes.iter().map(|p| p.quarantined).sum::<u64>() + users.quarantined + games.quarantined,
        quarantine_files: [streams_quarantine, users.quarantine_file, games.quarantine_file]
            .into_iter()
            .flatten()
            .map(|file| file.path.to_string())
            .collect(),
        retries: stats.retries.load(Ordering::Relaxed)
            + stats.rate_limited.load(Ordering::Relaxed)
            + stats.token_refreshes.load(Ordering::Relaxed),
        seconds_streams,
        seconds_total: clock.elapsed().as_secs_f64(),
        extractor_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    if let Err(error) = lake.commit(&manifest).await {
        if matches!(error, LakeError::AlreadyCommitted(_)) {
            // Another run committed first: its manifest lists its own files, and this
            // run's are referenced by nothing. Remove them.
            let own: Vec<String> = manifest
                .files
                .iter()
                .map(|f| f.path.clone())
                .chain(manifest.quarantine_files.iter().cloned())
                .collect();
            lake.delete_unreferenced(&own).await;
        }
        return Err(error.into());
    }
    if manifest.listing_complete {
        info!(
            streams = streams.rows,
            users = users.file.rows,
            games = games.file.rows,
            pages = manifest.pages,
            passes = manifest.passes,
            found_by_rereads,
            duplicates = manifest.duplicates_dropped,
            quarantined = manifest.quarantined,
            stop = %paged.stop,
            "slot committed"
        );
    } else {
        warn!(
            streams = streams.rows,
            pages = manifest.pages,
            stop = %paged.stop,
            "slot committed without reading the listing to its end"
        );
    }

    // After the commit: a run that dies before it never marks ids it did not publish.
    state.record(Entity::Users, users.requested.iter().map(|id| &**id), now);
    state.record(Entity::Games, games.requested.iter().map(|id| &**id), now);
    state.save(lake, now, max_age).await?;
    Ok(manifest)
}
