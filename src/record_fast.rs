//! The fast lane of record loading: one pass over a record's text straight into a
//! [`RunRecord`], with no JSON value tree for anything but what is kept (and, when `lean`, not
//! even for the inputs and flow parameters whose text is already canonical).
//!
//! It is an optimisation, never an authority. It reads only what it is sure of: a record with
//! a repeated field, a value of an unexpected type, a lone surrogate, nesting deeper than it
//! tracks, a BOM, or anything else unusual makes it answer `None`, and the loader then parses
//! the record the slow way ([`crate::pyjson::parse`] and [`RunRecord::from_value`]), which owns
//! every error message and every corner of the format. Where it answers, its record and
//! canonical texts are exactly the slow way's (a test runs both on every corpus, and a fuzz
//! target on any bytes).

use std::borrow::Cow;

use crate::engine::inputs_provable;
use crate::hash::{BIG_TEXT, check_and_hash};
use crate::policy::{Configure, PolicyKind, PolicyNode, Recorded};
use crate::pyjson::{
    MAX_DEPTH, Value, canonical_len_within, canonical_respaced_within, hex4, object_end,
    object_end_spaced, parse, plain_run, respaced_object_len, spaced_object_len, string_end,
    whitespace_end,
};
use crate::record::{
    Environment, FORMAT_V1, FailedRun, FlowInfo, Outcome, RunRecord, StorageKeyTemplate, TaskInfo,
    TaskRunInfo, TransactionInfo,
};

pub use crate::pyjson::{Span, SpanText};

/// What the fast lane read: the record, and the spans of the inputs and flow parameters left
/// as canonical text (only when `lean`).
#[derive(Debug)]
pub struct FastRecord {
    /// Boxed where it is read: a record is a few hundred bytes, and each step that passes
    /// it on moved it whole.
    pub record: Box<RunRecord>,
    pub inputs: Option<Span>,
    pub flow_parameters: Option<Span>,
    /// The task source's JSON string, quotes and all, where it is written as `json.dumps`
    /// writes it and was left undecoded ([`read_keys`] only: `task.source` is then `None`).
    pub task_source: Option<Span>,
}

impl FastRecord {
    /// What [`read_unchecked`] read, as [`read`] (lean) reads the same `text`: an unchecked span
    /// that passes the canonical check stays text, one that does not becomes its value in the
    /// record. This is what relates the two (the tests and a fuzz target hold them to it).
    pub fn checked(mut self, text: &str) -> FastRecord {
        fn check(text: &str, span: &mut Option<Span>) -> Option<Value> {
            let json = match span {
                Some((SpanText::Unchecked(range), _)) => &text[range.clone()],
                Some((SpanText::UncheckedRespaced(respaced), _)) => respaced,
                _ => return None,
            };
            if canonical_len_within(json, MAX_DEPTH) == Some(json.len()) {
                let checked = match span.take() {
                    Some((SpanText::Unchecked(range), _)) => SpanText::At(range),
                    Some((SpanText::UncheckedRespaced(respaced), _)) => {
                        SpanText::Respaced(respaced)
                    }
                    _ => unreachable!("an unchecked span"),
                };
                *span = Some((checked, None));
                return None;
            }
            // Plain JSON, so it parses (respacing changed no token).
            let value = parse(json).ok();
            *span = None;
            value
        }
        if let Some(value) = check(text, &mut self.inputs) {
            self.record.inputs = Some(value);
        }
        if let Some(value) = check(text, &mut self.flow_parameters)
            && let Some(flow) = self.record.flow.as_mut()
        {
            flow.parameters = Some(value);
        }
        self
    }
}

/// Reads a record in one pass, or `None` when the slow way must decide. With `lean`, a
/// canonical `inputs` or `flow.parameters` object is left as a span (its field in the record
/// is `None`), as [`crate::pyjson::parse_record_lean`] leaves it.
pub fn read(text: &str, lean: bool) -> Option<FastRecord> {
    read_with(text, lean, Mode::CHECKED)
}

/// [`read`] lean, but an `inputs` or `flow.parameters` object written with `json.dumps`'
/// spacing in plain JSON is left as [`SpanText::Unchecked`] without checking it canonical:
/// most often it is the text Prefect hashed, and the engine proves that by its md5 (the
/// recorded key) far more cheaply than the check does. Where the check would have found it
/// not canonical, [`read`] gives its value instead; the engine then builds that value itself.
pub fn read_unchecked(text: &str) -> Option<FastRecord> {
    read_with(text, true, Mode::UNCHECKED)
}

/// [`read_unchecked`], but an `inputs` object on one line is not even scanned: only its end is
/// found (guessed where the policy follows it, [`guessed_inputs_end`], else by
/// [`crate::pyjson::object_end`]), and its span is [`SpanText::Unscanned`]. The loader
/// hashes it with many others and, where the md5 is the recorded key of every `Inputs` node
/// that hashes it, the text is what Prefect hashed: nothing more needs proving. Anywhere else
/// [`FastRecord::scanned`] makes it what [`read_unchecked`] reads, or says to read the record
/// again with it. The bulk of a record is its inputs; this reads them several times faster.
///
/// Inputs that no md5 can prove ([`crate::engine::inputs_provable`] is false of the record's
/// policy) are given that pass at once, while they are still in the cache: then this reads
/// what [`read_unchecked`] reads. They are given that pass straight away, without first finding
/// their end, where the record's policy came before them and no md5 can prove them, or where
/// its last bytes name no `Inputs` policy ([`no_inputs_policy_near_end`]): this then reads
/// exactly what [`read_unchecked`] reads, whatever the policy turns out to be.
pub fn read_deferred(text: &str) -> Option<FastRecord> {
    settle_deferred(text, Mode::DEFERRED)
}

/// [`read_deferred`] for the keys alone, as `keys` recomputes them: a task source written as
/// `json.dumps` writes it (`ensure_ascii`, Python's escapes) is not decoded. Its JSON string,
/// quotes and all, is what TaskSource's message holds (`[["..."], {}]`), so it is hashed as it
/// is ([`FastRecord::task_source`]) and `task.source` is left `None`. The check that it is so
/// costs a third of what decoding it and writing it again did: `keys` on the mixed benchmark
/// folder takes 4% fewer instructions (callgrind, 1,000 records: 50.5M to 48.6M). Everything
/// else is what [`read_deferred`] reads, but the fields `keys` does not use: they are checked
/// as [`read_deferred`] checks them, and not kept ([`keys_view`]).
pub fn read_keys(text: &str) -> Option<FastRecord> {
    settle_deferred(text, Mode::KEYS)
}

/// [`read_deferred`] for the inspector's rows, where the record has a lean inputs or
/// flow-parameters text: that is a record the inspector keeps in its file and not in memory
/// (it reads it again, whole, when it is looked at), and loading 100,000 runs decoded 100,000
/// task sources and copied 600,000 strings only to drop them with their records. So a task
/// source written as `json.dumps` writes it is left as text ([`FastRecord::task_source`],
/// hashed as it is, as [`read_keys`] hashes it), and the strings that neither the
/// recomputation nor a row uses are checked and not kept ([`rows_view`]). A record with
/// neither text is kept whole: it is read as [`read_deferred`] reads it. The recomputed keys,
/// and the errors, are those [`read_deferred`] gives.
pub fn read_inspect(text: &str) -> Option<FastRecord> {
    let read = settle_deferred(text, Mode::INSPECT)?;
    if read.inputs.is_none() && read.flow_parameters.is_none() {
        return read_deferred(text);
    }
    Some(read)
}

/// `record` as [`read_inspect`] reads it where it has a lean inputs or flow-parameters text:
/// without the strings that neither the recomputation nor the inspector's rows use (the
/// environment, the project root, the task's qualified name and file, the run's dynamic key,
/// the cache expiration and result storage, the transaction's strings). [`keys_view`] leaves
/// out these and three more (when it was recorded, the task's key, the state).
pub fn rows_view(mut record: RunRecord) -> RunRecord {
    record.environment = Environment::default();
    record.project_root = None;
    let task = &mut record.task;
    (task.qualname, task.file) = (None, None);
    record.task_run.dynamic_key = None;
    let outcome = &mut record.outcome;
    (outcome.cache_expiration, outcome.result_storage) = (None, None);
    if let Some(t) = record.transaction.as_deref_mut() {
        (t.id, t.key, t.outcome) = (None, None, None);
        if let Some(f) = &mut t.failed {
            (f.task, f.task_run, f.state) = (None, None, None);
        }
    }
    record
}

/// `record` as [`read_keys`] reads it: without the strings that neither the recomputation nor
/// `keys`' lines use (when it was recorded, the environment, the project root, the task's key,
/// qualified name and file, the run's dynamic key, the outcome's strings, the transaction's).
/// The engine recomputes the same keys with or without them; tests hold it to that.
pub fn keys_view(mut record: RunRecord) -> RunRecord {
    record.recorded_at = None;
    record.environment = Environment::default();
    record.project_root = None;
    let task = &mut record.task;
    (task.task_key, task.qualname, task.file) = (None, None, None);
    record.task_run.dynamic_key = None;
    let outcome = &mut record.outcome;
    (
        outcome.state,
        outcome.cache_expiration,
        outcome.result_storage,
    ) = (None, None, None);
    if let Some(t) = record.transaction.as_deref_mut() {
        (t.id, t.key, t.outcome) = (None, None, None);
        if let Some(f) = &mut t.failed {
            (f.task, f.task_run, f.state) = (None, None, None);
        }
    }
    record
}

/// `text` read in `mode` (a deferring one), its unscanned inputs that no md5 can prove given
/// their pass at once; where the pass refuses them, the record is read again in `mode` without
/// deferring (for [`read_deferred`], that is [`read_unchecked`]), so a record read again keeps
/// what `mode` keeps.
fn settle_deferred(text: &str, mode: Mode) -> Option<FastRecord> {
    let mut read = match read_noting_guess(text, true, mode) {
        (Some(read), _) => read,
        // A wrong guess of where the inputs end leaves the rest unreadable: read without it.
        // A record declined with no guess taken is declined again, so it is not read again.
        (None, true) => read_with(
            text,
            true,
            Mode {
                guess_end: false,
                ..mode
            },
        )?,
        (None, false) => return None,
    };
    let provable = read.record.policy.as_ref().is_some_and(inputs_provable)
        && read
            .inputs
            .as_ref()
            .is_some_and(|(at, _)| at.text(text) != "{}");
    if provable || scan_inputs(text, &mut read.inputs) {
        Some(read)
    } else {
        read_with(
            text,
            true,
            Mode {
                defer: false,
                ..mode
            },
        )
    }
}

impl FastRecord {
    /// What [`read_unchecked`] reads of the `text` this was read from by [`read_deferred`]:
    /// unscanned inputs given the pass [`read_unchecked`] gives them, or `None` where that pass
    /// refuses them (then [`read_unchecked`] must read the record again: it reads such inputs
    /// other ways, or declines the record).
    pub fn scanned(mut self, text: &str) -> Option<FastRecord> {
        scan_inputs(text, &mut self.inputs).then_some(self)
    }
}

/// Gives unscanned inputs (of a record read from `text` by [`read_deferred`]) the pass that
/// [`read_unchecked`] gives them, making them [`SpanText::Unchecked`] (their hash, if any, is
/// kept: the text is the same). False where that pass refuses them: the record must then be
/// read again with [`read_unchecked`]. Any other span is left as it is.
pub fn scan_inputs(text: &str, inputs: &mut Option<Span>) -> bool {
    let Some((SpanText::Unscanned(range), hash)) = inputs else {
        return true;
    };
    let range = range.clone();
    // The pass stops where the object ends, so on the object alone it reads what it read of
    // the rest of the record.
    let within = MAX_DEPTH.saturating_sub(INPUTS_DEPTH);
    if spaced_object_len(&text[range.clone()], within) != Some(range.len()) {
        return false;
    }
    *inputs = Some((SpanText::Unchecked(range), hash.take()));
    true
}

/// The closing quote of the string whose first escape is at `escape` (a backslash): the first
/// quote after it that an even run of backslashes precedes.
fn closing_quote(b: &[u8], escape: usize) -> Option<usize> {
    let mut from = escape;
    loop {
        let quote = from + memchr::memchr(b'"', &b[from..])?;
        let backslashes = b[escape..quote]
            .iter()
            .rev()
            .take_while(|&&c| c == b'\\')
            .count();
        if backslashes % 2 == 0 {
            return Some(quote);
        }
        from = quote + 1;
    }
}

/// How deep a record's `inputs` object is nested (in the record's object).
const INPUTS_DEPTH: usize = 1;

/// What the recorder writes right after a record's inputs: their closing brace and the policy.
const BEFORE_POLICY: &[u8] = b"}, \"policy\": ";

/// Where the inputs object at the start of `rest` ends, guessed without reading it: after the
/// first closing brace that the policy follows, as the recorder writes a record (on one line,
/// with `json.dumps`' separators). Inputs left unscanned are proved by md5 or scanned later,
/// and both prove the guess too: text that is one whole JSON object ends where that object
/// ends, nowhere else. A wrong guess (inputs with an argument named `policy` after an object,
/// a record written in another order) is found out there, or leaves the rest of the record
/// unreadable, and the record is then read again without guessing. Finding the end by reading
/// the object took 5% of `keys`' instructions on the mixed benchmark folder; the search for
/// these bytes takes a fraction of that.
fn guessed_inputs_end(rest: &str) -> Option<usize> {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(BEFORE_POLICY));
    let b = rest.as_bytes();
    // Not on one line: `object_end` declines such an object, and so does this.
    if matches!(b.get(1), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        return None;
    }
    FINDER.find(b).map(|at| at + 1)
}

/// How far from a record's end [`no_inputs_policy_near_end`] looks: its outcome (about 150
/// bytes), its key and a policy tree of several nodes (about 90 bytes each).
const POLICY_TAIL: usize = 1024;

/// Whether the last [`POLICY_TAIL`] bytes of a record do not hold `"Inputs"`. As the recorder
/// writes a record, its policy, key and outcome follow its inputs, so this says that the policy
/// has no `Inputs` node and no md5 will prove the inputs: [`read_deferred`] then scans them at
/// once rather than find their end first and scan them after (on the mixed benchmark folder,
/// 7% fewer instructions to read a record, 6% less CPU time for `keys`). It is a guess that
/// costs a SIMD search of 1 KiB for one byte, and decides nothing: wrong either way, the inputs
/// are read as they would be otherwise, only more slowly.
fn no_inputs_policy_near_end(text: &str) -> bool {
    let b = text.as_bytes();
    let tail = b.len().saturating_sub(POLICY_TAIL);
    // A capital I is rare in a record: each is looked at.
    !memchr::memchr_iter(b'I', &b[tail..])
        .any(|at| b[tail + at..].starts_with(b"Inputs\"") && b[..tail + at].ends_with(b"\""))
}

/// [`read_deferred`] for what a record says of its task and policy only: its inputs, whatever
/// its policy and whitespace, are left [`SpanText::Unscanned`] (only their end is found), and
/// nothing settles them. The record's other fields are read as [`read_deferred`] reads them.
/// For a pass that looks closer at few records (`keys --live` finds the records with an opaque
/// node, and reads those again): the inputs of the others are never read.
pub fn read_skim(text: &str) -> Option<FastRecord> {
    read_with(text, true, Mode::SKIM)
}

/// How a lean read treats a record's bulk: one mode per reading function above.
#[derive(Clone, Copy)]
struct Mode {
    unchecked: bool,
    defer: bool,
    skim: bool,
    keys_only: bool,
    rows_only: bool,
    raw_source: bool,
    /// Deferring, take the inputs to end where the policy follows them ([`guessed_inputs_end`]).
    guess_end: bool,
}

impl Mode {
    const CHECKED: Mode = Mode {
        unchecked: false,
        defer: false,
        skim: false,
        keys_only: false,
        rows_only: false,
        raw_source: false,
        guess_end: false,
    };
    const UNCHECKED: Mode = Mode {
        unchecked: true,
        ..Mode::CHECKED
    };
    const DEFERRED: Mode = Mode {
        defer: true,
        guess_end: true,
        ..Mode::UNCHECKED
    };
    /// No guess: nothing settles skimmed inputs, so nothing would find a wrong one out.
    const SKIM: Mode = Mode {
        skim: true,
        guess_end: false,
        ..Mode::DEFERRED
    };
    const KEYS: Mode = Mode {
        keys_only: true,
        raw_source: true,
        ..Mode::DEFERRED
    };
    const INSPECT: Mode = Mode {
        rows_only: true,
        raw_source: true,
        ..Mode::DEFERRED
    };
}

/// The lean reads a loader chooses among ([`read_lean`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// [`read_unchecked`].
    Unchecked,
    /// [`read_deferred`].
    Deferred,
    /// [`read_skim`].
    Skimmed,
    /// [`read_keys`].
    KeysOnly,
    /// [`read_inspect`].
    Inspect,
}

/// A record read lean, as `reading` says.
pub fn read_lean(text: &str, reading: Reading) -> Option<FastRecord> {
    match reading {
        Reading::Unchecked => read_unchecked(text),
        Reading::Deferred => read_deferred(text),
        Reading::Skimmed => read_skim(text),
        Reading::KeysOnly => read_keys(text),
        Reading::Inspect => read_inspect(text),
    }
}

fn read_with(text: &str, lean: bool, mode: Mode) -> Option<FastRecord> {
    read_noting_guess(text, lean, mode).0
}

/// [`read_with`], and whether the end of the inputs was guessed ([`guessed_inputs_end`]): only
/// then can reading again without guessing answer where this declined.
fn read_noting_guess(text: &str, lean: bool, mode: Mode) -> (Option<FastRecord>, bool) {
    let Mode {
        unchecked,
        defer,
        skim,
        keys_only,
        rows_only,
        raw_source,
        guess_end,
    } = mode;
    let mut s = Scanner {
        text,
        b: text.as_bytes(),
        i: 0,
        unchecked,
        defer,
        skim,
        keys_only,
        rows_only,
        raw_source,
        guess_end,
        guessed: false,
        source_span: None,
    };
    s.ws();
    let record = s.record(lean).and_then(|record| {
        s.ws();
        (s.i == s.b.len()).then_some(record)
    });
    (record, s.guessed)
}

/// Nesting the policy tree may reach here; deeper trees take the slow way.
const MAX_POLICY_DEPTH: usize = 64;

struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    /// Leave plain, dumps-spaced encoded objects unchecked ([`read_unchecked`]).
    unchecked: bool,
    /// Leave the inputs unscanned ([`read_deferred`]).
    defer: bool,
    /// Leave the inputs unscanned whatever the policy and spacing ([`read_skim`]).
    skim: bool,
    /// Keep none of the strings `keys` does not use ([`read_keys`], [`keys_view`]).
    keys_only: bool,
    /// Keep none of the strings that neither `keys` nor the inspector's rows use
    /// ([`read_inspect`], [`rows_view`]).
    rows_only: bool,
    /// Leave a task source undecoded where it is written as `json.dumps` writes it
    /// ([`read_keys`], [`read_inspect`]).
    raw_source: bool,
    /// Deferring, take the inputs to end where the policy follows them ([`guessed_inputs_end`]).
    guess_end: bool,
    /// Whether it did.
    guessed: bool,
    /// Where such a source is.
    source_span: Option<std::ops::Range<usize>>,
}

/// Marks a known field as seen, refusing a repeat (the slow way merges repeats).
fn first(seen: &mut u32, bit: u32) -> Option<()> {
    if *seen & bit != 0 {
        return None;
    }
    *seen |= bit;
    Some(())
}

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        self.i = whitespace_end(self.b, self.i);
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Steps over `byte` (after whitespace).
    fn eat(&mut self, byte: u8) -> Option<()> {
        self.ws();
        if self.peek() == Some(byte) {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    /// Walks an object's entries: `field` is called with each key, the position at its value.
    fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            // `json.dumps` separates a key from its value with `": "` and an entry from the
            // next with `", "`: each is stepped over at once. Any other whitespace around them
            // is skipped as JSON allows.
            if self.b.get(self.i..self.i + 2) == Some(b": ") && !self.space_at(self.i + 2) {
                self.i += 2;
            } else {
                self.eat(b':')?;
                self.ws();
            }
            field(self, key)?;
            if self.b.get(self.i..self.i + 3) == Some(b", \"") {
                self.i += 2;
                continue;
            }
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Whether JSON whitespace is at `at`.
    fn space_at(&self, at: usize) -> bool {
        matches!(self.b.get(at), Some(b' ' | b'\t' | b'\n' | b'\r'))
    }

    /// `null` (true) or something else (false, position unchanged).
    fn null(&mut self) -> bool {
        if self.b[self.i..].starts_with(b"null") {
            self.i += 4;
            true
        } else {
            false
        }
    }

    /// A string; the position is at its opening quote. Borrowed when it has no escapes.
    /// Inlined where it is read (sixty strings a record: the call cost a fifth of reading one);
    /// a string with escapes is decoded out of line ([`Scanner::decoded`]).
    #[inline(always)]
    fn string(&mut self) -> Option<Cow<'a, str>> {
        if self.peek() != Some(b'"') {
            return None;
        }
        self.i += 1;
        let start = self.i;
        loop {
            self.i += plain_run::<false>(&self.b[self.i..]);
            match *self.b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(Cow::Borrowed(&self.text[start..self.i - 1]));
                }
                b'\\' => return self.decoded(start).map(Cow::Owned),
                b if b < 0x20 => return None,
                _ => self.i += 1,
            }
        }
    }

    /// The rest of a string that starts at `start` (after its quote), at its first escape.
    #[inline(never)]
    fn decoded(&mut self, start: usize) -> Option<String> {
        // Room for it all (decoding only shortens it): grown as it was decoded, a task source
        // was copied twice.
        let mut out = String::with_capacity(closing_quote(self.b, self.i)? - start);
        out.push_str(&self.text[start..self.i]);
        loop {
            let run = self.i;
            loop {
                self.i += plain_run::<false>(&self.b[self.i..]);
                match *self.b.get(self.i)? {
                    b'"' | b'\\' => break,
                    b if b < 0x20 => return None,
                    _ => self.i += 1,
                }
            }
            out.push_str(&self.text[run..self.i]);
            if self.b[self.i] == b'"' {
                self.i += 1;
                // Grown by doubling: a string kept with its record (a task source) should not
                // keep up to as much again unused.
                if out.capacity() - out.len() > out.len() / 8 {
                    out.shrink_to_fit();
                }
                return Some(out);
            }
            self.i += 1;
            let c = match *self.b.get(self.i)? {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let unit = hex4::<false>(self.b, self.i + 1)?;
                    self.i += 4;
                    match unit {
                        0xd800..=0xdbff => {
                            // Only a low surrogate escape right after completes the pair; a
                            // lone surrogate is the slow way's error to report.
                            if self.b.get(self.i + 1..self.i + 3) != Some(b"\\u") {
                                return None;
                            }
                            let low = hex4::<false>(self.b, self.i + 3)?;
                            if !(0xdc00..=0xdfff).contains(&low) {
                                return None;
                            }
                            self.i += 6;
                            char::from_u32(0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00))?
                        }
                        0xdc00..=0xdfff => return None,
                        _ => char::from_u32(unit)?,
                    }
                }
                _ => return None,
            };
            self.i += 1;
            out.push(c);
        }
    }

    /// A string or null.
    fn opt_str(&mut self) -> Option<Option<String>> {
        if self.null() {
            return Some(None);
        }
        Some(Some(self.string()?.into_owned()))
    }

    /// A string or null that `keys` does not use ([`keys_view`] names them): checked as
    /// [`Scanner::opt_str`] checks it, but read for the keys alone ([`read_keys`]) not kept.
    /// Each kept string is an allocation, a copy and a free: these were nine a record.
    fn unused_str(&mut self) -> Option<Option<String>> {
        self.str_kept_if(!self.keys_only)
    }

    /// A string or null that neither `keys` nor the inspector's rows use ([`rows_view`] names
    /// them): as [`Scanner::unused_str`], but not kept by [`read_inspect`] either.
    fn unused_by_rows_str(&mut self) -> Option<Option<String>> {
        self.str_kept_if(!(self.keys_only || self.rows_only))
    }

    /// A string or null, checked as [`Scanner::opt_str`] checks it, and kept if `keep`.
    fn str_kept_if(&mut self, keep: bool) -> Option<Option<String>> {
        if keep {
            return self.opt_str();
        }
        if !self.null() {
            self.string()?;
        }
        Some(None)
    }

    /// true, false or null.
    fn opt_bool(&mut self) -> Option<Option<bool>> {
        let rest = &self.b[self.i..];
        let (value, len) = if rest.starts_with(b"true") {
            (Some(true), 4)
        } else if rest.starts_with(b"false") {
            (Some(false), 5)
        } else if rest.starts_with(b"null") {
            (None, 4)
        } else {
            return None;
        };
        self.i += len;
        Some(value)
    }

    /// A non-negative integer that fits a u64, or null.
    fn opt_index(&mut self) -> Option<Option<u64>> {
        if self.null() {
            return Some(None);
        }
        let start = self.i;
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.i += 1;
                }
            }
            _ => return None,
        }
        // A fraction or exponent makes it a float: the slow way's error.
        if let Some(b'.' | b'e' | b'E' | b'0'..=b'9') = self.peek() {
            return None;
        }
        self.text[start..self.i].parse().ok().map(Some)
    }

    /// Steps over any value, checking it is JSON as the parser accepts it, at most `depth`
    /// containers deep.
    fn skip(&mut self, depth: usize) -> Option<()> {
        let mut open: Vec<u8> = Vec::new();
        loop {
            self.ws();
            // A value starts here.
            match self.peek()? {
                c @ (b'{' | b'[') => {
                    if open.len() >= depth {
                        return None;
                    }
                    self.i += 1;
                    self.ws();
                    let close = if c == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.i += 1;
                    } else {
                        open.push(close);
                        if close == b'}' {
                            self.string()?;
                            self.eat(b':')?;
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b'-' | b'0'..=b'9' => self.number()?,
                _ => {
                    let rest = &self.b[self.i..];
                    let word: &[u8] = [&b"true"[..], b"false", b"null", b"NaN", b"Infinity"]
                        .into_iter()
                        .find(|w| rest.starts_with(w))?;
                    self.i += word.len();
                }
            }
            // A value ended: continue or close the containers around it.
            loop {
                let Some(&close) = open.last() else {
                    return Some(());
                };
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        if close == b'}' {
                            self.ws();
                            self.string()?;
                            self.eat(b':')?;
                        }
                        break;
                    }
                    c if c == close => {
                        self.i += 1;
                        open.pop();
                    }
                    _ => return None,
                }
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?` or `-Infinity`.
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
            if self.b[self.i..].starts_with(b"Infinity") {
                self.i += 8;
                return Some(());
            }
        }
        let digits = |s: &mut Self| {
            let start = s.i;
            while let Some(b'0'..=b'9') = s.peek() {
                s.i += 1;
            }
            s.i > start
        };
        match self.peek()? {
            b'0' => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return None;
                }
            }
            b'1'..=b'9' => {
                digits(self);
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !digits(self) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        Some(())
    }

    /// An object (or null) that stands for inputs or flow parameters, `depth` containers deep:
    /// left as a span when `lean` and its text is canonical (or, reading unchecked, plain JSON
    /// with keys in order, for the engine to prove by its hash), else read into a value.
    fn encoded(&mut self, lean: bool, depth: usize) -> Option<(Option<Value>, Option<Span>)> {
        if self.null() {
            return Some((None, None));
        }
        if self.peek()? != b'{' {
            return None;
        }
        let start = self.i;
        if lean {
            let rest = &self.text[start..];
            let within = MAX_DEPTH.saturating_sub(depth);
            // A big object is checked while it is hashed, on two cores (check_and_hash).
            // Big ones too: their end is found at several times md5's speed, and their md5,
            // taken in the batch, is then all they cost (not md5 beside the check).
            let mut end = |rest: &str| {
                if self.skim {
                    object_end_spaced(rest.as_bytes())
                } else {
                    let guess = self.guess_end.then(|| guessed_inputs_end(rest)).flatten();
                    self.guessed |= guess.is_some();
                    guess.or_else(|| object_end(rest.as_bytes()))
                }
            };
            if self.defer
                && depth == INPUTS_DEPTH
                && let Some(len) = end(rest)
            {
                self.i += len;
                return Some((None, Some((SpanText::Unscanned(start..start + len), None))));
            }
            if self.unchecked && rest.len() < BIG_TEXT {
                if let Some(len) = spaced_object_len(rest, within) {
                    self.i += len;
                    return Some((None, Some((SpanText::Unchecked(start..start + len), None))));
                }
                // Written with other whitespace (`indent=2`): its tokens, respaced.
                let respace = |text: &str, out: &mut String| respaced_object_len(text, within, out);
                if let Some(span) = self.respaced(rest, respace, SpanText::UncheckedRespaced) {
                    return Some((None, Some(span)));
                }
            }
            let check = |text: &str| canonical_len_within(text, within);
            let found = if rest.len() >= BIG_TEXT {
                check_and_hash(rest, check).map(|(len, hash)| (len, Some(hash)))
            } else {
                check(rest).map(|len| (len, None))
            };
            if let Some((len, hash)) = found {
                self.i += len;
                return Some((None, Some((SpanText::At(start..start + len), hash))));
            }
            // Written with other whitespace (`indent=2`): canonical tokens are respaced.
            let respace =
                |text: &str, out: &mut String| canonical_respaced_within(text, within, out);
            if let Some(span) = self.respaced(rest, respace, SpanText::Respaced) {
                return Some((None, Some(span)));
            }
        }
        self.skip(MAX_DEPTH.saturating_sub(depth))?;
        let value = parse(&self.text[start..self.i]).ok()?;
        Some((Some(value), None))
    }

    /// The object at the start of `rest` respaced by `respace` (as `json.dumps` spaces it,
    /// returning how much of `rest` it took), as the span `kind` makes; the position moves past it.
    fn respaced(
        &mut self,
        rest: &str,
        respace: impl FnOnce(&str, &mut String) -> Option<usize>,
        kind: fn(String) -> SpanText,
    ) -> Option<Span> {
        let mut out = String::with_capacity(rest.len().min(1 << 16));
        let len = respace(rest, &mut out)?;
        self.i += len;
        Some((kind(out), None))
    }

    fn record(&mut self, lean: bool) -> Option<FastRecord> {
        let mut seen = 0u32;
        let mut format_ok = false;
        let mut recorded_at = None;
        let mut environment = Environment::default();
        let mut project_root = None;
        let mut flow = None;
        let mut flow_parameters = None;
        let mut task = None;
        let mut task_run = TaskRunInfo::default();
        let mut inputs = None;
        let mut inputs_span = None;
        let mut policy = None;
        let mut key = None;
        let mut outcome = Outcome::default();
        let mut transaction = None;
        self.object(|s, field| {
            match &*field {
                "format" => {
                    first(&mut seen, 1)?;
                    format_ok = s.string()? == FORMAT_V1;
                }
                "recorded_at" => {
                    first(&mut seen, 1 << 1)?;
                    recorded_at = s.unused_str()?;
                }
                "environment" => {
                    first(&mut seen, 1 << 2)?;
                    if !s.null() {
                        environment = s.environment()?;
                    }
                }
                "project_root" => {
                    first(&mut seen, 1 << 3)?;
                    project_root = s.unused_by_rows_str()?;
                }
                "flow" => {
                    first(&mut seen, 1 << 4)?;
                    if !s.null() {
                        let (info, span) = s.flow(lean)?;
                        flow = Some(info);
                        flow_parameters = span;
                    }
                }
                "task" => {
                    first(&mut seen, 1 << 5)?;
                    task = Some(s.task()?);
                }
                "task_run" => {
                    first(&mut seen, 1 << 6)?;
                    if !s.null() {
                        task_run = s.task_run()?;
                    }
                }
                "inputs" => {
                    first(&mut seen, 1 << 7)?;
                    // Left unscanned only where an md5 may prove them: as the policy says
                    // when it came first, else as the record's last bytes suggest.
                    let defer = s.defer;
                    s.defer &= s.skim
                        || if seen & 1 << 8 != 0 {
                            policy.as_ref().is_some_and(inputs_provable)
                        } else {
                            !no_inputs_policy_near_end(s.text)
                        };
                    (inputs, inputs_span) = s.encoded(lean, INPUTS_DEPTH)?;
                    s.defer = defer;
                }
                "policy" => {
                    first(&mut seen, 1 << 8)?;
                    if !s.null() {
                        policy = Some(s.node(0)?);
                    }
                }
                "key" => {
                    first(&mut seen, 1 << 9)?;
                    key = s.opt_str()?;
                }
                "outcome" => {
                    first(&mut seen, 1 << 10)?;
                    if !s.null() {
                        outcome = s.outcome()?;
                    }
                }
                "transaction" => {
                    first(&mut seen, 1 << 11)?;
                    if !s.null() {
                        transaction = Some(s.transaction()?);
                    }
                }
                _ => s.skip(MAX_DEPTH - 1)?,
            }
            Some(())
        })?;
        // Required: format, task, policy and key (null is an answer for the last two).
        let required = 1 | 1 << 5 | 1 << 8 | 1 << 9;
        if !format_ok || seen & required != required {
            return None;
        }
        let record = RunRecord {
            recorded_at,
            environment,
            project_root,
            flow,
            task: task?,
            task_run,
            inputs,
            policy,
            key,
            outcome,
            transaction: transaction.map(Box::new),
        };
        Some(FastRecord {
            record: Box::new(record),
            inputs: inputs_span,
            flow_parameters,
            task_source: self.source_span.take().map(|at| (SpanText::At(at), None)),
        })
    }

    fn environment(&mut self) -> Option<Environment> {
        let mut env = Environment::default();
        let mut seen = 0;
        self.object(|s, field| {
            match &*field {
                "prefect" => {
                    first(&mut seen, 1)?;
                    env.prefect = s.unused_by_rows_str()?;
                }
                "python" => {
                    first(&mut seen, 2)?;
                    env.python = s.unused_by_rows_str()?;
                }
                _ => s.skip(MAX_DEPTH - 2)?,
            }
            Some(())
        })?;
        Some(env)
    }

    fn flow(&mut self, lean: bool) -> Option<(FlowInfo, Option<Span>)> {
        let mut info = FlowInfo {
            name: None,
            run_id: None,
            run_name: None,
            parameters: None,
        };
        let mut span = None;
        let mut seen = 0;
        self.object(|s, field| {
            match &*field {
                "name" => {
                    first(&mut seen, 1)?;
                    info.name = s.opt_str()?;
                }
                "run_id" => {
                    first(&mut seen, 2)?;
                    info.run_id = s.opt_str()?;
                }
                "run_name" => {
                    first(&mut seen, 4)?;
                    info.run_name = s.opt_str()?;
                }
                "parameters" => {
                    first(&mut seen, 8)?;
                    (info.parameters, span) = s.encoded(lean, 2)?;
                }
                _ => s.skip(MAX_DEPTH - 2)?,
            }
            Some(())
        })?;
        Some((info, span))
    }

    fn task(&mut self) -> Option<TaskInfo> {
        let mut name = None;
        let mut task = TaskInfo {
            name: String::new(),
            task_key: None,
            qualname: None,
            file: None,
            line: None,
            source: None,
            result_storage_key: None,
        };
        let mut seen = 0;
        self.object(|s, field| {
            match &*field {
                "name" => {
                    first(&mut seen, 1)?;
                    name = Some(s.string()?.into_owned());
                }
                "task_key" => {
                    first(&mut seen, 2)?;
                    task.task_key = s.unused_str()?;
                }
                "qualname" => {
                    first(&mut seen, 4)?;
                    task.qualname = s.unused_by_rows_str()?;
                }
                "file" => {
                    first(&mut seen, 8)?;
                    task.file = s.unused_by_rows_str()?;
                }
                "line" => {
                    first(&mut seen, 16)?;
                    task.line = s.opt_index()?;
                }
                "source" => {
                    first(&mut seen, 32)?;
                    // Wanted for its key alone, and written as json.dumps writes it: the
                    // text is what TaskSource's message holds, and nothing needs decoding.
                    if s.raw_source
                        && s.peek() == Some(b'"')
                        && let Some(end) = string_end::<true>(s.b, s.i)
                    {
                        s.source_span = Some(s.i..end);
                        s.i = end;
                    } else {
                        task.source = s.opt_str()?;
                    }
                }
                "result_storage_key" => {
                    first(&mut seen, 64)?;
                    if !s.null() {
                        task.result_storage_key = Some(Box::new(s.storage_key()?));
                    }
                }
                _ => s.skip(MAX_DEPTH - 2)?,
            }
            Some(())
        })?;
        task.name = name?;
        Some(task)
    }

    fn storage_key(&mut self) -> Option<StorageKeyTemplate> {
        let mut template = None;
        let mut reproducible = None;
        let mut reason = None;
        let mut seen = 0;
        self.object(|s, field| {
            match &*field {
                "template" => {
                    first(&mut seen, 1)?;
                    template = Some(s.string()?.into_owned());
                }
                "reproducible" => {
                    first(&mut seen, 2)?;
                    reproducible = s.opt_bool()?;
                }
                "reason" => {
                    first(&mut seen, 4)?;
                    reason = s.opt_str()?;
                }
                _ => s.skip(MAX_DEPTH - 3)?,
            }
            Some(())
        })?;
        Some(StorageKeyTemplate {
            template: template?,
            reproducible: reproducible.unwrap_or(true),
            reason,
        })
    }

    fn task_run(&mut self) -> Option<TaskRunInfo> {
        let mut run = TaskRunInfo::default();
        let mut seen = 0;
        self.object(|s, field| {
            match &*field {
                "id" => {
                    first(&mut seen, 1)?;
                    run.id = s.opt_str()?;
                }
                "name" => {
                    first(&mut seen, 2)?;
                    run.name = s.opt_str()?;
                }
                "dynamic_key" => {
                    first(&mut seen, 4)?;
                    run.dynamic_key = s.unused_by_rows_str()?;
                }
                "call_index" => {
                    first(&mut seen, 8)?;
                    run.call_index = s.opt_index()?;
                }
                "map_index" => {
                    first(&mut seen, 16)?;
                    run.map_index = s.opt_index()?;
                }
                _ => s.skip(MAX_DEPTH - 2)?,
            }
            Some(())
        })?;
        Some(run)
    }

    fn outcome(&mut self) -> Option<Outcome> {
        let mut o = Outcome::default();
        let mut seen = 0;
        self.object(|s, field| {
            match &*field {
                "state" => {
                    first(&mut seen, 1)?;
                    o.state = s.unused_str()?;
                }
                "cache_hit" => {
                    first(&mut seen, 2)?;
                    o.cache_hit = s.opt_bool()?.unwrap_or(false);
                }
                "cache_expiration" => {
                    first(&mut seen, 4)?;
                    o.cache_expiration = s.unused_by_rows_str()?;
                }
                "refresh_cache" => {
                    first(&mut seen, 8)?;
                    o.refresh_cache = s.opt_bool()?.unwrap_or(false);
                }
                "result_storage" => {
                    first(&mut seen, 16)?;
                    o.result_storage = s.unused_by_rows_str()?;
                }
                _ => s.skip(MAX_DEPTH - 2)?,
            }
            Some(())
        })?;
        Some(o)
    }

    fn transaction(&mut self) -> Option<TransactionInfo> {
        let mut t = TransactionInfo::default();
        let mut seen = 0;
        self.object(|s, field| {
            match &*field {
                "id" => {
                    first(&mut seen, 1)?;
                    t.id = s.unused_by_rows_str()?;
                }
                "key" => {
                    first(&mut seen, 2)?;
                    t.key = s.unused_by_rows_str()?;
                }
                "outcome" => {
                    first(&mut seen, 4)?;
                    t.outcome = s.unused_by_rows_str()?;
                }
                "failed" => {
                    first(&mut seen, 8)?;
                    if !s.null() {
                        t.failed = Some(s.failed()?);
                    }
                }
                _ => s.skip(MAX_DEPTH - 2)?,
            }
            Some(())
        })?;
        Some(t)
    }

    fn failed(&mut self) -> Option<FailedRun> {
        let mut f = FailedRun::default();
        let mut seen = 0;
        self.object(|s, field| {
            match &*field {
                "task" => {
                    first(&mut seen, 1)?;
                    f.task = s.unused_by_rows_str()?;
                }
                "task_run" => {
                    first(&mut seen, 2)?;
                    f.task_run = s.unused_by_rows_str()?;
                }
                "state" => {
                    first(&mut seen, 4)?;
                    f.state = s.unused_by_rows_str()?;
                }
                _ => s.skip(MAX_DEPTH - 3)?,
            }
            Some(())
        })?;
        Some(f)
    }

    /// One policy node, `depth` nodes below the root.
    fn node(&mut self, depth: usize) -> Option<PolicyNode> {
        if depth > MAX_POLICY_DEPTH {
            return None;
        }
        // Owned only for a class this does not know (a known one is its kind).
        let mut class: Option<Cow<'a, str>> = None;
        let mut exclude: Option<Vec<String>> = None;
        let mut function = None;
        let mut policies: Option<Vec<PolicyNode>> = None;
        let mut key = None;
        let mut reproducible = None;
        let mut configure = Configure::default();
        let mut reason = None;
        let mut seen = 0;
        self.object(|s, field| {
            match &*field {
                "policy" => {
                    first(&mut seen, 1)?;
                    class = Some(s.string()?);
                }
                "exclude" => {
                    first(&mut seen, 2)?;
                    exclude = Some(s.str_list()?);
                }
                "function" => {
                    first(&mut seen, 4)?;
                    function = s.opt_str()?;
                }
                "policies" => {
                    first(&mut seen, 8)?;
                    let mut children = Vec::new();
                    s.eat(b'[')?;
                    s.ws();
                    if s.peek() == Some(b']') {
                        s.i += 1;
                    } else {
                        loop {
                            s.ws();
                            children.push(s.node(depth + 1)?);
                            s.ws();
                            match s.peek()? {
                                b',' => s.i += 1,
                                b']' => {
                                    s.i += 1;
                                    break;
                                }
                                _ => return None,
                            }
                        }
                    }
                    // Kept with its record: no room for children that never come.
                    children.shrink_to_fit();
                    policies = Some(children);
                }
                "key" => {
                    first(&mut seen, 16)?;
                    key = s.opt_str()?;
                }
                "reproducible" => {
                    first(&mut seen, 32)?;
                    reproducible = s.opt_bool()?;
                }
                "key_storage" => {
                    first(&mut seen, 64)?;
                    configure.key_storage = s.opt_str()?;
                }
                "isolation_level" => {
                    first(&mut seen, 128)?;
                    configure.isolation_level = s.opt_str()?;
                }
                "lock_manager" => {
                    first(&mut seen, 256)?;
                    configure.lock_manager = s.opt_str()?;
                }
                "reason" => {
                    first(&mut seen, 512)?;
                    reason = s.opt_str()?;
                }
                // Deep unknown fields are the slow way's to judge.
                _ => s.skip(MAX_DEPTH / 2)?,
            }
            Some(())
        })?;
        let class = class?;
        let kind = match &*class {
            "Inputs" => PolicyKind::Inputs {
                exclude: exclude.unwrap_or_default(),
            },
            "TaskSource" => PolicyKind::TaskSource,
            "FlowParameters" => PolicyKind::FlowParameters,
            "RunId" => PolicyKind::RunId,
            "CacheKeyFnPolicy" => PolicyKind::CacheKeyFn { function },
            "_None" => PolicyKind::NoCache,
            "CompoundCachePolicy" => PolicyKind::Compound {
                policies: policies?,
            },
            _ => PolicyKind::Other {
                class: class.into_owned(),
            },
        };
        Some(PolicyNode {
            kind,
            configure: configure.into(),
            recorded: Some(Recorded {
                key,
                reproducible: reproducible.unwrap_or(true),
                reason,
            }),
        })
    }

    /// A list of strings, or null (an empty list).
    fn str_list(&mut self) -> Option<Vec<String>> {
        if self.null() {
            return Some(Vec::new());
        }
        let mut items = Vec::new();
        self.eat(b'[')?;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Some(items);
        }
        loop {
            self.ws();
            items.push(self.string()?.into_owned());
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(items);
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUTS: &str =
        r#"{"policy": "Inputs", "key": "5f3c", "reproducible": true, "exclude": []}"#;
    const SOURCE: &str = r#"{"policy": "TaskSource", "key": "9a1b", "reproducible": true}"#;

    /// A record with its fields in the recorder's order, the policy after the inputs, and then
    /// its `outcome`.
    fn recorded(policy: &str, outcome: &str) -> String {
        format!(
            r#"{{"format": "cachescope/run-record@1", "task": {{"name": "t"}}, "inputs": {{"a": 1, "b": [2.5, "x"]}}, "policy": {policy}, "key": null, "outcome": {outcome}}}"#
        )
    }

    /// The same with the policy first.
    fn policy_first(policy: &str, inputs: &str) -> String {
        format!(
            r#"{{"format": "cachescope/run-record@1", "policy": {policy}, "task": {{"name": "t"}}, "inputs": {inputs}, "key": null}}"#
        )
    }

    /// How [`read_deferred`] left the inputs; where it scanned them, it read what
    /// [`read_unchecked`] reads.
    fn left(text: &str) -> &'static str {
        let deferred = read_deferred(text).expect("a well-formed record");
        match deferred.inputs {
            Some((SpanText::Unscanned(_), None)) => "unscanned",
            Some((SpanText::Unchecked(_), None)) => {
                let unchecked = read_unchecked(text).expect("read unchecked");
                assert_eq!(deferred.record, unchecked.record, "{text}");
                assert_eq!(deferred.inputs, unchecked.inputs, "{text}");
                "scanned"
            }
            other => panic!("{other:?} in {text}"),
        }
    }

    #[test]
    fn an_escaped_string_is_decoded_into_room_for_it_all() {
        for (json, decoded) in [
            (r#""a\nb""#, "a\nb"),
            (r#""q\"d\" ""#, "q\"d\" "),
            (r#""\\""#, "\\"),
            (r#""x\\\"y""#, "x\\\"y"),
            (r#""\\\\"#, ""),
            (r#""caf\u00e9 \ud83d\ude00""#, "caf\u{e9} \u{1f600}"),
        ] {
            let escape = json.find('\\').expect("an escape");
            let text = format!("{json}, 1");
            let mut s = Scanner {
                text: &text,
                b: text.as_bytes(),
                i: 0,
                unchecked: false,
                defer: false,
                skim: false,
                keys_only: false,
                rows_only: false,
                raw_source: false,
                guess_end: false,
                guessed: false,
                source_span: None,
            };
            if decoded.is_empty() {
                // No closing quote: the slow way's to report.
                assert_eq!(closing_quote(text.as_bytes(), escape), None, "{json}");
                assert_eq!(s.string(), None, "{json}");
                continue;
            }
            assert_eq!(
                closing_quote(text.as_bytes(), escape),
                Some(json.len() - 1),
                "{json}"
            );
            let Some(Cow::Owned(read)) = s.string() else {
                panic!("{json} not decoded");
            };
            assert_eq!(read, decoded);
            assert_eq!(s.i, json.len(), "{json}");
            assert!(
                read.capacity() <= json.len() - 2,
                "{json}: {}",
                read.capacity()
            );
        }
    }

    #[test]
    fn inputs_are_left_unscanned_where_the_policy_may_prove_them_and_scanned_at_once_elsewhere() {
        let none = r#"{"state": "Completed"}"#;
        // As the recorder writes records: the policy's last bytes decide.
        assert_eq!(left(&recorded(INPUTS, none)), "unscanned");
        let compound = format!(
            r#"{{"policy": "CompoundCachePolicy", "key": "77", "policies": [{INPUTS}, {SOURCE}]}}"#
        );
        assert_eq!(left(&recorded(&compound, none)), "unscanned");
        assert_eq!(left(&recorded(SOURCE, none)), "scanned");
        assert_eq!(left(&recorded("null", none)), "scanned");
        // A policy read before the inputs decides, whatever the last bytes say.
        let mentions_inputs = r#"{"note": "\"Inputs\""}"#;
        assert_eq!(left(&policy_first(INPUTS, "{}")), "scanned");
        let long = format!(r#"{{"a": "{}"}}"#, "x".repeat(POLICY_TAIL));
        assert_eq!(left(&policy_first(INPUTS, &long)), "unscanned");
        assert_eq!(left(&policy_first(SOURCE, mentions_inputs)), "scanned");
        assert_eq!(left(&policy_first("null", mentions_inputs)), "scanned");
        // A wrong guess only costs time. An Inputs node further from the end than the guess
        // looks: scanned at once, and read as reading unchecked reads it.
        let long = format!(r#"{{"state": "{}"}}"#, "x".repeat(POLICY_TAIL));
        assert_eq!(left(&recorded(INPUTS, &long)), "scanned");
        // "Inputs" near the end but no such policy: found the end of first, as before the
        // guess, then scanned, since no md5 proves them.
        let named = r#"{"state": "\"Inputs\""}"#;
        assert_eq!(left(&recorded(SOURCE, named)), "scanned");
    }

    /// A record with `inputs` and then `tail`, on one line.
    fn inputs_then(inputs: &str, tail: &str) -> String {
        format!(
            r#"{{"format": "cachescope/run-record@1", "task": {{"name": "t"}}, "inputs": {inputs}, {tail}}}"#
        )
    }

    /// Where [`read_deferred`] took the inputs to end, as text.
    fn deferred_inputs(text: &str) -> &str {
        match read_deferred(text).expect("a well-formed record").inputs {
            Some((SpanText::Unscanned(at), None)) => &text[at],
            other => panic!("{other:?} in {text}"),
        }
    }

    #[test]
    fn a_guessed_end_of_the_inputs_is_kept_only_where_it_is_proved() {
        let tail = format!(r#""policy": {INPUTS}, "key": null"#);
        // As the recorder writes a record: the guess is the object's end.
        let inputs = r#"{"a": {"x": 1}, "b": "}, \"policy\": "}"#;
        assert_eq!(deferred_inputs(&inputs_then(inputs, &tail)), inputs);
        // An argument named `policy` after an object: the guess is wrong, and the rest of the
        // record does not read from there. It is read again without guessing.
        for inputs in [
            r#"{"a": {"x": 1}, "policy": 2}"#,
            r#"{"a": {"x": 1}, "policy": {"key": "x", "policy": "Inputs"}}"#,
            r#"{"a": {"x": 1}, "policy": {"key": "x", "policy": "Inputs"}, "z": 3}"#,
        ] {
            let text = inputs_then(inputs, &tail);
            assert_eq!(deferred_inputs(&text), inputs);
            let read = read_deferred(&text)
                .unwrap()
                .scanned(&text)
                .expect("scanned");
            assert_eq!(read.record, read_unchecked(&text).unwrap().record, "{text}");
        }
        // Fields in another order: the guess takes the outcome in, and the rest reads. The
        // inputs' pass finds it out (so would their md5), and the record is read again.
        let inputs = r#"{"a": 1}"#;
        let text = inputs_then(
            inputs,
            &format!(r#""outcome": {{"state": "Completed"}}, "policy": {INPUTS}, "key": "k""#),
        );
        assert_eq!(
            deferred_inputs(&text),
            r#"{"a": 1}, "outcome": {"state": "Completed"}"#
        );
        assert!(read_deferred(&text).unwrap().scanned(&text).is_none());
        let again = read_unchecked(&text).expect("read unchecked");
        assert_eq!(again.record.outcome.state.as_deref(), Some("Completed"));
        let again_inputs = again.inputs.map(|(at, _)| at.text(&text).to_string());
        assert_eq!(again_inputs.as_deref(), Some(inputs));
        // Not on one line: no guess, as no end is found for such inputs.
        let text = inputs_then("{\n \"a\": {}}", &tail);
        assert!(!matches!(
            read_deferred(&text).and_then(|r| r.inputs),
            Some((SpanText::Unscanned(_), _))
        ));
    }
}
