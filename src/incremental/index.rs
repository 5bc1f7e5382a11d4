//! The dependency index: which watched units (a task's latest record, or every record) read
//! which file, so that a change to one file recomputes only the units that read it.
//!
//! A unit reads its task's source file (or, while that is missing, the path it was looked
//! for at) and the result file its live key is looked up at. A folder that changed (deleted,
//! renamed, re-created) stands for every file under it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;
use std::path::{Path, PathBuf};

/// What a unit reads from a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dependency {
    /// The task's source file: a change is fingerprinted, then recomputes the key.
    Source,
    /// The result the live key is looked up at: a change redoes the lookup.
    Result,
}

/// Files to units and units to files.
#[derive(Debug)]
pub struct DependencyIndex<U> {
    by_path: BTreeMap<PathBuf, BTreeMap<U, Dependency>>,
    by_unit: HashMap<U, Vec<(PathBuf, Dependency)>>,
}

impl<U> Default for DependencyIndex<U> {
    fn default() -> Self {
        DependencyIndex {
            by_path: BTreeMap::new(),
            by_unit: HashMap::new(),
        }
    }
}

impl<U: Ord + Hash + Clone> DependencyIndex<U> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces what `unit` reads.
    pub fn set(&mut self, unit: &U, reads: Vec<(PathBuf, Dependency)>) {
        self.remove(unit);
        for (path, dep) in &reads {
            self.by_path
                .entry(path.clone())
                .or_default()
                .insert(unit.clone(), *dep);
        }
        if !reads.is_empty() {
            self.by_unit.insert(unit.clone(), reads);
        }
    }

    pub fn remove(&mut self, unit: &U) {
        for (path, _) in self.by_unit.remove(unit).unwrap_or_default() {
            if let Some(units) = self.by_path.get_mut(&path) {
                units.remove(unit);
                if units.is_empty() {
                    self.by_path.remove(&path);
                }
            }
        }
    }

    /// What `unit` reads.
    pub fn reads(&self, unit: &U) -> &[(PathBuf, Dependency)] {
        self.by_unit.get(unit).map_or(&[], Vec::as_slice)
    }

    /// Every (file, unit, dependency) at `path` or under it, `path` being a folder.
    pub fn dependents<'a>(
        &'a self,
        path: &'a Path,
    ) -> impl Iterator<Item = (&'a Path, &'a U, Dependency)> + 'a {
        // Paths order component by component, so everything under a folder comes right
        // after it.
        self.by_path
            .range(path.to_path_buf()..)
            .take_while(move |(p, _)| p.starts_with(path))
            .flat_map(|(p, units)| units.iter().map(move |(u, d)| (p.as_path(), u, *d)))
    }

    /// Every (file, unit, dependency).
    pub fn all(&self) -> impl Iterator<Item = (&Path, &U, Dependency)> {
        self.by_path
            .iter()
            .flat_map(|(p, units)| units.iter().map(move |(u, d)| (p.as_path(), u, *d)))
    }

    /// Every file some unit reads, with the kinds of reads.
    pub fn files(&self) -> impl Iterator<Item = (&Path, BTreeSet<Dependency>)> {
        self.by_path
            .iter()
            .map(|(p, units)| (p.as_path(), units.values().copied().collect()))
    }

    /// How many files are read; how many units read any.
    pub fn len(&self) -> (usize, usize) {
        (self.by_path.len(), self.by_unit.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Dependency::{Result as R, Source as S};

    fn index(table: &[(&'static str, &[(&str, Dependency)])]) -> DependencyIndex<&'static str> {
        let mut ix = DependencyIndex::new();
        for (unit, reads) in table {
            ix.set(
                unit,
                reads.iter().map(|(p, d)| (PathBuf::from(p), *d)).collect(),
            );
        }
        ix
    }

    fn dependents(ix: &DependencyIndex<&'static str>, path: &str) -> Vec<(String, &'static str)> {
        ix.dependents(Path::new(path))
            .map(|(p, u, _)| (p.display().to_string(), *u))
            .collect()
    }

    #[test]
    fn dependents_from_tables() {
        let ix = index(&[
            ("clean", &[("/p/etl.py", S), ("/s/02/d543", R)]),
            ("extract", &[("/p/etl.py", S), ("/s/02/bb52", R)]),
            ("publish", &[("/p/publish.py", S), ("/s/07/09bf", R)]),
            ("other", &[("/p/etl.py.bak/x.py", S), ("/p2/etl.py", S)]),
        ]);
        let cases: &[(&str, &[(&str, &str)])] = &[
            // One source file: every task defined in it, and nothing else.
            (
                "/p/etl.py",
                &[("/p/etl.py", "clean"), ("/p/etl.py", "extract")],
            ),
            ("/p/publish.py", &[("/p/publish.py", "publish")]),
            // A result file: the one unit whose key it is.
            ("/s/02/d543", &[("/s/02/d543", "clean")]),
            // A storage folder deleted: every result under it, not a sibling's.
            (
                "/s/02",
                &[("/s/02/bb52", "extract"), ("/s/02/d543", "clean")],
            ),
            // The project folder renamed: everything under it, and not /p2 or /p/etl.py.bak's
            // sibling names that merely start alike.
            (
                "/p",
                &[
                    ("/p/etl.py", "clean"),
                    ("/p/etl.py", "extract"),
                    ("/p/etl.py.bak/x.py", "other"),
                    ("/p/publish.py", "publish"),
                ],
            ),
            // Files nobody reads: an editor's backup, data, the folder's neighbours.
            ("/p/etl.py~", &[]),
            ("/p/data/orders.csv", &[]),
            ("/s/0", &[]),
        ];
        for (path, want) in cases {
            let want: Vec<(String, &str)> = want.iter().map(|(p, u)| (p.to_string(), *u)).collect();
            assert_eq!(dependents(&ix, path), want, "{path}");
        }
    }

    #[test]
    fn set_replaces_and_remove_forgets() {
        let mut ix = index(&[
            ("clean", &[("/p/etl.py", S), ("/s/k1", R)]),
            ("load", &[("/p/etl.py", S)]),
        ]);
        // The live key changed: the unit now reads another result file.
        ix.set(&"clean", vec![("/p/etl.py".into(), S), ("/s/k2".into(), R)]);
        assert!(dependents(&ix, "/s/k1").is_empty());
        assert_eq!(dependents(&ix, "/s/k2"), [("/s/k2".to_string(), "clean")]);
        assert_eq!(ix.len(), (2, 2));
        ix.remove(&"load");
        assert_eq!(
            dependents(&ix, "/p/etl.py"),
            [("/p/etl.py".to_string(), "clean")]
        );
        ix.remove(&"clean");
        assert_eq!(ix.len(), (0, 0));
        assert!(ix.reads(&"clean").is_empty());
    }
}
