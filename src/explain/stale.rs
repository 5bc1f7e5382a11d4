//! Stale hits: B was served from the cache although its inputs differ from the inputs of the
//! run that computed the entry, in ways the key does not see: an input the policy excludes
//! (`INPUTS - "x"`), a policy that hashes no inputs (`TASK_SOURCE`), a `result_storage_key`
//! template that names only some of them. Prefect did what it was told, but B's result was
//! computed from other inputs, which is the first thing a user should read.
//!
//! The entry's author is the latest run recorded before B that stored a result under B's key
//! in B's storage (it completed, not from the cache, and no transaction rolled it back): A when
//! A is that run, else another of the loaded runs. Without one, nothing is claimed.

use jiff::Timestamp;

use crate::policy::PolicyKind;
use crate::record::{RunRecord, holds_placeholder};
use crate::storage::parse_time;
use crate::storage_key::template_parameters;

use super::sides::RunRef;
use super::tree_text::render;
use super::value_diff::{ValueChange, diff_arguments};
use super::wording::join_and;

/// At most this many changes are kept (the rest are counted).
const MAX_CHANGES: usize = 50;

/// B hit an entry computed from other inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleHit {
    /// The record of the run that computed the entry B was served.
    pub from: String,
    /// That run is A.
    pub from_a: bool,
    /// From the author's inputs (`old`) to B's (`new`).
    pub changes: Vec<ValueChange>,
    /// Changes left out after the first ones.
    pub more_changes: usize,
    /// Why the key does not see them, as a clause: "the policy excludes `x`".
    pub why: String,
}

fn time(record: &RunRecord) -> Option<Timestamp> {
    record
        .recorded_at
        .as_deref()
        .and_then(|t| parse_time(t).ok())
}

/// Did this run write a result under its key?
fn stored(run: &RunRef) -> bool {
    let r = run.record;
    r.key.is_some()
        && r.outcome.state.as_deref() == Some("Completed")
        && !r.outcome.cache_hit
        && !r.transaction.as_ref().is_some_and(|t| t.rolled_back())
}

/// The run whose result B was served: the latest earlier run that stored under B's key.
fn author<'a>(a: RunRef<'a>, b: &RunRef, runs: &[RunRef<'a>]) -> Option<RunRef<'a>> {
    let b_time = time(b.record);
    let b_storage = b.storage();
    let candidates = runs.iter().copied().chain(std::iter::once(a));
    let mut best: Option<(RunRef<'a>, Option<Timestamp>)> = None;
    for run in candidates {
        if std::ptr::eq(run.record, b.record)
            || run.record.key != b.record.key
            || run.storage() != b_storage
            || !stored(&run)
        {
            continue;
        }
        let t = time(run.record);
        let before_b = match (t, b_time) {
            (Some(t), Some(bt)) => t < bt,
            // Without times, only A (which the user or pairing put before B) qualifies.
            _ => std::ptr::eq(run.record, a.record),
        };
        if !before_b {
            continue;
        }
        // The latest; on a tie A, which comes last.
        if best.as_ref().is_none_or(|(_, bt)| t >= *bt) {
            best = Some((run, t));
        }
    }
    best.map(|(run, _)| run)
}

/// Why B's key does not see the changed inputs.
fn why_unseen(b: &RunRecord, changed: &[String]) -> String {
    let names = |list: &[String]| {
        join_and(
            &list
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<String>>(),
        )
    };
    let Some(policy) = &b.policy else {
        return match &b.task.result_storage_key {
            Some(t) => {
                let used = template_parameters(&t.template);
                let takes = if used.is_empty() {
                    "none of the inputs".to_string()
                } else {
                    format!("only {} of the inputs", names(&used))
                };
                format!(
                    "the key is result_storage_key {:?}, which takes {takes}",
                    t.template
                )
            }
            None => "the task has no cache policy".to_string(),
        };
    };
    let mut excluded: Vec<String> = Vec::new();
    let mut has_inputs = false;
    let mut visit = vec![policy];
    while let Some(node) = visit.pop() {
        match &node.kind {
            PolicyKind::Inputs { exclude } => {
                has_inputs = true;
                excluded.extend(exclude.iter().filter(|e| changed.contains(e)).cloned());
            }
            PolicyKind::Compound { policies } => visit.extend(policies.iter()),
            _ => {}
        }
    }
    if !excluded.is_empty() {
        excluded.dedup();
        return format!(
            "the policy `{}` excludes {}",
            render(policy),
            names(&excluded)
        );
    }
    if !has_inputs {
        return format!("the policy `{}` does not hash inputs", render(policy));
    }
    format!("the policy `{}` gave the same key for both", render(policy))
}

/// B (recorded) was served a result computed from other inputs: which, and why the key did
/// not tell them apart. None when B did not hit, or its inputs are those of the entry's author.
pub fn stale_hit<'a>(a: RunRef<'a>, b: &RunRef, runs: &[RunRef<'a>]) -> Option<StaleHit> {
    let hit = b.record.outcome.cache_hit || b.record.outcome.state.as_deref() == Some("Cached");
    if !hit || b.record.key.is_none() {
        return None;
    }
    let from = author(a, b, runs)?;
    let (mut changes, _) = diff_arguments(
        from.record.inputs.as_ref(),
        b.record.inputs.as_ref(),
        &|_| true,
        usize::MAX,
    );
    // A set in another order is the same set; a repr placeholder (a memory address) is no
    // evidence that a value differs.
    changes.retain(|c| {
        !c.note
            .as_deref()
            .is_some_and(|n| n.starts_with("same elements"))
            && !c.old.as_ref().is_some_and(holds_placeholder)
            && !c.new.as_ref().is_some_and(holds_placeholder)
    });
    if changes.is_empty() {
        return None;
    }
    let mut changed: Vec<String> = Vec::new();
    for c in &changes {
        if !changed.contains(&c.argument) {
            changed.push(c.argument.clone());
        }
    }
    let more_changes = changes.len().saturating_sub(MAX_CHANGES);
    changes.truncate(MAX_CHANGES);
    Some(StaleHit {
        from: from.source.to_string(),
        from_a: std::ptr::eq(from.record, a.record),
        why: why_unseen(b.record, &changed),
        changes,
        more_changes,
    })
}

impl StaleHit {
    /// The changed arguments, in order.
    pub fn arguments(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in &self.changes {
            if !out.contains(&c.argument) {
                out.push(c.argument.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::load::RecordSource;
    use crate::pyjson::parse;

    const POLICY: &str =
        r#"{"policy": "Inputs", "exclude": ["x"], "key": "k", "reproducible": true}"#;

    fn record(at: &str, state: &str, inputs: &str, extra: &str) -> RunRecord {
        let hit = state == "Cached";
        let text = format!(
            r#"{{"format": "cachescope/run-record@1", "recorded_at": "{at}", "flow": null,
               "task": {{"name": "t", "qualname": "t", "file": "f.py"}},
               "task_run": {{"id": "{at}"}}, "inputs": {inputs}, "policy": {POLICY},
               "key": "k", "outcome": {{"state": "{state}", "cache_hit": {hit},
               "result_storage": "storage"}}{extra}}}"#
        );
        RunRecord::from_value(parse(&text).unwrap()).unwrap()
    }

    fn source(name: &str) -> RecordSource {
        RecordSource {
            path: PathBuf::from(format!("runs/{name}.json")).into(),
            line: None,
        }
    }

    #[test]
    fn the_entry_is_the_latest_stored_before_b_and_sets_compare_as_sets() {
        let early = record(
            "2026-01-01T00:00:00Z",
            "Completed",
            r#"{"x": 1, "y": 1}"#,
            "",
        );
        // Wrote the entry B was served, after A: B's inputs are compared with these.
        let writer = record(
            "2026-01-01T00:01:00Z",
            "Completed",
            r#"{"x": 2, "y": 1}"#,
            "",
        );
        // Rolled back: wrote nothing.
        let rolled = record(
            "2026-01-01T00:02:00Z",
            "Completed",
            r#"{"x": 9, "y": 1}"#,
            r#", "transaction": {"id": "t1", "outcome": "rolled_back"}"#,
        );
        let b = record("2026-01-01T00:03:00Z", "Cached", r#"{"x": 3, "y": 1}"#, "");
        let sources: Vec<RecordSource> = ["early", "writer", "rolled", "b"].map(source).into();
        let records = [&early, &writer, &rolled, &b];
        let runs: Vec<RunRef> = sources
            .iter()
            .zip(records)
            .map(|(source, record)| RunRef { source, record })
            .collect();
        let stale = stale_hit(runs[0], &runs[3], &runs).unwrap();
        assert_eq!(stale.from, "runs/writer.json");
        assert!(!stale.from_a);
        assert_eq!(stale.arguments(), ["x"]);
        assert_eq!(stale.why, "the policy `INPUTS - \"x\"` excludes `x`");

        // Only a set in another order: the same inputs, no stale hit.
        let set = |order: &str| {
            format!(r#"{{"x": {{"__class__": "builtins.set", "data": {order}}}, "y": 1}}"#)
        };
        let a = record(
            "2026-01-01T00:00:00Z",
            "Completed",
            &set(r#"["a", "b"]"#),
            "",
        );
        let b = record("2026-01-01T00:01:00Z", "Cached", &set(r#"["b", "a"]"#), "");
        let (sa, sb) = (source("a"), source("b"));
        let (ra, rb) = (
            RunRef {
                source: &sa,
                record: &a,
            },
            RunRef {
                source: &sb,
                record: &b,
            },
        );
        assert_eq!(stale_hit(ra, &rb, &[ra, rb]), None);
        // A miss is never stale.
        let miss = record(
            "2026-01-01T00:01:00Z",
            "Completed",
            r#"{"x": 5, "y": 1}"#,
            "",
        );
        let rm = RunRef {
            source: &sb,
            record: &miss,
        };
        assert_eq!(stale_hit(ra, &rm, &[ra, rm]), None);
    }
}
