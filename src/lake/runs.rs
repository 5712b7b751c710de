//! The transform runs' dbt artifacts kept in the lake, one folder per run:
//! `_runs/{started}-{invocation id}/` with manifest.json and run_results.json (and
//! sources.json). The Function App has no writable project folder, so the lake is
//! where a person (and the report site) finds the runs' history; the demo keeps its
//! runs there too.

use object_store::path::Path;
use serde_json::Value;

use super::{Lake, LakeError, RUNS_DIR};

/// A kept run: its folder, and its run_results.json.
#[derive(Clone, Debug)]
pub struct KeptRun {
    /// `_runs/20261207T2300Z-…`: named by its start, so folders sort by time.
    pub folder: String,
    pub run_results: Value,
}

/// The newest kept runs, and the newest run's manifest.
#[derive(Clone, Debug, Default)]
pub struct RunHistory {
    /// Newest first.
    pub runs: Vec<KeptRun>,
    pub manifest: Option<Value>,
}

/// Keeps one run's artifact `files` (name, bytes) in the lake; its folder is named by
/// `started` and the run's invocation id. Returns the folder.
pub async fn keep_run(
    lake: &Lake,
    started: chrono::DateTime<chrono::Utc>,
    invocation_id: &str,
    files: Vec<(&'static str, Vec<u8>)>,
) -> Result<String, LakeError> {
    let folder = format!("{RUNS_DIR}/{}-{invocation_id}", started.format("%Y%m%dT%H%M%SZ"));
    for (name, bytes) in files {
        lake.put(&Path::from(format!("{folder}/{name}")), bytes).await?;
    }
    Ok(folder)
}

/// The `newest` kept runs, newest first, and the newest one's manifest. A folder
/// whose run_results.json is missing or not JSON (a run that could not keep it
/// whole) is left out, with a warning; none kept is an empty history.
pub async fn run_history(lake: &Lake, newest: usize) -> Result<RunHistory, LakeError> {
    let root = Path::from(RUNS_DIR);
    let listed = lake
        .store()
        .list_with_delimiter(Some(&root))
        .await
        .map_err(|e| LakeError::storage("list", &root, e))?;
    let mut folders: Vec<String> = listed.common_prefixes.iter().map(ToString::to_string).collect();
    folders.sort_unstable_by(|a, b| b.cmp(a));
    let mut history = RunHistory::default();
    for folder in folders {
        if history.runs.len() == newest {
            break;
        }
        let json = |bytes: Option<bytes::Bytes>| bytes.and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let Some(run_results) = json(
            lake.get_optional(&Path::from(format!("{folder}/run_results.json")))
                .await?,
        ) else {
            tracing::warn!(%folder, "a kept run has no readable run_results.json; the run history leaves it out");
            continue;
        };
        if history.manifest.is_none() {
            history.manifest = json(
                lake.get_optional(&Path::from(format!("{folder}/manifest.json")))
                    .await?,
            );
        }
        history.runs.push(KeptRun { folder, run_results });
    }
    Ok(history)
}
