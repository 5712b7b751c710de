//! Which tests of an incremental model passed on their last run, kept in the warehouse
//! beside the model (`<schema>.dbt_runner_passed_checks`), so the next run may
//! check only what it merges ([`crate::checks::batch_sql`]).
//!
//! The record lives with the data it vouches for: a run on another warehouse, or a
//! copy of the project elsewhere, cannot vouch for this one. A test's record holds
//! the full query it passed with, so a changed test (another `where`, other accepted
//! values) reads the whole table again. The records of the run's models are taken,
//! and removed, when the run starts, before any is built; the tests that pass are
//! recorded when it ends. So a run that merges rows and then does not pass the test
//! (it fails, errors, is skipped or not selected, or the run stops) leaves no record,
//! and the next run reads the whole table again: failing rows are never forgotten. A
//! model the run does not build (a model it depends on failed) gets its records back.
//!
//! One read and one delete per schema when the run starts, one insert when it ends:
//! taken and recorded model by model, it was four statements per incremental model,
//! 40 in an hourly run of the twitch-pipeline (on Snowflake, a round trip each).

use std::collections::BTreeMap;

use crate::materialize::{Catalog, Existing};
use crate::render::Relation;
use crate::warehouse::{Warehouse, WarehouseError};

const TABLE: &str = "dbt_runner_passed_checks";

/// Test name -> the query it passed with.
pub type Passed = BTreeMap<String, String>;

fn table(schema: &str) -> Relation {
    Relation::new(schema, TABLE)
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The records taken when a run starts, by model.
#[derive(Debug, Default)]
pub struct Taken {
    /// Schema -> its models' records (relation name -> what passed), or why they
    /// could not be taken.
    by_schema: BTreeMap<String, Result<BTreeMap<String, Passed>, String>>,
}

impl Taken {
    /// The records of `relation`, removed from here: what passed on its last run, or
    /// why that cannot be known (the model must then not be built: a record left in
    /// place would vouch for rows this run merges unchecked).
    pub fn remove(&mut self, relation: &Relation) -> Result<Passed, String> {
        match self.by_schema.get_mut(&relation.schema) {
            Some(Ok(models)) => Ok(models.remove(&relation.name).unwrap_or_default()),
            Some(Err(error)) => Err(error.clone()),
            None => Ok(Passed::new()),
        }
    }
}

/// Takes the records of the incremental models `relations`, and removes them.
pub async fn take<W: Warehouse>(warehouse: &mut W, catalog: &Catalog, relations: &[&Relation]) -> Taken {
    let mut names_by_schema: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for relation in relations {
        names_by_schema
            .entry(&relation.schema)
            .or_default()
            .push(quoted(&relation.name));
    }
    let mut taken = Taken::default();
    for (schema, names) in names_by_schema {
        let table = table(schema);
        // No table yet: nothing passed here before.
        let models = if catalog.existing(&table) == Existing::Absent {
            Ok(BTreeMap::new())
        } else {
            take_from(warehouse, &table, &names.join(", "))
                .await
                .map_err(|error| error.to_string())
        };
        taken.by_schema.insert(schema.to_string(), models);
    }
    taken
}

async fn take_from<W: Warehouse>(
    warehouse: &mut W,
    table: &Relation,
    names: &str,
) -> Result<BTreeMap<String, Passed>, WarehouseError> {
    let condition = format!("relation_name in ({names})");
    let rows = warehouse
        .query(&format!(
            "select relation_name, test_name, checked_sql from {table} where {condition}"
        ))
        .await?;
    let mut models: BTreeMap<String, Passed> = BTreeMap::new();
    for row in &rows.rows {
        if let [Some(model), Some(test), Some(sql)] = row.as_slice() {
            models
                .entry(model.clone())
                .or_default()
                .insert(test.clone(), sql.clone());
        }
    }
    if !models.is_empty() {
        warehouse
            .execute(&format!("delete from {table} where {condition}"))
            .await?;
    }
    Ok(models)
}

/// Records the `passes` (model, test name, the query it passed with), one statement
/// per schema (with the table's creation, the first time).
pub async fn record<W: Warehouse>(
    warehouse: &mut W,
    catalog: &Catalog,
    passes: &[(Relation, String, String)],
) -> Result<(), WarehouseError> {
    let mut rows_by_schema: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (relation, test_name, checked_sql) in passes {
        rows_by_schema.entry(&relation.schema).or_default().push(format!(
            "({}, {}, {})",
            quoted(&relation.name),
            quoted(test_name),
            quoted(checked_sql)
        ));
    }
    for (schema, rows) in rows_by_schema {
        let table = table(schema);
        if catalog.existing(&table) == Existing::Absent {
            warehouse
                .execute(&format!(
                    "create table if not exists {table} (relation_name varchar, test_name varchar, checked_sql varchar)"
                ))
                .await?;
        }
        warehouse
            .execute(&format!("insert into {table} values {}", rows.join(", ")))
            .await?;
    }
    Ok(())
}

#[cfg(all(test, feature = "duckdb"))]
mod tests {
    use super::*;
    use crate::warehouse::DuckDbWarehouse;

    async fn catalog(warehouse: &mut DuckDbWarehouse) -> Catalog {
        Catalog::read(warehouse, ["marts", "staging", "broken"]).await.unwrap()
    }

    fn pass(schema: &str, model: &str, test: &str) -> (Relation, String, String) {
        (
            Relation::new(schema, model),
            test.to_string(),
            format!("select 1 from {model} where '{test}'"),
        )
    }

    /// What a run records, the next takes, model by model, and removes; a schema whose
    /// record cannot be read fails only its own models, with the reason.
    #[tokio::test]
    async fn what_one_run_records_the_next_takes_once_model_by_model() {
        let mut warehouse = DuckDbWarehouse::in_memory().unwrap();
        for sql in ["create schema marts", "create schema staging", "create schema broken"] {
            warehouse.execute(sql).await.unwrap();
        }
        let (facts, days, staged) = (
            Relation::new("marts", "facts"),
            Relation::new("marts", "days"),
            Relation::new("staging", "staged"),
        );
        let models = [&facts, &days, &staged];

        // Nothing recorded yet: nothing passed, and no table is made to find that out.
        let known = catalog(&mut warehouse).await;
        let mut taken = take(&mut warehouse, &known, &models).await;
        assert_eq!(taken.remove(&facts), Ok(Passed::new()));
        assert_eq!(
            catalog(&mut warehouse).await.existing(&Relation::new("marts", TABLE)),
            Existing::Absent
        );

        let passes = [
            pass("marts", "facts", "unique_id"),
            pass("marts", "facts", "not_null_id"),
            pass("marts", "days", "unique_day"),
            pass("staging", "staged", "unique_key"),
        ];
        let known = catalog(&mut warehouse).await;
        record(&mut warehouse, &known, &passes).await.unwrap();
        // The ' in a query is kept as written.
        let known = catalog(&mut warehouse).await;
        let mut taken = take(&mut warehouse, &known, &[&facts, &staged]).await;
        let of = |passes: &[(Relation, String, String)], model: &str| -> Passed {
            passes
                .iter()
                .filter(|(r, _, _)| r.name == model)
                .map(|(_, t, s)| (t.clone(), s.clone()))
                .collect()
        };
        assert_eq!(taken.remove(&facts), Ok(of(&passes, "facts")));
        assert_eq!(taken.remove(&facts), Ok(Passed::new()), "taken once");
        assert_eq!(taken.remove(&staged), Ok(of(&passes, "staged")));
        // Removed from the warehouse too; a model not taken keeps its record.
        let known = catalog(&mut warehouse).await;
        let mut again = take(&mut warehouse, &known, &models).await;
        assert_eq!(again.remove(&facts), Ok(Passed::new()));
        assert_eq!(again.remove(&days), Ok(of(&passes, "days")));

        warehouse
            .execute(&format!("create table broken.{TABLE} as select 'm' as relation_name"))
            .await
            .unwrap();
        let known = catalog(&mut warehouse).await;
        let mut taken = take(&mut warehouse, &known, &[&Relation::new("broken", "m"), &facts]).await;
        let error = taken.remove(&Relation::new("broken", "m")).unwrap_err();
        assert!(error.contains("test_name"), "{error}");
        assert_eq!(taken.remove(&facts), Ok(Passed::new()));
    }
}
