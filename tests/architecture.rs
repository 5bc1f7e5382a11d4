//! The core has no terminal or watcher dependency: the key engine, record loading, source
//! extraction and the explainer are libraries the shells (the command line in `src/cli`, the
//! terminal UI in `src/tui`, later the watcher) draw on. A core module that named ratatui,
//! crossterm or notify would make the UI's concerns leak into what must stay pure and testable.

mod support;

use std::fs;

#[test]
fn the_core_names_no_terminal_or_watcher_crate() {
    let src = support::repo_root().join("src");
    let shells = ["cli", "tui", "watch"];
    let mut offenders = Vec::new();
    let mut checked = 0;
    for file in support::files_under(&src, Some("rs")) {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        if shells.contains(&top.as_str()) || rel == std::path::Path::new("main.rs") {
            continue;
        }
        checked += 1;
        let text = fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for krate in ["ratatui", "crossterm", "notify", "notify_debouncer_full"] {
                let used =
                    line.contains(&format!("{krate}::")) || line.contains(&format!("use {krate}"));
                if used {
                    offenders.push(format!("src/{}:{}: {}", rel.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(checked > 20, "the core's files were found ({checked})");
    assert!(
        offenders.is_empty(),
        "core modules use shell crates:\n{}",
        offenders.join("\n")
    );
}

/// The library target (the core) does not even link the terminal crates.
#[test]
fn the_library_does_not_import_the_shells() {
    let lib = fs::read_to_string(support::repo_root().join("src/lib.rs")).unwrap();
    for m in ["mod cli", "mod tui", "mod watch"] {
        assert!(
            !lib.contains(m),
            "src/lib.rs declares `{m}`: the core would carry a shell"
        );
    }
}
