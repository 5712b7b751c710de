//! `dbt build` with dbt-duckdb on a DuckDB file, as the cross-check and the bench run it.

use std::path::Path;
use std::process::Command;

/// Writes a dbt profile for `database` into `work` and returns `dbt build` of the
/// repository's project, with its artifacts and logs in `work` and no telemetry.
pub fn build_command(dbt: &Path, work: &Path, database: &Path) -> Command {
    command(dbt, Path::new(env!("CARGO_MANIFEST_DIR")), work, database, &["build"])
}

/// `dbt <args>` on the project in `project` (profile `twitch_pipeline`), with a
/// profile for `database` written into `work`, its artifacts and logs there.
pub fn command(dbt: &Path, project: &Path, work: &Path, database: &Path, args: &[&str]) -> Command {
    std::fs::write(
        work.join("profiles.yml"),
        format!(
            "twitch_pipeline:\n  target: local\n  outputs:\n    local:\n      type: duckdb\n      path: \"{}\"\n      threads: 1\n",
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
