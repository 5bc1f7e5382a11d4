//! The file watcher: notify (through notify-debouncer-full) feeding a live session on a worker
//! thread, which sends [`WatchEvent`]s down a channel. It knows nothing of the terminal:
//! `cachescope watch` prints the events as JSON lines, the terminal UI's live mode updates
//! in place from the same events.
//!
//! Threads: notify's own (it only forwards events into the worker's channel) and the worker,
//! which owns the session. The worker batches events with the pure
//! [`Debouncer`](cachescope::incremental::debounce::Debouncer), recomputes what a batch touched,
//! then drains the events that came in meanwhile before keeping its results: a unit that read a
//! file changed again since is recomputed with the next batch instead (the latest change wins,
//! and no stale verdict is reported). A consumer never computes anything.
//!
//! ```ignore
//! let (handle, events) = watch::start(WatchConfig { paths, ..WatchConfig::default() });
//! // In the UI's loop, with the other sources: `events.try_recv()` / `recv_timeout`.
//! // `Ready` comes once; then `Verdict` (a task's key or verdict changed, with explain's
//! // culprits and the live recomputation node by node), `Record`, `Error`.
//! drop(handle); // stops the watcher (or `handle.stop()`, or a `Stopper` from another thread)
//! ```

mod watches;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use cachescope::incremental::debounce::{Batch, ChangeKind, Debouncer, Timing};
use cachescope::incremental::event::{WatchError, WatchEvent};
use cachescope::incremental::session::{Session, SessionOptions};
use cachescope::record::normalize;
use jiff::Timestamp;
use notify::EventKind;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};

use watches::{Watches, describe, watch_error};

/// What to watch and how.
#[derive(Debug, Clone, Default)]
pub struct WatchConfig {
    /// Record files and runs folders (the command line's PATHs).
    pub paths: Vec<PathBuf>,
    pub session: SessionOptions,
    pub timing: WatchTiming,
}

/// How long events are held back.
#[derive(Debug, Clone, Copy)]
pub struct WatchTiming {
    /// notify-debouncer-full's window: events of one path closer than this are one.
    pub fs: Duration,
    /// The batching of paths into one recomputation.
    pub batch: Timing,
}

impl Default for WatchTiming {
    fn default() -> WatchTiming {
        WatchTiming {
            fs: Duration::from_millis(12),
            batch: Timing::default(),
        }
    }
}

enum Msg {
    Fs(DebounceEventResult),
    Stop,
}

/// Stops a running watcher; can be handed to a signal handler.
#[derive(Clone)]
pub struct Stopper(Sender<Msg>);

impl Stopper {
    pub fn stop(&self) {
        let _ = self.0.send(Msg::Stop);
    }
}

/// A running watcher. Dropping it stops it.
pub struct WatchHandle {
    control: Sender<Msg>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl WatchHandle {
    pub fn stopper(&self) -> Stopper {
        Stopper(self.control.clone())
    }

    pub fn stop(&self) {
        let _ = self.control.send(Msg::Stop);
    }

    /// Waits for the watcher to end: Err with why when it could not watch at all.
    pub fn join(mut self) -> Result<(), String> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err("the watcher stopped on a bug (a panic)".to_string()),
            None => Ok(()),
        }
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts watching on a worker thread. Events come in order: `ready` once the records are
/// loaded and every prediction computed, then errors of that load, then changes as they
/// happen. The channel closes when the watcher ends.
pub fn start(config: WatchConfig) -> (WatchHandle, Receiver<WatchEvent>) {
    let (control, inbox) = mpsc::channel();
    let (events, receiver) = mpsc::channel();
    let to_self = control.clone();
    let thread = thread::Builder::new()
        .name("cachescope watch".into())
        .spawn(move || {
            let first = config
                .paths
                .first()
                .map(|p| absolute(p))
                .unwrap_or_default();
            let result = run(config, inbox, to_self, &events);
            if let Err(why) = &result {
                let _ = events.send(WatchEvent::Error(WatchError {
                    path: first,
                    error: why.clone(),
                }));
            }
            result
        })
        .expect("a thread can be started");
    (
        WatchHandle {
            control,
            thread: Some(thread),
        },
        receiver,
    )
}

/// An absolute, `..`-free spelling: notify names files under a watched folder by joining to
/// it, and the session's paths must compare equal to those.
fn absolute(path: &Path) -> PathBuf {
    normalize(&std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
}

fn kind(event: &notify::Event) -> ChangeKind {
    if event.need_rescan() {
        return ChangeKind::Rescan;
    }
    match event.kind {
        EventKind::Access(_) => ChangeKind::Access,
        _ => ChangeKind::Change,
    }
}

/// The worker: the session and its loop. Returns when stopped, when the consumer went away,
/// or (Err) when nothing could be watched.
fn run(
    config: WatchConfig,
    inbox: Receiver<Msg>,
    to_self: Sender<Msg>,
    out: &Sender<WatchEvent>,
) -> Result<(), String> {
    let started = Instant::now();
    let paths: Vec<PathBuf> = config.paths.iter().map(|p| absolute(p)).collect();
    let mut options = config.session.clone();
    options.live.project = options.live.project.as_deref().map(absolute);

    let mut notify = new_debouncer(config.timing.fs, None, move |result| {
        let _ = to_self.send(Msg::Fs(result));
    })
    .map_err(|e| format!("cannot watch: {}", describe(&e)))?;
    let mut watches = Watches::default();
    let mut deferred = Vec::new();

    // The runs folders first, so that a record written while the others load is seen.
    let roots_only = cachescope::incremental::session::WatchTargets {
        roots: Session::roots_of(&paths),
        folders: Default::default(),
    };
    deferred.extend(watches.reconcile(&mut notify, &roots_only).0);
    let (mut session, loaded) = Session::start(&paths, options, Timestamp::now());
    let (errors, _) = watches.reconcile(&mut notify, &session.watch_targets());
    deferred.extend(errors);
    if watches.count() == 0 {
        return Err(format!(
            "cannot watch any folder for {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    // Sources and results changed between the first read and their watch: look again. The
    // fingerprints make this cheap, and what it finds is the state `ready` reports from.
    let folders: Vec<PathBuf> = session.watch_targets().folders.into_iter().collect();
    let settled = session.apply(
        &Batch {
            paths: folders,
            rescan: false,
        },
        Timestamp::now(),
    );
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let first = std::iter::once(session.ready(ms))
        .chain(loaded)
        .chain(
            settled
                .into_iter()
                .filter(|e| !matches!(e, WatchEvent::Verdict(_))),
        )
        .chain(deferred);
    for event in first {
        if out.send(event).is_err() {
            return Ok(());
        }
    }

    let mut batcher = Debouncer::new(config.timing.batch);
    loop {
        let now = Instant::now();
        let mut deadline = batcher.deadline();
        if let Some(at) = session.next_expiry() {
            // Expiry is no file event: wake when it passes (a millisecond after, since a
            // result is expired only once now is past its expiration).
            // Capped, so that a far expiration is no overflow: the loop just wakes again.
            let wait = Duration::try_from(at.duration_since(Timestamp::now()))
                .unwrap_or(Duration::ZERO)
                .min(Duration::from_secs(3600))
                + Duration::from_millis(1);
            deadline = Some(deadline.map_or(now + wait, |d| d.min(now + wait)));
        }
        let first = match deadline {
            Some(d) => inbox.recv_timeout(d.saturating_duration_since(now)),
            None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let mut stop = false;
        match first {
            Ok(msg) => stop |= take(msg, &mut batcher, &mut watches, out),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        // Everything already waiting joins this batch: a burst is one recomputation.
        while let Ok(msg) = inbox.try_recv() {
            stop |= take(msg, &mut batcher, &mut watches, out);
        }
        if stop {
            return Ok(());
        }
        if session
            .next_expiry()
            .is_some_and(|at| at <= Timestamp::now())
        {
            session.expire(Timestamp::now());
        }
        let batch = batcher.poll(Instant::now());
        // Units left to redo (a stale result, an expiry) go with the next batch when one is
        // coming, so that they are not computed twice.
        if batch.is_none() && !(session.has_dirty() && batcher.is_empty()) {
            continue;
        }
        let prepared = session.prepare(&batch.unwrap_or_default(), Timestamp::now());
        while let Ok(msg) = inbox.try_recv() {
            stop |= take(msg, &mut batcher, &mut watches, out);
        }
        let events = session.commit(prepared, |p| batcher.is_pending(p));
        for event in events {
            if out.send(event).is_err() {
                return Ok(());
            }
        }
        if stop {
            return Ok(());
        }
        // What is read may have moved (a task's new file, a storage folder that appeared, a
        // folder re-created): watch it, and look at what it holds now.
        let (errors, added) = watches.reconcile(&mut notify, &session.watch_targets());
        for event in errors {
            if out.send(event).is_err() {
                return Ok(());
            }
        }
        if !added.is_empty() {
            batcher.push(ChangeKind::Change, added, Instant::now());
        }
    }
}

/// One message into the batcher; true for Stop.
fn take(
    msg: Msg,
    batcher: &mut Debouncer,
    watches: &mut Watches,
    out: &Sender<WatchEvent>,
) -> bool {
    match msg {
        Msg::Stop => true,
        Msg::Fs(Ok(events)) => {
            let now = Instant::now();
            for e in events {
                // A watched folder itself created, removed or renamed (reading it, which opens
                // it, is not): its watch may have gone with the old folder.
                if matches!(
                    e.kind,
                    EventKind::Create(_)
                        | EventKind::Remove(_)
                        | EventKind::Modify(notify::event::ModifyKind::Name(_))
                ) {
                    for path in &e.paths {
                        watches.forget(path);
                    }
                }
                batcher.push(kind(&e), e.event.paths, now);
            }
            false
        }
        Msg::Fs(Err(errors)) => {
            for e in errors {
                let _ = out.send(watch_error(Path::new(""), &e));
            }
            // What the errors cost is not known: look at everything again.
            batcher.push(ChangeKind::Rescan, [], Instant::now());
            false
        }
    }
}
