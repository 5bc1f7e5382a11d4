//! Prefect's one hashing primitive, `hash_objects(*args)`: md5 over
//! `json.dumps([list(args), {}], sort_keys=True)`.

use md5::{Digest, Md5};

use crate::pyjson::{DumpError, SortKeys, Value, write_str, write_value};

/// The 32 lowercase hex digits of md5 over the UTF-8 bytes of `text`.
pub fn md5_hex(text: &str) -> String {
    let digest = Md5::digest(text.as_bytes());
    let mut out = String::with_capacity(32);
    for byte in digest {
        out.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
    }
    out
}

/// The text `hash_objects(*args)` hashes: `[[arg1, arg2], {}]`.
pub fn hash_objects_text(args: &[&Value], sort: SortKeys) -> Result<String, DumpError> {
    let mut text = String::from("[[");
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        write_value(arg, sort, &mut text)?;
    }
    text.push_str("], {}]");
    Ok(text)
}

/// `hash_objects(*args)` for values. `Err` is where Python's `json.dumps` raises, which makes
/// Prefect fall back to cloudpickle: a key nobody can reproduce outside that process.
pub fn hash_objects(args: &[&Value], sort: SortKeys) -> Result<String, DumpError> {
    Ok(md5_hex(&hash_objects_text(args, sort)?))
}

/// `hash_objects(*keys)` for string arguments: what `CompoundCachePolicy` hashes, and what
/// `TaskSource` hashes (one string, the source).
pub fn hash_strs<S: AsRef<str>>(args: &[S]) -> String {
    let mut text = String::from("[[");
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        write_str(arg.as_ref(), &mut text);
    }
    text.push_str("], {}]");
    md5_hex(&text)
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
