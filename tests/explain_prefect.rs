//! `cachescope explain` and `cachescope check` against what real Prefect 3.9.1 did.
//!
//! `tests/e2e/explain_scenarios.py` records, with the recorder, a pair of runs (or a run and an
//! edited copy of its project) for every case the explainer must name: each kind of culprit
//! (task source edited in code, comment, docstring or decorator; inputs changed deep inside,
//! added or removed through `**kwargs` or a new default, excluded differently; flow parameters;
//! run ids; a `cache_key_fn`; a changed policy tree), each cause that is not the key (refresh,
//! expiry, a deleted result, another storage, no key at all) and each piece of advice, and the
//! cases where B hits although something changed (a helper edited, `TASK_SOURCE - "x"`, two
//! tasks colliding on INPUTS). The script checks that each scenario really happened (B's final
//! state, keys equal or not) and writes a manifest of what `explain --json` must say, in the
//! terms of `docs/explain-json.md`. A Prefect server takes ~15 s to start, so the script runs
//! once per test binary and the tests share what it recorded.
//!
//! A failure prints, per case, the command, the exit status, every problem found and the whole
//! JSON, so one run shows everything the explainer got wrong.

mod support;

use support::Run;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cachescope::policy::parse_policy;
use serde_json::Value as Json;

/// One case of the manifest.
#[derive(Debug)]
struct Case {
    name: String,
    /// The task explained (B's; A's is `task_a` when the case pairs two tasks).
    task: String,
    task_a: Option<String>,
    a: PathBuf,
    /// B's record, or None for `--live`.
    b: Option<PathBuf>,
    /// The edited copy of the project, for `--live`.
    project: Option<PathBuf>,
    expect: Json,
}

/// The `check` material: one project's runs and copies of the project.
#[derive(Debug)]
struct CheckMaterial {
    runs: PathBuf,
    edited_task: String,
    edited: PathBuf,
    unedited: PathBuf,
    helper_edited: PathBuf,
}

/// Everything the script left behind.
struct Scenarios {
    /// Kept after the tests so a failure can be looked at; stale ones are removed first.
    out: PathBuf,
    cases: Vec<Case>,
    check: CheckMaterial,
}

const DIR_PREFIX: &str = "explain-prefect-";

fn scenarios() -> &'static Scenarios {
    static SCENARIOS: OnceLock<Scenarios> = OnceLock::new();
    SCENARIOS.get_or_init(record_scenarios)
}

fn record_scenarios() -> Scenarios {
    let (_, out) = support::record_scenarios(DIR_PREFIX, "tests/e2e/explain_scenarios.py");

    let manifest: Json = read_json(&out.join("manifest.json"));
    let cases = manifest
        .as_array()
        .expect("the manifest is a list")
        .iter()
        .map(|c| {
            let text = |k: &str| c[k].as_str().map(str::to_string);
            let b = text("b").expect("b");
            Case {
                name: text("case").expect("case"),
                task: text("task").expect("task"),
                task_a: text("task_a"),
                a: PathBuf::from(text("a").expect("a")),
                b: (b != "live").then(|| PathBuf::from(b)),
                project: text("project").map(PathBuf::from),
                expect: c["expect"].clone(),
            }
        })
        .collect();
    let check = read_json(&out.join("check.json"));
    let path = |k: &str| PathBuf::from(check[k].as_str().unwrap_or_else(|| panic!("check.{k}")));
    let check = CheckMaterial {
        runs: path("runs"),
        edited_task: check["edited_task"].as_str().expect("edited_task").into(),
        edited: path("edited"),
        unedited: path("unedited"),
        helper_edited: path("helper_edited"),
    };
    Scenarios { out, cases, check }
}

fn read_json(path: &Path) -> Json {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn explain(case: &Case) -> Run {
    let mut args: Vec<&Path> = vec![Path::new("explain"), &case.a];
    match (&case.b, &case.project) {
        (Some(b), _) => args.push(b),
        (None, Some(project)) => {
            args.extend([Path::new("--live"), Path::new("--project"), project]);
        }
        (None, None) => panic!("[{}] a live case without a project", case.name),
    }
    args.push(Path::new("--json"));
    Run::new(&args)
}

// ---------------------------------------------------------------------------------------------
// What one explanation must say

fn strings(v: &Json) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn non_empty_str(v: &Json) -> bool {
    v.as_str().is_some_and(|s| !s.trim().is_empty())
}

/// `expected` is a subset of `actual`: objects key by key, arrays item by item (same length),
/// numbers by value (so 7 and 7.0 agree), anything else equal.
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
        (Json::Array(e), Json::Array(a)) => {
            if e.len() != a.len() {
                problems.push(format!(
                    "{at}: {} items, expected {}: {actual}",
                    a.len(),
                    e.len()
                ));
            } else {
                for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                    subset(ev, av, &format!("{at}[{i}]"), problems);
                }
            }
        }
        (Json::Number(e), Json::Number(a)) if e.as_f64() == a.as_f64() => {}
        _ if expected == actual => {}
        _ => problems.push(format!("{at} is {actual}, expected {expected}")),
    }
}

fn record_key(path: &Path) -> Json {
    read_json(path)["key"].clone()
}

/// The fields docs/explain-json.md gives each kind of culprit's detail.
fn check_detail_shape(culprit: &Json, at: &str, problems: &mut Vec<String>) {
    let detail = &culprit["detail"];
    let mut need = |ok: bool, what: &str| {
        if !ok {
            problems.push(format!("{at}: {what}: {detail}"));
        }
    };
    match culprit["policy"].as_str().unwrap_or("") {
        "TaskSource" => {
            need(non_empty_str(&detail["file"]), "detail.file");
            need(non_empty_str(&detail["diff"]), "detail.diff");
            need(
                matches!(detail["classification"].as_str(), Some("cosmetic" | "code")),
                "detail.classification is cosmetic or code",
            );
            need(detail["lines_a"].is_array(), "detail.lines_a");
            need(detail["lines_b"].is_array(), "detail.lines_b");
        }
        "Inputs" | "FlowParameters" => {
            need(detail["changes"].is_array(), "detail.changes is a list");
            for change in detail["changes"].as_array().into_iter().flatten() {
                need(
                    matches!(
                        change["change"].as_str(),
                        Some("changed" | "added" | "removed")
                    ),
                    "each change is changed, added or removed",
                );
                need(non_empty_str(&change["path"]), "each change has a path");
                // The marker is how the recorder writes a value JSON cannot encode (for
                // display only, run-record-v1.md); it is no part of the user's value.
                need(
                    !change["path"]
                        .as_str()
                        .unwrap_or("")
                        .contains("__cachescope_repr__"),
                    "a change path names the user's value, not the recorder's repr marker",
                );
            }
        }
        "RunId" => {
            need(non_empty_str(&detail["a"]), "detail.a");
            need(non_empty_str(&detail["b"]), "detail.b");
            need(
                matches!(detail["scope"].as_str(), Some("flow run" | "task run")),
                "detail.scope",
            );
        }
        "CacheKeyFnPolicy" => {
            need(non_empty_str(&detail["function"]), "detail.function");
            need(detail.get("a").is_some(), "detail.a");
            need(detail.get("b").is_some(), "detail.b");
        }
        "CompoundCachePolicy" => {
            need(non_empty_str(&detail["a"]), "detail.a (the tree in A)");
            need(non_empty_str(&detail["b"]), "detail.b (the tree in B)");
            need(detail["a"] != detail["b"], "the trees differ");
            need(
                detail["changes"].as_array().is_some_and(|c| !c.is_empty()),
                "detail.changes is not empty",
            );
        }
        _ => {}
    }
}

fn check_culprits(got: &Json, expected: &Json, problems: &mut Vec<String>) {
    let got: Vec<&Json> = got["culprits"].as_array().into_iter().flatten().collect();
    let expected: Vec<&Json> = expected["culprits"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let label = |c: &Json| format!("{} at {:?}", c["policy"], c["path"].as_str().unwrap_or("?"));
    let got_labels = sorted(got.iter().map(|c| label(c)).collect());
    let expected_labels = sorted(expected.iter().map(|c| label(c)).collect());
    if got_labels != expected_labels {
        problems.push(format!(
            "culprits {got_labels:?}, expected {expected_labels:?}"
        ));
    }
    for culprit in &got {
        let at = format!("culprit {}", label(culprit));
        if !non_empty_str(&culprit["summary"]) {
            problems.push(format!("{at}: no summary"));
        }
        match culprit["proof"].as_str() {
            Some("proven" | "unexplained") => {}
            Some("pair") if !strings(&culprit["with"]).is_empty() => {}
            other => problems.push(format!(
                "{at}: proof {other:?} (pair needs the other culprits in \"with\")"
            )),
        }
        check_detail_shape(culprit, &at, problems);
    }
    for want in &expected {
        let Some(culprit) = got.iter().find(|c| c["path"] == want["path"]) else {
            continue;
        };
        let at = format!("culprit {}", label(want));
        if let Some(proof) = want.get("proof")
            && &culprit["proof"] != proof
        {
            problems.push(format!(
                "{at}: proof {}, expected {proof}",
                culprit["proof"]
            ));
        }
        if let Some(with) = want.get("with") {
            let (g, w) = (sorted(strings(&culprit["with"])), sorted(strings(with)));
            if g != w {
                problems.push(format!("{at}: with {g:?}, expected {w:?}"));
            }
        }
        if let Some(detail) = want.get("detail") {
            subset(
                detail,
                &culprit["detail"],
                &format!("{at}: detail"),
                problems,
            );
        }
        let diff = culprit["detail"]["diff"].as_str().unwrap_or("");
        for line in strings(&want["diff_lines"]) {
            if !diff.lines().any(|l| l == line) {
                problems.push(format!("{at}: the diff has no line {line:?}"));
            }
        }
    }
}

fn check_causes(got: &Json, expected: &Json, problems: &mut Vec<String>) {
    let causes: Vec<&Json> = got["non_key_causes"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let kinds = sorted(
        causes
            .iter()
            .filter_map(|c| c["kind"].as_str().map(str::to_string))
            .collect(),
    );
    let want = sorted(strings(&expected["non_key_causes"]));
    if kinds != want {
        problems.push(format!("non_key_causes {kinds:?}, expected {want:?}"));
    }
    for cause in &causes {
        if !non_empty_str(&cause["summary"]) {
            problems.push(format!("non-key cause {}: no summary", cause["kind"]));
        }
        if cause["kind"] == "expired" && !non_empty_str(&cause["detail"]["expired_at"]) {
            problems.push(format!("expired: no detail.expired_at: {cause}"));
        }
    }
    // Where only one reason fits (an error, not NO_CACHE), the summary must give it.
    for (kind, text) in expected["cause_mentions"].as_object().into_iter().flatten() {
        let text = text.as_str().unwrap_or_default();
        let said = causes
            .iter()
            .filter(|c| c["kind"] == kind.as_str())
            .any(|c| c["summary"].as_str().is_some_and(|s| s.contains(text)));
        if !said {
            problems.push(format!("no {kind} cause whose summary mentions {text:?}"));
        }
    }
}

fn check_advice(got: &Json, expected: &Json, problems: &mut Vec<String>) {
    let details: Vec<&Json> = got["advice_detail"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let kinds = sorted(
        details
            .iter()
            .filter_map(|a| a["kind"].as_str().map(str::to_string))
            .collect(),
    );
    let want = sorted(strings(&expected["advice"]));
    if kinds != want {
        problems.push(format!("advice_detail kinds {kinds:?}, expected {want:?}"));
    }
    for advice in &details {
        let kind = advice["kind"].as_str().unwrap_or("?");
        if !non_empty_str(&advice["text"]) {
            problems.push(format!("advice {kind}: no text"));
        }
        // A fix is a policy expression a user can paste into the decorator.
        match &advice["fix"] {
            Json::Null => {}
            Json::String(fix) => {
                if let Err(e) = parse_policy(fix) {
                    problems.push(format!("advice {kind}: fix {fix:?} is not a policy: {e}"));
                }
            }
            other => problems.push(format!("advice {kind}: fix is {other}")),
        }
        // The contract gives this advice a fix (a policy expression) and a check over the
        // task's recorded runs.
        if kind == "default_run_id" {
            if !non_empty_str(&advice["fix"]) {
                problems.push(format!("advice {kind}: no fix: {advice}"));
            }
            if !non_empty_str(&advice["check"]) {
                problems.push(format!("advice {kind}: no check: {advice}"));
            }
        }
    }
    let texts = sorted(strings(&got["advice"]));
    let detail_texts = sorted(
        details
            .iter()
            .filter_map(|a| a["text"].as_str().map(str::to_string))
            .collect(),
    );
    if texts != detail_texts {
        problems.push(format!(
            "advice {texts:?} is not the text of advice_detail {detail_texts:?}"
        ));
    }
}

/// Every problem with one case's explanation (empty when it is right).
fn explanation_problems(case: &Case, run: &Run) -> Vec<String> {
    let mut problems = Vec::new();
    let expected = &case.expect;
    let verdict = expected["verdict"].as_str().expect("expect.verdict");
    let want_code = if verdict == "hit" { 0 } else { 1 };
    if run.code() != Some(want_code) {
        problems.push(format!(
            "exit status {:?}, expected {want_code} for a {verdict}",
            run.code()
        ));
    }
    let got: Json = match serde_json::from_str(&run.stdout()) {
        Ok(j) => j,
        Err(e) => {
            problems.push(format!("stdout is not one JSON document: {e}"));
            return problems;
        }
    };
    let mut need = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    need(
        got["verdict"] == verdict,
        format!("verdict {}, expected {verdict}", got["verdict"]),
    );
    let tasks: Vec<&str> = [Some(case.task.as_str()), case.task_a.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    need(
        got["task"].as_str().is_some_and(|t| tasks.contains(&t)),
        format!("task {}, expected one of {tasks:?}", got["task"]),
    );
    let file_name = |v: &Json| {
        v.as_str()
            .and_then(|p| Path::new(p).file_name().map(|n| n.to_owned()))
    };
    need(
        file_name(&got["a"]) == case.a.file_name().map(|n| n.to_owned()),
        format!("a is {}, expected {}", got["a"], case.a.display()),
    );
    need(
        got["key_a"] == record_key(&case.a),
        format!(
            "key_a {}, A's record says {}",
            got["key_a"],
            record_key(&case.a)
        ),
    );
    match &case.b {
        Some(b) => {
            need(
                file_name(&got["b"]) == b.file_name().map(|n| n.to_owned()),
                format!("b is {}, expected {}", got["b"], b.display()),
            );
            need(
                got["key_b"] == record_key(b),
                format!("key_b {}, B's record says {}", got["key_b"], record_key(b)),
            );
            need(
                got["pairing"] == "explicit",
                format!(
                    "pairing {}, expected explicit (both records given)",
                    got["pairing"]
                ),
            );
        }
        None => need(
            got["b"] == "live",
            format!("b is {}, expected \"live\"", got["b"]),
        ),
    }
    // Every case has a known cause: nothing may be left unexplained.
    need(
        got["unexplained"].is_null(),
        format!("unexplained is {}", got["unexplained"]),
    );
    check_culprits(&got, expected, &mut problems);
    check_causes(&got, expected, &mut problems);
    check_advice(&got, expected, &mut problems);
    subset(&expected["evidence"], &got, "output", &mut problems);
    problems
}

#[test]
fn explain_says_what_prefect_did_in_every_case() {
    let scenarios = scenarios();
    let mut reports = Vec::new();
    for case in &scenarios.cases {
        let run = explain(case);
        let problems = explanation_problems(case, &run);
        if problems.is_empty() {
            continue;
        }
        let stdout = run.stdout();
        let shown = serde_json::from_str::<Json>(&stdout)
            .map(|j| serde_json::to_string_pretty(&j).unwrap())
            .unwrap_or(stdout);
        reports.push(format!(
            "── {} (task {})\n$ {}\nexit status {:?}\nproblems:\n  - {}\nexpected:\n{}\noutput:\n{}\nstderr:\n{}",
            case.name,
            case.task,
            run.shown,
            run.code(),
            problems.join("\n  - "),
            serde_json::to_string_pretty(&case.expect).unwrap(),
            shown,
            tail(&run.stderr(), 20)
        ));
    }
    if !reports.is_empty() {
        panic!(
            "{} of {} cases explained wrongly; records under {}\n\n{}",
            reports.len(),
            scenarios.cases.len(),
            scenarios.out.display(),
            reports.join("\n\n")
        );
    }
}

/// The scenarios cover everything docs/explain-json.md names, so a script that silently lost
/// cases cannot leave the explainer untested.
#[test]
fn the_scenarios_cover_every_culprit_cause_and_advice() {
    let cases = &scenarios().cases;
    let expected = |f: &dyn Fn(&Case) -> Vec<String>| -> BTreeSet<String> {
        cases.iter().flat_map(f).collect()
    };
    let policies = expected(&|c| {
        c.expect["culprits"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k["policy"].as_str().map(str::to_string))
            .collect()
    });
    let proofs = expected(&|c| {
        c.expect["culprits"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k["proof"].as_str().map(str::to_string))
            .collect()
    });
    let causes = expected(&|c| strings(&c.expect["non_key_causes"]));
    let advice = expected(&|c| strings(&c.expect["advice"]));
    let verdicts = expected(&|c| {
        let mode = if c.b.is_some() { "pair" } else { "live" };
        vec![format!(
            "{mode} {}",
            c.expect["verdict"].as_str().unwrap_or("?")
        )]
    });
    let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let all_policies = [
        "TaskSource",
        "Inputs",
        "FlowParameters",
        "RunId",
        "CacheKeyFnPolicy",
        "CompoundCachePolicy",
    ];
    assert_eq!(policies, set(&all_policies), "culprit policies");
    assert_eq!(proofs, set(&["pair", "proven"]), "proofs");
    let all_causes = [
        "expired",
        "no_key",
        "no_record",
        "other_storage",
        "refresh_cache",
    ];
    assert_eq!(causes, set(&all_causes), "non-key causes");
    let all_advice = [
        "cosmetic_source_edit",
        "default_run_id",
        "inputs_only_collision",
        "minus_without_inputs",
        "set_of_strings",
        "unhashable_input",
    ];
    assert_eq!(advice, set(&all_advice), "advice kinds");
    let both = ["live hit", "live miss", "pair hit", "pair miss"];
    assert_eq!(verdicts, set(&both), "verdicts");
    assert!(cases.len() >= 30, "only {} cases", cases.len());
}

/// Every record the scenarios made recomputes (or is honestly unverifiable): an explanation
/// built on a record cachescope cannot reproduce would prove nothing.
#[test]
fn every_scenario_record_recomputes() {
    let scenarios = scenarios();
    // The case folders, not OUT itself: the manifest beside them is not a record.
    let mut folders: Vec<PathBuf> = fs::read_dir(&scenarios.out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    let mut args: Vec<&Path> = vec![Path::new("keys")];
    args.extend(folders.iter().map(PathBuf::as_path));
    args.push(Path::new("--json"));
    let run = Run::new(&args);
    assert_eq!(run.code(), Some(0), "$ {}\n{}", run.shown, run.stderr());
    let mut statuses = BTreeSet::new();
    let mut bad = Vec::new();
    let mut lines = 0;
    for line in run.stdout().lines() {
        lines += 1;
        let record: Json = serde_json::from_str(line).expect("keys --json line");
        let status = record["status"].as_str().unwrap_or("?").to_string();
        if !matches!(status.as_str(), "match" | "unverifiable") {
            bad.push(line.to_string());
        }
        statuses.insert(status);
    }
    assert!(
        bad.is_empty(),
        "records that do not recompute:\n{}",
        bad.join("\n")
    );
    assert!(lines >= 60, "only {lines} records");
    assert!(statuses.contains("match"), "{statuses:?}");
}

// ---------------------------------------------------------------------------------------------
// check

/// `check --json`: one JSON object per line, for each task that would miss because its code or
/// configuration changed (or could not be checked); unchanged tasks get no line.
fn check_lines(run: &Run) -> Result<Vec<Json>, String> {
    run.stdout()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("not a JSON line: {l}: {e}")))
        .collect()
}

fn check(project: &Path) -> Run {
    let runs = &scenarios().check.runs;
    Run::new(&[
        Path::new("check"),
        runs,
        Path::new("--project"),
        project,
        Path::new("--json"),
    ])
}

fn check_report(run: &Run) -> String {
    format!(
        "$ {}\nexit status {:?}\nstdout:\n{}\nstderr:\n{}",
        run.shown,
        run.code(),
        run.stdout(),
        tail(&run.stderr(), 20)
    )
}

#[test]
fn check_names_exactly_the_task_whose_source_was_edited() {
    let material = &scenarios().check;
    let run = check(&material.edited);
    let report = check_report(&run);
    let lines = check_lines(&run).unwrap_or_else(|e| panic!("{e}\n{report}"));
    let [line] = lines.as_slice() else {
        panic!("expected one line, for {}\n{report}", material.edited_task);
    };
    assert_eq!(line["task"], material.edited_task.as_str(), "{report}");
    assert_eq!(line["status"], "changed", "{report}");
    assert_eq!(line["verdict"], "miss", "{report}");
    assert!(line["error"].is_null(), "{report}");
    assert_ne!(line["key_live"], line["key_recorded"], "{report}");
    let culprits: Vec<&Json> = line["culprits"].as_array().into_iter().flatten().collect();
    assert!(
        culprits.len() == 1 && culprits[0]["policy"] == "TaskSource",
        "the culprit is the edited source\n{report}"
    );
    assert_eq!(run.code(), Some(1), "{report}");
}

#[test]
fn check_passes_an_unedited_project_and_a_helper_edit() {
    let material = &scenarios().check;
    // A helper the task calls is not part of its source: Prefect would hit, so check passes.
    for project in [&material.unedited, &material.helper_edited] {
        let run = check(project);
        let report = check_report(&run);
        let lines = check_lines(&run).unwrap_or_else(|e| panic!("{e}\n{report}"));
        assert!(lines.is_empty(), "no task changed\n{report}");
        assert_eq!(run.code(), Some(0), "{report}");
    }
}
