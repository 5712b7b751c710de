//! Turning a rendered `select` into a relation: view, table, incremental, snapshot.
//!
//! The SQL is the common subset of DuckDB and Snowflake, so both run the same
//! statements; each statement goes to the warehouse on its own.

use crate::config::{
    CheckCols, HardDeletes, IncrementalStrategy, Materialized, MetaColumns, NodeConfig, OnSchemaChange, SnapshotConfig,
    SnapshotStrategy,
};
use crate::render::Relation;
use crate::warehouse::Dialect;
use crate::warehouse::{Warehouse, WarehouseError};

/// Why a node could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// The model's columns and the table's differ and `on_schema_change` is `fail`.
    #[error("{0}")]
    OutOfSync(String),
    /// The model's config does not fit its table (e.g. it names a column the table lacks).
    #[error("{0}")]
    Config(String),
}

/// What kind of object a relation is in the warehouse right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    Absent,
    Table,
    View,
}

/// What building one node did, for the run's report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Built {
    View,
    Table,
    /// An incremental model: `created` on its first build or a full refresh.
    Incremental {
        created: bool,
    },
    Snapshot {
        created: bool,
    },
}

impl Existing {
    /// What building a node materialized as `materialized` leaves: a view, or a table.
    pub fn built_as(materialized: &Materialized) -> Self {
        if *materialized == Materialized::View {
            Existing::View
        } else {
            Existing::Table
        }
    }

    /// From `information_schema.tables.table_type` (`BASE TABLE`, `VIEW`, …).
    fn of_table_type(table_type: &str) -> Self {
        if table_type.to_ascii_uppercase().contains("VIEW") {
            Existing::View
        } else {
            Existing::Table
        }
    }
}

/// What the run's schemas hold, read in one query when a run starts and kept as the
/// run builds, as dbt caches the relations of every schema it may build in at the
/// start of a run (docs.getdbt.com/reference/global-configs/cache) rather than asking
/// for each model. (Asked per model, it was 13 catalog queries in an hourly run of the twitch-pipeline: 3 ms
/// each on DuckDB, a round trip each on Snowflake.)
#[derive(Debug, Default)]
pub struct Catalog {
    /// (schema, name), lowercased, as the warehouse compares them.
    relations: std::collections::BTreeMap<(String, String), Existing>,
}

impl Catalog {
    /// The relations in `schemas`.
    pub async fn read<'s, W: Warehouse>(
        warehouse: &mut W,
        schemas: impl IntoIterator<Item = &'s str>,
    ) -> Result<Self, WarehouseError> {
        let mut catalog = Catalog::default();
        let listed: Vec<String> = schemas
            .into_iter()
            .map(|s| format!("'{}'", s.to_lowercase().replace('\'', "''")))
            .collect();
        if listed.is_empty() {
            return Ok(catalog);
        }
        let table = warehouse
            .query(&format!(
                "select table_schema, table_name, table_type from information_schema.tables \
                 where lower(table_schema) in ({})",
                listed.join(", ")
            ))
            .await?;
        for row in &table.rows {
            if let [Some(schema), Some(name), Some(kind)] = row.as_slice() {
                catalog
                    .relations
                    .insert(Self::key(schema, name), Existing::of_table_type(kind));
            }
        }
        Ok(catalog)
    }

    fn key(schema: &str, name: &str) -> (String, String) {
        (schema.to_lowercase(), name.to_lowercase())
    }

    /// What `relation` is now.
    pub fn existing(&self, relation: &Relation) -> Existing {
        self.relations
            .get(&Self::key(&relation.schema, &relation.name))
            .copied()
            .unwrap_or(Existing::Absent)
    }

    /// Records that `relation` is now `existing` (each node is built once a run).
    pub fn record(&mut self, relation: &Relation, existing: Existing) {
        self.relations
            .insert(Self::key(&relation.schema, &relation.name), existing);
    }
}

/// The columns of `relation`, in order, from a select of no rows (a catalog query
/// costs several times more on DuckDB).
pub async fn columns<W: Warehouse>(warehouse: &mut W, relation: &Relation) -> Result<Vec<String>, WarehouseError> {
    let table = warehouse
        .query(&format!("select * from {relation} where 1 = 0"))
        .await?;
    Ok(table.columns)
}

/// Builds `relation` from `sql` as `config` says. `existing` is what is there now;
/// `full_refresh` rebuilds incremental models from scratch.
pub async fn build<W: Warehouse>(
    warehouse: &mut W,
    config: &NodeConfig,
    relation: &Relation,
    sql: &str,
    existing: Existing,
    full_refresh: bool,
) -> Result<Built, BuildError> {
    // A model that changed kind (view <-> table) must lose its old object first.
    let wanted = Existing::built_as(&config.materialized);
    let mut existing = existing;
    if existing != Existing::Absent && existing != wanted {
        let kind = if existing == Existing::View { "view" } else { "table" };
        warehouse.execute(&format!("drop {kind} if exists {relation}")).await?;
        existing = Existing::Absent;
    }
    match config.materialized {
        Materialized::View => {
            warehouse
                .execute(&format!("create or replace view {relation} as (\n{sql}\n)"))
                .await?;
            Ok(Built::View)
        }
        Materialized::Table => {
            create_table(warehouse, relation, sql).await?;
            Ok(Built::Table)
        }
        Materialized::Incremental if existing == Existing::Absent || full_refresh => {
            create_table(warehouse, relation, sql).await?;
            Ok(Built::Incremental { created: true })
        }
        Materialized::Incremental => {
            merge(warehouse, relation, sql, config).await?;
            Ok(Built::Incremental { created: false })
        }
        // As in dbt, `--full-refresh` never drops a snapshot: its history cannot be rebuilt.
        Materialized::Snapshot(ref snapshot) if existing == Existing::Absent => {
            let sql = first_snapshot(snapshot, sql, warehouse.dialect());
            create_table(warehouse, relation, &sql).await?;
            Ok(Built::Snapshot { created: true })
        }
        Materialized::Snapshot(ref snapshot) => {
            update_snapshot(warehouse, relation, sql, snapshot).await?;
            Ok(Built::Snapshot { created: false })
        }
    }
}

async fn create_table<W: Warehouse>(warehouse: &mut W, relation: &Relation, sql: &str) -> Result<(), WarehouseError> {
    warehouse
        .execute(&format!("create or replace table {relation} as (\n{sql}\n)"))
        .await
}

/// dbt's snapshot row id: md5 of `arguments` (the key columns, then the version's
/// time), as dbt-adapters' `default__snapshot_hash_arguments` hashes them.
fn scd_id<S: AsRef<str>>(arguments: &[S]) -> String {
    let parts: Vec<String> = arguments
        .iter()
        .map(|a| format!("coalesce(cast({} as varchar), '')", a.as_ref()))
        .collect();
    format!("md5({})", parts.join(" || '|' || "))
}

/// A temporary table beside `relation`, named after it with `suffix`. On Snowflake it
/// is in the relation's schema, as dbt's `default__make_temp_relation` keeps the
/// target's database and schema (dbt-adapters, `global_project/macros/adapters/
/// relation.sql`): a session's own schema may be one the role cannot use (`PUBLIC` of
/// a database it did not create), and an unqualified create there fails ("Cannot
/// perform CREATE TEMPTABLE. This session does not have a current schema", 090106).
/// DuckDB keeps temporary tables in its `temp` catalog only, so they go unqualified,
/// as dbt-duckdb makes them.
fn temp_table(dialect: Dialect, relation: &Relation, suffix: &str) -> String {
    let name = format!("{}{suffix}", relation.name);
    match dialect {
        Dialect::Snowflake => Relation::new(relation.schema.clone(), name).to_string(),
        Dialect::DuckDb => name,
    }
}

/// The new rows go to a temporary table first, so the select runs once.
fn staging_name(dialect: Dialect, relation: &Relation) -> String {
    temp_table(dialect, relation, "__dbt_tmp")
}

/// The temporary table holding the rows an incremental run of `relation` merged (its
/// batch), kept after the merge for the model's tests ([`crate::checks::batch_sql`])
/// until [`drop_batch`].
pub fn batch_table(dialect: Dialect, relation: &Relation) -> String {
    staging_name(dialect, relation)
}

/// Drops the batch of `relation`'s incremental run.
pub async fn drop_batch<W: Warehouse>(warehouse: &mut W, relation: &Relation) -> Result<(), WarehouseError> {
    let batch = batch_table(warehouse.dialect(), relation);
    warehouse.execute(&format!("drop table if exists {batch}")).await
}

/// The columns a staged write works with.
struct StagedColumns {
    /// The target's, after `on_schema_change`.
    target: Vec<String>,
    /// The staged rows', when `on_schema_change` compared them (any but `ignore`).
    staged: Option<Vec<String>>,
    /// Those of the staged rows' that were added to the target.
    added: Vec<String>,
}

/// Stages the select `sql` in a temporary table, brings the target's columns in line
/// with it as `on_schema_change` says, then runs, all or nothing, the statements
/// `write` makes from the staged table's name and the columns. The staged table is
/// dropped unless `keep_staged`.
async fn apply_staged<W: Warehouse>(
    warehouse: &mut W,
    relation: &Relation,
    sql: &str,
    on_schema_change: OnSchemaChange,
    keep_staged: bool,
    write: impl FnOnce(&str, &StagedColumns) -> Result<Vec<String>, BuildError>,
) -> Result<(), BuildError> {
    let staged = staging_name(warehouse.dialect(), relation);
    warehouse
        .execute(&format!("create or replace temporary table {staged} as (\n{sql}\n)"))
        .await?;
    let columns = match on_schema_change {
        OnSchemaChange::Ignore => StagedColumns {
            target: columns(warehouse, relation).await?,
            staged: None,
            added: Vec::new(),
        },
        change => sync_columns(warehouse, relation, &staged, change).await?,
    };
    in_transaction(warehouse, &write(&staged, &columns)?).await?;
    if !keep_staged {
        warehouse.execute(&format!("drop table if exists {staged}")).await?;
    }
    Ok(())
}

/// dbt's `on_schema_change` other than `ignore`: compares the new rows' columns with
/// the table's (by name, case-insensitively), then fails, adds the new ones, or adds
/// the new and drops the removed ones.
async fn sync_columns<W: Warehouse>(
    warehouse: &mut W,
    relation: &Relation,
    staged: &str,
    change: OnSchemaChange,
) -> Result<StagedColumns, BuildError> {
    let target = columns(warehouse, relation).await?;
    let source = columns(
        warehouse,
        &Relation {
            schema: String::new(),
            name: staged.to_string(),
        },
    )
    .await?;
    let has = |list: &[String], column: &str| list.iter().any(|c| c.eq_ignore_ascii_case(column));
    let added: Vec<&String> = source.iter().filter(|c| !has(&target, c)).collect();
    let removed: Vec<&String> = target.iter().filter(|c| !has(&source, c)).collect();
    let unchanged = match change {
        // A removed column stays, so only a new one changes the table.
        OnSchemaChange::AppendNewColumns => added.is_empty(),
        _ => added.is_empty() && removed.is_empty(),
    };
    if unchanged {
        return Ok(StagedColumns {
            target,
            staged: Some(source),
            added: Vec::new(),
        });
    }
    let list = |columns: &[&String]| {
        if columns.is_empty() {
            "none".to_string()
        } else {
            columns.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
        }
    };
    if change == OnSchemaChange::Fail {
        return Err(BuildError::OutOfSync(format!(
            "the model's columns and {relation}'s are out of sync (on_schema_change='fail'): \
             new in the model: {}; gone from the model: {}. Set on_schema_change to \
             append_new_columns or sync_all_columns, or rebuild it with --full-refresh",
            list(&added),
            list(&removed)
        )));
    }
    if !added.is_empty() {
        let types = column_types(warehouse, staged).await?;
        for column in &added {
            let data_type = types
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(column))
                .map(|(_, data_type)| data_type.clone())
                .ok_or_else(|| {
                    BuildError::OutOfSync(format!("no type found in the catalog for the new column {column}"))
                })?;
            warehouse
                .execute(&format!("alter table {relation} add column {column} {data_type}"))
                .await?;
        }
    }
    if change == OnSchemaChange::SyncAllColumns {
        for column in &removed {
            warehouse
                .execute(&format!("alter table {relation} drop column {column}"))
                .await?;
        }
    }
    let added = added.into_iter().cloned().collect();
    Ok(StagedColumns {
        target: columns(warehouse, relation).await?,
        staged: Some(source),
        added,
    })
}

/// The columns of the temporary table `name` and their types, as the target's dbt
/// adapter reads them (`get_columns_in_relation`): dbt-duckdb from
/// `information_schema.columns`; dbt-snowflake with `describe table`, whose `name`
/// and `type` columns hold them (`snowflake__get_columns_in_relation`,
/// dbt/include/snowflake/macros/adapters/relation_components/column.sql).
async fn column_types<W: Warehouse>(warehouse: &mut W, name: &str) -> Result<Vec<(String, String)>, WarehouseError> {
    let snowflake = warehouse.dialect() == Dialect::Snowflake;
    let (sql, name_column, type_column) = if snowflake {
        (format!("describe table {name}"), "name", "type")
    } else {
        (
            format!(
                "select column_name, data_type from information_schema.columns where lower(table_name) = lower('{name}')"
            ),
            "column_name",
            "data_type",
        )
    };
    let table = warehouse.query(&sql).await?;
    let position = |wanted: &str| table.columns.iter().position(|c| c.eq_ignore_ascii_case(wanted));
    let (Some(name_at), Some(type_at)) = (position(name_column), position(type_column)) else {
        return Err(WarehouseError {
            warehouse: if snowflake { "Snowflake" } else { "DuckDB" },
            message: format!(
                "the answer has no `{name_column}` and `{type_column}` columns: {:?}",
                table.columns
            ),
            sql,
        });
    };
    Ok(table
        .rows
        .into_iter()
        .filter_map(|row| Some((row.get(name_at)?.clone()?, row.get(type_at)?.clone()?)))
        .collect())
}

/// An incremental run's write, as the target's dbt adapter writes it, in one
/// transaction, so `incremental_predicates` written for dbt work unchanged:
/// - delete+insert: the target's rows whose `unique_key` is among the new rows, and
///   that match every predicate, are deleted; then the new rows are inserted. On
///   Snowflake as dbt-adapters' `default__get_delete_insert_merge_sql` (which
///   dbt-snowflake calls): the target aliased `DBT_INTERNAL_DEST`. On DuckDB as
///   dbt-duckdb's `duckdb__get_delete_insert_merge_sql`: one key leaves the target
///   unaliased, several alias it `DBT_INCREMENTAL_TARGET` and join the new rows.
/// - append: the new rows are inserted.
/// - merge: matched on the predicates and the key, rows are updated or inserted;
///   without a key, every row is inserted (`default__get_merge_sql`: the target
///   aliased `DBT_INTERNAL_DEST`, the new rows `DBT_INTERNAL_SOURCE`). On DuckDB the
///   new rows come in the order of the rows they match ([`in_target_order`]).
async fn merge<W: Warehouse>(
    warehouse: &mut W,
    relation: &Relation,
    sql: &str,
    config: &NodeConfig,
) -> Result<(), BuildError> {
    let dialect = warehouse.dialect();
    let strategy = config
        .incremental_strategy
        .unwrap_or_else(|| IncrementalStrategy::default_for(dialect));
    apply_staged(
        warehouse,
        relation,
        sql,
        config.on_schema_change,
        true,
        |staged,
         StagedColumns {
             target: target_columns, ..
         }| {
            let columns = target_columns.join(", ");
            let keys = &config.unique_key;
            let insert = format!("insert into {relation} ({columns}) select {columns} from {staged}");
            Ok(match strategy {
                IncrementalStrategy::Append => vec![insert],
                IncrementalStrategy::DeleteInsert if keys.is_empty() => vec![insert],
                IncrementalStrategy::DeleteInsert => {
                    let predicates: String = config
                        .incremental_predicates
                        .iter()
                        .map(|predicate| format!(" and {predicate}"))
                        .collect();
                    let delete = match (dialect, keys.as_slice()) {
                        (Dialect::DuckDb, [key]) => {
                            format!(
                                "delete from {relation} where ({key}) in (select ({key}) from {staged}){predicates}"
                            )
                        }
                        (Dialect::DuckDb, _) => format!(
                            "delete from {relation} as DBT_INCREMENTAL_TARGET using {staged} where ({}{predicates})",
                            keys_equal(keys, staged, "DBT_INCREMENTAL_TARGET").join(" and ")
                        ),
                        _ => {
                            let keys = keys.join(", ");
                            format!(
                                "delete from {relation} as DBT_INTERNAL_DEST where ({keys}) in \
                                 (select distinct {keys} from {staged} as DBT_INTERNAL_SOURCE){predicates}"
                            )
                        }
                    };
                    vec![delete, insert]
                }
                IncrementalStrategy::Merge => {
                    let mut on: Vec<String> = config.incremental_predicates.clone();
                    if keys.is_empty() {
                        on.push("FALSE".into());
                    }
                    on.extend(keys_equal(keys, "DBT_INTERNAL_SOURCE", "DBT_INTERNAL_DEST"));
                    let source_columns: Vec<String> = target_columns
                        .iter()
                        .map(|column| format!("DBT_INTERNAL_SOURCE.{column}"))
                        .collect();
                    let update = if keys.is_empty() {
                        String::new()
                    } else {
                        let set: Vec<String> = config
                            .merge_update
                            .columns(target_columns)
                            .map_err(|e| BuildError::Config(format!("{relation}: {e}")))?
                            .into_iter()
                            .map(|column| format!("{column} = DBT_INTERNAL_SOURCE.{column}"))
                            .collect();
                        format!(" when matched then update set {}", set.join(", "))
                    };
                    let source = match dialect {
                        Dialect::DuckDb if !keys.is_empty() => in_target_order(staged, relation, keys),
                        _ => staged.to_string(),
                    };
                    vec![format!(
                        "merge into {relation} as DBT_INTERNAL_DEST using {source} as DBT_INTERNAL_SOURCE \
                     on ({}){update} when not matched then insert ({columns}) values ({})",
                        on.join(") and ("),
                        source_columns.join(", ")
                    )]
                }
            })
        },
    )
    .await
}

/// The new rows `staged` for a merge into `relation` on DuckDB, ordered as the rows
/// they match are stored (new keys last). DuckDB applies a merge's updates in the
/// order its join yields them, and updates rows scattered through a table far more
/// slowly than rows in storage order: measured on the twitch-pipeline's scale bench (a week),
/// `streamer_activity`'s catch-up merge of 299,977 rows into 300,000 took 28-54 s as
/// the rows came, 0.09-0.18 s in the table's order. Same rows, same result: each new
/// row appears once, placed by the first row of its key.
fn in_target_order(staged: &str, relation: &Relation, keys: &[String]) -> String {
    let on = keys_equal(keys, "DBT_STAGED", "DBT_TARGET");
    let keys = keys.join(", ");
    // Only the target's rows of the new keys are grouped: grouping a whole table of
    // 5.8M rows (the twitch-pipeline's fct_broadcasts at a week) took 1.3 s more than the merge.
    format!(
        "(select DBT_STAGED.* from {staged} as DBT_STAGED left join \
         (select {keys}, min(rowid) as DBT_ROWID from {relation} where ({keys}) in (select {keys} from {staged}) \
         group by {keys}) as DBT_TARGET on {} order by DBT_TARGET.DBT_ROWID)",
        on.join(" and ")
    )
}

/// `left.key = right.key` for each of `keys`, to be joined with `and`.
fn keys_equal(keys: &[String], left: &str, right: &str) -> Vec<String> {
    keys.iter().map(|key| format!("{left}.{key} = {right}.{key}")).collect()
}

/// A snapshot's first build: every row of `sql` current, as dbt-adapters'
/// `default__build_snapshot_table` (snapshots/helpers.sql) selects it. A version's
/// time is `updated_at`, or (the check strategy without it) the run's time.
fn first_snapshot(snapshot: &SnapshotConfig, sql: &str, dialect: Dialect) -> String {
    let version = snapshot
        .updated_at
        .clone()
        .unwrap_or_else(|| snapshot_get_time(dialect).to_string());
    let MetaColumns {
        scd_id: scd_id_column,
        updated_at,
        valid_from,
        valid_to,
        is_deleted,
    } = &snapshot.columns;
    let is_deleted = if snapshot.hard_deletes == HardDeletes::NewRecord {
        format!(", 'False' as {is_deleted}")
    } else {
        String::new()
    };
    format!(
        "select snapshot_query.*, {scd_id} as {scd_id_column}, {version} as {updated_at}, \
         {version} as {valid_from}, {open} as {valid_to}{is_deleted}\n\
         from (\n{sql}\n) as snapshot_query",
        scd_id = scd_id(&[snapshot.unique_key.as_slice(), std::slice::from_ref(&version)].concat()),
        open = open_valid_to(snapshot, &version),
    )
}

/// A new current row's `dbt_valid_to`: NULL of `updated_at`'s type, or the
/// `dbt_valid_to_current` expression (dbt-adapters' `get_dbt_valid_to_current`).
fn open_valid_to(snapshot: &SnapshotConfig, updated_at: &str) -> String {
    let null = format!("nullif({updated_at}, {updated_at})");
    match &snapshot.valid_to_current {
        Some(current) => format!("coalesce({null}, {current})"),
        None => null,
    }
}

/// Whether the snapshot row `row` is current, as dbt-adapters'
/// `default__snapshot_staging_table` selects `snapshotted_data`: `dbt_valid_to` NULL,
/// or equal to `dbt_valid_to_current` when that is set.
fn is_current(snapshot: &SnapshotConfig, row: &str) -> String {
    let valid_to = &snapshot.columns.valid_to;
    match &snapshot.valid_to_current {
        Some(current) => format!("({row}.{valid_to} = {current} or {row}.{valid_to} is null)"),
        None => format!("{row}.{valid_to} is null"),
    }
}

/// Whether `row` is its key's deletion record, still open: what `new_record` does not
/// close or mark deleted again (the same macro's `deletes` and `deletion_records`).
fn is_open_deletion(snapshot: &SnapshotConfig, row: &str) -> String {
    let MetaColumns {
        valid_to, is_deleted, ..
    } = &snapshot.columns;
    let open = match &snapshot.valid_to_current {
        Some(current) => format!("{row}.{valid_to} = {current}"),
        None => format!("{row}.{valid_to} is null"),
    };
    format!("{row}.{is_deleted} = 'True' and {open}")
}

/// dbt-adapters' `snapshot_check_strategy` row test: any of `checked` differs between
/// the current row `row` and the source row `s`, NULL-safely; every row has changed
/// when one of them is new to the table (`added` this run).
fn row_changed_by_check(row: &str, checked: &[&String], added: &[String]) -> String {
    if checked.iter().any(|c| added.iter().any(|a| a.eq_ignore_ascii_case(c))) {
        return "TRUE".to_string();
    }
    checked
        .iter()
        .map(|c| {
            format!(
                "{row}.{c} != s.{c} or (({row}.{c} is null) and not (s.{c} is null)) \
                 or ((not {row}.{c} is null) and (s.{c} is null))"
            )
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The time a snapshot run stamps on what it closes or marks deleted, as the target's
/// dbt adapter takes it (`snapshot_get_time`): dbt-duckdb's
/// `current_timestamp::timestamp` (dbt/include/duckdb/macros/adapters.sql),
/// dbt-snowflake's `to_timestamp_ntz(convert_timezone('UTC', current_timestamp()))`
/// (dbt/include/snowflake/timestamps.sql).
fn snapshot_get_time(dialect: Dialect) -> &'static str {
    if dialect == Dialect::Snowflake {
        "to_timestamp_ntz(convert_timezone('UTC', current_timestamp()))"
    } else {
        "current_timestamp::timestamp"
    }
}

/// The columns dbt adds to a snapshot (`get_snapshot_table_column_names`, renamed by
/// `snapshot_meta_column_names`), which a snapshot run fills itself rather than from
/// the source.
#[derive(Clone, Copy)]
enum SnapshotColumn {
    ScdId,
    UpdatedAt,
    ValidFrom,
    ValidTo,
    /// Only with `hard_deletes='new_record'`; otherwise dbt leaves it out of the
    /// rows it writes, as any column the source lacks.
    IsDeleted,
}

impl SnapshotColumn {
    /// Which of them `column` is, by the snapshot's names for them.
    fn of(column: &str, names: &MetaColumns, new_record: bool) -> Option<Self> {
        let is = |name: &str| column.eq_ignore_ascii_case(name);
        if is(&names.scd_id) {
            Some(Self::ScdId)
        } else if is(&names.updated_at) {
            Some(Self::UpdatedAt)
        } else if is(&names.valid_from) {
            Some(Self::ValidFrom)
        } else if is(&names.valid_to) {
            Some(Self::ValidTo)
        } else if new_record && is(&names.is_deleted) {
            Some(Self::IsDeleted)
        } else {
            None
        }
    }
}

/// The select list of a deletion record (`new_record`) for each of `written`: a copy
/// of the current row `t`, opened at the run's time, its id a hash of the copied row's
/// and that time (dbt-adapters' `snapshot_staging_table`, `deletion_records`).
fn deletion_record(written: &[&String], meta: &MetaColumns, run_time: &str) -> Vec<String> {
    written
        .iter()
        .map(|column| match SnapshotColumn::of(column, meta, true) {
            Some(SnapshotColumn::ScdId) => {
                let copied_id = format!("t.{}", meta.scd_id);
                format!("{} as {column}", scd_id(&[copied_id.as_str(), run_time]))
            }
            Some(SnapshotColumn::UpdatedAt | SnapshotColumn::ValidFrom) => format!("{run_time} as {column}"),
            Some(SnapshotColumn::IsDeleted) => format!("'True' as {column}"),
            Some(SnapshotColumn::ValidTo) | None => format!("t.{column}"),
        })
        .collect()
}

/// The select list of a new current row for each of `written`, from the source row
/// `s` and its version's time `version` (the same macro's `insertions`).
fn new_version(written: &[&String], snapshot: &SnapshotConfig, version: &str) -> Vec<String> {
    let new_record = snapshot.hard_deletes == HardDeletes::NewRecord;
    written
        .iter()
        .map(
            |column| match SnapshotColumn::of(column, &snapshot.columns, new_record) {
                Some(SnapshotColumn::ScdId) => {
                    let mut hashed: Vec<String> = snapshot.unique_key.iter().map(|key| format!("s.{key}")).collect();
                    hashed.push(version.to_string());
                    format!("{} as {column}", scd_id(&hashed))
                }
                Some(SnapshotColumn::UpdatedAt | SnapshotColumn::ValidFrom) => format!("{version} as {column}"),
                Some(SnapshotColumn::ValidTo) => format!("{} as {column}", open_valid_to(snapshot, version)),
                Some(SnapshotColumn::IsDeleted) => format!("'False' as {column}"),
                None => format!("s.{column}"),
            },
        )
        .collect()
}

/// SCD2, with the same outcome as dbt-adapters' `default__snapshot_staging_table`
/// and the adapter's merge (snapshots/helpers.sql, snapshot_merge.sql):
/// - a key whose row changed (by the strategy: a newer `updated_at`, or a checked
///   column that differs) has its current row closed at the new version's time, and
///   a new current row; a new key gets its first row;
/// - a key the source no longer returns (`hard_deletes`): `ignore` leaves its current
///   row open; `invalidate` closes it at the run's time; `new_record` closes it too
///   and opens a copy marked deleted, which the key's return closes.
///
/// Statement by statement, in one transaction, where dbt stages every change first:
/// the run's time is taken once into a temporary table so that a closed row and its
/// deletion record carry the same time, as they do in dbt's one staging query.
async fn update_snapshot<W: Warehouse>(
    warehouse: &mut W,
    relation: &Relation,
    sql: &str,
    snapshot: &SnapshotConfig,
) -> Result<(), BuildError> {
    let SnapshotConfig {
        unique_key: keys,
        strategy,
        updated_at,
        hard_deletes,
        columns: meta,
        ..
    } = snapshot;
    let name = &relation.name;
    let run_time_table = temp_table(warehouse.dialect(), relation, "__dbt_snapshot_time");
    let run_time = format!("(select snapshot_time from {run_time_table})");
    // A new version's time: `updated_at`, or the run's time (the check strategy
    // without it), taken once so that every row the run writes carries the same one,
    // as in dbt's one staging query.
    let version = match updated_at {
        Some(column) => format!("s.{column}"),
        None => run_time.clone(),
    };
    let stamps = *hard_deletes != HardDeletes::Ignore || updated_at.is_none();
    if stamps {
        warehouse
            .execute(&format!(
                "create or replace temporary table {run_time_table} as select {} as snapshot_time",
                snapshot_get_time(warehouse.dialect())
            ))
            .await?;
    }
    // As dbt's snapshot materialization, a column new in the source is added to the
    // table (`create_columns`), and a column gone from it is left out of the rows
    // written, so those rows hold NULL there (dbt inserts the staged columns only).
    let written = apply_staged(
        warehouse,
        relation,
        sql,
        OnSchemaChange::AppendNewColumns,
        false,
        |staged, columns| {
            let new_record = *hard_deletes == HardDeletes::NewRecord;
            let source_columns = columns.staged.as_deref().unwrap_or(&columns.target);
            let in_source = |column: &str| source_columns.iter().any(|c| c.eq_ignore_ascii_case(column));
            let written: Vec<&String> = columns
                .target
                .iter()
                .filter(|column| SnapshotColumn::of(column, meta, new_record).is_some() || in_source(column))
                .collect();
            let (is_deleted, valid_to) = (&meta.is_deleted, &meta.valid_to);
            if new_record && !written.iter().any(|c| c.eq_ignore_ascii_case(is_deleted)) {
                // As dbt's `assert_valid_snapshot_target_given_strategy`.
                return Err(BuildError::Config(format!(
                    "{relation} has no {is_deleted} column, which hard_deletes='new_record' writes; \
                     add it (alter table {relation} add column {is_deleted} varchar) or rebuild the snapshot"
                )));
            }
            let changed = match strategy {
                SnapshotStrategy::Timestamp => format!("{name}.{} < {version}", meta.valid_from),
                SnapshotStrategy::Check(check_cols) => {
                    let checked: Vec<&String> = match check_cols {
                        CheckCols::All => source_columns.iter().collect(),
                        CheckCols::Listed(listed) => listed.iter().collect(),
                    };
                    if let Some(missing) = checked.iter().find(|c| !in_source(c)) {
                        return Err(BuildError::Config(format!(
                            "{relation}: check_cols names `{missing}`, which the snapshot's query does not return"
                        )));
                    }
                    row_changed_by_check(name, &checked, &columns.added)
                }
            };
            let columns = written.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ");
            let current = is_current(snapshot, name);
            let same_key = |left: &str, right: &str| keys_equal(keys, left, right).join(" and ");
            let gone = |row: &str| format!("not exists (select 1 from {staged} as s where {})", same_key("s", row));
            let mut statements = vec![format!(
                "update {relation} set {valid_to} = {version} from {staged} as s \
                 where {} and {current} and ({changed}{})",
                same_key(name, "s"),
                if new_record {
                    format!(" or {name}.{is_deleted} = 'True'")
                } else {
                    String::new()
                }
            )];
            if new_record {
                let copied = deletion_record(&written, meta, &run_time);
                statements.push(format!(
                    "insert into {relation} ({columns}) select {} from {relation} as t \
                     where {} and {} and not ({})",
                    copied.join(", "),
                    is_current(snapshot, "t"),
                    gone("t"),
                    is_open_deletion(snapshot, "t"),
                ));
            }
            if *hard_deletes != HardDeletes::Ignore {
                let keep_deletions = if new_record {
                    format!(" and not ({})", is_open_deletion(snapshot, name))
                } else {
                    String::new()
                };
                statements.push(format!(
                    "update {relation} set {valid_to} = {run_time} where {current} and {}{keep_deletions}",
                    gone(name)
                ));
            }
            let inserted = new_version(&written, snapshot, &version);
            // A key's open deletion record does not stop its return (dbt inserts a key
            // whose current row is marked deleted, whatever its updated_at).
            let live = if new_record {
                format!(" and t.{is_deleted} is distinct from 'True'")
            } else {
                String::new()
            };
            statements.push(format!(
                "insert into {relation} ({columns}) select {} from {staged} as s \
                 where not exists (select 1 from {relation} as t where {} and {}{live})",
                inserted.join(", "),
                same_key("t", "s"),
                is_current(snapshot, "t"),
            ));
            Ok(statements)
        },
    )
    .await;
    if stamps {
        warehouse
            .execute(&format!("drop table if exists {run_time_table}"))
            .await?;
    }
    written
}

/// Runs `statements` all or nothing.
async fn in_transaction<W: Warehouse>(warehouse: &mut W, statements: &[String]) -> Result<(), WarehouseError> {
    warehouse.execute("begin transaction").await?;
    for statement in statements {
        if let Err(error) = warehouse.execute(statement).await {
            // The statement's own error is the one to report; a failed rollback adds nothing.
            let _ = warehouse.execute("rollback").await;
            return Err(error);
        }
    }
    warehouse.execute("commit").await
}

#[cfg(all(test, feature = "duckdb"))]
mod tests {
    use super::*;
    use crate::warehouse::DuckDbWarehouse;

    /// The catalog read at a run's start says what each relation of the run's schemas
    /// is, whatever case it is named in, and nothing of other schemas; what the run
    /// builds is recorded over it.
    #[tokio::test]
    async fn the_catalog_knows_the_run_schemas_tables_and_views_and_what_the_run_builds() {
        let mut warehouse = DuckDbWarehouse::in_memory().unwrap();
        for sql in [
            "create schema marts",
            "create schema other",
            "create table marts.facts (id integer)",
            "create view marts.recent as select * from marts.facts",
            "create table other.elsewhere (id integer)",
        ] {
            warehouse.execute(sql).await.unwrap();
        }
        let mut catalog = Catalog::read(&mut warehouse, ["MARTS"]).await.unwrap();
        assert_eq!(catalog.existing(&Relation::new("marts", "facts")), Existing::Table);
        assert_eq!(catalog.existing(&Relation::new("Marts", "RECENT")), Existing::View);
        assert_eq!(catalog.existing(&Relation::new("marts", "missing")), Existing::Absent);
        assert_eq!(catalog.existing(&Relation::new("other", "elsewhere")), Existing::Absent);

        catalog.record(&Relation::new("marts", "recent"), Existing::Table);
        catalog.record(&Relation::new("marts", "missing"), Existing::View);
        assert_eq!(catalog.existing(&Relation::new("MARTS", "recent")), Existing::Table);
        assert_eq!(catalog.existing(&Relation::new("marts", "Missing")), Existing::View);
        assert!(Catalog::read(&mut warehouse, []).await.unwrap().relations.is_empty());
    }

    /// Snowflake: every temporary table beside the relation it serves, so a session
    /// without a usable current schema can create it. DuckDB: in its `temp` catalog.
    #[test]
    fn temporary_tables_are_qualified_on_snowflake_and_not_on_duckdb() {
        let relation = Relation::new("marts", "fct_orders");
        assert_eq!(staging_name(Dialect::Snowflake, &relation), "marts.fct_orders__dbt_tmp");
        assert_eq!(
            batch_table(Dialect::Snowflake, &relation),
            staging_name(Dialect::Snowflake, &relation)
        );
        assert_eq!(
            temp_table(Dialect::Snowflake, &relation, "__dbt_snapshot_time"),
            "marts.fct_orders__dbt_snapshot_time"
        );
        assert_eq!(staging_name(Dialect::DuckDb, &relation), "fct_orders__dbt_tmp");
    }
}
