//! `/users` and `/games` look-ups, 100 ids a call, running while streams are paged.

use std::ops::ControlFlow;
use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use futures::StreamExt;
use tokio::sync::mpsc;

use super::quarantine::Quarantine;
use super::record::{Stamp, usable_item};
use super::streams::PagingError;
use crate::lake::{Entity, Lake, RunTag, Slot, WrittenFile};
use crate::task::OwnedTask;
use crate::twitch::{HelixClient, IdOnly};

/// Helix accepts at most 100 `id` parameters per call.
const IDS_PER_CALL: usize = 100;

/// What one look-up run produced.
#[derive(Debug)]
pub struct LookedUp {
    pub file: WrittenFile,
    /// Every id asked for (returned or not), to record as fetched.
    pub requested: Vec<Box<str>>,
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
    task: OwnedTask<Result<LookedUp, PagingError>>,
}

impl Lookup {
    /// Starts looking up `entity` ids into the entity's data file for `slot`.
    pub fn start(
        client: Arc<HelixClient>,
        lake: Lake,
        entity: Entity,
        slot: Slot,
        run_tag: RunTag,
        concurrency: usize,
    ) -> Lookup {
        let (ids, receiver) = mpsc::unbounded_channel();
        let task = OwnedTask::spawn(run(client, lake, entity, slot, run_tag, concurrency, receiver));
        Lookup {
            ids,
            pending: Vec::with_capacity(IDS_PER_CALL),
            task,
        }
    }

    /// Queues one id (the caller has already skipped fresh and repeated ids). Breaks
    /// once the look-up has stopped on an error, which [`finish`](Self::finish) returns.
    pub fn request(&mut self, id: &str) -> ControlFlow<()> {
        if self.ids.is_closed() {
            return ControlFlow::Break(());
        }
        self.pending.push(id.into());
        if self.pending.len() == IDS_PER_CALL {
            self.send_pending();
        }
        ControlFlow::Continue(())
    }

    fn send_pending(&mut self) {
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(IDS_PER_CALL));
        // The task only stops early on an error, which `finish` reports.
        let _ = self.ids.send(batch);
    }

    /// Waits for every queued id to be fetched and the file to be written.
    pub async fn finish(mut self) -> Result<LookedUp, PagingError> {
        if !self.pending.is_empty() {
            self.send_pending();
        }
        drop(self.ids);
        self.task.join().await
    }
}

async fn run(
    client: Arc<HelixClient>,
    lake: Lake,
    entity: Entity,
    slot: Slot,
    run_tag: RunTag,
    concurrency: usize,
    mut receiver: mpsc::UnboundedReceiver<Vec<Box<str>>>,
) -> Result<LookedUp, PagingError> {
    let endpoint = entity.name();
    let snapshot_at = slot.rfc3339();
    let mut writer = lake.data_writer(entity, slot, &run_tag);
    let mut quarantine = Quarantine::new(lake.clone(), entity, slot, run_tag);
    let (mut requested, mut missing, mut quarantined) = (Vec::new(), 0u64, 0u64);

    let batches = futures::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    let mut answers = batches
        .map(|batch| {
            let client = client.clone();
            async move {
                let query: Vec<(&str, &str)> = batch.iter().map(|id| ("id", &**id)).collect();
                let page = client.get_page(endpoint, &query).await;
                page.map(|page| (batch, page))
            }
        })
        .buffer_unordered(concurrency.max(1));

    while let Some(answer) = answers.next().await {
        let (batch, page) = answer?;
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
    let file = writer.finish().await?;
    let quarantine_file = quarantine.finish().await?;
    Ok(LookedUp {
        file,
        requested,
        missing,
        quarantined,
        quarantine_file,
    })
}
