//! The source extractor on any bytes: decoding (encoding cookies, BOMs), indexing every
//! function and extracting each as `inspect.getsource` would never panics. The first byte
//! picks the Python version.
#![no_main]

use cachescope::source::{PythonVersion, SourceFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&v, bytes)) = data.split_first() else {
        return;
    };
    let python = PythonVersion::new(3, 9 + v % 5);
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
    let _ = file.source_at_line(1 + usize::from(v));
});
