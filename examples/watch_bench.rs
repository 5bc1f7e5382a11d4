//! Benchmarks of `cachescope watch` (issue 10), run by `bench/watch-latency.sh` and
//! `bench/watch-storm.sh` on a project made by `bench/make_watch_project.py`:
//!
//! - `latency DIR [EDITS]`: saves one task's file at a time (rotating over the files) and
//!   times each save to its `verdict` line; prints p50, p90, p99 and the maximum.
//! - `storm DIR [ROUNDS]`: rewrites every source file as fast as it can (a `git checkout` of
//!   the whole project), waits for every task's verdict line, checks that each task got exactly
//!   one line and that the last key of each is the one `cachescope keys --live` computes from
//!   scratch, and prints the time to settle and the watcher's memory after each round.
//!
//! The binary is `$CACHESCOPE` (default `target/release/cachescope`).

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

const MARK_A: &str = "# edit: v0";
const MARK_B: &str = "# edit: v1";

struct Watch {
    child: Child,
    lines: Receiver<(Instant, Value)>,
}

impl Watch {
    fn start(bin: &Path, runs: &Path) -> (Watch, Value) {
        let mut child = Command::new(bin)
            .arg("watch")
            .arg(runs)
            .stdout(Stdio::piped())
            .spawn()
            .expect("cachescope runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let at = Instant::now();
                let value: Value = serde_json::from_str(&line).expect("a JSON line");
                if tx.send((at, value)).is_err() {
                    break;
                }
            }
        });
        let mut w = Watch { child, lines };
        let (_, ready) = w.next(Duration::from_secs(120)).expect("ready");
        assert_eq!(ready["event"], "ready", "{ready}");
        (w, ready)
    }

    fn next(&mut self, timeout: Duration) -> Option<(Instant, Value)> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// (VmRSS, VmHWM) in MiB.
    fn memory(&self) -> (f64, f64) {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(f64::NAN, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("project"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    files.sort();
    files
}

/// Flips the first task's marker in `file`; the text written.
fn toggle(file: &Path) {
    let text = fs::read_to_string(file).unwrap();
    let new = if text.contains(MARK_A) {
        text.replacen(MARK_A, MARK_B, 1)
    } else {
        text.replacen(MARK_B, MARK_A, 1)
    };
    fs::write(file, new).unwrap();
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn latency(bin: &Path, dir: &Path, edits: usize) {
    let (mut w, ready) = Watch::start(bin, &dir.join("runs"));
    let files = sources(dir);
    println!(
        "ready: {} records, {} tasks, {} ms; {} source files; memory {:.1} MiB",
        ready["records"],
        ready["tasks"],
        ready["ms"],
        files.len(),
        w.memory().0
    );
    let mut samples = Vec::with_capacity(edits);
    for i in 0..edits {
        let file = &files[i % files.len()];
        let start = Instant::now();
        toggle(file);
        loop {
            let (at, line) = w
                .next(Duration::from_secs(10))
                .unwrap_or_else(|| panic!("no line for edit {i} of {}", file.display()));
            if line["event"] == "verdict" && line["trigger"] == file.display().to_string() {
                samples.push(at.duration_since(start).as_secs_f64() * 1000.0);
                break;
            }
            eprintln!("unexpected line: {line}");
        }
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "{edits} edits, save to verdict line: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&samples, 50.0),
        percentile(&samples, 90.0),
        percentile(&samples, 99.0),
        samples[samples.len() - 1]
    );
    println!(
        "memory after: {:.1} MiB (peak {:.1} MiB)",
        w.memory().0,
        w.memory().1
    );
}

/// Every record's live key, from scratch.
fn live_keys(bin: &Path, runs: &Path) -> BTreeMap<String, String> {
    let out = Command::new(bin)
        .args(["keys", "--live", "--json"])
        .arg(runs)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["record"].as_str().unwrap().to_string(),
                v["key"].as_str().unwrap_or("null").to_string(),
            )
        })
        .collect()
}

fn storm(bin: &Path, dir: &Path, rounds: usize) {
    let runs = dir.join("runs");
    let (mut w, ready) = Watch::start(bin, &runs);
    let files = sources(dir);
    let tasks = ready["tasks"].as_u64().unwrap() as usize;
    let (rss, hwm) = w.memory();
    println!(
        "ready: {} records, {tasks} tasks, {} ms; {} source files; memory {rss:.1} MiB (peak {hwm:.1} MiB)",
        ready["records"],
        ready["ms"],
        files.len()
    );
    for round in 1..=rounds {
        let start = Instant::now();
        for file in &files {
            toggle(file);
        }
        let written = Instant::now();
        let mut per_task: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let mut last = written;
        let mut lines = 0;
        while per_task.len() < tasks {
            let Some((at, line)) = w.next(Duration::from_secs(120)) else {
                panic!(
                    "round {round}: {} of {tasks} tasks reported",
                    per_task.len()
                );
            };
            lines += 1;
            last = at;
            if line["event"] != "verdict" {
                eprintln!("unexpected line: {line}");
                continue;
            }
            per_task
                .entry(line["task"].as_str().unwrap().to_string())
                .or_default()
                .push((
                    line["record"].as_str().unwrap().to_string(),
                    line["key"].as_str().unwrap_or("null").to_string(),
                ));
        }
        // Anything more would be a task reported twice: wait a little for stragglers.
        while let Some((_, line)) = w.next(Duration::from_millis(500)) {
            lines += 1;
            eprintln!("extra line: {line}");
        }
        let expected = live_keys(bin, &runs);
        let wrong = per_task
            .values()
            .filter(|reports| {
                let (record, key) = reports.last().unwrap();
                expected.get(record) != Some(key)
            })
            .count();
        let twice = per_task.values().filter(|r| r.len() > 1).count();
        let (rss, hwm) = w.memory();
        println!(
            "round {round}: {} files written in {} ms; {lines} lines; settled {} ms after the last \
             write; final state {} ({wrong} wrong, {twice} tasks reported more than once); memory \
             {rss:.1} MiB (peak {hwm:.1} MiB)",
            files.len(),
            written.duration_since(start).as_millis(),
            last.duration_since(written).as_millis(),
            if wrong == 0 { "correct" } else { "WRONG" }
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = PathBuf::from(
        std::env::var("CACHESCOPE").unwrap_or_else(|_| "target/release/cachescope".into()),
    );
    let usage = "usage: watch_bench latency DIR [EDITS] | storm DIR [ROUNDS]";
    let dir = PathBuf::from(args.get(2).expect(usage));
    let count = |default| args.get(3).map_or(default, |n| n.parse().expect(usage));
    match args.get(1).map(String::as_str) {
        Some("latency") => latency(&bin, &dir, count(200)),
        Some("storm") => storm(&bin, &dir, count(5)),
        _ => panic!("{usage}"),
    }
}
