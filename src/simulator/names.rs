//! Word lists for synthetic names and titles. Nothing here is a real channel or game.

pub const SYLLABLES: &[&str] = &[
    "ka", "zu", "mi", "ro", "the", "lux", "nova", "dra", "vel", "qui", "sor", "ban", "tel", "mox", "ari", "fen", "gal",
    "hex", "ion", "jin", "kor", "lyn", "mar", "nix", "oro", "pyx", "rae", "sol", "tor", "umi", "vex", "wyn", "xan",
    "yor", "zed", "bri", "cae", "dun", "eko", "fyr",
];

pub const LOGIN_SUFFIXES: &[&str] = &[
    "", "", "", "tv", "_tv", "live", "gg", "plays", "_", "x", "01", "92", "777",
];

pub const GAME_FIRST: &[&str] = &[
    "Crimson",
    "Hollow",
    "Neon",
    "Iron",
    "Silent",
    "Star",
    "Ashen",
    "Frozen",
    "Lost",
    "Wild",
    "Eternal",
    "Shattered",
    "Golden",
    "Shadow",
    "Electric",
    "Ancient",
    "Pixel",
    "Cosmic",
    "Sunken",
    "Radiant",
    "Broken",
    "Velvet",
    "Thunder",
    "Emerald",
];

pub const GAME_SECOND: &[&str] = &[
    "Harbor",
    "Kingdoms",
    "Frontier",
    "Legends",
    "Tactics",
    "Odyssey",
    "Arena",
    "Dynasty",
    "Drift",
    "Protocol",
    "Horizons",
    "Outpost",
    "Chronicles",
    "Siege",
    "Gardens",
    "Rally",
    "Depths",
    "Empire",
    "Racers",
    "Colony",
    "Tavern",
    "Circuit",
    "Saga",
    "Party",
];

pub const GAME_EDITIONS: &[&str] = &["", " II", " Online", " III", " Remastered", ": Reborn", " Deluxe", " 2"];

/// Categories that are not games; the first is the most watched, as on Twitch.
pub const NON_GAME_CATEGORIES: &[&str] = &[
    "Just Chatting",
    "Music",
    "Art",
    "Sports",
    "Talk Shows & Podcasts",
    "Travel & Outdoors",
    "ASMR",
    "Software and Game Development",
];

pub const TITLE_OPENERS: &[&str] = &[
    "chill",
    "ranked grind",
    "first playthrough",
    "road to top 500",
    "late night",
    "chatting and",
    "100% run",
    "blind run",
    "tryhard",
    "community day",
    "speedrun practice",
    "cozy stream",
];

pub const TITLE_TAILS: &[&str] = &[
    "| !discord",
    "| !socials",
    "| come hang",
    "| drops on",
    "",
    "| day 12",
    "| new setup",
    "| !sub",
    "| giveaway at 1k",
    "| w/ friends",
];

pub const TAGS: &[&str] = &[
    "English",
    "Español",
    "chill",
    "Competitive",
    "NoBackseating",
    "FPS",
    "RPG",
    "Chatting",
    "speedrun",
    "vtuber",
    "LGBTQIAPlus",
    "family",
    "PvP",
    "casual",
    "Strategy",
    "music",
    "retro",
    "creative",
];

pub const DESCRIPTIONS: &[&str] = &[
    "Streaming most nights. Be kind in chat.",
    "Variety streamer. Schedule on the panels below.",
    "Competitive player, coach and caster.",
    "",
    "Just here to have fun with chat.",
    "Art, music and long conversations.",
];

/// (BCP 47 tag, weight): roughly Twitch's language mix.
pub const LANGUAGES: &[(&str, u32)] = &[
    ("en", 40),
    ("es", 10),
    ("pt", 8),
    ("de", 7),
    ("fr", 6),
    ("ru", 5),
    ("ja", 5),
    ("ko", 4),
    ("it", 3),
    ("zh", 2),
    ("pl", 2),
    ("tr", 2),
    ("th", 1),
    ("nl", 1),
    ("sv", 1),
    ("ar", 1),
    ("cs", 1),
    ("other", 1),
];
