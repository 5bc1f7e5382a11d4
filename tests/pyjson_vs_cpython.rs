//! Differential tests of `cachescope::pyjson` against the real CPython on this machine:
//! `json.dumps(v, sort_keys=True)` of seeded random values, and `repr(float)` of a million
//! seeded random bit patterns plus the edge cases. Python runs once per test, batched.

mod support;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use cachescope::pyjson::{DumpError, Float, Key, SortKeys, Value, dumps, float_repr, parse};

const VALUES_SEED: u64 = 20_261_124;
const VALUES_COUNT: usize = 12_000;
const RANDOM_FLOATS: usize = 1_000_000;
const FLOATS_SEED: u64 = 0x5eed_f10a7;

/// How many failing cases a test prints before giving the total.
const SHOW: usize = 8;

fn python() -> PathBuf {
    support::plain_venv("3").python
}

/// Runs `cmd` with `input` on stdin (written from a thread, so a large input and a large
/// output cannot deadlock) and returns stdout; panics with stderr when it fails.
fn run_python(mut cmd: Command, input: Vec<u8>, what: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: could not start Python: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || {
        // A write error means Python exited early; its stderr says why.
        let _ = stdin.write_all(&input);
    });
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut stdout)
        .unwrap_or_else(|e| panic!("{what}: reading Python's output: {e}"));
    let mut stderr = String::new();
    let _ = child
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut stderr);
    let status = child.wait().expect("wait for Python");
    writer.join().expect("stdin writer thread");
    assert!(
        status.success(),
        "{what}: Python failed ({status}):\n{stderr}"
    );
    stdout
}

/// Prints the first few failures and panics with the count, if there are any.
fn report(what: &str, failures: &[String], total: usize) {
    if failures.is_empty() {
        return;
    }
    for failure in failures.iter().take(SHOW) {
        eprintln!("---- {failure}");
    }
    panic!(
        "{what}: {} of {total} cases differ from CPython (first {} shown above)",
        failures.len(),
        failures.len().min(SHOW)
    );
}

// ----- a) json.dumps of random values -----

/// Rebuilds a value from the generator's tagged description (see the Python script's doc).
fn build_value(desc: &serde_json::Value, nth_float: &mut usize) -> Value {
    let parts = desc.as_array().expect("a description is an array");
    let tag = parts[0].as_str().expect("a tag");
    match tag {
        "n" => Value::Null,
        "b" => Value::Bool(parts[1].as_bool().expect("bool")),
        "i" => Value::Int(parts[1].as_str().expect("int text").to_string()),
        "f" => {
            let value = float_from_hex(&parts[1]);
            // Every third float carries a non-canonical text, as a hand-edited record might:
            // the writer must print Python's repr regardless.
            *nth_float += 1;
            let text = nth_float
                .is_multiple_of(3)
                .then(|| format!("{value:e}").into_boxed_str());
            Value::Float(Float { value, text })
        }
        "s" => Value::Str(parts[1].as_str().expect("str").to_string()),
        "l" => Value::Array(
            parts[1]
                .as_array()
                .expect("items")
                .iter()
                .map(|d| build_value(d, nth_float))
                .collect(),
        ),
        "d" => Value::Object(
            parts[1]
                .as_array()
                .expect("entries")
                .iter()
                .map(|entry| {
                    let kv = entry.as_array().expect("a [key, value] pair");
                    (build_key(&kv[0]), build_value(&kv[1], nth_float))
                })
                .collect(),
        ),
        other => panic!("unknown tag {other:?}"),
    }
}

fn build_key(desc: &serde_json::Value) -> Key {
    let parts = desc.as_array().expect("a key description is an array");
    match parts[0].as_str().expect("a tag") {
        "n" => Key::Null,
        "b" => Key::Bool(parts[1].as_bool().expect("bool")),
        "i" => Key::Int(parts[1].as_str().expect("int text").to_string()),
        "f" => Key::Float(float_from_hex(&parts[1])),
        "s" => Key::Str(parts[1].as_str().expect("str").to_string()),
        other => panic!("tag {other:?} cannot be a key"),
    }
}

fn float_from_hex(hex: &serde_json::Value) -> f64 {
    let hex = hex.as_str().expect("float bits as hex");
    f64::from_bits(u64::from_str_radix(hex, 16).expect("16 hex digits"))
}

/// Counts what the values exercise, so the test can insist the generator covered it.
#[derive(Default)]
struct Coverage {
    unsortable: usize,
    nan_key_dicts_with_other_numbers: usize,
    big_dicts: usize,
    astral_strings: usize,
}

fn cover(value: &Value, cov: &mut Coverage) {
    match value {
        Value::Str(s) if s.chars().any(|c| c > '\u{ffff}') => cov.astral_strings += 1,
        Value::Array(items) => items.iter().for_each(|v| cover(v, cov)),
        Value::Object(entries) => {
            let nan = entries
                .iter()
                .any(|(k, _)| matches!(k, Key::Float(f) if f.is_nan()));
            let other_number = entries.iter().any(|(k, _)| match k {
                Key::Float(f) => !f.is_nan(),
                Key::Int(_) | Key::Bool(_) => true,
                _ => false,
            });
            if nan && other_number {
                cov.nan_key_dicts_with_other_numbers += 1;
            }
            if entries.len() >= 64 {
                cov.big_dicts += 1;
            }
            entries.iter().for_each(|(_, v)| cover(v, cov));
        }
        _ => {}
    }
}

#[test]
fn dumps_matches_cpython_on_random_values() {
    let started = Instant::now();
    let script = support::repo_root().join("tests/py/pyjson_random_values.py");
    let mut cmd = Command::new(python());
    cmd.arg(&script)
        .arg(VALUES_SEED.to_string())
        .arg(VALUES_COUNT.to_string());
    let output = run_python(cmd, Vec::new(), "generating random values");
    let mut lines = output.lines();
    let header = lines.next().expect("a header line");
    assert!(
        header.starts_with("# python "),
        "unexpected header {header:?}"
    );
    let nan_mixing = header.ends_with("nan_mixing=1");

    let mut dump_failures = Vec::new();
    let mut round_trip_failures = Vec::new();
    let mut compared = 0;
    let mut unsortable = 0;
    let mut cov = Coverage::default();
    let mut nth_float = 0;
    let mut rereads_differing = 0;
    for (n, line) in lines.enumerate() {
        let mut columns = line.split('\t');
        let (Some(desc_text), Some(expected), Some(reread), None) = (
            columns.next(),
            columns.next(),
            columns.next(),
            columns.next(),
        ) else {
            panic!("value {n}: not three tab-separated columns: {line:?}");
        };
        let desc: serde_json::Value = serde_json::from_str(desc_text)
            .unwrap_or_else(|e| panic!("value {n}: bad description: {e}"));
        let value = build_value(&desc, &mut nth_float);
        cover(&value, &mut cov);
        compared += 1;

        let got = dumps(&value, SortKeys::Python);
        match (expected, &got) {
            ("!TypeError", Err(DumpError::Unsortable(_))) => {
                unsortable += 1;
                continue;
            }
            (expected, Ok(got)) if got == expected => {}
            _ => {
                let got = match &got {
                    Ok(text) => text.clone(),
                    Err(e) => format!("error: {e}"),
                };
                dump_failures.push(format!(
                    "value {n}\n  description: {desc_text}\n  python: {expected}\n  rust:   {got}"
                ));
                continue;
            }
        }

        // Python's text, read back and written in stored order, must give what Python's
        // json.dumps(json.loads(text)) gives: the same text, with repeated keys collapsed.
        let again = parse(expected)
            .map_err(|e| format!("parse error: {e}"))
            .and_then(|v| dumps(&v, SortKeys::Preserve).map_err(|e| e.to_string()));
        if again.as_deref() != Ok(reread) {
            round_trip_failures.push(format!(
                "value {n}\n  python text: {expected}\n  python reread: {reread}\n  \
                 rust parse + dumps: {again:?}"
            ));
        }
        if reread != expected {
            rereads_differing += 1;
        }
    }
    cov.unsortable = unsortable;
    eprintln!(
        "dumps vs CPython: {compared} values compared ({unsortable} unsortable, {} dicts mixing \
         NaN with other numeric keys, {} dicts of 64+ keys, {} strings with astral characters, \
         {rereads_differing} texts with repeated keys) in {:.1?}",
        cov.nan_key_dicts_with_other_numbers,
        cov.big_dicts,
        cov.astral_strings,
        started.elapsed()
    );
    report("json.dumps(v, sort_keys=True)", &dump_failures, compared);
    report("parse then dumps(Preserve)", &round_trip_failures, compared);

    assert!(compared >= 10_000, "only {compared} values were compared");
    // The generator must keep producing what this test is for.
    assert!(
        cov.unsortable >= 100,
        "only {} unsortable values",
        cov.unsortable
    );
    assert!(cov.big_dicts >= 50, "only {} big dicts", cov.big_dicts);
    assert!(
        cov.astral_strings >= 100,
        "only {} astral strings",
        cov.astral_strings
    );
    if nan_mixing {
        assert!(
            cov.nan_key_dicts_with_other_numbers >= 200,
            "only {} dicts mixing NaN with other numeric keys",
            cov.nan_key_dicts_with_other_numbers
        );
    }
}

// ----- b) repr(float) of random bit patterns -----

/// splitmix64: a small seeded generator, so the test needs no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        x
    } else if x == 0.0 {
        f64::from_bits(1)
    } else if x > 0.0 {
        f64::from_bits(x.to_bits() + 1)
    } else {
        f64::from_bits(x.to_bits() - 1)
    }
}

fn next_down(x: f64) -> f64 {
    -next_up(-x)
}

/// The hand-picked cases: zeros, subnormals, the extremes, non-finite values, and every power
/// of ten (and its neighbours) near the 1e-4 and 1e16 layout switches.
fn edge_case_floats() -> Vec<f64> {
    let mut v = vec![
        0.0,
        5e-324,
        1e-323,
        f64::from_bits(0x000f_ffff_ffff_ffff), // largest subnormal
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::EPSILON,
        1.0,
        0.1,
        0.2 + 0.1,
        1.0 / 3.0,
        2f64.powi(53),
        2f64.powi(53) + 2.0,
        2f64.powi(63),
        2f64.powi(64),
        9_999_999_999_999_998.0,
        1e15 + 0.5,
        123_456_789_012_345_680.0,
        0.000_099_999_999_999_999_99,
        f64::NAN,
        f64::INFINITY,
        f64::from_bits(0x7ff0_0000_0000_0001), // signalling NaN
        f64::from_bits(0x7fff_ffff_ffff_ffff),
    ];
    for exp in -325..=309 {
        let p: f64 = format!("1e{exp}").parse().expect("a power of ten");
        v.extend([p, next_up(p), next_down(p)]);
    }
    for exp in -6..=18 {
        let p: f64 = format!("1e{exp}").parse().expect("a power of ten");
        let mut up = p;
        let mut down = p;
        for _ in 0..20 {
            up = next_up(up);
            down = next_down(down);
            v.extend([up, down]);
        }
        v.extend([p * 9.999_999_999_999_999, p * 1.5, p * 9.5, p * 5.0]);
    }
    let negated: Vec<f64> = v.iter().map(|x| -x).collect();
    v.extend(negated);
    v
}

/// Random bit patterns, skewed towards floats people write as well as uniform bits.
fn random_floats(rng: &mut Rng, count: usize) -> Vec<f64> {
    (0..count)
        .map(|_| match rng.below(10) {
            0..=3 => f64::from_bits(rng.next()),
            4 => f64::from_bits(rng.next() & 0x800f_ffff_ffff_ffff), // subnormal or zero
            5 => {
                // Exponents where repr picks between its layouts (about 1e-7 to 1e20).
                let exponent = 1000 + rng.below(90);
                f64::from_bits((rng.next() & 0x800f_ffff_ffff_ffff) | (exponent << 52))
            }
            6 | 7 => {
                // Short decimals: few significant digits, any scale.
                let digits = 1 + rng.below(17) as u32;
                let mantissa = rng.below(10u64.pow(digits));
                let exp = rng.below(60) as i64 - 30;
                let sign = if rng.below(2) == 0 { "" } else { "-" };
                format!("{sign}{mantissa}e{exp}")
                    .parse()
                    .expect("a decimal float")
            }
            8 => {
                if rng.below(2) == 0 {
                    (rng.next() >> rng.below(64)) as f64
                } else {
                    // Few binary fraction digits: where exact decimal ties between two
                    // shortest candidates happen (1e15 + 0.25).
                    let odd = (rng.next() >> 11) | 1;
                    let exp = rng.below(100) as i32 - 60;
                    odd as f64 * 2f64.powi(exp)
                }
            }
            _ => {
                let exp = rng.below(30) as i32 - 8;
                let mut x: f64 = format!("1e{exp}").parse().expect("a power of ten");
                for _ in 0..rng.below(4) {
                    x = if rng.below(2) == 0 {
                        next_up(x)
                    } else {
                        next_down(x)
                    };
                }
                x
            }
        })
        .collect()
}

#[test]
fn float_repr_matches_cpython_on_random_bits() {
    let started = Instant::now();
    let mut floats = edge_case_floats();
    let edge_cases = floats.len();
    let mut rng = Rng(FLOATS_SEED);
    floats.extend(random_floats(&mut rng, RANDOM_FLOATS));

    // One little-endian IEEE-754 double per line, as hex: what struct.unpack('<d') reads.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut input = Vec::with_capacity(floats.len() * 17);
    for x in &floats {
        for byte in x.to_bits().to_le_bytes() {
            input.extend([HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]]);
        }
        input.push(b'\n');
    }
    let mut cmd = Command::new(python());
    cmd.arg("-c").arg(
        "import struct, sys\n\
         raw = bytes.fromhex(sys.stdin.read())\n\
         sys.stdout.write(''.join(repr(x) + '\\n' for (x,) in struct.iter_unpack('<d', raw)))\n",
    );
    let output = run_python(cmd, input, "repr of floats");
    let python_lines: Vec<&str> = output.lines().collect();
    assert_eq!(
        python_lines.len(),
        floats.len(),
        "Python answered {} lines for {} floats",
        python_lines.len(),
        floats.len()
    );

    let mut repr_failures = Vec::new();
    let mut parse_failures = Vec::new();
    for (x, want) in floats.iter().zip(&python_lines) {
        let got = float_repr(*x);
        if got != *want {
            repr_failures.push(format!(
                "bits {:016x}: python {want}, rust {got}",
                x.to_bits()
            ));
        }
        // Reading the JSON text of the float back must give the same float. For finite
        // floats that text is the repr itself.
        let json = if x.is_finite() {
            got
        } else {
            dumps(&Value::Float(Float::new(*x)), SortKeys::Python).expect("a float dumps")
        };
        let same = match parse(&json) {
            Ok(Value::Float(f)) if x.is_nan() => f.value.is_nan(),
            Ok(Value::Float(f)) => f.value.to_bits() == x.to_bits(),
            _ => false,
        };
        if !same {
            parse_failures.push(format!(
                "bits {:016x}: {json} parsed as {:?}",
                x.to_bits(),
                parse(&json)
            ));
        }
    }
    eprintln!(
        "repr vs CPython: {} floats compared ({edge_cases} edge cases, {RANDOM_FLOATS} random) \
         in {:.1?}",
        floats.len(),
        started.elapsed()
    );
    report("repr(float)", &repr_failures, floats.len());
    report(
        "parse of the JSON float text",
        &parse_failures,
        floats.len(),
    );
}

// ----- c) the record reader's key-ordering rule (run-record-v1, "Encoded values") -----

/// A record written by a tool that does not sort (string-keyed dicts in any order, number-keyed
/// dicts in numeric order) hashes exactly as Prefect hashed the value: `hash_objects` with the
/// record rule equals md5 of CPython's `json.dumps(sort_keys=True)`, and the reader notices
/// exactly when the text was out of Python's order. Guards the FlowParameters bug of issue 7
/// (parameters recorded in declaration order were hashed in that order).
#[test]
fn record_key_order_hashes_as_cpython_sorts() {
    const COUNT: usize = 3_000;
    let script = support::repo_root().join("tests/py/record_order_values.py");
    let mut cmd = Command::new(python());
    cmd.arg(&script).arg("20261201").arg(COUNT.to_string());
    let output = run_python(cmd, Vec::new(), "generating out-of-order values");
    let mut failures = Vec::new();
    let mut reordered = 0;
    let mut total = 0;
    for (n, line) in output.lines().enumerate() {
        let mut columns = line.split('\t');
        let (Some(text), Some(expected), Some(flag), None) = (
            columns.next(),
            columns.next(),
            columns.next(),
            columns.next(),
        ) else {
            panic!("value {n}: not three tab-separated columns: {line:?}");
        };
        total += 1;
        let value = parse(text).unwrap_or_else(|e| panic!("value {n}: {e}"));
        let got = cachescope::hash::hash_objects(&[&value], SortKeys::Record);
        if got.as_deref() != Ok(expected) {
            failures.push(format!(
                "value {n}: got {got:?}, CPython {expected}\n{text}"
            ));
        }
        let out_of_order = cachescope::pyjson::out_of_record_order(&value);
        if out_of_order != (flag == "1") {
            failures.push(format!(
                "value {n}: out_of_record_order says {out_of_order}, CPython's text says {flag}\n{text}"
            ));
        }
        reordered += usize::from(flag == "1");
    }
    assert_eq!(total, COUNT, "the generator printed every value");
    assert!(
        reordered > COUNT / 2,
        "most generated values must need reordering, or the test proves little ({reordered})"
    );
    report("record key order", &failures, total);
}
