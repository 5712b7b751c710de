//! Where an embedded DuckDB database is, and what it may use: plain settings,
//! compiled without the `duckdb` feature too, so a caller's configuration can name
//! them in every build.

/// The embedded DuckDB file, and the memory and spill space it may use.
///
/// DuckDB's own default memory limit is 80% of the machine's RAM (a week of the
/// twitch-pipeline's full catalog then peaked at 20 GB). The limit here bounds its buffer manager; what does
/// not fit spills to `temp_directory` ("Memory management", duckdb.org/docs: the
/// `memory_limit` and `temp_directory` settings; joins, aggregates, sorts and windows
/// spill).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuckDbTarget {
    pub path: std::path::PathBuf,
    /// DuckDB's `memory_limit`, e.g. `2GB`.
    pub memory_limit: String,
    /// Where DuckDB spills; `None`: beside the database file (`<file>.tmp`).
    pub temp_directory: Option<std::path::PathBuf>,
}

/// The default `memory_limit`. The process's peak RSS runs 0.2–0.4 GiB above it
/// (measured on a day of the twitch-pipeline's full catalog: 1.62 GiB in its load,
/// 1.70 GiB in the full build; 2.19 and 2.27 GiB with `2GB`), so a process stays
/// within 2 GiB.
pub const DEFAULT_MEMORY_LIMIT: &str = "1.5GB";

impl DuckDbTarget {
    /// The file at `path` with the default limits.
    pub fn at(path: impl Into<std::path::PathBuf>) -> DuckDbTarget {
        DuckDbTarget {
            path: path.into(),
            memory_limit: DEFAULT_MEMORY_LIMIT.to_string(),
            temp_directory: None,
        }
    }

    /// Where DuckDB spills.
    pub fn spill_directory(&self) -> std::path::PathBuf {
        self.temp_directory.clone().unwrap_or_else(|| {
            let mut name = self.path.as_os_str().to_owned();
            name.push(".tmp");
            name.into()
        })
    }
}
