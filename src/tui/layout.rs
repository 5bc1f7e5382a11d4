//! Where each pane goes, as a pure function of the terminal's size: the view draws into these
//! rectangles and mouse clicks are mapped back through the same ones, so the two agree.

use ratatui::layout::{Constraint, Direction, Layout as Split, Rect};

/// Smaller than this, one line says the terminal is too small.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

/// Wide terminals put runs beside the comparison; narrow ones above it.
const SIDE_BY_SIDE: u16 = 110;

/// The panes' rectangles (borders included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub runs: Rect,
    /// What is compared, and the verdict's headline.
    pub header: Rect,
    pub tree: Rect,
    pub evidence: Rect,
    /// The walkthrough's caption, when one plays.
    pub walk: Rect,
    pub status: Rect,
}

fn inner(r: Rect) -> Rect {
    Rect {
        x: r.x.saturating_add(1),
        y: r.y.saturating_add(1),
        width: r.width.saturating_sub(2),
        height: r.height.saturating_sub(2),
    }
}

impl Layout {
    pub fn runs_inner(&self) -> Rect {
        inner(self.runs)
    }
    pub fn tree_inner(&self) -> Rect {
        inner(self.tree)
    }
    pub fn evidence_inner(&self) -> Rect {
        inner(self.evidence)
    }
}

/// At most this many rows for the tree pane (its nodes, a column header and borders).
const TREE_ROWS: u16 = 8;

/// The panes for a terminal of `area`, with room for `header_lines` lines of comparison text
/// and `nodes` policy nodes.
pub fn layout(
    area: Rect,
    walkthrough: bool,
    header_lines: u16,
    nodes: u16,
    runs_focused: bool,
) -> Layout {
    let [main, walk, status] = Split::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Min(1),
            Constraint::Length(if walkthrough { 5 } else { 0 }),
            Constraint::Length(1),
        ])
        .areas(area);
    let (runs, right) = if area.width >= SIDE_BY_SIDE {
        let left = (area.width * 36 / 100).clamp(40, 64);
        let [runs, right] = Split::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Length(left), Constraint::Min(1)])
            .areas(main);
        (runs, right)
    } else {
        // Stacked, the runs give their rows to the comparison while it has the focus: one row
        // (the selected run) stays.
        let top = if runs_focused {
            (main.height * 30 / 100).max(5)
        } else {
            3
        };
        let [runs, right] = Split::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Length(top), Constraint::Min(1)])
            .areas(main);
        (runs, right)
    };
    let header_rows = (header_lines + 2).clamp(4, 8);
    let tree_rows = (nodes.max(1) + 3)
        .min(TREE_ROWS)
        .min(right.height.saturating_sub(header_rows + 3).max(3));
    let [header, tree, evidence] = Split::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(header_rows),
            Constraint::Length(tree_rows),
            Constraint::Min(3),
        ])
        .areas(right);
    Layout {
        runs,
        header,
        tree,
        evidence,
        walk,
        status,
    }
}
