//! The Python-compatible JSON parser and writer: whatever parses, written out (stored order)
//! parses again to the same value, and writing that value again gives the same text.
#![no_main]

use cachescope::pyjson::{SortKeys, dumps, parse};
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
    let _ = dumps(&value, SortKeys::Record);
});
