//! A dbt project on disk: `dbt_project.yml`, its models, snapshots, macros, tests and
//! the YAML files that declare sources and column tests.

mod data_test;
mod generic_tests;
mod keys;
mod node;
mod snapshots;
mod sources;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value as Yaml;

pub use self::data_test::{DataTest, Severity, TestKind, TestSettings, Tested, Threshold};
use self::generic_tests::{TestPlace, generic_test};
use self::keys::{
    check_project_keys, check_properties_keys, is_config_entry, tests_config, unknown_properties, unused_config_paths,
};
pub use self::node::{Freshness, Node, NodeKind, NodeName, SourceTable};
use self::snapshots::{snapshot_blocks, yaml_snapshots};
use crate::TransformError;
use crate::layering;
use crate::yaml::{seq, str_of, texts_of, yaml_mapping};

/// A loaded project.
#[derive(Clone, Debug)]
pub struct Project {
    pub root: PathBuf,
    pub name: String,
    /// `vars:` of `dbt_project.yml`.
    pub vars: BTreeMap<String, serde_json::Value>,
    pub nodes: Vec<Node>,
    /// Macro files: (path, source).
    pub macros: Vec<(String, String)>,
    pub sources: Vec<SourceTable>,
    /// Every test, disabled ones too (dbt counts them when it looks for unused
    /// configuration paths); the run leaves those out.
    pub tests: Vec<DataTest>,
    /// Folders `dbt_project.yml` configures that match no model, snapshot or test
    /// (`models.proj.stagin`): dbt warns of them, as the load does.
    pub unused_config_paths: Vec<String>,
    /// Keys of a model, snapshot or column entry in a properties file that dbt's
    /// schema does not have (a misspelt `data_test:`), as "file: model `m`: `key`".
    /// dbt ignores them, as the run does; dbt-core checks that schema only for some
    /// adapters and only when dbt Cloud asks (`_can_run_validations` in
    /// `dbt/jsonschemas/jsonschemas.py`), so it usually says nothing. The load warns.
    pub ignored_properties: Vec<String>,
}

impl Project {
    /// Reads the project at `root` (the folder holding `dbt_project.yml`).
    pub fn load(root: &Path) -> Result<Project, TransformError> {
        let project_file = root.join("dbt_project.yml");
        let config = read_yaml(&project_file)?;
        let paths = |key: &str, default: &str| -> Vec<PathBuf> {
            match config.get(key).and_then(Yaml::as_sequence) {
                Some(list) => list.iter().filter_map(Yaml::as_str).map(|p| root.join(p)).collect(),
                None => vec![root.join(default)],
            }
        };
        let in_project_file = |e: String| TransformError::project(&project_file, e);
        check_project_keys(&config).map_err(in_project_file)?;
        let tests_config = tests_config(&config).map_err(in_project_file)?;
        let name = config
            .get("name")
            .and_then(Yaml::as_str)
            .unwrap_or("project")
            .to_string();
        let vars = match config.get("vars") {
            Some(v) => serde_json::to_value(v)
                .ok()
                .and_then(|v| serde_json::from_value::<BTreeMap<String, serde_json::Value>>(v).ok())
                .ok_or_else(|| TransformError::project(&project_file, "`vars` must be a mapping of names to values"))?,
            None => BTreeMap::new(),
        };

        let mut project = Project {
            root: root.to_path_buf(),
            name,
            vars,
            nodes: Vec::new(),
            macros: Vec::new(),
            sources: Vec::new(),
            tests: Vec::new(),
            unused_config_paths: Vec::new(),
            ignored_properties: Vec::new(),
        };
        let fqn = |project_name: &str, dir: &Path, file: &Path, name: &str| -> Vec<String> {
            let folders = file
                .parent()
                .and_then(|parent| parent.strip_prefix(dir).ok())
                .map(|rel| {
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            std::iter::once(project_name.to_string())
                .chain(folders)
                .chain(std::iter::once(name.to_string()))
                .collect()
        };
        for dir in paths("model-paths", "models") {
            for file in files_under(&dir, "sql")? {
                let name = file_stem(&file);
                let fqn = fqn(&project.name, &dir, &file, &name);
                project.nodes.push(Node {
                    yaml_config: folder_config(config.get("models"), &fqn)
                        .map_err(|e| TransformError::project(&project_file, e))?,
                    name: NodeName(name),
                    kind: NodeKind::Model,
                    path: project.relative(&file),
                    sql: read(&file)?,
                    fqn,
                    patch_path: None,
                });
            }
        }
        // A snapshot's fqn and its `snapshots:` folder config, from where it is defined.
        let placed_snapshot = |mut node: Node, project_name: &str, dir: &Path, file: &Path| {
            node.fqn = fqn(project_name, dir, file, &node.name.0);
            node.yaml_config = folder_config(config.get("snapshots"), &node.fqn)
                .map_err(|e| TransformError::project(&project_file, e))?;
            Ok::<_, TransformError>(node)
        };
        for dir in paths("snapshot-paths", "snapshots") {
            for file in files_under(&dir, "sql")? {
                let path = project.relative(&file);
                for node in snapshot_blocks(&path, &read(&file)?)? {
                    let node = placed_snapshot(node, &project.name, &dir, &file)?;
                    project.nodes.push(node);
                }
            }
        }
        for dir in paths("macro-paths", "macros") {
            for file in files_under(&dir, "sql")? {
                project.macros.push((project.relative(&file), read(&file)?));
            }
        }
        for dir in paths("test-paths", "tests") {
            for file in files_under(&dir, "sql")? {
                let name = file_stem(&file);
                let fqn = fqn(&project.name, &dir, &file, &name);
                // Its own `config(…)` is read when it is rendered, over these.
                let settings = TestSettings::default()
                    .overridden_by(&folder_config(tests_config, &fqn).map_err(&in_project_file)?)
                    .map_err(|e| in_project_file(format!("`data_tests:` for `{name}`: {e}")))?;
                project.tests.push(DataTest {
                    name,
                    fqn,
                    settings,
                    path: project.relative(&file),
                    inherited_tags: Vec::new(),
                    kind: TestKind::Singular { sql: read(&file)? },
                });
            }
        }
        for dir in paths("model-paths", "models")
            .into_iter()
            .chain(paths("snapshot-paths", "snapshots"))
        {
            for ext in ["yml", "yaml"] {
                for file in files_under(&dir, ext)? {
                    let path = project.relative(&file);
                    let yaml = read_yaml(&file)?;
                    for node in yaml_snapshots(&path, &yaml)? {
                        let node = placed_snapshot(node, &project.name, &dir, &file)?;
                        project.nodes.push(node);
                    }
                    project.read_properties(&file, &yaml, tests_config)?;
                }
            }
        }
        project.check_names()?;
        project.unused_config_paths = unused_config_paths(&config, tests_config, &project);
        for path in &project.unused_config_paths {
            tracing::warn!(
                %path,
                "dbt_project.yml configures a path that matches no resource, so it applies to nothing (check its spelling)"
            );
        }
        Ok(project)
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name.0 == name)
    }

    /// The source table `source(source, table)`.
    pub fn source(&self, source: &str, table: &str) -> Option<&SourceTable> {
        self.sources.iter().find(|s| s.source == source && s.name == table)
    }

    fn relative(&self, file: &Path) -> String {
        file.strip_prefix(&self.root).unwrap_or(file).display().to_string()
    }

    fn check_names(&self) -> Result<(), TransformError> {
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for node in &self.nodes {
            if let Some(first) = seen.insert(&node.name.0, &node.path) {
                return Err(TransformError::project(
                    Path::new(&node.path),
                    format!(
                        "`{}` is also defined in {first}; model and snapshot names must be unique",
                        node.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Reads `sources:` and the column tests of `models:` / `snapshots:` from the
    /// properties file `file`, parsed as `yaml`.
    fn read_properties(&mut self, file: &Path, yaml: &Yaml, tests_config: Option<&Yaml>) -> Result<(), TransformError> {
        let bad = |what: String| TransformError::project(file, what);
        let relative = file.strip_prefix(&self.root).unwrap_or(file);
        let folders = relative.parent().into_iter().flat_map(Path::components).skip(1);
        let place = TestPlace {
            prefix: std::iter::once(self.name.clone())
                .chain(folders.map(|c| c.as_os_str().to_string_lossy().into_owned()))
                .collect(),
            path: self.relative(file),
            tests_config,
        };
        check_properties_keys(yaml).map_err(&bad)?;
        for ignored in unknown_properties(yaml) {
            let ignored = format!("{}: {ignored}", place.path);
            tracing::warn!(
                property = %ignored,
                "a properties file has a key dbt's schema does not have; dbt and this runner ignore it (check its spelling)"
            );
            self.ignored_properties.push(ignored);
        }
        for source in seq(yaml, "sources") {
            for read in sources::read(source, &place.path, &place.prefix).map_err(&bad)? {
                let tested = Tested::Source {
                    source: read.table.source.clone(),
                    table: read.table.name.clone(),
                };
                self.push_tests(&tested, read.entry, &read.tests_tags, &place)
                    .map_err(&bad)?;
                self.sources.push(read.table);
            }
        }
        for key in ["models", "snapshots"] {
            for model in seq(yaml, key) {
                let model_name =
                    str_of(model, "name").ok_or_else(|| bad(format!("an entry of `{key}` has no `name`")))?;
                let patched = self.nodes.iter_mut().find(|n| n.name.0 == model_name);
                if let Some(config) = model.get("config") {
                    let config = yaml_mapping(config).map_err(|e| bad(format!("`config:` of `{model_name}`: {e}")))?;
                    let node = patched
                        .ok_or_else(|| bad(format!("`config:` for `{model_name}`, which the project does not have")))?;
                    node.yaml_config = layering::layered([&node.yaml_config, &config]);
                    node.patch_path = Some(place.path.clone());
                } else if let Some(node) = patched {
                    node.patch_path = Some(place.path.clone());
                }
                let tested = Tested::Node(NodeName(model_name.to_string()));
                // A model's own tags stay its own: dbt gives its tests only their
                // column's.
                self.push_tests(&tested, model, &[], &place).map_err(&bad)?;
            }
        }
        Ok(())
    }

    /// The tests of a model, snapshot or source table in a properties file: its own
    /// (`data_tests:` or `tests:`, naming their column in `column_name`) and its
    /// columns'. Each carries `inherited` tags, and a column's tests its tags too.
    fn push_tests(
        &mut self,
        tested: &Tested,
        entry: &Yaml,
        inherited: &[String],
        place: &TestPlace<'_>,
    ) -> Result<(), String> {
        for test in seq(entry, "data_tests").chain(seq(entry, "tests")) {
            self.tests.push(generic_test(tested, None, test, inherited, place)?);
        }
        for column in seq(entry, "columns") {
            let column_name = str_of(column, "name").ok_or_else(|| format!("a column of `{tested}` has no `name`"))?;
            let at = |e: String| format!("column `{column_name}` of `{tested}`: {e}");
            let tags: Vec<String> = inherited
                .iter()
                .cloned()
                .chain(texts_of(Some(column), "tags").map_err(at)?)
                .chain(texts_of(column.get("config"), "tags").map_err(at)?)
                .collect();
            for test in seq(column, "data_tests").chain(seq(column, "tests")) {
                self.tests
                    .push(generic_test(tested, Some(column_name), test, &tags, place)?);
            }
        }
        Ok(())
    }
}

/// The config `dbt_project.yml`'s `models:` (or `snapshots:`, `data_tests:`) tree gives the node `fqn`:
/// each level on its path adds its `+key` entries (and plain keys with a non-mapping
/// value), the deeper level winning, as dbt resolves them.
fn folder_config(tree: Option<&Yaml>, fqn: &[String]) -> Result<BTreeMap<String, serde_json::Value>, String> {
    let mut layers = Vec::new();
    let mut level = tree;
    for part in fqn.iter().map(Some).chain(std::iter::once(None)) {
        let Some(map) = level.and_then(Yaml::as_mapping) else {
            break;
        };
        let mut layer = BTreeMap::new();
        for (key, value) in map {
            let Some(key) = key.as_str() else { continue };
            if is_config_entry(key, value) {
                let value = serde_json::to_value(value).map_err(|e| format!("`{key}`: {e}"))?;
                layer.insert(key.to_string(), value);
            }
        }
        layers.push(layer);
        level = part.and_then(|part| map.get(part.as_str()));
    }
    Ok(layering::layered(&layers))
}

fn read(file: &Path) -> Result<String, TransformError> {
    std::fs::read_to_string(file).map_err(|e| TransformError::project(file, format!("cannot read it: {e}")))
}

fn read_yaml(file: &Path) -> Result<Yaml, TransformError> {
    serde_yaml_ng::from_str(&read(file)?).map_err(|e| TransformError::project(file, format!("not valid YAML: {e}")))
}

fn file_stem(file: &Path) -> String {
    file.file_stem().unwrap_or_default().to_string_lossy().into_owned()
}

/// Files with extension `ext` under `dir`, sorted; a missing folder has none.
fn files_under(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, TransformError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(TransformError::project(&dir, format!("cannot list it: {e}"))),
        };
        for entry in entries {
            let path = entry
                .map_err(|e| TransformError::project(&dir, format!("cannot list it: {e}")))?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == ext) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_defined_in_yaml_select_everything_from_their_relation() {
        let yaml = |text: &str| serde_yaml_ng::from_str::<Yaml>(text).unwrap();
        let nodes = yaml_snapshots(
            "snapshots/s.yml",
            &yaml("snapshots:\n  - name: a\n    relation: ref('stg')\n  - name: b\n    config: {}\n"),
        )
        .unwrap();
        assert_eq!(nodes.len(), 1, "only an entry with a relation is a snapshot");
        assert_eq!(
            (nodes[0].name.0.as_str(), nodes[0].kind, nodes[0].sql.as_str()),
            ("a", NodeKind::Snapshot, "select * from {{ ref('stg') }}")
        );
        for (text, says) in [
            ("snapshots:\n  - relation: ref('stg')\n", "has no `name`"),
            (
                "snapshots:\n  - name: a\n    relation: raw.people\n",
                "must be a ref() or a source()",
            ),
        ] {
            let error = yaml_snapshots("snapshots/s.yml", &yaml(text)).unwrap_err().to_string();
            assert!(error.contains("snapshots/s.yml") && error.contains(says), "{error}");
        }
    }

    #[test]
    fn snapshot_blocks_keep_line_numbers_and_names() {
        let text = "-- history\n{% snapshot snap_a %}\nselect 1\n{% endsnapshot %}\n\n{%- snapshot snap_b -%}\nselect 2\n{% endsnapshot %}";
        let nodes = snapshot_blocks("s.sql", text).unwrap();
        let names: Vec<&str> = nodes.iter().map(|n| n.name.0.as_str()).collect();
        assert_eq!(names, ["snap_a", "snap_b"]);
        assert_eq!(nodes[0].sql.lines().position(|l| l == "select 1"), Some(2));
        assert_eq!(nodes[1].sql.lines().position(|l| l == "select 2"), Some(6));
    }

    #[test]
    fn a_snapshot_without_its_end_tag_is_named_in_the_error() {
        let error = snapshot_blocks("snaps/x.sql", "{% snapshot x %} select 1")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("snaps/x.sql") && error.contains("endsnapshot"),
            "{error}"
        );
    }

    #[test]
    fn generic_tests_read_dbt_shapes() {
        let yaml: Yaml = serde_yaml_ng::from_str(
            "- unique: {config: {where: \"day > 1\"}}\n- accepted_values: {values: [live], config: {severity: warn}}\n- relationships: {arguments: {to: \"ref('dim')\", field: id}}\n- not_null: {severity: warn, warn_if: '>10', error_if: '>= 100'}\n- not_null: {config: {enabled: false}}",
        )
        .unwrap();
        let on = Tested::Node(NodeName("m".into()));
        let place = TestPlace {
            prefix: vec!["p".into()],
            path: "models/schema.yml".into(),
            tests_config: None,
        };
        let tests: Vec<DataTest> = yaml
            .as_sequence()
            .unwrap()
            .iter()
            .map(|t| generic_test(&on, Some("c"), t, &[], &place).unwrap())
            .filter(|t| t.settings.enabled)
            .collect();
        assert_eq!(tests.len(), 4, "the disabled one is left out");
        assert_eq!(tests[0].name, "unique_m_c");
        assert_eq!(tests[0].fqn, ["p", "unique_m_c"]);
        assert_eq!(tests[0].settings.filter.as_deref(), Some("day > 1"));
        assert_eq!(tests[1].settings.filter, None);
        assert_eq!(tests[1].settings.severity, Severity::Warn);
        assert!(matches!(&tests[1].kind, TestKind::AcceptedValues { values, .. } if values == &["live"]));
        assert!(matches!(&tests[2].kind, TestKind::Relationships { to, field, .. } if to.0 == "dim" && field == "id"));
        // Named as dbt names them: every argument, cleaned, by argument name.
        assert_eq!(tests[1].name, "accepted_values_m_c__live");
        assert_eq!(tests[2].name, "relationships_m_c__id__ref_dim_");
        // Config at the top level of the arguments, as dbt 1.10 still takes it.
        let settings = &tests[3].settings;
        assert_eq!(settings.severity, Severity::Warn);
        assert!(!settings.warn_if.holds(10) && settings.warn_if.holds(11));
        assert!(settings.error_if.holds(100) && !settings.error_if.holds(99));
        let error = |text: &str| {
            generic_test(&on, Some("c"), &serde_yaml_ng::from_str(text).unwrap(), &[], &place).unwrap_err()
        };
        assert!(error("dbt_utils_thing").contains("not one of"));
        assert!(error("unique: {config: {store_failures: true}}").contains("`store_failures` is not supported"));
        assert!(error("unique: {config: {limt: 3}}").contains("a test may set severity"));
        assert!(error("unique: {error_if: lots}").contains("error_if"));
        assert!(error("unique: {store_failures: true}").contains("`store_failures` is not supported"));
        assert!(error("unique: {config: {enabled: 'no'}}").contains("true or false"));
        // Listed on the model, a test names its column; on a source, it reads the table.
        let source = Tested::Source {
            source: "raw".into(),
            table: "events".into(),
        };
        let listed: Yaml = serde_yaml_ng::from_str("unique: {column_name: id}").unwrap();
        let test = generic_test(&source, None, &listed, &[], &place).unwrap();
        assert_eq!(test.name, "source_unique_raw_events_id");
        assert!(matches!(&test.kind, TestKind::Unique { model, column } if model == &source && column == "id"));
    }

    #[test]
    fn folder_configs_apply_down_the_fqn_the_deeper_winning() {
        let yaml: Yaml = serde_yaml_ng::from_str(
            "+tags: [all]\nproj:\n  +materialized: table\n  marts:\n    +schema: marts\n    materialized: view\n    meta: {owner: x}\n    daily:\n      +tags: [daily]\n  staging:\n    +schema: staging",
        )
        .unwrap();
        let fqn = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        let deep = folder_config(Some(&yaml), &fqn(&["proj", "marts", "daily", "agg"])).unwrap();
        assert_eq!(deep["materialized"], serde_json::json!("view"));
        assert_eq!(deep["schema"], serde_json::json!("marts"));
        assert_eq!(deep["meta"], serde_json::json!({"owner": "x"}));
        assert_eq!(deep["tags"], serde_json::json!(["all", "daily"]));
        let top = folder_config(Some(&yaml), &fqn(&["proj", "top"])).unwrap();
        assert_eq!(top["materialized"], serde_json::json!("table"));
        assert!(!top.contains_key("schema"));
    }

    /// Writes `files` (path, text) under `dir`.
    fn write_files(dir: &Path, files: &[(&str, &str)]) {
        for (path, text) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    /// Keys dbt's schema does not have on a model or a column are named (both ignore
    /// them); those it has, or moved under `config:`, are not.
    #[test]
    fn properties_dbt_does_not_know_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write_files(
            dir.path(),
            &[
                ("dbt_project.yml", "name: p\n"),
                ("models/m.sql", "select 1 as c"),
                (
                    "models/schema.yml",
                    "models:\n  - name: m\n    description: d\n    meta: {a: 1}\n    data_test: [unique]\n    columns:\n      - name: c\n        tags: [x]\n        quote: false\n        tset: [not_null]\n",
                ),
            ],
        );
        let project = Project::load(dir.path()).unwrap();
        assert_eq!(
            project.ignored_properties,
            [
                "models/schema.yml: model `m`: `data_test`",
                "models/schema.yml: column `c` of model `m`: `tset`"
            ]
        );
    }

    /// A folder in dbt_project.yml that no resource is in is named, as dbt warns of it;
    /// a folder holding only disabled tests is in use.
    #[test]
    fn config_paths_matching_no_resource_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write_files(
            dir.path(),
            &[
                (
                    "dbt_project.yml",
                    "name: p\nmodels:\n  +materialized: table\n  p:\n    stagin:\n      +schema: s\n    staging:\n      +schema: s\n      meta: {owner: x}\ndata_tests:\n  p:\n    staging:\n      +enabled: false\n    nowhere:\n      +severity: warn\nsnapshots:\n  p:\n    +target_schema: snaps\n",
                ),
                ("models/staging/m.sql", "select 1 as c"),
                (
                    "models/staging/schema.yml",
                    "models:\n  - name: m\n    columns:\n      - name: c\n        data_tests: [unique]\n",
                ),
            ],
        );
        let project = Project::load(dir.path()).unwrap();
        assert_eq!(
            project.unused_config_paths,
            ["models.p.stagin", "snapshots.p", "data_tests.p.nowhere"]
        );
    }

    /// `data_tests:` of dbt_project.yml applies by each test's fqn, as dbt's: a generic
    /// test's from its properties file's folders less the first, a singular test's
    /// from its folders under the test path; the test's own config wins.
    #[test]
    fn project_test_configs_apply_by_the_tests_fqn() {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| write_files(dir.path(), &[(path, text)]);
        write(
            "dbt_project.yml",
            "name: p\nmodel-paths: [models/marts]\ndata_tests:\n  p:\n    +warn_if: '>5'\n    marts:\n      +severity: warn\n    lenient:\n      +severity: warn\n      off:\n        +enabled: false\n",
        );
        write("models/marts/m.sql", "select 1 as c");
        write(
            "models/marts/schema.yml",
            "models:\n  - name: m\n    columns:\n      - name: c\n        data_tests: [unique, {not_null: {config: {severity: error}}}]\n",
        );
        write("tests/strict.sql", "select 1");
        write("tests/lenient/loose.sql", "select 1");
        write("tests/lenient/off/gone.sql", "select 1");
        let project = Project::load(dir.path()).unwrap();
        let test = |name: &str| project.tests.iter().find(|t| t.name == name).unwrap();
        // models/marts/schema.yml: [p, marts, …], whatever the model path.
        assert_eq!(test("unique_m_c").fqn, ["p", "marts", "unique_m_c"]);
        assert_eq!(test("unique_m_c").settings.severity, Severity::Warn);
        assert!(!test("unique_m_c").settings.warn_if.holds(5) && test("unique_m_c").settings.warn_if.holds(6));
        assert_eq!(
            test("not_null_m_c").settings.severity,
            Severity::Error,
            "its own config wins"
        );
        assert_eq!(test("strict").fqn, ["p", "strict"]);
        assert_eq!(test("strict").settings.severity, Severity::Error);
        assert_eq!(test("loose").fqn, ["p", "lenient", "loose"]);
        assert_eq!(test("loose").settings.severity, Severity::Warn);
        // A singular test is kept disabled: its own config(enabled=true) may turn it on.
        assert!(!test("gone").settings.enabled);
        assert!(
            project.unused_config_paths.is_empty(),
            "{:?}",
            project.unused_config_paths
        );

        for (tree, says) in [
            (
                "data_tests:\n  p:\n    +store_failures: true\n",
                "`data_tests.p`: config `store_failures` is not supported",
            ),
            (
                "data_tests:\n  +sevrity: warn\n",
                "`sevrity` is not one this runner knows",
            ),
            ("data_tests: {}\ntests: {}\n", "keep `data_tests`"),
            ("tests:\n  +severity: loud\n", "severity `loud`"),
        ] {
            write(
                "dbt_project.yml",
                &format!("name: p\nmodel-paths: [models/marts]\n{tree}"),
            );
            let error = Project::load(dir.path()).unwrap_err().to_string();
            assert!(error.contains("dbt_project.yml") && error.contains(says), "{error}");
        }
    }

    #[test]
    fn every_project_key_is_read_harmless_or_refused() {
        let check = |text: &str| check_project_keys(&serde_yaml_ng::from_str(text).unwrap());
        assert!(check("name: p\nprofile: p\nclean-targets: [target]\non-run-start: []").is_ok());
        assert!(
            check("on-run-end: [\"grant select\"]")
                .unwrap_err()
                .contains("run hooks are not supported")
        );
        assert!(check("data_tests:\n  +severity: warn").is_ok());
        assert!(
            check("modles: {}")
                .unwrap_err()
                .contains("`modles` is not a key this runner knows")
        );
    }

    #[test]
    fn properties_that_would_be_skipped_are_refused() {
        let check = |text: &str| check_properties_keys(&serde_yaml_ng::from_str(text).unwrap());
        assert!(check("version: 2\nmodels: []\nexposures: []").is_ok());
        assert!(
            check("unit_tests:\n  - name: t")
                .unwrap_err()
                .contains("`unit_tests` are not supported")
        );
        assert!(
            check("models:\n  - name: m\n    versions: [{v: 1}]")
                .unwrap_err()
                .contains("`m`: `versions`")
        );
        assert!(check("modles: []").unwrap_err().contains("not a properties key"));
    }
}
