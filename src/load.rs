//! Loading (in progress).
