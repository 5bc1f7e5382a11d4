//! The source extractor, differentially: on any bytes, decoding (encoding cookies, BOMs),
//! indexing every function and extracting each as `inspect.getsource` would never panics; on
//! the committed modules of fuzz/source-truth and their variants (line endings, a BOM, lines
//! in front, any text after them) it returns exactly the text CPython's `inspect.getsource`
//! returned, as committed by fuzz/make_source_truth.py. The input's layout (a plain file, or
//! a module picked by index with the rest of the input appended) is in fuzz/source_truth.rs.
#![no_main]

#[path = "../source_truth.rs"]
mod source_truth;

use std::path::Path;
use std::sync::OnceLock;

use cachescope::source::{PythonVersion, SourceFile};
use libfuzzer_sys::fuzz_target;

fn truths() -> &'static [source_truth::Truth] {
    static TRUTHS: OnceLock<Vec<source_truth::Truth>> = OnceLock::new();
    TRUTHS.get_or_init(|| {
        source_truth::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("source-truth"))
    })
}

/// Everything a caller can ask of a file, on any bytes: no panic.
fn exercise(bytes: &[u8], python: PythonVersion, salt: u8) {
    let Ok(file) = SourceFile::from_bytes(bytes, python) else {
        return;
    };
    for def in file.functions() {
        if let Ok(src) = file.source_of(def) {
            assert!(src.first_line <= src.last_line);
        }
        let _ = file.find_function(&def.qualname, Some(def.code_first_line));
    }
    let _ = file.find_function("f", None);
    let _ = file.source_at_line(1 + usize::from(salt));
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = source_truth::decode(truths(), data) else {
        return;
    };
    exercise(&input.bytes, input.python, data[0]);
    if let Some((module, leading)) = input.truth
        && let Err(e) = source_truth::check(input.python, module, &input.bytes, leading)
    {
        panic!("cachescope differs from CPython's inspect.getsource: {e}");
    }
});
