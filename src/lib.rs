//! twitch-pipeline: a Twitch analytics pipeline in one binary.
//!
//! The modules follow the pipeline's stages, lowest first:
//!
//! - [`config`]: what every stage's settings share: all problems listed at once. Each
//!   stage owns its settings (`settings.rs` beside its code).
//! - [`lake`]: the lake contract: slots, paths, the streaming NDJSON.gz writer,
//!   manifests (the commit point) and the look-up freshness state.
//! - [`warehouse`]: the warehouse (embedded DuckDB locally) and its raw layer.
//! - [`twitch`]: the Helix client: app token, pacing on `Ratelimit-*`, retries.
//! - [`extract`]: one slot from Helix into the lake (streams, then users and games).
//! - [`ingest`]: committed lake files into Snowflake through Snowpipe (manifests only).
//! - [`load`]: committed lake files into the embedded warehouse's raw tables.
//! - [`transform`]: the dbt-compatible SQL project, rendered and run on the warehouse.
//! - [`simulator`]: a synthetic Helix, the test double and the demo's data source.
//! - [`status`]: reconciliation: each slot committed, missed, or how much of it arrived.
//! - [`report`]: the terminal report over the marts (top streamers, games, languages).
//! - [`snowflake_setup`]: the Snowflake objects the pipeline needs, as reviewable DDL.
//! - [`snowpipe`]: Snowpipe's REST API: key-pair JWT, insertFiles, insertReport.
//! - [`retry`]: the capped, jittered backoff the HTTP clients share.
//! - [`functions`]: `serve`, the Azure Functions custom handler (timers, blob trigger, HTTP).
//! - [`pipeline`]: composes the stages; the CLI and the demo call only this.
//! - [`telemetry`]: log setup (human on a terminal, JSON in Azure).
//! - [`task`]: spawned helper tasks owned by a run.

pub mod config;
pub mod doctor;
pub mod extract;
pub mod functions;
pub mod ingest;
pub mod lake;
#[cfg(feature = "duckdb")]
pub mod load;
pub mod pipeline;
pub mod report;
pub mod retry;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod snowflake_setup;
pub mod snowpipe;
pub mod status;
pub mod task;
pub mod telemetry;
pub mod transform;
pub mod twitch;
pub mod warehouse;
