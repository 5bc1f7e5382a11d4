//! `cachescope keys`: every record's key recomputed, from its recorded material or (`--live`)
//! with the task's source as it is now, with a hit/miss prediction.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use cachescope::engine::{
    CanonicalTexts, NodeStatus, RecordEvaluation, recompute, recompute_lean, with_values,
};
use cachescope::live::{
    LiveEvaluation, LiveOptions, SourceCache, SourceMemo, evaluate_with_source_lean,
};
use cachescope::load::{
    BLOCK, LoadError, Loaded, Unit, Walk, discover, units, units_of, visit_unit_kept,
    visit_unit_keys, visit_unit_lean,
};
use cachescope::nondeterministic::{NonDeterminism, correct_live, has_opaque_node, observe};
use cachescope::par::{Spread, default_workers, stream_ordered};
use cachescope::record::RunRecord;
use cachescope::safe_json;
use cachescope::sanitize::sanitize_line;
use jiff::Timestamp;
#[cfg(test)]
use serde::Serialize;

use super::Outcome;
use super::term::{self, Sanitized, line_of};

/// One line of `keys --json`, as cli.md specifies (plus documented extensions). It is written
/// by [`KeysLine::write`]; serde's derive, kept for the tests, is the reference it must match.
#[cfg_attr(test, derive(Serialize))]
struct KeysLine<'a> {
    record: String,
    task: Option<&'a str>,
    task_run: Option<&'a str>,
    recorded: Option<&'a str>,
    key: Option<&'a str>,
    status: &'static str,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    error: Option<String>,
    /// Why the record is unverifiable or changed beyond its nodes (an extension).
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    note: Option<&'a str>,
    /// `--live` only: hit, miss or unknown for the next run (an extension).
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    verdict: Option<&'static str>,
    /// `--live` only: why, in one line (an extension).
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    reason: Option<&'a str>,
    /// `--live` only: where the source was read (an extension).
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    source: Option<SourceLine>,
    nodes: Vec<NodeLine<'a>>,
}

#[cfg_attr(test, derive(Serialize))]
struct SourceLine {
    file: Option<String>,
    first_line: Option<usize>,
    last_line: Option<usize>,
    python: Option<String>,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    error: Option<String>,
}

#[cfg_attr(test, derive(Serialize))]
struct NodeLine<'a> {
    path: &'a str,
    policy: &'a str,
    recorded: Option<&'a str>,
    key: Option<&'a str>,
    status: &'static str,
    /// Why the node is unverifiable or in error (an extension).
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    note: Option<&'a str>,
}

/// How one record came out: recomputed from its recorded material, or (`--live`) from the
/// source as it is now, with the prediction.
pub enum Evaluated {
    Recorded(RecordEvaluation),
    Live(LiveEvaluation),
}

/// One record and its recomputation.
pub struct Recomputed<'a> {
    pub record: &'a RunRecord,
    pub evaluated: Evaluated,
}

impl Recomputed<'_> {
    /// The tree's recomputation, whichever way it was made.
    pub fn evaluation(&self) -> &RecordEvaluation {
        match &self.evaluated {
            Evaluated::Recorded(e) => e,
            Evaluated::Live(live) => &live.evaluation,
        }
    }

    /// The live prediction, with `--live`.
    pub fn live(&self) -> Option<&LiveEvaluation> {
        match &self.evaluated {
            Evaluated::Live(live) => Some(live),
            Evaluated::Recorded(_) => None,
        }
    }
}

/// A record slot's result: its recomputation, or the reason it could not be loaded.
pub struct KeysResult<'a> {
    pub loaded: &'a Loaded,
    pub result: Result<Recomputed<'a>, &'a LoadError>,
}

impl KeysResult<'_> {
    pub fn status(&self) -> NodeStatus {
        self.result
            .as_ref()
            .map_or(NodeStatus::Error, |r| r.evaluation().status)
    }
}

/// What `--live` needs: where to look for files, a shared cache of them, "now", and what the
/// loaded records show of opaque nodes that are not deterministic.
pub struct LiveMode {
    pub options: LiveOptions,
    /// The source files, and each task's source looked up in them once.
    pub cache: Mutex<(SourceCache, SourceMemo)>,
    pub now: Timestamp,
    pub nondeterminism: NonDeterminism,
}

/// A first pass over every file for `--live`: the evidence that an opaque node is not
/// deterministic is in the other records of its task, wherever they are. Only a few fields per
/// record are kept, so memory stays flat. Read lean: only a record with an opaque node is made
/// whole, to compare its material with its task's other runs.
fn nondeterminism(files: &[PathBuf]) -> NonDeterminism {
    let mut observations = Vec::new();
    stream_ordered(
        units(files, BLOCK),
        default_workers(),
        |unit| {
            let mut found = Vec::new();
            // The others are only skimmed for their policy: their inputs are never read.
            visit_unit_kept(unit, &has_opaque_node, |l, texts| {
                if let Ok(record) = &l.record {
                    let whole = with_values((**record).clone(), &texts);
                    found.extend(observe(&whole, &l.source.to_string()));
                }
            });
            found
        },
        |found| observations.extend(found),
    );
    NonDeterminism::from_observations(observations)
}

pub fn evaluate_all<'a>(loaded: &'a [Loaded], live: Option<&LiveMode>) -> Vec<KeysResult<'a>> {
    loaded
        .iter()
        .map(|l| KeysResult {
            loaded: l,
            result: l.record.as_ref().map(|record| match live {
                None => Recomputed {
                    record,
                    evaluated: Evaluated::Recorded(recompute(record)),
                },
                Some(mode) => Recomputed {
                    record,
                    evaluated: Evaluated::Live(live_one(
                        l,
                        record,
                        &CanonicalTexts::default(),
                        mode,
                    )),
                },
            }),
        })
        .collect()
}

/// One record's live prediction; `texts` stand in for the inputs and flow parameters of a
/// record loaded lean.
fn live_one(
    l: &Loaded,
    record: &RunRecord,
    texts: &CanonicalTexts,
    mode: &LiveMode,
) -> LiveEvaluation {
    // The shared cache is held only while the source is fetched; hashing and the storage
    // lookup run unlocked on each worker.
    let source = {
        let mut guard = mode.cache.lock().unwrap_or_else(|e| e.into_inner());
        let (cache, memo) = &mut *guard;
        memo.task_source(cache, record, l.source.dir(), &mode.options)
    };
    let mut live = evaluate_with_source_lean(record, texts, l.source.dir(), source, mode.now);
    correct_live(
        &mut live,
        &mode.nondeterminism.of(record, record.policy.as_ref()),
    );
    live
}

/// A record loaded by `visit_unit_lean`, with its recomputation if it loaded.
fn evaluated_one(l: &Loaded, evaluation: Option<RecordEvaluation>) -> KeysResult<'_> {
    KeysResult {
        loaded: l,
        result: l.record.as_ref().map(|record| Recomputed {
            record,
            evaluated: Evaluated::Recorded(
                evaluation.expect("a loaded record was recomputed as it was read"),
            ),
        }),
    }
}

fn json_line<'a>(result: &'a KeysResult<'a>) -> KeysLine<'a> {
    let record = result.loaded.source.label();
    let r = match &result.result {
        Ok(r) => r,
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
                verdict: None,
                reason: None,
                source: None,
                nodes: Vec::new(),
            };
        }
    };
    let eval = r.evaluation();
    let source = r.live().map(|live| match &live.source {
        Ok(s) => SourceLine {
            file: Some(s.path.display().to_string()),
            first_line: Some(s.function.first_line),
            last_line: Some(s.function.last_line),
            python: Some(s.python.to_string()),
            error: None,
        },
        Err(problem) => SourceLine {
            file: None,
            first_line: None,
            last_line: None,
            python: None,
            error: Some(problem.to_string()),
        },
    });
    KeysLine {
        record,
        task: Some(&r.record.task.name),
        task_run: r.record.task_run.id.as_deref(),
        recorded: r.record.key.as_deref(),
        key: eval.key.as_deref(),
        status: eval.status.as_str(),
        error: (eval.status == NodeStatus::Error).then(|| first_problem(eval)),
        note: eval.note.as_deref(),
        verdict: r.live().map(|l| l.verdict.as_str()),
        reason: r.live().map(|l| l.reason.as_str()),
        source,
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
        // No node in error: the record as a whole is (live, its source cannot be read).
        .or_else(|| eval.note.clone())
        .unwrap_or_else(|| "cannot be recomputed".to_string())
}

/// A key cut to 12 characters for a table column. A recorded key is record text like any other:
/// it need not be ASCII, so it is cut at a character, never at a byte, and it is escaped.
pub fn short(key: Option<&str>) -> String {
    match key {
        Some(k) => match k.char_indices().nth(12) {
            Some((cut, _)) => format!("{}…", sanitize_line(&k[..cut])),
            None => sanitize_line(k).into_owned(),
        },
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

pub fn run(paths: &[PathBuf], json: bool, live: Option<LiveOptions>) -> Outcome {
    // One folder without --live: its files are found as the work is handed out, so that
    // listing a big folder (about a tenth of the time on 100,000 `.json` files) runs beside
    // the loading, not before it. --live first needs every file, for its first pass.
    let mut walk = match paths {
        [folder] if live.is_none() && folder.is_dir() => Some(Walk::new(folder)),
        _ => None,
    };
    let (files, mut search_errors) = match walk {
        Some(_) => (Vec::new(), Vec::new()),
        None => discover(paths),
    };
    let live = live.map(|options| LiveMode {
        options,
        cache: Mutex::new((SourceCache::new(), SourceMemo::new())),
        now: Timestamp::now(),
        nondeterminism: nondeterminism(&files),
    });
    let stdout = BufWriter::new(io::stdout().lock());
    // JSON is exact JSON, with every control character escaped (`safe_json`); text goes
    // through the sanitiser, behind the escaping of each field in `write_text`.
    let mut out: Box<dyn Write> = if json {
        Box::new(stdout)
    } else {
        Box::new(Sanitized::new(stdout))
    };
    let units: Box<dyn Iterator<Item = Unit>> = match &mut walk {
        Some(walk) => Box::new(units_of(walk, BLOCK)),
        None => Box::new(units(&files, BLOCK)),
    };
    let (tally, _) = stream(units, json, live.as_ref(), default_workers(), &mut out);
    search_errors.extend(walk.map(|w| w.errors).unwrap_or_default());
    let Tally {
        counts,
        verdicts,
        records,
        write_failed,
    } = tally;
    if !json && !write_failed {
        let mut summary = format!(
            "{records} records: {} match, {} unverifiable, {} changed, {} error",
            counts[NodeStatus::Match as usize],
            counts[NodeStatus::Unverifiable as usize],
            counts[NodeStatus::Changed as usize],
            counts[NodeStatus::Error as usize]
        );
        if live.is_some() {
            summary.push_str(&format!(
                "; next run: {} hit, {} miss, {} unknown",
                verdicts[0], verdicts[1], verdicts[2]
            ));
        }
        let _ = writeln!(out, "{summary}");
    }
    let _ = out.flush();
    for e in &search_errors {
        term::error!("{e}");
    }
    if !search_errors.is_empty() || counts[NodeStatus::Error as usize] > 0 {
        Outcome::Error
    } else if counts[NodeStatus::Changed as usize] > 0 {
        Outcome::Difference
    } else {
        Outcome::Ok
    }
}

/// What the records came to, for the summary line and the exit status.
#[derive(Debug, Default)]
struct Tally {
    counts: [usize; 4],
    verdicts: [usize; 3],
    records: usize,
    write_failed: bool,
}

/// Loads, recomputes and renders the `units` of work ([`units`]: a big `.jsonl` file is split
/// into runs of lines) on `workers` threads, writing each unit's lines to `out` in path order
/// as soon as they are ready.
fn stream(
    units: impl Iterator<Item = Unit>,
    json: bool,
    live: Option<&LiveMode>,
    workers: usize,
    out: &mut dyn Write,
) -> (Tally, Spread) {
    let mut tally = Tally::default();
    let spread = stream_ordered(
        units,
        workers,
        |unit| {
            // Sized for the unit's lines at once: grown by doubling, the buffer was copied
            // seven times a unit. A JSON line is about a fifth of its record's text on the
            // mixed benchmark folder (a text line a twelfth), a `.json` file's a few hundred
            // bytes; a quarter still grew it once or twice a unit.
            let per_record = if json { 1024 } else { 512 };
            let mut text = Vec::with_capacity(match &unit {
                Unit::Lines { bytes, .. } => bytes.len() / if json { 4 } else { 8 } + 512,
                Unit::Files(paths) => paths.len() * per_record,
                Unit::Failed(_) => 512,
            });
            let mut statuses: Vec<NodeStatus> = Vec::new();
            let mut errors: Vec<String> = Vec::new();
            let mut tally = |results: &[KeysResult], text: &mut Vec<u8>| {
                statuses.extend(results.iter().map(KeysResult::status));
                errors.extend(
                    results
                        .iter()
                        .filter_map(|r| r.result.as_ref().err().map(|e| e.to_string())),
                );
                if json {
                    write_json(text, results)
                } else {
                    write_text(text, results)
                }
            };
            let Some(live) = live else {
                // Without --live only keys are wanted: canonical inputs and task sources stay
                // text and are hashed as they are. Each record is recomputed and written as it
                // is read, while its text is in the cache, and dropped there: nothing of it is
                // kept.
                let mut rendered = Ok(());
                visit_unit_keys(unit, |l, texts| {
                    let evaluation = l.record.as_ref().ok().map(|r| recompute_lean(r, &texts));
                    let result = evaluated_one(&l, evaluation);
                    rendered = std::mem::replace(&mut rendered, Ok(()))
                        .and(tally(std::slice::from_ref(&result), &mut text));
                });
                return (rendered.map(|()| text), statuses, Vec::new(), errors);
            };
            // --live reads lean too: its keys hash the recorded inputs, as they were read.
            let mut rendered = Ok(());
            let mut predicted: Vec<&'static str> = Vec::new();
            visit_unit_lean(unit, |l, texts| {
                let result = KeysResult {
                    loaded: &l,
                    result: l.record.as_ref().map(|record| Recomputed {
                        record,
                        evaluated: Evaluated::Live(live_one(&l, record, &texts, live)),
                    }),
                };
                predicted.extend(
                    result
                        .result
                        .as_ref()
                        .ok()
                        .and_then(Recomputed::live)
                        .map(|l| l.verdict.as_str()),
                );
                rendered = std::mem::replace(&mut rendered, Ok(()))
                    .and(tally(std::slice::from_ref(&result), &mut text));
            });
            (rendered.map(|()| text), statuses, predicted, errors)
        },
        |(text, statuses, predicted, errors)| {
            let t = &mut tally;
            t.records += statuses.len();
            for s in statuses {
                t.counts[s as usize] += 1;
            }
            for v in predicted {
                t.verdicts[["hit", "miss", "unknown"]
                    .iter()
                    .position(|x| *x == v)
                    .unwrap_or(2)] += 1;
            }
            // A closed pipe (`| head`) is not worth a panic: stop writing, keep counting.
            if !t.write_failed {
                t.write_failed = text.and_then(|t| out.write_all(&t)).is_err();
            }
            if json {
                for e in errors {
                    term::error!("{e}");
                }
            }
        },
    );
    (tally, spread)
}

fn write_json(out: &mut Vec<u8>, results: &[KeysResult]) -> io::Result<()> {
    for r in results {
        json_line(r).write(out);
        out.push(b'\n');
    }
    Ok(())
}

/// Printable ASCII with nothing JSON or a terminal would escape.
fn plain(word: &str) -> bool {
    word.bytes()
        .all(|b| (b' '..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// A JSON object written field by field, compact, as serde_json writes a struct (every string
/// through [`safe_json::write_str`]).
struct Object<'o> {
    out: &'o mut Vec<u8>,
    open: bool,
}

impl<'o> Object<'o> {
    fn new(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, open: false }
    }

    /// A field's name, this file's own plain ASCII: written as it is (checked for characters
    /// to escape, half the strings of a line were a tenth of `keys`' instructions).
    fn key(&mut self, key: &'static str) -> &mut Vec<u8> {
        debug_assert!(plain(key), "{key:?}");
        if self.open {
            self.out.push(b',');
        }
        self.open = true;
        self.out.reserve(key.len() + 3);
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A field whose value is one of this file's own words (a status): written as it is.
    fn word(&mut self, key: &'static str, value: &'static str) {
        debug_assert!(plain(value), "{value:?}");
        let out = self.key(key);
        out.reserve(value.len() + 2);
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    }

    fn str(&mut self, key: &'static str, value: &str) {
        let out = self.key(key);
        safe_json::write_str(out, value);
    }

    /// `null` for `None`, as serde writes an `Option` field.
    fn opt_str(&mut self, key: &'static str, value: Option<&str>) {
        match value {
            Some(value) => self.str(key, value),
            None => self.key(key).extend_from_slice(b"null"),
        }
    }

    /// Nothing for `None`: a field with `skip_serializing_if = "Option::is_none"`.
    fn some_str(&mut self, key: &'static str, value: Option<&str>) {
        if let Some(value) = value {
            self.str(key, value);
        }
    }

    fn opt_number(&mut self, key: &'static str, value: Option<usize>) {
        let out = self.key(key);
        match value {
            Some(n) => out.extend_from_slice(n.to_string().as_bytes()),
            None => out.extend_from_slice(b"null"),
        }
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

impl KeysLine<'_> {
    /// The line's JSON, byte for byte what serde_json writes for it with
    /// [`safe_json::TerminalSafe`] (a test holds the two together), with no intermediate value
    /// and no allocation but the output's growth.
    fn write(&self, out: &mut Vec<u8>) {
        let mut o = Object::new(out);
        o.str("record", &self.record);
        o.opt_str("task", self.task);
        o.opt_str("task_run", self.task_run);
        o.opt_str("recorded", self.recorded);
        o.opt_str("key", self.key);
        o.word("status", self.status);
        o.some_str("error", self.error.as_deref());
        o.some_str("note", self.note);
        o.some_str("verdict", self.verdict);
        o.some_str("reason", self.reason);
        if let Some(source) = &self.source {
            let mut s = Object::new(o.key("source"));
            s.opt_str("file", source.file.as_deref());
            s.opt_number("first_line", source.first_line);
            s.opt_number("last_line", source.last_line);
            s.opt_str("python", source.python.as_deref());
            s.some_str("error", source.error.as_deref());
            s.end();
        }
        let out = o.key("nodes");
        out.push(b'[');
        for (i, node) in self.nodes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let mut n = Object::new(out);
            n.str("path", node.path);
            n.str("policy", node.policy);
            n.opt_str("recorded", node.recorded);
            n.opt_str("key", node.key);
            n.word("status", node.status);
            n.some_str("note", node.note);
            n.end();
        }
        out.push(b']');
        o.end();
    }
}

fn write_text(out: &mut impl Write, results: &[KeysResult]) -> io::Result<()> {
    for r in results {
        let status = r.status();
        let rec = match &r.result {
            Err(e) => {
                writeln!(out, "{:<12}  {}", status.as_str(), line_of(e))?;
                continue;
            }
            Ok(rec) => rec,
        };
        let eval = rec.evaluation();
        let verdict = rec
            .live()
            .map(|l| format!("{:<8}", l.verdict.as_str()))
            .unwrap_or_default();
        writeln!(
            out,
            "{:<12}  {verdict}{:<20}  {:<13}  {}",
            status.as_str(),
            sanitize_line(&rec.record.task.name),
            short(eval.key.as_deref()),
            line_of(&r.loaded.source)
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
                    _ => sanitize_line(n.note.as_deref().unwrap_or_default()).into_owned(),
                };
                writeln!(
                    out,
                    "              {at} {}: {} ({detail})",
                    sanitize_line(&n.policy),
                    n.status.as_str()
                )?;
            }
        }
        if let Some(note) = &eval.note {
            writeln!(out, "              {}", sanitize_line(note))?;
        }
        if let Some(live) = rec.live() {
            writeln!(
                out,
                "              next run: {} ({})",
                live.verdict.as_str(),
                sanitize_line(&live.reason)
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{KeysLine, NodeLine, SourceLine, Tally, short, stream};
    use cachescope::safe_json;
    use std::path::PathBuf;

    /// The hand-written line writer and serde_json's derive write the same bytes, for lines
    /// with every field present or absent and strings that need every kind of escape.
    #[test]
    fn lines_are_written_as_serde_writes_them() {
        let strings = [
            "plain",
            "",
            "quote\" back\\slash",
            "tab\there\nline",
            "caf\u{e9} \u{65e5}\u{672c} \u{1f600}",
            "\u{1b}[31mred\u{7}",
            "bidi \u{202e}\u{2066} del \u{7f} c1 \u{9b} ls \u{2028}",
        ];
        let mut lines = 0;
        for (i, text) in strings.iter().enumerate() {
            let other = strings[(i + 3) % strings.len()];
            let some = |k: usize| !(i + k).is_multiple_of(3);
            let node = |j: usize| NodeLine {
                path: if j == 0 { "0" } else { text },
                policy: other,
                recorded: some(j).then_some(*text),
                key: some(j + 1).then_some(other),
                status: "same",
                note: some(j + 2).then_some(*text),
            };
            for shape in 0..4 {
                let line = KeysLine {
                    record: format!("{text}/run.json:{i}"),
                    task: some(0).then_some(*text),
                    task_run: some(1).then_some(other),
                    recorded: some(2).then_some(*text),
                    key: some(3).then_some(other),
                    status: "changed",
                    error: (shape == 1).then(|| other.to_string()),
                    note: (shape != 0).then_some(*text),
                    verdict: (shape >= 2).then_some("miss"),
                    reason: (shape >= 2).then_some(other),
                    source: match shape {
                        2 => Some(SourceLine {
                            file: Some(text.to_string()),
                            first_line: Some(i * 1000 + 7),
                            last_line: Some(usize::MAX),
                            python: Some(other.to_string()),
                            error: None,
                        }),
                        3 => Some(SourceLine {
                            file: None,
                            first_line: None,
                            last_line: None,
                            python: None,
                            error: Some(text.to_string()),
                        }),
                        _ => None,
                    },
                    nodes: (0..shape + i % 2).map(node).collect(),
                };
                let mut ours = Vec::new();
                line.write(&mut ours);
                let theirs = safe_json::to_string(&line).unwrap();
                assert_eq!(String::from_utf8(ours).unwrap(), theirs);
                lines += 1;
            }
        }
        assert_eq!(lines, 28);
    }

    /// Every record of sample-runs, each written on one line, over and over: a bulk file.
    fn big_jsonl(dir: &std::path::Path, copies: usize) -> (PathBuf, usize) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-runs/runs");
        let mut lines = Vec::new();
        let mut pending = vec![root];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let value = cachescope::pyjson::parse(&text).unwrap();
                    let line =
                        cachescope::pyjson::dumps(&value, cachescope::pyjson::SortKeys::Preserve)
                            .unwrap();
                    lines.push(line);
                }
            }
        }
        lines.sort();
        let mut text = String::new();
        for _ in 0..copies {
            for line in &lines {
                text.push_str(line);
                text.push('\n');
            }
        }
        let path = dir.join("bulk.jsonl");
        std::fs::write(&path, text).unwrap();
        (path, copies * lines.len())
    }

    // Issue 11: a folder that is one big `.jsonl` file keeps both cores busy. What is pinned is
    // the split (runs of lines handed to two workers, both used), not the wall time.
    #[test]
    fn one_big_jsonl_file_is_split_across_workers_and_output_is_unchanged() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, n) = big_jsonl(tmp.path(), 40);
        let files = vec![path];
        let run = |workers: usize, block: usize| {
            let mut out = Vec::new();
            let (tally, spread): (Tally, _) =
                stream(super::units(&files, block), true, None, workers, &mut out);
            assert_eq!(tally.records, n);
            (out, spread)
        };
        let (serial, one) = run(1, usize::MAX / 2);
        assert_eq!(
            one.pieces(),
            1,
            "the whole file is one unit at an unbounded block size"
        );
        let (split, spread) = run(2, 16 * 1024);
        assert!(spread.pieces() >= 20, "{spread:?}");
        assert_eq!(spread.workers_used(), 2, "{spread:?}");
        assert!(serial == split, "the same lines, in the same order");
        let text = String::from_utf8(split).unwrap();
        assert_eq!(text.lines().count(), n);
        let last = text.lines().last().unwrap();
        assert!(last.contains(&format!("bulk.jsonl:{n}\"")), "{last}");
    }

    /// `--live` reads records lean (canonical inputs hashed as their recorded text, a record
    /// made whole only to observe an opaque node): its lines are exactly those of the records
    /// read whole, the non-deterministic `cache_key_fn` of a task included.
    #[test]
    fn live_lines_from_lean_records_are_those_of_whole_records() {
        use super::{LiveMode, evaluate_all, nondeterminism, write_json};
        use cachescope::live::{LiveOptions, SourceCache, SourceMemo};
        use cachescope::load::{BLOCK, discover, load_paths};
        use cachescope::nondeterministic::NonDeterminism;
        use std::sync::Mutex;

        // `clean` keyed, four runs over, by a cache_key_fn that gives a new key on the same
        // inputs, beside an Inputs node: copies of its record, in a folder of their own, read
        // with sample-runs and its project.
        let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-runs");
        let tmp = tempfile::tempdir().unwrap();
        let clean = std::fs::read_dir(sample.join("runs/02-source-edit/run-1-before-edit"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().contains("-clean-"))
            .unwrap();
        let mut record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&clean).unwrap()).unwrap();
        let inputs_key = record["policy"]["policies"]
            .as_array()
            .and_then(|p| p.iter().find(|n| n["policy"] == "Inputs"))
            .map(|n| n["key"].clone())
            .unwrap();
        record["project_root"] = sample.join("project").to_str().unwrap().into();
        for i in 0..4 {
            record["recorded_at"] = format!("2026-11-24T21:00:0{i}.000Z").into();
            record["policy"] = serde_json::json!({
                "policy": "CompoundCachePolicy",
                "key": format!("{i:032x}"),
                "reproducible": true,
                "policies": [
                    {"policy": "CacheKeyFnPolicy", "key": format!("user-{i}"),
                     "reproducible": false, "reason": "cache_key_fn is user code",
                     "function": "etl.key_fn"},
                    {"policy": "Inputs", "key": inputs_key, "reproducible": true},
                ],
            });
            let path = tmp.path().join(format!("opaque-{i}.json"));
            std::fs::write(path, record.to_string()).unwrap();
        }
        let runs = [sample.join("runs"), tmp.path().to_path_buf()];
        let (files, _) = discover(&runs);
        let mode = |nondeterminism| LiveMode {
            options: LiveOptions::default(),
            cache: Mutex::new((SourceCache::new(), SourceMemo::new())),
            now: "2026-12-01T00:00:00Z".parse().unwrap(),
            nondeterminism,
        };

        let mut lean = Vec::new();
        let lean_mode = mode(nondeterminism(&files));
        let (tally, _): (Tally, _) = stream(
            super::units(&files, BLOCK),
            true,
            Some(&lean_mode),
            2,
            &mut lean,
        );

        let (loaded, _) = load_paths(&runs);
        let whole_mode = mode(NonDeterminism::from_records(loaded.iter().filter_map(
            |l| Some((l.record.as_ref().ok()?.as_ref(), l.source.to_string())),
        )));
        let mut whole = Vec::new();
        write_json(&mut whole, &evaluate_all(&loaded, Some(&whole_mode))).unwrap();

        assert_eq!(tally.records, loaded.len());
        let (lean, whole) = (
            String::from_utf8(lean).unwrap(),
            String::from_utf8(whole).unwrap(),
        );
        assert_eq!(lean, whole);
        assert!(lean.contains("\"verdict\":\"hit\""), "{lean}");
        // The lean first pass saw the cache_key_fn give four keys for one material.
        let opaque = loaded
            .iter()
            .find(|l| l.source.to_string().ends_with("opaque-3.json"))
            .and_then(|l| l.record.as_deref().ok())
            .unwrap();
        let found = lean_mode.nondeterminism.of(opaque, opaque.policy.as_ref());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].function.as_deref(), Some("etl.key_fn"));
        assert_eq!(
            found,
            whole_mode.nondeterminism.of(opaque, opaque.policy.as_ref())
        );
    }

    #[test]
    fn short_keys_are_cut_at_a_character() {
        assert_eq!(
            short(Some("961345812ad8a4c0e9b1d2f3a4b5c6d7")),
            "961345812ad8…"
        );
        assert_eq!(short(Some("961345812ad8")), "961345812ad8");
        assert_eq!(short(None), "None");
        // Byte 12 falls inside an `é`: this panicked before.
        assert_eq!(short(Some("aééééééééééééé")), "aééééééééééé…");
        assert_eq!(short(Some("aéééééééééé")), "aéééééééééé");
    }
}
