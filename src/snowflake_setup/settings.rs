//! `snowflake-setup`'s settings: what the DDL names, and the login for `--apply`.

use std::path::PathBuf;

use crate::config::{ConfigError, Problems};
use crate::lake::LakeUrl;
use crate::warehouse::{SnowflakeArgs, SnowflakeSettings};

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
    /// Give the service user this key as its second (RSA_PUBLIC_KEY_2), to rotate keys
    /// with no downtime; afterwards, `alter user … unset rsa_public_key`.
    #[arg(long)]
    pub rotate_key: bool,
    /// How to log in for --apply.
    #[command(flatten)]
    pub snowflake: SnowflakeArgs,
}

/// A validated `snowflake-setup`.
#[derive(Clone, Debug)]
pub struct SetupSettings {
    pub plan: super::SetupPlan,
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
                        .push("LAKE_URL (--lake) is malformed: Snowflake reads an az://CONTAINER[/PREFIX] lake".into());
                    None
                }
            }
        });
        let key = match &self.service_key {
            Some(path) => problems.parse(&path.display().to_string(), "--service-key", |p| {
                let pem = std::fs::read_to_string(p).map_err(|e| format!("cannot read {p} ({e})"))?;
                super::public_key_der(&pem)
            }),
            None => {
                problems.push("--service-key is not set: the PEM file of the service user's key pair".into());
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
                plan: super::SetupPlan {
                    database: database.expect("validated").to_ascii_uppercase(),
                    warehouse: warehouse.expect("validated").to_ascii_uppercase(),
                    user: self.service_user.to_ascii_uppercase(),
                    role: self.service_role.to_ascii_uppercase(),
                    lake_location: super::SetupPlan::lake_location(&account.expect("validated"), &container, &prefix),
                    azure_tenant_id: tenant.expect("validated"),
                    public_key: key.expect("validated"),
                    rotate_key: self.rotate_key,
                },
                apply_as,
            }
        })
    }
}
