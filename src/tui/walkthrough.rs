//! Demo walkthroughs: a small TOML file of steps (which run to select, what to compare it
//! with, what to open, and a caption) that `cachescope --walkthrough FILE` plays, one step per
//! Space or →, while everything else stays interactive.
//!
//! ```toml
//! title = "Why did clean miss?"
//!
//! [[step]]
//! select = "02-source-edit/run-2-after-edit/*-clean-*.json"   # a glob on the record's path
//! compare = "paired"        # "paired" (as explain chooses), "live", or a glob naming run A
//! focus = "evidence"        # "runs", "tree" or "evidence"
//! node = "0"                # the policy node to select ("" the root)
//! what_if = "INPUTS"        # optional: a policy to recompute both sides under
//! help = false              # optional: open the key help
//! caption = "TaskSource changed: the diff shows the edit."
//! ```

use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;

use super::action::Pane;
use super::runs::Run;

/// What a step compares the selected run with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Paired,
    Live,
    /// A glob naming the run to use as A.
    Run(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub select: String,
    pub compare: Target,
    pub focus: Option<Pane>,
    pub node: Option<String>,
    pub what_if: Option<String>,
    pub help: bool,
    pub caption: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileText {
    title: Option<String>,
    #[serde(default)]
    step: Vec<StepText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepText {
    select: String,
    compare: Option<String>,
    focus: Option<String>,
    node: Option<String>,
    what_if: Option<String>,
    #[serde(default)]
    help: bool,
    caption: String,
}

/// A walkthrough file, parsed: its title and steps, or a message naming the file and what is
/// wrong.
pub fn load(path: &Path) -> Result<(String, Vec<Step>), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the walkthrough: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse(text: &str) -> Result<(String, Vec<Step>), String> {
    let file: FileText = toml::from_str(text).map_err(|e| e.to_string())?;
    if file.step.is_empty() {
        return Err("a walkthrough needs at least one [[step]]".to_string());
    }
    let mut steps = Vec::new();
    for (i, s) in file.step.into_iter().enumerate() {
        let n = i + 1;
        let focus = match s.focus.as_deref() {
            None => None,
            Some("runs") => Some(Pane::Runs),
            Some("tree") => Some(Pane::Tree),
            Some("evidence") => Some(Pane::Evidence),
            Some(other) => {
                return Err(format!(
                    "step {n}: focus {other:?} is not one of runs, tree, evidence"
                ));
            }
        };
        let compare = match s.compare.as_deref() {
            None | Some("paired") => Target::Paired,
            Some("live") => Target::Live,
            Some(glob) => {
                matcher(glob).map_err(|e| format!("step {n}: compare: {e}"))?;
                Target::Run(glob.to_string())
            }
        };
        matcher(&s.select).map_err(|e| format!("step {n}: select: {e}"))?;
        steps.push(Step {
            select: s.select,
            compare,
            focus,
            node: s.node,
            what_if: s.what_if,
            help: s.help,
            caption: s.caption.trim().to_string(),
        });
    }
    Ok((
        file.title.unwrap_or_else(|| "Walkthrough".to_string()),
        steps,
    ))
}

/// A glob matching the end of a record's path (`02-*/run-2*/*-clean-*.json`).
pub fn matcher(glob: &str) -> Result<GlobMatcher, String> {
    GlobBuilder::new(&format!("**/{}", glob.trim_start_matches("./")))
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| e.to_string())
}

/// Whether a run's record path matches.
pub fn is_match(matcher: &GlobMatcher, run: &Run) -> bool {
    matcher.is_match(&run.source.path) || matcher.is_match(run.source.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_and_errors_name_the_step() {
        let (title, steps) = parse(
            r#"title = "t"
[[step]]
select = "a/*.json"
compare = "live"
focus = "tree"
caption = "one"
[[step]]
select = "b.json"
compare = "x/*.json"
caption = "two"
"#,
        )
        .unwrap();
        assert_eq!(title, "t");
        assert_eq!(steps[0].compare, Target::Live);
        assert_eq!(steps[0].focus, Some(Pane::Tree));
        assert_eq!(steps[1].compare, Target::Run("x/*.json".into()));
        let bad = parse("[[step]]\nselect = \"a\"\nfocus = \"nowhere\"\ncaption = \"c\"\n");
        assert!(bad.unwrap_err().contains("step 1: focus"));
        assert!(parse("title = \"t\"\n").is_err());
        assert!(
            parse("[[step]]\nselect = \"a\"\n")
                .unwrap_err()
                .contains("caption")
        );
    }

    #[test]
    fn globs_match_the_end_of_a_path() {
        let m = matcher("02-*/run-2*/*-clean-*.json").unwrap();
        assert!(m.is_match("sample-runs/runs/02-source-edit/run-2-after-edit/2026-clean-01.json"));
        assert!(
            !m.is_match("sample-runs/runs/02-source-edit/run-1-before-edit/2026-clean-01.json")
        );
    }
}
