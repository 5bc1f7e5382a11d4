//! TaskSource evidence: the unified diff of the task's source between A and B, with the file's
//! own line numbers in the hunk headers, and whether the edit was cosmetic.

use similar::{DiffTag, TextDiff};

use super::cosmetic::{EditKind, classify};

/// How the task's source changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEvidence {
    /// The source file, as the record names it.
    pub file: Option<String>,
    /// First and last line of the function in A's and in B's version of the file.
    pub lines_a: (usize, usize),
    pub lines_b: (usize, usize),
    /// A unified diff, `--- a/FILE` / `+++ b/FILE`, hunk headers with the file's line numbers.
    pub diff: String,
    pub edit: EditKind,
    /// How many lines changed: per change, the larger of lines removed and lines added.
    pub changed_lines: usize,
    /// The first and last line of B's version that the changes touch.
    pub changed_b: (usize, usize),
}

impl SourceEvidence {
    /// `etl.py:38` or `etl.py:38-40`.
    pub fn location(&self) -> String {
        let file = self.file.as_deref().unwrap_or("<source>");
        let (first, last) = self.changed_b;
        if first == last {
            format!("{file}:{first}")
        } else {
            format!("{file}:{first}-{last}")
        }
    }

    /// One line, as in `source changed: 2 lines in flows.py:12-14 (cosmetic: comment)`.
    pub fn summary(&self) -> String {
        let n = self.changed_lines;
        let what = match (
            self.edit.classification.as_str(),
            self.edit.kinds.as_slice(),
        ) {
            (c, []) => c.to_string(),
            (c, kinds) => format!("{c}: {}", kinds.join(", ")),
        };
        format!(
            "source changed: {n} line{} in {} ({what})",
            if n == 1 { "" } else { "s" },
            self.location()
        )
    }
}

fn count_lines(text: &str) -> usize {
    text.lines().count().max(1)
}

/// Compares A's source (starting at line `a_first` of its file) with B's (at `b_first`).
pub fn source_evidence(
    file: Option<&str>,
    a: &str,
    a_first: usize,
    b: &str,
    b_first: usize,
) -> SourceEvidence {
    let diff = TextDiff::from_lines(a, b);
    let name = file.unwrap_or("<source>");
    let mut text = format!("--- a/{name}\n+++ b/{name}\n");
    let mut changes = Vec::new();
    let mut changed_lines = 0;
    let mut touched_b: Option<(usize, usize)> = None;
    for op in diff.ops() {
        let (tag, ra, rb) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            continue;
        }
        changed_lines += ra.len().max(rb.len());
        changes.push((ra.clone(), rb.clone()));
        // A pure deletion touches the line where the removed lines were.
        let (lo, hi) = if rb.is_empty() {
            let at = b_first + rb.start.saturating_sub(usize::from(rb.start > 0));
            (at, at)
        } else {
            (b_first + rb.start, b_first + rb.end - 1)
        };
        touched_b = Some(match touched_b {
            None => (lo, hi),
            Some((f, l)) => (f.min(lo), l.max(hi)),
        });
    }
    for group in diff.grouped_ops(3) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let (old_start, old_end) = (first.old_range().start, last.old_range().end);
        let (new_start, new_end) = (first.new_range().start, last.new_range().end);
        let header = |start: usize, end: usize, base: usize| {
            let len = end - start;
            // As diff -u: an empty range names the line before it.
            let at = if len == 0 {
                base + start - 1
            } else {
                base + start
            };
            format!("{at},{len}")
        };
        text.push_str(&format!(
            "@@ -{} +{} @@\n",
            header(old_start, old_end, a_first),
            header(new_start, new_end, b_first)
        ));
        for op in &group {
            for change in diff.iter_changes(op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Equal => ' ',
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                };
                text.push(sign);
                text.push_str(change.value());
                if !change.value().ends_with('\n') {
                    text.push_str("\n\\ No newline at end of file\n");
                }
            }
        }
    }
    let edit = classify(a, b, &changes);
    SourceEvidence {
        file: file.map(str::to_string),
        lines_a: (a_first, a_first + count_lines(a) - 1),
        lines_b: (b_first, b_first + count_lines(b) - 1),
        diff: text,
        edit,
        changed_lines,
        changed_b: touched_b.unwrap_or((b_first, b_first)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::cosmetic::Classification;

    #[test]
    fn hunks_carry_the_files_line_numbers() {
        let a = "@task\ndef f(x):\n    # old\n    y = x\n    return y\n";
        let b = "@task\ndef f(x):\n    # new\n    y = x\n    return y\n";
        let e = source_evidence(Some("flows.py"), a, 12, b, 14);
        assert_eq!(
            e.diff,
            "--- a/flows.py\n+++ b/flows.py\n@@ -12,5 +14,5 @@\n @task\n def f(x):\n-    # old\n+    # new\n     y = x\n     return y\n"
        );
        assert_eq!((e.lines_a, e.lines_b), ((12, 16), (14, 18)));
        assert_eq!(e.changed_b, (16, 16));
        assert_eq!(e.edit.classification, Classification::Cosmetic);
        assert_eq!(
            e.summary(),
            "source changed: 1 line in flows.py:16 (cosmetic: comment)"
        );
    }

    #[test]
    fn insertions_and_deletions_count_and_locate() {
        let a = "def f():\n    a = 1\n    b = 2\n    c = 3\n    return a\n";
        let b = "def f():\n    a = 1\n    c = 3\n    d = 4\n    e = 5\n    return a\n";
        let e = source_evidence(Some("m.py"), a, 1, b, 1);
        // One line removed (b = 2), two added (d, e).
        assert_eq!(e.changed_lines, 3);
        assert_eq!(e.changed_b, (2, 5));
        assert_eq!(e.summary(), "source changed: 3 lines in m.py:2-5 (code)");
        assert!(e.diff.contains("-    b = 2\n"));
        assert!(e.diff.contains("+    d = 4\n+    e = 5\n"));
    }
}
