//! The transform stage: the project in `models/` built on the warehouse by the
//! dbt-compatible runner ([`dbt_runner`], crates/dbt-runner), with the pipeline's
//! settings for it and where its readers find the marts ([`Marts`]).

mod marts;
mod settings;

pub use dbt_runner::{
    Built, FreshnessStatus, Listed, NodeOutcome, Project, RunReport, Severity, Step, TestOutcome, TestResult,
    TransformError, TransformOptions, list, run,
};

pub use self::marts::Marts;
pub use settings::{ProjectArgs, ProjectSettings, ThreadsArg, TransformArgs, TransformSettings};
