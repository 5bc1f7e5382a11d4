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

/// A function whose string literal holds terminal escapes (ESC, BEL, the 8-bit CSI U+009B, a
/// bidi override), as a file anyone could have written can (issue 7, item 3).
const ESCAPES_PY: &str =
    "def f():\n    return \"\x1b]0;pwned\x07\x1b[2J\u{9b}31m\u{202e}\"\n\n\ndef g():\n    pass\n";

#[test]
fn piped_source_stays_byte_exact_with_escapes_in_it() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("escapes.py");
    std::fs::write(&path, ESCAPES_PY).unwrap();
    let out = source(&[path.to_str().unwrap(), "f"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = "def f():\n    return \"\x1b]0;pwned\x07\x1b[2J\u{9b}31m\u{202e}\"\n";
    assert_eq!(out.stdout, f.as_bytes());
    assert_eq!(out.stdout, inspect_getsource(&path, 1));
}

/// Runs `cachescope ARGS` with its stdout and stderr on a pseudo-terminal, through util-linux
/// `script`; returns what the terminal received and the exit status.
fn on_a_terminal(args: &[&str]) -> (Vec<u8>, Option<i32>) {
    let found = Command::new("script").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "this test needs util-linux `script` to run cachescope on a pseudo-terminal: install \
         util-linux (apt-get install util-linux)"
    );
    // Every argument here is a plain path or name; quoted for the shell all the same.
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let command = std::iter::once(support::cachescope_bin().to_str().unwrap().to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .map(|a| quote(&a))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script");
    (out.stdout, out.status.code())
}

#[test]
fn on_a_terminal_source_is_shown_with_escapes_visible() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("escapes.py");
    std::fs::write(&path, ESCAPES_PY).unwrap();
    let (screen, status) = on_a_terminal(&["source", path.to_str().unwrap(), "f"]);
    assert_eq!(status, Some(0), "{}", screen.escape_ascii());
    assert!(
        !screen.contains(&0x1b) && !screen.contains(&0x07),
        "a raw control reached the terminal: {}",
        screen.escape_ascii()
    );
    let text = String::from_utf8(screen).expect("UTF-8");
    assert!(!text.contains(['\u{9b}', '\u{202e}']), "{text:?}");
    // The terminal turns each \n into \r\n.
    assert_eq!(
        text,
        "def f():\r\n    return \"\\x1b]0;pwned\\x07\\x1b[2J\\u{9b}31m\\u{202e}\"\r\n"
    );

    // Messages are escaped too, piped or not: they name the file, whose name can hold anything.
    let named = tmp.path().join("esc\x1b]0;pwned\x07\u{202e}.py");
    std::fs::write(&named, ESCAPES_PY).unwrap();
    let (screen, status) = on_a_terminal(&["source", named.to_str().unwrap(), "nope"]);
    assert_eq!(status, Some(1), "{}", screen.escape_ascii());
    assert!(!screen.contains(&0x1b), "{}", screen.escape_ascii());
    let out = source(&[named.to_str().unwrap(), "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).expect("UTF-8");
    assert!(!err.contains(['\x1b', '\x07', '\u{202e}']), "{err:?}");
    assert!(err.contains("esc\\x1b]0;pwned\\x07\\u{202e}.py"), "{err:?}");
}
