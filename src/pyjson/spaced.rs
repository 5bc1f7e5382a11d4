//! The quick structural pass over an object written as `json.dumps` spaces it: where it ends,
//! that it is plain JSON and that its keys are in Python's order, without proving it canonical
//! (floats' reprs, ASCII escapes). A record's inputs are usually exactly the text Prefect hashed; then md5 of the
//! text equals the recorded key, which proves it canonical far more cheaply than the check of
//! every token does ([`crate::engine`] does that, and checks the text only when the keys
//! differ).

use super::canonical::{less, string_end, whitespace_end};
use super::float_repr::digits_end;

/// Nesting this pass follows (a bit per open container); deeper text takes the checked way.
const MAX_NESTING: usize = 128;

/// The length of the object at the start of `text` when it is plain JSON written with
/// `json.dumps`' separators and no other whitespace, nested at most `within` deep, every
/// object's keys without escapes and strictly increasing (as `sort_keys` orders them, so
/// [`super::out_of_record_order`] is false for it): then [`super::parse`] reads it. Plain means
/// no `NaN` or `Infinity`, no lone surrogate escape, no control character in a string, numbers
/// in JSON's own grammar. `None` for anything else, which the caller reads the checked way.
pub(crate) fn spaced_object_len(text: &str, within: usize) -> Option<usize> {
    walk::<false>(text, within, &mut String::new())
}

/// [`spaced_object_len`] for an object with any whitespace between its tokens (a record
/// written with `indent=2`, as the recorder writes `.json` files): its tokens as they are, with
/// `json.dumps`' separators and no other whitespace, are written to `out`.
pub(crate) fn respaced_object_len(text: &str, within: usize, out: &mut String) -> Option<usize> {
    walk::<true>(text, within, out)
}

/// The pass itself: with `RESPACE`, any JSON whitespace may come between tokens and the
/// respaced text goes to `out`; without, only `", "` and `": "` are allowed and `out` is unused.
fn walk<const RESPACE: bool>(text: &str, within: usize, out: &mut String) -> Option<usize> {
    let b = text.as_bytes();
    if b.first() != Some(&b'{') {
        return None;
    }
    let ws = |i: usize| if RESPACE { whitespace_end(b, i) } else { i };
    // A key at `i` and its colon: the key's span (between its quotes), where its value starts.
    let key = |i: usize, out: &mut String| -> Option<((usize, usize), usize)> {
        let span = key_span(b, i)?;
        if RESPACE {
            let colon = ws(span.1 + 1);
            if b.get(colon) != Some(&b':') {
                return None;
            }
            out.push_str(&text[i..=span.1]);
            out.push_str(": ");
            Some((span, ws(colon + 1)))
        } else {
            (b.get(span.1 + 1..span.1 + 3) == Some(b": ")).then_some((span, span.1 + 3))
        }
    };
    let within = within.min(MAX_NESTING);
    // Open containers, innermost in the lowest bit: 1 for an object.
    let mut objects: u128 = 0;
    // Per open object, its last key's span.
    let mut last_key = [(0usize, 0usize); MAX_NESTING];
    let mut depth = 0;
    let mut i = 0;
    loop {
        // A value starts at `i`.
        let start = i;
        match *b.get(i)? {
            open @ (b'{' | b'[') => {
                if depth == within {
                    return None;
                }
                let close = if open == b'{' { b'}' } else { b']' };
                let first = ws(i + 1);
                if b.get(first) == Some(&close) {
                    i = first + 1;
                    if RESPACE {
                        out.push_str(if open == b'{' { "{}" } else { "[]" });
                    }
                } else {
                    depth += 1;
                    objects = objects << 1 | u128::from(open == b'{');
                    if RESPACE {
                        out.push(char::from(open));
                    }
                    i = first;
                    if open == b'{' {
                        let (span, next) = key(i, out)?;
                        last_key[depth - 1] = span;
                        i = next;
                    }
                    continue;
                }
            }
            b'"' => i = string_end::<false>(b, i)?,
            b'-' | b'0'..=b'9' => i = number_end(b, i)?,
            b't' if b[i..].starts_with(b"true") => i += 4,
            b'f' if b[i..].starts_with(b"false") => i += 5,
            b'n' if b[i..].starts_with(b"null") => i += 4,
            _ => return None,
        }
        if RESPACE && !matches!(b[start], b'{' | b'[') {
            out.push_str(&text[start..i]);
        }
        // A value ended: the next one in its container, or the containers' ends.
        loop {
            if depth == 0 {
                return Some(i);
            }
            i = ws(i);
            let in_object = objects & 1 == 1;
            match *b.get(i)? {
                b',' => {
                    if RESPACE {
                        out.push_str(", ");
                        i = ws(i + 1);
                    } else if b.get(i + 1) == Some(&b' ') {
                        i += 2;
                    } else {
                        return None;
                    }
                    if in_object {
                        let (span, next) = key(i, out)?;
                        let last = last_key[depth - 1];
                        if !less(&b[last.0..last.1], &b[span.0..span.1]) {
                            return None;
                        }
                        last_key[depth - 1] = span;
                        i = next;
                    } else {
                        i = ws(i);
                    }
                    break;
                }
                b'}' if in_object => {}
                b']' if !in_object => {}
                _ => return None,
            }
            if RESPACE {
                out.push(char::from(b[i]));
            }
            i += 1;
            depth -= 1;
            objects >>= 1;
        }
    }
}

/// A key without escapes at `i` (its opening quote): the span of its characters.
fn key_span(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let end = start + super::plain_run::<false>(&b[start..]);
    (b.get(end) == Some(&b'"')).then_some((start, end))
}

/// The end of the number at `i`, in JSON's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
/// Where 32 bytes follow its sign, from a mask of which are digits (two SSE2 steps): a record's
/// inputs are mostly floats of 16 or 17 digits, whose runs of digits, followed a word at a
/// time, ended in a mispredicted branch each ([`number_end_by_words`] reads the rest).
#[inline]
fn number_end(b: &[u8], i: usize) -> Option<usize> {
    use wide::u8x16;
    let at = i + usize::from(b.get(i) == Some(&b'-'));
    let Some(window) = b.get(at..at + 32) else {
        return number_end_by_words(b, i);
    };
    let digits = |half: &[u8]| {
        let v = u8x16::new(half.try_into().expect("sixteen bytes"));
        (v.max(u8x16::splat(b'0')).simd_eq(v) & v.min(u8x16::splat(b'9')).simd_eq(v)).to_bitmask()
    };
    let d = u64::from(digits(&window[..16]) | digits(&window[16..]) << 16);
    // The length of the run of digits at `k`; None where it reaches the window's end, as it may
    // go on past it (then the words read the number).
    let run = |k: usize| {
        let n = if k < 32 {
            ((!d) >> k).trailing_zeros() as usize
        } else {
            0
        };
        (k + n < 32).then_some(n)
    };
    let within = || -> Option<Option<usize>> {
        let mut k = match window[0] {
            b'0' => 1,
            b'1'..=b'9' => run(0)?,
            _ => return Some(None),
        };
        if window[k] == b'.' {
            let fraction = run(k + 1)?;
            if fraction == 0 {
                return Some(None);
            }
            k += 1 + fraction;
        }
        if let b'e' | b'E' = window[k] {
            k += 1;
            if let Some(b'+' | b'-') = window.get(k) {
                k += 1;
            }
            let exponent = run(k)?;
            if exponent == 0 {
                return Some(None);
            }
            k += exponent;
        }
        Some(Some(at + k))
    };
    within().unwrap_or_else(|| number_end_by_words(b, i))
}

/// [`number_end`] a run of digits eight bytes at a time.
fn number_end_by_words(b: &[u8], mut i: usize) -> Option<usize> {
    if b[i] == b'-' {
        i += 1;
    }
    match *b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits_end(b, i + 1),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let end = digits_end(b, i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits_end(b, i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::{respaced_object_len, spaced_object_len};
    use crate::pyjson::{MAX_DEPTH, canonical_len_within, canonical_respaced_within, parse};

    fn len(text: &str) -> Option<usize> {
        spaced_object_len(text, MAX_DEPTH)
    }

    #[test]
    fn finds_the_end_of_dumps_spaced_objects() {
        for text in [
            "{}",
            r#"{"a": 1}"#,
            r#"{"a": [], "b": {}, "c": [1, 2.5, -0.0, 1e-07, 1E+300, true, false, null]}"#,
            r#"{"s": "caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t", "t": "caf\u00e9"}"#,
            r#"{"a": 1, "aa": 2, "b": {"a": 1, "z": [{"c": 1, "d": 2}]}, "café": 3}"#,
            r#"{"a": 1.50, "b": 01.5e1}"#.replace("01.5e1", "1.5e1").as_str(),
            r#"{"a": {"b": {"c": [[[{"d": "e"}]]]}}}"#,
        ] {
            assert_eq!(len(text), Some(text.len()), "{text}");
            // Followed by the rest of a record, it still ends where the object does.
            let record = format!("{text}, \"policy\": null}}");
            assert_eq!(len(&record), Some(text.len()), "{record}");
            assert!(parse(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn refuses_what_it_does_not_prove_plain() {
        for text in [
            r#"{"a":1}"#,
            r#"{"a" : 1}"#,
            r#"{"a": 1,"b": 2}"#,
            "{\n  \"a\": 1\n}",
            r#"{ "a": 1}"#,
            r#"{"a": NaN}"#,
            r#"{"a": -Infinity}"#,
            r#"{"a": 01}"#,
            r#"{"a": 1.}"#,
            r#"{"a": .5}"#,
            r#"{"a": 1e}"#,
            r#"{"a": +1}"#,
            r#"{"a": "\ud800"}"#,
            r#"{"a": "\udc00\ud800"}"#,
            r#"{"a": "\x"}"#,
            r#"{"a": "\u12"}"#,
            "{\"a\": \"tab\there\"}",
            r#"{"a": [1, 2}"#,
            r#"{"a": {"b": 1]}"#,
            r#"{"a": 1"#,
            r#"{"a": tru}"#,
            r#"{1: 2}"#,
            r#"[1, 2]"#,
            r#"{"a": [1, ]}"#,
            r#"{"z": 1, "a": 2}"#,
            r#"{"a": 1, "a": 2}"#,
            r#"{"a": {"y": 1, "x": 2}}"#,
            r#"{"\u00e9": 1}"#,
            r#"{"a": 1, "b"": 2}"#,
        ] {
            assert_eq!(len(text), None, "{text}");
        }
    }

    /// Numbers are read to where the grammar says, with the window or without, whatever
    /// follows them, and refused where it refuses them.
    #[test]
    fn a_number_ends_where_json_grammar_ends_it() {
        use super::{number_end, number_end_by_words};
        let numbers = [
            "0",
            "-0",
            "7",
            "-12",
            "0.5",
            "-0.5441770474293208",
            "0.54417704742932081234567",
            "6.0680173364083786e+19",
            "1e5",
            "1E-5",
            "2.5e+300",
            "12345678901234567890123456789",
            "1234567890123456789012345678901234567890",
            "0.0000000000000000000000000000001",
            "1.5e0000000000000000000000000000009",
            "-",
            "-x",
            ".5",
            "1.",
            "1.e5",
            "1e",
            "1e+",
            "01",
            "-01.5",
            "00",
            "1.5.5",
            "1e5e5",
            "0x10",
            "9",
        ];
        // Every length about the window's end (32 bytes), with every kind of ending.
        let mut numbers: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
        for digits in 1..=36 {
            for tail in [
                "", ".5", ".55", "e5", "e+55", "E-5", ".", "e", "e+", ".5e", ".5e-7",
            ] {
                for sign in ["", "-"] {
                    numbers.push(format!("{sign}{}{tail}", "1".repeat(digits)));
                    numbers.push(format!("{sign}0.{}{tail}", "2".repeat(digits)));
                }
            }
        }
        let follows = ["", ",", "]", "}", ", 1", " ", "a", "0", ".", "e", "-"];
        for number in &numbers {
            for after in follows {
                for padding in [0, 40] {
                    let text = format!("{number}{after}{}", " ".repeat(padding));
                    let b = text.as_bytes();
                    assert_eq!(number_end(b, 0), number_end_by_words(b, 0), "{text:?}");
                    let shifted = format!("[{text}");
                    let b = shifted.as_bytes();
                    assert_eq!(number_end(b, 1), number_end_by_words(b, 1), "{shifted:?}");
                }
            }
        }
        let end = |text: &str| number_end(format!("{text}{}", " ".repeat(40)).as_bytes(), 0);
        assert_eq!(end("-0.5441770474293208, 1"), Some(19));
        assert_eq!(end("6.0680173364083786e+19}"), Some(22));
        assert_eq!(end("1."), None);
        assert_eq!(end("-"), None);
        assert_eq!(end("01"), Some(1));
    }

    #[test]
    fn stops_at_its_nesting_limit() {
        let nested = |n: usize| format!("{{\"a\": {}1{}}}", "[".repeat(n), "]".repeat(n));
        assert_eq!(spaced_object_len(&nested(3), 4), Some(nested(3).len()));
        assert_eq!(spaced_object_len(&nested(4), 4), None);
        // The object and 127 arrays: 128 containers, as deep as it follows.
        assert_eq!(len(&nested(127)), Some(nested(127).len()));
        assert_eq!(len(&nested(128)), None);
    }

    /// Whatever it accepts, the parser reads, and where the canonical check accepts an object
    /// this pass finds the same end: on canonical texts of random values and on every way of
    /// cutting and corrupting them.
    #[test]
    fn what_it_accepts_parses_and_ends_where_the_check_says() {
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
        let pieces = [
            "1",
            "-0",
            "0.5",
            "1e+300",
            "12345678901234567890",
            "\"a\"",
            "\"\\u00e9\"",
            "\"\\ud83d\\ude00\"",
            "true",
            "null",
            "[]",
            "{}",
            "[1, 2]",
            "{\"k\": 1}",
        ];
        let mut accepted = 0;
        for _ in 0..20_000 {
            let n = (next() % 5) as usize;
            let mut text = String::from("{");
            for k in 0..n {
                if k > 0 {
                    text.push_str(", ");
                }
                let piece = pieces[(next() % pieces.len() as u64) as usize];
                text.push_str(&format!("\"k{}\": {piece}", next() % 7));
            }
            text.push('}');
            // Corrupt one byte half of the time.
            let mut bytes = text.into_bytes();
            if next().is_multiple_of(2) {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] = b"{}[]\",: \\0a-.eE\n"[(next() % 16) as usize];
            }
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            match len(&text) {
                Some(end) => {
                    accepted += 1;
                    assert!(parse(&text[..end]).is_ok(), "{text}");
                    if let Some(check) = canonical_len_within(&text, MAX_DEPTH) {
                        assert_eq!(check, end, "{text}");
                    }
                }
                None => assert!(
                    !text.starts_with('{')
                        || canonical_len_within(&text, MAX_DEPTH).is_none()
                        || text.contains("NaN")
                        || text.contains("Infinity")
                        || text.contains("\\ud"),
                    "refused a canonical object: {text}"
                ),
            }
        }
        assert!(accepted > 5_000, "{accepted}");
    }

    /// With any whitespace between tokens, the respacing pass writes what the checked
    /// respacing writes, and ends where it ends; it refuses what the plain pass refuses.
    #[test]
    fn respacing_writes_the_dumps_spacing() {
        let indented = "{\n  \"a\": [\n    1,\n    2.5\n  ],\n  \"b\": {},\n  \"c\": [],\n  \"d\": {\n    \"e\": \"x, y\"\n  }\n}";
        let mut out = String::new();
        let len = respaced_object_len(indented, MAX_DEPTH, &mut out);
        assert_eq!(len, Some(indented.len()));
        assert_eq!(
            out,
            r#"{"a": [1, 2.5], "b": {}, "c": [], "d": {"e": "x, y"}}"#
        );
        let mut checked = String::new();
        assert_eq!(
            canonical_respaced_within(indented, MAX_DEPTH, &mut checked),
            Some(indented.len())
        );
        assert_eq!(out, checked);
        for text in [
            "{\"a\":1,\"b\":[true,null]}",
            "{ \"a\" : 1 , \"b\" : [ ] }",
            "{\r\n\t\"a\": 1.50}",
        ] {
            let mut out = String::new();
            assert_eq!(
                respaced_object_len(text, MAX_DEPTH, &mut out),
                Some(text.len())
            );
            assert_eq!(parse(&out).unwrap(), parse(text).unwrap(), "{text}");
            assert_eq!(spaced_object_len(&out, MAX_DEPTH), Some(out.len()), "{out}");
        }
        for text in ["{\"b\": 1,\n \"a\": 2}", "{\"a\": NaN}", "{\"a\": [1,]}"] {
            assert_eq!(
                respaced_object_len(text, MAX_DEPTH, &mut String::new()),
                None
            );
        }
    }

    /// On random objects re-spaced at random: what the respacing pass accepts parses to the
    /// same value, in `json.dumps`' spacing; where the checked respacing accepts, both agree.
    #[test]
    fn respacing_agrees_with_the_checked_respacing() {
        let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1d);
        let pieces = [
            "1", "-0.25", "1e+300", "\"a b\"", "true", "null", "[]", "{}", "[1, [2]]",
        ];
        let spaces = ["", " ", "\n  ", "\t", "\r\n"];
        let mut accepted = 0;
        for _ in 0..20_000 {
            let n = (next() % 5) as usize;
            let mut text = String::from("{");
            for k in 0..n {
                let sp = |r: u64| spaces[(r % spaces.len() as u64) as usize];
                if k > 0 {
                    text.push_str(sp(next()));
                    text.push(',');
                }
                text.push_str(sp(next()));
                let piece = pieces[(next() % pieces.len() as u64) as usize];
                text.push_str(&format!("\"k{k}\"{}:{}{piece}", sp(next()), sp(next())));
            }
            text.push_str(spaces[(next() % 5) as usize]);
            text.push('}');
            let mut out = String::new();
            let mut checked = String::new();
            let checked_len = canonical_respaced_within(&text, MAX_DEPTH, &mut checked);
            match respaced_object_len(&text, MAX_DEPTH, &mut out) {
                Some(len) => {
                    accepted += 1;
                    assert_eq!(len, text.len(), "{text}");
                    assert_eq!(parse(&out).unwrap(), parse(&text).unwrap(), "{text}");
                    if checked_len.is_some() {
                        assert_eq!((checked_len, &checked), (Some(len), &out), "{text}");
                    }
                }
                None => assert_eq!(checked_len, None, "{text}"),
            }
        }
        assert!(accepted > 10_000, "{accepted}");
    }
}
