//! A synthetic Twitch Helix: the test double and the demo's data source.
//!
//! It serves `/oauth2/token`, `/oauth2/validate`, `/helix/streams`, `/helix/users`
//! and `/helix/games` over HTTP, with Helix's rate limit and, on request, its
//! pathologies. Its data is synthetic: no real channel, user or game is in it.

mod bucket;
mod clock;
mod faults;
mod listing;
mod names;
mod server;
mod world;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

pub use bucket::{Level, TokenBucket};
pub use clock::SimClock;
pub use faults::{Fault, Faults};
pub use listing::PassTruth;
pub use server::{RunningSimulator, serve, spawn};
pub use world::{Game, Stream, User, World};

use crate::lake::Slot;

/// Credentials the simulator accepts unless told otherwise.
pub const DEFAULT_CLIENT_ID: &str = "sim-client-id";
pub const DEFAULT_CLIENT_SECRET: &str = "sim-client-secret";

/// How to build a simulator.
#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    pub seed: u64,
    /// Live streams at every slot.
    pub streams: usize,
    /// Points per minute; `None` lifts the limit.
    pub rate_limit: Option<u32>,
    pub faults: Faults,
    pub clock: SimClock,
    pub client_id: String,
    pub client_secret: String,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            seed: 1,
            streams: 1_000,
            rate_limit: Some(800),
            faults: Faults::default(),
            clock: SimClock::Wall,
            client_id: DEFAULT_CLIENT_ID.to_string(),
            client_secret: DEFAULT_CLIENT_SECRET.to_string(),
        }
    }
}

/// The simulator's state, shared by its request handlers.
pub struct Simulator {
    config: SimulatorConfig,
    world: World,
    bucket: Option<TokenBucket>,
    tokens: Mutex<HashSet<String>>,
    issued: AtomicU64,
    helix_requests: AtomicU64,
    /// The listing of the most recent slot asked for, moving as the faults say.
    listing: tokio::sync::Mutex<Option<listing::Listing>>,
    /// `/streams` requests without a cursor (passes begun), and whether
    /// [`Fault::StreamsOutageAfterFirstPass`] has taken `/streams` down.
    streams_passes: AtomicU64,
    streams_down: std::sync::atomic::AtomicBool,
    /// Original ids of records served spoiled by [`Fault::UnusableRecords`].
    spoiled: Mutex<HashSet<String>>,
}

impl Simulator {
    pub fn new(config: SimulatorConfig) -> Simulator {
        Simulator {
            world: World::new(config.seed, config.streams),
            bucket: config.rate_limit.map(TokenBucket::new),
            tokens: Mutex::new(HashSet::new()),
            issued: AtomicU64::new(0),
            helix_requests: AtomicU64::new(0),
            listing: tokio::sync::Mutex::new(None),
            streams_passes: AtomicU64::new(0),
            streams_down: Default::default(),
            spoiled: Mutex::new(HashSet::new()),
            config,
        }
    }

    /// The world being served.
    pub fn world(&self) -> &World {
        &self.world
    }

    pub fn config(&self) -> &SimulatorConfig {
        &self.config
    }

    /// The slot currently served.
    pub fn slot(&self) -> Slot {
        self.config.clock.slot()
    }

    /// Ids of every stream live at `slot`: what a complete extraction must land.
    pub fn live_stream_ids(&self, slot: Slot) -> HashSet<String> {
        self.world.streams(slot).into_iter().map(|s| s.id).collect()
    }

    /// What `/streams` served of the current slot's listing, and which streams stayed
    /// live all the while; `None` before the first request.
    pub async fn pass_truth(&self) -> Option<PassTruth> {
        self.listing.lock().await.as_ref().map(|l| l.truth())
    }

    /// Ids of the streams, users and games served as unusable records so far.
    pub fn spoiled_ids(&self) -> HashSet<String> {
        self.spoiled.lock().expect("spoiled lock").clone()
    }

    /// Every access token issued so far (tests check none leaks into logs).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.tokens.lock().expect("tokens lock").iter().cloned().collect()
    }

    /// Helix requests answered so far (token requests not included).
    pub fn helix_requests(&self) -> u64 {
        self.helix_requests.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Base URLs of a simulator listening on `addr`.
pub fn urls(addr: SocketAddr) -> (String, String) {
    (format!("http://{addr}/helix"), format!("http://{addr}/oauth2"))
}
