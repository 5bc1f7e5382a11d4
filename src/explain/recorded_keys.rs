//! Keys under another policy tree (an advice's fix, a `--policy` what-if), computed for a
//! recorded run the way the engine computes the run's own tree: a node cachescope cannot
//! recompute (a `cache_key_fn`, a user's policy class, inputs Prefect hashed with cloudpickle)
//! takes the key the record holds for the same node, when the other tree keeps that node
//! unchanged. Dropping `RUN_ID` from `CacheKeyFnPolicy + RUN_ID` leaves the `cache_key_fn`
//! alone, and every record holds what it returned, so the fix's key is known (issue 8, item 4).
//!
//! A node is "the same" when it would compute the same key from the same run: the same class,
//! the same `cache_key_fn` (by qualified name, or by its last part, which is how an expression
//! names it), the same exclude list (as a set). Its place in the tree does not matter: a leaf's
//! key is a function of its own material.

use std::collections::BTreeSet;

use crate::engine::{Material, NodeStatus, evaluate};
use crate::policy::{PolicyKind, PolicyNode, Recorded};

/// Which recorded keys may be carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carry {
    /// Every node the other tree keeps unchanged.
    All,
    /// Not Inputs or FlowParameters: the check changes the values they hash (sets passed as
    /// sorted lists), so what they returned in the run no longer applies.
    NotArguments,
}

fn same_function(fix: Option<&str>, recorded: Option<&str>) -> bool {
    let last = |f: &str| f.rsplit('.').next().unwrap_or(f).to_string();
    match (fix, recorded) {
        (Some(a), Some(b)) => a == b || last(a) == last(b),
        (None, None) => true,
        _ => false,
    }
}

/// True when `recorded`, a node of a run's tree, computes what `node` would for that run.
fn same_node(node: &PolicyKind, recorded: &PolicyKind) -> bool {
    match (node, recorded) {
        (PolicyKind::Inputs { exclude: a }, PolicyKind::Inputs { exclude: b }) => {
            a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
        }
        (PolicyKind::CacheKeyFn { function: a }, PolicyKind::CacheKeyFn { function: b }) => {
            same_function(a.as_deref(), b.as_deref())
        }
        (PolicyKind::Compound { .. }, _) | (_, PolicyKind::Compound { .. }) => false,
        (a, b) => a == b,
    }
}

/// The first node of `tree` that is the same as `node`, with what it returned in the run.
fn find<'t>(tree: &'t PolicyNode, node: &PolicyKind) -> Option<&'t Recorded> {
    if same_node(node, &tree.kind) {
        return tree.recorded.as_ref();
    }
    tree.children().iter().find_map(|c| find(c, node))
}

/// A key the run really produced: not one from a `compute_key` that raised or never ran.
fn usable(recorded: &Recorded) -> bool {
    recorded.reproducible
        || !recorded.reason.as_deref().is_some_and(|why| {
            why.starts_with("compute_key raised") || why.starts_with("not reached")
        })
}

/// `tree` with each leaf given what the same node of `run_tree` returned in the run.
pub fn carried(tree: &PolicyNode, run_tree: Option<&PolicyNode>, carry: Carry) -> PolicyNode {
    let kind = match &tree.kind {
        PolicyKind::Compound { policies } => PolicyKind::Compound {
            policies: policies
                .iter()
                .map(|p| carried(p, run_tree, carry))
                .collect(),
        },
        other => other.clone(),
    };
    let arguments = matches!(
        tree.kind,
        PolicyKind::Inputs { .. } | PolicyKind::FlowParameters
    );
    let recorded = match (&tree.kind, run_tree) {
        (PolicyKind::Compound { .. }, _) | (_, None) => None,
        _ if arguments && carry == Carry::NotArguments => None,
        (kind, Some(run_tree)) => find(run_tree, kind).filter(|r| usable(r)).cloned(),
    };
    PolicyNode {
        kind,
        configure: tree.configure.clone(),
        recorded,
    }
}

/// The cache key `tree` gives for a run whose material is `material` and whose recorded tree
/// is `run_tree`, or why it cannot be had (a node in error, or one cachescope cannot
/// recompute whose key the run did not record).
pub fn key_under(
    tree: &PolicyNode,
    run_tree: Option<&PolicyNode>,
    material: &Material,
    carry: Carry,
) -> Result<Option<String>, String> {
    let tree = carried(tree, run_tree, carry);
    let e = evaluate(&tree, material);
    let carried_at =
        |path: &str| super::align::node_at(&tree, path).is_some_and(|n| n.recorded.is_some());
    let blocked = e.nodes.iter().find(|n| match n.status {
        NodeStatus::Error => true,
        NodeStatus::Unverifiable => !carried_at(&n.path),
        NodeStatus::Match | NodeStatus::Changed => false,
    });
    match blocked {
        Some(n) => Err(n
            .note
            .clone()
            .unwrap_or_else(|| format!("{} cannot be computed", n.policy))),
        None => Ok(e.key().map(str::to_string)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Material;
    use crate::policy::parse_policy;
    use crate::pyjson::parse;

    fn recorded(key: &str, reproducible: bool) -> Option<Recorded> {
        Some(Recorded {
            key: Some(key.to_string()),
            reproducible,
            reason: (!reproducible).then(|| "user code".to_string()),
        })
    }

    /// `CacheKeyFnPolicy(cache_key_fn=mod.key) + RUN_ID` as a run records it.
    fn run_tree() -> PolicyNode {
        let mut tree = parse_policy("CacheKeyFnPolicy(cache_key_fn=key) + RUN_ID").unwrap();
        let PolicyKind::Compound { policies } = &mut tree.kind else {
            panic!("a compound")
        };
        policies[0].kind = PolicyKind::CacheKeyFn {
            function: Some("flows.key".into()),
        };
        policies[0].recorded = recorded("train-sales-v1", false);
        policies[1].recorded = recorded("run-1", true);
        tree.recorded = recorded("whatever", true);
        tree
    }

    #[test]
    fn an_unchanged_cache_key_fn_keeps_its_recorded_key() {
        let fix = parse_policy("CacheKeyFnPolicy(cache_key_fn=key)").unwrap();
        let inputs = parse(r#"{"x": 1}"#).unwrap();
        let material = Material {
            inputs: Some(&inputs),
            run_id: Some("run-1"),
            ..Material::default()
        };
        let run = run_tree();
        assert_eq!(
            key_under(&fix, Some(&run), &material, Carry::All),
            Ok(Some("train-sales-v1".to_string()))
        );
        // Without the run's tree there is nothing to carry.
        assert!(key_under(&fix, None, &material, Carry::All).is_err());
        // Another function is another node.
        let other = parse_policy("CacheKeyFnPolicy(cache_key_fn=other_key)").unwrap();
        assert!(key_under(&other, Some(&run), &material, Carry::All).is_err());
        // With INPUTS added, the fix's key combines the carried key and the recomputed one.
        let with_inputs = parse_policy("CacheKeyFnPolicy(cache_key_fn=key) + INPUTS").unwrap();
        let key = key_under(&with_inputs, Some(&run), &material, Carry::All)
            .unwrap()
            .unwrap();
        let inputs_key =
            crate::hash::hash_objects(&[&inputs], crate::pyjson::SortKeys::Record).unwrap();
        assert_eq!(
            key,
            crate::hash::hash_strs(&["train-sales-v1", inputs_key.as_str()])
        );
    }

    #[test]
    fn opaque_inputs_are_carried_only_while_their_values_are_the_recorded_ones() {
        let mut run = parse_policy("INPUTS + TASK_SOURCE").unwrap();
        let PolicyKind::Compound { policies } = &mut run.kind else {
            panic!("a compound")
        };
        policies[0].recorded = recorded("source-key", true);
        policies[1].recorded = recorded("pickled-inputs", false);
        let inputs = parse(r#"{"model": {"__cachescope_repr__": "<Model at 0x7f01>"}}"#).unwrap();
        let material = Material {
            source: Some("def f(model): ...\n"),
            inputs: Some(&inputs),
            ..Material::default()
        };
        let fix = parse_policy("INPUTS").unwrap();
        assert_eq!(
            key_under(&fix, Some(&run), &material, Carry::All),
            Ok(Some("pickled-inputs".to_string()))
        );
        assert!(key_under(&fix, Some(&run), &material, Carry::NotArguments).is_err());
        // Another exclude list hashes other values: not the same node.
        let minus = parse_policy("INPUTS - 'model'").unwrap();
        assert!(
            key_under(&minus, Some(&run), &material, Carry::All)
                .is_ok_and(|k| k.as_deref() != Some("pickled-inputs"))
        );
    }
}
