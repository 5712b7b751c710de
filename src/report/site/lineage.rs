//! The model lineage from a dbt manifest.json (dbt's schema, as the runner writes it:
//! `nodes`, `sources`, `parent_map`): sources, snapshots and models (tests left out),
//! each in the column of its longest path from a source, with the nodes it is built
//! from.

use std::collections::BTreeMap;

use serde_json::Value;

/// One node of the lineage.
#[derive(Debug, Clone, PartialEq)]
pub struct LineageNode {
    pub id: String,
    pub name: String,
    /// "source", "snapshot", or the model's materialization ("view", "incremental"…).
    pub kind: String,
    /// Its column: 0 for sources, then one more than its deepest parent.
    pub layer: usize,
    pub parents: Vec<String>,
}

/// The manifest's sources, snapshots and models in layers, then by name.
pub fn lineage(manifest: &Value) -> Vec<LineageNode> {
    let mut nodes: BTreeMap<String, (String, String)> = BTreeMap::new();
    if let Some(sources) = manifest["sources"].as_object() {
        for (id, source) in sources {
            let name = format!(
                "{}.{}",
                source["source_name"].as_str().unwrap_or_default(),
                source["name"].as_str().unwrap_or_default()
            );
            nodes.insert(id.clone(), (name, "source".into()));
        }
    }
    if let Some(entries) = manifest["nodes"].as_object() {
        for (id, node) in entries {
            let kind = match node["resource_type"].as_str() {
                Some("snapshot") => "snapshot".to_string(),
                Some("model") => node["config"]["materialized"].as_str().unwrap_or("model").to_string(),
                _ => continue,
            };
            nodes.insert(id.clone(), (node["name"].as_str().unwrap_or(id).to_string(), kind));
        }
    }
    let parents = |id: &str| -> Vec<String> {
        manifest["parent_map"][id]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|parent| nodes.contains_key(*parent))
            .map(str::to_string)
            .collect()
    };
    let mut layers: BTreeMap<String, usize> = BTreeMap::new();
    // Longest path from a source, by relaxing until nothing moves (a manifest is a DAG;
    // the bound stops a malformed one with a cycle).
    for _ in 0..=nodes.len() {
        let mut moved = false;
        for id in nodes.keys() {
            let layer = parents(id)
                .iter()
                .map(|p| layers.get(p).copied().unwrap_or(0) + 1)
                .max()
                .unwrap_or(0);
            if layers.get(id) != Some(&layer) {
                layers.insert(id.clone(), layer);
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    let mut lineage: Vec<LineageNode> = nodes
        .iter()
        .map(|(id, (name, kind))| LineageNode {
            id: id.clone(),
            name: name.clone(),
            kind: kind.clone(),
            layer: layers.get(id).copied().unwrap_or(0),
            parents: parents(id),
        })
        .collect();
    lineage.sort_by(|a, b| a.layer.cmp(&b.layer).then_with(|| a.name.cmp(&b.name)));
    lineage
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nodes_sit_one_column_after_their_deepest_parent_and_tests_are_left_out() {
        let manifest = json!({
            "sources": {"source.p.raw.streams": {"source_name": "raw", "name": "streams"}},
            "nodes": {
                "model.p.stg": {"resource_type": "model", "name": "stg", "config": {"materialized": "view"}},
                "model.p.fact": {"resource_type": "model", "name": "fact", "config": {"materialized": "incremental"}},
                "model.p.agg": {"resource_type": "model", "name": "agg", "config": {"materialized": "table"}},
                "test.p.unique_fact": {"resource_type": "test", "name": "unique_fact"},
            },
            "parent_map": {
                "model.p.stg": ["source.p.raw.streams"],
                "model.p.fact": ["model.p.stg"],
                "model.p.agg": ["model.p.fact", "model.p.stg"],
                "test.p.unique_fact": ["model.p.fact"],
            },
        });
        let layers: Vec<(String, usize, String)> = lineage(&manifest)
            .into_iter()
            .map(|n| (n.name, n.layer, n.kind))
            .collect();
        assert_eq!(
            layers,
            [
                ("raw.streams".to_string(), 0, "source".to_string()),
                ("stg".into(), 1, "view".into()),
                ("fact".into(), 2, "incremental".into()),
                ("agg".into(), 3, "table".into()),
            ]
        );
    }
}
