//! insertFiles calls shared by concurrent submissions (group commit).
//!
//! Each blob event submits one manifest's few files. When many arrive at once (a
//! backlog redelivered by Event Grid, a burst of `run` calls), one call per event
//! would queue thousands of small requests against Snowpipe's rate limit. Instead
//! each pipe has one worker with at most one call in flight: files submitted while
//! a call is out wait and go together in the next call (up to 5,000 files), and
//! every submitter gets that call's outcome. Alone, a submission is sent at once;
//! no timer ever holds it back.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use super::{MAX_FILES_PER_CALL, SnowpipeClient, SnowpipeError};

/// Files waiting for a pipe's next call, and who to tell how it went.
struct Submission {
    paths: Vec<String>,
    done: oneshot::Sender<Result<(), SnowpipeError>>,
}

/// Submits files to pipes, sharing calls between concurrent submitters.
pub struct SharedInsertCalls {
    client: Arc<SnowpipeClient>,
    workers: Mutex<HashMap<String, mpsc::UnboundedSender<Submission>>>,
}

impl SharedInsertCalls {
    pub fn new(client: Arc<SnowpipeClient>) -> SharedInsertCalls {
        SharedInsertCalls {
            client,
            workers: Mutex::new(HashMap::new()),
        }
    }

    pub fn client(&self) -> &SnowpipeClient {
        &self.client
    }

    /// Submits `paths` to `pipe`; returns once a call carrying them succeeded, or with
    /// that call's error (after its retries).
    pub async fn submit(&self, pipe: &str, paths: Vec<String>) -> Result<(), SnowpipeError> {
        let (done, outcome) = oneshot::channel();
        let stopped = || SnowpipeError::Unavailable {
            what: "insertFiles",
            pipe: pipe.to_string(),
            attempts: 0,
            last: "the pipe's submission worker stopped".into(),
        };
        self.worker(pipe)
            .send(Submission { paths, done })
            .map_err(|_| stopped())?;
        outcome.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// The pipe's worker, started on first use; it lives as long as `self`.
    fn worker(&self, pipe: &str) -> mpsc::UnboundedSender<Submission> {
        let mut workers = self.workers.lock().expect("the worker map lock is not poisoned");
        workers
            .entry(pipe.to_string())
            .or_insert_with(|| {
                let (sender, receiver) = mpsc::unbounded_channel();
                tokio::spawn(run_worker(Arc::clone(&self.client), pipe.to_string(), receiver));
                sender
            })
            .clone()
    }
}

/// One call at a time for `pipe`, each carrying everything that waited for it.
async fn run_worker(client: Arc<SnowpipeClient>, pipe: String, mut queue: mpsc::UnboundedReceiver<Submission>) {
    while let Some(first) = queue.recv().await {
        let mut files = first.paths.len();
        let mut batch = vec![first];
        while files < MAX_FILES_PER_CALL {
            let Ok(next) = queue.try_recv() else { break };
            files += next.paths.len();
            batch.push(next);
        }
        // A redelivered manifest repeats its files: send each once.
        let paths: Vec<String> = batch
            .iter()
            .flat_map(|s| s.paths.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let outcome = client.insert_files(&pipe, &paths).await.map(drop);
        for submission in batch {
            // A submitter that gave up (its request was dropped) needs no answer.
            let _ = submission.done.send(outcome.clone());
        }
    }
}
