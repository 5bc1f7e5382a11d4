//! `keys` loads records lean (the fast lane, canonical inputs kept as text and hashed as they
//! are) while `explain`, `check` and the terminal UI load them whole. Both must give the same
//! recomputation of every record: this runs both on every record in the repository, as the
//! recorder wrote it and rewritten on one line as `json.dumps` writes it (where the inputs are
//! canonical, so the lean path really is taken), and on records the real-Prefect tests make.

use std::path::{Path, PathBuf};

use cachescope::engine::{recompute, recompute_lean};
use cachescope::load::{BLOCK, load_file, load_unit_lean, units};
use cachescope::pyjson::{SortKeys, dumps, parse};

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
    let full = load_file(file);
    let files = vec![file.to_path_buf()];
    let mut lean = Vec::new();
    let mut texts = Vec::new();
    for unit in units(&files, BLOCK) {
        let (l, t) = load_unit_lean(unit);
        lean.extend(l);
        texts.extend(t);
    }
    assert_eq!(full.len(), lean.len(), "{}", file.display());
    let (mut records, mut canonical) = (0, 0);
    for ((f, l), t) in full.iter().zip(&lean).zip(&texts) {
        match (&f.record, &l.record) {
            (Ok(f), Ok(l)) => {
                records += 1;
                canonical += usize::from(t.inputs.is_some());
                assert_eq!(
                    recompute(f),
                    recompute_lean(l, &t.texts()),
                    "{}",
                    file.display()
                );
            }
            (Err(f), Err(l)) => assert_eq!(f.to_string(), l.to_string()),
            (f, l) => panic!("{}: full {f:?}, lean {l:?}", file.display()),
        }
    }
    (records, canonical)
}

/// Records shaped to reach the lean path's corners: a `result_storage_key` template that reads
/// inputs and flow parameters, `Inputs` with an exclusion, flow parameters as canonical text.
const CRAFTED: &[&str] = &[
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
            let path: PathBuf = tmp.path().join(name);
            std::fs::write(&path, text).unwrap();
            let (r, c) = compare(&path);
            records += r;
            canonical += c;
        }
    }
    assert!(records > 150, "{records} records");
    assert!(
        canonical > 50,
        "only {canonical} records took the canonical lane"
    );
}
