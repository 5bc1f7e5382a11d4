//! Prefect's one hashing primitive, `hash_objects(*args)`: md5 over
//! `json.dumps([list(args), {}], sort_keys=True)`.
//!
//! The JSON writer streams its text straight into the hasher ([`Md5Out`]): a value is never
//! written out as a `String` just to be hashed.

use crate::pyjson::{DumpError, JsonOut, SortKeys, Value, write_str, write_value};

/// The 32 lowercase hex digits of md5 over the UTF-8 bytes of `text`.
pub fn md5_hex(text: &str) -> String {
    let mut out = Md5Out::new();
    out.push_str(text);
    out.hex()
}

/// A writer's output hashed as it comes, through a small buffer: the md5 of the text without
/// the text. Pieces longer than the buffer go to the hasher directly.
pub struct Md5Out {
    md5: md5_many::Md5State,
    buf: [u8; 512],
    len: usize,
}

impl Default for Md5Out {
    fn default() -> Self {
        Md5Out::new()
    }
}

impl Md5Out {
    pub fn new() -> Md5Out {
        Md5Out {
            md5: md5_many::Md5State::new(),
            buf: [0; 512],
            len: 0,
        }
    }

    /// The 32 lowercase hex digits of md5 over everything written.
    pub fn hex(mut self) -> String {
        self.md5.update(&self.buf[..self.len]);
        hex(&self.md5.finalize())
    }
}

/// The 32 lowercase hex digits of a digest.
fn hex(digest: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (pair, &byte) in out.chunks_exact_mut(2).zip(digest) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
    std::str::from_utf8(&out).expect("hex digits").to_string()
}

impl Md5Out {
    /// Hashes bytes as they are (text known to be UTF-8, or a part of it).
    fn push_bytes(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > self.buf.len() {
            self.md5.update(&self.buf[..self.len]);
            self.len = 0;
            if bytes.len() >= self.buf.len() {
                self.md5.update(bytes);
                return;
            }
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

impl JsonOut for Md5Out {
    #[inline]
    fn push_str(&mut self, s: &str) {
        self.push_bytes(s.as_bytes());
    }

    #[inline]
    fn push(&mut self, c: char) {
        if c.is_ascii() && self.len < self.buf.len() {
            self.buf[self.len] = c as u8;
            self.len += 1;
        } else {
            self.push_str(c.encode_utf8(&mut [0; 4]));
        }
    }
}

/// Writes the text `hash_objects(*args)` hashes, `[[arg1, arg2], {}]`, to `out`.
fn write_hash_objects(
    args: &[&Value],
    sort: SortKeys,
    out: &mut impl JsonOut,
) -> Result<(), DumpError> {
    out.push_str("[[");
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_value(arg, sort, out)?;
    }
    out.push_str("], {}]");
    Ok(())
}

/// The text `hash_objects(*args)` hashes: `[[arg1, arg2], {}]`.
pub fn hash_objects_text(args: &[&Value], sort: SortKeys) -> Result<String, DumpError> {
    let mut text = String::new();
    write_hash_objects(args, sort, &mut text)?;
    Ok(text)
}

/// `hash_objects(*args)` for values. `Err` is where Python's `json.dumps` raises, which makes
/// Prefect fall back to cloudpickle: a key nobody can reproduce outside that process.
pub fn hash_objects(args: &[&Value], sort: SortKeys) -> Result<String, DumpError> {
    let mut out = Md5Out::new();
    write_hash_objects(args, sort, &mut out)?;
    Ok(out.hex())
}

/// `hash_objects(arg)` for one argument whose JSON text is already `text`, byte for byte as
/// `json.dumps` writes it: the text is hashed as it is.
pub fn hash_json_text(text: &str) -> String {
    let mut out = Md5Out::new();
    out.push_str("[[");
    out.push_str(text);
    out.push_str("], {}]");
    out.hex()
}

/// Writes what `Inputs` with `exclude` hashes of canonical inputs `text` (an object written by
/// `json.dumps`, keys without escapes): `hash_objects` of the object without the excluded
/// entries, whose text is the kept entries as they are (leaving entries out of a canonical
/// object keeps it canonical). Its keys are in order (code points, which is byte order in
/// UTF-8), so past the last excluded name the rest of the object is kept as it is, unsplit.
fn write_kept_entries(text: &str, exclude: &[String], out: &mut impl JsonOut) {
    out.push_str("[[{");
    let last_excluded = exclude.iter().max();
    let mut kept = 0;
    for (name, entry) in crate::pyjson::canonical_entries(text) {
        if last_excluded.is_none_or(|last| name > last.as_str()) {
            // This entry and every one after it, as the object holds them (without its `}`).
            let at = entry.as_ptr() as usize - text.as_ptr() as usize;
            if kept > 0 {
                out.push_str(", ");
            }
            out.push_str(&text[at..text.len() - 1]);
            break;
        }
        if exclude.iter().any(|e| e == name) {
            continue;
        }
        if kept > 0 {
            out.push_str(", ");
        }
        out.push_str(entry);
        kept += 1;
    }
    out.push_str("}], {}]");
}

/// [`write_kept_entries`]' message hashed: `Inputs(exclude)`'s key of canonical inputs `text`.
pub fn hash_kept_entries(text: &str, exclude: &[String]) -> String {
    let mut out = Md5Out::new();
    write_kept_entries(text, exclude, &mut out);
    out.hex()
}

/// Messages gathered for md5 and hashed side by side: md5 is serial within one message, so
/// many messages go through SIMD lanes together (eight or sixteen at a time where the CPU has
/// AVX2 or AVX-512), several times the throughput of hashing them one by one. A record
/// folder's inputs and task sources are thousands of independent messages.
#[derive(Debug, Default)]
pub struct HashBatch {
    text: String,
    ends: Vec<usize>,
    /// Messages hashed at once where they lie, not copied into `text` (big ones: side by side
    /// with small ones they gain nothing, and copying them cost a copy and fresh pages), by
    /// index, with their hex.
    hashed: Vec<(usize, String)>,
}

impl HashBatch {
    /// A batch with room for `bytes` of messages: grown by doubling, a unit's batch copied
    /// what it held at every step.
    pub fn with_capacity(bytes: usize) -> HashBatch {
        HashBatch {
            text: String::with_capacity(bytes),
            ends: Vec::new(),
            hashed: Vec::new(),
        }
    }

    /// Adds [`hash_json_text`]'s message for `text`; its hash will be at the index returned.
    pub fn json_text(&mut self, text: &str) -> usize {
        if text.len() >= BIG_MESSAGE {
            // An empty message holds its place among the others.
            self.hashed.push((self.ends.len(), hash_json_text(text)));
            return self.end();
        }
        self.text.push_str("[[");
        self.text.push_str(text);
        self.text.push_str("], {}]");
        self.end()
    }

    /// Adds [`hash_strs`]' message for `args`; its hash will be at the index returned.
    pub fn strs(&mut self, args: &[&str]) -> usize {
        write_strs(args, &mut self.text);
        self.end()
    }

    /// Adds [`hash_kept_entries`]' message; its hash will be at the index returned.
    pub fn kept_entries(&mut self, text: &str, exclude: &[String]) -> usize {
        write_kept_entries(text, exclude, &mut self.text);
        self.end()
    }

    fn end(&mut self) -> usize {
        self.ends.push(self.text.len());
        self.ends.len() - 1
    }

    /// The 32 lowercase hex digits of md5 over each message, in the order they were added.
    pub fn hex(self) -> Vec<String> {
        let mut start = 0;
        let messages: Vec<&[u8]> = self
            .ends
            .iter()
            .map(|&end| {
                let message = &self.text.as_bytes()[start..end];
                start = end;
                message
            })
            .collect();
        // The CPU's SIMD level, found once.
        static LANES: std::sync::OnceLock<md5_many::Md5Many> = std::sync::OnceLock::new();
        // Side by side in order of length: the lanes of a group then run out together.
        let mut order: Vec<u32> = (0..messages.len() as u32).collect();
        order.sort_unstable_by_key(|&i| messages[i as usize].len());
        let sorted: Vec<&[u8]> = order.iter().map(|&i| messages[i as usize]).collect();
        let mut digests = vec![[0u8; 16]; messages.len()];
        LANES
            .get_or_init(md5_many::Md5Many::new)
            .hash_many(&sorted, &mut digests);
        let mut hexes: Vec<String> = vec![String::new(); messages.len()];
        for (&i, digest) in order.iter().zip(&digests) {
            hexes[i as usize] = hex(digest);
        }
        for (index, hashed) in self.hashed {
            hexes[index] = hashed;
        }
        hexes
    }
}

/// Messages at least this long are hashed on their own, where they lie ([`HashBatch`]).
const BIG_MESSAGE: usize = 1 << 20;

/// [`hash_json_text`] of many texts at once ([`HashBatch`]).
pub fn hash_json_texts(texts: &[&str]) -> Vec<String> {
    let mut batch = HashBatch::default();
    for text in texts {
        batch.json_text(text);
    }
    batch.hex()
}

/// Texts at least this long are hashed on a second core while they are checked.
pub const BIG_TEXT: usize = 4 << 20;

/// Bytes hashed between two saved hasher states.
const CHECKPOINT: usize = 1 << 20;

/// `check` finds how long the canonical JSON value at the start of `text` is; meanwhile another
/// thread hashes `[[` + `text` (to its end, saving the hasher's state every megabyte, and
/// stopping early if the check is done first), so that a big input costs about the longer of
/// the two, not their sum. Returns the length and [`hash_json_text`] of that value.
pub fn check_and_hash(
    text: &str,
    check: impl FnOnce(&str) -> Option<usize>,
) -> Option<(usize, String)> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let done = AtomicBool::new(false);
    let (len, states) = std::thread::scope(|scope| {
        let hasher = scope.spawn(|| {
            let mut md5 = md5_many::Md5State::new();
            md5.update(b"[[");
            // states[k]: the hasher after `[[` and the first k megabytes of `text`.
            let mut states = Vec::with_capacity(text.len() / CHECKPOINT + 1);
            for chunk in text.as_bytes().chunks(CHECKPOINT) {
                states.push(md5);
                if done.load(Ordering::Relaxed) {
                    break;
                }
                md5.update(chunk);
            }
            states
        });
        let len = check(text);
        done.store(true, Ordering::Relaxed);
        let states = hasher
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (len, states)
    });
    let len = len?;
    let k = len / CHECKPOINT;
    let mut out = Md5Out::new();
    match states.get(k) {
        Some(state) => {
            out.md5 = *state;
            out.push_bytes(&text.as_bytes()[k * CHECKPOINT..len]);
        }
        // The hasher stopped before it got there: hash it all here.
        None => {
            out.push_str("[[");
            out.push_str(&text[..len]);
        }
    }
    out.push_str("], {}]");
    Some((len, out.hex()))
}

/// `hash_objects(*keys)` for string arguments: what `CompoundCachePolicy` hashes, and what
/// `TaskSource` hashes (one string, the source).
pub fn hash_strs<S: AsRef<str>>(args: &[S]) -> String {
    let mut out = Md5Out::new();
    write_strs(args, &mut out);
    out.hex()
}

/// The text [`hash_strs`] hashes.
fn write_strs<S: AsRef<str>>(args: &[S], out: &mut impl JsonOut) {
    out.push_str("[[");
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_str(arg.as_ref(), out);
    }
    out.push_str("], {}]");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::{Float, Key};

    fn obj(entries: Vec<(&str, Value)>) -> Value {
        Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (Key::Str(k.to_string()), v))
                .collect(),
        )
    }

    // The test vectors from prefect-cache-keys.md.
    #[test]
    fn spec_vectors() {
        let x1 = obj(vec![("x", Value::Int("1".into()))]);
        assert_eq!(
            hash_objects(&[&x1], SortKeys::Python).unwrap(),
            "599d6780d743a1b50a942acff196a0f1"
        );
        let x1e16 = obj(vec![("x", Value::Float(Float::new(1e16)))]);
        assert_eq!(
            hash_objects(&[&x1e16], SortKeys::Python).unwrap(),
            "a9c73248d1d6e33f18e39ca3be777043"
        );
        let empty = obj(vec![]);
        assert_eq!(
            hash_objects(&[&empty], SortKeys::Python).unwrap(),
            "05da934bc95640755e0d7882f6f171d0"
        );
    }

    #[test]
    fn streamed_hash_is_md5_of_the_text_at_every_size() {
        use md5::{Digest, Md5};
        // Pieces below, at and above the buffer, and a text crossing it many times.
        for n in [
            0, 1, 63, 64, 511, 512, 513, 4095, 4096, 4097, 10_000, 100_000,
        ] {
            let v = Value::Array(
                (0..n / 8)
                    .map(|i| Value::Str(format!("s{i}\u{e9}")))
                    .chain([Value::Str("x".repeat(n))])
                    .collect(),
            );
            let text = hash_objects_text(&[&v], SortKeys::Python).unwrap();
            let want: String = Md5::digest(text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(hash_objects(&[&v], SortKeys::Python).unwrap(), want, "{n}");
            assert_eq!(md5_hex(&text), want);
        }
    }

    #[test]
    fn many_texts_hashed_side_by_side_are_each_hashed_alone() {
        // Every length around md5's block and padding boundaries (a message is the text plus
        // eight bytes of brackets), mixed in one batch, with batches of every size up to and
        // past a lane group, so that lanes refill with messages of other lengths.
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut lengths: Vec<usize> = (0..300).collect();
        lengths.extend((0..200).map(|_| (next() % 5000) as usize));
        lengths.push(100_000);
        let texts: Vec<String> = lengths
            .iter()
            .map(|&n| {
                (0..n)
                    .map(|_| char::from(b' ' + (next() % 95) as u8))
                    .collect()
            })
            .collect();
        for batch in [1, 2, 7, 8, 9, 16, 17, 33, 64, texts.len()] {
            for chunk in texts.chunks(batch) {
                let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                let alone: Vec<String> = refs.iter().map(|t| hash_json_text(t)).collect();
                assert_eq!(hash_json_texts(&refs), alone, "batches of {batch}");
            }
        }
        assert!(hash_json_texts(&[]).is_empty());
        // Big texts, hashed on their own where they lie, keep their places among the others.
        let big: Vec<String> = [BIG_MESSAGE - 1, 10, BIG_MESSAGE, 0, BIG_MESSAGE + 7]
            .iter()
            .map(|&n| "a".repeat(n))
            .collect();
        let refs: Vec<&str> = big.iter().map(String::as_str).collect();
        let alone: Vec<String> = refs.iter().map(|t| hash_json_text(t)).collect();
        let mut batch = HashBatch::default();
        for text in &refs {
            batch.json_text(text);
        }
        assert_eq!(
            batch.hashed.len(),
            2,
            "the texts of at least BIG_MESSAGE bytes"
        );
        assert_eq!(batch.hex(), alone);
        // Sources as TaskSource hashes them: escapes, non-ASCII, quotes.
        let mut batch = HashBatch::default();
        let sources: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    "def f{i}():\n    return \"caf\u{e9} {}\"\t\\\n",
                    "x".repeat(i * 7)
                )
            })
            .collect();
        for source in &sources {
            batch.strs(&[source]);
        }
        let alone: Vec<String> = sources.iter().map(|s| hash_strs(&[s])).collect();
        assert_eq!(batch.hex(), alone);
    }

    #[test]
    fn kept_entries_are_the_hash_of_the_inputs_without_the_excluded() {
        // Inputs with nested values holding commas, braces and quotes, as json.dumps writes
        // them; each exclusion hashed alone, in a batch, and as hash_objects of the value left.
        let text = r#"{"a": [1, {"b": "x, }"}], "debug": true, "m": {"k": "\"q\""}, "z": null}"#;
        let value = crate::pyjson::parse(text).expect("JSON");
        let excludes: Vec<Vec<String>> = [
            &["debug"][..],
            &["a"],
            &["z"],
            &["a", "z"],
            &["a", "debug", "m", "z"],
            &["absent"],
            &["m"],
            &["0"],
            &[""],
            &["zz"],
            &["m", "b"],
            &[],
        ]
        .iter()
        .map(|names| names.iter().map(|n| n.to_string()).collect())
        .collect();
        let mut batch = HashBatch::default();
        let mut expected = Vec::new();
        for exclude in &excludes {
            let Value::Object(entries) = &value else {
                panic!("an object")
            };
            let left = Value::Object(
                entries
                    .iter()
                    .filter(|(k, _)| !matches!(k, Key::Str(n) if exclude.contains(n)))
                    .cloned()
                    .collect(),
            );
            let want = hash_objects(&[&left], SortKeys::Python).expect("hashable");
            assert_eq!(
                hash_kept_entries(text, exclude),
                want,
                "excluding {exclude:?}"
            );
            batch.json_text("{}");
            batch.kept_entries(text, exclude);
            expected.extend([hash_json_text("{}"), want]);
        }
        assert_eq!(batch.hex(), expected);
    }

    #[test]
    fn checked_and_hashed_together_is_the_hash_of_the_text() {
        // Spans ending before, on and after checkpoints, and a check that fails.
        let body: String = (0..400_000).map(|i| format!("{i}, ")).collect();
        for cut in [
            0,
            10,
            CHECKPOINT - 3,
            CHECKPOINT,
            CHECKPOINT + 1,
            2 * CHECKPOINT + 7,
        ] {
            let text = format!("[{}1]{}", &body[..cut], "x".repeat(100));
            let len = cut + 3;
            let (got, key) = check_and_hash(&text, |_| Some(len)).unwrap();
            assert_eq!(got, len);
            assert_eq!(key, hash_json_text(&text[..len]), "{cut}");
        }
        assert!(check_and_hash("[1]", |_| None).is_none());
    }

    #[test]
    fn strs_match_values() {
        let a = Value::Str("caf\u{e9} \u{1F600}".into());
        let b = Value::Str("k2".into());
        assert_eq!(
            hash_strs(&["caf\u{e9} \u{1F600}", "k2"]),
            hash_objects(&[&a, &b], SortKeys::Python).unwrap()
        );
        assert_eq!(hash_strs::<&str>(&[]), md5_hex("[[], {}]"));
    }
}
