//! A Helix page body, as `/streams`, `/users` or `/games` answer: parsed, then every
//! item read as extraction reads it (stream key, id, annotated record).
#![no_main]

use libfuzzer_sys::fuzz_target;
use twitch_pipeline::extract::{Stamp, annotate, usable_item};
use twitch_pipeline::twitch::{HelixPage, IdOnly, StreamKey};

fuzz_target!(|body: &[u8]| {
    let Ok(page) = HelixPage::parse(body) else {
        return;
    };
    let _ = page.cursor();
    let stamp = Stamp::new("2026-11-23T20:00:00Z", "2026-11-23T20:00:04.120Z");
    for (index, item) in page.data.iter().enumerate() {
        assert!(page.invalid_utf8.iter().all(|&i| i < page.data.len()));
        // What extraction does with the item: usable (its line holds the stamp) or a reason.
        match usable_item::<StreamKey>(&page, index, &stamp, "stream") {
            Ok((_, line)) => assert!(line.tail.ends_with('}')),
            Err(reason) => assert!(!reason.is_empty()),
        }
        let _ = usable_item::<IdOnly>(&page, index, &stamp, "user");
        if let Some(line) = annotate(item.get(), &stamp) {
            // An annotated record is one line of JSON holding both times.
            let line = line.to_vec();
            assert!(!line.contains(&b'\n'));
            // JSON text in, JSON text out. (Not necessarily a serde_json `Value`: a
            // number like 1e400 is valid JSON that does not fit an f64; it stays as sent.)
            if !page.invalid_utf8.contains(&index) {
                let raw: &serde_json::value::RawValue =
                    serde_json::from_slice(&line).expect("an annotated object is JSON text");
                assert!(raw.get().ends_with(r#""_extracted_at":"2026-11-23T20:00:04.120Z"}"#));
                if let Ok(original) = serde_json::from_str::<serde_json::Value>(item.get()) {
                    // Every field kept, and the stamp's times win over any field of
                    // the same name (they come last).
                    let annotated: serde_json::Value = serde_json::from_slice(&line).unwrap();
                    assert_eq!(annotated["_snapshot_at"], "2026-11-23T20:00:00Z");
                    assert_eq!(annotated["_extracted_at"], "2026-11-23T20:00:04.120Z");
                    let original = original.as_object().unwrap();
                    for (key, value) in original {
                        if key != "_snapshot_at" && key != "_extracted_at" {
                            assert_eq!(&annotated[key], value);
                        }
                    }
                }
            }
        }
    }
});
