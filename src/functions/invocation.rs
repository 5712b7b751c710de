//! The Functions host's custom-handler envelopes, as the host really sends them.
//!
//! Request: `{"Data": {<binding>: …}, "Metadata": {…, "sys": {"MethodName", "UtcNow",
//! "RandGuid"}}}`. The host builds each value with
//! `ScriptInvocationContextExtensions.GetHttpScriptInvocationContextValue`
//! (Azure/azure-functions-host, `src/WebJobs.Script/Workers/MessageExtensions/`):
//! bytes become base64 (or stay bytes with `dataType: binary`), dates are parsed, an
//! object becomes a JSON object, and anything else, a string included, goes through
//! `JsonConvert.SerializeObject` before the whole context is serialized once more. So
//! every string arrives JSON-encoded twice: a blob's `name` and `Uri`, a queue
//! message's `Id` and `PopReceipt`, and the queue message itself, which with no
//! `dataType` binds as a string: `{"job":…}` arrives as `"\"{\\\"job\\\":…}\""`. The host's
//! own test asserts it (`ScriptInvocationContextExtensionsTests
//! .GetHttpScriptInvocationContextValueTest_String`: `"stringTest"` becomes
//! `"\"stringTest\""`). A number such as a queue's `DequeueCount` arrives as a string
//! (`"4"`). A timer's `ScheduleStatus` may be null. Reply: `{"Outputs": {…}, "Logs":
//! […], "ReturnValue": …}`; the host reads it only on a 2xx (`DefaultHttpWorkerService`
//! calls `EnsureSuccessStatusCode` first), so a failure's reason must be logged by the
//! handler itself.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One invocation as the host posts it.
#[derive(Debug, Clone, Deserialize)]
pub struct Invocation {
    #[serde(rename = "Data", default)]
    pub data: serde_json::Map<String, Value>,
    #[serde(rename = "Metadata", default)]
    pub metadata: serde_json::Map<String, Value>,
}

/// The handler's answer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InvocationReply {
    #[serde(rename = "Outputs")]
    pub outputs: serde_json::Map<String, Value>,
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    #[serde(rename = "ReturnValue")]
    pub return_value: Value,
}

/// A timer binding's value.
#[derive(Debug, Clone, Deserialize)]
pub struct TimerInfo {
    #[serde(rename = "IsPastDue", default)]
    pub is_past_due: bool,
    #[serde(rename = "ScheduleStatus", default)]
    pub schedule_status: Option<Value>,
}

impl Invocation {
    /// `Metadata.sys.UtcNow`: when the host invoked the function.
    pub fn utc_now(&self) -> Option<DateTime<Utc>> {
        let text = self.metadata.get("sys")?.get("UtcNow")?.as_str()?;
        DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
    }

    /// A `Metadata` string, decoded once more when the host encoded it twice.
    pub fn metadata_string(&self, key: &str) -> Option<String> {
        let value = self.metadata.get(key)?.as_str()?;
        match serde_json::from_str::<Value>(value) {
            Ok(Value::String(inner)) => Some(inner),
            _ => Some(value.to_string()),
        }
    }

    /// A `Data` binding, parsed as `T`. A string binding arrives JSON-encoded twice (see
    /// the module's doc): each layer of string that holds JSON is decoded, so a queue
    /// message's object is read whether it came encoded twice, once or not at all.
    pub fn binding<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, String> {
        let mut value = self
            .data
            .get(name)
            .ok_or_else(|| format!("the invocation has no `{name}` binding in Data"))?
            .clone();
        // Two layers from the host; a third would be a message someone encoded himself.
        for _ in 0..3 {
            let Value::String(text) = &value else { break };
            match serde_json::from_str::<Value>(text) {
                Ok(inner) => value = inner,
                Err(_) => break,
            }
        }
        serde_json::from_value(value).map_err(|e| format!("`{name}` is not what was expected: {e}"))
    }

    /// A binary binding's bytes (base64 in the envelope).
    pub fn binary(&self, name: &str) -> Result<Vec<u8>, String> {
        let text = self
            .data
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("no `{name}` content in Data"))?;
        let text = serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_string());
        STANDARD
            .decode(text.trim())
            .map_err(|e| format!("`{name}` is not base64: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_envelope_with_null_schedule_status_parses() {
        let invocation: Invocation = serde_json::from_str(
            r#"{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":true}},
                "Metadata":{"timer":"{\"Schedule\":{\"AdjustForDST\":true},\"ScheduleStatus\":null,\"IsPastDue\":true}",
                "sys":{"MethodName":"extract_timer","UtcNow":"2026-11-23T22:15:00.1304567Z","RandGuid":"a"}}}"#,
        )
        .unwrap();
        let timer: TimerInfo = invocation.binding("timer").unwrap();
        assert!(timer.is_past_due && timer.schedule_status.is_none());
        assert_eq!(
            invocation.utc_now().unwrap().to_rfc3339(),
            "2026-11-23T22:15:00.130456700+00:00"
        );
    }

    #[test]
    fn blob_metadata_is_decoded_twice_and_content_once_from_base64() {
        let invocation: Invocation = serde_json::from_str(
            r#"{"Data":{"blob":"eyJhIjoxfQ=="},
                "Metadata":{"name":"\"_manifests/date=2026-11-23/20261123T2215Z.json\"",
                "Uri":"\"https://acct.blob.core.windows.net/raw/_manifests/date=2026-11-23/20261123T2215Z.json\"",
                "sys":{"MethodName":"blob_trigger","UtcNow":"2026-11-23T22:20:00Z","RandGuid":"b"}}}"#,
        )
        .unwrap();
        assert_eq!(
            invocation.metadata_string("name").unwrap(),
            "_manifests/date=2026-11-23/20261123T2215Z.json"
        );
        assert!(
            invocation
                .metadata_string("Uri")
                .unwrap()
                .starts_with("https://acct.blob")
        );
        assert_eq!(invocation.binary("blob").unwrap(), br#"{"a":1}"#);
        assert!(
            invocation
                .binding::<TimerInfo>("timer")
                .unwrap_err()
                .contains("no `timer` binding")
        );
    }

    #[test]
    fn a_queue_message_encoded_twice_by_the_host_reads_as_the_object_it_carries() {
        // `{"job":"extract","id":"abc"}` as the host hands a string trigger to a custom
        // handler: SerializeObject, then the context serialized (see the module's doc).
        let message = r#"{"job":"extract","id":"abc"}"#;
        let once = serde_json::to_string(message).unwrap();
        let envelope = serde_json::json!({
            "Data": { "job": once },
            "Metadata": { "DequeueCount": "1", "Id": "\"5d4c3b2a\"", "sys": { "MethodName": "run_job" } }
        });
        let invocation: Invocation = serde_json::from_value(envelope).unwrap();
        let job: serde_json::Value = invocation.binding("job").unwrap();
        assert_eq!(job["id"], "abc");
        assert_eq!(invocation.metadata_string("Id").unwrap(), "5d4c3b2a");
        // Encoded once (as the docs' example shows it) and not at all read the same.
        for data in [
            serde_json::json!(message),
            serde_json::json!({"job": "extract", "id": "abc"}),
        ] {
            let invocation: Invocation =
                serde_json::from_value(serde_json::json!({ "Data": { "job": data } })).unwrap();
            assert_eq!(invocation.binding::<serde_json::Value>("job").unwrap()["id"], "abc");
        }
        // A plain string binding stays a string.
        let plain: Invocation =
            serde_json::from_value(serde_json::json!({ "Data": { "item": "\"HelloWorld\"" } })).unwrap();
        assert_eq!(plain.binding::<String>("item").unwrap(), "HelloWorld");
    }
}
