//! `cachescope keys`: every record's key recomputed from its recorded material.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use cachescope::engine::{NodeStatus, RecordEvaluation, recompute};
use cachescope::load::{LoadError, Loaded, discover, load_file};
use cachescope::par::map_ordered;
use cachescope::record::RunRecord;
use serde::Serialize;

use super::Outcome;

/// One line of `keys --json`, as cli.md specifies.
#[derive(Serialize)]
struct KeysLine<'a> {
    record: String,
    task: Option<&'a str>,
    task_run: Option<&'a str>,
    recorded: Option<&'a str>,
    key: Option<&'a str>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Why the record is unverifiable or changed beyond its nodes (an extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    nodes: Vec<NodeLine<'a>>,
}

#[derive(Serialize)]
struct NodeLine<'a> {
    path: &'a str,
    policy: &'a str,
    recorded: Option<&'a str>,
    key: Option<&'a str>,
    status: &'static str,
    /// Why the node is unverifiable or in error (an extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

/// A record slot's result: its evaluation, or the reason it could not be loaded.
pub struct KeysResult<'a> {
    pub loaded: &'a Loaded,
    pub evaluation: Result<(&'a RunRecord, RecordEvaluation), &'a LoadError>,
}

impl KeysResult<'_> {
    pub fn status(&self) -> NodeStatus {
        self.evaluation
            .as_ref()
            .map_or(NodeStatus::Error, |(_, e)| e.status)
    }
}

pub fn evaluate_all(loaded: &[Loaded]) -> Vec<KeysResult<'_>> {
    loaded
        .iter()
        .map(|l| KeysResult {
            loaded: l,
            evaluation: l.record.as_ref().map(|r| (r, recompute(r))),
        })
        .collect()
}

fn json_line<'a>(result: &'a KeysResult<'a>) -> KeysLine<'a> {
    let record = result.loaded.source.to_string();
    let (rec, eval) = match &result.evaluation {
        Ok((rec, eval)) => (rec, eval),
        Err(e) => {
            return KeysLine {
                record,
                task: None,
                task_run: None,
                recorded: None,
                key: None,
                status: NodeStatus::Error.as_str(),
                error: Some(e.to_string()),
                note: None,
                nodes: Vec::new(),
            };
        }
    };
    KeysLine {
        record,
        task: Some(&rec.task.name),
        task_run: rec.task_run.id.as_deref(),
        recorded: rec.key.as_deref(),
        key: eval.key.as_deref(),
        status: eval.status.as_str(),
        error: (eval.status == NodeStatus::Error).then(|| first_problem(eval)),
        note: eval.note.as_deref(),
        nodes: eval
            .evaluation
            .nodes
            .iter()
            .map(|n| NodeLine {
                path: &n.path,
                policy: &n.policy,
                recorded: n.recorded.as_deref(),
                key: n.key.as_deref(),
                status: n.status.as_str(),
                note: n.note.as_deref(),
            })
            .collect(),
    }
}

/// The message of the first node in error, with its position in the tree.
fn first_problem(eval: &RecordEvaluation) -> String {
    eval.evaluation
        .nodes
        .iter()
        .find(|n| n.status == NodeStatus::Error)
        .map(|n| {
            let at = if n.path.is_empty() {
                "root".to_string()
            } else {
                format!("node {}", n.path)
            };
            format!(
                "{} ({at}): {}",
                n.policy,
                n.note.as_deref().unwrap_or("cannot be recomputed")
            )
        })
        .unwrap_or_else(|| "cannot be recomputed".to_string())
}

fn short(key: Option<&str>) -> String {
    match key {
        Some(k) if k.len() > 12 => format!("{}…", &k[..12]),
        Some(k) => k.to_string(),
        None => "None".to_string(),
    }
}

/// The exit status for a set of results plus search errors.
pub fn outcome(results: &[KeysResult], search_errors: &[LoadError]) -> Outcome {
    let worst = results
        .iter()
        .map(KeysResult::status)
        .max()
        .unwrap_or(NodeStatus::Match);
    if !search_errors.is_empty() || worst == NodeStatus::Error {
        Outcome::Error
    } else if worst == NodeStatus::Changed {
        Outcome::Difference
    } else {
        Outcome::Ok
    }
}

pub fn run(paths: &[PathBuf], json: bool) -> Outcome {
    let (files, search_errors) = discover(paths);
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut counts = [0usize; 4];
    let mut records = 0usize;
    let mut write_failed = false;
    // Each file is loaded, recomputed and rendered on a worker; lines come back in path order.
    map_ordered(
        &files,
        |file| {
            let loaded = load_file(file);
            let results = evaluate_all(&loaded);
            let mut text = Vec::new();
            let statuses: Vec<NodeStatus> = results.iter().map(KeysResult::status).collect();
            let rendered = if json {
                write_json(&mut text, &results)
            } else {
                write_text(&mut text, &results)
            };
            let errors: Vec<String> = results
                .iter()
                .filter_map(|r| r.evaluation.as_ref().err().map(|e| e.to_string()))
                .collect();
            (rendered.map(|()| text), statuses, errors)
        },
        |(text, statuses, errors)| {
            records += statuses.len();
            for s in statuses {
                counts[s as usize] += 1;
            }
            // A closed pipe (`| head`) is not worth a panic: stop writing, keep counting.
            if !write_failed {
                write_failed = text.and_then(|t| out.write_all(&t)).is_err();
            }
            if json {
                for e in errors {
                    eprintln!("cachescope: {e}");
                }
            }
        },
    );
    if !json && !write_failed {
        let _ = writeln!(
            out,
            "{records} records: {} match, {} unverifiable, {} changed, {} error",
            counts[NodeStatus::Match as usize],
            counts[NodeStatus::Unverifiable as usize],
            counts[NodeStatus::Changed as usize],
            counts[NodeStatus::Error as usize]
        );
    }
    let _ = out.flush();
    for e in &search_errors {
        eprintln!("cachescope: {e}");
    }
    if !search_errors.is_empty() || counts[NodeStatus::Error as usize] > 0 {
        Outcome::Error
    } else if counts[NodeStatus::Changed as usize] > 0 {
        Outcome::Difference
    } else {
        Outcome::Ok
    }
}

fn write_json(out: &mut impl Write, results: &[KeysResult]) -> io::Result<()> {
    for r in results {
        serde_json::to_writer(&mut *out, &json_line(r))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn write_text(out: &mut impl Write, results: &[KeysResult]) -> io::Result<()> {
    for r in results {
        let status = r.status();
        match &r.evaluation {
            Err(e) => writeln!(out, "{:<12}  {e}", status.as_str())?,
            Ok((rec, eval)) => {
                let task = rec.task.name.as_str();
                writeln!(
                    out,
                    "{:<12}  {:<20}  {:<13}  {}",
                    status.as_str(),
                    task,
                    short(eval.key.as_deref()),
                    r.loaded.source
                )?;
                for n in &eval.evaluation.nodes {
                    if n.status != NodeStatus::Match {
                        let at = if n.path.is_empty() {
                            "root".to_string()
                        } else {
                            n.path.clone()
                        };
                        let detail = match n.status {
                            NodeStatus::Changed => format!(
                                "recorded {} but recomputed {}",
                                short(n.recorded.as_deref()),
                                short(n.key.as_deref())
                            ),
                            _ => n.note.clone().unwrap_or_default(),
                        };
                        writeln!(
                            out,
                            "              {at} {}: {} ({detail})",
                            n.policy,
                            n.status.as_str()
                        )?;
                    }
                }
                if let Some(note) = &eval.note {
                    writeln!(out, "              {note}")?;
                }
            }
        }
    }
    Ok(())
}
