//! What the chains and re-reads of one run share: the streams landed (each once), the
//! file they land in, the quarantine, and the look-ups of their users and games.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use rustc_hash::{FxHashMap, FxHashSet};

use super::lookups::Lookup;
use super::quarantine::Quarantine;
use super::record::{Stamp, usable_item};
use crate::lake::{BackgroundWriter, Entity, LakeError, LookupState, WrittenFile};
use crate::twitch::{HelixPage, StreamKey};

/// Who read a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A chain over the listing.
    Listing,
    /// A page asked for again (to check an end), or the probe of the whole listing's
    /// top: its repeats are expected, not counted as Helix's duplicates.
    Again,
    /// A look-up of last slot's streams by user id, after their partition was read.
    Reread,
}

/// One usable stream of a page, as the chain that read it needs it.
#[derive(Debug)]
pub struct Seen {
    pub id: Box<str>,
    pub viewers: u64,
    pub language: Box<str>,
}

/// What landing a page did.
#[derive(Debug, Default)]
pub struct Landing {
    /// The page's usable streams, in its order.
    pub streams: Vec<Seen>,
    /// Streams new to the run, landed now.
    pub landed: u64,
    /// `--max-streams` is reached: nothing more lands.
    pub full: bool,
}

/// What the run's streams need looked up, and what is fresh already.
pub struct Lookups {
    pub users: Lookup,
    pub games: Lookup,
    pub state: LookupState,
    pub now: DateTime<Utc>,
    pub max_age: chrono::Duration,
}

/// Counts of the run's streams, for the manifest.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub streams: u64,
    /// Streams seen again (by a later page, chain or re-read) and dropped.
    pub duplicates: u64,
    pub quarantined: u64,
    /// Streams only a re-read found that started before the run: the listing missed them.
    pub found_by_rereads: u64,
    /// Streams only a re-read found that started during the run.
    pub started_during_run: u64,
    pub users_fresh: u64,
    pub games_fresh: u64,
}

struct Landed {
    streams: FxHashSet<Box<str>>,
    /// Unusable records kept already, by a hash of their text.
    unusable: FxHashSet<u64>,
    /// The language of each user landed: the next slot's memory.
    users: FxHashMap<Box<str>, Box<str>>,
    /// Ids asked for (or found fresh) this run: each is looked up once.
    asked_users: FxHashSet<Box<str>>,
    asked_games: FxHashSet<Box<str>>,
    lookups: Lookups,
    tally: Tally,
}

/// The landing place of one run's streams.
pub struct Collector {
    snapshot_at: String,
    run_started: DateTime<Utc>,
    max_streams: Option<u64>,
    landed: Mutex<Landed>,
    writer: tokio::sync::Mutex<BackgroundWriter>,
    quarantine: tokio::sync::Mutex<Quarantine>,
}

/// What the run landed, once it is over.
pub struct Collected {
    pub streams: WrittenFile,
    pub quarantine: Option<WrittenFile>,
    pub tally: Tally,
    pub users_by_language: BTreeMap<String, Vec<Box<str>>>,
    pub lookups: Lookups,
}

impl Collector {
    pub fn new(
        snapshot_at: String,
        run_started: DateTime<Utc>,
        max_streams: Option<u64>,
        writer: BackgroundWriter,
        quarantine: Quarantine,
        lookups: Lookups,
    ) -> Collector {
        Collector {
            snapshot_at,
            run_started,
            max_streams,
            landed: Mutex::new(Landed {
                streams: FxHashSet::default(),
                unusable: FxHashSet::default(),
                users: FxHashMap::default(),
                asked_users: FxHashSet::default(),
                asked_games: FxHashSet::default(),
                lookups,
                tally: Tally::default(),
            }),
            writer: tokio::sync::Mutex::new(writer),
            quarantine: tokio::sync::Mutex::new(quarantine),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Landed> {
        self.landed.lock().expect("collector lock")
    }

    /// Looks up ids an earlier run could not, whether or not their streams are live.
    pub fn retry_lookups(&self, users: Vec<Box<str>>, games: Vec<Box<str>>) {
        let mut landed = self.lock();
        let landed = &mut *landed;
        for id in users {
            if landed.asked_users.insert(id.clone()) {
                landed.lookups.users.request(&id);
            }
        }
        for id in games {
            if landed.asked_games.insert(id.clone()) {
                landed.lookups.games.request(&id);
            }
        }
    }

    /// Whether a stream of user `id` has landed this run.
    pub fn has_user(&self, id: &str) -> bool {
        self.lock().users.contains_key(id)
    }

    /// Lands the page's usable streams not landed yet, queues the look-ups they need,
    /// and keeps its unusable records in the quarantine. Fails at the first failed write.
    pub async fn land(&self, page: &HelixPage, source: Source) -> Result<Landing, LakeError> {
        self.land_where(page, source, &|_| true).await
    }

    /// [`land`](Self::land), but only the streams whose language `keep` takes.
    pub async fn land_where(
        &self,
        page: &HelixPage,
        source: Source,
        keep: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Landing, LakeError> {
        let extracted_at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let stamp = Stamp::new(&self.snapshot_at, &extracted_at);
        let mut landing = Landing::default();
        let mut unusable = Vec::new();
        // The page's lines go to the writer as one block: compression runs on its own
        // task while the next page is requested.
        let mut block = Vec::with_capacity(page.data.iter().map(|r| r.get().len() + 96).sum());
        {
            let mut landed = self.lock();
            let landed = &mut *landed;
            for (index, raw) in page.data.iter().enumerate() {
                let (key, line) = match usable_item::<StreamKey>(page, index, &stamp, "stream") {
                    Ok((key, _)) if !keep(&key.language) => continue,
                    Ok(usable) => usable,
                    Err(_) if !keep("") && source == Source::Again => continue,
                    Err(reason) => {
                        if landed.unusable.insert(rustc_hash::FxBuildHasher.hash_one(raw.get())) {
                            unusable.push((index, reason));
                        }
                        continue;
                    }
                };
                landing.streams.push(Seen {
                    id: key.id.as_ref().into(),
                    viewers: key.viewer_count,
                    language: key.language.as_ref().into(),
                });
                if landing.full || self.max_streams.is_some_and(|max| landed.tally.streams >= max) {
                    landing.full = true;
                    continue;
                }
                if !landed.streams.insert(key.id.as_ref().into()) {
                    if source != Source::Again {
                        landed.tally.duplicates += 1;
                    }
                    continue;
                }
                block.extend_from_slice(line.head.as_bytes());
                block.extend_from_slice(line.tail.as_bytes());
                block.push(b'\n');
                landing.landed += 1;
                landed.tally.streams += 1;
                if source == Source::Reread {
                    let started = DateTime::parse_from_rfc3339(&key.started_at).map(|t| t.with_timezone(&Utc));
                    match started {
                        Ok(started) if started >= self.run_started => landed.tally.started_during_run += 1,
                        _ => landed.tally.found_by_rereads += 1,
                    }
                }
                landed.look_up(&key);
                landing.full = self.max_streams.is_some_and(|max| landed.tally.streams >= max);
            }
            landed.tally.quarantined += unusable.len() as u64;
        }
        if !unusable.is_empty() {
            let mut quarantine = self.quarantine.lock().await;
            for (index, reason) in unusable {
                quarantine.keep(&page.data[index], &reason).await?;
            }
        }
        if landing.landed > 0 {
            self.writer.lock().await.write_block(block, landing.landed).await?;
        }
        Ok(landing)
    }

    /// Closes the streams file and the quarantine; the look-ups are handed back to be
    /// finished.
    pub async fn finish(self) -> Result<Collected, LakeError> {
        let landed = self.landed.into_inner().expect("collector lock");
        let streams = self.writer.into_inner().finish().await?;
        let quarantine = self.quarantine.into_inner().finish().await?;
        let mut users_by_language: BTreeMap<String, Vec<Box<str>>> = BTreeMap::new();
        for (user, language) in landed.users {
            users_by_language
                .entry(language.to_ascii_lowercase())
                .or_default()
                .push(user);
        }
        Ok(Collected {
            streams,
            quarantine,
            tally: landed.tally,
            users_by_language,
            lookups: landed.lookups,
        })
    }
}

impl Landed {
    /// Queues the user and game of a stream just landed, unless fetched recently or
    /// queued already this run.
    fn look_up(&mut self, stream: &StreamKey) {
        self.users
            .insert(stream.user_id.as_ref().into(), stream.language.as_ref().into());
        let Lookups {
            users,
            games,
            state,
            now,
            max_age,
        } = &mut self.lookups;
        let ask = |asked: &mut FxHashSet<Box<str>>, lookup: &mut Lookup, entity, id: &str, fresh: &mut u64| {
            if asked.insert(id.into()) {
                if state.is_fresh(entity, id, *now, *max_age) {
                    *fresh += 1;
                } else {
                    lookup.request(id);
                }
            }
        };
        let tally = &mut self.tally;
        ask(
            &mut self.asked_users,
            users,
            Entity::Users,
            &stream.user_id,
            &mut tally.users_fresh,
        );
        // A stream with no category has game_id "": nothing to look up.
        if !stream.game_id.is_empty() {
            ask(
                &mut self.asked_games,
                games,
                Entity::Games,
                &stream.game_id,
                &mut tally.games_fresh,
            );
        }
    }
}
