//! dbt's artifacts for each run: `manifest.json` (v12), `run_results.json` (v6) and,
//! when freshness was checked, `sources.json` (v3), in the schema versions dbt 1.10
//! writes, so that tools that read dbt's artifacts (lineage viewers, `dbt docs`, data
//! quality tools) read ours unchanged. A test validates them with dbt-core's own
//! artifact classes.
//!
//! Ids are dbt's: `model.<project>.<name>`, `snapshot.<project>.<name>`,
//! `source.<project>.<source>.<table>`, `test.<project>.<name>` (a generic test's with
//! a hash of its name after it, as dbt adds one).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::checks::{FreshnessResult, FreshnessStatus, GenericParts, generic_parts};
use crate::plan::{Disabled, Planned, PlannedTest};
use crate::project::{NodeKind, NodeName, Project, SourceTable, TestKind, Tested};
use crate::render::{Invocation, Target};
use crate::warehouse::Dialect;
use crate::{NodeOutcome, RunReport, Severity, TestOutcome};

/// dbt-core's version these artifacts stand for.
const DBT_VERSION: &str = "1.10.0";

/// One run's artifacts, as JSON.
#[derive(Clone, Debug, Default)]
pub struct Artifacts {
    pub manifest: Value,
    pub run_results: Value,
    /// Present when the run checked source freshness.
    pub sources: Option<Value>,
}

impl Artifacts {
    /// Each artifact's file name and bytes.
    pub fn files(&self) -> Vec<(&'static str, Vec<u8>)> {
        let bytes = |value: &Value| serde_json::to_vec(value).expect("JSON serializes");
        let mut files = vec![
            ("manifest.json", bytes(&self.manifest)),
            ("run_results.json", bytes(&self.run_results)),
        ];
        if let Some(sources) = &self.sources {
            files.push(("sources.json", bytes(sources)));
        }
        files
    }

    /// Writes them into `dir` (dbt's `target/`), creating it.
    pub fn write_to(&self, dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, bytes) in self.files() {
            std::fs::write(dir.join(name), bytes)?;
        }
        Ok(())
    }
}

/// What the artifacts are built from: the parsed project and what the run did.
pub(super) struct Inputs<'a, 'p> {
    pub project: &'p Project,
    pub target: &'a Target,
    pub invocation: &'a Invocation,
    pub planned: &'a BTreeMap<NodeName, Planned<'p>>,
    pub deps: &'a crate::dag::Dependencies,
    pub tests: &'a [PlannedTest<'p>],
    pub disabled: &'a Disabled<'p>,
    pub report: &'a RunReport,
    pub checked_freshness: bool,
}

pub(super) fn build(inputs: &Inputs<'_, '_>) -> Artifacts {
    Artifacts {
        manifest: manifest(inputs),
        run_results: run_results(inputs),
        sources: inputs.checked_freshness.then(|| sources_json(inputs)),
    }
}

fn metadata(inputs: &Inputs<'_, '_>, schema: &str) -> Value {
    json!({
        "dbt_schema_version": format!("https://schemas.getdbt.com/dbt/{schema}.json"),
        "dbt_version": DBT_VERSION,
        "generated_at": timestamp(chrono::Utc::now()),
        "invocation_id": inputs.invocation.id,
        "invocation_started_at": timestamp(inputs.invocation.started_at),
        "env": {},
    })
}

fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn node_id(project: &Project, kind: NodeKind, name: &NodeName) -> String {
    let kind = match kind {
        NodeKind::Model => "model",
        NodeKind::Snapshot => "snapshot",
    };
    format!("{kind}.{}.{name}", project.name)
}

fn source_id(project: &Project, source: &str, table: &str) -> String {
    format!("source.{}.{source}.{table}", project.name)
}

/// A test's id: a generic test's name with a hash after it, as dbt writes it.
fn test_id(project: &Project, planned: &PlannedTest<'_>) -> String {
    match planned.test.kind {
        TestKind::Singular { .. } => format!("test.{}.{}", project.name, planned.test.name),
        _ => format!(
            "test.{}.{}.{}",
            project.name,
            planned.test.name,
            &hex(&Sha256::digest(planned.test.name.as_bytes()))[..10]
        ),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How dbt prints a relation's name: quoted on DuckDB, plain on Snowflake.
fn relation_name(target: &Target, schema: &str, name: &str) -> String {
    if target.dialect == Dialect::Snowflake {
        format!("{}.{schema}.{name}", target.database)
    } else {
        format!("\"{}\".\"{schema}\".\"{name}\"", target.database)
    }
}

fn manifest(inputs: &Inputs<'_, '_>) -> Value {
    let project = inputs.project;
    let mut nodes = serde_json::Map::new();
    let mut parent_map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, plan) in inputs.planned {
        let (id, node) = node_entry(inputs, plan, &inputs.deps[name]);
        parent_map.insert(id.clone(), depends_on(&node));
        nodes.insert(id, node);
    }
    for planned in inputs.tests {
        let (id, node) = test_entry(inputs, planned);
        parent_map.insert(id.clone(), depends_on(&node));
        nodes.insert(id, node);
    }
    let disabled_ids: Vec<String> = inputs.disabled.nodes.keys().map(|name| id_of(inputs, name)).collect();
    for planned in &inputs.disabled.of_disabled_nodes {
        let (id, mut node) = test_entry(inputs, planned);
        node["config"]["enabled"] = json!(false);
        let parents: Vec<String> = depends_on(&node)
            .into_iter()
            .filter(|id| !disabled_ids.contains(id))
            .collect();
        node["depends_on"]["nodes"] = json!(parents);
        parent_map.insert(id.clone(), parents);
        nodes.insert(id, node);
    }
    // What `enabled: false` leaves out: in dbt's `disabled`, each id with its versions.
    let mut disabled = serde_json::Map::new();
    for (name, plan) in &inputs.disabled.nodes {
        let (id, node) = node_entry(inputs, plan, &inputs.disabled.deps[name]);
        disabled.insert(id, json!([node]));
    }
    for planned in &inputs.disabled.tests {
        let (id, node) = test_entry(inputs, planned);
        disabled.insert(id, json!([node]));
    }
    let mut source_nodes = serde_json::Map::new();
    for table in &project.sources {
        let id = source_id(project, &table.source, &table.name);
        parent_map.insert(id.clone(), Vec::new());
        let after = |seconds: Option<u64>| match seconds {
            Some(s) if s % 3_600 == 0 => json!({"count": s / 3_600, "period": "hour"}),
            Some(s) => json!({"count": s / 60, "period": "minute"}),
            None => json!({"count": null, "period": null}),
        };
        source_nodes.insert(
            id.clone(),
            json!({
                "database": inputs.target.database, "schema": table.schema, "name": table.name,
                "resource_type": "source", "package_name": project.name, "path": table.path,
                "original_file_path": table.path, "unique_id": id, "fqn": table.fqn,
                "source_name": table.source, "source_description": "", "loader": "", "identifier": table.identifier,
                "loaded_at_field": table.loaded_at_field,
                "freshness": {"warn_after": after(table.freshness.warn_after), "error_after": after(table.freshness.error_after),
                              "filter": table.freshness.filter},
                "description": "", "columns": {}, "meta": {}, "source_meta": {}, "tags": table.tags,
                "config": source_config(table), "relation_name": relation_name(inputs.target, &table.schema, &table.identifier),
            }),
        );
    }
    let mut child_map: BTreeMap<String, Vec<String>> = parent_map.keys().map(|k| (k.clone(), Vec::new())).collect();
    for (child, parents) in &parent_map {
        for parent in parents {
            child_map.entry(parent.clone()).or_default().push(child.clone());
        }
    }
    let mut metadata = metadata(inputs, "manifest/v12");
    metadata["project_name"] = json!(project.name);
    metadata["adapter_type"] = json!(inputs.target.dialect.adapter());
    metadata["send_anonymous_usage_stats"] = json!(false);
    json!({
        "metadata": metadata, "nodes": nodes, "sources": source_nodes, "macros": {}, "docs": {},
        "exposures": {}, "metrics": {}, "groups": {}, "selectors": {}, "disabled": disabled,
        "parent_map": parent_map, "child_map": child_map, "group_map": {}, "saved_queries": {},
        "semantic_models": {}, "unit_tests": {},
    })
}

/// The id of the model or snapshot `name`, enabled or not.
fn id_of(inputs: &Inputs<'_, '_>, name: &NodeName) -> String {
    let kind = (inputs.planned.get(name))
        .or_else(|| inputs.disabled.nodes.get(name))
        .map_or(NodeKind::Model, |p| p.node.kind);
    node_id(inputs.project, kind, name)
}

/// A manifest entry's `depends_on.nodes`.
fn depends_on(node: &Value) -> Vec<String> {
    node["depends_on"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|id| id.as_str().map(str::to_string))
        .collect()
}

/// An entry's `refs`, `sources` and `depends_on`, for one that reads the nodes
/// `refs` and the source tables `sources`.
fn reads(inputs: &Inputs<'_, '_>, refs: &BTreeSet<NodeName>, sources: &BTreeSet<(String, String)>) -> Value {
    let parents: Vec<String> = refs
        .iter()
        .map(|r| id_of(inputs, r))
        .chain(
            sources
                .iter()
                .map(|(source, table)| source_id(inputs.project, source, table)),
        )
        .collect();
    json!({
        "refs": refs.iter().map(|r| json!({"name": r.0, "package": null, "version": null})).collect::<Vec<_>>(),
        "sources": sources.iter().map(|(source, table)| json!([source, table])).collect::<Vec<_>>(),
        "depends_on": {"macros": [], "nodes": parents},
    })
}

/// `fields` added to the JSON object `entry`.
fn with_fields(mut entry: Value, fields: Value) -> Value {
    if let (Value::Object(entry), Value::Object(fields)) = (&mut entry, fields) {
        entry.extend(fields);
    }
    entry
}

/// A model's or snapshot's manifest entry, with its id; `refs` are the nodes it reads.
fn node_entry(inputs: &Inputs<'_, '_>, plan: &Planned<'_>, refs: &BTreeSet<NodeName>) -> (String, Value) {
    let project = inputs.project;
    let name = &plan.node.name;
    let id = id_of(inputs, name);
    let kind = match plan.node.kind {
        NodeKind::Model => "model",
        NodeKind::Snapshot => "snapshot",
    };
    let file = project.root.join(&plan.node.path);
    let checksum = std::fs::read(&file)
        .map(|bytes| hex(&Sha256::digest(&bytes)))
        .unwrap_or_default();
    let node = json!({
        "database": inputs.target.database, "schema": plan.relation.schema, "name": name.0,
        "resource_type": kind, "package_name": project.name,
        "path": under_resource_folder(&plan.node.path),
        "original_file_path": plan.node.path, "unique_id": id, "fqn": plan.node.fqn,
        "patch_path": plan.node.patch_path.as_ref().map(|path| format!("{}://{path}", project.name)),
        "alias": plan.relation.name, "checksum": {"name": "sha256", "checksum": checksum},
        "config": node_config(plan), "tags": plan.config.tags, "description": "", "columns": {}, "meta": {},
        "docs": {"show": true, "node_color": null},
        "unrendered_config": plan.raw_config, "relation_name": relation_name(inputs.target, &plan.relation.schema, &plan.relation.name),
        "raw_code": plan.node.sql, "language": "sql", "metrics": [],
    });
    (id, with_fields(node, reads(inputs, refs, &plan.sources)))
}

/// A test's manifest entry, with its id.
fn test_entry(inputs: &Inputs<'_, '_>, planned: &PlannedTest<'_>) -> (String, Value) {
    let project = inputs.project;
    let id = test_id(project, planned);
    let test = planned.test;
    // A generic test's entry has three fields more; dbt's schema for a singular test
    // has none of them.
    let (path, raw_code, generic_fields) = match (&test.kind, generic_parts(&test.kind)) {
        (TestKind::Singular { sql }, _) => (under_resource_folder(&test.path).to_string(), sql.clone(), json!({})),
        (_, None) => unreachable!("only a singular test has no generic parts"),
        (
            _,
            Some(GenericParts {
                name: test_name,
                tested,
                column,
            }),
        ) => {
            let attached = match tested {
                Tested::Node(name) => json!(id_of(inputs, name)),
                Tested::Source { .. } => Value::Null,
            };
            (
                format!("{}.sql", test.name),
                format!("{{{{ test_{test_name}(**_dbt_generic_test_kwargs) }}}}"),
                json!({
                    "test_metadata": {"name": test_name, "kwargs": {"column_name": column}, "namespace": null},
                    "column_name": column, "attached_node": attached,
                }),
            )
        }
    };
    let node = json!({
            "database": inputs.target.database, "schema": format!("{}_dbt_test__audit", inputs.target.schema),
            "name": test.name, "resource_type": "test", "package_name": project.name,
            "path": path, "original_file_path": test.path, "unique_id": id,
            "fqn": test.fqn, "alias": test.name,
            "checksum": {"name": "none", "checksum": ""},
            "config": test_config(planned),
            "tags": planned.tags(), "description": "", "columns": {}, "meta": {}, "raw_code": raw_code, "language": "sql",
            "metrics": [],
    });
    let node = with_fields(
        with_fields(node, generic_fields),
        reads(inputs, &planned.refs, &planned.sources),
    );
    (id, node)
}

/// A model's or snapshot's config as dbt's manifest shows it (and `config.<key>:`
/// selects by): dbt's defaults, then the config as written.
pub(super) fn node_config(plan: &Planned<'_>) -> Value {
    let mut config = json!({
        "enabled": true, "alias": plan.config.alias, "schema": plan.config.schema, "database": null,
        "tags": plan.config.tags, "meta": {}, "materialized": plan.config.kind(),
        "persist_docs": {}, "quoting": {}, "column_types": {}, "full_refresh": plan.config.full_refresh,
        "unique_key": unique_key(&plan.config.unique_key), "on_schema_change": "ignore",
        "grants": {}, "packages": [], "docs": {"show": true, "node_color": null},
        "contract": {"enforced": false, "alias_types": true},
        "pre-hook": hooks(&plan.config.pre_hook), "post-hook": hooks(&plan.config.post_hook),
    });
    for (key, value) in &plan.raw_config {
        if !matches!(key.as_str(), "pre_hook" | "post_hook") {
            config[key] = value.clone();
        }
    }
    config
}

/// A test's config as dbt's manifest shows it.
pub(super) fn test_config(planned: &PlannedTest<'_>) -> Value {
    let settings = &planned.settings;
    let severity = match settings.severity {
        Severity::Error => "ERROR",
        Severity::Warn => "WARN",
    };
    json!({"enabled": settings.enabled, "materialized": "test", "severity": severity, "where": settings.filter,
           "fail_calc": "count(*)", "warn_if": settings.warn_if.to_string(),
           "error_if": settings.error_if.to_string(), "tags": settings.tags, "meta": {}})
}

/// A source table's config as dbt's manifest shows it.
pub(super) fn source_config(table: &SourceTable) -> Value {
    json!({"enabled": true, "tags": table.tags})
}

/// A file's path under its resource folder (`models/marts/x.sql` → `marts/x.sql`), as
/// dbt's `path` gives it.
fn under_resource_folder(path: &str) -> &str {
    path.split_once('/').map_or(path, |(_, rest)| rest)
}

/// A model's `unique_key` as dbt's manifest keeps it: one column as text, several as a
/// list, none as null.
fn unique_key(columns: &[String]) -> Value {
    match columns {
        [] => Value::Null,
        [column] => json!(column),
        columns => json!(columns),
    }
}

fn hooks(sql: &[String]) -> Vec<Value> {
    sql.iter()
        .enumerate()
        .map(|(index, sql)| json!({"sql": sql, "transaction": true, "index": index}))
        .collect()
}

fn run_results(inputs: &Inputs<'_, '_>) -> Value {
    let project = inputs.project;
    let mut results = Vec::new();
    for node in &inputs.report.nodes {
        let Some(plan) = inputs.planned.get(&node.name) else {
            continue;
        };
        let (status, message) = match &node.outcome {
            NodeOutcome::Built(_) => ("success", Value::Null),
            NodeOutcome::Skipped { because } => ("skipped", json!(format!("upstream `{because}` failed"))),
            NodeOutcome::Failed(message) => ("error", json!(message)),
        };
        results.push(json!({
            "status": status, "timing": [], "thread_id": "Thread-1", "execution_time": node.seconds,
            "adapter_response": {}, "message": message, "failures": null,
            "unique_id": node_id(project, plan.node.kind, &node.name),
            "compiled": null, "compiled_code": null,
            "relation_name": relation_name(inputs.target, &plan.relation.schema, &plan.relation.name),
            "batch_results": null,
        }));
    }
    for result in &inputs.report.tests {
        let Some(planned) = inputs.tests.iter().find(|t| t.test.name == result.name) else {
            continue;
        };
        let (status, failures, message) = match &result.outcome {
            TestOutcome::Pass => ("pass", json!(0), Value::Null),
            TestOutcome::Fail { failing_rows } => (
                if result.severity == Severity::Warn {
                    "warn"
                } else {
                    "fail"
                },
                json!(failing_rows),
                json!(format!(
                    "Got {failing_rows} results, configured to {} if != 0",
                    if result.severity == Severity::Warn {
                        "warn"
                    } else {
                        "fail"
                    }
                )),
            ),
            TestOutcome::Error(message) => ("error", Value::Null, json!(message)),
            TestOutcome::Skipped => ("skipped", Value::Null, Value::Null),
        };
        results.push(json!({
            "status": status, "timing": [], "thread_id": "Thread-1", "execution_time": result.seconds,
            "adapter_response": {}, "message": message, "failures": failures,
            "unique_id": test_id(project, planned), "compiled": null, "compiled_code": null,
            "relation_name": null, "batch_results": null,
        }));
    }
    json!({
        "metadata": metadata(inputs, "run-results/v6"),
        "results": results,
        "elapsed_time": inputs.report.seconds,
        "args": {"which": "build", "select": [], "exclude": []},
    })
}

fn sources_json(inputs: &Inputs<'_, '_>) -> Value {
    let results: Vec<Value> = inputs
        .report
        .freshness
        .iter()
        .map(|result: &FreshnessResult| {
            let table = inputs.project.source(&result.source, &result.table);
            let status = match result.status {
                FreshnessStatus::Pass => "pass",
                FreshnessStatus::Warn | FreshnessStatus::Empty => "warn",
                FreshnessStatus::Error => "error",
            };
            let seconds = |s: Option<u64>| match s {
                Some(s) => json!({"count": s / 60, "period": "minute"}),
                None => json!({"count": null, "period": null}),
            };
            json!({
                "unique_id": source_id(inputs.project, &result.source, &result.table),
                "max_loaded_at": result.newest.map(|t| format!("{}", t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00"))),
                "snapshotted_at": timestamp(chrono::Utc::now()),
                "max_loaded_at_time_ago_in_s": result.age_seconds.unwrap_or_default() as f64,
                "status": status,
                "criteria": {
                    "warn_after": seconds(table.and_then(|t| t.freshness.warn_after)),
                    "error_after": seconds(table.and_then(|t| t.freshness.error_after)),
                    "filter": table.and_then(|t| t.freshness.filter.clone()),
                },
                "adapter_response": {}, "timing": [], "thread_id": "Thread-1", "execution_time": 0.0,
            })
        })
        .collect();
    json!({
        "metadata": metadata(inputs, "sources/v3"),
        "results": results,
        "elapsed_time": inputs.report.seconds,
    })
}
