//! What the coordinator keeps in the durable store, and the restart that reads it back.
//!
//! The catalog is stored as one record per object (its CREATE statement), written after
//! each DDL statement and replayed in id order at startup. Table writes are queued to the
//! store as they are applied; the session waits for them (group commit) before it answers,
//! and undoes them if the data directory refuses them. Source batches are persisted with
//! their offsets before they are applied (see `sources.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eddy_compute::{Command, SubscribeEvent};
use eddy_expr::eval::Collection;
use eddy_planner::{ItemKind, Plan, StatementContext};
use eddy_repr::{GlobalId, PackedRow, Timestamp};
use eddy_storage::durable::{CatalogRecord, SharedRows, Store, WriteSet};
use tracing::{info, warn};

use crate::coordinator::Coordinator;
use crate::error::AdapterError;
use crate::session::Session;
use crate::subscribe::{Merger, Output};
use crate::system_tables;

/// A materialized view's output changes are written to the store once none has come for
/// this long. A stored output serves reads after a restart only if it includes the last
/// write to every table the view reads, so one written while writes keep coming is
/// stale by the next write: storing it then is work (and a large write other writers
/// wait behind) that serves nothing. Its time alone is stored this often, too.
const OUTPUT_QUIET: Duration = Duration::from_millis(300);

/// Under a steady stream of changes, the stored output trails the view by at most this
/// much (or [`LOAD_CHUNK`] changes): bounds the memory and the work a restart replays.
const OUTPUT_MAX_TRAIL: Duration = Duration::from_secs(10);

/// Rows handed to compute per chunk while a collection is loaded at startup: bounds the
/// memory a restart needs on top of the arrangements themselves.
const LOAD_CHUNK: usize = 500_000;

/// `eddy_catalog.hydration`: after a restart, when each materialized view and index had
/// caught up with the restored data.
#[derive(Default)]
pub struct Hydration {
    views: BTreeMap<GlobalId, HydrationState>,
}

impl Hydration {
    fn is_hydrated(&self, id: GlobalId) -> bool {
        self.views.get(&id).is_none_or(|s| s.ms.is_some())
    }
}

struct HydrationState {
    name: String,
    kind: &'static str,
    /// Milliseconds from the start of the restart until it was complete; `None` while
    /// it is still rehydrating.
    ms: Option<u64>,
}

/// True for plans that change the catalog.
pub(crate) fn changes_catalog(plan: &Plan) -> bool {
    matches!(
        plan,
        Plan::CreateTable { .. }
            | Plan::CreateView { .. }
            | Plan::Drop { .. }
            | Plan::CreateIndex { .. }
            | Plan::CreateUniqueIndex { .. }
            | Plan::DropIndex { .. }
            | Plan::CreateSecret { .. }
            | Plan::CreateConnection { .. }
            | Plan::CreateSource { .. }
            | Plan::DropOther { .. }
            | Plan::AlterRefresh { .. }
            | Plan::AlterTable { .. }
            | Plan::Comment { .. }
            | Plan::CreateSchema { .. }
            | Plan::DropSchema { .. }
            | Plan::CreateSequence { .. }
            | Plan::AddForeignKeys { .. }
            | Plan::AlterSequence { .. }
            | Plan::DropSequence { .. }
            | Plan::Rename { .. }
    )
}

impl Coordinator {
    /// The catalog as it must be stored now: every object but a multi-table source's
    /// tables (its CREATE SOURCE makes them).
    fn catalog_records(&self) -> BTreeMap<GlobalId, CatalogRecord> {
        let mut records = BTreeMap::new();
        for (&id, e) in self.entries() {
            if e.item.kind == ItemKind::Source && !e.depends_on.is_empty() {
                continue;
            }
            // The target lag is in the CREATE statement (ALTER rewrites it); 0: no lag here.
            let refresh = e.target.map(|_| (0, e.suspended));
            let comments = e.comments.iter().map(|(&c, text)| (c, text.clone())).collect();
            let record =
                CatalogRecord { id, name: e.item.name.clone(), create_sql: e.create_sql.clone(), refresh, comments };
            records.insert(id, record);
        }
        for (name, &id) in &self.schemas {
            let create_sql = format!("CREATE SCHEMA {}", eddy_planner::quote_ident(name));
            records.insert(id, CatalogRecord { id, name: name.clone(), create_sql, refresh: None, comments: vec![] });
        }
        let table_name = |id| self.entries().get(&id).map(|e: &crate::coordinator::CatalogEntry| e.item.name.clone());
        let sequences = self.sequences.statements(table_name);
        let foreign_keys = self.foreign_key_statements();
        let statements = self.index_statements().into_iter().chain(self.sources.statements());
        for (name, id, sql) in statements.chain(sequences).chain(foreign_keys) {
            records.insert(id, CatalogRecord { id, name, create_sql: sql, refresh: None, comments: vec![] });
        }
        records
    }

    /// Writes what DDL changed in the catalog, and removes the stored rows of dropped
    /// collections, then waits until that is durable.
    pub(crate) fn persist_catalog(&mut self) -> Result<(), AdapterError> {
        let records = self.catalog_records();
        let collections: BTreeSet<GlobalId> = self.collection_ids();
        let mut writes = WriteSet::default();
        for (id, record) in &records {
            if self.persisted.get(id) != Some(record) {
                writes.catalog_put.push(record.clone());
            }
        }
        writes.catalog_delete = self.persisted.keys().filter(|id| !records.contains_key(id)).copied().collect();
        writes.drop_collections = self.persisted_collections.difference(&collections).copied().collect();
        if !writes.is_empty() {
            writes.next_id = Some(self.peek_next_id());
            // Counters moved by ALTER TABLE are stored with the new definition.
            writes.sequences = self.sequences.take_unsaved();
            self.store.commit(writes)?;
        }
        self.persisted = records;
        self.persisted_collections = collections;
        Ok(())
    }

    /// Queues table changes for the store; the statement's session waits for them.
    /// With each table's rows goes the time they were written at (as its upper): after a
    /// restart, a view's stored output is only used if it includes every write to its
    /// tables, so that a read never misses a write the client was told was committed.
    /// The serial counters moved since the last write go with it (numbers handed out to
    /// rows that were rolled back stay used, as PostgreSQL's sequences do).
    pub(crate) fn persist_table_writes(&mut self, changes: Vec<(GlobalId, SharedRows)>, time: Timestamp) {
        if changes.is_empty() {
            return;
        }
        let uppers = changes.iter().map(|(id, _)| (*id, time + 1)).collect();
        let sequences = self.sequences.take_unsaved();
        self.store.enqueue(WriteSet { changes, uppers, sequences, ..WriteSet::default() });
    }

    /// Recreates every stored object under its stored id. Their stored rows are loaded
    /// afterwards, while the server answers ([`spawn_loader`]); restored sources start
    /// once their rows are in.
    pub fn restore(&mut self) -> Result<(), AdapterError> {
        let started = Instant::now();
        let records = self.store.catalog()?;
        if records.is_empty() {
            return Ok(());
        }
        self.restoring = true;
        let mut session = Session::new("eddy".into(), "eddy".into());
        // Sequences and foreign keys last: they may name a table created after them (a
        // sequence OWNED BY it, a key referencing it). Nothing else needs them while
        // restoring (defaults look sequences up when they run).
        let (sequences, objects): (Vec<&CatalogRecord>, Vec<&CatalogRecord>) = records
            .iter()
            .partition(|r| r.create_sql.starts_with("CREATE SEQUENCE") || r.create_sql.starts_with("ALTER TABLE"));
        let result = objects.into_iter().chain(sequences).try_for_each(|record| self.replay(&mut session, record));
        self.restoring = false;
        result?;
        self.loading_in_progress = true;
        let stored_next = self.store.next_id()?.unwrap_or(0);
        self.set_next_id(stored_next.max(self.peek_next_id()));
        let stored: BTreeSet<GlobalId> = self.store.collections()?.into_iter().collect();
        let live = self.collection_ids();
        let leftovers: Vec<GlobalId> = stored.difference(&live).copied().collect();
        if !leftovers.is_empty() {
            // Rows a source persisted just as it was dropped: nobody can read them.
            self.store.commit(WriteSet { drop_collections: leftovers, ..WriteSet::default() })?;
        }
        self.persisted = self.catalog_records();
        self.persisted_collections = live;
        info!(
            objects = records.len(),
            ms = started.elapsed().as_millis() as u64,
            "catalog restored from {}; loading stored rows",
            self.store.dir().display()
        );
        Ok(())
    }

    /// While restoring: `ids`' stored rows are to be loaded before they can be used.
    pub(crate) fn defer_load(&mut self, ids: &[GlobalId]) {
        if self.restoring {
            self.loading.extend(ids.iter().map(|&id| (id, 0)));
        }
    }

    /// Reads and writes of a table or source still being loaded after a restart (or of a
    /// materialized view with no stored output while loading goes on) are refused: they
    /// would see part of its rows.
    pub(crate) fn check_loaded(&self, id: GlobalId) -> Result<(), eddy_expr::EvalError> {
        if !self.loading_in_progress && self.loading.is_empty() {
            return Ok(());
        }
        let starting_up = |message: String| eddy_expr::EvalError::InvalidArgument { sqlstate: "57P03".into(), message };
        let name = || self.entries().get(&id).map_or_else(|| id.to_string(), |e| e.item.name.clone());
        if let (Some(why), true) = (&self.load_failed, self.loading.contains_key(&id)) {
            return Err(eddy_expr::EvalError::InvalidArgument {
                sqlstate: "XX001".into(),
                message: format!("the stored rows of {} could not be loaded after the restart: {why}", name()),
            });
        }
        if let Some(rows) = self.loading.get(&id) {
            return Err(starting_up(format!(
                "{} is still being loaded after a restart ({rows} rows so far); try again shortly",
                name()
            )));
        }
        let materialized = self.entries().get(&id).is_some_and(|e| e.item.kind == ItemKind::MaterializedView);
        if materialized && self.loading_in_progress {
            return Err(starting_up(format!(
                "materialized view {} is rehydrating after a restart and has no stored output; try again shortly",
                name()
            )));
        }
        Ok(())
    }

    /// Keeps materialized view `id`'s output in the store, with the time it is complete
    /// to, so that after a restart it can be read before its dataflow has rehydrated.
    /// The first write replaces whatever was stored (the view's whole contents); during
    /// a restart that waits until the view has caught up with the restored data.
    pub(crate) fn persist_output(&mut self, id: GlobalId) {
        if self.store.is_ephemeral() {
            return;
        }
        if self.restoring {
            // Its stored output is replaced once the view has caught up with all the
            // restored rows: started when they are all loaded.
            self.deferred_output_writers.insert(id);
            return;
        }
        let events = self.compute.subscribe(id);
        let as_of = self.last_write;
        let (store, workers) = (self.store.clone(), self.compute.workers());
        let spawned = std::thread::Builder::new()
            .name(format!("persist-view-{id}"))
            .spawn(move || write_outputs(id, &store, events, workers, as_of));
        if let Err(e) = spawned {
            warn!("cannot persist the output of view {id}: {e}");
        }
    }

    /// While restoring: notes that materialized view `id` has a stored output, which its
    /// reads use until it has rehydrated.
    /// Only an output that includes the last write to each of the view's tables is used.
    pub(crate) fn note_stored_output(&mut self, id: GlobalId, depends_on: &[GlobalId]) -> Result<(), AdapterError> {
        let Some(upper) = self.store.upper(id)?.filter(|_| self.restoring) else { return Ok(()) };
        let mut tables = Vec::new();
        let mut pending: Vec<GlobalId> = depends_on.to_vec();
        while let Some(dep) = pending.pop() {
            match self.entries().get(&dep) {
                Some(e) if e.item.kind == ItemKind::Table => tables.push(dep),
                Some(e) => pending.extend(e.depends_on.iter().copied()),
                None => {}
            }
        }
        for table in tables {
            if self.store.upper(table)?.is_some_and(|written| written > upper) {
                info!(view = id, "the stored output misses the last writes to its tables: reads wait for rehydration");
                return Ok(());
            }
        }
        self.stored_outputs.insert(id);
        Ok(())
    }

    /// While materialized view `id` rehydrates: its rows that come out of `pipeline`, read
    /// straight from its stored output (as of when it was last stored), so that reads need
    /// not wait for compute.
    pub(crate) fn read_stored_output(
        &self,
        id: GlobalId,
        pipeline: &eddy_expr::Pipeline,
    ) -> Option<Result<Collection, eddy_expr::EvalError>> {
        let hydrated = || self.hydration.lock().ok().is_some_and(|h| h.is_hydrated(id));
        if !self.stored_outputs.contains(&id) || (!self.loading_in_progress && hydrated()) {
            return None;
        }
        let mut rows = Vec::new();
        let mut failed = None;
        let read = self.store.read_collection(id, LOAD_CHUNK, |chunk| {
            for (row, diff) in chunk {
                match pipeline.apply(&row) {
                    Ok(out) => rows.extend(out.map(|r| (r, diff))),
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                }
            }
        });
        Some(match (read, failed) {
            (Err(e), _) => Err(eddy_expr::EvalError::Internal(e.to_string())),
            (_, Some(e)) => Err(e),
            // Stored as a log: a row may come more than once, and retracted.
            _ => pipeline.finish(eddy_expr::eval::consolidate(rows)),
        })
    }

    /// Forgets the stored outputs of views that have rehydrated: reads go to compute.
    pub(crate) fn release_hydrated_outputs(&mut self) {
        if self.loading_in_progress || self.stored_outputs.is_empty() {
            return;
        }
        let Ok(h) = self.hydration.lock() else { return };
        self.stored_outputs.retain(|id| !h.is_hydrated(*id));
    }

    /// Re-executes one stored CREATE statement under its stored id.
    fn replay(&mut self, session: &mut Session, record: &CatalogRecord) -> Result<(), AdapterError> {
        let fail = |e: AdapterError| {
            AdapterError::Internal(format!(
                "cannot restore {} (id {}) from the data directory: {e}; statement: {}",
                record.name, record.id, record.create_sql
            ))
        };
        let statements = eddy_planner::parse(&record.create_sql).map_err(|e| fail(e.into()))?;
        let Some(statement) = statements.first() else { return Ok(()) };
        let ctx = StatementContext::new(chrono::Utc::now());
        let (plan, _) = eddy_planner::plan(statement, &*self, &ctx).map_err(|e| fail(e.into()))?;
        self.set_next_id(record.id);
        self.execute(session, plan).map_err(fail)?;
        if let Some((every, suspended)) = record.refresh {
            self.restore_refresh(record.id, every, suspended);
        }
        if let Some(entry) = self.entries.get_mut(&record.id) {
            entry.comments = record.comments.iter().cloned().collect();
        }
        Ok(())
    }

    /// Follows every materialized view and index until it is complete at `time` (the
    /// restored data's), for `eddy_catalog.hydration` and the log.
    fn watch_hydration(&mut self, time: Timestamp, started: Instant) {
        let mut targets: Vec<(GlobalId, String, &'static str)> = self
            .entries()
            .iter()
            .filter(|(_, e)| e.item.kind == ItemKind::MaterializedView)
            .map(|(&id, e)| (id, e.item.name.clone(), "materialized view"))
            .collect();
        targets.extend(self.index_statements().into_iter().map(|(name, id, _)| (id, name, "index")));
        let workers = self.compute.workers();
        for (id, name, kind) in targets {
            if let Ok(mut h) = self.hydration.lock() {
                h.views.insert(id, HydrationState { name: name.clone(), kind, ms: None });
            }
            let answers = self.compute.peek_later(id, time, eddy_expr::Pipeline::default(), vec![]);
            let hydration = self.hydration.clone();
            let spawned = std::thread::Builder::new().name("hydration".into()).spawn(move || {
                for _ in 0..workers {
                    if answers.recv().is_err() {
                        return;
                    }
                }
                let ms = started.elapsed().as_millis() as u64;
                info!(%name, kind, ms, "rehydrated");
                if let Ok(mut h) = hydration.lock() {
                    if let Some(state) = h.views.get_mut(&id) {
                        state.ms = Some(ms);
                    }
                }
            });
            if let Err(e) = spawned {
                warn!("cannot follow the rehydration of {id}: {e}");
            }
        }
    }

    /// `eddy_catalog.hydration` and `eddy_catalog.storage`, as of now.
    pub(crate) fn durability_table(&self, name: &str) -> Option<eddy_planner::CatalogItem> {
        use eddy_repr::{Datum, Row, ScalarType};
        use system_tables::{column, nullable_column};
        match name {
            "eddy_catalog.hydration" => {
                let h = self.hydration.lock().ok()?;
                let rows = h
                    .views
                    .iter()
                    .filter(|(id, _)| self.entries().contains_key(id) || self.index_ids().any(|i| i == **id))
                    .map(|(_, s)| {
                        Row::new(vec![
                            Datum::Text(s.name.clone()),
                            Datum::Text(s.kind.into()),
                            Datum::Bool(s.ms.is_some()),
                            s.ms.map_or(Datum::Null, |ms| Datum::Int64(ms as i64)),
                        ])
                    })
                    .collect();
                let columns = vec![
                    column("name", ScalarType::Text),
                    column("kind", ScalarType::Text),
                    column("hydrated", ScalarType::Bool),
                    nullable_column("hydration_ms", ScalarType::Int64),
                ];
                Some(system_tables::constant(name, system_tables::HYDRATION, columns, rows))
            }
            "eddy_catalog.storage" => {
                // Per table, source and materialized view (its stored output): rows, the
                // changes stored for them (until compacted) and their encoded bytes before
                // compression, and what its arrangement holds
                // in memory (updates: rows at their distinct times, not yet consolidated;
                // and their bytes); then the directory's size on disk.
                let sizes = self.store.sizes();
                let in_memory = self.compute.arrangement_sizes();
                let mut rows: Vec<Row> = self
                    .entries()
                    .iter()
                    .filter(|(_, e)| e.item.kind != ItemKind::View && !e.item.desc.columns().is_empty())
                    .map(|(&id, e)| {
                        let size = sizes.get(&id).copied().unwrap_or_default();
                        let memory = in_memory.get(&id).copied().unwrap_or_default();
                        Row::new(vec![
                            Datum::Text(e.item.name.clone()),
                            Datum::Text(e.item.kind.as_str().into()),
                            Datum::Int64(size.rows),
                            Datum::Int64(size.changes),
                            Datum::Int64(size.bytes),
                            Datum::Int64(memory.updates as i64),
                            Datum::Int64(memory.bytes as i64),
                        ])
                    })
                    .collect();
                rows.sort();
                rows.push(Row::new(vec![
                    Datum::Text(self.store.dir().display().to_string()),
                    Datum::Text("data directory (on disk, compressed)".into()),
                    Datum::Null,
                    Datum::Null,
                    Datum::Int64(self.store.bytes_on_disk() as i64),
                    Datum::Null,
                    Datum::Null,
                ]));
                let columns = vec![
                    column("name", ScalarType::Text),
                    column("kind", ScalarType::Text),
                    nullable_column("rows", ScalarType::Int64),
                    nullable_column("changes", ScalarType::Int64),
                    column("bytes", ScalarType::Int64),
                    nullable_column("updates_in_memory", ScalarType::Int64),
                    nullable_column("bytes_in_memory", ScalarType::Int64),
                ];
                Some(system_tables::constant(name, system_tables::STORAGE, columns, rows))
            }
            _ => None,
        }
    }

    /// Collections with stored rows or that may get some: tables, sources, views and
    /// indexes (views and indexes have none yet, but their ids must not be reused).
    fn collection_ids(&self) -> BTreeSet<GlobalId> {
        self.entries().keys().copied().chain(self.index_ids()).collect()
    }
}

/// Loads the stored rows of a restart on a thread of its own, taking the coordinator
/// only to hand compute each chunk, so that the server answers meanwhile (views with a
/// stored output from it at once). Then starts the restored sources, the views' output
/// writers, and follows the views' rehydration.
pub fn spawn_loader(coord: Arc<Mutex<Coordinator>>) {
    let spawned = std::thread::Builder::new().name("restore-loader".into()).spawn(move || {
        if let Err(e) = load_all(&coord) {
            tracing::error!("loading stored rows failed; what was not loaded cannot be read or written: {e}");
            if let Ok(mut c) = coord.lock() {
                c.load_failed = Some(e.to_string());
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start loading stored rows: {e}");
    }
}

fn load_all(coord: &Mutex<Coordinator>) -> Result<(), AdapterError> {
    let started = Instant::now();
    let lock = || coord.lock().map_err(|_| AdapterError::Internal("coordinator lock poisoned".into()));
    let (store, workers, ids) = {
        let c = lock()?;
        if !c.loading_in_progress {
            return Ok(());
        }
        (c.store.clone(), c.compute.workers(), c.loading.keys().copied().collect::<Vec<_>>())
    };
    let mut total = 0u64;
    for id in ids {
        // Each chunk gets a timestamp of its own and is arranged before the next but one
        // is sent: memory stays close to what the arrangements need.
        let mut in_flight: Option<crossbeam_channel::Receiver<eddy_compute::PeekResponse>> = None;
        store.read_collection_packed(id, LOAD_CHUNK, |chunk| {
            let Ok(mut c) = coord.lock() else { return };
            let Some(loaded) = c.loading.get_mut(&id) else { return }; // dropped meanwhile
            *loaded += chunk.len() as u64;
            total += chunk.len() as u64;
            let time = c.next_write_ts();
            c.compute.update(id, chunk, time);
            c.compute.send(Command::AdvanceTime { time: time + 1 });
            let arranged = c.compute.peek_later(id, time, eddy_expr::Pipeline::default(), vec![]);
            drop(c);
            if let Some(previous) = in_flight.replace(arranged) {
                (0..workers).for_each(|_| drop(previous.recv()));
            }
        })?;
        let mut c = lock()?;
        c.loading.remove(&id);
        c.start_loaded_sources();
    }
    let mut c = lock()?;
    c.loading_in_progress = false;
    c.build_deferred_dataflows();
    c.start_loaded_sources();
    for id in std::mem::take(&mut c.deferred_output_writers) {
        if c.entries().contains_key(&id) {
            c.persist_output(id);
        }
    }
    let time = c.last_write;
    c.watch_hydration(time, started);
    info!(rows = total, ms = started.elapsed().as_millis() as u64, "stored rows loaded; views are rehydrating");
    Ok(())
}

/// The thread behind [`Coordinator::persist_output`]: gathers the view's changes as
/// they become complete and writes them, with the time they are complete to, once they
/// pause ([`OUTPUT_QUIET`], [`OUTPUT_MAX_TRAIL`]). Ends when the view is dropped.
fn write_outputs(
    id: GlobalId,
    store: &Store,
    events: crossbeam_channel::Receiver<SubscribeEvent>,
    workers: usize,
    as_of: Timestamp,
) {
    let mut merger = Merger::new(workers, as_of, true);
    let mut changes: Vec<(PackedRow, eddy_repr::Diff)> = Vec::new();
    let mut upper: Option<Timestamp> = None;
    let mut first = true;
    let mut last_flush = Instant::now();
    let mut last_change = Instant::now();
    loop {
        match events.recv_timeout(OUTPUT_QUIET) {
            Ok(event) => match merger.push(event) {
                Ok(Some(outputs)) => {
                    for output in outputs {
                        match output {
                            Output::Change { row, diff, .. } => {
                                changes.push((PackedRow::pack(&row), diff));
                                last_change = Instant::now();
                            }
                            Output::Progress(t) => upper = Some(t),
                        }
                    }
                }
                Ok(None) => return,
                // A row raising an error: reads report it; the other rows go on.
                Err(_) => {}
            },
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        }
        let Some(complete) = upper else { continue };
        let due = if changes.is_empty() {
            last_flush.elapsed() >= OUTPUT_QUIET
        } else {
            last_change.elapsed() >= OUTPUT_QUIET
                || last_flush.elapsed() >= OUTPUT_MAX_TRAIL
                || changes.len() >= LOAD_CHUNK
        };
        if !due {
            continue;
        }
        let consolidated = eddy_repr::packed::consolidate(std::mem::take(&mut changes));
        let writes = WriteSet {
            drop_collections: if first { vec![id] } else { vec![] },
            changes: vec![(id, Arc::new(consolidated))],
            uppers: vec![(id, complete)],
            no_sync: true,
            ..WriteSet::default()
        };
        // Not waited for: a view's stored output may trail its inputs by a flush.
        store.enqueue(writes);
        first = false;
        upper = None;
        last_flush = Instant::now();
    }
}

/// Undoes writes the store refused (with ticket up to `ticket`), in memory only: they
/// never reached disk.
pub(crate) fn undo(coord: &mut Coordinator, writes: Vec<(GlobalId, SharedRows)>, ticket: u64) {
    let negated: Vec<_> =
        writes.into_iter().map(|(id, rows)| (id, rows.iter().map(|(r, d)| (r.clone(), -d)).collect())).collect();
    warn!("a write could not be made durable and was undone");
    coord.apply_packed(negated);
    coord.undone_through = coord.undone_through.max(ticket);
}
