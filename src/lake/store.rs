//! Opening the lake on a local folder, Azurite or Azure Blob Storage.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::paths::manifest_path;
use super::{Entity, Manifest, NdjsonGzWriter, RunTag, Slot};

/// Where the lake lives, parsed from `LAKE_URL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LakeUrl {
    /// A folder: `./data/lake`, `/srv/lake` or `file:///srv/lake`.
    Local(PathBuf),
    /// A blob container with an optional prefix: `az://raw` or `az://raw/twitch`.
    /// The account and credentials come from the `AZURE_STORAGE_*` environment
    /// (Azurite with `AZURE_STORAGE_USE_EMULATOR=true`, managed identity in Azure).
    Azure { container: String, prefix: String },
}

impl LakeUrl {
    /// The folder inside the container the lake lives in (`""` at its root or locally).
    pub fn prefix(&self) -> String {
        match self {
            LakeUrl::Azure { prefix, .. } => prefix.trim_matches('/').to_string(),
            LakeUrl::Local(_) => String::new(),
        }
    }
}

impl std::str::FromStr for LakeUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("az://") {
            let (container, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if container.is_empty() {
                return Err(format!("`{s}` names no container: use az://CONTAINER[/PREFIX]"));
            }
            return Ok(LakeUrl::Azure {
                container: container.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if let Some(path) = s.strip_prefix("file://") {
            return Ok(LakeUrl::Local(PathBuf::from(path)));
        }
        if s.is_empty() || s.contains("://") {
            return Err(format!(
                "`{s}` is not a lake location: use a folder, file://PATH or az://CONTAINER[/PREFIX]"
            ));
        }
        Ok(LakeUrl::Local(PathBuf::from(s)))
    }
}

impl fmt::Display for LakeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LakeUrl::Local(path) => write!(f, "{}", path.display()),
            LakeUrl::Azure { container, prefix } if prefix.is_empty() => write!(f, "az://{container}"),
            LakeUrl::Azure { container, prefix } => write!(f, "az://{container}/{prefix}"),
        }
    }
}

/// A failure talking to the lake, naming the object and what to check.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("cannot open the lake at {url}: {reason}")]
    Open { url: String, reason: String },
    #[error("lake {operation} of `{path}` failed: {source}")]
    Storage {
        operation: &'static str,
        path: String,
        #[source]
        source: object_store::Error,
    },
    #[error("slot {0} already has a manifest; a committed slot is never rewritten")]
    AlreadyCommitted(Slot),
    #[error("`{path}` in the lake is not valid: {reason}")]
    Malformed { path: String, reason: String },
}

impl LakeError {
    pub(crate) fn storage(operation: &'static str, path: &Path, source: object_store::Error) -> Self {
        LakeError::Storage {
            operation,
            path: path.to_string(),
            source,
        }
    }
}

/// The lake: an object store plus the naming rules of the lake contract.
#[derive(Clone)]
pub struct Lake {
    store: Arc<dyn ObjectStore>,
    url: String,
}

impl fmt::Debug for Lake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lake").field("url", &self.url).finish()
    }
}

impl Lake {
    /// Opens the lake; a local folder is created if missing.
    pub fn open(url: &LakeUrl) -> Result<Lake, LakeError> {
        let open_error = |reason: String| LakeError::Open {
            url: url.to_string(),
            reason,
        };
        let store: Arc<dyn ObjectStore> = match url {
            LakeUrl::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| open_error(format!("cannot create the folder: {e}")))?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(dir)
                        .map_err(|e| open_error(e.to_string()))?
                        .with_automatic_cleanup(true),
                )
            }
            LakeUrl::Azure { container, prefix } => {
                let azure = MicrosoftAzureBuilder::from_env()
                    .with_container_name(container)
                    .build()
                    .map_err(|e| {
                        open_error(format!(
                            "{e} (set AZURE_STORAGE_ACCOUNT_NAME, or AZURE_STORAGE_USE_EMULATOR=true for Azurite)"
                        ))
                    })?;
                if prefix.is_empty() {
                    Arc::new(azure)
                } else {
                    Arc::new(PrefixStore::new(azure, prefix.as_str()))
                }
            }
        };
        Ok(Lake::from_store(store, url.to_string()))
    }

    /// Wraps an existing store (tests, other backends).
    pub fn from_store(store: Arc<dyn ObjectStore>, url: String) -> Lake {
        Lake { store, url }
    }

    /// The underlying object store, for stages that list or read raw objects.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Where the lake is, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether `slot` is committed (its manifest exists).
    pub async fn is_committed(&self, slot: Slot) -> Result<bool, LakeError> {
        let path = manifest_path(slot);
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(LakeError::storage("check", &path, e)),
        }
    }

    /// Starts run `run`'s data file of `entity` for `slot`.
    pub fn data_writer(&self, entity: Entity, slot: Slot, run: &RunTag) -> NdjsonGzWriter {
        self.writer_at(entity.run_data_path(slot, run))
    }

    /// Starts an NDJSON.gz object at any path (quarantine files, fixtures).
    pub fn writer_at(&self, path: Path) -> NdjsonGzWriter {
        NdjsonGzWriter::new(self.store.clone(), path)
    }

    /// Commits `manifest`'s slot: a create-only write, so a slot commits once.
    pub async fn commit(&self, manifest: &Manifest) -> Result<Path, LakeError> {
        let path = manifest_path(manifest.slot);
        let body = serde_json::to_vec_pretty(manifest).expect("a manifest always serializes");
        let options = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self.store.put_opts(&path, PutPayload::from(body), options).await {
            Ok(_) => Ok(path),
            Err(object_store::Error::AlreadyExists { .. }) => Err(LakeError::AlreadyCommitted(manifest.slot)),
            Err(e) => Err(LakeError::storage("commit", &path, e)),
        }
    }

    /// Every committed slot, oldest first.
    pub async fn committed_slots(&self) -> Result<Vec<Slot>, LakeError> {
        use futures::TryStreamExt;
        let prefix = Path::from("_manifests");
        let objects: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| LakeError::storage("list", &prefix, e))?;
        let mut slots: Vec<Slot> = objects
            .iter()
            .filter_map(|o| match super::LakeObject::parse(o.location.as_ref()) {
                super::LakeObject::Manifest { slot } => Some(slot),
                _ => None,
            })
            .collect();
        slots.sort();
        Ok(slots)
    }

    /// Reads the manifest of a committed slot; `None` if the slot is not committed.
    pub async fn manifest(&self, slot: Slot) -> Result<Option<Manifest>, LakeError> {
        let path = manifest_path(slot);
        let Some(bytes) = self.get_optional(&path).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| LakeError::Malformed {
                path: path.to_string(),
                reason: e.to_string(),
            })
    }

    /// The manifest of a slot [`committed_slots`](Self::committed_slots) listed, or why
    /// it cannot be used: the stages that read committed slots (load, backfill) report
    /// that reason, skip the slot and try it again on their next run.
    pub async fn listed_manifest(&self, slot: Slot) -> Result<Manifest, String> {
        match self.manifest(slot).await {
            Ok(Some(manifest)) => Ok(manifest),
            Ok(None) => Err("its manifest disappeared after the lake was listed".into()),
            Err(error) => Err(format!("its manifest cannot be used: {error}")),
        }
    }

    /// The bytes of a file a manifest lists, or why they cannot be had.
    pub async fn listed_file(&self, path: &str) -> Result<Bytes, String> {
        match self.get_optional(&Path::from(path)).await {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(not_in_lake(path)),
            Err(error) => Err(format!("`{path}` cannot be read: {error}")),
        }
    }

    /// Whether a file a manifest lists is there (without reading it), or why not.
    pub async fn check_listed_file(&self, path: &str) -> Result<(), String> {
        let object = Path::from(path);
        match self.store.head(&object).await {
            Ok(_) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => Err(not_in_lake(path)),
            Err(e) => Err(format!(
                "`{path}` cannot be read: {}",
                LakeError::storage("read", &object, e)
            )),
        }
    }

    /// Reads an object, or `None` if it does not exist.
    pub async fn get_optional(&self, path: &Path) -> Result<Option<Bytes>, LakeError> {
        match self.store.get(path).await {
            Ok(result) => result
                .bytes()
                .await
                .map(Some)
                .map_err(|e| LakeError::storage("read", path, e)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(LakeError::storage("read", path, e)),
        }
    }

    /// Deletes objects nobody references (a run's files after it lost the commit).
    /// Best effort: a file left behind is unreferenced, since no manifest lists it.
    pub async fn delete_unreferenced(&self, paths: &[String]) {
        for path in paths {
            let path = Path::from(path.as_str());
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => {
                    tracing::warn!(%error, path = %path, "could not delete an unreferenced file; it stays, listed by no manifest")
                }
            }
        }
    }

    /// Writes (or replaces) an object in one request. object_store's `put` is atomic:
    /// a reader sees the old object or the new one, never a part of either.
    pub async fn put(&self, path: &Path, bytes: Vec<u8>) -> Result<(), LakeError> {
        self.store
            .put(path, PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| LakeError::storage("write", path, e))
    }
}

/// Why a slot cannot be taken whole: its manifest lists a file the lake lacks.
fn not_in_lake(path: &str) -> String {
    format!("its manifest lists `{path}`, which the lake does not have")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_supported_location() {
        assert_eq!("./data/lake".parse(), Ok(LakeUrl::Local("./data/lake".into())));
        assert_eq!("file:///srv/lake".parse(), Ok(LakeUrl::Local("/srv/lake".into())));
        assert_eq!(
            "az://raw".parse(),
            Ok(LakeUrl::Azure {
                container: "raw".into(),
                prefix: String::new()
            })
        );
        assert_eq!(
            "az://raw/twitch/".parse(),
            Ok(LakeUrl::Azure {
                container: "raw".into(),
                prefix: "twitch".into()
            })
        );
    }

    #[test]
    fn rejects_unknown_schemes_and_empty_containers() {
        assert!("s3://bucket".parse::<LakeUrl>().unwrap_err().contains("az://CONTAINER"));
        assert!("az://".parse::<LakeUrl>().unwrap_err().contains("no container"));
        assert!("".parse::<LakeUrl>().is_err());
    }
}
