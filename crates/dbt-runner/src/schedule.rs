//! The order a run builds its nodes in, when more than one session builds at once
//! (dbt's `threads`).
//!
//! A unit is a node and the tests that run after it ([`crate::run()`] attaches each
//! test to the last of its models in build order). A unit starts once every unit it
//! waits for has finished, and those are chosen so that each node is built, skipped
//! or tested exactly as one session building in build order would:
//! - the units of its parents (a node reads them);
//! - the units of the models its own tests read (a test runs after all of them);
//! - every earlier unit with a test of one of its parents: a failing test stops the
//!   model's descendants, so they must know its outcome before they start.
//!
//! Of the units ready to start, the earliest in build order goes first.

use std::collections::{BTreeMap, BTreeSet};

use crate::project::NodeName;

/// Which units may start, as the others finish.
#[derive(Debug)]
pub struct Schedule {
    /// The units not started yet, in build order, each with the units it waits for.
    waiting: Vec<(NodeName, BTreeSet<NodeName>)>,
    finished: BTreeSet<NodeName>,
}

impl Schedule {
    /// The units `order` lists (the selected nodes, in build order). `parents` are each
    /// node's parents, `test_refs` the models of the tests that run after each node.
    pub fn new(
        order: &[NodeName],
        parents: &BTreeMap<NodeName, BTreeSet<NodeName>>,
        test_refs: &BTreeMap<NodeName, BTreeSet<NodeName>>,
    ) -> Schedule {
        let in_run: BTreeSet<&NodeName> = order.iter().collect();
        let no_refs = BTreeSet::new();
        let refs_of = |name: &NodeName| test_refs.get(name).unwrap_or(&no_refs);
        let waiting = order
            .iter()
            .enumerate()
            .map(|(position, name)| {
                let own_parents = parents.get(name).unwrap_or(&no_refs);
                let mut waits: BTreeSet<NodeName> = own_parents
                    .iter()
                    .chain(refs_of(name))
                    .filter(|n| *n != name && in_run.contains(n))
                    .cloned()
                    .collect();
                waits.extend(
                    order[..position]
                        .iter()
                        .filter(|earlier| !refs_of(earlier).is_disjoint(own_parents))
                        .cloned(),
                );
                (name.clone(), waits)
            })
            .collect();
        Schedule {
            waiting,
            finished: BTreeSet::new(),
        }
    }

    /// The earliest unit in build order whose units to wait for have all finished,
    /// taken off the waiting list; none while every waiting unit still waits (or none
    /// is left).
    pub fn next_ready(&mut self) -> Option<NodeName> {
        let position = self
            .waiting
            .iter()
            .position(|(_, waits)| waits.is_subset(&self.finished))?;
        Some(self.waiting.remove(position).0)
    }

    /// Records that `unit` finished.
    pub fn finish(&mut self, unit: &NodeName) {
        self.finished.insert(unit.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<NodeName> {
        list.iter().map(|n| NodeName(n.to_string())).collect()
    }

    fn map(entries: &[(&str, &[&str])]) -> BTreeMap<NodeName, BTreeSet<NodeName>> {
        entries
            .iter()
            .map(|(n, set)| (NodeName(n.to_string()), names(set).into_iter().collect()))
            .collect()
    }

    /// Starts every ready unit, then finishes them all, until none is left, and
    /// returns the units started at each step.
    fn waves(schedule: &mut Schedule) -> Vec<Vec<String>> {
        let mut waves = Vec::new();
        loop {
            let mut wave = Vec::new();
            while let Some(unit) = schedule.next_ready() {
                wave.push(unit);
            }
            if wave.is_empty() {
                assert!(
                    schedule.waiting.is_empty(),
                    "units left that cannot start: {schedule:?}"
                );
                return waves;
            }
            for unit in &wave {
                schedule.finish(unit);
            }
            waves.push(wave.into_iter().map(|n| n.0).collect());
        }
    }

    #[test]
    fn independent_units_start_together_and_children_wait_for_their_parents() {
        let order = names(&["stg_a", "stg_b", "fact", "agg", "dim"]);
        let parents = map(&[("fact", &["stg_a"]), ("agg", &["fact"]), ("dim", &["fact", "stg_b"])]);
        let mut schedule = Schedule::new(&order, &parents, &BTreeMap::new());
        assert_eq!(
            waves(&mut schedule),
            [vec!["stg_a", "stg_b"], vec!["fact"], vec!["agg", "dim"]]
        );
    }

    #[test]
    fn a_unit_waits_for_every_model_its_tests_read() {
        // A relationships test of `fact` against `dim` runs after `dim`, the later one.
        let order = names(&["fact", "dim"]);
        let tests = map(&[("dim", &["fact", "dim"])]);
        let mut schedule = Schedule::new(&order, &BTreeMap::new(), &tests);
        assert_eq!(waves(&mut schedule), [vec!["fact"], vec!["dim"]]);
    }

    #[test]
    fn a_child_waits_for_an_earlier_unit_that_tests_its_parent() {
        // `late` carries a test of `base` (with `late`): if it fails, `child` of `base`
        // is skipped, as in a build in order, where `late` comes first.
        let order = names(&["base", "other", "late", "child"]);
        let parents = map(&[("late", &["other"]), ("child", &["base"])]);
        let tests = map(&[("late", &["base", "late"])]);
        let mut schedule = Schedule::new(&order, &parents, &tests);
        assert_eq!(
            waves(&mut schedule),
            [vec!["base", "other"], vec!["late"], vec!["child"]]
        );
    }

    #[test]
    fn parents_outside_the_run_are_not_waited_for() {
        let order = names(&["child"]);
        let parents = map(&[("child", &["not_selected"])]);
        let mut schedule = Schedule::new(&order, &parents, &BTreeMap::new());
        assert_eq!(waves(&mut schedule), [vec!["child"]]);
    }

    #[test]
    fn the_earliest_ready_unit_in_build_order_goes_first() {
        let order = names(&["a", "b", "c"]);
        let parents = map(&[("b", &["a"])]);
        let mut schedule = Schedule::new(&order, &parents, &BTreeMap::new());
        assert_eq!(schedule.next_ready(), Some(NodeName("a".into())));
        assert_eq!(schedule.next_ready(), Some(NodeName("c".into())));
        assert_eq!(schedule.next_ready(), None, "b waits for a");
        schedule.finish(&NodeName("a".into()));
        assert_eq!(schedule.next_ready(), Some(NodeName("b".into())));
    }
}
