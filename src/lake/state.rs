//! What extraction remembers between runs: when each user and game was last fetched.
//!
//! It lives in the lake (`_state/lookups.json`) rather than in memory, so a cold
//! start of the Function App still skips users fetched within the day. It is a
//! cache: a state that cannot be read costs one refetch of every user and game, never
//! a run. Saving is one atomic put (object_store: "no clients should be able to
//! observe a partially written object"), merged with what is there, so concurrent
//! runs cannot corrupt it; at worst one run's entries are lost, and refetched.

use rustc_hash::FxHashMap as HashMap;

use chrono::{DateTime, Duration, Utc};
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use super::{Entity, Lake, LakeError};

/// Last fetch time (Unix seconds, on the slot clock) per id, for users and games.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupState {
    #[serde(default)]
    users: HashMap<Box<str>, i64>,
    #[serde(default)]
    games: HashMap<Box<str>, i64>,
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
        }
        let oldest = (now - max_age).timestamp();
        self.users.retain(|_, t| *t > oldest);
        self.games.retain(|_, t| *t > oldest);
        let body = serde_json::to_vec(self).expect("state always serializes");
        lake.put(&path, body).await
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
