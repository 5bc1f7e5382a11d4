//! The session on copies of the real recorded runs in `sample-runs/`, driven by batches (as
//! the watcher would hand them) with no watcher, no thread and no sleep: each file change
//! gives exactly the events it should, and nothing else.

use std::fs;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};

use super::debounce::Batch;
use super::event::{VerdictChange, WatchEvent};
use super::json::event_line;
use super::session::{Scope, Session, SessionOptions};
use crate::live::Verdict;

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of sample-runs/ and a session on one story's runs.
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    session: Session,
}

impl Fixture {
    fn new(story: &str) -> Fixture {
        Fixture::with(story, Scope::LatestPerTask, |_| {})
    }

    fn with(story: &str, scope: Scope, before: impl FnOnce(&Path)) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("sample-runs");
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-runs"),
            &root,
        );
        before(&root);
        let options = SessionOptions {
            scope,
            ..SessionOptions::default()
        };
        let (session, events) = Session::start(&[root.join("runs").join(story)], options, now());
        assert!(events.is_empty(), "{:?}", lines(&events));
        Fixture {
            _tmp: tmp,
            root,
            session,
        }
    }

    fn etl(&self) -> PathBuf {
        self.root.join("project/etl.py")
    }

    fn apply(&mut self, paths: &[PathBuf]) -> Vec<WatchEvent> {
        self.session.apply(
            &Batch {
                paths: paths.to_vec(),
                rescan: false,
            },
            now(),
        )
    }

    fn edit(&self, from: &str, to: &str) {
        let text = fs::read_to_string(self.etl()).unwrap();
        assert!(text.contains(from), "{from}");
        fs::write(self.etl(), text.replacen(from, to, 1)).unwrap();
    }
}

fn now() -> Timestamp {
    Timestamp::now()
}

fn lines(events: &[WatchEvent]) -> Vec<String> {
    events.iter().map(event_line).collect()
}

fn verdict(event: &WatchEvent) -> &VerdictChange {
    match event {
        WatchEvent::Verdict(v) => v,
        other => panic!("not a verdict: {}", event_line(other)),
    }
}

const CLEAN_LINE: &str =
    r#"if row["status"] in ("refund", "cancelled") or row["region"] not in regions:"#;
const CLEAN_EDITED: &str =
    r#"if row["status"] in ("refund", "cancelled", "void") or row["region"] not in regions:"#;

#[test]
fn a_source_edit_flips_only_the_edited_task_and_undo_flips_it_back() {
    let mut f = Fixture::new("02-source-edit");
    let WatchEvent::Ready(ready) = f.session.ready(5) else {
        panic!()
    };
    assert_eq!((ready.records, ready.tasks), (8, 4));
    let original = fs::read(f.etl()).unwrap();

    f.edit(CLEAN_LINE, CLEAN_EDITED);
    let events = f.apply(&[f.etl()]);
    assert_eq!(events.len(), 1, "{:?}", lines(&events));
    let v = verdict(&events[0]);
    assert_eq!(v.task, "clean");
    assert!(v.record.path.to_string_lossy().contains("run-2-after-edit"));
    assert_eq!(v.prediction.verdict, Verdict::Miss);
    let previous = v.previous.as_ref().unwrap();
    assert_eq!(previous.verdict, Verdict::Hit);
    assert_eq!(
        previous.key.as_deref(),
        Some("d54385c50f7b1163ea585fafd72ce4f4")
    );
    assert_ne!(v.prediction.key, previous.key);
    assert_eq!(v.explanation.culprits.len(), 1);
    assert_eq!(v.explanation.culprits[0].policy, "TaskSource");
    assert_eq!(v.trigger, f.etl());

    // The same bytes again (a save with no edit): nothing, not even a recomputation.
    fs::write(f.etl(), fs::read(f.etl()).unwrap()).unwrap();
    let batch = Batch {
        paths: vec![f.etl()],
        rescan: false,
    };
    let prepared = f.session.prepare(&batch, now());
    assert_eq!(prepared.recomputed(), 0);
    assert!(f.session.commit(prepared, |_| false).is_empty());

    fs::write(f.etl(), &original).unwrap();
    let events = f.apply(&[f.etl()]);
    assert_eq!(events.len(), 1, "{:?}", lines(&events));
    let v = verdict(&events[0]);
    assert_eq!(v.prediction.verdict, Verdict::Hit);
    assert_eq!(
        v.prediction.key.as_deref(),
        Some("d54385c50f7b1163ea585fafd72ce4f4")
    );
    assert!(v.explanation.culprits.is_empty());
    let line: serde_json::Value = serde_json::from_str(&event_line(&events[0])).unwrap();
    assert_eq!(line["event"], "verdict");
    assert_eq!(line["previous"]["verdict"], "miss");
    assert_eq!(line["culprits"], serde_json::json!([]));
}

#[test]
fn editing_a_file_no_task_reads_or_another_task_recomputes_nothing_else() {
    let mut f = Fixture::new("02-source-edit");
    // helpers.py is in the project folder but no task's source.
    let helpers = f.root.join("project/helpers.py");
    fs::write(&helpers, "# changed\n").unwrap();
    assert!(f.apply(&[helpers]).is_empty());
    // An edit to `load` flips `load` alone.
    f.edit("Writes the totals", "Writes the day's totals");
    let events = f.apply(&[f.etl()]);
    assert_eq!(events.len(), 1, "{:?}", lines(&events));
    assert_eq!(verdict(&events[0]).task, "load");
}

#[test]
fn a_deleted_result_flips_to_miss_and_its_return_to_hit() {
    let mut f = Fixture::new("02-source-edit");
    let result = f
        .root
        .join("storage/02-source-edit/d54385c50f7b1163ea585fafd72ce4f4");
    let saved = fs::read(&result).unwrap();
    fs::remove_file(&result).unwrap();
    let events = f.apply(std::slice::from_ref(&result));
    assert_eq!(events.len(), 1, "{:?}", lines(&events));
    let v = verdict(&events[0]);
    assert_eq!(
        (v.task.as_str(), v.prediction.verdict),
        ("clean", Verdict::Miss)
    );
    assert_eq!(v.prediction.key, v.previous.as_ref().unwrap().key);
    assert_eq!(v.explanation.non_key_causes.len(), 1);
    assert_eq!(v.explanation.non_key_causes[0].kind.as_str(), "no_record");
    assert_eq!(v.trigger, result);

    fs::write(&result, saved).unwrap();
    let events = f.apply(&[result]);
    assert_eq!(verdict(&events[0]).prediction.verdict, Verdict::Hit);
}

#[test]
fn a_result_that_expires_flips_without_any_file_event() {
    let key = "d54385c50f7b1163ea585fafd72ce4f4";
    let expires = now() + SignedDuration::from_secs(60);
    let mut f = Fixture::with("02-source-edit", Scope::LatestPerTask, |root| {
        let result = root.join("storage/02-source-edit").join(key);
        let text = fs::read_to_string(&result).unwrap().replace(
            r#""expiration":null"#,
            &format!(r#""expiration":"{expires}""#),
        );
        fs::write(result, text).unwrap();
    });
    assert_eq!(f.session.next_expiry(), Some(expires));
    // Not yet.
    assert!(!f.session.expire(expires - SignedDuration::from_millis(1)));
    let later = expires + SignedDuration::from_millis(1);
    assert!(f.session.expire(later));
    let events = f.session.apply(&Batch::default(), later);
    assert_eq!(events.len(), 1, "{:?}", lines(&events));
    let v = verdict(&events[0]);
    assert_eq!(
        (v.task.as_str(), v.prediction.verdict),
        ("clean", Verdict::Miss)
    );
    assert_eq!(v.explanation.non_key_causes[0].kind.as_str(), "expired");
    assert!(v.trigger.ends_with(key));
    assert_eq!(f.session.next_expiry(), None);
}

#[test]
fn records_that_appear_are_reported_and_broken_ones_are_errors() {
    let mut f = Fixture::new("02-source-edit");
    let run3 = f.root.join("runs/02-source-edit/run-3");
    fs::create_dir_all(&run3).unwrap();
    // A run of `publish` (a task this story never ran) dropped in: a record line, and the
    // first prediction of a new task.
    let publish = fs::read_dir(f.root.join("runs/07-opaque-input/run-2-notify"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("-publish-"))
        .unwrap();
    let text = fs::read(&publish).unwrap();
    let new = run3.join("new-publish.json");
    // Half of it first, as a writer that does not rename would leave it.
    fs::write(&new, &text[..text.len() / 2]).unwrap();
    let events = f.apply(std::slice::from_ref(&run3));
    assert_eq!(events.len(), 1, "{:?}", lines(&events));
    let WatchEvent::Error(e) = &events[0] else {
        panic!("{:?}", lines(&events))
    };
    assert_eq!(e.path, new);
    assert!(e.error.starts_with("line "), "{}", e.error);

    fs::write(&new, &text).unwrap();
    let events = f.apply(std::slice::from_ref(&new));
    let l = lines(&events);
    assert_eq!(events.len(), 2, "{l:?}");
    let WatchEvent::Record(r) = &events[0] else {
        panic!("{l:?}")
    };
    assert_eq!(
        (r.task.as_str(), r.status.as_str()),
        ("publish", "unverifiable")
    );
    assert_eq!(r.trigger, new);
    let v = verdict(&events[1]);
    assert_eq!(v.task, "publish");
    assert!(v.previous.is_none());
    // The same bytes again: nothing.
    fs::write(&new, &text).unwrap();
    assert!(f.apply(&[new]).is_empty());
}

#[test]
fn a_source_that_goes_missing_breaks_or_loses_the_function_has_its_own_state() {
    let mut f = Fixture::new("02-source-edit");
    let original = fs::read(f.etl()).unwrap();
    let etl = f.etl();
    // `transform` (DEFAULT, so RunId) always misses; the others hit.
    let before: Vec<(String, super::event::Prediction)> = f
        .session
        .predictions()
        .into_iter()
        .map(|(source, p)| (source.path.display().to_string(), p.clone()))
        .collect();
    let initial = |task: &str| {
        before
            .iter()
            .find(|(path, _)| path.contains(&format!("-{task}-")))
            .map(|(_, p)| p)
    };
    assert_eq!(initial("transform").unwrap().verdict, Verdict::Miss);
    assert_eq!(initial("clean").unwrap().verdict, Verdict::Hit);

    // Deleted (or renamed away): every task in it is unknown, with why.
    fs::remove_file(&etl).unwrap();
    let events = f.apply(std::slice::from_ref(&etl));
    assert_eq!(events.len(), 4, "{:?}", lines(&events));
    for e in &events {
        let v = verdict(e);
        assert_eq!(v.prediction.verdict, Verdict::Unknown);
        assert!(v.prediction.error.as_deref().unwrap().contains("not found"));
    }

    // Back, but `clean` renamed: `clean` alone is unknown, saying the function is gone.
    let renamed = String::from_utf8(original.clone())
        .unwrap()
        .replace("def clean(", "def clean_rows(");
    fs::write(&etl, renamed).unwrap();
    let events = f.apply(std::slice::from_ref(&etl));
    assert_eq!(events.len(), 4, "{:?}", lines(&events));
    let clean = events
        .iter()
        .map(verdict)
        .find(|v| v.task == "clean")
        .unwrap();
    assert_eq!(clean.prediction.verdict, Verdict::Unknown);
    assert!(clean.prediction.error.as_deref().unwrap().contains("clean"));
    for v in events.iter().map(verdict).filter(|v| v.task != "clean") {
        assert_eq!(Some(&v.prediction), initial(&v.task), "{}", v.task);
    }

    // Bytes that do not decode: an error line for the file, and the tasks unknown.
    let mut broken = original.clone();
    broken.extend_from_slice(b"\n# \xff\xfe\n");
    fs::write(&etl, &broken).unwrap();
    let events = f.apply(std::slice::from_ref(&etl));
    let l = lines(&events);
    let errors: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            WatchEvent::Error(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1, "{l:?}");
    assert_eq!(errors[0].path, etl);
    assert_eq!(events.len(), 1 + 4, "{l:?}");

    // Whole again: every task back to what it was.
    fs::write(&etl, &original).unwrap();
    let events = f.apply(&[etl]);
    assert_eq!(events.len(), 4, "{:?}", lines(&events));
    for v in events.iter().map(verdict) {
        assert_eq!(Some(&v.prediction), initial(&v.task), "{}", v.task);
    }
}

#[test]
fn the_runs_folder_deleted_and_recreated_is_survived() {
    let mut f = Fixture::new("02-source-edit");
    let runs = f.root.join("runs/02-source-edit");
    let saved = f.root.join("saved");
    copy_dir(&runs, &saved);
    fs::remove_dir_all(&runs).unwrap();
    let events = f.apply(std::slice::from_ref(&runs));
    assert_eq!(
        lines(&events),
        [format!(
            r#"{{"event":"error","path":"{}","error":"the runs folder is gone; its records are forgotten until it is created again"}}"#,
            runs.display()
        )]
    );
    assert_eq!((f.session.record_count(), f.session.unit_count()), (0, 0));
    copy_dir(&saved, &runs);
    let events = f.apply(std::slice::from_ref(&runs));
    // Eight records appear again; the predictions are what they were: no verdict line.
    assert_eq!(events.len(), 8, "{:?}", lines(&events));
    assert!(events.iter().all(|e| matches!(e, WatchEvent::Record(_))));
    assert_eq!((f.session.record_count(), f.session.unit_count()), (8, 4));
    // And it goes on: an edit still flips `clean`.
    f.edit(CLEAN_LINE, CLEAN_EDITED);
    assert_eq!(verdict(&f.apply(&[f.etl()])[0]).task, "clean");
}

#[test]
fn a_rescan_changes_nothing_when_nothing_changed() {
    let mut f = Fixture::new("02-source-edit");
    let batch = Batch {
        paths: vec![],
        rescan: true,
    };
    assert!(f.session.apply(&batch, now()).is_empty());
    f.edit(CLEAN_LINE, CLEAN_EDITED);
    let events = f.session.apply(&batch, now());
    assert_eq!(events.len(), 1);
    assert_eq!(verdict(&events[0]).task, "clean");
}

#[test]
fn the_latest_change_wins_a_stale_result_is_dropped_and_redone() {
    let mut f = Fixture::new("02-source-edit");
    let original = fs::read(f.etl()).unwrap();
    f.edit(CLEAN_LINE, CLEAN_EDITED);
    let prepared = f.session.prepare(
        &Batch {
            paths: vec![f.etl()],
            rescan: false,
        },
        now(),
    );
    // Every task defined in etl.py is recomputed; only `clean` would change.
    assert_eq!(prepared.recomputed(), 4);
    // While it was computed, the edit was undone: the watcher has that change waiting.
    fs::write(f.etl(), &original).unwrap();
    let etl = f.etl();
    assert!(f.session.commit(prepared, |p| p == etl).is_empty());
    assert!(f.session.has_dirty());
    // The next batch (the undo) ends where it started: no line at all, not a flip and back.
    let events = f.apply(&[f.etl()]);
    assert!(events.is_empty(), "{:?}", lines(&events));
    assert!(!f.session.has_dirty());
}

#[test]
fn every_record_can_be_a_unit() {
    let mut f = Fixture::with("02-source-edit", Scope::AllRecords, |_| {});
    assert_eq!(f.session.unit_count(), 8);
    f.edit(CLEAN_LINE, CLEAN_EDITED);
    let events = f.apply(&[f.etl()]);
    // Both runs of `clean`: run 1's key had already changed (run 2 is the edit) and changes
    // again; run 2's flips from hit to miss.
    let l = lines(&events);
    assert_eq!(events.len(), 2, "{l:?}");
    assert!(events.iter().map(verdict).all(|v| v.task == "clean"));
}

#[test]
fn a_new_run_is_compared_with_the_run_before() {
    // Run 2 of the story held back, then written while the watcher runs, as the recorder
    // writes a flow run's records.
    let mut f = Fixture::with("02-source-edit", Scope::LatestPerTask, |root| {
        let runs = root.join("runs/02-source-edit");
        fs::rename(runs.join("run-2-after-edit"), root.join("held")).unwrap();
    });
    assert_eq!(f.session.record_count(), 4);
    let held = f.root.join("held");
    let clean = fs::read_dir(&held)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("-clean-"))
        .unwrap();
    let run2 = f.root.join("runs/02-source-edit/run-2-after-edit");
    fs::create_dir_all(&run2).unwrap();
    let new = run2.join(clean.file_name().unwrap());
    fs::copy(&clean, &new).unwrap();
    let events = f.apply(std::slice::from_ref(&new));
    let l = lines(&events);
    let WatchEvent::Record(r) = &events[0] else {
        panic!("{l:?}")
    };
    let compared = r.comparison.as_ref().expect("compared with run 1");
    assert!(compared.a.contains("run-1-before-edit"), "{}", compared.a);
    assert_eq!(compared.verdict, Verdict::Miss);
    assert_eq!(compared.culprits.len(), 1);
    assert_eq!(compared.culprits[0].policy, "TaskSource");
    let line: serde_json::Value = serde_json::from_str(&l[0]).unwrap();
    assert_eq!(line["compared"]["verdict"], "miss");
    assert_eq!(line["compared"]["pairing"], "same-inputs");
    assert_eq!(line["compared"]["culprits"][0]["policy"], "TaskSource");
    // `clean`'s next run hit before (run 1's key under the edited source is run 2's key,
    // which run 2 stored) and still does: no verdict line.
    assert_eq!(events.len(), 1, "{l:?}");
}

#[test]
fn new_runs_of_several_tasks_in_one_batch_are_each_compared_with_their_own_task() {
    // A whole flow run written at once (four tasks): the tasks are paired side by side, and
    // each event must get its own task's comparison, with run 1 of that task.
    let mut f = Fixture::with("02-source-edit", Scope::LatestPerTask, |root| {
        let runs = root.join("runs/02-source-edit");
        fs::rename(runs.join("run-2-after-edit"), root.join("held")).unwrap();
    });
    let run2 = f.root.join("runs/02-source-edit/run-2-after-edit");
    fs::create_dir_all(&run2).unwrap();
    let mut new = Vec::new();
    for entry in fs::read_dir(f.root.join("held")).unwrap() {
        let held = entry.unwrap().path();
        let to = run2.join(held.file_name().unwrap());
        fs::copy(&held, &to).unwrap();
        new.push(to);
    }
    new.sort();
    let events = f.apply(&new);
    let l = lines(&events);
    let mut tasks = Vec::new();
    for event in &events {
        let WatchEvent::Record(r) = event else {
            continue;
        };
        let compared = r.comparison.as_ref().unwrap_or_else(|| panic!("{l:?}"));
        assert!(compared.a.contains("run-1-before-edit"), "{}", compared.a);
        assert!(
            compared.a.contains(&format!("-{}-", r.task)),
            "{} compared with {}",
            r.task,
            compared.a
        );
        assert!(
            r.record
                .path
                .to_string_lossy()
                .contains(&format!("-{}-", r.task))
        );
        tasks.push(r.task.clone());
    }
    tasks.sort();
    assert_eq!(tasks, ["clean", "extract", "load", "transform"], "{l:?}");
}

/// The session keeps a record's canonical inputs and flow parameters as text, not values (at
/// 100,000 records the values took four times the records' size on disk). What it predicts
/// and explains reads the record made whole from that text: the very record a full load reads.
#[test]
fn records_are_kept_lean_and_made_whole_as_a_full_load_reads_them() {
    let params = |r: &crate::record::RunRecord| r.flow.as_ref()?.parameters.clone();
    let (mut held, mut with_params) = (0, 0);
    for story in [
        "03-input-change",
        "04-excluded-input-and-flow-parameters",
        "08-set-of-strings",
    ] {
        let f = Fixture::with(story, Scope::AllRecords, |_| {});
        for (source, kept, whole) in f.session.held() {
            held += 1;
            let full = crate::load::load_file(&source.path)
                .into_iter()
                .find(|l| l.source == source)
                .and_then(|l| l.record.ok())
                .expect("the record loads");
            assert_eq!(whole, *full, "{source}");
            assert!(whole.inputs.is_some() && kept.inputs.is_none(), "{source}");
            if params(&whole).is_some() {
                with_params += 1;
                assert!(params(&kept).is_none(), "{source}");
            }
        }
    }
    assert!(
        held >= 8 && with_params >= 2,
        "{held} records, {with_params} with parameters"
    );
}

/// The start reads many files in each unit of work (runs of `.json` files, each `.jsonl` file
/// alone) and gathers them afterwards: every record of every file is held, in its own place,
/// and a broken file is reported by name, whatever unit it fell in.
#[test]
fn the_start_holds_every_record_of_every_file_across_its_units_of_work() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    fs::create_dir_all(&runs).unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-runs/runs/02-source-edit/run-1-before-edit");
    let mut texts: Vec<String> = fs::read_dir(&sample)
        .unwrap()
        .map(|e| fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    texts.sort();
    // A record on one line: JSON has no line break inside a string.
    let one_line = |t: &str| t.lines().map(str::trim_start).collect::<String>();
    let mut expected = std::collections::BTreeSet::new();
    // 150 `.json` files (three runs of 64 and the rest), two `.jsonl` files among them, and
    // one broken file in the third run.
    for i in 0..150 {
        let path = runs.join(format!("r-{i:03}.json"));
        if i == 130 {
            fs::write(&path, "{\"format\": ").unwrap();
            continue;
        }
        fs::write(&path, &texts[i % texts.len()]).unwrap();
        expected.insert((path, None));
        if i == 40 || i == 100 {
            let path = runs.join(format!("r-{i:03}.jsonl"));
            let lines: Vec<String> = texts.iter().map(|t| one_line(t)).collect();
            fs::write(&path, lines.join("\n") + "\n").unwrap();
            for line in 1..=lines.len() {
                expected.insert((path.clone(), Some(line)));
            }
        }
    }
    let options = SessionOptions {
        scope: Scope::AllRecords,
        ..SessionOptions::default()
    };
    let (session, events) = Session::start(std::slice::from_ref(&runs), options, now());
    let held: std::collections::BTreeSet<(PathBuf, Option<usize>)> = session
        .held()
        .into_iter()
        .map(|(source, _, _)| (source.path.to_path_buf(), source.line))
        .collect();
    assert_eq!(held, expected);
    let l = lines(&events);
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(l[0].contains("r-130.json"), "{l:?}");
}
