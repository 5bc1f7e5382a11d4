//! Policy expressions, evaluated with Prefect 3.9.1's composition rules.

use super::tree::PolicyNode;

/// Why an expression could not be evaluated: a syntax error, or the error Prefect would raise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    #[error("{0}")]
    Syntax(String),
    #[error("{0}")]
    Prefect(String),
}

/// Evaluates a policy expression into the tree Prefect 3.9.1 builds from it.
pub fn parse_policy(expr: &str) -> Result<PolicyNode, ExprError> {
    let _ = expr;
    todo!("helper: policy expressions")
}
