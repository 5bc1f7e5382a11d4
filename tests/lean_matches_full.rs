//! Loading has two fast paths that must agree with the slow, whole way everywhere.
//!
//! The fast lane (`record_fast`) reads a well-formed record in one pass and declines the rest:
//! where it answers, the slow parser and reader give the same record.
//!
//! `keys` loads records lean (the fast lane, canonical inputs kept as text and hashed as they
//! are) while `explain`, `check` and the terminal UI load them whole. Both must give the same
//! recomputation of every record: this runs both on every record in the repository, as the
//! recorder wrote it and rewritten on one line as `json.dumps` writes it (where the inputs are
//! canonical, so the lean path really is taken), and on records the real-Prefect tests make.

use std::path::{Path, PathBuf};

use cachescope::engine::{recompute, recompute_lean};
use cachescope::load::{BLOCK, CanonicalText, load_file, units, visit_unit_lean};
use cachescope::pyjson::{CanonicalSpans, SortKeys, dumps, parse, parse_record_lean};
use cachescope::record::RunRecord;
use cachescope::record_fast::{
    FastRecord, Span, SpanText, keys_view, read, read_deferred, read_inspect, read_keys, read_skim,
    read_unchecked, rows_view,
};

fn record_texts() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = Vec::new();
    let mut pending = vec![root.join("sample-runs"), root.join("tests")];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            match path.extension().and_then(|e| e.to_str()) {
                Some("json") => texts.push(text),
                Some("jsonl") => texts.extend(text.lines().map(str::to_string)),
                _ => {}
            }
        }
    }
    texts
}

/// Loads `file` both ways and compares every record's recomputation.
fn compare(file: &Path) -> (usize, usize) {
    compare_all(&[file.to_path_buf()])
}

/// Loads `files` both ways, the lean way in units of many records (whose inputs and sources
/// are hashed side by side), and compares every record's recomputation: from the texts as
/// loading hands them over (with the keys it worked out, as `keys` and the inspector take
/// them), and from owned copies of the texts (as a run that keeps them recomputes later).
fn compare_all(files: &[PathBuf]) -> (usize, usize) {
    let full: Vec<_> = files.iter().flat_map(|f| load_file(f)).collect();
    let file = &files[0];
    let mut lean = Vec::new();
    for unit in units(files, BLOCK) {
        visit_unit_lean(unit, |loaded, texts| {
            let at_once = loaded
                .record
                .as_ref()
                .ok()
                .map(|r| recompute_lean(r, &texts));
            lean.push((loaded, CanonicalText::copied(&texts), at_once));
        });
    }
    assert_eq!(full.len(), lean.len(), "{}", file.display());
    let (mut records, mut canonical) = (0, 0);
    for (f, (l, t, at_once)) in full.iter().zip(&lean) {
        match (&f.record, &l.record) {
            (Ok(f), Ok(l)) => {
                records += 1;
                canonical += usize::from(t.inputs.is_some());
                let whole = recompute(f);
                assert_eq!(Some(&whole), at_once.as_ref(), "{}", file.display());
                assert_eq!(whole, recompute_lean(l, &t.texts()), "{}", file.display());
            }
            (Err(f), Err(l)) => assert_eq!(f.to_string(), l.to_string()),
            (f, l) => panic!("{}: full {f:?}, lean {l:?}", file.display()),
        }
    }
    (records, canonical)
}

/// Records shaped to reach the lean path's corners: a `result_storage_key` template that reads
/// inputs and flow parameters, `Inputs` with an exclusion, flow parameters as canonical text.
/// And inputs and parameters written with `json.dumps`' spacing and keys in order that are not
/// canonical (a float that is no repr, raw non-ASCII text), which the lean load leaves
/// unchecked: their md5 is not the key, whether the recorded key is the right one or not; and
/// keys out of order, which it does not leave unchecked (the record then gets a note). And
/// records where the guess of where the inputs end (before `}, "policy": `) is wrong: an
/// argument named `policy` after an object, and the outcome between the inputs and the policy.
const CRAFTED: &[&str] = &[
    r#"{"format": "cachescope/run-record@1", "task": {"name": "t", "source": "def t(x): pass\n"}, "task_run": {"id": "tr"}, "inputs": {"a": {"x": 1}, "policy": 2}, "policy": {"policy": "Inputs", "key": "015bb35fa080702c2aaa88f2f65c632d"}, "key": "015bb35fa080702c2aaa88f2f65c632d"}"#,
    r#"{"format": "cachescope/run-record@1", "task": {"name": "t", "source": "def t(x): pass\n"}, "task_run": {"id": "tr"}, "inputs": {"a": {"x": 1}, "policy": {"key": "x", "policy": "Inputs"}}, "policy": {"policy": "Inputs", "key": "9ae950420c90ef8f072c83b57a157e99"}, "key": "9ae950420c90ef8f072c83b57a157e99"}"#,
    r#"{"format": "cachescope/run-record@1", "task": {"name": "t", "source": "def t(x): pass\n"}, "task_run": {"id": "tr"}, "inputs": {"a": 1}, "outcome": {"state": "Completed", "cache_hit": true}, "policy": {"policy": "Inputs", "key": "2576c7382d4326599e7292b78724a71e"}, "key": "2576c7382d4326599e7292b78724a71e"}"#,
    r#"{"format": "cachescope/run-record@1", "task": {"name": "t", "source": "def t(x): pass\n"}, "task_run": {"id": "tr"}, "inputs": {"a": 1}, "outcome": {"state": "Completed", "cache_hit": true}, "policy": {"policy": "CompoundCachePolicy", "key": null, "policies": [{"policy": "Inputs", "exclude": ["b"], "key": null}]}, "key": null}"#,
    r#"{"format": "cachescope/run-record@1", "flow": {"name": "f", "run_id": "r1", "parameters": {"a": 2, "z": 1.0E0}}, "task": {"name": "t", "source": "def t(x): pass\n"}, "task_run": {"id": "tr"}, "inputs": {"a": [1.50, "x"], "b": 1}, "policy": {"policy": "CompoundCachePolicy", "key": null, "policies": [{"policy": "Inputs", "key": "465590a6a52ea8db5b6d27eba8e0bd06"}, {"policy": "FlowParameters", "key": "fbf3591ae39b85a67bbec809eb923fca"}]}, "key": null}"#,
    r#"{"format": "cachescope/run-record@1", "flow": {"name": "f", "run_id": "r1", "parameters": {"z": 1, "a": 2}}, "task": {"name": "t", "source": "def t(x): pass\n"}, "task_run": {"id": "tr"}, "inputs": {"b": 1, "a": [1.5, "x"]}, "policy": {"policy": "CompoundCachePolicy", "key": null, "policies": [{"policy": "Inputs", "key": "465590a6a52ea8db5b6d27eba8e0bd06"}, {"policy": "FlowParameters", "key": "fbf3591ae39b85a67bbec809eb923fca"}]}, "key": null}"#,
    r#"{"format": "cachescope/run-record@1", "task": {"name": "t", "source": "def t(x): pass\n"}, "task_run": {"id": "tr"}, "inputs": {"s": "café", "x": 1.50, "y": 1E5}, "policy": {"policy": "Inputs", "key": "9fe570e324587a72844dd29f598580f2"}, "key": null}"#,
    r#"{"format": "cachescope/run-record@1", "task": {"name": "t", "source": "def t(x): pass\n"}, "task_run": {"id": "tr"}, "inputs": {"a": 3, "b": 2.50, "c": 1}, "policy": {"policy": "Inputs", "exclude": ["b"], "key": null}, "key": null}"#,
    r#"{"format": "cachescope/run-record@1", "task": {"name": "t", "source": "def t(x): pass\n"}, "task_run": {"id": "tr"}, "inputs": {"a": 1.50, "b": 2, "c": 1}, "policy": {"policy": "Inputs", "exclude": ["b"], "key": null}, "key": null}"#,
    r#"{"format": "cachescope/run-record@1", "task": {"name": "t", "source": "def t(x): pass\n"}, "task_run": {"id": "tr"}, "inputs": {"a": 1, "b": "x"}, "policy": {"policy": "Inputs", "key": "9fe570e324587a72844dd29f598580f2"}, "key": "9fe570e324587a72844dd29f598580f2"}"#,
    r#"{"format": "cachescope/run-record@1", "task": {"name": "t", "source": "def t(x): pass\n"}, "task_run": {"id": "tr"}, "inputs": {"a": 1, "b": "x"}, "policy": {"policy": "Inputs", "key": "00000000000000000000000000000000"}, "key": null}"#,
    r#"{"format": "cachescope/run-record@1", "flow": {"name": "f", "run_id": "r1", "parameters": {"day": "mon"}}, "task": {"name": "t", "source": "def t(x): pass\n", "result_storage_key": {"template": "out-{parameters[x]}-{flow_run.parameters[day]}"}}, "task_run": {"id": "tr", "name": "t-1"}, "inputs": {"x": 3}, "policy": null, "key": "out-3-mon"}"#,
    r#"{"format": "cachescope/run-record@1", "flow": {"name": "f", "run_id": "r1", "parameters": {"day": "mon", "n": [1, 2.5]}}, "task": {"name": "t", "source": "def t(x): pass\n"}, "task_run": {"id": "tr"}, "inputs": {"a": 1, "b": {"c": [1.5, "x, y"]}, "z": null}, "policy": {"policy": "CompoundCachePolicy", "key": null, "policies": [{"policy": "Inputs", "exclude": ["b"], "key": null}, {"policy": "FlowParameters", "key": null}]}, "key": null}"#,
];

#[test]
fn every_repository_record_recomputes_the_same_lean_and_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let mut records = 0;
    let mut canonical = 0;
    let mut all = record_texts();
    all.extend(CRAFTED.iter().map(|t| t.to_string()));
    let (mut json_files, mut lines) = (Vec::new(), String::new());
    for (i, text) in all.iter().enumerate() {
        let mut variants = vec![(format!("r{i}.json"), text.clone())];
        if let Ok(value) = parse(text) {
            // One line, as the recorder's `.jsonl` or a script's `json.dumps` writes it.
            for (j, sort) in [SortKeys::Preserve, SortKeys::Record]
                .into_iter()
                .enumerate()
            {
                if let Ok(line) = dumps(&value, sort) {
                    variants.push((format!("r{i}-{j}.jsonl"), line));
                }
            }
        }
        for (name, text) in variants {
            let path: PathBuf = tmp.path().join(&name);
            std::fs::write(&path, &text).unwrap();
            let (r, c) = compare(&path);
            records += r;
            canonical += c;
            if name.ends_with(".jsonl") {
                lines.push_str(&text);
                lines.push('\n');
            } else {
                json_files.push(path);
            }
        }
    }
    // All together: units of many records, each with its own inputs and source.
    let jsonl = tmp.path().join("all.jsonl");
    std::fs::write(&jsonl, &lines).unwrap();
    let (r, _) = compare(&jsonl);
    assert!(r > 100, "{r} records in one file");
    json_files.sort();
    let (r, _) = compare_all(&json_files);
    assert!(r > 50, "{r} records in separate files");
    assert!(records > 150, "{records} records");
    assert!(
        canonical > 50,
        "only {canonical} records took the canonical lane"
    );
}

/// The slow way's answer, in the fast lane's shape; `None` for an error.
fn slow(text: &str, lean: bool) -> Option<(RunRecord, Option<Span>, Option<Span>)> {
    if lean {
        let (
            value,
            CanonicalSpans {
                inputs,
                flow_parameters,
            },
        ) = parse_record_lean(text).ok()?;
        let record = RunRecord::from_value(value).ok()?;
        Some((record, inputs, flow_parameters))
    } else {
        Some((RunRecord::from_value(parse(text).ok()?).ok()?, None, None))
    }
}

/// Where the fast lane answers, it answers as the slow way does.
fn agree(text: &str) -> bool {
    let mut answered = false;
    for lean in [false, true] {
        if let Some(fast) = read(text, lean) {
            answered = true;
            let Some((record, inputs, flow_parameters)) = slow(text, lean) else {
                panic!("the fast lane read what the slow way refuses (lean {lean}):\n{text}");
            };
            assert_eq!(*fast.record, record, "lean {lean}:\n{text}");
            assert_eq!(fast.inputs, inputs, "lean {lean}:\n{text}");
            assert_eq!(
                fast.flow_parameters, flow_parameters,
                "lean {lean}:\n{text}"
            );
        }
    }
    // Unchecked, it reads the same record, and the same spans once they are checked.
    let unchecked = read_unchecked(text).map(|f| f.checked(text));
    let lean = read(text, true);
    assert_eq!(unchecked.is_some(), lean.is_some(), "unchecked:\n{text}");
    if let (Some(unchecked), Some(lean)) = (unchecked, lean) {
        assert_eq!(unchecked.record, lean.record, "unchecked:\n{text}");
        assert_eq!(unchecked.inputs, lean.inputs, "unchecked:\n{text}");
        assert_eq!(
            unchecked.flow_parameters, lean.flow_parameters,
            "unchecked:\n{text}"
        );
    }
    // Deferred, it reads what unchecked reads once its inputs are scanned, or says to read the
    // record again; it declines nothing that unchecked reads.
    let unchecked = read_unchecked(text);
    let deferred = read_deferred(text);
    assert!(
        unchecked.is_none() || deferred.is_some(),
        "deferred declined:\n{text}"
    );
    if let Some(scanned) = deferred.and_then(|d| d.scanned(text)) {
        let unchecked = unchecked.expect("unchecked reads what deferred scanned");
        assert_eq!(scanned.record, unchecked.record, "deferred:\n{text}");
        assert_eq!(scanned.inputs, unchecked.inputs, "deferred:\n{text}");
        assert_eq!(
            scanned.flow_parameters, unchecked.flow_parameters,
            "deferred:\n{text}"
        );
    }
    // Skimmed, it reads every field but the inputs as unchecked does, and declines nothing
    // that unchecked reads; the inputs are left unscanned where their object's end is found
    // (as unchecked spans them, when it does), and read as unchecked reads them elsewhere.
    let unchecked = read_unchecked(text);
    let skimmed = read_skim(text);
    assert!(
        unchecked.is_none() || skimmed.is_some(),
        "skim declined:\n{text}"
    );
    if let (Some(skimmed), Some(unchecked)) = (skimmed, unchecked) {
        let mut record = unchecked.record;
        match (&skimmed.inputs, &unchecked.inputs) {
            (Some((SpanText::Unscanned(at), None)), inputs) => {
                if let Some((SpanText::Unchecked(range), _)) = inputs {
                    assert_eq!(at, range, "skimmed:\n{text}");
                }
                record.inputs = None;
            }
            (skimmed, unchecked) => assert_eq!(skimmed, unchecked, "skimmed:\n{text}"),
        }
        assert_eq!(skimmed.record, record, "skimmed:\n{text}");
        assert_eq!(
            skimmed.flow_parameters, unchecked.flow_parameters,
            "skimmed:\n{text}"
        );
    }
    keys_alone(text);
    inspect_alone(text);
    answered
}

/// For the inspector, as `read_for` says, where the record has a lean inputs or
/// flow-parameters text (the inspector keeps such a run in its file, and reads it again whole
/// when it is looked at); a record with neither is kept whole, and read whole.
fn inspect_alone(text: &str) {
    let has_lean_text = |r: &FastRecord| r.inputs.is_some() || r.flow_parameters.is_some();
    read_for(text, "inspect", read_inspect, rows_view, has_lean_text);
}

/// For its keys alone, as `read_for` says, always.
fn keys_alone(text: &str) {
    read_for(text, "keys", read_keys, keys_view, |_| true);
}

/// Read by `read` (for `what`), a record is read as deferred reads it, declined where deferred
/// declines it; but where `lean` holds of the read, a task source left as text is the JSON
/// string `json.dumps` writes for the source that deferred decodes, and the fields left out are
/// those `view` names, which the recomputation does not use. Elsewhere it is deferred's record.
fn read_for(
    text: &str,
    what: &str,
    read: fn(&str) -> Option<FastRecord>,
    view: fn(RunRecord) -> RunRecord,
    lean: fn(&FastRecord) -> bool,
) {
    if let Some((whole, _, _)) = slow(text, false) {
        assert_eq!(
            recompute(&view(whole.clone())),
            recompute(&whole),
            "{what} view:\n{text}"
        );
    }
    let deferred = read_deferred(text);
    let got = read(text);
    assert_eq!(deferred.is_some(), got.is_some(), "{what}:\n{text}");
    let (Some(deferred), Some(got)) = (deferred, got) else {
        return;
    };
    let lean = lean(&got);
    let mut record = deferred.record;
    match &got.task_source {
        Some((SpanText::At(at), None)) => {
            assert!(
                lean,
                "{what} left the source of a record kept whole:\n{text}"
            );
            let source = record
                .task
                .source
                .take()
                .expect("deferred decoded the source");
            let mut written = String::new();
            cachescope::pyjson::write_str(&source, &mut written);
            assert_eq!(&text[at.clone()], written, "{what}:\n{text}");
        }
        other => assert_eq!(other, &None, "{what}:\n{text}"),
    }
    let record = if lean { view(*record) } else { *record };
    assert_eq!(*got.record, record, "{what}:\n{text}");
    assert_eq!(got.inputs, deferred.inputs, "{what}:\n{text}");
    assert_eq!(
        got.flow_parameters, deferred.flow_parameters,
        "{what}:\n{text}"
    );
}

#[test]
fn the_fast_lane_reads_every_corpus_record_as_the_slow_way_does() {
    let texts = record_texts();
    let records = texts.iter().filter(|t| slow(t, false).is_some()).count();
    assert!(records > 60, "only {records} records found");
    let answered = texts.iter().filter(|t| agree(t)).count();
    // Well-formed records are the fast lane's whole point: it must take nearly all of them.
    assert!(answered * 10 >= records * 9, "{answered} of {records}");
}

#[test]
fn the_crafted_records_read_alike_in_every_lane() {
    for text in CRAFTED {
        assert!(agree(text), "the fast lane declined it:\n{text}");
    }
}

#[test]
fn what_the_fast_lane_leaves_to_the_slow_way() {
    let base = r#"{"format": "cachescope/run-record@1", "task": {"name": "t", "line": 3},
        "policy": {"policy": "Inputs", "key": null}, "key": null, "inputs": {"a": 1}}"#;
    assert!(agree(base));
    for (what, text) in [
        (
            "repeated field",
            base.replace(r#""key": null}"#, r#""key": null, "key": null}"#),
        ),
        ("wrong format", base.replace("record@1", "record@2")),
        (
            "no key",
            base.replace(r#", "key": null, "inputs""#, r#", "inputs""#),
        ),
        (
            "line as text",
            base.replace(r#""line": 3"#, r#""line": "3""#),
        ),
        (
            "negative line",
            base.replace(r#""line": 3"#, r#""line": -3"#),
        ),
        ("float line", base.replace(r#""line": 3"#, r#""line": 3.0"#)),
        ("inputs a list", base.replace(r#"{"a": 1}}"#, "[1]}")),
        ("lone surrogate", base.replace(r#""t""#, r#""\ud800""#)),
        ("trailing text", format!("{base} x")),
        ("BOM", format!("\u{feff}{base}")),
        (
            "trailing comma",
            base.replace(r#""line": 3}"#, r#""line": 3,}"#),
        ),
        ("bad number", base.replace(r#""a": 1"#, r#""a": 01"#)),
    ] {
        assert!(read(&text, false).is_none(), "{what}");
        assert!(read(&text, true).is_none(), "{what}");
        agree(&text);
    }
    // Unusual but valid: escapes in keys, unknown fields of every kind, NaN, spacing.
    for text in [
        base.replace(r#""format""#, r#""for\u006dat""#),
        base.replace(
            r#""key": null,"#,
            r#""key": null, "x": [NaN, -Infinity, {"k": [1e5]}],"#,
        ),
        base.replace(r#"{"a": 1}"#, r#"{"b": 1, "a": 2.50}"#),
        base.replace(": ", ":\n\t "),
        // `json.dumps`' separators with more whitespace after them.
        base.replace(": ", ":  ").replace(", ", ",  "),
        base.replace(": ", ": \n").replace(", ", ", \n "),
    ] {
        assert!(agree(&text), "{text}");
    }
}

/// A small built-in fuzzer: corpus records with bytes changed, cut or repeated. The fast
/// lane may decline any of them, but never disagree (the fuzz target does this at scale).
#[test]
fn mutated_records_never_make_the_lanes_disagree() {
    let texts = record_texts();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"{}[],:\"\\ 0123456789-.eE+nulltruefalseNaInfity\n\tu";
    for _ in 0..4000 {
        let text = &texts[next() as usize % texts.len()];
        let mut bytes = text.as_bytes().to_vec();
        for _ in 0..1 + next() % 3 {
            if bytes.is_empty() {
                break;
            }
            let at = next() as usize % bytes.len();
            match next() % 3 {
                0 => bytes[at] = alphabet[next() as usize % alphabet.len()],
                1 => {
                    bytes.remove(at);
                }
                _ => {
                    let end = (at + 1 + next() as usize % 40).min(bytes.len());
                    let piece = bytes[at..end].to_vec();
                    bytes.splice(at..at, piece);
                }
            }
        }
        if let Ok(text) = String::from_utf8(bytes) {
            agree(&text);
        }
    }
}

/// Found by the `record_fast` fuzz target (2026-12-03): inputs that the quick pass refuses (a
/// tab before a colon) in a record whose policy cannot prove them by their md5 (its `Inputs`
/// excludes one). Such a record is read again without deferring; read for its keys alone, or
/// for the inspector, it must still keep only what those reads keep (it kept every string).
#[test]
fn a_record_read_again_keeps_what_its_reading_keeps() {
    let text = r#"{"format": "cachescope/run-record@1", "recorded_at": "2026-12-01T00:00:00.000Z", "environment": {"prefect": "3.9.1", "python": "3.11.7"}, "project_root": "p", "flow": {"run_id": "r", "parameters": {"day": 1}}, "task": {"name": "t", "task_key": "t-0", "qualname": "t", "file": "f.py", "source": "def t(a, b):\n    return a\n"}, "task_run": {"id": "tr", "dynamic_key": "0"}, "inputs": {"a": 1, "b"	: 2}, "policy": {"policy": "CompoundCachePolicy", "key": "k", "policies": [{"policy": "TaskSource", "key": "s"}, {"policy": "Inputs", "key": "i", "exclude": ["a"]}]}, "key": "k", "outcome": {"state": "Completed", "cache_expiration": "2026-12-02T00:00:00Z", "result_storage": "s"}}"#;
    assert!(text.contains("\"b\"\t:"));
    assert!(agree(text), "the fast lane declined it:\n{text}");
}
