//! What changed between two recorded values (inputs, flow parameters), as a list of JSON paths
//! with old and new values: `rows[3].score`, `options["max rows"]`, `regions`.
//!
//! Values are compared as Prefect's encoder left them. A set (`{"__class__": "builtins.set",
//! "data": [...]}`) is compared as a set: the same elements in another order are reported once,
//! at the set, with a note, because that is what PYTHONHASHSEED does to sets of strings.

use crate::pyjson::{Key, Value};

/// How a path changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Changed,
    Added,
    Removed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Changed => "changed",
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
        }
    }
}

/// One changed path inside one argument.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueChange {
    /// The input or flow parameter the path is in.
    pub argument: String,
    /// The argument's name, then `.field`, `["odd key"]` and `[i]`.
    pub path: String,
    pub change: ChangeKind,
    pub old: Option<Value>,
    pub new: Option<Value>,
    /// Why this change is special, in one line (a set in another order).
    pub note: Option<String>,
}

/// The repr of a `{"__cachescope_repr__": ...}` placeholder, if `value` is one.
fn placeholder_repr(value: &Value) -> Option<&str> {
    match value {
        Value::Object(entries) if entries.len() == 1 => {
            value.get("__cachescope_repr__").and_then(Value::as_str)
        }
        _ => None,
    }
}

/// A repr with every memory address (`0x7f3a91c2d810`, six hex digits or more after `0x`)
/// replaced by `0x…`: the default `repr` of an object (`<Model object at 0x7f…>`) names where
/// it lives, which differs from one run to the next though the object may not.
pub fn without_addresses(repr: &str) -> String {
    let bytes = repr.as_bytes();
    let mut out = String::with_capacity(repr.len());
    let mut i = 0;
    while i < repr.len() {
        let starts = bytes[i] == b'0'
            && bytes.get(i + 1) == Some(&b'x')
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric());
        if starts {
            let digits = bytes[i + 2..]
                .iter()
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            let after = bytes.get(i + 2 + digits);
            if digits >= 6 && !after.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
                out.push_str("0x…");
                i += 2 + digits;
                continue;
            }
        }
        let ch = repr[i..].chars().next().expect("a char at a char boundary");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Equal values, where two placeholders whose reprs differ only by memory addresses count as
/// equal: they say nothing about whether the objects differ (Prefect hashed them with
/// cloudpickle, and only the key says whether the bytes did).
pub fn same_value(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    if let (Some(x), Some(y)) = (placeholder_repr(a), placeholder_repr(b)) {
        return without_addresses(x) == without_addresses(y);
    }
    match (a, b) {
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .zip(ys)
                    .all(|((kx, vx), (ky, vy))| kx == ky && same_value(vx, vy))
        }
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_value(x, y))
        }
        _ => false,
    }
}

/// The elements of an encoded set or frozenset, if `value` is one.
pub fn set_elements(value: &Value) -> Option<&[Value]> {
    let entries = value.as_object()?;
    if entries.len() != 2 {
        return None;
    }
    match (value.get("__class__"), value.get("data")) {
        (Some(Value::Str(class)), Some(Value::Array(items)))
            if class == "builtins.set" || class == "builtins.frozenset" =>
        {
            Some(items)
        }
        _ => None,
    }
}

/// The strings of an encoded set of strings (two or more, the case whose order can change).
pub fn set_of_strings(value: &Value) -> Option<Vec<&str>> {
    let items = set_elements(value)?;
    if items.len() < 2 {
        return None;
    }
    items.iter().map(Value::as_str).collect()
}

/// Every set of strings inside `value`, by path (`regions`, `options.tags`).
pub fn sets_of_strings_in(value: &Value, path: &str, out: &mut Vec<String>) {
    if set_of_strings(value).is_some() {
        out.push(path.to_string());
        return;
    }
    match value {
        Value::Object(entries) => {
            for (k, v) in entries {
                sets_of_strings_in(v, &key_path(path, k), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                sets_of_strings_in(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// `path.field`, or `path["odd key"]` when the key is not an identifier.
pub fn key_path(path: &str, key: &Key) -> String {
    match key {
        Key::Str(s) if is_identifier(s) => format!("{path}.{s}"),
        Key::Str(s) => format!("{path}[{}]", serde_json::Value::String(s.clone())),
        Key::Int(i) => format!("{path}[{i}]"),
        Key::Float(f) => format!("{path}[{f}]"),
        Key::Bool(b) => format!("{path}[{}]", if *b { "True" } else { "False" }),
        Key::Null => format!("{path}[None]"),
    }
}

/// The changes from `a` to `b`, two objects of named arguments, for the arguments `counts`
/// keeps; at most `limit` changes, and how many more there were.
pub fn diff_arguments(
    a: Option<&Value>,
    b: Option<&Value>,
    counts: &dyn Fn(&str) -> bool,
    limit: usize,
) -> (Vec<ValueChange>, usize) {
    let empty: &[(Key, Value)] = &[];
    let a = a.and_then(Value::as_object).unwrap_or(empty);
    let b = b.and_then(Value::as_object).unwrap_or(empty);
    let mut out = Vec::new();
    for name in argument_names(a, b) {
        if !counts(&name) {
            continue;
        }
        let old = lookup(a, &name);
        let new = lookup(b, &name);
        diff_value(&name, &name, old, new, &mut out);
    }
    let more = out.len().saturating_sub(limit);
    out.truncate(limit);
    (out, more)
}

/// Argument names of both sides, A's order first, then the names only B has.
pub fn argument_names(a: &[(Key, Value)], b: &[(Key, Value)]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (k, _) in a.iter().chain(b) {
        let name = match k {
            Key::Str(s) => s.clone(),
            other => key_path("", other),
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn lookup<'v>(entries: &'v [(Key, Value)], name: &str) -> Option<&'v Value> {
    entries
        .iter()
        .rev()
        .find(|(k, _)| matches!(k, Key::Str(s) if s == name))
        .map(|(_, v)| v)
}

fn change(
    argument: &str,
    path: &str,
    kind: ChangeKind,
    old: Option<&Value>,
    new: Option<&Value>,
) -> ValueChange {
    ValueChange {
        argument: argument.to_string(),
        path: path.to_string(),
        change: kind,
        old: old.cloned(),
        new: new.cloned(),
        note: None,
    }
}

/// The changes below one path.
pub fn diff_value(
    argument: &str,
    path: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    out: &mut Vec<ValueChange>,
) {
    let (old, new) = match (old, new) {
        (None, None) => return,
        (Some(o), None) => {
            return out.push(change(argument, path, ChangeKind::Removed, Some(o), None));
        }
        (None, Some(n)) => {
            return out.push(change(argument, path, ChangeKind::Added, None, Some(n)));
        }
        (Some(o), Some(n)) => (o, n),
    };
    if same_value(old, new) {
        return;
    }
    // A value JSON could not encode is recorded as its repr: one value, whose inside (the
    // recorder's marker) is no part of the user's data.
    if crate::record::holds_placeholder(old) && old.get("__cachescope_repr__").is_some()
        || crate::record::holds_placeholder(new) && new.get("__cachescope_repr__").is_some()
    {
        let mut c = change(argument, path, ChangeKind::Changed, Some(old), Some(new));
        c.note = Some("recorded only as its repr: JSON could not encode it".to_string());
        return out.push(c);
    }
    if let (Some(xs), Some(ys)) = (set_elements(old), set_elements(new)) {
        let mut c = change(argument, path, ChangeKind::Changed, Some(old), Some(new));
        c.note = Some(set_note(xs, ys));
        return out.push(c);
    }
    match (old, new) {
        (Value::Object(xs), Value::Object(ys)) => {
            for name in argument_names(xs, ys) {
                let key = xs
                    .iter()
                    .chain(ys.iter())
                    .map(|(k, _)| k)
                    .find(|k| match k {
                        Key::Str(s) => *s == name,
                        other => key_path("", other) == name,
                    })
                    .cloned()
                    .unwrap_or(Key::Str(name.clone()));
                let get = |entries: &'_ [(Key, Value)]| {
                    entries
                        .iter()
                        .rev()
                        .find(|(k, _)| *k == key)
                        .map(|(_, v)| v.clone())
                };
                let (o, n) = (get(xs), get(ys));
                diff_value(argument, &key_path(path, &key), o.as_ref(), n.as_ref(), out);
            }
        }
        (Value::Array(xs), Value::Array(ys)) => {
            for i in 0..xs.len().max(ys.len()) {
                diff_value(argument, &format!("{path}[{i}]"), xs.get(i), ys.get(i), out);
            }
        }
        _ => out.push(change(
            argument,
            path,
            ChangeKind::Changed,
            Some(old),
            Some(new),
        )),
    }
}

/// What happened to a set, in one line.
fn set_note(old: &[Value], new: &[Value]) -> String {
    let only = |xs: &[Value], ys: &[Value]| -> Vec<String> {
        xs.iter()
            .filter(|x| !ys.contains(x))
            .map(short_text)
            .collect()
    };
    let (removed, added) = (only(old, new), only(new, old));
    if removed.is_empty() && added.is_empty() && old.len() == new.len() {
        return "same elements in another order: a set iterates in an order that changes with \
                PYTHONHASHSEED"
            .to_string();
    }
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("added {}", added.join(", ")));
    }
    if !removed.is_empty() {
        parts.push(format!("removed {}", removed.join(", ")));
    }
    if parts.is_empty() {
        parts.push("another number of equal elements".to_string());
    }
    parts.join("; ")
}

/// A value as compact Python-JSON text, cut to 60 characters, for sentences. A set is shown
/// as Python shows one, `{"east", "west"}`, in its recorded order.
pub fn short_text(value: &Value) -> String {
    let dump = |v: &Value| {
        crate::pyjson::dumps(v, crate::pyjson::SortKeys::Preserve)
            .unwrap_or_else(|_| "<not JSON>".to_string())
    };
    let text = match set_elements(value) {
        // A value JSON could not encode: its repr, which is what the user would recognise.
        None if value.as_object().is_some_and(|o| o.len() == 1)
            && value.get("__cachescope_repr__").is_some() =>
        {
            value
                .get("__cachescope_repr__")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string()
        }
        Some(items) => {
            let items: Vec<String> = items.iter().map(dump).collect();
            format!("{{{}}}", items.join(", "))
        }
        None => dump(value),
    };
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::parse;

    fn paths(a: &str, b: &str) -> Vec<(String, &'static str)> {
        let (a, b) = (parse(a).unwrap(), parse(b).unwrap());
        let (changes, more) = diff_arguments(Some(&a), Some(&b), &|_| true, 100);
        assert_eq!(more, 0);
        changes
            .into_iter()
            .map(|c| (c.path, c.change.as_str()))
            .collect()
    }

    #[test]
    fn nested_paths_name_fields_items_and_odd_keys() {
        assert_eq!(
            paths(
                r#"{"rows": [{"score": 1, "id": 7}, {"score": 2}], "day": "a", "gone": 1}"#,
                r#"{"rows": [{"score": 1, "id": 8}, {"score": 3}, {"score": 4}], "day": "a", "opts": {"max rows": 2}}"#
            ),
            [
                ("rows[0].id".to_string(), "changed"),
                ("rows[1].score".to_string(), "changed"),
                ("rows[2]".to_string(), "added"),
                ("gone".to_string(), "removed"),
                ("opts".to_string(), "added"),
            ]
        );
        assert_eq!(
            paths(
                r#"{"o": {"max rows": 1, "_k9": 1}}"#,
                r#"{"o": {"max rows": 2, "_k9": 2}}"#
            ),
            [
                ("o[\"max rows\"]".to_string(), "changed"),
                ("o._k9".to_string(), "changed")
            ]
        );
        // A type change is one change at that path, not a walk into either side.
        assert_eq!(
            paths(r#"{"x": [1]}"#, r#"{"x": {"a": 1}}"#),
            [("x".to_string(), "changed")]
        );
        assert!(paths(r#"{"x": 1.5}"#, r#"{"x": 1.50}"#).is_empty());
    }

    #[test]
    fn a_reordered_set_is_one_change_with_a_note() {
        let a = parse(r#"{"regions": {"__class__": "builtins.set", "data": ["east", "west"]}}"#)
            .unwrap();
        let b = parse(r#"{"regions": {"__class__": "builtins.set", "data": ["west", "east"]}}"#)
            .unwrap();
        let (changes, _) = diff_arguments(Some(&a), Some(&b), &|_| true, 10);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].path, "regions");
        assert!(
            changes[0]
                .note
                .as_deref()
                .unwrap()
                .contains("PYTHONHASHSEED")
        );
        let c = parse(r#"{"regions": {"__class__": "builtins.set", "data": ["west", "north"]}}"#)
            .unwrap();
        let (changes, _) = diff_arguments(Some(&a), Some(&c), &|_| true, 10);
        assert_eq!(
            changes[0].note.as_deref(),
            Some("added \"north\"; removed \"east\"")
        );
        let mut found = Vec::new();
        sets_of_strings_in(&a, "", &mut found);
        assert_eq!(found, [".regions"]);
    }

    #[test]
    fn a_repr_placeholder_is_one_value() {
        assert_eq!(
            paths(
                r#"{"codes": {"__cachescope_repr__": "{1: 'one', 'b': 'bee'}"}}"#,
                r#"{"codes": {"__cachescope_repr__": "{'b': 'bee', 1: 'one'}"}}"#
            ),
            [("codes".to_string(), "changed")]
        );
    }

    /// Issue 8, item 4: two runs of a task given an object with the default repr record
    /// `<Model object at 0x7f…>` with two addresses; that is not a changed input.
    #[test]
    fn reprs_that_differ_only_by_a_memory_address_are_not_a_change() {
        assert_eq!(
            without_addresses("<flows.Model object at 0x7f3a91c2d810>"),
            "<flows.Model object at 0x…>"
        );
        // Short hex numbers and hex inside words are content, not addresses.
        assert_eq!(
            without_addresses("Flags(0x1f) id0x1234567"),
            "Flags(0x1f) id0x1234567"
        );
        assert!(
            paths(
                r#"{"model": {"__cachescope_repr__": "<flows.Model object at 0x7f3a91c2d810>"}, "n": 1}"#,
                r#"{"model": {"__cachescope_repr__": "<flows.Model object at 0x7f3a91c11e90>"}, "n": 1}"#
            )
            .is_empty()
        );
        // Nested, and beside a real change.
        assert_eq!(
            paths(
                r#"{"cfg": {"m": {"__cachescope_repr__": "<M at 0x55d5c0a1b2c3>"}, "k": 1}}"#,
                r#"{"cfg": {"m": {"__cachescope_repr__": "<M at 0x55d5c0ffee00>"}, "k": 2}}"#
            ),
            [("cfg.k".to_string(), "changed")]
        );
        // A repr that shows another value is a change.
        assert_eq!(
            paths(
                r#"{"m": {"__cachescope_repr__": "<M name='a' at 0x55d5c0a1b2c3>"}}"#,
                r#"{"m": {"__cachescope_repr__": "<M name='b' at 0x55d5c0ffee00>"}}"#
            ),
            [("m".to_string(), "changed")]
        );
    }

    #[test]
    fn excluded_arguments_and_the_limit() {
        let a = parse(r#"{"a": [1, 2, 3], "debug": 1}"#).unwrap();
        let b = parse(r#"{"a": [4, 5, 6], "debug": 2}"#).unwrap();
        let (changes, more) = diff_arguments(Some(&a), Some(&b), &|n| n != "debug", 2);
        assert_eq!(changes.len(), 2);
        assert_eq!(more, 1);
        assert!(changes.iter().all(|c| c.argument == "a"));
    }
}
