//! Text from run records made safe to show on a terminal.
//!
//! Records are files anyone could have written, and every string in them (task names, paths,
//! inputs, flow parameters, sources, and the error messages that quote them) reaches the screen.
//! A control character there is an instruction to the terminal: ESC and the 8-bit CSI (U+009B)
//! start sequences that clear the screen, recolour text, retitle the window or set the
//! clipboard (OSC 52), and the bidi controls reorder what is shown so that text reads other
//! than it is. Every such character is replaced by a visible escape (`\x1b`, `\u{202e}`), so
//! the text is still shown, and shown as it is.
//!
//! Callers that draw often (the terminal UI, every frame) get the input back borrowed when it
//! needs no escaping, which is nearly always.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal as it is: C0 controls (U+0000–U+001F), DEL, C1
/// controls (U+0080–U+009F, with the 8-bit CSI U+009B and OSC U+009D), and the bidi controls
/// (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069). `\n` and `\t` count: where a field
/// is one line, they are escaped too.
pub fn is_unsafe(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// A one-line field (a name, a path, a value in a table cell): every unsafe character escaped,
/// `\n`, `\r` and `\t` included, so an embedded newline cannot break a row.
pub fn sanitize_line(s: &str) -> Cow<'_, str> {
    sanitize(s, false)
}

/// Multi-line text (a source, a diff, an explanation): `\n` and `\t` kept, every other unsafe
/// character escaped (`\r` too, which would let a line overwrite what came before it).
pub fn sanitize_text(s: &str) -> Cow<'_, str> {
    sanitize(s, true)
}

fn sanitize(s: &str, keep_lines: bool) -> Cow<'_, str> {
    let escaped = |c: char| is_unsafe(c) && !(keep_lines && (c == '\n' || c == '\t'));
    let Some(first) = first_candidate(s, escaped) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if escaped(c) {
            escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The index of the first character to escape, found byte by byte: every unsafe character is an
/// ASCII byte below 0x20, DEL, or starts with the byte 0xC2 (U+0080–U+009F), 0xD8 (U+061C) or
/// 0xE2 (U+2000–U+2FFF, which also holds the line separators [`crate::safe_json`] escapes).
/// Those lead bytes never occur inside another character's encoding, so a candidate is always
/// at a character boundary, and clean text is passed over without decoding it.
pub(crate) fn first_candidate(s: &str, escaped: impl Fn(char) -> bool) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x20 || b == 0x7f || b == 0xc2 || b == 0xd8 || b == 0xe2 {
            let c = s[i..]
                .chars()
                .next()
                .expect("a lead byte starts a character");
            if escaped(c) {
                return Some(i);
            }
            i += c.len_utf8();
        } else {
            i += 1;
        }
    }
    None
}

/// `\x1b` for C0 controls and DEL (as Python and Rust write them in strings); `\u{9b}` for
/// the others, which a two-digit escape cannot hold.
fn escape(out: &mut String, c: char) {
    let code = u32::from(c);
    if code < 0x80 {
        write!(out, "\\x{code:02x}")
    } else {
        write!(out, "\\u{{{code:x}}}")
    }
    .expect("writing to a String cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code point below U+3000 (which holds all the controls and every bidi range), and
    /// the bidi controls by name, so a later edit to the ranges cannot drop one unnoticed.
    fn code_points() -> impl Iterator<Item = char> {
        (0..0x3000u32)
            .filter_map(char::from_u32)
            .chain(['\u{61c}', '\u{200e}', '\u{200f}'])
            .chain(('\u{202a}'..='\u{202e}').chain('\u{2066}'..='\u{2069}'))
    }

    /// What the byte scan must agree with: the plain definition, character by character.
    fn reference(s: &str, keep_lines: bool) -> String {
        s.chars()
            .map(|c| {
                if is_unsafe(c) && !(keep_lines && (c == '\n' || c == '\t')) {
                    let code = u32::from(c);
                    if code < 0x80 {
                        format!("\\x{code:02x}")
                    } else {
                        format!("\\u{{{code:x}}}")
                    }
                } else {
                    c.to_string()
                }
            })
            .collect()
    }

    #[test]
    fn the_unsafe_set_is_exactly_the_documented_one() {
        for c in code_points() {
            let code = u32::from(c);
            let expected = code < 0x20
                || (0x7f..=0x9f).contains(&code)
                || [0x61c, 0x200e, 0x200f].contains(&code)
                || (0x202a..=0x202e).contains(&code)
                || (0x2066..=0x2069).contains(&code);
            assert_eq!(is_unsafe(c), expected, "U+{code:04X}");
        }
        // The ones that do the damage, by name.
        for c in [
            '\x1b', '\x07', '\u{9b}', '\u{9d}', '\u{202e}', '\u{2066}', '\r', '\n',
        ] {
            assert!(is_unsafe(c), "{c:?}");
        }
        // Neighbours that are ordinary text.
        for c in [
            ' ', '~', '\u{a0}', 'é', '\u{61b}', '\u{200d}', '\u{2029}', '\u{2070}',
        ] {
            assert!(!is_unsafe(c), "{c:?}");
        }
    }

    #[test]
    fn no_control_character_survives_alone_or_in_company() {
        for c in code_points() {
            for s in [
                c.to_string(),
                format!("a{c}b"),
                format!("{c}{c}é{c}"),
                format!("naïve \u{202e}{c}\x1b[2J"),
            ] {
                let line = sanitize_line(&s);
                assert!(!line.chars().any(is_unsafe), "line {s:?} -> {line:?}");
                assert_eq!(line, reference(&s, false), "{s:?}");
                let text = sanitize_text(&s);
                assert!(
                    !text.chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t'),
                    "text {s:?} -> {text:?}"
                );
                assert_eq!(text, reference(&s, true), "{s:?}");
            }
            // A safe character is never touched.
            if !is_unsafe(c) {
                assert!(
                    matches!(sanitize_line(&c.to_string()), Cow::Borrowed(_)),
                    "{c:?}"
                );
            }
        }
    }

    #[test]
    fn escapes_are_visible_and_name_the_character() {
        assert_eq!(
            sanitize_line("evil\x1b]0;pwned\x07\x1b[2J\x1b[31mred"),
            "evil\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mred"
        );
        assert_eq!(
            sanitize_line("\x1b]52;c;cHduZWQ=\x07"),
            "\\x1b]52;c;cHduZWQ=\\x07"
        );
        assert_eq!(sanitize_line("a\u{9b}2Jb"), "a\\u{9b}2Jb");
        assert_eq!(sanitize_line("\u{9d}0;t\u{9c}"), "\\u{9d}0;t\\u{9c}");
        assert_eq!(
            sanitize_line("file\u{202e}txt.py\u{2066}x\u{2069}"),
            "file\\u{202e}txt.py\\u{2066}x\\u{2069}"
        );
        assert_eq!(sanitize_line("\0\x7f\u{61c}"), "\\x00\\x7f\\u{61c}");
        assert_eq!(sanitize_line("a\nb\r\tc"), "a\\x0ab\\x0d\\x09c");
        assert_eq!(sanitize_text("a\nb\r\tc\n"), "a\nb\\x0d\tc\n");
        assert_eq!(sanitize_text("x = '\x1b[2J'\n"), "x = '\\x1b[2J'\n");
    }

    #[test]
    fn clean_text_is_borrowed() {
        for s in [
            "",
            "clean",
            "sample-runs/runs/02-source-edit/run-1/…-clean-….json",
            "naïve café — ünïcödé ✓ 日本語 \u{a0}\u{2070}\u{2fff}",
            "é\u{61b}\u{200d}\u{2029}",
        ] {
            assert!(matches!(sanitize_line(s), Cow::Borrowed(_)), "{s:?}");
            assert!(matches!(sanitize_text(s), Cow::Borrowed(_)), "{s:?}");
        }
        let multi = "def f():\n\treturn 1\n";
        assert!(matches!(sanitize_text(multi), Cow::Borrowed(_)));
        assert!(matches!(sanitize_line(multi), Cow::Owned(_)));
    }
}
