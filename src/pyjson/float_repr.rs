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

/// The shortest digits of a finite, nonzero `value`, as Python's repr has them: an integer with
/// no trailing zeros, how many digits it has, and the decimal exponent of the first one
/// (`0.00125` is `(125, 3, -3)`).
#[inline]
fn shortest_decimal(value: f64) -> (u64, u32, i32) {
    let mut buffer = zmij::Buffer::new();
    // `d[.ddd][e±x]`, `0.000ddd` or `ddd.0`, whatever layout zmij picks. Its mantissa has at
    // most 17 significant digits, so as an integer it fits a u64 (its leading zeros add
    // nothing), and counting is cheaper than branching on every character.
    let text = buffer.format_finite(value.abs()).as_bytes();
    let e_at = text.iter().position(|&c| c == b'e').unwrap_or(text.len());
    let mantissa = &text[..e_at];
    let point = mantissa
        .iter()
        .position(|&c| c == b'.')
        .unwrap_or(mantissa.len());
    let mut digits = 0u64;
    for &c in mantissa {
        if c != b'.' {
            digits = digits * 10 + u64::from(c - b'0');
        }
    }
    let written = (mantissa.len() - usize::from(point < mantissa.len())) as u32;
    let significant = digits.ilog10() + 1;
    let leading = (written - significant) as i32;
    let mut exponent = 0i32;
    if let Some((&sign, rest)) = text[e_at..].get(1..).and_then(<[u8]>::split_first) {
        let (negative, rest) = match sign {
            b'-' => (true, rest),
            b'+' => (false, rest),
            _ => (false, &text[e_at + 1..]),
        };
        for &d in rest {
            exponent = exponent * 10 + i32::from(d - b'0');
        }
        if negative {
            exponent = -exponent;
        }
    }
    let mut count = significant;
    while digits.is_multiple_of(10) {
        digits /= 10;
        count -= 1;
    }
    // With the point after `point` characters and `leading` zeros before the first
    // significant digit, that digit sits at 10^(point - 1 - leading), times the exponent.
    (digits, count, point as i32 - 1 - leading + exponent)
}

/// The `count` decimal digits of `value` into the start of `out`.
fn digit_bytes(mut value: u64, count: u32, out: &mut [u8; 20]) -> &[u8] {
    for at in (0..count as usize).rev() {
        out[at] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    &out[..count as usize]
}

fn write_finite(value: f64, out: &mut impl JsonOut) {
    let negative = value.is_sign_negative();
    if value == 0.0 {
        out.push_str(if negative { "-0.0" } else { "0.0" });
        return;
    }
    // Most often zmij's text is CPython's repr as it is: then it is written with no digits read
    // back and laid out again.
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(value.abs());
    if in_python_layout(text.as_bytes()) && (ends_even(text.as_bytes()) || no_tie(value.abs())) {
        if negative {
            out.push_str("-");
        }
        out.push_str(text);
        return;
    }
    let (mut digits, count, exp10) = shortest_decimal(value);
    round_tie_to_even(value.abs(), &mut digits, count, exp10);
    let mut buf = [0u8; 20];
    write_layout(negative, digit_bytes(digits, count, &mut buf), exp10, out);
}

/// Whether zmij's `text` for a positive double is laid out as CPython's repr: an exponent with
/// its sign and at least two digits (zmij writes `1.5e-7` where CPython writes `1.5e-07`; from
/// two digits on both write the same), or positional with the first significant digit from
/// 10^-4 (zmij writes `0.00001` where CPython writes `1e-05`) and below 10^16.
fn in_python_layout(text: &[u8]) -> bool {
    match text.iter().position(|&c| c == b'e') {
        Some(e) => matches!(text.get(e + 1), Some(b'+' | b'-')) && text.len() >= e + 4,
        None => {
            let point = text.iter().position(|&c| c == b'.');
            point.is_some_and(|p| p <= 16) && !text.starts_with(b"0.0000")
        }
    }
}

/// Whether the last digit of zmij's mantissa is even (a tie only ever needs an odd one).
fn ends_even(text: &[u8]) -> bool {
    let end = text.iter().position(|&c| c == b'e').unwrap_or(text.len());
    text[..end].last().is_some_and(|d| d.is_multiple_of(2))
}

/// True when `x` (positive, finite) surely is no exact tie between two shortest candidates,
/// from its bits alone: a tie needs the lowest set bit of `x` at 2^place, where place is the
/// decimal exponent just past the last shortest digit, so at least 10^(floor(log10 x) - 17).
fn no_tie(x: f64) -> bool {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        return false;
    }
    let m = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    let lowest = biased - 1075 + m.trailing_zeros() as i32;
    // floor(e2 * log10(2)), exactly, for the binary exponent e2 of x.
    let exp10_floor = ((biased - 1023) * 78913) >> 18;
    lowest < exp10_floor - 17
}

/// Lays out significant `digits` (no leading or trailing zeros) whose first digit is at decimal
/// exponent `exp10`, as CPython's `repr` does.
fn write_layout(negative: bool, digits: &[u8], exp10: i32, out: &mut impl JsonOut) {
    let mut buf = [0u8; LAYOUT_MAX];
    let len = layout(negative, digits, exp10, &mut buf);
    out.push_str(std::str::from_utf8(&buf[..len]).expect("a float's text is ASCII"));
}

/// The longest repr: a sign, 17 digits, a point, `e-` and three exponent digits, or 16
/// padding zeros and `.0`, with room to spare.
const LAYOUT_MAX: usize = 40;

/// [`write_layout`] into a byte buffer; returns the length. `digits` has at most 17 digits and
/// `exp10` is within ±999.
fn layout(negative: bool, digits: &[u8], exp10: i32, buf: &mut [u8; LAYOUT_MAX]) -> usize {
    let mut at = 0;
    let mut put = |bytes: &[u8], at: &mut usize| {
        buf[*at..*at + bytes.len()].copy_from_slice(bytes);
        *at += bytes.len();
    };
    if negative {
        put(b"-", &mut at);
    }
    if !(-4..16).contains(&exp10) {
        // Exponent form: `d.ddde+XX`, no fraction when there is a single digit.
        put(&digits[..1], &mut at);
        if digits.len() > 1 {
            put(b".", &mut at);
            put(&digits[1..], &mut at);
        }
        put(if exp10 < 0 { b"e-" } else { b"e+" }, &mut at);
        let m = exp10.unsigned_abs();
        if m >= 100 {
            put(&[b'0' + (m / 100) as u8], &mut at);
        }
        put(
            &[b'0' + (m / 10 % 10) as u8, b'0' + (m % 10) as u8],
            &mut at,
        );
    } else if exp10 < 0 {
        // 0.000ddd: the point comes before the digits.
        put(b"0.", &mut at);
        put(&b"0000"[..(-exp10 - 1) as usize], &mut at);
        put(digits, &mut at);
    } else {
        // The point falls inside the digits, or after them with zeros padding and a ".0" so
        // the text still reads as a float.
        let int_len = exp10 as usize + 1;
        if int_len < digits.len() {
            put(&digits[..int_len], &mut at);
            put(b".", &mut at);
            put(&digits[int_len..], &mut at);
        } else {
            put(digits, &mut at);
            put(&b"0000000000000000"[..int_len - digits.len()], &mut at);
            put(b".0", &mut at);
        }
    }
    at
}

/// [`float_end`] for a literal on its own: true when all of it is a float's repr.
#[cfg(test)]
pub(crate) fn is_json_float_repr(literal: &str) -> bool {
    let b = literal.as_bytes();
    let int_start = usize::from(b.first() == Some(&b'-'));
    let int_end = digits_end(b, int_start);
    float_end(b, 0, int_end) == Some(b.len())
}

/// The end of the float literal at `at` in `b` (its sign or first digit; its integer digits end
/// at `int_end`, and a `.` or an exponent follows them) when the literal is exactly what
/// `json.dumps` writes for the float it reads as; `None` otherwise. This is the canonical
/// check's question, asked for every float of every input, so the literal is scanned once, eight
/// bytes at a time, and float arithmetic is avoided where it can be.
///
/// The pass reads the literal's significant digits and checks CPython's layout as it goes (a
/// single leading digit and a signed exponent of two or three digits in exponent form, used
/// exactly when the exponent is below -4 or at least 16; otherwise a point, never a trailing
/// zero after it but the `.0` of an integral value, and zeros padding the integer part only).
///
/// A literal with at most 15 significant digits in the normal range then needs nothing more:
/// it is the shortest text that reads back as its double, because two different decimals of at
/// most 15 significant digits never read as the same double (DBL_DIG is 15), so no shorter or
/// other one does. Longer literals are read as a double and compared with its shortest digits.
pub(crate) fn float_end(b: &[u8], at: usize, int_end: usize) -> Option<usize> {
    let int_start = at + usize::from(b[at] == b'-');
    let int_part = &b[int_start..int_end];
    let mut i = int_end;
    // The fraction's digits, as a range of `b`.
    let frac = if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = digits_end(b, start);
        Some((start, i))
    } else {
        None
    };
    // The significant digits (at most 17), as ranges of `b` folded into one integer below; the
    // decimal exponent of the first.
    let (first, second, exp10, end);
    if b.get(i) == Some(&b'e') {
        // `d[.ddd]e±XX`: one nonzero digit before the point, no trailing zero after it, an
        // exponent with its sign and two digits, three from 100 on (no leading zero then).
        let sign = match b.get(i + 1) {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return None,
        };
        end = digits_end(b, i + 2);
        let exp = &b[i + 2..end];
        let well_formed = match exp.len() {
            2 => true,
            3 => exp[0] != b'0',
            _ => false,
        };
        if !well_formed || int_part.len() != 1 || int_part[0] == b'0' {
            return None;
        }
        if let Some((from, to)) = frac
            && (from == to || b[to - 1] == b'0')
        {
            return None;
        }
        let magnitude = exp
            .iter()
            .fold(0i32, |acc, &d| acc * 10 + i32::from(d - b'0'));
        exp10 = sign * magnitude;
        if (-4..16).contains(&exp10) {
            return None;
        }
        first = (int_start, int_end);
        second = frac.unwrap_or((int_end, int_end));
    } else {
        // Positional: always a point and digits after it.
        let (from, to) = frac.filter(|(from, to)| from < to)?;
        let frac = &b[from..to];
        end = to;
        if matches!(b.get(end), Some(b'e' | b'E')) {
            return None;
        }
        if int_part == b"0" {
            // `0.000ddd`, at most three zeros after the point (10^-4 and up), or `0.0`.
            let zeros = frac.iter().take_while(|&&d| d == b'0').count();
            if zeros == frac.len() {
                return (frac == b"0").then_some(end);
            }
            if zeros > 3 || frac.last() == Some(&b'0') {
                return None;
            }
            exp10 = -(zeros as i32) - 1;
            first = (from + zeros, to);
            second = (to, to);
        } else {
            // `ddd.ddd` or `ddd000.0`: below 10^16, no leading zero.
            if int_part.is_empty() || int_part[0] == b'0' || int_part.len() > 16 {
                return None;
            }
            exp10 = int_part.len() as i32 - 1;
            if frac == b"0" {
                let zeros = int_part.iter().rev().take_while(|&&d| d == b'0').count();
                first = (int_start, int_end - zeros);
                second = (to, to);
            } else {
                if frac.last() == Some(&b'0') {
                    return None;
                }
                first = (int_start, int_end);
                second = (from, to);
            }
        }
    }
    let n = (first.1 - first.0) + (second.1 - second.0);
    if n > 17 {
        return None;
    }
    let literal_digits = fold_digits(b, second, fold_digits(b, first, 0));
    let last = (literal_digits % 10) as u8 + b'0';
    let literal = &b[at..end];
    is_repr_of_some_double(literal, literal_digits, n, last, exp10).then_some(end)
}

/// The end of the run of ASCII digits at `i` in `b`, eight bytes at a time.
#[inline]
pub(crate) fn digits_end(b: &[u8], mut i: usize) -> usize {
    const LOW: u64 = 0x0F0F_0F0F_0F0F_0F0F;
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        // A byte is nonzero where it is no digit: its high nibble is not 3, or its low one is
        // 10 or more (no carry crosses a byte in either test).
        let not_digit =
            ((w & HIGH) ^ 0x3030_3030_3030_3030) | (((w & LOW) + 0x0606_0606_0606_0606) & HIGH);
        if not_digit != 0 {
            let nonzero = (not_digit
                | ((not_digit & 0x7F7F_7F7F_7F7F_7F7F) + 0x7F7F_7F7F_7F7F_7F7F))
                & 0x8080_8080_8080_8080;
            return i + (nonzero.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// `acc` followed by the digits `b[from..to]`, as an integer (the caller keeps the total within
/// 17 digits, so it fits), eight digits at a time where eight bytes can be read.
#[inline]
fn fold_digits(b: &[u8], (mut from, to): (usize, usize), mut acc: u64) -> u64 {
    while from < to {
        let k = (to - from).min(8);
        match b.get(from..from + 8) {
            Some(chunk) => {
                let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
                // The first digit is the lowest byte: shifting the k digits up pads them with
                // leading zeros (zero bytes), and the bytes after them fall off the top.
                let w = w << (8 * (8 - k));
                acc = acc * POWERS_OF_TEN_U64[k] + eight_digits(w);
            }
            None => {
                for &d in &b[from..from + k] {
                    acc = acc * 10 + u64::from(d - b'0');
                }
            }
        }
        from += k;
    }
    acc
}

/// The value of eight ASCII digits (or zero bytes, read as zeros), the first in the lowest byte:
/// pairs, then fours, then the eight, each step one multiplication.
#[inline]
fn eight_digits(w: u64) -> u64 {
    let v = ((w & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(10 << 8 | 1)) >> 8;
    let v = ((v & 0x00FF_00FF_00FF_00FF).wrapping_mul(100 << 16 | 1)) >> 16;
    ((v & 0x0000_FFFF_0000_FFFF).wrapping_mul(10_000 << 32 | 1)) >> 32
}

const POWERS_OF_TEN_U64: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// True when `literal` (laid out as CPython lays out a repr; its `n` significant digits are
/// `literal_digits`, the last `last`, the first at 10^`exp10`) is the repr of the double it
/// reads as.
fn is_repr_of_some_double(
    literal: &[u8],
    literal_digits: u64,
    n: usize,
    last: u8,
    exp10: i32,
) -> bool {
    if n <= 15 && (-300..=300).contains(&exp10) {
        return true;
    }
    // No finite double's repr has an exponent beyond these (5e-324, 1.7976931348623157e+308).
    if !(-330..=330).contains(&exp10) {
        return false;
    }
    let unsigned = &literal[usize::from(literal[0] == b'-')..];
    // The literal is canonical when it is the repr of some double, and then of the one it reads
    // as. A candidate double costs one multiplication or division where the literal's digits
    // and power of ten are both within f64's exact range (then it is the correctly rounded
    // value itself); past 2^53 it may be a neighbour (about one time in ten), and the
    // comparison below then fails and the literal is read exactly. A match is never wrong:
    // zmij's text reads back as its double, so the literal does too.
    // Below 10^-22 (small floats, 1e-7 * random()) the division is done in two steps: then too
    // the candidate is the right double about three times in four.
    let place = exp10 - (n as i32 - 1);
    let d = literal_digits as f64;
    let candidate = match place {
        0..=22 => Some(d * POWERS_OF_TEN[place as usize]),
        -22..=-1 => Some(d / POWERS_OF_TEN[-place as usize]),
        -44..=-23 => Some(d / 1e22 / POWERS_OF_TEN[(-place - 22) as usize]),
        _ => None,
    };
    if candidate.is_some_and(|c| repr_is(c, unsigned, last, n, exp10)) {
        return true;
    }
    let Some(value) = std::str::from_utf8(literal)
        .ok()
        .and_then(|text| text.parse::<f64>().ok())
    else {
        return false;
    };
    if !value.is_finite() || value == 0.0 {
        return false;
    }
    if repr_is(value.abs(), unsigned, last, n, exp10) {
        return true;
    }
    let (mut shortest, count, shortest_exp) = shortest_decimal(value);
    round_tie_to_even(value.abs(), &mut shortest, count, shortest_exp);
    shortest_exp == exp10 && count as usize == n && shortest == literal_digits
}

/// 10^0 to 10^22: every one is exactly a double.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// True when `unsigned` (a literal's text without its sign; `n` significant digits, the last
/// `last`, the first at 10^`exp10`) is surely CPython's repr of `x` (positive): zmij writes
/// exactly that text and it is no exact tie CPython rounds the other way. Most often zmij lays
/// the digits out as CPython does (it differs for exponents from -5 to -9, which CPython pads);
/// where it does not, false sends the caller the long way, which reads the digits back.
#[inline]
fn repr_is(x: f64, unsigned: &[u8], last: u8, n: usize, exp10: i32) -> bool {
    if !x.is_finite() || x == 0.0 {
        return false;
    }
    let mut buffer = zmij::Buffer::new();
    same_bytes(buffer.format_finite(x).as_bytes(), unsigned)
        && (last.is_multiple_of(2) || !tie_possible(x, n as u32, exp10))
}

/// `a == b` for the short texts of floats, inline: three overlapping eight-byte comparisons
/// cover up to 24 bytes (a repr has at most 24), where `==` called `memcmp` once a float.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if !(8..=24).contains(&n) {
        return a == b;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8"));
    let middle = (n - 8).min(8);
    word(a, 0) == word(b, 0)
        && word(a, middle) == word(b, middle)
        && word(a, n - 8) == word(b, n - 8)
}

/// False when `x` (positive, finite), whose shortest digits are `count` digits ending in an odd
/// one with the first at decimal exponent `exp10`, surely is no exact tie between two shortest
/// candidates. The midpoint of a tie is (2 * (digits - 1) + 1) * 5 * 10^place: an odd number
/// times 2^place. So x = m * 2^e with m odd can only equal it when e == place.
#[inline]
fn tie_possible(x: f64, count: u32, exp10: i32) -> bool {
    let place = exp10 - count as i32;
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    let (m, e) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), biased - 1075)
    };
    m != 0 && e + m.trailing_zeros() as i32 == place
}

/// Where Rust rounded an exact tie up to an odd last digit, takes the even digit below, as
/// CPython's `dtoa` does (it bumps the last digit on an exact half only when it is odd).
///
/// `digits` are the shortest digits of `x` (positive, finite) and `exp10` the decimal exponent
/// of the first one. A tie needs the exact value of `x` to be the midpoint `digits - 1`
/// followed by a 5, so the cheap tests come first and the exact decimal expansion is only
/// printed for real candidates.
fn round_tie_to_even(x: f64, shortest: &mut u64, count: u32, exp10: i32) {
    if shortest.is_multiple_of(2) {
        return;
    }
    if !tie_possible(x, count, exp10) {
        return;
    }
    let place = exp10 - count as i32;

    let mut buf = [0u8; 20];
    let digits = digit_bytes(*shortest, count, &mut buf);
    let last = digits.len() - 1;
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
        *shortest -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::{
        digits_end, float_repr, fold_digits, is_json_float_repr, same_bytes, write_float_json,
    };

    /// The inline comparison of short texts says what `==` says, at every length and with the
    /// one differing byte anywhere.
    #[test]
    fn same_bytes_is_equality() {
        for n in 0..=40 {
            let a: Vec<u8> = (0..n).map(|i| b'0' + (i % 10) as u8).collect();
            assert!(same_bytes(&a, &a.clone()), "length {n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x10;
                assert!(!same_bytes(&a, &b), "length {n}, byte {at}");
            }
            assert!(!same_bytes(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
    }

    /// The fast check agrees with the definition, `json.dumps(float(text)) == text`, on reprs
    /// of random doubles and on literals near them in every way a hand-edited record may be.
    #[test]
    fn the_repr_check_agrees_with_writing_the_value() {
        let mut next = crate::test_rng::xorshift(0x2545_f491_4f6c_dd1d);
        let truth = |text: &str| match text.parse::<f64>() {
            Ok(v) if v.is_finite() => json(v) == text,
            _ => false,
        };
        let mut checked = 0;
        let mut accepted = 0;
        for round in 0..200_000 {
            let x = match round % 4 {
                0 => f64::from_bits(next()),
                1 => (next() % 1_000_000) as f64 / 10f64.powi((next() % 12) as i32),
                2 => (next() >> 11) as f64 / (1u64 << 53) as f64,
                _ => f64::from_bits(next() % (1 << 60)),
            };
            if !x.is_finite() {
                continue;
            }
            let repr = json(x);
            let mut variants = vec![repr.clone()];
            let bytes = repr.as_bytes();
            let at = (next() as usize) % bytes.len();
            let mut changed = bytes.to_vec();
            changed[at] = b"0123456789.e+-"[(next() % 14) as usize];
            variants.push(String::from_utf8(changed).unwrap());
            variants.push(format!("{repr}0"));
            variants.push(repr.replace("e+", "e").replace("e-0", "e-"));
            variants.push(repr.replace(".0", ""));
            variants.push(format!("{x:e}"));
            variants.push(format!("{x:.17e}"));
            variants.push(format!("{x:.15}"));
            // Its neighbours in the last digit, laid out the same way: these read as the same
            // double or the next one, and exercise the candidate-double shortcut both ways.
            let last_digit = repr
                .char_indices()
                .take_while(|&(_, c)| c != 'e')
                .filter(|(_, c)| c.is_ascii_digit())
                .last();
            if let Some((at, d)) = last_digit {
                for bumped in [d as u8 + 1, d as u8 - 1] {
                    if bumped.is_ascii_digit() {
                        let mut changed = repr.clone().into_bytes();
                        changed[at] = bumped;
                        variants.push(String::from_utf8(changed).unwrap());
                    }
                }
            }
            // Seventeen significant digits of the same double, in CPython's layout.
            variants.push(json_layout_17(x));
            for v in variants {
                // Only what the canonical check hands over: a number with a fraction or exponent.
                let number = v.trim_start_matches('-');
                let well_formed = !number.is_empty()
                    && number.bytes().next().is_some_and(|b| b.is_ascii_digit())
                    && (v.contains('.') || v.contains('e'))
                    && v.parse::<f64>().is_ok()
                    && !v.ends_with('.')
                    && !v.contains(".e")
                    && !number.starts_with("0")
                        | number.starts_with("0.")
                        | number.starts_with("0e")
                    && !(number.starts_with("00"));
                if !well_formed {
                    continue;
                }
                checked += 1;
                let want = truth(&v);
                accepted += usize::from(want);
                assert_eq!(is_json_float_repr(&v), want, "{v:?} (from {repr})");
                // Inside a bigger text, where the eight-byte reads run past the number.
                let within = format!("[{v}, {v}]");
                assert_eq!(
                    crate::pyjson::canonical_len(&within) == Some(within.len()),
                    want,
                    "{within:?}"
                );
            }
        }
        assert!(
            checked > 500_000 && accepted > 200_000,
            "{checked} {accepted}"
        );
    }

    /// `x` with 17 significant digits (trailing zeros dropped), laid out as repr lays out its
    /// digits: canonical only where the repr itself needs 17.
    fn json_layout_17(x: f64) -> String {
        let text = format!("{:.16e}", x.abs());
        let (mantissa, exponent) = text.split_once('e').unwrap();
        let digits: Vec<u8> = mantissa
            .bytes()
            .filter(u8::is_ascii_digit)
            .collect::<Vec<_>>();
        let kept = digits.len() - digits.iter().rev().take_while(|&&d| d == b'0').count();
        let mut buf = [0u8; super::LAYOUT_MAX];
        let len = super::layout(
            x.is_sign_negative(),
            &digits[..kept.max(1)],
            exponent.parse().unwrap(),
            &mut buf,
        );
        String::from_utf8(buf[..len].to_vec()).unwrap()
    }

    fn json(value: f64) -> String {
        let mut out = String::new();
        write_float_json(value, &mut out);
        out
    }

    #[test]
    fn digit_runs_are_found_and_read_eight_bytes_at_a_time() {
        // Every run length up to 20, at every alignment, ended by every byte that is no digit
        // or by the end of the text, with digits that vary from run to run.
        for len in 0..=20usize {
            for offset in 0..9usize {
                for end in (0u16..=256).filter(|&e| !(e as u8).is_ascii_digit() || e == 256) {
                    let mut text = vec![b'x'; offset];
                    let digits: Vec<u8> = (0..len)
                        .map(|i| b'0' + ((i * 7 + len + offset) % 10) as u8)
                        .collect();
                    text.extend(&digits);
                    if end < 256 {
                        text.push(end as u8);
                        text.extend(b"123");
                    }
                    assert_eq!(digits_end(&text, offset), offset + len, "{text:?}");
                    if len <= 17 {
                        let want = digits
                            .iter()
                            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
                        assert_eq!(fold_digits(&text, (offset, offset + len), 0), want);
                        let split = len / 3;
                        let acc = fold_digits(&text, (offset, offset + split), 0);
                        assert_eq!(
                            fold_digits(&text, (offset + split, offset + len), acc),
                            want
                        );
                    }
                }
            }
        }
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
        let mut odd_ties = 0;
        for &(value, want) in cases {
            assert_eq!(float_repr(value), want, "repr of {value:e}");
            // The canonical check takes CPython's even digit and refuses the odd one, which
            // reads as the same double.
            assert!(is_json_float_repr(want), "{want}");
            let mut odd = want.as_bytes().to_vec();
            let last = odd.len() - 1;
            if odd[last] % 2 == 0 && odd[last] != b'0' && want.len() > 4 {
                odd[last] += 1;
                let odd = String::from_utf8(odd).unwrap();
                if odd.parse::<f64>().unwrap() == value {
                    odd_ties += 1;
                    assert!(
                        !is_json_float_repr(&odd),
                        "{odd} is not what CPython writes"
                    );
                }
            }
        }
        assert!(odd_ties >= 3, "{odd_ties}");
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
