//! Which tests of an incremental model passed on their last run, kept in the warehouse
//! beside the model (`<schema>.twitch_pipeline_passed_checks`), so the next run may
//! check only what it merges ([`super::checks::batch_sql`]).
//!
//! The record lives with the data it vouches for: a run on another warehouse, or a
//! copy of the project elsewhere, cannot vouch for this one. A test's record holds
//! the full query it passed with, so a changed test (another `where`, other accepted
//! values) reads the whole table again. Records of a model are taken, and removed,
//! before it is built: a run that merges rows and then does not pass the test (it
//! fails, errors, is skipped or not selected, or the run stops) leaves no record, and
//! the next run reads the whole table again, so failing rows are never forgotten.

use std::collections::BTreeMap;

use super::materialize::{Existing, existing};
use super::render::Relation;
use crate::warehouse::{Warehouse, WarehouseError};

const TABLE: &str = "twitch_pipeline_passed_checks";

fn table_relation(relation: &Relation) -> Relation {
    Relation {
        schema: relation.schema.clone(),
        name: TABLE.to_string(),
    }
}

fn table(relation: &Relation) -> String {
    table_relation(relation).to_string()
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The tests of `relation` that passed on their last run, by name, with the query
/// each passed with; the records are removed. None before the first record. A record
/// that cannot be read or removed is an error: left in place, it would vouch for rows
/// this run merges unchecked.
pub async fn take<W: Warehouse>(
    warehouse: &mut W,
    relation: &Relation,
) -> Result<BTreeMap<String, String>, WarehouseError> {
    let condition = format!("relation_name = {}", quoted(&relation.name));
    let rows = match warehouse
        .query(&format!(
            "select test_name, checked_sql from {} where {condition}",
            table(relation)
        ))
        .await
    {
        Ok(rows) => rows,
        // No table yet: nothing passed here before (asked only when the read fails,
        // so a run costs one query per model).
        Err(_) if existing(warehouse, &table_relation(relation)).await? == Existing::Absent => {
            return Ok(BTreeMap::new());
        }
        Err(error) => return Err(error),
    };
    let passed: BTreeMap<String, String> = rows
        .rows
        .iter()
        .filter_map(|row| Some((row.first()?.clone()?, row.get(1)?.clone()?)))
        .collect();
    if !passed.is_empty() {
        warehouse
            .execute(&format!("delete from {} where {condition}", table(relation)))
            .await?;
    }
    Ok(passed)
}

/// Records that the `passes` (test name, the query it passed with) on `relation`
/// passed, in one statement.
pub async fn record<W: Warehouse>(
    warehouse: &mut W,
    relation: &Relation,
    passes: &[(String, String)],
) -> Result<(), WarehouseError> {
    if passes.is_empty() {
        return Ok(());
    }
    let table = table(relation);
    warehouse
        .execute(&format!(
            "create table if not exists {table} (relation_name varchar, test_name varchar, checked_sql varchar)"
        ))
        .await?;
    let rows: Vec<String> = passes
        .iter()
        .map(|(test_name, checked_sql)| {
            format!(
                "({}, {}, {})",
                quoted(&relation.name),
                quoted(test_name),
                quoted(checked_sql)
            )
        })
        .collect();
    warehouse
        .execute(&format!("insert into {table} values {}", rows.join(", ")))
        .await
}
