//! Differential tests of `cachescope::source` against CPython's own `inspect.getsource`.
//!
//! One Python process per interpreter runs tests/py/getsource_truth.py, which compiles files
//! (never imports them) and records `inspect.getsource` for every function code object. This
//! test then extracts the same functions with `cachescope::source`, from the same files, and
//! compares byte for byte:
//! - the standard library of Python 3.11 (`python3`) and 3.13: at least 300 modules, at
//!   least 99.9% agreement;
//! - the hand-written tricky files in tests/source-cases/ under 3.9, 3.11, 3.12 and 3.13:
//!   100%.
//!
//! A missing interpreter fails the test with a message (see tests/support).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cachescope::source::{PythonVersion, SourceError, SourceFile, find_function};
use serde_json::Value;

/// One function as Python saw it.
struct Truth {
    file: String,
    /// `co_qualname`; `None` before 3.11.
    qualname: Option<String>,
    name: String,
    line: usize,
    /// `inspect.getsource`'s text, or the exception it raised.
    result: Result<String, String>,
}

struct Run {
    python: PythonVersion,
    truths: Vec<Truth>,
    summary: Value,
}

/// Runs the truth script once under `version` ("3" is the machine's python3).
fn truth(version: &str, script_args: &[String], tag: &str) -> Run {
    let venv = support::plain_venv(version);
    let script = support::repo_root().join("tests/py/getsource_truth.py");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("getsource-truth-{tag}-py{version}.jsonl"));
    let status = venv
        .command()
        .arg(&script)
        .arg("--out")
        .arg(&out)
        .args(script_args)
        .status()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", venv.python.display()));
    assert!(
        status.success(),
        "{} {} failed: {status}",
        venv.python.display(),
        script.display()
    );
    let text = std::fs::read_to_string(&out).expect("truth output");
    let mut truths = Vec::new();
    let mut summary = Value::Null;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("truth line is JSON");
        if let Some(s) = v.get("summary") {
            summary = s.clone();
            continue;
        }
        let result = match (v.get("source"), v.get("error")) {
            (Some(Value::String(s)), _) => Ok(s.clone()),
            (_, Some(Value::String(e))) => Err(e.clone()),
            _ => panic!("truth line without source or error: {line}"),
        };
        truths.push(Truth {
            file: v["file"].as_str().expect("file").to_string(),
            qualname: v["qualname"].as_str().map(str::to_string),
            name: v["name"].as_str().expect("name").to_string(),
            line: v["line"].as_u64().expect("line") as usize,
            result,
        });
    }
    let python: PythonVersion = summary["python"]
        .as_str()
        .expect("summary names the python")
        .parse()
        .expect("version");
    Run {
        python,
        truths,
        summary,
    }
}

/// What the comparison found.
struct Outcome {
    compared: usize,
    agreed: usize,
    both_raised: usize,
    disagreements: Vec<String>,
}

/// The first differing line of two texts, for the report.
fn short_diff(want: &str, got: &str) -> String {
    let w: Vec<&str> = want.split_inclusive('\n').collect();
    let g: Vec<&str> = got.split_inclusive('\n').collect();
    let i = w.iter().zip(&g).take_while(|(a, b)| a == b).count();
    format!(
        "inspect: {} lines, ours: {} lines; first difference at line {}:\n      inspect: {:?}\n      ours:    {:?}",
        w.len(),
        g.len(),
        i + 1,
        w.get(i).unwrap_or(&"<end>"),
        g.get(i).unwrap_or(&"<end>")
    )
}

fn compare(run: &Run) -> Outcome {
    let mut by_file: BTreeMap<&str, Vec<&Truth>> = BTreeMap::new();
    for t in &run.truths {
        by_file.entry(t.file.as_str()).or_default().push(t);
    }
    let mut o = Outcome {
        compared: 0,
        agreed: 0,
        both_raised: 0,
        disagreements: Vec::new(),
    };
    for (file, truths) in by_file {
        let bytes = std::fs::read(file).expect("read a file Python just read");
        let parsed = SourceFile::from_bytes(&bytes, run.python);
        for (k, t) in truths.iter().enumerate() {
            o.compared += 1;
            let label = format!(
                "{file}: {} (line {})",
                t.qualname.as_deref().unwrap_or(&t.name),
                t.line
            );
            let ours: Result<String, SourceError> = match &parsed {
                Err(e) => Err(e.clone()),
                Ok(sf) => {
                    let qualname = match &t.qualname {
                        Some(q) => Ok(q.clone()),
                        // Before 3.11 there is no co_qualname: the line and name pick the def.
                        None => {
                            let hits: Vec<_> = sf
                                .functions()
                                .iter()
                                .filter(|f| {
                                    f.code_first_line == t.line
                                        && f.qualname.rsplit('.').next() == Some(&t.name)
                                })
                                .collect();
                            match hits.as_slice() {
                                [one] => Ok(one.qualname.clone()),
                                _ => Err(format!(
                                    "{} functions named {} start at that line",
                                    hits.len(),
                                    t.name
                                )),
                            }
                        }
                    };
                    match qualname {
                        Err(e) => {
                            o.disagreements.push(format!("{label}: {e}"));
                            continue;
                        }
                        Ok(q) => {
                            let got = sf.find_function(&q, Some(t.line));
                            // The one-call API must agree with the indexed one: check it on
                            // the first function of every file (it re-reads the whole file).
                            if k == 0 {
                                let text = cachescope::source::decode_source(&bytes)
                                    .expect("decoded above");
                                assert_eq!(
                                    find_function(&text, &q, Some(t.line), run.python),
                                    got,
                                    "{label}"
                                );
                            }
                            match got {
                                Ok(f) if f.code_first_line != t.line => {
                                    o.disagreements.push(format!(
                                        "{label}: found the def at co_firstlineno {} instead",
                                        f.code_first_line
                                    ));
                                    continue;
                                }
                                other => other.map(|f| f.source),
                            }
                        }
                    }
                }
            };
            match (&t.result, ours) {
                (Ok(want), Ok(got)) if *want == got => o.agreed += 1,
                (Ok(want), Ok(got)) => o
                    .disagreements
                    .push(format!("{label}:\n    {}", short_diff(want, &got))),
                (Err(_), Err(_)) => {
                    o.agreed += 1;
                    o.both_raised += 1;
                }
                (Ok(_), Err(e)) => o.disagreements.push(format!(
                    "{label}: inspect returned source, ours failed: {e}"
                )),
                (Err(pe), Ok(_)) => o.disagreements.push(format!(
                    "{label}: inspect raised {pe}, ours returned source"
                )),
            }
        }
    }
    o
}

fn report(what: &str, run: &Run, o: &Outcome) -> f64 {
    for d in &o.disagreements {
        println!("DISAGREE {d}");
    }
    let rate = if o.compared == 0 {
        0.0
    } else {
        o.agreed as f64 / o.compared as f64
    };
    println!(
        "{what} under Python {}: {} modules compiled ({} test-suite files and {} files that do not compile skipped; \
         {} code objects that are not defs left out), {} functions compared, {} agree ({} of them because both raise), {} disagree: {:.4}% agreement",
        run.summary["python"].as_str().unwrap_or("?"),
        run.summary["modules"],
        run.summary["skipped_test_files"],
        run.summary["skipped_not_compiling"],
        run.summary["skipped_code_objects_not_defs"],
        o.compared,
        o.agreed,
        o.both_raised,
        o.disagreements.len(),
        rate * 100.0
    );
    if let Some(list) = run.summary["not_compiling"].as_array() {
        for f in list {
            println!("  not compiled: {}", f.as_str().unwrap_or("?"));
        }
    }
    rate
}

fn stdlib(version: &str) {
    let run = truth(
        version,
        &["--stdlib".into(), "--min-modules".into(), "300".into()],
        "stdlib",
    );
    let o = compare(&run);
    let rate = report("standard library", &run, &o);
    assert!(
        run.summary["modules"].as_u64().unwrap_or(0) >= 300,
        "fewer than 300 modules compared"
    );
    assert!(o.compared >= 5000, "only {} functions compared", o.compared);
    assert!(
        rate >= 0.999,
        "agreement {:.4}% is below 99.9%",
        rate * 100.0
    );
}

#[test]
fn stdlib_matches_inspect_under_python3() {
    stdlib("3");
}

#[test]
fn stdlib_matches_inspect_under_python3_13() {
    stdlib("3.13");
}

/// The hand-written cases that apply to `python`: a file may say `# min-python: 3.12` on its
/// first lines when it uses syntax older versions reject.
fn cases_for(python: PythonVersion) -> (Vec<String>, Vec<String>) {
    let dir = support::repo_root().join("tests/source-cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .collect();
    files.sort();
    let (mut yes, mut no) = (Vec::new(), Vec::new());
    for f in files {
        let head = std::fs::read(&f).expect("case file");
        let head = String::from_utf8_lossy(&head[..head.len().min(300)]).to_string();
        let min = head
            .lines()
            .take(3)
            .find_map(|l| l.split("min-python:").nth(1))
            .map(|v| {
                v.trim()
                    .parse::<PythonVersion>()
                    .expect("min-python version")
            });
        let path = f.to_string_lossy().to_string();
        if min.is_some_and(|m| m > python) {
            no.push(path)
        } else {
            yes.push(path)
        }
    }
    (yes, no)
}

fn cases(version: &str, python: PythonVersion) {
    let (files, not_for_this) = cases_for(python);
    assert!(files.len() >= 30, "only {} case files", files.len());
    let run = truth(version, &files, "cases");
    assert_eq!(
        run.python.minor, python.minor,
        "interpreter for {version} is {}",
        run.python
    );
    let o = compare(&run);
    report("hand-written cases", &run, &o);
    println!(
        "  {} case files need a newer Python: {not_for_this:?}",
        not_for_this.len()
    );
    assert_eq!(
        run.summary["skipped_not_compiling"], 0,
        "a case file does not compile"
    );
    assert!(
        o.compared >= 100,
        "only {} functions in the cases",
        o.compared
    );
    assert!(
        o.disagreements.is_empty(),
        "{} disagreements on the hand-written cases",
        o.disagreements.len()
    );
}

#[test]
fn cases_match_inspect_under_python3() {
    cases("3", PythonVersion::new(3, 11));
}

#[test]
fn cases_match_inspect_under_python3_13() {
    cases("3.13", PythonVersion::new(3, 13));
}

#[test]
fn cases_match_inspect_under_python3_12() {
    cases("3.12", PythonVersion::new(3, 12));
}

#[test]
fn cases_match_inspect_under_python3_9() {
    cases("3.9", PythonVersion::new(3, 9));
}

#[test]
fn truth_files_are_where_we_look() {
    // Guards the relative paths above against a moved tests/ directory.
    assert!(Path::new(&support::repo_root().join("tests/py/getsource_truth.py")).exists());
}
