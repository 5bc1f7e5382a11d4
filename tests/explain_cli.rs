//! `cachescope explain` and `cachescope check` on the recorded stories of `sample-runs/`: every
//! story gets its culprit or its cause, with proof and evidence; the JSON follows
//! docs/explain-json.md; the exit statuses follow cli.md. Live cases edit a temporary copy of
//! the sample project (never sample-runs/ itself). The text output is pinned with insta
//! snapshots, with the record names, ids and keys filtered so that a regeneration of the sample
//! runs with the same stories keeps them.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cachescope::hash::hash_objects;
use cachescope::pyjson::{SortKeys, Value, parse};
use cachescope::record::RunRecord;
use serde_json::Value as Json;

// ---------------------------------------------------------------------------------------------
// Helpers.

fn run_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(support::cachescope_bin())
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run cachescope")
}

/// Runs cachescope from the repository root, so record paths print as `sample-runs/...`.
fn run(args: &[&str]) -> Output {
    run_in(&support::repo_root(), args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Json {
    let text = stdout(out);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}\nstderr: {}", stderr(out)))
}

/// The record of `task` in `<root>/runs/<story...>/<run...>/` (story and run by prefix).
fn record_in(root: &Path, story: &str, run_prefix: &str, task: &str) -> PathBuf {
    let runs = root.join("runs");
    let story_dir = fs::read_dir(&runs)
        .unwrap_or_else(|e| panic!("{}: {e}", runs.display()))
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(story))
        })
        .unwrap_or_else(|| panic!("no story {story}* in {}", runs.display()));
    let run_dir = fs::read_dir(&story_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", story_dir.display()))
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(run_prefix))
        })
        .unwrap_or_else(|| panic!("no run {run_prefix}* in {}", story_dir.display()));
    let marker = format!("-{task}-");
    fs::read_dir(&run_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(&marker))
        })
        .unwrap_or_else(|| panic!("no {task} record in {}", run_dir.display()))
}

/// A sample record, as a path relative to the repository root.
fn sample(story: &str, run_prefix: &str, task: &str) -> String {
    let root = support::repo_root();
    let full = record_in(&root.join("sample-runs"), story, run_prefix, task);
    full.strip_prefix(&root).unwrap().display().to_string()
}

fn load(path: &Path) -> RunRecord {
    let text = fs::read_to_string(path).unwrap();
    RunRecord::from_value(parse(&text).unwrap()).unwrap()
}

fn explain_json(args: &[&str]) -> (Json, Option<i32>) {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = run(&all);
    (json(&out), out.status.code())
}

fn culprit_policies(e: &Json) -> Vec<(String, String)> {
    e["culprits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["policy"].as_str().unwrap().to_string(),
                c["proof"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn advice_kinds(e: &Json) -> Vec<String> {
    e["advice_detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_string())
        .collect()
}

fn cause_kinds(e: &Json) -> Vec<String> {
    e["non_key_causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_string())
        .collect()
}

/// A copy of sample-runs (project, runs and storage) to edit.
fn sample_copy() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for e in fs::read_dir(from).unwrap().flatten() {
            let p = e.path();
            let target = to.join(e.file_name());
            if p.is_dir() {
                copy(&p, &target);
            } else {
                fs::copy(&p, &target).unwrap();
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    copy(
        &support::repo_root().join("sample-runs"),
        &tmp.path().join("sample-runs"),
    );
    tmp
}

/// Replaces `from` by `to` in the copy's etl.py, which must contain `from` exactly once.
fn edit_etl(copy: &Path, from: &str, to: &str) {
    let path = copy.join("sample-runs/project/etl.py");
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches(from).count(), 1, "{from:?} in etl.py");
    fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// The 1-based line of the copy's etl.py that contains `needle`.
fn etl_line(copy: &Path, needle: &str) -> usize {
    let text = fs::read_to_string(copy.join("sample-runs/project/etl.py")).unwrap();
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in etl.py"))
        + 1
}

/// Insta settings that hide what a regeneration of the sample runs changes: record file names,
/// ids, keys, times and temporary folders.
fn snapshot_settings(tmp: Option<&Path>) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    if let Some(tmp) = tmp {
        s.add_filter(&regex_escape(&tmp.display().to_string()), "[tmp]");
    }
    s.add_filter(r"\d{8}T\d{9}-[a-z_]+-[0-9a-f-]{36}\.json", "[record].json");
    s.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[uuid]",
    );
    s.add_filter(r"\b[0-9a-f]{32}\b", "[key]");
    s.add_filter(r"\b[0-9a-f]{12}…", "[key…]");
    s.add_filter(r"\b[0-9a-f]{8}…", "[id…]");
    s.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]");
    s
}

fn regex_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The stories, one record given: A is found among the earlier runs.

/// 01: `transform` has DEFAULT, whose RunId changes with every flow run.
#[test]
fn story_01_default_policy_misses_on_run_id_with_a_checked_fix() {
    let b = sample("01-cold-and-hit", "run-2", "transform");
    let (e, code) = explain_json(&[&b]);
    assert_eq!(code, Some(1), "{e:#}");
    assert_eq!(e["verdict"], "miss");
    assert_eq!(e["pairing"], "same-inputs");
    assert_eq!(
        e["a"].as_str().unwrap(),
        sample("01-cold-and-hit", "run-1", "transform")
    );
    assert_eq!(culprit_policies(&e), [("RunId".into(), "proven".into())]);
    let detail = &e["culprits"][0]["detail"];
    let (ra, rb) = (
        load(&support::repo_root().join(e["a"].as_str().unwrap())),
        load(&support::repo_root().join(&b)),
    );
    assert_eq!(
        detail["a"].as_str(),
        ra.flow.as_ref().unwrap().run_id.as_deref()
    );
    assert_eq!(
        detail["b"].as_str(),
        rb.flow.as_ref().unwrap().run_id.as_deref()
    );
    assert_eq!(detail["scope"], "flow run");
    let advice = &e["advice_detail"][0];
    assert_eq!(advice["kind"], "default_run_id");
    assert_eq!(advice["fix"], "INPUTS + TASK_SOURCE");
    let check = advice["check"].as_str().unwrap();
    assert!(
        check.starts_with("with `INPUTS + TASK_SOURCE`, A and B would share one key"),
        "{check}"
    );
    // The tasks that hit in the same runs are explained as hits.
    for task in ["extract", "clean", "load"] {
        let (e, code) = explain_json(&[&sample("01-cold-and-hit", "run-2", task)]);
        assert_eq!(
            (e["verdict"].as_str(), code),
            (Some("hit"), Some(0)),
            "{task}: {e:#}"
        );
        assert!(e["culprits"].as_array().unwrap().is_empty());
        assert_eq!(e["key_a"], e["key_b"]);
    }
}

/// 02: `clean` was edited between the runs; `load` hit with stale inputs.
#[test]
fn story_02_source_edit_is_a_proven_code_change_with_the_files_line_numbers() {
    let b = sample("02-source-edit", "run-2", "clean");
    let (e, code) = explain_json(&[&b]);
    assert_eq!(code, Some(1));
    assert_eq!(
        culprit_policies(&e),
        [("TaskSource".into(), "proven".into())]
    );
    assert_eq!(e["culprits"][0]["path"], "0");
    let d = &e["culprits"][0]["detail"];
    assert_eq!(d["file"], "etl.py");
    assert_eq!(d["classification"], "code");
    assert_eq!(d["cosmetic_kinds"], serde_json::json!([]));
    // The edited line, where it is in the (edited) project file.
    let root = support::repo_root();
    let line = etl_line(&root, r#"if row["status"] in ("refund", "cancelled")"#);
    let rec = load(&root.join(&b));
    let first = rec.task.line.unwrap() as usize;
    assert_eq!(d["lines_b"][0], first);
    assert_eq!(
        d["lines_b"][1],
        first + rec.task.source.as_deref().unwrap().lines().count() - 1
    );
    let summary = e["culprits"][0]["summary"].as_str().unwrap();
    assert_eq!(
        summary,
        format!("source changed: 1 line in etl.py:{line} (code)")
    );
    let diff = d["diff"].as_str().unwrap();
    assert!(
        diff.starts_with("--- a/etl.py\n+++ b/etl.py\n@@ -"),
        "{diff}"
    );
    assert!(diff.contains(&format!(" +{},7 @@", line - 3)), "{diff}");
    assert!(
        diff.contains("\n-        if row[\"status\"] == \"refund\" or"),
        "{diff}"
    );
    assert!(
        diff.contains("\n+        if row[\"status\"] in (\"refund\", \"cancelled\") or"),
        "{diff}"
    );
    assert_eq!(
        e["headline"],
        format!("`clean` missed because you changed the code of `clean` (etl.py:{line}).")
    );

    // `load` does not hash its inputs: served A's result though `totals` changed.
    let (e, code) = explain_json(&[&sample("02-source-edit", "run-2", "load")]);
    assert_eq!((e["verdict"].as_str(), code), (Some("hit"), Some(0)));
    assert_eq!(e["pairing"], "latest-earlier");
    // Not an advice kind of the contract: a note, with its checked fix.
    assert!(advice_kinds(&e).is_empty());
    let note = e["notes"][0].as_str().unwrap();
    assert!(note.contains("`totals`"), "{note}");
    assert!(
        note.ends_with(
            "Fix: cache_policy=INPUTS + FLOW_PARAMETERS + TASK_SOURCE (with `INPUTS + \
             FLOW_PARAMETERS + TASK_SOURCE`, B would have got its own key and run)."
        ),
        "{note}"
    );
}

/// 03: another day: `extract` misses on its input, `transform` on its input and its run id.
#[test]
fn story_03_input_change_names_the_argument_with_values_and_hashes() {
    let (e, code) = explain_json(&[&sample("03-input-change", "run-2", "extract")]);
    assert_eq!(code, Some(1));
    assert_eq!(e["pairing"], "latest-earlier");
    assert_eq!(culprit_policies(&e), [("Inputs".into(), "proven".into())]);
    let d = &e["culprits"][0]["detail"];
    assert_eq!(
        d["changes"],
        serde_json::json!([{"argument": "day", "path": "day", "change": "changed",
                            "old": "2024-03-01", "new": "2024-03-02"}])
    );
    let h = |s: &str| hash_objects(&[&Value::Str(s.into())], SortKeys::Python).unwrap();
    assert_eq!(d["argument_hashes"]["day"]["a"], h("2024-03-01"));
    assert_eq!(d["argument_hashes"]["day"]["b"], h("2024-03-02"));
    assert_eq!(d["exclude"], serde_json::json!({"a": [], "b": []}));

    // DEFAULT: both RunId and Inputs changed, and only together give A's key.
    let (e, _) = explain_json(&[&sample("03-input-change", "run-2", "transform")]);
    assert_eq!(
        culprit_policies(&e),
        [
            ("RunId".into(), "pair".into()),
            ("Inputs".into(), "pair".into())
        ]
    );
    assert_eq!(e["culprits"][0]["with"], serde_json::json!(["2"]));
    assert_eq!(e["culprits"][1]["with"], serde_json::json!(["1"]));
    let changes = e["culprits"][1]["detail"]["changes"].as_array().unwrap();
    assert!(changes.iter().all(|c| c["argument"] == "rows"));
    assert!(
        changes
            .iter()
            .any(|c| c["path"].as_str().unwrap().starts_with("rows[0].")),
        "nested paths: {changes:?}"
    );
}

/// 04: `clean` excludes `log_every` and hits; `load` hashes every flow parameter and misses.
#[test]
fn story_04_excluded_input_hits_and_flow_parameters_miss() {
    let (e, code) = explain_json(&[&sample("04-excluded", "run-2", "clean")]);
    assert_eq!((e["verdict"].as_str(), code), (Some("hit"), Some(0)));
    assert_eq!(e["pairing"], "same-inputs");
    // The excluded input changed: B was served a result computed with another `log_every`,
    // which the stale hit says (issue 8, item 8) instead of a note.
    assert_eq!(e["notes"], serde_json::json!([]));
    assert_eq!(e["stale_hit"]["from_a"], true);
    assert_eq!(
        e["stale_hit"]["changes"],
        serde_json::json!([{"argument": "log_every", "path": "log_every", "change": "changed", "old": 1000, "new": 10}])
    );
    assert!(
        e["headline"]
            .as_str()
            .unwrap()
            .starts_with("`clean` hit, but was served a result computed from other inputs: its input `log_every` changed (1000 -> 10)"),
        "{}",
        e["headline"]
    );

    let (e, code) = explain_json(&[&sample("04-excluded", "run-2", "load")]);
    assert_eq!(code, Some(1));
    assert_eq!(
        culprit_policies(&e),
        [("FlowParameters".into(), "proven".into())]
    );
    let d = &e["culprits"][0]["detail"];
    assert_eq!(d["changes"][0]["path"], "log_every");
    assert_eq!(
        (
            d["changes"][0]["old"].as_i64(),
            d["changes"][0]["new"].as_i64()
        ),
        (Some(1000), Some(10))
    );
    // FLOW_PARAMETERS missed on a parameter `load` does not receive: a note with a checked fix.
    assert!(advice_kinds(&e).is_empty());
    let note = e["notes"][0].as_str().unwrap();
    assert!(
        note.starts_with("FLOW_PARAMETERS hashes every parameter"),
        "{note}"
    );
    assert!(
        note.contains(
            "Fix: cache_policy=INPUTS + TASK_SOURCE (with `INPUTS + TASK_SOURCE`, A and B would \
             share one key"
        ),
        "{note}"
    );
}

/// 05: same key, but A's result had expired when B looked.
#[test]
fn story_05_expired_is_a_non_key_cause_with_the_time() {
    let b = sample("05-expired", "run-2", "extract");
    let (e, code) = explain_json(&[&b]);
    assert_eq!(code, Some(1));
    assert_eq!(e["key_a"], e["key_b"]);
    assert!(e["culprits"].as_array().unwrap().is_empty());
    assert_eq!(cause_kinds(&e), ["expired"]);
    let a = load(&support::repo_root().join(e["a"].as_str().unwrap()));
    assert_eq!(
        e["non_key_causes"][0]["detail"]["expired_at"].as_str(),
        a.outcome.cache_expiration.as_deref()
    );
}

/// 06: same key, valid record, but B ran with refresh_cache; `load` misses on a parameter.
#[test]
fn story_06_refresh_cache_and_a_flow_parameter() {
    let (e, code) = explain_json(&[&sample("06-refresh-cache", "run-2", "extract")]);
    assert_eq!(code, Some(1));
    assert_eq!(cause_kinds(&e), ["refresh_cache"]);
    assert!(e["culprits"].as_array().unwrap().is_empty());
    let (e, _) = explain_json(&[&sample("06-refresh-cache", "run-2", "load")]);
    assert_eq!(
        culprit_policies(&e),
        [("FlowParameters".into(), "proven".into())]
    );
    assert_eq!(
        e["culprits"][0]["detail"]["changes"][0]["argument"],
        "refresh_extract"
    );
}

/// 07: cloudpickled input: the key could not be checked; it happened to be stable and hit.
#[test]
fn story_07_opaque_input_hits_with_unhashable_input_advice() {
    let (e, code) = explain_json(&[&sample("07-opaque-input", "run-2", "publish")]);
    assert_eq!((e["verdict"].as_str(), code), (Some("hit"), Some(0)));
    assert_eq!(advice_kinds(&e), ["unhashable_input"]);
    let advice = &e["advice_detail"][0];
    assert_eq!(advice["fix"], "INPUTS + TASK_SOURCE - \"channel\"");
    assert!(
        advice["check"]
            .as_str()
            .unwrap()
            .contains("A and B would share one key")
    );
}

/// 08: same elements, another set order (PYTHONHASHSEED).
#[test]
fn story_08_set_of_strings_in_another_order() {
    let (e, code) = explain_json(&[&sample("08-set-of-strings", "run-2", "clean")]);
    assert_eq!(code, Some(1));
    assert_eq!(
        e["pairing"], "same-inputs",
        "sets are compared as sets for pairing"
    );
    assert_eq!(culprit_policies(&e), [("Inputs".into(), "proven".into())]);
    let change = &e["culprits"][0]["detail"]["changes"][0];
    assert_eq!(change["path"], "regions");
    assert!(change["note"].as_str().unwrap().contains("PYTHONHASHSEED"));
    assert_eq!(change["old"]["__class__"], "builtins.set");
    assert_eq!(advice_kinds(&e), ["set_of_strings"]);
    let advice = &e["advice_detail"][0];
    assert_eq!(advice["fix"], Json::Null);
    assert!(
        advice["check"]
            .as_str()
            .unwrap()
            .contains("A and B would share one key")
    );
}

// ---------------------------------------------------------------------------------------------
// Two records, --runs, --policy.

#[test]
fn two_records_are_compared_as_given() {
    let a = sample("02-source-edit", "run-1", "clean");
    let b = sample("02-source-edit", "run-2", "clean");
    let (e, code) = explain_json(&[&a, &b]);
    assert_eq!(code, Some(1));
    assert_eq!(
        (e["a"].as_str(), e["b"].as_str()),
        (Some(a.as_str()), Some(b.as_str()))
    );
    assert_eq!(e["pairing"], "explicit");
    assert_eq!(
        culprit_policies(&e),
        [("TaskSource".into(), "proven".into())]
    );
    // The other way round, B's entry is what A missed: the same culprit, the diff reversed.
    let (r, _) = explain_json(&[&b, &a]);
    assert_eq!(
        culprit_policies(&r),
        [("TaskSource".into(), "proven".into())]
    );
    assert!(
        r["culprits"][0]["detail"]["diff"]
            .as_str()
            .unwrap()
            .contains("\n-        if row[\"status\"] in")
    );
}

#[test]
fn runs_folder_decides_where_earlier_runs_are_found() {
    let b = sample("02-source-edit", "run-2", "clean");
    let (e, _) = explain_json(&[&b, "--runs", "sample-runs/runs/02-source-edit"]);
    assert_eq!(
        e["a"].as_str().unwrap(),
        sample("02-source-edit", "run-1", "clean")
    );
    // Only B's own run folder: nothing earlier, a clear error.
    let out = run(&[
        "explain",
        &b,
        "--runs",
        "sample-runs/runs/02-source-edit/run-2-after-edit",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no earlier run of `clean`"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn what_if_recomputes_both_sides_under_another_policy() {
    let b = sample("01-cold-and-hit", "run-2", "transform");
    let (e, code) = explain_json(&[&b, "--policy", "INPUTS + TASK_SOURCE"]);
    assert_eq!(code, Some(1), "the real verdict decides the exit status");
    let w = &e["what_if"];
    assert_eq!(w["policy"], "INPUTS + TASK_SOURCE");
    assert_eq!(w["verdict"], "hit");
    assert_eq!(w["key_a"], w["key_b"]);
    let (e, _) = explain_json(&[
        &sample("03-input-change", "run-2", "extract"),
        "--policy",
        "TASK_SOURCE",
    ]);
    assert_eq!(e["what_if"]["verdict"], "hit");
    let (e, _) = explain_json(&[
        &sample("03-input-change", "run-2", "extract"),
        "--policy",
        "DEFAULT",
    ]);
    assert_eq!(e["what_if"]["verdict"], "miss");
    // Refresh_cache still stops a hit under any policy.
    let (e, _) = explain_json(&[
        &sample("06-refresh-cache", "run-2", "extract"),
        "--policy",
        "TASK_SOURCE",
    ]);
    assert_eq!(e["what_if"]["verdict"], "miss");
    assert!(
        e["what_if"]["reason"]
            .as_str()
            .unwrap()
            .contains("refresh_cache")
    );
    // Opaque inputs: the Inputs node the records have keeps the key each record holds for it
    // (Prefect's cloudpickle bytes were stable here: both runs recorded one Inputs key, and B
    // hit); left out, they are recomputed; hashed under another exclude list, whose key no
    // record holds, the what-if cannot tell.
    let p = sample("07-opaque-input", "run-2", "publish");
    let (e, _) = explain_json(&[&p, "--policy", "INPUTS"]);
    assert_eq!(e["what_if"]["verdict"], "hit");
    let a = load(&support::repo_root().join(e["a"].as_str().unwrap()));
    let inputs = &a.policy.as_ref().unwrap().children()[1];
    let inputs_key = inputs.recorded.as_ref().unwrap().key.as_deref().unwrap();
    assert_eq!(inputs.class_name(), "Inputs");
    assert_eq!(e["what_if"]["key_a"], inputs_key);
    assert_eq!(e["what_if"]["key_b"], inputs_key);
    let (e, _) = explain_json(&[&p, "--policy", "INPUTS - 'channel'"]);
    assert_eq!(e["what_if"]["verdict"], "hit");
    let (e, _) = explain_json(&[&p, "--policy", "INPUTS - 'totals'"]);
    assert_eq!(e["what_if"]["verdict"], "unknown");
}

// ---------------------------------------------------------------------------------------------
// Live: the next run against the project as it is now (edited copies).

fn live_json(copy: &Path, record: &Path, extra: &[&str]) -> (Json, Option<i32>) {
    let rec = record.display().to_string();
    let mut args = vec!["explain", rec.as_str(), "--live", "--json"];
    args.extend_from_slice(extra);
    let out = run_in(copy, &args);
    (json(&out), out.status.code())
}

#[test]
fn live_comment_edit_is_cosmetic_with_advice() {
    let tmp = sample_copy();
    let root = tmp.path().join("sample-runs");
    edit_etl(
        tmp.path(),
        "    kept = []\n",
        "    # Cancelled orders never count.\n    kept = []\n",
    );
    let line = etl_line(tmp.path(), "# Cancelled orders never count.");
    let rec = record_in(&root, "08-set-of-strings", "run-2", "clean");
    let (e, code) = live_json(tmp.path(), &rec, &[]);
    assert_eq!(code, Some(1), "{e:#}");
    assert_eq!(e["b"], "live");
    assert_eq!(e["verdict"], "miss");
    assert_eq!(
        culprit_policies(&e),
        [("TaskSource".into(), "proven".into())]
    );
    let d = &e["culprits"][0]["detail"];
    assert_eq!(d["classification"], "cosmetic");
    assert_eq!(d["cosmetic_kinds"], serde_json::json!(["comment"]));
    assert_eq!(
        e["headline"],
        format!(
            "The next run of `clean` would miss because you edited a comment in `clean` (etl.py:{line})."
        )
    );
    assert_eq!(advice_kinds(&e), ["cosmetic_source_edit"]);
    // The live key is the key of the edited source: recorded inputs, new text.
    assert_ne!(e["key_b"], e["key_a"]);
    assert_eq!(e["key_b"].as_str().unwrap().len(), 32);
}

#[test]
fn live_docstring_code_and_decorator_edits_are_classified() {
    let cases = [
        (
            "    \"\"\"Reads the day's order export.\"\"\"",
            "    \"\"\"Reads the day's order export (a CSV file).\"\"\"",
            "cosmetic",
            vec!["docstring"],
        ),
        (
            "        return list(csv.DictReader(handle))",
            "        return list(csv.DictReader(handle, delimiter=\",\"))",
            "code",
            vec![],
        ),
        (
            "@task(cache_policy=INPUTS + TASK_SOURCE)\ndef extract(",
            "@task(cache_policy=INPUTS + TASK_SOURCE, retries=2)\ndef extract(",
            "code",
            vec!["decorator"],
        ),
        (
            "def extract(day: str) -> list[dict[str, str]]:\n",
            "def extract(day: str) -> list[dict[str, str]]:\n\n",
            "cosmetic",
            vec!["blank"],
        ),
    ];
    for (from, to, classification, kinds) in cases {
        let tmp = sample_copy();
        edit_etl(tmp.path(), from, to);
        let rec = record_in(
            &tmp.path().join("sample-runs"),
            "08-set-of-strings",
            "run-2",
            "extract",
        );
        let (e, code) = live_json(tmp.path(), &rec, &[]);
        assert_eq!(code, Some(1), "{to}: {e:#}");
        assert_eq!(
            culprit_policies(&e),
            [("TaskSource".into(), "proven".into())],
            "{to}"
        );
        let d = &e["culprits"][0]["detail"];
        assert_eq!(d["classification"], classification, "{to}");
        assert_eq!(d["cosmetic_kinds"], serde_json::json!(kinds), "{to}");
    }
}

#[test]
fn live_unchanged_source_hits_and_injected_now_decides_expiry() {
    let tmp = sample_copy();
    let root = tmp.path().join("sample-runs");
    let rec = record_in(&root, "08-set-of-strings", "run-2", "extract");
    let (e, code) = live_json(tmp.path(), &rec, &[]);
    assert_eq!(
        (e["verdict"].as_str(), code),
        (Some("hit"), Some(0)),
        "{e:#}"
    );
    assert_eq!(e["key_a"], e["key_b"]);
    assert!(e["culprits"].as_array().unwrap().is_empty());

    // 05: the stored extract expires 3 s after it was written.
    let rec = record_in(&root, "05-expired", "run-2", "extract");
    let record = load(&rec);
    let expires = record.outcome.cache_expiration.clone().unwrap();
    let before = record.recorded_at.clone().unwrap();
    let (e, code) = live_json(tmp.path(), &rec, &["--now", &before]);
    assert_eq!(
        (e["verdict"].as_str(), code),
        (Some("hit"), Some(0)),
        "{e:#}"
    );
    let (e, code) = live_json(tmp.path(), &rec, &["--now", &expires]);
    assert_eq!(
        (e["verdict"].as_str(), code),
        (Some("miss"), Some(1)),
        "{e:#}"
    );
    assert_eq!(cause_kinds(&e), ["expired"]);
    assert_eq!(
        e["non_key_causes"][0]["detail"]["expired_at"],
        expires.as_str()
    );
}

#[test]
fn live_deleted_result_is_no_record_and_run_id_has_no_next_key() {
    let tmp = sample_copy();
    let root = tmp.path().join("sample-runs");
    let rec = record_in(&root, "08-set-of-strings", "run-2", "extract");
    let key = load(&rec).key.unwrap();
    fs::remove_file(root.join("storage/08-set-of-strings").join(&key)).unwrap();
    let (e, code) = live_json(tmp.path(), &rec, &[]);
    assert_eq!((e["verdict"].as_str(), code), (Some("miss"), Some(1)));
    assert_eq!(cause_kinds(&e), ["no_record"]);

    let rec = record_in(&root, "08-set-of-strings", "run-2", "transform");
    let (e, code) = live_json(tmp.path(), &rec, &[]);
    assert_eq!((e["verdict"].as_str(), code), (Some("miss"), Some(1)));
    assert_eq!(
        e["key_b"],
        Json::Null,
        "the next run's key depends on its new id"
    );
    assert_eq!(culprit_policies(&e), [("RunId".into(), "proven".into())]);
    assert_eq!(e["culprits"][0]["detail"]["b"], "<the next flow run's id>");
    assert_eq!(advice_kinds(&e), ["default_run_id"]);
}

#[test]
fn live_with_the_task_gone_is_an_error_with_unknown_verdict() {
    let tmp = sample_copy();
    edit_etl(tmp.path(), "def clean(", "def clean_orders(");
    let rec = record_in(
        &tmp.path().join("sample-runs"),
        "08-set-of-strings",
        "run-2",
        "clean",
    );
    let out = run_in(
        tmp.path(),
        &["explain", &rec.display().to_string(), "--live", "--json"],
    );
    assert_eq!(out.status.code(), Some(2));
    let e = json(&out);
    assert_eq!(e["verdict"], "unknown");
    assert_eq!(e["key_b"], Json::Null);
    assert!(e["non_key_causes"].as_array().unwrap().is_empty(), "{e:#}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("no function \"clean\""),
        "{e:#}"
    );
    assert!(stderr(&out).contains("clean"), "{}", stderr(&out));
}

/// The decorator is where the policy is set: editing it gives the next run another tree.
#[test]
fn live_policy_edit_in_the_decorator_is_a_tree_change() {
    let tmp = sample_copy();
    edit_etl(
        tmp.path(),
        "@task(cache_policy=FLOW_PARAMETERS + TASK_SOURCE)",
        "@task(cache_policy=INPUTS + TASK_SOURCE)",
    );
    let rec = record_in(
        &tmp.path().join("sample-runs"),
        "08-set-of-strings",
        "run-2",
        "load",
    );
    let (e, code) = live_json(tmp.path(), &rec, &[]);
    assert_eq!(code, Some(1), "{e:#}");
    assert_eq!(
        culprit_policies(&e),
        [
            ("CompoundCachePolicy".into(), "pair".into()),
            ("TaskSource".into(), "pair".into())
        ]
    );
    let tree = &e["culprits"][0]["detail"];
    assert_eq!(tree["a"], "FLOW_PARAMETERS + TASK_SOURCE");
    assert_eq!(tree["b"], "INPUTS + TASK_SOURCE");
    assert_eq!(
        tree["changes"],
        serde_json::json!(["removed FlowParameters at 0", "added Inputs at 1"])
    );
    assert_eq!(
        e["culprits"][1]["detail"]["cosmetic_kinds"],
        serde_json::json!(["decorator"])
    );
    // The next key is the new policy's over the recorded inputs and the source as it is now.
    let src = fs::read_to_string(tmp.path().join("sample-runs/project/etl.py")).unwrap();
    let source_now = cachescope::source::find_function(
        &src,
        "load",
        None,
        cachescope::source::PythonVersion::new(3, 11),
    )
    .unwrap()
    .source;
    let record = load(&rec);
    let inputs = record.inputs.as_ref().unwrap();
    let tree = cachescope::policy::parse_policy("INPUTS + TASK_SOURCE").unwrap();
    let m = cachescope::engine::Material {
        source: Some(&source_now),
        inputs: Some(inputs),
        flow_parameters: None,
        run_id: None,
    };
    let want = cachescope::engine::evaluate(&tree, &m);
    assert_eq!(e["key_b"].as_str(), want.key());

    // Adding RUN_ID: the next key is not known, and the advice says why it never hits.
    let tmp = sample_copy();
    edit_etl(
        tmp.path(),
        "@task(cache_policy=INPUTS + TASK_SOURCE)\ndef extract",
        "@task(cache_policy=INPUTS + TASK_SOURCE + RUN_ID)\ndef extract",
    );
    let line = etl_line(
        tmp.path(),
        "@task(cache_policy=INPUTS + TASK_SOURCE + RUN_ID)",
    );
    let rec = record_in(
        &tmp.path().join("sample-runs"),
        "08-set-of-strings",
        "run-2",
        "extract",
    );
    let (e, code) = live_json(tmp.path(), &rec, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(e["key_b"], Json::Null);
    assert_eq!(
        e["headline"],
        format!(
            "The next run of `extract` would miss because you changed the cache policy in the \
             decorator of `extract` (etl.py:{line}: added RunId at 1)."
        )
    );
    assert_eq!(advice_kinds(&e), ["default_run_id"]);
    assert_eq!(e["advice_detail"][0]["fix"], "INPUTS + TASK_SOURCE");
}

// ---------------------------------------------------------------------------------------------
// check: the CI gate.

#[test]
fn check_passes_on_the_samples_and_fails_on_an_edit() {
    let out = run(&["check", "sample-runs"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out)
            .ends_with("tasks checked: 0 would miss because the code or configuration changed\n"),
        "{}",
        stdout(&out)
    );

    let tmp = sample_copy();
    edit_etl(
        tmp.path(),
        "totals: dict[str, Decimal] = {}",
        "totals: dict[str, Decimal] = {}  # per region",
    );
    let line = etl_line(tmp.path(), "# per region");
    let out = run_in(tmp.path(), &["check", "sample-runs"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with(&format!(
            "transform: would miss because you edited a comment in `transform` (etl.py:{line})"
        )),
        "{text}"
    );
    // RunId alone (every flow run) is not a change to the code: not reported.
    assert!(!text.contains("new id"), "{text}");

    let out = run_in(tmp.path(), &["check", "sample-runs", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<Json> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one line per task that would miss: {lines:?}"
    );
    assert_eq!(
        (
            lines[0]["task"].as_str(),
            lines[0]["status"].as_str(),
            lines[0]["verdict"].as_str()
        ),
        (Some("transform"), Some("changed"), Some("miss"))
    );
    let out = run(&["check", "sample-runs", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

#[test]
fn check_fails_on_a_configuration_change() {
    let tmp = sample_copy();
    edit_etl(
        tmp.path(),
        "@task(cache_policy=(INPUTS + TASK_SOURCE) - \"log_every\")",
        "@task(cache_policy=INPUTS + TASK_SOURCE)",
    );
    let line = etl_line(tmp.path(), "def clean(") - 1;
    let out = run_in(tmp.path(), &["check", "sample-runs"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "clean: would miss because you changed the cache policy in the decorator of `clean` \
             (etl.py:{line}: Inputs exclude ['log_every'] -> [])"
        )),
        "{text}"
    );
}

#[test]
fn check_reports_a_task_it_cannot_check_and_exits_2() {
    let tmp = sample_copy();
    edit_etl(tmp.path(), "def load(", "def load_totals(");
    fs::write(
        tmp.path().join("sample-runs/runs/broken.json"),
        "{\"format\": ",
    )
    .unwrap();
    let out = run_in(tmp.path(), &["check", "sample-runs"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("broken.json"), "{err}");
    assert!(err.contains("cannot check `load`"), "{err}");
    assert!(
        stdout(&out).contains("2 could not be checked"),
        "{}",
        stdout(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// Errors and the contract.

#[test]
fn errors_name_the_file_and_exit_2() {
    let out = run(&["explain", "sample-runs/runs/nope.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("sample-runs/runs/nope.json: no such file"),
        "{}",
        stderr(&out)
    );

    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.json");
    fs::write(
        &bad,
        "{\"format\": \"cachescope/run-record@1\", \"task\": {}}",
    )
    .unwrap();
    let out = run_in(tmp.path(), &["explain", "bad.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad.json:1:47: missing required field `task.name`"),
        "{}",
        stderr(&out)
    );

    let a = sample("02-source-edit", "run-1", "clean");
    let b = sample("02-source-edit", "run-2", "clean");
    let out = run(&["explain", &a, &b, "--live"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not both"));

    let out = run(&["explain", &b, "--policy", "INPUTS +"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--policy"), "{}", stderr(&out));

    // A cold run has nothing to be compared with.
    let out = run(&["explain", &sample("01-cold-and-hit", "run-1", "extract")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no earlier run of `extract`"),
        "{}",
        stderr(&out)
    );
}

/// Every sample record with an earlier run: the JSON has the contract's fields and values,
/// and the exit status follows the verdict.
#[test]
fn every_sample_explanation_follows_the_contract() {
    let kinds = [
        "default_run_id",
        "set_of_strings",
        "unhashable_input",
        "minus_without_inputs",
        "inputs_only_collision",
        "cosmetic_source_edit",
    ];
    let causes = [
        "expired",
        "refresh_cache",
        "no_record",
        "other_storage",
        "no_key",
    ];
    let mut explained = 0;
    let root = support::repo_root();
    for story in fs::read_dir(root.join("sample-runs/runs"))
        .unwrap()
        .flatten()
    {
        for run_dir in fs::read_dir(story.path()).unwrap().flatten() {
            for rec in fs::read_dir(run_dir.path()).unwrap().flatten() {
                let path = rec
                    .path()
                    .strip_prefix(&root)
                    .unwrap()
                    .display()
                    .to_string();
                let out = run(&["explain", &path, "--json"]);
                if out.status.code() == Some(2) {
                    assert!(
                        stderr(&out).contains("no earlier run"),
                        "{path}: {}",
                        stderr(&out)
                    );
                    continue;
                }
                explained += 1;
                let e = json(&out);
                for field in [
                    "a",
                    "b",
                    "task",
                    "pairing",
                    "verdict",
                    "key_a",
                    "key_b",
                    "culprits",
                    "unexplained",
                    "non_key_causes",
                    "advice",
                    "advice_detail",
                    "what_if",
                ] {
                    assert!(e.get(field).is_some(), "{path}: no {field}");
                }
                assert_eq!(e["b"], path.as_str());
                let verdict = e["verdict"].as_str().unwrap();
                let want = match verdict {
                    "hit" => 0,
                    "miss" => 1,
                    "unknown" => 0,
                    other => panic!("{path}: verdict {other}"),
                };
                assert_eq!(out.status.code(), Some(want), "{path}");
                assert!(
                    ["same-inputs", "latest-earlier"].contains(&e["pairing"].as_str().unwrap())
                );
                if verdict == "miss" {
                    assert!(
                        !e["culprits"].as_array().unwrap().is_empty()
                            || !e["non_key_causes"].as_array().unwrap().is_empty(),
                        "{path}: a miss with no culprit and no cause"
                    );
                }
                if e["key_a"] != e["key_b"] {
                    assert!(
                        e["unexplained"].is_null(),
                        "{path}: every sample difference is explained"
                    );
                }
                for c in e["culprits"].as_array().unwrap() {
                    for field in ["path", "policy", "summary", "proof", "detail"] {
                        assert!(c.get(field).is_some(), "{path}: culprit without {field}");
                    }
                    let proof = c["proof"].as_str().unwrap();
                    assert!(["proven", "pair", "unexplained"].contains(&proof));
                    assert_eq!(c.get("with").is_some(), proof == "pair", "{path}: {c}");
                }
                for c in e["non_key_causes"].as_array().unwrap() {
                    assert!(causes.contains(&c["kind"].as_str().unwrap()), "{c}");
                    assert!(c["summary"].is_string() && c["detail"].is_object());
                }
                let texts: Vec<&Json> = e["advice_detail"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| &a["text"])
                    .collect();
                let advice: Vec<&Json> = e["advice"].as_array().unwrap().iter().collect();
                assert_eq!(texts, advice, "{path}");
                for a in e["advice_detail"].as_array().unwrap() {
                    assert!(kinds.contains(&a["kind"].as_str().unwrap()), "{a}");
                    assert!(a["fix"].is_string() || a["fix"].is_null());
                    assert!(a["check"].is_string() || a["check"].is_null());
                    // A fix is a policy expression that cachescope itself evaluates.
                    if let Some(fix) = a["fix"].as_str() {
                        assert!(cachescope::policy::parse_policy(fix).is_ok(), "{fix}");
                    }
                }
            }
        }
    }
    assert!(explained >= 30, "only {explained} records explained");
}

// ---------------------------------------------------------------------------------------------
// The text, pinned.

fn text_of(args: &[&str]) -> String {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    stdout(&run(&all))
}

#[test]
fn text_snapshots_of_the_stories() {
    let settings = snapshot_settings(None);
    settings.bind(|| {
        insta::assert_snapshot!(
            "explain_02_source_edit_clean",
            text_of(&[&sample("02-source-edit", "run-2", "clean")])
        );
        insta::assert_snapshot!(
            "explain_03_input_change_transform",
            text_of(&[&sample("03-input-change", "run-2", "transform")])
        );
        insta::assert_snapshot!(
            "explain_04_flow_parameters_load",
            text_of(&[&sample("04-excluded", "run-2", "load")])
        );
        insta::assert_snapshot!(
            "explain_05_expired_extract",
            text_of(&[&sample("05-expired", "run-2", "extract")])
        );
        insta::assert_snapshot!(
            "explain_07_opaque_publish",
            text_of(&[&sample("07-opaque-input", "run-2", "publish")])
        );
        insta::assert_snapshot!(
            "explain_08_set_of_strings_clean",
            text_of(&[
                &sample("08-set-of-strings", "run-2", "clean"),
                "--policy",
                "INPUTS + TASK_SOURCE"
            ])
        );
    });
}

#[test]
fn text_snapshot_of_a_live_comment_edit() {
    let tmp = sample_copy();
    edit_etl(
        tmp.path(),
        "    kept = []\n",
        "    # Cancelled orders never count.\n    kept = []\n",
    );
    let rec = record_in(
        &tmp.path().join("sample-runs"),
        "08-set-of-strings",
        "run-2",
        "clean",
    );
    let out = run_in(
        tmp.path(),
        &["explain", &rec.display().to_string(), "--live"],
    );
    assert_eq!(out.status.code(), Some(1));
    snapshot_settings(Some(tmp.path())).bind(|| {
        insta::assert_snapshot!("explain_live_comment_edit", stdout(&out));
    });
}
