//! Drawing: a function of the model and nothing else. Every string that came from a record is
//! drawn through the sanitiser (names and times were sanitised when the run was loaded; the
//! explanation's spans here), so nothing a record holds can reach the terminal as a control
//! sequence. Status never rests on colour alone: badges and states are words or distinct marks.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

use cachescope::explain::render::{self, Section, Sem};
use cachescope::explain::wording::short_key;
use cachescope::live::Verdict;
use cachescope::sanitize::sanitize_line;

use super::action::{Pane, help_rows, hints};
use super::app::{Model, Overlay, too_small};
use super::compare::{Against, NodeState};
use super::layout::{MIN_HEIGHT, MIN_WIDTH};
use super::runs::{Badge, RowId, history, hit_count};

/// Styles, or none of their colours with `NO_COLOR`.
struct Theme {
    color: bool,
}

impl Theme {
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    fn badge(&self, b: Badge) -> Style {
        let s = match b {
            Badge::Hit => self.fg(Color::Green),
            Badge::Miss => self.fg(Color::Red),
            Badge::NoKey => self.fg(Color::DarkGray),
            Badge::Error => self.fg(Color::Magenta),
        };
        s.add_modifier(Modifier::BOLD)
    }

    fn verdict(&self, v: Verdict) -> Style {
        match v {
            Verdict::Hit => self.fg(Color::Green),
            Verdict::Miss => self.fg(Color::Red),
            Verdict::Unknown => self.fg(Color::Yellow),
        }
        .add_modifier(Modifier::BOLD)
    }

    fn sem(&self, sem: Sem) -> Style {
        match sem {
            Sem::Plain => Style::default(),
            Sem::Headline => Style::default().add_modifier(Modifier::BOLD),
            Sem::Heading => self.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Sem::Culprit => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Sem::Proven => self.fg(Color::Green),
            Sem::Added => self.fg(Color::Green),
            Sem::Removed => self.fg(Color::Red),
            Sem::DiffMeta => self.fg(Color::Cyan),
            Sem::Key => self.fg(Color::Yellow),
            Sem::Note => self.fg(Color::DarkGray),
            Sem::Warning => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Sem::Code => self.fg(Color::Blue).add_modifier(Modifier::BOLD),
        }
    }

    fn border(&self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            self.fg(Color::DarkGray)
        }
    }

    fn selected(&self, focused: bool) -> Style {
        if focused {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default().add_modifier(Modifier::UNDERLINED)
        }
    }

    fn dim(&self) -> Style {
        self.fg(Color::DarkGray)
    }
}

/// An explanation line wrapped at `width` as the command line wraps it (continuation lines
/// indented by the line's hang), keeping each span's style. Lines that never wrap are left to
/// the paragraph.
fn wrap_styled<'a>(line: &render::Line, width: usize, theme: &Theme) -> Vec<Line<'a>> {
    let spans: Vec<(Style, String)> = line
        .spans
        .iter()
        .map(|s| (theme.sem(s.sem), safe(&s.text)))
        .collect();
    let Some(hang) = line.hang.filter(|h| *h + 10 < width) else {
        return vec![Line::from(
            spans
                .into_iter()
                .map(|(style, text)| Span::styled(text, style))
                .collect::<Vec<_>>(),
        )];
    };
    let mut out: Vec<Line<'a>> = Vec::new();
    let mut current: Vec<Span<'a>> = Vec::new();
    let mut len = 0usize;
    let mut seen = 0usize;
    for (style, text) in spans {
        for (i, word) in text.split(' ').enumerate() {
            // The prefix (the first `prefix` characters) never breaks.
            let in_prefix = seen < line.prefix;
            let piece = if i == 0 {
                word.to_string()
            } else {
                format!(" {word}")
            };
            let piece_len = piece.chars().count();
            seen += piece_len;
            if !in_prefix && len + piece_len > width && len > hang {
                out.push(Line::from(std::mem::take(&mut current)));
                current.push(Span::raw(" ".repeat(hang)));
                len = hang;
                let word = piece.trim_start().to_string();
                len += word.chars().count();
                current.push(Span::styled(word, style));
            } else {
                len += piece_len;
                current.push(Span::styled(piece, style));
            }
        }
    }
    out.push(Line::from(current));
    out
}

/// Text from a record or an explanation, safe to draw on one line (tabs become spaces).
fn safe(text: &str) -> String {
    sanitize_line(&text.replace('\t', "    ")).into_owned()
}

/// Cuts `text` to `width` characters, with an ellipsis when it was longer.
fn fit(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        format!("{text:width$}")
    } else if width == 0 {
        String::new()
    } else {
        let mut s: String = text.chars().take(width - 1).collect();
        s.push('…');
        s
    }
}

fn pane_block<'a>(title: String, focused: bool, theme: &Theme) -> Block<'a> {
    let title = if focused {
        format!(" ▶ {title} ")
    } else {
        format!(" {title} ")
    };
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(theme.border(focused))
        .title(title)
}

/// Draws the whole screen.
pub fn view(model: &Model, frame: &mut Frame) {
    let area = frame.area();
    let theme = Theme { color: model.color };
    if too_small((area.width, area.height)) {
        let text = format!(
            "cachescope needs at least {MIN_WIDTH}x{MIN_HEIGHT} (this terminal is {}x{}): enlarge it, or press q to quit",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let l = model.layout();
    draw_runs(model, frame, l.runs, &theme);
    draw_header(model, frame, l.header, &theme);
    draw_tree(model, frame, l.tree, &theme);
    draw_evidence(model, frame, l.evidence, &theme);
    if model.walk.is_some() {
        draw_walk(model, frame, l.walk, &theme);
    }
    draw_status(model, frame, l.status, &theme);
    match &model.overlay {
        Some(Overlay::Help) => draw_help(frame, area, &theme),
        Some(Overlay::Errors { scroll }) => draw_errors(model, frame, area, *scroll, &theme),
        Some(Overlay::WhatIf { input, error }) => draw_what_if(
            frame,
            l.tree.union(l.evidence),
            &input.text,
            input.cursor,
            error.as_deref(),
            &theme,
        ),
        Some(Overlay::Filter(_)) | None => {}
    }
}

fn draw_runs(model: &Model, frame: &mut Frame, area: Rect, theme: &Theme) {
    let focused = model.focus == Pane::Runs && model.overlay.is_none();
    let mut title = format!("{} ({})", Pane::Runs.title(), model.runs.len());
    if let Some((done, total)) = model.loading {
        title.push_str(" loading");
        if let Some(percent) = percent(done, total) {
            title.push_str(&format!(" {percent}%"));
        }
    }
    if !model.filter.is_empty() {
        title.push_str(&format!(" filter: {}", safe(&model.filter)));
    }
    let block = pane_block(title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    let height = inner.height as usize;
    if model.rows.is_empty() {
        let text = if model.loading.is_some() {
            "loading run records...".to_string()
        } else if !model.filter.is_empty() {
            "no run matches the filter (Esc clears it)".to_string()
        } else {
            format!("no run records under {}", safe(&model.origin))
        };
        frame.render_widget(
            Paragraph::new(text)
                .style(theme.dim())
                .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    // Only the visible rows are built: 100,000 runs cost what a screenful costs.
    let mut lines = Vec::with_capacity(height);
    for row in model.rows.iter().skip(model.runs_offset).take(height) {
        let selected = model.selected.as_ref() == Some(row);
        let mut line = match row {
            RowId::Task(name) => {
                let task = model.tasks.iter().find(|t| &t.name == name);
                let open = !model.collapsed.contains(name);
                let (hits, looked) = task.map_or((0, 0), |t| hit_count(&model.runs, t));
                let marks = task.map_or_else(Vec::new, |t| history(&model.runs, t, 12));
                let counts = format!(" {hits}/{looked} hit");
                let name_width = width.saturating_sub(2 + 13 + counts.len()).max(6);
                let mut spans = vec![
                    Span::styled(if open { "▾ " } else { "▸ " }, theme.dim()),
                    Span::styled(
                        fit(&safe(name), name_width),
                        Style::default().add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(" "),
                ];
                for b in &marks {
                    spans.push(Span::styled(b.mark().to_string(), theme.badge(*b)));
                }
                spans.push(Span::raw(" ".repeat(12 - marks.len())));
                spans.push(Span::styled(counts, theme.dim()));
                Line::from(spans)
            }
            RowId::Run(i) => {
                let run = &model.runs[*i];
                let marker = if model.marked == Some(*i) { "A " } else { "  " };
                let flow = fit(run.flow_run(), width.saturating_sub(2 + 7 + 20 + 2));
                let mut spans = vec![
                    Span::styled(marker, theme.fg(Color::Blue).add_modifier(Modifier::BOLD)),
                    Span::styled(format!("{:<6}", run.badge.label()), theme.badge(run.badge)),
                    Span::raw(if run.unverifiable { "~" } else { " " }),
                    Span::raw(format!("{} ", run.time())),
                    Span::styled(flow, theme.dim()),
                ];
                if model.live && model.selected_run() == Some(*i) {
                    spans.push(Span::styled(" live", theme.fg(Color::Yellow)));
                }
                Line::from(spans)
            }
        };
        if selected {
            line = line.patch_style(theme.selected(focused));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn mode_title(model: &Model) -> String {
    let mut parts = vec!["Comparison".to_string()];
    if let Some(c) = model.current() {
        parts.push(
            match c.against {
                Against::Live => "live: the next run",
                Against::Marked(_) => "against your mark",
                Against::Paired => "as explain pairs it",
            }
            .to_string(),
        );
        if c.edited {
            parts.push("edited inputs".to_string());
        }
    }
    if let Some(w) = &model.what_if {
        parts.push(format!("what-if {}", safe(w)));
    }
    if model.computing {
        parts.push("computing…".to_string());
    }
    parts.join(" · ")
}

fn draw_header(model: &Model, frame: &mut Frame, area: Rect, theme: &Theme) {
    let block = pane_block(mode_title(model), false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(run) = model.selected_run().map(|i| &model.runs[i]) else {
        frame.render_widget(Paragraph::new("select a run").style(theme.dim()), inner);
        return;
    };
    let width = inner.width as usize;
    let mut lines = Vec::new();
    let side = |who: &str, badge: Option<Badge>, text: String| {
        let mut spans = vec![Span::styled(
            format!("{who} "),
            Style::default().add_modifier(Modifier::BOLD),
        )];
        let mut used = 2;
        if let Some(b) = badge {
            spans.push(Span::styled(format!("{:<6} ", b.label()), theme.badge(b)));
            used += 7;
        }
        spans.push(Span::raw(fit(&text, width.saturating_sub(used))));
        Line::from(spans)
    };
    match model.current() {
        None => {
            let waiting = if model.compare_after_load {
                "compares when the load ends…"
            } else {
                "comparing…"
            };
            lines.push(Line::styled(waiting, theme.dim()));
            lines.push(side(
                "B",
                Some(run.badge),
                format!(
                    "{} · {} · flow run {}",
                    run.task(),
                    run.time(),
                    run.flow_run()
                ),
            ));
        }
        Some(c) => {
            // The verdict and why come first: it is what the user came for.
            if let Some(e) = &c.explanation {
                let stale = e.stale_hit.is_some();
                let verdict = match e.verdict {
                    Verdict::Hit if stale => "HIT, STALE",
                    Verdict::Hit => "HIT",
                    Verdict::Miss => "MISS",
                    Verdict::Unknown => "UNKNOWN",
                };
                let who = if c.against == Against::Live {
                    "NEXT RUN"
                } else {
                    ""
                };
                lines.push(Line::from(vec![
                    Span::styled(
                        format!(
                            " {}{verdict} ",
                            if who.is_empty() {
                                String::new()
                            } else {
                                format!("{who}: ")
                            }
                        ),
                        if stale {
                            theme.verdict(Verdict::Unknown)
                        } else {
                            theme.verdict(e.verdict)
                        }
                        .add_modifier(Modifier::REVERSED),
                    ),
                    Span::raw(" "),
                    Span::styled(
                        safe(&e.headline),
                        Style::default().add_modifier(Modifier::BOLD),
                    ),
                ]));
            }
            if let Some(p) = &c.problem {
                lines.push(Line::styled(safe(p), theme.sem(Sem::Warning)));
            }
            let run_text = format!(
                "{} · {} · flow run {}",
                run.task(),
                run.time(),
                run.flow_run()
            );
            if c.against == Against::Live {
                lines.push(side("A", Some(run.badge), run_text));
                lines.push(side("B", None, safe(&c.how)));
            } else {
                lines.push(side("B", Some(run.badge), run_text));
                lines.push(side("A", c.a.map(|a| model.runs[a].badge), safe(&c.how)));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn draw_tree(model: &Model, frame: &mut Frame, area: Rect, theme: &Theme) {
    let focused = model.focus == Pane::Tree && model.overlay.is_none();
    let block = pane_block(Pane::Tree.title().to_string(), focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(c) = model.current() else { return };
    if c.nodes.is_empty() {
        frame.render_widget(
            Paragraph::new("this run has no cache policy").style(theme.dim()),
            inner,
        );
        return;
    }
    let width = inner.width as usize;
    let key_w = if width >= 140 { 32 } else { 12 };
    let state_w = 22usize;
    let label_w = width.saturating_sub(2 * (key_w + 2) + state_w).max(10);
    let (a_title, b_title) = if c.against == Against::Live {
        ("A (recorded)", "B (next run)")
    } else {
        ("A key", "B key")
    };
    let mut lines = vec![Line::styled(
        format!(
            "{}{:key_w$}  {:key_w$}  {}",
            fit("node", label_w),
            a_title,
            b_title,
            "status"
        ),
        theme.dim().add_modifier(Modifier::UNDERLINED),
    )];
    let height = inner.height.saturating_sub(1) as usize;
    for node in c.nodes.iter().skip(model.tree_offset).take(height) {
        let selected = model.selected_node.as_deref() == Some(node.path.as_str());
        let mut label = format!("{}{}", node.prefix, node.label);
        if let Some(conf) = &node.configure {
            label.push_str(&format!(" [{conf}]"));
        }
        let key = |k: &Option<String>| fit(&safe(&short_key(k.as_deref(), key_w)), key_w);
        let (state_text, state_style) = match (node.culprit, node.state) {
            (Some(cachescope::explain::Proof::Proven), _) => {
                ("◆ CULPRIT, proven".to_string(), theme.sem(Sem::Culprit))
            }
            (Some(cachescope::explain::Proof::Pair), _) => {
                ("◆ CULPRIT, as a pair".to_string(), theme.sem(Sem::Culprit))
            }
            (Some(cachescope::explain::Proof::Unexplained), _) => {
                ("◇ changed, unproven".to_string(), theme.sem(Sem::Warning))
            }
            (None, NodeState::Changed) => ("≠ changed".to_string(), theme.fg(Color::Yellow)),
            (None, NodeState::Same) => ("= same".to_string(), theme.fg(Color::Green)),
            (None, NodeState::Unverifiable) => {
                ("? unverifiable".to_string(), theme.fg(Color::Magenta))
            }
            (None, NodeState::Error) => ("! error".to_string(), theme.sem(Sem::Warning)),
            (None, s) => (s.label().to_string(), theme.dim()),
        };
        let label_style = if node.culprit.is_some() {
            theme.sem(Sem::Culprit)
        } else {
            Style::default()
        };
        let mut line = Line::from(vec![
            Span::styled(fit(&label, label_w), label_style),
            Span::styled(key(&node.key_a), theme.sem(Sem::Key)),
            Span::raw("  "),
            Span::styled(key(&node.key_b), theme.sem(Sem::Key)),
            Span::raw("  "),
            Span::styled(state_text, state_style),
        ]);
        let flashed = model
            .flash
            .as_ref()
            .is_some_and(|(paths, _)| paths.contains(&node.path));
        if flashed {
            line.spans.push(Span::styled(
                " ★ just changed",
                theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ));
        }
        if selected {
            line = line.patch_style(theme.selected(focused));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The lines of the evidence pane: the selected node's evidence and proof, then what holds
/// for the whole comparison (causes that are not the key, advice, what-if, notes).
fn evidence_lines<'a>(model: &'a Model, theme: &Theme, width: usize) -> (String, Vec<Line<'a>>) {
    let Some(c) = model.current() else {
        return ("Evidence".to_string(), Vec::new());
    };
    let mut out: Vec<Line> = Vec::new();
    let node = c
        .nodes
        .iter()
        .find(|n| Some(&n.path) == model.selected_node.as_ref());
    let title = match node {
        Some(n) => format!("Evidence · {}", n.label),
        None => "Evidence".to_string(),
    };
    let styled = |l: &render::Line| -> Vec<Line<'a>> { wrap_styled(l, width, theme) };
    if let Some(p) = &c.problem {
        out.push(Line::styled(safe(p), theme.sem(Sem::Warning)));
        out.push(Line::raw(""));
    }
    if let Some(n) = node {
        let is_culprit = n.culprit.is_some();
        if is_culprit {
            for l in c
                .lines
                .iter()
                .filter(|l| l.section == Section::Evidence(n.path.clone()))
            {
                out.extend(styled(l));
            }
            for l in c
                .lines
                .iter()
                .filter(|l| l.section == Section::Proof(n.path.clone()))
            {
                out.extend(styled(l));
            }
        } else {
            out.push(Line::from(vec![
                Span::styled(
                    format!("{} ", n.label),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::styled(
                    match n.state {
                        NodeState::Same => "gave the same key on both sides".to_string(),
                        NodeState::Changed => {
                            "gave another key (not by its own material: see the culprit below it)"
                                .to_string()
                        }
                        NodeState::Alone => "no run to compare with".to_string(),
                        other => other.label().to_string(),
                    },
                    theme.dim(),
                ),
            ]));
            out.push(Line::from(vec![
                Span::raw("  A "),
                Span::styled(
                    safe(n.key_a.as_deref().unwrap_or("None")),
                    theme.sem(Sem::Key),
                ),
            ]));
            out.push(Line::from(vec![
                Span::raw("  B "),
                Span::styled(
                    safe(n.key_b.as_deref().unwrap_or("None")),
                    theme.sem(Sem::Key),
                ),
            ]));
            if let Some(conf) = &n.configure {
                out.push(Line::raw(format!("  configure: {conf}")));
            }
            if let Some(note) = &n.note {
                out.push(Line::styled(format!("  {note}"), theme.dim()));
            }
            // The culprits, when the selected node is not one of them.
            let culprits: Vec<&render::Line> = c
                .lines
                .iter()
                .filter(|l| matches!(&l.section, Section::Evidence(p) if p.starts_with(&n.path)))
                .collect();
            if !culprits.is_empty() {
                out.push(Line::raw(""));
                out.extend(culprits.into_iter().flat_map(styled));
            }
        }
    }
    let mut last_heading: Option<&render::Line> = None;
    for l in &c.lines {
        match &l.section {
            Section::Frame if !l.spans.is_empty() => last_heading = Some(l),
            Section::Stale
            | Section::Unexplained
            | Section::Causes
            | Section::Advice
            | Section::WhatIf
            | Section::Notes => {
                if let Some(h) = last_heading.take() {
                    out.push(Line::raw(""));
                    out.extend(styled(h));
                } else if matches!(
                    l.section,
                    Section::Unexplained | Section::WhatIf | Section::Stale
                ) && l.spans.first().is_some_and(|s| s.sem != Sem::Plain)
                {
                    out.push(Line::raw(""));
                }
                out.extend(styled(l));
            }
            _ => {}
        }
    }
    if let Some((now, under, uncomputable)) = c.what_if_keys {
        out.push(Line::from(vec![
            Span::raw("  the task's recorded runs would have "),
            Span::styled(
                format!("{under} key{}", if under == 1 { "" } else { "s" }),
                theme.sem(Sem::Key),
            ),
            Span::raw(format!(" under this policy (now {now})")),
            Span::styled(
                if uncomputable > 0 {
                    format!("; {uncomputable} cannot be computed")
                } else {
                    String::new()
                },
                theme.dim(),
            ),
        ]));
    }
    (title, out)
}

fn draw_evidence(model: &Model, frame: &mut Frame, area: Rect, theme: &Theme) {
    let focused = model.focus == Pane::Evidence && model.overlay.is_none();
    let block = pane_block(String::new(), focused, theme);
    let inner = block.inner(area);
    let (title, lines) = evidence_lines(model, theme, inner.width as usize);
    let block = pane_block(safe(&title), focused, theme);
    frame.render_widget(block, area);
    let paragraph = Paragraph::new(Text::from(lines)).wrap(Wrap { trim: false });
    let total = paragraph.line_count(inner.width);
    let scroll = model.evidence_scroll.min(total.saturating_sub(1));
    frame.render_widget(paragraph.scroll((scroll as u16, 0)), inner);
    if total > inner.height as usize {
        let more = format!(
            " {}/{} ",
            (scroll + inner.height as usize).min(total),
            total
        );
        let w = more.len() as u16;
        if area.width > w + 2 {
            let at = Rect::new(area.x + area.width - w - 1, area.y + area.height - 1, w, 1);
            frame.render_widget(Paragraph::new(more).style(theme.dim()), at);
        }
    }
}

fn draw_walk(model: &Model, frame: &mut Frame, area: Rect, theme: &Theme) {
    let Some(walk) = &model.walk else { return };
    let title = format!(
        "Walkthrough: {} · step {}/{} · Space/→ next, ← back",
        safe(&walk.title),
        walk.index + 1,
        walk.steps.len()
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.fg(Color::Blue))
        .title(format!(" {title} "));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let caption = walk
        .steps
        .get(walk.index)
        .map(|s| s.caption.as_str())
        .unwrap_or("");
    let mut lines: Vec<Line> = caption.lines().map(|l| Line::raw(safe(l))).collect();
    if let Some(p) = &walk.problem {
        lines.insert(0, Line::styled(safe(p), theme.sem(Sem::Warning)));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
}

fn draw_status(model: &Model, frame: &mut Frame, area: Rect, theme: &Theme) {
    if let Some(Overlay::Filter(input)) = &model.overlay {
        let text = format!("/{}", safe(&input.text));
        let line = Line::from(vec![
            Span::styled(text, Style::default().add_modifier(Modifier::BOLD)),
            Span::styled("  Enter keeps the filter, Esc clears it", theme.dim()),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        frame.set_cursor_position((area.x + 1 + input.cursor as u16, area.y));
        return;
    }
    let message = match (&model.message, model.loading) {
        (Some(m), _) => safe(m),
        (None, Some((done, total))) => match percent(done, total) {
            Some(percent) => {
                let files = total.div_ceil(super::worker::PARTS);
                let s = if files == 1 { "" } else { "s" };
                format!("loading {percent}% of {files} file{s}…")
            }
            None => "loading…".to_string(),
        },
        (None, None) if !model.errors.is_empty() => format!(
            "{} file(s) could not be loaded: E lists them",
            model.errors.len()
        ),
        _ => String::new(),
    };
    let width = area.width as usize;
    // The hints are whole (a hint cut in the middle reads as another key), the first ones in
    // order, and `? help` and `q quit` whenever they fit: help lists every key. The message, the
    // answer to what was just done, takes what it needs of the rest, two blank columns before
    // it. Each hint is followed by two spaces, which the last one may do without.
    let hints = hints(model.focus, model.walk.is_some());
    let cost = |(k, label): &(String, &str)| k.chars().count() + 1 + label.chars().count() + 2;
    let always = |label: &str| matches!(label, "help" | "quit");
    let reserved: usize = hints.iter().filter(|h| always(h.1)).map(cost).sum();
    let msg_width = if message.is_empty() {
        0
    } else {
        (message.chars().count() + 2).min(width.saturating_sub(reserved).max(width / 2))
    };
    let mut room = width - msg_width + 2;
    let keep_always = reserved <= room;
    if keep_always {
        room -= reserved;
    }
    let mut full = false;
    let mut spans = Vec::new();
    for hint in &hints {
        if always(hint.1) {
            if !keep_always {
                continue;
            }
        } else if full || cost(hint) > room {
            full = true;
            continue;
        } else {
            room -= cost(hint);
        }
        spans.push(Span::styled(
            hint.0.clone(),
            Style::default().add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(format!(" {}  ", hint.1), theme.dim()));
    }
    let left = Line::from(spans);
    let [l, r] = ratatui::layout::Layout::horizontal([
        ratatui::layout::Constraint::Min(1),
        ratatui::layout::Constraint::Length(msg_width as u16),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(left), l);
    let shown = fit(&message, msg_width.saturating_sub(2));
    frame.render_widget(
        Paragraph::new(shown.trim_end().to_string())
            .style(theme.fg(Color::Yellow))
            .alignment(Alignment::Right),
        r,
    );
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width.saturating_sub(2));
    let h = height.min(area.height.saturating_sub(2));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn draw_help(frame: &mut Frame, area: Rect, theme: &Theme) {
    let rows = help_rows();
    let mut lines = vec![
        Line::from(vec![
            Span::styled("HIT ✓", theme.badge(Badge::Hit)),
            Span::raw("  "),
            Span::styled("MISS ✗", theme.badge(Badge::Miss)),
            Span::raw("  "),
            Span::styled("NO KEY ·", theme.badge(Badge::NoKey)),
            Span::raw("  "),
            Span::styled("ERROR !", theme.badge(Badge::Error)),
            Span::raw("  ~ a node could not be recomputed"),
        ]),
        Line::raw(""),
    ];
    for (keys, action) in rows {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{keys:>14}  "),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(action.about()),
            Span::styled(format!("  ({})", action.name()), theme.dim()),
        ]));
    }
    let rect = centered(area, 96, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.fg(Color::Cyan))
        .title(" Keys (Esc closes) ");
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

fn draw_errors(model: &Model, frame: &mut Frame, area: Rect, scroll: usize, theme: &Theme) {
    let rect = centered(
        area,
        area.width.saturating_sub(8),
        area.height.saturating_sub(4),
    );
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.fg(Color::Magenta))
        .title(format!(
            " {} file(s) could not be loaded (Esc closes) ",
            model.errors.len()
        ));
    let lines: Vec<Line> = if model.errors.is_empty() {
        vec![Line::raw("every record loaded")]
    } else {
        model
            .errors
            .iter()
            .skip(scroll)
            .map(|e| Line::raw(safe(&e.to_string())))
            .collect()
    };
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

fn draw_what_if(
    frame: &mut Frame,
    area: Rect,
    text: &str,
    cursor: usize,
    error: Option<&str>,
    theme: &Theme,
) {
    let rect = Rect::new(
        area.x,
        area.y + area.height.saturating_sub(5),
        area.width,
        5.min(area.height),
    );
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.fg(Color::Blue))
        .title(
            " What if: recompute both sides under this cache policy (Enter applies, Esc cancels) ",
        );
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let status = match error {
        Some(e) => Line::styled(format!("✗ {}", safe(e)), theme.sem(Sem::Warning)),
        None => Line::styled(
            "✓ valid with Prefect 3.9's composition rules",
            theme.fg(Color::Green),
        ),
    };
    let lines = vec![
        Line::from(vec![
            Span::styled("cache_policy=", theme.dim()),
            Span::raw(safe(text)),
        ]),
        status,
    ];
    frame.render_widget(Paragraph::new(lines), inner);
    frame.set_cursor_position((inner.x + 13 + cursor as u16, inner.y));
}

/// How much of a load is done, in percent: `done` of `total` parts of files
/// ([`PARTS`](super::worker::PARTS) a file); none before the files are known.
fn percent(done: usize, total: usize) -> Option<usize> {
    (total > 0).then(|| done.min(total) * 100 / total)
}
