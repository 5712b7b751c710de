//! The listing cut into partitions that are read at once, one cursor chain each.
//!
//! One chain over all of Get Streams is ~1,000 pages in a row at 100,000 live streams:
//! bound by round trips (0.15–0.5 s each from Azure), not by the 800 points a minute.
//! The `language` filter cuts the listing into chains that run side by side. It is
//! the one filter whose values are a closed set: a stream's language is "an ISO 639-1
//! two-letter language code or `other` if the stream uses a language not in the list
//! of supported stream languages" (the Get Streams reference). So the partitions cover
//! every ISO 639-1 code and `other`, plus the values Twitch's own language picker is
//! known to hold beyond them (`zh-hk`, `asl`: Twitch's list as copied in
//! online-go/online-go.com `twitchLanguageCodes.ts`), plus every value a previous slot
//! saw: together they cover the whole listing by construction. Each request takes
//! at most 100 values ("You may specify a maximum of 100 language codes").
//!
//! Big languages get a chain of their own, small ones share one, and the rest (codes
//! no stream used last slot) share the catch-all partitions, which cost a page or two.
//! Every chain pays one request for the empty page that ends it, so fewer, fuller
//! partitions are cheaper; the biggest language's chain is the snapshot's floor.

use std::collections::BTreeMap;

/// ISO 639-1, every two-letter code (the Library of Congress's ISO 639-2 registration
/// authority list, column 639-1), including the withdrawn `bh`.
const ISO_639_1: [&str; 184] = [
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bh", "bi", "bm", "bn",
    "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy", "da", "de", "dv", "dz", "ee", "el", "en",
    "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr", "fy", "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he",
    "hi", "ho", "hr", "ht", "hu", "hy", "hz", "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja", "jv",
    "ka", "kg", "ki", "kj", "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li",
    "ln", "lo", "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb", "nd", "ne",
    "ng", "nl", "nn", "no", "nr", "nv", "ny", "oc", "oj", "om", "or", "os", "pa", "pi", "pl", "ps", "pt", "qu", "rm",
    "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk", "sl", "sm", "sn", "so", "sq", "sr", "ss", "st",
    "su", "sv", "sw", "ta", "te", "tg", "th", "ti", "tk", "tl", "tn", "to", "tr", "ts", "tt", "tw", "ty", "ug", "uk",
    "ur", "uz", "ve", "vi", "vo", "wa", "wo", "xh", "yi", "yo", "za", "zh", "zu",
];

/// Values of Twitch's stream languages beyond ISO 639-1 (see the module's doc).
const TWITCH_EXTRA: [&str; 3] = ["other", "zh-hk", "asl"];

/// A request takes at most this many `language` values.
pub const MAX_VALUES: usize = 100;

/// Streams per page (Helix's maximum `first`).
pub const PAGE_SIZE: u64 = 100;

/// A small language joins others until their chain would hold this many pages (under
/// a big partition's segment, so sharing sets no floor); every partition costs the
/// empty page that ends it.
const SHARED_PAGES: u64 = 60;

/// The streams of the most watched languages, as a share of all, for the first run,
/// which has no previous slot to size the partitions by. Only the grouping depends
/// on it, never the coverage. English leads ("English-language Twitch streams
/// outnumber Spanish ones more than 5-to-1", The Verge, 2023).
const COLD_START_SHARES: [(&str, f64); 12] = [
    ("en", 0.35),
    ("es", 0.07),
    ("pt", 0.07),
    ("de", 0.06),
    ("ru", 0.06),
    ("fr", 0.05),
    ("ja", 0.05),
    ("ko", 0.03),
    ("it", 0.03),
    ("zh", 0.02),
    ("pl", 0.02),
    ("tr", 0.02),
];

/// One chain's share of the listing: streams in any of `languages`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub languages: Vec<String>,
    /// Streams expected, from the previous slot (or the cold-start shares).
    pub expected_streams: u64,
    /// Whether `expected_streams` was counted at a previous slot, not guessed: only a
    /// count makes an empty or short partition suspect.
    pub counted: bool,
}

impl Partition {
    /// How the manifest and logs name it: `language=en`, or `language=cs+el+… (42)`.
    pub fn name(&self) -> String {
        match self.languages.as_slice() {
            [] => "all languages".into(),
            [one] => format!("language={one}"),
            many if many.len() <= 4 => format!("language={}", many.join("+")),
            many => format!("language={}+… ({} values)", many[..3].join("+"), many.len()),
        }
    }

    pub fn expected_pages(&self) -> u64 {
        self.expected_streams.div_ceil(PAGE_SIZE)
    }

    /// The whole listing, unfiltered (`--max-streams` reads its top this way).
    pub fn whole() -> Partition {
        Partition {
            languages: Vec::new(),
            expected_streams: 0,
            counted: false,
        }
    }

    /// Streams counted at the previous slot: 0 when they were only guessed.
    pub fn counted_streams(&self) -> u64 {
        if self.counted { self.expected_streams } else { 0 }
    }

    /// Whether a stream's `language` is this partition's (Helix has answered in
    /// upper case now and then: twitchdev/issues#120).
    pub fn holds(&self, language: &str) -> bool {
        self.languages.is_empty() || self.languages.iter().any(|l| l.eq_ignore_ascii_case(language))
    }
}

/// Every stream language value known: ISO 639-1, Twitch's extras, and `seen`.
fn universe<'a>(seen: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut all: Vec<String> = ISO_639_1
        .iter()
        .chain(TWITCH_EXTRA.iter())
        .map(|s| s.to_string())
        .collect();
    for language in seen {
        let language = language.to_ascii_lowercase();
        if !language.is_empty() && !all.contains(&language) {
            all.push(language);
        }
    }
    all
}

/// The partitions for a listing whose languages held `counts` streams at the previous
/// slot (`None` on a first run). Every known language value is in exactly one.
pub fn plan(counts: Option<&BTreeMap<String, u64>>) -> Vec<Partition> {
    let expected = |language: &str| -> u64 {
        match counts {
            Some(counts) => counts.get(language).copied().unwrap_or(0),
            // Sized for a listing of 100,000, Twitch's usual.
            None => COLD_START_SHARES
                .iter()
                .find(|(l, _)| *l == language)
                .map_or(0, |(_, share)| (share * 100_000.0) as u64),
        }
    };
    let seen = counts.into_iter().flat_map(|c| c.keys().map(String::as_str));
    let mut languages: Vec<(String, u64)> = universe(seen)
        .into_iter()
        .map(|l| {
            let n = expected(&l);
            (l, n)
        })
        .collect();
    // Biggest first; then alphabetical, so the plan is the same for the same counts.
    languages.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let counted = counts.is_some();
    let mut partitions: Vec<Partition> = Vec::new();
    let mut shared = Partition {
        languages: Vec::new(),
        expected_streams: 0,
        counted,
    };
    for (language, streams) in languages {
        if streams >= SHARED_PAGES * PAGE_SIZE {
            partitions.push(Partition {
                languages: vec![language],
                expected_streams: streams,
                counted,
            });
            continue;
        }
        let full = shared.languages.len() == MAX_VALUES
            || (streams > 0 && (shared.expected_streams + streams).div_ceil(PAGE_SIZE) > SHARED_PAGES);
        if full {
            partitions.push(std::mem::replace(
                &mut shared,
                Partition {
                    languages: Vec::new(),
                    expected_streams: 0,
                    counted,
                },
            ));
        }
        shared.languages.push(language);
        shared.expected_streams += streams;
    }
    if !shared.languages.is_empty() {
        partitions.push(shared);
    }
    partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covered(partitions: &[Partition]) -> Vec<String> {
        let mut all: Vec<String> = partitions.iter().flat_map(|p| p.languages.clone()).collect();
        all.sort();
        all
    }

    #[test]
    fn every_language_value_is_in_exactly_one_partition_of_at_most_100() {
        let mut counts = BTreeMap::new();
        counts.insert("en".to_string(), 40_000);
        counts.insert("es".to_string(), 7_000);
        counts.insert("cs".to_string(), 900);
        counts.insert("el".to_string(), 300);
        counts.insert("tlh".to_string(), 3); // a value no list has: kept from the data
        let seen: Vec<&str> = counts.keys().map(String::as_str).collect();
        for (plan, seen) in [(plan(None), vec![]), (plan(Some(&counts)), seen)] {
            let all = covered(&plan);
            let mut expected = universe(seen);
            expected.sort();
            assert_eq!(all, expected, "every known value once");
            for language in ISO_639_1.iter().chain(TWITCH_EXTRA.iter()) {
                assert!(all.iter().any(|l| l == language), "{language}");
            }
            assert!(
                plan.iter()
                    .all(|p| !p.languages.is_empty() && p.languages.len() <= MAX_VALUES)
            );
        }
        assert!(covered(&plan(Some(&counts))).contains(&"tlh".to_string()));
    }

    #[test]
    fn big_languages_get_a_chain_of_their_own_and_small_ones_share() {
        let mut counts = BTreeMap::new();
        for (language, n) in [
            ("en", 40_000),
            ("es", 7_000),
            ("de", 2_400),
            ("cs", 900),
            ("el", 300),
            ("fi", 80),
        ] {
            counts.insert(language.to_string(), n);
        }
        let plan = plan(Some(&counts));
        assert_eq!(plan[0].languages, ["en"]);
        assert_eq!(plan[0].expected_pages(), 400);
        assert_eq!(plan[1].languages, ["es"]);
        // de, cs, el and fi share a chain of 37 pages, with codes nobody used up to 100
        // values; the rest of those share the last.
        let shared = plan.iter().find(|p| p.holds("de")).unwrap();
        assert!(shared.holds("cs") && shared.holds("EL") && shared.holds("fi"));
        assert_eq!(shared.languages.len(), MAX_VALUES);
        assert_eq!(shared.expected_pages(), 37);
        assert_eq!(plan.len(), 4);
        assert_eq!(plan[3].expected_streams, 0);
        assert_eq!(plan[0].name(), "language=en");
    }
}
