//! `cachescope PATH...` before the terminal UI exists: a readable summary of each run, with its
//! policy tree and the key every node produced.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use cachescope::engine::{NodeEval, NodeStatus};
use cachescope::load::load_paths;
use cachescope::policy::{PolicyKind, PolicyNode};
use cachescope::record::RunRecord;
use cachescope::sanitize::sanitize_line;

use super::Outcome;
use super::keys::{KeysResult, evaluate_all, outcome};
use super::term::{self, Sanitized, line_of};

pub fn run(paths: &[PathBuf]) -> Outcome {
    let (loaded, search_errors) = load_paths(paths);
    let results = evaluate_all(&loaded, None);
    let mut out = Sanitized::new(BufWriter::new(io::stdout().lock()));
    let _ = write_summary(&mut out, &results).and_then(|()| out.flush());
    for e in &search_errors {
        term::error!("{e}");
    }
    outcome(&results, &search_errors)
}

fn write_summary(out: &mut impl Write, results: &[KeysResult]) -> io::Result<()> {
    for r in results {
        writeln!(out, "{}", line_of(&r.loaded.source))?;
        match &r.result {
            Ok(r) => {
                let (rec, eval) = (r.record, r.evaluation());
                write_header(out, rec)?;
                if let Some(policy) = &rec.policy {
                    write_tree(out, policy, &eval.evaluation.nodes, &mut 0, "", true, true)?;
                } else {
                    writeln!(
                        out,
                        "  no cache policy; key {}",
                        sanitize_line(rec.key.as_deref().unwrap_or("None"))
                    )?;
                }
                writeln!(
                    out,
                    "  verdict: {}{}",
                    eval.status.as_str(),
                    eval.note
                        .as_ref()
                        .map(|n| format!(" ({})", sanitize_line(n)))
                        .unwrap_or_default()
                )?;
            }
            Err(e) => writeln!(out, "  error: {}", line_of(e))?,
        }
        writeln!(out)?;
    }
    let count = |s: NodeStatus| results.iter().filter(|r| r.status() == s).count();
    writeln!(
        out,
        "{} records: {} match, {} unverifiable, {} changed, {} error",
        results.len(),
        count(NodeStatus::Match),
        count(NodeStatus::Unverifiable),
        count(NodeStatus::Changed),
        count(NodeStatus::Error)
    )
}

fn write_header(out: &mut impl Write, rec: &RunRecord) -> io::Result<()> {
    let location = match (&rec.task.file, rec.task.line) {
        (Some(file), Some(line)) => format!(" ({}:{line})", sanitize_line(file)),
        (Some(file), None) => format!(" ({})", sanitize_line(file)),
        _ => String::new(),
    };
    let flow = match &rec.flow {
        Some(f) => format!(
            "flow {} / {}",
            sanitize_line(f.name.as_deref().unwrap_or("?")),
            sanitize_line(f.run_name.as_deref().or(f.run_id.as_deref()).unwrap_or("?"))
        ),
        None => "outside a flow".to_string(),
    };
    let o = &rec.outcome;
    let mut state = sanitize_line(o.state.as_deref().unwrap_or("?")).into_owned();
    if o.cache_hit {
        state.push_str(" (cache hit)");
    }
    if o.refresh_cache {
        state.push_str(", refresh_cache");
    }
    if let Some(exp) = &o.cache_expiration {
        state.push_str(&format!(", expires {}", sanitize_line(exp)));
    }
    writeln!(
        out,
        "  task {}{location}, {flow}",
        sanitize_line(&rec.task.name)
    )?;
    writeln!(
        out,
        "  {state}; key {}",
        sanitize_line(rec.key.as_deref().unwrap_or("None"))
    )
}

/// The node's class and its configure() settings, on one line: all of it comes from the record.
fn label(node: &PolicyNode) -> String {
    let mut s = match &node.kind {
        PolicyKind::Inputs { exclude } if !exclude.is_empty() => {
            format!("Inputs(exclude={exclude:?})")
        }
        PolicyKind::CacheKeyFn { function: Some(f) } => format!("CacheKeyFnPolicy({f})"),
        _ => node.class_name().to_string(),
    };
    let c = &node.configure;
    for (name, value) in [
        ("key_storage", &c.key_storage),
        ("isolation_level", &c.isolation_level),
        ("lock_manager", &c.lock_manager),
    ] {
        if let Some(v) = value {
            s.push_str(&format!(" [{name}={v}]"));
        }
    }
    term::one_line(s)
}

/// Draws the tree in pre-order, consuming `nodes` (the evaluation, also pre-order) as it goes.
fn write_tree(
    out: &mut impl Write,
    node: &PolicyNode,
    nodes: &[NodeEval],
    next: &mut usize,
    prefix: &str,
    last: bool,
    root: bool,
) -> io::Result<()> {
    let eval = &nodes[*next];
    *next += 1;
    let branch = if root {
        ""
    } else if last {
        "└─ "
    } else {
        "├─ "
    };
    let key = sanitize_line(eval.key.as_deref().unwrap_or("None"));
    let tree = format!("{prefix}{branch}{}", label(node));
    let mut line = format!("  {tree:<44} {key:<36}  {}", eval.status.as_str());
    if eval.status == NodeStatus::Changed {
        line.push_str(&format!(
            " (recorded {})",
            sanitize_line(eval.recorded.as_deref().unwrap_or("None"))
        ));
    } else if let Some(note) = &eval.note {
        line.push_str(&format!(" ({})", sanitize_line(note)));
    }
    writeln!(out, "{}", line.trim_end())?;
    let child_prefix = if root {
        String::new()
    } else {
        format!("{prefix}{}", if last { "   " } else { "│  " })
    };
    let children = node.children();
    for (i, child) in children.iter().enumerate() {
        write_tree(
            out,
            child,
            nodes,
            next,
            &child_prefix,
            i + 1 == children.len(),
            false,
        )?;
    }
    Ok(())
}
