//! `ScalarType`: the SQL type of a value, with its PostgreSQL name and OID.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Largest precision Eddy's exact numeric can hold (the decimal engine's 96-bit mantissa).
pub const NUMERIC_MAX_PRECISION: u32 = 28;

/// A SQL scalar type. Type modifiers (numeric precision/scale, varchar length) are kept so
/// that casts and inserts can enforce them as PostgreSQL does.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ScalarType {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// `numeric(precision, scale)`; both `None` for unconstrained `numeric`.
    Numeric {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    Text,
    /// `varchar(n)`; `None` for unbounded `varchar`.
    Varchar {
        max_length: Option<u32>,
    },
    /// `char(n)` (bpchar): blank-padded to its length.
    Char {
        length: Option<u32>,
    },
    Bytea,
    Date,
    /// `time(p)`: `precision` fractional digits kept (0-6); `None` for all six.
    Time {
        precision: Option<u8>,
    },
    /// `timestamp(p)`.
    Timestamp {
        precision: Option<u8>,
    },
    /// `timestamptz(p)`.
    TimestampTz {
        precision: Option<u8>,
    },
    Interval,
    /// `json`: the document's text as written (whitespace, key order and duplicate keys
    /// kept), held as a text datum and checked on input.
    Json,
    Jsonb,
    Uuid,
    /// A one-dimensional array of the element type (never itself an array).
    Array(Box<ScalarType>),
    /// PostgreSQL's `int2vector` (`pg_index.indkey`): an array of smallints (lower bound
    /// 0 in PostgreSQL, 1 here) whose text form is space-separated (`1 3`).
    Int2Vector,
}

/// The fractional digits of a `time(p)` / `timestamp(p)` modifier (`atttypmod` is `p`).
fn fraction_digits(modifier: i32) -> Option<u8> {
    (0..=6).contains(&modifier).then_some(modifier as u8)
}

impl ScalarType {
    pub fn numeric() -> Self {
        ScalarType::Numeric { precision: None, scale: None }
    }

    pub const fn time() -> Self {
        ScalarType::Time { precision: None }
    }

    pub const fn timestamp() -> Self {
        ScalarType::Timestamp { precision: None }
    }

    pub const fn timestamptz() -> Self {
        ScalarType::TimestampTz { precision: None }
    }

    /// The fractional-second digits a `time(p)`, `timestamp(p)` or `timestamptz(p)`
    /// keeps (`None`: all six).
    pub fn time_precision(&self) -> Option<u8> {
        match self {
            ScalarType::Time { precision }
            | ScalarType::Timestamp { precision }
            | ScalarType::TimestampTz { precision } => *precision,
            _ => None,
        }
    }

    /// PostgreSQL's type OID, as sent in RowDescription.
    pub fn oid(&self) -> u32 {
        match self {
            ScalarType::Bool => 16,
            ScalarType::Bytea => 17,
            ScalarType::Int64 => 20,
            ScalarType::Int16 => 21,
            ScalarType::Int32 => 23,
            ScalarType::Text => 25,
            ScalarType::Float32 => 700,
            ScalarType::Float64 => 701,
            ScalarType::Char { .. } => 1042,
            ScalarType::Varchar { .. } => 1043,
            ScalarType::Date => 1082,
            ScalarType::Time { .. } => 1083,
            ScalarType::Timestamp { .. } => 1114,
            ScalarType::TimestampTz { .. } => 1184,
            ScalarType::Interval => 1186,
            ScalarType::Numeric { .. } => 1700,
            ScalarType::Uuid => 2950,
            ScalarType::Json => 114,
            ScalarType::Jsonb => 3802,
            ScalarType::Array(element) => element.array_oid(),
            ScalarType::Int2Vector => 22,
        }
    }

    /// The element type of an array type (`int2vector` is an array of `smallint`).
    pub fn array_element(&self) -> Option<&ScalarType> {
        match self {
            ScalarType::Array(element) => Some(element),
            ScalarType::Int2Vector => Some(&ScalarType::Int16),
            _ => None,
        }
    }

    /// The oid of the array type whose elements are of this type (`pg_type.typarray`).
    pub fn array_oid(&self) -> u32 {
        match self {
            ScalarType::Bool => 1000,
            ScalarType::Bytea => 1001,
            ScalarType::Int16 => 1005,
            ScalarType::Int32 => 1007,
            ScalarType::Text => 1009,
            ScalarType::Char { .. } => 1014,
            ScalarType::Varchar { .. } => 1015,
            ScalarType::Int64 => 1016,
            ScalarType::Float32 => 1021,
            ScalarType::Float64 => 1022,
            ScalarType::Timestamp { .. } => 1115,
            ScalarType::Date => 1182,
            ScalarType::Time { .. } => 1183,
            ScalarType::TimestampTz { .. } => 1185,
            ScalarType::Interval => 1187,
            ScalarType::Numeric { .. } => 1231,
            ScalarType::Uuid => 2951,
            ScalarType::Json => 199,
            ScalarType::Jsonb => 3807,
            ScalarType::Array(element) => element.array_oid(),
            ScalarType::Int2Vector => 1006,
        }
    }

    /// The type for a PostgreSQL OID, as clients send in Parse.
    pub fn from_oid(oid: u32) -> Option<Self> {
        Some(match oid {
            16 => ScalarType::Bool,
            17 => ScalarType::Bytea,
            20 => ScalarType::Int64,
            21 => ScalarType::Int16,
            23 => ScalarType::Int32,
            25 => ScalarType::Text,
            700 => ScalarType::Float32,
            701 => ScalarType::Float64,
            1042 => ScalarType::Char { length: None },
            1043 => ScalarType::Varchar { max_length: None },
            1082 => ScalarType::Date,
            1083 => ScalarType::time(),
            1114 => ScalarType::timestamp(),
            1184 => ScalarType::timestamptz(),
            1186 => ScalarType::Interval,
            1700 => ScalarType::numeric(),
            2950 => ScalarType::Uuid,
            114 => ScalarType::Json,
            3802 => ScalarType::Jsonb,
            22 => ScalarType::Int2Vector,
            oid => {
                let element = ScalarType::all().into_iter().find(|t| t.array_oid() == oid)?;
                ScalarType::Array(Box::new(element))
            }
        })
    }

    /// `atttypmod` as PostgreSQL stores it: -1 without modifiers; `varchar(n)`/`char(n)`
    /// store n + 4, `numeric(p, s)` stores ((p << 16) | s) + 4.
    pub fn type_modifier(&self) -> i32 {
        const VARHDRSZ: i32 = 4;
        match self {
            ScalarType::Numeric { precision: Some(p), scale } => {
                ((*p as i32) << 16 | scale.unwrap_or(0) as i32) + VARHDRSZ
            }
            ScalarType::Varchar { max_length: Some(n) } => *n as i32 + VARHDRSZ,
            ScalarType::Char { length: Some(n) } => *n as i32 + VARHDRSZ,
            ScalarType::Time { precision: Some(p) }
            | ScalarType::Timestamp { precision: Some(p) }
            | ScalarType::TimestampTz { precision: Some(p) } => *p as i32,
            ScalarType::Array(element) => element.type_modifier(),
            _ => -1,
        }
    }

    /// The type for `pg_type.oid` `oid` with `atttypmod` `modifier` (the inverse of
    /// [`ScalarType::oid`] and [`ScalarType::type_modifier`]).
    pub fn from_oid_and_modifier(oid: u32, modifier: i32) -> Option<Self> {
        let m = (modifier >= 4).then(|| (modifier - 4) as u32);
        Some(match ScalarType::from_oid(oid)? {
            ScalarType::Numeric { .. } => {
                ScalarType::Numeric { precision: m.map(|m| m >> 16), scale: m.map(|m| m & 0xffff) }
            }
            ScalarType::Varchar { .. } => ScalarType::Varchar { max_length: m },
            ScalarType::Char { .. } => ScalarType::Char { length: m },
            ScalarType::Time { .. } => ScalarType::Time { precision: fraction_digits(modifier) },
            ScalarType::Timestamp { .. } => ScalarType::Timestamp { precision: fraction_digits(modifier) },
            ScalarType::TimestampTz { .. } => ScalarType::TimestampTz { precision: fraction_digits(modifier) },
            ScalarType::Array(element) => {
                ScalarType::Array(Box::new(ScalarType::from_oid_and_modifier(element.oid(), modifier)?))
            }
            other => other,
        })
    }

    /// `pg_type.typname`: the internal name (`int8`, `varchar`, `timestamptz`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            ScalarType::Bool => "bool",
            ScalarType::Int16 => "int2",
            ScalarType::Int32 => "int4",
            ScalarType::Int64 => "int8",
            ScalarType::Float32 => "float4",
            ScalarType::Float64 => "float8",
            ScalarType::Numeric { .. } => "numeric",
            ScalarType::Text => "text",
            ScalarType::Varchar { .. } => "varchar",
            ScalarType::Char { .. } => "bpchar",
            ScalarType::Bytea => "bytea",
            ScalarType::Date => "date",
            ScalarType::Time { .. } => "time",
            ScalarType::Timestamp { .. } => "timestamp",
            ScalarType::TimestampTz { .. } => "timestamptz",
            ScalarType::Interval => "interval",
            ScalarType::Json => "json",
            ScalarType::Jsonb => "jsonb",
            ScalarType::Uuid => "uuid",
            ScalarType::Array(element) => match element.type_name() {
                "bool" => "_bool",
                "int2" => "_int2",
                "int4" => "_int4",
                "int8" => "_int8",
                "float4" => "_float4",
                "float8" => "_float8",
                "numeric" => "_numeric",
                "text" => "_text",
                "varchar" => "_varchar",
                "bpchar" => "_bpchar",
                "bytea" => "_bytea",
                "date" => "_date",
                "time" => "_time",
                "timestamp" => "_timestamp",
                "timestamptz" => "_timestamptz",
                "interval" => "_interval",
                "json" => "_json",
                "jsonb" => "_jsonb",
                "uuid" => "_uuid",
                _ => "_array",
            },
            ScalarType::Int2Vector => "int2vector",
        }
    }

    /// Every type Eddy has, without modifiers (the rows of `pg_type`).
    pub fn all() -> Vec<ScalarType> {
        [16, 17, 20, 21, 23, 25, 700, 701, 1042, 1043, 1082, 1083, 1114, 1184, 1186, 1700, 2950, 114, 3802]
            .into_iter()
            .filter_map(ScalarType::from_oid)
            .collect()
    }

    /// `typlen` as PostgreSQL reports it (-1 for variable length).
    pub fn type_len(&self) -> i16 {
        match self {
            ScalarType::Bool => 1,
            ScalarType::Int16 => 2,
            ScalarType::Int32 | ScalarType::Float32 | ScalarType::Date => 4,
            ScalarType::Int64
            | ScalarType::Float64
            | ScalarType::Time { .. }
            | ScalarType::Timestamp { .. }
            | ScalarType::TimestampTz { .. } => 8,
            ScalarType::Interval | ScalarType::Uuid => 16,
            _ => -1,
        }
    }

    /// The same type without modifiers (what `SHOW COLUMNS` calls the base type).
    pub fn without_modifiers(&self) -> ScalarType {
        match self {
            ScalarType::Numeric { .. } => ScalarType::numeric(),
            ScalarType::Varchar { .. } => ScalarType::Varchar { max_length: None },
            ScalarType::Char { .. } => ScalarType::Char { length: None },
            ScalarType::Time { .. } => ScalarType::time(),
            ScalarType::Timestamp { .. } => ScalarType::timestamp(),
            ScalarType::TimestampTz { .. } => ScalarType::timestamptz(),
            ScalarType::Array(element) => ScalarType::Array(Box::new(element.without_modifiers())),
            other => other.clone(),
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(self, ScalarType::Text | ScalarType::Varchar { .. } | ScalarType::Char { .. })
    }

    pub fn is_integer(&self) -> bool {
        matches!(self, ScalarType::Int16 | ScalarType::Int32 | ScalarType::Int64)
    }

    pub fn is_numeric_family(&self) -> bool {
        self.is_integer() || matches!(self, ScalarType::Float32 | ScalarType::Float64 | ScalarType::Numeric { .. })
    }
}

impl fmt::Display for ScalarType {
    /// PostgreSQL's `format_type` spelling.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScalarType::Bool => write!(f, "boolean"),
            ScalarType::Int16 => write!(f, "smallint"),
            ScalarType::Int32 => write!(f, "integer"),
            ScalarType::Int64 => write!(f, "bigint"),
            ScalarType::Float32 => write!(f, "real"),
            ScalarType::Float64 => write!(f, "double precision"),
            ScalarType::Numeric { precision: Some(p), scale } => {
                write!(f, "numeric({},{})", p, scale.unwrap_or(0))
            }
            ScalarType::Numeric { .. } => write!(f, "numeric"),
            ScalarType::Text => write!(f, "text"),
            ScalarType::Varchar { max_length: Some(n) } => write!(f, "character varying({n})"),
            ScalarType::Varchar { max_length: None } => write!(f, "character varying"),
            ScalarType::Char { length: Some(n) } => write!(f, "character({n})"),
            ScalarType::Char { length: None } => write!(f, "character"),
            ScalarType::Bytea => write!(f, "bytea"),
            ScalarType::Date => write!(f, "date"),
            ScalarType::Time { precision: Some(p) } => write!(f, "time({p}) without time zone"),
            ScalarType::Timestamp { precision: Some(p) } => write!(f, "timestamp({p}) without time zone"),
            ScalarType::TimestampTz { precision: Some(p) } => write!(f, "timestamp({p}) with time zone"),
            ScalarType::Time { .. } => write!(f, "time without time zone"),
            ScalarType::Timestamp { .. } => write!(f, "timestamp without time zone"),
            ScalarType::TimestampTz { .. } => write!(f, "timestamp with time zone"),
            ScalarType::Interval => write!(f, "interval"),
            ScalarType::Json => write!(f, "json"),
            ScalarType::Jsonb => write!(f, "jsonb"),
            ScalarType::Uuid => write!(f, "uuid"),
            ScalarType::Array(element) => write!(f, "{element}[]"),
            ScalarType::Int2Vector => write!(f, "int2vector"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_modifiers_round_trip_as_postgres_stores_them() {
        let numeric = ScalarType::Numeric { precision: Some(10), scale: Some(2) };
        assert_eq!(numeric.type_modifier(), 655366); // PostgreSQL's atttypmod for numeric(10,2)
        assert_eq!(ScalarType::Varchar { max_length: Some(20) }.type_modifier(), 24);
        assert_eq!(ScalarType::Int64.type_modifier(), -1);
        for ty in [numeric, ScalarType::Varchar { max_length: Some(20) }, ScalarType::Char { length: Some(3) }] {
            assert_eq!(ScalarType::from_oid_and_modifier(ty.oid(), ty.type_modifier()), Some(ty));
        }
        assert_eq!(ScalarType::from_oid_and_modifier(1700, -1), Some(ScalarType::numeric()));
        assert_eq!(ScalarType::from_oid_and_modifier(26, -1), None);
    }

    #[test]
    fn every_type_has_one_row_and_its_own_oid() {
        let all = ScalarType::all();
        assert_eq!(all.len(), 19);
        assert!(all.iter().all(|t| ScalarType::from_oid(t.oid()).as_ref() == Some(t)));
    }
}
