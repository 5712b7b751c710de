//! `report --site DIR`: the report as a static site that opens with no network.
//!
//! - `index.html`: the overview (the report page's charts, its health and tests) and
//!   this week's top streamers and games;
//! - `rankings.html`: streamers, games and languages per week, month and rolling 7
//!   and 30 days, with rank change and growth;
//! - `platform.html`: the platform per day, its concentration, its week's rhythm;
//! - `health.html`: the pipeline's health and the transform runs kept in the lake;
//! - `lineage.html`: the models and what each is built from, from manifest.json;
//! - `channel/{user_id}.html` and `game/{game_id}.html`: one page per channel and game
//!   named in a table of the site (every name in a table links to its page): its
//!   days, its weekly rank, its hours of the week.
//!
//! Every page is plain HTML with inline CSS and SVG, no script; each chart's marks
//! carry the class `mark`, as on the report page, for the Chromium test.

mod data;
mod lineage;
mod pages;

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::Report;
use crate::lake::RunHistory;
use crate::transform::{Marts, TestResult};
use crate::warehouse::{Warehouse, WarehouseError};

/// Why the site could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("cannot read the marts for the site: {0}")]
    Warehouse(#[from] WarehouseError),
    #[error(transparent)]
    Project(#[from] crate::transform::TransformError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What the site is built from besides the warehouse.
pub struct SiteInput<'a> {
    /// The report of the last 24 hours (the overview page).
    pub report: &'a Report,
    /// The last run's test results, when the site follows a transform.
    pub tests: &'a [TestResult],
    /// The transform runs kept in the lake, and the newest one's manifest.
    pub runs: &'a RunHistory,
    /// A manifest.json to draw the lineage from when no run in the lake kept one
    /// (the project's `target/` after a local `transform`).
    pub fallback_manifest: Option<serde_json::Value>,
    /// The line under each page's title (what the data is).
    pub subtitle: &'a str,
    /// Rows per ranking table.
    pub top: usize,
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteSummary {
    pub dir: PathBuf,
    pub pages: usize,
    pub bytes: u64,
    pub largest_page: u64,
    pub seconds: f64,
}

/// Writes the site into `dir` (created; pages already there are replaced). Reads what
/// it shows first, then writes the pages; `on_page(done, total)` follows the writing.
pub async fn write_site<W: Warehouse>(
    warehouse: &mut W,
    marts: &Marts,
    input: &SiteInput<'_>,
    dir: &Path,
    mut on_page: impl FnMut(usize, usize),
) -> Result<SiteSummary, SiteError> {
    let started = Instant::now();
    let data = data::SiteData::read(warehouse, marts, input.top).await?;
    let manifest = input.runs.manifest.as_ref().or(input.fallback_manifest.as_ref());
    let mut pages: Vec<(PathBuf, String)> = vec![
        ("index.html".into(), pages::overview(input, &data)),
        ("rankings.html".into(), pages::rankings(input, &data)),
        ("platform.html".into(), pages::platform(input, &data)),
        ("health.html".into(), pages::health(input)),
        ("lineage.html".into(), pages::lineage(input, manifest)),
    ];
    for channel in &data.channels {
        pages.push((pages::channel_path(&channel.id), pages::channel(input, channel)));
    }
    for game in &data.games {
        pages.push((pages::game_path(&game.id), pages::game(input, game)));
    }
    let total = pages.len();
    let (mut bytes, mut largest_page) = (0u64, 0u64);
    for (done, (path, html)) in pages.into_iter().enumerate() {
        let path = dir.join(path);
        let write = |path: &Path| -> std::io::Result<()> {
            std::fs::create_dir_all(path.parent().expect("a page has a folder"))?;
            std::fs::write(path, &html)
        };
        write(&path).map_err(|source| SiteError::Write {
            path: path.clone(),
            source,
        })?;
        bytes += html.len() as u64;
        largest_page = largest_page.max(html.len() as u64);
        on_page(done + 1, total);
    }
    Ok(SiteSummary {
        dir: dir.to_path_buf(),
        pages: total,
        bytes,
        largest_page,
        seconds: started.elapsed().as_secs_f64(),
    })
}
