//! What the runner's integration tests share: the tools they need, dbt run on a
//! DuckDB file, and small projects written to disk. Other crates of the workspace
//! may include this file in their tests (`#[path]`), so there is one copy; in each,
//! `feature = "duckdb"` is the feature that brings the embedded DuckDB.

use std::path::{Path, PathBuf};
use std::process::Command;

#[cfg(feature = "duckdb")]
use dbt_runner::warehouse::DuckDbWarehouse;
use dbt_runner::warehouse::Warehouse;

/// A tool `scripts/test` installs and names in `variable`: as named, else at the
/// first of `places` that exists (a relative place under the crate's folder or one
/// above it, so the workspace's `.tools/` is found from either crate). A test that
/// needs one is `#[ignore = "needs …"]`; run, it finds the tool here or fails saying
/// how to get it. It never passes by not running.
pub fn tool(variable: &str, places: &[&str]) -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var_os(variable)
        .map(PathBuf::from)
        .into_iter()
        .chain(
            places
                .iter()
                .flat_map(|place| crate_dir.ancestors().map(move |dir| dir.join(place))),
        )
        .find(|path| path.exists())
        .unwrap_or_else(|| {
            panic!(
                "{variable} is unset and none of {places:?} exists under {} or a folder above it: \
                 run the tests through the workspace's scripts/test, which installs it",
                crate_dir.display()
            )
        })
}

/// dbt-core with dbt-duckdb.
pub fn dbt() -> PathBuf {
    tool("DBT", &[".tools/venv/bin/dbt"])
}

/// The Python beside dbt, with dbt-core's artifact classes.
pub fn tools_python() -> PathBuf {
    tool("TOOLS_PYTHON", &[".tools/venv/bin/python"])
}

/// `dbt <args>` on the project in `project`, with a profile for `database` (named
/// as the project's `profile:`, target `local`) written into `work`, its artifacts
/// and logs there, and no telemetry.
pub fn dbt_command(dbt: &Path, project: &Path, work: &Path, database: &Path, args: &[&str]) -> Command {
    let settings: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(project.join("dbt_project.yml")).unwrap()).unwrap();
    let profile = settings["profile"].as_str().unwrap_or("default");
    std::fs::write(
        work.join("profiles.yml"),
        format!(
            "{profile}:\n  target: local\n  outputs:\n    local:\n      type: duckdb\n      path: \"{}\"\n      threads: 1\n",
            database.display()
        ),
    )
    .unwrap();
    let mut command = Command::new(dbt);
    command
        .args(args)
        .arg("--project-dir")
        .arg(project)
        .arg("--profiles-dir")
        .arg(work)
        .arg("--target-path")
        .arg(work.join("target"))
        .arg("--log-path")
        .arg(work.join("logs"))
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("DO_NOT_TRACK", "1");
    command
}

/// Runs a blocking command without stalling the test's runtime.
pub async fn run(mut command: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output().expect("the command runs"))
        .await
        .unwrap()
}

/// The DuckDB file at `path`, created if absent.
#[cfg(feature = "duckdb")]
pub fn open(path: &Path) -> DuckDbWarehouse {
    DuckDbWarehouse::open(path).unwrap()
}

/// Our database, with dbt's attached read-only as `dbt`, to compare the two.
#[cfg(feature = "duckdb")]
pub async fn with_dbts_attached(ours: &Path, theirs: &Path) -> DuckDbWarehouse {
    let mut warehouse = open(ours);
    warehouse
        .execute(&format!("attach '{}' as dbt (read_only)", theirs.display()))
        .await
        .unwrap();
    warehouse
}

/// A query's rows as text, NULL for null.
pub async fn rows<W: Warehouse>(warehouse: &mut W, sql: &str) -> Vec<Vec<String>> {
    let table = warehouse.query(sql).await.unwrap();
    table
        .rows
        .into_iter()
        .map(|r| r.into_iter().map(|c| c.unwrap_or_else(|| "NULL".into())).collect())
        .collect()
}

/// Writes a project's files (path relative to `dir`, text) into `dir`.
pub fn write_project<P: AsRef<str>, T: AsRef<str>>(dir: &Path, files: &[(P, T)]) {
    for (path, text) in files {
        let path = dir.join(path.as_ref());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text.as_ref()).unwrap();
    }
}

/// `models/sources.yml` declaring the table `raw.people` as `source('raw', 'people')`.
pub const PEOPLE_SOURCE: (&str, &str) = (
    "models/sources.yml",
    "sources:\n  - name: raw\n    schema: raw\n    tables:\n      - name: people\n",
);

/// A dbt project in `dir` of snapshots of `raw.people` (id, name, updated_at): each
/// of `snapshots` is a name and its own config arguments (its key and strategy among
/// them), after the `shared` ones (e.g. its schema).
pub fn snapshot_project(dir: &Path, shared: &str, snapshots: &[(&str, &str)]) {
    let mut files = vec![
        (
            "dbt_project.yml".to_string(),
            "name: snapshots\nversion: \"1.0.0\"\nconfig-version: 2\nprofile: runner_tests\n\
             model-paths: [\"models\"]\nsnapshot-paths: [\"snapshots\"]\n"
                .to_string(),
        ),
        (PEOPLE_SOURCE.0.to_string(), PEOPLE_SOURCE.1.to_string()),
    ];
    for (name, config) in snapshots {
        files.push((
            format!("snapshots/{name}.sql"),
            format!(
                "{{% snapshot {name} %}}\n{{{{ config({shared}, {config}) }}}}\n\
                 select * from {{{{ source('raw', 'people') }}}}\n{{% endsnapshot %}}\n"
            ),
        ));
    }
    write_project(dir, &files);
}
