//! `cachescope source` (cli.md): the bytes CPython's `inspect.getsource` returns, nothing
//! added; `--line` picks among redefinitions; exit 1 when the function is not there, 2 when the
//! file cannot be read.

mod support;

use std::path::Path;
use std::process::{Command, Output};

fn source(args: &[&str]) -> Output {
    Command::new(support::cachescope_bin())
        .arg("source")
        .args(args)
        .output()
        .expect("run cachescope")
}

/// `inspect.getsource` of the function defined at `line` in `file`, under the machine's python3.
fn inspect_getsource(file: &Path, line: usize) -> Vec<u8> {
    let venv = support::plain_venv("3");
    let script = r#"
import inspect, sys
path, line = sys.argv[1], int(sys.argv[2])
code = compile(open(path, 'rb').read(), path, 'exec')
def walk(c):
    for k in c.co_consts:
        if hasattr(k, 'co_code'):
            yield k
            yield from walk(k)
(fn,) = [c for c in walk(code) if c.co_firstlineno == line and c.co_name not in ('<lambda>',)]
sys.stdout.buffer.write(inspect.getsource(fn).encode('utf-8'))
"#;
    let out = Command::new(&venv.python)
        .arg("-c")
        .arg(script)
        .arg(file)
        .arg(line.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn case(name: &str) -> std::path::PathBuf {
    support::repo_root().join("tests/source-cases").join(name)
}

#[test]
fn prints_exactly_what_inspect_returns() {
    // CRLF endings become \n, a cp1252 file is decoded, a method is found by qualname.
    for (file, qualname, line) in [
        ("crlf.py", "C.m", 7),
        ("crlf.py", "last", 13),
        ("cp1252.py", "quotes", 3),
        ("cp1252.py", "K.m", 8),
    ] {
        let path = case(file);
        let out = source(&[path.to_str().unwrap(), qualname, "--python", "3.11"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{file} {qualname}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&inspect_getsource(&path, line)),
            "{file} {qualname}"
        );
    }
}

#[test]
fn line_picks_the_nearest_redefinition() {
    let path = case("conditional.py");
    let p = path.to_str().unwrap();
    let first = source(&[p, "which", "--line", "4"]);
    let second = source(&[p, "which", "--line", "7"]);
    assert_eq!(first.stdout, inspect_getsource(&path, 4));
    assert_eq!(second.stdout, inspect_getsource(&path, 7));
    assert_ne!(first.stdout, second.stdout);
}

#[test]
fn missing_function_exits_1_and_unreadable_file_exits_2() {
    let path = case("crlf.py");
    let out = source(&[path.to_str().unwrap(), "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("crlf.py") && err.contains("no function \"nope\""),
        "{err}"
    );

    let out = source(&["/nonexistent/flows.py", "f"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/flows.py: cannot read"));

    let out = source(&[path.to_str().unwrap(), "f", "--python", "3.14"]);
    assert_eq!(out.status.code(), Some(2));
}
