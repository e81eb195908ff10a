//! The library of SQL scalar functions, operators and casts, and PostgreSQL-style overload
//! resolution over it. The planner asks [`resolve_function`], [`resolve_binary_operator`],
//! [`resolve_unary_operator`] and [`resolve_cast`] what to call; evaluation is
//! [`Func::eval`].
//!
//! The implementation lives in submodules: `resolve` (candidate selection as PostgreSQL's
//! `func_select_candidate`), `cast`, `numeric` (integer, float and numeric arithmetic and
//! math), `string` (text functions, LIKE, regular expressions), `datetime` and `jsonb`.
//! Every evaluation path returns an [`EvalError`] instead of panicking on any data value.

use std::fmt;

use eddy_repr::{Datum, ScalarType};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::EvalError;

mod array;
mod backend;
mod cast;
mod datetime;
mod digest;
mod json;
mod jsonb;

pub use json::JsonFunc;
pub(crate) use json::{agg_separator, json_table, write_json};
pub(crate) use jsonb::to_jsonb;
mod numeric;
mod resolve;
mod string;
mod timezone;

pub use backend::{
    install_backend_signals, statement_now, statement_session, with_statement, BackendSignals, InterruptCheck,
    SequenceHost, StatementEnv,
};
pub use string::{quote_ident, regexp_matches};
mod from_char;
mod to_char;
mod to_char_number;

pub use resolve::common_type;

/// The arithmetic type an operator or math function works in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NumType {
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Numeric,
}

impl NumType {
    pub fn scalar_type(self) -> ScalarType {
        match self {
            NumType::Int16 => ScalarType::Int16,
            NumType::Int32 => ScalarType::Int32,
            NumType::Int64 => ScalarType::Int64,
            NumType::Float32 => ScalarType::Float32,
            NumType::Float64 => ScalarType::Float64,
            NumType::Numeric => ScalarType::numeric(),
        }
    }
}

/// The kind of date/time value a `date_trunc`, `date_part` or `extract` works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TimeType {
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Interval,
}

/// Which end(s) `trim` strips.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TrimSide {
    Both,
    Leading,
    Trailing,
}

/// One-argument `double precision` functions without special scale rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FloatFunc {
    Cbrt,
    Sin,
    Cos,
    Tan,
    Cot,
    Asin,
    Acos,
    Atan,
    Degrees,
    Radians,
}

/// A resolved scalar function, operator or cast.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Func {
    // ---- comparison and predicates (operands already of one type, or of one family) ----
    Eq,
    NotEq,
    Lt,
    Lte,
    Gt,
    Gte,
    IsNull,
    IsNotNull,
    IsTrue,
    IsNotTrue,
    IsFalse,
    IsNotFalse,
    IsUnknown,
    IsDistinctFrom,
    IsNotDistinctFrom,
    Not,
    NullIf,
    Greatest,
    Least,

    // ---- arithmetic ----
    Add(NumType),
    Sub(NumType),
    Mul(NumType),
    Div(NumType),
    Mod(NumType),
    Neg(NumType),
    /// Prefix `+`: returns its argument.
    Plus(NumType),
    Pow(NumType),
    Abs(NumType),
    Round(NumType),
    /// `round(numeric, integer)`.
    RoundScale,
    Trunc(NumType),
    /// `trunc(numeric, integer)`.
    TruncScale,
    Ceil(NumType),
    Floor(NumType),
    Sign(NumType),
    Sqrt(NumType),
    Exp(NumType),
    Ln(NumType),
    Log10(NumType),
    /// `log(base, x)`.
    LogBase(NumType),
    /// `div(numeric, numeric)`: integer quotient.
    NumericIntDiv,
    /// `factorial(bigint)`: numeric.
    Factorial,
    /// `scale(numeric)`: the digits after the decimal point as written.
    NumericScale,
    /// `min_scale(numeric)`: the fewest such digits that keep the value exact.
    NumericMinScale,
    /// `trim_scale(numeric)`: the value with trailing fractional zeros dropped.
    NumericTrimScale,
    Pi,
    /// `random()`: uniform in [0, 1). Volatile, as the next one: a new value per call, so
    /// not allowed in materialized views.
    Random,
    /// `gen_random_uuid()`: a version 4 UUID.
    GenRandomUuid,
    /// `pg_cancel_backend(pid)`, `pg_terminate_backend(pid [, timeout])`: act on another
    /// connection, so volatile too.
    PgCancelBackend,
    PgTerminateBackend,
    /// `pg_sleep(seconds)`: waits, stopping early with a cancel (volatile: it must run
    /// each time, never at planning).
    PgSleep,
    /// `nextval(name)`, `currval(name)`, `setval(name, value, is_called)`, `lastval()`:
    /// a sequence's numbers, through the statement's session ([`backend::SequenceHost`]).
    /// Volatile; evaluated on the statement's thread only (never pushed into workers).
    NextVal,
    CurrVal,
    SetVal,
    LastVal,
    /// `now()` in a view: in a maintained view's temporal filter (`WHERE ts + interval
    /// '1 hour' > now()`) rows enter and leave the view as time passes
    /// ([`crate::temporal`]); evaluated in a statement (a plain view's `now()`) it is the
    /// statement's start time. Never folded at planning.
    Now,
    Float(FloatFunc),
    Atan2,
    WidthBucket(NumType),
    BitAnd(NumType),
    BitOr(NumType),
    BitXor(NumType),
    BitNot(NumType),
    ShiftLeft(NumType),
    ShiftRight(NumType),
    Gcd(NumType),
    Lcm(NumType),

    // ---- strings ----
    /// `text || text`.
    TextConcat,
    /// `bytea || bytea`.
    ByteaConcat,
    /// `text || anynonarray` or `anynonarray || text`; `ty` is the non-text operand's type,
    /// converted with its cast to text.
    TextAnyConcat {
        ty: ScalarType,
    },
    Like {
        case_insensitive: bool,
        negated: bool,
    },
    /// `like_escape(pattern, escape)`: rewrites a pattern with a custom escape character.
    LikeEscape,
    RegexMatch {
        case_insensitive: bool,
        negated: bool,
    },
    CharLength,
    OctetLength,
    /// `bit_length`: octets times 8.
    BitLength,
    Lower,
    Upper,
    Initcap,
    /// `substr(text, start [, count])`.
    Substr,
    /// `strpos(string, substring)`.
    Position,
    Replace,
    Trim(TrimSide),
    Left,
    Right,
    Lpad,
    Rpad,
    Repeat,
    Reverse,
    SplitPart,
    StartsWith,
    Ascii,
    Chr,
    Translate,
    ToHex,
    /// `ARRAY[a, b, ...]`: its arguments as an array.
    ArrayCreate,
    /// `a[i]`: arrays count from `lower` (1; 0 for `int2vector`); NULL out of range.
    ArrayIndex {
        lower: i32,
    },
    /// `a[from:to]`: the elements subscripted `from` to `to` (clamped to the array), as an
    /// array counting from 1; an omitted bound is `i32::MIN` / `i32::MAX`.
    ArraySlice {
        lower: i32,
    },
    /// `array_length(a, 1)`, `array_upper(a, 1)`, `array_lower(a, 1)`, `cardinality(a)`.
    ArrayLength,
    ArrayUpper,
    /// `array_dims(a)`: `[1:n]`.
    ArrayDims,
    ArrayLower,
    Cardinality,
    /// `array_to_string(a, delimiter [, null_text])`: the elements' text forms.
    ArrayToString {
        element: ScalarType,
    },
    /// `a || b`, `a || x`, `x || a` (and `array_cat`, `array_append`, `array_prepend`).
    ArrayCat,
    ArrayAppend,
    ArrayPrepend,
    /// `array_position(a, x)`: where `x` first is (NULL finds NULL), or NULL.
    ArrayPosition,
    /// `array_remove(a, x)`, `array_replace(a, x, y)`.
    ArrayRemove,
    ArrayReplace,
    /// `a @> b` (`contains`), `a <@ b`: every non-NULL element of one is in the other.
    ArrayContains {
        contained: bool,
    },
    /// `a && b`: some element in both.
    ArrayOverlap,
    /// `x op ANY (a)` / `x op ALL (a)`.
    ArrayAny {
        op: Box<Func>,
        all: bool,
    },
    /// `pg_size_pretty(bytes)`: `10 kB`, `3 MB`, ... as PostgreSQL rounds them.
    SizePretty,
    /// `format_type(type_oid, typmod)`: a type's SQL name, as psql's `\d` shows it.
    FormatType,
    /// `concat(...)`: each argument of type `types[i]`, formatted by its output function.
    Concat {
        types: Vec<ScalarType>,
    },
    ConcatWs {
        types: Vec<ScalarType>,
    },
    RegexpReplace,
    /// `regexp_match(text, pattern [, flags])`: the first match's capture groups (or the
    /// whole match) as `text[]`, NULL without a match.
    RegexpMatch,
    /// `regexp_split_to_array(text, pattern [, flags])`.
    RegexpSplitToArray,
    /// `string_to_array(text, delimiter [, null_string])`.
    StringToArray,
    /// `similar_to_escape(pattern [, escape])`: the regular expression `SIMILAR TO` tests.
    SimilarToEscape,
    /// `md5(text | bytea)`: the hex digest.
    Md5,
    /// `sha256(bytea)`, `sha512(bytea)`.
    Sha {
        bits: u16,
    },
    /// `encode(bytea, 'base64' | 'hex' | 'escape')`.
    Encode,
    /// `decode(text, 'base64' | 'hex' | 'escape')`.
    Decode,
    /// `quote_ident(text)`, `quote_literal(text)`, `quote_nullable(text)`.
    QuoteIdent,
    QuoteLiteral,
    QuoteNullable,
    /// `format(template, args...)`: `%s`, `%I`, `%L`, `%%`, with `n$` positions and widths.
    Format {
        types: Vec<ScalarType>,
    },
    /// `num_nulls(...)` (`nulls`) and `num_nonnulls(...)`.
    NumNulls {
        nulls: bool,
    },

    // ---- date and time ----
    /// `date + integer` (either order).
    DateAddInt,
    DateSubInt,
    DateSubDate,
    /// `date + interval` (either order): timestamp.
    DateAddInterval,
    DateSubInterval,
    /// `date + time` (either order): timestamp.
    DateAddTime,
    /// `timestamp[tz] + interval` (either order).
    TimestampAddInterval {
        tz: bool,
    },
    TimestampSubInterval {
        tz: bool,
    },
    /// `timestamp[tz] - timestamp[tz]`: interval.
    TimestampSub {
        tz: bool,
    },
    /// `time + interval` (either order).
    TimeAddInterval,
    TimeSubInterval,
    TimeSub,
    IntervalAdd,
    IntervalSub,
    /// `interval * float8` (either order).
    IntervalMul,
    IntervalDiv,
    IntervalNeg,
    DateTrunc(TimeType),
    /// `date_part`: double precision.
    DatePart(TimeType),
    /// `extract`: numeric.
    Extract(TimeType),
    Age {
        tz: bool,
    },
    /// `isfinite(date | timestamp | timestamptz | interval)`.
    IsFinite,
    MakeDate,
    MakeTimestamp,
    MakeInterval,
    /// `to_timestamp(double)`, and `to_timestamp(text, template)` reading by a template.
    ToTimestamp,
    /// `to_date(text, template)`.
    ToDate,
    /// `timezone(zone, ts)`, `ts AT TIME ZONE zone`, for a `timestamp` or `timestamptz` input.
    Timezone(TimeType),
    /// `to_char(timestamp | timestamptz | number, template)`.
    ToChar,
    DateBin {
        tz: bool,
    },
    JustifyDays,
    JustifyHours,
    JustifyInterval,

    // ---- jsonb ----
    /// `->` with a text key or an integer index.
    JsonbGet,
    /// `->>`.
    JsonbGetText,
    /// `#>` with a text[] path given as text (`'{a,b}'`).
    JsonbGetPath,
    JsonbGetPathText,
    /// `jsonb_extract_path(j, VARIADIC text)`: the path as separate elements.
    JsonbExtractPath,
    JsonbExtractPathText,
    JsonbContains,
    JsonbContained,
    JsonbExists,
    JsonbConcat,
    /// `jsonb - text` or `jsonb - integer`.
    JsonbDelete,
    JsonbTypeof,
    /// `jsonb_pretty(jsonb)`: indented text.
    JsonbPretty,
    JsonbArrayLength,
    JsonbBuildObject {
        types: Vec<ScalarType>,
    },
    JsonbBuildArray {
        types: Vec<ScalarType>,
    },
    ToJsonb {
        ty: ScalarType,
    },
    JsonbStripNulls,
    /// `jsonb_set(target, path text[], value [, create_if_missing])`.
    JsonbSet,
    /// Operators and functions over or building `json` (its text as written).
    Json(JsonFunc),

    // ---- casts ----
    /// Conversion of a value of `from` to `to` (including applying `to`'s modifiers).
    /// `explicit` casts truncate over-long strings instead of failing, as PostgreSQL.
    /// Raises `more than one row returned by a subquery used as an expression` when its
    /// argument (a scalar subquery's row count) exceeds one; NULL otherwise.
    SingleRowCheck,
    Cast {
        from: ScalarType,
        to: ScalarType,
        explicit: bool,
    },
}

impl Func {
    /// True for functions that give a new value on every call (`random()`).
    pub fn is_volatile(&self) -> bool {
        matches!(
            self,
            Func::Random | Func::GenRandomUuid | Func::PgCancelBackend | Func::PgTerminateBackend | Func::PgSleep
        ) || self.needs_statement()
    }

    /// Functions that need the running statement's context (its session, its cancel
    /// check), which only the thread running the statement has.
    pub fn needs_statement(&self) -> bool {
        matches!(self, Func::PgSleep | Func::NextVal | Func::CurrVal | Func::SetVal | Func::LastVal)
    }

    /// False for functions whose value at planning time is not their value later:
    /// volatile ones and `now()` in a view.
    pub fn can_fold(&self) -> bool {
        !self.is_volatile() && *self != Func::Now
    }

    /// Strict functions return NULL when any argument is NULL, without being called.
    pub fn is_strict(&self) -> bool {
        if let Func::Json(f) = self {
            return f.is_strict();
        }
        !matches!(
            self,
            Func::IsNull
                | Func::IsNotNull
                | Func::IsTrue
                | Func::IsNotTrue
                | Func::IsFalse
                | Func::IsNotFalse
                | Func::IsUnknown
                | Func::IsDistinctFrom
                | Func::IsNotDistinctFrom
                | Func::NullIf
                | Func::Greatest
                | Func::Least
                | Func::Concat { .. }
                | Func::ConcatWs { .. }
                | Func::Format { .. }
                | Func::NumNulls { .. }
                | Func::QuoteNullable
                | Func::StringToArray
                | Func::JsonbBuildObject { .. }
                | Func::JsonbBuildArray { .. }
                | Func::FormatType
                | Func::ArrayCreate
                | Func::ArrayToString { .. }
                | Func::ArrayCat
                | Func::ArrayAppend
                | Func::ArrayPrepend
                | Func::ArrayPosition
                | Func::ArrayRemove
                | Func::ArrayReplace
                | Func::ArrayAny { .. }
        )
    }

    /// Computes the function on already-evaluated arguments (never NULL ones if strict).
    pub fn eval(&self, args: &[Datum]) -> Result<Datum, EvalError> {
        if self.is_strict() && args.iter().any(Datum::is_null) {
            return Ok(Datum::Null);
        }
        match self {
            Func::Eq
            | Func::NotEq
            | Func::Lt
            | Func::Lte
            | Func::Gt
            | Func::Gte
            | Func::IsNull
            | Func::IsNotNull
            | Func::IsTrue
            | Func::IsNotTrue
            | Func::IsFalse
            | Func::IsNotFalse
            | Func::IsUnknown
            | Func::IsDistinctFrom
            | Func::IsNotDistinctFrom
            | Func::Not
            | Func::NullIf
            | Func::Greatest
            | Func::Least => eval_predicate(self, args),

            Func::Add(_)
            | Func::Sub(_)
            | Func::Mul(_)
            | Func::Div(_)
            | Func::Mod(_)
            | Func::Neg(_)
            | Func::Plus(_)
            | Func::Pow(_)
            | Func::Abs(_)
            | Func::Round(_)
            | Func::RoundScale
            | Func::Trunc(_)
            | Func::TruncScale
            | Func::Ceil(_)
            | Func::Floor(_)
            | Func::Sign(_)
            | Func::Sqrt(_)
            | Func::Exp(_)
            | Func::Ln(_)
            | Func::Log10(_)
            | Func::LogBase(_)
            | Func::NumericIntDiv
            | Func::Factorial
            | Func::NumericScale
            | Func::NumericMinScale
            | Func::NumericTrimScale
            | Func::Pi
            | Func::Random
            | Func::GenRandomUuid
            | Func::Float(_)
            | Func::Atan2
            | Func::WidthBucket(_)
            | Func::BitAnd(_)
            | Func::BitOr(_)
            | Func::BitXor(_)
            | Func::BitNot(_)
            | Func::ShiftLeft(_)
            | Func::ShiftRight(_)
            | Func::Gcd(_)
            | Func::Lcm(_) => numeric::eval(self, args),

            Func::PgCancelBackend | Func::PgTerminateBackend | Func::PgSleep => backend::eval(self, args),
            Func::NextVal | Func::CurrVal | Func::SetVal | Func::LastVal => backend::sequence_call(self, args),
            Func::Now => Ok(Datum::TimestampTz(backend::statement_now())),

            Func::TextConcat
            | Func::ByteaConcat
            | Func::TextAnyConcat { .. }
            | Func::Like { .. }
            | Func::LikeEscape
            | Func::RegexMatch { .. }
            | Func::CharLength
            | Func::OctetLength
            | Func::BitLength
            | Func::Lower
            | Func::Upper
            | Func::Initcap
            | Func::Substr
            | Func::Position
            | Func::Replace
            | Func::Trim(_)
            | Func::Left
            | Func::Right
            | Func::Lpad
            | Func::Rpad
            | Func::Repeat
            | Func::Reverse
            | Func::SplitPart
            | Func::StartsWith
            | Func::Ascii
            | Func::Chr
            | Func::Translate
            | Func::ToHex
            | Func::FormatType
            | Func::SizePretty
            | Func::Concat { .. }
            | Func::ConcatWs { .. }
            | Func::RegexpReplace
            | Func::RegexpMatch
            | Func::RegexpSplitToArray
            | Func::StringToArray
            | Func::SimilarToEscape
            | Func::QuoteIdent
            | Func::QuoteLiteral
            | Func::QuoteNullable
            | Func::Format { .. }
            | Func::NumNulls { .. } => string::eval(self, args),

            Func::Md5 | Func::Sha { .. } | Func::Encode | Func::Decode => digest::eval(self, args),

            Func::ArrayCreate
            | Func::ArrayIndex { .. }
            | Func::ArraySlice { .. }
            | Func::ArrayLength
            | Func::ArrayUpper
            | Func::ArrayDims
            | Func::ArrayLower
            | Func::Cardinality
            | Func::ArrayToString { .. }
            | Func::ArrayCat
            | Func::ArrayAppend
            | Func::ArrayPrepend
            | Func::ArrayPosition
            | Func::ArrayRemove
            | Func::ArrayReplace
            | Func::ArrayContains { .. }
            | Func::ArrayOverlap
            | Func::ArrayAny { .. } => array::eval(self, args),

            Func::DateAddInt
            | Func::DateSubInt
            | Func::DateSubDate
            | Func::DateAddInterval
            | Func::DateSubInterval
            | Func::DateAddTime
            | Func::TimestampAddInterval { .. }
            | Func::TimestampSubInterval { .. }
            | Func::TimestampSub { .. }
            | Func::TimeAddInterval
            | Func::TimeSubInterval
            | Func::TimeSub
            | Func::IntervalAdd
            | Func::IntervalSub
            | Func::IntervalMul
            | Func::IntervalDiv
            | Func::IntervalNeg
            | Func::DateTrunc(_)
            | Func::DatePart(_)
            | Func::Extract(_)
            | Func::Age { .. }
            | Func::IsFinite
            | Func::MakeDate
            | Func::MakeTimestamp
            | Func::MakeInterval
            | Func::ToTimestamp
            | Func::ToDate
            | Func::ToChar
            | Func::DateBin { .. }
            | Func::JustifyDays
            | Func::JustifyHours
            | Func::JustifyInterval => datetime::eval(self, args),
            Func::Timezone(input) => timezone::eval(self, *input, args),

            Func::JsonbGet
            | Func::JsonbGetText
            | Func::JsonbGetPath
            | Func::JsonbGetPathText
            | Func::JsonbExtractPath
            | Func::JsonbExtractPathText
            | Func::JsonbContains
            | Func::JsonbContained
            | Func::JsonbExists
            | Func::JsonbConcat
            | Func::JsonbDelete
            | Func::JsonbTypeof
            | Func::JsonbPretty
            | Func::JsonbArrayLength
            | Func::JsonbBuildObject { .. }
            | Func::JsonbBuildArray { .. }
            | Func::ToJsonb { .. }
            | Func::JsonbStripNulls
            | Func::JsonbSet => jsonb::eval(self, args),
            Func::Json(f) => f.eval(args),

            Func::Cast { from, to, explicit } => match args {
                [d] => cast::eval_cast(from, to, *explicit, d),
                _ => Err(arity_error(self, args)),
            },
            Func::SingleRowCheck => match args {
                [Datum::Int64(n)] if *n > 1 => {
                    Err(EvalError::Cardinality("more than one row returned by a subquery used as an expression".into()))
                }
                [_] => Ok(Datum::Null),
                _ => Err(arity_error(self, args)),
            },
        }
    }

    /// The name shown in EXPLAIN output: the SQL function name for functions, the operator
    /// symbol for operators (see [`Func::is_operator`]) and `::type` for casts.
    pub fn name(&self) -> String {
        let s: &str = match self {
            Func::SingleRowCheck => "single_row_check",
            Func::Eq => "=",
            Func::NotEq => "<>",
            Func::Lt => "<",
            Func::Lte => "<=",
            Func::Gt => ">",
            Func::Gte => ">=",
            Func::IsNull => "IS NULL",
            Func::IsNotNull => "IS NOT NULL",
            Func::IsTrue => "IS TRUE",
            Func::IsNotTrue => "IS NOT TRUE",
            Func::IsFalse => "IS FALSE",
            Func::IsNotFalse => "IS NOT FALSE",
            Func::IsUnknown => "IS UNKNOWN",
            Func::IsDistinctFrom => "IS DISTINCT FROM",
            Func::IsNotDistinctFrom => "IS NOT DISTINCT FROM",
            Func::Not => "NOT",
            Func::NullIf => "nullif",
            Func::Greatest => "greatest",
            Func::Least => "least",
            Func::Add(_)
            | Func::DateAddInt
            | Func::DateAddInterval
            | Func::DateAddTime
            | Func::TimestampAddInterval { .. }
            | Func::TimeAddInterval
            | Func::IntervalAdd => "+",
            Func::Sub(_)
            | Func::DateSubInt
            | Func::DateSubDate
            | Func::DateSubInterval
            | Func::TimestampSubInterval { .. }
            | Func::TimestampSub { .. }
            | Func::TimeSubInterval
            | Func::TimeSub
            | Func::IntervalSub
            | Func::JsonbDelete => "-",
            Func::Neg(_) | Func::IntervalNeg => "-",
            Func::Plus(_) => "+",
            Func::Mul(_) | Func::IntervalMul => "*",
            Func::Div(_) | Func::IntervalDiv => "/",
            Func::Mod(_) => "%",
            Func::Pow(_) => "^",
            Func::Abs(_) => "abs",
            Func::Round(_) | Func::RoundScale => "round",
            Func::Trunc(_) | Func::TruncScale => "trunc",
            Func::Ceil(_) => "ceil",
            Func::Floor(_) => "floor",
            Func::Sign(_) => "sign",
            Func::Sqrt(_) => "sqrt",
            Func::Exp(_) => "exp",
            Func::Ln(_) => "ln",
            Func::Log10(_) => "log10",
            Func::LogBase(_) => "log",
            Func::NumericIntDiv => "div",
            Func::Factorial => "factorial",
            Func::NumericScale => "scale",
            Func::NumericMinScale => "min_scale",
            Func::NumericTrimScale => "trim_scale",
            Func::Pi => "pi",
            Func::Random => "random",
            Func::GenRandomUuid => "gen_random_uuid",
            Func::PgCancelBackend => "pg_cancel_backend",
            Func::PgSleep => "pg_sleep",
            Func::NextVal => "nextval",
            Func::CurrVal => "currval",
            Func::SetVal => "setval",
            Func::LastVal => "lastval",
            Func::Now => "now",
            Func::PgTerminateBackend => "pg_terminate_backend",
            Func::Float(f) => match f {
                FloatFunc::Cbrt => "cbrt",
                FloatFunc::Sin => "sin",
                FloatFunc::Cos => "cos",
                FloatFunc::Tan => "tan",
                FloatFunc::Cot => "cot",
                FloatFunc::Asin => "asin",
                FloatFunc::Acos => "acos",
                FloatFunc::Atan => "atan",
                FloatFunc::Degrees => "degrees",
                FloatFunc::Radians => "radians",
            },
            Func::Atan2 => "atan2",
            Func::WidthBucket(_) => "width_bucket",
            Func::BitAnd(_) => "&",
            Func::BitOr(_) => "|",
            Func::BitXor(_) => "#",
            Func::BitNot(_) => "~",
            Func::ShiftLeft(_) => "<<",
            Func::ShiftRight(_) => ">>",
            Func::Gcd(_) => "gcd",
            Func::Lcm(_) => "lcm",
            Func::TextConcat | Func::ByteaConcat | Func::TextAnyConcat { .. } | Func::JsonbConcat => "||",
            Func::Like { case_insensitive: false, negated: false } => "~~",
            Func::Like { case_insensitive: false, negated: true } => "!~~",
            Func::Like { case_insensitive: true, negated: false } => "~~*",
            Func::Like { case_insensitive: true, negated: true } => "!~~*",
            Func::LikeEscape => "like_escape",
            Func::RegexMatch { case_insensitive: false, negated: false } => "~",
            Func::RegexMatch { case_insensitive: false, negated: true } => "!~",
            Func::RegexMatch { case_insensitive: true, negated: false } => "~*",
            Func::RegexMatch { case_insensitive: true, negated: true } => "!~*",
            Func::CharLength => "length",
            Func::OctetLength => "octet_length",
            Func::BitLength => "bit_length",
            Func::Lower => "lower",
            Func::Upper => "upper",
            Func::Initcap => "initcap",
            Func::Substr => "substr",
            Func::Position => "strpos",
            Func::Replace => "replace",
            Func::Trim(TrimSide::Both) => "btrim",
            Func::Trim(TrimSide::Leading) => "ltrim",
            Func::Trim(TrimSide::Trailing) => "rtrim",
            Func::Left => "left",
            Func::Right => "right",
            Func::Lpad => "lpad",
            Func::Rpad => "rpad",
            Func::Repeat => "repeat",
            Func::Reverse => "reverse",
            Func::SplitPart => "split_part",
            Func::StartsWith => "starts_with",
            Func::Ascii => "ascii",
            Func::Chr => "chr",
            Func::Translate => "translate",
            Func::ToHex => "to_hex",
            Func::FormatType => "format_type",
            Func::SizePretty => "pg_size_pretty",
            Func::ArrayCreate => "array",
            Func::ArrayIndex { .. } => "array_subscript",
            Func::ArraySlice { .. } => "array_slice",
            Func::ArrayLength => "array_length",
            Func::ArrayUpper => "array_upper",
            Func::ArrayDims => "array_dims",
            Func::ArrayLower => "array_lower",
            Func::Cardinality => "cardinality",
            Func::ArrayToString { .. } => "array_to_string",
            Func::ArrayCat => "array_cat",
            Func::ArrayAppend => "array_append",
            Func::ArrayPrepend => "array_prepend",
            Func::ArrayPosition => "array_position",
            Func::ArrayRemove => "array_remove",
            Func::ArrayReplace => "array_replace",
            Func::ArrayContains { contained: false } => "@>",
            Func::ArrayContains { contained: true } => "<@",
            Func::ArrayOverlap => "&&",
            Func::RegexpMatch => "regexp_match",
            Func::RegexpSplitToArray => "regexp_split_to_array",
            Func::StringToArray => "string_to_array",
            Func::SimilarToEscape => "similar_to_escape",
            Func::Md5 => "md5",
            Func::Sha { bits: 224 } => "sha224",
            Func::Sha { bits: 384 } => "sha384",
            Func::Sha { bits: 512 } => "sha512",
            Func::Sha { .. } => "sha256",
            Func::Encode => "encode",
            Func::Decode => "decode",
            Func::QuoteIdent => "quote_ident",
            Func::QuoteLiteral => "quote_literal",
            Func::QuoteNullable => "quote_nullable",
            Func::Format { .. } => "format",
            Func::NumNulls { nulls: true } => "num_nulls",
            Func::NumNulls { nulls: false } => "num_nonnulls",
            Func::ArrayAny { all: false, .. } => "any",
            Func::ArrayAny { all: true, .. } => "all",
            Func::Concat { .. } => "concat",
            Func::ConcatWs { .. } => "concat_ws",
            Func::RegexpReplace => "regexp_replace",
            Func::DateTrunc(_) => "date_trunc",
            Func::DatePart(_) => "date_part",
            Func::Extract(_) => "extract",
            Func::Age { .. } => "age",
            Func::IsFinite => "isfinite",
            Func::MakeDate => "make_date",
            Func::MakeTimestamp => "make_timestamp",
            Func::MakeInterval => "make_interval",
            Func::ToTimestamp => "to_timestamp",
            Func::Timezone(_) => "timezone",
            Func::ToDate => "to_date",
            Func::ToChar => "to_char",
            Func::DateBin { .. } => "date_bin",
            Func::JustifyDays => "justify_days",
            Func::JustifyHours => "justify_hours",
            Func::JustifyInterval => "justify_interval",
            Func::JsonbGet => "->",
            Func::JsonbGetText => "->>",
            Func::JsonbGetPath => "#>",
            Func::JsonbGetPathText => "#>>",
            Func::JsonbExtractPath => "jsonb_extract_path",
            Func::JsonbExtractPathText => "jsonb_extract_path_text",
            Func::JsonbContains => "@>",
            Func::JsonbContained => "<@",
            Func::JsonbExists => "?",
            Func::JsonbTypeof => "jsonb_typeof",
            Func::JsonbPretty => "jsonb_pretty",
            Func::JsonbArrayLength => "jsonb_array_length",
            Func::JsonbBuildObject { .. } => "jsonb_build_object",
            Func::JsonbBuildArray { .. } => "jsonb_build_array",
            Func::ToJsonb { .. } => "to_jsonb",
            Func::JsonbStripNulls => "jsonb_strip_nulls",
            Func::JsonbSet => "jsonb_set",
            Func::Json(f) => f.name(),
            Func::Cast { to, .. } => return format!("::{to}"),
        };
        s.to_string()
    }

    /// How EXPLAIN should place the name: as an infix/prefix operator, a postfix predicate
    /// (`IS NULL`), a cast suffix, or a function call.
    pub fn is_operator(&self) -> bool {
        let name = self.name();
        !name.starts_with("::")
            && !name.starts_with("IS ")
            && (name == "NOT" || !name.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
    }

    /// Renders a call for EXPLAIN: `(a + b)`, `- a`, `a IS NULL`, `a::integer`, `abs(a)`.
    pub fn display_call(&self, args: &[String]) -> String {
        let name = self.name();
        if let Some(ty) = name.strip_prefix("::") {
            return format!("{}::{ty}", args.first().map(String::as_str).unwrap_or("?"));
        }
        if name.starts_with("IS ") {
            return match args {
                [a] => format!("({a} {name})"),
                [a, b] => format!("({a} {name} {b})"),
                _ => format!("{name}({})", args.join(", ")),
            };
        }
        if self.is_operator() {
            return match args {
                [a] => format!("({name} {a})"),
                [a, b] => format!("({a} {name} {b})"),
                _ => format!("{name}({})", args.join(", ")),
            };
        }
        format!("{name}({})", args.join(", "))
    }
}

impl fmt::Display for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// What to call and how to coerce the arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub func: Func,
    /// The type each argument must be cast to (or already has) before the call.
    pub arg_types: Vec<ScalarType>,
    pub return_type: ScalarType,
}

/// Why a function, operator or cast could not be resolved. Messages follow PostgreSQL
/// (`function foo(integer) does not exist`, SQLSTATE 42883).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("function {name}({args}) does not exist")]
    NoSuchFunction { name: String, args: String },
    #[error("operator does not exist: {0}")]
    NoSuchOperator(String),
    #[error("cannot cast type {from} to {to}")]
    NoSuchCast { from: String, to: String },
    #[error("{0}")]
    Ambiguous(String),
    /// Types that cannot be brought to a common type, e.g. `GREATEST types integer and
    /// text cannot be matched` (SQLSTATE 42804).
    #[error("{0}")]
    DatatypeMismatch(String),
}

impl ResolveError {
    pub fn sqlstate(&self) -> &'static str {
        match self {
            ResolveError::NoSuchFunction { .. } | ResolveError::NoSuchOperator(_) => "42883",
            ResolveError::NoSuchCast { .. } => "42846",
            ResolveError::Ambiguous(_) => "42725",
            ResolveError::DatatypeMismatch(_) => "42804",
        }
    }
}

/// How a cast is requested; PostgreSQL allows more casts explicitly than implicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CastContext {
    Implicit,
    Assignment,
    Explicit,
}

/// Resolves a function call by name (lower-case, unqualified) and argument types. `None`
/// is an argument of unknown type (an untyped string literal or NULL), resolved as
/// PostgreSQL resolves `unknown`.
pub fn resolve_function(name: &str, args: &[Option<ScalarType>]) -> Result<Resolved, ResolveError> {
    resolve::resolve_function(name, args)
}

pub use array::{
    create as resolve_array_create, index as resolve_array_index, lower_bound as array_lower_bound,
    resolve_any as resolve_array_any, slice as resolve_array_slice,
};

/// Resolves a binary operator (`+`, `=`, `||`, `->>`, `LIKE`, ...).
pub fn resolve_binary_operator(
    op: &str,
    left: Option<ScalarType>,
    right: Option<ScalarType>,
) -> Result<Resolved, ResolveError> {
    resolve::resolve_binary_operator(op, left, right)
}

/// Resolves a prefix operator (`-`, `NOT`, `+`).
pub fn resolve_unary_operator(op: &str, arg: Option<ScalarType>) -> Result<Resolved, ResolveError> {
    resolve::resolve_unary_operator(op, arg)
}

/// The function converting `from` to `to` in `context`, or `None` if no cast is needed
/// (same type, no modifiers to apply). Errors if the cast is not allowed in that context.
pub fn resolve_cast(from: &ScalarType, to: &ScalarType, context: CastContext) -> Result<Option<Func>, ResolveError> {
    cast::resolve_cast(from, to, context)
}

/// PostgreSQL's numeric division, with the result scale PostgreSQL picks
/// (`select_div_scale`): used by `/` and by `avg`.
pub fn numeric_div(a: Decimal, b: Decimal) -> Result<Decimal, EvalError> {
    numeric::numeric_div(a, b)
}

/// The square root of a non-negative numeric, rounded to `rscale` decimals.
pub fn numeric_sqrt_at_scale(d: Decimal, rscale: u32) -> Result<Decimal, EvalError> {
    numeric::sqrt_at_scale(d, rscale)
}

// ---------------------------------------------------------------------------------------
// Shared helpers for the submodules.

pub(crate) fn arity_error(func: &Func, args: &[Datum]) -> EvalError {
    EvalError::Internal(format!("{} called with {} arguments", func.name(), args.len()))
}

pub(crate) fn type_error(func: &Func, args: &[Datum]) -> EvalError {
    EvalError::Internal(format!("{} called with unexpected arguments {args:?}", func.name()))
}

/// Compares two non-NULL values as PostgreSQL's comparison operators do. Values normally
/// have one type; integers, floats and date/time kinds of one family are compared across
/// widths (PostgreSQL's cross-type operators).
pub(crate) fn cmp_datums(a: &Datum, b: &Datum) -> Result<std::cmp::Ordering, EvalError> {
    use Datum::*;
    Ok(match (a, b) {
        (Int16(_) | Int32(_) | Int64(_), Int16(_) | Int32(_) | Int64(_)) => {
            a.as_i64().unwrap_or(0).cmp(&b.as_i64().unwrap_or(0))
        }
        (Float32(_) | Float64(_), Float32(_) | Float64(_)) => {
            eddy_repr::datum::cmp_f64(numeric::as_f64(a)?, numeric::as_f64(b)?)
        }
        (Date(_) | Timestamp(_) | TimestampTz(_), Date(_) | Timestamp(_) | TimestampTz(_)) => {
            datetime::as_timestamp(a)?.cmp(&datetime::as_timestamp(b)?)
        }
        (Jsonb(x), Jsonb(y)) => jsonb::jsonb_cmp(x, y),
        (Numeric(x), Int16(_) | Int32(_) | Int64(_)) => x.cmp(&Decimal::from(b.as_i64().unwrap_or(0))),
        (Int16(_) | Int32(_) | Int64(_), Numeric(y)) => Decimal::from(a.as_i64().unwrap_or(0)).cmp(y),
        _ => a.sql_cmp(b),
    })
}

fn eval_predicate(func: &Func, args: &[Datum]) -> Result<Datum, EvalError> {
    use std::cmp::Ordering;
    let bool_arg = |d: &Datum| -> Result<Option<bool>, EvalError> {
        match d {
            Datum::Bool(b) => Ok(Some(*b)),
            Datum::Null => Ok(None),
            _ => Err(type_error(func, args)),
        }
    };
    match (func, args) {
        (Func::Eq | Func::NotEq | Func::Lt | Func::Lte | Func::Gt | Func::Gte, [a, b]) => {
            let ord = cmp_datums(a, b)?;
            Ok(Datum::Bool(match func {
                Func::Eq => ord == Ordering::Equal,
                Func::NotEq => ord != Ordering::Equal,
                Func::Lt => ord == Ordering::Less,
                Func::Lte => ord != Ordering::Greater,
                Func::Gt => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }))
        }
        (Func::IsNull, [a]) => Ok(Datum::Bool(a.is_null())),
        (Func::IsNotNull, [a]) => Ok(Datum::Bool(!a.is_null())),
        (Func::IsTrue, [a]) => Ok(Datum::Bool(bool_arg(a)? == Some(true))),
        (Func::IsNotTrue, [a]) => Ok(Datum::Bool(bool_arg(a)? != Some(true))),
        (Func::IsFalse, [a]) => Ok(Datum::Bool(bool_arg(a)? == Some(false))),
        (Func::IsNotFalse, [a]) => Ok(Datum::Bool(bool_arg(a)? != Some(false))),
        (Func::IsUnknown, [a]) => Ok(Datum::Bool(bool_arg(a)?.is_none())),
        (Func::Not, [a]) => Ok(Datum::from_bool_opt(bool_arg(a)?.map(|b| !b))),
        (Func::IsDistinctFrom | Func::IsNotDistinctFrom, [a, b]) => {
            let same = match (a.is_null(), b.is_null()) {
                (true, true) => true,
                (false, false) => cmp_datums(a, b)? == Ordering::Equal,
                _ => false,
            };
            Ok(Datum::Bool(if matches!(func, Func::IsDistinctFrom) { !same } else { same }))
        }
        (Func::NullIf, [a, b]) => {
            if !a.is_null() && !b.is_null() && cmp_datums(a, b)? == Ordering::Equal {
                Ok(Datum::Null)
            } else {
                Ok(a.clone())
            }
        }
        (Func::Greatest | Func::Least, _) => {
            let mut best: Option<&Datum> = None;
            for d in args.iter().filter(|d| !d.is_null()) {
                best = Some(match best {
                    None => d,
                    Some(cur) => {
                        let ord = cmp_datums(d, cur)?;
                        let better = if matches!(func, Func::Greatest) {
                            ord == Ordering::Greater
                        } else {
                            ord == Ordering::Less
                        };
                        if better {
                            d
                        } else {
                            cur
                        }
                    }
                });
            }
            Ok(best.cloned().unwrap_or(Datum::Null))
        }
        _ => Err(arity_error(func, args)),
    }
}

#[cfg(test)]
mod tests;
