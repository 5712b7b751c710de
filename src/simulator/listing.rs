//! One slot's `/streams` listing as Helix serves it: most viewers first, read a page at
//! a time through an offset cursor, and, with the moving faults on, changing between
//! requests.
//!
//! Twitch's reference for Get Streams: streams "are returned sorted by number of
//! current viewers, in descending order. Across multiple pages of results, there may be
//! duplicate or missing streams, as viewers join and leave streams"
//! (<https://dev.twitch.tv/docs/api/reference/#get-streams>). An offset cursor over a
//! list that re-sorts gives exactly that: a stream that drops below the reader is read
//! twice, one that climbs above it is never read, and streams starting above the reader
//! push the list down, so the next page repeats the tail of the last one.

use std::collections::HashSet;

use super::faults::{Fault, Faults};
use super::world::{Stream, World, hash, unit};
use crate::lake::Slot;

// Salts of the listing's own draws, apart from the world's.
const S_CHURN: u64 = 101;
const S_ENDS: u64 = 102;
const S_STARTS: u64 = 103;
const S_OVERLAP: u64 = 104;

/// Streams started mid-pass get ids from here up, apart from the world's.
const STARTED_ID_BASE: u64 = 900_000_000_000;

/// The most a page repeats of the previous one under [`Fault::OverlappingPages`].
const MAX_OVERLAP: usize = 20;

/// What the slot's listing was served since it was first read: the ground truth an extraction of the slot, in however
/// many passes, is compared with.
#[derive(Clone, Debug, Default)]
pub struct PassTruth {
    /// Streams live at the first request and still live at the last.
    pub live_throughout: HashSet<String>,
    /// Every stream served at least once.
    pub served: HashSet<String>,
    /// Streams that started, and that ended, meanwhile.
    pub started: usize,
    pub ended: usize,
    /// `/streams` requests answered.
    pub requests: u64,
}

/// One slot's listing and what the current pass has been served of it.
pub struct Listing {
    pub(super) slot: Slot,
    seed: u64,
    /// Every stream the slot has had: the world's live set, then streams started since.
    pool: Vec<Stream>,
    /// Each pool stream as JSON; emptied when its count changes, rendered when served.
    json: Vec<Vec<u8>>,
    /// Live pool indices, most viewers first; ties in pool order, which starts in
    /// Helix's order.
    order: Vec<u32>,
    live: Vec<bool>,
    /// Per pool index, for the current pass: live at its start, served, ended.
    at_start: Vec<bool>,
    served: Vec<bool>,
    ended: Vec<bool>,
    /// Users who started a stream this slot, so no channel goes live twice.
    users_started: HashSet<String>,
    /// The world's own streams come first in the pool.
    world_streams: usize,
    /// Requests since the slot began: drives the deterministic draws.
    step: u64,
    pass: PassTruth,
}

impl Listing {
    /// The world's live streams at `slot`, in Helix's order (CPU-heavy for big worlds).
    pub fn new(world: &World, seed: u64, slot: Slot) -> Listing {
        let pool = world.streams(slot);
        let json = pool
            .iter()
            .map(|s| serde_json::to_vec(s).expect("stream serializes"))
            .collect();
        let n = pool.len();
        Listing {
            slot,
            seed,
            json,
            order: (0..n as u32).collect(),
            live: vec![true; n],
            at_start: vec![true; n],
            served: vec![false; n],
            ended: vec![false; n],
            users_started: HashSet::new(),
            world_streams: n,
            pool,
            step: 0,
            pass: PassTruth::default(),
        }
    }

    /// Live streams now.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// The live stream at `position` (0 = most viewers).
    pub fn stream_at(&self, position: usize) -> &Stream {
        &self.pool[self.order[position] as usize]
    }

    /// Marks the stream at `position` as served (a copy of it went out).
    pub fn mark_served(&mut self, position: usize) {
        self.served[self.order[position] as usize] = true;
    }

    /// Moves the listing on by one request, as the faults switched on say.
    pub fn advance(&mut self, world: &World, faults: &Faults) {
        self.step += 1;
        self.pass.requests += 1;
        if faults.has(Fault::ListingChurn) {
            self.churn();
        }
        if faults.has(Fault::StreamsComeAndGo) {
            self.come_and_go(world);
        }
    }

    /// How many streams of the previous page the next page repeats.
    pub fn overlap(&self) -> usize {
        1 + (hash(&[self.seed, S_OVERLAP, self.step]) % MAX_OVERLAP as u64) as usize
    }

    /// The JSON of live positions `start..end`, marked as served when `delivered`
    /// (a body the fault cuts in half delivers nothing).
    pub fn page(&mut self, start: usize, end: usize, delivered: bool) -> Vec<Vec<u8>> {
        let end = end.min(self.order.len());
        (start.min(end)..end)
            .map(|position| {
                let index = self.order[position] as usize;
                self.served[index] |= delivered;
                if self.json[index].is_empty() {
                    self.json[index] = serde_json::to_vec(&self.pool[index]).expect("stream serializes");
                }
                self.json[index].clone()
            })
            .collect()
    }

    /// What the current pass was served, and which streams stayed live all through it.
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
            ..self.pass.clone()
        }
    }

    /// Viewer counts change, long-tailed: most by a few percent or a single viewer,
    /// now and then a raid or a front-page feature multiplies one, or one collapses.
    /// About 1% of streams change per request, so every stream moves several times
    /// in a pass of the whole listing; the list then re-sorts.
    fn churn(&mut self) {
        let n = self.order.len();
        if n == 0 {
            return;
        }
        for j in 0..(n / 100).max(5) as u64 {
            let h = hash(&[self.seed, S_CHURN, self.step, j]);
            let u = unit(hash(&[self.seed, S_CHURN, self.step, j, 1]));
            let index = self.order[(h % n as u64) as usize] as usize;
            let factor = match h % 1_000 {
                0..=1 => 2.0 + 8.0 * u,
                2..=5 => 0.1 + 0.4 * u,
                _ => 0.85 + 0.3 * u,
            };
            let jitter = ((h >> 32) % 3) as i64 - 1;
            let stream = &mut self.pool[index];
            let changed = ((stream.viewer_count as f64 * factor).round() as i64 + jitter).max(0);
            stream.viewer_count = changed as u64;
            self.json[index].clear();
        }
        let pool = &self.pool;
        // Nearly sorted already: the adaptive sort costs about one pass.
        self.order.sort_by(|&a, &b| {
            pool[b as usize]
                .viewer_count
                .cmp(&pool[a as usize].viewer_count)
                .then(a.cmp(&b))
        });
    }

    /// Streams end and start: one of each per request per 20,000 live streams, at
    /// least one. Twitch's ~100k channels run a few hours each, about one start and
    /// one end per 75 ms request, so this is harsher than life. A new stream is a
    /// channel of the world that is not live, starting small.
    fn come_and_go(&mut self, world: &World) {
        let k = 1 + self.order.len() as u64 / 20_000;
        for j in 0..k {
            if self.order.is_empty() {
                break;
            }
            let h = hash(&[self.seed, S_ENDS, self.step, j]);
            let index = self.order.remove((h % self.order.len() as u64) as usize) as usize;
            self.live[index] = false;
            self.ended[index] = true;
            self.pass.ended += 1;
        }
        for j in 0..k {
            let h = hash(&[self.seed, S_STARTS, self.step, j]);
            if self.world_streams == 0 {
                break;
            }
            let template = &self.pool[(h % self.world_streams as u64) as usize];
            let Some(user) = world.sibling_user(&template.user_id, self.slot) else {
                continue;
            };
            if !self.users_started.insert(user.id.clone()) {
                continue;
            }
            let mut stream = template.clone();
            stream.id = (STARTED_ID_BASE + self.users_started.len() as u64).to_string();
            stream.thumbnail_url = stream.thumbnail_url.replace(&stream.user_login, &user.login);
            stream.user_id = user.id;
            stream.user_login = user.login;
            stream.user_name = user.display_name;
            stream.started_at = self.slot.rfc3339();
            stream.viewer_count =
                (template.viewer_count as f64 * 0.35 * unit(hash(&[self.seed, S_STARTS, self.step, j, 1]))) as u64;
            let count = stream.viewer_count;
            let index = self.pool.len();
            self.pool.push(stream);
            self.json.push(Vec::new());
            self.live.push(true);
            self.at_start.push(false);
            self.served.push(false);
            self.ended.push(false);
            let pool = &self.pool;
            // The newest index sorts last among equal counts.
            let position = self.order.partition_point(|&o| pool[o as usize].viewer_count >= count);
            self.order.insert(position, index as u32);
            self.pass.started += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(streams: usize) -> (World, Listing) {
        let world = World::new(3, streams);
        let slot: Slot = "2026-11-23T20:00:00Z".parse().unwrap();
        let listing = Listing::new(&world, 3, slot);
        (world, listing)
    }

    fn sorted(listing: &Listing) -> bool {
        (1..listing.len()).all(|i| listing.stream_at(i - 1).viewer_count >= listing.stream_at(i).viewer_count)
    }

    #[test]
    fn churn_moves_streams_across_page_boundaries_and_keeps_the_order() {
        let (world, mut listing) = listing(5_000);
        let before: Vec<String> = (0..5_000).map(|i| listing.stream_at(i).id.clone()).collect();
        listing.advance(&world, &Faults::with([Fault::ListingChurn]));
        assert!(sorted(&listing));
        let moved = (0..5_000).filter(|&i| listing.stream_at(i).id != before[i]).count();
        assert!(moved > 100, "only {moved} positions changed");
        assert_eq!(listing.len(), 5_000);
    }

    #[test]
    fn streams_come_and_go_without_a_channel_live_twice() {
        let (world, mut listing) = listing(3_000);
        for _ in 0..200 {
            listing.advance(&world, &Faults::with([Fault::StreamsComeAndGo]));
        }
        assert!(sorted(&listing));
        let users: HashSet<&str> = (0..listing.len())
            .map(|i| listing.stream_at(i).user_id.as_str())
            .collect();
        assert_eq!(users.len(), listing.len(), "one live stream per channel");
        let truth = listing.truth();
        assert_eq!(truth.ended, 200);
        assert!(truth.started > 150, "{} started", truth.started);
        // Streams of the world still live; some that ended had started mid-pass.
        let live_now: HashSet<String> = (0..listing.len()).map(|i| listing.stream_at(i).id.clone()).collect();
        let world_still_live = live_now.iter().filter(|id| !id.starts_with('9')).count();
        assert_eq!(truth.live_throughout.len(), world_still_live);
        assert!(truth.live_throughout.is_subset(&live_now));
        assert!((2_800..3_000).contains(&world_still_live));
        for i in 0..listing.len() {
            assert!(world.user(&listing.stream_at(i).user_id, listing.slot).is_some());
        }
    }

    #[test]
    fn a_pass_records_what_it_was_served() {
        let (_, mut listing) = listing(300);
        let page = listing.page(0, 100, true);
        assert_eq!(page.len(), 100);
        assert_eq!(listing.truth().served.len(), 100);
        assert!(listing.page(290, 400, false).len() == 10);
        assert_eq!(listing.truth().served.len(), 100, "an undelivered page serves nothing");
    }
}
