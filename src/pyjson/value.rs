//! The value model: what Python's JSON encoder can see, with numbers kept exact.

/// A JSON value as Python's `json` module sees it.
///
/// Integers keep their decimal text (Python ints have any size); floats keep the f64 and, when
/// they came from text, that text. Objects keep their order: values loaded from a run record are
/// already in the order Python's `sort_keys` put them, which for int keys is numeric order and so
/// cannot be recovered by sorting the string keys again.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// Decimal text of a Python int: optional `-`, then digits, no leading zeros, never `-0`.
    Int(String),
    Float(Float),
    Str(String),
    /// A Python list or tuple.
    Array(Vec<Value>),
    Object(Vec<(Key, Value)>),
}

/// A float, with the exact text it was parsed from when it came from text.
#[derive(Debug, Clone)]
pub struct Float {
    pub value: f64,
    /// The literal as written in the source text, when the value was parsed.
    ///
    /// For display only: the writer never prints it, because `json.dumps` prints
    /// `repr(float(text))`, which it recomputes from `value` (`1.50` comes out `1.5`).
    pub text: Option<Box<str>>,
}

impl Float {
    pub fn new(value: f64) -> Float {
        Float { value, text: None }
    }
}

impl PartialEq for Float {
    fn eq(&self, other: &Float) -> bool {
        self.value.to_bits() == other.value.to_bits()
    }
}

/// A dict key as Python had it before `json.dumps` turned it into a string.
///
/// Parsed JSON only ever has `Str` keys; the other kinds exist so that values built in Rust
/// (edited inputs, what-ifs, the differential tests) sort and print as Python would.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Str(String),
    /// Decimal text of an int key, as in [`Value::Int`].
    Int(String),
    Float(f64),
    Bool(bool),
    Null,
}

impl Value {
    /// The object's entries, if this is an object.
    pub fn as_object(&self) -> Option<&[(Key, Value)]> {
        match self {
            Value::Object(entries) => Some(entries),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Looks up a string key in an object (the last one wins, as in a Python dict).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?
            .iter()
            .rev()
            .find(|(k, _)| matches!(k, Key::Str(s) if s == key))
            .map(|(_, v)| v)
    }
}
