//! twitch-pipeline: a Twitch analytics pipeline in one binary.
//!
//! The modules follow the pipeline's stages, lowest first:
//!
//! - [`config`]: settings from environment variables and flags, validated at once.
//! - [`lake`]: the lake contract: slots, paths, the streaming NDJSON.gz writer,
//!   manifests (the commit point) and the look-up freshness state.
//! - [`twitch`]: the Helix client: app token, pacing on `Ratelimit-*`, retries.
//! - [`extract`]: one slot from Helix into the lake (streams, then users and games).
//! - [`simulator`]: a synthetic Helix, the test double and the demo's data source.
//! - [`pipeline`]: composes the stages; the CLI and the demo call only this.
//! - [`telemetry`]: log setup (human on a terminal, JSON in Azure).
//! - [`task`]: spawned helper tasks owned by a run.

pub mod config;
pub mod extract;
pub mod lake;
pub mod pipeline;
pub mod simulator;
pub mod task;
pub mod telemetry;
pub mod twitch;
