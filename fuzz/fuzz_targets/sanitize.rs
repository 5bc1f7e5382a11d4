//! The terminal sanitiser: its output never holds a character `is_unsafe` names (multi-line
//! text keeps only `\n` and `\t`), and text with nothing unsafe comes back unchanged.
#![no_main]

use cachescope::sanitize::{is_unsafe, sanitize_line, sanitize_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let line = sanitize_line(&s);
    assert!(!line.chars().any(is_unsafe), "{line:?}");
    let text = sanitize_text(&s);
    assert!(
        !text.chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t'),
        "{text:?}"
    );
    if !s.chars().any(is_unsafe) {
        assert_eq!(line, s);
        assert_eq!(text, s);
    }
});
