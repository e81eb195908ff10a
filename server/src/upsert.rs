//! `INSERT ... ON CONFLICT`: the proposed rows meet the table's unique keys one at a time,
//! in order, as PostgreSQL takes them, and become inserts, updates of the rows they
//! conflict with, or nothing.

use std::collections::{HashMap, HashSet};

use eddy_expr::eval::Collection;
use eddy_expr::{EvalError, Pipeline, RelationExpr};
use eddy_planner::{ConflictAction, ConflictTarget, OnConflict, PlanError, UniqueKey};
use eddy_repr::{Datum, GlobalId, Row};

use crate::coordinator::{is_leading, key_lookups, peek_error, Coordinator};
use crate::error::AdapterError;
use crate::session::Session;

impl Coordinator {
    /// The changes an INSERT of `proposed` with `on_conflict` makes to `table`, and the
    /// rows it inserted or updated (what RETURNING shows and the row count counts). Each
    /// proposed row has its `generated` (serial, identity) columns numbered just before its
    /// conflict is looked for, and an update's `SET c = DEFAULT` just after, which is the
    /// order PostgreSQL draws the numbers in.
    pub(crate) fn resolve_conflicts(
        &mut self,
        session: &Session,
        table: GlobalId,
        proposed: Collection,
        on_conflict: &OnConflict,
        generated: &[usize],
    ) -> Result<(Collection, Collection), AdapterError> {
        let entry =
            self.entries().get(&table).ok_or_else(|| AdapterError::Internal("the INSERT target is gone".into()))?;
        let keys = arbiter_keys(&entry.keys, &on_conflict.target, &entry.item.name)?;
        let all_rows = RelationExpr::get(table, entry.item.name.clone(), entry.item.desc.arity());
        // The table as this session sees it (the rows that may conflict), by the value of
        // each arbiter key.
        let mut by_key: Vec<HashMap<Row, Row>> = vec![HashMap::new(); keys.len()];
        // A key column numbered here has no proposed value to seek by.
        let numbered_key = keys.iter().any(|k| k.columns.iter().any(|c| generated.contains(c)));
        let candidates = if numbered_key {
            self.evaluate_now(session, &all_rows)?
        } else {
            self.conflict_candidates(session, table, &all_rows, &keys, &proposed)?
        };
        for (row, diff) in candidates {
            if diff > 0 {
                index(&mut by_key, &keys, &row);
            }
        }
        let mut changes = Vec::new();
        let mut written = Vec::new();
        // Rows this statement inserted or produced by an update: it may not touch them again.
        let mut touched: HashSet<Row> = HashSet::new();
        for (row, diff) in proposed {
            for _ in 0..diff.max(0) {
                let row = self.number_row(session, table, &row, generated)?;
                let conflict =
                    keys.iter().zip(&by_key).find_map(|(key, rows)| rows.get(&key_value(&row, key)?).cloned());
                match (conflict, &on_conflict.action) {
                    (None, _) => {
                        index(&mut by_key, &keys, &row);
                        changes.push((row.clone(), 1));
                        written.push((row.clone(), 1));
                        touched.insert(row.clone());
                    }
                    (Some(_), ConflictAction::Nothing) => {}
                    (Some(old), ConflictAction::Update { values, predicate, renumbered }) => {
                        if touched.contains(&old) {
                            return Err(AdapterError::Eval(EvalError::Cardinality(
                                "ON CONFLICT DO UPDATE command cannot affect row a second time".into(),
                            )));
                        }
                        let both: Vec<Datum> = old.iter().chain(row.iter()).cloned().collect();
                        if let Some(p) = predicate {
                            if p.eval(&both)? != Datum::Bool(true) {
                                continue;
                            }
                        }
                        // Columns set to DEFAULT come out NULL, for number_row to number.
                        let new = values.iter().map(|v| v.eval(&both)).collect::<Result<Row, _>>()?;
                        let new = self.number_row(session, table, &new, renumbered)?;
                        unindex(&mut by_key, &keys, &old);
                        index(&mut by_key, &keys, &new);
                        changes.push((old, -1));
                        changes.push((new.clone(), 1));
                        written.push((new.clone(), 1));
                        touched.insert(new);
                    }
                }
            }
        }
        Ok((changes, written))
    }

    /// The rows of `table` (all of which `all_rows` reads) that `proposed` may conflict
    /// with. With one arbiter key on the table's leading columns (a primary key declared
    /// first), those with a proposed key, found by seeks; otherwise, or when the session's transaction
    /// has written to the table, all of them. An update that moves a row onto a key not
    /// read here is caught by the unique check every write goes through.
    fn conflict_candidates(
        &self,
        session: &Session,
        table: GlobalId,
        all_rows: &RelationExpr,
        keys: &[UniqueKey],
        proposed: &Collection,
    ) -> Result<Collection, AdapterError> {
        let [key] = keys else { return self.evaluate_now(session, all_rows) };
        if !is_leading(key) || self.sees_pending(table, &session.pending_writes) {
            return self.evaluate_now(session, all_rows);
        }
        let proposed_keys: Vec<Row> = proposed.iter().filter_map(|(row, _)| key_value(row, key)).collect();
        let ranges = key_lookups(&proposed_keys);
        if ranges.is_empty() {
            return Ok(vec![]);
        }
        self.check_loaded(table)?;
        Ok(self.compute.peek(table, self.last_write, Pipeline::default(), ranges).map_err(peek_error)?)
    }
}

/// The unique keys an ON CONFLICT target names: all of them, the one on exactly the given
/// columns, or the named constraint.
fn arbiter_keys(keys: &[UniqueKey], target: &ConflictTarget, table: &str) -> Result<Vec<UniqueKey>, AdapterError> {
    let no_match = || {
        AdapterError::Plan(PlanError::InvalidColumnReference(
            "there is no unique or exclusion constraint matching the ON CONFLICT specification".into(),
        ))
    };
    match target {
        ConflictTarget::AnyKey => Ok(keys.to_vec()),
        ConflictTarget::Columns(columns) => {
            let same = |k: &&UniqueKey| {
                let mut mine = k.columns.clone();
                mine.sort_unstable();
                mine == *columns
            };
            keys.iter().find(same).cloned().map(|k| vec![k]).ok_or_else(no_match)
        }
        ConflictTarget::Constraint(name) => {
            keys.iter().find(|k| k.name == *name).cloned().map(|k| vec![k]).ok_or_else(|| {
                AdapterError::UndefinedObject(format!("constraint \"{name}\" for table \"{table}\" does not exist"))
            })
        }
    }
}

/// `row`'s value of `key`, as SQL compares it; `None` when a column is NULL (never a
/// conflict).
fn key_value(row: &Row, key: &UniqueKey) -> Option<Row> {
    let value = row.project(&key.columns);
    (!value.iter().any(Datum::is_null)).then(|| value.sql_normalized())
}

fn index(by_key: &mut [HashMap<Row, Row>], keys: &[UniqueKey], row: &Row) {
    for (key, rows) in keys.iter().zip(by_key) {
        if let Some(value) = key_value(row, key) {
            rows.insert(value, row.clone());
        }
    }
}

fn unindex(by_key: &mut [HashMap<Row, Row>], keys: &[UniqueKey], row: &Row) {
    for (key, rows) in keys.iter().zip(by_key) {
        if let Some(value) = key_value(row, key) {
            rows.remove(&value);
        }
    }
}
