//! The key engine (in progress).
