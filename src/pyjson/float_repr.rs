//! Python's `repr(float)`: the shortest text that round-trips, in Python's layout.

/// `repr(value)` as CPython writes it (`1e+16`, `0.0001`, `-0.0`, `nan`, `inf`).
pub fn float_repr(value: f64) -> String {
    let mut out = String::new();
    write_float_repr(value, &mut out);
    out
}

/// Appends `repr(value)` to `out`.
pub fn write_float_repr(value: f64, out: &mut String) {
    let _ = (value, out);
    todo!("helper: float repr")
}
