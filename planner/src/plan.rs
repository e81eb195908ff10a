//! `Plan`: what a statement asks the coordinator to do, fully resolved and typed.

use chrono::{DateTime, Utc};
use eddy_expr::{RelationExpr, ScalarExpr};
use eddy_repr::{Datum, GlobalId, RelationDesc, ScalarType};

use eddy_repr::source::SourceSpec;

use crate::ddl::{ConnectionPlan, OtherObjectKind};
use crate::ItemKind;

/// Facts about the session and statement the planner may use.
#[derive(Clone, Debug)]
pub struct StatementContext {
    /// The statement's `now()`: one value for the whole statement, as in PostgreSQL.
    pub now: DateTime<Utc>,
    pub user: String,
    pub database: String,
    /// Values of `$1..$n`, when bound; `None` while only describing a prepared statement.
    pub params: Option<Vec<(Datum, ScalarType)>>,
    /// Types declared for `$1..$n` by the client (`None` = let the planner infer).
    pub param_types: Vec<Option<ScalarType>>,
    /// The session's settings (`current_setting`), by lower-case name.
    pub settings: Vec<(String, String)>,
    /// The connection's process id, as the client got it at startup (`pg_backend_pid`).
    pub backend_pid: i32,
    /// The RETURNING rows of the statement's data-modifying WITH queries, once run.
    pub written_ctes: Vec<crate::WrittenCte>,
}

impl StatementContext {
    pub fn new(now: DateTime<Utc>) -> Self {
        StatementContext {
            now,
            user: "eddy".into(),
            database: "eddy".into(),
            params: None,
            param_types: vec![],
            settings: vec![],
            backend_pid: 0,
            written_ctes: vec![],
        }
    }
}

/// A query ready to run: the relation to compute, how to present it, and its columns.
#[derive(Clone, Debug)]
pub struct QueryPlan {
    pub expr: RelationExpr,
    pub finishing: RowSetFinishing,
    /// The columns the client sees (after `finishing.project`).
    pub desc: RelationDesc,
}

/// One ORDER BY key: a column of the unprojected result.
pub use eddy_expr::ColumnOrder;

/// What happens to a query's rows after they are computed: sort, offset, limit, and the
/// final projection that drops sort-only columns.
#[derive(Clone, Debug, Default)]
pub struct RowSetFinishing {
    pub order_by: Vec<ColumnOrder>,
    pub limit: Option<usize>,
    pub offset: usize,
    pub project: Vec<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    Table,
    View,
    MaterializedView,
    Source,
}

impl ObjectKind {
    pub fn matches(&self, kind: ItemKind) -> bool {
        matches!(
            (self, kind),
            (ObjectKind::Table, ItemKind::Table)
                | (ObjectKind::View, ItemKind::View)
                | (ObjectKind::MaterializedView, ItemKind::MaterializedView)
                | (ObjectKind::Source, ItemKind::Source)
        )
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            ObjectKind::Table => "table",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized view",
            ObjectKind::Source => "source",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShowKind {
    Tables,
    Indexes,
    Views,
    MaterializedViews,
    Sources,
    Connections,
    Secrets,
    /// Snowflake's `SHOW DYNAMIC TABLES`: every view with a target lag.
    DynamicTables,
    Columns(GlobalId),
    CreateObject(GlobalId),
    /// `SHOW CREATE SOURCE | CONNECTION name`, resolved by the coordinator.
    CreateNamed {
        kind: &'static str,
        name: String,
    },
    Variable(String),
    AllVariables,
}

/// How stale a materialized view may be, and how it refreshes: every `lag` (at multiples
/// of it since the epoch), consolidating the changes in between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetLag {
    pub lag: Lag,
    /// INITIALIZE = ON_CREATE (the default): the contents at creation show at once;
    /// ON_SCHEDULE: only from the first refresh.
    pub on_create: bool,
    pub mode: RefreshMode,
}

/// A `TARGET_LAG` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lag {
    Every(std::time::Duration),
    /// `DOWNSTREAM`: as fresh as the freshest materialized view reading it needs.
    Downstream,
}

impl Lag {
    /// The value as written in `TARGET_LAG = ...`.
    pub fn to_sql(&self) -> String {
        match self {
            Lag::Every(d) => crate::ddl::format_lag(*d),
            Lag::Downstream => "DOWNSTREAM".into(),
        }
    }
}

/// How a view with a target lag refreshes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshMode {
    /// Each refresh applies the consolidated input changes to a maintained dataflow.
    Incremental,
    /// Each refresh recomputes the query from the inputs as of then; nothing but the
    /// output is kept between refreshes.
    Full,
}

impl RefreshMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            RefreshMode::Incremental => "INCREMENTAL",
            RefreshMode::Full => "FULL",
        }
    }
}

#[derive(Clone, Debug)]
pub enum SubscribePlanTarget {
    Collection(GlobalId),
    Query(RelationExpr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopyFormat {
    Text { delimiter: u8, null: String },
    Csv { delimiter: u8, quote: u8, escape: u8, header: bool, null: String },
}

/// A `PRIMARY KEY` or `UNIQUE` constraint of a table: no two rows may have equal values
/// in `columns` (rows with a NULL among them never conflict, as in PostgreSQL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UniqueKey {
    /// The constraint's name, as PostgreSQL names it by default (`t_pkey`, `t_a_b_key`).
    pub name: String,
    pub columns: Vec<usize>,
    pub primary: bool,
}

/// A `FOREIGN KEY` as written: names, resolved against the catalog when it is added.
#[derive(Clone, Debug, PartialEq)]
pub struct ForeignKeySpec {
    /// `CONSTRAINT name`, if given (PostgreSQL's default is `t_a_b_fkey`).
    pub name: Option<String>,
    pub columns: Vec<String>,
    pub parent: String,
    /// The referenced columns; empty: the parent's primary key.
    pub parent_columns: Vec<String>,
    /// `DEFERRABLE INITIALLY DEFERRED`: checked at COMMIT inside a transaction block.
    pub deferred: bool,
    pub on_delete: ReferentialAction,
    pub on_update: ReferentialAction,
}

/// What deleting a referenced row (`ON DELETE`), or changing its key (`ON UPDATE`), does
/// to the rows referencing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferentialAction {
    /// `NO ACTION` / `RESTRICT`: the DELETE or UPDATE fails.
    Refuse,
    /// `CASCADE`: they are deleted too, or take the new key.
    Cascade,
    /// `SET NULL`: their referencing columns become NULL.
    SetNull,
}

/// A `CHECK` constraint of a table: a row for which `expr` is false is refused (true and
/// NULL pass, as in PostgreSQL).
#[derive(Clone, Debug, PartialEq)]
pub struct CheckConstraint {
    /// The constraint's name, as PostgreSQL names it by default (`t_a_check`, `t_check`).
    pub name: String,
    /// The condition as written (normalized), for the stored catalog and SHOW CREATE.
    pub sql: String,
    /// The condition over the table's columns.
    pub expr: ScalarExpr,
}

/// `INSERT ... ON CONFLICT`: what to do with a row whose key a row of the table (or one
/// inserted earlier by the statement) already has.
#[derive(Clone, Debug)]
pub struct OnConflict {
    pub target: ConflictTarget,
    pub action: ConflictAction,
}

/// Which unique key an `ON CONFLICT` is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConflictTarget {
    /// Any of the table's keys (`ON CONFLICT DO NOTHING`).
    AnyKey,
    /// The key on exactly these columns (`ON CONFLICT (a, b)`).
    Columns(Vec<usize>),
    /// `ON CONFLICT ON CONSTRAINT name`.
    Constraint(String),
}

#[derive(Clone, Debug)]
pub enum ConflictAction {
    Nothing,
    /// The updated row, one expression per table column over the existing row's columns
    /// followed by the proposed row's (`excluded`); rows failing `predicate` stay as they are.
    Update {
        values: Vec<ScalarExpr>,
        predicate: Option<ScalarExpr>,
        /// Serial and identity columns set to `DEFAULT` (NULL in `values`), numbered by
        /// the coordinator.
        renumbered: Vec<usize>,
    },
}

/// A planned statement.
#[derive(Clone, Debug)]
pub enum Plan {
    CreateTable {
        name: String,
        desc: RelationDesc,
        keys: Vec<UniqueKey>,
        checks: Vec<CheckConstraint>,
        /// Each column's `DEFAULT` expression as SQL (checked to plan and to fit the type).
        defaults: Vec<Option<String>>,
        if_not_exists: bool,
        /// `CREATE TABLE ... AS SELECT`: the rows to fill it with.
        rows: Option<RelationExpr>,
        /// `REFERENCES` / `FOREIGN KEY` constraints, added once the table exists.
        foreign_keys: Vec<ForeignKeySpec>,
    },
    /// `ALTER TABLE t ADD [CONSTRAINT n] FOREIGN KEY ...` (also how stored foreign keys
    /// are restored).
    AddForeignKeys {
        table: GlobalId,
        foreign_keys: Vec<ForeignKeySpec>,
    },
    CreateView {
        name: String,
        desc: RelationDesc,
        expr: RelationExpr,
        materialized: bool,
        or_replace: bool,
        if_not_exists: bool,
        /// The CREATE statement as written (normalized), for SHOW CREATE.
        create_sql: String,
        /// Every object the view reads, plain views included.
        depends_on: Vec<GlobalId>,
        /// `WITH (TARGET_LAG = '...')` / `CREATE DYNAMIC TABLE ... TARGET_LAG = '...'`.
        target_lag: Option<TargetLag>,
    },
    Drop {
        kind: ObjectKind,
        names: Vec<String>,
        if_exists: bool,
        cascade: bool,
    },
    /// `CREATE INDEX`: another arrangement of a table or materialized view, ordered by
    /// `columns` first, so reads filtering on them seek instead of scanning.
    CreateIndex {
        /// The name given, if any (the coordinator picks PostgreSQL's default otherwise).
        name: Option<String>,
        on: GlobalId,
        on_name: String,
        columns: Vec<usize>,
        if_not_exists: bool,
    },
    /// `CREATE UNIQUE INDEX`: a UNIQUE key on the table, named as the index.
    CreateUniqueIndex {
        table: GlobalId,
        name: String,
        columns: Vec<usize>,
        if_not_exists: bool,
    },
    DropIndex {
        names: Vec<String>,
        if_exists: bool,
    },
    /// `COMMENT ON TABLE | VIEW | MATERIALIZED VIEW | COLUMN ... IS 'text' | NULL`:
    /// `column` 0 for the relation itself, else the column's number (from 1).
    Comment {
        id: GlobalId,
        column: i32,
        comment: Option<String>,
    },
    /// Rows to add to a table: `rows` has exactly the table's columns, already typed.
    Insert {
        table: GlobalId,
        rows: RelationExpr,
        returning: Option<QueryPlan>,
        on_conflict: Option<OnConflict>,
        /// serial and identity columns: a NULL there takes the column's next number.
        generated: Vec<usize>,
    },
    /// Rows to change: `selection` yields each updated row's old columns, then its new ones.
    Update {
        table: GlobalId,
        selection: RelationExpr,
        /// `UPDATE ... FROM`: the table's rows to update, each as often as the table holds
        /// it. `selection` then pairs them with new values once per matching combination
        /// of FROM rows; each row takes the first pairing's values (PostgreSQL takes an
        /// unpredictable one).
        targets: Option<RelationExpr>,
        arity: usize,
        /// Over the new rows.
        returning: Option<QueryPlan>,
        /// Serial and identity columns set to `DEFAULT`: NULL in the new rows, where the
        /// coordinator numbers them.
        renumbered: Vec<usize>,
    },
    /// `TRUNCATE t, ...`: every row of each table (`rows` reads them all).
    Truncate {
        tables: Vec<(GlobalId, RelationExpr)>,
    },
    Delete {
        table: GlobalId,
        selection: RelationExpr,
        /// Over the deleted rows.
        returning: Option<QueryPlan>,
    },
    Select(QueryPlan),
    /// `COPY table | (query) TO STDOUT`: the query's rows in a COPY format.
    CopyTo {
        query: QueryPlan,
        format: CopyFormat,
    },
    CopyFrom {
        table: GlobalId,
        columns: Vec<usize>,
        column_types: Vec<ScalarType>,
        /// Every row starts as this (a value per table column): the DEFAULT of each
        /// column the COPY leaves out, NULL elsewhere.
        row_template: Vec<Datum>,
        /// Defaults evaluated for each row instead (column, expression).
        volatile_defaults: Vec<(usize, ScalarExpr)>,
        /// As `Insert::generated`.
        generated: Vec<usize>,
        format: CopyFormat,
    },
    Explain(String),
    Show(ShowKind),
    SetVariable {
        name: String,
        value: Option<String>,
        local: bool,
    },
    ResetVariable {
        name: Option<String>,
    },
    /// `SELECT set_config(name, value, is_local)`: sets, then answers with the value.
    SetConfig {
        name: String,
        value: String,
    },
    StartTransaction,
    Commit,
    Rollback,
    Savepoint {
        name: String,
    },
    ReleaseSavepoint {
        name: String,
    },
    RollbackToSavepoint {
        name: String,
    },
    /// `CREATE SECRET name AS 'value'`; `value` is `env:VAR` (read from the server's
    /// environment) or the secret itself. Never printed.
    CreateSecret {
        name: String,
        value: String,
        if_not_exists: bool,
    },
    CreateConnection {
        name: String,
        connection: ConnectionPlan,
        if_not_exists: bool,
        create_sql: String,
    },
    /// `CREATE SOURCE`: for Kafka, `desc` is the source's columns and `connection` names
    /// the connection to fill into the spec; a load generator's tables come from storage.
    CreateSource {
        name: String,
        spec: SourceSpec,
        desc: RelationDesc,
        connection: Option<String>,
        if_not_exists: bool,
        create_sql: String,
    },
    /// `SUBSCRIBE`: stream the changes of a maintained collection, or of a query (which
    /// then gets a dataflow for as long as the subscription lasts).
    Subscribe {
        target: SubscribePlanTarget,
        /// The subscribed relation's columns.
        desc: RelationDesc,
        snapshot: bool,
        progress: bool,
    },
    /// `ALTER DYNAMIC TABLE` / `ALTER MATERIALIZED VIEW`: change how a view refreshes.
    AlterRefresh {
        name: String,
        action: crate::ddl::RefreshAction,
        if_exists: bool,
    },
    /// `CREATE SEQUENCE`: options already checked.
    CreateSequence {
        name: String,
        if_not_exists: bool,
        spec: crate::sequence::SequenceSpec,
        /// `OWNED BY table.column`: dropped with the table.
        owned_by: Option<(String, String)>,
    },
    /// `ALTER SEQUENCE`: the options are checked against the sequence's current ones.
    AlterSequence {
        name: String,
        if_exists: bool,
        options: Vec<crate::sequence::SequenceOption>,
    },
    DropSequence {
        names: Vec<String>,
        if_exists: bool,
    },
    /// DROP CONNECTION / DROP SECRET.
    DropOther {
        kind: OtherObjectKind,
        names: Vec<String>,
        if_exists: bool,
        cascade: bool,
    },
    /// Statements accepted for client compatibility that change nothing (`DISCARD ALL`,
    /// `SET TRANSACTION ...`, `DEALLOCATE`), answered with this command tag.
    CreateSchema {
        name: String,
        if_not_exists: bool,
    },
    DropSchema {
        names: Vec<String>,
        if_exists: bool,
        cascade: bool,
    },
    /// `ALTER TABLE`: the table's new name, columns and defaults.
    AlterTable {
        table: GlobalId,
        name: String,
        desc: RelationDesc,
        defaults: Vec<Option<String>>,
        /// Per new column, the old column it continues (None: added).
        kept: Vec<Option<usize>>,
        /// The new rows, computed from the table's current rows; None when the rows stay as
        /// they are (renames, defaults, NOT NULL).
        rows: Option<RelationExpr>,
        /// `ADD CONSTRAINT ... UNIQUE | PRIMARY KEY | CHECK`, over the new columns.
        add_keys: Vec<UniqueKey>,
        add_checks: Vec<CheckConstraint>,
        /// `DROP CONSTRAINT [IF EXISTS] name`: (name, if_exists).
        drop_constraints: Vec<(String, bool)>,
    },
    /// `ALTER VIEW | MATERIALIZED VIEW | INDEX [IF EXISTS] name RENAME TO new_name`
    /// (`new_name` bare: the object stays in its schema).
    Rename {
        target: RenameTarget,
        name: String,
        new_name: String,
        if_exists: bool,
    },
    NoOp {
        tag: String,
    },
    /// Nothing to do, and the client is told why (`ALTER TABLE IF EXISTS` of a missing
    /// table): a NOTICE.
    Skipped {
        tag: String,
        notice: String,
    },
}

/// What an `ALTER ... RENAME TO` renames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenameTarget {
    /// A view or materialized view (the kind the statement named).
    Relation(ItemKind),
    Index,
}
