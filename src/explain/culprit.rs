//! Culprits and their proof.
//!
//! A culprit is a node whose key differs between A and B because of its own material: any leaf
//! whose key differs (a leaf's key is a function of its material alone), and a compound only
//! when its own shape changed (otherwise its key differs merely because a child's did).
//!
//! The proof is by substitution: B's tree is recombined from B's node keys with A's key put
//! back at the culprit (for a reshaped compound: A's shape, over B's keys of the nodes it has in
//! common). If that gives A's cache key, the culprit alone made the difference ("proven"). If
//! no single culprit does, groups are tried, smallest first ("pair", with the others named).
//! If nothing gives A's key, the difference is unexplained, and the suspects are listed.

use crate::engine::{Material, Substitutions, evaluate_substituted};
use crate::policy::PolicyNode;

use super::align::{Alignment, align, child_path, node_at};
use super::model::{Proof, Unexplained};
use super::sides::Side;

/// A node that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Path in B's tree.
    pub path: String,
    /// Path of the counterpart in A's tree.
    pub a_path: String,
    /// A compound (or root) whose shape changed.
    pub reshaped: bool,
}

/// A candidate's proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proved {
    pub proof: Proof,
    pub with: Vec<String>,
}

/// Leaves of a tree, by path.
fn leaf_paths(node: &PolicyNode, path: &str, out: &mut Vec<String>) {
    if node.children().is_empty()
        && !matches!(node.kind, crate::policy::PolicyKind::Compound { .. })
    {
        out.push(path.to_string());
        return;
    }
    for (i, child) in node.children().iter().enumerate() {
        leaf_paths(child, &child_path(path, i), out);
    }
}

fn is_compound(node: &PolicyNode) -> bool {
    matches!(node.kind, crate::policy::PolicyKind::Compound { .. })
}

/// True when `path` is `ancestor` or below it.
fn under(path: &str, ancestor: &str) -> bool {
    ancestor.is_empty() || path == ancestor || path.starts_with(&format!("{ancestor}/"))
}

/// Every node of B whose key differs from its counterpart's for a reason of its own, in B's
/// pre-order.
pub fn candidates(a: &Side, b: &Side) -> (Vec<Candidate>, Option<Alignment>) {
    let (Some(at), Some(bt)) = (a.policy, b.policy) else {
        return (Vec::new(), None);
    };
    let alignment = align(at, bt);
    let mut out = Vec::new();
    for node in &b.evaluation.nodes {
        let Some(a_path) = alignment.to_a.get(&node.path) else {
            continue;
        };
        let Some(b_node) = node_at(bt, &node.path) else {
            continue;
        };
        let reshaped = alignment.reshaped.contains(&node.path);
        if is_compound(b_node) && !reshaped {
            continue;
        }
        if a.key_at(a_path) != b.key_at(&node.path) {
            out.push(Candidate {
                path: node.path.clone(),
                a_path: a_path.clone(),
                reshaped,
            });
        }
    }
    (out, Some(alignment))
}

/// B's cache key, recombined from B's node keys with the members of `group` put back to A's.
pub fn hybrid_key(
    a: &Side,
    b: &Side,
    alignment: &Alignment,
    group: &[&Candidate],
) -> Option<String> {
    let (Some(at), Some(bt)) = (a.policy, b.policy) else {
        return None;
    };
    let mut b_leaves = Vec::new();
    leaf_paths(bt, "", &mut b_leaves);
    let mut subs: Substitutions = b_leaves
        .iter()
        .map(|p| (p.clone(), b.keys.get(p).cloned().flatten()))
        .collect();
    let reshaped: Vec<&Candidate> = group.iter().copied().filter(|c| c.reshaped).collect();
    let covered = |p: &str| reshaped.iter().any(|r| under(p, &r.path));
    for c in group.iter().filter(|c| !c.reshaped && !covered(&c.path)) {
        subs.insert(c.path.clone(), a.keys.get(&c.a_path).cloned().flatten());
    }
    for r in &reshaped {
        if reshaped
            .iter()
            .any(|o| o.path != r.path && under(&r.path, &o.path))
        {
            continue; // an outer reshaped node in the group already puts A's shape back
        }
        // A's shape at this node, over B's keys for the leaves both have (unless in the group).
        let mut a_leaves = Vec::new();
        leaf_paths(at, "", &mut a_leaves);
        let mut a_subs = Substitutions::new();
        for q in a_leaves {
            let from_b = alignment
                .to_a
                .iter()
                .find(|(bp, aq)| **aq == q && !group.iter().any(|c| c.path == **bp))
                .map(|(bp, _)| bp.clone())
                .filter(|bp| b_leaves.contains(bp));
            let key = match from_b {
                Some(bp) => b.keys.get(&bp).cloned().flatten(),
                None => a.keys.get(&q).cloned().flatten(),
            };
            a_subs.insert(q, key);
        }
        let e = evaluate_substituted(at, &Material::default(), &a_subs);
        let key = e.node(&r.a_path).and_then(|n| n.key.clone());
        subs.retain(|p, _| !under(p, &r.path) || *p == r.path);
        subs.insert(r.path.clone(), key);
    }
    evaluate_substituted(bt, &Material::default(), &subs)
        .key()
        .map(str::to_string)
}

/// The key a side's node keys combine into with Prefect 3.9.1's composition.
pub fn recombined(side: &Side) -> Option<String> {
    let tree = side.policy?;
    let mut leaves = Vec::new();
    leaf_paths(tree, "", &mut leaves);
    let subs: Substitutions = leaves
        .iter()
        .map(|p| (p.clone(), side.keys.get(p).cloned().flatten()))
        .collect();
    evaluate_substituted(tree, &Material::default(), &subs)
        .key()
        .map(str::to_string)
}

/// Groups of at most this many culprits are tried; beyond, only each alone and all together.
const MAX_GROUP_SEARCH: usize = 8;

/// The proof of every candidate, and whether the difference is explained at all.
pub fn prove(
    a: &Side,
    b: &Side,
    alignment: &Alignment,
    found: &[Candidate],
) -> (Vec<Proved>, bool) {
    let n = found.len();
    let target = a.key.clone();
    let mut proved = vec![
        Proved {
            proof: Proof::Unexplained,
            with: Vec::new(),
        };
        n
    ];
    let sizes: Vec<usize> = if n <= MAX_GROUP_SEARCH {
        (1..=n).collect()
    } else {
        vec![1, n]
    };
    for k in sizes {
        let mut explained = false;
        for group in combinations(n, k) {
            let members: Vec<&Candidate> = group.iter().map(|&i| &found[i]).collect();
            if hybrid_key(a, b, alignment, &members) != target {
                continue;
            }
            explained = true;
            for &i in &group {
                proved[i] = Proved {
                    proof: if k == 1 { Proof::Proven } else { Proof::Pair },
                    with: group
                        .iter()
                        .filter(|&&j| j != i)
                        .map(|&j| found[j].path.clone())
                        .collect(),
                };
            }
        }
        if explained {
            return (proved, true);
        }
    }
    (proved, false)
}

/// The index sets of size `k` from `0..n`, in lexicographic order.
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut current = Vec::with_capacity(k);
    fn rec(start: usize, n: usize, k: usize, current: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if current.len() == k {
            out.push(current.clone());
            return;
        }
        for i in start..n {
            current.push(i);
            rec(i + 1, n, k, current, out);
            current.pop();
        }
    }
    rec(0, n, k, &mut current, &mut out);
    out
}

/// What might explain keys that differ when no substitution does.
pub fn suspects(a: &Side, b: &Side, found: &[Candidate]) -> Unexplained {
    let mut suspects = Vec::new();
    let (va, vb) = (
        a.record.environment.prefect.as_deref(),
        b.record.environment.prefect.as_deref(),
    );
    if va != vb {
        suspects.push(format!(
            "prefect version {} vs {}",
            va.unwrap_or("unknown"),
            vb.unwrap_or("unknown")
        ));
    }
    for (side, v) in [("A", va), ("B", vb)] {
        if let Some(v) = v
            && !v.starts_with("3.9")
            && old_composition(v)
        {
            suspects.push(format!(
                "{side} was recorded with prefect {v}, which composes policies differently \
                 (before 3.1.14 compounds nested or kept Inputs in place)"
            ));
        }
    }
    for (side, s) in [("A", a), ("B", b)] {
        if s.policy.is_none() {
            suspects.push(format!(
                "{side} has no cache policy tree (result_storage_key?): its key cannot be taken apart"
            ));
        } else if recombined(s) != s.key {
            suspects.push(format!(
                "{side}'s node keys do not combine into its cache key with Prefect 3.9.1's \
                 composition rules (other composition rules?)"
            ));
        }
    }
    // Nodes whose keys came from the records: "node 1 unverifiable (Inputs in A and B: why)".
    let mut unverifiable: Vec<(String, String, Vec<&str>, String)> = Vec::new();
    for (side, s) in [("A", a), ("B", b)] {
        for n in &s.evaluation.nodes {
            if n.status != crate::engine::NodeStatus::Unverifiable {
                continue;
            }
            match unverifiable.iter_mut().find(|(p, ..)| *p == n.path) {
                Some((_, _, sides, _)) => sides.push(side),
                None => unverifiable.push((
                    n.path.clone(),
                    n.policy.clone(),
                    vec![side],
                    n.note
                        .clone()
                        .unwrap_or_else(|| "taken from the record".into()),
                )),
            }
        }
    }
    for (path, policy, sides, note) in unverifiable {
        let at = if path.is_empty() {
            "root".to_string()
        } else {
            format!("node {path}")
        };
        suspects.push(format!(
            "{at} unverifiable ({policy} in {}: {note})",
            sides.join(" and ")
        ));
    }
    let summary = if found.is_empty() {
        "the cache keys differ, yet every node of the policy has the same key on both sides"
            .to_string()
    } else {
        format!(
            "putting A's keys back into the {} changed node{} of B's tree does not give A's key",
            found.len(),
            if found.len() == 1 { "" } else { "s" }
        )
    };
    Unexplained { summary, suspects }
}

/// Prefect releases before 3.1.14 composed policies with other rules.
fn old_composition(version: &str) -> bool {
    let parts: Vec<u32> = version
        .split('.')
        .map(|p| {
            p.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .filter_map(|p| p.parse().ok())
        .collect();
    match parts.as_slice() {
        [3, 0, ..] => true,
        [3, 1, patch, ..] => *patch < 14,
        [major, ..] => *major < 3,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::sides::{RunRef, Side};
    use crate::hash::hash_strs;
    use crate::load::RecordSource;
    use crate::policy::{PolicyKind, Recorded};
    use crate::record::{Environment, Outcome, RunRecord, TaskInfo, TaskRunInfo};
    use std::path::Path;

    /// A tree with recorded keys, as read from a record.
    fn leaf(kind: PolicyKind, key: &str) -> PolicyNode {
        PolicyNode {
            kind,
            configure: Default::default(),
            recorded: Some(Recorded {
                key: Some(key.to_string()),
                reproducible: true,
                reason: None,
            }),
        }
    }

    fn compound(children: Vec<PolicyNode>) -> PolicyNode {
        let keys: Vec<String> = children
            .iter()
            .filter_map(|c| c.recorded.as_ref().and_then(|r| r.key.clone()))
            .collect();
        leaf(
            PolicyKind::Compound { policies: children },
            &hash_strs(&keys),
        )
    }

    fn record(policy: PolicyNode, prefect: &str) -> RunRecord {
        RunRecord {
            recorded_at: None,
            environment: Environment {
                prefect: Some(prefect.into()),
                python: None,
            },
            project_root: None,
            flow: None,
            task: TaskInfo {
                name: "t".into(),
                task_key: None,
                qualname: None,
                file: None,
                line: None,
                source: None,
                result_storage_key: None,
            },
            task_run: TaskRunInfo::default(),
            inputs: None,
            key: policy.recorded.as_ref().and_then(|r| r.key.clone()),
            policy: Some(policy),
            outcome: Outcome::default(),
            transaction: None,
        }
    }

    fn source() -> RecordSource {
        RecordSource {
            path: Path::new("r.json").into(),
            line: None,
        }
    }

    fn explain(a: &RunRecord, b: &RunRecord) -> (Vec<Candidate>, Vec<Proved>, bool) {
        let src = source();
        let sa = Side::recorded(RunRef {
            source: &src,
            record: a,
        });
        let sb = Side::recorded(RunRef {
            source: &src,
            record: b,
        });
        let (found, alignment) = candidates(&sa, &sb);
        let (proved, ok) = prove(&sa, &sb, &alignment.unwrap(), &found);
        (found, proved, ok)
    }

    fn paths(found: &[Candidate]) -> Vec<&str> {
        found.iter().map(|c| c.path.as_str()).collect()
    }

    #[test]
    fn one_changed_leaf_is_proven() {
        let a = record(
            compound(vec![
                leaf(PolicyKind::TaskSource, "src-1"),
                leaf(PolicyKind::Inputs { exclude: vec![] }, "in-1"),
            ]),
            "3.9.1",
        );
        let b = record(
            compound(vec![
                leaf(PolicyKind::TaskSource, "src-2"),
                leaf(PolicyKind::Inputs { exclude: vec![] }, "in-1"),
            ]),
            "3.9.1",
        );
        let (found, proved, ok) = explain(&a, &b);
        assert_eq!(paths(&found), ["0"]);
        assert!(ok);
        assert_eq!(proved[0].proof, Proof::Proven);
    }

    #[test]
    fn two_changed_leaves_need_each_other() {
        let tree = |run: &str, inputs: &str| {
            compound(vec![
                leaf(PolicyKind::TaskSource, "src"),
                leaf(PolicyKind::RunId, run),
                leaf(PolicyKind::Inputs { exclude: vec![] }, inputs),
            ])
        };
        let (found, proved, ok) = explain(
            &record(tree("run-1", "in-1"), "3.9.1"),
            &record(tree("run-2", "in-2"), "3.9.1"),
        );
        assert!(ok);
        assert_eq!(paths(&found), ["1", "2"]);
        assert_eq!(
            proved[0],
            Proved {
                proof: Proof::Pair,
                with: vec!["2".into()]
            }
        );
        assert_eq!(
            proved[1],
            Proved {
                proof: Proof::Pair,
                with: vec!["1".into()]
            }
        );
    }

    #[test]
    fn an_added_node_and_a_changed_decorator_prove_together() {
        // INPUTS + TASK_SOURCE became DEFAULT: the decorator edit changed TaskSource too.
        let a = record(
            compound(vec![
                leaf(PolicyKind::TaskSource, "src-1"),
                leaf(PolicyKind::Inputs { exclude: vec![] }, "in"),
            ]),
            "3.9.1",
        );
        let b = record(
            compound(vec![
                leaf(PolicyKind::TaskSource, "src-2"),
                leaf(PolicyKind::RunId, "run"),
                leaf(PolicyKind::Inputs { exclude: vec![] }, "in"),
            ]),
            "3.9.1",
        );
        let (found, proved, ok) = explain(&a, &b);
        assert!(ok);
        assert_eq!(paths(&found), ["", "0"]);
        assert!(found[0].reshaped);
        assert_eq!(
            proved[0],
            Proved {
                proof: Proof::Pair,
                with: vec!["0".into()]
            }
        );
        // The shape alone, with the same source, would be proven by itself.
        let b_same_source = record(
            compound(vec![
                leaf(PolicyKind::TaskSource, "src-1"),
                leaf(PolicyKind::RunId, "run"),
                leaf(PolicyKind::Inputs { exclude: vec![] }, "in"),
            ]),
            "3.9.1",
        );
        let (found, proved, ok) = explain(&a, &b_same_source);
        assert!(ok);
        assert_eq!(paths(&found), [""]);
        assert_eq!(proved[0].proof, Proof::Proven);
    }

    #[test]
    fn keys_that_no_substitution_explains_are_unexplained_with_suspects() {
        // A was written by a Prefect that nested compounds: same leaves, another root key.
        let a_tree = {
            let mut t = compound(vec![
                leaf(PolicyKind::TaskSource, "src"),
                leaf(PolicyKind::Inputs { exclude: vec![] }, "in"),
            ]);
            t.recorded.as_mut().unwrap().key = Some(hash_strs(&[hash_strs(&["in", "src"])]));
            t
        };
        let a = record(a_tree, "3.0.2");
        let b = record(
            compound(vec![
                leaf(PolicyKind::TaskSource, "src"),
                leaf(PolicyKind::Inputs { exclude: vec![] }, "in"),
            ]),
            "3.9.1",
        );
        let (found, _, ok) = explain(&a, &b);
        assert!(found.is_empty());
        assert!(!ok);
        let src = source();
        let u = suspects(
            &Side::recorded(RunRef {
                source: &src,
                record: &a,
            }),
            &Side::recorded(RunRef {
                source: &src,
                record: &b,
            }),
            &found,
        );
        assert!(u.summary.contains("every node"), "{u:?}");
        assert!(
            u.suspects
                .iter()
                .any(|s| s == "prefect version 3.0.2 vs 3.9.1"),
            "{u:?}"
        );
        assert!(
            u.suspects
                .iter()
                .any(|s| s.starts_with("A's node keys do not combine")),
            "{u:?}"
        );

        // A changed leaf whose substitution still does not give A's key: unexplained.
        let mut a2 = record(
            compound(vec![
                leaf(PolicyKind::TaskSource, "src-1"),
                leaf(PolicyKind::Inputs { exclude: vec![] }, "in"),
            ]),
            "3.9.1",
        );
        a2.key = Some("0123456789abcdef0123456789abcdef".into());
        a2.policy.as_mut().unwrap().recorded.as_mut().unwrap().key = a2.key.clone();
        let (found, proved, ok) = explain(&a2, &b);
        assert_eq!(paths(&found), ["0"]);
        assert!(!ok);
        assert_eq!(proved[0].proof, Proof::Unexplained);
    }

    #[test]
    fn unverifiable_nodes_are_suspects_once_with_their_sides() {
        let opaque = || {
            let mut n = leaf(PolicyKind::Inputs { exclude: vec![] }, "in");
            n.recorded.as_mut().unwrap().reproducible = false;
            n.recorded.as_mut().unwrap().reason = Some("cloudpickle".into());
            n
        };
        let a = record(
            compound(vec![leaf(PolicyKind::TaskSource, "s"), opaque()]),
            "3.9.1",
        );
        let b = record(
            compound(vec![leaf(PolicyKind::TaskSource, "s"), opaque()]),
            "3.9.1",
        );
        let src = source();
        let u = suspects(
            &Side::recorded(RunRef {
                source: &src,
                record: &a,
            }),
            &Side::recorded(RunRef {
                source: &src,
                record: &b,
            }),
            &[],
        );
        assert_eq!(
            u.suspects,
            ["node 1 unverifiable (Inputs in A and B: cloudpickle)"]
        );
    }

    #[test]
    fn versions_before_3_1_14_compose_otherwise() {
        assert!(old_composition("3.0.2"));
        assert!(old_composition("3.1.13"));
        assert!(!old_composition("3.1.14"));
        assert!(!old_composition("3.9.1"));
        assert_eq!(combinations(3, 2), [vec![0, 1], vec![0, 2], vec![1, 2]]);
    }
}
