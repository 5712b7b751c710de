//! The Twitch Helix client: app token, pacing on `Ratelimit-*`, retries, pages.

mod settings;
pub use settings::{TwitchArgs, TwitchSettings};

mod auth;
mod client;
mod latency;
mod pacing;
mod types;

pub use auth::TokenSource;
pub use client::{ClientOptions, HelixClient, HelixError, Probe, RequestOptions, RequestStats, StatsSnapshot};
pub use latency::Counts as LatencyCounts;
pub use pacing::Pacer;
// The backoff policy is shared with other HTTP clients (Snowpipe).
pub use crate::retry::Backoff;
pub use types::{HelixPage, IdOnly, Pagination, StreamKey};
