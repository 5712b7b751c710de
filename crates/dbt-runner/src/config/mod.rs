//! A node's config: how it is materialized, where it goes, and what runs around it.
//!
//! As in dbt, a node's config comes in layers (`layering::layered`): `dbt_project.yml`'s
//! `models:` / `snapshots:` (`+key` by folder), then the node's `config:` in a
//! properties YAML, then its own `config(...)`; a later layer overrides an earlier
//! one, except `tags` and the hooks, which add up. Every key is either honoured or
//! refused with the file, the key and what is supported: nothing is ignored silently.

use std::collections::BTreeMap;

mod kinds;

pub use self::kinds::*;

use crate::TransformError;
use crate::layering::text_or_list;
use crate::project::{Node, NodeKind};

/// Keys a model may set, all honoured.
const MODEL_KEYS: &[&str] = &[
    "materialized",
    "schema",
    "alias",
    "unique_key",
    "incremental_strategy",
    "incremental_predicates",
    "merge_update_columns",
    "merge_exclude_columns",
    "on_schema_change",
    "full_refresh",
    "enabled",
    "tags",
    "pre_hook",
    "post_hook",
    "meta",
    "docs",
];

/// Keys a snapshot may set, all honoured.
const SNAPSHOT_KEYS: &[&str] = &[
    "strategy",
    "unique_key",
    "updated_at",
    "check_cols",
    "target_schema",
    "schema",
    "alias",
    "hard_deletes",
    "invalidate_hard_deletes",
    "dbt_valid_to_current",
    "snapshot_meta_column_names",
    "enabled",
    "tags",
    "pre_hook",
    "post_hook",
    "meta",
    "docs",
];

/// dbt configs this runner does not apply, and why; an empty value is accepted
/// (it asks for nothing).
const REFUSED: &[(&str, &str)] = &[
    ("persist_docs", "the runner writes no relation or column comments"),
    (
        "grants",
        "the runner grants nothing; grant in a post_hook or outside the runner",
    ),
    ("database", "every relation goes to the target's database"),
    ("target_database", "every relation goes to the target's database"),
    ("sql_header", "the runner sends each statement alone"),
    ("contract", "model contracts are not enforced here"),
];

/// Whether a refused config's value asks for nothing (`{}`, `[]`, false, null, or a
/// mapping of only those).
fn asks_nothing(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null | serde_json::Value::Bool(false) => true,
        serde_json::Value::Array(items) => items.is_empty(),
        serde_json::Value::Object(map) => map.values().all(asks_nothing),
        _ => false,
    }
}

/// The parts of dbt's config this runner acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    pub materialized: Materialized,
    /// Custom schema, combined with the target's by `generate_schema_name`.
    pub schema: Option<String>,
    /// A snapshot's schema in dbt's older style, taken as it is: it overrides `schema`
    /// and skips `generate_schema_name` (dbt-core's
    /// `update_parsed_node_relation_names`, dbt/parser/base.py).
    pub target_schema: Option<String>,
    /// An alias for the relation name.
    pub alias: Option<String>,
    pub unique_key: Vec<String>,
    /// Extra conditions on the rows an incremental merge may replace, as in dbt's
    /// delete+insert: they let the warehouse skip most of a large table.
    pub incremental_predicates: Vec<String>,
    /// `None`: the adapter's default ([`IncrementalStrategy::default_for`]).
    pub incremental_strategy: Option<IncrementalStrategy>,
    /// Which columns a merge updates in a matched row: all of them (the default),
    /// only these (`merge_update_columns`), or all but these (`merge_exclude_columns`).
    pub merge_update: MergeUpdate,
    pub on_schema_change: OnSchemaChange,
    /// `enabled=false`: the node is not part of the project.
    pub enabled: bool,
    pub tags: Vec<String>,
    /// SQL run before and after the node is built (Jinja, rendered at run time).
    pub pre_hook: Vec<String>,
    pub post_hook: Vec<String>,
    /// `Some(false)`: never rebuilt by `--full-refresh`; `Some(true)`: always rebuilt.
    pub full_refresh: Option<bool>,
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
        let known = match node.kind {
            NodeKind::Model => MODEL_KEYS,
            NodeKind::Snapshot => SNAPSHOT_KEYS,
        };
        for (key, value) in config {
            if known.contains(&key.as_str()) {
                continue;
            }
            if let Some((_, why)) = REFUSED.iter().find(|(refused, _)| refused == key) {
                if asks_nothing(value) {
                    continue;
                }
                return Err(bad(format!("config `{key}` is not supported: {why}")));
            }
            return Err(bad(format!(
                "config `{key}` is not one this runner knows; a {} may set {}",
                match node.kind {
                    NodeKind::Model => "model",
                    NodeKind::Snapshot => "snapshot",
                },
                known.join(", ")
            )));
        }
        let flag = |key: &str| -> Result<Option<bool>, TransformError> {
            match config.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
                // YAML and Jinja users write "true"/"false" too.
                Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
                Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
                Some(other) => Err(bad(format!("`{key}` must be true or false, not {other}"))),
            }
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
                None => Ok(Vec::new()),
                Some(value) => text_or_list(value).map_err(|_| match value {
                    serde_json::Value::Array(_) => bad(format!("`{key}` must list {what}s")),
                    other => bad(format!("`{key}` must be a {what} or a list of them, not {other}")),
                }),
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
        // As dbt-adapters' `default__get_merge_update_columns` (column_helpers.sql):
        // one of the two lists, and only the merge strategy reads them.
        let merge_update = match (
            texts("merge_update_columns", "column name")?,
            texts("merge_exclude_columns", "column name")?,
        ) {
            (only, except) if !only.is_empty() && !except.is_empty() => {
                return Err(bad(
                    "set merge_update_columns or merge_exclude_columns, not both (dbt refuses both too)".into(),
                ));
            }
            (only, _) if !only.is_empty() => MergeUpdate::Only(only),
            (_, except) if !except.is_empty() => MergeUpdate::AllBut(except),
            _ => MergeUpdate::All,
        };
        if merge_update != MergeUpdate::All && incremental_strategy != Some(IncrementalStrategy::Merge) {
            return Err(bad(
                "merge_update_columns and merge_exclude_columns apply to incremental_strategy='merge' only; \
                 set that strategy or remove them"
                    .into(),
            ));
        }
        let on_schema_change = match text("on_schema_change")?.as_deref() {
            None | Some("ignore") => OnSchemaChange::Ignore,
            Some("fail") => OnSchemaChange::Fail,
            Some("append_new_columns") => OnSchemaChange::AppendNewColumns,
            Some("sync_all_columns") => OnSchemaChange::SyncAllColumns,
            Some(other) => {
                return Err(bad(format!(
                    "on_schema_change `{other}` is not one of ignore, fail, append_new_columns, sync_all_columns"
                )));
            }
        };
        // dbt 1.9+ `hard_deletes`; the older `invalidate_hard_deletes=true` is `invalidate`.
        // Both set is an error in dbt too (dbt-adapters, `get_hard_deletes_behavior`
        // in dbt/adapters/base/impl.py), whatever their values.
        let hard_deletes = match (text("hard_deletes")?.as_deref(), flag("invalidate_hard_deletes")?) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "set hard_deletes or invalidate_hard_deletes, not both (dbt refuses both too)".into(),
                ));
            }
            (None | Some("ignore"), None | Some(false)) => HardDeletes::Ignore,
            (Some("invalidate"), None) | (None, Some(true)) => HardDeletes::Invalidate,
            (Some("new_record"), None) => HardDeletes::NewRecord,
            (Some(other), None) => {
                return Err(bad(format!(
                    "hard_deletes `{other}` is not one of ignore, invalidate, new_record"
                )));
            }
        };
        let materialized = match (node.kind, text("materialized")?.as_deref()) {
            (NodeKind::Snapshot, _) => {
                let updated_at = text("updated_at")?;
                let strategy = match text("strategy")?.as_deref() {
                    Some("timestamp") if updated_at.is_none() => {
                        return Err(bad("a snapshot with strategy='timestamp' needs `updated_at`".into()));
                    }
                    Some("timestamp") => SnapshotStrategy::Timestamp,
                    // A string other than 'all' is refused: dbt would take its letters as
                    // column names (a string is iterable in `snapshot_check_all_get_existing_columns`).
                    Some("check") => {
                        let check_cols = match config.get("check_cols") {
                            Some(serde_json::Value::String(all)) if all == "all" => Some(CheckCols::All),
                            Some(serde_json::Value::Array(_)) => Some(texts("check_cols", "column name")?)
                                .filter(|columns| !columns.is_empty())
                                .map(CheckCols::Listed),
                            _ => None,
                        };
                        SnapshotStrategy::Check(check_cols.ok_or_else(|| {
                            bad(
                                "a snapshot with strategy='check' needs `check_cols`: 'all' or a list of columns"
                                    .into(),
                            )
                        })?)
                    }
                    Some(other) => {
                        return Err(bad(format!(
                            "snapshot strategy `{other}` is not one of timestamp, check"
                        )));
                    }
                    None => return Err(bad("a snapshot needs a `strategy`: timestamp or check".into())),
                };
                if unique_key.is_empty() {
                    return Err(bad("a snapshot needs a `unique_key`: a column or a list of them".into()));
                }
                Materialized::Snapshot(Box::new(SnapshotConfig {
                    unique_key: unique_key.clone(),
                    strategy,
                    updated_at,
                    hard_deletes,
                    valid_to_current: text("dbt_valid_to_current")?,
                    columns: MetaColumns::read(config.get("snapshot_meta_column_names")).map_err(bad)?,
                }))
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
        Ok(NodeConfig {
            materialized,
            schema: text("schema")?,
            target_schema: text("target_schema")?,
            alias: text("alias")?,
            unique_key,
            incremental_predicates,
            incremental_strategy,
            merge_update,
            on_schema_change,
            enabled: flag("enabled")?.unwrap_or(true),
            tags: texts("tags", "tag")?,
            pre_hook: texts("pre_hook", "SQL statement")?,
            post_hook: texts("post_hook", "SQL statement")?,
            full_refresh: flag("full_refresh")?,
        })
    }

    /// A snapshot's own config (the tests' way in; the runner matches on
    /// `materialized`).
    #[cfg(test)]
    fn snapshot(&self) -> &SnapshotConfig {
        match &self.materialized {
            Materialized::Snapshot(snapshot) => snapshot,
            _ => unreachable!("only snapshots have snapshot config"),
        }
    }

    /// The name dbt shows for the materialization.
    pub fn kind(&self) -> &'static str {
        match self.materialized {
            Materialized::View => "view",
            Materialized::Table => "table",
            Materialized::Incremental => "incremental",
            Materialized::Snapshot(_) => "snapshot",
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::layering::layered;
    use crate::project::NodeName;
    use crate::warehouse::Dialect;

    fn node(kind: NodeKind) -> Node {
        Node {
            name: NodeName("n".into()),
            kind,
            path: "models/n.sql".into(),
            sql: String::new(),
            fqn: vec!["p".into(), "n".into()],
            yaml_config: BTreeMap::new(),
            patch_path: None,
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
    fn snapshots_need_a_strategy_a_key_and_what_the_strategy_compares() {
        let snap = node(NodeKind::Snapshot);
        let read = |pairs: &[(&str, serde_json::Value)]| {
            let mut all = vec![("unique_key", json!("id"))];
            all.extend_from_slice(pairs);
            NodeConfig::from_rendered(&snap, &config(&all)).map(|c| c.snapshot().clone())
        };
        assert_eq!(
            read(&[("strategy", json!("timestamp")), ("updated_at", json!("t"))]).unwrap(),
            SnapshotConfig {
                unique_key: vec!["id".into()],
                strategy: SnapshotStrategy::Timestamp,
                updated_at: Some("t".into()),
                hard_deletes: HardDeletes::Ignore,
                valid_to_current: None,
                columns: MetaColumns::default(),
            }
        );
        assert_eq!(
            read(&[("strategy", json!("check")), ("check_cols", json!("all"))])
                .unwrap()
                .strategy,
            SnapshotStrategy::Check(CheckCols::All)
        );
        let listed = read(&[
            ("strategy", json!("check")),
            ("check_cols", json!(["a", "b"])),
            ("updated_at", json!("t")),
        ])
        .unwrap();
        assert_eq!(
            (listed.strategy, listed.updated_at.as_deref()),
            (
                SnapshotStrategy::Check(CheckCols::Listed(vec!["a".into(), "b".into()])),
                Some("t")
            )
        );
        for (pairs, says) in [
            (vec![("strategy", json!("timestamp"))], "needs `updated_at`"),
            (vec![("strategy", json!("check"))], "needs `check_cols`"),
            (
                vec![("strategy", json!("check")), ("check_cols", json!([]))],
                "needs `check_cols`",
            ),
            (
                vec![("strategy", json!("check")), ("check_cols", json!("some"))],
                "needs `check_cols`",
            ),
            (
                vec![("strategy", json!("hashed"))],
                "`hashed` is not one of timestamp, check",
            ),
            (vec![], "needs a `strategy`"),
        ] {
            let error = read(&pairs).unwrap_err().to_string();
            assert!(
                error.contains("models/n.sql") && error.contains(says),
                "{pairs:?}: {error}"
            );
        }
        let keys = NodeConfig::from_rendered(
            &snap,
            &config(&[
                ("unique_key", json!(["a", "b"])),
                ("strategy", json!("check")),
                ("check_cols", json!("all")),
            ]),
        )
        .unwrap();
        assert_eq!(keys.snapshot().unique_key, ["a", "b"]);
        let keyless = NodeConfig::from_rendered(
            &snap,
            &config(&[("strategy", json!("timestamp")), ("updated_at", json!("t"))]),
        )
        .unwrap_err()
        .to_string();
        assert!(keyless.contains("needs a `unique_key`"), "{keyless}");
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
            IncrementalStrategy::default_for(Dialect::DuckDb),
            IncrementalStrategy::DeleteInsert
        );
        assert_eq!(
            IncrementalStrategy::default_for(Dialect::Snowflake),
            IncrementalStrategy::Merge
        );
    }

    #[test]
    fn merge_update_columns_and_merge_exclude_columns_are_dbts() {
        let model = node(NodeKind::Model);
        let parse = |pairs: &[(&str, serde_json::Value)]| NodeConfig::from_rendered(&model, &config(pairs));
        let merge = ("incremental_strategy", json!("merge"));
        let only = parse(&[merge.clone(), ("merge_update_columns", json!(["B"]))]).unwrap();
        let but = parse(&[merge.clone(), ("merge_exclude_columns", json!("b"))]).unwrap();
        let columns: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        // Named case-insensitively, as dbt compares them.
        assert_eq!(only.merge_update.columns(&columns).unwrap(), [&columns[1]]);
        assert_eq!(but.merge_update.columns(&columns).unwrap(), [&columns[0], &columns[2]]);
        assert_eq!(MergeUpdate::All.columns(&columns).unwrap().len(), 3);
        let missing = MergeUpdate::Only(vec!["d".into()]).columns(&columns).unwrap_err();
        assert!(missing.contains("`d`") && missing.contains("a, b, c"), "{missing}");
        let none_left = MergeUpdate::AllBut(columns.clone()).columns(&columns).unwrap_err();
        assert!(none_left.contains("no column to update"), "{none_left}");
        let both = parse(&[
            merge.clone(),
            ("merge_update_columns", json!(["a"])),
            ("merge_exclude_columns", json!(["b"])),
        ])
        .unwrap_err()
        .to_string();
        assert!(both.contains("not both") && both.contains("models/n.sql"), "{both}");
        let other = parse(&[
            ("incremental_strategy", json!("delete+insert")),
            ("merge_update_columns", json!(["a"])),
        ])
        .unwrap_err()
        .to_string();
        assert!(other.contains("incremental_strategy='merge' only"), "{other}");
    }

    #[test]
    fn every_key_is_honoured_or_refused_with_the_file_and_what_is_supported() {
        let model = node(NodeKind::Model);
        let refused = |pairs: &[(&str, serde_json::Value)]| {
            NodeConfig::from_rendered(&model, &config(pairs))
                .unwrap_err()
                .to_string()
        };
        let unknown = refused(&[("materialised", json!("table"))]);
        assert!(
            unknown.contains("models/n.sql")
                && unknown.contains("`materialised` is not one this runner knows")
                && unknown.contains("materialized, schema"),
            "{unknown}"
        );
        let docs = refused(&[("persist_docs", json!({"relation": true}))]);
        assert!(
            docs.contains("`persist_docs` is not supported: the runner writes no"),
            "{docs}"
        );
        assert!(refused(&[("grants", json!({"select": ["reporter"]}))]).contains("grants nothing"));
        // Asking for nothing is fine.
        assert!(
            NodeConfig::from_rendered(
                &model,
                &config(&[("grants", json!({})), ("persist_docs", json!({"relation": false}))])
            )
            .is_ok()
        );
        let snapshot = node(NodeKind::Snapshot);
        let base = [
            ("strategy", json!("timestamp")),
            ("unique_key", json!("id")),
            ("updated_at", json!("t")),
        ];
        let with = |extra: (&str, serde_json::Value)| {
            let mut pairs = base.to_vec();
            pairs.push(extra);
            NodeConfig::from_rendered(&snapshot, &config(&pairs))
        };
        let hard_deletes = |extra: &[(&str, serde_json::Value)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            NodeConfig::from_rendered(&snapshot, &config(&pairs)).map(|c| c.snapshot().hard_deletes)
        };
        for (extra, read) in [
            (vec![("hard_deletes", json!("ignore"))], HardDeletes::Ignore),
            (vec![("invalidate_hard_deletes", json!(false))], HardDeletes::Ignore),
            (vec![("hard_deletes", json!("invalidate"))], HardDeletes::Invalidate),
            (vec![("invalidate_hard_deletes", json!(true))], HardDeletes::Invalidate),
            (vec![("hard_deletes", json!("new_record"))], HardDeletes::NewRecord),
        ] {
            assert_eq!(hard_deletes(&extra).unwrap(), read, "{extra:?}");
        }
        let both = hard_deletes(&[
            ("hard_deletes", json!("new_record")),
            ("invalidate_hard_deletes", json!(false)),
        ])
        .unwrap_err()
        .to_string();
        assert!(both.contains("not both"), "{both}");
        let unknown = hard_deletes(&[("hard_deletes", json!("purge"))])
            .unwrap_err()
            .to_string();
        assert!(
            unknown.contains("models/n.sql")
                && unknown.contains("`purge` is not one of ignore, invalidate, new_record"),
            "{unknown}"
        );
        let renamed = with((
            "snapshot_meta_column_names",
            json!({"dbt_valid_to": "valid_to", "dbt_scd_id": "version_id"}),
        ))
        .unwrap();
        assert_eq!(
            renamed.snapshot().columns,
            MetaColumns {
                valid_to: "valid_to".into(),
                scd_id: "version_id".into(),
                ..MetaColumns::default()
            }
        );
        for (names, says) in [
            (json!({"dbt_valid_until": "x"}), "names `dbt_valid_until`, not one of"),
            (json!({"dbt_valid_to": 3}), "must be a column name"),
            (json!(["valid_to"]), "must map dbt's column names"),
        ] {
            let error = with(("snapshot_meta_column_names", names)).unwrap_err().to_string();
            assert!(error.contains("models/n.sql") && error.contains(says), "{error}");
        }
        let current = with(("dbt_valid_to_current", json!("'9999-12-31'::timestamp"))).unwrap();
        assert_eq!(
            current.snapshot().valid_to_current.as_deref(),
            Some("'9999-12-31'::timestamp")
        );
        assert!(
            with(("materialized", json!("table")))
                .unwrap_err()
                .to_string()
                .contains("a snapshot may set")
        );

        let full = NodeConfig::from_rendered(
            &model,
            &config(&[
                ("enabled", json!("false")),
                ("tags", json!("daily")),
                ("pre_hook", json!(["a", "b"])),
                ("full_refresh", json!(false)),
                ("on_schema_change", json!("append_new_columns")),
            ]),
        )
        .unwrap();
        assert_eq!(
            (
                full.enabled,
                full.tags,
                full.pre_hook,
                full.full_refresh,
                full.on_schema_change
            ),
            (
                false,
                vec!["daily".to_string()],
                vec!["a".to_string(), "b".to_string()],
                Some(false),
                OnSchemaChange::AppendNewColumns
            )
        );
    }

    #[test]
    fn layers_override_except_tags_and_hooks_which_add_up() {
        let project = config(&[
            ("+materialized", json!("table")),
            ("+tags", json!(["a"])),
            ("pre-hook", json!("p1")),
        ]);
        let yaml = config(&[("materialized", json!("view")), ("tags", json!("b"))]);
        let file = config(&[("tags", json!(["a", "c"])), ("pre_hook", json!("p2"))]);
        let merged = layered([&project, &yaml, &file]);
        assert_eq!(merged["materialized"], json!("view"));
        assert_eq!(merged["tags"], json!(["a", "b", "c"]));
        assert_eq!(merged["pre_hook"], json!(["p1", "p2"]));
    }
}
