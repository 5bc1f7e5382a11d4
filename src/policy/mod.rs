//! Cache policy trees: the shape Prefect holds after composition, and the expressions users
//! write in their decorators (`INPUTS + TASK_SOURCE - "debug"`).

mod expr;
mod tree;

pub use expr::{
    ExprError, REPR_PREFIX, add, compound_cache_policy, configure, constant, parse_policy,
    storage_path, sub,
};
pub use tree::{Configure, PolicyKind, PolicyNode, Recorded};
