//! When views with a target lag refresh: their schedules (`DOWNSTREAM` resolved from the
//! views that read them), rebuilding dataflows when a schedule changes, ALTER DYNAMIC
//! TABLE, and the refreshes of `REFRESH_MODE = FULL` views, whose query is recomputed from
//! their inputs at each refresh on a thread of its own.
//!
//! An incremental view's schedule is built into its dataflow (its inputs are delayed to
//! the refresh times), so changing it rebuilds the dataflow, and the dataflows of the
//! views and indexes that read it, which import its arrangement.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Receiver;
use eddy_compute::{collect_peek, Command, PeekResponse, Refresh};
use eddy_expr::eval::{self, Collection};
use eddy_expr::{EvalError, KeyRange, Pipeline, RelationExpr};
use eddy_planner::ddl::RefreshAction;
use eddy_planner::{ItemKind, Lag, RefreshMode, TargetLag};
use eddy_repr::{GlobalId, Timestamp};
use eddy_storage::durable::WriteSet;
use tracing::warn;

use crate::coordinator::{command, peek_error, wall_clock_ms, CatalogEntry, Coordinator, ExecuteResponse};
use crate::error::AdapterError;
use crate::refresh::RefreshRecord;

/// A refresh interval that never comes: suspended views, and `DOWNSTREAM` views that no
/// view with a schedule reads.
pub(crate) const NEVER: Timestamp = Timestamp::MAX / 4;

/// The shortest interval a FULL view recomputes at, when it must be as fresh as possible
/// (`DOWNSTREAM` read by a continuous view).
const FULL_MIN_EVERY: Timestamp = 100;

/// The state of a `REFRESH_MODE = FULL` view between refreshes.
#[derive(Clone, Debug, Default)]
pub struct FullRefresh {
    /// The time of the inputs its contents were computed from.
    pub as_of: Option<Timestamp>,
    /// It is due again at this time.
    pub next_due: Timestamp,
    /// The last refresh failed with this error, which reads of the view report.
    pub error: Option<EvalError>,
    /// A refresh is being computed off the coordinator lock.
    pub in_flight: bool,
}

/// A scheduled refresh of a FULL view: its inputs asked for as of `as_of`, to be read and
/// the query evaluated off the coordinator lock.
pub struct FullRefreshJob {
    id: GlobalId,
    definition: RelationExpr,
    as_of: Timestamp,
    reads: Vec<(GlobalId, Receiver<PeekResponse>)>,
    /// An input is a FULL view whose last refresh failed: this one fails with it.
    failed: Option<EvalError>,
    workers: usize,
}

impl FullRefreshJob {
    /// Reads the inputs and evaluates the query over them.
    fn evaluate(&self) -> Result<Collection, EvalError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut contents: BTreeMap<GlobalId, Collection> = BTreeMap::new();
        for (input, answers) in &self.reads {
            contents.insert(*input, collect_peek(answers, self.workers).map_err(peek_error)?);
        }
        let read = |input: GlobalId, pipeline: &Pipeline| -> Result<Collection, EvalError> {
            let rows =
                contents.get(&input).ok_or_else(|| EvalError::Internal(format!("input {input} was not read")))?;
            pipeline.run(rows.iter().map(|(row, diff)| (row, *diff)))
        };
        eval::evaluate_pushdown(&self.definition, &read)
    }
}

/// Runs FULL refreshes on threads of their own and applies each when it is done.
pub fn run_full_refreshes(coord: &Arc<Mutex<Coordinator>>, jobs: Vec<FullRefreshJob>) {
    for job in jobs {
        let (id, worker_coord) = (job.id, coord.clone());
        let run = move || {
            let result = job.evaluate();
            if let Ok(mut c) = worker_coord.lock() {
                c.finish_full_refresh(&job, result);
            }
        };
        if let Err(e) = std::thread::Builder::new().name("full-refresh".into()).spawn(run) {
            warn!(view = id, "cannot start a refresh thread: {e}; trying again at the next tick");
            if let Some(full) = coord.lock().ok().as_mut().and_then(|c| c.entry_mut(id)).and_then(|e| e.full.as_mut()) {
                full.in_flight = false;
            }
        }
    }
}

/// How often a view refreshes, once `DOWNSTREAM` is resolved. Ordered from freshest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Effective {
    Continuous,
    Every(Timestamp),
    Never,
}

impl Coordinator {
    /// The schedule of materialized view `id` as the views reading it make it: its own
    /// target lag, or with `DOWNSTREAM` the freshest of its readers' (none: it refreshes
    /// only when asked to).
    fn effective_schedules(&self) -> BTreeMap<GlobalId, Effective> {
        let mut out = BTreeMap::new();
        // Readers are created after what they read: deciding by descending id decides
        // every reader first.
        for (&id, e) in self.entries().iter().rev().filter(|(_, e)| e.item.kind == ItemKind::MaterializedView) {
            let effective = match e.target.map(|t| t.lag) {
                None => Effective::Continuous,
                Some(Lag::Every(d)) => Effective::Every((d.as_millis() as Timestamp).max(1)),
                Some(Lag::Downstream) => {
                    self.readers(id).filter_map(|r| out.get(&r).copied()).min().unwrap_or(Effective::Never)
                }
            };
            out.insert(id, effective);
        }
        out
    }

    /// The materialized views whose query reads `id` (through plain views too).
    fn readers(&self, id: GlobalId) -> impl Iterator<Item = GlobalId> + '_ {
        self.entries()
            .iter()
            .filter(move |(_, e)| e.definition.as_ref().is_some_and(|d| d.depends_on().contains(&id)))
            .map(|(&r, _)| r)
    }

    /// The refresh schedule view `id` runs with from now, given its effective schedule;
    /// `created`: it is being created (with INITIALIZE = ON_SCHEDULE it shows nothing
    /// until its first refresh), otherwise it shows its inputs as of now at once.
    fn schedule_for(&self, id: GlobalId, effective: Effective, created: bool) -> Option<Refresh> {
        let e = self.entries().get(&id)?;
        let target = e.target?;
        let initial = (!created || target.on_create).then_some(self.last_write);
        let every = match effective {
            _ if e.suspended => NEVER,
            Effective::Continuous if target.mode == RefreshMode::Full => FULL_MIN_EVERY,
            Effective::Continuous => return None,
            Effective::Every(every) => every,
            Effective::Never => NEVER,
        };
        Some(Refresh { every, initial })
    }

    /// Brings every view's running schedule in line with the catalog after DDL: views
    /// whose schedule changed (and those in `build`: to be built or rebuilt, showing
    /// their inputs as of now) get their dataflows built, and so do the views and indexes
    /// reading a rebuilt one. `created` is a view just created: with INITIALIZE =
    /// ON_SCHEDULE it shows nothing until its first refresh.
    ///
    /// While a restart replays the catalog, views with a target lag (and their readers)
    /// are only noted: built before their stored inputs are loaded, they would show
    /// nothing of them until their next refresh, which may be hours away. The loader
    /// builds them once everything is loaded ([`Coordinator::build_deferred_dataflows`]).
    pub(crate) fn settle_schedules(&mut self, build: &[GlobalId], created: Option<GlobalId>) {
        let effective = self.effective_schedules();
        let mut rebuild: BTreeSet<GlobalId> = build.iter().copied().collect();
        for (&id, &eff) in &effective {
            let Some(entry) = self.entries().get(&id) else { continue };
            let Some(target) = entry.target else { continue };
            let wanted = self.schedule_for(id, eff, false);
            if wanted.map(|r| r.every) == entry.refresh.map(|r| r.every) {
                continue;
            }
            match target.mode {
                RefreshMode::Full => {
                    if let Some(e) = self.entry_mut(id) {
                        e.refresh = wanted;
                        if let Some(full) = e.full.as_mut() {
                            // Due at the new schedule's next refresh time.
                            let every = wanted.map_or(NEVER, |r| r.every);
                            full.next_due = full.as_of.map_or(0, |t| next_multiple(t, every));
                        }
                    }
                }
                RefreshMode::Incremental => {
                    rebuild.insert(id);
                }
            }
        }
        if rebuild.is_empty() {
            return;
        }
        // In id order, so that each dataflow imports its inputs' rebuilt arrangements.
        let views: Vec<GlobalId> = self.entries().keys().copied().collect();
        for id in views {
            let Some(e) = self.entries().get(&id) else { continue };
            let incremental = e.item.kind == ItemKind::MaterializedView
                && e.target.is_none_or(|t| t.mode == RefreshMode::Incremental);
            let reads = |set: &BTreeSet<GlobalId>| {
                e.definition.as_ref().is_some_and(|d| d.depends_on().iter().any(|d| set.contains(d)))
            };
            if !incremental || !(rebuild.contains(&id) || reads(&rebuild)) {
                continue;
            }
            rebuild.insert(id);
            let defer = self.restoring && (e.target.is_some() || reads(&self.deferred_dataflows));
            let (name, Some(definition)) = (e.item.name.clone(), e.definition.clone()) else { continue };
            let just_created = created == Some(id) && !self.deferred_dataflows.contains(&id);
            let scheduled = effective.get(&id).copied().unwrap_or(Effective::Continuous);
            let refresh = self.schedule_for(id, scheduled, just_created);
            if let Some(e) = self.entry_mut(id) {
                e.refresh = refresh;
            }
            if defer {
                self.deferred_dataflows.insert(id);
                continue;
            }
            self.deferred_dataflows.remove(&id);
            self.compute.send(Command::Drop { id });
            self.start_view_dataflow(id, &name, definition, refresh);
        }
        self.rebuild_indexes(&rebuild);
    }

    /// After a restart, once the stored rows are loaded: builds the dataflows
    /// [`Coordinator::settle_schedules`] put off, showing their inputs as of now.
    pub(crate) fn build_deferred_dataflows(&mut self) {
        let deferred: Vec<GlobalId> = self.deferred_dataflows.iter().copied().collect();
        if !deferred.is_empty() {
            self.settle_schedules(&deferred, None);
        }
    }

    /// `CREATE MATERIALIZED VIEW | DYNAMIC TABLE` with `REFRESH_MODE = FULL`: its rows are
    /// kept like a table's and replaced by each refresh; with INITIALIZE = ON_CREATE the
    /// first is computed now. An error in its rows is reported by reads of the view.
    pub(crate) fn create_full_view(&mut self, id: GlobalId, target: &TargetLag) -> Result<(), AdapterError> {
        self.compute.send(Command::CreateTable { id });
        // Not refreshed in this process yet: due at once (after a restart, once the stored
        // rows are loaded; that first refresh is never skipped).
        self.set_full(id, FullRefresh::default());
        if self.restoring {
            // Its stored rows are loaded like a table's, readable from the store meanwhile.
            self.defer_load(&[id]);
            if self.store.upper(id)?.is_some() {
                self.stored_outputs.insert(id);
            }
        } else if target.on_create {
            self.refresh_full(id)?;
        } else {
            let every = self.entries().get(&id).and_then(|e| e.refresh).map_or(NEVER, |r| r.every);
            let next_due = next_multiple(self.last_write, every);
            self.set_full(id, FullRefresh { next_due, ..FullRefresh::default() });
        }
        Ok(())
    }

    fn set_full(&mut self, id: GlobalId, full: FullRefresh) {
        if let Some(e) = self.entry_mut(id) {
            e.full = Some(full);
        }
    }

    /// The FULL views due now, with their inputs asked for as of now: evaluating them is
    /// left to [`run_full_refreshes`], off the coordinator lock, so that a long
    /// recomputation holds up no statement. Called on every clock tick.
    pub(crate) fn start_due_full_refreshes(&mut self) -> Vec<FullRefreshJob> {
        if self.loading_in_progress {
            return Vec::new();
        }
        let as_of = self.last_write;
        let due: Vec<GlobalId> = self
            .entries()
            .iter()
            .filter(|(_, e)| e.full.as_ref().is_some_and(|f| f.next_due <= as_of && !f.in_flight) && !e.suspended)
            .filter(|(_, e)| e.refresh.is_some_and(|r| r.every < NEVER))
            .map(|(&id, _)| id)
            .collect();
        let mut jobs = Vec::new();
        for id in due {
            let Some(definition) = self.entries().get(&id).and_then(|e| e.definition.clone()) else { continue };
            if self.inputs_unchanged_since_refresh(id, &definition) {
                // As Snowflake skips such a refresh: the rows stand, now as of now.
                if let Some(e) = self.entry_mut(id) {
                    let every = e.refresh.map_or(NEVER, |r| r.every);
                    if let Some(full) = e.full.as_mut() {
                        full.as_of = Some(as_of);
                        full.next_due = next_multiple(as_of, every);
                    }
                }
                continue;
            }
            let inputs = definition.depends_on();
            if inputs.iter().any(|&input| self.check_loaded(input).is_err()) {
                continue;
            }
            let failed = inputs.iter().find_map(|&input| self.full_refresh_error(input));
            let reads = match failed {
                Some(_) => Vec::new(),
                None => inputs
                    .iter()
                    .map(|&input| {
                        let everything = vec![KeyRange::default()];
                        (input, self.compute.peek_later(input, as_of, Pipeline::default(), everything))
                    })
                    .collect(),
            };
            if let Some(full) = self.entry_mut(id).and_then(|e| e.full.as_mut()) {
                full.in_flight = true;
            }
            jobs.push(FullRefreshJob { id, definition, as_of, reads, failed, workers: self.compute.workers() });
        }
        jobs
    }

    /// True if nothing FULL view `id` reads (`definition`) has changed since its last
    /// refresh: every table, source and FULL view under it, through continuous views,
    /// was last written before that. Not known (false) before its first refresh in this
    /// process, or when it reads a view with a target lag, whose changes show later than
    /// they are made.
    fn inputs_unchanged_since_refresh(&self, id: GlobalId, definition: &RelationExpr) -> bool {
        let Some(refreshed) = self.entries().get(&id).and_then(|e| e.full.as_ref()).and_then(|f| f.as_of) else {
            return false;
        };
        let mut pending = definition.depends_on();
        let mut seen = BTreeSet::new();
        while let Some(input) = pending.pop() {
            if !seen.insert(input) {
                continue;
            }
            let Some(e) = self.entries().get(&input) else { return false };
            match (&e.definition, e.refresh, &e.full) {
                // A continuous view changes when what it reads does.
                (Some(d), None, None) => pending.extend(d.depends_on()),
                // A view with a target lag shows changes later than they happen.
                (Some(_), Some(_), None) => return false,
                // Tables, sources and FULL views are written where their changes are noted.
                _ if !self.refreshed_after(input, refreshed) => return false,
                _ => {}
            }
        }
        self.last_write > refreshed
    }

    /// True if collection `id` has not changed after `time`. (What a restart loaded is
    /// not noted, but a restored FULL view's first refresh comes after the load.)
    fn refreshed_after(&self, id: GlobalId, time: Timestamp) -> bool {
        self.last_changed.get(&id).is_none_or(|&changed| changed <= time)
    }

    /// Applies a refresh [`Coordinator::start_due_full_refreshes`] started, unless the view
    /// is gone or a newer refresh (ALTER ... REFRESH) has landed meanwhile.
    pub(crate) fn finish_full_refresh(&mut self, job: &FullRefreshJob, result: Result<Collection, EvalError>) {
        let Some(full) = self.entries().get(&job.id).and_then(|e| e.full.as_ref()) else { return };
        if full.as_of.is_some_and(|t| t > job.as_of) {
            if let Some(full) = self.entry_mut(job.id).and_then(|e| e.full.as_mut()) {
                full.in_flight = false;
            }
            return;
        }
        if let Err(e) = self.apply_full_refresh(job.id, job.as_of, result) {
            warn!(view = job.id, "refresh failed: {e}");
        }
    }

    /// Recomputes FULL view `id` from its inputs as of now, holding the coordinator (for
    /// CREATE and ALTER ... REFRESH, which answer once it is done). Inputs still loading
    /// after a restart put the refresh off to the next tick.
    pub(crate) fn refresh_full(&mut self, id: GlobalId) -> Result<(), AdapterError> {
        let Some(definition) = self.entries().get(&id).and_then(|e| e.definition.clone()) else { return Ok(()) };
        let as_of = self.last_write;
        match self.evaluate_seeing(&definition, &[]) {
            Err(EvalError::InvalidArgument { sqlstate, .. }) if sqlstate == "57P03" => Ok(()),
            result => self.apply_full_refresh(id, as_of, result),
        }
    }

    /// Writes the difference between FULL view `id`'s rows and `result` (its query as of
    /// `as_of`), or keeps the error for its readers; and logs the refresh.
    fn apply_full_refresh(
        &mut self,
        id: GlobalId,
        as_of: Timestamp,
        result: Result<Collection, EvalError>,
    ) -> Result<(), AdapterError> {
        let Some(entry) = self.entries().get(&id) else { return Ok(()) };
        let name = entry.item.name.clone();
        let every = entry.refresh.map_or(NEVER, |r| r.every);
        let mut rows_changed = 0;
        let error = match result {
            Err(e) => Some(e),
            Ok(new) => {
                let now = self.last_write;
                let old = self.compute.peek(id, now, Pipeline::default(), vec![KeyRange::default()]);
                let old = old.map_err(|e| AdapterError::Internal(format!("reading {name} before its refresh: {e}")))?;
                let changes: Vec<_> = new.into_iter().chain(old.into_iter().map(|(r, d)| (r, -d))).collect();
                let changes = eval::consolidate(changes);
                rows_changed = changes.iter().map(|(_, d)| d.unsigned_abs()).sum();
                if !changes.is_empty() {
                    let packed = Arc::new(eddy_compute::pack_updates(&changes));
                    let time = self.apply_packed(vec![(id, packed.to_vec())]);
                    // Not waited for: a lost refresh is recomputed after a restart.
                    let uppers = vec![(id, time + 1)];
                    let changes = vec![(id, packed)];
                    self.store.enqueue(WriteSet { changes, uppers, no_sync: true, ..WriteSet::default() });
                }
                None
            }
        };
        let next_due = next_multiple(as_of, every);
        self.set_full(id, FullRefresh { as_of: Some(as_of), next_due, error, in_flight: false });
        self.stored_outputs.remove(&id);
        let record = RefreshRecord { view: name, data_as_of: as_of, completed_at: wall_clock_ms(), rows_changed };
        if let Ok(mut log) = self.refreshes.lock() {
            log.record(record, every);
        }
        Ok(())
    }

    /// The error FULL view `id`'s last refresh raised, which reading it reports.
    pub(crate) fn full_refresh_error(&self, id: GlobalId) -> Option<EvalError> {
        self.entries().get(&id)?.full.as_ref()?.error.clone()
    }

    /// `ALTER DYNAMIC TABLE ... SET TARGET_LAG | SUSPEND | RESUME | REFRESH`. An incremental
    /// view's dataflow is rebuilt showing its inputs as of now (so RESUME and REFRESH
    /// refresh at once; SUSPEND keeps what it shows now), and so are its readers'; a FULL
    /// view recomputes (RESUME, REFRESH) or changes when it is next due.
    pub(crate) fn alter_refresh(
        &mut self,
        name: &str,
        action: RefreshAction,
        if_exists: bool,
    ) -> Result<ExecuteResponse, AdapterError> {
        let Some(id) = self.id_of(name) else {
            if if_exists {
                return Ok(command("ALTER DYNAMIC TABLE"));
            }
            return Err(AdapterError::UnknownObject(format!("dynamic table \"{name}\" does not exist")));
        };
        let entry = self.entry(id)?;
        if entry.item.kind != ItemKind::MaterializedView {
            return Err(AdapterError::WrongObjectType(
                format!("\"{name}\" is not a materialized view or dynamic table"),
                "Only materialized views and dynamic tables have a refresh schedule.".into(),
            ));
        }
        let target = match (entry.target, &action) {
            (Some(target), _) => target,
            // A continuous view gets a lag: it refreshes incrementally from now on.
            (None, RefreshAction::SetTargetLag(lag)) => TargetLag { lag: *lag, on_create: true, mode: RefreshMode::Incremental },
            (None, _) => {
                return Err(AdapterError::InvalidParameterValue(format!(
                    "{name} has no target lag (it is continuous): set one with ALTER DYNAMIC TABLE {name} SET TARGET_LAG = '...'"
                )))
            }
        };
        let full = target.mode == RefreshMode::Full;
        match action {
            RefreshAction::SetTargetLag(lag) => {
                let create_sql = eddy_planner::alter_target_lag_sql(&entry.create_sql, lag)?;
                if let Some(e) = self.entry_mut(id) {
                    e.target = Some(TargetLag { lag, ..target });
                    e.create_sql = create_sql;
                }
            }
            RefreshAction::Suspend => self.set_suspended(id, true),
            RefreshAction::Resume => self.set_suspended(id, false),
            RefreshAction::Refresh => {}
        }
        let forced = matches!(action, RefreshAction::Refresh | RefreshAction::Resume);
        if full {
            self.settle_schedules(&[], None);
            if forced {
                self.refresh_full(id)?;
            }
        } else if forced {
            // Rebuilding shows the inputs as of now: that is the refresh.
            self.settle_schedules(&[id], None);
        } else {
            self.settle_schedules(&[], None);
        }
        Ok(command("ALTER DYNAMIC TABLE"))
    }

    /// Suspends or resumes view `id`: its running schedule changes to (or from) never.
    fn set_suspended(&mut self, id: GlobalId, suspended: bool) {
        if let Some(e) = self.entry_mut(id) {
            e.suspended = suspended;
        }
    }

    /// After a restart: an ALTER's SUSPEND (and, from data directories written before
    /// ALTER kept the CREATE statement current, its target lag).
    pub(crate) fn restore_refresh(&mut self, id: GlobalId, every: Timestamp, suspended: bool) {
        let Some(e) = self.entry_mut(id) else { return };
        e.suspended = suspended;
        if let Some(target) = e.target.as_mut() {
            if every > 0 && every < NEVER {
                target.lag = Lag::Every(std::time::Duration::from_millis(every));
            }
        }
        self.settle_schedules(&[], None);
    }

    /// View `e`'s schedule as `eddy_catalog.freshness` shows it, for a read now.
    pub(crate) fn freshness_of(&self, e: &CatalogEntry) -> Option<crate::refresh::Schedule> {
        let target = e.target?;
        let state = match target.lag {
            _ if e.suspended => "suspended",
            Lag::Downstream => "downstream",
            Lag::Every(_) => "target lag",
        };
        let as_of = match (&e.full, e.refresh) {
            (Some(full), _) => full.as_of,
            // DOWNSTREAM read by a continuous view: as fresh as the read.
            (None, None) => Some(self.last_write),
            (None, Some(r)) if r.every >= NEVER => r.initial,
            (None, Some(r)) => Some(r.shown_as_of(self.last_write)),
        };
        let target_ms = e.refresh.map(|r| r.every).filter(|&every| every < NEVER);
        Some(crate::refresh::Schedule { state, mode: target.mode, target_ms, as_of })
    }

    /// `SHOW DYNAMIC TABLES`: every materialized view with a target lag, with its lag as
    /// asked, refresh mode, whether it is suspended, the time its data is as of, and its
    /// CREATE statement (as Snowflake's `SHOW DYNAMIC TABLES` lists them).
    pub(crate) fn show_dynamic_tables(&self) -> ExecuteResponse {
        use eddy_repr::{Datum, RelationDesc, Row, ScalarType};
        let mut rows: Vec<Row> = self
            .entries()
            .values()
            .filter_map(|e| {
                let target = e.target?;
                let as_of = self.freshness_of(e).and_then(|f| f.as_of);
                Some(Row::new(vec![
                    Datum::Text(e.item.name.clone()),
                    Datum::Text(target.lag.to_sql()),
                    Datum::Text(target.mode.as_str().into()),
                    Datum::Text(if e.suspended { "SUSPENDED" } else { "RUNNING" }.into()),
                    as_of.map_or(Datum::Null, crate::system_tables::timestamptz),
                    Datum::Text(e.create_sql.clone()),
                ]))
            })
            .collect();
        rows.sort();
        let text = |name: &str| crate::system_tables::column(name, ScalarType::Text);
        let desc = RelationDesc::new(vec![
            text("name"),
            text("target_lag"),
            text("refresh_mode"),
            text("scheduling_state"),
            crate::system_tables::nullable_column("data_timestamp", ScalarType::timestamptz()),
            text("text"),
        ]);
        ExecuteResponse::Rows { desc, rows }
    }

    /// Rebuilds the indexes on the collections in `rebuilt`.
    fn rebuild_indexes(&mut self, rebuilt: &BTreeSet<GlobalId>) {
        for (id, expr) in self.index_definitions(rebuilt) {
            self.compute.send(Command::Drop { id });
            self.compute.send(Command::CreateView { id, expr, refresh: None });
        }
    }
}

/// The first multiple of `every` after `time`.
fn next_multiple(time: Timestamp, every: Timestamp) -> Timestamp {
    let every = every.max(1);
    (time / every).saturating_add(1).saturating_mul(every)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_views_are_due_at_the_next_multiple_of_their_lag() {
        assert_eq!(next_multiple(1500, 1000), 2000);
        assert_eq!(next_multiple(2000, 1000), 3000);
        assert!(next_multiple(5, NEVER) >= NEVER);
    }

    #[test]
    fn the_freshest_reader_decides_a_downstream_lag() {
        let mut readers = [Effective::Every(5000), Effective::Every(1000), Effective::Never];
        readers.sort();
        assert_eq!(readers[0], Effective::Every(1000));
        assert!(Effective::Continuous < Effective::Every(100));
    }
}
