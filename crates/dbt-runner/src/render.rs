//! Jinja rendering of models, snapshots and tests with dbt's context, on minijinja.
//!
//! Supported: `ref`, `source`, `config`, `this`, `is_incremental`, `target`, `var`,
//! `env_var` and the project's own macros. Anything else is an error naming the file
//! and line, as is a `ref` to a model the project does not have.
//!
//! Rendering happens twice per node, as in dbt: a parse pass that records refs and
//! config (refs render as bare names), then the run pass with real relations.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Kwargs, Object, ObjectRepr, Serde};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};

use crate::TransformError;
use crate::project::{NodeName, Project};
use crate::warehouse::Dialect;

/// A table or view in the warehouse: what `ref`, `source` and `this` render as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relation {
    pub schema: String,
    pub name: String,
}

impl Relation {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        Relation {
            schema: schema.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.schema.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}.{}", self.schema, self.name)
        }
    }
}

impl Object for Relation {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "schema" => Some(Value::from(self.schema.clone())),
            "name" | "identifier" | "table" => Some(Value::from(self.name.clone())),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// dbt's `target`: which warehouse the SQL renders for.
#[derive(Clone, Debug)]
pub struct Target {
    /// The warehouse's dialect: dbt's `target.type`.
    pub dialect: Dialect,
    /// Where models without a custom schema go.
    pub schema: String,
    /// dbt's `target.name`: `dev` unless the run says otherwise (`prod` in Azure).
    pub name: String,
    /// The warehouse's current database.
    pub database: String,
}

/// What one run shares with every template: dbt's `run_started_at` and `invocation_id`.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub id: String,
}

impl Default for Invocation {
    fn default() -> Self {
        Invocation {
            started_at: chrono::Utc::now(),
            id: uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// `run_started_at`: a UTC datetime, printed as Python prints one, with `strftime`
/// and `isoformat`.
#[derive(Debug)]
struct StartedAt(chrono::DateTime<chrono::Utc>);

impl Object for StartedAt {
    fn call_method(
        self: &Arc<Self>,
        _: &mut minijinja::State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match (method, args) {
            ("strftime", [format]) => {
                let format = format
                    .as_str()
                    .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "strftime() takes a format string"))?;
                Ok(Value::from(self.0.format(format).to_string()))
            }
            ("isoformat", []) => Ok(Value::from(self.0.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string())),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("run_started_at.{method}() is not supported here; use strftime(format) or isoformat()"),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d %H:%M:%S%.6f+00:00"))
    }
}

/// dbt's `exceptions`: `raise_compiler_error(message)` stops the render with the
/// message; `warn(message)` logs it.
#[derive(Debug)]
struct Exceptions;

impl Object for Exceptions {
    fn call_method(
        self: &Arc<Self>,
        _: &mut minijinja::State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let message = args.first().map(|m| m.to_string()).unwrap_or_default();
        match method {
            "raise_compiler_error" => Err(Error::new(ErrorKind::InvalidOperation, message)),
            "warn" => {
                tracing::warn!(%message, "a model's template warns");
                Ok(Value::from(""))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("exceptions.{method}() is not supported here; use raise_compiler_error or warn"),
            )),
        }
    }
}

/// A macro's definition is renamed to this, and `name` becomes a function that calls
/// it, so that `return(value)` inside it can end the call with `value`, as in dbt.
fn macro_body_name(name: &str) -> String {
    format!("dbt_macro_body__{name}")
}

/// What rendering a node produced and found out.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    pub sql: String,
    pub refs: Vec<NodeName>,
    /// The `source(source, table)` calls, in order.
    pub sources: Vec<(String, String)>,
    pub config: BTreeMap<String, serde_json::Value>,
}

/// How `ref` and `this` resolve in one render.
#[derive(Clone, Copy, Debug)]
pub enum Pass<'a> {
    /// Discover refs and config: refs render as bare names.
    Parse,
    /// Build: refs render as the relations given.
    Run {
        relations: &'a BTreeMap<NodeName, Relation>,
        this: &'a Relation,
        is_incremental: bool,
    },
}

/// Name of the one template that holds every macro file, concatenated.
const MACROS: &str = "__project_macros__";

/// Renders a project's templates for one target.
pub struct Renderer<'p> {
    project: &'p Project,
    target: Target,
    macro_names: Vec<String>,
    /// The macro template, and where each macro file starts in it (0-based line).
    macros_source: String,
    macro_files: Vec<(usize, String)>,
    /// `vars:` of `dbt_project.yml`, with the run's `--vars` over them.
    vars: BTreeMap<String, serde_json::Value>,
    invocation: Invocation,
}

impl fmt::Debug for Renderer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renderer")
            .field("target", &self.target)
            .field("macros", &self.macro_names)
            .finish()
    }
}

impl<'p> Renderer<'p> {
    pub fn new(project: &'p Project, target: Target) -> Renderer<'p> {
        let mut macros_source = String::new();
        let mut macro_files = Vec::new();
        let mut macro_names = Vec::new();
        for (path, source) in &project.macros {
            macro_files.push((macros_source.matches('\n').count(), path.clone()));
            let names = macro_definitions(source);
            macros_source.push_str(&with_renamed_definitions(source, &names));
            macros_source.push('\n');
            macro_names.extend(names);
        }
        Renderer {
            project,
            target,
            macro_names,
            macros_source,
            macro_files,
            vars: project.vars.clone(),
            invocation: Invocation::default(),
        }
    }

    /// The run's start time and id, shared by every template of the run.
    pub fn with_invocation(mut self, invocation: Invocation) -> Renderer<'p> {
        self.invocation = invocation;
        self
    }

    /// The run's `--vars`, which override the project's, as in dbt.
    pub fn with_vars(mut self, overrides: &BTreeMap<String, serde_json::Value>) -> Renderer<'p> {
        self.vars.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        self
    }

    /// The target this renderer renders for.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Whether the project defines a macro called `name`.
    pub fn has_macro(&self, name: &str) -> bool {
        self.macro_names.iter().any(|m| m == name)
    }

    /// Renders the template `sql` of the file `path`.
    pub fn render(&self, path: &str, sql: &str, pass: Pass<'_>) -> Result<Rendered, TransformError> {
        let captured = Arc::new(Mutex::new(Rendered::default()));
        let env = self.environment(pass, &captured);
        // The imports go on the template's first line, so its line numbers stay true.
        let source = format!("{}{sql}", self.import_line());
        let rendered = env
            .render_named_str(path, &source, minijinja::context! {})
            .map_err(|e| self.template_error(path, &e))?;
        let mut result = std::mem::take(&mut *captured.lock().expect("render state is not poisoned"));
        result.sql = rendered.trim().to_string();
        Ok(result)
    }

    /// Calls a project macro by name with string arguments (`generate_schema_name`).
    pub fn call_macro(&self, name: &str, args: &[Option<&str>]) -> Result<String, TransformError> {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.map_or("none".to_string(), |s| {
                    serde_json::to_string(s).expect("a string serializes")
                })
            })
            .collect();
        let call = format!("{{{{ {name}({}) }}}}", args.join(", "));
        Ok(self.render(&format!("<call of macro {name}>"), &call, Pass::Parse)?.sql)
    }

    fn import_line(&self) -> String {
        if self.macro_names.is_empty() {
            return String::new();
        }
        let bodies: Vec<String> = self.macro_names.iter().map(|n| macro_body_name(n)).collect();
        format!("{{%- from \"{MACROS}\" import {} -%}}", bodies.join(", "))
    }

    fn environment(&self, pass: Pass<'_>, captured: &Arc<Mutex<Rendered>>) -> Environment<'static> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // SQL is not HTML: nothing is escaped.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.add_template_owned(MACROS, self.macros_source.clone()).ok();

        let mut target = BTreeMap::new();
        target.insert("type", self.target.dialect.adapter().to_string());
        target.insert("name", self.target.name.clone());
        target.insert("schema", self.target.schema.clone());
        target.insert("database", self.target.database.clone());
        env.add_global("target", Value::from(Serde(&target)));
        env.add_global(
            "run_started_at",
            Value::from_object(StartedAt(self.invocation.started_at)),
        );
        env.add_global("invocation_id", Value::from(self.invocation.id.clone()));
        env.add_global("exceptions", Value::from_object(Exceptions));
        env.add_function("log", |message: Value, info: Option<bool>, kwargs: Kwargs| {
            let info = info.or_else(|| kwargs.get::<Option<bool>>("info").ok().flatten());
            if info.unwrap_or(false) {
                tracing::info!(message = %message, "a model's template logs");
            } else {
                tracing::debug!(message = %message, "a model's template logs");
            }
            String::new()
        });
        // return(value): the innermost macro call ends with `value` (see macro_body_name).
        let returned: Arc<Mutex<Vec<Option<Value>>>> = Arc::default();
        let slot = Arc::clone(&returned);
        env.add_function("return", move |value: Value| -> Result<Value, Error> {
            let mut stack = slot.lock().expect("render state is not poisoned");
            let Some(top) = stack.last_mut() else {
                return Err(Error::new(ErrorKind::InvalidOperation, "return() is only for macros"));
            };
            *top = Some(value);
            // Stops the macro's body; its caller takes the value.
            Err(Error::new(ErrorKind::InvalidOperation, "return"))
        });
        for name in &self.macro_names {
            let body = macro_body_name(name);
            let returned = Arc::clone(&returned);
            env.add_function(
                name.clone(),
                // Keyword arguments too (`current_versions(..., by_staged_at=true)`):
                // they reach the macro as written.
                move |state: &mut minijinja::State<'_, '_>,
                      args: minijinja::value::Rest<minijinja::value::ValueOrKwargs>|
                      -> Result<Value, Error> {
                    let args = args.into_values();
                    let target = state
                        .lookup(&body)
                        .ok_or_else(|| Error::new(ErrorKind::UndefinedError, format!("macro {body} is not loaded")))?;
                    returned.lock().expect("render state is not poisoned").push(None);
                    let result = target.call(state, &args);
                    let value = returned.lock().expect("render state is not poisoned").pop().flatten();
                    match (result, value) {
                        (_, Some(value)) => Ok(value),
                        (result, None) => result,
                    }
                },
            );
        }

        let known: Vec<NodeName> = self.project.nodes.iter().map(|n| n.name.clone()).collect();
        let relations = match pass {
            Pass::Parse => None,
            Pass::Run { relations, .. } => Some(relations.clone()),
        };
        let refs = Arc::clone(captured);
        env.add_function("ref", move |args: &[Value]| -> Result<Value, Error> {
            // ref('name') or ref('package', 'name'): the last argument is the model.
            let name = args
                .last()
                .and_then(Value::as_str)
                .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "ref() needs a model name"))?;
            let name = NodeName(name.to_string());
            if !known.contains(&name) {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("ref('{name}'): the project has no model or snapshot called `{name}`"),
                ));
            }
            refs.lock()
                .expect("render state is not poisoned")
                .refs
                .push(name.clone());
            let relation = match &relations {
                Some(relations) => relations.get(&name).cloned().expect("every node has a relation"),
                None => Relation {
                    schema: String::new(),
                    name: name.0,
                },
            };
            Ok(Value::from_object(relation))
        });

        let sources: Vec<(String, String, Relation)> = self
            .project
            .sources
            .iter()
            .map(|s| {
                let relation = Relation {
                    schema: s.schema.clone(),
                    name: s.identifier.clone(),
                };
                (s.source.clone(), s.name.clone(), relation)
            })
            .collect();
        let read = Arc::clone(captured);
        env.add_function("source", move |source: &str, table: &str| -> Result<Value, Error> {
            sources
                .iter()
                .find(|(s, t, _)| s == source && t == table)
                .map(|(_, _, relation)| {
                    read.lock()
                        .expect("render state is not poisoned")
                        .sources
                        .push((source.to_string(), table.to_string()));
                    Value::from_object(relation.clone())
                })
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("source('{source}', '{table}') is not declared in any sources: YAML"),
                    )
                })
        });

        let config = Arc::clone(captured);
        env.add_function("config", move |kwargs: Kwargs| -> Result<String, Error> {
            let mut state = config.lock().expect("render state is not poisoned");
            for key in kwargs.args() {
                let value: Value = kwargs.get(key)?;
                let json = serde_json::to_value(&value)
                    .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("config({key}=…): {e}")))?;
                state.config.insert(key.to_string(), json);
            }
            Ok(String::new())
        });

        let is_incremental = matches!(
            pass,
            Pass::Run {
                is_incremental: true,
                ..
            }
        );
        env.add_function("is_incremental", move || is_incremental);
        let this = match pass {
            Pass::Parse => Relation {
                schema: String::new(),
                name: "this".into(),
            },
            Pass::Run { this, .. } => this.clone(),
        };
        env.add_global("this", Value::from_object(this));

        let vars = self.vars.clone();
        env.add_function(
            "var",
            move |name: &str, default: Option<Value>| -> Result<Value, Error> {
                match (vars.get(name), default) {
                    (Some(value), _) => Ok(Value::from(Serde(value))),
                    (None, Some(default)) => Ok(default),
                    (None, None) => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("var('{name}') is not set in dbt_project.yml and has no default"),
                    )),
                }
            },
        );
        env.add_function(
            "env_var",
            |name: &str, default: Option<String>| -> Result<String, Error> {
                match (std::env::var(name), default) {
                    (Ok(value), _) => Ok(value),
                    (Err(_), Some(default)) => Ok(default),
                    (Err(_), None) => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("env_var('{name}') is not set and has no default"),
                    )),
                }
            },
        );
        env
    }

    /// The error with the file and line a person should open.
    fn template_error(&self, path: &str, error: &Error) -> TransformError {
        let mut detail = error.detail().map_or_else(|| error.kind().to_string(), str::to_string);
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            detail.push_str(&format!(": {inner}"));
            source = inner.source();
        }
        let (file, line) = match (error.name(), error.line()) {
            (Some(MACROS), Some(line)) => {
                let (start, file) = self
                    .macro_files
                    .iter()
                    .rev()
                    .find(|(start, _)| *start < line)
                    .cloned()
                    .unwrap_or((0, MACROS.to_string()));
                (file, Some(line - start))
            }
            (_, line) => (path.to_string(), line),
        };
        TransformError::Template {
            file,
            line,
            message: detail,
        }
    }
}

/// `source` with each `{% macro name(` in `names` renamed to its body's name.
fn with_renamed_definitions(source: &str, names: &[String]) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        let (before, after) = rest.split_at(start + 2);
        out.push_str(before);
        let trimmed = after.trim_start_matches(['-', '+']).trim_start();
        let skipped = after.len() - trimmed.len();
        match trimmed.strip_prefix("macro ") {
            Some(definition) => {
                let name_start = definition.len() - definition.trim_start().len();
                let name: String = definition
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.push_str(&after[..skipped + "macro ".len() + name_start]);
                if names.contains(&name) {
                    out.push_str(&macro_body_name(&name));
                } else {
                    out.push_str(&name);
                }
                rest = &definition.trim_start()[name.len()..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// Names of the macros a file defines: `{% macro name(…) %}`.
fn macro_definitions(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        let after = &rest[start + 2..];
        let body = after.trim_start_matches(['-', '+']).trim_start();
        if let Some(definition) = body.strip_prefix("macro ") {
            let name: String = definition
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.push(name);
            }
        }
        rest = after;
    }
    names
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::project::{Node, NodeKind};

    fn project(macros: &[(&str, &str)], nodes: &[&str]) -> Project {
        Project {
            root: PathBuf::from("."),
            name: "p".into(),
            vars: BTreeMap::from([("interval".to_string(), serde_json::json!(0.25))]),
            nodes: nodes
                .iter()
                .map(|n| Node {
                    name: NodeName(n.to_string()),
                    kind: NodeKind::Model,
                    path: format!("{n}.sql"),
                    sql: String::new(),
                    fqn: vec!["p".into(), n.to_string()],
                    yaml_config: BTreeMap::new(),
                    patch_path: None,
                })
                .collect(),
            macros: macros.iter().map(|(p, s)| (p.to_string(), s.to_string())).collect(),
            sources: Vec::new(),
            tests: Vec::new(),
            unused_config_paths: Vec::new(),
            ignored_properties: Vec::new(),
        }
    }

    fn duckdb() -> Target {
        Target {
            dialect: Dialect::DuckDb,
            schema: "main".into(),
            name: "dev".into(),
            database: "warehouse".into(),
        }
    }

    #[test]
    fn dbts_context_return_exceptions_log_and_the_run() {
        let project = project(
            &[(
                "m/util.sql",
                "{% macro columns(t) %}ignored text {% do return(['a', 'b'] if t == 'x' else []) %}{% endmacro %}\n\
                 {% macro pick(t) -%}{{ return(columns(t) | length) }}{%- endmacro %}\n\
                 {% macro check(v) %}{% if v < 0 %}{{ exceptions.raise_compiler_error('negative: ' ~ v) }}{% endif %}{{ log('checked', info=true) }}ok{% endmacro %}",
            )],
            &["n"],
        );
        let started: chrono::DateTime<chrono::Utc> = "2026-11-29T22:11:00.5Z".parse().unwrap();
        let renderer = Renderer::new(&project, duckdb()).with_invocation(Invocation {
            started_at: started,
            id: "inv-1".into(),
        });
        let render = |sql: &str| renderer.render("models/n.sql", sql, Pass::Parse);
        // return() ends the macro with a value of any type, its other text dropped.
        assert_eq!(
            render("{% set c = columns('x') %}{{ c | join(',') }}").unwrap().sql,
            "a,b"
        );
        assert_eq!(render("{{ pick('x') }}-{{ pick('y') }}").unwrap().sql, "2-0");
        assert_eq!(render("{{ check(1) }}").unwrap().sql, "ok");
        let error = render("select\n{{ check(-1) }}").unwrap_err().to_string();
        // Named where it was raised: the macro's file and line.
        assert!(
            error.contains("m/util.sql:3") && error.contains("negative: -1"),
            "{error}"
        );
        assert_eq!(
            render("{{ target.name }} {{ target.database }} {{ invocation_id }} {{ run_started_at.strftime('%Y-%m-%d') }} {{ run_started_at }}")
                .unwrap()
                .sql,
            "dev warehouse inv-1 2026-11-29 2026-11-29 22:11:00.500000+00:00"
        );
        assert!(
            render("{{ return(1) }}")
                .unwrap_err()
                .to_string()
                .contains("only for macros")
        );
    }

    #[test]
    fn macros_from_every_file_call_each_other_and_see_the_target() {
        let project = project(
            &[
                ("m/a.sql", "{% macro outer(x) %}[{{ inner(x) }}]{% endmacro %}"),
                (
                    "m/b.sql",
                    "{% macro inner(x, y='-') %}{{ x }}{{ y }}@{{ target.type }}{% endmacro %}",
                ),
            ],
            &[],
        );
        let renderer = Renderer::new(&project, duckdb());
        assert_eq!(
            renderer.render("x.sql", "{{ outer('v') }}", Pass::Parse).unwrap().sql,
            "[v-@duckdb]"
        );
        // Keyword arguments, as dbt passes them.
        assert_eq!(
            renderer
                .render("x.sql", "{{ inner('v', y='+') }} {{ inner(x='w') }}", Pass::Parse)
                .unwrap()
                .sql,
            "v+@duckdb w-@duckdb"
        );
    }

    #[test]
    fn parse_pass_records_refs_and_config() {
        let project = project(&[], &["stg", "dim"]);
        let renderer = Renderer::new(&project, duckdb());
        let sql = "{{ config(materialized='incremental', unique_key=['a', 'b']) }}\nselect * from {{ ref('stg') }} join {{ ref('dim') }}\n{% if is_incremental() %}where false{% endif %}";
        let rendered = renderer.render("fact.sql", sql, Pass::Parse).unwrap();
        assert_eq!(rendered.refs, [NodeName("stg".into()), NodeName("dim".into())]);
        assert_eq!(rendered.config["materialized"], "incremental");
        assert_eq!(rendered.config["unique_key"], serde_json::json!(["a", "b"]));
        assert_eq!(rendered.sql, "select * from stg join dim");
    }

    #[test]
    fn run_pass_renders_relations_this_and_vars() {
        let project = project(&[], &["stg"]);
        let renderer = Renderer::new(&project, duckdb());
        let relations = BTreeMap::from([(
            NodeName("stg".into()),
            Relation {
                schema: "staging".into(),
                name: "stg".into(),
            },
        )]);
        let this = Relation {
            schema: "marts".into(),
            name: "fact".into(),
        };
        let pass = Pass::Run {
            relations: &relations,
            this: &this,
            is_incremental: true,
        };
        let sql = "select {{ var('interval') }} from {{ ref('stg') }}{% if is_incremental() %} where t > (select max(t) from {{ this }}) and '{{ this.schema }}' = 'marts'{% endif %}";
        assert_eq!(
            renderer.render("fact.sql", sql, pass).unwrap().sql,
            "select 0.25 from staging.stg where t > (select max(t) from marts.fact) and 'marts' = 'marts'"
        );
    }

    #[test]
    fn a_bad_ref_or_unknown_jinja_names_the_file_and_line() {
        let project = project(
            &[(
                "macros/m.sql",
                "{% macro ok() %}1{% endmacro %}\n\n{% macro broken() %}{{ nope }}{% endmacro %}",
            )],
            &["stg"],
        );
        let renderer = Renderer::new(&project, duckdb());
        let error = renderer
            .render("models/x.sql", "select 1\nfrom {{ ref('missing') }}", Pass::Parse)
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("models/x.sql:2") && text.contains("missing"), "{text}");

        let error = renderer
            .render("models/y.sql", "select\n\n  {{ adapter.dispatch('x') }}", Pass::Parse)
            .unwrap_err();
        assert!(error.to_string().contains("models/y.sql:3"), "{error}");

        let error = renderer
            .render("models/z.sql", "select {{ broken() }}", Pass::Parse)
            .unwrap_err();
        assert!(error.to_string().contains("macros/m.sql:3"), "{error}");
    }
}
