//! Lake path names, and parsing a path back into what it holds.

use std::fmt;
use std::str::FromStr;

use object_store::path::Path;

use super::Slot;

/// The Helix entities the lake stores, one folder each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    Streams,
    Users,
    Games,
}

impl Entity {
    /// Every entity, in the order extraction writes them.
    pub const ALL: [Entity; 3] = [Entity::Streams, Entity::Users, Entity::Games];

    /// The folder and file-name stem: `streams`, `users`, `games`.
    pub fn name(self) -> &'static str {
        match self {
            Entity::Streams => "streams",
            Entity::Users => "users",
            Entity::Games => "games",
        }
    }

    /// `{entity}/date=YYYY-MM-DD/{entity}_{YYYYMMDDTHHMMZ}.ndjson.gz`
    pub fn data_path(self, slot: Slot) -> Path {
        let name = self.name();
        Path::from(format!(
            "{name}/date={}/{name}_{}.ndjson.gz",
            slot.date(),
            slot.compact()
        ))
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Entity {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Entity::ALL.into_iter().find(|e| e.name() == s).ok_or(())
    }
}

/// `_manifests/date=YYYY-MM-DD/{YYYYMMDDTHHMMZ}.json`
pub fn manifest_path(slot: Slot) -> Path {
    Path::from(format!("_manifests/date={}/{}.json", slot.date(), slot.compact()))
}

/// Folder of the look-up state (what was fetched when); never ingested.
pub const STATE_DIR: &str = "_state";

/// What a lake path holds, recognised from its name alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LakeObject {
    /// One entity's rows for one slot.
    Data { entity: Entity, slot: Slot },
    /// A slot's commit record.
    Manifest { slot: Slot },
    /// Extraction's own bookkeeping under `_state/`.
    State,
    /// Anything else (foreign files, temporary uploads).
    Unknown,
}

impl LakeObject {
    /// Classifies a path relative to the lake root (no container, no prefix).
    pub fn parse(path: &str) -> LakeObject {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match parts.as_slice() {
            [first, ..] if *first == STATE_DIR => LakeObject::State,
            ["_manifests", date, file] => file
                .strip_suffix(".json")
                .and_then(Slot::from_compact)
                .filter(|slot| date_matches(date, *slot))
                .map_or(LakeObject::Unknown, |slot| LakeObject::Manifest { slot }),
            [folder, date, file] => {
                let Ok(entity) = folder.parse::<Entity>() else {
                    return LakeObject::Unknown;
                };
                file.strip_prefix(entity.name())
                    .and_then(|rest| rest.strip_prefix('_'))
                    .and_then(|rest| rest.strip_suffix(".ndjson.gz"))
                    .and_then(Slot::from_compact)
                    .filter(|slot| date_matches(date, *slot))
                    .map_or(LakeObject::Unknown, |slot| LakeObject::Data { entity, slot })
            }
            _ => LakeObject::Unknown,
        }
    }
}

fn date_matches(folder: &str, slot: Slot) -> bool {
    folder.strip_prefix("date=") == Some(slot.date().to_string().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> Slot {
        "2026-11-23T22:15:00Z".parse().unwrap()
    }

    #[test]
    fn names_follow_the_lake_contract() {
        assert_eq!(
            Entity::Streams.data_path(slot()).as_ref(),
            "streams/date=2026-11-23/streams_20261123T2215Z.ndjson.gz"
        );
        assert_eq!(
            manifest_path(slot()).as_ref(),
            "_manifests/date=2026-11-23/20261123T2215Z.json"
        );
    }

    #[test]
    fn every_written_name_parses_back() {
        for index in [0_i64, 1, 1_966_000, 1_966_093] {
            let slot = Slot::from_index(index);
            for entity in Entity::ALL {
                let path = entity.data_path(slot);
                assert_eq!(LakeObject::parse(path.as_ref()), LakeObject::Data { entity, slot });
            }
            assert_eq!(
                LakeObject::parse(manifest_path(slot).as_ref()),
                LakeObject::Manifest { slot }
            );
        }
    }

    #[test]
    fn foreign_and_inconsistent_names_are_unknown() {
        for path in [
            "streams/date=2026-11-24/streams_20261123T2215Z.ndjson.gz", // date folder disagrees
            "streams/date=2026-11-23/users_20261123T2215Z.ndjson.gz",   // entity disagrees
            "clips/date=2026-11-23/clips_20261123T2215Z.ndjson.gz",
            "_manifests/date=2026-11-23/20261123T2216Z.json",
            "README.md",
            "",
        ] {
            assert_eq!(LakeObject::parse(path), LakeObject::Unknown, "{path}");
        }
        assert_eq!(LakeObject::parse("_state/users.json"), LakeObject::State);
    }
}
