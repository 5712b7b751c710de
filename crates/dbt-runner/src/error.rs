//! Why a run could not happen at all; a failing model or test is a result
//! ([`crate::RunReport`]), not an error.

use std::path::{Path, PathBuf};

use crate::warehouse::WarehouseError;

/// Why a transform could not run at all (a failing model or test is a result, not this).
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("{}: {message}", file.display())]
    Project { file: PathBuf, message: String },
    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Template {
        file: String,
        line: Option<usize>,
        message: String,
    },
    #[error("{file}: `{node}`: {message}")]
    Config {
        file: String,
        node: String,
        message: String,
    },
    #[error("the models refer to each other in a cycle; look at: {}", .0.join(", "))]
    Cycle(Vec<String>),
    #[error("{0}")]
    Selection(String),
    #[error("cannot check the freshness of source {source_name}.{table}: {error}")]
    Freshness {
        source_name: String,
        table: String,
        error: WarehouseError,
    },
    #[error("cannot prepare the warehouse: {0}")]
    Warehouse(#[from] WarehouseError),
}

impl TransformError {
    pub(crate) fn project(file: &Path, message: impl Into<String>) -> TransformError {
        TransformError::Project {
            file: file.to_path_buf(),
            message: message.into(),
        }
    }
}
