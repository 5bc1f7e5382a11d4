//! The source text of a Python function exactly as CPython's `inspect.getsource` returns it,
//! computed from the file's bytes without running Python.
//!
//! Prefect's `TaskSource` cache policy hashes `inspect.getsource(fn)`, so predicting a cache
//! miss while a file is being edited needs the same text, byte for byte. `inspect.getsource` on
//! a function is: read the file the way `linecache` does (`tokenize.open`: BOM, PEP 263 cookie,
//! universal newlines, a final newline added), start at the code object's `co_firstlineno`
//! (the first decorator line), on Python <= 3.12 walk back to a line that looks like a `def`,
//! `@` or `lambda`, then let `inspect.BlockFinder` decide from `tokenize`'s tokens where the
//! block ends. Each step lives in its own module:
//!
//! - [`decode`]: bytes to text as `linecache` reads them;
//! - [`scan`]: a tokenizer that reproduces the token stream `BlockFinder` sees, in the pure
//!   Python flavour of 3.9-3.11 and the C tokenizer flavour of 3.12+;
//! - [`locate`]: one pass over a file that lists every function with its `co_qualname` and
//!   `co_firstlineno`, and the walk back of `findsource`;
//! - [`block`]: `BlockFinder` itself.
//!
//! Everything here is pure: no I/O, no printing, and every failure is a [`SourceError`].

pub mod block;
mod codec_tables;
pub mod decode;
pub mod locate;
pub mod scan;

use std::fmt;
use std::str::FromStr;

pub use decode::decode_source;
pub use locate::FunctionDef;

/// A CPython version, as far as it changes what `inspect.getsource` returns.
///
/// Only 3.9 to 3.13 are modelled: [`PythonVersion::check_supported`] rejects the others, since
/// their `inspect` and `tokenize` may behave differently in ways nobody has checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PythonVersion {
    pub major: u8,
    pub minor: u8,
}

impl PythonVersion {
    /// The oldest version whose behaviour is modelled.
    pub const OLDEST: PythonVersion = PythonVersion { major: 3, minor: 9 };
    /// The newest version whose behaviour is modelled.
    pub const NEWEST: PythonVersion = PythonVersion {
        major: 3,
        minor: 13,
    };

    pub const fn new(major: u8, minor: u8) -> Self {
        PythonVersion { major, minor }
    }

    /// An error unless this version is one whose `inspect` behaviour is modelled.
    pub fn check_supported(self) -> Result<(), SourceError> {
        if self < Self::OLDEST || self > Self::NEWEST {
            return Err(SourceError::UnsupportedPython(self));
        }
        Ok(())
    }

    /// 3.12 replaced the pure-Python tokenizer with the C one (PEP 701 f-strings, no negative
    /// bracket depth, errors raised instead of ERRORTOKEN).
    pub(crate) fn c_tokenizer(self) -> bool {
        self >= PythonVersion::new(3, 12)
    }

    /// Up to 3.12 `findsource` walks back from `co_firstlineno` to a line matching a
    /// `def`/`@`/`lambda` pattern; 3.13 starts at `co_firstlineno` itself.
    pub(crate) fn walks_back(self) -> bool {
        self <= PythonVersion::new(3, 12)
    }

    /// 3.9's `BlockFinder` ends a decorator at its closing parenthesis; 3.10 changed that to
    /// the decorator's NEWLINE.
    pub(crate) fn decorator_parens(self) -> bool {
        self <= PythonVersion::new(3, 9)
    }
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for PythonVersion {
    type Err = SourceError;

    /// Parses "3.11", "3.11.7", "3.13.0rc1" or "Python 3.12.1" (the output of `python --version`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || SourceError::BadPythonVersion(s.to_string());
        let t = s.trim();
        let t = t.strip_prefix("Python").unwrap_or(t).trim();
        let mut parts = t.split('.');
        let major: u8 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let minor_part = parts.next().ok_or_else(bad)?;
        let digits: String = minor_part
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        let minor: u8 = digits.parse().map_err(|_| bad())?;
        Ok(PythonVersion { major, minor })
    }
}

/// The source of one function, as `inspect.getsource` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSource {
    /// The function's `__qualname__` (`co_qualname`).
    pub qualname: String,
    /// The exact text `inspect.getsource` returns: whole lines, `\n` line endings.
    pub source: String,
    /// 1-based line of the first line of `source` (what `getsourcelines` returns).
    pub first_line: usize,
    /// 1-based line of the last line of `source`.
    pub last_line: usize,
    /// 1-based `co_firstlineno`: the first decorator's line, else the `def` line.
    pub code_first_line: usize,
}

/// Why a function's source cannot be had, or why `inspect.getsource` would raise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The bytes are not valid in the encoding the file declares (or UTF-8 by default).
    /// `linecache` then reads no lines and `inspect.getsource` raises OSError.
    #[error("the file is not valid {encoding}: undecodable byte at offset {offset}")]
    Undecodable { encoding: String, offset: usize },
    /// The encoding cookie (or BOM) cannot be honoured, as `tokenize.detect_encoding` would
    /// refuse it: unknown codec, or a BOM together with a cookie other than utf-8.
    #[error("bad encoding declaration: {0}")]
    BadEncodingDeclaration(String),
    /// A codec Python knows but this crate does not decode (multi-byte East Asian codecs).
    #[error("the file declares encoding {0:?}, which cachescope cannot decode")]
    UnsupportedEncoding(String),
    /// No function with that qualname; `candidates` lists qualnames in the file that look
    /// closest and the one defined nearest the line asked about, and `index_stopped` says
    /// where indexing gave up if the file does not tokenize.
    #[error("{}", not_found_message(qualname, candidates, index_stopped))]
    NotFound {
        qualname: String,
        candidates: Vec<String>,
        index_stopped: Option<String>,
    },
    /// `inspect.getsource` itself would raise while finding the block (tokenize.TokenError
    /// or SyntaxError), typically because the file does not tokenize from that line on.
    #[error("inspect.getsource would raise at line {line}: {message}")]
    InspectWouldRaise { line: usize, message: String },
    /// The line number is past the end of the file (`OSError: lineno is out of bounds`).
    #[error("line {0} is past the end of the file")]
    LineOutOfRange(usize),
    #[error("unsupported Python version {0}: only 3.9 to 3.13 are modelled")]
    UnsupportedPython(PythonVersion),
    #[error("cannot read {0:?} as a Python version (want e.g. \"3.11.7\")")]
    BadPythonVersion(String),
}

fn not_found_message(qualname: &str, candidates: &[String], stopped: &Option<String>) -> String {
    let mut m = format!("no function {qualname:?} in the file");
    if !candidates.is_empty() {
        m.push_str("; similar or nearby functions: ");
        m.push_str(&candidates.join(", "));
    }
    if let Some(s) = stopped {
        m.push_str("; note: ");
        m.push_str(s);
    }
    m
}

/// A decoded file split into lines the way `linecache.getlines` returns them, with every
/// function indexed once, so that many functions can be extracted for the cost of one scan.
#[derive(Debug, Clone)]
pub struct SourceFile {
    text: String,
    /// Byte ranges of the lines in `text`, each including its `\n`.
    line_spans: Vec<(usize, usize)>,
    python: PythonVersion,
    index: locate::FunctionIndex,
}

impl SourceFile {
    /// Indexes already decoded text. `\r\n` and lone `\r` are turned into `\n` as universal
    /// newlines would, and a missing final newline is added as `linecache` does.
    pub fn new(text: &str, python: PythonVersion) -> Result<Self, SourceError> {
        python.check_supported()?;
        let mut text = decode::universal_newlines(text).into_owned();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        let mut line_spans = Vec::new();
        let mut start = 0;
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_spans.push((start, i + 1));
                start = i + 1;
            }
        }
        let index = locate::index_lines(scan::Lines::new(&text, &line_spans), python);
        Ok(SourceFile {
            text,
            line_spans,
            python,
            index,
        })
    }

    /// Decodes the file's bytes (see [`decode_source`]) and indexes them.
    pub fn from_bytes(bytes: &[u8], python: PythonVersion) -> Result<Self, SourceError> {
        python.check_supported()?;
        Self::new(&decode_source(bytes)?, python)
    }

    /// Every `def` and `async def` in the file, in source order, with qualnames.
    pub fn functions(&self) -> &[FunctionDef] {
        &self.index.functions
    }

    /// Where indexing stopped early because the file does not tokenize, if it did.
    pub fn index_stopped(&self) -> Option<&str> {
        self.index.stopped.as_deref()
    }

    /// The lines as `linecache.getlines` returns them.
    pub fn lines(&self) -> scan::Lines<'_> {
        scan::Lines::new(&self.text, &self.line_spans)
    }

    /// Finds the function `qualname` and returns what `inspect.getsource` returns for it.
    ///
    /// With several definitions of the same qualname (redefinitions, if/else branches) the
    /// one whose `co_firstlineno` is nearest `near_line` is taken (the earlier on a tie);
    /// without `near_line`, the last one, which is the one a module's name ends up bound to.
    pub fn find_function(
        &self,
        qualname: &str,
        near_line: Option<usize>,
    ) -> Result<FunctionSource, SourceError> {
        let def = locate::pick(&self.index, qualname, near_line)?;
        self.source_of(def)
    }

    /// What `inspect.getsource` returns for a code object whose `co_firstlineno` is
    /// `code_first_line` (1-based). This is the whole of `getsource` once the code object is
    /// known; [`SourceFile::find_function`] is this after looking the line up by qualname.
    pub fn source_at_line(&self, code_first_line: usize) -> Result<(usize, usize), SourceError> {
        let lines = self.lines();
        let start = locate::findsource_start(lines, code_first_line, self.python)?;
        let len = block::block_len(lines.from(start), self.python).map_err(|e| {
            SourceError::InspectWouldRaise {
                line: start + e.row + 1,
                message: e.message,
            }
        })?;
        Ok((start + 1, start + len))
    }

    /// The source of one indexed function.
    pub fn source_of(&self, def: &FunctionDef) -> Result<FunctionSource, SourceError> {
        let (first, last) = self.source_at_line(def.code_first_line)?;
        let source = self.lines().join(first - 1, last).to_string();
        Ok(FunctionSource {
            qualname: def.qualname.clone(),
            source,
            first_line: first,
            last_line: last,
            code_first_line: def.code_first_line,
        })
    }
}

/// Indexes every function in decoded text (see [`SourceFile::functions`]).
pub fn index_functions(text: &str, python: PythonVersion) -> Result<Vec<FunctionDef>, SourceError> {
    Ok(SourceFile::new(text, python)?.index.functions)
}

/// Finds `qualname` in decoded text and returns what `inspect.getsource` would
/// (see [`SourceFile::find_function`]). To extract several functions from one file, build a
/// [`SourceFile`] once instead.
pub fn find_function(
    text: &str,
    qualname: &str,
    near_line: Option<usize>,
    python: PythonVersion,
) -> Result<FunctionSource, SourceError> {
    SourceFile::new(text, python)?.find_function(qualname, near_line)
}

/// [`decode_source`] then [`find_function`]: from the file's bytes to the function's source.
pub fn get_source(
    bytes: &[u8],
    qualname: &str,
    near_line: Option<usize>,
    python: PythonVersion,
) -> Result<FunctionSource, SourceError> {
    SourceFile::from_bytes(bytes, python)?.find_function(qualname, near_line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(
            "3.11.7".parse::<PythonVersion>().unwrap(),
            PythonVersion::new(3, 11)
        );
        assert_eq!(
            "3.13".parse::<PythonVersion>().unwrap(),
            PythonVersion::new(3, 13)
        );
        assert_eq!(
            "Python 3.12.1\n".parse::<PythonVersion>().unwrap(),
            PythonVersion::new(3, 12)
        );
        assert_eq!(
            "3.13.0rc1".parse::<PythonVersion>().unwrap(),
            PythonVersion::new(3, 13)
        );
        assert!("three".parse::<PythonVersion>().is_err());
        assert!("3".parse::<PythonVersion>().is_err());
        assert!(PythonVersion::new(3, 8).check_supported().is_err());
        assert!(PythonVersion::new(3, 14).check_supported().is_err());
    }

    #[test]
    fn finds_a_method_with_its_comments() {
        let text = "class A:\n    @property\n    def x(self):\n        return 1\n        # tail\n\n    y = 2\n";
        let f = find_function(text, "A.x", None, PythonVersion::new(3, 11)).unwrap();
        assert_eq!(
            f.source,
            "    @property\n    def x(self):\n        return 1\n        # tail\n"
        );
        assert_eq!((f.first_line, f.last_line, f.code_first_line), (2, 5, 2));
    }

    #[test]
    fn not_found_names_similar_functions() {
        let text = "def outer():\n    def inner():\n        pass\n";
        let e = find_function(text, "inner", None, PythonVersion::new(3, 13)).unwrap_err();
        match e {
            SourceError::NotFound { candidates, .. } => {
                assert_eq!(candidates[0], "outer.<locals>.inner")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn not_found_names_the_function_near_the_line() {
        let text = "def alpha():\n    pass\n\n\ndef renamed():\n    pass\n";
        let e = find_function(text, "original", Some(5), PythonVersion::new(3, 11)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no function \"original\" in the file; similar or nearby functions: renamed"
        );
        let e = find_function("def f(:\n'''\n", "g", None, PythonVersion::new(3, 13)).unwrap_err();
        assert!(e.to_string().contains("does not tokenize at line 2"), "{e}");
    }

    #[test]
    fn adds_the_final_newline_and_translates_line_endings() {
        let f = get_source(
            b"def f():\r\n    return 1",
            "f",
            None,
            PythonVersion::new(3, 13),
        )
        .unwrap();
        assert_eq!(f.source, "def f():\n    return 1\n");
    }
}
