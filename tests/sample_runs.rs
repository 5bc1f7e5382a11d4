//! The demo records in `sample-runs/` (made by `sample-runs/regenerate.sh` with real Prefect
//! 3.9.1): cachescope must recompute every one of them (`match`, or `unverifiable` where the
//! recorder said so), the stories the README tells must be in them, and they must work on any
//! machine: paths relative to the records, Prefect's result files shipped beside them, and no
//! path of the machine that recorded them.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use cachescope::pyjson::{Value, parse};
use cachescope::record::{RunRecord, holds_placeholder};
use cachescope::source::get_source;
use serde_json::Value as Json;

fn sample_runs() -> PathBuf {
    support::repo_root().join("sample-runs")
}

/// Every record, by path relative to sample-runs/.
fn records() -> BTreeMap<PathBuf, RunRecord> {
    let root = sample_runs();
    support::files_under(&root, None)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap();
            let value = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let record =
                RunRecord::from_value(value).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.strip_prefix(&root).unwrap().to_path_buf(), record)
        })
        .collect()
}

/// Records of one story (`runs/<story>/...`).
fn story(records: &BTreeMap<PathBuf, RunRecord>, name: &str) -> Vec<(PathBuf, RunRecord)> {
    let prefix = Path::new("runs").join(name);
    let found: Vec<_> = records
        .iter()
        .filter(|(p, _)| p.starts_with(&prefix))
        .map(|(p, r)| (p.clone(), r.clone()))
        .collect();
    assert!(!found.is_empty(), "no records for story {name}");
    found
}

fn task<'a>(records: &'a [(PathBuf, RunRecord)], run: &str, name: &str) -> &'a RunRecord {
    records
        .iter()
        .find(|(p, r)| p.components().any(|c| c.as_os_str() == run) && r.task.name == name)
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("no {name} record in run {run}"))
}

fn state(record: &RunRecord) -> &str {
    record.outcome.state.as_deref().unwrap_or("?")
}

/// Seconds since the epoch of an RFC 3339 UTC time as the recorder writes it
/// (`2026-11-24T20:13:48.608455Z`); whole seconds are enough here.
fn unix_seconds(text: &str) -> i64 {
    let num = |range: std::ops::Range<usize>| -> i64 {
        text[range]
            .parse()
            .unwrap_or_else(|_| panic!("not a time: {text}"))
    };
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    // Days from civil (proleptic Gregorian), as in Howard Hinnant's date algorithms.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19)
}

#[test]
fn the_time_helper_agrees_with_known_instants() {
    assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), 0);
    assert_eq!(unix_seconds("2000-03-01T00:00:00.5Z"), 951_868_800);
    assert_eq!(unix_seconds("2026-11-24T20:13:48.608455Z"), 1_795_551_228);
}

#[test]
fn cachescope_recomputes_every_sample_record() {
    let out = Command::new(support::cachescope_bin())
        .args(["keys", "sample-runs", "--json"])
        .current_dir(support::repo_root())
        .output()
        .expect("run cachescope keys");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "keys exit status; stderr:\n{stderr}"
    );
    let lines: Vec<Json> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        records().len(),
        "one keys line per record file"
    );
    let mut counts = BTreeMap::new();
    for line in &lines {
        let status = line["status"].as_str().unwrap();
        *counts.entry(status.to_string()).or_insert(0) += 1;
        assert!(matches!(status, "match" | "unverifiable"), "{line}");
        assert_eq!(line["key"], line["recorded"], "{line}");
    }
    eprintln!("sample records: {counts:?}");
    assert!(
        counts.get("match").copied().unwrap_or(0)
            > counts.get("unverifiable").copied().unwrap_or(0),
        "{counts:?}"
    );
}

#[test]
fn the_stories_are_there() {
    let records = records();

    let cold_and_hit = story(&records, "01-cold-and-hit");
    for name in ["extract", "clean", "load"] {
        assert_eq!(
            state(task(&cold_and_hit, "run-2-hit", name)),
            "Cached",
            "{name} hits on the second run"
        );
        assert!(task(&cold_and_hit, "run-2-hit", name).outcome.cache_hit);
    }
    // DEFAULT holds RunId: transform misses across flow runs although nothing changed.
    let (a, b) = (
        task(&cold_and_hit, "run-1-cold", "transform"),
        task(&cold_and_hit, "run-2-hit", "transform"),
    );
    assert_eq!(state(b), "Completed");
    assert_ne!(
        a.flow.as_ref().unwrap().run_id,
        b.flow.as_ref().unwrap().run_id
    );
    assert_eq!(
        (a.task.source.as_ref(), a.inputs.as_ref()),
        (b.task.source.as_ref(), b.inputs.as_ref())
    );

    let edit = story(&records, "02-source-edit");
    let (before, after) = (
        task(&edit, "run-1-before-edit", "clean"),
        task(&edit, "run-2-after-edit", "clean"),
    );
    assert_ne!(
        before.task.source, after.task.source,
        "the edit is in the recorded source"
    );
    assert_eq!(state(after), "Completed");
    let project = sample_runs().join("project/etl.py");
    let now = fs::read_to_string(&project).unwrap();
    assert!(
        now.contains(after.task.source.as_deref().unwrap()),
        "the project ends in the edited state"
    );

    let inputs = story(&records, "03-input-change");
    let (a, b) = (
        task(&inputs, "run-1-march-1", "extract"),
        task(&inputs, "run-2-march-2", "extract"),
    );
    assert_ne!(a.inputs, b.inputs);
    assert_eq!(state(b), "Completed");

    let excluded = story(&records, "04-excluded-input-and-flow-parameters");
    let (a, b) = (
        task(&excluded, "run-1-log-every-1000", "clean"),
        task(&excluded, "run-2-log-every-10", "clean"),
    );
    assert_ne!(
        a.inputs.as_ref().unwrap().get("log_every"),
        b.inputs.as_ref().unwrap().get("log_every")
    );
    assert_eq!(state(b), "Cached", "an excluded input does not matter");
    assert_eq!(
        state(task(&excluded, "run-2-log-every-10", "load")),
        "Completed",
        "FlowParameters sees every parameter"
    );

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expired = story(&records, "05-expired");
    let first = task(&expired, "run-1-max-age-3s", "extract");
    let expiry = first
        .outcome
        .cache_expiration
        .as_deref()
        .expect("a cache_expiration");
    assert!(
        unix_seconds(expiry) < now,
        "the first extract's record has expired ({expiry})"
    );
    assert_eq!(
        state(task(&expired, "run-2-after-expiry", "extract")),
        "Completed"
    );

    let refresh = story(&records, "06-refresh-cache");
    let refreshed = task(&refresh, "run-2-refresh", "extract");
    assert!(refreshed.outcome.refresh_cache && state(refreshed) == "Completed");

    let opaque = story(&records, "07-opaque-input");
    let publish = task(&opaque, "run-2-notify", "publish");
    assert!(holds_placeholder(
        publish.inputs.as_ref().unwrap().get("channel").unwrap()
    ));

    let sets = story(&records, "08-set-of-strings");
    let clean: Vec<&RunRecord> = sets
        .iter()
        .filter(|(_, r)| r.task.name == "clean")
        .map(|(_, r)| r)
        .collect();
    assert_eq!(clean.len(), 2);
    let regions: Vec<&Value> = clean
        .iter()
        .map(|r| r.inputs.as_ref().unwrap().get("regions").unwrap())
        .collect();
    assert_eq!(
        regions[0].get("__class__").and_then(Value::as_str),
        Some("builtins.set")
    );
    assert_ne!(
        regions[0], regions[1],
        "the same set of strings, iterated in another order"
    );
    assert_ne!(clean[0].key, clean[1].key);
}

#[test]
fn records_are_portable_and_their_result_files_ship_with_them() {
    let root = sample_runs();
    for (path, record) in records() {
        let dir = root.join(&path).parent().unwrap().to_path_buf();
        let project_root = record.project_root.as_deref().expect("project_root");
        assert!(
            Path::new(project_root).is_relative(),
            "{}: project_root {project_root}",
            path.display()
        );
        let file = record
            .project_root_in(&dir)
            .unwrap()
            .join(record.task.file.as_deref().unwrap());
        assert!(
            file.is_file(),
            "{}: task file {} is not there",
            path.display(),
            file.display()
        );
        let storage = record.result_storage_in(&dir).expect("result_storage");
        assert!(Path::new(record.outcome.result_storage.as_deref().unwrap()).is_relative());
        let key = record.key.as_deref().expect("every sample task has a key");
        assert!(
            storage.join(key).is_file(),
            "{}: no result file {key} in {}",
            path.display(),
            storage.display()
        );
    }
    // Prefect's result files keep their extension-less names: cachescope reads every *.json
    // under a folder as a record.
    for file in support::files_under(&root.join("storage"), None) {
        assert!(file.extension().is_none(), "{}", file.display());
    }
}

#[test]
fn nothing_names_a_path_of_the_recording_machine() {
    let root = sample_runs();
    let repo = support::repo_root();
    let needles = [
        repo.to_str().unwrap(),
        "/tmp/",
        "/root/",
        "/work/",
        "/home/",
    ];
    for file in support::files_under(&root, None) {
        // The regeneration scripts name these paths to look for them.
        if file.file_stem().is_some_and(|s| s == "regenerate") {
            continue;
        }
        let text = String::from_utf8_lossy(&fs::read(&file).unwrap()).into_owned();
        for needle in needles {
            assert!(
                !text.contains(needle),
                "{} contains {needle}",
                file.display()
            );
        }
    }
}

/// Every recorded source is what `inspect.getsource` finds in the project as it is now, except
/// for the `clean` runs recorded before story 02's edit, which differ by exactly that edit.
#[test]
fn recorded_sources_match_the_project_but_for_the_story_02_edit() {
    let before = r#"if row["status"] == "refund" or row["region"] not in regions:"#;
    let after = r#"if row["status"] in ("refund", "cancelled") or row["region"] not in regions:"#;
    let root = sample_runs();
    let mut edited = 0;
    for (path, record) in records() {
        let dir = root.join(&path).parent().unwrap().to_path_buf();
        let file = record
            .project_root_in(&dir)
            .unwrap()
            .join(record.task.file.as_deref().unwrap());
        // The same rule live keys follow: the recording interpreter's version.
        let python = cachescope::live::python_of(&record);
        let found = get_source(
            &fs::read(&file).unwrap(),
            record.task.qualname.as_deref().unwrap(),
            record.task.line.map(|l| l as usize),
            python,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let recorded = record.task.source.as_deref().unwrap();
        if recorded != found.source {
            assert_eq!(record.task.name, "clean", "{}", path.display());
            assert_eq!(
                recorded.replace(before, after),
                found.source,
                "{}",
                path.display()
            );
            edited += 1;
        }
    }
    // Story 01's two runs and story 02's first run ran before the edit.
    assert_eq!(edited, 3);
}

/// `keys --live` on the demo: what the next run would do, per story, with the project as it is
/// (after story 02's edit) and the shipped result files.
#[test]
fn live_predictions_follow_the_stories() {
    let out = Command::new(support::cachescope_bin())
        .args(["keys", "sample-runs", "--live", "--json"])
        .current_dir(support::repo_root())
        .output()
        .expect("run cachescope keys --live");
    assert_ne!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // (story, run, task) -> (status, verdict, reason)
    let mut live = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let line: Json = serde_json::from_str(line).unwrap();
        let record = line["record"].as_str().unwrap().to_string();
        let parts: Vec<&str> = record.split('/').collect();
        let at = (
            parts[2].to_string(),
            parts[3].to_string(),
            line["task"].as_str().unwrap().to_string(),
        );
        let found = (
            line["status"].as_str().unwrap().to_string(),
            line["verdict"].as_str().unwrap().to_string(),
            line["reason"].as_str().unwrap_or("").to_string(),
        );
        live.insert(at, found);
    }
    let get = |story: &str, run: &str, task: &str| {
        live.get(&(story.to_string(), run.to_string(), task.to_string()))
            .unwrap_or_else(|| panic!("no live line for {story}/{run} {task}"))
    };
    // Served from the shipped storage.
    assert_eq!(get("01-cold-and-hit", "run-2-hit", "extract").1, "hit");
    assert_eq!(get("01-cold-and-hit", "run-2-hit", "load").1, "hit");
    // RunId: never across flow runs.
    let transform = get("01-cold-and-hit", "run-2-hit", "transform");
    assert_eq!(transform.1, "miss");
    assert!(transform.2.contains("RunId"), "{transform:?}");
    // Recorded before the edit: the source in the project is not the one hashed any more.
    assert_eq!(get("01-cold-and-hit", "run-1-cold", "clean").0, "changed");
    assert_eq!(get("01-cold-and-hit", "run-1-cold", "clean").1, "miss");
    assert_eq!(
        get("02-source-edit", "run-2-after-edit", "clean").0,
        "match"
    );
    assert_eq!(get("02-source-edit", "run-2-after-edit", "clean").1, "hit");
    // The stored record stays expired.
    let expired = get("05-expired", "run-2-after-expiry", "extract");
    assert_eq!(expired.1, "miss");
    assert!(expired.2.contains("expired"), "{expired:?}");
    // refresh_cache=True misses whatever is stored.
    assert_eq!(
        get("06-refresh-cache", "run-2-refresh", "extract").1,
        "miss"
    );
    assert_eq!(get("06-refresh-cache", "run-1", "extract").1, "hit");
}
