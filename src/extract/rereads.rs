//! Last slot's streams that this slot's listing did not return, looked up by user id.
//!
//! A keyset chain misses the streams that rise past it while it reads (see
//! `chain.rs`). Most live streams were live a quarter of an hour ago too, so once a
//! partition is read, its users from the previous slot that did not land are asked
//! for by `user_id`, 100 a call ("You may specify a maximum of 100 IDs", the Get Streams
//! reference), which returns each one's stream if it is live, whatever its place in
//! the listing. A stream found this way that started before the run was missed by the
//! listing; one that started during it was not there to be read (the manifest keeps
//! the two apart).

use futures::StreamExt;
use tokio::time::Instant;

use super::collector::{Collector, Source};
use crate::lake::LakeError;
use crate::twitch::{HelixClient, HelixPage, RequestOptions};

/// Users per call: Get Streams' maximum.
const USERS_PER_CALL: usize = 100;

/// Calls in flight at once: re-reads are few (streams end at ~8 a second, so a
/// quarter of an hour ends ~7,000 of 100,000), and wait behind the chains.
const CONCURRENCY: usize = 4;

/// What one re-read did.
#[derive(Debug, Default)]
pub struct Reread {
    pub users: u64,
    pub calls: u64,
    /// Why calls failed, if any did (their users stay unread).
    pub failures: Vec<String>,
}

/// Asks for the streams of `users`, landing those live and not landed yet.
pub async fn reread(
    client: &HelixClient,
    collector: &Collector,
    users: Vec<Box<str>>,
    deadline: Instant,
) -> Result<Reread, LakeError> {
    let mut report = Reread {
        users: users.len() as u64,
        ..Reread::default()
    };
    let options = RequestOptions {
        // Behind the chains, ahead of look-ups: a partition's re-read is the last
        // thing its part of the snapshot waits for.
        priority: 1,
        max_retries: Some(3),
    };
    let batches: Vec<Vec<Box<str>>> = users.chunks(USERS_PER_CALL).map(<[_]>::to_vec).collect();
    let mut answers = futures::stream::iter(batches)
        .map(|batch| ask(client, batch, options, deadline))
        .buffer_unordered(CONCURRENCY);
    while let Some(answer) = answers.next().await {
        report.calls += 1;
        match answer {
            Ok(page) => {
                collector.land(&page, Source::Reread).await?;
            }
            Err(reason) => {
                if !report.failures.contains(&reason) {
                    tracing::warn!(%reason, "a re-read by user id failed; its streams may be missing");
                    report.failures.push(reason);
                }
            }
        }
    }
    Ok(report)
}

/// The live streams of `users`, or why the call failed.
async fn ask(
    client: &HelixClient,
    users: Vec<Box<str>>,
    options: RequestOptions,
    deadline: Instant,
) -> Result<HelixPage, String> {
    let mut query: Vec<(&str, &str)> = vec![("first", "100")];
    query.extend(users.iter().map(|id| ("user_id", &**id)));
    match tokio::time::timeout_at(deadline, client.get("streams", &query, options)).await {
        Ok(answer) => answer.map_err(|e| e.to_string()),
        Err(_) => Err("the run's deadline came first".to_string()),
    }
}
