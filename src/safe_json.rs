//! JSON that is safe to `cat` to a terminal: the one way every JSON output of cachescope is
//! written (`keys --json`, `explain --json`, `check --json`, `watch` lines).
//!
//! serde_json escapes only what JSON requires, `"`, `\` and the C0 controls. A record's strings
//! can carry the other characters [`crate::sanitize::is_unsafe`] names (DEL, the C1 controls
//! with the 8-bit CSI U+009B, the bidi controls that reorder what is shown), and U+2028 and
//! U+2029, which end a line for JavaScript and for some viewers; raw in the output, a terminal
//! acts on them. Written as `\uXXXX` escapes they are the very same JSON value, so every reader
//! (serde_json, Python's `json.loads`, jq) gets identical strings.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

use crate::sanitize::{first_candidate, is_unsafe};

/// Whether the JSON writer escapes `c` beyond what JSON requires.
pub fn escaped(c: char) -> bool {
    is_unsafe(c) || c == '\u{2028}' || c == '\u{2029}'
}

/// serde_json's compact format, with every [`escaped`] character written as `\uXXXX`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminalSafe;

impl Formatter for TerminalSafe {
    /// serde_json hands over the runs of a string (object keys included) that need no escape
    /// by its rules; the characters it leaves raw that a terminal would act on are escaped
    /// here. Every one is in the Basic Multilingual Plane, so one `\uXXXX` is the character.
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Nearly all text is ASCII without DEL: checked a word at a time, and written as it is.
        if fragment.is_ascii() && memchr::memchr(0x7f, fragment.as_bytes()).is_none() {
            return writer.write_all(fragment.as_bytes());
        }
        let mut rest = fragment;
        while let Some(i) = first_candidate(rest, escaped) {
            writer.write_all(&rest.as_bytes()[..i])?;
            let c = rest[i..]
                .chars()
                .next()
                .expect("a candidate is a character");
            write!(writer, "\\u{:04x}", u32::from(c))?;
            rest = &rest[i + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }
}

/// Writes `value` as compact JSON with [`TerminalSafe`] escapes.
pub fn to_writer<W: io::Write, T: ?Sized + Serialize>(
    writer: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(writer, TerminalSafe);
    value.serialize(&mut serializer)
}

/// `value` as compact JSON with [`TerminalSafe`] escapes.
pub fn to_string<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    to_writer(&mut out, value)?;
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// Appends `text` as a JSON string, exactly as [`to_writer`] writes it. Most strings a line
/// carries (paths, names, hex keys) are printable ASCII with no quote or backslash: those are
/// found eight bytes at a time and copied between quotes; any other goes through serde_json.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    if crate::pyjson::plain_run::<true>(text.as_bytes()) == text.len() {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        to_writer(&mut *out, text).expect("a string always serializes");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Every character the writer escapes beyond JSON's rules, by name, so that a later edit
    /// to the ranges cannot drop one unnoticed.
    fn hostile() -> Vec<char> {
        let mut chars: Vec<char> = ('\u{80}'..='\u{9f}').collect();
        chars.extend([
            '\u{7f}', '\u{61c}', '\u{200e}', '\u{200f}', '\u{2028}', '\u{2029}',
        ]);
        chars.extend('\u{202a}'..='\u{202e}');
        chars.extend('\u{2066}'..='\u{2069}');
        chars
    }

    #[test]
    fn the_escaped_set_is_the_unsafe_one_and_the_line_separators() {
        for code in 0..0x3000u32 {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            assert_eq!(
                escaped(c),
                is_unsafe(c) || code == 0x2028 || code == 0x2029,
                "U+{code:04X}"
            );
        }
        for c in hostile() {
            assert!(escaped(c), "{c:?}");
        }
    }

    #[test]
    fn hostile_characters_are_escaped_and_read_back_the_same() {
        let all: String = hostile().into_iter().collect();
        let value = json!({
            format!("key{all}"): [format!("a{all}b"), "\u{1b}]0;t\u{7}", "café ✓ 日本 \u{a0}\u{200d}\u{1f600}"],
            "plain": "nothing to escape",
        });
        let text = to_string(&value).unwrap();
        assert!(
            !text.chars().any(|c| escaped(c) || c.is_control()),
            "{text:?}"
        );
        assert!(text.contains(r"\u009b"), "{text}");
        assert!(text.contains(r"\u202e\u2066"), "{text}");
        assert!(text.contains(r"\u2028\u2029"), "{text}");
        // Ordinary text, astral characters included, is left as it is.
        assert!(
            text.contains("café ✓ 日本 \u{a0}\u{200d}\u{1f600}"),
            "{text}"
        );
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
        // The string writer's shortcut writes what serde_json does, for every character.
        let mut strings: Vec<String> = (0..0x3000u32)
            .filter_map(char::from_u32)
            .map(|c| format!("ab{c}cdefghij"))
            .collect();
        strings.extend(
            [
                "",
                "plain",
                "12345678",
                "1234567\\",
                "\"quoted\"",
                "\u{1b}[31m",
            ]
            .map(String::from),
        );
        for text in strings {
            let mut ours = Vec::new();
            write_str(&mut ours, &text);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                to_string(&text).unwrap(),
                "{text:?}"
            );
        }
        // Only strings change: the rest is serde_json's compact output, byte for byte.
        let plain = json!({"a": [1, 2.5, null, true, {"b": "c"}], "d": "é"});
        assert_eq!(to_string(&plain).unwrap(), plain.to_string());
    }
}
