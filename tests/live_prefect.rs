//! End to end against real Prefect 3.9.1: does `cachescope keys --live` predict the next run?
//!
//! `tests/e2e/live_scenario.py` writes a small project (`tests/e2e/live/project/`: a flow and
//! ten persisted tasks, among them a method, a `<locals>` task, two tasks each defined twice
//! under an `if`, a task in a second file and one on Prefect's DEFAULT policy), and this test:
//!
//! 1. runs the flow once with the recorder on (`runs1`);
//! 2. edits the source (see `EDITS` in the script and [`CASES`] here): a comment, a docstring
//!    and decorator arguments inside tasks; things around tasks that are not part of their
//!    source; imports and a helper at the top, so every function of `pipeline.py` moves down
//!    and each record's line is stale;
//! 3. asks `cachescope keys runs1 --live --json` for every task's next key and verdict;
//! 4. runs the edited flow for real with the same parameters and the same result storage
//!    (`runs2`), and holds the prediction against it: the predicted key is the key the rerun
//!    used (its record's key and the name of the result file Prefect read or wrote), and the
//!    verdict is what happened (hit exactly when the rerun was `Cached`). A RunId policy has
//!    no predictable key; then the prediction is a miss and the rerun must have missed.
//!
//! `pairs` is defined twice under an `if` and the later definition is the one that runs; the
//! lines inserted above make the recorded line nearer the earlier one. Picking by line alone
//! hashed the wrong definition ([`STALE_LINE_PICKS_WRONG_DEFINITION`], found by this test and
//! fixed); the case stays as its regression test.
//!
//! With the same records it then breaks the project on purpose: a renamed function and a
//! deleted file (per-record source errors), and the whole project moved away (`--project`
//! finds the moved copy).
//!
//! Each flow process starts a temporary Prefect server (~15 s), so the whole sequence runs
//! once per test binary, in order (later steps change the project on disk), and the tests
//! only look at what it produced. Its folder is kept under `target/tmp/` for post-mortems.

mod support;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value as Json;

/// One task of the project and what the edit between the two runs did to it.
struct Case {
    /// The task function's `__qualname__` (how the flow reports it).
    qualname: &'static str,
    /// Its file, relative to the project.
    file: &'static str,
    /// The edit, for people (the edits themselves are in `live_scenario.py`).
    edit: &'static str,
    /// Whether the edit changes the text `TaskSource` hashes (`inspect.getsource`).
    source_changed: bool,
    /// The policy has RunId, so the next run has a new key whatever the source.
    run_id: bool,
    /// The regression this case guards against, named in every failure it causes.
    guards: Option<&'static str>,
}

impl Case {
    /// Whether the rerun is served from the first run's cache entry.
    fn hits(&self) -> bool {
        !self.source_changed && !self.run_id
    }

    /// How failures name the case: the task, the edit, and a known bug if there is one.
    fn label(&self) -> String {
        match self.guards {
            Some(bug) => format!("{} [{}] (guards against: {bug})", self.qualname, self.edit),
            None => format!("{} [{}]", self.qualname, self.edit),
        }
    }
}

/// Live source extraction picks, among definitions of the same qualname, the one whose line is
/// nearest the *recorded* line; after lines are inserted above, that can be the wrong one.
const STALE_LINE_PICKS_WRONG_DEFINITION: &str = "with a qualname defined twice, `keys --live` \
     must take the definition whose text is still the recorded source, not the one nearest the \
     recorded line, which lines inserted above have made stale (src/live.rs `task_source`)";

/// Every function of `pipeline.py` also moves down by the lines inserted at the top (edit d).
const CASES: &[Case] = &[
    Case {
        qualname: "load_rows",
        file: "pipeline.py",
        edit: "(a) comment inside the task",
        source_changed: true,
        run_id: false,
        guards: None,
    },
    Case {
        qualname: "describe",
        file: "pipeline.py",
        edit: "(b) its docstring",
        source_changed: true,
        run_id: false,
        guards: None,
    },
    Case {
        qualname: "summarize",
        file: "pipeline.py",
        edit: "(c) retries=1 added to @task",
        source_changed: true,
        run_id: false,
        guards: None,
    },
    Case {
        qualname: "Ledger.total",
        file: "pipeline.py",
        edit: "(c) name= changed in a method's @task",
        source_changed: true,
        run_id: false,
        guards: None,
    },
    Case {
        qualname: "publish",
        file: "pipeline.py",
        edit: "none (control)",
        source_changed: false,
        run_id: false,
        guards: None,
    },
    Case {
        qualname: "stamp",
        file: "pipeline.py",
        edit: "none; DEFAULT policy (RunId)",
        source_changed: false,
        run_id: true,
        guards: None,
    },
    Case {
        qualname: "make_scaler.<locals>.scale",
        file: "pipeline.py",
        edit: "enclosing function's docstring",
        source_changed: false,
        run_id: false,
        guards: None,
    },
    Case {
        qualname: "checksum",
        file: "pipeline.py",
        edit: "the other `def checksum` (not run)",
        source_changed: false,
        run_id: false,
        guards: None,
    },
    Case {
        qualname: "pairs",
        file: "pipeline.py",
        edit: "none; the later of two `def pairs` runs",
        source_changed: false,
        run_id: false,
        guards: Some(STALE_LINE_PICKS_WRONG_DEFINITION),
    },
    Case {
        qualname: "weigh",
        file: "stages.py",
        edit: "the helper above it (2 lines longer)",
        source_changed: false,
        run_id: false,
        guards: None,
    },
];

/// What Prefect did for one task run, as the flow itself saw it (`observe()` in the project).
#[derive(Debug)]
struct Observed {
    task_run: String,
    state: String,
    /// The result file Prefect read (a hit) or wrote; its name is the cache key.
    storage_key: Option<PathBuf>,
}

impl Observed {
    fn stored_key(&self) -> Option<&str> {
        self.storage_key.as_deref()?.file_name()?.to_str()
    }
}

/// One run record file, read as plain JSON.
struct Record {
    path: PathBuf,
    json: Json,
}

impl Record {
    fn key(&self) -> Option<&str> {
        self.json["key"].as_str()
    }

    fn line(&self) -> Option<u64> {
        self.json["task"]["line"].as_u64()
    }
}

/// One `cachescope keys ... --json` invocation.
struct Keys {
    command: String,
    code: Option<i32>,
    lines: Vec<Json>,
    stderr: String,
}

impl Keys {
    /// The line of one task run.
    fn of(&self, task_run: &str) -> &Json {
        self.lines
            .iter()
            .find(|l| l["task_run"].as_str() == Some(task_run))
            .unwrap_or_else(|| {
                panic!(
                    "`{}` printed no line for task run {task_run}\n{self}",
                    self.command
                )
            })
    }
}

impl std::fmt::Display for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        writeln!(f, "--- `{}`: exit {:?}", self.command, self.code)?;
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        write!(f, "--- stderr\n{}", self.stderr)
    }
}

/// Everything the sequence produced.
struct Scenario {
    dir: PathBuf,
    /// Where the project was; gone at the end.
    project: PathBuf,
    /// A copy of the project as the second run saw it, made before it was broken.
    moved: PathBuf,
    /// Prefect's result storage (PREFECT_RESULTS_LOCAL_STORAGE_PATH), shared by both runs.
    results: PathBuf,
    /// By the task function's qualname.
    observed1: BTreeMap<String, Observed>,
    observed2: BTreeMap<String, Observed>,
    /// By task run id.
    records1: BTreeMap<String, Record>,
    records2: BTreeMap<String, Record>,
    /// `keys runs1 --live` before any edit.
    baseline: Keys,
    /// `keys runs1 --live` after the edits, before the rerun: the prediction.
    predicted: Keys,
    /// `keys runs2 --live` right after the rerun.
    after_rerun: Keys,
    /// `keys runs1 --live` with `describe` renamed and `stages.py` deleted.
    broken: Keys,
    /// `keys runs1 --live` with the project folder gone.
    gone: Keys,
    /// `keys runs1 --live --project <moved>` with the project folder gone.
    found_moved: Keys,
    /// `keys pinned --live`: runs1's records with project_root at an unedited copy.
    pinned: Keys,
    /// `keys pinned --live --project <moved>`: the same, with the edited copy named.
    pinned_override: Keys,
    /// The unedited copy that `pinned`'s records name as their project_root.
    pristine: PathBuf,
}

impl Scenario {
    fn case(&self, case: &Case) -> (&Observed, &Record, &Observed, &Record) {
        let first = &self.observed1[case.qualname];
        let second = &self.observed2[case.qualname];
        (
            first,
            &self.records1[&first.task_run],
            second,
            &self.records2[&second.task_run],
        )
    }
}

const DIR_PREFIX: &str = "live-prefect-";

fn scenario() -> &'static Scenario {
    // A failed build is kept as its message: OnceLock would otherwise run it again (two
    // Prefect runs) for every test.
    static RUN: OnceLock<Result<Scenario, String>> = OnceLock::new();
    let built = RUN.get_or_init(|| {
        panic::catch_unwind(AssertUnwindSafe(build)).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the scenario panicked".into())
        })
    });
    match built {
        Ok(s) => s,
        Err(e) => panic!("the live scenario could not be run:\n{e}"),
    }
}

fn script() -> PathBuf {
    support::repo_root().join("tests/e2e/live_scenario.py")
}

fn build() -> Scenario {
    let venv = support::prefect_venv();
    let dir = support::scenario_dir(DIR_PREFIX);
    let project = dir.join("project");
    let moved = dir.join("moved-project");
    let results = dir.join("results");
    let prefect_home = dir.join("prefect-home");
    let (runs1, runs2) = (dir.join("runs1"), dir.join("runs2"));
    fs::create_dir_all(&prefect_home).unwrap();

    // Each step is its own process, so each run imports the project as it is on disk then.
    let step = |args: &[&OsStr], env: &[(&str, &Path)]| {
        let mut cmd = venv.command();
        cmd.arg(script()).args(args).current_dir(&dir);
        // A developer's own Prefect server or recorder settings must not leak in.
        for var in [
            "PREFECT_API_URL",
            "PREFECT_API_KEY",
            "CACHESCOPE_RELATIVE_PATHS",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("start live_scenario.py");
        if !out.status.success() {
            panic!(
                "live_scenario.py {args:?} failed ({}); files in {}\n--- stdout\n{}\n--- stderr (tail)\n{}",
                out.status,
                dir.display(),
                String::from_utf8_lossy(&out.stdout),
                tail(&String::from_utf8_lossy(&out.stderr), 60)
            );
        }
    };
    let run_flow = |runs: &Path, observed: &Path| {
        step(
            &[OsStr::new("run"), project.as_os_str(), observed.as_os_str()],
            &[
                ("PREFECT_HOME", &prefect_home),
                ("PREFECT_RESULTS_LOCAL_STORAGE_PATH", &results),
                ("CACHESCOPE_RUNS", runs),
                ("CACHESCOPE_PROJECT_ROOT", &project),
            ],
        );
        read_observed(observed)
    };
    let live = |runs: &Path, project: Option<&Path>| {
        let mut args = vec![runs.as_os_str(), OsStr::new("--live")];
        if let Some(p) = project {
            args.extend([OsStr::new("--project"), p.as_os_str()]);
        }
        keys(&args)
    };

    step(&[OsStr::new("setup"), project.as_os_str()], &[]);
    let pristine = dir.join("pristine-project");
    copy_dir(&project, &pristine);
    let observed1 = run_flow(&runs1, &dir.join("observed1.json"));
    let baseline = live(&runs1, None);
    step(&[OsStr::new("edit"), project.as_os_str()], &[]);
    let predicted = live(&runs1, None);
    let observed2 = run_flow(&runs2, &dir.join("observed2.json"));
    let after_rerun = live(&runs2, None);

    copy_dir(&project, &moved);
    // Issue 7: records whose project_root still exists (and holds the unedited source), checked
    // against another checkout with --project.
    let pinned_runs = dir.join("runs1-pinned");
    pin_project_root(&runs1, &pinned_runs, &project, &pristine);
    let pinned = live(&pinned_runs, None);
    let pinned_override = live(&pinned_runs, Some(&moved));
    step(&[OsStr::new("rename"), project.as_os_str()], &[]);
    fs::remove_file(project.join("stages.py")).unwrap();
    let broken = live(&runs1, None);
    fs::remove_dir_all(&project).unwrap();
    let gone = live(&runs1, None);
    let found_moved = live(&runs1, Some(&moved));

    Scenario {
        records1: read_records(&runs1),
        records2: read_records(&runs2),
        dir,
        project,
        moved,
        results,
        observed1,
        observed2,
        baseline,
        predicted,
        after_rerun,
        broken,
        gone,
        found_moved,
        pinned,
        pinned_override,
        pristine,
    }
}

/// Copies the records of `from` to `to` with their project_root changed from `old` to `new`
/// (as text: the records' numbers must not go through a float).
fn pin_project_root(from: &Path, to: &Path, old: &Path, new: &Path) {
    fs::create_dir_all(to).unwrap();
    let field = |p: &Path| format!("\"project_root\": {}", Json::from(p.to_str().unwrap()));
    for entry in fs::read_dir(from).unwrap().flatten() {
        let text = fs::read_to_string(entry.path()).unwrap();
        assert!(
            text.contains(&field(old)),
            "{}: no project_root {}",
            entry.path().display(),
            old.display()
        );
        fs::write(
            to.join(entry.file_name()),
            text.replace(&field(old), &field(new)),
        )
        .unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn read_observed(path: &Path) -> BTreeMap<String, Observed> {
    let text = fs::read_to_string(path).expect("the flow wrote what it observed");
    let all: BTreeMap<String, Json> = serde_json::from_str(&text).expect("observed is JSON");
    all.into_iter()
        .map(|(qualname, o)| {
            let observed = Observed {
                task_run: o["task_run"].as_str().expect("task_run").to_string(),
                state: o["state"].as_str().expect("state").to_string(),
                storage_key: o["storage_key"].as_str().map(PathBuf::from),
            };
            (qualname, observed)
        })
        .collect()
}

fn read_records(runs: &Path) -> BTreeMap<String, Record> {
    let mut records = BTreeMap::new();
    for entry in fs::read_dir(runs)
        .unwrap_or_else(|e| panic!("{}: {e}", runs.display()))
        .flatten()
    {
        let path = entry.path();
        let text = fs::read_to_string(&path).unwrap();
        let json: Json =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let id = json["task_run"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no task_run.id", path.display()))
            .to_string();
        records.insert(id, Record { path, json });
    }
    records
}

fn keys(args: &[&OsStr]) -> Keys {
    let out = Command::new(support::cachescope_bin())
        .arg("keys")
        .args(args)
        .arg("--json")
        .output()
        .expect("run cachescope keys");
    let command = format!(
        "cachescope keys {} --json",
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let lines = String::from_utf8(out.stdout)
        .expect("keys output is UTF-8")
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("`{command}` printed a line that is not JSON: {l}: {e}"))
        })
        .collect();
    Keys {
        command,
        code: out.status.code(),
        lines,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn short(key: Option<&str>) -> String {
    key.map_or("None".into(), |k| k.chars().take(12).collect())
}

/// The per-task table: the edit, the prediction, and what the rerun did.
fn table(s: &Scenario) -> String {
    let mut out = format!(
        "{:<28} {:<40} {:<12} {:<8} {:<12} {}\n",
        "task", "edit", "predicted", "verdict", "rerun key", "rerun"
    );
    for case in CASES {
        let (_, _, second, record2) = s.case(case);
        let line = s.predicted.of(&s.observed1[case.qualname].task_run);
        out.push_str(&format!(
            "{:<28} {:<40} {:<12} {:<8} {:<12} {}\n",
            case.qualname,
            case.edit,
            short(line["key"].as_str()),
            line["verdict"].as_str().unwrap_or("?"),
            short(record2.key()),
            second.state
        ));
    }
    out
}

/// Panics with every problem, the table and the prediction's JSON lines.
fn report(s: &Scenario, what: &str, problems: &[String], keys: &[&Keys]) {
    if !problems.is_empty() {
        let outputs: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        panic!(
            "{what}: {} problem(s); files in {}\n  {}\n\n{}\n{}",
            problems.len(),
            s.dir.display(),
            problems.join("\n  "),
            table(s),
            outputs.join("\n")
        );
    }
}

/// The source cachescope finds in the project as the rerun saw it, next to the source the
/// rerun hashed: what a wrong predicted key comes down to.
fn source_diagnostic(s: &Scenario, case: &Case, record1: &Record, record2: &Record) -> String {
    let out = Command::new(support::cachescope_bin())
        .arg("source")
        .arg(s.moved.join(case.file))
        .arg(case.qualname)
        .arg("--line")
        .arg(record1.line().map_or("1".into(), |l| l.to_string()))
        .output()
        .expect("run cachescope source");
    format!(
        "\n      cachescope source: {:?}{}\n      the rerun hashed:  {:?}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        record2.json["task"]["source"].as_str().unwrap_or("<none>")
    )
}

#[test]
fn both_runs_were_recorded_as_prefect_ran_them() {
    let s = scenario();
    let mut problems = Vec::new();
    for (run, observed, records) in [
        (1, &s.observed1, &s.records1),
        (2, &s.observed2, &s.records2),
    ] {
        let qualnames: Vec<&str> = observed.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = CASES.iter().map(|c| c.qualname).collect();
        expected.sort();
        if qualnames != expected {
            problems.push(format!(
                "run {run}: the flow ran {qualnames:?}, not {expected:?}"
            ));
        }
        if records.len() != observed.len() {
            problems.push(format!(
                "run {run}: {} records for {} task runs",
                records.len(),
                observed.len()
            ));
        }
        for (qualname, o) in observed {
            let Some(record) = records.get(&o.task_run) else {
                problems.push(format!(
                    "run {run} {qualname}: no record of task run {}",
                    o.task_run
                ));
                continue;
            };
            let at = record.path.display();
            if record.json["task"]["qualname"].as_str() != Some(qualname) {
                problems.push(format!(
                    "run {run} {qualname}: {at} records another qualname"
                ));
            }
            if record.json["outcome"]["state"].as_str() != Some(o.state.as_str())
                || record.json["outcome"]["cache_hit"].as_bool() != Some(o.state == "Cached")
            {
                problems.push(format!(
                    "run {run} {qualname}: {at} records {} but Prefect said {}",
                    record.json["outcome"], o.state
                ));
            }
            if record.json["outcome"]["result_storage"].as_str() != s.results.to_str() {
                problems.push(format!(
                    "run {run} {qualname}: {at} result_storage is not {}",
                    s.results.display()
                ));
            }
            // The key Prefect used is the name of the result file it read or wrote.
            let in_storage = o
                .storage_key
                .as_deref()
                .is_some_and(|p| p.parent() == Some(s.results.as_path()) && p.is_file());
            if !in_storage || record.key() != o.stored_key() {
                problems.push(format!(
                    "run {run} {qualname}: record key {:?}, result file {:?} (must be in {} and named by the key)",
                    record.key(),
                    o.storage_key,
                    s.results.display()
                ));
            }
            if run == 1 && o.state != "Completed" {
                problems.push(format!("run 1 {qualname}: {} on an empty cache", o.state));
            }
        }
    }
    report(s, "the real runs", &problems, &[&s.predicted]);
}

/// Before any edit, the live source is the recorded source: every key recomputes as recorded
/// and every task but the RunId one would hit.
#[test]
fn unedited_project_predicts_the_recorded_keys_and_hits() {
    let s = scenario();
    let mut problems = Vec::new();
    for case in CASES {
        let (first, record1, _, _) = s.case(case);
        let line = s.baseline.of(&first.task_run);
        let want_verdict = if case.run_id { "miss" } else { "hit" };
        if line["status"] != "match"
            || line["key"].as_str() != record1.key()
            || line["verdict"] != want_verdict
        {
            problems.push(format!(
                "{}: want status match, the recorded key and {want_verdict}: {line}",
                case.label()
            ));
        }
        let file = s.project.join(case.file);
        if line["source"]["file"].as_str() != file.to_str() {
            problems.push(format!(
                "{}: source not read from {}: {line}",
                case.label(),
                file.display()
            ));
        }
    }
    if s.baseline.code != Some(0) {
        problems.push(format!("exit status {:?}, want 0", s.baseline.code));
    }
    report(
        s,
        "keys --live on the unedited project",
        &problems,
        &[&s.baseline],
    );
}

/// The prediction made after the edits names the key the rerun then used, for every task
/// whose key can be predicted (not RunId), and the source was found where the edit moved it.
#[test]
fn predicted_keys_are_the_keys_the_rerun_used() {
    let s = scenario();
    let mut problems = Vec::new();
    for case in CASES {
        let (first, record1, second, record2) = s.case(case);
        let line = s.predicted.of(&first.task_run);
        let predicted = line["key"].as_str();
        if case.run_id {
            // The key holds the flow run id, new in the rerun: only a miss can be predicted.
            if predicted.is_none() || predicted == record2.key() {
                problems.push(format!(
                    "{}: RunId: predicted {predicted:?}, rerun {:?}; they must differ",
                    case.label(),
                    record2.key()
                ));
            }
        } else if predicted.is_none()
            || predicted != record2.key()
            || predicted != second.stored_key()
        {
            problems.push(format!(
                "{}: predicted {predicted:?}, the rerun's record has {:?} and its result file is {:?}{}",
                case.label(),
                record2.key(),
                second.storage_key,
                source_diagnostic(s, case, record1, record2)
            ));
        }
        // A key that recomputes differently from the recorded one is `changed`, exactly where
        // the edit changed the task's source.
        let want_status = if case.source_changed {
            "changed"
        } else {
            "match"
        };
        if line["status"] != want_status {
            problems.push(format!(
                "{}: status {}, want {want_status}",
                case.label(),
                line["status"]
            ));
        }
        // The edits moved every task down (pipeline.py by the lines inserted at the top,
        // stages.py by the longer helper): the recorded line is stale and the function was
        // found by qualname nearest it.
        let found_at = line["source"]["first_line"].as_u64();
        if found_at.is_none() || found_at <= record1.line() {
            problems.push(format!(
                "{}: found at line {found_at:?}, recorded at {:?}: the edit was to move it down",
                case.label(),
                record1.line()
            ));
        }
    }
    println!("{}", table(s));
    report(
        s,
        "predicted keys against the rerun",
        &problems,
        &[&s.predicted],
    );
}

/// The predicted verdict is what the rerun did: hit exactly when it was served from the cache.
/// The control task hits, the edited ones miss, the RunId one misses; edits that do not touch
/// the task's own source (enclosing function, helper, another definition) hit.
#[test]
fn predicted_verdicts_are_what_the_rerun_did() {
    let s = scenario();
    let mut problems = Vec::new();
    for case in CASES {
        let (first, _, second, record2) = s.case(case);
        let line = s.predicted.of(&first.task_run);
        let verdict = line["verdict"].as_str().unwrap_or("?");
        let real_hit = second.state == "Cached";
        let real = if real_hit { "hit" } else { "miss" };
        let designed = if case.hits() { "hit" } else { "miss" };
        if verdict != real {
            problems.push(format!(
                "{}: predicted {verdict} ({}), the rerun was {} ({real})",
                case.label(),
                line["reason"].as_str().unwrap_or("no reason"),
                second.state
            ));
        }
        if real != designed {
            problems.push(format!(
                "{}: the rerun was {}, the scenario is built for a {designed}",
                case.label(),
                second.state
            ));
        }
        if !real_hit
            && (second.state != "Completed" || record2.json["outcome"]["cache_hit"] != false)
        {
            problems.push(format!(
                "{}: a miss must be Completed without a cache hit: {}",
                case.label(),
                record2.json["outcome"]
            ));
        }
        if case.run_id && !line["reason"].as_str().unwrap_or("").contains("RunId") {
            problems.push(format!(
                "{}: the miss is not put down to RunId: {line}",
                case.label()
            ));
        }
    }
    // Edited tasks recompute differently from their records: exit status 1.
    if s.predicted.code != Some(1) {
        problems.push(format!("exit status {:?}, want 1", s.predicted.code));
    }
    report(
        s,
        "predicted verdicts against the rerun",
        &problems,
        &[&s.predicted],
    );
}

/// Right after the rerun its own records predict a hit for every task without RunId: the
/// rerun stored (or found) each result under the key it recorded.
#[test]
fn right_after_the_rerun_its_records_predict_hits() {
    let s = scenario();
    let mut problems = Vec::new();
    for case in CASES {
        let (_, _, second, record2) = s.case(case);
        let line = s.after_rerun.of(&second.task_run);
        let want = if case.run_id { "miss" } else { "hit" };
        if line["status"] != "match"
            || line["key"].as_str() != record2.key()
            || line["verdict"] != want
        {
            problems.push(format!(
                "{}: want status match, the recorded key and {want}: {line}",
                case.label()
            ));
        }
    }
    if s.after_rerun.code != Some(0) {
        problems.push(format!("exit status {:?}, want 0", s.after_rerun.code));
    }
    report(
        s,
        "keys --live on the rerun's records",
        &problems,
        &[&s.after_rerun],
    );
}

/// `stages.py` deleted: its task's record is an error that names the missing file; the
/// records of the other file are unaffected (same keys and verdicts as the prediction).
#[test]
fn a_deleted_source_file_is_an_error_of_its_records_only() {
    let s = scenario();
    let mut problems = Vec::new();
    let missing = s.project.join("stages.py");
    for case in CASES {
        let first = &s.observed1[case.qualname];
        let line = s.broken.of(&first.task_run);
        match case.qualname {
            "weigh" => {
                let error = line["error"].as_str().unwrap_or("");
                let source_error = line["source"]["error"].as_str().unwrap_or("");
                let names_file = |e: &str| {
                    e.contains("source file not found") && e.contains(missing.to_str().unwrap())
                };
                if line["status"] != "error"
                    || line["verdict"] != "unknown"
                    || !names_file(error)
                    || !names_file(source_error)
                {
                    problems.push(format!(
                        "weigh: want status error, verdict unknown and \"source file not found\" naming {}: {line}",
                        missing.display()
                    ));
                }
            }
            "describe" => {} // renamed: the next test
            _ => {
                // The same key as predicted before the rerun, which has since stored it.
                let predicted = &s.predicted.of(&first.task_run)["key"];
                let want = if case.run_id { "miss" } else { "hit" };
                if line["status"] == "error" || &line["key"] != predicted || line["verdict"] != want
                {
                    problems.push(format!(
                        "{}: want the predicted key {predicted} and {want}, unaffected by the other problems: {line}",
                        case.label()
                    ));
                }
            }
        }
    }
    if s.broken.code != Some(2) {
        problems.push(format!("exit status {:?}, want 2", s.broken.code));
    }
    report(
        s,
        "keys --live with stages.py deleted",
        &problems,
        &[&s.broken],
    );
}

/// `describe` renamed to `describe_rows`: the record is an error that names the file and
/// offers the new name among the candidates.
#[test]
fn a_renamed_function_is_an_error_naming_the_file_and_candidates() {
    let s = scenario();
    let line = s.broken.of(&s.observed1["describe"].task_run);
    let file = s.project.join("pipeline.py");
    let error = line["error"].as_str().unwrap_or("");
    let ok = line["status"] == "error"
        && line["verdict"] == "unknown"
        && line["key"].is_null()
        && error.contains(file.to_str().unwrap())
        && error.contains("no function \"describe\"")
        && error.contains("describe_rows");
    if !ok {
        report(
            s,
            "keys --live with describe renamed",
            &[format!(
                "want status error, verdict unknown, no key, and an error naming {} with describe_rows among the candidates: {line}",
                file.display()
            )],
            &[&s.broken],
        );
    }
}

/// The project folder gone: every record is an error naming the file it tried; with
/// `--project` pointing at the moved copy, every source is read there and the prediction is
/// the one made before the rerun (the copy is the project as the rerun saw it): the rerun's
/// keys, which the rerun stored, so every task without RunId now hits.
#[test]
fn project_flag_finds_the_moved_copy_when_the_recorded_root_is_gone() {
    let s = scenario();
    let mut problems = Vec::new();
    for case in CASES {
        let (first, _, _, record2) = s.case(case);
        let gone = s.gone.of(&first.task_run);
        let tried = s.project.join(case.file);
        let error = gone["error"].as_str().unwrap_or("");
        if gone["status"] != "error"
            || gone["verdict"] != "unknown"
            || !error.contains("source file not found")
            || !error.contains(tried.to_str().unwrap())
        {
            problems.push(format!(
                "{}: without --project, want an error naming {}: {gone}",
                case.label(),
                tried.display()
            ));
        }
        let found = s.found_moved.of(&first.task_run);
        let file = s.moved.join(case.file);
        let want_key = if case.run_id {
            s.predicted.of(&first.task_run)["key"].as_str()
        } else {
            record2.key()
        };
        let want_verdict = if case.run_id { "miss" } else { "hit" };
        if found["source"]["file"].as_str() != file.to_str()
            || found["key"].as_str() != want_key
            || found["verdict"] != want_verdict
        {
            problems.push(format!(
                "{}: with --project, want the source from {}, key {want_key:?} and {want_verdict}: {found}",
                case.label(),
                file.display()
            ));
        }
    }
    if s.gone.code != Some(2) {
        problems.push(format!(
            "without --project: exit status {:?}, want 2",
            s.gone.code
        ));
    }
    // The edited tasks still recompute differently from their records.
    if s.found_moved.code != Some(1) {
        problems.push(format!(
            "with --project: exit status {:?}, want 1",
            s.found_moved.code
        ));
    }
    report(
        s,
        "keys --live with the project moved",
        &problems,
        &[&s.gone, &s.found_moved],
    );
}

/// Issue 7: `--project` replaces every record's project_root even while that root still exists.
/// The records name an unedited copy of the project; without `--project` their live keys are the
/// recorded ones (nothing changed there), and with `--project` naming the edited checkout they
/// are the keys the real rerun of the edited project used.
#[test]
fn project_flag_wins_over_a_recorded_root_that_still_exists() {
    let s = scenario();
    let mut problems = Vec::new();
    for case in CASES {
        let (first, record1, _, record2) = s.case(case);
        let pinned = s.pinned.of(&first.task_run);
        if pinned["source"]["file"].as_str() != s.pristine.join(case.file).to_str()
            || (!case.run_id && pinned["key"].as_str() != record1.key())
        {
            problems.push(format!(
                "{}: without --project, want the unedited source and the recorded key {:?}: {pinned}",
                case.label(),
                record1.key()
            ));
        }
        let over = s.pinned_override.of(&first.task_run);
        let want_key = if case.run_id {
            s.predicted.of(&first.task_run)["key"].as_str()
        } else {
            record2.key()
        };
        if over["source"]["file"].as_str() != s.moved.join(case.file).to_str()
            || over["key"].as_str() != want_key
        {
            problems.push(format!(
                "{}: with --project, want the edited copy's source and the rerun's key {want_key:?}: {over}",
                case.label()
            ));
        }
    }
    report(
        s,
        "keys --live --project over an existing project_root",
        &problems,
        &[&s.pinned, &s.pinned_override],
    );
}
