//! The coordinator: the catalog, the timestamp oracle, and the execution of plans.
//!
//! It owns the only mutable view of what exists. Writes get a timestamp from the oracle,
//! go to compute as table updates at that time, and time then advances past them; reads
//! pick one timestamp (the last write's) and read every collection they need there, so a
//! read sees all earlier writes and several views consistently.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use eddy_compute::{Command, Compute, PeekError};
use eddy_expr::eval::{self, Collection};
use eddy_expr::{EvalError, KeyRange, Pipeline, RelationExpr, RowOp};
use eddy_planner::{
    Catalog, CatalogItem, CheckConstraint, ItemKind, ObjectKind, Plan, QueryPlan, RowSetFinishing, ShowKind,
    SubscribePlanTarget, UniqueKey,
};
use eddy_repr::{strconv, ColumnType, Datum, Diff, GlobalId, PackedRow, RelationDesc, Row, ScalarType, Timestamp};

use eddy_storage::durable::{CatalogRecord, SharedRows, Store};

use crate::cancel::CancelSignal;
use crate::copy;
use crate::error::AdapterError;
use crate::refresh::{self, RefreshLog};
use crate::session::Session;
use crate::sources::Sources;
use crate::system_tables;
use eddy_planner::quote_ident;

/// What a catalog entry is and what it needs.
#[derive(Clone, Debug)]
pub struct CatalogEntry {
    pub item: CatalogItem,
    pub create_sql: String,
    pub depends_on: Vec<GlobalId>,
    /// Tables only: PRIMARY KEY and UNIQUE constraints, checked on every write.
    pub keys: Vec<UniqueKey>,
    /// Tables only: CHECK constraints, checked on every row written.
    pub checks: Vec<CheckConstraint>,
    /// `COMMENT ON` the relation (0) and its columns (1, 2, ...).
    pub comments: BTreeMap<i32, String>,
    /// Materialized views only: what the dataflow computes, for reads that must see a
    /// transaction's uncommitted writes (the dataflow has not seen them).
    pub definition: Option<RelationExpr>,
    /// Materialized views with a target lag: the lag and refresh mode asked for.
    pub target: Option<eddy_planner::TargetLag>,
    /// The refresh schedule running now (`None`: continuous); see `schedules.rs`.
    pub refresh: Option<eddy_compute::Refresh>,
    /// `ALTER DYNAMIC TABLE ... SUSPEND`: shows what it showed then until RESUME.
    pub suspended: bool,
    /// `REFRESH_MODE = FULL` views: their last refresh.
    pub full: Option<crate::schedules::FullRefresh>,
}

/// The result of executing one plan, for the pgwire layer to send.
#[derive(Debug)]
pub enum ExecuteResponse {
    Rows {
        desc: RelationDesc,
        rows: Vec<Row>,
    },
    /// The RETURNING rows of an INSERT, UPDATE or DELETE, sent with that command's tag
    /// (`INSERT 0 2`) as PostgreSQL does.
    Returning {
        tag: &'static str,
        desc: RelationDesc,
        rows: Vec<Row>,
    },
    Command {
        tag: String,
        rows: Option<usize>,
    },
    /// `COPY ... FROM STDIN`: the client sends data next.
    CopyIn {
        columns: usize,
    },
    TransactionStart,
    TransactionEnd {
        tag: String,
    },
    /// `SUBSCRIBE`: changes stream to the client until it goes.
    Subscribe(crate::subscribe::Subscription),
    /// A `SELECT` whose inputs are read: what is left runs without the coordinator.
    Select(PreparedSelect),
    /// `COPY ... TO STDOUT`: a prepared `SELECT` whose rows go out in `format`.
    CopyTo {
        select: PreparedSelect,
        format: eddy_planner::CopyFormat,
    },
    /// `COPY ... TO STDOUT`, evaluated: what to send, one item per row (a CSV header
    /// joined to the first row's item).
    CopyOut {
        columns: usize,
        lines: Vec<Vec<u8>>,
    },
}

/// A `SELECT` with every input read at one time, to be evaluated (joins, aggregates,
/// sorting) without holding the coordinator, so that a heavy query does not stall
/// other sessions, sources and refreshes.
#[derive(Debug)]
pub struct PreparedSelect {
    desc: RelationDesc,
    finishing: RowSetFinishing,
    expr: RelationExpr,
    inputs: Vec<Collection>,
    cancel: Arc<CancelSignal>,
}

impl PreparedSelect {
    pub fn evaluate(self) -> Result<ExecuteResponse, AdapterError> {
        let rows = eval::evaluate_prefetched(&self.expr, self.inputs, &|| self.cancel.is_requested())?;
        Ok(ExecuteResponse::Rows { desc: self.desc, rows: finish(rows, &self.finishing) })
    }
}

pub struct Coordinator {
    pub(crate) compute: Compute,
    pub(crate) entries: BTreeMap<GlobalId, CatalogEntry>,
    pub(crate) names: BTreeMap<String, GlobalId>,
    next_id: GlobalId,
    /// Every write so far happened at or before this time; reads happen here.
    pub(crate) last_write: Timestamp,
    /// Indexes by name. Each is a maintained collection of its object's rows with the
    /// indexed columns first; reads use it when its columns give a tighter key range.
    pub(crate) indexes: BTreeMap<String, Index>,
    /// Schemas besides `public`, by name; their objects are named `schema.name`.
    pub(crate) schemas: BTreeMap<String, GlobalId>,
    pub(crate) sources: Sources,
    /// Refreshes of views with a target lag, for `eddy_catalog.refresh_history`.
    pub(crate) refreshes: Arc<Mutex<RefreshLog>>,
    /// The open connections, for `pg_stat_activity` (the server registers them).
    pub(crate) backends: Arc<crate::backends::Backends>,
    /// The data directory.
    pub(crate) store: Arc<Store>,
    /// The catalog as last written to the store.
    pub(crate) persisted: BTreeMap<GlobalId, CatalogRecord>,
    /// Collection ids as of the last catalog write: those gone since have their rows removed.
    pub(crate) persisted_collections: BTreeSet<GlobalId>,
    /// Replaying the stored catalog at startup: nothing is written back, sources resume.
    pub(crate) restoring: bool,
    /// Materialized views still rehydrating after a restart, read meanwhile from their
    /// stored output, loaded into a table of its own: view id -> that table's id.
    pub(crate) stored_outputs: BTreeSet<GlobalId>,
    /// While restoring: the views whose dataflows are built once everything is loaded
    /// (see `schedules.rs`).
    pub(crate) deferred_dataflows: BTreeSet<GlobalId>,
    /// While restoring: the views whose output writers start once everything is loaded.
    pub(crate) deferred_output_writers: BTreeSet<GlobalId>,
    /// FOREIGN KEY constraints by their own ids (see `foreign_keys.rs`).
    pub(crate) foreign_keys: BTreeMap<GlobalId, crate::foreign_keys::ForeignKey>,
    /// Sequence objects and serial/identity columns' counters (see `sequences.rs`).
    pub(crate) sequences: Arc<crate::sequences::Sequences>,
    /// After a restart, the tables and source outputs whose stored rows are still being
    /// loaded, with the rows loaded so far; they cannot be read or written until done.
    pub(crate) loading: BTreeMap<GlobalId, u64>,
    /// Stored rows are still being loaded after a restart (views rehydrate meanwhile).
    pub(crate) loading_in_progress: bool,
    /// Why loading stored rows stopped (a corrupt file, say), if it did.
    pub(crate) load_failed: Option<String>,
    /// Rehydration after the last restart, for `eddy_catalog.hydration`.
    pub(crate) hydration: Arc<Mutex<crate::durability::Hydration>>,
    /// When each table, source and FULL view last changed (since this process started):
    /// FULL refreshes whose inputs have not changed are skipped.
    pub(crate) last_changed: BTreeMap<GlobalId, Timestamp>,
    /// Store tickets up to here that failed have been undone in compute: a read that
    /// ran after that saw none of their rows.
    pub(crate) undone_through: u64,
}

/// An index: collection `id` holds the rows of `on`, stored column `i` being `on`'s
/// column `permutation[i]`; the indexed columns come first.
#[derive(Clone, Debug)]
pub(crate) struct Index {
    id: GlobalId,
    pub(crate) on: GlobalId,
    columns: Vec<usize>,
    permutation: Vec<usize>,
}

impl Index {
    /// What its dataflow computes: `on`'s rows (`on` is the indexed relation's entry),
    /// columns permuted.
    fn expr(&self, on: &CatalogItem) -> RelationExpr {
        RelationExpr::get(self.on, &on.name, on.desc.arity()).project(self.permutation.clone())
    }
}

impl Catalog for Coordinator {
    fn has_schema(&self, name: &str) -> bool {
        name == "public" || self.schemas.contains_key(name)
    }

    fn resolve(&self, name: &str) -> Option<CatalogItem> {
        if let Some(entry) = self.names.get(name).and_then(|id| self.entries.get(id)) {
            return Some(entry.item.clone());
        }
        if let Some(sequence) = self.sequences.relation(name) {
            return Some(sequence);
        }
        if name == "pg_stat_activity" {
            return Some(system_tables::pg_stat_activity(&self.backends.activities()));
        }
        let system = self.source_system_table(name).or_else(|| self.freshness_table(name));
        if let Some(table) = system.or_else(|| self.durability_table(name)) {
            return Some(table);
        }
        let relations = self.entries.values().map(|e| {
            let (namespace, schema, relname) = system_tables::qualify(&e.item.name, &self.schemas);
            system_tables::Listed {
                relkind: system_tables::relkind(e),
                id: e.item.id,
                desc: &e.item.desc,
                keys: &e.keys,
                checks: &e.checks,
                comments: &e.comments,
                index_of: None,
                create_sql: &e.create_sql,
                defaults: &e.item.defaults,
                foreign_keys: self.listed_foreign_keys(e.item.id),
                sequence: None,
                namespace,
                schema,
                relname,
            }
        });
        // An index's columns are the indexed ones of the relation it is on.
        let index_descs: Vec<(&String, &Index, RelationDesc)> = self
            .indexes
            .iter()
            .filter_map(|(name, i)| {
                let on = self.entries.get(&i.on)?;
                let columns = i.columns.iter().filter_map(|&c| on.item.desc.columns().get(c).cloned()).collect();
                Some((name, i, RelationDesc::new(columns)))
            })
            .collect();
        let indexes = index_descs.iter().map(|(name, i, desc)| {
            let (namespace, schema, relname) = system_tables::qualify(name, &self.schemas);
            system_tables::Listed {
                relkind: "i",
                id: i.id,
                desc,
                keys: &[],
                checks: &[],
                comments: &system_tables::NO_COMMENTS,
                index_of: Some((i.on, &i.columns)),
                create_sql: "",
                defaults: &[],
                foreign_keys: vec![],
                sequence: None,
                namespace,
                schema,
                relname,
            }
        });
        let sequence_desc = crate::sequences::Sequences::relation_desc();
        let sequence_list = self.sequences.listing();
        let sequences = sequence_list.iter().map(|(name, id, spec, last)| {
            let (namespace, schema, relname) = system_tables::qualify(name, &self.schemas);
            system_tables::Listed {
                relkind: "S",
                id: *id,
                desc: &sequence_desc,
                keys: &[],
                checks: &[],
                comments: &system_tables::NO_COMMENTS,
                index_of: None,
                create_sql: "",
                defaults: &[],
                foreign_keys: vec![],
                sequence: Some((spec.clone(), *last)),
                namespace,
                schema,
                relname,
            }
        });
        system_tables::resolve(name, relations.chain(indexes).chain(sequences), &self.schemas)
    }
}

/// `UPDATE ... FROM`: each target row (as often as the table holds it) with the new values
/// of its first pairing in `pairs` (old columns then new ones, in `arity` columns each).
fn first_pairing(targets: Collection, pairs: Collection, arity: usize) -> Collection {
    let mut new_values: HashMap<Row, Row> = HashMap::new();
    for (pair, _) in pairs {
        new_values.entry(Row::new(pair[..arity].to_vec())).or_insert_with(|| Row::new(pair[arity..].to_vec()));
    }
    targets
        .into_iter()
        .filter_map(|(old, diff)| {
            let new = new_values.get(&old)?;
            Some((Row::new(old.iter().chain(new.iter()).cloned().collect()), diff))
        })
        .collect()
}

/// How often, at most, time moves on by itself for temporal views (milliseconds).
const TEMPORAL_TICK_MS: Timestamp = 1000;

pub(crate) fn wall_clock_ms() -> Timestamp {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as Timestamp).unwrap_or(0)
}

impl Coordinator {
    pub fn new(compute: Compute, store: Arc<Store>) -> Self {
        let start = wall_clock_ms();
        compute.send(Command::AdvanceTime { time: start });
        Coordinator {
            compute,
            backends: Arc::default(),
            entries: BTreeMap::new(),
            names: BTreeMap::new(),
            next_id: 1,
            last_write: start.saturating_sub(1),
            indexes: BTreeMap::new(),
            schemas: BTreeMap::new(),
            sources: Sources::default(),
            refreshes: Arc::default(),
            sequences: Arc::new(crate::sequences::Sequences::new(store.clone())),
            foreign_keys: BTreeMap::new(),
            store,
            persisted: BTreeMap::new(),
            persisted_collections: BTreeSet::new(),
            restoring: false,
            hydration: Arc::default(),
            undone_through: 0,
            deferred_output_writers: BTreeSet::new(),
            deferred_dataflows: BTreeSet::new(),
            last_changed: BTreeMap::new(),
            stored_outputs: BTreeSet::new(),
            loading: BTreeMap::new(),
            loading_in_progress: false,
            load_failed: None,
        }
    }

    pub fn shutdown(&mut self) {
        self.compute.shutdown();
    }

    /// A fresh write timestamp: wall-clock milliseconds, strictly increasing.
    pub(crate) fn next_write_ts(&mut self) -> Timestamp {
        let ts = wall_clock_ms().max(self.last_write + 1);
        self.last_write = ts;
        ts
    }

    /// Executes `plan`; a catalog change is durable when this returns.
    pub fn execute(&mut self, session: &mut Session, plan: Plan) -> Result<ExecuteResponse, AdapterError> {
        let ddl = crate::durability::changes_catalog(&plan);
        let response = self.execute_plan(session, plan)?;
        if ddl {
            self.settle_schedules(&[], None);
        }
        if ddl && !self.restoring {
            self.persist_catalog()?;
        }
        Ok(response)
    }

    fn execute_plan(&mut self, session: &mut Session, plan: Plan) -> Result<ExecuteResponse, AdapterError> {
        match plan {
            Plan::CreateTable { name, desc, keys, checks, defaults, if_not_exists, rows, foreign_keys } => {
                if self.name_taken(&name) {
                    return self.exists(session, &name, if_not_exists, "CREATE TABLE");
                }
                // CREATE TABLE ... AS: its rows first, so a failing query creates nothing.
                let filled = rows.map(|r| self.evaluate_now(session, &r)).transpose()?;
                let id = self.allocate_id();
                self.compute.send(Command::CreateTable { id });
                self.defer_load(&[id]);
                let create_sql = create_table_sql(&name, &desc, &defaults, &keys, &checks);
                self.insert_entry(id, name, ItemKind::Table, desc, None, create_sql, vec![]);
                if let Some(entry) = self.entries.get_mut(&id) {
                    entry.keys = keys;
                    entry.checks = checks;
                    entry.item.defaults = defaults;
                    self.sequences.register_columns(id, &entry.item, self.restoring);
                }
                if let Err(e) = self.add_foreign_keys(session, id, foreign_keys) {
                    self.drop_ids(&[id]);
                    return Err(e);
                }
                match filled {
                    Some(rows) => {
                        let count: Diff = rows.iter().map(|(_, d)| d).sum();
                        self.write(session, id, rows)?;
                        Ok(ExecuteResponse::Command { tag: "SELECT".into(), rows: Some(count as usize) })
                    }
                    None => Ok(command("CREATE TABLE")),
                }
            }
            Plan::CreateView {
                name,
                desc,
                expr,
                materialized,
                or_replace,
                if_not_exists,
                create_sql,
                depends_on,
                target_lag,
            } => {
                let tag = match materialized {
                    // Written as a dynamic table: its canonical CREATE says so.
                    true if create_sql.starts_with("CREATE DYNAMIC TABLE") => "CREATE DYNAMIC TABLE",
                    true => "CREATE MATERIALIZED VIEW",
                    false => "CREATE VIEW",
                };
                // Indexes and sequences share relations' namespace, as in PostgreSQL.
                if self.indexes.contains_key(&name) || self.sequences.exists(&name) {
                    return self.exists(session, &name, if_not_exists, tag);
                }
                if let Some(&existing) = self.names.get(&name) {
                    if !or_replace {
                        return self.exists(session, &name, if_not_exists, tag);
                    }
                    let dependents = self.dependents(existing);
                    if dependents.len() > 1 {
                        if materialized {
                            return Err(AdapterError::Dependents {
                                message: format!(
                                    "cannot replace materialized view {name} because other objects depend on it"
                                ),
                                detail: self.describe_dependencies(&dependents),
                            });
                        }
                        let new = crate::views::Replacement { desc, expr, create_sql, depends_on };
                        self.replace_read_view(existing, new, &dependents[1..])?;
                        return Ok(command(tag));
                    }
                    self.drop_ids(&[existing]);
                }
                let id = self.allocate_id();
                if materialized {
                    let full = target_lag.filter(|t| t.mode == eddy_planner::RefreshMode::Full);
                    if full.is_none() {
                        self.note_stored_output(id, &depends_on)?;
                    }
                    self.insert_entry(id, name, ItemKind::MaterializedView, desc, None, create_sql, depends_on);
                    if let Some(entry) = self.entries.get_mut(&id) {
                        entry.definition = Some(expr);
                        entry.target = target_lag;
                    }
                    match full {
                        Some(target) => {
                            self.settle_schedules(&[], None);
                            if let Err(e) = self.create_full_view(id, &target) {
                                self.drop_ids(&[id]);
                                return Err(e);
                            }
                        }
                        None => self.settle_schedules(&[id], Some(id)),
                    }
                } else {
                    self.insert_entry(id, name, ItemKind::View, desc, Some(expr), create_sql, depends_on);
                }
                Ok(command(tag))
            }
            Plan::Drop { kind, names, if_exists, cascade } => self.drop(session, kind, names, if_exists, cascade),
            Plan::AlterTable { table, name, desc, defaults, kept, rows, add_keys, add_checks, drop_constraints } => {
                let alteration = crate::alter::Alteration {
                    table,
                    name,
                    desc,
                    defaults,
                    kept,
                    rows,
                    add_keys,
                    add_checks,
                    drop_constraints,
                };
                self.alter_table(session, alteration)
            }
            Plan::CreateIndex { name, on, on_name, columns, if_not_exists } => {
                self.create_index(name, on, &on_name, columns, if_not_exists)
            }
            Plan::CreateSchema { name, if_not_exists } => self.create_schema(session, name, if_not_exists),
            Plan::DropSchema { names, if_exists, cascade } => self.drop_schemas(session, names, if_exists, cascade),
            Plan::AddForeignKeys { table, foreign_keys } => {
                if session.in_transaction {
                    let refused = eddy_planner::PlanError::Unsupported("ALTER TABLE inside a transaction block".into());
                    return Err(refused.into());
                }
                self.add_foreign_keys(session, table, foreign_keys)?;
                Ok(command("ALTER TABLE"))
            }
            Plan::CreateSequence { name, if_not_exists, spec, owned_by } => {
                if self.name_taken(&name) {
                    return self.exists(session, &name, if_not_exists, "CREATE SEQUENCE");
                }
                let owner = owned_by.map(|(t, c)| self.sequence_owner(&t, &c).map(|id| (id, c))).transpose()?;
                let id = self.allocate_id();
                self.sequences.create(id, name, spec, owner);
                Ok(command("CREATE SEQUENCE"))
            }
            Plan::AlterSequence { name, if_exists, options } => {
                let found = self.sequences.alter(&name, &options, |t, c| self.sequence_owner(t, c))?;
                if !found {
                    if !if_exists {
                        return Err(AdapterError::Plan(eddy_planner::PlanError::UnknownRelation(name)));
                    }
                    session.notice("NOTICE", "00000", format!("relation \"{name}\" does not exist, skipping"));
                }
                Ok(command("ALTER SEQUENCE"))
            }
            Plan::DropSequence { names, if_exists } => {
                for name in &names {
                    if let Some(detail) = self.sequence_users(name) {
                        return Err(AdapterError::Dependents {
                            message: format!("cannot drop sequence {name} because other objects depend on it"),
                            detail,
                        });
                    }
                }
                for name in names {
                    if !self.sequences.remove(&name) {
                        if !if_exists {
                            return Err(AdapterError::UnknownObject(format!("sequence \"{name}\" does not exist")));
                        }
                        session.notice("NOTICE", "00000", format!("sequence \"{name}\" does not exist, skipping"));
                    }
                }
                Ok(command("DROP SEQUENCE"))
            }
            Plan::Comment { id, column, comment } => {
                let entry = self
                    .entries
                    .get_mut(&id)
                    .ok_or_else(|| AdapterError::Internal("commented object vanished".into()))?;
                match comment {
                    Some(text) => entry.comments.insert(column, text),
                    None => entry.comments.remove(&column),
                };
                Ok(command("COMMENT"))
            }
            Plan::CreateUniqueIndex { table, name, columns, if_not_exists } => {
                if self.name_taken(&name) || self.key_table(&name).is_some() {
                    return self.exists(session, &name, if_not_exists, "CREATE INDEX");
                }
                let key = UniqueKey { name, columns, primary: false };
                self.alter_table(session, self.unchanged_table(table, vec![key], vec![])?)?;
                Ok(command("CREATE INDEX"))
            }
            Plan::DropIndex { names, if_exists } => {
                for name in &names {
                    let known = self.indexes.contains_key(name) || self.key_table(name).is_some();
                    if !known && !if_exists {
                        return Err(AdapterError::UnknownObject(format!("index \"{name}\" does not exist")));
                    }
                    if !known {
                        session.notice("NOTICE", "00000", format!("index \"{name}\" does not exist, skipping"));
                    }
                }
                for name in names {
                    if let Some(index) = self.indexes.remove(&name) {
                        self.compute.send(Command::Drop { id: index.id });
                    } else if let Some(table) = self.key_table(&name) {
                        // A UNIQUE INDEX is a key of its table (as are constraints' indexes).
                        self.alter_table(session, self.unchanged_table(table, vec![], vec![(name, false)])?)?;
                    }
                }
                Ok(command("DROP INDEX"))
            }
            Plan::Insert { table, rows, returning, on_conflict, generated } => {
                // Refused before numbering: a statement retried once loading is done
                // must not have used up numbers.
                self.check_loaded(table)?;
                let rows = self.evaluate_now(session, &rows)?;
                // With ON CONFLICT, the changes differ from the rows written (inserted or
                // updated), and rows are numbered one by one as their conflicts are resolved.
                let (rows, written) = match &on_conflict {
                    Some(c) => {
                        let (changes, written) = self.resolve_conflicts(session, table, rows, c, &generated)?;
                        (changes, Some(written))
                    }
                    None => (self.number_rows(session, table, rows, &generated)?, None),
                };
                let rows = self.check_table_rows(table, rows)?;
                let shown = written.as_ref().unwrap_or(&rows);
                let count: Diff = shown.iter().map(|(_, d)| d).sum();
                let returned = self.returning("INSERT 0", returning, table, shown)?;
                self.write(session, table, rows)?;
                Ok(returned.unwrap_or(ExecuteResponse::Command { tag: "INSERT 0".into(), rows: Some(count as usize) }))
            }
            Plan::Update { table, selection, targets, arity, returning, renumbered } => {
                let mut selected = self.evaluate_now(session, &selection)?;
                if let Some(targets) = targets {
                    selected = first_pairing(self.evaluate_now(session, &targets)?, selected, arity);
                }
                let (mut changes, mut new_rows, mut pairs) = (Vec::new(), Vec::new(), Vec::new());
                // Rows before and after are kept together only for ON UPDATE actions.
                let cascading = self.cascades_updates(table);
                let mut count = 0;
                for (row, diff) in selected {
                    let (old, new) = (Row::new(row[..arity].to_vec()), Row::new(row[arity..].to_vec()));
                    if cascading {
                        pairs.push((old.clone(), new.clone()));
                    }
                    changes.push((old, -diff));
                    new_rows.push((new, diff));
                    count += diff;
                }
                changes.extend(self.number_rows(session, table, new_rows, &renumbered)?);
                let changes = self.check_table_rows(table, changes)?;
                let new_rows: Collection = changes.iter().filter(|(_, d)| *d > 0).cloned().collect();
                let returned = self.returning("UPDATE", returning, table, &new_rows)?;
                self.write_changes(session, table, changes, Cascades::Updates(pairs))?;
                Ok(returned.unwrap_or(ExecuteResponse::Command { tag: "UPDATE".into(), rows: Some(count as usize) }))
            }
            Plan::Truncate { tables } => {
                // Every table empties at the same timestamp.
                let ids: Vec<GlobalId> = tables.iter().map(|(t, _)| *t).collect();
                if let Some((_, fk)) = self.references_into(&ids).first() {
                    let (child, parent) = (&self.entries[&fk.child].item.name, &self.entries[&fk.parent].item.name);
                    return Err(AdapterError::TruncateReferenced {
                        detail: format!("Table \"{child}\" references \"{parent}\"."),
                        hint: format!("Truncate table \"{child}\" at the same time, or use TRUNCATE ... CASCADE."),
                    });
                }
                let mut writes = Vec::new();
                for (table, rows) in tables {
                    self.check_loaded(table)?;
                    let changes = self.evaluate_now(session, &rows)?.into_iter().map(|(r, d)| (r, -d)).collect();
                    writes.push((table, changes));
                }
                self.stage_writes(session, writes);
                Ok(command("TRUNCATE TABLE"))
            }
            Plan::Delete { table, selection, returning } => {
                let selected = self.evaluate_now(session, &selection)?;
                let count: Diff = selected.iter().map(|(_, d)| d).sum();
                let returned = self.returning("DELETE", returning, table, &selected)?;
                let changes = selected.into_iter().map(|(r, d)| (r, -d)).collect();
                self.write_deleting(session, table, changes)?;
                Ok(returned.unwrap_or(ExecuteResponse::Command { tag: "DELETE".into(), rows: Some(count as usize) }))
            }
            Plan::Select(q) => {
                if self.any_temporal_view() {
                    self.advance_clock();
                }
                Ok(ExecuteResponse::Select(self.prepare_select(session, &q)?))
            }
            Plan::CopyTo { query, format } => {
                Ok(ExecuteResponse::CopyTo { select: self.prepare_select(session, &query)?, format })
            }
            Plan::CopyFrom { table, columns, column_types, row_template, volatile_defaults, generated, format } => {
                let mut state = copy::CopyState::new(table, columns.clone(), column_types, row_template, format);
                state.generated = generated;
                state.volatile_defaults = volatile_defaults;
                session.copy_in = Some(state);
                Ok(ExecuteResponse::CopyIn { columns: columns.len() })
            }
            Plan::Explain(text) => Ok(ExecuteResponse::Rows {
                desc: RelationDesc::new(vec![("QUERY PLAN".into(), ColumnType::new(ScalarType::Text, false))]),
                rows: text.lines().map(|l| Row::new(vec![Datum::Text(l.to_string())])).collect(),
            }),
            Plan::Show(kind) => self.show(session, kind),
            Plan::SetVariable { name, value, .. } => {
                session.set(&name, value)?;
                Ok(command("SET"))
            }
            Plan::SetConfig { name, value } => {
                session.set(&name, Some(value))?;
                Ok(ExecuteResponse::Rows {
                    desc: set_config_desc(),
                    rows: vec![Row::new(vec![Datum::Text(session.get(&name)?)])],
                })
            }
            Plan::ResetVariable { name } => {
                match name {
                    Some(n) => session.set(&n, None)?,
                    None => session.reset_all(),
                }
                Ok(command("RESET"))
            }
            Plan::StartTransaction => {
                if session.in_transaction {
                    session.notice("WARNING", "25001", "there is already a transaction in progress".into());
                }
                session.in_transaction = true;
                Ok(ExecuteResponse::TransactionStart)
            }
            Plan::Commit if session.transaction_failed => {
                session.end_transaction();
                Ok(ExecuteResponse::TransactionEnd { tag: "ROLLBACK".into() })
            }
            Plan::Commit => {
                if !session.in_transaction {
                    session.notice("WARNING", "25P01", "there is no transaction in progress".into());
                }
                let pending = session.end_transaction();
                // Other sessions may have committed conflicting keys since each statement;
                // failing here rolls the whole block back, as PostgreSQL does.
                let mut by_table: BTreeMap<GlobalId, Collection> = BTreeMap::new();
                for (table, changes) in &pending {
                    by_table.entry(*table).or_default().extend(changes.iter().cloned());
                }
                // A table dropped, or rebuilt by ALTER TABLE, since the block wrote to it
                // would silently lose the block's rows.
                if by_table.keys().any(|table| !self.entries.contains_key(table)) {
                    return Err(AdapterError::SerializationFailure {
                        detail: "A table this transaction wrote to was dropped or altered by another session since."
                            .into(),
                    });
                }
                for (table, changes) in &by_table {
                    self.check_deleted_rows_remain(*table, changes)?;
                    self.check_unique(*table, changes, &[])?;
                }
                if !self.foreign_keys.is_empty() {
                    let changed: Vec<(GlobalId, &Collection)> = by_table.iter().map(|(t, c)| (*t, c)).collect();
                    self.check_references(&changed, &changed, session, true)?;
                }
                self.commit_table_writes(session, &pending);
                Ok(ExecuteResponse::TransactionEnd { tag: "COMMIT".into() })
            }
            Plan::Rollback => {
                if !session.in_transaction {
                    session.notice("WARNING", "25P01", "there is no transaction in progress".into());
                }
                session.end_transaction();
                Ok(ExecuteResponse::TransactionEnd { tag: "ROLLBACK".into() })
            }
            Plan::Savepoint { name } => {
                session.set_savepoint(name)?;
                Ok(command("SAVEPOINT"))
            }
            Plan::ReleaseSavepoint { name } => {
                session.release(&name)?;
                Ok(command("RELEASE"))
            }
            Plan::RollbackToSavepoint { name } => {
                session.rollback_to(&name)?;
                Ok(command("ROLLBACK"))
            }
            Plan::Rename { target, name, new_name, if_exists } => {
                self.rename(session, target, name, new_name, if_exists)
            }
            Plan::NoOp { tag } => Ok(command(&tag)),
            Plan::Skipped { tag, notice } => {
                session.notice("NOTICE", "00000", notice);
                Ok(command(&tag))
            }
            Plan::CreateSecret { name, value, if_not_exists } => self.create_secret(name, value, if_not_exists),
            Plan::CreateConnection { name, connection, if_not_exists, create_sql } => {
                self.create_connection(name, connection, if_not_exists, create_sql)
            }
            Plan::CreateSource { name, spec, desc, connection, if_not_exists, create_sql } => {
                self.create_source(name, spec, desc, connection, if_not_exists, create_sql)
            }
            Plan::DropOther { kind, names, if_exists, cascade } => self.drop_other(kind, names, if_exists, cascade),
            Plan::AlterRefresh { name, action, if_exists } => self.alter_refresh(&name, action, if_exists),
            Plan::Subscribe { target, desc, snapshot, progress } => {
                let (collection, transient) = match target {
                    SubscribePlanTarget::Collection(id) => (id, None),
                    SubscribePlanTarget::Query(expr) => {
                        let id = self.allocate_id();
                        self.compute.send(Command::CreateView { id, expr, refresh: None });
                        (id, Some(id))
                    }
                };
                let events = self.compute.subscribe(collection);
                Ok(ExecuteResponse::Subscribe(crate::subscribe::Subscription {
                    desc,
                    events,
                    as_of: self.last_write,
                    snapshot,
                    progress,
                    workers: self.compute.workers(),
                    transient,
                }))
            }
        }
    }

    pub(crate) fn allocate_id(&mut self) -> GlobalId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert_entry(
        &mut self,
        id: GlobalId,
        name: String,
        kind: ItemKind,
        desc: RelationDesc,
        view_expr: Option<RelationExpr>,
        create_sql: String,
        depends_on: Vec<GlobalId>,
    ) {
        self.names.insert(name.clone(), id);
        let item = CatalogItem { id, name, kind, desc, view_expr, defaults: vec![] };
        self.entries.insert(
            id,
            CatalogEntry {
                item,
                create_sql,
                depends_on,
                keys: vec![],
                checks: vec![],
                comments: BTreeMap::new(),
                definition: None,
                target: None,
                refresh: None,
                suspended: false,
                full: None,
            },
        );
    }

    /// Installs materialized view `id`'s dataflow; with a refresh schedule, its refreshes
    /// are followed for `eddy_catalog.refresh_history`.
    pub(crate) fn start_view_dataflow(
        &mut self,
        id: GlobalId,
        name: &str,
        expr: RelationExpr,
        refresh: Option<eddy_compute::Refresh>,
    ) {
        // A temporal view's stored rows would be out of date by the time they are read.
        let temporal = eddy_expr::temporal::has_temporal_filter(&expr);
        self.compute.send(Command::CreateView { id, expr, refresh });
        if !temporal {
            self.persist_output(id);
        }
        if let Some(r) = refresh {
            let events = self.compute.subscribe(id);
            let workers = self.compute.workers();
            let log = self.refreshes.clone();
            refresh::watch(name.to_string(), events, workers, self.last_write, r.every, log, wall_clock_ms);
        }
    }

    pub(crate) fn entries(&self) -> &BTreeMap<GlobalId, CatalogEntry> {
        &self.entries
    }

    pub(crate) fn entry_mut(&mut self, id: GlobalId) -> Option<&mut CatalogEntry> {
        self.entries.get_mut(&id)
    }

    pub(crate) fn id_of(&self, name: &str) -> Option<GlobalId> {
        self.names.get(name).copied()
    }

    /// The ids and dataflow definitions of the indexes on the collections in `on`.
    pub(crate) fn index_definitions(&self, on: &BTreeSet<GlobalId>) -> Vec<(GlobalId, RelationExpr)> {
        self.indexes
            .values()
            .filter(|i| on.contains(&i.on))
            .filter_map(|i| Some((i.id, i.expr(&self.entries.get(&i.on)?.item))))
            .collect()
    }

    /// Makes the next allocated id `id`: replaying the stored catalog gives every object
    /// back the id its stored rows are filed under.
    pub(crate) fn set_next_id(&mut self, id: GlobalId) {
        self.next_id = id;
    }

    pub(crate) fn peek_next_id(&self) -> GlobalId {
        self.next_id
    }

    pub(crate) fn index_ids(&self) -> impl Iterator<Item = GlobalId> + '_ {
        self.indexes.values().map(|i| i.id)
    }

    /// The name and indexed columns of each index on `on`.
    pub(crate) fn indexes_on(&self, on: GlobalId) -> Vec<(String, Vec<usize>)> {
        self.indexes.iter().filter(|(_, i)| i.on == on).map(|(name, i)| (name.clone(), i.columns.clone())).collect()
    }

    /// `(name, id, CREATE INDEX ...)` of every index, for the stored catalog.
    pub(crate) fn index_statements(&self) -> Vec<(String, GlobalId, String)> {
        self.indexes
            .iter()
            .filter_map(|(name, index)| {
                let on = self.entries.get(&index.on)?;
                let cols: Vec<String> =
                    index.columns.iter().map(|&c| quote_ident(&on.item.desc.columns()[c].0)).collect();
                let sql = format!(
                    "CREATE INDEX {} ON {} ({})",
                    quote_ident(name),
                    quote_ident(&on.item.name),
                    cols.join(", ")
                );
                Some((name.clone(), index.id, sql))
            })
            .collect()
    }

    /// Moves time forward with no write, so that views with a target lag refresh on
    /// schedule even when nothing is written. Only while such views exist.
    /// Returns the FULL refreshes now due, for the caller to run off the lock.
    pub fn tick(&mut self) -> Vec<crate::schedules::FullRefreshJob> {
        self.release_hydrated_outputs();
        let refreshing = self.entries.values().any(|e| e.refresh.is_some());
        // Temporal views move on by seconds (as Materialize's default timestamp
        // interval) when nothing else moves time: reads move it themselves, to now.
        let temporal_due = wall_clock_ms().saturating_sub(self.last_write) >= TEMPORAL_TICK_MS;
        if !(refreshing || temporal_due && self.any_temporal_view()) {
            return Vec::new();
        }
        self.advance_clock();
        self.start_due_full_refreshes()
    }

    /// Moves the dataflows' time to now, so that reads (made at the newest time) see what
    /// temporal filters let through now, not at the last write.
    pub(crate) fn advance_clock(&mut self) {
        let time = self.next_write_ts();
        self.compute.send(Command::AdvanceTime { time: time + 1 });
    }

    /// True if a materialized view has a temporal filter: its rows change as time passes.
    pub(crate) fn any_temporal_view(&self) -> bool {
        self.entries.values().any(|e| e.definition.as_ref().is_some_and(eddy_expr::temporal::has_temporal_filter))
    }

    /// `eddy_catalog.freshness` and `eddy_catalog.refresh_history`, as of now.
    fn freshness_table(&self, name: &str) -> Option<CatalogItem> {
        let views = self
            .entries
            .values()
            .filter(|e| e.item.kind == ItemKind::MaterializedView)
            .map(|e| (e.item.name.as_str(), self.freshness_of(e)));
        let log = self.refreshes.lock().ok()?;
        refresh::system_table(name, views, &log, self.last_write, wall_clock_ms())
    }

    /// Drops a dataflow made for one subscription.
    pub(crate) fn drop_transient(&mut self, id: GlobalId) {
        self.compute.send(Command::Drop { id });
    }

    /// True if a relation or index is called `name`.
    pub(crate) fn name_taken(&self, name: &str) -> bool {
        self.names.contains_key(name) || self.indexes.contains_key(name) || self.sequences.exists(name)
    }

    /// PostgreSQL's DETAIL naming the column defaults that draw from sequence `name`
    /// (`default value for column id of table t depends on sequence s`), if any.
    fn sequence_users(&self, name: &str) -> Option<String> {
        let users: Vec<String> = (self.entries.values())
            .flat_map(|e| {
                (e.item.defaults.iter().enumerate())
                    .filter(|(_, d)| {
                        d.as_deref().and_then(eddy_planner::sequence::default_sequence).as_deref() == Some(name)
                    })
                    .map(|(c, _)| {
                        let column = &e.item.desc.columns()[c].0;
                        format!("default value for column {column} of table {} depends on sequence {name}", e.item.name)
                    })
            })
            .collect();
        (!users.is_empty()).then(|| users.join("\n"))
    }

    /// The table an `OWNED BY table.column` names (the column must be one of its).
    fn sequence_owner(&self, table: &str, column: &str) -> Result<GlobalId, AdapterError> {
        let entry = self.names.get(table).and_then(|id| self.entries.get(id));
        let entry = entry.ok_or_else(|| AdapterError::Plan(eddy_planner::PlanError::UnknownRelation(table.into())))?;
        if entry.item.kind != ItemKind::Table {
            return Err(AdapterError::WrongObjectType(
                format!("sequence must have same owner as table it is linked to (\"{table}\" is not a table)"),
                String::new(),
            ));
        }
        if !entry.item.desc.columns().iter().any(|(n, _)| n == column) {
            return Err(AdapterError::Plan(eddy_planner::PlanError::UnknownColumn(format!(
                "{column}\" of relation \"{table}"
            ))));
        }
        Ok(entry.item.id)
    }

    fn exists(
        &self,
        session: &mut Session,
        name: &str,
        if_not_exists: bool,
        tag: &str,
    ) -> Result<ExecuteResponse, AdapterError> {
        if if_not_exists {
            session.notice("NOTICE", "42P07", format!("relation \"{name}\" already exists, skipping"));
            Ok(command(tag))
        } else {
            Err(AdapterError::Plan(eddy_planner::PlanError::RelationExists(name.to_string())))
        }
    }

    /// `id` and everything that reads it, transitively, dependents last.
    pub(crate) fn dependents(&self, id: GlobalId) -> Vec<GlobalId> {
        let mut out = vec![id];
        let mut i = 0;
        while i < out.len() {
            let current = out[i];
            for (other, e) in &self.entries {
                if e.depends_on.contains(&current) && !out.contains(other) {
                    out.push(*other);
                }
            }
            i += 1;
        }
        out
    }

    fn drop(
        &mut self,
        session: &mut Session,
        kind: ObjectKind,
        names: Vec<String>,
        if_exists: bool,
        cascade: bool,
    ) -> Result<ExecuteResponse, AdapterError> {
        let tag = format!("DROP {}", kind.as_str().to_uppercase());
        let mut to_drop = Vec::new();
        let mut named = Vec::new();
        for name in names {
            let Some(&id) = self.names.get(&name) else {
                if if_exists {
                    session.notice("NOTICE", "00000", format!("{} \"{name}\" does not exist, skipping", kind.as_str()));
                    continue;
                }
                return Err(AdapterError::UnknownObject(format!("{} \"{name}\" does not exist", kind.as_str())));
            };
            let entry = &self.entries[&id];
            if !kind.matches(entry.item.kind) {
                return Err(AdapterError::WrongObjectType(
                    format!("\"{name}\" is not a {}", kind.as_str()),
                    format!(
                        "Use DROP {} to remove a {}.",
                        entry.item.kind.as_str().to_uppercase(),
                        entry.item.kind.as_str()
                    ),
                ));
            }
            let all = self.dependents(id);
            if all.len() > 1 && !cascade {
                return Err(AdapterError::Dependents {
                    message: format!("cannot drop {} {name} because other objects depend on it", kind.as_str()),
                    detail: self.describe_dependencies(&all),
                });
            }
            named.push(id);
            to_drop.extend(all);
        }
        let mut cascaded: Vec<String> = Vec::new();
        for id in to_drop.iter().filter(|id| !named.contains(id)) {
            let line = self.label(*id);
            if !cascaded.contains(&line) {
                cascaded.push(line);
            }
        }
        // Foreign keys of tables that stay, into tables that go: CASCADE drops the keys.
        let referencing: Vec<(GlobalId, &String, String)> = (self.references_into(&to_drop).into_iter())
            .map(|(id, fk)| {
                let (child, parent) = (&self.entries[&fk.child].item.name, &self.entries[&fk.parent].item.name);
                (id, parent, format!("constraint {} on table {child}", fk.name))
            })
            .collect();
        cascaded.extend(referencing.iter().map(|(_, _, constraint)| constraint.clone()));
        if let Some((_, parent, _)) = referencing.first() {
            if !cascade {
                let lines: Vec<String> =
                    referencing.iter().map(|(_, p, constraint)| format!("{constraint} depends on table {p}")).collect();
                return Err(AdapterError::Dependents {
                    message: format!("cannot drop {} {parent} because other objects depend on it", kind.as_str()),
                    detail: lines.join("\n"),
                });
            }
            let ids: Vec<GlobalId> = referencing.iter().map(|(id, _, _)| *id).collect();
            for id in &ids {
                self.foreign_keys.remove(id);
            }
        }
        to_drop.dedup();
        session.notice_cascade(&cascaded);
        self.drop_ids(&to_drop);
        Ok(command(&tag))
    }

    /// PostgreSQL's DETAIL for dependents: `materialized view m depends on table t`, a line each.
    pub(crate) fn describe_dependencies(&self, ids: &[GlobalId]) -> String {
        let mut lines = Vec::new();
        for dependent in &ids[1..] {
            for used in self.entries[dependent].depends_on.iter().filter(|u| ids.contains(u)) {
                lines.push(format!("{} depends on {}", self.label(*dependent), self.label(*used)));
            }
        }
        lines.join("\n")
    }

    /// How PostgreSQL names a catalog object in dependency messages: `view v`.
    pub(crate) fn label(&self, id: GlobalId) -> String {
        let e = &self.entries[&id];
        format!("{} {}", e.item.kind.as_str(), e.item.name)
    }

    pub(crate) fn drop_ids(&mut self, ids: &[GlobalId]) {
        for id in ids.iter().rev() {
            // An object's indexes go with it, as in PostgreSQL (no CASCADE needed).
            for (name, _) in self.indexes_on(*id) {
                if let Some(index) = self.indexes.remove(&name) {
                    self.compute.send(Command::Drop { id: index.id });
                }
            }
            self.stop_source(*id);
            self.stored_outputs.remove(id);
            self.loading.remove(id);
            if let Some(e) = self.entries.remove(id) {
                self.names.remove(&e.item.name);
                self.sequences.forget_table(*id);
                self.forget_foreign_keys(*id);
                if e.item.kind != ItemKind::View {
                    self.compute.send(Command::Drop { id: *id });
                }
            }
        }
    }

    /// Evaluates `expr` at the latest complete time, reading maintained collections, as
    /// `session` sees them: with its transaction's uncommitted writes. The filters, maps and
    /// projections directly above each read run in the workers, which seek to the rows
    /// equality and range predicates on leading columns (or an index's) select.
    pub(crate) fn evaluate_now(&self, session: &Session, expr: &RelationExpr) -> Result<Collection, AdapterError> {
        Ok(self.evaluate_seeing(expr, &session.pending_writes)?)
    }

    /// Evaluates `expr` with `pending` changes applied on top of the committed state: a
    /// table they touch is read whole and patched, a materialized view over such a table
    /// is recomputed from its definition; everything else is read from compute.
    pub(crate) fn evaluate_seeing(
        &self,
        expr: &RelationExpr,
        pending: &[(GlobalId, Collection)],
    ) -> Result<Collection, EvalError> {
        eval::evaluate_pushdown(expr, &|id, pipeline| self.read_input(id, pipeline, pending, &|| false))
    }

    /// Reads every input of `expr` now, as `session` sees them, for [`PreparedSelect`] to
    /// evaluate without the coordinator.
    fn prepare_select(&self, session: &Session, q: &QueryPlan) -> Result<PreparedSelect, AdapterError> {
        let mut reads = Vec::new();
        eval::pushdown_reads(&q.expr, &mut reads);
        let cancelled = || session.cancel.is_requested();
        // A global aggregate's plan reads its input twice (for its row and for the default
        // row over no input): the same read is made once.
        let mut inputs: Vec<Collection> = Vec::with_capacity(reads.len());
        for (i, (id, pipeline)) in reads.iter().enumerate() {
            let rows = match reads[..i].iter().position(|earlier| *earlier == reads[i]) {
                Some(earlier) => inputs[earlier].clone(),
                None => self.read_input(*id, pipeline, &session.pending_writes, &cancelled)?,
            };
            inputs.push(rows);
        }
        Ok(PreparedSelect {
            desc: q.desc.clone(),
            finishing: q.finishing.clone(),
            expr: q.expr.clone(),
            inputs,
            cancel: session.cancel.clone(),
        })
    }

    /// The rows of collection `id` at the latest complete time that come out of `pipeline`,
    /// with `pending` changes applied (see [`Coordinator::evaluate_seeing`]); gives up
    /// waiting for the workers once `cancelled` says so.
    fn read_input(
        &self,
        id: GlobalId,
        pipeline: &Pipeline,
        pending: &[(GlobalId, Collection)],
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Collection, EvalError> {
        let ts = self.last_write;
        if let Some(e) = self.full_refresh_error(id) {
            return Err(e);
        }
        if self.sees_pending(id, pending) {
            let contents = match self.entries.get(&id).and_then(|e| e.definition.as_ref()) {
                Some(definition) => self.evaluate_seeing(definition, pending)?,
                None => {
                    let mut rows = self
                        .compute
                        .peek(id, ts, Pipeline::default(), vec![KeyRange::default()])
                        .map_err(peek_error)?;
                    rows.extend(pending.iter().filter(|(t, _)| *t == id).flat_map(|(_, c)| c.iter().cloned()));
                    eval::consolidate(rows)
                }
            };
            return pipeline.run(contents);
        }
        if let Some(rows) = self.read_stored_output(id, pipeline) {
            return rows;
        }
        self.check_loaded(id)?;
        let (collection, pipeline, range) = self.access_path(id, pipeline);
        self.compute.peek_unless(collection, ts, pipeline, vec![range], cancelled).map_err(peek_error)
    }

    /// True if collection `id` would differ with `pending` applied. A view with a target
    /// lag would not: it shows its inputs as of its last refresh, which no uncommitted
    /// write can be part of.
    pub(crate) fn sees_pending(&self, id: GlobalId, pending: &[(GlobalId, Collection)]) -> bool {
        pending.iter().any(|(t, c)| *t == id && !c.is_empty())
            || self
                .entries
                .get(&id)
                .filter(|e| e.refresh.is_none())
                .and_then(|e| e.definition.as_ref())
                .is_some_and(|d| d.depends_on().into_iter().any(|dep| self.sees_pending(dep, pending)))
    }

    /// Where to read `pipeline` over collection `id` from: the collection itself, or the
    /// index on it whose leading columns the pipeline's filters pin down furthest.
    fn access_path(&self, id: GlobalId, pipeline: &Pipeline) -> (GlobalId, Pipeline, KeyRange) {
        let Some(entry) = self.entries.get(&id) else { return (id, pipeline.clone(), KeyRange::default()) };
        let types: Vec<ScalarType> = entry.item.desc.types().map(|t| t.scalar_type.clone()).collect();
        let tightness = |r: &KeyRange| (r.prefix.len(), r.lower.is_some() || r.upper.is_some());
        let mut best = (id, pipeline.clone(), pipeline.key_range(&types));
        for index in self.indexes.values().filter(|i| i.on == id) {
            let permuted = pipeline.over_permuted(&index.permutation);
            let stored_types: Vec<ScalarType> = index.permutation.iter().map(|&c| types[c].clone()).collect();
            let range = permuted.key_range(&stored_types);
            if tightness(&range) > tightness(&best.2) {
                best = (index.id, permuted, range);
            }
        }
        best
    }

    pub(crate) fn create_index(
        &mut self,
        name: Option<String>,
        on: GlobalId,
        on_name: &str,
        columns: Vec<usize>,
        if_not_exists: bool,
    ) -> Result<ExecuteResponse, AdapterError> {
        let desc = &self.entry(on)?.item.desc;
        let name = match name {
            Some(n) if self.indexes.contains_key(&n) || self.names.contains_key(&n) => {
                return if if_not_exists {
                    Ok(command("CREATE INDEX"))
                } else {
                    Err(AdapterError::Plan(eddy_planner::PlanError::RelationExists(n)))
                };
            }
            Some(n) => n,
            None => {
                // PostgreSQL's default: table_col1_col2_idx, then idx1, idx2, ... if taken.
                let cols: Vec<&str> = columns.iter().map(|&c| desc.columns()[c].0.as_str()).collect();
                let base = format!("{on_name}_{}_idx", cols.join("_"));
                let taken = |n: &String| self.indexes.contains_key(n) || self.names.contains_key(n);
                std::iter::once(base.clone())
                    .chain((1..).map(|i| format!("{base}{i}")))
                    .find(|n| !taken(n))
                    .unwrap_or(base)
            }
        };
        let mut permutation = columns.clone();
        permutation.extend((0..desc.arity()).filter(|c| !columns.contains(c)));
        let index = Index { id: self.allocate_id(), on, columns, permutation };
        let expr = index.expr(&self.entry(on)?.item);
        self.compute.send(Command::CreateView { id: index.id, expr, refresh: None });
        self.indexes.insert(name, index);
        Ok(command("CREATE INDEX"))
    }

    /// Rejects `changes` to `table` if, on top of what the table holds now and of the
    /// session's uncommitted `pending` changes, two rows would have equal non-NULL values
    /// in a PRIMARY KEY or UNIQUE key. Existing rows are looked up by key: a seek per key
    /// when the key is the table's leading columns, otherwise one scan of the key columns.
    fn check_unique(
        &self,
        table: GlobalId,
        changes: &Collection,
        pending: &[(GlobalId, Collection)],
    ) -> Result<(), AdapterError> {
        let Some(entry) = self.entries.get(&table) else { return Ok(()) };
        let earlier = pending.iter().filter(|(id, _)| *id == table).flat_map(|(_, c)| c);
        for key in &entry.keys {
            let mut net: HashMap<Row, Diff> = HashMap::new();
            // Inserted keys, equal as SQL compares them (1.0 and 1.00 collide), each with
            // the key as written for the error message.
            let mut inserted: BTreeMap<Row, Row> = BTreeMap::new();
            for (row, diff) in earlier.clone().chain(changes) {
                let written = row.project(&key.columns);
                if written.iter().any(Datum::is_null) {
                    continue;
                }
                let k = written.clone().sql_normalized();
                *net.entry(k.clone()).or_default() += diff;
                if *diff > 0 {
                    inserted.insert(k, written);
                }
            }
            if inserted.is_empty() {
                continue;
            }
            let ranges = if is_leading(key) { key_lookups(inserted.keys()) } else { vec![KeyRange::default()] };
            let pipeline = Pipeline { ops: vec![RowOp::Project(key.columns.clone())], reduce: None };
            let mut counts: HashMap<Row, Diff> = HashMap::new();
            for (k, diff) in self.compute.peek(table, self.last_write, pipeline, ranges).map_err(peek_error)? {
                let k = k.sql_normalized();
                if inserted.contains_key(&k) {
                    *counts.entry(k).or_default() += diff;
                }
            }
            if let Some((_, written)) = inserted.iter().find(|(k, _)| counts.get(*k).unwrap_or(&0) + net[*k] > 1) {
                return Err(AdapterError::UniqueViolation {
                    constraint: key.name.clone(),
                    detail: format!("{} already exists.", describe_key(&entry.item.desc, &key.columns, written)),
                });
            }
        }
        Ok(())
    }

    /// At COMMIT of a transaction block: the rows its UPDATEs and DELETEs remove must still
    /// be in `table`. They were read by the block's statements; another session may have
    /// updated or deleted them since, and removing them again would count them twice. The
    /// block then fails as PostgreSQL's REPEATABLE READ does (first committer wins) and
    /// the client can retry it.
    fn check_deleted_rows_remain(&self, table: GlobalId, changes: &Collection) -> Result<(), AdapterError> {
        let mut removed: HashMap<&Row, Diff> = HashMap::new();
        for (row, diff) in changes {
            *removed.entry(row).or_default() += diff;
        }
        removed.retain(|_, diff| *diff < 0);
        if removed.is_empty() {
            return Ok(());
        }
        let ranges = key_lookups(removed.keys().copied());
        let pipeline = Pipeline { ops: vec![], reduce: None };
        let mut present: HashMap<Row, Diff> = HashMap::new();
        for (row, diff) in self.compute.peek(table, self.last_write, pipeline, ranges).map_err(peek_error)? {
            if removed.contains_key(&row) {
                *present.entry(row).or_default() += diff;
            }
        }
        if removed.iter().any(|(row, diff)| present.get(*row).copied().unwrap_or(0) + diff < 0) {
            let name = self.entries.get(&table).map_or_else(|| table.to_string(), |e| e.item.name.clone());
            return Err(AdapterError::SerializationFailure {
                detail: format!(
                    "Rows of \"{name}\" this transaction updated or deleted were changed by another session \
                     after this transaction read them."
                ),
            });
        }
        Ok(())
    }

    /// The RETURNING rows of a statement that wrote `rows` (positive multiplicities) to
    /// `table`, if it has a RETURNING clause.
    fn returning(
        &self,
        tag: &'static str,
        returning: Option<QueryPlan>,
        table: GlobalId,
        rows: &Collection,
    ) -> Result<Option<ExecuteResponse>, AdapterError> {
        let Some(q) = returning else { return Ok(None) };
        let returned = self.evaluate_with(&q.expr, table, rows)?;
        Ok(Some(ExecuteResponse::Returning { tag, desc: q.desc.clone(), rows: finish(returned, &q.finishing) }))
    }

    /// Evaluates `expr` with the table `table` replaced by `rows` (for RETURNING).
    fn evaluate_with(
        &self,
        expr: &RelationExpr,
        table: GlobalId,
        rows: &Collection,
    ) -> Result<Collection, AdapterError> {
        let read = |id: GlobalId| -> Result<Collection, EvalError> {
            if id == table {
                Ok(rows.iter().filter(|(_, d)| *d > 0).cloned().collect())
            } else {
                Err(EvalError::Internal("RETURNING may only read the inserted rows".into()))
            }
        };
        Ok(eval::evaluate(expr, &read)?)
    }

    /// Enforces NOT NULL and CHECK constraints on rows about to enter `table`.
    pub(crate) fn check_table_rows(&self, table: GlobalId, rows: Collection) -> Result<Collection, AdapterError> {
        let entry = &self.entries[&table];
        for (row, diff) in &rows {
            if *diff <= 0 {
                continue;
            }
            for (datum, (name, ty)) in row.iter().zip(entry.item.desc.columns()) {
                if datum.is_null() && !ty.nullable {
                    return Err(AdapterError::NotNull { column: name.clone(), table: entry.item.name.clone() });
                }
            }
            for check in &entry.checks {
                if check.expr.eval(row)? == Datum::Bool(false) {
                    return Err(AdapterError::CheckViolation {
                        constraint: check.name.clone(),
                        table: entry.item.name.clone(),
                        detail: format!("Failing row contains {}.", describe_row(&entry.item.desc, row)),
                    });
                }
            }
        }
        Ok(rows)
    }

    /// Applies `changes` to `table` now, or at COMMIT inside a transaction block.
    pub(crate) fn write(
        &mut self,
        session: &mut Session,
        table: GlobalId,
        changes: Collection,
    ) -> Result<(), AdapterError> {
        self.write_changes(session, table, changes, Cascades::None)
    }

    /// [`Self::write`], for a DELETE: with what foreign keys `ON DELETE CASCADE | SET
    /// NULL` make it do to the rows referencing the deleted ones.
    fn write_deleting(
        &mut self,
        session: &mut Session,
        table: GlobalId,
        changes: Collection,
    ) -> Result<(), AdapterError> {
        self.write_changes(session, table, changes, Cascades::Deletes)
    }

    fn write_changes(
        &mut self,
        session: &mut Session,
        table: GlobalId,
        changes: Collection,
        cascades: Cascades,
    ) -> Result<(), AdapterError> {
        self.check_loaded(table)?;
        self.check_unique(table, &changes, &session.pending_writes)?;
        let mut writes = vec![(table, changes)];
        if !self.foreign_keys.is_empty() {
            match cascades {
                Cascades::None => {}
                Cascades::Deletes => self.cascade_deletes(&session.pending_writes, &mut writes)?,
                Cascades::Updates(pairs) => {
                    self.cascade_updates(&session.pending_writes, &mut writes, pairs)?;
                    // A referencing row that took a new key may collide with one of its own keys.
                    for (child, changes) in &writes[1..] {
                        self.check_unique(*child, changes, &session.pending_writes)?;
                    }
                }
            }
            let changed: Vec<(GlobalId, &Collection)> = writes.iter().map(|(t, c)| (*t, c)).collect();
            let seen: Vec<(GlobalId, &Collection)> =
                session.pending_writes.iter().map(|(t, c)| (*t, c)).chain(changed.iter().copied()).collect();
            self.check_references(&changed, &seen, session, false)?;
        }
        self.stage_writes(session, writes);
        Ok(())
    }

    /// Applies checked writes now, at one timestamp, or at COMMIT inside a transaction
    /// block.
    fn stage_writes(&mut self, session: &mut Session, writes: Vec<(GlobalId, Collection)>) {
        if session.in_transaction {
            session.pending_writes.extend(writes);
        } else {
            self.commit_table_writes(session, &writes);
        }
    }

    /// Applies a session's table writes in compute at one timestamp and queues them to
    /// the store. The session keeps them (packed, shared with the store) until they are
    /// durable, to undo them if they cannot be made so.
    fn commit_table_writes(&mut self, session: &mut Session, writes: &[(GlobalId, Collection)]) {
        let packed: Vec<_> = pack_writes(writes).into_iter().filter(|(_, updates)| !updates.is_empty()).collect();
        if self.store.is_ephemeral() {
            self.apply_packed(packed);
            return;
        }
        let shared: Vec<(GlobalId, SharedRows)> =
            packed.iter().map(|(id, updates)| (*id, Arc::new(updates.clone()))).collect();
        session.unsynced.extend(shared.iter().cloned());
        let time = self.apply_packed(packed);
        self.persist_table_writes(shared, time);
    }

    /// Applies several collections' changes atomically in compute: one timestamp for all.
    /// Durability is the caller's: tables queue them to the store (and the session waits
    /// for them before answering), sources have persisted them already. Returns the time.
    pub fn apply_packed(&mut self, writes: Vec<(GlobalId, Vec<(PackedRow, Diff)>)>) -> Timestamp {
        if writes.is_empty() {
            return self.last_write;
        }
        let time = self.next_write_ts();
        for (id, updates) in writes {
            if self.entries.contains_key(&id) && !updates.is_empty() {
                self.compute.update(id, updates, time);
                self.last_changed.insert(id, time);
            }
        }
        self.compute.send(Command::AdvanceTime { time: time + 1 });
        time
    }

    /// Checks and writes rows decoded by COPY.
    pub fn copy_rows(
        &mut self,
        session: &mut Session,
        table: GlobalId,
        rows: Vec<Row>,
        generated: &[usize],
    ) -> Result<usize, AdapterError> {
        if !self.entries.contains_key(&table) {
            return Err(AdapterError::Internal("the COPY target table was dropped".into()));
        }
        let n = rows.len();
        let rows = self.number_rows(session, table, rows.into_iter().map(|r| (r, 1)).collect(), generated)?;
        let rows = self.check_table_rows(table, rows)?;
        self.write(session, table, rows)?;
        Ok(n)
    }

    pub(crate) fn show(&self, session: &Session, kind: ShowKind) -> Result<ExecuteResponse, AdapterError> {
        let text_col = |name: &str| (name.to_string(), ColumnType::new(ScalarType::Text, false));
        let list = |kind: ItemKind| {
            let rows = self
                .entries
                .values()
                .filter(|e| e.item.kind == kind)
                .map(|e| Row::new(vec![Datum::Text(e.item.name.clone())]))
                .collect::<Vec<_>>();
            let mut rows = rows;
            rows.sort();
            ExecuteResponse::Rows { desc: RelationDesc::new(vec![text_col("name")]), rows }
        };
        Ok(match kind {
            ShowKind::Tables => list(ItemKind::Table),
            ShowKind::Indexes => {
                let rows = self
                    .indexes
                    .iter()
                    .filter_map(|(name, index)| {
                        let on = self.entries.get(&index.on)?;
                        let cols: Vec<&str> =
                            index.columns.iter().map(|&c| on.item.desc.columns()[c].0.as_str()).collect();
                        Some(Row::new(vec![
                            Datum::Text(name.clone()),
                            Datum::Text(on.item.name.clone()),
                            Datum::Text(cols.join(", ")),
                        ]))
                    })
                    .collect();
                let desc = RelationDesc::new(vec![text_col("name"), text_col("on"), text_col("key")]);
                ExecuteResponse::Rows { desc, rows }
            }
            ShowKind::Views => list(ItemKind::View),
            ShowKind::MaterializedViews => list(ItemKind::MaterializedView),
            ShowKind::Sources => self.show_sources(),
            ShowKind::Connections => self.show_connections(),
            ShowKind::DynamicTables => self.show_dynamic_tables(),
            ShowKind::CreateNamed { kind, name } => self.show_create_named(kind, &name)?,
            ShowKind::Secrets => self.show_secrets(),
            ShowKind::Columns(id) => {
                let e = self.entry(id)?;
                let rows = e
                    .item
                    .desc
                    .columns()
                    .iter()
                    .map(|(n, t)| {
                        Row::new(vec![
                            Datum::Text(n.clone()),
                            Datum::Bool(t.nullable),
                            Datum::Text(t.scalar_type.to_string()),
                        ])
                    })
                    .collect();
                ExecuteResponse::Rows {
                    desc: RelationDesc::new(vec![
                        text_col("name"),
                        ("nullable".into(), ColumnType::new(ScalarType::Bool, false)),
                        text_col("type"),
                    ]),
                    rows,
                }
            }
            ShowKind::CreateObject(id) => {
                let e = self.entry(id)?;
                ExecuteResponse::Rows {
                    desc: RelationDesc::new(vec![text_col("name"), text_col("create_sql")]),
                    rows: vec![Row::new(vec![Datum::Text(e.item.name.clone()), Datum::Text(e.create_sql.clone())])],
                }
            }
            ShowKind::Variable(name) => {
                let value = session.get(&name)?;
                ExecuteResponse::Rows {
                    desc: RelationDesc::new(vec![text_col(&name)]),
                    rows: vec![Row::new(vec![Datum::Text(value)])],
                }
            }
            ShowKind::AllVariables => ExecuteResponse::Rows {
                desc: RelationDesc::new(vec![text_col("name"), text_col("setting")]),
                rows: session.all().into_iter().map(|(n, v)| Row::new(vec![Datum::Text(n), Datum::Text(v)])).collect(),
            },
        })
    }

    pub(crate) fn entry(&self, id: GlobalId) -> Result<&CatalogEntry, AdapterError> {
        self.entries.get(&id).ok_or_else(|| AdapterError::Internal(format!("catalog entry {id} vanished")))
    }
}

/// The one text column `SELECT set_config(...)` answers with.
pub(crate) fn set_config_desc() -> RelationDesc {
    RelationDesc::new(vec![("set_config".into(), ColumnType::new(ScalarType::Text, true))])
}

pub(crate) fn command(tag: &str) -> ExecuteResponse {
    ExecuteResponse::Command { tag: tag.to_string(), rows: None }
}

/// Each collection's updates packed, as compute takes them.
fn pack_writes(writes: &[(GlobalId, Collection)]) -> Vec<(GlobalId, Vec<(PackedRow, Diff)>)> {
    writes.iter().map(|(id, updates)| (*id, eddy_compute::pack_updates(updates))).collect()
}

/// The CREATE TABLE statement stored for (and shown by SHOW CREATE TABLE of) a table.
pub(crate) fn create_table_sql(
    name: &str,
    desc: &RelationDesc,
    defaults: &[Option<String>],
    keys: &[UniqueKey],
    checks: &[CheckConstraint],
) -> String {
    let checks: String =
        checks.iter().map(|c| format!(", CONSTRAINT {} CHECK ({})", quote_ident(&c.name), c.sql)).collect();
    format!("CREATE TABLE {} ({}{}{checks})", quote_ident(name), column_list(desc, defaults), key_list(desc, keys))
}

/// A row as PostgreSQL shows it in `Failing row contains (1, x, null).`
fn describe_row(desc: &RelationDesc, row: &[Datum]) -> String {
    let values: Vec<String> = (row.iter().zip(desc.columns()))
        .map(|(d, (_, ty))| strconv::datum_to_text(d, &ty.scalar_type).unwrap_or_else(|| "null".into()))
        .collect();
    format!("({})", values.join(", "))
}

/// ` , PRIMARY KEY (a), UNIQUE (b, c)` for SHOW CREATE TABLE.
fn key_list(desc: &RelationDesc, keys: &[UniqueKey]) -> String {
    keys.iter()
        .map(|k| {
            let cols: Vec<String> = k.columns.iter().map(|&c| quote_ident(&desc.columns()[c].0)).collect();
            format!(
                ", CONSTRAINT {} {} ({})",
                quote_ident(&k.name),
                if k.primary { "PRIMARY KEY" } else { "UNIQUE" },
                cols.join(", ")
            )
        })
        .collect()
}

/// The key part of PostgreSQL's DETAIL for a unique violation: `Key (a, b)=(1, x)`
/// (followed by `already exists.` or `is duplicated.`).
pub(crate) fn describe_key(desc: &RelationDesc, columns: &[usize], key: &Row) -> String {
    let names: Vec<&str> = columns.iter().map(|&c| desc.columns()[c].0.as_str()).collect();
    let values: Vec<String> = columns
        .iter()
        .zip(key.iter())
        .map(|(&c, d)| strconv::datum_to_text(d, &desc.columns()[c].1.scalar_type).unwrap_or_else(|| "null".into()))
        .collect();
    format!("Key ({})=({})", names.join(", "), values.join(", "))
}

pub(crate) fn peek_error(e: PeekError) -> EvalError {
    match e {
        PeekError::Eval(e) => e,
        other => EvalError::Internal(other.to_string()),
    }
}

fn column_list(desc: &RelationDesc, defaults: &[Option<String>]) -> String {
    desc.columns()
        .iter()
        .enumerate()
        .map(|(i, (n, t))| {
            let n = quote_ident(n);
            let default = defaults.get(i).cloned().flatten();
            let not_null = if t.nullable { "" } else { " NOT NULL" };
            match default {
                Some(sql) if eddy_planner::identity_generation(&sql).is_some() => {
                    format!("{n} {} {sql}", t.scalar_type)
                }
                Some(sql) => format!("{n} {} DEFAULT {sql}{not_null}", t.scalar_type),
                None => format!("{n} {}{not_null}", t.scalar_type),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Expands multiplicities, sorts, applies OFFSET/LIMIT and the final projection.
pub fn finish(rows: Collection, finishing: &RowSetFinishing) -> Vec<Row> {
    let mut expanded: Vec<Row> = Vec::new();
    for (row, diff) in rows {
        for _ in 0..diff.max(0) {
            expanded.push(row.clone());
        }
    }
    if !finishing.order_by.is_empty() {
        expanded.sort_by(|a, b| eddy_expr::compare_rows(a, b, &finishing.order_by));
    }
    expanded
        .into_iter()
        .skip(finishing.offset)
        .take(finishing.limit.unwrap_or(usize::MAX))
        .map(|r| r.project(&finishing.project))
        .collect()
}

/// Whether `key` is on its table's leading columns, so that rows with a given value of
/// it can be found by seeks.
pub(crate) fn is_leading(key: &UniqueKey) -> bool {
    key.columns.iter().enumerate().all(|(i, c)| i == *c)
}

/// What a write does through foreign keys to the rows referencing the rows it changes.
enum Cascades {
    None,
    /// A DELETE: `ON DELETE CASCADE | SET NULL`.
    Deletes,
    /// An UPDATE, its rows before and after: `ON UPDATE CASCADE | SET NULL`.
    Updates(Vec<(Row, Row)>),
}

/// The seeks (sorted, disjoint) that find a table's rows with any of the leading keys
/// `keys` (SQL-normalized).
pub(crate) fn key_lookups<'a>(keys: impl IntoIterator<Item = &'a Row>) -> Vec<KeyRange> {
    let mut ranges: Vec<KeyRange> = keys.into_iter().map(key_lookup).collect();
    ranges.sort_by_key(KeyRange::start);
    ranges.dedup();
    ranges
}

/// Where a table's rows with the leading key `key` (SQL-normalized) lie: a seek on the
/// whole key, or, from the first value that can have twins written differently (numeric
/// scale), a range holding all of them.
fn key_lookup(key: &Row) -> KeyRange {
    match key.iter().position(Datum::has_twins) {
        None => KeyRange { prefix: key.to_vec(), lower: None, upper: None },
        Some(i) => KeyRange { prefix: key[..i].to_vec(), lower: Some(key[i].clone()), upper: Some(key[i].clone()) },
    }
}
