//! `explain --policy EXPR`: both sides recomputed under another policy, and whether B would
//! then have been served from A's entry (or the next run would share A's key).
//!
//! The what-if verdict is about keys and the record's own circumstances: equal keys give a hit
//! unless B ran with refresh_cache, A's result had expired, or A and B used other storage. The
//! storage as it is now is not consulted: nothing was ever stored under the what-if key.

use crate::live::Verdict;
use crate::policy::{PolicyKind, PolicyNode};

use super::model::{CauseKind, NonKeyCause, WhatIf};
use super::recorded_keys::{self, Carry};
use super::sides::{Side, tree_has};

/// A side's key under `tree`, or why it cannot be computed. A node cachescope cannot
/// recompute (a `cache_key_fn`, cloudpickled inputs) that the side's record also has keeps the
/// key the record holds for it, as the engine does for the record's own tree.
fn key_under(tree: &PolicyNode, side: &Side) -> Result<Option<String>, String> {
    recorded_keys::key_under(
        tree,
        side.record.policy.as_ref(),
        &side.material,
        Carry::All,
    )
}

/// The what-if for `expr` (already evaluated into `tree`); `blockers` are the causes that
/// would stop a hit whatever the key (computed for the recorded runs).
pub fn what_if(
    expr: &str,
    tree: &PolicyNode,
    a: &Side,
    b: &Side,
    blockers: &[NonKeyCause],
) -> WhatIf {
    let ka = key_under(tree, a);
    let kb = key_under(tree, b);
    let next_run = b.live && tree_has(tree, &|k| matches!(k, PolicyKind::RunId));
    let (key_a, key_b) = (
        ka.clone().ok().flatten(),
        if next_run {
            None
        } else {
            kb.clone().ok().flatten()
        },
    );
    let (verdict, reason) = match (&ka, &kb) {
        (Err(why), _) => (
            Verdict::Unknown,
            format!("A's key cannot be computed: {why}"),
        ),
        (_, Err(why)) => (
            Verdict::Unknown,
            format!("B's key cannot be computed: {why}"),
        ),
        _ if next_run => (
            Verdict::Miss,
            "the policy includes RUN_ID: the next run has a new id".to_string(),
        ),
        (Ok(None), _) | (_, Ok(None)) => (
            Verdict::Miss,
            "no key: nothing is looked up or stored".to_string(),
        ),
        (Ok(x), Ok(y)) if x != y => (Verdict::Miss, "the keys differ".to_string()),
        _ => match blockers
            .iter()
            .find(|c| !matches!(c.kind, CauseKind::NoRecord { .. } | CauseKind::NoKey { .. }))
        {
            Some(c) => (
                Verdict::Miss,
                format!("the keys are equal, but {}", c.summary),
            ),
            None => (Verdict::Hit, "the keys are equal".to_string()),
        },
    };
    WhatIf {
        policy: expr.to_string(),
        key_a,
        key_b,
        verdict,
        reason,
    }
}
