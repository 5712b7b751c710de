//! The generic tests a properties file lists (`data_tests:` on a model, column or
//! source table), named, placed and configured as dbt does.

use std::collections::BTreeMap;

use serde_yaml_ng::Value as Yaml;

use super::data_test::{DataTest, TEST_KEYS, TestKind, TestSettings, Tested, is_test_config_key};
use super::folder_config;
use super::node::NodeName;
use crate::yaml::{str_of, yaml_mapping, yaml_value};

/// One generic test of `tested`; `column` is the column it is listed under, if any
/// (a test listed on the model names its column in `column_name`). Config comes from
/// `config:` or, as dbt 1.10 still accepts, the top level of the test's arguments.
pub(super) fn generic_test(
    tested: &Tested,
    column: Option<&str>,
    test: &Yaml,
    inherited_tags: &[String],
    place: &TestPlace<'_>,
) -> Result<DataTest, String> {
    let (kind, args) = match test {
        Yaml::String(name) => (name.as_str(), None),
        Yaml::Mapping(map) if map.len() == 1 => {
            let (k, v) = map.iter().next().expect("one entry");
            (k.as_str().unwrap_or_default(), Some(v))
        }
        _ => return Err(format!("a test on `{tested}` must be a name or a one-key mapping")),
    };
    // dbt 1.10 accepts arguments at the top level or under `arguments:`.
    let argument = |name: &str| args.and_then(|a| a.get("arguments").and_then(|x| x.get(name)).or_else(|| a.get(name)));
    let column = match column {
        Some(column) => column.to_string(),
        None => argument("column_name")
            .and_then(Yaml::as_str)
            .ok_or_else(|| format!("test `{kind}` on `{tested}` needs `column_name`"))?
            .to_string(),
    };
    let at = format!("test `{kind}` on `{tested}.{column}`");
    // Its own config: under `config:`, or, as dbt 1.10 still takes it, at the top
    // level of its arguments.
    let mut own = BTreeMap::new();
    if let Some(args) = args {
        for (key, value) in args.as_mapping().into_iter().flatten() {
            let Some(key) = key.as_str() else { continue };
            if is_test_config_key(key) {
                own.insert(key.to_string(), yaml_value(value));
            }
        }
        if let Some(config) = args.get("config") {
            own.extend(yaml_mapping(config).map_err(|e| format!("{at}: `config:` {e}"))?);
        }
    }
    let name = dbt_test_name(tested, kind, &column, args);
    let model = tested.clone();
    let kind = match kind {
        "not_null" => TestKind::NotNull { model, column },
        "unique" => TestKind::Unique { model, column },
        "accepted_values" => {
            let values = argument("values")
                .and_then(Yaml::as_sequence)
                .ok_or_else(|| format!("{at} needs a `values` list"))?
                .iter()
                .map(|v| match v {
                    Yaml::String(s) => s.clone(),
                    other => serde_yaml_ng::to_string(other).unwrap_or_default().trim().to_string(),
                })
                .collect();
            TestKind::AcceptedValues { model, column, values }
        }
        "relationships" => {
            let to = argument("to")
                .and_then(Yaml::as_str)
                .and_then(parse_ref)
                .ok_or_else(|| format!("{at} needs `to: ref('model')`"))?;
            let field = argument("field")
                .and_then(Yaml::as_str)
                .ok_or_else(|| format!("{at} needs `field`"))?
                .to_string();
            TestKind::Relationships {
                model,
                column,
                to: NodeName(to),
                field,
            }
        }
        other => {
            return Err(format!(
                "test `{other}` on `{tested}.{column}` is not one of not_null, unique, accepted_values, relationships"
            ));
        }
    };
    let fqn: Vec<String> = place.prefix.iter().cloned().chain([name.clone()]).collect();
    let from_project = folder_config(place.tests_config, &fqn)?;
    let settings = TestSettings::default()
        .overridden_by(&from_project)
        .and_then(|settings| settings.overridden_by(&own))
        .map_err(|e| format!("{at}: {e}"))?;
    Ok(DataTest {
        name,
        fqn,
        kind,
        path: place.path.clone(),
        inherited_tags: inherited_tags.to_vec(),
        settings,
    })
}

/// Where a properties file's generic tests are defined, for their fqn and the config
/// dbt_project.yml gives them.
pub(super) struct TestPlace<'a> {
    /// The project's name and the folders of the file, less the first (dbt-core's
    /// `SchemaGenericTestParser.parse_generic_test`: "the relative path of the yaml
    /// file where this generic test is defined, minus the project-level directory and
    /// the file name itself").
    pub(super) prefix: Vec<String>,
    /// The file, relative to the project root.
    pub(super) path: String,
    /// `data_tests:` (or `tests:`) of dbt_project.yml.
    pub(super) tests_config: Option<&'a Yaml>,
}

/// The name dbt gives a generic test (dbt-core's `synthesize_generic_test_names`, its
/// full name, which the unique id uses): a `name:` given in YAML, else the test's
/// type (`source_` before it on a source), the tested model or `{source}_{table}`, and
/// every argument by argument name (`column_name` included), each cleaned to
/// `[0-9a-zA-Z_]`, joined by `__`.
fn dbt_test_name(tested: &Tested, kind: &str, column: &str, args: Option<&Yaml>) -> String {
    if let Some(name) = args.and_then(|a| str_of(a, "name")) {
        return name.to_string();
    }
    let (test_type, target) = match tested {
        Tested::Node(name) => (kind.to_string(), name.0.clone()),
        Tested::Source { source, table } => (format!("source_{kind}"), format!("{source}_{table}")),
    };
    // Arguments: under `arguments:`, or at the top level less dbt's own keys.
    let mut arguments: BTreeMap<String, &Yaml> = BTreeMap::new();
    let not_arguments = ["config", "arguments", "name", "description", "column_name"];
    for map in [args, args.and_then(|a| a.get("arguments"))].into_iter().flatten() {
        for (key, value) in map.as_mapping().into_iter().flatten() {
            let Some(key) = key.as_str() else { continue };
            if !not_arguments.contains(&key) && !TEST_KEYS.contains(&key) {
                arguments.insert(key.to_string(), value);
            }
        }
    }
    let column_value = Yaml::String(column.to_string());
    arguments.insert("column_name".to_string(), &column_value);
    let python_str = |value: &Yaml| match value {
        Yaml::String(s) => s.clone(),
        Yaml::Bool(true) => "True".into(),
        Yaml::Bool(false) => "False".into(),
        Yaml::Null => "None".into(),
        other => serde_yaml_ng::to_string(other).unwrap_or_default().trim().to_string(),
    };
    let parts: Vec<String> = arguments
        .values()
        .flat_map(|value| match value {
            Yaml::Sequence(items) => items.iter().map(python_str).collect::<Vec<_>>(),
            Yaml::Mapping(map) => map.values().map(python_str).collect(),
            other => vec![python_str(other)],
        })
        .map(|part| {
            // re.sub("[^0-9a-zA-Z_]+", "_", part)
            let mut cleaned = String::new();
            let mut in_run = false;
            for c in part.chars() {
                let kept = c.is_ascii_alphanumeric() || c == '_';
                if kept {
                    cleaned.push(c);
                } else if !in_run {
                    cleaned.push('_');
                }
                in_run = !kept;
            }
            cleaned
        })
        .collect();
    format!("{test_type}_{target}_{}", parts.join("__"))
}

/// `ref('name')` or `ref("name")` as written in YAML.
fn parse_ref(text: &str) -> Option<String> {
    let inner = text.trim().strip_prefix("ref(")?.strip_suffix(')')?.trim();
    let name = inner.strip_prefix(['\'', '"'])?.strip_suffix(['\'', '"'])?;
    Some(name.to_string())
}
