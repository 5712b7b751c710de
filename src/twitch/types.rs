//! Helix response shapes, read only as far as extraction needs.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// One Helix page. Items stay raw so they land in the lake exactly as returned.
#[derive(Debug, Deserialize)]
pub struct HelixPage {
    pub data: Vec<Box<RawValue>>,
    #[serde(default)]
    pub pagination: Option<Pagination>,
    /// Indices of `data` items that held bytes that are not UTF-8; each such byte
    /// sequence reads as U+FFFD in the item. Extraction quarantines these items.
    #[serde(skip)]
    pub invalid_utf8: Vec<usize>,
}

/// A page with its items borrowed from the text, to find where each one lies.
#[derive(Deserialize)]
struct BorrowedPage<'a> {
    #[serde(borrow)]
    data: Vec<&'a RawValue>,
    #[serde(default)]
    pagination: Option<Pagination>,
}

impl HelixPage {
    /// Reads a page body. Bytes that are not UTF-8 cost only the items that hold
    /// them (marked in `invalid_utf8`), not the page: a retry would bring them back.
    pub fn parse(body: &[u8]) -> serde_json::Result<HelixPage> {
        if std::str::from_utf8(body).is_ok() {
            return serde_json::from_slice(body);
        }
        // Replace each invalid sequence with U+FFFD, noting where it went.
        let mut text = String::with_capacity(body.len() + 16);
        let mut replaced = Vec::new();
        for chunk in body.utf8_chunks() {
            text.push_str(chunk.valid());
            if !chunk.invalid().is_empty() {
                replaced.push(text.len());
                text.push(char::REPLACEMENT_CHARACTER);
            }
        }
        let borrowed: BorrowedPage = serde_json::from_str(&text)?;
        let invalid_utf8 = borrowed
            .data
            .iter()
            .enumerate()
            .filter(|(_, item)| {
                let start = item.get().as_ptr() as usize - text.as_ptr() as usize;
                let end = start + item.get().len();
                replaced.iter().any(|&at| (start..end).contains(&at))
            })
            .map(|(i, _)| i)
            .collect();
        Ok(HelixPage {
            data: borrowed.data.into_iter().map(RawValue::to_owned).collect(),
            pagination: borrowed.pagination,
            invalid_utf8,
        })
    }
}

/// Helix's `pagination` object; the cursor is absent (or `{}`) on the last page.
#[derive(Debug, Default, Deserialize)]
pub struct Pagination {
    pub cursor: Option<String>,
}

impl HelixPage {
    /// The cursor of the next page, if there is one.
    pub fn cursor(&self) -> Option<&str> {
        self.pagination.as_ref()?.cursor.as_deref().filter(|c| !c.is_empty())
    }
}

/// The fields of a stream that paging and look-ups depend on, borrowed from the page.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct StreamKey<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow)]
    pub user_id: Cow<'a, str>,
    /// `""` when the stream has no category.
    #[serde(borrow)]
    pub game_id: Cow<'a, str>,
    pub viewer_count: u64,
    /// The broadcast language: what the listing is partitioned by.
    #[serde(borrow)]
    pub language: Cow<'a, str>,
    /// RFC 3339 UTC: tells a stream that started during a run from one a run missed.
    #[serde(borrow)]
    pub started_at: Cow<'a, str>,
}

/// The id of a user or game object.
#[derive(Debug, Deserialize)]
pub struct IdOnly<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_costs_only_the_items_that_hold_it() {
        let mut body = br#"{"data":[{"id":"1","title":"ok"},{"id":"2","title":"bad "#.to_vec();
        body.extend_from_slice(&[0xFF, 0xFE]);
        body.extend_from_slice(br#""},{"id":"3"}],"pagination":{"cursor":"c"}}"#);
        let page = HelixPage::parse(&body).unwrap();
        assert_eq!(page.data.len(), 3);
        assert_eq!(page.invalid_utf8, [1]);
        assert!(page.data[1].get().contains('\u{FFFD}'));
        assert_eq!(page.cursor(), Some("c"));
    }

    #[test]
    fn a_valid_page_marks_nothing_and_a_truncated_one_is_an_error() {
        let page = HelixPage::parse(br#"{"data":[{"id":"1","title":"caf\u00e9 \ufffd"}]}"#).unwrap();
        assert!(page.invalid_utf8.is_empty());
        assert!(HelixPage::parse(br#"{"data":[{"id":"1""#).is_err());
        let mut cut = br#"{"data":[{"id":""#.to_vec();
        cut.push(0xC3);
        assert!(HelixPage::parse(&cut).is_err());
    }
}
