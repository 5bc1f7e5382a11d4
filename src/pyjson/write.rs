//! The writer: `json.dumps(value, sort_keys=...)` with Python's default separators and escapes.
//!
//! Output is byte-identical to CPython's C encoder with the defaults Prefect uses
//! (`ensure_ascii=True`, `allow_nan=True`, separators `", "` and `": "`). With
//! [`SortKeys::Python`] each dict is ordered as `sorted(dct.items())` orders it, by the keys'
//! original Python values; a dict whose keys Python cannot compare makes the whole dump fail,
//! as `json.dumps` raises `TypeError` and Prefect then falls back to cloudpickle.
//!
//! The writer walks the value with an explicit stack, so nesting depth is bounded by memory,
//! not by the thread's stack.

use std::cmp::Ordering;

use super::float_repr::write_float_json;
use super::value::{Key, Value};

/// Where the writer's text goes: a `String`, or straight into a hasher
/// ([`crate::hash::Md5Out`]), so hashing needs no intermediate text.
pub trait JsonOut {
    fn push_str(&mut self, s: &str);

    fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }
}

impl JsonOut for String {
    #[inline]
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }

    #[inline]
    fn push(&mut self, c: char) {
        String::push(self, c);
    }
}

/// How object keys are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKeys {
    /// Keep the stored order (for display: the value as the record holds it).
    Preserve,
    /// Sort as `sort_keys=True` does, by the keys' original Python values.
    Python,
    /// The record reader's rule (run-record-v1, "Encoded values"): string keys hold the text
    /// `json.dumps` made of the original keys, so their order is kept when Python could have
    /// produced it (string order, or numeric order for keys that are numbers as Python writes
    /// them: int keys arrive as strings in numeric order), and any other order is sorted as
    /// Python sorts string keys. Records edited by hand or written by other tools hash as the
    /// values Python would have had.
    Record,
}

/// Why `json.dumps` would raise, which makes Prefect fall back to cloudpickle.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DumpError {
    #[error("dict keys cannot be sorted: {0}")]
    Unsortable(String),
}

/// `json.dumps(value, sort_keys=...)`.
pub fn dumps(value: &Value, sort: SortKeys) -> Result<String, DumpError> {
    let mut out = String::new();
    write_value(value, sort, &mut out)?;
    Ok(out)
}

/// A container being written: what is left of it.
enum Frame<'a> {
    Array {
        items: &'a [Value],
        next: usize,
    },
    Object {
        entries: &'a [(Key, Value)],
        /// The order to write the entries in; `None` for the stored order.
        order: Option<Vec<usize>>,
        next: usize,
    },
}

/// Appends the JSON text of `value` to `out`.
///
/// On error `out` holds a partial text; callers that keep `out` should truncate it.
pub fn write_value(value: &Value, sort: SortKeys, out: &mut impl JsonOut) -> Result<(), DumpError> {
    let mut stack: Vec<Frame<'_>> = Vec::new();
    begin(value, sort, out, &mut stack)?;
    while let Some(frame) = stack.last_mut() {
        match frame {
            Frame::Array { items, next } => {
                let Some(item) = items.get(*next) else {
                    out.push(']');
                    stack.pop();
                    continue;
                };
                if *next > 0 {
                    out.push_str(", ");
                }
                *next += 1;
                begin(item, sort, out, &mut stack)?;
            }
            Frame::Object {
                entries,
                order,
                next,
            } => {
                if *next == entries.len() {
                    out.push('}');
                    stack.pop();
                    continue;
                }
                if *next > 0 {
                    out.push_str(", ");
                }
                let index = order.as_ref().map_or(*next, |order| order[*next]);
                *next += 1;
                let (key, item) = &entries[index];
                write_key(key, out);
                out.push_str(": ");
                begin(item, sort, out, &mut stack)?;
            }
        }
    }
    Ok(())
}

/// Writes a scalar, or opens a container and pushes it for the loop in [`write_value`].
fn begin<'a>(
    value: &'a Value,
    sort: SortKeys,
    out: &mut impl JsonOut,
    stack: &mut Vec<Frame<'a>>,
) -> Result<(), DumpError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(text) => out.push_str(text),
        // The stored text is not trusted even when present: Python writes `repr(float(text))`,
        // and recomputing it is the only way to be sure a hand-written "1.50" comes out "1.5".
        Value::Float(float) => write_float_json(float.value, out),
        Value::Str(s) => write_str(s, out),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push('[');
            stack.push(Frame::Array { items, next: 0 });
        }
        Value::Object(entries) if entries.is_empty() => out.push_str("{}"),
        Value::Object(entries) => {
            let order = match sort {
                SortKeys::Preserve => None,
                SortKeys::Python => python_order(entries)?,
                SortKeys::Record => record_order(entries)?,
            };
            out.push('{');
            stack.push(Frame::Object {
                entries,
                order,
                next: 0,
            });
        }
    }
    Ok(())
}

/// Writes a key as the string `json.dumps` turns it into.
pub fn write_key(key: &Key, out: &mut impl JsonOut) {
    match key {
        Key::Str(s) => write_str(s, out),
        // None of these texts needs escaping.
        Key::Int(text) => {
            out.push('"');
            out.push_str(text);
            out.push('"');
        }
        Key::Float(value) => {
            out.push('"');
            write_float_json(*value, out);
            out.push('"');
        }
        Key::Bool(true) => out.push_str("\"true\""),
        Key::Bool(false) => out.push_str("\"false\""),
        Key::Null => out.push_str("\"null\""),
    }
}

/// Appends a JSON string literal, escaped as with `ensure_ascii=True`.
pub fn write_str(s: &str, out: &mut impl JsonOut) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    fn push_u16_escape(unit: u32, out: &mut impl JsonOut) {
        let mut text = *b"\\u0000";
        for (i, shift) in [12, 8, 4, 0].into_iter().enumerate() {
            text[2 + i] = HEX[((unit >> shift) & 0xf) as usize];
        }
        out.push_str(std::str::from_utf8(&text).expect("ASCII"));
    }

    out.push('"');
    let bytes = s.as_bytes();
    // Runs of printable ASCII, found eight bytes at a time, are copied in one go; everything
    // else is escaped one char at a time. Slicing at `start`/`i` is safe: both always sit on
    // char boundaries.
    let mut start = 0;
    let mut i = 0;
    loop {
        i += super::plain_run::<true>(&bytes[i..]);
        let Some(&b) = bytes.get(i) else { break };
        out.push_str(&s[start..i]);
        if b < 0x80 {
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                0x08 => out.push_str("\\b"),
                0x0c => out.push_str("\\f"),
                _ => push_u16_escape(u32::from(b), out),
            }
            i += 1;
        } else {
            let c = s[i..].chars().next().expect("i is on a char boundary");
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                push_u16_escape(u32::from(*unit), out);
            }
            i += c.len_utf8();
        }
        start = i;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The order `sorted(dct.items())` gives, as indices into `entries`; `None` when the stored
/// order already is that order.
///
/// Distinct keys of a Python dict never compare equal, so tuple comparison of the items reduces
/// to comparing keys (the values are never looked at).
fn python_order(entries: &[(Key, Value)]) -> Result<Option<Vec<usize>>, DumpError> {
    if entries.len() < 2 {
        return Ok(None);
    }
    let first = KeyClass::of(&entries[0].0);
    if let Some((other, _)) = entries.iter().find(|(k, _)| KeyClass::of(k) != first) {
        // Python's sort would have to compare a key of one class with a key of the other at
        // some point (every adjacent pair of the result is compared), and `<` raises there.
        return Err(DumpError::Unsortable(format!(
            "a dict mixes {} and {} keys, which Python cannot compare",
            type_name(&entries[0].0),
            type_name(other)
        )));
    }
    match first {
        KeyClass::Null => Err(DumpError::Unsortable(
            "a dict has a None key besides other keys; None cannot be compared".to_string(),
        )),
        KeyClass::Str => {
            let key = |i: usize| match &entries[i].0 {
                Key::Str(s) => s.as_str(),
                _ => unreachable!("all keys are strings"),
            };
            // Records loaded from disk are already sorted: check before paying for a sort.
            // Rust's byte order on UTF-8 is code point order, which is Python's str order.
            if (1..entries.len()).all(|i| key(i - 1) < key(i)) {
                return Ok(None);
            }
            let mut order: Vec<usize> = (0..entries.len()).collect();
            order.sort_by(|&a, &b| key(a).cmp(key(b)));
            Ok(Some(order))
        }
        KeyClass::Number => {
            let nums: Vec<Num<'_>> = entries.iter().map(|(k, _)| Num::of(k)).collect();
            if nums
                .iter()
                .any(|n| matches!(n, Num::Float(f) if f.is_nan()))
            {
                // With NaN, `<` is not an order and the result depends on exactly which
                // comparisons the sort makes: replay CPython's list.sort.
                let order = listsort::sort(nums.len(), |a, b| nums[a].lt(&nums[b]));
                return Ok(Some(order));
            }
            if (1..nums.len()).all(|i| nums[i - 1].cmp(&nums[i]) == Ordering::Less) {
                return Ok(None);
            }
            // Without NaN the keys are totally ordered and distinct, so any sort agrees with
            // Python's.
            let mut order: Vec<usize> = (0..nums.len()).collect();
            order.sort_by(|&a, &b| nums[a].cmp(&nums[b]));
            Ok(Some(order))
        }
    }
}

/// The order [`SortKeys::Record`] writes an object in, as indices into `entries`; `None` when
/// the stored order is kept.
fn record_order(entries: &[(Key, Value)]) -> Result<Option<Vec<usize>>, DumpError> {
    if entries.iter().all(|(k, _)| matches!(k, Key::Str(_))) {
        Ok(record_str_order(entries.len(), |i| match &entries[i].0 {
            Key::Str(s) => s.as_str(),
            _ => unreachable!("all keys are strings"),
        }))
    } else {
        // Keys built in Rust keep their Python type: sort them as Python would.
        python_order(entries)
    }
}

/// The record reader's rule for `n` string keys: `None` when their order is one Python could
/// have produced (string order, or numeric order when every key is a number as `json.dumps`
/// writes a number key), else the string order.
pub fn record_str_order<'a>(n: usize, key: impl Fn(usize) -> &'a str) -> Option<Vec<usize>> {
    if n < 2 || (1..n).all(|i| key(i - 1) < key(i)) {
        return None;
    }
    let numbers: Option<Vec<Num<'a>>> = (0..n).map(|i| number_key(key(i))).collect();
    if let Some(numbers) = numbers {
        // With a NaN key Python's own order is whatever its sort left; trust the record's.
        let has_nan = numbers
            .iter()
            .any(|n| matches!(n, Num::Float(f) if f.is_nan()));
        if has_nan || (1..n).all(|i| numbers[i - 1].lt(&numbers[i])) {
            return None;
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| key(a).cmp(key(b)));
    Some(order)
}

/// Whether any object in `value` is stored in an order [`SortKeys::Record`] changes: the
/// record's text is then not what Python hashed, though its key still is.
pub fn out_of_record_order(value: &Value) -> bool {
    let mut pending = vec![value];
    while let Some(v) = pending.pop() {
        match v {
            Value::Array(items) => pending.extend(items),
            Value::Object(entries) => {
                if matches!(record_order(entries), Ok(Some(_))) {
                    return true;
                }
                pending.extend(entries.iter().map(|(_, v)| v));
            }
            _ => {}
        }
    }
    false
}

/// A string key read back as the number `json.dumps` wrote it from: an int (`"10"`,
/// `"-3"`), a float's repr (`"1.5"`, `"1e+16"`, `"Infinity"`, `"NaN"`) or a bool (`"true"`).
/// Any other text was a string key in Python.
fn number_key(text: &str) -> Option<Num<'_>> {
    match text {
        "true" => return Some(Num::Int("1")),
        "false" => return Some(Num::Int("0")),
        "NaN" => return Some(Num::Float(f64::NAN)),
        "Infinity" => return Some(Num::Float(f64::INFINITY)),
        "-Infinity" => return Some(Num::Float(f64::NEG_INFINITY)),
        _ => {}
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // Python writes ints without leading zeros and never as "-0".
        let canonical = (digits == "0" && digits.len() == text.len()) || !digits.starts_with('0');
        return canonical.then_some(Num::Int(text));
    }
    // A float key is written as its repr: only that exact text counts.
    let value: f64 = text.parse().ok()?;
    let mut repr = String::new();
    write_float_json(value, &mut repr);
    (repr == text).then_some(Num::Float(value))
}

/// Which keys Python can compare with each other with `<`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyClass {
    Str,
    /// bool, int and float all compare numerically with each other.
    Number,
    /// None compares with nothing (not even None, but a dict holds only one).
    Null,
}

impl KeyClass {
    fn of(key: &Key) -> KeyClass {
        match key {
            Key::Str(_) => KeyClass::Str,
            Key::Int(_) | Key::Float(_) | Key::Bool(_) => KeyClass::Number,
            Key::Null => KeyClass::Null,
        }
    }
}

fn type_name(key: &Key) -> &'static str {
    match key {
        Key::Str(_) => "str",
        Key::Int(_) => "int",
        Key::Float(_) => "float",
        Key::Bool(_) => "bool",
        Key::Null => "NoneType",
    }
}

/// A numeric key as Python compares it: bools are the ints 0 and 1.
#[derive(Debug, Clone, Copy)]
enum Num<'a> {
    /// Decimal text of an int.
    Int(&'a str),
    Float(f64),
}

impl<'a> Num<'a> {
    fn of(key: &'a Key) -> Num<'a> {
        match key {
            Key::Int(text) => Num::Int(text),
            Key::Bool(b) => Num::Int(if *b { "1" } else { "0" }),
            Key::Float(f) => Num::Float(*f),
            Key::Str(_) | Key::Null => unreachable!("only numeric keys are compared numerically"),
        }
    }

    /// Python's `self < other`: exact, and false whenever NaN is involved.
    fn lt(&self, other: &Num<'_>) -> bool {
        self.partial_cmp(other) == Some(Ordering::Less)
    }

    /// Exact comparison; `None` when either side is NaN.
    fn partial_cmp(&self, other: &Num<'_>) -> Option<Ordering> {
        match (*self, *other) {
            (Num::Int(a), Num::Int(b)) => Some(cmp_ints(a, b)),
            (Num::Float(a), Num::Float(b)) => a.partial_cmp(&b),
            (Num::Int(a), Num::Float(b)) => cmp_int_float(a, b),
            (Num::Float(a), Num::Int(b)) => cmp_int_float(b, a).map(Ordering::reverse),
        }
    }

    /// Total comparison for keys known not to be NaN.
    fn cmp(&self, other: &Num<'_>) -> Ordering {
        self.partial_cmp(other)
            .expect("NaN keys are sorted by the list.sort replay")
    }
}

/// Splits decimal int text into (negative, magnitude without leading zeros). Zero is
/// `(false, "")`, so "-0" and "0" are the same number.
fn split_int(text: &str) -> (bool, &str) {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let digits = digits.trim_start_matches('0');
    (negative && !digits.is_empty(), digits)
}

/// Compares two non-negative magnitudes given as digit strings without leading zeros.
fn cmp_magnitudes(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn cmp_ints(a: &str, b: &str) -> Ordering {
    let (a_neg, a_mag) = split_int(a);
    let (b_neg, b_mag) = split_int(b);
    match (a_neg, b_neg) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => cmp_magnitudes(a_mag, b_mag),
        (true, true) => cmp_magnitudes(b_mag, a_mag),
    }
}

/// Compares an int with a float exactly, as Python does (no rounding of the int to a float).
/// `None` when the float is NaN.
fn cmp_int_float(int: &str, float: f64) -> Option<Ordering> {
    if float.is_nan() {
        return None;
    }
    if float.is_infinite() {
        return Some(if float > 0.0 {
            Ordering::Less
        } else {
            Ordering::Greater
        });
    }
    let (negative, magnitude) = split_int(int);
    // Up to 15 digits the int is exactly representable as an f64, so f64 comparison is exact.
    if magnitude.len() <= 15 {
        let mut value = magnitude
            .bytes()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')) as f64;
        if negative {
            value = -value;
        }
        return value.partial_cmp(&float);
    }
    // |int| >= 10**15: compare signs, then |int| with the integer part of |float| written out
    // exactly (Rust prints the exact decimal expansion at a given precision), then let a
    // fractional part of the float break a tie.
    if negative != (float < 0.0) {
        return Some(if negative {
            Ordering::Less
        } else {
            Ordering::Greater
        });
    }
    let whole = float.abs().trunc();
    let whole_text = format!("{whole:.0}");
    let mut magnitude_order = cmp_magnitudes(magnitude, whole_text.trim_start_matches('0'));
    if magnitude_order == Ordering::Equal && float.abs() > whole {
        magnitude_order = Ordering::Less;
    }
    Some(if negative {
        magnitude_order.reverse()
    } else {
        magnitude_order
    })
}

/// A replay of CPython 3.11/3.12's `list.sort` (timsort with the powersort merge policy),
/// making the same `<` calls in the same order, so that lists whose `<` is not a consistent
/// order (float NaN keys) end up in exactly the order Python leaves them in.
///
/// Only the sequence of comparisons and moves matters, so the list is a list of indices and
/// `lt(a, b)` answers Python's `items[a] < items[b]`. CPython 3.13 changed how natural runs are
/// found (equal-looking neighbours extend descending runs), and 3.10 and older chose merges by
/// the older stack invariants; with NaN keys those versions can order differently.
mod listsort {
    /// After this many consecutive wins of one run, merging switches to galloping.
    const MIN_GALLOP: usize = 7;
    /// Lists shorter than this are sorted by binary insertion alone.
    const MAX_MINRUN: usize = 64;

    struct Run {
        base: usize,
        len: usize,
        power: u32,
    }

    struct State<F> {
        list: Vec<usize>,
        tmp: Vec<usize>,
        runs: Vec<Run>,
        min_gallop: usize,
        lt: F,
    }

    /// The permutation of `0..n` that Python's `list.sort` leaves a list of `n` items in.
    pub(super) fn sort<F: FnMut(usize, usize) -> bool>(n: usize, lt: F) -> Vec<usize> {
        let mut st = State {
            list: (0..n).collect(),
            tmp: Vec::new(),
            runs: Vec::new(),
            min_gallop: MIN_GALLOP,
            lt,
        };
        if n < 2 {
            return st.list;
        }
        let minrun = compute_minrun(n);
        let mut lo = 0;
        let mut remaining = n;
        while remaining > 0 {
            let (mut run, descending) = st.count_run(lo, lo + remaining);
            if descending {
                st.list[lo..lo + run].reverse();
            }
            if run < minrun {
                let force = remaining.min(minrun);
                st.binary_sort(lo, lo + force, lo + run);
                run = force;
            }
            st.found_new_run(run, n);
            st.runs.push(Run {
                base: lo,
                len: run,
                power: 0,
            });
            lo += run;
            remaining -= run;
        }
        st.force_collapse();
        st.list
    }

    fn compute_minrun(mut n: usize) -> usize {
        let mut r = 0;
        while n >= MAX_MINRUN {
            r |= n & 1;
            n >>= 1;
        }
        n + r
    }

    /// The depth of the boundary between two adjacent runs in powersort's merge tree.
    fn power(s1: usize, n1: usize, n2: usize, n: usize) -> u32 {
        // Twice the runs' midpoints, so everything stays an integer.
        let mut a = 2 * s1 + n1;
        let mut b = a + n1 + n2;
        let mut result = 0;
        loop {
            result += 1;
            if a >= n {
                a -= n;
                b -= n;
            } else if b >= n {
                break;
            }
            a <<= 1;
            b <<= 1;
        }
        result
    }

    /// Where `key` goes in `a`: after every element `< key`, searching out from `hint`.
    fn gallop_left<F: FnMut(usize, usize) -> bool>(
        lt: &mut F,
        key: usize,
        a: &[usize],
        hint: usize,
    ) -> usize {
        let n = a.len() as isize;
        let hint = hint as isize;
        let at = |i: isize| a[i as usize];
        let mut lastofs: isize = 0;
        let mut ofs: isize = 1;
        if lt(at(hint), key) {
            let maxofs = n - hint;
            while ofs < maxofs {
                if lt(at(hint + ofs), key) {
                    lastofs = ofs;
                    ofs = (ofs << 1) + 1;
                } else {
                    break;
                }
            }
            ofs = ofs.min(maxofs);
            lastofs += hint;
            ofs += hint;
        } else {
            let maxofs = hint + 1;
            while ofs < maxofs {
                if lt(at(hint - ofs), key) {
                    break;
                }
                lastofs = ofs;
                ofs = (ofs << 1) + 1;
            }
            ofs = ofs.min(maxofs);
            (lastofs, ofs) = (hint - ofs, hint - lastofs);
        }
        lastofs += 1;
        while lastofs < ofs {
            let m = lastofs + ((ofs - lastofs) >> 1);
            if lt(at(m), key) {
                lastofs = m + 1;
            } else {
                ofs = m;
            }
        }
        ofs as usize
    }

    /// Where `key` goes in `a`: after every element not `> key`, searching out from `hint`.
    fn gallop_right<F: FnMut(usize, usize) -> bool>(
        lt: &mut F,
        key: usize,
        a: &[usize],
        hint: usize,
    ) -> usize {
        let n = a.len() as isize;
        let hint = hint as isize;
        let at = |i: isize| a[i as usize];
        let mut lastofs: isize = 0;
        let mut ofs: isize = 1;
        if lt(key, at(hint)) {
            let maxofs = hint + 1;
            while ofs < maxofs {
                if lt(key, at(hint - ofs)) {
                    lastofs = ofs;
                    ofs = (ofs << 1) + 1;
                } else {
                    break;
                }
            }
            ofs = ofs.min(maxofs);
            (lastofs, ofs) = (hint - ofs, hint - lastofs);
        } else {
            let maxofs = n - hint;
            while ofs < maxofs {
                if lt(key, at(hint + ofs)) {
                    break;
                }
                lastofs = ofs;
                ofs = (ofs << 1) + 1;
            }
            ofs = ofs.min(maxofs);
            lastofs += hint;
            ofs += hint;
        }
        lastofs += 1;
        while lastofs < ofs {
            let m = lastofs + ((ofs - lastofs) >> 1);
            if lt(key, at(m)) {
                ofs = m;
            } else {
                lastofs = m + 1;
            }
        }
        ofs as usize
    }

    /// How a merge loop ended.
    enum Exit {
        /// Done, except that what is left of the run in `tmp` goes back into the list.
        Succeed,
        /// One element of the run in `tmp` is left and it belongs at the far end.
        CopyOther,
    }

    impl<F: FnMut(usize, usize) -> bool> State<F> {
        /// The natural run at `lo`: ascending (non-descending) or strictly descending.
        fn count_run(&mut self, lo: usize, hi: usize) -> (usize, bool) {
            if lo + 1 == hi {
                return (1, false);
            }
            let list = &self.list;
            let mut n = 2;
            if (self.lt)(list[lo + 1], list[lo]) {
                for i in lo + 2..hi {
                    if !(self.lt)(list[i], list[i - 1]) {
                        break;
                    }
                    n += 1;
                }
                (n, true)
            } else {
                for i in lo + 2..hi {
                    if (self.lt)(list[i], list[i - 1]) {
                        break;
                    }
                    n += 1;
                }
                (n, false)
            }
        }

        /// Binary insertion of `list[start..hi]` into the sorted `list[lo..start]`.
        fn binary_sort(&mut self, lo: usize, hi: usize, start: usize) {
            for s in start..hi {
                let pivot = self.list[s];
                let (mut l, mut r) = (lo, s);
                while l < r {
                    let p = l + ((r - l) >> 1);
                    if (self.lt)(pivot, self.list[p]) {
                        r = p;
                    } else {
                        l = p + 1;
                    }
                }
                self.list.copy_within(l..s, l + 1);
                self.list[l] = pivot;
            }
        }

        fn found_new_run(&mut self, n2: usize, n: usize) {
            let Some(top) = self.runs.last() else {
                return;
            };
            let power = power(top.base, top.len, n2, n);
            while self.runs.len() > 1 && self.runs[self.runs.len() - 2].power > power {
                self.merge_at(self.runs.len() - 2);
            }
            self.runs.last_mut().expect("a run is pending").power = power;
        }

        fn force_collapse(&mut self) {
            while self.runs.len() > 1 {
                let mut i = self.runs.len() - 2;
                if i > 0 && self.runs[i - 1].len < self.runs[i + 1].len {
                    i -= 1;
                }
                self.merge_at(i);
            }
        }

        /// Merges pending runs `i` and `i + 1`.
        fn merge_at(&mut self, i: usize) {
            let (mut base_a, mut na) = (self.runs[i].base, self.runs[i].len);
            let (base_b, nb) = (self.runs[i + 1].base, self.runs[i + 1].len);
            self.runs[i].len = na + nb;
            self.runs.remove(i + 1);

            // Elements of A before where B's first goes, and of B after where A's last goes,
            // are already in place.
            let k = gallop_right(
                &mut self.lt,
                self.list[base_b],
                &self.list[base_a..base_a + na],
                0,
            );
            base_a += k;
            na -= k;
            if na == 0 {
                return;
            }
            let nb = gallop_left(
                &mut self.lt,
                self.list[base_a + na - 1],
                &self.list[base_b..base_b + nb],
                nb - 1,
            );
            if nb == 0 {
                return;
            }
            if na <= nb {
                self.merge_lo(base_a, na, base_b, nb);
            } else {
                self.merge_hi(base_a, na, base_b, nb);
            }
        }

        /// Merges A = list[pa..pa+na] and the B that follows it, copying A out to `tmp` and
        /// filling the list from the left.
        fn merge_lo(&mut self, pa: usize, mut na: usize, pb: usize, mut nb: usize) {
            self.tmp.clear();
            self.tmp.extend_from_slice(&self.list[pa..pa + na]);
            let (mut ia, mut ib, mut dest) = (0usize, pb, pa);
            let list = &mut self.list;
            let tmp = &self.tmp;
            let lt = &mut self.lt;

            list[dest] = list[ib];
            dest += 1;
            ib += 1;
            nb -= 1;
            let exit = 'merge: {
                if nb == 0 {
                    break 'merge Exit::Succeed;
                }
                if na == 1 {
                    break 'merge Exit::CopyOther;
                }
                let mut min_gallop = self.min_gallop;
                loop {
                    let mut acount = 0;
                    let mut bcount = 0;
                    // One element at a time until one run keeps winning.
                    loop {
                        if lt(list[ib], tmp[ia]) {
                            list[dest] = list[ib];
                            dest += 1;
                            ib += 1;
                            bcount += 1;
                            acount = 0;
                            nb -= 1;
                            if nb == 0 {
                                break 'merge Exit::Succeed;
                            }
                            if bcount >= min_gallop {
                                break;
                            }
                        } else {
                            list[dest] = tmp[ia];
                            dest += 1;
                            ia += 1;
                            acount += 1;
                            bcount = 0;
                            na -= 1;
                            if na == 1 {
                                break 'merge Exit::CopyOther;
                            }
                            if acount >= min_gallop {
                                break;
                            }
                        }
                    }
                    // Galloping: move whole stretches while one run keeps winning.
                    min_gallop += 1;
                    loop {
                        min_gallop -= usize::from(min_gallop > 1);
                        self.min_gallop = min_gallop;
                        let k = gallop_right(lt, list[ib], &tmp[ia..ia + na], 0);
                        acount = k;
                        if k > 0 {
                            list[dest..dest + k].copy_from_slice(&tmp[ia..ia + k]);
                            dest += k;
                            ia += k;
                            na -= k;
                            if na == 1 {
                                break 'merge Exit::CopyOther;
                            }
                            // Impossible with a consistent `<`, which NaN is not.
                            if na == 0 {
                                break 'merge Exit::Succeed;
                            }
                        }
                        list[dest] = list[ib];
                        dest += 1;
                        ib += 1;
                        nb -= 1;
                        if nb == 0 {
                            break 'merge Exit::Succeed;
                        }
                        let k = gallop_left(lt, tmp[ia], &list[ib..ib + nb], 0);
                        bcount = k;
                        if k > 0 {
                            list.copy_within(ib..ib + k, dest);
                            dest += k;
                            ib += k;
                            nb -= k;
                            if nb == 0 {
                                break 'merge Exit::Succeed;
                            }
                        }
                        list[dest] = tmp[ia];
                        dest += 1;
                        ia += 1;
                        na -= 1;
                        if na == 1 {
                            break 'merge Exit::CopyOther;
                        }
                        if acount < MIN_GALLOP && bcount < MIN_GALLOP {
                            break;
                        }
                    }
                    // Penalise leaving galloping mode.
                    min_gallop += 1;
                    self.min_gallop = min_gallop;
                }
            };
            match exit {
                Exit::Succeed => list[dest..dest + na].copy_from_slice(&tmp[ia..ia + na]),
                Exit::CopyOther => {
                    list.copy_within(ib..ib + nb, dest);
                    list[dest + nb] = tmp[ia];
                }
            }
        }

        /// Merges A = list[pa..pa+na] and B = list[pb..pb+nb], copying B out to `tmp` and
        /// filling the list from the right.
        fn merge_hi(&mut self, pa: usize, mut na: usize, pb: usize, mut nb: usize) {
            self.tmp.clear();
            self.tmp.extend_from_slice(&self.list[pb..pb + nb]);
            // Positions walk leftwards past the start of a run, so they are signed.
            let pa = pa as isize;
            let mut ia = pa + na as isize - 1;
            let mut ib = nb as isize - 1;
            let mut dest = pb as isize + nb as isize - 1;
            let list = &mut self.list;
            let tmp = &self.tmp;
            let lt = &mut self.lt;
            let u = |i: isize| i as usize;

            list[u(dest)] = list[u(ia)];
            dest -= 1;
            ia -= 1;
            na -= 1;
            let exit = 'merge: {
                if na == 0 {
                    break 'merge Exit::Succeed;
                }
                if nb == 1 {
                    break 'merge Exit::CopyOther;
                }
                let mut min_gallop = self.min_gallop;
                loop {
                    let mut acount = 0;
                    let mut bcount = 0;
                    loop {
                        if lt(tmp[u(ib)], list[u(ia)]) {
                            list[u(dest)] = list[u(ia)];
                            dest -= 1;
                            ia -= 1;
                            acount += 1;
                            bcount = 0;
                            na -= 1;
                            if na == 0 {
                                break 'merge Exit::Succeed;
                            }
                            if acount >= min_gallop {
                                break;
                            }
                        } else {
                            list[u(dest)] = tmp[u(ib)];
                            dest -= 1;
                            ib -= 1;
                            bcount += 1;
                            acount = 0;
                            nb -= 1;
                            if nb == 1 {
                                break 'merge Exit::CopyOther;
                            }
                            if bcount >= min_gallop {
                                break;
                            }
                        }
                    }
                    min_gallop += 1;
                    loop {
                        min_gallop -= usize::from(min_gallop > 1);
                        self.min_gallop = min_gallop;
                        let k = na - gallop_right(lt, tmp[u(ib)], &list[u(pa)..u(pa) + na], na - 1);
                        acount = k;
                        if k > 0 {
                            let k = k as isize;
                            dest -= k;
                            ia -= k;
                            list.copy_within(u(ia + 1)..u(ia + 1 + k), u(dest + 1));
                            na -= k as usize;
                            if na == 0 {
                                break 'merge Exit::Succeed;
                            }
                        }
                        list[u(dest)] = tmp[u(ib)];
                        dest -= 1;
                        ib -= 1;
                        nb -= 1;
                        if nb == 1 {
                            break 'merge Exit::CopyOther;
                        }
                        let k = nb - gallop_left(lt, list[u(ia)], &tmp[..nb], nb - 1);
                        bcount = k;
                        if k > 0 {
                            let k = k as isize;
                            dest -= k;
                            ib -= k;
                            list[u(dest + 1)..u(dest + 1 + k)]
                                .copy_from_slice(&tmp[u(ib + 1)..u(ib + 1 + k)]);
                            nb -= k as usize;
                            if nb == 1 {
                                break 'merge Exit::CopyOther;
                            }
                            // Impossible with a consistent `<`, which NaN is not.
                            if nb == 0 {
                                break 'merge Exit::Succeed;
                            }
                        }
                        list[u(dest)] = list[u(ia)];
                        dest -= 1;
                        ia -= 1;
                        na -= 1;
                        if na == 0 {
                            break 'merge Exit::Succeed;
                        }
                        if acount < MIN_GALLOP && bcount < MIN_GALLOP {
                            break;
                        }
                    }
                    min_gallop += 1;
                    self.min_gallop = min_gallop;
                }
            };
            match exit {
                Exit::Succeed => {
                    if nb > 0 {
                        let start = u(dest + 1) - nb;
                        list[start..start + nb].copy_from_slice(&tmp[..nb]);
                    }
                }
                Exit::CopyOther => {
                    let na_i = na as isize;
                    list.copy_within(u(ia + 1 - na_i)..u(ia + 1), u(dest + 1 - na_i));
                    dest -= na_i;
                    list[u(dest)] = tmp[u(ib)];
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::sort;

        /// A small deterministic generator, so the tests need no crate.
        fn next(state: &mut u64) -> u64 {
            *state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *state >> 33
        }

        #[test]
        fn sorts_like_a_stable_sort_when_the_order_is_consistent() {
            let mut state = 7;
            for case in 0..600 {
                let n = match case % 4 {
                    0 => (next(&mut state) % 70) as usize,
                    1 => 64 + (next(&mut state) % 600) as usize,
                    _ => (next(&mut state) % 3000) as usize,
                };
                let spread = 1 + next(&mut state) % 50;
                // Runs, reversed runs and ties, so galloping and both merge directions run.
                let mut keys: Vec<u64> = Vec::with_capacity(n);
                while keys.len() < n {
                    let len = 1 + (next(&mut state) % 200) as usize;
                    let start = next(&mut state) % 1000;
                    let step = next(&mut state) % 3;
                    let descending = next(&mut state).is_multiple_of(2);
                    for j in 0..len.min(n - keys.len()) {
                        let k = start + j as u64 * step;
                        let k = if descending { 100_000 - k } else { k };
                        keys.push(if spread < 10 { k % spread } else { k });
                    }
                }
                let got = sort(n, |a, b| keys[a] < keys[b]);
                let mut want: Vec<usize> = (0..n).collect();
                want.sort_by_key(|&i| keys[i]);
                assert_eq!(got, want, "case {case}, n = {n}");
            }
        }

        #[test]
        fn nan_like_elements_stay_where_cpython_leaves_them() {
            // Checked against CPython 3.11 and 3.12:
            // sorted([3, nan, 1, 2, 0]) == [3, nan, 0, 1, 2].
            let keys = [3.0, f64::NAN, 1.0, 2.0, 0.0];
            let order = sort(keys.len(), |a, b| keys[a] < keys[b]);
            assert_eq!(order, vec![0, 1, 4, 2, 3]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{
        DumpError, SortKeys, cmp_int_float, cmp_ints, dumps, out_of_record_order, write_str,
    };
    use crate::pyjson::value::{Float, Key, Value};
    use std::cmp::Ordering;

    fn int(text: &str) -> Value {
        Value::Int(text.to_string())
    }

    fn float(value: f64) -> Value {
        Value::Float(Float::new(value))
    }

    fn obj(entries: Vec<(Key, Value)>) -> Value {
        Value::Object(entries)
    }

    fn skey(s: &str) -> Key {
        Key::Str(s.to_string())
    }

    fn ikey(s: &str) -> Key {
        Key::Int(s.to_string())
    }

    fn sorted(value: &Value) -> String {
        dumps(value, SortKeys::Python).unwrap()
    }

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        write_str(s, &mut out);
        out
    }

    #[test]
    fn hash_objects_test_vectors() {
        let args = |v: Value| Value::Array(vec![Value::Array(vec![v]), obj(vec![])]);
        let one = args(obj(vec![(skey("x"), int("1"))]));
        assert_eq!(sorted(&one), r#"[[{"x": 1}], {}]"#);
        let big = args(obj(vec![(skey("x"), float(1e16))]));
        assert_eq!(sorted(&big), r#"[[{"x": 1e+16}], {}]"#);
        assert_eq!(sorted(&args(obj(vec![]))), "[[{}], {}]");
    }

    #[test]
    fn scalars() {
        let v = Value::Array(vec![
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            int("1267650600228229401496703205376"),
            int("-5"),
            float(0.1),
            float(-0.0),
            float(f64::NAN),
            float(f64::INFINITY),
            float(f64::NEG_INFINITY),
            float(1e-5),
            Value::Array(vec![]),
        ]);
        assert_eq!(
            sorted(&v),
            "[null, true, false, 1267650600228229401496703205376, -5, 0.1, -0.0, NaN, \
             Infinity, -Infinity, 1e-05, []]"
        );
    }

    #[test]
    fn float_text_is_rewritten_as_repr() {
        let f = Value::Float(Float {
            value: 1.5,
            text: Some("1.50".into()),
        });
        assert_eq!(sorted(&f), "1.5");
    }

    #[test]
    fn string_escapes() {
        assert_eq!(escaped("plain / text"), r#""plain / text""#);
        assert_eq!(escaped("\"\\\n\r\t\u{8}\u{c}"), r#""\"\\\n\r\t\b\f""#);
        assert_eq!(escaped("\u{0}\u{1f}\u{7f}"), r#""\u0000\u001f\u007f""#);
        assert_eq!(escaped("é€\u{ffff}"), r#""\u00e9\u20ac\uffff""#);
        assert_eq!(escaped("😀"), r#""\ud83d\ude00""#);
        assert_eq!(escaped("a\u{10ffff}b"), r#""a\udbff\udfffb""#);
        assert_eq!(escaped(""), r#""""#);
    }

    #[test]
    fn key_spellings() {
        let v = obj(vec![
            (Key::Float(1.5), int("1")),
            (Key::Float(f64::INFINITY), int("2")),
            (Key::Bool(false), int("3")),
            (ikey("-7"), int("4")),
        ]);
        assert_eq!(
            dumps(&v, SortKeys::Preserve).unwrap(),
            r#"{"1.5": 1, "Infinity": 2, "false": 3, "-7": 4}"#
        );
        assert_eq!(
            sorted(&v),
            r#"{"-7": 4, "false": 3, "1.5": 1, "Infinity": 2}"#
        );
        let none = obj(vec![(Key::Null, int("1"))]);
        assert_eq!(sorted(&none), r#"{"null": 1}"#);
        let nan = obj(vec![(Key::Float(f64::NAN), int("1"))]);
        assert_eq!(sorted(&nan), r#"{"NaN": 1}"#);
        let weird = obj(vec![(skey("a\"😀"), int("1"))]);
        assert_eq!(sorted(&weird), r#"{"a\"\ud83d\ude00": 1}"#);
    }

    #[test]
    fn int_keys_sort_numerically() {
        let v = obj(vec![
            (ikey("10"), int("0")),
            (ikey("2"), int("0")),
            (ikey("1"), int("0")),
            (ikey("-30"), int("0")),
            (ikey("-4"), int("0")),
        ]);
        assert_eq!(
            sorted(&v),
            r#"{"-30": 0, "-4": 0, "1": 0, "2": 0, "10": 0}"#
        );
        // Preserve keeps the stored order.
        assert_eq!(
            dumps(&v, SortKeys::Preserve).unwrap(),
            r#"{"10": 0, "2": 0, "1": 0, "-30": 0, "-4": 0}"#
        );
    }

    #[test]
    fn str_keys_sort_by_code_point() {
        let v = obj(vec![
            (skey("b"), int("0")),
            (skey("😀"), int("0")),
            (skey("\u{ffff}"), int("0")),
            (skey("B"), int("0")),
            (skey("a"), int("0")),
            (skey(""), int("0")),
        ]);
        assert_eq!(
            sorted(&v),
            r#"{"": 0, "B": 0, "a": 0, "b": 0, "\uffff": 0, "\ud83d\ude00": 0}"#
        );
    }

    #[test]
    fn mixed_numeric_keys_compare_exactly() {
        // 2**53 + 1 as an int is above the float 2**53, which it would round to.
        let v = obj(vec![
            (ikey("9007199254740993"), int("0")),
            (Key::Float(9007199254740992.0), int("0")),
            (Key::Bool(true), int("0")),
            (Key::Float(0.5), int("0")),
            (Key::Float(f64::NEG_INFINITY), int("0")),
            (ikey("-1267650600228229401496703205376"), int("0")),
        ]);
        assert_eq!(
            sorted(&v),
            r#"{"-Infinity": 0, "-1267650600228229401496703205376": 0, "0.5": 0, "true": 0, "9007199254740992.0": 0, "9007199254740993": 0}"#
        );
    }

    #[test]
    fn exact_int_float_comparison() {
        assert_eq!(
            cmp_int_float("9007199254740993", 9007199254740992.0),
            Some(Ordering::Greater)
        );
        assert_eq!(
            cmp_int_float("9007199254740992", 9007199254740992.0),
            Some(Ordering::Equal)
        );
        assert_eq!(
            cmp_int_float("1267650600228229401496703205376", 2f64.powi(100)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            cmp_int_float("1267650600228229401496703205377", 2f64.powi(100)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            cmp_int_float("-1267650600228229401496703205377", -(2f64.powi(100))),
            Some(Ordering::Less)
        );
        assert_eq!(
            cmp_int_float("1000000000000000", 1e15 + 0.5),
            Some(Ordering::Less)
        );
        assert_eq!(
            cmp_int_float("-1000000000000000", -1e15 - 0.5),
            Some(Ordering::Greater)
        );
        assert_eq!(
            cmp_int_float("10000000000000000", -1.0),
            Some(Ordering::Greater)
        );
        assert_eq!(cmp_int_float("0", -0.0), Some(Ordering::Equal));
        assert_eq!(cmp_int_float("3", 2.5), Some(Ordering::Greater));
        assert_eq!(cmp_int_float("-3", -2.5), Some(Ordering::Less));
        assert_eq!(cmp_int_float("1", f64::NAN), None);
        let huge = "1".repeat(400);
        assert_eq!(cmp_int_float(&huge, f64::MAX), Some(Ordering::Greater));
        assert_eq!(cmp_int_float(&huge, f64::INFINITY), Some(Ordering::Less));
        assert_eq!(cmp_ints("-0", "0"), Ordering::Equal);
        assert_eq!(cmp_ints("-10", "-9"), Ordering::Less);
        assert_eq!(cmp_ints("100", "99"), Ordering::Greater);
    }

    #[test]
    fn unsortable_dicts() {
        let unsortable = |entries: Vec<(Key, Value)>| {
            matches!(
                dumps(&obj(entries), SortKeys::Python),
                Err(DumpError::Unsortable(_))
            )
        };
        assert!(unsortable(vec![
            (skey("a"), int("1")),
            (ikey("2"), int("2"))
        ]));
        assert!(unsortable(vec![
            (Key::Null, int("1")),
            (ikey("2"), int("2"))
        ]));
        assert!(unsortable(vec![
            (Key::Float(f64::NAN), int("1")),
            (skey("a"), int("2"))
        ]));
        assert!(unsortable(vec![
            (Key::Bool(true), int("1")),
            (Key::Null, int("2"))
        ]));
        // Nested anywhere: the whole dump fails.
        let nested = Value::Array(vec![obj(vec![
            (skey("a"), int("1")),
            (Key::Null, int("2")),
        ])]);
        assert!(dumps(&nested, SortKeys::Python).is_err());
        // Without sorting nothing is compared, as with sort_keys=False.
        assert!(dumps(&nested, SortKeys::Preserve).is_ok());
        let message = dumps(&nested, SortKeys::Python).unwrap_err().to_string();
        assert!(
            message.contains("str") && message.contains("NoneType"),
            "{message}"
        );
    }

    #[test]
    fn nan_keys_follow_cpython_sort() {
        // Checked against CPython 3.11 and 3.12:
        // json.dumps({3: 0, nan: 0, 1: 0, 2: 0, 0: 0}, sort_keys=True)
        let v = obj(vec![
            (ikey("3"), int("0")),
            (Key::Float(f64::NAN), int("0")),
            (ikey("1"), int("0")),
            (ikey("2"), int("0")),
            (ikey("0"), int("0")),
        ]);
        assert_eq!(sorted(&v), r#"{"3": 0, "NaN": 0, "0": 0, "1": 0, "2": 0}"#);
        let v = obj(vec![
            (Key::Float(1.0), int("0")),
            (Key::Float(f64::NAN), int("0")),
            (Key::Float(0.5), int("0")),
        ]);
        assert_eq!(sorted(&v), r#"{"1.0": 0, "NaN": 0, "0.5": 0}"#);
    }

    #[test]
    fn deep_nesting_does_not_use_the_stack() {
        let mut v = Value::Array(vec![]);
        for _ in 0..100_000 {
            v = Value::Array(vec![v]);
        }
        let text = dumps(&v, SortKeys::Python).unwrap();
        assert_eq!(text.len(), 2 * 100_001);
        // Dropping is recursive in Rust; take it apart by hand.
        while let Value::Array(mut items) = v {
            v = items.pop().unwrap_or(Value::Null);
        }
    }

    /// The record reader's rule: the written order for objects of string keys (what a
    /// record holds), by the keys in the order given.
    fn record_order_of(keys: &[&str]) -> Vec<String> {
        let value = obj(keys.iter().map(|k| (skey(k), int("0"))).collect());
        let text = dumps(&value, SortKeys::Record).unwrap();
        let reread = crate::pyjson::parse(&text).unwrap();
        let order: Vec<String> = reread
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, _)| match k {
                Key::Str(s) => s.clone(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            out_of_record_order(&value),
            order != keys.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            "out_of_record_order agrees with the writer for {keys:?}"
        );
        order
    }

    // Issue 7: parameters recorded in declaration order were hashed in that order.
    #[test]
    fn record_order_keeps_what_python_could_write_and_sorts_the_rest() {
        // String order is kept, and so is numeric order of keys that are numbers' texts.
        assert_eq!(record_order_of(&["a", "b", "c"]), ["a", "b", "c"]);
        assert_eq!(record_order_of(&["2", "10", "100"]), ["2", "10", "100"]);
        assert_eq!(record_order_of(&["10", "100", "2"]), ["10", "100", "2"]);
        assert_eq!(
            record_order_of(&["-Infinity", "false", "0.5", "true", "1e+16", "Infinity"]),
            ["-Infinity", "false", "0.5", "true", "1e+16", "Infinity"]
        );
        assert_eq!(
            record_order_of(&["-10000000000000000000", "18446744073709551617"]),
            ["-10000000000000000000", "18446744073709551617"]
        );
        // Declaration order, mixed orders and non-canonical number texts are sorted as strings.
        assert_eq!(record_order_of(&["n", "name", "cfg"]), ["cfg", "n", "name"]);
        assert_eq!(record_order_of(&["2", "x", "10"]), ["10", "2", "x"]);
        assert_eq!(record_order_of(&["10", "02"]), ["02", "10"]);
        assert_eq!(record_order_of(&["1.50", "1.0"]), ["1.0", "1.50"]);
        assert_eq!(record_order_of(&["1e5", "2"]), ["1e5", "2"]);
        // Code point order, not UTF-16 order: U+FFFF sorts before U+1F600 (whose first UTF-16
        // unit, 0xD83D, would sort first).
        assert_eq!(
            record_order_of(&["\u{1F600}", "\u{FFFF}", "\u{e9}", "z"]),
            ["z", "\u{e9}", "\u{FFFF}", "\u{1F600}"]
        );
        // Nested objects follow the same rule; arrays keep their order.
        let nested = obj(vec![(
            skey("cfg"),
            Value::Array(vec![obj(vec![
                (skey("b"), int("1")),
                (skey("a"), int("2")),
            ])]),
        )]);
        assert!(out_of_record_order(&nested));
        assert_eq!(
            dumps(&nested, SortKeys::Record).unwrap(),
            r#"{"cfg": [{"a": 2, "b": 1}]}"#
        );
    }
}
