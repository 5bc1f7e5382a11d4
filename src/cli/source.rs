//! `cachescope source`: a function's source exactly as `inspect.getsource` returns it.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::Path;

use cachescope::sanitize::sanitize_text;
use cachescope::source::{PythonVersion, SourceError, get_source};

use super::{Outcome, term};

pub fn run(file: &Path, qualname: &str, line: Option<usize>, python: &str) -> Outcome {
    let python: PythonVersion = match python.parse() {
        Ok(v) => v,
        Err(e) => {
            term::error!("--python: {e}");
            return Outcome::Error;
        }
    };
    if let Err(e) = python.check_supported() {
        term::error!("--python: {e}");
        return Outcome::Error;
    }
    let bytes = match fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            term::error!("{}: cannot read: {e}", file.display());
            return Outcome::Error;
        }
    };
    match get_source(&bytes, qualname, line, python) {
        Ok(found) => {
            let mut out = io::stdout().lock();
            // Piped, the contract holds: byte for byte, nothing added (no trailing newline
            // beyond the source's own). On a terminal, a control character in the file (an
            // escape in a string literal) would act on the terminal, so it is shown escaped.
            let text = if out.is_terminal() {
                sanitize_text(&found.source)
            } else {
                found.source.as_str().into()
            };
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            Outcome::Ok
        }
        Err(
            e @ (SourceError::NotFound { .. }
            | SourceError::InspectWouldRaise { .. }
            | SourceError::LineOutOfRange(_)),
        ) => {
            term::error!("{}: {e}", file.display());
            Outcome::Difference
        }
        Err(e) => {
            term::error!("{}: {e}", file.display());
            Outcome::Error
        }
    }
}
