//! What `dbt_project.yml` and properties files may say: every key is honoured or
//! refused with the reason, and a config path that matches no node is named.

use std::collections::BTreeMap;

use serde_yaml_ng::Value as Yaml;

use super::Project;
use super::data_test::TestSettings;
use super::node::NodeKind;
use crate::yaml::{seq, str_of, unknown_keys, yaml_value};

/// `dbt_project.yml` keys the runner acts on, or that change nothing in a build.
const PROJECT_KEYS: &[&str] = &[
    "name",
    "version",
    "config-version",
    "profile",
    "model-paths",
    "snapshot-paths",
    "macro-paths",
    "test-paths",
    "vars",
    "models",
    "snapshots",
    "data_tests",
    "tests",
    // Where dbt itself keeps files, or checks its own version: nothing to build.
    "target-path",
    "log-path",
    "packages-install-path",
    "clean-targets",
    "require-dbt-version",
    "analysis-paths",
    "docs-paths",
    "asset-paths",
];

/// `dbt_project.yml` keys the runner does not apply, and why; an empty value is fine.
const PROJECT_REFUSED: &[(&str, &str)] = &[
    ("on-run-start", "run hooks are not supported; use a model's pre_hook"),
    ("on-run-end", "run hooks are not supported; use a model's post_hook"),
    ("seeds", "seeds are not supported; load the data as a source"),
    ("seed-paths", "seeds are not supported; load the data as a source"),
    ("sources", "project-level source configs are not read"),
    ("quoting", "identifiers are not quoted here"),
    ("dispatch", "macro dispatch is not supported"),
    ("query-comment", "statements go without comments"),
    ("flags", "dbt's behaviour flags do not apply"),
];

/// `data_tests:` of `dbt_project.yml` (`tests:` before dbt 1.8), with every config in
/// it one a test may set.
pub(super) fn tests_config(config: &Yaml) -> Result<Option<&Yaml>, String> {
    let tree = match (config.get("data_tests"), config.get("tests")) {
        (Some(_), Some(_)) => return Err("`data_tests` and `tests` are the same configs: keep `data_tests`".into()),
        (tree, None) | (None, tree) => tree,
    };
    // Each level's configs are read as a test would read them, so a bad one is named
    // here, not on the first test it reaches.
    fn check(level: &Yaml, at: &str) -> Result<(), String> {
        let mut configs = BTreeMap::new();
        for (key, value) in level.as_mapping().into_iter().flatten() {
            let Some(key) = key.as_str() else { continue };
            if is_config_entry(key, value) {
                configs.insert(key.to_string(), yaml_value(value));
            } else {
                check(value, &format!("{at}.{key}"))?;
            }
        }
        TestSettings::default()
            .overridden_by(&configs)
            .map(drop)
            .map_err(|e| format!("`{at}`: {e}"))
    }
    if let Some(tree) = tree {
        check(tree, "data_tests")?;
    }
    Ok(tree)
}

/// Every top-level key of `dbt_project.yml` is acted on, harmless, or refused.
pub(super) fn check_project_keys(config: &Yaml) -> Result<(), String> {
    for key in config
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.as_str())
    {
        if PROJECT_KEYS.contains(&key) {
            continue;
        }
        let value = &config[key];
        let empty = value.is_null()
            || value.as_sequence().is_some_and(|s| s.is_empty())
            || value.as_mapping().is_some_and(|m| m.is_empty());
        match PROJECT_REFUSED.iter().find(|(k, _)| *k == key) {
            Some(_) if empty => {}
            Some((_, why)) => return Err(format!("`{key}` is not supported: {why}")),
            None => {
                return Err(format!(
                    "`{key}` is not a key this runner knows; it reads {}",
                    PROJECT_KEYS.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// A properties file's keys: what the runner reads, what only documents, and what it
/// refuses (unit tests and seeds would otherwise be skipped unnoticed; versions and
/// constraints change what a model builds).
pub(super) fn check_properties_keys(yaml: &Yaml) -> Result<(), String> {
    const READ_OR_DOCUMENTING: &[&str] = &[
        "version",
        "models",
        "snapshots",
        "sources",
        "macros",
        "exposures",
        "metrics",
        "semantic_models",
        "saved_queries",
        "groups",
        "analyses",
    ];
    let non_empty = |value: &Yaml| !(value.is_null() || value.as_sequence().is_some_and(|s| s.is_empty()));
    for (key, value) in yaml.as_mapping().into_iter().flatten() {
        let Some(key) = key.as_str() else { continue };
        match key {
            "unit_tests" if non_empty(value) => {
                return Err("`unit_tests` are not supported by this runner; run them with dbt".into());
            }
            "seeds" if non_empty(value) => return Err("`seeds` are not supported; load the data as a source".into()),
            "unit_tests" | "seeds" => {}
            key if READ_OR_DOCUMENTING.contains(&key) => {}
            key => return Err(format!("`{key}` is not a properties key this runner knows")),
        }
    }
    for entry in seq(yaml, "models").chain(seq(yaml, "snapshots")) {
        let name = str_of(entry, "name").unwrap_or("?");
        for refused in ["versions", "constraints"] {
            if entry.get(refused).is_some_and(non_empty) {
                return Err(format!("`{name}`: `{refused}` is not supported by this runner"));
            }
        }
    }
    Ok(())
}

/// Keys dbt 1.10 knows on a model, a snapshot and a column of a properties file: its
/// JSON schema (`dbt/jsonschemas/resources/latest.json`, `ModelProperties`,
/// `SnapshotProperties`, `ColumnProperties`), and those it moved under `config:` but
/// still reads where they were (`meta`, `docs`, `access`, `group`, a column's `tags`).
const MODEL_PROPERTIES: &[&str] = &[
    "name",
    "description",
    "columns",
    "config",
    "constraints",
    "data_tests",
    "tests",
    "deprecation_date",
    "identifier",
    "latest_version",
    "time_spine",
    "versions",
    "meta",
    "docs",
    "access",
    "group",
];
const SNAPSHOT_PROPERTIES: &[&str] = &[
    "name",
    "description",
    "columns",
    "config",
    "data_tests",
    "tests",
    "relation",
    "meta",
    "docs",
    "group",
];
const COLUMN_PROPERTIES: &[&str] = &[
    "name",
    "description",
    "config",
    "constraints",
    "data_tests",
    "tests",
    "data_type",
    "granularity",
    "policy_tags",
    "quote",
    "meta",
    "tags",
];

/// The keys of a properties file's models, snapshots and their columns that dbt does
/// not know, each as "model `m`: `key`" (or "column `c` of model `m`: `key`").
pub(super) fn unknown_properties(yaml: &Yaml) -> Vec<String> {
    let mut found = Vec::new();
    for (list, what, known) in [
        ("models", "model", MODEL_PROPERTIES),
        ("snapshots", "snapshot", SNAPSHOT_PROPERTIES),
    ] {
        for entry in seq(yaml, list) {
            let name = str_of(entry, "name").unwrap_or("?");
            found.extend(
                unknown_keys(entry, known)
                    .into_iter()
                    .map(|key| format!("{what} `{name}`: `{key}`")),
            );
            for column in seq(entry, "columns") {
                let column_name = str_of(column, "name").unwrap_or("?");
                found.extend(
                    unknown_keys(column, COLUMN_PROPERTIES)
                        .into_iter()
                        .map(|key| format!("column `{column_name}` of {what} `{name}`: `{key}`")),
                );
            }
        }
    }
    found
}

/// Configs that take a mapping as their value: under `models:` in `dbt_project.yml`
/// they are configs even without the `+`, not folders.
const MAPPING_CONFIGS: &[&str] = &["persist_docs", "grants", "meta", "docs"];

/// The folders of `dbt_project.yml`'s `models:`, `snapshots:` and `data_tests:` trees
/// that hold a config but are no prefix of any resource's fqn, as
/// `models.proj.stagin` (dbt-core's `warn_for_unused_resource_config_paths`).
pub(super) fn unused_config_paths(config: &Yaml, tests_config: Option<&Yaml>, project: &Project) -> Vec<String> {
    fn configured(level: &Yaml, path: &mut Vec<String>, found: &mut Vec<Vec<String>>) {
        for (key, value) in level.as_mapping().into_iter().flatten() {
            let Some(key) = key.as_str() else { continue };
            if is_config_entry(key, value) {
                if !found.contains(path) {
                    found.push(path.clone());
                }
            } else {
                path.push(key.to_string());
                configured(value, path, found);
                path.pop();
            }
        }
    }
    let fqns = |kind: Option<NodeKind>| -> Vec<&[String]> {
        match kind {
            Some(kind) => project
                .nodes
                .iter()
                .filter(|n| n.kind == kind)
                .map(|n| n.fqn.as_slice())
                .collect(),
            None => project.tests.iter().map(|t| t.fqn.as_slice()).collect(),
        }
    };
    let trees = [
        ("models", config.get("models"), fqns(Some(NodeKind::Model))),
        ("snapshots", config.get("snapshots"), fqns(Some(NodeKind::Snapshot))),
        ("data_tests", tests_config, fqns(None)),
    ];
    let mut unused = Vec::new();
    for (key, tree, fqns) in trees {
        let mut paths = Vec::new();
        configured(tree.unwrap_or(&Yaml::Null), &mut Vec::new(), &mut paths);
        for path in paths {
            if !fqns.iter().any(|fqn| fqn.starts_with(&path)) {
                unused.push(
                    std::iter::once(key.to_string())
                        .chain(path)
                        .collect::<Vec<_>>()
                        .join("."),
                );
            }
        }
    }
    unused
}

/// Whether an entry of a folder config tree is a config (else a folder below).
pub(super) fn is_config_entry(key: &str, value: &Yaml) -> bool {
    key.starts_with('+') || !value.is_mapping() || MAPPING_CONFIGS.contains(&key)
}
