//! Reading a gzip NDJSON lake file into loadable lines and rejected ones (the local
//! load's reader; Snowpipe reads the same files in Azure).

use std::io::{BufRead, BufReader};

use flate2::read::MultiGzDecoder;
use serde_json::value::RawValue;

/// Longest line kept in a reject row; longer ones are cut (the file keeps the whole).
const REJECT_LINE_CHARS: usize = 10_000;

/// A line that will not load, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// 1-based, as Snowflake's `METADATA$FILE_ROW_NUMBER`.
    pub line_number: u64,
    pub reason: String,
    pub line: String,
}

/// A file split into loadable rows (with their line numbers) and rejects.
#[derive(Debug, Default)]
pub struct CheckedFile {
    pub rows: Vec<(u64, String)>,
    pub rejected: Vec<Rejected>,
}

/// Decompresses `gzip` and checks that each line is one JSON object.
///
/// A file that stops being readable (truncated gzip, bad bytes) keeps the lines read
/// before the fault and gets one reject saying where and why reading stopped.
pub fn check_file(gzip: &[u8]) -> CheckedFile {
    let mut checked = CheckedFile::default();
    let mut reader = BufReader::new(MultiGzDecoder::new(gzip));
    let mut buffer = Vec::new();
    let mut line_number = 0u64;
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                checked.rejected.push(Rejected {
                    line_number: line_number + 1,
                    reason: format!("the file cannot be read past line {line_number}: {e}"),
                    line: String::new(),
                });
                break;
            }
        }
        line_number += 1;
        let raw = buffer.strip_suffix(b"\n").unwrap_or(&buffer);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        match check_line(raw) {
            Ok(line) => checked.rows.push((line_number, line.to_string())),
            Err(reason) => checked.rejected.push(Rejected {
                line_number,
                reason,
                line: String::from_utf8_lossy(raw).chars().take(REJECT_LINE_CHARS).collect(),
            }),
        }
    }
    checked
}

fn check_line(raw: &[u8]) -> Result<&str, String> {
    let text = std::str::from_utf8(raw).map_err(|e| format!("not UTF-8: {e}"))?;
    if text.trim().is_empty() {
        return Err("empty line".into());
    }
    let value: &RawValue = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    if !value.get().starts_with('{') {
        return Err("not a JSON object".into());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(text: &str) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn malformed_lines_are_rejected_with_their_number_and_the_rest_loads() {
        let checked = check_file(&gzip("{\"id\":\"1\"}\n{\"id\":\n[1]\n\n{\"id\":\"5\"}\n"));
        let numbers: Vec<u64> = checked.rows.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [1, 5]);
        let rejected: Vec<(u64, &str)> = checked
            .rejected
            .iter()
            .map(|r| (r.line_number, r.reason.as_str()))
            .collect();
        assert_eq!(rejected.len(), 3);
        assert_eq!(rejected[0].0, 2);
        assert!(rejected[0].1.starts_with("not valid JSON"), "{rejected:?}");
        assert_eq!(rejected[1], (3, "not a JSON object"));
        assert_eq!(rejected[2], (4, "empty line"));
        assert_eq!(checked.rejected[0].line, "{\"id\":");
    }

    #[test]
    fn a_truncated_file_keeps_what_was_read_and_says_where_it_stopped() {
        let whole = gzip(&"{\"id\":\"1\"}\n".repeat(5_000));
        let checked = check_file(&whole[..whole.len() / 2]);
        assert!(!checked.rows.is_empty());
        let last = checked.rejected.last().expect("a reject for the truncation");
        assert!(last.reason.contains("cannot be read past line"), "{}", last.reason);
        assert_eq!(last.line_number, checked.rows.len() as u64 + 1);
    }

    #[test]
    fn a_final_line_without_newline_still_loads() {
        let checked = check_file(&gzip("{\"a\":1}\n{\"b\":2}"));
        assert_eq!(checked.rows.len(), 2);
        assert!(checked.rejected.is_empty());
    }
}
