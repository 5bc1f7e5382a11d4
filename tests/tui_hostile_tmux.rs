//! The terminal UI against hostile records and the read-only promise, in a real terminal:
//! tmux runs the binary (as tests/tui_tmux.rs does), and `script` records every byte the
//! program wrote to its terminal.
//!
//! - Read-only: a copy of sample-runs (runs, project, storage) is hashed before and after a
//!   session with live mode, a what-if and an `$EDITOR` round trip (`EDITOR` is a script that
//!   edits the temporary inputs file); every file is byte-identical, no file is added, and no
//!   `cachescope-inputs-*` file is left in the temporary folder.
//! - Escapes: records carrying OSC title, OSC 52 clipboard, cursor-move, screen-clear,
//!   charset-switch, reset, alternate-screen and bidi sequences in task names, flow run names,
//!   file names, sources, inputs and record paths: every cell of the pane is what the UI drew
//!   (the debug binary writes each frame to `CACHESCOPE_TEST_FRAME_FILE`), the pane title,
//!   the window name and the primary screen are unchanged, and the raw output holds none of
//!   the sequences.

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

/// Terminal sequences a record may carry: OSC 0 and OSC 2 titles (BEL and ST ended), OSC 52
/// clipboard, screen clear, cursor moves, a charset switch (ESC ( 0, and SO to G1), a full
/// reset, leaving the alternate screen, the 8-bit CSI (U+009B), tmux's window rename, and the
/// bidi controls RLO and LRI, which reorder what a terminal shows.
const SEQUENCES: [&str; 14] = [
    "\x1b]0;pwned\x07",
    "\x1b]2;pwned2\x1b\\",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b[2J",
    "\x1b[10;10H",
    "\x1b[3A",
    "\x1b(0",
    "\x0e",
    "\x1bc",
    "\x1b[?1049l",
    "\u{9b}2J",
    "\x1bkpwned\x1b\\",
    "\u{202e}",
    "\u{2066}",
];

/// Every sequence, each followed by a marker: the field's letter and the sequence's index.
fn hostile(tag: char) -> String {
    SEQUENCES
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{s}{tag}{i}"))
        .collect()
}

/// `s` escaped for the inside of a JSON string.
fn json_inside(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap();
    quoted[1..quoted.len() - 1].to_string()
}

/// Replaces the first `"key": "..."` string value in JSON text with what `f` makes of it.
fn edit_value(text: &str, key: &str, f: impl Fn(&str) -> String) -> String {
    let open = format!("\"{key}\": \"");
    let at = text.find(&open).unwrap_or_else(|| panic!("no {key}")) + open.len();
    // The closing quote: the first `"` not escaped by a backslash.
    let mut end = at;
    let bytes = text.as_bytes();
    while bytes[end] != b'"' {
        end += if bytes[end] == b'\\' { 2 } else { 1 };
    }
    format!("{}{}{}", &text[..at], f(&text[at..end]), &text[end..])
}

/// Copies of story 2's records with terminal sequences in every kind of field that is drawn:
/// task names (N), flow run names (R), the source file's name (F), a source line (S), an
/// input value (I) and record paths (P: the file names, drawn by the errors overlay for a
/// record that does not parse). Each field that differs between the runs is changed in the
/// second run only, so that the comparison shows it as a change.
fn write_hostile_runs(to: &Path) {
    let from = support::repo_root().join("sample-runs/runs/02-source-edit");
    let sample = support::repo_root().join("sample-runs");
    for (i, f) in support::files_under(&from, Some("json")).iter().enumerate() {
        let second_run = f.to_string_lossy().contains("run-2");
        let mut text = fs::read_to_string(f).unwrap();
        text = text.replace("\"../../../", &format!("\"{}/", sample.display()));
        text = edit_value(&text, "run_name", |v| {
            format!("{v}{}", json_inside(&hostile('R')))
        });
        if text.contains("\"name\": \"clean\"") {
            text = text.replace(
                "\"name\": \"clean\"",
                &format!("\"name\": \"evil{}\"", json_inside(&hostile('N'))),
            );
            text = edit_value(&text, "file", |v| {
                v.replace(".py", &format!("{}.py", json_inside(&hostile('F'))))
            });
            if second_run {
                text = edit_value(&text, "source", |v| {
                    v.replacen(
                        "\\n",
                        &format!("\\n    # {}\\n", json_inside(&hostile('S'))),
                        1,
                    )
                });
            }
        }
        if text.contains("\"name\": \"transform\"") && second_run {
            let inputs = text.find("\"inputs\"").unwrap();
            let (head, rest) = text.split_at(inputs);
            text = format!(
                "{head}{}",
                edit_value(rest, "region", |v| format!(
                    "{v}{}",
                    json_inside(&hostile('I'))
                ))
            );
        }
        fs::write(to.join(format!("r{i}-{}.json", hostile('P'))), text).unwrap();
    }
    fs::write(
        to.join(format!("broken-{}.json", hostile('P'))),
        "{ not json",
    )
    .unwrap();
}

/// Waits until every row of the pane is the row the UI says it drew last (the frame file the
/// debug binary writes with CACHESCOPE_TEST_FRAME_FILE), and returns the screen. A sequence
/// that reached the terminal moves, clears, retitles or re-charsets something, and the cells
/// differ from the frame.
fn screen_is_the_frame(t: &Tmux, frame: &Path) -> String {
    let trim = |s: &str| -> Vec<String> { s.lines().map(|l| l.trim_end().to_string()).collect() };
    let start = std::time::Instant::now();
    loop {
        let screen = t.capture();
        let drawn = fs::read_to_string(frame).unwrap_or_default();
        if !drawn.is_empty() && trim(&screen) == trim(&drawn) {
            return screen;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let (a, b) = (trim(&screen), trim(&drawn));
            let diff: Vec<String> = (0..a.len().max(b.len()))
                .filter(|&r| a.get(r) != b.get(r))
                .take(6)
                .map(|r| {
                    format!(
                        "row {r}:\n  screen: {:?}\n  drawn:  {:?}",
                        a.get(r).map_or("", |s| s),
                        b.get(r).map_or("", |s| s)
                    )
                })
                .collect();
            panic!(
                "the screen is not what the UI drew:\n{}\n--- screen\n{screen}",
                diff.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The escape-injection test in a real terminal (issue 12). Records carry terminal sequences
/// in every kind of field the UI draws; the session shows each of them (the runs list, the
/// headline, an input diff, a source diff, the errors overlay). Then:
/// - at every step every cell of the pane is the cell the UI drew (nothing moved, cleared or
///   switched charset outside it), and each field is drawn with its escapes visible;
/// - the pane title and the window name are what they were (tmux lets sequences set both
///   here: `allow-rename` is on), and after the exit the primary screen shows what it showed
///   before, row for row;
/// - the raw bytes the program wrote (recorded by `script`) hold none of the sequences.
#[test]
fn record_sequences_never_reach_the_terminal_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    fs::create_dir(&runs).unwrap();
    write_hostile_runs(&runs);
    let t = Tmux::start_with(160, 45, "");
    t.run(&["set-option", "-g", "allow-rename", "on"]);
    t.run(&["rename-window", "-t", "t", "untouched-window"]);
    t.run(&["select-pane", "-t", "t", "-T", "untouched-title"]);
    let window_name = || {
        let out = t.run(&["display-message", "-p", "-t", "t", "#{window_name}"]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(
        (t.title().as_str(), window_name().as_str()),
        ("untouched-title", "untouched-window")
    );

    // The primary screen gets 40 known rows, then cachescope starts under `script`.
    let raw = dir.path().join("raw.bin");
    let frame = dir.path().join("frame.txt");
    let primary: Vec<String> = (1..=40)
        .map(|i| format!("primary {i:02}: the screen before cachescope started"))
        .collect();
    let script = dir.path().join("session.sh");
    fs::write(
        &script,
        format!(
            "clear\nprintf '%s\\n' {}\nCACHESCOPE_TEST_FRAME_FILE='{}' script -q -e -c \"{} '{}'\" '{}'\necho EXITED-$?\n",
            primary
                .iter()
                .map(|l| format!("'{l}'"))
                .collect::<Vec<_>>()
                .join(" "),
            frame.display(),
            support::cachescope_bin().display(),
            runs.display(),
            raw.display()
        ),
    )
    .unwrap();
    t.type_text(&format!("sh '{}'", script.display()));
    t.send(&["Enter"]);

    let mut screens = Vec::new();
    // 1. It opens on `transform`'s miss; the last tree node, Inputs, shows the input diff.
    t.wait_for("loaded 8 runs");
    screens.push(screen_is_the_frame(&t, &frame));
    t.send(&["Tab"]);
    t.send(&["G"]);
    t.wait_for("Evidence · Inputs");
    t.wait_for("rows[0].region");
    screens.push(screen_is_the_frame(&t, &frame));
    // 2. The hostile-named task: its source diff and the file name.
    t.send(&["/"]);
    t.type_text("evil");
    t.send(&["Enter"]);
    t.wait_for("you changed the code of");
    t.wait_for("+    #");
    screens.push(screen_is_the_frame(&t, &frame));
    // 3. The errors overlay names the record that does not parse, by its path.
    t.send(&["E"]);
    t.wait_for("broken-");
    screens.push(screen_is_the_frame(&t, &frame));
    t.send(&["Escape"]);
    t.wait_gone("broken-");
    screens.push(screen_is_the_frame(&t, &frame));
    t.send(&["q"]);
    let after = t.wait_for("EXITED-0");

    assert_eq!(
        t.title(),
        "untouched-title",
        "a record changed the pane title"
    );
    assert_eq!(
        window_name(),
        "untouched-window",
        "a record renamed the window"
    );
    let rows: Vec<&str> = after.lines().collect();
    for (r, want) in primary.iter().enumerate() {
        assert_eq!(
            rows.get(r).map(|l| l.trim_end()),
            Some(want.as_str()),
            "primary screen row {r} changed:\n{after}"
        );
    }
    assert_eq!(
        rows.get(40).map(|l| l.trim_end()),
        Some("EXITED-0"),
        "{after}"
    );

    let bytes = fs::read(&raw).unwrap();
    assert!(bytes.len() > 1000, "script recorded the session");
    eprintln!("script recorded {} bytes", bytes.len());
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    // Each sequence with a marker after it, as the record has it: the program's own cursor
    // moves may use the same bytes, never followed by a record's marker.
    for tag in ['N', 'R', 'F', 'S', 'I', 'P'] {
        for (i, seq) in SEQUENCES.iter().enumerate() {
            let planted = format!("{seq}{tag}{i}");
            assert!(
                !contains(planted.as_bytes()),
                "the program wrote the record's sequence {seq:?} (field {tag}) to the terminal"
            );
        }
    }
    // Sequences a TUI never needs: none at all (OSC 52 is sent only by `y`, not pressed here).
    for seq in [
        "\x1b]0;", "\x1b]2;", "\x1b]52;", "\x1b[3A", "\x1b(0", "\x0e", "\x1bc", "\x1bk", "\u{9b}",
        "\u{202e}", "\u{2066}",
    ] {
        assert!(!contains(seq.as_bytes()), "{seq:?} reached the terminal");
    }
    // Nor any OSC terminator: BEL (OSC 52 by `y` would be the only one) or ST.
    assert!(!contains(b"\x07"), "a BEL reached the terminal");
    assert!(
        !contains(b"\x1b\\"),
        "a string terminator reached the terminal"
    );
    // The alternate screen is left once, at the exit.
    let leaves = bytes.windows(8).filter(|w| w == b"\x1b[?1049l").count();
    assert_eq!(leaves, 1, "the alternate screen was left {leaves} times");
    // Every field was drawn with its escapes visible, and every sequence somewhere.
    let seen = screens.join("\n");
    // (Input values are shown as JSON, whose own escapes already make them inert.)
    for tag in ['N', 'R', 'F', 'S', 'I', 'P'] {
        let escaped = format!("\\x1b]0;pwned\\x07{tag}0");
        let json = format!("\\u001b]0;pwned\\u0007{tag}0");
        assert!(
            seen.contains(&escaped) || seen.contains(&json),
            "field {tag} was not drawn: {seen}"
        );
    }
    for i in 0..SEQUENCES.len() {
        assert!(
            ['N', 'R', 'F', 'S', 'I', 'P']
                .iter()
                .any(|tag| seen.contains(&format!("{tag}{i}"))),
            "sequence {i} was not drawn"
        );
    }
}
