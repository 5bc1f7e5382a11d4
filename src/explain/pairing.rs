//! Choosing A when the user names only B: the run whose cache entry B hoped to hit.
//!
//! A is a record of the same task (same `task_key`, or same name, qualname and file: the
//! `task_key` changes when the source is edited, which is exactly the case to explain),
//! recorded before B. When B ran in a flow run and earlier flow runs have runs of the task,
//! A is never a run of B's own flow run: a mapped task's siblings, or the other calls of a task
//! called several times, are other calls, not the one B repeats. Among the runs left:
//!
//! 1. the latest with the same inputs (sets compared as sets; inputs that B's policy excludes
//!    are ignored), preferring the same call as B when several runs of that flow run qualify;
//! 2. else, in the latest earlier flow run, the same call as B: the same element of a
//!    `task.map` (`task_run.map_index`), or for a run not mapped the same position among the
//!    task's calls in its flow run (`task_run.call_index`); the recorder counts both where the
//!    flow makes the call, since Prefect 3.9.1 keeps neither (its `dynamic_key` is a random
//!    UUID). Among several, the one whose inputs differ least from B's;
//! 3. else, in that flow run, the run whose inputs differ least from B's (older records, with
//!    no call recorded: the order in which runs finished says nothing about the order of calls
//!    that ran concurrently);
//! 4. when that flow run has one run of the task, or outside any flow run, the latest earlier
//!    run.
//!
//! Where the records are searched is [`crate::runs_tree`]'s business.

use std::cell::OnceCell;
use std::collections::HashMap;

use jiff::Timestamp;

use crate::pyjson::Value;
use crate::record::RunRecord;
use crate::storage::parse_time;

use super::evidence::excludes;
use super::model::Pairing;
use super::sides::RunRef;
use super::value_diff::{diff_arguments, set_elements};

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

/// The flow run a record ran in; None outside a flow.
fn flow_run(record: &RunRecord) -> Option<&str> {
    record.flow.as_ref().and_then(|f| f.run_id.as_deref())
}

/// True when `x` is the same call of its task in its flow run as `b` is in its own: the same
/// element of a map, or, not mapped, the same position among the task's calls.
fn same_call(x: &RunRecord, b: &RunRecord) -> bool {
    let (x, b) = (&x.task_run, &b.task_run);
    match (b.map_index, b.call_index) {
        (Some(i), _) => x.map_index == Some(i),
        (None, Some(i)) => x.map_index.is_none() && x.call_index == Some(i),
        (None, None) => false,
    }
}

/// How many paths differ between two runs' inputs as B's policy looks at them
/// ([`compared_inputs`]: sets compared as sets).
fn differing_paths(x: Option<&Value>, b: Option<&Value>) -> usize {
    let (changes, more) = diff_arguments(x, b, &|_| true, usize::MAX);
    changes.len() + more
}

/// The run B is compared with, among `runs`, and how it was chosen.
pub fn pair_earlier<'a>(b: &RunRef, runs: &[RunRef<'a>]) -> Option<(RunRef<'a>, Pairing)> {
    Pool::new(runs).pair(b)
}

/// Runs to choose A among, with what the choice reads of each (its time, its inputs as B's
/// policy looks at them) worked out at most once however many runs are paired against them:
/// a batch of new records of one task pairs each with the same runs. ([`pair_earlier`] for
/// each of 10,000 new runs took every earlier run's inputs apart again, twice per run.)
pub struct Pool<'r, 'a> {
    runs: &'r [RunRef<'a>],
    times: Vec<OnceCell<Option<Timestamp>>>,
    /// Per list of excluded inputs: each run's [`compared_inputs`].
    inputs: HashMap<Vec<String>, Vec<OnceCell<Option<Value>>>>,
}

impl<'r, 'a> Pool<'r, 'a> {
    pub fn new(runs: &'r [RunRef<'a>]) -> Self {
        Pool {
            runs,
            times: (0..runs.len()).map(|_| OnceCell::new()).collect(),
            inputs: HashMap::new(),
        }
    }

    /// The run B is compared with, among the pool's runs, and how it was chosen (B's own
    /// record, if the pool holds it, is never chosen).
    pub fn pair(&mut self, b: &RunRef) -> Option<(RunRef<'a>, Pairing)> {
        let exclude = b.record.policy.as_ref().map(excludes).unwrap_or_default();
        let runs = self.runs;
        let times = &self.times;
        let time_of = |i: usize| *times[i].get_or_init(|| time(runs[i].record));
        let b_time = time(b.record);
        let cells = self
            .inputs
            .entry(exclude.clone())
            .or_insert_with(|| (0..runs.len()).map(|_| OnceCell::new()).collect());
        let inputs_of =
            |i: usize| cells[i].get_or_init(|| compared_inputs(runs[i].record, &exclude));
        let b_inputs = compared_inputs(b.record, &exclude);
        let same_inputs = |i: usize| *inputs_of(i) == b_inputs;
        let distance = |i: usize| differing_paths(inputs_of(i).as_ref(), b_inputs.as_ref());
        let record = |i: usize| runs[i].record;

        let mut earlier_runs: Vec<usize> = (0..runs.len())
            .filter(|&i| runs[i].source != b.source)
            .filter(|&i| {
                record(i).task_run.id.is_none() || record(i).task_run.id != b.record.task_run.id
            })
            .filter(|&i| {
                same_task(record(i), b.record)
                    && matches!((time_of(i), b_time), (Some(x), Some(y)) if x < y)
            })
            .collect();
        // Latest first (a stable sort: equal times keep the runs' order).
        earlier_runs.sort_by_key(|&i| std::cmp::Reverse(time_of(i)));
        let Some(b_flow_run) = flow_run(b.record) else {
            // Outside a flow run there are no calls to match: the latest earlier run.
            if let Some(&i) = earlier_runs.iter().find(|&&i| same_inputs(i)) {
                return Some((runs[i], Pairing::SameInputs));
            }
            return earlier_runs
                .first()
                .map(|&i| (runs[i], Pairing::LatestEarlier));
        };
        // Issue 8: a mapped task was compared with a sibling element of its own flow run.
        let other_flow_runs = earlier_runs
            .iter()
            .any(|&i| flow_run(record(i)) != Some(b_flow_run));
        if other_flow_runs {
            earlier_runs.retain(|&i| flow_run(record(i)) != Some(b_flow_run));
        }
        // Latest first; within one flow run, the same call first.
        let same_inputs_runs: Vec<usize> = earlier_runs
            .iter()
            .copied()
            .filter(|&i| same_inputs(i))
            .collect();
        if let Some(&latest) = same_inputs_runs.first() {
            let group = flow_run(record(latest));
            let pick = same_inputs_runs
                .iter()
                .copied()
                .filter(|&i| flow_run(record(i)) == group)
                .find(|&i| other_flow_runs && same_call(record(i), b.record))
                .unwrap_or(latest);
            return Some((runs[pick], Pairing::SameInputs));
        }
        let &latest = earlier_runs.first()?;
        let group = flow_run(record(latest));
        let in_group: Vec<usize> = earlier_runs
            .iter()
            .copied()
            .filter(|&i| flow_run(record(i)) == group)
            .collect();
        if let [only] = in_group[..] {
            // One run of the task in that flow run: there was nothing to choose from.
            return Some((runs[only], Pairing::LatestEarlier));
        }
        // `min_by_key` keeps the first of equals: the latest.
        let closest =
            |candidates: &[usize]| candidates.iter().copied().min_by_key(|&i| distance(i));
        let calls: Vec<usize> = in_group
            .iter()
            .copied()
            .filter(|&i| other_flow_runs && same_call(record(i), b.record))
            .collect();
        if let Some(a) = closest(&calls) {
            let t = &b.record.task_run;
            return Some((
                runs[a],
                Pairing::SameCall {
                    map_index: t.map_index,
                    call_index: t.call_index,
                },
            ));
        }
        closest(&in_group).map(|a| (runs[a], Pairing::ClosestInputs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::RecordSource;
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

    /// A run of task `score`: its flow run, the second it ended, its call and map indexes,
    /// and its input `rec`.
    fn run(
        flow_run: Option<&str>,
        second: u32,
        call: Option<u64>,
        map: Option<u64>,
        rec: &str,
    ) -> RunRecord {
        run_with_policy(flow_run, second, call, map, rec, "null")
    }

    /// [`run`] with a policy (JSON text).
    fn run_with_policy(
        flow_run: Option<&str>,
        second: u32,
        call: Option<u64>,
        map: Option<u64>,
        rec: &str,
        policy: &str,
    ) -> RunRecord {
        let flow = flow_run.map_or("null".to_string(), |f| {
            format!(r#"{{"name": "batch", "run_id": "{f}", "parameters": {{}}}}"#)
        });
        let index = |i: Option<u64>| i.map_or("null".to_string(), |i| i.to_string());
        let text = format!(
            r#"{{"format": "cachescope/run-record@1", "recorded_at": "2026-01-01T00:00:{second:02}.000Z",
                "flow": {flow}, "task": {{"name": "score"}},
                "task_run": {{"id": "{}-{second}", "call_index": {}, "map_index": {}}},
                "policy": {policy}, "key": null, "inputs": {{"rec": {rec}}}}}"#,
            flow_run.unwrap_or("none"),
            index(call),
            index(map)
        );
        RunRecord::from_value(parse(&text).unwrap()).unwrap()
    }

    /// Where `n` records come from: `r0.json`, `r1.json`...
    fn sources(n: usize) -> Vec<RecordSource> {
        (0..n)
            .map(|i| RecordSource {
                path: std::path::PathBuf::from(format!("r{i}.json")).into(),
                line: None,
            })
            .collect()
    }

    /// `records` as runs, from `sources`.
    fn refs<'a>(records: &'a [RunRecord], sources: &'a [RecordSource]) -> Vec<RunRef<'a>> {
        records
            .iter()
            .zip(sources)
            .map(|(record, source)| RunRef { source, record })
            .collect()
    }

    /// Which of `records` pair_earlier picks for `records[b]`, and how.
    fn pick(records: &[RunRecord], b: usize) -> Option<(usize, Pairing)> {
        let sources = sources(records.len());
        let refs = refs(records, &sources);
        pair_earlier(&refs[b], &refs).map(|(a, how)| {
            let i = sources.iter().position(|s| s == a.source).unwrap();
            (i, how)
        })
    }

    const RECS: [&str; 4] = [
        r#"{"id": 0, "v": 1.5, "unit": "m", "tag": "x"}"#,
        r#"{"id": 1, "v": 2.5, "unit": "m", "tag": "x"}"#,
        r#"{"id": 2, "v": 3.5, "unit": "m", "tag": "x"}"#,
        r#"{"id": 3, "v": 4.5, "unit": "m", "tag": "x"}"#,
    ];

    #[test]
    fn a_mapped_run_is_compared_with_the_same_element_of_the_previous_flow_run() {
        // Issue 8: `explain` on element 2 picked a sibling of its own flow run (three fields
        // differ) instead of element 2 of the previous flow run (one field differs).
        let changed = r#"{"id": 2, "v": 9.5, "unit": "m", "tag": "x"}"#;
        let mut records: Vec<RunRecord> = (0..4u32)
            .map(|i| {
                run(
                    Some("f1"),
                    10 - i,
                    Some(i as u64),
                    Some(i as u64),
                    RECS[i as usize],
                )
            })
            .collect();
        // The second flow run's elements end in another order; element 2 ends last.
        for (i, second) in [(0u64, 20), (1, 22), (3, 21), (2, 23)] {
            let rec = if i == 2 { changed } else { RECS[i as usize] };
            records.push(run(Some("f2"), second, Some(i), Some(i), rec));
        }
        let b = records.len() - 1;
        let expected = Pairing::SameCall {
            map_index: Some(2),
            call_index: Some(2),
        };
        assert_eq!(pick(&records, b), Some((2, expected)));
        // An unchanged element is paired with itself in the first flow run: a hit.
        assert_eq!(pick(&records, 5), Some((1, Pairing::SameInputs)));
        // The first flow run had no earlier flow run: the closest of its own earlier runs.
        assert_eq!(pick(&records, 0), Some((1, Pairing::ClosestInputs)));
    }

    #[test]
    fn among_runs_with_the_same_inputs_the_same_call_is_preferred() {
        let mut records = vec![
            run(Some("f1"), 1, Some(0), Some(0), RECS[0]),
            run(Some("f1"), 2, Some(1), Some(1), RECS[0]),
        ];
        records.push(run(Some("f2"), 3, Some(1), Some(1), RECS[0]));
        records.push(run(Some("f2"), 4, Some(0), Some(0), RECS[0]));
        assert_eq!(pick(&records, 2), Some((1, Pairing::SameInputs)));
        assert_eq!(pick(&records, 3), Some((0, Pairing::SameInputs)));
    }

    #[test]
    fn a_task_called_several_times_is_compared_with_the_same_call() {
        // Three direct calls per flow run; in the second, the second call's input changed.
        let mut records: Vec<RunRecord> = (0..3u32)
            .map(|i| run(Some("f1"), i, Some(i as u64), None, RECS[i as usize]))
            .collect();
        records.push(run(Some("f2"), 10, Some(0), None, RECS[0]));
        // Closer to the third call's input (one field differs) than to the second's (three):
        // the same call comes first all the same.
        let changed = r#"{"id": 2, "v": 3.5, "unit": "cm", "tag": "x"}"#;
        records.push(run(Some("f2"), 11, Some(1), None, changed));
        let expected = Pairing::SameCall {
            map_index: None,
            call_index: Some(1),
        };
        assert_eq!(pick(&records, 4), Some((1, expected)));
        // A map element is not the same call as a direct call with the same call index.
        let mut mapped = records.clone();
        mapped[1] = run(Some("f1"), 1, Some(1), Some(0), RECS[1]);
        assert_eq!(pick(&mapped, 4).map(|p| p.1), Some(Pairing::ClosestInputs));
    }

    #[test]
    fn older_records_without_calls_get_the_closest_inputs_of_the_latest_earlier_flow_run() {
        let changed = r#"{"id": 2, "v": 9.5, "unit": "m", "tag": "x"}"#;
        let mut records: Vec<RunRecord> = (0..4u32)
            .map(|i| run(Some("f0"), i, None, None, RECS[0]))
            .collect();
        records.extend((0..4u32).map(|i| run(Some("f1"), 10 + i, None, None, RECS[i as usize])));
        records.push(run(Some("f2"), 20, None, None, RECS[0]));
        records.push(run(Some("f2"), 21, None, None, changed));
        // Not f0 (older), not f2's own sibling (same inputs as RECS[0] but B's flow run).
        assert_eq!(pick(&records, 9), Some((6, Pairing::ClosestInputs)));
    }

    #[test]
    fn one_run_per_flow_run_is_simply_the_latest_earlier_run() {
        let records = vec![
            run(Some("f1"), 1, None, None, RECS[2]),
            run(Some("f2"), 2, Some(0), None, RECS[0]),
            run(Some("f3"), 3, Some(0), None, RECS[3]),
        ];
        assert_eq!(pick(&records, 2), Some((1, Pairing::LatestEarlier)));
        assert_eq!(pick(&records, 1), Some((0, Pairing::LatestEarlier)));
    }

    #[test]
    fn outside_a_flow_the_latest_earlier_run_is_taken() {
        let records = vec![
            run(None, 1, None, None, RECS[2]),
            run(None, 2, None, None, RECS[0]),
            run(None, 3, None, None, RECS[3]),
        ];
        assert_eq!(pick(&records, 2), Some((1, Pairing::LatestEarlier)));
        assert_eq!(pick(&records, 0), None);
    }

    /// One pool pairs every run as a pool of its own does: what it works out once (a run's
    /// time, its inputs as each policy looks at them) is never another run's, nor read
    /// through another policy's exclusions.
    #[test]
    fn a_pool_pairs_each_run_as_pairing_it_alone_does() {
        let excluding = r#"{"policy": "Inputs", "key": null, "exclude": ["rec"]}"#;
        let mut records = Vec::new();
        for (k, flow) in [Some("f1"), Some("f2"), None, Some("f3")]
            .iter()
            .enumerate()
        {
            for m in 0..4 {
                let policy = if (k + m) % 2 == 1 { excluding } else { "null" };
                let second = (k * 5 + m) as u32;
                let rec = RECS[(k * 3 + m) % 4];
                records.push(run_with_policy(
                    *flow,
                    second,
                    None,
                    Some(m as u64),
                    rec,
                    policy,
                ));
            }
        }
        let sources = sources(records.len());
        let refs = refs(&records, &sources);
        let at = |a: RunRef| sources.iter().position(|s| s == a.source).unwrap();
        let mut pool = Pool::new(&refs);
        let mut hows = Vec::new();
        for b in &refs {
            let shared = pool.pair(b).map(|(a, how)| (at(a), how));
            let alone = Pool::new(&refs).pair(b).map(|(a, how)| (at(a), how));
            assert_eq!(shared, alone, "{}", b.source);
            hows.extend(alone.map(|(_, how)| how));
        }
        assert!(hows.contains(&Pairing::SameInputs), "{hows:?}");
        assert!(hows.iter().any(|h| *h != Pairing::SameInputs), "{hows:?}");
    }
}
