//! A dbt project on disk: `dbt_project.yml`, its models, snapshots, macros, tests and
//! the YAML files that declare sources and column tests.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value as Yaml;

use super::TransformError;

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

/// A source table declared in YAML: `source('twitch', 'raw_streams')`.
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

/// How bad a failing test is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warn,
}

/// What a generic test reads: a model or snapshot, or a declared source table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tested {
    Node(NodeName),
    Source { source: String, table: String },
}

impl fmt::Display for Tested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tested::Node(name) => write!(f, "{name}"),
            Tested::Source { source, table } => write!(f, "source {source}.{table}"),
        }
    }
}

/// dbt's `warn_if` / `error_if`: a comparison of the failing-row count with a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    op: Comparison,
    value: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Comparison {
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl Default for Threshold {
    /// dbt's default for both: `!= 0`.
    fn default() -> Self {
        Threshold {
            op: Comparison::NotEqual,
            value: 0,
        }
    }
}

impl fmt::Display for Threshold {
    /// As dbt writes its default, `!= 0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Comparison::Equal => "=",
            Comparison::NotEqual => "!=",
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
        };
        write!(f, "{op} {}", self.value)
    }
}

impl Threshold {
    /// `"!= 0"`, `">10"`, `">= 5"`, `"= 0"`, …
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let text = text.trim();
        let (op, rest) = [
            ("!=", Comparison::NotEqual),
            ("<>", Comparison::NotEqual),
            (">=", Comparison::GreaterOrEqual),
            ("<=", Comparison::LessOrEqual),
            ("==", Comparison::Equal),
            ("=", Comparison::Equal),
            (">", Comparison::Greater),
            ("<", Comparison::Less),
        ]
        .into_iter()
        .find_map(|(symbol, op)| text.strip_prefix(symbol).map(|rest| (op, rest)))
        .ok_or_else(|| format!("`{text}` is not a comparison such as '!= 0' or '>10'"))?;
        let value = rest
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` does not compare with a whole number"))?;
        Ok(Threshold { op, value })
    }

    /// Whether `failures` failing rows meet the condition.
    pub fn holds(self, failures: i64) -> bool {
        match self.op {
            Comparison::Equal => failures == self.value,
            Comparison::NotEqual => failures != self.value,
            Comparison::Greater => failures > self.value,
            Comparison::GreaterOrEqual => failures >= self.value,
            Comparison::Less => failures < self.value,
            Comparison::LessOrEqual => failures <= self.value,
        }
    }
}

/// A data test: a query returning the failing rows.
#[derive(Clone, Debug)]
pub struct DataTest {
    /// dbt-style name, e.g. `not_null_stg_streams_stream_id`.
    pub name: String,
    /// dbt's fqn: the project, the folders of the file defining the test, its name
    /// (dbt_project.yml's `data_tests:` applies by it).
    pub fqn: Vec<String>,
    pub kind: TestKind,
    /// The file defining it: a properties file, or a singular test's SQL.
    pub path: String,
    /// Tags it carries from what it tests: its column's, and a source's and its
    /// table's (dbt-core's `parse_test` and `SourcePatcher`); its config adds its own.
    pub inherited_tags: Vec<String>,
    /// For a generic test, its config resolved; for a singular test, what
    /// dbt_project.yml gives it, which its own `config(…)` may override when rendered.
    pub settings: TestSettings,
}

/// A test's config, as dbt resolves it: `data_tests:` (or `tests:`) of
/// dbt_project.yml by the test's fqn, the deeper folder winning, then the test's own.
#[derive(Clone, Debug, PartialEq)]
pub struct TestSettings {
    pub severity: Severity,
    /// dbt's `where` config: a generic test checks only the model's rows that match.
    /// dbt applies it through a generic test's `model` argument
    /// (`get_where_subquery`), so a singular test's is ignored, as there.
    pub filter: Option<String>,
    /// As in dbt: an error-severity test fails when `error_if` holds, else warns when
    /// `warn_if` does; a warn-severity test only warns.
    pub warn_if: Threshold,
    pub error_if: Threshold,
    pub enabled: bool,
    /// Its `tags` config, which adds up across levels as a model's does.
    pub tags: Vec<String>,
}

impl Default for TestSettings {
    fn default() -> Self {
        TestSettings {
            severity: Severity::Error,
            filter: None,
            warn_if: Threshold::default(),
            error_if: Threshold::default(),
            enabled: true,
            tags: Vec::new(),
        }
    }
}

/// Config keys a test may set, and those refused (why).
const TEST_KEYS: &[&str] = &["severity", "where", "warn_if", "error_if", "enabled", "tags", "meta"];
const TEST_REFUSED: &[(&str, &str)] = &[
    ("limit", "the runner counts every failing row"),
    ("fail_calc", "the runner counts failing rows (count(*))"),
    ("store_failures", "the runner stores no failing rows"),
    ("store_failures_as", "the runner stores no failing rows"),
];

/// Whether `key` names a test config, applied or refused (as written: a generic
/// test's top level holds its arguments beside them).
fn is_test_config_key(key: &str) -> bool {
    TEST_KEYS.contains(&key) || TEST_REFUSED.iter().any(|(k, _)| *k == key)
}

/// Refuses a test config key the runner does not apply (`+` and `-` as dbt reads them).
fn check_test_key(key: &str) -> Result<(), String> {
    let key = super::config::normalized(key);
    if let Some((_, why)) = TEST_REFUSED.iter().find(|(k, _)| *k == key) {
        return Err(format!("config `{key}` is not supported: {why}"));
    }
    if !is_test_config_key(&key) {
        return Err(format!(
            "config `{key}` is not one this runner knows; a test may set {}",
            TEST_KEYS.join(", ")
        ));
    }
    Ok(())
}

impl TestSettings {
    /// These settings with those `config` sets (keys as written, checked) over them.
    pub fn overridden_by(mut self, config: &BTreeMap<String, serde_json::Value>) -> Result<TestSettings, String> {
        for (key, value) in config {
            check_test_key(key)?;
            let key = super::config::normalized(key);
            let text = || {
                value
                    .as_str()
                    .ok_or_else(|| format!("`{key}` must be text, not {value}"))
            };
            match key.as_str() {
                "severity" => {
                    self.severity = match text()? {
                        s if s.eq_ignore_ascii_case("error") => Severity::Error,
                        s if s.eq_ignore_ascii_case("warn") => Severity::Warn,
                        s => return Err(format!("severity `{s}` is not `error` or `warn`")),
                    }
                }
                "where" => self.filter = (!value.is_null()).then(text).transpose()?.map(str::to_string),
                "warn_if" => self.warn_if = Threshold::parse(text()?).map_err(|e| format!("warn_if: {e}"))?,
                "error_if" => self.error_if = Threshold::parse(text()?).map_err(|e| format!("error_if: {e}"))?,
                "enabled" => {
                    self.enabled = value
                        .as_bool()
                        .ok_or_else(|| format!("`enabled` must be true or false, not {value}"))?
                }
                "tags" => {
                    for tag in super::config::text_or_list(value).map_err(|e| format!("`tags`: {e}"))? {
                        if !self.tags.contains(&tag) {
                            self.tags.push(tag);
                        }
                    }
                }
                // Meta changes nothing a test checks.
                _ => {}
            }
        }
        Ok(self)
    }
}

/// The four generic tests, or a singular test's own SQL.
#[derive(Clone, Debug)]
pub enum TestKind {
    NotNull {
        model: Tested,
        column: String,
    },
    Unique {
        model: Tested,
        column: String,
    },
    AcceptedValues {
        model: Tested,
        column: String,
        values: Vec<String>,
    },
    Relationships {
        model: Tested,
        column: String,
        to: NodeName,
        field: String,
    },
    /// A `.sql` file under the test path (the test's `path`), rendered like a model.
    Singular {
        sql: String,
    },
}

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
            for read in super::sources::read(source, &place.path, &place.prefix).map_err(&bad)? {
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
                    node.yaml_config = super::config::layered([&node.yaml_config, &config]);
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

/// One generic test of `tested`; `column` is the column it is listed under, if any
/// (a test listed on the model names its column in `column_name`). Config comes from
/// `config:` or, as dbt 1.10 still accepts, the top level of the test's arguments.
fn generic_test(
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
struct TestPlace<'a> {
    /// The project's name and the folders of the file, less the first (dbt-core's
    /// `SchemaGenericTestParser.parse_generic_test`: "the relative path of the yaml
    /// file where this generic test is defined, minus the project-level directory and
    /// the file name itself").
    prefix: Vec<String>,
    /// The file, relative to the project root.
    path: String,
    /// `data_tests:` (or `tests:`) of dbt_project.yml.
    tests_config: Option<&'a Yaml>,
}

fn yaml_value(yaml: &Yaml) -> serde_json::Value {
    serde_json::to_value(yaml).unwrap_or(serde_json::Value::Null)
}

/// The text or list of texts under `key` of `entry` (`tags:`); none when absent.
pub(super) fn texts_of(entry: Option<&Yaml>, key: &str) -> Result<Vec<String>, String> {
    match entry.and_then(|e| e.get(key)) {
        None => Ok(Vec::new()),
        Some(value) => super::config::text_or_list(&yaml_value(value)).map_err(|e| format!("`{key}`: {e}")),
    }
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

/// Splits a snapshot file into its `{% snapshot name %}…{% endsnapshot %}` blocks.
/// The tags become blank text of the same line count, so errors keep file lines.
fn snapshot_blocks(path: &str, text: &str) -> Result<Vec<Node>, TransformError> {
    let mut nodes = Vec::new();
    let mut rest = 0;
    while let Some((_, open_end, name)) = find_tag(text, rest, |words| match words {
        ["snapshot", name] => Some(name.to_string()),
        _ => None,
    }) {
        let (close_start, close_end, ()) = find_tag(text, open_end, |words| (words == ["endsnapshot"]).then_some(()))
            .ok_or_else(|| {
            TransformError::project(Path::new(path), format!("snapshot `{name}` has no {{% endsnapshot %}}"))
        })?;
        let newlines = |s: &str| "\n".repeat(s.matches('\n').count());
        let body = format!("{}{}", newlines(&text[..open_end]), &text[open_end..close_start]);
        nodes.push(Node {
            name: NodeName(name),
            kind: NodeKind::Snapshot,
            path: path.to_string(),
            sql: body,
            fqn: Vec::new(),
            yaml_config: BTreeMap::new(),
            patch_path: None,
        });
        rest = close_end;
    }
    if nodes.is_empty() {
        return Err(TransformError::project(Path::new(path), "no {% snapshot name %} block"));
    }
    Ok(nodes)
}

/// The snapshots a properties file defines without SQL (dbt 1.9+): an entry of
/// `snapshots:` with a `relation:` (a `ref()` or `source()`) selects everything from
/// it, as dbt-core writes its code (`select * from {{ <relation> }}`,
/// `_add_yaml_snapshot_nodes_to_manifest` in dbt/parser/schemas.py). Its config comes
/// from the entry's `config:`, as any node's.
fn yaml_snapshots(path: &str, yaml: &Yaml) -> Result<Vec<Node>, TransformError> {
    let mut nodes = Vec::new();
    for entry in seq(yaml, "snapshots") {
        let Some(relation) = entry.get("relation") else {
            continue;
        };
        let bad = |what: String| TransformError::project(Path::new(path), what);
        let name = str_of(entry, "name").ok_or_else(|| bad("a snapshot with a `relation` has no `name`".into()))?;
        let relation = relation
            .as_str()
            .map(str::trim)
            .filter(|r| r.starts_with("ref(") || r.starts_with("source("))
            .ok_or_else(|| bad(format!("snapshot `{name}`: `relation` must be a ref() or a source()")))?;
        nodes.push(Node {
            name: NodeName(name.to_string()),
            kind: NodeKind::Snapshot,
            path: path.to_string(),
            sql: format!("select * from {{{{ {relation} }}}}"),
            fqn: Vec::new(),
            yaml_config: BTreeMap::new(),
            patch_path: None,
        });
    }
    Ok(nodes)
}

/// The next `{% … %}` tag from `from` whose words `accept` takes: (start, end, what).
fn find_tag<T>(text: &str, from: usize, accept: impl Fn(&[&str]) -> Option<T>) -> Option<(usize, usize, T)> {
    let mut at = from;
    while let Some(offset) = text[at..].find("{%") {
        let start = at + offset;
        let end = start + text[start..].find("%}")? + 2;
        let inner = text[start + 2..end - 2].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        let words: Vec<&str> = inner.split_whitespace().collect();
        if let Some(found) = accept(&words) {
            return Some((start, end, found));
        }
        at = end;
    }
    None
}

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
fn tests_config(config: &Yaml) -> Result<Option<&Yaml>, String> {
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
fn check_project_keys(config: &Yaml) -> Result<(), String> {
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
fn check_properties_keys(yaml: &Yaml) -> Result<(), String> {
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
fn unknown_properties(yaml: &Yaml) -> Vec<String> {
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

/// The keys of the mapping `entry` that are not `known`.
pub(super) fn unknown_keys<'y>(entry: &'y Yaml, known: &[&str]) -> Vec<&'y str> {
    entry
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(key, _)| key.as_str())
        .filter(|key| !known.contains(key))
        .collect()
}

/// Configs that take a mapping as their value: under `models:` in `dbt_project.yml`
/// they are configs even without the `+`, not folders.
const MAPPING_CONFIGS: &[&str] = &["persist_docs", "grants", "meta", "docs"];

/// The folders of `dbt_project.yml`'s `models:`, `snapshots:` and `data_tests:` trees
/// that hold a config but are no prefix of any resource's fqn, as
/// `models.proj.stagin` (dbt-core's `warn_for_unused_resource_config_paths`).
fn unused_config_paths(config: &Yaml, tests_config: Option<&Yaml>, project: &Project) -> Vec<String> {
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
fn is_config_entry(key: &str, value: &Yaml) -> bool {
    key.starts_with('+') || !value.is_mapping() || MAPPING_CONFIGS.contains(&key)
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
    Ok(super::config::layered(&layers))
}

/// A YAML mapping as config entries.
fn yaml_mapping(yaml: &Yaml) -> Result<BTreeMap<String, serde_json::Value>, String> {
    serde_json::to_value(yaml)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| "must be a mapping of config names to values".to_string())
}

fn seq<'a>(yaml: &'a Yaml, key: &str) -> impl Iterator<Item = &'a Yaml> {
    yaml.get(key).and_then(Yaml::as_sequence).into_iter().flatten()
}

pub(super) fn str_of<'a>(yaml: &'a Yaml, key: &str) -> Option<&'a str> {
    yaml.get(key).and_then(Yaml::as_str)
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
