//! A Python tokenizer that produces the token stream `inspect.BlockFinder` sees.
//!
//! It is not a general tokenizer: operators and numbers are only split finely enough to keep
//! the structure right. What it gets exactly right is what decides where a block ends: which
//! line ends a logical line (NEWLINE) and which does not (NL), strings of every kind including
//! triple-quoted and f-strings, comments, bracket depth, backslash continuations, INDENT and
//! DEDENT with Python's tab rule (a tab advances to the next multiple of 8, a form feed resets
//! the column) and the errors that stop tokenizing.
//!
//! Two flavours, because `tokenize` changed under `inspect` in 3.12:
//! - up to 3.11 `tokenize` is pure Python: a closing bracket with none open makes the depth
//!   negative, an unterminated single-quoted string is an ERRORTOKEN and tokenizing goes on,
//!   and f-strings are plain strings;
//! - from 3.12 it wraps the C tokenizer: the depth never drops below zero, bad input raises,
//!   f-strings nest (PEP 701), and mixing tabs and spaces inconsistently is a TabError.
//!
//! Lines are those of `linecache`: every line ends with `\n` and contains no `\r`.

use std::collections::VecDeque;

/// A window on lines that all end with `\n`: byte spans into one text, so that slicing
/// from a line on costs nothing.
#[derive(Debug, Clone, Copy)]
pub struct Lines<'a> {
    text: &'a str,
    spans: &'a [(usize, usize)],
}

impl<'a> Lines<'a> {
    /// `spans` are `(start, end)` byte ranges of `text`, each ending just after a `\n`.
    pub fn new(text: &'a str, spans: &'a [(usize, usize)]) -> Self {
        Lines { text, spans }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Line `i` (0-based), with its `\n`.
    pub fn get(&self, i: usize) -> &'a str {
        let (a, b) = self.spans[i];
        &self.text[a..b]
    }

    /// The lines from `start` on.
    pub fn from(&self, start: usize) -> Lines<'a> {
        Lines {
            text: self.text,
            spans: &self.spans[start..],
        }
    }

    /// The text of lines `start..end`, joined.
    pub fn join(&self, start: usize, end: usize) -> &'a str {
        &self.text[self.spans[start].0..self.spans[end - 1].1]
    }
}

/// Token types, named as in the `token` module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Name,
    Number,
    String,
    Op,
    Newline,
    Nl,
    Comment,
    Indent,
    Dedent,
    EndMarker,
    ErrorToken,
}

/// One token. Rows are 0-based indexes into the [`Lines`] given to the tokenizer; columns are
/// byte offsets into the line (see [`Token::char_col`] for the character column Python uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: Kind,
    /// The token's text when it lies on one line; for a string spanning lines, its first part.
    pub text: &'a str,
    pub row: usize,
    pub col: usize,
    pub end_row: usize,
    pub end_col: usize,
}

impl Token<'_> {
    /// The start column in characters, as `tokenize` reports it.
    pub fn char_col(&self, lines: &Lines<'_>) -> usize {
        lines.get(self.row)[..self.col].chars().count()
    }

    /// The end column in characters.
    pub fn end_char_col(&self, lines: &Lines<'_>) -> usize {
        lines.get(self.end_row)[..self.end_col].chars().count()
    }
}

/// Why tokenizing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    /// 0-based row where the error was found.
    pub row: usize,
    pub message: String,
    /// IndentationError (including TabError), which `inspect.getblock` catches; any other
    /// error propagates out of `inspect.getsource`.
    pub indentation: bool,
}

/// Characters an identifier may contain. Anything outside ASCII is let through: in code that
/// compiles, a non-ASCII character outside strings and comments is part of an identifier.
fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

/// String prefix flags: raw, f-string; `None` if `ident` is not a string prefix.
fn string_prefix(ident: &str) -> Option<(bool, bool)> {
    if ident.len() > 2 {
        return None;
    }
    let lower = ident.to_ascii_lowercase();
    match lower.as_str() {
        "r" => Some((true, false)),
        "u" | "b" => Some((false, false)),
        "f" => Some((false, true)),
        "br" | "rb" => Some((true, false)),
        "fr" | "rf" => Some((true, true)),
        _ => None,
    }
}

const OPS3: [&str; 5] = ["**=", "//=", ">>=", "<<=", "..."];
const OPS2: [&str; 19] = [
    "**", "//", ">>", "<<", "<=", ">=", "==", "!=", "->", ":=", "+=", "-=", "*=", "/=", "%=", "&=",
    "|=", "^=", "@=",
];
const OPS1: &[u8] = b"+-*/%&|^~<>=()[]{},:;.@";

/// How a string scan ended when it did not find the closing quote.
enum Unclosed {
    /// A single-quoted string reached the end of its line.
    Line,
    /// The input ended inside the string.
    Eof,
}

/// The tokenizer. Iterate it for tokens; it stops after ENDMARKER or the first error.
pub struct Tokenizer<'a> {
    lines: Lines<'a>,
    c_tokenizer: bool,
    row: usize,
    pos: usize,
    at_line_start: bool,
    parenlev: i32,
    continued: bool,
    /// Indentation stack: (column with tabs to 8, column with tabs to 1).
    indents: Vec<(usize, usize)>,
    queue: VecDeque<Token<'a>>,
    finished: bool,
}

impl<'a> Tokenizer<'a> {
    /// A tokenizer over `lines` as `tokenize.generate_tokens` would run over them:
    /// `c_tokenizer` selects the 3.12+ flavour.
    pub fn new(lines: Lines<'a>, c_tokenizer: bool) -> Self {
        Tokenizer {
            lines,
            c_tokenizer,
            row: 0,
            pos: 0,
            at_line_start: true,
            parenlev: 0,
            continued: false,
            indents: vec![(0, 0)],
            queue: VecDeque::new(),
            finished: false,
        }
    }

    fn line(&self) -> &'a str {
        self.lines.get(self.row)
    }

    fn tok(&self, kind: Kind, row: usize, col: usize, end_row: usize, end_col: usize) -> Token<'a> {
        let text = if row == end_row {
            &self.lines.get(row)[col..end_col]
        } else {
            &self.lines.get(row)[col..]
        };
        Token {
            kind,
            text,
            row,
            col,
            end_row,
            end_col,
        }
    }

    fn fail(&mut self, message: impl Into<String>, indentation: bool) -> ScanError {
        self.finished = true;
        ScanError {
            row: self.row,
            message: message.into(),
            indentation,
        }
    }

    fn next_line(&mut self) {
        self.row += 1;
        self.pos = 0;
        self.at_line_start = true;
    }

    /// Start-of-line work: EOF, blank and comment lines, INDENT and DEDENT.
    /// Returns `Ok(true)` when tokens were queued that end this line's processing.
    fn start_line(&mut self) -> Result<(), ScanError> {
        self.at_line_start = false;
        self.pos = 0;
        if self.row >= self.lines.len() {
            if self.parenlev != 0 || self.continued {
                return Err(self.fail("EOF in multi-line statement", false));
            }
            for _ in 1..self.indents.len() {
                self.queue.push_back(Token {
                    kind: Kind::Dedent,
                    text: "",
                    row: self.row,
                    col: 0,
                    end_row: self.row,
                    end_col: 0,
                });
            }
            self.queue.push_back(Token {
                kind: Kind::EndMarker,
                text: "",
                row: self.row,
                col: 0,
                end_row: self.row,
                end_col: 0,
            });
            self.finished = true;
            return Ok(());
        }
        if self.parenlev != 0 || self.continued {
            // A continuation line: no indentation processing.
            self.continued = false;
            return Ok(());
        }
        let line = self.line().as_bytes();
        let (mut col, mut altcol, mut pos) = (0usize, 0usize, 0usize);
        while pos < line.len() {
            match line[pos] {
                b' ' => {
                    col += 1;
                    altcol += 1;
                }
                b'\t' => {
                    col = (col / 8 + 1) * 8;
                    altcol += 1;
                }
                b'\x0c' => {
                    col = 0;
                    altcol = 0;
                }
                _ => break,
            }
            pos += 1;
        }
        self.pos = pos;
        let c = line.get(pos).copied().unwrap_or(b'\n');
        if c == b'#' || c == b'\n' {
            // Blank and comment-only lines leave indentation alone: COMMENT (if any) and NL.
            let row = self.row;
            let end = line.len() - 1;
            if c == b'#' {
                self.queue
                    .push_back(self.tok(Kind::Comment, row, pos, row, end));
            }
            self.queue
                .push_back(self.tok(Kind::Nl, row, end, row, end + 1));
            self.next_line();
            return Ok(());
        }
        let (top, alttop) = *self.indents.last().unwrap_or(&(0, 0));
        if col > top {
            if self.c_tokenizer && altcol <= alttop {
                return Err(self.fail("inconsistent use of tabs and spaces in indentation", true));
            }
            self.indents.push((col, altcol));
            let row = self.row;
            self.queue
                .push_back(self.tok(Kind::Indent, row, 0, row, pos));
        } else if col == top {
            if self.c_tokenizer && altcol != alttop {
                return Err(self.fail("inconsistent use of tabs and spaces in indentation", true));
            }
        } else {
            if !self.indents.iter().any(|&(c, _)| c == col) {
                return Err(self.fail("unindent does not match any outer indentation level", true));
            }
            let mut n = 0;
            while self.indents.last().is_some_and(|&(c, _)| col < c) {
                self.indents.pop();
                n += 1;
            }
            if self.c_tokenizer && self.indents.last().is_some_and(|&(_, a)| a != altcol) {
                return Err(self.fail("inconsistent use of tabs and spaces in indentation", true));
            }
            let row = self.row;
            for _ in 0..n {
                self.queue
                    .push_back(self.tok(Kind::Dedent, row, pos, row, pos));
            }
        }
        Ok(())
    }

    /// One token from the middle of a line (after start-of-line work), or `None` when the
    /// scan moved on to another line without producing one.
    fn scan_token(&mut self) -> Result<Option<Token<'a>>, ScanError> {
        let line = self.line().as_bytes();
        while matches!(line.get(self.pos), Some(b' ' | b'\t' | b'\x0c')) {
            self.pos += 1;
        }
        let row = self.row;
        let start = self.pos;
        let Some(&c) = line.get(start) else {
            self.next_line();
            return Ok(None);
        };
        match c {
            b'\n' => {
                let kind = if self.parenlev > 0 {
                    Kind::Nl
                } else {
                    Kind::Newline
                };
                let t = self.tok(kind, row, start, row, start + 1);
                self.next_line();
                Ok(Some(t))
            }
            b'#' => {
                let end = line.len() - 1;
                self.pos = end;
                Ok(Some(self.tok(Kind::Comment, row, start, row, end)))
            }
            b'\\' => {
                if line.get(start + 1) == Some(&b'\n') {
                    self.continued = true;
                    self.next_line();
                    return Ok(None);
                }
                if self.c_tokenizer {
                    return Err(self.fail(
                        "unexpected character after line continuation character",
                        false,
                    ));
                }
                self.pos += 1;
                Ok(Some(self.tok(Kind::ErrorToken, row, start, row, start + 1)))
            }
            b'\'' | b'"' => self.scan_string(start, start, false, false),
            b'0'..=b'9' => Ok(Some(self.scan_number(start))),
            b'.' if line.get(start + 1).is_some_and(u8::is_ascii_digit) => {
                Ok(Some(self.scan_number(start)))
            }
            c if is_ident_start(c) => {
                let mut end = start;
                while line.get(end).is_some_and(|&b| is_ident_byte(b)) {
                    end += 1;
                }
                if matches!(line.get(end), Some(b'\'' | b'"'))
                    && let Some((raw, fstring)) = string_prefix(&self.line()[start..end])
                {
                    return self.scan_string(start, end, raw, fstring);
                }
                self.pos = end;
                Ok(Some(self.tok(Kind::Name, row, start, row, end)))
            }
            _ => self.scan_op(start),
        }
    }

    fn scan_number(&mut self, start: usize) -> Token<'a> {
        let line = self.line().as_bytes();
        let mut end = start;
        while line
            .get(end)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            end += 1;
        }
        self.pos = end;
        self.tok(Kind::Number, self.row, start, self.row, end)
    }

    fn scan_op(&mut self, start: usize) -> Result<Option<Token<'a>>, ScanError> {
        let rest = &self.line()[start..];
        let len = if OPS3.iter().any(|o| rest.starts_with(o)) {
            3
        } else if OPS2.iter().any(|o| rest.starts_with(o)) {
            2
        } else if OPS1.contains(&rest.as_bytes()[0]) || (self.c_tokenizer && rest.starts_with('!'))
        {
            1
        } else {
            // `$`, `?`, a backtick, a lone `!` before 3.12 ...
            if self.c_tokenizer {
                let ch = rest.chars().next().unwrap_or(' ');
                return Err(self.fail(format!("invalid character {ch:?}"), false));
            }
            let n = rest.chars().next().map_or(1, char::len_utf8);
            self.pos = start + n;
            return Ok(Some(self.tok(
                Kind::ErrorToken,
                self.row,
                start,
                self.row,
                start + n,
            )));
        };
        match rest.as_bytes()[0] {
            b'(' | b'[' | b'{' => self.parenlev += 1,
            // The C tokenizer (in tokenize's mode) ignores a closer with nothing open; the
            // pure one lets the depth go negative, which turns every later line into a
            // continuation line.
            b')' | b']' | b'}' if len == 1 && (!self.c_tokenizer || self.parenlev > 0) => {
                self.parenlev -= 1
            }
            _ => {}
        }
        self.pos = start + len;
        Ok(Some(self.tok(
            Kind::Op,
            self.row,
            start,
            self.row,
            start + len,
        )))
    }

    /// A string whose prefix starts at `start` and whose first quote is at `quote_at`.
    fn scan_string(
        &mut self,
        start: usize,
        quote_at: usize,
        raw: bool,
        fstring: bool,
    ) -> Result<Option<Token<'a>>, ScanError> {
        let row = self.row;
        let line = self.line().as_bytes();
        let q = line[quote_at];
        let triple = line.get(quote_at + 1) == Some(&q) && line.get(quote_at + 2) == Some(&q);
        let (mut r, mut p) = (row, quote_at + if triple { 3 } else { 1 });
        let result = if fstring && self.c_tokenizer {
            self.scan_fstring_body(&mut r, &mut p, q, triple, raw)
        } else {
            self.scan_plain_body(&mut r, &mut p, q, triple)
        };
        match result {
            Ok(()) => {
                self.row = r;
                self.pos = p;
                Ok(Some(self.tok(Kind::String, row, start, r, p)))
            }
            Err(Unclosed::Eof) if !self.c_tokenizer && !triple && r > row => {
                // A backslash-continued single-quoted string that runs off the end.
                self.row = r;
                Err(self.fail("EOF in multi-line string", false))
            }
            Err(Unclosed::Eof) => Err(self.fail(
                if triple {
                    "EOF in multi-line string"
                } else {
                    "unterminated string literal"
                },
                false,
            )),
            Err(Unclosed::Line) if self.c_tokenizer => {
                self.row = r;
                Err(self.fail("unterminated string literal", false))
            }
            Err(Unclosed::Line) if r > row => {
                // Pure tokenize: a continued string whose next line neither closes it nor
                // continues it is one ERRORTOKEN up to that line's end; tokenizing resumes on
                // the line after, as a fresh line.
                let t = self.tok(Kind::ErrorToken, row, start, r, self.lines.get(r).len());
                self.row = r;
                self.next_line();
                Ok(Some(t))
            }
            Err(Unclosed::Line) => {
                // Pure tokenize: no pattern matches an unterminated quote, so the prefix is a
                // NAME, the quote an ERRORTOKEN, and the rest of the line is tokenized as code.
                if quote_at > start {
                    self.queue.push_back(self.tok(
                        Kind::ErrorToken,
                        row,
                        quote_at,
                        row,
                        quote_at + 1,
                    ));
                    self.pos = quote_at + 1;
                    return Ok(Some(self.tok(Kind::Name, row, start, row, quote_at)));
                }
                self.pos = quote_at + 1;
                Ok(Some(self.tok(
                    Kind::ErrorToken,
                    row,
                    start,
                    row,
                    quote_at + 1,
                )))
            }
        }
    }

    /// Moves `(r, p)` past the closing quote of a string that is not a 3.12 f-string.
    /// A backslash escapes the next character (in raw strings too, lexically).
    fn scan_plain_body(
        &self,
        r: &mut usize,
        p: &mut usize,
        q: u8,
        triple: bool,
    ) -> Result<(), Unclosed> {
        loop {
            if *r >= self.lines.len() {
                return Err(Unclosed::Eof);
            }
            let line = self.lines.get(*r).as_bytes();
            match line.get(*p).copied().unwrap_or(b'\n') {
                b'\\' => {
                    if line.get(*p + 1).is_none_or(|&b| b == b'\n') {
                        // Backslash-newline continues any string onto the next line.
                        *r += 1;
                        *p = 0;
                        if !triple
                            && !self.c_tokenizer
                            && *r < self.lines.len()
                            && !self.continuation_closes(*r, q)
                        {
                            return self.legacy_continuation(r, p, q);
                        }
                    } else {
                        *p += 2;
                    }
                }
                b'\n' => {
                    if !triple {
                        return Err(Unclosed::Line);
                    }
                    *r += 1;
                    *p = 0;
                }
                b if b == q => {
                    if !triple {
                        *p += 1;
                        return Ok(());
                    }
                    if line.get(*p + 1) == Some(&q) && line.get(*p + 2) == Some(&q) {
                        *p += 3;
                        return Ok(());
                    }
                    *p += 1;
                }
                _ => *p += 1,
            }
        }
    }

    /// Whether continuation line `r` of a single-quoted string closes it.
    fn continuation_closes(&self, r: usize, q: u8) -> bool {
        let line = self.lines.get(r).as_bytes();
        let mut i = 0;
        while i < line.len() {
            match line[i] {
                b'\\' => i += 2,
                b'\n' => return false,
                b if b == q => return true,
                _ => i += 1,
            }
        }
        false
    }

    /// Pure tokenize on a continued single-quoted string whose line `r` does not close it:
    /// it goes on only if the line ends with backslash-newline (checked literally).
    fn legacy_continuation(&self, r: &mut usize, p: &mut usize, q: u8) -> Result<(), Unclosed> {
        loop {
            if *r >= self.lines.len() {
                return Err(Unclosed::Eof);
            }
            if self.continuation_closes(*r, q) {
                *p = 0;
                return self.scan_plain_body(r, p, q, false);
            }
            if !self.lines.get(*r).ends_with("\\\n") {
                return Err(Unclosed::Line);
            }
            *r += 1;
        }
    }

    /// Moves `(r, p)` past the end of a 3.12+ f-string, following replacement fields, nested
    /// strings (which may reuse the same quote), format specs and `\N{...}` escapes.
    fn scan_fstring_body(
        &self,
        r: &mut usize,
        p: &mut usize,
        q: u8,
        triple: bool,
        raw: bool,
    ) -> Result<(), Unclosed> {
        loop {
            if *r >= self.lines.len() {
                return Err(Unclosed::Eof);
            }
            let line = self.lines.get(*r).as_bytes();
            let c = line.get(*p).copied().unwrap_or(b'\n');
            let next = line.get(*p + 1).copied();
            match c {
                b'\\' => match next {
                    // A backslash before a brace leaves the brace to be a brace.
                    Some(b'{' | b'}') => *p += 1,
                    Some(b'N') if !raw && line.get(*p + 2) == Some(&b'{') => {
                        *p += 3;
                        while *p < line.len() && line[*p] != b'}' && line[*p] != b'\n' {
                            *p += 1;
                        }
                        if line.get(*p) == Some(&b'}') {
                            *p += 1;
                        }
                    }
                    None | Some(b'\n') => {
                        *r += 1;
                        *p = 0;
                    }
                    Some(_) => *p += 2,
                },
                b'\n' => {
                    if !triple {
                        return Err(Unclosed::Line);
                    }
                    *r += 1;
                    *p = 0;
                }
                b'{' if next == Some(b'{') => *p += 2,
                b'}' if next == Some(b'}') => *p += 2,
                b'{' => {
                    *p += 1;
                    self.scan_fstring_field(r, p, q, triple, raw)?;
                }
                b if b == q => {
                    if !triple {
                        *p += 1;
                        return Ok(());
                    }
                    if next == Some(q) && line.get(*p + 2) == Some(&q) {
                        *p += 3;
                        return Ok(());
                    }
                    *p += 1;
                }
                _ => *p += 1,
            }
        }
    }

    /// After the `{` of a replacement field: the expression, then an optional format spec,
    /// up to and past the closing `}`.
    fn scan_fstring_field(
        &self,
        r: &mut usize,
        p: &mut usize,
        q: u8,
        triple: bool,
        raw: bool,
    ) -> Result<(), Unclosed> {
        let mut depth = 0usize;
        loop {
            if *r >= self.lines.len() {
                return Err(Unclosed::Eof);
            }
            let line = self.lines.get(*r).as_bytes();
            let c = line.get(*p).copied().unwrap_or(b'\n');
            match c {
                b'\n' => {
                    *r += 1;
                    *p = 0;
                }
                b'#' => *p = line.len() - 1,
                b'\\' if line.get(*p + 1).is_none_or(|&b| b == b'\n') => {
                    *r += 1;
                    *p = 0;
                }
                b'\'' | b'"' => {
                    let quote_at = *p;
                    self.nested_string(r, p, quote_at, false, false)?;
                }
                c if is_ident_start(c) => {
                    let start = *p;
                    while line.get(*p).is_some_and(|&b| is_ident_byte(b)) {
                        *p += 1;
                    }
                    if matches!(line.get(*p), Some(b'\'' | b'"'))
                        && let Some((raw2, f2)) =
                            string_prefix(std::str::from_utf8(&line[start..*p]).unwrap_or(""))
                    {
                        let quote_at = *p;
                        self.nested_string(r, p, quote_at, raw2, f2)?;
                    }
                }
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    *p += 1;
                }
                b')' | b']' => {
                    depth = depth.saturating_sub(1);
                    *p += 1;
                }
                b'}' => {
                    *p += 1;
                    if depth == 0 {
                        return Ok(());
                    }
                    depth -= 1;
                }
                b'!' if line.get(*p + 1) == Some(&b'=') => *p += 2,
                b':' if depth == 0 => {
                    *p += 1;
                    return self.scan_format_spec(r, p, q, triple, raw);
                }
                _ => *p += 1,
            }
        }
    }

    /// A string inside a replacement field, starting at the quote at `quote_at`.
    fn nested_string(
        &self,
        r: &mut usize,
        p: &mut usize,
        quote_at: usize,
        raw: bool,
        f: bool,
    ) -> Result<(), Unclosed> {
        let line = self.lines.get(*r).as_bytes();
        let q = line[quote_at];
        let triple = line.get(quote_at + 1) == Some(&q) && line.get(quote_at + 2) == Some(&q);
        *p = quote_at + if triple { 3 } else { 1 };
        if f {
            self.scan_fstring_body(r, p, q, triple, raw)
        } else {
            self.scan_plain_body(r, p, q, triple)
        }
    }

    /// After the `:` of a replacement field: literal text with nested fields, up to and past
    /// the field's closing `}`.
    fn scan_format_spec(
        &self,
        r: &mut usize,
        p: &mut usize,
        q: u8,
        triple: bool,
        raw: bool,
    ) -> Result<(), Unclosed> {
        loop {
            if *r >= self.lines.len() {
                return Err(Unclosed::Eof);
            }
            let line = self.lines.get(*r).as_bytes();
            match line.get(*p).copied().unwrap_or(b'\n') {
                b'\n' => {
                    if !triple {
                        return Err(Unclosed::Line);
                    }
                    *r += 1;
                    *p = 0;
                }
                b'\\' if !matches!(line.get(*p + 1), Some(b'{' | b'}')) => *p += 2,
                b'{' => {
                    *p += 1;
                    self.scan_fstring_field(r, p, q, triple, raw)?;
                }
                b'}' => {
                    *p += 1;
                    return Ok(());
                }
                _ => *p += 1,
            }
        }
    }
}

impl<'a> Iterator for Tokenizer<'a> {
    type Item = Result<Token<'a>, ScanError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(t) = self.queue.pop_front() {
                return Some(Ok(t));
            }
            if self.finished {
                return None;
            }
            if self.at_line_start {
                if let Err(e) = self.start_line() {
                    return Some(Err(e));
                }
                continue;
            }
            match self.scan_token() {
                Ok(Some(t)) => return Some(Ok(t)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        let mut s = 0;
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                v.push((s, i + 1));
                s = i + 1;
            }
        }
        v
    }

    /// Tokens as "KIND text@row" strings, the error (if any) last.
    fn toks(text: &str, c: bool) -> Vec<String> {
        let sp = spans(text);
        let lines = Lines::new(text, &sp);
        let mut out = Vec::new();
        for t in Tokenizer::new(lines, c) {
            match t {
                Ok(t) => out.push(format!(
                    "{:?} {}@{}",
                    t.kind,
                    t.text.trim_end_matches('\n'),
                    t.row
                )),
                Err(e) => out.push(format!("ERR {}@{} {}", e.message, e.row, e.indentation)),
            }
        }
        out
    }

    #[test]
    fn logical_lines_indent_and_dedent() {
        let got = toks("def f(a,\n      b):\n    return a  # c\n\n# x\nz\n", false);
        let want = [
            "Name def@0",
            "Name f@0",
            "Op (@0",
            "Name a@0",
            "Op ,@0",
            "Nl @0",
            "Name b@1",
            "Op )@1",
            "Op :@1",
            "Newline @1",
            "Indent     @2",
            "Name return@2",
            "Name a@2",
            "Comment # c@2",
            "Newline @2",
            "Nl @3",
            "Comment # x@4",
            "Nl @4",
            "Dedent @5",
            "Name z@5",
            "Newline @5",
            "EndMarker @6",
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn strings_hide_structure() {
        let got = toks(
            "x = '''a\ndef g():\n  # no'''\ny = 'it''s' \"#\" r'\\'' b\"\\\\\"\n",
            true,
        );
        assert_eq!(got[2], "String '''a@0");
        assert_eq!(got[3], "Newline @2");
        assert_eq!(got.len(), 13, "{got:?}");
    }

    #[test]
    fn backslash_continuation_is_not_a_newline() {
        let got = toks("x = 1 + \\\n  2\n", false);
        assert_eq!(
            got,
            [
                "Name x@0",
                "Op =@0",
                "Number 1@0",
                "Op +@0",
                "Number 2@1",
                "Newline @1",
                "EndMarker @2"
            ]
        );
    }

    #[test]
    fn fstrings_nest_from_312() {
        let src = "x = f\"{d[\"k\"]:{w}} }}\" # c\n";
        assert_eq!(
            toks(src, true),
            [
                "Name x@0",
                "Op =@0",
                "String f\"{d[\"k\"]:{w}} }}\"@0",
                "Comment # c@0",
                "Newline @0",
                "EndMarker @1"
            ]
        );
        // Before 3.12 a quote inside the braces ends the string.
        let src = "x = f\"{'\"'}\"\n";
        assert_eq!(toks(src, true)[2], "String f\"{'\"'}\"@0");
        assert!(
            toks(src, false).iter().any(|t| t.starts_with("ErrorToken")),
            "{:?}",
            toks(src, false)
        );
    }

    #[test]
    fn unmatched_closer_differs_between_flavours() {
        let src = "    a\n)\n\nb\n";
        let pure = toks(src, false);
        assert_eq!(
            pure[pure.len() - 1],
            "ERR EOF in multi-line statement@4 false"
        );
        assert!(pure.contains(&"Newline @2".to_string()));
        let c = toks(src, true);
        assert_eq!(c[c.len() - 1], "EndMarker @4");
        assert!(c.contains(&"Nl @2".to_string()));
    }

    #[test]
    fn tabs_count_to_eight_and_form_feed_resets() {
        let got = toks("if x:\n\ty\n        z\n\x0c\tw\n", false);
        assert_eq!(got.iter().filter(|t| t.starts_with("Indent")).count(), 1);
        assert_eq!(got.iter().filter(|t| t.starts_with("Dedent")).count(), 1);
        let bad = toks("if x:\n\ty\n  z\n", false);
        assert!(bad.last().unwrap().starts_with("ERR unindent"), "{bad:?}");
        let tab_err = toks("if x:\n\ty\n        z\n", true);
        assert!(
            tab_err.last().unwrap().starts_with("ERR inconsistent"),
            "{tab_err:?}"
        );
    }

    #[test]
    fn unterminated_strings() {
        assert!(toks("x = 'abc\ny\n", false).contains(&"ErrorToken '@0".to_string()));
        assert_eq!(
            toks("x = 'abc\ny\n", true).last().unwrap(),
            "ERR unterminated string literal@0 false"
        );
        assert_eq!(
            toks("x = '''abc\ny\n", false).last().unwrap(),
            "ERR EOF in multi-line string@0 false"
        );
    }
}
