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
    /// After the last page the listing starts again from the top.
    WrapAround,
    /// The last page has a cursor, and the page after it is empty.
    EmptyLastPage,
    /// Every 40th request gets 429, as if another consumer emptied the bucket.
    RateLimitBursts,
    /// Every 7th request gets a 500 or 503.
    ServerErrors,
    /// At the 30th request every issued token is revoked (401 until a new one).
    TokenRevoked,
    /// Every 10th request answers only after the slow delay.
    SlowResponses,
    /// Every 13th request gets a truncated JSON body with status 200.
    MalformedBody,
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
                Fault::ServerErrors => n % 7 == 3,
                Fault::TokenRevoked => n == 30,
                Fault::SlowResponses => n % 10 == 7,
                Fault::MalformedBody => n % 13 == 5,
                Fault::Duplicates | Fault::LoopingCursor | Fault::WrapAround | Fault::EmptyLastPage => true,
            }
    }
}
