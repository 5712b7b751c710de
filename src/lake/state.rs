//! What extraction remembers between runs: when each user and game was last fetched
//! (`_state/lookups.json`), and who was live at the last slot (`_state/listing.json`).
//!
//! Both live in the lake rather than in memory, so a cold start of the Function App
//! still skips users fetched within the day and re-reads last slot's streams. Both
//! are caches: one that cannot be read costs a refetch of every user and game, or one
//! slot without re-reads, never a run. Saving is one atomic put (object_store: "no
//! clients should be able to observe a partially written object"); the look-ups are
//! merged with what is there, so concurrent runs cannot corrupt them; at worst one
//! run's entries are lost, and refetched.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use chrono::{DateTime, Duration, Utc};
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use super::{Entity, Lake, LakeError, Slot};

/// Last fetch time (Unix seconds, on the slot clock) per id, for users and games, and
/// the ids a run could not look up, which the next run asks for whether or not they
/// are live then.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupState {
    #[serde(default)]
    users: HashMap<Box<str>, i64>,
    #[serde(default)]
    games: HashMap<Box<str>, i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    retry_users: Vec<Box<str>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    retry_games: Vec<Box<str>>,
}

impl LookupState {
    fn path() -> Path {
        Path::from(format!("{}/lookups.json", super::paths::STATE_DIR))
    }

    /// Loads the state; a lake without one, or with one that cannot be read as a
    /// state, starts empty (with a warning: every user and game is fetched once).
    pub async fn load(lake: &Lake) -> Result<LookupState, LakeError> {
        let path = Self::path();
        match lake.get_optional(&path).await? {
            None => Ok(LookupState::default()),
            Some(bytes) => Ok(Self::parse_or_empty(&bytes, &path)),
        }
    }

    fn parse_or_empty(bytes: &[u8], path: &Path) -> LookupState {
        serde_json::from_slice(bytes).unwrap_or_else(|error| {
            tracing::warn!(%error, path = %path, "the look-up state is unreadable; starting from empty, so every user and game is fetched again once");
            LookupState::default()
        })
    }

    /// Saves the state merged with what is stored now (the newest fetch time per id
    /// wins), dropping entries too old to matter again.
    pub async fn save(&mut self, lake: &Lake, now: DateTime<Utc>, max_age: Duration) -> Result<(), LakeError> {
        let path = Self::path();
        if let Some(bytes) = lake.get_optional(&path).await? {
            let stored = Self::parse_or_empty(&bytes, &path);
            for (mine, theirs) in [(&mut self.users, stored.users), (&mut self.games, stored.games)] {
                for (id, fetched) in theirs {
                    let entry = mine.entry(id).or_insert(fetched);
                    *entry = (*entry).max(fetched);
                }
            }
            self.retry_users.extend(stored.retry_users);
            self.retry_games.extend(stored.retry_games);
        }
        let oldest = (now - max_age).timestamp();
        self.users.retain(|_, t| *t > oldest);
        self.games.retain(|_, t| *t > oldest);
        // An id fetched since it failed needs no retry.
        for (retries, fetched) in [
            (&mut self.retry_users, &self.users),
            (&mut self.retry_games, &self.games),
        ] {
            retries.sort();
            retries.dedup();
            retries.retain(|id| !fetched.contains_key(id));
        }
        let body = serde_json::to_vec(self).expect("state always serializes");
        lake.put(&path, body).await
    }

    /// The ids of `entity` an earlier run could not look up; taken, so that this run
    /// records them again only if it fails on them too.
    pub fn take_retries(&mut self, entity: Entity) -> Vec<Box<str>> {
        std::mem::take(self.retries(entity))
    }

    /// Records ids this run could not look up, to be asked for by the next run.
    pub fn retry_later<'a>(&mut self, entity: Entity, ids: impl IntoIterator<Item = &'a str>) {
        self.retries(entity).extend(ids.into_iter().map(Box::from));
    }

    fn retries(&mut self, entity: Entity) -> &mut Vec<Box<str>> {
        match entity {
            Entity::Users => &mut self.retry_users,
            Entity::Games => &mut self.retry_games,
            Entity::Streams => unreachable!("streams are never looked up by id"),
        }
    }

    fn map(&self, entity: Entity) -> &HashMap<Box<str>, i64> {
        match entity {
            Entity::Users => &self.users,
            Entity::Games => &self.games,
            Entity::Streams => unreachable!("streams are never looked up by id"),
        }
    }

    /// Whether `id` was fetched less than `max_age` before `now`.
    pub fn is_fresh(&self, entity: Entity, id: &str, now: DateTime<Utc>, max_age: Duration) -> bool {
        self.map(entity)
            .get(id)
            .is_some_and(|fetched| now.timestamp() - fetched < max_age.num_seconds())
    }

    /// Records that `ids` were fetched at `now`.
    pub fn record<'a>(&mut self, entity: Entity, ids: impl IntoIterator<Item = &'a str>, now: DateTime<Utc>) {
        let map = match entity {
            Entity::Users => &mut self.users,
            Entity::Games => &mut self.games,
            Entity::Streams => unreachable!("streams are never looked up by id"),
        };
        for id in ids {
            map.insert(id.into(), now.timestamp());
        }
    }
}

/// Who was live at one slot, per stream language: the next slot sizes its partitions
/// by it and re-reads, by user id, the streams its listing did not return.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingMemory {
    pub slot: Option<Slot>,
    /// User ids of the streams landed, by the stream's language.
    pub languages: BTreeMap<String, Vec<Box<str>>>,
    /// Per partition, cursors Helix handed out about every 50 pages: where the next
    /// slot's segments of it start.
    #[serde(default)]
    pub cursors: BTreeMap<String, Vec<String>>,
}

impl ListingMemory {
    fn path() -> Path {
        Path::from(format!("{}/listing.json", super::paths::STATE_DIR))
    }

    /// The memory the lake holds; none when there is none or it cannot be read (with
    /// a warning: the next slot is planned from Twitch's usual shares, without
    /// re-reads).
    pub async fn load(lake: &Lake) -> Result<Option<ListingMemory>, LakeError> {
        let path = Self::path();
        Ok(lake.get_optional(&path).await?.and_then(|bytes| {
            serde_json::from_slice(&bytes)
                .inspect_err(|error| tracing::warn!(%error, path = %path, "the listing memory is unreadable; this slot runs without re-reads"))
                .ok()
        }))
    }

    /// Saves this memory unless the lake holds one of a later slot (a run of an older
    /// slot, late, must not replace it).
    pub async fn save(&self, lake: &Lake) -> Result<(), LakeError> {
        if let Some(stored) = Self::load(lake).await?
            && stored.slot > self.slot
        {
            return Ok(());
        }
        let body = serde_json::to_vec(self).expect("memory always serializes");
        lake.put(&Self::path(), body).await
    }

    /// Streams per language.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.languages
            .iter()
            .map(|(l, users)| (l.clone(), users.len() as u64))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fresh_for_max_age_only() {
        let t0: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().unwrap();
        let day = Duration::hours(24);
        let mut state = LookupState::default();
        state.record(Entity::Users, ["1", "2"], t0);
        assert!(state.is_fresh(Entity::Users, "1", t0 + Duration::hours(23), day));
        assert!(!state.is_fresh(Entity::Users, "1", t0 + day, day));
        assert!(!state.is_fresh(Entity::Games, "1", t0, day), "games are tracked apart");
        assert!(!state.is_fresh(Entity::Users, "3", t0, day));
    }
}
