//! The threads that keep work off the UI thread: the loader, which reads and recomputes
//! records and sends them in batches as they are ready, and the comparer, which runs one
//! comparison at a time, always the newest asked for (older requests waiting are replaced;
//! answers to stale ones are dropped by their generation).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use cachescope::load::{BLOCK, Unit, discover, load_file, units, visit_unit_lean};
use cachescope::par::{default_workers, stream_ordered};
use cachescope::pyjson::{SortKeys, Value, dumps, write_key};
use jiff::Timestamp;

use super::app::{Msg, Request};
use super::compare::{Job, compare};
use super::runs::{BatchGroups, Run};

/// Loads every record under `paths` on every core (the work queue `keys` uses: big `.jsonl`
/// files are cut into runs of lines), sending batches in path order (every 100 ms, every 500 ms
/// past 10,000 runs). Progress is in bytes: a folder may be one file or 100,000.
pub fn spawn_loader(paths: Vec<PathBuf>, tx: Sender<Msg>) {
    std::thread::spawn(move || {
        let started = Instant::now();
        let (files, errors) = discover(&paths);
        // Each file's size, asked once: the progress is in bytes.
        let sizes: HashMap<&std::path::Path, usize> = files
            .iter()
            .map(|f| {
                let size = std::fs::metadata(f).map_or(0, |m| m.len() as usize);
                (f.as_path(), size)
            })
            .collect();
        let size = |p: &std::path::Path| sizes.get(p).copied().unwrap_or(0);
        let total: usize = sizes.values().sum();
        let mut batch = Vec::new();
        let mut groups = BatchGroups::default();
        let mut batch_errors = errors;
        let mut done = 0;
        let mut last = Instant::now();
        let mut closed = false;
        let mut sent = 0;
        stream_ordered(
            units(&files, BLOCK),
            default_workers(),
            |unit| {
                let bytes = match &unit {
                    Unit::Files(paths) => paths.iter().map(|p| size(p)).sum(),
                    Unit::Lines { bytes, .. } => bytes.len(),
                    Unit::Failed(_) => 0,
                };
                let mut runs = Vec::new();
                let mut errors = Vec::new();
                // Each run is recomputed and built where its record was read, shared from the
                // start: the UI thread adds it to its list without moving or copying it.
                visit_unit_lean(unit, |loaded, texts| match loaded.record {
                    Ok(record) => runs.push(Arc::new(Run::lean(
                        loaded.source,
                        record,
                        &texts,
                        loaded.at,
                    ))),
                    Err(e) => errors.push(e),
                });
                (runs, errors, bytes)
            },
            |(runs, errors, bytes)| {
                for run in &runs {
                    groups.push(run);
                }
                batch.extend(runs);
                batch_errors.extend(errors);
                done += bytes;
                // Every batch costs the UI thread a regrouping of all runs so far: a tenth of a
                // second apart at first, half a second once there are many.
                let every = Duration::from_millis(if sent < 10_000 { 100 } else { 500 });
                if closed || last.elapsed() < every {
                    return;
                }
                sent += batch.len();
                groups.sort(&batch);
                let msg = Msg::Loaded {
                    groups: std::mem::take(&mut groups),
                    runs: std::mem::take(&mut batch),
                    errors: std::mem::take(&mut batch_errors),
                    done: done.min(total),
                    total,
                };
                // The window was closed: finish quietly (the work queue cannot be cut short).
                closed = tx.send(msg).is_err();
                last = Instant::now();
            },
        );
        if closed {
            return;
        }
        groups.sort(&batch);
        let _ = tx.send(Msg::Loaded {
            groups,
            runs: batch,
            errors: batch_errors,
            done: total,
            total,
        });
        let _ = tx.send(Msg::LoadFinished {
            ms: started.elapsed().as_millis(),
        });
    });
}

/// One record file read and recomputed (the watcher saw it appear or change).
pub fn load_one(path: &std::path::Path) -> (Vec<Run>, Vec<cachescope::load::LoadError>) {
    let mut runs = Vec::new();
    let mut errors = Vec::new();
    for loaded in load_file(path) {
        match loaded.record {
            Ok(record) => runs.push(Run::new(loaded.source, record)),
            Err(e) => errors.push(e),
        }
    }
    (runs, errors)
}

/// The comparison thread's inbox: at most one job waiting.
pub struct Comparer {
    inbox: Arc<(Mutex<Option<Job>>, Condvar)>,
    project: Option<PathBuf>,
}

impl Comparer {
    pub fn spawn(tx: Sender<Msg>, project: Option<PathBuf>) -> Comparer {
        let inbox: Arc<(Mutex<Option<Job>>, Condvar)> =
            Arc::new((Mutex::new(None), Condvar::new()));
        let shared = inbox.clone();
        std::thread::spawn(move || {
            loop {
                let job = {
                    let (lock, ready) = &*shared;
                    let mut slot = lock.lock().unwrap_or_else(|e| e.into_inner());
                    while slot.is_none() {
                        slot = ready.wait(slot).unwrap_or_else(|e| e.into_inner());
                    }
                    slot.take().expect("a job is waiting")
                };
                let result = compare(&job);
                if tx.send(Msg::Compared(Box::new(result))).is_err() {
                    return;
                }
            }
        });
        Comparer { inbox, project }
    }

    /// Asks for a comparison, replacing any that has not started yet.
    pub fn submit(&self, request: Request, runs: Arc<Vec<Arc<Run>>>) {
        let job = job(request, runs, self.project.clone(), Timestamp::now());
        let (lock, ready) = &*self.inbox;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = Some(job);
        ready.notify_one();
    }
}

/// A request with what the worker needs besides.
pub fn job(
    request: Request,
    runs: Arc<Vec<Arc<Run>>>,
    project: Option<PathBuf>,
    now: Timestamp,
) -> Job {
    Job {
        generation: request.generation,
        runs,
        selected: request.selected,
        against: request.against,
        what_if: request.what_if,
        edited_inputs: request.edited_inputs,
        project,
        now,
    }
}

/// Inputs as the editor shows them: one argument per line, values exactly as recorded.
pub fn pretty_inputs(inputs: &Value) -> String {
    let Some(entries) = inputs.as_object() else {
        return dumps(inputs, SortKeys::Preserve).unwrap_or_default();
    };
    if entries.is_empty() {
        return "{}\n".to_string();
    }
    let mut out = String::from("{\n");
    for (i, (k, v)) in entries.iter().enumerate() {
        out.push_str("  ");
        write_key(k, &mut out);
        out.push_str(": ");
        out.push_str(&dumps(v, SortKeys::Preserve).unwrap_or_else(|_| "null".to_string()));
        if i + 1 < entries.len() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push_str("}\n");
    out
}
