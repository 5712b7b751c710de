//! A data test run: its failing-rows query (narrowed to what an incremental run
//! merged, where it passed before), counted and judged by its severity and
//! thresholds.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::checks;
use crate::plan::PlannedTest;
use crate::project::{self, NodeName, Severity, TestKind, TestSettings};
use crate::render::{Pass, Relation, Renderer};
use crate::report::{TestOutcome, TestResult};
use crate::warehouse::Warehouse;

/// An incremental model as its tests see it: what this run merged, and which tests
/// passed on the last run.
pub(crate) struct Increment<'a> {
    pub(crate) model: &'a NodeName,
    pub(crate) relation: &'a Relation,
    /// The table of the rows this run merged; none when it built the model whole (or
    /// with `TransformOptions::full_checks`).
    pub(crate) batch: Option<&'a str>,
    /// Test name -> the query it passed with last time ([`crate::passed_checks`]).
    pub(crate) passed_before: &'a BTreeMap<String, String>,
}

/// Runs a planned test and judges its failing rows by its severity and thresholds.
/// On an incremental model (`increment`), a generic test that passed last time with
/// the same query checks only what this run merged; a narrowable test that finds no
/// failing row comes back with its name and full query, to be recorded as passed for
/// the next run ([`crate::passed_checks::record`]).
pub(crate) async fn run_planned_test<W: Warehouse>(
    warehouse: &mut W,
    renderer: &Renderer<'_>,
    test: &PlannedTest<'_>,
    relations: &BTreeMap<NodeName, Relation>,
    sources: &[project::SourceTable],
    increment: Option<&Increment<'_>>,
) -> (TestResult, Option<(String, String)>) {
    let started = Instant::now();
    let mut pass = None;
    let outcome = match failing_rows_sql(renderer, test, relations, sources) {
        Ok((full, filter)) => {
            let kind = &test.test.kind;
            let narrowed = increment
                .filter(|i| i.passed_before.get(&test.test.name) == Some(&full))
                .and_then(|i| checks::batch_sql(kind, i.model, i.relation, i.batch?, filter.as_deref()));
            let outcome = count_failing_rows(warehouse, narrowed.as_deref().unwrap_or(&full)).await;
            // No failing row at all: a pass under any thresholds, which the next run's
            // narrowed check may build on.
            let narrowable = increment.is_some_and(|i| checks::narrowable(kind, i.model));
            if narrowable && outcome == (TestOutcome::Fail { failing_rows: 0 }) {
                pass = Some((test.test.name.clone(), full));
            }
            outcome
        }
        Err(outcome) => outcome,
    };
    let (outcome, severity) = judge(outcome, &test.settings);
    let result = TestResult {
        name: test.test.name.clone(),
        severity,
        outcome,
        seconds: started.elapsed().as_secs_f64(),
    };
    (result, pass)
}

/// dbt's test status from the failing-row count: with severity error, a failure when
/// `error_if` holds, else a warning when `warn_if` does, else a pass; with severity
/// warn, a warning when `warn_if` holds.
fn judge(outcome: TestOutcome, settings: &TestSettings) -> (TestOutcome, Severity) {
    let severity = settings.severity;
    let TestOutcome::Fail { failing_rows } = outcome else {
        return (outcome, severity);
    };
    if severity == Severity::Error && settings.error_if.holds(failing_rows) {
        (outcome, Severity::Error)
    } else if settings.warn_if.holds(failing_rows) {
        (outcome, Severity::Warn)
    } else {
        (TestOutcome::Pass, severity)
    }
}

/// A test's failing-rows query as dbt runs it (over the whole tested relation), with
/// its `where` filter rendered; a test that cannot render is an error outcome.
fn failing_rows_sql(
    renderer: &Renderer<'_>,
    planned: &PlannedTest<'_>,
    relations: &BTreeMap<NodeName, Relation>,
    sources: &[project::SourceTable],
) -> Result<(String, Option<String>), TestOutcome> {
    let test = planned.test;
    Ok(match &test.kind {
        TestKind::Singular { sql } => {
            let this = Relation {
                schema: String::new(),
                name: test.name.clone(),
            };
            match renderer.render(
                &test.path,
                sql,
                Pass::Run {
                    relations,
                    this: &this,
                    is_incremental: false,
                },
            ) {
                Ok(rendered) => (rendered.sql, None),
                Err(error) => return Err(TestOutcome::Error(error.to_string())),
            }
        }
        kind => {
            // dbt renders a test's config with Jinja too.
            let filter = match &planned.settings.filter {
                Some(filter) => match renderer.render(&test.name, filter, Pass::Parse) {
                    Ok(rendered) => Some(rendered.sql),
                    Err(error) => return Err(TestOutcome::Error(error.to_string())),
                },
                None => None,
            };
            let sql = checks::generic_sql(kind, relations, sources, filter.as_deref()).expect("generic tests have SQL");
            (sql, filter)
        }
    })
}

/// Runs a failing-rows query and counts its rows.
async fn count_failing_rows<W: Warehouse>(warehouse: &mut W, failing_rows: &str) -> TestOutcome {
    match warehouse.query(&checks::count_sql(failing_rows)).await {
        Ok(table) => match table.scalar_i64() {
            // Zero rows too: `judge` compares the count with the test's thresholds.
            Some(n) => TestOutcome::Fail { failing_rows: n },
            None => TestOutcome::Error(format!("the count query returned no number: {table}")),
        },
        Err(error) => TestOutcome::Error(error.to_string()),
    }
}
