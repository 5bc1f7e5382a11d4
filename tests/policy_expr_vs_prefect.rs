//! Differential test: every expression below is evaluated by real Prefect 3.9.1 (through
//! tests/py/policy_expr_eval.py) and by `parse_policy`, and the whole results must be equal:
//! class, children in order, exclude lists, configure fields, or the exception class and message.
//! Python's own SyntaxError messages are not compared, only that both sides reject.
//!
//! Prefect runs in the shared test venv (tests/support/mod.rs; the recorder installed there stays
//! off without CACHESCOPE_RUNS). A missing Python or a failed install fails the test.

mod support;

use std::io::Write;
use std::process::Stdio;

use cachescope::policy::{ExprError, PolicyKind, PolicyNode, parse_policy};
use serde_json::{Value, json};

/// (expression, the rule it exercises).
const CASES: &[(&str, &str)] = &[
    // Constants, bare and through the module.
    ("INPUTS", "constant"),
    ("TASK_SOURCE", "constant"),
    ("FLOW_PARAMETERS", "constant"),
    ("RUN_ID", "constant"),
    ("DEFAULT", "DEFAULT is [TaskSource, RunId, Inputs]"),
    ("NO_CACHE", "constant"),
    ("NONE", "constant"),
    ("cache_policies.DEFAULT", "module prefix"),
    (
        "prefect.cache_policies.RUN_ID + cache_policies.NO_CACHE",
        "module prefix",
    ),
    // Constructors.
    ("Inputs()", "constructor"),
    (
        r#"Inputs(exclude=["b", "a", "b"])"#,
        "exclude kept as given",
    ),
    (r#"Inputs(["a"])"#, "first positional field is key_storage"),
    (
        r#"RunId("/k", "SERIALIZABLE", lock_a)"#,
        "positional dataclass fields",
    ),
    ("TaskSource() + FlowParameters() + RunId()", "constructors"),
    ("_None()", "constructor"),
    ("CompoundCachePolicy()", "empty compound"),
    (
        r#"CompoundCachePolicy(policies=[INPUTS - "b", TASK_SOURCE, Inputs(exclude=["a", "b"]), DEFAULT])"#,
        "post_init flattens and merges Inputs at the end",
    ),
    (
        r#"CompoundCachePolicy(policies=[TASK_SOURCE.configure(key_storage="/c")], key_storage="/k")"#,
        "compound fields and child fields",
    ),
    (
        "CompoundCachePolicy(policies=[NONE, RUN_ID, NONE])",
        "post_init keeps _None",
    ),
    ("CacheKeyFnPolicy()", "constructor"),
    (
        "CacheKeyFnPolicy(cache_key_fn=key_fn) + INPUTS",
        "cache_key_fn by name",
    ),
    (
        r#"cache_policies.Inputs(exclude=['x'])"#,
        "module prefix on a class",
    ),
    // +
    ("INPUTS + TASK_SOURCE", "+ moves Inputs to the end"),
    ("TASK_SOURCE + INPUTS", "+"),
    ("INPUTS + TASK_SOURCE + RUN_ID", "left-associative +"),
    (
        "INPUTS + (TASK_SOURCE + RUN_ID)",
        "parentheses; right compound flattened",
    ),
    ("TASK_SOURCE + TASK_SOURCE", "duplicates kept"),
    ("DEFAULT + DEFAULT", "compound + compound"),
    ("TASK_SOURCE + NO_CACHE", "p + _None is p"),
    ("NO_CACHE + TASK_SOURCE", "_None + p is p"),
    ("DEFAULT + NO_CACHE", "compound + _None appends it"),
    (
        "(INPUTS + TASK_SOURCE) + NONE + RUN_ID",
        "compound + _None appends it",
    ),
    ("NONE + NONE", "_None + _None"),
    ("NONE + DEFAULT", "_None + compound"),
    (r#"NONE + "x""#, "_None + x returns x unchecked"),
    // -
    (
        r#"INPUTS - "x" - "a" - "x""#,
        "Inputs - appends, no sort or dedup",
    ),
    (
        r#"DEFAULT - "x" - "a" - "x""#,
        "compound - re-merges sorted",
    ),
    (r#"TASK_SOURCE - "x""#, "- on other policies is a no-op"),
    (
        r#"(TASK_SOURCE + RUN_ID) - "x""#,
        "compound without Inputs ignores -",
    ),
    (
        r#"INPUTS + TASK_SOURCE - "b" - "a""#,
        "+ and - share precedence",
    ),
    (
        r#"INPUTS - "b" + TASK_SOURCE - "a""#,
        "+ and - left to right",
    ),
    (r#"TASK_SOURCE + (INPUTS - "b")"#, "parentheses"),
    (r#"TASK_SOURCE - "x" + INPUTS"#, "- before Inputs joined"),
    (r#"NONE - "x""#, "_None - x"),
    (
        r#"RUN_ID + TASK_SOURCE.configure(key_storage="/k") - "x""#,
        "configure binds tighter than +",
    ),
    (r#"INPUTS - ("a" + "b")"#, "str + str"),
    (r#"Inputs(exclude=["a"] + ["b"]) - "c""#, "list + list"),
    // configure()
    (
        r#"INPUTS.configure(key_storage="/k", isolation_level="SERIALIZABLE", lock_manager=lock_a)"#,
        "configure sets fields",
    ),
    (
        r#"DEFAULT.configure(key_storage=Path("/k/"))"#,
        "configure on a compound leaves children",
    ),
    (
        r#"TASK_SOURCE.configure("/k", lock_a, "READ_COMMITTED")"#,
        "configure positional order",
    ),
    (
        r#"TASK_SOURCE.configure(key_storage="/a").configure(key_storage="/b", isolation_level=None)"#,
        "configure None keeps",
    ),
    (
        r#"TASK_SOURCE.configure(lock_manager="locks", key_storage=storage_block)"#,
        "string lock, opaque storage",
    ),
    (
        r#"INPUTS.configure(key_storage="/k") + TASK_SOURCE"#,
        "merged Inputs loses its fields",
    ),
    (
        r#"TASK_SOURCE + RUN_ID.configure(isolation_level="SERIALIZABLE", key_storage="/k")"#,
        "compound takes self or other",
    ),
    (
        r#"TASK_SOURCE.configure(key_storage="/k") + RUN_ID.configure(key_storage="/k")"#,
        "equal storage is fine",
    ),
    (
        r#"TASK_SOURCE.configure(key_storage="") + RUN_ID"#,
        "'' or None is None",
    ),
    (
        r#"TASK_SOURCE.configure(key_storage="") + RUN_ID.configure(key_storage="/k")"#,
        "'' still conflicts",
    ),
    (
        r#"RunId([]) + TASK_SOURCE.configure(key_storage=[])"#,
        "[] or [] keeps the second",
    ),
    (
        r#"DEFAULT.configure(key_storage="/a") + NONE.configure(key_storage="/b")"#,
        "compound + _None skips the checks",
    ),
    (
        r#"TASK_SOURCE.configure(key_storage="/a") + NONE.configure(key_storage="/b")"#,
        "p + _None",
    ),
    (
        r#"NONE.configure(key_storage="/b") + TASK_SOURCE.configure(key_storage="/a")"#,
        "_None + p",
    ),
    (
        r#"Inputs(["a"]) + RunId(["a"])"#,
        "equal lists do not conflict",
    ),
    (
        r#"TASK_SOURCE.configure(key_storage=Path("/k//x/./")) + RUN_ID.configure(key_storage=Path("/k/x"))"#,
        "Path normalises",
    ),
    (
        r#"RUN_ID.configure(key_storage=Path("a", "/b", Path("c/")))"#,
        "Path joins",
    ),
    (r#"RUN_ID.configure(key_storage=Path(""))"#, "Path('') is ."),
    (
        r#"RUN_ID.configure(key_storage=DEFAULT)"#,
        "a policy as a value",
    ),
    (
        r#"RUN_ID.configure(key_storage="py:x", lock_manager=["a", Path("b")])"#,
        "py: prefix escaped",
    ),
    // Strings.
    (
        r#"INPUTS - 'it\'s' - "say \"hi\"" - "tab\there""#,
        "quotes and escapes",
    ),
    (
        r#"INPUTS - "\x41\101\u00e9\U0001F600\n\d" - r"C:\keys\" x""#,
        "escapes, raw strings",
    ),
    (r#"INPUTS - 'a' "b" u'c'"#, "adjacent literals join"),
    (
        r#"RUN_ID.configure(key_storage=["it's", 'say "hi"', "both '\""])"#,
        "repr quoting",
    ),
    // Inside parentheses, as in a decorator; cachescope also takes newlines without them.
    (
        "(INPUTS\n  + TASK_SOURCE  # comment\n  - 'x')",
        "newlines and comments",
    ),
    // Prefect's errors.
    (
        r#"TASK_SOURCE.configure(key_storage="/tmp") + RUN_ID.configure(key_storage=Path("/tmp"))"#,
        "str != Path",
    ),
    (
        r#"TASK_SOURCE.configure(key_storage="/a") + RUN_ID.configure(key_storage="/b")"#,
        "storage conflict",
    ),
    (
        r#"DEFAULT.configure(isolation_level="SERIALIZABLE") + INPUTS.configure(isolation_level="READ_COMMITTED")"#,
        "isolation conflict from a compound",
    ),
    (
        r#"RUN_ID.configure(lock_manager=lock_a) + TASK_SOURCE.configure(lock_manager=lock_b)"#,
        "lock conflict",
    ),
    (
        r#"RUN_ID.configure(lock_manager=lock_a) + TASK_SOURCE.configure(lock_manager="lock_a")"#,
        "lock conflict",
    ),
    ("INPUTS - INPUTS", "subtract a non-string"),
    (r#"DEFAULT - ["x"]"#, "subtract a non-string"),
    ("TASK_SOURCE - None", "subtract a non-string"),
    (r#"NONE - Path("x")"#, "subtract a non-string"),
    // Python's errors.
    (r#"INPUTS + "x""#, "policy + str"),
    (r#"DEFAULT + None"#, "policy + None"),
    (r#""x" + INPUTS"#, "str + policy"),
    (r#""a" - "b""#, "str - str"),
    (r#"["a"] + INPUTS"#, "list + policy"),
    (r#"Path("a") + INPUTS"#, "Path + policy"),
    (r#"NONE + "x" + INPUTS"#, "_None + str, then str + policy"),
    ("INPUT + TASK_SOURCE", "undefined name"),
    ("cache_policies.INPUT", "missing module attribute"),
    (r#"INPUTS.configure(foo="x")"#, "unexpected keyword"),
    (
        r#"INPUTS.configure("a", "b", "c", "d")"#,
        "too many positionals",
    ),
    (
        r#"INPUTS.configure("a", key_storage="b")"#,
        "multiple values",
    ),
    (r#"Inputs(foo=["a"])"#, "unexpected keyword"),
    (r#"TaskSource("a", "b", "c", "d")"#, "too many positionals"),
    (
        r#"Inputs("a", "b", "c", "d", "e", foo="f")"#,
        "keywords checked before the count",
    ),
    ("INPUTS()", "not callable"),
    (r#""x".configure()"#, "configure on a str"),
    ("Path(None)", "Path of None"),
    (
        r#"INPUTS + TASK_SOURCE.configure(foo="x" - "y")"#,
        "arguments before binding",
    ),
    (r#"(INPUTS + "x") + INPUT"#, "errors come left to right"),
    // Syntax errors, which Python reports before evaluating anything.
    ("INPUTS +", "syntax"),
    (r#"INPUTS + "x" +"#, "syntax wins over a runtime error"),
    (
        r#"INPUTS.configure(key_storage="a", key_storage="b")"#,
        "repeated keyword",
    ),
    (r#"Inputs(exclude=["a"], "b")"#, "positional after keyword"),
    ("INPUTS - 'x", "unterminated string"),
    ("(INPUTS + RUN_ID", "unclosed parenthesis"),
];

/// Prefect's messages that the cases must keep covering.
const PREFECT_ERRORS: &[&str] = &[
    "Cannot add CachePolicies with different storage locations.",
    "Cannot add CachePolicies with different isolation levels.",
    "Cannot add CachePolicies with different lock implementations.",
    "Can only subtract strings from key policies.",
];

/// What real Prefect makes of each expression, in order.
fn evaluate_with_prefect(exprs: &[&str]) -> Vec<Value> {
    let home = tempfile::tempdir().expect("temporary PREFECT_HOME");
    let script = support::repo_root().join("tests/py/policy_expr_eval.py");
    let mut child = support::prefect_venv()
        .command()
        .arg(&script)
        .env("PREFECT_HOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the venv's python");
    let input = serde_json::to_vec(exprs).unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&input)
        .expect("write expressions");
    let out = child.wait_with_output().expect("run policy_expr_eval.py");
    assert!(
        out.status.success(),
        "policy_expr_eval.py failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> =
        serde_json::from_slice(&out.stdout).expect("policy_expr_eval.py prints a JSON list");
    assert_eq!(results.len(), exprs.len(), "one result per expression");
    results
}

/// The tree in the helper's JSON shape.
fn describe(node: &PolicyNode) -> Value {
    let c = &node.configure;
    let mut tree = json!({
        "class": node.class_name(),
        "key_storage": c.key_storage,
        "isolation_level": c.isolation_level,
        "lock_manager": c.lock_manager,
    });
    match &node.kind {
        PolicyKind::Inputs { exclude } => tree["exclude"] = json!(exclude),
        PolicyKind::Compound { policies } => {
            tree["policies"] = policies.iter().map(describe).collect()
        }
        PolicyKind::CacheKeyFn { function } => tree["cache_key_fn"] = json!(function),
        _ => {}
    }
    tree
}

fn evaluate_with_cachescope(expr: &str) -> Value {
    match parse_policy(expr) {
        Ok(node) => json!({ "policy": describe(&node) }),
        Err(ExprError::NotAPolicy { type_name }) => json!({ "value_type": type_name }),
        Err(ExprError::Python { exception, message }) => {
            json!({ "error": exception, "message": message })
        }
        Err(ExprError::Syntax { .. }) => json!({ "error": "SyntaxError" }),
    }
}

#[test]
fn expressions_evaluate_like_prefect_3_9_1() {
    let exprs: Vec<&str> = CASES.iter().map(|(expr, _)| *expr).collect();
    let from_prefect = evaluate_with_prefect(&exprs);

    let mut mismatches = Vec::new();
    for ((expr, rule), mut expected) in CASES.iter().zip(from_prefect) {
        // Only that both sides reject: our messages say more (column, what was expected).
        if expected["error"] == "SyntaxError" {
            expected = json!({ "error": "SyntaxError" });
        }
        let actual = evaluate_with_cachescope(expr);
        if actual != expected {
            mismatches.push(format!(
                "{expr}\n  rule: {rule}\n  prefect:    {}\n  cachescope: {}",
                serde_json::to_string(&expected).unwrap(),
                serde_json::to_string(&actual).unwrap()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} expressions differ from Prefect 3.9.1:\n\n{}",
        mismatches.len(),
        CASES.len(),
        mismatches.join("\n\n")
    );
}

#[test]
fn cases_cover_every_prefect_error() {
    let messages: Vec<String> = CASES
        .iter()
        .filter_map(|(expr, _)| match parse_policy(expr) {
            Err(ExprError::Python { message, .. }) => Some(message),
            _ => None,
        })
        .collect();
    for wanted in PREFECT_ERRORS {
        assert!(
            messages.iter().any(|m| m == wanted),
            "no case raises {wanted:?}"
        );
    }
    assert!(
        CASES.len() >= 50,
        "keep at least 50 expressions, have {}",
        CASES.len()
    );
}
