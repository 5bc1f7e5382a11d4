//! Is a source edit cosmetic? Prefect's `TaskSource` hashes the function's text, so a comment,
//! a blank line or a docstring changes the key as surely as code does; telling the user which
//! it was is the point of the explanation.
//!
//! Both versions are tokenized with the scanner that `inspect.getsource` emulation uses. The
//! code is the token stream without comments, blank-line NL tokens and the docstring, with
//! indentation by kind only; if A's and B's code are equal, the edit was cosmetic, and each
//! changed line says which kind (comment, blank, docstring, whitespace). Decorator lines are
//! compared apart: a decorator edit is code for Prefect (the decorator is part of the hashed
//! text, and it is where the cache policy is set), reported as `decorator`.

use std::ops::Range;

use crate::source::scan::{Kind, Lines, Token, Tokenizer};

/// cosmetic or code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classification {
    Cosmetic,
    Code,
}

impl Classification {
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Cosmetic => "cosmetic",
            Classification::Code => "code",
        }
    }
}

/// What kind of edit a source change was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditKind {
    pub classification: Classification,
    /// Among "comment", "blank", "docstring", "whitespace", "decorator", in that order.
    pub kinds: Vec<&'static str>,
}

const ORDER: [&str; 5] = ["comment", "blank", "docstring", "whitespace", "decorator"];

/// What one line of a function is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    Blank,
    Comment,
    Docstring,
    /// A line before the `def`: a decorator (or its continuation).
    Decorator {
        has_comment: bool,
    },
    Code {
        has_comment: bool,
    },
}

struct Analysis {
    decorator: Vec<String>,
    body: Vec<String>,
    lines: Vec<LineKind>,
}

fn spans(text: &str) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            v.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < text.len() {
        v.push((start, text.len()));
    }
    v
}

/// The whole text of a token, also of a string that spans lines.
fn full_text(t: &Token, lines: &Lines) -> String {
    if t.row == t.end_row {
        return t.text.to_string();
    }
    let mut s = lines.get(t.row)[t.col..].to_string();
    for r in t.row + 1..t.end_row {
        s.push_str(lines.get(r));
    }
    s.push_str(&lines.get(t.end_row)[..t.end_col]);
    s
}

fn analyse(text: &str) -> Option<Analysis> {
    let mut owned = text.to_string();
    if !owned.ends_with('\n') {
        owned.push('\n');
    }
    let sp = spans(&owned);
    let lines = Lines::new(&owned, &sp);
    let tokens: Vec<Token> = Tokenizer::new(lines, false)
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    // The `def` that starts the function: the first `def` at bracket depth 0.
    let mut depth = 0i32;
    let mut def_at = None;
    for (i, t) in tokens.iter().enumerate() {
        match (t.kind, t.text) {
            (Kind::Op, "(" | "[" | "{") => depth += 1,
            (Kind::Op, ")" | "]" | "}") => depth -= 1,
            (Kind::Name, "def") if depth == 0 => {
                def_at = Some(i);
                break;
            }
            _ => {}
        }
    }
    let def_at = def_at?;
    let def_start = if def_at > 0 && tokens[def_at - 1].text == "async" {
        def_at - 1
    } else {
        def_at
    };
    let def_row = tokens[def_start].row;
    // The docstring: the first statement of the body, when it is a lone string.
    let mut docstring: Option<(usize, usize, usize)> = None; // (token index, first row, last row)
    let mut depth = 0i32;
    for i in def_at..tokens.len() {
        let t = &tokens[i];
        match (t.kind, t.text) {
            (Kind::Op, "(" | "[" | "{") => depth += 1,
            (Kind::Op, ")" | "]" | "}") => depth -= 1,
            (Kind::Op, ":") if depth == 0 => {
                let rest: Vec<(usize, &Token)> = tokens[i + 1..]
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| !matches!(t.kind, Kind::Comment | Kind::Nl))
                    .map(|(j, t)| (i + 1 + j, t))
                    .collect();
                let mut k = 0;
                while k < rest.len() && matches!(rest[k].1.kind, Kind::Newline | Kind::Indent) {
                    k += 1;
                }
                if let (Some((j, s)), Some((_, after))) = (rest.get(k), rest.get(k + 1))
                    && s.kind == Kind::String
                    && matches!(after.kind, Kind::Newline | Kind::EndMarker | Kind::Dedent)
                {
                    docstring = Some((*j, s.row, s.end_row));
                }
                break;
            }
            _ => {}
        }
    }
    let mut decorator = Vec::new();
    let mut body = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if matches!(t.kind, Kind::Comment | Kind::Nl | Kind::EndMarker)
            || docstring.is_some_and(|(d, _, _)| d == i)
        {
            continue;
        }
        let text = match t.kind {
            // Indentation by kind only: re-indenting a whole function is whitespace.
            Kind::Indent | Kind::Dedent | Kind::Newline => format!("{:?}", t.kind),
            _ => format!("{:?} {}", t.kind, full_text(t, &lines)),
        };
        if i < def_start {
            decorator.push(text);
        } else {
            body.push(text);
        }
    }
    // A docstring's closing NEWLINE goes with it: adding or removing a docstring is cosmetic.
    if let Some((d, _, _)) = docstring
        && tokens.get(d + 1).is_some_and(|t| t.kind == Kind::Newline)
        && let Some(pos) = body_position(&tokens, def_start, d + 1, docstring)
    {
        body.remove(pos);
    }
    let mut kinds = Vec::with_capacity(lines.len());
    for r in 0..lines.len() {
        let on_row: Vec<&Token> = tokens
            .iter()
            .filter(|t| t.row == r && !matches!(t.kind, Kind::Indent | Kind::Dedent))
            .collect();
        let has_comment = on_row.iter().any(|t| t.kind == Kind::Comment);
        let kind = if docstring.is_some_and(|(_, a, b)| (a..=b).contains(&r)) {
            LineKind::Docstring
        } else if lines.get(r).trim().is_empty() {
            LineKind::Blank
        } else if on_row
            .iter()
            .all(|t| matches!(t.kind, Kind::Comment | Kind::Nl))
            && has_comment
        {
            LineKind::Comment
        } else if r < def_row {
            LineKind::Decorator { has_comment }
        } else {
            LineKind::Code { has_comment }
        };
        kinds.push(kind);
    }
    Some(Analysis {
        decorator,
        body,
        lines: kinds,
    })
}

/// Where token `target` landed in the body list (which skips comments, NLs and the docstring).
fn body_position(
    tokens: &[Token],
    def_start: usize,
    target: usize,
    docstring: Option<(usize, usize, usize)>,
) -> Option<usize> {
    let mut pos = 0;
    for (i, t) in tokens.iter().enumerate().skip(def_start) {
        if matches!(t.kind, Kind::Comment | Kind::Nl | Kind::EndMarker)
            || docstring.is_some_and(|(d, _, _)| d == i)
        {
            continue;
        }
        if i == target {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

/// One change of a diff: the 0-based lines of `a` it removes and of `b` it adds.
pub type Hunk = (Range<usize>, Range<usize>);

/// Classifies an edit from `a` to `b`, given the diff's changes.
pub fn classify(a: &str, b: &str, changes: &[Hunk]) -> EditKind {
    let (Some(aa), Some(bb)) = (analyse(a), analyse(b)) else {
        return by_lines(a, b, changes);
    };
    let body_same = aa.body == bb.body;
    let decorator_same = aa.decorator == bb.decorator;
    let mut kinds = Vec::new();
    for (ra, rb) in changes {
        let lines: Vec<LineKind> = ra
            .clone()
            .filter_map(|i| aa.lines.get(i).copied())
            .chain(rb.clone().filter_map(|i| bb.lines.get(i).copied()))
            .collect();
        // A code line whose tokens did not change was re-spaced, or its comment was edited:
        // in a change that replaces `x = 1` by `x = 1  # why`, the comment is the edit.
        let comment_in_change = lines.iter().any(|l| {
            matches!(
                l,
                LineKind::Comment
                    | LineKind::Code { has_comment: true }
                    | LineKind::Decorator { has_comment: true }
            )
        });
        for line in lines {
            let kind = match line {
                LineKind::Blank => Some("blank"),
                LineKind::Comment => Some("comment"),
                LineKind::Docstring => Some("docstring"),
                LineKind::Decorator { .. } if !decorator_same => Some("decorator"),
                LineKind::Code { .. } if !body_same => None,
                LineKind::Decorator { .. } | LineKind::Code { .. } => Some(if comment_in_change {
                    "comment"
                } else {
                    "whitespace"
                }),
            };
            kinds.extend(kind);
        }
    }
    let classification = if body_same && decorator_same {
        Classification::Cosmetic
    } else {
        Classification::Code
    };
    if !body_same {
        // Code changed: the cosmetic kinds around it do not matter.
        kinds.clear();
    }
    EditKind {
        classification,
        kinds: ordered(kinds),
    }
}

fn ordered(kinds: Vec<&'static str>) -> Vec<&'static str> {
    ORDER.into_iter().filter(|k| kinds.contains(k)).collect()
}

/// When a version does not tokenize: blank and `#` lines are cosmetic, anything else is code.
fn by_lines(a: &str, b: &str, changes: &[Hunk]) -> EditKind {
    let a_lines: Vec<&str> = a.lines().collect();
    let b_lines: Vec<&str> = b.lines().collect();
    let mut kinds = Vec::new();
    let mut code = false;
    let lines = changes.iter().flat_map(|(ra, rb)| {
        ra.clone()
            .filter_map(|i| a_lines.get(i))
            .chain(rb.clone().filter_map(|i| b_lines.get(i)))
    });
    for line in lines {
        let t = line.trim();
        if t.is_empty() {
            kinds.push("blank");
        } else if t.starts_with('#') {
            kinds.push("comment");
        } else {
            code = true;
        }
    }
    if code {
        EditKind {
            classification: Classification::Code,
            kinds: Vec::new(),
        }
    } else {
        EditKind {
            classification: Classification::Cosmetic,
            kinds: ordered(kinds),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Classifies with the changed lines found by a plain line comparison (the callers use a
    /// real diff; these cases change lines in place or append).
    fn kind(a: &str, b: &str) -> (Classification, Vec<&'static str>) {
        let diff = similar::TextDiff::from_lines(a, b);
        let changes: Vec<Hunk> = diff
            .ops()
            .iter()
            .map(|op| op.as_tag_tuple())
            .filter(|(tag, _, _)| *tag != similar::DiffTag::Equal)
            .map(|(_, ra, rb)| (ra, rb))
            .collect();
        let k = classify(a, b, &changes);
        (k.classification, k.kinds)
    }

    const BASE: &str = "@task(cache_policy=INPUTS)\ndef clean(rows):\n    \"\"\"Keeps rows.\"\"\"\n    kept = []  # the result\n    for r in rows:\n        kept.append(r)\n    return kept\n";

    #[test]
    fn comments_blank_lines_and_docstrings_are_cosmetic() {
        let comment = BASE.replace("# the result", "# what we keep");
        assert_eq!(
            kind(BASE, &comment),
            (Classification::Cosmetic, vec!["comment"])
        );
        let own_line = BASE.replace("    for r", "    # walk the rows\n    for r");
        assert_eq!(
            kind(BASE, &own_line),
            (Classification::Cosmetic, vec!["comment"])
        );
        let blank = BASE.replace("    for r", "\n    for r");
        assert_eq!(
            kind(BASE, &blank),
            (Classification::Cosmetic, vec!["blank"])
        );
        let doc = BASE.replace(
            "Keeps rows.",
            "Keeps the paid rows.\n\n    Multi-line now.\n    ",
        );
        assert_eq!(
            kind(BASE, &doc),
            (Classification::Cosmetic, vec!["docstring"])
        );
        let no_doc = BASE.replace("    \"\"\"Keeps rows.\"\"\"\n", "");
        assert_eq!(
            kind(BASE, &no_doc),
            (Classification::Cosmetic, vec!["docstring"])
        );
        let spaces = BASE.replace("kept.append(r)", "kept.append( r )");
        assert_eq!(
            kind(BASE, &spaces),
            (Classification::Cosmetic, vec!["whitespace"])
        );
        let both = comment.replace("    for r", "\n    for r");
        assert_eq!(
            kind(BASE, &both),
            (Classification::Cosmetic, vec!["comment", "blank"])
        );
    }

    #[test]
    fn code_strings_and_decorators_are_code() {
        let code = BASE.replace("kept.append(r)", "kept.append(r * 2)");
        assert_eq!(kind(BASE, &code), (Classification::Code, vec![]));
        // A string that is not the docstring is code.
        let s = "def f():\n    x = 1\n    return 'a'\n";
        assert_eq!(kind(s, &s.replace("'a'", "'b'")).0, Classification::Code);
        // Only the decorator changed: code for Prefect, and said so.
        let deco = BASE.replace("INPUTS)", "INPUTS - 'x')");
        assert_eq!(kind(BASE, &deco), (Classification::Code, vec!["decorator"]));
        let deco_and_comment = deco.replace("# the result", "# kept rows");
        assert_eq!(
            kind(BASE, &deco_and_comment),
            (Classification::Code, vec!["comment", "decorator"])
        );
        // A hash inside a string is not a comment.
        let hash = "def f():\n    return '# a'\n";
        assert_eq!(
            kind(hash, &hash.replace("# a", "# b")).0,
            Classification::Code
        );
    }

    #[test]
    fn sources_that_do_not_tokenize_fall_back_to_lines() {
        let broken = "def f(:\n    x = '''\n";
        let with_comment = "def f(:\n    # note\n    x = '''\n";
        assert_eq!(
            kind(broken, with_comment),
            (Classification::Cosmetic, vec!["comment"])
        );
        assert_eq!(
            kind(broken, "def f(:\n    y = '''\n").0,
            Classification::Code
        );
    }
}
