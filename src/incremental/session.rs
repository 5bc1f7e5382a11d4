//! A live session: the loaded records, the units watched (each task's latest record, or every
//! record), their predictions, and what each reads. A batch of changed paths goes in; the
//! events it causes come out, computed only for what the batch touched.
//!
//! A batch is applied in two steps so that the watcher can drop stale work: [`Session::prepare`]
//! reads what changed and recomputes the units that depend on it; [`Session::commit`] keeps each
//! result unless a newer change to a file it read is already waiting (the latest change wins:
//! that unit is recomputed with the next batch instead of being reported twice).
//!
//! The session reads files (records, sources, result storage) and the clock is a parameter;
//! it never prints and knows nothing of notify or the terminal.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::debounce::Batch;
use super::event::{Prediction, Ready, RecordChange, VerdictChange, WatchError, WatchEvent};
use super::fingerprint::{Fingerprint, Fingerprints};
use super::index::{Dependency, DependencyIndex};
use super::plan::{RunsRoot, plan};
use crate::engine::{recompute_lean, with_values};
use crate::explain::check::latest_per_task;
use crate::explain::next_run::{NextRun, next_run};
use crate::explain::pairing::Pool;
use crate::explain::{Case, Explanation, Other, Pairing, RunRef, explain};
use crate::live::{LiveOptions, SourceCache, SourceProblem, read_source_file};
use crate::load::{
    CanonicalText, LoadError, RecordSource, discover, file_groups, is_record_file, read_error,
    visit_bytes_lean,
};
use crate::par::map_ordered;
use crate::record::RunRecord;
use crate::storage::{Lookup, parse_time};

/// Which records get a prediction, and so verdict events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// The latest record of every task, as `check` takes it: what the next run of the task
    /// starts from.
    #[default]
    LatestPerTask,
    /// Every record: the next run with each one's inputs.
    AllRecords,
}

#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    pub live: LiveOptions,
    pub scope: Scope,
}

/// One watched unit: a task (its latest record), or one record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnitId {
    Task {
        name: String,
        qualname: Option<String>,
        file: Option<String>,
    },
    Record(RecordSource),
}

impl UnitId {
    fn task(record: &RunRecord) -> UnitId {
        UnitId::Task {
            name: record.task.name.clone(),
            qualname: record.task.qualname.clone(),
            file: record.task.file.clone(),
        }
    }
}

#[derive(Debug)]
struct RecordFile {
    fingerprint: Fingerprint,
    slots: Vec<RecordSource>,
}

#[derive(Debug, Clone)]
struct State {
    prediction: Prediction,
    expires: Option<Timestamp>,
}

#[derive(Debug)]
struct Unit {
    record: RecordSource,
    state: Option<State>,
}

/// A unit recomputed, not yet kept.
struct Evaluated {
    unit: UnitId,
    record: RecordSource,
    task: String,
    trigger: PathBuf,
    state: State,
    reads: Vec<(PathBuf, Dependency)>,
    next: NextRun,
    explanation: Explanation,
}

/// A batch read and recomputed: see [`Session::commit`].
pub struct Prepared {
    events: Vec<WatchEvent>,
    evaluated: Vec<Evaluated>,
}

impl Prepared {
    /// How many units were recomputed.
    pub fn recomputed(&self) -> usize {
        self.evaluated.len()
    }
}

/// What to watch: the runs roots (folders recursively, record files named directly) and the
/// folders of every file a unit reads (non-recursively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchTargets {
    pub roots: Vec<RunsRoot>,
    pub folders: BTreeSet<PathBuf>,
}

/// A record as the session keeps it: inputs and flow parameters that were canonical text stay
/// text, not values (at 100,000 records the values took four times the records' size on disk).
/// Only what predicts or explains is made [`Kept::whole`]; choosing units and runs reads the
/// rest of the record.
#[derive(Debug, Clone, PartialEq)]
struct Kept {
    record: RunRecord,
    texts: CanonicalText,
}

impl Kept {
    /// The record as a full load reads it, its inputs and flow parameters as values.
    fn whole(&self) -> RunRecord {
        with_values(self.record.clone(), &self.texts.texts())
    }
}

/// Each record's file, read lean: its slots, in order.
fn load_lean(path: &Path, bytes: &[u8]) -> Vec<(RecordSource, Result<Box<Kept>, LoadError>)> {
    let mut out = Vec::new();
    visit_bytes_lean(path, bytes, |l, texts| {
        let kept = l.record.map(|record| {
            Box::new(Kept {
                record: *record,
                texts: CanonicalText::copied(&texts),
            })
        });
        out.push((l.source, kept));
    });
    out
}

pub struct Session {
    options: SessionOptions,
    roots: Vec<RunsRoot>,
    /// Boxed: a B-tree filled in order leaves its nodes about half empty, and a `Kept` in place
    /// is 800 bytes (about 40 MB of empty slots at 100,000 records).
    records: BTreeMap<RecordSource, Box<Kept>>,
    record_files: BTreeMap<PathBuf, RecordFile>,
    units: BTreeMap<UnitId, Unit>,
    /// The last prediction of units that went away (every record of the task deleted), so that
    /// their return is compared with what was said last.
    gone: BTreeMap<UnitId, Prediction>,
    index: DependencyIndex<UnitId>,
    expiries: BTreeSet<(Timestamp, UnitId)>,
    sources: Fingerprints,
    cache: SourceCache,
    /// Units to recompute with the next batch, with what triggered them.
    dirty: BTreeMap<UnitId, PathBuf>,
}

fn load_error_text(e: &LoadError) -> String {
    match (e.line, e.column) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: {}", e.message),
        (Some(l), None) => format!("line {l}: {}", e.message),
        _ => e.message.clone(),
    }
}

fn error_event(path: &Path, error: String) -> WatchEvent {
    WatchEvent::Error(WatchError {
        path: path.to_path_buf(),
        error,
    })
}

/// The units `records` call for, with the record each predicts from.
fn select(
    scope: Scope,
    records: &BTreeMap<RecordSource, Box<Kept>>,
) -> BTreeMap<UnitId, RecordSource> {
    match scope {
        Scope::AllRecords => records
            .keys()
            .map(|s| (UnitId::Record(s.clone()), s.clone()))
            .collect(),
        Scope::LatestPerTask => {
            let refs = run_refs(records);
            latest_per_task(&refs)
                .into_iter()
                .map(|r| (UnitId::task(r.record), r.source.clone()))
                .collect()
        }
    }
}

/// The records as runs, lean: what only chooses among them (the latest of each task, a run's
/// task) reads them so; inputs and flow parameters are read from [`Kept::whole`].
fn run_refs(records: &BTreeMap<RecordSource, Box<Kept>>) -> Vec<RunRef<'_>> {
    records
        .iter()
        .map(|(source, kept)| RunRef {
            source,
            record: &kept.record,
        })
        .collect()
}

/// The next run of `record`, explained, with what it read.
///
/// The explanation is not checked against the task's other recorded runs: its advice tries
/// each fix on every one of them, which for a task with hundreds of runs costs more than a
/// save's whole budget. Its culprits, non-key causes and verdict do not depend on them; its
/// advice is still checked on A and the next run, without the counts over recorded runs
/// (`explain --live` gives those).
fn evaluate(
    unit: &UnitId,
    run: RunRef,
    options: &LiveOptions,
    cache: &mut SourceCache,
    now: Timestamp,
    trigger: PathBuf,
) -> Evaluated {
    let next = next_run(run.record, run.source.dir(), options, cache, now);
    let explanation = explain(&Case {
        a: run,
        b: Other::Live(&next),
        pairing: Pairing::Explicit,
        runs: &[],
        what_if: None,
    });
    let mut reads = Vec::new();
    match &next.evaluation.source {
        Ok(source) => reads.push((source.path.clone(), Dependency::Source)),
        Err(SourceProblem::FileMissing { tried }) => {
            reads.extend(tried.iter().map(|p| (p.clone(), Dependency::Source)));
        }
        Err(
            SourceProblem::Unreadable { path, .. }
            | SourceProblem::FunctionMissing { path, .. }
            | SourceProblem::WouldRaise { path, .. },
        ) => reads.push((path.clone(), Dependency::Source)),
        Err(SourceProblem::NotRecorded(_)) => {}
    }
    let mut expires = None;
    match &next.evaluation.lookup {
        Some(Lookup::Hit { path, expiration }) => {
            reads.push((path.clone(), Dependency::Result));
            expires = expiration.as_deref().and_then(|t| parse_time(t).ok());
        }
        Some(Lookup::Miss { path, .. }) => reads.push((path.clone(), Dependency::Result)),
        Some(Lookup::Unknown { .. }) | None => {}
    }
    let prediction = Prediction {
        key: next.evaluation.evaluation.key.clone(),
        verdict: explanation.verdict,
        error: explanation.error.clone(),
    };
    Evaluated {
        unit: unit.clone(),
        record: run.source.clone(),
        task: run.record.task.name.clone(),
        trigger,
        state: State {
            prediction,
            expires,
        },
        reads,
        next,
        explanation,
    }
}

impl Session {
    /// Loads the records under `paths` (absolute: events name files as notify does) and
    /// predicts every unit's next run as of `now`. The events are the files that could not be
    /// loaded; nothing else is reported about the start but [`Session::ready`].
    pub fn start(
        paths: &[PathBuf],
        options: SessionOptions,
        now: Timestamp,
    ) -> (Session, Vec<WatchEvent>) {
        let roots = Session::roots_of(paths);
        let mut session = Session {
            options,
            roots,
            records: BTreeMap::new(),
            record_files: BTreeMap::new(),
            units: BTreeMap::new(),
            gone: BTreeMap::new(),
            index: DependencyIndex::new(),
            expiries: BTreeSet::new(),
            sources: Fingerprints::new(),
            cache: SourceCache::new(),
            dirty: BTreeMap::new(),
        };
        let mut events = Vec::new();
        let (files, errors) = discover(paths);
        events.extend(
            errors
                .iter()
                .map(|e| error_event(&e.path, load_error_text(e))),
        );
        // Reading and parsing 10,000 files is most of the start: on every core, in the groups
        // `keys` reads them in. (One job a file, 100,000 `.json` files were 100,000 hand-overs
        // between threads, each a lock and a wake-up: the workers waited more than they read.)
        let mut records = Vec::new();
        let mut record_files = Vec::new();
        map_ordered(
            &file_groups(&files),
            |job| {
                job.iter()
                    .map(|file| {
                        let read = fs::read(file);
                        let fingerprint = Fingerprint::of_read(&read);
                        let loaded = match &read {
                            Ok(bytes) => load_lean(file, bytes),
                            Err(_) => Vec::new(),
                        };
                        (file.clone(), read.err(), fingerprint, loaded)
                    })
                    .collect::<Vec<_>>()
            },
            |job| {
                for (file, read_err, fingerprint, loaded) in job {
                    if let Some(e) = read_err {
                        events.push(error_event(&file, load_error_text(&read_error(&file, &e))));
                    }
                    let mut slots = Vec::new();
                    for (source, kept) in loaded {
                        match kept {
                            Ok(kept) => {
                                records.push((source.clone(), kept));
                                slots.push(source);
                            }
                            Err(e) => events.push(error_event(&file, load_error_text(&e))),
                        }
                    }
                    record_files.push((file, RecordFile { fingerprint, slots }));
                }
            },
        );
        // Built at once: the records come in path order (`discover` sorts), so the maps are
        // sorted in one pass and filled without a search. Inserted one by one, the searches' path comparisons
        // were a third of the thread that gathers the records, the start's bottleneck.
        session.records = records.into_iter().collect();
        session.record_files = record_files.into_iter().collect();
        for (unit, record) in select(session.options.scope, &session.records) {
            session
                .dirty
                .insert(unit.clone(), record.path.to_path_buf());
            session.units.insert(
                unit,
                Unit {
                    record,
                    state: None,
                },
            );
        }
        // The first predictions are the state events are compared with, not events.
        let prepared = session.prepare(&Batch::default(), now);
        let mut kept = session.commit(prepared, |_| false);
        kept.retain(|e| !matches!(e, WatchEvent::Verdict(_)));
        events.extend(kept);
        (session, events)
    }

    /// The runs roots of the command line's PATHs.
    pub fn roots_of(paths: &[PathBuf]) -> Vec<RunsRoot> {
        paths
            .iter()
            .map(|p| RunsRoot {
                path: p.clone(),
                is_file: match fs::metadata(p) {
                    Ok(meta) => !meta.is_dir(),
                    // A record file named before it exists is a file; anything else, a folder
                    // that may appear.
                    Err(_) => is_record_file(p),
                },
            })
            .collect()
    }

    /// The `ready` event.
    pub fn ready(&self, ms: u64) -> WatchEvent {
        let tasks: BTreeSet<UnitId> = self
            .records
            .values()
            .map(|k| UnitId::task(&k.record))
            .collect();
        WatchEvent::Ready(Ready {
            records: self.records.len(),
            tasks: tasks.len(),
            ms,
        })
    }

    pub fn watch_targets(&self) -> WatchTargets {
        WatchTargets {
            roots: self.roots.clone(),
            folders: self
                .index
                .files()
                .filter_map(|(p, _)| p.parent().map(Path::to_path_buf))
                .collect(),
        }
    }

    /// When the next stored result expires, if any unit's hit depends on one.
    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.expiries.first().map(|(t, _)| *t)
    }

    /// Marks the units whose result expired by `now` for recomputation (expiry is no file
    /// event). True when there were any.
    pub fn expire(&mut self, now: Timestamp) -> bool {
        let mut any = false;
        while let Some((t, unit)) = self.expiries.first().cloned() {
            if t > now {
                break;
            }
            self.expiries.pop_first();
            let trigger = self
                .index
                .reads(&unit)
                .iter()
                .find(|(_, d)| *d == Dependency::Result)
                .map(|(p, _)| p.clone())
                .unwrap_or_default();
            self.dirty.entry(unit).or_insert(trigger);
            any = true;
        }
        any
    }

    /// True when units wait to be recomputed (a stale result was dropped, or a result expired).
    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Reads what `batch` changed and recomputes the units that depend on it.
    pub fn prepare(&mut self, batch: &Batch, now: Timestamp) -> Prepared {
        let plan = plan(batch, &self.roots, &self.record_files, &self.index);
        let mut events = Vec::new();

        // Records: new, rewritten, removed.
        let mut record_files = plan.record_files;
        for dir in &plan.record_dirs {
            // Said once, when the records it held go; a folder that never was is said at the
            // start (and waited for all the same).
            let held_records = self
                .record_files
                .range(dir.clone()..)
                .next()
                .is_some_and(|(p, _)| p.starts_with(dir));
            if held_records
                && !dir.exists()
                && self.roots.iter().any(|r| !r.is_file && r.path == *dir)
            {
                events.push(error_event(
                    dir,
                    "the runs folder is gone; its records are forgotten until it is created again"
                        .to_string(),
                ));
            }
            if fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
                let (found, errors) = discover(std::slice::from_ref(dir));
                record_files.extend(found);
                events.extend(
                    errors
                        .iter()
                        .map(|e| error_event(&e.path, load_error_text(e))),
                );
            }
        }
        let mut changed: BTreeMap<RecordSource, PathBuf> = BTreeMap::new();
        for file in &record_files {
            self.reload(file, &mut events, &mut changed);
        }
        if !changed.is_empty() {
            self.reselect(&changed);
            self.compare_new_runs(&mut events);
        }

        // Sources: only a change of bytes (or of readability) counts.
        let mut source_errors: BTreeMap<PathBuf, String> = BTreeMap::new();
        let mut changed_sources = BTreeSet::new();
        for path in &plan.source_files {
            let read = read_source_file(path);
            let fingerprint = Fingerprint::of_source(&read);
            if !self.sources.update(path, fingerprint.clone()) {
                continue;
            }
            if let Fingerprint::Unreadable(why) = fingerprint {
                source_errors.insert(path.clone(), why);
            }
            changed_sources.insert(path.clone());
            self.cache.replace(path, read);
            for (_, unit, dep) in self.index.dependents(path) {
                if dep == Dependency::Source {
                    self.dirty
                        .entry(unit.clone())
                        .or_insert_with(|| path.clone());
                }
            }
        }

        // Results: a lookup is cheap and says itself whether anything changed.
        for (unit, path) in plan.results {
            self.dirty.entry(unit).or_insert(path);
        }

        let dirty = std::mem::take(&mut self.dirty);
        let mut evaluated = Vec::with_capacity(dirty.len());
        for (unit_id, trigger) in dirty {
            let Some(unit) = self.units.get(&unit_id) else {
                continue;
            };
            let Some((source, kept)) = self.records.get_key_value(&unit.record) else {
                continue;
            };
            let record = kept.whole();
            let e = evaluate(
                &unit_id,
                RunRef {
                    source,
                    record: &record,
                },
                &self.options.live,
                &mut self.cache,
                now,
                trigger,
            );
            // A file that reads but does not decode is an error of that file, said once when
            // it changes; the verdict says what it does to the task.
            if let Err(SourceProblem::Unreadable { path, why }) = &e.next.evaluation.source
                && changed_sources.contains(path)
            {
                source_errors
                    .entry(path.clone())
                    .or_insert_with(|| why.clone());
            }
            evaluated.push(e);
        }
        events.extend(
            source_errors
                .into_iter()
                .map(|(path, why)| error_event(&path, why)),
        );
        Prepared { events, evaluated }
    }

    /// Keeps what [`Session::prepare`] computed, except for units that read a file for which a
    /// newer change is already waiting (`superseded`): those are recomputed with the next batch.
    /// Returns the events: records and errors first, then verdicts that changed.
    pub fn commit(
        &mut self,
        prepared: Prepared,
        superseded: impl Fn(&Path) -> bool,
    ) -> Vec<WatchEvent> {
        let mut events = prepared.events;
        for e in prepared.evaluated {
            let Some(unit) = self.units.get_mut(&e.unit) else {
                continue;
            };
            let stale = superseded(&e.record.path)
                || e.reads
                    .iter()
                    .chain(self.index.reads(&e.unit))
                    .any(|(p, _)| superseded(p));
            if stale {
                self.dirty.insert(e.unit, e.trigger);
                continue;
            }
            // What was parsed is what the next change is compared with.
            for (path, dep) in &e.reads {
                if *dep == Dependency::Source {
                    let read = self.cache.read_of(path);
                    let fingerprint = read.map_or(Fingerprint::Missing, Fingerprint::of_source);
                    self.sources.update(path, fingerprint);
                }
            }
            self.index.set(&e.unit, e.reads);
            let previous = match unit.state.take() {
                Some(old) => {
                    if let Some(t) = old.expires {
                        self.expiries.remove(&(t, e.unit.clone()));
                    }
                    Some(old.prediction)
                }
                None => self.gone.remove(&e.unit),
            };
            if let Some(t) = e.state.expires {
                self.expiries.insert((t, e.unit.clone()));
            }
            let prediction = e.state.prediction.clone();
            unit.state = Some(e.state);
            if previous.as_ref() != Some(&prediction) {
                events.push(WatchEvent::Verdict(Box::new(VerdictChange {
                    record: e.record,
                    task: e.task,
                    prediction,
                    previous,
                    explanation: e.explanation,
                    next: e.next,
                    trigger: e.trigger,
                })));
            }
        }
        events
    }

    /// [`Session::prepare`] and [`Session::commit`] with nothing superseded.
    pub fn apply(&mut self, batch: &Batch, now: Timestamp) -> Vec<WatchEvent> {
        let prepared = self.prepare(batch, now);
        self.commit(prepared, |_| false)
    }

    /// Reads one record file again: its records replace what it held before.
    fn reload(
        &mut self,
        file: &Path,
        events: &mut Vec<WatchEvent>,
        changed: &mut BTreeMap<RecordSource, PathBuf>,
    ) {
        let read = fs::read(file);
        let fingerprint = Fingerprint::of_read(&read);
        let known = self.record_files.get(file);
        match known {
            Some(k) if k.fingerprint == fingerprint => return,
            None if fingerprint == Fingerprint::Missing => return,
            _ => {}
        }
        let old_slots = known.map(|k| k.slots.clone()).unwrap_or_default();
        let mut slots = Vec::new();
        match read {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => events.push(error_event(file, load_error_text(&read_error(file, &e)))),
            Ok(bytes) => {
                for (source, kept) in load_lean(file, &bytes) {
                    match kept {
                        Ok(kept) => {
                            if self.records.get(&source) != Some(&kept) {
                                // From the texts as they lie (as `keys` recomputes; the
                                // lean_matches_full tests hold it to the whole record's).
                                let evaluation = recompute_lean(&kept.record, &kept.texts.texts());
                                events.push(WatchEvent::Record(Box::new(RecordChange {
                                    record: source.clone(),
                                    task: kept.record.task.name.clone(),
                                    status: evaluation.status,
                                    evaluation,
                                    comparison: None,
                                    trigger: file.to_path_buf(),
                                })));
                                changed.insert(source.clone(), file.to_path_buf());
                                self.records.insert(source.clone(), kept);
                            }
                            slots.push(source);
                        }
                        Err(e) => events.push(error_event(file, load_error_text(&e))),
                    }
                }
            }
        }
        // A set: looking each old slot up in the list was 10,000 x 10,000 path comparisons for a
        // `.jsonl` file of 10,000 records, most of the time a change to it took.
        let kept: BTreeSet<&RecordSource> = slots.iter().collect();
        let gone: Vec<RecordSource> = old_slots
            .into_iter()
            .filter(|old| !kept.contains(old))
            .collect();
        for old in gone {
            self.records.remove(&old);
            changed.insert(old, file.to_path_buf());
        }
        if fingerprint == Fingerprint::Missing {
            self.record_files.remove(file);
        } else {
            self.record_files
                .insert(file.to_path_buf(), RecordFile { fingerprint, slots });
        }
    }

    /// Each new or rewritten run explained against the run before it, chosen among its task's
    /// runs ([`same_task`]: the same `task_key`, or the same name, qualname and file). The
    /// events are taken task by task: each task's runs are found through two indexes made in
    /// one pass, and made whole once for all of its events, then dropped. (A new `.jsonl` file
    /// of 10,000 records is 10,000 events: with each task's runs found by a search of all
    /// 100,000 records per event and kept whole to the end, they took 72 s and 1.9 GB.) The
    /// task's runs are one [`Pool`]: each run's time and inputs worked out once for all.
    fn compare_new_runs(&self, events: &mut [WatchEvent]) {
        type Triple<'r> = (&'r str, Option<&'r str>, Option<&'r str>);
        /// A run's `task_key`, name, qualname and file: what its candidates depend on.
        type TaskId = (Option<String>, (String, Option<String>, Option<String>));
        let triple = |r: &'_ RunRecord| {
            let t = &r.task;
            (t.name.clone(), t.qualname.clone(), t.file.clone())
        };
        // The events' runs (each event's place and source), by the identity their candidates
        // depend on.
        let mut by_task: BTreeMap<TaskId, Vec<(usize, RecordSource)>> = BTreeMap::new();
        for (i, event) in events.iter().enumerate() {
            if let WatchEvent::Record(change) = event
                && let Some(kept) = self.records.get(&change.record)
            {
                let id = (kept.record.task.task_key.clone(), triple(&kept.record));
                by_task
                    .entry(id)
                    .or_default()
                    .push((i, change.record.clone()));
            }
        }
        if by_task.is_empty() {
            return;
        }
        let mut by_key: BTreeMap<&str, Vec<&RecordSource>> = BTreeMap::new();
        let mut by_triple: BTreeMap<Triple, Vec<&RecordSource>> = BTreeMap::new();
        for (source, kept) in &self.records {
            let t = &kept.record.task;
            if let Some(key) = t.task_key.as_deref() {
                by_key.entry(key).or_default().push(source);
            }
            by_triple
                .entry((&t.name, t.qualname.as_deref(), t.file.as_deref()))
                .or_default()
                .push(source);
        }
        // Each task's runs are made whole and paired on their own, so tasks are spread over
        // every core: with 10,000 new runs beside 100,000, making every earlier run of a task
        // whole was a third of the time, on one core. The events are written once the tasks
        // are done.
        let tasks: Vec<(TaskId, Vec<(usize, RecordSource)>)> = by_task.into_iter().collect();
        let pair_task =
            |((key, (name, qualname, file)), at): &(TaskId, Vec<(usize, RecordSource)>)| {
                // Every run same_task pairs with these events' runs, in the records' order.
                let mut task: Vec<&RecordSource> = key
                    .as_deref()
                    .and_then(|k| by_key.get(k))
                    .into_iter()
                    .flatten()
                    .chain(
                        by_triple
                            .get(&(name.as_str(), qualname.as_deref(), file.as_deref()))
                            .into_iter()
                            .flatten(),
                    )
                    .copied()
                    .collect();
                task.sort();
                task.dedup();
                let whole: Vec<RunRecord> = task.iter().map(|s| self.records[*s].whole()).collect();
                let runs: Vec<RunRef> = task
                    .iter()
                    .zip(&whole)
                    .map(|(&source, record)| RunRef { source, record })
                    .collect();
                let mut pool = Pool::new(&runs);
                let mut compared = Vec::with_capacity(at.len());
                for (i, source) in at {
                    let Ok(b) = task.binary_search(&source) else {
                        continue;
                    };
                    let b = runs[b];
                    let comparison = pool.pair(&b).map(|(a, pairing)| {
                        explain(&Case {
                            a,
                            b: Other::Run(b),
                            pairing,
                            // As for live predictions: no fix checks over every recorded run.
                            runs: &[],
                            what_if: None,
                        })
                    });
                    compared.push((*i, comparison));
                }
                compared
            };
        map_ordered(&tasks, pair_task, |compared| {
            for (i, comparison) in compared {
                if let WatchEvent::Record(change) = &mut events[i] {
                    change.comparison = comparison;
                }
            }
        });
    }

    /// After records changed: units whose record is another one now, or was rewritten, are
    /// recomputed; new tasks become units; tasks with no record left go.
    fn reselect(&mut self, changed: &BTreeMap<RecordSource, PathBuf>) {
        let selected = select(self.options.scope, &self.records);
        let gone: Vec<UnitId> = self
            .units
            .keys()
            .filter(|u| !selected.contains_key(*u))
            .cloned()
            .collect();
        for unit in gone {
            let Some(old) = self.units.remove(&unit) else {
                continue;
            };
            if let Some(state) = old.state {
                if let Some(t) = state.expires {
                    self.expiries.remove(&(t, unit.clone()));
                }
                self.gone.insert(unit.clone(), state.prediction);
            }
            self.index.remove(&unit);
            self.dirty.remove(&unit);
        }
        for (unit, record) in selected {
            let trigger = |old: Option<&RecordSource>| {
                changed
                    .get(&record)
                    .or_else(|| old.and_then(|o| changed.get(o)))
                    .cloned()
                    .unwrap_or_else(|| record.path.to_path_buf())
            };
            match self.units.get_mut(&unit) {
                Some(u) if u.record == record && !changed.contains_key(&record) => {}
                Some(u) => {
                    let t = trigger(Some(&u.record));
                    u.record = record;
                    self.dirty.entry(unit).or_insert(t);
                }
                None => {
                    self.dirty.insert(unit.clone(), trigger(None));
                    self.units.insert(
                        unit,
                        Unit {
                            record,
                            state: None,
                        },
                    );
                }
            }
        }
    }

    /// Records loaded now.
    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// Every record held: where it came from, as kept (lean), and made whole.
    #[cfg(test)]
    pub(super) fn held(&self) -> Vec<(RecordSource, RunRecord, RunRecord)> {
        self.records
            .iter()
            .map(|(source, kept)| (source.clone(), kept.record.clone(), kept.whole()))
            .collect()
    }

    /// Units watched now.
    pub fn unit_count(&self) -> usize {
        self.units.len()
    }

    /// Every unit's record and prediction, for a consumer that starts from the whole state
    /// (the terminal UI) and for tests.
    pub fn predictions(&self) -> Vec<(&RecordSource, &Prediction)> {
        self.units
            .values()
            .filter_map(|u| u.state.as_ref().map(|s| (&u.record, &s.prediction)))
            .collect()
    }
}
