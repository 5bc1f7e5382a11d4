//! The explainer end to end on synthetic records whose keys the engine computed: the causes,
//! advice and tree changes the sample runs do not show.

use std::path::PathBuf;

use super::*;
use crate::engine::{Material, evaluate};
use crate::load::RecordSource;
use crate::policy::{PolicyNode, Recorded, parse_policy};
use crate::pyjson::parse;
use crate::record::{Environment, FlowInfo, Outcome, RunRecord, TaskInfo, TaskRunInfo};

/// What a synthetic run is made of.
#[derive(Clone)]
struct Spec {
    task: &'static str,
    policy: &'static str,
    source: String,
    inputs: &'static str,
    params: &'static str,
    run_id: &'static str,
    at: &'static str,
    storage: &'static str,
    state: &'static str,
    hit: bool,
    refresh: bool,
    prefect: &'static str,
}

fn spec(task: &'static str, policy: &'static str) -> Spec {
    Spec {
        task,
        policy,
        source: format!("@task(cache_policy={policy})\ndef {task}(x):\n    return x\n"),
        inputs: r#"{"x": 1}"#,
        params: r#"{"day": "mon"}"#,
        run_id: "run-1",
        at: "2026-01-01T00:00:00Z",
        storage: "storage",
        state: "Completed",
        hit: false,
        refresh: false,
        prefect: "3.9.1",
    }
}

/// Sets every node's recorded key from an evaluation in pre-order.
fn record_keys(node: &mut PolicyNode, keys: &mut impl Iterator<Item = Option<String>>) {
    node.recorded = Some(Recorded {
        key: keys.next().flatten(),
        reproducible: true,
        reason: None,
    });
    if let crate::policy::PolicyKind::Compound { policies } = &mut node.kind {
        for child in policies {
            record_keys(child, keys);
        }
    }
}

fn record(s: &Spec) -> RunRecord {
    let mut tree = parse_policy(s.policy).unwrap();
    let inputs = parse(s.inputs).unwrap();
    let params = parse(s.params).unwrap();
    let m = Material {
        source: Some(&s.source),
        inputs: Some(&inputs),
        flow_parameters: Some(&params),
        run_id: Some(s.run_id),
    };
    let e = evaluate(&tree, &m);
    let key = e.key().map(str::to_string);
    record_keys(&mut tree, &mut e.nodes.iter().map(|n| n.key.clone()));
    RunRecord {
        recorded_at: Some(s.at.into()),
        environment: Environment {
            prefect: Some(s.prefect.into()),
            python: Some("3.11.7".into()),
        },
        project_root: None,
        flow: Some(FlowInfo {
            name: Some("f".into()),
            run_id: Some(s.run_id.into()),
            run_name: None,
            parameters: Some(params),
        }),
        task: TaskInfo {
            name: s.task.into(),
            task_key: None,
            qualname: Some(s.task.into()),
            file: Some("flows.py".into()),
            line: Some(10),
            source: Some(s.source.clone()),
            result_storage_key: None,
        },
        task_run: TaskRunInfo {
            id: Some(format!("{}-{}", s.task, s.run_id)),
            name: None,
            ..TaskRunInfo::default()
        },
        inputs: Some(inputs),
        policy: Some(tree),
        key,
        outcome: Outcome {
            state: Some(s.state.into()),
            cache_hit: s.hit,
            cache_expiration: None,
            refresh_cache: s.refresh,
            result_storage: Some(s.storage.into()),
        },
        transaction: None,
    }
}

fn source(name: &str) -> RecordSource {
    RecordSource {
        path: PathBuf::from(format!("runs/{name}.json")).into(),
        line: None,
    }
}

/// Explains `b` against `a`, with `others` loaded too.
fn explain_pair(a: &Spec, b: &Spec, others: &[Spec]) -> Explanation {
    let records: Vec<(RecordSource, RunRecord)> = [a, b]
        .into_iter()
        .chain(others)
        .enumerate()
        .map(|(i, s)| (source(&format!("r{i}")), record(s)))
        .collect();
    let refs: Vec<RunRef> = records
        .iter()
        .map(|(source, record)| RunRef { source, record })
        .collect();
    explain(&Case {
        a: refs[0],
        b: Other::Run(refs[1]),
        pairing: Pairing::Explicit,
        runs: &refs,
        what_if: None,
    })
}

fn later(s: &Spec) -> Spec {
    Spec {
        run_id: "run-2",
        at: "2026-01-02T00:00:00Z",
        ..s.clone()
    }
}

fn causes(e: &Explanation) -> Vec<&'static str> {
    e.non_key_causes.iter().map(|c| c.kind.as_str()).collect()
}

fn advice(e: &Explanation) -> Vec<&'static str> {
    e.advice.iter().map(|a| a.kind.as_str()).collect()
}

#[test]
fn equal_keys_in_other_storage_or_after_a_failure() {
    let a = spec("t", "INPUTS + TASK_SOURCE");
    let b = Spec {
        storage: "elsewhere",
        ..later(&a)
    };
    let e = explain_pair(&a, &b, &[]);
    assert_eq!(
        (e.verdict, causes(&e)),
        (Verdict::Miss, vec!["other_storage"])
    );
    assert!(e.culprits.is_empty());

    let failed = Spec {
        state: "Failed",
        ..a.clone()
    };
    let e = explain_pair(&failed, &later(&a), &[]);
    assert_eq!(causes(&e), ["no_record"]);
    assert!(
        e.non_key_causes[0].summary.contains("A ended Failed"),
        "{e:?}"
    );

    let hit = Spec {
        hit: true,
        ..later(&a)
    };
    let e = explain_pair(&a, &hit, &[]);
    assert_eq!((e.verdict, causes(&e)), (Verdict::Hit, vec![]));
}

#[test]
fn no_cache_means_no_key() {
    let a = spec("t", "INPUTS + TASK_SOURCE");
    let b = Spec {
        policy: "NO_CACHE",
        ..later(&a)
    };
    let e = explain_pair(&a, &b, &[]);
    assert_eq!((e.verdict, causes(&e)), (Verdict::Miss, vec!["no_key"]));
    assert!(e.non_key_causes[0].summary.contains("NO_CACHE"), "{e:?}");
}

#[test]
fn inputs_only_keys_collide_between_tasks() {
    let a = spec("add", "INPUTS");
    let other = spec("sub", "INPUTS");
    let e = explain_pair(&a, &later(&a), &[other]);
    assert_eq!(advice(&e), ["inputs_only_collision"]);
    let adv = &e.advice[0];
    assert_eq!(adv.fix.as_deref(), Some("INPUTS + TASK_SOURCE"));
    assert_eq!(
        adv.check.as_deref(),
        Some("with `INPUTS + TASK_SOURCE`, `add` and `sub` would get different keys")
    );
    // Tasks with other inputs do not collide: no advice.
    let apart = Spec {
        inputs: r#"{"x": 2}"#,
        ..spec("sub", "INPUTS")
    };
    assert!(advice(&explain_pair(&a, &later(&a), &[apart])).is_empty());
}

#[test]
fn a_minus_without_inputs_did_nothing_and_the_fix_is_checked() {
    let a = spec("load", "FLOW_PARAMETERS + TASK_SOURCE - 'debug'");
    let a = Spec {
        params: r#"{"day": "mon", "debug": false}"#,
        ..a
    };
    let b = Spec {
        params: r#"{"day": "mon", "debug": true}"#,
        ..later(&a)
    };
    let e = explain_pair(&a, &b, &[]);
    assert_eq!(e.culprits.len(), 1);
    assert_eq!(e.culprits[0].policy, "FlowParameters");
    let adv = e
        .advice
        .iter()
        .find(|a| a.kind == AdviceKind::MinusWithoutInputs)
        .unwrap_or_else(|| panic!("{:?}", e.advice));
    assert_eq!(adv.fix.as_deref(), Some("INPUTS + TASK_SOURCE - \"debug\""));
    assert!(
        adv.check
            .as_deref()
            .unwrap()
            .starts_with("with `INPUTS + TASK_SOURCE - \"debug\"`, A and B would share one key"),
        "{adv:?}"
    );
}

#[test]
fn a_policy_edit_is_a_tree_change_paired_with_the_decorator() {
    let a = spec("t", "INPUTS + TASK_SOURCE");
    let b = Spec {
        policy: "DEFAULT",
        source: "@task(cache_policy=DEFAULT)\ndef t(x):\n    return x\n".into(),
        ..later(&a)
    };
    let e = explain_pair(&a, &b, &[]);
    let got: Vec<(&str, &str, Proof)> = e
        .culprits
        .iter()
        .map(|c| (c.path.as_str(), c.policy.as_str(), c.proof))
        .collect();
    assert_eq!(
        got,
        [
            ("", "CompoundCachePolicy", Proof::Pair),
            ("0", "TaskSource", Proof::Pair)
        ]
    );
    let Evidence::Tree {
        a: ta,
        b: tb,
        changes,
    } = &e.culprits[0].evidence
    else {
        panic!("{:?}", e.culprits[0].evidence);
    };
    assert_eq!(
        (ta.as_str(), tb.as_str()),
        ("INPUTS + TASK_SOURCE", "INPUTS + TASK_SOURCE + RUN_ID")
    );
    assert_eq!(changes, &["added RunId at 1"]);
    let Evidence::TaskSource(s) = &e.culprits[1].evidence else {
        panic!()
    };
    assert_eq!(s.edit.kinds, ["decorator"]);
    assert_eq!(s.location(), "flows.py:10");
    assert!(e.unexplained.is_none());
}

#[test]
fn another_prefects_composition_is_unexplained_with_its_version_as_suspect() {
    let a = spec("t", "INPUTS + TASK_SOURCE");
    let mut old = record(&a);
    // Prefect 3.0.3 to 3.1.13 nested compounds: the root hashed the inner compound's key.
    old.environment.prefect = Some("3.1.2".into());
    old.key = Some("00000000000000000000000000000000".into());
    old.policy.as_mut().unwrap().recorded.as_mut().unwrap().key = old.key.clone();
    let new = record(&later(&a));
    let (sa, sb) = (source("a"), source("b"));
    let refs = [
        RunRef {
            source: &sa,
            record: &old,
        },
        RunRef {
            source: &sb,
            record: &new,
        },
    ];
    let e = explain(&Case {
        a: refs[0],
        b: Other::Run(refs[1]),
        pairing: Pairing::Explicit,
        runs: &refs,
        what_if: None,
    });
    assert_eq!(e.verdict, Verdict::Miss);
    assert!(e.culprits.is_empty());
    let u = e.unexplained.expect("unexplained");
    assert!(
        u.suspects
            .contains(&"prefect version 3.1.2 vs 3.9.1".to_string()),
        "{u:?}"
    );
    assert!(
        e.headline.contains("no part of the policy explains"),
        "{}",
        e.headline
    );
}

#[test]
fn what_if_a_policy_without_run_id() {
    let a = spec("t", "DEFAULT");
    let b = later(&a);
    let records = [(source("a"), record(&a)), (source("b"), record(&b))];
    let refs: Vec<RunRef> = records
        .iter()
        .map(|(source, record)| RunRef { source, record })
        .collect();
    let tree = parse_policy("INPUTS + TASK_SOURCE").unwrap();
    let e = explain(&Case {
        a: refs[0],
        b: Other::Run(refs[1]),
        pairing: Pairing::Explicit,
        runs: &refs,
        what_if: Some(("INPUTS + TASK_SOURCE", &tree)),
    });
    assert_eq!(e.verdict, Verdict::Miss);
    let w = e.what_if.unwrap();
    assert_eq!((w.verdict, w.key_a == w.key_b), (Verdict::Hit, true));
    assert_eq!(advice(&explain_pair(&a, &b, &[])), ["default_run_id"]);
}

#[test]
fn cloudpickled_inputs_that_hash_differently_are_a_culprit_with_advice() {
    // Prefect hashed `channel` with cloudpickle: the recorder kept its repr and its key.
    let a = Spec {
        inputs: r#"{"channel": {"__cachescope_repr__": "Channel('#sales')"}, "x": 1}"#,
        ..spec("publish", "INPUTS + TASK_SOURCE")
    };
    let opaque = |s: &Spec, inputs_key: &str| {
        let mut r = record(s);
        let tree = r.policy.as_mut().unwrap();
        let crate::policy::PolicyKind::Compound { policies } = &mut tree.kind else {
            panic!()
        };
        let src_key = policies[0].recorded.as_ref().unwrap().key.clone().unwrap();
        policies[1].recorded = Some(Recorded {
            key: Some(inputs_key.into()),
            reproducible: false,
            reason: Some("input channel is recorded only as its repr".into()),
        });
        let root = crate::hash::hash_strs(&[src_key.as_str(), inputs_key]);
        tree.recorded.as_mut().unwrap().key = Some(root.clone());
        r.key = Some(root);
        r
    };
    let (ra, rb) = (
        opaque(&a, "11111111111111111111111111111111"),
        opaque(&later(&a), "22222222222222222222222222222222"),
    );
    let (sa, sb) = (source("a"), source("b"));
    let refs = [
        RunRef {
            source: &sa,
            record: &ra,
        },
        RunRef {
            source: &sb,
            record: &rb,
        },
    ];
    let e = explain(&Case {
        a: refs[0],
        b: Other::Run(refs[1]),
        pairing: Pairing::Explicit,
        runs: &refs,
        what_if: None,
    });
    assert_eq!(e.culprits.len(), 1, "{e:?}");
    assert_eq!(
        (e.culprits[0].policy.as_str(), e.culprits[0].proof),
        ("Inputs", Proof::Proven)
    );
    let Evidence::Arguments(ev) = &e.culprits[0].evidence else {
        panic!()
    };
    assert!(ev.changes.is_empty(), "the reprs are the same");
    assert_eq!(ev.opaque, ["channel"]);
    assert_eq!(
        e.headline,
        "`publish` missed because its input `channel` was hashed with cloudpickle, which gave \
         another key."
    );
    let adv = e
        .advice
        .iter()
        .find(|a| a.kind == AdviceKind::UnhashableInput)
        .expect("unhashable_input advice");
    assert_eq!(
        adv.fix.as_deref(),
        Some("INPUTS + TASK_SOURCE - \"channel\"")
    );
    assert!(
        adv.check
            .as_deref()
            .unwrap()
            .starts_with("with `INPUTS + TASK_SOURCE - \"channel\"`, A and B would share one key"),
        "{adv:?}"
    );
}

#[test]
fn a_cache_key_fn_that_returned_another_key() {
    let with_fn = |s: &Spec, key: &str| {
        let mut r = record(s);
        let tree = r.policy.as_mut().unwrap();
        let crate::policy::PolicyKind::Compound { policies } = &mut tree.kind else {
            panic!()
        };
        let src_key = policies[0].recorded.as_ref().unwrap().key.clone().unwrap();
        policies[1].recorded = Some(Recorded {
            key: Some(key.into()),
            reproducible: true,
            reason: None,
        });
        let root = crate::hash::hash_strs(&[src_key.as_str(), key]);
        tree.recorded.as_mut().unwrap().key = Some(root.clone());
        r.key = Some(root);
        r
    };
    let a = spec("t", "TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=by_day)");
    let explain_fn = |a: &Spec, b: &Spec| {
        let (ra, rb) = (with_fn(a, "mon"), with_fn(b, "tue"));
        let (sa, sb) = (source("a"), source("b"));
        let refs = [
            RunRef {
                source: &sa,
                record: &ra,
            },
            RunRef {
                source: &sb,
                record: &rb,
            },
        ];
        explain(&Case {
            a: refs[0],
            b: Other::Run(refs[1]),
            pairing: Pairing::Explicit,
            runs: &refs,
            what_if: None,
        })
    };
    // Another input: the function may have looked at it.
    let other_input = Spec {
        inputs: r#"{"x": 2}"#,
        ..later(&a)
    };
    let e = explain_fn(&a, &other_input);
    assert_eq!(
        e.headline,
        "`t` missed because cache_key_fn `by_day` returned another key."
    );
    assert!(e.nondeterministic.is_empty(), "{e:?}");
    // The same inputs, flow parameters and source, and another key: not deterministic (issue
    // 8, item 6), both keys shown.
    let e = explain_fn(&a, &later(&a));
    assert_eq!(e.culprits.len(), 1, "{e:?}");
    let c = &e.culprits[0];
    assert_eq!((c.path.as_str(), c.proof), ("1", Proof::Proven));
    assert_eq!(
        c.evidence,
        Evidence::CacheKeyFn {
            function: Some("by_day".into()),
            a: Some("mon".into()),
            b: Some("tue".into())
        }
    );
    assert_eq!(
        e.headline,
        "`t` missed because cache_key_fn `by_day` (node 1) is not deterministic: it returned \
         another key for the same inputs, flow parameters and source (mon -> tue), so it reads \
         something else (the time, the run, a global)."
    );
    let [n] = e.nondeterministic.as_slice() else {
        panic!("{:?}", e.nondeterministic)
    };
    assert_eq!(
        (n.path.as_str(), n.function.as_deref(), &n.keys),
        ("1", Some("by_day"), &["mon".to_string(), "tue".to_string()])
    );
}

/// Explains `b` against `a` with the loaded runs in the order given (A and B among them).
fn explain_in(runs: &[(&str, &Spec)], a: usize, b: usize) -> Explanation {
    let records: Vec<(RecordSource, RunRecord)> = runs
        .iter()
        .map(|(name, s)| (source(name), record(s)))
        .collect();
    let refs: Vec<RunRef> = records
        .iter()
        .map(|(source, record)| RunRef { source, record })
        .collect();
    explain(&Case {
        a: refs[a],
        b: Other::Run(refs[b]),
        pairing: Pairing::LatestEarlier,
        runs: &refs,
        what_if: None,
    })
}

// Issue 8, item 1: `add` was served the result `sub` stored (both keyed on INPUTS only, the
// same inputs). It hit, whatever A's key was.
#[test]
fn a_run_served_another_tasks_entry_is_a_hit_that_names_the_entry() {
    let a = spec("add", "INPUTS");
    let at = |s: &Spec, at: &'static str, run_id: &'static str| Spec {
        at,
        run_id,
        inputs: r#"{"x": 2}"#,
        ..s.clone()
    };
    let sub = at(&spec("sub", "INPUTS"), "2026-01-02T00:00:00Z", "run-2");
    let neg = Spec {
        hit: true,
        state: "Cached",
        ..at(&spec("neg", "INPUTS"), "2026-01-02T00:00:01Z", "run-2")
    };
    let b = Spec {
        hit: true,
        state: "Cached",
        ..at(&a, "2026-01-02T00:00:02Z", "run-2")
    };
    let sub_again = Spec {
        hit: true,
        state: "Cached",
        ..at(&sub, "2026-01-03T00:00:00Z", "run-3")
    };
    let runs = [
        ("add-1", &a),
        ("sub-2", &sub),
        ("neg-2", &neg),
        ("add-2", &b),
        ("sub-3", &sub_again),
    ];
    let e = explain_in(&runs, 0, 3);
    assert_eq!(e.verdict, Verdict::Hit);
    assert_eq!(
        e.headline,
        "`add` hit: it was served the result `sub` stored earlier in the same flow run (record \
         sub-2.json), not an entry of its own: both tasks are keyed on INPUTS only and got the \
         same inputs."
    );
    let served = e.served_from.as_ref().expect("served_from");
    assert_eq!(
        (served.task.as_str(), served.is_a, served.same_task),
        ("sub", false, false)
    );
    assert!(e.non_key_causes.is_empty(), "{e:?}");
    // Why A's entry was not it: a note, with the culprit kept.
    assert_eq!(e.culprits.len(), 1);
    assert!(
        e.notes.iter().any(|n| n
            == "A's entry was not the one B read: their keys differ because its input `x` \
                changed (1 -> 2)"),
        "{:?}",
        e.notes
    );
    // Every other task once, though `sub`'s runs are not next to each other.
    let [adv] = e.advice.as_slice() else {
        panic!("{:?}", e.advice)
    };
    assert_eq!(adv.kind, AdviceKind::InputsOnlyCollision);
    assert!(
        adv.text.starts_with(
            "The key of `add` hashes only its inputs, and `sub` and `neg` got the very same key"
        ),
        "{}",
        adv.text
    );
    assert_eq!(
        adv.check.as_deref(),
        Some("with `INPUTS + TASK_SOURCE`, `add`, `sub` and `neg` would get different keys")
    );
}

#[test]
fn a_run_served_another_runs_entry_of_its_own_task_says_which() {
    let a = spec("t", "INPUTS + TASK_SOURCE");
    let c = Spec {
        inputs: r#"{"x": 2}"#,
        ..later(&a)
    };
    let b = Spec {
        run_id: "run-3",
        at: "2026-01-03T00:00:00Z",
        hit: true,
        state: "Cached",
        ..c.clone()
    };
    let e = explain_in(&[("t-1", &a), ("t-2", &c), ("t-3", &b)], 0, 2);
    assert_eq!(e.verdict, Verdict::Hit);
    assert_eq!(
        e.headline,
        "`t` hit, but not on A's entry: it was served the result an earlier run of `t` stored in \
         flow run run-2 (record t-2.json): that run had the same inputs and the same source as B."
    );
    // Served from A's own entry: the plain sentence.
    let b = Spec {
        run_id: "run-3",
        at: "2026-01-03T00:00:00Z",
        hit: true,
        state: "Cached",
        ..a.clone()
    };
    let e = explain_in(&[("t-1", &a), ("t-3", &b)], 0, 1);
    assert_eq!(e.headline, "`t` hit: B was served from A's cache entry.");
    assert!(e.served_from.as_ref().is_some_and(|s| s.is_a));
}

// Issue 8, item 9: a pair of runs of two different tasks says so first.
#[test]
fn a_pair_of_different_tasks_says_so_in_the_headline() {
    let a = spec("add", "INPUTS + TASK_SOURCE");
    let b = later(&spec("sub", "INPUTS + TASK_SOURCE"));
    let e = explain_pair(&a, &b, &[]);
    assert_eq!(e.verdict, Verdict::Miss);
    assert_eq!(
        e.headline,
        "`sub` missed `add`'s entry: A and B are runs of different tasks, with different keys: \
         different source."
    );
    // Different policies too: not "its cache policy changed".
    let b = later(&spec("sub", "INPUTS"));
    let e = explain_pair(&a, &b, &[]);
    assert!(
        e.headline.starts_with(
            "`sub` missed `add`'s entry: A and B are runs of different tasks, with different keys"
        ) && !e.headline.contains("changed"),
        "{}",
        e.headline
    );
    // The same key but no entry to read.
    let b = Spec {
        storage: "elsewhere",
        ..later(&spec("sub", "INPUTS"))
    };
    let e = explain_pair(&spec("add", "INPUTS"), &b, &[]);
    assert_eq!(
        e.headline,
        "`sub` missed `add`'s entry: A and B are runs of different tasks, with the same key, but \
         A stored its result in runs/storage, B looked in runs/elsewhere."
    );
}
