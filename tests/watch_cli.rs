//! `cachescope watch` end to end (issue 10): the real binary watching a copy of `sample-runs/`
//! (real Prefect 3.9.1 records, their project and their result storage), files changed the way
//! editors, the recorder and people change them, and the JSON lines it prints checked against
//! cli.md's `watch` section. Every wait is for a line, with a timeout; no sleep is an assertion.

mod support;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any one line may take on a loaded 2-core machine.
const LINE: Duration = Duration::from_secs(20);

const STORY: &str = "02-source-edit";
const CLEAN_LINE: &str =
    r#"if row["status"] in ("refund", "cancelled") or row["region"] not in regions:"#;
const CLEAN_EDITED: &str =
    r#"if row["status"] in ("refund", "cancelled", "void") or row["region"] not in regions:"#;
/// The key of `clean`'s latest run in the story, stored in its result storage.
const CLEAN_KEY: &str = "d54385c50f7b1163ea585fafd72ce4f4";

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

/// A copy of sample-runs/ and `cachescope watch` running on one story of it.
struct Watch {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    child: Child,
    lines: Receiver<String>,
}

impl Watch {
    fn start() -> Watch {
        let (w, ready) = Watch::start_with(|_| {});
        assert_eq!(
            (ready["records"].as_u64(), ready["tasks"].as_u64()),
            (Some(8), Some(4))
        );
        w
    }

    /// `before` changes the copy before the watcher starts. The watcher and its `ready` line.
    fn start_with(before: impl FnOnce(&Path)) -> (Watch, Value) {
        let tmp = tempfile::tempdir().unwrap();
        // Canonical, as the watcher prints absolute paths.
        let root = fs::canonicalize(tmp.path()).unwrap().join("sample-runs");
        copy_dir(&support::repo_root().join("sample-runs"), &root);
        before(&root);
        let mut child = Command::new(support::cachescope_bin())
            .arg("watch")
            .arg(root.join("runs").join(STORY))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut w = Watch {
            _tmp: tmp,
            root,
            child,
            lines,
        };
        let ready = w.next();
        assert_eq!(ready["event"], "ready", "{ready}");
        assert!(ready["ms"].is_u64(), "{ready}");
        (w, ready)
    }

    /// The next line, parsed; fails after [`LINE`].
    fn next(&mut self) -> Value {
        match self.lines.recv_timeout(LINE) {
            Ok(line) => {
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
            }
            Err(RecvTimeoutError::Timeout) => panic!("no line within {LINE:?}"),
            Err(RecvTimeoutError::Disconnected) => {
                panic!("the watcher ended: {:?}", self.child.try_wait())
            }
        }
    }

    fn etl(&self) -> PathBuf {
        self.root.join("project/etl.py")
    }

    fn storage(&self) -> PathBuf {
        self.root.join("storage").join(STORY)
    }

    fn runs(&self) -> PathBuf {
        self.root.join("runs").join(STORY)
    }

    /// Sends SIGTERM or SIGINT and returns the exit code.
    fn signal(mut self, signal: &str) -> Option<i32> {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + LINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "still running after {signal}");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn edited(text: &str) -> String {
    assert!(text.contains(CLEAN_LINE));
    text.replacen(CLEAN_LINE, CLEAN_EDITED, 1)
}

/// A verdict line for `clean`, checked against the contract's fields.
fn assert_clean_verdict(line: &Value, verdict: &str, previous: &str, trigger: &Path) {
    assert_eq!(line["event"], "verdict", "{line}");
    assert_eq!(line["task"], "clean", "{line}");
    assert!(
        line["record"]
            .as_str()
            .unwrap()
            .contains("run-2-after-edit"),
        "the latest record of the task: {line}"
    );
    assert_eq!(line["verdict"], verdict, "{line}");
    assert_eq!(line["previous"]["verdict"], previous, "{line}");
    assert!(
        line["key"].is_string() && line["previous"]["key"].is_string(),
        "{line}"
    );
    assert!(
        line["culprits"].is_array() && line["non_key_causes"].is_array(),
        "{line}"
    );
    assert_eq!(line["trigger"], trigger.display().to_string(), "{line}");
}

#[test]
fn an_edit_in_place_flips_to_miss_with_the_task_source_culprit_and_undo_flips_back() {
    let mut w = Watch::start();
    let original = fs::read_to_string(w.etl()).unwrap();
    // In place: the same file opened, truncated and written.
    fs::write(w.etl(), edited(&original)).unwrap();
    let line = w.next();
    assert_clean_verdict(&line, "miss", "hit", &w.etl());
    assert_eq!(line["previous"]["key"], CLEAN_KEY);
    assert_ne!(line["key"], CLEAN_KEY);
    let culprits = line["culprits"].as_array().unwrap();
    assert_eq!(culprits.len(), 1, "{line}");
    assert_eq!(culprits[0]["policy"], "TaskSource");
    assert_eq!(culprits[0]["path"], "0");
    assert_eq!(culprits[0]["detail"]["classification"], "code");
    assert!(
        culprits[0]["detail"]["diff"]
            .as_str()
            .unwrap()
            .contains("\"void\"")
    );

    fs::write(w.etl(), &original).unwrap();
    let line = w.next();
    assert_clean_verdict(&line, "hit", "miss", &w.etl());
    assert_eq!(line["key"], CLEAN_KEY);
    assert_eq!(line["culprits"], serde_json::json!([]));
    assert_eq!(w.signal("-TERM"), Some(0));
}

#[test]
fn an_atomic_save_is_seen_like_an_edit_in_place() {
    let mut w = Watch::start();
    let original = fs::read_to_string(w.etl()).unwrap();
    let etl = w.etl();
    let save = |text: &str| {
        // As editors save: a temporary file in the same folder, renamed over the original.
        let tmp = etl.with_file_name(".etl.py.swp-save");
        fs::write(&tmp, text).unwrap();
        fs::rename(&tmp, &etl).unwrap();
    };
    save(&edited(&original));
    let line = w.next();
    assert_clean_verdict(&line, "miss", "hit", &w.etl());
    assert_eq!(line["culprits"][0]["policy"], "TaskSource");
    save(&original);
    let line = w.next();
    assert_clean_verdict(&line, "hit", "miss", &w.etl());
    assert_eq!(w.signal("-INT"), Some(0));
}

#[test]
fn a_save_that_changes_nothing_prints_nothing_and_a_deleted_result_flips_to_miss() {
    let mut w = Watch::start();
    // The same bytes written again, an atomic save of the same text, a backup file: no line.
    let bytes = fs::read(w.etl()).unwrap();
    fs::write(w.etl(), &bytes).unwrap();
    fs::write(w.etl().with_file_name("etl.py~"), &bytes).unwrap();
    let tmp = w.etl().with_file_name("etl.py.tmp");
    fs::write(&tmp, &bytes).unwrap();
    fs::rename(&tmp, w.etl()).unwrap();
    // Then a real change, elsewhere: its line must be the very next one, which proves the
    // watcher was alive and printed nothing for the saves above.
    let result = w.storage().join(CLEAN_KEY);
    fs::remove_file(&result).unwrap();
    let line = w.next();
    assert_clean_verdict(&line, "miss", "hit", &result);
    // Same key, no culprit: the result is gone.
    assert_eq!(line["key"], CLEAN_KEY);
    assert_eq!(line["culprits"], serde_json::json!([]));
    assert_eq!(line["non_key_causes"][0]["kind"], "no_record", "{line}");
}

#[test]
fn a_result_that_expires_flips_to_miss_with_no_file_event() {
    // clean's result is kept until five seconds from now: no file changes after the watcher
    // starts, the clock alone flips the prediction.
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(5);
    let (mut w, _) = Watch::start_with(|root| {
        let result = root.join("storage").join(STORY).join(CLEAN_KEY);
        let text = fs::read_to_string(&result).unwrap();
        assert!(text.contains(r#""expiration":null"#));
        let text = text.replace(
            r#""expiration":null"#,
            &format!(r#""expiration":"{expires}""#),
        );
        fs::write(result, text).unwrap();
    });
    assert!(
        jiff::Timestamp::now() < expires,
        "the watcher took more than 5 s to start: the result expired before it was watched"
    );
    let line = w.next();
    assert!(
        jiff::Timestamp::now() >= expires,
        "flipped before the expiration"
    );
    assert_clean_verdict(&line, "miss", "hit", &w.storage().join(CLEAN_KEY));
    assert_eq!(line["key"], CLEAN_KEY);
    assert_eq!(line["non_key_causes"][0]["kind"], "expired", "{line}");
}

#[test]
fn new_records_are_reported_and_a_half_written_one_is_an_error_the_watcher_survives() {
    let mut w = Watch::start();
    let run3 = w.runs().join("run-3");
    fs::create_dir_all(&run3).unwrap();
    // A run of `publish`, a task this story never ran.
    let publish = support::files_under(
        &w.root.join("runs/07-opaque-input/run-2-notify"),
        Some("json"),
    )
    .into_iter()
    .find(|p| p.to_string_lossy().contains("-publish-"))
    .unwrap();
    let text = fs::read(&publish).unwrap();
    let new = run3.join("20261124T210000000-publish-new.json");
    // Half of it, as a writer that does not write atomically leaves it for a moment.
    fs::write(&new, &text[..text.len() / 2]).unwrap();
    let line = w.next();
    assert_eq!(line["event"], "error", "{line}");
    assert_eq!(line["path"], new.display().to_string());
    assert!(
        line["error"].as_str().unwrap().starts_with("line "),
        "{line}"
    );

    // The whole of it: the record line, then the new task's first prediction.
    fs::write(&new, &text).unwrap();
    let line = w.next();
    assert_eq!(line["event"], "record", "{line}");
    assert_eq!(line["record"], new.display().to_string());
    assert_eq!(line["task"], "publish");
    assert_eq!(
        line["status"], "unverifiable",
        "publish's inputs are cloudpickled: {line}"
    );
    assert_eq!(line["trigger"], new.display().to_string());
    let line = w.next();
    assert_eq!(
        (line["event"].as_str(), line["task"].as_str()),
        (Some("verdict"), Some("publish"))
    );
    assert!(line["previous"].is_null(), "{line}");

    // A record written the way the recorder writes (a temporary file, renamed) into a new
    // folder: its record line.
    let run4 = w.runs().join("run-4");
    fs::create_dir_all(&run4).unwrap();
    let clean = support::files_under(&w.runs().join("run-1-before-edit"), Some("json"))
        .into_iter()
        .find(|p| p.to_string_lossy().contains("-clean-"))
        .unwrap();
    let tmp = run4.join(".20260101T000000000-clean-x.json.tmp");
    fs::copy(&clean, &tmp).unwrap();
    let named = run4.join("20260101T000000000-clean-x.json");
    fs::rename(&tmp, &named).unwrap();
    let line = w.next();
    assert_eq!(line["event"], "record", "{line}");
    assert_eq!(line["record"], named.display().to_string());
    assert_eq!(
        (line["task"].as_str(), line["status"].as_str()),
        (Some("clean"), Some("match"))
    );
}

#[test]
fn the_runs_folder_deleted_and_recreated_is_watched_again() {
    let mut w = Watch::start();
    let saved = w.root.join("runs/saved-copy");
    copy_dir(&w.runs(), &saved);
    fs::remove_dir_all(w.runs()).unwrap();
    let line = w.next();
    assert_eq!(line["event"], "error", "{line}");
    assert_eq!(line["path"], w.runs().display().to_string());
    assert!(
        line["error"]
            .as_str()
            .unwrap()
            .contains("runs folder is gone"),
        "{line}"
    );
    // Back at once, as a `git checkout` or `mv` brings it (a copy that trickles in would give
    // passing states along the way: a task whose latest run is not there yet).
    fs::rename(&saved, w.runs()).unwrap();
    // Eight records appear again. Predictions stay what they were: no verdict line.
    let mut records = Vec::new();
    while records.len() < 8 {
        let line = w.next();
        assert_eq!(line["event"], "record", "{line}");
        records.push(line["record"].as_str().unwrap().to_string());
    }
    records.sort();
    records.dedup();
    assert_eq!(records.len(), 8);
    // And the new folder is watched: a record dropped into it is seen.
    let clean = support::files_under(&w.runs().join("run-1-before-edit"), Some("json"))
        .into_iter()
        .find(|p| p.to_string_lossy().contains("-clean-"))
        .unwrap();
    let copy = w.runs().join("run-1-before-edit/copy-of-clean.json");
    fs::copy(&clean, &copy).unwrap();
    let line = w.next();
    assert_eq!(line["event"], "record", "{line}");
    assert_eq!(line["record"], copy.display().to_string());
}

#[test]
fn a_run_written_while_watching_is_compared_with_the_run_before() {
    // The story's second flow run held back, then written while the watcher runs, one record
    // at a time as the recorder writes them (a temporary file, renamed).
    let (mut w, ready) = Watch::start_with(|root| {
        let runs = root.join("runs").join(STORY);
        fs::rename(runs.join("run-2-after-edit"), root.join("held")).unwrap();
    });
    assert_eq!(
        (ready["records"].as_u64(), ready["tasks"].as_u64()),
        (Some(4), Some(4))
    );
    let run2 = w.runs().join("run-2-after-edit");
    fs::create_dir_all(&run2).unwrap();
    let mut held = support::files_under(&w.root.join("held"), Some("json"));
    held.sort();
    let mut seen = std::collections::BTreeMap::new();
    for record in &held {
        let name = record.file_name().unwrap().to_string_lossy().into_owned();
        let tmp = run2.join(format!(".{name}.tmp"));
        fs::copy(record, &tmp).unwrap();
        fs::rename(&tmp, run2.join(&name)).unwrap();
        let line = w.next();
        assert_eq!(line["event"], "record", "{line}");
        assert_eq!(line["record"], run2.join(&name).display().to_string());
        assert!(
            line["compared"]["with"]
                .as_str()
                .unwrap()
                .contains("run-1-before-edit"),
            "{line}"
        );
        let task = line["task"].as_str().unwrap().to_string();
        if task == "transform" {
            // Its latest record is another flow run's now: with RunId in the policy, the live
            // key (with that run's id) changed, so its prediction is reported again.
            let verdict = w.next();
            assert_eq!(verdict["event"], "verdict", "{verdict}");
            assert_eq!(
                (verdict["task"].as_str(), verdict["verdict"].as_str()),
                (Some("transform"), Some("miss"))
            );
            assert_ne!(verdict["key"], verdict["previous"]["key"], "{verdict}");
        }
        seen.insert(task, line);
    }
    // What real Prefect did in this story: `clean` missed because its source was edited,
    // `extract` and `load` were served from the cache, `transform` (DEFAULT, so RunId) missed.
    let clean = &seen["clean"]["compared"];
    assert_eq!(clean["verdict"], "miss", "{clean}");
    assert_eq!(clean["culprits"][0]["policy"], "TaskSource", "{clean}");
    assert_eq!(seen["extract"]["compared"]["verdict"], "hit");
    assert_eq!(seen["load"]["compared"]["verdict"], "hit");
    let transform = &seen["transform"]["compared"];
    assert_eq!(transform["verdict"], "miss", "{transform}");
    assert_eq!(transform["culprits"][0]["policy"], "RunId", "{transform}");
}

#[test]
fn it_exits_2_with_a_message_when_it_cannot_watch_at_all() {
    // No file descriptor left for inotify: nothing can be watched.
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -n 4 && exec "$0" watch "$1""#)
        .arg(support::cachescope_bin())
        .arg(tmp.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let line: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(line["event"], "error", "{line}");
    let error = line["error"].as_str().unwrap();
    assert!(error.starts_with("cannot watch: "), "{error}");
    assert!(error.contains("fs.inotify.max_user_instances"), "{error}");
    assert!(stderr.contains("cannot watch"), "{stderr}");
}
