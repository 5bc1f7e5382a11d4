//! A smoke run of every cargo-fuzz target (fuzz/fuzz_targets): each is built and fuzzed for a
//! few seconds from its committed seeds, so a target that no longer builds, or a crash the
//! seeds already reach, fails `cargo test`; for `source` the seeds include every committed
//! module with CPython's `inspect.getsource` truth, so a difference fails here too. Long runs
//! are `fuzz/run.sh TARGET SECONDS`.
//!
//! cargo-fuzz comes from PATH (.ci/run installs it there) or, on a machine without it, is
//! installed once by this test, pinned, under `target/tmp/tools` (as the Python tests make their
//! venvs under `target/`): a minute or more of compiling the first time, then cached. A failed
//! install is a failure, not a skip. The stable toolchain takes cargo fuzz's nightly flags
//! with RUSTC_BOOTSTRAP=1.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The cargo-fuzz installed when PATH has none (the version .ci/run installs).
const CARGO_FUZZ: &str = "0.13.2";

const TARGETS: [&str; 6] = [
    "load",
    "pyjson",
    "source",
    "policy_expr",
    "sanitize",
    "record_fast",
];

/// `cargo fuzz` works with PATH as it is.
fn cargo_fuzz_on(path: Option<&OsString>) -> bool {
    let mut cmd = Command::new("cargo");
    cmd.args(["fuzz", "--version"]);
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    cmd.output().is_ok_and(|o| o.status.success())
}

/// The PATH under which `cargo fuzz` runs: the machine's own when it has cargo-fuzz, otherwise
/// with `target/tmp/tools/bin` first, where cargo-fuzz is installed once (serialised by a lock
/// file, so two test runs never install it at the same time).
fn path_with_cargo_fuzz() -> OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if cargo_fuzz_on(Some(&path)) {
        return path;
    }
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tools");
    std::fs::create_dir_all(&root).expect("create target/tmp/tools");
    let lock = File::create(root.join("cargo-fuzz.lock")).expect("create the install lock");
    lock.lock().expect("lock the cargo-fuzz install");
    let mut dirs = vec![root.join("bin")];
    dirs.extend(std::env::split_paths(&path));
    let with_tools = std::env::join_paths(dirs).expect("PATH with target/tmp/tools/bin");
    if !cargo_fuzz_on(Some(&with_tools)) {
        eprintln!(
            "cargo-fuzz is not on PATH: installing cargo-fuzz {CARGO_FUZZ} under {} (once; \
             it compiles for a minute or more)",
            root.display()
        );
        let out = Command::new("cargo")
            .args([
                "install",
                "cargo-fuzz",
                "--locked",
                "--version",
                CARGO_FUZZ,
                "--root",
            ])
            .arg(&root)
            .output()
            .expect("run cargo install");
        assert!(
            out.status.success() && cargo_fuzz_on(Some(&with_tools)),
            "cargo-fuzz is missing and could not be installed under {} (install it with \
             `cargo install cargo-fuzz --locked --version {CARGO_FUZZ}`, as .ci/run does):\n{}",
            root.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    with_tools
}

#[test]
fn every_fuzz_target_builds_and_survives_a_short_run() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let path = path_with_cargo_fuzz();
    let listed = Command::new("cargo")
        .args(["fuzz", "list"])
        .env("PATH", &path)
        .current_dir(&fuzz)
        .output()
        .expect("cargo fuzz list");
    let listed = String::from_utf8_lossy(&listed.stdout);
    for target in TARGETS {
        assert!(
            listed.lines().any(|l| l == target),
            "no target {target}: {listed}"
        );
    }
    let work = tempfile::tempdir().unwrap();
    for target in TARGETS {
        let corpus = work.path().join(target);
        std::fs::create_dir_all(&corpus).unwrap();
        let out = Command::new("cargo")
            .args(["fuzz", "run", "-O", target])
            .arg(&corpus)
            .arg(fuzz.join("seeds").join(target))
            .args(["--", "-max_total_time=3", "-print_final_stats=1"])
            .env("PATH", &path)
            .current_dir(&fuzz)
            .env("RUSTC_BOOTSTRAP", "1")
            .output()
            .expect("run cargo fuzz");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "fuzz target {target} failed (see fuzz/artifacts/{target}):\n{}",
            stderr
                .lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
        let runs = stderr
            .lines()
            .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
            .map(|n| n.trim().parse::<u64>().unwrap())
            .unwrap_or_else(|| panic!("{target}: no libFuzzer stats:\n{stderr}"));
        // libFuzzer runs every seed before it mutates: for `source` that is the differential
        // comparison of every committed module (fuzz/source-truth) with CPython's truth.
        let seeds = std::fs::read_dir(fuzz.join("seeds").join(target))
            .unwrap()
            .count() as u64;
        assert!(
            runs >= seeds,
            "{target} executed {runs} inputs, fewer than its {seeds} seeds"
        );
        eprintln!("fuzz {target}: {runs} executions in 3 s");
    }
}
