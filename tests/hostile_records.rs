//! Malformed records under `cachescope keys`: each one is an error naming the file, and the
//! line and column where the text itself is wrong; the good records beside it still load, and
//! the run exits 2. Every run has a deadline (`hostile_support::run`).

mod hostile_support;

use std::fs;

use std::time::Duration;

use hostile_support::{good_record, json_by_record, run, run_within};
use serde_json::Value as Json;

fn good_text() -> String {
    fs::read_to_string(good_record()).unwrap()
}

fn good_json() -> Json {
    serde_json::from_str(&good_text()).unwrap()
}

fn pretty(v: &Json) -> Vec<u8> {
    serde_json::to_string_pretty(v).unwrap().into_bytes()
}

/// Writes `cases` beside a good record, runs `keys --json`, and checks each case's error
/// starts with `runs/<name>` + the expected location (`:line:column`, or nothing for an
/// error about the record's fields) and holds the expected message.
fn check(cases: &[(&str, Vec<u8>, &str, &str)]) {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    fs::create_dir_all(&runs).unwrap();
    fs::write(runs.join("good.json"), good_text()).unwrap();
    for (name, bytes, _, _) in cases {
        fs::write(runs.join(name), bytes).unwrap();
    }
    let out = run(&["keys", "runs", "--json"], tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let records = json_by_record(&out);
    assert_eq!(records["runs/good.json"]["status"], "match", "{records:#?}");
    for (name, _, location, message) in cases {
        let record = format!("runs/{name}");
        let line = &records
            .get(&record)
            .unwrap_or_else(|| panic!("no line for {record}: {records:#?}"));
        assert_eq!(line["status"], "error", "{record}: {line}");
        let error = line["error"].as_str().unwrap();
        // A location ending in ':' is a prefix (the column is not pinned down).
        let want = if location.ends_with(':') {
            format!("runs/{name}{location}")
        } else {
            format!("runs/{name}{location}: ")
        };
        assert!(
            error.starts_with(&want),
            "{record}: error {error:?} should start with {want:?}"
        );
        assert!(
            error.contains(message),
            "{record}: {error:?} lacks {message:?}"
        );
        assert!(
            stderr.contains(error),
            "{record}: the error is also on stderr: {stderr}"
        );
    }
}

#[test]
fn malformed_records_are_errors_naming_file_line_and_column() {
    let good = good_text();
    let mut wrong_format = good_json();
    wrong_format["format"] = "cachescope/run-record@9".into();
    let mut missing = good_json();
    missing.as_object_mut().unwrap().remove("key");
    let mut wrong_type = good_json();
    wrong_type["key"] = 5.into();
    let mut task_not_object = good_json();
    task_not_object["task"] = "extract".into();
    let nan = String::from_utf8(pretty(&good_json())).unwrap().replacen(
        &format!("\"key\": \"{}\"", good_json()["key"].as_str().unwrap()),
        "\"key\": NaN",
        1,
    );
    assert!(nan.contains("\"key\": NaN"));
    // Python's json.loads keeps the last of repeated keys; so does the loader, and the last
    // value here is wrong.
    let duplicate = good.replacen(
        "\"format\": \"cachescope/run-record@1\",",
        "\"format\": \"cachescope/run-record@1\",\n  \"format\": \"other\",",
        1,
    );
    assert_ne!(duplicate, good);
    let mut bad_utf8 = good.clone().into_bytes();
    let at = good.find("nightly-sales").unwrap() + 7;
    bad_utf8[at] = 0xff;
    let bad_utf8_line = good[..at].matches('\n').count() + 1;
    let bad_utf8_col = at - good[..at].rfind('\n').unwrap();
    let truncated = &good[..good.len() / 2];
    let truncated_lines = truncated.matches('\n').count() + 1;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!(
        "{{\"format\": \"cachescope/run-record@1\", \"x\": {}1{}}}",
        "{\"a\": ".repeat(100_000),
        "}".repeat(100_000)
    );
    let cases: Vec<(&str, Vec<u8>, String, &str)> = vec![
        ("empty.json", vec![], String::new(), "empty file"),
        (
            "blank.json",
            b"  \n\t\n".to_vec(),
            String::new(),
            "empty file",
        ),
        (
            "truncated.json",
            truncated.as_bytes().to_vec(),
            format!(":{truncated_lines}:"),
            "",
        ),
        (
            "not-json.json",
            b"hello world\n".to_vec(),
            ":1:1".into(),
            "expected a JSON value",
        ),
        (
            "bom.json",
            [b"\xef\xbb\xbf".as_slice(), good.as_bytes()].concat(),
            ":1:1".into(),
            "byte-order mark",
        ),
        (
            "format.json",
            pretty(&wrong_format),
            String::new(),
            "cachescope/run-record@9",
        ),
        (
            "missing.json",
            pretty(&missing),
            String::new(),
            "missing required field `key`",
        ),
        (
            "types.json",
            pretty(&wrong_type),
            String::new(),
            "field `key` must be a string",
        ),
        (
            "task-type.json",
            pretty(&task_not_object),
            String::new(),
            "task",
        ),
        (
            "nan.json",
            nan.into_bytes(),
            String::new(),
            "field `key` must be a string",
        ),
        (
            "duplicate.json",
            duplicate.into_bytes(),
            String::new(),
            "\"other\"",
        ),
        (
            "utf8.json",
            bad_utf8,
            format!(":{bad_utf8_line}:{bad_utf8_col}"),
            "not UTF-8 text (invalid byte 0xff)",
        ),
        (
            "deep.json",
            deep.into_bytes(),
            ":1:2001".into(),
            "nested deeper than 2000",
        ),
        (
            "deep-object.json",
            deep_object.into_bytes(),
            ":1:".into(),
            "nested deeper",
        ),
        ("array.json", b"[1, 2]".to_vec(), String::new(), ""),
    ];
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = cases
        .iter()
        .map(|(n, b, l, m)| (*n, b.clone(), l.as_str(), *m))
        .collect();
    check(&cases);
}

#[test]
fn huge_integers_load_as_python_reads_them() {
    // Python ints have no size limit and the record is otherwise good: it loads and matches.
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    fs::create_dir_all(&runs).unwrap();
    let text = good_text().replacen(
        "\"log_every\": 1000",
        &format!("\"log_every\": 1{}", "0".repeat(5000)),
        1,
    );
    assert!(text.contains(&"0".repeat(5000)));
    fs::write(runs.join("huge-int.json"), text).unwrap();
    let out = run(&["keys", "runs", "--json"], tmp.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        json_by_record(&out)["runs/huge-int.json"]["status"],
        "match"
    );
}

#[test]
fn a_jsonl_file_with_one_bad_line_loads_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    fs::create_dir_all(&runs).unwrap();
    let line = serde_json::to_string(&good_json()).unwrap();
    let text = format!("{line}\n{line}\n{{\"format\": tru}}\n{line}\n");
    fs::write(runs.join("batch.jsonl"), text).unwrap();
    let out = run(&["keys", "runs", "--json"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let records = json_by_record(&out);
    for good in [
        "runs/batch.jsonl:1",
        "runs/batch.jsonl:2",
        "runs/batch.jsonl:4",
    ] {
        assert_eq!(records[good]["status"], "match", "{good}: {records:#?}");
    }
    let bad = records["runs/batch.jsonl:3"]["error"].as_str().unwrap();
    assert!(bad.starts_with("runs/batch.jsonl:3:12: "), "{bad}");
}

#[test]
fn a_200_mb_record_loads_without_trouble() {
    // Generated under target/tmp (not /tmp, which may be a small tmpfs) and deleted after.
    let dir = tempfile::Builder::new()
        .prefix("hostile-200mb-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let runs = dir.path().join("runs");
    fs::create_dir_all(&runs).unwrap();
    let good = good_text();
    let brace = good.find('{').unwrap();
    let mut text = String::with_capacity(200 << 20);
    text.push_str(&good[..=brace]);
    text.push_str("\n  \"padding\": \"");
    text.push_str(&"x".repeat(200 << 20));
    text.push_str("\",");
    text.push_str(&good[brace + 1..]);
    fs::write(runs.join("big.json"), &text).unwrap();
    // The same text cut short: the error points into the last line.
    fs::write(runs.join("big-truncated.json"), &text[..150 << 20]).unwrap();
    drop(text);
    // A debug build reads the 350 MB in about 15 s on a quiet machine; a shared one is slower.
    let start = std::time::Instant::now();
    let out = run_within(
        &["keys", "runs", "--json"],
        dir.path(),
        Duration::from_secs(180),
    );
    eprintln!("keys on 350 MB of records: {:?}", start.elapsed());
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = json_by_record(&out);
    assert_eq!(records["runs/big.json"]["status"], "match", "{records:#?}");
    let err = records["runs/big-truncated.json"]["error"]
        .as_str()
        .unwrap();
    assert!(err.starts_with("runs/big-truncated.json:"), "{err}");
    assert!(err.contains("unterminated string"), "{err}");
}
