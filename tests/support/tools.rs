//! The tools the tool-bound tests need, found in one place.
//!
//! `scripts/test` installs each (into `.tools/`, or Chromium from Debian) and names it
//! in the environment. A test that needs one is `#[ignore = "needs …"]`, so plain
//! `cargo test` lists it as ignored; run, it finds its tool here or fails saying how
//! to get it. It never passes by not running.

use std::path::PathBuf;

/// A tool an integration test needs.
#[derive(Clone, Copy, Debug)]
pub enum Tool {
    /// Azurite's Blob service (npm), for the lake on Azure Blob Storage.
    Azurite,
    /// dbt-core with dbt-duckdb (PyPI), for the cross-check.
    Dbt,
    /// The Python beside dbt, with dbt-core's artifact classes and schemastore.
    ToolsPython,
    /// The Python of fakesnow's own environment, for the Snowflake SQL tests.
    FakesnowPython,
    /// Chromium (Debian), for the report page.
    Chromium,
}

impl Tool {
    /// The variable `scripts/test` sets, and where it installs the tool.
    fn installed(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Tool::Azurite => ("AZURITE_BLOB", &[".tools/node/node_modules/.bin/azurite-blob"]),
            Tool::Dbt => ("DBT", &[".tools/venv/bin/dbt"]),
            Tool::ToolsPython => ("TOOLS_PYTHON", &[".tools/venv/bin/python"]),
            Tool::FakesnowPython => ("FAKESNOW_PYTHON", &[".tools/fakesnow/bin/python"]),
            Tool::Chromium => ("CHROMIUM", &["/usr/bin/chromium", "/usr/bin/chromium-browser"]),
        }
    }

    /// The tool's executable: as named in the environment, else where `scripts/test`
    /// installs it. Panics, saying how to get it, when it is in neither place.
    pub fn path(self) -> PathBuf {
        let (variable, places) = self.installed();
        super::runner::tool(variable, places)
    }
}
