//! `/users` and `/games` look-ups, 100 ids a call, running while streams are paged.
//!
//! A look-up never costs the slot: users and games are a day-long cache that the next
//! slot can fill. Helix's look-up endpoints fail for particular ids ("the faulty
//! responses depend on the IDs themselves", twitchdev/issues#592, #664), so a batch
//! that keeps failing is split in halves until the ids that fail are alone; those are
//! not looked up, named in the manifest, not marked fresh, and asked for again by the
//! next run. Ids still waiting at the run's deadline are treated the same way.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{SecondsFormat, Utc};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::quarantine::Quarantine;
use super::record::{Stamp, usable_item};
use crate::lake::{Entity, Lake, LakeError, RunTag, Slot, WrittenFile};
use crate::task::OwnedTask;
use crate::twitch::{HelixClient, HelixError, HelixPage, IdOnly, RequestOptions};

/// Helix accepts at most 100 `id` parameters per call.
const IDS_PER_CALL: usize = 100;

/// A failing batch is retried this many times before it is split: the client's full
/// schedule (~24 s) at every level of a split would outlast the run.
const RETRIES_BEFORE_SPLIT: u32 = 2;

/// Calls one run may spend on splitting failing batches: enough to isolate a few bad
/// ids (~14 calls each), not to multiply a whole endpoint's outage by a hundred.
const SPLIT_CALLS: u32 = 64;

/// How many distinct failure reasons a run keeps.
const REASONS_KEPT: usize = 5;

/// What one look-up run produced.
#[derive(Debug)]
pub struct LookedUp {
    pub file: WrittenFile,
    /// Ids Helix answered for (returned or not): recorded as fetched.
    pub requested: Vec<Box<str>>,
    /// Ids not looked up (their call failed, or the deadline came first).
    pub not_looked_up: Vec<Box<str>>,
    /// Why, one line per distinct reason.
    pub failures: Vec<String>,
    /// Ids Helix did not return (deleted, banned, retired).
    pub missing: u64,
    pub quarantined: u64,
    /// The quarantine file, if any record was unusable.
    pub quarantine_file: Option<WrittenFile>,
}

/// A running look-up of one entity: send it ids, then [`finish`](Self::finish).
///
/// Ids are handed over a call's worth (100) at a time, so the look-up task wakes
/// once per call rather than once per id.
pub struct Lookup {
    ids: mpsc::UnboundedSender<Vec<Box<str>>>,
    pending: Vec<Box<str>>,
    task: OwnedTask<Result<LookedUp, LakeError>>,
}

/// Where a look-up run writes, and until when it may call Helix.
pub struct LookupTarget {
    pub lake: Lake,
    pub entity: Entity,
    pub slot: Slot,
    pub run: RunTag,
    pub concurrency: usize,
    pub deadline: Instant,
}

impl Lookup {
    /// Starts looking up `target.entity` ids into the entity's data file.
    pub fn start(client: Arc<HelixClient>, target: LookupTarget) -> Lookup {
        let (ids, receiver) = mpsc::unbounded_channel();
        let task = OwnedTask::spawn(run(client, target, receiver));
        Lookup {
            ids,
            pending: Vec::with_capacity(IDS_PER_CALL),
            task,
        }
    }

    /// Queues one id (the caller has already skipped fresh and repeated ids).
    pub fn request(&mut self, id: &str) {
        self.pending.push(id.into());
        if self.pending.len() == IDS_PER_CALL {
            self.send_pending();
        }
    }

    fn send_pending(&mut self) {
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(IDS_PER_CALL));
        // The task only stops early on a lake error, which `finish` reports.
        let _ = self.ids.send(batch);
    }

    /// Waits for every queued id to be fetched (or given up at the deadline) and the
    /// file to be written.
    pub async fn finish(mut self) -> Result<LookedUp, LakeError> {
        if !self.pending.is_empty() {
            self.send_pending();
        }
        drop(self.ids);
        self.task.join().await
    }
}

/// The answer to one batch, however it was split: pages for the ids answered, and
/// the ids that failed with why.
#[derive(Default)]
struct Answer {
    pages: Vec<(Vec<Box<str>>, HelixPage)>,
    failed: Vec<(Vec<Box<str>>, String)>,
}

type Fetching<'a> = Pin<Box<dyn Future<Output = Answer> + Send + 'a>>;

/// Fetches `batch`, splitting it while it fails and `splits` allows.
fn fetch<'a>(client: &'a HelixClient, endpoint: &'a str, batch: Vec<Box<str>>, splits: &'a AtomicU32) -> Fetching<'a> {
    Box::pin(async move {
        let query: Vec<(&str, &str)> = batch.iter().map(|id| ("id", &**id)).collect();
        let options = RequestOptions {
            priority: 0,
            max_retries: Some(RETRIES_BEFORE_SPLIT),
        };
        let error = match client.get(endpoint, &query, options).await {
            Ok(page) => {
                return Answer {
                    pages: vec![(batch, page)],
                    failed: Vec::new(),
                };
            }
            Err(error) => error,
        };
        let splittable = matches!(error, HelixError::GaveUp { .. } | HelixError::Rejected { .. });
        if batch.len() > 1 && splittable && splits.fetch_add(2, Ordering::Relaxed) < SPLIT_CALLS {
            let mut first = batch;
            let second = first.split_off(first.len() / 2);
            let (a, b) = futures::join!(
                fetch(client, endpoint, first, splits),
                fetch(client, endpoint, second, splits)
            );
            let mut answer = a;
            answer.pages.extend(b.pages);
            answer.failed.extend(b.failed);
            return answer;
        }
        Answer {
            pages: Vec::new(),
            failed: vec![(batch, error.to_string())],
        }
    })
}

async fn run(
    client: Arc<HelixClient>,
    target: LookupTarget,
    mut receiver: mpsc::UnboundedReceiver<Vec<Box<str>>>,
) -> Result<LookedUp, LakeError> {
    let LookupTarget {
        lake,
        entity,
        slot,
        run,
        concurrency,
        deadline,
    } = target;
    let endpoint = entity.name();
    let snapshot_at = slot.rfc3339();
    let mut writer = lake.data_writer(entity, slot, &run);
    let mut quarantine = Quarantine::new(lake.clone(), entity, slot, run);
    let (mut requested, mut missing, mut quarantined) = (Vec::new(), 0u64, 0u64);
    let (mut not_looked_up, mut failures) = (Vec::new(), Vec::<String>::new());
    let splits = AtomicU32::new(0);

    let batches = futures::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    let client = &*client;
    let splits = &splits;
    let mut answers = batches
        .map(|batch| async move {
            match tokio::time::timeout_at(deadline, fetch(client, endpoint, batch.clone(), splits)).await {
                Ok(answer) => answer,
                Err(_) => Answer {
                    pages: Vec::new(),
                    failed: vec![(batch, "the run's deadline came first".to_string())],
                },
            }
        })
        .buffer_unordered(concurrency.max(1));

    while let Some(answer) = answers.next().await {
        for (ids, reason) in answer.failed {
            if failures.len() < REASONS_KEPT && !failures.contains(&reason) {
                tracing::warn!(%entity, ids = ids.len(), %reason, "a look-up failed; its ids are asked for again next run");
                failures.push(reason);
            }
            not_looked_up.extend(ids);
        }
        for (batch, page) in answer.pages {
            let stamp = Stamp::new(&snapshot_at, &Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true));
            let (mut returned, mut unusable) = (0u64, 0u64);
            for (index, raw) in page.data.iter().enumerate() {
                let usable = usable_item::<IdOnly>(&page, index, &stamp, entity.name()).map(|(_, line)| line);
                match usable {
                    Ok(line) => {
                        writer
                            .write_parts(&[line.head.as_bytes(), line.tail.as_bytes()])
                            .await?;
                        returned += 1;
                    }
                    Err(reason) => {
                        quarantine.keep(raw, &reason).await?;
                        unusable += 1;
                    }
                }
            }
            quarantined += unusable;
            missing += (batch.len() as u64).saturating_sub(returned + unusable);
            requested.extend(batch);
        }
    }
    let file = writer.finish().await?;
    let quarantine_file = quarantine.finish().await?;
    Ok(LookedUp {
        file,
        requested,
        not_looked_up,
        failures,
        missing,
        quarantined,
        quarantine_file,
    })
}
