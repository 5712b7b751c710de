//! A lake whose writes fail on cue: an outage mid-run, or a crash at the commit.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, Result,
};

/// Wraps a store; once failing, every write whose path contains `only` (or every
/// write) fails as an unreachable storage account would. Reads keep working.
#[derive(Debug)]
pub struct FailingStore {
    inner: Arc<dyn ObjectStore>,
    failing: AtomicBool,
    only: Option<String>,
    pub writes_refused: std::sync::atomic::AtomicU64,
}

impl FailingStore {
    /// A store whose writes fail from the start, or only those under `only`.
    pub fn new(inner: Arc<dyn ObjectStore>, only: Option<&str>) -> Arc<FailingStore> {
        Arc::new(FailingStore {
            inner,
            failing: AtomicBool::new(true),
            only: only.map(String::from),
            writes_refused: Default::default(),
        })
    }

    pub fn heal(&self) {
        self.failing.store(false, Ordering::SeqCst);
    }

    fn refuse(&self, location: &Path) -> Result<()> {
        let applies = self.only.as_deref().is_none_or(|only| location.as_ref().contains(only));
        if self.failing.load(Ordering::SeqCst) && applies {
            self.writes_refused.fetch_add(1, Ordering::SeqCst);
            return Err(object_store::Error::Generic {
                store: "failing test store",
                source: format!("injected outage writing {location}").into(),
            });
        }
        Ok(())
    }
}

impl fmt::Display for FailingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FailingStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for FailingStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.refuse(location)?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.refuse(location)?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.refuse(to)?;
        self.inner.copy_opts(from, to, options).await
    }
}
