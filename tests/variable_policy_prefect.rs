//! A cache policy held in a module-level variable (issue 7, item 4), against real Prefect 3.9.1.
//!
//! `tests/e2e/variable_policy.py` records one run of `tests/e2e/variable_policy/flows.py`, whose
//! tasks say `@task(cache_policy=MY_POLICY)` and `@task(cache_policy=DEBUG_FREE)` with
//! `DEBUG_FREE = BASE - "debug"`, then runs edited copies of the project again with a copy of
//! the first run's storage: a variable's definition edited (`MY_POLICY` now over lines with
//! TASK_SOURCE; the exclusion removed from `DEBUG_FREE`), only the task bodies edited, the
//! variable moved to another module, nothing edited. `explain RECORD --live --project COPY` and
//! `check RUNS --project COPY` must predict each copy's run before it happens: the verdict
//! Prefect's rerun ended with (Cached is a hit), the key it used, and why. Before, cachescope
//! kept the recorded tree and saw no change when a variable was edited.
//!
//! A Prefect server takes ~15 s to start, so the script runs once per test binary and the tests
//! share what it recorded.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value as Json;

/// What Prefect did when it ran one task of a copy.
#[derive(Debug)]
struct Rerun {
    state: String,
    key: Option<String>,
}

/// One edited copy of the project and its rerun.
#[derive(Debug)]
struct Copy {
    project: PathBuf,
    b: BTreeMap<String, Rerun>,
}

struct Recorded {
    /// Kept after the tests so a failure can be looked at; stale ones are removed first.
    out: PathBuf,
    /// The first run's records (what `check` reads).
    runs: PathBuf,
    /// Each task's record in the first run.
    a: BTreeMap<String, PathBuf>,
    copies: BTreeMap<String, Copy>,
}

fn recorded() -> &'static Recorded {
    static RECORDED: OnceLock<Recorded> = OnceLock::new();
    RECORDED.get_or_init(record)
}

fn record() -> Recorded {
    let (_, out) =
        support::record_scenarios("variable-policy-prefect-", "tests/e2e/variable_policy.py");
    let path = out.join("manifest.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let manifest: Json = serde_json::from_str(&text).expect("manifest.json");
    let text_at = |v: &Json| PathBuf::from(v.as_str().expect("a path"));
    let a = manifest["a"]
        .as_object()
        .expect("a")
        .iter()
        .map(|(task, path)| (task.clone(), text_at(path)))
        .collect();
    let copies = manifest["copies"]
        .as_object()
        .expect("copies")
        .iter()
        .map(|(name, copy)| {
            let b = copy["b"]
                .as_object()
                .expect("b")
                .iter()
                .map(|(task, run)| {
                    let rerun = Rerun {
                        state: run["state"].as_str().expect("state").to_string(),
                        key: run["key"].as_str().map(str::to_string),
                    };
                    (task.clone(), rerun)
                })
                .collect();
            let copy = Copy {
                project: text_at(&copy["project"]),
                b,
            };
            (name.clone(), copy)
        })
        .collect();
    Recorded {
        runs: text_at(&manifest["runs"]),
        out,
        a,
        copies,
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn cachescope(args: &[&Path]) -> Output {
    Command::new(support::cachescope_bin())
        .args(args)
        .output()
        .expect("run cachescope")
}

fn shown(args: &[&Path], output: &Output) -> String {
    let args: Vec<String> = args.iter().map(|a| a.display().to_string()).collect();
    format!(
        "$ cachescope {}\nexit status {:?}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        tail(&String::from_utf8_lossy(&output.stderr), 20)
    )
}

/// What `explain --live` must say about one task of one copy.
struct Expect {
    copy: &'static str,
    task: &'static str,
    verdict: &'static str,
    /// (policy, path) of every culprit.
    culprits: &'static [(&'static str, &'static str)],
    /// A note must hold this text; None: no note mentions `cache_policy=`.
    note: Option<&'static str>,
}

const EXPECT: &[Expect] = &[
    Expect {
        copy: "unedited",
        task: "score",
        verdict: "hit",
        culprits: &[],
        note: None,
    },
    Expect {
        copy: "unedited",
        task: "render",
        verdict: "hit",
        culprits: &[],
        note: None,
    },
    // MY_POLICY = INPUTS became INPUTS + cache_policies.TASK_SOURCE: the decorator did not
    // change, the tree did.
    Expect {
        copy: "variable-edited",
        task: "score",
        verdict: "miss",
        culprits: &[("CompoundCachePolicy", "")],
        note: Some(
            "cache_policy=MY_POLICY is read from the file as it is now: \
             MY_POLICY = (INPUTS + cache_policies.TASK_SOURCE) (flows.py:11)",
        ),
    },
    Expect {
        copy: "variable-edited",
        task: "render",
        verdict: "hit",
        culprits: &[],
        note: None,
    },
    // DEBUG_FREE = BASE - "debug" became BASE: `debug` counts now, through one more name.
    Expect {
        copy: "exclusion-removed",
        task: "render",
        verdict: "miss",
        culprits: &[("Inputs", "1")],
        note: Some(
            "cache_policy=DEBUG_FREE is read from the file as it is now: DEBUG_FREE = BASE \
             (flows.py:14), BASE = INPUTS + TASK_SOURCE (flows.py:13)",
        ),
    },
    Expect {
        copy: "exclusion-removed",
        task: "score",
        verdict: "hit",
        culprits: &[],
        note: None,
    },
    // Only the bodies: `score` hashes no source (MY_POLICY is INPUTS), `render` does (BASE has
    // TASK_SOURCE), and neither policy changed.
    Expect {
        copy: "body-only",
        task: "score",
        verdict: "hit",
        culprits: &[],
        note: None,
    },
    Expect {
        copy: "body-only",
        task: "render",
        verdict: "miss",
        culprits: &[("TaskSource", "0")],
        note: None,
    },
    // Moved to another module: not readable, said in one line, the recorded tree used.
    Expect {
        copy: "imported",
        task: "score",
        verdict: "hit",
        culprits: &[],
        note: Some(
            "cache_policy=MY_POLICY is imported from module `shared_policies` (flows.py:11); \
             cachescope cannot read it, so the recorded policy is used",
        ),
    },
    Expect {
        copy: "imported",
        task: "render",
        verdict: "hit",
        culprits: &[],
        note: None,
    },
];

fn copy(name: &str) -> &'static Copy {
    recorded()
        .copies
        .get(name)
        .unwrap_or_else(|| panic!("the script made no copy {name}"))
}

fn explain_problems(e: &Expect, output: &Output) -> Vec<String> {
    let mut problems = Vec::new();
    let copy = copy(e.copy);
    let rerun = &copy.b[e.task];
    // What Prefect did is the truth the prediction must match.
    let prefect = if rerun.state == "Cached" {
        "hit"
    } else {
        "miss"
    };
    if prefect != e.verdict {
        problems.push(format!(
            "Prefect's rerun ended {}, but the table expects a {}",
            rerun.state, e.verdict
        ));
    }
    let want_code = if e.verdict == "hit" { 0 } else { 1 };
    if output.status.code() != Some(want_code) {
        problems.push(format!(
            "exit status {:?}, expected {want_code}",
            output.status.code()
        ));
    }
    let got: Json = match serde_json::from_slice(&output.stdout) {
        Ok(j) => j,
        Err(e) => return vec![format!("stdout is not one JSON document: {e}")],
    };
    if got["verdict"] != e.verdict {
        problems.push(format!(
            "verdict {}, expected {}",
            got["verdict"], e.verdict
        ));
    }
    if got["key_b"].as_str() != rerun.key.as_deref() {
        problems.push(format!(
            "key_b {}, but Prefect's rerun used {:?}",
            got["key_b"], rerun.key
        ));
    }
    let culprits: BTreeSet<(String, String)> = got["culprits"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let text = |k: &str| c[k].as_str().unwrap_or("?").to_string();
            (text("policy"), text("path"))
        })
        .collect();
    let want: BTreeSet<(String, String)> = e
        .culprits
        .iter()
        .map(|(p, at)| (p.to_string(), at.to_string()))
        .collect();
    if culprits != want {
        problems.push(format!("culprits {culprits:?}, expected {want:?}"));
    }
    if !got["unexplained"].is_null() {
        problems.push(format!("unexplained is {}", got["unexplained"]));
    }
    let notes: Vec<&str> = got["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .collect();
    match e.note {
        Some(note) if !notes.contains(&note) => {
            problems.push(format!("no note {note:?} among {notes:?}"));
        }
        None if notes.iter().any(|n| n.contains("cache_policy=")) => {
            problems.push(format!("a note about the policy: {notes:?}"));
        }
        _ => {}
    }
    problems
}

#[test]
fn explain_live_sees_what_the_variable_says_now_as_prefect_did() {
    let recorded = recorded();
    let mut reports = Vec::new();
    for e in EXPECT {
        let project = &copy(e.copy).project;
        let args: [&Path; 6] = [
            Path::new("explain"),
            &recorded.a[e.task],
            Path::new("--live"),
            Path::new("--project"),
            project,
            Path::new("--json"),
        ];
        let output = cachescope(&args);
        let problems = explain_problems(e, &output);
        if !problems.is_empty() {
            reports.push(format!(
                "── {} / {}\nproblems:\n  - {}\n{}",
                e.copy,
                e.task,
                problems.join("\n  - "),
                shown(&args, &output)
            ));
        }
    }
    assert!(
        reports.is_empty(),
        "{} of {} cases wrong; records under {}\n\n{}",
        reports.len(),
        EXPECT.len(),
        recorded.out.display(),
        reports.join("\n\n")
    );
}

#[test]
fn every_copy_and_task_is_in_the_table() {
    let recorded = recorded();
    let made: BTreeSet<(String, String)> = recorded
        .copies
        .iter()
        .flat_map(|(name, copy)| copy.b.keys().map(move |task| (name.clone(), task.clone())))
        .collect();
    let table: BTreeSet<(String, String)> = EXPECT
        .iter()
        .map(|e| (e.copy.to_string(), e.task.to_string()))
        .collect();
    assert_eq!(made, table);
}

#[test]
fn check_names_the_tasks_whose_policy_variable_or_code_changed() {
    let recorded = recorded();
    let mut reports = Vec::new();
    for (name, copy) in &recorded.copies {
        let args: [&Path; 5] = [
            Path::new("check"),
            &recorded.runs,
            Path::new("--project"),
            &copy.project,
            Path::new("--json"),
        ];
        let output = cachescope(&args);
        let mut problems = Vec::new();
        let rows: Vec<&Expect> = EXPECT.iter().filter(|e| e.copy == name).collect();
        let want: BTreeSet<&str> = rows
            .iter()
            .filter(|e| e.verdict == "miss" && !e.culprits.is_empty())
            .map(|e| e.task)
            .collect();
        let lines: Vec<Json> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let named: BTreeSet<&str> = lines.iter().filter_map(|l| l["task"].as_str()).collect();
        if named != want {
            problems.push(format!("lines for {named:?}, expected {want:?}"));
        }
        if lines.iter().any(|l| l["status"] != "changed") {
            problems.push("a line whose status is not changed".to_string());
        }
        let want_code = if want.is_empty() { 0 } else { 1 };
        if output.status.code() != Some(want_code) {
            problems.push(format!(
                "exit status {:?}, expected {want_code}",
                output.status.code()
            ));
        }
        // A policy cachescope cannot read is said on stderr; a read one is not a note.
        let stderr = String::from_utf8_lossy(&output.stderr);
        for e in &rows {
            let unreadable = e.note.filter(|n| n.contains("cannot read it"));
            let said = stderr
                .lines()
                .any(|l| l.contains(&format!("note for `{}`", e.task)));
            match unreadable {
                Some(note) if !stderr.contains(note) => {
                    problems.push(format!("stderr does not say {note:?}"));
                }
                None if said => problems.push(format!("stderr has a note for `{}`", e.task)),
                _ => {}
            }
        }
        if !problems.is_empty() {
            reports.push(format!(
                "── {name}\nproblems:\n  - {}\n{}",
                problems.join("\n  - "),
                shown(&args, &output)
            ));
        }
    }
    assert!(reports.is_empty(), "{}", reports.join("\n\n"));
}

#[test]
fn the_text_explanation_says_why_the_recorded_policy_is_used() {
    let recorded = recorded();
    let args: [&Path; 5] = [
        Path::new("explain"),
        &recorded.a["score"],
        Path::new("--live"),
        Path::new("--project"),
        &copy("imported").project,
    ];
    let output = cachescope(&args);
    let text = String::from_utf8_lossy(&output.stdout);
    let notes = text.split("\nNotes\n").nth(1).unwrap_or_default();
    let notes = notes.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        notes.contains("cache_policy=MY_POLICY is imported from module `shared_policies`"),
        "{}",
        shown(&args, &output)
    );
    assert_eq!(output.status.code(), Some(0), "{}", shown(&args, &output));
}
