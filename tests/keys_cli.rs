//! `cachescope keys` on synthetic records and on broken input: the JSON contract of cli.md,
//! per-record errors that name the file, line and column, and the exit statuses.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value as Json;

fn keys(args: &[&str], cwd: &Path) -> Output {
    Command::new(support::cachescope_bin())
        .arg("keys")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run cachescope")
}

fn json_lines(out: &Output) -> Vec<Json> {
    String::from_utf8(out.stdout.clone())
        .expect("stdout is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// Synthetic records made by bench/make_records.py, whose keys Python computed.
fn synthetic(dir: &Path, n: usize, jsonl: bool) {
    let venv = support::plain_venv("3");
    let mut cmd = Command::new(&venv.python);
    cmd.arg(support::repo_root().join("bench/make_records.py"))
        .arg(n.to_string())
        .arg(dir);
    if jsonl {
        cmd.arg("--jsonl");
    }
    let st = cmd.status().expect("run make_records.py");
    assert!(st.success(), "make_records.py failed");
}

fn good_record_text(dir: &Path) -> String {
    let tmp = dir.join("one");
    synthetic(&tmp, 1, false);
    fs::read_to_string(tmp.join("batch-000/record-00000.json")).unwrap()
}

#[test]
fn synthetic_records_all_match_with_the_documented_fields() {
    let tmp = tempfile::tempdir().unwrap();
    synthetic(&tmp.path().join("runs"), 120, false);
    let out = keys(&["runs", "--json"], tmp.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 120);
    for l in &lines {
        assert_eq!(l["status"], "match", "{l}");
        assert_eq!(l["key"], l["recorded"]);
        assert!(
            l["record"].as_str().unwrap().starts_with("runs/batch-00"),
            "{l}"
        );
        assert!(l.get("error").is_none());
        let nodes = l["nodes"].as_array().unwrap();
        let paths: Vec<&str> = nodes.iter().map(|n| n["path"].as_str().unwrap()).collect();
        assert_eq!(paths, ["", "0", "1", "2", "3"]);
        let policies: Vec<&str> = nodes
            .iter()
            .map(|n| n["policy"].as_str().unwrap())
            .collect();
        assert_eq!(
            policies,
            [
                "CompoundCachePolicy",
                "TaskSource",
                "RunId",
                "FlowParameters",
                "Inputs"
            ]
        );
        for n in nodes {
            for field in ["path", "policy", "recorded", "key", "status"] {
                assert!(n.get(field).is_some(), "node lacks {field}: {n}");
            }
        }
    }
}

#[test]
fn jsonl_records_are_named_by_line() {
    let tmp = tempfile::tempdir().unwrap();
    synthetic(&tmp.path().join("bulk"), 30, true);
    let out = keys(&["bulk/records.jsonl", "--json"], tmp.path());
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 30);
    assert_eq!(lines[4]["record"], "bulk/records.jsonl:5");
    assert!(lines.iter().all(|l| l["status"] == "match"));
}

#[test]
fn an_edited_record_is_changed_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let text = good_record_text(tmp.path());
    // Editing the recorded source means the recorded TaskSource key no longer follows.
    let edited = text.replacen(
        "Drop rows under the threshold.",
        "Drop rows below the threshold.",
        1,
    );
    assert_ne!(text, edited);
    fs::create_dir(tmp.path().join("runs")).unwrap();
    fs::write(tmp.path().join("runs/edited.json"), edited).unwrap();
    let out = keys(&["runs", "--json"], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let l = &json_lines(&out)[0];
    assert_eq!(l["status"], "changed");
    let nodes = l["nodes"].as_array().unwrap();
    assert_eq!(nodes[1]["policy"], "TaskSource");
    assert_eq!(nodes[1]["status"], "changed");
    assert_eq!(nodes[2]["status"], "match");
    assert_eq!(
        nodes[0]["status"], "changed",
        "the compound follows its changed child"
    );
}

#[test]
fn broken_records_are_reported_and_the_rest_still_load() {
    let tmp = tempfile::tempdir().unwrap();
    let good = good_record_text(tmp.path());
    let runs = tmp.path().join("runs");
    fs::create_dir_all(runs.join("sub")).unwrap();
    fs::write(runs.join("a-good.json"), &good).unwrap();
    fs::write(runs.join("b-half.json"), &good[..good.len() / 2]).unwrap();
    fs::write(runs.join("c-empty.json"), "").unwrap();
    fs::write(runs.join("d-latin1.json"), b"{\"format\": \"caf\xe9\"}").unwrap();
    fs::write(
        runs.join("e-nofield.json"),
        good.replacen("\"task\":", "\"tusk\":", 1),
    )
    .unwrap();
    fs::write(
        runs.join("f-wrongformat.json"),
        good.replacen("run-record@1", "run-record@9", 1),
    )
    .unwrap();
    let one_line = good.replace('\n', "");
    fs::write(
        runs.join("sub/g.jsonl"),
        format!("{one_line}\n{{\"format\": tru}}\n\n{one_line}\n"),
    )
    .unwrap();
    fs::write(runs.join("ignored.txt"), "not a record").unwrap();

    let out = keys(&["runs", "--json"], tmp.path());
    assert_eq!(
        out.status.code(),
        Some(2),
        "errors exit 2 after everything was processed"
    );
    let lines = json_lines(&out);
    let by_record = |r: &str| {
        lines
            .iter()
            .find(|l| l["record"] == r)
            .unwrap_or_else(|| panic!("no line for {r}"))
    };
    assert_eq!(lines.len(), 9);
    assert_eq!(by_record("runs/a-good.json")["status"], "match");
    assert_eq!(by_record("runs/sub/g.jsonl:1")["status"], "match");
    assert_eq!(by_record("runs/sub/g.jsonl:4")["status"], "match");
    let error_of = |r: &str| {
        let l = by_record(r);
        assert_eq!(l["status"], "error", "{l}");
        l["error"].as_str().unwrap().to_string()
    };
    let half = error_of("runs/b-half.json");
    assert!(half.starts_with("runs/b-half.json:"), "{half}");
    assert!(
        half.contains("line") || half.matches(':').count() >= 3,
        "names line and column: {half}"
    );
    assert!(error_of("runs/c-empty.json").contains("empty file"));
    let latin = error_of("runs/d-latin1.json");
    assert!(
        latin.contains("not UTF-8") && latin.contains("runs/d-latin1.json:1:"),
        "{latin}"
    );
    assert!(error_of("runs/e-nofield.json").contains("missing required field `task`"));
    assert!(error_of("runs/f-wrongformat.json").contains("run-record@9"));
    let bad_line = error_of("runs/sub/g.jsonl:2");
    assert!(bad_line.starts_with("runs/sub/g.jsonl:2:"), "{bad_line}");
    // stderr names each broken file too
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("runs/b-half.json") && stderr.contains("runs/sub/g.jsonl:2"),
        "{stderr}"
    );
}

#[test]
fn a_missing_path_is_an_error_but_other_paths_are_processed() {
    let tmp = tempfile::tempdir().unwrap();
    synthetic(&tmp.path().join("runs"), 3, false);
    let out = keys(&["runs", "gone", "--json"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_lines(&out).len(), 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("gone: cannot read: no such file or folder"),
        "{stderr}"
    );
}

#[test]
fn text_output_summarises() {
    let tmp = tempfile::tempdir().unwrap();
    synthetic(&tmp.path().join("runs"), 5, false);
    let out = keys(&["runs"], tmp.path());
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.ends_with("5 records: 5 match, 0 unverifiable, 0 changed, 0 error\n"),
        "{text}"
    );
}
