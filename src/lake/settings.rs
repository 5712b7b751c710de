//! Where the lake is, as a setting.

use super::LakeUrl;
use crate::config::Problems;

/// Where the lake is.
#[derive(clap::Args, Clone, Debug)]
pub struct LakeArgs {
    /// Lake location: a folder, file://PATH, or az://CONTAINER[/PREFIX] (with
    /// AZURE_STORAGE_ACCOUNT_NAME; Azurite with AZURE_STORAGE_USE_EMULATOR=true).
    #[arg(long = "lake", env = "LAKE_URL", default_value = "./data/lake")]
    pub lake: String,
}

impl LakeArgs {
    pub(crate) fn check(&self, problems: &mut Problems) -> Option<LakeUrl> {
        problems.parse(&self.lake, "LAKE_URL", str::parse)
    }
}
