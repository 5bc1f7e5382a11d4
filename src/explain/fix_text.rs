//! A fix as the expression a user pastes into `cache_policy=`, keeping what `.configure()` set
//! on the recorded policy (issue 8, item 7: a fix for `(TASK_SOURCE + INPUTS).configure(
//! key_storage=...)` that read `INPUTS` silently dropped the key storage).
//!
//! A record holds each `configure()` field as text (run-record-v1.md): a `key_storage` path, a
//! storage block's description, an isolation level, a lock manager's class. What can be written
//! back as Python is written back: a path as a string, or as `Path("...")` where Prefect would
//! read a string as a block slug (`"/keys"` has one `/`); a local file system block as the
//! `Path` of its base path (Prefect turns a `Path` into exactly that block); an isolation level
//! as its name. An object known only by its class (a lock manager, another storage block) is
//! written by the name the task's decorator gives it (`lock_manager=LOCKS`), or not at all.
//!
//! The text is then evaluated with [`parse_policy`], and must give the tree the fix means, so
//! that what the user pastes is what was checked.

use crate::policy::{Configure, PolicyKind, PolicyNode, parse_policy, storage_path};

use super::decorator::decorator_policy;
use super::tree_text::{quote, render};

/// A fix that can be pasted.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    /// The expression.
    pub text: String,
    /// What [`parse_policy`] makes of it.
    pub tree: PolicyNode,
}

/// The fix `tree` as an expression. `from_record` says its `configure()` fields are a
/// record's text (else they came from an expression already); `source` is the task's recorded
/// source, whose decorator may name objects the record knows only by their class. Err says
/// why the fix cannot be written.
pub fn fix_text(tree: &PolicyNode, from_record: bool, source: Option<&str>) -> Result<Fix, String> {
    if let Some(class) = own_class(tree) {
        return Err(format!(
            "`{class}` is a policy class of the project's own, which no expression names"
        ));
    }
    let decorator = source.and_then(decorator_policy);
    let intended = if from_record {
        written(tree, decorator.as_deref())?
    } else {
        tree.clone()
    };
    let text = render(&intended);
    let parsed = parse_policy(&text)
        .map_err(|e| format!("`{text}` is not an expression cachescope can evaluate ({e})"))?;
    if comparable(&parsed) != comparable(&intended) {
        return Err(format!("`{text}` does not evaluate to the fix"));
    }
    Ok(Fix { text, tree: parsed })
}

/// The first policy class in the tree that is not Prefect's.
fn own_class(node: &PolicyNode) -> Option<&str> {
    match &node.kind {
        PolicyKind::Other { class } => Some(class),
        _ => node.children().iter().find_map(own_class),
    }
}

/// The tree as an expression names it: a `cache_key_fn` by the last part of its qualified name
/// (what [`render`] writes), no recorded keys.
fn comparable(node: &PolicyNode) -> PolicyNode {
    let kind = match &node.kind {
        PolicyKind::Compound { policies } => PolicyKind::Compound {
            policies: policies.iter().map(comparable).collect(),
        },
        PolicyKind::CacheKeyFn { function } => PolicyKind::CacheKeyFn {
            function: function
                .as_deref()
                .map(|f| f.rsplit('.').next().unwrap_or(f).to_string()),
        },
        other => other.clone(),
    };
    PolicyNode {
        kind,
        configure: node.configure.clone(),
        recorded: None,
    }
}

/// The tree with every `configure()` field turned from a record's text into the value an
/// expression gives.
fn written(node: &PolicyNode, decorator: Option<&str>) -> Result<PolicyNode, String> {
    let kind = match &node.kind {
        PolicyKind::Compound { policies } => PolicyKind::Compound {
            policies: policies
                .iter()
                .map(|p| written(p, decorator))
                .collect::<Result<_, _>>()?,
        },
        other => other.clone(),
    };
    let c = &node.configure;
    let named = |field: &str| decorator.and_then(|d| argument_name(d, field));
    let key_storage = match &c.key_storage {
        None => None,
        Some(v) => Some(key_storage(v, named("key_storage"))?),
    };
    let lock_manager = match &c.lock_manager {
        None => None,
        Some(v) => Some(named("lock_manager").ok_or_else(|| {
            format!(
                "its lock manager (a {v}) is an object the record knows only by its class, \
                 and the decorator does not name it"
            )
        })?),
    };
    Ok(PolicyNode {
        kind,
        configure: Configure {
            key_storage,
            // A name (`"SERIALIZABLE"`): Prefect reads it with `IsolationLevel(...)`.
            isolation_level: c.isolation_level.clone(),
            lock_manager,
        }
        .into(),
        recorded: None,
    })
}

/// A `key_storage` field as an expression gives it, from the record's text.
fn key_storage(recorded: &str, named: Option<String>) -> Result<String, String> {
    if let Some(inner) = recorded
        .strip_prefix("LocalFileSystem(basepath=")
        .and_then(|s| s.strip_suffix(')'))
    {
        // The recorder wrote `repr(basepath)`.
        return match storage_path(&format!("py:{inner}")) {
            Some(base) => path_field(&base),
            None => named.ok_or_else(|| format!("its key storage ({recorded}) cannot be written")),
        };
    }
    if is_block_description(recorded) {
        return named.ok_or_else(|| {
            format!(
                "its key storage (a {recorded}) is a block the record knows only by its \
                 description, and the decorator does not name it"
            )
        });
    }
    // Prefect reads a string with exactly one `/` as a block slug (`"local-file-system/keys"`),
    // so a path like `/keys` was given as a `Path`.
    let one_slash = recorded.split('/').count() == 2;
    if one_slash && recorded.starts_with(['/', '~', '.']) {
        path_field(recorded)
    } else {
        Ok(recorded.to_string())
    }
}

/// `Path("...")` as the expression evaluator holds it.
fn path_field(path: &str) -> Result<String, String> {
    let expr = format!("TASK_SOURCE.configure(key_storage=Path({}))", quote(path));
    parse_policy(&expr)
        .ok()
        .and_then(|p| p.configure.key_storage.clone())
        .ok_or_else(|| format!("its key storage path {path:?} cannot be written"))
}

/// What the recorder writes for a storage block that is not a path: `Type(basepath='...')`, or
/// the block's qualified class name.
fn is_block_description(text: &str) -> bool {
    let identifier = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
            && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
    };
    if let Some((class, _)) = text.split_once("(basepath=") {
        return identifier(class) && text.ends_with(')');
    }
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| identifier(p))
        && parts
            .last()
            .is_some_and(|c| c.starts_with(|ch: char| ch.is_ascii_uppercase()))
}

/// The bare name the decorator's expression passes as `field=`, as the evaluator keeps it
/// (`py:NAME`), when it passes exactly one.
fn argument_name(decorator: &str, field: &str) -> Option<String> {
    let mut found: Option<String> = None;
    let mut rest = decorator;
    while let Some(at) = rest.find(field) {
        let before = rest[..at].chars().next_back();
        let after = &rest[at + field.len()..];
        rest = after;
        if before.is_some_and(|c| c == '_' || c.is_alphanumeric()) {
            continue;
        }
        let Some(value) = after.trim_start().strip_prefix('=') else {
            continue;
        };
        let value = value.trim_start();
        let name: String = value
            .chars()
            .take_while(|c| *c == '_' || c.is_alphanumeric())
            .collect();
        let next = value[name.len()..].trim_start().chars().next();
        if name.is_empty()
            || name.starts_with(|c: char| c.is_ascii_digit())
            || matches!(name.as_str(), "None" | "True" | "False")
            || !matches!(next, Some(',' | ')'))
        {
            continue;
        }
        match &found {
            Some(f) if *f != name => return None,
            _ => found = Some(name),
        }
    }
    found.map(|n| format!("py:{n}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Recorded;

    /// A tree as a record holds it: every node with a recorded key, fields as the recorder
    /// writes them.
    fn recorded_tree(expr: &str, set: Configure) -> PolicyNode {
        fn mark(node: &mut PolicyNode) {
            node.recorded = Some(Recorded {
                key: Some("k".into()),
                reproducible: true,
                reason: None,
            });
            if let PolicyKind::Compound { policies } = &mut node.kind {
                policies.iter_mut().for_each(mark);
            }
        }
        let mut tree = parse_policy(expr).unwrap();
        tree.configure = set.into();
        mark(&mut tree);
        tree
    }

    #[test]
    fn recorded_configure_fields_are_written_back() {
        let set = Configure {
            key_storage: Some("/home/me/.prefect/keys".into()),
            isolation_level: Some("SERIALIZABLE".into()),
            lock_manager: None,
        };
        let tree = recorded_tree("INPUTS", set);
        let fix = fix_text(&tree, true, None).unwrap();
        assert_eq!(
            fix.text,
            "INPUTS.configure(key_storage=\"/home/me/.prefect/keys\", isolation_level=\"SERIALIZABLE\")"
        );
        assert_eq!(
            fix.tree.configure.key_storage.as_deref(),
            Some("/home/me/.prefect/keys")
        );
        // One slash: a string would be a block slug, so the path is written as a Path.
        let slug_like = recorded_tree(
            "INPUTS + TASK_SOURCE",
            Configure {
                key_storage: Some("/keys".into()),
                ..Configure::default()
            },
        );
        let fix = fix_text(&slug_like, true, None).unwrap();
        assert_eq!(
            fix.text,
            "(INPUTS + TASK_SOURCE).configure(key_storage=Path('/keys'))"
        );
        let field = fix.tree.configure.key_storage.as_deref().unwrap();
        assert_eq!(storage_path(field).as_deref(), Some("/keys"));
    }

    #[test]
    fn objects_known_by_class_are_written_by_the_decorators_name_or_not_at_all() {
        let set = Configure {
            lock_manager: Some("prefect.locking.memory.MemoryLockManager".into()),
            isolation_level: Some("SERIALIZABLE".into()),
            ..Configure::default()
        };
        let tree = recorded_tree("INPUTS", set);
        let source = "@task(cache_policy=INPUTS.configure(isolation_level=\"SERIALIZABLE\", lock_manager=LOCKS))\ndef f(x): ...\n";
        let fix = fix_text(&tree, true, Some(source)).unwrap();
        assert_eq!(
            fix.text,
            "INPUTS.configure(isolation_level=\"SERIALIZABLE\", lock_manager=LOCKS)"
        );
        let why = fix_text(&tree, true, None).unwrap_err();
        assert!(why.contains("MemoryLockManager"), "{why}");
        // A local file system block is the Path of its base path.
        let block = recorded_tree(
            "TASK_SOURCE",
            Configure {
                key_storage: Some("LocalFileSystem(basepath='/srv/keys')".into()),
                ..Configure::default()
            },
        );
        let fix = fix_text(&block, true, None).unwrap();
        assert_eq!(
            storage_path(fix.tree.configure.key_storage.as_deref().unwrap()).as_deref(),
            Some("/srv/keys")
        );
        let remote = recorded_tree(
            "TASK_SOURCE",
            Configure {
                key_storage: Some("RemoteFileSystem(basepath='s3://b/k')".into()),
                ..Configure::default()
            },
        );
        assert!(fix_text(&remote, true, None).is_err());
        assert!(
            argument_name(
                "X.configure(my_lock_manager=A, lock_manager=B)",
                "lock_manager"
            ) == Some("py:B".into())
        );
        assert_eq!(
            argument_name(
                "a.configure(lock_manager=A) + b.configure(lock_manager=C)",
                "lock_manager"
            ),
            None
        );
    }

    #[test]
    fn a_cache_key_fn_is_named_as_an_expression_names_it() {
        let mut tree = recorded_tree("CacheKeyFnPolicy(cache_key_fn=key)", Configure::default());
        tree.kind = PolicyKind::CacheKeyFn {
            function: Some("flows.versioned_key".into()),
        };
        let fix = fix_text(&tree, true, None).unwrap();
        assert_eq!(fix.text, "CacheKeyFnPolicy(cache_key_fn=versioned_key)");
    }
}
