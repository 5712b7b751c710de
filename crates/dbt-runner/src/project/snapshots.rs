//! Snapshots, from `{% snapshot %}` blocks in `.sql` files or from YAML.

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml_ng::Value as Yaml;

use super::node::{Node, NodeKind, NodeName};
use crate::TransformError;
use crate::yaml::{seq, str_of};

/// Splits a snapshot file into its `{% snapshot name %}…{% endsnapshot %}` blocks.
/// The tags become blank text of the same line count, so errors keep file lines.
pub(super) fn snapshot_blocks(path: &str, text: &str) -> Result<Vec<Node>, TransformError> {
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
pub(super) fn yaml_snapshots(path: &str, yaml: &Yaml) -> Result<Vec<Node>, TransformError> {
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
