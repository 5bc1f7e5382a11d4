//! Finding and loading run records: `.json` files (one record), `.jsonl` files (one per line),
//! and folders searched recursively. A bad record becomes a [`LoadError`] naming the file, the
//! line and column where known, and the reason; the other records still load.
//!
//! For parallel loading the files are cut into [`Unit`]s of work: small `.json` files in
//! groups, big `.jsonl` files in runs of whole lines of about [`BLOCK`] bytes, read in turn so
//! that a folder of one huge `.jsonl` file keeps every core busy and memory stays flat.

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::engine::{CanonicalJson, CanonicalTexts};
use crate::hash::HashBatch;
use crate::par::{Spread, default_workers, stream_ordered};
use crate::pyjson::{CanonicalSpans, parse, parse_record_lean};
use crate::pyjson::{Span, SpanText};
use crate::record::RunRecord;
use crate::record_fast::Reading;

/// Where a record came from: a file, and for `.jsonl` the 1-based line.
#[derive(Debug, Clone, Eq)]
pub struct RecordSource {
    /// Shared by the records of one `.jsonl` unit: a path per record was an allocation per
    /// record, and the inspector keeps every run's source.
    pub path: Arc<Path>,
    pub line: Option<usize>,
}

/// The line first, then the path: equal bytes are equal paths, and only paths that differ in
/// their bytes are compared component by component (as `Path` compares them, so equality is
/// `Path`'s, and agrees with [`Hash`] and [`Ord`]). Pairing a new run looks for its own record
/// among every run of its task: compared path first, the 10,000 runs of a new `.jsonl` file
/// spent a quarter of `watch`'s time walking path components.
impl PartialEq for RecordSource {
    fn eq(&self, other: &Self) -> bool {
        self.line == other.line
            && (Arc::ptr_eq(&self.path, &other.path)
                || self.path.as_os_str() == other.path.as_os_str()
                || self.path == other.path)
    }
}

/// As `Path` hashes (its components), then the line: equal sources hash alike.
impl std::hash::Hash for RecordSource {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.path.hash(state);
        self.line.hash(state);
    }
}

/// By path, then line. The records of one `.jsonl` file share its path: equal bytes are
/// equal paths, found with one comparison instead of a walk over the components (sorting a
/// task's runs compares sources whenever their times tie, as they do in a burst of runs).
impl Ord for RecordSource {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let path = if self.path.as_os_str() == other.path.as_os_str() {
            std::cmp::Ordering::Equal
        } else {
            self.path.cmp(&other.path)
        };
        path.then(self.line.cmp(&other.line))
    }
}

impl PartialOrd for RecordSource {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl RecordSource {
    /// The folder relative paths in the record are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }

    /// Its text as [`fmt::Display`] writes it, made at once in a string of its size (`keys`
    /// writes one a record: through the formatter, the string grew as it was written).
    pub fn label(&self) -> String {
        let Some(path) = self.path.to_str() else {
            return self.to_string();
        };
        let mut digits = itoa::Buffer::new();
        let line = self.line.map(|line| digits.format(line));
        let mut label = String::with_capacity(path.len() + line.map_or(0, |l| l.len() + 1));
        label.push_str(path);
        if let Some(line) = line {
            label.push(':');
            label.push_str(line);
        }
        label
    }
}

impl fmt::Display for RecordSource {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        // A UTF-8 path as it is; `display` would check it again, chunk by chunk, for each of
        // the 100,000 runs the inspector lists.
        match self.path.to_str() {
            Some(path) => f.write_str(path)?,
            None => write!(f, "{}", self.path.display())?,
        }
        match self.line {
            Some(line) => write!(f, ":{line}"),
            None => Ok(()),
        }
    }
}

/// Why a file or record could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// One record slot: loaded, or the reason it could not be.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub source: RecordSource,
    pub record: Result<Box<RunRecord>, LoadError>,
    /// Where the record's text lies in its file, when it was read: a reader that keeps only
    /// this can read the record again ([`read_record_at`]).
    pub at: Option<RecordAt>,
}

/// Where a record's text lies in its file: a whole `.json` file, or one line of a `.jsonl`
/// file (without its line end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordAt {
    pub offset: u64,
    pub len: usize,
}

/// Reads a record's text again from where loading found it ([`Loaded::at`]). The file may have
/// changed since: the caller checks what it gets against what it kept.
pub fn read_record_at(path: &Path, at: RecordAt) -> Result<Vec<u8>, LoadError> {
    use std::io::{Read, Seek, SeekFrom};
    let (mut file, _) = open_regular(path)?;
    let mut bytes = vec![0; at.len];
    file.seek(SeekFrom::Start(at.offset))
        .and_then(|_| file.read_exact(&mut bytes))
        .map_err(|e| io_error(path, "cannot read the record again", &e))?;
    Ok(bytes)
}

/// Loads the record in `bytes`, the text of one record read again ([`read_record_at`]), lean:
/// `first_line` is the number of lines before it in its file.
pub fn visit_record_lean(
    path: &Path,
    first_line: usize,
    bytes: &[u8],
    mut visit: impl FnMut(Loaded, CanonicalTexts<'_>),
) {
    let out = &mut Direct(&mut visit);
    if is_jsonl(path) {
        load_lines_bytes(bytes, &Arc::from(path), first_line, 0, true, out);
    } else {
        load_bytes_with(path, bytes, true, out);
    }
}

/// The record files under `paths`, sorted, plus errors for paths that cannot be read.
/// A folder is searched recursively for `*.json` and `*.jsonl`; a file named directly is
/// taken whatever its extension. Only regular files are records: a FIFO or a device (or a
/// link to one) is never opened, since reading it can block forever or never end; one in a
/// folder is skipped with an error naming it, as ripgrep skips them.
pub fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<LoadError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut walk = Walk::default();
    for path in paths {
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                walk.enter(path);
                files.extend(&mut walk);
                errors.append(&mut walk.errors);
            }
            Ok(meta) if meta.is_file() => files.push(path.clone()),
            Ok(meta) => errors.push(not_regular(path, &meta, "cannot read")),
            Err(e) => errors.push(io_error(path, "cannot read", &e)),
        }
    }
    // One folder's files come out of the walk already in path order: this only confirms it.
    files.sort();
    files.dedup();
    (files, errors)
}

fn io_error(path: &Path, what: &str, e: &std::io::Error) -> LoadError {
    let reason = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    LoadError {
        path: path.to_path_buf(),
        line: None,
        column: None,
        message: format!("{what}: {reason}"),
    }
}

/// The error for a path that exists but is neither a folder nor a regular file.
fn not_regular(path: &Path, meta: &fs::Metadata, what: &str) -> LoadError {
    LoadError {
        path: path.to_path_buf(),
        line: None,
        column: None,
        message: format!("{what}: not a regular file ({})", file_kind(meta)),
    }
}

fn file_kind(meta: &fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        } else if t.is_char_device() {
            return "a character device";
        } else if t.is_block_device() {
            return "a block device";
        } else if t.is_socket() {
            return "a socket";
        }
    }
    let _ = meta;
    "not a file or folder"
}

/// Opens a record file only if it is a regular file: a FIFO is opened without blocking and a
/// device is never read, so neither can hang a run.
fn open_regular(path: &Path) -> Result<(fs::File, fs::Metadata), LoadError> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(O_NONBLOCK);
    }
    let file = options
        .open(path)
        .map_err(|e| io_error(path, "cannot read", &e))?;
    let meta = file
        .metadata()
        .map_err(|e| io_error(path, "cannot read", &e))?;
    if meta.is_dir() {
        return Err(LoadError {
            path: path.to_path_buf(),
            line: None,
            column: None,
            message: "cannot read: a folder, not a record file".to_string(),
        });
    }
    if !meta.is_file() {
        return Err(not_regular(path, &meta, "cannot read"));
    }
    Ok((file, meta))
}

/// Reads a record file, refusing anything that is not a regular file. The check is made on
/// the opened file (`fstat`), so a file swapped for a FIFO after [`discover`] cannot hang the
/// read; the open itself does not block on a FIFO because it is non-blocking.
fn read_regular(path: &Path) -> Result<Vec<u8>, LoadError> {
    use std::io::Read;
    let (file, meta) = open_regular(path)?;
    if meta.len() > MAX_RECORD_FILE {
        return Err(too_large(path));
    }
    // `take` guards a file that grows while it is read; the capacity is only a hint.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_RECORD_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, "cannot read", &e))?;
    if bytes.len() as u64 > MAX_RECORD_FILE {
        return Err(too_large(path));
    }
    Ok(bytes)
}

/// Record files read one after another into one buffer whose bytes stay initialised, kept by
/// each thread from one unit to the next: a file is then one `read` into memory already
/// there, where a buffer of its own was an allocation, the kernel's fresh pages and a second
/// `read` to find its end (on 100,000 `.json` files, a fifth of the system calls).
struct FileBuffer {
    /// Initialised up to its length; only `bytes[..valid]` holds files.
    bytes: Vec<u8>,
    valid: usize,
}

thread_local! {
    static FILE_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl FileBuffer {
    /// A buffer kept bigger than this goes back to the allocator (a huge record's file).
    const KEPT: usize = 16 << 20;

    /// This thread's buffer, empty.
    fn take() -> FileBuffer {
        FileBuffer {
            bytes: FILE_BUFFER.take(),
            valid: 0,
        }
    }

    /// Keeps the buffer for the thread's next unit.
    fn give_back(self) {
        if self.bytes.len() <= Self::KEPT {
            FILE_BUFFER.set(self.bytes);
        }
    }

    fn get(&self, at: &Range<usize>) -> &[u8] {
        &self.bytes[at.clone()]
    }

    /// Reads the record file at `path` after the files already read, refusing anything that
    /// is not a regular file (as [`read_regular`]); where its bytes are.
    fn read(&mut self, path: &Path) -> Result<Range<usize>, LoadError> {
        let (mut file, meta) = open_regular(path)?;
        if meta.len() > MAX_RECORD_FILE {
            return Err(too_large(path));
        }
        let start = self.valid;
        // One byte more than the file's size is asked for: a read that stops short of it at
        // that size has met the file's end, with no second read to learn it.
        let mut room = meta.len() as usize + 1;
        loop {
            if self.bytes.len() < self.valid + room {
                self.bytes.resize(self.valid + room, 0);
            }
            let n = loop {
                match file.read(&mut self.bytes[self.valid..self.valid + room]) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.valid = start;
                        return Err(io_error(path, "cannot read", &e));
                    }
                    Ok(n) => break n,
                }
            };
            self.valid += n;
            let got = (self.valid - start) as u64;
            if n == 0 || (got == meta.len() && n < room) {
                break;
            }
            if got > MAX_RECORD_FILE {
                self.valid = start;
                return Err(too_large(path));
            }
            // A short read before the size (or a file grown since): read on.
            room = if n < room { room - n } else { 64 << 10 };
        }
        Ok(start..self.valid)
    }
}

/// The largest record file read (4 GiB): a sparse or runaway file must not exhaust memory.
/// Real records are kilobytes; a `.jsonl` of a very large sweep stays far below this.
const MAX_RECORD_FILE: u64 = 4 << 30;

fn too_large(path: &Path) -> LoadError {
    LoadError {
        path: path.to_path_buf(),
        line: None,
        column: None,
        message: format!("cannot read: larger than {} GiB", MAX_RECORD_FILE >> 30),
    }
}

/// `O_NONBLOCK`, without a libc dependency for one constant.
#[cfg(any(target_os = "linux", target_os = "android"))]
const O_NONBLOCK: i32 = 0o4000;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const O_NONBLOCK: i32 = 0x0004;

/// The record files under folders, found as they are asked for, in the order [`discover`]
/// gives one folder's: a loader can start on the first files while the rest of the folder is
/// still being listed. Each folder is listed whole and its entries taken in name order, so
/// the files come out in path order. Symlinked folders are followed once: a loop must not
/// hang the search.
#[derive(Debug, Default)]
pub struct Walk {
    /// The listings being gone through, the innermost folder's last.
    stack: Vec<std::vec::IntoIter<fs::DirEntry>>,
    /// Folders listed, as their canonical paths.
    seen: HashSet<PathBuf>,
    /// What could not be listed or read, in the order it was met.
    pub errors: Vec<LoadError>,
}

impl Walk {
    /// The record files under the folder `dir`.
    pub fn new(dir: &Path) -> Walk {
        let mut walk = Walk::default();
        walk.enter(dir);
        walk
    }

    /// Goes into the folder `dir` next: its files come before the rest of the listing it is in.
    fn enter(&mut self, dir: &Path) {
        if let Ok(canonical) = fs::canonicalize(dir)
            && !self.seen.insert(canonical)
        {
            return;
        }
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => return self.errors.push(io_error(dir, "cannot list folder", &e)),
        };
        let mut listed = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => listed.push(entry),
                Err(e) => self.errors.push(io_error(dir, "cannot list folder", &e)),
            }
        }
        // In name order, so that the files come out of the walk already in path order (sorting
        // 100,000 paths from scratch compared their components about 1.7 million times).
        listed.sort_by_cached_key(fs::DirEntry::file_name);
        self.stack.push(listed.into_iter());
    }
}

impl Iterator for Walk {
    type Item = PathBuf;

    fn next(&mut self) -> Option<PathBuf> {
        loop {
            let Some(entry) = self.stack.last_mut()?.next() else {
                self.stack.pop();
                continue;
            };
            let path = entry.path();
            // The folder listing says what most entries are, with no call per file: a plain
            // file or folder needs no `stat` (100,000 record files took 100,000 of them).
            match entry.file_type() {
                Ok(t) if t.is_file() => {
                    if is_record_file(&path) {
                        return Some(path);
                    }
                    continue;
                }
                Ok(t) if t.is_dir() => {
                    self.enter(&path);
                    continue;
                }
                _ => {}
            }
            // Anything else follows symlinks; a dangling link is reported only if it looks like
            // a record.
            match fs::metadata(&path) {
                Ok(meta) if meta.is_dir() => self.enter(&path),
                Ok(meta) if meta.is_file() && is_record_file(&path) => return Some(path),
                Ok(meta) if is_record_file(&path) => {
                    self.errors.push(not_regular(&path, &meta, "skipped"))
                }
                Ok(_) => {}
                Err(e) if is_record_file(&path) => {
                    self.errors.push(io_error(&path, "cannot read", &e))
                }
                Err(_) => {}
            }
        }
    }
}

/// A file a folder search loads: `.json` or `.jsonl`.
pub fn is_record_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("json") | Some("jsonl")
    )
}

/// Loads every record in one file.
pub fn load_file(path: &Path) -> Vec<Loaded> {
    let mut out = Vec::new();
    load_file_with(path, false, &mut Direct(&mut |loaded, _| out.push(loaded)));
    out
}

/// Why a record file could not be read, as [`load_file`] says it.
pub fn read_error(path: &Path, e: &std::io::Error) -> LoadError {
    io_error(path, "cannot read", e)
}

/// Loads every record in the bytes of a file at `path` (its extension says `.json` or
/// `.jsonl`); the bytes are not read from it: the watcher fingerprints the very bytes it loads,
/// and the fuzz target enters here.
pub fn load_bytes(path: &Path, bytes: &[u8]) -> Vec<Loaded> {
    let mut out = Vec::new();
    load_bytes_with(
        path,
        bytes,
        false,
        &mut Direct(&mut |loaded, _| out.push(loaded)),
    );
    out
}

/// [`load_bytes`], lean: `visit` gets each record slot with its canonical texts borrowed from
/// `bytes` (as [`visit_unit_lean`] gives them, without the batch's hashing).
pub fn visit_bytes_lean(
    path: &Path,
    bytes: &[u8],
    mut visit: impl FnMut(Loaded, CanonicalTexts<'_>),
) {
    load_bytes_with(path, bytes, true, &mut Direct(&mut visit));
}

/// Where loading hands each record slot, in order, with its canonical texts when loaded lean
/// (empty otherwise). The texts borrow the bytes being read: what must outlive the call is
/// copied by the sink, and a sink that hashes them at once copies nothing.
type Sink<'s> = dyn FnMut(Loaded, CanonicalTexts<'_>) + 's;

/// Where a record's canonical inputs and flow parameters lie in the text it was read from, and
/// its task source's JSON string where it was left undecoded
/// ([`crate::record_fast::FastRecord::task_source`]).
type Spans = [Option<Span>; 3];

/// What reading gathers each record slot into, with the text the record was read from (which
/// lives at least as long as `'t`) and its spans in it.
trait Collect<'t> {
    fn put(&mut self, loaded: Loaded, text: &'t str, spans: Spans);

    /// How records are read lean. Unchecked unless the collector says otherwise: with their
    /// inputs unscanned ([`crate::record_fast::read_deferred`]) only for a collector that
    /// settles them; only skimmed ([`crate::record_fast::read_skim`]) for one that settles the
    /// inputs of those it keeps and drops the others; for their keys alone
    /// ([`crate::record_fast::read_keys`], a canonical task source left undecoded) for one
    /// that hashes such a source as it is.
    fn reading(&self) -> Reading {
        Reading::Unchecked
    }
}

/// Collects one slot (a record read again).
struct One<'t>(Option<(Loaded, &'t str, Spans)>);

impl<'t> Collect<'t> for One<'t> {
    fn put(&mut self, loaded: Loaded, text: &'t str, spans: Spans) {
        self.0 = Some((loaded, text, spans));
    }
}

fn texts<'a>(text: &'a str, spans: &'a Spans) -> CanonicalTexts<'a> {
    CanonicalTexts {
        inputs: borrowed(text, &spans[0]),
        flow_parameters: borrowed(text, &spans[1]),
        task_source: None,
        inputs_kept: None,
    }
}

/// Hands each slot to the sink as soon as it is read.
struct Direct<'s, 'k>(&'s mut Sink<'k>);

impl<'t> Collect<'t> for Direct<'_, '_> {
    fn put(&mut self, loaded: Loaded, text: &'t str, spans: Spans) {
        (self.0)(loaded, texts(text, &spans));
    }
}

/// Holds a unit's slots until it is read whole, then hashes what the engine will hash of
/// each record's bulk (inputs hashed whole, task sources) all at once ([`HashBatch`]: side by
/// side in SIMD lanes, several times faster than one by one) and hands the slots over in
/// order, the keys with them.
struct Batch<'t> {
    slots: Vec<(Loaded, &'t str, Spans)>,
    /// Deferred, or for their keys alone ([`visit_unit_keys`]).
    reading: Reading,
}

impl<'t> Collect<'t> for Batch<'t> {
    fn put(&mut self, loaded: Loaded, text: &'t str, spans: Spans) {
        self.slots.push((loaded, text, spans));
    }

    /// [`Batch::hand_over`] settles unscanned inputs, and hashes an undecoded task source as
    /// it is.
    fn reading(&self) -> Reading {
        self.reading
    }
}

/// Hands over only the records `keep` wants, read as [`load_unit_lean`] reads them: every
/// record is skimmed, and the inputs of a kept one are then given the pass a lean read gives
/// them (where that pass refuses them the record is read again, as a lean read would).
struct Skim<'s, 'k> {
    keep: &'s dyn Fn(&RunRecord) -> bool,
    visit: &'s mut Sink<'k>,
}

impl<'t> Collect<'t> for Skim<'_, '_> {
    fn put(&mut self, loaded: Loaded, text: &'t str, spans: Spans) {
        let Ok(record) = &loaded.record else {
            return;
        };
        if !(self.keep)(record) {
            return;
        }
        let mut slot = (loaded, text, spans);
        if unscanned(&slot.2) {
            settle(&mut slot);
        }
        let (loaded, text, spans) = slot;
        // Settled: read again, the record may differ (or be in error).
        if loaded.record.as_ref().is_ok_and(|r| (self.keep)(r)) {
            (self.visit)(loaded, texts(text, &spans));
        }
    }

    fn reading(&self) -> Reading {
        Reading::Skimmed
    }
}

/// The records of one unit that `keep` wants (of those read without error), each with its
/// canonical texts as [`visit_unit_lean`] gives them but with no key of its bulk worked out:
/// the others are only skimmed ([`crate::record_fast::read_skim`]), their inputs never read.
/// Errors are not handed over. `keys --live` looks for the few records with an opaque node.
pub fn visit_unit_kept(
    unit: Unit,
    keep: &dyn Fn(&RunRecord) -> bool,
    mut visit: impl FnMut(Loaded, CanonicalTexts<'_>),
) {
    let out = &mut Skim {
        keep,
        visit: &mut visit,
    };
    match unit {
        Unit::Files(paths) => {
            for path in paths {
                if let Ok(bytes) = read_regular(&path) {
                    load_bytes_with(&path, &bytes, true, out);
                }
            }
        }
        Unit::Lines {
            path,
            first_line,
            first_byte,
            bytes,
            ..
        } => load_lines_bytes(&bytes, &path, first_line, first_byte, true, out),
        Unit::Failed(_) => {}
    }
}

/// Whether a slot's inputs are unscanned ([`SpanText::Unscanned`]).
fn unscanned(spans: &Spans) -> bool {
    matches!(spans[0], Some((SpanText::Unscanned(_), _)))
}

/// Settles a slot's unscanned inputs that their md5 did not prove: the pass
/// [`crate::record_fast::read_unchecked`] gives them, or, where it refuses them, the record read
/// again as that reads it (and the slow way after it). True when the record was read again
/// (then nothing of it was hashed).
fn settle(slot: &mut (Loaded, &str, Spans)) -> bool {
    let (loaded, text, spans) = slot;
    if crate::record_fast::scan_inputs(text, &mut spans[0]) {
        return false;
    }
    let source = RecordSource {
        path: Arc::clone(&loaded.source.path),
        line: loaded.source.line,
    };
    let line_offset = source.line.map_or(0, |line| line.saturating_sub(1));
    let mut again = One(None);
    let path = Arc::clone(&source.path);
    load_text_into(
        text,
        &path,
        line_offset,
        true,
        source,
        loaded.at,
        &mut again,
    );
    *slot = again.0.expect("a record read gives its slot");
    true
}

impl Batch<'_> {
    /// Hands the slots over; `lean`, with the keys of their bulk (a whole record read as
    /// values hands over no texts, so nothing of it is hashed here).
    fn hand_over(mut self, lean: bool, out: &mut Sink) {
        if !lean {
            for (loaded, text, spans) in self.slots {
                out(loaded, texts(text, &spans));
            }
            return;
        }
        // The messages are parts of the records, a little more with their brackets and escapes.
        let room = self.slots.iter().map(|(_, text, _)| text.len() + 64).sum();
        let mut hashes = HashBatch::with_capacity(room);
        // Per slot: where the keys of its bulk will be among the hashes.
        let mut wanted: Vec<Wanted> = Vec::with_capacity(self.slots.len());
        for (loaded, text, spans) in &self.slots {
            let mut want = Wanted::default();
            if let Ok(record) = &loaded.record
                && let RunRecord {
                    policy: Some(policy),
                    task,
                    ..
                } = &**record
            {
                // Inputs not hashed yet (a big one was hashed while it was read).
                if let Some((at, None)) = &spans[0] {
                    let json = at.text(text);
                    if json != "{}" {
                        if crate::engine::hashes_inputs_whole(policy) {
                            want.inputs = Some(hashes.json_text(json));
                        }
                        if let Some(exclude) = crate::engine::inputs_exclusion(policy) {
                            want.kept = Some(hashes.kept_entries(json, exclude));
                        }
                    }
                }
                if let Some((at, None)) = &spans[1]
                    && crate::engine::hashes_flow_parameters(policy)
                {
                    let json = at.text(text);
                    if json != "{}" {
                        want.parameters = Some(hashes.json_text(json));
                    }
                }
                if crate::engine::hashes_task_source(policy) {
                    if let Some(source) = &task.source {
                        want.source = Some(hashes.strs(&[source]));
                    } else if let Some((at, None)) = &spans[2] {
                        // Written as json.dumps writes it: its message holds it as it is.
                        want.source = Some(hashes.json_text(at.text(text)));
                    }
                }
            }
            wanted.push(want);
        }
        let mut keys: Vec<Option<String>> = hashes.hex().into_iter().map(Some).collect();
        for ((_, _, spans), want) in self.slots.iter_mut().zip(&wanted) {
            for (k, span) in [want.inputs, want.parameters]
                .into_iter()
                .zip(spans.iter_mut())
            {
                if let (Some(k), Some((_, hash))) = (k, span) {
                    *hash = keys[k].take();
                }
            }
        }
        // Unscanned inputs hashed to the recorded key are what Prefect hashed; any other are
        // settled (a slot read again keeps none of the keys worked out for it).
        for (slot, want) in self.slots.iter_mut().zip(&mut wanted) {
            if !unscanned(&slot.2) {
                continue;
            }
            let proved = match (&slot.0.record, &mut slot.2[0]) {
                (Ok(record), Some((span @ SpanText::Unscanned(_), Some(hash)))) => {
                    let proved = record
                        .policy
                        .as_ref()
                        .is_some_and(|policy| crate::engine::inputs_proved_by(policy, hash));
                    if proved && let SpanText::Unscanned(range) = span {
                        *span = SpanText::Unchecked(range.clone());
                    }
                    proved
                }
                _ => false,
            };
            if !proved && settle(slot) {
                *want = Wanted::default();
            }
        }
        for ((loaded, text, spans), want) in self.slots.into_iter().zip(wanted) {
            let mut texts = texts(text, &spans);
            texts.task_source = want.source.and_then(|k| keys[k].as_deref());
            texts.inputs_kept = want.kept.and_then(|k| keys[k].as_deref());
            out(loaded, texts);
        }
    }
}

/// Where a slot's keys are among a batch's hashes: its inputs and flow parameters hashed whole,
/// its task source, and its inputs' kept entries ([`CanonicalTexts::inputs_kept`]).
#[derive(Default)]
struct Wanted {
    inputs: Option<usize>,
    parameters: Option<usize>,
    source: Option<usize>,
    kept: Option<usize>,
}

fn slot<'t>(out: &mut dyn Collect<'t>, source: RecordSource, error: LoadError) {
    let (record, at) = (Err(error), None);
    out.put(Loaded { source, record, at }, "", [None, None, None]);
}

/// Loads every record in one file into `out`; `lean` as in [`load_unit_lean`].
fn load_file_with(path: &Path, lean: bool, out: &mut Direct) {
    match read_regular(path) {
        Ok(bytes) => load_bytes_with(path, &bytes, lean, out),
        Err(e) => file_error(out, path, e),
    }
}

fn load_bytes_with<'t>(path: &Path, bytes: &'t [u8], lean: bool, out: &mut dyn Collect<'t>) {
    if is_jsonl(path) {
        return load_lines_bytes(bytes, &Arc::from(path), 0, 0, lean, out);
    }
    let text = match utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let (line, column) = line_col(bytes, e.valid_up_to());
            let error = LoadError {
                path: path.to_path_buf(),
                line: Some(line),
                column: Some(column),
                message: format!(
                    "not UTF-8 text (invalid byte 0x{:02x})",
                    bytes[e.valid_up_to()]
                ),
            };
            return file_error(out, path, error);
        }
    };
    let source = RecordSource {
        path: path.into(),
        line: None,
    };
    if text.trim().is_empty() {
        let error = LoadError {
            path: path.to_path_buf(),
            line: None,
            column: None,
            message: "empty file (a record still being written?)".to_string(),
        };
        return slot(out, source, error);
    }
    let at = RecordAt {
        offset: 0,
        len: bytes.len(),
    };
    load_text_into(text, path, 0, lean, source, Some(at), out);
}

/// UTF-8 validation, SIMD-accelerated (every byte of every record passes here); where the
/// bytes are not UTF-8, std's error says where.
fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    simdutf8::basic::from_utf8(bytes).or_else(|_| std::str::from_utf8(bytes))
}

/// A `.jsonl` file: one record a line.
fn is_jsonl(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()) == Some("jsonl")
}

/// Where the bytes being read begin in their file, to place each line in it.
#[derive(Debug, Clone, Copy)]
struct Origin {
    /// The address of the first byte read (only compared, never read through).
    start: usize,
    /// Its offset in the file.
    first_byte: u64,
}

impl Origin {
    fn of(bytes: &[u8], first_byte: u64) -> Origin {
        Origin {
            start: bytes.as_ptr() as usize,
            first_byte,
        }
    }

    /// Where `line`, a piece of the bytes read, lies in the file.
    fn at(self, line: &[u8]) -> RecordAt {
        RecordAt {
            offset: self.first_byte + (line.as_ptr() as usize - self.start) as u64,
            len: line.len(),
        }
    }
}

/// The records of whole lines of a `.jsonl` file; `first_line` is the number of lines before.
fn load_lines_text<'t>(
    text: &'t str,
    path: &Arc<Path>,
    first_line: usize,
    origin: Origin,
    lean: bool,
    out: &mut dyn Collect<'t>,
) {
    // Line ends found with SIMD (memchr): every byte of a `.jsonl` file passes here.
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len()));
    for (i, end) in ends.enumerate() {
        // A line end is ASCII, so both ends of a line are character boundaries.
        let line = &text[start..end];
        start = end + 1;
        if line.trim().is_empty() {
            continue;
        }
        let at = first_line + i;
        let source = RecordSource {
            path: Arc::clone(path),
            line: Some(at + 1),
        };
        let place = origin.at(line.as_bytes());
        load_text_into(line, path, at, lean, source, Some(place), out);
    }
}

/// Whole lines of a `.jsonl` file that may not be UTF-8: each line that is not is an error of
/// its own, naming its line and column, and the other lines still load.
fn load_lines_bytes<'t>(
    bytes: &'t [u8],
    path: &Arc<Path>,
    first_line: usize,
    first_byte: u64,
    lean: bool,
    out: &mut dyn Collect<'t>,
) {
    let origin = Origin::of(bytes, first_byte);
    if let Ok(text) = utf8(bytes) {
        return load_lines_text(text, path, first_line, origin, lean, out);
    }
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        match std::str::from_utf8(line) {
            Ok(text) => load_lines_text(text, path, first_line + i, origin, lean, out),
            Err(e) => {
                let (_, column) = line_col(line, e.valid_up_to());
                let at = first_line + i + 1;
                let error = LoadError {
                    path: path.to_path_buf(),
                    line: Some(at),
                    column: Some(column),
                    message: format!(
                        "not UTF-8 text (invalid byte 0x{:02x})",
                        line[e.valid_up_to()]
                    ),
                };
                let source = RecordSource {
                    path: Arc::clone(path),
                    line: Some(at),
                };
                slot(out, source, error);
            }
        }
    }
}

/// About how many bytes of a `.jsonl` file make one unit of work (a line is never cut, so a
/// unit holding one huge record is as big as that record).
pub const BLOCK: usize = 256 * 1024;

/// `.json` files per unit of work at most: enough to make the hand-over cheap next to the work.
/// On 100,000 `.json` files, 64 a unit took `keys` from 560 to 535 ms against 16 (hyperfine
/// side by side; system time 394 to 329 ms, fewer threads woken), and 256 back to 563 ms.
const FILES_PER_UNIT: usize = 64;

/// Units a folder of `.json` files is cut into at least, where it has that many files: so that
/// every core has its share of a small folder (a few big files each a unit of its own).
const MIN_FILE_UNITS: usize = 64;

/// How many `.json` files make a unit, when `json_files` of them are to be loaded.
fn files_per_unit(json_files: usize) -> usize {
    (json_files / MIN_FILE_UNITS).clamp(1, FILES_PER_UNIT)
}

/// How many of the first of `files` (none of them a `.jsonl` file at the start) go in one
/// unit: up to `per_unit`, stopping at a `.jsonl` file.
fn files_in_group(files: &[PathBuf], per_unit: usize) -> usize {
    files
        .iter()
        .take(per_unit)
        .take_while(|p| !is_jsonl(p))
        .count()
}

/// Whole files in the groups [`units`] reads them in (each `.jsonl` file alone), for a loader
/// that must read every file whole (the watch session, which fingerprints each file).
pub fn file_groups(files: &[PathBuf]) -> Vec<&[PathBuf]> {
    let per_unit = files_per_unit(files.iter().filter(|p| !is_jsonl(p)).count());
    let mut groups = Vec::new();
    let mut rest = files;
    while !rest.is_empty() {
        let n = if is_jsonl(&rest[0]) {
            1
        } else {
            files_in_group(rest, per_unit)
        };
        let (group, tail) = rest.split_at(n);
        groups.push(group);
        rest = tail;
    }
    groups
}

/// A piece of loading work: whole files, or a run of whole lines of a `.jsonl` file.
#[derive(Debug)]
pub enum Unit {
    Files(Vec<PathBuf>),
    Lines {
        path: Arc<Path>,
        /// Lines of the file before these.
        first_line: usize,
        /// Where these bytes begin in the file.
        first_byte: u64,
        bytes: Block,
        /// The line ends in `bytes`: about the number of records, for sizing what holds them.
        line_ends: usize,
        /// The file's length when it was opened (what a load's progress counts against).
        file_len: u64,
    },
    /// A `.jsonl` file that failed while being read.
    Failed(LoadError),
}

/// Cuts `files` into units of work, reading `.jsonl` files in runs of whole lines of about
/// `block` bytes as the units are pulled. Small files keep their order.
pub fn units(files: &[PathBuf], block: usize) -> impl Iterator<Item = Unit> + '_ {
    units_of(files.iter().cloned(), block)
}

/// [`units`] of files found as the units are pulled (a [`Walk`]): only as many files are
/// asked for ahead as settle how many `.json` files make a unit and fill the next one.
pub fn units_of(
    mut files: impl Iterator<Item = PathBuf>,
    block: usize,
) -> impl Iterator<Item = Unit> {
    // Files asked for and not yet in a unit.
    let mut ahead: std::collections::VecDeque<PathBuf> = std::collections::VecDeque::new();
    let mut exhausted = false;
    let mut per_unit = None;
    let mut reading: Option<LineBlocks> = None;
    let spare = Spare::default();
    std::iter::from_fn(move || {
        // How many `.json` files a unit takes depends on how many there are, up to the count
        // that gives the most per unit: as many are looked ahead for before the first unit.
        let per_unit = *per_unit.get_or_insert_with(|| {
            let enough = MIN_FILE_UNITS * FILES_PER_UNIT;
            let mut json_files = 0;
            while json_files < enough
                && let Some(path) = files.next()
            {
                json_files += usize::from(!is_jsonl(&path));
                ahead.push_back(path);
            }
            exhausted = json_files < enough;
            files_per_unit(json_files)
        });
        loop {
            if let Some(blocks) = &mut reading {
                match blocks.next() {
                    Some(unit) => return Some(unit),
                    None => reading = None,
                }
            }
            while !exhausted && ahead.len() < per_unit {
                match files.next() {
                    Some(path) => ahead.push_back(path),
                    None => exhausted = true,
                }
            }
            let path = ahead.front()?;
            if is_jsonl(path) {
                let path = ahead.pop_front().expect("a file ahead");
                match open_regular(&path) {
                    Ok((file, meta)) => {
                        reading = Some(LineBlocks::new(
                            &path,
                            file,
                            meta.len(),
                            block,
                            spare.clone(),
                        ));
                    }
                    Err(e) => return Some(Unit::Failed(e)),
                }
                continue;
            }
            let n = files_in_group(ahead.make_contiguous(), per_unit);
            return Some(Unit::Files(ahead.drain(..n).collect()));
        }
    })
}

/// The bytes of a run of lines. Once the unit is done with them, the buffer goes back to be
/// read into again: a fresh buffer costs the kernel a page fault and a page cleared for every
/// 4 KiB read into it (about a tenth of `keys`' time on 100,000 records).
#[derive(Debug)]
pub struct Block {
    /// Initialised memory, read into again and again: only `bytes[..valid]` is this block's.
    bytes: Vec<u8>,
    valid: usize,
    spare: Spare,
}

impl std::ops::Deref for Block {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..self.valid]
    }
}

/// Bytes of whole lines read elsewhere (a benchmark's, a test's): their buffer goes back to no
/// loading.
impl From<Vec<u8>> for Block {
    fn from(bytes: Vec<u8>) -> Block {
        Block {
            valid: bytes.len(),
            bytes,
            spare: Spare::default(),
        }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        self.spare.put(std::mem::take(&mut self.bytes));
    }
}

/// Buffers given back by the blocks of one loading, to be read into again.
#[derive(Debug, Clone, Default)]
struct Spare(Arc<Mutex<Vec<Vec<u8>>>>);

impl Spare {
    /// More than the units in flight at once: every block finds a buffer once they are back.
    const KEPT: usize = 64;

    /// A buffer used before if one is back (its bytes initialised, to be read over), else an
    /// empty one.
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default()
    }

    /// Keeps `buffer` for a later block, unless enough are kept or it grew far past a block's
    /// size (a huge record's line): that memory goes back to the allocator.
    fn put(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() == 0 || buffer.capacity() > 4 * BLOCK {
            return;
        }
        // Kept initialised, so the next block reads into it with no clearing.
        let initialised = buffer.capacity();
        buffer.resize(initialised, 0);
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() < Self::KEPT {
            kept.push(buffer);
        }
    }
}

/// A `.jsonl` file read in runs of whole lines.
struct LineBlocks {
    path: Arc<Path>,
    file: fs::File,
    file_len: u64,
    block: usize,
    spare: Spare,
    /// The start of a line read past the end of the last unit.
    carry: Vec<u8>,
    next_line: usize,
    /// Where the next unit's bytes (the carry first) begin in the file.
    next_byte: u64,
    done: bool,
}

impl LineBlocks {
    fn new(path: &Path, file: fs::File, file_len: u64, block: usize, spare: Spare) -> LineBlocks {
        LineBlocks {
            path: Arc::from(path),
            file,
            file_len,
            block: block.max(1),
            spare,
            carry: Vec::new(),
            next_line: 0,
            next_byte: 0,
            done: false,
        }
    }
}

impl Iterator for LineBlocks {
    type Item = Unit;

    fn next(&mut self) -> Option<Unit> {
        if self.done {
            return None;
        }
        // The buffer's bytes are initialised (a new one is cleared once as it grows), so each
        // step is one `read` straight into it: `read_to_end` into spare capacity, not knowing
        // the size to expect, read a block as 8, 8, 16, 32, 64 and 128 KiB, six calls.
        let mut bytes = self.spare.take();
        let mut valid = self.carry.len();
        if bytes.len() < valid {
            bytes.resize(valid, 0);
        }
        bytes[..valid].copy_from_slice(&self.carry);
        self.carry.clear();
        // Read in steps until a block is full, then cut after the last line end; a line longer
        // than a block is read on to its end. Only new bytes are searched for line ends.
        let step = self.block.min(1 << 20);
        let mut unsearched = 0;
        loop {
            // What fills the block, a step at most; past it (a line longer than a block), a
            // step more.
            let want = if valid < self.block {
                (self.block - valid).min(step)
            } else {
                step
            };
            if bytes.len() < valid + want {
                if valid + want == self.block {
                    // A block and a little more for a later block's carried line start, not
                    // doubled: a pooled buffer stays about a block's size.
                    bytes.reserve_exact(self.block + step / 16 - bytes.len());
                }
                // Anything longer (a long line, a block of many steps) grows by doubling.
                bytes.resize(valid + want, 0);
            }
            let n = loop {
                match (&self.file).read(&mut bytes[valid..valid + want]) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    read => break read,
                }
            };
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    self.done = true;
                    return Some(Unit::Failed(LoadError {
                        path: self.path.to_path_buf(),
                        line: Some(self.next_line + 1),
                        column: None,
                        message: format!("cannot read: {e}"),
                    }));
                }
            };
            valid += n;
            if n == 0 {
                self.done = true;
                if valid == 0 {
                    return None;
                }
                break;
            }
            if valid < self.block {
                continue;
            }
            if let Some(end) = memchr::memrchr(b'\n', &bytes[unsearched..valid]) {
                let end = unsearched + end + 1;
                self.carry.extend_from_slice(&bytes[end..valid]);
                valid = end;
                break;
            }
            unsearched = valid;
        }
        let bytes = Block {
            bytes,
            valid,
            spare: self.spare.clone(),
        };
        let first_line = self.next_line;
        let line_ends = memchr::memchr_iter(b'\n', &bytes).count();
        self.next_line += line_ends;
        let first_byte = self.next_byte;
        self.next_byte += bytes.len() as u64;
        Some(Unit::Lines {
            path: self.path.clone(),
            first_line,
            first_byte,
            bytes,
            line_ends,
            file_len: self.file_len,
        })
    }
}

/// A record's inputs and flow parameters as the JSON text they were recorded as (with
/// `hash_objects` of a big one, worked out while it was checked, and whether the text was
/// proved canonical: see [`CanonicalJson::checked`]), for [`crate::engine::recompute_lean`];
/// `None` where the record holds them as values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CanonicalText {
    pub inputs: Option<(Box<str>, Option<String>, bool)>,
    pub flow_parameters: Option<(Box<str>, Option<String>, bool)>,
}

impl CanonicalText {
    /// An owned copy of borrowed canonical texts.
    pub fn copied(texts: &CanonicalTexts) -> CanonicalText {
        let own = |c: &CanonicalJson| (Box::from(c.text), c.hash.map(str::to_owned), c.checked);
        CanonicalText {
            inputs: texts.inputs.as_ref().map(own),
            flow_parameters: texts.flow_parameters.as_ref().map(own),
        }
    }

    pub fn texts(&self) -> crate::engine::CanonicalTexts<'_> {
        fn json(c: &(Box<str>, Option<String>, bool)) -> crate::engine::CanonicalJson<'_> {
            crate::engine::CanonicalJson {
                text: &c.0,
                hash: c.1.as_deref(),
                checked: c.2,
            }
        }
        crate::engine::CanonicalTexts {
            inputs: self.inputs.as_ref().map(json),
            flow_parameters: self.flow_parameters.as_ref().map(json),
            task_source: None,
            inputs_kept: None,
        }
    }
}

/// Loads the records of one unit for recomputing keys only: the inputs and flow parameters that
/// are canonical text stay text (in the second list, one per record), the rest is as
/// [`load_unit`] gives it. Nothing that is not hashed is built from the bulk of a record.
pub fn load_unit_lean(unit: Unit) -> (Vec<Loaded>, Vec<CanonicalText>) {
    let mut out = (Vec::new(), Vec::new());
    visit_unit_lean(unit, |loaded, texts| {
        out.0.push(loaded);
        out.1.push(CanonicalText::copied(&texts));
    });
    out
}

/// [`load_unit_lean`] record by record: `visit` gets each record slot with its canonical texts
/// borrowed from the unit's bytes just read, while they are still in the cache, and nothing is
/// copied unless it copies it; with them, the keys of what the engine hashes of the record's
/// bulk (its inputs hashed whole, its task source), worked out for the whole unit at once.
/// `keys` and the inspector recompute each record there.
pub fn visit_unit_lean(unit: Unit, mut visit: impl FnMut(Loaded, CanonicalTexts<'_>)) {
    load_unit_with(unit, true, Reading::Deferred, &mut visit);
}

/// [`visit_unit_lean`] for the keys alone, as `keys` recomputes them: a task source written as
/// `json.dumps` writes it is hashed as it is and not decoded, so a record handed over may have
/// no `task.source` where its [`CanonicalTexts::task_source`] is the recorded source's key
/// ([`crate::record_fast::read_keys`]). Its recomputed keys, and the errors, are those
/// [`visit_unit_lean`] gives.
pub fn visit_unit_keys(unit: Unit, mut visit: impl FnMut(Loaded, CanonicalTexts<'_>)) {
    load_unit_with(unit, true, Reading::KeysOnly, &mut visit);
}

/// [`visit_unit_lean`] for the inspector's load, which keeps its runs in their files: a task source written as `json.dumps` writes it is hashed as it is and not decoded
/// where the record has a lean inputs or flow-parameters text
/// ([`crate::record_fast::read_inspect`]), so a record handed over with such a text may have no
/// `task.source`; one with neither has its source. Its recomputed keys, and the errors, are
/// those [`visit_unit_lean`] gives.
pub fn visit_unit_inspect(unit: Unit, mut visit: impl FnMut(Loaded, CanonicalTexts<'_>)) {
    load_unit_with(unit, true, Reading::Inspect, &mut visit);
}

/// Loads the records of one unit, in order.
pub fn load_unit(unit: Unit) -> Vec<Loaded> {
    let mut out = Vec::new();
    load_unit_with(unit, false, Reading::Deferred, &mut |loaded, _| {
        out.push(loaded)
    });
    out
}

fn load_unit_with(unit: Unit, lean: bool, reading: Reading, out: &mut Sink) {
    match unit {
        Unit::Files(paths) => {
            // Every file read first, one after another into one buffer, so that the batch can
            // borrow them all.
            let mut files = FileBuffer::take();
            let read: Vec<(PathBuf, Result<Range<usize>, LoadError>)> = paths
                .into_iter()
                .map(|path| {
                    let at = files.read(&path);
                    (path, at)
                })
                .collect();
            let mut batch = Batch {
                slots: Vec::with_capacity(read.len()),
                reading,
            };
            for (path, at) in &read {
                match at {
                    Ok(at) => load_bytes_with(path, files.get(at), lean, &mut batch),
                    Err(e) => file_error(&mut batch, path, e.clone()),
                }
            }
            batch.hand_over(lean, out);
            files.give_back();
        }
        Unit::Lines {
            path,
            first_line,
            first_byte,
            bytes,
            line_ends,
            ..
        } => {
            // Sized for the unit's records at once: grown by doubling, the slots were copied
            // about seven times a unit (1% of `keys`' instructions).
            let mut batch = Batch {
                slots: Vec::with_capacity(line_ends + 1),
                reading,
            };
            load_lines_bytes(&bytes, &path, first_line, first_byte, lean, &mut batch);
            batch.hand_over(lean, out);
        }
        Unit::Failed(error) => {
            let source = RecordSource {
                path: error.path.as_path().into(),
                line: error.line,
            };
            slot(&mut Direct(out), source, error);
        }
    }
}

/// Loads `files` on `workers` threads, calling `sink` on each unit's records in order.
pub fn load_streamed(files: &[PathBuf], workers: usize, sink: impl FnMut(Vec<Loaded>)) -> Spread {
    stream_ordered(units(files, BLOCK), workers, load_unit, sink)
}

fn file_error<'t>(out: &mut dyn Collect<'t>, path: &Path, error: LoadError) {
    let source = RecordSource {
        path: path.into(),
        line: None,
    };
    slot(out, source, error);
}

/// Parses and reads one record into `out`; `line_offset` is the number of lines before `text`
/// in the file. When `lean`, the record's canonical inputs and flow parameters are handed over
/// as text (borrowed from `text`) rather than read into values.
fn load_text_into<'t>(
    text: &'t str,
    path: &Path,
    line_offset: usize,
    lean: bool,
    source: RecordSource,
    at: Option<RecordAt>,
    out: &mut dyn Collect<'t>,
) {
    let error_at = |line, column, message| LoadError {
        path: path.to_path_buf(),
        line: Some(line),
        column: Some(column),
        message,
    };
    // Python's json.loads refuses a BOM too; said plainly, since the character is invisible.
    if text.starts_with('\u{feff}') {
        let message =
            "starts with a byte-order mark (U+FEFF): records are UTF-8 without a BOM".to_string();
        return slot(out, source, error_at(line_offset + 1, 1, message));
    }
    // The fast lane reads a well-formed record in one pass; anything it is not sure of (and
    // every error) is the slow way's. Lean, it leaves plain inputs unchecked for the engine
    // to prove canonical by their hash.
    let fast = if lean {
        crate::record_fast::read_lean(text, out.reading())
    } else {
        crate::record_fast::read(text, false)
    };
    if let Some(fast) = fast {
        let record = Ok(fast.record);
        let spans = [fast.inputs, fast.flow_parameters, fast.task_source];
        return out.put(Loaded { source, record, at }, text, spans);
    }
    let mut spans = CanonicalSpans::default();
    let parsed = if lean {
        parse_record_lean(text).map(|(value, found)| {
            spans = found;
            value
        })
    } else {
        parse(text)
    };
    let value = match parsed {
        Ok(value) => value,
        Err(e) => {
            let error = error_at(e.line + line_offset, e.column, e.message);
            return slot(out, source, error);
        }
    };
    match RunRecord::from_value(value) {
        Ok(record) => {
            let loaded = Loaded {
                source,
                record: Ok(Box::new(record)),
                at,
            };
            out.put(loaded, text, [spans.inputs, spans.flow_parameters, None]);
        }
        Err(e) => {
            // The tree has no positions: the fault is placed by scanning the text again.
            let (offset, message) = e.locate(text);
            let (line, column) = line_col(text.as_bytes(), offset);
            slot(out, source, error_at(line_offset + line, column, message));
        }
    }
}

/// A canonical span found in `text`, as the engine takes it.
fn borrowed<'t>(text: &'t str, span: &'t Option<Span>) -> Option<CanonicalJson<'t>> {
    span.as_ref().map(|(at, hash)| CanonicalJson {
        text: at.text(text),
        hash: hash.as_deref(),
        checked: at.checked(),
    })
}

/// [`load_text_into`] for one record, its slot's record and owned canonical texts (for tests).
#[cfg(test)]
fn load_text_with(
    text: &str,
    path: &Path,
    line_offset: usize,
    lean: bool,
) -> (Result<RunRecord, LoadError>, CanonicalText) {
    let source = RecordSource {
        path: path.into(),
        line: None,
    };
    let mut got = None;
    load_text_into(
        text,
        path,
        line_offset,
        lean,
        source,
        None,
        &mut Direct(&mut |loaded: Loaded, texts: CanonicalTexts| {
            got = Some((loaded.record.map(|r| *r), CanonicalText::copied(&texts)));
        }),
    );
    got.expect("one slot per record")
}

fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// Everything under `paths`: every record slot in path order, and errors for paths that
/// could not be searched.
pub fn load_paths(paths: &[PathBuf]) -> (Vec<Loaded>, Vec<LoadError>) {
    let (files, errors) = discover(paths);
    let mut loaded = Vec::new();
    load_streamed(&files, default_workers(), |mut unit| {
        loaded.append(&mut unit)
    });
    (loaded, errors)
}

/// [`load_paths`], lean: every record slot with its canonical texts ([`load_unit_lean`]), for a
/// command that goes through every record but needs only a few whole at a time
/// ([`crate::engine::with_values`] makes one whole): `check` held every input as values.
pub fn load_paths_lean(paths: &[PathBuf]) -> (Vec<(Loaded, CanonicalText)>, Vec<LoadError>) {
    let (files, errors) = discover(paths);
    let mut loaded = Vec::new();
    stream_ordered(
        units(&files, BLOCK),
        default_workers(),
        load_unit_lean,
        |(unit, texts)| loaded.extend(unit.into_iter().zip(texts)),
    );
    (loaded, errors)
}

#[cfg(test)]
mod tests {
    use super::{load_text_with, load_unit, load_unit_lean, units};

    /// Sources are equal exactly when their paths are equal as `Path` compares them (component
    /// by component: `a//b` is `a/b`) and their lines are; equal ones hash alike and order as
    /// equal, shared path or not.
    #[test]
    fn sources_are_equal_as_their_paths_and_lines_are() {
        use super::RecordSource;
        use std::hash::{BuildHasher, RandomState};
        use std::sync::Arc;
        let paths = [
            "runs/a.jsonl",
            "runs//a.jsonl",
            "runs/./a.jsonl",
            "./runs/a.jsonl",
            "runs/a.jsonl/",
            "runs/b.jsonl",
            "/runs/a.jsonl",
            "runs/a.json",
            "a.jsonl",
        ];
        let hasher = RandomState::new();
        let shared: Arc<Path> = Path::new(paths[0]).into();
        for (i, x) in paths.iter().enumerate() {
            for y in &paths {
                for (lx, ly) in [
                    (None, None),
                    (Some(3), Some(3)),
                    (Some(3), Some(4)),
                    (None, Some(3)),
                ] {
                    let a = RecordSource {
                        path: if i == 0 {
                            Arc::clone(&shared)
                        } else {
                            Path::new(x).into()
                        },
                        line: lx,
                    };
                    let b = RecordSource {
                        path: if *y == paths[0] {
                            Arc::clone(&shared)
                        } else {
                            Path::new(y).into()
                        },
                        line: ly,
                    };
                    let expected = Path::new(x) == Path::new(y) && lx == ly;
                    assert_eq!(a == b, expected, "{x:?} {lx:?} against {y:?} {ly:?}");
                    assert_eq!(
                        a.cmp(&b).is_eq(),
                        expected,
                        "{x:?} {lx:?} against {y:?} {ly:?}"
                    );
                    if expected {
                        assert_eq!(hasher.hash_one(&a), hasher.hash_one(&b), "{x:?} {y:?}");
                    }
                }
            }
        }
    }

    /// A source's label is its text as `Display` writes it, whatever its path and line.
    #[test]
    fn a_label_is_what_display_writes() {
        use super::RecordSource;
        use std::os::unix::ffi::OsStrExt;
        let paths = [
            Path::new("runs/a.jsonl"),
            Path::new("caf\u{e9} \"q\"/\u{1b}[31m.json"),
            Path::new(std::ffi::OsStr::from_bytes(b"runs/\xff\xfe.jsonl")),
        ];
        for path in paths {
            for line in [None, Some(0), Some(7), Some(1234567), Some(usize::MAX)] {
                let source = RecordSource {
                    path: path.into(),
                    line,
                };
                assert_eq!(source.label(), source.to_string(), "{path:?} {line:?}");
                if path.to_str().is_some() {
                    assert_eq!(source.label().capacity(), source.label().len(), "{path:?}");
                }
            }
        }
    }

    /// Sources order by path as `Path` orders it (component by component), then by line; the
    /// shortcut for one file's records changes nothing.
    #[test]
    fn sources_order_by_path_components_then_line() {
        use super::RecordSource;
        let source = |path: &str, line| RecordSource {
            path: Path::new(path).into(),
            line,
        };
        let mut sources = vec![
            source("runs/a.b", Some(1)),
            source("runs/a/b", Some(2)),
            source("runs/a/b", Some(1)),
            source("runs/a/b", None),
            source("runs//a/b", Some(3)),
            source("runs/a", None),
        ];
        sources.sort();
        let mut by_components = sources.clone();
        by_components.sort_by(|x, y| {
            x.path
                .components()
                .cmp(y.path.components())
                .then(x.line.cmp(&y.line))
        });
        assert_eq!(sources, by_components);
        assert_eq!(sources[0], source("runs/a", None));
        // `runs//a/b` is the path `runs/a/b`: equal, so ordered by line among them.
        assert_eq!(
            sources.iter().map(|s| s.line).collect::<Vec<_>>(),
            [None, None, Some(1), Some(2), Some(3), Some(1)]
        );
    }
    use crate::engine::{NodeStatus, recompute, recompute_lean};
    use crate::hash::hash_strs;
    use std::path::Path;

    /// A record around `inputs` and `flow`, with an Inputs node excluding `exclude` and a
    /// FlowParameters node; the recorded keys are whatever, only the recomputation matters.
    fn record(inputs: &str, flow: &str, exclude: &str) -> String {
        format!(
            r#"{{"format": "cachescope/run-record@1", "flow": {flow}, "task": {{"name": "t", "source": "def t(): pass\n"}}, "task_run": {{"id": "tr"}}, "inputs": {inputs}, "policy": {{"policy": "CompoundCachePolicy", "key": "k", "policies": [{{"policy": "Inputs", "key": "a", "exclude": [{exclude}]}}, {{"policy": "FlowParameters", "key": "b"}}]}}, "key": "k"}}"#
        )
    }

    /// A record hashing its inputs whole (an `Inputs` node beside `TaskSource`), the Inputs
    /// node's recorded key `key`.
    fn provable_record(inputs: &str, key: &str) -> String {
        format!(
            r#"{{"format": "cachescope/run-record@1", "task": {{"name": "t", "source": "def t(): pass\n"}}, "task_run": {{"id": "tr"}}, "inputs": {inputs}, "policy": {{"policy": "CompoundCachePolicy", "key": "k", "policies": [{{"policy": "Inputs", "key": "{key}", "exclude": []}}, {{"policy": "TaskSource", "key": "s"}}]}}, "key": "k"}}"#
        )
    }

    /// Inputs of every kind a record may hold: canonical, plain JSON out of order or otherwise
    /// spaced, and broken in ten ways.
    const INPUTS_OF_EVERY_KIND: [&str; 18] = [
        r#"{"a": 1, "b": [1.5, "caf\u00e9", null, {"x": true}]}"#,
        r#"{"a": "}]\"\\", "b": [[[]]]}"#,
        r#"{"a": 1.50, "b": 1e16}"#,
        r#"{"b": 1, "a": 2}"#,
        r#"{"a": 1,"b": 2}"#,
        r#"{"a":  1}"#,
        r#"{"a": NaN}"#,
        r#"{"a": tru}"#,
        r#"{"a" 1}"#,
        r#"{"a": [1,}"#,
        r#"{"a": "x\q"}"#,
        r#"{"a": 01}"#,
        r#"{"a": 1}}"#,
        r#"{"a": [1}"#,
        r#"{"a": {"b": 1]}"#,
        r#"{}"#,
        r#"{ }"#,
        "{\t\"a\": 1}",
    ];

    /// Task sources of every kind a record may hold: written as `json.dumps` writes them, written
    /// other ways, and broken.
    const SOURCES_OF_EVERY_KIND: [&str; 14] = [
        r#""def t(): pass\n""#,
        r#""def t():\n    \"\"\"Doc.\"\"\"\n    return '\\\\'\n""#,
        r#""caf\u00e9 \ud83d\ude00\t\u0001\u007f""#,
        r#""""#,
        r#""café""#,
        r#""a\/b""#,
        r#""caf\u00E9""#,
        r#""\u0041""#,
        r#""lone \ud800""#,
        r#""bad \q""#,
        "\"raw\ttab\"",
        r#""unterminated"#,
        "null",
        "1",
    ];

    /// What a visit hands over of each record: where it is, the record or its error, its
    /// recomputation, and whether it came with a lean inputs or flow-parameters text.
    type Visited = (
        super::RecordSource,
        Result<crate::record::RunRecord, super::LoadError>,
        Option<crate::engine::RecordEvaluation>,
        bool,
    );

    /// Every record of `files` as `visit` (one of the `visit_unit_…` functions) hands it over,
    /// in small units.
    fn visit_each(
        files: &[std::path::PathBuf],
        visit: impl Fn(super::Unit, &mut dyn FnMut(super::Loaded, super::CanonicalTexts<'_>)),
    ) -> Vec<Visited> {
        let mut got = Vec::new();
        for unit in units(files, 1 << 10) {
            visit(
                unit,
                &mut |l: super::Loaded, texts: super::CanonicalTexts| {
                    let evaluation = l.record.as_ref().ok().map(|r| recompute_lean(r, &texts));
                    let lean_text = texts.inputs.is_some() || texts.flow_parameters.is_some();
                    got.push((l.source, l.record.map(|r| *r), evaluation, lean_text));
                },
            );
        }
        got
    }

    // Read for their keys alone (as `keys` reads them), records hand over what a lean read
    // hands over (the same records, the same errors, the same recomputed keys), but that a
    // task source written as json.dumps writes it is not decoded: `task.source` is None, and
    // the text is what Prefect's message held, hashed as it is.
    #[test]
    fn records_read_for_their_keys_alone_recompute_as_lean_records_do() {
        let mut lines = Vec::new();
        for source in SOURCES_OF_EVERY_KIND {
            let decoded = crate::pyjson::parse(source).ok();
            let right = match &decoded {
                Some(crate::pyjson::Value::Str(s)) => hash_strs(&[s]),
                _ => "0".repeat(32),
            };
            for policy in [
                format!(r#"{{"policy": "TaskSource", "key": "{right}"}}"#),
                r#"{"policy": "TaskSource", "key": "0123456789abcdef0123456789abcdef"}"#.into(),
                format!(
                    r#"{{"policy": "CompoundCachePolicy", "key": "k", "policies": [{{"policy": "TaskSource", "key": "{right}"}}, {{"policy": "RunId", "key": "r"}}]}}"#
                ),
                r#"{"policy": "RunId", "key": "r"}"#.into(),
            ] {
                lines.push(format!(
                    r#"{{"format": "cachescope/run-record@1", "recorded_at": "2026-12-01T00:00:00.000Z", "environment": {{"prefect": "3.9.1", "python": "3.11.7"}}, "project_root": "p", "flow": {{"run_id": "r"}}, "task": {{"name": "t", "task_key": "t-0", "qualname": "t", "file": "f.py", "source": {source}}}, "task_run": {{"id": "tr", "dynamic_key": "0"}}, "inputs": {{"a": 1}}, "policy": {policy}, "key": "k", "outcome": {{"state": "Completed", "cache_expiration": "2026-12-02T00:00:00Z", "result_storage": "s"}}}}"#
                ));
            }
        }
        let tmp = tempfile::tempdir().unwrap();
        let jsonl = tmp.path().join("r.jsonl");
        std::fs::write(&jsonl, lines.join("\n")).unwrap();
        let mut files = vec![jsonl];
        // The same records as `.json` files, written with `indent=2` where they are JSON.
        for (n, line) in lines.iter().enumerate() {
            let path = tmp.path().join(format!("r{n:03}.json"));
            let pretty = serde_json::from_str::<serde_json::Value>(line)
                .map(|v| serde_json::to_string_pretty(&v).unwrap());
            std::fs::write(&path, pretty.as_deref().unwrap_or(line)).unwrap();
            files.push(path);
        }
        let lean = visit_each(&files, |u, take| super::visit_unit_lean(u, take));
        let keys = visit_each(&files, |u, take| super::visit_unit_keys(u, take));
        assert_eq!(lean.len(), keys.len());
        let (mut undecoded, mut errors, mut changed) = (0, 0, 0);
        for ((source, lean, lean_eval, _), (keys_source, keys, keys_eval, _)) in
            lean.into_iter().zip(keys)
        {
            assert_eq!(source, keys_source);
            assert_eq!(lean_eval, keys_eval, "{source:?}");
            match (lean, keys) {
                (Ok(lean), Ok(mut keys)) => {
                    // Without what `keys` does not use.
                    let lean = crate::record_fast::keys_view(lean);
                    if keys.task.source.is_none() && lean.task.source.is_some() {
                        // Left as text only where the text is what json.dumps writes.
                        let mut written = String::new();
                        crate::pyjson::write_str(
                            lean.task.source.as_deref().unwrap(),
                            &mut written,
                        );
                        let text = std::fs::read_to_string(&source.path).unwrap();
                        assert!(
                            text.contains(&format!(r#""source": {written}"#)),
                            "{source:?}"
                        );
                        keys.task.source = lean.task.source.clone();
                        undecoded += 1;
                    }
                    assert_eq!(lean, keys, "{source:?}");
                    changed +=
                        usize::from(keys_eval.is_some_and(|e| e.status == NodeStatus::Changed));
                }
                (Err(lean), Err(keys)) => {
                    assert_eq!(lean, keys);
                    errors += 1;
                }
                (lean, keys) => panic!("{source:?}: {lean:?} against {keys:?}"),
            }
        }
        // Every kind was met: sources left as text, sources refused, keys that differ.
        assert!(undecoded >= 16, "{undecoded} sources left as text");
        assert!(errors >= 16, "{errors} errors");
        assert!(changed >= 8, "{changed} changed");
    }

    // Read for the inspector, which keeps its runs in their files, records hand over what a
    // lean read hands over (the same records, errors and recomputed keys), but that a task
    // source written as json.dumps writes it is not decoded, and the strings rows_view names
    // are not kept, where the record has a lean inputs or flow-parameters text; a record with
    // neither (kept whole) is whole.
    #[test]
    fn records_read_for_the_inspector_recompute_as_lean_records_do() {
        let mut lines = Vec::new();
        for source in SOURCES_OF_EVERY_KIND {
            let decoded = crate::pyjson::parse(source).ok();
            let right = match &decoded {
                Some(crate::pyjson::Value::Str(s)) => hash_strs(&[s]),
                _ => "0".repeat(32),
            };
            for (inputs, flow) in [
                (r#"{"a": 1}"#, r#"{"run_id": "r"}"#),
                ("null", r#"{"run_id": "r"}"#),
                ("null", r#"{"run_id": "r", "parameters": {"day": 1}}"#),
                (r#"{"a": 1.50}"#, r#"{"run_id": "r"}"#),
            ] {
                for policy in [
                    format!(r#"{{"policy": "TaskSource", "key": "{right}"}}"#),
                    format!(
                        r#"{{"policy": "CompoundCachePolicy", "key": "k", "policies": [{{"policy": "TaskSource", "key": "{right}"}}, {{"policy": "Inputs", "key": "i"}}]}}"#
                    ),
                ] {
                    lines.push(format!(
                        r#"{{"format": "cachescope/run-record@1", "recorded_at": "2026-12-01T00:00:00.000Z", "environment": {{"prefect": "3.9.1", "python": "3.11.7"}}, "project_root": "p", "flow": {flow}, "task": {{"name": "t", "task_key": "t-0", "qualname": "t", "file": "f.py", "source": {source}}}, "task_run": {{"id": "tr", "dynamic_key": "0"}}, "inputs": {inputs}, "policy": {policy}, "key": "k", "outcome": {{"state": "Completed", "cache_expiration": "2026-12-02T00:00:00Z", "result_storage": "s"}}}}"#
                    ));
                }
            }
        }
        let tmp = tempfile::tempdir().unwrap();
        let jsonl = tmp.path().join("r.jsonl");
        std::fs::write(&jsonl, lines.join("\n")).unwrap();
        let files = vec![jsonl];
        let lean = visit_each(&files, |u, take| super::visit_unit_lean(u, take));
        let inspect = visit_each(&files, |u, take| super::visit_unit_inspect(u, take));
        assert_eq!(lean.len(), inspect.len());
        let (mut undecoded, mut kept_whole, mut errors) = (0, 0, 0);
        for ((source, lean, lean_eval, _), (inspect_source, inspect, inspect_eval, lean_text)) in
            lean.into_iter().zip(inspect)
        {
            assert_eq!(source, inspect_source);
            assert_eq!(lean_eval, inspect_eval, "{source:?}");
            match (lean, inspect) {
                (Ok(lean), Ok(mut inspect)) => {
                    // Without what neither the rows nor the recomputation use.
                    let lean = if lean_text {
                        crate::record_fast::rows_view(lean)
                    } else {
                        lean
                    };
                    if inspect.task.source.is_none() && lean.task.source.is_some() {
                        assert!(lean_text, "{source:?}: a record kept whole lost its source");
                        inspect.task.source = lean.task.source.clone();
                        undecoded += 1;
                    } else if !lean_text && lean.task.source.is_some() {
                        kept_whole += 1;
                    }
                    assert_eq!(lean, inspect, "{source:?}");
                }
                (Err(lean), Err(inspect)) => {
                    assert_eq!(lean, inspect);
                    errors += 1;
                }
                (lean, inspect) => panic!("{source:?}: {lean:?} against {inspect:?}"),
            }
        }
        // Every kind was met: sources left as text, sources of records kept whole, errors.
        assert!(undecoded >= 16, "{undecoded} sources left as text");
        assert!(
            kept_whole >= 16,
            "{kept_whole} records kept whole with their source"
        );
        assert!(errors >= 8, "{errors} errors");
    }

    // A unit's records are read with their inputs unscanned (only their end found) and settled
    // when handed over: proved by their md5, else scanned, else read again. Every record loads
    // exactly as when read on its own without deferring (the same record or the same error:
    // line, column, message; the same texts; the same recomputation), but one whose inputs'
    // recorded key is the md5 of text Prefect cannot have hashed (out of order, not JSON): that
    // key can only be forged, and the text is taken as what was hashed, as it is elsewhere
    // ([`crate::engine::CanonicalJson::checked`]).
    #[test]
    fn deferred_inputs_load_as_records_read_on_their_own() {
        let inputs = INPUTS_OF_EVERY_KIND;
        let tmp = tempfile::tempdir().unwrap();
        let jsonl = tmp.path().join("r.jsonl");
        let mut lines = Vec::new();
        for i in inputs {
            // The key Prefect would have recorded had it hashed this text, and another.
            let hashed = crate::hash::hash_json_text(i);
            for key in [hashed.as_str(), "0123456789abcdef0123456789abcdef"] {
                lines.push((i, key == hashed, provable_record(i, key)));
                lines.push((i, false, record(i, "null", "")));
                lines.push((i, false, record(i, "null", r#""a""#)));
            }
        }
        let text: Vec<&str> = lines.iter().map(|(_, _, line)| line.as_str()).collect();
        std::fs::write(&jsonl, text.join("\n")).unwrap();
        let mut got = Vec::new();
        for unit in units(std::slice::from_ref(&jsonl), 1 << 20) {
            super::visit_unit_lean(unit, |loaded, texts| {
                let evaluation = loaded
                    .record
                    .as_ref()
                    .ok()
                    .map(|r| recompute_lean(r, &texts));
                got.push((loaded, super::CanonicalText::copied(&texts), evaluation));
            });
        }
        assert_eq!(got.len(), lines.len());
        let (mut errors, mut forged) = (0, 0);
        for (n, ((loaded, texts, evaluation), (inputs, hashed, line))) in
            got.into_iter().zip(&lines).enumerate()
        {
            assert_eq!(loaded.source.line, Some(n + 1));
            let (alone, alone_texts) = load_text_with(line, &jsonl, n, true);
            let same = match (&loaded.record, &alone) {
                (Ok(record), Ok(alone)) => {
                    **record == *alone
                        && texts.inputs.as_ref().map(|t| &t.0)
                            == alone_texts.inputs.as_ref().map(|t| &t.0)
                        && evaluation == Some(recompute_lean(alone, &alone_texts.texts()))
                }
                (Err(e), Err(alone)) => {
                    errors += 1;
                    e.to_string() == alone.to_string()
                }
                _ => false,
            };
            if same {
                continue;
            }
            // Only a forged key makes a difference: the text is taken as hashed, as it is.
            assert!(*hashed, "{line}: {:?} against {alone:?}", loaded.record);
            forged += 1;
            let (text, _, checked) = texts.inputs.expect("the inputs as text");
            assert_eq!((&*text, checked), (*inputs, false), "{line}");
            let evaluation = evaluation.expect("the record loads");
            let node = &evaluation.evaluation.nodes[1];
            assert_eq!(
                (node.policy.as_str(), node.status),
                ("Inputs", NodeStatus::Match)
            );
        }
        assert!(errors >= 30, "the broken inputs are refused: {errors}");
        assert!((8..=12).contains(&forged), "forged keys: {forged}");
    }

    // A skimming pass hands over exactly the records it keeps, each made whole as the lean load
    // reads it, and never one it does not keep or one in error: records on one line and `.json`
    // files written with `indent=2`, over inputs of every kind, broken ones too, under policies
    // that hash them whole, exclude entries, or do not hash them. The one difference is the one
    // deferred reading has (above): inputs whose recorded key is the md5 of text Prefect cannot
    // have hashed are taken by the lean load as hashed, and read by the skim as they are.
    #[test]
    fn a_skimming_pass_hands_over_the_kept_records_as_the_lean_load_reads_them() {
        let inputs = INPUTS_OF_EVERY_KIND;
        let mut lines = Vec::new();
        for i in inputs {
            let hashed = crate::hash::hash_json_text(i);
            for (forgeable, line) in [
                (true, provable_record(i, &hashed)),
                (
                    false,
                    provable_record(i, "0123456789abcdef0123456789abcdef"),
                ),
                (false, record(i, "null", "")),
                (false, record(i, r#"{"parameters": {"p": 1}}"#, r#""a""#)),
            ] {
                lines.push((false, line.clone()));
                lines.push((forgeable, line.replace(r#""id": "tr""#, r#""id": "keep""#)));
            }
        }
        let tmp = tempfile::tempdir().unwrap();
        let jsonl = tmp.path().join("r.jsonl");
        let text: Vec<&str> = lines.iter().map(|(_, line)| line.as_str()).collect();
        std::fs::write(&jsonl, text.join("\n")).unwrap();
        let mut files = vec![jsonl.clone()];
        // The same records as `.json` files, written with `indent=2` where they are JSON.
        for (n, (_, line)) in lines.iter().enumerate() {
            let path = tmp.path().join(format!("r{n:03}.json"));
            let pretty = serde_json::from_str::<serde_json::Value>(line)
                .map(|v| serde_json::to_string_pretty(&v).unwrap());
            std::fs::write(&path, pretty.as_deref().unwrap_or(line)).unwrap();
            files.push(path);
        }
        let keep = |r: &crate::record::RunRecord| r.task_run.id.as_deref() == Some("keep");
        let whole = |l: super::Loaded, texts: super::CanonicalTexts| {
            let record = l.record.expect("only records read are handed over");
            (l.source, crate::engine::with_values(*record, &texts))
        };
        let (mut lean, mut kept) = (Vec::new(), Vec::new());
        for unit in units(&files, 1 << 12) {
            super::visit_unit_lean(unit, |l, texts| {
                if l.record.as_ref().is_ok_and(|r| keep(r)) {
                    lean.push(whole(l, texts));
                }
            });
        }
        for unit in units(&files, 1 << 12) {
            super::visit_unit_kept(unit, &keep, |l, texts| kept.push(whole(l, texts)));
        }
        assert!(kept.iter().all(|(_, r)| keep(r)));
        let mut kept = kept.into_iter().peekable();
        let mut forged = 0;
        for (source, record) in lean {
            if kept
                .peek()
                .is_some_and(|(s, r)| *s == source && *r == record)
            {
                kept.next();
                continue;
            }
            // Only a forged key makes a difference (on a line, or in a file of one line).
            let n = match source.line {
                Some(line) => line - 1,
                None => {
                    let stem = source.path.file_stem().unwrap().to_str().unwrap();
                    stem.trim_start_matches('r').parse::<usize>().unwrap()
                }
            };
            assert!(lines[n].0, "{}", lines[n].1);
            forged += 1;
            if kept.peek().is_some_and(|(s, _)| *s == source) {
                kept.next();
            }
        }
        assert!(kept.next().is_none(), "every record handed over was kept");
        // The forged keys of inputs the scan refuses, on lines and in files of one line. Six of
        // them are inputs whose brackets do not balance (`{"a": [1,}`, `{"a": 1}}`,
        // `{"a": [1}`): the lean load takes inputs to end where the policy follows them, so
        // their span is the text the key was forged from, as balanced text's span always was.
        assert!((5..=16).contains(&forged), "forged keys: {forged}");
    }

    // The lean load hashes canonical text as it is and everything else as before: on every
    // shape of inputs and parameters the two recomputations agree node for node.
    #[test]
    fn lean_records_recompute_exactly_as_full_ones() {
        let inputs = [
            r#"{"a": 1, "b": [1.5, "caf\u00e9", null, {"x": true}]}"#,
            r#"{"a": 1,"b": 2}"#,
            r#"{"b": 1, "a": 2}"#,
            r#"{"a": 1.50, "b": 1e16}"#,
            r#"{"2": 1, "10": 2}"#,
            r#"{"f": {"__cachescope_repr__": "<lambda>"}}"#,
            r#"{"a": 1, "a": {"z": 2}}"#,
            r#"{}"#,
            "null",
            "[1]",
            "{\n  \"a\": 1\n}",
        ];
        let flows = [
            r#"{"run_id": "r", "parameters": {"day": "2026-11-01", "n": 3}}"#,
            r#"{"run_id": "r", "parameters": {"n": 3, "day": "x"}}"#,
            r#"{"run_id": "r", "parameters": {}}"#,
            r#"{"run_id": "r", "parameters": null}"#,
            r#"{"run_id": "r", "parameters": {"n": 1}}, "flow": {"run_id": "s"}"#,
            r#"{"run_id": "r", "parameters": {"n": 1}}, "flow": null"#,
            "null",
        ];
        let path = Path::new("r.json");
        let mut lean_spans = 0;
        for i in inputs {
            for f in flows {
                for exclude in ["", r#""a""#] {
                    let text = record(i, f, exclude);
                    let (full, _) = load_text_with(&text, path, 0, false);
                    let (lean, texts) = load_text_with(&text, path, 0, true);
                    lean_spans += usize::from(texts.inputs.is_some());
                    lean_spans += usize::from(texts.flow_parameters.is_some());
                    match (full, lean) {
                        (Ok(full), Ok(lean)) => {
                            assert_eq!(
                                recompute(&full),
                                recompute_lean(&lean, &texts.texts()),
                                "{text}"
                            )
                        }
                        (Err(a), Err(b)) => assert_eq!(a, b, "{text}"),
                        (a, b) => panic!("{text}: {a:?} vs {b:?}"),
                    }
                }
            }
        }
        assert!(lean_spans > 60, "{lean_spans}");
        // The canonical case really is the hash of the text.
        let text = record(r#"{"x": 1}"#, "null", "");
        let (lean, texts) = load_text_with(&text, path, 0, true);
        let e = recompute_lean(&lean.unwrap(), &texts.texts());
        assert_eq!(
            e.evaluation.nodes[1].key.as_deref(),
            Some("599d6780d743a1b50a942acff196a0f1")
        );
        assert_eq!(
            e.key.as_deref(),
            Some(hash_strs(&["599d6780d743a1b50a942acff196a0f1"]).as_str())
        );
    }

    /// `n` rows of inputs, as a big input holds them.
    fn big_rows(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    r#"{{"id": {i}, "score": {}, "tag": "r\u00e9{i}"}}"#,
                    i as f64 / 7.0
                )
            })
            .collect()
    }

    #[test]
    fn a_big_canonical_input_is_hashed_while_it_is_checked() {
        let rows = big_rows(120_000);
        let path = Path::new("r.json");
        for (inputs, canonical) in [
            (format!(r#"{{"rows": [{}]}}"#, rows.join(", ")), true),
            (format!(r#"{{"rows": [{}]}}"#, rows.join(",")), false),
        ] {
            assert!(inputs.len() > crate::hash::BIG_TEXT);
            for exclude in ["", r#""rows""#] {
                let text = record(&inputs, "null", exclude);
                let (full, _) = load_text_with(&text, path, 0, false);
                let (lean, texts) = load_text_with(&text, path, 0, true);
                assert_eq!(
                    texts.inputs.as_ref().is_some_and(|i| i.1.is_some()),
                    canonical
                );
                let (full, lean) = (full.unwrap(), lean.unwrap());
                assert_eq!(recompute(&full), recompute_lean(&lean, &texts.texts()));
            }
        }
    }

    /// A big input read in a unit (deferred, hashed on its own where it lies) recomputes as
    /// the whole record does: proved by its md5, scanned when its key differs, read again when
    /// it is not written as `json.dumps` writes it, and with an exclusion.
    #[test]
    fn a_big_input_read_in_a_unit_recomputes_as_the_whole_record() {
        let rows = big_rows(30_000);
        let tmp = tempfile::tempdir().unwrap();
        let jsonl = tmp.path().join("big.jsonl");
        for spaced in [true, false] {
            let inputs = format!(
                r#"{{"rows": [{}]}}"#,
                rows.join(if spaced { ", " } else { "," })
            );
            assert!(inputs.len() > 1 << 20);
            let hashed = crate::hash::hash_json_text(&inputs);
            let mut lines = vec![
                provable_record(&inputs, "0123456789abcdef0123456789abcdef"),
                record(&inputs, "null", ""),
                record(&inputs, "null", r#""rows""#),
            ];
            // Prefect hashed the spaced text; the compact one's md5 as its key is a forgery.
            if spaced {
                lines.push(provable_record(&inputs, &hashed));
            }
            std::fs::write(&jsonl, lines.join("\n")).unwrap();
            let mut n = 0;
            for unit in units(std::slice::from_ref(&jsonl), 1 << 16) {
                super::visit_unit_lean(unit, |loaded, texts| {
                    let (full, _) = load_text_with(&lines[n], &jsonl, n, false);
                    let lean = loaded.record.expect("the record loads");
                    let lean = recompute_lean(&lean, &texts);
                    assert_eq!(lean, recompute(&full.unwrap()), "line {n}, spaced {spaced}");
                    n += 1;
                });
            }
            assert_eq!(n, lines.len());
        }
    }

    /// A source shows as its path (as `Path::display` shows it, a non-UTF-8 byte replaced)
    /// and, in a `.jsonl` file, its line.
    #[test]
    fn a_source_shows_its_path_as_display_does_and_its_line() {
        use super::RecordSource;
        use std::os::unix::ffi::OsStrExt;
        let utf8 = Path::new("runs/é/records.jsonl");
        let other = Path::new(std::ffi::OsStr::from_bytes(b"runs/\xff/r.json"));
        for path in [utf8, other] {
            let source = |line| RecordSource {
                path: path.into(),
                line,
            };
            assert_eq!(source(None).to_string(), path.display().to_string());
            assert_eq!(source(Some(7)).to_string(), format!("{}:7", path.display()));
        }
        assert!(
            RecordSource {
                path: other.into(),
                line: None
            }
            .to_string()
            .contains('\u{fffd}')
        );
    }

    #[test]
    fn units_cut_jsonl_at_line_ends_and_keep_line_numbers() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("r.jsonl");
        let line = record(r#"{"a": 1}"#, "null", "");
        let mut text = String::new();
        for i in 0..50 {
            text.push_str(&line);
            text.push('\n');
            if i % 7 == 0 {
                text.push_str("\n  \n");
            }
        }
        text.push_str("{broken\n");
        text.push_str(&line); // no final line end
        std::fs::write(&path, &text).unwrap();
        let files = vec![path.clone()];
        let whole = load_unit(super::Unit::Files(files.clone()));
        for block in [1, 100, 1000, 5000, 1 << 20] {
            let parts: Vec<_> = units(&files, block).collect();
            if block < 1000 {
                assert!(parts.len() > 40, "{block}: {}", parts.len());
            }
            let pieces: Vec<_> = parts
                .into_iter()
                .flat_map(|u| load_unit_lean(u).0)
                .collect();
            assert_eq!(pieces.len(), whole.len());
            for (a, b) in pieces.iter().zip(&whole) {
                assert_eq!(a.source, b.source, "{block}");
                assert_eq!(a.record.is_ok(), b.record.is_ok(), "{block}");
                if let (Err(a), Err(b)) = (&a.record, &b.record) {
                    assert_eq!(a, b);
                }
            }
        }
        assert_eq!(whole.len(), 52);
        assert_eq!(whole.last().unwrap().source.line, Some(68));
        // Loaded one unit at a time, as the work queue does, each unit's buffer is read into
        // again by a later one (the carried start of a line first): still the same records.
        for block in [1, 100, 1000, 5000] {
            let pieces: Vec<_> = units(&files, block)
                .flat_map(|u| load_unit_lean(u).0)
                .collect();
            let sources =
                |l: &[super::Loaded]| l.iter().map(|l| l.source.clone()).collect::<Vec<_>>();
            assert_eq!(sources(&pieces), sources(&whole), "{block}");
            for (a, b) in pieces.iter().zip(&whole) {
                match (&a.record, &b.record) {
                    (Ok(a), Ok(b)) => assert_eq!(a.task_run, b.task_run, "{block}"),
                    (Err(a), Err(b)) => assert_eq!(a, b, "{block}"),
                    _ => panic!("{block}: {:?} loads otherwise in units", a.source),
                }
            }
        }
    }

    #[test]
    fn json_files_are_cut_into_enough_units_for_every_core_and_big_ones_when_many() {
        use super::{FILES_PER_UNIT, MIN_FILE_UNITS, files_per_unit};
        for (files, per_unit) in [(1, 1), (63, 1), (64, 1), (200, 3), (4095, 63), (4096, 64)] {
            assert_eq!(files_per_unit(files), per_unit, "{files}");
        }
        assert_eq!(files_per_unit(100_000), FILES_PER_UNIT);
        // Every file is in one unit, in order, and a small folder is spread over many units.
        let tmp = tempfile::tempdir().unwrap();
        let files: Vec<std::path::PathBuf> = (0..300)
            .map(|i| tmp.path().join(format!("r{i:03}.json")))
            .collect();
        let units: Vec<Vec<std::path::PathBuf>> = super::units(&files, super::BLOCK)
            .map(|unit| match unit {
                super::Unit::Files(group) => group,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(units.len() >= MIN_FILE_UNITS, "{}", units.len());
        assert_eq!(units.concat(), files);
    }

    #[test]
    fn units_read_into_used_buffers_hold_only_their_own_bytes() {
        // Lines of very different lengths in small blocks, each unit dropped before the next is
        // read, so every block is read into a buffer holding an earlier block's bytes (longer
        // ones too): the units, joined, are the file, each ends at a line end but the last, and
        // none shows a byte the file does not have there.
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("r.jsonl");
        let mut text = Vec::new();
        for i in 0..300usize {
            let fill = [b'x', b'y', b'z'][i % 3];
            text.extend(std::iter::repeat_n(fill, (i * 37) % 1500));
            text.push(b'\n');
        }
        text.extend_from_slice(b"tail without a line end");
        std::fs::write(&path, &text).unwrap();
        let files = vec![path];
        for block in [1, 64, 700, 4096] {
            let mut joined = Vec::new();
            let mut count = 0;
            for unit in super::units(&files, block) {
                let super::Unit::Lines {
                    bytes,
                    first_byte,
                    line_ends,
                    ..
                } = unit
                else {
                    panic!("a .jsonl file is read in lines")
                };
                assert_eq!(first_byte, joined.len() as u64, "{block}");
                assert_eq!(line_ends, bytes.iter().filter(|&&b| b == b'\n').count());
                if first_byte + (bytes.len() as u64) < text.len() as u64 {
                    assert_eq!(bytes.last(), Some(&b'\n'), "{block}");
                }
                joined.extend_from_slice(&bytes);
                count += 1;
            }
            assert_eq!(joined, text, "{block}");
            assert!(count > 10, "{block}: {count}");
        }
    }

    /// The units of a folder's files, as the names in each.
    fn unit_names(units: impl Iterator<Item = super::Unit>) -> Vec<Vec<String>> {
        units
            .map(|unit| match unit {
                super::Unit::Files(paths) => {
                    paths.iter().map(|p| p.display().to_string()).collect()
                }
                super::Unit::Lines {
                    path, first_line, ..
                } => vec![format!("{}:{first_line}", path.display())],
                super::Unit::Failed(e) => vec![format!("failed {e}")],
            })
            .collect()
    }

    #[test]
    fn a_folder_walked_as_it_is_loaded_gives_what_discover_gives_in_its_order() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("runs");
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        // Names whose byte order and path order could part: a folder `a` beside `a.json` and
        // `a-b.json` (`-` and `.` sort before `/`), upper case, digits, non-ASCII.
        for rel in [
            "a.json",
            "a-b.json",
            "a/z.json",
            "a/b/c.jsonl",
            "A.json",
            "b.jsonl",
            "b.txt",
            "c/é.json",
            "c/e.json",
            "10.json",
            "9.json",
        ] {
            write(rel, "{}\n");
        }
        // Enough files that a unit takes the most it can, and the look-ahead must stop early.
        for i in 0..(super::MIN_FILE_UNITS * super::FILES_PER_UNIT + 100) {
            write(&format!("bulk/{:05}.json", i * 7919 % 10_007), "{}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            // A loop, a second way into a folder already listed, a dangling record link.
            symlink(&root, root.join("c/loop")).unwrap();
            symlink(root.join("a"), root.join("d")).unwrap();
            symlink(root.join("gone.json"), root.join("dangling.json")).unwrap();
        }
        let (files, errors) = super::discover(std::slice::from_ref(&root));
        let mut walk = super::Walk::new(&root);
        let walked: Vec<_> = (&mut walk).collect();
        assert_eq!(walked, files, "the same files, in path order, with no sort");
        let shown = |errors: &[super::LoadError]| -> Vec<String> {
            errors.iter().map(ToString::to_string).collect()
        };
        assert_eq!(shown(&walk.errors), shown(&errors));
        #[cfg(unix)]
        assert_eq!(errors.len(), 1, "{errors:?}");
        // Cut into units as they are found, the same units as from the whole list.
        for block in [64, super::BLOCK] {
            let mut walk = super::Walk::new(&root);
            assert_eq!(
                unit_names(super::units_of(&mut walk, block)),
                unit_names(super::units(&files, block)),
                "{block}"
            );
        }
        // A few files: fewer to a unit, as many as the whole list gives.
        let few = tmp.path().join("few");
        for i in 0..300 {
            let path = few.join(format!("{i:03}.json"));
            std::fs::create_dir_all(&few).unwrap();
            std::fs::write(path, "{}").unwrap();
        }
        let (files, _) = super::discover(std::slice::from_ref(&few));
        let from_list = unit_names(super::units(&files, super::BLOCK));
        assert_eq!(from_list.len(), 300 / 4);
        assert_eq!(
            unit_names(super::units_of(super::Walk::new(&few), super::BLOCK)),
            from_list
        );
    }

    #[test]
    fn files_read_into_one_buffer_are_each_whole_and_nothing_more() {
        let tmp = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = tmp.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let long: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let files = [
            write("a.json", b"{\"a\": 1}"),
            write("empty.json", b""),
            write("long.json", &long),
            write("b.json", b"{}"),
        ];
        // Twice on one thread: the second time the buffer is the first's, long file's bytes
        // still in it past the short ones.
        for round in 0..2 {
            let mut buffer = super::FileBuffer::take();
            if round == 1 {
                assert!(buffer.bytes.len() > long.len(), "the buffer was kept");
            }
            let mut order: Vec<&std::path::PathBuf> = files.iter().collect();
            if round == 1 {
                order.reverse();
            }
            let read: Vec<_> = order.iter().map(|p| (p, buffer.read(p).unwrap())).collect();
            for (path, at) in &read {
                assert_eq!(buffer.get(at), std::fs::read(path).unwrap(), "{path:?}");
            }
            let missing = buffer.read(&tmp.path().join("gone.json")).unwrap_err();
            assert!(missing.message.contains("no such file"), "{missing:?}");
            let folder = buffer.read(tmp.path()).unwrap_err();
            assert!(folder.message.contains("a folder"), "{folder:?}");
            // A failed read leaves the files read before it as they were.
            for (path, at) in &read {
                assert_eq!(buffer.get(at), std::fs::read(path).unwrap(), "{path:?}");
            }
            buffer.give_back();
        }
    }

    #[test]
    fn pooled_read_buffers_stay_about_a_block_in_size() {
        // Grown by doubling, a buffer whose block began with a line's carried start went to
        // twice a block, and was kept so (peak memory of keys up by a fifth).
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("r.jsonl");
        let line = format!("{}\n", "x".repeat(300));
        std::fs::write(&path, line.repeat(2000)).unwrap();
        let block = 8192;
        let spare = super::Spare::default();
        let (file, meta) = super::open_regular(&path).unwrap();
        let units = super::LineBlocks::new(&path, file, meta.len(), block, spare.clone());
        assert!(units.map(drop).count() > 2000 * line.len() / block);
        let kept = std::iter::from_fn(|| Some(spare.take()))
            .take_while(|b| b.capacity() > 0)
            .collect::<Vec<_>>();
        assert!(!kept.is_empty());
        for buffer in kept {
            assert!(buffer.capacity() < block * 3 / 2, "{}", buffer.capacity());
        }
    }

    #[test]
    fn a_block_done_with_gives_its_buffer_back_to_be_read_into_again() {
        let spare = super::Spare::default();
        let mut bytes = spare.take();
        bytes.extend_from_slice(b"line\n");
        let (at, capacity) = (bytes.as_ptr(), bytes.capacity());
        drop(super::Block {
            valid: bytes.len(),
            bytes,
            spare: spare.clone(),
        });
        // The same memory, all of it initialised to be read over with no clearing.
        let again = spare.take();
        assert_eq!((again.as_ptr(), again.capacity()), (at, capacity));
        assert_eq!(again.len(), again.capacity());
        // Only so many are kept, and none grown far past a block (a huge record's line).
        for _ in 0..super::Spare::KEPT + 10 {
            spare.put(Vec::with_capacity(16));
        }
        spare.put(Vec::with_capacity(5 * super::BLOCK));
        let kept = std::iter::from_fn(|| Some(spare.take()))
            .take_while(|b| b.capacity() > 0)
            .collect::<Vec<_>>();
        assert_eq!(kept.len(), super::Spare::KEPT);
        assert!(kept.iter().all(|b| b.capacity() < super::BLOCK));
    }

    /// Every record loaded says where its text lies in its file, whatever the unit it came in
    /// (blocks of one byte to a megabyte, a non-UTF-8 line among them, CRLF line ends, a
    /// missing final line end, a whole `.json` file), and read again from there it loads as
    /// the same record with the same canonical texts.
    #[test]
    fn a_record_read_again_from_where_it_lies_loads_the_same() {
        let tmp = tempfile::tempdir().unwrap();
        let jsonl = tmp.path().join("r.jsonl");
        let mut bytes = Vec::new();
        for i in 0..40 {
            let line = record(
                &format!(r#"{{"a": {i}, "b": [1.5, "caf\u00e9"]}}"#),
                "null",
                "",
            );
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
            if i % 7 == 0 {
                bytes.extend_from_slice(b"\n  \n");
            }
            if i == 20 {
                bytes.extend_from_slice(b"{\"not utf-8\": \"\xff\"}\n");
            }
        }
        bytes.extend_from_slice(record(r#"{"last": true}"#, "null", "").as_bytes());
        std::fs::write(&jsonl, &bytes).unwrap();
        let json = tmp.path().join("r.json");
        let pretty = record(
            "{\n  \"a\": 1\n}",
            r#"{"run_id": "r", "parameters": {"n": 3}}"#,
            "",
        );
        std::fs::write(&json, format!("\n{pretty}\n")).unwrap();
        let files = vec![jsonl.clone(), json.clone()];
        for block in [1, 100, 1000, 1 << 20] {
            let mut seen = 0;
            let mut texts_seen = 0;
            for unit in units(&files, block) {
                super::visit_unit_lean(unit, |loaded, texts| {
                    let Ok(record) = loaded.record else {
                        assert!(loaded.at.is_none());
                        return;
                    };
                    seen += 1;
                    let path = &loaded.source.path;
                    let at = loaded.at.expect("a loaded record says where it lies");
                    let again = super::read_record_at(path, at).unwrap();
                    let first_line = loaded.source.line.map_or(0, |l| l - 1);
                    let kept = super::CanonicalText::copied(&texts);
                    let mut got = None;
                    super::visit_record_lean(path, first_line, &again, |l, t| {
                        assert!(got.is_none(), "one record");
                        got = Some((l, super::CanonicalText::copied(&t)));
                    });
                    let (l, t) = got.expect("the record again");
                    assert_eq!(l.source, loaded.source, "{block}");
                    assert_eq!(l.record.as_ref().ok(), Some(&record), "{block}");
                    // The same texts; a unit's loading may have hashed them already (with
                    // the other records of the unit), and then to their own hash.
                    let text = |c: &Option<(Box<str>, Option<String>, bool)>| {
                        c.as_ref()
                            .map(|(text, _, checked)| (text.clone(), *checked))
                    };
                    assert_eq!(text(&t.inputs), text(&kept.inputs), "{block}");
                    assert_eq!(text(&t.flow_parameters), text(&kept.flow_parameters));
                    for (json, hash, _) in
                        [&kept.inputs, &kept.flow_parameters].into_iter().flatten()
                    {
                        if let Some(hash) = hash {
                            assert_eq!(*hash, crate::hash::hash_json_text(json));
                        }
                    }
                    texts_seen += usize::from(kept.inputs.is_some());
                });
            }
            assert_eq!(seen, 42, "{block}");
            assert_eq!(texts_seen, 42, "{block}");
        }
        // A file gone or cut short since is an error naming it, not a panic.
        std::fs::write(&jsonl, b"{}").unwrap();
        let at = super::RecordAt { offset: 10, len: 5 };
        let e = super::read_record_at(&jsonl, at).unwrap_err();
        assert_eq!(e.path, jsonl);
        std::fs::remove_file(&json).unwrap();
        assert!(super::read_record_at(&json, at).is_err());
    }
}
