//! The key engine: recomputes every node of a policy tree from a run's material, as Prefect
//! 3.9.1's `compute_key` methods do, and compares each node with what was recorded.
//!
//! Evaluation is a pure function of the tree and the [`Material`]: no I/O, no printing. Live
//! mode (source from the file as it is now) and what-ifs (another tree) reuse it by changing
//! the material or the tree.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::hash::{Md5Out, hash_json_text, hash_objects, hash_strs};
use crate::policy::{PolicyKind, PolicyNode};
use crate::pyjson::{
    JsonOut, Key, SortKeys, Value, out_of_record_order, record_str_order, write_key, write_value,
};
use crate::record::{RunRecord, holds_placeholder};

/// What the policies hash: the inputs, the task source, the flow parameters and the run id.
#[derive(Debug, Clone, Copy, Default)]
pub struct Material<'a> {
    /// The text TaskSource hashes.
    pub source: Option<&'a str>,
    /// The inputs object Inputs hashes (before exclusion).
    pub inputs: Option<&'a Value>,
    /// The flow parameters object, or None outside a flow.
    pub flow_parameters: Option<&'a Value>,
    /// The flow run id, or the task run id outside a flow.
    pub run_id: Option<&'a str>,
}

impl<'a> Material<'a> {
    /// The material recorded in a run record.
    pub fn of_record(record: &'a RunRecord) -> Material<'a> {
        Material {
            source: record.task.source.as_deref(),
            inputs: record.inputs.as_ref(),
            flow_parameters: record.flow.as_ref().and_then(|f| f.parameters.as_ref()),
            run_id: record.run_id(),
        }
    }
}

/// The inputs and flow parameters as canonical JSON text (exactly what `json.dumps` writes for
/// them), standing in for the values where [`Material`] has none: hashed as they are, with no
/// value built. See [`crate::pyjson::parse_record_lean`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CanonicalTexts<'a> {
    pub inputs: Option<CanonicalJson<'a>>,
    pub flow_parameters: Option<CanonicalJson<'a>>,
    /// `TaskSource`'s key (`hash_strs` of the record's task source) when the loader already
    /// worked it out, with many others at once.
    pub task_source: Option<&'a str>,
    /// The key of the policy's only `Inputs` node that excludes entries, of the kept entries
    /// of `inputs` ([`crate::hash::hash_kept_entries`]), when the loader already worked it out;
    /// never set for a policy with no such node or several ([`inputs_exclusion`]).
    pub inputs_kept: Option<&'a str>,
}

/// `record` with its inputs and flow parameters built from their canonical `texts` where it
/// has none: the record a full load reads (the texts parse: they were checked canonical, or are
/// plain JSON with `json.dumps`' spacing). A lean run made whole where it is explained.
pub fn with_values(mut record: RunRecord, texts: &CanonicalTexts) -> RunRecord {
    if record.inputs.is_none()
        && let Some(text) = texts.inputs
    {
        record.inputs = crate::pyjson::parse(text.text).ok();
    }
    if let Some(flow) = record.flow.as_mut()
        && flow.parameters.is_none()
        && let Some(text) = texts.flow_parameters
    {
        flow.parameters = crate::pyjson::parse(text.text).ok();
    }
    record
}

/// A value's canonical JSON text, and `hash_objects` of it when it is already known (a big
/// one hashed while it was read, or many hashed at once by the loader): md5 of the text as
/// [`crate::hash::hash_json_text`] takes it, whether the text is canonical or not.
#[derive(Debug, Clone, Copy)]
pub struct CanonicalJson<'a> {
    pub text: &'a str,
    pub hash: Option<&'a str>,
    /// False for plain JSON with `json.dumps`' spacing not yet proved canonical
    /// ([`crate::pyjson::SpanText::Unchecked`]): its md5 is taken as the key when it equals the
    /// node's recorded key (the text is then what Prefect hashed), or when the text passes the
    /// canonical check; otherwise the key comes from its value, written as `json.dumps` does.
    pub checked: bool,
}

impl CanonicalJson<'_> {
    /// `hash_objects(value)`, or None for an empty object (Prefect's None).
    fn key(&self) -> Option<String> {
        if self.text == "{}" {
            return None;
        }
        Some(match self.hash {
            Some(hash) => hash.to_string(),
            None => hash_json_text(self.text),
        })
    }
}

/// How a recomputed node compares with the record. Ordered from best to worst, so that a
/// record's status is the maximum of its nodes'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeStatus {
    /// Recomputed, and equal to the recorded key.
    Match,
    /// Cannot be recomputed (user function, unknown class, cloudpickle); the recorded key is
    /// carried into the parent.
    Unverifiable,
    /// Recomputed, and different from the recorded key.
    Changed,
    /// The material needed is missing or malformed.
    Error,
}

impl NodeStatus {
    /// The word used in `keys --json`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Match => "match",
            NodeStatus::Unverifiable => "unverifiable",
            NodeStatus::Changed => "changed",
            NodeStatus::Error => "error",
        }
    }
}

/// One node's recomputation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEval {
    /// "" for the root, "0", "1", ... for its children, "1/0" below that.
    pub path: String,
    pub policy: String,
    /// What the record says this node returned (None for trees without a record).
    pub recorded: Option<String>,
    /// The recomputed key; for unverifiable nodes, the recorded key carried.
    pub key: Option<String>,
    pub status: NodeStatus,
    /// Why the node is unverifiable or in error, in one line.
    pub note: Option<String>,
}

/// A whole tree's recomputation, nodes in pre-order (root first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub nodes: Vec<NodeEval>,
}

impl Evaluation {
    /// The root's key: what the task's cache key would be.
    pub fn key(&self) -> Option<&str> {
        self.nodes.first().and_then(|n| n.key.as_deref())
    }

    /// The worst status of any node (Match for an empty tree).
    pub fn status(&self) -> NodeStatus {
        self.nodes
            .iter()
            .map(|n| n.status)
            .max()
            .unwrap_or(NodeStatus::Match)
    }

    /// The node at `path`.
    pub fn node(&self, path: &str) -> Option<&NodeEval> {
        self.nodes.iter().find(|n| n.path == path)
    }
}

/// Recomputes every node of `policy` from `material`.
pub fn evaluate(policy: &PolicyNode, material: &Material) -> Evaluation {
    evaluate_substituted(policy, material, &HashMap::new())
}

/// Keys to put in place of nodes' own computations, by node path ("" for the root, "1/0").
pub type Substitutions = HashMap<String, Option<String>>;

/// Recomputes `policy` from `material`, except that a node whose path is in `substitutions`
/// returns the given key instead of computing one (its children are then not evaluated), and
/// every compound above it combines that key as Prefect would.
///
/// This is how the explainer proves a culprit: B's tree with A's key put back into one node
/// gives A's cache key exactly when that node alone made the difference. Substituting every
/// leaf recombines recorded keys with Prefect's composition, independently of the material.
pub fn evaluate_substituted(
    policy: &PolicyNode,
    material: &Material,
    substitutions: &Substitutions,
) -> Evaluation {
    evaluate_texts(policy, material, &CanonicalTexts::default(), substitutions)
}

fn evaluate_texts(
    policy: &PolicyNode,
    material: &Material,
    texts: &CanonicalTexts,
    substitutions: &Substitutions,
) -> Evaluation {
    // At its size: grown by doubling, a node's result (six strings) was moved up to three
    // times a record, about 2% of `keys`' instructions.
    let mut nodes = Vec::with_capacity(tree_size(policy));
    let m = Mat { material, texts };
    eval_node(policy, &m, substitutions, String::new(), &mut nodes);
    Evaluation { nodes }
}

/// The material with its canonical texts.
struct Mat<'a> {
    material: &'a Material<'a>,
    texts: &'a CanonicalTexts<'a>,
}

/// What a node's own computation produced, before comparison with the record.
enum Computed {
    Key(Option<String>),
    Unverifiable(String),
    Error(String),
}

fn eval_node(
    node: &PolicyNode,
    material: &Mat,
    substitutions: &Substitutions,
    path: String,
    out: &mut Vec<NodeEval>,
) -> usize {
    let index = out.len();
    let substituted = substitutions.get(&path);
    out.push(NodeEval {
        path,
        policy: node.class_name().to_string(),
        recorded: node.recorded.as_ref().and_then(|r| r.key.clone()),
        key: None,
        status: NodeStatus::Match,
        note: None,
    });
    if let Some(key) = substituted {
        let me = &mut out[index];
        me.status = if node.recorded.is_some() && me.recorded != *key {
            NodeStatus::Changed
        } else {
            NodeStatus::Match
        };
        me.key = key.clone();
        me.note = Some("key substituted".to_string());
        return index;
    }
    let computed = match &node.kind {
        PolicyKind::Compound { policies } => {
            // The children's places among the results: their keys are read there, not copied.
            let mut children = Vec::with_capacity(policies.len());
            for (i, child) in policies.iter().enumerate() {
                let path = &out[index].path;
                let child_path = if path.is_empty() {
                    i.to_string()
                } else {
                    format!("{path}/{i}")
                };
                children.push(eval_node(child, material, substitutions, child_path, out));
            }
            // A child in error contributes its recorded key, so the compound's own check
            // still says whether the composition itself agrees.
            let keys: Vec<&str> = children
                .iter()
                .filter_map(|&c| {
                    let child = &out[c];
                    if child.status == NodeStatus::Error {
                        child.recorded.as_deref()
                    } else {
                        child.key.as_deref()
                    }
                })
                .collect();
            Computed::Key(if keys.is_empty() {
                None
            } else {
                Some(hash_strs(&keys))
            })
        }
        other => compute_leaf(
            other,
            material,
            node.recorded.as_ref().and_then(|r| r.key.as_deref()),
        ),
    };
    let recorded = node.recorded.as_ref();
    let (key, status, note) = match recorded {
        // The recorder found this node cannot be recomputed from the record: never pretend.
        Some(r) if !r.reproducible => (
            r.key.clone(),
            NodeStatus::Unverifiable,
            Some(
                r.reason
                    .clone()
                    .unwrap_or_else(|| "marked not reproducible by the recorder".to_string()),
            ),
        ),
        _ => match computed {
            Computed::Key(key) => {
                let status = match recorded {
                    Some(r) if r.key != key => NodeStatus::Changed,
                    _ => NodeStatus::Match,
                };
                (key, status, None)
            }
            Computed::Unverifiable(why) => (
                recorded.and_then(|r| r.key.clone()),
                NodeStatus::Unverifiable,
                Some(why),
            ),
            Computed::Error(why) => (None, NodeStatus::Error, Some(why)),
        },
    };
    let me = &mut out[index];
    me.key = key;
    me.status = status;
    me.note = note;
    index
}

fn compute_leaf(kind: &PolicyKind, m: &Mat, recorded: Option<&str>) -> Computed {
    let material = m.material;
    match kind {
        PolicyKind::Inputs { exclude } => {
            // The kept entries' key, when the loader worked it out (for a policy's only node
            // that excludes entries, so for this one).
            let kept = m.texts.inputs_kept;
            match (material.inputs, m.texts.inputs) {
                (None, Some(text)) if text.checked => inputs_from_text(exclude, text, kept),
                (None, Some(text)) if exclude.is_empty() => match unchecked_key(text, recorded) {
                    Some(key) => Computed::Key(key),
                    None => from_value(text, "inputs", |v| compute_inputs(exclude, Some(v))),
                },
                // The kept entries, hashed as they are, are proved by the recorded key as the whole
                // text is (the excluded ones are hashed by no node; their keys' order was checked).
                (None, Some(text)) => match inputs_from_text(exclude, text, kept) {
                    Computed::Key(key) if key.as_deref() == recorded || is_canonical(text.text) => {
                        Computed::Key(key)
                    }
                    _ => from_value(text, "inputs", |v| compute_inputs(exclude, Some(v))),
                },
                (inputs, _) => compute_inputs(exclude, inputs),
            }
        }
        PolicyKind::TaskSource => match (m.texts.task_source, material.source) {
            (Some(key), _) => Computed::Key(Some(key.to_string())),
            (None, Some(source)) => Computed::Key(Some(hash_strs(&[source]))),
            (None, None) => Computed::Error("the record has no task source to hash".to_string()),
        },
        PolicyKind::FlowParameters => match (material.flow_parameters, m.texts.flow_parameters) {
            (None, Some(json)) if json.checked => Computed::Key(json.key()),
            (None, Some(json)) => match unchecked_key(json, recorded) {
                Some(key) => Computed::Key(key),
                None => from_value(json, "flow parameters", |v| flow_parameters(Some(v))),
            },
            (params, _) => flow_parameters(params),
        },
        PolicyKind::RunId => match material.run_id {
            // Not hashed: the raw UUID text.
            Some(id) => Computed::Key(Some(id.to_string())),
            None => Computed::Error("the record has no flow run id or task run id".to_string()),
        },
        PolicyKind::NoCache => Computed::Key(None),
        PolicyKind::CacheKeyFn { function } => Computed::Unverifiable(match function {
            Some(f) => format!("cache_key_fn {f} is user code; its key is taken from the record"),
            None => "cache_key_fn is user code; its key is taken from the record".to_string(),
        }),
        PolicyKind::Other { class } => Computed::Unverifiable(format!(
            "{class} is not a Prefect policy; its key is taken from the record"
        )),
        PolicyKind::Compound { .. } => unreachable!("compounds are evaluated by eval_node"),
    }
}

/// Whether recomputing `policy` hashes a record's inputs whole (an `Inputs` node that excludes
/// nothing): a loader can then hash many records' inputs at once and hand the keys over as
/// [`CanonicalJson::hash`].
pub fn hashes_inputs_whole(policy: &PolicyNode) -> bool {
    has_node(
        policy,
        &|kind| matches!(kind, PolicyKind::Inputs { exclude } if exclude.is_empty()),
    )
}

/// Whether a record's inputs can be proved by their md5 ([`inputs_proved_by`]): `policy`
/// hashes them whole, with no node that excludes entries.
pub fn inputs_provable(policy: &PolicyNode) -> bool {
    hashes_inputs_whole(policy) && !excludes_any(policy)
}

fn excludes_any(policy: &PolicyNode) -> bool {
    has_node(
        policy,
        &|kind| matches!(kind, PolicyKind::Inputs { exclude } if !exclude.is_empty()),
    )
}

/// Whether `key` (`hash_objects` of a record's inputs text) is the recorded key of every
/// `Inputs` node of `policy` that hashes the inputs whole, and the policy has such a node and
/// none that excludes entries: then the text is what Prefect hashed, and every node that reads
/// it takes it as it is ([`CanonicalJson::checked`]), whatever else it might be.
pub fn inputs_proved_by(policy: &PolicyNode, key: &str) -> bool {
    fn visit(policy: &PolicyNode, key: &str, found: &mut bool) -> bool {
        match &policy.kind {
            PolicyKind::Compound { policies } => policies.iter().all(|p| visit(p, key, found)),
            PolicyKind::Inputs { exclude } if exclude.is_empty() => {
                *found = true;
                policy.recorded.as_ref().and_then(|r| r.key.as_deref()) == Some(key)
            }
            PolicyKind::Inputs { .. } => false,
            _ => true,
        }
    }
    let mut found = false;
    visit(policy, key, &mut found) && found
}

/// The entries excluded by the policy's only `Inputs` node that excludes any, or None when it
/// has no such node or several: see [`CanonicalTexts::inputs_kept`].
pub fn inputs_exclusion(policy: &PolicyNode) -> Option<&[String]> {
    fn visit<'p>(policy: &'p PolicyNode, found: &mut Vec<&'p [String]>) {
        match &policy.kind {
            PolicyKind::Compound { policies } => policies.iter().for_each(|p| visit(p, found)),
            PolicyKind::Inputs { exclude } if !exclude.is_empty() => found.push(exclude),
            _ => {}
        }
    }
    let mut found = Vec::new();
    visit(policy, &mut found);
    match found[..] {
        [only] => Some(only),
        _ => None,
    }
}

/// Whether recomputing `policy` hashes the flow parameters (a `FlowParameters` node).
pub fn hashes_flow_parameters(policy: &PolicyNode) -> bool {
    has_node(policy, &|kind| matches!(kind, PolicyKind::FlowParameters))
}

/// Whether recomputing `policy` hashes the task source (a `TaskSource` node): see
/// [`CanonicalTexts::task_source`].
pub fn hashes_task_source(policy: &PolicyNode) -> bool {
    has_node(policy, &|kind| matches!(kind, PolicyKind::TaskSource))
}

/// The number of nodes in the tree `policy` heads.
fn tree_size(policy: &PolicyNode) -> usize {
    1 + policy.children().iter().map(tree_size).sum::<usize>()
}

fn has_node(policy: &PolicyNode, is: &dyn Fn(&PolicyKind) -> bool) -> bool {
    match &policy.kind {
        PolicyKind::Compound { policies } => policies.iter().any(|p| has_node(p, is)),
        kind => is(kind),
    }
}

/// The key of unchecked text hashed whole, when the text is canonical: proved by its md5 being
/// the node's recorded key (the text is then exactly what Prefect hashed; two texts with one
/// md5 do not happen by chance), or else by the canonical check. None when it is not canonical.
fn unchecked_key(json: CanonicalJson, recorded: Option<&str>) -> Option<Option<String>> {
    let key = json.key();
    (key.is_none() || key.as_deref() == recorded || is_canonical(json.text)).then_some(key)
}

/// The canonical check of unchecked text.
fn is_canonical(text: &str) -> bool {
    crate::pyjson::canonical_len_within(text, crate::pyjson::MAX_DEPTH) == Some(text.len())
}

/// The key of unchecked text that is not canonical, from its value (the text is plain JSON,
/// so it parses).
fn from_value(json: CanonicalJson, what: &str, key: impl FnOnce(&Value) -> Computed) -> Computed {
    match crate::pyjson::parse(json.text) {
        Ok(value) => key(&value),
        Err(e) => Computed::Error(format!("the {what} are not valid JSON: {e}")),
    }
}

fn flow_parameters(params: Option<&Value>) -> Computed {
    match params {
        // No flow, or a flow run without parameters: Prefect returns None.
        None => Computed::Key(None),
        Some(Value::Object(entries)) if entries.is_empty() => Computed::Key(None),
        Some(params) => hash_value(params, "flow parameters"),
    }
}

/// Inputs from their canonical text: with nothing excluded, `hash_objects(inputs)` is md5 over
/// the text itself. With exclusions, md5 over the kept entries as they are (split by
/// `canonical_entries`, which needs `json.dumps`' separators and keys without escapes: so does
/// unchecked text).
fn inputs_from_text(exclude: &[String], json: CanonicalJson, kept: Option<&str>) -> Computed {
    if exclude.is_empty() || json.text == "{}" {
        return Computed::Key(json.key());
    }
    // Canonical text stays canonical with entries left out: hash the kept entries as they are.
    Computed::Key(Some(kept.map_or_else(
        || crate::hash::hash_kept_entries(json.text, exclude),
        str::to_string,
    )))
}

fn compute_inputs(exclude: &[String], inputs: Option<&Value>) -> Computed {
    let Some(inputs) = inputs else {
        return Computed::Error("the record has no inputs".to_string());
    };
    let Some(entries) = inputs.as_object() else {
        return Computed::Error("the record's inputs are not an object".to_string());
    };
    // Checked before exclusion: no inputs at all gives None, all excluded gives hash({}).
    if entries.is_empty() {
        return Computed::Key(None);
    }
    let kept = || {
        entries
            .iter()
            .filter(|(k, _)| !matches!(k, Key::Str(name) if exclude.iter().any(|e| e == name)))
    };
    if kept().any(|(_, v)| holds_placeholder(v)) {
        return Computed::Unverifiable(
            "the inputs hold a value JSON could not encode (cloudpickle)".to_string(),
        );
    }
    // `hash_objects({kept inputs})`, written straight from the record's entries rather than
    // from a filtered copy, in the order the record reader's rule gives (input names are
    // strings: a record edited by hand may list them in any order).
    let kept: Vec<&(Key, Value)> = kept().collect();
    let name = |i: usize| match &kept[i].0 {
        Key::Str(s) => s.as_str(),
        _ => "",
    };
    if kept.iter().any(|(k, _)| !matches!(k, Key::Str(_))) {
        return Computed::Error("the record's inputs have a name that is not a string".to_string());
    }
    let order = record_str_order(kept.len(), name);
    // Written straight into the hasher: no text of the inputs is ever built.
    let mut out = Md5Out::new();
    out.push_str("[[{");
    for i in 0..kept.len() {
        let (k, v) = kept[order.as_ref().map_or(i, |o| o[i])];
        if i > 0 {
            out.push_str(", ");
        }
        write_key(k, &mut out);
        out.push_str(": ");
        if let Err(e) = write_value(v, SortKeys::Record, &mut out) {
            return Computed::Unverifiable(format!(
                "the inputs cannot be written as JSON ({e}): cloudpickle"
            ));
        }
    }
    out.push_str("}], {}]");
    Computed::Key(Some(out.hex()))
}

fn hash_value(value: &Value, what: &str) -> Computed {
    if holds_placeholder(value) {
        return Computed::Unverifiable(format!(
            "the {what} hold a value JSON could not encode (cloudpickle)"
        ));
    }
    // The record reader's order: re-sorting every string key would break int keys ("10" < "2").
    match hash_objects(&[value], SortKeys::Record) {
        Ok(key) => Computed::Key(Some(key)),
        Err(e) => Computed::Unverifiable(format!(
            "the {what} cannot be written as JSON ({e}): cloudpickle"
        )),
    }
}

/// A record's recomputation: the tree's evaluation plus the record-level verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEvaluation {
    pub evaluation: Evaluation,
    /// The recomputed cache key.
    pub key: Option<String>,
    pub status: NodeStatus,
    /// Why the record as a whole is unverifiable or changed beyond its nodes, if so.
    pub note: Option<String>,
}

/// Recomputes a record from its own recorded material (the fidelity check of `keys`).
pub fn recompute(record: &RunRecord) -> RecordEvaluation {
    recompute_with(record, &Material::of_record(record))
}

/// Recomputes a record from its recorded material, where the inputs or flow parameters may be
/// canonical texts rather than values (records loaded by
/// [`crate::load::load_unit_lean`]).
pub fn recompute_lean(record: &RunRecord, texts: &CanonicalTexts) -> RecordEvaluation {
    recompute_lean_from(record, texts, Material::of_record(record))
}

/// [`recompute_lean`] from `material`: the record's own, or with the task's source as it is
/// now (`--live`). The texts stand in for the inputs and flow parameters the record was read
/// without; the loader's `TaskSource` key stands only for the recorded source.
pub fn recompute_lean_from(
    record: &RunRecord,
    texts: &CanonicalTexts,
    material: Material,
) -> RecordEvaluation {
    // The loader's key is the recorded source's: it stands for the material's source where
    // that is the record's, or where the record was read for its keys alone and its source
    // left as text (both None; `crate::load::visit_unit_keys`).
    let recorded_source = material.source == record.task.source.as_deref();
    let texts = CanonicalTexts {
        inputs: texts.inputs.filter(|_| record.inputs.is_none()),
        // A record whose last `flow` is not an object has no parameters, whatever came before.
        flow_parameters: texts
            .flow_parameters
            .filter(|_| record.flow.as_ref().is_some_and(|f| f.parameters.is_none())),
        task_source: texts.task_source.filter(|_| recorded_source),
        inputs_kept: texts.inputs_kept.filter(|_| record.inputs.is_none()),
    };
    if record.policy.is_none() && record.task.result_storage_key.is_some() {
        // A `result_storage_key` template reads values out of the inputs and parameters: build
        // them from their texts (valid JSON: the canonical check made sure).
        let value = |t: Option<CanonicalJson>| t.and_then(|t| crate::pyjson::parse(t.text).ok());
        let (inputs, parameters) = (value(texts.inputs), value(texts.flow_parameters));
        let material = Material {
            inputs: material.inputs.or(inputs.as_ref()),
            flow_parameters: material.flow_parameters.or(parameters.as_ref()),
            ..material
        };
        return recompute_with(record, &material);
    }
    recompute_texts(record, &material, &texts)
}

/// Recomputes a record's tree from the given material.
pub fn recompute_with(record: &RunRecord, material: &Material) -> RecordEvaluation {
    recompute_texts(record, material, &CanonicalTexts::default())
}

fn recompute_texts(
    record: &RunRecord,
    material: &Material,
    texts: &CanonicalTexts,
) -> RecordEvaluation {
    let Some(policy) = &record.policy else {
        if let Some(template) = &record.task.result_storage_key {
            return storage_key_evaluation(record, template, material);
        }
        return RecordEvaluation {
            evaluation: Evaluation { nodes: Vec::new() },
            key: record.key.clone(),
            status: NodeStatus::Unverifiable,
            note: Some(
                "the task had no cache policy; its key is taken from the record".to_string(),
            ),
        };
    };
    let evaluation = evaluate_texts(policy, material, texts, &HashMap::new());
    let mut status = evaluation.status();
    // A node in error means the root's key was not really recomputed (its composition check
    // borrowed the recorded key): the record's key is unknown.
    let key = match status {
        NodeStatus::Error => None,
        _ => evaluation.key().map(str::to_string),
    };
    let mut note = None;
    // The root node's recorded key should be the key Prefect used; if it is not, the record
    // itself is inconsistent, and that is a difference too.
    let root_recorded = evaluation.nodes.first().and_then(|n| n.recorded.clone());
    if root_recorded != record.key && status.cmp(&NodeStatus::Changed) == Ordering::Less {
        status = NodeStatus::Changed;
        note = Some("the policy tree's recorded key differs from the record's key".to_string());
    }
    // A record whose objects are out of Python's order still verifies (the key is computed
    // from the value Python had), but its text is not what was hashed: say so once.
    let reordered: Vec<&str> = [
        ("inputs", material.inputs),
        ("flow parameters", material.flow_parameters),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_some_and(out_of_record_order))
    .map(|(what, _)| what)
    .collect();
    if !reordered.is_empty() {
        let order_note = format!(
            "object keys in the {} are not in the order Python writes them; they were hashed \
             in Python's order",
            reordered.join(" and ")
        );
        note = Some(match note {
            Some(n) => format!("{n}; {order_note}"),
            None => order_note,
        });
    }
    RecordEvaluation {
        evaluation,
        key,
        status,
        note,
    }
}

/// The names a `result_storage_key` template may use, from a record and its material.
pub fn storage_key_namespace<'a>(
    record: &'a RunRecord,
    material: &Material<'a>,
) -> crate::storage_key::Namespace<'a> {
    use crate::storage_key::{FlowRunNames, Namespace};
    Namespace {
        parameters: material.inputs,
        task_run_id: record.task_run.id.as_deref(),
        task_run_name: record.task_run.name.as_deref(),
        task_name: Some(record.task.name.as_str()),
        flow_run: record.flow.as_ref().map(|f| FlowRunNames {
            id: f.run_id.as_deref(),
            name: f.run_name.as_deref(),
            flow_name: f.name.as_deref(),
            parameters: material.flow_parameters,
        }),
    }
}

/// A task keyed by `result_storage_key`: the key is the template formatted as Prefect does.
fn storage_key_evaluation(
    record: &RunRecord,
    template: &crate::record::StorageKeyTemplate,
    material: &Material,
) -> RecordEvaluation {
    use crate::storage_key::format_storage_key;
    let unverifiable = |why: String| RecordEvaluation {
        evaluation: Evaluation { nodes: Vec::new() },
        key: record.key.clone(),
        status: NodeStatus::Unverifiable,
        note: Some(format!(
            "result_storage_key {:?}: {why}; the key is taken from the record",
            template.template
        )),
    };
    if !template.reproducible {
        return unverifiable(
            template
                .reason
                .clone()
                .unwrap_or_else(|| "marked not reproducible by the recorder".to_string()),
        );
    }
    match format_storage_key(&template.template, &storage_key_namespace(record, material)) {
        Ok(key) => {
            let changed = record.key.as_deref() != Some(key.as_str());
            RecordEvaluation {
                evaluation: Evaluation { nodes: Vec::new() },
                status: if changed {
                    NodeStatus::Changed
                } else {
                    NodeStatus::Match
                },
                note: changed.then(|| {
                    format!(
                        "result_storage_key {:?} formats to {key:?}, not the recorded key",
                        template.template
                    )
                }),
                key: Some(key),
            }
        }
        Err(e) => unverifiable(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::md5_hex;
    use crate::policy::Recorded;

    fn leaf(kind: PolicyKind, key: Option<&str>) -> PolicyNode {
        PolicyNode {
            kind,
            configure: Default::default(),
            recorded: Some(Recorded {
                key: key.map(str::to_string),
                reproducible: true,
                reason: None,
            }),
        }
    }

    fn compound(children: Vec<PolicyNode>, key: Option<&str>) -> PolicyNode {
        leaf(PolicyKind::Compound { policies: children }, key)
    }

    fn inputs(entries: &[(&str, i64)]) -> Value {
        Value::Object(
            entries
                .iter()
                .map(|(k, v)| (Key::Str(k.to_string()), Value::Int(v.to_string())))
                .collect(),
        )
    }

    const EMPTY_DICT: &str = "05da934bc95640755e0d7882f6f171d0";

    #[test]
    fn inputs_none_before_exclusion_and_empty_dict_after() {
        let none = inputs(&[]);
        let m = Material {
            inputs: Some(&none),
            ..Default::default()
        };
        let e = evaluate(&leaf(PolicyKind::Inputs { exclude: vec![] }, None), &m);
        assert_eq!((e.key(), e.status()), (None, NodeStatus::Match));

        let one = inputs(&[("debug", 1)]);
        let m = Material {
            inputs: Some(&one),
            ..Default::default()
        };
        let node = leaf(
            PolicyKind::Inputs {
                exclude: vec!["debug".into()],
            },
            Some(EMPTY_DICT),
        );
        let e = evaluate(&node, &m);
        assert_eq!((e.key(), e.status()), (Some(EMPTY_DICT), NodeStatus::Match));
    }

    #[test]
    fn compound_keeps_order_drops_nones_and_rehashes_a_single_key() {
        let params = inputs(&[]);
        let m = Material {
            source: Some("def f(): pass\n"),
            flow_parameters: Some(&params),
            run_id: Some("r-1"),
            ..Default::default()
        };
        let src = hash_strs(&["def f(): pass\n"]);
        // FlowParameters with no parameters is None and dropped; one key left is still hashed.
        let tree = compound(
            vec![
                leaf(PolicyKind::FlowParameters, None),
                leaf(PolicyKind::TaskSource, Some(&src)),
            ],
            None,
        );
        let e = evaluate(&tree, &m);
        assert_eq!(e.key(), Some(hash_strs(&[src.as_str()]).as_str()));
        assert_eq!(
            e.nodes[0].status,
            NodeStatus::Changed,
            "recorded None at the root, recomputed a key"
        );
        // Order is kept, not sorted: [RunId, TaskSource] differs from [TaskSource, RunId].
        let a = evaluate(
            &compound(
                vec![
                    leaf(PolicyKind::RunId, None),
                    leaf(PolicyKind::TaskSource, None),
                ],
                None,
            ),
            &m,
        );
        let b = evaluate(
            &compound(
                vec![
                    leaf(PolicyKind::TaskSource, None),
                    leaf(PolicyKind::RunId, None),
                ],
                None,
            ),
            &m,
        );
        assert_ne!(a.key(), b.key());
        assert_eq!(
            a.key(),
            Some(md5_hex(&format!("[[\"r-1\", \"{src}\"], {{}}]")).as_str())
        );
        // RunId is the raw id, not hashed.
        assert_eq!(a.nodes[1].key.as_deref(), Some("r-1"));
    }

    #[test]
    fn unverifiable_nodes_carry_their_recorded_key() {
        let m = Material {
            run_id: Some("r-1"),
            ..Default::default()
        };
        let mut opaque = leaf(
            PolicyKind::Inputs { exclude: vec![] },
            Some("feedfacefeedfacefeedfacefeedface"),
        );
        opaque.recorded.as_mut().unwrap().reproducible = false;
        opaque.recorded.as_mut().unwrap().reason = Some("cloudpickle".into());
        let fnkey = leaf(
            PolicyKind::CacheKeyFn {
                function: Some("m.f".into()),
            },
            Some("user-key"),
        );
        let expected = hash_strs(&["feedfacefeedfacefeedfacefeedface", "user-key", "r-1"]);
        let tree = compound(
            vec![opaque, fnkey, leaf(PolicyKind::RunId, Some("r-1"))],
            Some(&expected),
        );
        let e = evaluate(&tree, &m);
        assert_eq!(e.key(), Some(expected.as_str()));
        let statuses: Vec<_> = e.nodes.iter().map(|n| n.status).collect();
        assert_eq!(
            statuses,
            [
                NodeStatus::Match,
                NodeStatus::Unverifiable,
                NodeStatus::Unverifiable,
                NodeStatus::Match
            ]
        );
        assert_eq!(e.status(), NodeStatus::Unverifiable);
        assert_eq!(e.nodes[1].note.as_deref(), Some("cloudpickle"));
    }

    #[test]
    fn missing_material_is_an_error_not_a_guess() {
        let tree = compound(vec![leaf(PolicyKind::TaskSource, Some("abc"))], Some("def"));
        let e = evaluate(&tree, &Material::default());
        assert_eq!(e.nodes[1].status, NodeStatus::Error);
        assert_eq!(e.status(), NodeStatus::Error);
        // The compound still checks its composition with the child's recorded key.
        assert_eq!(e.nodes[0].key, Some(hash_strs(&["abc"])));
    }

    #[test]
    fn placeholders_make_inputs_unverifiable() {
        let v = Value::Object(vec![(
            Key::Str("fn".into()),
            Value::Object(vec![(
                Key::Str("__cachescope_repr__".into()),
                Value::Str("<function <lambda>>".into()),
            )]),
        )]);
        let m = Material {
            inputs: Some(&v),
            ..Default::default()
        };
        let e = evaluate(&leaf(PolicyKind::Inputs { exclude: vec![] }, Some("k")), &m);
        assert_eq!((e.status(), e.key()), (NodeStatus::Unverifiable, Some("k")));
    }

    #[test]
    fn a_substituted_node_replaces_its_subtree_and_the_compound_recombines() {
        let m = Material {
            source: Some("def f(): pass\n"),
            run_id: Some("r-2"),
            ..Default::default()
        };
        let tree = compound(
            vec![
                leaf(PolicyKind::TaskSource, None),
                leaf(PolicyKind::RunId, None),
            ],
            None,
        );
        let src = hash_strs(&["def f(): pass\n"]);
        let subs: Substitutions = [("1".to_string(), Some("r-1".to_string()))].into();
        let e = evaluate_substituted(&tree, &m, &subs);
        assert_eq!(e.key(), Some(hash_strs(&[src.as_str(), "r-1"]).as_str()));
        assert_eq!(e.nodes[2].note.as_deref(), Some("key substituted"));
        // A None substituted is dropped like any None; substituting the root ignores the rest.
        let none: Substitutions = [("1".to_string(), None)].into();
        assert_eq!(
            evaluate_substituted(&tree, &m, &none).key(),
            Some(hash_strs(&[src.as_str()]).as_str())
        );
        let root: Substitutions = [(String::new(), Some("k".to_string()))].into();
        let e = evaluate_substituted(&tree, &m, &root);
        assert_eq!((e.key(), e.nodes.len()), (Some("k"), 1));
    }

    #[test]
    fn nested_paths_error_children_and_a_result_made_at_its_size() {
        // No source: a TaskSource node is in error.
        let m = Material {
            run_id: Some("r-3"),
            ..Default::default()
        };
        // [RunId, [TaskSource (recorded "s"), RunId]]
        let tree = compound(
            vec![
                leaf(PolicyKind::RunId, None),
                compound(
                    vec![
                        leaf(PolicyKind::TaskSource, Some("s")),
                        leaf(PolicyKind::RunId, None),
                    ],
                    None,
                ),
            ],
            None,
        );
        let e = evaluate(&tree, &m);
        let paths: Vec<&str> = e.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, ["", "0", "1", "1/0", "1/1"]);
        assert_eq!(e.nodes.capacity(), e.nodes.len(), "made at the tree's size");
        assert_eq!(e.nodes[3].status, NodeStatus::Error);
        // The child in error contributes its recorded key to its compound.
        let inner = hash_strs(&["s", "r-3"]);
        assert_eq!(e.nodes[2].key.as_deref(), Some(inner.as_str()));
        assert_eq!(e.key(), Some(hash_strs(&["r-3", inner.as_str()]).as_str()));
        // A substitution below the root is found by its nested path.
        let subs: Substitutions = [("1/0".to_string(), Some("t".to_string()))].into();
        let e = evaluate_substituted(&tree, &m, &subs);
        assert_eq!(e.nodes[3].key.as_deref(), Some("t"));
        assert_eq!(e.nodes[2].key, Some(hash_strs(&["t", "r-3"])));
    }
}
