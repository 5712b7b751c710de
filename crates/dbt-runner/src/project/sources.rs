//! A properties file's `sources:` as dbt 1.10 reads them (dbt-core's
//! `SourcePatcher`, `parser/sources.py`): each table's schema and identifier, its
//! `loaded_at_field` and `freshness` resolved from the source down to the table, the
//! config level over the top level, and its tags. A key that would change what dbt
//! reads, and this runner cannot honour, is refused by name.

use serde_yaml_ng::Value as Yaml;

use super::node::{Freshness, SourceTable};
use crate::yaml::{str_of, texts_of, unknown_keys};

/// Keys of a source entry, and of a table entry (dbt-core's
/// `UnparsedSourceDefinition` and `UnparsedSourceTableDefinition`; dbt rejects others).
const SOURCE_KEYS: &[&str] = &[
    "name",
    "description",
    "meta",
    "database",
    "schema",
    "loader",
    "quoting",
    "freshness",
    "loaded_at_field",
    "loaded_at_query",
    "tables",
    "tags",
    "config",
];
const TABLE_KEYS: &[&str] = &[
    "name",
    "description",
    "meta",
    "data_type",
    "docs",
    "constraints",
    "identifier",
    "quoting",
    "freshness",
    "loaded_at_field",
    "loaded_at_query",
    "external",
    "columns",
    "data_tests",
    "tests",
    "tags",
    "config",
];

/// One table of a source, with its entry (for its tests) and the tags its tests
/// inherit: the source's and the table's plain `tags:`.
pub struct ReadTable<'y> {
    pub table: SourceTable,
    pub entry: &'y Yaml,
    pub tests_tags: Vec<String>,
}

/// The enabled tables of the source entry `source`, declared in the properties file
/// `path`, whose tests' fqn starts with `prefix`.
pub fn read<'y>(source: &'y Yaml, path: &str, prefix: &[String]) -> Result<Vec<ReadTable<'y>>, String> {
    let source_name = str_of(source, "name").ok_or("a source has no `name`")?;
    let at_source = |e: String| format!("source `{source_name}`: {e}");
    check_entry(source, SOURCE_KEYS).map_err(at_source)?;
    let schema = str_of(source, "schema").unwrap_or(source_name);
    let source_config = source.get("config");
    let source_tags = texts_of(Some(source), "tags").map_err(at_source)?;
    let source_config_tags = texts_of(source_config, "tags").map_err(at_source)?;
    let mut tables = Vec::new();
    for table in source.get("tables").and_then(Yaml::as_sequence).into_iter().flatten() {
        let name = str_of(table, "name").ok_or_else(|| at_source("a table has no `name`".into()))?;
        let at = |e: String| format!("source `{source_name}`, table `{name}`: {e}");
        check_entry(table, TABLE_KEYS).map_err(at)?;
        let table_config = table.get("config");
        let enabled = [source_config, table_config]
            .into_iter()
            .flatten()
            .filter_map(|config| config.get("enabled"))
            .map(|value| value.as_bool().ok_or("`enabled` must be true or false"))
            .collect::<Result<Vec<bool>, _>>()
            .map_err(|e| at(e.into()))?;
        // dbt leaves a disabled source out: `source()` of it fails, its tests go.
        if enabled.last() == Some(&false) {
            continue;
        }
        // The table's `loaded_at_field`, when it names one (even null, for none),
        // else the source's; the config level over the top level.
        let table_field = field_setting(table, "loaded_at_field").map_err(at)?;
        let loaded_at_field = match table_field {
            Some(field) => field,
            None => field_setting(source, "loaded_at_field").map_err(at)?.flatten(),
        };
        // Source, source config, table, table config: each merged over the one before.
        let mut merged = Some(Freshness::default());
        for level in [
            source.get("freshness"),
            source_config.and_then(|c| c.get("freshness")),
            table.get("freshness"),
            table_config.and_then(|c| c.get("freshness")),
        ] {
            merged = merge(merged, level).map_err(at)?;
        }
        let tags_of_table = texts_of(Some(table), "tags").map_err(at)?;
        let table_config_tags = texts_of(table_config, "tags").map_err(at)?;
        let tests_tags: Vec<String> = source_tags.iter().chain(&tags_of_table).cloned().collect();
        let mut tags: Vec<String> = tests_tags
            .iter()
            .chain(&source_config_tags)
            .chain(&table_config_tags)
            .cloned()
            .collect();
        tags.sort();
        tags.dedup();
        tables.push(ReadTable {
            table: SourceTable {
                source: source_name.to_string(),
                name: name.to_string(),
                schema: schema.to_string(),
                identifier: str_of(table, "identifier").unwrap_or(name).to_string(),
                loaded_at_field,
                freshness: merged.unwrap_or_default(),
                path: path.to_string(),
                fqn: prefix
                    .iter()
                    .cloned()
                    .chain([source_name.to_string(), name.to_string()])
                    .collect(),
                tags,
            },
            entry: table,
            tests_tags,
        });
    }
    Ok(tables)
}

/// Refuses a key dbt would reject, and those changing what dbt reads that this
/// runner does not honour: another database, quoted names, a freshness query.
fn check_entry(entry: &Yaml, known: &[&str]) -> Result<(), String> {
    if let Some(key) = unknown_keys(entry, known).first() {
        return Err(format!(
            "`{key}` is not a source property dbt knows; it takes {}",
            known.join(", ")
        ));
    }
    for (key, value) in entry.as_mapping().into_iter().flatten() {
        let Some(key) = key.as_str() else { continue };
        let set = !value.is_null();
        match key {
            "database" if set => {
                return Err("`database` is not supported: sources are read from the target's database".into());
            }
            "quoting"
                if value
                    .as_mapping()
                    .into_iter()
                    .flatten()
                    .any(|(_, v)| v.as_bool() == Some(true)) =>
            {
                return Err("`quoting` is not supported: names are used as written, unquoted".into());
            }
            "loaded_at_query" if set => return Err(LOADED_AT_QUERY.into()),
            _ => {}
        }
    }
    if entry
        .get("config")
        .and_then(|c| c.get("loaded_at_query"))
        .is_some_and(|v| !v.is_null())
    {
        return Err(LOADED_AT_QUERY.into());
    }
    Ok(())
}

const LOADED_AT_QUERY: &str = "`loaded_at_query` is not supported: name the column in `loaded_at_field`";

/// `key` set on `entry` at its top level or in its `config:` (the top level first,
/// as dbt-core reads it): `None` when neither names it, `Some(None)` for a null at
/// the top level.
fn field_setting(entry: &Yaml, key: &str) -> Result<Option<Option<String>>, String> {
    let top = entry.get(key);
    let config = entry.get("config").and_then(|c| c.get(key));
    // A null at the top level says "none"; a null in `config:` says nothing.
    let value = match (top, config) {
        (Some(top), _) if !top.is_null() => top,
        (_, Some(config)) if !config.is_null() => config,
        (Some(_), _) => return Ok(Some(None)),
        _ => return Ok(None),
    };
    value
        .as_str()
        .map(|s| Some(Some(s.to_string())))
        .ok_or_else(|| format!("`{key}` must be a column name"))
}

/// dbt-core's `merge_source_freshness` of one level over what the levels before it
/// gave: absent keeps it; null clears it; thresholds replace it threshold by threshold
/// (a threshold left out keeps the one before, one set to null clears it), and a
/// filter replaces the filter.
fn merge(base: Option<Freshness>, level: Option<&Yaml>) -> Result<Option<Freshness>, String> {
    let Some(level) = level else { return Ok(base) };
    if level.is_null() {
        return Ok(None);
    }
    let warn = threshold(level, "warn_after")?;
    let error = threshold(level, "error_after")?;
    let filter = str_of(level, "filter").map(str::to_string);
    let over = |before: Option<u64>, this: Option<Option<u64>>| match this {
        Some(this) => this,
        None => before,
    };
    Ok(match base {
        Some(base) => Some(Freshness {
            warn_after: over(base.warn_after, warn),
            error_after: over(base.error_after, error),
            filter: filter.or(base.filter),
        }),
        // After a null, only thresholds that check something count (dbt's `bool`).
        None if warn.flatten().is_some() || error.flatten().is_some() => Some(Freshness {
            warn_after: warn.flatten(),
            error_after: error.flatten(),
            filter,
        }),
        None => None,
    })
}

/// A `warn_after` / `error_after` in seconds: `None` when left out, `Some(None)` when
/// set to null.
fn threshold(level: &Yaml, key: &str) -> Result<Option<Option<u64>>, String> {
    let Some(rule) = level.get(key) else { return Ok(None) };
    if rule.is_null() {
        return Ok(Some(None));
    }
    let count = rule
        .get("count")
        .and_then(Yaml::as_u64)
        .ok_or(format!("freshness `{key}` needs a whole `count`"))?;
    let unit = match str_of(rule, "period") {
        Some("minute") => 60,
        Some("hour") => 3_600,
        Some("day") => 86_400,
        other => return Err(format!("freshness `{key}` period {other:?} is not minute, hour or day")),
    };
    Ok(Some(Some(count * unit)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(yaml: &str) -> Result<Vec<SourceTable>, String> {
        let yaml: Yaml = serde_yaml_ng::from_str(yaml).unwrap();
        Ok(read(&yaml, "models/sources.yml", &["p".to_string()])?
            .into_iter()
            .map(|t| t.table)
            .collect())
    }

    #[test]
    fn freshness_merges_from_the_source_down_as_dbt_merges_it() {
        let read = tables(
            "name: raw\nfreshness: {warn_after: {count: 1, period: hour}, filter: x > 1}\nloaded_at_field: at\ntables:\n\
             - name: kept\n\
             - name: more\n  freshness: {error_after: {count: 2, period: day}}\n\
             - name: cleared\n  freshness: null\n\
             - name: no_warn\n  config: {freshness: {warn_after: null, error_after: {count: 30, period: minute}}}\n\
             - name: own_field\n  config: {loaded_at_field: ts}\n\
             - name: no_field\n  loaded_at_field: null\n\
             - name: off\n  config: {enabled: false}",
        )
        .unwrap();
        let by = |name: &str| read.iter().find(|t| t.name == name).unwrap();
        let hour = Freshness {
            warn_after: Some(3_600),
            error_after: None,
            filter: Some("x > 1".into()),
        };
        assert_eq!(by("kept").freshness, hour);
        // A table's error_after adds to the source's warn_after (dbt-core's merge).
        assert_eq!(
            by("more").freshness,
            Freshness {
                error_after: Some(172_800),
                ..hour.clone()
            }
        );
        assert_eq!(by("cleared").freshness, Freshness::default());
        assert_eq!(
            by("no_warn").freshness,
            Freshness {
                warn_after: None,
                error_after: Some(1_800),
                filter: Some("x > 1".into()),
            }
        );
        assert_eq!(by("kept").loaded_at_field.as_deref(), Some("at"));
        assert_eq!(by("own_field").loaded_at_field.as_deref(), Some("ts"));
        assert_eq!(by("no_field").loaded_at_field, None);
        assert!(read.iter().all(|t| t.name != "off"), "a disabled table is left out");
        // A null source freshness, then a table's own.
        let read = tables(
            "name: raw\nfreshness: null\ntables:\n- name: t\n  freshness: {warn_after: {count: 2, period: hour}}",
        )
        .unwrap();
        assert_eq!(read[0].freshness.warn_after, Some(7_200));
    }

    #[test]
    fn properties_this_runner_cannot_honour_are_refused() {
        let error = |yaml: &str| tables(yaml).unwrap_err();
        assert!(error("name: raw\ndatabase: other\ntables: [{name: t}]").contains("`database` is not supported"));
        assert!(error("name: raw\ntables: [{name: t, quoting: {identifier: true}}]").contains("`quoting`"));
        assert!(
            error("name: raw\ntables: [{name: t, config: {loaded_at_query: 'select 1'}}]").contains("loaded_at_query")
        );
        assert!(error("name: raw\ntables: [{name: t, freshnes: {}}]").contains("`freshnes` is not a source property"));
        assert!(error("name: raw\ntables: [{name: t, config: {enabled: 'no'}}]").contains("true or false"));
        assert!(
            error("name: raw\ntables: [{name: t, freshness: {warn_after: {count: 1, period: week}}}]").contains("week")
        );
        // Quoting off, and keys that only document, are fine.
        tables("name: raw\nquoting: {identifier: false}\nloader: x\ndescription: d\ntables: [{name: t, external: {}}]")
            .unwrap();
    }
}
