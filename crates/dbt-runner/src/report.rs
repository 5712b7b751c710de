//! What a run did, node by node and test by test, as it happens ([`Step`]) and
//! whole ([`RunReport`]).

use std::fmt;

use crate::artifacts;
use crate::checks::{FreshnessResult, FreshnessStatus};
use crate::materialize::Built;
use crate::project::{NodeName, Severity};

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
