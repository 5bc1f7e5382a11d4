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

#[test]
fn symlink_loops_in_the_runs_folder_end_and_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = runs_with_good(tmp.path());
    fs::create_dir(runs.join("sub")).unwrap();
    symlink("..", runs.join("sub/up")).unwrap();
    symlink(&runs, runs.join("sub/again")).unwrap();
    symlink("self.json", runs.join("self.json")).unwrap();
    symlink("b.jsonl", runs.join("a.jsonl")).unwrap();
    symlink("a.jsonl", runs.join("b.jsonl")).unwrap();
    let out = run(&["keys", "runs", "--json"], tmp.path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for name in ["self.json", "a.jsonl", "b.jsonl"] {
        assert!(
            err.contains(&format!("runs/{name}: cannot read")),
            "{name} is named: {err}"
        );
    }
    let records = json_by_record(&out);
    assert_eq!(records["runs/good.json"]["status"], "match");
    assert_eq!(records.len(), 1, "each folder is read once: {records:#?}");
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

#[test]
fn unreadable_record_and_folder() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let runs = runs_with_good(tmp.path());
    fs::copy(good_record(), runs.join("locked.json")).unwrap();
    fs::set_permissions(runs.join("locked.json"), fs::Permissions::from_mode(0o000)).unwrap();
    fs::create_dir(runs.join("closed")).unwrap();
    fs::copy(good_record(), runs.join("closed/inner.json")).unwrap();
    fs::set_permissions(runs.join("closed"), fs::Permissions::from_mode(0o000)).unwrap();
    let out = run(&["keys", "runs", "--json"], tmp.path());
    let err = stderr(&out);
    let records = json_by_record(&out);
    // Restore so the temporary folder can be removed.
    fs::set_permissions(runs.join("closed"), fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(records["runs/good.json"]["status"], "match");
    if is_root() {
        // Root ignores permission bits (CAP_DAC_OVERRIDE): both files are read. The
        // permission-denied path is still covered without root by the else branch, and a
        // record that cannot be opened at all by the dangling-link and vanishing tests.
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert_eq!(records["runs/locked.json"]["status"], "match");
        assert_eq!(records["runs/closed/inner.json"]["status"], "match");
    } else {
        assert_eq!(out.status.code(), Some(2), "{err}");
        let locked = records["runs/locked.json"]["error"].as_str().unwrap();
        assert_eq!(locked, "runs/locked.json: cannot read: permission denied");
        assert!(
            err.contains("runs/closed: cannot list folder: permission denied"),
            "{err}"
        );
    }
}

#[test]
fn a_record_that_vanishes_between_listing_and_reading_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = runs_with_good(tmp.path());
    fs::copy(good_record(), runs.join("gone.json")).unwrap();
    let (files, errors) = cachescope::load::discover(std::slice::from_ref(&runs));
    assert!(errors.is_empty(), "{errors:?}");
    fs::remove_file(runs.join("gone.json")).unwrap();
    let loaded: Vec<_> = files
        .iter()
        .flat_map(|f| cachescope::load::load_file(f))
        .collect();
    assert_eq!(loaded.len(), 2);
    let gone = loaded
        .iter()
        .find(|l| l.source.path.ends_with("gone.json"))
        .unwrap();
    let err = gone.record.as_ref().unwrap_err();
    assert_eq!(err.message, "cannot read: no such file or folder");
    assert!(err.to_string().contains("gone.json"), "{err}");
    let good = loaded
        .iter()
        .find(|l| l.source.path.ends_with("good.json"))
        .unwrap();
    assert!(good.record.is_ok());
    // A folder that vanishes after it was named: an error naming it, no panic.
    let (files, errors) = cachescope::load::discover(&[runs.join("no-such-folder")]);
    assert!(files.is_empty());
    assert_eq!(errors[0].message, "cannot read: no such file or folder");
}

#[test]
fn paths_with_spaces_newlines_and_non_ascii_load_and_print_safely() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("my runs");
    let odd = runs.join("nuit d'été ☃").join("line\nbreak");
    fs::create_dir_all(&odd).unwrap();
    fs::copy(good_record(), odd.join("récord \x1b[2J.json")).unwrap();
    let out = run(&["keys", "my runs", "--json"], tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let records = json_by_record(&out);
    let name = "my runs/nuit d'été ☃/line\nbreak/récord \x1b[2J.json";
    assert_eq!(records[name]["status"], "match", "{records:#?}");
    // The text output escapes the newline and the ESC, so a path cannot break a row or
    // reach the terminal as a sequence.
    let out = run(&["keys", "my runs"], tmp.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\x1b'), "{text:?}");
    assert!(
        text.contains("my runs/nuit d'été ☃/line\\x0abreak/récord \\x1b[2J.json"),
        "{text:?}"
    );
}

/// A copy of sample-runs whose `etl.py` (the source of the `extract` task) is replaced by
/// `source`; `keys --live --json` on the extract record; the line for that record.
fn live_with_source(source: &[u8]) -> (Option<i32>, serde_json::Value) {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("sr");
    let cp = Command::new("cp")
        .arg("-r")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-runs"))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(cp.success());
    fs::write(copy.join("project/etl.py"), source).unwrap();
    let record = good_record();
    let record = format!(
        "sr/runs/06-refresh-cache/run-1/{}",
        record.file_name().unwrap().to_str().unwrap()
    );
    let out = run(&["keys", "--live", "--json", &record], tmp.path());
    let mut lines = json_by_record(&out);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    (out.status.code(), lines.pop_first().unwrap().1)
}

fn etl() -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-runs/project/etl.py"))
        .unwrap()
}

#[test]
fn hostile_source_files_give_a_clear_live_state_per_record() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not UTF-8",
            b"def x():\n    return \"\xff\xfe\"\n".to_vec(),
            "etl.py: cannot read: the file is not valid utf-8",
        ),
        (
            "binary",
            (0..3000u32).map(|i| (i * 7919 % 251) as u8).collect(),
            "etl.py: cannot read: the file is not valid utf-8",
        ),
        (
            "syntax error",
            etl()
                .replacen("def extract(day: str)", "def extract(day: str", 1)
                .into_bytes(),
            "etl.py: inspect.getsource would raise at line",
        ),
        (
            "unknown encoding cookie",
            format!("# -*- coding: klingon -*-\n{}", etl()).into_bytes(),
            "etl.py: cannot read",
        ),
    ];
    for (what, bytes, message) in cases {
        let (code, line) = live_with_source(&bytes);
        assert_eq!(code, Some(2), "{what}: {line}");
        assert_eq!(line["status"], "error", "{what}: {line}");
        let error = line["error"].as_str().unwrap();
        assert!(error.contains("TaskSource"), "{what}: {error}");
        assert!(
            error.contains(message),
            "{what}: {error:?} lacks {message:?}"
        );
        // The other parts of the key are still computed.
        let inputs = line["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["policy"] == "Inputs")
            .unwrap();
        assert_eq!(inputs["status"], "match", "{what}: {line}");
    }
}

#[test]
fn an_encoding_cookie_and_100000_lines_still_find_the_function() {
    // Latin-1 with its cookie: decoded as Python would, the function's text is unchanged.
    let mut latin1 = b"# -*- coding: latin-1 -*-\n# caf\xe9\n".to_vec();
    latin1.extend(etl().into_bytes());
    let (code, line) = live_with_source(&latin1);
    assert_eq!(code, Some(0), "{line}");
    assert_eq!(line["status"], "match", "{line}");
    // 100,000 lines after the tasks: found, and fast enough for the run's deadline.
    let mut long = etl();
    for i in 0..100_000 {
        long.push_str(&format!("x{i} = {i}\n"));
    }
    let (code, line) = live_with_source(long.as_bytes());
    assert_eq!(code, Some(0), "{line}");
    assert_eq!(line["status"], "match", "{line}");
}

/// Unmounts the test's tmpfs, even when the test fails.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_runs_folder_on_a_read_only_mount_reads_as_on_a_writable_one() {
    let tmp = tempfile::tempdir().unwrap();
    let writable = tmp.path().join("rw");
    let readonly = tmp.path().join("ro");
    fs::create_dir_all(&readonly).unwrap();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-runs");
    let cp = |to: &Path| {
        let st = Command::new("cp").arg("-r").arg(&samples).arg(to).status();
        assert!(st.unwrap().success());
    };
    cp(&writable);
    // As root (this machine kind): a tmpfs of our own, remounted read-only, so every write
    // fails with EROFS whatever the permission bits. Without root a mount is not allowed;
    // then the copy is made read-only with permission bits, which bind a non-root user.
    let _mounted = if is_root() {
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
            .arg(&readonly)
            .status()
            .expect("run mount");
        assert!(st.success(), "root could not mount a tmpfs");
        let guard = Mounted(readonly.clone());
        cp(&readonly.join("sr"));
        let st = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&readonly)
            .status()
            .unwrap();
        assert!(st.success(), "remount read-only failed");
        Some(guard)
    } else {
        cp(&readonly.join("sr"));
        let st = Command::new("chmod")
            .args(["-R", "a-w"])
            .arg(&readonly)
            .status();
        assert!(st.unwrap().success());
        None
    };
    let ro = readonly.join("sr");
    assert!(
        fs::write(ro.join("probe"), "x").is_err(),
        "the read-only copy accepts writes: the test would prove nothing"
    );
    let clean = {
        let mut found: Vec<String> = Vec::new();
        let mut stack = vec![writable.join("runs/02-source-edit")];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.to_string_lossy().contains("-clean-") {
                    found.push(p.strip_prefix(&writable).unwrap().display().to_string());
                }
            }
        }
        found.sort();
        found.pop().expect("a clean record in 02-source-edit")
    };
    for args in [
        vec!["keys", "--live", "--json", "runs"],
        vec!["check", "runs"],
        vec!["explain", clean.as_str()],
    ] {
        let a = run(&args, &writable);
        let b = run(&args, &ro);
        assert_eq!(a.status.code(), b.status.code(), "{args:?}: {}", stderr(&b));
        assert_ne!(a.status.code(), Some(2), "{args:?}: {}", stderr(&a));
        assert!(!a.stdout.is_empty(), "{args:?} printed nothing");
        assert_eq!(
            String::from_utf8_lossy(&a.stdout),
            String::from_utf8_lossy(&b.stdout),
            "{args:?} reads differently from a read-only mount"
        );
        assert_eq!(stderr(&a), stderr(&b), "{args:?}");
    }
    if !is_root() {
        let _ = Command::new("chmod")
            .args(["-R", "u+w"])
            .arg(&readonly)
            .status();
    }
}
