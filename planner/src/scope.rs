//! Name scopes: which columns a query can see, under which table names.

use eddy_repr::{ColumnType, RelationDesc, ScalarType};

use crate::PlanError;

/// A column visible to expressions.
#[derive(Clone, Debug)]
pub struct ScopeColumn {
    /// The table name or alias that qualifies it, if any.
    pub table: Option<String>,
    pub name: String,
    pub ty: ScalarType,
    /// Only reachable as `table.name`: the join inputs' copies of a `USING` column.
    pub qualified_only: bool,
}

/// The columns of the relation an expression is evaluated against, in order.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub columns: Vec<ScopeColumn>,
}

impl Scope {
    pub fn from_desc(table: Option<&str>, desc: &RelationDesc) -> Self {
        Scope {
            columns: desc
                .columns()
                .iter()
                .map(|(name, ct)| ScopeColumn {
                    table: table.map(str::to_string),
                    name: name.clone(),
                    ty: ct.scalar_type.clone(),
                    qualified_only: false,
                })
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// This scope's columns followed by `other`'s.
    pub fn concat(&self, other: &Scope) -> Scope {
        let mut columns = self.columns.clone();
        columns.extend(other.columns.iter().cloned());
        Scope { columns }
    }

    /// Renames every column's qualifier (a table alias).
    pub fn with_table(mut self, table: &str) -> Scope {
        for c in &mut self.columns {
            c.table = Some(table.to_string());
        }
        self
    }

    /// Resolves `[table.]name` to a column position.
    pub fn resolve(&self, table: Option<&str>, name: &str) -> Result<usize, PlanError> {
        let mut found = None;
        for (i, c) in self.columns.iter().enumerate() {
            let hit = match table {
                Some(t) => c.table.as_deref() == Some(t) && c.name == name,
                None => !c.qualified_only && c.name == name,
            };
            if hit {
                if found.is_some() {
                    return Err(PlanError::AmbiguousColumn(name.to_string()));
                }
                found = Some(i);
            }
        }
        found.ok_or_else(|| match table {
            Some(t) if !self.columns.iter().any(|c| c.table.as_deref() == Some(t)) => {
                PlanError::UnknownRelation(format!("{t}\" in FROM clause; missing FROM-clause entry for table \"{t}"))
            }
            Some(t) => PlanError::UnknownQualifiedColumn(format!("{t}.{name}")),
            None => PlanError::UnknownColumn(name.to_string()),
        })
    }

    /// Positions `*` expands to (or `table.*`).
    pub fn expand_wildcard(&self, table: Option<&str>) -> Result<Vec<usize>, PlanError> {
        let cols: Vec<usize> = match table {
            None => (0..self.len()).filter(|&i| !self.columns[i].qualified_only).collect(),
            Some(t) => (0..self.len()).filter(|&i| self.columns[i].table.as_deref() == Some(t)).collect(),
        };
        if let (Some(t), true) = (table, cols.is_empty()) {
            return Err(PlanError::UnknownRelation(t.to_string()));
        }
        Ok(cols)
    }

    pub fn desc(&self) -> RelationDesc {
        RelationDesc::new(self.columns.iter().map(|c| (c.name.clone(), ColumnType::new(c.ty.clone(), true))).collect())
    }

    pub fn types(&self) -> Vec<ScalarType> {
        self.columns.iter().map(|c| c.ty.clone()).collect()
    }
}
