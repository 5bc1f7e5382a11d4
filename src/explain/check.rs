//! `cachescope check`, the CI gate: for every task, its latest record is explained against the
//! source as it is now. A task "would miss because the code or configuration changed" when a
//! culprit other than RunId shows up: its source (decorator included, which is where the
//! policy is set) no longer hashes to the recorded key. RunId misses every flow run by design
//! and expired or deleted results are not a change to the code, so neither fails the gate.

use std::collections::BTreeMap;

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
    type Task<'r> = (&'r str, Option<&'r str>, Option<&'r str>);
    let mut latest: BTreeMap<Task<'a>, (Option<Timestamp>, RunRef<'a>)> = BTreeMap::new();
    for run in runs {
        let t = &run.record.task;
        let id = (t.name.as_str(), t.qualname.as_deref(), t.file.as_deref());
        let time = run
            .record
            .recorded_at
            .as_deref()
            .and_then(|s| parse_time(s).ok());
        match latest.get(&id) {
            Some((current_time, current))
                if (*current_time, current.source) >= (time, run.source) => {}
            _ => {
                latest.insert(id, (time, *run));
            }
        }
    }
    latest.into_values().map(|(_, run)| run).collect()
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
