//! Spawned tasks that belong to a run: stopped with it, joined with its errors.

use tokio::task::JoinHandle;

/// A spawned task that is aborted when its owner is dropped, so a run that fails or
/// passes its deadline stops its helpers instead of leaving them running (or, for a
/// writer, completing an upload the run abandoned).
pub struct OwnedTask<T>(JoinHandle<T>);

impl<T: Send + 'static> OwnedTask<T> {
    pub fn spawn(future: impl Future<Output = T> + Send + 'static) -> Self {
        OwnedTask(tokio::spawn(future))
    }

    /// Waits for the task's result; a panic in the task resumes here.
    pub async fn join(mut self) -> T {
        match (&mut self.0).await {
            Ok(value) => value,
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            Err(join) => panic!("an owned task was cancelled while its owner waited: {join}"),
        }
    }
}

impl<T> Drop for OwnedTask<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
