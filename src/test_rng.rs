//! The unit tests' small deterministic random generator (xorshift64), shared so that each test
//! module does not carry its own copy.

/// Random 64-bit words from `state` (any nonzero seed), the same sequence on every run.
pub(crate) fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
