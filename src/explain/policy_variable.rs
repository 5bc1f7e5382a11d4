//! A cache policy held in a module-level variable: `@task(cache_policy=MY_POLICY)` with
//! `MY_POLICY = INPUTS + TASK_SOURCE - "debug"` above it in the task's file.
//!
//! Python evaluates a decorator when its `def` runs, as the module is imported, so a name in
//! `cache_policy=` means the binding in force at the task's first decorator line: the last
//! statement before it that binds the name. [`resolve`] finds that statement in the file's
//! [`ModuleBindings`] and, when it is a plain top-level assignment, evaluates its value with
//! [`parse_policy_in`], after resolving the names the value uses in turn at *its* line
//! (`BASE = INPUTS + TASK_SOURCE`, then `MY_POLICY = BASE - "debug"`). Every step goes to a
//! statement strictly earlier in the file, so a cycle is impossible (`A = B` above `B = A` is
//! Python's NameError, reported as a name not yet assigned); a depth limit keeps the work
//! bounded all the same. `P += RUN_ID` is `P + (RUN_ID)` at its line, which is what Python
//! computes (policies have no `__iadd__`), and `from prefect.cache_policies import INPUTS as
//! IN` makes `IN` Prefect's `INPUTS`.
//!
//! Everything else that binds the name makes it unreadable, said in one line
//! ([`Unresolved::Unreadable`]): an import from another module, a function call or a class
//! instance (cachescope runs no user code), a binding in an `if`/`try`/`for` block (it may not
//! run), inside the function or class around the task, through `global` in a function, a `for`
//! loop, unpacking, `del`, or a later `from m import *` that may replace it.

use std::collections::HashMap;

use crate::policy::{ExprError, PolicyNode, constant, module_names, parse_policy_in};

use super::module_bindings::{Binding, How, ModuleBindings, Place};

/// At most this many names deep (`MY_POLICY` through `BASE` through ...).
const MAX_DEPTH: usize = 8;

/// The module a decorator is evaluated in, as the file is now.
pub struct Module<'a> {
    pub bindings: &'a ModuleBindings,
    /// The file's name, for the lines named in messages (`flows.py:12`).
    pub file: &'a str,
}

/// An expression evaluated with its module names resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub tree: PolicyNode,
    /// Each module name it went through, with the line and the value it was read from.
    pub names: Vec<(String, usize, String)>,
}

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum Unresolved {
    /// The expression itself is not one cachescope evaluates (or Python would raise).
    Expr(ExprError),
    /// A name it uses cannot be read: which, and why ("is imported from module `policies`
    /// (flows.py:3)").
    Unreadable { name: String, why: String },
    /// A name's assignment was found but its value does not evaluate.
    Invalid {
        name: String,
        line: usize,
        value: String,
        error: ExprError,
    },
}

/// Where a name is looked up.
#[derive(Debug, Clone, Copy)]
enum At {
    /// A decorator at this line: the bindings before it, including those of the function or
    /// class the task is defined in.
    Line(usize),
    /// The value of the statement at this position: the module's bindings before it.
    Statement { line: usize, order: usize },
}

impl At {
    fn line(self) -> usize {
        match self {
            At::Line(line) | At::Statement { line, .. } => line,
        }
    }

    fn after(self, b: &Binding) -> bool {
        match self {
            At::Line(line) => b.line < line,
            At::Statement { order, .. } => b.order < order,
        }
    }
}

/// Evaluates `expr`, written in a decorator whose first line is `line`.
pub fn resolve(expr: &str, line: usize, module: &Module) -> Result<Resolved, Unresolved> {
    let mut names = Vec::new();
    let tree = resolve_at(expr, At::Line(line), module, 0, &mut names)?;
    Ok(Resolved { tree, names })
}

fn resolve_at(
    expr: &str,
    at: At,
    module: &Module,
    depth: usize,
    used: &mut Vec<(String, usize, String)>,
) -> Result<PolicyNode, Unresolved> {
    let mut bound: HashMap<String, PolicyNode> = HashMap::new();
    for name in module_names(expr).map_err(Unresolved::Expr)? {
        if name.called {
            return Err(Unresolved::Unreadable {
                why: format!("is a call to {}", callee(module, &name.name, at)),
                name: name.name,
            });
        }
        let unreadable = |why: String| Unresolved::Unreadable {
            name: name.name.clone(),
            why,
        };
        let (binding, value) = lookup(module, &name.name, at).map_err(unreadable)?;
        if depth >= MAX_DEPTH {
            return Err(unreadable(format!(
                "is defined through more than {MAX_DEPTH} other names"
            )));
        }
        let value_at = At::Statement {
            line: binding.line,
            order: binding.order,
        };
        // A value built by a call says so for the variable ("MY_POLICY is built by calling
        // `make_policy`"), not for the function.
        if let Ok(names) = module_names(&value)
            && let Some(call) = names.iter().find(|n| n.called)
        {
            return Err(unreadable(format!(
                "is built by a call to {} ({}:{})",
                callee(module, &call.name, value_at),
                module.file,
                binding.line
            )));
        }
        let tree = resolve_at(&value, value_at, module, depth + 1, used).map_err(|e| match e {
            Unresolved::Expr(error) => Unresolved::Invalid {
                name: name.name.clone(),
                line: binding.line,
                value: value.clone(),
                error,
            },
            other => other,
        })?;
        used.push((name.name.clone(), binding.line, value));
        bound.insert(name.name, tree);
    }
    parse_policy_in(expr, &|name| bound.get(name).cloned()).map_err(Unresolved::Expr)
}

/// "class `MyPolicy`", "function `make_policy`" or "`make`", as the module binds the callee.
fn callee(module: &Module, name: &str, at: At) -> String {
    let last = module
        .bindings
        .bindings
        .iter()
        .rev()
        .find(|b| b.name == name && at.after(b));
    match last.map(|b| &b.how) {
        Some(How::Class) => format!("class `{name}`"),
        Some(How::Def) => format!("function `{name}`"),
        _ => format!("`{name}`"),
    }
}

/// The binding of `name` in force at `at`, and the text of its value; or why it cannot be read.
fn lookup<'m>(module: &'m Module, name: &str, at: At) -> Result<(&'m Binding, String), String> {
    let m = module.bindings;
    let file = module.file;
    let relevant = |b: &&Binding| {
        at.after(b)
            && match (&b.place, at) {
                (_, _) if matches!(b.how, How::Global { .. }) => true,
                (Place::Module | Place::Conditional { .. }, _) => true,
                (Place::Scope(i), At::Line(line)) => m.scopes[*i].contains(line),
                (Place::Scope(_), At::Statement { .. }) => false,
            }
    };
    let last = m
        .bindings
        .iter()
        .rev()
        .filter(|b| b.name == name)
        .find(relevant);
    // A star import after the binding (or with none) may bind the name too; Prefect's own
    // modules bind nothing a user names.
    let star = m
        .bindings
        .iter()
        .filter(|b| {
            b.name == "*"
                && at.after(b)
                && last.is_none_or(|l| l.order < b.order)
                && b.place == Place::Module
        })
        .find_map(|b| match &b.how {
            How::StarImport { module } if !module.starts_with("prefect") => Some((b, module)),
            _ => None,
        });
    if let Some((b, star_module)) = star {
        let verb = if last.is_some() {
            "may be replaced by"
        } else {
            "may come from"
        };
        return Err(format!(
            "{verb} `from {star_module} import *` ({file}:{})",
            b.line
        ));
    }
    let Some(b) = last else {
        if let Some((line, why)) = &m.stopped
            && *line < at.line()
        {
            return Err(format!(
                "cannot be looked up: the file does not tokenize at {file}:{line} ({why})"
            ));
        }
        return Err(format!(
            "is not assigned at module level before {file}:{}",
            at.line()
        ));
    };
    let at_line = format!("{file}:{}", b.line);
    match (&b.how, &b.place) {
        (How::Global { function }, _) => Err(format!(
            "is rebound by function `{function}` through `global` ({at_line})"
        )),
        (_, Place::Conditional { keyword, line }) => Err(format!(
            "is assigned conditionally ({at_line}, under `{keyword}` at line {line})"
        )),
        (_, Place::Scope(i)) => {
            let scope = &m.scopes[*i];
            Err(format!(
                "is bound inside {} `{}` around the task ({at_line}); cachescope reads only \
                 module-level assignments",
                scope.kind, scope.name
            ))
        }
        (How::Assign(value), Place::Module) => Ok((b, value.clone())),
        (
            How::Import {
                module: from,
                name: Some(original),
            },
            Place::Module,
        ) if from == "prefect.cache_policies" && constant(original).is_some() => {
            Ok((b, original.clone()))
        }
        (How::Import { module: from, .. }, Place::Module) => {
            Err(format!("is imported from module `{from}` ({at_line})"))
        }
        (How::Def, Place::Module) => Err(format!("is a function ({at_line})")),
        (How::Class, Place::Module) => Err(format!("is a class ({at_line})")),
        (How::Other(what), Place::Module) => Err(format!("is bound by {what} ({at_line})")),
        (How::StarImport { .. }, Place::Module) => Err(format!("is star-imported ({at_line})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::module_bindings::module_bindings;
    use crate::policy::parse_policy;
    use crate::source::{PythonVersion, SourceFile};

    /// Resolves `expr` in a decorator at the line of the `@task` in `text`.
    fn resolve_in(text: &str, expr: &str) -> Result<Resolved, Unresolved> {
        let version = PythonVersion::new(3, 11);
        let file = SourceFile::new(text, version).unwrap();
        let bindings = module_bindings(file.lines(), version);
        let line = 1 + text
            .lines()
            .position(|l| l.trim_start().starts_with("@task"))
            .expect("a @task line");
        let module = Module {
            bindings: &bindings,
            file: "flows.py",
        };
        resolve(expr, line, &module)
    }

    /// What a table row expects: the tree of a policy expression, or a note fragment.
    enum Want {
        Tree(&'static str),
        Unreadable(&'static str, &'static str),
        Invalid(&'static str, &'static str),
    }

    #[test]
    fn module_level_policies_resolve_or_say_why_not() {
        use Want::*;
        let cases: &[(&str, &str, &str, Want)] = &[
            (
                "simple",
                "MY_POLICY = INPUTS + TASK_SOURCE - \"debug\"\n@task(cache_policy=MY_POLICY)\n",
                "MY_POLICY",
                Tree("INPUTS + TASK_SOURCE - 'debug'"),
            ),
            (
                "one level through another name",
                "BASE = INPUTS + TASK_SOURCE\nMY_POLICY = BASE - \"debug\"\n@task(cache_policy=MY_POLICY)\n",
                "MY_POLICY",
                Tree("INPUTS + TASK_SOURCE - 'debug'"),
            ),
            (
                "two levels, and names in the decorator's own expression",
                "A = INPUTS\nB = A + TASK_SOURCE\nC = B - 'x'\n@task(cache_policy=C + RUN_ID)\n",
                "C + RUN_ID",
                Tree("INPUTS + TASK_SOURCE - 'x' + RUN_ID"),
            ),
            (
                "parenthesised over lines, with comments and configure",
                "MY_POLICY = (\n    INPUTS  # what the task gets\n    + cache_policies.TASK_SOURCE\n).configure(key_storage=\"/tmp/keys\")\n\n@task(cache_policy=MY_POLICY)\n",
                "MY_POLICY",
                Tree("(INPUTS + TASK_SOURCE).configure(key_storage='/tmp/keys')"),
            ),
            (
                "reassigned later in the file: the binding at the decorator counts",
                "P = INPUTS\n@task(cache_policy=P)\ndef t(x): ...\nP = INPUTS + TASK_SOURCE\n",
                "P",
                Tree("INPUTS"),
            ),
            (
                "reassigned before the task from its old value",
                "P = INPUTS\nP = P - 'x'; P += TASK_SOURCE\n@task(cache_policy=P)\n",
                "P",
                Tree("INPUTS - 'x' + TASK_SOURCE"),
            ),
            (
                "a Prefect constant imported under another name",
                "from prefect.cache_policies import TASK_SOURCE as SRC\nP = SRC + INPUTS\n@task(cache_policy=P)\n",
                "P",
                Tree("TASK_SOURCE + INPUTS"),
            ),
            (
                "imported name",
                "from mypolicies import MY_POLICY\n@task(cache_policy=MY_POLICY)\n",
                "MY_POLICY",
                Unreadable(
                    "MY_POLICY",
                    "is imported from module `mypolicies` (flows.py:1)",
                ),
            ),
            (
                "imported, one level down",
                "import mypolicies as BASE\nP = BASE - 'x'\n@task(cache_policy=P)\n",
                "P",
                Unreadable("BASE", "is imported from module `mypolicies` (flows.py:1)"),
            ),
            (
                "built by a function",
                "def make_policy():\n    return INPUTS\nMY_POLICY = make_policy()\n@task(cache_policy=MY_POLICY)\n",
                "MY_POLICY",
                Unreadable(
                    "MY_POLICY",
                    "is built by a call to function `make_policy` (flows.py:3)",
                ),
            ),
            (
                "a class instance",
                "class Versioned(CachePolicy):\n    pass\nMY_POLICY = Versioned(key_storage='/k')\n@task(cache_policy=MY_POLICY)\n",
                "MY_POLICY",
                Unreadable(
                    "MY_POLICY",
                    "is built by a call to class `Versioned` (flows.py:3)",
                ),
            ),
            (
                "called in the decorator itself",
                "def make_policy():\n    return INPUTS\n@task(cache_policy=make_policy())\n",
                "make_policy()",
                Unreadable("make_policy", "is a call to function `make_policy`"),
            ),
            (
                "a cycle: used before it is assigned",
                "A = B + TASK_SOURCE\nB = A\n@task(cache_policy=A)\n",
                "A",
                Unreadable("B", "is not assigned at module level before flows.py:1"),
            ),
            (
                "assigned inside if",
                "import os\nif os.environ.get('FAST'):\n    P = INPUTS\nelse:\n    P = INPUTS + TASK_SOURCE\n@task(cache_policy=P)\n",
                "P",
                Unreadable(
                    "P",
                    "is assigned conditionally (flows.py:5, under `else` at line 4)",
                ),
            ),
            (
                "assigned inside if, then unconditionally",
                "import os\nif os.environ.get('FAST'):\n    P = INPUTS\nP = TASK_SOURCE\n@task(cache_policy=P)\n",
                "P",
                Tree("TASK_SOURCE"),
            ),
            (
                "assigned in try",
                "try:\n    from fast import P\nexcept ImportError:\n    P = INPUTS\n@task(cache_policy=P)\n",
                "P",
                Unreadable(
                    "P",
                    "is assigned conditionally (flows.py:4, under `except` at line 3)",
                ),
            ),
            (
                "a local of another function does not count",
                "P = INPUTS\ndef f():\n    P = RUN_ID\n    return P\n@task(cache_policy=P)\n",
                "P",
                Tree("INPUTS"),
            ),
            (
                "rebound through global",
                "P = INPUTS\ndef setup():\n    global P\n    P = RUN_ID\nsetup()\n@task(cache_policy=P)\n",
                "P",
                Unreadable(
                    "P",
                    "is rebound by function `setup` through `global` (flows.py:3)",
                ),
            ),
            (
                "in the class around a method task",
                "P = INPUTS\nclass Jobs:\n    P = RUN_ID\n    @task(cache_policy=P)\n    def run(self): ...\n",
                "P",
                Unreadable(
                    "P",
                    "is bound inside class `Jobs` around the task (flows.py:3); cachescope reads only module-level assignments",
                ),
            ),
            (
                "never assigned",
                "@task(cache_policy=P)\ndef t(): ...\nP = INPUTS\n",
                "P",
                Unreadable("P", "is not assigned at module level before flows.py:1"),
            ),
            (
                "a star import after the assignment",
                "P = INPUTS\nfrom helpers import *\nfrom prefect.cache_policies import *\n@task(cache_policy=P)\n",
                "P",
                Unreadable(
                    "P",
                    "may be replaced by `from helpers import *` (flows.py:2)",
                ),
            ),
            (
                "a docstring is not code",
                "P = INPUTS\n'''\nP = RUN_ID\n'''\n@task(cache_policy=P)\n",
                "P",
                Tree("INPUTS"),
            ),
            (
                "a value outside the language",
                "P = INPUTS if FAST else TASK_SOURCE\n@task(cache_policy=P)\n",
                "P",
                Invalid("P", "line 1, column 8: expected '+', '-' or the end"),
            ),
            (
                "a value that is not a policy",
                "P = 'inputs'\n@task(cache_policy=P)\n",
                "P",
                Invalid("P", "evaluates to a str, not a cache policy"),
            ),
        ];
        let mut failures = Vec::new();
        for (case, text, expr, want) in cases {
            let got = resolve_in(text, expr);
            let ok = match (want, &got) {
                (Tree(policy), Ok(r)) => r.tree == parse_policy(policy).unwrap(),
                (Unreadable(name, why), Err(Unresolved::Unreadable { name: n, why: w })) => {
                    n == name && w == why
                }
                (
                    Invalid(name, error),
                    Err(Unresolved::Invalid {
                        name: n, error: e, ..
                    }),
                ) => n == name && e.to_string().contains(error),
                _ => false,
            };
            if !ok {
                failures.push(format!("{case}: got {got:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn the_names_gone_through_are_reported() {
        let text = "BASE = INPUTS + TASK_SOURCE\nMY_POLICY = BASE - 'debug'\n@task(cache_policy=MY_POLICY)\n";
        let r = resolve_in(text, "MY_POLICY").unwrap();
        assert_eq!(
            r.names,
            [
                ("BASE".into(), 1, "INPUTS + TASK_SOURCE".into()),
                ("MY_POLICY".into(), 2, "BASE - 'debug'".into())
            ]
        );
    }

    #[test]
    fn depth_is_bounded() {
        let mut text = String::from("P0 = INPUTS\n");
        for i in 1..=MAX_DEPTH + 1 {
            text.push_str(&format!("P{i} = P{}\n", i - 1));
        }
        text.push_str("@task(cache_policy=P)\n");
        let last = format!("P{}", MAX_DEPTH + 1);
        assert!(matches!(
            resolve_in(&text, &last),
            Err(Unresolved::Unreadable { why, .. }) if why.contains("more than 8 other names")
        ));
        let fine = format!("P{}", MAX_DEPTH - 1);
        assert_eq!(
            resolve_in(&text, &fine).unwrap().tree,
            parse_policy("INPUTS").unwrap()
        );
    }
}
