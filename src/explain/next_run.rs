//! The next run, as far as the files say: A's record recomputed with the task's source as it
//! is now, and with the cache policy its decorator now sets.
//!
//! The policy lives in the decorator, which is part of the source: when the user edits
//! `cache_policy=` the next run gets another tree, not just another TaskSource key. The
//! decorator's expression is evaluated with Prefect 3.9.1's composition rules, but only trusted
//! when the decorator in A's recorded source evaluates to A's recorded tree (otherwise the
//! policy came from somewhere else, `with_options` at the call, and the recorded tree stays).
//!
//! # A policy held in a variable
//! `@task(cache_policy=MY_POLICY)` names a module-level variable, which
//! [`super::policy_variable`] resolves in the task's file as it is now, at the decorator's line
//! (the binding Python uses when the `def` runs). The record holds the task's source but not
//! the rest of the file as it was, so A's side cannot be evaluated as it was; the trust rule
//! becomes:
//! - the recorded decorator names module variables, so it is taken as where A's policy came
//!   from. If the names now evaluate to A's recorded tree, nothing changed (and that agreement
//!   confirms the decorator as the source). If they evaluate to another tree, either the
//!   variable's definition was edited since A ran (`MY_POLICY = INPUTS` became
//!   `INPUTS + TASK_SOURCE`), which is exactly the change to report, or A's policy came from
//!   `with_options(cache_policy=...)` at the call and never from the variable;
//! - the file is searched for the second story: when a `.with_options(cache_policy=EXPR)` in it
//!   evaluates to A's recorded tree, that is where A's policy came from, and the recorded tree
//!   stays. Otherwise the variable's value now is the next run's policy (`Changed`), reported
//!   as a policy change with a note saying which assignment it was read from;
//! - a name cachescope cannot read (imported from another module, built by a call, a class
//!   instance, assigned in an `if` or `try` block or in a function) is said in one line (a
//!   note) and the recorded tree is used: the decorator is the source, but its value is not
//!   known.
//!
//! What the file cannot tell: a `with_options(cache_policy=...)` in another module (or one
//! whose expression cachescope cannot evaluate) while the decorator names a variable whose
//! value differs from A's tree. The variable's value is then reported as a policy change that
//! is not one; the note naming the assignment it was read from shows where to look.
//!
//! This module reads files and storage (through [`evaluate_live`] and the [`SourceCache`]); the
//! explainer stays pure.

use std::path::Path;

use jiff::Timestamp;

use crate::engine::NodeStatus;
use crate::live::{LiveEvaluation, LiveOptions, SourceCache, evaluate_live};
use crate::policy::{Configure, PolicyKind, PolicyNode, module_names, parse_policy, storage_path};
use crate::record::RunRecord;

use super::decorator::decorator_policy;
use super::module_bindings::module_bindings;
use super::policy_variable::{Module, Resolved, Unresolved, resolve};

/// What the next run would do.
#[derive(Debug, Clone)]
pub struct NextRun {
    /// The live recomputation (source as it is now, storage lookup of the next key).
    pub evaluation: LiveEvaluation,
    /// The policy the decorator sets now, when it is not the recorded one.
    pub policy: Option<PolicyNode>,
    /// Why the decorator's policy could not be used, if it changed but could not be, or if it
    /// names a variable cachescope cannot read.
    pub note: Option<String>,
    /// Where `policy` was read from, when the decorator names module-level variables.
    pub policy_from: Option<String>,
}

/// The tree as far as both a decorator's expression and a record can say it, to compare
/// shapes: no recorded keys; `key_storage` as the path it names; a lock manager and an isolation
/// level only as set or not (the record names the lock manager's class, the expression the
/// variable that holds it; neither changes the key); a `cache_key_fn` by its bare name (the
/// record qualifies it with its module).
fn shape(node: &PolicyNode) -> PolicyNode {
    let kind = match &node.kind {
        PolicyKind::Compound { policies } => PolicyKind::Compound {
            policies: policies.iter().map(shape).collect(),
        },
        PolicyKind::CacheKeyFn { function } => PolicyKind::CacheKeyFn {
            function: function
                .as_deref()
                .map(|f| f.rsplit('.').next().unwrap_or(f).to_string()),
        },
        other => other.clone(),
    };
    let set = |field: &Option<String>| field.as_ref().map(|_| "set".to_string());
    let c = &node.configure;
    PolicyNode {
        kind,
        configure: Configure {
            key_storage: c
                .key_storage
                .as_deref()
                .map(|k| storage_path(k).unwrap_or_else(|| k.to_string())),
            isolation_level: set(&c.isolation_level),
            lock_manager: set(&c.lock_manager),
        }
        .into(),
        recorded: None,
    }
}

/// The policy expression a task's decorator sets: its `cache_policy=`, or DEFAULT when it sets
/// neither a policy nor a `cache_key_fn`. None when the text says something else.
fn decorator_expr(source: &str) -> Option<String> {
    let decorator_end = source.find("def ")?;
    let decorator = &source[..decorator_end];
    match decorator_policy(decorator) {
        Some(expr) => Some(expr),
        None if decorator.contains("cache_key_fn") || !decorator.contains("task") => None,
        None => Some("DEFAULT".to_string()),
    }
}

/// The task as its file is now.
pub struct TaskNow<'a> {
    /// The function's source, decorators included.
    pub source: &'a str,
    /// Its first decorator's line, where Python evaluates `cache_policy=`.
    pub line: usize,
    /// What the module binds, when its file could be read whole.
    pub module: Option<Module<'a>>,
}

/// What the decorator now says the policy is, if it changed and can be trusted.
pub enum PolicyNow {
    /// The recorded tree still applies.
    Same,
    /// The decorator now sets another policy; `from` says which module-level assignments it
    /// was read from, when it names any.
    Changed {
        expr: String,
        tree: PolicyNode,
        from: Option<String>,
    },
    /// The decorator changed the policy in a way cachescope cannot evaluate, or names a
    /// variable it cannot read: why, in one line.
    Unknown(String),
}

/// A value as one line: comments dropped, line breaks and runs of spaces made one space.
fn one_line(value: &str) -> String {
    let mut out = String::new();
    for line in value.lines() {
        let mut quote: Option<char> = None;
        let mut kept = String::new();
        let mut prev = '\0';
        for c in line.chars() {
            match quote {
                Some(q) if c == q && prev != '\\' => quote = None,
                Some(_) => {}
                None if c == '#' => break,
                None if c == '"' || c == '\'' => quote = Some(c),
                None => {}
            }
            kept.push(c);
            prev = c;
        }
        for word in kept.split_whitespace() {
            if !(out.is_empty() || out.ends_with('(') || word.starts_with(')')) {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
}

/// "cache_policy=MY_POLICY is read from the file as it is now: MY_POLICY = BASE - 'x'
/// (flows.py:5), BASE = INPUTS (flows.py:4)".
fn read_from(expr: &str, resolved: &Resolved, file: &str) -> Option<String> {
    if resolved.names.is_empty() {
        return None;
    }
    let assignments: Vec<String> = resolved
        .names
        .iter()
        .rev()
        .map(|(name, line, value)| format!("{name} = {} ({file}:{line})", one_line(value)))
        .collect();
    Some(format!(
        "cache_policy={expr} is read from the file as it is now: {}",
        assignments.join(", ")
    ))
}

/// Why the decorator's expression cannot be used, as one line.
fn unresolved_note(expr: &str, why: Unresolved, file: &str) -> String {
    match why {
        Unresolved::Expr(e) => format!(
            "the decorator's cache_policy changed and cannot be evaluated (`{expr}`: {e}); the \
             recorded policy is used"
        ),
        Unresolved::Unreadable { name, why } if name == expr.trim() => format!(
            "cache_policy={expr} {why}; cachescope cannot read it, so the recorded policy is used"
        ),
        Unresolved::Unreadable { name, why } => format!(
            "cache_policy={expr}: `{name}` {why}; cachescope cannot read it, so the recorded \
             policy is used"
        ),
        Unresolved::Invalid {
            name,
            line,
            value,
            error,
        } => format!(
            "cache_policy={expr}: `{name} = {}` ({file}:{line}) cannot be evaluated ({error}); \
             the recorded policy is used",
            one_line(&value)
        ),
    }
}

/// Compares the decorator of A's recorded source, A's tree and the decorator now.
pub fn policy_now(record: &RunRecord, now: &TaskNow) -> PolicyNow {
    let (Some(old_source), Some(recorded)) = (record.task.source.as_deref(), &record.policy) else {
        return PolicyNow::Same;
    };
    // The decorator must be where A's policy came from: its expression gives A's tree, or it
    // names module variables, whose values then cannot be had as they were (module docs).
    let Some(old_expr) = decorator_expr(old_source) else {
        return PolicyNow::Same;
    };
    let through_variables = match module_names(&old_expr) {
        Ok(names) => !names.is_empty(),
        Err(_) => return PolicyNow::Same,
    };
    if !through_variables
        && !parse_policy(&old_expr).is_ok_and(|old| shape(&old) == shape(recorded))
    {
        return PolicyNow::Same;
    }
    let Some(expr) = decorator_expr(now.source) else {
        return PolicyNow::Unknown(
            "the decorator no longer sets cache_policy in a way cachescope can read; the \
             recorded policy is used"
                .to_string(),
        );
    };
    let resolved = match &now.module {
        Some(module) => {
            resolve(&expr, now.line, module).map_err(|why| unresolved_note(&expr, why, module.file))
        }
        None => match module_names(&expr) {
            Ok(names) if !names.is_empty() => Err(format!(
                "cache_policy={expr} names variables of a file cachescope cannot read whole; \
                 the recorded policy is used"
            )),
            Ok(_) => parse_policy(&expr)
                .map(|tree| Resolved {
                    tree,
                    names: Vec::new(),
                })
                .map_err(|e| unresolved_note(&expr, Unresolved::Expr(e), "")),
            Err(e) => Err(unresolved_note(&expr, Unresolved::Expr(e), "")),
        },
    };
    let resolved = match resolved {
        Ok(r) => r,
        Err(note) => return PolicyNow::Unknown(note),
    };
    if shape(&resolved.tree) == shape(recorded) {
        return PolicyNow::Same;
    }
    if let Some(module) = &now.module
        && through_variables
        && module.bindings.with_options.iter().any(|w| {
            resolve(&w.expr, usize::MAX, module).is_ok_and(|r| shape(&r.tree) == shape(recorded))
        })
    {
        return PolicyNow::Same;
    }
    let from = now
        .module
        .as_ref()
        .and_then(|m| read_from(&expr, &resolved, m.file));
    PolicyNow::Changed {
        expr,
        tree: resolved.tree,
        from,
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
    let unchanged = |evaluation, note| NextRun {
        evaluation,
        policy: None,
        note,
        policy_from: None,
    };
    let Ok(source) = &evaluation.source else {
        return unchanged(evaluation, None);
    };
    // The whole file, for the variables the decorator may name; the cache read it already.
    let bindings = cache
        .source_file(&source.path, source.python)
        .ok()
        .map(|file| module_bindings(file.lines(), source.python));
    let file = source.path.file_name().map_or_else(
        || source.path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let task = TaskNow {
        source: &source.function.source,
        line: source.function.code_first_line,
        module: bindings.as_ref().map(|bindings| Module {
            bindings,
            file: &file,
        }),
    };
    match policy_now(record, &task) {
        PolicyNow::Same => unchanged(evaluation, None),
        PolicyNow::Unknown(why) => unchanged(evaluation, Some(why)),
        PolicyNow::Changed { expr, tree, from } => {
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
                    policy_from: from,
                }
            } else {
                unchanged(
                    evaluation,
                    Some(format!(
                        "the decorator now sets cache_policy={expr}, whose key cachescope cannot \
                         compute from the record; the recorded policy is used"
                    )),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::module_bindings::ModuleBindings;
    use crate::source::{PythonVersion, SourceFile};

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

    /// The policy the decorator of `t` in `file` (the whole file as it is now) sets for the
    /// next run of `record`.
    fn policy_in(record: &RunRecord, file: &str) -> PolicyNow {
        let version = PythonVersion::new(3, 11);
        let text = SourceFile::new(file, version).unwrap();
        let function = text.find_function("t", None).unwrap();
        let bindings: ModuleBindings = module_bindings(text.lines(), version);
        let task = TaskNow {
            source: &function.source,
            line: function.code_first_line,
            module: Some(Module {
                bindings: &bindings,
                file: "flows.py",
            }),
        };
        policy_now(record, &task)
    }

    #[test]
    fn a_changed_decorator_policy_is_the_next_runs_policy() {
        let old = "@task(cache_policy=INPUTS + TASK_SOURCE)\ndef t(x):\n    return x\n";
        let r = record_with(old, "INPUTS + TASK_SOURCE");
        assert!(matches!(policy_in(&r, old), PolicyNow::Same));
        let new = old.replace("INPUTS + TASK_SOURCE", "INPUTS + TASK_SOURCE + RUN_ID");
        match policy_in(&r, &new) {
            PolicyNow::Changed { expr, tree, from } => {
                assert_eq!(expr, "INPUTS + TASK_SOURCE + RUN_ID");
                assert_eq!(tree, parse_policy("DEFAULT").unwrap());
                assert_eq!(from, None);
            }
            _ => panic!("not changed"),
        }
        // Dropping cache_policy altogether gives DEFAULT.
        let bare = "@task\ndef t(x):\n    return x\n";
        assert!(matches!(policy_in(&r, bare), PolicyNow::Changed { .. }));
        // A name the file does not assign: say so, keep the recorded tree.
        let custom = old.replace("INPUTS + TASK_SOURCE", "MY_POLICY");
        match policy_in(&r, &custom) {
            PolicyNow::Unknown(note) => assert_eq!(
                note,
                "cache_policy=MY_POLICY is not assigned at module level before flows.py:1; \
                 cachescope cannot read it, so the recorded policy is used"
            ),
            _ => panic!("not unknown"),
        }
    }

    #[test]
    fn a_policy_that_did_not_come_from_the_decorator_stays() {
        // The record's tree is not what the decorator says (with_options at the call).
        let old = "@task(cache_policy=INPUTS)\ndef t(x):\n    return x\n";
        let r = record_with(old, "INPUTS + TASK_SOURCE");
        let new = old.replace("INPUTS", "TASK_SOURCE");
        assert!(matches!(policy_in(&r, &new), PolicyNow::Same));
    }

    const TASK: &str = "@task(cache_policy=MY_POLICY)\ndef t(x):\n    return x\n";

    // Issue 7, item 4: a policy held in a variable was silently kept as recorded.
    #[test]
    fn an_edited_variable_is_a_policy_change() {
        let r = record_with(TASK, "INPUTS");
        let file = |assignment: &str| format!("{assignment}\n\n{TASK}");
        assert!(matches!(
            policy_in(&r, &file("MY_POLICY = INPUTS")),
            PolicyNow::Same
        ));
        // Only the function body changed: the variable still gives the recorded tree.
        let body = file("MY_POLICY = INPUTS").replace("return x", "return x + 1");
        assert!(matches!(policy_in(&r, &body), PolicyNow::Same));
        match policy_in(
            &r,
            &file("BASE = INPUTS\nMY_POLICY = (\n    BASE  # all\n    + TASK_SOURCE\n)"),
        ) {
            PolicyNow::Changed { expr, tree, from } => {
                assert_eq!(expr, "MY_POLICY");
                assert_eq!(tree, parse_policy("INPUTS + TASK_SOURCE").unwrap());
                assert_eq!(
                    from.as_deref(),
                    Some(
                        "cache_policy=MY_POLICY is read from the file as it is now: \
                         MY_POLICY = (BASE + TASK_SOURCE) (flows.py:2), BASE = INPUTS (flows.py:1)"
                    )
                );
            }
            _ => panic!("not changed"),
        }
    }

    #[test]
    fn an_unreadable_variable_is_said_in_one_line() {
        let r = record_with(TASK, "INPUTS");
        let imported = format!("from policies import MY_POLICY\n{TASK}");
        match policy_in(&r, &imported) {
            PolicyNow::Unknown(note) => assert_eq!(
                note,
                "cache_policy=MY_POLICY is imported from module `policies` (flows.py:1); \
                 cachescope cannot read it, so the recorded policy is used"
            ),
            _ => panic!("not unknown"),
        }
        let invalid = format!("MY_POLICY = INPUTS if FAST else TASK_SOURCE\n{TASK}");
        match policy_in(&r, &invalid) {
            PolicyNow::Unknown(note) => assert!(
                note.starts_with(
                    "cache_policy=MY_POLICY: `MY_POLICY = INPUTS if FAST else TASK_SOURCE` \
                     (flows.py:1) cannot be evaluated (line 1, column 8:"
                ),
                "{note}"
            ),
            _ => panic!("not unknown"),
        }
    }

    #[test]
    fn what_a_record_writes_differently_is_no_change() {
        // The recorder qualifies a cache_key_fn with its module, names a lock manager by its
        // class and writes a Path as text; the expression says `versioned_key`, `locks` and
        // `Path(...)`. The key is the same.
        let mut r = record_with(TASK, "INPUTS");
        let recorded = r.policy.as_mut().unwrap();
        *recorded.configure = Configure {
            key_storage: Some("/keys".into()),
            isolation_level: None,
            lock_manager: Some("prefect.locking.memory.MemoryLockManager".into()),
        };
        let file = format!(
            "MY_POLICY = INPUTS.configure(key_storage=Path('/keys'), lock_manager=locks)\n{TASK}"
        );
        assert!(matches!(policy_in(&r, &file), PolicyNow::Same));
        let mut r = record_with(TASK, "INPUTS");
        r.policy = Some(PolicyNode::new(PolicyKind::CacheKeyFn {
            function: Some("flows.versioned_key".into()),
        }));
        let file = format!("MY_POLICY = CacheKeyFnPolicy(cache_key_fn=versioned_key)\n{TASK}");
        assert!(matches!(policy_in(&r, &file), PolicyNow::Same));
    }

    #[test]
    fn a_with_options_that_gives_the_recorded_tree_explains_it() {
        // The variable says INPUTS + TASK_SOURCE, but the flow calls the task with INPUTS: the
        // recorded INPUTS came from there, and nothing changed.
        let r = record_with(TASK, "INPUTS");
        let file = format!(
            "MY_POLICY = INPUTS + TASK_SOURCE\n{TASK}\n@flow\ndef f():\n    \
             t.with_options(cache_policy=INPUTS)(1)\n"
        );
        assert!(matches!(policy_in(&r, &file), PolicyNow::Same));
        let other = file.replace("cache_policy=INPUTS)", "cache_policy=RUN_ID)");
        assert!(matches!(policy_in(&r, &other), PolicyNow::Changed { .. }));
    }
}
