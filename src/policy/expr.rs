//! Policy expressions: the subset of Python users write for `cache_policy=`, evaluated with
//! Prefect 3.9.1's composition rules into exactly the tree Prefect builds.
//!
//! The language is what `from prefect.cache_policies import *` plus `from pathlib import Path`
//! puts in scope:
//! - the constants `INPUTS`, `TASK_SOURCE`, `FLOW_PARAMETERS`, `RUN_ID`, `DEFAULT`, `NO_CACHE`,
//!   `NONE`, and the classes `Inputs`, `TaskSource`, `FlowParameters`, `RunId`,
//!   `CompoundCachePolicy`, `CacheKeyFnPolicy`, `_None`, bare or as `cache_policies.X` /
//!   `prefect.cache_policies.X`;
//! - string literals (quotes, escapes, `r` prefix, adjacent literals joined), lists, `None`,
//!   `Path(...)`, parentheses, binary `+` and `-` (left-associative, one precedence level), calls
//!   with positional and keyword arguments, and `.configure(...)`;
//! - a bare name we cannot evaluate, but only as a whole argument (`lock_manager=my_locks`,
//!   `cache_key_fn=my_key_fn`): it is kept by name and assumed truthy and equal only to itself.
//!
//! Evaluation follows the Python methods line by line: `add` is `CachePolicy.__add__` and its
//! overrides, `sub` is `__sub__`, `configure` is `configure()`, `compound_cache_policy` is the
//! `CompoundCachePolicy` constructor with its `__post_init__`. Things Python does that surprise:
//! - dataclass positional arguments start with `key_storage`: `Inputs(["a"])` sets
//!   `key_storage=['a']`, not `exclude`;
//! - `compound + NONE` keeps the `_None` as a child: only `CachePolicy.__add__` returns early for
//!   a `_None`, and the compound's override calls it just for its checks (which it then skips);
//! - `NONE + x` returns `x` unchecked, even a string; `NONE + "x"` is not a policy at all;
//! - merging Inputs builds a fresh `Inputs(exclude=sorted(union))`: the merged Inputs loses its
//!   own `configure()` fields, and the compound keeps `self.x or other.x` (Python truthiness:
//!   `key_storage=""` counts as unset there, though it still conflicts in the checks).
//!
//! The whole expression is parsed before anything is evaluated, because Python compiles it first:
//! a syntax error anywhere wins over a Prefect error to its left. Then errors come in Python's
//! evaluation order, with Python's exception class and message ([`ExprError::Python`]).
//!
//! Where this is not Python: newlines and `#` comments are accepted anywhere (the expression comes
//! from inside a decorator's parentheses); valid Python outside the language (numbers, unary
//! `-`, attributes other than `.configure`, f-strings, keyword arguments to `Path`, an `exclude`
//! that is not a list of strings) is a [`ExprError::Syntax`] error saying so; and a name that is
//! not one of the above is a `NameError` except as a whole argument, even one the star import
//! would define (`Any`, `logger`), since none of those means anything in a policy.
//!
//! # How `Configure` fields hold Python values
//! Prefect compares `configure()` values with `!=`, so `"/tmp"` and `Path("/tmp")` conflict.
//! A field holds a plain `str` verbatim; anything else (a `Path`, a list, a bare name, a policy),
//! and a `str` that itself starts with the prefix, is stored as [`REPR_PREFIX`] followed by the
//! value's Python `repr` (`py:PosixPath('/tmp')`, `py:['a']`, `py:my_locks`). Two fields are then
//! equal exactly when Prefect's `!=` says the values are, and [`storage_path`] reads a path back.

use std::collections::BTreeSet;

use super::tree::{Configure, NodeConfigure, PolicyKind, PolicyNode};

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    /// Not in the expression language (including valid Python this module does not evaluate):
    /// where, as 1-based line and column in characters, and what was expected.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// What Python raises evaluating the expression with Prefect 3.9.1: the exception class and
    /// its exact message (Prefect's own `ValueError`/`TypeError`, or the interpreter's).
    #[error("{exception}: {message}")]
    Python {
        exception: &'static str,
        message: String,
    },
    /// The expression evaluates, but not to a cache policy (`NONE + "x"` is the string `"x"`).
    #[error("the expression evaluates to a {type_name}, not a cache policy")]
    NotAPolicy { type_name: String },
}

fn raise(exception: &'static str, message: impl Into<String>) -> ExprError {
    ExprError::Python {
        exception,
        message: message.into(),
    }
}

/// Evaluates a policy expression into the tree Prefect 3.9.1 builds from it.
pub fn parse_policy(expr: &str) -> Result<PolicyNode, ExprError> {
    parse_policy_in(expr, &|_| None)
}

/// [`parse_policy`] in a module that defines more names: `module(name)` is the policy a name
/// outside Prefect's is bound to (`MY_POLICY`), or None where Python would raise NameError.
/// Prefect's own names come first, as if the module never rebound them.
pub fn parse_policy_in(
    expr: &str,
    module: &dyn Fn(&str) -> Option<PolicyNode>,
) -> Result<PolicyNode, ExprError> {
    let src = Source(expr.chars().collect());
    let tree = parse(&src)?;
    match (Evaluator { src: &src, module }).eval(&tree)? {
        Value::Policy(node) => Ok(node),
        other => Err(ExprError::NotAPolicy {
            type_name: other.type_name().to_string(),
        }),
    }
}

/// A name an expression takes from the module it is written in rather than from Prefect:
/// used as a value (`MY_POLICY - "debug"`) or called (`make_policy()`). A bare name that is a
/// whole argument (`lock_manager=my_locks`) is not one: it is kept opaque by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleName {
    pub name: String,
    pub called: bool,
}

/// The names an expression needs from its module, each once, in the order Python evaluates
/// them. The expression is parsed, not evaluated.
pub fn module_names(expr: &str) -> Result<Vec<ModuleName>, ExprError> {
    let src = Source(expr.chars().collect());
    let tree = parse(&src)?;
    let mut names = Vec::new();
    collect_module_names(&tree, &mut names);
    Ok(names)
}

fn collect_module_names(expr: &Expr, names: &mut Vec<ModuleName>) {
    let mut push = |name: &str, called: bool| {
        let name = ModuleName {
            name: name.to_string(),
            called,
        };
        if !names.contains(&name) {
            names.push(name);
        }
    };
    match expr {
        Expr::Str(_) | Expr::None => {}
        Expr::List(items) => items.iter().for_each(|e| collect_module_names(e, names)),
        Expr::Name {
            name,
            in_module: false,
            ..
        } if lookup(name).is_none() => push(name, false),
        Expr::Name { .. } => {}
        Expr::Call { callee, args, .. } => {
            match &**callee {
                Expr::Name {
                    name,
                    in_module: false,
                    ..
                } if lookup(name).is_none() => push(name, true),
                other => collect_module_names(other, names),
            }
            collect_argument_names(args, names);
        }
        Expr::Configure { receiver, args } => {
            collect_module_names(receiver, names);
            collect_argument_names(args, names);
        }
        Expr::Binary { left, right, .. } => {
            collect_module_names(left, names);
            collect_module_names(right, names);
        }
    }
}

/// As [`Evaluator::arguments`] reads them: a whole argument that is an unknown bare name is
/// opaque, not looked up.
fn collect_argument_names(args: &[Arg], names: &mut Vec<ModuleName>) {
    for arg in args {
        match &arg.value {
            Expr::Name {
                in_module: false, ..
            } => {}
            other => collect_module_names(other, names),
        }
    }
}

/// The whole expression's syntax tree: Python compiles it before evaluating anything.
fn parse(src: &Source) -> Result<Expr, ExprError> {
    let tokens = tokenize(src)?;
    let mut parser = Parser {
        src,
        tokens,
        next: 0,
    };
    let tree = parser.expression()?;
    if parser.peek() != &Tok::End {
        return Err(parser.expected("'+', '-' or the end of the expression"));
    }
    Ok(tree)
}

// ---------------------------------------------------------------------------------------------
// Composition, as the methods of `prefect.cache_policies` do it.

/// The module-level constants of `prefect.cache_policies`, by name.
pub fn constant(name: &str) -> Option<PolicyNode> {
    let node = PolicyNode::new;
    Some(match name {
        "INPUTS" => node(PolicyKind::Inputs {
            exclude: Vec::new(),
        }),
        "TASK_SOURCE" => node(PolicyKind::TaskSource),
        "FLOW_PARAMETERS" => node(PolicyKind::FlowParameters),
        "RUN_ID" => node(PolicyKind::RunId),
        "NONE" | "NO_CACHE" => node(PolicyKind::NoCache),
        // `DEFAULT = INPUTS + TASK_SOURCE + RUN_ID`, computed the way the module does.
        "DEFAULT" => {
            let inputs_source = add(&constant("INPUTS")?, &constant("TASK_SOURCE")?).ok()?;
            add(&inputs_source, &constant("RUN_ID")?).ok()?
        }
        _ => return None,
    })
}

/// `a + b` for two policies: `CachePolicy.__add__` and the overrides of `CompoundCachePolicy`
/// and `_None`.
pub fn add(a: &PolicyNode, b: &PolicyNode) -> Result<PolicyNode, ExprError> {
    let b_is_none = b.kind == PolicyKind::NoCache;
    match &a.kind {
        // `_None.__add__` returns the other side without any check.
        PolicyKind::NoCache => Ok(b.clone()),
        PolicyKind::Compound { policies } => {
            // `super().__add__(other)` runs only for its checks, and it returns before checking
            // when `other` is a `_None`; the `_None` is then appended like any other policy.
            if !b_is_none {
                check_compatible(a, b)?;
            }
            let mut all = policies.clone();
            match &b.kind {
                PolicyKind::Compound { policies: more } => all.extend(more.iter().cloned()),
                _ => all.push(b.clone()),
            }
            Ok(compound_cache_policy(
                all,
                or_configure(&a.configure, &b.configure),
            ))
        }
        _ if b_is_none => Ok(a.clone()),
        _ => {
            check_compatible(a, b)?;
            let merged = or_configure(&a.configure, &b.configure);
            Ok(compound_cache_policy(vec![a.clone(), b.clone()], merged))
        }
    }
}

/// `policy - name`: Inputs appends to `exclude` as given (no sorting, no deduplication); a
/// compound that has an Inputs gets `Inputs(exclude=[name])` through `replace()`, so
/// `__post_init__` merges it; every other policy is returned unchanged.
pub fn sub(policy: &PolicyNode, name: &str) -> PolicyNode {
    match &policy.kind {
        PolicyKind::Inputs { exclude } => {
            let mut exclude = exclude.clone();
            exclude.push(name.to_string());
            PolicyNode {
                kind: PolicyKind::Inputs { exclude },
                ..policy.clone()
            }
        }
        PolicyKind::Compound { policies }
            if policies
                .iter()
                .any(|p| matches!(p.kind, PolicyKind::Inputs { .. })) =>
        {
            let mut all = policies.clone();
            all.push(PolicyNode::new(PolicyKind::Inputs {
                exclude: vec![name.to_string()],
            }));
            compound_cache_policy(all, policy.configure.clone())
        }
        _ => policy.clone(),
    }
}

/// `policy.configure(...)`: a copy with every field that `set` has set replaced. Only the node
/// itself changes; a compound's children keep their own fields.
pub fn configure(policy: &PolicyNode, set: &Configure) -> PolicyNode {
    let mut new = policy.clone();
    if set.is_empty() {
        return new;
    }
    let mine: &mut Configure = &mut new.configure;
    let fields = [
        (&mut mine.key_storage, &set.key_storage),
        (&mut mine.isolation_level, &set.isolation_level),
        (&mut mine.lock_manager, &set.lock_manager),
    ];
    for (field, value) in fields {
        if value.is_some() {
            field.clone_from(value);
        }
    }
    new
}

/// `CompoundCachePolicy(policies=..., key_storage=..., ...)` with its `__post_init__`: child
/// compounds are flattened (one level, which is all there is since theirs ran too), every Inputs
/// is removed, and if there was any, one fresh `Inputs(exclude=sorted(union of excludes))` is
/// appended at the end.
pub fn compound_cache_policy(
    policies: Vec<PolicyNode>,
    configure: impl Into<NodeConfigure>,
) -> PolicyNode {
    let mut flat = Vec::new();
    for policy in policies {
        match policy.kind {
            PolicyKind::Compound { policies } => flat.extend(policies),
            _ => flat.push(policy),
        }
    }
    let mut excludes: Option<BTreeSet<String>> = None;
    flat.retain(|policy| match &policy.kind {
        PolicyKind::Inputs { exclude } => {
            excludes
                .get_or_insert_default()
                .extend(exclude.iter().cloned());
            false
        }
        _ => true,
    });
    if let Some(excludes) = excludes {
        // Python sorts str by code point, which is Rust's byte order for UTF-8.
        let exclude = excludes.into_iter().collect();
        flat.push(PolicyNode::new(PolicyKind::Inputs { exclude }));
    }
    PolicyNode {
        kind: PolicyKind::Compound { policies: flat },
        configure: configure.into(),
        recorded: None,
    }
}

/// The three checks at the top of `CachePolicy.__add__`, with Prefect's messages.
fn check_compatible(a: &PolicyNode, b: &PolicyNode) -> Result<(), ExprError> {
    let checks = [
        (
            &a.configure.key_storage,
            &b.configure.key_storage,
            "storage locations",
        ),
        (
            &a.configure.isolation_level,
            &b.configure.isolation_level,
            "isolation levels",
        ),
        (
            &a.configure.lock_manager,
            &b.configure.lock_manager,
            "lock implementations",
        ),
    ];
    for (mine, other, what) in checks {
        if let (Some(mine), Some(other)) = (mine, other)
            && mine != other
        {
            return Err(raise(
                "ValueError",
                format!("Cannot add CachePolicies with different {what}."),
            ));
        }
    }
    Ok(())
}

/// The compound's fields in `__add__`: `self.x or other.x`, with Python's truthiness.
fn or_configure(a: &Configure, b: &Configure) -> Configure {
    let or = |mine: &Option<String>, other: &Option<String>| match mine {
        Some(value) if is_truthy(value) => mine.clone(),
        _ => other.clone(),
    };
    Configure {
        key_storage: or(&a.key_storage, &b.key_storage),
        isolation_level: or(&a.isolation_level, &b.isolation_level),
        lock_manager: or(&a.lock_manager, &b.lock_manager),
    }
}

// ---------------------------------------------------------------------------------------------
// `Configure` fields: Python values as text (see the module docs).

/// Starts a `Configure` field that holds the Python `repr` of a value other than a plain `str`.
pub const REPR_PREFIX: &str = "py:";

/// The path a `key_storage` field names, when it holds a `str` or a `Path`; None for anything
/// else (a storage block, a list).
#[allow(dead_code, reason = "for the engine, once policy/mod.rs re-exports it")]
pub fn storage_path(field: &str) -> Option<String> {
    let Some(repr) = field.strip_prefix(REPR_PREFIX) else {
        return Some(field.to_string());
    };
    // The repr is `'...'` or `PosixPath('...')`: read it back with the expression tokenizer.
    let tokens = tokenize(&Source(repr.chars().collect())).ok()?;
    let toks: Vec<&Tok> = tokens.iter().map(|t| &t.tok).collect();
    match toks.as_slice() {
        [Tok::Str(s), Tok::End] => Some(s.clone()),
        [
            Tok::Name(class),
            Tok::Op('('),
            Tok::Str(s),
            Tok::Op(')'),
            Tok::End,
        ] if class == "PosixPath" => Some(s.clone()),
        _ => None,
    }
}

/// Python's truthiness of a stored field: only an empty `str` or an empty list is false (a
/// `Path`, a policy and an opaque object are always true).
fn is_truthy(field: &str) -> bool {
    !field.is_empty() && field != "py:[]"
}

/// A field's Python `repr`, as it appears inside the `repr` of a policy or a list.
fn field_repr(field: &Option<String>) -> String {
    match field {
        None => "None".to_string(),
        Some(f) => match f.strip_prefix(REPR_PREFIX) {
            Some(repr) => repr.to_string(),
            None => repr_str(f),
        },
    }
}

/// Python's `repr()` of a `str`. Exact for ASCII; for other characters, those Python does not
/// print (controls, separators, format characters) are escaped by an approximation of
/// `str.isprintable`, which keeps the text injective either way.
fn repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

fn is_printable(c: char) -> bool {
    !(c.is_control()
        || matches!(c,
            '\u{a0}' | '\u{ad}' | '\u{1680}' | '\u{2000}'..='\u{200f}' | '\u{2028}'..='\u{202f}'
            | '\u{205f}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{3000}' | '\u{e000}'..='\u{f8ff}'
            | '\u{feff}' | '\u{fff9}'..='\u{fffb}'))
}

/// A dataclass `repr` of a policy, as Python prints it (used when a policy is itself a
/// `configure()` value).
fn policy_repr(node: &PolicyNode) -> String {
    let c = &node.configure;
    let mut fields = vec![
        format!("key_storage={}", field_repr(&c.key_storage)),
        format!("isolation_level={}", field_repr(&c.isolation_level)),
        format!("lock_manager={}", field_repr(&c.lock_manager)),
    ];
    match &node.kind {
        PolicyKind::Inputs { exclude } => {
            let items: Vec<String> = exclude.iter().map(|e| repr_str(e)).collect();
            fields.push(format!("exclude=[{}]", items.join(", ")));
        }
        PolicyKind::Compound { policies } => {
            let items: Vec<String> = policies.iter().map(policy_repr).collect();
            fields.push(format!("policies=[{}]", items.join(", ")));
        }
        PolicyKind::CacheKeyFn { function } => {
            fields.push(format!(
                "cache_key_fn={}",
                function.as_deref().unwrap_or("None")
            ));
        }
        _ => {}
    }
    format!("{}({})", node.class_name(), fields.join(", "))
}

// ---------------------------------------------------------------------------------------------
// Python values and the operators on them.

/// A Python value an expression can produce.
#[derive(Debug, Clone)]
enum Value {
    Policy(PolicyNode),
    Str(String),
    /// A `pathlib.PosixPath`, as `str(path)`: already normalised the way pathlib does, so equal
    /// paths have equal text.
    Path(String),
    List(Vec<Value>),
    None,
    /// A bare name given as a whole argument, which we cannot evaluate: kept by name.
    Opaque(String),
}

impl Value {
    /// `type(value).__name__`, for Python's error messages.
    fn type_name(&self) -> &str {
        match self {
            Value::Policy(node) => node.class_name(),
            Value::Str(_) => "str",
            Value::Path(_) => "PosixPath",
            Value::List(_) => "list",
            Value::None => "NoneType",
            Value::Opaque(_) => "object",
        }
    }

    fn repr(&self) -> String {
        match self {
            Value::Policy(node) => policy_repr(node),
            Value::Str(s) => repr_str(s),
            Value::Path(p) => format!("PosixPath({})", repr_str(p)),
            Value::List(items) => {
                let items: Vec<String> = items.iter().map(Value::repr).collect();
                format!("[{}]", items.join(", "))
            }
            Value::None => "None".to_string(),
            Value::Opaque(name) => name.clone(),
        }
    }

    /// The text a `Configure` field holds for this value; None for Python's `None` (unset).
    fn to_field(&self) -> Option<String> {
        match self {
            Value::None => None,
            Value::Str(s) if !s.starts_with(REPR_PREFIX) => Some(s.clone()),
            other => Some(format!("{REPR_PREFIX}{}", other.repr())),
        }
    }
}

/// Python's `left + right`.
fn py_add(left: Value, right: Value) -> Result<Value, ExprError> {
    let concat = |kind: &str, other: &Value| {
        let msg = format!(
            "can only concatenate {kind} (not \"{}\") to {kind}",
            other.type_name()
        );
        Err(raise("TypeError", msg))
    };
    match (left, right) {
        (Value::Policy(a), Value::Policy(b)) => add(&a, &b).map(Value::Policy),
        (Value::Policy(a), other) if a.kind == PolicyKind::NoCache => Ok(other),
        // `CachePolicy.__add__` reads `other.key_storage` before anything else.
        (Value::Policy(_), other) => Err(raise(
            "AttributeError",
            format!(
                "'{}' object has no attribute 'key_storage'",
                other.type_name()
            ),
        )),
        (Value::Str(a), Value::Str(b)) => Ok(Value::Str(a + &b)),
        (Value::Str(_), other) => concat("str", &other),
        (Value::List(mut a), Value::List(b)) => {
            a.extend(b);
            Ok(Value::List(a))
        }
        (Value::List(_), other) => concat("list", &other),
        (left, right) => Err(unsupported_operand('+', &left, &right)),
    }
}

/// Python's `left - right`.
fn py_sub(left: Value, right: Value) -> Result<Value, ExprError> {
    match (left, right) {
        (Value::Policy(p), Value::Str(name)) => Ok(Value::Policy(sub(&p, &name))),
        (Value::Policy(_), _) => Err(raise(
            "TypeError",
            "Can only subtract strings from key policies.",
        )),
        (left, right) => Err(unsupported_operand('-', &left, &right)),
    }
}

fn unsupported_operand(op: char, left: &Value, right: &Value) -> ExprError {
    let (l, r) = (left.type_name(), right.type_name());
    raise(
        "TypeError",
        format!("unsupported operand type(s) for {op}: '{l}' and '{r}'"),
    )
}

/// `PurePosixPath(*parts)` as text, the way Python 3.11's pathlib parses it: the last absolute
/// part restarts the path, empty and `.` components go, exactly two leading slashes stay two.
fn posix_path(parts: &[String]) -> String {
    let mut root = "";
    let mut components: Vec<&str> = Vec::new();
    for part in parts.iter().rev() {
        let relative = part.trim_start_matches('/');
        for component in relative.split('/').rev() {
            if !component.is_empty() && component != "." {
                components.push(component);
            }
        }
        root = match part.len() - relative.len() {
            0 => continue,
            2 => "//",
            _ => "/",
        };
        break;
    }
    components.reverse();
    let path = format!("{root}{}", components.join("/"));
    if path.is_empty() {
        ".".to_string()
    } else {
        path
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens.

/// The expression's characters; positions everywhere are indexes into it.
struct Source(Vec<char>);

impl Source {
    fn error(&self, at: usize, message: impl Into<String>) -> ExprError {
        let before = &self.0[..at.min(self.0.len())];
        let line = 1 + before.iter().filter(|&&c| c == '\n').count();
        let column = 1 + before.iter().rev().take_while(|&&c| c != '\n').count();
        ExprError::Syntax {
            line,
            column,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    /// One of `+ - . , = ( ) [ ]`.
    Op(char),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Name(name) => format!("name {name}"),
            Tok::Str(s) => format!("string {}", repr_str(s)),
            Tok::Op(c) => format!("'{c}'"),
            Tok::End => "the end of the expression".to_string(),
        }
    }
}

struct Token {
    tok: Tok,
    at: usize,
}

fn tokenize(src: &Source) -> Result<Vec<Token>, ExprError> {
    let chars = &src.0;
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        match c {
            // Newlines are whitespace: expressions come from inside a decorator's parentheses,
            // where Python joins lines.
            ' ' | '\t' | '\n' | '\r' | '\x0c' => i += 1,
            '\\' if chars.get(i + 1) == Some(&'\n') => i += 2,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '+' | '-' | '.' | ',' | '=' | '(' | ')' | '[' | ']' => {
                if c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                    return Err(src.error(i, "numbers are not supported"));
                }
                tokens.push(Token {
                    tok: Tok::Op(c),
                    at: start,
                });
                i += 1;
            }
            '\'' | '"' => {
                let (s, end) = string_literal(src, i, false)?;
                tokens.push(Token {
                    tok: Tok::Str(s),
                    at: start,
                });
                i = end;
            }
            c if c.is_ascii_digit() => return Err(src.error(i, "numbers are not supported")),
            c if c == '_' || c.is_alphabetic() => {
                while i < chars.len() && (chars[i] == '_' || chars[i].is_alphanumeric()) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                if matches!(chars.get(i), Some('\'' | '"')) {
                    // A string prefix: `r` is raw, `u` changes nothing in Python 3.
                    let raw = match name.to_ascii_lowercase().as_str() {
                        "r" => true,
                        "u" => false,
                        _ => {
                            let msg =
                                format!("string prefix {name} is not supported (only r and u)");
                            return Err(src.error(start, msg));
                        }
                    };
                    let (s, end) = string_literal(src, i, raw)?;
                    tokens.push(Token {
                        tok: Tok::Str(s),
                        at: start,
                    });
                    i = end;
                } else {
                    tokens.push(Token {
                        tok: Tok::Name(name),
                        at: start,
                    });
                }
            }
            c => {
                return Err(src.error(
                    i,
                    format!("unexpected character {}", repr_str(&c.to_string())),
                ));
            }
        }
    }
    tokens.push(Token {
        tok: Tok::End,
        at: chars.len(),
    });
    Ok(tokens)
}

/// Reads the string literal whose opening quote is at `open`; returns its value and the index
/// just past the closing quote.
fn string_literal(src: &Source, open: usize, raw: bool) -> Result<(String, usize), ExprError> {
    let chars = &src.0;
    let quote = chars[open];
    if chars.get(open + 1) == Some(&quote) && chars.get(open + 2) == Some(&quote) {
        return Err(src.error(open, "triple-quoted strings are not supported"));
    }
    let mut out = String::new();
    let mut i = open + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(src.error(open, "unterminated string literal"));
        };
        i += 1;
        match c {
            c if c == quote => return Ok((out, i)),
            '\n' => return Err(src.error(open, "unterminated string literal")),
            '\\' => {
                let Some(&e) = chars.get(i) else {
                    return Err(src.error(open, "unterminated string literal"));
                };
                i += 1;
                if raw {
                    // A raw string keeps the backslash, and the quote after it does not close.
                    out.push('\\');
                    out.push(e);
                    continue;
                }
                let simple = match e {
                    '\n' => Some(None),
                    '\\' | '\'' | '"' => Some(Some(e)),
                    'a' => Some(Some('\x07')),
                    'b' => Some(Some('\x08')),
                    'f' => Some(Some('\x0c')),
                    'n' => Some(Some('\n')),
                    'r' => Some(Some('\r')),
                    't' => Some(Some('\t')),
                    'v' => Some(Some('\x0b')),
                    _ => None,
                };
                if let Some(pushed) = simple {
                    out.extend(pushed);
                    continue;
                }
                let escape_at = i - 2;
                // Octal takes one to three digits, the first being `e` itself; \x, \u and \U take
                // exactly two, four and eight hex digits.
                let (radix, digits_at, max_len, exact) = match e {
                    '0'..='7' => (8, i - 1, 3, false),
                    'x' => (16, i, 2, true),
                    'u' => (16, i, 4, true),
                    'U' => (16, i, 8, true),
                    'N' => return Err(src.error(escape_at, "\\N{...} escapes are not supported")),
                    // Python keeps an unknown escape as it is, backslash included.
                    _ => {
                        out.push('\\');
                        out.push(e);
                        continue;
                    }
                };
                let len = (0..max_len)
                    .take_while(|k| chars.get(digits_at + k).is_some_and(|d| d.is_digit(radix)))
                    .count();
                if exact && len < max_len {
                    return Err(src.error(escape_at, format!("truncated \\{e} escape")));
                }
                let digits: String = chars[digits_at..digits_at + len].iter().collect();
                let code = u32::from_str_radix(&digits, radix).expect("checked digits");
                let Some(ch) = char::from_u32(code) else {
                    return Err(src.error(
                        escape_at,
                        format!("\\{e} escape is not a character Rust can hold"),
                    ));
                };
                out.push(ch);
                i = digits_at + len;
            }
            c => out.push(c),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Syntax: the expression parsed whole, before anything is evaluated.

enum Expr {
    Str(String),
    None,
    List(Vec<Expr>),
    /// A name from the scope; `in_module` when written `cache_policies.X`.
    Name {
        name: String,
        in_module: bool,
        at: usize,
    },
    Call {
        callee: Box<Expr>,
        args: Vec<Arg>,
        at: usize,
    },
    Configure {
        receiver: Box<Expr>,
        args: Vec<Arg>,
    },
    Binary {
        op: char,
        left: Box<Expr>,
        right: Box<Expr>,
    },
}

struct Arg {
    keyword: Option<String>,
    value: Expr,
}

struct Parser<'s> {
    src: &'s Source,
    tokens: Vec<Token>,
    next: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.next].tok
    }

    fn bump(&mut self) -> &Token {
        let token = &self.tokens[self.next];
        if token.tok != Tok::End {
            self.next += 1;
        }
        token
    }

    fn expected(&self, what: &str) -> ExprError {
        let token = &self.tokens[self.next];
        self.src.error(
            token.at,
            format!("expected {what}, found {}", token.tok.describe()),
        )
    }

    fn expect_op(&mut self, op: char, what: &str) -> Result<(), ExprError> {
        if self.peek() == &Tok::Op(op) {
            self.bump();
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn expect_name(&mut self, what: &str) -> Result<(String, usize), ExprError> {
        match self.peek().clone() {
            Tok::Name(name) => Ok((name, self.bump().at)),
            _ => Err(self.expected(what)),
        }
    }

    /// `postfix (('+' | '-') postfix)*`: Python's `+` and `-` share one precedence level and
    /// group to the left.
    fn expression(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.postfix()?;
        while let Tok::Op(op @ ('+' | '-')) = *self.peek() {
            self.bump();
            let right = self.postfix()?;
            left = Expr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok(left)
    }

    /// An atom followed by calls and `.configure(...)`, which bind tighter than `+`.
    fn postfix(&mut self) -> Result<Expr, ExprError> {
        let mut expr = self.atom()?;
        loop {
            match self.peek() {
                Tok::Op('(') => {
                    let at = self.bump().at;
                    let args = self.arguments()?;
                    expr = Expr::Call {
                        callee: Box::new(expr),
                        args,
                        at,
                    };
                }
                Tok::Op('.') => {
                    self.bump();
                    let (attribute, at) = self.expect_name("configure after '.'")?;
                    if attribute != "configure" {
                        let msg = format!(
                            "only .configure(...) is supported after a value, not .{attribute}"
                        );
                        return Err(self.src.error(at, msg));
                    }
                    self.expect_op('(', "'(' after .configure")?;
                    let args = self.arguments()?;
                    expr = Expr::Configure {
                        receiver: Box::new(expr),
                        args,
                    };
                }
                _ => return Ok(expr),
            }
        }
    }

    fn atom(&mut self) -> Result<Expr, ExprError> {
        let what = "a policy, a string, a list or '('";
        match self.peek().clone() {
            Tok::Str(mut s) => {
                self.bump();
                // Python joins adjacent literals: `"a" "b"` is `"ab"`.
                while let Tok::Str(more) = self.peek() {
                    s.push_str(more);
                    self.bump();
                }
                Ok(Expr::Str(s))
            }
            Tok::Op('(') => {
                self.bump();
                let inner = self.expression()?;
                self.expect_op(')', "')'")?;
                Ok(inner)
            }
            Tok::Op('[') => {
                self.bump();
                let mut items = Vec::new();
                while self.peek() != &Tok::Op(']') {
                    items.push(self.expression()?);
                    if self.peek() != &Tok::Op(']') {
                        self.expect_op(',', "',' or ']'")?;
                    }
                }
                self.bump();
                Ok(Expr::List(items))
            }
            Tok::Name(name) => {
                let at = self.bump().at;
                match name.as_str() {
                    "None" => Ok(Expr::None),
                    "prefect" => {
                        self.expect_op('.', "'.cache_policies' after prefect")?;
                        match self.expect_name("cache_policies after 'prefect.'")? {
                            (module, _) if module == "cache_policies" => self.module_member(),
                            (_, at) => Err(self
                                .src
                                .error(at, "only prefect.cache_policies is supported")),
                        }
                    }
                    "cache_policies" => self.module_member(),
                    "True" | "False" => {
                        Err(self.src.error(at, format!("{name} is not supported here")))
                    }
                    _ => Ok(Expr::Name {
                        name,
                        in_module: false,
                        at,
                    }),
                }
            }
            _ => Err(self.expected(what)),
        }
    }

    /// `.NAME` after `cache_policies`.
    fn module_member(&mut self) -> Result<Expr, ExprError> {
        self.expect_op('.', "'.' after cache_policies")?;
        let (name, at) = self.expect_name("a name after 'cache_policies.'")?;
        if matches!(name.as_str(), "None" | "True" | "False") {
            return Err(self
                .src
                .error(at, "expected a name after 'cache_policies.'"));
        }
        Ok(Expr::Name {
            name,
            in_module: true,
            at,
        })
    }

    /// The arguments of a call, after its `(`: positional first, then `name=value`, an optional
    /// trailing comma, and the `)`.
    fn arguments(&mut self) -> Result<Vec<Arg>, ExprError> {
        let mut args: Vec<Arg> = Vec::new();
        while self.peek() != &Tok::Op(')') {
            let at = self.tokens[self.next].at;
            let after = self.tokens.get(self.next + 1).map(|t| &t.tok);
            let keyword = match (self.peek().clone(), after) {
                (Tok::Name(name), Some(Tok::Op('='))) => {
                    self.next += 2;
                    if args.iter().any(|a| a.keyword.as_ref() == Some(&name)) {
                        return Err(self
                            .src
                            .error(at, format!("keyword argument repeated: {name}")));
                    }
                    Some(name)
                }
                _ => {
                    if args.iter().any(|a| a.keyword.is_some()) {
                        return Err(self
                            .src
                            .error(at, "positional argument follows keyword argument"));
                    }
                    None
                }
            };
            args.push(Arg {
                keyword,
                value: self.expression()?,
            });
            if self.peek() != &Tok::Op(')') {
                self.expect_op(',', "',' or ')'")?;
            }
        }
        self.bump();
        Ok(args)
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation, left to right as Python does.

/// What a name in scope is.
enum Global {
    Policy(PolicyNode),
    Class(&'static str),
    Path,
}

fn lookup(name: &str) -> Option<Global> {
    if let Some(policy) = constant(name) {
        return Some(Global::Policy(policy));
    }
    const CLASSES: [&str; 7] = [
        "Inputs",
        "TaskSource",
        "FlowParameters",
        "RunId",
        "CompoundCachePolicy",
        "CacheKeyFnPolicy",
        "_None",
    ];
    match name {
        "Path" => Some(Global::Path),
        _ => CLASSES
            .iter()
            .find(|&&class| class == name)
            .map(|&class| Global::Class(class)),
    }
}

/// The parameters after `self`, in order: the dataclass fields of a policy class (the base
/// class's three come first), and those of `CachePolicy.configure`.
const BASE_FIELDS: [&str; 3] = ["key_storage", "isolation_level", "lock_manager"];
const CONFIGURE_PARAMS: [&str; 3] = ["key_storage", "lock_manager", "isolation_level"];

struct Evaluator<'s> {
    src: &'s Source,
    /// Names the expression's module binds (see [`parse_policy_in`]).
    module: &'s dyn Fn(&str) -> Option<PolicyNode>,
}

impl Evaluator<'_> {
    fn eval(&self, expr: &Expr) -> Result<Value, ExprError> {
        match expr {
            Expr::Str(s) => Ok(Value::Str(s.clone())),
            Expr::None => Ok(Value::None),
            Expr::List(items) => Ok(Value::List(
                items
                    .iter()
                    .map(|e| self.eval(e))
                    .collect::<Result<_, _>>()?,
            )),
            Expr::Name {
                name,
                in_module,
                at,
            } => match self.global(name, *in_module)? {
                Global::Policy(policy) => Ok(Value::Policy(policy)),
                Global::Class(_) | Global::Path => Err(self
                    .src
                    .error(*at, format!("{name} must be called: {name}(...)"))),
            },
            Expr::Binary { op, left, right } => {
                let (left, right) = (self.eval(left)?, self.eval(right)?);
                if *op == '+' {
                    py_add(left, right)
                } else {
                    py_sub(left, right)
                }
            }
            Expr::Configure { receiver, args } => {
                let receiver = self.eval(receiver)?;
                let Value::Policy(policy) = receiver else {
                    let msg = format!(
                        "'{}' object has no attribute 'configure'",
                        receiver.type_name()
                    );
                    return Err(raise("AttributeError", msg));
                };
                let args = self.arguments(args)?;
                let [key_storage, lock_manager, isolation_level] =
                    bind("CachePolicy.configure()", &CONFIGURE_PARAMS, args)?
                        .try_into()
                        .expect("three parameters");
                let set = Configure {
                    key_storage: key_storage.and_then(|v| v.to_field()),
                    isolation_level: isolation_level.and_then(|v| v.to_field()),
                    lock_manager: lock_manager.and_then(|v| v.to_field()),
                };
                Ok(Value::Policy(configure(&policy, &set)))
            }
            Expr::Call { callee, args, at } => {
                let global = match &**callee {
                    Expr::Name {
                        name, in_module, ..
                    } => self.global(name, *in_module)?,
                    other => {
                        let callee = self.eval(other)?;
                        self.arguments(args)?;
                        return Err(not_callable(&callee));
                    }
                };
                let args = self.arguments(args)?;
                match global {
                    Global::Policy(policy) => Err(not_callable(&Value::Policy(policy))),
                    Global::Path => self.path(args, *at),
                    Global::Class(class) => self.construct(class, args, *at),
                }
            }
        }
    }

    /// Resolves a name, with the error Python raises for a missing one.
    fn global(&self, name: &str, in_module: bool) -> Result<Global, ExprError> {
        let from_module = || (!in_module).then(|| (self.module)(name)).flatten();
        lookup(name)
            .or_else(|| from_module().map(Global::Policy))
            .ok_or_else(|| {
                if in_module {
                    raise(
                        "AttributeError",
                        format!("module 'prefect.cache_policies' has no attribute '{name}'"),
                    )
                } else {
                    raise("NameError", format!("name '{name}' is not defined"))
                }
            })
    }

    /// Evaluates call arguments in order. A whole argument that is a name we do not know is
    /// kept as an opaque object (a lock manager, a storage block, a cache key function).
    fn arguments(&self, args: &[Arg]) -> Result<Vec<(Option<String>, Value)>, ExprError> {
        args.iter()
            .map(|arg| {
                let value = match &arg.value {
                    Expr::Name {
                        name,
                        in_module: false,
                        ..
                    } if lookup(name).is_none() => Value::Opaque(name.clone()),
                    other => self.eval(other)?,
                };
                Ok((arg.keyword.clone(), value))
            })
            .collect()
    }

    /// `Path(*parts)`.
    fn path(&self, args: Vec<(Option<String>, Value)>, at: usize) -> Result<Value, ExprError> {
        let mut parts = Vec::new();
        for (keyword, value) in args {
            match (keyword, value) {
                (None, Value::Str(s) | Value::Path(s)) => parts.push(s),
                (None, Value::Opaque(name)) => {
                    return Err(self.src.error(
                        at,
                        format!("Path({name}): only strings and paths are supported"),
                    ));
                }
                (None, other) => {
                    let msg = format!(
                        "expected str, bytes or os.PathLike object, not {}",
                        other.type_name()
                    );
                    return Err(raise("TypeError", msg));
                }
                (Some(_), _) => {
                    return Err(self.src.error(at, "Path() takes no keyword arguments here"));
                }
            }
        }
        Ok(Value::Path(posix_path(&parts)))
    }

    /// A policy class called with `args`: the dataclass `__init__` (and `__post_init__`).
    fn construct(
        &self,
        class: &str,
        args: Vec<(Option<String>, Value)>,
        at: usize,
    ) -> Result<Value, ExprError> {
        let extra = match class {
            "Inputs" => Some("exclude"),
            "CompoundCachePolicy" => Some("policies"),
            "CacheKeyFnPolicy" => Some("cache_key_fn"),
            _ => None,
        };
        let params: Vec<&str> = BASE_FIELDS.iter().copied().chain(extra).collect();
        let mut bound = bind(&format!("{class}.__init__()"), &params, args)?;
        let field = |index: usize| bound[index].as_ref().and_then(Value::to_field);
        let configure = Configure {
            key_storage: field(0),
            isolation_level: field(1),
            lock_manager: field(2),
        };
        let extra_value = bound.get_mut(3).and_then(Option::take);
        let unsupported = |what: &str| Err(self.src.error(at, format!("{class}(): {what}")));
        let kind = match class {
            "Inputs" => {
                let mut exclude = Vec::new();
                match extra_value {
                    None => {}
                    Some(Value::List(items)) => {
                        for item in items {
                            let Value::Str(name) = item else {
                                return unsupported("exclude must be a list of strings");
                            };
                            exclude.push(name);
                        }
                    }
                    Some(_) => return unsupported("exclude must be a list of strings"),
                }
                PolicyKind::Inputs { exclude }
            }
            "CompoundCachePolicy" => {
                let mut policies = Vec::new();
                match extra_value {
                    None => {}
                    Some(Value::List(items)) => {
                        for item in items {
                            let Value::Policy(policy) = item else {
                                return unsupported("policies must be a list of cache policies");
                            };
                            policies.push(policy);
                        }
                    }
                    Some(_) => return unsupported("policies must be a list of cache policies"),
                }
                return Ok(Value::Policy(compound_cache_policy(policies, configure)));
            }
            "CacheKeyFnPolicy" => match extra_value {
                None | Some(Value::None) => PolicyKind::CacheKeyFn { function: None },
                Some(Value::Opaque(name)) => PolicyKind::CacheKeyFn {
                    function: Some(name),
                },
                Some(_) => return unsupported("cache_key_fn must be the name of a function"),
            },
            "TaskSource" => PolicyKind::TaskSource,
            "FlowParameters" => PolicyKind::FlowParameters,
            "RunId" => PolicyKind::RunId,
            _ => PolicyKind::NoCache,
        };
        Ok(Value::Policy(PolicyNode {
            kind,
            configure: configure.into(),
            recorded: None,
        }))
    }
}

fn not_callable(value: &Value) -> ExprError {
    raise(
        "TypeError",
        format!("'{}' object is not callable", value.type_name()),
    )
}

/// Binds call arguments to parameters (after `self`, all with defaults) the way CPython does,
/// with its messages: positionals fill from the left, then each keyword is checked in order,
/// then surplus positionals are reported.
fn bind(
    function: &str,
    params: &[&str],
    args: Vec<(Option<String>, Value)>,
) -> Result<Vec<Option<Value>>, ExprError> {
    let mut slots: Vec<Option<Value>> = vec![None; params.len()];
    let mut given = 0;
    for (keyword, value) in args {
        match keyword {
            None => {
                if let Some(slot) = slots.get_mut(given) {
                    *slot = Some(value);
                }
                given += 1;
            }
            Some(keyword) => {
                let Some(index) = params.iter().position(|p| *p == keyword) else {
                    return Err(raise(
                        "TypeError",
                        format!("{function} got an unexpected keyword argument '{keyword}'"),
                    ));
                };
                if index < given {
                    return Err(raise(
                        "TypeError",
                        format!("{function} got multiple values for argument '{keyword}'"),
                    ));
                }
                slots[index] = Some(value);
            }
        }
    }
    if given > params.len() {
        let msg = format!(
            "{function} takes from 1 to {} positional arguments but {} were given",
            params.len() + 1,
            given + 1
        );
        return Err(raise("TypeError", msg));
    }
    Ok(slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax(expr: &str) -> (usize, usize, String) {
        match parse_policy(expr) {
            Err(ExprError::Syntax {
                line,
                column,
                message,
            }) => (line, column, message),
            other => panic!("{expr:?}: expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_say_where_and_what_was_expected() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "INPUTS +",
                9,
                "expected a policy, a string, a list or '(', found the end of the expression",
            ),
            (
                "INPUTS + + RUN_ID",
                10,
                "expected a policy, a string, a list or '(', found '+'",
            ),
            (
                "(INPUTS + RUN_ID",
                17,
                "expected ')', found the end of the expression",
            ),
            (
                "INPUTS RUN_ID",
                8,
                "expected '+', '-' or the end of the expression, found name RUN_ID",
            ),
            (
                "Inputs(exclude=[\"a\" \"b\"",
                24,
                "expected ',' or ']', found the end of the expression",
            ),
            (
                "Inputs(exclude=[\"a\"] \"b\")",
                22,
                "expected ',' or ')', found string 'b'",
            ),
            (
                "INPUTS.configure",
                17,
                "expected '(' after .configure, found the end of the expression",
            ),
            (
                "INPUTS.configure(",
                18,
                "expected a policy, a string, a list or '(', found the end of the expression",
            ),
            (
                "Inputs(exclude",
                15,
                "expected ',' or ')', found the end of the expression",
            ),
            (
                "INPUTS.configure(key_storage=)",
                30,
                "expected a policy, a string, a list or '(', found ')'",
            ),
            (
                "INPUTS.exclude",
                8,
                "only .configure(...) is supported after a value, not .exclude",
            ),
            (
                "INPUTS.",
                8,
                "expected configure after '.', found the end of the expression",
            ),
            ("INPUTS - 'x", 10, "unterminated string literal"),
            ("INPUTS - \"x\ny\"", 10, "unterminated string literal"),
            ("INPUTS - 1", 10, "numbers are not supported"),
            ("INPUTS * 2", 8, "unexpected character '*'"),
            (
                "INPUTS - f'x'",
                10,
                "string prefix f is not supported (only r and u)",
            ),
            (
                "INPUTS - '''x'''",
                10,
                "triple-quoted strings are not supported",
            ),
            ("INPUTS - '\\x4'", 11, "truncated \\x escape"),
            (
                "INPUTS - '\\ud800'",
                11,
                "\\u escape is not a character Rust can hold",
            ),
            (
                "INPUTS.configure(key_storage='a', key_storage='b')",
                35,
                "keyword argument repeated: key_storage",
            ),
            (
                "Inputs(exclude=[], 'a')",
                20,
                "positional argument follows keyword argument",
            ),
            (
                "prefect.INPUTS",
                9,
                "only prefect.cache_policies is supported",
            ),
            (
                "cache_policies",
                15,
                "expected '.' after cache_policies, found the end of the expression",
            ),
            (
                "cache_policies.None",
                16,
                "expected a name after 'cache_policies.'",
            ),
            ("INPUTS + True", 10, "True is not supported here"),
            ("Inputs + RUN_ID", 1, "Inputs must be called: Inputs(...)"),
            (
                "Inputs(exclude='ab')",
                7,
                "Inputs(): exclude must be a list of strings",
            ),
            (
                "Inputs(exclude=[RUN_ID])",
                7,
                "Inputs(): exclude must be a list of strings",
            ),
            (
                "CompoundCachePolicy(policies=['x'])",
                20,
                "CompoundCachePolicy(): policies must be a list of cache policies",
            ),
            (
                "CacheKeyFnPolicy(cache_key_fn='f')",
                17,
                "CacheKeyFnPolicy(): cache_key_fn must be the name of a function",
            ),
            (
                "TASK_SOURCE.configure(key_storage=Path(x))",
                39,
                "Path(x): only strings and paths are supported",
            ),
        ];
        for &(expr, column, message) in cases {
            assert_eq!(syntax(expr), (1, column, message.to_string()), "{expr:?}");
        }
    }

    #[test]
    fn syntax_errors_count_lines_and_columns_in_characters() {
        assert_eq!(syntax("INPUTS\n  + TASK_SOURCE -").0, 2);
        assert_eq!(syntax("INPUTS\n  + TASK_SOURCE -").1, 18);
        // Columns count characters, not bytes.
        assert_eq!(syntax("INPUTS - 'é' +").1, 15);
    }

    #[test]
    fn every_truncated_expression_is_an_error_not_a_panic() {
        let full = r#"(prefect.cache_policies.Inputs(["a"], exclude=['b\x41', r"c\"d"],) - "e")
            + CompoundCachePolicy(policies=[NONE, DEFAULT]).configure(key_storage=Path("/k", "x"),
            lock_manager=lock_a) # done"#;
        let chars: Vec<char> = full.chars().collect();
        for end in 0..=chars.len() {
            let prefix: String = chars[..end].iter().collect();
            let _ = parse_policy(&prefix);
        }
        // `Inputs(["a"])` set key_storage=['a'], which the Path then conflicts with.
        let storage = "Cannot add CachePolicies with different storage locations.";
        assert_eq!(parse_policy(full), Err(raise("ValueError", storage)));
    }

    #[test]
    fn syntax_is_checked_before_anything_is_evaluated() {
        // Python compiles the whole expression first: the trailing `+` wins over the
        // AttributeError that `INPUTS + "x"` would raise.
        assert_eq!(syntax("INPUTS + 'x' +").1, 15);
    }

    #[test]
    fn default_is_task_source_run_id_then_inputs() {
        let default = constant("DEFAULT").unwrap();
        let classes: Vec<&str> = default
            .children()
            .iter()
            .map(PolicyNode::class_name)
            .collect();
        assert_eq!(classes, ["TaskSource", "RunId", "Inputs"]);
    }

    #[test]
    fn string_literals_follow_python_escapes() {
        let exclude = |expr: &str| match parse_policy(&format!("INPUTS - {expr}")).unwrap().kind {
            PolicyKind::Inputs { exclude } => exclude[0].clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(exclude(r#"'it\'s'"#), "it's");
        assert_eq!(
            exclude(r#""\x41\101\u00e9\U0001F600\n\t\d""#),
            "AAé😀\n\t\\d"
        );
        // In a raw string `\"` is kept and does not close it.
        assert_eq!(exclude(r#"r"C:\keys\" x""#), r#"C:\keys\" x"#);
        assert_eq!(exclude(r#"'a' "b" u'c'"#), "abc");
    }

    #[test]
    fn configure_fields_keep_python_values_apart() {
        let ks = |expr: &str| {
            let tree = parse_policy(expr).unwrap();
            tree.configure.key_storage.clone().unwrap()
        };
        assert_eq!(ks("RUN_ID.configure(key_storage='/tmp')"), "/tmp");
        assert_eq!(
            ks("RUN_ID.configure(key_storage=Path('/tmp//x/./'))"),
            "py:PosixPath('/tmp/x')"
        );
        assert_eq!(ks("RUN_ID.configure(key_storage='py:x')"), "py:'py:x'");
        assert_eq!(ks("RUN_ID.configure(key_storage=my_block)"), "py:my_block");
        assert_eq!(ks("RunId(['a'])"), "py:['a']");
        assert_eq!(storage_path("/tmp"), Some("/tmp".to_string()));
        assert_eq!(
            storage_path("py:PosixPath('/tmp/x')"),
            Some("/tmp/x".to_string())
        );
        assert_eq!(storage_path("py:'py:x'"), Some("py:x".to_string()));
        assert_eq!(storage_path("py:my_block"), None);
        assert_eq!(storage_path("py:['a']"), None);
    }

    #[test]
    fn paths_normalise_like_pathlib() {
        let path =
            |parts: &[&str]| posix_path(&parts.iter().map(|p| p.to_string()).collect::<Vec<_>>());
        assert_eq!(path(&[""]), ".");
        assert_eq!(path(&[]), ".");
        assert_eq!(path(&["//a"]), "//a");
        assert_eq!(path(&["///a/./b//"]), "/a/b");
        assert_eq!(path(&["a", "/b", "c"]), "/b/c");
        assert_eq!(path(&["a/..", "./b"]), "a/../b");
    }

    #[test]
    fn repr_of_str_matches_python() {
        assert_eq!(repr_str("a"), "'a'");
        assert_eq!(repr_str("b'"), "\"b'\"");
        assert_eq!(repr_str("d'\""), "'d\\'\"'");
        assert_eq!(
            repr_str("\n\x01\x7f\u{80}\u{a0}\u{200b}é"),
            "'\\n\\x01\\x7f\\x80\\xa0\\u200bé'"
        );
    }

    #[test]
    fn module_names_are_the_values_and_calls_python_would_look_up() {
        let names = |expr: &str| -> Vec<(String, bool)> {
            module_names(expr)
                .unwrap()
                .into_iter()
                .map(|n| (n.name, n.called))
                .collect()
        };
        let n = |name: &str, called: bool| (name.to_string(), called);
        assert_eq!(names("INPUTS + TASK_SOURCE - 'debug'"), []);
        assert_eq!(
            names("(BASE - 'x').configure(key_storage=BASE) + BASE + make()"),
            [n("BASE", false), n("make", true)]
        );
        // A whole argument stays opaque; Prefect's qualified names are Prefect's.
        assert_eq!(
            names("cache_policies.INPUTS.configure(lock_manager=locks) + RUN_ID"),
            []
        );
        assert_eq!(
            names("CompoundCachePolicy(policies=[P, TASK_SOURCE])"),
            [n("P", false)]
        );
        assert!(module_names("P +").is_err());
    }

    #[test]
    fn a_module_name_evaluates_to_what_the_module_binds() {
        let base = parse_policy("INPUTS + TASK_SOURCE").unwrap();
        let module = |name: &str| (name == "BASE").then(|| base.clone());
        assert_eq!(
            parse_policy_in("BASE - 'debug'", &module),
            parse_policy("INPUTS + TASK_SOURCE - 'debug'")
        );
        // Prefect's names win; anything else the module does not bind is still a NameError.
        assert_eq!(
            parse_policy_in("INPUTS", &|_| Some(base.clone())),
            parse_policy("INPUTS")
        );
        assert_eq!(
            parse_policy_in("OTHER", &module).unwrap_err().to_string(),
            "NameError: name 'OTHER' is not defined"
        );
    }
}
