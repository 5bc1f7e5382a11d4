//! Finding a value in JSON text by its path (`task_run.id`, `policy.policies[1].exclude`), to
//! say where a record is wrong. The parsed tree keeps no positions (keeping them would cost
//! every record of every load), so a fault found in the tree is placed by scanning the text
//! again, once, and only when there is a fault.

use super::value::Value;

/// One step of a path into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A key of an object.
    Key(String),
    /// An item of an array, from 0.
    Index(usize),
}

/// A path as people read it: `policy.policies[1].exclude[0]`; the empty path is `record`.
pub fn path_name(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() {
        out.push_str("record");
    }
    out
}

/// Where a value is in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// Byte offset of the value's first character.
    pub offset: usize,
    /// The deepest key of the path that occurs more than once in its object: its index in
    /// the path, and how many times it occurs.
    pub repeated: Option<(usize, usize)>,
}

/// Finds the value at `path` in `text`, which must have parsed (with [`super::parse`]): the
/// value a repeated key holds last is the one found, since that is the one the parser keeps,
/// as Python's `json.loads` does. `None` when the path is not in the text.
pub fn locate(text: &str, path: &[Step]) -> Option<Located> {
    let bytes = text.as_bytes();
    let mut pos = skip_ws(bytes, 0);
    let mut repeated = None;
    for (i, step) in path.iter().enumerate() {
        match step {
            Step::Key(key) => {
                let (offset, n) = find_key(text, pos, key)?;
                pos = offset;
                if n > 1 {
                    repeated = Some((i, n));
                }
            }
            Step::Index(index) => pos = find_index(bytes, pos, *index)?,
        }
    }
    Some(Located {
        offset: pos,
        repeated,
    })
}

/// The last value of `key` in the object at `pos`, and how many times the key occurs.
fn find_key(text: &str, pos: usize, key: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    if bytes.get(pos) != Some(&b'{') {
        return None;
    }
    let mut pos = skip_ws(bytes, pos + 1);
    if bytes.get(pos) == Some(&b'}') {
        return None;
    }
    let mut found = None;
    let mut count = 0;
    loop {
        let key_end = skip_string(bytes, pos)?;
        let raw = &text[pos..key_end];
        // Most keys hold no escape and compare as written; `"\u0066ormat"` is `format` too.
        let matches = if raw.contains('\\') {
            matches!(super::parse(raw), Ok(Value::Str(k)) if k == key)
        } else {
            &raw[1..raw.len() - 1] == key
        };
        pos = skip_ws(bytes, key_end);
        if bytes.get(pos) != Some(&b':') {
            return None;
        }
        pos = skip_ws(bytes, pos + 1);
        if matches {
            found = Some(pos);
            count += 1;
        }
        pos = skip_ws(bytes, skip_value(bytes, pos)?);
        match bytes.get(pos) {
            Some(b',') => pos = skip_ws(bytes, pos + 1),
            Some(b'}') => break,
            _ => return None,
        }
    }
    found.map(|offset| (offset, count))
}

/// Item `index` of the array at `pos`.
fn find_index(bytes: &[u8], pos: usize, index: usize) -> Option<usize> {
    if bytes.get(pos) != Some(&b'[') {
        return None;
    }
    let mut pos = skip_ws(bytes, pos + 1);
    if bytes.get(pos) == Some(&b']') {
        return None;
    }
    for _ in 0..index {
        pos = skip_ws(bytes, skip_value(bytes, pos)?);
        match bytes.get(pos) {
            Some(b',') => pos = skip_ws(bytes, pos + 1),
            _ => return None,
        }
    }
    Some(pos)
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(pos) {
        pos += 1;
    }
    pos
}

/// The end of the string whose opening quote is at `pos`.
fn skip_string(bytes: &[u8], pos: usize) -> Option<usize> {
    if bytes.get(pos) != Some(&b'"') {
        return None;
    }
    let mut i = pos + 1;
    loop {
        i += memchr::memchr2(b'"', b'\\', bytes.get(i..)?)?;
        if bytes[i] == b'"' {
            return Some(i + 1);
        }
        i += 2;
    }
}

/// The end of the value at `pos`; nesting is followed with a counter, not recursion.
fn skip_value(bytes: &[u8], pos: usize) -> Option<usize> {
    match bytes.get(pos)? {
        b'"' => skip_string(bytes, pos),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = pos;
            loop {
                match bytes.get(i)? {
                    b'"' => {
                        i = skip_string(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            // A number or a bare word: it ends where the next token starts.
            let len = bytes[pos..]
                .iter()
                .position(|b| matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(bytes.len() - pos);
            Some(pos + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Located, Step, locate, path_name};

    fn key(k: &str) -> Step {
        Step::Key(k.to_string())
    }

    fn at<'a>(text: &'a str, path: &[Step]) -> Option<&'a str> {
        locate(text, path).map(|l| &text[l.offset..])
    }

    #[test]
    fn finds_keys_and_items_past_strings_that_look_like_json() {
        let text =
            r#" {"a": "x\"}]{[", "b": {"c": [1, {"d": NaN}, [2, "]"], -Infinity]}, "e": 1e5}"#;
        assert_eq!(at(text, &[]), Some(&text[1..]));
        assert!(at(text, &[key("a")]).unwrap().starts_with(r#""x\"}]{[""#));
        assert!(at(text, &[key("e")]).unwrap().starts_with("1e5}"));
        let b = [key("b"), key("c")];
        assert!(at(text, &b).unwrap().starts_with("[1, {"));
        let item = |i| [key("b"), key("c"), Step::Index(i)];
        assert!(at(text, &item(0)).unwrap().starts_with("1, "));
        assert!(at(text, &item(1)).unwrap().starts_with(r#"{"d""#));
        assert!(at(text, &item(2)).unwrap().starts_with(r#"[2, "]"]"#));
        assert!(at(text, &item(3)).unwrap().starts_with("-Infinity]"));
        assert_eq!(at(text, &item(4)), None);
        let d = [key("b"), key("c"), Step::Index(1), key("d")];
        assert!(at(text, &d).unwrap().starts_with("NaN}"));
        assert_eq!(at(text, &[key("z")]), None);
        assert_eq!(at(text, &[key("a"), key("z")]), None);
        assert_eq!(at("[]", &[Step::Index(0)]), None);
        assert_eq!(at("{}", &[key("a")]), None);
    }

    #[test]
    fn a_repeated_key_is_found_where_it_is_last_and_counted() {
        // The parser keeps the last value of a repeated key, as a Python dict does.
        let text = "{\"k\": 1,\n \"k\": 2, \"\\u006b\": [3], \"j\": {\"i\": 4, \"i\": 5}}";
        assert_eq!(
            locate(text, &[key("k"), Step::Index(0)]),
            Some(Located {
                offset: text.find('3').unwrap(),
                repeated: Some((0, 3))
            })
        );
        assert_eq!(locate(text, &[key("j")]).unwrap().repeated, None);
        let i = locate(text, &[key("j"), key("i")]).unwrap();
        assert_eq!(
            (&text[i.offset..i.offset + 1], i.repeated),
            ("5", Some((1, 2)))
        );
    }

    #[test]
    fn paths_read_as_people_write_them() {
        assert_eq!(path_name(&[]), "record");
        assert_eq!(path_name(&[key("task_run"), key("id")]), "task_run.id");
        assert_eq!(
            path_name(&[
                key("policy"),
                key("policies"),
                Step::Index(1),
                key("exclude"),
                Step::Index(0)
            ]),
            "policy.policies[1].exclude[0]"
        );
    }
}
