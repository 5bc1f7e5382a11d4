//! Live recomputation: a recorded run's key recomputed with the task's source as it is now in
//! its file, and a prediction of whether the next run with the same inputs will hit.
//!
//! Files are read through a [`SourceCache`], so a folder of records that share one file reads
//! and indexes it once; the watcher keeps one cache and drops the entries of changed files.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::engine::{CanonicalTexts, Material, NodeStatus, RecordEvaluation, recompute_lean_from};
use crate::policy::{PolicyKind, PolicyNode};
use crate::record::{RunRecord, normalize};
use crate::source::{FunctionSource, PythonVersion, SourceError, SourceFile};
use crate::storage::{Lookup, lookup};

/// Where source files are looked for.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    /// `--project DIR`: replaces every record's `project_root` (cli.md).
    pub project: Option<PathBuf>,
}

/// Why the task's source could not be had from its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceProblem {
    /// The record names no file (or no qualname) for the task.
    NotRecorded(String),
    /// The file is not there (any more).
    FileMissing { tried: Vec<PathBuf> },
    /// The file is there but cannot be read or decoded.
    Unreadable { path: PathBuf, why: String },
    /// The file has no such function (deleted, renamed or moved to another file).
    FunctionMissing { path: PathBuf, error: SourceError },
    /// `inspect.getsource` itself would fail on the file as it is now.
    WouldRaise { path: PathBuf, error: SourceError },
}

impl fmt::Display for SourceProblem {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            SourceProblem::NotRecorded(what) => write!(f, "the record has no {what} for the task"),
            SourceProblem::FileMissing { tried } => {
                let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
                write!(f, "source file not found (tried {})", tried.join(", "))
            }
            SourceProblem::Unreadable { path, why } => {
                write!(f, "{}: cannot read: {why}", path.display())
            }
            SourceProblem::FunctionMissing { path, error } => {
                write!(f, "{}: {error}", path.display())
            }
            SourceProblem::WouldRaise { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

/// The task's source as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSource {
    pub path: PathBuf,
    pub function: FunctionSource,
    /// The Python version whose `inspect` was followed.
    pub python: PythonVersion,
}

/// Source files read and indexed once per (path, Python version).
#[derive(Default)]
pub struct SourceCache {
    files: HashMap<(PathBuf, PythonVersion), Result<SourceFile, SourceProblem>>,
    /// What each file held when it was read, once for every Python version: the watcher
    /// fingerprints exactly the bytes that were parsed, so a save between its read and ours
    /// cannot go unseen.
    read: HashMap<PathBuf, Result<Vec<u8>, SourceProblem>>,
}

/// What decides [`SourceCache::task_source`] for a record: the paths its file may be at (its
/// folder and `project_root` resolved, so that the records of one task in a thousand folders
/// ask one query), its qualname, line and Python, and its recorded source, which picks among
/// several definitions of one qualname.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SourceQuery {
    candidates: Vec<PathBuf>,
    qualname: Option<String>,
    line: Option<u64>,
    python: PythonVersion,
    source: Option<String>,
}

/// [`SourceCache::task_source`] answered once per [`SourceQuery`], for a command that looks the
/// file system up once (`keys --live`): at 100,000 records of 100 tasks, each record's lookup
/// took a `stat` and the tokens of its function's block, in turn behind the cache's lock. A
/// memo holds for one set of options, and never sees a file change after its first answer:
/// the live session, which does, asks the cache itself.
#[derive(Default)]
pub struct SourceMemo {
    answers: HashMap<SourceQuery, Result<LiveSource, SourceProblem>>,
}

impl SourceMemo {
    pub fn new() -> SourceMemo {
        SourceMemo::default()
    }

    /// [`SourceCache::task_source`], or its answer to the same query before.
    pub fn task_source(
        &mut self,
        cache: &mut SourceCache,
        record: &RunRecord,
        record_dir: &Path,
        options: &LiveOptions,
    ) -> Result<LiveSource, SourceProblem> {
        let Some(file) = record.task.file.as_deref() else {
            return cache.task_source(record, record_dir, options);
        };
        let query = SourceQuery {
            candidates: candidate_paths(record, record_dir, options, file),
            qualname: record.task.qualname.clone(),
            line: record.task.line,
            python: python_of(record),
            source: record.task.source.clone(),
        };
        self.answers
            .entry(query)
            .or_insert_with(|| cache.task_source(record, record_dir, options))
            .clone()
    }
}

/// Reads a source file, with the problem a task would have if it cannot be read.
pub fn read_source_file(path: &Path) -> Result<Vec<u8>, SourceProblem> {
    fs::read(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => SourceProblem::FileMissing {
            tried: vec![path.to_path_buf()],
        },
        _ => SourceProblem::Unreadable {
            path: path.to_path_buf(),
            why: e.to_string(),
        },
    })
}

impl SourceCache {
    pub fn new() -> SourceCache {
        SourceCache::default()
    }

    /// Forgets a file, after it changed on disk.
    pub fn invalidate(&mut self, path: &Path) {
        self.files.retain(|(p, _), _| p != path);
        self.read.remove(path);
    }

    /// Replaces what is known of a file by what the caller read from it, so that what it
    /// fingerprinted and what is parsed are the same bytes.
    pub fn replace(&mut self, path: &Path, read: Result<Vec<u8>, SourceProblem>) {
        self.invalidate(path);
        self.read.insert(path.to_path_buf(), read);
    }

    /// The bytes that were read from a file (or why they could not be), if it was read.
    pub fn read_of(&self, path: &Path) -> Option<&Result<Vec<u8>, SourceProblem>> {
        self.read.get(path)
    }

    fn file(&mut self, path: &Path, python: PythonVersion) -> &Result<SourceFile, SourceProblem> {
        let read = &mut self.read;
        self.files
            .entry((path.to_path_buf(), python))
            .or_insert_with(|| {
                let bytes = read
                    .entry(path.to_path_buf())
                    .or_insert_with(|| read_source_file(path))
                    .as_ref()
                    .map_err(Clone::clone)?;
                SourceFile::from_bytes(bytes, python).map_err(|e| SourceProblem::Unreadable {
                    path: path.to_path_buf(),
                    why: e.to_string(),
                })
            })
    }

    /// The whole file as [`SourceCache::task_source`] reads it: what the module around a task
    /// binds (a policy held in a variable) is outside the function's own source.
    pub fn source_file(
        &mut self,
        path: &Path,
        python: PythonVersion,
    ) -> Result<&SourceFile, SourceProblem> {
        self.file(path, python).as_ref().map_err(Clone::clone)
    }

    /// The task's source from its file as it is now.
    pub fn task_source(
        &mut self,
        record: &RunRecord,
        record_dir: &Path,
        options: &LiveOptions,
    ) -> Result<LiveSource, SourceProblem> {
        let file = record
            .task
            .file
            .as_deref()
            .ok_or(SourceProblem::NotRecorded("source file".into()))?;
        let qualname = record
            .task
            .qualname
            .as_deref()
            .ok_or(SourceProblem::NotRecorded("qualname".into()))?;
        let python = python_of(record);
        let candidates = candidate_paths(record, record_dir, options, file);
        let Some(path) = candidates.iter().find(|p| p.is_file()).cloned() else {
            return Err(SourceProblem::FileMissing { tried: candidates });
        };
        let near = record.task.line.map(|l| l as usize);
        let source_file = match self.file(&path, python) {
            Ok(f) => f,
            Err(problem) => return Err(problem.clone()),
        };
        // A qualname defined more than once (if/else branches, redefinitions): when lines were
        // inserted above, the definition nearest the recorded line may be the one that does not
        // run. One whose text is still exactly the recorded source is the best witness; only
        // when none is (the task was edited) does the recorded line decide.
        if let Some(recorded) = record.task.source.as_deref() {
            let mut same_name = source_file
                .functions()
                .iter()
                .filter(|d| d.qualname == qualname);
            if same_name.clone().nth(1).is_some()
                && let Some(function) = same_name.find_map(|d| {
                    source_file
                        .source_of(d)
                        .ok()
                        .filter(|f| f.source == recorded)
                })
            {
                return Ok(LiveSource {
                    path,
                    function,
                    python,
                });
            }
        }
        match source_file.find_function(qualname, near) {
            Ok(function) => Ok(LiveSource {
                path,
                function,
                python,
            }),
            Err(error @ SourceError::NotFound { .. }) => {
                Err(SourceProblem::FunctionMissing { path, error })
            }
            Err(error) => Err(SourceProblem::WouldRaise { path, error }),
        }
    }
}

/// The Python version whose `inspect` the record's source follows: the recording
/// interpreter's, brought into the modelled range (3.9 to 3.13).
pub fn python_of(record: &RunRecord) -> PythonVersion {
    let recorded = record
        .environment
        .python
        .as_deref()
        .and_then(|v| v.parse::<PythonVersion>().ok());
    match recorded {
        Some(v) if v < PythonVersion::OLDEST => PythonVersion::OLDEST,
        Some(v) if v > PythonVersion::NEWEST => PythonVersion::NEWEST,
        Some(v) => v,
        None => PythonVersion::NEWEST,
    }
}

fn candidate_paths(
    record: &RunRecord,
    record_dir: &Path,
    options: &LiveOptions,
    file: &str,
) -> Vec<PathBuf> {
    let file = Path::new(file);
    let root = record.project_root_in(record_dir);
    if let Some(project) = &options.project {
        // `--project` replaces every record's project_root (cli.md): an explicit option wins
        // over what a record says, even while the recorded root still exists, so that records
        // made in one checkout can be checked against another.
        if !file.is_absolute() {
            return vec![project.join(file)];
        }
        // An absolute path inside the recorded root moves with it; one outside (a shared
        // module installed elsewhere) is still read where it is.
        let file = normalize(file);
        if let Some(inside) = root.as_deref().and_then(|r| file.strip_prefix(r).ok()) {
            return vec![project.join(inside)];
        }
        return vec![file];
    }
    if file.is_absolute() {
        return vec![file.to_path_buf()];
    }
    vec![match root {
        Some(root) => root.join(file),
        None => record_dir.join(file),
    }]
}

/// hit / miss / unknown, for the next run with the same inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Hit,
    Miss,
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Hit => "hit",
            Verdict::Miss => "miss",
            Verdict::Unknown => "unknown",
        }
    }
}

/// A record recomputed live, with its prediction.
#[derive(Debug, Clone)]
pub struct LiveEvaluation {
    /// The source as it is now, or why it could not be had (TaskSource is then in error).
    pub source: Result<LiveSource, SourceProblem>,
    /// The tree recomputed with the live source, compared with the recorded keys.
    pub evaluation: RecordEvaluation,
    pub verdict: Verdict,
    /// Why, in one line.
    pub reason: String,
    /// The storage lookup of the live key, when one was made.
    pub lookup: Option<Lookup>,
}

fn uses(policy: &PolicyNode, pred: &dyn Fn(&PolicyKind) -> bool) -> bool {
    pred(&policy.kind) || policy.children().iter().any(|c| uses(c, pred))
}

/// Recomputes `record` with its task's source as it is now, and predicts the next run.
pub fn evaluate_live(
    record: &RunRecord,
    record_dir: &Path,
    options: &LiveOptions,
    cache: &mut SourceCache,
    now: Timestamp,
) -> LiveEvaluation {
    let source = cache.task_source(record, record_dir, options);
    evaluate_with_source(record, record_dir, source, now)
}

/// [`evaluate_live`] once the task's source has been had: pure but for the storage lookup, so
/// callers that share a [`SourceCache`] between threads hold it only for the source fetch.
pub fn evaluate_with_source(
    record: &RunRecord,
    record_dir: &Path,
    source: Result<LiveSource, SourceProblem>,
    now: Timestamp,
) -> LiveEvaluation {
    evaluate_with_source_lean(record, &CanonicalTexts::default(), record_dir, source, now)
}

/// [`evaluate_with_source`] for a record loaded lean: `texts` stand in for the inputs and
/// flow parameters it was read without (hashed as they are, no value built).
pub fn evaluate_with_source_lean(
    record: &RunRecord,
    texts: &CanonicalTexts,
    record_dir: &Path,
    source: Result<LiveSource, SourceProblem>,
    now: Timestamp,
) -> LiveEvaluation {
    let needs_source = record
        .policy
        .as_ref()
        .is_some_and(|p| uses(p, &|k| matches!(k, PolicyKind::TaskSource)));
    let mut material = Material::of_record(record);
    material.source = match (&source, needs_source) {
        (Ok(live), _) => Some(live.function.source.as_str()),
        // Without the live source, TaskSource cannot be recomputed: an error, not the recording.
        (Err(_), true) => None,
        (Err(_), false) => material.source,
    };
    let mut evaluation = recompute_lean_from(record, texts, material);
    match (&source, needs_source) {
        (Err(problem), true) => {
            for node in &mut evaluation.evaluation.nodes {
                if node.policy == "TaskSource" {
                    node.note = Some(problem.to_string());
                }
            }
        }
        // The key does not hash the source, but the decorator is in the source, and the
        // decorator sets the policy: what the next run's key hashes is unknown (issue 8, item 5:
        // a task keyed on `INPUTS - "y"` passed `check` with its file gone).
        (Err(problem), false) => {
            evaluation.status = NodeStatus::Error;
            evaluation.key = None;
            evaluation.note = Some(unreadable_source_note(problem));
        }
        (Ok(_), _) => {}
    }
    let storage = record.result_storage_in(record_dir);
    let (verdict, reason, lookup_result) = predict(record, &evaluation, storage.as_deref(), now);
    LiveEvaluation {
        source,
        evaluation,
        verdict,
        reason,
        lookup: lookup_result,
    }
}

/// Why a record whose key does not hash the source is still in error live.
pub fn unreadable_source_note(problem: &SourceProblem) -> String {
    format!("{problem}: the task's decorator, and so the policy of the next run, cannot be read")
}

fn predict(
    record: &RunRecord,
    evaluation: &RecordEvaluation,
    storage: Option<&Path>,
    now: Timestamp,
) -> (Verdict, String, Option<Lookup>) {
    let Some(policy) = &record.policy else {
        return match &record.task.result_storage_key {
            Some(template) => {
                predict_storage_key(record, &template.template, evaluation, storage, now)
            }
            None => (
                Verdict::Unknown,
                "the task has no cache policy (result_storage_key?)".into(),
                None,
            ),
        };
    };
    if evaluation.status == NodeStatus::Error {
        let why = evaluation
            .evaluation
            .nodes
            .iter()
            .find(|n| n.status == NodeStatus::Error)
            .and_then(|n| n.note.clone())
            .or_else(|| evaluation.note.clone())
            .unwrap_or_else(|| "the key cannot be recomputed".into());
        return (Verdict::Unknown, why, None);
    }
    if evaluation.key.is_none() {
        return (
            Verdict::Miss,
            "the key is None: nothing is looked up or stored (NO_CACHE?)".into(),
            None,
        );
    }
    if record.outcome.refresh_cache {
        return (
            Verdict::Miss,
            "refresh_cache is on: Prefect ignores cached results".into(),
            None,
        );
    }
    if uses(policy, &|k| matches!(k, PolicyKind::RunId)) {
        let scope = if record.flow.is_some() {
            "flow run"
        } else {
            "task run"
        };
        return (
            Verdict::Miss,
            format!("the policy includes RunId: the next {scope} has a new id, so a new key"),
            None,
        );
    }
    let found = lookup(storage, evaluation.key.as_deref(), now);
    let verdict = match &found {
        Lookup::Hit { .. } => Verdict::Hit,
        Lookup::Miss { .. } => Verdict::Miss,
        Lookup::Unknown { .. } => Verdict::Unknown,
    };
    (verdict, found.describe(), Some(found))
}

/// A task keyed by `result_storage_key`: the next run with the same inputs formats the same
/// key, unless the template takes something of the run's own (its id, its name).
fn predict_storage_key(
    record: &RunRecord,
    template: &str,
    evaluation: &RecordEvaluation,
    storage: Option<&Path>,
    now: Timestamp,
) -> (Verdict, String, Option<Lookup>) {
    let own = match crate::storage_key::run_specific_fields(template) {
        Ok(own) => own,
        Err(e) => {
            return (
                Verdict::Unknown,
                format!("result_storage_key {template:?} cannot be read: {e}"),
                None,
            );
        }
    };
    if own.iter().any(|f| f.ends_with(".id")) {
        return (
            Verdict::Miss,
            format!(
                "result_storage_key {template:?} takes {}: the next run has a new one, so a new key",
                own.join(" and ")
            ),
            None,
        );
    }
    if !own.is_empty() {
        return (
            Verdict::Unknown,
            format!(
                "result_storage_key {template:?} takes {}, which the next run may not share",
                own.join(" and ")
            ),
            None,
        );
    }
    // Same inputs, same names: the key Prefect formats again. Where cachescope cannot format
    // it (a value it does not follow exactly), that is still the recorded key.
    let Some(key) = evaluation.key.as_deref() else {
        return (
            Verdict::Unknown,
            format!("result_storage_key {template:?} gave no key"),
            None,
        );
    };
    if record.outcome.refresh_cache {
        return (
            Verdict::Miss,
            "refresh_cache is on: Prefect ignores cached results".into(),
            None,
        );
    }
    let found = lookup(storage, Some(key), now);
    let verdict = match &found {
        Lookup::Hit { .. } => Verdict::Hit,
        Lookup::Miss { .. } => Verdict::Miss,
        Lookup::Unknown { .. } => Verdict::Unknown,
    };
    (verdict, found.describe(), Some(found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::NodeStatus;
    use crate::hash::hash_strs;
    use crate::pyjson::parse;

    const ELSE_BRANCH: &str =
        "    @task\n    def pairs(rows):\n        return list(zip(rows, rows[1:]))\n";

    fn file_text(inserted_above: usize) -> String {
        let mut text = String::from("import sys\n");
        text.push_str(&"# inserted\n".repeat(inserted_above));
        text.push_str("if sys.version_info < (3, 10):\n    @task\n    def pairs(rows):\n        return []\nelse:\n");
        text.push_str(ELSE_BRANCH);
        text
    }

    /// A record of `pairs` with a TaskSource-only policy, its project in `project/` and its
    /// result storage in `storage/` beside the record.
    fn record(source: &str, line: usize) -> RunRecord {
        let key = hash_strs(&[source]);
        let text = format!(
            r#"{{"format": "cachescope/run-record@1", "environment": {{"python": "3.11.7"}},
               "project_root": "project", "flow": null,
               "task": {{"name": "pairs", "qualname": "pairs", "file": "flows.py", "line": {line},
                        "source": {source:?}}},
               "task_run": {{"id": "t-1"}}, "inputs": {{"rows": [1, 2]}},
               "policy": {{"policy": "TaskSource", "key": "{key}", "reproducible": true}},
               "key": "{key}", "outcome": {{"result_storage": "storage"}}}}"#
        );
        RunRecord::from_value(parse(&text).unwrap()).unwrap()
    }

    fn now() -> Timestamp {
        "2026-11-24T12:00:00Z".parse().unwrap()
    }

    /// The memo answers as the cache does: once for the records of one task in many folders
    /// whose `project_root` resolves to one project, once more for a record that picks another
    /// definition by its recorded source, and once for each missing file.
    #[test]
    fn the_memo_answers_as_the_cache_once_per_resolved_query() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("project")).unwrap();
        fs::write(tmp.path().join("project/flows.py"), file_text(3)).unwrap();
        let mut cases = Vec::new();
        for n in 0..4 {
            // runs/N/ with project_root "../../project": one project for every folder.
            let dir = tmp.path().join("runs").join(n.to_string());
            fs::create_dir_all(&dir).unwrap();
            let mut rec = record(ELSE_BRANCH, 7);
            rec.project_root = Some("../../project".into());
            cases.push((rec, dir.clone()));
            // The if branch's text picks the other definition.
            let mut rec = record("    @task\n    def pairs(rows):\n        return []\n", 7);
            rec.project_root = Some("../../project".into());
            cases.push((rec, dir.clone()));
            // A project that is not there.
            let mut rec = record(ELSE_BRANCH, 7);
            rec.project_root = Some("gone".into());
            cases.push((rec, dir));
        }
        let options = LiveOptions::default();
        let (mut cache, mut memo) = (SourceCache::new(), SourceMemo::new());
        for (rec, dir) in &cases {
            let want = SourceCache::new().task_source(rec, dir, &options);
            assert_eq!(memo.task_source(&mut cache, rec, dir, &options), want);
        }
        let picked: Vec<_> = cases[..2]
            .iter()
            .map(|(rec, dir)| memo.task_source(&mut cache, rec, dir, &options).unwrap())
            .map(|s| s.function.first_line)
            .collect();
        assert_ne!(picked[0], picked[1], "two definitions");
        // Two answers for the project, one per folder where it is missing.
        assert_eq!(memo.answers.len(), 2 + 4);
    }

    #[test]
    fn a_redefinition_is_picked_by_its_recorded_text_not_a_stale_line() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("project")).unwrap();
        fs::create_dir_all(tmp.path().join("storage")).unwrap();
        // Recorded at line 7; three lines inserted above move the else branch's `@task` to
        // line 10 and the if branch's to line 6, nearer 7: the recorded line alone picks wrongly.
        fs::write(tmp.path().join("project/flows.py"), file_text(3)).unwrap();
        let rec = record(ELSE_BRANCH, 7);
        let key = rec.key.clone().unwrap();
        fs::write(
            tmp.path().join("storage").join(&key),
            r#"{"metadata": {"expiration": null}, "result": ""}"#,
        )
        .unwrap();
        let live = evaluate_live(
            &rec,
            tmp.path(),
            &LiveOptions::default(),
            &mut SourceCache::new(),
            now(),
        );
        let source = live.source.as_ref().unwrap();
        assert_eq!(source.function.source, ELSE_BRANCH);
        assert_eq!(source.function.first_line, 10);
        assert_eq!(live.evaluation.key.as_deref(), Some(key.as_str()));
        assert_eq!(
            (live.verdict, live.evaluation.status),
            (Verdict::Hit, NodeStatus::Match)
        );
    }

    #[test]
    fn an_edited_task_falls_back_to_the_nearest_definition_and_misses() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("project")).unwrap();
        let edited = file_text(0).replace("rows[1:]", "rows[2:]");
        fs::write(tmp.path().join("project/flows.py"), edited).unwrap();
        let rec = record(ELSE_BRANCH, 7);
        let live = evaluate_live(
            &rec,
            tmp.path(),
            &LiveOptions::default(),
            &mut SourceCache::new(),
            now(),
        );
        assert!(
            live.source
                .as_ref()
                .unwrap()
                .function
                .source
                .contains("rows[2:]")
        );
        assert_eq!(live.evaluation.status, NodeStatus::Changed);
        // storage/ does not exist: the new key has no record there.
        assert_eq!(live.verdict, Verdict::Miss);
    }

    #[test]
    fn a_missing_file_is_an_error_with_no_key_and_project_is_the_fallback() {
        let tmp = tempfile::tempdir().unwrap();
        let rec = record(ELSE_BRANCH, 7);
        let live = evaluate_live(
            &rec,
            tmp.path(),
            &LiveOptions::default(),
            &mut SourceCache::new(),
            now(),
        );
        assert!(matches!(
            live.source,
            Err(SourceProblem::FileMissing { .. })
        ));
        assert_eq!(
            (live.evaluation.status, live.evaluation.key.as_deref()),
            (NodeStatus::Error, None)
        );
        assert_eq!(live.verdict, Verdict::Unknown);

        let moved = tmp.path().join("moved");
        fs::create_dir_all(&moved).unwrap();
        fs::write(moved.join("flows.py"), file_text(0)).unwrap();
        let options = LiveOptions {
            project: Some(moved.clone()),
        };
        let live = evaluate_live(&rec, tmp.path(), &options, &mut SourceCache::new(), now());
        assert_eq!(live.source.unwrap().path, moved.join("flows.py"));
        assert_eq!(live.evaluation.status, NodeStatus::Match);
    }

    // Issue 7: `--project` was ignored while the record's project_root still existed.
    #[test]
    fn project_replaces_the_recorded_root_even_when_it_still_exists() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("project")).unwrap();
        fs::write(tmp.path().join("project/flows.py"), file_text(0)).unwrap();
        let edited = tmp.path().join("other-checkout");
        fs::create_dir_all(&edited).unwrap();
        fs::write(
            edited.join("flows.py"),
            file_text(0).replace("rows[1:]", "rows[2:]"),
        )
        .unwrap();
        let rec = record(ELSE_BRANCH, 6);
        let options = LiveOptions {
            project: Some(edited.clone()),
        };
        let live = evaluate_live(&rec, tmp.path(), &options, &mut SourceCache::new(), now());
        assert_eq!(live.source.unwrap().path, edited.join("flows.py"));
        assert_eq!(live.evaluation.status, NodeStatus::Changed);

        // An absolute task.file inside the recorded root moves with --project ...
        let root = tmp.path().join("project");
        let mut inside = rec.clone();
        inside.project_root = Some(root.display().to_string());
        inside.task.file = Some(root.join("flows.py").display().to_string());
        let paths = candidate_paths(
            &inside,
            tmp.path(),
            &options,
            inside.task.file.as_deref().unwrap(),
        );
        assert_eq!(paths, [edited.join("flows.py")]);
        // ... and one outside it is read where it is.
        let elsewhere = tmp.path().join("site-packages/shared.py");
        let mut outside = inside.clone();
        outside.task.file = Some(elsewhere.display().to_string());
        let paths = candidate_paths(
            &outside,
            tmp.path(),
            &options,
            outside.task.file.as_deref().unwrap(),
        );
        assert_eq!(paths, [elsewhere]);
    }
}
