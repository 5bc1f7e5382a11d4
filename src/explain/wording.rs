//! The sentences of an explanation: each culprit's one-line summary, and the headline that a
//! user reads first ("`clean` missed because you edited a comment in `clean` (etl.py:14)").

use crate::live::Verdict;

use super::cosmetic::Classification;
use super::model::{ArgumentEvidence, Culprit, Evidence, NonKeyCause};
use super::served::ServedFrom;
use super::source_diff::SourceEvidence;
use super::stale::StaleHit;
use super::tree_text::str_list;
use super::value_diff::{ChangeKind, ValueChange, short_text};

/// "input"/"inputs" or "flow parameter"/"flow parameters".
fn noun(policy: &str, n: usize) -> String {
    let one = if policy == "FlowParameters" {
        "flow parameter"
    } else {
        "input"
    };
    if n == 1 {
        one.to_string()
    } else {
        format!("{one}s")
    }
}

fn by_argument(changes: &[ValueChange]) -> Vec<(&str, Vec<&ValueChange>)> {
    let mut out: Vec<(&str, Vec<&ValueChange>)> = Vec::new();
    for c in changes {
        match out.iter_mut().find(|(a, _)| *a == c.argument) {
            Some((_, list)) => list.push(c),
            None => out.push((&c.argument, vec![c])),
        }
    }
    out
}

fn one_change(c: &ValueChange) -> String {
    let value = |v: &Option<crate::pyjson::Value>| v.as_ref().map_or("-".into(), short_text);
    let at = if c.path == c.argument {
        String::new()
    } else {
        format!(" at {}", c.path)
    };
    match (c.change, &c.note) {
        (_, Some(note)) => format!("changed{at}: {note}"),
        (ChangeKind::Changed, None) => {
            format!("changed{at}: {} -> {}", value(&c.old), value(&c.new))
        }
        (ChangeKind::Added, None) if at.is_empty() => format!("added: {}", value(&c.new)),
        (ChangeKind::Added, None) => format!("changed{at}: added {}", value(&c.new)),
        (ChangeKind::Removed, None) if at.is_empty() => format!("removed (was {})", value(&c.old)),
        (ChangeKind::Removed, None) => format!("changed{at}: removed {}", value(&c.old)),
    }
}

/// One line for Inputs or FlowParameters evidence.
fn arguments_summary(policy: &str, e: &ArgumentEvidence) -> String {
    let groups = by_argument(&e.changes);
    let mut text = match groups.as_slice() {
        [] if !e.opaque.is_empty() => format!(
            "{} {} {} opaque (recorded only as a repr; Prefect hashed {} with cloudpickle): \
             another key, though the repr shows no change",
            noun(policy, e.opaque.len()),
            ticked(&e.opaque),
            if e.opaque.len() == 1 { "is" } else { "are" },
            if e.opaque.len() == 1 { "it" } else { "them" }
        ),
        [] => String::new(),
        [(arg, changes)] if changes.len() == 1 => {
            format!("{} `{arg}` {}", noun(policy, 1), one_change(changes[0]))
        }
        [(arg, changes)] => {
            let paths: Vec<&str> = changes.iter().take(3).map(|c| c.path.as_str()).collect();
            let more = changes.len() + e.more_changes;
            format!(
                "{} `{arg}` changed at {} path{} ({}{})",
                noun(policy, 1),
                more,
                if more == 1 { "" } else { "s" },
                paths.join(", "),
                if more > 3 { ", ..." } else { "" }
            )
        }
        many => {
            let parts: Vec<String> = many
                .iter()
                .map(|(arg, changes)| {
                    if changes.len() == 1 && changes[0].path == *arg {
                        format!("`{arg}`")
                    } else {
                        format!("`{arg}` ({} paths)", changes.len())
                    }
                })
                .collect();
            format!("{} changed: {}", noun(policy, many.len()), parts.join(", "))
        }
    };
    if e.exclude_a != e.exclude_b {
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(&format!(
            "exclude {} -> {}",
            str_list(&e.exclude_a),
            str_list(&e.exclude_b)
        ));
    }
    if text.is_empty() {
        text = format!("{} hashed to another key", noun(policy, 2));
    }
    text
}

fn ticked(names: &[String]) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    join_and(&names)
}

/// "a", "a and b", "a, b and c".
pub fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A culprit's one-line summary (the `summary` field).
pub fn culprit_summary(policy: &str, evidence: &Evidence) -> String {
    match evidence {
        Evidence::TaskSource(s) => s.summary(),
        Evidence::SourceUnknown { why } => format!("source cannot be compared: {why}"),
        Evidence::Arguments(e) => arguments_summary(policy, e),
        Evidence::RunId { a, b, scope } => match b {
            Some(b) => format!(
                "another {scope}: {} -> {}",
                short_id(a),
                short_id(&Some(b.clone()))
            ),
            None => format!("the next {scope} has a new id (A's was {})", short_id(a)),
        },
        Evidence::CacheKeyFn { function, a, b } => format!(
            "cache_key_fn {} returned another key: {} -> {}",
            function.as_deref().unwrap_or("(unknown)"),
            short_id(a),
            short_id(b)
        ),
        Evidence::Tree { changes, .. } => format!("policy changed: {}", changes.join("; ")),
        Evidence::Keys { a, b } => format!(
            "{policy} returned another key: {} -> {}",
            short_id(a),
            short_id(b)
        ),
    }
}

fn short_id(id: &Option<String>) -> String {
    short_key(id.as_deref(), 8)
}

/// A key or id for sentences: an md5 key or a UUID cut to its first `keep` characters (they
/// are unique enough to tell apart); anything else (a `cache_key_fn`'s own key) kept whole up
/// to 40 characters, since its end is often what differs.
pub fn short_key(key: Option<&str>, keep: usize) -> String {
    let Some(k) = key else {
        return "None".to_string();
    };
    let hexish = k.len() >= 32 && k.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    let n = k.chars().count();
    if hexish && n > keep {
        format!("{}…", k.chars().take(keep).collect::<String>())
    } else if n > 40 {
        format!("{}…", k.chars().take(39).collect::<String>())
    } else {
        k.to_string()
    }
}

fn source_reason(task: &str, s: &SourceEvidence) -> String {
    let at = s.location();
    if s.edit.classification == Classification::Cosmetic {
        let what: Vec<String> = s
            .edit
            .kinds
            .iter()
            .map(|k| {
                match *k {
                    "comment" => "a comment",
                    "blank" => "blank lines",
                    "docstring" => "the docstring",
                    "whitespace" => "whitespace",
                    other => other,
                }
                .to_string()
            })
            .collect();
        let what = if what.is_empty() {
            "the layout".to_string()
        } else {
            join_and(&what)
        };
        format!("you edited {what} in `{task}` ({at})")
    } else if s.edit.kinds.contains(&"decorator") {
        format!("you changed the decorator of `{task}` ({at})")
    } else {
        format!("you changed the code of `{task}` ({at})")
    }
}

fn arguments_reason(policy: &str, e: &ArgumentEvidence) -> String {
    let groups = by_argument(&e.changes);
    let own = if policy == "FlowParameters" {
        "the"
    } else {
        "its"
    };
    match groups.as_slice() {
        [] if !e.opaque.is_empty() => format!(
            "{own} {} {} {} hashed with cloudpickle, which gave another key",
            noun(policy, e.opaque.len()),
            ticked(&e.opaque),
            if e.opaque.len() == 1 { "was" } else { "were" }
        ),
        [] if e.exclude_a != e.exclude_b => format!(
            "the Inputs exclude list changed ({} -> {})",
            str_list(&e.exclude_a),
            str_list(&e.exclude_b)
        ),
        [] => format!("{own} {} hashed to another key", noun(policy, 2)),
        [(arg, changes)] if changes.len() == 1 => {
            let c = changes[0];
            match (&c.note, c.change) {
                (Some(note), _) if note.starts_with("same elements") => format!(
                    "the set `{arg}` came in another order (same elements; a set of strings \
                     iterates in an order that changes with PYTHONHASHSEED)"
                ),
                (Some(note), _) => format!("{own} {} `{arg}` changed ({note})", noun(policy, 1)),
                (None, ChangeKind::Changed) if c.path == c.argument => format!(
                    "{own} {} `{arg}` changed ({} -> {})",
                    noun(policy, 1),
                    c.old.as_ref().map_or("-".into(), short_text),
                    c.new.as_ref().map_or("-".into(), short_text)
                ),
                (None, ChangeKind::Added) if c.path == c.argument => {
                    format!("{own} {} `{arg}` was added", noun(policy, 1))
                }
                (None, ChangeKind::Removed) if c.path == c.argument => {
                    format!("{own} {} `{arg}` was removed", noun(policy, 1))
                }
                _ => format!("{own} {} `{arg}` changed at {}", noun(policy, 1), c.path),
            }
        }
        [(arg, _)] => format!("{own} {} `{arg}` changed", noun(policy, 1)),
        many => {
            let names: Vec<String> = many.iter().map(|(a, _)| format!("`{a}`")).collect();
            format!(
                "{own} {} {} changed",
                noun(policy, many.len()),
                join_and(&names)
            )
        }
    }
}

/// Why one culprit made a miss, as a clause for the headline.
pub fn reason(task: &str, c: &Culprit, live: bool) -> String {
    match &c.evidence {
        Evidence::TaskSource(s) => source_reason(task, s),
        Evidence::SourceUnknown { why } => {
            format!("the source of `{task}` cannot be compared ({why})")
        }
        Evidence::Arguments(e) => arguments_reason(&c.policy, e),
        Evidence::RunId { scope, .. } if live => {
            format!("the next {scope} has a new id (the policy includes RunId)")
        }
        Evidence::RunId { scope, .. } => {
            format!("it ran in another {scope} (its policy includes RunId)")
        }
        Evidence::CacheKeyFn { function, .. } => format!(
            "cache_key_fn `{}` returned another key",
            function.as_deref().unwrap_or("?")
        ),
        Evidence::Tree { changes, .. } => {
            format!("its cache policy changed ({})", changes.join("; "))
        }
        Evidence::Keys { .. } => format!("{} returned another key", c.policy),
    }
}

/// The policy change a culprit stands for, if it is one: a tree whose shape changed, or an
/// Inputs whose exclude list changed (and nothing else).
fn policy_change(c: &Culprit) -> Option<String> {
    match &c.evidence {
        Evidence::Tree { changes, .. } => Some(changes.join("; ")),
        Evidence::Arguments(e) if e.changes.is_empty() && e.exclude_a != e.exclude_b => {
            Some(format!(
                "Inputs exclude {} -> {}",
                str_list(&e.exclude_a),
                str_list(&e.exclude_b)
            ))
        }
        _ => None,
    }
}

/// Why the culprits made a miss, one clause each. A policy edit shows up twice, as the
/// policy's change and as the decorator line's change in TaskSource: it is said once.
pub fn reasons(task: &str, culprits: &[Culprit], live: bool) -> Vec<String> {
    let decorator = culprits.iter().find_map(|c| match &c.evidence {
        Evidence::TaskSource(s)
            if s.edit.classification == Classification::Code
                && s.edit.kinds.contains(&"decorator") =>
        {
            Some(s.location())
        }
        _ => None,
    });
    let changes: Vec<String> = culprits.iter().filter_map(policy_change).collect();
    if let Some(at) = &decorator
        && !changes.is_empty()
    {
        let mut out = vec![format!(
            "you changed the cache policy in the decorator of `{task}` ({at}: {})",
            changes.join("; ")
        )];
        out.extend(
            culprits
                .iter()
                .filter(|c| c.policy != "TaskSource" && policy_change(c).is_none())
                .map(|c| reason(task, c, live)),
        );
        return out;
    }
    culprits.iter().map(|c| reason(task, c, live)).collect()
}

/// The first sentence of the explanation.
pub fn headline(
    task: &str,
    live: bool,
    verdict: Verdict,
    culprits: &[Culprit],
    causes: &[NonKeyCause],
    unknown_because: Option<&str>,
) -> String {
    let because = join_and(&reasons(task, culprits, live));
    let cause = causes
        .iter()
        .map(|c| c.summary.clone())
        .collect::<Vec<_>>()
        .join("; ");
    let no_key = causes
        .iter()
        .find(|c| matches!(c.kind, super::model::CauseKind::NoKey { .. }));
    if let (Some(c), Verdict::Miss) = (no_key, verdict) {
        return if live {
            format!("The next run of `{task}` would miss: {}.", c.summary)
        } else {
            format!("`{task}` missed: {}.", c.summary)
        };
    }
    match (verdict, live) {
        (Verdict::Unknown, false) => format!(
            "Cannot tell whether `{task}` was served from A's cache entry: {}.",
            unknown_because.unwrap_or("not enough was recorded")
        ),
        (Verdict::Unknown, true) => format!(
            "Cannot tell whether the next run of `{task}` would hit: {}.",
            unknown_because.unwrap_or("not enough is known")
        ),
        (Verdict::Hit, false) => format!("`{task}` hit: B was served from A's cache entry."),
        (Verdict::Hit, true) if culprits.is_empty() => format!(
            "The next run of `{task}` would hit: its key is unchanged and the result is in storage."
        ),
        (Verdict::Hit, true) => format!(
            "The next run of `{task}` would hit, though not A's entry: {because}, and a result \
             under the new key is already in storage."
        ),
        (Verdict::Miss, false) if !culprits.is_empty() => {
            format!("`{task}` missed because {because}.")
        }
        (Verdict::Miss, true) if !culprits.is_empty() => {
            format!("The next run of `{task}` would miss because {because}.")
        }
        (Verdict::Miss, false) if !cause.is_empty() => {
            format!("`{task}` missed though its key was A's: {cause}.")
        }
        (Verdict::Miss, true) if !cause.is_empty() => {
            format!("The next run of `{task}` would miss though its key is unchanged: {cause}.")
        }
        (Verdict::Miss, false) => format!(
            "`{task}` missed: its key changed, but no part of the policy explains how (see the suspects)."
        ),
        (Verdict::Miss, true) => format!(
            "The next run of `{task}` would miss: its key changed, but no part of the policy explains how (see the suspects)."
        ),
    }
}

/// The headline of a recorded run that was served from the cache: whose entry it read, when
/// that was not simply A's, and why that entry's key was B's.
pub fn hit_headline(
    task: &str,
    a_task: &str,
    served: Option<&ServedFrom>,
    keys_differ: bool,
) -> String {
    match served {
        Some(s) if s.is_a && s.same_task => {
            format!("`{task}` hit: B was served from A's cache entry.")
        }
        Some(s) if s.is_a => format!(
            "`{task}` hit: B was served from A's cache entry, which `{}` stored {}: {}.",
            s.task,
            s.place(false),
            s.why
        ),
        Some(s) if !s.same_task => format!(
            "`{task}` hit: it was served the result `{}` stored {}, not an entry of its own: {}.",
            s.task,
            s.place(true),
            s.why
        ),
        Some(s) if !keys_differ => format!(
            "`{task}` hit: B was served from the entry under A's key, last written by another run \
             of `{task}` {}.",
            s.place(true)
        ),
        Some(s) => format!(
            "`{task}` hit, but not on A's entry: it was served the result an earlier run of \
             `{task}` stored {}: {}.",
            s.place(true),
            s.why
        ),
        None if keys_differ => format!(
            "`{task}` hit, but not on A's entry: it was served a result stored under its own key \
             by a run that is not among the loaded records."
        ),
        None if task != a_task => format!(
            "`{task}` hit: B was served from the entry under A's key; A is a run of another \
             task, `{a_task}`."
        ),
        None => format!("`{task}` hit: B was served from A's cache entry."),
    }
}

/// What differs between runs of two different tasks, as a noun phrase for each culprit.
fn task_difference(c: &Culprit) -> String {
    match &c.evidence {
        Evidence::TaskSource(_) | Evidence::SourceUnknown { .. } => "different source".to_string(),
        Evidence::Arguments(e) => {
            let names: Vec<String> = by_argument(&e.changes)
                .iter()
                .map(|(a, _)| format!("`{a}`"))
                .collect();
            let what = if c.policy == "FlowParameters" {
                "flow parameters"
            } else {
                "inputs"
            };
            if names.is_empty() {
                format!("different {what}")
            } else {
                format!("different {what} ({})", join_and(&names))
            }
        }
        Evidence::RunId { scope, .. } => format!("different {scope}s"),
        Evidence::CacheKeyFn { function, .. } => format!(
            "different keys from cache_key_fn `{}`",
            function.as_deref().unwrap_or("?")
        ),
        Evidence::Tree { a, b, .. } => format!("different cache policies ({a} and {b})"),
        Evidence::Keys { .. } => format!("different keys from {}", c.policy),
    }
}

/// The headline when A and B are runs of two different tasks and B missed: that is the first
/// thing to know, not a "change" of the source or the policy.
pub fn different_tasks_headline(
    a_task: &str,
    b_task: &str,
    culprits: &[Culprit],
    causes: &[NonKeyCause],
    keys_differ: bool,
) -> String {
    let lead = format!("`{b_task}` missed `{a_task}`'s entry: A and B are runs of different tasks");
    if keys_differ {
        let mut what: Vec<String> = Vec::new();
        for d in culprits.iter().map(task_difference) {
            if !what.contains(&d) {
                what.push(d);
            }
        }
        if what.is_empty() {
            format!("{lead}, with different keys.")
        } else {
            format!("{lead}, with different keys: {}.", join_and(&what))
        }
    } else {
        let cause = causes
            .iter()
            .map(|c| c.summary.clone())
            .collect::<Vec<_>>()
            .join("; ");
        format!("{lead}, with the same key, but {cause}.")
    }
}

/// The headline of a hit on an entry computed from other inputs, which the key does not see.
pub fn stale_headline(task: &str, stale: &StaleHit) -> String {
    let arguments = stale.arguments();
    let what = match (arguments.as_slice(), stale.changes.as_slice()) {
        ([arg], [c]) if c.change == ChangeKind::Changed => {
            let at = if c.path == c.argument {
                String::new()
            } else {
                format!(" at {}", c.path)
            };
            format!(
                "its input `{arg}` changed{at} ({} -> {})",
                c.old.as_ref().map_or("-".into(), short_text),
                c.new.as_ref().map_or("-".into(), short_text)
            )
        }
        ([arg], _) => format!("its input `{arg}` changed"),
        (many, _) => format!("its inputs {} changed", ticked(many)),
    };
    let since = if stale.from_a {
        "since A computed it"
    } else {
        "since another run computed it"
    };
    format!(
        "`{task}` hit, but was served a result computed from other inputs: {what} {since}, and \
         {}.",
        stale.why
    )
}
