//! hash_objects (in progress).
