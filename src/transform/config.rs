//! A node's `config(...)`: how it is materialized and where it goes.

use std::collections::BTreeMap;

use super::TransformError;
use super::project::{Node, NodeKind};

/// How a node becomes a relation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Materialized {
    View,
    Table,
    /// Merged on `unique_key` (or appended) after the first build.
    Incremental,
    /// SCD2 history with the timestamp strategy.
    Snapshot {
        unique_key: String,
        updated_at: String,
    },
}

/// How an incremental run writes its new rows (dbt's `incremental_strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncrementalStrategy {
    /// Delete the target's rows whose `unique_key` is among the new rows (and that
    /// match the `incremental_predicates`), then insert the new rows.
    DeleteInsert,
    /// Insert the new rows; `unique_key` is not used.
    Append,
    /// `merge into` on `unique_key` (and the predicates): matched rows are updated,
    /// the others inserted.
    Merge,
}

impl IncrementalStrategy {
    /// The adapter's default when a model names none: dbt-duckdb's is delete+insert
    /// (`duckdb__get_incremental_default_sql`), dbt-snowflake's merge.
    pub fn default_for(target_type: &str) -> IncrementalStrategy {
        if target_type == "snowflake" {
            IncrementalStrategy::Merge
        } else {
            IncrementalStrategy::DeleteInsert
        }
    }
}

/// The parts of dbt's config this runner acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    pub materialized: Materialized,
    /// Custom schema, combined with the target's by `generate_schema_name`.
    pub schema: Option<String>,
    /// An alias for the relation name.
    pub alias: Option<String>,
    pub unique_key: Vec<String>,
    /// Extra conditions on the rows an incremental merge may replace, as in dbt's
    /// delete+insert: they let the warehouse skip most of a large table.
    pub incremental_predicates: Vec<String>,
    /// `None`: the adapter's default ([`IncrementalStrategy::default_for`]).
    pub incremental_strategy: Option<IncrementalStrategy>,
}

impl NodeConfig {
    /// Reads the config a node's parse pass recorded.
    pub fn from_rendered(
        node: &Node,
        config: &BTreeMap<String, serde_json::Value>,
    ) -> Result<NodeConfig, TransformError> {
        let bad = |message: String| TransformError::Config {
            file: node.path.clone(),
            node: node.name.0.clone(),
            message,
        };
        let text = |key: &str| -> Result<Option<String>, TransformError> {
            match config.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(bad(format!("`{key}` must be a string, not {other}"))),
            }
        };
        // A string or a list of strings.
        let texts = |key: &str, what: &str| -> Result<Vec<String>, TransformError> {
            match config.get(key) {
                None | Some(serde_json::Value::Null) => Ok(Vec::new()),
                Some(serde_json::Value::String(s)) => Ok(vec![s.clone()]),
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| bad(format!("`{key}` must list {what}s")))
                    })
                    .collect(),
                Some(other) => Err(bad(format!("`{key}` must be a {what} or a list of them, not {other}"))),
            }
        };
        let unique_key = texts("unique_key", "column name")?;
        let incremental_predicates = texts("incremental_predicates", "SQL condition")?;
        let incremental_strategy = match text("incremental_strategy")?.as_deref() {
            None => None,
            Some("delete+insert") => Some(IncrementalStrategy::DeleteInsert),
            Some("append") => Some(IncrementalStrategy::Append),
            Some("merge") => Some(IncrementalStrategy::Merge),
            Some(other) => {
                return Err(bad(format!(
                    "incremental_strategy `{other}` is not supported here; use delete+insert, append or merge"
                )));
            }
        };
        let materialized = match (node.kind, text("materialized")?.as_deref()) {
            (NodeKind::Snapshot, _) => {
                match text("strategy")?.as_deref() {
                    Some("timestamp") => {}
                    Some(other) => {
                        return Err(bad(format!(
                            "snapshot strategy `{other}` is not supported here; use `timestamp`"
                        )));
                    }
                    None => return Err(bad("a snapshot needs `strategy='timestamp'`".into())),
                }
                let [key] = unique_key.as_slice() else {
                    return Err(bad("a snapshot needs one `unique_key` column".into()));
                };
                let updated_at = text("updated_at")?.ok_or_else(|| bad("a snapshot needs `updated_at`".into()))?;
                Materialized::Snapshot {
                    unique_key: key.clone(),
                    updated_at,
                }
            }
            (NodeKind::Model, None | Some("view")) => Materialized::View,
            (NodeKind::Model, Some("table")) => Materialized::Table,
            (NodeKind::Model, Some("incremental")) => Materialized::Incremental,
            (NodeKind::Model, Some(other)) => {
                return Err(bad(format!(
                    "materialized `{other}` is not one of view, table, incremental"
                )));
            }
        };
        // Snapshots name their schema `target_schema` in dbt's older block style.
        let schema = match text("schema")? {
            Some(schema) => Some(schema),
            None => text("target_schema")?,
        };
        Ok(NodeConfig {
            materialized,
            schema,
            alias: text("alias")?,
            unique_key,
            incremental_predicates,
            incremental_strategy,
        })
    }

    /// A snapshot's key and version-time columns.
    pub fn snapshot_keys(&self) -> (&str, &str) {
        match &self.materialized {
            Materialized::Snapshot { unique_key, updated_at } => (unique_key, updated_at),
            _ => unreachable!("only snapshots have snapshot keys"),
        }
    }

    /// The name dbt shows for the materialization.
    pub fn kind(&self) -> &'static str {
        match self.materialized {
            Materialized::View => "view",
            Materialized::Table => "table",
            Materialized::Incremental => "incremental",
            Materialized::Snapshot { .. } => "snapshot",
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::transform::project::NodeName;

    fn node(kind: NodeKind) -> Node {
        Node {
            name: NodeName("n".into()),
            kind,
            path: "models/n.sql".into(),
            sql: String::new(),
        }
    }

    fn config(pairs: &[(&str, serde_json::Value)]) -> BTreeMap<String, serde_json::Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn models_default_to_views_and_read_keys() {
        assert_eq!(
            NodeConfig::from_rendered(&node(NodeKind::Model), &config(&[]))
                .unwrap()
                .materialized,
            Materialized::View
        );
        let c = NodeConfig::from_rendered(
            &node(NodeKind::Model),
            &config(&[
                ("materialized", json!("incremental")),
                ("unique_key", json!(["a", "b"])),
                ("schema", json!("marts")),
            ]),
        )
        .unwrap();
        assert_eq!(
            (c.materialized, c.unique_key, c.schema.as_deref()),
            (Materialized::Incremental, vec!["a".into(), "b".into()], Some("marts"))
        );
    }

    #[test]
    fn snapshots_need_the_timestamp_strategy_a_key_and_updated_at() {
        let snap = node(NodeKind::Snapshot);
        let ok = config(&[
            ("strategy", json!("timestamp")),
            ("unique_key", json!("id")),
            ("updated_at", json!("t")),
        ]);
        assert_eq!(
            NodeConfig::from_rendered(&snap, &ok).unwrap().snapshot_keys(),
            ("id", "t")
        );
        let check = config(&[("strategy", json!("check")), ("unique_key", json!("id"))]);
        let error = NodeConfig::from_rendered(&snap, &check).unwrap_err().to_string();
        assert!(error.contains("models/n.sql") && error.contains("`check`"), "{error}");
        assert!(
            NodeConfig::from_rendered(&node(NodeKind::Model), &config(&[("materialized", json!("ephemeral"))]))
                .is_err()
        );
    }

    #[test]
    fn incremental_strategies_are_dbts_three_or_refused() {
        let model = node(NodeKind::Model);
        let strategy = |value: &str| {
            NodeConfig::from_rendered(
                &model,
                &config(&[
                    ("materialized", json!("incremental")),
                    ("incremental_strategy", json!(value)),
                ]),
            )
        };
        assert_eq!(
            strategy("delete+insert").unwrap().incremental_strategy,
            Some(IncrementalStrategy::DeleteInsert)
        );
        assert_eq!(
            strategy("append").unwrap().incremental_strategy,
            Some(IncrementalStrategy::Append)
        );
        assert_eq!(
            strategy("merge").unwrap().incremental_strategy,
            Some(IncrementalStrategy::Merge)
        );
        let refused = strategy("insert_overwrite").unwrap_err().to_string();
        assert!(
            refused.contains("models/n.sql") && refused.contains("delete+insert, append or merge"),
            "{refused}"
        );
        assert_eq!(
            IncrementalStrategy::default_for("duckdb"),
            IncrementalStrategy::DeleteInsert
        );
        assert_eq!(
            IncrementalStrategy::default_for("snowflake"),
            IncrementalStrategy::Merge
        );
    }
}
