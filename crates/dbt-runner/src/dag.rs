//! Build order from refs.

use std::collections::{BTreeMap, BTreeSet};

use crate::TransformError;
use crate::project::NodeName;

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
}
