//! `result_storage_key`: a task's cache key formatted from a template, as Prefect 3.9.1 does.
//!
//! A task with `result_storage_key="summary-{parameters[label]}"` has no cache policy. Prefect
//! formats the template with Python's `str.format`, the runtime modules (`task_run`,
//! `flow_run`, `deployment`) and `parameters=` the task run's parameters
//! (`prefect.results._format_user_supplied_storage_key`); the text names the result file and is
//! the key looked up. This module does the same from a record's material, for the subset it can
//! do exactly: `parameters[...]` (and `task_run.parameters[...]`, `flow_run.parameters[...]`)
//! indexed into plain objects and lists, `task_run.id`/`name`/`task_name`,
//! `flow_run.id`/`name`/`flow_name`; values that are strings, integers, floats, booleans or
//! None; conversions `!s`, `!r` and `!a` (`!r` of ASCII strings only); and format specs with
//! fill, align, width and precision for strings, and fill, align, sign, `#`, `0`, width,
//! grouping and the `d`/`b`/`o`/`x`/`X` types for integers. Anything else is
//! [`FormatError::Unsupported`]: never a guess.

use std::fmt;

use crate::pyjson::{Key, Value, float_repr};

/// What a template may name, from one record.
#[derive(Debug, Clone, Copy, Default)]
pub struct Namespace<'a> {
    /// The task run's parameters (the recorded inputs): an object.
    pub parameters: Option<&'a Value>,
    pub task_run_id: Option<&'a str>,
    pub task_run_name: Option<&'a str>,
    pub task_name: Option<&'a str>,
    /// None outside a flow.
    pub flow_run: Option<FlowRunNames<'a>>,
}

/// `prefect.runtime.flow_run`, as far as a record holds it.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlowRunNames<'a> {
    pub id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub flow_name: Option<&'a str>,
    pub parameters: Option<&'a Value>,
}

/// Why a template was not formatted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// Python would format it, but this module does not do that part exactly (or the record
    /// does not hold what it names).
    Unsupported(String),
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            FormatError::Unsupported(why) => f.write_str(why),
        }
    }
}

fn unsupported<T>(why: impl Into<String>) -> Result<T, FormatError> {
    Err(FormatError::Unsupported(why.into()))
}

/// One replacement field: `{field!conversion:spec}`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    /// The field as written between the braces.
    raw: String,
    /// The first name (`parameters`, `task_run`, ...).
    name: String,
    /// `.attr` and `[index]` accessors, in order.
    accessors: Vec<Accessor>,
    conversion: Option<char>,
    spec: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Accessor {
    Attr(String),
    /// `[0]`: an all-digit index is an int for Python.
    Int(usize),
    Str(String),
}

/// A template split into literal text and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(Field),
}

fn parse(template: &str) -> Result<Vec<Piece>, FormatError> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '}' => return unsupported("a single '}' in the template (Python raises)"),
            '{' => {
                let mut inner = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    if c == '{' {
                        return unsupported("a nested replacement field");
                    }
                    inner.push(c);
                }
                if !closed {
                    return unsupported("a '{' that is never closed (Python raises)");
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Field(parse_field(&inner)?));
            }
            other => text.push(other),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// `name[.attr|[index]]*[!c][:spec]`, split as CPython's `parse_field` does: `!` and `:` end
/// the name except inside brackets.
fn parse_field(inner: &str) -> Result<Field, FormatError> {
    let chars: Vec<char> = inner.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '[' => {
                while i < chars.len() && chars[i] != ']' {
                    i += 1;
                }
            }
            '!' | ':' => break,
            _ => {}
        }
        i += 1;
    }
    let i = i.min(chars.len());
    let name_part: String = chars[..i].iter().collect();
    let rest: String = chars[i..].iter().collect();
    let (conversion, spec) = if let Some(after) = rest.strip_prefix('!') {
        let mut it = after.chars();
        let conv = it
            .next()
            .ok_or(FormatError::Unsupported("an empty conversion".into()))?;
        let tail: String = it.collect();
        let spec = match tail.strip_prefix(':') {
            Some(spec) => spec.to_string(),
            None if tail.is_empty() => String::new(),
            None => return unsupported("text after the conversion (Python raises)"),
        };
        (Some(conv), spec)
    } else if let Some(spec) = rest.strip_prefix(':') {
        (None, spec.to_string())
    } else {
        (None, String::new())
    };
    let (name, accessors) = split_name(&name_part)?;
    Ok(Field {
        raw: inner.to_string(),
        name,
        accessors,
        conversion,
        spec,
    })
}

fn split_name(text: &str) -> Result<(String, Vec<Accessor>), FormatError> {
    let first_end = text.find(['.', '[']).unwrap_or(text.len());
    let name = text[..first_end].to_string();
    if name.is_empty() || name.chars().all(|c| c.is_ascii_digit()) {
        return unsupported(
            "a positional field ({} or {0}): Prefect passes keyword arguments only (Python raises)",
        );
    }
    let mut accessors = Vec::new();
    let mut rest = &text[first_end..];
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return unsupported("an empty attribute (Python raises)");
            }
            accessors.push(Accessor::Attr(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let Some(end) = after.find(']') else {
                return unsupported("a '[' without ']' (Python raises)");
            };
            let index = &after[..end];
            if index.is_empty() {
                return unsupported("an empty index (Python raises)");
            }
            accessors.push(if index.chars().all(|c| c.is_ascii_digit()) {
                match index.parse::<usize>() {
                    Ok(n) => Accessor::Int(n),
                    Err(_) => return unsupported("an index too large"),
                }
            } else {
                Accessor::Str(index.to_string())
            });
            rest = &after[end + 1..];
            if !rest.is_empty() && !rest.starts_with(['.', '[']) {
                return unsupported("text after ']' (Python raises)");
            }
        } else {
            return unsupported("a field name Python would not read");
        }
    }
    Ok((name, accessors))
}

/// What a field names, before conversion.
enum Found<'a> {
    Value(&'a Value),
    Text(&'a str),
}

fn describe(field: &Field, upto: usize) -> String {
    let mut s = field.name.clone();
    for a in &field.accessors[..upto] {
        match a {
            Accessor::Attr(n) => s.push_str(&format!(".{n}")),
            Accessor::Int(i) => s.push_str(&format!("[{i}]")),
            Accessor::Str(k) => s.push_str(&format!("[{k}]")),
        }
    }
    s
}

fn resolve<'a>(field: &Field, ns: &Namespace<'a>) -> Result<Found<'a>, FormatError> {
    let text_or = |v: Option<&'a str>, what: &str| match v {
        Some(t) => Ok(Found::Text(t)),
        None => unsupported(format!("the record does not hold {what}")),
    };
    // The first name, and the attribute after it for the runtime modules.
    let (mut found, used) = match (field.name.as_str(), field.accessors.first()) {
        ("parameters", _) => match ns.parameters {
            Some(p) => (Found::Value(p), 0),
            None => return unsupported("the record has no inputs"),
        },
        ("task_run", Some(Accessor::Attr(attr))) => (
            match attr.as_str() {
                "id" => text_or(ns.task_run_id, "the task run id")?,
                "name" => text_or(ns.task_run_name, "the task run name")?,
                "task_name" => text_or(ns.task_name, "the task name")?,
                "parameters" => match ns.parameters {
                    Some(p) => Found::Value(p),
                    None => return unsupported("the record has no inputs"),
                },
                other => return unsupported(format!("`task_run.{other}` is not recorded")),
            },
            1,
        ),
        ("flow_run", Some(Accessor::Attr(attr))) => {
            let Some(flow) = ns.flow_run else {
                return unsupported("`flow_run` outside a flow is not recorded");
            };
            (
                match attr.as_str() {
                    "id" => text_or(flow.id, "the flow run id")?,
                    "name" => text_or(flow.name, "the flow run name")?,
                    "flow_name" => text_or(flow.flow_name, "the flow name")?,
                    "parameters" => match flow.parameters {
                        Some(p) => Found::Value(p),
                        None => return unsupported("the record has no flow parameters"),
                    },
                    other => return unsupported(format!("`flow_run.{other}` is not recorded")),
                },
                1,
            )
        }
        (name, _) => return unsupported(format!("`{name}` is not something cachescope formats")),
    };
    for (i, accessor) in field.accessors.iter().enumerate().skip(used) {
        let Found::Value(value) = found else {
            return unsupported(format!("`{}` is a string", describe(field, i)));
        };
        found = Found::Value(match (value, accessor) {
            // An encoded object (`{"__class__": ...}`) is not the dict Python indexed.
            (Value::Object(entries), Accessor::Str(key))
                if value.get("__class__").is_none() && value.get("__exc_type__").is_none() =>
            {
                match entries
                    .iter()
                    .find(|(k, _)| matches!(k, Key::Str(s) if s == key))
                {
                    Some((_, v)) => v,
                    None => {
                        return unsupported(format!("`{}` has no key {key:?}", describe(field, i)));
                    }
                }
            }
            (Value::Array(items), Accessor::Int(n)) => match items.get(*n) {
                Some(v) => v,
                None => return unsupported(format!("`{}` has no item {n}", describe(field, i))),
            },
            _ => {
                return unsupported(format!(
                    "`{}` is indexed in a way cachescope does not follow exactly",
                    describe(field, i + 1)
                ));
            }
        });
    }
    Ok(found)
}

/// A scalar as Python's `str()` gives it; None for what cachescope does not format.
fn python_str(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Int(t) => Some(t.clone()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        Value::Null => Some("None".into()),
        Value::Float(f) if f.value.is_nan() => Some("nan".into()),
        Value::Float(f) if f.value.is_infinite() => {
            Some(if f.value > 0.0 { "inf" } else { "-inf" }.into())
        }
        Value::Float(f) => Some(float_repr(f.value)),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// `repr()` or `ascii()` of a string: exact for ASCII text (and for any text with `ascii`).
fn python_repr_str(s: &str, ascii: bool) -> Option<String> {
    if !ascii && !s.is_ascii() {
        return None;
    }
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if (c as u32) < 0x7f => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    Some(out)
}

/// The format spec mini-language, as far as this module follows it.
#[derive(Debug, Default)]
struct Spec {
    fill: Option<char>,
    align: Option<char>,
    sign: Option<char>,
    alternate: bool,
    zero: bool,
    width: usize,
    grouping: Option<char>,
    precision: Option<usize>,
    kind: Option<char>,
}

fn parse_spec(spec: &str) -> Result<Spec, FormatError> {
    let c: Vec<char> = spec.chars().collect();
    let mut s = Spec::default();
    let mut i = 0;
    let is_align = |ch: char| matches!(ch, '<' | '>' | '^' | '=');
    if c.len() >= 2 && is_align(c[1]) {
        s.fill = Some(c[0]);
        s.align = Some(c[1]);
        i = 2;
    } else if !c.is_empty() && is_align(c[0]) {
        s.align = Some(c[0]);
        i = 1;
    }
    if i < c.len() && matches!(c[i], '+' | '-' | ' ') {
        s.sign = Some(c[i]);
        i += 1;
    }
    if i < c.len() && c[i] == 'z' {
        return unsupported("the `z` format option");
    }
    if i < c.len() && c[i] == '#' {
        s.alternate = true;
        i += 1;
    }
    if i < c.len() && c[i] == '0' {
        s.zero = true;
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < c.len() && c[*i].is_ascii_digit() {
            *i += 1;
        }
        c[start..*i].iter().collect::<String>()
    };
    let width = digits(&mut i);
    if !width.is_empty() {
        s.width = width
            .parse()
            .map_err(|_| FormatError::Unsupported("a width too large".into()))?;
    }
    if i < c.len() && matches!(c[i], ',' | '_') {
        s.grouping = Some(c[i]);
        i += 1;
    }
    if i < c.len() && c[i] == '.' {
        i += 1;
        let p = digits(&mut i);
        if p.is_empty() {
            return unsupported("a precision without digits (Python raises)");
        }
        s.precision = Some(
            p.parse()
                .map_err(|_| FormatError::Unsupported("a precision too large".into()))?,
        );
    }
    if i < c.len() {
        s.kind = Some(c[i]);
        i += 1;
    }
    if i != c.len() {
        return unsupported(format!("the format spec {spec:?} (Python raises)"));
    }
    Ok(s)
}

/// Pads `body` (with `prefix`, a sign and base prefix, for `=`) to the spec's width.
fn pad(prefix: &str, body: &str, spec: &Spec, default_align: char) -> String {
    // CPython: `0` sets the fill when none is given, and `=` when no alignment is and the
    // type aligns right by default (numbers).
    let fill = spec.fill.unwrap_or(if spec.zero { '0' } else { ' ' });
    let align = spec.align.unwrap_or(if spec.zero && default_align == '>' {
        '='
    } else {
        default_align
    });
    let len = prefix.chars().count() + body.chars().count();
    let missing = spec.width.saturating_sub(len);
    let fills = |n: usize| std::iter::repeat_n(fill, n).collect::<String>();
    match align {
        '<' => format!("{prefix}{body}{}", fills(missing)),
        '^' => format!(
            "{}{prefix}{body}{}",
            fills(missing / 2),
            fills(missing - missing / 2)
        ),
        '=' => format!("{prefix}{}{body}", fills(missing)),
        _ => format!("{}{prefix}{body}", fills(missing)),
    }
}

fn format_str(s: &str, spec: &Spec) -> Result<String, FormatError> {
    if spec.sign.is_some() || spec.alternate || spec.grouping.is_some() {
        return unsupported("a sign, `#` or grouping for a string (Python raises)");
    }
    if spec.align == Some('=') {
        return unsupported("`=` alignment for a string (Python raises)");
    }
    if !matches!(spec.kind, None | Some('s')) {
        return unsupported("a numeric format type for a string (Python raises)");
    }
    let body: String = match spec.precision {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    };
    Ok(pad("", &body, spec, '<'))
}

fn group(digits: &str, every: usize, sep: char) -> String {
    let chars: Vec<char> = digits.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if i > 0 && (chars.len() - i).is_multiple_of(every) {
            out.push(sep);
        }
        out.push(*c);
    }
    out
}

fn format_int(text: &str, spec: &Spec) -> Result<String, FormatError> {
    if spec.precision.is_some() {
        return unsupported("a precision for an integer (Python raises)");
    }
    if spec.zero && spec.grouping.is_some() {
        return unsupported("zero padding with grouping");
    }
    let (negative, magnitude) = match text.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, text),
    };
    let (base, prefix, upper) = match spec.kind {
        None | Some('d') => (10, "", false),
        Some('b') => (2, "0b", false),
        Some('o') => (8, "0o", false),
        Some('x') => (16, "0x", false),
        Some('X') => (16, "0X", true),
        Some(other) => return unsupported(format!("the format type `{other}` for an integer")),
    };
    let digits = if base == 10 {
        magnitude.to_string()
    } else {
        let n: u128 = magnitude
            .parse()
            .map_err(|_| FormatError::Unsupported("an integer too large for that base".into()))?;
        match base {
            2 => format!("{n:b}"),
            8 => format!("{n:o}"),
            _ if upper => format!("{n:X}"),
            _ => format!("{n:x}"),
        }
    };
    let digits = match (spec.grouping, base) {
        (None, _) => digits,
        (Some(','), 10) => group(&digits, 3, ','),
        (Some('_'), 10) => group(&digits, 3, '_'),
        (Some('_'), _) => group(&digits, 4, '_'),
        (Some(_), _) => return unsupported("`,` with a non-decimal type (Python raises)"),
    };
    let sign = match (negative, spec.sign) {
        (true, _) => "-",
        (false, Some('+')) => "+",
        (false, Some(' ')) => " ",
        _ => "",
    };
    let prefix = format!("{sign}{}", if spec.alternate { prefix } else { "" });
    Ok(pad(&prefix, &digits, spec, '>'))
}

fn render(found: Found, field: &Field) -> Result<String, FormatError> {
    let whole = describe(field, field.accessors.len());
    let value_text = |v: &Value| {
        python_str(v).ok_or_else(|| {
            FormatError::Unsupported(format!(
                "`{whole}` is a list or an object; cachescope formats only strings, numbers, \
                 booleans and None"
            ))
        })
    };
    // After a conversion the value is a string.
    let converted: Option<String> = match (field.conversion, &found) {
        (None, _) => None,
        (Some('s'), Found::Text(t)) => Some(t.to_string()),
        (Some('s'), Found::Value(v)) => Some(value_text(v)?),
        (Some(c @ ('r' | 'a')), found) => {
            let ascii = c == 'a';
            Some(
                match found {
                    Found::Text(t) => python_repr_str(t, ascii),
                    Found::Value(Value::Str(s)) => python_repr_str(s, ascii),
                    Found::Value(v) => Some(value_text(v)?),
                }
                .ok_or_else(|| {
                    FormatError::Unsupported(format!("`{whole}!r` of text that is not ASCII"))
                })?,
            )
        }
        (Some(other), _) => {
            return unsupported(format!("the conversion `!{other}` (Python raises)"));
        }
    };
    if field.spec.is_empty() {
        return Ok(match (converted, found) {
            (Some(t), _) => t,
            (None, Found::Text(t)) => t.to_string(),
            (None, Found::Value(v)) => value_text(v)?,
        });
    }
    let spec = parse_spec(&field.spec)?;
    match (converted, found) {
        (Some(t), _) => format_str(&t, &spec),
        (None, Found::Text(t)) => format_str(t, &spec),
        (None, Found::Value(Value::Str(s))) => format_str(s, &spec),
        (None, Found::Value(Value::Int(t))) => format_int(t, &spec),
        (None, Found::Value(_)) => unsupported(format!(
            "a format spec for `{whole}`, which is not a string or an integer"
        )),
    }
}

/// The template formatted as Prefect formats it, from the names a record holds.
pub fn format_storage_key(template: &str, ns: &Namespace) -> Result<String, FormatError> {
    let mut out = String::new();
    for piece in parse(template)? {
        match piece {
            Piece::Text(t) => out.push_str(&t),
            Piece::Field(field) => {
                let found = resolve(&field, ns)?;
                out.push_str(&render(found, &field)?);
            }
        }
    }
    Ok(out)
}

/// Each replacement field of the template, as written, with the text it formats to (or why
/// it cannot be formatted).
pub type FieldTexts = Vec<(String, Result<String, FormatError>)>;

/// The template's replacement fields, each formatted on its own.
pub fn field_texts(template: &str, ns: &Namespace) -> Result<FieldTexts, FormatError> {
    Ok(parse(template)?
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Field(field) => {
                let text = resolve(&field, ns).and_then(|found| render(found, &field));
                Some((field.raw, text))
            }
            Piece::Text(_) => None,
        })
        .collect())
}

/// What the template takes from the run itself rather than from its inputs and the task's and
/// flow's names (`task_run.id`, `flow_run.name`, `deployment.version`, ...): the next run may
/// format another key from the same inputs. Err when the template cannot be read at all.
pub fn run_specific_fields(template: &str) -> Result<Vec<String>, FormatError> {
    let mut out = Vec::new();
    for piece in parse(template)? {
        let Piece::Field(field) = piece else { continue };
        let attr = match field.accessors.first() {
            Some(Accessor::Attr(a)) => a.as_str(),
            _ => "",
        };
        let stable = match field.name.as_str() {
            "parameters" => true,
            "task_run" => matches!(attr, "parameters" | "task_name"),
            "flow_run" => matches!(attr, "parameters" | "flow_name"),
            _ => false,
        };
        if !stable {
            let name = if attr.is_empty() {
                field.name.clone()
            } else {
                format!("{}.{attr}", field.name)
            };
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    Ok(out)
}

/// The task's parameters the template names (`parameters[label]`, `task_run.parameters[n]`),
/// in order; empty when it cannot be read.
pub fn template_parameters(template: &str) -> Vec<String> {
    let Ok(pieces) = parse(template) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for piece in pieces {
        let Piece::Field(field) = piece else { continue };
        let index = match (field.name.as_str(), field.accessors.as_slice()) {
            ("parameters", [Accessor::Str(k), ..]) => k,
            ("task_run", [Accessor::Attr(a), Accessor::Str(k), ..]) if a == "parameters" => k,
            _ => continue,
        };
        if !out.contains(index) {
            out.push(index.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pyjson::parse as parse_json;

    fn ns(params: &Value) -> Namespace<'_> {
        Namespace {
            parameters: Some(params),
            task_run_id: Some("0f1e"),
            task_run_name: Some("summarize-3a1"),
            task_name: Some("summarize"),
            flow_run: Some(FlowRunNames {
                id: Some("9abc"),
                name: Some("glaring-squirrel"),
                flow_name: Some("reports"),
                parameters: None,
            }),
        }
    }

    fn fmt(template: &str) -> Result<String, FormatError> {
        let params = parse_json(
            r#"{"label": "north", "n": 7, "neg": -42, "big": 1234567, "f": 0.1, "nan": NaN,
                "flag": true, "none": null, "cfg": {"name": "it's", "items": [3, "x"]},
                "quote": "say \"hi\"", "uni": "caf\u00e9", "cls": {"__class__": "m.P", "data": {}}}"#,
        )
        .unwrap();
        format_storage_key(template, &ns(&params))
    }

    /// Each expected text is what CPython 3.11 gives for the same `str.format` call.
    #[test]
    fn formats_as_python_does() {
        let cases = [
            ("latest-summary-{parameters[label]}", "latest-summary-north"),
            ("{{literal}}-{parameters[n]}", "{literal}-7"),
            (
                "{task_run.task_name}/{flow_run.flow_name}",
                "summarize/reports",
            ),
            (
                "{parameters[cfg][name]}-{parameters[cfg][items][1]}",
                "it's-x",
            ),
            (
                "{parameters[f]}|{parameters[nan]}|{parameters[flag]}|{parameters[none]}",
                "0.1|nan|True|None",
            ),
            ("{parameters[label]!r}", "'north'"),
            ("{parameters[cfg][name]!r}", "\"it's\""),
            ("{parameters[quote]!r}", "'say \"hi\"'"),
            ("{parameters[uni]!a}", "'caf\\xe9'"),
            ("{parameters[n]:03d}", "007"),
            ("{parameters[neg]:06}", "-00042"),
            ("{parameters[big]:,}", "1,234,567"),
            ("{parameters[big]:_x}", "12_d687"),
            ("{parameters[n]:#06b}", "0b0111"),
            ("{parameters[n]:+}", "+7"),
            ("{parameters[n]:*^5}", "**7**"),
            ("{parameters[label]:>8}", "   north"),
            ("{parameters[label]:.2}", "no"),
            ("{parameters[label]:-<7s}", "north--"),
            ("{task_run.parameters[n]}", "7"),
            ("{parameters[n]:<05}", "70000"),
            ("{parameters[label]:^07}", "0north0"),
            ("{parameters[neg]:x<05}", "-42xx"),
            ("{parameters[neg]:#06X}", "-0X02A"),
        ];
        for (template, want) in cases {
            assert_eq!(fmt(template).as_deref(), Ok(want), "{template}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_do_exactly() {
        for template in [
            "{parameters[cfg]}",
            "{parameters[cfg][items]}",
            "{parameters[cls][data]}",
            "{parameters[uni]!r}",
            "{parameters[f]:.1f}",
            "{parameters[label]:{parameters[n]}}",
            "{deployment.name}",
            "{task_run.tags}",
            "{}",
            "{0}",
            "a}b",
            "{parameters[missing]}",
            "{parameters[label]:+}",
            "{parameters[n]:.2}",
            "{parameters[n]:010,}",
        ] {
            assert!(fmt(template).is_err(), "{template}: {:?}", fmt(template));
        }
    }

    #[test]
    fn run_specific_fields_are_ids_and_names() {
        assert_eq!(
            run_specific_fields(
                "{flow_run.id}/{task_run.task_name}-{task_run.name}-{deployment.version}"
            )
            .unwrap(),
            ["flow_run.id", "task_run.name", "deployment.version"]
        );
        assert!(
            run_specific_fields("{flow_run.flow_name}/{parameters[cfg]}")
                .unwrap()
                .is_empty()
        );
        assert!(run_specific_fields("a}").is_err());
        assert_eq!(
            template_parameters(
                "{parameters[label]}-{task_run.parameters[n]:03d}-{parameters[label]}"
            ),
            ["label", "n"]
        );
    }
}
