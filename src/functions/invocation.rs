//! The Functions host's custom-handler envelopes, as the host really sends them.
//!
//! Request: `{"Data": {<binding>: …}, "Metadata": {…, "sys": {"MethodName", "UtcNow",
//! "RandGuid"}}}`. Strings inside `Metadata` (a blob's `name`, `Uri`) arrive JSON-encoded
//! twice (`"\"raw/x.json\""`); a blob with `dataType: binary` arrives base64; a timer's
//! `ScheduleStatus` may be null. Reply: `{"Outputs": {…}, "Logs": […], "ReturnValue": …}`.

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

    /// The first `Data` binding, parsed as `T` (it may itself arrive as a JSON string).
    pub fn binding<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, String> {
        let value = self
            .data
            .get(name)
            .ok_or_else(|| format!("the invocation has no `{name}` binding in Data"))?;
        let value = match value {
            Value::String(text) => serde_json::from_str(text).map_err(|e| format!("`{name}` is not JSON: {e}"))?,
            other => other.clone(),
        };
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
}
