//! Python-compatible JSON: a parser for the text Python's `json` module writes, and a writer that
//! produces exactly what `json.dumps(value, sort_keys=True)` produces.
//!
//! Prefect hashes the text of `json.dumps`, so every byte matters: float `repr`, `\uXXXX`
//! escapes with surrogate pairs, bare `NaN`/`Infinity`, integers of any size, and key order.

mod canonical;
mod float_repr;
mod locate;
mod object_end;
mod parse;
mod spaced;
mod value;
mod write;

pub use canonical::{
    canonical_entries, canonical_len, canonical_len_within, canonical_respaced_within,
};
pub(crate) use canonical::{hex4, plain_run, string_end, whitespace_end};
pub use float_repr::{float_repr, write_float_repr};
pub use locate::{Located, Step, locate, path_name};
pub use object_end::{object_end, object_end_spaced};
pub use parse::{CanonicalSpans, MAX_DEPTH, ParseError, Span, SpanText, parse, parse_record_lean};
pub(crate) use spaced::{respaced_object_len, spaced_object_len};
pub use value::{Float, Key, Value};
pub use write::{
    DumpError, JsonOut, SortKeys, dumps, out_of_record_order, record_str_order, write_key,
    write_str, write_value,
};
