//! Aligning two policy trees node by node, so that A's and B's keys can be compared where the
//! trees differ in shape (a decorator edit that added `RUN_ID`, an older Prefect's nesting).
//!
//! The root of one tree goes with the root of the other. Below a compound, a child goes with the
//! child of the same class and the same rank among its siblings of that class: the first Inputs
//! with the first Inputs, and so on. Prefect's compounds hold each class once in practice, so
//! this is the obvious pairing; what cannot be paired was added or removed.

use std::collections::HashMap;

use crate::policy::PolicyNode;

/// How B's tree maps onto A's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alignment {
    /// B path -> A path, for every B node with a counterpart in A (the roots always pair).
    pub to_a: HashMap<String, String>,
    /// B paths of nodes whose own shape differs from their counterpart's: another class, or a
    /// compound whose children are not the same classes in the same order.
    pub reshaped: Vec<String>,
    /// Nodes of B with no counterpart: (B path, class).
    pub added: Vec<(String, String)>,
    /// Nodes of A with no counterpart: (A path, class).
    pub removed: Vec<(String, String)>,
}

/// The path of child `i` below `parent`, as the engine names nodes ("" root, "1", "1/0").
pub fn child_path(parent: &str, i: usize) -> String {
    if parent.is_empty() {
        i.to_string()
    } else {
        format!("{parent}/{i}")
    }
}

/// Aligns B's tree onto A's.
pub fn align(a: &PolicyNode, b: &PolicyNode) -> Alignment {
    let mut out = Alignment::default();
    pair(a, "", b, "", &mut out);
    out
}

fn pair(a: &PolicyNode, a_path: &str, b: &PolicyNode, b_path: &str, out: &mut Alignment) {
    out.to_a.insert(b_path.to_string(), a_path.to_string());
    if a.class_name() != b.class_name() {
        out.reshaped.push(b_path.to_string());
        removed_below(a, a_path, out);
        added_below(b, b_path, out);
        return;
    }
    let (a_kids, b_kids) = (a.children(), b.children());
    let classes = |kids: &[PolicyNode]| kids.iter().map(|k| k.class_name().to_string()).collect();
    let (a_classes, b_classes): (Vec<String>, Vec<String>) = (classes(a_kids), classes(b_kids));
    if a_classes != b_classes {
        out.reshaped.push(b_path.to_string());
    }
    let mut used = vec![false; a_kids.len()];
    for (i, b_kid) in b_kids.iter().enumerate() {
        let rank = b_classes[..i]
            .iter()
            .filter(|c| **c == b_classes[i])
            .count();
        let counterpart = a_classes
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == b_classes[i])
            .nth(rank)
            .map(|(j, _)| j);
        let b_child = child_path(b_path, i);
        match counterpart {
            Some(j) => {
                used[j] = true;
                pair(&a_kids[j], &child_path(a_path, j), b_kid, &b_child, out);
            }
            None => {
                out.added
                    .push((b_child.clone(), b_kid.class_name().to_string()));
                added_below(b_kid, &b_child, out);
            }
        }
    }
    for (j, a_kid) in a_kids.iter().enumerate() {
        if !used[j] {
            let a_child = child_path(a_path, j);
            out.removed
                .push((a_child.clone(), a_kid.class_name().to_string()));
            removed_below(a_kid, &a_child, out);
        }
    }
}

fn added_below(node: &PolicyNode, path: &str, out: &mut Alignment) {
    for (i, kid) in node.children().iter().enumerate() {
        let p = child_path(path, i);
        out.added.push((p.clone(), kid.class_name().to_string()));
        added_below(kid, &p, out);
    }
}

fn removed_below(node: &PolicyNode, path: &str, out: &mut Alignment) {
    for (i, kid) in node.children().iter().enumerate() {
        let p = child_path(path, i);
        out.removed.push((p.clone(), kid.class_name().to_string()));
        removed_below(kid, &p, out);
    }
}

/// The node at `path` ("" the root, "1/0").
pub fn node_at<'t>(tree: &'t PolicyNode, path: &str) -> Option<&'t PolicyNode> {
    if path.is_empty() {
        return Some(tree);
    }
    let mut node = tree;
    for part in path.split('/') {
        node = node.children().get(part.parse::<usize>().ok()?)?;
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_policy;

    #[test]
    fn same_shape_pairs_every_node_by_path() {
        let a = parse_policy("INPUTS + TASK_SOURCE").unwrap();
        let b = parse_policy("(INPUTS + TASK_SOURCE) - 'x'").unwrap();
        let al = align(&a, &b);
        assert!(al.reshaped.is_empty() && al.added.is_empty() && al.removed.is_empty());
        assert_eq!(al.to_a.len(), 3);
        assert_eq!(al.to_a["1"], "1");
    }

    #[test]
    fn an_added_run_id_reshapes_the_root_and_shifts_inputs() {
        let a = parse_policy("INPUTS + TASK_SOURCE").unwrap();
        let b = parse_policy("DEFAULT").unwrap();
        let al = align(&a, &b);
        assert_eq!(al.reshaped, [""]);
        assert_eq!(al.added, [("1".to_string(), "RunId".to_string())]);
        // [TaskSource, RunId, Inputs] against [TaskSource, Inputs]: Inputs 2 goes with 1.
        assert_eq!(al.to_a["2"], "1");
        assert_eq!(al.to_a["0"], "0");
        assert!(al.removed.is_empty());
    }

    #[test]
    fn another_root_class_removes_and_adds_everything_below() {
        let a = parse_policy("TASK_SOURCE + RUN_ID").unwrap();
        let b = parse_policy("INPUTS").unwrap();
        let al = align(&a, &b);
        assert_eq!(al.reshaped, [""]);
        assert_eq!(al.removed.len(), 2);
        assert_eq!(node_at(&a, "1").unwrap().class_name(), "RunId");
        assert!(node_at(&a, "2").is_none());
    }
}
