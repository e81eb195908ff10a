//! `RelationDesc`: the names and types of a relation's columns.

use serde::{Deserialize, Serialize};

use crate::ScalarType;

/// The type of one column: its scalar type and whether it may hold NULL.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ColumnType {
    pub scalar_type: ScalarType,
    pub nullable: bool,
}

impl ColumnType {
    pub fn new(scalar_type: ScalarType, nullable: bool) -> Self {
        ColumnType { scalar_type, nullable }
    }
}

/// Column names and types of a relation, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RelationDesc {
    columns: Vec<(String, ColumnType)>,
}

impl RelationDesc {
    pub fn new(columns: Vec<(String, ColumnType)>) -> Self {
        RelationDesc { columns }
    }

    pub fn arity(&self) -> usize {
        self.columns.len()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|(n, _)| n.as_str())
    }

    pub fn types(&self) -> impl Iterator<Item = &ColumnType> {
        self.columns.iter().map(|(_, t)| t)
    }

    pub fn columns(&self) -> &[(String, ColumnType)] {
        &self.columns
    }

    /// Position of the column called `name`, if any.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|(n, _)| n == name)
    }
}
