//! Run records (in progress).
