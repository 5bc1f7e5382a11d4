//! Where a function's block ends: `inspect.getblock` and its `BlockFinder`, fed by
//! [`super::scan`]'s tokens.
//!
//! The rules, as CPython applies them to the lines from the function's first line on:
//! - before the `def` (or `class`/`lambda`), tokens are skipped; an `@` starts a decorator,
//!   which ends at its NEWLINE (3.9: at the `)` of its arguments, if it has any);
//! - each NEWLINE records its line as the last line of the block;
//! - the first INDENT after the `def` fixes the body's column; a comment on its own line at
//!   that column or deeper (counted in characters, so a tab is one) also becomes the last
//!   line, while comments further left are skipped without ending the block;
//! - the DEDENT that closes the body, or any other token back at the `def`'s level (after a
//!   one-line `def f(): ...`), ends the block; so does an IndentationError;
//! - any other tokenize error escapes from `inspect.getsource`.
//!
//! The block is the lines up to the last recorded line, so trailing comments and blank lines
//! in between are part of it, and blank lines after it are not.

use super::PythonVersion;
use super::scan::{Kind, Lines, ScanError, Tokenizer};

/// `inspect.getsource` would raise: `row` (0-based, within the lines given) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockError {
    pub row: usize,
    pub message: String,
}

/// `BlockFinder`'s state.
struct Finder {
    indent: i32,
    is_lambda: bool,
    started: bool,
    passline: bool,
    in_decorator: bool,
    decorator_has_args: bool,
    /// 1-based number of lines in the block so far.
    last: usize,
    body_col0: Option<usize>,
    decorator_parens: bool,
}

/// What one token did.
enum Step {
    Go,
    End,
}

impl Finder {
    fn eat(
        &mut self,
        kind: Kind,
        text: &str,
        row: usize,
        col: impl Fn() -> usize,
        end_col: impl Fn() -> usize,
    ) -> Step {
        if !self.started && !self.in_decorator {
            if kind == Kind::Op && text == "@" {
                self.in_decorator = true;
            } else if kind == Kind::Name && matches!(text, "def" | "class" | "lambda") {
                self.is_lambda = text == "lambda";
                self.started = true;
            }
            self.passline = true;
        } else if self.decorator_parens && kind == Kind::Op && text == "(" {
            if self.in_decorator {
                self.decorator_has_args = true;
            }
        } else if self.decorator_parens && kind == Kind::Op && text == ")" {
            if self.in_decorator {
                self.in_decorator = false;
                self.decorator_has_args = false;
            }
        } else if kind == Kind::Newline {
            self.passline = false;
            self.last = row + 1;
            if self.is_lambda {
                return Step::End;
            }
            if self.in_decorator && !self.decorator_has_args {
                self.in_decorator = false;
            }
        } else if self.passline {
        } else if kind == Kind::Indent {
            if self.body_col0.is_none() && self.started {
                self.body_col0 = Some(end_col());
            }
            self.indent += 1;
            self.passline = true;
        } else if kind == Kind::Dedent {
            self.indent -= 1;
            if self.indent <= 0 {
                return Step::End;
            }
        } else if kind == Kind::Comment {
            if self.body_col0.is_some_and(|c0| col() >= c0) {
                self.last = row + 1;
            }
        } else if self.indent == 0 && kind != Kind::Nl {
            return Step::End;
        }
        Step::Go
    }
}

/// How many lines, from the first of `lines`, `inspect.getblock(lines)` returns.
pub fn block_len(lines: Lines<'_>, python: PythonVersion) -> Result<usize, BlockError> {
    let mut f = Finder {
        indent: 0,
        is_lambda: false,
        started: false,
        passline: false,
        in_decorator: false,
        decorator_has_args: false,
        last: 1,
        body_col0: None,
        decorator_parens: python.decorator_parens(),
    };
    for tok in Tokenizer::new(lines, python.c_tokenizer()) {
        match tok {
            Ok(t) => {
                let step = f.eat(
                    t.kind,
                    t.text,
                    t.row,
                    || t.char_col(&lines),
                    || t.end_char_col(&lines),
                );
                if let Step::End = step {
                    break;
                }
            }
            Err(ScanError {
                indentation: true, ..
            }) => break,
            Err(ScanError { row, message, .. }) => return Err(BlockError { row, message }),
        }
    }
    Ok(f.last)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block found at the top of `text`, under the given version.
    fn block(text: &str, minor: u8) -> String {
        let mut spans = Vec::new();
        let mut s = 0;
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                spans.push((s, i + 1));
                s = i + 1;
            }
        }
        let lines = Lines::new(text, &spans);
        let n = block_len(lines, PythonVersion::new(3, minor)).unwrap();
        lines.join(0, n).to_string()
    }

    #[test]
    fn trailing_comments_at_body_depth_belong_to_the_block() {
        let text = "def f():\n    x = 1\n    # kept\n# skipped, not ending\n        # kept too\n\n  # left of body\ny = 2\n";
        assert_eq!(
            block(text, 11),
            "def f():\n    x = 1\n    # kept\n# skipped, not ending\n        # kept too\n"
        );
        assert_eq!(block(text, 13), block(text, 11));
    }

    #[test]
    fn one_liner_ends_at_its_newline() {
        assert_eq!(
            block("def f(): return 1\n    # c\ndef g(): pass\n", 11),
            "def f(): return 1\n"
        );
    }

    #[test]
    fn method_ends_at_the_dedent() {
        let text =
            "    @dec(\n        1)\n    def m(self):\n        pass\n\n    def n(self): pass\n";
        assert_eq!(
            block(text, 13),
            "    @dec(\n        1)\n    def m(self):\n        pass\n"
        );
        assert_eq!(
            block(text, 9),
            "    @dec(\n        1)\n    def m(self):\n        pass\n"
        );
    }

    #[test]
    fn body_ending_in_strings_and_continuations() {
        let text = "def f():\n    return '''\nx\n''' + \\\n  'y'\nz = 1\n";
        assert_eq!(
            block(text, 11),
            "def f():\n    return '''\nx\n''' + \\\n  'y'\n"
        );
    }

    #[test]
    fn tabs_count_as_one_character_for_comments() {
        // Body indented by one tab (column 1 in characters): a comment after 2 spaces counts.
        let text = "def f():\n\tx\n  # counted\ny\n";
        assert_eq!(block(text, 11), "def f():\n\tx\n  # counted\n");
    }

    #[test]
    fn decorator_call_chain_differs_in_39() {
        // In 3.9 the first `)` ends the decorator, so the rest of its line is skipped as if
        // before the def, and the decorator's NEWLINE is not recorded; the result is the same
        // text here, but a broken finder would not end at the def's body.
        let text = "@a(1)(2)\ndef f():\n    pass\nx\n";
        assert_eq!(block(text, 9), "@a(1)(2)\ndef f():\n    pass\n");
        assert_eq!(block(text, 11), "@a(1)(2)\ndef f():\n    pass\n");
    }
}
