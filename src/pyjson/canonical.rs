//! The canonical check: is a span of record text already, byte for byte, what
//! `json.dumps(value, sort_keys=True)` writes for the value it holds (with the record key-order
//! rule, [`SortKeys::Record`](super::SortKeys::Record))? Then it can be hashed as it is, with no
//! value built and nothing written again.
//!
//! The check is conservative: it answers yes only for text it is sure of, and anything unusual
//! (keys with escapes, keys out of plain string order, a `{"__cachescope_repr__": ...}`
//! placeholder, invalid JSON) answers no, so the caller parses and writes as before. It
//! allocates nothing but its stack of open containers.

use super::float_repr::{digits_end, float_end};
use super::parse::MAX_DEPTH;

/// The length of the canonical JSON value at the start of `text`, or `None` when what starts
/// there is not canonical (or not JSON).
pub fn canonical_len(text: &str) -> Option<usize> {
    canonical_len_within(text, MAX_DEPTH)
}

/// [`canonical_len`] for a value nested in `MAX_DEPTH - depth` open containers: deeper than the
/// parser accepts is not canonical, so the parser reports it as it would anyway.
pub fn canonical_len_within(text: &str, depth: usize) -> Option<usize> {
    let (source, text) = (text, text.as_bytes());
    // Per open container: for objects, the previous key's span and the number of keys.
    let mut stack: Vec<Open> = Vec::new();
    let mut i = 0;
    loop {
        // A value starts at `i`.
        match *text.get(i)? {
            b'{' => {
                if text.get(i + 1) == Some(&b'}') {
                    i += 2;
                } else {
                    if stack.len() >= depth {
                        return None;
                    }
                    let key = key_at(text, i + 1)?;
                    i = key.1 + 3;
                    stack.push(Open::Object { last: key, keys: 1 });
                    continue;
                }
            }
            b'[' => {
                if text.get(i + 1) == Some(&b']') {
                    i += 2;
                } else {
                    if stack.len() >= depth {
                        return None;
                    }
                    stack.push(Open::Array);
                    i += 1;
                    continue;
                }
            }
            b'"' => i = string_end::<true>(text, i)?,
            b'-' | b'0'..=b'9' => i = number_end(source, i)?,
            b't' => i = word_end(text, i, b"true")?,
            b'f' => i = word_end(text, i, b"false")?,
            b'n' => i = word_end(text, i, b"null")?,
            b'N' => i = word_end(text, i, b"NaN")?,
            b'I' => i = word_end(text, i, b"Infinity")?,
            _ => return None,
        }
        // A value ended at `i`: go on with the container it is in, closing containers for as
        // long as their closing bracket follows.
        loop {
            let Some(open) = stack.last_mut() else {
                return Some(i);
            };
            let separator = text.get(i..i + 2) == Some(b", ");
            match open {
                Open::Array => {
                    if separator {
                        i += 2;
                        break;
                    }
                    if text.get(i) != Some(&b']') {
                        return None;
                    }
                    i += 1;
                    stack.pop();
                }
                Open::Object { last, keys } => {
                    if separator {
                        let key = key_at(text, i + 2)?;
                        // Strictly increasing plain ASCII keys: string order, no repeats.
                        if !less(&text[last.0..last.1], &text[key.0..key.1]) {
                            return None;
                        }
                        *last = key;
                        *keys += 1;
                        i = key.1 + 3;
                        break;
                    }
                    if text.get(i) != Some(&b'}') {
                        return None;
                    }
                    // A lone `__cachescope_repr__` key is the placeholder for a value JSON
                    // could not encode: the key then came from cloudpickle.
                    if *keys == 1 && &text[last.0..last.1] == b"__cachescope_repr__" {
                        return None;
                    }
                    i += 1;
                    stack.pop();
                }
            }
        }
    }
}

/// [`canonical_len_within`] for text that may have other whitespace between its tokens than
/// `json.dumps` writes (a record written with `indent=2`, as the recorder writes `.json` files,
/// or with compact separators): every token must be as `json.dumps(sort_keys=True)` writes it,
/// and the canonical text, with its `", "` and `": "`, is written to `out`. Returns how much of
/// `text` the value took. Nothing but whitespace changes, so the text hashes as the value does,
/// with no value built.
pub fn canonical_respaced_within(text: &str, depth: usize, out: &mut String) -> Option<usize> {
    let (source, text) = (text, text.as_bytes());
    let ws = |i: usize| whitespace_end(text, i);
    // A key at `at` (a string with no escapes), then whitespace and a colon: its span between
    // the quotes, and where its value may start.
    let key = |at: usize| -> Option<((usize, usize), usize)> {
        if text.get(at) != Some(&b'"') {
            return None;
        }
        let start = at + 1;
        let end = start + plain_run::<true>(&text[start..]);
        if text.get(end) != Some(&b'"') {
            return None;
        }
        let colon = ws(end + 1);
        (text.get(colon) == Some(&b':')).then_some(((start, end), colon + 1))
    };
    let mut stack: Vec<Open> = Vec::new();
    let mut i = 0;
    loop {
        // A value starts at `i`, after any whitespace.
        i = ws(i);
        match *text.get(i)? {
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                let first = ws(i + 1);
                if text.get(first) == Some(&close) {
                    out.push_str(if open == b'{' { "{}" } else { "[]" });
                    i = first + 1;
                } else {
                    if stack.len() >= depth {
                        return None;
                    }
                    if open == b'{' {
                        let (span, next) = key(first)?;
                        out.push('{');
                        out.push_str(&source[span.0 - 1..=span.1]);
                        out.push_str(": ");
                        stack.push(Open::Object {
                            last: span,
                            keys: 1,
                        });
                        i = next;
                    } else {
                        out.push('[');
                        stack.push(Open::Array);
                        i = first;
                    }
                    continue;
                }
            }
            b'"' => {
                let end = string_end::<true>(text, i)?;
                out.push_str(&source[i..end]);
                i = end;
            }
            b'-' | b'0'..=b'9' => {
                let end = number_end(source, i)?;
                out.push_str(&source[i..end]);
                i = end;
            }
            b't' | b'f' | b'n' | b'N' | b'I' => {
                let word: &[u8] = match text[i] {
                    b't' => b"true",
                    b'f' => b"false",
                    b'n' => b"null",
                    b'N' => b"NaN",
                    _ => b"Infinity",
                };
                let end = word_end(text, i, word)?;
                out.push_str(&source[i..end]);
                i = end;
            }
            _ => return None,
        }
        // A value ended at `i`: a separator goes on with its container, a closing bracket
        // ends it.
        loop {
            let Some(open) = stack.last_mut() else {
                return Some(i);
            };
            i = ws(i);
            let next = text.get(i).copied();
            match open {
                Open::Array => match next {
                    Some(b',') => {
                        out.push_str(", ");
                        i += 1;
                        break;
                    }
                    Some(b']') => {
                        out.push(']');
                        i += 1;
                        stack.pop();
                    }
                    _ => return None,
                },
                Open::Object { last, keys } => match next {
                    Some(b',') => {
                        let (span, after) = key(ws(i + 1))?;
                        // Strictly increasing plain ASCII keys: string order, no repeats.
                        if !less(&text[last.0..last.1], &text[span.0..span.1]) {
                            return None;
                        }
                        out.push_str(", ");
                        out.push_str(&source[span.0 - 1..=span.1]);
                        out.push_str(": ");
                        *last = span;
                        *keys += 1;
                        i = after;
                        break;
                    }
                    Some(b'}') => {
                        // The placeholder for a value JSON could not encode (see above).
                        if *keys == 1 && &text[last.0..last.1] == b"__cachescope_repr__" {
                            return None;
                        }
                        out.push('}');
                        i += 1;
                        stack.pop();
                    }
                    _ => return None,
                },
            }
        }
    }
}

enum Open {
    Array,
    /// `last` is the span of the last key's characters, between its quotes.
    Object {
        last: (usize, usize),
        keys: usize,
    },
}

/// `a < b`, byte by byte: keys are short, a loop beats a call to `memcmp`. For keys without
/// escapes this is the order of Python's strings (UTF-8's byte order is its code points').
#[inline]
pub(super) fn less(a: &[u8], b: &[u8]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x < y;
        }
    }
    a.len() < b.len()
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each zero byte of `w` (none set below the first: a set bit above it may be
/// a borrow's, which is all a search for the first needs).
#[inline]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGH
}

/// How many bytes at the start of `bytes` are not stops, eight at a time: `stops` marks the
/// stops of an eight-byte word (the high bit of each, exactly up to the first), `stop` tells
/// one byte, for the last few.
#[inline(always)]
fn run_until(bytes: &[u8], stops: impl Fn(u64) -> u64, stop: impl Fn(u8) -> bool) -> usize {
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let found = stops(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && !stop(bytes[i]) {
        i += 1;
    }
    i
}

/// Where the JSON whitespace (space, tab, line end, carriage return) at `i` ends. A line end
/// is usually followed by an indentation, taken eight spaces at a time: a record written with
/// `indent=2` indents its inputs' lines by eight to twelve spaces, and the byte loop was 5% of
/// `keys`' instructions on such records.
#[inline]
pub(crate) fn whitespace_end(b: &[u8], mut i: usize) -> usize {
    loop {
        match b.get(i) {
            Some(b' ' | b'\t' | b'\r') => i += 1,
            Some(b'\n') => {
                i += 1;
                while let Some(chunk) = b.get(i..i + 8) {
                    let other = u64::from_le_bytes(chunk.try_into().expect("eight bytes"))
                        ^ 0x2020_2020_2020_2020;
                    if other != 0 {
                        i += (other.trailing_zeros() / 8) as usize;
                        break;
                    }
                    i += 8;
                }
            }
            _ => return i,
        }
    }
}

/// How many bytes at the start of `bytes` a JSON string holds as they are, eight at a time
/// while all eight are: anything but a control, `"` and `\`; with `PRINTABLE_ASCII`, only
/// printable ASCII (what `ensure_ascii=True` writes unescaped), as the canonical check needs.
/// The fast loading lane scans its strings with it too.
///
/// Sixteen bytes at a time first (SSE2, every x86-64): a record's strings are short, and most
/// take one step (callgrind: the eight-byte steps were 7% of `keys`' instructions).
#[inline]
pub(crate) fn plain_run<const PRINTABLE_ASCII: bool>(bytes: &[u8]) -> usize {
    use wide::u8x16;
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 16) {
        let v = u8x16::new(chunk.try_into().expect("sixteen bytes"));
        let mut special = v.min(u8x16::splat(0x1f)).simd_eq(v)
            | v.simd_eq(u8x16::splat(b'"'))
            | v.simd_eq(u8x16::splat(b'\\'));
        if PRINTABLE_ASCII {
            special |= v.max(u8x16::splat(0x7f)).simd_eq(v);
        }
        let found = special.to_bitmask();
        if found != 0 {
            return i + found.trailing_zeros() as usize;
        }
        i += 16;
    }
    i + plain_run_swar::<PRINTABLE_ASCII>(&bytes[i..])
}

/// [`plain_run`] eight bytes at a time, for the last fifteen.
#[inline]
fn plain_run_swar<const PRINTABLE_ASCII: bool>(bytes: &[u8]) -> usize {
    run_until(
        bytes,
        |w| {
            // Below 0x20, a quote, a backslash; and 0x7f or above where only ASCII is plain.
            let control = w.wrapping_sub(0x20 * ONES) & !w & HIGH;
            let special = control | zero_bytes(w ^ (0x22 * ONES)) | zero_bytes(w ^ (0x5c * ONES));
            if PRINTABLE_ASCII {
                special | (w & HIGH) | zero_bytes(w ^ (0x7f * ONES))
            } else {
                special
            }
        },
        |b| b < 0x20 || b == b'"' || b == b'\\' || (PRINTABLE_ASCII && b >= 0x7f),
    )
}

/// A key at `at` followed by `": "`: the span of its characters, between the quotes. Keys with
/// escapes are not compared here (their order needs decoding): they are not canonical.
fn key_at(text: &[u8], at: usize) -> Option<(usize, usize)> {
    if text.get(at) != Some(&b'"') {
        return None;
    }
    let start = at + 1;
    let end = start + plain_run::<true>(&text[start..]);
    (text.get(end) == Some(&b'"') && text.get(end + 1..end + 3) == Some(b": "))
        .then_some((start, end))
}

/// The end of a string at `at`. With `CANONICAL`, written as `ensure_ascii=True` writes it;
/// without, any JSON string the parser reads but one with a lone surrogate escape (raw
/// non-ASCII, `\/`, upper-case hex, escapes Python would not write).
pub(crate) fn string_end<const CANONICAL: bool>(text: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        i += plain_run::<CANONICAL>(&text[i..]);
        match *text.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => {
                i += 1;
                match *text.get(i)? {
                    b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f' => i += 1,
                    b'/' if !CANONICAL => i += 1,
                    b'u' => {
                        let unit = hex4::<CANONICAL>(text, i + 1)?;
                        i += 5;
                        match unit {
                            // Written with their short escapes, or as themselves.
                            0x08 | 0x09 | 0x0a | 0x0c | 0x0d | 0x20..=0x7e if CANONICAL => {
                                return None;
                            }
                            0xd800..=0xdbff => {
                                // Only a low surrogate right after completes the pair.
                                if text.get(i..i + 2) != Some(b"\\u") {
                                    return None;
                                }
                                if !(0xdc00..=0xdfff).contains(&hex4::<CANONICAL>(text, i + 2)?) {
                                    return None;
                                }
                                i += 6;
                            }
                            0xdc00..=0xdfff => return None,
                            _ => {}
                        }
                    }
                    _ => return None,
                }
            }
            // Raw controls are invalid; raw non-ASCII is not what ensure_ascii writes (and
            // plain_run stops at nothing else).
            _ => return None,
        }
    }
}

/// Four hex digits at `at`; with `LOWER`, lower-case only, as Python writes `\u` escapes. The
/// fast loading lane reads its `\u` escapes with it too.
#[inline]
pub(crate) fn hex4<const LOWER: bool>(text: &[u8], at: usize) -> Option<u32> {
    /// Per byte: its digit value; `UPPER` set on `A`-`F`, `NOT_HEX` on every other byte.
    const UPPER: u8 = 0x10;
    const NOT_HEX: u8 = 0x80;
    const VALUES: [u8; 256] = {
        let mut table = [NOT_HEX; 256];
        let mut i = 0;
        while i < 10 {
            table[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            table[b'a' as usize + i] = 10 + i as u8;
            table[b'A' as usize + i] = UPPER | (10 + i as u8);
            i += 1;
        }
        table
    };
    let digits: [u8; 4] = text.get(at..at + 4)?.try_into().ok()?;
    let [a, b, c, d] = digits.map(|byte| VALUES[usize::from(byte)]);
    let refused = if LOWER { NOT_HEX | UPPER } else { NOT_HEX };
    if (a | b | c | d) & refused != 0 {
        return None;
    }
    let unit = |v: u8| u32::from(v & 0xf);
    Some(unit(a) << 12 | unit(b) << 8 | unit(c) << 4 | unit(d))
}

fn word_end(text: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    text[at..].starts_with(word).then_some(at + word.len())
}

/// The end of a number at `at` that is written as Python writes it: an int without leading
/// zeros (and never `-0`), or a float as its `repr`.
fn number_end(source: &str, at: usize) -> Option<usize> {
    let text = source.as_bytes();
    let mut int_start = at;
    if text[at] == b'-' {
        int_start += 1;
        if text.get(int_start) == Some(&b'I') {
            return word_end(text, at, b"-Infinity");
        }
    }
    let int_end = match text.get(int_start) {
        Some(b'0') => int_start + 1,
        Some(b'1'..=b'9') => digits_end(text, int_start),
        _ => return None,
    };
    match text.get(int_end) {
        Some(b'.' | b'e' | b'E') => float_end(text, at, int_end),
        // `0` follows nothing but a structural character; `-0` reads back as `0`.
        _ if text[int_start] == b'0' && int_start > at => None,
        _ => Some(int_end),
    }
}

/// The entries of a canonical object's text (one [`canonical_len`] accepted), in order: each
/// key as written (canonical keys have no escapes) and the entry's whole text, `"key": value`.
/// Leaving entries out of a canonical object keeps it canonical, which is how `Inputs` with
/// `exclude` hashes canonical inputs without building them.
pub fn canonical_entries(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let bytes = text.as_bytes();
    // Past the `{`; an empty object has no entries.
    let mut i = if text == "{}" { bytes.len() } else { 1 };
    std::iter::from_fn(move || {
        if i + 1 >= bytes.len() {
            return None;
        }
        let start = i;
        let key_end = start + 1 + memchr::memchr(b'"', &bytes[start + 1..])?;
        // The value starts after `": `; walk to the `, ` or `}` that ends it at depth 0,
        // stepping over strings and the bytes between structural ones eight at a time, and
        // over an array or object value to its end 64 bytes at a time (a record's inputs are
        // dense in tokens: the walk stopped every few bytes in them).
        let mut j = key_end + 3;
        let mut depth = 0usize;
        loop {
            j += structure_run(&bytes[j..]);
            if depth == 0
                && matches!(bytes[j], b'[' | b'{')
                && let Some(len) = super::object_end::container_end(&bytes[j..])
            {
                j += len;
                continue;
            }
            match bytes[j] {
                b'"' => {
                    j += 1;
                    loop {
                        j += plain_run::<false>(&bytes[j..]);
                        match bytes[j] {
                            b'"' => break,
                            b'\\' => j += 2,
                            // A raw control: not in text the walks accept, stepped over all the same.
                            _ => j += 1,
                        }
                    }
                }
                b'[' | b'{' => depth += 1,
                b']' | b'}' if depth > 0 => depth -= 1,
                b'}' => break,
                b',' if depth == 0 => break,
                _ => {}
            }
            j += 1;
        }
        i = j + 2;
        Some((&text[start + 1..key_end], &text[start..j]))
    })
}

/// How many bytes at the start of `bytes` (text outside strings) are none of `"`, `,` and the
/// brackets, eight at a time: numbers, words, spaces and colons.
#[inline]
fn structure_run(bytes: &[u8]) -> usize {
    run_until(
        bytes,
        |w| {
            // With 0x20 set, `[` is `{` and `]` is `}`; only control bytes, which text outside
            // strings does not hold, would also turn into `,` or `"`, and they stop the run too.
            let low = w | (0x20 * ONES);
            zero_bytes(low ^ (u64::from(b'{') * ONES))
                | zero_bytes(low ^ (u64::from(b'}') * ONES))
                | zero_bytes(low ^ (u64::from(b',') * ONES))
                | zero_bytes(low ^ (u64::from(b'"') * ONES))
        },
        |b| matches!(b | 0x20, b'{' | b'}' | b',' | b'"'),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn whitespace_ends_where_the_byte_loop_ends() {
        let mut next = crate::test_rng::xorshift(0x3c6e_f372_fe94_f82b);
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            // Mostly spaces and line ends, as indented text is, with a token or two.
            let text: Vec<u8> = (0..len)
                .map(|_| match next() % 16 {
                    0..=8 => b' ',
                    9..=10 => b'\n',
                    11 => b'\t',
                    12 => b'\r',
                    13 => b'x',
                    14 => 0xa0,
                    _ => b'"',
                })
                .collect();
            for start in 0..=text.len() {
                let mut end = start;
                while let Some(b' ' | b'\t' | b'\n' | b'\r') = text.get(end) {
                    end += 1;
                }
                assert_eq!(
                    super::whitespace_end(&text, start),
                    end,
                    "{text:?} at {start}"
                );
            }
        }
    }

    use super::canonical_len;
    use crate::pyjson::{SortKeys, dumps, parse};
    use crate::record::holds_placeholder;

    /// The check never says yes where writing the parsed value would give other text.
    fn agrees(text: &str) -> bool {
        let got = canonical_len(text) == Some(text.len());
        if got {
            let value = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!(!holds_placeholder(&value), "{text}");
            assert_eq!(dumps(&value, SortKeys::Record).unwrap(), text);
        }
        got
    }

    #[test]
    fn a_plain_run_ends_at_the_first_byte_a_string_cannot_hold_as_it_is() {
        use super::plain_run;
        fn ends<const PRINTABLE_ASCII: bool>(bytes: &[u8]) -> usize {
            bytes
                .iter()
                .position(|&b| {
                    b < 0x20 || b == b'"' || b == b'\\' || (PRINTABLE_ASCII && b >= 0x7f)
                })
                .unwrap_or(bytes.len())
        }
        let mut next = crate::test_rng::xorshift(0x6a09_e667_f3bc_c909);
        let mut pick = |from: &[u8]| from[(next() % from.len() as u64) as usize];
        let stops = [0u8, 0x1f, b'"', b'\\', 0x7f, 0x80, 0xff];
        let fine = [0x20u8, b'!', b'a', 0x7e, 0x5b, 0x5d, 0x21, 0x23];
        for len in 0..80 {
            for stop_at in 0..=len {
                let mut bytes: Vec<u8> = (0..len).map(|_| pick(&fine)).collect();
                if stop_at < len {
                    bytes[stop_at] = pick(&stops);
                }
                assert_eq!(plain_run::<true>(&bytes), ends::<true>(&bytes), "{bytes:?}");
                assert_eq!(
                    plain_run::<false>(&bytes),
                    ends::<false>(&bytes),
                    "{bytes:?}"
                );
            }
        }
        for b in 0..=255u8 {
            for at in [0, 7, 15, 16, 31] {
                let mut bytes = vec![b'a'; 40];
                bytes[at] = b;
                assert_eq!(
                    plain_run::<true>(&bytes),
                    ends::<true>(&bytes),
                    "{b:#x} at {at}"
                );
                assert_eq!(
                    plain_run::<false>(&bytes),
                    ends::<false>(&bytes),
                    "{b:#x} at {at}"
                );
            }
        }
    }

    #[test]
    fn what_python_writes_is_canonical() {
        for text in [
            r#"{"a": 1, "b": [1.5, -2, 0, 1e+16, 1e-05, NaN, -Infinity, Infinity, -0.0]}"#,
            r#"{"rows": [{"id": 3, "ok": true, "x": null}, {}], "t": "caf\u00e9 \ud83d\ude00 \"q\" \\ \n\t\u0000\u007f"}"#,
            r#"[[], {}, "", [[{"a": {"b": []}}]]]"#,
            r#"{"": 0, "A": 1, "a": 2}"#,
            "12345678901234567890123",
            r#"{"x": 0.1, "y": 100.0, "z": 1.2345678901234568e+17}"#,
        ] {
            assert!(agrees(text), "{text}");
        }
    }

    #[test]
    fn anything_else_is_not() {
        for text in [
            r#"{"a":1}"#,
            r#"{"a": 1,"b": 2}"#,
            "{\n \"a\": 1\n}",
            r#"{"b": 1, "a": 2}"#,
            r#"{"a": 1, "a": 2}"#,
            r#"{"2": 1, "10": 2}"#,
            r#"{"\u00e9": 1}"#,
            r#"{"__cachescope_repr__": "<lambda>"}"#,
            r#"[{"__cachescope_repr__": "<lambda>"}]"#,
            r#""caf""#.trim_end_matches('"'),
            "\"caf\u{e9}\"",
            r#""\u0041""#,
            r#""\u00E9""#,
            r#""\/""#,
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\n\u000a""#,
            "1.50",
            "1E+16",
            "1e16",
            "-0",
            "01",
            "1.0e400",
            "[1, 2",
            "[1 , 2]",
            "nul",
            "-Inf",
        ] {
            assert!(!agrees(text), "{text}");
        }
        // A placeholder among other keys is an ordinary dict.
        assert!(agrees(r#"{"__cachescope_repr__": 1, "b": 2}"#));
    }

    /// `canonical_respaced_within` of all of `text`, when it takes all of it.
    fn respaced(text: &str) -> Option<String> {
        let mut out = String::new();
        let len = super::canonical_respaced_within(text, crate::pyjson::MAX_DEPTH, &mut out)?;
        (text[len..].trim().is_empty()).then_some(out)
    }

    /// `text` (canonical, compact) laid out as `json.dumps(indent=2)` lays it out: a line per
    /// element and entry, `,` at the ends of lines, empty containers left as they are.
    fn indented(text: &str) -> String {
        let mut out = String::new();
        let mut depth = 0;
        let mut in_string = false;
        let mut chars = text.chars().peekable();
        let newline = |out: &mut String, depth: usize| {
            out.push('\n');
            out.push_str(&"  ".repeat(depth));
        };
        while let Some(c) = chars.next() {
            if in_string {
                out.push(c);
                if c == '\\' {
                    out.extend(chars.next());
                } else if c == '"' {
                    in_string = false;
                }
                continue;
            }
            match c {
                '"' => {
                    in_string = true;
                    out.push(c);
                }
                '[' | '{' if !matches!(chars.peek(), Some(']' | '}')) => {
                    out.push(c);
                    depth += 1;
                    newline(&mut out, depth);
                }
                ']' | '}' if !out.ends_with(['[', '{']) => {
                    depth -= 1;
                    newline(&mut out, depth);
                    out.push(c);
                }
                ',' => {
                    out.push(',');
                    chars.next(); // the space after it
                    newline(&mut out, depth);
                }
                _ => out.push(c),
            }
        }
        out
    }

    /// Whitespace between tokens is taken out again: indented as the recorder writes `.json`
    /// files, compact with `(",", ":")`, or spaced at random, canonical tokens give back the
    /// canonical text; one token that is not canonical refuses it all.
    #[test]
    fn other_whitespace_between_canonical_tokens_is_respaced() {
        let canonical = [
            r#"{"a": 1, "b": [1.5, -2, 0, 1e+16, 1e-05, NaN, -Infinity, Infinity, -0.0]}"#,
            r#"{"rows": [{"id": 3, "ok": true, "x": null}, {}], "t": "caf\u00e9 \ud83d\ude00 \"q\" \\ \n\t"}"#,
            r#"[[], {}, "", [[{"a": {"b": []}}]]]"#,
            r#"{"": 0, "A": 1, "a": 2}"#,
            r#"{"a, b": "x: y", "c": ["[", "]", "{", "}", ","]}"#,
            "12345678901234567890123",
            r#"{"x": 0.1, "y": 100.0, "z": 1.2345678901234568e+17}"#,
        ];
        for text in canonical {
            assert!(agrees(text), "{text}");
            assert_eq!(respaced(text).as_deref(), Some(text));
            let pretty = indented(text);
            assert_eq!(respaced(&pretty).as_deref(), Some(text), "{pretty}");
            let tight = text.replace(", \"", ",\"").replace("\": ", "\":");
            assert_eq!(respaced(&tight).as_deref(), Some(text), "{tight}");
            let loose = pretty.replace('\n', "\r\n\t ").replace("\": ", "\" :\n ");
            assert_eq!(respaced(&loose).as_deref(), Some(text), "{loose}");
        }
        assert_eq!(
            respaced("{\n  \"a\": [\n  ]\n}").as_deref(),
            Some(r#"{"a": []}"#)
        );
        for text in [
            "{\n  \"a\": 1.50\n}",
            "{\n  \"b\": 1,\n  \"a\": 2\n}",
            "{\n  \"a\": 1,\n  \"a\": 2\n}",
            "[\n  1,\n  2,\n]",
            "[1 2]",
            "{\"a\" 1}",
            "{\n  \"\\u00e9\": 1\n}",
            "{\n  \"__cachescope_repr__\": \"<lambda>\"\n}",
            "[\n  \"caf\u{e9}\"\n]",
            "[\n  -0\n]",
        ] {
            assert_eq!(respaced(text), None, "{text}");
        }
    }

    #[test]
    fn the_span_ends_where_the_value_ends() {
        let text = r#"{"a": [1, 2]}, "key": null}"#;
        assert_eq!(canonical_len(text), Some(13));
        assert_eq!(canonical_len("1.5}"), Some(3));
        assert_eq!(canonical_len("-Infinity, 2"), Some(9));
    }

    #[test]
    fn random_values_written_by_the_writer_are_canonical() {
        // Whatever the writer produces from a parsed value with plain keys is canonical, and
        // whatever is canonical is what the writer produces: both ways, over many values.
        let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1d);
        let mut yes = 0;
        for _ in 0..3000 {
            let mut text = String::new();
            random_json(&mut next, 0, &mut text);
            let Ok(value) = parse(&text) else { continue };
            let written = dumps(&value, SortKeys::Record).unwrap();
            if agrees(&written) {
                yes += 1;
            }
            agrees(&text);
        }
        assert!(yes > 1000, "{yes}");
    }

    #[test]
    fn four_hex_digits_are_read_as_the_parser_reads_them() {
        // Every byte in every place, against a digit-by-digit reading.
        fn reference(text: &[u8], lower: bool) -> Option<u32> {
            text.iter().try_fold(0u32, |acc, &b| {
                let d = match b {
                    b'0'..=b'9' => b - b'0',
                    b'a'..=b'f' => b - b'a' + 10,
                    b'A'..=b'F' if !lower => b - b'A' + 10,
                    _ => return None,
                };
                Some(acc * 16 + u32::from(d))
            })
        }
        for place in 0..4 {
            for byte in 0..=255u8 {
                let mut text = *b"x9aF0";
                text[1 + place] = byte;
                assert_eq!(super::hex4::<true>(&text, 1), reference(&text[1..], true));
                assert_eq!(super::hex4::<false>(&text, 1), reference(&text[1..], false));
            }
        }
        assert_eq!(super::hex4::<false>(b"\\u12", 2), None);
    }

    #[test]
    fn canonical_entries_split_random_objects_where_python_would() {
        // Objects of random values, strings full of the bytes the split steps over, with
        // every length around its eight-byte steps: the entries, joined, are the object, and
        // their keys are the parsed object's, in order.
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut checked = 0;
        for _ in 0..3000 {
            let mut text = String::from("{");
            let keys = next() % 5;
            for k in 0..keys {
                if k > 0 {
                    text.push_str(", ");
                }
                text.push_str(&format!("\"k{k}\": "));
                if next().is_multiple_of(3) {
                    let chars = ['[', ']', '{', '}', ',', '"', '\\', ' ', ':', 'x', '\u{e9}'];
                    let s: String = (0..next() % 20)
                        .map(|_| chars[(next() % chars.len() as u64) as usize])
                        .collect();
                    text.push_str(&serde_json::to_string(&s).unwrap());
                } else {
                    random_json(&mut next, 1, &mut text);
                }
            }
            text.push('}');
            let accepted = canonical_len(&text) == Some(text.len())
                || super::super::spaced_object_len(&text, crate::pyjson::MAX_DEPTH)
                    == Some(text.len());
            if !accepted {
                continue;
            }
            checked += 1;
            let entries: Vec<(&str, &str)> = super::canonical_entries(&text).collect();
            let joined: Vec<&str> = entries.iter().map(|(_, e)| *e).collect();
            assert_eq!(format!("{{{}}}", joined.join(", ")), text);
            let names: Vec<String> = (0..keys).map(|k| format!("k{k}")).collect();
            let got: Vec<String> = entries.iter().map(|(k, _)| k.to_string()).collect();
            assert_eq!(got, names, "{text}");
        }
        assert!(checked > 1000, "{checked}");
    }

    fn random_json(next: &mut impl FnMut() -> u64, depth: usize, out: &mut String) {
        let pick = next() % if depth > 3 { 6 } else { 8 };
        match pick {
            0 => out.push_str(["null", "true", "false", "NaN", "-Infinity"][(next() % 5) as usize]),
            1 => out.push_str(&(next() as i64 >> (next() % 60)).to_string()),
            2 => out.push_str(&format!("{:e}", f64::from_bits(next()) % 1e30)),
            3 => out.push_str(&format!("{}", (next() % 100_000) as f64 / 64.0)),
            4 | 5 => {
                let chars = [
                    'a',
                    'b',
                    '\u{e9}',
                    '"',
                    '\\',
                    '\n',
                    '\u{1F600}',
                    '\u{7f}',
                    ' ',
                ];
                let s: String = (0..next() % 6)
                    .map(|_| chars[(next() % chars.len() as u64) as usize])
                    .collect();
                out.push_str(&serde_json::to_string(&s).unwrap());
            }
            6 => {
                out.push('[');
                for i in 0..next() % 4 {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    random_json(next, depth + 1, out);
                }
                out.push(']');
            }
            _ => {
                out.push('{');
                let keys = ["a", "b", "c", "__cachescope_repr__", "10", "2", "k\u{e9}"];
                for i in 0..next() % 4 {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let key = keys[(next() % keys.len() as u64) as usize];
                    out.push_str(&serde_json::to_string(key).unwrap());
                    out.push_str(": ");
                    random_json(next, depth + 1, out);
                }
                out.push('}');
            }
        }
    }

    #[test]
    fn canonical_entries_split_an_object_where_python_would() {
        for text in [
            r#"{"a": 1, "b": [1, {"c": "}, \"x\""}], "d": {"e": [], "f": {}}, "g": "a, b"}"#,
            r#"{"only": "v"}"#,
            "{}",
        ] {
            assert_eq!(canonical_len(text), Some(text.len()), "{text}");
            let entries: Vec<(&str, &str)> = super::canonical_entries(text).collect();
            let joined: Vec<&str> = entries.iter().map(|(_, e)| *e).collect();
            assert_eq!(format!("{{{}}}", joined.join(", ")), text);
            let value = parse(text).unwrap();
            let names: Vec<String> = value
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, _)| match k {
                    crate::pyjson::Key::Str(s) => s.clone(),
                    _ => unreachable!(),
                })
                .collect();
            assert_eq!(
                entries
                    .iter()
                    .map(|(k, _)| k.to_string())
                    .collect::<Vec<_>>(),
                names
            );
        }
    }
}
