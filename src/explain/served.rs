//! Whose cache entry a recorded hit was served from.
//!
//! When B's record says it was served from the cache, the entry it read is the one stored
//! under B's key, in B's storage, by the last run that wrote it before B: a run that ended
//! `Completed` (a `Cached` run reads, it does not write). That is usually A, but not always:
//! two tasks keyed on INPUTS only share entries, and when the user names A, B may have hit the
//! entry of another run. Which run it was, and why its key was B's, is what the headline says.

use std::path::Path;

use crate::policy::{PolicyKind, PolicyNode};
use crate::record::RunRecord;
use crate::storage::parse_time;

use super::evidence::excludes;
use super::pairing::{same_inputs, same_task};
use super::sides::{RunRef, tree_has};
use super::tree_text::render;
use super::wording::join_and;

/// The run whose entry B was served from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedFrom {
    /// Its record, as loaded.
    pub record: String,
    pub task: String,
    /// The flow run it ran in (id and name), or None outside a flow.
    pub flow_run: Option<String>,
    pub flow_run_name: Option<String>,
    pub task_run: Option<String>,
    /// It ran in B's own flow run, before B.
    pub same_flow_run: bool,
    /// The entry is A's (A stored it).
    pub is_a: bool,
    /// A run of B's own task.
    pub same_task: bool,
    /// Why its key was B's, as a clause ("both tasks are keyed on INPUTS only and got the same
    /// inputs").
    pub why: String,
}

impl ServedFrom {
    /// Where it ran, with its record's file name when `with_record`: "earlier in the same flow
    /// run (`brave-otter`, record F)", "in flow run `brave-otter` (0193…, record F)", or the
    /// task run outside a flow.
    pub fn place(&self, with_record: bool) -> String {
        let short = |id: &str| super::wording::short_key(Some(id), 8);
        let mut details: Vec<String> = Vec::new();
        let run = match (&self.flow_run_name, &self.flow_run, &self.task_run) {
            (Some(name), id, _) => {
                details.extend(id.as_deref().map(short));
                format!("flow run `{name}`")
            }
            (None, Some(id), _) => format!("flow run {}", short(id)),
            (None, None, Some(id)) => format!("task run {}", short(id)),
            (None, None, None) => "a run".to_string(),
        };
        if with_record {
            details.push(format!("record {}", self.record_name()));
        }
        if self.same_flow_run {
            // Its id is B's, shown already.
            let details: Vec<&String> =
                details.iter().filter(|d| d.starts_with("record")).collect();
            let name = match &self.flow_run_name {
                Some(name) => format!("`{name}`"),
                None => String::new(),
            };
            let inside: Vec<String> = std::iter::once(name)
                .filter(|n| !n.is_empty())
                .chain(details.into_iter().cloned())
                .collect();
            return if inside.is_empty() {
                "earlier in the same flow run".to_string()
            } else {
                format!("earlier in the same flow run ({})", inside.join(", "))
            };
        }
        if details.is_empty() {
            format!("in {run}")
        } else {
            format!("in {run} ({})", details.join(", "))
        }
    }

    /// The record's file name (and line, for a `.jsonl` record): the full path is in the JSON.
    pub fn record_name(&self) -> String {
        let (path, line) = match self.record.rsplit_once(':') {
            Some((p, l)) if l.parse::<usize>().is_ok() => (p, Some(l)),
            _ => (self.record.as_str(), None),
        };
        let name = Path::new(path)
            .file_name()
            .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned());
        match line {
            Some(l) => format!("{name}:{l}"),
            None => name,
        }
    }
}

fn wrote(record: &RunRecord) -> bool {
    // A result staged in a transaction that rolled back was never written.
    !record.outcome.cache_hit
        && record.outcome.state.as_deref() == Some("Completed")
        && !record.transaction.as_ref().is_some_and(|t| t.rolled_back())
}

fn time(record: &RunRecord) -> Option<jiff::Timestamp> {
    record
        .recorded_at
        .as_deref()
        .and_then(|t| parse_time(t).ok())
}

/// The run that stored the entry B was served from: among A and the loaded runs, the latest to
/// write a result under B's key in B's storage before B ran. None when no loaded run did (the
/// writer's record is elsewhere, or was never made).
pub fn served_from(a: &RunRef, b: &RunRef, runs: &[RunRef]) -> Option<ServedFrom> {
    let key = b.record.key.as_deref()?;
    let b_time = time(b.record)?;
    let b_storage = b.storage();
    let writer = std::iter::once(a)
        .chain(runs)
        .filter(|r| r.source != b.source)
        .filter(|r| r.record.key.as_deref() == Some(key) && wrote(r.record))
        .filter(|r| time(r.record).is_some_and(|t| t < b_time))
        .filter(|r| match (r.storage(), &b_storage) {
            (Some(x), Some(y)) => &x == y,
            _ => true,
        })
        // The latest; on a tie, A (it comes first).
        .fold(None::<&RunRef>, |best, r| match best {
            Some(x) if time(x.record) >= time(r.record) => Some(x),
            _ => Some(r),
        })?;
    let record = writer.record;
    let is_a = writer.source == a.source;
    let same = same_task(record, b.record);
    Some(ServedFrom {
        record: writer.source.to_string(),
        task: record.task.name.clone(),
        flow_run: record.flow.as_ref().and_then(|f| f.run_id.clone()),
        flow_run_name: record.flow.as_ref().and_then(|f| f.run_name.clone()),
        task_run: record.task_run.id.clone(),
        same_flow_run: record.flow.is_some()
            && b.record.flow.is_some()
            && record.run_id().is_some()
            && record.run_id() == b.record.run_id(),
        is_a,
        same_task: same,
        why: why_same_key(record, b.record, same),
    })
}

/// What two runs with one key had in common, as far as B's policy looks: "the same inputs",
/// "the same flow parameters", "the same source".
fn shared_material(w: &RunRecord, b: &RunRecord, tree: &PolicyNode) -> Vec<String> {
    let mut out = Vec::new();
    let has = |pred: &dyn Fn(&PolicyKind) -> bool| tree_has(tree, pred);
    if has(&|k| matches!(k, PolicyKind::Inputs { .. })) && same_inputs(w, b, &excludes(tree)) {
        out.push("the same inputs".to_string());
    }
    let params = |r: &RunRecord| r.flow.as_ref().and_then(|f| f.parameters.clone());
    if has(&|k| matches!(k, PolicyKind::FlowParameters)) && params(w) == params(b) {
        out.push("the same flow parameters".to_string());
    }
    if has(&|k| matches!(k, PolicyKind::TaskSource)) && w.task.source == b.task.source {
        out.push("the same source".to_string());
    }
    if has(&|k| matches!(k, PolicyKind::RunId)) && w.run_id() == b.run_id() {
        out.push("the same run id".to_string());
    }
    out
}

/// Why the writer's key was B's, as a clause.
fn why_same_key(w: &RunRecord, b: &RunRecord, same: bool) -> String {
    let Some(tree) = b.policy.as_ref() else {
        return "their keys are equal".to_string();
    };
    let shared = shared_material(w, b, tree);
    let got = if shared.is_empty() {
        "the same key".to_string()
    } else {
        join_and(&shared)
    };
    if same {
        return if shared.is_empty() {
            "that run had B's key".to_string()
        } else {
            format!("that run had {got} as B")
        };
    }
    // Nothing that tells one task from another: no source, no run, no user code.
    let blind = !tree_has(tree, &|k| {
        matches!(
            k,
            PolicyKind::TaskSource
                | PolicyKind::RunId
                | PolicyKind::CacheKeyFn { .. }
                | PolicyKind::Other { .. }
        )
    });
    let only = if blind { " only" } else { "" };
    let (wt, bt) = (w.policy.as_ref().map(render), render(tree));
    match wt {
        Some(wt) if wt == bt => format!("both tasks are keyed on {bt}{only} and got {got}"),
        Some(wt) => format!(
            "`{}` is keyed on {wt} and `{}` on {bt}, and they got {got}",
            w.task.name, b.task.name
        ),
        None => format!(
            "`{}` is keyed on {bt}{only}, and they got {got}",
            b.task.name
        ),
    }
}
