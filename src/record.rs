//! Run records (format `cachescope/run-record@1`): what the recorder wrote for one task run,
//! read from parsed JSON into typed fields. Unknown fields are ignored; a missing or mistyped
//! required field is an error that names the field and holds its path, which
//! [`RecordError::locate`] turns into a place in the text.

use std::path::{Path, PathBuf};

use crate::policy::{Configure, PolicyKind, PolicyNode, Recorded};
use crate::pyjson::{Key, Step, Value, float_repr, locate, path_name};

pub const FORMAT_V1: &str = "cachescope/run-record@1";

/// One task run, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub recorded_at: Option<String>,
    pub environment: Environment,
    /// As written: absolute, or relative to the record file's folder.
    pub project_root: Option<String>,
    /// None when the task ran outside a flow.
    pub flow: Option<FlowInfo>,
    pub task: TaskInfo,
    pub task_run: TaskRunInfo,
    /// The inputs the policy saw, encoded; an object. None when the record has none.
    pub inputs: Option<Value>,
    /// The policy tree; None when the task had no cache policy.
    pub policy: Option<PolicyNode>,
    /// The cache key Prefect used, or None.
    pub key: Option<String>,
    pub outcome: Outcome,
    /// The transaction the task ran inside, when it ran inside one (an addition to v1).
    pub transaction: Option<Box<TransactionInfo>>,
}

/// The enclosing transaction of a task run (a user's `with transaction():`, or the task that
/// called it), and how the task's own transaction ended: its staged result is written when
/// it commits and thrown away when it rolls back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionInfo {
    /// Unique per transaction: runs with the same id ran in the same transaction.
    pub id: Option<String>,
    /// The key the user gave the transaction, if any.
    pub key: Option<String>,
    /// `committed` or `rolled_back`; None while the transaction had not ended.
    pub outcome: Option<String>,
    /// The first task run that failed inside the transaction, as far as the recorder saw.
    pub failed: Option<FailedRun>,
}

impl TransactionInfo {
    pub fn rolled_back(&self) -> bool {
        self.outcome.as_deref() == Some("rolled_back")
    }
}

/// A task run that failed inside a transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailedRun {
    pub task: Option<String>,
    pub task_run: Option<String>,
    pub state: Option<String>,
}

/// `result_storage_key`: the template the task's key was formatted from (an addition to v1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageKeyTemplate {
    pub template: String,
    /// False when the recorder found that the recorded material does not fill the template
    /// into the key Prefect used.
    pub reproducible: bool,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    pub prefect: Option<String>,
    pub python: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlowInfo {
    pub name: Option<String>,
    pub run_id: Option<String>,
    pub run_name: Option<String>,
    /// The flow parameters as FlowParameters saw them, encoded; an object.
    pub parameters: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    pub name: String,
    pub task_key: Option<String>,
    pub qualname: Option<String>,
    pub file: Option<String>,
    pub line: Option<u64>,
    /// Exactly the text TaskSource hashed; None if there was none.
    pub source: Option<String>,
    /// The task's `result_storage_key`, when it has one.
    pub result_storage_key: Option<Box<StorageKeyTemplate>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskRunInfo {
    pub id: Option<String>,
    pub name: Option<String>,
    /// Prefect's `dynamic_key` (in 3.9.1 a random UUID for runs the engine creates). Added to
    /// run-record v1 by the recorder; absent in older records.
    pub dynamic_key: Option<String>,
    /// Which run of its task this is in its flow run, from 0, in the order the flow called,
    /// submitted or mapped the task. Added to run-record v1; absent in older records.
    pub call_index: Option<u64>,
    /// The element of the `task.map` that made this run, from 0; None when not mapped.
    /// Added to run-record v1; absent in older records.
    pub map_index: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub state: Option<String>,
    pub cache_hit: bool,
    pub cache_expiration: Option<String>,
    pub refresh_cache: bool,
    /// As written: absolute, or relative to the record file's folder; None if not local.
    pub result_storage: Option<String>,
}

/// A record that does not follow the format: what is wrong, naming the field, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RecordError {
    /// What is wrong, naming the field: `task_run.id: expected a string or null, found 12`.
    pub message: String,
    /// The path of the offending value; for a missing field, of the object that lacks it.
    pub at: Vec<Step>,
}

impl RecordError {
    /// Where the fault is in `text`, the record text that was parsed: the byte offset of the
    /// offending value, and the message, with a note when a key on its path repeats (the last
    /// one counts, so the first one a reader sees may look right).
    ///
    /// The tree keeps no positions, so this scans the text again; it runs only on an error.
    pub fn locate(&self, text: &str) -> (usize, String) {
        match locate(text, &self.at) {
            Some(found) => match found.repeated {
                Some((step, times)) => (
                    found.offset,
                    format!(
                        "{} (`{}` is given {times} times in its object; the last one counts, as \
                         Python's json.loads reads it)",
                        self.message,
                        path_name(&self.at[..=step]),
                    ),
                ),
                None => (found.offset, self.message.clone()),
            },
            // Not reached for text that parsed into the value read; the record's start then.
            None => (
                text.len() - text.trim_start_matches([' ', '\t', '\n', '\r']).len(),
                self.message.clone(),
            ),
        }
    }
}

fn err(at: Vec<Step>, message: String) -> RecordError {
    RecordError { message, at }
}

/// `at` and one more key.
fn child(at: &[Step], field: &str) -> Vec<Step> {
    let mut path = at.to_vec();
    path.push(Step::Key(field.to_string()));
    path
}

/// The error for a value of the wrong kind at `at`.
fn wrong_at(at: Vec<Step>, expected: &str, found: &Value) -> RecordError {
    let message = format!(
        "{}: expected {expected}, found {}",
        path_name(&at),
        describe(found)
    );
    err(at, message)
}

/// Reads fields of one JSON object, naming the full field path in errors.
struct Fields<'a> {
    value: &'a Value,
    at: Vec<Step>,
}

impl<'a> Fields<'a> {
    fn of(value: &'a Value, at: Vec<Step>) -> Result<Fields<'a>, RecordError> {
        match value {
            Value::Object(_) => Ok(Fields { value, at }),
            _ if at.is_empty() => {
                let message = format!(
                    "expected a run record (a JSON object), found {}",
                    describe(value)
                );
                Err(err(at, message))
            }
            _ => Err(wrong_at(at, "an object", value)),
        }
    }

    fn name(&self, field: &str) -> String {
        path_name(&child(&self.at, field))
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.value.get(field)
    }

    fn required(&self, field: &str) -> Result<&'a Value, RecordError> {
        self.get(field).ok_or_else(|| {
            err(
                self.at.clone(),
                format!("missing required field `{}`", self.name(field)),
            )
        })
    }

    /// A string or null (or absent).
    fn opt_str(&self, field: &str) -> Result<Option<String>, RecordError> {
        match self.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong(field, "a string or null", other)),
        }
    }

    fn req_str(&self, field: &str) -> Result<String, RecordError> {
        match self.required(field)? {
            Value::Str(s) => Ok(s.clone()),
            other => Err(self.wrong(field, "a string", other)),
        }
    }

    fn opt_bool(&self, field: &str) -> Result<Option<bool>, RecordError> {
        match self.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong(field, "true or false", other)),
        }
    }

    /// A non-negative integer that fits in 64 bits, or null (or absent); `what` says which.
    fn opt_u64(&self, field: &str, what: &str) -> Result<Option<u64>, RecordError> {
        match self.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Int(text)) => text
                .parse::<u64>()
                .map(Some)
                .map_err(|_| self.wrong(field, what, v)),
            Some(other) => Err(self.wrong(field, what, other)),
        }
    }

    fn opt_object(&self, field: &str) -> Result<Option<&'a Value>, RecordError> {
        match self.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v)),
            Some(other) => Err(self.wrong(field, "an object or null", other)),
        }
    }

    /// The object in `field`, which [`Fields::opt_object`] found.
    fn object(&self, field: &str, value: &'a Value) -> Result<Fields<'a>, RecordError> {
        Fields::of(value, child(&self.at, field))
    }

    fn wrong(&self, field: &str, expected: &str, found: &Value) -> RecordError {
        wrong_at(child(&self.at, field), expected, found)
    }
}

/// A value as an error message shows it: short scalars as written, long ones cut.
fn describe(v: &Value) -> String {
    fn cut(text: &str, max: usize) -> String {
        match text.char_indices().nth(max) {
            Some((end, _)) => format!("{}… ({} characters)", &text[..end], text.chars().count()),
            None => text.to_string(),
        }
    }
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(text) if text.len() > 24 => format!(
            "an integer of {} digits",
            text.trim_start_matches('-').len()
        ),
        Value::Int(text) => text.clone(),
        Value::Float(f) => match &f.text {
            Some(text) => cut(text, 24),
            None => float_repr(f.value),
        },
        Value::Str(s) => match s.char_indices().nth(40) {
            Some((end, _)) => format!("{:?}… ({} characters)", &s[..end], s.chars().count()),
            None => format!("{s:?}"),
        },
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

impl RunRecord {
    /// Reads a record from its parsed JSON. The encoded inputs and flow parameters, the bulk
    /// of a record, are moved out rather than copied.
    pub fn from_value(mut value: Value) -> Result<RunRecord, RecordError> {
        let inputs = take_field(&mut value, "inputs");
        let parameters = match &mut value {
            Value::Object(entries) => match entries
                .iter_mut()
                .find(|(k, _)| matches!(k, Key::Str(s) if s == "flow"))
            {
                Some((_, flow)) => take_field(flow, "parameters"),
                None => None,
            },
            _ => None,
        };
        let mut record = RunRecord::read(&value)?;
        record.inputs = object_or_null(inputs, &["inputs"])?;
        if let Some(flow) = &mut record.flow {
            flow.parameters = object_or_null(parameters, &["flow", "parameters"])?;
        }
        Ok(record)
    }

    /// Reads every field but the inputs and flow parameters.
    fn read(value: &Value) -> Result<RunRecord, RecordError> {
        let top = Fields::of(value, Vec::new())?;
        let format = top.req_str("format")?;
        if format != FORMAT_V1 {
            let found = Value::Str(format);
            return Err(top.wrong("format", &format!("{FORMAT_V1:?}"), &found));
        }
        let environment = match top.opt_object("environment")? {
            Some(env) => {
                let env = top.object("environment", env)?;
                Environment {
                    prefect: env.opt_str("prefect")?,
                    python: env.opt_str("python")?,
                }
            }
            None => Environment::default(),
        };
        let flow = match top.opt_object("flow")? {
            Some(flow) => {
                let f = top.object("flow", flow)?;
                Some(FlowInfo {
                    name: f.opt_str("name")?,
                    run_id: f.opt_str("run_id")?,
                    run_name: f.opt_str("run_name")?,
                    parameters: None,
                })
            }
            None => None,
        };
        let task = top.object("task", top.required("task")?)?;
        let line = task.opt_u64("line", "a line number or null")?;
        let task_info = TaskInfo {
            name: task.req_str("name")?,
            task_key: task.opt_str("task_key")?,
            qualname: task.opt_str("qualname")?,
            file: task.opt_str("file")?,
            line,
            source: task.opt_str("source")?,
            result_storage_key: read_storage_key(&task)?.map(Box::new),
        };
        let task_run = match top.opt_object("task_run")? {
            Some(tr) => {
                let tr = top.object("task_run", tr)?;
                TaskRunInfo {
                    id: tr.opt_str("id")?,
                    name: tr.opt_str("name")?,
                    dynamic_key: tr.opt_str("dynamic_key")?,
                    call_index: tr.opt_u64("call_index", "a non-negative integer or null")?,
                    map_index: tr.opt_u64("map_index", "a non-negative integer or null")?,
                }
            }
            None => TaskRunInfo::default(),
        };
        let policy = match top.required("policy")? {
            Value::Null => None,
            node => Some(read_node(node, child(&[], "policy"))?),
        };
        // `key` must be present (null is a real answer: no key) so that a truncated record
        // is not read as "no cache key".
        top.required("key")?;
        let key = top.opt_str("key")?;
        let outcome = match top.opt_object("outcome")? {
            Some(o) => {
                let o = top.object("outcome", o)?;
                Outcome {
                    state: o.opt_str("state")?,
                    cache_hit: o.opt_bool("cache_hit")?.unwrap_or(false),
                    cache_expiration: o.opt_str("cache_expiration")?,
                    refresh_cache: o.opt_bool("refresh_cache")?.unwrap_or(false),
                    result_storage: o.opt_str("result_storage")?,
                }
            }
            None => Outcome::default(),
        };
        Ok(RunRecord {
            recorded_at: top.opt_str("recorded_at")?,
            environment,
            project_root: top.opt_str("project_root")?,
            flow,
            task: task_info,
            task_run,
            inputs: None,
            policy,
            key,
            outcome,
            transaction: read_transaction(&top)?.map(Box::new),
        })
    }

    /// The id RunId hashes: the flow run's, or the task run's outside a flow.
    pub fn run_id(&self) -> Option<&str> {
        match &self.flow {
            Some(flow) => flow.run_id.as_deref(),
            None => self.task_run.id.as_deref(),
        }
    }

    /// `project_root` resolved against the folder that holds the record file.
    pub fn project_root_in(&self, record_dir: &Path) -> Option<PathBuf> {
        self.project_root
            .as_deref()
            .map(|p| normalize(&record_dir.join(p)))
    }

    /// `outcome.result_storage` resolved against the folder that holds the record file.
    pub fn result_storage_in(&self, record_dir: &Path) -> Option<PathBuf> {
        self.outcome
            .result_storage
            .as_deref()
            .map(|p| normalize(&record_dir.join(p)))
    }
}

/// Folds `.` and `name/..` out of a path without touching the file system, so that
/// `runs/a/../../storage` reads as `storage`. Leading `..` of a relative path are kept.
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// Removes a field from an object (the parser has already merged duplicate keys).
fn take_field(value: &mut Value, field: &str) -> Option<Value> {
    let Value::Object(entries) = value else {
        return None;
    };
    let pos = entries
        .iter()
        .position(|(k, _)| matches!(k, Key::Str(s) if s == field))?;
    Some(entries.remove(pos).1)
}

fn object_or_null(value: Option<Value>, path: &[&str]) -> Result<Option<Value>, RecordError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(other) => {
            let at = path.iter().map(|k| Step::Key(k.to_string())).collect();
            Err(wrong_at(at, "an object or null", &other))
        }
    }
}

fn read_node(value: &Value, at: Vec<Step>) -> Result<PolicyNode, RecordError> {
    let f = Fields::of(value, at)?;
    let class = f.req_str("policy")?;
    let kind = match class.as_str() {
        "Inputs" => PolicyKind::Inputs {
            exclude: read_str_list(&f, "exclude")?,
        },
        "TaskSource" => PolicyKind::TaskSource,
        "FlowParameters" => PolicyKind::FlowParameters,
        "RunId" => PolicyKind::RunId,
        "CacheKeyFnPolicy" => PolicyKind::CacheKeyFn {
            function: f.opt_str("function")?,
        },
        "_None" => PolicyKind::NoCache,
        "CompoundCachePolicy" => {
            let children = match f.required("policies")? {
                Value::Array(items) => items,
                other => return Err(f.wrong("policies", "an array", other)),
            };
            let policies = children
                .iter()
                .enumerate()
                .map(|(i, node)| {
                    let mut at = child(&f.at, "policies");
                    at.push(Step::Index(i));
                    read_node(node, at)
                })
                .collect::<Result<Vec<_>, _>>()?;
            PolicyKind::Compound { policies }
        }
        _ => PolicyKind::Other { class },
    };
    // The key may be absent only if the node was never reached; null means "returned None".
    let key = f.opt_str("key")?;
    let reproducible = f.opt_bool("reproducible")?.unwrap_or(true);
    Ok(PolicyNode {
        kind,
        configure: Configure {
            key_storage: f.opt_str("key_storage")?,
            isolation_level: f.opt_str("isolation_level")?,
            lock_manager: f.opt_str("lock_manager")?,
        }
        .into(),
        recorded: Some(Recorded {
            key,
            reproducible,
            reason: f.opt_str("reason")?,
        }),
    })
}

fn read_storage_key(task: &Fields) -> Result<Option<StorageKeyTemplate>, RecordError> {
    let Some(value) = task.opt_object("result_storage_key")? else {
        return Ok(None);
    };
    let f = task.object("result_storage_key", value)?;
    Ok(Some(StorageKeyTemplate {
        template: f.req_str("template")?,
        reproducible: f.opt_bool("reproducible")?.unwrap_or(true),
        reason: f.opt_str("reason")?,
    }))
}

fn read_transaction(top: &Fields) -> Result<Option<TransactionInfo>, RecordError> {
    let Some(value) = top.opt_object("transaction")? else {
        return Ok(None);
    };
    let f = top.object("transaction", value)?;
    let failed = match f.opt_object("failed")? {
        Some(v) => {
            let r = f.object("failed", v)?;
            Some(FailedRun {
                task: r.opt_str("task")?,
                task_run: r.opt_str("task_run")?,
                state: r.opt_str("state")?,
            })
        }
        None => None,
    };
    Ok(Some(TransactionInfo {
        id: f.opt_str("id")?,
        key: f.opt_str("key")?,
        outcome: f.opt_str("outcome")?,
        failed,
    }))
}

fn read_str_list(f: &Fields, field: &str) -> Result<Vec<String>, RecordError> {
    match f.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Str(s) => Ok(s.clone()),
                other => {
                    let mut at = child(&f.at, field);
                    at.push(Step::Index(i));
                    Err(wrong_at(at, "a string", other))
                }
            })
            .collect(),
        Some(other) => Err(f.wrong(field, "a list of strings", other)),
    }
}

/// True when an encoded value holds a `{"__cachescope_repr__": ...}` placeholder: something
/// JSON could not encode, so the key that hashed it came from cloudpickle.
pub fn holds_placeholder(value: &Value) -> bool {
    match value {
        Value::Object(entries) => entries.iter().any(|(k, v)| {
            matches!(k, Key::Str(s) if s == "__cachescope_repr__") && entries.len() == 1
                || holds_placeholder(v)
        }),
        Value::Array(items) => items.iter().any(holds_placeholder),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;
    use std::path::Path;

    #[test]
    fn normalize_folds_dots_lexically() {
        assert_eq!(
            normalize(Path::new("runs/a/b/../../../storage")),
            Path::new("storage")
        );
        assert_eq!(normalize(Path::new("./runs/./a")), Path::new("runs/a"));
        assert_eq!(normalize(Path::new("../x/../y")), Path::new("../y"));
        assert_eq!(normalize(Path::new("/a/../../b")), Path::new("/b"));
        assert_eq!(normalize(Path::new("a/..")), Path::new("."));
    }

    fn read(task_run: &str) -> Result<super::RunRecord, super::RecordError> {
        let text = format!(
            r#"{{"format": "cachescope/run-record@1", "task": {{"name": "t"}}, "policy": null,
                "key": null, "task_run": {task_run}}}"#
        );
        super::RunRecord::from_value(crate::pyjson::parse(&text).unwrap())
    }

    #[test]
    fn which_call_a_run_was_is_read_when_recorded_and_absent_in_older_records() {
        let r = read(
            r#"{"id": "u", "name": "t-1c8", "dynamic_key": "1c8e", "call_index": 5,
                "map_index": 2}"#,
        )
        .unwrap();
        assert_eq!(r.task_run.dynamic_key.as_deref(), Some("1c8e"));
        assert_eq!(
            (r.task_run.call_index, r.task_run.map_index),
            (Some(5), Some(2))
        );
        let old = read(r#"{"id": "u", "name": "t-1c8"}"#).unwrap();
        assert_eq!(old.task_run.dynamic_key, None);
        assert_eq!(
            (old.task_run.call_index, old.task_run.map_index),
            (None, None)
        );
        let unmapped = read(r#"{"id": "u", "call_index": 0, "map_index": null}"#).unwrap();
        assert_eq!(
            (unmapped.task_run.call_index, unmapped.task_run.map_index),
            (Some(0), None)
        );
        let wrong = read(r#"{"map_index": -1}"#).unwrap_err();
        assert!(
            wrong.message.contains("task_run.map_index"),
            "{}",
            wrong.message
        );
        let wrong = read(r#"{"call_index": "3"}"#).unwrap_err();
        assert!(
            wrong.message.contains("task_run.call_index"),
            "{}",
            wrong.message
        );
    }

    /// The fault in `text`: its message and the text from where it is placed.
    fn fault(text: &str) -> (String, String) {
        let e = super::RunRecord::from_value(crate::pyjson::parse(text).unwrap()).unwrap_err();
        let (offset, message) = e.locate(text);
        (message, text[offset..].chars().take(12).collect())
    }

    // Issue 12: an error names the field and sits on the offending value (for a missing field,
    // the object that lacks it), however the record is laid out.
    #[test]
    fn a_fault_names_its_field_and_is_placed_on_its_value() {
        let base = r#"{"format": "cachescope/run-record@1", "task": {"name": "t", "line": 3},
            "task_run": {"id": "u"}, "policy": {"policy": "CompoundCachePolicy", "key": "k",
            "policies": [{"policy": "TaskSource", "key": "a"},
                         {"policy": "Inputs", "key": "b", "exclude": ["x", "y"]}]},
            "inputs": {"x": 1}, "flow": {"run_id": "r", "parameters": {"n": 1}}, "key": "k"}"#;
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                r#""task_run": {"id": "u"}"#,
                r#""task_run": {"id": 12}"#,
                "task_run.id: expected a string or null, found 12",
                "12}",
            ),
            (
                r#""cachescope/run-record@1""#,
                r#""cachescope/run-record@9""#,
                r#"format: expected "cachescope/run-record@1", found "cachescope/run-record@9""#,
                r#""cachescope/"#,
            ),
            (
                r#"{"name": "t", "line": 3}"#,
                r#"{"line": 3}"#,
                "missing required field `task.name`",
                r#"{"line": 3}"#,
            ),
            (
                r#""line": 3"#,
                r#""line": 100000000000000000000000000000"#,
                "task.line: expected a line number or null, found an integer of 30 digits",
                "100000000000",
            ),
            (
                r#""exclude": ["x", "y"]"#,
                r#""exclude": ["x", 7]"#,
                "policy.policies[1].exclude[1]: expected a string, found 7",
                "7]}]},",
            ),
            (
                r#""key": "a""#,
                r#""key": NaN"#,
                "policy.policies[0].key: expected a string or null, found NaN",
                "NaN},",
            ),
            (
                r#""key": "k"}"#,
                r#""key": -Infinity}"#,
                "key: expected a string or null, found -Infinity",
                "-Infinity}",
            ),
            (
                r#""inputs": {"x": 1}"#,
                r#""inputs": [1]"#,
                "inputs: expected an object or null, found an array",
                "[1],",
            ),
            (
                r#""parameters": {"n": 1}"#,
                r#""parameters": "n""#,
                r#"flow.parameters: expected an object or null, found "n""#,
                r#""n"}, "key""#,
            ),
            (
                r#""task": {"name": "t", "line": 3}"#,
                r#""task": ["t"]"#,
                "task: expected an object, found an array",
                r#"["t"],"#,
            ),
            (
                r#""task": {"name": "t", "line": 3}"#,
                r#""task": {"name": "t", "line": 3}, "task": {"name": 1}"#,
                "task.name: expected a string, found 1 (`task` is given 2 times in its object; the last \
                 one counts",
                "1}",
            ),
        ];
        for (from, to, message, place) in cases {
            assert_eq!(base.matches(from).count(), 1, "{from}");
            let text = base.replacen(from, to, 1);
            let (got, at) = fault(&text);
            assert!(got.starts_with(message), "{text}\n{got}\nwanted {message}");
            assert!(
                at.starts_with(&place[..place.len().min(12)]),
                "{got}: at {at:?}, wanted {place:?}"
            );
        }
    }
}
