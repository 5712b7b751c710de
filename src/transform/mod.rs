//! The transform: a dbt-compatible SQL project run natively on the warehouse.
//!
//! [`Project::load`] reads `dbt_project.yml` and its files; [`run`] renders every
//! model with dbt's Jinja context ([`render`]), orders them by their refs ([`dag`]),
//! builds each as a view, table, incremental model or SCD2 snapshot
//! ([`materialize`]) and runs the data tests and source freshness checks
//! ([`checks`]). As in `dbt build`, a model whose error-severity test fails stops its
//! descendants, and the run reports every failing test with its failing-row count.

mod settings;
pub use settings::{ProjectArgs, ProjectSettings, ThreadsArg, TransformArgs, TransformSettings};

pub mod artifacts;
pub mod checks;
pub mod config;
pub mod dag;
mod marts;
pub mod materialize;
mod passed_checks;
pub mod project;
pub mod render;
mod schedule;
pub mod selection;
mod sources;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tracing::{info, instrument, warn};

pub use self::checks::{FreshnessResult, FreshnessStatus};
use self::config::NodeConfig;
pub use self::marts::Marts;
pub use self::materialize::Built;
use self::project::{DataTest, NodeKind, TestKind, TestSettings};
pub use self::project::{NodeName, Project, Severity};
use self::render::{Pass, Relation, Renderer, Target};
use self::schedule::Schedule;
use self::selection::{Member, ResourceType, Selectable};
use crate::warehouse::Dialect;
use crate::warehouse::{Warehouse, WarehouseError};

/// Why a transform could not run at all (a failing model or test is a result, not this).
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("{}: {message}", file.display())]
    Project { file: PathBuf, message: String },
    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Template {
        file: String,
        line: Option<usize>,
        message: String,
    },
    #[error("{file}: `{node}`: {message}")]
    Config {
        file: String,
        node: String,
        message: String,
    },
    #[error("the models refer to each other in a cycle; look at: {}", .0.join(", "))]
    Cycle(Vec<String>),
    #[error("{0}")]
    Selection(String),
    #[error("cannot check the freshness of source {source_name}.{table}: {error}")]
    Freshness {
        source_name: String,
        table: String,
        error: WarehouseError,
    },
    #[error("cannot prepare the warehouse: {0}")]
    Warehouse(#[from] WarehouseError),
}

impl TransformError {
    fn project(file: &Path, message: impl Into<String>) -> TransformError {
        TransformError::Project {
            file: file.to_path_buf(),
            message: message.into(),
        }
    }
}

/// What to build.
#[derive(Clone, Debug, Default)]
pub struct TransformOptions {
    /// dbt's `--select` of models, snapshots, sources and tests, with `+`, `N+`/`+N`
    /// and `@`; words are a union, commas an intersection ([`selection`]).
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
    /// incremental run could check only what it merged ([`checks::batch_sql`]).
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

/// What happened to one model or snapshot.
#[derive(Clone, Debug)]
pub enum NodeOutcome {
    Built(Built),
    /// Not built because an upstream model failed or failed an error-severity test.
    Skipped {
        because: NodeName,
    },
    Failed(String),
}

/// One model or snapshot of a run.
#[derive(Clone, Debug)]
pub struct NodeResult {
    pub name: NodeName,
    pub relation: String,
    pub outcome: NodeOutcome,
    pub seconds: f64,
}

/// What happened to one data test.
#[derive(Clone, Debug, PartialEq)]
pub enum TestOutcome {
    Pass,
    /// The test query returned this many failing rows.
    Fail {
        failing_rows: i64,
    },
    /// The test query itself failed.
    Error(String),
    Skipped,
}

/// One data test of a run.
#[derive(Clone, Debug)]
pub struct TestResult {
    pub name: String,
    pub severity: Severity,
    pub outcome: TestOutcome,
    pub seconds: f64,
}

impl TestResult {
    /// Whether this result fails the run (an error-severity failure, or an error).
    pub fn fails_run(&self) -> bool {
        match self.outcome {
            TestOutcome::Fail { .. } => self.severity == Severity::Error,
            TestOutcome::Error(_) => true,
            TestOutcome::Pass | TestOutcome::Skipped => false,
        }
    }
}

/// Progress of a run, as it happens.
#[derive(Clone, Debug)]
pub enum Step {
    Freshness(FreshnessResult),
    Node(NodeResult),
    Test(TestResult),
}

impl Step {
    /// Built, passed or fresh: nothing a person needs to look at.
    pub fn went_well(&self) -> bool {
        match self {
            Step::Freshness(r) => r.status == FreshnessStatus::Pass,
            Step::Node(r) => matches!(r.outcome, NodeOutcome::Built(_)),
            Step::Test(r) => r.outcome == TestOutcome::Pass,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Freshness(r) => {
                let age = r.age_seconds.map_or("no rows".to_string(), |s| {
                    format!("newest {:.1} h old", s as f64 / 3_600.0)
                });
                let status = match r.status {
                    FreshnessStatus::Pass => "PASS",
                    FreshnessStatus::Warn => "WARN",
                    FreshnessStatus::Error => "ERROR STALE",
                    FreshnessStatus::Empty => "WARN EMPTY",
                };
                write!(f, "{status:<8} freshness of source {}.{} ({age})", r.source, r.table)
            }
            Step::Node(r) => {
                let what = match &r.outcome {
                    NodeOutcome::Built(Built::View) => "OK       view".to_string(),
                    NodeOutcome::Built(Built::Table) => "OK       table".to_string(),
                    NodeOutcome::Built(Built::Incremental { created: true }) => {
                        "OK       incremental (created)".to_string()
                    }
                    NodeOutcome::Built(Built::Incremental { created: false }) => {
                        "OK       incremental (merged)".to_string()
                    }
                    NodeOutcome::Built(Built::Snapshot { created: true }) => "OK       snapshot (created)".to_string(),
                    NodeOutcome::Built(Built::Snapshot { created: false }) => "OK       snapshot (updated)".to_string(),
                    NodeOutcome::Skipped { because } => format!("SKIP     (upstream `{because}` failed)"),
                    NodeOutcome::Failed(_) => "ERROR    building".to_string(),
                };
                write!(f, "{what} {} [{:.2} s]", r.relation, r.seconds)?;
                if let NodeOutcome::Failed(message) = &r.outcome {
                    write!(f, "\n         {message}")?;
                }
                Ok(())
            }
            Step::Test(r) => match &r.outcome {
                TestOutcome::Pass => write!(f, "PASS     {} [{:.2} s]", r.name, r.seconds),
                TestOutcome::Fail { failing_rows } => {
                    let label = if r.severity == Severity::Warn { "WARN" } else { "FAIL" };
                    write!(
                        f,
                        "{label:<8} {} ({failing_rows} failing rows) [{:.2} s]",
                        r.name, r.seconds
                    )
                }
                TestOutcome::Error(message) => write!(f, "ERROR    {}\n         {message}", r.name),
                TestOutcome::Skipped => write!(f, "SKIP     {}", r.name),
            },
        }
    }
}

/// Everything a run did.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    pub freshness: Vec<FreshnessResult>,
    pub nodes: Vec<NodeResult>,
    pub tests: Vec<TestResult>,
    pub seconds: f64,
    /// dbt's artifacts of the run.
    pub artifacts: artifacts::Artifacts,
}

impl RunReport {
    /// No model failed, no error-severity test failed, no source is stale past its error limit.
    pub fn succeeded(&self) -> bool {
        !self.nodes.iter().any(|n| matches!(n.outcome, NodeOutcome::Failed(_)))
            && !self.tests.iter().any(TestResult::fails_run)
            && !self.freshness.iter().any(|f| f.status == FreshnessStatus::Error)
    }

    /// The tests that fail the run when nothing else does (every model built, every
    /// source fresh): the data is wrong, and building again would not change it.
    pub fn only_failing_tests(&self) -> Option<Vec<&str>> {
        let built = !self.nodes.iter().any(|n| matches!(n.outcome, NodeOutcome::Failed(_)))
            && !self.freshness.iter().any(|f| f.status == FreshnessStatus::Error);
        let failing: Vec<&str> = self
            .tests
            .iter()
            .filter(|t| t.fails_run())
            .map(|t| t.name.as_str())
            .collect();
        (built && !failing.is_empty()).then_some(failing)
    }

    /// One line for the terminal.
    pub fn summary_line(&self) -> String {
        let count = |f: &dyn Fn(&NodeOutcome) -> bool| self.nodes.iter().filter(|n| f(&n.outcome)).count();
        let tests = |f: &dyn Fn(&TestResult) -> bool| self.tests.iter().filter(|t| f(t)).count();
        format!(
            "transform {}: {} built, {} failed, {} skipped; tests: {} passed, {} warned, {} failed, {} skipped; {:.1} s",
            if self.succeeded() { "finished" } else { "FAILED" },
            count(&|o| matches!(o, NodeOutcome::Built(_))),
            count(&|o| matches!(o, NodeOutcome::Failed(_))),
            count(&|o| matches!(o, NodeOutcome::Skipped { .. })),
            tests(&|t| t.outcome == TestOutcome::Pass),
            tests(&|t| matches!(t.outcome, TestOutcome::Fail { .. }) && !t.fails_run()),
            tests(&|t| t.fails_run()),
            tests(&|t| t.outcome == TestOutcome::Skipped),
            self.seconds,
        )
    }
}

/// A model or snapshot ready to build: its config, relation and upstream nodes.
struct Planned<'p> {
    node: &'p project::Node,
    config: NodeConfig,
    /// The config as layered, before it was read (for the manifest).
    raw_config: BTreeMap<String, serde_json::Value>,
    relation: Relation,
    /// The source tables it reads, as (source, table).
    sources: BTreeSet<(String, String)>,
}

/// A test ready to run: its failing-rows SQL comes at run time (it needs relations).
struct PlannedTest<'p> {
    test: &'p DataTest,
    refs: BTreeSet<NodeName>,
    /// The source tables it reads, as (source, table).
    sources: BTreeSet<(String, String)>,
    /// The test's config: a singular test's own `config(…)` over the project's.
    settings: TestSettings,
}

impl PlannedTest<'_> {
    /// Its tags as dbt gives a test node them: what it inherits and its config's.
    fn tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self
            .test
            .inherited_tags
            .iter()
            .chain(&self.settings.tags)
            .cloned()
            .collect();
        tags.sort();
        tags.dedup();
        tags
    }
}

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
            "{}: cannot take the record of its tests that passed last run (in {}.twitch_pipeline_passed_checks): \
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

/// The project parsed as dbt parses it before it runs anything: every enabled node's
/// refs, config and relation, the build order, every enabled test, and what the
/// options select of them.
struct Parsed<'p> {
    deps: dag::Dependencies,
    planned: BTreeMap<NodeName, Planned<'p>>,
    order: Vec<NodeName>,
    selected: BTreeSet<NodeName>,
    tests: Vec<PlannedTest<'p>>,
    /// The selected tests, by their place in `tests`.
    selected_tests: BTreeSet<usize>,
    /// What `enabled: false` leaves out, for the manifest's `disabled` section.
    disabled: Disabled<'p>,
}

/// The disabled nodes (with their refs) and tests: dbt keeps them in its manifest's
/// `disabled` section.
#[derive(Default)]
struct Disabled<'p> {
    nodes: BTreeMap<NodeName, Planned<'p>>,
    deps: dag::Dependencies,
    tests: Vec<PlannedTest<'p>>,
    /// Tests of a disabled node, disabled with it. dbt disables them only after
    /// moving disabled nodes aside (`ManifestLoader.process_refs`, after
    /// `cleanup_disabled`), so its manifest keeps them among its nodes, with
    /// `enabled: false` and without the disabled parent.
    of_disabled_nodes: Vec<PlannedTest<'p>>,
}

fn parse<'p>(
    project: &'p Project,
    renderer: &Renderer<'_>,
    options: &TransformOptions,
) -> Result<Parsed<'p>, TransformError> {
    // Parse: every node's refs and config, as dbt does before it runs anything.
    let mut deps = dag::Dependencies::new();
    let mut planned = BTreeMap::new();
    let mut disabled = Disabled::default();
    for node in &project.nodes {
        let rendered = renderer.render(&node.path, &node.sql, Pass::Parse)?;
        let raw_config = config::layered([&node.yaml_config, &rendered.config]);
        let config = NodeConfig::from_rendered(node, &raw_config)?;
        let (into_deps, into_planned) = if config.enabled {
            (&mut deps, &mut planned)
        } else {
            (&mut disabled.deps, &mut disabled.nodes)
        };
        let relation = Relation {
            schema: match &config.target_schema {
                Some(verbatim) => verbatim.clone(),
                None => schema_name(renderer, config.schema.as_deref())?,
            },
            name: config.alias.clone().unwrap_or_else(|| node.name.0.clone()),
        };
        into_deps.insert(node.name.clone(), rendered.refs.into_iter().collect());
        into_planned.insert(
            node.name.clone(),
            Planned {
                node,
                config,
                raw_config,
                relation,
                sources: rendered.sources.into_iter().collect(),
            },
        );
    }
    // As dbt: a disabled node is not in the project, and an enabled one may not use it.
    for (name, parents) in &deps {
        if let Some(parent) = parents.iter().find(|p| disabled.nodes.contains_key(*p)) {
            return Err(TransformError::Config {
                file: planned[name].node.path.clone(),
                node: name.0.clone(),
                message: format!("it refers to `{parent}`, which is disabled (enabled=false)"),
            });
        }
    }
    let order = dag::build_order(&deps)?;
    // Tests of a disabled node are disabled with it, as in dbt.
    let mut tests = Vec::new();
    for test in plan_tests(project, renderer)? {
        if !test.settings.enabled {
            disabled.tests.push(test);
        } else if test.refs.iter().any(|r| disabled.nodes.contains_key(r)) {
            disabled.of_disabled_nodes.push(test);
        } else {
            tests.push(test);
        }
    }
    let graph = selection_graph(project, &planned, &deps, &tests);
    let mut selected = BTreeSet::new();
    let mut selected_tests = BTreeSet::new();
    for member in graph.select(&options.select, &options.exclude)? {
        match member {
            Member::Node(name) => {
                selected.insert(name);
            }
            Member::Test(index) => {
                selected_tests.insert(index);
            }
            // A source is not built; selecting it selects its tests.
            Member::Source { .. } => {}
        }
    }
    Ok(Parsed {
        deps,
        planned,
        order,
        selected,
        tests,
        selected_tests,
        disabled,
    })
}

/// dbt's selection graph of the project: its models and snapshots, sources and
/// tests, each with what it reads and what dbt's selection methods look at.
fn selection_graph(
    project: &Project,
    planned: &BTreeMap<NodeName, Planned<'_>>,
    deps: &dag::Dependencies,
    tests: &[PlannedTest<'_>],
) -> selection::Graph {
    let source = |(source, table): &(String, String)| Member::Source {
        source: source.clone(),
        table: table.clone(),
    };
    let mut graph = selection::Graph::new(&project.name);
    for table in &project.sources {
        let member = Member::Source {
            source: table.source.clone(),
            table: table.name.clone(),
        };
        let selectable = Selectable {
            resource_type: ResourceType::Source,
            fqn: table.fqn.clone(),
            tags: table.tags.clone(),
            path: table.path.clone(),
            patch_path: None,
            config: artifacts::source_config(table),
            test_name: None,
        };
        graph.add(member, selectable, []);
    }
    for (name, plan) in planned {
        let selectable = Selectable {
            resource_type: match plan.node.kind {
                NodeKind::Model => ResourceType::Model,
                NodeKind::Snapshot => ResourceType::Snapshot,
            },
            fqn: plan.node.fqn.clone(),
            tags: plan.config.tags.clone(),
            path: plan.node.path.clone(),
            patch_path: plan.node.patch_path.clone(),
            config: artifacts::node_config(plan),
            test_name: None,
        };
        let parents = deps[name]
            .iter()
            .map(|n| Member::Node(n.clone()))
            .chain(plan.sources.iter().map(source));
        graph.add(Member::Node(name.clone()), selectable, parents);
    }
    for (index, test) in tests.iter().enumerate() {
        let selectable = Selectable {
            resource_type: ResourceType::Test,
            fqn: test.test.fqn.clone(),
            tags: test.tags(),
            path: test.test.path.clone(),
            patch_path: None,
            config: artifacts::test_config(test),
            test_name: checks::generic_parts(&test.test.kind).map(|generic| generic.name.to_string()),
        };
        let parents = test
            .refs
            .iter()
            .map(|n| Member::Node(n.clone()))
            .chain(test.sources.iter().map(source));
        graph.add(Member::Test(index), selectable, parents);
    }
    graph
}

/// dbt's `target` on `warehouse`: its type, default schema and database, named `name`.
async fn target_of<W: Warehouse>(warehouse: &mut W, name: &str) -> Result<Target, WarehouseError> {
    let database = warehouse.query("select current_database()").await?;
    Ok(Target {
        dialect: warehouse.dialect(),
        schema: warehouse.default_schema().to_string(),
        name: name.to_string(),
        database: database.scalar().unwrap_or_default().to_string(),
    })
}

/// What `options` select, as `dbt ls --resource-type model --resource-type snapshot
/// --resource-type test --output name` lists it, for `dialect` (`duckdb`,
/// `snowflake`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listed {
    /// The models and snapshots, in build order.
    pub nodes: Vec<NodeName>,
    /// The tests' names, in the project's order.
    pub tests: Vec<String>,
}

/// The models, snapshots and tests `options` select ([`Listed`]).
pub fn list(project: &Project, options: &TransformOptions, dialect: Dialect) -> Result<Listed, TransformError> {
    let target = Target {
        dialect,
        schema: "main".to_string(),
        name: options.target_name().to_string(),
        database: String::new(),
    };
    let renderer = Renderer::new(project, target).with_vars(&options.vars);
    let parsed = parse(project, &renderer, options)?;
    Ok(Listed {
        nodes: parsed
            .order
            .into_iter()
            .filter(|n| parsed.selected.contains(n))
            .collect(),
        tests: parsed
            .selected_tests
            .iter()
            .map(|&i| parsed.tests[i].test.name.clone())
            .collect(),
    })
}

/// Each test with the models and sources it reads; singular tests are parsed for
/// their refs, sources and their own `config(…)`, which may disable them.
fn plan_tests<'p>(project: &'p Project, renderer: &Renderer<'_>) -> Result<Vec<PlannedTest<'p>>, TransformError> {
    let mut planned = Vec::new();
    for test in &project.tests {
        let (refs, sources, settings) = match &test.kind {
            TestKind::Singular { sql } => {
                let rendered = renderer.render(&test.path, sql, Pass::Parse)?;
                let settings = test
                    .settings
                    .clone()
                    .overridden_by(&rendered.config)
                    .map_err(|e| TransformError::project(Path::new(&test.path), format!("config(…): {e}")))?;
                (rendered.refs, rendered.sources, settings)
            }
            _ => (
                checks::generic_refs(test),
                checks::generic_source(test).into_iter().collect(),
                test.settings.clone(),
            ),
        };
        for model in &refs {
            if project.node(&model.0).is_none() {
                return Err(TransformError::Selection(format!(
                    "test `{}` refers to `{model}`, which the project does not have",
                    test.name
                )));
            }
        }
        planned.push(PlannedTest {
            test,
            refs: refs.into_iter().collect(),
            sources: sources.into_iter().collect(),
            settings,
        });
    }
    Ok(planned)
}

/// dbt's `generate_schema_name`: the project's own macro if it has one, else dbt's
/// default (`target_custom`, or the target schema when there is no custom one).
fn schema_name(renderer: &Renderer<'_>, custom: Option<&str>) -> Result<String, TransformError> {
    if renderer.has_macro("generate_schema_name") {
        return renderer.call_macro("generate_schema_name", &[custom, None]);
    }
    let target = &renderer.target().schema;
    Ok(custom.map_or_else(|| target.clone(), |custom| format!("{target}_{custom}")))
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

/// An incremental model as its tests see it: what this run merged, and which tests
/// passed on the last run.
struct Increment<'a> {
    model: &'a NodeName,
    relation: &'a Relation,
    /// The table of the rows this run merged; none when it built the model whole (or
    /// `--full-checks`).
    batch: Option<&'a str>,
    /// Test name -> the query it passed with last time ([`passed_checks`]).
    passed_before: &'a BTreeMap<String, String>,
}

/// Runs a planned test and judges its failing rows by its severity and thresholds.
/// On an incremental model (`increment`), a generic test that passed last time with
/// the same query checks only what this run merged; a narrowable test that finds no
/// failing row comes back with its name and full query, to be recorded as passed for
/// the next run ([`passed_checks::record`]).
async fn run_planned_test<W: Warehouse>(
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
