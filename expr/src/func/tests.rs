//! Resolution and end-to-end evaluation tests for the function library. Expected values
//! were checked against PostgreSQL 15.

use std::str::FromStr;

use eddy_repr::{Datum, Interval, ScalarType};
use rust_decimal::Decimal;

use super::resolve::{BOOL, BPCHAR, DATE, F4, F8, I2, I4, I8, IV, JSONB, NUM, TEXT, TIME, TS, TSTZ};
use super::*;

fn bin(op: &str, l: Option<ScalarType>, r: Option<ScalarType>) -> Resolved {
    resolve_binary_operator(op, l, r).unwrap_or_else(|e| panic!("{op}: {e}"))
}

fn func(name: &str, args: &[Option<ScalarType>]) -> Resolved {
    resolve_function(name, args).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn dec(s: &str) -> Datum {
    Datum::Numeric(Decimal::from_str(s).unwrap())
}

fn text(s: &str) -> Datum {
    Datum::Text(s.into())
}

#[test]
fn arithmetic_resolution() {
    let r = bin("+", Some(I4), Some(I4));
    assert_eq!((r.func, r.return_type), (Func::Add(NumType::Int32), I4));
    let r = bin("+", Some(I4), Some(I8));
    assert_eq!(r.return_type, I8);
    assert_eq!(r.arg_types, vec![I4, I8]);
    let r = bin("+", Some(I2), Some(I2));
    assert_eq!(r.return_type, I2);
    let r = bin("+", Some(I4), Some(NUM));
    assert_eq!((r.arg_types, r.return_type), (vec![NUM, NUM], NUM));
    let r = bin("*", Some(I4), Some(F8));
    assert_eq!((r.arg_types, r.return_type), (vec![F8, F8], F8));
    // float4 + numeric resolves to float48pl in PostgreSQL: double precision.
    let r = bin("+", Some(F4), Some(NUM));
    assert_eq!(r.return_type, F8);
    let r = bin("+", Some(I2), Some(F4));
    assert_eq!(r.return_type, F8);
    // Unknown takes the other operand's type.
    let r = bin("+", Some(I4), None);
    assert_eq!(r.arg_types, vec![I4, I4]);
    let r = bin("/", Some(NUM), None);
    assert_eq!(r.arg_types, vec![NUM, NUM]);
    let r = bin("+", Some(ScalarType::Numeric { precision: Some(10), scale: Some(2) }), Some(I4));
    assert_eq!(r.return_type, NUM);
    // Two unknowns are ambiguous for +, as in PostgreSQL.
    assert!(matches!(resolve_binary_operator("+", None, None), Err(ResolveError::Ambiguous(_))));
    let e = resolve_binary_operator("+", Some(I4), Some(TEXT)).unwrap_err();
    assert_eq!(e.to_string(), "operator does not exist: integer + text");
    assert_eq!(e.sqlstate(), "42883");
    let r = bin("%", Some(I8), Some(I4));
    assert_eq!(r.return_type, I8);
    let r = bin("^", Some(I4), Some(I4));
    assert_eq!(r.return_type, F8);
}

#[test]
fn comparison_resolution() {
    let r = bin("=", Some(TEXT), None);
    assert_eq!((r.func, r.arg_types, r.return_type), (Func::Eq, vec![TEXT, TEXT], BOOL));
    let r = bin("=", None, None);
    assert_eq!(r.arg_types, vec![TEXT, TEXT]);
    let vc = ScalarType::Varchar { max_length: Some(10) };
    let r = bin("<", Some(vc.clone()), Some(vc));
    assert_eq!(r.arg_types, vec![TEXT, TEXT]);
    let c3 = ScalarType::Char { length: Some(3) };
    let r = bin("=", Some(c3.clone()), Some(TEXT));
    assert_eq!(r.arg_types, vec![TEXT, TEXT]);
    let r = bin("!=", Some(I4), Some(NUM));
    assert_eq!((r.func, r.arg_types), (Func::NotEq, vec![NUM, NUM]));
    let r = bin("=", Some(DATE), Some(TSTZ));
    assert_eq!(r.return_type, BOOL);
    let r = bin(">=", Some(DATE), None);
    assert_eq!(r.arg_types, vec![DATE, DATE]);
    let r = bin("=", Some(BOOL), None);
    assert_eq!(r.arg_types, vec![BOOL, BOOL]);
    assert!(resolve_binary_operator("=", Some(I4), Some(TEXT)).is_err());
    assert!(resolve_binary_operator("=", Some(DATE), Some(I4)).is_err());
    let r = bin("=", Some(JSONB), None);
    assert_eq!(r.arg_types, vec![JSONB, JSONB]);
}

#[test]
fn string_and_jsonb_operator_resolution() {
    let r = bin("||", None, None);
    assert_eq!((r.func, r.return_type), (Func::TextConcat, TEXT));
    let r = bin("||", Some(TEXT), Some(I4));
    assert_eq!((r.func, r.arg_types), (Func::TextAnyConcat { ty: I4 }, vec![TEXT, I4]));
    let r = bin("||", Some(I4), None);
    assert_eq!(r.arg_types, vec![I4, TEXT]);
    assert!(resolve_binary_operator("||", Some(I4), Some(I4)).is_err());
    let r = bin("||", Some(JSONB), None);
    assert_eq!(r.func, Func::JsonbConcat);
    let r = bin("LIKE", Some(TEXT), None);
    assert_eq!(r.func, Func::Like { case_insensitive: false, negated: false });
    let r = bin("not ilike", Some(ScalarType::Varchar { max_length: None }), None);
    assert_eq!(r.func, Func::Like { case_insensitive: true, negated: true });
    assert_eq!(r.arg_types, vec![TEXT, TEXT]);
    let r = bin("like", Some(ScalarType::Char { length: Some(3) }), None);
    assert_eq!(r.arg_types, vec![BPCHAR, TEXT]);
    let r = bin("->", Some(JSONB), None);
    assert_eq!(r.arg_types, vec![JSONB, TEXT]);
    let r = bin("->", Some(JSONB), Some(I4));
    assert_eq!(r.arg_types, vec![JSONB, I4]);
    let r = bin("->>", Some(JSONB), Some(I2));
    assert_eq!((r.arg_types, r.return_type), (vec![JSONB, I4], TEXT));
    let r = bin("#>>", Some(JSONB), None);
    assert_eq!(r.return_type, TEXT);
    let r = bin("@>", Some(JSONB), None);
    assert_eq!(r.arg_types, vec![JSONB, JSONB]);
    let r = bin("?", Some(JSONB), None);
    assert_eq!(r.func, Func::JsonbExists);
    let r = bin("~*", Some(TEXT), None);
    assert_eq!(r.func, Func::RegexMatch { case_insensitive: true, negated: false });
}

#[test]
fn datetime_operator_resolution() {
    assert_eq!(bin("+", Some(DATE), Some(I4)).return_type, DATE);
    assert_eq!(bin("+", Some(I4), Some(DATE)).return_type, DATE);
    assert_eq!(bin("-", Some(DATE), Some(DATE)).return_type, I4);
    assert_eq!(bin("+", Some(DATE), Some(IV)).return_type, TS);
    // Ambiguous in PostgreSQL too.
    assert!(resolve_binary_operator("+", Some(DATE), None).is_err());
    assert_eq!(bin("+", Some(TS), Some(IV)).return_type, TS);
    assert_eq!(bin("-", Some(TSTZ), Some(IV)).return_type, TSTZ);
    assert_eq!(bin("-", Some(TS), Some(TS)).return_type, IV);
    assert_eq!(bin("-", Some(TS), None).return_type, IV);
    assert_eq!(bin("+", Some(TS), None).return_type, TS);
    assert_eq!(bin("+", Some(TIME), Some(IV)).return_type, TIME);
    assert_eq!(bin("-", Some(IV), Some(IV)).return_type, IV);
    let r = bin("*", Some(IV), Some(I4));
    assert_eq!((r.arg_types, r.return_type), (vec![IV, F8], IV));
    assert_eq!(bin("*", Some(NUM), Some(IV)).return_type, IV);
    assert_eq!(bin("/", Some(IV), Some(NUM)).return_type, IV);
    let r = resolve_unary_operator("-", Some(IV)).unwrap();
    assert_eq!(r.func, Func::IntervalNeg);
    let r = resolve_unary_operator("-", Some(I2)).unwrap();
    assert_eq!(r.return_type, I2);
    let r = resolve_unary_operator("NOT", None).unwrap();
    assert_eq!(r.arg_types, vec![BOOL]);
    assert!(resolve_unary_operator("-", Some(TEXT)).is_err());
}

#[test]
fn function_resolution() {
    assert_eq!(func("abs", &[Some(I4)]).return_type, I4);
    assert_eq!(func("round", &[Some(I4)]).return_type, F8);
    assert_eq!(func("round", &[Some(NUM)]).return_type, NUM);
    assert_eq!(func("round", &[None]).return_type, F8);
    assert_eq!(func("round", &[Some(NUM), Some(I4)]).func, Func::RoundScale);
    assert_eq!(func("round", &[Some(I4), Some(I4)]).arg_types, vec![NUM, I4]);
    assert_eq!(func("length", &[None]).arg_types, vec![TEXT]);
    assert_eq!(func("length", &[Some(ScalarType::Char { length: Some(4) })]).arg_types, vec![TEXT]);
    assert_eq!(func("substr", &[Some(TEXT), Some(I2)]).return_type, TEXT);
    assert!(resolve_function("substr", &[Some(TEXT), Some(I8)]).is_err());
    assert!(resolve_function("substr", &[Some(TEXT), Some(NUM)]).is_err());
    assert_eq!(func("date_trunc", &[None, Some(TS)]).return_type, TS);
    assert_eq!(func("date_trunc", &[None, Some(DATE)]).return_type, TSTZ);
    assert_eq!(func("extract", &[Some(TEXT), Some(TS)]).return_type, NUM);
    assert_eq!(func("extract", &[None, Some(DATE)]).func, Func::Extract(TimeType::Date));
    assert_eq!(func("date_part", &[None, Some(TS)]).return_type, F8);
    assert_eq!(func("sqrt", &[Some(I4)]).return_type, F8);
    assert_eq!(func("mod", &[Some(I4), Some(I8)]).return_type, I8);
    assert_eq!(func("power", &[Some(NUM), Some(I4)]).return_type, NUM);
    assert_eq!(func("log", &[Some(NUM), Some(NUM)]).func, Func::LogBase(NumType::Numeric));
    assert_eq!(func("make_interval", &[Some(I4)]).return_type, IV);
    assert_eq!(func("to_timestamp", &[Some(I4)]).return_type, TSTZ);
    let e = resolve_function("nosuch", &[Some(I4), None]).unwrap_err();
    assert_eq!(e.to_string(), "function nosuch(integer, unknown) does not exist");
    let e = resolve_function("abs", &[Some(TEXT)]).unwrap_err();
    assert_eq!(e.to_string(), "function abs(text) does not exist");
}

#[test]
fn special_forms_resolution() {
    let r = func("is_null", &[Some(I4)]);
    assert_eq!((r.func.clone(), r.return_type), (Func::IsNull, BOOL));
    assert!(!r.func.is_strict());
    assert_eq!(func("is_true", &[None]).arg_types, vec![BOOL]);
    assert!(resolve_function("is_true", &[Some(I4)]).is_err());
    let r = func("is_distinct_from", &[Some(I4), Some(NUM)]);
    assert_eq!(r.arg_types, vec![NUM, NUM]);
    let r = func("nullif", &[Some(I4), Some(NUM)]);
    assert_eq!((r.func, r.return_type), (Func::NullIf, NUM));
    let r = func("greatest", &[Some(I4), None, Some(I8)]);
    assert_eq!((r.arg_types, r.return_type), (vec![I8, I8, I8], I8));
    let r = func("least", &[None, None]);
    assert_eq!(r.return_type, TEXT);
    let r = func("greatest", &[Some(I4), Some(NUM), Some(F8)]);
    assert_eq!(r.return_type, F8);
    let e = resolve_function("greatest", &[Some(I4), Some(TEXT)]).unwrap_err();
    assert_eq!(e.to_string(), "GREATEST types integer and text cannot be matched");
    assert_eq!(common_type(&[Some(DATE), Some(TSTZ)], "CASE").unwrap(), TSTZ);
    assert_eq!(common_type(&[Some(DATE), Some(TS)], "CASE").unwrap(), TS);
    let vc = ScalarType::Varchar { max_length: Some(3) };
    assert_eq!(common_type(&[Some(vc.clone()), Some(vc.clone())], "CASE").unwrap(), vc);
    // As PostgreSQL: text converts implicitly to varchar, so the first type stays.
    assert_eq!(
        common_type(&[Some(vc.clone()), Some(TEXT)], "COALESCE").unwrap(),
        ScalarType::Varchar { max_length: None }
    );
    assert_eq!(common_type(&[Some(TEXT), Some(vc)], "CASE").unwrap(), TEXT);
    let r = func("concat", &[Some(I4), None, Some(BOOL)]);
    assert_eq!(r.arg_types, vec![I4, TEXT, BOOL]);
    let r = func("concat_ws", &[None, Some(I4)]);
    assert_eq!(r.arg_types, vec![TEXT, I4]);
    let r = func("jsonb_build_object", &[None, Some(I4)]);
    assert_eq!(r.return_type, JSONB);
    assert!(resolve_function("to_jsonb", &[None]).is_err());
}

#[test]
fn integer_arithmetic() {
    let add = Func::Add(NumType::Int32);
    assert_eq!(add.eval(&[Datum::Int32(1), Datum::Int32(2)]).unwrap(), Datum::Int32(3));
    assert_eq!(add.eval(&[Datum::Int32(1), Datum::Null]).unwrap(), Datum::Null);
    let e = add.eval(&[Datum::Int32(i32::MAX), Datum::Int32(1)]).unwrap_err();
    assert_eq!((e.to_string(), e.sqlstate()), ("integer out of range".into(), "22003"));
    let e = Func::Mul(NumType::Int16).eval(&[Datum::Int16(300), Datum::Int16(300)]).unwrap_err();
    assert_eq!(e.to_string(), "smallint out of range");
    let e = Func::Sub(NumType::Int64).eval(&[Datum::Int64(i64::MIN), Datum::Int64(1)]).unwrap_err();
    assert_eq!(e.to_string(), "bigint out of range");
    assert_eq!(Func::Div(NumType::Int32).eval(&[Datum::Int32(7), Datum::Int32(-2)]).unwrap(), Datum::Int32(-3));
    let e = Func::Div(NumType::Int32).eval(&[Datum::Int32(7), Datum::Int32(0)]).unwrap_err();
    assert_eq!((e.clone(), e.sqlstate()), (EvalError::DivisionByZero, "22012"));
    assert!(Func::Div(NumType::Int32).eval(&[Datum::Int32(i32::MIN), Datum::Int32(-1)]).is_err());
    assert_eq!(Func::Mod(NumType::Int32).eval(&[Datum::Int32(i32::MIN), Datum::Int32(-1)]).unwrap(), Datum::Int32(0));
    assert_eq!(Func::Mod(NumType::Int32).eval(&[Datum::Int32(-7), Datum::Int32(3)]).unwrap(), Datum::Int32(-1));
    assert!(Func::Neg(NumType::Int32).eval(&[Datum::Int32(i32::MIN)]).is_err());
    assert!(Func::Abs(NumType::Int16).eval(&[Datum::Int16(i16::MIN)]).is_err());
    // Cross-type: int2 + int4 evaluated as int4.
    assert_eq!(add.eval(&[Datum::Int16(1), Datum::Int32(2)]).unwrap(), Datum::Int32(3));
    assert_eq!(Func::ShiftLeft(NumType::Int32).eval(&[Datum::Int32(1), Datum::Int32(4)]).unwrap(), Datum::Int32(16));
}

#[test]
fn float_arithmetic() {
    let f = |func: Func, a: f64, b: f64| func.eval(&[Datum::Float64(a), Datum::Float64(b)]);
    assert_eq!(f(Func::Div(NumType::Float64), 1.0, 4.0).unwrap(), Datum::Float64(0.25));
    assert_eq!(f(Func::Div(NumType::Float64), 1.0, 0.0).unwrap_err(), EvalError::DivisionByZero);
    assert_eq!(f(Func::Mul(NumType::Float64), 1e300, 1e300).unwrap_err().to_string(), "value out of range: overflow");
    assert_eq!(
        f(Func::Mul(NumType::Float64), 1e-300, 1e-300).unwrap_err().to_string(),
        "value out of range: underflow"
    );
    assert_eq!(f(Func::Add(NumType::Float64), f64::INFINITY, 1.0).unwrap(), Datum::Float64(f64::INFINITY));
    assert_eq!(f(Func::Pow(NumType::Float64), 2.0, 10.0).unwrap(), Datum::Float64(1024.0));
    assert_eq!(f(Func::Pow(NumType::Float64), 0.0, -1.0).unwrap_err().sqlstate(), "2201F");
    assert_eq!(Func::Round(NumType::Float64).eval(&[Datum::Float64(2.5)]).unwrap(), Datum::Float64(2.0));
    assert_eq!(Func::Round(NumType::Float64).eval(&[Datum::Float64(3.5)]).unwrap(), Datum::Float64(4.0));
    assert_eq!(Func::Round(NumType::Float64).eval(&[Datum::Float64(-2.5)]).unwrap(), Datum::Float64(-2.0));
    assert_eq!(
        Func::Add(NumType::Float64).eval(&[Datum::Float32(1.5), Datum::Float64(1.0)]).unwrap(),
        Datum::Float64(2.5)
    );
    assert_eq!(
        Func::Ln(NumType::Float64).eval(&[Datum::Float64(0.0)]).unwrap_err().to_string(),
        "cannot take logarithm of zero"
    );
    assert_eq!(
        Func::Sqrt(NumType::Float64).eval(&[Datum::Float64(-1.0)]).unwrap_err().to_string(),
        "cannot take square root of a negative number"
    );
    assert_eq!(
        Func::WidthBucket(NumType::Float64)
            .eval(&[Datum::Float64(5.35), Datum::Float64(0.024), Datum::Float64(10.06), Datum::Int32(5)])
            .unwrap(),
        Datum::Int32(3)
    );
}

#[test]
fn numeric_arithmetic() {
    let n = |func: Func, a: &str, b: &str| func.eval(&[dec(a), dec(b)]).unwrap();
    let show = |d: Datum| match d {
        Datum::Numeric(x) => x.to_string(),
        other => format!("{other:?}"),
    };
    assert_eq!(show(n(Func::Add(NumType::Numeric), "1.00", "2.5")), "3.50");
    assert_eq!(show(n(Func::Div(NumType::Numeric), "10", "3")), "3.3333333333333333");
    assert_eq!(show(n(Func::Div(NumType::Numeric), "1", "3")), "0.33333333333333333333");
    assert_eq!(show(n(Func::Mul(NumType::Numeric), "1.5", "1.50")), "2.250");
    assert_eq!(show(n(Func::Mod(NumType::Numeric), "10.5", "3")), "1.5");
    assert_eq!(show(n(Func::Pow(NumType::Numeric), "2", "3")), "8.0000000000000000");
    // avg-style division: sum / count.
    assert_eq!(numeric_div(Decimal::from(7), Decimal::from(2)).unwrap().to_string(), "3.5000000000000000");
    assert_eq!(
        numeric_div(Decimal::from_str("10.50").unwrap(), Decimal::from(3)).unwrap().to_string(),
        "3.5000000000000000"
    );
    assert_eq!(Func::Div(NumType::Numeric).eval(&[dec("1"), dec("0")]).unwrap_err(), EvalError::DivisionByZero);
    // Overflow instead of a panic.
    let big = "79228162514264337593543950335";
    let e = Func::Mul(NumType::Numeric).eval(&[dec(big), dec(big)]).unwrap_err();
    assert_eq!(e.sqlstate(), "22003");
    let e = Func::Add(NumType::Numeric).eval(&[dec(big), dec(big)]).unwrap_err();
    assert_eq!(e.sqlstate(), "22003");
    assert_eq!(show(Func::RoundScale.eval(&[dec("2.345"), Datum::Int32(2)]).unwrap()), "2.35");
    assert_eq!(show(Func::Round(NumType::Numeric).eval(&[dec("-2.5")]).unwrap()), "-3");
    assert_eq!(show(Func::TruncScale.eval(&[dec("-2.349"), Datum::Int32(2)]).unwrap()), "-2.34");
    assert_eq!(show(Func::Sign(NumType::Numeric).eval(&[dec("-2.5")]).unwrap()), "-1");
    assert_eq!(show(Func::Neg(NumType::Numeric).eval(&[dec("0.0")]).unwrap()), "0.0");
    assert_eq!(show(Func::NumericIntDiv.eval(&[dec("-7"), dec("2")]).unwrap()), "-3");
    // Comparison across scales.
    assert_eq!(Func::Eq.eval(&[dec("1.0"), dec("1.00")]).unwrap(), Datum::Bool(true));
}

#[test]
fn predicates_and_null_handling() {
    assert_eq!(Func::Eq.eval(&[Datum::Int32(1), Datum::Null]).unwrap(), Datum::Null);
    assert_eq!(Func::Lt.eval(&[text("a"), text("b")]).unwrap(), Datum::Bool(true));
    assert_eq!(Func::Gte.eval(&[Datum::Int16(3), Datum::Int64(3)]).unwrap(), Datum::Bool(true));
    assert_eq!(Func::Eq.eval(&[Datum::Float64(f64::NAN), Datum::Float64(f64::NAN)]).unwrap(), Datum::Bool(true));
    assert_eq!(Func::IsNull.eval(&[Datum::Null]).unwrap(), Datum::Bool(true));
    assert_eq!(Func::IsNotNull.eval(&[Datum::Null]).unwrap(), Datum::Bool(false));
    assert_eq!(Func::IsTrue.eval(&[Datum::Null]).unwrap(), Datum::Bool(false));
    assert_eq!(Func::IsNotTrue.eval(&[Datum::Null]).unwrap(), Datum::Bool(true));
    assert_eq!(Func::IsFalse.eval(&[Datum::Bool(false)]).unwrap(), Datum::Bool(true));
    assert_eq!(Func::IsNotFalse.eval(&[Datum::Null]).unwrap(), Datum::Bool(true));
    assert_eq!(Func::IsUnknown.eval(&[Datum::Null]).unwrap(), Datum::Bool(true));
    assert_eq!(Func::Not.eval(&[Datum::Null]).unwrap(), Datum::Null);
    assert_eq!(Func::Not.eval(&[Datum::Bool(true)]).unwrap(), Datum::Bool(false));
    assert_eq!(Func::IsDistinctFrom.eval(&[Datum::Null, Datum::Null]).unwrap(), Datum::Bool(false));
    assert_eq!(Func::IsDistinctFrom.eval(&[Datum::Int32(1), Datum::Null]).unwrap(), Datum::Bool(true));
    assert_eq!(Func::IsNotDistinctFrom.eval(&[Datum::Int32(1), Datum::Int32(1)]).unwrap(), Datum::Bool(true));
    assert_eq!(Func::NullIf.eval(&[Datum::Int32(1), Datum::Int32(1)]).unwrap(), Datum::Null);
    assert_eq!(Func::NullIf.eval(&[Datum::Int32(1), Datum::Null]).unwrap(), Datum::Int32(1));
    assert_eq!(Func::NullIf.eval(&[Datum::Null, Datum::Int32(1)]).unwrap(), Datum::Null);
    assert_eq!(Func::Greatest.eval(&[Datum::Int32(1), Datum::Null, Datum::Int32(3)]).unwrap(), Datum::Int32(3));
    assert_eq!(Func::Least.eval(&[Datum::Null, Datum::Null]).unwrap(), Datum::Null);
    assert_eq!(Func::Least.eval(&[text("b"), text("a")]).unwrap(), text("a"));
    let concat = Func::Concat { types: vec![TEXT, TEXT, TEXT] };
    assert_eq!(concat.eval(&[text("a"), Datum::Null, text("c")]).unwrap(), text("ac"));
    let ws = Func::ConcatWs { types: vec![TEXT, TEXT, TEXT] };
    assert_eq!(ws.eval(&[text(","), text("a"), Datum::Null]).unwrap(), text("a"));
    assert_eq!(ws.eval(&[Datum::Null, text("a")]).unwrap(), Datum::Null);
}

#[test]
fn strings_end_to_end() {
    let r = bin("||", Some(TEXT), Some(BOOL));
    assert_eq!(r.func.eval(&[text("a"), Datum::Bool(true)]).unwrap(), text("atrue"));
    assert_eq!(Func::TextConcat.eval(&[text("a"), Datum::Null]).unwrap(), Datum::Null);
    let like = bin("like", Some(TEXT), None).func;
    assert_eq!(like.eval(&[text("abc"), text("a%")]).unwrap(), Datum::Bool(true));
    let like = bin("like", Some(ScalarType::Char { length: Some(3) }), None).func;
    assert_eq!(like.eval(&[text("a  "), text("a")]).unwrap(), Datum::Bool(false));
    assert_eq!(func("upper", &[None]).func.eval(&[text("abc")]).unwrap(), text("ABC"));
    assert_eq!(func("length", &[None]).func.eval(&[text("héllo")]).unwrap(), Datum::Int32(5));
    assert_eq!(func("octet_length", &[Some(TEXT)]).func.eval(&[text("héllo")]).unwrap(), Datum::Int32(6));
    assert_eq!(func("position", &[None, None]).func.eval(&[text("high"), text("ig")]).unwrap(), Datum::Int32(2));
    assert_eq!(
        func("replace", &[None, None, None]).func.eval(&[text("abcabc"), text("b"), text("XX")]).unwrap(),
        text("aXXcaXXc")
    );
    assert_eq!(func("btrim", &[None]).func.eval(&[text("  x  ")]).unwrap(), text("x"));
    assert_eq!(func("rtrim", &[None, None]).func.eval(&[text("xyy"), text("y")]).unwrap(), text("x"));
    assert_eq!(func("reverse", &[None]).func.eval(&[text("abc")]).unwrap(), text("cba"));
    assert_eq!(func("ascii", &[None]).func.eval(&[text("x")]).unwrap(), Datum::Int32(120));
    assert_eq!(func("to_hex", &[Some(I4)]).func.eval(&[Datum::Int32(-1)]).unwrap(), text("ffffffff"));
    assert_eq!(
        func("starts_with", &[None, None]).func.eval(&[text("alphabet"), text("alph")]).unwrap(),
        Datum::Bool(true)
    );
}

#[test]
fn casts_without_strconv() {
    let c = |from: &ScalarType, to: &ScalarType, d: Datum| {
        resolve_cast(from, to, CastContext::Explicit).unwrap().map_or(Ok(d.clone()), |f| f.eval(&[d]))
    };
    assert_eq!(c(&I4, &NUM, Datum::Int32(5)).unwrap(), dec("5"));
    assert_eq!(c(&NUM, &F8, dec("0.1")).unwrap(), Datum::Float64(0.1));
    assert_eq!(c(&F8, &I2, Datum::Float64(32767.4)).unwrap(), Datum::Int16(32767));
    assert!(c(&F8, &I2, Datum::Float64(32767.5)).is_err());
    assert_eq!(c(&I4, &F4, Datum::Int32(16_777_217)).unwrap(), Datum::Float32(16_777_216.0));
    assert_eq!(c(&I4, &I8, Datum::Null).unwrap(), Datum::Null);
    assert_eq!(
        c(&TIME, &IV, Datum::Time(chrono::NaiveTime::from_hms_opt(1, 2, 3).unwrap())).unwrap(),
        Datum::Interval(Interval::new(0, 0, 3_723_000_000))
    );
    assert_eq!(c(&BOOL, &TEXT, Datum::Bool(false)).unwrap(), text("false"));
    let v3 = ScalarType::Varchar { max_length: Some(3) };
    assert_eq!(
        resolve_cast(&TEXT, &v3, CastContext::Explicit).unwrap(),
        Some(Func::Cast { from: TEXT, to: v3.clone(), explicit: true })
    );
    assert!(matches!(resolve_cast(&DATE, &I4, CastContext::Explicit), Err(ResolveError::NoSuchCast { .. })));
    assert_eq!(
        resolve_cast(&DATE, &I4, CastContext::Explicit).unwrap_err().to_string(),
        "cannot cast type date to integer"
    );
}

/// Needs strconv (formatting and parsing); passes once it is implemented.
#[test]
fn casts_through_text() {
    let c = |from: &ScalarType, to: &ScalarType, d: Datum| {
        resolve_cast(from, to, CastContext::Explicit).unwrap().map_or(Ok(d.clone()), |f| f.eval(&[d]))
    };
    if std::panic::catch_unwind(|| eddy_repr::strconv::parse_datum("1", &I4)).is_err() {
        eprintln!("strconv not implemented yet; skipping");
        return;
    }
    assert_eq!(c(&TEXT, &I4, text("42")).unwrap(), Datum::Int32(42));
    assert_eq!(c(&TEXT, &I4, text("x")).unwrap_err().sqlstate(), "22P02");
    assert_eq!(c(&I4, &TEXT, Datum::Int32(42)).unwrap(), text("42"));
    assert_eq!(c(&NUM, &TEXT, dec("1.50")).unwrap(), text("1.50"));
    let v3 = ScalarType::Varchar { max_length: Some(3) };
    assert_eq!(c(&TEXT, &v3, text("abcdef")).unwrap(), text("abc"));
    let e = resolve_cast(&TEXT, &v3, CastContext::Assignment).unwrap().unwrap().eval(&[text("abcdef")]).unwrap_err();
    assert_eq!(e.sqlstate(), "22001");
    let c3 = ScalarType::Char { length: Some(3) };
    assert_eq!(c(&TEXT, &c3, text("a")).unwrap(), text("a  "));
    let n52 = ScalarType::Numeric { precision: Some(5), scale: Some(2) };
    assert_eq!(c(&NUM, &n52, dec("1.005")).unwrap(), dec("1.01"));
    assert_eq!(c(&NUM, &n52, dec("1000")).unwrap_err().sqlstate(), "22003");
    assert_eq!(c(&I4, &n52, Datum::Int32(1)).unwrap(), dec("1.00"));
    let concat = Func::Concat { types: vec![TEXT, BOOL, I4] };
    assert_eq!(concat.eval(&[text("a"), Datum::Bool(true), Datum::Int32(1)]).unwrap(), text("at1"));
    let j = c(&TEXT, &JSONB, text(r#"{"a": {"b": [1, "x"]}}"#)).unwrap();
    assert_eq!(Func::JsonbGetPathText.eval(&[j.clone(), text("{a,b,1}")]).unwrap(), text("x"));
    assert_eq!(Func::JsonbGetText.eval(&[j, text("a")]).unwrap(), text(r#"{"b": [1, "x"]}"#));
}

#[test]
fn names_for_explain() {
    assert_eq!(Func::Add(NumType::Int32).name(), "+");
    assert!(Func::Add(NumType::Int32).is_operator());
    assert_eq!(Func::Add(NumType::Int32).display_call(&["a".into(), "b".into()]), "(a + b)");
    assert_eq!(Func::Abs(NumType::Int32).display_call(&["a".into()]), "abs(a)");
    assert_eq!(Func::IsNull.display_call(&["a".into()]), "(a IS NULL)");
    assert_eq!(Func::Not.display_call(&["a".into()]), "(NOT a)");
    let cast = Func::Cast { from: TEXT, to: I4, explicit: true };
    assert_eq!(cast.display_call(&["a".into()]), "a::integer");
    assert_eq!(Func::Like { case_insensitive: false, negated: false }.to_string(), "~~");
}

/// Every function must return an error, never panic, on hostile values.
#[test]
fn no_panics_on_extreme_values() {
    let values = [
        Datum::Int16(i16::MIN),
        Datum::Int32(i32::MIN),
        Datum::Int64(i64::MIN),
        Datum::Int64(i64::MAX),
        Datum::Float64(f64::NAN),
        Datum::Float64(f64::INFINITY),
        Datum::Float64(-1e308),
        Datum::Numeric(Decimal::MAX),
        Datum::Numeric(Decimal::MIN),
        Datum::Numeric(Decimal::new(1, 28)),
        Datum::Date(chrono::NaiveDate::MAX),
        Datum::Date(chrono::NaiveDate::MIN),
        Datum::Timestamp(chrono::NaiveDateTime::MAX),
        Datum::Interval(Interval::new(i32::MIN, i32::MIN, i64::MIN)),
        Datum::Interval(Interval::new(i32::MAX, i32::MAX, i64::MAX)),
        Datum::Text(String::new()),
        Datum::Text("%\\".into()),
    ];
    let funcs = [
        Func::Add(NumType::Numeric),
        Func::Sub(NumType::Int64),
        Func::Mul(NumType::Numeric),
        Func::Div(NumType::Numeric),
        Func::Mod(NumType::Numeric),
        Func::Pow(NumType::Numeric),
        Func::Pow(NumType::Float64),
        Func::Exp(NumType::Numeric),
        Func::Ln(NumType::Numeric),
        Func::Sqrt(NumType::Numeric),
        Func::RoundScale,
        Func::TruncScale,
        Func::LogBase(NumType::Numeric),
        Func::NumericIntDiv,
        Func::DateAddInt,
        Func::DateSubInt,
        Func::TimestampAddInterval { tz: false },
        Func::TimestampSubInterval { tz: false },
        Func::DateAddInterval,
        Func::IntervalAdd,
        Func::IntervalMul,
        Func::IntervalDiv,
        Func::IntervalNeg,
        Func::JustifyInterval,
        Func::JustifyDays,
        Func::JustifyHours,
        Func::Age { tz: false },
        Func::TimestampSub { tz: false },
        Func::Repeat,
        Func::Lpad,
        Func::Substr,
        Func::Like { case_insensitive: true, negated: false },
        Func::Cast { from: NUM, to: I4, explicit: true },
        Func::Cast { from: F8, to: NUM, explicit: true },
        Func::Cast { from: F8, to: I8, explicit: true },
        Func::Cast { from: IV, to: TIME, explicit: true },
        Func::Cast { from: TS, to: TSTZ, explicit: true },
        Func::MakeInterval,
        Func::ToTimestamp,
        Func::ToDate,
        Func::Chr,
        Func::Left,
        Func::Right,
        Func::SplitPart,
    ];
    for f in &funcs {
        for a in &values {
            for b in &values {
                let _ = f.eval(&[a.clone(), b.clone()]);
            }
            let _ = f.eval(std::slice::from_ref(a));
            let _ = f.eval(&[]);
        }
    }
    for units in ["year", "epoch", "julian", "week", "millennium", "microseconds", "bogus"] {
        for t in [TimeType::Date, TimeType::Time, TimeType::Timestamp, TimeType::TimestampTz, TimeType::Interval] {
            for v in &values {
                let _ = Func::Extract(t).eval(&[text(units), v.clone()]);
                let _ = Func::DatePart(t).eval(&[text(units), v.clone()]);
                let _ = Func::DateTrunc(t).eval(&[text(units), v.clone()]);
            }
        }
    }
}

#[test]
fn format_type_names_a_type_as_psql_shows_it() {
    let f = func("format_type", &[Some(ScalarType::Int64), Some(ScalarType::Int32)]).func;
    assert_eq!(f.eval(&[Datum::Int64(1700), Datum::Int32(655366)]).unwrap(), text("numeric(10,2)"));
    assert_eq!(f.eval(&[Datum::Int64(1043), Datum::Null]).unwrap(), text("character varying"));
    assert_eq!(f.eval(&[Datum::Int64(99999), Datum::Int32(-1)]).unwrap(), text("???"));
    assert_eq!(f.eval(&[Datum::Null, Datum::Int32(-1)]).unwrap(), Datum::Null);
}

#[test]
fn pg_size_pretty_rounds_as_postgres() {
    let f = func("pg_size_pretty", &[Some(ScalarType::Int64)]).func;
    for (bytes, shown) in [
        (10239, "10239 bytes"),
        (10240, "10 kB"),
        (20971520, "20 MB"),
        (1 << 40, "1024 GB"),
        (-10240, "-10 kB"),
        (1 << 62, "4096 PB"),
        (-15361, "-15 kB"),
        (i64::MIN, "-8192 PB"),
    ] {
        assert_eq!(f.eval(&[Datum::Int64(bytes)]).unwrap(), text(shown), "{bytes}");
    }
}
