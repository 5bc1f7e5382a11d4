//! What an explanation is made of: the verdict, the culprits with their proof and evidence,
//! the causes that have nothing to do with the key, and advice. Plain values: the command line
//! renders them as text or as the JSON of `docs/explain-json.md`.

use std::path::PathBuf;

use crate::live::Verdict;
use crate::nondeterministic::NonDeterministic;

use super::served::ServedFrom;
use super::source_diff::SourceEvidence;
use super::value_diff::ValueChange;

/// How A was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pairing {
    /// The user named A (two records, or one record with `--live`).
    Explicit,
    /// The latest earlier run of the same task with the same inputs.
    SameInputs,
    /// No earlier run had the same inputs: the same call of the task as B (the same map
    /// element, or the same position among the task's calls) in the latest earlier flow run.
    /// B's indexes.
    SameCall {
        map_index: Option<u64>,
        call_index: Option<u64>,
    },
    /// No earlier run had the same inputs, and no run of the latest earlier flow run is known
    /// to be the same call: its run of the task whose inputs differ least from B's.
    ClosestInputs,
    /// No earlier run had the same inputs, and there was nothing to choose from: the latest
    /// earlier flow run has one run of the task, or the runs are outside flows. The latest
    /// earlier run.
    LatestEarlier,
}

impl Pairing {
    pub fn as_str(self) -> &'static str {
        match self {
            Pairing::Explicit => "explicit",
            Pairing::SameInputs => "same-inputs",
            Pairing::SameCall { .. } => "same-call",
            Pairing::ClosestInputs => "closest-inputs",
            Pairing::LatestEarlier => "latest-earlier",
        }
    }
}

/// How sure the explainer is that a culprit made the difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// A's key put back at this node alone turns B's key into A's.
    Proven,
    /// Only together with the culprits listed in `with`.
    Pair,
    /// No substitution gives A's key.
    Unexplained,
}

impl Proof {
    pub fn as_str(self) -> &'static str {
        match self {
            Proof::Proven => "proven",
            Proof::Pair => "pair",
            Proof::Unexplained => "unexplained",
        }
    }
}

/// A node whose key differs between A and B because its own material changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Culprit {
    /// The node's path in B's tree ("" the root, "0", "1/0").
    pub path: String,
    /// Prefect's class name.
    pub policy: String,
    pub summary: String,
    pub proof: Proof,
    /// For [`Proof::Pair`]: the paths of the other culprits it takes.
    pub with: Vec<String>,
    pub evidence: Evidence,
}

/// Per policy, what changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    TaskSource(SourceEvidence),
    /// The task's source changed but one side's text is not known (live source unreadable).
    SourceUnknown {
        why: String,
    },
    /// Inputs and FlowParameters.
    Arguments(ArgumentEvidence),
    RunId {
        a: Option<String>,
        /// For the next run (live), a stand-in: its id is not known before it runs.
        b: Option<String>,
        scope: &'static str,
    },
    CacheKeyFn {
        function: Option<String>,
        a: Option<String>,
        b: Option<String>,
    },
    /// The policy tree's shape changed at this node (root or compound).
    Tree {
        a: String,
        b: String,
        changes: Vec<String>,
    },
    /// A class cachescope does not know: only the keys.
    Keys {
        a: Option<String>,
        b: Option<String>,
    },
}

/// Inputs or flow parameters that changed.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgumentEvidence {
    pub changes: Vec<ValueChange>,
    /// Changes left out after the first ones.
    pub more_changes: usize,
    /// Every argument that counts for the key: (name, A's hash, B's hash), each the md5 of
    /// `hash_objects(value)`; None where the argument is absent or JSON cannot encode it.
    pub argument_hashes: Vec<(String, Option<String>, Option<String>)>,
    pub exclude_a: Vec<String>,
    pub exclude_b: Vec<String>,
    /// Arguments recorded only as a repr: Prefect hashed them with cloudpickle.
    pub opaque: Vec<String>,
}

/// Why keys differ but no substitution says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unexplained {
    pub summary: String,
    pub suspects: Vec<String>,
}

/// Why B missed though its key was A's (or why the next run would).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonKeyCause {
    pub kind: CauseKind,
    pub summary: String,
}

/// The causes of a miss that have nothing to do with the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CauseKind {
    /// B ran with refresh_cache (or PREFECT_TASKS_REFRESH_CACHE).
    RefreshCache,
    /// A's result record expired before B looked (or is expired now, live).
    Expired { at: String },
    /// No usable record under the key.
    NoRecord { path: Option<PathBuf>, why: String },
    /// A and B look in different storage folders.
    OtherStorage {
        a: Option<PathBuf>,
        b: Option<PathBuf>,
    },
    /// No key: nothing is looked up. `side` is "a" or "b".
    NoKey { side: &'static str, why: String },
    /// A ran inside a transaction that rolled back, so its staged result was never written.
    RolledBack {
        /// Where A's result would have been.
        path: Option<PathBuf>,
        transaction: crate::record::TransactionInfo,
    },
}

impl CauseKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            CauseKind::RefreshCache => "refresh_cache",
            CauseKind::Expired { .. } => "expired",
            CauseKind::NoRecord { .. } => "no_record",
            CauseKind::OtherStorage { .. } => "other_storage",
            CauseKind::NoKey { .. } => "no_key",
            CauseKind::RolledBack { .. } => "rolled_back",
        }
    }
}

/// The known surprises advice is given for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdviceKind {
    DefaultRunId,
    SetOfStrings,
    UnhashableInput,
    MinusWithoutInputs,
    InputsOnlyCollision,
    CosmeticSourceEdit,
}

impl AdviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AdviceKind::DefaultRunId => "default_run_id",
            AdviceKind::SetOfStrings => "set_of_strings",
            AdviceKind::UnhashableInput => "unhashable_input",
            AdviceKind::MinusWithoutInputs => "minus_without_inputs",
            AdviceKind::InputsOnlyCollision => "inputs_only_collision",
            AdviceKind::CosmeticSourceEdit => "cosmetic_source_edit",
        }
    }
}

/// One piece of advice, with a fix checked by the policy engine where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    pub kind: AdviceKind,
    pub text: String,
    /// A policy expression to put in `cache_policy=`.
    pub fix: Option<String>,
    /// What the engine found when it applied the fix to the recorded runs.
    pub check: Option<String>,
}

/// `--policy EXPR`: both sides recomputed under another policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatIf {
    pub policy: String,
    pub key_a: Option<String>,
    pub key_b: Option<String>,
    pub verdict: Verdict,
    /// Why, in one line.
    pub reason: String,
}

/// The whole answer to "why did B miss A's cache entry?".
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// A's record, as given or found.
    pub a: String,
    /// B's record, or None for live.
    pub b: Option<String>,
    pub task: String,
    pub pairing: Pairing,
    pub verdict: Verdict,
    pub key_a: Option<String>,
    pub key_b: Option<String>,
    /// One sentence: why it missed, or that it hit.
    pub headline: String,
    pub culprits: Vec<Culprit>,
    pub unexplained: Option<Unexplained>,
    pub non_key_causes: Vec<NonKeyCause>,
    pub advice: Vec<Advice>,
    pub what_if: Option<WhatIf>,
    /// Why the comparison could not be made (live: the source file or function is gone), when
    /// that makes the verdict unknown.
    pub error: Option<String>,
    /// Other things worth knowing, one line each (an input that changed but is excluded, a
    /// record that does not recompute).
    pub notes: Vec<String>,
    /// For a recorded B that was served from the cache: the run whose entry it read, when a
    /// loaded record shows it.
    pub served_from: Option<ServedFrom>,
    /// Opaque nodes of B's policy (a `CachePolicy` subclass, a `cache_key_fn`) that recorded
    /// runs show giving different keys for the same material.
    pub nondeterministic: Vec<NonDeterministic>,
    /// B was served a result computed from other inputs, which its key does not see.
    pub stale_hit: Option<super::stale::StaleHit>,
}
