//! Named actions and the one table that binds keys to them.
//!
//! The event loop looks keys up in [`BINDINGS`]; the help overlay and the status bar's hints
//! are drawn from the same table, so what the screen says a key does is what it does. An
//! action has a name (`next-miss`) that parses back with [`Action::from_str`], so bindings are
//! plain data.

use std::fmt;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where the keyboard is: the pane with focus, or an overlay that takes the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    Runs,
    Tree,
    Evidence,
}

impl Pane {
    pub fn title(self) -> &'static str {
        match self {
            Pane::Runs => "Runs",
            Pane::Tree => "Policy tree",
            Pane::Evidence => "Evidence",
        }
    }

    pub fn next(self) -> Pane {
        match self {
            Pane::Runs => Pane::Tree,
            Pane::Tree => Pane::Evidence,
            Pane::Evidence => Pane::Runs,
        }
    }

    pub fn prev(self) -> Pane {
        self.next().next()
    }
}

/// Everything a key can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Close,
    Help,
    NextPane,
    PrevPane,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Toggle,
    Filter,
    NextMiss,
    PrevMiss,
    MarkA,
    CompareLive,
    WhatIf,
    EditInputs,
    CopyKey,
    CopyExplanation,
    Errors,
    WalkNext,
    WalkPrev,
}

/// Every action with its name and what the help says it does.
const ACTIONS: &[(Action, &str, &str)] = &[
    (Action::Quit, "quit", "quit cachescope"),
    (
        Action::Close,
        "close",
        "close the open overlay, editor or filter",
    ),
    (Action::Help, "help", "show every key"),
    (Action::NextPane, "next-pane", "focus the next pane"),
    (Action::PrevPane, "prev-pane", "focus the previous pane"),
    (Action::Up, "up", "move up"),
    (Action::Down, "down", "move down"),
    (Action::PageUp, "page-up", "one page up"),
    (Action::PageDown, "page-down", "one page down"),
    (Action::Top, "top", "go to the first row"),
    (Action::Bottom, "bottom", "go to the last row"),
    (Action::Toggle, "toggle", "expand or collapse the task"),
    (
        Action::Filter,
        "filter",
        "filter runs: task, run id, flow run, or words like miss",
    ),
    (
        Action::NextMiss,
        "next-miss",
        "jump to the next run that missed",
    ),
    (
        Action::PrevMiss,
        "prev-miss",
        "jump to the previous run that missed",
    ),
    (
        Action::MarkA,
        "mark-a",
        "compare against the selected run (mark it as A)",
    ),
    (
        Action::CompareLive,
        "compare-live",
        "compare with the next run: source, policy and storage now",
    ),
    (
        Action::WhatIf,
        "what-if",
        "recompute both sides under another cache policy",
    ),
    (
        Action::EditInputs,
        "edit-inputs",
        "edit the run's inputs in $EDITOR and recompute",
    ),
    (
        Action::CopyKey,
        "copy-key",
        "copy the selected key to the clipboard",
    ),
    (
        Action::CopyExplanation,
        "copy-explanation",
        "copy the whole explanation as text",
    ),
    (
        Action::Errors,
        "errors",
        "list the records that could not be loaded",
    ),
    (Action::WalkNext, "walk-next", "next walkthrough step"),
    (Action::WalkPrev, "walk-prev", "previous walkthrough step"),
];

impl Action {
    pub fn name(self) -> &'static str {
        ACTIONS
            .iter()
            .find(|(a, _, _)| *a == self)
            .map_or("?", |(_, n, _)| n)
    }

    pub fn about(self) -> &'static str {
        ACTIONS
            .iter()
            .find(|(a, _, _)| *a == self)
            .map_or("", |(_, _, d)| d)
    }

    /// The panes where the action does something (None: everywhere).
    pub fn panes(self) -> Option<&'static [Pane]> {
        match self {
            Action::Toggle => Some(&[Pane::Runs]),
            Action::NextMiss | Action::PrevMiss => Some(&[Pane::Runs]),
            Action::CopyKey => Some(&[Pane::Tree]),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Action, String> {
        ACTIONS
            .iter()
            .find(|(_, n, _)| *n == s)
            .map(|(a, _, _)| *a)
            .ok_or_else(|| format!("no action named {s:?}"))
    }
}

/// A key as the table writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

const fn key(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}

const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

/// Keys to actions. The first key of an action is the one hints show.
pub const BINDINGS: &[(Key, Action)] = &[
    (key('q'), Action::Quit),
    (
        Key {
            code: KeyCode::Char('c'),
            ctrl: true,
        },
        Action::Quit,
    ),
    (code(KeyCode::Esc), Action::Close),
    (key('?'), Action::Help),
    (code(KeyCode::Tab), Action::NextPane),
    (code(KeyCode::BackTab), Action::PrevPane),
    (code(KeyCode::Up), Action::Up),
    (key('k'), Action::Up),
    (code(KeyCode::Down), Action::Down),
    (key('j'), Action::Down),
    (code(KeyCode::PageUp), Action::PageUp),
    (code(KeyCode::PageDown), Action::PageDown),
    (code(KeyCode::Home), Action::Top),
    (key('g'), Action::Top),
    (code(KeyCode::End), Action::Bottom),
    (key('G'), Action::Bottom),
    (code(KeyCode::Enter), Action::Toggle),
    (key('/'), Action::Filter),
    (key('n'), Action::NextMiss),
    (key('N'), Action::PrevMiss),
    (key('c'), Action::MarkA),
    (key('l'), Action::CompareLive),
    (key('p'), Action::WhatIf),
    (key('e'), Action::EditInputs),
    (key('y'), Action::CopyKey),
    (key('Y'), Action::CopyExplanation),
    (key('E'), Action::Errors),
    (key(' '), Action::WalkNext),
    (code(KeyCode::Right), Action::WalkNext),
    (code(KeyCode::Left), Action::WalkPrev),
];

/// The action a key press asks for.
pub fn action_for(event: &KeyEvent) -> Option<Action> {
    let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
    // Shifted letters arrive as upper-case chars, with or without SHIFT.
    BINDINGS
        .iter()
        .find(|(k, _)| k.code == event.code && k.ctrl == ctrl)
        .map(|(_, a)| *a)
}

/// How a key is written in help and hints.
pub fn key_text(k: &Key) -> String {
    let base = match k.code {
        KeyCode::Char(' ') => "Space".to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Esc => "Esc".to_string(),
        KeyCode::Tab => "Tab".to_string(),
        KeyCode::BackTab => "S-Tab".to_string(),
        KeyCode::Up => "↑".to_string(),
        KeyCode::Down => "↓".to_string(),
        KeyCode::Left => "←".to_string(),
        KeyCode::Right => "→".to_string(),
        KeyCode::PageUp => "PgUp".to_string(),
        KeyCode::PageDown => "PgDn".to_string(),
        KeyCode::Home => "Home".to_string(),
        KeyCode::End => "End".to_string(),
        KeyCode::Enter => "Enter".to_string(),
        other => format!("{other:?}"),
    };
    if k.ctrl { format!("C-{base}") } else { base }
}

/// Every key bound to `action`, as text ("↑/k").
pub fn keys_of(action: Action) -> String {
    BINDINGS
        .iter()
        .filter(|(_, a)| *a == action)
        .map(|(k, _)| key_text(k))
        .collect::<Vec<_>>()
        .join("/")
}

/// Each action once, in table order, with its keys: the help overlay's rows.
pub fn help_rows() -> Vec<(String, Action)> {
    ACTIONS
        .iter()
        .map(|(a, _, _)| (keys_of(*a), *a))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// The hints for the status bar in `pane`: the actions that work there, most useful first.
pub fn hints(pane: Pane, walkthrough: bool) -> Vec<(String, &'static str)> {
    let mut wanted: Vec<(Action, &'static str)> = Vec::new();
    if walkthrough {
        wanted.push((Action::WalkNext, "next step"));
    }
    wanted.extend([(Action::NextPane, "pane"), (Action::Down, "move")]);
    match pane {
        Pane::Runs => wanted.extend([
            (Action::Toggle, "expand"),
            (Action::Filter, "filter"),
            (Action::NextMiss, "next miss"),
            (Action::MarkA, "mark A"),
        ]),
        Pane::Tree => wanted.extend([(Action::CopyKey, "copy key"), (Action::MarkA, "mark A")]),
        Pane::Evidence => wanted.push((Action::PageDown, "scroll")),
    }
    wanted.extend([
        (Action::CompareLive, "live"),
        (Action::WhatIf, "what-if"),
        (Action::EditInputs, "edit inputs"),
        (Action::Help, "help"),
        (Action::Quit, "quit"),
    ]);
    wanted
        .into_iter()
        .filter(|(a, _)| a.panes().is_none_or(|p| p.contains(&pane)))
        .map(|(a, label)| {
            let k = BINDINGS
                .iter()
                .find(|(_, b)| *b == a)
                .map(|(k, _)| key_text(k))
                .unwrap_or_default();
            let k = if a == Action::Down {
                "↑↓/jk".to_string()
            } else {
                k
            };
            (k, label)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_every_action_has_a_key() {
        for (a, name, _) in ACTIONS {
            assert_eq!(name.parse::<Action>(), Ok(*a));
            assert!(!keys_of(*a).is_empty(), "{name} has no key");
        }
        assert!("no-such".parse::<Action>().is_err());
    }

    #[test]
    fn hints_are_bound_keys() {
        for pane in [Pane::Runs, Pane::Tree, Pane::Evidence] {
            for (k, _) in hints(pane, true) {
                assert!(!k.is_empty());
            }
        }
    }
}
