//! `Row`: one tuple of datums, the unit of data in every collection.

use serde::{Deserialize, Serialize};
use std::ops::Deref;

use crate::Datum;

/// A tuple of [`Datum`]s. Rows are compared and hashed column by column.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Row(Vec<Datum>);

impl Row {
    pub fn new(datums: Vec<Datum>) -> Self {
        Row(datums)
    }

    /// Bytes the row takes in memory: itself, its datums and what they hold.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Row>()
            + self.0.capacity() * std::mem::size_of::<Datum>()
            + self.0.iter().map(Datum::heap_bytes).sum::<usize>()
    }

    pub fn empty() -> Self {
        Row(Vec::new())
    }

    pub fn into_datums(self) -> Vec<Datum> {
        self.0
    }

    /// A new row holding the datums at `columns`, in that order.
    pub fn project(&self, columns: &[usize]) -> Row {
        Row(columns.iter().map(|&c| self.0[c].clone()).collect())
    }

    /// A new row with `other`'s datums after this row's.
    pub fn concat(&self, other: &Row) -> Row {
        let mut datums = Vec::with_capacity(self.0.len() + other.0.len());
        datums.extend_from_slice(&self.0);
        datums.extend_from_slice(&other.0);
        Row(datums)
    }

    pub fn push(&mut self, datum: Datum) {
        self.0.push(datum)
    }

    /// A hash of the row, the same on every worker (for spreading rows over buckets).
    pub fn hashed(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        self.hash(&mut hasher);
        hasher.finish()
    }

    /// True if some value in the row can have SQL-equal twins written differently
    /// ([`Datum::has_twins`]).
    pub fn has_twins(&self) -> bool {
        self.0.iter().any(Datum::has_twins)
    }

    /// The row with every value replaced by its SQL representative
    /// ([`Datum::sql_normalized`]): the key to group or match SQL-equal rows by.
    pub fn sql_normalized(mut self) -> Row {
        for d in self.0.iter_mut().filter(|d| d.has_twins()) {
            *d = d.sql_normalized();
        }
        self
    }
}

impl Deref for Row {
    type Target = [Datum];
    fn deref(&self) -> &[Datum] {
        &self.0
    }
}

impl From<Vec<Datum>> for Row {
    fn from(datums: Vec<Datum>) -> Self {
        Row(datums)
    }
}

impl FromIterator<Datum> for Row {
    fn from_iter<I: IntoIterator<Item = Datum>>(iter: I) -> Self {
        Row(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_bytes_count_the_datums_and_what_they_hold() {
        let ints = Row::new(vec![Datum::Int64(1), Datum::Int64(2)]);
        let base = std::mem::size_of::<Row>() + 2 * std::mem::size_of::<Datum>();
        assert_eq!(ints.bytes(), base);
        let text = Row::new(vec![Datum::Int64(1), Datum::Text("x".repeat(100))]);
        assert!(text.bytes() >= base + 100);
    }
}
