//! The terminal UI against hostile records and the read-only promise, in a real terminal:
//! tmux runs the binary (as tests/tui_tmux.rs does), and `script` records every byte the
//! program wrote to its terminal.
//!
//! - Read-only: a copy of sample-runs (runs, project, storage) is hashed before and after a
//!   session with live mode, a what-if and an `$EDITOR` round trip (`EDITOR` is a script that
//!   edits the temporary inputs file); every file is byte-identical, no file is added, and no
//!   `cachescope-inputs-*` file is left in the temporary folder.
//! - Escapes: records whose task name carries OSC title, OSC 52 clipboard, CSI cursor-move
//!   and screen-clear sequences; the raw output holds none of them and the pane title is kept.

mod support;

use support::tmux::{Tmux, copy_tree};

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use std::time::Duration;

/// Runs cachescope under `script`, which copies every byte it writes to `raw`.
fn cachescope_recorded(t: &Tmux, args: &str, raw: &Path) {
    let bin = support::cachescope_bin();
    t.type_text(&format!(
        "clear; script -q -e -c \"{} {args}\" '{}'; echo EXITED-$?",
        bin.display(),
        raw.display()
    ));
    t.send(&["Enter"]);
}

/// Every file under `dir` with its bytes' hash, its mode and mtime: a write, a touch or a
/// chmod all show.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, u32, std::time::SystemTime)> {
    use std::hash::{Hash, Hasher};
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
                out.insert(
                    path,
                    (0, meta.permissions().mode(), meta.modified().unwrap()),
                );
            } else {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                fs::read(&path).unwrap().hash(&mut h);
                out.insert(
                    path,
                    (
                        h.finish(),
                        meta.permissions().mode(),
                        meta.modified().unwrap(),
                    ),
                );
            }
        }
    }
    out
}

#[test]
fn a_session_with_live_what_if_and_editor_changes_no_file() {
    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join("sample-runs");
    copy_tree(&support::repo_root().join("sample-runs"), &copy);
    let tmpdir = work.path().join("tmp");
    fs::create_dir(&tmpdir).unwrap();
    // The editor: notes the file it was given, then edits it (a value changes).
    let seen = work.path().join("editor-saw");
    let editor = work.path().join("editor.sh");
    fs::write(
        &editor,
        format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > '{}'\nsed -i 's/: \"[^\"]*\"/: \"edited\"/' \"$1\"\n",
            seen.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&editor, fs::Permissions::from_mode(0o755)).unwrap();
    let before = snapshot(&copy);
    assert!(before.len() > 60, "the copy holds the sample runs");

    let env = format!(
        "TMPDIR='{}' EDITOR='{}'",
        tmpdir.display(),
        editor.display()
    );
    let t = Tmux::start_with(160, 45, &env);
    let raw = work.path().join("raw");
    cachescope_recorded(&t, &format!("'{}'", copy.display()), &raw);
    t.wait_for("loaded 66 runs");
    t.send(&["/"]);
    t.type_text("02-source-edit clean");
    t.send(&["Enter"]);
    t.wait_for("you changed the code of `clean`");
    t.send(&["l"]);
    t.wait_for("NEXT RUN");
    t.send(&["l"]);
    t.send(&["p"]);
    t.send(&["Enter"]);
    t.wait_for("what-if: cache_policy=");
    t.send(&["Escape"]);
    t.send(&["e"]);
    let screen = t.wait_for("edited inputs");
    eprintln!("after the editor:\n{screen}");
    let given = fs::read_to_string(&seen).expect("the editor ran");
    assert!(given.contains("cachescope-inputs-"), "{given}\n{screen}");
    assert!(
        Path::new(&given).starts_with(&tmpdir),
        "the inputs copy is in $TMPDIR: {given}"
    );
    t.send(&["q"]);
    t.wait_for("EXITED-0");

    let after = snapshot(&copy);
    let changed: Vec<_> = before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .collect();
    assert!(
        changed.is_empty(),
        "the session changed files: {changed:#?}"
    );
    assert!(
        !Path::new(&given).exists(),
        "the inputs copy was left: {given}"
    );
    let left: Vec<_> = fs::read_dir(&tmpdir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "files left in $TMPDIR: {left:?}");
}

/// Copies of the story's records whose `clean` task name carries terminal sequences.
const SEQUENCES: [&str; 6] = [
    "\x1b]0;pwned\x07",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b[2J",
    "\x1b[10;10H",
    "\x1b[3A",
    "\x1b(0",
];

#[test]
fn record_sequences_never_reach_the_terminal_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let from = support::repo_root().join("sample-runs/runs/02-source-edit");
    let name: String = SEQUENCES
        .iter()
        .map(|s| {
            serde_json::to_string(s)
                .unwrap()
                .trim_matches('"')
                .to_string()
        })
        .enumerate()
        .map(|(i, s)| format!("{s}Q{i}"))
        .collect();
    for (i, f) in support::files_under(&from, Some("json")).iter().enumerate() {
        let text = fs::read_to_string(f).unwrap();
        let text = text.replace("\"name\": \"clean\"", &format!("\"name\": \"evil{name}\""));
        let text = text.replace(
            "\"../../../",
            &format!("\"{}/", support::repo_root().join("sample-runs").display()),
        );
        fs::write(dir.path().join(format!("r{i}.json")), text).unwrap();
    }
    let t = Tmux::start_with(160, 45, "");
    t.run(&["select-pane", "-t", "t", "-T", "untouched-title"]);
    let raw = dir.path().join("raw.bin");
    cachescope_recorded(&t, &format!("'{}'", dir.path().display()), &raw);
    let screen = t.wait_for("loaded 8 runs");
    assert!(screen.contains("evil\\x1b]0;pwned"), "{screen}");
    // Select the hostile run so its name is drawn in the detail pane too.
    t.send(&["/"]);
    t.type_text("evil");
    t.send(&["Enter"]);
    std::thread::sleep(Duration::from_millis(500));
    t.send(&["q"]);
    t.wait_for("EXITED-0");
    assert_eq!(
        t.title(),
        "untouched-title",
        "a record changed the pane title"
    );
    let bytes = fs::read(&raw).unwrap();
    assert!(bytes.len() > 1000, "script recorded the session");
    let shown = String::from_utf8_lossy(&bytes);
    assert!(
        shown.contains("evil\\x1b]0;pwned"),
        "the name was drawn, escaped"
    );
    eprintln!("script recorded {} bytes", bytes.len());
    // Each sequence as the record has it, with the marker after it: the program's own cursor
    // moves may use the same bytes, never followed by the record's marker.
    for (i, seq) in SEQUENCES.iter().enumerate() {
        let planted = format!("{seq}Q{i}");
        assert!(
            !shown.contains(&planted),
            "the program wrote the record's sequence {seq:?} to the terminal"
        );
        assert!(shown.contains(&format!("Q{i}")), "marker Q{i} was drawn");
    }
    // Sequences a TUI never needs: none at all in the output.
    for seq in ["\x1b]0;", "\x1b]52;", "\x1b[3A", "\x1b(0"] {
        assert!(!shown.contains(seq), "{seq:?} reached the terminal");
    }
    assert!(
        !shown.contains("pwned\x07"),
        "an OSC terminator reached the terminal"
    );
}
