//! `cachescope check`, the CI gate: for every task, its latest record is explained against the
//! source as it is now. A task "would miss because the code or configuration changed" when a
//! culprit other than RunId shows up: its source (decorator included, which is where the
//! policy is set) no longer hashes to the recorded key. RunId misses every flow run by design
//! and expired or deleted results are not a change to the code, so neither fails the gate.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;

use crate::storage::parse_time;

use super::model::Explanation;
use super::sides::RunRef;

/// What the gate says about one task.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckStatus {
    /// The key of the next run is the recorded one (as far as code and configuration go).
    Unchanged,
    /// The code or configuration changed: the next run gets another key.
    Changed,
    /// The task cannot be checked (source file or function gone, unreadable): why.
    Error(String),
}

impl CheckStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            CheckStatus::Unchanged => "unchanged",
            CheckStatus::Changed => "changed",
            CheckStatus::Error(_) => "error",
        }
    }
}

/// The latest record of every task (by name, qualname and file: `task_key` changes with the
/// source), in the order of their names. Each run's time is parsed once, and the tasks are
/// keyed by the runs' own strings (the watch session asks this of every record after each
/// batch: at 100,000 records, three copied strings a run and two times parsed per comparison).
pub fn latest_per_task<'a>(runs: &[RunRef<'a>]) -> Vec<RunRef<'a>> {
    latest_per_task_at(runs)
        .into_iter()
        .map(|i| runs[i])
        .collect()
}

/// [`latest_per_task`], as the runs' places in `runs`.
pub fn latest_per_task_at(runs: &[RunRef]) -> Vec<usize> {
    let mut latest: BTreeMap<Named, (Option<Timestamp>, usize)> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        let id = named(run);
        let time = run
            .record
            .recorded_at
            .as_deref()
            .and_then(|s| parse_time(s).ok());
        match latest.get(&id) {
            Some((current_time, current))
                if (*current_time, runs[*current].source) >= (time, run.source) => {}
            _ => {
                latest.insert(id, (time, i));
            }
        }
    }
    latest.into_values().map(|(_, i)| i).collect()
}

/// Where each task's runs are among all runs, to hand an explanation of a run against its next
/// run only the runs it reads: at 100,000 runs of 100 tasks, every explanation filtering every
/// run was a sixth of `check`'s time.
pub struct RunsIndex<'r, 'a> {
    runs: &'r [RunRef<'a>],
    by_task_key: HashMap<&'a str, Vec<usize>>,
    by_name: HashMap<Named<'a>, Vec<usize>>,
    by_key: HashMap<&'a str, Vec<usize>>,
}

/// A task by name, qualname and file (`task_key` changes with the source).
type Named<'a> = (&'a str, Option<&'a str>, Option<&'a str>);

fn named<'a>(run: &RunRef<'a>) -> Named<'a> {
    let t = &run.record.task;
    (t.name.as_str(), t.qualname.as_deref(), t.file.as_deref())
}

impl<'r, 'a> RunsIndex<'r, 'a> {
    pub fn new(runs: &'r [RunRef<'a>]) -> Self {
        let mut index = RunsIndex {
            runs,
            by_task_key: HashMap::new(),
            by_name: HashMap::new(),
            by_key: HashMap::new(),
        };
        for (i, r) in runs.iter().enumerate() {
            if let Some(task_key) = r.record.task.task_key.as_deref() {
                index.by_task_key.entry(task_key).or_default().push(i);
            }
            index.by_name.entry(named(r)).or_default().push(i);
            if let Some(key) = r.record.key.as_deref() {
                index.by_key.entry(key).or_default().push(i);
            }
        }
        index
    }

    /// What explaining `run` against its next run (whose key is `next_key`) reads of the runs,
    /// in their order: the runs of its task (`same_task` with it: non-determinism, the advice's
    /// fixes) and the runs that recorded `next_key` (the advice that two tasks share a key).
    pub fn for_next_run(&self, run: &RunRef<'a>, next_key: Option<&str>) -> Vec<RunRef<'a>> {
        let found = self.for_next_run_at(run, next_key);
        found.into_iter().map(|i| self.runs[i]).collect()
    }

    /// [`RunsIndex::for_next_run`], as the runs' places among the indexed runs.
    pub fn for_next_run_at(&self, run: &RunRef<'a>, next_key: Option<&str>) -> Vec<usize> {
        let by_task_key = run
            .record
            .task
            .task_key
            .as_deref()
            .and_then(|k| self.by_task_key.get(k));
        let by_key = next_key.and_then(|k| self.by_key.get(k));
        let mut found: Vec<usize> = by_task_key
            .into_iter()
            .chain(self.by_name.get(&named(run)))
            .chain(by_key)
            .flatten()
            .copied()
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// The gate's status for one live explanation: changed when the next run would miss and a
/// culprit other than RunId says why.
pub fn status(explanation: &Explanation) -> CheckStatus {
    if let Some(why) = &explanation.error {
        return CheckStatus::Error(why.clone());
    }
    if explanation.verdict != crate::live::Verdict::Hit
        && explanation.culprits.iter().any(|c| c.policy != "RunId")
    {
        CheckStatus::Changed
    } else {
        CheckStatus::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::RunsIndex;
    use crate::explain::pairing::same_task;
    use crate::explain::sides::RunRef;
    use crate::load::{RecordSource, load_file};

    /// The index finds exactly the runs `same_task` matches with a run, and those that recorded
    /// the next key, in order: over records that share a `task_key` but not a name, a name but
    /// not a file, have no `task_key`, and share keys across tasks.
    #[test]
    fn the_index_finds_the_runs_an_explanation_reads() {
        let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sample-runs/runs/02-source-edit/run-1-before-edit");
        let path = std::fs::read_dir(&sample)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let base = *load_file(&path).remove(0).record.unwrap();
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut pick = |n: u64| (next() % n) as usize;
        let records: Vec<_> = (0..300)
            .map(|_| {
                let mut r = base.clone();
                r.task.task_key = [None, Some("k1"), Some("k2")][pick(3)].map(str::to_string);
                r.task.name = ["a", "b"][pick(2)].to_string();
                r.task.qualname = [None, Some("a"), Some("b")][pick(3)].map(str::to_string);
                r.task.file = [None, Some("f.py"), Some("g.py")][pick(3)].map(str::to_string);
                r.key = [None, Some("x"), Some("y"), Some("z")][pick(4)].map(str::to_string);
                r
            })
            .collect();
        let file: Arc<std::path::Path> = path.as_path().into();
        let sources: Vec<RecordSource> = (0..records.len())
            .map(|i| RecordSource {
                path: file.clone(),
                line: Some(i + 1),
            })
            .collect();
        let runs: Vec<RunRef> = records
            .iter()
            .zip(&sources)
            .map(|(record, source)| RunRef { source, record })
            .collect();
        let index = RunsIndex::new(&runs);
        let mut sizes = Vec::new();
        for (i, run) in runs.iter().enumerate() {
            let next_key = [None, Some("x"), Some("w")][i % 3];
            let want: Vec<_> = runs
                .iter()
                .filter(|r| {
                    same_task(r.record, run.record)
                        || next_key.is_some() && r.record.key.as_deref() == next_key
                })
                .map(|r| r.source.line)
                .collect();
            let got: Vec<_> = index
                .for_next_run(run, next_key)
                .iter()
                .map(|r| r.source.line)
                .collect();
            assert_eq!(got, want, "{:?} {next_key:?}", run.record.task);
            sizes.push(got.len());
        }
        sizes.sort_unstable();
        sizes.dedup();
        assert!(sizes.len() > 5, "varied: {sizes:?}");
    }
}
