//! Policy trees as text: the expression a user would write for a tree (`INPUTS + TASK_SOURCE -
//! "debug"`), and the list of what changed between two trees.
//!
//! A tree of the shape Prefect 3.9 builds (flat leaves, one Inputs, last, excludes sorted) is
//! rendered as an expression that [`crate::policy::parse_policy`] turns back into the same
//! tree, so that advice can quote a fix the user can paste into `cache_policy=`. Any other
//! shape (an older Prefect's nesting, a compound of one) is described with the class names.

use crate::policy::{Configure, PolicyKind, PolicyNode, REPR_PREFIX};

use super::align::{Alignment, align, node_at};

/// The tree as an expression.
pub fn render(node: &PolicyNode) -> String {
    let bare = render_kind(node);
    if node.configure.is_empty() {
        bare
    } else if bare.contains(" + ") || bare.contains(" - ") {
        format!("({bare}).configure({})", configure_args(&node.configure))
    } else {
        // `.configure` binds tighter than `+` and `-`, so only those need parentheses.
        format!("{bare}.configure({})", configure_args(&node.configure))
    }
}

fn render_kind(node: &PolicyNode) -> String {
    match &node.kind {
        PolicyKind::Inputs { exclude } => {
            let mut s = "INPUTS".to_string();
            for name in exclude {
                s.push_str(&format!(" - {}", quote(name)));
            }
            s
        }
        PolicyKind::TaskSource => "TASK_SOURCE".to_string(),
        PolicyKind::FlowParameters => "FLOW_PARAMETERS".to_string(),
        PolicyKind::RunId => "RUN_ID".to_string(),
        PolicyKind::NoCache => "NO_CACHE".to_string(),
        PolicyKind::CacheKeyFn { function } => format!(
            "CacheKeyFnPolicy(cache_key_fn={})",
            function
                .as_deref()
                .map(|f| f.rsplit('.').next().unwrap_or(f))
                .unwrap_or("None")
        ),
        PolicyKind::Other { class } => class.clone(),
        PolicyKind::Compound { policies } => match flat_form(policies) {
            Some(text) => text,
            None => {
                let items: Vec<String> = policies.iter().map(render).collect();
                format!("CompoundCachePolicy(policies=[{}])", items.join(", "))
            }
        },
    }
}

/// `INPUTS + A + B - "x"` for the children of a compound Prefect 3.9 would build from it.
fn flat_form(policies: &[PolicyNode]) -> Option<String> {
    if policies.len() < 2 {
        return None;
    }
    let simple = |p: &PolicyNode| {
        p.configure.is_empty()
            && !matches!(
                p.kind,
                PolicyKind::Compound { .. } | PolicyKind::NoCache | PolicyKind::Other { .. }
            )
    };
    if !policies.iter().all(simple) {
        return None;
    }
    let inputs: Vec<usize> = policies
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p.kind, PolicyKind::Inputs { .. }))
        .map(|(i, _)| i)
        .collect();
    let mut parts = Vec::new();
    let mut excludes: &[String] = &[];
    match inputs.as_slice() {
        [] => {}
        // Prefect 3.9 merges every Inputs into one at the end, with sorted, unique excludes.
        [i] if *i == policies.len() - 1 => {
            if let PolicyKind::Inputs { exclude } = &policies[*i].kind {
                if !exclude.windows(2).all(|w| w[0] < w[1]) {
                    return None;
                }
                excludes = exclude;
            }
            parts.push("INPUTS".to_string());
        }
        _ => return None,
    }
    for p in policies {
        if !matches!(p.kind, PolicyKind::Inputs { .. }) {
            parts.push(render_kind(p));
        }
    }
    let mut text = parts.join(" + ");
    for name in excludes {
        text.push_str(&format!(" - {}", quote(name)));
    }
    Some(text)
}

fn configure_args(c: &Configure) -> String {
    let mut args = Vec::new();
    for (name, value) in [
        ("key_storage", &c.key_storage),
        ("isolation_level", &c.isolation_level),
        ("lock_manager", &c.lock_manager),
    ] {
        if let Some(v) = value {
            args.push(format!("{name}={}", field_text(v)));
        }
    }
    args.join(", ")
}

/// A configure() field as Python source: a `str` quoted, anything else as its stored repr,
/// except that a path is written `Path(...)`, the name `from pathlib import Path` gives (its
/// repr says `PosixPath`, which nothing imports).
fn field_text(field: &str) -> String {
    match field.strip_prefix(REPR_PREFIX) {
        Some(repr) => match repr.strip_prefix("PosixPath(") {
            Some(rest) => format!("Path({rest}"),
            None => repr.to_string(),
        },
        None => quote(field),
    }
}

/// A Python string literal for `s`.
pub fn quote(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Python list of strings, as `repr` prints it: `['a', 'b']`.
pub fn str_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", items.join(", "))
}

fn at(path: &str) -> String {
    if path.is_empty() {
        "the root".to_string()
    } else {
        path.to_string()
    }
}

/// What changed from A's tree to B's, one line each, in B's order: nodes added, removed and
/// moved, another class at a node, and changed exclude lists, key functions and `configure()`.
pub fn tree_changes(a: &PolicyNode, b: &PolicyNode) -> Vec<String> {
    let alignment = align(a, b);
    changes_with(a, b, &alignment)
}

/// [`tree_changes`] for an alignment already made.
pub fn changes_with(a: &PolicyNode, b: &PolicyNode, alignment: &Alignment) -> Vec<String> {
    let mut out = Vec::new();
    for (path, class) in &alignment.removed {
        out.push(format!("removed {class} at {}", at(path)));
    }
    for (path, class) in &alignment.added {
        out.push(format!("added {class} at {}", at(path)));
    }
    let mut pairs: Vec<(&String, &String)> = alignment.to_a.iter().collect();
    pairs.sort();
    for (b_path, a_path) in pairs {
        let (Some(an), Some(bn)) = (node_at(a, a_path), node_at(b, b_path)) else {
            continue;
        };
        if an.class_name() != bn.class_name() {
            out.push(format!(
                "{} -> {} at {}",
                an.class_name(),
                bn.class_name(),
                at(b_path)
            ));
            continue;
        }
        // A node whose siblings moved around it but that kept its own place is not said to
        // move ("moved RunId from 1 to 1"): of two nodes that swapped order, one changed place.
        if a_path != b_path && reordered(alignment, a_path, b_path) {
            out.push(format!(
                "moved {} from {} to {}",
                bn.class_name(),
                at(a_path),
                at(b_path)
            ));
        }
        match (&an.kind, &bn.kind) {
            (PolicyKind::Inputs { exclude: ea }, PolicyKind::Inputs { exclude: eb })
                if ea != eb =>
            {
                out.push(format!(
                    "Inputs exclude {} -> {}",
                    str_list(ea),
                    str_list(eb)
                ));
            }
            (PolicyKind::CacheKeyFn { function: fa }, PolicyKind::CacheKeyFn { function: fb })
                if fa != fb =>
            {
                out.push(format!(
                    "cache_key_fn {} -> {}",
                    fa.as_deref().unwrap_or("None"),
                    fb.as_deref().unwrap_or("None")
                ));
            }
            _ => {}
        }
        for (name, fa, fb) in [
            (
                "key_storage",
                &an.configure.key_storage,
                &bn.configure.key_storage,
            ),
            (
                "isolation_level",
                &an.configure.isolation_level,
                &bn.configure.isolation_level,
            ),
            (
                "lock_manager",
                &an.configure.lock_manager,
                &bn.configure.lock_manager,
            ),
        ] {
            if fa != fb {
                let show = |f: &Option<String>| f.as_deref().map_or("None".into(), field_text);
                out.push(format!(
                    "{} {name} {} -> {} at {}",
                    bn.class_name(),
                    show(fa),
                    show(fb),
                    at(b_path)
                ));
            }
        }
    }
    out
}

/// The index of a node among its siblings, and its parent's path.
fn split(path: &str) -> Option<(&str, usize)> {
    match path.rsplit_once('/') {
        Some((parent, i)) => Some((parent, i.parse().ok()?)),
        None if path.is_empty() => None,
        None => Some(("", path.parse().ok()?)),
    }
}

/// True when a node changed places among the siblings it kept: nodes only shifted by an added
/// or removed sibling did not move.
fn reordered(alignment: &Alignment, a_path: &str, b_path: &str) -> bool {
    let (Some((a_parent, a_i)), Some((b_parent, b_i))) = (split(a_path), split(b_path)) else {
        return false;
    };
    // Ranks among the siblings that are in both trees under the same parents.
    let kept: Vec<(usize, usize)> = alignment
        .to_a
        .iter()
        .filter_map(|(b, a)| {
            let (bp, bi) = split(b)?;
            let (ap, ai) = split(a)?;
            (bp == b_parent && ap == a_parent).then_some((ai, bi))
        })
        .collect();
    let a_rank = kept.iter().filter(|(ai, _)| *ai < a_i).count();
    let b_rank = kept.iter().filter(|(_, bi)| *bi < b_i).count();
    a_rank != b_rank
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_policy;

    /// The rendering is an expression that evaluates back to the very same tree.
    #[test]
    fn flat_trees_render_as_expressions_that_round_trip() {
        for expr in [
            "INPUTS",
            "INPUTS - 'b' - 'a'",
            "TASK_SOURCE",
            "INPUTS + TASK_SOURCE",
            "(INPUTS + TASK_SOURCE) - 'log_every'",
            "DEFAULT",
            "DEFAULT - 'z' - 'debug'",
            "FLOW_PARAMETERS + TASK_SOURCE",
            "RUN_ID + FLOW_PARAMETERS",
            "(INPUTS + TASK_SOURCE).configure(key_storage='/tmp/keys')",
            "INPUTS.configure(key_storage=Path('/k//x/'), isolation_level='SERIALIZABLE')",
            "(INPUTS - 'a').configure(lock_manager=my_locks)",
            "INPUTS + TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=my_key)",
        ] {
            let tree = parse_policy(expr).unwrap();
            let text = render(&tree);
            assert_eq!(parse_policy(&text), Ok(tree), "{expr} rendered as {text}");
        }
        assert_eq!(
            render(&parse_policy("DEFAULT").unwrap()),
            "INPUTS + TASK_SOURCE + RUN_ID"
        );
        assert_eq!(
            render(&parse_policy("(INPUTS + TASK_SOURCE) - 'log_every'").unwrap()),
            "INPUTS + TASK_SOURCE - \"log_every\""
        );
    }

    #[test]
    fn other_shapes_are_described_with_class_names() {
        let nested = parse_policy("CompoundCachePolicy(policies=[TASK_SOURCE])").unwrap();
        assert_eq!(
            render(&nested),
            "CompoundCachePolicy(policies=[TASK_SOURCE])"
        );
        let with_none = parse_policy("INPUTS + TASK_SOURCE + NONE").unwrap();
        assert!(render(&with_none).starts_with("CompoundCachePolicy(policies=["));
    }

    #[test]
    fn changes_name_added_nodes_and_exclude_lists() {
        let a = parse_policy("INPUTS + TASK_SOURCE - 'debug'").unwrap();
        let b = parse_policy("DEFAULT").unwrap();
        assert_eq!(
            tree_changes(&a, &b),
            ["added RunId at 1", "Inputs exclude ['debug'] -> []"]
        );
        // Another order is a move (a tree Prefect 3.9 does not build, but an older one might).
        let ts_run = parse_policy("TASK_SOURCE + RUN_ID").unwrap();
        let run_ts = parse_policy("RUN_ID + TASK_SOURCE").unwrap();
        assert_eq!(
            tree_changes(&ts_run, &run_ts),
            ["moved RunId from 1 to 0", "moved TaskSource from 0 to 1"]
        );
        // Siblings added around a node and another moved past it: only that one moved.
        assert_eq!(
            tree_changes(
                &parse_policy("FLOW_PARAMETERS + RUN_ID").unwrap(),
                &parse_policy("TASK_SOURCE + RUN_ID + FLOW_PARAMETERS + INPUTS").unwrap()
            ),
            [
                "added TaskSource at 0",
                "added Inputs at 3",
                "moved FlowParameters from 0 to 2"
            ]
        );
        let c = parse_policy("(INPUTS + TASK_SOURCE).configure(key_storage='/k')").unwrap();
        assert_eq!(
            tree_changes(&parse_policy("INPUTS + TASK_SOURCE").unwrap(), &c),
            ["CompoundCachePolicy key_storage None -> \"/k\" at the root"]
        );
        assert!(tree_changes(&a, &a).is_empty());
    }
}
