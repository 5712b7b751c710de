//! dbt's node selection (`--select`, `--exclude`) over the project's graph of models,
//! snapshots, sources and tests, as dbt-core's `NodeSelector` walks it (dbt 1.10,
//! `dbt/graph/selector.py` and `selector_methods.py`).
//!
//! Grammar: arguments (and the words of one argument) are a union; words joined by
//! commas an intersection. A criterion is `method:value` or a bare value (a path if it
//! holds a `/`, a file name if it ends in `.sql`, `.py` or `.csv`, else an fqn or a
//! name), with fnmatch wildcards; `+` before it adds the ancestors (`2+` two
//! generations), `+` after it the descendants (`+1` one), and `@` before it the
//! descendants and all their ancestors.
//!
//! Tests are selected as `dbt build` selects them by default ("eager" indirect
//! selection): a test is picked by a criterion when the criterion matches it itself
//! (name, `tag:`, `path:`, …) or any node it reads, and `--exclude` drops the tests
//! of what it excludes the same way.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::TransformError;
use crate::project::NodeName;

/// One member of the selection graph.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Member {
    /// A model or snapshot.
    Node(NodeName),
    Source {
        source: String,
        table: String,
    },
    /// A test, by its place among the project's planned tests.
    Test(usize),
}

/// What a member is, as dbt's `resource_type` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceType {
    Model,
    Snapshot,
    Source,
    Test,
}

impl ResourceType {
    fn as_str(self) -> &'static str {
        match self {
            ResourceType::Model => "model",
            ResourceType::Snapshot => "snapshot",
            ResourceType::Source => "source",
            ResourceType::Test => "test",
        }
    }
}

/// What dbt's selection methods look at in one member.
#[derive(Clone, Debug)]
pub struct Selectable {
    pub resource_type: ResourceType,
    pub fqn: Vec<String>,
    pub tags: Vec<String>,
    /// The file defining it, relative to the project root.
    pub path: String,
    /// The properties file describing a model or snapshot (dbt's `patch_path`).
    pub patch_path: Option<String>,
    /// Its config as the manifest shows it, which `config.<key>:` compares with.
    pub config: Value,
    /// A generic test's type (`not_null`, `relationships`, …), for `test_name:`.
    pub test_name: Option<String>,
}

/// The project's members, each with what it reads.
#[derive(Debug, Default)]
pub struct Graph {
    package: String,
    members: BTreeMap<Member, Selectable>,
    parents: BTreeMap<Member, BTreeSet<Member>>,
    children: BTreeMap<Member, BTreeSet<Member>>,
}

/// Generations to walk: `None` for all of them.
type Depth = Option<usize>;

/// The methods this runner has; dbt's others are refused by name.
const METHODS: &str =
    "fqn:, tag:, path:, file:, config.<key>:, source:, resource_type:, test_name:, test_type:, package: or a name";

impl Graph {
    /// An empty graph of the project `package`.
    pub fn new(package: &str) -> Graph {
        Graph {
            package: package.to_string(),
            ..Graph::default()
        }
    }

    /// Adds `member`, which reads `parents` (members added before or after).
    pub fn add(&mut self, member: Member, selectable: Selectable, parents: impl IntoIterator<Item = Member>) {
        let parents: BTreeSet<Member> = parents.into_iter().collect();
        for parent in &parents {
            self.children.entry(parent.clone()).or_default().insert(member.clone());
        }
        self.parents.insert(member.clone(), parents);
        self.members.insert(member, selectable);
    }

    /// The members `select` picks, less those `exclude` picks; no `select` picks every
    /// member, as dbt's default (`fqn:*` and `source:*`) does.
    pub fn select(&self, select: &[String], exclude: &[String]) -> Result<BTreeSet<Member>, TransformError> {
        let words = |args: &[String]| -> Vec<String> {
            args.iter()
                .flat_map(|s| s.split_whitespace())
                .map(str::to_string)
                .collect()
        };
        let chosen = if words(select).is_empty() {
            self.members.keys().cloned().collect()
        } else {
            self.union(&words(select))?
        };
        let excluded = self.union(&words(exclude))?;
        Ok(chosen.difference(&excluded).cloned().collect())
    }

    fn union(&self, words: &[String]) -> Result<BTreeSet<Member>, TransformError> {
        let mut chosen = BTreeSet::new();
        for word in words {
            let mut intersection: Option<BTreeSet<Member>> = None;
            for criterion in word.split(',') {
                let picked = self.criterion(criterion)?;
                intersection = Some(match intersection {
                    None => picked,
                    Some(so_far) => so_far.intersection(&picked).cloned().collect(),
                });
            }
            chosen.extend(intersection.unwrap_or_default());
        }
        Ok(chosen)
    }

    /// One criterion's members: those it matches, the neighbours its operators add,
    /// and every test reading any of them (dbt's `expand_selection`, eager mode).
    fn criterion(&self, criterion: &str) -> Result<BTreeSet<Member>, TransformError> {
        let bad = |why: String| TransformError::Selection(format!("`{criterion}`: {why}"));
        let operators = Operators::parse(criterion).map_err(&bad)?;
        let mut matches = BTreeSet::new();
        for (member, selectable) in &self.members {
            if self.matches(member, selectable, operators.value).map_err(&bad)? {
                matches.insert(member.clone());
            }
        }
        if matches.is_empty() {
            let nodes: Vec<&str> = self
                .members
                .keys()
                .filter_map(|m| match m {
                    Member::Node(name) => Some(name.0.as_str()),
                    _ => None,
                })
                .collect();
            return Err(bad(format!(
                "selects nothing; the project's models and snapshots are {} (with their sources and tests)",
                nodes.join(", ")
            )));
        }
        let mut chosen = matches.clone();
        if operators.at {
            let below = self.walk(&matches, None, &self.children);
            let from: BTreeSet<Member> = below.union(&matches).cloned().collect();
            chosen.extend(self.walk(&from, None, &self.parents));
            chosen.extend(below);
        }
        if let Some(depth) = operators.ancestors {
            chosen.extend(self.walk(&matches, depth, &self.parents));
        }
        if let Some(depth) = operators.descendants {
            chosen.extend(self.walk(&matches, depth, &self.children));
        }
        let tests: Vec<Member> = chosen
            .iter()
            .flat_map(|m| self.children.get(m).into_iter().flatten())
            .filter(|m| matches!(m, Member::Test(_)))
            .cloned()
            .collect();
        chosen.extend(tests);
        Ok(chosen)
    }

    /// The members `depth` generations from `start` along `edges`, layer by layer
    /// (dbt's `select_parents` / `select_children`).
    fn walk(
        &self,
        start: &BTreeSet<Member>,
        depth: Depth,
        edges: &BTreeMap<Member, BTreeSet<Member>>,
    ) -> BTreeSet<Member> {
        let mut seen = BTreeSet::new();
        let mut layer: Vec<&Member> = start.iter().collect();
        let mut generation = 0;
        while !layer.is_empty() && depth.is_none_or(|d| generation < d) {
            let mut next = Vec::new();
            for member in layer {
                for found in edges.get(member).into_iter().flatten() {
                    if seen.insert(found.clone()) {
                        next.push(found);
                    }
                }
            }
            layer = next;
            generation += 1;
        }
        seen
    }

    /// Whether `member` meets one criterion's method and value; `Err` for a method
    /// this runner does not have or a value the method cannot take.
    fn matches(&self, member: &Member, node: &Selectable, value: &str) -> Result<bool, String> {
        let (method, value) = match value.split_once(':') {
            Some((method, value)) => (method, value),
            None if value.contains('/') => ("path", value),
            None if [".sql", ".py", ".csv"]
                .iter()
                .any(|e| value.to_lowercase().ends_with(e)) =>
            {
                ("file", value)
            }
            None => ("fqn", value),
        };
        let is_source = node.resource_type == ResourceType::Source;
        let (method, arguments) = match method.split_once('.') {
            Some((method, arguments)) => (method, Some(arguments)),
            None => (method, None),
        };
        Ok(match method {
            // dbt's fqn method looks at every member but sources.
            "fqn" => !is_source && fqn_matches(&node.fqn, value),
            "tag" => node.tags.iter().any(|tag| fnmatch(value, tag)),
            "path" => path_matches(node, value),
            "file" => {
                let name = node.path.rsplit('/').next().unwrap_or_default();
                let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
                fnmatch(value, name) || fnmatch(value, stem)
            }
            "config" => {
                let keys = arguments.ok_or("`config:` needs a key: `config.materialized:table`")?;
                config_matches(&node.config, keys, value)
            }
            "package" => {
                let value = if value == "this" { self.package.as_str() } else { value };
                fnmatch(value, &self.package)
            }
            "resource_type" => {
                const DBT_TYPES: &[&str] = &[
                    "model",
                    "analysis",
                    "test",
                    "snapshot",
                    "operation",
                    "seed",
                    "rpc",
                    "sql_operation",
                    "doc",
                    "source",
                    "macro",
                    "exposure",
                    "metric",
                    "group",
                    "saved_query",
                    "semantic_model",
                    "unit_test",
                    "fixture",
                ];
                if !DBT_TYPES.contains(&value) {
                    return Err(format!("`{value}` is not a resource type dbt has"));
                }
                node.resource_type.as_str() == value
            }
            "test_name" => node.test_name.as_deref().is_some_and(|name| fnmatch(value, name)),
            "test_type" => {
                let generic = node.test_name.is_some();
                match value {
                    "generic" | "schema" => node.resource_type == ResourceType::Test && generic,
                    "singular" => node.resource_type == ResourceType::Test && !generic,
                    "data" => node.resource_type == ResourceType::Test,
                    // This runner refuses unit tests at load, so none is ever selected.
                    "unit" => false,
                    other => {
                        return Err(format!(
                            "`{other}` is not a test type: expected generic, singular, unit or data"
                        ));
                    }
                }
            }
            "source" => {
                let Member::Source { source, table } = member else {
                    return Ok(false);
                };
                match value.split('.').collect::<Vec<_>>()[..] {
                    [s] => fnmatch(s, source),
                    [s, t] => fnmatch(s, source) && fnmatch(t, table),
                    [p, s, t] => fnmatch(p, &self.package) && fnmatch(s, source) && fnmatch(t, table),
                    _ => return Err("a source is `source`, `source.table` or `package.source.table`".into()),
                }
            }
            other => return Err(format!("the method `{other}:` is not supported here; use {METHODS}")),
        })
    }
}

/// A criterion's graph operators around its `method:value`.
struct Operators<'a> {
    at: bool,
    ancestors: Option<Depth>,
    descendants: Option<Depth>,
    value: &'a str,
}

impl<'a> Operators<'a> {
    /// `@value`, `N+value`, `value+N`, as dbt's selector regex reads them.
    fn parse(criterion: &'a str) -> Result<Operators<'a>, String> {
        let depth = |digits: &str| -> Result<Depth, String> {
            if digits.is_empty() {
                Ok(None)
            } else {
                digits.parse().map(Some).map_err(|_| format!("bad depth `{digits}`"))
            }
        };
        let (at, rest) = match criterion.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, criterion),
        };
        let digits_before = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (ancestors, rest) = match rest[digits_before..].strip_prefix('+') {
            Some(after) => (Some(depth(&rest[..digits_before])?), after),
            None => (None, rest),
        };
        let trailing_digits = rest.len() - rest.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (descendants, value) = match rest[..rest.len() - trailing_digits].strip_suffix('+') {
            Some(value) => (Some(depth(&rest[rest.len() - trailing_digits..])?), value),
            None => (None, rest),
        };
        if at && ancestors.is_some() {
            return Err("`@` and a leading `+` do not go together".into());
        }
        Ok(Operators {
            at,
            ancestors,
            descendants,
            value,
        })
    }
}

/// dbt's fqn method (`is_selected_node`), on the fqn and on it without the project:
/// the name itself, or the dotted parts matching the fqn's first ones exactly up to a
/// part with a wildcard, from which the rest of both, joined by dots, must fnmatch.
fn fqn_matches(fqn: &[String], selector: &str) -> bool {
    fn matches(fqn: &[String], selector: &str) -> bool {
        if fqn.last().is_some_and(|name| name == selector) {
            return true;
        }
        let flat: Vec<&str> = fqn.iter().flat_map(|part| part.split('.')).collect();
        let parts: Vec<&str> = selector.split('.').collect();
        if flat.len() < parts.len() {
            return false;
        }
        for (i, part) in parts.iter().enumerate() {
            if part.contains(['*', '?', '[', ']']) {
                return fnmatch(&parts[i..].join("."), &flat[i..].join("."));
            }
            if flat[i] != *part {
                return false;
            }
        }
        true
    }
    matches(fqn, selector) || (!fqn.is_empty() && matches(&fqn[1..], selector))
}

/// dbt's path method: `Path.glob(value)` from the project root, matched against the
/// file defining the member, the properties file describing it, or a folder above
/// the file.
fn path_matches(node: &Selectable, value: &str) -> bool {
    let value = value.trim_start_matches("./").trim_end_matches('/');
    let pattern: Vec<&str> = value.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    let globbed = |path: &str| glob(&pattern, &path.split('/').collect::<Vec<_>>());
    let folders = {
        let parts: Vec<&str> = node.path.split('/').collect();
        (1..parts.len()).map(move |n| parts[..n].join("/"))
    };
    globbed(&node.path) || node.patch_path.as_deref().is_some_and(globbed) || folders.into_iter().any(|f| globbed(&f))
}

/// A path glob, part by part: `*` and the like within one part, `**` any parts.
fn glob(pattern: &[&str], path: &[&str]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(&"**"), _) => glob(&pattern[1..], path) || (!path.is_empty() && glob(pattern, &path[1..])),
        (Some(p), Some(part)) => fnmatch(p, part) && glob(&pattern[1..], &path[1..]),
        _ => false,
    }
}

/// dbt's config method: the config at the dotted `keys` equals `value` (a list
/// holding it; `true`/`false` any case for a boolean; `severity` any case); numbers
/// and nulls never equal the text given.
fn config_matches(config: &Value, keys: &str, value: &str) -> bool {
    let mut found = config;
    for key in keys.split('.') {
        match found.get(key) {
            Some(inner) => found = inner,
            None => return false,
        }
    }
    let equals = |item: &Value| match item {
        Value::String(text) if keys == "severity" => text.eq_ignore_ascii_case(value),
        Value::String(text) => text == value,
        Value::Bool(flag) => value.eq_ignore_ascii_case(if *flag { "true" } else { "false" }),
        _ => false,
    };
    match found {
        Value::Array(items) => items.iter().any(equals),
        other => equals(other),
    }
}

/// Python's `fnmatch` (case-sensitive, as on Linux): `*`, `?`, `[seq]`, `[!seq]`.
fn fnmatch(pattern: &str, text: &str) -> bool {
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        // p starts after '['; returns (matched, length through ']').
        let (negate, start) = if p.first() == Some(&'!') { (true, 1) } else { (false, 0) };
        let close = p.iter().skip(start + 1).position(|&x| x == ']')? + start + 1;
        let set = &p[start..close];
        let mut hit = false;
        let mut i = 0;
        while i < set.len() {
            if i + 2 < set.len() && set[i + 1] == '-' {
                hit |= set[i] <= c && c <= set[i + 2];
                i += 3;
            } else {
                hit |= set[i] == c;
                i += 1;
            }
        }
        Some((hit != negate, close + 1))
    }
    fn go(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some('['), Some(&c)) => match class(&p[1..], c) {
                Some((true, used)) => go(&p[1 + used..], &t[1..]),
                Some((false, _)) => false,
                // No closing bracket: a literal '['.
                None => c == '[' && go(&p[1..], &t[1..]),
            },
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn n(s: &str) -> Member {
        Member::Node(NodeName(s.to_string()))
    }

    /// raw.events → stg → fact → agg, stg → dim → agg; a not_null test on stg, a
    /// relationships test from fact to dim tagged `keys`, a singular test on agg, a
    /// test on the source.
    fn graph() -> Graph {
        let mut graph = Graph::new("p");
        let model = |folder: &str, name: &str, tags: &[&str], materialized: &str| Selectable {
            resource_type: ResourceType::Model,
            fqn: vec!["p".into(), folder.into(), name.into()],
            tags: tags.iter().map(|t| t.to_string()).collect(),
            path: format!("models/{folder}/{name}.sql"),
            patch_path: (folder == "marts").then(|| "models/marts/schema.yml".to_string()),
            config: json!({"materialized": materialized, "enabled": true, "tags": tags, "schema": null}),
            test_name: None,
        };
        let test = |name: &str, generic: Option<&str>, path: &str, tags: &[&str]| Selectable {
            resource_type: ResourceType::Test,
            // The folders of the file defining it, under the first.
            fqn: std::iter::once("p")
                .chain(
                    path.split('/')
                        .skip(1)
                        .collect::<Vec<_>>()
                        .split_last()
                        .unwrap()
                        .1
                        .iter()
                        .copied(),
                )
                .chain([name])
                .map(str::to_string)
                .collect(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            path: path.into(),
            patch_path: None,
            config: json!({"materialized": "test", "severity": "ERROR", "tags": tags}),
            test_name: generic.map(str::to_string),
        };
        let source = Member::Source {
            source: "raw".into(),
            table: "events".into(),
        };
        graph.add(
            source.clone(),
            Selectable {
                resource_type: ResourceType::Source,
                fqn: vec!["p".into(), "raw".into(), "events".into()],
                tags: vec!["landing".into()],
                path: "models/sources.yml".into(),
                patch_path: None,
                config: json!({"enabled": true}),
                test_name: None,
            },
            [],
        );
        graph.add(n("stg"), model("staging", "stg", &[], "view"), [source.clone()]);
        graph.add(
            n("fact"),
            model("marts", "fact", &["hourly"], "incremental"),
            [n("stg")],
        );
        graph.add(
            n("dim"),
            model("marts", "dim", &["hourly", "dims"], "table"),
            [n("stg")],
        );
        graph.add(
            n("agg"),
            model("marts", "agg", &["daily"], "incremental"),
            [n("fact"), n("dim")],
        );
        graph.add(
            Member::Test(0),
            test("not_null_stg_id", Some("not_null"), "models/staging/schema.yml", &[]),
            [n("stg")],
        );
        graph.add(
            Member::Test(1),
            test(
                "relationships_fact_dim_id",
                Some("relationships"),
                "models/marts/schema.yml",
                &["keys"],
            ),
            [n("fact"), n("dim")],
        );
        graph.add(
            Member::Test(2),
            test("agg_ok", None, "tests/agg_ok.sql", &[]),
            [n("agg")],
        );
        graph.add(
            Member::Test(3),
            test("source_unique_raw_events_id", Some("unique"), "models/sources.yml", &[]),
            [source],
        );
        graph
    }

    fn pick(select: &[&str], exclude: &[&str]) -> Vec<String> {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let picked = graph().select(&args(select), &args(exclude)).unwrap();
        let mut names: Vec<String> = picked
            .into_iter()
            .map(|m| match m {
                Member::Node(name) => name.0,
                Member::Source { source, table } => format!("{source}.{table}"),
                Member::Test(i) => format!("t{i}"),
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn models_are_selected_by_dbts_grammar() {
        assert_eq!(pick(&["fact"], &[]), ["fact", "t1"]);
        assert_eq!(pick(&["+fact"], &[]), ["fact", "raw.events", "stg", "t0", "t1", "t3"]);
        assert_eq!(pick(&["stg+1"], &[]), ["dim", "fact", "stg", "t0", "t1"]);
        assert_eq!(pick(&["1+agg"], &[]), ["agg", "dim", "fact", "t1", "t2"]);
        assert_eq!(pick(&["dim fact"], &[]), ["dim", "fact", "t1"]);
        assert_eq!(pick(&["dim", "fact"], &[]), ["dim", "fact", "t1"]);
        assert_eq!(pick(&[], &[]).len(), 9);
        assert_eq!(pick(&["tag:hourly,tag:dims"], &[]), ["dim", "t1"]);
        assert_eq!(
            pick(&["tag:hourly,config.materialized:incremental"], &[]),
            ["fact", "t1"]
        );
        assert_eq!(pick(&["path:models/marts"], &[]), ["agg", "dim", "fact", "t1", "t2"]);
        assert_eq!(pick(&["models/staging/stg.sql"], &[]), ["stg", "t0"]);
        assert_eq!(pick(&["stg.sql"], &[]), ["stg", "t0"]);
        assert_eq!(pick(&["marts.*"], &[]), ["agg", "dim", "fact", "t1", "t2"]);
        assert_eq!(pick(&["fqn:p.marts.d*"], &[]), ["dim", "t1"]);
        assert_eq!(pick(&["@dim"], &[]).len(), 9);
        assert_eq!(
            pick(&[], &["agg"]),
            ["dim", "fact", "raw.events", "stg", "t0", "t1", "t3"]
        );
    }

    #[test]
    fn tests_are_selected_themselves_and_through_what_they_read() {
        // By name, tag, test type, path of the file defining them.
        assert_eq!(pick(&["not_null_stg_id"], &[]), ["t0"]);
        assert_eq!(pick(&["tag:keys"], &[]), ["t1"]);
        assert_eq!(pick(&["test_name:not_null"], &[]), ["t0"]);
        assert_eq!(pick(&["test_type:singular"], &[]), ["t2"]);
        assert_eq!(pick(&["resource_type:test"], &[]), ["t0", "t1", "t2", "t3"]);
        assert_eq!(pick(&["path:models/staging/schema.yml"], &[]), ["t0"]);
        // A model described by a properties file is selected by its path too.
        assert_eq!(
            pick(&["path:models/marts/schema.yml"], &[]),
            ["agg", "dim", "fact", "t1", "t2"]
        );
        // A source, and what reads it.
        assert_eq!(pick(&["source:raw"], &[]), ["raw.events", "t3"]);
        assert_eq!(pick(&["source:raw.events+1"], &[]), ["raw.events", "stg", "t0", "t3"]);
        assert_eq!(pick(&["tag:landing"], &[]), ["raw.events", "t3"]);
        // A test of two models: selected with either (eager), and excluded with either.
        assert_eq!(pick(&["dim"], &[]), ["dim", "t1"]);
        assert_eq!(pick(&["fact", "dim"], &["dim"]), ["fact"]);
        // Excluding a test by name keeps its model.
        assert_eq!(pick(&["fact"], &["relationships_fact_dim_id"]), ["fact"]);
        // `@` takes the ancestors of the tests below too (dim, through t1).
        assert!(pick(&["@fact"], &["source:raw"]).contains(&"dim".to_string()));
        // Intersections are of whole criteria: t1 reads a model of each.
        assert_eq!(pick(&["tag:daily,fact"], &[]), Vec::<String>::new());
        assert_eq!(pick(&["tag:dims,fact"], &[]), ["t1"]);
    }

    #[test]
    fn bad_criteria_are_named() {
        let error = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            graph().select(&args, &[]).unwrap_err().to_string()
        };
        assert!(error(&["nope+"]).contains("selects nothing; the project's models and snapshots are"));
        assert!(error(&["state:modified+"]).contains("`state:` is not supported here"));
        assert!(error(&["resource_type:modle"]).contains("not a resource type"));
        assert!(error(&["test_type:odd"]).contains("not a test type"));
        assert!(error(&["@+fact"]).contains("do not go together"));
        assert!(error(&["config:x"]).contains("needs a key"));
        // Config values compare whole, as dbt compares them.
        assert!(error(&["config.materialized:incr*"]).contains("selects nothing"));
    }

    #[test]
    fn fnmatch_and_fqn_follow_python_and_dbt() {
        assert!(fnmatch("s[tx]g", "stg") && !fnmatch("s[!t]g", "stg") && fnmatch("*", "a.b"));
        let fqn = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        // A wildcard matches from its part on, across dots; a bare name only the leaf
        // or a path from the top.
        assert!(fqn_matches(&fqn(&["p", "marts", "fact"]), "p.m*"));
        assert!(!fqn_matches(&fqn(&["p", "marts", "fact"]), "p.m*s"));
        assert!(!fqn_matches(&fqn(&["p", "marts", "fact"]), "fa*"));
        assert!(fqn_matches(&fqn(&["p", "fact"]), "fa*"));
        assert!(fqn_matches(&fqn(&["p", "marts", "fact"]), "marts"));
    }
}
