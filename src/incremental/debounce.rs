//! Batching file changes: a pure state machine with an injected clock.
//!
//! The file system reports one save as several events (an editor's atomic save is a create, a
//! write and a rename; `git checkout` is thousands), and reports them over time. The watcher
//! pushes every event here with the time it arrived, and asks, at the [`Debouncer::deadline`],
//! for a [`Batch`]: every path that changed, once, with the noise (reads, editors' swap and
//! backup files, the recorder's temporary files) left out. A batch is handed out when no new
//! event came for `quiet` (the burst is over), or at the latest `max_delay` after its first
//! event, so that a burst that never stops still shows progress.
//!
//! Nothing here reads a clock or sleeps: time is a parameter, and the tests are tables.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What happened to the paths of one event, as far as batching cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Opened, read or closed without writing: never a change.
    Access,
    /// Created, written, renamed, removed, or its permissions changed: look at it again.
    Change,
    /// The watcher lost events (its queue overflowed): look at everything again.
    Rescan,
}

/// How long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// A batch is handed out once no event came for this long.
    pub quiet: Duration,
    /// ... or this long after its first event, whatever keeps coming.
    pub max_delay: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            quiet: Duration::from_millis(8),
            max_delay: Duration::from_millis(250),
        }
    }
}

/// Paths that changed, each once, in path order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub paths: Vec<PathBuf>,
    /// Events were lost: every watched file must be looked at again.
    pub rescan: bool,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && !self.rescan
    }
}

/// Collects changes until they are worth handing out.
#[derive(Debug)]
pub struct Debouncer {
    timing: Timing,
    pending: BTreeSet<PathBuf>,
    rescan: bool,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Debouncer {
    pub fn new(timing: Timing) -> Debouncer {
        Debouncer {
            timing,
            pending: BTreeSet::new(),
            rescan: false,
            first: None,
            last: None,
        }
    }

    /// One event, arrived at `now`.
    pub fn push(
        &mut self,
        kind: ChangeKind,
        paths: impl IntoIterator<Item = PathBuf>,
        now: Instant,
    ) {
        match kind {
            ChangeKind::Access => return,
            ChangeKind::Rescan => self.rescan = true,
            ChangeKind::Change => {}
        }
        let mut real = kind == ChangeKind::Rescan;
        for path in paths {
            // Noise alone does not hold a batch back.
            if !is_noise(&path) {
                real = true;
                self.pending.insert(path);
            }
        }
        if !real {
            return;
        }
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    /// When [`Debouncer::poll`] will hand out a batch, if anything is pending.
    pub fn deadline(&self) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        Some((last + self.timing.quiet).min(first + self.timing.max_delay))
    }

    /// The batch, once its deadline has come.
    pub fn poll(&mut self, now: Instant) -> Option<Batch> {
        if self.deadline()? > now {
            return None;
        }
        self.first = None;
        self.last = None;
        Some(Batch {
            paths: std::mem::take(&mut self.pending).into_iter().collect(),
            rescan: std::mem::take(&mut self.rescan),
        })
    }

    /// True when a change at `path` or at a folder above it is waiting: a result computed from
    /// what `path` held is already stale.
    pub fn is_pending(&self, path: &Path) -> bool {
        self.rescan || path.ancestors().any(|a| self.pending.contains(a))
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && !self.rescan
    }
}

/// Files no task or record is ever read from, whose events would only wake the watcher:
/// editors' backup, swap and lock files, and temporary files written before a rename (the
/// recorder's `.<name>.tmp`; the rename itself reports the real name).
pub fn is_noise(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.ends_with('~')
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#') && name.len() > 1)
        || [".swp", ".swx", ".swo", ".tmp", "___jb_tmp___", "___jb_old___"]
            .iter()
            .any(|s| name.ends_with(s))
        // Vim checks that it may write to a folder by creating this file.
        || name == "4913"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One step of a table: at `ms`, either an event or a poll expecting a batch (or none).
    enum Step {
        Event(u64, ChangeKind, &'static [&'static str]),
        Poll(u64, Option<&'static [&'static str]>),
        /// The deadline after the steps so far, in ms, or None.
        Deadline(Option<u64>),
    }
    use ChangeKind::{Access, Change, Rescan};
    use Step::{Deadline, Event, Poll};

    fn run(name: &str, timing: Timing, steps: &[Step]) {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut d = Debouncer::new(timing);
        for (i, step) in steps.iter().enumerate() {
            match step {
                Event(ms, kind, paths) => {
                    d.push(*kind, paths.iter().map(PathBuf::from), at(*ms));
                }
                Poll(ms, want) => {
                    let got = d.poll(at(*ms)).map(|b| b.paths);
                    let want = want.map(|w| w.iter().map(PathBuf::from).collect::<Vec<_>>());
                    assert_eq!(got, want, "{name}: step {i} (poll at {ms} ms)");
                }
                Deadline(want) => {
                    assert_eq!(d.deadline(), want.map(at), "{name}: step {i} (deadline)");
                }
            }
        }
    }

    const T: Timing = Timing {
        quiet: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
    };

    #[test]
    fn batches_from_tables() {
        let cases: &[(&str, &[Step])] = &[
            (
                "one save is handed out once it is quiet",
                &[
                    Event(0, Change, &["/p/etl.py"]),
                    Deadline(Some(10)),
                    Poll(9, None),
                    Poll(10, Some(&["/p/etl.py"])),
                    Poll(11, None),
                    Deadline(None),
                ],
            ),
            (
                "an atomic save (temp file, rename over) is one path",
                &[
                    Event(0, Change, &["/p/.etl.py.swp"]),
                    Event(1, Change, &["/p/etl.py.tmp"]),
                    Event(2, Change, &["/p/etl.py.tmp", "/p/etl.py"]),
                    Event(3, Change, &["/p/etl.py"]),
                    Poll(12, None),
                    Poll(13, Some(&["/p/etl.py"])),
                ],
            ),
            (
                "reads, backups and swap files alone hand out nothing",
                &[
                    Event(0, Access, &["/p/etl.py"]),
                    Event(1, Change, &["/p/etl.py~", "/p/.etl.py.swx", "/p/4913"]),
                    Event(2, Change, &["/p/.#etl.py", "/p/#etl.py#"]),
                    Deadline(None),
                    Poll(1000, None),
                ],
            ),
            (
                "noise does not push a pending batch back",
                &[
                    Event(0, Change, &["/p/a.py"]),
                    Event(8, Change, &["/p/a.py~"]),
                    Poll(10, Some(&["/p/a.py"])),
                ],
            ),
            (
                "the same path many times is one path; paths come sorted",
                &[
                    Event(0, Change, &["/p/b.py"]),
                    Event(1, Change, &["/p/a.py"]),
                    Event(2, Change, &["/p/b.py"]),
                    Event(3, Change, &["/p/a.py", "/p/b.py"]),
                    Poll(13, Some(&["/p/a.py", "/p/b.py"])),
                ],
            ),
            (
                "a burst that keeps coming is handed out at max_delay",
                &[
                    Event(0, Change, &["/p/f0"]),
                    Event(9, Change, &["/p/f1"]),
                    Event(18, Change, &["/p/f2"]),
                    Event(27, Change, &["/p/f3"]),
                    Event(36, Change, &["/p/f4"]),
                    Event(45, Change, &["/p/f5"]),
                    Event(54, Change, &["/p/f6"]),
                    Event(63, Change, &["/p/f7"]),
                    Event(72, Change, &["/p/f8"]),
                    Event(81, Change, &["/p/f9"]),
                    Event(90, Change, &["/p/f10"]),
                    Deadline(Some(100)),
                    Poll(99, None),
                    Poll(
                        100,
                        Some(&[
                            "/p/f0", "/p/f1", "/p/f10", "/p/f2", "/p/f3", "/p/f4", "/p/f5",
                            "/p/f6", "/p/f7", "/p/f8", "/p/f9",
                        ]),
                    ),
                    // The next batch starts its own clock.
                    Event(101, Change, &["/p/f11"]),
                    Deadline(Some(111)),
                    Poll(111, Some(&["/p/f11"])),
                ],
            ),
            (
                "a late poll hands out everything pending",
                &[
                    Event(0, Change, &["/p/a"]),
                    Event(50, Change, &["/p/b"]),
                    Poll(500, Some(&["/p/a", "/p/b"])),
                ],
            ),
        ];
        for (name, steps) in cases {
            run(name, T, steps);
        }
    }

    #[test]
    fn a_rescan_is_a_batch_even_without_paths() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(T);
        d.push(Rescan, [], t0);
        assert!(d.is_pending(Path::new("/anything")));
        let batch = d.poll(t0 + T.quiet).unwrap();
        assert!(batch.rescan && batch.paths.is_empty() && !batch.is_empty());
        assert!(d.is_empty() && d.deadline().is_none());
    }

    #[test]
    fn pending_covers_the_folders_above() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(T);
        d.push(Change, [PathBuf::from("/p/runs")], t0);
        assert!(d.is_pending(Path::new("/p/runs/a/r.json")));
        assert!(d.is_pending(Path::new("/p/runs")));
        assert!(!d.is_pending(Path::new("/p/etl.py")));
        assert!(!d.is_pending(Path::new("/p/runs2/r.json")));
    }

    #[test]
    fn noise_names() {
        for noisy in [
            "a.py~",
            ".#a.py",
            "#a.py#",
            ".a.py.swp",
            "4913",
            ".rec.json.tmp",
            "a.py___jb_tmp___",
        ] {
            assert!(is_noise(Path::new(noisy)), "{noisy}");
        }
        for real in [
            "a.py",
            "run.json",
            "r.jsonl",
            "#",
            "d54385c50f7b1163ea585fafd72ce4f4",
        ] {
            assert!(!is_noise(Path::new(real)), "{real}");
        }
    }
}
