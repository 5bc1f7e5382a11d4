//! Shared by the integration tests: the Python virtualenv with pinned `prefect==3.9.1` and the
//! recorder, created once and cached under `target/`, and the path of the built binary.
//!
//! A missing interpreter or a failed install is a test failure with a message that says what to
//! do; nothing here skips.
#![allow(dead_code)]

pub mod tmux;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const PREFECT_PIN: &str = "prefect==3.9.1";

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cachescope binary that cargo built for this test run.
pub fn cachescope_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cachescope"))
}

/// A cachescope command run, with what is needed to report on it.
pub struct Run {
    /// The command line, for failure messages.
    pub shown: String,
    pub output: std::process::Output,
}

impl Run {
    pub fn new<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
        let output = Command::new(cachescope_bin())
            .args(args)
            .output()
            .expect("run cachescope");
        let shown = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        Run {
            shown: format!("cachescope {shown}"),
            output,
        }
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

/// A virtualenv's interpreter.
pub struct Venv {
    pub dir: PathBuf,
    pub python: PathBuf,
}

impl Venv {
    /// A command running this venv's Python with a quiet, isolated Prefect environment.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.python);
        // Prefect gives its temporary server 20 s to start; on a loaded machine (test binaries
        // in parallel, other checkouts testing too) that was seen to run out. Waiting longer
        // costs nothing when the server starts fast.
        cmd.env("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
            .env("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
            .env("PREFECT_LOGGING_LEVEL", "ERROR")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("CACHESCOPE_RUNS");
        cmd
    }
}

fn run_checked(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not start {:?}: {e}", cmd.get_program()));
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Finds a base interpreter: `python3` for "3", else `python3.X` from pyenv or PATH.
pub fn base_python(version: &str) -> PathBuf {
    let candidates: Vec<PathBuf> = if version == "3" {
        vec![PathBuf::from("python3")]
    } else {
        let mut c = Vec::new();
        if let Ok(out) = Command::new("pyenv").args(["prefix", version]).output()
            && out.status.success()
        {
            // `pyenv prefix 3.13` resolves to the newest installed 3.13.x.
            let prefix = String::from_utf8_lossy(&out.stdout).trim().to_string();
            c.push(
                Path::new(&prefix)
                    .join("bin")
                    .join(format!("python{version}")),
            );
        }
        c.push(PathBuf::from(format!("python{version}")));
        c
    };
    for cand in &candidates {
        if let Ok(out) = Command::new(cand).arg("--version").output()
            && out.status.success()
        {
            return cand.clone();
        }
    }
    panic!(
        "Python {version} is needed by this test and was not found (tried {candidates:?}). \
         Install it (for example `pyenv install {version}`) and run the tests again."
    );
}

/// Hash of every file under `recorder/`, so the cached venv reinstalls it when it changes.
fn recorder_stamp() -> String {
    use md5::{Digest, Md5};
    let mut files = Vec::new();
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.')
                || name == "__pycache__"
                || name.ends_with(".egg-info")
                || name == "build"
            {
                continue;
            }
            if p.is_dir() {
                walk(&p, files);
            } else {
                files.push(p);
            }
        }
    }
    walk(&repo_root().join("recorder"), &mut files);
    files.sort();
    let mut h = Md5::new();
    for f in files {
        h.update(f.to_string_lossy().as_bytes());
        h.update(fs::read(&f).unwrap_or_default());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates (or reuses) a venv under `target/` with the given packages, serialised across
/// test binaries and threads by a file lock.
fn ensure_venv(name: &str, base: &str, packages: &[&str], with_recorder: bool) -> Venv {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("venvs");
    fs::create_dir_all(&root).expect("create target/tmp/venvs");
    let lock = File::create(root.join(format!("{name}.lock"))).expect("create venv lock");
    lock.lock().expect("lock venv");
    let dir = root.join(name);
    let python = dir.join("bin").join("python");
    let want = format!(
        "{}\n{}",
        packages.join(" "),
        if with_recorder {
            recorder_stamp()
        } else {
            String::new()
        }
    );
    let stamp = dir.join(".cachescope-stamp");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) && python.exists() {
        return Venv { dir, python };
    }
    let have_packages = fs::read_to_string(&stamp)
        .map(|s| s.lines().next() == Some(packages.join(" ").as_str()))
        .unwrap_or(false);
    if !have_packages || !python.exists() {
        let _ = fs::remove_dir_all(&dir);
        let base_py = base_python(base);
        run_checked(
            Command::new(&base_py).args(["-m", "venv"]).arg(&dir),
            "creating a virtualenv",
        );
        if !packages.is_empty() {
            run_checked(
                Command::new(&python)
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                    ])
                    .args(packages),
                &format!(
                    "pip install {} (needs the PyPI registry)",
                    packages.join(" ")
                ),
            );
        }
    }
    if with_recorder {
        run_checked(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--force-reinstall",
                    "--no-deps",
                ])
                .arg(repo_root().join("recorder")),
            "pip install ./recorder",
        );
    }
    fs::write(&stamp, &want).expect("write venv stamp");
    Venv { dir, python }
}

/// The venv with `prefect==3.9.1` and the recorder, on the machine's `python3`.
pub fn prefect_venv() -> &'static Venv {
    static V: OnceLock<Venv> = OnceLock::new();
    V.get_or_init(|| ensure_venv("prefect-3.9.1-py3", "3", &[PREFECT_PIN], true))
}

/// A bare venv (no packages) on the given Python version ("3" for the machine's python3,
/// or "3.13"), for differential tests against the standard library.
pub fn plain_venv(version: &str) -> Venv {
    ensure_venv(&format!("plain-py{version}"), version, &[], false)
}

/// A fresh folder under `target/tmp` for one test binary's real-Prefect scenario, named
/// `PREFIX…`. It is kept after the run (to look at when a test fails); the folders an earlier
/// run left with the same prefix are removed first, so they do not pile up.
pub fn scenario_dir(prefix: &str) -> PathBuf {
    let parent = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    if let Ok(entries) = fs::read_dir(&parent) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(prefix) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&parent)
        .expect("temp dir")
        .keep()
}

/// Every file under `dir` (recursively), sorted; only those ending in `.EXT` when given.
pub fn files_under(dir: &Path, ext: Option<&str>) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if ext.is_none_or(|ext| path.extension().is_some_and(|e| e == ext)) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Runs a real-Prefect scenario script (`tests/e2e/...py OUT`) once in a fresh scenario folder
/// named `PREFIX…`, with its own `PREFECT_HOME` (`DIR/prefect-home`) and the folder as working
/// directory, so nothing lands in the repository. Returns the folder and `OUT` (`DIR/out`).
/// A failed script panics with its stdout and the tail of its stderr.
pub fn record_scenarios(prefix: &str, script: &str) -> (PathBuf, PathBuf) {
    let venv = prefect_venv();
    let dir = scenario_dir(prefix);
    let prefect_home = dir.join("prefect-home");
    let out = dir.join("out");
    fs::create_dir_all(&prefect_home).unwrap();
    let script = repo_root().join(script);
    let run = venv
        .command()
        .arg(&script)
        .arg(&out)
        .current_dir(&dir)
        .env("PREFECT_HOME", &prefect_home)
        .output()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", venv.python.display()));
    if !run.status.success() {
        let stderr = String::from_utf8_lossy(&run.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        panic!(
            "{} failed ({}); files in {}\n--- stdout\n{}\n--- stderr (tail)\n{}",
            script.display(),
            run.status,
            dir.display(),
            String::from_utf8_lossy(&run.stdout),
            lines[lines.len().saturating_sub(80)..].join("\n")
        );
    }
    eprintln!("{}", String::from_utf8_lossy(&run.stdout).trim());
    (dir, out)
}
