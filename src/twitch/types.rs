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
}

/// The id of a user or game object.
#[derive(Debug, Deserialize)]
pub struct IdOnly<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
}
