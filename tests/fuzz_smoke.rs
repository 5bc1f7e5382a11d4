//! A smoke run of every cargo-fuzz target (fuzz/fuzz_targets): each is built and fuzzed for a
//! few seconds from its committed seeds, so a target that no longer builds, or a crash the
//! seeds already reach, fails `cargo test`; for `source` the seeds include every committed
//! module with CPython's `inspect.getsource` truth, so a difference fails here too. Long runs
//! are `fuzz/run.sh TARGET SECONDS`.
//!
//! cargo-fuzz must be installed (`cargo install cargo-fuzz --locked`, as .ci/run does); its
//! absence is a failure, not a skip. The stable toolchain takes cargo fuzz's nightly flags
//! with RUSTC_BOOTSTRAP=1.

use std::path::Path;
use std::process::Command;

const TARGETS: [&str; 6] = [
    "load",
    "pyjson",
    "source",
    "policy_expr",
    "sanitize",
    "record_fast",
];

#[test]
fn every_fuzz_target_builds_and_survives_a_short_run() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let version = Command::new("cargo").args(["fuzz", "--version"]).output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "cargo-fuzz is missing: install it with `cargo install cargo-fuzz --locked` \
         (.ci/run does): {version:?}"
    );
    let listed = Command::new("cargo")
        .args(["fuzz", "list"])
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
