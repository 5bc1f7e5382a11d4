//! Advice, checks and `check`/`keys --live` against what real Prefect 3.9.1 did (issue 8,
//! items 4, 5 and 7).
//!
//! `tests/e2e/advice_scenarios.py` records real flows with the recorder and checks that each
//! scenario happened as claimed: `CacheKeyFnPolicy + RUN_ID` missing on RUN_ID alone, while the
//! same cache_key_fn without RUN_ID is served from the cache under the key the function
//! returned; policies configured with key storage (and isolation and a lock manager) missing on
//! a comment edit, and the fix the advice must give, written into the file, keeping the cache
//! through the next comment edit with its record in the key storage; a model object whose repr
//! holds its memory address, served from the cache in one process and missing across two; a
//! project moved away after recording. A Prefect server takes ~15 s to start, so the script runs
//! once per test binary and the tests share what it recorded.

mod support;

use support::Run;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cachescope::policy::{PolicyKind, parse_policy, storage_path};
use serde_json::Value as Json;

struct Scenarios {
    /// Kept after the tests so a failure can be looked at; stale ones are removed first.
    out: PathBuf,
    manifest: Json,
}

const DIR_PREFIX: &str = "explain-advice-prefect-";

fn scenarios() -> &'static Scenarios {
    static SCENARIOS: OnceLock<Scenarios> = OnceLock::new();
    SCENARIOS.get_or_init(record_scenarios)
}

fn record_scenarios() -> Scenarios {
    let (_, out) = support::record_scenarios(DIR_PREFIX, "tests/e2e/advice_scenarios.py");
    let manifest = read_json(&out.join("manifest.json"));
    Scenarios { out, manifest }
}

fn read_json(path: &Path) -> Json {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn case(path: &[&str]) -> &'static Json {
    let mut v = &scenarios().manifest;
    for p in path {
        v = &v[*p];
    }
    assert!(!v.is_null(), "no {path:?} in the manifest");
    v
}

fn text(v: &Json, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .to_string()
}

impl Run {
    fn report(&self) -> String {
        format!(
            "$ {}\nexit status {:?}\nstdout:\n{}\nstderr:\n{}\n(records under {})",
            self.shown,
            self.code(),
            self.stdout(),
            tail(&self.stderr(), 30),
            scenarios().out.display()
        )
    }

    fn json(&self) -> Json {
        serde_json::from_str(&self.stdout())
            .unwrap_or_else(|e| panic!("not one JSON document: {e}\n{}", self.report()))
    }

    fn json_lines(&self) -> Vec<Json> {
        self.stdout()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not a JSON line: {l}: {e}\n{}", self.report()))
            })
            .collect()
    }
}

fn explain(c: &Json, extra: &[&str]) -> Run {
    let (a, b) = (text(c, "a"), text(c, "b"));
    let mut args = vec!["explain", a.as_str(), b.as_str()];
    args.extend(extra);
    args.push("--json");
    Run::new(&args)
}

fn advice_of<'j>(got: &'j Json, kind: &str, report: &str) -> &'j Json {
    let found: Vec<&Json> = got["advice_detail"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["kind"] == kind)
        .collect();
    match found.as_slice() {
        [one] => one,
        _ => panic!("expected one {kind} advice\n{report}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Item 4: the recorded key of an opaque node the fix leaves alone.

/// `CacheKeyFnPolicy + RUN_ID`: the advice drops RUN_ID, and its check carries the key the
/// cache_key_fn returned in each record, so the fix gives one key: the very key Prefect used
/// for the same cache_key_fn without RUN_ID (`train_fixed`, served from the cache).
#[test]
fn the_fix_for_a_cache_key_fn_with_run_id_is_checked_with_the_recorded_keys() {
    let c = case(&["cache_key_fn_run_id", "train"]);
    let run = explain(c, &[]);
    let report = run.report();
    let got = run.json();
    assert_eq!(run.code(), Some(1), "a miss\n{report}");
    assert_eq!(got["verdict"], "miss", "{report}");
    let culprits: Vec<&str> = got["culprits"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["policy"].as_str())
        .collect();
    assert_eq!(culprits, ["RunId"], "{report}");
    let advice = advice_of(&got, "default_run_id", &report);
    assert_eq!(advice["fix"], text(c, "fix").as_str(), "{report}");
    let fix = parse_policy(advice["fix"].as_str().unwrap())
        .unwrap_or_else(|e| panic!("the fix does not parse: {e}\n{report}"));
    assert!(
        matches!(&fix.kind, PolicyKind::CacheKeyFn { function: Some(f) } if f == "dataset_key"),
        "{fix:?}\n{report}"
    );
    let check = advice["check"].as_str().unwrap_or("");
    assert!(
        check.contains("A and B would share one key")
            && check.contains("these 2 recorded runs of `train` would share one key (now 2 keys)"),
        "the check carries the cache_key_fn's recorded key: {check}\n{report}"
    );
    assert!(!check.contains("cannot be computed"), "{check}\n{report}");

    // The what-if with the fix: both keys are the cache_key_fn's, the key Prefect used for the
    // fixed task.
    let run = explain(c, &["--policy", text(c, "fix").as_str()]);
    let report = run.report();
    let what_if = &run.json()["what_if"];
    let fixed_key = text(c, "fixed_key");
    assert_eq!(what_if["verdict"], "hit", "{report}");
    assert_eq!(what_if["key_a"], fixed_key.as_str(), "{report}");
    assert_eq!(what_if["key_b"], fixed_key.as_str(), "{report}");
}

/// The same with a policy class of the project's own (`DatasetVersion() + RUN_ID`): the fix
/// cannot be written as an expression, but its check carries the key the class returned in
/// each record, which is the key Prefect used for `DatasetVersion()` alone.
#[test]
fn the_fix_for_a_policy_class_with_run_id_is_checked_with_the_recorded_keys() {
    let c = case(&["cache_key_fn_run_id", "validate"]);
    let run = explain(c, &[]);
    let report = run.report();
    let got = run.json();
    assert_eq!(run.code(), Some(1), "a miss\n{report}");
    let advice = advice_of(&got, "default_run_id", &report);
    assert!(
        advice["fix"].is_null(),
        "no expression names the class\n{report}"
    );
    let check = advice["check"].as_str().unwrap_or("");
    assert!(
        check.starts_with("with RUN_ID left out")
            && check.contains("flows.DatasetVersion")
            && check.contains("A and B would share one key")
            && check.contains("these 2 recorded runs of `validate` would share one key"),
        "{check}\n{report}"
    );
    // The key the check found is the class's recorded key, which Prefect used for the class
    // alone (`validate_fixed`, served from the cache).
    let fixed_key = text(c, "fixed_key");
    let a = read_json(Path::new(&text(c, "a")));
    let own = a["policy"]["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["policy"] == "flows.DatasetVersion")
        .unwrap_or_else(|| panic!("{}", a["policy"]));
    assert_eq!(own["key"], fixed_key.as_str());
}

/// Reprs that differ only by a memory address: in one process the model is pickled by
/// reference and B is served from the cache; nothing may call the model changed.
#[test]
fn a_repr_with_a_memory_address_is_not_a_changed_input_on_a_hit() {
    for task in ["score", "describe"] {
        let c = case(&["repr_address", task]);
        let run = explain(c, &[]);
        let report = run.report();
        let got = run.json();
        assert_eq!(run.code(), Some(0), "a hit\n{report}");
        assert_eq!(got["verdict"], "hit", "{report}");
        assert_eq!(got["culprits"], Json::Array(Vec::new()), "{report}");
        let said = format!("{} {} {}", got["headline"], got["notes"], got["advice"]);
        assert!(
            !said.contains("changed") && !said.contains("stale"),
            "the model did not change (its reprs differ only by address): {said}\n{report}"
        );
    }
}

/// Across two processes the class is pickled by value and B misses: the Inputs node is the
/// culprit, but the model is opaque, not changed.
#[test]
fn a_repr_with_a_memory_address_is_opaque_on_a_miss() {
    let c = case(&["repr_address_processes"]);
    let run = explain(c, &[]);
    let report = run.report();
    let got = run.json();
    assert_eq!(run.code(), Some(1), "a miss\n{report}");
    let culprits = got["culprits"].as_array().unwrap();
    assert_eq!(culprits.len(), 1, "{report}");
    let culprit = &culprits[0];
    assert_eq!(culprit["policy"], "Inputs", "{report}");
    assert_eq!(culprit["proof"], "proven", "{report}");
    assert_eq!(
        culprit["detail"]["changes"],
        Json::Array(Vec::new()),
        "the threshold's reprs differ only by address: no change\n{report}"
    );
    assert_eq!(
        culprit["detail"]["opaque"],
        serde_json::json!(["threshold"]),
        "{report}"
    );
    let summary = culprit["summary"].as_str().unwrap_or("");
    assert!(
        summary.contains("opaque") && !summary.contains("changed"),
        "{summary}\n{report}"
    );
    let headline = got["headline"].as_str().unwrap_or("");
    assert!(
        !headline.contains("changed"),
        "the headline calls the threshold changed: {headline}\n{report}"
    );
    let advice = advice_of(&got, "unhashable_input", &report);
    let fix = advice["fix"].as_str().unwrap_or("");
    assert_eq!(fix, "INPUTS + TASK_SOURCE - \"threshold\"", "{report}");
    let check = advice["check"].as_str().unwrap_or("");
    assert!(
        check.contains("A and B would share one key"),
        "{check}\n{report}"
    );
}

// ---------------------------------------------------------------------------------------------
// Item 7: a fix keeps what `.configure()` set.

#[test]
fn a_fix_keeps_key_storage_isolation_and_lock_manager() {
    for task in ["summarize", "publish"] {
        let c = case(&["configured", task]);
        let run = explain(c, &[]);
        let report = run.report();
        let got = run.json();
        assert_eq!(run.code(), Some(1), "a miss on a comment edit\n{report}");
        let advice = advice_of(&got, "cosmetic_source_edit", &report);
        // The fix the scenario wrote into the file and saw Prefect serve from the cache.
        let want = text(c, "fix");
        assert_eq!(advice["fix"], want.as_str(), "{report}");
        let fix = parse_policy(&want).unwrap_or_else(|e| panic!("{want}: {e}\n{report}"));
        assert_eq!(
            fix.kind,
            PolicyKind::Inputs {
                exclude: Vec::new()
            },
            "{report}"
        );
        let key_storage = text(c, "key_storage");
        assert_eq!(
            fix.configure
                .key_storage
                .as_deref()
                .and_then(storage_path)
                .as_deref(),
            Some(key_storage.as_str()),
            "{report}"
        );
        if task == "publish" {
            assert_eq!(
                fix.configure.isolation_level.as_deref(),
                Some("SERIALIZABLE"),
                "{report}"
            );
            assert_eq!(
                fix.configure.lock_manager.as_deref(),
                Some("py:LOCKS"),
                "{report}"
            );
        }
        let check = advice["check"].as_str().unwrap_or("");
        assert!(
            check.contains("A and B would share one key"),
            "{check}\n{report}"
        );
        // What Prefect did with the fix in the file: one key across a comment edit, the second
        // run served from the cache. cachescope agrees that those two runs share A's and B's
        // Inputs key.
        let fixed: Vec<String> = c["fixed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect();
        let run = Run::new(&["explain", &fixed[0], &fixed[1], "--json"]);
        let report = run.report();
        assert_eq!(run.code(), Some(0), "{report}");
        assert_eq!(run.json()["verdict"], "hit", "{report}");
    }
}

// ---------------------------------------------------------------------------------------------
// Item 5: a task whose file is gone cannot be checked, whatever its policy.

#[test]
fn check_on_a_moved_project_cannot_check_any_task() {
    let m = case(&["moved"]);
    let runs = text(m, "runs");
    let tasks: Vec<&str> = m["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Json::as_str)
        .collect();

    let run = Run::new(&["check", &runs]);
    let report = run.report();
    assert_eq!(run.code(), Some(2), "{report}");
    let stdout = run.stdout();
    let summary = stdout.lines().last().unwrap_or("");
    assert_eq!(
        summary,
        format!(
            "{n} tasks checked: 0 would miss because the code or configuration changed, {n} \
             could not be checked",
            n = tasks.len()
        ),
        "{report}"
    );
    let stderr = run.stderr();
    for task in &tasks {
        assert!(
            stderr.contains(&format!("cannot check `{task}`")),
            "`{task}` (its decorator cannot be read) is not reported\n{report}"
        );
    }

    let run = Run::new(&["check", &runs, "--json"]);
    let report = run.report();
    assert_eq!(run.code(), Some(2), "{report}");
    let lines = run.json_lines();
    let mut named: Vec<&str> = lines.iter().filter_map(|l| l["task"].as_str()).collect();
    named.sort();
    assert_eq!(named, tasks, "{report}");
    for line in &lines {
        assert_eq!(line["status"], "error", "{report}");
        assert!(
            line["error"]
                .as_str()
                .is_some_and(|e| e.contains("source file not found")),
            "{report}"
        );
    }
}

#[test]
fn keys_live_on_a_moved_project_errs_on_every_record() {
    let m = case(&["moved"]);
    let runs = text(m, "runs");
    let run = Run::new(&["keys", &runs, "--live", "--json"]);
    let report = run.report();
    assert_eq!(run.code(), Some(2), "{report}");
    let lines = run.json_lines();
    assert_eq!(
        lines.len(),
        m["records"].as_u64().unwrap() as usize,
        "{report}"
    );
    for line in &lines {
        assert_eq!(line["status"], "error", "{}: {report}", line["task"]);
        assert_ne!(line["verdict"], "hit", "{report}");
        assert!(
            line["error"]
                .as_str()
                .is_some_and(|e| e.contains("source file not found")),
            "{report}"
        );
        assert!(line["source"]["error"].is_string(), "{report}");
    }
    // Without --live the records still verify: only the live check needs the file.
    let run = Run::new(&["keys", &runs]);
    assert_eq!(run.code(), Some(0), "{}", run.report());
}
