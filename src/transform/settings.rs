//! `transform`'s settings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::{ConfigError, Problems};
use crate::warehouse::{WarehouseArgs, WarehouseTarget};

/// Options of a transform run, as given.
#[derive(clap::Args, Clone, Debug)]
pub struct TransformArgs {
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Models and tests to run, in dbt's grammar: NAME, tag:T, path:P, file:F, fqn:F,
    /// config.KEY:V, source:S, resource_type:R, test_name:N, test_type:T, with +NAME
    /// (ancestors), NAME+ (descendants), 2+NAME, NAME+1, @NAME; words are a union,
    /// commas an intersection; a model's tests come with it; repeatable.
    #[arg(long = "select", short = 's')]
    pub select: Vec<String>,
    /// Models and tests to leave out, in the same grammar (a model's tests go with it).
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Rebuild incremental models from scratch (snapshots keep their history, as in dbt).
    #[arg(long)]
    pub full_refresh: bool,
    /// Do not check source freshness (e.g. when rebuilding from an old lake).
    #[arg(long)]
    pub skip_freshness: bool,
    /// Values for `var()`, as dbt takes them: a YAML mapping, e.g. '{days: 3}'.
    #[arg(long)]
    pub vars: Option<String>,
    /// Check whole tables: no test of an incremental model checks only what the run
    /// merged, even after it passed (e.g. after editing a table by hand).
    #[arg(long)]
    pub full_checks: bool,
    #[command(flatten)]
    pub threads: ThreadsArg,
    /// Where to write dbt's artifacts (manifest.json, run_results.json, sources.json):
    /// dbt's `--target-path` and `DBT_TARGET_PATH` (dbt-core, `dbt/cli/params.py`). The
    /// project's `target/` when unset, as dbt's default.
    #[arg(long = "target-path", env = "DBT_TARGET_PATH")]
    pub target_path: Option<PathBuf>,
    /// Build nothing: print what --select and --exclude pick, the models and snapshots
    /// in build order, then the tests, as `dbt ls --output name` lists them.
    #[arg(long)]
    pub list: bool,
}

/// How many nodes a transform builds at once, as given (`transform`, and `serve`'s
/// hourly run).
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct ThreadsArg {
    /// How many nodes to build at once, as dbt's `threads`: each, with its tests, on a
    /// session of its own (a DuckDB connection, a Snowflake login).
    #[arg(long, env = "TRANSFORM_THREADS", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: u16,
}

impl ThreadsArg {
    /// [`super::TransformOptions::threads`].
    pub fn count(self) -> usize {
        usize::from(self.threads)
    }
}

/// The dbt project and the target it is built for, as given: what the transform
/// builds, and where the readers of its models (report, status) find them.
#[derive(clap::Args, Clone, Debug)]
pub struct ProjectArgs {
    /// Folder holding dbt_project.yml.
    #[arg(long = "project", env = "TRANSFORM_PROJECT_DIR", default_value = ".")]
    pub dir: PathBuf,
    /// dbt's `target.name`: `prod` builds the production schemas (staging, snapshots,
    /// marts), any other name `<schema>_staging` and so on (macros/generate_schema_name.sql).
    #[arg(long = "target-name", env = "TRANSFORM_TARGET_NAME", default_value = "dev")]
    pub target_name: String,
}

/// A validated [`ProjectArgs`].
#[derive(Clone, Debug)]
pub struct ProjectSettings {
    pub dir: PathBuf,
    pub target_name: String,
}

impl ProjectArgs {
    /// The project and target, with their problems added to `problems`.
    pub fn check(&self, problems: &mut Problems) -> Option<ProjectSettings> {
        check_project(&self.dir, problems);
        let name = self.target_name.trim();
        if name.is_empty() {
            problems.push("TRANSFORM_TARGET_NAME (--target-name) is empty: name the target, e.g. dev or prod".into());
        }
        Some(ProjectSettings {
            dir: self.dir.clone(),
            target_name: name.to_string(),
        })
    }
}

/// A validated transform run.
#[derive(Clone, Debug)]
pub struct TransformSettings {
    pub warehouse: WarehouseTarget,
    pub project: PathBuf,
    pub options: super::TransformOptions,
}

/// `--vars`: a YAML mapping of names to values.
fn parse_vars(text: &str) -> Result<BTreeMap<String, serde_json::Value>, String> {
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    serde_json::to_value(&yaml)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| format!("`{text}` is not a mapping of names to values, e.g. '{{days: 3}}'"))
}

/// The dbt project folder (TRANSFORM_PROJECT_DIR) must hold a dbt_project.yml.
fn check_project(project: &std::path::Path, problems: &mut Problems) {
    if !project.join("dbt_project.yml").is_file() {
        problems.push(format!(
            "TRANSFORM_PROJECT_DIR (--project) is malformed: {} has no dbt_project.yml",
            project.display()
        ));
    }
}

impl TransformArgs {
    /// Validates the warehouse and the project folder, reporting all problems at once.
    pub fn validate(&self) -> Result<TransformSettings, ConfigError> {
        let mut problems = Problems::default();
        let warehouse = self.warehouse.check(&mut problems);
        let project = self.project.check(&mut problems);
        let vars = match &self.vars {
            Some(text) => problems.parse(text, "--vars", parse_vars),
            None => Some(BTreeMap::new()),
        };
        problems.finish(|| {
            let project = project.expect("validated");
            TransformSettings {
                warehouse: warehouse.expect("validated"),
                project: project.dir.clone(),
                options: super::TransformOptions {
                    select: self.select.clone(),
                    exclude: self.exclude.clone(),
                    full_refresh: self.full_refresh,
                    check_freshness: !self.skip_freshness,
                    vars: vars.expect("validated"),
                    target_name: Some(project.target_name),
                    target_path: Some(self.target_path.clone().unwrap_or_else(|| project.dir.join("target"))),
                    full_checks: self.full_checks,
                    threads: self.threads.count(),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::warehouse::SnowflakeArgs;

    fn transform_args(snowflake: SnowflakeArgs) -> TransformArgs {
        TransformArgs {
            warehouse: WarehouseArgs {
                warehouse: "snowflake".into(),
                duckdb_memory_limit: crate::warehouse::DEFAULT_MEMORY_LIMIT.into(),
                duckdb_temp_directory: None,
                snowflake,
            },
            project: ProjectArgs {
                dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
                target_name: "dev".into(),
            },
            select: Vec::new(),
            exclude: Vec::new(),
            full_refresh: false,
            skip_freshness: false,
            vars: None,
            full_checks: false,
            threads: ThreadsArg { threads: 1 },
            target_path: None,
            list: false,
        }
    }

    #[test]
    fn vars_are_a_yaml_mapping() {
        assert_eq!(
            parse_vars("{days: 3, name: x}").unwrap(),
            BTreeMap::from([
                ("days".to_string(), serde_json::json!(3)),
                ("name".to_string(), serde_json::json!("x"))
            ])
        );
        assert!(parse_vars("[1, 2]").unwrap_err().contains("not a mapping"));
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
            statement_timeout_secs: None,
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
