//! Cache policy trees: the shape Prefect holds after composition, and the expressions users
//! write in their decorators (`INPUTS + TASK_SOURCE - "debug"`).

mod expr;
mod tree;

pub use expr::{ExprError, parse_policy};
pub use tree::{Configure, PolicyKind, PolicyNode, Recorded};
