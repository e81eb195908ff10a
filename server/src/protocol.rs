//! The PostgreSQL wire protocol edge (pgwire): simple and extended queries, COPY FROM
//! STDIN, value encoding in text and binary, and errors as SQLSTATE responses.

use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use async_trait::async_trait;
use bytes::BytesMut;
use eddy_expr::EvalError;
use eddy_planner::{Plan, StatementContext};
use eddy_repr::{strconv, Datum, RelationDesc, Row, ScalarType};
use futures::{stream, Sink, SinkExt, StreamExt};
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::copy::CopyHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    CopyResponse, DescribePortalResponse, DescribeStatementResponse, FieldFormat, FieldInfo, QueryResponse, Response,
    Tag,
};
use pgwire::api::stmt::{NoopQueryParser, StoredStatement};
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyOutResponse};
use pgwire::messages::data::DataRow;
use pgwire::messages::extendedquery::Execute;
use pgwire::messages::response::{NoticeResponse, TransactionStatus};
use pgwire::messages::simplequery::Query;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use tokio::sync::Notify;

use crate::backends::{Activity, Backend, Backends};
use crate::cancel::{CancelReason, CancelSignal};
use crate::coordinator::{Coordinator, ExecuteResponse};
use crate::error::AdapterError;
use crate::session::Session;
use crate::subscribe::{Cursor, Subscription};
use eddy_expr::func::{with_statement, StatementEnv};
use eddy_planner::ddl::CursorStatement;

/// Largest SQL text accepted, so one client cannot make the server allocate without bound.
const MAX_QUERY_BYTES: usize = 64 * 1024 * 1024;

/// One client connection: shared coordinator, own session.
pub struct Connection {
    coord: Arc<Mutex<Coordinator>>,
    session: Mutex<Session>,
    /// The session's cancel signal (also in `session`, readable without its lock).
    cancel: Arc<CancelSignal>,
    backends: Arc<Backends>,
    /// Notified by `pg_terminate_backend` to close this connection.
    terminate: Arc<Notify>,
    /// Who this connection is and what it does (`pg_stat_activity`), from startup on.
    activity: OnceLock<Arc<Activity>>,
    /// The server's sequences, which `nextval` and friends reach during a statement.
    sequences: Arc<crate::sequences::Sequences>,
}

/// What every connection shares besides the coordinator (each has its own lock).
pub struct Shared {
    pub backends: Arc<Backends>,
    pub sequences: Arc<crate::sequences::Sequences>,
}

impl Connection {
    pub fn new(coord: Arc<Mutex<Coordinator>>, shared: Shared, terminate: Arc<Notify>) -> Arc<Self> {
        let session = Session::new("eddy".into(), "eddy".into());
        let cancel = session.cancel.clone();
        let Shared { backends, sequences } = shared;
        Arc::new(Connection {
            sequences,
            coord,
            session: Mutex::new(session),
            cancel,
            backends,
            terminate,
            activity: OnceLock::new(),
        })
    }

    /// The process id the client got at startup (0 before it).
    fn pid(&self) -> i32 {
        self.activity.get().map_or(0, |a| a.pid)
    }

    /// Shows the connection running `query` until the returned guard is dropped.
    fn active(&self, query: &str) -> Active<'_> {
        if let Some(activity) = self.activity.get() {
            activity.begin(query);
        }
        Active(self)
    }

    /// Runs one statement, cancelled by a cancel request or when the session's
    /// `statement_timeout` passes. A cancel request that arrived while the connection was
    /// idle does not touch it.
    fn run(
        &self,
        stmt: &eddy_planner::Statement,
        params: Option<Vec<(Datum, ScalarType)>>,
        param_types: Vec<Option<ScalarType>>,
    ) -> Result<ExecuteResponse, AdapterError> {
        if !stmt.ends_failed_transaction() && self.session.lock().is_ok_and(|s| s.transaction_failed) {
            return Err(AdapterError::InFailedTransaction);
        }
        let statement = self.cancel.reset();
        let timeout = self.session.lock().ok().and_then(|s| s.statement_timeout());
        let timer = timeout.map(|t| {
            let cancel = self.cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(t).await;
                cancel.time_out(statement);
            })
        });
        let env = StatementEnv {
            interrupt: self.cancel.interrupt_check(),
            now: chrono::Utc::now(),
            session: self.pid(),
            sequences: Some(self.sequences.clone()),
        };
        let result = with_statement(env, || {
            let result = self.run_statement(stmt, params, param_types);
            // Numbers a statement handed out without writing a table are stored before
            // its result goes out, so that none is handed out again after a crash.
            self.sequences.store_moves().and(result)
        });
        if let Some(timer) = timer {
            timer.abort();
        }
        match result {
            Err(e) if e.sqlstate() == "57014" && self.cancel.reason() == Some(CancelReason::Timeout) => {
                Err(self.failed(AdapterError::StatementTimeout))
            }
            Err(e) => Err(self.failed(e)),
            ok => ok,
        }
    }

    /// Sends the NOTICEs and WARNINGs the last statement raised, before its result.
    async fn send_notices<C>(&self, client: &mut C) -> PgWireResult<()>
    where
        C: Sink<PgWireBackendMessage> + Unpin,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let notices = match self.session.lock() {
            Ok(mut session) => std::mem::take(&mut session.notices),
            Err(_) => return Ok(()),
        };
        for n in notices {
            let mut info = ErrorInfo::new(n.severity.to_string(), n.code.to_string(), n.message);
            info.detail = n.detail;
            client.send(PgWireBackendMessage::NoticeResponse(NoticeResponse::from(info))).await?;
        }
        Ok(())
    }

    /// `e` ended a statement: inside a transaction block, the block has failed.
    fn failed(&self, e: AdapterError) -> AdapterError {
        if let Ok(mut session) = self.session.lock() {
            session.transaction_failed |= session.in_transaction;
        }
        e
    }

    /// The transaction status the next ReadyForQuery reports, as the session knows it:
    /// pgwire alone cannot tell that ROLLBACK TO SAVEPOINT ended a failure.
    fn sync_transaction_status(&self, client: &mut impl ClientInfo) {
        let status = match self.session.lock() {
            Ok(s) if s.transaction_failed => TransactionStatus::Error,
            Ok(s) if s.in_transaction => TransactionStatus::Transaction,
            Ok(_) => TransactionStatus::Idle,
            Err(_) => return,
        };
        client.set_transaction_status(status);
    }

    /// Plans and executes one statement with the coordinator locked: statements are applied
    /// one at a time, which keeps reads and writes consistent.
    fn run_statement(
        &self,
        stmt: &eddy_planner::Statement,
        params: Option<Vec<(Datum, ScalarType)>>,
        param_types: Vec<Option<ScalarType>>,
    ) -> Result<ExecuteResponse, AdapterError> {
        let mut session = self.session.lock().map_err(|_| AdapterError::Internal("session lock poisoned".into()))?;
        // FETCH and CLOSE need only the session: a FETCH may wait, and must not hold up
        // everyone else while it does.
        if let eddy_planner::Statement::Cursor(cursor) = stmt {
            match &**cursor {
                CursorStatement::Fetch { name, count, timeout } => {
                    let cursor = session.cursors.get_mut(name).ok_or_else(|| unknown_cursor(name))?;
                    let rows = tokio::task::block_in_place(|| cursor.fetch(*count, *timeout, &self.cancel))?;
                    return Ok(ExecuteResponse::Rows { desc: cursor.desc(), rows });
                }
                CursorStatement::Close { name } => {
                    let cursor = session.cursors.remove(name).ok_or_else(|| unknown_cursor(name))?;
                    drop(session);
                    drop(cursor);
                    return Ok(ExecuteResponse::Command { tag: "CLOSE CURSOR".into(), rows: None });
                }
                CursorStatement::Declare { name, .. } if session.cursors.contains_key(name) => {
                    return Err(AdapterError::DuplicateCursor(name.clone()));
                }
                CursorStatement::Declare { .. } => {}
            }
        }
        if let eddy_planner::Statement::Sql(sql) = stmt {
            match eddy_planner::prepared::handle(&mut session.prepared, sql) {
                Some(Ok(eddy_planner::prepared::Outcome::Done(tag))) => {
                    return Ok(ExecuteResponse::Command { tag: tag.into(), rows: None })
                }
                Some(Ok(eddy_planner::prepared::Outcome::Run(bound))) => {
                    drop(session);
                    return self.run_statement(&eddy_planner::Statement::Sql(bound), params, param_types);
                }
                Some(Err(e)) => return Err(e.into()),
                None => {}
            }
        }
        let writes = eddy_planner::data_modifying_ctes(stmt);
        if !writes.is_empty() {
            return self.run_with_written_ctes(session, stmt, writes, params, param_types);
        }
        self.plan_and_run(session, stmt, params, param_types, vec![])
    }

    /// A statement whose WITH queries write (`WITH gone AS (DELETE ... RETURNING *) ...`):
    /// runs each of them in order, then the statement over the rows they returned, all in
    /// one transaction: the session's block, or one of its own that commits at the end.
    /// The statement sees the tables as its WITH queries left them (PostgreSQL shows it
    /// the tables as they were before).
    fn run_with_written_ctes(
        &self,
        mut session: MutexGuard<'_, Session>,
        stmt: &eddy_planner::Statement,
        writes: Vec<(String, eddy_planner::Statement)>,
        params: Option<Vec<(Datum, ScalarType)>>,
        param_types: Vec<Option<ScalarType>>,
    ) -> Result<ExecuteResponse, AdapterError> {
        let own_transaction = !session.in_transaction;
        session.in_transaction = true;
        drop(session);
        let outcome = (|| {
            let mut written = Vec::new();
            for (name, statement) in writes {
                let session = self.lock_session()?;
                let returned =
                    self.plan_and_run(session, &statement, params.clone(), param_types.clone(), written.clone())?;
                let (desc, rows) = match returned {
                    ExecuteResponse::Returning { desc, rows, .. } => (desc, rows),
                    _ => (RelationDesc::new(vec![]), vec![]),
                };
                written.push(eddy_planner::WrittenCte { name, desc, rows });
            }
            let session = self.lock_session()?;
            self.plan_and_run(session, stmt, params, param_types, written)
        })();
        if own_transaction {
            let end = if outcome.is_ok() { Plan::Commit } else { Plan::Rollback };
            let session = self.lock_session()?;
            let ended = self.plan_and_run(session, &eddy_planner::Statement::Eddy(Box::new(end)), None, vec![], vec![]);
            if outcome.is_ok() {
                ended?;
            }
        }
        outcome
    }

    fn lock_session(&self) -> Result<MutexGuard<'_, Session>, AdapterError> {
        self.session.lock().map_err(|_| AdapterError::Internal("session lock poisoned".into()))
    }

    /// Plans `stmt` with the RETURNING rows of its data-modifying WITH queries, runs it,
    /// and waits until what it wrote is durable.
    fn plan_and_run(
        &self,
        mut session: MutexGuard<'_, Session>,
        stmt: &eddy_planner::Statement,
        params: Option<Vec<(Datum, ScalarType)>>,
        param_types: Vec<Option<ScalarType>>,
        written_ctes: Vec<eddy_planner::WrittenCte>,
    ) -> Result<ExecuteResponse, AdapterError> {
        let mut ctx = StatementContext::new(eddy_expr::func::statement_now());
        ctx.written_ctes = written_ctes;
        ctx.user = session.user.clone();
        ctx.database = session.database.clone();
        ctx.settings = session.all();
        ctx.backend_pid = self.pid();
        ctx.params = params;
        ctx.param_types = param_types;
        let wait = RestoreWait::start();
        let response = loop {
            let mut coord =
                self.coord.lock().map_err(|_| AdapterError::Internal("coordinator lock poisoned".into()))?;
            let (plan, _) = tokio::task::block_in_place(|| eddy_planner::plan(stmt, &*coord, &ctx))?;
            let response = tokio::task::block_in_place(|| coord.execute(&mut session, plan));
            self.await_durable(&mut session, coord)?;
            match response {
                Err(e) if wait.retries(&e.sqlstate()) => wait.pause(),
                other => break other?,
            }
        };
        match (stmt, response) {
            // A cursor over a query holds the query's rows as of now.
            (eddy_planner::Statement::Cursor(cursor), ExecuteResponse::Select(select)) => {
                let CursorStatement::Declare { name, .. } = &**cursor else {
                    return Err(AdapterError::Internal("a cursor statement that is not DECLARE ran a query".into()));
                };
                let name = name.clone();
                drop(session);
                let ExecuteResponse::Rows { desc, rows } = tokio::task::block_in_place(|| select.evaluate())? else {
                    return Err(AdapterError::Internal("a cursor's query gave no rows".into()));
                };
                let mut session =
                    self.session.lock().map_err(|_| AdapterError::Internal("session lock poisoned".into()))?;
                session.cursors.insert(name, Cursor::Rows { desc, rows: rows.into() });
                Ok(ExecuteResponse::Command { tag: "DECLARE CURSOR".into(), rows: None })
            }
            (_, ExecuteResponse::Select(select)) => {
                drop(session);
                tokio::task::block_in_place(|| select.evaluate())
            }
            (_, ExecuteResponse::CopyTo { select, format }) => {
                let digits = float_digits(&session);
                drop(session);
                match tokio::task::block_in_place(|| select.evaluate())? {
                    ExecuteResponse::Rows { desc, rows } => Ok(ExecuteResponse::CopyOut {
                        columns: desc.arity(),
                        lines: crate::copy::encode_lines(&desc, &rows, &format, digits),
                    }),
                    other => Ok(other),
                }
            }
            (eddy_planner::Statement::Cursor(cursor), ExecuteResponse::Subscribe(sub)) => {
                if let CursorStatement::Declare { name, .. } = &**cursor {
                    session.cursors.insert(name.clone(), Cursor::subscription(sub, &self.coord));
                }
                Ok(ExecuteResponse::Command { tag: "DECLARE CURSOR".into(), rows: None })
            }
            (_, response) => Ok(response),
        }
    }

    /// Returns once what the statement wrote, and everything it could have read, is
    /// durable; waits without the coordinator so that concurrent writers share syncs. If
    /// the data directory refused the statement's writes, undoes them and says why.
    /// The session's `extra_float_digits`.
    fn float_digits(&self) -> i32 {
        self.session.lock().ok().map_or(1, |s| float_digits(&s))
    }

    fn await_durable(&self, session: &mut Session, coord: MutexGuard<'_, Coordinator>) -> Result<(), AdapterError> {
        let (store, ticket, undone) = (coord.store.clone(), coord.store.last_ticket(), coord.undone_through);
        drop(coord);
        let synced = tokio::task::block_in_place(|| store.wait(ticket));
        let unsynced = std::mem::take(&mut session.unsynced);
        match synced {
            Ok(()) => Ok(()),
            // A read that ran after the failed writes were undone saw none of them.
            Err(_) if unsynced.is_empty() && undone >= ticket => Ok(()),
            Err(e) => {
                if !unsynced.is_empty() {
                    let mut coord =
                        self.coord.lock().map_err(|_| AdapterError::Internal("coordinator lock poisoned".into()))?;
                    crate::durability::undo(&mut coord, unsynced, ticket);
                }
                Err(e.into())
            }
        }
    }

    fn describe(
        &self,
        sql: &str,
        declared: &[Option<Type>],
    ) -> Result<(Vec<Option<ScalarType>>, Option<RelationDesc>), AdapterError> {
        let stmts = eddy_planner::parse(sql)?;
        let Some(stmt) = stmts.first() else {
            return Ok((vec![], None));
        };
        if let eddy_planner::Statement::Cursor(cursor) = stmt {
            let session = self.session.lock().map_err(|_| AdapterError::Internal("session lock poisoned".into()))?;
            return Ok(match &**cursor {
                CursorStatement::Fetch { name, .. } => {
                    (vec![], Some(session.cursors.get(name).ok_or_else(|| unknown_cursor(name))?.desc()))
                }
                _ => (vec![], None),
            });
        }
        let coord = self.coord.lock().map_err(|_| AdapterError::Internal("coordinator lock poisoned".into()))?;
        let mut ctx = StatementContext::new(chrono::Utc::now());
        ctx.param_types = declared.iter().map(|t| t.as_ref().and_then(|t| ScalarType::from_oid(t.oid()))).collect();
        let (plan, params) = eddy_planner::plan(stmt, &*coord, &ctx)?;
        let desc = match plan {
            Plan::Select(q) => Some(q.desc),
            Plan::Insert { returning: Some(q), .. } => Some(q.desc),
            Plan::SetConfig { .. } => Some(crate::coordinator::set_config_desc()),
            Plan::Explain(_) => Some(RelationDesc::new(vec![(
                "QUERY PLAN".into(),
                eddy_repr::ColumnType::new(ScalarType::Text, false),
            )])),
            // SHOW's columns depend on what is shown: run it (it only reads).
            Plan::Show(kind) => {
                let session =
                    self.session.lock().map_err(|_| AdapterError::Internal("session lock poisoned".into()))?;
                match coord.show(&session, kind)? {
                    ExecuteResponse::Rows { desc, .. } => Some(desc),
                    _ => None,
                }
            }
            _ => None,
        };
        Ok((params, desc))
    }
}

/// Right after a restart, a statement over rows still being loaded waits for them,
/// without the coordinator (it changed nothing before it was refused with 57P03), for up
/// to two minutes; then the loading error goes to the client.
struct RestoreWait(std::time::Instant);

impl RestoreWait {
    const LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

    fn start() -> Self {
        RestoreWait(std::time::Instant::now())
    }

    /// True if a statement refused with `sqlstate` should be tried again.
    fn retries(&self, sqlstate: &str) -> bool {
        sqlstate == "57P03" && self.0.elapsed() < Self::LIMIT
    }

    fn pause(&self) {
        tokio::task::block_in_place(|| std::thread::sleep(std::time::Duration::from_millis(20)));
    }
}

/// The session's `extra_float_digits` (1, PostgreSQL's default, if unreadable).
fn float_digits(session: &Session) -> i32 {
    session.get("extra_float_digits").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(1)
}

fn unknown_cursor(name: &str) -> AdapterError {
    AdapterError::UnknownCursor(name.to_string())
}

fn to_pg_error(e: AdapterError) -> ErrorInfo {
    let mut info = ErrorInfo::new("ERROR".into(), e.sqlstate(), e.to_string());
    info.hint = e.hint();
    info.where_context = e.context();
    info.detail = e.detail();
    info
}

pub(crate) fn user_error(e: AdapterError) -> PgWireError {
    PgWireError::UserError(Box::new(to_pg_error(e)))
}

fn pg_type(ty: &ScalarType) -> Type {
    Type::from_oid(ty.oid()).unwrap_or(Type::TEXT)
}

fn fields(desc: &RelationDesc, format: &Format) -> Vec<FieldInfo> {
    desc.columns()
        .iter()
        .enumerate()
        .map(|(i, (name, ty))| {
            let f = FieldInfo::new(name.clone(), None, None, pg_type(&ty.scalar_type), format.format_for(i));
            f.with_type_size(ty.scalar_type.type_len()).with_type_modifier(ty.scalar_type.type_modifier())
        })
        .collect()
}

/// A row as the client asked for it: text or binary per column; text floats follow the
/// session's `extra_float_digits`.
fn encode_row(row: &Row, desc: &RelationDesc, format: &Format, float_digits: i32) -> DataRow {
    let mut data = BytesMut::new();
    let mut buf = Vec::new();
    for (i, (datum, (_, ty))) in row.iter().zip(desc.columns()).enumerate() {
        if datum.is_null() {
            data.extend_from_slice(&(-1i32).to_be_bytes());
            continue;
        }
        buf.clear();
        match format.format_for(i) {
            FieldFormat::Binary => strconv::encode_binary(datum, &ty.scalar_type, &mut buf),
            FieldFormat::Text => {
                let mut s = String::new();
                strconv::format_datum_with_float_digits(datum, &ty.scalar_type, float_digits, &mut s);
                buf.extend_from_slice(s.as_bytes());
            }
        }
        data.extend_from_slice(&(buf.len() as i32).to_be_bytes());
        data.extend_from_slice(&buf);
    }
    DataRow::new(data, row.len() as i16)
}

/// Rows sent with `tag` and their count (`SELECT 3`, `INSERT 0 2`).
fn rows_response(desc: &RelationDesc, rows: &[Row], format: &Format, float_digits: i32, tag: &str) -> Response {
    let schema = Arc::new(fields(desc, format));
    let encoded: Vec<PgWireResult<DataRow>> =
        rows.iter().map(|r| Ok(encode_row(r, desc, format, float_digits))).collect();
    let mut response = QueryResponse::new(schema, stream::iter(encoded));
    response.set_command_tag(tag);
    Response::Query(response)
}

fn to_response(resp: ExecuteResponse, format: &Format, float_digits: i32, coord: &Arc<Mutex<Coordinator>>) -> Response {
    match resp {
        ExecuteResponse::Rows { desc, rows } => rows_response(&desc, &rows, format, float_digits, "SELECT"),
        ExecuteResponse::Returning { tag, desc, rows } => rows_response(&desc, &rows, format, float_digits, tag),
        ExecuteResponse::Command { tag, rows } => {
            let t = Tag::new(&tag);
            Response::Execution(match rows {
                Some(n) => t.with_rows(n),
                None => t,
            })
        }
        ExecuteResponse::CopyIn { columns, .. } => Response::CopyIn(CopyResponse::new(0, columns, stream::empty())),
        ExecuteResponse::TransactionStart => Response::TransactionStart(Tag::new("BEGIN")),
        ExecuteResponse::TransactionEnd { tag } => Response::TransactionEnd(Tag::new(&tag)),
        // `Connection::run` evaluates a SELECT off the coordinator first; this is a fallback.
        ExecuteResponse::Select(select) => match select.evaluate() {
            Ok(rows) => to_response(rows, format, float_digits, coord),
            Err(e) => Response::Error(Box::new(to_pg_error(e))),
        },
        // pgwire sends CopyOutResponse, one CopyData per item, CopyDone and `COPY n`, with
        // n the number of items: so a CSV header travels with the first row.
        ExecuteResponse::CopyOut { columns, lines } => {
            let data = lines.into_iter().map(|line| Ok(CopyData::new(line.into())));
            Response::CopyOut(CopyResponse::new(0, columns, stream::iter(data)))
        }
        // `Connection::run` evaluates it into `CopyOut` first.
        ExecuteResponse::CopyTo { .. } => {
            Response::Error(Box::new(to_pg_error(AdapterError::Internal("COPY TO not evaluated".into()))))
        }
        // Streamed by `stream_subscription` before a response is built; never reaches here.
        ExecuteResponse::Subscribe(sub) => {
            drop((sub, coord));
            Response::Error(Box::new(to_pg_error(AdapterError::Internal("SUBSCRIBE not streamed".into()))))
        }
    }
}

/// Streams a subscription as COPY OUT, flushing every batch (pgwire's own COPY OUT
/// buffers until the stream ends, and a subscription does not end), until the client
/// goes or the subscription ends; then answers `SUBSCRIBE n`.
async fn stream_subscription<C>(
    client: &mut C,
    sub: Subscription,
    coord: Arc<Mutex<Coordinator>>,
    cancel: &CancelSignal,
) -> PgWireResult<Response>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let columns = sub.columns().len();
    let formats = vec![0; columns];
    client.send(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(0, columns as i16, formats))).await?;
    let mut changes = crate::subscribe::stream(sub, coord);
    let mut lines = 0;
    loop {
        // A SUBSCRIBE runs until the client cancels it (psql's Ctrl-C) or goes away.
        let item = tokio::select! {
            item = changes.next() => item,
            _ = cancel.requested() => {
                return Ok(Response::Error(Box::new(to_pg_error(AdapterError::Eval(EvalError::Canceled)))));
            }
        };
        let Some(item) = item else { break };
        match item {
            Ok(data) => {
                lines += data.data.iter().filter(|b| **b == b'\n').count();
                client.send(PgWireBackendMessage::CopyData(data)).await?;
            }
            Err(PgWireError::UserError(info)) => return Ok(Response::Error(info)),
            Err(other) => return Err(other),
        }
    }
    client.send(PgWireBackendMessage::CopyDone(CopyDone::new())).await?;
    Ok(Response::Execution(Tag::new("SUBSCRIBE").with_rows(lines)))
}

#[async_trait]
impl SimpleQueryHandler for Connection {
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: pgwire::api::store::PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.sync_transaction_status(client);
        self._on_query(client, query).await
    }

    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: pgwire::api::store::PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let _active = self.active(query);
        if query.len() > MAX_QUERY_BYTES {
            return Err(user_error(AdapterError::InvalidParameterValue(format!(
                "query of {} bytes exceeds the limit of {MAX_QUERY_BYTES}",
                query.len()
            ))));
        }
        let stmts = match eddy_planner::parse(query) {
            Ok(s) => s,
            Err(e) => return Ok(vec![Response::Error(Box::new(to_pg_error(self.failed(e.into()))))]),
        };
        if stmts.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let mut responses = Vec::with_capacity(stmts.len());
        for stmt in &stmts {
            if matches!(stmt, eddy_planner::Statement::Subscribe(_)) && stmts.len() > 1 {
                // Its rows stream before the other statements' answers would be sent.
                responses.push(Response::Error(Box::new(to_pg_error(AdapterError::InvalidParameterValue(
                    "SUBSCRIBE must be sent as a query of its own".into(),
                )))));
                break;
            }
            let result = self.run(stmt, None, vec![]);
            self.send_notices(client).await?;
            match result {
                Ok(ExecuteResponse::Subscribe(sub)) => {
                    responses.push(stream_subscription(client, sub, self.coord.clone(), &self.cancel).await?)
                }
                Ok(r) => responses.push(to_response(r, &Format::UnifiedText, self.float_digits(), &self.coord)),
                Err(e) => {
                    // As PostgreSQL: the first failing statement ends the batch.
                    responses.push(Response::Error(Box::new(to_pg_error(e))));
                    break;
                }
            }
        }
        Ok(responses)
    }
}

#[async_trait]
impl ExtendedQueryHandler for Connection {
    type Statement = String;
    type QueryParser = NoopQueryParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        Arc::new(NoopQueryParser)
    }

    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: pgwire::api::store::PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.sync_transaction_status(client);
        self._on_execute(client, message).await
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: pgwire::api::store::PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let sql = &portal.statement.statement;
        let _active = self.active(sql);
        let stmts = eddy_planner::parse(sql).map_err(|e| user_error(self.failed(e.into())))?;
        let Some(stmt) = stmts.first() else {
            return Ok(Response::EmptyQuery);
        };
        if stmts.len() > 1 {
            return Err(user_error(AdapterError::Plan(eddy_planner::PlanError::Syntax(
                "cannot insert multiple commands into a prepared statement".into(),
            ))));
        }
        let (param_types, _) =
            self.describe(sql, &portal.statement.parameter_types).map_err(|e| user_error(self.failed(e)))?;
        let mut params = Vec::with_capacity(portal.parameters.len());
        for (i, value) in portal.parameters.iter().enumerate() {
            let ty = param_types.get(i).cloned().flatten().unwrap_or(ScalarType::Text);
            let datum = match value {
                None => Datum::Null,
                Some(bytes) => match portal.parameter_format.format_for(i) {
                    FieldFormat::Binary => strconv::decode_binary(bytes, &ty),
                    FieldFormat::Text => {
                        let text = std::str::from_utf8(bytes).map_err(|_| {
                            user_error(self.failed(AdapterError::InvalidParameterValue(format!(
                                "parameter ${} is not valid UTF-8",
                                i + 1
                            ))))
                        })?;
                        strconv::parse_datum(text, &ty)
                    }
                }
                .map_err(|e| user_error(self.failed(e.into())))?,
            };
            params.push((datum, ty));
        }
        let types = param_types.clone();
        let resp = self.run(stmt, Some(params), types);
        self.send_notices(client).await?;
        let resp = resp.map_err(user_error)?;
        match resp {
            ExecuteResponse::Subscribe(sub) => stream_subscription(client, sub, self.coord.clone(), &self.cancel).await,
            resp => Ok(to_response(resp, &portal.result_column_format, self.float_digits(), &self.coord)),
        }
    }

    async fn do_describe_statement<C>(
        &self,
        _client: &mut C,
        target: &StoredStatement<Self::Statement>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: pgwire::api::store::PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (params, desc) = self.describe(&target.statement, &target.parameter_types).map_err(user_error)?;
        let param_types = params.iter().map(|t| t.as_ref().map(pg_type).unwrap_or(Type::TEXT)).collect();
        let fields = desc.map(|d| fields(&d, &Format::UnifiedText)).unwrap_or_default();
        Ok(DescribeStatementResponse::new(param_types, fields))
    }

    async fn do_describe_portal<C>(
        &self,
        _client: &mut C,
        target: &Portal<Self::Statement>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: pgwire::api::store::PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (_, desc) =
            self.describe(&target.statement.statement, &target.statement.parameter_types).map_err(user_error)?;
        let fields = desc.map(|d| fields(&d, &target.result_column_format)).unwrap_or_default();
        Ok(DescribePortalResponse::new(fields))
    }
}

#[async_trait]
impl CopyHandler for Connection {
    async fn on_copy_data<C>(&self, _client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut session =
            self.session.lock().map_err(|_| user_error(AdapterError::Internal("session lock poisoned".into())))?;
        let result = match session.copy_in.as_mut() {
            Some(state) => state.push(&copy_data.data),
            None => Err(AdapterError::Internal("COPY data without COPY".into())),
        };
        if let Err(e) = result {
            session.copy_in = None;
            return Err(user_error(e));
        }
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let count = {
            let mut session =
                self.session.lock().map_err(|_| user_error(AdapterError::Internal("session lock poisoned".into())))?;
            let Some(mut state) = session.copy_in.take() else {
                return Err(user_error(AdapterError::Internal("COPY done without COPY".into())));
            };
            let rows = state.finish().map_err(user_error)?;
            let wait = RestoreWait::start();
            let mut coord = loop {
                let coord = self
                    .coord
                    .lock()
                    .map_err(|_| user_error(AdapterError::Internal("coordinator lock poisoned".into())))?;
                match coord.check_loaded(state.table) {
                    Err(e) if wait.retries(e.sqlstate()) => {
                        drop(coord);
                        wait.pause();
                    }
                    _ => break coord,
                }
            };
            let count = coord.copy_rows(&mut session, state.table, rows, &state.generated);
            self.await_durable(&mut session, coord).map_err(user_error)?;
            count.map_err(user_error)?
        };
        let tag = Tag::new("COPY").with_rows(count);
        client.send(PgWireBackendMessage::CommandComplete(tag.into())).await?;
        Ok(())
    }
}

#[async_trait]
impl NoopStartupHandler for Connection {
    /// Registers the key the client was given, so that its cancel requests find this
    /// connection.
    async fn post_startup<C>(&self, client: &mut C, _message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (pid, secret) = client.pid_and_secret_key();
        let startup = |key: &str| client.metadata().get(key).cloned();
        let user = startup("user").unwrap_or_else(|| "eddy".into());
        let database = startup("database").unwrap_or_else(|| user.clone());
        let application_name = startup("application_name").unwrap_or_default();
        // current_user and current_database() stay Eddy's one role and database, which
        // the catalog tables list; pg_stat_activity shows the names the client gave.
        if let Ok(mut session) = self.session.lock() {
            let _ = session.set("application_name", Some(application_name.clone()));
        }
        let activity = Arc::new(Activity::new(pid, user, database, client.socket_addr(), application_name));
        self.backends.register(Backend {
            secret: secret.to_bytes().to_vec(),
            cancel: self.cancel.clone(),
            terminate: self.terminate.clone(),
            activity: activity.clone(),
        });
        let _ = self.activity.set(activity);
        Ok(())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(activity) = self.activity.get() {
            self.backends.unregister(activity.pid);
            self.sequences.forget_session(activity.pid);
        }
    }
}

/// While alive, the connection shows as running a statement; dropped, as idle (or idle
/// in a transaction block), whichever way the statement ended.
struct Active<'a>(&'a Connection);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        let Some(activity) = self.0.activity.get() else { return };
        let Ok(session) = self.0.session.lock() else { return };
        let application_name = session.get("application_name").unwrap_or_default();
        activity.end(session.in_transaction, &application_name);
    }
}

/// Hands pgwire the per-connection handlers, and the server's cancel registry.
pub struct Handlers {
    connection: Arc<Connection>,
    backends: Arc<Backends>,
}

impl Handlers {
    pub fn new(coord: Arc<Mutex<Coordinator>>, shared: Shared, terminate: Arc<Notify>) -> Self {
        let backends = shared.backends.clone();
        Handlers { connection: Connection::new(coord, shared, terminate), backends }
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.connection.clone()
    }
    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.connection.clone()
    }
    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        self.connection.clone()
    }
    fn copy_handler(&self) -> Arc<impl CopyHandler> {
        self.connection.clone()
    }
    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.backends.clone()
    }
}
