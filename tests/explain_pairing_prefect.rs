//! `cachescope explain` with one record, on a flow whose tasks run several times per flow run,
//! against what real Prefect 3.9.1 did (issue 8, items 2 and 9).
//!
//! `tests/e2e/pairing_scenarios.py` runs `tests/e2e/pairing/readings.py` twice, as a user runs
//! a flow file, recording through `CACHESCOPE_RUNS` into folders not named `runs` (`flow
//! history/2024-06-01 first run`, `.../2024-06-02 second run`); one field of one reading
//! changes in between. In the flow, `clean` is mapped over four readings by the parent flow,
//! `score` over the cleaned readings inside a subflow, and `summarize` is called once per
//! region. The script checks what Prefect did (which runs hit, which keys are equal, that each
//! record's `map_index` and `call_index` are the element and call its inputs show) and writes
//! the cases. Prefect's server takes ~15 s to start, so the script runs once per test binary.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value as Json;

const DIR_PREFIX: &str = "explain-pairing-prefect-";

struct Scenarios {
    out: PathBuf,
    manifest: Json,
}

fn scenarios() -> &'static Scenarios {
    static SCENARIOS: OnceLock<Scenarios> = OnceLock::new();
    SCENARIOS.get_or_init(record_scenarios)
}

fn record_scenarios() -> Scenarios {
    let (_, out) = support::record_scenarios(DIR_PREFIX, "tests/e2e/pairing_scenarios.py");
    let path = out.join("manifest.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let manifest =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Scenarios { out, manifest }
}

fn cases() -> &'static [Json] {
    scenarios().manifest["cases"]
        .as_array()
        .expect("cases is a list")
}

fn case(name: &str) -> &'static Json {
    cases()
        .iter()
        .find(|c| c["case"] == name)
        .unwrap_or_else(|| panic!("no case {name} in the manifest"))
}

fn text(v: &Json) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// `cachescope explain` with the runs tree found as a user's shell would: no `CACHESCOPE_RUNS`.
fn explain(args: &[&str]) -> Output {
    Command::new(support::cachescope_bin())
        .arg("explain")
        .args(args)
        .env_remove("CACHESCOPE_RUNS")
        .output()
        .expect("run cachescope")
}

fn same_file(x: &Path, y: &Path) -> bool {
    match (fs::canonicalize(x), fs::canonicalize(y)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// What `explain B --json` got wrong for one case, as lines; empty when all is right.
fn problems(case: &Json) -> Vec<String> {
    let b = text(&case["b"]);
    let out = explain(&[b, "--json"]);
    let shown = format!("cachescope explain {b:?} --json");
    let got: Json = match serde_json::from_slice(&out.stdout) {
        Ok(j) => j,
        Err(e) => {
            return vec![format!(
                "{shown}: not JSON ({e}); stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )];
        }
    };
    let mut p = Vec::new();
    let verdict = text(&case["verdict"]);
    let want_code = if verdict == "miss" { 1 } else { 0 };
    if out.status.code() != Some(want_code) {
        p.push(format!(
            "exit {:?}, expected {want_code}",
            out.status.code()
        ));
    }
    let a = got["a"].as_str().unwrap_or("");
    if !same_file(Path::new(a), Path::new(text(&case["a"]))) {
        p.push(format!("A is {a}, expected {}", text(&case["a"])));
    }
    for field in ["pairing", "verdict"] {
        if got[field] != case[field] {
            p.push(format!("{field} {}, expected {}", got[field], case[field]));
        }
    }
    let culprits = got["culprits"].as_array().cloned().unwrap_or_default();
    match case["changes"].as_array() {
        None if !culprits.is_empty() => p.push(format!("culprits on a hit: {culprits:?}")),
        None => {}
        Some(expected) => {
            if culprits.len() != 1 || culprits[0]["policy"] != "Inputs" {
                p.push(format!("expected one Inputs culprit, got {culprits:?}"));
            } else {
                // Exactly the one field that changed, not a sibling's other fields.
                let changes = culprits[0]["detail"]["changes"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let got: Vec<(String, Option<f64>, Option<f64>)> = changes
                    .iter()
                    .map(|c| {
                        (
                            text(&c["path"]).to_string(),
                            c["old"].as_f64(),
                            c["new"].as_f64(),
                        )
                    })
                    .collect();
                let want: Vec<(String, Option<f64>, Option<f64>)> = expected
                    .iter()
                    .map(|c| {
                        (
                            text(&c["path"]).to_string(),
                            c["old"].as_f64(),
                            c["new"].as_f64(),
                        )
                    })
                    .collect();
                if got != want {
                    p.push(format!("changes {got:?}, expected {want:?}"));
                }
            }
        }
    }
    if !p.is_empty() {
        p.insert(0, format!("[{}] {shown}", text(&case["case"])));
        p.push(format!("--- JSON\n{got:#}"));
    }
    p
}

fn check_all(names: &[&str]) {
    let all: Vec<String> = names.iter().flat_map(|n| problems(case(n))).collect();
    assert!(all.is_empty(), "{}", all.join("\n"));
}

#[test]
fn a_changed_map_element_is_compared_with_the_same_element_of_the_previous_flow_run() {
    // Issue 8: `explain` picked another element of the same flow run as A and reported three
    // changed fields; the same element of the previous flow run shows the one that changed.
    // `score` runs one element at a time in its subflow, so the elements before it in its own
    // flow run were recorded before B: the latest earlier run would be a sibling.
    assert_eq!(case("score-changed-element")["siblings_before_b"], true);
    check_all(&["clean-changed-element", "score-changed-element"]);
}

#[test]
fn an_unchanged_map_element_is_a_hit_with_the_same_element_as_a() {
    check_all(&[
        "clean-element-0",
        "clean-element-1",
        "clean-element-3",
        "score-element-0",
        "score-element-1",
        "score-element-3",
    ]);
}

#[test]
fn a_task_called_several_times_is_compared_with_the_same_call() {
    // `summarize` is called once per region, one after the other: the calls before the
    // changed one in its own flow run were recorded before it.
    assert_eq!(case("summarize-changed-call")["siblings_before_b"], true);
    check_all(&[
        "summarize-changed-call",
        "summarize-north",
        "summarize-east",
    ]);
}

/// Lines joined and spaces collapsed: the text output wraps at 96 columns.
fn unwrapped(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_text_says_which_element_or_call_a_is() {
    let mut p = Vec::new();
    for c in cases() {
        let b = text(&c["b"]);
        let out = explain(&[b]);
        let shown = unwrapped(&String::from_utf8_lossy(&out.stdout));
        if !shown.contains(text(&c["text"])) {
            p.push(format!(
                "[{}] cachescope explain {b:?} does not say {:?}:\n{}",
                text(&c["case"]),
                text(&c["text"]),
                String::from_utf8_lossy(&out.stdout)
            ));
        }
    }
    assert!(p.is_empty(), "{}", p.join("\n"));
}

#[test]
fn earlier_runs_are_found_in_oddly_named_folders_of_the_same_runs_tree() {
    // Issue 8: only a folder named `runs` was searched, else the record's own folder, where
    // only the second night's runs are.
    let c = case("score-changed-element");
    let (a, b) = (Path::new(text(&c["a"])), Path::new(text(&c["b"])));
    assert_ne!(
        a.parent(),
        b.parent(),
        "the scenario puts each night in its own folder"
    );
    assert!(
        !b.ancestors()
            .take(4)
            .any(|d| d.file_name().is_some_and(|n| n == "runs")),
        "no folder named runs near {}",
        b.display()
    );
    check_all(&["score-changed-element"]);

    // The runs tree ends at the first folder holding something else than runs: with a stray
    // script among the nights, the first night is out of reach, and A comes from B's own
    // flow run (the closest inputs), which says so.
    let copy = scenarios().out.join("stray-file-copy");
    let _ = fs::remove_dir_all(&copy);
    let history = b.parent().unwrap().parent().unwrap();
    copy_dir(history, &copy.join("flow history"));
    fs::write(copy.join("flow history").join("plot.py"), "print('hi')\n").unwrap();
    let b_copy = copy
        .join("flow history")
        .join(b.parent().unwrap().file_name().unwrap())
        .join(b.file_name().unwrap());
    let out = explain(&[b_copy.to_str().unwrap(), "--json"]);
    let got: Json = serde_json::from_slice(&out.stdout).expect("explain --json");
    assert_eq!(got["pairing"], "closest-inputs", "{got:#}");
    let a_copy = PathBuf::from(text(&got["a"]));
    assert_eq!(a_copy.parent(), b_copy.parent(), "{got:#}");
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn records_are_as_readable_as_prefects_result_files() {
    // Issue 8: records were 0600 (tempfile.mkstemp) while Prefect's results are 0644.
    let m = &scenarios().manifest;
    let umask = m["umask"].as_u64().expect("umask") as u32;
    let want = 0o666 & !umask;
    let mode = |p: &Path| {
        fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let results = support::files_under(Path::new(text(&m["storage"])), None);
    assert!(!results.is_empty(), "Prefect wrote no result files");
    for r in &results {
        assert_eq!(mode(r), want, "Prefect's result {} ", r.display());
    }
    let records = m["records"].as_array().expect("records");
    assert!(!records.is_empty());
    for r in records {
        let path = Path::new(text(r));
        assert_eq!(
            mode(path),
            want,
            "record {} has mode {:o}, Prefect's results {want:o}",
            path.display(),
            mode(path)
        );
    }
}
