//! The inspector's state and how messages change it: one model, one message type, one
//! `update`. Nothing here draws, reads files or waits; what must happen outside (a comparison
//! for the worker, the editor, the clipboard) is returned as [`Effect`]s for the event loop.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use cachescope::incremental::event::WatchEvent;
use cachescope::load::LoadError;
use cachescope::policy::parse_policy;
use cachescope::pyjson::Value;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::action::{Action, Pane, action_for};
use super::compare::{Against, Comparison};
use super::layout::{Layout, layout};
use super::runs::{
    Badge, BatchGroups, RowId, Run, Task, add_grouped, add_to_groups, group, rows_into,
};
use super::walkthrough::{Step, Target};

/// Everything that can happen.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// A batch of runs from the loader, with how far it got.
    Loaded {
        runs: Vec<Arc<Run>>,
        /// `runs` grouped by task, each group sorted (the loader does it on its own thread).
        groups: BatchGroups,
        errors: Vec<LoadError>,
        done: usize,
        total: usize,
    },
    /// The load ended: `ms` from its start until the model held every run (the event loop
    /// times it as it hands this on; the loader cannot see its last batch added).
    LoadFinished {
        ms: u128,
    },
    Compared(Box<Comparison>),
    /// The editor closed: the edited inputs, or why they cannot be used.
    Edited(Result<Value, String>),
    /// The watcher saw something change (live mode), at this time ("14:03:07Z", UTC).
    Watch {
        event: WatchEvent,
        at: String,
    },
    /// A record file (`path`) read again after the watcher saw it appear or change.
    Reloaded {
        path: PathBuf,
        runs: Vec<Arc<Run>>,
        errors: Vec<LoadError>,
    },
    Tick,
}

#[cfg(test)]
impl Msg {
    /// A batch of `runs`, grouped here (the loader groups its batches as they fill).
    pub fn loaded(runs: Vec<Arc<Run>>, errors: Vec<LoadError>, done: usize, total: usize) -> Msg {
        Msg::Loaded {
            groups: BatchGroups::of(&runs),
            runs,
            errors,
            done,
            total,
        }
    }
}

/// What the event loop must do for the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Ask the worker for a comparison (the newest request wins).
    Compare(Request),
    /// Open this run's inputs in `$EDITOR`.
    Edit { run: usize },
    /// Put this text on the clipboard (OSC 52).
    Copy(String),
    /// Start the file watcher (the first time live mode is switched on).
    StartWatch,
    /// Read a record file again (it appeared or changed).
    Reload(std::path::PathBuf),
}

/// A comparison the model wants; the loop adds the runs and the clock.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub generation: u64,
    pub selected: usize,
    pub against: Against,
    pub what_if: Option<String>,
    pub edited_inputs: Option<Value>,
}

/// A one-line text input with a cursor (the filter, the what-if editor).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    pub text: String,
    /// In characters.
    pub cursor: usize,
}

impl Input {
    fn with(text: &str) -> Input {
        Input {
            text: text.to_string(),
            cursor: text.chars().count(),
        }
    }

    /// Applies an editing key; false when the key is not an editing key.
    fn edit(&mut self, key: &KeyEvent) -> bool {
        let byte = |s: &str, c: usize| s.char_indices().nth(c).map_or(s.len(), |(i, _)| i);
        match key.code {
            KeyCode::Char(c) => {
                let at = byte(&self.text, self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
            }
            KeyCode::Backspace if self.cursor > 0 => {
                let at = byte(&self.text, self.cursor - 1);
                self.text.remove(at);
                self.cursor -= 1;
            }
            KeyCode::Delete if self.cursor < self.text.chars().count() => {
                let at = byte(&self.text, self.cursor);
                self.text.remove(at);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.text.chars().count()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.text.chars().count(),
            KeyCode::Backspace | KeyCode::Delete => {}
            _ => return false,
        }
        true
    }
}

/// What covers the panes and takes the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help,
    Errors { scroll: usize },
    Filter(Input),
    WhatIf { input: Input, error: Option<String> },
}

/// A walkthrough being played.
#[derive(Debug, Clone)]
pub struct Walk {
    pub title: String,
    pub steps: Vec<Step>,
    pub index: usize,
    /// Why the current step's run could not be found, if so.
    pub problem: Option<String>,
}

/// The whole state of the inspector.
pub struct Model {
    /// Shared with the comparison worker as it is (a clone of the `Arc`): a batch of runs
    /// copies the list only while a comparison still holds the old one.
    pub runs: Arc<Vec<Arc<Run>>>,
    pub tasks: Vec<Task>,
    pub rows: Vec<RowId>,
    pub collapsed: HashSet<String>,
    pub filter: String,
    pub selected: Option<RowId>,
    pub runs_offset: usize,
    /// The user moved the selection (so loading must not move it).
    pub moved: bool,
    pub focus: Pane,
    pub overlay: Option<Overlay>,
    /// `c`: the run compared against, instead of the paired one.
    pub marked: Option<usize>,
    /// `l`: compare with the next run.
    pub live: bool,
    /// `p`: the policy both sides are recomputed under.
    pub what_if: Option<String>,
    /// `e`: edited inputs, for that run.
    pub edited: Option<(usize, Value)>,
    pub comparison: Option<Comparison>,
    /// The newest request's generation; older answers are dropped.
    pub generation: u64,
    pub computing: bool,
    /// The load moved the selection to another run: its comparison waits for the end of the
    /// load (see `on_loaded`).
    pub compare_after_load: bool,
    pub selected_node: Option<String>,
    /// The user picked a node (keys or mouse) since the last comparison arrived: a live
    /// recompute then keeps it rather than following a new culprit.
    pub node_moved: bool,
    pub tree_offset: usize,
    pub evidence_scroll: usize,
    pub errors: Vec<LoadError>,
    pub message: Option<String>,
    /// Files loaded and to load, while loading.
    pub loading: Option<(usize, usize)>,
    pub size: (u16, u16),
    pub color: bool,
    pub walk: Option<Walk>,
    /// Where the runs are, for messages ("no runs under ...").
    pub origin: String,
    pub project: Option<PathBuf>,
    /// The file watcher runs (started with the first `l`).
    pub watching: bool,
    /// Nodes whose key just changed in live mode, and for how many more ticks they are marked.
    pub flash: Option<(Vec<String>, u8)>,
    /// Record files loaded again because a comparison could not read their runs' inputs again
    /// (each once: a file gone stays gone, and its error is listed).
    pub reread: HashSet<PathBuf>,
    /// Record files being read again, each with whether it changed again meanwhile (then it is
    /// read once more when that read ends): a new `.jsonl` file of 10,000 records is 10,000
    /// record events, and must be one read, not 10,000.
    reloading: HashMap<PathBuf, bool>,
    pub quit: bool,
}

impl Model {
    pub fn new(origin: String, size: (u16, u16), color: bool) -> Model {
        Model {
            runs: Arc::new(Vec::new()),
            tasks: Vec::new(),
            rows: Vec::new(),
            collapsed: HashSet::new(),
            filter: String::new(),
            selected: None,
            runs_offset: 0,
            moved: false,
            focus: Pane::Runs,
            overlay: None,
            marked: None,
            live: false,
            what_if: None,
            edited: None,
            comparison: None,
            generation: 0,
            computing: false,
            compare_after_load: false,
            selected_node: None,
            node_moved: false,
            tree_offset: 0,
            evidence_scroll: 0,
            errors: Vec::new(),
            message: None,
            loading: Some((0, 0)),
            size,
            color,
            walk: None,
            origin,
            project: None,
            watching: false,
            flash: None,
            reread: HashSet::new(),
            reloading: HashMap::new(),
            quit: false,
        }
    }

    pub fn layout(&self) -> Layout {
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        // The headline is what a user reads first: the header grows to hold all of it.
        let right_width = if area.width >= 110 {
            area.width - (area.width * 36 / 100).clamp(40, 64)
        } else {
            area.width
        };
        let inner = right_width.saturating_sub(2).max(1) as usize;
        let headline = self
            .current()
            .and_then(|c| {
                c.explanation
                    .as_ref()
                    .map(|e| e.headline.chars().count() + 9)
            })
            .unwrap_or(0);
        let problem = self
            .current()
            .and_then(|c| c.problem.as_ref().map(|p| p.chars().count()))
            .unwrap_or(0);
        let lines = 2 + headline.div_ceil(inner) + problem.div_ceil(inner);
        let nodes = self.current().map_or(3, |c| c.nodes.len());
        layout(
            area,
            self.walk.is_some(),
            lines as u16,
            nodes as u16,
            self.focus == Pane::Runs,
        )
    }

    /// The run the comparison is about: the selected run, or a selected task's newest run.
    pub fn selected_run(&self) -> Option<usize> {
        match self.selected.as_ref()? {
            RowId::Run(i) => Some(*i),
            // A task's row stands for its newest run that the filter lets through.
            RowId::Task(name) => {
                let words = super::runs::filter_words(&self.filter);
                self.tasks.iter().find(|t| &t.name == name).and_then(|t| {
                    t.runs
                        .iter()
                        .copied()
                        .find(|&i| self.runs[i].matches(&words))
                })
            }
        }
    }

    pub fn selected_row(&self) -> Option<usize> {
        let sel = self.selected.as_ref()?;
        self.rows.iter().position(|r| r == sel)
    }

    /// The current comparison, if it is about what is selected now.
    pub fn current(&self) -> Option<&Comparison> {
        self.comparison
            .as_ref()
            .filter(|c| Some(c.selected) == self.selected_run())
    }

    fn rebuild_rows(&mut self) {
        rows_into(
            &mut self.rows,
            &self.runs,
            &self.tasks,
            &self.collapsed,
            &self.filter,
        );
        if self
            .selected
            .as_ref()
            .is_some_and(|s| !self.rows.contains(s))
        {
            // The selected run is filtered out or collapsed: fall back to its task's row.
            let task_row = self
                .selected_run()
                .map(|i| RowId::Task(self.runs[i].task_name().to_string()));
            self.selected = task_row
                .filter(|t| self.rows.contains(t))
                .or_else(|| self.rows.first().cloned());
        }
        if self.selected.is_none() {
            self.selected = self.rows.first().cloned();
        }
        self.keep_visible();
    }

    pub fn runs_height(&self) -> usize {
        self.layout().runs_inner().height as usize
    }

    fn keep_visible(&mut self) {
        let height = self.runs_height().max(1);
        if let Some(row) = self.selected_row() {
            if row < self.runs_offset {
                self.runs_offset = row;
            } else if row >= self.runs_offset + height {
                self.runs_offset = row + 1 - height;
            }
        }
        self.runs_offset = self.runs_offset.min(self.rows.len().saturating_sub(1));
    }

    /// Scrolls the runs list so that the selected run shows under its task's header, when both
    /// fit: for a selection the user did not walk to step by step, where
    /// [`Model::keep_visible`] would leave it on the edge of the list, among runs of another
    /// task whose header is out of view.
    fn reveal_under_header(&mut self) {
        let height = self.runs_height().max(1);
        let Some(row) = self.selected_row() else {
            return;
        };
        let header = self.rows[..=row]
            .iter()
            .rposition(|r| matches!(r, RowId::Task(_)))
            .unwrap_or(row);
        // A header already in view (with its run) stays where it is: the view moves only when
        // it must.
        let header_in_view = header >= self.runs_offset && row < self.runs_offset + height;
        if !header_in_view && row - header < height {
            // Never past the point where the list's end would leave empty lines.
            self.runs_offset = header.min(self.rows.len().saturating_sub(height));
        }
        self.keep_visible();
    }

    /// Asks for the comparison of what is selected now.
    fn request(&mut self) -> Vec<Effect> {
        let Some(selected) = self.selected_run() else {
            return Vec::new();
        };
        self.generation += 1;
        self.computing = true;
        let edited_inputs = self
            .edited
            .as_ref()
            .filter(|(run, _)| *run == selected)
            .map(|(_, v)| v.clone());
        let against = if self.live {
            Against::Live
        } else {
            match self.marked {
                Some(m) if m != selected => Against::Marked(m),
                _ => Against::Paired,
            }
        };
        vec![Effect::Compare(Request {
            generation: self.generation,
            selected,
            against,
            what_if: self.what_if.clone(),
            edited_inputs,
        })]
    }

    fn select_row(&mut self, row: usize) -> Vec<Effect> {
        let Some(id) = self.rows.get(row).cloned() else {
            return Vec::new();
        };
        let before = self.selected_run();
        self.selected = Some(id);
        self.moved = true;
        self.keep_visible();
        if self.selected_run() != before {
            self.evidence_scroll = 0;
            return self.request();
        }
        Vec::new()
    }

    fn move_rows(&mut self, delta: isize) -> Vec<Effect> {
        if self.rows.is_empty() {
            return Vec::new();
        }
        let row = self.selected_row().unwrap_or(0) as isize + delta;
        self.select_row(row.clamp(0, self.rows.len() as isize - 1) as usize)
    }

    /// Runs in display order (tasks in order, runs newest first), ignoring collapse.
    fn display_order(&self) -> Vec<usize> {
        let words = super::runs::filter_words(&self.filter);
        self.tasks
            .iter()
            .flat_map(|t| t.runs.iter().copied())
            .filter(|&i| self.runs[i].matches(&words))
            .collect()
    }

    fn jump_miss(&mut self, forward: bool) -> Vec<Effect> {
        let order = self.display_order();
        if order.is_empty() {
            return Vec::new();
        }
        let here = self
            .selected_run()
            .and_then(|s| order.iter().position(|&i| i == s))
            .unwrap_or(if forward { order.len() - 1 } else { 0 });
        let n = order.len();
        let found = (1..=n)
            .map(|k| {
                if forward {
                    order[(here + k) % n]
                } else {
                    order[(here + n - k) % n]
                }
            })
            .find(|&i| self.runs[i].badge == Badge::Miss);
        match found {
            Some(i) => self.select_run(i),
            None => {
                self.message = Some("no run missed".to_string());
                Vec::new()
            }
        }
    }

    /// Selects a run, expanding its task: a jump (the first look, the next miss, a step of the
    /// walkthrough). A run that was out of view is shown under its task's header.
    pub fn select_run(&mut self, run: usize) -> Vec<Effect> {
        let task = self.runs[run].task_name().to_string();
        if self.collapsed.remove(&task) {
            self.rebuild_rows();
        }
        let Some(row) = self.rows.iter().position(|r| *r == RowId::Run(run)) else {
            return Vec::new();
        };
        let effects = self.select_row(row);
        self.reveal_under_header();
        effects
    }

    fn node_rows(&self) -> usize {
        self.current().map_or(0, |c| c.nodes.len())
    }

    fn selected_node_index(&self) -> usize {
        let Some(c) = self.current() else { return 0 };
        self.selected_node
            .as_ref()
            .and_then(|p| c.nodes.iter().position(|n| &n.path == p))
            .unwrap_or(0)
    }

    fn select_node(&mut self, index: usize) {
        let path = self
            .current()
            .and_then(|c| c.nodes.get(index))
            .map(|n| n.path.clone());
        if let Some(path) = path {
            if self.selected_node.as_ref() != Some(&path) {
                self.evidence_scroll = 0;
            }
            self.selected_node = Some(path);
        }
        let height = self.layout().tree_inner().height.saturating_sub(1).max(1) as usize;
        let index = self.selected_node_index();
        if index < self.tree_offset {
            self.tree_offset = index;
        } else if index >= self.tree_offset + height {
            self.tree_offset = index + 1 - height;
        }
    }

    fn move_in_pane(&mut self, delta: isize) -> Vec<Effect> {
        match self.focus {
            Pane::Runs => self.move_rows(delta),
            Pane::Tree => {
                let n = self.node_rows();
                if n > 0 {
                    let i = (self.selected_node_index() as isize + delta).clamp(0, n as isize - 1);
                    self.select_node(i as usize);
                    self.node_moved = true;
                }
                Vec::new()
            }
            Pane::Evidence => {
                let i = self.evidence_scroll as isize + delta;
                self.evidence_scroll = i.max(0) as usize;
                Vec::new()
            }
        }
    }

    fn page(&self) -> isize {
        let l = self.layout();
        let h = match self.focus {
            Pane::Runs => l.runs_inner().height,
            Pane::Tree => l.tree_inner().height,
            Pane::Evidence => l.evidence_inner().height,
        };
        h.saturating_sub(1).max(1) as isize
    }

    /// Applies an action.
    pub fn act(&mut self, action: Action) -> Vec<Effect> {
        self.message = None;
        match action {
            Action::Quit => {
                self.quit = true;
                Vec::new()
            }
            Action::Close => {
                if self.overlay.take().is_none() {
                    if self.edited.take().is_some() {
                        self.message = Some("back to the run as recorded".to_string());
                        return self.request();
                    }
                    if self.what_if.take().is_some() {
                        self.message = Some("what-if cleared".to_string());
                        return self.request();
                    }
                    if self.marked.take().is_some() {
                        self.message =
                            Some("mark cleared: comparing with the paired run".to_string());
                        return self.request();
                    }
                }
                Vec::new()
            }
            Action::Help => {
                self.overlay = Some(Overlay::Help);
                Vec::new()
            }
            Action::Errors => {
                self.overlay = Some(Overlay::Errors { scroll: 0 });
                Vec::new()
            }
            Action::NextPane => {
                self.focus = self.focus.next();
                self.keep_visible();
                Vec::new()
            }
            Action::PrevPane => {
                self.focus = self.focus.prev();
                self.keep_visible();
                Vec::new()
            }
            Action::Up => self.move_in_pane(-1),
            Action::Down => self.move_in_pane(1),
            Action::PageUp => self.move_in_pane(-self.page()),
            Action::PageDown => self.move_in_pane(self.page()),
            Action::Top => self.move_in_pane(-(1 << 30)),
            Action::Bottom => self.move_in_pane(1 << 30),
            Action::Toggle => {
                if let Some(RowId::Task(name)) = self.selected.clone() {
                    if !self.collapsed.remove(&name) {
                        self.collapsed.insert(name);
                    }
                    self.rebuild_rows();
                } else if self.focus == Pane::Runs {
                    self.focus = Pane::Tree;
                }
                Vec::new()
            }
            Action::Filter => {
                self.overlay = Some(Overlay::Filter(Input::with(&self.filter)));
                Vec::new()
            }
            Action::NextMiss => self.jump_miss(true),
            Action::PrevMiss => self.jump_miss(false),
            Action::MarkA => {
                let Some(run) = self.selected_run() else {
                    return Vec::new();
                };
                if self.marked == Some(run) {
                    self.marked = None;
                    self.message = Some("mark cleared".to_string());
                } else {
                    self.marked = Some(run);
                    self.live = false;
                    self.message = Some(format!(
                        "marked as A: {} {}; select another run to compare (Esc clears)",
                        self.runs[run].task(),
                        self.runs[run].time()
                    ));
                }
                self.request()
            }
            Action::CompareLive => {
                self.live = !self.live;
                self.message = Some(if self.live {
                    LIVE_ON.to_string()
                } else {
                    "live off: comparing recorded runs".to_string()
                });
                let mut effects = self.request();
                if self.live && !self.watching {
                    self.watching = true;
                    effects.push(Effect::StartWatch);
                }
                effects
            }
            Action::WhatIf => {
                // The selected run's policy, as its comparison read it (else read here: one
                // record, when no comparison of it has come yet).
                let text = self.what_if.clone().unwrap_or_else(|| {
                    let selected = self.selected_run();
                    let compared = self
                        .comparison
                        .as_ref()
                        .filter(|c| Some(c.selected) == selected);
                    match compared {
                        Some(c) => c.policy.clone(),
                        None => selected
                            .and_then(|r| self.runs[r].full_record().ok())
                            .and_then(|r| {
                                r.policy
                                    .as_ref()
                                    .map(cachescope::explain::tree_text::render)
                            }),
                    }
                    .unwrap_or_default()
                });
                let error = validate(&text);
                self.overlay = Some(Overlay::WhatIf {
                    input: Input::with(&text),
                    error,
                });
                Vec::new()
            }
            Action::EditInputs => match self.selected_run() {
                Some(run) if self.runs[run].has_inputs() => vec![Effect::Edit { run }],
                Some(_) => {
                    self.message = Some("this run recorded no inputs to edit".to_string());
                    Vec::new()
                }
                None => Vec::new(),
            },
            Action::CopyKey => {
                let key = self.current().and_then(|c| {
                    let node = c.nodes.get(self.selected_node_index())?;
                    node.key_b.clone().or_else(|| node.key_a.clone())
                });
                match key {
                    Some(k) => {
                        self.message = Some(format!("copied {k}"));
                        vec![Effect::Copy(k)]
                    }
                    None => {
                        self.message = Some("no key to copy here".to_string());
                        Vec::new()
                    }
                }
            }
            Action::CopyExplanation => match self.current() {
                Some(c) if !c.lines.is_empty() => {
                    let text = cachescope::sanitize::sanitize_text(
                        &cachescope::explain::render::to_text(&c.lines),
                    )
                    .into_owned();
                    self.message = Some("copied the explanation".to_string());
                    vec![Effect::Copy(text)]
                }
                _ => Vec::new(),
            },
            Action::WalkNext => self.walk_to(1),
            Action::WalkPrev => self.walk_to(-1),
        }
    }

    /// Moves the walkthrough by `delta` steps and plays the step.
    fn walk_to(&mut self, delta: isize) -> Vec<Effect> {
        let Some(walk) = self.walk.as_mut() else {
            return Vec::new();
        };
        let last = walk.steps.len().saturating_sub(1) as isize;
        walk.index = (walk.index as isize + delta).clamp(0, last) as usize;
        self.play_step()
    }

    /// Applies the current walkthrough step: which run, what it is compared with, what opens.
    pub fn play_step(&mut self) -> Vec<Effect> {
        let Some(step) = self
            .walk
            .as_ref()
            .and_then(|w| w.steps.get(w.index))
            .cloned()
        else {
            return Vec::new();
        };
        let find = |m: &Model, pattern: &str| {
            let glob = super::walkthrough::matcher(pattern).ok()?;
            m.runs
                .iter()
                .position(|r| super::walkthrough::is_match(&glob, r))
        };
        let selected = find(self, &step.select);
        let problem = match selected {
            None if self.loading.is_some() => Some("loading runs...".to_string()),
            None => Some(format!("no run matches {:?}", step.select)),
            Some(_) => None,
        };
        if let Some(w) = self.walk.as_mut() {
            w.problem = problem;
        }
        let Some(run) = selected else {
            return Vec::new();
        };
        self.overlay = None;
        self.edited = None;
        self.what_if = step.what_if.clone();
        self.live = matches!(step.compare, Target::Live);
        self.marked = match &step.compare {
            Target::Run(pattern) => find(self, pattern),
            _ => None,
        };
        self.focus = step.focus.unwrap_or(Pane::Runs);
        self.selected_node = step.node.clone();
        if step.help {
            self.overlay = Some(Overlay::Help);
        }
        let effects = self.select_run(run);
        if effects.is_empty() {
            self.request()
        } else {
            effects
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        // Some terminals report releases and repeats too; only presses count.
        if key.kind != KeyEventKind::Press {
            return Vec::new();
        }
        match self.overlay.clone() {
            Some(Overlay::Filter(mut input)) => {
                match key.code {
                    KeyCode::Esc => {
                        self.overlay = None;
                        self.filter.clear();
                    }
                    KeyCode::Enter => self.overlay = None,
                    _ => {
                        input.edit(&key);
                        self.filter = input.text.clone();
                        self.overlay = Some(Overlay::Filter(input));
                    }
                }
                let before = self.selected_run();
                self.rebuild_rows();
                if self.selected_run() != before {
                    return self.request();
                }
                Vec::new()
            }
            Some(Overlay::WhatIf { mut input, .. }) => match key.code {
                KeyCode::Esc => {
                    self.overlay = None;
                    Vec::new()
                }
                KeyCode::Enter => {
                    let error = validate(&input.text);
                    if error.is_some() {
                        self.overlay = Some(Overlay::WhatIf { input, error });
                        return Vec::new();
                    }
                    self.overlay = None;
                    self.what_if = Some(input.text.clone());
                    self.message =
                        Some(format!("what-if: cache_policy={} (Esc clears)", input.text));
                    self.request()
                }
                _ => {
                    input.edit(&key);
                    let error = validate(&input.text);
                    self.overlay = Some(Overlay::WhatIf { input, error });
                    Vec::new()
                }
            },
            Some(Overlay::Help) => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q')
                ) {
                    self.overlay = None;
                }
                Vec::new()
            }
            Some(Overlay::Errors { scroll }) => {
                match key.code {
                    KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('E') => self.overlay = None,
                    KeyCode::Down | KeyCode::Char('j') => {
                        self.overlay = Some(Overlay::Errors {
                            scroll: (scroll + 1).min(self.errors.len().saturating_sub(1)),
                        })
                    }
                    KeyCode::Up | KeyCode::Char('k') => {
                        self.overlay = Some(Overlay::Errors {
                            scroll: scroll.saturating_sub(1),
                        })
                    }
                    _ => {}
                }
                Vec::new()
            }
            None => match action_for(&key) {
                Some(action) => self.act(action),
                None => Vec::new(),
            },
        }
    }

    fn on_mouse(&mut self, mouse: MouseEvent) -> Vec<Effect> {
        if self.overlay.is_some() {
            return Vec::new();
        }
        let l = self.layout();
        let at = Position::new(mouse.column, mouse.row);
        let pane = [
            (Pane::Runs, l.runs),
            (Pane::Tree, l.tree),
            (Pane::Evidence, l.evidence),
        ]
        .into_iter()
        .find(|(_, r)| r.contains(at))
        .map(|(p, _)| p);
        let Some(pane) = pane else { return Vec::new() };
        match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                self.focus = pane;
                match pane {
                    Pane::Runs => {
                        let inner = l.runs_inner();
                        if inner.contains(at) {
                            let row = self.runs_offset + (at.y - inner.y) as usize;
                            let effects = self.select_row(row);
                            // A click on a task's row toggles it, as Enter does.
                            if matches!(self.rows.get(row), Some(RowId::Task(_)))
                                && effects.is_empty()
                            {
                                return self.act(Action::Toggle);
                            }
                            return effects;
                        }
                        Vec::new()
                    }
                    Pane::Tree => {
                        let inner = l.tree_inner();
                        // The first row of the tree pane is its column header.
                        if inner.contains(at) && at.y > inner.y {
                            let index = self.tree_offset + (at.y - inner.y - 1) as usize;
                            if index < self.node_rows() {
                                self.select_node(index);
                                self.node_moved = true;
                            }
                        }
                        Vec::new()
                    }
                    Pane::Evidence => Vec::new(),
                }
            }
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let delta = if mouse.kind == MouseEventKind::ScrollDown {
                    3
                } else {
                    -3
                };
                match pane {
                    Pane::Runs => {
                        let max = self.rows.len().saturating_sub(1) as isize;
                        self.runs_offset =
                            (self.runs_offset as isize + delta).clamp(0, max) as usize;
                        Vec::new()
                    }
                    Pane::Tree => {
                        let max = self.node_rows().saturating_sub(1) as isize;
                        self.tree_offset =
                            (self.tree_offset as isize + delta).clamp(0, max) as usize;
                        Vec::new()
                    }
                    Pane::Evidence => {
                        self.evidence_scroll =
                            (self.evidence_scroll as isize + delta).max(0) as usize;
                        Vec::new()
                    }
                }
            }
            _ => Vec::new(),
        }
    }

    fn on_loaded(
        &mut self,
        runs: Vec<Arc<Run>>,
        groups: BatchGroups,
        errors: Vec<LoadError>,
        done: usize,
        total: usize,
    ) -> Vec<Effect> {
        let before = self.selected_run();
        let from = self.runs.len();
        Arc::make_mut(&mut self.runs).extend(runs);
        add_grouped(&mut self.tasks, &self.runs, from, groups);
        self.errors.extend(errors);
        self.loading = Some((done, total));
        self.rebuild_rows();
        let mut effects = Vec::new();
        if self.walk.as_ref().is_some_and(|w| w.problem.is_some()) {
            effects.extend(self.play_step());
        }
        // A batch that moves the selection (a newer run of the selected task arrived) does not
        // compare at once: at 100,000 runs every batch would start a comparison over all the
        // runs so far, which took a core from the load for its whole length. The comparison
        // comes when the load ends; a key the user presses still compares at once.
        if effects.is_empty() && self.selected_run() != before {
            self.compare_after_load = true;
        }
        effects
    }

    fn on_finished(&mut self, ms: u128) -> Vec<Effect> {
        self.loading = None;
        let mut message = format!(
            "loaded {} run{} of {} task{} in {ms} ms",
            self.runs.len(),
            if self.runs.len() == 1 { "" } else { "s" },
            self.tasks.len(),
            if self.tasks.len() == 1 { "" } else { "s" }
        );
        if !self.errors.is_empty() {
            message.push_str(&format!(
                "; {} file{} could not be loaded (E lists them)",
                self.errors.len(),
                if self.errors.len() == 1 { "" } else { "s" }
            ));
        }
        if self.runs.is_empty() && self.errors.is_empty() {
            message = format!("no run records under {}", self.origin);
        }
        self.message = Some(message);
        let compare = std::mem::take(&mut self.compare_after_load);
        if self.walk.is_some() {
            return self.play_step();
        }
        // A first look lands on the newest miss that has something to be compared with.
        if !self.moved
            && let Some(run) = self.newest_explainable_miss()
        {
            let effects = self.select_run(run);
            self.moved = false;
            if !effects.is_empty() {
                return effects;
            }
        }
        if compare {
            return self.request();
        }
        Vec::new()
    }

    fn newest_explainable_miss(&self) -> Option<usize> {
        self.tasks
            .iter()
            .filter_map(|t| {
                // Runs are newest first: a miss with an older run of its task after it.
                t.runs
                    .iter()
                    .enumerate()
                    .find(|(k, i)| self.runs[**i].badge == Badge::Miss && k + 1 < t.runs.len())
                    .map(|(_, &i)| i)
            })
            .max_by(|&a, &b| self.runs[a].recorded_at().cmp(&self.runs[b].recorded_at()))
    }

    fn on_compared(&mut self, c: Comparison) {
        if c.generation != self.generation {
            return; // a newer request is on its way
        }
        self.computing = false;
        // The same comparison recomputed keeps its node (by path); a new one (another run, or
        // another A) opens on its first culprit, else the root. Live, a recompute whose culprit
        // changed (an edit flipped the verdict) follows the new culprit, unless the user picked
        // a node since the last recompute.
        let same = self
            .comparison
            .as_ref()
            .is_some_and(|old| old.selected == c.selected && old.against == c.against);
        fn first_culprit(c: &Comparison) -> Option<&String> {
            c.nodes
                .iter()
                .find(|n| n.culprit.is_some())
                .map(|n| &n.path)
        }
        let follow = same
            && c.against == Against::Live
            && !self.node_moved
            && first_culprit(&c).is_some()
            && self.comparison.as_ref().and_then(first_culprit) != first_culprit(&c);
        let keep = (same || self.walk_node_pending())
            && !follow
            && self
                .selected_node
                .as_ref()
                .is_some_and(|p| c.nodes.iter().any(|n| &n.path == p));
        if !keep {
            self.selected_node = c
                .nodes
                .iter()
                .find(|n| n.culprit.is_some())
                .or(c.nodes.first())
                .map(|n| n.path.clone());
            self.evidence_scroll = 0;
        }
        // Live, the same comparison recomputed after a change: mark the nodes that moved.
        if same
            && c.against == Against::Live
            && let Some(old) = &self.comparison
        {
            let moved: Vec<String> = c
                .nodes
                .iter()
                .filter(|n| {
                    old.nodes
                        .iter()
                        .find(|o| o.path == n.path)
                        .is_none_or(|o| o.key_b != n.key_b || o.state != n.state)
                })
                .map(|n| n.path.clone())
                .collect();
            if !moved.is_empty() {
                self.flash = Some((moved, 6));
            }
        }
        self.comparison = Some(c);
        self.node_moved = false;
        let index = self.selected_node_index();
        self.select_node(index);
    }
}

/// The message of live mode turned on, until the watcher is ready.
const LIVE_ON: &str = "live: the next run, following file changes";

impl Model {
    /// What the watcher saw. In live mode, a change to the selected task's prediction is
    /// recomputed at once (with no key pressed) and the nodes whose key moved are marked.
    fn on_watch(&mut self, event: WatchEvent, at: &str) -> Vec<Effect> {
        let name = |p: &std::path::Path| {
            cachescope::sanitize::sanitize_line(&p.display().to_string()).into_owned()
        };
        match event {
            WatchEvent::Ready(r) => {
                // Said in place of the message it completes, or of none: the watcher's start
                // can end after the user moved on (live turned off, a what-if asked), and a
                // late "live: watching" would hide what they just did.
                let waiting = self.message.as_deref().is_none_or(|m| m == LIVE_ON);
                if self.live && waiting {
                    self.message = Some(format!(
                        "live: watching the sources, records and storage of {} records",
                        r.records
                    ));
                }
                Vec::new()
            }
            WatchEvent::Verdict(v) => {
                let selected_task = self
                    .selected_run()
                    .map(|i| self.runs[i].task_name().to_string());
                let verdict = v.prediction.verdict.as_str().to_uppercase();
                self.message = Some(format!(
                    "{at} {} changed: next run of `{}` will {verdict}",
                    name(&v.trigger),
                    cachescope::sanitize::sanitize_line(&v.task)
                ));
                if self.live && selected_task.as_deref() == Some(v.task.as_str()) {
                    return self.request();
                }
                Vec::new()
            }
            WatchEvent::Record(r) => {
                self.message = Some(format!("{at} {} was written", name(&r.record.path)));
                self.reload(r.record.path.to_path_buf())
                    .into_iter()
                    .collect()
            }
            WatchEvent::Error(e) => {
                self.message = Some(format!(
                    "{at} {}: {}",
                    name(&e.path),
                    cachescope::sanitize::sanitize_line(&e.error)
                ));
                Vec::new()
            }
        }
    }

    /// Reads `path` again, unless a read of it is under way: then once more when that ends.
    fn reload(&mut self, path: PathBuf) -> Option<Effect> {
        match self.reloading.get_mut(&path) {
            Some(again) => {
                *again = true;
                None
            }
            None => {
                self.reloading.insert(path.clone(), false);
                Some(Effect::Reload(path))
            }
        }
    }

    /// A record file read again: its runs are put in place, and the file is read once more if
    /// it changed during that read.
    fn on_reloaded(
        &mut self,
        path: PathBuf,
        runs: Vec<Arc<Run>>,
        errors: Vec<LoadError>,
    ) -> Vec<Effect> {
        let mut effects = self.put_reloaded(runs, errors);
        if self.reloading.remove(&path) == Some(true) {
            effects.extend(self.reload(path));
        }
        effects
    }

    /// Runs already loaded from a file read again are replaced where they lie, new ones added.
    /// Its runs are found by one pass over the list that compares each distinct path once (runs
    /// read together share their path), and only new runs are grouped, unless a replaced run
    /// changed its task or time. (At 100,000 runs, looking each reloaded run up in the whole
    /// list and grouping every run again froze the inspector for 9.5 s when a `.jsonl` file of
    /// 10,000 records got one more.)
    fn put_reloaded(&mut self, runs: Vec<Arc<Run>>, errors: Vec<LoadError>) -> Vec<Effect> {
        let before = self.selected_run().map(|i| self.runs[i].source.clone());
        let mut loaded_before: HashMap<Option<usize>, usize> = HashMap::new();
        if let Some(path) = runs.first().map(|r| r.source.path.clone()) {
            let mut last: Option<(*const std::path::Path, bool)> = None;
            for (i, run) in self.runs.iter().enumerate() {
                let at = Arc::as_ptr(&run.source.path);
                let same = match last {
                    Some((seen, same)) if std::ptr::eq(seen, at) => same,
                    _ => {
                        let same = run.source.path == path;
                        last = Some((at, same));
                        same
                    }
                };
                if same {
                    loaded_before.entry(run.source.line).or_insert(i);
                }
            }
        }
        self.errors.extend(errors);
        let list = Arc::make_mut(&mut self.runs);
        let from = list.len();
        let mut regroup = false;
        for run in runs {
            match loaded_before.get(&run.source.line) {
                Some(&i) => {
                    let old = &list[i];
                    regroup |= old.task_name() != run.task_name()
                        || old.recorded_at() != run.recorded_at();
                    list[i] = run;
                }
                None => list.push(run),
            }
        }
        if regroup {
            // A rewritten record moved in time or to another task: every run is grouped again.
            self.tasks = group(&self.runs);
        } else {
            add_to_groups(&mut self.tasks, &self.runs, from);
        }
        let loading = self.loading;
        let effects = self.on_loaded(Vec::new(), BatchGroups::default(), Vec::new(), 0, 0);
        self.loading = loading;
        if effects.is_empty() && before.is_some() {
            return self.request();
        }
        effects
    }

    /// A walkthrough step named the node to open, and its comparison has not arrived yet.
    fn walk_node_pending(&self) -> bool {
        self.walk
            .as_ref()
            .and_then(|w| w.steps.get(w.index))
            .is_some_and(|s| s.node.is_some() && s.node == self.selected_node)
    }
}

/// Checks a what-if expression with Prefect's composition rules: None when it is valid.
pub fn validate(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        return Some("type a policy expression, e.g. INPUTS + TASK_SOURCE - \"debug\"".to_string());
    }
    parse_policy(text).err().map(|e| e.to_string())
}

/// Applies a message; returns what the event loop must do.
pub fn update(model: &mut Model, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => model.on_key(key),
        Msg::Mouse(mouse) => model.on_mouse(mouse),
        Msg::Resize(w, h) => {
            model.size = (w, h);
            model.keep_visible();
            Vec::new()
        }
        Msg::Loaded {
            runs,
            groups,
            errors,
            done,
            total,
        } => model.on_loaded(runs, groups, errors, done, total),
        Msg::LoadFinished { ms } => model.on_finished(ms),
        Msg::Compared(c) => {
            // A record file changed since the load: its runs are loaded again (replacing the
            // ones that could not read their inputs), and the comparison is asked again.
            let again: Vec<PathBuf> = c
                .unreadable_files
                .iter()
                .filter(|p| model.reread.insert(p.to_path_buf()))
                .cloned()
                .collect();
            model.on_compared(*c);
            if let Some(first) = again.first() {
                model.message = Some(format!(
                    "{} changed on disk since it was loaded: loading it again",
                    cachescope::sanitize::sanitize_line(&first.display().to_string())
                ));
            }
            again
                .into_iter()
                .filter_map(|path| model.reload(path))
                .collect()
        }
        Msg::Edited(Ok(inputs)) => {
            let Some(run) = model.selected_run() else {
                return Vec::new();
            };
            model.edited = Some((run, inputs));
            model.message = Some("recomputed with your edited inputs (Esc goes back)".to_string());
            model.request()
        }
        Msg::Edited(Err(why)) => {
            model.message = Some(why);
            Vec::new()
        }
        Msg::Watch { event, at } => model.on_watch(event, &at),
        Msg::Reloaded { path, runs, errors } => model.on_reloaded(path, runs, errors),
        Msg::Tick => {
            if let Some((_, ticks)) = model.flash.as_mut() {
                *ticks = ticks.saturating_sub(1);
                if *ticks == 0 {
                    model.flash = None;
                }
            }
            Vec::new()
        }
    }
}

/// Whether a rectangle is big enough for the layout (else one line says so).
pub fn too_small(size: (u16, u16)) -> bool {
    size.0 < super::layout::MIN_WIDTH || size.1 < super::layout::MIN_HEIGHT
}
