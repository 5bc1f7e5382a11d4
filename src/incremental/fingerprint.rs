//! Content fingerprints: what a file held when it was last read, so that an event for a file
//! whose bytes did not change (a save with no edit, a `touch`, a rewrite with the same text)
//! does nothing.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::live::SourceProblem;

/// What a file held, or why it held nothing readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fingerprint {
    /// Not there.
    Missing,
    /// There but not readable (permission denied, a folder): why.
    Unreadable(String),
    /// The 128-bit xxh3 of its bytes. Nothing but this process compares it, and only to tell
    /// whether a file's bytes changed: SHA-256 was a fifth of `watch`'s start-up CPU on ten
    /// big `.jsonl` files, where xxh3 runs at memory speed.
    Content(u128),
}

impl Fingerprint {
    pub fn of_bytes(bytes: &[u8]) -> Fingerprint {
        Fingerprint::Content(xxhash_rust::xxh3::xxh3_128(bytes))
    }

    /// Of a read with `std::fs::read`.
    pub fn of_read(read: &io::Result<Vec<u8>>) -> Fingerprint {
        match read {
            Ok(bytes) => Fingerprint::of_bytes(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Fingerprint::Missing,
            Err(e) => Fingerprint::Unreadable(e.kind().to_string()),
        }
    }

    /// Of a source file read as the live recomputation reads it.
    pub fn of_source(read: &Result<Vec<u8>, SourceProblem>) -> Fingerprint {
        match read {
            Ok(bytes) => Fingerprint::of_bytes(bytes),
            Err(SourceProblem::FileMissing { .. }) => Fingerprint::Missing,
            Err(problem) => Fingerprint::Unreadable(problem.to_string()),
        }
    }
}

/// The last fingerprint of every file looked at.
#[derive(Debug, Default)]
pub struct Fingerprints {
    files: HashMap<PathBuf, Fingerprint>,
}

impl Fingerprints {
    pub fn new() -> Fingerprints {
        Fingerprints::default()
    }

    /// Records what `path` holds now; true when that is not what it held before. A file never
    /// seen counts as missing before, so that a file that appears is a change and a file that
    /// never was is not.
    pub fn update(&mut self, path: &Path, now: Fingerprint) -> bool {
        let before = self.files.get(path).unwrap_or(&Fingerprint::Missing);
        if *before == now {
            return false;
        }
        if now == Fingerprint::Missing {
            self.files.remove(path);
        } else {
            self.files.insert(path.to_path_buf(), now);
        }
        true
    }

    pub fn get(&self, path: &Path) -> &Fingerprint {
        self.files.get(path).unwrap_or(&Fingerprint::Missing)
    }

    pub fn forget(&mut self, path: &Path) {
        self.files.remove(path);
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_change_of_bytes_or_of_readability_is_a_change() {
        let p = Path::new("/p/etl.py");
        let denied = || -> io::Result<Vec<u8>> { Err(io::ErrorKind::PermissionDenied.into()) };
        let gone = || -> io::Result<Vec<u8>> { Err(io::ErrorKind::NotFound.into()) };
        let text = |s: &str| -> io::Result<Vec<u8>> { Ok(s.as_bytes().to_vec()) };
        // (what the file holds now, is it a change)
        let steps: &[(io::Result<Vec<u8>>, bool)] = &[
            (gone(), false),                  // never there: nothing
            (text("def f(): pass\n"), true),  // appears
            (text("def f(): pass\n"), false), // saved with no edit, touched
            (text("def f(): pass \n"), true), // one byte
            (text("def f(): pass\n"), true),  // undone
            (denied(), true),                 // chmod 000
            (denied(), false),                // still denied
            (text("def f(): pass\n"), true),  // readable again
            (gone(), true),                   // deleted
            (gone(), false),                  // still gone
            (text("def f(): pass\n"), true),  // re-created
        ];
        let mut f = Fingerprints::new();
        for (i, (read, change)) in steps.iter().enumerate() {
            assert_eq!(f.update(p, Fingerprint::of_read(read)), *change, "step {i}");
        }
    }

    #[test]
    fn source_reads_fingerprint_like_file_reads() {
        let missing = Err(SourceProblem::FileMissing { tried: vec![] });
        assert_eq!(Fingerprint::of_source(&missing), Fingerprint::Missing);
        let ok: Result<Vec<u8>, SourceProblem> = Ok(b"x".to_vec());
        assert_eq!(
            Fingerprint::of_source(&ok),
            Fingerprint::of_read(&Ok(b"x".to_vec()))
        );
    }
}
