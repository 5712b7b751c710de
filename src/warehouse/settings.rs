//! Which warehouse, and Snowflake's connection settings.

use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;
use url::Url;

use super::{DEFAULT_MEMORY_LIMIT, DuckDbTarget, WarehouseUrl};
use crate::config::{Problems, parse_http_url};

/// Which warehouse, and Snowflake's settings when it is Snowflake.
#[derive(clap::Args, Clone, Debug)]
pub struct WarehouseArgs {
    /// Warehouse: duckdb:PATH for the embedded DuckDB file, or snowflake (SNOWFLAKE_* settings).
    #[arg(
        long = "warehouse",
        env = "WAREHOUSE_URL",
        default_value = "duckdb:./data/warehouse.duckdb"
    )]
    pub warehouse: String,
    /// The most memory the embedded DuckDB may use before it spills to disk, e.g. 2GB.
    #[arg(long = "duckdb-memory-limit", env = "DUCKDB_MEMORY_LIMIT", default_value = DEFAULT_MEMORY_LIMIT)]
    pub duckdb_memory_limit: String,
    /// Where the embedded DuckDB spills (default: beside its file, `<file>.tmp`).
    #[arg(long = "duckdb-temp-directory", env = "DUCKDB_TEMP_DIRECTORY")]
    pub duckdb_temp_directory: Option<PathBuf>,
    #[command(flatten)]
    pub snowflake: SnowflakeArgs,
}

/// A validated warehouse.
#[derive(Clone, Debug)]
pub enum WarehouseTarget {
    /// The embedded DuckDB file.
    DuckDb(DuckDbTarget),
    Snowflake(Box<SnowflakeSettings>),
}

impl fmt::Display for WarehouseTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarehouseTarget::DuckDb(target) => write!(f, "duckdb:{}", target.path.display()),
            WarehouseTarget::Snowflake(s) => write!(f, "snowflake:{}.{}.{}", s.account, s.database, s.schema),
        }
    }
}

impl WarehouseArgs {
    pub(crate) fn check(&self, problems: &mut Problems) -> Option<WarehouseTarget> {
        match problems.parse(&self.warehouse, "WAREHOUSE_URL (--warehouse)", str::parse)? {
            WarehouseUrl::DuckDb(path) => {
                let memory_limit = problems.parse(
                    &self.duckdb_memory_limit,
                    "DUCKDB_MEMORY_LIMIT (--duckdb-memory-limit)",
                    parse_memory_limit,
                )?;
                Some(WarehouseTarget::DuckDb(DuckDbTarget {
                    path,
                    memory_limit,
                    temp_directory: self.duckdb_temp_directory.clone(),
                }))
            }
            WarehouseUrl::Snowflake => self
                .snowflake
                .check(problems)
                .map(|s| WarehouseTarget::Snowflake(Box::new(s))),
        }
    }
}

/// A DuckDB memory size: a number and a unit (`2GB`, `1536MB`, `4GiB`).
fn parse_memory_limit(text: &str) -> Result<String, String> {
    let text = text.trim();
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic()).trim();
    let unit = text[digits.len()..].trim().to_ascii_uppercase();
    let units = ["KB", "MB", "GB", "TB", "KIB", "MIB", "GIB", "TIB"];
    match (digits.parse::<f64>(), units.contains(&unit.as_str())) {
        (Ok(n), true) if n > 0.0 => Ok(format!("{digits}{unit}")),
        _ => Err(format!("`{text}` is not a memory size such as 2GB or 1536MB")),
    }
}

/// Snowflake connection settings, as given; read only when the warehouse is `snowflake`.
#[derive(clap::Args, Clone, Default)]
pub struct SnowflakeArgs {
    /// Snowflake account identifier (e.g. myorg-myaccount).
    #[arg(id = "snowflake_account", long = "snowflake-account", env = "SNOWFLAKE_ACCOUNT")]
    pub account: Option<String>,
    /// Snowflake user of the key pair.
    #[arg(id = "snowflake_user", long = "snowflake-user", env = "SNOWFLAKE_USER")]
    pub user: Option<String>,
    /// The user's private key: PEM text, or the path of a PEM file (never printed).
    #[arg(
        long = "snowflake-private-key",
        env = "SNOWFLAKE_PRIVATE_KEY",
        hide_env_values = true
    )]
    pub private_key: Option<String>,
    /// Role for the session (the user's default when unset).
    #[arg(id = "snowflake_role", long = "snowflake-role", env = "SNOWFLAKE_ROLE")]
    pub role: Option<String>,
    /// Virtual warehouse that runs the queries.
    #[arg(
        id = "snowflake_warehouse",
        long = "snowflake-warehouse",
        env = "SNOWFLAKE_WAREHOUSE"
    )]
    pub warehouse: Option<String>,
    /// Database holding the RAW schema and the models.
    #[arg(id = "snowflake_database", long = "snowflake-database", env = "SNOWFLAKE_DATABASE")]
    pub database: Option<String>,
    /// Schema for models without one of their own (dbt's target.schema).
    #[arg(
        id = "snowflake_schema",
        long = "snowflake-schema",
        env = "SNOWFLAKE_SCHEMA",
        default_value = "PUBLIC"
    )]
    pub schema: String,
    /// Base URL instead of https://ACCOUNT.snowflakecomputing.com (private link, tests).
    #[arg(id = "snowflake_url", long = "snowflake-url", env = "SNOWFLAKE_URL")]
    pub url: Option<String>,
    /// Seconds after which Snowflake cancels a statement of the session (its
    /// STATEMENT_TIMEOUT_IN_SECONDS); default: Snowflake's own (two days) from the CLI,
    /// 720 under `serve`, inside the Functions host's 14 minutes.
    #[arg(
        id = "snowflake_statement_timeout_secs",
        long = "snowflake-statement-timeout-secs",
        env = "SNOWFLAKE_STATEMENT_TIMEOUT_SECS"
    )]
    pub statement_timeout_secs: Option<String>,
}

impl fmt::Debug for SnowflakeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnowflakeArgs")
            .field("account", &self.account)
            .field("user", &self.user)
            .field("private_key", &self.private_key.as_ref().map(|_| "[REDACTED]"))
            .field("role", &self.role)
            .field("warehouse", &self.warehouse)
            .field("database", &self.database)
            .field("schema", &self.schema)
            .field("url", &self.url)
            .field("statement_timeout_secs", &self.statement_timeout_secs)
            .finish()
    }
}

/// Validated Snowflake settings.
#[derive(Clone, Debug)]
pub struct SnowflakeSettings {
    pub account: String,
    pub user: String,
    /// PEM text; redacted in Debug by `secrecy`, and it has no Display.
    pub private_key: SecretString,
    pub role: Option<String>,
    pub warehouse: String,
    pub database: String,
    pub schema: String,
    pub base_url: Option<Url>,
    /// Snowflake cancels a statement of the session past this (`None`: its default).
    pub statement_timeout: Option<std::time::Duration>,
}

impl SnowflakeArgs {
    pub(crate) fn check(&self, problems: &mut Problems) -> Option<SnowflakeSettings> {
        let account = problems.required(&self.account, "SNOWFLAKE_ACCOUNT", "--snowflake-account");
        let user = problems.required(&self.user, "SNOWFLAKE_USER", "--snowflake-user");
        let key = problems.required(&self.private_key, "SNOWFLAKE_PRIVATE_KEY", "--snowflake-private-key");
        let private_key = key.and_then(|key| problems.parse(&key, "SNOWFLAKE_PRIVATE_KEY", read_private_key));
        let warehouse = problems.required(&self.warehouse, "SNOWFLAKE_WAREHOUSE", "--snowflake-warehouse");
        let database = problems.required(&self.database, "SNOWFLAKE_DATABASE", "--snowflake-database");
        let base_url = match &self.url {
            Some(url) => Some(problems.parse(url, "SNOWFLAKE_URL (--snowflake-url)", parse_http_url)?),
            None => None,
        };
        let statement_timeout = match &self.statement_timeout_secs {
            Some(text) => Some(problems.parse(
                text,
                "SNOWFLAKE_STATEMENT_TIMEOUT_SECS (--snowflake-statement-timeout-secs)",
                parse_statement_timeout,
            )?),
            None => None,
        };
        Some(SnowflakeSettings {
            account: account?.to_ascii_uppercase(),
            user: user?.to_ascii_uppercase(),
            private_key: private_key?,
            role: self.role.clone().filter(|r| !r.trim().is_empty()),
            warehouse: warehouse?,
            database: database?,
            schema: self.schema.clone(),
            base_url,
            statement_timeout,
        })
    }
}

/// The key as PEM text, read from a file when the value is not PEM itself. The
/// messages never quote the value: it may be the key.
fn read_private_key(value: &str) -> Result<SecretString, String> {
    let pem = if value.trim_start().starts_with("-----BEGIN") {
        value.to_string()
    } else {
        std::fs::read_to_string(value.trim())
            .map_err(|e| format!("it is neither PEM text nor a readable PEM file ({e})"))?
    };
    if !pem.contains("PRIVATE KEY-----") {
        return Err("it holds no PEM private key (expected -----BEGIN PRIVATE KEY-----)".into());
    }
    Ok(SecretString::from(pem))
}

/// Seconds for STATEMENT_TIMEOUT_IN_SECONDS, whose range is "0 - 604800 (i.e. 7 days)"
/// (docs.snowflake.com/en/sql-reference/parameters); 0 there means the seven-day
/// maximum, not "no timeout", so it is refused rather than passed on.
fn parse_statement_timeout(text: &str) -> Result<std::time::Duration, String> {
    match text.trim().parse::<u64>() {
        Ok(n @ 1..=604_800) => Ok(std::time::Duration::from_secs(n)),
        _ => Err(format!("`{text}` is not a number of seconds from 1 to 604800")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_timeout_is_within_snowflakes_range() {
        assert_eq!(parse_statement_timeout(" 720").unwrap().as_secs(), 720);
        assert_eq!(parse_statement_timeout("604800").unwrap().as_secs(), 604_800);
        for bad in ["0", "604801", "12m", ""] {
            assert!(
                parse_statement_timeout(bad).unwrap_err().contains("1 to 604800"),
                "{bad}"
            );
        }
    }

    #[test]
    fn duckdb_gets_a_memory_limit_and_a_spill_folder_beside_its_file() {
        assert_eq!(parse_memory_limit(" 1536mb").unwrap(), "1536MB");
        assert_eq!(parse_memory_limit("4GiB").unwrap(), "4GIB");
        for bad in ["lots", "0GB", "2", "GB"] {
            assert!(
                parse_memory_limit(bad).unwrap_err().contains("not a memory size"),
                "{bad}"
            );
        }
        let target = DuckDbTarget::at("data/warehouse.duckdb");
        assert_eq!(target.memory_limit, DEFAULT_MEMORY_LIMIT);
        assert_eq!(target.spill_directory(), PathBuf::from("data/warehouse.duckdb.tmp"));
    }
}
