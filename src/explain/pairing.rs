//! Choosing A when the user names only B: the run whose cache entry B hoped to hit.
//!
//! Among the records of the same task (same `task_key`, or same name, qualname and file: the
//! `task_key` changes when the source is edited, which is exactly the case to explain), A is
//! the latest run recorded before B with the same inputs (sets compared as sets; inputs that
//! B's policy excludes are ignored), else the latest run recorded before B.
//!
//! Where the records are searched is [`crate::runs_tree`]'s business.

use std::cmp::Ordering;

use jiff::Timestamp;

use crate::pyjson::Value;
use crate::record::RunRecord;
use crate::storage::parse_time;

use super::evidence::excludes;
use super::model::Pairing;
use super::sides::RunRef;
use super::value_diff::set_elements;

/// Two records of the same task.
pub fn same_task(x: &RunRecord, y: &RunRecord) -> bool {
    let (tx, ty) = (&x.task, &y.task);
    (tx.task_key.is_some() && tx.task_key == ty.task_key)
        || (tx.name == ty.name && tx.qualname == ty.qualname && tx.file == ty.file)
}

/// A value with every set's elements in a fixed order, to compare sets as sets.
fn canonical(value: &Value) -> Value {
    if let Some(items) = set_elements(value) {
        let mut items: Vec<Value> = items.iter().map(canonical).collect();
        items.sort_by_key(|v| crate::pyjson::dumps(v, crate::pyjson::SortKeys::Preserve).ok());
        return Value::Array(items);
    }
    match value {
        Value::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), canonical(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The inputs B's policy looks at, with sets in a canonical order.
fn compared_inputs(record: &RunRecord, exclude: &[String]) -> Option<Value> {
    let inputs = record.inputs.as_ref()?;
    let entries = inputs.as_object()?;
    Some(Value::Object(
        entries
            .iter()
            .filter(
                |(k, _)| !matches!(k, crate::pyjson::Key::Str(s) if exclude.iter().any(|e| e == s)),
            )
            .map(|(k, v)| (k.clone(), canonical(v)))
            .collect(),
    ))
}

/// True when `x` and `y` got the same inputs, as far as `exclude` leaves them.
pub fn same_inputs(x: &RunRecord, y: &RunRecord, exclude: &[String]) -> bool {
    compared_inputs(x, exclude) == compared_inputs(y, exclude)
}

fn time(record: &RunRecord) -> Option<Timestamp> {
    record
        .recorded_at
        .as_deref()
        .and_then(|t| parse_time(t).ok())
}

/// Recorded strictly before: by time when both have one.
fn earlier(x: &RunRecord, than: &RunRecord) -> bool {
    match (time(x), time(than)) {
        (Some(a), Some(b)) => a < b,
        _ => false,
    }
}

fn later_first(x: &RunRecord, y: &RunRecord) -> Ordering {
    time(y).cmp(&time(x))
}

/// The run B is compared with, among `runs`, and how it was chosen.
pub fn pair_earlier<'a>(b: &RunRef, runs: &[RunRef<'a>]) -> Option<(RunRef<'a>, Pairing)> {
    let exclude = b.record.policy.as_ref().map(excludes).unwrap_or_default();
    let mut earlier_runs: Vec<&RunRef<'a>> = runs
        .iter()
        .filter(|r| r.source != b.source)
        .filter(|r| r.record.task_run.id.is_none() || r.record.task_run.id != b.record.task_run.id)
        .filter(|r| same_task(r.record, b.record) && earlier(r.record, b.record))
        .collect();
    earlier_runs.sort_by(|x, y| later_first(x.record, y.record));
    if let Some(r) = earlier_runs
        .iter()
        .find(|r| same_inputs(r.record, b.record, &exclude))
    {
        return Some((**r, Pairing::SameInputs));
    }
    earlier_runs.first().map(|r| (**r, Pairing::LatestEarlier))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::parse;

    fn record(inputs: &str) -> RunRecord {
        let text = format!(
            r#"{{"format": "cachescope/run-record@1", "task": {{"name": "t"}}, "policy": null,
                "key": null, "inputs": {inputs}}}"#
        );
        RunRecord::from_value(parse(&text).unwrap()).unwrap()
    }

    #[test]
    fn sets_compare_as_sets_and_excluded_inputs_are_ignored() {
        let a = record(r#"{"r": {"__class__": "builtins.set", "data": ["a", "b"]}, "n": 1}"#);
        let b = record(r#"{"r": {"__class__": "builtins.set", "data": ["b", "a"]}, "n": 1}"#);
        let c = record(r#"{"r": {"__class__": "builtins.set", "data": ["b", "a"]}, "n": 2}"#);
        assert!(same_inputs(&a, &b, &[]));
        assert!(!same_inputs(&a, &c, &[]));
        assert!(same_inputs(&a, &c, &["n".to_string()]));
        // A list is not a set: order matters.
        let l1 = record(r#"{"r": ["a", "b"]}"#);
        let l2 = record(r#"{"r": ["b", "a"]}"#);
        assert!(!same_inputs(&l1, &l2, &[]));
    }
}
