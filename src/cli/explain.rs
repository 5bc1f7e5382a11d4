//! `cachescope explain`: why a run missed the cache entry of another, or why the next run
//! would. Loads the records, chooses A when only B is given, recomputes live when asked,
//! runs the explainer, and renders its answer as text (default) or as the JSON of
//! `docs/explain-json.md`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use cachescope::explain::json::explanation_json;
use cachescope::explain::next_run::next_run;
use cachescope::explain::pairing::{pair_earlier, runs_root};
use cachescope::explain::{Case, Evidence, Explanation, Other, Pairing, Proof, RunRef, explain};
use cachescope::live::{LiveOptions, SourceCache, Verdict};
use cachescope::load::{RecordSource, load_file, load_paths};
use cachescope::policy::{PolicyNode, parse_policy};
use cachescope::record::RunRecord;
use cachescope::sanitize::{sanitize_line, sanitize_text};
use jiff::Timestamp;

use super::Outcome;
use super::term::{self, Sanitized, one_line};

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
    /// Where to look for earlier runs of the task [default: the nearest folder named
    /// `runs` that holds RECORD, else RECORD's folder]
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
    Ok((slot.source, record))
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
        .filter_map(|l| l.record.ok().map(|r| (l.source, r)))
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
            // JSON is exact JSON (serde_json escapes the C0 controls itself); text goes
            // through the sanitiser, behind the escaping of each field in `render_text`.
            let written = if args.json {
                writeln!(out, "{}", explanation_json(&explanation))
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
    let root = args.runs.clone().unwrap_or_else(|| runs_root(&b_path));
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

/// `prefix` then `text` wrapped at 96 columns, the lines after the first indented by `indent`.
/// Both are one line of prose that may quote record text (a task name, an input, a path), so
/// they are escaped here, before the widths are measured.
fn para(prefix: &str, text: &str, indent: &str) -> String {
    let (prefix, text) = (sanitize_line(prefix), sanitize_line(text));
    let (prefix, text) = (prefix.as_ref(), text.as_ref());
    let mut out = String::new();
    let mut line = prefix.to_string();
    let mut first = true;
    for word in text.split(' ') {
        let fresh = if first {
            line.len() == prefix.len()
        } else {
            line.len() == indent.len()
        };
        if !fresh && line.chars().count() + 1 + word.chars().count() > 96 {
            out.push_str(&line);
            out.push('\n');
            line = indent.to_string();
            first = false;
        } else if !fresh {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out
}

/// A key as the text shows it; a key that is not md5 (a cache_key_fn's) is record text.
fn short(key: Option<&str>) -> String {
    one_line(cachescope::explain::wording::short_key(key, 12))
}

fn at(path: &str) -> String {
    if path.is_empty() {
        "root".to_string()
    } else {
        path.to_string()
    }
}

/// The explanation as text: the headline, the two sides, the proof, the evidence, the causes
/// that are not the key, advice, and the what-if.
pub fn render_text(e: &Explanation) -> String {
    let mut t = String::new();
    t.push_str(&para("", &e.headline, ""));
    t.push_str("\n\n");
    t.push_str(&format!(
        "  A  {}\n     key {}\n",
        sanitize_line(&e.a),
        short(e.key_a.as_deref())
    ));
    match &e.b {
        Some(b) => t.push_str(&format!(
            "  B  {}\n     key {}\n",
            sanitize_line(b),
            short(e.key_b.as_deref())
        )),
        None => t.push_str(&format!(
            "  B  the next run: A's record with the source as it is now\n     key {}\n",
            match &e.key_b {
                Some(k) => short(Some(k)),
                None if !e.nondeterministic.is_empty() => {
                    "not known before it runs (a node that is not deterministic)".to_string()
                }
                None if e.error.is_none() => "not known before it runs (a new run id)".to_string(),
                None => "cannot be computed".to_string(),
            }
        )),
    }
    let pairing = match e.pairing {
        Pairing::Explicit => None,
        Pairing::SameInputs => Some(format!(
            "A is the latest earlier run of `{}` with the same inputs.",
            sanitize_line(&e.task)
        )),
        Pairing::LatestEarlier => Some(format!(
            "A is the latest earlier run of `{}` (none had the same inputs).",
            sanitize_line(&e.task)
        )),
    };
    if let Some(p) = pairing {
        t.push_str(&format!("     {p}\n"));
    }
    t.push_str(&stale_text(e));
    if !e.culprits.is_empty() {
        t.push_str("\nProof\n");
        for c in &e.culprits {
            let how = match c.proof {
                Proof::Proven => format!(
                    "proven: A's key put back at node {} alone turns B's key into A's",
                    at(&c.path)
                ),
                Proof::Pair => format!(
                    "pair: A's keys put back at node {} together with node{} {} turn B's key \
                     into A's",
                    at(&c.path),
                    if c.with.len() == 1 { "" } else { "s" },
                    c.with.iter().map(|w| at(w)).collect::<Vec<_>>().join(", ")
                ),
                Proof::Unexplained => {
                    "unexplained: putting A's key back here does not give A's key".to_string()
                }
            };
            let prefix = format!("  {} {}: ", at(&c.path), c.policy);
            t.push_str(&para(&prefix, &how, "      "));
            t.push('\n');
        }
    }
    if let Some(u) = &e.unexplained {
        t.push_str(&format!("\n{}\n", para("Unexplained: ", &u.summary, "  ")));
        for s in &u.suspects {
            t.push_str(&format!("{}\n", para("  - ", s, "    ")));
        }
    }
    if !e.culprits.is_empty() {
        t.push_str("\nEvidence\n");
        for c in &e.culprits {
            let prefix = format!("  {} {}: ", at(&c.path), c.policy);
            t.push_str(&para(&prefix, &c.summary, "      "));
            t.push('\n');
            t.push_str(&evidence_text(&c.evidence, &c.summary));
        }
    }
    if !e.non_key_causes.is_empty() {
        t.push_str("\nNot the key\n");
        for c in &e.non_key_causes {
            t.push_str(&para(
                &format!("  - {}: ", c.kind.as_str()),
                &c.summary,
                "    ",
            ));
            t.push('\n');
        }
    }
    if !e.advice.is_empty() {
        t.push_str("\nAdvice\n");
        for a in &e.advice {
            t.push_str(&format!("{}\n", para("  - ", &a.text, "    ")));
            if let Some(fix) = &a.fix {
                t.push_str(&format!("    fix:   cache_policy={}\n", sanitize_line(fix)));
            }
            if let Some(check) = &a.check {
                t.push_str(&para("    check: ", check, "           "));
                t.push('\n');
            }
        }
    }
    if let Some(w) = &e.what_if {
        t.push_str(&format!(
            "\nWhat if cache_policy={}: key A {}, key B {}: {} ({})\n",
            sanitize_line(&w.policy),
            short(w.key_a.as_deref()),
            short(w.key_b.as_deref()),
            w.verdict.as_str(),
            sanitize_line(&w.reason)
        ));
    }
    if !e.notes.is_empty() {
        t.push_str("\nNotes\n");
        for n in &e.notes {
            t.push_str(&format!("{}\n", para("  - ", n, "    ")));
        }
    }
    t
}

/// A hit on a result computed from other inputs: whose, and the inputs that differ.
fn stale_text(e: &Explanation) -> String {
    let Some(s) = &e.stale_hit else {
        return String::new();
    };
    let mut t = String::from("\nServed a result computed from other inputs\n");
    let from = if s.from_a {
        "A computed the result B was served, from these inputs:".to_string()
    } else {
        format!(
            "{} computed the result B was served, from these inputs:",
            s.from
        )
    };
    t.push_str(&para("  ", &from, "  "));
    t.push('\n');
    let v = |v: &Option<cachescope::pyjson::Value>| {
        v.as_ref()
            .map_or("-".to_string(), cachescope::explain::value_diff::short_text)
    };
    for c in s.changes.iter().take(TEXT_CHANGES) {
        let what = match c.change.as_str() {
            "added" => format!("added {}", v(&c.new)),
            "removed" => format!("removed {}", v(&c.old)),
            _ => format!("{} -> {}", v(&c.old), v(&c.new)),
        };
        t.push_str(&para(&format!("      {}: ", c.path), &what, "        "));
        t.push('\n');
    }
    let more = s.changes.len().saturating_sub(TEXT_CHANGES) + s.more_changes;
    if more > 0 {
        t.push_str(&format!("      ... and {more} more\n"));
    }
    t.push_str(&para("  The key does not see them: ", &s.why, "  "));
    t.push('\n');
    t
}

/// At most this many changed paths are shown per culprit in text.
const TEXT_CHANGES: usize = 10;

fn evidence_text(ev: &Evidence, summary: &str) -> String {
    let mut t = String::new();
    match ev {
        Evidence::TaskSource(s) => {
            // The diff's lines are the source's: tabs kept, every other control escaped.
            for line in s.diff.lines() {
                t.push_str(&format!("      {}\n", sanitize_text(line)));
            }
        }
        Evidence::Arguments(a) => {
            for c in a.changes.iter().take(TEXT_CHANGES) {
                let v = |v: &Option<cachescope::pyjson::Value>| {
                    v.as_ref()
                        .map_or("-".to_string(), cachescope::explain::value_diff::short_text)
                };
                let what = match (&c.note, c.change.as_str()) {
                    // The summary above already says it when there is one change.
                    (Some(note), _) if !summary.contains(note.as_str()) => {
                        format!("{} -> {} ({note})", v(&c.old), v(&c.new))
                    }
                    (None, "added") => format!("added {}", v(&c.new)),
                    (None, "removed") => format!("removed {}", v(&c.old)),
                    _ => format!("{} -> {}", v(&c.old), v(&c.new)),
                };
                t.push_str(&para(&format!("      {}: ", c.path), &what, "        "));
                t.push('\n');
            }
            let more = a.changes.len().saturating_sub(TEXT_CHANGES) + a.more_changes;
            if more > 0 {
                t.push_str(&format!("      ... and {more} more\n"));
            }
            for (name, ha, hb) in &a.argument_hashes {
                if ha != hb {
                    t.push_str(&format!(
                        "      hash of {}: {} -> {}\n",
                        sanitize_line(name),
                        short(ha.as_deref()),
                        short(hb.as_deref())
                    ));
                }
            }
            if a.exclude_a != a.exclude_b {
                let exclude = format!("{:?} -> {:?}", a.exclude_a, a.exclude_b);
                t.push_str(&format!("      exclude: {}\n", sanitize_line(&exclude)));
            }
        }
        Evidence::RunId { a, b, scope } => t.push_str(&format!(
            "      {scope} id: {} -> {}\n",
            sanitize_line(a.as_deref().unwrap_or("None")),
            sanitize_line(b.as_deref().unwrap_or("None"))
        )),
        Evidence::CacheKeyFn { function, a, b } => t.push_str(&format!(
            "      {}: {} -> {}\n",
            sanitize_line(function.as_deref().unwrap_or("cache_key_fn")),
            short(a.as_deref()),
            short(b.as_deref())
        )),
        Evidence::Tree { a, b, changes } => {
            t.push_str(&format!(
                "      A: {}\n      B: {}\n",
                sanitize_line(a),
                sanitize_line(b)
            ));
            for c in changes {
                t.push_str(&format!("      - {}\n", sanitize_line(c)));
            }
        }
        Evidence::Keys { a, b } => t.push_str(&format!(
            "      {} -> {}\n",
            short(a.as_deref()),
            short(b.as_deref())
        )),
        Evidence::SourceUnknown { why } => {
            t.push_str(&format!("      {}\n", sanitize_line(why)));
        }
    }
    t
}
