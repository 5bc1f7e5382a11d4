//! Python's `repr(float)`: the shortest text that round-trips, in Python's layout.
//!
//! The digits come from `zmij` (Schubfach), which like CPython's `dtoa` in mode 0 picks the
//! shortest digit string that reads back to the same f64, and of those the one closest to the
//! exact value, several times faster than Rust's `{:e}` (which it replaced: the float repr was a
//! sixth of `keys`' time). Where the exact value lies exactly halfway between two shortest
//! candidates (1e15 + 0.25 is `1000000000000000.25`), CPython rounds the last digit to even
//! (`1000000000000000.2`); a formatter that rounded the tie up is corrected here. The digits are
//! then laid out as CPython does: exponent form when the decimal exponent is below -4 or at
//! least 16, with a sign and at least two exponent digits, and otherwise always a fractional
//! part.

use super::write::JsonOut;

/// `repr(value)` as CPython writes it (`1e+16`, `0.0001`, `-0.0`, `nan`, `inf`).
pub fn float_repr(value: f64) -> String {
    let mut out = String::new();
    write_float_repr(value, &mut out);
    out
}

/// Appends `repr(value)` to `out`.
pub fn write_float_repr(value: f64, out: &mut impl JsonOut) {
    if value.is_nan() {
        out.push_str("nan");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "inf" } else { "-inf" });
    } else {
        write_finite(value, out);
    }
}

/// Appends the text `json.dumps` writes for a float: `NaN`, `Infinity` and `-Infinity` for the
/// non-finite values (allow_nan=True), `repr` for everything else.
pub(crate) fn write_float_json(value: f64, out: &mut impl JsonOut) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        write_finite(value, out);
    }
}

/// The shortest digits of a finite, nonzero `value` (no leading or trailing zeros) into `digits`,
/// with the decimal exponent of the first one; returns how many digits.
fn shortest_digits(value: f64, digits: &mut [u8; 20]) -> (usize, i32) {
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(value.abs()).as_bytes();
    // `text` is `d[.ddd][e[-]x]` in whatever layout zmij picks: read digits and exponent.
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e' || b == b'E') {
        Some(e) => (&text[..e], &text[e + 1..]),
        None => (text, &b""[..]),
    };
    let (exp_negative, exp_digits) = match exponent.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, exponent),
    };
    let magnitude = exp_digits
        .iter()
        .fold(0i32, |acc, &d| acc * 10 + i32::from(d - b'0'));
    let point = mantissa
        .iter()
        .position(|&b| b == b'.')
        .unwrap_or(mantissa.len()) as i32;
    let mut n = 0;
    let mut leading = 0i32;
    for &b in mantissa.iter().filter(|&&b| b != b'.') {
        if n == 0 && b == b'0' {
            leading += 1;
            continue;
        }
        digits[n] = b;
        n += 1;
    }
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    let exp10 = point - 1 - leading + if exp_negative { -magnitude } else { magnitude };
    (n, exp10)
}

fn write_finite(value: f64, out: &mut impl JsonOut) {
    let negative = value.is_sign_negative();
    if value == 0.0 {
        out.push_str(if negative { "-0.0" } else { "0.0" });
        return;
    }
    let mut digit_buf = [0u8; 20];
    let (ndigits, exp10) = shortest_digits(value, &mut digit_buf);
    round_tie_to_even(value.abs(), &mut digit_buf[..ndigits], exp10);
    let digits = &digit_buf[..ndigits];

    if negative {
        out.push('-');
    }
    // The digits are ASCII, so they are a str as they are.
    fn push_digits(out: &mut impl JsonOut, ds: &[u8]) {
        out.push_str(std::str::from_utf8(ds).expect("digits are ASCII"));
    }
    if !(-4..16).contains(&exp10) {
        // Exponent form: `d.ddde+XX`, no fraction when there is a single digit.
        push_digits(out, &digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            push_digits(out, &digits[1..]);
        }
        out.push('e');
        out.push(if exp10 < 0 { '-' } else { '+' });
        let magnitude = exp10.unsigned_abs();
        if magnitude < 10 {
            out.push('0');
        }
        let mut text = [0u8; 3];
        let mut at = text.len();
        let mut rest = magnitude;
        loop {
            at -= 1;
            text[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        push_digits(out, &text[at..]);
    } else if exp10 < 0 {
        // 0.000ddd: the point comes before the digits.
        out.push_str("0.");
        out.push_str(&"0000"[..(-exp10 - 1) as usize]);
        push_digits(out, digits);
    } else {
        // The point falls inside the digits, or after them with zeros padding and a ".0" so
        // the text still reads as a float.
        let int_len = exp10 as usize + 1;
        if int_len < digits.len() {
            push_digits(out, &digits[..int_len]);
            out.push('.');
            push_digits(out, &digits[int_len..]);
        } else {
            push_digits(out, digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
            out.push_str(".0");
        }
    }
}

/// Where Rust rounded an exact tie up to an odd last digit, takes the even digit below, as
/// CPython's `dtoa` does (it bumps the last digit on an exact half only when it is odd).
///
/// `digits` are the shortest digits of `x` (positive, finite) and `exp10` the decimal exponent
/// of the first one. A tie needs the exact value of `x` to be the midpoint `digits - 1`
/// followed by a 5, so the cheap tests come first and the exact decimal expansion is only
/// printed for real candidates.
fn round_tie_to_even(x: f64, digits: &mut [u8], exp10: i32) {
    let last = digits.len() - 1;
    if digits[last].is_multiple_of(2) {
        return;
    }
    // The midpoint is (2 * (digits - 1) + 1) * 5 * 10^place: an odd number times 2^place. So
    // x = m * 2^e with m odd can only equal it when e == place.
    let place = exp10 - digits.len() as i32;
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    let (m, e) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), biased - 1075)
    };
    if m == 0 || e + m.trailing_zeros() as i32 != place {
        return;
    }

    let mut midpoint = [0u8; 21];
    midpoint[..digits.len()].copy_from_slice(digits);
    midpoint[last] -= 1;
    midpoint[digits.len()] = b'5';
    let midpoint = &midpoint[..=digits.len()];
    // Rust prints the exact decimal expansion at a given precision: with no fraction digits
    // for an integer x, with exactly -place of them (all x has) otherwise.
    let text = if place >= 0 {
        format!("{x:.0}")
    } else {
        format!("{x:.prec$}", prec = place.unsigned_abs() as usize)
    };
    let mut significant = text
        .bytes()
        .filter(|&b| b != b'.')
        .skip_while(|&b| b == b'0');
    let exact = midpoint.iter().all(|&d| significant.next() == Some(d))
        && significant
            .by_ref()
            .take(place.max(0) as usize)
            .all(|b| b == b'0')
        && significant.next().is_none();
    if !exact {
        return;
    }
    // The even candidate must still read back as x (it always does unless x sits on a binade
    // boundary, where the interval of values that round to x is lopsided).
    let mut candidate = String::with_capacity(32);
    for (i, &d) in digits.iter().enumerate() {
        candidate.push(char::from(if i == last { d - 1 } else { d }));
    }
    candidate.push_str(&format!("e{}", exp10 - last as i32));
    if candidate.parse::<f64>() == Ok(x) {
        digits[last] -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::{float_repr, write_float_json};

    fn json(value: f64) -> String {
        let mut out = String::new();
        write_float_json(value, &mut out);
        out
    }

    #[test]
    fn documented_cases() {
        let cases: &[(f64, &str)] = &[
            (1e16, "1e+16"),
            (1e-5, "1e-05"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (100.0, "100.0"),
            (0.0001, "0.0001"),
            (1e15, "1000000000000000.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for &(value, want) in cases {
            assert_eq!(float_repr(value), want, "repr of {value:e}");
        }
    }

    #[test]
    fn layout_boundaries() {
        let cases: &[(f64, &str)] = &[
            (9999999999999998.0, "9999999999999998.0"),
            (1.5, "1.5"),
            (-2.5e-5, "-2.5e-05"),
            (0.00012, "0.00012"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (123456789.125, "123456789.125"),
            (1e22, "1e+22"),
            (1e100, "1e+100"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-1.7976931348623157e308, "-1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (2.225073858507201e-308, "2.225073858507201e-308"),
            (123.0, "123.0"),
            (1234567890123456.8, "1234567890123456.8"),
            (12345678901234568.0, "1.2345678901234568e+16"),
            (0.000123456, "0.000123456"),
            (9.999999999999999e-5, "9.999999999999999e-05"),
        ];
        for &(value, want) in cases {
            assert_eq!(float_repr(value), want, "repr of {value:e}");
        }
    }

    #[test]
    fn exact_ties_round_to_even_like_cpython() {
        // Checked against CPython: the exact values end in 5 one digit past the shortest.
        let cases: &[(f64, &str)] = &[
            (1e15 + 0.25, "1000000000000000.2"),
            (1e15 + 0.75, "1000000000000000.8"),
            (1e15 - 0.75, "999999999999999.2"),
            (1e14 + 0.125, "100000000000000.12"),
            (-(1e14 + 0.125), "-100000000000000.12"),
            (1e14 + 0.375, "100000000000000.38"),
            (0.5, "0.5"),
            (2.5, "2.5"),
        ];
        for &(value, want) in cases {
            assert_eq!(float_repr(value), want, "repr of {value:e}");
        }
    }

    #[test]
    fn json_spelling_of_non_finite_values() {
        assert_eq!(json(f64::NAN), "NaN");
        assert_eq!(json(-f64::NAN), "NaN");
        assert_eq!(json(f64::INFINITY), "Infinity");
        assert_eq!(json(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(json(1e16), "1e+16");
        assert_eq!(json(-0.0), "-0.0");
    }

    #[test]
    fn repr_round_trips() {
        // A cheap deterministic spread of bit patterns; the differential test does a million.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let value = f64::from_bits(state);
            if value.is_finite() {
                let text = float_repr(value);
                assert_eq!(
                    text.parse::<f64>().unwrap().to_bits(),
                    value.to_bits(),
                    "{text}"
                );
            }
        }
    }
}
