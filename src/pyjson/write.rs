//! The writer: `json.dumps(value, sort_keys=...)` with Python's default separators and escapes.

use super::value::Value;

/// How object keys are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKeys {
    /// Keep the stored order (values loaded from records, already sorted by Python).
    Preserve,
    /// Sort as `sort_keys=True` does, by the keys' original Python values.
    Python,
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

/// Appends the JSON text of `value` to `out`.
pub fn write_value(value: &Value, sort: SortKeys, out: &mut String) -> Result<(), DumpError> {
    let _ = (value, sort, out);
    todo!("helper: writer")
}

/// Appends a JSON string literal, escaped as with `ensure_ascii=True`.
pub fn write_str(s: &str, out: &mut String) {
    let _ = (s, out);
    todo!("helper: writer")
}
