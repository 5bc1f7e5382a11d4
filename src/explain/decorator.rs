//! The task's decorator as text: the `cache_policy=` expression a user wrote, and the names it
//! subtracts. Prefect keeps only the evaluated policy; the expression is what shows intent
//! (`- "debug"` on a policy without Inputs) and what the next run will evaluate.

/// The `cache_policy=` expression in the task's decorator (the text before its `def`), if it
/// has one.
pub fn decorator_policy(source: &str) -> Option<String> {
    let source = source.find("def ").map_or(source, |end| &source[..end]);
    let start = source.find("cache_policy")?;
    let rest = source[start + "cache_policy".len()..].trim_start();
    let rest = rest.strip_prefix('=')?;
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut end = rest.len();
    let mut prev = '\0';
    for (i, ch) in rest.char_indices() {
        match quote {
            Some(q) => {
                if ch == q && prev != '\\' {
                    quote = None;
                }
            }
            None => match ch {
                '"' | '\'' => quote = Some(ch),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' if depth == 0 => {
                    end = i;
                    break;
                }
                ')' | ']' | '}' => depth -= 1,
                ',' if depth == 0 => {
                    end = i;
                    break;
                }
                _ => {}
            },
        }
        prev = ch;
    }
    let expr = rest[..end].trim();
    (!expr.is_empty()).then(|| expr.to_string())
}

/// The names in `- "name"` of an expression.
pub fn subtracted_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '-' {
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            if j < chars.len() && (chars[j] == '"' || chars[j] == '\'') {
                let q = chars[j];
                let mut k = j + 1;
                let mut name = String::new();
                while k < chars.len() && chars[k] != q {
                    name.push(chars[k]);
                    k += 1;
                }
                names.push(name);
                i = k;
            }
        }
        i += 1;
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decorator_policy_and_its_subtractions() {
        let src = "@task(cache_policy=(INPUTS + TASK_SOURCE) - \"log_every\", retries=2)\ndef f(): pass\n";
        assert_eq!(
            decorator_policy(src).as_deref(),
            Some("(INPUTS + TASK_SOURCE) - \"log_every\"")
        );
        let src = "@task(\n    cache_policy=FLOW_PARAMETERS - 'a' - \"b\"\n)\ndef f(): pass\n";
        let expr = decorator_policy(src).unwrap();
        assert_eq!(expr, "FLOW_PARAMETERS - 'a' - \"b\"");
        assert_eq!(subtracted_names(&expr), ["a", "b"]);
        assert_eq!(decorator_policy("@task\ndef f(): pass\n"), None);
        // Only the decorator counts, not the body.
        assert_eq!(
            decorator_policy("@task\ndef f():\n    return dict(cache_policy=1)\n"),
            None
        );
    }
}
