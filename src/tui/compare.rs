//! One comparison, computed off the UI thread: the selected run (B) against the run it is
//! paired with, a run the user marked, or the next run (live), through the same explainer
//! `cachescope explain` uses, plus what the screen draws of it (the policy tree with both
//! sides' keys, the explanation as styled lines).
//!
//! [`compare`] reads files only for live comparisons (the source as it is now, storage);
//! everything else is a function of the loaded runs.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use cachescope::engine::{NodeStatus, evaluate};
use cachescope::explain::next_run::{NextRun, next_run};
use cachescope::explain::pairing::pair_earlier;
use cachescope::explain::render::{Line, lines};
use cachescope::explain::sides::Side;
use cachescope::explain::{Case, Explanation, Other, Pairing, Proof, RunRef, explain};
use cachescope::live::{LiveOptions, SourceCache};
use cachescope::policy::{PolicyKind, PolicyNode, parse_policy};
use cachescope::pyjson::Value;
use cachescope::record::RunRecord;
use cachescope::sanitize::sanitize_line;
use jiff::Timestamp;

use super::runs::Run;

/// What B is compared against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Against {
    /// The run `explain` would choose: the latest earlier run with the same inputs, else the
    /// latest earlier run.
    Paired,
    /// A run the user marked (an index into the runs).
    Marked(usize),
    /// The next run: the selected run's record with the source, policy and storage as they
    /// are now. The selected run is then A.
    Live,
}

/// A request for the worker. The newest one wins; `generation` tells stale answers apart.
#[derive(Clone)]
pub struct Job {
    pub generation: u64,
    pub runs: Arc<Vec<Arc<Run>>>,
    /// The selected run.
    pub selected: usize,
    pub against: Against,
    /// `p`: a policy expression both sides are recomputed under.
    pub what_if: Option<String>,
    /// `e`: the selected run's inputs as the user edited them.
    pub edited_inputs: Option<Value>,
    pub project: Option<PathBuf>,
    pub now: Timestamp,
}

/// How a node compares between the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    Same,
    Changed,
    /// Its key could not be recomputed (user code, cloudpickle): the recorded one is shown.
    Unverifiable,
    /// Its material is missing (live: the source is gone).
    Error,
    /// Only B's tree has this node.
    New,
    /// There is no A to compare with.
    Alone,
}

impl NodeState {
    pub fn label(self) -> &'static str {
        match self {
            NodeState::Same => "same",
            NodeState::Changed => "changed",
            NodeState::Unverifiable => "unverifiable",
            NodeState::Error => "error",
            NodeState::New => "new in B",
            NodeState::Alone => "",
        }
    }
}

/// One row of the policy tree pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// "" the root, "0", "1/0".
    pub path: String,
    /// Box-drawing prefix ("├─ ", "│  └─ ").
    pub prefix: String,
    /// The class, with its exclusions or function.
    pub label: String,
    /// `configure()` fields set on this node.
    pub configure: Option<String>,
    pub key_a: Option<String>,
    pub key_b: Option<String>,
    pub state: NodeState,
    pub culprit: Option<Proof>,
    /// Why the node is unverifiable or in error.
    pub note: Option<String>,
}

/// Everything the screen shows about one comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub generation: u64,
    pub selected: usize,
    pub against: Against,
    /// A's run index (for live, the selected run).
    pub a: Option<usize>,
    /// How A was chosen, in words.
    pub how: String,
    pub explanation: Option<Explanation>,
    pub lines: Vec<Line>,
    pub nodes: Vec<NodeRow>,
    /// With a what-if: (distinct keys of the task's recorded runs now, under the policy,
    /// runs whose key under it cannot be computed).
    pub what_if_keys: Option<(usize, usize, usize)>,
    /// Why there is nothing to compare, or what went wrong.
    pub problem: Option<String>,
    /// Record files whose runs' inputs could not be read again (changed or gone since the
    /// load): the inspector loads them again.
    pub unreadable_files: Vec<PathBuf>,
    /// The inputs were edited.
    pub edited: bool,
    /// The selected run's recorded policy as an expression, for the what-if editor to start
    /// from.
    pub policy: Option<String>,
}

impl Comparison {
    /// Adds a problem to say, after any already there.
    fn note(&mut self, problem: String) {
        self.problem = Some(match self.problem.take() {
            Some(before) => format!("{before} · {problem}"),
            None => problem,
        });
    }
}

/// A node's label: the class and what configures it.
pub fn node_label(node: &PolicyNode) -> String {
    match &node.kind {
        PolicyKind::Inputs { exclude } if !exclude.is_empty() => {
            let names: Vec<String> = exclude.iter().map(|e| format!("- {e:?}")).collect();
            sanitize_line(&format!("Inputs {}", names.join(" "))).into_owned()
        }
        PolicyKind::CacheKeyFn {
            function: Some(function),
        } => sanitize_line(&format!("CacheKeyFnPolicy({function})")).into_owned(),
        _ => sanitize_line(node.class_name()).into_owned(),
    }
}

fn configure_text(node: &PolicyNode) -> Option<String> {
    let c = &node.configure;
    let fields: Vec<String> = [
        ("key_storage", &c.key_storage),
        ("isolation_level", &c.isolation_level),
        ("lock_manager", &c.lock_manager),
    ]
    .into_iter()
    .filter_map(|(name, v)| v.as_ref().map(|v| format!("{name}={v}")))
    .collect();
    (!fields.is_empty()).then(|| sanitize_line(&fields.join(", ")).into_owned())
}

/// The tree's nodes in pre-order with their paths and drawing prefixes.
fn walk(
    node: &PolicyNode,
    path: String,
    prefix: String,
    child_prefix: String,
    out: &mut Vec<(String, String, PolicyNode)>,
) {
    let shallow = PolicyNode {
        kind: match &node.kind {
            PolicyKind::Compound { .. } => PolicyKind::Compound {
                policies: Vec::new(),
            },
            other => other.clone(),
        },
        configure: node.configure.clone(),
        recorded: node.recorded.clone(),
    };
    out.push((path.clone(), prefix, shallow));
    let children = node.children();
    for (i, child) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let child_path = if path.is_empty() {
            i.to_string()
        } else {
            format!("{path}/{i}")
        };
        walk(
            child,
            child_path,
            format!("{child_prefix}{}", if last { "└─ " } else { "├─ " }),
            format!("{child_prefix}{}", if last { "   " } else { "│  " }),
            out,
        );
    }
}

fn tree_rows(b: &Side, a: Option<&Side>, explanation: Option<&Explanation>) -> Vec<NodeRow> {
    let Some(policy) = b.policy else {
        return Vec::new();
    };
    let mut nodes = Vec::new();
    walk(
        policy,
        String::new(),
        String::new(),
        String::new(),
        &mut nodes,
    );
    nodes
        .into_iter()
        .map(|(path, prefix, node)| {
            let eval = b.evaluation.node(&path);
            let key_b = b.key_at(&path).map(str::to_string);
            let a_node = a.and_then(|a| a.evaluation.node(&path));
            let key_a = a.and_then(|a| a.key_at(&path)).map(str::to_string);
            let state = match (a, a_node, eval.map(|e| e.status)) {
                (_, _, Some(NodeStatus::Error)) => NodeState::Error,
                (None, _, _) => NodeState::Alone,
                (Some(_), None, _) => NodeState::New,
                (Some(_), Some(an), status) if an.policy != eval.map_or("", |e| &e.policy) => {
                    let _ = status;
                    NodeState::New
                }
                _ if key_a != key_b => NodeState::Changed,
                (_, _, Some(NodeStatus::Unverifiable)) => NodeState::Unverifiable,
                _ => NodeState::Same,
            };
            let culprit = explanation
                .and_then(|e| e.culprits.iter().find(|c| c.path == path))
                .map(|c| c.proof);
            NodeRow {
                label: node_label(&node),
                configure: configure_text(&node),
                note: eval
                    .and_then(|e| e.note.clone())
                    .filter(|n| n != "key substituted")
                    .map(|n| sanitize_line(&n).into_owned()),
                path,
                prefix,
                key_a,
                key_b,
                state,
                culprit,
            }
        })
        .collect()
}

/// The record with its inputs replaced, as a run of them would have recorded it: every node's
/// recorded key is what the engine computes from the new inputs, and it "hit" exactly when its
/// key is the recorded run's key.
fn with_inputs(record: &RunRecord, inputs: Value) -> RunRecord {
    let mut edited = record.clone();
    edited.inputs = Some(inputs);
    if let Some(policy) = &record.policy {
        let evaluation = evaluate(policy, &cachescope::engine::Material::of_record(&edited));
        let mut tree = policy.clone();
        set_recorded(&mut tree, String::new(), &evaluation);
        edited.key = evaluation.key().map(str::to_string);
        edited.policy = Some(tree);
    }
    edited.outcome.cache_hit = edited.key.is_some() && edited.key == record.key;
    edited.outcome.state = Some(
        if edited.outcome.cache_hit {
            "Cached"
        } else {
            "Completed"
        }
        .to_string(),
    );
    edited.task_run.id = Some(format!(
        "{}-edited",
        record.task_run.id.as_deref().unwrap_or("run")
    ));
    edited
}

fn set_recorded(node: &mut PolicyNode, path: String, evaluation: &cachescope::engine::Evaluation) {
    if let (Some(recorded), Some(e)) = (node.recorded.as_mut(), evaluation.node(&path)) {
        recorded.key = e.key.clone();
    }
    if let PolicyKind::Compound { policies } = &mut node.kind {
        for (i, child) in policies.iter_mut().enumerate() {
            let child_path = if path.is_empty() {
                i.to_string()
            } else {
                format!("{path}/{i}")
            };
            set_recorded(child, child_path, evaluation);
        }
    }
}

/// Distinct keys of the selected task's recorded runs now and under `tree`, and how many
/// runs' keys cannot be computed under it.
fn keys_under(runs: &[RunRef], task: &str, tree: &PolicyNode) -> (usize, usize, usize) {
    let mut now = Vec::new();
    let mut under = Vec::new();
    let mut uncomputable = 0;
    for r in runs.iter().filter(|r| r.record.task.name == task) {
        now.push(r.record.key.clone());
        let e = evaluate(tree, &cachescope::engine::Material::of_record(r.record));
        match e.status() {
            NodeStatus::Unverifiable | NodeStatus::Error => uncomputable += 1,
            _ => under.push(e.key().map(str::to_string)),
        }
    }
    now.sort();
    now.dedup();
    under.sort();
    under.dedup();
    (now.len(), under.len(), uncomputable)
}

/// The headline for edited inputs: whether the key stays, and if not, why it changes.
fn edited_headline(e: &Explanation, task: &str) -> String {
    use cachescope::explain::wording::{join_and, reasons, short_key};
    if e.key_a == e.key_b {
        format!(
            "With your edited inputs `{task}` keeps its key ({}): a run with them would be served \
             from this run's entry.",
            short_key(e.key_a.as_deref(), 12)
        )
    } else {
        let why = reasons(task, &e.culprits, false);
        format!(
            "With your edited inputs `{task}` would get another key ({} instead of {}){}.",
            short_key(e.key_b.as_deref(), 12),
            short_key(e.key_a.as_deref(), 12),
            if why.is_empty() {
                String::new()
            } else {
                format!(": {}", join_and(&why))
            }
        )
    }
}

fn run_label(run: &Run) -> String {
    format!("{} · flow run {}", run.time(), run.flow_run())
}

/// Computes one comparison.
#[cfg(test)]
pub fn compare(job: &Job) -> Comparison {
    compare_with(job, &mut LastReads::default())
}

/// The records the last comparison read whole, kept for the next. Moving through the runs of
/// a task compares against the same runs each time, and reading them again from their files
/// (and building their inputs) was about half of a comparison's time at 100,000 runs. A record
/// kept was checked to be the one loaded when it was read; a run loaded again (its file
/// changed) is another run, read again. Only what the last comparison read is kept.
#[derive(Debug, Default)]
pub struct LastReads {
    /// By the run's address, with the run (kept alive, so its address is not reused).
    records: HashMap<usize, (Arc<Run>, Arc<RunRecord>)>,
    /// Where the runs of the list last compared are.
    index: RunIndex,
}

/// Where the runs of one list are, by their task's name, their `task_key` and their key (a
/// hash of each beside the run's place, sorted), so that a comparison finds the runs it reads
/// without two passes over every run: at 100,000 runs those passes followed two pointers a
/// run, about 14 ms a comparison. Made once for a list (the inspector's list is another one
/// after every change to it) and kept for the next comparison.
#[derive(Debug, Default)]
struct RunIndex {
    of: std::sync::Weak<Vec<Arc<Run>>>,
    by_name: Vec<(u64, usize)>,
    by_task_key: Vec<(u64, usize)>,
    by_key: Vec<(u64, usize)>,
}

fn text_hash(text: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

impl RunIndex {
    fn of(runs: &Arc<Vec<Arc<Run>>>) -> RunIndex {
        let mut index = RunIndex {
            of: Arc::downgrade(runs),
            by_name: Vec::with_capacity(runs.len()),
            by_task_key: Vec::new(),
            by_key: Vec::with_capacity(runs.len()),
        };
        for (i, run) in runs.iter().enumerate() {
            index.by_name.push((text_hash(run.task_name()), i));
            if let Some(task_key) = run.task_key() {
                index.by_task_key.push((text_hash(task_key), i));
            }
            if let Some(key) = run.key() {
                index.by_key.push((text_hash(key), i));
            }
        }
        for list in [
            &mut index.by_name,
            &mut index.by_task_key,
            &mut index.by_key,
        ] {
            list.sort_unstable();
        }
        index
    }

    /// Whether this is the index of `runs` (the same list, not changed since).
    fn is_of(&self, runs: &Arc<Vec<Arc<Run>>>) -> bool {
        self.of.upgrade().is_some_and(|of| Arc::ptr_eq(&of, runs))
    }

    /// The places of the runs whose text in `list` may be `text` (the same hash).
    fn find<'a>(list: &'a [(u64, usize)], text: &str) -> impl Iterator<Item = usize> + 'a {
        let hash = text_hash(text);
        let start = list.partition_point(|&(h, _)| h < hash);
        list[start..]
            .iter()
            .take_while(move |&&(h, _)| h == hash)
            .map(|&(_, i)| i)
    }

    /// The places of the runs that may share `run`'s task (its name, or its `task_key`).
    fn of_task(&self, run: &Run) -> Vec<usize> {
        let mut found: Vec<usize> = RunIndex::find(&self.by_name, run.task_name()).collect();
        if let Some(task_key) = run.task_key() {
            found.extend(RunIndex::find(&self.by_task_key, task_key));
        }
        found
    }
}

/// A record a comparison reads: the run's own, or one read again (and kept for the next).
enum Held<'a> {
    Own(&'a RunRecord),
    Read(Arc<RunRecord>),
}

impl std::ops::Deref for Held<'_> {
    type Target = RunRecord;

    fn deref(&self) -> &RunRecord {
        match self {
            Held::Own(record) => record,
            Held::Read(record) => record,
        }
    }
}

/// [`compare`], with the records the last comparison read whole at hand (`last`, which then
/// holds this one's).
pub fn compare_with(job: &Job, last: &mut LastReads) -> Comparison {
    let runs = &job.runs;
    let marked = match &job.against {
        Against::Marked(m) => Some(*m),
        _ => None,
    };
    // The runs a comparison reads are read whole (a run loaded lean keeps its record, or its
    // inputs, in its file): the runs of the tasks compared, then the runs of other tasks that
    // have a key the explanation looks up. Pairing, the explanation and the what-if keys read
    // no other run: each looks at the runs of A's and B's task, or at the runs with B's key.
    let compared = |r: &Run| {
        r.may_share_task(&runs[job.selected]) || marked.is_some_and(|m| r.may_share_task(&runs[m]))
    };
    if !last.index.is_of(runs) {
        last.index = RunIndex::of(runs);
    }
    let index = &last.index;
    // The runs of the compared tasks, in list order: those the index names, as `compared` says.
    let mut of_compared: Vec<usize> = std::iter::once(job.selected)
        .chain(marked)
        .flat_map(|s| index.of_task(&runs[s]))
        .filter(|&i| compared(&runs[i]))
        .collect();
    of_compared.sort_unstable();
    of_compared.dedup();
    // A run that cannot be read again (its file changed or went since the load) is left out,
    // and the comparison says so.
    let mut unreadable: Vec<String> = Vec::new();
    let mut unreadable_files: Vec<PathBuf> = Vec::new();
    // The runs read, by their place in the list.
    let mut read: BTreeMap<usize, Held> = BTreeMap::new();
    let mut reads: HashMap<usize, (Arc<Run>, Arc<RunRecord>)> = HashMap::new();
    let mut read_whole = |i: usize| {
        let r = &runs[i];
        let address = Arc::as_ptr(r) as usize;
        if let Some((run, record)) = last.records.get(&address) {
            reads.insert(address, (run.clone(), record.clone()));
            return Some(Held::Read(record.clone()));
        }
        match r.full_record() {
            Ok(Cow::Borrowed(record)) => Some(Held::Own(record)),
            Ok(Cow::Owned(record)) => {
                let record = Arc::new(record);
                reads.insert(address, (r.clone(), record.clone()));
                Some(Held::Read(record))
            }
            Err(e) => {
                unreadable.push(e);
                if !unreadable_files.iter().any(|f| *f == *r.source.path) {
                    unreadable_files.push(r.source.path.to_path_buf());
                }
                None
            }
        }
    };
    for &i in &of_compared {
        if let Some(record) = read_whole(i) {
            read.insert(i, record);
        }
    }
    let mut cache = SourceCache::new();
    let options = LiveOptions {
        project: job.project.clone(),
    };
    // B as edited, or the next run, made from the selected run as it was read.
    let selected_record = read.get(&job.selected).map(|r| &**r);
    let policy = selected_record
        .and_then(|r| r.policy.as_ref())
        .map(cachescope::explain::tree_text::render);
    let edited_record = selected_record
        .zip(job.edited_inputs.clone())
        .map(|(record, inputs)| with_inputs(record, inputs));
    let next: Option<NextRun> = match (selected_record, &edited_record, &job.against) {
        (Some(record), None, Against::Live) => Some(next_run(
            record,
            runs[job.selected].source.dir(),
            &options,
            &mut cache,
            job.now,
        )),
        _ => None,
    };
    // A run of another task is read too when it has a key the explanation looks up (the run
    // that wrote the entry B was served, tasks that collide on one key): its inputs are the
    // evidence that the two got the same key from the same values.
    let mut wanted: Vec<&str> = [
        runs[job.selected].key(),
        marked.and_then(|m| runs[m].key()),
        edited_record.as_ref().and_then(|e| e.key.as_deref()),
        next.as_ref()
            .and_then(|n| n.evaluation.evaluation.key.as_deref()),
    ]
    .into_iter()
    .flatten()
    .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut with_wanted_key: Vec<usize> = wanted
        .iter()
        .flat_map(|key| RunIndex::find(&index.by_key, key))
        .filter(|&i| {
            of_compared.binary_search(&i).is_err()
                && runs[i]
                    .key()
                    .is_some_and(|k| wanted.binary_search(&k).is_ok())
        })
        .collect();
    with_wanted_key.sort_unstable();
    with_wanted_key.dedup();
    for i in with_wanted_key {
        if let Some(record) = read_whole(i) {
            read.insert(i, record);
        }
    }
    last.records = reads;
    // The runs read, in list order; `at(i)` is where the list's run i is among them.
    let indexes: Vec<usize> = read.keys().copied().collect();
    let refs: Vec<RunRef> = read
        .iter()
        .map(|(&i, record)| RunRef {
            source: &runs[i].source,
            record,
        })
        .collect();
    let at = |i: usize| indexes.binary_search(&i).ok();
    let mut out = Comparison {
        generation: job.generation,
        selected: job.selected,
        against: job.against.clone(),
        a: None,
        how: String::new(),
        explanation: None,
        lines: Vec::new(),
        nodes: Vec::new(),
        what_if_keys: None,
        problem: match unreadable.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            [first, rest @ ..] => Some(format!("{first} (and {} more runs)", rest.len())),
        },
        edited: job.edited_inputs.is_some(),
        unreadable_files,
        policy,
    };
    // The selected run (or the marked one) could not be read: the problem says why.
    let (Some(selected_at), true) = (at(job.selected), marked.is_none_or(|m| at(m).is_some()))
    else {
        return out;
    };
    let what_if_tree = match job.what_if.as_deref().map(parse_policy) {
        Some(Ok(tree)) => Some(tree),
        Some(Err(e)) => {
            out.note(format!("what-if: {e}"));
            None
        }
        None => None,
    };
    let what_if = job.what_if.as_deref().zip(what_if_tree.as_ref());
    let selected = &runs[job.selected];
    let edited_ref = edited_record.as_ref().map(|record| RunRef {
        source: &selected.source,
        record,
    });
    let (a, b, pairing) = if let Some(edited) = edited_ref {
        out.a = Some(job.selected);
        out.how = format!(
            "this run as recorded, B with your edited inputs · {}",
            run_label(selected)
        );
        (refs[selected_at], Other::Run(edited), Pairing::Explicit)
    } else {
        match &job.against {
            Against::Live => {
                let a = refs[selected_at];
                let next = next
                    .as_ref()
                    .expect("the next run is made for a live comparison");
                out.a = Some(job.selected);
                out.how = "the next run: source, policy and storage as they are now".to_string();
                (a, Other::Live(next), Pairing::Explicit)
            }
            Against::Marked(m) => {
                out.a = Some(*m);
                out.how = format!("the run you marked · {}", run_label(&runs[*m]));
                let marked_at = at(*m).expect("the marked run was read");
                (
                    refs[marked_at],
                    Other::Run(refs[selected_at]),
                    Pairing::Explicit,
                )
            }
            Against::Paired => {
                let b = refs[selected_at];
                match pair_earlier(&b, &refs) {
                    Some((a, pairing)) => {
                        let index = indexes[refs
                            .iter()
                            .position(|r| r.source == a.source)
                            .expect("A is one of the runs")];
                        out.a = Some(index);
                        out.how = match pairing {
                            Pairing::SameInputs => format!(
                                "latest earlier run with the same inputs · {}",
                                run_label(&runs[index])
                            ),
                            Pairing::SameCall {
                                map_index: Some(i), ..
                            } => format!(
                                "the same map element ({i}) in the latest earlier flow run · {}",
                                run_label(&runs[index])
                            ),
                            Pairing::SameCall { call_index, .. } => format!(
                                "the same call (#{}) in the latest earlier flow run · {}",
                                call_index.map_or("?".to_string(), |i| (i + 1).to_string()),
                                run_label(&runs[index])
                            ),
                            Pairing::ClosestInputs => format!(
                                "the closest inputs in the latest earlier flow run · {}",
                                run_label(&runs[index])
                            ),
                            _ => format!(
                                "latest earlier run (none had the same inputs) · {}",
                                run_label(&runs[index])
                            ),
                        };
                        (a, Other::Run(b), pairing)
                    }
                    None => {
                        out.how = "nothing earlier to compare with".to_string();
                        out.note(format!(
                            "no earlier run of `{}` to compare with: it ran with a cold cache. \
                             Press l to compare with the next run, or c on another run to \
                             mark it as A.",
                            selected.task()
                        ));
                        let side = Side::recorded(b);
                        out.nodes = tree_rows(&side, None, None);
                        return out;
                    }
                }
            }
        }
    };
    let mut explanation = explain(&Case {
        a,
        b,
        pairing,
        runs: &refs,
        what_if,
    });
    if out.edited {
        // A run with edited inputs never ran: what matters is the key it would get.
        explanation.headline = edited_headline(&explanation, selected.task_name());
    }
    let a_side = Side::recorded(a);
    let b_side = match b {
        Other::Run(run) => Side::recorded(run),
        Other::Live(next) => Side::live(a, next),
    };
    out.nodes = tree_rows(&b_side, Some(&a_side), Some(&explanation));
    if let Some(tree) = what_if_tree.as_ref() {
        out.what_if_keys = Some(keys_under(&refs, selected.task_name(), tree));
    }
    out.lines = lines(&explanation);
    out.explanation = Some(explanation);
    out
}
