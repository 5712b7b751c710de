//! Reading YAML as dbt writes it: texts or lists of texts, mappings of config, and
//! the keys an entry has that a list does not know.

use std::collections::BTreeMap;

use serde_yaml_ng::Value as Yaml;

use crate::layering;

pub(crate) fn yaml_value(yaml: &Yaml) -> serde_json::Value {
    serde_json::to_value(yaml).unwrap_or(serde_json::Value::Null)
}

/// The text or list of texts under `key` of `entry` (`tags:`); none when absent.
pub(crate) fn texts_of(entry: Option<&Yaml>, key: &str) -> Result<Vec<String>, String> {
    match entry.and_then(|e| e.get(key)) {
        None => Ok(Vec::new()),
        Some(value) => layering::text_or_list(&yaml_value(value)).map_err(|e| format!("`{key}`: {e}")),
    }
}

/// A YAML mapping as config entries.
pub(crate) fn yaml_mapping(yaml: &Yaml) -> Result<BTreeMap<String, serde_json::Value>, String> {
    serde_json::to_value(yaml)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| "must be a mapping of config names to values".to_string())
}

pub(crate) fn seq<'a>(yaml: &'a Yaml, key: &str) -> impl Iterator<Item = &'a Yaml> {
    yaml.get(key).and_then(Yaml::as_sequence).into_iter().flatten()
}

pub(crate) fn str_of<'a>(yaml: &'a Yaml, key: &str) -> Option<&'a str> {
    yaml.get(key).and_then(Yaml::as_str)
}

/// The keys of the mapping `entry` that are not `known`.
pub(crate) fn unknown_keys<'y>(entry: &'y Yaml, known: &[&str]) -> Vec<&'y str> {
    entry
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(key, _)| key.as_str())
        .filter(|key| !known.contains(key))
        .collect()
}
