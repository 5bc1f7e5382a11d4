//! `cachescope check`: the CI gate. Every task's latest record is explained against its source
//! as it is now; one line per task that would miss because its code or configuration changed
//! (with `--json`, one object per such task, and per task that could not be checked).
//! Exit 1 when any would, 0 when none, 2 when a record or a task could not be checked (after
//! checking everything else).

use std::io::{self, Write};
use std::path::PathBuf;

use cachescope::engine::with_values;
use cachescope::explain::check::{CheckStatus, RunsIndex, latest_per_task_at, status};
use cachescope::explain::json::culprit_json;
use cachescope::explain::next_run::{NextRun, next_run};
use cachescope::explain::sides::Side;
use cachescope::explain::wording::{join_and, reasons};
use cachescope::explain::{Case, Other, Pairing, RunRef, explain};
use cachescope::live::{LiveOptions, SourceCache};
use cachescope::load::load_paths_lean;
use cachescope::nondeterministic::next_run_verdict;
use cachescope::par::{default_workers, stream_ordered};
use cachescope::record::RunRecord;
use cachescope::safe_json;
use cachescope::sanitize::sanitize_line;
use serde_json::json;

use super::Outcome;
use super::explain::now;
use super::term::{self, Sanitized, line_of};

pub fn run(
    paths: &[PathBuf],
    project: Option<PathBuf>,
    json: bool,
    now_arg: Option<&str>,
) -> Outcome {
    let now = match now(now_arg) {
        Ok(t) => t,
        Err(e) => {
            term::error!("{e}");
            return Outcome::Error;
        }
    };
    // Lean: the inputs stay the text they were recorded as, and a task's runs are made whole
    // only while it is explained (at 100,000 runs, every input held as values was 1.9 times
    // the records' size on disk).
    let (loaded, search_errors) = load_paths_lean(paths);
    let mut errors = search_errors.len();
    for e in &search_errors {
        term::error!("{e}");
    }
    for (l, _) in &loaded {
        if let Err(e) = &l.record {
            term::error!("{e}");
            errors += 1;
        }
    }
    let (refs, texts): (Vec<RunRef>, Vec<_>) = loaded
        .iter()
        .filter_map(|(l, texts)| {
            let record = l.record.as_ref().ok()?;
            Some((
                RunRef {
                    source: &l.source,
                    record,
                },
                texts,
            ))
        })
        .unzip();
    let whole = |i: usize| with_values(refs[i].record.clone(), &texts[i].texts());
    let options = LiveOptions { project };
    let mut cache = SourceCache::new();
    // Line by line, as CI logs show them. JSON is exact JSON, with every control character
    // escaped (`safe_json`); text goes through the sanitiser, behind the escaping of each
    // field below.
    let stdout = io::stdout().lock();
    let mut out: Box<dyn Write> = if json {
        Box::new(stdout)
    } else {
        Box::new(Sanitized::new(stdout))
    };
    let latest = latest_per_task_at(&refs);
    let index = RunsIndex::new(&refs);
    // Each task's latest run is made whole and its next run worked out on this thread, in
    // order (the source cache is one); the tasks are then explained on every core, each
    // task's other runs made whole and dropped on the thread that explains it, a bounded
    // number of tasks in flight, and the lines written in order.
    // Once a line cannot be written (the reader went), no further task is taken up.
    let stopped = std::cell::Cell::new(false);
    let heads = latest.iter().take_while(|_| !stopped.get()).map(|&at| {
        let a = whole(at);
        let live = next_run(&a, refs[at].source.dir(), &options, &mut cache, now);
        (at, a, live)
    });
    let explain_task = |(at, a, live): (usize, RunRecord, NextRun)| {
        let run = RunRef {
            source: refs[at].source,
            record: &a,
        };
        // The explanation reads only the runs of the task and those with the next run's key.
        // A is among them as the record made whole above: the explanation tells A apart from
        // the other runs by the record's address.
        let found = index.for_next_run_at(&run, Side::live(run, &live).key.as_deref());
        let others: Vec<RunRecord> = found
            .iter()
            .filter(|&&i| i != at)
            .map(|&i| whole(i))
            .collect();
        let mut others = others.iter();
        let runs: Vec<RunRef> = found
            .iter()
            .map(|&i| RunRef {
                source: refs[i].source,
                record: if i == at {
                    &a
                } else {
                    others.next().expect("one record made whole per other run")
                },
            })
            .collect();
        let explanation = explain(&Case {
            a: run,
            b: Other::Live(&live),
            pairing: Pairing::Explicit,
            runs: &runs,
            what_if: None,
        });
        (at, a, live, explanation)
    };
    let mut changed = 0;
    stream_ordered(
        heads,
        default_workers(),
        explain_task,
        |(at, a, live, explanation)| {
            if stopped.get() {
                return;
            }
            let run = &RunRef {
                source: refs[at].source,
                record: &a,
            };
            let st = status(&explanation);
            let task = &run.record.task.name;
            // The policy could not be read (a variable imported from another module...): the
            // task was checked under its recorded policy, which is worth knowing.
            if let Some(note) = &live.note {
                eprintln!("cachescope: {}: note for `{task}`: {note}", run.source);
            }
            match &st {
                CheckStatus::Changed => changed += 1,
                CheckStatus::Error(why) => {
                    errors += 1;
                    term::error!(
                        "{}: cannot check `{}`: {}",
                        line_of(run.source),
                        sanitize_line(task),
                        sanitize_line(why)
                    );
                }
                CheckStatus::Unchanged => {}
            }
            // Not a change to the code, so not a failure of the gate; but a task that can never
            // hit is worth knowing about.
            if st != CheckStatus::Changed
                && let Some((_, why)) = next_run_verdict(&explanation.nondeterministic)
            {
                eprintln!("cachescope: note: `{task}` ({}): {why}", run.source);
            }
            // One line per task that would miss because its code or configuration changed (and
            // per task that could not be checked), as cli.md says; the others pass silently.
            let line = if json && st != CheckStatus::Unchanged {
                let line = json!({
                    "task": task,
                    "record": run.source.to_string(),
                    "status": st.as_str(),
                    "verdict": explanation.verdict.as_str(),
                    "key_recorded": explanation.key_a,
                    "key_live": explanation.key_b,
                    "headline": explanation.headline,
                    "culprits": explanation.culprits.iter().map(culprit_json).collect::<Vec<_>>(),
                    "error": match &st { CheckStatus::Error(why) => Some(why), _ => None },
                    "note": live.note,
                });
                Some(safe_json::to_string(&line).expect("a JSON value always serializes"))
            } else if st == CheckStatus::Changed {
                let changed: Vec<_> = explanation
                    .culprits
                    .iter()
                    .filter(|c| c.policy != "RunId")
                    .cloned()
                    .collect();
                let reasons = reasons(task, &changed, true);
                Some(format!(
                    "{}: would miss because {} ({})",
                    sanitize_line(task),
                    sanitize_line(&join_and(&reasons)),
                    line_of(run.source)
                ))
            } else {
                None
            };
            if let Some(line) = line
                && writeln!(out, "{line}").is_err()
            {
                stopped.set(true);
            }
        },
    );
    if !json {
        let _ = writeln!(
            out,
            "{} task{} checked: {changed} would miss because the code or configuration changed{}",
            latest.len(),
            if latest.len() == 1 { "" } else { "s" },
            if errors > 0 {
                format!(", {errors} could not be checked")
            } else {
                String::new()
            }
        );
    }
    let _ = out.flush();
    if errors > 0 {
        Outcome::Error
    } else if changed > 0 {
        Outcome::Difference
    } else {
        Outcome::Ok
    }
}
