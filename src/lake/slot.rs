//! The slot: a snapshot's scheduled time, floored to the 15-minute grid.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, TimeZone, Utc};

/// Length of one slot. Extraction runs once per slot.
pub const SLOT_MINUTES: i64 = 15;

/// How early a timer may fire and still count for the coming grid point.
pub const EARLY_FIRE_TOLERANCE: Duration = Duration::seconds(30);

/// A scheduled snapshot time on the 15-minute grid.
///
/// Built from the *scheduled* time (not the wall clock at the end of a run), so a
/// retried run targets the same lake paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(DateTime<Utc>);

impl Slot {
    /// The slot containing `time` (floored to the grid).
    pub fn containing(time: DateTime<Utc>) -> Self {
        let step = SLOT_MINUTES * 60;
        let floored = time.timestamp().div_euclid(step) * step;
        Slot(Utc.timestamp_opt(floored, 0).single().expect("floored time is valid"))
    }

    /// The slot a timer run belongs to, from the time it fired. Timers fire a few
    /// milliseconds early now and then (`04:59:59.996` for 05:00), and flooring that
    /// would land in the previous slot, already extracted, and leave a gap; so a run up
    /// to [`EARLY_FIRE_TOLERANCE`] before a grid point belongs to that point. A late
    /// (past-due) run keeps the slot it was scheduled for, as long as it is late by less
    /// than a slot less that tolerance.
    pub fn scheduled(fired: DateTime<Utc>) -> Self {
        // At the very end of chrono's range the tolerance cannot be added: floor.
        Slot::containing(fired.checked_add_signed(EARLY_FIRE_TOLERANCE).unwrap_or(fired))
    }

    /// The slot that starts `index` slots after the Unix epoch.
    pub fn from_index(index: i64) -> Self {
        Slot(
            Utc.timestamp_opt(index * SLOT_MINUTES * 60, 0)
                .single()
                .expect("slot index within chrono's range"),
        )
    }

    /// Number of slots since the Unix epoch; consecutive slots differ by one.
    pub fn index(self) -> i64 {
        self.0.timestamp().div_euclid(SLOT_MINUTES * 60)
    }

    /// The slot `n` slots later (earlier when negative).
    pub fn offset(self, n: i64) -> Self {
        Slot(self.0 + Duration::minutes(SLOT_MINUTES * n))
    }

    /// The slot's start time.
    pub fn time(self) -> DateTime<Utc> {
        self.0
    }

    /// The UTC date, used for the `date=` partition.
    pub fn date(self) -> NaiveDate {
        self.0.date_naive()
    }

    /// Compact form used in file names: `20261123T2215Z`.
    pub fn compact(self) -> String {
        self.0.format("%Y%m%dT%H%MZ").to_string()
    }

    /// RFC 3339 form stored in `_snapshot_at`: `2026-11-23T22:15:00Z`.
    pub fn rfc3339(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// Why a slot could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("`{input}` is not a slot time: expected RFC 3339 such as 2026-11-23T22:15:00Z")]
pub struct SlotParseError {
    input: String,
}

impl FromStr for Slot {
    type Err = SlotParseError;

    /// Parses RFC 3339 and floors it to the grid, so `22:17:03Z` names the 22:15 slot.
    /// The UTC time must stay within RFC 3339's years (0000-9999): an offset can push
    /// `0000-01-01T00:00:00+23:59` into year -1, which no lake name or manifest could
    /// carry and read back.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc))
            .filter(|t| (0..=9999).contains(&t.year()))
            .map(Slot::containing)
            .ok_or_else(|| SlotParseError { input: s.to_string() })
    }
}

impl Slot {
    /// Parses the compact file-name form `YYYYMMDDTHHMMZ`; `None` if it is not one.
    pub fn from_compact(s: &str) -> Option<Self> {
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%MZ").ok()?;
        let slot = Slot::containing(naive.and_utc());
        (slot.compact() == s).then_some(slot)
    }
}

impl serde::Serialize for Slot {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.rfc3339())
    }
}

impl<'de> serde::Deserialize<'de> for Slot {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let slot: Slot = text.parse().map_err(serde::de::Error::custom)?;
        if slot.rfc3339() != text {
            return Err(serde::de::Error::custom(format!(
                "`{text}` is not on the 15-minute grid"
            )));
        }
        Ok(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_firing_early_or_late_keeps_its_scheduled_slot() {
        let at = |t: &str| Slot::scheduled(t.parse().unwrap()).rfc3339();
        assert_eq!(at("2026-11-23T04:59:59.996Z"), "2026-11-23T05:00:00Z");
        assert_eq!(at("2026-11-23T05:00:00.004Z"), "2026-11-23T05:00:00Z");
        assert_eq!(at("2026-11-23T05:14:00Z"), "2026-11-23T05:00:00Z", "past due");
        assert_eq!(at("2026-11-23T04:59:00Z"), "2026-11-23T04:45:00Z");
        // An envelope's UtcNow at the end of time must not overflow (found by review
        // of the fuzz target `invocation`, which calls this on every parsed UtcNow).
        let last = Slot::scheduled(DateTime::<Utc>::MAX_UTC);
        assert!(last.time() <= DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn times_outside_rfc_3339_years_in_utc_are_refused() {
        // Found while writing the `names` fuzz target: year -1 prints but never parses back.
        assert!("0000-01-01T00:00:00+23:59".parse::<Slot>().is_err());
        assert!("9999-12-31T23:59:00-01:00".parse::<Slot>().is_err());
        let first: Slot = "0000-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(first.rfc3339().parse::<Slot>().unwrap(), first);
    }

    #[test]
    fn floors_to_the_quarter_hour() {
        let slot: Slot = "2026-11-23T22:29:59Z".parse().unwrap();
        assert_eq!(slot.rfc3339(), "2026-11-23T22:15:00Z");
        assert_eq!(slot.compact(), "20261123T2215Z");
    }

    #[test]
    fn offsets_convert_to_utc_before_flooring() {
        let slot: Slot = "2026-11-24T00:10:00+02:00".parse().unwrap();
        assert_eq!(slot.rfc3339(), "2026-11-23T22:00:00Z");
        assert_eq!(slot.date().to_string(), "2026-11-23");
    }

    #[test]
    fn index_and_offset_agree() {
        let slot: Slot = "2026-11-23T22:15:00Z".parse().unwrap();
        assert_eq!(Slot::from_index(slot.index()), slot);
        assert_eq!(slot.offset(3).index(), slot.index() + 3);
        assert_eq!(slot.offset(-1).rfc3339(), "2026-11-23T22:00:00Z");
    }

    #[test]
    fn compact_form_round_trips_and_rejects_off_grid_names() {
        for index in [0, 1, 1_900_000, 2_000_001] {
            let slot = Slot::from_index(index);
            assert_eq!(Slot::from_compact(&slot.compact()), Some(slot));
        }
        assert_eq!(Slot::from_compact("20261123T2217Z"), None);
        assert_eq!(Slot::from_compact("garbage"), None);
    }

    #[test]
    fn rejects_non_rfc3339_with_a_hint() {
        let err = "yesterday".parse::<Slot>().unwrap_err().to_string();
        assert!(err.contains("RFC 3339"), "{err}");
    }
}
