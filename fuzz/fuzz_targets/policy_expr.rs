//! The policy-expression parser and evaluator on any text: a policy or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(expr) = std::str::from_utf8(data) {
        let _ = cachescope::policy::parse_policy(expr);
        let _ = cachescope::policy::module_names(expr);
    }
});
