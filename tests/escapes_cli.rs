//! Issue 7, item 3: records are files anyone could have written, and the control characters in
//! them (ANSI CSI, OSC title and clipboard sequences, the 8-bit CSI U+009B, bidi overrides) must
//! reach the terminal as visible escapes in every text output and every message, from task
//! names, qualnames, paths, inputs, flow parameters and sources alike; `--json` and `watch` stay
//! exact JSON, with those characters as `\uXXXX` escapes (issue 12), which serde_json and
//! Python's `json.loads` read back as the record's very strings.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value as Json, json};

/// Every kind of sequence at once: the 8-bit CSI, the bidi overrides, clear the screen and turn
/// text red (CSI), retitle the window (OSC 0), set the clipboard (OSC 52). The first ones go
/// first: explain shortens long values, and they are the ones JSON-style quoting keeps raw.
const EVIL: &str = "\u{9b}31m\u{202e}\u{2066}\x1b[2J\x1b[31m\x1b]0;pwned\x07\x1b]52;c;cHduZWQ=\x07";

/// `EVIL` as the text output shows it.
const SHOWN: &str =
    r"\u{9b}31m\u{202e}\u{2066}\x1b[2J\x1b[31m\x1b]0;pwned\x07\x1b]52;c;cHduZWQ=\x07";

/// What would break a row of a table or a line of a message, in the one-line fields (the task's
/// name, the record's file name), and as they show it.
const BREAK: &str = "\r\n\t";
const BREAK_SHOWN: &str = r"\x0d\x0a\x09";

/// The sample record everything here is made from: `extract(day)`, `INPUTS + TASK_SOURCE`.
const SAMPLE: &str = "sample-runs/runs/03-input-change/run-1-march-1/\
                      20261124T203145803-extract-01a20f41-e287-71ea-a046-16849e3a9a49.json";

fn cachescope(args: &[&str], cwd: &Path) -> Output {
    Command::new(support::cachescope_bin())
        .args(args)
        .arg("--now=2026-12-01T00:00:00Z")
        .current_dir(cwd)
        .output()
        .expect("run cachescope")
}

/// Like `cachescope`, for the commands that take no `--now`.
fn cachescope_plain(args: &[&str], cwd: &Path) -> Output {
    Command::new(support::cachescope_bin())
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run cachescope")
}

/// No raw control character in `bytes`: no byte below 0x20 but `\n` and `\t`, no DEL, and, as
/// characters, no C1 control (the 8-bit CSI U+009B among them) and no bidi control.
fn assert_safe(bytes: &[u8], what: &str) {
    let text = std::str::from_utf8(bytes)
        .unwrap_or_else(|e| panic!("{what}: not UTF-8 ({e}): {}", bytes.escape_ascii()));
    for (i, b) in bytes.iter().enumerate() {
        assert!(
            *b >= 0x20 && *b != 0x7f || *b == b'\n' || *b == b'\t',
            "{what}: raw byte {b:#04x} at {i} in {text:?}"
        );
    }
    for c in ['\u{9b}', '\u{9d}', '\u{202e}', '\u{2066}'] {
        assert!(!text.contains(c), "{what}: raw {c:?} in {text:?}");
    }
    assert!(
        !text
            .chars()
            .any(|c| cachescope::sanitize::is_unsafe(c) && c != '\n' && c != '\t'),
        "{what}: a control character in {text:?}"
    );
}

/// Both streams are safe, and `shown` (an escaped form) is somewhere in them: the text was
/// shown, escaped, not dropped.
fn assert_shown(out: &Output, what: &str, shown: &str) {
    assert_safe(&out.stdout, &format!("{what}: stdout"));
    assert_safe(&out.stderr, &format!("{what}: stderr"));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains(shown), "{what}: {shown:?} not in {all:?}");
}

fn json_lines(out: &Output) -> Vec<Json> {
    String::from_utf8(out.stdout.clone())
        .expect("stdout is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

/// Sets every node's key and the record's to what cachescope recomputes, so that the records
/// are consistent (`match`) and an explanation can prove its culprits.
fn settle_keys(path: &Path, cwd: &Path) {
    let out = cachescope_plain(&["keys", path.to_str().unwrap(), "--json"], cwd);
    let line = &json_lines(&out)[0];
    let nodes = line["nodes"].as_array().expect("nodes");
    let mut record: Json = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    fn set(node: &mut Json, keys: &mut impl Iterator<Item = Json>) {
        node["key"] = keys.next().expect("a key per node");
        if let Some(children) = node.get_mut("policies").and_then(Json::as_array_mut) {
            for child in children {
                set(child, keys);
            }
        }
    }
    let mut keys = nodes.iter().map(|n| n["key"].clone());
    set(&mut record["policy"], &mut keys);
    record["key"] = line["key"].clone();
    fs::write(path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
}

/// The scene, in a temporary folder:
/// - `project/etl-EVIL.py`: a copy of the sample project's file;
/// - `runs/run-1/…-EVIL BREAK-A.json` and `runs/run-2/…-EVIL BREAK-B.json`: two runs of the
///   task `extract` + EVIL + BREAK, whose flow name, source (a string literal), `day` input and
///   flow parameter carry EVIL, and differ, so that explaining B against A shows a source diff
///   and input diffs; their result storage (`storage-EVIL`) is empty;
/// - `runs/run-3/…-orphan.json`: a run whose qualname carries EVIL, so no function has it;
/// - `broken/…-EVIL.json`: a record cut short, on bytes that carry EVIL.
struct Scene {
    dir: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
    broken: PathBuf,
}

fn scene() -> Scene {
    scene_with(EVIL)
}

/// The scene, with `evil` in place of [`EVIL`].
fn scene_with(evil: &str) -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let sample: Json =
        serde_json::from_slice(&fs::read(support::repo_root().join(SAMPLE)).unwrap()).unwrap();
    let file = format!("etl-{evil}.py");
    fs::create_dir_all(root.join("project")).unwrap();
    fs::copy(
        support::repo_root().join("sample-runs/project/etl.py"),
        root.join("project").join(&file),
    )
    .unwrap();
    fs::create_dir_all(root.join(format!("storage-{evil}"))).unwrap();

    let make = |run: &str, side: &str, minute: u32, qualname: &str| -> PathBuf {
        let mut r = sample.clone();
        let day = format!("{side}{evil}");
        r["recorded_at"] = json!(format!("2026-11-24T20:3{minute}:45.804Z"));
        r["task_run"]["id"] = json!(format!("01a20f41-e287-71ea-a046-16849e3a9a4{minute}"));
        r["project_root"] = json!("../../project");
        r["flow"]["name"] = json!(format!("nightly{evil}"));
        r["flow"]["parameters"]["day"] = json!(day);
        r["task"]["name"] = json!(format!("extract{evil}{BREAK}"));
        r["task"]["qualname"] = json!(qualname);
        r["task"]["file"] = json!(file);
        let source = r["task"]["source"].as_str().unwrap().replacen(
            "    with open",
            &format!("    tag = \"{side}{evil}\"\n    with open"),
            1,
        );
        r["task"]["source"] = json!(source);
        r["inputs"]["day"] = json!(day);
        // FlowParameters too, so that the flow parameter is hashed and shown.
        r["policy"]["policies"]
            .as_array_mut()
            .unwrap()
            .push(json!({"policy": "FlowParameters", "key": null, "reproducible": true}));
        r["outcome"]["result_storage"] = json!(format!("../../storage-{evil}"));
        let folder = root.join("runs").join(run);
        fs::create_dir_all(&folder).unwrap();
        let path = folder.join(format!("20261124T2031-extract-{evil}{BREAK}-{side}.json"));
        fs::write(&path, serde_json::to_vec_pretty(&r).unwrap()).unwrap();
        settle_keys(&path, root);
        path
    };
    let a = make("run-1", "A", 1, "extract");
    let b = make("run-2", "B", 2, "extract");
    make("run-3", "orphan", 3, &format!("extract{evil}"));

    fs::create_dir_all(root.join("broken")).unwrap();
    let broken = root.join("broken").join(format!("cut-{evil}.json"));
    // Raw, where JSON wants a key: the parser's message quotes the character it found.
    fs::write(
        &broken,
        "{\"format\": \"cachescope/run-record@1\", \u{202e}\x1b]0;pwned\x07\u{9b}2J",
    )
    .unwrap();
    Scene { dir, a, b, broken }
}

impl Scene {
    fn root(&self) -> &Path {
        self.dir.path()
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_scene_is_consistent() {
    // Everything below relies on the records recomputing as recorded.
    let sc = scene();
    let out = cachescope_plain(&["keys", "runs", "--json"], sc.root());
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    for l in &lines {
        assert_eq!(l["status"], "match", "{l}");
    }
}

#[test]
fn summary_and_keys_show_every_field_escaped() {
    let sc = scene();
    let task = format!("extract{SHOWN}{BREAK_SHOWN}");

    let out = cachescope_plain(&["runs"], sc.root());
    assert_shown(&out, "summary", &format!("task {task} (etl-{SHOWN}.py:24)"));
    assert_shown(&out, "summary", &format!("flow nightly{SHOWN} /"));
    assert_shown(&out, "summary", &format!("-{SHOWN}{BREAK_SHOWN}-A.json"));

    let out = cachescope_plain(&["keys", "runs"], sc.root());
    assert_eq!(out.status.code(), Some(0));
    assert_shown(&out, "keys", &format!("match         {task}  "));
    assert_shown(&out, "keys", &format!("-{SHOWN}{BREAK_SHOWN}-B.json\n"));

    // Live: the source is read from `etl-EVIL.py`; the orphan's qualname is nowhere in it,
    // and the message says so, quoting it; the storage folder is named in the reason.
    let out = cachescope_plain(&["keys", "runs", "--live"], sc.root());
    assert_shown(&out, "keys --live", &format!("etl-{SHOWN}.py"));
    assert_shown(&out, "keys --live", &format!("storage-{SHOWN}"));
    assert_shown(&out, "keys --live", "next run: miss");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("error   "), "{text}");
}

#[test]
fn explain_shows_source_and_input_diffs_escaped() {
    let sc = scene();
    let out = cachescope(&["explain", s(&sc.a), s(&sc.b)], sc.root());
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr).escape_debug()
    );
    assert_shown(&out, "explain A B", "missed");
    // The source diff, line by line, and the input and flow parameter changes.
    assert_shown(&out, "explain A B", &format!("-    tag = \"A{SHOWN}\""));
    assert_shown(&out, "explain A B", &format!("+    tag = \"B{SHOWN}\""));
    // Values are quoted as JSON strings are (`\u001b`), every control escaped.
    assert_shown(
        &out,
        "explain A B",
        r#"day: "A\u009b31m\u202e\u2066\u001b[2J"#,
    );
    assert_shown(&out, "explain A B", "FlowParameters");
    assert_shown(
        &out,
        "explain A B",
        &format!("-{SHOWN}{BREAK_SHOWN}-A.json\n     key "),
    );

    // B alone: A is found among the earlier runs.
    let rel_b = sc.b.strip_prefix(sc.root()).unwrap();
    let out = cachescope(&["explain", s(rel_b)], sc.root());
    assert_shown(&out, "explain B", &format!("+    tag = \"B{SHOWN}\""));

    // Live: the file's source has no tag line; the recorded one had.
    let out = cachescope(&["explain", s(&sc.b), "--live"], sc.root());
    assert_shown(&out, "explain --live", &format!("-    tag = \"B{SHOWN}\""));
}

#[test]
fn check_names_tasks_and_files_escaped() {
    let sc = scene();
    let out = cachescope(&["check", "runs"], sc.root());
    // The orphan cannot be checked: exit 2, after the line for the task whose source changed.
    assert_eq!(out.status.code(), Some(2));
    assert_shown(
        &out,
        "check",
        &format!("extract{SHOWN}{BREAK_SHOWN}: would miss because"),
    );
    assert_shown(
        &out,
        "check",
        &format!("cannot check `extract{SHOWN}{BREAK_SHOWN}`"),
    );
}

#[test]
fn messages_about_broken_records_are_escaped() {
    let sc = scene();
    // The file's name and the character the parser stopped at are both quoted.
    let name = format!("cut-{SHOWN}.json");
    for (what, out) in [
        ("summary", cachescope_plain(&["broken"], sc.root())),
        ("keys", cachescope_plain(&["keys", "broken"], sc.root())),
        (
            "keys --json",
            cachescope_plain(&["keys", "broken", "--json"], sc.root()),
        ),
        ("check", cachescope(&["check", "broken"], sc.root())),
        (
            "explain",
            cachescope(&["explain", s(&sc.broken)], sc.root()),
        ),
    ] {
        assert_eq!(out.status.code(), Some(2), "{what}");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if what == "keys --json" {
            // stdout is JSON (the error line); the message is on stderr.
            assert_safe(&out.stderr, "keys --json: stderr");
            assert!(err.contains(&name), "{err:?}");
            continue;
        }
        assert_shown(&out, what, &name);
        assert_shown(&out, what, r"found '\u{202e}'");
    }

    // A file cachescope is told to read and cannot: the message names it.
    let missing = sc.root().join(format!("gone-{EVIL}.json"));
    let out = cachescope(&["explain", s(&missing)], sc.root());
    assert_eq!(out.status.code(), Some(2));
    assert_shown(
        &out,
        "explain missing",
        &format!("gone-{SHOWN}.json: no such file"),
    );

    // A usage error quotes the argument (a glob can pick up any file name).
    let out = cachescope_plain(
        &["explain", "a.json", "b.json", &format!("c-{EVIL}.json")],
        sc.root(),
    );
    assert_eq!(out.status.code(), Some(2));
    // clap drops the ESC sequences itself; the 8-bit CSI and the bidi controls are left to us.
    assert_shown(&out, "usage error", r"'c-\u{9b}31m\u{202e}\u{2066}");
}

#[test]
fn json_stays_exact() {
    let sc = scene();
    let out = cachescope_plain(&["keys", "runs", "--json"], sc.root());
    let lines = json_lines(&out);
    let task = format!("extract{EVIL}{BREAK}");
    assert!(
        lines.iter().all(|l| l["task"] == task.as_str()),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| {
        l["record"]
            .as_str()
            .unwrap()
            .ends_with(&format!("-{EVIL}{BREAK}-A.json"))
    }));

    let out = cachescope(&["explain", s(&sc.a), s(&sc.b), "--json"], sc.root());
    let e: Json = serde_json::from_slice(&out.stdout).expect("explain --json is JSON");
    assert_eq!(e["b"].as_str(), Some(s(&sc.b)));
    let source = e["culprits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["policy"] == "TaskSource")
        .expect("a TaskSource culprit");
    let diff = source["detail"]["diff"].as_str().unwrap();
    assert!(
        diff.contains(&format!("\n+    tag = \"B{EVIL}\"\n")),
        "{diff:?}"
    );
}

/// Every character a terminal acts on that JSON allows raw in a string: DEL, all the C1
/// controls (the 8-bit CSI U+009B, OSC U+009D, NEL U+0085), the bidi controls, and the line and
/// paragraph separators; with an OSC title sequence, whose ESC and BEL JSON escapes itself.
fn json_evil() -> String {
    let mut s = String::from("\x1b]0;t\x07\x7f");
    s.extend('\u{80}'..='\u{9f}');
    s.extend(['\u{61c}', '\u{200e}', '\u{200f}']);
    s.extend('\u{202a}'..='\u{202e}');
    s.extend('\u{2066}'..='\u{2069}');
    s.extend(['\u{2028}', '\u{2029}']);
    s
}

/// `bytes` as text, checked to hold no character a terminal acts on: no control character but
/// the line ends, nothing `safe_json` escapes.
fn json_text(bytes: &[u8], what: &str) -> String {
    let text = String::from_utf8(bytes.to_vec()).unwrap_or_else(|e| panic!("{what}: {e}"));
    for c in text.chars() {
        assert!(
            c == '\n' || !(c.is_control() || cachescope::safe_json::escaped(c)),
            "{what}: raw {c:?} in {text:?}"
        );
    }
    text
}

/// Each line of `text` read by serde_json and by Python's `json.loads`, which must agree. Python
/// hands its reading back as `json.dumps` (ASCII only) for serde_json to compare. Lines are cut
/// at `\n` only: U+2028 would end a line for `str.splitlines`, were it left raw.
fn read_lines_both_ways(text: &str, what: &str) -> Vec<Json> {
    use std::io::Write;
    let ours: Vec<Json> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: not JSON: {l}: {e}")))
        .collect();
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             for line in sys.stdin.buffer.read().decode('utf-8').split('\\n'):\n\
             \x20   if line:\n\
             \x20       print(json.dumps(json.loads(line)))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed: its json.loads must read the output as serde_json does");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{what}: python3 could not read it");
    let python: Vec<Json> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(python, ours, "{what}: Python reads other strings");
    ours
}

/// Every string in `v`, keys included.
fn strings(v: &Json) -> Vec<String> {
    match v {
        Json::String(s) => vec![s.clone()],
        Json::Array(items) => items.iter().flat_map(strings).collect(),
        Json::Object(m) => m
            .iter()
            .flat_map(|(k, v)| std::iter::once(k.clone()).chain(strings(v)))
            .collect(),
        _ => Vec::new(),
    }
}

// Issue 12: JSON output is safe to `cat` to a terminal. A record's task name, inputs, flow
// parameters, source, paths and the error messages that quote them carry every character a
// terminal acts on; every JSON output writes them as `\uXXXX` escapes, and serde_json and
// Python both read back exactly the record's strings.
#[test]
fn json_output_escapes_every_control_and_reads_back_exactly() {
    let evil = json_evil();
    let sc = scene_with(&evil);
    let task = format!("extract{evil}{BREAK}");

    let out = cachescope_plain(&["keys", "runs", "broken", "--json"], sc.root());
    let lines = read_lines_both_ways(&json_text(&out.stdout, "keys --json"), "keys --json");
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(
        lines.iter().filter(|l| l["task"] == task.as_str()).count(),
        3
    );
    let a = lines
        .iter()
        .find(|l| l["record"].as_str().unwrap().ends_with("-A.json"))
        .unwrap();
    assert_eq!(
        a["record"].as_str(),
        Some(s(sc.a.strip_prefix(sc.root()).unwrap()))
    );
    let broken = lines.iter().find(|l| l["status"] == "error").unwrap();
    let error = broken["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("broken/cut-{evil}.json:1:")),
        "{error:?}"
    );
    assert!(error.contains("found '\u{202e}'"), "{error:?}");

    let out = cachescope_plain(&["keys", "runs", "--live", "--json"], sc.root());
    let lines = read_lines_both_ways(&json_text(&out.stdout, "keys --live"), "keys --live");
    let all = lines.iter().flat_map(strings).collect::<Vec<_>>();
    assert!(
        all.iter().any(|s| s.ends_with(&format!("/etl-{evil}.py"))),
        "{all:?}"
    );
    assert!(
        all.iter().any(|s| s.contains(&format!("storage-{evil}"))),
        "{all:?}"
    );

    let out = cachescope(&["explain", s(&sc.a), s(&sc.b), "--json"], sc.root());
    let e = &read_lines_both_ways(&json_text(&out.stdout, "explain"), "explain --json")[0];
    assert_eq!(e["a"].as_str(), Some(s(&sc.a)));
    let all = strings(e);
    for side in ["A", "B"] {
        let diff = format!(
            "\n{}    tag = \"{side}{evil}\"\n",
            if side == "A" { '-' } else { '+' }
        );
        assert!(
            all.iter().any(|s| s.contains(&diff)),
            "{diff:?} not in {all:?}"
        );
        // The changed input and flow parameter, as values.
        assert!(
            all.iter().any(|s| s == &format!("{side}{evil}")),
            "{side}: {all:?}"
        );
    }

    let out = cachescope(&["check", "runs", "--json"], sc.root());
    assert_eq!(out.status.code(), Some(2));
    let lines = read_lines_both_ways(&json_text(&out.stdout, "check"), "check --json");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines.iter().all(|l| l["task"] == task.as_str()),
        "{lines:?}"
    );
    let all = lines.iter().flat_map(strings).collect::<Vec<_>>();
    assert!(
        all.iter()
            .any(|s| s.contains(&format!("-    tag = \"B{evil}\"\n"))),
        "{all:?}"
    );

    // `watch`: an `error` line for a broken record, a `record` line for a new run.
    let mut child = Command::new(support::cachescope_bin())
        .args(["watch", "runs"])
        .current_dir(sc.root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut stdout = std::io::BufReader::new(stdout);
        let mut line = Vec::new();
        // Lines end at `\n` only (`read_until`), as JSON lines do.
        while std::io::BufRead::read_until(&mut stdout, b'\n', &mut line).unwrap_or(0) > 0 {
            if tx.send(std::mem::take(&mut line)).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| -> Json {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("watch: no {what} line: {e}"));
        let text = json_text(&line, "watch");
        read_lines_both_ways(&text, "watch").remove(0)
    };
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &Json| l["event"] == "ready") {
        seen.push(next("ready"));
    }
    // A record written half, as a writer that does not rename leaves it.
    fs::create_dir_all(sc.root().join("runs/run-5")).unwrap();
    fs::copy(&sc.broken, sc.root().join("runs/run-5/cut.json")).unwrap();
    let error = loop {
        let line = next("error");
        if line["event"] == "error" {
            break line;
        }
    };
    assert!(
        error["path"]
            .as_str()
            .unwrap()
            .ends_with("runs/run-5/cut.json"),
        "{error}"
    );
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("found '\u{202e}'"),
        "{error}"
    );
    let mut c: Json = serde_json::from_slice(&fs::read(&sc.b).unwrap()).unwrap();
    c["recorded_at"] = json!("2026-11-24T20:39:45.804Z");
    c["task_run"]["id"] = json!("01a20f41-e287-71ea-a046-16849e3a9a49");
    fs::create_dir_all(sc.root().join("runs/run-4")).unwrap();
    let new = sc
        .root()
        .join("runs/run-4")
        .join(format!("20261124T2039-extract-{evil}{BREAK}-C.json"));
    fs::write(&new, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    let record = loop {
        let line = next("record");
        if line["event"] == "record" {
            break line;
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(record["task"], task.as_str(), "{record}");
    assert!(
        record["record"]
            .as_str()
            .unwrap()
            .ends_with(&format!("-{evil}{BREAK}-C.json")),
        "{record}"
    );
}
