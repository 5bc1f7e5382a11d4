//! End to end against real Prefect 3.9.1: `tests/e2e/tricky_flow.py` makes a little over two
//! hundred task runs (the whole table of encodable and opaque values, every kind of cache
//! policy, sync and async tasks, methods, `<locals>` functions, a task without source, retries,
//! a failure, a subflow, tasks inside and outside flows) with the recorder switched on the way
//! users switch it on: `CACHESCOPE_RUNS` and the `.pth` file that `pip install ./recorder` put
//! in the venv. Then `cachescope keys --json` recomputes every record.
//!
//! The flow writes a manifest of what Prefect itself did: for each task run, the key it stored
//! the result under (the file name of `state.data.metadata.storage_key`) and whether the spec
//! says the key cannot be recomputed outside Python (cloudpickle, a `cache_key_fn`, an unknown
//! policy class, no policy at all). The key recomputed from the record must be that stored
//! key; `unverifiable` must be exactly where the manifest says. The flow takes ~25 s (a
//! temporary Prefect server), so it runs once per test binary and the tests share it.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use cachescope::pyjson::{Key, Value, parse};
use cachescope::record::RunRecord;
use cachescope::source::get_source;
use serde_json::Value as Json;

/// What Prefect did for one task run, from the flow's manifest.
#[derive(Debug)]
struct Expected {
    case: String,
    stored_key: Option<String>,
    unverifiable: bool,
    state: String,
}

/// Everything one run of the flow left behind.
struct FlowRun {
    /// The temporary folder (PREFECT_HOME, runs, manifest), kept after the tests so a failure
    /// can be looked at; stale ones from earlier runs are removed first.
    dir: PathBuf,
    runs: PathBuf,
    prefect_home: PathBuf,
    /// By task run id.
    expected: BTreeMap<String, Expected>,
    /// The record files, parsed, by task run id.
    records: BTreeMap<String, (PathBuf, RunRecord)>,
    record_files: usize,
    /// `cachescope keys --json`: exit code, lines, stderr.
    keys_code: Option<i32>,
    keys: Vec<Json>,
    keys_stderr: String,
}

const DIR_PREFIX: &str = "e2e-prefect-";

fn e2e_dir() -> PathBuf {
    support::repo_root().join("tests/e2e")
}

fn flow_run() -> &'static FlowRun {
    static RUN: OnceLock<FlowRun> = OnceLock::new();
    RUN.get_or_init(run_flow)
}

fn run_flow() -> FlowRun {
    let venv = support::prefect_venv();
    let dir = support::scenario_dir(DIR_PREFIX);
    let prefect_home = dir.join("prefect-home");
    let runs = dir.join("runs");
    let manifest = dir.join("manifest.json");
    fs::create_dir_all(&prefect_home).unwrap();

    // The working directory is the temporary folder, so nothing can land in the repository;
    // the project root (where task files are named from) comes from its variable.
    let out = venv
        .command()
        .arg(e2e_dir().join("tricky_flow.py"))
        .arg(&manifest)
        .current_dir(&dir)
        .env("PREFECT_HOME", &prefect_home)
        .env("CACHESCOPE_RUNS", &runs)
        .env("CACHESCOPE_PROJECT_ROOT", e2e_dir())
        .output()
        .expect("start the tricky flow");
    if !out.status.success() {
        panic!(
            "tricky_flow.py failed ({}); files in {}\n--- stdout\n{}\n--- stderr (tail)\n{}",
            out.status,
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            tail(&String::from_utf8_lossy(&out.stderr), 60)
        );
    }

    let manifest_text = fs::read_to_string(&manifest).expect("the flow wrote its manifest");
    let manifest: BTreeMap<String, Json> =
        serde_json::from_str(&manifest_text).expect("manifest is JSON");
    let expected = manifest
        .into_iter()
        .map(|(id, e)| {
            let expected = Expected {
                case: e["case"].as_str().expect("case").to_string(),
                stored_key: e["stored_key"].as_str().map(str::to_string),
                unverifiable: e["unverifiable"].as_bool().expect("unverifiable"),
                state: e["state"].as_str().expect("state").to_string(),
            };
            (id, expected)
        })
        .collect();

    let mut records = BTreeMap::new();
    let mut record_files = 0;
    for path in support::files_under(&runs, Some("json")) {
        record_files += 1;
        let text = fs::read_to_string(&path).unwrap();
        let value = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let record =
            RunRecord::from_value(value).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let id = record.task_run.id.clone().expect("task_run.id");
        records.insert(id, (path, record));
    }

    let keys_out = Command::new(support::cachescope_bin())
        .arg("keys")
        .arg(&runs)
        .arg("--json")
        .output()
        .expect("run cachescope keys");
    let keys = String::from_utf8(keys_out.stdout)
        .expect("keys output is UTF-8")
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("keys --json printed a line that is not JSON: {l}: {e}"))
        })
        .collect();
    FlowRun {
        dir,
        runs,
        prefect_home,
        expected,
        records,
        record_files,
        keys_code: keys_out.status.code(),
        keys,
        keys_stderr: String::from_utf8_lossy(&keys_out.stderr).into_owned(),
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Panics with every problem found, and where the files are.
fn report(run: &FlowRun, what: &str, problems: &[String]) {
    if !problems.is_empty() {
        panic!(
            "{what}: {} problem(s); records in {}\n  {}\n--- keys stderr (tail)\n{}",
            problems.len(),
            run.runs.display(),
            problems.join("\n  "),
            tail(&run.keys_stderr, 20)
        );
    }
}

fn str_of(v: &Json) -> Option<&str> {
    v.as_str()
}

#[test]
fn one_record_per_task_run() {
    let run = flow_run();
    // The flow's own checks passed (it exits non-zero otherwise); now the counts. The cases
    // below are a floor, so a flow that silently lost half its cases fails here.
    assert!(
        run.expected.len() >= 150,
        "only {} task runs in the manifest",
        run.expected.len()
    );
    assert_eq!(
        run.record_files,
        run.expected.len(),
        "record files vs task runs; see {}",
        run.dir.display()
    );
    let recorded: BTreeSet<&String> = run.records.keys().collect();
    let expected: BTreeSet<&String> = run.expected.keys().collect();
    let missing: Vec<_> = expected
        .difference(&recorded)
        .map(|id| format!("{id} [{}]", run.expected[*id].case))
        .collect();
    let extra: Vec<_> = recorded.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "no record for {missing:?}; records of unknown task runs {extra:?}"
    );
    assert_eq!(
        run.keys.len(),
        run.expected.len(),
        "keys --json lines vs task runs"
    );
}

#[test]
fn every_recomputed_key_is_the_key_prefect_stored() {
    let run = flow_run();
    assert_eq!(
        run.keys_code,
        Some(0),
        "keys exit status; stderr:\n{}",
        run.keys_stderr
    );
    let mut problems = Vec::new();
    let mut matched = 0;
    for line in &run.keys {
        let status = line["status"].as_str().unwrap_or("?");
        let Some(id) = str_of(&line["task_run"]) else {
            problems.push(format!("{status}: no task run in {line}"));
            continue;
        };
        let Some(expected) = run.expected.get(id) else {
            problems.push(format!("task run {id} is not in the manifest: {line}"));
            continue;
        };
        let at = format!("[{}] {}", expected.case, line["record"]);
        let recorded = str_of(&line["recorded"]);
        let key = str_of(&line["key"]);
        // A failed run stores nothing under its key, so only the recomputation can be checked,
        // against the key the record says Prefect computed.
        let failed = expected.state == "Failed";
        let stored = if failed {
            recorded
        } else {
            expected.stored_key.as_deref()
        };
        if failed && recorded.is_none() {
            problems.push(format!("{at}: a failed run with a cache policy has a key"));
        }
        if recorded != stored {
            problems.push(format!(
                "{at}: the record says Prefect used {recorded:?}, Prefect stored {stored:?}"
            ));
        }
        match (status, expected.unverifiable) {
            ("match", false) => {
                if key == stored {
                    matched += 1;
                } else {
                    problems.push(format!(
                        "{at}: recomputed {key:?}, Prefect stored {stored:?}"
                    ));
                }
            }
            ("unverifiable", true) => {}
            _ => problems.push(format!(
                "{at}: status {status}, but the manifest says unverifiable={}: {}",
                expected.unverifiable, line["nodes"]
            )),
        }
    }
    report(run, "keys --json against Prefect's stored keys", &problems);
    let unverifiable = run.expected.values().filter(|e| e.unverifiable).count();
    assert_eq!(matched + unverifiable, run.expected.len());
    eprintln!(
        "{matched} records recomputed to Prefect's stored key, {unverifiable} unverifiable as expected"
    );
}

#[test]
fn no_record_is_in_error_or_changed() {
    let run = flow_run();
    let problems: Vec<String> = run
        .keys
        .iter()
        .filter(|l| matches!(l["status"].as_str(), Some("error" | "changed")))
        .map(|l| l.to_string())
        .collect();
    report(run, "records in error or changed", &problems);
}

/// Issue 7: records whose encoded values are out of Python's order (the flow's parameters in
/// declaration order, dicts as they were built) hash as Prefect hashed them. The recorder writes
/// sorted text, so `tests/e2e/reorder_records.py` rewrites a copy of every record with the keys
/// of every string-keyed object of `inputs` and `flow.parameters` reversed (number-keyed objects
/// stay in numeric order, as the spec says they arrive). Each copy must give the status and key
/// its original gave (so Prefect's stored key, per the test above), and say in one line that its
/// order was fixed.
#[test]
fn records_out_of_python_order_still_recompute_to_prefects_keys() {
    let run = flow_run();
    let reordered = run.dir.join("runs-reordered");
    let _ = fs::remove_dir_all(&reordered);
    let out = support::prefect_venv()
        .command()
        .arg(e2e_dir().join("reorder_records.py"))
        .arg(&run.runs)
        .arg(&reordered)
        .output()
        .expect("run reorder_records.py");
    assert!(
        out.status.success(),
        "reorder_records.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let changed: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let keys_out = Command::new(support::cachescope_bin())
        .args(["keys", "--json"])
        .arg(&reordered)
        .output()
        .expect("run cachescope keys");
    let original: BTreeMap<&str, &Json> = run
        .keys
        .iter()
        .filter_map(|l| Some((str_of(&l["task_run"])?, l)))
        .collect();
    let mut problems = Vec::new();
    let mut compared = 0;
    let mut with_params = 0;
    for line in String::from_utf8_lossy(&keys_out.stdout).lines() {
        let line: Json = serde_json::from_str(line).expect("keys --json line");
        let Some(id) = str_of(&line["task_run"]) else {
            problems.push(format!("no task run: {line}"));
            continue;
        };
        let Some(before) = original.get(id) else {
            problems.push(format!("task run {id} was not in the original keys output"));
            continue;
        };
        compared += 1;
        let case = run.expected.get(id).map_or("?", |e| e.case.as_str());
        if (&line["status"], &line["key"]) != (&before["status"], &before["key"]) {
            problems.push(format!(
                "[{case}] reordered: {} {}, original: {} {}",
                line["status"], line["key"], before["status"], before["key"]
            ));
        }
        let record = str_of(&line["record"]).unwrap_or("");
        if run.records[id].1.policy.is_none() {
            // Nothing is hashed (a result_storage_key, no policy): there is no order to fix.
            continue;
        }
        let noted = str_of(&line["note"])
            .is_some_and(|n| n.contains("not in the order Python writes them"));
        if noted != changed.contains(record) {
            problems.push(format!(
                "[{case}] text reordered: {}, note says so: {noted} ({})",
                changed.contains(record),
                line["note"]
            ));
        }
        let record = &run.records[id].1;
        if record
            .flow
            .as_ref()
            .and_then(|f| f.parameters.as_ref())
            .and_then(|p| p.as_object())
            .is_some_and(|p| p.len() > 1)
            && changed.contains(str_of(&line["record"]).unwrap_or(""))
        {
            with_params += 1;
        }
    }
    assert_eq!(compared, run.keys.len(), "every record was recomputed");
    assert!(
        changed.len() > run.keys.len() / 2 && with_params > 50,
        "the copy must really be out of order: {} of {} records changed, {with_params} with \
         several flow parameters",
        changed.len(),
        run.keys.len()
    );
    report(run, "records out of Python's order", &problems);
}

/// The cases of the manifest, with their records.
fn cases(run: &FlowRun) -> Vec<(&Expected, &Path, &RunRecord)> {
    run.expected
        .iter()
        .filter_map(|(id, e)| run.records.get(id).map(|(p, r)| (e, p.as_path(), r)))
        .collect()
}

fn first_case<'a>(run: &'a FlowRun, case: &str) -> &'a RunRecord {
    cases(run)
        .into_iter()
        .find(|(e, _, _)| e.case == case)
        .map(|(_, _, r)| r)
        .unwrap_or_else(|| panic!("no record for case {case}"))
}

#[test]
fn records_carry_what_the_run_did() {
    let run = flow_run();
    let storage = fs::canonicalize(run.prefect_home.join("storage")).unwrap();
    let root = e2e_dir();
    let mut problems = Vec::new();
    for (expected, path, record) in cases(run) {
        let at = format!("[{}] {}", expected.case, path.display());
        let mut check = |ok: bool, what: &str| {
            if !ok {
                problems.push(format!("{at}: {what}"));
            }
        };
        check(
            record.environment.prefect.as_deref() == Some("3.9.1"),
            "environment.prefect",
        );
        check(
            record.project_root.as_deref() == root.to_str(),
            "project_root is CACHESCOPE_PROJECT_ROOT",
        );
        if expected.case == "no-source" {
            // Made with exec: no file to name, no source text to record.
            check(
                record.task.file.as_deref() == Some("<generated>"),
                "task.file",
            );
            check(record.task.source.is_none(), "task.source is null");
        } else {
            check(
                record.task.file.as_deref() == Some("tricky_flow.py"),
                "task.file relative to the project root",
            );
            let source = record.task.source.as_deref().unwrap_or("");
            check(
                source.trim_start().starts_with("@task") && source.ends_with('\n'),
                "task.source is the decorated source",
            );
        }
        check(
            record.policy.is_none() == expected.case.starts_with("result-storage-key"),
            "policy is null exactly where result_storage_key replaced it",
        );
        check(
            record.outcome.state.as_deref() == Some(expected.state.as_str()),
            "outcome.state is the final state",
        );
        check(
            record.outcome.cache_hit == (expected.state == "Cached"),
            "outcome.cache_hit",
        );
        let outside = expected.case.ends_with("outside-flow");
        check(
            record.flow.is_none() == outside,
            "flow is null exactly outside flows",
        );
        let is_key_storage = expected.case.starts_with("key-storage");
        let lookup = record.outcome.result_storage.as_deref().map(PathBuf::from);
        check(
            is_key_storage || lookup.as_deref() == Some(storage.as_path()),
            "outcome.result_storage is PREFECT_HOME/storage",
        );
        check(
            record.outcome.refresh_cache == expected.case.starts_with("refresh-cache"),
            "outcome.refresh_cache",
        );
        check(
            record.outcome.cache_expiration.is_some() == (expected.case == "cache-expiration"),
            "outcome.cache_expiration only where the task sets one",
        );
    }
    report(run, "record fields", &problems);

    // A few records pinned down field by field.
    let subflow = first_case(run, "subflow-parameters").flow.as_ref().unwrap();
    assert_eq!(
        subflow.name.as_deref(),
        Some("inner"),
        "a subflow's tasks record the subflow"
    );
    assert!(
        first_case(run, "locals-function")
            .task
            .qualname
            .as_deref()
            .unwrap()
            .contains("<locals>")
    );
    assert_eq!(
        first_case(run, "method-on-dataclass")
            .task
            .qualname
            .as_deref(),
        Some("Ledger.total")
    );
    assert_eq!(
        first_case(run, "flow-parameters-no-params").key,
        None,
        "FlowParameters without parameters"
    );
    assert_eq!(
        first_case(run, "all-excluded")
            .policy
            .as_ref()
            .unwrap()
            .recorded
            .as_ref()
            .unwrap()
            .key
            .as_deref(),
        Some("05da934bc95640755e0d7882f6f171d0")
    );
    let key_storage = first_case(run, "key-storage");
    let configured = key_storage
        .policy
        .as_ref()
        .unwrap()
        .configure
        .key_storage
        .clone()
        .expect("key_storage");
    assert_eq!(
        key_storage.outcome.result_storage.as_deref(),
        Some(configured.as_str()),
        "lookups go to key_storage"
    );
    // Int keys keep Python's numeric sort order, which sorting the strings would break.
    let int_keys = first_case(run, "int-keys")
        .inputs
        .as_ref()
        .unwrap()
        .get("value")
        .unwrap()
        .clone();
    let order: Vec<String> = match int_keys {
        Value::Object(entries) => entries
            .into_iter()
            .map(|(k, _)| match k {
                Key::Str(s) => s,
                other => format!("{other:?}"),
            })
            .collect(),
        other => panic!("int-keys input is {other:?}"),
    };
    assert_eq!(order, ["-5", "1", "2", "10"]);
}

/// The recorder's own unit tests (encoding against Prefect's hash, the capture, the
/// reproducibility check, the lazy bootstrap), in the same venv as the flow.
#[test]
fn recorder_unit_tests_pass() {
    let venv = support::prefect_venv();
    let cwd = tempfile::tempdir().unwrap();
    let out = venv
        .command()
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(support::repo_root().join("recorder/tests"))
        .current_dir(cwd.path())
        .output()
        .expect("run the recorder's unit tests");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "recorder unit tests failed:\n{stderr}"
    );
    assert!(stderr.contains("\nOK"), "no unittest summary:\n{stderr}");
}

/// `task.file`, `task.qualname` and `task.line` lead back to `task.source`: cachescope's own
/// `inspect.getsource` finds, in the file as it is, exactly the text Prefect hashed.
#[test]
fn recorded_sources_are_what_getsource_finds_in_the_file() {
    let run = flow_run();
    let file = e2e_dir().join("tricky_flow.py");
    let bytes = fs::read(&file).unwrap();
    let mut problems = Vec::new();
    for (expected, path, record) in cases(run) {
        let (Some(source), Some(qualname)) = (&record.task.source, &record.task.qualname) else {
            continue;
        };
        // The same rule live keys follow: the recording interpreter's version.
        let python = cachescope::live::python_of(record);
        let line = record.task.line.map(|l| l as usize);
        match get_source(&bytes, qualname, line, python) {
            Ok(found) if &found.source == source && Some(found.code_first_line) == line => {}
            Ok(found) => problems.push(format!(
                "[{}] {}: {qualname} at line {line:?}: getsource gives {:?} from line {}",
                expected.case,
                path.display(),
                found.source,
                found.code_first_line
            )),
            Err(e) => problems.push(format!(
                "[{}] {}: {qualname}: {e}",
                expected.case,
                path.display()
            )),
        }
    }
    report(run, "recorded sources against the file", &problems);
}
