//! `cachescope explain`: why a run missed the cache entry of another, or why the next run
//! would. Loads the records, chooses A when only B is given, recomputes live when asked,
//! runs the explainer, and renders its answer as text (default) or as the JSON of
//! `docs/explain-json.md`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use cachescope::explain::json::explanation_json;
use cachescope::explain::next_run::next_run;
use cachescope::explain::pairing::pair_earlier;
use cachescope::explain::render;
use cachescope::explain::{Case, Explanation, Other, Pairing, RunRef, explain};
use cachescope::live::{LiveOptions, SourceCache, Verdict};
use cachescope::load::{RecordSource, load_file, load_paths};
use cachescope::policy::{PolicyNode, parse_policy};
use cachescope::record::RunRecord;
use cachescope::runs_tree::runs_root;
use cachescope::safe_json;
use jiff::Timestamp;

use super::Outcome;
use super::term::{self, Sanitized};

/// The arguments of `explain`.
#[derive(clap::Args)]
pub struct ExplainArgs {
    /// The run that missed (B); with RECORD_B or --live, the run whose entry was hoped for (A).
    /// FILE, or FILE:LINE for one line of a .jsonl file
    pub record: PathBuf,
    /// The run that missed, when RECORD is the run whose cache entry it hoped to hit
    pub record_b: Option<PathBuf>,
    /// Compare RECORD with the next run: its source as it is now, and result storage
    #[arg(long)]
    pub live: bool,
    /// Read task source files under DIR: replaces every record's project_root
    /// (with a single RECORD, implies --live)
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Where to look for earlier runs of the task [default: the runs tree that holds RECORD:
    /// CACHESCOPE_RUNS, else the highest folder above RECORD that holds only runs]
    #[arg(long, value_name = "DIR")]
    pub runs: Option<PathBuf>,
    /// Also recompute both sides under this cache policy expression (a what-if)
    #[arg(long, value_name = "EXPR")]
    pub policy: Option<String>,
    /// The explanation as one JSON object (docs/explain-json.md)
    #[arg(long)]
    pub json: bool,
    /// The time result expirations are compared with [default: now]
    #[arg(long, value_name = "TIME", hide = true)]
    pub now: Option<String>,
}

/// A record the user named, loaded: `FILE`, or `FILE:LINE` for a line of a `.jsonl` file.
pub fn load_named(spec: &Path) -> Result<(RecordSource, RunRecord), String> {
    let (path, line) = split_line(spec);
    if !path.exists() {
        return Err(format!("{}: no such file", path.display()));
    }
    let loaded = load_file(&path);
    let slot = match line {
        Some(n) => loaded
            .into_iter()
            .find(|l| l.source.line == Some(n))
            .ok_or_else(|| format!("{}: no record on line {n}", path.display()))?,
        None => {
            let mut loaded = loaded;
            if loaded.len() > 1 {
                return Err(format!(
                    "{} holds {} records: name one as {}:LINE",
                    path.display(),
                    loaded.len(),
                    path.display()
                ));
            }
            loaded
                .pop()
                .ok_or_else(|| format!("{}: no record in the file", path.display()))?
        }
    };
    let record = slot.record.map_err(|e| e.to_string())?;
    Ok((slot.source, *record))
}

/// `runs.jsonl:3` is line 3 of `runs.jsonl`, unless a file is named that.
fn split_line(spec: &Path) -> (PathBuf, Option<usize>) {
    if spec.exists() {
        return (spec.to_path_buf(), None);
    }
    let text = spec.to_string_lossy();
    if let Some((file, line)) = text.rsplit_once(':')
        && let Ok(n) = line.parse::<usize>()
    {
        return (PathBuf::from(file), Some(n));
    }
    (spec.to_path_buf(), None)
}

/// "Now" for storage lookups: `--now` (for reproducible output), else the clock.
pub fn now(arg: Option<&str>) -> Result<Timestamp, String> {
    match arg {
        Some(text) => cachescope::storage::parse_time(text).map_err(|e| format!("--now: {e}")),
        None => Ok(Timestamp::now()),
    }
}

/// The records under `root`, with A and B among them exactly once. Records that do not load
/// are left out: they are the subject of `keys`, not of this explanation.
fn load_runs(
    root: &Path,
    named: Vec<(RecordSource, RunRecord)>,
) -> (Vec<(RecordSource, RunRecord)>, Vec<usize>) {
    let (loaded, _) = load_paths(&[root.to_path_buf()]);
    let mut runs: Vec<(RecordSource, RunRecord)> = loaded
        .into_iter()
        .filter_map(|l| l.record.ok().map(|r| (l.source, *r)))
        .collect();
    let canonical = |s: &RecordSource| (fs::canonicalize(&s.path).ok(), s.line);
    let mut indexes = Vec::new();
    for (source, record) in named {
        let key = canonical(&source);
        match runs
            .iter()
            .position(|(s, _)| key.0.is_some() && canonical(s) == key)
        {
            // The user's spelling of the path is the one to show.
            Some(i) => {
                runs[i].0 = source;
                indexes.push(i);
            }
            None => {
                runs.push((source, record));
                indexes.push(runs.len() - 1);
            }
        }
    }
    (runs, indexes)
}

pub fn run(args: ExplainArgs) -> Outcome {
    match explain_command(&args) {
        Ok((explanation, error)) => {
            let mut out = io::stdout().lock();
            // JSON is exact JSON, with every control character escaped (`safe_json`); text
            // goes through the sanitiser, behind the escaping of each field in `render_text`.
            let written = if args.json {
                safe_json::to_writer(&mut out, &explanation_json(&explanation))
                    .map_err(io::Error::from)
                    .and_then(|()| writeln!(out))
            } else {
                Sanitized::new(&mut out).write_all(render_text(&explanation).as_bytes())
            };
            let _ = written.and_then(|()| out.flush());
            if error {
                if let Some(why) = &explanation.error {
                    term::error!("{why}");
                }
                return Outcome::Error;
            }
            match explanation.verdict {
                Verdict::Miss => Outcome::Difference,
                Verdict::Hit | Verdict::Unknown => Outcome::Ok,
            }
        }
        Err(message) => {
            term::error!("{message}");
            Outcome::Error
        }
    }
}

/// The explanation, and whether an error made it incomplete.
fn explain_command(args: &ExplainArgs) -> Result<(Explanation, bool), String> {
    if args.live && args.record_b.is_some() {
        return Err("explain: give RECORD_B or --live, not both".to_string());
    }
    let what_if: Option<PolicyNode> = match &args.policy {
        Some(expr) => Some(parse_policy(expr).map_err(|e| format!("--policy {expr:?}: {e}"))?),
        None => None,
    };
    let now = now(args.now.as_deref())?;
    let first = load_named(&args.record)?;
    let second = match &args.record_b {
        Some(b) => Some(load_named(b)?),
        None => None,
    };
    let b_path = second.as_ref().map_or(&first.0.path, |s| &s.0.path).clone();
    let root = args.runs.clone().unwrap_or_else(|| {
        let env_runs = std::env::var_os("CACHESCOPE_RUNS").map(PathBuf::from);
        let home = std::env::var_os("HOME").map(PathBuf::from);
        runs_root(&b_path, env_runs.as_deref(), home.as_deref())
    });
    if !root.is_dir() {
        return Err(format!("--runs {}: not a folder", root.display()));
    }
    let named: Vec<(RecordSource, RunRecord)> = std::iter::once(first).chain(second).collect();
    let two = named.len() == 2;
    let (runs, indexes) = load_runs(&root, named);
    let refs: Vec<RunRef> = runs
        .iter()
        .map(|(source, record)| RunRef { source, record })
        .collect();
    let what_if = args.policy.as_deref().zip(what_if.as_ref());
    // `--project` alone means "look at the files", as for `keys`.
    let live_mode = args.live || (args.project.is_some() && !two);
    let mut cache = SourceCache::new();
    let options = LiveOptions {
        project: args.project.clone(),
    };
    let live;
    let (a, b, pairing) = if two {
        (
            refs[indexes[0]],
            Other::Run(refs[indexes[1]]),
            Pairing::Explicit,
        )
    } else if live_mode {
        let a = refs[indexes[0]];
        live = next_run(a.record, a.source.dir(), &options, &mut cache, now);
        (a, Other::Live(&live), Pairing::Explicit)
    } else {
        let b = refs[indexes[0]];
        let (a, pairing) = pair_earlier(&b, &refs).ok_or_else(|| {
            format!(
                "{}: no earlier run of `{}` under {} to compare with (it ran with a cold \
                 cache?); name the run to compare with as RECORD_A RECORD_B, search another \
                 folder with --runs DIR, or use --live",
                b.source,
                b.record.task.name,
                root.display()
            )
        })?;
        (a, Other::Run(b), pairing)
    };
    let explanation = explain(&Case {
        a,
        b,
        pairing,
        runs: &refs,
        what_if,
    });
    let error = explanation.error.is_some();
    Ok((explanation, error))
}

// ---------------------------------------------------------------------------------------------
// Text.

/// The explanation as text: the core's styled lines (the same the terminal UI draws), plain.
pub fn render_text(e: &Explanation) -> String {
    render::to_text(&render::lines(e))
}
