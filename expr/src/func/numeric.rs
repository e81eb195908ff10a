//! Integer, float and numeric arithmetic and math functions, with PostgreSQL's overflow
//! checks, error messages and numeric result scales (numeric.c, int.c, float.c).
//!
//! Numeric values are `rust_decimal::Decimal`s (96-bit mantissa, scale ≤ 28). Results are
//! computed exactly on `i128` mantissas where they fit and rounded half away from zero to
//! the scale PostgreSQL would choose; a result PostgreSQL would show with more than 28
//! fractional digits, or more than 28-29 significant digits, is rounded to what fits.

use eddy_repr::Datum;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::{arity_error, type_error, FloatFunc, Func, NumType};
use crate::EvalError;

const MAX_SCALE: u32 = 28;
/// 2^96 - 1: the largest mantissa a Decimal holds.
const MAX_MANTISSA: u128 = 79_228_162_514_264_337_593_543_950_335;
const NUMERIC_MIN_SIG_DIGITS: i32 = 16;
/// log10(e) exactly as PostgreSQL's numeric.c spells it (the result-scale estimates use
/// this truncated value).
#[allow(clippy::approx_constant)]
const PG_LOG10_E: f64 = 0.434_294_481_903_252;

// ---------------------------------------------------------------------------------------
// Errors.

pub(super) fn int_out_of_range(t: NumType) -> EvalError {
    EvalError::OutOfRange(
        match t {
            NumType::Int16 => "smallint out of range",
            NumType::Int32 => "integer out of range",
            NumType::Int64 => "bigint out of range",
            NumType::Numeric => "value overflows numeric format",
            NumType::Float32 | NumType::Float64 => "value out of range: overflow",
        }
        .into(),
    )
}

pub(super) fn numeric_overflow() -> EvalError {
    EvalError::OutOfRange("value overflows numeric format".into())
}

fn float_overflow() -> EvalError {
    EvalError::OutOfRange("value out of range: overflow".into())
}

fn float_underflow() -> EvalError {
    EvalError::OutOfRange("value out of range: underflow".into())
}

fn power_error(msg: &str) -> EvalError {
    EvalError::InvalidArgument { sqlstate: "2201F".into(), message: msg.into() }
}

fn log_error(msg: &str) -> EvalError {
    EvalError::InvalidArgument { sqlstate: "2201E".into(), message: msg.into() }
}

fn input_out_of_range() -> EvalError {
    EvalError::OutOfRange("input is out of range".into())
}

// ---------------------------------------------------------------------------------------
// Datum access.

pub(crate) fn as_f64(d: &Datum) -> Result<f64, EvalError> {
    match d {
        Datum::Float64(f) => Ok(*f),
        Datum::Float32(f) => Ok(*f as f64),
        Datum::Int16(_) | Datum::Int32(_) | Datum::Int64(_) => Ok(d.as_i64().unwrap_or(0) as f64),
        Datum::Numeric(n) => Ok(numeric_to_f64(n)),
        _ => Err(EvalError::Internal(format!("expected a number, got {d:?}"))),
    }
}

fn as_f32(d: &Datum) -> Result<f32, EvalError> {
    match d {
        Datum::Float32(f) => Ok(*f),
        other => Ok(as_f64(other)? as f32),
    }
}

pub(super) fn as_i64(d: &Datum) -> Result<i64, EvalError> {
    d.as_i64().ok_or_else(|| EvalError::Internal(format!("expected an integer, got {d:?}")))
}

pub(super) fn as_dec(d: &Datum) -> Result<Decimal, EvalError> {
    match d {
        Datum::Numeric(n) => Ok(*n),
        Datum::Int16(_) | Datum::Int32(_) | Datum::Int64(_) => Ok(Decimal::from(d.as_i64().unwrap_or(0))),
        _ => Err(EvalError::Internal(format!("expected a numeric, got {d:?}"))),
    }
}

/// Correctly rounded conversion (PostgreSQL converts through the text form).
pub(super) fn numeric_to_f64(n: &Decimal) -> f64 {
    n.to_string().parse().unwrap_or(f64::NAN)
}

pub(super) fn int_datum(v: i128, t: NumType) -> Result<Datum, EvalError> {
    match t {
        NumType::Int16 => i16::try_from(v).map(Datum::Int16).map_err(|_| int_out_of_range(t)),
        NumType::Int32 => i32::try_from(v).map(Datum::Int32).map_err(|_| int_out_of_range(t)),
        NumType::Int64 => i64::try_from(v).map(Datum::Int64).map_err(|_| int_out_of_range(t)),
        _ => Err(EvalError::Internal(format!("integer result for {t:?}"))),
    }
}

fn is_int(t: NumType) -> bool {
    matches!(t, NumType::Int16 | NumType::Int32 | NumType::Int64)
}

// ---------------------------------------------------------------------------------------
// Exact decimal helpers.

fn pow10_i128(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

fn pow10_u128(n: u32) -> Option<u128> {
    10u128.checked_pow(n)
}

/// Divides `m` by 10^`n`, rounding half away from zero.
fn div_pow10_round(m: i128, n: u32) -> i128 {
    if n == 0 {
        return m;
    }
    match pow10_i128(n) {
        None => 0,
        Some(p) => {
            let q = m / p;
            let r = m % p;
            if r.unsigned_abs() * 2 >= p.unsigned_abs() {
                q + m.signum()
            } else {
                q
            }
        }
    }
}

/// A Decimal for `m * 10^-scale`, rounding away fractional digits that do not fit.
pub(super) fn fit(m: i128, scale: i64) -> Result<Decimal, EvalError> {
    let (mut m, mut scale) = (m, scale);
    if scale < 0 {
        let p = pow10_i128(u32::try_from(-scale).map_err(|_| numeric_overflow())?).ok_or_else(numeric_overflow)?;
        m = m.checked_mul(p).ok_or_else(numeric_overflow)?;
        scale = 0;
    }
    if scale > MAX_SCALE as i64 {
        let drop = u32::try_from(scale - MAX_SCALE as i64).unwrap_or(u32::MAX);
        m = div_pow10_round(m, drop);
        scale = MAX_SCALE as i64;
    }
    while m.unsigned_abs() > MAX_MANTISSA {
        if scale == 0 {
            return Err(numeric_overflow());
        }
        m = div_pow10_round(m, 1);
        scale -= 1;
    }
    Decimal::try_from_i128_with_scale(m, scale as u32).map_err(|_| numeric_overflow())
}

/// Removes a negative sign from zero (PostgreSQL has no negative zero numeric).
fn unneg(mut d: Decimal) -> Decimal {
    if d.is_zero() {
        d.set_sign_positive(true);
    }
    d
}

/// Mantissas of `a` and `b` at a common scale, if they fit.
fn aligned(a: &Decimal, b: &Decimal) -> Option<(i128, i128, u32)> {
    let s = a.scale().max(b.scale());
    let ma = a.mantissa().checked_mul(pow10_i128(s - a.scale())?)?;
    let mb = b.mantissa().checked_mul(pow10_i128(s - b.scale())?)?;
    Some((ma, mb, s))
}

pub(super) fn num_add(a: Decimal, b: Decimal) -> Result<Decimal, EvalError> {
    if let Some((ma, mb, s)) = aligned(&a, &b) {
        if let Some(sum) = ma.checked_add(mb) {
            return fit(sum, s as i64);
        }
    }
    a.checked_add(b).map(unneg).ok_or_else(numeric_overflow)
}

pub(super) fn num_sub(a: Decimal, b: Decimal) -> Result<Decimal, EvalError> {
    num_add(a, -b)
}

pub(super) fn num_mul(a: Decimal, b: Decimal) -> Result<Decimal, EvalError> {
    if let Some(p) = a.mantissa().checked_mul(b.mantissa()) {
        return fit(p, a.scale() as i64 + b.scale() as i64);
    }
    a.checked_mul(b).map(unneg).ok_or_else(numeric_overflow)
}

/// Base-10000 digits as PostgreSQL's NumericVar holds them: (weight of the first nonzero
/// digit, first digit, second digit), or None for zero.
fn nbase(d: &Decimal) -> Option<(i32, u32, Option<u32>)> {
    let m = d.mantissa().unsigned_abs();
    if m == 0 {
        return None;
    }
    let s = d.scale();
    let pad = (4 - s % 4) % 4;
    let mut m = m * 10u128.pow(pad);
    let groups_below_point = ((s + pad) / 4) as i32;
    let mut groups = Vec::new();
    while m > 0 {
        groups.push((m % 10000) as u32);
        m /= 10000;
    }
    let top = groups.len() - 1;
    let weight = top as i32 - groups_below_point;
    let second = if top > 0 { Some(groups[top - 1]) } else { None };
    Some((weight, groups[top], second))
}

/// PostgreSQL's `select_div_scale`.
fn select_div_scale(a: &Decimal, b: &Decimal) -> i32 {
    let (w1, f1) = nbase(a).map_or((0, 0), |(w, f, _)| (w, f));
    let (w2, f2) = nbase(b).map_or((0, 0), |(w, f, _)| (w, f));
    let mut qweight = w1 - w2;
    if f1 <= f2 {
        qweight -= 1;
    }
    let rscale = NUMERIC_MIN_SIG_DIGITS - qweight * 4;
    rscale.max(a.scale() as i32).max(b.scale() as i32).clamp(0, 1000)
}

/// `round(|ma| * 10^-sa / (|mb| * 10^-sb), rscale)` as a mantissa at `rscale`, if it fits.
fn div_mantissa(na: u128, sa: u32, nb: u128, sb: u32, rscale: u32) -> Option<u128> {
    let e = sb as i64 - sa as i64 + rscale as i64;
    let (q, r, nb) = if e < 0 {
        let nb = nb.checked_mul(pow10_u128(u32::try_from(-e).ok()?)?);
        match nb {
            None => return Some(0),
            Some(nb) => (na / nb, na % nb, nb),
        }
    } else {
        let digits = na.to_string();
        let mut q: u128 = 0;
        let mut r: u128 = 0;
        let zeros = std::iter::repeat_n(0u32, e as usize);
        for d in digits.bytes().map(|b| (b - b'0') as u32).chain(zeros) {
            r = r * 10 + d as u128;
            q = q.checked_mul(10)?.checked_add(r / nb)?;
            r %= nb;
            if q > MAX_MANTISSA * 10 {
                return None;
            }
        }
        (q, r, nb)
    };
    let q = if r >= nb - r { q + 1 } else { q };
    (q <= MAX_MANTISSA).then_some(q)
}

/// `a / b` rounded half away from zero to `rscale` (capped at 28), reducing the scale if
/// the quotient has too many digits.
fn div_to_scale(a: &Decimal, b: &Decimal, rscale: i32) -> Result<Decimal, EvalError> {
    if b.is_zero() {
        return Err(EvalError::DivisionByZero);
    }
    let negative = a.is_sign_negative() != b.is_sign_negative();
    let na = a.mantissa().unsigned_abs();
    let nb = b.mantissa().unsigned_abs();
    let mut rs = rscale.clamp(0, MAX_SCALE as i32) as u32;
    loop {
        if let Some(q) = div_mantissa(na, a.scale(), nb, b.scale(), rs) {
            let q = q as i128;
            return fit(if negative { -q } else { q }, rs as i64);
        }
        if rs == 0 {
            return Err(numeric_overflow());
        }
        rs -= 1;
    }
}

pub(super) fn numeric_div(a: Decimal, b: Decimal) -> Result<Decimal, EvalError> {
    if b.is_zero() {
        return Err(EvalError::DivisionByZero);
    }
    div_to_scale(&a, &b, select_div_scale(&a, &b))
}

fn num_mod(a: Decimal, b: Decimal) -> Result<Decimal, EvalError> {
    if b.is_zero() {
        return Err(EvalError::DivisionByZero);
    }
    if let Some((ma, mb, s)) = aligned(&a, &b) {
        return fit(ma % mb, s as i64);
    }
    a.checked_rem(b).map(unneg).ok_or_else(numeric_overflow)
}

/// `div(a, b)`: the integral quotient, truncated toward zero.
/// `n!`, exact; PostgreSQL's error for a negative `n`.
fn factorial(n: i64) -> Result<Decimal, EvalError> {
    if n < 0 {
        return Err(EvalError::invalid_argument("factorial of a negative number is undefined"));
    }
    (2..=n).try_fold(Decimal::ONE, |acc, k| acc.checked_mul(Decimal::from(k)).ok_or_else(numeric_overflow))
}

fn num_int_div(a: Decimal, b: Decimal) -> Result<Decimal, EvalError> {
    if b.is_zero() {
        return Err(EvalError::DivisionByZero);
    }
    if let Some((ma, mb, _)) = aligned(&a, &b) {
        return fit(ma / mb, 0);
    }
    a.checked_div(b).map(|q| unneg(q.trunc())).ok_or_else(numeric_overflow)
}

/// `round(d, s)` (half away from zero) or `trunc(d, s)`; the result has scale `max(s, 0)`
/// as in PostgreSQL (so `round(1.2, 3)` is `1.200`).
pub(super) fn num_round(d: Decimal, s: i64, truncate: bool) -> Result<Decimal, EvalError> {
    let cur = d.scale() as i64;
    let m = d.mantissa();
    if s >= cur {
        let target = s.min(MAX_SCALE as i64);
        let up = (target - cur).max(0) as u32;
        return match pow10_i128(up).and_then(|p| m.checked_mul(p)) {
            Some(m2) => fit(m2, cur + up as i64),
            None => Ok(unneg(d)),
        };
    }
    let drop = u32::try_from(cur.saturating_sub(s)).unwrap_or(u32::MAX);
    let q = if truncate { pow10_i128(drop).map_or(0, |p| m / p) } else { div_pow10_round(m, drop) };
    if s < 0 {
        // Digits left of the point were cleared: scale back up with scale 0.
        let up = u32::try_from(s.unsigned_abs()).unwrap_or(u32::MAX);
        if q == 0 {
            return fit(0, 0);
        }
        let p = pow10_i128(up).ok_or_else(numeric_overflow)?;
        fit(q.checked_mul(p).ok_or_else(numeric_overflow)?, 0)
    } else {
        fit(q, s)
    }
}

fn num_ceil_floor(d: Decimal, ceil: bool) -> Result<Decimal, EvalError> {
    let p = pow10_i128(d.scale()).ok_or_else(numeric_overflow)?;
    let m = d.mantissa();
    let mut q = m / p;
    let r = m % p;
    if ceil && r > 0 {
        q += 1;
    } else if !ceil && r < 0 {
        q -= 1;
    }
    fit(q, 0)
}

/// Decimal exponent of the most significant digit of a nonzero `d` (floor(log10|d|)).
fn decimal_exponent(d: &Decimal) -> i32 {
    let digits = d.mantissa().unsigned_abs().to_string().len() as i32;
    digits - 1 - d.scale() as i32
}

/// PostgreSQL's `estimate_ln_dweight`.
fn estimate_ln_dweight(d: &Decimal) -> i32 {
    if d.is_sign_negative() || d.is_zero() {
        return 0;
    }
    let lo = Decimal::new(9, 1);
    let hi = Decimal::new(11, 1);
    if *d >= lo && *d <= hi {
        let x = *d - Decimal::ONE;
        if x.is_zero() {
            0
        } else {
            decimal_exponent(&x)
        }
    } else {
        match nbase(d) {
            None => 0,
            Some((weight, first, second)) => {
                let mut digits = first as f64;
                let mut dweight = weight * 4;
                if let Some(s) = second {
                    digits = digits * 10000.0 + s as f64;
                    dweight -= 4;
                }
                let ln_var = digits.ln() + dweight as f64 * std::f64::consts::LN_10;
                ln_var.abs().log10() as i32
            }
        }
    }
}

// ---- high precision ln/exp on Decimal (about 27 significant digits) ----

fn ln2() -> Decimal {
    Decimal::from_i128_with_scale(6_931_471_805_599_453_094_172_321_215, 28)
}

fn ln10() -> Decimal {
    Decimal::from_i128_with_scale(23_025_850_929_940_456_840_179_914_547, 28)
}

/// Natural logarithm of a positive Decimal.
fn dec_ln(x: Decimal) -> Option<Decimal> {
    if x <= Decimal::ZERO {
        return None;
    }
    // x = m * 10^k with m in [1, 10).
    let k = decimal_exponent(&x);
    let mut m = Decimal::from_i128_with_scale(x.mantissa(), (x.mantissa().to_string().len() - 1) as u32);
    // m in [1, 10): bring into [0.75, 1.5) by powers of two.
    let mut twos = 0i64;
    let two = Decimal::TWO;
    let limit = Decimal::new(15, 1);
    while m >= limit {
        m = m.checked_div(two)?;
        twos += 1;
    }
    // ln(m) = 2 atanh(z), z = (m-1)/(m+1), |z| < 0.2
    let z = (m - Decimal::ONE).checked_div(m + Decimal::ONE)?;
    let z2 = z.checked_mul(z)?;
    let mut term = z;
    let mut sum = z;
    let mut n = 1i64;
    loop {
        term = term.checked_mul(z2)?;
        n += 2;
        let t = term.checked_div(Decimal::from(n))?;
        if t.is_zero() {
            break;
        }
        sum = sum.checked_add(t)?;
        if n > 200 {
            break;
        }
    }
    let lnm = sum.checked_mul(two)?;
    lnm.checked_add(ln2().checked_mul(Decimal::from(twos))?)?.checked_add(ln10().checked_mul(Decimal::from(k))?)
}

/// e^x, or None if it does not fit.
fn dec_exp(x: Decimal) -> Option<Decimal> {
    if x > Decimal::from(67) {
        return None;
    }
    if x < Decimal::from(-66) {
        return Some(Decimal::ZERO);
    }
    // x = n ln2 + r, |r| <= ln2/2
    let n = x.checked_div(ln2())?.round().to_i64()?;
    let r = x.checked_sub(ln2().checked_mul(Decimal::from(n))?)?;
    let mut term = Decimal::ONE;
    let mut sum = Decimal::ONE;
    for i in 1..60 {
        term = term.checked_mul(r)?.checked_div(Decimal::from(i))?;
        if term.is_zero() {
            break;
        }
        sum = sum.checked_add(term)?;
    }
    let mut result = sum;
    let two = Decimal::TWO;
    if n >= 0 {
        for _ in 0..n {
            result = result.checked_mul(two)?;
        }
    } else {
        for _ in 0..(-n) {
            result = result.checked_div(two)?;
        }
    }
    Some(result)
}

fn num_round_to(d: Decimal, rscale: i32) -> Result<Decimal, EvalError> {
    num_round(d, rscale.clamp(0, MAX_SCALE as i32) as i64, false)
}

fn num_sqrt(d: Decimal) -> Result<Decimal, EvalError> {
    if d.is_sign_negative() && !d.is_zero() {
        return Err(power_error("cannot take square root of a negative number"));
    }
    let weight = nbase(&d).map_or(0, |(w, _, _)| w);
    let sweight = (weight + 1) * 4 / 2 - 1;
    let rscale = (NUMERIC_MIN_SIG_DIGITS - sweight).max(d.scale() as i32).clamp(0, 1000);
    if d.is_zero() {
        return num_round_to(Decimal::ZERO, rescale_cap(rscale));
    }
    use rust_decimal::MathematicalOps;
    let r = d.sqrt().ok_or_else(numeric_overflow)?;
    num_round_to(r, rescale_cap(rscale))
}

/// The square root of a non-negative `d`, rounded to `rscale` decimals (how `stddev`
/// finishes its variance).
pub(super) fn sqrt_at_scale(d: Decimal, rscale: u32) -> Result<Decimal, EvalError> {
    use rust_decimal::MathematicalOps;
    let r = if d.is_zero() { Decimal::ZERO } else { d.sqrt().ok_or_else(numeric_overflow)? };
    num_round_to(r, rescale_cap(rscale as i32))
}

fn rescale_cap(r: i32) -> i32 {
    r.min(MAX_SCALE as i32)
}

fn num_exp(d: Decimal) -> Result<Decimal, EvalError> {
    let mut val = numeric_to_f64(&d) * PG_LOG10_E;
    val = val.clamp(-2000.0, 2000.0);
    let rscale = (NUMERIC_MIN_SIG_DIGITS - val as i32).max(d.scale() as i32).clamp(0, 1000);
    let r = dec_exp(d).ok_or_else(numeric_overflow)?;
    num_round_to(r, rescale_cap(rscale))
}

fn check_ln_arg(d: &Decimal) -> Result<(), EvalError> {
    if d.is_zero() {
        Err(log_error("cannot take logarithm of zero"))
    } else if d.is_sign_negative() {
        Err(log_error("cannot take logarithm of a negative number"))
    } else {
        Ok(())
    }
}

fn num_ln(d: Decimal) -> Result<Decimal, EvalError> {
    check_ln_arg(&d)?;
    let rscale = (NUMERIC_MIN_SIG_DIGITS - estimate_ln_dweight(&d)).max(d.scale() as i32).clamp(0, 1000);
    let r = dec_ln(d).ok_or_else(numeric_overflow)?;
    num_round_to(r, rescale_cap(rscale))
}

/// `log(base, num)` with PostgreSQL's `log_var` result scale.
fn num_log(base: Decimal, num: Decimal) -> Result<Decimal, EvalError> {
    check_ln_arg(&base)?;
    check_ln_arg(&num)?;
    let result_dweight = estimate_ln_dweight(&num) - estimate_ln_dweight(&base);
    let rscale =
        (NUMERIC_MIN_SIG_DIGITS - result_dweight).max(base.scale() as i32).max(num.scale() as i32).clamp(0, 1000);
    let ln_b = dec_ln(base).ok_or_else(numeric_overflow)?;
    let ln_n = dec_ln(num).ok_or_else(numeric_overflow)?;
    if ln_b.is_zero() {
        return Err(EvalError::DivisionByZero);
    }
    let r = ln_n.checked_div(ln_b).ok_or_else(numeric_overflow)?;
    num_round_to(r, rescale_cap(rscale))
}

/// Exact `base^exp` for a non-negative integer exponent, if it fits.
fn int_power_exact(base: Decimal, exp: u32) -> Option<(i128, i64)> {
    let m = base.mantissa().checked_pow(exp)?;
    Some((m, base.scale() as i64 * exp as i64))
}

fn num_pow(base: Decimal, exp: Decimal) -> Result<Decimal, EvalError> {
    if base.is_zero() && exp.is_sign_negative() && !exp.is_zero() {
        return Err(power_error("zero raised to a negative power is undefined"));
    }
    let exp_is_int = exp.fract().is_zero();
    if exp_is_int {
        if let Some(e) = exp.trunc().to_i64().filter(|e| i32::try_from(*e).is_ok()) {
            let rscale = NUMERIC_MIN_SIG_DIGITS.max(base.scale() as i32).min(1000);
            return num_pow_int(base, e, rscale);
        }
    }
    if base.is_zero() {
        return fit(0, NUMERIC_MIN_SIG_DIGITS as i64);
    }
    let negative_result = if base.is_sign_negative() {
        if !exp_is_int {
            return Err(power_error("a negative number raised to a non-integer power yields a complex result"));
        }
        // An integral exponent too large for int32: odd exponents give negative results.
        exp.trunc().mantissa() % 2 != 0
    } else {
        false
    };
    let abs_base = base.abs();
    let ln_b = dec_ln(abs_base).ok_or_else(numeric_overflow)?;
    let ln_num = ln_b.checked_mul(exp).ok_or_else(numeric_overflow)?;
    let val = numeric_to_f64(&ln_num);
    if val.abs() > 2000.0 * 3.01 {
        if val > 0.0 {
            return Err(numeric_overflow());
        }
        return fit(0, MAX_SCALE as i64);
    }
    let val = val * PG_LOG10_E;
    let rscale = (NUMERIC_MIN_SIG_DIGITS - val as i32).max(base.scale() as i32).max(exp.scale() as i32).clamp(0, 1000);
    let r = dec_exp(ln_num).ok_or_else(numeric_overflow)?;
    let r = num_round_to(r, rescale_cap(rscale))?;
    Ok(if negative_result { unneg(-r) } else { r })
}

/// PostgreSQL's `power_var_int`: the result rounded to `rscale`.
fn num_pow_int(base: Decimal, exp: i64, rscale: i32) -> Result<Decimal, EvalError> {
    let rscale = rescale_cap(rscale);
    if exp == 0 {
        return num_round_to(Decimal::ONE, rscale);
    }
    if base.is_zero() {
        if exp < 0 {
            return Err(EvalError::DivisionByZero);
        }
        return num_round_to(Decimal::ZERO, rscale);
    }
    let abs_exp = exp.unsigned_abs();
    let exact = u32::try_from(abs_exp).ok().and_then(|e| int_power_exact(base, e));
    match (exact, exp > 0) {
        (Some((m, s)), true) => {
            // Round the exact value to rscale, then scale up to rscale.
            let m = if s > rscale as i64 {
                div_pow10_round(m, u32::try_from(s - rscale as i64).unwrap_or(u32::MAX))
            } else {
                m
            };
            let s = s.min(rscale as i64);
            let d = fit(m, s)?;
            num_round_to(d, rscale)
        }
        (Some((m, s)), false) => {
            // 1 / base^|exp|: build base^|exp| as a Decimal if it fits, else approximate.
            match fit(m, s) {
                Ok(p) if p.mantissa() == m => div_to_scale(&Decimal::ONE, &p, rscale),
                _ => approx_pow(base, exp, rscale),
            }
        }
        (None, _) => approx_pow(base, exp, rscale),
    }
}

fn approx_pow(base: Decimal, exp: i64, rscale: i32) -> Result<Decimal, EvalError> {
    let negative = base.is_sign_negative() && exp % 2 != 0;
    let ln_b = dec_ln(base.abs()).ok_or_else(numeric_overflow)?;
    let ln_num = ln_b.checked_mul(Decimal::from(exp)).ok_or_else(numeric_overflow)?;
    let r = dec_exp(ln_num).ok_or_else(numeric_overflow)?;
    let r = num_round_to(r, rscale)?;
    Ok(if negative { unneg(-r) } else { r })
}

// ---------------------------------------------------------------------------------------
// Floats.

fn check_float(result: f64, inf_ok: bool, zero_ok: bool) -> Result<f64, EvalError> {
    if result.is_infinite() && !inf_ok {
        return Err(float_overflow());
    }
    if result == 0.0 && !zero_ok {
        return Err(float_underflow());
    }
    Ok(result)
}

fn float_binop(func: &Func, t: NumType, a: &Datum, b: &Datum) -> Result<Datum, EvalError> {
    let single = t == NumType::Float32;
    let (x, y) = if single { (as_f32(a)? as f64, as_f32(b)? as f64) } else { (as_f64(a)?, as_f64(b)?) };
    let compute = |r64: f64, r32: f32| if single { r32 as f64 } else { r64 };
    let (x32, y32) = (x as f32, y as f32);
    let r = match func {
        Func::Add(_) => check_float(compute(x + y, x32 + y32), x.is_infinite() || y.is_infinite(), true)?,
        Func::Sub(_) => check_float(compute(x - y, x32 - y32), x.is_infinite() || y.is_infinite(), true)?,
        Func::Mul(_) => {
            check_float(compute(x * y, x32 * y32), x.is_infinite() || y.is_infinite(), x == 0.0 || y == 0.0)?
        }
        Func::Div(_) => {
            if y == 0.0 && !x.is_nan() {
                return Err(EvalError::DivisionByZero);
            }
            check_float(compute(x / y, x32 / y32), x.is_infinite(), x == 0.0 || y.is_infinite())?
        }
        Func::Pow(_) => float_pow(x, y)?,
        _ => return Err(type_error(func, &[a.clone(), b.clone()])),
    };
    Ok(if single { Datum::Float32(r as f32) } else { Datum::Float64(r) })
}

fn float_pow(x: f64, y: f64) -> Result<f64, EvalError> {
    if x.is_nan() {
        return Ok(if y.is_nan() || y != 0.0 { f64::NAN } else { 1.0 });
    }
    if y.is_nan() {
        return Ok(if x != 1.0 { f64::NAN } else { 1.0 });
    }
    if x == 0.0 && y < 0.0 {
        return Err(power_error("zero raised to a negative power is undefined"));
    }
    if x < 0.0 && y.floor() != y {
        return Err(power_error("a negative number raised to a non-integer power yields a complex result"));
    }
    let r = x.powf(y);
    if x.is_infinite() || y.is_infinite() {
        return Ok(r);
    }
    if r.is_infinite() {
        return Err(float_overflow());
    }
    if r == 0.0 && x != 0.0 {
        return Err(float_underflow());
    }
    Ok(r)
}

/// `frexp`: `x = m * 2^e` with `0.5 <= |m| < 1`.
fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        let (m, e) = frexp(x * 2f64.powi(54));
        return (m, e - 54);
    }
    let m = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (m, exp - 1022)
}

/// glibc's `cbrt` (sysdeps/ieee754/dbl-64/s_cbrt.c), which PostgreSQL calls: it is not
/// correctly rounded (`cbrt(27)` is 3.0000000000000004) and Rust's own `cbrt` differs.
#[allow(clippy::excessive_precision)]
fn glibc_cbrt(x: f64) -> f64 {
    const CBRT2: f64 = 1.2599210498948731648;
    const SQR_CBRT2: f64 = 1.5874010519681994748;
    const FACTOR: [f64; 5] = [1.0 / SQR_CBRT2, 1.0 / CBRT2, 1.0, CBRT2, SQR_CBRT2];
    let (xm, xe) = frexp(x.abs());
    if x == 0.0 || !x.is_finite() {
        return x + x;
    }
    let u = 0.354895765043919860
        + ((1.50819193781584896
            + ((-2.11499494167371287
                + ((2.44693122563534430
                    + ((-1.83469277483613086 + (0.784932344976639262 - 0.145263899385486377 * xm) * xm) * xm))
                    * xm))
                * xm))
            * xm);
    let t2 = u * u * u;
    let ym = u * (t2 + 2.0 * xm) / (2.0 * t2 + xm) * FACTOR[(2 + xe % 3) as usize];
    let r = ym * 2f64.powi(xe / 3);
    if x < 0.0 {
        -r
    } else {
        r
    }
}

fn float_unary(f: FloatFunc, x: f64) -> Result<f64, EvalError> {
    use FloatFunc::*;
    let r = match f {
        Cbrt => glibc_cbrt(x),
        Sin | Cos | Tan | Cot => {
            if x.is_nan() {
                return Ok(f64::NAN);
            }
            if x.is_infinite() {
                return Err(input_out_of_range());
            }
            match f {
                Sin => x.sin(),
                Cos => x.cos(),
                Tan => x.tan(),
                _ => 1.0 / x.tan(),
            }
        }
        Asin | Acos => {
            if x.is_nan() {
                return Ok(f64::NAN);
            }
            if !(-1.0..=1.0).contains(&x) {
                return Err(input_out_of_range());
            }
            if f == Asin {
                x.asin()
            } else {
                x.acos()
            }
        }
        Atan => x.atan(),
        Degrees => check_float(x.to_degrees(), x.is_infinite(), true)?,
        Radians => check_float(x.to_radians(), x.is_infinite(), x == 0.0)?,
    };
    Ok(r)
}

fn float_ln(x: f64, base10: bool) -> Result<f64, EvalError> {
    if x == 0.0 {
        return Err(log_error("cannot take logarithm of zero"));
    }
    if x < 0.0 {
        return Err(log_error("cannot take logarithm of a negative number"));
    }
    let r = if base10 { x.log10() } else { x.ln() };
    check_float(r, x.is_infinite(), x == 1.0)
}

fn float_exp(x: f64) -> Result<f64, EvalError> {
    if x.is_nan() {
        return Ok(x);
    }
    if x.is_infinite() {
        return Ok(if x > 0.0 { x } else { 0.0 });
    }
    let r = x.exp();
    if r.is_infinite() {
        return Err(float_overflow());
    }
    if r == 0.0 {
        return Err(float_underflow());
    }
    Ok(r)
}

fn width_bucket_f64(op: f64, b1: f64, b2: f64, count: i32) -> Result<i32, EvalError> {
    let wb = |m: &str| EvalError::InvalidArgument { sqlstate: "2201G".into(), message: m.into() };
    if count <= 0 {
        return Err(wb("count must be greater than zero"));
    }
    if op.is_nan() || b1.is_nan() || b2.is_nan() {
        return Err(wb("operand, lower bound, and upper bound cannot be NaN"));
    }
    if b1.is_infinite() || b2.is_infinite() {
        return Err(wb("lower and upper bounds must be finite"));
    }
    let over = || count.checked_add(1).ok_or_else(|| int_out_of_range(NumType::Int32));
    if b1 < b2 {
        if op < b1 {
            Ok(0)
        } else if op >= b2 {
            over()
        } else {
            Ok((count as f64 * (op - b1) / (b2 - b1)) as i32 + 1)
        }
    } else if b1 > b2 {
        if op > b1 {
            Ok(0)
        } else if op <= b2 {
            over()
        } else {
            Ok((count as f64 * (b1 - op) / (b1 - b2)) as i32 + 1)
        }
    } else {
        Err(wb("lower bound cannot equal upper bound"))
    }
}

fn width_bucket_num(op: Decimal, b1: Decimal, b2: Decimal, count: i32) -> Result<i32, EvalError> {
    let wb = |m: &str| EvalError::InvalidArgument { sqlstate: "2201G".into(), message: m.into() };
    if count <= 0 {
        return Err(wb("count must be greater than zero"));
    }
    let over = || count.checked_add(1).ok_or_else(|| int_out_of_range(NumType::Int32));
    let bucket = |num: Decimal, den: Decimal| -> Result<i32, EvalError> {
        let q = num_int_div(num_mul(num, Decimal::from(count))?, den)?;
        q.to_i32().and_then(|q| q.checked_add(1)).ok_or_else(|| int_out_of_range(NumType::Int32))
    };
    if b1 < b2 {
        if op < b1 {
            Ok(0)
        } else if op >= b2 {
            over()
        } else {
            bucket(num_sub(op, b1)?, num_sub(b2, b1)?)
        }
    } else if b1 > b2 {
        if op > b1 {
            Ok(0)
        } else if op <= b2 {
            over()
        } else {
            bucket(num_sub(b1, op)?, num_sub(b1, b2)?)
        }
    } else {
        Err(wb("lower bound cannot equal upper bound"))
    }
}

fn gcd_u128(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

// ---------------------------------------------------------------------------------------
// Dispatch.

fn dec(d: Decimal) -> Datum {
    Datum::Numeric(d)
}

/// A fresh random value: std's hash keys are random per thread and advance with every
/// `RandomState`, so hashing nothing under new keys gives a new value each call (enough
/// for `random()`, which PostgreSQL does not make cryptographic either).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new().build_hasher().finish()
}

pub(super) fn eval(func: &Func, args: &[Datum]) -> Result<Datum, EvalError> {
    use Func::*;
    match (func, args) {
        (Pi, []) => Ok(Datum::Float64(std::f64::consts::PI)),
        (Random, []) => Ok(Datum::Float64((random_u64() >> 11) as f64 / (1u64 << 53) as f64)),
        (GenRandomUuid, []) => {
            let bits = (u128::from(random_u64()) << 64) | u128::from(random_u64());
            // Version 4 (bits 76-79) and the RFC 4122 variant (bits 62-63).
            let bits = (bits & !(0xF << 76) & !(0b11 << 62)) | (0x4 << 76) | (0b10 << 62);
            Ok(Datum::Uuid(bits))
        }
        (Plus(_), [a]) => Ok(a.clone()),
        (Add(t) | Sub(t) | Mul(t) | Div(t) | Mod(t) | Pow(t), [a, b]) => binary(func, *t, a, b),
        (Neg(t), [a]) => match t {
            t if is_int(*t) => int_datum(-(as_i64(a)? as i128), *t),
            NumType::Float32 => Ok(Datum::Float32(-as_f32(a)?)),
            NumType::Float64 => Ok(Datum::Float64(-as_f64(a)?)),
            _ => Ok(dec(unneg(-as_dec(a)?))),
        },
        (Abs(t), [a]) => match t {
            t if is_int(*t) => int_datum((as_i64(a)? as i128).abs(), *t),
            NumType::Float32 => Ok(Datum::Float32(as_f32(a)?.abs())),
            NumType::Float64 => Ok(Datum::Float64(as_f64(a)?.abs())),
            _ => Ok(dec(as_dec(a)?.abs())),
        },
        (Round(NumType::Numeric), [a]) => Ok(dec(num_round(as_dec(a)?, 0, false)?)),
        (Round(_), [a]) => Ok(Datum::Float64(as_f64(a)?.round_ties_even())),
        (RoundScale, [a, s]) => Ok(dec(num_round(as_dec(a)?, as_i64(s)?, false)?)),
        (Trunc(NumType::Numeric), [a]) => Ok(dec(num_round(as_dec(a)?, 0, true)?)),
        (Trunc(_), [a]) => Ok(Datum::Float64(as_f64(a)?.trunc())),
        (TruncScale, [a, s]) => Ok(dec(num_round(as_dec(a)?, as_i64(s)?, true)?)),
        (Ceil(NumType::Numeric), [a]) => Ok(dec(num_ceil_floor(as_dec(a)?, true)?)),
        (Ceil(_), [a]) => Ok(Datum::Float64(as_f64(a)?.ceil())),
        (Floor(NumType::Numeric), [a]) => Ok(dec(num_ceil_floor(as_dec(a)?, false)?)),
        (Floor(_), [a]) => Ok(Datum::Float64(as_f64(a)?.floor())),
        (Sign(NumType::Numeric), [a]) => {
            let d = as_dec(a)?;
            Ok(dec(Decimal::from(if d.is_zero() {
                0
            } else if d.is_sign_negative() {
                -1
            } else {
                1
            })))
        }
        (Sign(_), [a]) => {
            let x = as_f64(a)?;
            Ok(Datum::Float64(if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }))
        }
        (Sqrt(NumType::Numeric), [a]) => Ok(dec(num_sqrt(as_dec(a)?)?)),
        (Sqrt(_), [a]) => {
            let x = as_f64(a)?;
            if x < 0.0 {
                return Err(power_error("cannot take square root of a negative number"));
            }
            Ok(Datum::Float64(x.sqrt()))
        }
        (Exp(NumType::Numeric), [a]) => Ok(dec(num_exp(as_dec(a)?)?)),
        (Exp(_), [a]) => Ok(Datum::Float64(float_exp(as_f64(a)?)?)),
        (Ln(NumType::Numeric), [a]) => Ok(dec(num_ln(as_dec(a)?)?)),
        (Ln(_), [a]) => Ok(Datum::Float64(float_ln(as_f64(a)?, false)?)),
        (Log10(NumType::Numeric), [a]) => Ok(dec(num_log(Decimal::TEN, as_dec(a)?)?)),
        (Log10(_), [a]) => Ok(Datum::Float64(float_ln(as_f64(a)?, true)?)),
        (LogBase(_), [b, x]) => Ok(dec(num_log(as_dec(b)?, as_dec(x)?)?)),
        (NumericIntDiv, [a, b]) => Ok(dec(num_int_div(as_dec(a)?, as_dec(b)?)?)),
        (Factorial, [n]) => Ok(dec(factorial(as_i64(n)?)?)),
        (NumericScale, [a]) => Ok(Datum::Int32(as_dec(a)?.scale() as i32)),
        (NumericMinScale, [a]) => Ok(Datum::Int32(as_dec(a)?.normalize().scale() as i32)),
        (NumericTrimScale, [a]) => Ok(dec(unneg(as_dec(a)?.normalize()))),
        (Float(f), [a]) => Ok(Datum::Float64(float_unary(*f, as_f64(a)?)?)),
        (Atan2, [y, x]) => Ok(Datum::Float64(as_f64(y)?.atan2(as_f64(x)?))),
        (WidthBucket(NumType::Numeric), [op, b1, b2, n]) => {
            Ok(Datum::Int32(width_bucket_num(as_dec(op)?, as_dec(b1)?, as_dec(b2)?, as_i64(n)? as i32)?))
        }
        (WidthBucket(_), [op, b1, b2, n]) => {
            Ok(Datum::Int32(width_bucket_f64(as_f64(op)?, as_f64(b1)?, as_f64(b2)?, as_i64(n)? as i32)?))
        }
        (BitAnd(t), [a, b]) => int_datum((as_i64(a)? & as_i64(b)?) as i128, *t),
        (BitOr(t), [a, b]) => int_datum((as_i64(a)? | as_i64(b)?) as i128, *t),
        (BitXor(t), [a, b]) => int_datum((as_i64(a)? ^ as_i64(b)?) as i128, *t),
        (BitNot(t), [a]) => int_datum(!as_i64(a)? as i128, *t),
        (ShiftLeft(t) | ShiftRight(t), [a, n]) => {
            let (x, n) = (as_i64(a)?, as_i64(n)?);
            let left = matches!(func, ShiftLeft(_));
            let v: i64 = match t {
                NumType::Int64 => {
                    let n = (n & 63) as u32;
                    if left {
                        x.wrapping_shl(n)
                    } else {
                        x >> n
                    }
                }
                _ => {
                    let n = (n & 31) as u32;
                    let x = x as i32;
                    let r = if left { x.wrapping_shl(n) } else { x >> n };
                    if *t == NumType::Int16 {
                        r as i16 as i64
                    } else {
                        r as i64
                    }
                }
            };
            int_datum(v as i128, *t)
        }
        (Gcd(t) | Lcm(t), [a, b]) => {
            let (x, y) = (as_i64(a)? as i128, as_i64(b)? as i128);
            let g = gcd_u128(x.unsigned_abs(), y.unsigned_abs()) as i128;
            let r = if matches!(func, Gcd(_)) {
                g
            } else if x == 0 || y == 0 {
                0
            } else {
                (x / g * y).abs()
            };
            int_datum(r, *t)
        }
        _ => Err(arity_error(func, args)),
    }
}

fn binary(func: &Func, t: NumType, a: &Datum, b: &Datum) -> Result<Datum, EvalError> {
    match t {
        NumType::Int16 | NumType::Int32 | NumType::Int64 => {
            let (x, y) = (as_i64(a)? as i128, as_i64(b)? as i128);
            let r = match func {
                Func::Add(_) => x + y,
                Func::Sub(_) => x - y,
                Func::Mul(_) => x * y,
                Func::Div(_) => {
                    if y == 0 {
                        return Err(EvalError::DivisionByZero);
                    }
                    x / y
                }
                Func::Mod(_) => {
                    if y == 0 {
                        return Err(EvalError::DivisionByZero);
                    }
                    x % y
                }
                _ => return Err(type_error(func, &[a.clone(), b.clone()])),
            };
            int_datum(r, t)
        }
        NumType::Float32 | NumType::Float64 => float_binop(func, t, a, b),
        NumType::Numeric => {
            let (x, y) = (as_dec(a)?, as_dec(b)?);
            let r = match func {
                Func::Add(_) => num_add(x, y)?,
                Func::Sub(_) => num_sub(x, y)?,
                Func::Mul(_) => num_mul(x, y)?,
                Func::Div(_) => numeric_div(x, y)?,
                Func::Mod(_) => num_mod(x, y)?,
                Func::Pow(_) => num_pow(x, y)?,
                _ => return Err(type_error(func, &[a.clone(), b.clone()])),
            };
            Ok(Datum::Numeric(r))
        }
    }
}

/// PostgreSQL's float → numeric conversion: the value printed with `digits` significant
/// digits (`%.15g` for float8, `%.6g` for float4), read back exactly.
pub(super) fn float_to_numeric(v: f64, digits: usize) -> Result<Decimal, EvalError> {
    if v.is_nan() {
        return Err(EvalError::InvalidArgument {
            sqlstate: "0A000".into(),
            message: "cannot convert NaN to numeric".into(),
        });
    }
    if v.is_infinite() {
        return Err(EvalError::InvalidArgument {
            sqlstate: "0A000".into(),
            message: "cannot convert infinity to numeric".into(),
        });
    }
    let s = format!("{:.*e}", digits.saturating_sub(1), v);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let negative = mant.starts_with('-');
    let mut ds: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    while ds.len() > 1 && ds.ends_with('0') {
        ds.pop();
    }
    let m: i128 = ds.parse().unwrap_or(0);
    // value = 0.d1d2... * 10^(exp+1) = m * 10^(exp - (len-1))
    let scale = (ds.len() as i64 - 1) - exp;
    let m = if negative { -m } else { m };
    fit(m, scale).map(unneg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn numeric_scales() {
        assert_eq!(num_add(d("1.00"), d("2.5")).unwrap().to_string(), "3.50");
        assert_eq!(num_sub(d("1.00"), d("2.5")).unwrap().to_string(), "-1.50");
        assert_eq!(num_mul(d("1.10"), d("2.5")).unwrap().to_string(), "2.750");
        assert_eq!(numeric_div(d("10"), d("3")).unwrap().to_string(), "3.3333333333333333");
        assert_eq!(numeric_div(d("1"), d("3")).unwrap().to_string(), "0.33333333333333333333");
        assert_eq!(numeric_div(d("2"), d("3")).unwrap().to_string(), "0.66666666666666666667");
        assert_eq!(numeric_div(d("10.5"), d("2")).unwrap().to_string(), "5.2500000000000000");
        assert_eq!(numeric_div(d("100000"), d("3")).unwrap().to_string(), "33333.333333333333");
        assert_eq!(numeric_div(d("-7"), d("2")).unwrap().to_string(), "-3.5000000000000000");
        assert_eq!(numeric_div(d("0"), d("2")).unwrap().to_string(), "0.00000000000000000000");
        assert_eq!(numeric_div(d("1"), d("0")), Err(EvalError::DivisionByZero));
        assert_eq!(num_mod(d("10.5"), d("3")).unwrap().to_string(), "1.5");
        assert_eq!(num_mod(d("-7.5"), d("2")).unwrap().to_string(), "-1.5");
        assert_eq!(num_int_div(d("10.5"), d("3")).unwrap().to_string(), "3");
    }

    #[test]
    fn numeric_round_trunc() {
        assert_eq!(num_round(d("1.2"), 5, false).unwrap().to_string(), "1.20000");
        assert_eq!(num_round(d("1234.5"), -2, false).unwrap().to_string(), "1200");
        assert_eq!(num_round(d("2.5"), 0, false).unwrap().to_string(), "3");
        assert_eq!(num_round(d("-2.5"), 0, false).unwrap().to_string(), "-3");
        assert_eq!(num_round(d("1.999"), 1, true).unwrap().to_string(), "1.9");
        assert_eq!(num_round(d("-0.4"), 0, false).unwrap().to_string(), "0");
        assert_eq!(num_ceil_floor(d("1.2"), true).unwrap().to_string(), "2");
        assert_eq!(num_ceil_floor(d("-1.2"), false).unwrap().to_string(), "-2");
        assert_eq!(num_ceil_floor(d("-1.2"), true).unwrap().to_string(), "-1");
    }

    #[test]
    fn numeric_math_matches_postgres() {
        assert_eq!(num_sqrt(d("2")).unwrap().to_string(), "1.414213562373095");
        assert_eq!(num_exp(d("1")).unwrap().to_string(), "2.7182818284590452");
        assert_eq!(num_exp(d("10")).unwrap().to_string(), "22026.465794806717");
        assert_eq!(num_ln(d("2")).unwrap().to_string(), "0.6931471805599453");
        assert_eq!(num_ln(d("10.5")).unwrap().to_string(), "2.3513752571634777");
        assert_eq!(num_log(Decimal::TEN, d("100")).unwrap().to_string(), "2.0000000000000000");
        assert_eq!(num_log(Decimal::TEN, d("2")).unwrap().to_string(), "0.3010299956639812");
        assert_eq!(num_log(d("2"), d("8")).unwrap().to_string(), "3.0000000000000000");
        assert_eq!(num_pow(d("2"), d("3")).unwrap().to_string(), "8.0000000000000000");
        assert_eq!(num_pow(d("2"), d("0.5")).unwrap().to_string(), "1.4142135623730950");
        assert_eq!(num_pow(d("2.5"), d("2")).unwrap().to_string(), "6.2500000000000000");
        assert_eq!(num_pow(d("0"), d("0")).unwrap().to_string(), "1.0000000000000000");
        assert_eq!(num_pow(d("4"), d("-1")).unwrap().to_string(), "0.2500000000000000");
        assert_eq!(num_pow(d("1.5"), d("3")).unwrap().to_string(), "3.3750000000000000");
        assert_eq!(num_pow(d("2.00000000000000000001"), d("2")).unwrap().to_string(), "4.00000000000000000004");
        assert!(num_pow(d("0"), d("-1")).is_err());
        assert!(num_pow(d("-8"), d("0.5")).is_err());
        assert!(num_ln(d("0")).is_err());
        assert!(num_sqrt(d("-1")).is_err());
    }

    #[test]
    fn cbrt_matches_glibc() {
        assert_eq!(glibc_cbrt(27.0), 3.0000000000000004);
        assert_eq!(glibc_cbrt(64.0), 4.0);
        assert_eq!(glibc_cbrt(-8.0), -2.0);
        assert_eq!(glibc_cbrt(0.001), 0.1);
        assert_eq!(glibc_cbrt(2.0), 1.2599210498948734);
        assert!(glibc_cbrt(f64::NAN).is_nan());
        assert_eq!(glibc_cbrt(f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(glibc_cbrt(1e-310), 4.641588833612775e-104);
    }

    #[test]
    fn float_to_numeric_uses_15_digits() {
        assert_eq!(float_to_numeric(1.0, 15).unwrap().to_string(), "1");
        assert_eq!(float_to_numeric(1.0 / 3.0, 15).unwrap().to_string(), "0.333333333333333");
        assert_eq!(float_to_numeric(1.1f32 as f64, 6).unwrap().to_string(), "1.1");
        assert_eq!(float_to_numeric(1e20, 15).unwrap().to_string(), "100000000000000000000");
        assert_eq!(float_to_numeric(-2.5, 15).unwrap().to_string(), "-2.5");
        assert_eq!(float_to_numeric(0.0, 15).unwrap().to_string(), "0");
        assert!(float_to_numeric(f64::NAN, 15).is_err());
    }

    #[test]
    fn select_div_scale_rule() {
        assert_eq!(select_div_scale(&d("10"), &d("3")), 16);
        assert_eq!(select_div_scale(&d("1"), &d("3")), 20);
        assert_eq!(select_div_scale(&d("74320500000"), &d("86400000000")), 20);
    }
}
