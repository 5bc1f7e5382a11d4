//! Bytes to text the way `linecache` reads a source file: `tokenize.open`, which is
//! `tokenize.detect_encoding` (UTF-8 BOM, PEP 263 cookie on line 1 or 2, UTF-8 by default)
//! followed by a text-mode read with universal newlines (`\r\n` and lone `\r` become `\n`).
//!
//! The decoders are exact for the codecs listed here: UTF-8 (strict, as Python's), ASCII,
//! Latin-1, and the single-byte tables in `codec_tables` generated from CPython's own codecs.
//! Other codecs Python knows are reported as [`SourceError::UnsupportedEncoding`] rather than
//! guessed, because a near miss would silently change a cache key.

use std::borrow::Cow;

use super::SourceError;
use super::codec_tables::{
    ASCII_ALIASES, LATIN1_ALIASES, SINGLE_BYTE, SingleByteCodec, UTF8_ALIASES,
};

const BOM: &[u8] = b"\xef\xbb\xbf";

/// A codec this module can decode.
#[derive(Debug, Clone, Copy)]
enum Codec {
    Utf8,
    Ascii,
    Latin1,
    Table(&'static SingleByteCodec),
}

/// Decodes a Python source file to the text `linecache.getlines` joins to: the encoding is
/// chosen as `tokenize.detect_encoding` chooses it, a UTF-8 BOM is dropped, and line endings
/// become `\n`. (The final newline `linecache` adds is added later, by
/// [`super::SourceFile::new`].)
pub fn decode_source(bytes: &[u8]) -> Result<String, SourceError> {
    let (codec, name, skip) = detect_encoding(bytes)?;
    let body = &bytes[skip..];
    let text = match codec {
        Codec::Utf8 => match std::str::from_utf8(body) {
            Ok(s) => Cow::Borrowed(s),
            Err(e) => {
                return Err(SourceError::Undecodable {
                    encoding: name,
                    offset: skip + e.valid_up_to(),
                });
            }
        },
        Codec::Ascii => match body.iter().position(|b| *b >= 0x80) {
            Some(at) => {
                return Err(SourceError::Undecodable {
                    encoding: name,
                    offset: skip + at,
                });
            }
            // ASCII is valid UTF-8.
            None => Cow::Borrowed(std::str::from_utf8(body).unwrap_or_default()),
        },
        Codec::Latin1 => Cow::Owned(body.iter().map(|&b| b as char).collect()),
        Codec::Table(table) => {
            let mut s = String::with_capacity(body.len());
            for (i, &b) in body.iter().enumerate() {
                if b < 0x80 {
                    s.push(b as char);
                } else if let Some(c) = table.high[usize::from(b - 0x80)] {
                    s.push(c);
                } else {
                    return Err(SourceError::Undecodable {
                        encoding: name,
                        offset: skip + i,
                    });
                }
            }
            Cow::Owned(s)
        }
    };
    Ok(universal_newlines(&text).into_owned())
}

/// `\r\n` and lone `\r` to `\n`, as a text-mode read with `newline=None` does.
pub fn universal_newlines(text: &str) -> Cow<'_, str> {
    if !text.contains('\r') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\r') {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('\n') {
            rest = r;
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The codec, its name for messages, and how many leading bytes (a BOM) to skip.
fn detect_encoding(bytes: &[u8]) -> Result<(Codec, String, usize), SourceError> {
    let (bom, rest) = match bytes.strip_prefix(BOM) {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let default = || {
        (
            Codec::Utf8,
            if bom { "utf-8-sig" } else { "utf-8" }.to_string(),
            if bom { 3 } else { 0 },
        )
    };
    // detect_encoding reads with a binary readline, so a "line" ends at b'\n' only.
    let (first, after_first) = split_binary_line(rest);
    if first.is_empty() {
        return Ok(default());
    }
    let offset_first = bytes.len() - rest.len();
    if let Some(found) = find_cookie(first, offset_first, bom)? {
        return Ok(found);
    }
    if !is_blank_or_comment(first) {
        return Ok(default());
    }
    let (second, _) = split_binary_line(after_first);
    if second.is_empty() {
        return Ok(default());
    }
    let offset_second = bytes.len() - after_first.len();
    Ok(find_cookie(second, offset_second, bom)?.unwrap_or_else(default))
}

fn split_binary_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => bytes.split_at(i + 1),
        None => (bytes, &[]),
    }
}

/// `blank_re`: optional `[ \t\f]`, then `#`, `\r`, `\n` or the end.
fn is_blank_or_comment(line: &[u8]) -> bool {
    let rest = trim_start_ws(line);
    matches!(rest.first(), None | Some(b'#' | b'\r' | b'\n'))
}

fn trim_start_ws(line: &[u8]) -> &[u8] {
    let n = line
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\x0c'))
        .count();
    &line[n..]
}

/// The cookie on one line, as `detect_encoding.find_cookie` reads it: the line must be UTF-8,
/// and `^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)` (ASCII `\w`) picks the name.
fn find_cookie(
    line: &[u8],
    offset: usize,
    bom: bool,
) -> Result<Option<(Codec, String, usize)>, SourceError> {
    let text = std::str::from_utf8(line).map_err(|e| SourceError::Undecodable {
        encoding: "utf-8 (no valid encoding declaration)".to_string(),
        offset: offset + e.valid_up_to(),
    })?;
    let Some(name) = cookie_name(text) else {
        return Ok(None);
    };
    let normal = normal_name(name);
    let codec = lookup(&normal).ok_or_else(|| {
        if known_elsewhere(&normal) {
            SourceError::UnsupportedEncoding(name.to_string())
        } else {
            SourceError::BadEncodingDeclaration(format!("unknown encoding: {name}"))
        }
    })?;
    if bom {
        // detect_encoding compares the normalised name with 'utf-8' literally, so even an
        // alias of UTF-8 such as "utf8" is refused next to a BOM.
        if normal != "utf-8" {
            return Err(SourceError::BadEncodingDeclaration(format!(
                "a UTF-8 BOM together with the cookie {name:?}"
            )));
        }
        return Ok(Some((codec, "utf-8-sig".to_string(), 3)));
    }
    Ok(Some((codec, normal, 0)))
}

fn cookie_name(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    let mut i = b
        .iter()
        .take_while(|c| matches!(c, b' ' | b'\t' | b'\x0c'))
        .count();
    if b.get(i) != Some(&b'#') {
        return None;
    }
    i += 1;
    // `.*?` is lazy and `.` stops at '\n': the first "coding" that completes the match wins.
    while i < b.len() && b[i] != b'\n' {
        if b[i..].starts_with(b"coding") && matches!(b.get(i + 6), Some(b':' | b'=')) {
            let mut j = i + 7;
            while matches!(b.get(j), Some(b' ' | b'\t')) {
                j += 1;
            }
            let start = j;
            while matches!(b.get(j), Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            {
                j += 1;
            }
            if j > start {
                return Some(&text[start..j]);
            }
        }
        i += 1;
    }
    None
}

/// `tokenize._get_normal_name`: spellings of utf-8 and latin-1 collapse to one name, others
/// are kept as written (codecs.lookup normalises them further).
fn normal_name(name: &str) -> String {
    let enc: String = name
        .chars()
        .take(12)
        .collect::<String>()
        .to_lowercase()
        .replace('_', "-");
    if enc == "utf-8" || enc.starts_with("utf-8-") {
        return "utf-8".to_string();
    }
    let latin = ["latin-1", "iso-8859-1", "iso-latin-1"];
    if latin.contains(&enc.as_str()) || latin.iter().any(|l| enc.starts_with(&format!("{l}-"))) {
        return "iso-8859-1".to_string();
    }
    name.to_string()
}

/// `encodings.normalize_encoding` after lower-casing: runs of characters other than ASCII
/// letters, digits and '.' become one '_', leading and trailing ones are dropped.
fn lookup_key(name: &str) -> String {
    let mut out = String::new();
    let mut punct = false;
    for c in name.to_lowercase().chars() {
        if c.is_alphanumeric() || c == '.' {
            if punct && !out.is_empty() {
                out.push('_');
            }
            if c.is_ascii() {
                out.push(c);
            }
            punct = false;
        } else {
            punct = true;
        }
    }
    out
}

/// `codecs.lookup` restricted to the codecs decoded here.
fn lookup(name: &str) -> Option<Codec> {
    let key = lookup_key(name);
    let alt = key.replace('.', "_");
    let is = |aliases: &[&str]| aliases.contains(&key.as_str()) || aliases.contains(&alt.as_str());
    if is(UTF8_ALIASES) {
        return Some(Codec::Utf8);
    }
    if is(ASCII_ALIASES) {
        return Some(Codec::Ascii);
    }
    if is(LATIN1_ALIASES) {
        return Some(Codec::Latin1);
    }
    SINGLE_BYTE
        .iter()
        .find(|t| is(t.aliases) || t.name == key)
        .map(Codec::Table)
}

/// Codec names Python has that this module does not decode, so that the error can say
/// "unsupported" instead of "unknown". Not exhaustive: a miss only changes the message.
fn known_elsewhere(name: &str) -> bool {
    let key = lookup_key(name);
    let prefixes = [
        "cp",
        "windows_",
        "iso8859",
        "iso_8859",
        "latin",
        "koi8",
        "mac",
        "shift_jis",
        "sjis",
        "euc",
        "gb",
        "big5",
        "hz",
        "utf_16",
        "utf_32",
        "utf16",
        "utf32",
        "utf_7",
        "johab",
        "ks_c",
        "tis",
        "hp_roman",
        "ptcp",
        "kz",
    ];
    prefixes.iter().any(|p| key.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_utf8_and_bom_is_dropped() {
        assert_eq!(decode_source("x = 'é'\n".as_bytes()).unwrap(), "x = 'é'\n");
        assert_eq!(decode_source(b"\xef\xbb\xbfx = 1\n").unwrap(), "x = 1\n");
    }

    #[test]
    fn cookie_on_line_two_only_after_a_blank_or_comment_line() {
        let latin = b"#!/usr/bin/env python\n# -*- coding: latin-1 -*-\nx = '\xe9'\n";
        assert_eq!(
            decode_source(latin).unwrap(),
            "#!/usr/bin/env python\n# -*- coding: latin-1 -*-\nx = 'é'\n"
        );
        let ignored = b"x = 1\n# coding: latin-1\ny = '\xe9'\n";
        assert_eq!(
            decode_source(ignored).unwrap_err(),
            SourceError::Undecodable {
                encoding: "utf-8".into(),
                offset: 29
            }
        );
    }

    #[test]
    fn cp1252_has_holes() {
        assert_eq!(
            decode_source(b"# coding: cp1252\nx = '\x80'\n").unwrap(),
            "# coding: cp1252\nx = '\u{20ac}'\n"
        );
        let e = decode_source(b"# coding: windows-1252\nx = '\x81'\n").unwrap_err();
        assert_eq!(
            e,
            SourceError::Undecodable {
                encoding: "windows-1252".into(),
                offset: 28
            }
        );
    }

    #[test]
    fn bom_with_other_cookie_is_refused() {
        assert!(matches!(
            decode_source(b"\xef\xbb\xbf# coding: latin-1\n"),
            Err(SourceError::BadEncodingDeclaration(_))
        ));
        assert!(matches!(
            decode_source(b"\xef\xbb\xbf# coding: utf8\n"),
            Err(SourceError::BadEncodingDeclaration(_))
        ));
        assert!(decode_source(b"\xef\xbb\xbf# coding: utf-8\n").is_ok());
    }

    #[test]
    fn unknown_and_unsupported_codecs() {
        assert!(matches!(
            decode_source(b"# coding: nonsense\n"),
            Err(SourceError::BadEncodingDeclaration(_))
        ));
        assert!(matches!(
            decode_source(b"# coding: shift_jis\n"),
            Err(SourceError::UnsupportedEncoding(_))
        ));
    }

    #[test]
    fn universal_newlines_translate_crlf_and_cr() {
        assert_eq!(universal_newlines("a\r\nb\rc\n\r\n"), "a\nb\nc\n\n");
        assert_eq!(decode_source(b"a\r\r\nb").unwrap(), "a\n\nb");
    }

    #[test]
    fn cookie_pattern_is_lazy_and_needs_a_name() {
        assert_eq!(
            cookie_name("# vim: set fileencoding=latin-1 :\n"),
            Some("latin-1")
        );
        assert_eq!(cookie_name("# coding: \n"), None);
        assert_eq!(cookie_name("x = 1 # coding: latin-1\n"), None);
        assert_eq!(cookie_name("#coding=utf-8\r\n"), Some("utf-8"));
    }
}
