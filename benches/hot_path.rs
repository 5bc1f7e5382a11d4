//! Criterion benches for the hot path of `keys` (issue 11): the record scanner, the JSON
//! writer, the canonical check, the float formatter, the source extractor and a compound
//! recompute. The inputs are built here, varied (no two floats or rows alike) so that nothing
//! measured is a cache hit. Run: `cargo bench --bench hot_path`.

use std::hint::black_box;

use cachescope::engine::{recompute, recompute_lean};
use cachescope::load::{Unit, load_unit, load_unit_lean};
use cachescope::pyjson::{SortKeys, canonical_len, dumps, float_repr, parse, parse_record_lean};
use cachescope::source::{PythonVersion, SourceFile};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A small deterministic generator, so the benches need no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn float(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Inputs as a recorder writes them: rows of ids, floats, text (some of it not ASCII), flags.
fn inputs_text(rng: &mut Rng, rows: usize) -> String {
    let words = [
        "alpha",
        "caf\\u00e9",
        "tab\\there",
        "\\ud83d\\ude00 x",
        "plain",
    ];
    let rows: Vec<String> = (0..rows)
        .map(|_| {
            let score = float_repr(rng.float() * 10f64.powi((rng.next() % 12) as i32 - 6));
            let id = rng.next() % 1_000_000_000;
            let word = words[(rng.next() % words.len() as u64) as usize];
            let ok = rng.next().is_multiple_of(2);
            format!(r#"{{"id": {id}, "label": "{word}-{id}", "ok": {ok}, "score": {score}}}"#)
        })
        .collect();
    format!(
        r#"{{"rows": [{}], "threshold": {}}}"#,
        rows.join(", "),
        rng.float()
    )
}

/// A record whose `Inputs` key is either the one Prefect computed from its inputs (`matching`,
/// as in a healthy runs folder) or another (the inputs changed since: the engine then checks
/// their text). The other keys are whatever: the recompute runs in full whatever it finds.
fn record_with(rng: &mut Rng, rows: usize, matching: bool) -> String {
    let inputs = inputs_text(rng, rows);
    let inputs_key = if matching {
        cachescope::hash::hash_json_text(&inputs)
    } else {
        "d".to_string()
    };
    format!(
        r#"{{"format": "cachescope/run-record@1", "flow": {{"run_id": "{:032x}", "parameters": {{"day": "2026-11-01", "limit": {}}}}}, "task": {{"name": "clean", "source": "@task\ndef clean(rows, threshold=0.5):\n    return [r for r in rows if r['score'] >= threshold]\n"}}, "task_run": {{"id": "tr"}}, "inputs": {inputs}, "policy": {{"policy": "CompoundCachePolicy", "key": "k", "policies": [{{"policy": "TaskSource", "key": "a"}}, {{"policy": "RunId", "key": "b"}}, {{"policy": "FlowParameters", "key": "c"}}, {{"policy": "Inputs", "key": "{inputs_key}", "exclude": []}}]}}, "key": "k"}}"#,
        rng.next(),
        rng.next() % 1000
    )
}

fn record_text(rng: &mut Rng, rows: usize) -> String {
    record_with(rng, rows, true)
}

fn scanner(c: &mut Criterion) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let records: Vec<String> = (0..200).map(|_| record_text(&mut rng, 20)).collect();
    let bytes: usize = records.iter().map(String::len).sum();
    let mut g = c.benchmark_group("record scanner");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("full parse (values built)", |b| {
        b.iter(|| {
            records
                .iter()
                .filter(|r| parse(black_box(r)).is_ok())
                .count()
        })
    });
    g.bench_function("lean parse (canonical inputs kept as text)", |b| {
        b.iter(|| {
            records
                .iter()
                .filter(|r| parse_record_lean(black_box(r)).is_ok())
                .count()
        })
    });
    g.bench_function(
        "fast lane, lean, inputs checked (straight to a RunRecord)",
        |b| {
            b.iter(|| {
                records
                    .iter()
                    .filter(|r| cachescope::record_fast::read(black_box(r), true).is_some())
                    .count()
            })
        },
    );
    g.bench_function(
        "fast lane, lean, inputs unchecked (as keys loads; the engine proves them)",
        |b| {
            b.iter(|| {
                records
                    .iter()
                    .filter(|r| cachescope::record_fast::read_unchecked(black_box(r)).is_some())
                    .count()
            })
        },
    );
    g.bench_function(
        "fast lane, lean, inputs unscanned (as keys loads; their md5 proves them)",
        |b| {
            b.iter(|| {
                records
                    .iter()
                    .filter(|r| cachescope::record_fast::read_deferred(black_box(r)).is_some())
                    .count()
            })
        },
    );
    g.bench_function(
        "fast lane, lean, inputs unscanned, then scanned (their md5 did not prove them)",
        |b| {
            b.iter(|| {
                records
                    .iter()
                    .filter_map(|r| cachescope::record_fast::read_deferred(black_box(r)))
                    .zip(&records)
                    .filter(|(f, r)| {
                        let mut inputs = f.inputs.clone();
                        cachescope::record_fast::scan_inputs(r, &mut inputs)
                    })
                    .count()
            })
        },
    );
    g.bench_function(
        "slow way, lean (parse_record_lean + RunRecord::from_value)",
        |b| {
            b.iter(|| {
                records
                    .iter()
                    .filter_map(|r| parse_record_lean(black_box(r)).ok())
                    .filter(|(v, _)| cachescope::record::RunRecord::from_value(v.clone()).is_ok())
                    .count()
            })
        },
    );
    g.finish();
}

fn writer(c: &mut Criterion) {
    let mut rng = Rng(7);
    let values: Vec<_> = (0..200)
        .map(|_| parse(&inputs_text(&mut rng, 20)).unwrap())
        .collect();
    let bytes: usize = values
        .iter()
        .map(|v| dumps(v, SortKeys::Record).unwrap().len())
        .sum();
    let mut g = c.benchmark_group("json writer");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("dumps to a String", |b| {
        b.iter(|| {
            values
                .iter()
                .map(|v| dumps(black_box(v), SortKeys::Record).unwrap().len())
                .sum::<usize>()
        })
    });
    g.bench_function("hash_objects (written straight into md5)", |b| {
        b.iter(|| {
            values
                .iter()
                .map(|v| cachescope::hash::hash_objects(&[black_box(v)], SortKeys::Record).unwrap())
                .map(|key| key.len())
                .sum::<usize>()
        })
    });
    g.finish();
}

fn canonical(c: &mut Criterion) {
    let mut rng = Rng(11);
    let texts: Vec<String> = (0..200).map(|_| inputs_text(&mut rng, 20)).collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let mut g = c.benchmark_group("canonical check");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("canonical_len", |b| {
        b.iter(|| {
            texts
                .iter()
                .filter(|t| canonical_len(black_box(t)).is_some())
                .count()
        })
    });
    g.bench_function(
        "object_end (only where the object ends, as deferred inputs are read)",
        |b| {
            b.iter(|| {
                texts
                    .iter()
                    .filter_map(|t| cachescope::pyjson::object_end(black_box(t.as_bytes())))
                    .sum::<usize>()
            })
        },
    );
    g.bench_function("md5 of the same text (the floor)", |b| {
        use md5::{Digest, Md5};
        b.iter(|| {
            texts
                .iter()
                .map(|t| Md5::digest(black_box(t)).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

fn floats(c: &mut Criterion) {
    let mut rng = Rng(13);
    let values: Vec<f64> = (0..10_000)
        .map(|i| match i % 4 {
            0 => rng.float(),
            1 => rng.float() * 1e20,
            2 => (rng.next() % 100_000) as f64 / 100.0,
            _ => f64::from_bits(rng.next() >> 2),
        })
        .collect();
    let mut g = c.benchmark_group("float formatter");
    g.throughput(Throughput::Elements(values.len() as u64));
    g.bench_function("float_repr (zmij + round-half-even + Python layout)", |b| {
        b.iter(|| {
            values
                .iter()
                .map(|&v| float_repr(black_box(v)).len())
                .sum::<usize>()
        })
    });
    let reprs: Vec<String> = values.iter().map(|&v| float_repr(v)).collect();
    g.bench_function(
        "canonical check of each repr (is it what json.dumps writes?)",
        |b| {
            b.iter(|| {
                reprs
                    .iter()
                    .filter(|r| cachescope::pyjson::canonical_len(black_box(r)).is_some())
                    .count()
            })
        },
    );
    // The floats recorded inputs are made of (and bench/make_records.py writes): fractions,
    // amounts with a few integer digits, big scores in exponent form; nearly all 16 or 17
    // significant digits, the costly case of the check.
    let typical: Vec<String> = (0..10_000)
        .map(|i| {
            let x = rng.float();
            float_repr(match i % 3 {
                0 => x,
                1 => (x - 0.5) * 2e6,
                _ => x * 1e20,
            })
        })
        .collect();
    g.bench_function("canonical check of typical recorded floats", |b| {
        b.iter(|| {
            typical
                .iter()
                .filter(|r| cachescope::pyjson::canonical_len(black_box(r)).is_some())
                .count()
        })
    });
    g.bench_function("Rust {:e} (the formatter it replaced, for scale)", |b| {
        b.iter(|| {
            values
                .iter()
                .map(|&v| format!("{:e}", black_box(v)).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

fn source(c: &mut Criterion) {
    // A module of many functions, decorators, docstrings and nested blocks.
    let mut text = String::from("import os\n\n");
    for i in 0..400 {
        text.push_str(&format!(
            "@task(cache_policy=INPUTS + TASK_SOURCE)\ndef step_{i}(rows, threshold={i}.5):\n    \"\"\"Step {i}.\"\"\"\n    out = []\n    for r in rows:\n        if r['score'] >= threshold:  # keep\n            out.append(r)\n    return out\n\n\nclass K{i}:\n    def m(self, x):\n        return x + {i}\n\n"
        ));
    }
    let mut g = c.benchmark_group("source extractor");
    g.throughput(Throughput::Elements(800));
    g.bench_function("index and extract every function", |b| {
        b.iter(|| {
            let file =
                SourceFile::from_bytes(black_box(text.as_bytes()), PythonVersion::new(3, 11))
                    .unwrap();
            file.functions()
                .iter()
                .filter(|def| file.source_of(def).is_ok())
                .count()
        })
    });
    g.finish();
}

fn compound(c: &mut Criterion) {
    let mut rng = Rng(17);
    let text: String = (0..100).map(|_| record_text(&mut rng, 20) + "\n").collect();
    let changed: String = (0..100)
        .map(|_| record_with(&mut rng, 20, false) + "\n")
        .collect();
    let unit_of = |text: &String| Unit::Lines {
        path: std::path::Path::new("r.jsonl").into(),
        first_line: 0,
        first_byte: 0,
        bytes: text.clone().into_bytes().into(),
        line_ends: text.lines().count(),
        file_len: text.len() as u64,
    };
    let unit = || unit_of(&text);
    let mut g = c.benchmark_group("compound recompute");
    g.throughput(Throughput::Elements(100));
    g.bench_function("load and recompute, full records", |b| {
        b.iter(|| {
            let loaded = load_unit(unit());
            loaded
                .iter()
                .filter_map(|l| recompute(l.record.as_ref().ok()?).key)
                .count()
        })
    });
    g.bench_function("load and recompute, lean records (as keys does)", |b| {
        b.iter(|| {
            let (loaded, texts) = load_unit_lean(unit());
            loaded
                .iter()
                .zip(&texts)
                .filter_map(|(l, t)| recompute_lean(l.record.as_ref().ok()?, &t.texts()).key)
                .count()
        })
    });
    g.bench_function(
        "load and recompute, lean records whose inputs changed (each text checked)",
        |b| {
            b.iter(|| {
                let (loaded, texts) = load_unit_lean(unit_of(&changed));
                loaded
                    .iter()
                    .zip(&texts)
                    .filter_map(|(l, t)| recompute_lean(l.record.as_ref().ok()?, &t.texts()).key)
                    .count()
            })
        },
    );
    g.finish();
}

criterion_group!(
    benches, scanner, writer, canonical, floats, source, compound
);
criterion_main!(benches);
