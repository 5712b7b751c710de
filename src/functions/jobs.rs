//! A manual job's record, kept in the lake under `_jobs/{id}.json` so that whichever
//! instance the host routes a `GET /api/run?id=…` to can answer it, and so that a job
//! outlives the instance that accepted it.
//!
//! A record goes `queued` (the `run` function accepted it and put its id on the
//! `jobs` queue) → `running` (the `run_job` queue function took it; it beats every
//! [`HEARTBEAT`]) → `succeeded` or `failed`, with the job's summary line or reason.

use chrono::{DateTime, Utc};
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use crate::lake::{JOBS_DIR, Lake, LakeError, RunTag, Slot};

/// How often a running job rewrites its record's `heartbeat_at`.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(60);

/// A running job whose heartbeat is older than this has lost its instance.
const STALLED_AFTER: chrono::Duration = chrono::Duration::minutes(5);

/// A job still queued after this was not delivered: an idle queue trigger polls at
/// least every `maxPollingInterval`, 1 minute by default (Azure/azure-webjobs-sdk
/// issue 2967, "default is 1 minute"); the margin covers a cold start and a retry.
const QUEUED_TOO_LONG: chrono::Duration = chrono::Duration::minutes(15);

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "lowercase")]
pub enum JobSpec {
    /// Snapshot `slot` (the current one, one either side).
    Extract { slot: Slot },
    /// Build the dbt project.
    Transform,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
}

/// One job as the lake keeps it, and as `GET` answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: String,
    #[serde(flatten)]
    pub spec: JobSpec,
    pub state: JobState,
    pub requested_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// How many times `run_job` started it (more than one after a lost instance).
    #[serde(default)]
    pub attempts: u32,
    /// The job's summary line, when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl JobRecord {
    /// A new job, queued at `now`, with a fresh id that sorts by time.
    pub fn queued(spec: JobSpec, now: DateTime<Utc>) -> JobRecord {
        JobRecord {
            id: format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), RunTag::new()),
            spec,
            state: JobState::Queued,
            requested_at: now,
            started_at: None,
            heartbeat_at: None,
            finished_at: None,
            attempts: 0,
            result: None,
            error: None,
        }
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.state, JobState::Succeeded | JobState::Failed)
    }

    /// The record as a caller reads it: with `stalled` (and why) when it is running
    /// but has not beaten for [`STALLED_AFTER`], i.e. its instance stopped. The queue
    /// delivers the job again once its message becomes visible; nothing else will.
    pub fn view(&self, now: DateTime<Utc>) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if self.state == JobState::Queued && now - self.requested_at > QUEUED_TOO_LONG {
            value["stalled"] = serde_json::Value::Bool(true);
            value["note"] = serde_json::Value::String(format!(
                "queued since {} and never started: the jobs queue has not delivered it; look at the run_job \
                 function's failures and the jobs-poison queue, or POST the job again",
                self.requested_at.to_rfc3339()
            ));
        }
        let last_beat = self.heartbeat_at.or(self.started_at);
        let stalled_since = last_beat.filter(|beat| self.state == JobState::Running && now - *beat > STALLED_AFTER);
        if let Some(beat) = stalled_since {
            value["stalled"] = serde_json::Value::Bool(true);
            value["note"] = serde_json::Value::String(format!(
                "no heartbeat since {}: the instance running it stopped; the jobs queue delivers it again \
                 when its message becomes visible, or POST the job again",
                beat.to_rfc3339()
            ));
        }
        value
    }

    /// Saves the record (one atomic put: a reader sees the old state or the new one).
    pub async fn save(&self, lake: &Lake) -> Result<(), LakeError> {
        let bytes = serde_json::to_vec_pretty(self).expect("a job record serializes");
        lake.put(&record_path(&self.id), bytes).await
    }

    /// The record of job `id`, `Ok(None)` if there is none.
    pub async fn load(lake: &Lake, id: &str) -> Result<Option<JobRecord>, String> {
        if !is_job_id(id) {
            return Err(format!(
                "`{id}` is not a job id (a job id looks like 20261123T201600Z-1a2b3c4d)"
            ));
        }
        let path = record_path(id);
        let Some(bytes) = lake.get_optional(&path).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("the job record {path} is unreadable: {e}"))
    }
}

fn record_path(id: &str) -> Path {
    Path::from(format!("{JOBS_DIR}/{id}.json"))
}

/// Ids are made by [`JobRecord::queued`]; anything else (a path, a traversal) is refused.
fn is_job_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_says_when_its_instance_stopped() {
        let now: DateTime<Utc> = "2026-11-23T20:16:00Z".parse().unwrap();
        let slot: Slot = "2026-11-23T20:15:00Z".parse().unwrap();
        let mut record = JobRecord::queued(JobSpec::Extract { slot }, now);
        assert!(is_job_id(&record.id) && record.id.starts_with("20261123T201600Z-"));
        assert!(
            record
                .view(now + chrono::Duration::minutes(10))
                .get("stalled")
                .is_none()
        );
        let undelivered = record.view(now + chrono::Duration::minutes(20));
        assert!(
            undelivered["note"].as_str().unwrap().contains("never started"),
            "{undelivered}"
        );
        let text = serde_json::to_string(&record).unwrap();
        assert!(
            text.contains(r#""job":"extract","slot":"2026-11-23T20:15:00Z""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<JobRecord>(&text).unwrap(), record);

        record.state = JobState::Running;
        record.started_at = Some(now);
        record.heartbeat_at = Some(now + chrono::Duration::minutes(2));
        assert!(record.view(now + chrono::Duration::minutes(6)).get("stalled").is_none());
        let stalled = record.view(now + chrono::Duration::minutes(8));
        assert_eq!(stalled["stalled"], true, "{stalled}");
        assert!(stalled["note"].as_str().unwrap().contains("20:18:00"), "{stalled}");
    }

    #[test]
    fn an_id_cannot_name_another_path() {
        for id in ["", "../_manifests/x", "a/b", "x.json", &"a".repeat(65)] {
            assert!(!is_job_id(id), "{id}");
        }
    }
}
