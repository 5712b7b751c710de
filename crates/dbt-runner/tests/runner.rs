//! The runner's integration tests, one binary (each test binary links the bundled
//! DuckDB). The dbt-bound ones are `#[ignore = "needs …"]`: the workspace's
//! `scripts/test` installs dbt and runs them.

mod crosscheck;
mod support;
