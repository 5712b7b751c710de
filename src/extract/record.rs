//! One lake record: the Helix object exactly as returned, plus snapshot and
//! extraction times.

use std::borrow::Cow;

use serde::Deserialize;

use crate::twitch::HelixPage;

/// The fields appended to every record of one page: `_snapshot_at` and `_extracted_at`.
/// Built once per page, since every record of a page shares them.
pub struct Stamp {
    after_fields: String,
    alone: String,
}

impl Stamp {
    pub fn new(snapshot_at: &str, extracted_at: &str) -> Stamp {
        // The times are RFC 3339 strings we produced: no escaping needed.
        let fields = format!(r#""_snapshot_at":"{snapshot_at}","_extracted_at":"{extracted_at}"}}"#);
        Stamp {
            after_fields: format!(",{fields}"),
            alone: fields,
        }
    }
}

/// A record ready to write: the object without its closing brace, then the stamp.
pub struct Annotated<'a> {
    pub head: Cow<'a, str>,
    pub tail: &'a str,
}

impl Annotated<'_> {
    /// The record as one NDJSON line (without the newline).
    pub fn to_vec(&self) -> Vec<u8> {
        [self.head.as_bytes(), self.tail.as_bytes()].concat()
    }
}

/// Appends the stamp to a raw Helix object without re-serializing it, so every
/// field lands byte for byte as Helix sent it. `None` if `raw` is not an object.
pub fn annotate<'a>(raw: &'a str, stamp: &'a Stamp) -> Option<Annotated<'a>> {
    let text = raw.trim();
    let head = text.strip_suffix('}').filter(|_| text.starts_with('{'))?;
    let empty = head[1..].trim().is_empty();
    // Serialized JSON never holds a raw newline, but a pretty-printed body would.
    let head = if memchr::memchr2(b'\n', b'\r', head.as_bytes()).is_some() {
        Cow::Owned(head.replace(['\n', '\r'], ""))
    } else {
        Cow::Borrowed(head)
    };
    Some(Annotated {
        head,
        tail: if empty { &stamp.alone } else { &stamp.after_fields },
    })
}

/// The stamp's field names at the top level of a record, as repeated keys would be.
#[derive(Deserialize)]
struct StampFields {
    #[serde(rename = "_snapshot_at", default)]
    snapshot_at: Option<serde::de::IgnoredAny>,
    #[serde(rename = "_extracted_at", default)]
    extracted_at: Option<serde::de::IgnoredAny>,
}

/// Whether `raw` already has a top-level `_snapshot_at` or `_extracted_at`. A substring
/// search first, so the common record is not parsed twice.
fn carries_a_stamp_field(raw: &str) -> bool {
    let named = |name: &[u8]| memchr::memmem::find(raw.as_bytes(), name).is_some();
    (named(br#""_snapshot_at""#) || named(br#""_extracted_at""#))
        && serde_json::from_str::<StampFields>(raw).is_ok_and(|f| f.snapshot_at.is_some() || f.extracted_at.is_some())
}

/// Item `index` of `page`, read as `T` (the fields extraction depends on) and
/// annotated; or why it cannot be used, for the quarantine: bytes that were not UTF-8,
/// a field missing or of the wrong type, or not an object. `what` names the item.
pub fn usable_item<'a, T: Deserialize<'a>>(
    page: &'a HelixPage,
    index: usize,
    stamp: &'a Stamp,
    what: &str,
) -> Result<(T, Annotated<'a>), String> {
    if page.invalid_utf8.contains(&index) {
        return Err("invalid UTF-8 in a field (kept here with U+FFFD in its place)".into());
    }
    let raw = page.data[index].get();
    let fields = serde_json::from_str::<T>(raw).map_err(|e| format!("unusable {what}: {e}"))?;
    if carries_a_stamp_field(raw) {
        // Repeated keys load differently per reader (Snowflake refuses them unless
        // told otherwise), so such a record is kept aside rather than guessed at.
        return Err(format!(
            "a {what} with a field named _snapshot_at or _extracted_at, which the lake reserves for its own times"
        ));
    }
    let line = annotate(raw, stamp).ok_or_else(|| format!("a {what} is not a JSON object"))?;
    Ok((fields, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(raw: &str) -> Option<Vec<u8>> {
        let stamp = Stamp::new("2026-11-23T22:15:00Z", "2026-11-23T22:15:04.120Z");
        annotate(raw, &stamp).map(|a| a.to_vec())
    }

    #[test]
    fn keeps_the_object_and_adds_both_times() {
        let line = line(r#"{"id":"1","tags":null,"game_id":""}"#).unwrap();
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
        let empty = line("{ }").unwrap();
        assert_eq!(
            empty,
            br#"{ "_snapshot_at":"2026-11-23T22:15:00Z","_extracted_at":"2026-11-23T22:15:04.120Z"}"#
        );
        let pretty = line("{\n  \"id\": \"7\"\n}").unwrap();
        assert!(!pretty.contains(&b'\n'));
        let value: serde_json::Value = serde_json::from_slice(&pretty).unwrap();
        assert_eq!(value["id"], "7");
    }

    #[test]
    fn numbers_too_large_for_a_float_land_as_sent() {
        // Found by the `helix_page` fuzz target: `{"id": 2444…e44444442}` is JSON text
        // but not an f64. The record keeps it byte for byte, and stays JSON text.
        let line = line(r#"{"id":   2444444444444444444444e44444442}"#).unwrap();
        let text = String::from_utf8(line).unwrap();
        assert!(text.starts_with(r#"{"id":   2444444444444444444444e44444442,"_snapshot_at""#));
        assert!(serde_json::from_str::<&serde_json::value::RawValue>(&text).is_ok());
    }

    #[test]
    fn a_record_carrying_a_stamp_field_is_kept_aside_not_landed_with_repeated_keys() {
        // Found by the `helix_page` fuzz target: `{"_snapshot_at":"many"}` annotated
        // has the key twice, which Snowflake refuses to load by default.
        let page = HelixPage::parse(
            br#"{"data":[{"id":"1","_snapshot_at":"many"},{"id":"2","title":"\"_extracted_at\""},{"id":"3","_extracted_at":1}]}"#,
        )
        .unwrap();
        let stamp = Stamp::new("2026-11-23T22:15:00Z", "2026-11-23T22:15:04.120Z");
        let reason = |i| usable_item::<crate::twitch::IdOnly>(&page, i, &stamp, "user").err();
        assert!(reason(0).unwrap().contains("reserves"), "{:?}", reason(0));
        assert_eq!(reason(1), None, "the name inside a string is just text");
        assert!(reason(2).is_some());
    }

    #[test]
    fn rejects_non_objects() {
        assert!(line("[1,2]").is_none());
        assert!(line("null").is_none());
        assert!(line("}").is_none());
    }
}
