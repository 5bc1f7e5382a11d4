//! Where `explain` looks for the earlier runs of a task when it is given one record: the runs
//! tree that record belongs to, whatever its folders are called.
//!
//! The runs tree holds the record and is, in this order of preference:
//! - the folder `CACHESCOPE_RUNS` names (the recorder's setting, relative to the working
//!   directory), when it holds the record;
//! - else the highest folder above the record that holds nothing but runs: run record files
//!   (`.json`, `.jsonl`), notes (`.md`, `.txt`), hidden files (the recorder's temporary files)
//!   and folders of the same kind, however deep and however named (`history/2024-06-01/
//!   batch-a/`). A folder with anything else in it (a project's sources, Prefect's result
//!   files, which carry no extension) is not a runs tree, nor is any folder above it;
//! - or, when it is higher, the nearest folder named `runs` at most two levels above the
//!   record's folder (`.cachescope/runs`, `sample-runs/runs`), whatever else it holds;
//! - and at least the record's own folder.
//!
//! The climb is bounded so that a record lying in a large folder never makes `explain` list a
//! whole disk: it never reaches the home folder, the file system's root or a folder holding
//! `.git` (a repository's root: its sources are not runs), it goes at most [`MAX_LEVELS`]
//! folders up, and it stops where it is once [`MAX_ENTRIES`] folder entries have been listed.
//!
//! Paths keep the user's spelling (a relative record gives a relative root, climbing above it
//! with `..`), since the records found are shown by the paths built from the root.

use std::fs;
use std::path::{Component, Path, PathBuf};

/// How many folders above the record's own the climb may go.
pub const MAX_LEVELS: usize = 8;

/// How many folder entries the climb may list in all.
pub const MAX_ENTRIES: usize = 100_000;

/// The folder searched for earlier runs of the record at `record`. `env_runs` is the value of
/// `CACHESCOPE_RUNS`, `home` the user's home folder; either may be unknown.
pub fn runs_root(record: &Path, env_runs: Option<&Path>, home: Option<&Path>) -> PathBuf {
    let dir = match record.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if let Some(runs) = env_runs.filter(|r| !r.as_os_str().is_empty())
        && let (Ok(runs_c), Ok(record_c)) = (fs::canonicalize(runs), fs::canonicalize(record))
        && runs_c.is_dir()
        && record_c.starts_with(&runs_c)
    {
        return runs.to_path_buf();
    }
    let climbed = climb(&dir, home);
    match nearest_runs_folder(&dir) {
        Some(runs) if is_above(&runs, &climbed) => runs,
        _ => climbed,
    }
}

/// The highest folder from `dir` up whose whole content is runs (see the module's doc).
fn climb(dir: &Path, home: Option<&Path>) -> PathBuf {
    let mut budget = MAX_ENTRIES;
    let mut best = dir.to_path_buf();
    if !only_runs(dir, None, &mut budget) {
        return best;
    }
    let home = home.and_then(|h| fs::canonicalize(h).ok());
    for _ in 0..MAX_LEVELS {
        let Some(parent) = lexical_parent(&best) else {
            break;
        };
        let (Ok(parent_c), Ok(child_c)) = (fs::canonicalize(&parent), fs::canonicalize(&best))
        else {
            break;
        };
        let at_or_above_home = home.as_ref().is_some_and(|h| h.starts_with(&parent_c));
        if parent_c.parent().is_none()
            || at_or_above_home
            || parent_c.join(".git").exists()
            || !only_runs(&parent, Some(&child_c), &mut budget)
        {
            break;
        }
        best = parent;
    }
    best
}

/// True when everything in `dir` is runs: record files, notes, hidden files, and folders of
/// the same kind. `known` is a subfolder already found to be so (the one the climb came
/// from). False once the budget of entries to list is spent: too big to tell.
fn only_runs(dir: &Path, known: Option<&Path>, budget: &mut usize) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    for entry in entries {
        let Ok(entry) = entry else { return false };
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Follows symbolic links, as the loader does; the budget bounds a loop.
        let Ok(meta) = fs::metadata(&path) else {
            return false;
        };
        if meta.is_dir() {
            let is_known = known.is_some_and(|k| fs::canonicalize(&path).is_ok_and(|p| p == k));
            if !is_known && !only_runs(&path, None, budget) {
                return false;
            }
        } else if !is_run_file(&path) {
            return false;
        }
    }
    true
}

/// A file that may sit in a runs tree: a record, or a note about the runs.
fn is_run_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("json" | "jsonl" | "md" | "txt")
    )
}

/// The folder above `path`, in the same spelling: `a/b` gives `a`, `a` and `.` give `.` and
/// `..`, `..` gives `../..`. None above a root.
fn lexical_parent(path: &Path) -> Option<PathBuf> {
    match path.components().next_back() {
        Some(Component::Normal(_)) => Some(match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }),
        Some(Component::CurDir) | None => Some(PathBuf::from("..")),
        Some(Component::ParentDir) => Some(path.join("..")),
        Some(Component::RootDir | Component::Prefix(_)) => None,
    }
}

/// The nearest folder named `runs` that holds `dir`, at most two levels above it: a folder
/// named `runs` higher up is someone else's.
fn nearest_runs_folder(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .take(3)
        .find(|d| d.file_name().is_some_and(|n| n == "runs"))
        .map(Path::to_path_buf)
}

/// True when `x` is a folder strictly above `y`.
fn is_above(x: &Path, y: &Path) -> bool {
    match (fs::canonicalize(x), fs::canonicalize(y)) {
        (Ok(x), Ok(y)) => y != x && y.starts_with(&x),
        // Paths that do not exist: their spelling says it.
        _ => y != x && y.starts_with(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "{}").unwrap();
    }

    #[test]
    fn paths_that_do_not_exist_give_the_nearest_runs_folder_or_the_records_own() {
        let root = |p: &str| runs_root(Path::new(p), None, None);
        assert_eq!(
            root("p/.cachescope/runs/x.json"),
            Path::new("p/.cachescope/runs")
        );
        assert_eq!(
            root("sample-runs/runs/02-source-edit/run-1/x.json"),
            Path::new("sample-runs/runs")
        );
        assert_eq!(root("/nowhere/mine/x.json"), Path::new("/nowhere/mine"));
        assert_eq!(
            root("/nowhere/runs/project/out/a/b/x.json"),
            Path::new("/nowhere/runs/project/out/a/b")
        );
    }

    #[test]
    fn oddly_named_folders_of_runs_are_one_tree_up_to_the_first_folder_with_other_things() {
        // Issue 8: only folders named `runs` were searched; these runs were never found.
        let tmp = tempfile::tempdir().unwrap();
        let project = tmp.path().join("proj");
        touch(&project.join("flows.py"));
        let history = project.join("flow history");
        let a = history
            .join("2024-06-01")
            .join("batch-a")
            .join("score-1.json");
        let b = history
            .join("2024-06-02")
            .join("batch-b")
            .join("score-2.json");
        touch(&a);
        touch(&b);
        touch(
            &history
                .join("2024-06-01")
                .join("batch-a")
                .join("more.jsonl"),
        );
        touch(&history.join("notes.md"));
        // The recorder's temporary file, mid-write.
        touch(&history.join("2024-06-02").join("batch-b").join(".1f2e.tmp"));
        assert_eq!(runs_root(&b, None, None), history);

        // Prefect's result files (no extension) are not runs: the tree stops below them.
        touch(&history.join("2024-06-02").join("0a1b2c3d4e5f"));
        assert_eq!(
            runs_root(&b, None, None),
            history.join("2024-06-02").join("batch-b")
        );
        assert_eq!(runs_root(&a, None, None), history.join("2024-06-01"));
    }

    #[test]
    fn cachescope_runs_names_the_tree_when_it_holds_the_record() {
        let tmp = tempfile::tempdir().unwrap();
        let record = tmp.path().join("out").join("day 1").join("r.json");
        touch(&record);
        touch(&tmp.path().join("out").join("flows.py"));
        let out = tmp.path().join("out");
        assert_eq!(runs_root(&record, Some(&out), None), out);
        let elsewhere = tmp.path().join("elsewhere");
        fs::create_dir_all(&elsewhere).unwrap();
        assert_eq!(
            runs_root(&record, Some(&elsewhere), None),
            out.join("day 1")
        );
    }

    #[test]
    fn the_climb_stops_below_home_and_repositories() {
        let tmp = tempfile::tempdir().unwrap();
        // A home folder that holds only records is still never searched whole.
        let home = tmp.path().join("home");
        let record = home.join("results").join("r.json");
        touch(&record);
        touch(&home.join("other.json"));
        assert_eq!(runs_root(&record, None, Some(&home)), home.join("results"));
        // `.git` is hidden, but it makes its folder a repository's root.
        let repo = tmp.path().join("repo");
        fs::create_dir_all(repo.join(".git")).unwrap();
        let record = repo.join("recorded").join("r.json");
        touch(&record);
        assert_eq!(runs_root(&record, None, None), repo.join("recorded"));
    }

    #[test]
    fn a_runs_folder_with_other_things_in_it_is_still_searched() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path().join("runs");
        let record = runs.join("story").join("r.json");
        touch(&record);
        touch(&runs.join("regenerate.sh"));
        assert_eq!(runs_root(&record, None, None), runs);
    }

    #[test]
    fn lexical_parents_keep_the_users_spelling() {
        let p = |s: &str| lexical_parent(Path::new(s)).map(|p| p.display().to_string());
        assert_eq!(p("a/b").as_deref(), Some("a"));
        assert_eq!(p("a").as_deref(), Some("."));
        assert_eq!(p(".").as_deref(), Some(".."));
        assert_eq!(p("..").as_deref(), Some("../.."));
        assert_eq!(p("/").as_deref(), None);
    }
}
