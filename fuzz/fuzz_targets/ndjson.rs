//! The lake's NDJSON reader on any bytes (gzip or not), and the record annotator on
//! any text: every line is loaded or rejected with a reason, nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twitch_pipeline::extract::{Stamp, annotate};
use twitch_pipeline::lake::check_file;

fuzz_target!(|data: &[u8]| {
    let checked = check_file(data);
    for (number, line) in &checked.rows {
        assert!(*number >= 1);
        assert!(line.trim_start().starts_with('{'));
    }
    for rejected in &checked.rejected {
        assert!(!rejected.reason.is_empty());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let stamp = Stamp::new("2026-11-23T20:00:00Z", "2026-11-23T20:00:04.120Z");
        if let Some(line) = annotate(text, &stamp) {
            let line = line.to_vec();
            assert!(!line.contains(&b'\n') && !line.contains(&b'\r'));
        }
    }
});
