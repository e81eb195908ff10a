//! FOREIGN KEY constraints (`MATCH SIMPLE`): a row written to a referencing table whose
//! key columns are all non-NULL needs a row with that key in the referenced table, and
//! a referenced key cannot go while rows still reference it, unless a DELETE removes it
//! and the key says `ON DELETE CASCADE` (the referencing rows are deleted in the same
//! write) or `SET NULL`, or an UPDATE changes it and the key says `ON UPDATE CASCADE`
//! (the referencing rows take the new key) or `SET NULL`. Checked after each statement against the committed rows plus the
//! transaction's writes so far (`DEFERRABLE INITIALLY DEFERRED` ones at COMMIT), and
//! again at COMMIT, with PostgreSQL's messages (23503).
//!
//! Each foreign key is a catalog object of its own, stored as the `ALTER TABLE ... ADD
//! CONSTRAINT` that makes it and replayed after every table, so a key may reference a
//! table created after the one it is on (as pg_dump's scripts do).

use std::collections::{BTreeMap, HashMap};

use eddy_expr::eval::Collection;
use eddy_expr::{KeyRange, Pipeline, RowOp};
use eddy_planner::sequence::qualified;
use eddy_planner::{ForeignKeySpec, ItemKind, PlanError, ReferentialAction};
use eddy_repr::{Datum, Diff, GlobalId, Row, ScalarType};

use crate::coordinator::{describe_key, key_lookups, peek_error, Coordinator};
use crate::error::AdapterError;
use crate::session::Session;

/// A declared foreign key: `child.columns` reference `parent.parent_columns`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ForeignKey {
    pub name: String,
    pub child: GlobalId,
    pub columns: Vec<usize>,
    pub parent: GlobalId,
    pub parent_columns: Vec<usize>,
    pub deferred: bool,
    pub on_delete: ReferentialAction,
    pub on_update: ReferentialAction,
}

impl ForeignKey {
    /// Its actions as PostgreSQL's `pg_get_constraintdef` writes them.
    fn actions(&self) -> String {
        let action = |a: ReferentialAction| match a {
            ReferentialAction::Refuse => None,
            ReferentialAction::Cascade => Some("CASCADE"),
            ReferentialAction::SetNull => Some("SET NULL"),
        };
        let mut out = String::new();
        if let Some(a) = action(self.on_update) {
            out.push_str(&format!(" ON UPDATE {a}"));
        }
        if let Some(a) = action(self.on_delete) {
            out.push_str(&format!(" ON DELETE {a}"));
        }
        out
    }
}

/// `pg_constraint.confupdtype` / `confdeltype`.
fn action_code(a: ReferentialAction) -> &'static str {
    match a {
        ReferentialAction::Refuse => "a",
        ReferentialAction::Cascade => "c",
        ReferentialAction::SetNull => "n",
    }
}

/// Keys compare as SQL compares them: integers of any width alike, numerics whatever
/// their scale.
fn comparable(key: &Row) -> Row {
    Row::new(
        key.iter()
            .map(|d| match d {
                Datum::Int16(i) => Datum::Int64(i64::from(*i)),
                Datum::Int32(i) => Datum::Int64(i64::from(*i)),
                other => other.clone(),
            })
            .collect(),
    )
    .sql_normalized()
}

/// `cols` of `desc`, quoted and comma-separated.
fn column_names(desc: &eddy_repr::RelationDesc, cols: &[usize]) -> String {
    cols.iter().map(|&c| eddy_planner::quote_ident(&desc.columns()[c].0)).collect::<Vec<_>>().join(", ")
}

/// `row`'s key on `columns`, unless one of them is NULL (MATCH SIMPLE: no check).
fn key_of(row: &Row, columns: &[usize]) -> Option<Row> {
    let key = row.project(columns);
    (!key.iter().any(Datum::is_null)).then_some(key)
}

/// A referenced key's value for a referencing column, whose integer width may differ.
fn as_column_type(value: &Datum, ty: &ScalarType) -> Result<Datum, AdapterError> {
    let out_of_range =
        |what: &str| AdapterError::Eval(eddy_expr::EvalError::OutOfRange(format!("{what} out of range")));
    Ok(match (value.as_i64(), ty) {
        (Some(i), ScalarType::Int16) => Datum::Int16(i16::try_from(i).map_err(|_| out_of_range("smallint"))?),
        (Some(i), ScalarType::Int32) => Datum::Int32(i32::try_from(i).map_err(|_| out_of_range("integer"))?),
        (Some(i), ScalarType::Int64) => Datum::Int64(i),
        _ => value.clone(),
    })
}

/// The keys on `columns` of the rows `rows` adds (`added`) or removes, by their
/// comparable form, as written.
fn changed_keys(rows: &Collection, columns: &[usize], added: bool) -> BTreeMap<Row, Row> {
    (rows.iter().filter(|(_, d)| if added { *d > 0 } else { *d < 0 }))
        .filter_map(|(row, _)| key_of(row, columns).map(|k| (comparable(&k), k)))
        .collect()
}

fn integer(ty: &ScalarType) -> bool {
    matches!(ty, ScalarType::Int16 | ScalarType::Int32 | ScalarType::Int64)
}

impl Coordinator {
    /// Adds foreign keys to table `child`, checking them against the catalog and (unless
    /// restoring) the rows already there.
    pub(crate) fn add_foreign_keys(
        &mut self,
        session: &Session,
        child: GlobalId,
        specs: Vec<ForeignKeySpec>,
    ) -> Result<(), AdapterError> {
        let mut added = Vec::new();
        for spec in specs {
            let fk = self.resolve_foreign_key(child, spec, &added)?;
            if !self.restoring {
                let rows = self.evaluate_now(
                    session,
                    &eddy_expr::RelationExpr::get(child, self.entries[&child].item.name.clone(), self.arity(child)),
                )?;
                self.check_child_rows(&fk, &rows, &[])?;
            }
            added.push(fk);
        }
        for fk in added {
            let id = self.allocate_id();
            self.foreign_keys.insert(id, fk);
        }
        Ok(())
    }

    fn arity(&self, id: GlobalId) -> usize {
        self.entries.get(&id).map_or(0, |e| e.item.desc.arity())
    }

    fn resolve_foreign_key(
        &self,
        child: GlobalId,
        spec: ForeignKeySpec,
        added: &[ForeignKey],
    ) -> Result<ForeignKey, AdapterError> {
        let child_entry = &self.entries[&child];
        let child_name = child_entry.item.name.clone();
        let parent_id = *self.names.get(&spec.parent).ok_or_else(|| PlanError::UnknownRelation(spec.parent.clone()))?;
        let parent = &self.entries[&parent_id];
        if parent.item.kind != ItemKind::Table {
            return Err(AdapterError::WrongObjectType(
                format!("referenced relation \"{}\" is not a table", spec.parent),
                String::new(),
            ));
        }
        let position = |desc: &eddy_repr::RelationDesc, name: &str| {
            desc.columns().iter().position(|(n, _)| n == name).ok_or_else(|| {
                AdapterError::Plan(PlanError::UnknownQualifiedColumn(format!(
                    "\"{name}\" referenced in foreign key constraint"
                )))
            })
        };
        let columns =
            spec.columns.iter().map(|c| position(&child_entry.item.desc, c)).collect::<Result<Vec<_>, _>>()?;
        let parent_columns = if spec.parent_columns.is_empty() {
            let primary = parent.keys.iter().find(|k| k.primary).ok_or_else(|| {
                AdapterError::InvalidForeignKey(format!(
                    "there is no primary key for referenced table \"{}\"",
                    spec.parent
                ))
            })?;
            primary.columns.clone()
        } else {
            spec.parent_columns.iter().map(|c| position(&parent.item.desc, c)).collect::<Result<Vec<_>, _>>()?
        };
        if columns.len() != parent_columns.len() {
            return Err(AdapterError::InvalidForeignKey(
                "number of referencing and referenced columns for foreign key disagree".into(),
            ));
        }
        let mut wanted = parent_columns.clone();
        wanted.sort_unstable();
        let unique = parent.keys.iter().any(|k| {
            let mut have = k.columns.clone();
            have.sort_unstable();
            have == wanted
        });
        if !unique {
            return Err(AdapterError::InvalidForeignKey(format!(
                "there is no unique constraint matching given keys for referenced table \"{}\"",
                spec.parent
            )));
        }
        let short = child_name.rsplit('.').next().unwrap_or(&child_name);
        let name = spec.name.unwrap_or_else(|| format!("{short}_{}_fkey", spec.columns.join("_")));
        for (&c, &p) in columns.iter().zip(&parent_columns) {
            let (cname, cty) = &child_entry.item.desc.columns()[c];
            let (pname, pty) = &parent.item.desc.columns()[p];
            let (ct, pt) = (cty.scalar_type.without_modifiers(), pty.scalar_type.without_modifiers());
            if ct != pt && !(integer(&ct) && integer(&pt)) {
                return Err(AdapterError::ForeignKeyTypes {
                    name,
                    detail: format!(
                        "Key columns \"{cname}\" and \"{pname}\" are of incompatible types: {ct} and {pt}."
                    ),
                });
            }
        }
        let taken = child_entry.keys.iter().map(|k| &k.name).chain(child_entry.checks.iter().map(|c| &c.name));
        let taken_by_key = self.foreign_keys.values().chain(added).any(|f| f.child == child && f.name == name);
        if taken_by_key || taken.into_iter().any(|n| *n == name) {
            return Err(PlanError::DuplicateObject(format!(
                "constraint \"{name}\" for relation \"{child_name}\" already exists"
            ))
            .into());
        }
        Ok(ForeignKey {
            name,
            child,
            columns,
            parent: parent_id,
            parent_columns,
            deferred: spec.deferred,
            on_delete: spec.on_delete,
            on_update: spec.on_update,
        })
    }

    /// Checks the foreign keys `changed` tables take part in, with `seen` (the
    /// transaction's writes, these included) on top of the committed rows. Deferred keys
    /// wait for COMMIT inside a transaction block.
    pub(crate) fn check_references(
        &self,
        changed: &[(GlobalId, &Collection)],
        seen: &[(GlobalId, &Collection)],
        session: &Session,
        at_commit: bool,
    ) -> Result<(), AdapterError> {
        for fk in self.foreign_keys.values() {
            if fk.deferred && session.in_transaction && !at_commit {
                continue;
            }
            for (table, rows) in changed {
                if *table == fk.child {
                    self.check_child_rows(fk, rows, seen)?;
                }
                if *table == fk.parent {
                    self.check_parent_rows(fk, rows, seen)?;
                }
            }
        }
        Ok(())
    }

    /// Every key the written `rows` of `fk`'s child reference must be in its parent.
    fn check_child_rows(
        &self,
        fk: &ForeignKey,
        rows: &Collection,
        seen: &[(GlobalId, &Collection)],
    ) -> Result<(), AdapterError> {
        let wanted = changed_keys(rows, &fk.columns, true);
        let present = self.key_counts(fk.parent, &fk.parent_columns, (fk.child, &fk.columns), &wanted, seen)?;
        match wanted.iter().find(|(k, _)| present.get(*k).copied().unwrap_or(0) <= 0) {
            Some((_, written)) => {
                let child = &self.entries[&fk.child].item;
                Err(AdapterError::ForeignKeyViolation {
                    message: format!(
                        "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                        child.name, fk.name
                    ),
                    detail: format!(
                        "{} is not present in table \"{}\".",
                        describe_key(&child.desc, &fk.columns, written),
                        self.entries[&fk.parent].item.name
                    ),
                })
            }
            None => Ok(()),
        }
    }

    /// The keys of `fk`'s parent that its changed `rows` removed and that no row of it
    /// has any more (committed rows plus `seen`): comparable form -> as written.
    fn keys_gone(
        &self,
        fk: &ForeignKey,
        rows: &Collection,
        seen: &[(GlobalId, &Collection)],
    ) -> Result<BTreeMap<Row, Row>, AdapterError> {
        let removed = changed_keys(rows, &fk.parent_columns, false);
        let parent_key = (fk.parent, fk.parent_columns.as_slice());
        let left = self.key_counts(fk.parent, &fk.parent_columns, parent_key, &removed, seen)?;
        Ok(removed.into_iter().filter(|(k, _)| left.get(k).copied().unwrap_or(0) <= 0).collect())
    }

    /// A key the parent's `rows` removed (and that no other row of it still has) must not
    /// be referenced any more.
    fn check_parent_rows(
        &self,
        fk: &ForeignKey,
        rows: &Collection,
        seen: &[(GlobalId, &Collection)],
    ) -> Result<(), AdapterError> {
        let gone = self.keys_gone(fk, rows, seen)?;
        let referencing = self.key_counts(fk.child, &fk.columns, (fk.parent, &fk.parent_columns), &gone, seen)?;
        match gone.iter().find(|(k, _)| referencing.get(*k).copied().unwrap_or(0) > 0) {
            Some((_, key)) => {
                let parent = &self.entries[&fk.parent].item;
                let child = &self.entries[&fk.child].item;
                Err(AdapterError::ForeignKeyViolation {
                    message: format!(
                        "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
                        parent.name, fk.name, child.name
                    ),
                    detail: format!(
                        "{} is still referenced from table \"{}\".",
                        describe_key(&parent.desc, &fk.parent_columns, key),
                        child.name
                    ),
                })
            }
            None => Ok(()),
        }
    }

    /// How many rows of `table` have each of `keys` (comparable form -> as written, in
    /// the columns `from_columns` of `from`) in `columns`, committed ones plus `seen`.
    fn key_counts(
        &self,
        table: GlobalId,
        columns: &[usize],
        from: (GlobalId, &[usize]),
        keys: &BTreeMap<Row, Row>,
        seen: &[(GlobalId, &Collection)],
    ) -> Result<HashMap<Row, Diff>, AdapterError> {
        let rows = self.rows_with_keys(table, columns, from, keys, seen, true)?;
        Ok(rows.into_iter().map(|(key, n)| (comparable(&key), n)).collect())
    }

    /// The rows of `table` (committed ones plus `seen`, netted) whose `columns` hold one of
    /// `keys` (see [`Self::key_counts`]), or with `project`, just those columns. The
    /// committed rows are sought when the columns lead the table and have the types of
    /// the columns the keys come from.
    fn rows_with_keys(
        &self,
        table: GlobalId,
        columns: &[usize],
        (from, from_columns): (GlobalId, &[usize]),
        keys: &BTreeMap<Row, Row>,
        seen: &[(GlobalId, &Collection)],
        project: bool,
    ) -> Result<Vec<(Row, Diff)>, AdapterError> {
        if keys.is_empty() {
            return Ok(vec![]);
        }
        self.check_loaded(table)?;
        let types = |id: GlobalId, cols: &[usize]| -> Vec<ScalarType> {
            let desc = &self.entries[&id].item.desc;
            cols.iter().map(|&c| desc.columns()[c].1.scalar_type.without_modifiers()).collect()
        };
        let leading = columns.iter().enumerate().all(|(i, c)| i == *c);
        let ranges = if leading && types(table, columns) == types(from, from_columns) {
            let sought: Vec<Row> = keys.values().map(|k| k.clone().sql_normalized()).collect();
            key_lookups(sought.iter())
        } else {
            vec![KeyRange::default()]
        };
        let ops = if project { vec![RowOp::Project(columns.to_vec())] } else { vec![] };
        let key_columns: Vec<usize> = if project { (0..columns.len()).collect() } else { columns.to_vec() };
        let committed = self.compute.peek(table, self.last_write, Pipeline { ops, reduce: None }, ranges);
        let pending = seen.iter().filter(|(t, _)| *t == table).flat_map(|(_, rows)| rows.iter());
        let pending = pending.map(|(row, d)| (if project { row.project(columns) } else { row.clone() }, *d));
        let mut net: HashMap<Row, Diff> = HashMap::new();
        for (row, diff) in committed.map_err(peek_error)?.into_iter().chain(pending) {
            if key_of(&row, &key_columns).is_some_and(|k| keys.contains_key(&comparable(&k))) {
                *net.entry(row).or_default() += diff;
            }
        }
        Ok(net.into_iter().filter(|(_, n)| *n != 0).collect())
    }

    /// A DELETE's `writes` (its own first) with what it does through foreign keys
    /// `ON DELETE CASCADE` (the referencing rows deleted, and so on down) and `SET NULL`
    /// (their referencing columns set to NULL), each a write of its own.
    pub(crate) fn cascade_deletes(
        &self,
        pending: &[(GlobalId, Collection)],
        writes: &mut Vec<(GlobalId, Collection)>,
    ) -> Result<(), AdapterError> {
        let mut next = 0;
        while next < writes.len() {
            let table = writes[next].0;
            let mut caused = Vec::new();
            for fk in
                self.foreign_keys.values().filter(|fk| fk.parent == table && fk.on_delete != ReferentialAction::Refuse)
            {
                let seen: Vec<(GlobalId, &Collection)> =
                    pending.iter().chain(writes.iter()).chain(caused.iter()).map(|(t, c)| (*t, c)).collect();
                let gone = self.keys_gone(fk, &writes[next].1, &seen)?;
                let parent_key = (table, fk.parent_columns.as_slice());
                let referencing = self.rows_with_keys(fk.child, &fk.columns, parent_key, &gone, &seen, false)?;
                let referencing = referencing.into_iter().filter(|(_, n)| *n > 0);
                let changes: Collection = match fk.on_delete {
                    ReferentialAction::SetNull => {
                        let mut changes = Vec::new();
                        for (row, n) in referencing {
                            let mut datums = row.to_vec();
                            for &c in &fk.columns {
                                datums[c] = Datum::Null;
                            }
                            changes.push((row, -n));
                            changes.push((Row::new(datums), n));
                        }
                        self.check_table_rows(fk.child, changes)?
                    }
                    _ => referencing.map(|(row, n)| (row, -n)).collect(),
                };
                if !changes.is_empty() {
                    caused.push((fk.child, changes));
                }
            }
            writes.extend(caused);
            next += 1;
        }
        Ok(())
    }

    /// Whether a foreign key into `table` acts when an UPDATE changes its key.
    pub(crate) fn cascades_updates(&self, table: GlobalId) -> bool {
        self.foreign_keys.values().any(|fk| fk.parent == table && fk.on_update != ReferentialAction::Refuse)
    }

    /// An UPDATE's `writes` (its own first; `pairs` are its rows before and after) with
    /// what foreign keys `ON UPDATE CASCADE | SET NULL` make it do to the rows referencing
    /// a key it changed: they take the new key (or NULLs), and so on down, each a write
    /// of its own.
    pub(crate) fn cascade_updates(
        &self,
        pending: &[(GlobalId, Collection)],
        writes: &mut Vec<(GlobalId, Collection)>,
        pairs: Vec<(Row, Row)>,
    ) -> Result<(), AdapterError> {
        let Some(&(table, _)) = writes.first() else { return Ok(()) };
        let mut queue = vec![(table, pairs)];
        while let Some((table, pairs)) = queue.pop() {
            let acting = self.foreign_keys.values().filter(|fk| fk.parent == table);
            for fk in acting.filter(|fk| fk.on_update != ReferentialAction::Refuse) {
                // Each changed key (comparable form) as it was written, and what it became.
                let mut moved: BTreeMap<Row, Row> = BTreeMap::new();
                let mut became: HashMap<Row, Row> = HashMap::new();
                for (old, new) in &pairs {
                    let Some(old_key) = key_of(old, &fk.parent_columns) else { continue };
                    let new_key = new.project(&fk.parent_columns);
                    let old_comparable = comparable(&old_key);
                    if old_comparable != comparable(&new_key) {
                        became.insert(old_comparable.clone(), new_key);
                        moved.insert(old_comparable, old_key);
                    }
                }
                let seen: Vec<(GlobalId, &Collection)> =
                    pending.iter().chain(writes.iter()).map(|(t, c)| (*t, c)).collect();
                let parent_key = (table, fk.parent_columns.as_slice());
                let referencing = self.rows_with_keys(fk.child, &fk.columns, parent_key, &moved, &seen, false)?;
                let child_desc = &self.entries[&fk.child].item.desc;
                let (mut changes, mut child_pairs) = (Vec::new(), Vec::new());
                for (row, n) in referencing.into_iter().filter(|(_, n)| *n > 0) {
                    let Some(new_key) = key_of(&row, &fk.columns).and_then(|k| became.get(&comparable(&k))) else {
                        continue;
                    };
                    let mut datums = row.to_vec();
                    for (&c, value) in fk.columns.iter().zip(new_key.iter()) {
                        datums[c] = match fk.on_update {
                            ReferentialAction::SetNull => Datum::Null,
                            _ => as_column_type(value, &child_desc.columns()[c].1.scalar_type)?,
                        };
                    }
                    let updated = Row::new(datums);
                    changes.push((row.clone(), -n));
                    changes.push((updated.clone(), n));
                    child_pairs.push((row, updated));
                }
                if !changes.is_empty() {
                    writes.push((fk.child, self.check_table_rows(fk.child, changes)?));
                    queue.push((fk.child, child_pairs));
                }
            }
        }
        Ok(())
    }

    /// Foreign keys from other tables than `tables` to any of `tables`.
    pub(crate) fn references_into(&self, tables: &[GlobalId]) -> Vec<(GlobalId, &ForeignKey)> {
        (self.foreign_keys.iter())
            .filter(|(_, fk)| tables.contains(&fk.parent) && !tables.contains(&fk.child))
            .map(|(&id, fk)| (id, fk))
            .collect()
    }

    /// Table `table` is gone: the foreign keys on it and to it go too.
    pub(crate) fn forget_foreign_keys(&mut self, table: GlobalId) {
        self.foreign_keys.retain(|_, fk| fk.child != table && fk.parent != table);
    }

    /// ALTER TABLE: table `old` became `new` with `kept[new position]` its old columns;
    /// a foreign key whose columns are gone goes too (as in PostgreSQL).
    pub(crate) fn move_foreign_keys(&mut self, old: GlobalId, new: GlobalId, kept: &[Option<usize>]) {
        let moved = |columns: &[usize]| crate::alter::moved_columns(columns, kept);
        self.foreign_keys.retain(|_, fk| {
            if fk.child == old {
                match moved(&fk.columns) {
                    Some(columns) => (fk.child, fk.columns) = (new, columns),
                    None => return false,
                }
            }
            if fk.parent == old {
                match moved(&fk.parent_columns) {
                    Some(columns) => (fk.parent, fk.parent_columns) = (new, columns),
                    None => return false,
                }
            }
            true
        });
    }

    /// Drops the foreign keys of table `table` named in `names` (ALTER TABLE ... DROP
    /// CONSTRAINT); returns the names that were not foreign keys.
    pub(crate) fn drop_foreign_keys(&mut self, table: GlobalId, names: Vec<(String, bool)>) -> Vec<(String, bool)> {
        let mut rest = Vec::new();
        for (name, if_exists) in names {
            let found =
                self.foreign_keys.iter().find(|(_, fk)| fk.child == table && fk.name == name).map(|(&id, _)| id);
            match found {
                Some(id) => {
                    self.foreign_keys.remove(&id);
                }
                None => rest.push((name, if_exists)),
            }
        }
        rest
    }

    /// Table `table`'s foreign keys as the catalog tables list them.
    pub(crate) fn listed_foreign_keys(&self, table: GlobalId) -> Vec<crate::system_tables::ListedForeignKey> {
        (self.foreign_keys.iter())
            .filter(|(_, fk)| fk.child == table)
            .filter_map(|(&id, fk)| {
                let (child, parent) = (&self.entries.get(&fk.child)?.item, &self.entries.get(&fk.parent)?.item);
                let definition = format!(
                    "FOREIGN KEY ({}) REFERENCES {}({}){}{}",
                    column_names(&child.desc, &fk.columns),
                    qualified(&parent.name),
                    column_names(&parent.desc, &fk.parent_columns),
                    fk.actions(),
                    if fk.deferred { " DEFERRABLE INITIALLY DEFERRED" } else { "" }
                );
                Some(crate::system_tables::ListedForeignKey {
                    id,
                    name: fk.name.clone(),
                    columns: fk.columns.clone(),
                    parent: fk.parent,
                    parent_columns: fk.parent_columns.clone(),
                    deferred: fk.deferred,
                    on_delete: action_code(fk.on_delete),
                    on_update: action_code(fk.on_update),
                    definition,
                })
            })
            .collect()
    }

    /// Each foreign key's statement, for the stored catalog.
    pub(crate) fn foreign_key_statements(&self) -> Vec<(String, GlobalId, String)> {
        (self.foreign_keys.iter())
            .filter_map(|(&id, fk)| {
                let child = &self.entries.get(&fk.child)?.item;
                let parent = &self.entries.get(&fk.parent)?.item;
                let sql = format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}){}{}",
                    qualified(&child.name),
                    eddy_planner::quote_ident(&fk.name),
                    column_names(&child.desc, &fk.columns),
                    qualified(&parent.name),
                    column_names(&parent.desc, &fk.parent_columns),
                    fk.actions(),
                    if fk.deferred { " DEFERRABLE INITIALLY DEFERRED" } else { "" }
                );
                Some((fk.name.clone(), id, sql))
            })
            .collect()
    }
}
