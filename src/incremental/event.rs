//! What the watcher reports: the same events for `cachescope watch` (which prints them as JSON
//! lines, [`super::json`]) and for the terminal UI's live mode (which updates in place).

use std::path::PathBuf;

use crate::engine::{NodeStatus, RecordEvaluation};
use crate::explain::Explanation;
use crate::explain::next_run::NextRun;
use crate::live::Verdict;
use crate::load::RecordSource;

/// A unit's prediction for the next run: what a verdict line compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction {
    /// The live key, as `keys --live` shows it (for a policy with RunId, with the recorded
    /// run's id, so that an edit still shows as a new key).
    pub key: Option<String>,
    pub verdict: Verdict,
    /// Why the prediction could not be made (the source file or the function is gone, the
    /// file cannot be read or decoded): each its own state, so that going from one to another
    /// is reported too.
    pub error: Option<String>,
}

/// Once, after the first load and computation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// Records loaded.
    pub records: usize,
    /// Distinct tasks among them.
    pub tasks: usize,
    /// From the start to now.
    pub ms: u64,
}

/// A unit's live key or verdict changed.
#[derive(Debug, Clone)]
pub struct VerdictChange {
    /// The record the prediction is made from (the task's latest).
    pub record: RecordSource,
    pub task: String,
    pub prediction: Prediction,
    /// None for a unit seen for the first time.
    pub previous: Option<Prediction>,
    /// The record explained against the next run, as `explain --live` does.
    pub explanation: Explanation,
    /// The live recomputation, node by node.
    pub next: NextRun,
    /// The file whose change led here (for an expiry, the result that expired).
    pub trigger: PathBuf,
}

/// A record appeared or was rewritten.
#[derive(Debug, Clone)]
pub struct RecordChange {
    pub record: RecordSource,
    pub task: String,
    /// Its keys recomputed from its recorded material, as `keys` does: does cachescope
    /// reproduce what Prefect computed.
    pub status: NodeStatus,
    pub evaluation: RecordEvaluation,
    /// The run explained against the run before it (the latest earlier run of the task with
    /// the same inputs, else the latest earlier run), as `explain RECORD` does: did it hit,
    /// and if not, why. None when the task has no earlier run.
    pub comparison: Option<Explanation>,
    pub trigger: PathBuf,
}

/// A file could not be read or parsed, or a folder could not be watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchError {
    pub path: PathBuf,
    pub error: String,
}

#[derive(Debug, Clone)]
pub enum WatchEvent {
    Ready(Ready),
    Verdict(Box<VerdictChange>),
    Record(Box<RecordChange>),
    Error(WatchError),
}
