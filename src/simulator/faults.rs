//! Pathologies of the real Helix, each switched on by name.
//!
//! Those that strike single requests fire on a fixed pattern of the simulator's request
//! counter, so a run is reproducible and every fault is sure to fire on a run of a few
//! dozen requests. The listing's motion (`ListingChurn`, `StreamsComeAndGo`) follows
//! the wall clock instead, as Twitch's does (see `listing.rs`).
//!
//! Where each shape comes from:
//! - bad cursors: twitchdev/issues#91 ("Intermittent Error 400 (Invalid Cursor)" on
//!   cursors Helix itself returned: `{"error":"Bad Request","status":400,"message":
//!   "invalid cursor"}`), #2 (cursors such as `IA` that hold nothing), and the forum's
//!   advice: "You also need to retry any bad cursors, such as IA. And you need to detect
//!   looping" (thedist, discuss.dev.twitch.com/t/25053/8);
//! - cursors whose next part is empty, leading to an empty page mid-listing, and short
//!   pages ("Instead of getting the first 100 … I will instead get around 40-60
//!   results, and it will return a VERY SPECIFIC cursor value … This cursor always
//!   returns an empty list"): twitchdev/issues#199, #240, #543;
//! - the last page's cursor looping back to the first page: twitchdev/issues#93;
//! - look-ups failing for particular ids ("the faulty responses depend on the IDs
//!   themselves", `{"error":"Internal Server Error","status":500,"message":""}`):
//!   twitchdev/issues#592, #664;
//! - 429s: the API guide ("Some API endpoints may return HTTP 429 response codes for
//!   reasons unrelated to the general rate limit bucket").

use std::collections::BTreeSet;
use std::time::Duration;

/// One misbehaviour the simulator can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Fault {
    /// Viewer counts shift while paging: two streams of earlier pages show up again.
    Duplicates,
    /// The last page's cursor is the one the first page handed out, so following it
    /// reads the listing again from its second page.
    LoopingCursor,
    /// The last page's cursor leads back to the first page (twitchdev/issues#93).
    WrapAround,
    /// The last page carries no cursor (an empty pagination object), the other end
    /// the API guide describes.
    NoCursorOnLastPage,
    /// Every 40th request gets 429, as if another consumer emptied the bucket.
    RateLimitBursts,
    /// From the 5th request on, every request gets 429 with a reset a second away:
    /// another consumer of the same app spends the whole bucket.
    RateLimitStorm,
    /// The 5th request gets 429 with a `Ratelimit-Reset` a day away.
    FarRateLimitReset,
    /// `/streams` goes down mid-run: from its 20th request on, every `/streams`
    /// request gets 503 (a partial outage; the other endpoints keep answering).
    StreamsOutageMidRun,
    /// Every 7th request gets a 500 or 503.
    ServerErrors,
    /// At the 30th request every issued token is revoked (401 until a new one).
    TokenRevoked,
    /// Every 10th request answers only after the slow delay.
    SlowResponses,
    /// Every 13th request gets a truncated JSON body with status 200.
    MalformedBody,
    /// Pages overlap: each page after the first starts up to 20 streams above the
    /// cursor, repeating the tail of the previous page.
    OverlappingPages,
    /// Viewer counts are refreshed about once a minute per stream, in wall-clock time:
    /// drifting, the tail of 0–3 viewers flipping, now and then a raid or a collapse.
    ListingChurn,
    /// Streams end and start at Twitch's rate, in wall-clock time.
    StreamsComeAndGo,
    /// One object in a hundred is unusable, every time it is served: no `id`, a
    /// count or id of the wrong type, or invalid UTF-8 in a string.
    UnusableRecords,
    /// One `/streams` request with a cursor in 9 gets `400 invalid cursor`; the same
    /// cursor works when asked again (twitchdev/issues#91).
    TransientBadCursor,
    /// The cursor handed out by the 5th `/streams` request is refused with `400
    /// invalid cursor` every time it is used.
    RefusedCursor,
    /// One `/streams` request in 11 hands out a cursor whose next part is empty: it
    /// leads to an empty page, mid-listing (twitchdev/issues#199, #543).
    EmptyCursorMidListing,
    /// One `/streams` page in 5 holds 40–60 streams instead of the 100 asked for,
    /// with a cursor to go on (twitchdev/issues#199).
    ShortPages,
    /// `/users` and `/games` answer 500 to every request that names one particular
    /// user or game (twitchdev/issues#592, #664); [`super::Simulator::poisoned_ids`].
    LookupFailsForOneId,
    /// From the second slot served on, one stream that was live at the slot before is
    /// left out of every listing, though a request by its `user_id` returns it (a
    /// live stream missing from Get Streams: twitchdev/issues#558);
    /// [`super::Simulator::hidden_stream`].
    StreamMissingFromListing,
    /// The `language` filter is ignored: every partition is the whole listing.
    IgnoresLanguageFilter,
    /// The third stream of the first slot served broadcasts in `tlh`, a value no list
    /// of Twitch's languages has (a language Twitch added since).
    UnlistedLanguage,
    /// Only cursors handed out for the current slot's listing are taken: one from an
    /// earlier slot gets `400 invalid cursor` (whether Helix's cursors last is not
    /// documented; this is the case where they do not).
    CursorsExpire,
}

/// A fixed one in `m` of the request numbers, with no period.
fn one_in(m: u64, n: u64) -> bool {
    super::world::hash(&[0xFA17, n]) % m == 0
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

    /// Whether `fault` fires on request number `n` (counted from 1: Helix requests for
    /// most faults, `/streams` requests for the listing's own).
    pub fn fires(&self, fault: Fault, n: u64) -> bool {
        self.has(fault)
            && match fault {
                Fault::RateLimitBursts => n % 40 == 20,
                Fault::RateLimitStorm => n >= 5,
                Fault::FarRateLimitReset => n == 5,
                Fault::StreamsOutageMidRun => n >= 20,
                Fault::ServerErrors => n % 7 == 3,
                Fault::TokenRevoked => n == 30,
                Fault::SlowResponses => n % 10 == 7,
                Fault::MalformedBody => n % 13 == 5,
                // Drawn from the request number rather than a period of it, so they
                // do not fall on the same chain each round when chains take turns.
                Fault::TransientBadCursor => one_in(9, n),
                Fault::RefusedCursor => n == 5,
                Fault::EmptyCursorMidListing => one_in(11, n),
                Fault::ShortPages => one_in(5, n),
                Fault::Duplicates
                | Fault::LoopingCursor
                | Fault::WrapAround
                | Fault::NoCursorOnLastPage
                | Fault::OverlappingPages
                | Fault::ListingChurn
                | Fault::StreamsComeAndGo
                | Fault::UnusableRecords
                | Fault::LookupFailsForOneId
                | Fault::StreamMissingFromListing
                | Fault::IgnoresLanguageFilter
                | Fault::UnlistedLanguage
                | Fault::CursorsExpire => true,
            }
    }
}
