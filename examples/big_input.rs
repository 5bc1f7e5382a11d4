//! Measures how close hashing one record with a big input comes to raw md5: the record's text
//! (one line of a `.jsonl` file or a `.json` file, as bench/make_records.py --big writes it) is
//! read into memory, then timed, best of 5:
//!
//! - raw md5 over the record's bytes (the md-5 crate): the floor;
//! - what `keys` does with the record: the lean parse (the canonical check over the input's
//!   span, nothing built from it), the record read, every node recomputed;
//! - the same through the writer: the full parse into values, then every value written
//!   straight into md5 (what happens when the recorded text is not canonical).
//!
//! Times are the best wall time of 7 runs (a big input is hashed on a second core while it is
//! checked), with the CPU time of all threads in that run (in 10 ms ticks) beside it.
//!
//! Run: `cargo run --release --example big_input -- <record file>`

use std::time::Instant;

use cachescope::engine::{recompute, recompute_lean};
use cachescope::load::{Unit, load_unit, visit_unit_lean};
use md5::{Digest, Md5};

/// The process's CPU time (all threads, user and system) in seconds, where Linux tells it.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses): utime and stime are 14 and 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The best wall time of `rounds` runs of `f`, with the CPU time of that run (all threads).
fn best_of<T>(rounds: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let (mut best, mut best_cpu) = (f64::INFINITY, f64::NAN);
    let mut last = None;
    for _ in 0..rounds {
        let (cpu, wall) = (cpu_seconds(), Instant::now());
        let out = f();
        let took = wall.elapsed().as_secs_f64();
        if took < best {
            best = took;
            best_cpu = match (cpu, cpu_seconds()) {
                (Some(a), Some(b)) => b - a,
                _ => f64::NAN,
            };
        }
        last = Some(out);
    }
    (best, best_cpu, last.expect("at least one round"))
}

fn unit(path: &std::path::Path, bytes: &[u8]) -> Unit {
    Unit::Lines {
        path: path.into(),
        first_line: 0,
        first_byte: 0,
        bytes: bytes.to_vec().into(),
        line_ends: bytes.iter().filter(|&&b| b == b'\n').count(),
        file_len: bytes.len() as u64,
    }
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: big_input <record file>");
        std::process::exit(2);
    };
    let path = std::path::PathBuf::from(path);
    let mut bytes = std::fs::read(&path).expect("read the record file");
    // One record: the first line of a .jsonl file, or the whole .json file on one line.
    if path.extension().is_some_and(|e| e == "jsonl")
        && let Some(end) = bytes.iter().position(|&b| b == b'\n')
    {
        bytes.truncate(end + 1);
    }
    let mb = bytes.len() as f64 / 1e6;
    const ROUNDS: usize = 7;

    let (raw, raw_cpu, digest) = best_of(ROUNDS, || Md5::digest(&bytes));
    // As `keys` does it: the record is recomputed as it is read, its canonical inputs hashed
    // where they lie in the bytes read (the unit owns a copy of them, as it owns what it reads).
    let (lean, lean_cpu, key) = best_of(ROUNDS, || {
        let mut key = None;
        visit_unit_lean(unit(&path, &bytes), |loaded, texts| {
            let record = loaded.record.as_ref().expect("the record loads");
            key = recompute_lean(record, &texts).key;
        });
        key
    });
    let (full, full_cpu, full_key) = best_of(ROUNDS, || {
        let loaded = load_unit(unit(&path, &bytes));
        let record = loaded[0].record.as_ref().expect("the record loads");
        recompute(record).key
    });
    assert_eq!(key, full_key, "both ways give the same key");
    // The parts of the lean path: the scan of the record (with the canonical check of the
    // input's span) and the check alone.
    let text = std::str::from_utf8(&bytes).expect("UTF-8");
    let (scan, _, spans) = best_of(ROUNDS, || {
        cachescope::pyjson::parse_record_lean(text.trim_end())
            .expect("parses")
            .1
    });
    let cachescope::pyjson::SpanText::At(span) =
        spans.inputs.expect("the big input is canonical").0
    else {
        panic!("the big input is written as json.dumps writes it");
    };
    let (check, _, _) = best_of(ROUNDS, || {
        cachescope::pyjson::canonical_len(&text[span.start..])
    });
    println!(
        "record of {mb:.1} MB ({}), key {}, md5 of the text {}",
        path.display(),
        key.as_deref().unwrap_or("None"),
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    println!(
        "raw md5 (md-5 crate):               {raw:.3} s (CPU {raw_cpu:.2} s), {:.0} MB/s",
        mb / raw
    );
    println!(
        "keys' recompute (canonical span):   {lean:.3} s (CPU {lean_cpu:.2} s), {:.0} MB/s, \
         {:.2}x raw md5's time",
        mb / lean,
        lean / raw
    );
    println!(
        "  of which the lean parse:          {scan:.3} s; the canonical check alone {check:.3} s"
    );
    println!(
        "full parse + writer into md5:       {full:.3} s (CPU {full_cpu:.2} s), {:.0} MB/s, \
         {:.2}x raw md5's time",
        mb / full,
        full / raw
    );
}
