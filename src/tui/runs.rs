//! The runs the inspector lists: each loaded record with what a row shows (outcome badge,
//! time, flow run), grouped by task with the newest run first, filtered, and flattened into
//! the rows that are drawn. Rows are identified by what they show (a task's name, a run's
//! index), never by position, so the selection survives new runs and filters.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cachescope::engine::{CanonicalTexts, NodeStatus, RecordEvaluation, recompute, recompute_lean};
use cachescope::load::{CanonicalText, RecordSource};
use cachescope::pyjson::parse;
use cachescope::record::RunRecord;
use cachescope::sanitize::sanitize_line;

/// What happened to a run, as its badge says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Badge {
    /// Served from the cache.
    Hit,
    /// Had a key and ran.
    Miss,
    /// No key: nothing was looked up.
    NoKey,
    /// The run failed, or its record does not recompute.
    Error,
}

impl Badge {
    pub fn label(self) -> &'static str {
        match self {
            Badge::Hit => "HIT",
            Badge::Miss => "MISS",
            Badge::NoKey => "NO KEY",
            Badge::Error => "ERROR",
        }
    }

    /// One character for the hit-rate history; distinct without colour.
    pub fn mark(self) -> char {
        match self {
            Badge::Hit => '✓',
            Badge::Miss => '✗',
            Badge::NoKey => '·',
            Badge::Error => '!',
        }
    }
}

/// One loaded record and what its row shows. Built on the loader thread (it recomputes).
#[derive(Debug)]
pub struct Run {
    pub source: RecordSource,
    pub record: RunRecord,
    pub badge: Badge,
    /// Some node could not be recomputed (user code, cloudpickle).
    pub unverifiable: bool,
    /// `recorded_at` as `2026-11-24 20:31:37`, sanitised.
    pub time: String,
    /// The flow run's name, sanitised; "-" outside a flow.
    pub flow_run: String,
    /// The task's name, sanitised for display.
    pub task: String,
    /// Lower-case words the filter matches against.
    haystack: String,
    /// The inputs and flow parameters as the canonical text they were recorded as, where the
    /// record was loaded lean (`record` then has `None` for them): a big folder's values are
    /// built only for the runs a comparison reads, so memory stays near the records' size.
    inputs_text: Option<Box<str>>,
    parameters_text: Option<Box<str>>,
}

impl Run {
    pub fn new(source: RecordSource, record: RunRecord) -> Run {
        let evaluation = recompute(&record);
        Run::with(source, record, evaluation, CanonicalText::default())
    }

    /// A run loaded lean ([`cachescope::load::visit_unit_lean`]): recomputed from its canonical
    /// texts where they lie in the bytes just read, and keeping a copy of them in place of the
    /// values.
    pub fn lean(source: RecordSource, record: RunRecord, texts: &CanonicalTexts) -> Run {
        let evaluation = recompute_lean(&record, texts);
        Run::with(source, record, evaluation, CanonicalText::copied(texts))
    }

    fn with(
        source: RecordSource,
        record: RunRecord,
        evaluation: RecordEvaluation,
        texts: CanonicalText,
    ) -> Run {
        let failed = matches!(
            record.outcome.state.as_deref(),
            Some("Failed" | "Crashed" | "Cancelled")
        );
        let badge = if failed || evaluation.status == NodeStatus::Error {
            Badge::Error
        } else if record.outcome.cache_hit {
            Badge::Hit
        } else if record.key.is_none() {
            Badge::NoKey
        } else {
            Badge::Miss
        };
        let time = record
            .recorded_at
            .as_deref()
            .map(|t| {
                let t = t.replace('T', " ");
                t.get(..19).unwrap_or(&t).to_string()
            })
            .unwrap_or_else(|| "-".to_string());
        let flow_run = record
            .flow
            .as_ref()
            .and_then(|f| f.run_name.clone())
            .unwrap_or_else(|| "-".to_string());
        let task = record.task.name.clone();
        let unverifiable = evaluation.status == NodeStatus::Unverifiable;
        let haystack = format!(
            "{} {} {} {} {} {}{}",
            task,
            record.task_run.id.as_deref().unwrap_or(""),
            record.task_run.name.as_deref().unwrap_or(""),
            flow_run,
            badge.label(),
            source,
            if unverifiable { " unverifiable" } else { "" }
        )
        .to_lowercase();
        Run {
            time: sanitize_line(&time).into_owned(),
            flow_run: sanitize_line(&flow_run).into_owned(),
            task: sanitize_line(&task).into_owned(),
            source,
            record,
            badge,
            unverifiable,
            haystack,
            inputs_text: texts.inputs.map(|(text, _)| text),
            parameters_text: texts.flow_parameters.map(|(text, _)| text),
        }
    }

    /// The whole record, with its inputs and flow parameters as values (built from their texts
    /// for a run loaded lean).
    pub fn full_record(&self) -> Cow<'_, RunRecord> {
        if self.inputs_text.is_none() && self.parameters_text.is_none() {
            return Cow::Borrowed(&self.record);
        }
        let mut record = self.record.clone();
        // The texts were checked canonical, so they parse.
        if let Some(text) = &self.inputs_text {
            record.inputs = parse(text).ok();
        }
        if let (Some(text), Some(flow)) = (&self.parameters_text, record.flow.as_mut()) {
            flow.parameters = parse(text).ok();
        }
        Cow::Owned(record)
    }

    /// Whether the run recorded inputs.
    pub fn has_inputs(&self) -> bool {
        self.record.inputs.is_some() || self.inputs_text.is_some()
    }

    /// Whether every word of the filter occurs in the run's name, ids, flow run or outcome.
    pub fn matches(&self, words: &[String]) -> bool {
        words.iter().all(|w| self.haystack.contains(w.as_str()))
    }

    fn sort_time(&self) -> &str {
        self.record.recorded_at.as_deref().unwrap_or("")
    }
}

/// A task and its runs, newest first (indexes into the run list).
#[derive(Debug, Clone)]
pub struct Task {
    pub name: String,
    pub runs: Vec<usize>,
}

/// What a row shows, and so what the selection holds on to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RowId {
    Task(String),
    Run(usize),
}

/// Groups runs by task name (tasks in name order, runs newest first).
pub fn group(runs: &[Arc<Run>]) -> Vec<Task> {
    let mut tasks = Vec::new();
    add_to_groups(&mut tasks, runs, 0);
    tasks
}

/// Adds `runs[from..]` to `tasks` (grouped from `runs[..from]`), re-sorting only the tasks that
/// got runs: a big folder loads in batches, and each batch must not cost a regrouping of every
/// run loaded before it (the lists are sorted already, and the sort runs over sorted stretches
/// in linear time).
pub fn add_to_groups(tasks: &mut Vec<Task>, runs: &[Arc<Run>], from: usize) {
    let mut index: HashMap<String, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect();
    let known = tasks.len();
    let mut touched = HashSet::new();
    for (i, run) in runs.iter().enumerate().skip(from) {
        let name = &run.record.task.name;
        let t = match index.get(name) {
            Some(&t) => t,
            None => {
                tasks.push(Task {
                    name: name.clone(),
                    runs: Vec::new(),
                });
                index.insert(name.clone(), tasks.len() - 1);
                tasks.len() - 1
            }
        };
        tasks[t].runs.push(i);
        touched.insert(t);
    }
    for t in touched {
        tasks[t].runs.sort_by(|&a, &b| {
            runs[b]
                .sort_time()
                .cmp(runs[a].sort_time())
                .then(runs[b].source.cmp(&runs[a].source))
        });
    }
    if tasks.len() > known {
        tasks.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

/// The filter's words, lower-cased.
pub fn filter_words(filter: &str) -> Vec<String> {
    filter.split_whitespace().map(str::to_lowercase).collect()
}

/// The rows to draw: each task with a matching run, and its matching runs unless collapsed.
pub fn rows(
    runs: &[Arc<Run>],
    tasks: &[Task],
    collapsed: &HashSet<String>,
    filter: &str,
) -> Vec<RowId> {
    let words = filter_words(filter);
    let mut out = Vec::new();
    for task in tasks {
        let matching: Vec<usize> = task
            .runs
            .iter()
            .copied()
            .filter(|&i| runs[i].matches(&words))
            .collect();
        if matching.is_empty() {
            continue;
        }
        out.push(RowId::Task(task.name.clone()));
        if !collapsed.contains(&task.name) {
            out.extend(matching.into_iter().map(RowId::Run));
        }
    }
    out
}

/// Hit-rate history of a task: its runs' marks, oldest to newest, the last `max` of them.
pub fn history(runs: &[Arc<Run>], task: &Task, max: usize) -> Vec<Badge> {
    task.runs
        .iter()
        .rev()
        .map(|&i| runs[i].badge)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .take(max)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

/// How many of a task's runs hit, of those that looked something up.
pub fn hit_count(runs: &[Arc<Run>], task: &Task) -> (usize, usize) {
    let looked = task
        .runs
        .iter()
        .filter(|&&i| matches!(runs[i].badge, Badge::Hit | Badge::Miss))
        .count();
    let hits = task
        .runs
        .iter()
        .filter(|&&i| runs[i].badge == Badge::Hit)
        .count();
    (hits, looked)
}
