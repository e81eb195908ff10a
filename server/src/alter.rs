//! Applies `ALTER TABLE`: in place when the rows stay as they are (renames, defaults,
//! NOT NULL), otherwise by filling a new table with the rewritten rows and putting it in
//! the old one's place once its rows are durable.

use std::collections::BTreeMap;

use eddy_compute::Command;
use eddy_expr::eval::Collection;
use eddy_expr::RelationExpr;
use eddy_planner::{CheckConstraint, ItemKind, PlanError, RenameTarget, UniqueKey};
use eddy_repr::{Datum, GlobalId, RelationDesc};

use crate::coordinator::{command, create_table_sql, describe_key, Coordinator, ExecuteResponse};
use crate::error::AdapterError;
use crate::session::Session;

/// What an ALTER TABLE makes of a table.
pub(crate) struct Alteration {
    pub table: GlobalId,
    pub name: String,
    pub desc: RelationDesc,
    pub defaults: Vec<Option<String>>,
    pub kept: Vec<Option<usize>>,
    pub rows: Option<RelationExpr>,
    pub add_keys: Vec<UniqueKey>,
    pub add_checks: Vec<CheckConstraint>,
    /// (name, if_exists)
    pub drop_constraints: Vec<(String, bool)>,
}

impl Coordinator {
    pub(crate) fn alter_table(
        &mut self,
        session: &mut Session,
        a: Alteration,
    ) -> Result<ExecuteResponse, AdapterError> {
        if session.in_transaction {
            return Err(PlanError::Unsupported("ALTER TABLE inside a transaction block".into()).into());
        }
        let mut a = a;
        a.drop_constraints = self.drop_foreign_keys(a.table, std::mem::take(&mut a.drop_constraints));
        let entry =
            self.entries.get(&a.table).ok_or_else(|| AdapterError::Internal("altered table vanished".into()))?;
        let old_name = entry.item.name.clone();
        if a.name != old_name && self.name_taken(&a.name) {
            return Err(PlanError::RelationExists(a.name).into());
        }
        let renamed_columns = (a.kept.iter().zip(a.desc.columns()))
            .any(|(kept, (name, _))| kept.is_some_and(|k| entry.item.desc.columns()[k].0 != *name));
        let changes_shape = a.rows.is_some() || renamed_columns || a.name != old_name;
        let dependents = self.dependents(a.table);
        if changes_shape && dependents.len() > 1 {
            // Their stored definitions name the table and its columns as they are now.
            return Err(self.refused_for_dependents(
                &format!("ALTER TABLE {old_name}"),
                "alter the table",
                &dependents,
            ));
        }
        let mut keys = remap_keys(&entry.keys, &a.kept, &a.desc)?;
        let mut checks = remap_checks(&entry.checks, &entry.item.desc, &a.kept, &a.desc)?;
        drop_constraints(&mut keys, &mut checks, &a.drop_constraints, &old_name)?;
        let added = Added { keys: a.add_keys, checks: a.add_checks };
        for key in &added.keys {
            if key.primary && keys.iter().any(|k| k.primary) {
                return Err(PlanError::MultiplePrimaryKeys(old_name).into());
            }
            if keys.iter().any(|k| k.name == key.name) || self.name_taken(&key.name) {
                return Err(PlanError::RelationExists(key.name.clone()).into());
            }
        }
        if let Some(check) = added.checks.iter().find(|c| checks.iter().any(|k| k.name == c.name)) {
            return Err(AdapterError::DuplicateConstraint(format!(
                "constraint \"{}\" for relation \"{old_name}\" already exists",
                check.name
            )));
        }
        keys.extend(added.keys.iter().cloned());
        checks.extend(added.checks.iter().cloned());
        let comments = remap_comments(&entry.comments, &a.kept);
        let attached = Attached { keys, checks, comments };
        match a.rows {
            None => {
                let tightened = self.newly_not_null(a.table, &a.desc);
                if !tightened.is_empty() || !added.is_empty() {
                    let rows =
                        self.evaluate_now(session, &RelationExpr::get(a.table, old_name.clone(), a.desc.arity()))?;
                    // PostgreSQL builds a new key's index before it checks NOT NULL.
                    added.check_rows(&rows, &a.desc, &old_name)?;
                    check_not_null(&rows, &a.desc, &tightened, &old_name)?;
                }
                self.sequences.move_table(a.table, a.table, &a.kept);
                self.move_foreign_keys(a.table, a.table, &a.kept);
                self.replace_definition(a.table, a.name, a.desc, a.defaults, attached);
            }
            Some(expr) => {
                let rows = self.evaluate_now(session, &expr)?;
                let not_null: Vec<usize> = (0..a.desc.arity()).filter(|&c| !a.desc.columns()[c].1.nullable).collect();
                added.check_rows(&rows, &a.desc, &old_name)?;
                check_not_null(&rows, &a.desc, &not_null, &old_name)?;
                self.rebuild(session, a.table, a.name, a.desc, a.defaults, attached, rows, &a.kept)?;
            }
        }
        Ok(command("ALTER TABLE"))
    }

    /// An alteration of `table` that keeps its columns and rows and adds `keys` or drops
    /// the constraints named in `drop` (CREATE UNIQUE INDEX, DROP INDEX of a key).
    pub(crate) fn unchanged_table(
        &self,
        table: GlobalId,
        keys: Vec<UniqueKey>,
        drop: Vec<(String, bool)>,
    ) -> Result<Alteration, AdapterError> {
        let entry = self.entries.get(&table).ok_or_else(|| AdapterError::Internal("the table is gone".into()))?;
        Ok(Alteration {
            table,
            name: entry.item.name.clone(),
            desc: entry.item.desc.clone(),
            defaults: entry.item.defaults.clone(),
            kept: (0..entry.item.desc.arity()).map(Some).collect(),
            rows: None,
            add_keys: keys,
            add_checks: vec![],
            drop_constraints: drop,
        })
    }

    /// The table that has a PRIMARY KEY or UNIQUE key called `name`.
    pub(crate) fn key_table(&self, name: &str) -> Option<GlobalId> {
        self.entries.iter().find(|(_, e)| e.keys.iter().any(|k| k.name == name)).map(|(&id, _)| id)
    }

    /// The columns the alteration makes NOT NULL that were nullable.
    fn newly_not_null(&self, table: GlobalId, desc: &RelationDesc) -> Vec<usize> {
        let Some(old) = self.entries.get(&table).map(|e| &e.item.desc) else { return vec![] };
        (0..desc.arity().min(old.arity()))
            .filter(|&c| old.columns()[c].1.nullable && !desc.columns()[c].1.nullable)
            .collect()
    }

    /// Gives table `id` a new name and definition, its rows unchanged.
    fn replace_definition(
        &mut self,
        id: GlobalId,
        name: String,
        desc: RelationDesc,
        defaults: Vec<Option<String>>,
        attached: Attached,
    ) {
        let Some(entry) = self.entries.get_mut(&id) else { return };
        self.names.remove(&entry.item.name);
        self.names.insert(name.clone(), id);
        entry.create_sql = create_table_sql(&name, &desc, &defaults, &attached.keys, &attached.checks);
        entry.item.name = name;
        entry.item.desc = desc;
        entry.item.defaults = defaults;
        entry.keys = attached.keys;
        entry.checks = attached.checks;
        entry.comments = attached.comments;
    }

    /// Fills a new table with `rows`, waits until they are durable, then drops the old
    /// table and gives the new one its name. A crash before the end leaves the old table
    /// as it was (and, at worst, the new one beside it under a temporary name).
    #[allow(clippy::too_many_arguments)]
    fn rebuild(
        &mut self,
        session: &mut Session,
        old: GlobalId,
        name: String,
        desc: RelationDesc,
        defaults: Vec<Option<String>>,
        attached: Attached,
        rows: Collection,
        kept: &[Option<usize>],
    ) -> Result<(), AdapterError> {
        let id = self.allocate_id();
        self.sequences.move_table(old, id, kept);
        self.move_foreign_keys(old, id, kept);
        let temporary = format!("{name}_rebuilt_{id}");
        self.compute.send(Command::CreateTable { id });
        self.insert_entry(id, temporary.clone(), ItemKind::Table, desc.clone(), None, String::new(), vec![]);
        self.replace_definition(id, temporary, desc.clone(), defaults.clone(), attached.clone());
        // The new table (and the id it took) is in the stored catalog before its rows.
        let filled = self.persist_catalog().and_then(|()| {
            self.write(session, id, rows)?;
            self.store.wait(self.store.last_ticket()).map_err(AdapterError::from)
        });
        if let Err(e) = filled {
            session.unsynced.retain(|(table, _)| *table != id);
            self.drop_ids(&[id]);
            return Err(e);
        }
        session.unsynced.retain(|(table, _)| *table != id);
        let indexes = self.indexes_on(old);
        self.drop_ids(&[old]);
        self.replace_definition(id, name.clone(), desc, defaults, attached);
        // Indexes move to the new table; one on a dropped column goes with it, as in PostgreSQL.
        for (index, columns) in indexes {
            if let Some(columns) = moved_columns(&columns, kept) {
                self.create_index(Some(index), id, &name, columns, false)?;
            }
        }
        Ok(())
    }
}

/// Where old column `column` is after an ALTER TABLE that kept `kept[new position]`.
pub(crate) fn new_position(kept: &[Option<usize>], column: usize) -> Option<usize> {
    kept.iter().position(|k| *k == Some(column))
}

/// Old `columns` at their new positions; `None` if one was dropped.
pub(crate) fn moved_columns(columns: &[usize], kept: &[Option<usize>]) -> Option<Vec<usize>> {
    columns.iter().map(|&c| new_position(kept, c)).collect()
}

/// The table's keys over its new columns; a key on a dropped column goes with it, as in
/// PostgreSQL; a primary key column cannot become nullable.
fn remap_keys(keys: &[UniqueKey], kept: &[Option<usize>], desc: &RelationDesc) -> Result<Vec<UniqueKey>, AdapterError> {
    let mut out = Vec::new();
    for key in keys {
        let Some(columns) = moved_columns(&key.columns, kept) else { continue };
        if let Some(&c) = columns.iter().find(|&&c| key.primary && desc.columns()[c].1.nullable) {
            return Err(AdapterError::InvalidObjectDefinition(format!(
                "column \"{}\" is in a primary key",
                desc.columns()[c].0
            )));
        }
        out.push(UniqueKey { name: key.name.clone(), columns, primary: key.primary });
    }
    Ok(out)
}

/// `DROP CONSTRAINT`: removes a key or check by name.
fn drop_constraints(
    keys: &mut Vec<UniqueKey>,
    checks: &mut Vec<CheckConstraint>,
    names: &[(String, bool)],
    table: &str,
) -> Result<(), AdapterError> {
    for (name, if_exists) in names {
        let (keys_before, checks_before) = (keys.len(), checks.len());
        keys.retain(|k| k.name != *name);
        checks.retain(|c| c.name != *name);
        if keys.len() == keys_before && checks.len() == checks_before && !if_exists {
            return Err(AdapterError::UndefinedObject(format!(
                "constraint \"{name}\" of relation \"{table}\" does not exist"
            )));
        }
    }
    Ok(())
}

/// Constraints an ALTER TABLE adds: the table's rows must already keep them.
struct Added {
    keys: Vec<UniqueKey>,
    checks: Vec<CheckConstraint>,
}

impl Added {
    fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.checks.is_empty()
    }

    /// PostgreSQL's errors when existing rows break a new key or check.
    fn check_rows(&self, rows: &Collection, desc: &RelationDesc, table: &str) -> Result<(), AdapterError> {
        for key in &self.keys {
            let mut seen = std::collections::HashSet::new();
            for (row, diff) in rows.iter().filter(|(_, d)| *d > 0) {
                let written = row.project(&key.columns);
                if written.iter().any(|d| d.is_null()) {
                    continue;
                }
                if *diff > 1 || !seen.insert(written.clone().sql_normalized()) {
                    return Err(AdapterError::UniqueViolationOnCreate {
                        index: key.name.clone(),
                        detail: format!("{} is duplicated.", describe_key(desc, &key.columns, &written)),
                    });
                }
            }
        }
        for check in &self.checks {
            for (row, _) in rows.iter().filter(|(_, d)| *d > 0) {
                if check.expr.eval(row)? == Datum::Bool(false) {
                    return Err(AdapterError::CheckViolatedByRow {
                        constraint: check.name.clone(),
                        table: table.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// What belongs to a table besides its columns, as an alteration leaves it.
#[derive(Clone)]
struct Attached {
    keys: Vec<UniqueKey>,
    checks: Vec<CheckConstraint>,
    /// `COMMENT ON` the table (0) and its columns (1, 2, ...).
    comments: BTreeMap<i32, String>,
}

/// The table's comments over its new columns: a dropped column's goes with it.
fn remap_comments(comments: &BTreeMap<i32, String>, kept: &[Option<usize>]) -> BTreeMap<i32, String> {
    (comments.iter())
        .filter_map(|(&column, text)| {
            if column == 0 {
                return Some((0, text.clone()));
            }
            let new = new_position(kept, column as usize - 1)?;
            Some((new as i32 + 1, text.clone()))
        })
        .collect()
}

/// The table's CHECK constraints over its new columns. One reading a dropped column goes
/// with it, as in PostgreSQL; renaming or retyping a column one reads is refused (its
/// condition is stored as written).
fn remap_checks(
    checks: &[CheckConstraint],
    old: &RelationDesc,
    kept: &[Option<usize>],
    desc: &RelationDesc,
) -> Result<Vec<CheckConstraint>, AdapterError> {
    let mut out = Vec::new();
    'checks: for check in checks {
        let mut read = Vec::new();
        check.expr.visit(&mut |e| {
            if let eddy_expr::ScalarExpr::Column(c) = e {
                read.push(*c);
            }
        });
        for &c in &read {
            let Some(new) = new_position(kept, c) else { continue 'checks };
            let (old_name, old_type) = &old.columns()[c];
            let (new_name, new_type) = &desc.columns()[new];
            if old_name != new_name || old_type.scalar_type != new_type.scalar_type {
                return Err(PlanError::Unsupported(format!(
                    "renaming or retyping column \"{old_name}\" while check constraint \"{}\" reads it",
                    check.name
                ))
                .into());
            }
        }
        let mut check = check.clone();
        check.expr.permute(&|c| new_position(kept, c).unwrap_or(c));
        out.push(check);
    }
    Ok(out)
}

/// PostgreSQL's check when a column becomes (or is added as) NOT NULL.
fn check_not_null(rows: &Collection, desc: &RelationDesc, columns: &[usize], table: &str) -> Result<(), AdapterError> {
    for &c in columns {
        if rows.iter().any(|(row, _)| row[c].is_null()) {
            return Err(AdapterError::NullValues { column: desc.columns()[c].0.clone(), table: table.to_string() });
        }
    }
    Ok(())
}

impl Coordinator {
    /// `statement` cannot run while `dependents` (the object first) read the object:
    /// their stored definitions name it as it is now.
    fn refused_for_dependents(&self, statement: &str, change: &str, dependents: &[GlobalId]) -> AdapterError {
        PlanError::DependentObjects {
            message: format!("{statement} is not supported yet while other objects depend on it"),
            hint: format!(
                "Drop them first ({}), {change}, then create them again.",
                self.describe_dependencies(dependents).replace('\n', "; ")
            ),
        }
        .into()
    }

    /// `ALTER VIEW | MATERIALIZED VIEW | INDEX [IF EXISTS] name RENAME TO new_name`: the
    /// object keeps its rows and dataflow; its stored statement takes the new name. Like
    /// ALTER TABLE's rename, refused while other views read it (their stored definitions
    /// name it).
    pub(crate) fn rename(
        &mut self,
        session: &mut Session,
        target: RenameTarget,
        name: String,
        new_name: String,
        if_exists: bool,
    ) -> Result<ExecuteResponse, AdapterError> {
        // The object stays in its schema.
        let new_name = match name.split_once('.') {
            Some((schema, _)) => format!("{schema}.{new_name}"),
            None => new_name,
        };
        let (tag, exists) = match target {
            RenameTarget::Index => ("ALTER INDEX", self.indexes.contains_key(&name) || self.key_table(&name).is_some()),
            RenameTarget::Relation(ItemKind::MaterializedView) => {
                ("ALTER MATERIALIZED VIEW", self.names.contains_key(&name))
            }
            RenameTarget::Relation(_) => ("ALTER VIEW", self.names.contains_key(&name)),
        };
        if !exists {
            if !if_exists {
                return Err(PlanError::UnknownRelation(name).into());
            }
            session.notice("NOTICE", "00000", format!("relation \"{name}\" does not exist, skipping"));
            return Ok(command(tag));
        }
        if self.name_taken(&new_name) || self.key_table(&new_name).is_some() {
            return Err(PlanError::RelationExists(new_name).into());
        }
        match target {
            RenameTarget::Index => {
                let Some(index) = self.indexes.remove(&name) else {
                    return Err(PlanError::Unsupported(format!(
                        "renaming index \"{name}\" of a PRIMARY KEY or UNIQUE constraint"
                    ))
                    .into());
                };
                self.indexes.insert(new_name, index);
            }
            RenameTarget::Relation(kind) => {
                let id = self.names[&name];
                let entry = &self.entries[&id];
                if entry.item.kind != kind {
                    return Err(PlanError::WrongObjectType(format!("\"{name}\" is not a {}", kind.as_str())).into());
                }
                let dependents = self.dependents(id);
                if dependents.len() > 1 {
                    return Err(self.refused_for_dependents(&format!("{tag} {name}"), "rename", &dependents));
                }
                let create_sql = eddy_planner::renamed_view_sql(&entry.create_sql, &new_name)?;
                self.names.remove(&name);
                self.names.insert(new_name.clone(), id);
                if let Some(entry) = self.entries.get_mut(&id) {
                    entry.item.name = new_name;
                    entry.create_sql = create_sql;
                }
            }
        }
        Ok(command(tag))
    }
}
