//! Which folders notify watches, kept in line with what the session reads.
//!
//! Folders, never files: an editor's atomic save replaces the file (a new inode), and a file
//! deleted and created again would leave a file watch on nothing. Runs folders are watched
//! recursively, the folders of source files and of result storage one level deep. A folder that
//! does not exist (yet, or any more) is waited for by watching the nearest folder above it
//! that does; a folder deleted and created again is a new inode, and is watched again.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use cachescope::incremental::event::{WatchError, WatchEvent};
use cachescope::incremental::session::WatchTargets;
use notify::{RecursiveMode, Watcher};

/// A folder's identity, so that one deleted and created again under the same name is seen as
/// another folder.
fn identity(path: &Path) -> Option<(u64, u64)> {
    let meta = fs::metadata(path).ok().filter(|m| m.is_dir())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Some((0, 0))
    }
}

/// The folders to watch for `targets`, each with whether recursively. Pure but for asking
/// which folders exist.
pub fn wanted(targets: &WatchTargets, exists: impl Fn(&Path) -> bool) -> BTreeMap<PathBuf, bool> {
    let mut want: BTreeMap<PathBuf, bool> = BTreeMap::new();
    let mut add = |path: &Path, recursive: bool| {
        // A folder that is not there is waited for from the nearest one above it.
        let (path, recursive) = match path.ancestors().find(|a| exists(a)) {
            Some(found) if found == path => (path, recursive),
            Some(above) => (above, false),
            None => return,
        };
        let entry = want.entry(path.to_path_buf()).or_insert(recursive);
        *entry |= recursive;
    };
    for root in &targets.roots {
        if root.is_file {
            if let Some(parent) = root.path.parent() {
                add(parent, false);
            }
        } else {
            add(&root.path, true);
        }
    }
    for folder in &targets.folders {
        add(folder, false);
    }
    // Inside a recursive watch, another watch adds nothing (and notify would replace the
    // recursive one with it).
    let recursive: Vec<PathBuf> = want
        .iter()
        .filter(|(_, r)| **r)
        .map(|(p, _)| p.clone())
        .collect();
    want.retain(|p, r| *r || !recursive.iter().any(|root| p.starts_with(root)));
    want
}

/// The watches in place.
#[derive(Default)]
pub struct Watches {
    current: BTreeMap<PathBuf, (bool, Option<(u64, u64)>)>,
    /// Folders whose watch failed, reported once until it succeeds.
    failed: BTreeSet<PathBuf>,
}

impl Watches {
    /// Watches what `targets` needs and stops watching what it no longer does. Returns the
    /// errors to report and the folders newly watched (whose contents may have changed unseen).
    pub fn reconcile(
        &mut self,
        watcher: &mut impl WatchOps,
        targets: &WatchTargets,
    ) -> (Vec<WatchEvent>, Vec<PathBuf>) {
        let want = wanted(targets, |p| p.is_dir());
        let mut errors = Vec::new();
        let mut added = Vec::new();
        let stale: Vec<PathBuf> = self
            .current
            .iter()
            .filter(|(p, (r, id))| want.get(*p) != Some(r) || identity(p) != *id)
            .map(|(p, _)| p.clone())
            .collect();
        for path in stale {
            self.current.remove(&path);
            // Gone with its folder, most likely; nothing to say.
            let _ = watcher.unwatch(&path);
        }
        for (path, recursive) in want {
            if self.current.contains_key(&path) {
                continue;
            }
            let id = identity(&path);
            match watcher.watch(&path, recursive) {
                Ok(()) => {
                    self.failed.remove(&path);
                    self.current.insert(path.clone(), (recursive, id));
                    added.push(path);
                }
                // Deleted between the look and the watch: the next reconcile waits for it.
                Err(e) if matches!(e.kind, notify::ErrorKind::PathNotFound) => {}
                Err(e) => {
                    // A recursive watch that hit the limit keeps the folders it did watch.
                    if recursive && matches!(e.kind, notify::ErrorKind::MaxFilesWatch) {
                        self.current.insert(path.clone(), (recursive, id));
                    }
                    if self.failed.insert(path.clone()) {
                        errors.push(watch_error(&path, &e));
                    }
                }
            }
        }
        (errors, added)
    }

    /// An event named a watched folder itself (deleted, moved, re-created): its watch may be
    /// gone with the old folder, so the next reconcile watches it afresh. The identity check
    /// alone would miss a folder re-created with the inode number of the deleted one.
    pub fn forget(&mut self, path: &Path) {
        self.current.remove(path);
    }

    pub fn count(&self) -> usize {
        self.current.len()
    }
}

/// What [`Watches`] needs of notify, so that it can be tested without it.
pub trait WatchOps {
    fn watch(&mut self, path: &Path, recursive: bool) -> notify::Result<()>;
    fn unwatch(&mut self, path: &Path) -> notify::Result<()>;
}

impl<T: Watcher, C: notify_debouncer_full::FileIdCache> WatchOps
    for notify_debouncer_full::Debouncer<T, C>
{
    fn watch(&mut self, path: &Path, recursive: bool) -> notify::Result<()> {
        let mode = if recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        notify_debouncer_full::Debouncer::watch(self, path, mode)
    }

    fn unwatch(&mut self, path: &Path) -> notify::Result<()> {
        notify_debouncer_full::Debouncer::unwatch(self, path)
    }
}

fn read_limit(name: &str) -> Option<String> {
    fs::read_to_string(Path::new("/proc/sys/fs/inotify").join(name))
        .ok()
        .map(|s| s.trim().to_string())
}

/// A notify error as one message that says what to do about it.
pub fn describe(e: &notify::Error) -> String {
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => {
            let now = read_limit("max_user_watches")
                .map(|n| format!(" (fs.inotify.max_user_watches = {n})"))
                .unwrap_or_default();
            format!(
                "the inotify watch limit is reached{now}; raise it with `sudo sysctl \
                 fs.inotify.max_user_watches=524288` (and put that setting in \
                 /etc/sysctl.d/ to keep it). Watching goes on with the folders already watched"
            )
        }
        // EMFILE: the process's open files, or the user's inotify instances.
        notify::ErrorKind::Io(io) if io.raw_os_error() == Some(24) => {
            let now = read_limit("max_user_instances")
                .map(|n| format!(" (now {n})"))
                .unwrap_or_default();
            format!(
                "{io}: too many open files or inotify instances; raise the open-file limit \
                 (`ulimit -n`) or fs.inotify.max_user_instances{now} with `sudo sysctl \
                 fs.inotify.max_user_instances=1024`"
            )
        }
        notify::ErrorKind::Io(io) => io.to_string(),
        notify::ErrorKind::PathNotFound => "no such file or folder".to_string(),
        notify::ErrorKind::WatchNotFound => "not watched".to_string(),
        notify::ErrorKind::InvalidConfig(c) => format!("invalid watcher configuration: {c:?}"),
        notify::ErrorKind::Generic(text) => text.clone(),
    }
}

/// A failed watch as an `error` event.
pub fn watch_error(path: &Path, e: &notify::Error) -> WatchEvent {
    let path = e.paths.first().map_or(path, PathBuf::as_path);
    WatchEvent::Error(WatchError {
        path: path.to_path_buf(),
        error: format!("cannot watch: {}", describe(e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cachescope::incremental::plan::RunsRoot;

    fn targets(roots: &[(&str, bool)], folders: &[&str]) -> WatchTargets {
        WatchTargets {
            roots: roots
                .iter()
                .map(|(p, is_file)| RunsRoot {
                    path: p.into(),
                    is_file: *is_file,
                })
                .collect(),
            folders: folders.iter().map(PathBuf::from).collect(),
        }
    }

    #[test]
    fn wanted_from_tables() {
        let existing = [
            "/",
            "/w",
            "/w/runs",
            "/w/project",
            "/w/storage",
            "/w/storage/02",
            "/x",
        ];
        let exists = |p: &Path| existing.iter().any(|e| Path::new(e) == p);
        type Case<'a> = (&'a str, WatchTargets, &'a [(&'a str, bool)]);
        let cases: &[Case] = &[
            (
                "runs recursively, source and storage folders one level",
                targets(&[("/w/runs", false)], &["/w/project", "/w/storage/02"]),
                &[
                    ("/w/project", false),
                    ("/w/runs", true),
                    ("/w/storage/02", false),
                ],
            ),
            (
                "a record file named directly: its folder",
                targets(&[("/x/one.json", true)], &[]),
                &[("/x", false)],
            ),
            (
                "missing folders are waited for from above",
                targets(&[("/w/runs2", false)], &["/w/storage/03", "/w/project/sub"]),
                &[("/w", false), ("/w/project", false), ("/w/storage", false)],
            ),
            (
                "a folder inside a recursive watch adds nothing",
                targets(&[("/w", false)], &["/w/project", "/w/storage/02"]),
                &[("/w", true)],
            ),
            (
                "the same folder wanted both ways is watched recursively",
                targets(&[("/w/runs", false)], &["/w/runs"]),
                &[("/w/runs", true)],
            ),
        ];
        for (name, targets, want) in cases {
            let want: BTreeMap<PathBuf, bool> =
                want.iter().map(|(p, r)| (PathBuf::from(p), *r)).collect();
            assert_eq!(wanted(targets, exists), want, "{name}");
        }
    }

    /// A watcher that fails on paths it is told to.
    #[derive(Default)]
    struct Fake {
        watched: BTreeMap<PathBuf, bool>,
        full: bool,
    }

    impl WatchOps for Fake {
        fn watch(&mut self, path: &Path, recursive: bool) -> notify::Result<()> {
            if self.full {
                return Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch));
            }
            self.watched.insert(path.to_path_buf(), recursive);
            Ok(())
        }
        fn unwatch(&mut self, path: &Path) -> notify::Result<()> {
            self.watched.remove(path);
            Ok(())
        }
    }

    #[test]
    fn reconcile_follows_the_targets_and_reports_the_limit_once_with_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path().join("runs");
        let project = tmp.path().join("project");
        fs::create_dir_all(&runs).unwrap();
        let t = targets(
            &[(runs.to_str().unwrap(), false)],
            &[project.to_str().unwrap()],
        );
        let mut fake = Fake::default();
        let mut watches = Watches::default();
        // project/ does not exist: its parent is watched for it.
        let (errors, added) = watches.reconcile(&mut fake, &t);
        assert!(errors.is_empty());
        assert_eq!(added, [tmp.path().to_path_buf(), runs.clone()]);
        // It appears: watched, the parent let go.
        fs::create_dir_all(&project).unwrap();
        let (_, added) = watches.reconcile(&mut fake, &t);
        assert_eq!(added, std::slice::from_ref(&project));
        assert_eq!(fake.watched.keys().collect::<Vec<_>>(), [&project, &runs]);
        // Nothing changed: nothing done.
        assert_eq!(watches.reconcile(&mut fake, &t).1, Vec::<PathBuf>::new());
        // The runs folder deleted and created again: an event named it, so it is watched
        // again (and its contents looked at).
        fs::remove_dir(&runs).unwrap();
        fs::create_dir(tmp.path().join("placeholder")).unwrap();
        fs::create_dir(&runs).unwrap();
        watches.forget(&runs);
        let (_, added) = watches.reconcile(&mut fake, &t);
        assert_eq!(added, std::slice::from_ref(&runs));

        // The limit: said once, with how to raise it.
        let other = targets(
            &[(runs.to_str().unwrap(), false)],
            &[tmp.path().join("placeholder").to_str().unwrap()],
        );
        fake.full = true;
        let (errors, _) = watches.reconcile(&mut fake, &other);
        assert_eq!(errors.len(), 1);
        let WatchEvent::Error(e) = &errors[0] else {
            panic!()
        };
        assert!(
            e.error.contains("fs.inotify.max_user_watches"),
            "{}",
            e.error
        );
        assert!(e.error.contains("sysctl"), "{}", e.error);
        assert!(watches.reconcile(&mut fake, &other).0.is_empty());
        // What was watched still is.
        assert_eq!(watches.count(), 1);
        assert!(fake.watched.contains_key(&runs));
    }
}
