//! `cachescope source`: a function's source exactly as `inspect.getsource` returns it.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use cachescope::source::{PythonVersion, SourceError, get_source};

use super::Outcome;

pub fn run(file: &Path, qualname: &str, line: Option<usize>, python: &str) -> Outcome {
    let python: PythonVersion = match python.parse() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("cachescope: --python: {e}");
            return Outcome::Error;
        }
    };
    if let Err(e) = python.check_supported() {
        eprintln!("cachescope: --python: {e}");
        return Outcome::Error;
    }
    let bytes = match fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cachescope: {}: cannot read: {e}", file.display());
            return Outcome::Error;
        }
    };
    match get_source(&bytes, qualname, line, python) {
        Ok(found) => {
            // Byte for byte, nothing added: no trailing newline beyond the source's own.
            let mut out = io::stdout().lock();
            let _ = out
                .write_all(found.source.as_bytes())
                .and_then(|()| out.flush());
            Outcome::Ok
        }
        Err(
            e @ (SourceError::NotFound { .. }
            | SourceError::InspectWouldRaise { .. }
            | SourceError::LineOutOfRange(_)),
        ) => {
            eprintln!("cachescope: {}: {e}", file.display());
            Outcome::Difference
        }
        Err(e) => {
            eprintln!("cachescope: {}: {e}", file.display());
            Outcome::Error
        }
    }
}
