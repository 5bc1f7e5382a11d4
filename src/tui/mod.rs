//! The terminal UI (`cachescope PATH` on a terminal): a thin shell over the core.
//!
//! One model ([`app::Model`]), one message type ([`app::Msg`]), one `update` and a `view` with
//! no side effects. One loop turns keys, mouse, resizes, loaded runs and finished comparisons
//! into messages, drains every pending one, then draws once. Loading and comparing run on
//! their own threads: the UI thread never hashes or reads a record. The terminal is restored
//! on exit, on error and on panic, each step attempted even when another fails.

pub mod action;
pub mod app;
pub mod compare;
pub mod layout;
pub mod runs;
pub mod view;
pub mod walkthrough;
mod worker;

#[cfg(test)]
mod tests;

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Once};
use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use app::{Effect, Model, Msg, Walk, update};

/// How the inspector was started.
pub struct Options {
    pub paths: Vec<PathBuf>,
    pub project: Option<PathBuf>,
    pub walkthrough: Option<PathBuf>,
    pub mouse: bool,
}

/// Leaves the terminal as it was: raw mode off first (a shell needs it most), then the
/// alternate screen, the cursor and the mouse, each attempted whatever the others did.
fn restore(mouse: bool) {
    let _ = disable_raw_mode();
    let mut out = io::stdout();
    if mouse {
        let _ = execute!(out, DisableMouseCapture);
    }
    let _ = execute!(out, LeaveAlternateScreen);
    let _ = execute!(out, cursor::Show);
    let _ = out.flush();
}

/// Restores the terminal when dropped, so an error's early return restores it too.
struct Guard {
    mouse: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore(self.mouse);
    }
}

static MOUSE: AtomicBool = AtomicBool::new(false);

/// A panic anywhere restores the terminal before the message is printed.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore(MOUSE.load(Ordering::SeqCst));
            previous(info);
        }));
    });
}

/// Runs the inspector until the user quits.
pub fn run(options: Options) -> anyhow::Result<()> {
    let walk = match &options.walkthrough {
        Some(path) => {
            let (title, steps) = walkthrough::load(path).map_err(anyhow::Error::msg)?;
            Some(Walk {
                title,
                steps,
                index: 0,
                problem: Some("loading runs...".to_string()),
            })
        }
        None => None,
    };
    install_panic_hook();
    MOUSE.store(options.mouse, Ordering::SeqCst);
    enable_raw_mode().context("cannot switch the terminal to raw mode")?;
    let guard = Guard {
        mouse: options.mouse,
    };
    {
        let mut out = io::stdout();
        execute!(out, EnterAlternateScreen, cursor::Hide)?;
        if options.mouse {
            execute!(out, EnableMouseCapture)?;
        }
    }
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    let size = terminal.size()?;
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let origin = options
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut model = Model::new(origin, (size.width, size.height), color);
    model.project = options.project.clone();
    model.walk = walk;

    let (tx, rx) = mpsc::channel::<Msg>();
    // Only this test-only variable can make the UI panic on purpose, to prove the terminal is
    // restored (issue 12); release builds do not contain it.
    #[cfg(debug_assertions)]
    let crash_key = std::env::var("CACHESCOPE_TEST_PANIC_KEY").ok();
    let paused = Arc::new(AtomicBool::new(false));
    spawn_input(tx.clone(), paused.clone());
    let load_started = std::time::Instant::now();
    worker::spawn_loader(options.paths.clone(), tx.clone());
    let compare = worker::Comparer::spawn(tx.clone(), options.project.clone());
    // Test-only, like the panic key: where to write each frame's text (see `draw`).
    #[cfg(debug_assertions)]
    let frame_file = std::env::var_os("CACHESCOPE_TEST_FRAME_FILE").map(PathBuf::from);
    #[cfg(not(debug_assertions))]
    let frame_file: Option<PathBuf> = None;
    draw(&mut terminal, &model, frame_file.as_deref())?;
    // Started with the first `l`; stopped when dropped, at the end.
    let mut watcher: Option<crate::watch::WatchHandle> = None;

    loop {
        let first = match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => Some(Msg::Tick),
            Err(RecvTimeoutError::Disconnected) => None,
        };
        let Some(first) = first else { break };
        // Drain everything pending, then draw once: a resize drag or a flood of results is one
        // frame.
        let mut pending = vec![first];
        while let Ok(m) = rx.try_recv() {
            pending.push(m);
        }
        let mut dirty = false;
        for msg in pending {
            #[cfg(debug_assertions)]
            if let (Some(k), Msg::Key(key)) = (&crash_key, &msg)
                && key.code == crossterm::event::KeyCode::Char(k.chars().next().unwrap_or('\0'))
            {
                panic!("test-only panic (CACHESCOPE_TEST_PANIC_KEY)");
            }
            // The load is timed until the model holds every run (its last batch added, which
            // the loader's own clock does not see), not until the loader has sent them.
            let msg = match msg {
                Msg::LoadFinished { .. } => Msg::LoadFinished {
                    ms: load_started.elapsed().as_millis(),
                },
                msg => msg,
            };
            // A tick only redraws while a changed node is marked.
            let tick = matches!(msg, Msg::Tick) && model.flash.is_none();
            for effect in update(&mut model, msg) {
                match effect {
                    Effect::Compare(request) => compare.submit(request, model.runs.clone()),
                    Effect::Copy(text) => copy(&text),
                    Effect::StartWatch => {
                        watcher = Some(start_watch(&options, tx.clone()));
                    }
                    Effect::Reload(path) => {
                        let tx = tx.clone();
                        std::thread::spawn(move || {
                            let (runs, errors) = worker::load_one(&path);
                            let _ = tx.send(Msg::Reloaded { path, runs, errors });
                        });
                    }
                    Effect::Edit { run } => {
                        let result = edit_inputs(&model, run, &paused, &mut terminal);
                        terminal.clear()?;
                        for e in update(&mut model, Msg::Edited(result)) {
                            if let Effect::Compare(request) = e {
                                compare.submit(request, model.runs.clone());
                            }
                        }
                    }
                }
            }
            dirty |= !tick;
        }
        if model.quit {
            break;
        }
        if dirty {
            draw(&mut terminal, &model, frame_file.as_deref())?;
        }
    }
    drop(watcher);
    drop(terminal);
    drop(guard);
    Ok(())
}

/// Draws one frame. With a `frame_file` (debug builds only, `CACHESCOPE_TEST_FRAME_FILE`),
/// also writes the frame's text there, one line per row, so that a test in a real terminal
/// can compare every cell of the screen with what the UI drew: a record's escape sequence that
/// reached the terminal would show as a cell the UI did not draw (tests/tui_hostile_tmux.rs).
fn draw(
    terminal: &mut Terminal<CrosstermBackend<io::Stdout>>,
    model: &Model,
    frame_file: Option<&std::path::Path>,
) -> io::Result<()> {
    let frame = terminal.draw(|f| view::view(model, f))?;
    if let Some(path) = frame_file {
        let buffer = frame.buffer;
        let area = buffer.area;
        let mut text = String::new();
        for y in area.top()..area.bottom() {
            let mut x = area.left();
            while x < area.right() {
                let symbol = buffer[(x, y)].symbol();
                text.push_str(symbol);
                // A wide character covers the next cell, as on the terminal.
                x += (ratatui::text::Span::raw(symbol).width() as u16).max(1);
            }
            text.push('\n');
        }
        // Whole frames only: the test may read at any moment.
        let part = path.with_extension("part");
        if std::fs::write(&part, text).is_ok() {
            let _ = std::fs::rename(&part, path);
        }
    }
    Ok(())
}

/// Starts the file watcher for live mode; its events become messages.
fn start_watch(options: &Options, tx: mpsc::Sender<Msg>) -> crate::watch::WatchHandle {
    use cachescope::incremental::session::{Scope, SessionOptions};
    let config = crate::watch::WatchConfig {
        paths: options.paths.clone(),
        session: SessionOptions {
            live: cachescope::live::LiveOptions {
                project: options.project.clone(),
            },
            scope: Scope::LatestPerTask,
        },
        ..crate::watch::WatchConfig::default()
    };
    let (handle, events) = crate::watch::start(config);
    std::thread::spawn(move || {
        for event in events {
            let at = jiff::Timestamp::now().strftime("%H:%M:%SZ").to_string();
            if tx.send(Msg::Watch { event, at }).is_err() {
                return;
            }
        }
    });
    handle
}

/// Reads terminal events on a thread of their own (paused while the editor owns the terminal).
fn spawn_input(tx: mpsc::Sender<Msg>, paused: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        loop {
            if paused.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            match event::poll(Duration::from_millis(50)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => return,
            }
            if paused.load(Ordering::SeqCst) {
                continue;
            }
            let msg = match event::read() {
                Ok(Event::Key(k)) => Msg::Key(k),
                Ok(Event::Mouse(m)) => Msg::Mouse(m),
                Ok(Event::Resize(w, h)) => Msg::Resize(w, h),
                Ok(_) => continue,
                Err(_) => return,
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
    });
}

/// OSC 52: the terminal (and tmux, and ssh) puts the text on the clipboard.
fn copy(text: &str) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let mut out = io::stdout();
    let _ = write!(out, "\x1b]52;c;{encoded}\x07");
    let _ = out.flush();
}

/// The editor: `$EDITOR`, then `$VISUAL`, then `vi`.
fn editor() -> String {
    ["EDITOR", "VISUAL"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "vi".to_string())
}

/// Opens the run's inputs in the editor as a temporary copy (never the record), and reads
/// them back. The terminal is handed to the editor meanwhile.
fn edit_inputs(
    model: &Model,
    run: usize,
    paused: &AtomicBool,
    terminal: &mut Terminal<CrosstermBackend<io::Stdout>>,
) -> Result<cachescope::pyjson::Value, String> {
    let record = model.runs[run].full_record()?;
    let inputs = record
        .inputs
        .as_ref()
        .ok_or("this run recorded no inputs")?;
    let text = worker::pretty_inputs(inputs);
    let file = tempfile::Builder::new()
        .prefix("cachescope-inputs-")
        .suffix(".json")
        .tempfile()
        .map_err(|e| format!("cannot make a temporary file for the inputs: {e}"))?;
    std::fs::write(file.path(), &text).map_err(|e| format!("cannot write the inputs: {e}"))?;
    paused.store(true, Ordering::SeqCst);
    // Let the input thread leave its poll before the editor reads the keyboard.
    std::thread::sleep(Duration::from_millis(80));
    restore(MOUSE.load(Ordering::SeqCst));
    let command = editor();
    let status = shell_words(&command).and_then(|mut words| {
        let program = words.remove(0);
        std::process::Command::new(program)
            .args(words)
            .arg(file.path())
            .status()
            .map_err(|e| format!("cannot start the editor {command:?}: {e}"))
    });
    let _ = enable_raw_mode();
    let _ = execute!(io::stdout(), EnterAlternateScreen, cursor::Hide);
    if MOUSE.load(Ordering::SeqCst) {
        let _ = execute!(io::stdout(), EnableMouseCapture);
    }
    let _ = terminal.clear();
    paused.store(false, Ordering::SeqCst);
    let status = status?;
    if !status.success() {
        return Err(format!(
            "the editor {command:?} exited with {status}; inputs unchanged"
        ));
    }
    let edited = std::fs::read_to_string(file.path())
        .map_err(|e| format!("cannot read the edited inputs: {e}"))?;
    // The temporary file is removed when `file` is dropped, here.
    let value = cachescope::pyjson::parse(&edited)
        .map_err(|e| format!("the edited inputs are not JSON: {e}"))?;
    if value.as_object().is_none() {
        return Err("the edited inputs must stay a JSON object of argument names".to_string());
    }
    Ok(value)
}

/// Splits an `$EDITOR` value into words (`code --wait` is two), without a shell.
fn shell_words(command: &str) -> Result<Vec<String>, String> {
    let words: Vec<String> = command.split_whitespace().map(str::to_string).collect();
    if words.is_empty() {
        Err("no editor: set $EDITOR".to_string())
    } else {
        Ok(words)
    }
}
