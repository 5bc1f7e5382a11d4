//! The runs the inspector lists: each loaded record with what a row shows (outcome badge,
//! time, flow run), grouped by task with the newest run first, filtered, and flattened into
//! the rows that are drawn. Rows are identified by what they show (a task's name, a run's
//! index), never by position, so the selection survives new runs and filters.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use cachescope::engine::{
    CanonicalJson, CanonicalTexts, NodeStatus, RecordEvaluation, recompute_lean, with_values,
};
use cachescope::hash::hash_json_text;
use cachescope::load::{CanonicalText, RecordAt, RecordSource, read_record_at, visit_record_lean};
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
    /// The record, when the run keeps it in memory: a run loaded lean from a place it can be
    /// read again from keeps none ([`Run::full_record`] reads it), only what its row, its task
    /// group, its sort and the choice of a comparison's runs read (below). At 100,000 runs the
    /// records were most of the inspector's memory, and faulting it in most of what its load
    /// took beyond `keys`'.
    record: Option<Box<RunRecord>>,
    /// The texts a run keeps (the task's name as recorded, what groups runs; its `task_key`;
    /// the cache key; `recorded_at`; the flow run's name, sanitised, "-" outside a flow; and the
    /// lower-case words the filter matches against), in one allocation.
    texts: RunTexts,
    pub badge: Badge,
    /// Some node could not be recomputed (user code, cloudpickle).
    pub unverifiable: bool,
    /// Where the inputs and flow parameters are, for a record loaded lean (`record` then has
    /// `None` for them): values are built only for the runs a comparison reads.
    kept: Kept,
}

/// A run's texts, one after another in one string: at 100,000 runs, six strings a run were
/// 600,000 allocations that the load paid for and the inspector kept.
#[derive(Debug)]
struct RunTexts {
    all: Box<str>,
    /// Where each text ends in `all` (each begins where the one before ends).
    ends: [usize; RunTexts::COUNT],
    /// Which of the optional texts are absent (a bit per text).
    absent: u8,
}

impl RunTexts {
    const TASK_NAME: usize = 0;
    const TASK_KEY: usize = 1;
    const KEY: usize = 2;
    const RECORDED_AT: usize = 3;
    const FLOW_RUN: usize = 4;
    const HAYSTACK: usize = 5;
    const COUNT: usize = 6;

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.all[start..self.ends[i]]
    }

    fn opt(&self, i: usize) -> Option<&str> {
        (self.absent & (1 << i) == 0).then(|| self.get(i))
    }
}

/// Builds [`RunTexts`] text by text.
struct RunTextsBuilder {
    all: String,
    ends: [usize; RunTexts::COUNT],
    absent: u8,
    next: usize,
}

impl RunTextsBuilder {
    fn with_capacity(capacity: usize) -> RunTextsBuilder {
        RunTextsBuilder {
            all: String::with_capacity(capacity),
            ends: [0; RunTexts::COUNT],
            absent: 0,
            next: 0,
        }
    }

    /// Ends the text being written (after `all` grew by it).
    fn end(&mut self) {
        self.ends[self.next] = self.all.len();
        self.next += 1;
    }

    fn push(&mut self, text: Option<&str>) {
        match text {
            Some(text) => self.all.push_str(text),
            None => self.absent |= 1 << self.next,
        }
        self.end();
    }

    fn done(self) -> RunTexts {
        debug_assert_eq!(self.next, RunTexts::COUNT);
        RunTexts {
            all: self.all.into_boxed_str(),
            ends: self.ends,
            absent: self.absent,
        }
    }
}

/// Where a lean run's inputs and flow parameters are found again.
#[derive(Debug)]
enum Kept {
    /// In `record`, as values (or the record has none).
    Values,
    /// Canonical texts kept in memory (a run whose place in its file is not known).
    Texts(Box<CanonicalText>),
    /// In the record's file, read again whole when needed: a run of a big folder keeps no
    /// record in memory, so the load faults in no memory for it. The texts' fingerprints,
    /// and the task, key and time it keeps, tell whether the file still holds what was loaded.
    InFile {
        at: RecordAt,
        inputs: Option<Fingerprint>,
        parameters: Option<Fingerprint>,
    },
}

/// A canonical text's fingerprint, to tell whether a record's file still holds what was
/// loaded: the first 64 bits of its md5 as `hash_objects` takes it where loading worked that
/// out already (with many others at once, so it costs nothing more), else xxh3 of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fingerprint {
    Md5(u64),
    Xxh3(u64),
}

/// The first 64 bits of an md5 in hex.
fn md5_prefix(hex: &str) -> Option<u64> {
    u64::from_str_radix(hex.get(..16)?, 16).ok()
}

impl Fingerprint {
    fn of(json: CanonicalJson) -> Fingerprint {
        match json.hash.and_then(md5_prefix) {
            Some(md5) => Fingerprint::Md5(md5),
            None => Fingerprint::Xxh3(xxhash_rust::xxh3::xxh3_64(json.text.as_bytes())),
        }
    }

    /// Whether `text` is the text this is the fingerprint of.
    fn is_of(self, text: &str) -> bool {
        match self {
            Fingerprint::Md5(md5) => md5_prefix(&hash_json_text(text)) == Some(md5),
            Fingerprint::Xxh3(xxh3) => xxhash_rust::xxh3::xxh3_64(text.as_bytes()) == xxh3,
        }
    }
}

impl Run {
    /// A run with its whole record in memory (the tests build runs this way).
    #[cfg(test)]
    pub fn new(source: RecordSource, record: Box<RunRecord>) -> Run {
        let evaluation = cachescope::engine::recompute(&record);
        Run::with(source, record, evaluation, Kept::Values)
    }

    /// A run loaded lean ([`cachescope::load::visit_unit_lean`]): recomputed from its canonical
    /// texts where they lie in the bytes just read. It keeps where they are in the record's
    /// file (`at`), or a copy of them where that is not known.
    pub fn lean(
        source: RecordSource,
        record: Box<RunRecord>,
        texts: &CanonicalTexts,
        at: Option<RecordAt>,
    ) -> Run {
        let evaluation = recompute_lean(&record, texts);
        let kept = match at {
            _ if texts.inputs.is_none() && texts.flow_parameters.is_none() => Kept::Values,
            Some(at) => Kept::InFile {
                at,
                inputs: texts.inputs.map(Fingerprint::of),
                parameters: texts.flow_parameters.map(Fingerprint::of),
            },
            None => Kept::Texts(Box::new(CanonicalText::copied(texts))),
        };
        Run::with(source, record, evaluation, kept)
    }

    fn with(
        source: RecordSource,
        record: Box<RunRecord>,
        evaluation: RecordEvaluation,
        kept: Kept,
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
        let flow_run = record
            .flow
            .as_ref()
            .and_then(|f| f.run_name.as_deref())
            .unwrap_or("-");
        let unverifiable = evaluation.status == NodeStatus::Unverifiable;
        let task_name = record.task.name.as_str();
        let task_key = record.task.task_key.as_deref();
        let key = record.key.as_deref();
        let recorded_at = record.recorded_at.as_deref();
        let shown_flow_run = sanitize_line(flow_run);
        let capacity = [
            task_name.len() * 2,
            task_key.map_or(0, str::len),
            key.map_or(0, str::len),
            recorded_at.map_or(0, str::len),
            shown_flow_run.len() + flow_run.len(),
            record.task_run.id.as_deref().map_or(0, str::len),
            record.task_run.name.as_deref().map_or(0, str::len),
            source.path.as_os_str().len(),
            40,
        ]
        .iter()
        .sum();
        let mut texts = RunTextsBuilder::with_capacity(capacity);
        texts.push(Some(task_name));
        texts.push(task_key);
        texts.push(key);
        texts.push(recorded_at);
        texts.push(Some(&shown_flow_run));
        let start = texts.all.len();
        // Pushed piece by piece (`write!` through the formatter was a fifth of a run's making).
        for (i, word) in [
            task_name,
            record.task_run.id.as_deref().unwrap_or(""),
            record.task_run.name.as_deref().unwrap_or(""),
            flow_run,
            badge.label(),
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                texts.all.push(' ');
            }
            texts.all.push_str(word);
        }
        texts.all.push(' ');
        match source.path.to_str() {
            Some(path) => texts.all.push_str(path),
            // Writing into a `String` cannot fail.
            None => {
                let _ = write!(texts.all, "{}", source.path.display());
            }
        }
        if let Some(line) = source.line {
            texts.all.push(':');
            texts.all.push_str(itoa::Buffer::new().format(line));
        }
        if unverifiable {
            texts.all.push_str(" unverifiable");
        }
        // Lower-cased where it lies when it is ASCII (nearly always).
        if texts.all[start..].is_ascii() {
            texts.all[start..].make_ascii_lowercase();
        } else {
            let lower = texts.all[start..].to_lowercase();
            texts.all.truncate(start);
            texts.all.push_str(&lower);
        }
        texts.end();
        let texts = texts.done();
        let record = match kept {
            Kept::InFile { .. } => None,
            _ => Some(record),
        };
        Run {
            source,
            record,
            texts,
            badge,
            unverifiable,
            kept,
        }
    }

    /// The whole record, with its inputs and flow parameters as values (built from their texts
    /// for a run loaded lean, the record read again from its file where it keeps none). An
    /// error says why it cannot be had: the file is gone, or changed since it was loaded.
    pub fn full_record(&self) -> Result<Cow<'_, RunRecord>, String> {
        let (record, texts) = match (&self.kept, &self.record) {
            (Kept::Values, Some(record)) => return Ok(Cow::Borrowed(&**record)),
            (Kept::Texts(texts), Some(record)) => (RunRecord::clone(record), texts.texts()),
            (
                Kept::InFile {
                    at,
                    inputs,
                    parameters,
                },
                _,
            ) => return self.read_again(*at, *inputs, *parameters).map(Cow::Owned),
            (_, None) => unreachable!("only a run kept in its file keeps no record"),
        };
        Ok(Cow::Owned(with_values(record, &texts)))
    }

    /// The record read again from its file, with its inputs and flow parameters as values,
    /// after checking that it is the one loaded (the same texts, task, key and time).
    fn read_again(
        &self,
        at: RecordAt,
        inputs: Option<Fingerprint>,
        parameters: Option<Fingerprint>,
    ) -> Result<RunRecord, String> {
        let changed = || {
            format!(
                "{} changed on disk since it was loaded: it cannot be read again",
                self.source
            )
        };
        let bytes = read_record_at(&self.source.path, at).map_err(|e| e.to_string())?;
        let first_line = self.source.line.map_or(0, |l| l.saturating_sub(1));
        let mut found = None;
        visit_record_lean(&self.source.path, first_line, &bytes, |loaded, texts| {
            let same = |kept: Option<Fingerprint>, text: Option<CanonicalJson>| match (kept, text) {
                (Some(kept), Some(text)) => kept.is_of(text.text),
                (kept, text) => kept.is_none() && text.is_none(),
            };
            let record = match loaded.record {
                Ok(record)
                    if found.is_none()
                        && same(inputs, texts.inputs)
                        && same(parameters, texts.flow_parameters)
                        && record.task.name == self.task_name()
                        && record.task.task_key.as_deref() == self.task_key()
                        && record.key.as_deref() == self.key()
                        && record.recorded_at.as_deref() == self.recorded_at() =>
                {
                    Some(with_values(*record, &texts))
                }
                _ => None,
            };
            found = Some(record);
        });
        found.flatten().ok_or_else(changed)
    }

    /// Whether the run recorded inputs.
    pub fn has_inputs(&self) -> bool {
        self.record.as_ref().is_some_and(|r| r.inputs.is_some())
            || match &self.kept {
                Kept::Values => false,
                Kept::Texts(texts) => texts.inputs.is_some(),
                Kept::InFile { inputs, .. } => inputs.is_some(),
            }
    }

    /// Whether every word of the filter occurs in the run's name, ids, flow run or outcome.
    pub fn matches(&self, words: &[String]) -> bool {
        let haystack = self.texts.get(RunTexts::HAYSTACK);
        words.iter().all(|w| haystack.contains(w.as_str()))
    }

    fn sort_time(&self) -> &str {
        self.recorded_at().unwrap_or("")
    }

    /// `recorded_at` as `2026-11-24 20:31:37`, sanitised ("-" when there is none): made when
    /// a row is drawn, so that a run keeps no copy.
    pub fn time(&self) -> String {
        match self.recorded_at() {
            Some(t) => {
                let t = t.replace('T', " ");
                sanitize_line(t.get(..19).unwrap_or(&t)).into_owned()
            }
            None => "-".to_string(),
        }
    }

    /// The task's name, sanitised for display.
    pub fn task(&self) -> Cow<'_, str> {
        sanitize_line(self.task_name())
    }

    /// Whether the run keeps its record in memory (a run loaded lean from a `.jsonl` file
    /// keeps its place in the file instead).
    #[cfg(test)]
    pub fn keeps_record(&self) -> bool {
        self.record.is_some()
    }

    /// The task's name as recorded.
    pub fn task_name(&self) -> &str {
        self.texts.get(RunTexts::TASK_NAME)
    }

    /// The task's `task_key`, as recorded.
    pub fn task_key(&self) -> Option<&str> {
        self.texts.opt(RunTexts::TASK_KEY)
    }

    /// The cache key the run used.
    pub fn key(&self) -> Option<&str> {
        self.texts.opt(RunTexts::KEY)
    }

    /// `recorded_at`, as recorded.
    pub fn recorded_at(&self) -> Option<&str> {
        self.texts.opt(RunTexts::RECORDED_AT)
    }

    /// The flow run's name, sanitised; "-" outside a flow.
    pub fn flow_run(&self) -> &str {
        self.texts.get(RunTexts::FLOW_RUN)
    }

    /// Whether `other` may be a run of this run's task (the explanation's `same_task` asks
    /// for more: one of its runs is always one of these).
    pub fn may_share_task(&self, other: &Run) -> bool {
        self.task_name() == other.task_name()
            || (self.task_key().is_some() && self.task_key() == other.task_key())
    }
}

/// A task and its runs, newest first (indexes into the run list).
#[derive(Debug, Clone)]
pub struct Task {
    pub name: String,
    pub runs: Vec<usize>,
    /// `runs` with each run's sort key beside it: sorting compares keys held here, in one
    /// array, instead of following each run's pointer to its record (at 100,000 runs the
    /// pointer chasing was most of the regrouping's time on the UI thread).
    order: Vec<(TimeKey, usize)>,
}

/// The first bytes of a run's `recorded_at`, zero-padded: ordered as the strings are, up to
/// this length (ties are broken by the whole strings, then the record's place).
type TimeKey = [u8; 32];

fn time_key(time: &str) -> TimeKey {
    let mut key = [0; 32];
    let n = time.len().min(key.len());
    key[..n].copy_from_slice(&time.as_bytes()[..n]);
    key
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

/// Adds `runs[from..]` to `tasks` (grouped from `runs[..from]`): [`add_grouped`] with the new
/// runs grouped here.
pub fn add_to_groups(tasks: &mut Vec<Task>, runs: &[Arc<Run>], from: usize) {
    add_grouped(tasks, runs, from, BatchGroups::of(&runs[from..]));
}

/// A batch's runs grouped by task, each group sorted newest first. The loader makes it on its
/// own thread as the runs arrive, with their records just read: the UI thread adding a batch
/// then follows no run's pointer but to break a tie, and only merges sorted lists. (At
/// 100,000 runs, grouping on the UI thread took 12 ms of the last batch, with the load
/// waiting for it: a run's name and time are in memory the UI thread has not touched.)
#[derive(Debug, Default)]
pub struct BatchGroups {
    index: HashMap<String, usize>,
    /// Each task's name and its runs' sort keys and places in the batch.
    groups: Vec<(String, Vec<(TimeKey, usize)>)>,
    len: usize,
}

impl BatchGroups {
    /// The batch `runs`, grouped and sorted.
    pub fn of(runs: &[Arc<Run>]) -> BatchGroups {
        let mut groups = BatchGroups::default();
        for run in runs {
            groups.push(run);
        }
        groups.sort(runs);
        groups
    }

    /// Adds the batch's next run.
    pub fn push(&mut self, run: &Run) {
        let name = run.task_name();
        let g = match self.index.get(name) {
            Some(&g) => g,
            None => {
                self.groups.push((name.to_string(), Vec::new()));
                self.index.insert(name.to_string(), self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        self.groups[g].1.push((time_key(run.sort_time()), self.len));
        self.len += 1;
    }

    /// Sorts each group newest first; `batch` holds the runs pushed, in order.
    pub fn sort(&mut self, batch: &[Arc<Run>]) {
        for (_, order) in &mut self.groups {
            sort_newest_first(order, batch);
        }
    }
}

/// Sorts `order` (sort keys beside places in `runs`) newest first: by time, then by where the
/// record is. A list made of sorted stretches is sorted in linear time.
fn sort_newest_first(order: &mut [(TimeKey, usize)], runs: &[Arc<Run>]) {
    order.sort_by(|&(key_a, a), &(key_b, b)| {
        key_b.cmp(&key_a).then_with(|| {
            runs[b]
                .sort_time()
                .cmp(runs[a].sort_time())
                .then(runs[b].source.cmp(&runs[a].source))
        })
    });
}

/// Adds the batch `runs[from..]`, grouped and sorted in `groups`, to `tasks` (grouped from
/// `runs[..from]`), merging only into the tasks that got runs: a big folder loads in batches,
/// and each batch must not cost a regrouping of every run loaded before it.
pub fn add_grouped(tasks: &mut Vec<Task>, runs: &[Arc<Run>], from: usize, groups: BatchGroups) {
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    let mut touched = Vec::with_capacity(groups.groups.len());
    let mut added = Vec::new();
    for (name, order) in groups.groups {
        match index.get(name.as_str()) {
            Some(&t) => touched.push((t, order)),
            None => added.push(Task {
                name,
                runs: Vec::new(),
                order,
            }),
        }
    }
    for (t, order) in touched {
        let task = &mut tasks[t];
        task.order
            .extend(order.into_iter().map(|(key, i)| (key, i + from)));
        // Two sorted stretches: merged.
        sort_newest_first(&mut task.order, runs);
        task.runs.clear();
        task.runs.extend(task.order.iter().map(|&(_, i)| i));
    }
    if !added.is_empty() {
        for mut task in added {
            for (_, i) in &mut task.order {
                *i += from;
            }
            task.runs = task.order.iter().map(|&(_, i)| i).collect();
            tasks.push(task);
        }
        tasks.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

/// The filter's words, lower-cased.
pub fn filter_words(filter: &str) -> Vec<String> {
    filter.split_whitespace().map(str::to_lowercase).collect()
}

/// The rows to draw: each task with a matching run, and its matching runs unless collapsed,
/// written into `out`, whose memory is used again (at 100,000 runs the rows are 3 MB, made
/// again for every batch of a load).
pub fn rows_into(
    out: &mut Vec<RowId>,
    runs: &[Arc<Run>],
    tasks: &[Task],
    collapsed: &HashSet<String>,
    filter: &str,
) {
    out.clear();
    let words = filter_words(filter);
    for task in tasks {
        let shown = !collapsed.contains(&task.name);
        let header = out.len();
        out.push(RowId::Task(task.name.clone()));
        if words.is_empty() {
            // No filter: every run, and no run read.
            if task.runs.is_empty() {
                out.truncate(header);
            } else if shown {
                out.extend(task.runs.iter().map(|&i| RowId::Run(i)));
            }
            continue;
        }
        let mut any = false;
        for &i in &task.runs {
            if runs[i].matches(&words) {
                any = true;
                if !shown {
                    break;
                }
                out.push(RowId::Run(i));
            }
        }
        if !any {
            out.truncate(header);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::{Fingerprint, RunTexts, RunTextsBuilder};

    /// A run's texts come back as they went in, an empty text told from an absent one (a
    /// `task_key` of "" is a key that other runs may share; none is not).
    #[test]
    fn a_runs_texts_come_back_as_they_went_in_empty_or_absent() {
        let mut b = RunTextsBuilder::with_capacity(0);
        b.push(Some("clean"));
        b.push(Some(""));
        b.push(None);
        b.push(Some("2026-11-24T20:31:37Z"));
        b.push(Some("é-run"));
        b.all.push_str("clean run-1");
        b.end();
        let t = b.done();
        assert_eq!(t.get(RunTexts::TASK_NAME), "clean");
        assert_eq!(t.opt(RunTexts::TASK_KEY), Some(""));
        assert_eq!(t.opt(RunTexts::KEY), None);
        assert_eq!(t.opt(RunTexts::RECORDED_AT), Some("2026-11-24T20:31:37Z"));
        assert_eq!(t.get(RunTexts::FLOW_RUN), "é-run");
        assert_eq!(t.get(RunTexts::HAYSTACK), "clean run-1");
    }
    use cachescope::engine::CanonicalJson;
    use cachescope::hash::hash_json_text;

    /// What the filter matches: the task's name, the task run's id and name, the flow run,
    /// the badge, where the record lies (path and line) and "unverifiable", lower-cased.
    #[test]
    fn a_runs_filter_words_are_its_names_ids_outcome_and_place() {
        use cachescope::load::RecordSource;
        use cachescope::record::RunRecord;
        let text = r#"{"format": "cachescope/run-record@1", "flow": {"run_id": "f", "run_name": "Brave-Otter"}, "task": {"name": "Clean_Rows"}, "task_run": {"id": "TR-1", "name": "clean-7"}, "policy": {"policy": "CacheKeyFnPolicy", "key": "k", "reproducible": false}, "key": "k", "outcome": {"cache_hit": true}}"#;
        let value = cachescope::pyjson::parse(text).unwrap();
        let record = RunRecord::from_value(value).unwrap();
        for (line, place) in [
            (Some(12), "runs/Day 1.jsonl:12"),
            (None, "runs/Day 1.jsonl"),
        ] {
            let source = RecordSource {
                path: std::path::Path::new("runs/Day 1.jsonl").into(),
                line,
            };
            let run = super::Run::new(source, Box::new(record.clone()));
            let want = format!(
                "clean_rows tr-1 clean-7 brave-otter hit {} unverifiable",
                place.to_lowercase()
            );
            assert_eq!(run.texts.get(RunTexts::HAYSTACK), want);
            assert!(run.matches(&["otter".into(), "day 1.jsonl:12".into()]) == line.is_some());
            assert!(!run.matches(&["miss".into()]));
        }
    }

    #[test]
    fn a_fingerprint_tells_the_text_loaded_from_any_other() {
        let text = r#"{"a": [1, 2.5], "b": "x"}"#;
        let other = r#"{"a": [1, 2.5], "b": "y"}"#;
        let md5 = hash_json_text(text);
        let with_hash = CanonicalJson {
            text,
            hash: Some(&md5),
            checked: false,
        };
        let without = CanonicalJson {
            hash: None,
            ..with_hash
        };
        let (a, b) = (Fingerprint::of(with_hash), Fingerprint::of(without));
        assert!(matches!(a, Fingerprint::Md5(_)) && matches!(b, Fingerprint::Xxh3(_)));
        for print in [a, b] {
            assert!(print.is_of(text));
            assert!(!print.is_of(other));
            assert!(!print.is_of(""));
        }
    }
}
