//! The verdicts of `explain`, `keys --live` and `check` against what real Prefect 3.9.1 did, in
//! the cases issue 8 found them wrong on real flows:
//! - item 1: a task keyed on INPUTS only was served another task's entry (`Cached`), and
//!   `explain` called it a miss ("its input changed", exit 1) and listed a task twice in its
//!   advice;
//! - item 6: a project's own `CachePolicy` subclass (and a `cache_key_fn`) that returns the time
//!   gave another key on every run, yet the live verdict was "would hit: its key is unchanged".
//!
//! `tests/e2e/verdict_scenarios.py` records the flows of `tests/e2e/verdicts/` with the
//! recorder, checks that Prefect did what each scenario claims (which runs were `Cached`, what
//! the flow returned, that the next real run computed a new key and ran), and writes a manifest.
//! It starts a Prefect server (~15 s), so it runs once per test binary.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value as Json;

struct Scenarios {
    dir: PathBuf,
    manifest: Json,
}

fn scenarios() -> &'static Scenarios {
    static SCENARIOS: OnceLock<Scenarios> = OnceLock::new();
    SCENARIOS.get_or_init(|| {
        let (dir, out) =
            support::record_scenarios("explain-verdicts-", "tests/e2e/verdict_scenarios.py");
        let text = fs::read_to_string(out.join("manifest.json")).expect("manifest.json");
        Scenarios {
            dir,
            manifest: serde_json::from_str(&text).expect("manifest.json is JSON"),
        }
    })
}

fn field<'a>(v: &'a Json, path: &str) -> &'a Json {
    path.split('.').fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => &v[i],
        Err(_) => &v[k],
    })
}

fn text(v: &Json, path: &str) -> String {
    field(v, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path} is not a string: {}", field(v, path)))
        .to_string()
}

fn cachescope(args: &[&str]) -> Output {
    Command::new(support::cachescope_bin())
        .args(args)
        .output()
        .expect("run cachescope")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `cachescope explain ARGS --json`: the JSON, the exit status, and a report for failures.
fn explain_json(args: &[&str]) -> (Json, Option<i32>, String) {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = cachescope(&all);
    let report = format!(
        "$ cachescope {}\nexit {:?}\n{}\n{}\n(files in {})",
        all.join(" "),
        out.status.code(),
        stdout(&out),
        stderr(&out),
        scenarios().dir.display()
    );
    let json =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("not JSON: {e}\n{report}"));
    (json, out.status.code(), report)
}

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn record(path: &str) -> Json {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Item 1: served another task's entry.

#[test]
fn a_run_served_another_tasks_entry_is_a_hit_that_says_whose_entry_it_was() {
    let m = &scenarios().manifest["sensors"];
    let b = text(m, "b");
    // What Prefect did: B was served from the cache, and returned `summarize`'s result.
    assert_eq!(record(&b)["outcome"]["state"], "Cached");
    assert_eq!(m["b_result"], "summary of station 2");

    let (e, code, report) = explain_json(&[&b]);
    assert_eq!(e["verdict"], "hit", "{report}");
    assert_eq!(code, Some(0), "{report}");
    // A is the earlier run of the task (another station): not the entry B read.
    assert_eq!(
        file_name(e["a"].as_str().unwrap()),
        file_name(&text(m, "a"))
    );
    let served = &e["served_from"];
    assert_eq!(served["task"], "summarize", "{report}");
    assert_eq!(
        file_name(served["record"].as_str().unwrap_or("")),
        file_name(&text(m, "producer")),
        "{report}"
    );
    assert_eq!(served["flow_run"], m["producer_flow_run"], "{report}");
    assert_eq!(served["a"], false, "{report}");
    assert_eq!(
        served["why"], "both tasks are keyed on INPUTS only and got the same inputs",
        "{report}"
    );
    let headline = e["headline"].as_str().unwrap();
    let expected = format!(
        "`my_stateful_task` hit: it was served the result `summarize` stored earlier in the same \
         flow run (`{}`, record {}), not an entry of its own: both tasks are keyed on INPUTS only \
         and got the same inputs.",
        text(m, "producer_flow_run_name"),
        file_name(&text(m, "producer"))
    );
    assert_eq!(headline, expected, "{report}");

    // The collision advice names each other task once, though their runs 2 and 3 both
    // collided (and are not next to each other among the loaded records).
    let advice: Vec<&Json> = e["advice_detail"].as_array().unwrap().iter().collect();
    let [collision] = advice.as_slice() else {
        panic!("one piece of advice expected\n{report}");
    };
    assert_eq!(collision["kind"], "inputs_only_collision", "{report}");
    let say = collision["text"].as_str().unwrap();
    for task in ["summarize", "count_readings"] {
        assert_eq!(say.matches(&format!("`{task}`")).count(), 1, "{say}");
    }
    assert!(
        say.starts_with(
            "The key of `my_stateful_task` hashes only its inputs, and `summarize` and \
             `count_readings` got the very same key"
        ),
        "{say}"
    );
    assert_eq!(collision["fix"], "INPUTS + TASK_SOURCE");
    assert_eq!(
        collision["check"],
        "with `INPUTS + TASK_SOURCE`, `my_stateful_task`, `summarize` and `count_readings` would \
         get different keys"
    );

    // The text starts with the same headline, and exits 0.
    let out = cachescope(&["explain", &b]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).starts_with("`my_stateful_task` hit: it was served the result `summarize`"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_other_tasks_run_named_as_a_is_the_entry_b_read() {
    let m = &scenarios().manifest["sensors"];
    let (e, code, report) = explain_json(&[&text(m, "producer"), &text(m, "b")]);
    assert_eq!(
        (e["verdict"].as_str(), code),
        (Some("hit"), Some(0)),
        "{report}"
    );
    assert_eq!(e["served_from"]["a"], true, "{report}");
    assert_eq!(
        e["headline"],
        format!(
            "`my_stateful_task` hit: B was served from A's cache entry, which `summarize` stored \
             earlier in the same flow run (`{}`): both tasks are keyed on INPUTS only and got the \
             same inputs.",
            text(m, "producer_flow_run_name")
        ),
        "{report}"
    );
}

// ---------------------------------------------------------------------------------------------
// Item 6: policies of the user's own that return the time.

/// calibrate (a CachePolicy subclass) and baseline (a cache_key_fn), with the path and class
/// of their opaque node.
fn opaque_tasks() -> Vec<(String, String, String)> {
    let m = &scenarios().manifest["calibration"];
    ["calibrate", "baseline"]
        .iter()
        .map(|t| {
            (
                t.to_string(),
                text(m, &format!("opaque.{t}.path")),
                text(m, &format!("opaque.{t}.policy")),
            )
        })
        .collect()
}

fn node_name(task: &str, path: &str) -> &'static str {
    match (task, path) {
        ("calibrate", "0") => "`calibration.FreshnessPolicy` (node 0)",
        ("baseline", "") => "cache_key_fn `calibration.stamped_key` (the root)",
        _ => panic!("{task} at {path:?}"),
    }
}

#[test]
fn explain_names_a_node_that_gives_another_key_for_the_same_material_with_both_keys() {
    let m = &scenarios().manifest["calibration"];
    for (task, path, policy) in opaque_tasks() {
        let keys: Vec<String> = (0..3)
            .map(|i| text(m, &format!("node_keys.{task}.{i}")))
            .collect();
        let b = text(m, &format!("records.{task}.2"));
        let (e, code, report) = explain_json(&[&b]);
        assert_eq!(
            (e["verdict"].as_str(), code),
            (Some("miss"), Some(1)),
            "{report}"
        );
        // A is run 2: the same inputs.
        assert_eq!(
            file_name(e["a"].as_str().unwrap()),
            file_name(&text(m, &format!("records.{task}.1"))),
            "{report}"
        );
        let culprits = e["culprits"].as_array().unwrap();
        assert_eq!(culprits.len(), 1, "{report}");
        assert_eq!(culprits[0]["path"], path.as_str(), "{report}");
        assert_eq!(culprits[0]["policy"], policy.as_str(), "{report}");
        assert_eq!(
            e["headline"],
            format!(
                "`{task}` missed because {} is not deterministic: it returned another key for \
                 the same inputs, flow parameters and source ({} -> {}), so it reads something \
                 else (the time, the run, a global).",
                node_name(&task, &path),
                keys[1],
                keys[2]
            ),
            "{report}"
        );
        let nd = &e["nondeterministic"][0];
        assert_eq!(nd["path"], path.as_str(), "{report}");
        assert_eq!(
            nd["keys"],
            serde_json::json!([keys[1], keys[2]]),
            "{report}"
        );
        assert_eq!(
            (nd["runs"].as_u64(), nd["new_key_every_run"].as_bool()),
            (Some(3), Some(true))
        );
    }
}

#[test]
fn the_live_verdict_is_a_miss_as_prefects_next_run_was() {
    let m = &scenarios().manifest["calibration"];
    let project = text(m, "project");
    for (task, path, _) in opaque_tasks() {
        // What Prefect did on the next run with the project unchanged: a new key, and it ran.
        let next = &m["next_run"][task.as_str()];
        assert_eq!(
            (
                next["state"].as_str(),
                next["cache_hit"].as_bool(),
                next["key_is_new"].as_bool()
            ),
            (Some("Completed"), Some(false), Some(true)),
            "{next}"
        );
        let keys: Vec<String> = (1..3)
            .map(|i| text(m, &format!("node_keys.{task}.{i}")))
            .collect();
        let a = text(m, &format!("records.{task}.2"));
        let (e, code, report) = explain_json(&[&a, "--live", "--project", &project]);
        assert_eq!(
            (e["verdict"].as_str(), code),
            (Some("miss"), Some(1)),
            "{report}"
        );
        // A's key is in storage, but it is not the key the next run computes.
        assert!(e["key_b"].is_null(), "{report}");
        assert_eq!(
            e["headline"],
            format!(
                "The next run of `{task}` would miss: {} is not deterministic: 3 recorded runs \
                 with the same inputs, flow parameters and source got 3 different keys from it \
                 ({} and {}); the next run computes a new key of its own, under which nothing \
                 is stored.",
                node_name(&task, &path),
                keys[0],
                keys[1]
            ),
            "{report}"
        );
    }
}

#[test]
fn keys_live_and_check_do_not_call_it_a_hit() {
    let m = &scenarios().manifest["calibration"];
    let (runs, project) = (text(m, "runs"), text(m, "project"));
    let out = cachescope(&["keys", &runs, "--live", "--project", &project, "--json"]);
    let report = format!("{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{report}");
    let lines: Vec<Json> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "{report}");
    for line in &lines {
        assert_eq!(line["verdict"], "miss", "{line}");
        let reason = line["reason"].as_str().unwrap();
        let task = line["task"].as_str().unwrap();
        let path = if task == "calibrate" { "0" } else { "" };
        assert!(
            reason.starts_with(&format!("{} is not deterministic", node_name(task, path))),
            "{reason}"
        );
    }

    // check: nothing in the code or configuration changed, so the gate passes, with a note.
    let out = cachescope(&["check", &runs, "--project", &project]);
    let report = format!("{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        stdout(&out).contains("2 tasks checked: 0 would miss"),
        "{report}"
    );
    for task in ["calibrate", "baseline"] {
        assert!(
            stderr(&out)
                .lines()
                .any(|l| l.starts_with(&format!("cachescope: note: `{task}`"))
                    && l.contains("is not deterministic")),
            "{report}"
        );
    }
}
