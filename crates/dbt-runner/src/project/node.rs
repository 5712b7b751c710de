//! What a project is made of: its models and snapshots ([`Node`]) and the source
//! tables they read.

use std::collections::BTreeMap;
use std::fmt;

/// A model or snapshot name, as `ref()` uses it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeName(pub String);

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a SQL file builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Model,
    /// An SCD2 history (`{% snapshot %}` block).
    Snapshot,
}

/// One model or snapshot: its name, file and Jinja SQL.
#[derive(Clone, Debug)]
pub struct Node {
    pub name: NodeName,
    pub kind: NodeKind,
    /// Path relative to the project root, for messages.
    pub path: String,
    /// The template; for a snapshot, the body of its block (line numbers kept).
    pub sql: String,
    /// dbt's fully qualified name: the project, the folders under the model path,
    /// the node's name.
    pub fqn: Vec<String>,
    /// Its config from YAML, before its own `config(...)`: `dbt_project.yml`'s
    /// folder configs, then its properties file's `config:`.
    pub yaml_config: BTreeMap<String, serde_json::Value>,
    /// The properties file describing it, if one does (dbt's `patch_path`, which
    /// `path:` selects by too).
    pub patch_path: Option<String>,
}

/// A source table declared in YAML: `source('shop', 'raw_orders')`.
#[derive(Clone, Debug)]
pub struct SourceTable {
    pub source: String,
    pub name: String,
    pub schema: String,
    pub identifier: String,
    pub loaded_at_field: Option<String>,
    pub freshness: Freshness,
    /// The properties file declaring it, relative to the project root.
    pub path: String,
    /// dbt's fqn: the project, the folders of its properties file under the model
    /// path, the source's name and the table's.
    pub fqn: Vec<String>,
    /// The source's tags and the table's (`tags:` or `config: {tags:}`), which its
    /// tests also carry.
    pub tags: Vec<String>,
}

/// Source freshness thresholds in seconds, and dbt's optional `filter`: a condition
/// on the rows the check reads (it keeps the check cheap on a growing table).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Freshness {
    pub warn_after: Option<u64>,
    pub error_after: Option<u64>,
    pub filter: Option<String>,
}
