//! Shared by the hostile-input tests: running the binary with a deadline, so a regression
//! that hangs (a FIFO read, an endless device) fails the test instead of hanging the suite.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long one cachescope run may take before the test calls it a hang.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Runs cachescope with `args` in `cwd`, killing it after [`DEADLINE`] (a test failure).
pub fn run(args: &[&str], cwd: &Path) -> Output {
    run_within(args, cwd, DEADLINE)
}

/// [`run`] with its own deadline, for inputs that are slow on purpose (hundreds of MB).
pub fn run_within(args: &[&str], cwd: &Path, deadline: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cachescope"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cachescope");
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut v).ok();
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut v).ok();
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for cachescope") {
            break status;
        }
        if start.elapsed() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("cachescope {args:?} still running after {deadline:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// A real record (from sample-runs) that `keys` reports as a match.
pub fn good_record() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-runs/runs/06-refresh-cache/run-1");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("-extract-"))
        .expect("the extract record of sample-runs 06-refresh-cache/run-1")
}

/// `keys --json` lines, keyed by their `record` field.
pub fn json_by_record(out: &Output) -> std::collections::BTreeMap<String, serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"));
            (v["record"].as_str().unwrap().to_string(), v)
        })
        .collect()
}
