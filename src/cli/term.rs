//! The one way human-readable text leaves cachescope: every text report on stdout and every
//! message on stderr is written through [`Sanitized`], which escapes control characters with
//! `sanitize_text` (issue 7, item 3).
//!
//! The commands also escape one-line fields (task names, paths) with `sanitize_line` where they
//! format them, so that an embedded newline cannot break a row; this layer is the backstop, so
//! that a field a command forgot still cannot retitle, clear or recolour the terminal. Only two
//! outputs bypass it, each where it is written: JSON (exact JSON by contract, written through
//! `cachescope::safe_json`, which escapes every control character as `\uXXXX`) and `source` when
//! stdout is not a terminal (byte for byte).

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};

use cachescope::sanitize::{sanitize_line, sanitize_text};

/// A writer that passes text on with every control character but `\n` and `\t` escaped.
///
/// `write!` hands it whole strings; bytes written another way may split a character, whose
/// start waits for the rest. Bytes that are not UTF-8 at all are escaped as `\xNN`, since a
/// lone 0x9B is a CSI to a terminal that reads 8-bit controls.
pub struct Sanitized<W: Write> {
    inner: W,
    /// The start of a character cut at the end of the last write (at most 3 bytes).
    pending: Vec<u8>,
}

impl<W: Write> Sanitized<W> {
    pub fn new(inner: W) -> Self {
        Sanitized {
            inner,
            pending: Vec::new(),
        }
    }
}

impl<W: Write> Write for Sanitized<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.pending.is_empty() {
            let cut = emit(&mut self.inner, buf)?;
            self.pending.extend_from_slice(cut);
        } else {
            let mut joined = std::mem::take(&mut self.pending);
            joined.extend_from_slice(buf);
            let cut = emit(&mut self.inner, &joined)?.to_vec();
            self.pending = cut;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Drop for Sanitized<W> {
    /// A character still cut at the end is not text: it is shown as its bytes.
    fn drop(&mut self) {
        for b in std::mem::take(&mut self.pending) {
            let _ = write!(self.inner, "\\x{b:02x}");
        }
        let _ = self.inner.flush();
    }
}

/// Writes `bytes` sanitised; returns the start of a character cut at the end, if any.
fn emit<'b>(out: &mut impl Write, mut bytes: &'b [u8]) -> io::Result<&'b [u8]> {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                out.write_all(sanitize_text(text).as_bytes())?;
                return Ok(&[]);
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                let valid = std::str::from_utf8(valid).expect("valid up to here");
                out.write_all(sanitize_text(valid).as_bytes())?;
                match e.error_len() {
                    None => return Ok(rest),
                    Some(n) => {
                        for b in &rest[..n] {
                            write!(out, "\\x{b:02x}")?;
                        }
                        bytes = &rest[n..];
                    }
                }
            }
        }
    }
}

/// A one-line field that is not a `&str` (a path, a record's name) with every control
/// character escaped, as `sanitize_line` does for a `&str`.
pub fn line_of(value: impl fmt::Display) -> String {
    one_line(value.to_string())
}

/// `text` as one line, with every control character escaped; not copied when it is clean.
pub fn one_line(text: String) -> String {
    match sanitize_line(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(escaped) => escaped,
    }
}

/// `cachescope: MESSAGE` on stderr, sanitised, as one write (so that messages from several
/// places do not interleave). Use through [`error!`].
pub fn error_line(message: fmt::Arguments) {
    let line = format!("cachescope: {message}\n");
    let mut err = Sanitized::new(io::stderr().lock());
    let _ = err.write_all(line.as_bytes());
}

/// `eprintln!` for cachescope's messages: `error!("{}: cannot read: {e}", path.display())`
/// prints `cachescope: …` on stderr with control characters escaped.
macro_rules! error {
    ($($arg:tt)*) => {
        $crate::cli::term::error_line(format_args!($($arg)*))
    };
}
pub(crate) use error;

#[cfg(test)]
mod tests {
    use super::*;

    fn through(pieces: &[&[u8]]) -> String {
        let mut out = Vec::new();
        {
            let mut w = Sanitized::new(&mut out);
            for p in pieces {
                w.write_all(p).unwrap();
            }
        }
        String::from_utf8(out).expect("the output is UTF-8")
    }

    #[test]
    fn escapes_controls_and_keeps_lines() {
        assert_eq!(
            through(&["task \x1b]0;pwned\x07\x1b[2J\u{9b}31m\u{202e}x\n\tok\r\n".as_bytes()]),
            "task \\x1b]0;pwned\\x07\\x1b[2J\\u{9b}31m\\u{202e}x\n\tok\\x0d\n"
        );
    }

    #[test]
    fn a_character_split_across_writes_is_joined_first() {
        // U+009B is C2 9B and U+202E is E2 80 AE: cut anywhere, they are still escaped.
        let text = "a\u{9b}b\u{202e}c é".as_bytes();
        for cut in 0..=text.len() {
            let (x, y) = text.split_at(cut);
            assert_eq!(through(&[x, y]), "a\\u{9b}b\\u{202e}c é", "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(through(&bytes), "a\\u{9b}b\\u{202e}c é");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_shown_as_bytes() {
        // A raw 0x9B is an 8-bit CSI; a cut character left at the end is shown too.
        assert_eq!(through(&[b"a\x9b[2Jb\xff"]), "a\\x9b[2Jb\\xff");
        assert_eq!(through(&[b"end\xe2\x80"]), "end\\xe2\\x80");
    }
}
