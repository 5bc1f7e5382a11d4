//! The threads that keep work off the UI thread: the loader, which reads and recomputes
//! records and sends them in batches as they are ready, and the comparer, which runs one
//! comparison at a time, always the newest asked for (older requests waiting are replaced;
//! answers to stale ones are dropped by their generation).

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use cachescope::engine::CanonicalTexts;
use cachescope::load::{BLOCK, LoadError, Loaded, Unit, discover, units, visit_unit_inspect};
use cachescope::par::{default_workers, stream_ordered};
use cachescope::pyjson::{SortKeys, Value, dumps, write_key};
use jiff::Timestamp;

use super::app::{Msg, Request};
use super::compare::{Job, LastReads, compare_with};
use super::runs::{BatchGroups, Run};

/// A load's progress counts files, each of `PARTS` parts: a `.json` file is all of its parts
/// once read, a run of lines of a `.jsonl` file the share of the file's length it covers (so
/// one big file still shows its progress). Counted in bytes, it needed every file's size
/// before the load began: at 100,000 `.json` files that was 0.2 s of `stat` calls, in series.
pub const PARTS: usize = 1000;

/// The parts of the load's progress that `unit` makes.
fn parts(unit: &Unit) -> usize {
    match unit {
        Unit::Files(paths) => paths.len() * PARTS,
        Unit::Lines {
            first_byte,
            bytes,
            file_len,
            ..
        } => {
            let share = |at: u64| match *file_len {
                0 => PARTS,
                len => (u128::from(at.min(len)) * PARTS as u128 / u128::from(len)) as usize,
            };
            share(first_byte + bytes.len() as u64) - share(*first_byte)
        }
        // A file that failed while it was read counts when the load ends.
        Unit::Failed(_) => 0,
    }
}

/// Loads every record under `paths` on every core (the work queue `keys` uses: big `.jsonl`
/// files are cut into runs of lines), sending batches in path order (every 100 ms, every 500 ms
/// past 10,000 runs), with the progress in [`PARTS`] of files.
pub fn spawn_loader(paths: Vec<PathBuf>, tx: Sender<Msg>) {
    std::thread::spawn(move || {
        let (files, errors) = discover(&paths);
        let total = files.len() * PARTS;
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
                let parts = parts(&unit);
                let (runs, errors) = read_unit(unit);
                (runs, errors, parts)
            },
            |(runs, errors, parts)| {
                for run in &runs {
                    groups.push(run);
                }
                batch.extend(runs);
                batch_errors.extend(errors);
                done += parts;
                // Every batch costs the UI thread a merge into its tasks and its rows made again
                // (each over all runs so far): a tenth of a second apart at first, half a second
                // once there are many.
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
        // Timed by the event loop, when the model holds every run.
        let _ = tx.send(Msg::LoadFinished { ms: 0 });
    });
}

/// A unit's runs, each recomputed and built where its record was read, shared from the start:
/// the UI thread adds it to its list without moving or copying it. Read lean: a run keeps its
/// place in its file, not its record, so its task source is not even decoded
/// ([`visit_unit_inspect`]; the record is read again, whole, when it is looked at).
fn read_unit(unit: Unit) -> (Vec<Arc<Run>>, Vec<LoadError>) {
    let mut runs = Vec::new();
    let mut errors = Vec::new();
    let visit = |loaded: Loaded, texts: CanonicalTexts<'_>| match loaded.record {
        Ok(record) => runs.push(Arc::new(Run::lean(
            loaded.source,
            record,
            &texts,
            loaded.at,
        ))),
        Err(e) => errors.push(e),
    };
    visit_unit_inspect(unit, visit);
    (runs, errors)
}

/// One record file read again and recomputed (the watcher saw it appear or change), as the
/// load reads files: lean and on every core. (Read whole, with every value built, a `.jsonl`
/// file of 10,000 records written once more grew the inspector by some 650 MB.)
pub fn load_one(path: &Path) -> (Vec<Arc<Run>>, Vec<LoadError>) {
    let files = [path.to_path_buf()];
    let mut runs = Vec::new();
    let mut errors = Vec::new();
    stream_ordered(
        units(&files, BLOCK),
        default_workers(),
        read_unit,
        |(unit_runs, unit_errors)| {
            runs.extend(unit_runs);
            errors.extend(unit_errors);
        },
    );
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
            let mut last = LastReads::default();
            loop {
                let job = {
                    let (lock, ready) = &*shared;
                    let mut slot = lock.lock().unwrap_or_else(|e| e.into_inner());
                    while slot.is_none() {
                        slot = ready.wait(slot).unwrap_or_else(|e| e.into_inner());
                    }
                    slot.take().expect("a job is waiting")
                };
                let result = compare_with(&job, &mut last);
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

#[cfg(test)]
mod tests {
    use super::{PARTS, parts};
    use cachescope::load::{Unit, units};

    /// A load's progress reaches its total exactly: the runs of lines of a `.jsonl` file cut
    /// in many units make its parts between them, a group of `.json` files one file's parts
    /// each, and an empty `.jsonl` file (no units) none, which the end of the load makes up.
    #[test]
    fn the_units_of_a_load_make_every_part_of_its_progress() {
        let tmp = tempfile::tempdir().unwrap();
        let big = tmp.path().join("a.jsonl");
        let lines: String = (0..500).map(|i| format!("{{\"n\": {i}}}\n")).collect();
        std::fs::write(&big, &lines).unwrap();
        let empty = tmp.path().join("b.jsonl");
        std::fs::write(&empty, "").unwrap();
        let json: Vec<_> = (0..3)
            .map(|i| {
                let p = tmp.path().join(format!("c{i}.json"));
                std::fs::write(&p, "{}").unwrap();
                p
            })
            .collect();
        let mut files = vec![big.clone(), empty];
        files.extend(json);
        let mut of_big = Vec::new();
        let mut sum = 0;
        for unit in units(&files, 64) {
            let p = parts(&unit);
            if matches!(&unit, Unit::Lines { path, .. } if **path == *big) {
                of_big.push(p);
            }
            sum += p;
        }
        assert!(
            of_big.len() > 20,
            "the file is cut in many units: {of_big:?}"
        );
        assert_eq!(of_big.iter().sum::<usize>(), PARTS);
        assert_eq!(sum, 4 * PARTS, "the .jsonl file and the three .json files");
    }

    /// A `.jsonl` file that grew since it was opened counts no more than its parts.
    #[test]
    fn a_file_read_past_its_length_counts_its_parts_once() {
        let unit = |first_byte: u64, len: usize| Unit::Lines {
            path: std::path::Path::new("r.jsonl").into(),
            first_line: 0,
            first_byte,
            bytes: vec![b'\n'; len].into(),
            line_ends: len,
            file_len: 100,
        };
        assert_eq!(parts(&unit(0, 50)), PARTS / 2);
        assert_eq!(parts(&unit(50, 80)), PARTS / 2);
        assert_eq!(parts(&unit(130, 10)), 0);
    }
}
