//! Sequences: `CREATE SEQUENCE` objects and the counters behind serial and identity
//! columns, which `nextval`, `currval`, `setval` and `lastval` reach by name (a serial
//! column's counter is named `table_column_seq`, as in PostgreSQL). Numbers are never
//! handed out twice, also across restarts: a statement's moves are stored with its table
//! writes, or on their own when it wrote nothing. Like PostgreSQL's, sequences are not
//! transactional: a rolled-back number stays used. `currval`/`lastval` are per session.
//!
//! The registry has a lock of its own, not the coordinator's: a SELECT calling `nextval`
//! is evaluated after the coordinator has been released.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use eddy_expr::eval::Collection;
use eddy_expr::{EvalError, RelationExpr};
use eddy_planner::sequence::{SequenceOption, SequenceSpec};
use eddy_planner::{CatalogItem, ItemKind};
use eddy_repr::{ColumnType, Datum, GlobalId, RelationDesc, Row, ScalarType};
use eddy_storage::durable::{Store, WriteSet};

use crate::coordinator::Coordinator;
use crate::error::AdapterError;
use crate::session::Session;

/// Which counter: a sequence object, or a serial/identity column's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum SeqKey {
    Object(GlobalId),
    Column(GlobalId, usize),
}

struct SequenceState {
    name: String,
    spec: SequenceSpec,
    /// The last value handed out (or, before the first `nextval`, the next one).
    last_value: i64,
    is_called: bool,
    /// What PostgreSQL shows as `log_cnt` (values it has logged ahead); kept for display.
    log_cnt: i64,
    /// `OWNED BY`: dropped with this table.
    owner: Option<(GlobalId, String)>,
    /// A restored column counter that was never stored (data written by a version that
    /// kept none): the coordinator numbers on from the column's largest value.
    unknown: bool,
}

/// Serial and identity columns' sequences are listed (`pg_class`, `pg_sequences`) under
/// ids of their own, below the constraints' (see `system_tables`).
const COLUMN_SEQUENCE_IDS: GlobalId = 1 << 39;

fn listed_id(key: SeqKey) -> GlobalId {
    match key {
        SeqKey::Object(id) => id,
        SeqKey::Column(table, column) => COLUMN_SEQUENCE_IDS + table * 2048 + column as GlobalId,
    }
}

/// How many values PostgreSQL logs ahead of the last one handed out (`log_cnt`).
const LOGGED_AHEAD: i64 = 32;

impl SequenceState {
    fn new(name: String, spec: SequenceSpec, owner: Option<(GlobalId, String)>) -> Self {
        let last_value = spec.start;
        SequenceState { name, spec, last_value, is_called: false, log_cnt: 0, owner, unknown: false }
    }

    fn next(&mut self) -> Result<i64, EvalError> {
        let value = if !self.is_called {
            self.last_value
        } else {
            let spec = &self.spec;
            match self.last_value.checked_add(spec.increment).filter(|v| (spec.min..=spec.max).contains(v)) {
                Some(v) => v,
                None if spec.cycle => {
                    if spec.increment > 0 {
                        spec.min
                    } else {
                        spec.max
                    }
                }
                None => {
                    let (which, bound) = if spec.increment > 0 { ("maximum", spec.max) } else { ("minimum", spec.min) };
                    return Err(EvalError::InvalidArgument {
                        sqlstate: "2200H".into(),
                        message: format!("nextval: reached {which} value of sequence \"{}\" ({bound})", self.name),
                    });
                }
            }
        };
        self.log_cnt = if self.log_cnt == 0 || !self.is_called { LOGGED_AHEAD } else { self.log_cnt - 1 };
        self.last_value = value;
        self.is_called = true;
        Ok(value)
    }

    /// What the store keeps: an object's value and flag, a column's last number handed out.
    fn stored(&self, key: SeqKey) -> Vec<(GlobalId, u32, i64)> {
        match key {
            SeqKey::Object(id) => vec![(id, 0, self.last_value), (id, 1, i64::from(self.is_called))],
            SeqKey::Column(table, column) => {
                let last = if self.is_called { self.last_value } else { self.last_value - self.spec.increment };
                u32::try_from(column).map(|c| vec![(table, c, last)]).unwrap_or_default()
            }
        }
    }
}

#[derive(Default)]
struct SessionValues {
    current: HashMap<SeqKey, i64>,
    last: Option<SeqKey>,
}

#[derive(Default)]
struct Registry {
    /// Sequence objects by catalog name (`s`, or `schema.s`).
    objects: HashMap<String, GlobalId>,
    /// Serial and identity columns' counters by the name their default gives.
    columns: HashMap<String, (GlobalId, usize)>,
    states: HashMap<SeqKey, SequenceState>,
    unsaved: BTreeSet<SeqKey>,
    sessions: HashMap<i32, SessionValues>,
}

impl Registry {
    /// The sequence with catalog name `name` (objects first).
    fn key(&self, name: &str) -> Option<SeqKey> {
        match self.objects.get(name) {
            Some(&id) => Some(SeqKey::Object(id)),
            None => self.columns.get(name).map(|&(t, c)| SeqKey::Column(t, c)),
        }
    }

    /// The sequence `text` names, as `nextval('text')` reads it.
    fn state(&mut self, text: &str) -> Result<(SeqKey, &mut SequenceState), EvalError> {
        let name = eddy_planner::sequence::catalog_name(text);
        let key = self.key(&name).ok_or_else(|| EvalError::InvalidArgument {
            sqlstate: "42P01".into(),
            message: format!("relation \"{name}\" does not exist"),
        })?;
        let state = self.states.get_mut(&key).ok_or_else(|| EvalError::Internal("a sequence without state".into()))?;
        Ok((key, state))
    }

    fn next(&mut self, session: i32, key: SeqKey) -> Result<i64, EvalError> {
        let state = self.states.get_mut(&key).ok_or_else(|| EvalError::Internal("a sequence without state".into()))?;
        let value = state.next()?;
        self.unsaved.insert(key);
        let values = self.sessions.entry(session).or_default();
        values.current.insert(key, value);
        values.last = Some(key);
        Ok(value)
    }

    fn remove(&mut self, key: SeqKey) {
        if let Some(state) = self.states.remove(&key) {
            match key {
                SeqKey::Object(_) => {
                    self.objects.remove(&state.name);
                }
                // Another column may have taken the name over (an ALTER's replacement).
                SeqKey::Column(t, c) => {
                    if self.columns.get(&state.name) == Some(&(t, c)) {
                        self.columns.remove(&state.name);
                    }
                }
            }
        }
        self.unsaved.remove(&key);
    }
}

/// The server's sequences (shared by the coordinator and every session).
pub struct Sequences {
    registry: Mutex<Registry>,
    store: Arc<Store>,
}

impl Sequences {
    pub fn new(store: Arc<Store>) -> Self {
        Sequences { registry: Mutex::default(), store }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves counters that only moved forward.
        self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn exists(&self, name: &str) -> bool {
        self.lock().objects.contains_key(name)
    }

    /// CREATE SEQUENCE (also when restoring: the stored value is picked up).
    pub(crate) fn create(&self, id: GlobalId, name: String, spec: SequenceSpec, owner: Option<(GlobalId, String)>) {
        let mut state = SequenceState::new(name.clone(), spec, owner);
        if let Ok(stored) = self.store.sequences(id) {
            if let (Some(&value), Some(&called)) = (stored.get(&0), stored.get(&1)) {
                (state.last_value, state.is_called) = (value, called != 0);
            }
        }
        let mut registry = self.lock();
        registry.objects.insert(name, id);
        registry.states.insert(SeqKey::Object(id), state);
    }

    /// ALTER SEQUENCE `name` with `options`; `owner` resolves an `OWNED BY` target.
    pub(crate) fn alter(
        &self,
        name: &str,
        options: &[SequenceOption],
        owner: impl Fn(&str, &str) -> Result<GlobalId, AdapterError>,
    ) -> Result<bool, AdapterError> {
        let mut registry = self.lock();
        let Some(&id) = registry.objects.get(name) else { return Ok(false) };
        let key = SeqKey::Object(id);
        let state = registry.states.get_mut(&key).ok_or_else(|| AdapterError::Internal("sequence state".into()))?;
        let mut spec = state.spec.clone();
        let changes = spec.apply(options, false)?;
        if let Some(new_owner) = changes.owned_by {
            state.owner = new_owner.map(|(t, c)| owner(&t, &c).map(|id| (id, c))).transpose()?;
        }
        state.spec = spec;
        if let Some(restart) = changes.restart {
            (state.last_value, state.is_called, state.log_cnt) = (restart, false, 0);
        }
        registry.unsaved.insert(key);
        Ok(true)
    }

    /// DROP SEQUENCE: false if there is no such sequence.
    pub(crate) fn remove(&self, name: &str) -> bool {
        let mut registry = self.lock();
        let Some(&id) = registry.objects.get(name) else { return false };
        registry.remove(SeqKey::Object(id));
        true
    }

    /// Table `table` is gone: its columns' counters and the sequences it owns go too.
    pub(crate) fn forget_table(&self, table: GlobalId) {
        let mut registry = self.lock();
        let gone: Vec<SeqKey> = (registry.states.iter())
            .filter(|(key, state)| match key {
                SeqKey::Column(t, _) => *t == table,
                SeqKey::Object(_) => state.owner.as_ref().is_some_and(|(t, _)| *t == table),
            })
            .map(|(key, _)| *key)
            .collect();
        for key in gone {
            registry.remove(key);
        }
    }

    /// Table `table`'s serial and identity columns: counters named as their defaults say
    /// (`nextval('t_c_seq'...)`), unless the default names a sequence object. A new
    /// table's counters start from nothing; a restored one's from what was stored.
    pub(crate) fn register_columns(&self, table: GlobalId, item: &CatalogItem, restored: bool) {
        let stored = if restored { self.store.sequences(table).unwrap_or_default() } else { BTreeMap::new() };
        let mut registry = self.lock();
        for (column, default) in item.defaults.iter().enumerate() {
            let Some(sql) = default.as_deref().filter(|sql| eddy_planner::is_numbering(sql)) else { continue };
            let (column_name, ty) = &item.desc.columns()[column];
            let short = item.name.rsplit('.').next().unwrap_or(&item.name);
            let name =
                eddy_planner::sequence::default_sequence(sql).unwrap_or_else(|| format!("{short}_{column_name}_seq"));
            let key = SeqKey::Column(table, column);
            let mut state = SequenceState::new(name.clone(), SequenceSpec::for_column(ty.scalar_type.clone()), None);
            match u32::try_from(column).ok().and_then(|c| stored.get(&c)) {
                Some(&last) if last > 0 => (state.last_value, state.is_called) = (last, true),
                Some(_) => {}
                None => state.unknown = restored,
            }
            registry.columns.entry(name).or_insert((table, column));
            registry.states.insert(key, state);
            if !restored {
                registry.unsaved.insert(key);
            }
        }
    }

    /// ALTER TABLE: table `old`'s column counters go to table `new` (itself, or the table
    /// that replaces it), each to its column's new position (`kept[new position]` is the
    /// old one); sequences owned by `old` are owned by `new`.
    pub(crate) fn move_table(&self, old: GlobalId, new: GlobalId, kept: &[Option<usize>]) {
        let mut registry = self.lock();
        let mut moved = Vec::new();
        for (position, was) in kept.iter().enumerate() {
            if let Some(state) = was.and_then(|was| registry.states.remove(&SeqKey::Column(old, was))) {
                moved.push((position, state));
            }
        }
        let dropped: Vec<SeqKey> =
            registry.states.keys().filter(|k| matches!(k, SeqKey::Column(t, _) if *t == old)).copied().collect();
        for key in dropped {
            registry.remove(key);
        }
        for (position, state) in moved {
            let key = SeqKey::Column(new, position);
            registry.columns.insert(state.name.clone(), (new, position));
            registry.states.insert(key, state);
            registry.unsaved.insert(key);
        }
        for state in registry.states.values_mut() {
            if let Some((table, _)) = state.owner.as_mut().filter(|(t, _)| *t == old) {
                *table = new;
            }
        }
    }

    /// The next number for a serial or identity column whose default is `default_sql`.
    fn next_for_column(
        &self,
        session: i32,
        table: GlobalId,
        column: usize,
        default_sql: &str,
    ) -> Result<i64, EvalError> {
        let mut registry = self.lock();
        let name = eddy_planner::sequence::default_sequence(default_sql);
        let key = match name.as_ref().and_then(|name| registry.objects.get(name)) {
            Some(&id) => SeqKey::Object(id),
            None if registry.states.contains_key(&SeqKey::Column(table, column)) => SeqKey::Column(table, column),
            None => {
                return Err(EvalError::InvalidArgument {
                    sqlstate: "42P01".into(),
                    message: format!("relation \"{}\" does not exist", name.unwrap_or_default()),
                })
            }
        };
        registry.next(session, key)
    }

    fn column_unknown(&self, table: GlobalId, column: usize) -> bool {
        self.lock().states.get(&SeqKey::Column(table, column)).is_some_and(|s| s.unknown)
    }

    fn set_column_last(&self, table: GlobalId, column: usize, last: i64) {
        let mut registry = self.lock();
        if let Some(state) = registry.states.get_mut(&SeqKey::Column(table, column)) {
            (state.last_value, state.is_called, state.unknown) = (last.max(1), last > 0, false);
        }
    }

    /// The counters moved since they were last taken, as the store keeps them.
    pub(crate) fn take_unsaved(&self) -> Vec<(GlobalId, u32, i64)> {
        let mut registry = self.lock();
        let keys = std::mem::take(&mut registry.unsaved);
        keys.into_iter().filter_map(|k| registry.states.get(&k).map(|s| s.stored(k))).flatten().collect()
    }

    /// Stores what moved since the last write (a statement that wrote no table, such as
    /// `SELECT nextval(...)`), before its result reaches the client.
    pub(crate) fn store_moves(&self) -> Result<(), AdapterError> {
        let sequences = self.take_unsaved();
        if !sequences.is_empty() {
            self.store.commit(WriteSet { sequences, ..WriteSet::default() })?;
        }
        Ok(())
    }

    /// Connection `session` closed: its `currval`s go.
    pub(crate) fn forget_session(&self, session: i32) {
        self.lock().sessions.remove(&session);
    }

    /// Every sequence object's CREATE statement (with its current options), for the
    /// stored catalog; `table_name` names owner tables.
    pub(crate) fn statements(
        &self,
        table_name: impl Fn(GlobalId) -> Option<String>,
    ) -> Vec<(String, GlobalId, String)> {
        let registry = self.lock();
        let mut out: Vec<(String, GlobalId, String)> = (registry.objects.iter())
            .filter_map(|(name, &id)| {
                let state = registry.states.get(&SeqKey::Object(id))?;
                let owner = state.owner.as_ref().and_then(|(t, c)| Some((table_name(*t)?, c.clone())));
                let sql = state.spec.create_sql(name, owner.as_ref().map(|(t, c)| (t.as_str(), c.as_str())));
                Some((name.clone(), id, sql))
            })
            .collect();
        out.sort_by_key(|(_, id, _)| *id);
        out
    }

    /// Every sequence (objects, and serial/identity columns' under the names their
    /// defaults give): name, id, options and the last value handed out.
    pub(crate) fn listing(&self) -> Vec<(String, GlobalId, SequenceSpec, Option<i64>)> {
        let registry = self.lock();
        let mut out: Vec<_> = (registry.states.iter())
            .filter(|(key, state)| registry.key(&state.name) == Some(**key))
            .map(|(key, state)| {
                (state.name.clone(), listed_id(*key), state.spec.clone(), state.is_called.then_some(state.last_value))
            })
            .collect();
        out.sort_by_key(|(_, id, _, _)| *id);
        out
    }

    /// A sequence's columns, as `SELECT * FROM sequence` shows them.
    pub(crate) fn relation_desc() -> RelationDesc {
        RelationDesc::new(vec![
            ("last_value".into(), ColumnType::new(ScalarType::Int64, false)),
            ("log_cnt".into(), ColumnType::new(ScalarType::Int64, false)),
            ("is_called".into(), ColumnType::new(ScalarType::Bool, false)),
        ])
    }

    /// `SELECT * FROM sequence`: `last_value`, `log_cnt`, `is_called`, as now.
    pub(crate) fn relation(&self, name: &str) -> Option<CatalogItem> {
        let registry = self.lock();
        let key = registry.key(name)?;
        let state = registry.states.get(&key)?;
        let id = listed_id(key);
        let desc = Self::relation_desc();
        let row =
            Row::new(vec![Datum::Int64(state.last_value), Datum::Int64(state.log_cnt), Datum::Bool(state.is_called)]);
        Some(CatalogItem {
            id,
            name: name.to_string(),
            kind: ItemKind::View,
            view_expr: Some(RelationExpr::constant(vec![row], 3)),
            desc,
            defaults: vec![],
        })
    }
}

impl eddy_expr::func::SequenceHost for Sequences {
    fn nextval(&self, session: i32, name: &str) -> Result<i64, EvalError> {
        let mut registry = self.lock();
        let (key, _) = registry.state(name)?;
        registry.next(session, key)
    }

    fn currval(&self, session: i32, name: &str) -> Result<i64, EvalError> {
        let mut registry = self.lock();
        let (key, state) = registry.state(name)?;
        let shown = state.name.clone();
        registry.sessions.get(&session).and_then(|s| s.current.get(&key).copied()).ok_or_else(|| {
            EvalError::InvalidArgument {
                sqlstate: "55000".into(),
                message: format!("currval of sequence \"{shown}\" is not yet defined in this session"),
            }
        })
    }

    fn setval(&self, session: i32, name: &str, value: i64, is_called: bool) -> Result<i64, EvalError> {
        let mut registry = self.lock();
        let (key, state) = registry.state(name)?;
        let (min, max) = (state.spec.min, state.spec.max);
        if !(min..=max).contains(&value) {
            return Err(EvalError::InvalidArgument {
                sqlstate: "22003".into(),
                message: format!(
                    "setval: value {value} is out of bounds for sequence \"{}\" ({min}..{max})",
                    state.name
                ),
            });
        }
        (state.last_value, state.is_called, state.log_cnt, state.unknown) = (value, is_called, 0, false);
        registry.unsaved.insert(key);
        if is_called {
            registry.sessions.entry(session).or_default().current.insert(key, value);
        }
        Ok(value)
    }

    fn lastval(&self, session: i32) -> Result<i64, EvalError> {
        let registry = self.lock();
        let values = registry.sessions.get(&session);
        let last =
            values.and_then(|s| s.last.filter(|k| registry.states.contains_key(k)).and_then(|k| s.current.get(&k)));
        last.copied().ok_or_else(|| EvalError::InvalidArgument {
            sqlstate: "55000".into(),
            message: "lastval is not yet defined in this session".into(),
        })
    }
}

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

    fn next_number(&mut self, session: &Session, table: GlobalId, column: usize) -> Result<Datum, AdapterError> {
        let entry = self.entries().get(&table).ok_or_else(|| AdapterError::Internal("the table is gone".into()))?;
        let ty = entry.item.desc.columns()[column].1.scalar_type.clone();
        let default = entry.item.defaults.get(column).cloned().flatten().unwrap_or_default();
        if self.sequences.column_unknown(table, column) {
            // Written by a version that kept no counters: on from the largest number.
            let (name, arity) = (entry.item.name.clone(), entry.item.desc.arity());
            let rows = self.evaluate_now(session, &RelationExpr::get(table, name, arity))?;
            let last = rows.iter().filter(|(_, d)| *d > 0).filter_map(|(r, _)| r[column].as_i64()).max();
            self.sequences.set_column_last(table, column, last.unwrap_or(0));
        }
        let next = self.sequences.next_for_column(eddy_expr::func::statement_session(), table, column, &default)?;
        // A sequence object may give numbers beyond the column's type.
        let out_of_range = |ty: &str| AdapterError::from(EvalError::OutOfRange(format!("{ty} out of range")));
        Ok(match ty {
            ScalarType::Int16 => Datum::Int16(i16::try_from(next).map_err(|_| out_of_range("smallint"))?),
            ScalarType::Int32 => Datum::Int32(i32::try_from(next).map_err(|_| out_of_range("integer"))?),
            _ => Datum::Int64(next),
        })
    }
}
