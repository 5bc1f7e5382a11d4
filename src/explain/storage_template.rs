//! Why two runs of a task keyed by `result_storage_key` have different keys, or why the next
//! run will: the template itself changed, some of its fields format to other text (each named
//! with both values), or it takes the run's own id, which every run renews. A task with a
//! template has no policy tree to take apart, so without this the difference is unexplained.

use crate::engine::storage_key_namespace;
use crate::storage_key::{field_texts, run_specific_fields};

use super::sides::Side;
use super::wording::{join_and, short_key};

/// A formatted field for a sentence: ids cut short, as keys are.
fn show(text: &str) -> String {
    format!("{:?}", short_key(Some(text), 8))
}

/// The clause that says why the keys differ ("its result_storage_key ... formats to another
/// key: ..."), when both sides are keyed by a template and it can tell.
pub fn key_change(a: &Side, b: &Side) -> Option<String> {
    if a.policy.is_some() || b.policy.is_some() {
        return None;
    }
    let ta = a.record.task.result_storage_key.as_ref()?;
    let tb = b.record.task.result_storage_key.as_ref()?;
    if b.live {
        if !b.next_run {
            return None;
        }
        let ids: Vec<String> = run_specific_fields(&ta.template)
            .ok()?
            .into_iter()
            .filter(|f| f.ends_with(".id"))
            .map(|f| format!("`{f}`"))
            .collect();
        return Some(format!(
            "its result_storage_key {:?} takes {}, and the next run has a new one",
            ta.template,
            join_and(&ids)
        ));
    }
    if a.key == b.key {
        return None;
    }
    if ta.template != tb.template {
        return Some(format!(
            "its result_storage_key changed ({:?} -> {:?})",
            ta.template, tb.template
        ));
    }
    let fa = field_texts(&ta.template, &storage_key_namespace(a.record, &a.material)).ok()?;
    let fb = field_texts(&tb.template, &storage_key_namespace(b.record, &b.material)).ok()?;
    let mut differ: Vec<String> = Vec::new();
    for ((name, x), (_, y)) in fa.iter().zip(&fb) {
        if let (Ok(x), Ok(y)) = (x, y)
            && x != y
        {
            let line = format!("`{{{name}}}` is {} in A and {} in B", show(x), show(y));
            if !differ.contains(&line) {
                differ.push(line);
            }
        }
    }
    if differ.is_empty() {
        return None;
    }
    Some(format!(
        "its result_storage_key {:?} formats to another key: {}",
        ta.template,
        join_and(&differ)
    ))
}
