//! What a run builds and how: dbt's command-line flags.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// What to build.
#[derive(Clone, Debug, Default)]
pub struct TransformOptions {
    /// dbt's `--select` of models, snapshots, sources and tests, with `+`, `N+`/`+N`
    /// and `@`; words are a union, commas an intersection ([`crate::selection`]).
    pub select: Vec<String>,
    /// dbt's `--exclude`, in the same grammar.
    pub exclude: Vec<String>,
    /// Rebuild incremental models from scratch (snapshots keep their history, as in dbt).
    pub full_refresh: bool,
    /// Check source freshness before building.
    pub check_freshness: bool,
    /// `--vars`: values for `var()` over the project's `vars:`.
    pub vars: BTreeMap<String, serde_json::Value>,
    /// dbt's `target.name`; `dev` when unset.
    pub target_name: Option<String>,
    /// Where to write dbt's artifacts (dbt's `target/`); none: not written.
    pub target_path: Option<PathBuf>,
    /// Check whole tables, even where a test passed on the last run and an
    /// incremental run could check only what it merged ([`crate::checks::batch_sql`]).
    pub full_checks: bool,
    /// dbt's `threads`: how many nodes are built at once, each (with its tests) on a
    /// session of its own; one (or zero) builds them one at a time in build order.
    pub threads: usize,
}

impl TransformOptions {
    pub fn target_name(&self) -> &str {
        self.target_name.as_deref().unwrap_or("dev")
    }
}
