//! Sequences as PostgreSQL defines them: the options of `CREATE SEQUENCE` and `ALTER
//! SEQUENCE`, checked against each other and the data type with PostgreSQL's errors, and
//! the names `nextval('...')` and friends are given (as `regclass` reads them).

use eddy_repr::ScalarType;
use sqlparser::ast;

use crate::PlanError;

/// One option of CREATE or ALTER SEQUENCE, as written.
#[derive(Clone, Debug, PartialEq)]
pub enum SequenceOption {
    DataType(ScalarType),
    Increment(i64),
    /// `MINVALUE n`, or `NO MINVALUE` (None: the default for the direction).
    MinValue(Option<i64>),
    MaxValue(Option<i64>),
    Start(i64),
    /// `RESTART [WITH n]` (ALTER only; None: from the start value).
    Restart(Option<i64>),
    Cache(i64),
    Cycle(bool),
    /// `OWNED BY table.column`, or `OWNED BY NONE`.
    OwnedBy(Option<(String, String)>),
}

/// What a sequence hands out: `start`, then steps of `increment` within `min..=max`.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceSpec {
    pub data_type: ScalarType,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub start: i64,
    pub cache: i64,
    pub cycle: bool,
}

/// What applying options changed besides the spec.
#[derive(Debug, Default, PartialEq)]
pub struct SequenceChanges {
    /// `RESTART`: the value the next `nextval` returns.
    pub restart: Option<i64>,
    /// `OWNED BY`: the new owner (None inside: no owner).
    pub owned_by: Option<Option<(String, String)>>,
}

fn type_range(ty: &ScalarType) -> (i64, i64) {
    match ty {
        ScalarType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        ScalarType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN, i64::MAX),
    }
}

fn invalid(message: String) -> PlanError {
    PlanError::InvalidParameter(message)
}

impl SequenceSpec {
    /// A serial or identity column's counter: 1, 2, 3, ... up to its type's largest value.
    pub fn for_column(data_type: ScalarType) -> SequenceSpec {
        let max = type_range(&data_type).1;
        SequenceSpec { data_type, increment: 1, min: 1, max, start: 1, cache: 1, cycle: false }
    }

    /// `CREATE SEQUENCE ... options`.
    pub fn create(options: &[SequenceOption]) -> Result<(SequenceSpec, SequenceChanges), PlanError> {
        let mut spec = SequenceSpec::for_column(ScalarType::Int64);
        let changes = spec.apply(options, true)?;
        Ok((spec, changes))
    }

    /// `ALTER SEQUENCE ... options` over this spec. `creating`: bounds and start not
    /// given take their defaults for the direction and type.
    pub fn apply(&mut self, options: &[SequenceOption], creating: bool) -> Result<SequenceChanges, PlanError> {
        let mut changes = SequenceChanges::default();
        let old_range = type_range(&self.data_type);
        let (mut min, mut max) = if creating { (Some(None), Some(None)) } else { (None, None) };
        for option in options {
            match option {
                SequenceOption::DataType(ty) => {
                    if !matches!(ty, ScalarType::Int16 | ScalarType::Int32 | ScalarType::Int64) {
                        return Err(invalid("sequence type must be smallint, integer, or bigint".into()));
                    }
                    self.data_type = ty.clone();
                }
                SequenceOption::Increment(0) => return Err(invalid("INCREMENT must not be zero".into())),
                SequenceOption::Increment(i) => self.increment = *i,
                SequenceOption::MinValue(m) => min = Some(*m),
                SequenceOption::MaxValue(m) => max = Some(*m),
                SequenceOption::Start(s) => self.start = *s,
                SequenceOption::Restart(r) => changes.restart = Some(r.unwrap_or(self.start)),
                SequenceOption::Cache(c) if *c <= 0 => {
                    return Err(invalid(format!("CACHE ({c}) must be greater than zero")))
                }
                SequenceOption::Cache(c) => self.cache = *c,
                SequenceOption::Cycle(c) => self.cycle = *c,
                SequenceOption::OwnedBy(owner) => changes.owned_by = Some(owner.clone()),
            }
        }
        let (type_min, type_max) = type_range(&self.data_type);
        // A bound left at the old type's limit moves with the type (as PostgreSQL's ALTER
        // SEQUENCE ... AS does).
        let ascending = self.increment > 0;
        self.max = match max {
            Some(Some(m)) => m,
            Some(None) => {
                if ascending {
                    type_max
                } else {
                    -1
                }
            }
            None if !creating && self.max == old_range.1 => type_max,
            None => self.max,
        };
        self.min = match min {
            Some(Some(m)) => m,
            Some(None) => {
                if ascending {
                    1
                } else {
                    type_min
                }
            }
            None if !creating && self.min == old_range.0 => type_min,
            None => self.min,
        };
        let ty = self.data_type.to_string();
        if self.max < type_min || self.max > type_max {
            return Err(invalid(format!("MAXVALUE ({}) is out of range for sequence data type {ty}", self.max)));
        }
        if self.min < type_min || self.min > type_max {
            return Err(invalid(format!("MINVALUE ({}) is out of range for sequence data type {ty}", self.min)));
        }
        if self.min >= self.max {
            return Err(invalid(format!("MINVALUE ({}) must be less than MAXVALUE ({})", self.min, self.max)));
        }
        let start_given = options.iter().any(|o| matches!(o, SequenceOption::Start(_)));
        if creating && !start_given {
            self.start = if ascending { self.min } else { self.max };
        }
        if self.start < self.min {
            return Err(invalid(format!("START value ({}) cannot be less than MINVALUE ({})", self.start, self.min)));
        }
        if self.start > self.max {
            return Err(invalid(format!(
                "START value ({}) cannot be greater than MAXVALUE ({})",
                self.start, self.max
            )));
        }
        if let Some(r) = changes.restart {
            if r < self.min {
                return Err(invalid(format!("RESTART value ({r}) cannot be less than MINVALUE ({})", self.min)));
            }
            if r > self.max {
                return Err(invalid(format!("RESTART value ({r}) cannot be greater than MAXVALUE ({})", self.max)));
            }
        }
        Ok(changes)
    }

    /// The CREATE SEQUENCE statement that makes this sequence again.
    pub fn create_sql(&self, name: &str, owned_by: Option<(&str, &str)>) -> String {
        let mut sql = format!(
            "CREATE SEQUENCE {} AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}",
            qualified(name),
            self.data_type,
            self.increment,
            self.min,
            self.max,
            self.start,
            self.cache,
            if self.cycle { "CYCLE" } else { "NO CYCLE" }
        );
        if let Some((table, column)) = owned_by {
            sql.push_str(&format!(" OWNED BY {}.{}", qualified(table), crate::quote_ident(column)));
        }
        sql
    }
}

/// A catalog name (`t` or `schema.t`) quoted for SQL text.
pub fn qualified(name: &str) -> String {
    name.split('.').map(crate::quote_ident).collect::<Vec<_>>().join(".")
}

/// The catalog name of the sequence `text` names, read as `regclass` reads it: dotted
/// parts folded to lower case unless double-quoted, `public.` dropped.
pub fn catalog_name(text: &str) -> String {
    let mut parts = Vec::new();
    let mut chars = text.trim().chars().peekable();
    let mut part = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(q) = chars.next() {
                    if q == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    part.push(q);
                }
            }
            '.' => parts.push(std::mem::take(&mut part)),
            c => part.extend(c.to_lowercase()),
        }
    }
    parts.push(part);
    // database.schema.name: the database is this one.
    if parts.len() == 3 {
        parts.remove(0);
    }
    let name = parts.join(".");
    name.strip_prefix("public.").map(str::to_string).unwrap_or(name)
}

/// The name of the sequence a column default `nextval('name'::regclass)` draws from.
pub fn default_sequence(default_sql: &str) -> Option<String> {
    let rest = default_sql.strip_prefix("nextval('")?;
    let end = rest.find('\'')?;
    Some(catalog_name(&rest[..end]))
}

/// A default as written (`nextval('public.s')`, with or without `::regclass`) as
/// PostgreSQL shows it: `nextval('s'::regclass)`. Other defaults are returned as they are.
pub fn numbering_default(default_sql: &str) -> String {
    match default_sequence(default_sql) {
        Some(name) if default_sql.starts_with("nextval(") && !default_sql.contains("||") => {
            format!("nextval('{}'::regclass)", qualified(&name).replace('\'', "''"))
        }
        _ => default_sql.to_string(),
    }
}

fn number(e: &ast::Expr) -> Result<i64, PlanError> {
    let text = e.to_string();
    text.parse::<i64>().map_err(|_| invalid(format!("sequence option value {text} is not a bigint")))
}

/// CREATE SEQUENCE's options as sqlparser read them.
pub(crate) fn options_of(options: &[ast::SequenceOptions]) -> Result<Vec<SequenceOption>, PlanError> {
    options
        .iter()
        .map(|o| {
            Ok(match o {
                ast::SequenceOptions::DataType(t) => {
                    SequenceOption::DataType(crate::types::parse_type_name(&t.to_string())?)
                }
                ast::SequenceOptions::IncrementBy(e, _) => SequenceOption::Increment(number(e)?),
                ast::SequenceOptions::MinValue(e) => SequenceOption::MinValue(e.as_ref().map(number).transpose()?),
                ast::SequenceOptions::MaxValue(e) => SequenceOption::MaxValue(e.as_ref().map(number).transpose()?),
                ast::SequenceOptions::StartWith(e, _) => SequenceOption::Start(number(e)?),
                ast::SequenceOptions::Cache(e) => SequenceOption::Cache(number(e)?),
                ast::SequenceOptions::Cycle(no) => SequenceOption::Cycle(!no),
                ast::SequenceOptions::OwnedBy(owner) => {
                    SequenceOption::OwnedBy(owner.as_ref().map(owner_of).transpose()?)
                }
            })
        })
        .collect()
}

/// `OWNED BY table.column` as (table, column).
pub(crate) fn owner_of(name: &ast::ObjectName) -> Result<(String, String), PlanError> {
    let full = crate::expr::object_name(name);
    match full.rsplit_once('.') {
        Some((table, column)) => {
            Ok((table.strip_prefix("public.").map(str::to_string).unwrap_or(table.to_string()), column.to_string()))
        }
        None => Err(invalid("invalid OWNED BY option: specify OWNED BY table.column or OWNED BY NONE".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_direction_and_type() {
        let (asc, _) = SequenceSpec::create(&[]).unwrap();
        assert_eq!((asc.min, asc.max, asc.start), (1, i64::MAX, 1));
        let (desc, _) =
            SequenceSpec::create(&[SequenceOption::Increment(-2), SequenceOption::DataType(ScalarType::Int16)])
                .unwrap();
        assert_eq!((desc.min, desc.max, desc.start), (-32768, -1, -1));
        let (int, _) = SequenceSpec::create(&[SequenceOption::DataType(ScalarType::Int32)]).unwrap();
        assert_eq!(int.max, i64::from(i32::MAX));
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        let err = |o: &[SequenceOption]| SequenceSpec::create(o).unwrap_err().to_string();
        assert!(err(&[SequenceOption::Increment(0)]).contains("INCREMENT must not be zero"));
        assert!(err(&[SequenceOption::MinValue(Some(5)), SequenceOption::MaxValue(Some(5))])
            .contains("MINVALUE (5) must be less than MAXVALUE (5)"));
        assert!(err(&[SequenceOption::Start(0)]).contains("START value (0) cannot be less than MINVALUE (1)"));
        assert!(err(&[SequenceOption::DataType(ScalarType::Int16), SequenceOption::MaxValue(Some(40000))])
            .contains("MAXVALUE (40000) is out of range for sequence data type smallint"));
    }

    #[test]
    fn alter_keeps_what_is_not_given_and_moves_type_limits() {
        let (mut spec, _) = SequenceSpec::create(&[SequenceOption::DataType(ScalarType::Int32)]).unwrap();
        let changes = spec
            .apply(&[SequenceOption::DataType(ScalarType::Int64), SequenceOption::Restart(Some(10))], false)
            .unwrap();
        assert_eq!((spec.max, changes.restart), (i64::MAX, Some(10)));
        assert!(spec.apply(&[SequenceOption::MinValue(Some(5))], false).is_err(), "start 1 below the new minimum");
    }

    #[test]
    fn names_read_as_regclass() {
        assert_eq!(catalog_name("public.T_id_seq"), "t_id_seq");
        assert_eq!(catalog_name("\"My Seq\""), "My Seq");
        assert_eq!(catalog_name("s.\"X\""), "s.X");
        assert_eq!(default_sequence("nextval('public.t_id_seq'::regclass)").as_deref(), Some("t_id_seq"));
        assert_eq!(numbering_default("nextval('public.T_seq')"), "nextval('t_seq'::regclass)");
        assert_eq!(numbering_default("nextval('\"Odd\"')"), "nextval('\"Odd\"'::regclass)");
    }
}
