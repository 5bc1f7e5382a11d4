//! The next run, as far as the files say: A's record recomputed with the task's source as it
//! is now, and with the cache policy its decorator now sets.
//!
//! The policy lives in the decorator, which is part of the source: when the user edits
//! `cache_policy=` the next run gets another tree, not just another TaskSource key. The
//! decorator's expression is evaluated with Prefect 3.9.1's composition rules, but only trusted
//! when the decorator in A's recorded source evaluates to A's recorded tree (otherwise the
//! policy came from somewhere else, `with_options` or a variable, and the recorded tree stays).
//! This module reads files and storage (through [`evaluate_live`]); the explainer stays pure.

use std::path::Path;

use jiff::Timestamp;

use crate::engine::NodeStatus;
use crate::live::{LiveEvaluation, LiveOptions, SourceCache, evaluate_live};
use crate::policy::{PolicyKind, PolicyNode, constant, parse_policy};
use crate::record::RunRecord;

use super::decorator::decorator_policy;

/// What the next run would do.
#[derive(Debug, Clone)]
pub struct NextRun {
    /// The live recomputation (source as it is now, storage lookup of the next key).
    pub evaluation: LiveEvaluation,
    /// The policy the decorator sets now, when it is not the recorded one.
    pub policy: Option<PolicyNode>,
    /// Why the decorator's policy could not be used, if it changed but could not be.
    pub note: Option<String>,
}

/// The tree without recorded keys, to compare shapes.
fn shape(node: &PolicyNode) -> PolicyNode {
    let kind = match &node.kind {
        PolicyKind::Compound { policies } => PolicyKind::Compound {
            policies: policies.iter().map(shape).collect(),
        },
        other => other.clone(),
    };
    PolicyNode {
        kind,
        configure: node.configure.clone(),
        recorded: None,
    }
}

/// The policy a task's decorator sets: its `cache_policy=` expression, or DEFAULT when it sets
/// neither a policy nor a `cache_key_fn`. None when the text says something else.
fn decorator_tree(source: &str) -> Option<Result<(String, PolicyNode), String>> {
    let decorator_end = source.find("def ")?;
    let decorator = &source[..decorator_end];
    match decorator_policy(decorator) {
        Some(expr) => Some(
            parse_policy(&expr)
                .map(|tree| (expr.clone(), tree))
                .map_err(|e| format!("`{expr}`: {e}")),
        ),
        None if decorator.contains("cache_key_fn") || !decorator.contains("task") => None,
        None => constant("DEFAULT").map(|tree| Ok(("DEFAULT".to_string(), tree))),
    }
}

/// What the decorator now says the policy is, if it changed and can be trusted.
pub enum PolicyNow {
    /// The recorded tree still applies.
    Same,
    /// The decorator now sets another policy.
    Changed { expr: String, tree: PolicyNode },
    /// The decorator changed the policy in a way cachescope cannot evaluate.
    Unknown(String),
}

/// Compares the decorator of A's recorded source, A's tree and the decorator now.
pub fn policy_now(record: &RunRecord, source_now: &str) -> PolicyNow {
    let (Some(old_source), Some(recorded)) = (record.task.source.as_deref(), &record.policy) else {
        return PolicyNow::Same;
    };
    // The decorator must be where A's policy came from.
    match decorator_tree(old_source) {
        Some(Ok((_, old))) if shape(&old) == shape(recorded) => {}
        _ => return PolicyNow::Same,
    }
    match decorator_tree(source_now) {
        Some(Ok((expr, tree))) if shape(&tree) != shape(recorded) => {
            PolicyNow::Changed { expr, tree }
        }
        Some(Ok(_)) => PolicyNow::Same,
        Some(Err(why)) => PolicyNow::Unknown(format!(
            "the decorator's cache_policy changed and cannot be evaluated ({why}); the recorded \
             policy is used"
        )),
        None => PolicyNow::Unknown(
            "the decorator no longer sets cache_policy in a way cachescope can read; the \
             recorded policy is used"
                .to_string(),
        ),
    }
}

/// A's record as the next run would see it.
pub fn next_run(
    record: &RunRecord,
    record_dir: &Path,
    options: &LiveOptions,
    cache: &mut SourceCache,
    now: Timestamp,
) -> NextRun {
    let evaluation = evaluate_live(record, record_dir, options, cache, now);
    let Ok(source) = &evaluation.source else {
        return NextRun {
            evaluation,
            policy: None,
            note: None,
        };
    };
    match policy_now(record, &source.function.source) {
        PolicyNow::Same => NextRun {
            evaluation,
            policy: None,
            note: None,
        },
        PolicyNow::Unknown(why) => NextRun {
            evaluation,
            policy: None,
            note: Some(why),
        },
        PolicyNow::Changed { expr, tree } => {
            let mut changed = record.clone();
            changed.policy = Some(tree.clone());
            let with_new = evaluate_live(&changed, record_dir, options, cache, now);
            // A new node the engine cannot compute (a cache_key_fn, cloudpickled inputs) has no
            // recorded key to carry: the next key cannot be known.
            let computable = with_new
                .evaluation
                .evaluation
                .nodes
                .iter()
                .all(|n| !matches!(n.status, NodeStatus::Unverifiable | NodeStatus::Error));
            if computable {
                NextRun {
                    evaluation: with_new,
                    policy: Some(tree),
                    note: None,
                }
            } else {
                NextRun {
                    evaluation,
                    policy: None,
                    note: Some(format!(
                        "the decorator now sets cache_policy={expr}, whose key cachescope cannot \
                         compute from the record; the recorded policy is used"
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_with(source: &str, policy: &str) -> RunRecord {
        let text = format!(
            r#"{{"format": "cachescope/run-record@1", "task": {{"name": "t", "source": {}}},
                "policy": null, "key": null}}"#,
            serde_json::Value::String(source.to_string())
        );
        let mut r = RunRecord::from_value(crate::pyjson::parse(&text).unwrap()).unwrap();
        r.policy = Some(parse_policy(policy).unwrap());
        r
    }

    #[test]
    fn a_changed_decorator_policy_is_the_next_runs_policy() {
        let old = "@task(cache_policy=INPUTS + TASK_SOURCE)\ndef t(x):\n    return x\n";
        let r = record_with(old, "INPUTS + TASK_SOURCE");
        assert!(matches!(policy_now(&r, old), PolicyNow::Same));
        let new = old.replace("INPUTS + TASK_SOURCE", "INPUTS + TASK_SOURCE + RUN_ID");
        match policy_now(&r, &new) {
            PolicyNow::Changed { expr, tree } => {
                assert_eq!(expr, "INPUTS + TASK_SOURCE + RUN_ID");
                assert_eq!(tree, parse_policy("DEFAULT").unwrap());
            }
            _ => panic!("not changed"),
        }
        // Dropping cache_policy altogether gives DEFAULT.
        let bare = "@task\ndef t(x):\n    return x\n";
        assert!(matches!(policy_now(&r, bare), PolicyNow::Changed { .. }));
        // Something cachescope cannot evaluate: say so, keep the recorded tree.
        let custom = old.replace("INPUTS + TASK_SOURCE", "MY_POLICY");
        assert!(matches!(policy_now(&r, &custom), PolicyNow::Unknown(_)));
    }

    #[test]
    fn a_policy_that_did_not_come_from_the_decorator_stays() {
        // The record's tree is not what the decorator says (with_options, a variable).
        let old = "@task(cache_policy=INPUTS)\ndef t(x):\n    return x\n";
        let r = record_with(old, "INPUTS + TASK_SOURCE");
        let new = old.replace("INPUTS", "TASK_SOURCE");
        assert!(matches!(policy_now(&r, &new), PolicyNow::Same));
    }
}
