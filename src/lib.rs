//! cachescope's core: everything that computes, loads and explains, with no terminal or watcher.
//!
//! The core never prints and never panics on bad input: loading and recomputation return values
//! (records, per-record errors, per-node statuses) that the command line and, later, the terminal
//! UI and the watcher render. Recomputing one record is a pure function of that record.

pub mod engine;
pub mod explain;
pub mod hash;
pub mod incremental;
pub mod live;
pub mod load;
pub mod nondeterministic;
pub mod par;
pub mod policy;
pub mod pyjson;
pub mod record;
pub mod record_fast;
pub mod runs_tree;
pub mod safe_json;
pub mod sanitize;
pub mod source;
pub mod storage;
pub mod storage_key;
#[cfg(test)]
mod test_rng;
