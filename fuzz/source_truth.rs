//! The committed truth of CPython's `inspect.getsource` on the modules in
//! fuzz/source-truth/modules/ (written by fuzz/make_source_truth.py), and the comparison of
//! `cachescope::source` with it. Shared by the `source` fuzz target and tests/source_truth.rs
//! (both include this file with `#[path]`), so the fuzzer and `cargo test` judge alike.
//!
//! Besides a module as committed, the comparison covers variants whose truth follows from the
//! module's, each checked against CPython by the script that writes the truth: the line
//! endings replaced, a UTF-8 byte-order mark or lines put in front (UTF-8 modules only; lines
//! in front move every line number), and any text appended after a `pass` at column 0, which
//! ends every block before it, so that `inspect.getsource` never reads the appended text.
//!
//! A fuzz input's first byte picks its mode:
//! - below 0x80, plain: the version is 3.9 + byte % 5 and the rest is a source file; if it is
//!   byte for byte a module whose truth exists for that version, it is compared;
//! - from 0x80, composed: bits 0-1 pick the line endings (kept, `\r\n`, `\n`, `\r`), bit 2 a
//!   BOM, bits 3-4 the version ([`VERSIONS`]), bits 5-6 how many lines go in front; the next
//!   byte picks the module (modulo the number of modules of that version) and the rest is the
//!   appended text (made valid in the module's encoding: UTF-8 with replacement characters,
//!   or ASCII for other encodings). Every composed input is compared.
#![allow(dead_code)]

use std::path::Path;

use cachescope::source::{PythonVersion, SourceFile};
use serde_json::Value;

/// The versions whose truth is committed, in the order the composed mode's bits use.
pub const VERSIONS: [PythonVersion; 4] = [
    PythonVersion::new(3, 9),
    PythonVersion::new(3, 11),
    PythonVersion::new(3, 12),
    PythonVersion::new(3, 13),
];

/// Lines put in front, cycling (the script's `LEADING`).
const LEADING: [&[u8]; 3] = [b"\n", b"# a line put in front\n", b"pass\n"];
const BOM: &[u8] = b"\xef\xbb\xbf";

/// The truth of one interpreter.
pub struct Truth {
    pub python: PythonVersion,
    pub modules: Vec<Module>,
}

pub struct Module {
    pub file: String,
    pub bytes: Vec<u8>,
    /// The file decodes as UTF-8 (with or without a BOM or a utf-8 cookie).
    pub utf8: bool,
    /// How many lines `linecache` reads from it.
    pub lines: usize,
    /// `(name, co_firstlineno)` of every def in the syntax tree: the compiled ones and those
    /// in dead code, which the compiler drops.
    pub syntax_defs: Vec<(String, usize)>,
    pub functions: Vec<Function>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Def,
    Lambda,
}

pub struct Function {
    pub kind: Kind,
    /// `co_qualname`; `None` before 3.11.
    pub qualname: Option<String>,
    pub name: String,
    /// `co_firstlineno`.
    pub line: usize,
    /// `getsourcelines`' first line and `getsource`'s text, or the exception raised.
    pub result: Result<(usize, String), String>,
}

/// Reads truth-3.X.json for every version in [`VERSIONS`] and the modules they name.
pub fn load(dir: &Path) -> Vec<Truth> {
    VERSIONS
        .iter()
        .map(|&python| {
            let path = dir.join(format!("truth-{python}.json"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (write it with fuzz/make_source_truth.py under CPython {python})",
                    path.display()
                )
            });
            let v: Value = serde_json::from_str(&text).expect("truth is JSON");
            assert_eq!(v["python"], python.to_string(), "{}", path.display());
            let modules = v["modules"]
                .as_array()
                .expect("modules")
                .iter()
                .map(|m| module(dir, m))
                .collect();
            Truth { python, modules }
        })
        .collect()
}

fn module(dir: &Path, m: &Value) -> Module {
    let file = m["file"].as_str().expect("file").to_string();
    let path = dir.join("modules").join(&file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let functions = m["functions"]
        .as_array()
        .expect("functions")
        .iter()
        .map(|f| Function {
            kind: match f["kind"].as_str() {
                Some("def") => Kind::Def,
                Some("lambda") => Kind::Lambda,
                other => panic!("{file}: kind {other:?}"),
            },
            qualname: f["qualname"].as_str().map(str::to_string),
            name: f["name"].as_str().expect("name").to_string(),
            line: f["line"].as_u64().expect("line") as usize,
            result: match (&f["source"], &f["error"]) {
                (Value::String(s), _) => Ok((
                    f["first_line"].as_u64().expect("first_line") as usize,
                    s.clone(),
                )),
                (_, Value::String(e)) => Err(e.clone()),
                _ => panic!("{file}: a function with neither source nor error"),
            },
        })
        .collect();
    Module {
        file,
        bytes,
        utf8: m["encoding"] == "utf-8",
        lines: m["lines"].as_u64().expect("lines") as usize,
        syntax_defs: m["syntax_defs"]
            .as_array()
            .expect("syntax_defs")
            .iter()
            .map(|d| {
                (
                    d[0].as_str().expect("name").to_string(),
                    d[1].as_u64().expect("line") as usize,
                )
            })
            .collect(),
        functions,
    }
}

/// How a module is turned into the file compared (the script's `variant`).
#[derive(Debug, Clone, Default)]
pub struct Variant {
    /// Every line ending replaced by this one.
    pub ending: Option<&'static [u8]>,
    pub bom: bool,
    pub leading: usize,
    /// Appended after `pass`; `None` leaves the module's end as it is.
    pub tail: Option<Vec<u8>>,
}

impl Variant {
    /// The composed mode's variant from the first byte and the appended bytes.
    pub fn from_fuzz(head: u8, tail: &[u8]) -> Variant {
        Variant {
            ending: match head & 3 {
                0 => None,
                1 => Some(b"\r\n"),
                2 => Some(b"\n"),
                _ => Some(b"\r"),
            },
            bom: head & 4 != 0,
            leading: usize::from((head >> 5) & 3),
            tail: (!tail.is_empty()).then(|| tail.to_vec()),
        }
    }

    /// The file's bytes and how many lines were put in front of the module.
    pub fn build(&self, m: &Module) -> (Vec<u8>, usize) {
        let had_bom = m.bytes.starts_with(BOM);
        let mut body: Vec<u8> = m.bytes.strip_prefix(BOM).unwrap_or(&m.bytes).to_vec();
        if let Some(ending) = self.ending.filter(|_| m.utf8) {
            body = replace_line_endings(&body, ending);
        }
        let leading = if m.utf8 { self.leading } else { 0 };
        let mut out = Vec::new();
        if had_bom || (self.bom && m.utf8) {
            out.extend_from_slice(BOM);
        }
        for i in 0..leading {
            out.extend_from_slice(LEADING[i % 3]);
        }
        out.extend_from_slice(&body);
        if let Some(tail) = &self.tail {
            if !matches!(out.last(), Some(b'\n' | b'\r')) {
                out.push(b'\n');
            }
            out.extend_from_slice(b"pass\n");
            if m.utf8 {
                out.extend_from_slice(String::from_utf8_lossy(tail).as_bytes());
            } else {
                out.extend(tail.iter().map(|b| b & 0x7f));
            }
        }
        (out, leading)
    }
}

fn replace_line_endings(bytes: &[u8], ending: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 16);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' => {
                out.extend_from_slice(ending);
                i += if bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
            }
            b'\n' => {
                out.extend_from_slice(ending);
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The first differing line of two texts.
fn first_difference(want: &str, got: &str) -> String {
    let w: Vec<&str> = want.split_inclusive('\n').collect();
    let g: Vec<&str> = got.split_inclusive('\n').collect();
    let i = w.iter().zip(&g).take_while(|(a, b)| a == b).count();
    format!(
        "inspect has {} lines, cachescope {}; first difference at line {}: inspect {:?}, cachescope {:?}",
        w.len(),
        g.len(),
        i + 1,
        w.get(i).unwrap_or(&"<end>"),
        g.get(i).unwrap_or(&"<end>")
    )
}

/// Compares the extractor on `bytes` (module `m` with `leading` lines in front, possibly with
/// text after it) with the truth of `python`: every def and lambda's text and first line,
/// and the set of defs indexed within the module's lines. Returns how many were compared.
pub fn check(
    python: PythonVersion,
    m: &Module,
    bytes: &[u8],
    leading: usize,
) -> Result<usize, String> {
    let sf = match SourceFile::from_bytes(bytes, python) {
        Ok(sf) => sf,
        Err(_) if m.functions.iter().all(|f| f.result.is_err()) => return Ok(m.functions.len()),
        Err(e) => return Err(format!("{}: cachescope cannot read the file: {e}", m.file)),
    };
    let mut compared = 0;
    for f in &m.functions {
        let line = f.line + leading;
        let label = format!(
            "{} under {python}: {} {} at line {line}",
            m.file,
            if f.kind == Kind::Def { "def" } else { "lambda" },
            f.qualname.as_deref().unwrap_or(&f.name)
        );
        let ours: Result<(usize, String), String> = match f.kind {
            Kind::Def => {
                let def = match &f.qualname {
                    Some(q) => sf
                        .functions()
                        .iter()
                        .find(|d| &d.qualname == q && d.code_first_line == line),
                    None => sf.functions().iter().find(|d| {
                        d.code_first_line == line
                            && d.qualname.rsplit('.').next() == Some(f.name.as_str())
                    }),
                };
                let Some(def) = def else {
                    return Err(format!("{label}: cachescope does not index this def"));
                };
                if let Some(q) = &f.qualname {
                    // The lookup the CLI and the engine use: by qualname, near the line.
                    match sf.find_function(q, Some(line)) {
                        Ok(found) if found.code_first_line == line => {}
                        Ok(found) => {
                            return Err(format!(
                                "{label}: find_function picks the def at line {}",
                                found.code_first_line
                            ));
                        }
                        Err(e) => return Err(format!("{label}: find_function: {e}")),
                    }
                }
                sf.source_of(def)
                    .map(|s| (s.first_line, s.source))
                    .map_err(|e| e.to_string())
            }
            Kind::Lambda => sf
                .source_at_line(line)
                .map(|(first, last)| (first, sf.lines().join(first - 1, last).to_string()))
                .map_err(|e| e.to_string()),
        };
        match (&f.result, ours) {
            (Ok((want_first, want)), Ok((got_first, got))) => {
                if *want != got {
                    return Err(format!("{label}: {}", first_difference(want, &got)));
                }
                if want_first + leading != got_first {
                    return Err(format!(
                        "{label}: inspect starts at line {}, cachescope at {got_first}",
                        want_first + leading
                    ));
                }
            }
            (Err(_), Err(_)) => {}
            (Ok(_), Err(e)) => {
                return Err(format!("{label}: inspect returns source, cachescope: {e}"));
            }
            (Err(e), Ok(_)) => {
                return Err(format!(
                    "{label}: inspect raises {e}, cachescope returns source"
                ));
            }
        }
        compared += 1;
    }
    // Within the module's lines (the `pass` after them and any appended text come later),
    // exactly the defs of the syntax tree are indexed, by name and line.
    let mut ours: Vec<(&str, usize)> = sf
        .functions()
        .iter()
        .filter(|d| d.code_first_line > leading && d.code_first_line <= leading + m.lines)
        .map(|d| {
            let name = d.qualname.rsplit('.').next().unwrap_or(&d.qualname);
            (name, d.code_first_line - leading)
        })
        .collect();
    let mut theirs: Vec<(&str, usize)> = m
        .syntax_defs
        .iter()
        .map(|(n, l)| (n.as_str(), *l))
        .collect();
    ours.sort();
    theirs.sort();
    if ours != theirs {
        return Err(format!(
            "{} under {python}: cachescope indexes the defs {ours:?}, the syntax has {theirs:?}",
            m.file
        ));
    }
    Ok(compared)
}

/// A fuzz input, decoded as the module documentation says: the file to run the extractor on,
/// its version, and the truth to compare with, if there is one.
pub struct Decoded<'t> {
    pub bytes: Vec<u8>,
    pub python: PythonVersion,
    pub truth: Option<(&'t Module, usize)>,
}

pub fn decode<'t>(truths: &'t [Truth], data: &[u8]) -> Option<Decoded<'t>> {
    let (&head, rest) = data.split_first()?;
    if head & 0x80 == 0 {
        let python = PythonVersion::new(3, 9 + head % 5);
        let truth = truths
            .iter()
            .find(|t| t.python == python)
            .and_then(|t| t.modules.iter().find(|m| m.bytes == rest))
            .map(|m| (m, 0));
        return Some(Decoded {
            bytes: rest.to_vec(),
            python,
            truth,
        });
    }
    let (&index, tail) = rest.split_first()?;
    let t = &truths[usize::from((head >> 3) & 3)];
    let m = &t.modules[usize::from(index) % t.modules.len()];
    let (bytes, leading) = Variant::from_fuzz(head, tail).build(m);
    Some(Decoded {
        bytes,
        python: t.python,
        truth: Some((m, leading)),
    })
}
