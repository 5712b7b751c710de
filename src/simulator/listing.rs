//! One slot's `/streams` listing as Helix serves it: ordered by a score, read through
//! keyset cursors, filtered as Get Streams filters, and moving in wall-clock time.
//!
//! - **Order.** "The list is in descending order by the number of viewers watching the
//!   stream" (<https://dev.twitch.tv/docs/api/reference/#get-streams>). Helix's cursors
//!   decode to a *score*: base64 of `{"b":{"Cursor":…},"a":{"Cursor":…}}`, each inner
//!   cursor base64 of `{"s":78365.44415751715,"d":false,"t":true}`, where 78365 is the
//!   viewer count of the page's stream and the fraction breaks ties (the reference's
//!   own example cursor; twitchdev/issues #91, #93, #199). So every stream here has a
//!   score, its viewers plus a fraction of its own, and a cursor is the score of the
//!   last stream of a page.
//! - **Keyset paging.** The page after a cursor is the streams scoring below it *as
//!   they stand now*: a stream that rises past the reader is not read by that chain,
//!   one that falls below it is read twice ("it's possible to find duplicate or missing
//!   streams in the list as you page through the results", the reference).
//! - **The end.** The last page still carries a cursor, "to allow for traversal of
//!   results in either direction", and the page after it is empty with an empty
//!   pagination object (the API guide: "the cursor may return an empty page … when
//!   you're near the end of the list", "you're at the end of the list when the
//!   response contains an empty Pagination object"; the forum answer quoted in
//!   `faults.rs`).
//! - **Motion.** Viewer counts are refreshed about once a minute per stream (Twitch
//!   serves cached counts: "there's no way to get this data any faster than once a
//!   minute", justintv/Twitch-API#311), most by a few percent; the long tail of 0–3
//!   viewers flips by one; now and then a raid multiplies a count or one collapses.
//!   Streams end and start at Twitch's turnover: ~20 M streams a month of ~2.6–3.7 h
//!   each (SullyGnome's figures, via streammentor.com) is ~7.7 starts a second, as
//!   many ends, at ~100,000 live. All of it follows the wall clock (times `speed`),
//!   not the request count, so a slow reader sees more of it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::time::Duration;

use tokio::time::Instant;

use super::world::{Stream, World, hash, unit};
use crate::lake::Slot;

// Salts of the listing's own draws, apart from the world's.
const S_FRACTION: u64 = 100;
const S_REFRESH: u64 = 101;
const S_ENDS: u64 = 102;
const S_STARTS: u64 = 103;

/// Streams started mid-slot get ids from here up, apart from the world's.
const STARTED_ID_BASE: u64 = 900_000_000_000;

/// Motion is applied in steps of this much (Twitch) time.
const TICK: Duration = Duration::from_millis(100);

/// A stream's place in the order: viewers in the high 32 bits, its own fraction in the
/// low 32 (unique per stream, so no two streams ever tie).
pub type Score = u64;

/// The viewer count and fraction of a score, as Helix's cursors write it (`s`).
pub fn score_as_float(score: Score) -> f64 {
    (score >> 32) as f64 + (score & 0xFFFF_FFFF) as f64 / 4_294_967_296.0
}

/// The score a cursor's `s` names (the inverse of [`score_as_float`], rounding to the
/// nearest fraction a stream can have).
pub fn score_from_float(s: f64) -> Option<Score> {
    if !(0.0..4_294_967_296.0).contains(&s) {
        return None;
    }
    let viewers = s.floor();
    let fraction = ((s - viewers) * 4_294_967_296.0).round().min(4_294_967_295.0);
    Some(((viewers as u64) << 32) | fraction as u64)
}

/// How the listing moves while it is read.
#[derive(Clone, Copy, Debug)]
pub struct Motion {
    /// Viewer counts change (drift, tail flips, raids) at each stream's refresh.
    pub counts: bool,
    /// Streams end and start.
    pub turnover: bool,
    /// How often each stream's count is refreshed, on average.
    pub refresh: Duration,
    /// Streams ending (and as many starting) per second per 100,000 live.
    pub turnover_per_second: f64,
    /// Twitch time per wall-clock time: tests run an hour of motion in a minute.
    pub speed: f64,
}

impl Default for Motion {
    fn default() -> Self {
        Motion {
            counts: false,
            turnover: false,
            refresh: Duration::from_secs(60),
            turnover_per_second: 7.7,
            speed: 1.0,
        }
    }
}

/// Get Streams' filters: within one, any value matches; across them, all must.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub user_ids: Vec<String>,
    pub user_logins: Vec<String>,
    pub game_ids: Vec<String>,
    pub languages: Vec<String>,
}

impl Filter {
    fn matches(&self, stream: &Stream) -> bool {
        let any = |values: &[String], value: &str| values.is_empty() || values.iter().any(|v| v == value);
        any(&self.user_ids, &stream.user_id)
            && any(&self.user_logins, &stream.user_login)
            && any(&self.game_ids, &stream.game_id)
            && any(&self.languages, stream.language)
    }
}

/// Where a page starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    Top,
    /// Streams scoring below this (`after`).
    Below(Score),
    /// Streams scoring above this (`before`), nearest first.
    Above(Score),
}

/// What the slot's listing was served since it was first read: the ground truth an
/// extraction of the slot is compared with.
#[derive(Clone, Debug, Default)]
pub struct PassTruth {
    /// Streams live at the first request and still live now: what a complete
    /// extraction finishing now must hold.
    pub live_throughout: HashSet<String>,
    /// Every stream served at least once.
    pub served: HashSet<String>,
    /// Streams that started, and that ended, since the first request.
    pub started: usize,
    pub ended: usize,
    /// Viewer-count refreshes applied since the first request.
    pub refreshes: u64,
    /// `/streams` requests answered.
    pub requests: u64,
}

/// The live streams of one index, by score, highest first (keys are `!score`).
type Index = BTreeMap<u64, u32>;

/// One slot's listing and what has been served of it.
pub struct Listing {
    pub(super) slot: Slot,
    seed: u64,
    motion: Motion,
    /// Every stream the slot has had: the world's live set, then streams started since.
    pool: Vec<Stream>,
    /// Each pool stream as JSON; emptied when its count changes, rendered when served.
    json: Vec<Vec<u8>>,
    fraction: Vec<u32>,
    live: Vec<bool>,
    /// Per pool index: live at the first request, served at least once.
    at_start: Vec<bool>,
    served: Vec<bool>,
    all: Index,
    by_language: HashMap<&'static str, Index>,
    by_game: HashMap<String, Index>,
    by_user: HashMap<String, u32>,
    by_login: HashMap<String, u32>,
    /// Live pool indices in no order, for uniform draws, and each one's place in it.
    live_list: Vec<u32>,
    live_place: Vec<u32>,
    /// Users who started a stream this slot, so no channel goes live twice.
    users_started: HashSet<String>,
    /// The world's own streams come first in the pool.
    world_streams: usize,
    origin: Instant,
    ticks_applied: u64,
    /// A stream left out of listings (not of look-ups by user): see
    /// [`Listing::hide_one_known`].
    hidden: Option<u32>,
    /// Every score handed out as a cursor for this listing.
    pub handed_out: HashSet<Score>,
    truth: PassTruth,
}

impl Listing {
    /// The world's live streams at `slot` (CPU-heavy for big worlds); motion starts now.
    pub fn new(world: &World, seed: u64, slot: Slot, motion: Motion) -> Listing {
        let pool = world.streams(slot);
        let n = pool.len();
        let mut listing = Listing {
            slot,
            seed,
            motion,
            json: vec![Vec::new(); n],
            fraction: Vec::with_capacity(n),
            live: Vec::with_capacity(n),
            at_start: vec![true; n],
            served: vec![false; n],
            all: Index::new(),
            by_language: HashMap::new(),
            by_game: HashMap::new(),
            by_user: HashMap::with_capacity(n),
            by_login: HashMap::with_capacity(n),
            live_list: Vec::with_capacity(n),
            live_place: Vec::with_capacity(n),
            users_started: HashSet::new(),
            world_streams: n,
            pool: Vec::with_capacity(n),
            origin: Instant::now(),
            ticks_applied: 0,
            hidden: None,
            handed_out: HashSet::new(),
            truth: PassTruth::default(),
        };
        for stream in pool {
            listing.add(stream);
        }
        listing
    }

    pub fn stream(&self, index: u32) -> &Stream {
        &self.pool[index as usize]
    }

    /// The score of pool stream `index` now.
    pub fn score(&self, index: u32) -> Score {
        let i = index as usize;
        (self.pool[i].viewer_count.min(u32::MAX as u64) << 32) | self.fraction[i] as u64
    }

    fn add(&mut self, stream: Stream) {
        let index = self.pool.len() as u32;
        // A bijection of the index (odd multiplier, then a seeded xor): unique fractions.
        let fraction = index.wrapping_mul(0x9E37_79B1) ^ (hash(&[self.seed, S_FRACTION]) as u32);
        self.fraction.push(fraction);
        self.live.push(true);
        self.json.push(Vec::new());
        if self.pool.len() >= self.at_start.len() {
            self.at_start.push(false);
            self.served.push(false);
        }
        self.live_place.push(self.live_list.len() as u32);
        self.live_list.push(index);
        self.by_user.insert(stream.user_id.clone(), index);
        self.by_login.insert(stream.user_login.clone(), index);
        self.pool.push(stream);
        self.index(index);
    }

    fn index(&mut self, index: u32) {
        let key = !self.score(index);
        let stream = &self.pool[index as usize];
        self.all.insert(key, index);
        self.by_language.entry(stream.language).or_default().insert(key, index);
        self.by_game
            .entry(stream.game_id.clone())
            .or_default()
            .insert(key, index);
    }

    fn unindex(&mut self, index: u32) {
        let key = !self.score(index);
        let stream = &self.pool[index as usize];
        self.all.remove(&key);
        if let Some(set) = self.by_language.get_mut(stream.language) {
            set.remove(&key);
        }
        if let Some(set) = self.by_game.get_mut(&stream.game_id) {
            set.remove(&key);
        }
    }

    fn end(&mut self, index: u32) {
        self.unindex(index);
        let i = index as usize;
        self.live[i] = false;
        let place = self.live_place[i] as usize;
        self.live_list.swap_remove(place);
        if let Some(&moved) = self.live_list.get(place) {
            self.live_place[moved as usize] = place as u32;
        }
        let stream = &self.pool[i];
        self.by_user.remove(&stream.user_id);
        self.by_login.remove(&stream.user_login);
        self.truth.ended += 1;
    }

    /// Leaves out of every listing one stream, well up the list, whose user was live
    /// in `previous` too; returns its id.
    pub fn hide_one_known(&mut self, previous: &Listing) -> Option<String> {
        let index = self
            .all
            .values()
            .skip(20)
            .copied()
            .find(|&i| previous.by_user.contains_key(&self.pool[i as usize].user_id))?;
        self.hidden = Some(index);
        Some(self.pool[index as usize].id.clone())
    }

    /// Gives the stream at `place` (0 = most viewers) the language `language`.
    pub fn relabel(&mut self, place: usize, language: &'static str) {
        let Some(&index) = self.all.values().nth(place) else {
            return;
        };
        self.unindex(index);
        self.pool[index as usize].language = language;
        self.json[index as usize].clear();
        self.index(index);
    }

    /// Counts one `/streams` request.
    pub fn count_request(&mut self) {
        self.truth.requests += 1;
    }

    /// Applies the motion due up to `now`.
    pub fn advance(&mut self, world: &World, now: Instant) {
        if !self.motion.counts && !self.motion.turnover {
            return;
        }
        let elapsed = now.saturating_duration_since(self.origin).mul_f64(self.motion.speed);
        let due = (elapsed.as_nanos() / TICK.as_nanos()) as u64;
        while self.ticks_applied < due {
            self.ticks_applied += 1;
            let tick = self.ticks_applied;
            if self.motion.counts {
                self.refresh_counts(tick);
            }
            if self.motion.turnover {
                self.turn_over(world, tick);
            }
        }
    }

    /// How many of `per_second` events fall in `tick`: whole events, spread evenly.
    fn events_in(per_second: f64, tick: u64) -> u64 {
        let per_tick = per_second * TICK.as_secs_f64();
        ((tick as f64 * per_tick).floor() - ((tick - 1) as f64 * per_tick).floor()) as u64
    }

    /// A uniformly drawn live stream.
    fn draw(&self, h: u64) -> Option<u32> {
        (!self.live_list.is_empty()).then(|| self.live_list[(h % self.live_list.len() as u64) as usize])
    }

    /// Refreshes the counts due in `tick`: each live stream about once per `refresh`.
    fn refresh_counts(&mut self, tick: u64) {
        let per_second = self.live_list.len() as f64 / self.motion.refresh.as_secs_f64();
        for j in 0..Self::events_in(per_second, tick) {
            let h = hash(&[self.seed, S_REFRESH, tick, j]);
            let Some(index) = self.draw(h) else { return };
            let u = unit(hash(&[self.seed, S_REFRESH, tick, j, 1]));
            let before = self.pool[index as usize].viewer_count;
            let after = match before {
                // The long tail: a viewer comes or goes.
                0..=3 => match (h >> 40) & 3 {
                    0 => before.saturating_sub(1),
                    1 => before + 1,
                    _ => before,
                },
                _ => match (h >> 20) % 1_000 {
                    // A raid or a front-page feature, now and then.
                    0..=1 => (before as f64 * (2.0 + 8.0 * u)) as u64,
                    // An audience that leaves.
                    2..=5 => (before as f64 * (0.1 + 0.4 * u)) as u64,
                    _ => ((before as f64 * (0.9 + 0.2 * u)).round() as i64 + ((h >> 48) % 3) as i64 - 1).max(0) as u64,
                },
            };
            if after != before {
                self.unindex(index);
                self.pool[index as usize].viewer_count = after;
                self.json[index as usize].clear();
                self.index(index);
                self.truth.refreshes += 1;
            }
        }
    }

    /// Streams ending and starting in `tick`, at the turnover rate.
    fn turn_over(&mut self, world: &World, tick: u64) {
        let per_second = self.motion.turnover_per_second * self.world_streams as f64 / 100_000.0;
        let n = Self::events_in(per_second, tick);
        for j in 0..n {
            if let Some(index) = self.draw(hash(&[self.seed, S_ENDS, tick, j])) {
                self.end(index);
            }
        }
        for j in 0..n {
            self.start(world, tick, j);
        }
    }

    /// A channel of the world that is not live starts a stream, with a small audience.
    fn start(&mut self, world: &World, tick: u64, j: u64) {
        if self.world_streams == 0 {
            return;
        }
        let h = hash(&[self.seed, S_STARTS, tick, j]);
        let template = &self.pool[(h % self.world_streams as u64) as usize];
        let Some(user) = world.sibling_user(&template.user_id, self.slot) else {
            return;
        };
        if self.by_user.contains_key(&user.id) || !self.users_started.insert(user.id.clone()) {
            return;
        }
        let mut stream = template.clone();
        stream.id = (STARTED_ID_BASE + self.users_started.len() as u64).to_string();
        stream.thumbnail_url = stream.thumbnail_url.replace(&stream.user_login, &user.login);
        stream.user_id = user.id;
        stream.user_login = user.login;
        stream.user_name = user.display_name;
        stream.started_at = (self.slot.time() + chrono::Duration::milliseconds((tick * 100) as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        stream.viewer_count =
            (template.viewer_count as f64 * 0.1 * unit(hash(&[self.seed, S_STARTS, tick, j, 1]))) as u64;
        self.add(stream);
        self.truth.started += 1;
    }

    /// Up to `first` live streams matching `filter` from `position`, highest score
    /// first, as pool indices.
    pub fn query(&self, filter: &Filter, position: Position, first: usize) -> Vec<u32> {
        let direct: Vec<u32> = if !filter.user_ids.is_empty() || !filter.user_logins.is_empty() {
            filter
                .user_ids
                .iter()
                .filter_map(|id| self.by_user.get(id))
                .chain(filter.user_logins.iter().filter_map(|login| self.by_login.get(login)))
                .copied()
                .collect::<HashSet<u32>>()
                .into_iter()
                .collect()
        } else {
            Vec::new()
        };
        let indices: Vec<&Index> = if !filter.user_ids.is_empty() || !filter.user_logins.is_empty() {
            Vec::new()
        } else if !filter.game_ids.is_empty() {
            filter.game_ids.iter().filter_map(|g| self.by_game.get(g)).collect()
        } else if !filter.languages.is_empty() {
            filter
                .languages
                .iter()
                .filter_map(|l| self.by_language.get(l.as_str()))
                .collect()
        } else {
            vec![&self.all]
        };
        let mut found: Vec<(u64, u32)> = direct
            .into_iter()
            .map(|i| (!self.score(i), i))
            .filter(|(key, _)| match position {
                Position::Top => true,
                Position::Below(score) => *key > !score,
                Position::Above(score) => *key < !score,
            })
            .filter(|(_, i)| filter.matches(&self.pool[*i as usize]))
            .collect();
        for index in indices {
            let matching = |(key, i): (&u64, &u32)| {
                (Some(*i) != self.hidden && filter.matches(&self.pool[*i as usize])).then_some((*key, *i))
            };
            match position {
                Position::Top => found.extend(index.iter().filter_map(matching).take(first)),
                Position::Below(score) => found.extend(
                    index
                        .range((Bound::Excluded(!score), Bound::Unbounded))
                        .filter_map(matching)
                        .take(first),
                ),
                Position::Above(score) => found.extend(
                    index
                        .range((Bound::Unbounded, Bound::Excluded(!score)))
                        .rev()
                        .filter_map(matching)
                        .take(first),
                ),
            }
        }
        found.sort_unstable();
        match position {
            // The `first` nearest the cursor, then in listing order.
            Position::Above(_) => {
                let skip = found.len().saturating_sub(first);
                found.drain(..skip);
            }
            _ => found.truncate(first),
        }
        found.into_iter().map(|(_, i)| i).collect()
    }

    /// Whether a live stream matching `filter` scores below `score`.
    pub fn any_below(&self, filter: &Filter, score: Score) -> bool {
        !self.query(filter, Position::Below(score), 1).is_empty()
    }

    /// The JSON of pool stream `index`, marked served when `delivered` (a body the
    /// truncation fault cuts in half delivers nothing).
    pub fn render(&mut self, index: u32, delivered: bool) -> Vec<u8> {
        let i = index as usize;
        self.served[i] |= delivered;
        if self.json[i].is_empty() {
            self.json[i] = serde_json::to_vec(&self.pool[i]).expect("stream serializes");
        }
        self.json[i].clone()
    }

    /// What has been served, and which streams stayed live from the first request
    /// until now.
    pub fn truth(&self) -> PassTruth {
        let ids = |keep: &dyn Fn(usize) -> bool| {
            (0..self.pool.len())
                .filter(|&i| keep(i))
                .map(|i| self.pool[i].id.clone())
                .collect::<HashSet<_>>()
        };
        PassTruth {
            live_throughout: ids(&|i| self.at_start[i] && self.live[i]),
            served: ids(&|i| self.served[i]),
            ..self.truth.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(streams: usize, motion: Motion) -> (World, Listing) {
        let world = World::new(3, streams);
        let slot: Slot = "2026-11-23T20:00:00Z".parse().unwrap();
        let listing = Listing::new(&world, 3, slot, motion);
        (world, listing)
    }

    fn page_scores(listing: &Listing, filter: &Filter, position: Position) -> Vec<Score> {
        listing
            .query(filter, position, 100)
            .into_iter()
            .map(|i| listing.score(i))
            .collect()
    }

    #[test]
    fn scores_round_trip_through_the_cursor_float() {
        for score in [
            0u64,
            1,
            (5 << 32) | 7,
            (78_365 << 32) | 0xDEAD_BEEF,
            (250_000 << 32) | 0xFFFF_FFFF,
        ] {
            assert_eq!(score_from_float(score_as_float(score)), Some(score), "{score}");
        }
        assert_eq!(score_from_float(f64::NAN), None);
        assert_eq!(score_from_float(-1.0), None);
    }

    #[test]
    fn keyset_pages_read_every_stream_once_in_order_on_a_still_listing() {
        let (_world, listing) = listing(2_345, Motion::default());
        let filter = Filter::default();
        let (mut seen, mut position, mut last) = (HashSet::new(), Position::Top, u64::MAX);
        loop {
            let page = listing.query(&filter, position, 100);
            let Some(&tail) = page.last() else { break };
            for &i in &page {
                assert!(listing.score(i) < last, "descending and unique");
                last = listing.score(i);
                assert!(seen.insert(i));
            }
            position = Position::Below(listing.score(tail));
        }
        assert_eq!(seen.len(), 2_345);
    }

    #[test]
    fn filters_select_by_language_game_and_user_and_before_pages_back() {
        let (_world, listing) = listing(3_000, Motion::default());
        let english = Filter {
            languages: vec!["en".into(), "de".into()],
            ..Filter::default()
        };
        let top = listing.query(&english, Position::Top, 100);
        assert_eq!(top.len(), 100);
        assert!(top.iter().all(|&i| ["en", "de"].contains(&listing.stream(i).language)));
        let game = listing.stream(top[0]).game_id.clone();
        let by_game = Filter {
            game_ids: vec![game.clone()],
            languages: vec!["en".into(), "de".into()],
            ..Filter::default()
        };
        assert!(
            listing
                .query(&by_game, Position::Top, 100)
                .iter()
                .all(|&i| listing.stream(i).game_id == game)
        );
        let users = Filter {
            user_ids: top[..5].iter().map(|&i| listing.stream(i).user_id.clone()).collect(),
            ..Filter::default()
        };
        assert_eq!(listing.query(&users, Position::Top, 100), top[..5]);
        // `before` the tenth stream: the nine above it, in listing order.
        let back = page_scores(&listing, &english, Position::Above(listing.score(top[9])));
        assert_eq!(back, top[..9].iter().map(|&i| listing.score(i)).collect::<Vec<_>>());
    }

    #[test]
    fn motion_follows_the_clock_not_the_requests() {
        let motion = Motion {
            counts: true,
            turnover: true,
            ..Motion::default()
        };
        let (world, mut listing) = listing(100_000, motion);
        let origin = listing.origin;
        listing.advance(&world, origin);
        assert_eq!(listing.truth.refreshes + listing.truth.started as u64, 0);
        // Ten seconds: ~1/6 of the counts refreshed, ~77 streams ended and started.
        listing.advance(&world, origin + Duration::from_secs(10));
        let truth = listing.truth();
        assert!((70..=80).contains(&truth.ended), "{}", truth.ended);
        assert!((60..=80).contains(&truth.started), "{}", truth.started);
        assert!(truth.refreshes > 5_000, "{}", truth.refreshes);
        assert_eq!(listing.all.len(), 100_000 - truth.ended + truth.started);
        assert_eq!(truth.live_throughout.len(), 100_000 - truth.ended);
        // Still one ordered listing.
        let scores: Vec<Score> = listing.all.keys().map(|k| !k).collect();
        assert!(scores.windows(2).all(|w| w[0] > w[1]));
        let languages: usize = listing.by_language.values().map(|s| s.len()).sum();
        assert_eq!(languages, listing.all.len());
    }

    #[test]
    fn a_riser_past_the_reader_is_missed_and_a_faller_read_twice() {
        let (_world, mut listing) = listing(1_000, Motion::default());
        let filter = Filter::default();
        let first = listing.query(&filter, Position::Top, 100);
        let cursor = listing.score(*first.last().unwrap());
        // The stream at place 500 rises to the top; the one at place 50 falls to 0.
        let all: Vec<u32> = listing.all.values().copied().collect();
        let (riser, faller) = (all[500], all[50]);
        for (index, viewers) in [(riser, 1_000_000), (faller, 0)] {
            listing.unindex(index);
            listing.pool[index as usize].viewer_count = viewers;
            listing.index(index);
        }
        let mut rest = Vec::new();
        let mut position = Position::Below(cursor);
        loop {
            let page = listing.query(&filter, position, 100);
            let Some(&tail) = page.last() else { break };
            position = Position::Below(listing.score(tail));
            rest.extend(page);
        }
        assert!(!rest.contains(&riser), "rose past the reader: missed");
        assert!(
            first.contains(&faller) && rest.contains(&faller),
            "fell below it: read twice"
        );
    }
}
