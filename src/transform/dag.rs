//! Build order from refs, and dbt's node selection (`--select`, `--exclude`).

use std::collections::{BTreeMap, BTreeSet};

use super::TransformError;
use super::project::NodeName;

/// Each node's direct upstream nodes.
pub type Dependencies = BTreeMap<NodeName, BTreeSet<NodeName>>;

/// Every node after all of its dependencies; ties in name order, so runs repeat.
pub fn build_order(deps: &Dependencies) -> Result<Vec<NodeName>, TransformError> {
    let mut remaining: BTreeMap<&NodeName, usize> = deps.iter().map(|(n, d)| (n, d.len())).collect();
    let mut order = Vec::with_capacity(deps.len());
    loop {
        let ready: Vec<NodeName> = remaining
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(k, _)| (*k).clone())
            .collect();
        if ready.is_empty() {
            break;
        }
        for node in ready {
            remaining.remove(&node);
            for (child, parents) in deps {
                if parents.contains(&node) {
                    if let Some(count) = remaining.get_mut(child) {
                        *count -= 1;
                    }
                }
            }
            order.push(node);
        }
    }
    if !remaining.is_empty() {
        let cycle: Vec<String> = remaining.keys().map(|n| n.0.clone()).collect();
        return Err(TransformError::Cycle(cycle));
    }
    Ok(order)
}

/// What dbt's node selection methods look at.
#[derive(Clone, Debug, Default)]
pub struct Selectable {
    pub tags: Vec<String>,
    /// The file, relative to the project root.
    pub path: String,
    pub fqn: Vec<String>,
    /// Configs `config.<key>:` can select on (`materialized`, `schema`, …), as text.
    pub config: BTreeMap<String, String>,
}

/// The nodes `select` picks, less those `exclude` picks; no `select` picks everything.
///
/// dbt's grammar: arguments (and the words of one argument) are a union; words
/// joined by commas an intersection. A criterion is `method:value` (`tag:`, `path:`,
/// `fqn:`, `config.<key>:`) or a bare value (a path if it holds a `/` or ends in
/// `.sql`, else an fqn or node name), with `*` wildcards; `+` before it adds the
/// ancestors (`2+` two generations), `+` after it the descendants (`+1` one), and `@`
/// before it the descendants and all their ancestors.
pub fn select(
    deps: &Dependencies,
    nodes: &BTreeMap<NodeName, Selectable>,
    select: &[String],
    exclude: &[String],
) -> Result<BTreeSet<NodeName>, TransformError> {
    let words = |args: &[String]| -> Vec<String> {
        args.iter()
            .flat_map(|s| s.split_whitespace())
            .map(str::to_string)
            .collect()
    };
    let chosen = if words(select).is_empty() {
        deps.keys().cloned().collect()
    } else {
        union(deps, nodes, &words(select))?
    };
    let excluded = union(deps, nodes, &words(exclude))?;
    Ok(chosen.difference(&excluded).cloned().collect())
}

fn union(
    deps: &Dependencies,
    nodes: &BTreeMap<NodeName, Selectable>,
    words: &[String],
) -> Result<BTreeSet<NodeName>, TransformError> {
    let mut chosen = BTreeSet::new();
    for word in words {
        let mut intersection: Option<BTreeSet<NodeName>> = None;
        for criterion in word.split(',') {
            let picked = criterion_nodes(deps, nodes, criterion)?;
            intersection = Some(match intersection {
                None => picked,
                Some(so_far) => so_far.intersection(&picked).cloned().collect(),
            });
        }
        chosen.extend(intersection.unwrap_or_default());
    }
    Ok(chosen)
}

/// Generations to walk: `None` for all of them.
type Depth = Option<usize>;

fn criterion_nodes(
    deps: &Dependencies,
    nodes: &BTreeMap<NodeName, Selectable>,
    criterion: &str,
) -> Result<BTreeSet<NodeName>, TransformError> {
    let bad = |why: String| TransformError::Selection(format!("`{criterion}`: {why}"));
    let (at, rest) = match criterion.strip_prefix('@') {
        Some(rest) => (true, rest),
        None => (false, criterion),
    };
    // N+ before, +N after.
    let digits_before = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let (ancestors, rest): (Option<Depth>, &str) = match rest[digits_before..].strip_prefix('+') {
        Some(after) if digits_before == 0 => (Some(None), after),
        Some(after) => (
            Some(Some(
                rest[..digits_before].parse().map_err(|_| bad("bad depth".into()))?,
            )),
            after,
        ),
        None => (None, rest),
    };
    let trailing_digits = rest.len() - rest.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (descendants, value): (Option<Depth>, &str) = {
        let without_digits = &rest[..rest.len() - trailing_digits];
        match without_digits.strip_suffix('+') {
            Some(value) if trailing_digits == 0 => (Some(None), value),
            Some(value) => (
                Some(Some(
                    rest[rest.len() - trailing_digits..]
                        .parse()
                        .map_err(|_| bad("bad depth".into()))?,
                )),
                value,
            ),
            None => (None, rest),
        }
    };
    if at && ancestors.is_some() {
        return Err(bad("`@` and a leading `+` do not go together".into()));
    }
    let mut matches = BTreeSet::new();
    for (name, node) in nodes {
        if node_matches(name, node, value).map_err(&bad)? {
            matches.insert(name.clone());
        }
    }
    if matches.is_empty() {
        return Err(bad(format!(
            "selects nothing; the project's nodes are {}",
            nodes.keys().map(|n| n.0.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    let parents = |n: &NodeName| deps.get(n).into_iter().flatten().cloned().collect::<Vec<_>>();
    let children = |n: &NodeName| {
        deps.iter()
            .filter(|(_, parents)| parents.contains(n))
            .map(|(c, _)| c.clone())
            .collect::<Vec<_>>()
    };
    let mut chosen = matches.clone();
    for node in &matches {
        if let Some(depth) = ancestors {
            chosen.extend(reachable_within(node, depth, &parents));
        }
        if let Some(depth) = descendants {
            chosen.extend(reachable_within(node, depth, &children));
        }
        if at {
            let below = reachable_within(node, None, &children);
            for child in below.iter().chain(std::iter::once(node)) {
                chosen.extend(reachable_within(child, None, &parents));
            }
            chosen.extend(below);
        }
    }
    Ok(chosen)
}

/// Whether `node` meets one criterion's method and value; `Err` for a method this
/// runner does not have.
fn node_matches(name: &NodeName, node: &Selectable, value: &str) -> Result<bool, String> {
    let (method, value) = match value.split_once(':') {
        Some((method, value)) => (Some(method), value),
        None => (None, value),
    };
    let found = match method {
        Some("tag") => node.tags.iter().any(|t| wildcard(value, t)),
        Some("path") => path_matches(&node.path, value),
        Some("fqn") => fqn_matches(name, &node.fqn, value),
        Some(method) if method.starts_with("config.") => node
            .config
            .get(&method["config.".len()..])
            .is_some_and(|v| wildcard(value, v)),
        Some(other) => {
            return Err(format!(
                "the method `{other}:` is not supported here; use tag:, path:, fqn:, config.<key>: or a name"
            ));
        }
        None if value.contains('/') || value.ends_with(".sql") => path_matches(&node.path, value),
        None => fqn_matches(name, &node.fqn, value),
    };
    Ok(found)
}

/// dbt's path method: the file itself, or any file under the folder.
fn path_matches(path: &str, value: &str) -> bool {
    let value = value.trim_end_matches('/');
    wildcard(value, path) || path.starts_with(&format!("{value}/"))
}

/// dbt's fqn method: the node's name, or a dotted prefix of its fqn (with or without
/// the project name), each part a wildcard.
fn fqn_matches(name: &NodeName, fqn: &[String], value: &str) -> bool {
    if wildcard(value, &name.0) {
        return true;
    }
    let parts: Vec<&str> = value.split('.').collect();
    let prefix_of = |fqn: &[String]| {
        parts.len() <= fqn.len() && parts.iter().zip(fqn).all(|(pattern, part)| wildcard(pattern, part))
    };
    prefix_of(fqn) || fqn.len() > 1 && prefix_of(&fqn[1..])
}

/// fnmatch-style `*` and `?`.
fn wildcard(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

fn reachable_within(start: &NodeName, depth: Depth, next: &dyn Fn(&NodeName) -> Vec<NodeName>) -> BTreeSet<NodeName> {
    let mut seen = BTreeSet::new();
    let mut frontier = vec![start.clone()];
    let mut generation = 0;
    while !frontier.is_empty() && depth.is_none_or(|d| generation < d) {
        let mut next_frontier = Vec::new();
        for node in frontier {
            for found in next(&node) {
                if seen.insert(found.clone()) {
                    next_frontier.push(found);
                }
            }
        }
        frontier = next_frontier;
        generation += 1;
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> NodeName {
        NodeName(s.to_string())
    }

    /// raw → stg → fact → agg, and stg → dim.
    fn chain() -> Dependencies {
        BTreeMap::from([
            (n("stg"), BTreeSet::new()),
            (n("fact"), BTreeSet::from([n("stg")])),
            (n("dim"), BTreeSet::from([n("stg")])),
            (n("agg"), BTreeSet::from([n("fact"), n("dim")])),
        ])
    }

    #[test]
    fn order_puts_parents_first() {
        let order = build_order(&chain()).unwrap();
        let at = |s| order.iter().position(|x| x.0 == s).unwrap();
        assert!(at("stg") < at("fact") && at("fact") < at("agg") && at("dim") < at("agg"));
    }

    #[test]
    fn a_cycle_is_named() {
        let mut deps = chain();
        deps.get_mut(&n("stg")).unwrap().insert(n("agg"));
        let error = build_order(&deps).unwrap_err().to_string();
        assert!(error.contains("agg") && error.contains("stg"), "{error}");
    }

    fn selectable() -> BTreeMap<NodeName, Selectable> {
        let node = |name: &str, folder: &str, tags: &[&str], materialized: &str| {
            (
                n(name),
                Selectable {
                    tags: tags.iter().map(|t| t.to_string()).collect(),
                    path: format!("models/{folder}/{name}.sql"),
                    fqn: vec!["p".into(), folder.into(), name.into()],
                    config: BTreeMap::from([("materialized".to_string(), materialized.to_string())]),
                },
            )
        };
        BTreeMap::from([
            node("stg", "staging", &[], "view"),
            node("fact", "marts", &["hourly"], "incremental"),
            node("dim", "marts", &["hourly", "dims"], "table"),
            node("agg", "marts", &["daily"], "incremental"),
        ])
    }

    fn pick(select_args: &[&str], exclude: &[&str]) -> Vec<String> {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let picked = select(&chain(), &selectable(), &args(select_args), &args(exclude)).unwrap();
        picked.into_iter().map(|n| n.0).collect()
    }

    #[test]
    fn selection_follows_dbts_grammar() {
        assert_eq!(pick(&["fact"], &[]), ["fact"]);
        assert_eq!(pick(&["+fact"], &[]), ["fact", "stg"]);
        assert_eq!(pick(&["stg+"], &[]), ["agg", "dim", "fact", "stg"]);
        assert_eq!(pick(&["stg+1"], &[]), ["dim", "fact", "stg"]);
        assert_eq!(pick(&["1+agg"], &[]), ["agg", "dim", "fact"]);
        assert_eq!(pick(&["dim fact"], &[]), ["dim", "fact"]);
        assert_eq!(pick(&["dim", "fact"], &[]), ["dim", "fact"]);
        assert_eq!(pick(&[], &[]).len(), 4);
        assert_eq!(pick(&["tag:hourly"], &[]), ["dim", "fact"]);
        assert_eq!(pick(&["tag:hourly,tag:dims"], &[]), ["dim"]);
        assert_eq!(pick(&["tag:hourly,config.materialized:incremental"], &[]), ["fact"]);
        assert_eq!(pick(&["path:models/marts"], &[]), ["agg", "dim", "fact"]);
        assert_eq!(pick(&["models/staging/stg.sql"], &[]), ["stg"]);
        assert_eq!(pick(&["marts.*"], &[]), ["agg", "dim", "fact"]);
        assert_eq!(pick(&["fqn:p.marts.d*"], &[]), ["dim"]);
        assert_eq!(pick(&["@dim"], &[]), ["agg", "dim", "fact", "stg"]);
        assert_eq!(pick(&["stg+"], &["tag:hourly"]), ["agg", "stg"]);
        assert_eq!(pick(&[], &["agg"]), ["dim", "fact", "stg"]);
        let error = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            select(&chain(), &selectable(), &args, &[]).unwrap_err().to_string()
        };
        assert!(error(&["nope+"]).contains("selects nothing; the project's nodes are"));
        assert!(error(&["source:raw+"]).contains("`source:` is not supported here"));
    }
}
