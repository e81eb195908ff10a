//! Secrets, connections and running sources, as the coordinator keeps them.
//!
//! A source's outputs are collections in compute like tables; its thread (storage) hands
//! batches to [`Coordinator::apply_source_batch`], which gives each batch one timestamp
//! from the oracle, so that reads see whole batches and several sources consistently.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};

use eddy_compute::pack_updates;
use eddy_compute::Command;
use eddy_planner::ddl::{ConnectionPlan, ConnectionTarget, OtherObjectKind};
use eddy_planner::{CatalogItem, ItemKind};
use eddy_repr::source::{Format, SchemaRegistry, SourceSpec};
use eddy_repr::{ColumnType, Datum, Diff, GlobalId, PackedRow, RelationDesc, Row, ScalarType, Timestamp};
use eddy_storage::durable::{SharedRows, WriteSet};
use eddy_storage::{SourceBatch, SourceErrorRecord, SourceHandle, SourceStatus};
use tracing::{info, warn};

use crate::coordinator::{command, Coordinator, ExecuteResponse};
use crate::error::AdapterError;
use crate::http::MetricsText;
use crate::system_tables;
use eddy_planner::quote_ident;

/// How many bad messages per source `eddy_catalog.source_errors` keeps (the count in
/// SHOW SOURCES is never truncated).
const MAX_ERRORS_KEPT: usize = 10_000;

/// Secrets, connections and running sources.
#[derive(Default)]
pub struct Sources {
    /// Secrets by name. Their values are never printed.
    secrets: BTreeMap<String, StoredSecret>,
    connections: BTreeMap<String, StoredConnection>,
    pub running: BTreeMap<GlobalId, RunningSource>,
    /// The coordinator itself, for source threads to hand batches to.
    coordinator: Weak<Mutex<Coordinator>>,
    /// Restored sources waiting for their stored rows to load.
    deferred: Vec<DeferredSource>,
}

/// A restored source not started yet.
struct DeferredSource {
    parent: GlobalId,
    spec: SourceSpec,
}

struct StoredSecret {
    id: GlobalId,
    value: String,
    /// As given (`env:VAR` stays a reference), for the stored catalog only.
    create_sql: String,
}

struct StoredConnection {
    id: GlobalId,
    plan: ConnectionPlan,
    create_sql: String,
}

impl Sources {
    /// `(name, id, CREATE ...)` of every secret and connection, for the stored catalog.
    /// A secret given as a literal is stored as written: the data directory must be kept
    /// as private as the secret itself.
    pub(crate) fn statements(&self) -> Vec<(String, GlobalId, String)> {
        let secrets = self.secrets.iter().map(|(n, s)| (n.clone(), s.id, s.create_sql.clone()));
        let connections = self.connections.iter().map(|(n, c)| (n.clone(), c.id, c.create_sql.clone()));
        secrets.chain(connections).collect()
    }
}

/// A started source and what it has produced.
pub struct RunningSource {
    pub name: String,
    pub kind: &'static str,
    pub handle: SourceHandle,
    /// The connections it uses (Kafka, and a schema registry for Avro).
    pub connections: Vec<String>,
    /// The collections its batches go to, in storage's output order.
    pub outputs: Vec<GlobalId>,
    pub errors: VecDeque<SourceErrorRecord>,
    pub error_count: u64,
    /// Everything it produced up to here is readable.
    pub upper: Option<Timestamp>,
}

impl RunningSource {
    pub fn status(&self) -> SourceStatus {
        self.handle.status()
    }
}

/// Lets source threads reach the coordinator once it is shared.
pub fn attach(coordinator: &Arc<Mutex<Coordinator>>) {
    if let Ok(mut c) = coordinator.lock() {
        c.sources.coordinator = Arc::downgrade(coordinator);
    }
}

impl Coordinator {
    pub(crate) fn create_secret(
        &mut self,
        name: String,
        value: String,
        if_not_exists: bool,
    ) -> Result<ExecuteResponse, AdapterError> {
        if self.sources.secrets.contains_key(&name) {
            return self.other_exists("secret", &name, if_not_exists, "CREATE SECRET");
        }
        let create_sql = format!("CREATE SECRET {} AS '{}'", quote_ident(&name), value.replace('\'', "''"));
        let value = match value.strip_prefix("env:") {
            Some(var) => std::env::var(var).map_err(|_| {
                AdapterError::InvalidParameterValue(format!(
                    "secret {name}: environment variable {var} is not set in the eddy server's environment"
                ))
            })?,
            None => value,
        };
        let id = self.allocate_id();
        self.sources.secrets.insert(name, StoredSecret { id, value, create_sql });
        Ok(command("CREATE SECRET"))
    }

    pub(crate) fn create_connection(
        &mut self,
        name: String,
        plan: ConnectionPlan,
        if_not_exists: bool,
        create_sql: String,
    ) -> Result<ExecuteResponse, AdapterError> {
        if self.sources.connections.contains_key(&name) {
            return self.other_exists("connection", &name, if_not_exists, "CREATE CONNECTION");
        }
        for (_, secret) in &plan.secret_refs {
            if !self.sources.secrets.contains_key(secret) {
                return Err(AdapterError::UndefinedObject(format!("secret \"{secret}\" does not exist")));
            }
        }
        let id = self.allocate_id();
        self.sources.connections.insert(name, StoredConnection { id, plan, create_sql });
        Ok(command("CREATE CONNECTION"))
    }

    fn other_exists(
        &self,
        kind: &str,
        name: &str,
        if_not_exists: bool,
        tag: &str,
    ) -> Result<ExecuteResponse, AdapterError> {
        if if_not_exists {
            Ok(command(tag))
        } else {
            Err(AdapterError::Plan(eddy_planner::PlanError::InvalidName(format!("{kind} \"{name}\" already exists"))))
        }
    }

    pub(crate) fn create_source(
        &mut self,
        name: String,
        mut spec: SourceSpec,
        mut desc: RelationDesc,
        connection: Option<String>,
        if_not_exists: bool,
        mut create_sql: String,
    ) -> Result<ExecuteResponse, AdapterError> {
        let outputs = eddy_storage::outputs(&name, &spec, &desc);
        let mut names: Vec<&str> = outputs.iter().map(|(n, _)| n.as_str()).collect();
        if !names.contains(&name.as_str()) {
            names.insert(0, &name);
        }
        for n in &names {
            if self.name_taken(n) {
                if if_not_exists && *n == name {
                    return Ok(command("CREATE SOURCE"));
                }
                return Err(AdapterError::Plan(eddy_planner::PlanError::RelationExists(n.to_string())));
            }
        }
        let mut connections: Vec<String> = connection.iter().cloned().collect();
        if let (SourceSpec::Kafka(kafka), Some(conn)) = (&mut spec, &connection) {
            kafka.connection = self.resolve_connection(conn)?;
            for format in kafka.key_format.iter_mut().chain([&mut kafka.value_format]) {
                if let Format::Avro(avro) = format {
                    avro.registry = self.resolve_registry(&avro.connection)?;
                    if !connections.contains(&avro.connection) {
                        connections.push(avro.connection.clone());
                    }
                }
            }
            if let Format::Avro(avro) = &kafka.value_format {
                if kafka.value_desc.arity() == 0 {
                    // Columns from the registry's latest value schema, stored as if
                    // declared: a restart or a newer schema does not change them.
                    let debezium = kafka.envelope == eddy_repr::source::Envelope::Debezium;
                    let columns = registry_columns(&avro.registry, &format!("{}-value", kafka.topic), debezium)?;
                    kafka.value_desc = RelationDesc::new(columns.clone());
                    desc = eddy_planner::ddl::source_columns(kafka)?;
                    create_sql = eddy_planner::ddl::with_declared_columns(&create_sql, &columns)?;
                }
            }
        }
        let outputs = eddy_storage::outputs(&name, &spec, &desc);
        // A multi-table generator's own name is a relation of no columns that its tables
        // depend on, so that DROP SOURCE name CASCADE removes them all. It takes the first
        // id: replaying its CREATE SOURCE after a restart then gives every table its id back.
        let own_relation = (outputs.len() != 1 || outputs[0].0 != name).then(|| self.allocate_id());
        let output_ids: Vec<GlobalId> = outputs.iter().map(|_| self.allocate_id()).collect();
        let parent = own_relation.unwrap_or(output_ids[0]);
        let collections: Vec<GlobalId> = own_relation.into_iter().chain(output_ids.iter().copied()).collect();
        for &id in &collections {
            self.compute.send(Command::CreateTable { id });
        }
        // A restored source starts once its stored rows are loaded: a batch persisted
        // before that would be both loaded and applied.
        let started = if self.restoring {
            self.defer_load(&output_ids);
            self.sources.deferred.push(DeferredSource { parent, spec: spec.clone() });
            Ok(SourceHandle::idle())
        } else {
            let sink = self.batch_sink(parent, output_ids.clone());
            eddy_storage::start(&name, &spec, self.compute.workers(), sink, Default::default()).map_err(Into::into)
        };
        let handle = match started {
            Ok(handle) => handle,
            Err(e) => {
                for id in collections {
                    self.compute.send(Command::Drop { id });
                }
                return Err(e);
            }
        };
        let kind = match &spec {
            SourceSpec::Kafka(_) => "kafka",
            SourceSpec::LoadGenerator(_) => "load-generator",
        };
        if parent != output_ids[0] {
            self.insert_entry(
                parent,
                name.clone(),
                ItemKind::Source,
                RelationDesc::new(vec![]),
                None,
                create_sql.clone(),
                vec![],
            );
        }
        for ((output_name, output_desc), &id) in outputs.into_iter().zip(&output_ids) {
            let (sql, deps) = if id == parent {
                (create_sql.clone(), vec![])
            } else {
                (format!("-- a table of source {name}: {create_sql}"), vec![parent])
            };
            self.insert_entry(id, output_name, ItemKind::Source, output_desc, None, sql, deps);
        }
        info!(source = %name, kind, "source created");
        self.sources.running.insert(
            parent,
            RunningSource {
                name,
                kind,
                handle,
                connections,
                outputs: output_ids,
                errors: VecDeque::new(),
                error_count: 0,
                upper: None,
            },
        );
        Ok(command("CREATE SOURCE"))
    }

    /// Kafka connection `name` with its secrets' values filled in.
    fn resolve_connection(&self, name: &str) -> Result<eddy_repr::source::KafkaConnection, AdapterError> {
        let (plan, secrets) = self.connection_with_secrets(name)?;
        let ConnectionTarget::Kafka(mut connection) = plan.target.clone() else {
            return Err(wrong_connection(name, &plan.target, "kafka"));
        };
        connection.secret_options = secrets;
        Ok(connection)
    }

    /// Schema registry connection `name` with its password filled in.
    fn resolve_registry(&self, name: &str) -> Result<SchemaRegistry, AdapterError> {
        let (plan, secrets) = self.connection_with_secrets(name)?;
        let ConnectionTarget::SchemaRegistry(mut registry) = plan.target.clone() else {
            return Err(wrong_connection(name, &plan.target, "schema registry"));
        };
        registry.password = secrets.into_iter().find(|(setting, _)| setting == "password").map(|(_, v)| v);
        Ok(registry)
    }

    /// Connection `name` and the values of the secrets it names, by setting.
    fn connection_with_secrets(&self, name: &str) -> Result<(&ConnectionPlan, SecretValues), AdapterError> {
        let stored = self
            .sources
            .connections
            .get(name)
            .ok_or_else(|| AdapterError::UndefinedObject(format!("connection \"{name}\" does not exist")))?;
        let mut values = Vec::new();
        for (setting, secret) in &stored.plan.secret_refs {
            let value = self.sources.secrets.get(secret).map(|s| &s.value).ok_or_else(|| {
                AdapterError::UndefinedObject(format!("secret \"{secret}\" used by connection {name} does not exist"))
            })?;
            values.push((setting.clone(), value.clone()));
        }
        Ok((&stored.plan, values))
    }

    /// Starts the restored sources whose stored rows are all loaded, from where those rows
    /// end.
    pub(crate) fn start_loaded_sources(&mut self) {
        let deferred = std::mem::take(&mut self.sources.deferred);
        for source in deferred {
            let Some(running) = self.sources.running.get(&source.parent) else { continue };
            if running.outputs.iter().any(|id| self.loading.contains_key(id)) {
                self.sources.deferred.push(source);
                continue;
            }
            let (name, outputs) = (running.name.clone(), running.outputs.clone());
            let sink = self.batch_sink(source.parent, outputs.clone());
            let started = self
                .stored_resume(source.parent, &outputs)
                .and_then(|resume| Ok(eddy_storage::start(&name, &source.spec, self.compute.workers(), sink, resume)?));
            match (started, self.sources.running.get_mut(&source.parent)) {
                (Ok(handle), Some(running)) => running.handle = handle,
                (Err(e), _) => warn!(source = %name, "cannot restart the source after loading its rows: {e}"),
                _ => {}
            }
        }
    }

    /// Where restored source `parent` goes on: the offsets stored with its rows (under
    /// its first output) and its UPSERT state.
    fn stored_resume(&self, parent: GlobalId, outputs: &[GlobalId]) -> Result<eddy_storage::Resume, AdapterError> {
        let first = outputs.first().copied().unwrap_or(parent);
        Ok(eddy_storage::Resume {
            offsets: self.store.offsets(first)?,
            upsert: self.store.upsert_state(first)?,
            restored: true,
        })
    }

    /// What source `source`'s thread calls with each batch: persists it with the offsets
    /// it covers (retrying while the data directory refuses it, so nothing is skipped),
    /// then applies it; returns `false` once the source is gone.
    fn batch_sink(&self, source: GlobalId, outputs: Vec<GlobalId>) -> eddy_storage::BatchSink {
        let coordinator = self.sources.coordinator.clone();
        let store = self.store.clone();
        Arc::new(move |mut batch: SourceBatch| {
            let first = outputs[0];
            // Packed here, outside the coordinator's lock, and shared with the store.
            let packed: Vec<SharedRows> =
                std::mem::take(&mut batch.updates).iter().map(|updates| Arc::new(pack_updates(updates))).collect();
            let writes = || WriteSet {
                changes: outputs.iter().copied().zip(packed.iter().cloned()).collect(),
                offsets: batch.offsets.iter().map(|&(p, o)| (first, p, o)).collect(),
                upsert: batch.upsert.iter().map(|(k, v)| (first, k.clone(), v.clone())).collect(),
                no_sync: true,
                ..WriteSet::default()
            };
            let mut warned = false;
            while !store.is_ephemeral() {
                match store.commit(writes()) {
                    Ok(()) => break,
                    Err(e) => {
                        if !warned {
                            warn!(source, "cannot persist a source batch, retrying every second: {e}");
                            warned = true;
                        }
                        std::thread::sleep(std::time::Duration::from_secs(1));
                        if coordinator.strong_count() == 0 {
                            return false;
                        }
                    }
                }
            }
            let packed = packed.into_iter().map(|rows| Arc::try_unwrap(rows).unwrap_or_else(|rows| (*rows).clone()));
            let Some(coordinator) = coordinator.upgrade() else { return false };
            let Ok(mut c) = coordinator.lock() else { return false };
            c.apply_source_batch(source, batch, packed.collect())
        })
    }

    /// Applies one batch of source `source` at a fresh timestamp: `updates` are its
    /// changes per output, packed.
    pub(crate) fn apply_source_batch(
        &mut self,
        source: GlobalId,
        batch: SourceBatch,
        updates: Vec<Vec<(PackedRow, Diff)>>,
    ) -> bool {
        let Some(running) = self.sources.running.get_mut(&source) else { return false };
        if let Some(e) = batch.errors.first() {
            // One line per batch, not per message: bad data must not flood the log.
            warn!(
                source = %running.name, topic = %e.topic, partition = e.partition, offset = e.offset,
                "{} message(s) could not be applied (see eddy_catalog.source_errors); first: {}",
                batch.errors.len(), e.reason
            );
        }
        running.error_count += batch.errors.len() as u64;
        running.errors.extend(batch.errors);
        while running.errors.len() > MAX_ERRORS_KEPT {
            running.errors.pop_front();
        }
        let writes: Vec<_> =
            running.outputs.iter().copied().zip(updates).filter(|(_, updates)| !updates.is_empty()).collect();
        if !writes.is_empty() {
            self.apply_packed(writes);
        }
        let upper = self.last_write;
        if let Some(running) = self.sources.running.get_mut(&source) {
            running.upper = Some(upper);
        }
        true
    }

    /// Stops the source whose catalog entry `id` is being dropped, if it is one.
    pub(crate) fn stop_source(&mut self, id: GlobalId) {
        if let Some(running) = self.sources.running.remove(&id) {
            info!(source = %running.name, "source dropped");
        }
    }

    pub(crate) fn drop_other(
        &mut self,
        kind: OtherObjectKind,
        names: Vec<String>,
        if_exists: bool,
        cascade: bool,
    ) -> Result<ExecuteResponse, AdapterError> {
        let tag = format!("DROP {}", kind.as_str().to_uppercase());
        for name in names {
            let exists = match kind {
                OtherObjectKind::Connection => self.sources.connections.contains_key(&name),
                OtherObjectKind::Secret => self.sources.secrets.contains_key(&name),
            };
            if !exists {
                if if_exists {
                    continue;
                }
                return Err(AdapterError::UndefinedObject(format!("{} \"{name}\" does not exist", kind.as_str())));
            }
            let connections: Vec<String> = match kind {
                OtherObjectKind::Connection => vec![name.clone()],
                OtherObjectKind::Secret => self
                    .sources
                    .connections
                    .iter()
                    .filter(|(_, c)| c.plan.secret_refs.iter().any(|(_, s)| *s == name))
                    .map(|(n, _)| n.clone())
                    .collect(),
            };
            let sources: Vec<GlobalId> = self
                .sources
                .running
                .iter()
                .filter(|(_, s)| s.connections.iter().any(|c| connections.contains(c)))
                .map(|(id, _)| *id)
                .collect();
            let mut detail: Vec<String> = Vec::new();
            if kind == OtherObjectKind::Secret {
                detail.extend(connections.iter().map(|c| format!("connection {c} depends on secret {name}")));
            }
            let mut dependents = Vec::new();
            for id in &sources {
                let all = self.dependents(*id);
                let source = &self.sources.running[id];
                for c in source.connections.iter().filter(|c| connections.contains(c)) {
                    detail.push(format!("source {} depends on connection {c}", source.name));
                }
                dependents.extend(all);
            }
            if !detail.is_empty() && !cascade {
                return Err(AdapterError::Dependents {
                    message: format!("cannot drop {} {name} because other objects depend on it", kind.as_str()),
                    detail: detail.join("\n"),
                });
            }
            self.drop_ids(&dependents);
            if kind == OtherObjectKind::Secret {
                self.sources.secrets.remove(&name);
            }
            for c in connections {
                self.sources.connections.remove(&c);
            }
        }
        Ok(command(&tag))
    }
}

/// `(setting, value)` of the secrets a connection names.
type SecretValues = Vec<(String, String)>;

/// Connection `name` is of the wrong kind for its use.
fn wrong_connection(name: &str, target: &ConnectionTarget, wanted: &str) -> AdapterError {
    AdapterError::InvalidParameterValue(format!(
        "connection {name} is a {} connection, not a {wanted} connection",
        target.kind()
    ))
}

/// The columns of the latest Avro schema registered under `subject` (of the row inside
/// it, for Debezium change events).
fn registry_columns(
    registry: &SchemaRegistry,
    subject: &str,
    debezium: bool,
) -> Result<Vec<(String, ColumnType)>, AdapterError> {
    let client = eddy_storage::registry::RegistryClient::new(registry.clone());
    let text = client.latest(subject).map_err(eddy_storage::StorageError::from)?;
    let schema = eddy_storage::avro::Schema::parse(&text).map_err(|e| {
        AdapterError::InvalidParameterValue(format!("the latest schema of subject {subject} is not valid Avro: {e}"))
    })?;
    let columns = if debezium { schema.debezium_columns() } else { schema.columns() };
    columns.map_err(|e| AdapterError::InvalidParameterValue(format!("subject {subject}: {e}")))
}

/// One line of `SHOW SOURCES` / `eddy_catalog.sources`.
struct SourceRow {
    name: String,
    kind: &'static str,
    status: String,
    messages: u64,
    bytes: u64,
    errors: u64,
    upper: Option<Timestamp>,
    partitions: usize,
    lag: i64,
    /// The most any partition is behind, in time (ms), if known.
    lag_ms: Option<i64>,
    /// Max over min messages read per partition (1 = even).
    skew: Option<f64>,
    backpressure_ms: u64,
    last_batch_ms: u64,
}

impl Coordinator {
    fn source_rows(&self) -> Vec<SourceRow> {
        let mut rows = Vec::new();
        for running in self.sources.running.values() {
            let status = running.status();
            let read: Vec<i64> = status.partitions.iter().map(|p| p.next_offset.max(0)).collect();
            let skew = match (read.iter().max(), read.iter().min()) {
                (Some(&max), Some(&min)) if min > 0 => Some(max as f64 / min as f64),
                _ => None,
            };
            let row = |name: String, kind: &'static str| SourceRow {
                name,
                kind,
                status: status.state.to_string(),
                messages: status.messages_read,
                bytes: status.bytes_read,
                errors: running.error_count,
                upper: running.upper,
                partitions: status.partitions.len(),
                lag: status.partitions.iter().map(|p| p.high_watermark - p.next_offset).sum(),
                lag_ms: status.partitions.iter().filter_map(|p| p.lag_ms).max(),
                skew,
                backpressure_ms: status.backpressure_ms,
                last_batch_ms: status.last_batch_ms,
            };
            rows.push(row(running.name.clone(), running.kind));
            for id in &running.outputs {
                if let Some(e) = self.entry(*id).ok().filter(|e| e.item.name != running.name) {
                    rows.push(row(e.item.name.clone(), "subsource"));
                }
            }
        }
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        rows
    }

    /// `SHOW SOURCES`: name, type, status, messages and decode errors of
    /// `eddy_catalog.sources`.
    pub(crate) fn show_sources(&self) -> ExecuteResponse {
        const SHOWN: [usize; 5] = [0, 1, 2, 3, 5];
        let columns = sources_columns();
        let desc = RelationDesc::new(SHOWN.iter().map(|&c| columns[c].clone()).collect());
        let rows = self.source_rows().into_iter().map(|r| sources_row(r).project(&SHOWN)).collect();
        ExecuteResponse::Rows { desc, rows }
    }

    /// `eddy_catalog.sources`, `eddy_catalog.source_errors` and
    /// `eddy_catalog.source_partitions`, as of now.
    pub(crate) fn source_system_table(&self, name: &str) -> Option<CatalogItem> {
        match name.strip_prefix("eddy_catalog.").unwrap_or(name) {
            "sources" => {
                let rows = self.source_rows().into_iter().map(sources_row).collect();
                Some(system_tables::constant(name, system_tables::SOURCES, sources_columns(), rows))
            }
            "source_errors" => {
                let mut rows = Vec::new();
                for running in self.sources.running.values() {
                    for e in &running.errors {
                        rows.push(Row::new(vec![
                            Datum::Text(running.name.clone()),
                            Datum::Text(e.topic.clone()),
                            Datum::Int32(e.partition),
                            Datum::Int64(e.offset),
                            Datum::Text(e.reason.clone()),
                            Datum::Bytes(e.raw.clone()),
                            Datum::TimestampTz(e.at),
                        ]));
                    }
                }
                let columns = vec![
                    text("source"),
                    text("topic"),
                    system_tables::column("partition", ScalarType::Int32),
                    int("offset"),
                    text("reason"),
                    system_tables::column("raw", ScalarType::Bytea),
                    system_tables::column("at", ScalarType::timestamptz()),
                ];
                Some(system_tables::constant(name, system_tables::SOURCE_ERRORS, columns, rows))
            }
            "source_partitions" => {
                let mut rows = Vec::new();
                for running in self.sources.running.values() {
                    for p in running.status().partitions {
                        rows.push(Row::new(vec![
                            Datum::Text(running.name.clone()),
                            Datum::Int32(p.partition),
                            Datum::Int64(p.next_offset),
                            Datum::Int64(p.high_watermark),
                            Datum::Int64(p.high_watermark - p.next_offset),
                            p.lag_ms.map_or(Datum::Null, Datum::Int64),
                        ]));
                    }
                }
                let columns = vec![
                    text("source"),
                    system_tables::column("partition", ScalarType::Int32),
                    int("next_offset"),
                    int("high_watermark"),
                    int("lag_messages"),
                    system_tables::nullable_column("lag_ms", ScalarType::Int64),
                ];
                Some(system_tables::constant(name, system_tables::SOURCE_PARTITIONS, columns, rows))
            }
            _ => None,
        }
    }

    /// Per-source metrics for `/metrics` (subsources share their source's figures).
    pub(crate) fn render_metrics(&self) -> String {
        let rows: Vec<SourceRow> = self.source_rows().into_iter().filter(|r| r.kind != "subsource").collect();
        let mut m = MetricsText::default();
        let mut family = |name: &str, kind: &str, help: &str, value: &dyn Fn(&SourceRow) -> Option<f64>| {
            m.family(name, kind, help);
            for r in &rows {
                if let Some(v) = value(r) {
                    m.sample(name, &[("source", &r.name), ("type", r.kind)], v);
                }
            }
        };
        family("eddy_source_messages_total", "counter", "Messages (or generated rows) read.", &|r| {
            Some(r.messages as f64)
        });
        family("eddy_source_bytes_total", "counter", "Bytes of keys and values read.", &|r| Some(r.bytes as f64));
        family("eddy_source_decode_errors_total", "counter", "Messages that could not be applied.", &|r| {
            Some(r.errors as f64)
        });
        family("eddy_source_lag_messages", "gauge", "Messages in the topic not yet read, all partitions.", &|r| {
            Some(r.lag as f64)
        });
        family("eddy_source_lag_seconds", "gauge", "How far behind in time the most lagging partition is.", &|r| {
            r.lag_ms.map(|ms| ms as f64 / 1000.0)
        });
        family("eddy_source_partition_skew_ratio", "gauge", "Most over fewest messages read per partition.", &|r| {
            r.skew
        });
        family("eddy_source_batch_apply_seconds", "gauge", "Time the last batch took to apply.", &|r| {
            Some(r.last_batch_ms as f64 / 1000.0)
        });
        family(
            "eddy_source_backpressure_seconds_total",
            "counter",
            "Time spent waiting for batches to be applied downstream.",
            &|r| Some(r.backpressure_ms as f64 / 1000.0),
        );
        family("eddy_source_upper_timestamp_seconds", "gauge", "Everything up to this time is readable.", &|r| {
            r.upper.map(|u| u as f64 / 1000.0)
        });
        family("eddy_source_stalled", "gauge", "1 if the source cannot make progress.", &|r| {
            Some(if r.status.starts_with("stalled") { 1.0 } else { 0.0 })
        });
        let partitions: Vec<_> = self
            .sources
            .running
            .values()
            .flat_map(|running| running.status().partitions.into_iter().map(move |p| (running.name.clone(), p)))
            .collect();
        m.family("eddy_source_partition_lag_messages", "gauge", "Messages not yet read, per partition.");
        for (source, p) in &partitions {
            let partition = p.partition.to_string();
            let lag = (p.high_watermark - p.next_offset) as f64;
            m.sample("eddy_source_partition_lag_messages", &[("source", source), ("partition", &partition)], lag);
        }
        m.family("eddy_source_partition_lag_seconds", "gauge", "How far behind in time, per partition.");
        for (source, p) in &partitions {
            let partition = p.partition.to_string();
            if let Some(ms) = p.lag_ms {
                let labels = [("source", source.as_str()), ("partition", partition.as_str())];
                m.sample("eddy_source_partition_lag_seconds", &labels, ms as f64 / 1000.0);
            }
        }
        m.finish()
    }

    pub(crate) fn show_connections(&self) -> ExecuteResponse {
        let rows = self
            .sources
            .connections
            .iter()
            .map(|(n, c)| Row::new(vec![Datum::Text(n.clone()), Datum::Text(c.create_sql.clone())]))
            .collect();
        ExecuteResponse::Rows { desc: RelationDesc::new(vec![text("name"), text("create_sql")]), rows }
    }

    /// `SHOW CREATE SOURCE | CONNECTION | MATERIALIZED VIEW | DYNAMIC TABLE name`: the
    /// statement as written (secrets appear only as `SECRET name`; a target lag as it is
    /// now).
    pub(crate) fn show_create_named(&self, kind: &str, name: &str) -> Result<ExecuteResponse, AdapterError> {
        let sql = match kind {
            "connection" => self.sources.connections.get(name).map(|c| c.create_sql.clone()),
            // A dynamic table is a materialized view with a target lag: either name works.
            "materialized view" | "dynamic table" => self
                .id_of(name)
                .and_then(|id| self.entry(id).ok())
                .filter(|e| e.item.kind == eddy_planner::ItemKind::MaterializedView)
                .map(|e| e.create_sql.clone()),
            _ => self
                .sources
                .running
                .iter()
                .find(|(_, s)| s.name == name)
                .and_then(|(id, _)| self.entry(*id).ok())
                .map(|e| e.create_sql.clone()),
        };
        let missing = format!("{kind} \"{name}\" does not exist");
        let sql = match (sql, kind) {
            (Some(sql), _) => sql,
            (None, "materialized view" | "dynamic table") => return Err(AdapterError::UnknownObject(missing)),
            (None, _) => return Err(AdapterError::UndefinedObject(missing)),
        };
        let rows = vec![Row::new(vec![Datum::Text(name.to_string()), Datum::Text(sql)])];
        Ok(ExecuteResponse::Rows { desc: RelationDesc::new(vec![text("name"), text("create_sql")]), rows })
    }

    pub(crate) fn show_secrets(&self) -> ExecuteResponse {
        let rows = self.sources.secrets.keys().map(|n| Row::new(vec![Datum::Text(n.clone())])).collect();
        ExecuteResponse::Rows { desc: RelationDesc::new(vec![text("name")]), rows }
    }
}

fn sources_columns() -> Vec<(String, ColumnType)> {
    vec![
        text("name"),
        text("type"),
        text("status"),
        int("messages"),
        int("bytes"),
        int("decode_errors"),
        system_tables::nullable_column("upper", ScalarType::timestamptz()),
        system_tables::column("partitions", ScalarType::Int32),
        int("lag_messages"),
        system_tables::nullable_column("lag_ms", ScalarType::Int64),
        system_tables::nullable_column("partition_skew", ScalarType::Float64),
        int("backpressure_ms"),
        int("last_batch_ms"),
    ]
}

fn sources_row(r: SourceRow) -> Row {
    let upper = r.upper.map_or(Datum::Null, system_tables::timestamptz);
    Row::new(vec![
        Datum::Text(r.name),
        Datum::Text(r.kind.into()),
        Datum::Text(r.status),
        Datum::Int64(r.messages as i64),
        Datum::Int64(r.bytes as i64),
        Datum::Int64(r.errors as i64),
        upper,
        Datum::Int32(r.partitions as i32),
        Datum::Int64(r.lag),
        r.lag_ms.map_or(Datum::Null, Datum::Int64),
        r.skew.map_or(Datum::Null, Datum::Float64),
        Datum::Int64(r.backpressure_ms as i64),
        Datum::Int64(r.last_batch_ms as i64),
    ])
}

fn text(name: &str) -> (String, ColumnType) {
    system_tables::column(name, ScalarType::Text)
}

fn int(name: &str) -> (String, ColumnType) {
    system_tables::column(name, ScalarType::Int64)
}
