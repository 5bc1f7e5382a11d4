//! Why a run missed when the key was not the reason: refresh_cache, an expired result, no
//! result under the key, another storage folder, or no key at all.
//!
//! For two recorded runs everything comes from the records (B's refresh setting and outcome,
//! A's expiration against B's time, their storage folders): the storage as it is now says
//! nothing about what B found then. For live, the lookup of the key in storage is the evidence.

use crate::live::LiveEvaluation;
use crate::storage::{Lookup, MissReason, parse_time};

use super::model::{CauseKind, NonKeyCause};
use super::sides::{RunRef, Side};

fn cause(kind: CauseKind, summary: String) -> NonKeyCause {
    NonKeyCause { kind, summary }
}

/// Why a side has no key.
fn why_no_key(side: &Side) -> String {
    // The recorder says which compute_key raised: Prefect logged it and ran without a key.
    if let Some(n) = side.evaluation.nodes.iter().find(|n| {
        n.note
            .as_deref()
            .is_some_and(|w| w.starts_with("compute_key raised"))
    }) {
        let at = if n.path.is_empty() {
            "the root".to_string()
        } else {
            format!("node {}", n.path)
        };
        return format!(
            "computing the key failed ({} at {at}: {}), so Prefect ran the task without a key",
            n.policy,
            n.note.as_deref().unwrap_or_default()
        );
    }
    match side.policy {
        None => "the task has no cache policy".to_string(),
        Some(p) if matches!(p.kind, crate::policy::PolicyKind::NoCache) => {
            // persist_result=False is the usual way to get there without writing NO_CACHE.
            let decorator = side
                .material
                .source
                .and_then(|s| s.find("def ").map(|end| &s[..end]))
                .unwrap_or("");
            if decorator.replace(' ', "").contains("persist_result=False") {
                "persist_result=False makes Prefect use NO_CACHE: nothing is looked up or stored"
                    .to_string()
            } else {
                "the policy is NO_CACHE: nothing is looked up or stored".to_string()
            }
        }
        Some(_) if side.evaluation.key().is_none() => {
            "every part of the policy returned None (no inputs, no flow parameters, NO_CACHE)"
                .to_string()
        }
        Some(_) => "the policy gives a key, but Prefect used none: persist_result=False, \
                    PREFECT_TASKS_DISABLE_CACHING, or an exception while computing the key"
            .to_string(),
    }
}

/// A key that is None on either side: nothing to hit.
pub fn no_key(a: &Side, b: &Side) -> Vec<NonKeyCause> {
    let mut out = Vec::new();
    if b.key.is_none() {
        let why = why_no_key(b);
        let who = if b.live { "the next run" } else { "B" };
        out.push(cause(
            CauseKind::NoKey {
                side: "b",
                why: why.clone(),
            },
            format!("{who} has no cache key: {why}"),
        ));
    } else if a.key.is_none() {
        let why = why_no_key(a);
        out.push(cause(
            CauseKind::NoKey {
                side: "a",
                why: why.clone(),
            },
            format!("A had no cache key, so it stored nothing to hit: {why}"),
        ));
    }
    out
}

fn hit(run: &RunRef) -> bool {
    run.record.outcome.cache_hit || run.record.outcome.state.as_deref() == Some("Cached")
}

/// Was B (recorded) served from the cache?
pub fn b_hit(b: &RunRef) -> bool {
    hit(b)
}

/// Equal keys, and B was not served from the cache: why.
pub fn recorded(a: &RunRef, b: &RunRef) -> Vec<NonKeyCause> {
    let mut out = Vec::new();
    if b.record.outcome.refresh_cache {
        out.push(cause(
            CauseKind::RefreshCache,
            "B ran with refresh_cache=True: Prefect ignores cached results and runs the task"
                .to_string(),
        ));
    }
    let (sa, sb) = (a.storage(), b.storage());
    let ks = |r: &RunRef| {
        r.record
            .policy
            .as_ref()
            .and_then(|p| p.configure.key_storage.clone())
    };
    if sa != sb || ks(a) != ks(b) {
        let show = |p: &Option<std::path::PathBuf>| {
            p.as_ref()
                .map_or("an unknown place".to_string(), |p| p.display().to_string())
        };
        out.push(cause(
            CauseKind::OtherStorage {
                a: sa.clone(),
                b: sb.clone(),
            },
            format!(
                "A stored its result in {}, B looked in {}",
                show(&sa),
                show(&sb)
            ),
        ));
    }
    if let Some(at) = &a.record.outcome.cache_expiration {
        let expired_before_b = match (
            parse_time(at),
            b.record.recorded_at.as_deref().map(parse_time),
        ) {
            (Ok(exp), Some(Ok(b_at))) => exp <= b_at,
            _ => false,
        };
        if expired_before_b {
            out.push(cause(
                CauseKind::Expired { at: at.clone() },
                format!(
                    "A's result expired at {at}, before B ran at {}",
                    b.record.recorded_at.as_deref().unwrap_or("?")
                ),
            ));
        }
    }
    if out.is_empty()
        && let Some(rolled) = rolled_back(a)
    {
        out.push(rolled);
    }
    if out.is_empty() {
        let why = match a.record.outcome.state.as_deref() {
            Some(state) if state != "Completed" && state != "Cached" => {
                format!("A ended {state}, so it stored no result")
            }
            _ => "the result was deleted, or never written (result persistence off)".to_string(),
        };
        out.push(cause(
            CauseKind::NoRecord {
                path: sa
                    .as_ref()
                    .zip(a.record.key.as_ref())
                    .map(|(s, k)| s.join(k)),
                why: why.clone(),
            },
            format!("B found no result under the key: {why}"),
        ));
    }
    out
}

/// A's result was staged in a transaction that rolled back (the recorder saw the rollback):
/// it was never written, and the run that failed in the transaction says why.
fn rolled_back(a: &RunRef) -> Option<NonKeyCause> {
    // A run that failed stored nothing to roll back; that is said as such.
    if !matches!(a.record.outcome.state.as_deref(), None | Some("Completed")) {
        return None;
    }
    let transaction = a.record.transaction.as_ref().filter(|t| t.rolled_back())?;
    let named = |what: &str| match &transaction.key {
        Some(key) => format!("{what} (`{key}`)"),
        None => what.to_string(),
    };
    let summary = match transaction.failed.as_ref().and_then(|f| f.task.as_deref()) {
        Some(task) => format!(
            "A's result was rolled back because `{task}` failed in {}",
            named("the same transaction")
        ),
        None => format!(
            "A's result was rolled back with {}, though no task run is recorded as failing \
             in it (an exception in the flow's own code?)",
            named("the transaction it ran in")
        ),
    };
    Some(cause(
        CauseKind::RolledBack {
            path: a
                .storage()
                .zip(a.record.key.as_ref())
                .map(|(s, k)| s.join(k)),
            transaction: crate::record::TransactionInfo::clone(transaction),
        },
        summary,
    ))
}

/// The next run (live): refresh_cache, and what the storage lookup found.
pub fn live(a: &RunRef, live: &LiveEvaluation, keys_equal: bool) -> Vec<NonKeyCause> {
    let mut out = Vec::new();
    if a.record.outcome.refresh_cache {
        out.push(cause(
            CauseKind::RefreshCache,
            "A ran with refresh_cache=True; if the next run does too, it ignores cached results"
                .to_string(),
        ));
    }
    match &live.lookup {
        Some(Lookup::Miss {
            reason: MissReason::Expired { at },
            ..
        }) => out.push(cause(
            CauseKind::Expired { at: at.clone() },
            format!("the result under the key expired at {at}"),
        )),
        Some(Lookup::Miss {
            path,
            reason: MissReason::Unreadable { why },
        }) => out.push(cause(
            CauseKind::NoRecord {
                path: Some(path.clone()),
                why: format!("unreadable: {why}"),
            },
            format!("the result at {} cannot be read: {why}", path.display()),
        )),
        Some(Lookup::Miss {
            reason: MissReason::Absent,
            ..
        }) if keys_equal && let Some(rolled) = rolled_back(a) => out.push(rolled),
        Some(Lookup::Miss {
            path,
            reason: MissReason::Absent,
        }) if keys_equal => out.push(cause(
            CauseKind::NoRecord {
                path: Some(path.clone()),
                why: "absent".to_string(),
            },
            format!(
                "there is no result at {}: it was deleted, or never written",
                path.display()
            ),
        )),
        _ => {}
    }
    out
}
