//! A dbt-compatible runner: reads a dbt project, renders its models with dbt's Jinja
//! context, builds them on a SQL warehouse and writes dbt's artifacts. It knows
//! nothing of any particular project.
//!
//! [`Project::load`] reads `dbt_project.yml` and its files; [`run()`] renders every
//! model ([`render`]), orders them by their refs ([`dag`]), builds each as a view,
//! table, incremental model or SCD2 snapshot ([`materialize`]) and runs the data tests
//! and source freshness checks ([`checks`]). As in `dbt build`, a model whose
//! error-severity test fails stops its descendants, and the run reports every failing
//! test with its failing-row count. [`list`] is `dbt ls`; [`relations`] says where
//! each model is built for a target. The warehouse is anything that implements
//! [`Warehouse`]; the embedded DuckDB comes with the `duckdb` feature.

mod artifacts;
mod checks;
mod config;
mod dag;
mod error;
mod layering;
mod materialize;
mod options;
mod passed_checks;
mod plan;
pub mod project;
mod render;
mod report;
mod run;
mod schedule;
mod selection;
mod test_runs;
pub mod warehouse;
mod yaml;

pub use self::artifacts::Artifacts;
pub use self::checks::{FreshnessResult, FreshnessStatus};
pub use self::error::TransformError;
pub use self::materialize::Built;
pub use self::options::TransformOptions;
pub use self::plan::{Listed, list, relations};
pub use self::project::{NodeName, Project, Severity};
pub use self::render::Relation;
pub use self::report::{NodeOutcome, NodeResult, RunReport, Step, TestOutcome, TestResult};
pub use self::run::run;
pub use self::warehouse::{Dialect, Warehouse, WarehouseError};
