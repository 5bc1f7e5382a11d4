//! Finding a function: one pass over a file's tokens that lists every `def` and `async def`
//! with the `co_qualname` and `co_firstlineno` CPython's compiler gives its code object, the
//! choice among several definitions of one qualname, and `findsource`'s walk back from
//! `co_firstlineno` to the line `getsource` starts at.
//!
//! Qualnames follow the compiler: a function in a class is `Class.name`, one in a function
//! `outer.<locals>.name`, at module level just `name`; a `global name` in the enclosing class
//! or function makes it plain `name` again. `co_firstlineno` is the line of the first
//! decorator's expression (the `@` line, unless the expression is a parenthesised group that
//! starts further down), else of the `def` (or `async`).

use super::scan::{Kind, Lines, Token, Tokenizer};
use super::{PythonVersion, SourceError};

/// One `def` or `async def` in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionDef {
    /// `co_qualname`, e.g. `Outer.Inner.method` or `f.<locals>.g`.
    pub qualname: String,
    /// 1-based `co_firstlineno`: first decorator line, else the `def` line.
    pub code_first_line: usize,
    /// 1-based line of the `def` (or `async`) keyword.
    pub def_line: usize,
    pub is_async: bool,
}

/// All functions of one file.
#[derive(Debug, Clone, Default)]
pub struct FunctionIndex {
    pub functions: Vec<FunctionDef>,
    /// Why indexing stopped before the end of the file, if it did (the file does not
    /// tokenize from some line on, usually because it is being edited).
    pub stopped: Option<String>,
    /// Indexes into `functions` sorted by qualname, and in source order among equal ones:
    /// looking every function of a file up by name was quadratic with a scan of the whole
    /// list per lookup.
    by_qualname: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScopeKind {
    Function,
    Class,
}

struct Scope {
    kind: ScopeKind,
    qualname: String,
    /// Names declared `global` in this scope so far.
    globals: Vec<String>,
    /// The indentation depth of the scope's body.
    depth: usize,
}

/// A `def` or `class` header being read.
struct Header {
    kind: ScopeKind,
    qualname: String,
}

/// Indexes every function of `lines` in one pass.
pub fn index_lines(lines: Lines<'_>, python: PythonVersion) -> FunctionIndex {
    let mut index = FunctionIndex::default();
    let mut scopes: Vec<Scope> = Vec::new();
    let mut depth = 0usize;
    // A header whose body (an INDENT) is expected next.
    let mut pending_body: Option<Header> = None;
    // The header of the logical line being read, if it is a def or class.
    let mut header: Option<Header> = None;
    let mut first_decorator_line: Option<usize> = None;
    // Tokens of the current logical line (significant ones only).
    let mut stmt: Vec<Token<'_>> = Vec::new();
    let mut last_sig: Option<Token<'_>> = None;

    for tok in Tokenizer::new(lines, python.c_tokenizer()) {
        let t = match tok {
            Ok(t) => t,
            Err(e) => {
                index.stopped = Some(format!(
                    "the file does not tokenize at line {}: {}",
                    e.row + 1,
                    e.message
                ));
                break;
            }
        };
        match t.kind {
            Kind::Indent => {
                depth += 1;
                if let Some(h) = pending_body.take() {
                    scopes.push(Scope {
                        kind: h.kind,
                        qualname: h.qualname,
                        globals: Vec::new(),
                        depth,
                    });
                }
            }
            Kind::Dedent => {
                depth = depth.saturating_sub(1);
                while scopes.last().is_some_and(|s| s.depth > depth) {
                    scopes.pop();
                }
            }
            Kind::Nl | Kind::Comment => {}
            Kind::Newline => {
                if let Some(first) = stmt.first() {
                    if first.kind == Kind::Op && first.text == "@" {
                        if first_decorator_line.is_none() {
                            first_decorator_line = Some(decorator_line(&stmt));
                        }
                    } else {
                        first_decorator_line = None;
                    }
                }
                if let Some(h) = header.take()
                    && last_sig.is_some_and(|l| l.kind == Kind::Op && l.text == ":")
                {
                    pending_body = Some(h);
                }
                stmt.clear();
                last_sig = None;
            }
            Kind::EndMarker => break,
            _ => {
                if stmt.is_empty() {
                    pending_body = None;
                }
                let at_start = stmt.is_empty()
                    || stmt
                        .last()
                        .is_some_and(|l| l.kind == Kind::Op && l.text == ";");
                stmt.push(t);
                last_sig = Some(t);
                if t.kind != Kind::Name {
                    continue;
                }
                // `def` directly, or `async def`, or `class`: the name follows.
                let n = stmt.len();
                let keyword = if n == 2 && stmt[0].text == "def" {
                    Some((ScopeKind::Function, stmt[0], false))
                } else if n == 3 && stmt[0].text == "async" && stmt[1].text == "def" {
                    Some((ScopeKind::Function, stmt[0], true))
                } else if n == 2 && stmt[0].text == "class" {
                    Some((ScopeKind::Class, stmt[0], false))
                } else {
                    None
                };
                if let Some((kind, kw, is_async)) = keyword {
                    let qualname = qualify(&scopes, t.text);
                    if kind == ScopeKind::Function {
                        index.functions.push(FunctionDef {
                            qualname: qualname.clone(),
                            code_first_line: first_decorator_line.unwrap_or(kw.row + 1),
                            def_line: kw.row + 1,
                            is_async,
                        });
                    }
                    first_decorator_line = None;
                    header = Some(Header { kind, qualname });
                } else if !(at_start && t.text == "global")
                    && stmt.len() >= 2
                    && is_global_stmt(&stmt)
                    && let Some(scope) = scopes.last_mut()
                {
                    // A name listed by `global`: a later def of it in this scope is not local.
                    scope.globals.push(t.text.to_string());
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..index.functions.len()).collect();
    // A stable sort: equal qualnames keep their source order.
    order.sort_by(|&a, &b| {
        index.functions[a]
            .qualname
            .cmp(&index.functions[b].qualname)
    });
    index.by_qualname = order;
    index
}

/// Whether the last token of `stmt` is a name listed by a `global` statement: `global a, b`
/// at the start of the logical line or after a `;`.
fn is_global_stmt(stmt: &[Token<'_>]) -> bool {
    let mut i = stmt.len() - 1;
    // Walk back over `name ,` pairs to the keyword.
    loop {
        if i == 0 {
            return false;
        }
        let prev = &stmt[i - 1];
        if prev.kind == Kind::Name && prev.text == "global" {
            return i - 1 == 0 || (stmt[i - 2].kind == Kind::Op && stmt[i - 2].text == ";");
        }
        if !(prev.kind == Kind::Op && prev.text == ",") || i < 2 || stmt[i - 2].kind != Kind::Name {
            return false;
        }
        i -= 2;
    }
}

/// The qualname the compiler gives a definition of `name` inside `scopes`.
fn qualify(scopes: &[Scope], name: &str) -> String {
    match scopes.last() {
        None => name.to_string(),
        Some(s) if s.globals.iter().any(|g| g == name) => name.to_string(),
        Some(s) if s.kind == ScopeKind::Function => format!("{}.<locals>.{}", s.qualname, name),
        Some(s) => format!("{}.{}", s.qualname, name),
    }
}

/// 1-based line of a decorator's expression, given the decorator statement's tokens
/// (starting with `@`). A parenthesised group is not a node of its own, so
/// `@(\n    name\n)` starts at `name`; a call, attribute or tuple starts at its `(`.
fn decorator_line(stmt: &[Token<'_>]) -> usize {
    let mut expr = &stmt[1.min(stmt.len())..];
    while let Some(first) = expr.first() {
        if !(first.kind == Kind::Op && first.text == "(") {
            break;
        }
        // Find the matching `)`; the group is bare only if it is the whole expression and
        // has no top-level comma (a tuple) or `for` (a generator expression).
        let mut level = 0i32;
        let mut close = None;
        let mut plain = true;
        for (i, t) in expr.iter().enumerate() {
            if t.kind == Kind::Op {
                match t.text {
                    "(" | "[" | "{" => level += 1,
                    ")" | "]" | "}" => {
                        level -= 1;
                        if level == 0 {
                            close = Some(i);
                            break;
                        }
                    }
                    "," if level == 1 => plain = false,
                    _ => {}
                }
            } else if level == 1 && t.kind == Kind::Name && t.text == "for" {
                plain = false;
            }
        }
        match close {
            Some(c) if plain && c == expr.len() - 1 && c > 1 => expr = &expr[1..c],
            _ => break,
        }
    }
    expr.first().or(stmt.first()).map_or(1, |t| t.row + 1)
}

/// The definition of `qualname` nearest `near_line` (the earlier on a tie), or the last one.
pub fn pick<'i>(
    index: &'i FunctionIndex,
    qualname: &str,
    near_line: Option<usize>,
) -> Result<&'i FunctionDef, SourceError> {
    let order = &index.by_qualname;
    let start = order.partition_point(|&i| index.functions[i].qualname.as_str() < qualname);
    let end = start
        + order[start..].partition_point(|&i| index.functions[i].qualname.as_str() == qualname);
    let mut found = order[start..end].iter().map(|&i| &index.functions[i]);
    let best = match near_line {
        // `min_by_key` keeps the first of equal keys: the earlier definition on a tie.
        Some(line) => found.min_by_key(|f| f.code_first_line.abs_diff(line)),
        None => found.next_back(),
    };
    best.ok_or_else(|| SourceError::NotFound {
        qualname: qualname.to_string(),
        candidates: similar(index, qualname, near_line),
        index_stopped: index.stopped.clone(),
    })
}

/// Up to five qualnames of the file that look most like `qualname` (the same final name
/// first, then by edit distance), then the function defined nearest `near_line` if it is not
/// among them: after a rename the old line still points at the function.
fn similar(index: &FunctionIndex, qualname: &str, near_line: Option<usize>) -> Vec<String> {
    let last = |q: &str| q.rsplit('.').next().unwrap_or(q).to_string();
    let want_last = last(qualname);
    let mut scored: Vec<(usize, &str)> = index
        .functions
        .iter()
        .map(|f| {
            let d = edit_distance(&f.qualname, qualname);
            let bonus = if last(&f.qualname) == want_last {
                0
            } else {
                1000
            };
            (bonus + d, f.qualname.as_str())
        })
        .filter(|(score, q)| *score < 1000 || *score - 1000 <= q.len().max(qualname.len()) / 2)
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    let mut out: Vec<String> = scored
        .into_iter()
        .take(5)
        .map(|(_, q)| q.to_string())
        .collect();
    if let Some(line) = near_line
        && let Some(near) = index
            .functions
            .iter()
            .min_by_key(|f| f.code_first_line.abs_diff(line))
        && !out.contains(&near.qualname)
    {
        out.push(near.qualname.clone());
    }
    out
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `findsource` for a code object: the 0-based line `getsource` starts at, from the 1-based
/// `co_firstlineno`. Up to 3.12 it walks back while the line does not match
/// `^(\s*def\s)|(\s*async\s+def\s)|(.*(?<!\w)lambda(:|\s))|^(\s*@)` (never checking line 0).
pub fn findsource_start(
    lines: Lines<'_>,
    code_first_line: usize,
    python: PythonVersion,
) -> Result<usize, SourceError> {
    let out_of_range = || SourceError::LineOutOfRange(code_first_line);
    let mut lnum = code_first_line.checked_sub(1).ok_or_else(out_of_range)?;
    if lnum >= lines.len() {
        return Err(out_of_range());
    }
    if python.walks_back() {
        while lnum > 0 && !looks_like_start(lines.get(lnum)) {
            lnum -= 1;
        }
    }
    Ok(lnum)
}

/// Python's `\s` (str.isspace).
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Python's `\w` for str patterns.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The `findsource` pattern, matched at the start of the line.
fn looks_like_start(line: &str) -> bool {
    let rest = line.trim_start_matches(is_space);
    let space_after = |s: &str, kw: &str| {
        s.strip_prefix(kw)
            .and_then(|r| r.chars().next())
            .is_some_and(is_space)
    };
    if space_after(rest, "def") || rest.starts_with('@') {
        return true;
    }
    if let Some(after) = rest.strip_prefix("async")
        && after.starts_with(is_space)
        && space_after(after.trim_start_matches(is_space), "def")
    {
        // `\s+` is greedy but may give back: `async` + spaces + `def` + one space. Since `def`
        // is not whitespace, the greedy run always ends right before it.
        return true;
    }
    // `.*(?<!\w)lambda(:|\s)`: `.` stops at a newline.
    let body = line.split('\n').next().unwrap_or("");
    body.match_indices("lambda").any(|(i, _)| {
        let before_ok = body[..i].chars().next_back().is_none_or(|c| !is_word(c));
        let after = body[i + 6..].chars().next();
        // The newline itself counts as `\s`.
        let after_ok = match after {
            Some(c) => c == ':' || is_space(c),
            None => line.len() > body.len(),
        };
        before_ok && after_ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(text: &str, minor: u8) -> Vec<(String, usize)> {
        let mut spans = Vec::new();
        let mut s = 0;
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                spans.push((s, i + 1));
                s = i + 1;
            }
        }
        let idx = index_lines(Lines::new(text, &spans), PythonVersion::new(3, minor));
        idx.functions
            .into_iter()
            .map(|f| (f.qualname, f.code_first_line))
            .collect()
    }

    #[test]
    fn qualnames_follow_the_compiler() {
        let text = "\
class A:
    class B:
        @staticmethod
        def m(): pass
    async def n(self):
        def inner():
            class C:
                def deep(self): pass
x = 1; global g
def outer():
    global helper
    def helper(): pass
";
        let want = [
            ("A.B.m", 3),
            ("A.n", 5),
            ("A.n.<locals>.inner", 6),
            ("A.n.<locals>.inner.<locals>.C.deep", 8),
            ("outer", 10),
            ("helper", 12),
        ];
        let got = index(text, 11);
        let want: Vec<(String, usize)> = want.iter().map(|(q, l)| (q.to_string(), *l)).collect();
        assert_eq!(got, want);
        assert_eq!(index(text, 13), want);
    }

    #[test]
    fn decorator_lines() {
        let text = "@(\n    dec\n)\ndef f(): pass\n@(a)(b)\n\ndef g(): pass\n";
        assert_eq!(
            index(text, 13),
            [("f".to_string(), 2), ("g".to_string(), 5)]
        );
    }

    #[test]
    fn the_findsource_pattern() {
        assert!(looks_like_start("    def f():\n"));
        assert!(looks_like_start("async  def f():\n"));
        assert!(looks_like_start("  @x\n"));
        assert!(looks_like_start("x = lambda: 1\n"));
        assert!(looks_like_start("x = y(lambda\n"));
        assert!(!looks_like_start("x = my_lambda: 1\n"));
        assert!(!looks_like_start("define()\n"));
        assert!(!looks_like_start("    foo\n"));
    }

    #[test]
    fn edit_distance_works() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
