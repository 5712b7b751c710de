//! `dbt build` with dbt-duckdb on a DuckDB file, as the cross-check and the bench run it.

use std::path::Path;
use std::process::Command;

/// Writes a dbt profile for `database` into `work` and returns `dbt build` of the
/// repository's project, with its artifacts and logs in `work` and no telemetry.
pub fn build_command(dbt: &str, work: &Path, database: &Path) -> Command {
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
        .args(["build", "--project-dir", env!("CARGO_MANIFEST_DIR"), "--profiles-dir"])
        .arg(work)
        .arg("--target-path")
        .arg(work.join("target"))
        .arg("--log-path")
        .arg(work.join("logs"))
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("DO_NOT_TRACK", "1");
    command
}
