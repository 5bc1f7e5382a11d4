//! The record loader, from bytes to records or errors: never a panic, and every error names
//! the file it came from and, unless the file is empty, the line and column. The first byte
//! picks `.json` or `.jsonl`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    let path = Path::new(if kind & 1 == 0 { "r.json" } else { "r.jsonl" });
    for loaded in cachescope::load::load_bytes(path, bytes) {
        if let Err(e) = loaded.record {
            assert_eq!(e.path, path);
            assert!(!e.message.is_empty());
            assert!(
                e.line.is_some() && e.column.is_some() || e.message.starts_with("empty file"),
                "{e}"
            );
        }
    }
});
