//! A hostile filesystem under `cachescope keys`: FIFOs and device links named `*.json`, symlink
//! loops, unreadable records, files that vanish, odd path names. Every run has a deadline (see
//! `hostile_support::run`): a hang is a failure, never a stuck suite.

mod hostile_support;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use hostile_support::{good_record, json_by_record, run};

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(st.success(), "mkfifo {} failed", path.display());
}

/// A runs folder with one good record, `good.json`.
fn runs_with_good(root: &Path) -> std::path::PathBuf {
    let runs = root.join("runs");
    fs::create_dir_all(&runs).unwrap();
    fs::copy(good_record(), runs.join("good.json")).unwrap();
    runs
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn fifo_and_device_link_in_a_folder_are_skipped_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = runs_with_good(tmp.path());
    mkfifo(&runs.join("pipe.json"));
    symlink("/dev/zero", runs.join("zero.json")).unwrap();
    symlink("/dev/null", runs.join("null.jsonl")).unwrap();
    let out = run(&["keys", "runs", "--json"], tmp.path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(
        err.contains("runs/pipe.json: skipped: not a regular file (a FIFO)"),
        "{err}"
    );
    assert!(
        err.contains("runs/zero.json: skipped: not a regular file (a character device)"),
        "{err}"
    );
    assert!(err.contains("runs/null.jsonl: skipped"), "{err}");
    let records = json_by_record(&out);
    assert_eq!(records["runs/good.json"]["status"], "match", "{records:?}");
    assert_eq!(
        records.len(),
        1,
        "only the regular file is a record: {records:?}"
    );
}

#[test]
fn fifo_or_device_named_on_the_command_line_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = runs_with_good(tmp.path());
    mkfifo(&runs.join("pipe.json"));
    symlink("/dev/zero", runs.join("zero.json")).unwrap();
    for (name, kind) in [("pipe.json", "a FIFO"), ("zero.json", "a character device")] {
        let path = format!("runs/{name}");
        let out = run(&["keys", &path, "runs/good.json"], tmp.path());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(&format!("{path}: cannot read: not a regular file ({kind})")),
            "{name}: {err}"
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("match"),
            "the good record still loads"
        );
    }
    // `explain` opens a record named directly through the same loader.
    let out = run(&["explain", "runs/pipe.json"], tmp.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("runs/pipe.json"), "{}", stderr(&out));
}

#[test]
fn a_file_swapped_for_a_fifo_after_discovery_does_not_hang_the_loader() {
    // The library API, as the CLI uses it: discover, then the file changes, then load.
    let tmp = tempfile::tempdir().unwrap();
    let runs = runs_with_good(tmp.path());
    fs::copy(good_record(), runs.join("swap.json")).unwrap();
    let (files, errors) = cachescope::load::discover(std::slice::from_ref(&runs));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(files.len(), 2);
    fs::remove_file(runs.join("swap.json")).unwrap();
    mkfifo(&runs.join("swap.json"));
    let (tx, rx) = std::sync::mpsc::channel();
    let swapped = runs.join("swap.json");
    std::thread::spawn(move || tx.send(cachescope::load::load_file(&swapped)).unwrap());
    let loaded = rx
        .recv_timeout(hostile_support::DEADLINE)
        .expect("load_file hangs on a FIFO");
    let err = loaded[0].record.as_ref().unwrap_err();
    assert!(err.message.contains("not a regular file (a FIFO)"), "{err}");
}
