//! The explainer: why did run B miss the cache entry of run A (or why would the next run)?
//!
//! Given two sides, A a recorded run and B another recorded run or A's record recomputed
//! against the source as it is now ("live"), [`explain`] says:
//! - the verdict: was B served from A's entry (will the next run hit);
//! - the culprits: the nodes of the policy whose key changed because their own material
//!   changed, each with a proof by substitution ([`culprit`]) and per-policy evidence (a source
//!   diff classified cosmetic or code, changed input paths, run ids, tree changes);
//! - when the keys were equal, the causes that have nothing to do with the key ([`causes`]);
//! - advice for the known surprises, each fix checked with the policy engine ([`advice`]);
//! - with `--policy`, what another policy would have done ([`what_if`]).
//!
//! [`explain`] is pure: the records, the next run (which [`next_run`] computed by reading the
//! file, evaluating the decorator's policy and looking in storage with an injected "now") and
//! the other loaded records are its inputs. Choosing A when only B is given is [`pairing`]; the
//! CI gate over many tasks is [`check`]; [`json`] is the contract's JSON.

pub mod advice;
pub mod align;
pub mod causes;
pub mod check;
pub mod cosmetic;
pub mod culprit;
pub mod decorator;
pub mod evidence;
pub mod fix_text;
pub mod json;
pub mod model;
pub mod module_bindings;
pub mod next_run;
pub mod pairing;
pub mod policy_variable;
pub mod recorded_keys;
pub mod render;
pub mod served;
pub mod sides;
pub mod source_diff;
pub mod stale;
pub mod storage_template;
pub mod tree_text;
pub mod value_diff;
pub mod what_if;
pub mod wording;

pub use model::{
    Advice, AdviceKind, ArgumentEvidence, CauseKind, Culprit, Evidence, Explanation, NonKeyCause,
    Pairing, Proof, Unexplained, WhatIf,
};
pub use sides::{Other, RunRef};

use crate::live::Verdict;
use crate::nondeterministic::{NonDeterminism, NonDeterministic, next_run_verdict, same_material};
use crate::policy::PolicyNode;
use crate::storage::Lookup;

use advice::{AdviceInput, advise};
use culprit::{candidates, prove, suspects};
use evidence::evidence;
use model::CauseKind as Kind;
use sides::Side;
use wording::{culprit_summary, headline};

/// What to explain.
pub struct Case<'a> {
    /// The run whose cache entry B hoped to hit.
    pub a: RunRef<'a>,
    pub b: Other<'a>,
    pub pairing: Pairing,
    /// Every record loaded from the runs folder: the task's other runs for the advice checks,
    /// other tasks for key collisions. (`check` hands only those: the runs of A's task and the
    /// runs that recorded B's key, [`check::RunsIndex`]. Reading any other run here means
    /// changing that index too.)
    pub runs: &'a [RunRef<'a>],
    /// `--policy EXPR`: the text and the tree it evaluates to.
    pub what_if: Option<(&'a str, &'a PolicyNode)>,
}

/// Inputs that changed between A and B but that B's Inputs excludes: "`log_every` changed
/// (1000 -> 10), but the policy excludes it".
fn excluded_changes(a: &Side, b: &Side) -> Vec<String> {
    let Some(tree) = b.policy else {
        return Vec::new();
    };
    let exclude = evidence::excludes(tree);
    let (changes, _) = value_diff::diff_arguments(
        a.material.inputs,
        b.material.inputs,
        &|name| exclude.iter().any(|e| e == name),
        usize::MAX,
    );
    let mut out: Vec<String> = Vec::new();
    for c in changes {
        let line = match (&c.old, &c.new) {
            (Some(o), Some(n)) if c.path == c.argument => format!(
                "input `{}` changed ({} -> {}), but the policy excludes it",
                c.argument,
                value_diff::short_text(o),
                value_diff::short_text(n)
            ),
            _ => format!("input `{}` changed, but the policy excludes it", c.argument),
        };
        if !out.contains(&line) {
            out.push(line);
        }
    }
    out
}

/// The non-deterministic opaque nodes of the tree B uses, from the recorded runs of its task
/// (A and B among them).
fn nondeterministic(case: &Case, b: &Side) -> Vec<NonDeterministic> {
    let b_run = match case.b {
        Other::Run(run) => Some(run),
        Other::Live(_) => None,
    };
    let mut seen = std::collections::HashSet::new();
    let task_runs = std::iter::once(&case.a)
        .chain(b_run.as_ref())
        .chain(case.runs)
        .filter(|r| pairing::same_task(r.record, b.record))
        .filter(|r| seen.insert(r.source.to_string()))
        .map(|r| (r.record, r.source.to_string()));
    NonDeterminism::from_records(task_runs).of(b.record, b.policy)
}

/// "`flows.StampPolicy` (node 1) is not deterministic: it returned another key for the same
/// inputs, flow parameters and source (… -> …)", for a culprit A and B show that of.
fn nondeterministic_culprit(
    a: &Side,
    b: &Side,
    culprits: &[Culprit],
    found: &[NonDeterministic],
) -> Option<String> {
    let [c] = culprits else {
        return None;
    };
    let node = found.iter().find(|n| n.path == c.path)?;
    if b.live || !same_material(a.record, b.record) {
        return None;
    }
    let short = |k: Option<&str>| wording::short_key(k, 12);
    Some(format!(
        "{} is not deterministic: it returned another key for the same inputs, flow \
         parameters and source ({} -> {}), so it reads something else (the time, the run, a \
         global)",
        node.name(),
        short(a.key_at(&c.path)),
        short(b.key_at(&c.path))
    ))
}

/// Explains B against A.
pub fn explain(case: &Case) -> Explanation {
    let a = Side::recorded(case.a);
    let (b, b_run, live) = match case.b {
        Other::Run(run) => (Side::recorded(run), Some(run), None),
        Other::Live(next) => (Side::live(case.a, next), None, Some(&next.evaluation)),
    };
    let task = b.record.task.name.clone();
    // Live, a node that cannot be recomputed now (the source file or function is gone) makes
    // the verdict unknown; say why, and compare nothing that depends on it.
    let live_problem: Option<String> = live.and_then(|l| {
        b.error()
            .map(|(path, note)| match (&l.source, b.evaluation.node(&path)) {
                (Err(problem), Some(n)) if n.policy == "TaskSource" => problem.to_string(),
                _ => note,
            })
            // A key that does not hash the source still depends on the decorator, which is in
            // the source: unreadable, the next run's policy is unknown.
            .or_else(|| {
                l.source
                    .as_ref()
                    .err()
                    .map(crate::live::unreadable_source_note)
            })
    });

    let (mut found, alignment) = candidates(&a, &b);
    if live_problem.is_some() {
        found.retain(|c| {
            b.evaluation
                .node(&c.path)
                .is_some_and(|n| n.status != crate::engine::NodeStatus::Error)
        });
    }
    let (proved, explained) = match &alignment {
        Some(al) if !found.is_empty() => prove(&a, &b, al, &found),
        _ => (Vec::new(), false),
    };
    let keys_differ = a.key != b.key;
    let culprits: Vec<Culprit> = found
        .iter()
        .zip(proved)
        .map(|(c, p)| {
            let policy = b
                .evaluation
                .node(&c.path)
                .map_or_else(|| "?".to_string(), |n| n.policy.clone());
            let ev = evidence(&a, &b, c, live_problem.as_deref());
            Culprit {
                summary: culprit_summary(&policy, &ev),
                path: c.path.clone(),
                policy,
                proof: p.proof,
                with: p.with,
                evidence: ev,
            }
        })
        .collect();
    let mut unexplained =
        (keys_differ && !explained && live_problem.is_none()).then(|| suspects(&a, &b, &found));

    // The verdict, and the causes of a miss that are not the key.
    let mut notes = Vec::new();
    let mut non_key_causes = if live_problem.is_some() {
        Vec::new()
    } else {
        causes::no_key(&a, &b)
    };
    let found = nondeterministic(case, &b);
    // Why the next run's key cannot be the one carried from A's record, when that decides.
    let mut nondeterministic_reason: Option<String> = None;
    let mut served = None;
    let verdict = match (b_run, live) {
        // B's record is the witness: served from the cache is a hit, whichever entry it was.
        (Some(b_run), _) if causes::b_hit(&b_run) => {
            non_key_causes.clear();
            served = served::served_from(&case.a, &b_run, case.runs);
            Verdict::Hit
        }
        (Some(b_run), _) => {
            if !non_key_causes.is_empty() || keys_differ {
                Verdict::Miss
            } else {
                non_key_causes = causes::recorded(&case.a, &b_run);
                Verdict::Miss
            }
        }
        (None, Some(l)) => {
            if live_problem.is_some() {
                Verdict::Unknown
            } else if !non_key_causes.is_empty() {
                Verdict::Miss
            } else {
                non_key_causes = causes::live(&case.a, l, !keys_differ && !b.next_run);
                if case.a.record.outcome.refresh_cache || b.next_run {
                    Verdict::Miss
                } else {
                    match &l.lookup {
                        // The key carries an opaque node's recorded key, and other runs show
                        // that node giving another key each time.
                        Some(Lookup::Hit { .. }) => match next_run_verdict(&found) {
                            Some((verdict, why)) => {
                                nondeterministic_reason = Some(why);
                                verdict
                            }
                            None => Verdict::Hit,
                        },
                        Some(Lookup::Miss { .. }) => Verdict::Miss,
                        Some(Lookup::Unknown { why }) => {
                            notes.push(format!("storage: {why}"));
                            Verdict::Unknown
                        }
                        None => {
                            notes.push(l.reason.clone());
                            Verdict::Unknown
                        }
                    }
                }
            }
        }
        (None, None) => Verdict::Unknown,
    };
    if let Other::Live(next) = case.b {
        notes.extend(next.note.iter().chain(&next.policy_from).cloned());
    }
    let different_tasks = !b.live && !pairing::same_task(a.record, b.record);
    if verdict == Verdict::Hit && keys_differ && !culprits.is_empty() {
        notes.push(format!(
            "A's entry was not the one B read: their keys differ because {}",
            wording::join_and(&wording::reasons(&task, &culprits, false))
        ));
    }
    // B served a result computed from other inputs: said first, with the inputs that differ.
    let stale_hit = b_run.and_then(|b_run| stale::stale_hit(case.a, &b_run, case.runs));
    // Equal keys though inputs differ: the policy left them out, which is worth saying (the
    // stale hit says it already).
    if !keys_differ && !b.live && stale_hit.is_none() {
        notes.extend(excluded_changes(&a, &b));
    }
    // Records that do not recompute are worth knowing before trusting the proof.
    for (name, side) in [("A", &a), ("B", &b)] {
        if side.live {
            continue;
        }
        if let Some(n) = side
            .evaluation
            .nodes
            .iter()
            .find(|n| n.status == crate::engine::NodeStatus::Changed)
        {
            notes.push(format!(
                "{name}'s record does not recompute at {} ({}): `cachescope keys` shows it",
                if n.path.is_empty() {
                    "the root"
                } else {
                    &n.path
                },
                n.policy
            ));
        }
    }

    let advice_input = AdviceInput {
        a: &a,
        b: &b,
        culprits: &culprits,
        // Served from A's own entry (a hit on another run's entry says nothing about A).
        hit: verdict == Verdict::Hit && !keys_differ,
        runs: case.runs,
    };
    let advice = advise(&advice_input);
    notes.extend(advice::advice_notes(&advice_input));

    let what_if = case.what_if.map(|(expr, tree)| {
        let blockers = match b_run {
            Some(b_run) => causes::recorded(&case.a, &b_run),
            None => non_key_causes
                .iter()
                .filter(|c| c.kind == Kind::RefreshCache)
                .cloned()
                .collect(),
        };
        what_if::what_if(expr, tree, &a, &b, &blockers)
    });

    let shown: Vec<Culprit> = if explained {
        culprits.clone()
    } else {
        Vec::new()
    };
    let mut headline = headline(
        &task,
        b.live,
        verdict,
        &shown,
        &non_key_causes,
        live_problem
            .as_deref()
            .or(notes.first().map(String::as_str)),
    );
    let pair_nondeterministic = nondeterministic_culprit(&a, &b, &culprits, &found);
    let mut said_nondeterministic = nondeterministic_reason.is_some();
    if verdict == Verdict::Hit && !b.live {
        headline = wording::hit_headline(&task, &a.record.task.name, served.as_ref(), keys_differ);
    } else if let Some(why) = &nondeterministic_reason {
        headline = match verdict {
            Verdict::Miss => format!("The next run of `{task}` would miss: {why}."),
            _ => format!("Cannot tell whether the next run of `{task}` would hit: {why}."),
        };
    } else if different_tasks
        && verdict == Verdict::Miss
        && !non_key_causes
            .iter()
            .any(|c| matches!(c.kind, Kind::NoKey { .. }))
    {
        headline = wording::different_tasks_headline(
            &a.record.task.name,
            &task,
            &culprits,
            &non_key_causes,
            keys_differ,
        );
    } else if let (Some(why), true, Verdict::Miss) = (&pair_nondeterministic, explained, verdict) {
        headline = format!("`{task}` missed because {why}.");
        said_nondeterministic = true;
    } else if !explained && !culprits.is_empty() && verdict == Verdict::Miss {
        let changed: Vec<String> = culprits
            .iter()
            .map(|c| wording::reason(&task, c, b.live))
            .collect();
        let who = if b.live {
            format!("The next run of `{task}` would miss")
        } else {
            format!("`{task}` missed")
        };
        headline = format!(
            "{who}: {}, but that alone does not turn B's key into A's (see the suspects).",
            wording::join_and(&changed)
        );
    }

    // Said in the headline, or worth a line of its own.
    if !said_nondeterministic {
        notes.extend(found.iter().map(NonDeterministic::clause));
    }
    // A task keyed by result_storage_key: the template says why the keys differ.
    if verdict == Verdict::Miss
        && culprits.is_empty()
        && let Some(clause) = storage_template::key_change(&a, &b)
    {
        unexplained = None;
        headline = if b.live {
            format!("The next run of `{task}` would miss because {clause}.")
        } else {
            format!("`{task}` missed because {clause}.")
        };
    }
    // A hit on a result computed from other inputs is said first; whose entry it was, when
    // not simply A's, follows as a note.
    if let Some(stale) = &stale_hit {
        let said = std::mem::replace(&mut headline, wording::stale_headline(&task, stale));
        let plain = served.as_ref().is_none_or(|s| s.is_a && s.same_task);
        if !plain {
            notes.insert(0, said);
        }
    }

    Explanation {
        a: case.a.source.to_string(),
        b: b_run.map(|r| r.source.to_string()),
        task,
        pairing: case.pairing,
        verdict,
        key_a: a.key.clone(),
        // The key carried from A's record is not the one the next run will compute.
        key_b: if nondeterministic_reason.is_some() {
            None
        } else {
            b.reported_key()
        },
        headline,
        culprits,
        unexplained,
        non_key_causes,
        advice,
        what_if,
        error: live_problem,
        notes,
        served_from: served,
        nondeterministic: found,
        stale_hit,
    }
}

#[cfg(test)]
mod tests;
