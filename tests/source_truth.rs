//! The source extractor against the truth the `source` fuzz target is fed: what CPython's
//! `inspect.getsource` returned for every def and lambda of fuzz/source-truth/modules/, under
//! 3.9, 3.11, 3.12 and 3.13 (fuzz/make_source_truth.py wrote it; fuzz/source_truth.rs
//! compares). Here every module is compared as committed and in the variants the fuzz target
//! builds, with no fuzzer needed; and the committed truth is regenerated with each CPython
//! and must be byte for byte what is committed.
//!
//! A missing interpreter fails with a message (see tests/support).

mod support;

#[path = "../fuzz/source_truth.rs"]
mod source_truth;

use std::path::PathBuf;

use source_truth::{Kind, Truth, VERSIONS, Variant};

fn truth_dir() -> PathBuf {
    support::repo_root().join("fuzz/source-truth")
}

/// The variants compared for every module: each way of changing a module alone, and all at
/// once (the fuzz target reaches every combination).
fn variants() -> Vec<Variant> {
    let tails: [&[u8]; 4] = [
        b"def tail():\n    return 1\n",
        b"def broken(:\n    '''never closed\n",
        b"    indented\n)]}\n\x00",
        b"\xff\xfe caf\xc3\xa9 \r\r\n\x0c",
    ];
    let mut v = vec![Variant::default()];
    for ending in [&b"\r\n"[..], b"\n", b"\r"] {
        v.push(Variant {
            ending: Some(ending),
            ..Variant::default()
        });
    }
    v.push(Variant {
        bom: true,
        ..Variant::default()
    });
    for leading in 1..=3 {
        v.push(Variant {
            leading,
            ..Variant::default()
        });
    }
    for tail in tails {
        v.push(Variant {
            tail: Some(tail.to_vec()),
            ..Variant::default()
        });
    }
    v.push(Variant {
        ending: Some(b"\r"),
        bom: true,
        leading: 3,
        tail: Some(tails[1].to_vec()),
    });
    v
}

fn load() -> Vec<Truth> {
    source_truth::load(&truth_dir())
}

#[test]
fn the_extractor_matches_every_committed_truth() {
    let truths = load();
    let mut compared = 0;
    let mut failures = Vec::new();
    for t in &truths {
        for m in &t.modules {
            for v in variants() {
                let (bytes, leading) = v.build(m);
                match source_truth::check(t.python, m, &bytes, leading) {
                    Ok(n) => compared += n,
                    Err(e) => failures.push(format!("{v:?}: {e}")),
                }
            }
        }
    }
    for f in &failures {
        println!("DIFFERS {f}");
    }
    println!(
        "{compared} extractions agree with CPython's inspect.getsource, {} differ",
        failures.len()
    );
    assert!(failures.is_empty(), "{} differences", failures.len());
    assert!(compared > 5000, "only {compared} compared");
}

#[test]
fn the_truth_covers_what_it_claims() {
    let truths = load();
    assert_eq!(truths.len(), VERSIONS.len());
    for t in &truths {
        let functions = t.modules.iter().flat_map(|m| &m.functions);
        let defs = functions.clone().filter(|f| f.kind == Kind::Def).count();
        let lambdas = functions.clone().filter(|f| f.kind == Kind::Lambda).count();
        assert!(
            t.modules.len() >= 24,
            "{}: {} modules",
            t.python,
            t.modules.len()
        );
        assert!(
            defs >= 150 && lambdas >= 15,
            "{}: {defs} defs, {lambdas} lambdas",
            t.python
        );
        assert!(
            functions.clone().all(|f| f.result.is_ok()),
            "every committed function has a source"
        );
        let non_utf8 = t.modules.iter().filter(|m| !m.utf8).count();
        assert!(non_utf8 >= 2, "latin-1 and cp1252 modules");
        let multi_line = functions
            .filter(|f| f.result.as_ref().is_ok_and(|(_, s)| s.lines().count() > 5))
            .count();
        assert!(
            multi_line >= 30,
            "{}: {multi_line} long functions",
            t.python
        );
    }
}

/// The comparison itself must see a difference: a truth with one character changed, or one
/// function's line moved, is reported, so an agreeing run means something.
#[test]
fn the_comparison_reports_a_wrong_truth() {
    let mut truths = load();
    let t = &mut truths[1];
    let m = t
        .modules
        .iter_mut()
        .find(|m| m.file == "etl_flow.py")
        .expect("etl_flow.py");
    let (bytes, _) = Variant::default().build(m);
    assert!(source_truth::check(t.python, m, &bytes, 0).is_ok());
    let f = m.functions.iter_mut().find(|f| f.name == "clean").unwrap();
    let right = f.result.clone();
    if let Ok((_, s)) = &mut f.result {
        *s = s.replacen("cancelled", "canceled", 1);
    }
    let e = source_truth::check(t.python, m, &bytes, 0).unwrap_err();
    assert!(e.contains("clean") && e.contains("first difference"), "{e}");
    let f = m.functions.iter_mut().find(|f| f.name == "clean").unwrap();
    f.result = right;
    f.line += 1;
    let e = source_truth::check(t.python, m, &bytes, 0).unwrap_err();
    assert!(e.contains("does not index"), "{e}");
}

/// fuzz/make_source_truth.py, run again with each CPython into a temporary folder, writes
/// exactly the committed truth (and, under 3.11, the committed seeds).
#[test]
fn the_committed_truth_is_what_cpython_writes() {
    let script = support::repo_root().join("fuzz/make_source_truth.py");
    let out = tempfile::tempdir().unwrap();
    for python in VERSIONS {
        let interpreter = support::base_python(&python.to_string());
        let run = std::process::Command::new(&interpreter)
            .arg("-I")
            .arg(&script)
            .arg("--out")
            .arg(out.path())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", interpreter.display()));
        assert!(
            run.status.success(),
            "{} {} failed:\n{}",
            interpreter.display(),
            script.display(),
            String::from_utf8_lossy(&run.stderr)
        );
        println!("{}", String::from_utf8_lossy(&run.stdout).trim());
        let name = format!("truth-{python}.json");
        let fresh = std::fs::read(out.path().join("source-truth").join(&name)).unwrap();
        let committed = std::fs::read(truth_dir().join(&name)).unwrap();
        assert!(
            fresh == committed,
            "fuzz/source-truth/{name} is not what CPython {python} writes now: run \
             `python{python} fuzz/make_source_truth.py` and review the diff"
        );
    }
    let seeds = support::repo_root().join("fuzz/seeds/source");
    let mut fresh: Vec<_> = std::fs::read_dir(out.path().join("seeds/source"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    fresh.sort();
    assert!(fresh.len() >= 48, "{} seeds", fresh.len());
    for name in &fresh {
        let a = std::fs::read(out.path().join("seeds/source").join(name)).unwrap();
        let b = std::fs::read(seeds.join(name))
            .unwrap_or_else(|e| panic!("seed {name:?} is not committed: {e}"));
        assert!(a == b, "seed {name:?} differs from what the script writes");
    }
    let committed = std::fs::read_dir(&seeds)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| {
            let n = n.to_string_lossy();
            n.starts_with("truth-") || n.starts_with("mix-")
        })
        .count();
    assert_eq!(committed, fresh.len(), "stale truth-* or mix-* seeds");
}
