//! How dbt layers config: `dbt_project.yml` by folder, then a properties file's
//! `config:`, then the node's own `config(...)`; a later layer overrides an earlier
//! one, except the keys that add up. Also what the project's YAML and the
//! config read from it share: hyphenated keys, and texts or lists of texts.

use std::collections::BTreeMap;

/// A config that takes one text or a list of them (`tags`, `unique_key`, hooks); null
/// is none.
pub fn text_or_list(value: &serde_json::Value) -> Result<Vec<String>, String> {
    match value {
        serde_json::Value::Null => Ok(Vec::new()),
        serde_json::Value::String(s) => Ok(vec![s.clone()]),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(|| format!("{i} is not text")))
            .collect(),
        other => Err(format!("{other} is not text or a list of texts")),
    }
}

/// The keys dbt users write with hyphens in YAML (`pre-hook`) are the same configs.
pub fn normalized(key: &str) -> String {
    key.trim_start_matches('+').replace('-', "_")
}

/// Configs that add up across layers instead of being overridden.
fn is_additive(key: &str) -> bool {
    matches!(key, "tags" | "pre_hook" | "post_hook")
}

/// `layers` from the least to the most specific, combined as dbt combines them.
pub fn layered<'a>(
    layers: impl IntoIterator<Item = &'a BTreeMap<String, serde_json::Value>>,
) -> BTreeMap<String, serde_json::Value> {
    let mut merged: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for layer in layers {
        for (key, value) in layer {
            let key = normalized(key);
            let value = match (is_additive(&key), merged.remove(&key)) {
                (true, Some(earlier)) => {
                    let mut items = as_list(earlier);
                    for item in as_list(value.clone()) {
                        if !items.contains(&item) {
                            items.push(item);
                        }
                    }
                    serde_json::Value::Array(items)
                }
                _ => value.clone(),
            };
            merged.insert(key, value);
        }
    }
    merged
}

fn as_list(value: serde_json::Value) -> Vec<serde_json::Value> {
    match value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Null => Vec::new(),
        other => vec![other],
    }
}
