//! Where the result storage tells the story, against what real Prefect 3.9.1 did: a
//! transaction that rolled a task's result back (issue 8, item 3) and hits served a result
//! computed from other inputs, with a `result_storage_key` template that cachescope formats
//! as Prefect does (issue 8, item 8).
//!
//! `tests/e2e/storage_scenarios.py` records the flow runs with the recorder, checks that each
//! scenario really happened (final states, keys, result files present or absent) and writes a
//! manifest of what `cachescope explain`, `keys` and `keys --live` must say. A Prefect server
//! takes ~15 s to start, so the script runs once per test binary and the tests share it.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value as Json;

struct Scenarios {
    out: PathBuf,
    manifest: Json,
}

fn scenarios() -> &'static Scenarios {
    static SCENARIOS: OnceLock<Scenarios> = OnceLock::new();
    SCENARIOS.get_or_init(record_scenarios)
}

fn record_scenarios() -> Scenarios {
    let (_, out) =
        support::record_scenarios("explain-storage-prefect-", "tests/e2e/storage_scenarios.py");
    let manifest = read_json(&out.join("manifest.json"));
    Scenarios { out, manifest }
}

fn read_json(path: &Path) -> Json {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cachescope(args: &[&str]) -> Output {
    Command::new(support::cachescope_bin())
        .args(args)
        .output()
        .expect("run cachescope")
}

fn texts(v: &Json) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// `expected` is a subset of `actual`: objects key by key, arrays item by item.
fn subset(expected: &Json, actual: &Json, at: &str, problems: &mut Vec<String>) {
    match (expected, actual) {
        (Json::Object(e), Json::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => subset(ev, av, &format!("{at}.{k}"), problems),
                    None => problems.push(format!("{at}.{k} is missing (expected {ev})")),
                }
            }
        }
        (Json::Array(e), Json::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                subset(ev, av, &format!("{at}[{i}]"), problems);
            }
        }
        _ if expected == actual => {}
        _ => problems.push(format!("{at} is {actual}, expected {expected}")),
    }
}

/// Everything one explain case got wrong.
fn check_explain(case: &Json, project: &str) -> Vec<String> {
    let record = case["record"].as_str().unwrap();
    let mut args = vec!["explain", record, "--json"];
    if case["live"].as_bool() == Some(true) {
        args.extend(["--live", "--project", project]);
    }
    let out = cachescope(&args);
    let expect = &case["expect"];
    let mut problems = Vec::new();
    let Ok(got) = serde_json::from_slice::<Json>(&out.stdout) else {
        return vec![format!(
            "no JSON ({:?}); stderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )];
    };
    if out.status.code() != expect["exit"].as_i64().map(|c| c as i32) {
        problems.push(format!(
            "exit {:?}, expected {}",
            out.status.code(),
            expect["exit"]
        ));
    }
    if got["verdict"] != expect["verdict"] {
        problems.push(format!(
            "verdict {}, expected {}",
            got["verdict"], expect["verdict"]
        ));
    }
    let headline = got["headline"].as_str().unwrap_or_default();
    for text in texts(&expect["headline"]) {
        if !headline.contains(&text) {
            problems.push(format!("the headline does not say {text:?}: {headline:?}"));
        }
    }
    let causes: Vec<&Json> = got["non_key_causes"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let kinds: Vec<String> = causes
        .iter()
        .filter_map(|c| c["kind"].as_str().map(str::to_string))
        .collect();
    if kinds != texts(&expect["causes"]) {
        problems.push(format!(
            "non_key_causes {kinds:?}, expected {:?}",
            texts(&expect["causes"])
        ));
    }
    for text in texts(&expect["cause_mentions"]) {
        if !causes
            .iter()
            .any(|c| c["summary"].as_str().is_some_and(|s| s.contains(&text)))
        {
            problems.push(format!("no cause's summary mentions {text:?}"));
        }
    }
    match (&expect["stale"], &got["stale_hit"]) {
        (Json::Null, Json::Null) => {}
        (Json::Null, got) => problems.push(format!("a stale hit where none is: {got}")),
        (want, Json::Null) => problems.push(format!("no stale hit, expected {want}")),
        (want, got) => {
            let mut arguments: Vec<String> = Vec::new();
            for c in got["changes"].as_array().into_iter().flatten() {
                let argument = c["argument"].as_str().unwrap_or_default().to_string();
                if !arguments.contains(&argument) {
                    arguments.push(argument);
                }
                let (old, new) = (c.get("old").is_some(), c.get("new").is_some());
                let shown = match c["change"].as_str() {
                    Some("changed") => old && new,
                    Some("added") => new,
                    Some("removed") => old,
                    _ => false,
                };
                if !shown {
                    problems.push(format!("a stale change without its values: {c}"));
                }
            }
            if arguments != texts(&want["arguments"]) {
                problems.push(format!(
                    "stale arguments {arguments:?}, expected {:?}",
                    texts(&want["arguments"])
                ));
            }
            let why = got["why"].as_str().unwrap_or_default();
            for text in texts(&want["why"]) {
                if !why.contains(&text) {
                    problems.push(format!("stale_hit.why does not say {text:?}: {why:?}"));
                }
            }
            if got["from_a"] != Json::Bool(true) || got["from"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("the stale entry's author is not A: {got}"));
            }
        }
    }
    subset(&expect["json"], &got, "", &mut problems);
    problems
        .into_iter()
        .map(|p| format!("{p}\n    (cachescope {})", args.join(" ")))
        .collect()
}

fn explain_cases(prefix: &str) -> Vec<&'static Json> {
    let cases: Vec<&Json> = scenarios().manifest["explain"]
        .as_array()
        .expect("explain cases")
        .iter()
        .filter(|c| c["case"].as_str().unwrap_or_default().starts_with(prefix))
        .collect();
    assert!(!cases.is_empty(), "no case named {prefix}*");
    cases
}

fn assert_cases(prefix: &str) {
    let project = scenarios().manifest["project"].as_str().unwrap();
    let mut report = Vec::new();
    for case in explain_cases(prefix) {
        let problems = check_explain(case, project);
        if !problems.is_empty() {
            report.push(format!("[{}]\n  {}", case["case"], problems.join("\n  ")));
        }
    }
    assert!(
        report.is_empty(),
        "files in {}\n{}",
        scenarios().out.display(),
        report.join("\n")
    );
}

// Issue 8, item 3: a task whose staged result was rolled back with its transaction was said to
// have had its result "deleted, or never written (result persistence off)".
#[test]
fn a_rolled_back_transaction_names_the_task_that_failed_in_it() {
    assert_cases("rollback-task-failed");
}

#[test]
fn a_rollback_by_the_flows_own_code_says_no_task_failed() {
    assert_cases("rollback-flow-code");
}

// Issue 8, item 8: B was served A's summary though its rows changed, and `explain` said only
// "hit".
#[test]
fn a_result_storage_key_hit_on_other_inputs_is_flagged_stale_with_the_input_diff() {
    assert_cases("stale-result-storage-key");
}

#[test]
fn a_policy_that_leaves_a_changed_input_out_gives_a_stale_hit() {
    assert_cases("stale-task-source-only");
    assert_cases("stale-inputs-minus");
    assert_cases("stale-not-for-a-miss");
}

// A task keyed by result_storage_key has no policy tree to take apart: the template says why
// two runs got different keys, and whether the next run can hit.
#[test]
fn a_result_storage_key_miss_names_the_field_that_changed() {
    assert_cases("storage-key-live");
}

#[test]
fn the_text_output_shows_the_stale_inputs() {
    let case = explain_cases("stale-result-storage-key")[0];
    let out = cachescope(&["explain", case["record"].as_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with("`summarize` hit, but was served a result computed from other inputs"),
        "{text}"
    );
    assert!(
        text.contains("Served a result computed from other inputs")
            && text.contains("      rows[1].amount: 80 -> 95"),
        "{text}"
    );
}

// Every key Prefect formatted from a result_storage_key template (a format spec and the task's
// name included) is recomputed from the record: `keys` says match, not unverifiable.
#[test]
fn result_storage_keys_recompute_as_prefect_formatted_them() {
    let mut args = vec!["keys", "--json"];
    let folders = texts(&scenarios().manifest["keys"]);
    args.extend(folders.iter().map(String::as_str));
    let out = cachescope(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let mut storage_keyed = 0;
    for line in text.lines() {
        let record: Json = serde_json::from_str(line).unwrap();
        let path = record["record"].as_str().unwrap();
        assert_eq!(record["status"], "match", "{line}");
        if read_json(Path::new(path))["task"]["result_storage_key"].is_object() {
            storage_keyed += 1;
            assert_eq!(record["key"], record["recorded"], "{line}");
        }
    }
    // summarize, archive and snapshot in two runs.
    assert_eq!(storage_keyed, 6, "{text}");
}

// `keys --live` said `unknown` for a result_storage_key task though its file was there.
#[test]
fn keys_live_looks_the_formatted_key_up() {
    let expected = scenarios().manifest["keys_live"].as_object().unwrap();
    let folders = texts(&scenarios().manifest["keys"]);
    let mut args = vec!["keys", "--live", "--json"];
    args.extend(folders.iter().map(String::as_str));
    let out = cachescope(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut seen = 0;
    for line in text.lines() {
        let record: Json = serde_json::from_str(line).unwrap();
        let Some(want) = expected.get(record["record"].as_str().unwrap()) else {
            continue;
        };
        seen += 1;
        assert_eq!(record["verdict"], want["verdict"], "{line}");
        let reason = record["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains(want["reason"].as_str().unwrap()),
            "{reason:?} does not say {}: {line}",
            want["reason"]
        );
    }
    assert_eq!(seen, expected.len(), "{text}");
}

/// A record file name, `<UTC time>-<task>-<task run id>.json`, with the time and the id (which
/// change with every recording) left out.
fn without_run_names(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let words: Vec<String> = line
            .split(' ')
            .map(|word| match word.rsplit_once('/') {
                Some((dir, file)) if file.ends_with(".json") && file.len() > 60 => {
                    let task = file.split_once('-').map_or("", |(_, rest)| rest);
                    let task = &task[..task.len().saturating_sub(42)];
                    format!("{dir}/<time>-{task}-<id>.json")
                }
                _ => word.to_string(),
            })
            .collect();
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

// The README's explain section shows a stale hit and a rollback from these real runs: what
// cachescope prints for them now must still be that text.
#[test]
fn the_readme_shows_what_cachescope_prints_for_these_runs() {
    let readme = fs::read_to_string(support::repo_root().join("README.md")).unwrap();
    let out = &scenarios().out;
    for (folder, task) in [
        ("stale/runs/run-2", "summarize"),
        ("rollback/runs/run-2", "load_data"),
    ] {
        let command = format!("$ cachescope explain {folder}/*-{task}-*.json\n");
        let start = readme
            .find(&command)
            .unwrap_or_else(|| panic!("the README has no {command:?}"))
            + command.len();
        let shown = &readme[start..start + readme[start..].find("```").unwrap()];
        let record = support::files_under(&out.join(folder), Some("json"))
            .into_iter()
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .contains(&format!("-{task}-"))
            })
            .unwrap();
        let relative = record.strip_prefix(out).unwrap();
        let printed = Command::new(support::cachescope_bin())
            .arg("explain")
            .arg(relative)
            .current_dir(out)
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&printed.stdout);
        assert_eq!(
            without_run_names(shown),
            without_run_names(&printed),
            "the README's {task} example is not what cachescope prints now"
        );
    }
}
