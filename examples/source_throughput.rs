//! Measures how fast `cachescope::source` extracts functions: every function of every `.py`
//! file under a directory (a Python standard library, say), as `inspect.getsource` would
//! return it.
//!
//! Run: `cargo run --release --example source_throughput -- <dir> [python version, e.g. 3.13]`
//!
//! The files are read into memory first; the timed part is decoding, indexing and extracting
//! every function, which is what the watcher does on each save.

use std::path::{Path, PathBuf};
use std::time::Instant;

use cachescope::source::{PythonVersion, SourceFile};

fn python_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            // Third-party packages installed into the interpreter are not the standard library.
            if p.file_name().is_some_and(|n| n == "site-packages") {
                continue;
            }
            python_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "py") {
            out.push(p);
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: source_throughput <dir> [python version, default 3.11]");
        std::process::exit(2);
    };
    let python: PythonVersion = match args.next().unwrap_or_else(|| "3.11".into()).parse() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut paths = Vec::new();
    python_files(Path::new(&dir), &mut paths);
    let files: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    let bytes: usize = files.iter().map(Vec::len).sum();

    const ROUNDS: usize = 3;
    let mut best = f64::INFINITY;
    let (mut functions, mut failed_files, mut failed_functions, mut source_bytes) =
        (0usize, 0usize, 0usize, 0usize);
    for _ in 0..ROUNDS {
        (functions, failed_files, failed_functions, source_bytes) = (0, 0, 0, 0);
        let start = Instant::now();
        for data in &files {
            let Ok(file) = SourceFile::from_bytes(data, python) else {
                failed_files += 1;
                continue;
            };
            for def in file.functions() {
                match file.source_of(def) {
                    Ok(s) => {
                        functions += 1;
                        source_bytes += s.source.len();
                    }
                    Err(_) => failed_functions += 1,
                }
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{} files ({:.1} MB) under {dir}, Python {python} rules: {functions} functions extracted \
         ({:.1} MB of source), {failed_functions} functions and {failed_files} files failed",
        files.len(),
        bytes as f64 / 1e6,
        source_bytes as f64 / 1e6
    );
    println!(
        "best of {ROUNDS}: {:.3} s, {:.0} functions/s, {:.1} MB/s of files",
        best,
        functions as f64 / best,
        bytes as f64 / 1e6 / best
    );
}
