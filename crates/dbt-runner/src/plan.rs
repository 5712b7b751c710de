//! The project parsed as dbt parses it before it runs anything: each node's config
//! and relation, the build order, the tests, what is disabled and what the options
//! select; `dbt ls` ([`list`]) and where models are built ([`relations`]) read it too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::config::NodeConfig;
use crate::project;
use crate::project::{DataTest, NodeKind, NodeName, Project, TestKind, TestSettings};
use crate::render::{Pass, Relation, Renderer, Target};
use crate::selection::{self, Member, ResourceType, Selectable};
use crate::warehouse::{Dialect, Warehouse, WarehouseError};
use crate::{TransformError, TransformOptions, artifacts, checks, dag};

/// A model or snapshot ready to build: its config, relation and upstream nodes.
pub(crate) struct Planned<'p> {
    pub(crate) node: &'p project::Node,
    pub(crate) config: NodeConfig,
    /// The config as layered, before it was read (for the manifest).
    pub(crate) raw_config: BTreeMap<String, serde_json::Value>,
    pub(crate) relation: Relation,
    /// The source tables it reads, as (source, table).
    pub(crate) sources: BTreeSet<(String, String)>,
}

/// A test ready to run: its failing-rows SQL comes at run time (it needs relations).
pub(crate) struct PlannedTest<'p> {
    pub(crate) test: &'p DataTest,
    pub(crate) refs: BTreeSet<NodeName>,
    /// The source tables it reads, as (source, table).
    pub(crate) sources: BTreeSet<(String, String)>,
    /// The test's config: a singular test's own `config(…)` over the project's.
    pub(crate) settings: TestSettings,
}

impl PlannedTest<'_> {
    /// Its tags as dbt gives a test node them: what it inherits and its config's.
    pub(crate) fn tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self
            .test
            .inherited_tags
            .iter()
            .chain(&self.settings.tags)
            .cloned()
            .collect();
        tags.sort();
        tags.dedup();
        tags
    }
}

/// The project parsed as dbt parses it before it runs anything: every enabled node's
/// refs, config and relation, the build order, every enabled test, and what the
/// options select of them.
pub(crate) struct Parsed<'p> {
    pub(crate) deps: dag::Dependencies,
    pub(crate) planned: BTreeMap<NodeName, Planned<'p>>,
    pub(crate) order: Vec<NodeName>,
    pub(crate) selected: BTreeSet<NodeName>,
    pub(crate) tests: Vec<PlannedTest<'p>>,
    /// The selected tests, by their place in `tests`.
    pub(crate) selected_tests: BTreeSet<usize>,
    /// What `enabled: false` leaves out, for the manifest's `disabled` section.
    pub(crate) disabled: Disabled<'p>,
}

/// The disabled nodes (with their refs) and tests: dbt keeps them in its manifest's
/// `disabled` section.
#[derive(Default)]
pub(crate) struct Disabled<'p> {
    pub(crate) nodes: BTreeMap<NodeName, Planned<'p>>,
    pub(crate) deps: dag::Dependencies,
    pub(crate) tests: Vec<PlannedTest<'p>>,
    /// Tests of a disabled node, disabled with it. dbt disables them only after
    /// moving disabled nodes aside (`ManifestLoader.process_refs`, after
    /// `cleanup_disabled`), so its manifest keeps them among its nodes, with
    /// `enabled: false` and without the disabled parent.
    pub(crate) of_disabled_nodes: Vec<PlannedTest<'p>>,
}

pub(crate) fn parse<'p>(
    project: &'p Project,
    renderer: &Renderer<'_>,
    options: &TransformOptions,
) -> Result<Parsed<'p>, TransformError> {
    // Parse: every node's refs and config, as dbt does before it runs anything.
    let mut deps = dag::Dependencies::new();
    let mut planned = BTreeMap::new();
    let mut disabled = Disabled::default();
    for node in &project.nodes {
        let rendered = renderer.render(&node.path, &node.sql, Pass::Parse)?;
        let raw_config = crate::layering::layered([&node.yaml_config, &rendered.config]);
        let config = NodeConfig::from_rendered(node, &raw_config)?;
        let (into_deps, into_planned) = if config.enabled {
            (&mut deps, &mut planned)
        } else {
            (&mut disabled.deps, &mut disabled.nodes)
        };
        let relation = Relation {
            schema: match &config.target_schema {
                Some(verbatim) => verbatim.clone(),
                None => schema_name(renderer, config.schema.as_deref())?,
            },
            name: config.alias.clone().unwrap_or_else(|| node.name.0.clone()),
        };
        into_deps.insert(node.name.clone(), rendered.refs.into_iter().collect());
        into_planned.insert(
            node.name.clone(),
            Planned {
                node,
                config,
                raw_config,
                relation,
                sources: rendered.sources.into_iter().collect(),
            },
        );
    }
    // As dbt: a disabled node is not in the project, and an enabled one may not use it.
    for (name, parents) in &deps {
        if let Some(parent) = parents.iter().find(|p| disabled.nodes.contains_key(*p)) {
            return Err(TransformError::Config {
                file: planned[name].node.path.clone(),
                node: name.0.clone(),
                message: format!("it refers to `{parent}`, which is disabled (enabled=false)"),
            });
        }
    }
    let order = dag::build_order(&deps)?;
    // Tests of a disabled node are disabled with it, as in dbt.
    let mut tests = Vec::new();
    for test in plan_tests(project, renderer)? {
        if !test.settings.enabled {
            disabled.tests.push(test);
        } else if test.refs.iter().any(|r| disabled.nodes.contains_key(r)) {
            disabled.of_disabled_nodes.push(test);
        } else {
            tests.push(test);
        }
    }
    let graph = selection_graph(project, &planned, &deps, &tests);
    let mut selected = BTreeSet::new();
    let mut selected_tests = BTreeSet::new();
    for member in graph.select(&options.select, &options.exclude)? {
        match member {
            Member::Node(name) => {
                selected.insert(name);
            }
            Member::Test(index) => {
                selected_tests.insert(index);
            }
            // A source is not built; selecting it selects its tests.
            Member::Source { .. } => {}
        }
    }
    Ok(Parsed {
        deps,
        planned,
        order,
        selected,
        tests,
        selected_tests,
        disabled,
    })
}

/// dbt's selection graph of the project: its models and snapshots, sources and
/// tests, each with what it reads and what dbt's selection methods look at.
fn selection_graph(
    project: &Project,
    planned: &BTreeMap<NodeName, Planned<'_>>,
    deps: &dag::Dependencies,
    tests: &[PlannedTest<'_>],
) -> selection::Graph {
    let source = |(source, table): &(String, String)| Member::Source {
        source: source.clone(),
        table: table.clone(),
    };
    let mut graph = selection::Graph::new(&project.name);
    for table in &project.sources {
        let member = Member::Source {
            source: table.source.clone(),
            table: table.name.clone(),
        };
        let selectable = Selectable {
            resource_type: ResourceType::Source,
            fqn: table.fqn.clone(),
            tags: table.tags.clone(),
            path: table.path.clone(),
            patch_path: None,
            config: artifacts::source_config(table),
            test_name: None,
        };
        graph.add(member, selectable, []);
    }
    for (name, plan) in planned {
        let selectable = Selectable {
            resource_type: match plan.node.kind {
                NodeKind::Model => ResourceType::Model,
                NodeKind::Snapshot => ResourceType::Snapshot,
            },
            fqn: plan.node.fqn.clone(),
            tags: plan.config.tags.clone(),
            path: plan.node.path.clone(),
            patch_path: plan.node.patch_path.clone(),
            config: artifacts::node_config(plan),
            test_name: None,
        };
        let parents = deps[name]
            .iter()
            .map(|n| Member::Node(n.clone()))
            .chain(plan.sources.iter().map(source));
        graph.add(Member::Node(name.clone()), selectable, parents);
    }
    for (index, test) in tests.iter().enumerate() {
        let selectable = Selectable {
            resource_type: ResourceType::Test,
            fqn: test.test.fqn.clone(),
            tags: test.tags(),
            path: test.test.path.clone(),
            patch_path: None,
            config: artifacts::test_config(test),
            test_name: checks::generic_parts(&test.test.kind).map(|generic| generic.name.to_string()),
        };
        let parents = test
            .refs
            .iter()
            .map(|n| Member::Node(n.clone()))
            .chain(test.sources.iter().map(source));
        graph.add(Member::Test(index), selectable, parents);
    }
    graph
}

/// dbt's `target` on `warehouse`: its type, default schema and database, named `name`.
pub(crate) async fn target_of<W: Warehouse>(warehouse: &mut W, name: &str) -> Result<Target, WarehouseError> {
    let database = warehouse.query("select current_database()").await?;
    Ok(Target {
        dialect: warehouse.dialect(),
        schema: warehouse.default_schema().to_string(),
        name: name.to_string(),
        database: database.scalar().unwrap_or_default().to_string(),
    })
}

/// What `options` select, as `dbt ls --resource-type model --resource-type snapshot
/// --resource-type test --output name` lists it, for `dialect` (`duckdb`,
/// `snowflake`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listed {
    /// The models and snapshots, in build order.
    pub nodes: Vec<NodeName>,
    /// The tests' names, in the project's order.
    pub tests: Vec<String>,
}

/// The models, snapshots and tests `options` select ([`Listed`]).
pub fn list(project: &Project, options: &TransformOptions, dialect: Dialect) -> Result<Listed, TransformError> {
    let target = Target {
        dialect,
        schema: "main".to_string(),
        name: options.target_name().to_string(),
        database: String::new(),
    };
    let renderer = Renderer::new(project, target).with_vars(&options.vars);
    let parsed = parse(project, &renderer, options)?;
    Ok(Listed {
        nodes: parsed
            .order
            .into_iter()
            .filter(|n| parsed.selected.contains(n))
            .collect(),
        tests: parsed
            .selected_tests
            .iter()
            .map(|&i| parsed.tests[i].test.name.clone())
            .collect(),
    })
}

/// Where each enabled model and snapshot is built for target `target_name` on
/// `warehouse`, as `ref()` names it (e.g. `main_marts.fct_orders`): with the
/// project's own `generate_schema_name`, custom schemas and aliases, so a reader of a
/// dev target reads its dev relations and never production's.
pub async fn relations<W: Warehouse>(
    project: &Project,
    warehouse: &mut W,
    target_name: &str,
) -> Result<BTreeMap<NodeName, Relation>, TransformError> {
    let target = target_of(warehouse, target_name).await?;
    let renderer = Renderer::new(project, target);
    let options = TransformOptions {
        target_name: Some(target_name.to_string()),
        ..Default::default()
    };
    let parsed = parse(project, &renderer, &options)?;
    Ok(parsed
        .planned
        .into_iter()
        .map(|(name, plan)| (name, plan.relation))
        .collect())
}

/// Each test with the models and sources it reads; singular tests are parsed for
/// their refs, sources and their own `config(…)`, which may disable them.
fn plan_tests<'p>(project: &'p Project, renderer: &Renderer<'_>) -> Result<Vec<PlannedTest<'p>>, TransformError> {
    let mut planned = Vec::new();
    for test in &project.tests {
        let (refs, sources, settings) = match &test.kind {
            TestKind::Singular { sql } => {
                let rendered = renderer.render(&test.path, sql, Pass::Parse)?;
                let settings = test
                    .settings
                    .clone()
                    .overridden_by(&rendered.config)
                    .map_err(|e| TransformError::project(Path::new(&test.path), format!("config(…): {e}")))?;
                (rendered.refs, rendered.sources, settings)
            }
            _ => (
                checks::generic_refs(test),
                checks::generic_source(test).into_iter().collect(),
                test.settings.clone(),
            ),
        };
        for model in &refs {
            if project.node(&model.0).is_none() {
                return Err(TransformError::Selection(format!(
                    "test `{}` refers to `{model}`, which the project does not have",
                    test.name
                )));
            }
        }
        planned.push(PlannedTest {
            test,
            refs: refs.into_iter().collect(),
            sources: sources.into_iter().collect(),
            settings,
        });
    }
    Ok(planned)
}

/// dbt's `generate_schema_name`: the project's own macro if it has one, else dbt's
/// default (`target_custom`, or the target schema when there is no custom one).
fn schema_name(renderer: &Renderer<'_>, custom: Option<&str>) -> Result<String, TransformError> {
    if renderer.has_macro("generate_schema_name") {
        return renderer.call_macro("generate_schema_name", &[custom, None]);
    }
    let target = &renderer.target().schema;
    Ok(custom.map_or_else(|| target.clone(), |custom| format!("{target}_{custom}")))
}
