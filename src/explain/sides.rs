//! The two sides of a comparison, brought to one shape: A is always a recorded run; B is a
//! recorded run, or A's record recomputed against the source file as it is now ("live").
//!
//! Each side has its material (what the policies hash), its policy tree, and the key every
//! node produced. For a recorded run those are the recorded keys: what Prefect really
//! computed, even for nodes cachescope cannot recompute. For live they are recomputed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::next_run::NextRun;
use crate::engine::{Evaluation, Material, NodeStatus, evaluate};
use crate::load::RecordSource;
use crate::policy::{PolicyKind, PolicyNode};
use crate::record::{RunRecord, normalize};

/// A loaded record and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct RunRef<'a> {
    pub source: &'a RecordSource,
    pub record: &'a RunRecord,
}

impl RunRef<'_> {
    /// `outcome.result_storage` resolved against the record's folder, `.` and `..` folded.
    pub fn storage(&self) -> Option<PathBuf> {
        self.record
            .result_storage_in(self.source.dir())
            .map(|p| normalize(&p))
    }
}

/// What A is compared with.
#[derive(Debug, Clone, Copy)]
pub enum Other<'a> {
    Run(RunRef<'a>),
    /// A's record recomputed with the source (and the decorator's policy) as they are now, and
    /// the storage lookup of that key.
    Live(&'a NextRun),
}

/// The run id the next run will have, for RunId in live mode: unknown, and certainly not A's.
pub const NEXT_RUN_ID: &str = "<the next flow run's id>";

/// True when any node of the tree satisfies `pred`.
pub fn tree_has(policy: &PolicyNode, pred: &dyn Fn(&PolicyKind) -> bool) -> bool {
    pred(&policy.kind) || policy.children().iter().any(|c| tree_has(c, pred))
}

/// One side, ready to compare.
pub struct Side<'a> {
    pub record: &'a RunRecord,
    pub dir: &'a Path,
    pub policy: Option<&'a PolicyNode>,
    pub material: Material<'a>,
    /// The tree recomputed from the material.
    pub evaluation: Evaluation,
    /// The key of every node by path: recorded for a recorded run, recomputed for live.
    pub keys: HashMap<String, Option<String>>,
    /// The cache key: the recorded one, or the live one.
    pub key: Option<String>,
    /// The file line where the source text starts.
    pub source_first: usize,
    pub live: bool,
    /// Live with RunId in the policy: the key depends on the next run's id.
    pub next_run: bool,
}

impl<'a> Side<'a> {
    /// A recorded run.
    pub fn recorded(run: RunRef<'a>) -> Side<'a> {
        let record = run.record;
        let material = Material::of_record(record);
        let evaluation = match &record.policy {
            Some(policy) => evaluate(policy, &material),
            None => Evaluation { nodes: Vec::new() },
        };
        let keys = evaluation
            .nodes
            .iter()
            .map(|n| (n.path.clone(), n.recorded.clone()))
            .collect();
        Side {
            record,
            dir: run.source.dir(),
            policy: record.policy.as_ref(),
            material,
            evaluation,
            keys,
            key: record.key.clone(),
            source_first: record.task.line.map_or(1, |l| l as usize),
            live: false,
            next_run: false,
        }
    }

    /// A's record as the next run would see it.
    pub fn live(a: RunRef<'a>, next: &'a NextRun) -> Side<'a> {
        let record = a.record;
        let live = &next.evaluation;
        let policy = next.policy.as_ref().or(record.policy.as_ref());
        let uses = |pred: &dyn Fn(&PolicyKind) -> bool| policy.is_some_and(|p| tree_has(p, pred));
        let mut material = Material::of_record(record);
        let mut source_first = record.task.line.map_or(1, |l| l as usize);
        match &live.source {
            Ok(s) => {
                material.source = Some(s.function.source.as_str());
                source_first = s.function.first_line;
            }
            Err(_) if uses(&|k| matches!(k, PolicyKind::TaskSource)) => material.source = None,
            Err(_) => {}
        }
        // A result_storage_key that takes the run's id is renewed by every run, as RunId is.
        let template_takes_id = policy.is_none()
            && record.task.result_storage_key.as_ref().is_some_and(|t| {
                crate::storage_key::run_specific_fields(&t.template)
                    .is_ok_and(|fields| fields.iter().any(|f| f.ends_with(".id")))
            });
        let next_run = uses(&|k| matches!(k, PolicyKind::RunId)) || template_takes_id;
        if next_run {
            material.run_id = Some(NEXT_RUN_ID);
        }
        let evaluation = match policy {
            Some(policy) => evaluate(policy, &material),
            None => Evaluation { nodes: Vec::new() },
        };
        let keys = evaluation
            .nodes
            .iter()
            .map(|n| {
                let key = if n.status == NodeStatus::Error {
                    None
                } else {
                    n.key.clone()
                };
                (n.path.clone(), key)
            })
            .collect();
        // A node that cannot be recomputed now leaves the next key unknown, whatever the
        // engine's recombination with recorded keys says.
        let key = match policy {
            Some(_) if evaluation.status() == NodeStatus::Error => None,
            // The source holds the decorator, which sets the policy: unreadable, the next key
            // is unknown even when the recorded policy does not hash the source.
            Some(_) if live.source.is_err() => None,
            Some(_) => evaluation.key().map(str::to_string),
            None => record.key.clone(),
        };
        Side {
            record,
            dir: a.source.dir(),
            policy,
            material,
            evaluation,
            keys,
            key,
            source_first,
            live: true,
            next_run,
        }
    }

    /// The key of the node at `path`.
    pub fn key_at(&self, path: &str) -> Option<&str> {
        self.keys.get(path).and_then(|k| k.as_deref())
    }

    /// The key as reported: None for live with RunId, whose real key is not known yet (and
    /// None when it cannot be computed).
    pub fn reported_key(&self) -> Option<String> {
        if self.next_run {
            None
        } else {
            self.key.clone()
        }
    }

    /// The first node in error, with why (live: the source cannot be read now).
    pub fn error(&self) -> Option<(String, String)> {
        self.evaluation
            .nodes
            .iter()
            .find(|n| n.status == NodeStatus::Error)
            .map(|n| {
                (
                    n.path.clone(),
                    n.note
                        .clone()
                        .unwrap_or_else(|| "cannot be recomputed".into()),
                )
            })
    }

    /// `flow run` or `task run`: what RunId hashes the id of.
    pub fn run_scope(&self) -> &'static str {
        if self.record.flow.is_some() {
            "flow run"
        } else {
            "task run"
        }
    }
}
