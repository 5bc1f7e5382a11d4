//! Screens of the inspector, driven through `update` with messages and drawn into ratatui's
//! `TestBackend`, pinned with insta. Comparisons run synchronously here (the same `compare`
//! the worker runs), with a fixed clock, on the recorded stories of `sample-runs/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
use jiff::Timestamp;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

use cachescope::engine::CanonicalTexts;
use cachescope::load::{Loaded, discover, load_file};

use super::app::{Effect, Model, Msg, Walk, update};
use super::compare::compare;
use super::runs::Run;
use super::view::view;
use super::walkthrough;
use super::worker::job;

fn now() -> Timestamp {
    "2026-11-24T21:00:00Z".parse().unwrap()
}

fn sample_runs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-runs")
}

/// Loads runs the way the loader thread does, all at once.
fn load(paths: &[PathBuf]) -> Msg {
    let (files, mut errors) = discover(paths);
    let mut runs = Vec::new();
    for f in &files {
        for loaded in load_file(f) {
            match loaded.record {
                Ok(r) => runs.push(Arc::new(Run::new(loaded.source, r))),
                Err(e) => errors.push(e),
            }
        }
    }
    Msg::loaded(runs, errors, files.len(), files.len())
}

/// A model with `paths` loaded, at `size`; comparisons are answered before this returns.
struct Screen {
    model: Model,
    project: Option<PathBuf>,
    copied: Vec<String>,
    edits: Vec<usize>,
    watch_started: bool,
}

impl Screen {
    fn new(paths: &[PathBuf], size: (u16, u16)) -> Screen {
        Screen::loaded(load(paths), size)
    }

    /// A model that got `loaded` (a `Msg::Loaded`) and then the end of the load.
    fn loaded(loaded: Msg, size: (u16, u16)) -> Screen {
        let mut s = Screen {
            model: Model::new("sample-runs".to_string(), size, true),
            project: None,
            copied: Vec::new(),
            edits: Vec::new(),
            watch_started: false,
        };
        s.send(loaded);
        s.send(Msg::LoadFinished { ms: 0 });
        s
    }

    fn samples(size: (u16, u16)) -> Screen {
        Screen::new(&[sample_runs()], size)
    }

    /// Applies a message and everything it causes, as the event loop would.
    fn send(&mut self, msg: Msg) {
        let mut pending = vec![msg];
        while let Some(msg) = pending.pop() {
            for effect in update(&mut self.model, msg) {
                match effect {
                    Effect::Compare(request) => {
                        let j = job(
                            request,
                            self.model.runs.clone(),
                            self.project.clone(),
                            now(),
                        );
                        pending.push(Msg::Compared(Box::new(compare(&j))));
                    }
                    Effect::Copy(text) => self.copied.push(text),
                    Effect::Edit { run } => self.edits.push(run),
                    Effect::StartWatch => self.watch_started = true,
                    Effect::Reload(path) => {
                        let (runs, errors) = super::worker::load_one(&path);
                        pending.push(Msg::Reloaded { path, runs, errors });
                    }
                }
            }
        }
    }

    fn key(&mut self, code: KeyCode) {
        self.send(Msg::Key(KeyEvent {
            code,
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        }));
    }

    fn keys(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// Selects the run whose record path matches `glob`.
    fn select(&mut self, glob: &str) {
        let m = walkthrough::matcher(glob).unwrap();
        let run = self
            .model
            .runs
            .iter()
            .position(|r| walkthrough::is_match(&m, r))
            .unwrap_or_else(|| panic!("no run matches {glob}"));
        let effects = self.model.select_run(run);
        for e in effects {
            if let Effect::Compare(request) = e {
                let j = job(
                    request,
                    self.model.runs.clone(),
                    self.project.clone(),
                    now(),
                );
                self.send(Msg::Compared(Box::new(compare(&j))));
            }
        }
    }

    fn buffer(&self) -> Buffer {
        let mut terminal =
            Terminal::new(TestBackend::new(self.model.size.0, self.model.size.1)).unwrap();
        terminal.draw(|f| view(&self.model, f)).unwrap();
        terminal.backend().buffer().clone()
    }

    fn text(&self) -> String {
        let b = self.buffer();
        let mut out = String::new();
        for y in 0..b.area.height {
            let mut line = String::new();
            for x in 0..b.area.width {
                line.push_str(b[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

const WIDE: (u16, u16) = (160, 45);
const SMALL: (u16, u16) = (80, 24);

const STORY_02_B: &str = "02-source-edit/run-2-after-edit/*-clean-*.json";

#[test]
fn the_first_screen_lands_on_a_miss_and_its_culprit() {
    let s = Screen::samples(WIDE);
    let text = s.text();
    assert!(text.contains("MISS"), "{text}");
    assert!(text.contains("CULPRIT, proven"), "{text}");
    insta::assert_snapshot!("first_screen_wide", text);
    insta::assert_snapshot!("first_screen_80x24", Screen::samples(SMALL).text());
}

#[test]
fn a_source_edit_shows_the_task_source_culprit_and_the_diff() {
    let mut s = Screen::samples(WIDE);
    s.select(STORY_02_B);
    let text = s.text();
    assert!(text.contains("you changed the code of `clean`"), "{text}");
    assert!(text.contains("TaskSource"), "{text}");
    assert!(
        text.contains("+        if row[\"status\"] in (\"refund\", \"cancelled\")"),
        "{text}"
    );
    insta::assert_snapshot!("source_diff", text);
    // The culprit is drawn in the culprit's style; the same screen without colour carries it
    // in words ("CULPRIT") and marks alone.
    let b = s.buffer();
    let culprit = (0..b.area.height).find(|&y| {
        let row: String = (0..b.area.width)
            .map(|x| b[(x, y)].symbol().to_string())
            .collect();
        row.contains("CULPRIT")
    });
    let y = culprit.expect("a culprit row");
    assert!((0..b.area.width).any(|x| b[(x, y)].fg == Color::Red));
}

#[test]
fn evidence_of_each_kind() {
    let cases = [
        (
            "input_diff",
            "03-input-change/run-2-*/*-extract-*.json",
            "input",
        ),
        (
            "parameter_diff",
            "04-*/run-2-*/*-load-*.json",
            "FlowParameters",
        ),
        (
            "run_id",
            "01-cold-and-hit/run-2-hit/*-transform-*.json",
            "RunId",
        ),
        ("expired", "05-expired/run-2-*/*-extract-*.json", "expired"),
        (
            "refresh_cache",
            "06-refresh-cache/run-2-*/*-extract-*.json",
            "refresh_cache",
        ),
        (
            "opaque_input",
            "07-opaque-input/run-2-*/*-publish-*.json",
            "publish",
        ),
        (
            "set_of_strings",
            "08-set-of-strings/run-2-*/*-clean-*.json",
            "PYTHONHASHSEED",
        ),
    ];
    for (name, glob, must) in cases {
        let mut s = Screen::samples(WIDE);
        s.select(glob);
        let text = s.text();
        assert!(
            text.contains(must),
            "{name}: {must:?} not on screen:\n{text}"
        );
        insta::assert_snapshot!(format!("evidence_{name}"), text);
    }
}

#[test]
fn advice_with_its_check_scrolls_in_the_evidence_pane() {
    let mut s = Screen::samples(SMALL);
    s.select("01-cold-and-hit/run-2-hit/*-transform-*.json");
    s.key(KeyCode::Tab);
    s.key(KeyCode::Tab);
    for _ in 0..12 {
        if s.text().contains("check:") {
            break;
        }
        s.key(KeyCode::Down);
    }
    let text = s.text();
    assert!(text.contains("check:"), "{text}");
    insta::assert_snapshot!("advice_scrolled", text);
}

/// A jump (the first look, `n` and `N` to a miss) shows the run under its task's header: on
/// the edge of the list among another task's runs, the user could not tell whose run it is.
#[test]
fn a_jump_shows_the_run_under_its_task_header() {
    use super::runs::RowId;
    for size in [WIDE, (120, 32), SMALL] {
        let mut s = Screen::samples(size);
        let mut fitted = 0;
        // Forward through every miss, then back up through them (`N`), where a run at the top
        // edge of the view would leave its header above it.
        for jump in 0..60 {
            let m = &s.model;
            let row = m.selected_row().expect("a run is selected");
            let header = m.rows[..=row]
                .iter()
                .rposition(|r| matches!(r, RowId::Task(_)))
                .expect("a run sits under its task");
            let (top, height) = (m.runs_offset, m.runs_height());
            // Where the two cannot both fit, the run is shown.
            let first = if row - header < height { header } else { row };
            assert!(
                top <= first && row < top + height,
                "{size:?}, jump {jump}: rows {top}..{} show run row {row} without its header at {header}",
                top + height
            );
            fitted += usize::from(first == header);
            s.keys(if jump < 30 { "n" } else { "N" });
        }
        assert!(
            fitted >= 10,
            "{size:?}: only {fitted} jumps could show the header"
        );
    }
}

#[test]
fn compare_with_a_marked_run() {
    let mut s = Screen::samples(WIDE);
    s.select("02-source-edit/run-1-before-edit/*-clean-*.json");
    s.keys("c");
    s.select("03-input-change/run-2-*/*-clean-*.json");
    let text = s.text();
    assert!(text.contains("the run you marked"), "{text}");
    insta::assert_snapshot!("marked", text);
    // Esc clears the mark: back to the paired run.
    s.key(KeyCode::Esc);
    assert!(s.text().contains("latest earlier run"));
}

#[test]
fn live_compares_with_the_next_run() {
    let mut s = Screen::samples(WIDE);
    s.project = Some(sample_runs().join("project"));
    s.select("02-source-edit/run-1-before-edit/*-clean-*.json");
    s.keys("l");
    let text = s.text();
    assert!(text.contains("NEXT RUN"), "{text}");
    assert!(
        text.contains("the next run: source, policy and storage"),
        "{text}"
    );
    insta::assert_snapshot!("live", text);
}

#[test]
fn the_what_if_editor_validates_as_you_type() {
    let mut s = Screen::samples(WIDE);
    s.select(STORY_02_B);
    s.keys("p");
    // The editor starts with the run's own policy.
    assert!(
        s.text()
            .contains("cache_policy=INPUTS + TASK_SOURCE - \"log_every\"")
    );
    for _ in 0..40 {
        s.key(KeyCode::Backspace);
    }
    s.keys("INPUTS + ");
    let invalid = s.text();
    assert!(invalid.contains("✗"), "{invalid}");
    insta::assert_snapshot!("what_if_invalid", invalid);
    s.keys("FLOW_PARAMETERS - \"log_every\"");
    let valid = s.text();
    assert!(valid.contains("✓ valid"), "{valid}");
    insta::assert_snapshot!("what_if_valid", valid);
    // Enter: both sides recomputed under it, and the keys the task's runs would have.
    s.key(KeyCode::Enter);
    let applied = s.text();
    assert!(applied.contains("What if"), "{applied}");
    assert!(applied.contains("under this policy (now"), "{applied}");
    insta::assert_snapshot!("what_if_applied", applied);
}

#[test]
fn edited_inputs_are_recomputed_and_compared() {
    let mut s = Screen::samples(WIDE);
    s.select("03-input-change/run-1-*/*-extract-*.json");
    s.keys("e");
    assert_eq!(s.edits.len(), 1, "e asks the loop for the editor");
    let run = s.edits[0];
    let mut inputs = s.model.runs[run]
        .full_record()
        .unwrap()
        .inputs
        .clone()
        .unwrap();
    if let cachescope::pyjson::Value::Object(entries) = &mut inputs {
        for (_, v) in entries.iter_mut() {
            if let cachescope::pyjson::Value::Str(text) = v {
                text.push_str("-edited");
            }
        }
    }
    s.send(Msg::Edited(Ok(inputs)));
    let text = s.text();
    assert!(text.contains("edited inputs"), "{text}");
    assert!(text.contains("Inputs"), "{text}");
    insta::assert_snapshot!("edited_inputs", text);
}

#[test]
fn overlays_help_filter_errors() {
    let mut s = Screen::samples(WIDE);
    s.keys("?");
    let help = s.text();
    for (keys, action) in super::action::help_rows() {
        assert!(help.contains(action.about()), "help lacks {action}");
        assert!(
            help.contains(keys.split('/').next().unwrap()),
            "help lacks {keys}"
        );
    }
    insta::assert_snapshot!("help", help);
    s.key(KeyCode::Esc);
    s.keys("/");
    s.keys("refresh");
    let filtered = s.text();
    assert!(filtered.contains("/refresh"), "{filtered}");
    insta::assert_snapshot!("filter", filtered);
    s.key(KeyCode::Enter);

    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("half.json"),
        "{\"format\": \"cachescope/run-record@1\", \"task\": {",
    )
    .unwrap();
    let mut s = Screen::new(&[sample_runs(), tmp.path().to_path_buf()], WIDE);
    assert!(
        s.text()
            .contains("1 file could not be loaded (E lists them)")
    );
    s.keys("E");
    let errors = s.text().replace(&tmp.path().display().to_string(), "[TMP]");
    assert!(errors.contains("half.json"), "{errors}");
    insta::assert_snapshot!("errors", errors);
}

#[test]
fn a_walkthrough_step_selects_compares_and_captions() {
    let (title, steps) = walkthrough::load(&sample_runs().join("walkthrough.toml"))
        .expect("the sample walkthrough parses");
    let mut s = Screen::samples(WIDE);
    s.model.walk = Some(Walk {
        title,
        steps,
        index: 0,
        problem: None,
    });
    let effects = s.model.play_step();
    for e in effects {
        if let Effect::Compare(r) = e {
            let j = job(r, s.model.runs.clone(), None, now());
            s.send(Msg::Compared(Box::new(compare(&j))));
        }
    }
    s.key(KeyCode::Char(' '));
    let text = s.text();
    assert!(text.contains("step 2/"), "{text}");
    insta::assert_snapshot!("walkthrough", text);
}

/// The status bar at every width from the smallest drawn to wider than every hint, with no
/// message, a short one and one longer than half the bar: the hints are whole (a hint cut in the
/// middle reads as another key), `? help` and `q quit` are there, and the message is apart.
#[test]
fn the_status_bar_shows_whole_hints_and_keeps_help_and_quit() {
    let hints = super::action::hints(super::action::Pane::Runs, false);
    let texts: Vec<String> = hints.iter().map(|(k, l)| format!("{k} {l}")).collect();
    let long = "marked as A: clean 2026-11-24 20:31:28; select another run to compare (Esc clears)";
    for width in 60..=170u16 {
        for message in [None, Some("loaded 66 runs of 5 tasks in 0 ms"), Some(long)] {
            let mut screen = Screen::samples((width, 24));
            screen.model.message = message.map(str::to_string);
            let text = screen.text();
            let bar = text.lines().last().unwrap();
            let shown = match message {
                Some(m) => {
                    let m_at = bar
                        .find(&m[..10])
                        .unwrap_or_else(|| panic!("{width}: no message in {bar:?}"));
                    assert!(bar[..m_at].ends_with("  "), "{width}: {bar:?}");
                    &bar[..m_at]
                }
                None => bar,
            };
            // Hints are separated by two spaces; each piece must be a whole hint.
            let pieces: Vec<&str> = shown
                .split("  ")
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            for piece in &pieces {
                assert!(
                    texts.iter().any(|t| t == piece),
                    "{width}: cut hint {piece:?} in {bar:?}"
                );
            }
            assert!(
                pieces.contains(&"? help") && pieces.contains(&"q quit"),
                "{width}: {bar:?}"
            );
            if width >= 160 && message.is_none() {
                assert_eq!(
                    pieces.len(),
                    texts.len(),
                    "{width}: every hint fits: {bar:?}"
                );
            }
        }
    }
}

#[test]
fn a_tiny_terminal_gets_one_line() {
    let s = Screen::samples((40, 10));
    let text = s.text();
    assert!(text.contains("cachescope needs at least 60x16"), "{text}");
    insta::assert_snapshot!("too_small", text);
}

#[test]
fn no_color_draws_no_colour_and_keeps_every_word() {
    let mut s = Screen::samples(WIDE);
    s.model.color = false;
    s.select(STORY_02_B);
    let b = s.buffer();
    for cell in b.content() {
        assert_eq!(
            (cell.fg, cell.bg),
            (Color::Reset, Color::Reset),
            "a coloured cell"
        );
    }
    let text = s.text();
    assert!(
        text.contains("CULPRIT, proven") && text.contains("MISS"),
        "{text}"
    );
}

#[test]
fn the_selection_stays_on_the_same_run_when_runs_arrive() {
    let mut s = Screen::samples(WIDE);
    s.select(STORY_02_B);
    let before = s.model.selected_run().unwrap();
    let path = s.model.runs[before].source.path.clone();
    let node = s.model.selected_node.clone();
    // More runs arrive (the same stories again, from a copy): the selection holds.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&sample_runs().join("runs/01-cold-and-hit"), tmp.path());
    s.send(load(&[tmp.path().to_path_buf()]));
    let after = s.model.selected_run().unwrap();
    assert_eq!(s.model.runs[after].source.path, path);
    assert_eq!(s.model.selected_node, node);
}

#[test]
fn stale_comparisons_are_dropped() {
    let mut s = Screen::samples(WIDE);
    s.select(STORY_02_B);
    let current = s.model.comparison.clone().unwrap();
    let mut stale = current.clone();
    stale.generation -= 1;
    stale.how = "stale".to_string();
    s.send(Msg::Compared(Box::new(stale)));
    assert_eq!(s.model.comparison.as_ref().unwrap().how, current.how);
}

#[test]
fn next_miss_walks_the_misses() {
    let mut s = Screen::samples(WIDE);
    let mut seen = Vec::new();
    for _ in 0..5 {
        s.keys("n");
        let run = s.model.selected_run().unwrap();
        assert_eq!(s.model.runs[run].badge, super::runs::Badge::Miss);
        seen.push(run);
    }
    seen.dedup();
    assert_eq!(seen.len(), 5, "n moves on each time");
    s.keys("N");
    assert_eq!(s.model.selected_run(), Some(seen[3]));
}

#[test]
fn copy_takes_the_selected_key_or_the_explanation() {
    let mut s = Screen::samples(WIDE);
    s.select(STORY_02_B);
    s.key(KeyCode::Tab);
    s.keys("y");
    let key = s.copied.last().cloned().unwrap();
    assert_eq!(key.len(), 32, "{key}");
    s.keys("Y");
    assert!(
        s.copied
            .last()
            .unwrap()
            .contains("you changed the code of `clean`")
    );
}

#[test]
fn escapes_in_records_are_drawn_visibly() {
    let tmp = tempfile::tempdir().unwrap();
    let src = cachescope::load::discover(&[sample_runs().join("runs/02-source-edit")]).0;
    for (i, f) in src.iter().enumerate() {
        let text = std::fs::read_to_string(f).unwrap();
        let text = text.replace(
            "\"name\": \"clean\"",
            "\"name\": \"evil\\u001b]0;pwned\\u0007\\u001b[2J\\u202e\"",
        );
        std::fs::write(tmp.path().join(format!("r{i}.json")), text).unwrap();
    }
    let s = Screen::new(&[tmp.path().to_path_buf()], WIDE);
    let b = s.buffer();
    for cell in b.content() {
        assert!(
            !cell.symbol().chars().any(cachescope::sanitize::is_unsafe),
            "a control character reached a cell: {:?}",
            cell.symbol()
        );
    }
    assert!(s.text().contains("evil\\x1b]0;pwned"), "{}", s.text());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[allow(dead_code)]
fn _arc(_: Arc<Run>) {}

#[test]
fn the_mouse_selects_the_row_under_it_and_scrolls_the_pane_under_it() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut s = Screen::samples(WIDE);
    let l = s.model.layout();
    let inner = l.runs_inner();
    let click = |row: u16, kind| MouseEvent {
        kind,
        column: inner.x + 3,
        row: inner.y + row,
        modifiers: KeyModifiers::NONE,
    };
    // The third visible row: whatever it shows is what gets selected.
    let expected = s.model.rows[s.model.runs_offset + 2].clone();
    s.send(Msg::Mouse(click(
        2,
        MouseEventKind::Down(MouseButton::Left),
    )));
    assert_eq!(s.model.selected.as_ref(), Some(&expected));
    let before = s.model.runs_offset;
    s.send(Msg::Mouse(click(2, MouseEventKind::ScrollDown)));
    assert_eq!(s.model.runs_offset, before + 3);
    // A click in the tree selects the node on that row (its first row is the header).
    let tree = s.model.layout().tree_inner();
    s.send(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: tree.x + 2,
        row: tree.y + 2,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(s.model.focus, super::action::Pane::Tree);
    let second = s.model.current().unwrap().nodes[1].path.clone();
    assert_eq!(s.model.selected_node, Some(second));
}

#[test]
fn key_releases_do_nothing() {
    let mut s = Screen::samples(WIDE);
    let before = s.model.selected.clone();
    s.send(Msg::Key(KeyEvent {
        code: KeyCode::Char('j'),
        modifiers: KeyModifiers::NONE,
        kind: KeyEventKind::Release,
        state: KeyEventState::NONE,
    }));
    assert_eq!(s.model.selected, before);
    s.keys("j");
    assert_ne!(s.model.selected, before);
}

/// Sets `value[path...] = new` in a record (objects only), keeping every number's text.
fn set(value: &mut cachescope::pyjson::Value, path: &[&str], new: cachescope::pyjson::Value) {
    use cachescope::pyjson::{Key, Value};
    let Value::Object(entries) = value else {
        panic!("not an object at {path:?}")
    };
    let slot = entries
        .iter_mut()
        .find(|(k, _)| matches!(k, Key::Str(s) if s == path[0]))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {:?}", path[0]));
    if path.len() == 1 {
        *slot = new;
    } else {
        set(slot, &path[1..], new);
    }
}

/// Copies story 1's `extract` runs into `dir`, run 2 edited by `edit`; paths made absolute.
fn story_one_extract(dir: &Path, edit: impl Fn(&mut cachescope::pyjson::Value)) {
    use cachescope::pyjson::{SortKeys, Value, dumps, parse};
    let root = sample_runs();
    for (name, glob) in [
        ("a.json", "01-cold-and-hit/run-1-cold/*-extract-*.json"),
        ("b.json", "01-cold-and-hit/run-2-hit/*-extract-*.json"),
    ] {
        let m = walkthrough::matcher(glob).unwrap();
        let file = discover(&[root.join("runs")])
            .0
            .into_iter()
            .find(|f| m.is_match(f))
            .unwrap();
        let mut v = parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
        // The project and the storage are copied beside the records, so that every path on
        // screen is under the temporary folder (and snapshots do not depend on the checkout).
        if !dir.join("project").exists() {
            copy_dir(&root.join("project"), &dir.join("project"));
            copy_dir(
                &root.join("storage/01-cold-and-hit"),
                &dir.join("storage/01-cold-and-hit"),
            );
        }
        let abs = |p: &str| Value::Str(dir.join(p).display().to_string());
        set(&mut v, &["project_root"], abs("project"));
        set(
            &mut v,
            &["outcome", "result_storage"],
            abs("storage/01-cold-and-hit"),
        );
        if name == "b.json" {
            edit(&mut v);
        }
        std::fs::write(dir.join(name), dumps(&v, SortKeys::Preserve).unwrap()).unwrap();
    }
}

#[test]
fn causes_that_are_not_the_key() {
    use cachescope::pyjson::Value;
    let missed = |v: &mut Value| {
        set(v, &["outcome", "state"], Value::Str("Completed".into()));
        set(v, &["outcome", "cache_hit"], Value::Bool(false));
    };
    // B looked in another storage folder.
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    story_one_extract(tmp.path(), |v| {
        missed(v);
        set(
            v,
            &["outcome", "result_storage"],
            Value::Str(elsewhere.display().to_string()),
        );
    });
    let mut s = Screen::new(&[tmp.path().to_path_buf()], WIDE);
    s.select("b.json");
    let text = s.text().replace(&tmp.path().display().to_string(), "[TMP]");
    assert!(text.contains("other_storage"), "{text}");
    insta::assert_snapshot!("cause_other_storage", text);

    // B had no key: NO_CACHE.
    let tmp = tempfile::tempdir().unwrap();
    story_one_extract(tmp.path(), |v| {
        missed(v);
        set(v, &["key"], Value::Null);
        let none =
            cachescope::pyjson::parse(r#"{"policy": "_None", "key": null, "reproducible": true}"#)
                .unwrap();
        set(v, &["policy"], none);
    });
    let mut s = Screen::new(&[tmp.path().to_path_buf()], WIDE);
    s.select("b.json");
    let text = s.text().replace(&tmp.path().display().to_string(), "[TMP]");
    assert!(text.contains("no_key"), "{text}");
    insta::assert_snapshot!("cause_no_key", text);

    // Live, with the run's storage emptied: no record under the next key.
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty-storage");
    std::fs::create_dir_all(&empty).unwrap();
    story_one_extract(tmp.path(), |v| {
        set(
            v,
            &["outcome", "result_storage"],
            Value::Str(empty.display().to_string()),
        );
    });
    let mut s = Screen::new(&[tmp.path().to_path_buf()], WIDE);
    s.select("b.json");
    s.keys("l");
    let text = s.text().replace(&tmp.path().display().to_string(), "[TMP]");
    assert!(text.contains("no_record"), "{text}");
    insta::assert_snapshot!("cause_no_record", text);
}

#[test]
fn no_color_screen() {
    let mut s = Screen::samples(SMALL);
    s.model.color = false;
    s.select(STORY_02_B);
    insta::assert_snapshot!("no_color_80x24", s.text());
}

#[test]
fn hostile_records_are_listed_in_the_error_overlay() {
    // The malformed records of tests/hostile_records.rs and a FIFO beside a good record: the
    // good one is listed, every bad one is named in the overlay `E` opens.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let good = std::fs::read_dir(sample_runs().join("runs/06-refresh-cache/run-1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("-extract-"))
        .unwrap();
    let good = std::fs::read_to_string(good).unwrap();
    std::fs::write(dir.join("good.json"), &good).unwrap();
    let bad: [(&str, Vec<u8>); 8] = [
        ("empty.json", vec![]),
        ("truncated.json", good.as_bytes()[..good.len() / 2].to_vec()),
        (
            "bom.json",
            [b"\xef\xbb\xbf".as_slice(), good.as_bytes()].concat(),
        ),
        ("utf8.json", b"{\"format\": \"\xff\"}".to_vec()),
        ("deep.json", "[".repeat(100_000).into_bytes()),
        (
            "format.json",
            good.replace("run-record@1", "run-record@9").into_bytes(),
        ),
        ("lines.jsonl", b"{\"format\": tru}\n".to_vec()),
        (
            "id.json",
            good.replace("\"01a20f42-c174-7dda-a501-cc32cdde9848\"", "12")
                .into_bytes(),
        ),
    ];
    for (name, bytes) in &bad {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let fifo = std::process::Command::new("mkfifo")
        .arg(dir.join("pipe.json"))
        .status()
        .expect("run mkfifo");
    assert!(fifo.success());
    let mut s = Screen::new(&[dir.to_path_buf()], (200, 45));
    let list = s.text();
    assert!(list.contains("extract"), "{list}");
    assert!(
        list.contains("9 files could not be loaded (E lists them)"),
        "{list}"
    );
    s.keys("E");
    let errors = s.text();
    for name in bad.iter().map(|(n, _)| *n).chain(["pipe.json"]) {
        assert!(errors.contains(name), "the overlay lacks {name}: {errors}");
    }
    // Each with its place, `FILE:LINE:COLUMN` (issue 12), but the empty file, which has none.
    for message in [
        "empty.json: empty file",
        "bom.json:1:1: starts with a byte-order mark",
        "utf8.json:1:13: not UTF-8",
        "deep.json:1:2001: arrays and objects nested deeper",
        "format.json:2:13: format: expected \"cachescope/run-record@1\", found \"cachescope/run-record@9\"",
        "lines.jsonl:1:12: expected a JSON value",
        "id.json:37:11: task_run.id: expected a string or null, found 12",
        "pipe.json: skipped: not a regular file (a FIFO)",
    ] {
        assert!(
            errors.contains(message),
            "the overlay lacks {message}: {errors}"
        );
    }
}

/// The loader keeps where a big folder's canonical inputs lie in their files, and reads them
/// again, as values, only for the tasks a comparison reads. Every comparison must come out as
/// from runs loaded whole: the
/// sample runs, rewritten on one line as `json.dumps` writes them (so their inputs are
/// canonical and really kept as text), and spread over lines as the recorder's `indent=2`
/// spreads them (kept as text once respaced), compared with their earlier run both ways.
#[test]
fn runs_loaded_lean_compare_as_runs_loaded_whole() {
    use cachescope::pyjson::{SortKeys, Value, dumps, parse};

    let (files, _) = discover(&[sample_runs()]);
    let tmp = tempfile::tempdir().unwrap();
    let mut whole = Vec::new();
    let mut lines = Vec::new();
    for f in &files {
        for loaded in load_file(f) {
            let Ok(record) = loaded.record else { continue };
            // Relative paths are relative to the record's folder: make them absolute so the
            // copy finds the same project and storage.
            let mut value = parse(&std::fs::read_to_string(f).unwrap()).unwrap();
            if let Value::Object(entries) = &mut value {
                for (k, v) in entries.iter_mut() {
                    let absolute = |v: &Value| match v {
                        Value::Str(p) => Some(Value::Str(
                            f.parent().unwrap().join(p).display().to_string(),
                        )),
                        _ => None,
                    };
                    match k {
                        cachescope::pyjson::Key::Str(k) if k == "project_root" => {
                            if let Some(a) = absolute(v) {
                                *v = a;
                            }
                        }
                        cachescope::pyjson::Key::Str(k) if k == "outcome" => {
                            if let Value::Object(o) = v {
                                for (k, v) in o.iter_mut() {
                                    let storage = matches!(k, cachescope::pyjson::Key::Str(k) if k == "result_storage");
                                    if let Some(a) = absolute(v).filter(|_| storage) {
                                        *v = a;
                                    }
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            lines.push(dumps(&value, SortKeys::Preserve).unwrap());
            whole.push(record);
        }
    }
    // The records as compact lines of one `.jsonl` file (canonical text as it is), and as
    // `.json` files laid out with a line per entry and element, as the recorder's `indent=2`
    // does (canonical once respaced).
    let copy = tmp.path().join("runs.jsonl");
    std::fs::write(&copy, lines.join("\n") + "\n").unwrap();
    let indented_dir = tmp.path().join("indented");
    std::fs::create_dir(&indented_dir).unwrap();
    let mut indented = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let path = indented_dir.join(format!("{i:03}.json"));
        std::fs::write(&path, spread_out(line)).unwrap();
        indented.push(path);
    }
    for files in [vec![copy], indented] {
        compare_lean_and_whole(&files, whole.len());
    }
}

/// The sample runs as the compact lines `json.dumps` writes (their inputs canonical, so kept
/// in the file by a lean load), in one `runs.jsonl` under `dir`.
fn sample_runs_as_lines(dir: &Path) -> (PathBuf, Vec<String>) {
    use cachescope::pyjson::{SortKeys, dumps, parse};

    let (files, _) = discover(&[sample_runs()]);
    let lines: Vec<String> = files
        .iter()
        .map(|f| {
            let value = parse(&std::fs::read_to_string(f).unwrap()).unwrap();
            dumps(&value, SortKeys::Preserve).unwrap()
        })
        .collect();
    let path = dir.join("runs.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    (path, lines)
}

/// Every run in `path`, loaded lean as the loader thread loads them; `also` sees each too.
fn lean_runs(path: &Path, mut also: impl FnMut(&Loaded, &CanonicalTexts)) -> Vec<Arc<Run>> {
    use cachescope::load::{BLOCK, units, visit_unit_lean};

    let mut runs = Vec::new();
    for unit in units(&[path.to_path_buf()], BLOCK) {
        visit_unit_lean(unit, |l, t| {
            also(&l, &t);
            runs.push(Arc::new(Run::lean(l.source, l.record.unwrap(), &t, l.at)));
        });
    }
    runs
}

/// A run loaded lean reads its inputs again from its file when compared: when the file has
/// changed since the load (rewritten in another order) or is gone, the comparison says so,
/// naming the file, and nothing panics; the same bytes back make it whole again.
#[test]
fn a_comparison_says_when_a_record_changed_on_disk_since_the_load() {
    use super::app::Request;
    use super::compare::Against;

    let tmp = tempfile::tempdir().unwrap();
    let (path, mut lines) = sample_runs_as_lines(tmp.path());
    let original = std::fs::read(&path).unwrap();
    // The same runs kept with a copy of their texts (as a run whose place is not known is).
    let mut copies = Vec::new();
    let runs = lean_runs(&path, |l, t| {
        let record = l.record.clone().unwrap();
        copies.push(Run::lean(l.source.clone(), record, t, None));
    });
    let whole_records: Vec<_> = runs
        .iter()
        .map(|r| r.full_record().unwrap().into_owned())
        .collect();
    let runs = Arc::new(runs);
    let compared = |selected: usize| {
        let request = Request {
            generation: 1,
            selected,
            against: Against::Paired,
            what_if: None,
            edited_inputs: None,
        };
        compare(&job(request, runs.clone(), None, now()))
    };
    // A miss with inputs and an earlier run to compare with.
    let selected = (0..runs.len())
        .find(|&i| {
            runs[i].has_inputs()
                && runs[i].badge == super::runs::Badge::Miss
                && compared(i).explanation.is_some()
        })
        .expect("a miss with inputs that has an earlier run");
    let compared = || compared(selected);
    let whole = compared();
    let says = |c: &super::compare::Comparison, what: &str| {
        c.problem
            .as_deref()
            .is_some_and(|p| p.contains(what) && p.contains("runs.jsonl"))
    };
    assert!(!says(&whole, "runs.jsonl"), "{:?}", whole.problem);
    assert!(whole.explanation.is_some());

    lines.reverse();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let changed = compared();
    assert!(
        says(&changed, "changed on disk since it was loaded"),
        "{:?}",
        changed.problem
    );
    assert!(runs[selected].full_record().is_err());
    for (copy, whole) in copies.iter().zip(&whole_records) {
        assert_eq!(copy.full_record().unwrap().as_ref(), whole);
    }

    std::fs::remove_file(&path).unwrap();
    let gone = compared();
    assert!(says(&gone, "cannot read"), "{:?}", gone.problem);

    std::fs::write(&path, &original).unwrap();
    let back = compared();
    assert_eq!(back.problem, whole.problem);
    assert_eq!(format!("{:?}", back.lines), format!("{:?}", whole.lines));
}

/// The comparison worker keeps the records its last comparison read whole, and the next one
/// uses them: a comparison of another run of the same task reads none of them from the file
/// again (here the file is gone by then, and the comparison is whole all the same, the one a
/// comparison from scratch made before the file went), and only what the last comparison read
/// is kept.
#[test]
fn a_comparison_uses_the_records_the_last_one_read() {
    use super::app::Request;
    use super::compare::{Against, LastReads, compare_with};

    let tmp = tempfile::tempdir().unwrap();
    let (path, _) = sample_runs_as_lines(tmp.path());
    let runs = Arc::new(lean_runs(&path, |_, _| {}));
    let request = |selected: usize| Request {
        generation: 1,
        selected,
        against: Against::Paired,
        what_if: None,
        edited_inputs: None,
    };
    let fresh = |selected| compare(&job(request(selected), runs.clone(), None, now()));
    // Two misses of one task with inputs, each with an earlier run to compare with.
    let misses: Vec<usize> = (0..runs.len())
        .filter(|&i| runs[i].has_inputs() && runs[i].badge == super::runs::Badge::Miss)
        .filter(|&i| {
            let c = fresh(i);
            c.problem.is_none() && c.explanation.is_some()
        })
        .collect();
    let (first, second) = misses
        .iter()
        .flat_map(|&a| misses.iter().map(move |&b| (a, b)))
        .find(|&(a, b)| a != b && runs[a].task_name() == runs[b].task_name())
        .expect("two misses of one task");
    let (first_fresh, second_fresh) = (fresh(first), fresh(second));

    let mut last = LastReads::default();
    let one = compare_with(&job(request(first), runs.clone(), None, now()), &mut last);
    assert_eq!(
        format!("{:?}", one.lines),
        format!("{:?}", first_fresh.lines)
    );
    std::fs::remove_file(&path).unwrap();
    let two = compare_with(&job(request(second), runs.clone(), None, now()), &mut last);
    assert_eq!(two.problem, None, "the records were at hand");
    assert_eq!(
        format!("{:?}", two.lines),
        format!("{:?}", second_fresh.lines)
    );
    assert_eq!(
        format!("{:?}", two.nodes),
        format!("{:?}", second_fresh.nodes)
    );
    assert!(
        fresh(second).problem.is_some(),
        "without them the file is read"
    );

    // A comparison of another task's run reads its task's runs (gone: it says so) and keeps
    // only what it read: the first task's records are let go, and are read again next time.
    let other = (0..runs.len())
        .find(|&i| runs[i].task_name() != runs[first].task_name() && runs[i].has_inputs())
        .expect("a run of another task");
    let elsewhere = compare_with(&job(request(other), runs.clone(), None, now()), &mut last);
    assert!(elsewhere.problem.is_some());
    let again = compare_with(&job(request(second), runs.clone(), None, now()), &mut last);
    assert!(
        again.problem.is_some(),
        "only the last comparison's records are kept"
    );
}

/// A comparison finds the runs it reads through an index of the list kept from the last one:
/// a list in another order (another list, as after a reload) gets its own index, and the
/// comparison is the one made from scratch, for every run; so is a marked comparison.
#[test]
fn a_comparison_on_another_list_of_runs_indexes_that_list() {
    use super::app::Request;
    use super::compare::{Against, LastReads, compare_with};

    let tmp = tempfile::tempdir().unwrap();
    let (path, _) = sample_runs_as_lines(tmp.path());
    let runs: Vec<Arc<Run>> = lean_runs(&path, |_, _| {});
    let forward = Arc::new(runs.clone());
    let backward = Arc::new(runs.iter().rev().cloned().collect::<Vec<_>>());
    let n = runs.len();
    let mut last = LastReads::default();
    for selected in 0..n {
        for (list, at) in [(&forward, selected), (&backward, n - 1 - selected)] {
            for against in [Against::Paired, Against::Marked((at + 1) % n)] {
                let request = Request {
                    generation: 1,
                    selected: at,
                    against,
                    what_if: None,
                    edited_inputs: None,
                };
                let kept =
                    compare_with(&job(request.clone(), list.clone(), None, now()), &mut last);
                let fresh = compare(&job(request, list.clone(), None, now()));
                assert_eq!(kept.how, fresh.how, "run {selected}");
                assert_eq!(format!("{:?}", kept.lines), format!("{:?}", fresh.lines));
                assert_eq!(format!("{:?}", kept.nodes), format!("{:?}", fresh.nodes));
            }
        }
    }
}

/// The inspector, on a comparison that could not read a run's inputs again because its file
/// changed since the load, loads that file again (once) and compares again: the runs of the
/// file are whole again, the comparison has no problem left, and the status bar said why.
#[test]
fn a_file_changed_since_the_load_is_loaded_again_and_compared() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, mut lines) = sample_runs_as_lines(tmp.path());
    let runs = lean_runs(&path, |_, _| {});
    let count = runs.len();
    let loaded = Msg::loaded(runs, Vec::new(), 1, 1);
    let mut screen = Screen::loaded(loaded, WIDE);
    let first = screen
        .model
        .comparison
        .clone()
        .expect("the first look compares");
    assert!(first.problem.is_none(), "{:?}", first.problem);
    assert!(screen.model.runs.iter().all(|r| r.full_record().is_ok()));

    // Rewritten in another order: every run's line now holds another record.
    lines.reverse();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    assert!(screen.model.runs.iter().any(|r| r.full_record().is_err()));
    screen.key(KeyCode::Char('n'));
    let message = screen.model.message.clone().unwrap_or_default();
    assert!(
        message.contains("runs.jsonl changed on disk since it was loaded: loading it again"),
        "{message}"
    );
    assert!(screen.model.reread.contains(&path));
    assert_eq!(screen.model.runs.len(), count);
    assert!(screen.model.runs.iter().all(|r| r.full_record().is_ok()));
    let again = screen.model.comparison.clone().expect("compared again");
    assert!(again.problem.is_none(), "{:?}", again.problem);
    assert!(again.unreadable_files.is_empty());
}

/// `text` (JSON) with a line break and two spaces after every `{`, `[` and `,` outside strings.
fn spread_out(text: &str) -> String {
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        out.push(c);
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if matches!(c, '{' | '[' | ',') {
            out.push_str("\n  ");
        }
    }
    out
}

/// The inspector's comparisons of every run in `files`, loaded lean and loaded whole, agree.
fn compare_lean_and_whole(files: &[PathBuf], count: usize) {
    use super::app::Request;
    use super::compare::Against;
    use cachescope::load::{BLOCK, units, visit_unit_lean};

    let mut lean = Vec::new();
    let mut kept_as_text = 0;
    for unit in units(files, BLOCK) {
        visit_unit_lean(unit, |l, t| {
            kept_as_text += usize::from(t.inputs.is_some());
            lean.push(Arc::new(Run::lean(l.source, l.record.unwrap(), &t, l.at)));
        });
    }
    assert!(
        kept_as_text > 40,
        "only {kept_as_text} runs kept their inputs as text"
    );
    let mut full = Vec::new();
    for unit in units(files, BLOCK) {
        for l in cachescope::load::load_unit(unit) {
            full.push(Arc::new(Run::new(l.source, l.record.unwrap())));
        }
    }
    assert_eq!(lean.len(), count);
    let (lean, full) = (Arc::new(lean), Arc::new(full));
    let mut explained = 0;
    for selected in 0..lean.len() {
        assert_eq!(lean[selected].badge, full[selected].badge);
        for against in [Against::Paired, Against::Live] {
            let request = |runs| {
                let r = Request {
                    generation: 1,
                    selected,
                    against: against.clone(),
                    what_if: Some("INPUTS + TASK_SOURCE".to_string()),
                    edited_inputs: None,
                };
                compare(&job(r, runs, None, now()))
            };
            let (a, b) = (request(lean.clone()), request(full.clone()));
            assert_eq!(a.how, b.how, "run {selected}");
            assert_eq!(a.problem, b.problem, "run {selected}");
            assert_eq!(a.what_if_keys, b.what_if_keys, "run {selected}");
            assert_eq!(a.nodes.len(), b.nodes.len(), "run {selected}");
            let (a, b) = (a.explanation, b.explanation);
            assert_eq!(a.is_some(), b.is_some(), "run {selected}");
            if let (Some(a), Some(b)) = (a, b) {
                explained += 1;
                assert_eq!(a.headline, b.headline, "run {selected}");
                assert_eq!((a.key_a, a.key_b), (b.key_a, b.key_b), "run {selected}");
                assert_eq!(a.culprits.len(), b.culprits.len(), "run {selected}");
            }
        }
    }
    assert!(explained > 60, "{explained}");
}

/// Live mode (issue 12): when an edit flips the verdict, the recompute selects the new
/// culprit, so the evidence pane shows it; once the user has picked a node, a recompute keeps
/// it. The watcher's events come from a real session over a copy of story 2, as in the app.
#[test]
fn live_follows_a_new_culprit_unless_the_user_picked_a_node() {
    use cachescope::incremental::debounce::Batch;
    use cachescope::incremental::event::WatchEvent;
    use cachescope::incremental::session::{Session, SessionOptions};

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sample-runs");
    copy_dir(&sample_runs(), &root);
    let runs = root.join("runs/02-source-edit");
    let etl = root.join("project/etl.py");
    let original = std::fs::read_to_string(&etl).unwrap();
    let edited = original.replacen(
        "(\"refund\", \"cancelled\")",
        "(\"refund\", \"cancelled\", \"void\")",
        1,
    );
    assert_ne!(original, edited);

    let mut s = Screen::new(std::slice::from_ref(&runs), WIDE);
    s.select("run-2-after-edit/*-clean-*.json");
    s.keys("l");
    let c = s.model.current().unwrap();
    assert!(c.nodes.iter().all(|n| n.culprit.is_none()), "live: a hit");
    let root_node = c.nodes[0].path.clone();
    assert_eq!(s.model.selected_node.as_ref(), Some(&root_node));

    let (mut session, _) = Session::start(
        std::slice::from_ref(&runs),
        SessionOptions::default(),
        now(),
    );
    // Writes `text` to etl.py and hands the model what the watcher would: clean's new verdict.
    let mut save = |s: &mut Screen, text: &str, verdict: &str| {
        std::fs::write(&etl, text).unwrap();
        let batch = Batch {
            paths: vec![etl.clone()],
            rescan: false,
        };
        let event = session
            .apply(&batch, now())
            .into_iter()
            .find(|e| matches!(e, WatchEvent::Verdict(v) if v.task == "clean"))
            .expect("the edit changes clean's verdict");
        s.send(Msg::Watch {
            event,
            at: "21:00:00Z".to_string(),
        });
        let text = s.text();
        assert!(text.contains(&format!("NEXT RUN: {verdict}")), "{text}");
        text
    };

    // The edit flips it to a miss: TaskSource is the culprit, and it is selected.
    let text = save(&mut s, &edited, "MISS");
    let c = s.model.current().unwrap();
    let culprit = c.nodes.iter().find(|n| n.culprit.is_some()).unwrap();
    assert!(culprit.label.contains("TaskSource"), "{}", culprit.label);
    assert_eq!(s.model.selected_node.as_ref(), Some(&culprit.path));
    assert!(text.contains("Evidence · TaskSource"), "{text}");

    // Undone: a hit again, no culprit; the node stays.
    let culprit = culprit.path.clone();
    save(&mut s, &original, "HIT");
    assert_eq!(s.model.selected_node.as_ref(), Some(&culprit));

    // The user picks the root, then edits again: the root stays selected.
    s.key(KeyCode::Tab);
    s.keys("g");
    assert_eq!(s.model.selected_node.as_ref(), Some(&root_node));
    let text = save(&mut s, &edited, "MISS");
    assert_eq!(s.model.selected_node.as_ref(), Some(&root_node), "{text}");
}

/// A big folder arrives in batches: a batch that moves the selection does not start a
/// comparison over all the runs so far (at 100,000 runs each would take a core from the load);
/// the pane says it waits, the comparison comes with the end of the load, and a key the user
/// presses meanwhile still compares at once.
#[test]
fn comparisons_wait_for_the_end_of_a_load_unless_asked_for() {
    let Msg::Loaded { runs, errors, .. } = load(&[sample_runs()]) else {
        unreachable!()
    };
    let total = runs.len();
    let mut runs = runs.into_iter();
    let mut model = Model::new("sample-runs".to_string(), WIDE, true);
    let mut batch = |model: &mut Model, n: usize, done: usize| {
        let effects = update(
            model,
            Msg::loaded(runs.by_ref().take(n).collect(), Vec::new(), done, total),
        );
        assert!(
            !effects.iter().any(|e| matches!(e, Effect::Compare(_))),
            "a batch started a comparison"
        );
    };
    batch(&mut model, total / 2, total / 2);
    assert!(
        model.selected_run().is_some(),
        "the first batch selects a run"
    );
    assert!(model.compare_after_load);
    let mut backend = Terminal::new(TestBackend::new(WIDE.0, WIDE.1)).unwrap();
    backend.draw(|f| view(&model, f)).unwrap();
    let screen: String = backend
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(screen.contains("compares when the load ends"), "{screen}");

    // Moving to another run during the load compares at once (a task's row shows its newest
    // run, so the first step down may stay on the same run).
    let before = model.selected_run();
    let mut compared = false;
    for _ in 0..3 {
        let effects = update(
            &mut model,
            Msg::Key(KeyEvent {
                code: KeyCode::Down,
                modifiers: KeyModifiers::NONE,
                kind: KeyEventKind::Press,
                state: KeyEventState::NONE,
            }),
        );
        compared |= effects.iter().any(|e| matches!(e, Effect::Compare(_)));
        if model.selected_run() != before {
            break;
        }
    }
    assert_ne!(model.selected_run(), before);
    assert!(compared, "a key that selects another run compares at once");

    batch(&mut model, usize::MAX, total);
    let effects = update(&mut model, Msg::LoadFinished { ms: 1 });
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Compare(_))),
        "the end of the load compares the selected run"
    );
    assert!(!model.compare_after_load);
    assert!(errors.is_empty());
}

/// Two tasks keyed on INPUTS only that got the same inputs share one cache entry: the hit of
/// one was served the other's result. Loaded lean, a run of the other task keeps no inputs in
/// memory; the comparison reads it whole because it has B's key, so the inspector says what
/// `explain` says (served by `double`, the same inputs), not that B was served a result of
/// other inputs.
#[test]
fn a_run_of_another_task_with_bs_key_is_read_whole_for_the_comparison() {
    use super::app::Request;
    use super::compare::Against;
    use cachescope::hash::hash_json_text;

    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("storage");
    std::fs::create_dir(&storage).unwrap();
    let record = |task: &str, flow_run: &str, at: &str, x: u32, hit: bool| {
        let inputs = format!("{{\"x\": {x}}}");
        let key = hash_json_text(&inputs);
        format!(
            "{{\"format\": \"cachescope/run-record@1\", \"recorded_at\": \"2026-11-24T20:{at}.000Z\", \
             \"flow\": {{\"name\": \"nightly\", \"run_id\": \"{flow_run}-0000-0000-0000-000000000000\", \
             \"run_name\": \"{flow_run}\", \"parameters\": {{}}}}, \
             \"task\": {{\"name\": \"{task}\", \"source\": \"@task\\ndef {task}(x): ...\\n\"}}, \
             \"task_run\": {{\"id\": \"{task}-{at}\", \"name\": \"{task}-0\"}}, \"inputs\": {inputs}, \
             \"policy\": {{\"policy\": \"Inputs\", \"key\": \"{key}\", \"exclude\": [], \"reproducible\": true}}, \
             \"key\": \"{key}\", \"outcome\": {{\"state\": \"{state}\", \"cache_hit\": {hit}, \
             \"result_storage\": \"{storage}\"}}}}",
            state = if hit { "Cached" } else { "Completed" },
            storage = storage.display(),
        )
    };
    let lines = [
        record("square", "aaaaaaaa", "30:00", 1, false),
        record("double", "bbbbbbbb", "31:00", 2, false),
        record("square", "bbbbbbbb", "31:05", 2, true),
    ];
    let path = tmp.path().join("runs.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let mut kept_as_text = 0;
    let lean = Arc::new(lean_runs(&path, |_, t| {
        kept_as_text += usize::from(t.inputs.is_some());
    }));
    assert_eq!(
        kept_as_text, 3,
        "the inputs are kept in the file, not in memory"
    );
    let whole: Vec<Arc<Run>> = load_file(&path)
        .into_iter()
        .map(|l| Arc::new(Run::new(l.source, l.record.unwrap())))
        .collect();
    let whole = Arc::new(whole);
    let explained = |runs: &Arc<Vec<Arc<Run>>>, against: Against| {
        let request = Request {
            generation: 1,
            selected: 2,
            against,
            what_if: None,
            edited_inputs: None,
        };
        compare(&job(request, runs.clone(), None, now()))
            .explanation
            .expect("an explanation")
    };
    // The next run collides as the recorded one did: the advice reads `double`'s inputs too.
    let (next_lean, next_whole) = (
        explained(&lean, Against::Live),
        explained(&whole, Against::Live),
    );
    assert_eq!(next_lean.headline, next_whole.headline);
    assert_eq!(
        format!("{:?}", next_lean.advice),
        format!("{:?}", next_whole.advice)
    );
    let (lean, whole) = (
        explained(&lean, Against::Paired),
        explained(&whole, Against::Paired),
    );
    assert!(
        whole.headline.contains("served the result `double` stored")
            && whole.headline.contains("got the same inputs"),
        "{}",
        whole.headline
    );
    assert_eq!(lean.headline, whole.headline);
    assert_eq!(format!("{:?}", lean.advice), format!("{:?}", whole.advice));
    assert_eq!(lean.notes, whole.notes);
}

/// Grouping a load batch by batch (each batch grouped and sorted on the loader's thread, then
/// merged into the tasks) gives the tasks that grouping every run at once gives, and both
/// give each task's runs newest first, ties broken by the record's place: whatever the batch
/// sizes, with tasks first seen in a later batch and runs of one time in different batches.
#[test]
fn runs_grouped_batch_by_batch_are_the_runs_grouped_at_once() {
    use super::runs::{BatchGroups, add_grouped, group};
    use cachescope::load::RecordSource;

    let Msg::Loaded { runs, .. } = load(&[sample_runs()]) else {
        unreachable!()
    };
    // The sample runs, then copies at three shared times (ties), in an order that interleaves
    // the tasks and brings some only late.
    let mut all: Vec<Arc<Run>> = Vec::new();
    for (i, run) in runs.iter().enumerate().rev() {
        all.push(run.clone());
        let mut record = run.full_record().unwrap().into_owned();
        record.recorded_at = Some(format!("2026-11-24T20:0{}:00.000000+00:00", i % 3));
        let source = RecordSource {
            path: Path::new("copies.jsonl").into(),
            line: Some(1000 - i),
        };
        all.push(Arc::new(Run::new(source, Box::new(record))));
    }
    all.sort_by_key(|r| r.task_name().len() % 3);
    let reference: Vec<(String, Vec<usize>)> = {
        let mut names: Vec<&str> = all.iter().map(|r| r.task_name()).collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|name| {
                let mut mine: Vec<usize> = (0..all.len())
                    .filter(|&i| all[i].task_name() == name)
                    .collect();
                mine.sort_by(|&a, &b| {
                    (all[b].recorded_at(), &all[b].source)
                        .cmp(&(all[a].recorded_at(), &all[a].source))
                });
                (name.to_string(), mine)
            })
            .collect()
    };
    let shape = |tasks: &[super::runs::Task]| -> Vec<(String, Vec<usize>)> {
        tasks
            .iter()
            .map(|t| (t.name.clone(), t.runs.clone()))
            .collect()
    };
    assert!(reference.len() > 2 && all.len() > 100);
    assert_eq!(shape(&group(&all)), reference);
    for size in [1, 2, 7, 40, all.len()] {
        let mut tasks = Vec::new();
        let mut from = 0;
        while from < all.len() {
            let to = (from + size).min(all.len());
            let groups = BatchGroups::of(&all[from..to]);
            add_grouped(&mut tasks, &all[..to], from, groups);
            from = to;
        }
        assert_eq!(shape(&tasks), reference, "batches of {size}");
    }
}

/// The watcher saw a `.jsonl` file written again (live mode). Its runs are read again as the
/// load reads them (lean: a run keeps its place in the file, not its record), replaced where
/// they lie, and a new run joins its task's runs, newest first, with the other files' runs
/// untouched. A rewritten run that moved to another task is grouped again. Either way the
/// tasks are what grouping every run from scratch makes.
#[test]
fn a_record_file_written_again_is_read_lean_and_its_runs_replaced_where_they_lie() {
    use super::runs::group;
    use super::worker::load_one;

    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("a")).unwrap();
    let (a, lines) = sample_runs_as_lines(&tmp.path().join("a"));
    let b = tmp.path().join("b.jsonl");
    std::fs::write(&b, lines.join("\n") + "\n").unwrap();
    let mut runs = lean_runs(&a, |_, _| {});
    let n = runs.len();
    runs.extend(lean_runs(&b, |_, _| {}));
    let mut s = Screen::loaded(Msg::loaded(runs, Vec::new(), 2, 2), WIDE);
    let before: Vec<Arc<Run>> = s.model.runs.iter().cloned().collect();
    let same_grouping = |s: &Screen| {
        let fresh = group(&s.model.runs);
        let names = |tasks: &[super::runs::Task]| -> Vec<(String, Vec<usize>)> {
            tasks
                .iter()
                .map(|t| (t.name.clone(), t.runs.clone()))
                .collect()
        };
        assert_eq!(names(&s.model.tasks), names(&fresh));
    };

    // One more record, a later run of the last line's task.
    let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    let task = last["task"]["name"].as_str().unwrap().to_string();
    let mut newer = last.clone();
    newer["recorded_at"] = "2027-01-01T00:00:00.000Z".into();
    newer["task_run"]["id"] = "a-later-run".into();
    let mut appended = lines.clone();
    appended.push(serde_json::to_string(&newer).unwrap());
    std::fs::write(&b, appended.join("\n") + "\n").unwrap();
    let (reloaded, errors) = load_one(&b);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(reloaded.iter().all(|r| !r.keeps_record()), "read lean");
    s.send(Msg::Reloaded {
        path: b.clone(),
        runs: reloaded,
        errors,
    });
    let runs = &s.model.runs;
    assert_eq!(runs.len(), 2 * n + 1);
    // a's runs are the same runs; b's are in the same places, read again.
    for (i, old) in before.iter().enumerate() {
        assert_eq!(runs[i].source, old.source, "run {i}");
        assert_eq!(Arc::ptr_eq(&runs[i], old), i < n, "run {i}");
    }
    assert_eq!(runs[2 * n].source.line, Some(n + 1));
    let t = s.model.tasks.iter().find(|t| t.name == task).unwrap();
    assert_eq!(t.runs[0], 2 * n, "the new run is its task's newest");
    same_grouping(&s);

    // The first line rewritten as a run of another task: it moves there.
    let mut first: serde_json::Value = serde_json::from_str(&appended[0]).unwrap();
    first["task"]["name"] = "renamed".into();
    appended[0] = serde_json::to_string(&first).unwrap();
    std::fs::write(&b, appended.join("\n") + "\n").unwrap();
    let (reloaded, errors) = load_one(&b);
    s.send(Msg::Reloaded {
        path: b.clone(),
        runs: reloaded,
        errors,
    });
    assert_eq!(s.model.runs.len(), 2 * n + 1);
    let renamed = s.model.tasks.iter().find(|t| t.name == "renamed").unwrap();
    assert_eq!(renamed.runs, vec![n], "b's first line, in its place");
    same_grouping(&s);
}

/// Record events come one per record: a new `.jsonl` file of 10,000 records is 10,000 of
/// them. Its file is read once, however many events name it while that read is under way; an
/// event during the read makes one more read when it ends (the read may have missed that
/// change), and then no more.
#[test]
fn record_events_for_a_file_being_read_again_make_one_read_more_not_one_each() {
    use cachescope::incremental::event::{RecordChange, WatchEvent};

    let (files, _) = discover(&[sample_runs()]);
    let loaded = load_file(&files[0]).remove(0);
    let record = loaded.record.unwrap();
    let event = || Msg::Watch {
        event: WatchEvent::Record(Box::new(RecordChange {
            record: loaded.source.clone(),
            task: record.task.name.clone(),
            status: cachescope::engine::NodeStatus::Match,
            evaluation: cachescope::engine::recompute(&record),
            comparison: None,
            trigger: files[0].clone(),
        })),
        at: "21:00:00Z".to_string(),
    };
    let path = loaded.source.path.to_path_buf();
    let reloads = |effects: Vec<Effect>| {
        effects
            .iter()
            .filter(|e| matches!(e, Effect::Reload(p) if *p == path))
            .count()
    };
    let reloaded = || Msg::Reloaded {
        path: path.clone(),
        runs: Vec::new(),
        errors: Vec::new(),
    };
    let mut model = Model::new("sample-runs".to_string(), WIDE, true);
    assert_eq!(reloads(update(&mut model, event())), 1);
    for _ in 0..3 {
        assert_eq!(
            reloads(update(&mut model, event())),
            0,
            "a read is under way"
        );
    }
    assert_eq!(
        reloads(update(&mut model, reloaded())),
        1,
        "changed meanwhile"
    );
    assert_eq!(reloads(update(&mut model, reloaded())), 0, "nothing since");
    assert_eq!(reloads(update(&mut model, event())), 1, "a new change");
}

/// The watcher's start can end after the user moved on: its "live: watching" replaces only
/// the message of live mode turned on (or none), never what the user did since, and says
/// nothing once live mode is off again (a tmux test saw it hide a what-if under load).
#[test]
fn a_late_watcher_start_does_not_hide_what_the_user_did_since() {
    use super::action::Action;
    use cachescope::incremental::event::{Ready, WatchEvent};

    let ready = || Msg::Watch {
        event: WatchEvent::Ready(Ready {
            records: 66,
            tasks: 5,
            ms: 10,
        }),
        at: "21:00:00Z".to_string(),
    };
    let watching = "live: watching the sources, records and storage of 66 records";
    let mut model = Model::new("sample-runs".to_string(), WIDE, true);
    model.act(Action::CompareLive);
    update(&mut model, ready());
    assert_eq!(model.message.as_deref(), Some(watching));

    // Turned off before the watcher was ready.
    model.act(Action::CompareLive);
    let off = model.message.clone();
    update(&mut model, ready());
    assert!(!model.live);
    assert_eq!(model.message, off);

    // On again, and something else said since.
    model.act(Action::CompareLive);
    model.message = Some("what-if: cache_policy=INPUTS (Esc clears)".to_string());
    update(&mut model, ready());
    assert_eq!(
        model.message.as_deref(),
        Some("what-if: cache_policy=INPUTS (Esc clears)")
    );
    model.message = None;
    update(&mut model, ready());
    assert_eq!(model.message.as_deref(), Some(watching));
}
