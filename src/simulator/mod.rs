//! A synthetic Twitch Helix: the test double and the demo's data source.
//!
//! It serves `/oauth2/token`, `/oauth2/validate`, `/helix/streams`, `/helix/users`
//! and `/helix/games` over HTTP, with Helix's rate limit, keyset cursors and filters,
//! a network's latency and, on request, its pathologies: a listing that moves in
//! wall-clock time, bad cursors, short and empty pages, failing look-ups. Its data is
//! synthetic: no real channel, user or game is in it.

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
use std::time::Duration;

pub use bucket::{Level, TokenBucket};
pub use clock::SimClock;
pub use faults::{Fault, Faults};
pub use listing::{Motion, PassTruth};
pub use server::{RunningSimulator, serve, spawn};
pub use world::{Game, POPULARITY_TAIL, Rhythm, Stream, User, World};

use crate::lake::Slot;

/// Credentials the simulator accepts unless told otherwise.
pub const DEFAULT_CLIENT_ID: &str = "sim-client-id";
pub const DEFAULT_CLIENT_SECRET: &str = "sim-client-secret";

/// How to build a simulator.
#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    pub seed: u64,
    /// Live streams at every slot (`Flat`), or on average over a week (`Daily`).
    pub streams: usize,
    /// Whether the world follows Twitch's daily cycle; tests keep it flat.
    pub rhythm: Rhythm,
    /// Points per minute; `None` lifts the limit.
    pub rate_limit: Option<u32>,
    pub faults: Faults,
    pub clock: SimClock,
    pub client_id: String,
    pub client_secret: String,
    /// Each Helix request's round trip; `None` answers at loopback speed.
    pub latency: Option<Latency>,
    /// Twitch time per wall-clock time for the listing's motion (1 in benchmarks;
    /// tests run it faster so a short run sees minutes of churn).
    pub speed: f64,
}

/// A network round trip: `mean` stretched by a uniform factor in `1 ± spread`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    pub mean: Duration,
    pub spread: f64,
}

impl Latency {
    /// The benchmarks' Helix from an Azure region: 250 ms ± 40%.
    pub const AZURE_TO_HELIX: Latency = Latency {
        mean: Duration::from_millis(250),
        spread: 0.4,
    };

    /// The round trip of request `n`, drawn from `seed`.
    pub fn sample(&self, seed: u64, n: u64) -> Duration {
        let u = world::unit(world::hash(&[seed, 0x1A7E, n]));
        self.mean.mul_f64((1.0 + self.spread * (2.0 * u - 1.0)).max(0.0))
    }
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            seed: 1,
            streams: 1_000,
            rhythm: Rhythm::Flat,
            rate_limit: Some(800),
            faults: Faults::default(),
            clock: SimClock::Wall,
            client_id: DEFAULT_CLIENT_ID.to_string(),
            client_secret: DEFAULT_CLIENT_SECRET.to_string(),
            latency: None,
            speed: 1.0,
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
    /// `/streams` requests, which the listing's own faults count.
    streams_requests: AtomicU64,
    /// The cursor [`Fault::RefusedCursor`] refuses, once handed out.
    refused_cursor: Mutex<Option<listing::Score>>,
    /// The user and game ids [`Fault::LookupFailsForOneId`] fails on.
    poisoned: Option<(String, String)>,
    /// The stream [`Fault::StreamMissingFromListing`] leaves out of the current listing.
    hidden: Mutex<Option<String>>,
    /// Answers sent gzip-compressed, and bytes sent (after compression).
    gzip_responses: AtomicU64,
    bytes_sent: AtomicU64,
    /// Round trips drawn so far (each request draws the next).
    latency_draws: AtomicU64,
    /// Original ids of records served spoiled by [`Fault::UnusableRecords`].
    spoiled: Mutex<HashSet<String>>,
}

impl Simulator {
    pub fn new(config: SimulatorConfig) -> Simulator {
        let world = World::with_rhythm(config.seed, config.streams, config.rhythm);
        // The user and game of a stream well up the listing: surely live, surely asked for.
        let poisoned = config.faults.has(Fault::LookupFailsForOneId).then(|| {
            let streams = world.streams(config.clock.slot());
            let stream = streams
                .iter()
                .skip(6)
                .find(|s| !s.game_id.is_empty())
                .unwrap_or(&streams[0]);
            (stream.user_id.clone(), stream.game_id.clone())
        });
        Simulator {
            world,
            bucket: config.rate_limit.map(TokenBucket::new),
            tokens: Mutex::new(HashSet::new()),
            issued: AtomicU64::new(0),
            helix_requests: AtomicU64::new(0),
            listing: tokio::sync::Mutex::new(None),
            streams_requests: AtomicU64::new(0),
            refused_cursor: Mutex::new(None),
            poisoned,
            hidden: Mutex::new(None),
            gzip_responses: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            latency_draws: AtomicU64::new(0),
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

    /// Ids of every stream live at `slot` in the world, before the listing moves: what
    /// a complete extraction of a listing that holds still must land.
    pub fn live_stream_ids(&self, slot: Slot) -> HashSet<String> {
        self.world.streams(slot).into_iter().map(|s| s.id).collect()
    }

    /// What `/streams` served of the current slot's listing, and which streams stayed
    /// live from its first request until now; `None` before the first request.
    pub async fn pass_truth(&self) -> Option<PassTruth> {
        let mut listing = self.listing.lock().await;
        let listing = listing.as_mut()?;
        listing.advance(&self.world, tokio::time::Instant::now());
        Some(listing.truth())
    }

    /// The user and game ids `/users` and `/games` fail on under
    /// [`Fault::LookupFailsForOneId`].
    pub fn poisoned_ids(&self) -> Option<(String, String)> {
        self.poisoned.clone()
    }

    /// The stream [`Fault::StreamMissingFromListing`] leaves out of the current slot's
    /// listing (none at the first slot served).
    pub fn hidden_stream(&self) -> Option<String> {
        self.hidden.lock().expect("hidden lock").clone()
    }

    /// Answers sent gzip-compressed, and bytes sent in all (after compression).
    pub fn wire_counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.gzip_responses.load(Relaxed), self.bytes_sent.load(Relaxed))
    }

    /// The listing's motion, as the faults switched on ask for it.
    fn motion(&self) -> Motion {
        Motion {
            counts: self.config.faults.has(Fault::ListingChurn),
            turnover: self.config.faults.has(Fault::StreamsComeAndGo),
            speed: self.config.speed,
            ..Motion::default()
        }
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
