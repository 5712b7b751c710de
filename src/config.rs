//! Settings from environment variables with matching flags, validated all at once.
//!
//! Each setting is read by clap (flag first, then the environment variable) into a
//! raw `*Args` struct of optional strings; `validate()` turns that into typed settings
//! or one [`ConfigError`] that lists every missing or malformed setting.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::lake::{LakeUrl, Slot};
use crate::warehouse::WarehouseUrl;

/// Every problem found in the configuration, reported together.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the configuration has {} problem(s):", self.problems.len())?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        write!(f, "Set them as environment variables or flags (see --help).")
    }
}

impl std::error::Error for ConfigError {}

/// Collects problems while fields are validated, so none hides another.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn required(&mut self, value: &Option<String>, env: &str, flag: &str) -> Option<String> {
        match value.as_deref().map(str::trim) {
            // App Service leaves a Key Vault reference's text in place when it cannot
            // resolve it (the identity's access not yet granted or propagated): that
            // text is not the secret. ("Use Key Vault references as app settings",
            // learn.microsoft.com/azure/app-service/app-service-key-vault-references.)
            Some(v) if v.starts_with("@Microsoft.KeyVault(") => {
                self.0.push(format!(
                    "{env} is a Key Vault reference the platform has not resolved: the app's identity cannot read the secret yet (its Key Vault Secrets User role, or the role's propagation); restart the app once it can"
                ));
                None
            }
            Some(v) if !v.is_empty() => Some(v.to_string()),
            _ => {
                self.0.push(format!("{env} (or {flag}) is not set"));
                None
            }
        }
    }

    fn parse<T>(&mut self, value: &str, env: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        parse(value)
            .map_err(|reason| self.0.push(format!("{env} is malformed: {reason}")))
            .ok()
    }

    fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, ConfigError> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(ConfigError { problems: self.0 })
        }
    }
}

fn parse_http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL ({e})"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!("`{text}` uses `{other}`; expected http or https")),
    }
}

/// Twitch application credentials and endpoints, as given.
#[derive(clap::Args, Clone, Default)]
pub struct TwitchArgs {
    /// Twitch application client id.
    #[arg(long = "client-id", env = "TWITCH_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Twitch application client secret (never printed).
    #[arg(long = "client-secret", env = "TWITCH_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// Helix API base URL.
    #[arg(
        long = "api-url",
        env = "TWITCH_API_URL",
        default_value = "https://api.twitch.tv/helix"
    )]
    pub api_url: String,
    /// Twitch OAuth base URL (token and validate endpoints).
    #[arg(
        long = "auth-url",
        env = "TWITCH_AUTH_URL",
        default_value = "https://id.twitch.tv/oauth2"
    )]
    pub auth_url: String,
}

// The raw arguments hold the secret as a plain string: keep it out of Debug.
impl fmt::Debug for TwitchArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwitchArgs")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[REDACTED]"))
            .field("api_url", &self.api_url)
            .field("auth_url", &self.auth_url)
            .finish()
    }
}

/// Validated Twitch settings.
#[derive(Clone, Debug)]
pub struct TwitchSettings {
    pub client_id: String,
    /// Redacted in Debug by `secrecy`; it has no Display.
    pub client_secret: SecretString,
    pub api_url: Url,
    pub auth_url: Url,
}

impl TwitchArgs {
    fn check(&self, problems: &mut Problems) -> Option<TwitchSettings> {
        let client_id = problems.required(&self.client_id, "TWITCH_CLIENT_ID", "--client-id");
        let client_secret = problems.required(&self.client_secret, "TWITCH_CLIENT_SECRET", "--client-secret");
        let api_url = problems.parse(&self.api_url, "TWITCH_API_URL", parse_http_url);
        let auth_url = problems.parse(&self.auth_url, "TWITCH_AUTH_URL", parse_http_url);
        Some(TwitchSettings {
            client_id: client_id?,
            client_secret: SecretString::from(client_secret?),
            api_url: api_url?,
            auth_url: auth_url?,
        })
    }

    /// Validates the Twitch settings alone.
    pub fn validate(&self) -> Result<TwitchSettings, ConfigError> {
        let mut problems = Problems::default();
        let settings = self.check(&mut problems);
        problems.finish(|| settings.expect("no problems means every field parsed"))
    }
}

/// Where the lake is.
#[derive(clap::Args, Clone, Debug)]
pub struct LakeArgs {
    /// Lake location: a folder, file://PATH, or az://CONTAINER[/PREFIX] (with
    /// AZURE_STORAGE_ACCOUNT_NAME; Azurite with AZURE_STORAGE_USE_EMULATOR=true).
    #[arg(long = "lake", env = "LAKE_URL", default_value = "./data/lake")]
    pub lake: String,
}

impl LakeArgs {
    fn check(&self, problems: &mut Problems) -> Option<LakeUrl> {
        problems.parse(&self.lake, "LAKE_URL", str::parse)
    }
}

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
    #[command(flatten)]
    pub snowflake: SnowflakeArgs,
}

/// A validated warehouse.
#[derive(Clone, Debug)]
pub enum WarehouseTarget {
    /// The embedded DuckDB file.
    DuckDb(PathBuf),
    Snowflake(Box<SnowflakeSettings>),
}

impl fmt::Display for WarehouseTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarehouseTarget::DuckDb(path) => write!(f, "duckdb:{}", path.display()),
            WarehouseTarget::Snowflake(s) => write!(f, "snowflake:{}.{}.{}", s.account, s.database, s.schema),
        }
    }
}

impl WarehouseArgs {
    fn check(&self, problems: &mut Problems) -> Option<WarehouseTarget> {
        match problems.parse(&self.warehouse, "WAREHOUSE_URL (--warehouse)", str::parse)? {
            WarehouseUrl::DuckDb(path) => Some(WarehouseTarget::DuckDb(path)),
            WarehouseUrl::Snowflake => self
                .snowflake
                .check(problems)
                .map(|s| WarehouseTarget::Snowflake(Box::new(s))),
        }
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
}

impl SnowflakeArgs {
    fn check(&self, problems: &mut Problems) -> Option<SnowflakeSettings> {
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
        Some(SnowflakeSettings {
            account: account?.to_ascii_uppercase(),
            user: user?.to_ascii_uppercase(),
            private_key: private_key?,
            role: self.role.clone().filter(|r| !r.trim().is_empty()),
            warehouse: warehouse?,
            database: database?,
            schema: self.schema.clone(),
            base_url,
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

/// Options of a local load, as given.
#[derive(clap::Args, Clone, Debug)]
pub struct LoadArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
}

/// A validated local load.
#[derive(Clone, Debug)]
pub struct LoadSettings {
    pub lake: LakeUrl,
    /// The embedded DuckDB file (Snowflake loads through Snowpipe instead).
    pub warehouse: PathBuf,
}

impl LoadArgs {
    /// Validates both locations, reporting all problems at once.
    pub fn validate(&self) -> Result<LoadSettings, ConfigError> {
        let mut problems = Problems::default();
        let lake = self.lake.check(&mut problems);
        let warehouse = match self.warehouse.check(&mut problems) {
            Some(WarehouseTarget::DuckDb(path)) => Some(path),
            Some(WarehouseTarget::Snowflake(_)) => {
                problems.0.push(
                    "WAREHOUSE_URL (--warehouse) is snowflake: `load` fills the embedded DuckDB; Snowflake loads through Snowpipe (`ingest`)"
                        .into(),
                );
                None
            }
            None => None,
        };
        problems.finish(|| LoadSettings {
            lake: lake.expect("validated"),
            warehouse: warehouse.expect("validated"),
        })
    }
}

/// Options of a transform run, as given.
#[derive(clap::Args, Clone, Debug)]
pub struct TransformArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// Folder holding dbt_project.yml.
    #[arg(long = "project", env = "TRANSFORM_PROJECT_DIR", default_value = ".")]
    pub project: PathBuf,
    /// Models to build: NAME, +NAME (with ancestors), NAME+ (with descendants); repeatable.
    #[arg(long = "select", short = 's')]
    pub select: Vec<String>,
    /// Rebuild incremental models from scratch (snapshots keep their history, as in dbt).
    #[arg(long)]
    pub full_refresh: bool,
    /// Do not check source freshness (e.g. when rebuilding from an old lake).
    #[arg(long)]
    pub skip_freshness: bool,
}

/// A validated transform run.
#[derive(Clone, Debug)]
pub struct TransformSettings {
    pub warehouse: WarehouseTarget,
    pub project: PathBuf,
    pub options: crate::transform::TransformOptions,
}

impl TransformArgs {
    /// Validates the warehouse and the project folder, reporting all problems at once.
    pub fn validate(&self) -> Result<TransformSettings, ConfigError> {
        let mut problems = Problems::default();
        let warehouse = self.warehouse.check(&mut problems);
        if !self.project.join("dbt_project.yml").is_file() {
            problems.0.push(format!(
                "TRANSFORM_PROJECT_DIR (--project) is malformed: {} has no dbt_project.yml",
                self.project.display()
            ));
        }
        problems.finish(|| TransformSettings {
            warehouse: warehouse.expect("validated"),
            project: self.project.clone(),
            options: crate::transform::TransformOptions {
                select: self.select.clone(),
                full_refresh: self.full_refresh,
                check_freshness: !self.skip_freshness,
            },
        })
    }
}

/// Options of a report, as given.
#[derive(clap::Args, Clone, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// The lake whose slots the pipeline-health section checks (LAKE_URL); a lake
    /// with no committed slot leaves the section out.
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Rows per table.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Also write the report as a self-contained HTML page with charts here.
    #[arg(long)]
    pub html: Option<PathBuf>,
}

impl ReportArgs {
    /// The validated warehouse and lake.
    pub fn validate(&self) -> Result<(WarehouseTarget, LakeUrl), ConfigError> {
        let mut problems = Problems::default();
        let warehouse = self.warehouse.check(&mut problems);
        let lake = self.lake.check(&mut problems);
        problems.finish(|| (warehouse.expect("validated"), lake.expect("validated")))
    }
}

/// Options of `status`, as given.
#[derive(clap::Args, Clone, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// First slot to check: a UTC date (2026-11-23) or an RFC 3339 time. Default: 24
    /// hours ago.
    #[arg(long)]
    pub since: Option<String>,
    /// Leave out the slots from this date or time on. Default: now.
    #[arg(long)]
    pub until: Option<String>,
    /// Minutes after its commit a slot may still be on its way (Snowpipe's queue, the
    /// next hourly transform) before it counts as incomplete.
    #[arg(long, default_value_t = 120)]
    pub grace_minutes: u32,
}

/// A validated `status`.
#[derive(Clone, Debug)]
pub struct StatusSettings {
    pub lake: LakeUrl,
    pub warehouse: WarehouseTarget,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub grace: chrono::Duration,
}

impl StatusArgs {
    /// Validates the locations and the window, reporting all problems at once.
    pub fn validate(&self) -> Result<StatusSettings, ConfigError> {
        let mut problems = Problems::default();
        let lake = self.lake.check(&mut problems);
        let warehouse = self.warehouse.check(&mut problems);
        let since = self
            .since
            .as_deref()
            .and_then(|text| problems.parse(text, "--since", parse_time));
        let until = self
            .until
            .as_deref()
            .and_then(|text| problems.parse(text, "--until", parse_time));
        problems.finish(|| StatusSettings {
            lake: lake.expect("validated"),
            warehouse: warehouse.expect("validated"),
            since,
            until,
            grace: chrono::Duration::minutes(self.grace_minutes.into()),
        })
    }
}

/// A UTC date (its midnight) or an RFC 3339 time.
fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(date) = text.parse::<chrono::NaiveDate>() {
        return Ok(date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .map_err(|e| format!("`{text}` is neither a date (2026-11-23) nor an RFC 3339 time ({e})"))
}

/// Options of `serve`, the Functions custom handler, as given: everything its
/// functions need, validated at start so a bad deployment says so at once.
#[derive(clap::Args, Clone, Debug)]
pub struct ServeArgs {
    /// Port to listen on (127.0.0.1); the Functions host sets it.
    #[arg(long, env = "FUNCTIONS_CUSTOMHANDLER_PORT", default_value = "3000")]
    pub port: String,
    #[command(flatten)]
    pub extract: ExtractArgs,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// Folder holding dbt_project.yml.
    #[arg(long = "project", env = "TRANSFORM_PROJECT_DIR", default_value = ".")]
    pub project: PathBuf,
    /// Minutes after its commit a file Snowflake has no load record of is submitted
    /// again by the hourly run (a lost blob event); Snowpipe loads within minutes.
    #[arg(long, env = "RESUBMIT_AFTER_MINUTES", default_value_t = 30)]
    pub resubmit_after_minutes: u32,
}

/// A validated `serve`.
#[derive(Clone, Debug)]
pub struct ServeSettings {
    pub port: u16,
    pub extract: ExtractSettings,
    pub warehouse: WarehouseTarget,
    pub project: PathBuf,
    /// How long a committed file may go without a load record before the hourly run
    /// submits it again.
    pub resubmit_after: chrono::Duration,
}

impl ServeArgs {
    /// Validates every setting of every function, reporting all problems at once.
    pub fn validate(&self) -> Result<ServeSettings, ConfigError> {
        let extract = self.extract.validate();
        let mut problems = Problems::default();
        if let Err(error) = &extract {
            problems.0.extend(error.problems.iter().cloned());
        }
        let port = problems.parse(&self.port, "FUNCTIONS_CUSTOMHANDLER_PORT (--port)", |p| {
            p.trim()
                .parse::<u16>()
                .map_err(|e| format!("`{p}` is not a port ({e})"))
        });
        let warehouse = self.warehouse.check(&mut problems);
        if !self.project.join("dbt_project.yml").is_file() {
            problems.0.push(format!(
                "TRANSFORM_PROJECT_DIR (--project) is malformed: {} has no dbt_project.yml",
                self.project.display()
            ));
        }
        problems.finish(|| ServeSettings {
            port: port.expect("validated"),
            extract: extract.expect("validated"),
            warehouse: warehouse.expect("validated"),
            project: self.project.clone(),
            resubmit_after: chrono::Duration::minutes(self.resubmit_after_minutes.into()),
        })
    }
}

/// Options of `snowflake-setup`, as given.
#[derive(clap::Args, Clone, Debug)]
pub struct SetupArgs {
    /// Apply the DDL (logging in with the SNOWFLAKE_* settings, as an admin) instead of printing it.
    #[arg(long)]
    pub apply: bool,
    /// Database for the raw tables and the models.
    #[arg(long = "database", env = "SNOWFLAKE_DATABASE")]
    pub database: Option<String>,
    /// Warehouse the pipeline's role may use.
    #[arg(long = "warehouse-name", env = "SNOWFLAKE_WAREHOUSE")]
    pub warehouse: Option<String>,
    /// The service user to create for the pipeline.
    #[arg(long, default_value = "TWITCH_PIPELINE_SVC")]
    pub service_user: String,
    /// The role to create for the pipeline.
    #[arg(long, default_value = "TWITCH_PIPELINE")]
    pub service_role: String,
    /// PEM file of the service user's key: its public key, or the private key itself.
    #[arg(long)]
    pub service_key: Option<PathBuf>,
    /// The lake: az://CONTAINER[/PREFIX].
    #[arg(long = "lake", env = "LAKE_URL")]
    pub lake: Option<String>,
    /// Storage account of the lake.
    #[arg(long, env = "AZURE_STORAGE_ACCOUNT_NAME")]
    pub storage_account: Option<String>,
    /// Microsoft Entra tenant of the storage account.
    #[arg(long, env = "AZURE_TENANT_ID")]
    pub azure_tenant_id: Option<String>,
    /// How to log in for --apply.
    #[command(flatten)]
    pub snowflake: SnowflakeArgs,
}

/// A validated `snowflake-setup`.
#[derive(Clone, Debug)]
pub struct SetupSettings {
    pub plan: crate::snowflake_setup::SetupPlan,
    /// Present with --apply.
    pub apply_as: Option<SnowflakeSettings>,
}

impl SetupArgs {
    /// Validates everything the DDL names, and the login with --apply, all at once.
    pub fn validate(&self) -> Result<SetupSettings, ConfigError> {
        let mut problems = Problems::default();
        let database = problems.required(&self.database, "SNOWFLAKE_DATABASE", "--database");
        let warehouse = problems.required(&self.warehouse, "SNOWFLAKE_WAREHOUSE", "--warehouse-name");
        let account = problems.required(&self.storage_account, "AZURE_STORAGE_ACCOUNT_NAME", "--storage-account");
        let tenant = problems.required(&self.azure_tenant_id, "AZURE_TENANT_ID", "--azure-tenant-id");
        let lake = problems.required(&self.lake, "LAKE_URL", "--lake").and_then(|lake| {
            match problems.parse(&lake, "LAKE_URL (--lake)", str::parse)? {
                LakeUrl::Azure { container, prefix } => Some((container, prefix)),
                LakeUrl::Local(_) => {
                    problems
                        .0
                        .push("LAKE_URL (--lake) is malformed: Snowflake reads an az://CONTAINER[/PREFIX] lake".into());
                    None
                }
            }
        });
        let key = match &self.service_key {
            Some(path) => problems.parse(&path.display().to_string(), "--service-key", |p| {
                let pem = std::fs::read_to_string(p).map_err(|e| format!("cannot read {p} ({e})"))?;
                crate::snowflake_setup::public_key_der(&pem)
            }),
            None => {
                problems
                    .0
                    .push("--service-key is not set: the PEM file of the service user's key pair".into());
                None
            }
        };
        let apply_as = if self.apply {
            self.snowflake.check(&mut problems)
        } else {
            None
        };
        problems.finish(|| {
            let (container, prefix) = lake.expect("validated");
            SetupSettings {
                plan: crate::snowflake_setup::SetupPlan {
                    database: database.expect("validated").to_ascii_uppercase(),
                    warehouse: warehouse.expect("validated").to_ascii_uppercase(),
                    user: self.service_user.to_ascii_uppercase(),
                    role: self.service_role.to_ascii_uppercase(),
                    lake_location: crate::snowflake_setup::SetupPlan::lake_location(
                        &account.expect("validated"),
                        &container,
                        &prefix,
                    ),
                    azure_tenant_id: tenant.expect("validated"),
                    public_key: key.expect("validated"),
                },
                apply_as,
            }
        })
    }
}

/// Options of `ingest`, as given.
#[derive(clap::Args, Clone, Debug)]
pub struct IngestArgs {
    /// A lake path (relative to the lake root) to ingest: a manifest's files go to their pipes.
    pub path: Option<String>,
    /// Submit every committed slot instead (Snowpipe skips files it already loaded).
    #[arg(long, conflicts_with_all = ["path", "status"])]
    pub backfill: bool,
    /// With --backfill: only slots from this UTC date (YYYY-MM-DD) on.
    #[arg(long, requires = "backfill")]
    pub since: Option<String>,
    /// Report what the pipes did: insertReport and the last 24 hours of loadHistoryScan.
    #[arg(long, conflicts_with = "path")]
    pub status: bool,
    #[command(flatten)]
    pub lake: LakeArgs,
    #[command(flatten)]
    pub snowflake: SnowflakeArgs,
}

/// What `ingest` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IngestMode {
    Path(String),
    Backfill { since: Option<chrono::NaiveDate> },
    Status,
}

/// A validated `ingest`.
#[derive(Clone, Debug)]
pub struct IngestSettings {
    pub lake: LakeUrl,
    pub snowflake: SnowflakeSettings,
    pub mode: IngestMode,
}

impl IngestArgs {
    /// Validates the lake, Snowflake and the mode, reporting all problems at once.
    pub fn validate(&self) -> Result<IngestSettings, ConfigError> {
        let mut problems = Problems::default();
        let lake = self.lake.check(&mut problems);
        let snowflake = self.snowflake.check(&mut problems);
        let since = match &self.since {
            Some(date) => problems.parse(date, "--since", |d| {
                chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                    .map_err(|e| format!("`{d}` is not YYYY-MM-DD ({e})"))
            }),
            None => None,
        };
        let mode = match (&self.path, self.backfill, self.status) {
            (Some(path), false, false) => Some(IngestMode::Path(path.clone())),
            (None, true, false) => Some(IngestMode::Backfill { since }),
            (None, false, true) => Some(IngestMode::Status),
            _ => {
                problems
                    .0
                    .push("ingest needs one of: a lake PATH, --backfill, or --status".into());
                None
            }
        };
        problems.finish(|| IngestSettings {
            lake: lake.expect("validated"),
            snowflake: snowflake.expect("validated"),
            mode: mode.expect("validated"),
        })
    }
}

/// Options of one extraction run, as given.
#[derive(clap::Args, Clone, Debug)]
pub struct ExtractArgs {
    #[command(flatten)]
    pub twitch: TwitchArgs,
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Slot to extract (RFC 3339, floored to the 15-minute grid); default: the current slot.
    #[arg(long, env = "EXTRACT_SLOT")]
    pub slot: Option<String>,
    /// Stop after this many unique streams (default: every live stream).
    #[arg(long, env = "EXTRACT_MAX_STREAMS")]
    pub max_streams: Option<String>,
    /// Seconds after which the run fails without publishing its slot.
    #[arg(long, env = "EXTRACT_DEADLINE_SECS", default_value = "600")]
    pub deadline_secs: String,
    /// Passes over the live listing (1 to 5): later passes land streams that moved
    /// past the reader during earlier ones.
    #[arg(long, env = "EXTRACT_PASSES", default_value = "2")]
    pub passes: String,
    /// Hours during which a fetched user or game is not fetched again.
    #[arg(long, env = "EXTRACT_LOOKUP_MAX_AGE_HOURS", default_value = "24")]
    pub lookup_max_age_hours: String,
}

/// A validated extraction run.
#[derive(Clone, Debug)]
pub struct ExtractSettings {
    pub twitch: TwitchSettings,
    pub lake: LakeUrl,
    /// `None`: the slot containing the current time.
    pub slot: Option<Slot>,
    pub max_streams: Option<u64>,
    pub deadline: Duration,
    pub lookup_max_age: chrono::Duration,
    /// Passes over the listing (see `ExtractOptions::passes`).
    pub passes: u32,
}

fn positive_integer(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{text}` is not a positive whole number")),
    }
}

impl ExtractArgs {
    /// Validates every setting of the run, reporting all problems at once.
    pub fn validate(&self) -> Result<ExtractSettings, ConfigError> {
        let mut problems = Problems::default();
        let twitch = self.twitch.check(&mut problems);
        let lake = self.lake.check(&mut problems);
        let slot = match &self.slot {
            Some(text) => problems
                .parse(text, "EXTRACT_SLOT (--slot)", |t| {
                    t.parse::<Slot>().map_err(|e| e.to_string())
                })
                .map(Some),
            None => Some(None),
        };
        let max_streams = match &self.max_streams {
            Some(text) => problems
                .parse(text, "EXTRACT_MAX_STREAMS (--max-streams)", positive_integer)
                .map(Some),
            None => Some(None),
        };
        let deadline = problems.parse(
            &self.deadline_secs,
            "EXTRACT_DEADLINE_SECS (--deadline-secs)",
            positive_integer,
        );
        let max_age = problems.parse(
            &self.lookup_max_age_hours,
            "EXTRACT_LOOKUP_MAX_AGE_HOURS (--lookup-max-age-hours)",
            positive_integer,
        );
        let passes = problems.parse(&self.passes, "EXTRACT_PASSES (--passes)", |text| {
            positive_integer(text)
                .ok()
                .filter(|n| *n <= 5)
                .map(|n| n as u32)
                .ok_or_else(|| format!("`{text}` is not a number of passes from 1 to 5"))
        });
        problems.finish(|| ExtractSettings {
            twitch: twitch.expect("validated"),
            lake: lake.expect("validated"),
            slot: slot.expect("validated"),
            max_streams: max_streams.expect("validated"),
            deadline: Duration::from_secs(deadline.expect("validated")),
            lookup_max_age: chrono::Duration::hours(max_age.expect("validated") as i64),
            passes: passes.expect("validated"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ExtractArgs {
        ExtractArgs {
            twitch: TwitchArgs {
                client_id: Some("id".into()),
                client_secret: Some("hunter2-secret".into()),
                api_url: "https://api.twitch.tv/helix".into(),
                auth_url: "https://id.twitch.tv/oauth2".into(),
            },
            lake: LakeArgs {
                lake: "./data/lake".into(),
            },
            slot: None,
            max_streams: None,
            deadline_secs: "600".into(),
            lookup_max_age_hours: "24".into(),
            passes: "2".into(),
        }
    }

    #[test]
    fn every_problem_is_listed_together() {
        let mut bad = args();
        bad.twitch.client_id = None;
        bad.twitch.client_secret = Some("  ".into());
        bad.twitch.api_url = "ftp://x".into();
        bad.lake.lake = "s3://bucket".into();
        bad.slot = Some("noon".into());
        bad.max_streams = Some("0".into());
        bad.deadline_secs = "ten".into();
        bad.passes = "9".into();
        let err = bad.validate().unwrap_err();
        assert_eq!(err.problems.len(), 8, "{err}");
        let text = err.to_string();
        for needle in [
            "TWITCH_CLIENT_ID",
            "TWITCH_CLIENT_SECRET",
            "TWITCH_API_URL",
            "LAKE_URL",
            "EXTRACT_SLOT",
            "EXTRACT_MAX_STREAMS",
            "EXTRACT_DEADLINE_SECS",
            "EXTRACT_PASSES",
        ] {
            assert!(text.contains(needle), "{needle} missing from: {text}");
        }
    }

    #[test]
    fn valid_settings_parse() {
        let mut good = args();
        good.slot = Some("2026-11-23T22:20:00Z".into());
        good.max_streams = Some("500".into());
        let settings = good.validate().unwrap();
        assert_eq!(settings.slot.unwrap().rfc3339(), "2026-11-23T22:15:00Z");
        assert_eq!(settings.max_streams, Some(500));
        assert_eq!(settings.deadline, Duration::from_secs(600));
    }

    #[test]
    fn an_unresolved_key_vault_reference_is_named_not_used_as_the_secret() {
        let mut args = args();
        args.twitch.client_secret =
            Some("@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/twitch-client-secret/)".into());
        let error = args.validate().unwrap_err().to_string();
        assert!(
            error.contains("TWITCH_CLIENT_SECRET is a Key Vault reference the platform has not resolved"),
            "{error}"
        );
    }

    #[test]
    fn debug_output_hides_the_client_secret() {
        let raw = args();
        assert!(!format!("{raw:?}").contains("hunter2"));
        let settings = raw.validate().unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
        assert!(format!("{settings:?}").contains("REDACTED"));
    }

    fn transform_args(snowflake: SnowflakeArgs) -> TransformArgs {
        TransformArgs {
            warehouse: WarehouseArgs {
                warehouse: "snowflake".into(),
                snowflake,
            },
            project: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            select: Vec::new(),
            full_refresh: false,
            skip_freshness: false,
        }
    }

    const PEM: &str =
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-hunter2\n-----END PRIVATE KEY-----\n";

    #[test]
    fn snowflake_lists_every_missing_setting_together() {
        let err = transform_args(SnowflakeArgs {
            schema: "PUBLIC".into(),
            ..Default::default()
        })
        .validate()
        .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.problems.len(), 5, "{text}");
        for needle in [
            "SNOWFLAKE_ACCOUNT",
            "SNOWFLAKE_USER",
            "SNOWFLAKE_PRIVATE_KEY",
            "SNOWFLAKE_WAREHOUSE",
            "SNOWFLAKE_DATABASE",
        ] {
            assert!(text.contains(needle), "{needle} missing from: {text}");
        }
    }

    #[test]
    fn snowflake_key_is_pem_or_a_pem_file_and_never_printed() {
        let complete = |key: &str| SnowflakeArgs {
            account: Some("myorg-acct".into()),
            user: Some("pipeline".into()),
            private_key: Some(key.into()),
            role: None,
            warehouse: Some("WH".into()),
            database: Some("TWITCH".into()),
            schema: "PUBLIC".into(),
            url: None,
        };
        let args = transform_args(complete(PEM));
        assert!(!format!("{args:?}").contains("hunter2"));
        let settings = args.validate().unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
        let WarehouseTarget::Snowflake(snowflake) = &settings.warehouse else {
            panic!("snowflake")
        };
        assert_eq!(
            (snowflake.account.as_str(), snowflake.user.as_str()),
            ("MYORG-ACCT", "PIPELINE")
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key.p8");
        std::fs::write(&file, PEM).unwrap();
        assert!(transform_args(complete(file.to_str().unwrap())).validate().is_ok());

        let err = transform_args(complete("not-a-key-hunter2"))
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SNOWFLAKE_PRIVATE_KEY") && !err.contains("hunter2"),
            "{err}"
        );
    }

    /// Flags as clap reads them: every Snowflake setting reaches its own field (a shared
    /// argument id once sent SNOWFLAKE_WAREHOUSE nowhere, and release builds skip
    /// clap's own check).
    #[test]
    fn every_snowflake_flag_reaches_its_field() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            transform: TransformArgs,
        }
        use clap::Parser;
        let cli = Cli::try_parse_from([
            "twitch-pipeline",
            "--warehouse",
            "snowflake",
            "--project",
            env!("CARGO_MANIFEST_DIR"),
            "--snowflake-account",
            "acct",
            "--snowflake-user",
            "me",
            &format!("--snowflake-private-key={PEM}"),
            "--snowflake-warehouse",
            "WH_X",
            "--snowflake-database",
            "DB_X",
            "--snowflake-role",
            "ROLE_X",
            "--snowflake-schema",
            "SCHEMA_X",
        ])
        .unwrap();
        let WarehouseTarget::Snowflake(s) = cli.transform.validate().unwrap().warehouse else {
            panic!("snowflake")
        };
        assert_eq!(
            (
                s.account.as_str(),
                s.user.as_str(),
                s.warehouse.as_str(),
                s.database.as_str()
            ),
            ("ACCT", "ME", "WH_X", "DB_X")
        );
        assert_eq!((s.role.as_deref(), s.schema.as_str()), (Some("ROLE_X"), "SCHEMA_X"));
    }
}
