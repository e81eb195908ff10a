//! Planning statements: DDL, DML, queries, SHOW/SET and transaction control.

use std::cell::RefCell;

use eddy_expr::func::CastContext;
use eddy_expr::{RelationExpr, ScalarExpr};
use eddy_repr::{ColumnType, RelationDesc, ScalarType};
use sqlparser::ast::{self, Expr, ObjectType, Statement};

use crate::bulk_insert::Literal;
use crate::expr::{coerce, normalize_ident, object_name, plan_expr, AggMode};
use crate::query::{filter_rows, plan_from, plan_query, plan_top_query, NowContext, Planned, QueryCtx};
use crate::scope::Scope;
use crate::types::parse_type_name;
use crate::{
    Catalog, CheckConstraint, CopyFormat, ItemKind, ObjectKind, Plan, PlanError, QueryPlan, ShowKind, StatementContext,
    UniqueKey,
};

/// The string `SELECT version()` returns. Starts with "PostgreSQL" so drivers that parse
/// the server version keep working.
pub fn version_string() -> String {
    format!(
        "PostgreSQL 15.0 (Eddy {}) on x86_64-unknown-linux-gnu, an incremental materialized-view database",
        env!("CARGO_PKG_VERSION")
    )
}

/// Plans one statement. Returns the plan and the types inferred for `$n` parameters.
pub fn plan(
    stmt: &crate::Statement,
    catalog: &dyn Catalog,
    ctx: &StatementContext,
) -> Result<(Plan, Vec<Option<ScalarType>>), PlanError> {
    let (stmt, more_rows): (&Statement, &[Vec<Literal>]) = match stmt {
        crate::Statement::Eddy(plan) => return Ok(((**plan).clone(), vec![])),
        crate::Statement::Subscribe(sub) => return Ok((plan_subscribe(catalog, ctx, sub)?, vec![])),
        crate::Statement::Cursor(c) => match &**c {
            crate::ddl::CursorStatement::Declare { body: crate::ddl::CursorBody::Subscribe(subscribe), .. } => {
                return Ok((plan_subscribe(catalog, ctx, subscribe)?, vec![]))
            }
            crate::ddl::CursorStatement::Declare { body: crate::ddl::CursorBody::Query(query), .. } => {
                let select = crate::Statement::Sql(Box::new(ast::Statement::Query(query.clone())));
                return plan(&select, catalog, ctx);
            }
            _ => return Err(PlanError::Unsupported("FETCH and CLOSE outside a session".into())),
        },
        crate::Statement::Sql(stmt) => (&**stmt, &[][..]),
        crate::Statement::BulkInsert(bulk) => (&*bulk.insert, &bulk.more_rows[..]),
    };
    let original = stmt;
    let with_object_ids = crate::object_ids::rewrite(stmt, catalog)?;
    let stmt = with_object_ids.as_ref().unwrap_or(stmt);
    let with_arrays = crate::array_subquery::rewrite(stmt)?;
    let stmt = with_arrays.as_ref().unwrap_or(stmt);
    let params = RefCell::new(ctx.param_types.clone());
    let referenced = RefCell::new(Vec::new());
    let ctes = RefCell::new(Vec::new());
    let qcx = QueryCtx {
        catalog,
        stmt: ctx,
        params: &params,
        now: NowContext::Statement,
        referenced: &referenced,
        ctes: &ctes,
    };
    let mut plan = match stmt {
        Statement::Insert(insert) if !more_rows.is_empty() => plan_insert(&qcx, insert, more_rows)?,
        _ => plan_statement(&qcx, stmt)?,
    };
    // A view keeps the text its user wrote, not the rewrites it was planned through, but
    // with the names it found through `search_path` qualified: it is planned again on
    // restart, with the default `search_path`.
    if let (Plan::CreateView { create_sql, target_lag, .. }, Statement::CreateView(cv)) = (&mut plan, original) {
        let qualified = qualify_found_names(&qcx, cv);
        if with_object_ids.is_some() || with_arrays.is_some() || qualified.is_some() {
            let cv = qualified.as_ref().unwrap_or(cv);
            *create_sql = match target_lag {
                Some(target) => target_lag_create_sql(cv, target, view_options(cv)?.1),
                None => Statement::CreateView(cv.clone()).to_string(),
            };
        }
    }
    Ok((plan, params.into_inner()))
}

pub(crate) fn plan_statement(qcx: &QueryCtx, stmt: &Statement) -> Result<Plan, PlanError> {
    match stmt {
        Statement::Query(q) => {
            // `WITH ... INSERT | UPDATE | DELETE`: the statement sees the WITH queries.
            if let Some(inner) = crate::written_ctes::modifying_statement(q) {
                let outer = crate::query::push_ctes(qcx, q, true)?;
                let planned = plan_statement(qcx, inner);
                qcx.ctes.borrow_mut().truncate(outer);
                return planned;
            }
            if let Some((name, value)) = set_config_call(q) {
                return Ok(Plan::SetConfig { name, value });
            }
            let (planned, finishing) = plan_top_query(qcx, q)?;
            let desc = project_desc(&planned.scope, &finishing.project);
            Ok(Plan::Select(QueryPlan { expr: planned.expr, finishing, desc }))
        }
        Statement::CreateTable(ct) => plan_create_table(qcx, ct),
        Statement::AlterTable(alter) if alter.table_type.is_none() => crate::alter::plan_alter_table(qcx, alter),
        Statement::CreateView(cv) => plan_create_view(qcx, cv, stmt),
        Statement::CreateIndex(ci) => plan_create_index(qcx, ci),
        Statement::Comment { object_type, object_name: name, comment, .. } => {
            plan_comment(qcx, object_type, name, comment.clone())
        }
        Statement::Drop { object_type: ObjectType::Index, if_exists, names, .. } => Ok(Plan::DropIndex {
            names: names.iter().map(|n| strip_public(object_name(n))).collect(),
            if_exists: *if_exists,
        }),
        Statement::CreateSchema { schema_name, if_not_exists, .. } => match schema_name {
            ast::SchemaName::Simple(name) | ast::SchemaName::NamedAuthorization(name, _) => {
                Ok(Plan::CreateSchema { name: object_name(name), if_not_exists: *if_not_exists })
            }
            ast::SchemaName::UnnamedAuthorization(_) => {
                Err(PlanError::Unsupported("CREATE SCHEMA AUTHORIZATION".into()))
            }
        },
        Statement::CreateSequence { temporary: false, if_not_exists, name, sequence_options } => {
            let options = crate::sequence::options_of(sequence_options)?;
            let owned_by = options.iter().rev().find_map(|o| match o {
                crate::sequence::SequenceOption::OwnedBy(owner) => Some(owner.clone()),
                _ => None,
            });
            let (spec, _) = crate::sequence::SequenceSpec::create(&options)?;
            let name = strip_public(object_name(name));
            if let Some((schema, _)) = name.split_once('.') {
                if !qcx.catalog.has_schema(schema) {
                    return Err(PlanError::UnknownSchema(schema.to_string()));
                }
            }
            Ok(Plan::CreateSequence { name, if_not_exists: *if_not_exists, spec, owned_by: owned_by.flatten() })
        }
        Statement::Drop { object_type: ObjectType::Sequence, if_exists, names, .. } => Ok(Plan::DropSequence {
            names: names.iter().map(|n| strip_public(object_name(n))).collect(),
            if_exists: *if_exists,
        }),
        Statement::Drop { object_type: ObjectType::Schema, if_exists, names, cascade, .. } => Ok(Plan::DropSchema {
            names: names.iter().map(object_name).collect(),
            if_exists: *if_exists,
            cascade: *cascade,
        }),
        Statement::Drop { object_type, if_exists, names, cascade, .. } => {
            let kind = match object_type {
                ObjectType::Table => ObjectKind::Table,
                ObjectType::View => ObjectKind::View,
                ObjectType::MaterializedView => ObjectKind::MaterializedView,
                other => return Err(PlanError::Unsupported(format!("DROP {other}"))),
            };
            let names = names.iter().map(|n| strip_public(object_name(n))).collect();
            Ok(Plan::Drop { kind, names, if_exists: *if_exists, cascade: *cascade })
        }
        Statement::Insert(insert) => plan_insert(qcx, insert, &[]),
        Statement::Update(update) => plan_update(qcx, update),
        Statement::Delete(delete) => plan_delete(qcx, delete),
        Statement::Truncate(truncate) => {
            let mut tables = Vec::new();
            for target in &truncate.table_names {
                let item = match resolve(qcx, &object_name(&target.name)) {
                    Err(PlanError::UnknownRelation(_)) if truncate.if_exists => continue,
                    other => other?,
                };
                if item.kind != ItemKind::Table {
                    return Err(PlanError::WrongObjectType(format!("\"{}\" is not a table", item.name)));
                }
                tables.push((item.id, RelationExpr::get(item.id, item.name.clone(), item.desc.arity())));
            }
            Ok(Plan::Truncate { tables })
        }
        Statement::Copy { source, to: false, target: ast::CopyTarget::Stdin, options, legacy_options, .. } => {
            plan_copy_from(qcx, source, options, legacy_options)
        }
        Statement::Copy { source, to: true, target: ast::CopyTarget::Stdout, options, legacy_options, .. } => {
            plan_copy_to(qcx, source, options, legacy_options)
        }
        Statement::Copy { .. } => {
            Err(PlanError::Unsupported("COPY other than COPY ... FROM STDIN and COPY ... TO STDOUT".into()))
        }
        Statement::Explain { statement, .. } => plan_explain(qcx, statement),
        Statement::StartTransaction { .. } => Ok(Plan::StartTransaction),
        Statement::Commit { .. } => Ok(Plan::Commit),
        Statement::Rollback { savepoint: None, .. } => Ok(Plan::Rollback),
        Statement::Rollback { savepoint: Some(name), .. } => {
            Ok(Plan::RollbackToSavepoint { name: normalize_ident(name) })
        }
        Statement::Savepoint { name } => Ok(Plan::Savepoint { name: normalize_ident(name) }),
        Statement::ReleaseSavepoint { name } => Ok(Plan::ReleaseSavepoint { name: normalize_ident(name) }),
        Statement::Set(set) => plan_set(set),
        Statement::Reset(reset) => Ok(match &reset.reset {
            ast::Reset::ALL => Plan::ResetVariable { name: None },
            ast::Reset::ConfigurationParameter(name) => Plan::ResetVariable { name: Some(object_name(name)) },
            ast::Reset::SessionAuthorization => Plan::NoOp { tag: "RESET".into() },
        }),
        Statement::ShowVariable { variable } => plan_show(qcx, variable),
        Statement::ShowTables { .. } => Ok(Plan::Show(ShowKind::Tables)),
        Statement::ShowViews { materialized, .. } => {
            Ok(Plan::Show(if *materialized { ShowKind::MaterializedViews } else { ShowKind::Views }))
        }
        Statement::ShowColumns { show_options, .. } => {
            let name = show_options
                .show_in
                .as_ref()
                .and_then(|s| s.parent_name.as_ref())
                .map(object_name)
                .ok_or_else(|| PlanError::Syntax("SHOW COLUMNS needs FROM <relation>".into()))?;
            let item = resolve(qcx, &name)?;
            Ok(Plan::Show(ShowKind::Columns(item.id)))
        }
        Statement::ShowCreate { obj_name, .. } => {
            let item = resolve(qcx, &object_name(obj_name))?;
            Ok(Plan::Show(ShowKind::CreateObject(item.id)))
        }
        Statement::Discard { .. } => Ok(Plan::NoOp { tag: "DISCARD ALL".into() }),
        Statement::Deallocate { .. } => Ok(Plan::NoOp { tag: "DEALLOCATE".into() }),
        other => Err(PlanError::Unsupported(format!("statement {}", first_words(&other.to_string())))),
    }
}

fn plan_subscribe(
    catalog: &dyn Catalog,
    ctx: &StatementContext,
    sub: &crate::ddl::SubscribeStatement,
) -> Result<Plan, PlanError> {
    use crate::ddl::SubscribeTarget;
    use crate::plan::SubscribePlanTarget;
    let (target, desc) = match &sub.target {
        SubscribeTarget::Name(name) => {
            let name = strip_public(name.to_string());
            let item = catalog.resolve(&name).ok_or(PlanError::UnknownRelation(name))?;
            match item.view_expr {
                Some(expr) => (SubscribePlanTarget::Query(expr), item.desc),
                None => (SubscribePlanTarget::Collection(item.id), item.desc),
            }
        }
        SubscribeTarget::Query(q) => {
            let params = RefCell::new(ctx.param_types.clone());
            let referenced = RefCell::new(Vec::new());
            let ctes = RefCell::new(Vec::new());
            // A subscription outlives the statement: now() has no single value for it.
            let qcx = QueryCtx {
                catalog,
                stmt: ctx,
                params: &params,
                now: NowContext::Maintained,
                referenced: &referenced,
                ctes: &ctes,
            };
            let (planned, finishing) = plan_top_query(&qcx, q)?;
            if eddy_expr::temporal::check_view(&planned.expr).map_err(PlanError::NotAllowed)? {
                return Err(PlanError::NotAllowed(
                    "now() in SUBSCRIBE (create a materialized view with the temporal filter and subscribe to it)"
                        .into(),
                ));
            }
            if !finishing.order_by.is_empty() || finishing.limit.is_some() || finishing.offset > 0 {
                return Err(PlanError::Unsupported("ORDER BY, LIMIT or OFFSET in SUBSCRIBE".into()));
            }
            let desc = project_desc(&planned.scope, &finishing.project);
            (SubscribePlanTarget::Query(planned.expr.project(finishing.project.clone())), desc)
        }
    };
    Ok(Plan::Subscribe { target, desc, snapshot: sub.snapshot, progress: sub.progress })
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

pub(crate) fn strip_public(name: String) -> String {
    name.strip_prefix("public.").map(str::to_string).unwrap_or(name)
}

fn resolve(qcx: &QueryCtx, name: &str) -> Result<crate::CatalogItem, PlanError> {
    resolve_relation(qcx, name).ok_or_else(|| PlanError::UnknownRelation(strip_public(name.to_string())))
}

/// The relation `name` names: a qualified name (`s.t`) as it is; an unqualified one in
/// the schemas of the session's `search_path`, in order, then among the rest of what
/// needs no schema (public's objects, pg_catalog's tables).
pub(crate) fn resolve_relation(qcx: &QueryCtx, name: &str) -> Option<crate::CatalogItem> {
    if let Some(bare) = name.strip_prefix("public.") {
        return qcx.catalog.resolve(bare);
    }
    if !name.contains('.') {
        let path = qcx.stmt.settings.iter().find(|(k, _)| k == "search_path").map_or("", |(_, v)| v.as_str());
        for schema in path.split(',').map(|s| s.trim().trim_matches('"')) {
            let qualified = match schema {
                "" | "$user" | "pg_catalog" => continue,
                "public" => name.to_string(),
                other => format!("{other}.{name}"),
            };
            if let Some(item) = qcx.catalog.resolve(&qualified) {
                return Some(item);
            }
        }
    }
    qcx.catalog.resolve(name)
}

/// `cv` with each unqualified relation name that `search_path` resolved to another
/// schema's object written as `schema.name`; None if there is none.
fn qualify_found_names(qcx: &QueryCtx, cv: &ast::CreateView) -> Option<ast::CreateView> {
    struct WithNames(Vec<String>);
    impl ast::Visitor for WithNames {
        type Break = ();
        fn pre_visit_query(&mut self, query: &ast::Query) -> std::ops::ControlFlow<()> {
            if let Some(with) = &query.with {
                self.0.extend(with.cte_tables.iter().map(|c| normalize_ident(&c.alias.name)));
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut with_names = WithNames(Vec::new());
    let _ = ast::Visit::visit(&cv.query, &mut with_names);
    let mut cv = cv.clone();
    let mut changed = false;
    let _ = ast::visit_relations_mut(&mut cv.query, |relation: &mut ast::ObjectName| {
        let [part] = relation.0.as_slice() else { return std::ops::ControlFlow::<()>::Continue(()) };
        let Some(name) = part.as_ident().map(normalize_ident) else { return std::ops::ControlFlow::Continue(()) };
        if with_names.0.contains(&name) {
            return std::ops::ControlFlow::Continue(());
        }
        if let Some((schema, table)) = resolve_relation(qcx, &name)
            .and_then(|item| item.name.split_once('.').map(|(s, t)| (s.to_string(), t.to_string())))
        {
            let ident = |n: &str| match crate::quote_ident(n) == n {
                true => ast::Ident::new(n),
                false => ast::Ident::with_quote('"', n),
            };
            *relation = ast::ObjectName::from(vec![ident(&schema), ident(&table)]);
            changed = true;
        }
        std::ops::ControlFlow::Continue(())
    });
    changed.then_some(cv)
}

/// `COMMENT ON`: the relation (or column) it is about, checked to be of the kind named.
fn plan_comment(
    qcx: &QueryCtx,
    object: &ast::CommentObject,
    name: &ast::ObjectName,
    comment: Option<String>,
) -> Result<Plan, PlanError> {
    use ast::CommentObject as O;
    let full = object_name(name);
    let (relation, column) = match object {
        O::Column => match full.rsplit_once('.') {
            Some((relation, column)) => (relation.to_string(), Some(column.to_string())),
            None => return Err(PlanError::Syntax(format!("column name \"{full}\" must be qualified"))),
        },
        O::Table | O::View | O::MaterializedView => (full.clone(), None),
        other => return Err(PlanError::Unsupported(format!("COMMENT ON {other}"))),
    };
    let relation = strip_public(relation);
    let item = resolve_relation(qcx, &relation).ok_or_else(|| PlanError::UnknownRelation(relation.clone()))?;
    let expected = match object {
        O::Table => Some((ItemKind::Table, "a table")),
        O::View => Some((ItemKind::View, "a view")),
        O::MaterializedView => Some((ItemKind::MaterializedView, "a materialized view")),
        _ => None,
    };
    if let Some((kind, what)) = expected {
        // A source's tables are tables to PostgreSQL clients.
        let same = item.kind == kind || (kind == ItemKind::Table && item.kind == ItemKind::Source);
        if !same {
            return Err(PlanError::WrongObjectType(format!("\"{relation}\" is not {what}")));
        }
    }
    let column = match column {
        None => 0,
        Some(column) => {
            let position = item
                .desc
                .columns()
                .iter()
                .position(|(n, _)| *n == column)
                .ok_or_else(|| PlanError::UnknownColumn(format!("{column}\" of relation \"{relation}")))?;
            position as i32 + 1
        }
    };
    Ok(Plan::Comment { id: item.id, column, comment })
}

/// A new object's name must be in an existing schema (PostgreSQL's 3F000).
pub(crate) fn check_schema(qcx: &QueryCtx, name: &str) -> Result<(), PlanError> {
    match name.split_once('.') {
        Some((schema, _)) if !qcx.catalog.has_schema(schema) => Err(PlanError::UnknownSchema(schema.to_string())),
        _ => Ok(()),
    }
}

fn project_desc(scope: &Scope, project: &[usize]) -> RelationDesc {
    RelationDesc::new(
        project
            .iter()
            .map(|&c| (scope.columns[c].name.clone(), ColumnType::new(scope.columns[c].ty.clone(), true)))
            .collect(),
    )
}

fn plan_create_table(qcx: &QueryCtx, ct: &ast::CreateTable) -> Result<Plan, PlanError> {
    if let Some(query) = &ct.query {
        return plan_create_table_as(qcx, ct, query);
    }
    let name = strip_public(object_name(&ct.name));
    check_schema(qcx, &name)?;
    let mut columns: Vec<(String, ColumnType)> = Vec::new();
    let mut defaults: Vec<Option<String>> = Vec::new();
    // (constraint name if given, columns, primary?)
    let mut key_specs: Vec<(Option<String>, Vec<String>, bool)> = Vec::new();
    let mut check_specs: Vec<CheckSpec> = Vec::new();
    let mut foreign_keys = Vec::new();
    for col in &ct.columns {
        let column = plan_column(qcx, &name, col)?;
        foreign_keys.extend(column.foreign_keys);
        if columns.iter().any(|(n, _)| *n == column.name) {
            return Err(PlanError::DuplicateColumn(column.name));
        }
        for (given, primary) in column.keys {
            key_specs.push((given, vec![column.name.clone()], primary));
        }
        for (given, expr) in column.checks {
            check_specs.push(CheckSpec { given, expr });
        }
        columns.push((column.name, column.ty));
        defaults.push(column.default);
    }
    for constraint in &ct.constraints {
        let (given, index_columns, primary) = match constraint {
            ast::TableConstraint::PrimaryKey(c) => (&c.name, &c.columns, true),
            ast::TableConstraint::Unique(c) => (&c.name, &c.columns, false),
            ast::TableConstraint::Check(c) => {
                check_specs.push(CheckSpec { given: c.name.as_ref().map(normalize_ident), expr: *c.expr.clone() });
                continue;
            }
            ast::TableConstraint::ForeignKey(fk) => {
                foreign_keys.push(foreign_key_spec(fk, None)?);
                continue;
            }
            other => return Err(PlanError::Unsupported(format!("table constraint {other}"))),
        };
        key_specs.push((given.as_ref().map(normalize_ident), key_columns(index_columns)?, primary));
    }
    let mut keys: Vec<UniqueKey> = Vec::new();
    for (given, names, primary) in key_specs {
        if primary && keys.iter().any(|k| k.primary) {
            return Err(PlanError::MultiplePrimaryKeys(name));
        }
        let mut indexes = Vec::new();
        for n in &names {
            let i = columns
                .iter()
                .position(|(c, _)| c == n)
                .ok_or_else(|| PlanError::UnknownQualifiedColumn(format!("\"{n}\" named in key")))?;
            if primary {
                columns[i].1.nullable = false;
            }
            indexes.push(i);
        }
        let default_name = if primary { format!("{name}_pkey") } else { format!("{name}_{}_key", names.join("_")) };
        let key = UniqueKey { name: given.unwrap_or(default_name), columns: indexes, primary };
        // PostgreSQL keeps one index for a repeated UNIQUE list; so does the check.
        if !keys.iter().any(|k| k.columns == key.columns) {
            keys.push(key);
        }
    }
    if defaults.iter().all(Option::is_none) {
        defaults.clear();
    }
    let desc = RelationDesc::new(columns);
    let mut checks: Vec<CheckConstraint> = Vec::new();
    for spec in check_specs {
        let check = plan_check(qcx, &name, &desc, spec, &checks)?;
        checks.push(check);
    }
    Ok(Plan::CreateTable {
        name,
        desc,
        keys,
        checks,
        defaults,
        if_not_exists: ct.if_not_exists,
        rows: None,
        foreign_keys,
    })
}

/// The column names a key lists (expressions are refused, as in CREATE TABLE).
pub(crate) fn key_columns(columns: &[ast::IndexColumn]) -> Result<Vec<String>, PlanError> {
    columns
        .iter()
        .map(|c| match &c.column.expr {
            ast::Expr::Identifier(ident) => Ok(normalize_ident(ident)),
            other => Err(PlanError::Unsupported(format!("a constraint on the expression {other}"))),
        })
        .collect()
}

/// A `CHECK` as declared, before it is planned.
pub(crate) struct CheckSpec {
    pub given: Option<String>,
    pub expr: ast::Expr,
}

/// Plans a `CHECK` over the columns of table `table`, named as PostgreSQL names it when
/// no name is given: `<table>_<column>_check` if it reads one column, `<table>_check`
/// otherwise, with a number added if `taken` already has the name.
pub(crate) fn plan_check(
    qcx: &QueryCtx,
    table: &str,
    desc: &RelationDesc,
    spec: CheckSpec,
    taken: &[CheckConstraint],
) -> Result<CheckConstraint, PlanError> {
    /// Whether the condition holds a subquery.
    #[derive(Default)]
    struct HasSubquery(bool);
    impl ast::Visitor for HasSubquery {
        type Break = ();
        fn pre_visit_query(&mut self, _: &ast::Query) -> std::ops::ControlFlow<()> {
            self.0 = true;
            std::ops::ControlFlow::Break(())
        }
    }
    let mut has_subquery = HasSubquery::default();
    let _ = ast::Visit::visit(&spec.expr, &mut has_subquery);
    let has_subquery = has_subquery.0;
    if has_subquery {
        return Err(PlanError::NotAllowed("cannot use subquery in check constraint".into()));
    }
    let short = table.rsplit('.').next().unwrap_or(table);
    let scope = Scope::from_desc(Some(short), desc);
    let ctx = qcx.expr_ctx(&scope, AggMode::Forbidden("check constraints"));
    let expr = crate::expr::plan_condition(&ctx, &spec.expr, "CHECK")?;
    if expr.is_volatile() {
        return Err(PlanError::NotAllowed("functions in check constraints must be immutable".into()));
    }
    let name = match spec.given {
        Some(given) => {
            if taken.iter().any(|c| c.name == given) {
                return Err(PlanError::DuplicateObject(format!("check constraint \"{given}\" already exists")));
            }
            given
        }
        None => {
            let mut read = Vec::new();
            expr.visit(&mut |e| {
                if let ScalarExpr::Column(c) = e {
                    if !read.contains(c) {
                        read.push(*c);
                    }
                }
            });
            let base = match read.as_slice() {
                [column] => format!("{short}_{}_check", desc.columns()[*column].0),
                _ => format!("{short}_check"),
            };
            let mut name = base.clone();
            let mut n = 0;
            while taken.iter().any(|c| c.name == name) {
                n += 1;
                name = format!("{base}{n}");
            }
            name
        }
    };
    Ok(CheckConstraint { name, sql: spec.expr.to_string(), expr })
}

/// One column of a CREATE TABLE or ALTER TABLE ... ADD COLUMN.
pub(crate) struct PlannedColumn {
    pub name: String,
    pub ty: ColumnType,
    /// The DEFAULT as SQL (a serial or identity column's is `nextval(...)`).
    pub default: Option<String>,
    /// PRIMARY KEY or UNIQUE declared on the column: (constraint name if given, primary?).
    pub keys: Vec<(Option<String>, bool)>,
    /// CHECK declared on the column: (constraint name if given, condition).
    pub checks: Vec<(Option<String>, ast::Expr)>,
    /// `REFERENCES parent [(column)]` on the column.
    pub foreign_keys: Vec<crate::plan::ForeignKeySpec>,
}

/// A foreign key as written; `column` for one declared on a column (`REFERENCES ...`).
/// `SET DEFAULT` actions are refused.
pub(crate) fn foreign_key_spec(
    fk: &ast::ForeignKeyConstraint,
    column: Option<&str>,
) -> Result<crate::plan::ForeignKeySpec, PlanError> {
    let action = |a: Option<ast::ReferentialAction>, event: &str| match a {
        None | Some(ast::ReferentialAction::NoAction | ast::ReferentialAction::Restrict) => {
            Ok(crate::plan::ReferentialAction::Refuse)
        }
        Some(ast::ReferentialAction::Cascade) => Ok(crate::plan::ReferentialAction::Cascade),
        Some(ast::ReferentialAction::SetNull) => Ok(crate::plan::ReferentialAction::SetNull),
        Some(a @ ast::ReferentialAction::SetDefault) => Err(PlanError::Unsupported(format!(
            "FOREIGN KEY ... ON {event} {a} (NO ACTION, RESTRICT, CASCADE and SET NULL are)"
        ))),
    };
    let on_delete = action(fk.on_delete, "DELETE")?;
    let on_update = action(fk.on_update, "UPDATE")?;
    if matches!(
        fk.match_kind,
        Some(ast::ConstraintReferenceMatchKind::Full | ast::ConstraintReferenceMatchKind::Partial)
    ) {
        return Err(PlanError::Unsupported("FOREIGN KEY ... MATCH FULL / MATCH PARTIAL".into()));
    }
    let deferred =
        fk.characteristics.as_ref().is_some_and(|c| matches!(c.initially, Some(ast::DeferrableInitial::Deferred)));
    Ok(crate::plan::ForeignKeySpec {
        name: fk.name.as_ref().map(normalize_ident),
        columns: match column {
            Some(c) => vec![c.to_string()],
            None => fk.columns.iter().map(normalize_ident).collect(),
        },
        parent: strip_public(object_name(&fk.foreign_table)),
        parent_columns: fk.referred_columns.iter().map(normalize_ident).collect(),
        deferred,
        on_delete,
        on_update,
    })
}

pub(crate) fn plan_column(qcx: &QueryCtx, table: &str, col: &ast::ColumnDef) -> Result<PlannedColumn, PlanError> {
    let col_name = normalize_ident(&col.name);
    let type_name = col.data_type.to_string();
    // serial types are integers whose default numbers the rows (see `generated_columns`).
    let serial = match type_name.to_ascii_lowercase().as_str() {
        "smallserial" | "serial2" => Some(ScalarType::Int16),
        "serial" | "serial4" => Some(ScalarType::Int32),
        "bigserial" | "serial8" => Some(ScalarType::Int64),
        _ => None,
    };
    let ty = match &serial {
        Some(t) => t.clone(),
        None => parse_type_name(&type_name)?,
    };
    let mut not_null = serial.is_some();
    let mut default = serial.as_ref().map(|_| format!("nextval('{table}_{col_name}_seq'::regclass)"));
    let mut keys = Vec::new();
    let mut checks = Vec::new();
    let mut foreign_keys = Vec::new();
    for o in &col.options {
        let given = o.name.as_ref().map(normalize_ident);
        match &o.option {
            // A numbering default (as SHOW CREATE writes serial columns back).
            ast::ColumnOption::Default(e) if is_numbering(&e.to_string()) => {
                default = Some(crate::sequence::numbering_default(&e.to_string()))
            }
            ast::ColumnOption::Default(e) => {
                check_default(qcx, &col_name, e, &ty)?;
                default = Some(e.to_string());
            }
            ast::ColumnOption::Generated {
                generated_as: generated_as @ (ast::GeneratedAs::Always | ast::GeneratedAs::ByDefault),
                generation_expr: None,
                ..
            } => {
                if !matches!(ty, ScalarType::Int16 | ScalarType::Int32 | ScalarType::Int64) {
                    return Err(PlanError::TypeMismatch(
                        "identity column type must be smallint, integer, or bigint".into(),
                    ));
                }
                not_null = true;
                default = Some(
                    if matches!(generated_as, ast::GeneratedAs::Always) {
                        IDENTITY_ALWAYS
                    } else {
                        IDENTITY_BY_DEFAULT
                    }
                    .to_string(),
                );
            }
            ast::ColumnOption::NotNull => not_null = true,
            ast::ColumnOption::Null => {}
            ast::ColumnOption::PrimaryKey(_) => keys.push((given, true)),
            ast::ColumnOption::Unique(_) => keys.push((given, false)),
            ast::ColumnOption::Check(c) => checks.push((given, *c.expr.clone())),
            ast::ColumnOption::ForeignKey(fk) => {
                let mut spec = foreign_key_spec(fk, Some(&col_name))?;
                spec.name = spec.name.or(given);
                foreign_keys.push(spec);
            }
            other => return Err(PlanError::Unsupported(format!("column option {other}"))),
        }
    }
    Ok(PlannedColumn { name: col_name, ty: ColumnType::new(ty, !not_null), default, keys, checks, foreign_keys })
}

/// `CREATE TABLE t [(names)] AS query`: a table with the query's columns (named by the
/// list where given; every column nullable, as in PostgreSQL), filled with its rows now.
fn plan_create_table_as(qcx: &QueryCtx, ct: &ast::CreateTable, query: &ast::Query) -> Result<Plan, PlanError> {
    let name = strip_public(object_name(&ct.name));
    check_schema(qcx, &name)?;
    if !ct.constraints.is_empty() || ct.columns.iter().any(|c| !c.options.is_empty()) {
        return Err(PlanError::Unsupported("constraints in CREATE TABLE ... AS".into()));
    }
    let (planned, finishing) = plan_top_query(qcx, query)?;
    let mut desc = project_desc(&planned.scope, &finishing.project);
    if ct.columns.len() > desc.arity() {
        return Err(PlanError::Cardinality("too many column names were specified".into()));
    }
    let mut columns = desc.columns().to_vec();
    for ((column, _), given) in columns.iter_mut().zip(&ct.columns) {
        *column = normalize_ident(&given.name);
    }
    for (i, (column, _)) in columns.iter().enumerate() {
        if columns[..i].iter().any(|(other, _)| other == column) {
            return Err(PlanError::DuplicateColumn(column.clone()));
        }
    }
    desc = RelationDesc::new(columns);
    // ORDER BY and LIMIT decide which rows; the table keeps no order.
    let mut rows = planned.expr;
    if finishing.limit.is_some() || finishing.offset > 0 {
        rows = rows.top_k(vec![], finishing.order_by.clone(), finishing.limit, finishing.offset);
    }
    let rows = rows.project(finishing.project.clone());
    Ok(Plan::CreateTable {
        name,
        desc,
        keys: vec![],
        checks: vec![],
        defaults: vec![],
        if_not_exists: ct.if_not_exists,
        rows: Some(rows),
        foreign_keys: vec![],
    })
}

/// A column's `DEFAULT`: an expression of no column (a constant, `now()`, ...) that an
/// assignment can store in the column's type.
pub(crate) fn check_default(qcx: &QueryCtx, column: &str, e: &ast::Expr, ty: &ScalarType) -> Result<(), PlanError> {
    let scope = Scope::default();
    let ctx = qcx.expr_ctx(&scope, AggMode::Forbidden("DEFAULT expressions"));
    let typed = crate::expr::plan_expr(&ctx, e).map_err(|err| match err {
        PlanError::UnknownColumn(_) | PlanError::UnknownQualifiedColumn(_) => {
            PlanError::NotAllowed("cannot use column reference in DEFAULT expression".into())
        }
        other => other,
    })?;
    let found = typed.ty.clone();
    coerce(&ctx, typed, ty, CastContext::Assignment).map_err(|e| match e {
        PlanError::Resolve(_) => PlanError::TypeMismatch(format!(
            "column \"{column}\" is of type {ty} but default expression is of type {}",
            found.map_or_else(|| "unknown".to_string(), |t| t.to_string())
        )),
        other => other,
    })?;
    Ok(())
}

/// The stored "default" of an identity column: no sequence object exists, the
/// coordinator numbers the rows (as for serial columns, whose default is `nextval(...)`).
const IDENTITY_ALWAYS: &str = "GENERATED ALWAYS AS IDENTITY";
const IDENTITY_BY_DEFAULT: &str = "GENERATED BY DEFAULT AS IDENTITY";

/// Whether a stored default numbers the rows (serial and identity columns), which the
/// coordinator does when a row leaves the column NULL.
pub fn is_numbering(default_sql: &str) -> bool {
    default_sql.starts_with("nextval(") || identity_generation(default_sql).is_some()
}

/// For an identity column's stored default: `ALWAYS` or `BY DEFAULT`, as
/// `information_schema.columns.identity_generation` shows it.
pub fn identity_generation(default_sql: &str) -> Option<&'static str> {
    match default_sql {
        IDENTITY_ALWAYS => Some("ALWAYS"),
        IDENTITY_BY_DEFAULT => Some("BY DEFAULT"),
        _ => None,
    }
}

/// Whether column `column` of `item` is `GENERATED ALWAYS AS IDENTITY`: only `DEFAULT`
/// may be written to it (unless an INSERT says `OVERRIDING SYSTEM VALUE`).
fn is_always_identity(item: &crate::CatalogItem, column: usize) -> bool {
    item.defaults.get(column).and_then(Option::as_deref) == Some(IDENTITY_ALWAYS)
}

/// PostgreSQL's error for a value written to a `GENERATED ALWAYS` identity column.
fn identity_always_error(message: String) -> PlanError {
    PlanError::Eval(eddy_expr::EvalError::InvalidArgument { sqlstate: "428C9".into(), message })
}

/// The columns of `item` whose default numbers the rows.
fn generated_columns(item: &crate::CatalogItem) -> Vec<usize> {
    (0..item.defaults.len()).filter(|&i| item.defaults[i].as_deref().is_some_and(is_numbering)).collect()
}

/// The `DEFAULT` of each column of `item` as an expression (`None`: NULL, also for a
/// numbering default, which the coordinator fills in).
fn column_defaults(item: &crate::CatalogItem) -> Result<Vec<Option<ast::Expr>>, PlanError> {
    (0..item.desc.arity())
        .map(|i| match item.defaults.get(i) {
            Some(Some(sql)) if is_numbering(sql) => Ok(None),
            Some(Some(sql)) => sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
                .try_with_sql(sql)
                .and_then(|mut p| p.parse_expr())
                .map(Some)
                .map_err(|e| PlanError::Syntax(format!("the stored DEFAULT {sql}: {e}"))),
            _ => Ok(None),
        })
        .collect()
}

/// Whether `e` is the keyword `DEFAULT` where a VALUES row gives a value.
fn is_default_keyword(e: &ast::Expr) -> bool {
    matches!(e, ast::Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"))
}

fn plan_create_index(qcx: &QueryCtx, ci: &ast::CreateIndex) -> Result<Plan, PlanError> {
    if ci.predicate.is_some() {
        return Err(PlanError::Unsupported("partial indexes (CREATE INDEX ... WHERE)".into()));
    }
    let item = resolve(qcx, &object_name(&ci.table_name))?;
    if !matches!(item.kind, ItemKind::Table | ItemKind::MaterializedView | ItemKind::Source) {
        return Err(PlanError::WrongObjectType(format!("cannot create index on relation \"{}\"", item.name)));
    }
    let mut columns = Vec::new();
    for c in &ci.columns {
        let ast::Expr::Identifier(ident) = &c.column.expr else {
            return Err(PlanError::Unsupported(format!("an index on the expression {}", c.column.expr)));
        };
        let n = normalize_ident(ident);
        let i = item
            .desc
            .columns()
            .iter()
            .position(|(name, _)| *name == n)
            .ok_or_else(|| PlanError::UnknownColumn(n.clone()))?;
        columns.push(i);
    }
    if columns.is_empty() {
        return Err(PlanError::Syntax("an index needs at least one column".into()));
    }
    if ci.unique {
        // Enforced as the table's UNIQUE constraints are (checked on every write); reads
        // by its columns use the table's own key lookups.
        if item.kind != ItemKind::Table {
            return Err(PlanError::Unsupported("CREATE UNIQUE INDEX on anything but a table".into()));
        }
        let short = item.name.rsplit('.').next().unwrap_or(&item.name).to_string();
        let names: Vec<&str> = columns.iter().map(|&c| item.desc.columns()[c].0.as_str()).collect();
        let name = match &ci.name {
            Some(n) => strip_public(object_name(n)),
            None => format!("{short}_{}_idx", names.join("_")),
        };
        return Ok(Plan::CreateUniqueIndex { table: item.id, name, columns, if_not_exists: ci.if_not_exists });
    }
    Ok(Plan::CreateIndex {
        name: ci.name.as_ref().map(|n| strip_public(object_name(n))),
        on: item.id,
        on_name: item.name,
        columns,
        if_not_exists: ci.if_not_exists,
    })
}

fn plan_create_view(qcx: &QueryCtx, cv: &ast::CreateView, stmt: &Statement) -> Result<Plan, PlanError> {
    let name = strip_public(object_name(&cv.name));
    check_schema(qcx, &name)?;
    // now() stays a call: in a plain view it is each reading statement's now(), in a
    // materialized view a temporal filter's time (checked when the view is planned).
    let view_qcx = QueryCtx { now: view_now(cv), ..*qcx };
    plan_view_body(&view_qcx, cv, name, stmt)
}

fn view_now(cv: &ast::CreateView) -> NowContext {
    match cv.materialized {
        true => NowContext::Maintained,
        false => NowContext::PlainView,
    }
}

fn plan_view_body(qcx: &QueryCtx, cv: &ast::CreateView, name: String, stmt: &Statement) -> Result<Plan, PlanError> {
    let Planned { expr, mut scope } = plan_query(qcx, &cv.query)?;
    if cv.materialized {
        eddy_expr::temporal::check_view(&expr).map_err(PlanError::NotAllowed)?;
    }
    if !cv.columns.is_empty() {
        if cv.columns.len() > scope.len() {
            let message = if cv.materialized {
                "too many column names were specified"
            } else {
                "CREATE VIEW specifies more column names than columns"
            };
            return Err(PlanError::Cardinality(message.into()));
        }
        for (c, def) in scope.columns.iter_mut().zip(&cv.columns) {
            c.name = normalize_ident(&def.name);
        }
    }
    let mut seen = std::collections::HashSet::new();
    for c in &scope.columns {
        if !seen.insert(c.name.clone()) {
            return Err(PlanError::DuplicateColumn(c.name.clone()));
        }
    }
    let (target_lag, dynamic_table) = view_options(cv)?;
    let create_sql = match &target_lag {
        Some(target) => target_lag_create_sql(cv, target, dynamic_table),
        None => stmt.to_string(),
    };
    Ok(Plan::CreateView {
        name,
        desc: scope.desc(),
        expr,
        materialized: cv.materialized,
        or_replace: cv.or_replace,
        if_not_exists: cv.if_not_exists,
        create_sql,
        depends_on: dedup(qcx.referenced.borrow().clone()),
        target_lag,
    })
}

/// `create_sql` (a stored CREATE MATERIALIZED VIEW or DYNAMIC TABLE) with target lag
/// `lag`: ALTER keeps SHOW CREATE and the stored catalog current. A view without a lag
/// gets one, refreshing incrementally.
pub fn alter_target_lag_sql(create_sql: &str, lag: crate::Lag) -> Result<String, PlanError> {
    let parsed = crate::parse(create_sql)?;
    let cv = match parsed.first() {
        Some(crate::Statement::Sql(stmt)) => match &**stmt {
            Statement::CreateView(cv) if cv.materialized => cv,
            _ => return Err(PlanError::WrongObjectType(format!("not a materialized view: {create_sql}"))),
        },
        _ => return Err(PlanError::WrongObjectType(format!("not a materialized view: {create_sql}"))),
    };
    let (target, dynamic_table) = view_options(cv)?;
    let continuous = crate::TargetLag { lag, on_create: true, mode: crate::RefreshMode::Incremental };
    let target = crate::TargetLag { lag, ..target.unwrap_or(continuous) };
    Ok(target_lag_create_sql(cv, &target, dynamic_table))
}

/// A view's stored CREATE statement, `create_sql`, naming it `new_name` instead.
pub fn renamed_view_sql(create_sql: &str, new_name: &str) -> Result<String, PlanError> {
    let parsed = crate::parse(create_sql)?;
    let Some(crate::Statement::Sql(stmt)) = parsed.into_iter().next() else {
        return Err(PlanError::WrongObjectType(format!("not a view: {create_sql}")));
    };
    let Statement::CreateView(mut cv) = *stmt else {
        return Err(PlanError::WrongObjectType(format!("not a view: {create_sql}")));
    };
    let ident = |part: &str| match crate::quote_ident(part) == part {
        true => ast::Ident::new(part),
        false => ast::Ident::with_quote('"', part),
    };
    cv.name = ast::ObjectName::from(new_name.split('.').map(ident).collect::<Vec<_>>());
    match view_options(&cv)? {
        (Some(target), dynamic_table) => Ok(target_lag_create_sql(&cv, &target, dynamic_table)),
        (None, _) => Ok(Statement::CreateView(cv).to_string()),
    }
}

/// The CREATE statement `cv` is stored and shown as, with `target`.
fn target_lag_create_sql(cv: &ast::CreateView, target: &crate::TargetLag, dynamic_table: bool) -> String {
    let name = strip_public(object_name(&cv.name));
    let columns: Vec<String> = cv.columns.iter().map(|c| c.name.to_string()).collect();
    crate::ddl::view_with_target_lag_sql(&name, &columns, target, dynamic_table, &cv.query.to_string())
}

/// `WITH (TARGET_LAG = '30 seconds', REFRESH_MODE = 'FULL', INITIALIZE = 'ON_SCHEDULE')` on
/// a materialized view; and whether it was written as a dynamic table.
fn view_options(cv: &ast::CreateView) -> Result<(Option<crate::TargetLag>, bool), PlanError> {
    let options = match &cv.options {
        ast::CreateTableOptions::None => return Ok((None, false)),
        ast::CreateTableOptions::With(o) | ast::CreateTableOptions::Options(o) | ast::CreateTableOptions::Plain(o) => o,
        ast::CreateTableOptions::TableProperties(o) => o,
    };
    const KNOWN: &str = "known: TARGET_LAG, REFRESH_MODE, INITIALIZE";
    let mut lag = None;
    let mut on_create = true;
    let mut mode = None;
    let mut dynamic_table = false;
    for option in options {
        let ast::SqlOption::KeyValue { key, value } = option else {
            return Err(PlanError::InvalidParameter(format!("unknown view option {option} ({KNOWN})")));
        };
        let text = match value {
            Expr::Value(v) => match &v.value {
                ast::Value::SingleQuotedString(s) => s.clone(),
                other => other.to_string(),
            },
            Expr::Identifier(i) => i.value.clone(),
            other => other.to_string(),
        };
        match object_name(key).to_ascii_lowercase().as_str() {
            "target_lag" => lag = Some(crate::ddl::target_lag(&text)?),
            "refresh_mode" => mode = Some(crate::ddl::refresh_mode(&text)?),
            "dynamic_table" => dynamic_table = text.eq_ignore_ascii_case("true"),
            "initialize" => {
                on_create = match text.to_ascii_uppercase().as_str() {
                    "ON_CREATE" => true,
                    "ON_SCHEDULE" => false,
                    _ => {
                        return Err(PlanError::InvalidParameter(format!(
                            "INITIALIZE must be ON_CREATE or ON_SCHEDULE, not {text}"
                        )))
                    }
                }
            }
            other => return Err(PlanError::InvalidParameter(format!("unknown view option {other} ({KNOWN})"))),
        }
    }
    if (lag.is_some() || mode.is_some()) && !cv.materialized {
        return Err(PlanError::InvalidParameter(
            "TARGET_LAG and REFRESH_MODE apply to materialized views (a plain view is computed when read)".into(),
        ));
    }
    if mode.is_some() && lag.is_none() {
        return Err(PlanError::InvalidParameter(
            "REFRESH_MODE needs a TARGET_LAG (without one a view is maintained continuously)".into(),
        ));
    }
    let mode = mode.unwrap_or(crate::RefreshMode::Incremental);
    Ok((lag.map(|lag| crate::TargetLag { lag, on_create, mode }), dynamic_table))
}

fn dedup(mut ids: Vec<eddy_repr::GlobalId>) -> Vec<eddy_repr::GlobalId> {
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(*id));
    ids
}

fn table_target(qcx: &QueryCtx, name: &ast::ObjectName) -> Result<crate::CatalogItem, PlanError> {
    let item = resolve(qcx, &object_name(name))?;
    if item.kind != ItemKind::Table {
        return Err(PlanError::WrongObjectType(format!(
            "cannot change {} \"{}\": it is a {}, not a table",
            item.kind.as_str(),
            item.name,
            item.kind.as_str()
        )));
    }
    Ok(item)
}

/// `INSERT`; `more_rows` are a bulk INSERT's rows after the first (which is in `insert`).
fn plan_insert(qcx: &QueryCtx, insert: &ast::Insert, more_rows: &[Vec<Literal>]) -> Result<Plan, PlanError> {
    let ast::TableObject::TableName(table_name) = &insert.table else {
        return Err(PlanError::Unsupported("INSERT into a table function".into()));
    };
    let item = table_target(qcx, table_name)?;
    let on_conflict = match &insert.on {
        None => None,
        Some(ast::OnInsert::OnConflict(c)) => Some(plan_on_conflict(qcx, &item, insert, c)?),
        Some(other) => return Err(PlanError::Unsupported(format!("INSERT ... {other}"))),
    };
    let arity = item.desc.arity();
    // Which table column each supplied column fills.
    let targets: Vec<usize> = if insert.columns.is_empty() {
        (0..arity).collect()
    } else {
        let mut t = Vec::new();
        for c in &insert.columns {
            let name = object_name(c);
            let pos = item
                .desc
                .position(&name)
                .ok_or_else(|| PlanError::UnknownColumn(format!("{name}\" of relation \"{}", item.name)))?;
            if t.contains(&pos) {
                return Err(PlanError::DuplicateColumn(name));
            }
            t.push(pos);
        }
        t
    };
    let defaults = column_defaults(&item)?;
    let default_or_null =
        |column: usize| -> ast::Expr { defaults[column].clone().unwrap_or(ast::Expr::Value(ast::Value::Null.into())) };
    // `DEFAULT VALUES`: one row of nothing but defaults.
    let (targets, source) = match &insert.source {
        Some(source) => (targets, std::borrow::Cow::Borrowed(&**source)),
        None => {
            let row: Vec<ast::Expr> = (0..arity).map(default_or_null).collect();
            let values = ast::Values {
                explicit_row: false,
                value_keyword: false,
                rows: vec![ast::Parens::with_empty_span(row)],
            };
            let query = ast::Query {
                with: None,
                body: Box::new(ast::SetExpr::Values(values)),
                order_by: None,
                limit_clause: None,
                fetch: None,
                locks: vec![],
                for_clause: None,
                settings: None,
                format_clause: None,
                pipe_operators: vec![],
            };
            ((0..arity).collect(), std::borrow::Cow::Owned(query))
        }
    };
    // A GENERATED ALWAYS identity column takes only DEFAULT, unless the INSERT overrides.
    if insert.overriding != Some(ast::InsertOverriding::System) {
        for (i, &target) in targets.iter().enumerate() {
            let explicit = match &*source.body {
                ast::SetExpr::Values(v) => {
                    !more_rows.is_empty() || v.rows.iter().any(|row| row.get(i).is_some_and(|e| !is_default_keyword(e)))
                }
                _ => true,
            };
            if is_always_identity(&item, target) && explicit {
                let name = &item.desc.columns()[target].0;
                return Err(identity_always_error(format!("cannot insert a non-DEFAULT value into column \"{name}\"")));
            }
        }
    }
    // `DEFAULT` in a VALUES row: that column's default expression. (Copying a bulk INSERT's
    // rows only when one says DEFAULT.)
    let mut source = source;
    let says_default = |v: &ast::Values| v.rows.iter().any(|row| row.iter().any(is_default_keyword));
    if matches!(&*source.body, ast::SetExpr::Values(v) if says_default(v)) {
        if let ast::SetExpr::Values(values) = source.to_mut().body.as_mut() {
            for row in &mut values.rows {
                for (value, &target) in row.iter_mut().zip(&targets) {
                    if is_default_keyword(value) {
                        *value = default_or_null(target);
                    }
                }
            }
        }
    }
    let source = &*source;
    let planned = match (&*source.body, source.order_by.is_none() && source.limit_clause.is_none()) {
        (ast::SetExpr::Values(values), true) => {
            let target_columns: Vec<(String, ScalarType)> = targets
                .iter()
                .map(|&t| (item.desc.columns()[t].0.clone(), item.desc.columns()[t].1.scalar_type.clone()))
                .collect();
            crate::query::plan_values_typed(qcx, values, more_rows, Some(&target_columns))?
        }
        _ => plan_query(qcx, &type_bare_nulls(source, &item, &targets))?,
    };
    if planned.scope.len() > targets.len() {
        return Err(PlanError::Cardinality("INSERT has more expressions than target columns".into()));
    }
    if planned.scope.len() < targets.len() && !insert.columns.is_empty() {
        return Err(PlanError::Cardinality("INSERT has more target columns than expressions".into()));
    }
    // Build each table column: the supplied value cast to the column type, or NULL.
    let scope = &planned.scope;
    let ctx = qcx.expr_ctx(scope, AggMode::Forbidden("INSERT"));
    let width = scope.len();
    let mut exprs = Vec::with_capacity(arity);
    for (col, (col_name, col_type)) in item.desc.columns().iter().enumerate() {
        let e = match targets.iter().position(|&t| t == col).filter(|&i| i < width) {
            Some(i) => {
                let typed = crate::expr::Typed {
                    expr: ScalarExpr::Column(i),
                    ty: Some(scope.columns[i].ty.clone()),
                    unknown: crate::expr::Unknown::No,
                };
                coerce(&ctx, typed, &col_type.scalar_type, CastContext::Assignment).map_err(|e| match e {
                    PlanError::Resolve(_) => PlanError::TypeMismatch(format!(
                        "column \"{col_name}\" is of type {} but expression is of type {}",
                        col_type.scalar_type, scope.columns[i].ty
                    )),
                    other => other,
                })?
            }
            None => match &defaults[col] {
                Some(default) => coerce(
                    &ctx,
                    crate::expr::plan_expr(&ctx, default)?,
                    &col_type.scalar_type,
                    CastContext::Assignment,
                )?,
                None => ScalarExpr::null(col_type.scalar_type.clone()),
            },
        };
        exprs.push(e);
    }
    // NOT NULL is checked by the coordinator when it applies the rows.
    let rows = planned.expr.map(exprs).project((width..width + arity).collect());
    let returning = match &insert.returning {
        None => None,
        Some(items) => Some(plan_returning(qcx, &item, &Scope::from_desc(Some(&item.name), &item.desc), items)?),
    };
    Ok(Plan::Insert { table: item.id, rows, returning, on_conflict, generated: generated_columns(&item) })
}

/// `ON CONFLICT [target] DO NOTHING | DO UPDATE SET ... [WHERE ...]`. The SET and WHERE
/// expressions read the existing row (by the table's name or alias) and the proposed one
/// (as `excluded`).
fn plan_on_conflict(
    qcx: &QueryCtx,
    item: &crate::CatalogItem,
    insert: &ast::Insert,
    conflict: &ast::OnConflict,
) -> Result<crate::OnConflict, PlanError> {
    let target = match &conflict.conflict_target {
        None => crate::ConflictTarget::AnyKey,
        Some(ast::ConflictTarget::Columns { predicate: Some(_), .. }) => {
            return Err(PlanError::Unsupported("ON CONFLICT (...) WHERE (partial unique indexes)".into()))
        }
        Some(ast::ConflictTarget::Columns { columns, .. }) => {
            let mut positions = columns
                .iter()
                .map(|c| {
                    let n = normalize_ident(c);
                    item.desc.position(&n).ok_or_else(|| PlanError::UnknownColumn(n.clone()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            positions.sort_unstable();
            positions.dedup();
            crate::ConflictTarget::Columns(positions)
        }
        Some(ast::ConflictTarget::OnConstraint(name)) => crate::ConflictTarget::Constraint(object_name(name)),
    };
    let action = match &conflict.action {
        ast::OnConflictAction::DoNothing => crate::ConflictAction::Nothing,
        ast::OnConflictAction::DoUpdate(update) => {
            if target == crate::ConflictTarget::AnyKey {
                return Err(PlanError::Syntax(
                    "ON CONFLICT DO UPDATE requires inference specification or constraint name".into(),
                ));
            }
            let qualifier = insert.table_alias.as_ref().map(|a| normalize_ident(&a.alias)).unwrap_or(item.name.clone());
            let scope =
                Scope::from_desc(Some(&qualifier), &item.desc).concat(&Scope::from_desc(Some("excluded"), &item.desc));
            let ctx = qcx.expr_ctx(&scope, AggMode::Forbidden("ON CONFLICT DO UPDATE"));
            let (values, renumbered) = plan_assignments(&ctx, item, &update.assignments, "ON CONFLICT DO UPDATE")?;
            let predicate = match &update.selection {
                Some(w) => Some(crate::expr::plan_condition(&ctx, w, "WHERE")?),
                None => None,
            };
            crate::ConflictAction::Update { values, predicate, renumbered }
        }
    };
    Ok(crate::OnConflict { target, action })
}

/// RETURNING items over the rows a statement wrote (inserted, updated to, or deleted),
/// named through `scope` (the table, or its alias).
/// The source query of `INSERT ... SELECT` with each bare `NULL` in its select list cast
/// to the type of the column it fills, as PostgreSQL types it (it would otherwise be text).
fn type_bare_nulls(source: &ast::Query, item: &crate::CatalogItem, targets: &[usize]) -> ast::Query {
    let mut source = source.clone();
    if let ast::SetExpr::Select(select) = source.body.as_mut() {
        for (item_expr, &target) in select.projection.iter_mut().zip(targets) {
            let (ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. }) = item_expr else {
                continue;
            };
            if !matches!(e, ast::Expr::Value(v) if v.value == ast::Value::Null) {
                continue;
            }
            let type_name = item.desc.columns()[target].1.scalar_type.to_string();
            let parsed = sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
                .try_with_sql(&type_name)
                .and_then(|mut p| p.parse_data_type());
            if let Ok(data_type) = parsed {
                *e = ast::Expr::Cast { kind: ast::CastKind::Cast, expr: Box::new(e.clone()), data_type, format: None };
            }
        }
    }
    source
}

fn plan_returning(
    qcx: &QueryCtx,
    item: &crate::CatalogItem,
    scope: &Scope,
    items: &[ast::SelectItem],
) -> Result<QueryPlan, PlanError> {
    let scope = scope.clone();
    let ctx = qcx.expr_ctx(&scope, AggMode::Forbidden("RETURNING"));
    let mut exprs = Vec::new();
    let mut columns = Vec::new();
    for it in items {
        match it {
            ast::SelectItem::Wildcard(_) => {
                for (i, (n, t)) in item.desc.columns().iter().enumerate() {
                    exprs.push(ScalarExpr::Column(i));
                    columns.push((n.clone(), t.clone()));
                }
            }
            ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                let typed = plan_expr(&ctx, e)?;
                let ty = typed.ty.clone().unwrap_or(ScalarType::Text);
                exprs.push(coerce(&ctx, typed, &ty, CastContext::Implicit)?);
                let name = match it {
                    ast::SelectItem::ExprWithAlias { alias, .. } => normalize_ident(alias),
                    _ => crate::expr::column_name(e),
                };
                columns.push((name, ColumnType::new(ty, true)));
            }
            _ => return Err(PlanError::Unsupported("this RETURNING item".into())),
        }
    }
    let arity = item.desc.arity();
    let n = exprs.len();
    // The coordinator substitutes the inserted rows for this Get when it runs RETURNING.
    let expr = RelationExpr::get(item.id, item.name.clone(), arity).map(exprs).project((arity..arity + n).collect());
    Ok(QueryPlan {
        expr,
        finishing: crate::RowSetFinishing { project: (0..n).collect(), ..Default::default() },
        desc: RelationDesc::new(columns),
    })
}

fn single_table(
    from: &[ast::TableWithJoins],
    what: &str,
) -> Result<(ast::ObjectName, Option<ast::TableAlias>), PlanError> {
    match from {
        [ast::TableWithJoins { relation: ast::TableFactor::Table { name, alias, args: None, .. }, joins }]
            if joins.is_empty() =>
        {
            Ok((name.clone(), alias.clone()))
        }
        _ => Err(PlanError::Unsupported(format!("{what} of anything but a single table"))),
    }
}

fn table_scope(item: &crate::CatalogItem, alias: &Option<ast::TableAlias>) -> Scope {
    let qualifier = alias.as_ref().map(|a| normalize_ident(&a.name)).unwrap_or_else(|| item.name.clone());
    Scope::from_desc(Some(&qualifier), &item.desc)
}

/// `SET col = value, ...` of an UPDATE or ON CONFLICT DO UPDATE: the new value of every
/// column of `item` over `ctx`'s scope (which starts with the row's own columns), the
/// old value where not assigned; `DEFAULT` is the column's default. Also the serial and
/// identity columns set to `DEFAULT`, which are NULL here for the coordinator to number.
fn plan_assignments(
    ctx: &crate::expr::ExprCtx,
    item: &crate::CatalogItem,
    assignments: &[ast::Assignment],
    statement: &str,
) -> Result<(Vec<ScalarExpr>, Vec<usize>), PlanError> {
    let arity = item.desc.arity();
    let mut values: Vec<ScalarExpr> = (0..arity).map(ScalarExpr::Column).collect();
    let mut renumbered = Vec::new();
    let generated = generated_columns(item);
    let mut assigned = vec![false; arity];
    for a in assignments {
        let ast::AssignmentTarget::ColumnName(col) = &a.target else {
            return Err(PlanError::Unsupported(format!("SET (a, b) = ... in {statement}")));
        };
        let col_name = object_name(col);
        let col_name = col_name.rsplit('.').next().unwrap_or_default().to_string();
        let pos = item
            .desc
            .position(&col_name)
            .ok_or_else(|| PlanError::UnknownColumn(format!("{col_name}\" of relation \"{}", item.name)))?;
        if std::mem::replace(&mut assigned[pos], true) {
            return Err(PlanError::DuplicateColumn(col_name));
        }
        if is_always_identity(item, pos) && !is_default_keyword(&a.value) {
            return Err(identity_always_error(format!("column \"{col_name}\" can only be updated to DEFAULT")));
        }
        let value = if is_default_keyword(&a.value) {
            if generated.contains(&pos) {
                renumbered.push(pos);
            }
            column_defaults(item)?[pos].clone().unwrap_or(ast::Expr::Value(ast::Value::Null.into()))
        } else {
            a.value.clone()
        };
        let ty = &item.desc.columns()[pos].1.scalar_type;
        values[pos] = coerce(ctx, plan_expr(ctx, &value)?, ty, CastContext::Assignment)?;
    }
    Ok((values, renumbered))
}

fn plan_update(qcx: &QueryCtx, update: &ast::Update) -> Result<Plan, PlanError> {
    let (name, alias) = single_table(std::slice::from_ref(&update.table), "UPDATE")?;
    let item = table_target(qcx, &name)?;
    let scope = table_scope(&item, &alias);
    let arity = item.desc.arity();
    let returning = match &update.returning {
        None => None,
        Some(items) => Some(plan_returning(qcx, &item, &scope, items)?),
    };
    let other_tables = match &update.from {
        None => None,
        Some(ast::UpdateTableFromKind::BeforeSet(tables) | ast::UpdateTableFromKind::AfterSet(tables)) => Some(tables),
    };
    if let Some(tables) = other_tables {
        // The table's rows joined with the FROM rows that pass WHERE (the table first, so
        // its columns lead the scope the SET expressions read), and, for how often each
        // row is updated, the table's rows for which such FROM rows exist.
        let mut from = vec![update.table.clone()];
        from.extend(tables.iter().cloned());
        let joined = plan_from(qcx, &from, update.selection.as_ref(), vec![], false)?;
        let ctx = qcx.expr_ctx(&joined.scope, AggMode::Forbidden("UPDATE"));
        let (new_values, renumbered) = plan_assignments(&ctx, &item, &update.assignments, "UPDATE")?;
        let mut pairs: Vec<ScalarExpr> = (0..arity).map(ScalarExpr::Column).collect();
        pairs.extend(new_values);
        let width = joined.scope.len();
        let selection = joined.expr.map(pairs).project((width..width + 2 * arity).collect());
        let rows = RelationExpr::get(item.id, item.name.clone(), arity);
        let targets =
            filter_rows(qcx, Planned { expr: rows, scope }, &matching_rows_exist(tables, &update.selection)?)?;
        return Ok(Plan::Update { table: item.id, selection, targets: Some(targets), arity, returning, renumbered });
    }
    let ctx = qcx.expr_ctx(&scope, AggMode::Forbidden("UPDATE"));
    let (new_values, renumbered) = plan_assignments(&ctx, &item, &update.assignments, "UPDATE")?;
    let mut selection = RelationExpr::get(item.id, item.name.clone(), arity);
    if let Some(w) = &update.selection {
        selection = filter_rows(qcx, Planned { expr: selection, scope: scope.clone() }, w)?;
    }
    Ok(Plan::Update {
        table: item.id,
        selection: selection.map(new_values),
        targets: None,
        arity,
        returning,
        renumbered,
    })
}

/// `EXISTS (SELECT 1 FROM tables WHERE selection)`: whether a target row of `UPDATE ...
/// FROM tables` or `DELETE ... USING tables` has rows to go with (the target's columns
/// are the outer query's there).
fn matching_rows_exist(tables: &[ast::TableWithJoins], selection: &Option<ast::Expr>) -> Result<ast::Expr, PlanError> {
    let tables = tables.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let condition = selection.as_ref().map(|w| format!(" WHERE {w}")).unwrap_or_default();
    crate::parse_rewritten_expr(&format!("EXISTS (SELECT 1 FROM {tables}{condition})"))
}

fn plan_delete(qcx: &QueryCtx, delete: &ast::Delete) -> Result<Plan, PlanError> {
    let from = match &delete.from {
        ast::FromTable::WithFromKeyword(f) | ast::FromTable::WithoutKeyword(f) => f,
    };
    let (name, alias) = single_table(from, "DELETE")?;
    let item = table_target(qcx, &name)?;
    let scope = table_scope(&item, &alias);
    let mut selection = RelationExpr::get(item.id, item.name.clone(), item.desc.arity());
    // `USING tables WHERE ...`: the rows for which rows of `tables` pass the condition.
    let condition = match &delete.using {
        Some(tables) => Some(matching_rows_exist(tables, &delete.selection)?),
        None => delete.selection.clone(),
    };
    if let Some(w) = &condition {
        selection = filter_rows(qcx, Planned { expr: selection, scope: scope.clone() }, w)?;
    }
    let returning = match &delete.returning {
        None => None,
        Some(items) => Some(plan_returning(qcx, &item, &scope, items)?),
    };
    Ok(Plan::Delete { table: item.id, selection, returning })
}

fn plan_copy_from(
    qcx: &QueryCtx,
    source: &ast::CopySource,
    options: &[ast::CopyOption],
    legacy: &[ast::CopyLegacyOption],
) -> Result<Plan, PlanError> {
    let ast::CopySource::Table { table_name, columns } = source else {
        return Err(PlanError::Unsupported("COPY (query) FROM".into()));
    };
    let item = table_target(qcx, table_name)?;
    let columns: Vec<usize> = if columns.is_empty() {
        (0..item.desc.arity()).collect()
    } else {
        columns
            .iter()
            .map(|c| {
                let n = normalize_ident(c);
                item.desc
                    .position(&n)
                    .ok_or_else(|| PlanError::UnknownColumn(format!("{n}\" of relation \"{}", item.name)))
            })
            .collect::<Result<_, _>>()?
    };
    let format = copy_format(options, legacy)?;
    let column_types = columns.iter().map(|&c| item.desc.columns()[c].1.scalar_type.clone()).collect();
    // The defaults of the columns left out, evaluated once for the statement, or per row
    // where they give a new value each time (`DEFAULT gen_random_uuid()`).
    let scope = Scope::default();
    let ctx = qcx.expr_ctx(&scope, AggMode::Forbidden("DEFAULT expressions"));
    let mut row_template = Vec::with_capacity(item.desc.arity());
    let mut volatile_defaults = Vec::new();
    for (col, default) in column_defaults(&item)?.into_iter().enumerate() {
        let value = match default {
            Some(e) if !columns.contains(&col) => {
                let ty = &item.desc.columns()[col].1.scalar_type;
                let expr = coerce(&ctx, plan_expr(&ctx, &e)?, ty, CastContext::Assignment)?;
                if expr.is_volatile() {
                    volatile_defaults.push((col, expr));
                    eddy_repr::Datum::Null
                } else {
                    expr.eval(&[])?
                }
            }
            _ => eddy_repr::Datum::Null,
        };
        row_template.push(value);
    }
    let generated = generated_columns(&item);
    Ok(Plan::CopyFrom { table: item.id, columns, column_types, row_template, volatile_defaults, generated, format })
}

/// The format a COPY's options ask for: text (tab-delimited, `\N` for NULL) unless CSV.
fn copy_format(options: &[ast::CopyOption], legacy: &[ast::CopyLegacyOption]) -> Result<CopyFormat, PlanError> {
    let mut csv = false;
    let mut header = false;
    let mut delimiter = None;
    let mut null = None;
    let mut quote = b'"';
    let mut escape = None;
    for o in options {
        match o {
            ast::CopyOption::Format(f) => match normalize_ident(f).as_str() {
                "csv" => csv = true,
                "text" => csv = false,
                other => return Err(PlanError::Unsupported(format!("COPY format {other}"))),
            },
            ast::CopyOption::Header(h) => header = *h,
            ast::CopyOption::Delimiter(c) => delimiter = Some(*c as u8),
            ast::CopyOption::Null(n) => null = Some(n.clone()),
            ast::CopyOption::Quote(c) => quote = *c as u8,
            ast::CopyOption::Escape(c) => escape = Some(*c as u8),
            other => return Err(PlanError::Unsupported(format!("COPY option {other}"))),
        }
    }
    for o in legacy {
        match o {
            ast::CopyLegacyOption::Csv(csv_options) => {
                csv = true;
                for c in csv_options {
                    match c {
                        ast::CopyLegacyCsvOption::Header => header = true,
                        ast::CopyLegacyCsvOption::Quote(q) => quote = *q as u8,
                        ast::CopyLegacyCsvOption::Escape(e) => escape = Some(*e as u8),
                        other => return Err(PlanError::Unsupported(format!("COPY option {other}"))),
                    }
                }
            }
            ast::CopyLegacyOption::Delimiter(c) => delimiter = Some(*c as u8),
            ast::CopyLegacyOption::Null(n) => null = Some(n.clone()),
            ast::CopyLegacyOption::Header => header = true,
            other => return Err(PlanError::Unsupported(format!("COPY option {other}"))),
        }
    }
    Ok(if csv {
        CopyFormat::Csv {
            delimiter: delimiter.unwrap_or(b','),
            quote,
            escape: escape.unwrap_or(quote),
            header,
            null: null.unwrap_or_default(),
        }
    } else {
        CopyFormat::Text { delimiter: delimiter.unwrap_or(b'\t'), null: null.unwrap_or_else(|| "\\N".into()) }
    })
}

/// `COPY table [(columns)] TO STDOUT` or `COPY (query) TO STDOUT`.
fn plan_copy_to(
    qcx: &QueryCtx,
    source: &ast::CopySource,
    options: &[ast::CopyOption],
    legacy: &[ast::CopyLegacyOption],
) -> Result<Plan, PlanError> {
    let format = copy_format(options, legacy)?;
    let query = match source {
        ast::CopySource::Query(q) => (**q).clone(),
        ast::CopySource::Table { table_name, columns } => {
            let list = if columns.is_empty() {
                "*".to_string()
            } else {
                columns.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            };
            let sql = format!("SELECT {list} FROM {table_name}");
            match crate::parse(&sql)?.into_iter().next() {
                Some(crate::Statement::Sql(stmt)) => match *stmt {
                    Statement::Query(q) => *q,
                    _ => return Err(PlanError::Syntax(sql)),
                },
                _ => return Err(PlanError::Syntax(sql)),
            }
        }
    };
    let (planned, finishing) = plan_top_query(qcx, &query)?;
    let desc = project_desc(&planned.scope, &finishing.project);
    Ok(Plan::CopyTo { query: QueryPlan { expr: planned.expr, finishing, desc }, format })
}

fn plan_explain(qcx: &QueryCtx, stmt: &Statement) -> Result<Plan, PlanError> {
    let expr = match stmt {
        Statement::Query(q) => plan_top_query(qcx, q)?.0.expr,
        Statement::CreateView(cv) => {
            let view_qcx = QueryCtx { now: view_now(cv), ..*qcx };
            plan_query(&view_qcx, &cv.query)?.expr
        }
        _ => {
            return Err(PlanError::Unsupported(
                "EXPLAIN of this statement (EXPLAIN a SELECT, a view or CREATE VIEW)".into(),
            ))
        }
    };
    Ok(Plan::Explain(expr.explain()))
}

/// `SELECT [pg_catalog.]set_config('name', 'value', is_local)` alone (how pg_dump's
/// scripts and some drivers set a variable): the name and value. The variable is set for
/// the session either way, as `SET LOCAL` is.
fn set_config_call(q: &ast::Query) -> Option<(String, String)> {
    let ast::SetExpr::Select(select) = q.body.as_ref() else { return None };
    if !select.from.is_empty() || select.selection.is_some() || q.order_by.is_some() || q.limit_clause.is_some() {
        return None;
    }
    let [ast::SelectItem::UnnamedExpr(Expr::Function(f))
    | ast::SelectItem::ExprWithAlias { expr: Expr::Function(f), .. }] = select.projection.as_slice()
    else {
        return None;
    };
    let function = object_name(&f.name);
    if function != "set_config" && function != "pg_catalog.set_config" {
        return None;
    }
    let ast::FunctionArguments::List(list) = &f.args else { return None };
    let text = |i: usize| match list.args.get(i) {
        Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(Expr::Value(v)))) => match &v.value {
            ast::Value::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    };
    let is_local = matches!(
        list.args.get(2),
        Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(Expr::Value(v))))
            if matches!(v.value, ast::Value::Boolean(_))
    );
    (list.args.len() == 3 && is_local).then_some((text(0)?.to_lowercase(), text(1)?))
}

fn plan_set(set: &ast::Set) -> Result<Plan, PlanError> {
    match set {
        ast::Set::SingleAssignment { variable, values, scope, .. } => {
            let name = object_name(variable);
            let value = values.iter().map(set_value).collect::<Vec<_>>().join(", ");
            let local = matches!(scope, Some(ast::ContextModifier::Local));
            let value = if value.eq_ignore_ascii_case("default") { None } else { Some(value) };
            Ok(Plan::SetVariable { name, value, local })
        }
        ast::Set::SetTimeZone { value, local } => {
            Ok(Plan::SetVariable { name: "timezone".into(), value: Some(set_value(value)), local: *local })
        }
        ast::Set::SetNames { charset_name, .. } => Ok(Plan::SetVariable {
            name: "client_encoding".into(),
            value: Some(charset_name.to_string()),
            local: false,
        }),
        ast::Set::SetTransaction { .. } => Ok(Plan::NoOp { tag: "SET".into() }),
        other => Err(PlanError::Unsupported(format!("{other}"))),
    }
}

fn set_value(e: &Expr) -> String {
    match e {
        Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    }
}

fn plan_show(qcx: &QueryCtx, variable: &[ast::Ident]) -> Result<Plan, PlanError> {
    let words: Vec<String> = variable.iter().map(|i| i.value.to_lowercase()).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    Ok(Plan::Show(match words.as_slice() {
        ["tables"] => ShowKind::Tables,
        ["indexes"] => ShowKind::Indexes,
        ["views"] => ShowKind::Views,
        ["materialized", "views"] => ShowKind::MaterializedViews,
        ["sources"] => ShowKind::Sources,
        ["all"] => ShowKind::AllVariables,
        ["columns", "from" | "in", name] => ShowKind::Columns(resolve(qcx, name)?.id),
        ["create", _, name] | ["create", "materialized", "view", name] => {
            ShowKind::CreateObject(resolve(qcx, name)?.id)
        }
        [name] => ShowKind::Variable(name.to_string()),
        ["transaction", "isolation", "level"] => ShowKind::Variable("transaction_isolation".into()),
        ["time", "zone"] => ShowKind::Variable("timezone".into()),
        _ => return Err(PlanError::Unsupported(format!("SHOW {}", words.join(" ")))),
    }))
}
