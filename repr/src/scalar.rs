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
    Time,
    Timestamp,
    TimestampTz,
    Interval,
    Jsonb,
    Uuid,
}

impl ScalarType {
    pub fn numeric() -> Self {
        ScalarType::Numeric { precision: None, scale: None }
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
            ScalarType::Time => 1083,
            ScalarType::Timestamp => 1114,
            ScalarType::TimestampTz => 1184,
            ScalarType::Interval => 1186,
            ScalarType::Numeric { .. } => 1700,
            ScalarType::Uuid => 2950,
            ScalarType::Jsonb => 3802,
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
            1083 => ScalarType::Time,
            1114 => ScalarType::Timestamp,
            1184 => ScalarType::TimestampTz,
            1186 => ScalarType::Interval,
            1700 => ScalarType::numeric(),
            2950 => ScalarType::Uuid,
            3802 | 114 => ScalarType::Jsonb,
            _ => return None,
        })
    }

    /// `typlen` as PostgreSQL reports it (-1 for variable length).
    pub fn type_len(&self) -> i16 {
        match self {
            ScalarType::Bool => 1,
            ScalarType::Int16 => 2,
            ScalarType::Int32 | ScalarType::Float32 | ScalarType::Date => 4,
            ScalarType::Int64
            | ScalarType::Float64
            | ScalarType::Time
            | ScalarType::Timestamp
            | ScalarType::TimestampTz => 8,
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
            ScalarType::Time => write!(f, "time without time zone"),
            ScalarType::Timestamp => write!(f, "timestamp without time zone"),
            ScalarType::TimestampTz => write!(f, "timestamp with time zone"),
            ScalarType::Interval => write!(f, "interval"),
            ScalarType::Jsonb => write!(f, "jsonb"),
            ScalarType::Uuid => write!(f, "uuid"),
        }
    }
}
