//! SQL type names to `ScalarType`, and PostgreSQL's rules for a common type.

use eddy_repr::ScalarType;

use crate::PlanError;

/// Parses a type as written in SQL (`numeric(10,2)`, `varchar(20)`, `timestamptz`,
/// `double precision`, `int8`, ...).
/// PostgreSQL's largest numeric precision.
const NUMERIC_DECLARED_MAX_PRECISION: u32 = 1000;

pub fn parse_type_name(text: &str) -> Result<ScalarType, PlanError> {
    // `int[]`, `text[][]` (PostgreSQL ignores declared dimensions), `_int4`.
    let trimmed = text.trim();
    if let Some(element) = trimmed.strip_suffix("[]") {
        let element = parse_type_name(element.trim_end_matches("[]"))?;
        return Ok(ScalarType::Array(Box::new(element)));
    }
    if let Some(element) = trimmed.strip_prefix('_').or_else(|| trimmed.strip_prefix("pg_catalog._")) {
        if let Ok(element) = parse_type_name(element) {
            return Ok(ScalarType::Array(Box::new(element)));
        }
    }
    let lower = text.trim().to_lowercase();
    let (base, mods) = match lower.find('(') {
        Some(p) => {
            let inner = lower[p + 1..].trim_end_matches(|c: char| c == ')' || c.is_whitespace());
            let rest_after = lower[p..].find(')').map(|q| lower[p + q + 1..].trim().to_string()).unwrap_or_default();
            let base = format!("{} {}", lower[..p].trim(), rest_after).trim().to_string();
            let mods: Vec<u32> = inner
                .split(',')
                .map(|m| m.trim().parse::<u32>())
                .collect::<Result<_, _>>()
                .map_err(|_| PlanError::Syntax(format!("invalid type modifier in \"{text}\"")))?;
            (base, mods)
        }
        None => (lower.clone(), vec![]),
    };
    let base = base.split_whitespace().collect::<Vec<_>>().join(" ");
    let base = base.strip_prefix("pg_catalog.").unwrap_or(&base);
    let ty = match base {
        "bool" | "boolean" => ScalarType::Bool,
        "smallint" | "int2" => ScalarType::Int16,
        "int2vector" => ScalarType::Int2Vector,
        "int" | "integer" | "int4" => ScalarType::Int32,
        // Object identifiers are bigints here (Eddy has no unsigned 32-bit type); casts
        // to regclass, regtype and regnamespace are rewritten before planning
        // (object_ids.rs), so only their oids reach this point.
        "bigint" | "int8" | "oid" | "regclass" | "regtype" | "regnamespace" | "regproc" => ScalarType::Int64,
        "real" | "float4" => ScalarType::Float32,
        "double precision" | "float8" | "double" => ScalarType::Float64,
        "float" => match mods.first() {
            Some(p) if *p <= 24 => ScalarType::Float32,
            _ => ScalarType::Float64,
        },
        "numeric" | "decimal" | "dec" => {
            // PostgreSQL's bounds; a declared precision above what the decimal engine
            // holds (28 digits) is accepted, as schemas written for other systems say
            // numeric(38, s): values are checked against the engine's limit as they come.
            let precision = mods.first().copied();
            if let Some(p) = precision {
                if p == 0 || p > NUMERIC_DECLARED_MAX_PRECISION {
                    return Err(PlanError::Datatype(format!(
                        "NUMERIC precision {p} must be between 1 and {NUMERIC_DECLARED_MAX_PRECISION}"
                    )));
                }
            }
            let scale = match (precision, mods.get(1).copied()) {
                (Some(_), None) => Some(0),
                (_, s) => s,
            };
            if let (Some(p), Some(s)) = (precision, scale) {
                if s > p {
                    return Err(PlanError::Datatype(format!("NUMERIC scale {s} must be between 0 and precision {p}")));
                }
            }
            if let Some(s) = scale.filter(|&s| s > eddy_repr::scalar::NUMERIC_MAX_PRECISION) {
                return Err(PlanError::Unsupported(format!(
                    "NUMERIC scale {s} (Eddy's numeric keeps at most {} digits after the point)",
                    eddy_repr::scalar::NUMERIC_MAX_PRECISION
                )));
            }
            ScalarType::Numeric { precision, scale }
        }
        "text" | "string" | "name" => ScalarType::Text,
        "varchar" | "character varying" | "char varying" => ScalarType::Varchar { max_length: mods.first().copied() },
        "char" | "character" | "bpchar" => ScalarType::Char { length: Some(mods.first().copied().unwrap_or(1)) },
        "bytea" => ScalarType::Bytea,
        "date" => ScalarType::Date,
        // PostgreSQL reduces a precision above 6 to 6 (with a warning).
        "time" | "time without time zone" => ScalarType::Time { precision: fraction_digits(&mods) },
        "timestamp" | "timestamp without time zone" => ScalarType::Timestamp { precision: fraction_digits(&mods) },
        "timestamptz" | "timestamp with time zone" => ScalarType::TimestampTz { precision: fraction_digits(&mods) },
        "interval" => ScalarType::Interval,
        "jsonb" => ScalarType::Jsonb,
        "json" => ScalarType::Json,
        "uuid" => ScalarType::Uuid,
        _ => return Err(PlanError::UnknownType(text.trim().to_string())),
    };
    Ok(ty)
}

/// The fractional-second digits of `time(p)` / `timestamp(p)`, at most 6.
fn fraction_digits(mods: &[u32]) -> Option<u8> {
    mods.first().map(|&p| p.min(6) as u8)
}

/// The type PostgreSQL resolves for UNION, CASE, COALESCE and VALUES columns
/// (`select_common_type`, in expr's resolver): unknowns take the others' type, text if
/// all are unknown.
pub fn common_type(types: &[Option<ScalarType>], context: &str) -> Result<ScalarType, PlanError> {
    eddy_expr::func::common_type(types, context).map_err(PlanError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_spellings() {
        assert_eq!(
            parse_type_name("NUMERIC(10,2)").unwrap(),
            ScalarType::Numeric { precision: Some(10), scale: Some(2) }
        );
        assert_eq!(parse_type_name("double precision").unwrap(), ScalarType::Float64);
        assert_eq!(parse_type_name("TIMESTAMP WITH TIME ZONE").unwrap(), ScalarType::timestamptz());
        assert_eq!(parse_type_name("varchar(3)").unwrap(), ScalarType::Varchar { max_length: Some(3) });
        assert!(parse_type_name("blob").is_err());
    }

    #[test]
    fn common_type_widens() {
        let t = common_type(&[Some(ScalarType::Int32), None, Some(ScalarType::numeric())], "UNION").unwrap();
        assert_eq!(t, ScalarType::numeric());
        assert_eq!(common_type(&[None, None], "CASE").unwrap(), ScalarType::Text);
        assert!(common_type(&[Some(ScalarType::Int32), Some(ScalarType::Date)], "UNION").is_err());
    }
}
