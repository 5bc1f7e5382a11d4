//! The evidence for each culprit, per policy: the source diff for TaskSource, the changed
//! paths and per-argument hashes for Inputs and FlowParameters, the run ids for RunId, the
//! keys for a `cache_key_fn`, and the tree's changes when its shape changed.

use crate::hash::hash_objects;
use crate::policy::{PolicyKind, PolicyNode};
use crate::pyjson::{SortKeys, Value};
use crate::record::holds_placeholder;

use super::align::node_at;
use super::culprit::Candidate;
use super::model::{ArgumentEvidence, Evidence};
use super::sides::Side;
use super::source_diff::source_evidence;
use super::tree_text::{render, tree_changes};
use super::value_diff::{argument_names, diff_arguments};

/// At most this many changed paths are listed per culprit.
const MAX_CHANGES: usize = 50;

/// The evidence for one culprit.
pub fn evidence(a: &Side, b: &Side, c: &Candidate, live_problem: Option<&str>) -> Evidence {
    let (Some(at), Some(bt)) = (a.policy, b.policy) else {
        return Evidence::Keys {
            a: a.key.clone(),
            b: b.key.clone(),
        };
    };
    let (Some(an), Some(bn)) = (node_at(at, &c.a_path), node_at(bt, &c.path)) else {
        return Evidence::Keys {
            a: a.key_at(&c.a_path).map(str::to_string),
            b: b.key_at(&c.path).map(str::to_string),
        };
    };
    if c.reshaped {
        return Evidence::Tree {
            a: render(an),
            b: render(bn),
            changes: tree_changes(an, bn),
        };
    }
    match &bn.kind {
        PolicyKind::TaskSource => match (a.material.source, b.material.source) {
            (Some(sa), Some(sb)) => Evidence::TaskSource(source_evidence(
                b.record
                    .task
                    .file
                    .as_deref()
                    .or(a.record.task.file.as_deref()),
                sa,
                a.source_first,
                sb,
                b.source_first,
            )),
            _ => Evidence::SourceUnknown {
                why: live_problem
                    .unwrap_or("the source text is not recorded")
                    .to_string(),
            },
        },
        PolicyKind::Inputs { exclude } => {
            let exclude_a = match &an.kind {
                PolicyKind::Inputs { exclude } => exclude.clone(),
                _ => Vec::new(),
            };
            Evidence::Arguments(arguments(
                a.material.inputs,
                b.material.inputs,
                exclude_a,
                exclude.clone(),
            ))
        }
        PolicyKind::FlowParameters => Evidence::Arguments(arguments(
            a.material.flow_parameters,
            b.material.flow_parameters,
            Vec::new(),
            Vec::new(),
        )),
        PolicyKind::RunId => Evidence::RunId {
            a: a.material.run_id.map(str::to_string),
            // Live, the material holds a stand-in for the next run's id, which is what it says.
            b: b.material.run_id.map(str::to_string),
            scope: b.run_scope(),
        },
        PolicyKind::CacheKeyFn { function } => Evidence::CacheKeyFn {
            function: function.clone(),
            a: a.key_at(&c.a_path).map(str::to_string),
            b: b.key_at(&c.path).map(str::to_string),
        },
        _ => Evidence::Keys {
            a: a.key_at(&c.a_path).map(str::to_string),
            b: b.key_at(&c.path).map(str::to_string),
        },
    }
}

/// `md5(hash_objects(value))`, or None when JSON cannot encode it.
pub fn argument_hash(value: Option<&Value>) -> Option<String> {
    let value = value?;
    if holds_placeholder(value) {
        return None;
    }
    hash_objects(&[value], SortKeys::Record).ok()
}

fn arguments(
    a: Option<&Value>,
    b: Option<&Value>,
    exclude_a: Vec<String>,
    exclude_b: Vec<String>,
) -> ArgumentEvidence {
    // An argument excluded on both sides changes nothing; excluded on one side, it does.
    let counts =
        |name: &str| !(exclude_a.iter().any(|e| e == name) && exclude_b.iter().any(|e| e == name));
    let (changes, more_changes) = diff_arguments(a, b, &counts, MAX_CHANGES);
    let empty: &[(crate::pyjson::Key, Value)] = &[];
    let ea = a.and_then(Value::as_object).unwrap_or(empty);
    let eb = b.and_then(Value::as_object).unwrap_or(empty);
    let mut argument_hashes = Vec::new();
    let mut opaque = Vec::new();
    for name in argument_names(ea, eb) {
        if !counts(&name) {
            continue;
        }
        let va = a.and_then(|v| v.get(&name));
        let vb = b.and_then(|v| v.get(&name));
        if va.is_some_and(holds_placeholder) || vb.is_some_and(holds_placeholder) {
            opaque.push(name.clone());
        }
        argument_hashes.push((name, argument_hash(va), argument_hash(vb)));
    }
    ArgumentEvidence {
        changes,
        more_changes,
        argument_hashes,
        exclude_a,
        exclude_b,
        opaque,
    }
}

/// The Inputs excludes of a tree (every Inputs node's, merged).
pub fn excludes(tree: &PolicyNode) -> Vec<String> {
    let mut out = Vec::new();
    if let PolicyKind::Inputs { exclude } = &tree.kind {
        out.extend(exclude.iter().cloned());
    }
    for child in tree.children() {
        out.extend(excludes(child));
    }
    out
}
