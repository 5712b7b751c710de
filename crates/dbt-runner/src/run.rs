//! A run: freshness, then each selected node built with the tests after it, on one
//! warehouse session or several at once, in dbt's order; then the record of passed
//! tests and dbt's artifacts.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use tracing::{info, instrument, warn};

use crate::config;
use crate::materialize::{self, Built};
use crate::plan::{Parsed, Planned, PlannedTest, parse, target_of};
use crate::project::{self, NodeName, Project};
use crate::render::{self, Pass, Relation, Renderer};
use crate::report::{NodeOutcome, NodeResult, RunReport, Step, TestOutcome, TestResult};
use crate::schedule::Schedule;
use crate::test_runs::{Increment, run_planned_test};
use crate::warehouse::Warehouse;
use crate::{TransformError, TransformOptions, artifacts, checks, dag, passed_checks};

/// Builds the selected models and runs their tests on `warehouse`.
#[instrument(skip_all, fields(project = %project.root.display(), target = warehouse.dialect().adapter()))]
pub async fn run<W: Warehouse>(
    project: &Project,
    warehouse: &mut W,
    options: &TransformOptions,
    mut on_step: impl FnMut(&Step),
) -> Result<RunReport, TransformError> {
    let started = Instant::now();
    let target = target_of(warehouse, options.target_name()).await?;
    let invocation = render::Invocation::default();
    let renderer = Renderer::new(project, target.clone())
        .with_vars(&options.vars)
        .with_invocation(invocation.clone());

    let Parsed {
        deps,
        planned,
        order,
        selected,
        tests,
        selected_tests,
        disabled,
    } = parse(project, &renderer, options)?;
    let relations: BTreeMap<NodeName, Relation> = planned
        .iter()
        .map(|(name, p)| (name.clone(), p.relation.clone()))
        .collect();
    // A selected test runs after the last selected model it reads; one that reads
    // none (of sources, or of models left out) runs before the models.
    let mut tests_after: BTreeMap<NodeName, Vec<&PlannedTest>> = BTreeMap::new();
    let mut tests_first: Vec<&PlannedTest> = Vec::new();
    for test in selected_tests.iter().map(|&i| &tests[i]) {
        match order
            .iter()
            .rev()
            .find(|n| test.refs.contains(*n) && selected.contains(*n))
        {
            Some(last) => tests_after.entry(last.clone()).or_default().push(test),
            None => tests_first.push(test),
        }
    }

    let mut report = RunReport::default();
    if options.check_freshness {
        for table in &project.sources {
            let Some(field) = &table.loaded_at_field else { continue };
            if table.freshness == project::Freshness::default() {
                continue;
            }
            // dbt renders YAML properties with Jinja too: the field may depend on the target.
            let field = renderer
                .render("the loaded_at_field of a source", field, Pass::Parse)?
                .sql;
            let filter = match &table.freshness.filter {
                Some(filter) => Some(
                    renderer
                        .render("the freshness filter of a source", filter, Pass::Parse)?
                        .sql,
                ),
                None => None,
            };
            let newest = warehouse
                .query(&checks::freshness_sql(table, &field, filter.as_deref()))
                .await
                .map_err(|error| TransformError::Freshness {
                    source_name: table.source.clone(),
                    table: table.name.clone(),
                    error,
                })?;
            let result = checks::judge_freshness(table, newest.scalar());
            on_step(&Step::Freshness(result.clone()));
            report.freshness.push(result);
        }
    }

    let schemas: BTreeSet<&str> = selected.iter().map(|n| planned[n].relation.schema.as_str()).collect();
    for schema in &schemas {
        warehouse
            .execute(&format!("create schema if not exists {schema}"))
            .await?;
    }
    let catalog = materialize::Catalog::read(warehouse, schemas).await?;
    let in_order: Vec<NodeName> = order.iter().filter(|n| selected.contains(*n)).cloned().collect();
    // The incremental models' tests that passed last time, taken before any changes.
    let incremental: Vec<&Relation> = in_order
        .iter()
        .map(|n| &planned[n])
        .filter(|p| p.config.materialized == config::Materialized::Incremental)
        .map(|p| &p.relation)
        .collect();
    let taken = passed_checks::take(warehouse, &catalog, &incremental).await;
    // (model, test, the query it passed with), recorded when the run ends.
    let passes: Vec<(Relation, String, String)> = Vec::new();

    // Tests with nothing to wait for: their models are not built in this run.
    for test in tests_first {
        let (result, _) = run_planned_test(warehouse, &renderer, test, &relations, &project.sources, None).await;
        if result.fails_run() {
            warn!(test = %result.name, outcome = ?result.outcome, "test failed");
        }
        on_step(&Step::Test(result.clone()));
        report.tests.push(result);
    }

    // Each selected node, then the tests that run after it (a unit), on the warehouse's
    // session, or with `threads` above one on that many sessions at once.
    let units = Units {
        renderer: &renderer,
        planned: &planned,
        relations: &relations,
        sources: &project.sources,
        tests_after: &tests_after,
        options,
    };
    let test_refs: BTreeMap<NodeName, BTreeSet<NodeName>> = tests_after
        .iter()
        .map(|(name, tests)| {
            (
                name.clone(),
                tests.iter().flat_map(|t| t.refs.iter().cloned()).collect(),
            )
        })
        .collect();
    let mut schedule = Schedule::new(&in_order, &deps, &test_refs);
    let mut progress = Progress {
        deps: &deps,
        planned: &planned,
        tests_after: &tests_after,
        catalog,
        taken,
        broken: BTreeMap::new(),
        passes,
        report,
    };
    let mut sessions = more_sessions(warehouse, options.threads).await;
    let mut all: Vec<&mut W> = vec![&mut *warehouse];
    all.extend(sessions.iter_mut());
    run_units(all, &units, &mut schedule, &mut progress, &mut on_step).await;
    let Progress {
        catalog,
        passes,
        mut report,
        ..
    } = progress;
    if let Err(error) = passed_checks::record(warehouse, &catalog, &passes).await {
        warn!(%error, "could not record the passed tests; the next run checks their whole tables");
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.artifacts = artifacts::build(&artifacts::Inputs {
        project,
        target: &target,
        invocation: &invocation,
        planned: &planned,
        deps: &deps,
        tests: &tests,
        disabled: &disabled,
        report: &report,
        checked_freshness: options.check_freshness,
    });
    if let Some(dir) = &options.target_path {
        if let Err(error) = report.artifacts.write_to(dir) {
            warn!(%error, dir = %dir.display(), "could not write dbt's artifacts");
        }
    }
    info!(
        seconds = report.seconds,
        succeeded = report.succeeded(),
        "transform finished"
    );
    Ok(report)
}

/// What every unit of a run reads, shared by the sessions that build them.
struct Units<'a, 'p> {
    renderer: &'a Renderer<'p>,
    planned: &'a BTreeMap<NodeName, Planned<'p>>,
    relations: &'a BTreeMap<NodeName, Relation>,
    sources: &'a [project::SourceTable],
    tests_after: &'a BTreeMap<NodeName, Vec<&'a PlannedTest<'p>>>,
    options: &'a TransformOptions,
}

/// A unit to run: a node, then the tests that run after it, with what the run knows
/// when it starts.
struct UnitJob {
    name: NodeName,
    existing: materialize::Existing,
    /// The failed node that stops it, if any.
    blocked: Option<NodeName>,
    /// Its tests that passed on its last run (incremental models), or why that
    /// cannot be known.
    passed_before: Result<passed_checks::Passed, String>,
    /// The models its tests read that failed or were skipped already.
    broken: BTreeSet<NodeName>,
}

/// What running a unit did.
struct UnitDone {
    node: NodeResult,
    /// What its relation is now, when it was (re)created.
    now_exists: Option<materialize::Existing>,
    tests: Vec<TestResult>,
    /// (model, test, the query it passed with).
    passes: Vec<(Relation, String, String)>,
    /// Models an error-severity test of it failed: their descendants are skipped.
    failed_models: Vec<NodeName>,
}

impl UnitDone {
    /// A unit whose node failed for `reason` before it could build, and ran no tests.
    fn failed(name: NodeName, relation: String, reason: &str) -> UnitDone {
        UnitDone {
            node: NodeResult {
                name,
                relation,
                outcome: NodeOutcome::Failed(reason.to_string()),
                seconds: 0.0,
            },
            now_exists: None,
            tests: Vec::new(),
            passes: Vec::new(),
            failed_models: Vec::new(),
        }
    }
}

/// What the run has done so far, kept by the one thread that hands out units.
struct Progress<'a, 'p> {
    deps: &'a dag::Dependencies,
    planned: &'a BTreeMap<NodeName, Planned<'p>>,
    tests_after: &'a BTreeMap<NodeName, Vec<&'a PlannedTest<'p>>>,
    catalog: materialize::Catalog,
    taken: passed_checks::Taken,
    /// Node -> the failed node that stops it (itself, if it failed).
    broken: BTreeMap<NodeName, NodeName>,
    passes: Vec<(Relation, String, String)>,
    report: RunReport,
}

impl Progress<'_, '_> {
    /// The unit of node `name`, as it starts.
    fn job(&mut self, name: &NodeName) -> UnitJob {
        let plan = &self.planned[name];
        let blocked = self.deps[name]
            .iter()
            .find_map(|parent| self.broken.get(parent))
            .cloned();
        let passed_before = match (plan.config.materialized == config::Materialized::Incremental, &blocked) {
            (true, None) => self.taken.remove(&plan.relation),
            // Not built: what passed still holds.
            (true, Some(_)) => {
                let kept = self.taken.remove(&plan.relation).unwrap_or_default();
                self.passes
                    .extend(kept.into_iter().map(|(test, sql)| (plan.relation.clone(), test, sql)));
                Ok(passed_checks::Passed::new())
            }
            (false, _) => Ok(passed_checks::Passed::new()),
        };
        let broken = self
            .tests_after
            .get(name)
            .into_iter()
            .flatten()
            .flat_map(|test| test.refs.iter())
            .filter(|model| self.broken.contains_key(*model))
            .cloned()
            .collect();
        UnitJob {
            name: name.clone(),
            existing: self.catalog.existing(&plan.relation),
            blocked,
            passed_before,
            broken,
        }
    }

    /// Takes in what a unit did, and reports it.
    fn finish(&mut self, done: UnitDone, on_step: &mut impl FnMut(&Step)) {
        let name = &done.node.name;
        if let Some(existing) = done.now_exists {
            self.catalog.record(&self.planned[name].relation, existing);
        }
        match &done.node.outcome {
            NodeOutcome::Skipped { because } => {
                self.broken.insert(name.clone(), because.clone());
            }
            NodeOutcome::Failed(_) => {
                self.broken.insert(name.clone(), name.clone());
            }
            NodeOutcome::Built(_) => {}
        }
        on_step(&Step::Node(done.node.clone()));
        self.report.nodes.push(done.node);
        for test in done.tests {
            on_step(&Step::Test(test.clone()));
            self.report.tests.push(test);
        }
        self.passes.extend(done.passes);
        for model in done.failed_models {
            self.broken.entry(model.clone()).or_insert(model);
        }
    }
}

/// `threads - 1` more sessions on `warehouse`, to build on `threads` at once; none
/// (build one node at a time) for one thread, or when they cannot be opened.
async fn more_sessions<W: Warehouse>(warehouse: &mut W, threads: usize) -> Vec<W> {
    if threads <= 1 {
        return Vec::new();
    }
    match warehouse.more_sessions(threads - 1).await {
        Ok(sessions) => sessions,
        Err(error) => {
            warn!(%error, "could not open more sessions: building one node at a time");
            Vec::new()
        }
    }
}

/// Runs the units of `schedule` on `sessions`, as each unit's turn comes: in build
/// order on one session, or at once on several. Their statements wait together on
/// this task: a server's answer, or an embedded database's session thread.
async fn run_units<W: Warehouse>(
    sessions: Vec<&mut W>,
    units: &Units<'_, '_>,
    schedule: &mut Schedule,
    progress: &mut Progress<'_, '_>,
    on_step: &mut impl FnMut(&Step),
) {
    use futures::{FutureExt, StreamExt};
    let mut idle = sessions;
    let mut running = futures::stream::FuturesUnordered::new();
    loop {
        while !idle.is_empty() {
            let Some(name) = schedule.next_ready() else { break };
            let session = idle.pop().expect("checked");
            let job = progress.job(&name);
            let relation = units.planned[&name].relation.to_string();
            running.push(async move {
                // A panic is a bug; it fails its node rather than the whole run.
                let done = std::panic::AssertUnwindSafe(run_unit(&mut *session, units, job))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| UnitDone::failed(name, relation, "the runner failed (a panic): see the log"));
                (session, done)
            });
        }
        let Some((session, done)) = running.next().await else {
            break;
        };
        idle.push(session);
        schedule.finish(&done.node.name);
        progress.finish(done, on_step);
    }
}

/// Builds a unit's node (unless it is blocked), then runs the tests that run after it.
async fn run_unit<W: Warehouse>(warehouse: &mut W, units: &Units<'_, '_>, job: UnitJob) -> UnitDone {
    let name = &job.name;
    let plan = &units.planned[name];
    let node_started = Instant::now();
    let incremental_model = plan.config.materialized == config::Materialized::Incremental;
    let mut now_exists = None;
    let outcome = match (&job.blocked, &job.passed_before) {
        (Some(cause), _) => NodeOutcome::Skipped { because: cause.clone() },
        (None, Err(error)) => NodeOutcome::Failed(format!(
            "{}: cannot take the record of its tests that passed last run (in {}.dbt_runner_passed_checks): \
             {error}; not built, so no row goes unchecked",
            plan.node.path, plan.relation.schema
        )),
        (None, Ok(_)) => match build_node(
            warehouse,
            job.existing,
            &mut now_exists,
            units.renderer,
            plan,
            units.relations,
            plan.config.full_refresh.unwrap_or(units.options.full_refresh),
        )
        .await
        {
            Ok(built) => NodeOutcome::Built(built),
            Err(error) => NodeOutcome::Failed(error),
        },
    };
    let mut broken = job.broken;
    match &outcome {
        NodeOutcome::Skipped { .. } => {
            broken.insert(name.clone());
        }
        NodeOutcome::Failed(message) => {
            warn!(model = %name, %message, "model failed");
            broken.insert(name.clone());
        }
        NodeOutcome::Built(_) => info!(model = %name, relation = %plan.relation, "built"),
    }
    let no_passes = BTreeMap::new();
    let merged = matches!(outcome, NodeOutcome::Built(Built::Incremental { created: false }));
    let batch = materialize::batch_table(warehouse.dialect(), &plan.relation);
    let increment = Increment {
        model: name,
        relation: &plan.relation,
        batch: (merged && !units.options.full_checks).then_some(batch.as_str()),
        passed_before: job.passed_before.as_ref().unwrap_or(&no_passes),
    };
    let node = NodeResult {
        name: name.clone(),
        relation: plan.relation.to_string(),
        outcome,
        seconds: node_started.elapsed().as_secs_f64(),
    };

    // As in `dbt build`, a failing test stops what is built on its models, not the
    // other tests of this batch: they all still run.
    let mut done = UnitDone {
        node,
        now_exists,
        tests: Vec::new(),
        passes: Vec::new(),
        failed_models: Vec::new(),
    };
    for test in units.tests_after.get(name).into_iter().flatten() {
        let result = if test.refs.iter().any(|r| broken.contains(r)) {
            TestResult {
                name: test.test.name.clone(),
                severity: test.settings.severity,
                outcome: TestOutcome::Skipped,
                seconds: 0.0,
            }
        } else {
            let increment = incremental_model.then_some(&increment);
            let (result, pass) = run_planned_test(
                warehouse,
                units.renderer,
                test,
                units.relations,
                units.sources,
                increment,
            )
            .await;
            done.passes
                .extend(pass.map(|(test, sql)| (plan.relation.clone(), test, sql)));
            result
        };
        if result.fails_run() {
            warn!(test = %result.name, outcome = ?result.outcome, "test failed");
            done.failed_models.extend(test.refs.iter().cloned());
        }
        done.tests.push(result);
    }
    if merged {
        if let Err(error) = materialize::drop_batch(warehouse, &plan.relation).await {
            warn!(model = %name, %error, "could not drop the batch table");
        }
    }
    done
}

/// Builds `plan`'s relation, which is `existing` now; `now_exists` says what it is
/// once it was (re)created, even when a post-hook then fails.
async fn build_node<W: Warehouse>(
    warehouse: &mut W,
    existing: materialize::Existing,
    now_exists: &mut Option<materialize::Existing>,
    renderer: &Renderer<'_>,
    plan: &Planned<'_>,
    relations: &BTreeMap<NodeName, Relation>,
    full_refresh: bool,
) -> Result<Built, String> {
    let incremental_now = plan.config.materialized == config::Materialized::Incremental
        && existing == materialize::Existing::Table
        && !full_refresh;
    let pass = Pass::Run {
        relations,
        this: &plan.relation,
        is_incremental: incremental_now,
    };
    let rendered = renderer
        .render(&plan.node.path, &plan.node.sql, pass)
        .map_err(|e| e.to_string())?;
    run_hooks(warehouse, renderer, plan, pass, "pre_hook", &plan.config.pre_hook).await?;
    let built = materialize::build(
        warehouse,
        &plan.config,
        &plan.relation,
        &rendered.sql,
        existing,
        full_refresh,
    )
    .await
    .map_err(|e| {
        // The usual cause: the model's columns changed since the table was built.
        let hint = if incremental_now {
            format!(
                " (if the model's columns changed, rebuild it: `--full-refresh --select {}`)",
                plan.node.name.0
            )
        } else {
            String::new()
        };
        format!("{}: {e}{hint}", plan.node.path)
    })?;
    *now_exists = Some(materialize::Existing::built_as(&plan.config.materialized));
    run_hooks(warehouse, renderer, plan, pass, "post_hook", &plan.config.post_hook).await?;
    Ok(built)
}

/// A node's hooks, rendered at run time (they may use `this`) and run in order; the
/// first that fails fails the node, named.
async fn run_hooks<W: Warehouse>(
    warehouse: &mut W,
    renderer: &Renderer<'_>,
    plan: &Planned<'_>,
    pass: Pass<'_>,
    which: &str,
    hooks: &[String],
) -> Result<(), String> {
    for (n, hook) in hooks.iter().enumerate() {
        let what = format!("{} ({which} {})", plan.node.path, n + 1);
        let sql = renderer.render(&what, hook, pass).map_err(|e| e.to_string())?.sql;
        if sql.trim().is_empty() {
            continue;
        }
        warehouse.execute(&sql).await.map_err(|e| format!("{what}: {e}"))?;
    }
    Ok(())
}
