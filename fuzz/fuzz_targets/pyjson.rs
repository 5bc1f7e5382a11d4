//! The Python-compatible JSON parser and writer: whatever parses, written out (stored order)
//! parses again to the same value, and writing that value again gives the same text. And the
//! canonical check, which lets `keys` hash text as it is, against the writer: text it accepts is
//! exactly what the writer writes for its value (also once respaced, for text with other
//! whitespace), and every number the writer writes it accepts.
#![no_main]

use cachescope::pyjson::{
    MAX_DEPTH, SortKeys, Value, canonical_len, canonical_respaced_within, dumps, parse,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(value) = parse(text) else {
        return;
    };
    let written = dumps(&value, SortKeys::Preserve).expect("stored order never fails");
    let again =
        parse(&written).unwrap_or_else(|e| panic!("written text does not parse: {e}: {written:?}"));
    assert_eq!(again, value, "round trip changed the value: {written:?}");
    let rewritten = dumps(&again, SortKeys::Preserve).unwrap();
    assert_eq!(rewritten, written, "writing is not stable");
    // Sorted writing may refuse (unsortable keys) but must not panic.
    let _ = dumps(&value, SortKeys::Python);
    let record_order = dumps(&value, SortKeys::Record);
    if let Some(len) = canonical_len(text) {
        let span = &text[..len];
        let of_span = parse(span).unwrap_or_else(|e| panic!("accepted text does not parse: {e}"));
        let canonical = dumps(&of_span, SortKeys::Record).expect("canonical text writes");
        assert_eq!(
            canonical, span,
            "accepted as canonical, but the writer writes otherwise"
        );
    }
    // Respacing: what it accepts, with any whitespace between the tokens, is the writer's
    // text once respaced; and text it accepts as it is stays as it is.
    let mut respaced = String::new();
    if let Some(len) = canonical_respaced_within(text, MAX_DEPTH, &mut respaced) {
        let of_span =
            parse(&text[..len]).unwrap_or_else(|e| panic!("respaced text does not parse: {e}"));
        let canonical = dumps(&of_span, SortKeys::Record).expect("canonical text writes");
        assert_eq!(
            canonical, respaced,
            "respaced, but the writer writes otherwise"
        );
        if let Some(plain) = canonical_len(text) {
            assert_eq!(plain, len);
            assert_eq!(respaced, text[..len]);
        }
    } else {
        assert_eq!(
            canonical_len(text),
            None,
            "canonical as it is, but not respaced"
        );
    }
    // The check may refuse what it is unsure of, but never a number as the writer writes it.
    if let (Value::Float(_) | Value::Int(_), Ok(written)) = (&value, &record_order) {
        assert_eq!(
            canonical_len(written),
            Some(written.len()),
            "refused {written:?}"
        );
    }
});
