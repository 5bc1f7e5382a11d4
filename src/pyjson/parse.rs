//! The parser for record text: JSON as Python's `json` module writes and reads it.
//!
//! Besides standard JSON that means the bare words `NaN`, `Infinity` and `-Infinity`, integers
//! of any length (kept as text, never rounded through f64), and objects that keep their order,
//! with a repeated key keeping its first position and its last value, as a Python dict does.
//!
//! It is a byte-level scanner with an explicit stack instead of recursion, because it reads
//! tens of thousands of records and must not overflow on hostile nesting. Error positions are
//! worked out only when an error happens.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use super::value::{Float, Key, Value};

/// A parse error with a 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The deepest nesting of arrays and objects accepted.
///
/// CPython's own encoder and decoder give up at about 1000 levels (its recursion limit), so
/// no record is deeper; the margin keeps Rust's recursive `Drop`, `Clone` and `PartialEq` of a
/// [`Value`] comfortably within a 2 MiB thread stack even in debug builds.
pub const MAX_DEPTH: usize = 2000;

/// Parses one JSON text as Python's `json.loads` would accept it.
pub fn parse(text: &str) -> Result<Value, ParseError> {
    parse_with(text, None)
}

/// Where a record's inputs and flow parameters are, in its text, when that text is already
/// canonical (what `json.dumps` writes, see [`super::canonical_len`]), or canonical but for its
/// whitespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CanonicalSpans {
    /// The top-level `inputs` object, and for a big one, `hash_objects` of it (see
    /// [`crate::hash::check_and_hash`]).
    pub inputs: Option<Span>,
    /// The `parameters` object of the top-level `flow` object, likewise.
    pub flow_parameters: Option<Span>,
}

/// A canonical object's text, and `hash_objects` of it when it was worked out while the text
/// was checked (a big one).
pub type Span = (SpanText, Option<String>);

/// Where a canonical object's text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanText {
    /// In the record text, as it is.
    At(Range<usize>),
    /// Made from the record text by taking out other whitespace than `json.dumps` writes (a
    /// record written with `indent=2`, as the recorder writes `.json` files): every token was
    /// canonical ([`super::canonical_respaced_within`]).
    Respaced(String),
    /// In the record text, as it is: plain JSON with `json.dumps`' spacing, not proved
    /// canonical ([`crate::record_fast::read_unchecked`]). The engine proves it by its md5
    /// matching the recorded key, or checks it, before it hashes it as it is.
    Unchecked(Range<usize>),
    /// Made from the record text by taking out other whitespace than `json.dumps` writes, its
    /// tokens as they are: plain JSON not proved canonical, as [`SpanText::Unchecked`].
    UncheckedRespaced(String),
    /// In the record text, as it is: an object on one line of which only the end was found,
    /// not even that it is JSON ([`crate::record_fast::read_deferred`]). The loader settles it
    /// before the engine sees it: proved by its md5, or made [`SpanText::Unchecked`] by the
    /// pass that [`crate::record_fast::read_unchecked`] gives, or the record is read again.
    Unscanned(Range<usize>),
}

impl SpanText {
    /// The text, from the record `text` it was found in.
    pub fn text<'t>(&'t self, text: &'t str) -> &'t str {
        match self {
            SpanText::At(range) | SpanText::Unchecked(range) | SpanText::Unscanned(range) => {
                &text[range.clone()]
            }
            SpanText::Respaced(respaced) | SpanText::UncheckedRespaced(respaced) => respaced,
        }
    }

    /// Whether the text was proved canonical.
    pub fn checked(&self) -> bool {
        matches!(self, SpanText::At(_) | SpanText::Respaced(_))
    }
}

/// Parses a run record, but where its `inputs` or `flow.parameters` object is canonical text,
/// leaves it as a span of `text` (the value is `null` in the tree) rather than building it:
/// for recomputing keys, that text is hashed as it is. Everything else, errors included, is
/// as [`parse`] gives it.
pub fn parse_record_lean(text: &str) -> Result<(Value, CanonicalSpans), ParseError> {
    let mut spans = CanonicalSpans::default();
    let value = parse_with(text, Some(&mut spans))?;
    Ok((value, spans))
}

fn parse_with(text: &str, spans: Option<&mut CanonicalSpans>) -> Result<Value, ParseError> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        spans,
    };
    parser.skip_ws();
    let value = parser.parse_document()?;
    parser.skip_ws();
    if parser.pos < parser.bytes.len() {
        return Err(parser.error_at(parser.pos, "unexpected text after the JSON value"));
    }
    Ok(value)
}

/// An array or object that is still open.
enum Open {
    Array(Vec<Value>),
    /// The entries so far and the key whose value is being parsed.
    Object(Vec<(Key, Value)>, String),
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Set when objects at canonical-span places are to be left as spans.
    spans: Option<&'a mut CanonicalSpans>,
}

/// Which canonical span a value about to start would be, from the keys open above it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SpanPlace {
    Inputs,
    FlowParameters,
    /// The `flow` object itself: a repeated `flow` key starts its parameters afresh.
    Flow,
}

fn span_place(stack: &[Open]) -> Option<SpanPlace> {
    match stack {
        [Open::Object(_, key)] if key == "inputs" => Some(SpanPlace::Inputs),
        [Open::Object(_, key)] if key == "flow" => Some(SpanPlace::Flow),
        [Open::Object(_, flow), Open::Object(_, key)] if flow == "flow" && key == "parameters" => {
            Some(SpanPlace::FlowParameters)
        }
        _ => None,
    }
}

impl Parser<'_> {
    /// At a canonical-span place, a canonical object is skipped and its span kept; the value
    /// left in the tree is `null`. Any value at such a place forgets an earlier span, so the
    /// last occurrence of a repeated key decides, as in the tree.
    fn take_span(&mut self, stack: &[Open]) -> Option<Value> {
        let spans = self.spans.as_deref_mut()?;
        let place = span_place(stack)?;
        let slot = match place {
            SpanPlace::Inputs => &mut spans.inputs,
            SpanPlace::FlowParameters => &mut spans.flow_parameters,
            SpanPlace::Flow => {
                spans.flow_parameters = None;
                return None;
            }
        };
        *slot = None;
        if self.bytes.get(self.pos) != Some(&b'{') {
            return None;
        }
        let within = MAX_DEPTH.saturating_sub(stack.len());
        let rest = &self.text[self.pos..];
        let check = |text: &str| super::canonical::canonical_len_within(text, within);
        // A big span is hashed on a second core while it is checked.
        let found = if rest.len() >= crate::hash::BIG_TEXT {
            crate::hash::check_and_hash(rest, check).map(|(len, hash)| (len, Some(hash)))
        } else {
            check(rest).map(|len| (len, None))
        };
        let (len, span) = match found {
            Some((len, hash)) => (len, (SpanText::At(self.pos..self.pos + len), hash)),
            None => {
                // Written with other whitespace (`indent=2`): canonical tokens are respaced.
                let mut respaced = String::with_capacity(rest.len().min(1 << 16));
                let len = super::canonical::canonical_respaced_within(rest, within, &mut respaced)?;
                (len, (SpanText::Respaced(respaced), None))
            }
        };
        *slot = Some(span);
        self.pos += len;
        Some(Value::Null)
    }

    /// Builds an error at a byte offset, counting lines by `\n` and columns in characters, the
    /// way Python's `json.JSONDecodeError` does.
    fn error_at(&self, offset: usize, message: impl Into<String>) -> ParseError {
        let before = &self.text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        ParseError {
            line: before.bytes().filter(|&b| b == b'\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// A description of what is at the current position, for error messages.
    fn found(&self) -> String {
        match self.text[self.pos..].chars().next() {
            None => "end of input".to_string(),
            Some(c) if c.is_control() || c.is_whitespace() => format!("{c:?}"),
            Some(c) => format!("'{c}'"),
        }
    }

    fn skip_ws(&mut self) {
        // Python's json whitespace: space, tab, newline, carriage return.
        self.pos = super::canonical::whitespace_end(self.bytes, self.pos);
    }

    fn parse_document(&mut self) -> Result<Value, ParseError> {
        let mut stack: Vec<Open> = Vec::new();
        loop {
            // Here a value must start.
            self.skip_ws();
            let mut value = match self.peek() {
                Some(_)
                    if self.spans.is_some()
                        && stack.len() <= 2
                        && self.take_span(&stack).is_some() =>
                {
                    Value::Null
                }
                Some(b'[') => {
                    self.enter(stack.len())?;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        Value::Array(Vec::new())
                    } else {
                        stack.push(Open::Array(Vec::new()));
                        continue;
                    }
                }
                Some(b'{') => {
                    self.enter(stack.len())?;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Value::Object(Vec::new())
                    } else {
                        let key = self.parse_key()?;
                        stack.push(Open::Object(Vec::new(), key));
                        continue;
                    }
                }
                _ => self.parse_scalar()?,
            };
            // A value is complete: hand it to the open container, closing containers for as
            // long as their closing bracket follows.
            loop {
                let Some(open) = stack.last_mut() else {
                    return Ok(value);
                };
                self.skip_ws();
                match open {
                    Open::Array(items) => {
                        items.push(value);
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                break;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                let Some(Open::Array(items)) = stack.pop() else {
                                    unreachable!("the top is this array")
                                };
                                value = Value::Array(items);
                            }
                            _ => {
                                return Err(self.error_at(
                                    self.pos,
                                    format!(
                                        "expected ',' or ']' after an array item, found {}",
                                        self.found()
                                    ),
                                ));
                            }
                        }
                    }
                    Open::Object(entries, key) => {
                        entries.push((Key::Str(std::mem::take(key)), value));
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                *key = self.parse_key()?;
                                break;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                let Some(Open::Object(entries, _)) = stack.pop() else {
                                    unreachable!("the top is this object")
                                };
                                value = Value::Object(dedup_keys(entries));
                            }
                            _ => {
                                return Err(self.error_at(
                                    self.pos,
                                    format!(
                                        "expected ',' or '}}' after an object entry, found {}",
                                        self.found()
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }

    /// Steps over an opening bracket, refusing to nest deeper than [`MAX_DEPTH`].
    fn enter(&mut self, open: usize) -> Result<(), ParseError> {
        if open >= MAX_DEPTH {
            return Err(self.error_at(
                self.pos,
                format!("arrays and objects nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.pos += 1;
        Ok(())
    }

    /// Parses `"key"` and the `:` after it; the position is at the key's opening quote.
    fn parse_key(&mut self) -> Result<String, ParseError> {
        if self.peek() != Some(b'"') {
            return Err(self.error_at(
                self.pos,
                format!(
                    "expected an object key in double quotes, found {}",
                    self.found()
                ),
            ));
        }
        let key = self.parse_string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.error_at(
                self.pos,
                format!("expected ':' after an object key, found {}", self.found()),
            ));
        }
        self.pos += 1;
        Ok(key)
    }

    fn parse_scalar(&mut self) -> Result<Value, ParseError> {
        match self.peek() {
            Some(b'"') => Ok(Value::Str(self.parse_string()?)),
            Some(b'-' | b'0'..=b'9') => self.parse_number(),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(b'N') => self.word("NaN", float_word(f64::NAN, "NaN")),
            Some(b'I') => self.word("Infinity", float_word(f64::INFINITY, "Infinity")),
            _ => Err(self.error_at(
                self.pos,
                format!("expected a JSON value, found {}", self.found()),
            )),
        }
    }

    fn word(&mut self, word: &str, value: Value) -> Result<Value, ParseError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error_at(
                self.pos,
                format!("expected a JSON value, found {}", self.found()),
            ))
        }
    }

    /// Parses a number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`, or `-Infinity`.
    fn parse_number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
            if self.peek() == Some(b'I') {
                self.pos = start;
                return self.word("-Infinity", float_word(f64::NEG_INFINITY, "-Infinity"));
            }
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.error_at(start, "invalid number: a leading zero"));
                }
            }
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(self.error_at(start, "invalid number: no digits after '-'")),
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error_at(start, "invalid number: no digits after '.'"));
            }
            self.skip_digits();
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error_at(start, "invalid number: no digits in the exponent"));
            }
            self.skip_digits();
            is_float = true;
        }
        let literal = &self.text[start..self.pos];
        if is_float {
            // Rust's float parsing is correctly rounded, like Python's float(); out-of-range
            // literals become ±inf or ±0.0 in both.
            let value: f64 = literal
                .parse()
                .map_err(|_| self.error_at(start, "invalid number"))?;
            Ok(Value::Float(Float {
                value,
                text: Some(literal.into()),
            }))
        } else if literal == "-0" {
            // Python's int("-0") is 0; Value::Int is canonical.
            Ok(Value::Int("0".to_string()))
        } else {
            Ok(Value::Int(literal.to_string()))
        }
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// Parses a string; the position is at its opening quote.
    fn parse_string(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes. Stopping only at ASCII bytes keeps slices on char boundaries.
        loop {
            match self.peek() {
                None => return Err(self.error_at(open, "unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(self.text[start..self.pos - 1].to_string());
                }
                Some(b'\\') => break,
                Some(b) if b < 0x20 => return Err(self.control_char_error()),
                Some(_) => self.pos += 1,
            }
        }
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(&self.text[start..self.pos]);
        loop {
            let run = self.pos;
            loop {
                match self.peek() {
                    None => return Err(self.error_at(open, "unterminated string")),
                    Some(b'"' | b'\\') => break,
                    Some(b) if b < 0x20 => return Err(self.control_char_error()),
                    Some(_) => self.pos += 1,
                }
            }
            out.push_str(&self.text[run..self.pos]);
            if self.peek() == Some(b'"') {
                self.pos += 1;
                return Ok(out);
            }
            self.parse_escape(open, &mut out)?;
        }
    }

    fn control_char_error(&self) -> ParseError {
        self.error_at(
            self.pos,
            format!(
                "control character {} in a string (it must be escaped)",
                self.found()
            ),
        )
    }

    /// Parses one escape sequence; the position is at its backslash, `open` is the string's
    /// opening quote.
    fn parse_escape(&mut self, open: usize, out: &mut String) -> Result<(), ParseError> {
        let backslash = self.pos;
        self.pos += 1;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4(backslash)?;
                let c = match unit {
                    0xd800..=0xdbff => {
                        // A high surrogate: only a following low surrogate escape completes it.
                        let low = if self.bytes[self.pos..].starts_with(b"\\u") {
                            let save = self.pos;
                            self.pos += 2;
                            let low = self.hex4(save)?;
                            if (0xdc00..=0xdfff).contains(&low) {
                                Some(low)
                            } else {
                                self.pos = save;
                                None
                            }
                        } else {
                            None
                        };
                        let Some(low) = low else {
                            return Err(lone_surrogate(self, backslash, unit));
                        };
                        let code = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                        char::from_u32(code).expect("a surrogate pair is a valid code point")
                    }
                    0xdc00..=0xdfff => return Err(lone_surrogate(self, backslash, unit)),
                    _ => char::from_u32(unit).expect("a non-surrogate BMP unit is a char"),
                };
                out.push(c);
                return Ok(());
            }
            _ => {
                let what = match self.text[self.pos..].chars().next() {
                    None => return Err(self.error_at(open, "unterminated string")),
                    Some(c) => c,
                };
                return Err(self.error_at(backslash, format!("invalid escape '\\{what}'")));
            }
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    /// Reads the four hex digits of a `\u` escape (either case).
    fn hex4(&mut self, backslash: usize) -> Result<u32, ParseError> {
        let digits = self.bytes.get(self.pos..self.pos + 4);
        let value = digits.and_then(|digits| {
            digits.iter().try_fold(0u32, |acc, &b| {
                let d = char::from(b).to_digit(16)?;
                Some(acc * 16 + d)
            })
        });
        match value {
            Some(value) => {
                self.pos += 4;
                Ok(value)
            }
            None => Err(self.error_at(backslash, "invalid \\u escape: it needs four hex digits")),
        }
    }
}

fn lone_surrogate(parser: &Parser<'_>, backslash: usize, unit: u32) -> ParseError {
    parser.error_at(
        backslash,
        format!(
            "lone surrogate \\u{unit:04x} in a string: Python accepts it, but it is not a \
             Unicode scalar value and cannot be held in UTF-8 text"
        ),
    )
}

fn float_word(value: f64, text: &str) -> Value {
    Value::Float(Float {
        value,
        text: Some(text.into()),
    })
}

/// Applies Python dict semantics to repeated keys: the first position, the last value.
fn dedup_keys(entries: Vec<(Key, Value)>) -> Vec<(Key, Value)> {
    fn key(entry: &(Key, Value)) -> &str {
        match &entry.0 {
            Key::Str(s) => s,
            _ => unreachable!("parsed keys are strings"),
        }
    }
    // Python's sort_keys output is strictly increasing, which rules out repeats in one pass.
    if entries.windows(2).all(|w| key(&w[0]) < key(&w[1])) {
        return entries;
    }
    let has_repeat = if entries.len() <= 16 {
        (1..entries.len()).any(|i| entries[..i].iter().any(|e| key(e) == key(&entries[i])))
    } else {
        let mut seen = HashSet::with_capacity(entries.len());
        !entries.iter().all(|e| seen.insert(key(e)))
    };
    if !has_repeat {
        return entries;
    }
    let mut position: HashMap<String, usize> = HashMap::with_capacity(entries.len());
    let mut out: Vec<(Key, Value)> = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let Key::Str(s) = &k else {
            unreachable!("parsed keys are strings")
        };
        match position.get(s) {
            Some(&at) => out[at].1 = v,
            None => {
                position.insert(s.clone(), out.len());
                out.push((k, v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{MAX_DEPTH, ParseError, parse};
    use crate::pyjson::value::{Float, Key, Value};
    use crate::pyjson::write::{SortKeys, dumps};

    fn ok(text: &str) -> Value {
        parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn err(text: &str) -> ParseError {
        parse(text).expect_err(text)
    }

    fn round_trip(text: &str) -> String {
        dumps(&ok(text), SortKeys::Preserve).unwrap()
    }

    #[test]
    fn scalars() {
        assert_eq!(ok("null"), Value::Null);
        assert_eq!(ok(" true "), Value::Bool(true));
        assert_eq!(ok("false"), Value::Bool(false));
        assert_eq!(ok("\"a\""), Value::Str("a".to_string()));
        assert_eq!(ok("0"), Value::Int("0".to_string()));
        assert_eq!(ok("-0"), Value::Int("0".to_string()));
        assert_eq!(ok("-12"), Value::Int("-12".to_string()));
        let big = "1267650600228229401496703205376".repeat(5);
        assert_eq!(ok(&big), Value::Int(big.clone()));
    }

    #[test]
    fn floats_keep_value_and_text() {
        let Value::Float(f) = ok("1.50") else {
            panic!("not a float")
        };
        assert_eq!(f.value, 1.5);
        assert_eq!(f.text.as_deref(), Some("1.50"));
        let Value::Float(f) = ok("-0.0") else {
            panic!("not a float")
        };
        assert_eq!(f.value.to_bits(), (-0.0f64).to_bits());
        for (text, value) in [
            ("1e16", 1e16),
            ("1E+16", 1e16),
            ("2.5e-5", 2.5e-5),
            ("1e400", f64::INFINITY),
            ("-1e400", f64::NEG_INFINITY),
            ("5e-324", 5e-324),
            ("Infinity", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
        ] {
            assert_eq!(ok(text), Value::Float(Float::new(value)), "{text}");
        }
        let Value::Float(f) = ok("NaN") else {
            panic!("not a float")
        };
        assert!(f.value.is_nan());
        // Correct rounding: the halfway case between 1 and the next float rounds to even.
        assert_eq!(
            ok("1.00000000000000011102230246251565404236316680908203125"),
            Value::Float(Float::new(1.0))
        );
    }

    #[test]
    fn containers_and_order() {
        let v = ok(r#"{"b": [1, 2.0, {}], "a": {"z": null, "y": []}}"#);
        assert_eq!(
            round_trip(r#"{"b": [1, 2.0, {}], "a": {"z": null, "y": []}}"#),
            r#"{"b": [1, 2.0, {}], "a": {"z": null, "y": []}}"#
        );
        let keys: Vec<&Key> = v.as_object().unwrap().iter().map(|(k, _)| k).collect();
        assert_eq!(keys, [&Key::Str("b".into()), &Key::Str("a".into())]);
        assert_eq!(ok("[]"), Value::Array(vec![]));
        assert_eq!(ok("[ ]"), Value::Array(vec![]));
        assert_eq!(ok("{ }"), Value::Object(vec![]));
        assert_eq!(ok(" \t\r\n[\n1 ,\t2 ] \n"), ok("[1, 2]"));
    }

    #[test]
    fn repeated_keys_keep_first_position_and_last_value() {
        assert_eq!(
            round_trip(r#"{"a": 1, "b": 2, "a": 3}"#),
            r#"{"a": 3, "b": 2}"#
        );
        let many: Vec<String> = (0..40).map(|i| format!("\"k{}\": {i}", i % 20)).collect();
        let text = format!("{{{}}}", many.join(", "));
        let v = ok(&text);
        let entries = v.as_object().unwrap();
        assert_eq!(entries.len(), 20);
        assert_eq!(entries[0], (Key::Str("k0".into()), Value::Int("20".into())));
        assert_eq!(
            entries[19],
            (Key::Str("k19".into()), Value::Int("39".into()))
        );
        assert_eq!(v.get("k5"), Some(&Value::Int("25".into())));
    }

    #[test]
    fn python_output_round_trips() {
        for text in [
            r#"[[{"x": 1}], {}]"#,
            r#"[[{"x": 1e+16}], {}]"#,
            r#"{"-1": NaN, "0.5": Infinity, "true": -Infinity, "null": -0.0}"#,
            r#"["\u00e9\ud83d\ude00\u0000\"\\\n\r\t\b\f/", 1267650600228229401496703205376]"#,
        ] {
            assert_eq!(round_trip(text), text);
        }
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            ok(r#""\"\\\/\b\f\n\r\t\u00E9\u20ac\ud83d\ude00""#),
            Value::Str("\"\\/\u{8}\u{c}\n\r\té€😀".to_string())
        );
        assert_eq!(ok("\"é😀\u{7f}\""), Value::Str("é😀\u{7f}".to_string()));
    }

    #[test]
    fn lone_surrogates_are_refused_with_a_reason() {
        for text in [
            r#""\ud83d""#,
            r#""\ud83dx""#,
            r#""\ude00""#,
            r#""\ud83d\u0041""#,
            r#""\ud83d\ud83d""#,
        ] {
            let e = err(text);
            assert!(e.message.contains("lone surrogate"), "{text}: {e}");
            assert_eq!((e.line, e.column), (1, 2), "{text}");
        }
    }

    #[test]
    fn errors_have_positions_and_reasons() {
        let cases: &[(&str, usize, usize, &str)] = &[
            ("", 1, 1, "expected a JSON value, found end of input"),
            (
                "{\"a\": 1 \"b\": 2}",
                1,
                9,
                "expected ',' or '}' after an object entry",
            ),
            ("[1 2]", 1, 4, "expected ',' or ']' after an array item"),
            ("[1,]", 1, 4, "expected a JSON value"),
            (
                "{\"a\": 1,}",
                1,
                9,
                "expected an object key in double quotes",
            ),
            ("{\"a\" 1}", 1, 6, "expected ':' after an object key"),
            ("{1: 2}", 1, 2, "expected an object key in double quotes"),
            ("\"abc", 1, 1, "unterminated string"),
            ("[\"a\\", 1, 2, "unterminated string"),
            ("\"a\nb\"", 1, 3, "control character"),
            ("\"\\x\"", 1, 2, "invalid escape '\\x'"),
            ("\"\\u12\"", 1, 2, "invalid \\u escape"),
            ("-", 1, 1, "invalid number"),
            ("-a", 1, 1, "invalid number"),
            ("01", 1, 1, "invalid number: a leading zero"),
            ("1.", 1, 1, "invalid number"),
            ("1.e5", 1, 1, "invalid number"),
            ("1e", 1, 1, "invalid number"),
            ("+1", 1, 1, "expected a JSON value"),
            ("nul", 1, 1, "expected a JSON value"),
            ("-Inf", 1, 1, "expected a JSON value"),
            ("nan", 1, 1, "expected a JSON value"),
            ("[1] x", 1, 5, "unexpected text after the JSON value"),
            ("{}{}", 1, 3, "unexpected text after the JSON value"),
            ("[\n  1,\n  é x]", 3, 3, "expected a JSON value, found 'é'"),
            (
                "[\"é\", \n\"ü\" x]",
                2,
                5,
                "expected ',' or ']' after an array item, found 'x'",
            ),
        ];
        for &(text, line, column, reason) in cases {
            let e = err(text);
            assert!(
                e.message.contains(reason),
                "{text:?}: got {e}, want {reason:?}"
            );
            assert_eq!((e.line, e.column), (line, column), "{text:?}: {e}");
        }
        let e = err("[1 2]");
        assert_eq!(
            e.to_string(),
            "line 1, column 4: expected ',' or ']' after an array item, found '2'"
        );
    }

    #[test]
    fn nesting_up_to_the_limit_parses_and_beyond_it_is_an_error() {
        let nested = |depth: usize, open: &str, inner: &str, close: &str| {
            format!("{}{}{}", open.repeat(depth), inner, close.repeat(depth))
        };
        let deep = nested(1000, "[", "", "]");
        assert_eq!(round_trip(&deep), deep);
        let deep = nested(MAX_DEPTH, "{\"a\": ", "1", "}");
        assert_eq!(round_trip(&deep), deep);
        let e = err(&nested(MAX_DEPTH + 1, "[", "", "]"));
        assert!(e.message.contains("nested deeper"), "{e}");
        assert_eq!((e.line, e.column), (1, MAX_DEPTH + 1));
        // Far deeper input fails the same way instead of overflowing the stack.
        let e = err(&"[".repeat(1_000_000));
        assert!(e.message.contains("nested deeper"), "{e}");
    }
}
