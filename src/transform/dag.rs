//! Build order from refs, and dbt's `--select` syntax (`name`, `+name`, `name+`).

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

/// The nodes `selectors` pick; none picks everything.
///
/// `name` is that node, `+name` adds its ancestors, `name+` its descendants; several
/// selectors (or one with spaces) are a union, as in dbt.
pub fn select(deps: &Dependencies, selectors: &[String]) -> Result<BTreeSet<NodeName>, TransformError> {
    let words: Vec<&str> = selectors.iter().flat_map(|s| s.split_whitespace()).collect();
    if words.is_empty() {
        return Ok(deps.keys().cloned().collect());
    }
    let mut chosen = BTreeSet::new();
    for word in words {
        let (ancestors, rest) = match word.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, word),
        };
        let (descendants, name) = match rest.strip_suffix('+') {
            Some(name) => (true, name),
            None => (false, rest),
        };
        let node = NodeName(name.to_string());
        if !deps.contains_key(&node) {
            let known: Vec<&str> = deps.keys().map(|n| n.0.as_str()).collect();
            return Err(TransformError::Selection(format!(
                "`{word}` selects no model: `{name}` is not one of {}",
                known.join(", ")
            )));
        }
        if ancestors {
            chosen.extend(reachable(&node, |n| {
                deps.get(n).into_iter().flatten().cloned().collect()
            }));
        }
        if descendants {
            chosen.extend(reachable(&node, |n| {
                deps.iter()
                    .filter(|(_, parents)| parents.contains(n))
                    .map(|(c, _)| c.clone())
                    .collect()
            }));
        }
        chosen.insert(node);
    }
    Ok(chosen)
}

fn reachable(start: &NodeName, next: impl Fn(&NodeName) -> Vec<NodeName>) -> BTreeSet<NodeName> {
    let mut seen = BTreeSet::new();
    let mut pending = next(start);
    while let Some(node) = pending.pop() {
        if seen.insert(node.clone()) {
            pending.extend(next(&node));
        }
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

    fn names(set: &BTreeSet<NodeName>) -> Vec<&str> {
        set.iter().map(|n| n.0.as_str()).collect()
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

    #[test]
    fn plus_selects_ancestors_or_descendants() {
        let deps = chain();
        assert_eq!(names(&select(&deps, &["fact".into()]).unwrap()), ["fact"]);
        assert_eq!(names(&select(&deps, &["+fact".into()]).unwrap()), ["fact", "stg"]);
        assert_eq!(
            names(&select(&deps, &["stg+".into()]).unwrap()),
            ["agg", "dim", "fact", "stg"]
        );
        assert_eq!(names(&select(&deps, &["dim fact".into()]).unwrap()), ["dim", "fact"]);
        assert_eq!(select(&deps, &[]).unwrap().len(), 4);
        assert!(
            select(&deps, &["nope+".into()])
                .unwrap_err()
                .to_string()
                .contains("`nope` is not one of")
        );
    }
}
