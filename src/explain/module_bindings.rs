//! What a Python module binds as it is imported, read from its tokens without running it: for
//! every statement that binds a name, the name, the line, how (an assignment and the text of
//! its value, an import, a `def`, a `for` loop...) and where (at the top level, inside an `if`
//! or `try` block, inside a function or class). This is what it takes to know what
//! `@task(cache_policy=MY_POLICY)` refers to when the decorator runs.
//!
//! The tokens are those of [`crate::source::scan`], so strings (triple-quoted ones spanning
//! lines included), comments, brackets and backslash continuations are Python's: a line inside
//! a docstring that reads `MY_POLICY = INPUTS` binds nothing, and a value in parentheses that
//! spans lines is one statement. Python's scoping is followed as far as a policy needs: a name
//! bound inside a function body is that function's own (unless declared `global`); one bound
//! inside a class body belongs to the class; one bound in an `if`, `try`, `for`, `while` or
//! `match` block at the top level is a module name that may or may not be bound, which
//! cachescope cannot tell without running the module. A `with` block always runs its body, so
//! it changes nothing.

use crate::source::PythonVersion;
use crate::source::scan::{Kind, Lines, Token, Tokenizer};

/// How a statement binds a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// `NAME = VALUE` (also `A = NAME = VALUE` and `NAME: T = VALUE`): the text of VALUE as
    /// written, comments and line breaks included. `NAME += VALUE` is recorded as
    /// `NAME + (VALUE)`, which is what Python computes for a policy (no `__iadd__`).
    Assign(String),
    /// `import m as NAME` (`name` None) or `from m import name as NAME`.
    Import {
        module: String,
        name: Option<String>,
    },
    /// `from m import *`, recorded under the name `*`: it may bind any name.
    StarImport { module: String },
    /// `def NAME` or `async def NAME`.
    Def,
    /// `class NAME`.
    Class,
    /// `global NAME` in the body of `function`: calling it may rebind the module's name.
    Global { function: String },
    /// Any other binding, named for the message: "a `for` loop", "unpacking", ...
    Other(&'static str),
}

/// Where a binding statement is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// At the top level of the module (or in a `with` block there): it runs, in order.
    Module,
    /// In a block at the top level that may not run: the keyword and line of the outermost.
    Conditional { keyword: String, line: usize },
    /// In the body of a function or class: [`ModuleBindings::scopes`]`[index]`, the innermost.
    Scope(usize),
}

/// A function or class body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// "function" or "class".
    pub kind: &'static str,
    pub name: String,
    /// 1-based line of the `def` or `class` header.
    pub first_line: usize,
    /// 1-based last line of its body.
    pub last_line: usize,
}

impl Scope {
    /// Whether a line lies in the body (a task decorated at that line is defined in it).
    pub fn contains(&self, line: usize) -> bool {
        self.first_line < line && line <= self.last_line
    }
}

/// One binding of one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub name: String,
    /// 1-based line where the statement starts.
    pub line: usize,
    /// The statement's position in the file: statements on one line (`a = 1; a = a - "x"`)
    /// run in this order.
    pub order: usize,
    pub how: How,
    pub place: Place,
}

/// `.with_options(..., cache_policy=EXPR, ...)` somewhere in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithOptions {
    pub line: usize,
    pub expr: String,
}

/// Every binding in a module, in file order.
#[derive(Debug, Clone, Default)]
pub struct ModuleBindings {
    pub bindings: Vec<Binding>,
    pub scopes: Vec<Scope>,
    pub with_options: Vec<WithOptions>,
    /// Where reading stopped because the file does not tokenize: 1-based line and why.
    pub stopped: Option<(usize, String)>,
}

/// What kind of block the statements being read are in.
#[derive(Debug, Clone)]
enum Block {
    Scope(usize),
    Conditional {
        keyword: String,
        line: usize,
    },
    /// A `with` block: its body runs.
    Transparent,
}

/// Reads every binding of a module from its lines, tokenized as `python` would.
pub fn module_bindings(lines: Lines<'_>, python: PythonVersion) -> ModuleBindings {
    let mut reader = Reader {
        lines,
        out: ModuleBindings::default(),
        blocks: Vec::new(),
        order: 0,
    };
    let mut depth = 0usize;
    // A header whose indented body is expected next.
    let mut pending: Option<Block> = None;
    let mut stmt: Vec<Token<'_>> = Vec::new();
    let mut last_line = 0usize;
    for token in Tokenizer::new(lines, python >= PythonVersion::new(3, 12)) {
        let t = match token {
            Ok(t) => t,
            Err(e) => {
                reader.out.stopped = Some((e.row + 1, e.message));
                break;
            }
        };
        match t.kind {
            Kind::Indent => {
                depth += 1;
                if let Some(block) = pending.take() {
                    reader.blocks.push((depth, block));
                }
            }
            Kind::Dedent => {
                depth = depth.saturating_sub(1);
                reader.close_blocks(depth, last_line);
            }
            Kind::Nl | Kind::Comment => {}
            Kind::Newline => {
                pending = reader.statement(&stmt);
                stmt.clear();
            }
            Kind::EndMarker => break,
            _ => {
                if stmt.is_empty() {
                    pending = None;
                }
                last_line = t.end_row + 1;
                stmt.push(t);
            }
        }
    }
    reader.close_blocks(0, last_line);
    reader.out
}

struct Reader<'a> {
    lines: Lines<'a>,
    out: ModuleBindings,
    /// Open blocks with the indentation depth of their body.
    blocks: Vec<(usize, Block)>,
    order: usize,
}

fn is_op(t: &Token<'_>, op: &str) -> bool {
    t.kind == Kind::Op && t.text == op
}

fn is_name(t: &Token<'_>, name: &str) -> bool {
    t.kind == Kind::Name && t.text == name
}

/// Bracket depth before each token, and the depth after the last.
fn depths(tokens: &[Token<'_>]) -> Vec<i32> {
    let mut depth = 0;
    tokens
        .iter()
        .map(|t| {
            let before = depth;
            if t.kind == Kind::Op {
                match t.text {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" => depth -= 1,
                    _ => {}
                }
            }
            before
        })
        .collect()
}

/// Splits `tokens` at the depth-0 tokens that satisfy `at`, dropping them.
fn split<'t, 'a>(tokens: &'t [Token<'a>], at: impl Fn(&Token<'a>) -> bool) -> Vec<&'t [Token<'a>]> {
    let d = depths(tokens);
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if d[i] == 0 && at(t) {
            parts.push(&tokens[start..i]);
            start = i + 1;
        }
    }
    parts.push(&tokens[start..]);
    parts
}

/// The names a target list binds: plain names, not attributes, subscripts or calls.
fn target_names<'a>(tokens: &[Token<'a>]) -> Vec<&'a str> {
    let mut names = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let after_dot = i > 0 && is_op(&tokens[i - 1], ".");
        let trailer = tokens
            .get(i + 1)
            .is_some_and(|n| is_op(n, ".") || is_op(n, "[") || is_op(n, "("));
        if t.kind == Kind::Name && !after_dot && !trailer && !matches!(t.text, "in" | "not") {
            names.push(t.text);
        }
    }
    names
}

const KEYWORDS: [&str; 12] = [
    "if", "elif", "else", "try", "except", "finally", "for", "while", "with", "def", "class",
    "async",
];

impl<'a> Reader<'a> {
    /// The source text from the start of `first` to the end of `last`.
    fn text(&self, first: &Token<'a>, last: &Token<'a>) -> String {
        let joined = self.lines.join(first.row, last.end_row + 1);
        let before_last: usize = (first.row..last.end_row)
            .map(|r| self.lines.get(r).len())
            .sum();
        joined[first.col..before_last + last.end_col].to_string()
    }

    /// Where a statement read now is.
    fn place(&self) -> Place {
        if let Some(scope) = self.blocks.iter().rev().find_map(|(_, b)| match b {
            Block::Scope(i) => Some(*i),
            _ => None,
        }) {
            return Place::Scope(scope);
        }
        match self.blocks.iter().find_map(|(_, b)| match b {
            Block::Conditional { keyword, line } => Some((keyword.clone(), *line)),
            _ => None,
        }) {
            Some((keyword, line)) => Place::Conditional { keyword, line },
            None => Place::Module,
        }
    }

    fn bind(&mut self, name: &str, line: usize, how: How) {
        let place = self.place();
        self.out.bindings.push(Binding {
            name: name.to_string(),
            line,
            order: self.order,
            how,
            place,
        });
    }

    fn close_blocks(&mut self, depth: usize, last_line: usize) {
        while self.blocks.last().is_some_and(|(d, _)| *d > depth) {
            if let Some((_, Block::Scope(i))) = self.blocks.pop() {
                self.out.scopes[i].last_line = last_line;
            }
        }
    }

    /// Reads one logical line; returns the block its indented body opens, if it is a header.
    fn statement(&mut self, stmt: &[Token<'a>]) -> Option<Block> {
        let first = stmt.first()?;
        let line = first.row + 1;
        self.scan_everywhere(stmt, line);
        let soft_header = matches!(first.text, "match" | "case")
            && first.kind == Kind::Name
            && stmt.last().is_some_and(|t| is_op(t, ":"));
        if first.kind == Kind::Name && (KEYWORDS.contains(&first.text) || soft_header) {
            let d = depths(stmt);
            let colon = (1..stmt.len()).find(|&i| d[i] == 0 && is_op(&stmt[i], ":"))?;
            let block = self.header(&stmt[..colon], line);
            let body = &stmt[colon + 1..];
            if body.is_empty() {
                return Some(block);
            }
            // A body on the header's line: read it inside its block, then close that.
            let depth = usize::MAX;
            self.blocks.push((depth, block));
            for simple in split(body, |t| is_op(t, ";")) {
                self.simple(simple, line);
            }
            self.close_blocks(depth - 1, line);
            return None;
        }
        for simple in split(stmt, |t| is_op(t, ";")) {
            self.simple(simple, line);
        }
        None
    }

    /// A compound statement's header: what it binds, and the block it opens.
    fn header(&mut self, header: &[Token<'a>], line: usize) -> Block {
        self.order += 1;
        let keyword = if is_name(&header[0], "async") && header.len() > 1 {
            header[1].text
        } else {
            header[0].text
        };
        let at = |k: &str| header.iter().position(|t| is_name(t, k));
        match keyword {
            "def" | "class" => {
                let name_at = at(keyword).map_or(header.len(), |i| i + 1);
                let name = header.get(name_at).map_or("", |t| t.text).to_string();
                let (how, kind) = if keyword == "def" {
                    (How::Def, "function")
                } else {
                    (How::Class, "class")
                };
                self.bind(&name, line, how);
                self.out.scopes.push(Scope {
                    kind,
                    name,
                    first_line: line,
                    last_line: line,
                });
                Block::Scope(self.out.scopes.len() - 1)
            }
            "for" => {
                if let (Some(f), Some(i)) = (at("for"), at("in")) {
                    for name in target_names(&header[f + 1..i.max(f + 1)]) {
                        self.bind(name, line, How::Other("a `for` loop"));
                    }
                }
                Block::Conditional {
                    keyword: "for".into(),
                    line,
                }
            }
            "with" | "except" => {
                let what = if keyword == "with" {
                    "`with ... as`"
                } else {
                    "`except ... as`"
                };
                for item in split(header, |t| is_op(t, ",")) {
                    if let Some(i) = item.iter().position(|t| is_name(t, "as")) {
                        for name in target_names(&item[i + 1..]) {
                            self.bind(name, line, How::Other(what));
                        }
                    }
                }
                if keyword == "with" {
                    Block::Transparent
                } else {
                    Block::Conditional {
                        keyword: keyword.into(),
                        line,
                    }
                }
            }
            other => Block::Conditional {
                keyword: other.to_string(),
                line,
            },
        }
    }

    /// What every statement may hold, whatever it is: `:=` and `with_options(cache_policy=)`.
    fn scan_everywhere(&mut self, stmt: &[Token<'a>], line: usize) {
        for (i, t) in stmt.iter().enumerate() {
            if t.kind != Kind::Name {
                continue;
            }
            if stmt.get(i + 1).is_some_and(|n| is_op(n, ":=")) {
                self.bind(t.text, line, How::Other("`:=`"));
            }
            if t.text == "with_options"
                && stmt.get(i + 1).is_some_and(|n| is_op(n, "("))
                && let Some(expr) = self.keyword_argument(&stmt[i + 1..], "cache_policy")
            {
                self.out.with_options.push(WithOptions { line, expr });
            }
        }
    }

    /// The text of `keyword=VALUE` among the arguments of the call whose `(` starts `call`.
    fn keyword_argument(&self, call: &[Token<'a>], keyword: &str) -> Option<String> {
        let d = depths(call);
        let close = (1..call.len()).find(|&i| d[i] == 1 && is_op(&call[i], ")"))?;
        let args = &call[1..close];
        for arg in split(args, |t| is_op(t, ",")) {
            if let [name, eq, value @ ..] = arg
                && is_name(name, keyword)
                && is_op(eq, "=")
                && let (Some(first), Some(last)) = (value.first(), value.last())
            {
                return Some(self.text(first, last));
            }
        }
        None
    }

    /// One simple statement.
    fn simple(&mut self, s: &[Token<'a>], line: usize) {
        let Some(first) = s.first() else { return };
        self.order += 1;
        if first.kind == Kind::Name {
            match first.text {
                "import" => return self.import(&s[1..], line),
                "from" => return self.import_from(&s[1..], line),
                "global" => {
                    let function = self.blocks.iter().rev().find_map(|(_, b)| match b {
                        Block::Scope(i) if self.out.scopes[*i].kind == "function" => {
                            Some(self.out.scopes[*i].name.clone())
                        }
                        _ => None,
                    });
                    if let Some(function) = function {
                        for name in target_names(&s[1..]) {
                            let how = How::Global {
                                function: function.clone(),
                            };
                            self.bind(name, line, how);
                        }
                    }
                    return;
                }
                "del" => {
                    for name in target_names(&s[1..]) {
                        self.bind(name, line, How::Other("`del`"));
                    }
                    return;
                }
                "nonlocal" | "return" | "pass" | "raise" | "assert" | "break" | "continue"
                | "yield" | "await" => return,
                _ => {}
            }
        }
        if is_op(first, "@") {
            return;
        }
        self.assignment(s, line);
    }

    fn assignment(&mut self, s: &[Token<'a>], line: usize) {
        let d = depths(s);
        // `=` after a top-level `lambda` is a default argument, not an assignment.
        let end = (0..s.len())
            .find(|&i| d[i] == 0 && is_name(&s[i], "lambda"))
            .unwrap_or(s.len());
        let s_head = &s[..end];
        let augmented = (0..end).find(|&i| {
            d[i] == 0
                && s[i].kind == Kind::Op
                && s[i].text.len() >= 2
                && s[i].text.ends_with('=')
                && !matches!(s[i].text, "==" | "!=" | "<=" | ">=" | ":=")
        });
        let first_eq = (0..end).find(|&i| d[i] == 0 && is_op(&s[i], "="));
        if let Some(i) = augmented
            && first_eq.is_none_or(|e| i < e)
        {
            if let ([target], Some(first), Some(last)) = (&s[..i], s.get(i + 1), s.last())
                && target.kind == Kind::Name
            {
                let how = match s[i].text {
                    "+=" | "-=" => {
                        let op = &s[i].text[..1];
                        How::Assign(format!("{} {op} ({})", target.text, self.text(first, last)))
                    }
                    _ => How::Other("an augmented assignment"),
                };
                self.bind(target.text, line, how);
            }
            return;
        }
        if first_eq.is_none() {
            return;
        }
        let parts = split(s_head, |t| is_op(t, "="));
        let value_start = s_head.len() - parts.last().map_or(0, |p| p.len());
        let value = &s[value_start..];
        let (Some(first), Some(last)) = (value.first(), value.last()) else {
            return;
        };
        let text = self.text(first, last);
        for (n, target) in parts[..parts.len() - 1].iter().enumerate() {
            // `NAME: T = VALUE`: the annotation is no part of the target.
            let target = match split(target, |t| is_op(t, ":")).as_slice() {
                [name, _annotation] if n == 0 => *name,
                _ => target,
            };
            match target {
                [name] if name.kind == Kind::Name => {
                    self.bind(name.text, line, How::Assign(text.clone()));
                }
                _ if split(target, |t| is_op(t, ",")).len() > 1
                    || target
                        .first()
                        .is_some_and(|t| is_op(t, "(") || is_op(t, "[") || is_op(t, "*")) =>
                {
                    for name in target_names(target) {
                        self.bind(name, line, How::Other("unpacking"));
                    }
                }
                _ => {}
            }
        }
    }

    /// `import a.b, c as d`.
    fn import(&mut self, rest: &[Token<'a>], line: usize) {
        for item in split(rest, |t| is_op(t, ",")) {
            let module: String = item
                .iter()
                .take_while(|t| !is_name(t, "as"))
                .map(|t| t.text)
                .collect();
            let bound = match item.iter().position(|t| is_name(t, "as")) {
                Some(i) => item.get(i + 1).map(|t| t.text),
                None => item.first().map(|t| t.text),
            };
            if let Some(bound) = bound {
                self.bind(bound, line, How::Import { module, name: None });
            }
        }
    }

    /// `from m import a, b as c`, `from m import (a, b)`, `from m import *`.
    fn import_from(&mut self, rest: &[Token<'a>], line: usize) {
        let Some(i) = rest.iter().position(|t| is_name(t, "import")) else {
            return;
        };
        let module: String = rest[..i].iter().map(|t| t.text).collect();
        let names: Vec<Token<'a>> = rest[i + 1..]
            .iter()
            .filter(|t| !is_op(t, "(") && !is_op(t, ")"))
            .copied()
            .collect();
        if names.first().is_some_and(|t| is_op(t, "*")) {
            self.bind("*", line, How::StarImport { module });
            return;
        }
        for item in split(&names, |t| is_op(t, ",")) {
            let (Some(name), bound) = (item.first(), item.get(2)) else {
                continue;
            };
            let bound = match item.get(1) {
                Some(t) if is_name(t, "as") => bound.map_or(name.text, |b| b.text),
                _ => name.text,
            };
            let how = How::Import {
                module: module.clone(),
                name: Some(name.text.to_string()),
            };
            self.bind(bound, line, how);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    fn read(text: &str) -> ModuleBindings {
        let file = SourceFile::new(text, PythonVersion::new(3, 11)).unwrap();
        module_bindings(file.lines(), PythonVersion::new(3, 11))
    }

    fn of<'m>(m: &'m ModuleBindings, name: &str) -> Vec<&'m Binding> {
        m.bindings.iter().filter(|b| b.name == name).collect()
    }

    #[test]
    fn assignments_keep_their_value_text_and_line() {
        let m = read(
            "\"\"\"Docs.\nP = INPUTS\n\"\"\"\nfrom prefect.cache_policies import INPUTS as IN, TASK_SOURCE\n\
             P = (\n    INPUTS  # the inputs\n    + TASK_SOURCE\n) - \"x\"\nA = B = IN\nE: Policy = IN\n\
             F: Policy\nP += RUN_ID\nx.attr = P; C, D = P, P\nf = lambda p=P: p\n",
        );
        let p: Vec<(usize, &How)> = of(&m, "P").iter().map(|b| (b.line, &b.how)).collect();
        assert_eq!(
            p,
            [
                (
                    5,
                    &How::Assign(
                        "(\n    INPUTS  # the inputs\n    + TASK_SOURCE\n) - \"x\"".into()
                    )
                ),
                (12, &How::Assign("P + (RUN_ID)".into())),
            ]
        );
        for name in ["A", "B", "E"] {
            assert_eq!(of(&m, name)[0].how, How::Assign("IN".into()), "{name}");
        }
        assert_eq!(of(&m, "F").len(), 0, "an annotation alone binds nothing");
        assert_eq!(
            of(&m, "IN")[0].how,
            How::Import {
                module: "prefect.cache_policies".into(),
                name: Some("INPUTS".into())
            }
        );
        assert_eq!(of(&m, "C")[0].how, How::Other("unpacking"));
        assert_eq!(of(&m, "f")[0].how, How::Assign("lambda p=P: p".into()));
        assert_eq!(of(&m, "x").len(), 0);
        assert!(m.bindings.iter().all(|b| b.place == Place::Module));
    }

    #[test]
    fn blocks_say_where_a_binding_is() {
        let m = read(
            "import sys\nif sys.argv:\n    P = INPUTS\nelse:\n    from pols import P\n\
             with open('x') as fh:\n    Q = INPUTS\nclass Tasks:\n    P = TASK_SOURCE\n\
             \n    def run(self):\n        global P\n        P = RUN_ID\n\ndef f(): P = 1\nR = 2\n",
        );
        let places: Vec<(usize, &Place)> = of(&m, "P").iter().map(|b| (b.line, &b.place)).collect();
        let conditional = |keyword: &str, line| Place::Conditional {
            keyword: keyword.into(),
            line,
        };
        assert_eq!(places[0], (3, &conditional("if", 2)));
        assert_eq!(places[1], (5, &conditional("else", 4)));
        assert_eq!(places[2], (9, &Place::Scope(0)));
        assert_eq!(
            of(&m, "P")[3].how,
            How::Global {
                function: "run".into()
            }
        );
        assert_eq!(of(&m, "Q")[0].place, Place::Module, "a `with` body runs");
        assert_eq!(of(&m, "fh")[0].how, How::Other("`with ... as`"));
        let scopes: Vec<(&str, usize, usize)> = m
            .scopes
            .iter()
            .map(|s| (s.name.as_str(), s.first_line, s.last_line))
            .collect();
        assert_eq!(scopes, [("Tasks", 8, 13), ("run", 11, 13), ("f", 15, 15)]);
        assert_eq!(of(&m, "R")[0].place, Place::Module);
        assert_eq!(of(&m, "Tasks")[0].how, How::Class);
    }

    #[test]
    fn with_options_calls_are_found() {
        let m = read(
            "def flow():\n    t.with_options(\n        retries=1,\n        cache_policy=P - 'x',\n    )()\n",
        );
        assert_eq!(
            m.with_options,
            [WithOptions {
                line: 2,
                expr: "P - 'x'".into()
            }]
        );
    }
}
