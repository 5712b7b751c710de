//! Records that cannot be used (not an object, a required field missing or null)
//! are kept with their reason instead of being dropped.

use serde_json::value::RawValue;

use crate::lake::{Entity, Lake, LakeError, NdjsonGzWriter, RunTag, Slot, WrittenFile, quarantine_path};

/// The quarantine file of one entity and slot, created on the first bad record.
pub struct Quarantine {
    lake: Lake,
    entity: Entity,
    slot: Slot,
    run: RunTag,
    writer: Option<NdjsonGzWriter>,
}

impl Quarantine {
    pub fn new(lake: Lake, entity: Entity, slot: Slot, run: RunTag) -> Self {
        Quarantine {
            lake,
            entity,
            slot,
            run,
            writer: None,
        }
    }

    /// Keeps `record` with the reason it was not used.
    pub async fn keep(&mut self, record: &RawValue, reason: &str) -> Result<(), LakeError> {
        tracing::warn!(entity = %self.entity, reason, "quarantined a record");
        let line = serde_json::json!({ "reason": reason, "record": record });
        let path = quarantine_path(self.entity, self.slot, &self.run);
        let writer = self.writer.get_or_insert_with(|| self.lake.writer_at(path));
        writer.write_line(line.to_string().as_bytes()).await
    }

    /// Finishes the file, if any record was quarantined.
    pub async fn finish(self) -> Result<Option<WrittenFile>, LakeError> {
        match self.writer {
            Some(writer) => writer.finish().await.map(Some),
            None => Ok(None),
        }
    }
}
