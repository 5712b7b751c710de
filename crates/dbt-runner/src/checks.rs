//! The SQL of data tests (the four generic tests and singular ones) and of source
//! freshness, and freshness judged; [`crate::test_runs`] runs the tests.

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, Utc};

use crate::project::{DataTest, NodeName, SourceTable, TestKind, Tested};
use crate::render::Relation;

/// The query returning a generic test's failing rows, as dbt writes them. With a
/// `filter` (dbt's `where`, rendered) only the tested relation's matching rows count.
/// `sources` are the project's declared source tables.
pub fn generic_sql(
    kind: &TestKind,
    relations: &BTreeMap<NodeName, Relation>,
    sources: &[SourceTable],
    filter: Option<&str>,
) -> Option<String> {
    let relation = |name: &NodeName| relations.get(name).expect("tests refer to known models").to_string();
    let tested = |on: &Tested| {
        let relation = match on {
            Tested::Node(name) => relation(name),
            Tested::Source { source, table } => sources
                .iter()
                .find(|s| &s.source == source && &s.name == table)
                .map(|s| format!("{}.{}", s.schema, s.identifier))
                .expect("tests refer to declared sources"),
        };
        filtered(&relation, filter)
    };
    Some(match kind {
        TestKind::NotNull { model, .. } | TestKind::Unique { model, .. } | TestKind::AcceptedValues { model, .. } => {
            column_test_sql(kind, &tested(model), None)?
        }
        TestKind::Relationships {
            model,
            column,
            to,
            field,
        } => format!(
            "select child.{column} as from_field from {} as child left join {} as parent on child.{column} = parent.{field} \
             where child.{column} is not null and parent.{field} is null",
            tested(model),
            relation(to)
        ),
        TestKind::Singular { .. } => return None,
    })
}

/// The failing-rows query of a generic test on `model` that checks only what an
/// incremental run merged, its `batch` (the table of new rows), when the test passed on
/// the run before; `None` for a test that must read the whole table.
///
/// After a passing run, only a merged row can break the test: every row not in the
/// batch was there, and passed, before. `not_null` and `accepted_values` read the
/// batch, which the merge wrote whole into the model; `unique` reads the model, but
/// only the values the batch brings, as a duplicate needs a new row. `relationships`
/// reads the whole table: a rebuilt parent can orphan old rows. The count of failing
/// rows is the full test's, so severity thresholds judge it the same.
pub fn batch_sql(
    kind: &TestKind,
    model: &NodeName,
    relation: &Relation,
    batch: &str,
    filter: Option<&str>,
) -> Option<String> {
    if !narrowable(kind, model) {
        return None;
    }
    match kind {
        // A duplicate needs a new row: the model's rows, for the values the batch brings.
        TestKind::Unique { .. } => column_test_sql(kind, &filtered(&relation.to_string(), filter), Some(batch)),
        _ => column_test_sql(kind, &filtered(batch, filter), None),
    }
}

/// `from` with only the rows dbt's `where` keeps, as dbt writes it.
fn filtered(from: &str, filter: Option<&str>) -> String {
    match filter {
        Some(filter) => format!("(select * from {from} where {filter})"),
        None => from.to_string(),
    }
}

/// The failing-rows query of a `not_null`, `unique` or `accepted_values` test over
/// `from`, as dbt writes it; `unique` counts only the values found in `unique_among`,
/// when given. `None` for the other kinds.
fn column_test_sql(kind: &TestKind, from: &str, unique_among: Option<&str>) -> Option<String> {
    Some(match kind {
        TestKind::NotNull { column, .. } => {
            format!("select {column} from {from} as dbt_subquery where {column} is null")
        }
        TestKind::Unique { column, .. } => {
            // A duplicate of a batch value lies between the batch's least and greatest:
            // the bounds let the warehouse skip blocks by their min/max, which the
            // `in` alone does not (measured on DuckDB: 15x faster on a week of a
            // time-ordered key).
            let among = unique_among
                .map(|table| {
                    format!(
                        " and {column} >= (select min({column}) from {table}) and {column} <= (select max({column}) from {table}) \
                         and {column} in (select {column} from {table})"
                    )
                })
                .unwrap_or_default();
            format!(
                "select {column} as unique_field, count(*) as n_records from {from} as dbt_subquery \
                 where {column} is not null{among} group by {column} having count(*) > 1"
            )
        }
        TestKind::AcceptedValues { column, values, .. } => format!(
            "select {column} as value_field, count(*) as n_records from {from} as dbt_subquery where {column} not in ({}) group by {column}",
            quoted_list(values)
        ),
        TestKind::Relationships { .. } | TestKind::Singular { .. } => return None,
    })
}

/// Whether [`batch_sql`] can narrow `kind` on `model`: `not_null`, `unique` and
/// `accepted_values` of the model itself.
pub fn narrowable(kind: &TestKind, model: &NodeName) -> bool {
    match kind {
        TestKind::NotNull { model: on, .. }
        | TestKind::Unique { model: on, .. }
        | TestKind::AcceptedValues { model: on, .. } => matches!(on, Tested::Node(name) if name == model),
        TestKind::Relationships { .. } | TestKind::Singular { .. } => false,
    }
}

/// The models a generic test reads (a singular test's come from rendering it); a
/// test of a source reads none.
pub fn generic_refs(test: &DataTest) -> Vec<NodeName> {
    let Some(generic) = generic_parts(&test.kind) else {
        return Vec::new();
    };
    let model = match generic.tested {
        Tested::Node(name) => Some(name.clone()),
        Tested::Source { .. } => None,
    };
    let parent = match &test.kind {
        TestKind::Relationships { to, .. } => Some(to.clone()),
        _ => None,
    };
    model.into_iter().chain(parent).collect()
}

/// The source table a generic test reads, as (source, table).
pub fn generic_source(test: &DataTest) -> Option<(String, String)> {
    match generic_parts(&test.kind)?.tested {
        Tested::Source { source, table } => Some((source.clone(), table.clone())),
        Tested::Node(_) => None,
    }
}

/// What every generic test has: its type, what it is listed under, its column.
pub struct GenericParts<'t> {
    /// The test's type as dbt names it: `not_null`, `unique`, …
    pub name: &'static str,
    pub tested: &'t Tested,
    pub column: &'t str,
}

/// A generic test's [`GenericParts`]; `None` for a singular test.
pub fn generic_parts(kind: &TestKind) -> Option<GenericParts<'_>> {
    let (name, tested, column) = match kind {
        TestKind::NotNull { model, column } => ("not_null", model, column),
        TestKind::Unique { model, column } => ("unique", model, column),
        TestKind::AcceptedValues { model, column, .. } => ("accepted_values", model, column),
        TestKind::Relationships { model, column, .. } => ("relationships", model, column),
        TestKind::Singular { .. } => return None,
    };
    Some(GenericParts { name, tested, column })
}

/// `values` as SQL string literals, comma-separated.
fn quoted_list(values: &[String]) -> String {
    let list: Vec<String> = values.iter().map(|v| format!("'{}'", v.replace('\'', "''"))).collect();
    list.join(", ")
}

/// How many rows a failing-rows query returns.
pub fn count_sql(failing_rows: &str) -> String {
    format!("select count(*) from (\n{failing_rows}\n) as dbt_test")
}

/// How fresh a source is.
#[derive(Clone, Debug, PartialEq)]
pub enum FreshnessStatus {
    Pass,
    Warn,
    Error,
    /// The table has no rows at all.
    Empty,
}

/// A source table's freshness check.
#[derive(Clone, Debug, PartialEq)]
pub struct FreshnessResult {
    pub source: String,
    pub table: String,
    pub newest: Option<NaiveDateTime>,
    pub age_seconds: Option<i64>,
    pub status: FreshnessStatus,
}

/// The query for the newest `loaded_at_field` value, as text, over the rows `filter`
/// (rendered) keeps.
pub fn freshness_sql(table: &SourceTable, loaded_at_field: &str, filter: Option<&str>) -> String {
    let filter = filter.map(|f| format!(" where {f}")).unwrap_or_default();
    format!(
        "select cast(max({loaded_at_field}) as varchar) from {}.{}{filter}",
        table.schema, table.identifier
    )
}

/// Judges the newest value (UTC) against the table's thresholds.
pub fn judge_freshness(table: &SourceTable, newest: Option<&str>) -> FreshnessResult {
    let newest = newest.and_then(parse_timestamp);
    let age_seconds = newest.map(|t| (Utc::now().naive_utc() - t).num_seconds());
    let over = |limit: Option<u64>| matches!((age_seconds, limit), (Some(age), Some(limit)) if age > limit as i64);
    let status = match newest {
        None => FreshnessStatus::Empty,
        Some(_) if over(table.freshness.error_after) => FreshnessStatus::Error,
        Some(_) if over(table.freshness.warn_after) => FreshnessStatus::Warn,
        Some(_) => FreshnessStatus::Pass,
    };
    FreshnessResult {
        source: table.source.clone(),
        table: table.name.clone(),
        newest,
        age_seconds,
        status,
    }
}

/// A timestamp as warehouses print it: `2026-11-23 22:15:00[.fff]`, or with a `T`.
fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim().trim_end_matches('Z');
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::Freshness;

    fn table(warn: Option<u64>, error: Option<u64>) -> SourceTable {
        SourceTable {
            source: "shop".into(),
            name: "raw_orders".into(),
            schema: "raw".into(),
            identifier: "raw_orders".into(),
            loaded_at_field: Some("t".into()),
            freshness: Freshness {
                warn_after: warn,
                error_after: error,
                filter: None,
            },
            path: "models/sources.yml".into(),
            fqn: vec!["p".into(), "shop".into(), "raw_orders".into()],
            tags: Vec::new(),
        }
    }

    #[test]
    fn freshness_is_judged_by_the_newest_value() {
        let now = Utc::now().naive_utc();
        let ago = |secs: i64| {
            (now - chrono::Duration::seconds(secs))
                .format("%Y-%m-%d %H:%M:%S%.3f")
                .to_string()
        };
        let t = table(Some(3_600), Some(7_200));
        assert_eq!(judge_freshness(&t, Some(&ago(60))).status, FreshnessStatus::Pass);
        assert_eq!(judge_freshness(&t, Some(&ago(4_000))).status, FreshnessStatus::Warn);
        assert_eq!(judge_freshness(&t, Some(&ago(8_000))).status, FreshnessStatus::Error);
        assert_eq!(judge_freshness(&t, None).status, FreshnessStatus::Empty);
        assert_eq!(
            judge_freshness(&t, Some("2026-11-23T22:15:00"))
                .newest
                .unwrap()
                .to_string(),
            "2026-11-23 22:15:00"
        );
    }

    #[test]
    fn accepted_values_quote_their_values() {
        let relations = BTreeMap::from([(
            NodeName("m".into()),
            Relation {
                schema: "s".into(),
                name: "m".into(),
            },
        )]);
        let kind = TestKind::AcceptedValues {
            model: Tested::Node(NodeName("m".into())),
            column: "c".into(),
            values: vec!["it's".into()],
        };
        assert!(
            generic_sql(&kind, &relations, &[], None)
                .unwrap()
                .contains("not in ('it''s')")
        );
        assert!(
            generic_sql(&kind, &relations, &[], Some("day > 1"))
                .unwrap()
                .contains("from (select * from s.m where day > 1) as dbt_subquery")
        );
    }
}
