//! The real binary in a real terminal: tmux runs `cachescope sample-runs` in a pane, keys are
//! typed with `send-keys`, and the screen is read with `capture-pane`, waiting for text rather
//! than sleeping. After quitting, `stty -a` in the same pane must show the terminal back in
//! cooked mode (`icanon`, `echo`).
//!
//! Each test has its own tmux server (a socket in a temporary folder), so tests run in
//! parallel and never touch a user's tmux. tmux is part of this machine kind's base image; a
//! machine without it fails here with a message saying so.

mod support;

use support::tmux::{Tmux, copy_tree};

use std::path::Path;

#[test]
fn navigate_to_the_source_edit_miss_toggle_live_help_and_quit() {
    let t = Tmux::start(160, 45);
    t.cachescope("sample-runs");
    t.wait_for("loaded 66 runs");
    t.send(&["/"]);
    t.type_text("02-source-edit clean");
    t.send(&["Enter"]);
    let screen = t.wait_for("you changed the code of `clean`");
    assert!(screen.contains("TaskSource"), "{screen}");
    assert!(screen.contains("CULPRIT, proven"), "{screen}");
    assert!(
        screen.contains("+        if row[\"status\"] in (\"refund\", \"cancelled\")"),
        "the diff is on screen:\n{screen}"
    );
    t.send(&["l"]);
    t.wait_for("NEXT RUN");
    t.send(&["?"]);
    t.wait_for("Keys (Esc closes)");
    t.send(&["Escape"]);
    // A key right behind Escape would reach the terminal as Alt+key: wait for the overlay to
    // close first, as a person does.
    t.wait_gone("Keys (Esc closes)");
    t.send(&["q"]);
    t.assert_restored();
}

#[test]
fn a_tiny_terminal_says_so_and_a_resize_brings_the_screen() {
    let t = Tmux::start(40, 10);
    t.cachescope("sample-runs");
    t.wait_for("needs at least");
    let out = t.run(&["resize-window", "-t", "t", "-x", "160", "-y", "45"]);
    assert!(out.status.success());
    t.wait_for("Runs (66)");
    t.send(&["q"]);
    t.assert_restored();
    drop(t);

    let t = Tmux::start(40, 10);
    t.cachescope("sample-runs");
    t.wait_for("needs at least");
    t.send(&["q"]);
    t.assert_restored();
}

/// A record whose task name carries an OSC title sequence and a screen clear: the pane title
/// stays what it was, and the name is drawn with its escapes visible.
#[test]
fn escapes_in_a_record_do_not_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    write_hostile_copies(
        &support::repo_root().join("sample-runs/runs/02-source-edit"),
        dir.path(),
    );
    let t = Tmux::start(160, 45);
    t.run(&["select-pane", "-t", "t", "-T", "untouched-title"]);
    assert_eq!(t.title(), "untouched-title");
    t.cachescope(&format!("'{}'", dir.path().display()));
    let screen = t.wait_for("loaded 8 runs");
    assert!(screen.contains("evil\\x1b]0;pwned"), "{screen}");
    assert_eq!(
        t.title(),
        "untouched-title",
        "a record changed the pane title"
    );
    t.send(&["q"]);
    t.assert_restored();
    assert_eq!(t.title(), "untouched-title");
}

/// Copies of the story's records with the task name of `clean` full of escape sequences.
fn write_hostile_copies(from: &Path, to: &Path) {
    for (i, f) in support::files_under(from, Some("json")).iter().enumerate() {
        let text = std::fs::read_to_string(f).unwrap();
        let text = text.replace(
            "\"name\": \"clean\"",
            "\"name\": \"evil\\u001b]0;pwned\\u0007\\u001b[2J\\u001b[31mred\"",
        );
        // The records name their project and storage relative to their own folder.
        let text = text.replace(
            "\"../../../",
            &format!("\"{}/", support::repo_root().join("sample-runs").display()),
        );
        std::fs::write(to.join(format!("r{i}.json")), text).unwrap();
    }
}

/// A panic in the UI (a test-only trigger compiled into debug builds: the key named by
/// CACHESCOPE_TEST_PANIC_KEY) leaves a usable shell: cooked mode, and the prompt works.
#[test]
fn a_panic_restores_the_terminal() {
    let t = Tmux::start(120, 30);
    let bin = support::cachescope_bin();
    t.type_text(&format!(
        "clear; CACHESCOPE_TEST_PANIC_KEY=Z {} sample-runs 2>/dev/null; echo EXITED-$?",
        bin.display()
    ));
    t.send(&["Enter"]);
    t.wait_for("loaded 66 runs");
    t.send(&["Z"]);
    let screen = t.wait_for("EXITED-");
    assert!(
        !screen.contains("EXITED-0"),
        "a panic is not a clean exit:\n{screen}"
    );
    t.type_text("clear; stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | sort | tr '\\n' ' '; echo EN''D");
    t.send(&["Enter"]);
    let screen = t.wait_for("icanon END");
    let line = screen
        .lines()
        .find(|l| l.contains("END") && !l.contains("stty"))
        .unwrap_or("");
    assert!(
        line.contains("echo icanon") && !line.contains("-echo"),
        "{line:?}\n{screen}"
    );
}

/// Live mode follows the watcher (issue 10): on a copy of the sample runs, `l` on story 2's
/// second `clean` run predicts a hit; an edit of `clean` in the copy's project flips it to a
/// miss with TaskSource as the culprit, selected so that the evidence pane shows the edit, and
/// undoing the edit flips it back, with no key pressed after `l`.
#[test]
fn live_mode_flips_when_the_source_is_edited_with_no_key_pressed() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("sample-runs");
    copy_tree(&support::repo_root().join("sample-runs"), &copy);
    let etl = copy.join("project/etl.py");
    let original = std::fs::read_to_string(&etl).unwrap();
    let edited = original.replacen(
        "(\"refund\", \"cancelled\")",
        "(\"refund\", \"cancelled\", \"void\")",
        1,
    );
    assert_ne!(original, edited, "the edit applies to clean's body");

    let t = Tmux::start(160, 45);
    t.cachescope(&format!("'{}'", copy.display()));
    t.wait_for("loaded 66 runs");
    t.send(&["/"]);
    t.type_text("run-2-after-edit clean");
    t.send(&["Enter"]);
    t.wait_for("you changed the code of `clean`");
    t.send(&["l"]);
    t.wait_for("NEXT RUN: HIT");
    t.wait_for("watching the sources");

    std::fs::write(&etl, &edited).unwrap();
    let screen = t.wait_for("NEXT RUN: MISS");
    assert!(screen.contains("CULPRIT"), "{screen}");
    assert!(screen.contains("TaskSource"), "{screen}");
    // The culprit is selected, so the evidence pane shows it (with the changed lines), not
    // the root it hangs under.
    let screen = t.wait_for("Evidence · TaskSource");
    assert!(screen.contains("\"void\""), "{screen}");
    assert!(
        screen.contains("etl.py changed"),
        "the status bar names the trigger:\n{screen}"
    );

    std::fs::write(&etl, &original).unwrap();
    t.wait_for("NEXT RUN: HIT");
    t.send(&["q"]);
    t.assert_restored();
}
