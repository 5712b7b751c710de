//! The kinds of things a config chooses: how a node is materialized, how a snapshot
//! detects changes, how an incremental model merges, each read from its config value.

use crate::warehouse::Dialect;

/// How a node becomes a relation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Materialized {
    View,
    Table,
    /// Merged on `unique_key` (or appended) after the first build.
    Incremental,
    /// SCD2 history, by the timestamp or the check strategy.
    Snapshot(Box<SnapshotConfig>),
}

/// A snapshot's config: its key, how it tells a changed row, what it does with keys
/// gone from its source, and the names of the columns it adds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotConfig {
    /// One column, or several (dbt 1.9+), that together name a row's key.
    pub unique_key: Vec<String>,
    pub strategy: SnapshotStrategy,
    /// The column holding a version's time: with `timestamp`, whose newer value
    /// makes a new version; with `check`, optional (the run's time otherwise).
    pub updated_at: Option<String>,
    pub hard_deletes: HardDeletes,
    /// `dbt_valid_to_current`: the SQL expression a current row's `dbt_valid_to` holds
    /// instead of NULL (e.g. `'9999-12-31'::timestamp`).
    pub valid_to_current: Option<String>,
    /// What the columns dbt adds are named.
    pub columns: MetaColumns,
}

/// The names of the columns a snapshot adds (`snapshot_meta_column_names`, dbt 1.9+;
/// each defaults to dbt's, as dbt-core's `SnapshotConfig.snapshot_table_column_names`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaColumns {
    pub scd_id: String,
    pub updated_at: String,
    pub valid_from: String,
    pub valid_to: String,
    pub is_deleted: String,
}

impl Default for MetaColumns {
    fn default() -> Self {
        MetaColumns {
            scd_id: "dbt_scd_id".into(),
            updated_at: "dbt_updated_at".into(),
            valid_from: "dbt_valid_from".into(),
            valid_to: "dbt_valid_to".into(),
            is_deleted: "dbt_is_deleted".into(),
        }
    }
}

impl MetaColumns {
    /// From `snapshot_meta_column_names`: a mapping of dbt's names to the wanted ones.
    pub(super) fn read(value: Option<&serde_json::Value>) -> Result<Self, String> {
        let mut columns = MetaColumns::default();
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(columns);
        };
        let Some(names) = value.as_object() else {
            return Err(format!(
                "`snapshot_meta_column_names` must map dbt's column names to yours, not {value}"
            ));
        };
        for (meta, name) in names {
            let Some(name) = name.as_str() else {
                return Err(format!(
                    "`snapshot_meta_column_names.{meta}` must be a column name, not {name}"
                ));
            };
            let slot = match meta.as_str() {
                "dbt_scd_id" => &mut columns.scd_id,
                "dbt_updated_at" => &mut columns.updated_at,
                "dbt_valid_from" => &mut columns.valid_from,
                "dbt_valid_to" => &mut columns.valid_to,
                "dbt_is_deleted" => &mut columns.is_deleted,
                other => {
                    return Err(format!(
                        "`snapshot_meta_column_names` names `{other}`, not one of dbt_scd_id, dbt_updated_at, \
                         dbt_valid_from, dbt_valid_to, dbt_is_deleted"
                    ));
                }
            };
            *slot = name.to_string();
        }
        Ok(columns)
    }
}

/// How a snapshot tells that a key's row changed (dbt-adapters'
/// `snapshot_timestamp_strategy` and `snapshot_check_strategy`, strategies.sql).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotStrategy {
    /// `updated_at` is newer than the current row's `dbt_valid_from`.
    Timestamp,
    /// One of `check_cols` differs from the current row's (NULL-safe); when one of
    /// them is new to the table, every row counts as changed.
    Check(CheckCols),
}

/// A check snapshot's `check_cols`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckCols {
    /// `'all'`: every column of the query.
    All,
    Listed(Vec<String>),
}

/// What a snapshot does with a key its source no longer returns (dbt 1.9+
/// `hard_deletes`, read as dbt-adapters' `get_hard_deletes_behavior` reads it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HardDeletes {
    /// The key's current row stays current.
    #[default]
    Ignore,
    /// The key's current row is closed (`dbt_valid_to` = the run's time).
    Invalidate,
    /// The current row is closed and a row marked `dbt_is_deleted = 'True'` opens.
    NewRecord,
}

/// How an incremental run writes its new rows (dbt's `incremental_strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncrementalStrategy {
    /// Delete the target's rows whose `unique_key` is among the new rows (and that
    /// match the `incremental_predicates`), then insert the new rows.
    DeleteInsert,
    /// Insert the new rows; `unique_key` is not used.
    Append,
    /// `merge into` on `unique_key` (and the predicates): matched rows are updated,
    /// the others inserted.
    Merge,
}

impl IncrementalStrategy {
    /// The adapter's default when a model names none: dbt-duckdb's is delete+insert
    /// (`duckdb__get_incremental_default_sql`), dbt-snowflake's merge.
    pub fn default_for(dialect: Dialect) -> IncrementalStrategy {
        if dialect == Dialect::Snowflake {
            IncrementalStrategy::Merge
        } else {
            IncrementalStrategy::DeleteInsert
        }
    }
}

/// What an incremental run does when the model's columns no longer match the table's
/// (dbt's `on_schema_change`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnSchemaChange {
    /// Insert the table's columns; a new column is left out, a removed one fails.
    #[default]
    Ignore,
    /// Stop with the differences.
    Fail,
    /// Add the new columns to the table.
    AppendNewColumns,
    /// Add the new columns and drop the removed ones.
    SyncAllColumns,
}

/// The columns a merge updates in a row it matches.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum MergeUpdate {
    #[default]
    All,
    Only(Vec<String>),
    AllBut(Vec<String>),
}

impl MergeUpdate {
    /// Of the target's `columns`, those a matched row gets from the new one; an error
    /// names a listed column the target lacks, or says that none is left to update.
    pub fn columns<'c>(&self, columns: &'c [String]) -> Result<Vec<&'c String>, String> {
        let listed = match self {
            MergeUpdate::All => return Ok(columns.iter().collect()),
            MergeUpdate::Only(listed) | MergeUpdate::AllBut(listed) => listed,
        };
        let missing: Vec<&String> = listed
            .iter()
            .filter(|l| !columns.iter().any(|c| c.eq_ignore_ascii_case(l)))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "merge_update_columns / merge_exclude_columns name {} that the table does not have (it has {})",
                missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
                columns.join(", ")
            ));
        }
        let listed_has = |c: &String| listed.iter().any(|l| l.eq_ignore_ascii_case(c));
        let updated: Vec<&String> = columns
            .iter()
            .filter(|c| matches!(self, MergeUpdate::Only(_)) == listed_has(c))
            .collect();
        if updated.is_empty() {
            return Err("merge_exclude_columns leaves no column to update".into());
        }
        Ok(updated)
    }
}
