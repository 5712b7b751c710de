//! Pathologies of the real Helix, each switched on by name.
//!
//! They fire on a fixed pattern of the simulator's request counter, so a run is
//! reproducible and every fault is sure to fire on a run of a few dozen requests.

use std::collections::BTreeSet;
use std::time::Duration;

/// One misbehaviour the simulator can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Fault {
    /// Viewer counts shift while paging: two streams of earlier pages show up again.
    Duplicates,
    /// After the last page the cursor points back to the second page.
    LoopingCursor,
    /// After the last page the listing starts again from the top: the last page's
    /// cursor leads back to the first (twitchdev/issues#93).
    WrapAround,
    /// The last page has a cursor, and the page after it is empty.
    EmptyLastPage,
    /// Every 40th request gets 429, as if another consumer emptied the bucket.
    RateLimitBursts,
    /// From the 5th request on, every request gets 429 with a reset a second away:
    /// another consumer of the same app spends the whole bucket.
    RateLimitStorm,
    /// The 5th request gets 429 with a `Ratelimit-Reset` a day away.
    FarRateLimitReset,
    /// `/streams` goes down after its first pass: from the second request without a
    /// cursor on, every `/streams` request gets 503 (a partial Helix outage; the
    /// other endpoints keep answering).
    StreamsOutageAfterFirstPass,
    /// Every 7th request gets a 500 or 503.
    ServerErrors,
    /// At the 30th request every issued token is revoked (401 until a new one).
    TokenRevoked,
    /// Every 10th request answers only after the slow delay.
    SlowResponses,
    /// Every 13th request gets a truncated JSON body with status 200.
    MalformedBody,
    /// Pages overlap: each page after the first starts up to 20 streams before the
    /// cursor, repeating the tail of the previous page with more viewers than its last
    /// stream, as when streams start above the reader and push the list down.
    OverlappingPages,
    /// Viewer counts change between requests (long-tailed: a few percent mostly, now
    /// and then a raid) and the list re-sorts, so streams cross page boundaries both
    /// ways: read twice, or never.
    ListingChurn,
    /// Streams end and start between requests.
    StreamsComeAndGo,
    /// One object in a hundred is unusable, every time it is served: no `id`, a
    /// count or id of the wrong type, or invalid UTF-8 in a string.
    UnusableRecords,
}

/// The faults switched on, and how slow a slow response is.
#[derive(Clone, Debug)]
pub struct Faults {
    pub enabled: BTreeSet<Fault>,
    pub slow_delay: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            enabled: BTreeSet::new(),
            slow_delay: Duration::from_secs(3),
        }
    }
}

impl Faults {
    pub fn with(faults: impl IntoIterator<Item = Fault>) -> Self {
        Faults {
            enabled: faults.into_iter().collect(),
            ..Faults::default()
        }
    }

    pub fn has(&self, fault: Fault) -> bool {
        self.enabled.contains(&fault)
    }

    /// Whether `fault` fires on Helix request number `n` (counted from 1).
    pub fn fires(&self, fault: Fault, n: u64) -> bool {
        self.has(fault)
            && match fault {
                Fault::RateLimitBursts => n % 40 == 20,
                Fault::RateLimitStorm => n >= 5,
                Fault::FarRateLimitReset => n == 5,
                // Decided by the `/streams` route, which counts its passes.
                Fault::StreamsOutageAfterFirstPass => true,
                Fault::ServerErrors => n % 7 == 3,
                Fault::TokenRevoked => n == 30,
                Fault::SlowResponses => n % 10 == 7,
                Fault::MalformedBody => n % 13 == 5,
                Fault::Duplicates
                | Fault::LoopingCursor
                | Fault::WrapAround
                | Fault::EmptyLastPage
                | Fault::OverlappingPages
                | Fault::ListingChurn
                | Fault::StreamsComeAndGo
                | Fault::UnusableRecords => true,
            }
    }
}
