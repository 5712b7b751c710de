//! The synthetic world: who is live at each slot, with what viewers, game and title.
//!
//! Deterministic for (seed, stream count, slot), and computable for any slot without
//! replaying earlier ones. The world has *seats*; each seat's timeline is cut into
//! blocks of six hours (offset per seat), and each block into one to three broadcasts
//! by different channels of the seat's three. So streams start and end between slots,
//! last hours, and the same channel comes back later with a new stream id.
//!
//! Its [`Rhythm`]: `Flat` (tests count on it) has exactly `streams` seats, all live
//! at every slot. `Daily` follows Twitch's day: a broadcast takes place only if its
//! seat's region is awake enough at its start (see [`activity`]), so channels rise
//! and fall over the day by region and are most on evenings, more on weekends; and
//! viewers follow their channel's local evening, higher on weekends.

use chrono::{Duration, SecondsFormat};
use serde::Serialize;

use super::names::*;
use crate::lake::Slot;

/// Slots per seat block (6 hours).
const BLOCK_SLOTS: i64 = 24;
/// Channels that take turns on one seat.
const CHANNELS_PER_SEAT: u64 = 3;
/// User ids are this plus the channel number, so an id maps back to its channel.
const USER_ID_BASE: u64 = 41_000_000;
/// Stream ids count up from here, one per (block, seat, broadcast).
const STREAM_ID_BASE: u64 = 300_000_000_000;
/// The id Twitch uses for Just Chatting, the most watched category.
const JUST_CHATTING_ID: u64 = 509_658;

/// One well-mixed 64-bit value from several (splitmix64 finaliser over a fold).
pub(super) fn hash(parts: &[u64]) -> u64 {
    let mut h = 0x9E37_79B9_7F4A_7C15u64;
    for &part in parts {
        h ^= part
            .wrapping_add(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(h << 6)
            .wrapping_add(h >> 2);
        h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^= h >> 31;
    }
    h
}

/// A uniform number in [0, 1) from a hash.
pub(super) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn pick<T: Copy>(list: &[T], h: u64) -> T {
    list[(h % list.len() as u64) as usize]
}

// Salts keep the draws for different attributes independent.
const S_PHASE: u64 = 1;
const S_CUTS: u64 = 2;
const S_POP: u64 = 3;
const S_LANG: u64 = 4;
const S_GAME: u64 = 5;
const S_NAME: u64 = 6;
const S_TITLE: u64 = 7;
const S_NOISE: u64 = 8;
const S_TAGS: u64 = 9;
const S_START: u64 = 10;
const S_CASE: u64 = 11;
const S_MISC: u64 = 12;
const S_ON: u64 = 13;

/// A Helix stream object, every field of the reference.
#[derive(Clone, Debug, Serialize)]
pub struct Stream {
    pub id: String,
    pub user_id: String,
    pub user_login: String,
    pub user_name: String,
    pub game_id: String,
    pub game_name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub viewer_count: u64,
    pub started_at: String,
    pub language: &'static str,
    pub thumbnail_url: String,
    pub tag_ids: Vec<String>,
    pub tags: Option<Vec<&'static str>>,
    pub is_mature: bool,
}

/// A Helix user object, every field of the reference (no `email`: app tokens never get it).
#[derive(Clone, Debug, Serialize)]
pub struct User {
    pub id: String,
    pub login: String,
    pub display_name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub broadcaster_type: &'static str,
    pub description: &'static str,
    pub profile_image_url: String,
    pub offline_image_url: String,
    pub view_count: u64,
    pub created_at: String,
}

/// A Helix game object.
#[derive(Clone, Debug, Serialize)]
pub struct Game {
    pub id: String,
    pub name: String,
    pub box_art_url: String,
    pub igdb_id: String,
}

/// How the number of live channels and their viewers move over time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Rhythm {
    /// Exactly `streams` live at every slot, viewers barely moving: what tests count.
    #[default]
    Flat,
    /// Twitch's daily and weekly cycle, `streams` live on average over a week.
    Daily,
}

/// The world of one seed and size.
#[derive(Clone, Debug)]
pub struct World {
    seed: u64,
    seats: u64,
    games: Vec<Game>,
    rhythm: Rhythm,
}

/// The tail index of channels' popularity, a Pareto law: P(popularity > x) =
/// (0.9 / x)^0.95. Ranked, the k-th most popular of n has about 0.9 (n / k)^(1 / 0.95):
/// a Zipf law of exponent 1 / 0.95, which the concentration figures are checked
/// against (tests/transform.rs).
pub const POPULARITY_TAIL: f64 = 0.95;

/// The mean of [`activity`] over a week (computed in `activity_averages_its_mean`):
/// a `Daily` world has `streams` / this many seats, so `streams` are live on average.
const MEAN_ACTIVITY: f64 = 0.79;

/// The UTC offset, in hours, of the region most of a language's streamers live in:
/// en the Americas' east (Twitch's largest audience), es Latin America, pt Brazil,
/// the European languages central Europe, ru and tr Moscow and Istanbul, and Asia's.
fn utc_offset(language: &str) -> f64 {
    match language {
        "en" | "es" => -5.0,
        "pt" => -3.0,
        "ru" | "tr" | "ar" => 3.0,
        "th" => 7.0,
        "zh" => 8.0,
        "ja" | "ko" => 9.0,
        "other" => 0.0,
        _ => 1.0,
    }
}

/// How awake a region is at a local time, 0 to 1: the share of its seats that start
/// a broadcast then. Twitch's day, as TwitchTracker's figures describe it: "peak
/// viewership is usually at around 6PM to 8PM" on weekdays, and on weekends "Peak
/// times come earlier and there are generally more people watching", "starting 11AM
/// and it just ramps up until the peak"; "the lowest viewership is usually in the
/// morning, at around 7AM to 9AM" (XSplit, "Best Time to Stream", 2019, from
/// TwitchTracker: xsplit.com/blog/best-time-to-stream; its hours are UTC, a mix of
/// regions, which this model makes from each region's local evening). So: lowest at
/// 08:00 local, highest at 20:00 (17:00 at weekends), a cosine between, and weekends
/// 10% busier.
pub fn activity(local_hour: f64, weekend: bool) -> f64 {
    let peak = if weekend { 17.0 } else { 20.0 };
    let wave = (((local_hour - peak) / 24.0 * std::f64::consts::TAU).cos() + 1.0) / 2.0;
    let level = 0.55 + 0.45 * wave;
    if weekend { (level * 1.1).min(1.0) } else { level }
}

/// A time's local hour (0 to 24) and whether it is a weekend there, in a region
/// `offset` hours from UTC.
fn local_time(slot: Slot, offset: f64) -> (f64, bool) {
    let hours = slot.index() as f64 / 4.0 + offset;
    let day = hours.div_euclid(24.0) as i64;
    // Slot 0 is 1970-01-01, a Thursday: days since then, plus 3, is 0 on Mondays.
    let weekday = (day + 3).rem_euclid(7);
    (hours.rem_euclid(24.0), weekday >= 5)
}

/// Where a seat is at a slot: which broadcast, since when.
struct Broadcast {
    seat: u64,
    channel: u64,
    stream_id: u64,
    /// First slot of the broadcast, and how many slots it has run.
    start_slot: i64,
    age_slots: i64,
}

impl World {
    /// A world with exactly `streams` live streams at every slot.
    pub fn new(seed: u64, streams: usize) -> World {
        World::with_rhythm(seed, streams, Rhythm::Flat)
    }

    /// A world of `streams` live streams, at every slot (`Flat`) or on average
    /// (`Daily`).
    pub fn with_rhythm(seed: u64, streams: usize, rhythm: Rhythm) -> World {
        let seats = match rhythm {
            Rhythm::Flat => streams as u64,
            Rhythm::Daily => (streams as f64 / MEAN_ACTIVITY).round() as u64,
        };
        // Roughly one category per 40 live streams, as on Twitch, at least 200.
        let catalog = (streams / 40).max(200);
        let games = (0..catalog as u64).map(|rank| make_game(seed, rank)).collect();
        World {
            seed,
            seats,
            games,
            rhythm,
        }
    }

    /// Every live stream at `slot`, sorted as Helix sorts them (most viewers first).
    pub fn streams(&self, slot: Slot) -> Vec<Stream> {
        let mut streams: Vec<Stream> = (0..self.seats)
            .filter(|seat| self.on_air(&self.broadcast(*seat, slot)))
            .map(|seat| self.stream(seat, slot))
            .collect();
        streams.sort_by(|a, b| b.viewer_count.cmp(&a.viewer_count).then_with(|| a.id.cmp(&b.id)));
        streams
    }

    /// The user with Helix id `id` as of `slot`, if such a channel exists.
    pub fn user(&self, id: &str, slot: Slot) -> Option<User> {
        let channel = id.parse::<u64>().ok()?.checked_sub(USER_ID_BASE)?;
        (channel < self.seats * CHANNELS_PER_SEAT).then(|| self.make_user(channel, slot))
    }

    /// Another channel of the seat of user `id`, as of `slot`: one that is not live
    /// in the world's own schedule, so a stream it starts never doubles a user.
    pub fn sibling_user(&self, id: &str, slot: Slot) -> Option<User> {
        let channel = id.parse::<u64>().ok()?.checked_sub(USER_ID_BASE)?;
        let seat = channel / CHANNELS_PER_SEAT;
        let sibling = seat * CHANNELS_PER_SEAT + (channel % CHANNELS_PER_SEAT + 1) % CHANNELS_PER_SEAT;
        (seat < self.seats).then(|| self.make_user(sibling, slot))
    }

    /// The game with Helix id `id`, if it is in the catalog.
    pub fn game(&self, id: &str) -> Option<&Game> {
        self.games.iter().find(|g| g.id == id)
    }

    /// Whether a broadcast takes place: always in a flat world; in a daily one, if its
    /// seat's region is awake enough when it would start.
    fn on_air(&self, b: &Broadcast) -> bool {
        match self.rhythm {
            Rhythm::Flat => true,
            Rhythm::Daily => {
                let (hour, weekend) = local_time(Slot::from_index(b.start_slot), self.seat_offset(b.seat));
                unit(hash(&[self.seed, S_ON, b.stream_id])) < activity(hour, weekend)
            }
        }
    }

    /// The UTC offset of a seat's region: its first channel's language's.
    fn seat_offset(&self, seat: u64) -> f64 {
        utc_offset(self.language(seat * CHANNELS_PER_SEAT))
    }

    fn broadcast(&self, seat: u64, slot: Slot) -> Broadcast {
        let seed = self.seed;
        let phase = (hash(&[seed, S_PHASE, seat]) % BLOCK_SLOTS as u64) as i64;
        let shifted = slot.index() + phase;
        let block = shifted.div_euclid(BLOCK_SLOTS);
        let position = shifted.rem_euclid(BLOCK_SLOTS);
        let h = hash(&[seed, S_CUTS, seat, block as u64]);
        // One to three broadcasts per block; cuts leave every broadcast >= 4 slots.
        let cuts: Vec<i64> = match h % 3 {
            0 => vec![],
            1 => vec![4 + ((h >> 8) % 16) as i64],
            _ => vec![4 + ((h >> 8) % 6) as i64, 14 + ((h >> 16) % 6) as i64],
        };
        let part = cuts.iter().filter(|&&c| c <= position).count() as u64;
        let part_start = if part == 0 { 0 } else { cuts[part as usize - 1] };
        // Consecutive broadcasts of a block go to different channels of the seat.
        let channel = seat * CHANNELS_PER_SEAT + ((h >> 24) + part) % CHANNELS_PER_SEAT;
        let stream_id = STREAM_ID_BASE + (block as u64) * self.seats * 3 + seat * 3 + part;
        Broadcast {
            seat,
            channel,
            stream_id,
            start_slot: block * BLOCK_SLOTS - phase + part_start,
            age_slots: position - part_start,
        }
    }

    fn stream(&self, seat: u64, slot: Slot) -> Stream {
        let seed = self.seed;
        let b = self.broadcast(seat, slot);
        let user = self.make_user(b.channel, slot);
        let sid = b.stream_id;

        // Category: mostly the channel's favourite; some broadcasts switch halfway;
        // a few streams set none (game_id "").
        let favourite = self.favourite_game(b.channel);
        let switch_at = 2 + (hash(&[seed, S_GAME, sid]) % 12) as i64;
        let switched = hash(&[seed, S_GAME, sid, 1]) % 4 == 0 && b.age_slots >= switch_at;
        let game = if hash(&[seed, S_GAME, sid, 2]) % 70 == 0 {
            None
        } else if switched {
            Some(&self.games[self.zipf_game(hash(&[seed, S_GAME, sid, 3]))])
        } else if hash(&[seed, S_GAME, sid, 4]) % 5 == 0 {
            Some(&self.games[self.zipf_game(hash(&[seed, S_GAME, sid, 5]))])
        } else {
            Some(&self.games[favourite])
        };

        // Titles change with the game and now and then on their own.
        let title_epoch = b.age_slots / 6 + switched as i64;
        let th = hash(&[seed, S_TITLE, sid, title_epoch as u64]);
        let game_name = game.map_or("", |g| g.name.as_str());
        let title = format!(
            "{} {} {}",
            pick(TITLE_OPENERS, th),
            game_name,
            pick(TITLE_TAILS, th >> 16)
        )
        .trim()
        .to_string();

        let tags = (hash(&[seed, S_TAGS, b.channel]) % 12 != 0).then(|| {
            let t = hash(&[seed, S_TAGS, b.channel, 1]);
            let n = 1 + (t % 4) as usize;
            (0..n).map(|i| pick(TAGS, t >> (8 * i))).collect()
        });

        // Streams start between slots: up to 14 minutes before the first slot seen.
        let first_seen = Slot::from_index(b.start_slot).time();
        let early = Duration::seconds(30 + (hash(&[seed, S_START, sid]) % (14 * 60)) as i64);
        Stream {
            id: sid.to_string(),
            user_id: user.id.clone(),
            user_login: user.login.clone(),
            user_name: user.display_name,
            game_id: game.map_or(String::new(), |g| g.id.clone()),
            game_name: game_name.to_string(),
            kind: "live",
            title,
            viewer_count: self.viewers(&b, slot),
            started_at: (first_seen - early).to_rfc3339_opts(SecondsFormat::Secs, true),
            language: self.language(b.channel),
            thumbnail_url: format!(
                "https://static-cdn.jtvnw.net/previews-ttv/live_user_{}-{{width}}x{{height}}.jpg",
                user.login
            ),
            tag_ids: Vec::new(),
            tags,
            is_mature: hash(&[seed, S_MISC, b.channel]) % 9 == 0,
        }
    }

    /// Heavy-tailed: a channel's audience is Pareto (most have a handful of viewers,
    /// a few have tens of thousands), ramping up over a broadcast's first hour,
    /// following the time of day, with noise from slot to slot.
    fn viewers(&self, b: &Broadcast, slot: Slot) -> u64 {
        let u = unit(hash(&[self.seed, S_POP, b.channel])).max(1e-9);
        let popularity = (0.9 / u.powf(1.0 / POPULARITY_TAIL)).min(250_000.0);
        let ramp = (0.35 + 0.65 * (b.age_slots as f64 + 1.0) / 4.0).min(1.0);
        let daily = match self.rhythm {
            Rhythm::Flat => {
                let hour = (slot.index().rem_euclid(96)) as f64 / 4.0;
                0.8 + 0.2 * ((hour - 20.0) / 24.0 * std::f64::consts::TAU).cos()
            }
            // Audiences follow their channel's local evening, and are larger on
            // weekends: TwitchTracker's weekend peaks, 2.3 to 2.7 million, against
            // 1.6 to 1.75 on weekdays (XSplit, see `activity`), about 1.45 times.
            Rhythm::Daily => {
                let (hour, weekend) = local_time(slot, utc_offset(self.language(b.channel)));
                let level = activity(hour, false);
                level * level * if weekend { 1.45 } else { 1.0 }
            }
        };
        let noise = 0.85 + 0.3 * unit(hash(&[self.seed, S_NOISE, b.stream_id, slot.index() as u64, b.seat]));
        (popularity * ramp * daily * noise).floor() as u64
    }

    fn language(&self, channel: u64) -> &'static str {
        let total: u32 = LANGUAGES.iter().map(|(_, w)| w).sum();
        let mut roll = (hash(&[self.seed, S_LANG, channel]) % total as u64) as u32;
        for (tag, weight) in LANGUAGES {
            if roll < *weight {
                return tag;
            }
            roll -= weight;
        }
        "en"
    }

    /// A catalog index, skewed towards the top categories.
    fn zipf_game(&self, h: u64) -> usize {
        let n = self.games.len();
        ((unit(h).powi(3) * n as f64) as usize).min(n - 1)
    }

    fn favourite_game(&self, channel: u64) -> usize {
        self.zipf_game(hash(&[self.seed, S_GAME, channel]))
    }

    fn make_user(&self, channel: u64, slot: Slot) -> User {
        let seed = self.seed;
        let h = hash(&[seed, S_NAME, channel]);
        let syllables = 2 + (h % 2) as usize;
        let mut login: String = (0..syllables).map(|i| pick(SYLLABLES, h >> (10 * i + 4))).collect();
        login.push_str(pick(LOGIN_SUFFIXES, h >> 40));
        // The channel number keeps logins unique however many channels there are.
        login.push_str(&channel.to_string());
        // Display names differ from the login only in case, as on Twitch, and
        // streamers change that now and then (a new style about every two weeks).
        let week = slot.index().div_euclid(96 * 7) as u64;
        let style = hash(&[seed, S_CASE, channel, week / 2]) % 4;
        let display_name = match style {
            0 => login.to_uppercase(),
            1 => login.clone(),
            _ => capitalise_syllables(&login, syllables),
        };
        let pop = unit(hash(&[seed, S_POP, channel])).max(1e-9);
        let broadcaster_type = match 0.9 / pop.powf(1.0 / POPULARITY_TAIL) {
            v if v > 1_500.0 => "partner",
            v if v > 4.0 => "affiliate",
            _ => "",
        };
        let created = 1_300_000_000 + (hash(&[seed, S_MISC, channel, 2]) % 440_000_000) as i64;
        User {
            id: (USER_ID_BASE + channel).to_string(),
            login,
            display_name,
            kind: "",
            broadcaster_type,
            description: pick(DESCRIPTIONS, hash(&[seed, S_MISC, channel, 3])),
            profile_image_url: format!(
                "https://static-cdn.jtvnw.net/jtv_user_pictures/{:016x}-profile_image-300x300.png",
                hash(&[seed, S_MISC, channel, 4])
            ),
            offline_image_url: String::new(),
            view_count: 0,
            created_at: chrono::DateTime::from_timestamp(created, 0)
                .expect("in range")
                .to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    }
}

fn capitalise_syllables(login: &str, syllables: usize) -> String {
    let mut out = String::with_capacity(login.len());
    let mut upper_next = true;
    for (i, ch) in login.chars().enumerate() {
        let boundary = i > 0 && i % 3 == 0 && i < syllables * 3;
        if upper_next || boundary {
            out.extend(ch.to_uppercase());
        } else {
            out.push(ch);
        }
        upper_next = ch == '_';
    }
    out
}

fn make_game(seed: u64, rank: u64) -> Game {
    let (id, name) = if rank == 0 {
        (JUST_CHATTING_ID, NON_GAME_CATEGORIES[0].to_string())
    } else if (rank as usize) < NON_GAME_CATEGORIES.len() && rank % 2 == 0 {
        (
            JUST_CHATTING_ID + 1 + rank,
            NON_GAME_CATEGORIES[rank as usize].to_string(),
        )
    } else {
        // A bijection from rank to (first word, second word, edition): unique names.
        let shift = (hash(&[seed, S_GAME, 99]) % 576) as usize;
        let index = rank as usize - 1 + shift;
        let (group, j) = (index / 576, index % 576);
        let (first, second) = (j % 24, (j / 24 + j % 24) % 24);
        let edition = match GAME_EDITIONS.get(group) {
            Some(edition) => edition.to_string(),
            None => format!(" {}", roman(group as u64)),
        };
        (
            20_000 + rank * 97,
            format!("{} {}{edition}", GAME_FIRST[first], GAME_SECOND[second]),
        )
    };
    let igdb = hash(&[seed, S_GAME, 98, rank]);
    Game {
        id: id.to_string(),
        name,
        box_art_url: format!("https://static-cdn.jtvnw.net/ttv-boxart/{id}-{{width}}x{{height}}.jpg"),
        igdb_id: if rank == 0 || igdb % 10 == 0 {
            String::new()
        } else {
            (igdb % 300_000).to_string()
        },
    }
}

fn roman(mut n: u64) -> String {
    let table = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut out = String::new();
    for (value, numeral) in table {
        while n >= value {
            out.push_str(numeral);
            n -= value;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn slot(i: i64) -> Slot {
        "2026-11-23T00:00:00Z".parse::<Slot>().unwrap().offset(i)
    }

    #[test]
    fn exactly_n_unique_streams_and_users_at_every_slot() {
        let world = World::new(7, 3_000);
        for i in 0..40 {
            let streams = world.streams(slot(i));
            assert_eq!(streams.len(), 3_000);
            assert_eq!(streams.iter().map(|s| &s.id).collect::<HashSet<_>>().len(), 3_000);
            assert_eq!(streams.iter().map(|s| &s.user_id).collect::<HashSet<_>>().len(), 3_000);
            assert!(streams.windows(2).all(|w| w[0].viewer_count >= w[1].viewer_count));
        }
    }

    #[test]
    fn activity_averages_its_mean_and_weekends_are_told_apart() {
        let week: Vec<f64> = (0..96 * 7)
            .map(|i| {
                let (hour, weekend) = local_time(Slot::from_index(i), 0.0);
                activity(hour, weekend)
            })
            .collect();
        let mean = week.iter().sum::<f64>() / week.len() as f64;
        assert!((mean - MEAN_ACTIVITY).abs() < 0.005, "{mean}");
        // 2026-11-28 is a Saturday; 2026-11-27 12:00 in UTC+1 a Friday.
        let saturday: Slot = "2026-11-28T12:00:00Z".parse().unwrap();
        assert!(local_time(saturday, 0.0).1 && !local_time(saturday.offset(-96), 0.0).1);
        assert_eq!(local_time(saturday, -5.0), (7.0, true));
        assert!(activity(20.0, false) > 0.99 && activity(8.0, false) < 0.56);
    }

    #[test]
    fn a_daily_world_rises_and_falls_with_its_regions_and_weekends() {
        let world = World::with_rhythm(3, 4_000, Rhythm::Daily);
        // Hourly over a week from Monday 2026-11-23.
        let hours: Vec<(usize, u64, bool)> = (0..24 * 7)
            .map(|h| {
                let at = slot(h * 4);
                let streams = world.streams(at);
                let users: HashSet<_> = streams.iter().map(|s| &s.user_id).collect();
                assert_eq!(users.len(), streams.len(), "one stream per channel at {at:?}");
                let viewers = streams.iter().map(|s| s.viewer_count).sum();
                (streams.len(), viewers, h >= 24 * 5)
            })
            .collect();
        let live: Vec<f64> = hours.iter().map(|h| h.0 as f64).collect();
        let mean = live.iter().sum::<f64>() / live.len() as f64;
        let (low, high) = (
            live.iter().copied().fold(f64::MAX, f64::min),
            live.iter().copied().fold(0.0, f64::max),
        );
        assert!((mean / 4_000.0 - 1.0).abs() < 0.05, "{mean} live on average");
        assert!(high / low > 1.25, "channels live from {low} to {high}");
        let average = |weekend: bool, pick: fn(&(usize, u64, bool)) -> f64| {
            let chosen: Vec<f64> = hours.iter().filter(|h| h.2 == weekend).map(pick).collect();
            chosen.iter().sum::<f64>() / chosen.len() as f64
        };
        assert!(
            average(true, |h| h.0 as f64) > average(false, |h| h.0 as f64),
            "more channels on weekends"
        );
        assert!(
            average(true, |h| h.1 as f64) > 1.2 * average(false, |h| h.1 as f64),
            "more viewers on weekends"
        );
        // A flat world of the same size never moves.
        let flat = World::new(3, 4_000);
        assert!((0..24).all(|h| flat.streams(slot(h * 4)).len() == 4_000));
    }

    #[test]
    fn deterministic_for_seed_and_slot() {
        let a = World::new(1, 500).streams(slot(5));
        let b = World::new(1, 500).streams(slot(5));
        let c = World::new(2, 500).streams(slot(5));
        let json = |s: &Vec<Stream>| serde_json::to_string(s).unwrap();
        assert_eq!(json(&a), json(&b));
        assert_ne!(json(&a), json(&c));
    }

    #[test]
    fn streams_persist_start_and_end_between_slots() {
        let world = World::new(3, 2_000);
        let ids = |i| world.streams(slot(i)).into_iter().map(|s| s.id).collect::<HashSet<_>>();
        let (now, next) = (ids(10), ids(11));
        let kept = now.intersection(&next).count();
        // Broadcasts last hours, so most streams carry over, but some end each slot.
        assert!(kept > 1_800 && kept < 2_000, "kept {kept}");
        // A stream keeps its started_at across slots, and it is before the slot.
        let a = world.streams(slot(10));
        let b = world.streams(slot(11));
        for s in &a {
            assert!(s.started_at < slot(10).rfc3339());
            if let Some(t) = b.iter().find(|t| t.id == s.id) {
                assert_eq!(t.started_at, s.started_at);
                assert_eq!(t.user_id, s.user_id);
            }
        }
    }

    #[test]
    fn viewers_are_heavy_tailed_and_categories_vary() {
        let streams = World::new(11, 20_000).streams(slot(0));
        let total: u64 = streams.iter().map(|s| s.viewer_count).sum();
        let top_1pct: u64 = streams.iter().take(200).map(|s| s.viewer_count).sum();
        let median = streams[10_000].viewer_count;
        assert!(median <= 5, "median {median}");
        assert!(top_1pct * 3 > total, "top 1% holds {top_1pct} of {total}");
        assert!(
            streams.iter().any(|s| s.game_id.is_empty()),
            "some streams set no category"
        );
        assert!(streams.iter().any(|s| s.tags.is_none()), "some streams have null tags");
        let games: HashSet<_> = streams.iter().map(|s| &s.game_id).collect();
        let languages: HashSet<_> = streams.iter().map(|s| s.language).collect();
        assert!(games.len() > 200 && languages.len() > 10);
    }

    #[test]
    fn users_and_games_resolve_and_display_names_change_over_weeks() {
        let world = World::new(5, 1_000);
        let stream = &world.streams(slot(0))[0];
        let user = world.user(&stream.user_id, slot(0)).unwrap();
        assert_eq!(user.login, stream.user_login);
        assert_eq!(user.display_name, stream.user_name);
        assert!(world.game(&stream.game_id).is_some() || stream.game_id.is_empty());
        assert!(world.user("1", slot(0)).is_none());
        let changed = (0..1_000u64)
            .map(|c| (USER_ID_BASE + c).to_string())
            .filter(|id| {
                world.user(id, slot(0)).unwrap().display_name != world.user(id, slot(96 * 28)).unwrap().display_name
            })
            .count();
        assert!(changed > 100, "{changed} display names changed in four weeks");
        for id in 0..3_000u64 {
            let user = world.user(&(USER_ID_BASE + id).to_string(), slot(0)).unwrap();
            assert_eq!(user.display_name.to_lowercase(), user.login);
        }
    }

    #[test]
    fn logins_and_game_names_are_unique() {
        let world = World::new(9, 10_000);
        let logins: HashSet<_> = (0..30_000u64).map(|c| world.make_user(c, slot(0)).login).collect();
        assert_eq!(logins.len(), 30_000);
        let names: HashSet<_> = world.games.iter().map(|g| &g.name).collect();
        let ids: HashSet<_> = world.games.iter().map(|g| &g.id).collect();
        assert_eq!(names.len(), world.games.len());
        assert_eq!(ids.len(), world.games.len());
    }
}
