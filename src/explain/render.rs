//! An explanation as styled lines: the one place its words are written.
//!
//! [`lines`] turns an [`Explanation`] into lines of spans, each span tagged with a semantic
//! [`Sem`] (culprit, added, removed, key, note...) and each line with the [`Section`] it
//! belongs to. The command line joins them into plain text ([`to_text`], wrapped at 96
//! columns); the terminal UI maps the semantics to colours and picks the sections that belong
//! to the node the user selected. Neither writes a sentence of its own, so the two can never
//! say different things.

use crate::pyjson::Value;
use crate::sanitize::{sanitize_line, sanitize_text};

use super::model::{Evidence, Explanation, Pairing, Proof};
use super::value_diff::short_text;
use super::wording::short_key;

/// What a span means; the UI picks a style for each, plain text ignores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sem {
    Plain,
    /// The verdict sentence.
    Headline,
    /// A section title ("Proof", "Evidence").
    Heading,
    /// The policy node that caused a miss.
    Culprit,
    /// A proof that holds.
    Proven,
    /// A line added in a diff, or a new value.
    Added,
    /// A line removed in a diff, or an old value.
    Removed,
    /// A diff's hunk header or file names.
    DiffMeta,
    /// A cache key.
    Key,
    /// Secondary text: notes, how A was chosen.
    Note,
    /// A cause of a miss that is not the key, or a warning.
    Warning,
    /// A policy expression the user can paste.
    Code,
}

/// Where a line belongs, so a view can show only part of an explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Section {
    Headline,
    /// The two sides and how A was chosen.
    Sides,
    /// The proof of the culprit at this node path.
    Proof(String),
    /// A hit on a result computed from other inputs.
    Stale,
    Unexplained,
    /// The evidence of the culprit at this node path.
    Evidence(String),
    Causes,
    Advice,
    WhatIf,
    Notes,
    /// Blank lines and section titles between the others.
    Frame,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub sem: Sem,
    pub text: String,
}

/// One line. When wrapped (plain text wraps at 96 columns), the first `prefix` characters stay
/// together and continuation lines are indented by `hang` spaces; `hang: None` never wraps
/// (diff lines, keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub section: Section,
    pub spans: Vec<Span>,
    pub prefix: usize,
    pub hang: Option<usize>,
}

impl Line {
    /// The line's text without styles.
    pub fn text(&self) -> String {
        self.spans.iter().map(|s| s.text.as_str()).collect()
    }
}

/// Builds lines for one section.
struct Out {
    lines: Vec<Line>,
}

impl Out {
    fn push(&mut self, section: &Section, spans: Vec<Span>, prefix: usize, hang: Option<usize>) {
        self.lines.push(Line {
            section: section.clone(),
            spans,
            prefix,
            hang,
        });
    }

    /// `prefix` then `text`, wrapped with continuation lines indented by `hang`.
    fn para(&mut self, section: &Section, prefix: Vec<Span>, text: Vec<Span>, hang: usize) {
        let prefix_len = prefix.iter().map(|s| s.text.chars().count()).sum();
        let mut spans = prefix;
        spans.extend(text);
        self.push(section, spans, prefix_len, Some(hang));
    }

    /// A line that is never wrapped.
    fn raw(&mut self, section: &Section, spans: Vec<Span>) {
        self.push(section, spans, 0, None);
    }

    fn blank(&mut self) {
        self.raw(&Section::Frame, Vec::new());
    }

    fn heading(&mut self, title: &str) {
        self.raw(&Section::Frame, vec![span(Sem::Heading, title)]);
    }
}

/// A span of one line of prose. Its text may quote a record (a task name, an input, a path),
/// so it is escaped here, before any width is measured.
fn span(sem: Sem, text: impl Into<String>) -> Span {
    let text = text.into();
    Span {
        sem,
        text: sanitize_line(&text).into_owned(),
    }
}

fn plain(text: impl Into<String>) -> Span {
    span(Sem::Plain, text)
}

fn short(key: Option<&str>) -> String {
    short_key(key, 12)
}

/// A node path as people read it: "root" for the root.
pub fn at(path: &str) -> String {
    if path.is_empty() {
        "root".to_string()
    } else {
        path.to_string()
    }
}

/// At most this many changed paths are shown per culprit.
const CHANGES_SHOWN: usize = 10;

/// The explanation as lines: the headline, the two sides, the proof, the evidence, the causes
/// that are not the key, advice, the what-if and notes.
pub fn lines(e: &Explanation) -> Vec<Line> {
    let mut o = Out { lines: Vec::new() };
    o.para(
        &Section::Headline,
        Vec::new(),
        vec![span(Sem::Headline, e.headline.clone())],
        0,
    );
    o.blank();
    let sides = Section::Sides;
    o.raw(&sides, vec![plain(format!("  A  {}", e.a))]);
    o.raw(
        &sides,
        vec![
            plain("     key "),
            span(Sem::Key, short(e.key_a.as_deref())),
        ],
    );
    match &e.b {
        Some(b) => {
            o.raw(&sides, vec![plain(format!("  B  {b}"))]);
            o.raw(
                &sides,
                vec![
                    plain("     key "),
                    span(Sem::Key, short(e.key_b.as_deref())),
                ],
            );
        }
        None => {
            o.raw(
                &sides,
                vec![plain(
                    "  B  the next run: A's record with the source as it is now",
                )],
            );
            let key = match &e.key_b {
                Some(k) => span(Sem::Key, short(Some(k))),
                None if !e.nondeterministic.is_empty() => span(
                    Sem::Note,
                    "not known before it runs (a node that is not deterministic)",
                ),
                None if e.error.is_none() => {
                    span(Sem::Note, "not known before it runs (a new run id)")
                }
                None => span(Sem::Warning, "cannot be computed"),
            };
            o.raw(&sides, vec![plain("     key "), key]);
        }
    }
    let pairing = match e.pairing {
        Pairing::Explicit => None,
        Pairing::SameInputs => Some(format!(
            "A is the latest earlier run of `{}` with the same inputs.",
            e.task
        )),
        Pairing::SameCall {
            map_index: Some(i), ..
        } => Some(format!(
            "A is the same element of the `{}` map (index {i}) in the latest earlier flow run \
             (no earlier run had the same inputs).",
            e.task
        )),
        Pairing::SameCall { call_index, .. } => Some(format!(
            "A is call #{} of `{}` in the latest earlier flow run, as B is in its own (no \
             earlier run had the same inputs).",
            call_index.map_or("?".to_string(), |i| (i + 1).to_string()),
            e.task
        )),
        Pairing::ClosestInputs => Some(format!(
            "A is the run of `{}` in the latest earlier flow run whose inputs are closest to B's \
             (none had the same inputs).",
            e.task
        )),
        Pairing::LatestEarlier => Some(format!(
            "A is the latest earlier run of `{}` (none had the same inputs).",
            e.task
        )),
    };
    if let Some(p) = pairing {
        o.para(&sides, vec![plain("     ")], vec![span(Sem::Note, p)], 5);
    }
    stale_lines(&mut o, e);
    if !e.culprits.is_empty() {
        o.blank();
        o.heading("Proof");
        for c in &e.culprits {
            let (sem, how) = match c.proof {
                Proof::Proven => (
                    Sem::Proven,
                    format!(
                        "proven: A's key put back at node {} alone turns B's key into A's",
                        at(&c.path)
                    ),
                ),
                Proof::Pair => (
                    Sem::Proven,
                    format!(
                        "pair: A's keys put back at node {} together with node{} {} turn B's \
                         key into A's",
                        at(&c.path),
                        if c.with.len() == 1 { "" } else { "s" },
                        c.with.iter().map(|w| at(w)).collect::<Vec<_>>().join(", ")
                    ),
                ),
                Proof::Unexplained => (
                    Sem::Warning,
                    "unexplained: putting A's key back here does not give A's key".to_string(),
                ),
            };
            o.para(
                &Section::Proof(c.path.clone()),
                vec![
                    plain("  "),
                    span(Sem::Culprit, format!("{} {}", at(&c.path), c.policy)),
                    plain(": "),
                ],
                vec![span(sem, how)],
                6,
            );
        }
    }
    if let Some(u) = &e.unexplained {
        o.blank();
        o.para(
            &Section::Unexplained,
            vec![span(Sem::Warning, "Unexplained: ")],
            vec![plain(u.summary.clone())],
            2,
        );
        for s in &u.suspects {
            o.para(
                &Section::Unexplained,
                vec![plain("  - ")],
                vec![plain(s.clone())],
                4,
            );
        }
    }
    if !e.culprits.is_empty() {
        o.blank();
        o.heading("Evidence");
        for c in &e.culprits {
            let section = Section::Evidence(c.path.clone());
            o.para(
                &section,
                vec![
                    plain("  "),
                    span(Sem::Culprit, format!("{} {}", at(&c.path), c.policy)),
                    plain(": "),
                ],
                vec![plain(c.summary.clone())],
                6,
            );
            evidence_lines(&mut o, &section, &c.evidence, &c.summary);
        }
    }
    if !e.non_key_causes.is_empty() {
        o.blank();
        o.heading("Not the key");
        for c in &e.non_key_causes {
            o.para(
                &Section::Causes,
                vec![
                    plain("  - "),
                    span(Sem::Warning, c.kind.as_str()),
                    plain(": "),
                ],
                vec![plain(c.summary.clone())],
                4,
            );
        }
    }
    if !e.advice.is_empty() {
        o.blank();
        o.heading("Advice");
        for a in &e.advice {
            o.para(
                &Section::Advice,
                vec![plain("  - ")],
                vec![plain(a.text.clone())],
                4,
            );
            if let Some(fix) = &a.fix {
                o.raw(
                    &Section::Advice,
                    vec![
                        plain("    fix:   "),
                        span(Sem::Code, format!("cache_policy={fix}")),
                    ],
                );
            }
            if let Some(check) = &a.check {
                o.para(
                    &Section::Advice,
                    vec![plain("    check: ")],
                    vec![plain(check.clone())],
                    11,
                );
            }
        }
    }
    if let Some(w) = &e.what_if {
        o.blank();
        o.raw(
            &Section::WhatIf,
            vec![
                span(Sem::Heading, "What if "),
                span(Sem::Code, format!("cache_policy={}", w.policy)),
                plain(": key A "),
                span(Sem::Key, short(w.key_a.as_deref())),
                plain(", key B "),
                span(Sem::Key, short(w.key_b.as_deref())),
                plain(format!(": {} ({})", w.verdict.as_str(), w.reason)),
            ],
        );
    }
    if !e.notes.is_empty() {
        o.blank();
        o.heading("Notes");
        for n in &e.notes {
            o.para(
                &Section::Notes,
                vec![plain("  - ")],
                vec![span(Sem::Note, n.clone())],
                4,
            );
        }
    }
    o.lines
}

/// A hit on a result computed from other inputs: whose, and the inputs that differ.
fn stale_lines(o: &mut Out, e: &Explanation) {
    let Some(s) = &e.stale_hit else {
        return;
    };
    let section = Section::Stale;
    o.blank();
    o.raw(
        &section,
        vec![span(
            Sem::Warning,
            "Served a result computed from other inputs",
        )],
    );
    let from = if s.from_a {
        "A computed the result B was served, from these inputs:".to_string()
    } else {
        format!(
            "{} computed the result B was served, from these inputs:",
            s.from
        )
    };
    o.para(&section, vec![plain("  ")], vec![plain(from)], 2);
    let v = |v: &Option<Value>| v.as_ref().map_or("-".to_string(), short_text);
    for c in s.changes.iter().take(CHANGES_SHOWN) {
        let what = match c.change.as_str() {
            "added" => vec![plain("added "), span(Sem::Added, v(&c.new))],
            "removed" => vec![plain("removed "), span(Sem::Removed, v(&c.old))],
            _ => vec![
                span(Sem::Removed, v(&c.old)),
                plain(" -> "),
                span(Sem::Added, v(&c.new)),
            ],
        };
        o.para(
            &section,
            vec![plain(format!("      {}: ", c.path))],
            what,
            8,
        );
    }
    let more = s.changes.len().saturating_sub(CHANGES_SHOWN) + s.more_changes;
    if more > 0 {
        o.raw(
            &section,
            vec![span(Sem::Note, format!("      ... and {more} more"))],
        );
    }
    o.para(
        &section,
        vec![plain("  The key does not see them: ")],
        vec![plain(s.why.clone())],
        2,
    );
}

fn evidence_lines(o: &mut Out, section: &Section, ev: &Evidence, summary: &str) {
    match ev {
        Evidence::TaskSource(s) => {
            for line in s.diff.lines() {
                let sem = if line.starts_with("+++") || line.starts_with("---") {
                    Sem::DiffMeta
                } else if line.starts_with('+') {
                    Sem::Added
                } else if line.starts_with('-') {
                    Sem::Removed
                } else if line.starts_with("@@") {
                    Sem::DiffMeta
                } else {
                    Sem::Plain
                };
                // The diff's lines are the source's: tabs kept, every other control escaped.
                o.raw(
                    section,
                    vec![
                        plain("      "),
                        Span {
                            sem,
                            text: sanitize_text(line).into_owned(),
                        },
                    ],
                );
            }
        }
        Evidence::Arguments(a) => {
            for c in a.changes.iter().take(CHANGES_SHOWN) {
                let v = |v: &Option<Value>| v.as_ref().map_or("-".to_string(), short_text);
                let what = match (&c.note, c.change.as_str()) {
                    // The summary above already says it when there is one change.
                    (Some(note), _) if !summary.contains(note.as_str()) => vec![
                        span(Sem::Removed, v(&c.old)),
                        plain(" -> "),
                        span(Sem::Added, v(&c.new)),
                        plain(format!(" ({note})")),
                    ],
                    (None, "added") => vec![plain("added "), span(Sem::Added, v(&c.new))],
                    (None, "removed") => {
                        vec![plain("removed "), span(Sem::Removed, v(&c.old))]
                    }
                    _ => vec![
                        span(Sem::Removed, v(&c.old)),
                        plain(" -> "),
                        span(Sem::Added, v(&c.new)),
                    ],
                };
                o.para(section, vec![plain(format!("      {}: ", c.path))], what, 8);
            }
            let more = a.changes.len().saturating_sub(CHANGES_SHOWN) + a.more_changes;
            if more > 0 {
                o.raw(
                    section,
                    vec![span(Sem::Note, format!("      ... and {more} more"))],
                );
            }
            for (name, ha, hb) in &a.argument_hashes {
                if ha != hb {
                    o.raw(
                        section,
                        vec![
                            plain(format!("      hash of {name}: ")),
                            span(Sem::Key, short(ha.as_deref())),
                            plain(" -> "),
                            span(Sem::Key, short(hb.as_deref())),
                        ],
                    );
                }
            }
            if a.exclude_a != a.exclude_b {
                o.raw(
                    section,
                    vec![plain(format!(
                        "      exclude: {:?} -> {:?}",
                        a.exclude_a, a.exclude_b
                    ))],
                );
            }
        }
        Evidence::RunId { a, b, scope } => o.raw(
            section,
            vec![
                plain(format!("      {scope} id: ")),
                span(Sem::Removed, a.as_deref().unwrap_or("None")),
                plain(" -> "),
                span(Sem::Added, b.as_deref().unwrap_or("None")),
            ],
        ),
        Evidence::CacheKeyFn { function, a, b } => o.raw(
            section,
            vec![
                plain(format!(
                    "      {}: ",
                    function.as_deref().unwrap_or("cache_key_fn")
                )),
                span(Sem::Key, short(a.as_deref())),
                plain(" -> "),
                span(Sem::Key, short(b.as_deref())),
            ],
        ),
        Evidence::Tree { a, b, changes } => {
            o.raw(
                section,
                vec![plain("      A: "), span(Sem::Removed, a.clone())],
            );
            o.raw(
                section,
                vec![plain("      B: "), span(Sem::Added, b.clone())],
            );
            for c in changes {
                o.raw(section, vec![plain(format!("      - {c}"))]);
            }
        }
        Evidence::Keys { a, b } => o.raw(
            section,
            vec![
                plain("      "),
                span(Sem::Key, short(a.as_deref())),
                plain(" -> "),
                span(Sem::Key, short(b.as_deref())),
            ],
        ),
        Evidence::SourceUnknown { why } => o.raw(
            section,
            vec![plain("      "), span(Sem::Warning, why.clone())],
        ),
    }
}

/// Wraps `text` after a fixed `prefix` at `width` columns, continuation lines indented by
/// `hang` spaces. Words are split on single spaces, so runs of spaces survive unwrapped.
pub fn wrap(prefix: &str, text: &str, hang: usize, width: usize) -> Vec<String> {
    let indent = " ".repeat(hang);
    let mut out = Vec::new();
    let mut line = prefix.to_string();
    let mut line_len = prefix.chars().count();
    let mut fresh_len = line_len;
    for word in text.split(' ') {
        let fresh = line_len == fresh_len;
        let word_len = word.chars().count();
        if !fresh && line_len + 1 + word_len > width {
            out.push(std::mem::replace(&mut line, indent.clone()));
            line_len = hang;
            fresh_len = hang;
        } else if !fresh {
            line.push(' ');
            line_len += 1;
        }
        line.push_str(word);
        line_len += word_len;
    }
    out.push(line);
    out
}

/// Plain text, as the command line prints it: every line, wrapped at 96 columns.
pub fn to_text(lines: &[Line]) -> String {
    let mut t = String::new();
    for line in lines {
        let text = line.text();
        match line.hang {
            None => t.push_str(&text),
            Some(hang) => {
                let split = text
                    .char_indices()
                    .nth(line.prefix)
                    .map_or(text.len(), |(i, _)| i);
                t.push_str(&wrap(&text[..split], &text[split..], hang, 96).join("\n"));
            }
        }
        t.push('\n');
    }
    t
}
