//! Malformed records under `cachescope keys`, `check` and the summary: each one is an error
//! naming the file, the line and the column of what is wrong (where the text does not parse,
//! or the field that does not follow the format); the good records beside it still load, and
//! the run exits 2. Every run has a deadline (`hostile_support::run`).

mod hostile_support;

use std::fs;
use std::path::Path;

use std::time::Duration;

use hostile_support::{good_record, json_by_record, run, run_within};
use serde_json::Value as Json;

fn good_text() -> String {
    fs::read_to_string(good_record()).unwrap()
}

fn good_json() -> Json {
    serde_json::from_str(&good_text()).unwrap()
}

/// The 1-based line and column (in characters) of byte `offset` of `text`, as the loader and
/// Python's `json.JSONDecodeError` count them.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// Where `needle`, which occurs once in `text`, starts.
fn at(text: &str, needle: &str) -> (usize, usize) {
    assert_eq!(text.matches(needle).count(), 1, "{needle:?} is not unique");
    line_col(text, text.find(needle).unwrap())
}

/// `text` with `from`, which occurs once, replaced by `to`.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "{from:?} is not unique");
    text.replacen(from, to, 1)
}

/// One malformed record file: its bytes, where its error must point (None: nowhere, for an
/// empty file) and what the error must say.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    at: Option<(usize, usize)>,
    message: String,
}

impl Case {
    fn new(
        name: &'static str,
        bytes: impl Into<Vec<u8>>,
        at: (usize, usize),
        message: &str,
    ) -> Case {
        Case {
            name,
            bytes: bytes.into(),
            at: Some(at),
            message: message.to_string(),
        }
    }

    /// The start every report of this error has: `runs/NAME:LINE:COLUMN: `.
    fn prefix(&self) -> String {
        match self.at {
            Some((line, column)) => format!("runs/{}:{line}:{column}: ", self.name),
            None => format!("runs/{}: ", self.name),
        }
    }
}

/// Writes `cases` beside a good record and checks each case's error, the same in every
/// output: the `error` of its `keys --json` line (also on stderr), its line of `keys` text, the
/// summary's, and `check`'s message on stderr, each `runs/<name>:LINE:COLUMN: ` and the expected message; the
/// good record still loads, and every run exits 2.
fn check(cases: &[Case]) {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    fs::create_dir_all(&runs).unwrap();
    fs::write(runs.join("good.json"), good_text()).unwrap();
    for case in cases {
        fs::write(runs.join(case.name), &case.bytes).unwrap();
    }
    let out = run(&["keys", "runs", "--json"], tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let records = json_by_record(&out);
    assert_eq!(records["runs/good.json"]["status"], "match", "{records:#?}");
    let mut errors = Vec::new();
    for case in cases {
        let record = format!("runs/{}", case.name);
        let line = &records
            .get(&record)
            .unwrap_or_else(|| panic!("no line for {record}: {records:#?}"));
        assert_eq!(line["status"], "error", "{record}: {line}");
        let error = line["error"].as_str().unwrap();
        assert!(
            error.starts_with(&case.prefix()),
            "{record}: error {error:?} should start with {:?}",
            case.prefix()
        );
        assert!(
            error.contains(&case.message),
            "{record}: {error:?} lacks {:?}",
            case.message
        );
        assert!(
            stderr.contains(error),
            "{record}: the error is also on stderr: {stderr}"
        );
        errors.push(error.to_string());
    }

    // The text outputs name the same place: `keys` in its error row, `check` on stderr.
    let text = run(&["keys", "runs"], tmp.path());
    assert_eq!(text.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&text.stdout);
    for error in &errors {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("error") && l.ends_with(error.as_str())),
            "`keys` text lacks {error:?}: {stdout}"
        );
    }
    // Without a terminal, `cachescope PATH` prints the summary.
    let summary = run(&["runs"], tmp.path());
    assert_eq!(summary.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&summary.stdout);
    for error in &errors {
        assert!(
            stdout.lines().any(|l| l == format!("  error: {error}")),
            "the summary lacks {error:?}: {stdout}"
        );
    }
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-runs/project");
    let project = project.to_str().unwrap();
    let gate = run(&["check", "runs", "--project", project], tmp.path());
    assert_eq!(gate.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&gate.stderr);
    for error in &errors {
        assert!(
            stderr.lines().any(|l| l == format!("cachescope: {error}")),
            "`check` lacks {error:?}: {stderr}"
        );
    }
    let stdout = String::from_utf8_lossy(&gate.stdout);
    assert!(
        stdout.contains("could not be checked"),
        "`check` counts them: {stdout}"
    );
}

// Issue 12: every malformed record is an error naming the file, the line and the column of
// what is wrong (the offending value; for a missing field, the object that lacks it), for
// parse errors and for errors in the record's fields alike.
#[test]
fn malformed_records_are_errors_naming_file_line_and_column() {
    let good = good_text();
    // The top-level key, which the policy's root node shares.
    let key = "\"key\": \"bb52f23e9e26cbd78573f01e881849df\",\n  \"outcome\"";
    let mut cases = vec![
        Case {
            name: "empty.json",
            bytes: vec![],
            at: None,
            message: "empty file".into(),
        },
        Case {
            name: "blank.json",
            bytes: b"  \n\t\n".to_vec(),
            at: None,
            message: "empty file".into(),
        },
    ];

    // Truncated inside a string, and where a value must follow.
    let quote = good.find("\"nightly-sales\"").unwrap();
    let truncated = &good[..quote + 8];
    cases.push(Case::new(
        "truncated.json",
        truncated,
        line_col(truncated, quote),
        "unterminated string",
    ));
    let colon = good.find(key).unwrap() + "\"key\": ".len();
    let truncated = &good[..colon];
    cases.push(Case::new(
        "truncated-value.json",
        truncated,
        line_col(truncated, colon),
        "expected a JSON value, found end of input",
    ));
    cases.push(Case::new(
        "not-json.json",
        "hello world\n",
        (1, 1),
        "expected a JSON value",
    ));
    cases.push(Case::new(
        "bom.json",
        [b"\xef\xbb\xbf".as_slice(), good.as_bytes()].concat(),
        (1, 1),
        "byte-order mark",
    ));

    // The wrong format tag.
    let text = edit(&good, "run-record@1", "run-record@9");
    cases.push(Case::new(
        "format.json",
        text.clone(),
        at(&text, "\"cachescope/run-record@9\""),
        "format: expected \"cachescope/run-record@1\", found \"cachescope/run-record@9\"",
    ));

    // Missing fields: at the object that lacks them.
    let text = edit(
        &good,
        "  \"key\": \"bb52f23e9e26cbd78573f01e881849df\",\n  \"outcome\"",
        "  \"outcome\"",
    );
    cases.push(Case::new(
        "missing-key.json",
        text,
        (1, 1),
        "missing required field `key`",
    ));
    let text = edit(&good, "    \"name\": \"extract\",\n", "");
    let brace = text.find("\"task\": {").unwrap() + "\"task\": ".len();
    cases.push(Case::new(
        "missing-name.json",
        text.clone(),
        line_col(&text, brace),
        "missing required field `task.name`",
    ));

    // Wrong types, at the value.
    let text = edit(&good, key, "\"key\": 5,\n  \"outcome\"");
    cases.push(Case::new(
        "types.json",
        text.clone(),
        at(&text, "5,\n  \"outcome\""),
        "key: expected a string or null, found 5",
    ));
    let text = edit(&good, "\"01a20f42-c174-7dda-a501-cc32cdde9848\"", "12");
    cases.push(Case::new(
        "id-type.json",
        text.clone(),
        at(&text, "12,\n    \"name\": \"extract-887\""),
        "task_run.id: expected a string or null, found 12",
    ));
    let task_run = "{\n    \"id\": \"01a20f42-c174-7dda-a501-cc32cdde9848\",\n    \"name\": \"extract-887\"\n  }";
    let text = edit(&good, task_run, "\"extract-887\"");
    cases.push(Case::new(
        "task-run-type.json",
        text.clone(),
        at(&text, "\"extract-887\""),
        "task_run: expected an object or null, found \"extract-887\"",
    ));
    let text = edit(&good, "\"exclude\": []", "\"exclude\": [\"debug\", 3]");
    cases.push(Case::new(
        "exclude-type.json",
        text.clone(),
        at(&text, "3]"),
        "policy.policies[1].exclude[1]: expected a string, found 3",
    ));
    cases.push(Case::new(
        "array.json",
        "\n  [1, 2]",
        (2, 3),
        "expected a run record (a JSON object), found an array",
    ));

    // Duplicate keys: Python's json.loads keeps the last of repeated keys, and so does the
    // loader; the error is at the last one, and says the key repeats.
    let text = edit(
        &good,
        "\"format\": \"cachescope/run-record@1\",",
        "\"format\": \"cachescope/run-record@1\",\n  \"format\": \"other\",",
    );
    cases.push(Case::new(
        "duplicate.json",
        text.clone(),
        at(&text, "\"other\""),
        "format: expected \"cachescope/run-record@1\", found \"other\" (`format` is given 2 \
         times in its object; the last one counts",
    ));
    let text = edit(
        &good,
        "  \"task_run\":",
        "  \"task\": {\"qualname\": \"x\"},\n  \"task_run\":",
    );
    cases.push(Case::new(
        "duplicate-task.json",
        text.clone(),
        at(&text, "{\"qualname\": \"x\"}"),
        "missing required field `task.name` (`task` is given 2 times in its object",
    ));

    // NaN and Infinity where a key (a string) belongs, and NaN as an object key.
    let text = edit(&good, key, "\"key\": NaN,\n  \"outcome\"");
    cases.push(Case::new(
        "nan.json",
        text.clone(),
        at(&text, "NaN"),
        "key: expected a string or null, found NaN",
    ));
    let text = edit(&good, "\"e5c410945eda4009a505ac507d93f94a\"", "Infinity");
    cases.push(Case::new(
        "infinity.json",
        text.clone(),
        at(&text, "Infinity"),
        "policy.policies[0].key: expected a string or null, found Infinity",
    ));
    let text = edit(
        &good,
        "\"day\": \"2024-03-01\"\n  }",
        "NaN: \"2024-03-01\"\n  }",
    );
    cases.push(Case::new(
        "nan-object-key.json",
        text.clone(),
        at(&text, "NaN"),
        "expected an object key in double quotes, found 'N'",
    ));

    // A huge integer where a line number belongs (in the inputs it is fine: see below).
    let text = edit(
        &good,
        "\"line\": 24",
        &format!("\"line\": 1{}", "0".repeat(5000)),
    );
    cases.push(Case::new(
        "huge-int.json",
        text.clone(),
        at(&text, &format!("1{}", "0".repeat(5000))),
        "task.line: expected a line number or null, found an integer of 5001 digits",
    ));

    // Invalid UTF-8, at the bad byte.
    let mut bad_utf8 = good.clone().into_bytes();
    let byte = good.find("nightly-sales").unwrap() + 7;
    bad_utf8[byte] = 0xff;
    cases.push(Case::new(
        "utf8.json",
        bad_utf8,
        line_col(&good, byte),
        "not UTF-8 text (invalid byte 0xff)",
    ));

    // 100,000 levels of nesting: refused at the level past the limit, with no stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    cases.push(Case::new(
        "deep.json",
        deep,
        (1, 2001),
        "nested deeper than 2000",
    ));
    let head = "{\"format\": \"cachescope/run-record@1\", \"x\": ";
    let deep_object = format!(
        "{head}{}1{}}}",
        "{\"a\": ".repeat(100_000),
        "}".repeat(100_000)
    );
    cases.push(Case::new(
        "deep-object.json",
        deep_object,
        (1, head.len() + 1999 * "{\"a\": ".len() + 1),
        "nested deeper than 2000",
    ));
    check(&cases);
}

// Issue 12, systematically: every one-line field of a real record, given a value of each wrong
// kind in turn, is either still a record or an error placed exactly on that value, naming the
// field. The place is known here from the edit, independently of how the loader finds it.
#[test]
fn every_wrong_value_is_placed_on_itself() {
    let good = good_text();
    let path = Path::new("runs/r.json");
    let wrong = [
        "12".to_string(),
        "-1".to_string(),
        format!("1{}", "0".repeat(30)),
        "1.5".to_string(),
        "\"x\"".to_string(),
        "[]".to_string(),
        "{}".to_string(),
        "NaN".to_string(),
        "-Infinity".to_string(),
        "true".to_string(),
        "null".to_string(),
    ];
    let (mut errors, mut fields) = (0, 0);
    let mut offset = 0;
    for line in good.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let body = line.trim_end_matches('\n').trim_end_matches(',');
        let Some((key, value)) = body.trim_start().split_once("\": ") else {
            continue;
        };
        if value.ends_with('{') || value.ends_with('[') {
            continue;
        }
        fields += 1;
        let key = key.trim_start_matches('"');
        let value_at = start + body.len() - value.len();
        let (line_no, column) = line_col(&good, value_at);
        for w in &wrong {
            let text = format!(
                "{}{w}{}",
                &good[..value_at],
                &good[value_at + value.len()..]
            );
            let loaded = cachescope::load::load_bytes(path, text.as_bytes());
            assert_eq!(loaded.len(), 1);
            let Err(e) = &loaded[0].record else {
                continue;
            };
            errors += 1;
            assert_eq!(
                (e.line, e.column),
                (Some(line_no), Some(column)),
                "`{key}` = {w}: {e}"
            );
            assert!(
                e.message.contains(&format!("{key}: expected "))
                    || e.message.contains(&format!("{key}[")),
                "`{key}` = {w}: {e}"
            );
        }
    }
    assert!(fields > 35, "{fields} fields");
    assert!(errors > 250, "{errors} errors");
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
    // Line 3 does not parse; line 5 parses but its task run id is a number: each error names
    // the line of the file and the column in that line.
    let id = "\"id\":\"01a20f42-c174-7dda-a501-cc32cdde9848\"";
    let wrong = edit(&line, id, "\"id\":12");
    let column = wrong[..wrong.find("\"id\":12").unwrap()].chars().count() + 6;
    let text = format!("{line}\n{line}\n{{\"format\": tru}}\n{line}\n{wrong}\n\n{line}\n");
    fs::write(runs.join("batch.jsonl"), text).unwrap();
    let out = run(&["keys", "runs", "--json"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let records = json_by_record(&out);
    for good in [
        "runs/batch.jsonl:1",
        "runs/batch.jsonl:2",
        "runs/batch.jsonl:4",
        "runs/batch.jsonl:7",
    ] {
        assert_eq!(records[good]["status"], "match", "{good}: {records:#?}");
    }
    assert_eq!(records.len(), 6, "{records:#?}");
    let bad = records["runs/batch.jsonl:3"]["error"].as_str().unwrap();
    assert!(bad.starts_with("runs/batch.jsonl:3:12: "), "{bad}");
    let bad = records["runs/batch.jsonl:5"]["error"].as_str().unwrap();
    assert_eq!(
        bad,
        format!("runs/batch.jsonl:5:{column}: task_run.id: expected a string or null, found 12")
    );
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
    // The same text cut short: the error points at the padding's opening quote.
    fs::write(runs.join("big-truncated.json"), &text[..150 << 20]).unwrap();
    // A wrong field after the padding: placed by scanning past it.
    let key = "\"key\": \"bb52f23e9e26cbd78573f01e881849df\",\n  \"outcome\"";
    let at = text.find(key).unwrap() + "\"key\": ".len();
    let wrong_at = line_col(&text, at);
    fs::write(
        runs.join("big-wrong.json"),
        text.replacen(key, "\"key\": 5,\n  \"outcome\"", 1),
    )
    .unwrap();
    drop(text);
    // A debug build reads the 550 MB in about 25 s on a quiet machine; a shared one is slower.
    let start = std::time::Instant::now();
    let out = run_within(
        &["keys", "runs", "--json"],
        dir.path(),
        Duration::from_secs(180),
    );
    eprintln!("keys on 550 MB of records: {:?}", start.elapsed());
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
    assert_eq!(err, "runs/big-truncated.json:2:14: unterminated string");
    let err = records["runs/big-wrong.json"]["error"].as_str().unwrap();
    assert_eq!(
        err,
        format!(
            "runs/big-wrong.json:{}:{}: key: expected a string or null, found 5",
            wrong_at.0, wrong_at.1
        )
    );
}
