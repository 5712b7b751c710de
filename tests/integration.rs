//! Every integration test of twitch-pipeline, in one test binary.
//!
//! One binary rather than one per file: each binary links the whole library (and,
//! with the default features, the bundled DuckDB), so fourteen of them cost a fresh
//! build minutes of compiling and linking the same code (Cargo.toml sets
//! `autotests = false` and names this file). A file here is a module; run one with
//! `cargo test --release --test integration transform::`.
//!
//! Tests that need a tool (Azurite, dbt, fakesnow, schemastore, Chromium) are
//! `#[ignore = "needs …"]`: plain `cargo test` lists them as ignored, and
//! `scripts/test` installs the tools and runs them (`--include-ignored`).

mod support;

mod azurite;
mod cli;
mod dbt_crosscheck;
mod demo;
mod end_to_end;
mod extract;
mod fault_matrix;
mod function_app;
mod functions;
mod ingest;
mod load;
mod snowflake_sql;
mod snowpipe;
mod transform;
