//! One lake record: the Helix object exactly as returned, plus snapshot and
//! extraction times.

use serde_json::value::RawValue;

/// Appends `_snapshot_at` and `_extracted_at` to a raw Helix object without
/// re-serializing it, so every field lands byte for byte as Helix sent it.
/// Returns `None` if `raw` is not a JSON object.
pub fn annotate(raw: &RawValue, snapshot_at: &str, extracted_at: &str) -> Option<Vec<u8>> {
    let text = raw.get().trim();
    let body = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut line = Vec::with_capacity(text.len() + 80);
    line.push(b'{');
    line.extend_from_slice(body.as_bytes());
    if !body.trim().is_empty() {
        line.push(b',');
    }
    // The times are RFC 3339 strings we produced: no escaping needed.
    line.extend_from_slice(b"\"_snapshot_at\":\"");
    line.extend_from_slice(snapshot_at.as_bytes());
    line.extend_from_slice(b"\",\"_extracted_at\":\"");
    line.extend_from_slice(extracted_at.as_bytes());
    line.extend_from_slice(b"\"}");
    // Serialized JSON never holds a raw newline, but a pretty-printed body would.
    line.retain(|b| *b != b'\n' && *b != b'\r');
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn keeps_the_object_and_adds_both_times() {
        let line = annotate(
            &raw(r#"{"id":"1","tags":null,"game_id":""}"#),
            "2026-11-23T22:15:00Z",
            "2026-11-23T22:15:04.120Z",
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value["id"], "1");
        assert!(value["tags"].is_null());
        assert_eq!(value["game_id"], "");
        assert_eq!(value["_snapshot_at"], "2026-11-23T22:15:00Z");
        assert_eq!(value["_extracted_at"], "2026-11-23T22:15:04.120Z");
        assert!(
            String::from_utf8(line)
                .unwrap()
                .starts_with(r#"{"id":"1","tags":null,"game_id":"","#)
        );
    }

    #[test]
    fn handles_empty_and_pretty_objects() {
        let empty = annotate(&raw("{ }"), "a", "b").unwrap();
        assert_eq!(empty, br#"{ "_snapshot_at":"a","_extracted_at":"b"}"#);
        let pretty = annotate(&raw("{\n  \"id\": \"7\"\n}"), "a", "b").unwrap();
        assert!(!pretty.contains(&b'\n'));
        serde_json::from_slice::<serde_json::Value>(&pretty).unwrap();
    }

    #[test]
    fn rejects_non_objects() {
        assert!(annotate(&raw("[1,2]"), "a", "b").is_none());
        assert!(annotate(&raw("null"), "a", "b").is_none());
    }
}
