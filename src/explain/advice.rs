//! Advice for the known ways Prefect's caching surprises people, each with a fix that is a
//! policy expression where one exists, checked with the policy engine: the fix is rendered as
//! text, evaluated back with [`parse_policy`] (so what the user pastes is what was checked),
//! and applied to A, B and every recorded run of the task. A fix keeps what `.configure()` set
//! ([`fix_text()`]), and a node the fix leaves alone keeps the key the run recorded for it when
//! cachescope cannot recompute it ([`recorded_keys`]).

use crate::engine::{Material, NodeStatus};
use crate::policy::{
    PolicyKind, PolicyNode, add, compound_cache_policy, configure, constant, parse_policy, sub,
};
use crate::pyjson::Value;
use crate::record::{RunRecord, holds_placeholder};

use super::cosmetic::Classification;
use super::decorator::{decorator_policy, subtracted_names};
use super::fix_text::{self, fix_text};
use super::model::{Advice, AdviceKind, Culprit, Evidence};
use super::pairing::{same_inputs, same_task};
use super::recorded_keys::{self, Carry};
use super::sides::{RunRef, Side, tree_has};
use super::tree_text::render;
use super::value_diff::{same_value, set_of_strings};
use super::wording::join_and;

/// What advice is given from.
pub struct AdviceInput<'c, 'a> {
    pub a: &'c Side<'a>,
    pub b: &'c Side<'a>,
    pub culprits: &'c [Culprit],
    /// B was served from A's entry.
    pub hit: bool,
    /// Every loaded record, for the checks and for collisions between tasks.
    pub runs: &'c [RunRef<'a>],
}

impl AdviceInput<'_, '_> {
    fn task(&self) -> &str {
        &self.b.record.task.name
    }

    /// The recorded runs of this task.
    fn task_runs(&self) -> Vec<&RunRecord> {
        self.runs
            .iter()
            .map(|r| r.record)
            .filter(|r| same_task(r, self.a.record) || same_task(r, self.b.record))
            .collect()
    }

    fn culprit(&self, policy: &str) -> Option<&Culprit> {
        self.culprits.iter().find(|c| c.policy == policy)
    }

    /// The fix `tree` (built from B's policy) as an expression, or why it cannot be written.
    fn fix(&self, tree: &PolicyNode) -> Result<fix_text::Fix, String> {
        // B's policy is a record's tree (configure fields as the recorder wrote them) unless
        // it is the policy the decorator sets now, evaluated from its expression.
        let from_record = self.b.policy.is_some_and(|p| p.recorded.is_some());
        let source = self
            .b
            .record
            .task
            .source
            .as_deref()
            .or(self.b.material.source);
        fix_text(tree, from_record, source)
    }
}

/// Every piece of advice that applies, of the kinds docs/explain-json.md names.
pub fn advise(input: &AdviceInput) -> Vec<Advice> {
    let mut out = Vec::new();
    out.extend(default_run_id(input));
    out.extend(set_of_strings_advice(input));
    out.extend(unhashable_input(input));
    out.extend(minus_without_inputs(input));
    out.extend(inputs_only_collision(input));
    out.extend(cosmetic_source_edit(input));
    out
}

/// Two more surprises, given as notes (the contract fixes the advice kinds): FLOW_PARAMETERS
/// missing on a parameter the task never receives, and a hit on inputs the policy ignores.
/// Each says its fix and what the engine found applying it.
pub fn advice_notes(input: &AdviceInput) -> Vec<String> {
    [flow_parameters_all(input), inputs_not_in_key(input)]
        .into_iter()
        .flatten()
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Trees for fixes.

/// The tree without what the record says each node returned.
fn strip(node: &PolicyNode) -> PolicyNode {
    let kind = match &node.kind {
        PolicyKind::Compound { policies } => PolicyKind::Compound {
            policies: policies.iter().map(strip).collect(),
        },
        other => other.clone(),
    };
    PolicyNode {
        kind,
        configure: node.configure.clone(),
        recorded: None,
    }
}

/// The tree without the nodes `drop` selects; a compound left with one child becomes it,
/// configured as the compound was (`(TASK_SOURCE + INPUTS).configure(key_storage=K)` without
/// TASK_SOURCE is `INPUTS.configure(key_storage=K)`, not `INPUTS`).
fn without(node: &PolicyNode, drop: &dyn Fn(&PolicyKind) -> bool) -> Option<PolicyNode> {
    if drop(&node.kind) {
        return None;
    }
    match &node.kind {
        PolicyKind::Compound { policies } => {
            let kept: Vec<PolicyNode> = policies.iter().filter_map(|p| without(p, drop)).collect();
            match kept.len() {
                0 => None,
                1 => kept
                    .into_iter()
                    .next()
                    .map(|only| configure(&only, &node.configure)),
                _ => Some(compound_cache_policy(kept, node.configure.clone())),
            }
        }
        _ => Some(strip(node)),
    }
}

/// The tree with every FlowParameters replaced by Inputs (merged as Prefect merges them).
fn inputs_for_flow_parameters(node: &PolicyNode) -> PolicyNode {
    match &node.kind {
        PolicyKind::FlowParameters => PolicyNode::new(PolicyKind::Inputs {
            exclude: Vec::new(),
        }),
        PolicyKind::Compound { policies } => compound_cache_policy(
            policies.iter().map(inputs_for_flow_parameters).collect(),
            node.configure.clone(),
        ),
        _ => strip(node),
    }
}

fn is_default(tree: &PolicyNode) -> bool {
    constant("DEFAULT").is_some_and(|d| strip(tree) == d)
}

// ---------------------------------------------------------------------------------------------
// Checking a fix.

/// What applying a fix to the recorded runs gave.
struct Checked {
    /// Would A and B share a key (None: one of them cannot be computed)?
    share: Option<bool>,
    runs: usize,
    keys_now: usize,
    keys_fixed: usize,
    uncomputable: usize,
}

/// The key `tree` gives a run: its material, and the keys its own tree recorded for the nodes
/// cachescope cannot recompute.
fn key_under(
    tree: &PolicyNode,
    run_tree: Option<&PolicyNode>,
    m: &Material,
    carry: Carry,
) -> Option<String> {
    recorded_keys::key_under(tree, run_tree, m, carry)
        .ok()
        .flatten()
}

/// Every set of strings replaced by the sorted list of its strings.
fn sorted_sets(value: &Value) -> Value {
    if let Some(mut items) = set_of_strings(value) {
        items.sort_unstable();
        return Value::Array(
            items
                .into_iter()
                .map(|s| Value::Str(s.to_string()))
                .collect(),
        );
    }
    match value {
        Value::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), sorted_sets(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(sorted_sets).collect()),
        other => other.clone(),
    }
}

/// Applies `tree` to A, B and the task's recorded runs; `sort_sets` passes sets of strings as
/// sorted lists first.
fn check(input: &AdviceInput, tree: &PolicyNode, sort_sets: bool) -> Checked {
    let prepare = |m: &Material| -> (Option<Value>, Option<Value>) {
        if sort_sets {
            (
                m.inputs.map(sorted_sets),
                m.flow_parameters.map(sorted_sets),
            )
        } else {
            (None, None)
        }
    };
    let carry = if sort_sets {
        Carry::NotArguments
    } else {
        Carry::All
    };
    let key_of = |m: &Material, run_tree: Option<&PolicyNode>| {
        let (inputs, params) = prepare(m);
        let m = if sort_sets {
            Material {
                source: m.source,
                inputs: inputs.as_ref(),
                flow_parameters: params.as_ref(),
                run_id: m.run_id,
            }
        } else {
            *m
        };
        key_under(tree, run_tree, &m, carry)
    };
    let (ka, kb) = (
        key_of(&input.a.material, input.a.record.policy.as_ref()),
        key_of(&input.b.material, input.b.record.policy.as_ref()),
    );
    let share = match (&ka, &kb) {
        (Some(a), Some(b)) => Some(a == b),
        _ => None,
    };
    let runs = input.task_runs();
    let mut now: Vec<Option<&str>> = runs.iter().map(|r| r.key.as_deref()).collect();
    now.sort();
    now.dedup();
    let mut fixed = Vec::new();
    let mut uncomputable = 0;
    for r in &runs {
        match key_of(&Material::of_record(r), r.policy.as_ref()) {
            Some(k) => fixed.push(k),
            None => uncomputable += 1,
        }
    }
    fixed.sort();
    fixed.dedup();
    Checked {
        share,
        runs: runs.len(),
        keys_now: now.len(),
        keys_fixed: fixed.len(),
        uncomputable,
    }
}

fn keys(n: usize) -> String {
    if n == 1 {
        "one key".to_string()
    } else {
        format!("{n} keys")
    }
}

/// "with `FIX`, A and B would share one key, and these 14 recorded runs of `train` would share
/// one key (now 14 keys)".
fn check_text(label: &str, task: &str, live: bool, c: &Checked) -> String {
    let (a, b) = if live {
        ("A's run", "the next run")
    } else {
        ("A", "B")
    };
    let pair = match c.share {
        Some(true) => format!("{a} and {b} would share one key"),
        Some(false) => format!("{a} and {b} would still get different keys"),
        None => format!("the key of {a} or {b} cannot be computed"),
    };
    let mut text = format!("with {label}, {pair}");
    if c.runs > 0 && c.keys_fixed == 0 {
        text.push_str(&format!(
            ", and the keys of these {} recorded run{} of `{task}` cannot be computed (a node \
             cachescope cannot recompute, whose key the runs did not record)",
            c.runs,
            if c.runs == 1 { "" } else { "s" },
        ));
    } else if c.runs > 0 {
        let share = if c.keys_fixed == 1 {
            "would share one key".to_string()
        } else {
            format!("would have {}", keys(c.keys_fixed))
        };
        text.push_str(&format!(
            ", and these {} recorded run{} of `{task}` {share} (now {})",
            c.runs,
            if c.runs == 1 { "" } else { "s" },
            keys(c.keys_now)
        ));
        if c.uncomputable > 0 {
            text.push_str(&format!(
                "; {} cannot be computed (a node cachescope cannot recompute, whose key the \
                 run did not record)",
                c.uncomputable
            ));
        }
    }
    text
}

fn advice(kind: AdviceKind, text: String, fix: Option<String>, check: Option<String>) -> Advice {
    Advice {
        kind,
        text,
        fix,
        check,
    }
}

/// A fix as an expression (None when it cannot be written), and what the engine found
/// applying it. `change` says in words what the fix does, for a fix that cannot be written
/// (a policy class of the user's own, a lock manager the record knows only by its class):
/// the tree is checked all the same, since `configure()` never changes a key.
fn fix_and_check(input: &AdviceInput, tree: &PolicyNode, change: &str) -> (Option<String>, String) {
    match input.fix(tree) {
        Ok(fix) => {
            let c = check(input, &fix.tree, false);
            let label = format!("`{}`", fix.text);
            let checked = check_text(&label, input.task(), input.b.live, &c);
            (Some(fix.text), checked)
        }
        Err(why) => {
            let c = check(input, tree, false);
            let label = format!("{change} (cachescope cannot write that policy out: {why})");
            (None, check_text(&label, input.task(), input.b.live, &c))
        }
    }
}

/// Advice with a checked policy fix.
fn with_fix(
    input: &AdviceInput,
    kind: AdviceKind,
    text: String,
    tree: &PolicyNode,
    change: &str,
) -> Advice {
    let (fix, checked) = fix_and_check(input, tree, change);
    advice(kind, text, fix, Some(checked))
}

/// A note with its fix and check in it.
fn note(text: String, (fix, checked): (Option<String>, String)) -> String {
    match fix {
        Some(fix) => format!("{text} Fix: cache_policy={fix} ({checked})."),
        None => format!("{text} ({checked})."),
    }
}

// ---------------------------------------------------------------------------------------------
// The surprises.

fn default_run_id(input: &AdviceInput) -> Option<Advice> {
    let tree = input.b.policy?;
    // RunId made this miss, or will make the next run's (live, or a policy edit that added it).
    if !tree_has(tree, &|k| matches!(k, PolicyKind::RunId))
        || (input.culprit("RunId").is_none() && !input.b.next_run)
    {
        return None;
    }
    let fix = without(tree, &|k| matches!(k, PolicyKind::RunId)).unwrap_or_else(|| {
        let fallback = parse_policy("INPUTS + TASK_SOURCE").expect("a constant expression");
        configure(&fallback, &tree.configure)
    });
    let name = if is_default(tree) {
        "`DEFAULT` (what a task gets without cache_policy)".to_string()
    } else {
        format!("`{}`", render(tree))
    };
    let scope = input.b.run_scope();
    let text = format!(
        "{name} includes RUN_ID: the key changes with every {scope}, so `{}` can never be \
         served from the cache of another {scope}. To reuse results across runs, leave RUN_ID out.",
        input.task()
    );
    Some(with_fix(
        input,
        AdviceKind::DefaultRunId,
        text,
        &fix,
        "RUN_ID left out",
    ))
}

fn set_of_strings_advice(input: &AdviceInput) -> Option<Advice> {
    let mut arguments: Vec<String> = Vec::new();
    for c in input.culprits {
        let Evidence::Arguments(e) = &c.evidence else {
            continue;
        };
        for change in &e.changes {
            let involved = [&change.old, &change.new]
                .into_iter()
                .flatten()
                .any(|v| set_of_strings(v).is_some());
            if involved && !arguments.contains(&change.argument) {
                arguments.push(change.argument.clone());
            }
        }
    }
    if arguments.is_empty() {
        return None;
    }
    let names: Vec<String> = arguments.iter().map(|a| format!("`{a}`")).collect();
    let names = join_and(&names);
    let text = format!(
        "{names} {} a set of strings: a set iterates in an order that changes from one Python \
         process to the next (PYTHONHASHSEED), and Prefect hashes that order, so the key \
         changes though nothing else did. Pass a sorted list (`sorted(...)`) instead, or run \
         every process with the same PYTHONHASHSEED.",
        if arguments.len() == 1 { "is" } else { "are" }
    );
    let tree = strip(input.b.policy?);
    let c = check(input, &tree, true);
    let label = format!(
        "{names} passed as {}",
        if arguments.len() == 1 {
            "a sorted list"
        } else {
            "sorted lists"
        }
    );
    let checked = check_text(&label, input.task(), input.b.live, &c);
    Some(advice(AdviceKind::SetOfStrings, text, None, Some(checked)))
}

/// Arguments recorded only as their repr (Prefect hashed them with cloudpickle).
fn opaque_arguments(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_object)
        .map(|entries| {
            entries
                .iter()
                .filter(|(_, v)| holds_placeholder(v))
                .filter_map(|(k, _)| match k {
                    crate::pyjson::Key::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn unhashable_input(input: &AdviceInput) -> Option<Advice> {
    let tree = input.b.policy?;
    // A node whose key Prefect took from cloudpickle, or that the recorder could not reproduce.
    let opaque_node = input
        .a
        .evaluation
        .nodes
        .iter()
        .chain(&input.b.evaluation.nodes)
        .find(|n| {
            // An opaque key, not a key that could not be computed at all (that is no_key).
            (n.policy == "Inputs" || n.policy == "FlowParameters")
                && n.status == NodeStatus::Unverifiable
                && n.key.is_some()
                && !n.note.as_deref().is_some_and(|w| {
                    w.starts_with("compute_key raised") || w.starts_with("not reached")
                })
        })?;
    let in_inputs = opaque_node.policy == "Inputs";
    let mut names = opaque_arguments(if in_inputs {
        input.b.material.inputs
    } else {
        input.b.material.flow_parameters
    });
    for n in opaque_arguments(if in_inputs {
        input.a.material.inputs
    } else {
        input.a.material.flow_parameters
    }) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let what = if in_inputs { "input" } else { "flow parameter" };
    let why = opaque_node.note.clone().unwrap_or_default();
    if names.is_empty() || !in_inputs {
        let text = format!(
            "A {what} of `{}` cannot be hashed as JSON ({why}): Prefect falls back to \
             cloudpickle, whose bytes can differ between processes and machines, so the key can \
             change though nothing did, and cachescope cannot check it. Pass values JSON can \
             encode (plain data, dataclasses, pydantic models).",
            input.task()
        );
        return Some(advice(AdviceKind::UnhashableInput, text, None, None));
    }
    let ticked: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    let text = format!(
        "{} cannot be encoded as JSON, so Prefect hashes the inputs of `{}` with cloudpickle: \
         a key that can differ between processes and machines, and that cachescope cannot \
         check. Exclude {} from the key if it does not change the result, or pass something \
         JSON can encode (its name, its settings).",
        join_and(&ticked),
        input.task(),
        if names.len() == 1 { "it" } else { "them" }
    );
    let mut fix = strip(tree);
    for n in &names {
        fix = sub(&fix, n);
    }
    if !tree_has(&fix, &|k| matches!(k, PolicyKind::Inputs { .. })) {
        return Some(advice(AdviceKind::UnhashableInput, text, None, None));
    }
    let change = format!("{} excluded", join_and(&ticked));
    Some(with_fix(
        input,
        AdviceKind::UnhashableInput,
        text,
        &fix,
        &change,
    ))
}

fn minus_without_inputs(input: &AdviceInput) -> Option<Advice> {
    let tree = input.b.policy?;
    if tree_has(tree, &|k| matches!(k, PolicyKind::Inputs { .. })) {
        return None;
    }
    let expr = decorator_policy(input.b.material.source?)?;
    let names = subtracted_names(&expr);
    let hashes_params = tree_has(tree, &|k| matches!(k, PolicyKind::FlowParameters));
    let value = |m: &Material, n: &str| {
        (
            m.inputs.and_then(|v| v.get(n)).cloned(),
            m.flow_parameters.and_then(|v| v.get(n)).cloned(),
        )
    };
    // It matters when the name is something the user meant to leave out of the key: a flow
    // parameter FLOW_PARAMETERS hashes, or an input whose value changed between A and B.
    let matters: Vec<&String> = names
        .iter()
        .filter(|n| {
            let (input_b, param_b) = value(&input.b.material, n);
            let (input_a, _) = value(&input.a.material, n);
            // Two reprs that differ only by a memory address are no evidence of a change.
            let changed = match (&input_a, &input_b) {
                (Some(x), Some(y)) => !same_value(x, y),
                (None, Some(_)) => true,
                _ => false,
            };
            (hashes_params && param_b.is_some()) || changed
        })
        .collect();
    if matters.is_empty() {
        return None;
    }
    let ticked: Vec<String> = matters.iter().map(|n| format!("`{n}`")).collect();
    let what = if hashes_params {
        "and FLOW_PARAMETERS still hashes every flow parameter"
    } else {
        "and no input is part of the key at all"
    };
    let text = format!(
        "`{expr}` does not leave out {}: `-` only acts on INPUTS, and this policy has none, so \
         the subtraction did nothing, {what}. To key on the task's own inputs without {}, use \
         INPUTS.",
        join_and(&ticked),
        join_and(&ticked)
    );
    let mut fix = if hashes_params {
        inputs_for_flow_parameters(tree)
    } else {
        add(
            &PolicyNode::new(PolicyKind::Inputs {
                exclude: Vec::new(),
            }),
            &strip(tree),
        )
        .ok()?
    };
    for n in matters {
        fix = sub(&fix, n);
    }
    Some(with_fix(
        input,
        AdviceKind::MinusWithoutInputs,
        text,
        &fix,
        "INPUTS in the key",
    ))
}

fn inputs_only_collision(input: &AdviceInput) -> Option<Advice> {
    let tree = input.b.policy?;
    let hashes_only_arguments = !tree_has(tree, &|k| {
        matches!(
            k,
            PolicyKind::TaskSource
                | PolicyKind::RunId
                | PolicyKind::CacheKeyFn { .. }
                | PolicyKind::Other { .. }
        )
    }) && tree_has(tree, &|k| matches!(k, PolicyKind::Inputs { .. }));
    let key = input.b.key.as_deref()?;
    if !hashes_only_arguments {
        return None;
    }
    // One run per task: the runs of a task need not be next to each other in load order.
    let mut others: Vec<&RunRecord> = Vec::new();
    for r in input.runs.iter().map(|r| r.record) {
        if r.key.as_deref() == Some(key)
            && !same_task(r, input.b.record)
            && !others.iter().any(|o| same_task(o, r))
        {
            others.push(r);
        }
    }
    if others.is_empty() {
        return None;
    }
    let names: Vec<String> = others
        .iter()
        .map(|r| format!("`{}`", r.task.name))
        .collect();
    let text = format!(
        "The key of `{}` hashes only its inputs, and {} got the very same key from the same \
         argument names and values: the tasks share cache entries, so one can be served the \
         other's result. Add TASK_SOURCE to tell them apart.",
        input.task(),
        join_and(&names)
    );
    let fix = add(&strip(tree), &PolicyNode::new(PolicyKind::TaskSource)).ok()?;
    let (fix_text, checked_tree, label) = match input.fix(&fix) {
        Ok(f) => {
            let label = format!("`{}`", f.text);
            (Some(f.text), f.tree, label)
        }
        Err(why) => (
            None,
            fix,
            format!("TASK_SOURCE added (cachescope cannot write that policy out: {why})"),
        ),
    };
    let b_key = key_under(
        &checked_tree,
        input.b.record.policy.as_ref(),
        &input.b.material,
        Carry::All,
    );
    let still: Vec<String> = others
        .iter()
        .filter(|r| {
            let k = key_under(
                &checked_tree,
                r.policy.as_ref(),
                &Material::of_record(r),
                Carry::All,
            );
            k.is_some() && k == b_key
        })
        .map(|r| format!("`{}`", r.task.name))
        .collect();
    let checked = if still.is_empty() {
        let all: Vec<String> = std::iter::once(format!("`{}`", input.task()))
            .chain(names.iter().cloned())
            .collect();
        format!("with {label}, {} would get different keys", join_and(&all))
    } else {
        format!(
            "with {label}, `{}` would still share a key with {}",
            input.task(),
            join_and(&still)
        )
    };
    Some(advice(
        AdviceKind::InputsOnlyCollision,
        text,
        fix_text,
        Some(checked),
    ))
}

fn cosmetic_source_edit(input: &AdviceInput) -> Option<Advice> {
    let culprit = input.culprit("TaskSource")?;
    let Evidence::TaskSource(s) = &culprit.evidence else {
        return None;
    };
    if s.edit.classification != Classification::Cosmetic {
        return None;
    }
    let kinds: Vec<String> = s
        .edit
        .kinds
        .iter()
        .map(|k| {
            match *k {
                "comment" => "comments",
                "blank" => "blank lines",
                "docstring" => "the docstring",
                other => other,
            }
            .to_string()
        })
        .collect();
    let text = format!(
        "Only {} changed in `{}` ({}), yet TASK_SOURCE hashes the function's whole text, so the \
         cache was busted all the same. Edits to helper functions and nested tasks never change \
         the key: keep text that changes often there. Dropping TASK_SOURCE keeps the cache \
         through such edits, but then code changes will not bust it either (bump an input when \
         the logic changes).",
        join_and(&kinds),
        input.task(),
        s.location()
    );
    let tree = input.b.policy?;
    match without(tree, &|k| matches!(k, PolicyKind::TaskSource)) {
        Some(fix) => Some(with_fix(
            input,
            AdviceKind::CosmeticSourceEdit,
            text,
            &fix,
            "TASK_SOURCE left out",
        )),
        None => Some(advice(AdviceKind::CosmeticSourceEdit, text, None, None)),
    }
}

fn flow_parameters_all(input: &AdviceInput) -> Option<String> {
    let culprit = input.culprit("FlowParameters")?;
    let Evidence::Arguments(e) = &culprit.evidence else {
        return None;
    };
    let inputs = input.b.material.inputs;
    let mut foreign: Vec<String> = Vec::new();
    for c in &e.changes {
        if inputs.and_then(|i| i.get(&c.argument)).is_none() && !foreign.contains(&c.argument) {
            foreign.push(c.argument.clone());
        }
    }
    if foreign.is_empty() {
        return None;
    }
    let ticked: Vec<String> = foreign.iter().map(|n| format!("`{n}`")).collect();
    let text = format!(
        "FLOW_PARAMETERS hashes every parameter of the flow run: {} changed, and `{}` does not \
         even receive {}. To key on what the task is given, hash its inputs instead.",
        join_and(&ticked),
        input.task(),
        if foreign.len() == 1 { "it" } else { "them" }
    );
    let fix = inputs_for_flow_parameters(input.b.policy?);
    Some(note(
        text,
        fix_and_check(input, &fix, "INPUTS in place of FLOW_PARAMETERS"),
    ))
}

fn inputs_not_in_key(input: &AdviceInput) -> Option<String> {
    let tree = input.b.policy?;
    if !input.hit || input.b.live || tree_has(tree, &|k| matches!(k, PolicyKind::Inputs { .. })) {
        return None;
    }
    if same_inputs(input.a.record, input.b.record, &[]) {
        return None;
    }
    let (Some(ia), Some(ib)) = (input.a.material.inputs, input.b.material.inputs) else {
        return None;
    };
    let (changes, _) = super::value_diff::diff_arguments(Some(ia), Some(ib), &|_| true, 1000);
    let mut names: Vec<String> = Vec::new();
    for c in changes {
        let n = format!("`{}`", c.argument);
        if !names.contains(&n) {
            names.push(n);
        }
    }
    // Inputs that differ only by what the diff does not count as a change (a memory address
    // in a repr) are not a reason to call the result stale.
    if names.is_empty() {
        return None;
    }
    let text = format!(
        "`{}` was served A's result although its input{} {} changed: its policy `{}` does not \
         hash inputs, so the cached result may be stale. Add INPUTS if the result depends on them.",
        input.task(),
        if names.len() == 1 { "" } else { "s" },
        join_and(&names),
        render(tree)
    );
    let fix = add(
        &PolicyNode::new(PolicyKind::Inputs {
            exclude: Vec::new(),
        }),
        &strip(tree),
    )
    .ok()?;
    let (fix_text, checked_tree, label) = match input.fix(&fix) {
        Ok(f) => {
            let label = format!("`{}`", f.text);
            (Some(f.text), f.tree, label)
        }
        Err(why) => (
            None,
            fix,
            format!("INPUTS added (cachescope cannot write that policy out: {why})"),
        ),
    };
    let c = check(input, &checked_tree, false);
    let checked = match c.share {
        Some(false) => format!("with {label}, B would have got its own key and run"),
        Some(true) => format!("with {label}, A and B would still share one key"),
        None => format!("with {label}, the keys cannot be computed"),
    };
    Some(note(text, (fix_text, checked)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::tree_text::quote;

    #[test]
    fn fix_trees_drop_and_replace_nodes() {
        let default = constant("DEFAULT").unwrap();
        let fix = without(&default, &|k| matches!(k, PolicyKind::RunId)).unwrap();
        assert_eq!(render(&fix), "INPUTS + TASK_SOURCE");
        let fp = parse_policy("FLOW_PARAMETERS + TASK_SOURCE").unwrap();
        assert_eq!(
            render(&inputs_for_flow_parameters(&fp)),
            "INPUTS + TASK_SOURCE"
        );
        let only_run = parse_policy("RUN_ID").unwrap();
        assert!(without(&only_run, &|k| matches!(k, PolicyKind::RunId)).is_none());
        assert!(is_default(&default));
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
    }

    /// Issue 8, item 7: a compound left with one child keeps the compound's `configure()`.
    #[test]
    fn a_fix_keeps_what_configure_set() {
        let configured = parse_policy(
            "(TASK_SOURCE + INPUTS).configure(key_storage='/k/x', isolation_level='SERIALIZABLE')",
        )
        .unwrap();
        let fix = without(&configured, &|k| matches!(k, PolicyKind::TaskSource)).unwrap();
        assert_eq!(
            render(&fix),
            "INPUTS.configure(key_storage=\"/k/x\", isolation_level=\"SERIALIZABLE\")"
        );
        assert_eq!(parse_policy(&render(&fix)), Ok(fix));
        let with_run_id =
            parse_policy("(TASK_SOURCE + RUN_ID + INPUTS).configure(key_storage='/k/x')").unwrap();
        let fix = without(&with_run_id, &|k| matches!(k, PolicyKind::RunId)).unwrap();
        assert_eq!(
            render(&fix),
            "(INPUTS + TASK_SOURCE).configure(key_storage=\"/k/x\")"
        );
    }
}
