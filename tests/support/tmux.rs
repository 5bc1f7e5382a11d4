//! The real binary in a real terminal: a tmux server of its own (a socket in a temporary
//! folder) per test, keys typed with `send-keys`, the screen read with `capture-pane`, waiting
//! for text rather than sleeping. tmux is in this machine kind's base image; a machine without
//! it fails with a message saying so.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: PathBuf,
    _dir: tempfile::TempDir,
    /// One terminal at a time: on a loaded 2-core machine, five inspectors (and a watcher)
    /// starting together made a wait run out.
    _turn: std::sync::MutexGuard<'static, ()>,
}

static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Tmux {
    /// A detached session of `width`x`height` running a plain shell in the repository.
    pub fn start(width: u16, height: u16) -> Tmux {
        Tmux::start_with(width, height, "")
    }

    /// The same, with `env` (`NAME=value ...`) set for the shell.
    pub fn start_with(width: u16, height: u16, env: &str) -> Tmux {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("tmux.sock");
        let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let t = Tmux {
            socket,
            _dir: dir,
            _turn: turn,
        };
        let out = t.run(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "-c",
            super::repo_root().to_str().unwrap(),
            &format!("env PS1='$ ' TERM=xterm-256color {env} bash --norc --noprofile"),
        ]);
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "these tests need tmux (it is in this machine kind's base image; \
                     `apt-get install tmux`): {e}"
                )
            })
    }

    pub fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "send-keys {keys:?}");
    }

    /// Types a literal string.
    pub fn type_text(&self, text: &str) {
        let out = self.run(&["send-keys", "-t", "t", "-l", text]);
        assert!(out.status.success());
    }

    pub fn capture(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    pub fn title(&self) -> String {
        let out = self.run(&["display-message", "-p", "-t", "t", "#{pane_title}"]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Waits until the screen shows `text` (up to 60 s), and returns the screen.
    pub fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if screen.contains(text) {
                return screen;
            }
            if start.elapsed() > Duration::from_secs(60) {
                panic!("waited 60 s for {text:?}; the screen is:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the screen no longer shows `text` (up to 60 s).
    pub fn wait_gone(&self, text: &str) {
        let start = Instant::now();
        while self.capture().contains(text) {
            if start.elapsed() > Duration::from_secs(60) {
                panic!(
                    "waited 60 s for {text:?} to go; the screen is:\n{}",
                    self.capture()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts cachescope in the pane with `args`.
    pub fn cachescope(&self, args: &str) {
        let bin = super::cachescope_bin();
        // The marker says when cachescope has exited: keys typed before then would be its.
        self.type_text(&format!("clear; {} {args}; echo EXITED-$?", bin.display()));
        self.send(&["Enter"]);
    }

    /// After quitting: cachescope exited with 0, and the terminal is in cooked mode.
    pub fn assert_restored(&self) {
        self.wait_for("EXITED-0");
        self.type_text("clear; stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | sort | tr '\\n' ' '; echo EN''D");
        self.send(&["Enter"]);
        // The typed command holds "END" too: wait for the output line ("... icanon END").
        let screen = self.wait_for("icanon END");
        let line = screen
            .lines()
            .find(|l| l.contains("END") && !l.contains("stty"))
            .unwrap_or("");
        assert!(
            line.contains("echo icanon") && !line.contains("-echo") && !line.contains("-icanon"),
            "the terminal is not back in cooked mode: {line:?}\n{screen}"
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Copies a folder tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}
