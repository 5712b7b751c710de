//! The extract stage: one slot from Helix into the lake.
//!
//! The listing is cut into language partitions ([`plan`]) read side by side, one
//! cursor chain each ([`chain`]): one chain over 100,000 streams is ~1,000 round trips
//! in a row, minutes from Azure, while Helix's 800 points a minute would allow it in
//! about 90 s. The pacer gives the chain with the most pages left the next free
//! point, so the longest chain, which sets the snapshot's time, never waits behind
//! work that can go later. Once a partition is read, last slot's streams it did not
//! return are asked for by user id ([`rereads`]): a chain misses streams that rise
//! past it. A big partition is read in segments at once, started from the cursors the
//! slot before handed out (see [`chain`]), so no chain is much longer than another.
//! Users and games are looked up concurrently ([`lookups`]), skipping those fetched
//! within the day.
//!
//! When all three files are written the manifest commits the slot. A slot that
//! already has a manifest is left alone. Failures cost pages, not the slot: at 80% of
//! the deadline the chains stop, at 90% the look-ups and re-reads, and what landed is
//! committed, marked incomplete with the reason. A run that lands no stream at all,
//! or still runs at the deadline itself, publishes nothing.

mod settings;
pub use settings::{ExtractArgs, ExtractSettings};

mod chain;
mod collector;
mod lookups;
mod plan;
mod quarantine;
mod record;
mod rereads;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::time::Instant;
use tracing::{error, info, instrument, warn};

pub use crate::lake::quarantine_path;
pub use chain::End;
pub use plan::{Partition, plan};
pub use record::{Annotated, Stamp, annotate, usable_item};

use crate::lake::{
    BackgroundWriter, Entity, EntityFile, Lake, LakeError, ListingMemory, LookupState, Manifest, PartitionRead, RunTag,
    Slot,
};
use crate::twitch::{HelixClient, HelixError, RequestOptions};
use chain::{Chain, ChainError, ChainReport, Segments};
use collector::{Collector, Lookups};
use lookups::{Lookup, LookupTarget};
use quarantine::Quarantine;
use rereads::Reread;

/// How one run behaves.
#[derive(Clone, Debug)]
pub struct ExtractOptions {
    /// Stop after this many unique streams (the most watched, read unpartitioned);
    /// `None` reads every live stream.
    pub max_streams: Option<u64>,
    /// The run's time. The listing stops at 80% of it and the look-ups at 90%, and
    /// what landed is committed; a run still going at the deadline publishes nothing.
    pub deadline: Duration,
    /// A user or game fetched less than this long ago (on the slot clock) is skipped.
    pub lookup_max_age: chrono::Duration,
    /// Look-up calls in flight at once, per entity.
    pub lookup_concurrency: usize,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            max_streams: None,
            deadline: Duration::from_secs(600),
            lookup_max_age: chrono::Duration::hours(24),
            lookup_concurrency: 4,
        }
    }
}

/// The longest deadline taken (a day): past it the clock's arithmetic could overflow.
const MAX_DEADLINE: Duration = Duration::from_secs(86_400);

/// Share of the deadline after which the chains stop.
const LISTING_SHARE: f64 = 0.8;
/// Share of the deadline after which look-ups and re-reads stop.
const LOOKUP_SHARE: f64 = 0.9;

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
    #[error("extracting slot {slot}: Helix gave no stream ({reason}); nothing was published")]
    NothingRead { slot: Slot, reason: String },
    #[error(
        "extracting slot {slot} passed its {seconds} s deadline; nothing was published (a retry within the slot may still take it)"
    )]
    Deadline { slot: Slot, seconds: u64 },
}

/// A failure of the run as a whole.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Helix(HelixError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("{0}")]
    NothingRead(String),
}

impl From<ChainError> for RunError {
    fn from(error: ChainError) -> Self {
        match error {
            ChainError::Helix(error) => RunError::Helix(error),
            ChainError::Lake(error) => RunError::Lake(error),
            other => RunError::NothingRead(other.to_string()),
        }
    }
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
    // The deadline bounds the work; the commit and the caches' saves come after it, so
    // a slot committed is never reported as failed, and a commit is never cut halfway.
    let work = async {
        client.validate_if_due().await.map_err(RunError::Helix)?;
        gather(client, lake, slot, options).await
    };
    let gathered = match tokio::time::timeout(options.deadline.min(MAX_DEADLINE), work).await {
        Ok(gathered) => gathered,
        Err(_) => {
            return Err(ExtractError::Deadline {
                slot,
                seconds: options.deadline.as_secs(),
            });
        }
    };
    let published = match gathered {
        Ok(gathered) => publish(lake, gathered, options).await,
        Err(error) => Err(error),
    };
    match published {
        Ok(manifest) => Ok(ExtractOutcome::Extracted(Box::new(manifest))),
        Err(RunError::Helix(source)) => Err(ExtractError::Helix { slot, source }),
        Err(RunError::NothingRead(reason)) => Err(ExtractError::NothingRead { slot, reason }),
        Err(RunError::Lake(LakeError::AlreadyCommitted(_))) => {
            info!("another run committed the slot first; nothing to do");
            Ok(ExtractOutcome::AlreadyExtracted(slot))
        }
        Err(RunError::Lake(source)) => Err(ExtractError::Lake { slot, source }),
    }
}

/// What reading the listing did: each chain, and the re-reads after them.
#[derive(Default)]
struct ListingRead {
    chains: Vec<ChainReport>,
    rereads: Vec<Reread>,
    /// Helix ignored the language filter and the listing was read whole instead.
    filter_ignored: Option<String>,
    /// Languages of the probe page that no partition holds.
    outside: Vec<String>,
}

/// The previous slot's memory, if it is recent enough to re-read by (within half an
/// hour: older, most of its streams have ended and re-reading them costs more than
/// it finds).
fn recent(memory: Option<&ListingMemory>, slot: Slot) -> Option<&ListingMemory> {
    memory.filter(|m| m.slot.is_some_and(|s| s < slot && s >= slot.offset(-2)))
}

/// What a run gathered, ready to commit: the manifest, and the caches to save after.
struct Gathered {
    manifest: Manifest,
    state: LookupState,
    memory: Option<ListingMemory>,
}

/// Reads the slot into its files and builds its manifest; commits nothing.
async fn gather(
    client: Arc<HelixClient>,
    lake: &Lake,
    slot: Slot,
    options: &ExtractOptions,
) -> Result<Gathered, RunError> {
    let started_at = Utc::now();
    let clock = Instant::now();
    let before = client.stats().snapshot();
    let deadline = options.deadline.min(MAX_DEADLINE);
    let listing_until = clock + deadline.mul_f64(LISTING_SHARE);
    let lookups_until = clock + deadline.mul_f64(LOOKUP_SHARE);
    // This run's files carry its tag: another run of the slot never touches them.
    let run = RunTag::new();
    let mut state = LookupState::load(lake).await?;
    let memory = match options.max_streams {
        None => ListingMemory::load(lake).await?,
        Some(_) => None,
    };
    let retries = (state.take_retries(Entity::Users), state.take_retries(Entity::Games));
    let lookup = |entity| {
        Lookup::start(
            client.clone(),
            LookupTarget {
                lake: lake.clone(),
                entity,
                slot,
                run: run.clone(),
                concurrency: options.lookup_concurrency,
                deadline: lookups_until,
            },
        )
    };
    let lookups = Lookups {
        users: lookup(Entity::Users),
        games: lookup(Entity::Games),
        state,
        now: slot.time(),
        max_age: options.lookup_max_age,
    };
    let collector = Collector::new(
        slot.rfc3339(),
        started_at,
        options.max_streams,
        BackgroundWriter::spawn(lake.data_writer(Entity::Streams, slot, &run)),
        Quarantine::new(lake.clone(), Entity::Streams, slot, run.clone()),
        lookups,
    );
    collector.retry_lookups(retries.0, retries.1);

    let partitions = match options.max_streams {
        Some(_) => vec![Partition::whole()],
        None => plan(memory.as_ref().map(ListingMemory::counts).as_ref()),
    };
    let previous = recent(memory.as_ref(), slot);
    let deadlines = (listing_until, lookups_until);
    let listing = match read_listing(&client, &collector, partitions, memory.as_ref(), previous, deadlines).await {
        Err(ChainError::FilterIgnored { partition, language }) => {
            error!(%partition, %language, "Helix ignored the language filter; reading the listing whole instead");
            let mut whole =
                read_listing(&client, &collector, vec![Partition::whole()], None, previous, deadlines).await?;
            whole.filter_ignored = Some(format!("Helix answered {partition} with a stream in `{language}`"));
            whole
        }
        other => other?,
    };
    let seconds_streams = clock.elapsed().as_secs_f64();
    let collected = collector.finish().await?;
    let Lookups {
        users,
        games,
        mut state,
        ..
    } = collected.lookups;
    let users = users.finish().await?;
    let games = games.finish().await?;
    let tally = collected.tally;
    if tally.streams == 0 && !listing.chains.iter().any(|c| c.end.complete()) {
        let reasons: Vec<String> = listing.chains.iter().map(|c| c.end.describe(c.pages)).collect();
        let mut reasons = reasons;
        reasons.dedup();
        return Err(RunError::NothingRead(reasons.join("; ")));
    }

    let stats = client.stats().snapshot().since(&before);
    let mut incomplete: Vec<String> = listing
        .chains
        .iter()
        .filter(|c| !c.end.complete())
        .map(|c| format!("{}: {}", c.partition.name(), c.end.describe(c.pages)))
        .collect();
    if !listing.outside.is_empty() {
        incomplete.push(format!(
            "streams in language(s) no partition held ({}): those below the top page may be missing; the next slot reads them",
            listing.outside.join(", ")
        ));
    }
    let complete = options.max_streams.is_none() && incomplete.is_empty();
    let reread_failures: Vec<String> = listing.rereads.iter().flat_map(|r| r.failures.clone()).collect();
    let manifest = Manifest {
        slot,
        started_at,
        finished_at: Utc::now(),
        files: [
            (Entity::Streams, &collected.streams),
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
        pages: listing.chains.iter().map(|c| c.pages).sum(),
        duplicates_dropped: tally.duplicates,
        stop_reason: match (options.max_streams, incomplete.first()) {
            (Some(_), _) => "--max-streams reached".into(),
            (None, None) => "every partition read to its end".into(),
            (None, Some(first)) => first.clone(),
        },
        listing_complete: complete,
        incomplete_reason: (!complete).then(|| {
            if incomplete.is_empty() {
                "--max-streams: only the most watched streams were read".to_string()
            } else {
                incomplete.join("; ")
            }
        }),
        partitions: listing
            .chains
            .iter()
            .map(|c| PartitionRead {
                partition: c.partition.name(),
                pages: c.pages,
                streams: c.landed,
                complete: c.end.complete(),
                end: c.end.describe(c.pages),
                restarts: c.restarts,
                segments: c.segments,
                seconds: c.seconds,
            })
            .collect(),
        filter_ignored: listing.filter_ignored.clone(),
        languages_outside_partitions: listing.outside.clone(),
        passes: 1,
        found_by_rereads: tally.found_by_rereads,
        started_during_run: tally.started_during_run,
        reread_users: listing.rereads.iter().map(|r| r.users).sum(),
        reread_failure: (!reread_failures.is_empty()).then(|| reread_failures.join("; ")),
        users_skipped_fresh: tally.users_fresh,
        games_skipped_fresh: tally.games_fresh,
        users_missing: users.missing,
        games_missing: games.missing,
        users_not_looked_up: users.not_looked_up.iter().map(|id| id.to_string()).collect(),
        games_not_looked_up: games.not_looked_up.iter().map(|id| id.to_string()).collect(),
        lookup_failures: users.failures.iter().chain(&games.failures).cloned().collect(),
        quarantined: tally.quarantined + users.quarantined + games.quarantined,
        quarantine_files: [collected.quarantine, users.quarantine_file, games.quarantine_file]
            .into_iter()
            .flatten()
            .map(|file| file.path.to_string())
            .collect(),
        retries: stats.retries + stats.rate_limited + stats.token_refreshes,
        requests: stats.requests,
        points: stats.requests,
        latency_ms_p50: stats.latency.quantile_ms(0.5),
        latency_ms_p95: stats.latency.quantile_ms(0.95),
        seconds_streams,
        seconds_total: clock.elapsed().as_secs_f64(),
        extractor_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    // Recorded now, saved only after the commit: a run that dies before it never marks
    // ids it did not publish.
    let now = slot.time();
    state.record(Entity::Users, users.requested.iter().map(|id| &**id), now);
    state.record(Entity::Games, games.requested.iter().map(|id| &**id), now);
    state.retry_later(Entity::Users, users.not_looked_up.iter().map(|id| &**id));
    state.retry_later(Entity::Games, games.not_looked_up.iter().map(|id| &**id));
    let memory = options.max_streams.is_none().then(|| ListingMemory {
        slot: Some(slot),
        languages: collected.users_by_language,
        cursors: listing
            .chains
            .iter()
            .filter(|c| c.end.complete() && listing.filter_ignored.is_none())
            .map(|c| (c.partition.name(), c.segment_starts()))
            .filter(|(_, starts)| !starts.is_empty())
            .collect(),
    });
    Ok(Gathered {
        manifest,
        state,
        memory,
    })
}

/// Commits the slot, then saves the caches (a cache that cannot be saved costs the
/// next slot some look-ups or its re-reads, not this slot: it is logged).
async fn publish(lake: &Lake, gathered: Gathered, options: &ExtractOptions) -> Result<Manifest, RunError> {
    let Gathered {
        manifest,
        mut state,
        memory,
    } = gathered;
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
    let rows = |entity| manifest.file(entity).map_or(0, |f| f.rows);
    if manifest.listing_complete {
        info!(
            streams = rows(Entity::Streams),
            users = rows(Entity::Users),
            games = rows(Entity::Games),
            pages = manifest.pages,
            partitions = manifest.partitions.len(),
            found_by_rereads = manifest.found_by_rereads,
            duplicates = manifest.duplicates_dropped,
            quarantined = manifest.quarantined,
            requests = manifest.requests,
            "slot committed"
        );
    } else {
        warn!(
            streams = rows(Entity::Streams),
            pages = manifest.pages,
            reason = manifest.incomplete_reason.as_deref().unwrap_or(""),
            "slot committed without reading the whole listing"
        );
    }
    if let Err(error) = state.save(lake, manifest.slot.time(), options.lookup_max_age).await {
        warn!(%error, "the look-up state could not be saved; the next slot fetches its users and games again");
    }
    if let Some(memory) = memory
        && let Err(error) = memory.save(lake).await
    {
        warn!(%error, "the listing memory could not be saved; the next slot runs without re-reads or segments");
    }
    Ok(manifest)
}

/// What the listing's concurrent work yields: a chain (of partition number `.0`), or
/// a re-read.
enum Done {
    Chain(usize, ChainReport),
    Reread(Reread),
    /// The languages of the probe page that no partition holds.
    Probe(Vec<String>),
}

type Work<'a> = Pin<Box<dyn Future<Output = Result<Done, ChainError>> + Send + 'a>>;

/// Reads every partition at once, a big one in segments from last slot's cursors; as
/// each partition ends, re-reads by user id the streams of `previous` in it that did
/// not land.
async fn read_listing(
    client: &HelixClient,
    collector: &Collector,
    partitions: Vec<Partition>,
    memory: Option<&ListingMemory>,
    previous: Option<&ListingMemory>,
    (listing_until, lookups_until): (Instant, Instant),
) -> Result<ListingRead, ChainError> {
    let plan = partitions.clone();
    let mut work: FuturesUnordered<Work<'_>> = FuturesUnordered::new();
    // Per partition: its segments' shared state, and the reports in so far.
    let mut segments: Vec<(Arc<Segments>, Vec<ChainReport>)> = Vec::new();
    for (number, partition) in partitions.into_iter().enumerate() {
        let starts: Vec<String> = memory
            .and_then(|m| m.cursors.get(&partition.name()))
            .cloned()
            .unwrap_or_default();
        let shared = Arc::new(Segments::new(1 + starts.len()));
        for (segment, start) in std::iter::once(None).chain(starts.into_iter().map(Some)).enumerate() {
            let (partition, shared) = (partition.clone(), shared.clone());
            work.push(Box::pin(async move {
                let chain = Chain {
                    client,
                    collector,
                    partition,
                    segment,
                    segments: &shared,
                    start,
                    deadline: listing_until,
                };
                chain.read().await.map(|report| Done::Chain(number, report))
            }));
        }
        segments.push((shared, Vec::new()));
    }
    // One page of the whole listing: its top streams, and a check that every language
    // among them has a partition. One that has none (a value Twitch added) lands here,
    // is named in the manifest, and gets a partition from the next slot on.
    if !plan.iter().all(|p| p.languages.is_empty()) {
        let plan = &plan;
        work.push(Box::pin(async move {
            let probe = tokio::time::timeout_at(
                listing_until,
                client.get("streams", &[("first", "100")], RequestOptions::default()),
            );
            let Ok(Ok(page)) = probe.await else {
                // Only a check: the partitions read the listing anyway.
                return Ok(Done::Probe(Vec::new()));
            };
            let mut outside: Vec<String> = page
                .data
                .iter()
                .filter_map(|raw| serde_json::from_str::<crate::twitch::StreamKey>(raw.get()).ok())
                .map(|stream| stream.language.to_ascii_lowercase())
                .filter(|language| !plan.iter().any(|p| p.holds(language)))
                .collect();
            outside.sort();
            outside.dedup();
            // Only the streams no partition reads land from here.
            let keep = |language: &str| outside.iter().any(|o| o.eq_ignore_ascii_case(language));
            collector.land_where(&page, collector::Source::Listing, &keep).await?;
            Ok(Done::Probe(outside))
        }));
    }
    let mut read = ListingRead::default();
    while let Some(done) = work.next().await {
        let report = match done? {
            Done::Probe(outside) => {
                if !outside.is_empty() {
                    warn!(languages = ?outside, "streams in languages no partition holds: they get partitions from the next slot on");
                }
                read.outside = outside;
                continue;
            }
            Done::Chain(number, report) => {
                let (shared, reports) = &mut segments[number];
                reports.push(report);
                if reports.len() < shared.len() {
                    continue;
                }
                ChainReport::merge(std::mem::take(reports))
            }
            Done::Reread(reread) => {
                read.rereads.push(reread);
                continue;
            }
        };
        let unread: Vec<Box<str>> = previous
            .filter(|_| report.end != End::MaxStreams)
            .into_iter()
            .flat_map(|memory| &memory.languages)
            .filter(|(language, _)| report.partition.holds(language))
            .flat_map(|(_, users)| users)
            .filter(|user| !collector.has_user(user))
            .cloned()
            .collect();
        if !unread.is_empty() {
            work.push(Box::pin(async move {
                rereads::reread(client, collector, unread, lookups_until)
                    .await
                    .map(Done::Reread)
                    .map_err(ChainError::Lake)
            }));
        }
        read.chains.push(report);
    }
    // The biggest partitions first, as a reader of the manifest looks for them.
    read.chains.sort_by_key(|c| std::cmp::Reverse(c.pages));
    Ok(read)
}
