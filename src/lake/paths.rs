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

    /// `{entity}/date=YYYY-MM-DD/{entity}_{YYYYMMDDTHHMMZ}_{run}.ndjson.gz`: one run's
    /// file. Two runs of one slot (timer and manual) never write the same object, so a
    /// committed file is never replaced by the run that lost the commit.
    pub fn run_data_path(self, slot: Slot, run: &RunTag) -> Path {
        self.file_path(slot, &format!("_{}", run.0))
    }

    /// `{entity}/date=YYYY-MM-DD/{entity}_{YYYYMMDDTHHMMZ}.ndjson.gz`: the name
    /// without a run, as lakes written before run tags have it (and test fixtures).
    pub fn data_path(self, slot: Slot) -> Path {
        self.file_path(slot, "")
    }

    /// `{entity}/date=YYYY-MM-DD/{entity}_{YYYYMMDDTHHMMZ}{suffix}.ndjson.gz`
    fn file_path(self, slot: Slot, suffix: &str) -> Path {
        let name = self.name();
        Path::from(format!(
            "{name}/date={}/{name}_{}{suffix}.ndjson.gz",
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

/// The tag of one extraction run, in its file names: 8 hex digits, random.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RunTag(String);

impl RunTag {
    /// A fresh tag for a new run.
    pub fn new() -> RunTag {
        RunTag(format!("{:08x}", rand::random::<u32>()))
    }

    /// A tag read back from a file name.
    pub fn parse(text: &str) -> Option<RunTag> {
        (text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            .then(|| RunTag(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RunTag {
    fn default() -> Self {
        RunTag::new()
    }
}

impl fmt::Display for RunTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `_quarantine/{entity}/…/{entity}_{slot}_{run}.ndjson.gz`: a run's unusable records.
pub fn quarantine_path(entity: Entity, slot: Slot, run: &RunTag) -> Path {
    Path::from(format!("_quarantine/{}", entity.run_data_path(slot, run)))
}

/// `_manifests/date=YYYY-MM-DD/{YYYYMMDDTHHMMZ}.json`
pub fn manifest_path(slot: Slot) -> Path {
    Path::from(format!("_manifests/date={}/{}.json", slot.date(), slot.compact()))
}

/// Folder of the look-up state (what was fetched when); never ingested.
pub const STATE_DIR: &str = "_state";

/// Folder of the manual jobs' records (`serve`'s `run` function); never ingested.
pub const JOBS_DIR: &str = "_jobs";

/// Folder of the transform runs' dbt artifacts in Azure (`_runs/{started}-{id}/`);
/// never ingested.
pub const RUNS_DIR: &str = "_runs";

/// What a lake path holds, recognised from its name alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LakeObject {
    /// One entity's rows for one slot (`run` is `None` in names without a run tag).
    Data {
        entity: Entity,
        slot: Slot,
        run: Option<RunTag>,
    },
    /// A slot's commit record.
    Manifest { slot: Slot },
    /// The pipeline's own bookkeeping: `_state/` (extraction), `_jobs/` (manual jobs),
    /// `_runs/` (transform artifacts).
    State,
    /// Anything else (foreign files, temporary uploads).
    Unknown,
}

/// The lake path a loaded file's name stands for. Snowflake's `METADATA$FILENAME` is the
/// file's path in the stage's location, the prefix of the stage's URL included ("Includes
/// the path to the data file in the stage"; for a stage on `azure://mycontainer/files/
/// logs/` the docs' example gives `files/logs/2018/08/05/0524/log.parquet`: "Querying
/// metadata for staged files" and CREATE EXTERNAL TABLE, docs.snowflake.com), while the
/// manifests list paths below the lake's root. So the name's shortest tail that is a
/// lake data file or manifest is its path; a name with none is kept whole.
pub fn lake_path(name: &str) -> &str {
    let starts = std::iter::once(0).chain(name.match_indices('/').map(|(at, _)| at + 1));
    for start in starts {
        let tail = &name[start..];
        if matches!(
            LakeObject::parse(tail),
            LakeObject::Data { .. } | LakeObject::Manifest { .. }
        ) {
            return tail.trim_start_matches('/');
        }
    }
    name
}

impl LakeObject {
    /// Classifies a path relative to the lake root (no container, no prefix).
    pub fn parse(path: &str) -> LakeObject {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match parts.as_slice() {
            [first, ..] if [STATE_DIR, JOBS_DIR, RUNS_DIR].contains(first) => LakeObject::State,
            ["_manifests", date, file] => file
                .strip_suffix(".json")
                .and_then(Slot::from_compact)
                .filter(|slot| date_matches(date, *slot))
                .map_or(LakeObject::Unknown, |slot| LakeObject::Manifest { slot }),
            [folder, date, file] => {
                let Ok(entity) = folder.parse::<Entity>() else {
                    return LakeObject::Unknown;
                };
                let Some(stem) = file
                    .strip_prefix(entity.name())
                    .and_then(|rest| rest.strip_prefix('_'))
                    .and_then(|rest| rest.strip_suffix(".ndjson.gz"))
                else {
                    return LakeObject::Unknown;
                };
                let (slot, run) = match stem.split_once('_') {
                    None => (Slot::from_compact(stem), Some(None)),
                    Some((slot, run)) => (Slot::from_compact(slot), RunTag::parse(run).map(Some)),
                };
                match (slot.filter(|slot| date_matches(date, *slot)), run) {
                    (Some(slot), Some(run)) => LakeObject::Data { entity, slot, run },
                    _ => LakeObject::Unknown,
                }
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
        let run = RunTag::parse("0a1b2c3d").unwrap();
        assert_eq!(
            Entity::Users.run_data_path(slot(), &run).as_ref(),
            "users/date=2026-11-23/users_20261123T2215Z_0a1b2c3d.ndjson.gz"
        );
        assert_eq!(
            quarantine_path(Entity::Users, slot(), &run).as_ref(),
            "_quarantine/users/date=2026-11-23/users_20261123T2215Z_0a1b2c3d.ndjson.gz"
        );
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
            let run = RunTag::new();
            for entity in Entity::ALL {
                let path = entity.data_path(slot);
                assert_eq!(
                    LakeObject::parse(path.as_ref()),
                    LakeObject::Data {
                        entity,
                        slot,
                        run: None
                    }
                );
                let path = entity.run_data_path(slot, &run);
                assert_eq!(
                    LakeObject::parse(path.as_ref()),
                    LakeObject::Data {
                        entity,
                        slot,
                        run: Some(run.clone())
                    }
                );
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
            "streams/date=2026-11-23/streams_20261123T2215Z_XYZ.ndjson.gz", // not a run tag
            "_manifests/date=2026-11-23/20261123T2216Z.json",
            "README.md",
            "",
        ] {
            assert_eq!(LakeObject::parse(path), LakeObject::Unknown, "{path}");
        }
        assert_eq!(LakeObject::parse("_state/users.json"), LakeObject::State);
    }

    #[test]
    fn a_loaded_files_name_maps_to_its_lake_path_whatever_prefix_it_carries() {
        let path = "streams/date=2026-11-23/streams_20261123T2015Z_0a1b2c3d.ndjson.gz";
        assert_eq!(lake_path(path), path);
        assert_eq!(lake_path(&format!("twitch/{path}")), path, "the stage's prefix");
        assert_eq!(
            lake_path(&format!("raw/deep/twitch/{path}")),
            path,
            "container and prefix"
        );
        assert_eq!(lake_path(&format!("/{path}")), path);
        assert_eq!(
            lake_path("streams/x.ndjson.gz"),
            "streams/x.ndjson.gz",
            "not a lake file: kept"
        );
        assert_eq!(lake_path(""), "");
    }
}
