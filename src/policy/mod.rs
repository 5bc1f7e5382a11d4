//! Cache policy trees: the shape Prefect holds after composition, and the expressions users
//! write in their decorators (`INPUTS + TASK_SOURCE - "debug"`).

mod expr;
mod tree;

pub use expr::{
    ExprError, ModuleName, REPR_PREFIX, add, compound_cache_policy, configure, constant,
    module_names, parse_policy, parse_policy_in, storage_path, sub,
};
pub use tree::{Configure, NodeConfigure, PolicyKind, PolicyNode, Recorded};
