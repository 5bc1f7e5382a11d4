//! Where a JSON object on one line ends, found 64 bytes at a time: strings (with their escapes)
//! and the nesting of brackets are followed, nothing else is read. It proves nothing about the
//! object, not even that it is JSON: the fast loading lane uses it for a record's inputs, whose
//! md5 then proves them to be the text Prefect hashed (the recorded key), and which are read the
//! checked way when it does not ([`crate::record_fast::read_deferred`]).
//!
//! The bytes of a block are classified side by side (`wide`'s SIMD lanes, SSE2 on every
//! x86-64), as simdjson does: quotes not escaped by an odd run of backslashes open and close
//! strings, and brackets outside strings nest.

use wide::u8x16;

const BLOCK: usize = 64;

/// The bits of a block's bytes that are `byte`s.
struct Masks {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
}

fn classify(block: &[u8; BLOCK]) -> Masks {
    let mut masks = Masks {
        quote: 0,
        backslash: 0,
        open: 0,
        close: 0,
    };
    let bit = |v: u8x16, byte: u8| u64::from(v.simd_eq(u8x16::splat(byte)).to_bitmask());
    for (k, lane) in block.chunks_exact(16).enumerate() {
        let v = u8x16::new(lane.try_into().expect("16 bytes"));
        // `[` and `{` differ in one bit (0x20), as do `]` and `}`; no other byte becomes them.
        let folded = v | u8x16::splat(0x20);
        let shift = 16 * k;
        masks.quote |= bit(v, b'"') << shift;
        masks.backslash |= bit(v, b'\\') << shift;
        masks.open |= bit(folded, b'{') << shift;
        masks.close |= bit(folded, b'}') << shift;
    }
    masks
}

/// The bits of the characters escaped by a backslash (the one after an odd run of them),
/// carrying an escape across blocks in `carry` (simdjson's method).
fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    let backslash = backslash & !*carry;
    let follows = (backslash << 1) | *carry;
    let odd_starts = backslash & !EVEN & !follows;
    let (even_starts, overflow) = odd_starts.overflowing_add(backslash);
    *carry = u64::from(overflow);
    let invert = even_starts << 1;
    (EVEN ^ invert) & follows
}

/// Each bit set where an odd number of `bits` are at or below it.
fn prefix_xor(mut bits: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        bits ^= bits << shift;
    }
    bits
}

/// The length of the object at the start of `b` (its `{` first): up to the `}` that closes it,
/// outside strings. `None` when `b` does not start with `{` followed by no whitespace (as
/// `json.dumps` writes an object on one line; not `indent=2`, which the caller reads its own
/// way), or ends before the object does.
pub fn object_end(b: &[u8]) -> Option<usize> {
    if matches!(b.get(1), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        return None;
    }
    object_end_spaced(b)
}

/// [`object_end`] of an object written with any whitespace (`indent=2` too): where it ends is
/// all that is wanted of it, as when a record is only skimmed for its policy
/// ([`crate::record_fast::read_skim`]).
pub fn object_end_spaced(b: &[u8]) -> Option<usize> {
    if b.first() != Some(&b'{') {
        return None;
    }
    container_end(b)
}

/// The length of the array or object at the start of `b` (the caller has seen its `[` or `{`):
/// up to the bracket that closes it, outside strings. `None` where `b` ends first.
pub(crate) fn container_end(b: &[u8]) -> Option<usize> {
    let mut depth: u64 = 0;
    let mut in_string: u64 = 0;
    let mut escape: u64 = 0;
    let mut start = 0;
    let mut last = [0u8; BLOCK];
    while start < b.len() {
        let block: &[u8; BLOCK] = match b.get(start..start + BLOCK) {
            Some(block) => block.try_into().expect("a block"),
            None => {
                // The last few bytes, padded with zeros (no byte it looks for).
                let rest = &b[start..];
                last[..rest.len()].copy_from_slice(rest);
                &last
            }
        };
        let m = classify(block);
        let escaped = escaped(m.backslash, &mut escape);
        let quotes = m.quote & !escaped;
        let strings = prefix_xor(quotes) ^ in_string;
        in_string = ((strings as i64) >> 63) as u64;
        let opens = m.open & !strings & !escaped;
        let closes = m.close & !strings & !escaped;
        let shut = closes.count_ones() as u64;
        if depth > shut {
            // The object cannot close in this block.
            depth = depth + opens.count_ones() as u64 - shut;
        } else {
            let mut brackets = opens | closes;
            while brackets != 0 {
                let at = brackets.trailing_zeros();
                brackets &= brackets - 1;
                if opens >> at & 1 == 1 {
                    depth += 1;
                } else {
                    depth -= 1;
                    if depth == 0 {
                        return Some(start + at as usize + 1);
                    }
                }
            }
        }
        start += BLOCK;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{container_end, object_end};

    /// The object's end the slow way: byte by byte.
    fn reference(b: &[u8]) -> Option<usize> {
        if b.first() != Some(&b'{') || matches!(b.get(1), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            return None;
        }
        bracket_end(b)
    }

    /// Where the bracket at the start of `b` is closed, byte by byte.
    fn bracket_end(b: &[u8]) -> Option<usize> {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for (i, &c) in b.iter().enumerate() {
            // A backslash escapes the next byte, in a string or not (out of one, the text is
            // not JSON and the finder's answer is only its own).
            if escaped {
                escaped = false;
                continue;
            }
            if c == b'\\' {
                escaped = true;
                continue;
            }
            if in_string {
                in_string = c != b'"';
                continue;
            }
            match c {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        }
        None
    }

    #[test]
    fn ends_where_the_outer_object_closes() {
        let cases: &[(&str, Option<usize>)] = &[
            ("{}", Some(2)),
            ("{} tail", Some(2)),
            (r#"{"a": [1, {"b": "}]"}], "c": "\\"}, "x""#, Some(34)),
            (r#"{"a": "\"}"}, 1"#, Some(12)),
            (r#"{"a": "\\\\"}}"#, Some(13)),
            ("{\"a\": 1", None),
            ("[1]", None),
            ("", None),
            ("{\"a\":\n1}", Some(8)),
            ("{\n  \"a\": 1\n}", None),
            ("{ }", None),
            ("{\"a\": 1}\n", Some(8)),
        ];
        for &(text, end) in cases {
            assert_eq!(object_end(text.as_bytes()), end, "{text}");
            assert_eq!(reference(text.as_bytes()), end, "{text}");
        }
    }

    /// Random texts of the bytes that matter, across blocks' edges: the block-wise finder
    /// agrees with the byte-wise one on every one.
    #[test]
    fn agrees_with_a_byte_by_byte_reading_on_random_text() {
        let alphabet = b"{}[]\"\\\\ab,:\n 0";
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut ended = 0;
        for _ in 0..20_000 {
            let len = (next() % 300) as usize;
            let mut text = vec![b'{'];
            // Mostly letters, so that objects close and strings span blocks.
            for _ in 0..len {
                let r = next();
                text.push(if r % 4 == 0 {
                    alphabet[(r >> 8) as usize % alphabet.len()]
                } else {
                    b'a'
                });
            }
            let want = reference(&text);
            ended += usize::from(want.is_some());
            assert_eq!(
                object_end(&text),
                want,
                "{:?}",
                String::from_utf8_lossy(&text)
            );
            // An array's end (or an object's with any whitespace) is found the same way.
            text[0] = b'[';
            assert_eq!(
                container_end(&text),
                bracket_end(&text),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
        assert!(ended > 1_000, "too few texts closed their object: {ended}");
    }

    /// Long runs of backslashes across a block's edge: each escapes the next, so a quote after
    /// an even run closes the string and after an odd one does not.
    #[test]
    fn backslash_runs_across_blocks_escape_pairwise() {
        for before in 0..70 {
            for run in 0..6 {
                let mut text = String::from("{\"");
                text.push_str(&"a".repeat(before));
                text.push_str(&"\\".repeat(run));
                text.push_str("\"}\"}");
                let b = text.as_bytes();
                assert_eq!(object_end(b), reference(b), "{text}");
                let want = if run % 2 == 0 { b.len() - 2 } else { b.len() };
                assert_eq!(object_end(b), Some(want), "{text}");
            }
        }
    }
}
