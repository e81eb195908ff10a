//! serial and identity columns: each numbers the rows that leave it NULL with the next
//! value of a counter of its own, which values written into the column by hand do not
//! move (as PostgreSQL's sequences). Counters are stored with the next table write, so
//! after a restart numbering goes on after the last number handed out and never hands
//! out a deleted row's number again; ALTER TABLE carries them to the columns' new
//! positions. A table without a stored counter (written by a version that kept none)
//! numbers on from its column's largest value.

use std::collections::BTreeMap;

use eddy_expr::eval::Collection;
use eddy_expr::RelationExpr;
use eddy_repr::{Datum, GlobalId, Row, ScalarType};

use crate::coordinator::Coordinator;
use crate::error::AdapterError;
use crate::session::Session;

impl Coordinator {
    /// `rows` with a number in each of `columns` that holds NULL.
    pub(crate) fn number_rows(
        &mut self,
        session: &Session,
        table: GlobalId,
        rows: Collection,
        columns: &[usize],
    ) -> Result<Collection, AdapterError> {
        if columns.is_empty() || !rows.iter().any(|(r, _)| columns.iter().any(|&c| r[c].is_null())) {
            return Ok(rows);
        }
        let mut out = Vec::with_capacity(rows.len());
        for (row, diff) in rows {
            if !columns.iter().any(|&c| row[c].is_null()) {
                out.push((row, diff));
                continue;
            }
            for _ in 0..diff.max(0) {
                out.push((self.number_row(session, table, &row, columns)?, 1));
            }
        }
        Ok(out)
    }

    /// `row` with its NULL `columns` (serial and identity ones) given their next numbers.
    pub(crate) fn number_row(
        &mut self,
        session: &Session,
        table: GlobalId,
        row: &Row,
        columns: &[usize],
    ) -> Result<Row, AdapterError> {
        if !columns.iter().any(|&c| row[c].is_null()) {
            return Ok(row.clone());
        }
        let mut datums = row.to_vec();
        for &c in columns {
            if datums[c].is_null() {
                datums[c] = self.next_number(session, table, c)?;
            }
        }
        Ok(Row::new(datums))
    }

    /// A new table's counters start from nothing, as PostgreSQL's sequences do: numbers
    /// written into the column by hand do not move them.
    pub(crate) fn start_sequences(&mut self, table: GlobalId, defaults: &[Option<String>]) {
        for (column, default) in defaults.iter().enumerate() {
            if default.as_deref().is_some_and(eddy_planner::is_numbering) {
                self.sequences.insert((table, column), 0);
                self.unsaved_sequences.insert((table, column), 0);
            }
        }
    }

    /// ALTER TABLE: table `old`'s counters go to table `new` (itself, or the table that
    /// replaces it), each to its column's new position (`kept[new position]` is the old
    /// one), so that renumbered or retyped columns go on numbering where they were.
    pub(crate) fn move_sequences(
        &mut self,
        old: GlobalId,
        new: GlobalId,
        kept: &[Option<usize>],
    ) -> Result<(), AdapterError> {
        let mut last: BTreeMap<usize, i64> =
            self.store.sequences(old)?.into_iter().map(|(column, last)| (column as usize, last)).collect();
        last.extend(self.sequences.iter().filter(|((t, _), _)| *t == old).map(|(&(_, column), &v)| (column, v)));
        self.sequences.retain(|(t, _), _| *t != old);
        self.unsaved_sequences.retain(|(t, _), _| *t != old);
        for (position, was) in kept.iter().enumerate() {
            if let Some(&v) = was.and_then(|was| last.get(&was)) {
                self.sequences.insert((new, position), v);
                self.unsaved_sequences.insert((new, position), v);
            }
        }
        Ok(())
    }

    fn next_number(&mut self, session: &Session, table: GlobalId, column: usize) -> Result<Datum, AdapterError> {
        let entry = self.entries().get(&table).ok_or_else(|| AdapterError::Internal("the table is gone".into()))?;
        let (name, ty) = entry.item.desc.columns()[column].clone();
        let table_name = entry.item.name.clone();
        let arity = entry.item.desc.arity();
        let cached = self.sequences.get(&(table, column)).copied();
        let last = match cached {
            Some(last) => last,
            None => match self.store.sequences(table)?.get(&(column as u32)) {
                Some(&last) => last,
                // Written by a version that kept no counters.
                None => {
                    let rows = self.evaluate_now(session, &RelationExpr::get(table, table_name.clone(), arity))?;
                    rows.iter().filter(|(_, d)| *d > 0).filter_map(|(r, _)| r[column].as_i64()).max().unwrap_or(0)
                }
            },
        };
        let max = match ty.scalar_type {
            ScalarType::Int16 => i64::from(i16::MAX),
            ScalarType::Int32 => i64::from(i32::MAX),
            _ => i64::MAX,
        };
        if last >= max {
            return Err(AdapterError::InvalidParameterValue(format!(
                "nextval: reached maximum value of sequence \"{table_name}_{name}_seq\" ({max})"
            )));
        }
        let next = last + 1;
        self.sequences.insert((table, column), next);
        self.unsaved_sequences.insert((table, column), next);
        Ok(match ty.scalar_type {
            ScalarType::Int16 => Datum::Int16(next as i16),
            ScalarType::Int32 => Datum::Int32(next as i32),
            _ => Datum::Int64(next),
        })
    }
}
