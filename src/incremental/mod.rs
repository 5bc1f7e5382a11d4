//! Incremental live prediction, for the watcher: what changed, what depends on it, and only
//! that recomputed.
//!
//! The watcher (`src/watch/`, which alone talks to notify) pushes file events into a
//! [`debounce::Debouncer`] and hands its batches to a [`session::Session`]. The session plans
//! the work ([`plan`]: which record files to reload, which sources to fingerprint, which result
//! lookups to redo), skips files whose bytes did not change ([`fingerprint`]), finds the units
//! that read what did ([`index`]), recomputes those alone and reports what changed as
//! [`event::WatchEvent`]s, which [`json`] writes as `cachescope watch` lines. Everything here is
//! testable without notify and without sleeping: time is a parameter.

pub mod debounce;
pub mod event;
pub mod fingerprint;
pub mod index;
pub mod json;
pub mod plan;
pub mod session;

#[cfg(test)]
mod tests;
