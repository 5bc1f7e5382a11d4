//! What a batch of changed paths means: which record files to read again, which folders to
//! search for new ones, which source files to fingerprint, which result lookups to redo. Pure:
//! it looks only at the paths and at what is known (the runs roots, the record files loaded,
//! the dependency index); reading is the session's.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hash;
use std::path::{Path, PathBuf};

use super::debounce::Batch;
use super::index::{Dependency, DependencyIndex};
use crate::load::is_record_file;

/// Where records are loaded from: a PATH of the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunsRoot {
    pub path: PathBuf,
    /// A record file named directly, rather than a folder searched recursively.
    pub is_file: bool,
}

/// The work a batch asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan<U> {
    /// Record files to read again: new, rewritten or removed.
    pub record_files: BTreeSet<PathBuf>,
    /// Paths under a runs folder that may be folders (created, moved in, re-created): searched
    /// for record files, which notify may not have reported one by one.
    pub record_dirs: BTreeSet<PathBuf>,
    /// Source files some unit reads, to fingerprint again.
    pub source_files: BTreeSet<PathBuf>,
    /// Units whose result file changed, with that file.
    pub results: BTreeMap<U, PathBuf>,
}

impl<U> Default for Plan<U> {
    fn default() -> Self {
        Plan {
            record_files: BTreeSet::new(),
            record_dirs: BTreeSet::new(),
            source_files: BTreeSet::new(),
            results: BTreeMap::new(),
        }
    }
}

/// Everything at `path` or under it among `files`.
fn under<'a, V>(
    files: &'a BTreeMap<PathBuf, V>,
    path: &'a Path,
) -> impl Iterator<Item = &'a PathBuf> + 'a {
    files
        .range(path.to_path_buf()..)
        .take_while(move |(p, _)| p.starts_with(path))
        .map(|(p, _)| p)
}

/// The plan for `batch`.
pub fn plan<U: Ord + Hash + Clone, V>(
    batch: &Batch,
    roots: &[RunsRoot],
    record_files: &BTreeMap<PathBuf, V>,
    index: &DependencyIndex<U>,
) -> Plan<U> {
    let mut plan = Plan::default();
    if batch.rescan {
        plan.record_files.extend(record_files.keys().cloned());
        for root in roots {
            if root.is_file {
                plan.record_files.insert(root.path.clone());
            } else {
                plan.record_dirs.insert(root.path.clone());
            }
        }
        for (path, deps) in index.files() {
            if deps.contains(&Dependency::Source) {
                plan.source_files.insert(path.to_path_buf());
            }
        }
        for (path, unit, dep) in index.all() {
            if dep == Dependency::Result {
                plan.results
                    .entry(unit.clone())
                    .or_insert_with(|| path.to_path_buf());
            }
        }
        return plan;
    }
    for path in &batch.paths {
        for root in roots {
            if root.path.starts_with(path) {
                // The root itself, or a folder above it, changed (deleted, re-created).
                plan.record_files
                    .extend(under(record_files, &root.path).cloned());
                if root.is_file {
                    plan.record_files.insert(root.path.clone());
                } else {
                    plan.record_dirs.insert(root.path.clone());
                }
            } else if !root.is_file && path.starts_with(&root.path) {
                plan.record_files.extend(under(record_files, path).cloned());
                if is_record_file(path) {
                    plan.record_files.insert(path.clone());
                } else {
                    plan.record_dirs.insert(path.clone());
                }
            }
        }
        for (file, unit, dep) in index.dependents(path) {
            match dep {
                Dependency::Source => {
                    plan.source_files.insert(file.to_path_buf());
                }
                Dependency::Result => {
                    plan.results
                        .entry(unit.clone())
                        .or_insert_with(|| file.to_path_buf());
                }
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use Dependency::{Result as R, Source as S};

    fn set(paths: &[&str]) -> BTreeSet<PathBuf> {
        paths.iter().map(PathBuf::from).collect()
    }

    struct Want {
        record_files: &'static [&'static str],
        record_dirs: &'static [&'static str],
        source_files: &'static [&'static str],
        results: &'static [(&'static str, &'static str)],
    }

    const NOTHING: Want = Want {
        record_files: &[],
        record_dirs: &[],
        source_files: &[],
        results: &[],
    };

    #[test]
    fn plans_from_tables() {
        let roots = [
            RunsRoot {
                path: "/w/runs".into(),
                is_file: false,
            },
            RunsRoot {
                path: "/x/one.json".into(),
                is_file: true,
            },
        ];
        let files: BTreeMap<PathBuf, ()> = [
            "/w/runs/r1/a.json",
            "/w/runs/r1/b.json",
            "/w/runs/r2/c.jsonl",
            "/x/one.json",
        ]
        .iter()
        .map(|p| (PathBuf::from(p), ()))
        .collect();
        let mut index = DependencyIndex::new();
        index.set(
            &"clean",
            vec![("/w/etl.py".into(), S), ("/w/storage/k1".into(), R)],
        );
        index.set(
            &"load",
            vec![("/w/etl.py".into(), S), ("/w/storage/k2".into(), R)],
        );
        let cases: &[(&str, &[&str], Want)] = &[
            (
                "a source file saved",
                &["/w/etl.py"],
                Want {
                    source_files: &["/w/etl.py"],
                    ..NOTHING
                },
            ),
            (
                "a result deleted",
                &["/w/storage/k2"],
                Want {
                    results: &[("load", "/w/storage/k2")],
                    ..NOTHING
                },
            ),
            (
                "the storage folder deleted",
                &["/w/storage"],
                Want {
                    results: &[("clean", "/w/storage/k1"), ("load", "/w/storage/k2")],
                    ..NOTHING
                },
            ),
            (
                "a new record",
                &["/w/runs/r3/d.json"],
                Want {
                    record_files: &["/w/runs/r3/d.json"],
                    ..NOTHING
                },
            ),
            (
                "a rewritten record and a jsonl that grew",
                &["/w/runs/r1/a.json", "/w/runs/r2/c.jsonl"],
                Want {
                    record_files: &["/w/runs/r1/a.json", "/w/runs/r2/c.jsonl"],
                    ..NOTHING
                },
            ),
            (
                "a new run folder: searched, since its files may have come before its watch",
                &["/w/runs/r3"],
                Want {
                    record_dirs: &["/w/runs/r3"],
                    ..NOTHING
                },
            ),
            (
                "a run folder deleted: its records",
                &["/w/runs/r1"],
                Want {
                    record_files: &["/w/runs/r1/a.json", "/w/runs/r1/b.json"],
                    record_dirs: &["/w/runs/r1"],
                    ..NOTHING
                },
            ),
            (
                "the runs folder itself deleted or re-created",
                &["/w/runs"],
                Want {
                    record_files: &[
                        "/w/runs/r1/a.json",
                        "/w/runs/r1/b.json",
                        "/w/runs/r2/c.jsonl",
                    ],
                    record_dirs: &["/w/runs"],
                    ..NOTHING
                },
            ),
            (
                "the folder above everything: records, sources and results",
                &["/w"],
                Want {
                    record_files: &[
                        "/w/runs/r1/a.json",
                        "/w/runs/r1/b.json",
                        "/w/runs/r2/c.jsonl",
                    ],
                    record_dirs: &["/w/runs"],
                    source_files: &["/w/etl.py"],
                    results: &[("clean", "/w/storage/k1"), ("load", "/w/storage/k2")],
                },
            ),
            (
                "a record file named on the command line, and its neighbours",
                &["/x/one.json", "/x/other.json"],
                Want {
                    record_files: &["/x/one.json"],
                    ..NOTHING
                },
            ),
            (
                "files nobody reads",
                &[
                    "/w/notes.txt",
                    "/w/storage/k3",
                    "/w/etl.py.orig",
                    "/w/runsx/a.json",
                ],
                NOTHING,
            ),
        ];
        for (name, paths, want) in cases {
            let batch = Batch {
                paths: paths.iter().map(PathBuf::from).collect(),
                rescan: false,
            };
            let got = plan(&batch, &roots, &files, &index);
            let results: BTreeMap<&str, PathBuf> = want
                .results
                .iter()
                .map(|(u, p)| (*u, PathBuf::from(p)))
                .collect();
            assert_eq!(
                got.record_files,
                set(want.record_files),
                "{name}: record files"
            );
            assert_eq!(
                got.record_dirs,
                set(want.record_dirs),
                "{name}: record dirs"
            );
            assert_eq!(got.source_files, set(want.source_files), "{name}: sources");
            assert_eq!(got.results, results, "{name}: results");
        }
        // A rescan looks at everything known.
        let all = plan(
            &Batch {
                paths: vec![],
                rescan: true,
            },
            &roots,
            &files,
            &index,
        );
        assert_eq!(all.record_files.len(), 4);
        assert_eq!(all.record_dirs, set(&["/w/runs"]));
        assert_eq!(all.source_files, set(&["/w/etl.py"]));
        assert_eq!(all.results.len(), 2);
    }
}
