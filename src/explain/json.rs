//! An [`Explanation`] as the JSON of `docs/explain-json.md`, field by field. Building a
//! `serde_json::Value` is not printing: the command line writes it, and the watcher can put the
//! same culprits in its events.

use serde_json::{Map, Value as Json, json};

use crate::pyjson::{Key, Value};

use super::model::{CauseKind, Culprit, Evidence, Explanation, NonKeyCause, Proof};
use super::stale::StaleHit;
use super::value_diff::{ValueChange, key_path};

/// A recorded value as JSON. Integers too large for JSON numbers and the non-finite floats
/// Python writes bare are given as strings, since a JSON reader could not take them.
pub fn value_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(text) => text
            .parse::<i64>()
            .map(Json::from)
            .or_else(|_| text.parse::<u64>().map(Json::from))
            .unwrap_or_else(|_| Json::String(text.clone())),
        Value::Float(f) => serde_json::Number::from_f64(f.value)
            .map(Json::Number)
            .unwrap_or_else(|| Json::String(crate::pyjson::float_repr(f.value))),
        Value::Str(s) => Json::String(s.clone()),
        Value::Array(items) => Json::Array(items.iter().map(value_json).collect()),
        Value::Object(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let name = match k {
                    Key::Str(s) => s.clone(),
                    other => key_path("", other)
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string(),
                };
                map.insert(name, value_json(v));
            }
            Json::Object(map)
        }
    }
}

/// One changed input or flow parameter path.
fn change_json(c: &ValueChange) -> Json {
    let mut m = Map::new();
    m.insert("argument".into(), json!(c.argument));
    m.insert("path".into(), json!(c.path));
    m.insert("change".into(), json!(c.change.as_str()));
    if let Some(old) = &c.old {
        m.insert("old".into(), value_json(old));
    }
    if let Some(new) = &c.new {
        m.insert("new".into(), value_json(new));
    }
    if let Some(note) = &c.note {
        m.insert("note".into(), json!(note));
    }
    Json::Object(m)
}

/// B served a result computed from other inputs.
fn stale_json(s: &StaleHit) -> Json {
    let mut m = Map::new();
    m.insert("from".into(), json!(s.from));
    m.insert("from_a".into(), json!(s.from_a));
    m.insert("why".into(), json!(s.why));
    m.insert(
        "changes".into(),
        Json::Array(s.changes.iter().map(change_json).collect()),
    );
    if s.more_changes > 0 {
        m.insert("more_changes".into(), json!(s.more_changes));
    }
    Json::Object(m)
}

fn detail(e: &Evidence) -> Json {
    match e {
        Evidence::TaskSource(s) => json!({
            "file": s.file,
            "lines_a": [s.lines_a.0, s.lines_a.1],
            "lines_b": [s.lines_b.0, s.lines_b.1],
            "diff": s.diff,
            "classification": s.edit.classification.as_str(),
            "cosmetic_kinds": s.edit.kinds,
        }),
        Evidence::SourceUnknown { why } => json!({"error": why}),
        Evidence::Arguments(a) => {
            let changes: Vec<Json> = a.changes.iter().map(change_json).collect();
            let mut hashes = Map::new();
            for (name, ha, hb) in &a.argument_hashes {
                hashes.insert(name.clone(), json!({"a": ha, "b": hb}));
            }
            let mut m = Map::new();
            m.insert("changes".into(), Json::Array(changes));
            m.insert("argument_hashes".into(), Json::Object(hashes));
            m.insert(
                "exclude".into(),
                json!({"a": a.exclude_a, "b": a.exclude_b}),
            );
            if a.more_changes > 0 {
                m.insert("more_changes".into(), json!(a.more_changes));
            }
            if !a.opaque.is_empty() {
                m.insert("opaque".into(), json!(a.opaque));
            }
            Json::Object(m)
        }
        Evidence::RunId { a, b, scope } => json!({"a": a, "b": b, "scope": scope}),
        Evidence::CacheKeyFn { function, a, b } => {
            json!({"function": function, "a": a, "b": b})
        }
        Evidence::Tree { a, b, changes } => json!({"a": a, "b": b, "changes": changes}),
        Evidence::Keys { a, b } => json!({"a": a, "b": b}),
    }
}

/// One culprit, as in the `culprits` array.
pub fn culprit_json(c: &Culprit) -> Json {
    let mut m = Map::new();
    m.insert("path".into(), json!(c.path));
    m.insert("policy".into(), json!(c.policy));
    m.insert("summary".into(), json!(c.summary));
    m.insert("proof".into(), json!(c.proof.as_str()));
    if c.proof == Proof::Pair {
        m.insert("with".into(), json!(c.with));
    }
    m.insert("detail".into(), detail(&c.evidence));
    Json::Object(m)
}

/// One non-key cause, as in the `non_key_causes` array.
pub fn cause_json(c: &NonKeyCause) -> Json {
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let detail = match &c.kind {
        CauseKind::RefreshCache => json!({}),
        CauseKind::Expired { at } => json!({"expired_at": at}),
        CauseKind::NoRecord { path: p, why } => json!({"path": path(p), "why": why}),
        CauseKind::OtherStorage { a, b } => json!({"a": path(a), "b": path(b)}),
        CauseKind::NoKey { side, why } => json!({"side": side, "why": why}),
        CauseKind::RolledBack {
            path: p,
            transaction,
        } => {
            let failed = transaction.failed.as_ref();
            json!({
                "path": path(p),
                "transaction": {"id": transaction.id, "key": transaction.key},
                "failed_task": failed.and_then(|f| f.task.clone()),
                "failed_task_run": failed.and_then(|f| f.task_run.clone()),
            })
        }
    };
    json!({"kind": c.kind.as_str(), "summary": c.summary, "detail": detail})
}

/// The whole explanation.
pub fn explanation_json(e: &Explanation) -> Json {
    json!({
        "a": e.a,
        "b": e.b.as_deref().unwrap_or("live"),
        "task": e.task,
        "pairing": e.pairing.as_str(),
        "verdict": e.verdict.as_str(),
        "key_a": e.key_a,
        "key_b": e.key_b,
        "headline": e.headline,
        "culprits": e.culprits.iter().map(culprit_json).collect::<Vec<_>>(),
        "unexplained": e.unexplained.as_ref().map(|u| json!({"summary": u.summary, "suspects": u.suspects})),
        "non_key_causes": e.non_key_causes.iter().map(cause_json).collect::<Vec<_>>(),
        "advice": e.advice.iter().map(|a| a.text.clone()).collect::<Vec<_>>(),
        "advice_detail": e.advice.iter().map(|a| json!({
            "kind": a.kind.as_str(), "text": a.text, "fix": a.fix, "check": a.check,
        })).collect::<Vec<_>>(),
        "what_if": e.what_if.as_ref().map(|w| json!({
            "policy": w.policy, "key_a": w.key_a, "key_b": w.key_b,
            "verdict": w.verdict.as_str(), "reason": w.reason,
        })),
        "notes": e.notes,
        "error": e.error,
        "served_from": e.served_from.as_ref().map(|s| json!({
            "record": s.record, "task": s.task, "flow_run": s.flow_run,
            "flow_run_name": s.flow_run_name, "task_run": s.task_run, "a": s.is_a,
            "same_task": s.same_task, "why": s.why,
        })),
        "nondeterministic": e.nondeterministic.iter().map(|n| json!({
            "path": n.path, "policy": n.policy, "function": n.function, "keys": n.keys,
            "records": n.records, "runs": n.runs, "new_key_every_run": n.new_key_every_run,
        })).collect::<Vec<_>>(),
        "stale_hit": e.stale_hit.as_ref().map(stale_json),
    })
}
