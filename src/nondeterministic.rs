//! Opaque policy nodes that are not deterministic: a project's own `CachePolicy` subclass or a
//! `cache_key_fn` that gave different keys to recorded runs of one task with the same material
//! (the same inputs, flow parameters and task source: everything such a node could look at
//! besides the run itself).
//!
//! cachescope cannot recompute an opaque node; it carries the recorded key into the next run's
//! key. That is right for a deterministic function and wrong for one that returns the time, a
//! random number or the run's id: the next run computes another key and misses, whatever the
//! storage holds under the recorded one. The evidence is in the other recorded runs of the
//! task, so the facts here are computed from loaded records, purely, and fed to whoever makes
//! a live verdict (`keys --live`, `explain --live`, `check`).

use std::collections::BTreeMap;

use crate::hash::md5_hex;
use crate::live::{LiveEvaluation, Verdict};
use crate::policy::{PolicyKind, PolicyNode};
use crate::pyjson::{SortKeys, Value, dumps};
use crate::record::{RunRecord, holds_placeholder};

/// A task as the records name it: `task_key` changes when the source is edited, so it is not
/// part of the identity (the source is part of the material instead).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct TaskId {
    name: String,
    qualname: Option<String>,
    file: Option<String>,
}

impl TaskId {
    fn of(record: &RunRecord) -> TaskId {
        TaskId {
            name: record.task.name.clone(),
            qualname: record.task.qualname.clone(),
            file: record.task.file.clone(),
        }
    }
}

/// The opaque node's class and, for a `cache_key_fn`, its function: two runs' nodes at one path
/// are the same node when these agree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct NodeId {
    path: String,
    policy: String,
    function: Option<String>,
}

/// What one record says one opaque node returned, and for which material.
#[derive(Debug, Clone)]
pub struct Observation {
    task: TaskId,
    node: NodeId,
    /// md5 of the material's JSON text: equal for equal material.
    material: String,
    key: String,
    /// The record, as the caller names it.
    record: String,
    recorded_at: Option<String>,
}

/// The opaque nodes of a tree with their paths ("" the root, "1", "1/0").
fn opaque_nodes<'t>(node: &'t PolicyNode, path: String, out: &mut Vec<(String, &'t PolicyNode)>) {
    match &node.kind {
        PolicyKind::CacheKeyFn { .. } | PolicyKind::Other { .. } => out.push((path, node)),
        PolicyKind::Compound { policies } => {
            for (i, child) in policies.iter().enumerate() {
                let child_path = if path.is_empty() {
                    i.to_string()
                } else {
                    format!("{path}/{i}")
                };
                opaque_nodes(child, child_path, out);
            }
        }
        _ => {}
    }
}

fn node_id(path: &str, node: &PolicyNode) -> NodeId {
    NodeId {
        path: path.to_string(),
        policy: node.class_name().to_string(),
        function: match &node.kind {
            PolicyKind::CacheKeyFn { function } => function.clone(),
            _ => None,
        },
    }
}

/// The material's fingerprint, or None when the record cannot show it: no inputs, or a value
/// recorded only as its repr (two equal reprs may stand for different objects).
fn material(record: &RunRecord) -> Option<String> {
    let inputs = record.inputs.as_ref()?;
    let params = record.flow.as_ref().and_then(|f| f.parameters.as_ref());
    let text = |v: Option<&Value>| -> Option<String> {
        match v {
            None => Some("null".to_string()),
            Some(v) if holds_placeholder(v) => None,
            Some(v) => dumps(v, SortKeys::Record).ok(),
        }
    };
    let source = record.task.source.as_deref().unwrap_or("");
    Some(md5_hex(&format!(
        "{}\u{0}{}\u{0}{source}",
        text(Some(inputs))?,
        text(params)?
    )))
}

/// True when two records show the same material (inputs, flow parameters and source), every
/// value of it known (not only a repr).
pub fn same_material(x: &RunRecord, y: &RunRecord) -> bool {
    material(x).is_some_and(|m| Some(m) == material(y))
}

/// Whether `record`'s tree has a node whose key cachescope cannot recompute (what [`observe`]
/// looks at): a record without one is not made whole to be observed.
pub fn has_opaque_node(record: &RunRecord) -> bool {
    record.policy.as_ref().is_some_and(|tree| {
        let mut nodes = Vec::new();
        opaque_nodes(tree, String::new(), &mut nodes);
        !nodes.is_empty()
    })
}

/// What `record` (named `name` in messages) says its opaque nodes returned.
pub fn observe(record: &RunRecord, name: &str) -> Vec<Observation> {
    let Some(tree) = &record.policy else {
        return Vec::new();
    };
    let mut nodes = Vec::new();
    opaque_nodes(tree, String::new(), &mut nodes);
    if nodes.is_empty() {
        return Vec::new();
    }
    let Some(material) = material(record) else {
        return Vec::new();
    };
    nodes
        .into_iter()
        .filter_map(|(path, node)| {
            let key = node.recorded.as_ref()?.key.clone()?;
            Some(Observation {
                task: TaskId::of(record),
                node: node_id(&path, node),
                material: material.clone(),
                key,
                record: name.to_string(),
                recorded_at: record.recorded_at.clone(),
            })
        })
        .collect()
}

/// An opaque node that gave different keys for the same material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonDeterministic {
    /// Its path in the task's tree.
    pub path: String,
    /// The class the record names (`flows.StampPolicy`, `CacheKeyFnPolicy`).
    pub policy: String,
    /// The `cache_key_fn`, for a `CacheKeyFnPolicy`.
    pub function: Option<String>,
    /// Two keys it returned for the same material (the latest two that differ), and the
    /// records that hold them, in the order they ran.
    pub keys: [String; 2],
    pub records: [String; 2],
    /// How many recorded runs share their material with another run (the evidence).
    pub runs: usize,
    /// Each of those runs got a key of its own, and there are at least
    /// [`MIN_RUNS_FOR_EVERY_RUN`] of them: the node gives a new key every run.
    pub new_key_every_run: bool,
}

impl NonDeterministic {
    /// "`flows.StampPolicy` (node 1)", "cache_key_fn `flows.stamp` (node 1)".
    pub fn name(&self) -> String {
        let at = if self.path.is_empty() {
            "the root".to_string()
        } else {
            format!("node {}", self.path)
        };
        match &self.function {
            Some(f) => format!("cache_key_fn `{f}` ({at})"),
            None => format!("`{}` ({at})", self.policy),
        }
    }

    /// Why it is called non-deterministic, as a clause: "`flows.StampPolicy` (node 1) is not
    /// deterministic: 3 recorded runs with the same inputs, flow parameters and source got 3
    /// different keys from it (2026-… and 2026-…)".
    pub fn clause(&self) -> String {
        let short = |k: &str| crate::explain::wording::short_key(Some(k), 12);
        let got = if self.new_key_every_run {
            format!("{} different keys", self.runs)
        } else {
            "different keys".to_string()
        };
        format!(
            "{} is not deterministic: {} recorded runs with the same inputs, flow parameters \
             and source got {got} from it ({} and {})",
            self.name(),
            self.runs,
            short(&self.keys[0]),
            short(&self.keys[1])
        )
    }
}

/// The non-deterministic opaque nodes of every task, found among loaded records.
#[derive(Debug, Clone, Default)]
pub struct NonDeterminism {
    by_task: BTreeMap<TaskId, Vec<NonDeterministic>>,
}

impl NonDeterminism {
    /// From the observations of every loaded record.
    pub fn from_observations(mut observations: Vec<Observation>) -> NonDeterminism {
        // Oldest first, so "the latest two" are the last ones; equal times by record name.
        observations.sort_by(|x, y| {
            (&x.task, &x.node, &x.recorded_at, &x.record).cmp(&(
                &y.task,
                &y.node,
                &y.recorded_at,
                &y.record,
            ))
        });
        let mut by_task: BTreeMap<TaskId, Vec<NonDeterministic>> = BTreeMap::new();
        for group in observations.chunk_by(|x, y| x.task == y.task && x.node == y.node) {
            if let Some(found) = judge(group) {
                by_task
                    .entry(group[0].task.clone())
                    .or_default()
                    .push(found);
            }
        }
        NonDeterminism { by_task }
    }

    /// From loaded records, each with the name to show for it.
    pub fn from_records<'r>(records: impl IntoIterator<Item = (&'r RunRecord, String)>) -> Self {
        let observations = records
            .into_iter()
            .flat_map(|(record, name)| observe(record, &name))
            .collect();
        NonDeterminism::from_observations(observations)
    }

    /// The non-deterministic nodes of `record`'s task that are in `tree` (the policy the run
    /// uses: the recorded one, or the one its decorator sets now): same path, same class.
    pub fn of(&self, record: &RunRecord, tree: Option<&PolicyNode>) -> Vec<NonDeterministic> {
        let (Some(found), Some(tree)) = (self.by_task.get(&TaskId::of(record)), tree) else {
            return Vec::new();
        };
        let mut nodes = Vec::new();
        opaque_nodes(tree, String::new(), &mut nodes);
        found
            .iter()
            .filter(|f| {
                nodes.iter().any(|(path, node)| {
                    let id = node_id(path, node);
                    id.path == f.path && id.policy == f.policy && id.function == f.function
                })
            })
            .cloned()
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.by_task.is_empty()
    }
}

/// How many runs with shared material must each have a key of their own before the node is
/// taken to give a new key every run.
pub const MIN_RUNS_FOR_EVERY_RUN: usize = 3;

/// One node's observations (one task, oldest first): non-deterministic when runs with the same
/// material got different keys.
fn judge(observations: &[Observation]) -> Option<NonDeterministic> {
    let mut by_material: BTreeMap<&str, Vec<&Observation>> = BTreeMap::new();
    for o in observations {
        by_material.entry(&o.material).or_default().push(o);
    }
    let mut runs = 0;
    let mut every_run = true;
    // The latest pair of runs with one material and two keys.
    let mut example: Option<(&Observation, &Observation)> = None;
    for same in by_material.values().filter(|v| v.len() > 1) {
        runs += same.len();
        let mut keys: Vec<&str> = same.iter().map(|o| o.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.len() != same.len() {
            every_run = false;
        }
        for pair in same.windows(2).rev() {
            if pair[0].key != pair[1].key {
                let later = |p: &(&Observation, &Observation)| {
                    (p.1.recorded_at.clone(), p.1.record.clone())
                };
                if example.is_none_or(|e| later(&(pair[0], pair[1])) > later(&e)) {
                    example = Some((pair[0], pair[1]));
                }
                break;
            }
        }
    }
    let (first, second) = example?;
    // Two runs with two keys may be one edit of something the node reads besides the material
    // (a module's constant): "every run" needs a third run to say so.
    let every_run = every_run && runs >= MIN_RUNS_FOR_EVERY_RUN;
    Some(NonDeterministic {
        path: first.node.path.clone(),
        policy: first.node.policy.clone(),
        function: first.node.function.clone(),
        keys: [first.key.clone(), second.key.clone()],
        records: [first.record.clone(), second.record.clone()],
        runs,
        new_key_every_run: every_run,
    })
}

/// The next run's verdict when its tree holds non-deterministic nodes: a miss when one of them
/// gave a new key to every recorded run (the next run computes yet another key, under which
/// nothing is stored), else unknown (the next key may or may not be one already stored: a key
/// by day repeats within the day, and a constant edited once gives the same key from then on).
/// None when there are none.
pub fn next_run_verdict(found: &[NonDeterministic]) -> Option<(Verdict, String)> {
    let clauses: Vec<String> = found.iter().map(NonDeterministic::clause).collect();
    let clauses = crate::explain::wording::join_and(&clauses);
    if found.iter().any(|f| f.new_key_every_run) {
        Some((
            Verdict::Miss,
            format!(
                "{clauses}; the next run computes a new key of its own, under which nothing is \
                 stored"
            ),
        ))
    } else if !found.is_empty() {
        Some((
            Verdict::Unknown,
            format!("{clauses}; the next run's key cannot be known"),
        ))
    } else {
        None
    }
}

/// A live evaluation made without the evidence of other runs, corrected with it: a predicted
/// hit on a key that carries a non-deterministic node's recorded key is not a hit.
pub fn correct_live(live: &mut LiveEvaluation, found: &[NonDeterministic]) {
    if live.verdict != Verdict::Hit {
        return;
    }
    if let Some((verdict, reason)) = next_run_verdict(found) {
        live.verdict = verdict;
        live.reason = reason;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::parse;

    /// A record of `calibrate` with `INPUTS + flows.StampPolicy()`: the stamp node's key is
    /// `stamp`, and the record's own key does not matter here.
    fn record(x: i64, stamp: &str, at: &str) -> RunRecord {
        let text = format!(
            r#"{{"format": "cachescope/run-record@1", "recorded_at": "{at}",
                "task": {{"name": "calibrate", "qualname": "calibrate", "file": "flows.py",
                          "source": "def calibrate(x): ..."}},
                "flow": {{"run_id": "r", "parameters": {{"day": "mon"}}}},
                "inputs": {{"x": {x}}},
                "policy": {{"policy": "CompoundCachePolicy", "key": "k", "reproducible": true,
                            "policies": [
                              {{"policy": "Inputs", "key": "i", "reproducible": true, "exclude": []}},
                              {{"policy": "flows.StampPolicy", "key": "{stamp}", "reproducible": true}}]}},
                "key": "k"}}"#
        );
        RunRecord::from_value(parse(&text).unwrap()).unwrap()
    }

    fn index(records: &[RunRecord]) -> NonDeterminism {
        NonDeterminism::from_records(
            records
                .iter()
                .enumerate()
                .map(|(i, r)| (r, format!("r{i}.json"))),
        )
    }

    #[test]
    fn a_new_key_for_the_same_material_every_run_is_a_miss() {
        let runs = [
            record(1, "t1", "2026-01-01T00:00:01Z"),
            record(1, "t2", "2026-01-01T00:00:02Z"),
            record(2, "t3", "2026-01-01T00:00:03Z"),
            record(1, "t4", "2026-01-01T00:00:04Z"),
        ];
        let found = index(&runs).of(&runs[2], runs[2].policy.as_ref());
        let [f] = found.as_slice() else {
            panic!("{found:?}")
        };
        assert_eq!(
            (f.path.as_str(), f.policy.as_str()),
            ("1", "flows.StampPolicy")
        );
        // The latest two runs with the same material; the run with x=2 is no evidence.
        assert_eq!(f.keys, ["t2", "t4"]);
        assert_eq!(f.records, ["r1.json", "r3.json"]);
        assert_eq!((f.runs, f.new_key_every_run), (3, true));
        let (verdict, reason) = next_run_verdict(&found).unwrap();
        assert_eq!(verdict, Verdict::Miss);
        assert!(
            reason.starts_with(
                "`flows.StampPolicy` (node 1) is not deterministic: 3 recorded runs with the \
                 same inputs, flow parameters and source got 3 different keys from it (t2 and t4)"
            ),
            "{reason}"
        );
    }

    #[test]
    fn a_key_that_repeats_sometimes_makes_the_next_run_unknown() {
        // A key by day: two runs on one day share it, the next day another.
        let runs = [
            record(1, "mon", "2026-01-05T10:00:00Z"),
            record(1, "mon", "2026-01-05T11:00:00Z"),
            record(1, "tue", "2026-01-06T10:00:00Z"),
        ];
        let found = index(&runs).of(&runs[2], runs[2].policy.as_ref());
        assert_eq!(found.len(), 1);
        assert!(!found[0].new_key_every_run);
        assert_eq!(found[0].keys, ["mon", "tue"]);
        assert_eq!(next_run_verdict(&found).unwrap().0, Verdict::Unknown);
        // Two runs, two keys: perhaps a constant the function reads was edited once.
        let runs = [
            record(1, "v1", "2026-01-05T10:00:00Z"),
            record(1, "v2", "2026-01-05T11:00:00Z"),
        ];
        let found = index(&runs).of(&runs[1], runs[1].policy.as_ref());
        assert_eq!((found.len(), found[0].new_key_every_run), (1, false));
        assert_eq!(next_run_verdict(&found).unwrap().0, Verdict::Unknown);
    }

    #[test]
    fn different_material_or_an_unseen_material_is_no_evidence() {
        // Every run had other inputs: a key per input is deterministic as far as anyone knows.
        let runs = [
            record(1, "a", "2026-01-01T00:00:01Z"),
            record(2, "b", "2026-01-01T00:00:02Z"),
        ];
        assert!(index(&runs).is_empty());
        // Equal reprs may stand for different objects.
        let mut opaque = [
            record(1, "a", "2026-01-01T00:00:01Z"),
            record(1, "b", "2026-01-01T00:00:02Z"),
        ];
        for r in &mut opaque {
            r.inputs = Some(parse(r#"{"x": {"__cachescope_repr__": "<Obj at 0x7f00>"}}"#).unwrap());
        }
        assert!(index(&opaque).is_empty());
        // A tree without the node (the decorator changed) does not inherit the fact.
        let runs = [
            record(1, "t1", "2026-01-01T00:00:01Z"),
            record(1, "t2", "2026-01-01T00:00:02Z"),
        ];
        let inputs_only = crate::policy::parse_policy("INPUTS").unwrap();
        assert!(index(&runs).of(&runs[0], Some(&inputs_only)).is_empty());
        assert_eq!(index(&runs).of(&runs[0], runs[0].policy.as_ref()).len(), 1);
    }
}
