//! Data-modifying statements in WITH (`WITH gone AS (DELETE ... RETURNING *) SELECT ...`).
//! The server runs each of them first, in order, as a statement of its own that sees the
//! WITH queries before it, then plans the whole statement with each one's RETURNING rows
//! in its place ([`WrittenCte`]). Planned without those rows (describing a prepared
//! statement, EXPLAIN), such a WITH query is empty, with its RETURNING columns.

use eddy_expr::RelationExpr;
use eddy_repr::{RelationDesc, Row};
use sqlparser::ast::{self, Query, SetExpr};

use crate::query::{apply_alias, NowContext, Planned, QueryCtx};
use crate::scope::Scope;
use crate::{normalize_ident, Plan, PlanError};

/// What a data-modifying WITH query returned, for the statement around it to read.
#[derive(Clone, Debug)]
pub struct WrittenCte {
    pub name: String,
    pub desc: RelationDesc,
    pub rows: Vec<Row>,
}

/// The INSERT, UPDATE or DELETE a WITH query (or a statement's body) is, if it is one.
pub(crate) fn modifying_statement(query: &Query) -> Option<&ast::Statement> {
    match query.body.as_ref() {
        SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) => Some(s),
        _ => None,
    }
}

/// The data-modifying WITH queries at the top of `stmt`, in order, each as the statement
/// to run for it: its INSERT, UPDATE or DELETE under the WITH queries before it.
pub fn data_modifying_ctes(stmt: &crate::Statement) -> Vec<(String, crate::Statement)> {
    let crate::Statement::Sql(sql) = stmt else { return vec![] };
    let ast::Statement::Query(query) = sql.as_ref() else { return vec![] };
    let Some(with) = &query.with else { return vec![] };
    let mut out = Vec::new();
    for (i, cte) in with.cte_tables.iter().enumerate() {
        if modifying_statement(&cte.query).is_none() {
            continue;
        }
        // The WITH query itself, under the ones before it (and its own, if any).
        let mut statement = (*cte.query).clone();
        let mut visible = with.cte_tables[..i].to_vec();
        visible.extend(statement.with.take().into_iter().flat_map(|own| own.cte_tables));
        statement.with = Some(ast::With { cte_tables: visible, ..with.clone() });
        out.push((
            normalize_ident(&cte.alias.name),
            crate::Statement::Sql(Box::new(ast::Statement::Query(Box::new(statement)))),
        ));
    }
    out
}

/// The WITH query `cte`, which runs `statement`: the rows it returned when the server ran
/// it, else none (with the columns of its RETURNING clause).
pub(crate) fn plan_written_cte(
    qcx: &QueryCtx,
    cte: &ast::Cte,
    statement: &ast::Statement,
    top_level: bool,
) -> Result<Planned, PlanError> {
    if qcx.now != NowContext::Statement {
        return Err(PlanError::NotAllowed("views must not contain data-modifying statements in WITH".into()));
    }
    if !top_level {
        return Err(PlanError::NotAllowed(
            "WITH clause containing a data-modifying statement must be at the top level".into(),
        ));
    }
    let name = normalize_ident(&cte.alias.name);
    let (desc, rows) = match qcx.stmt.written_ctes.iter().find(|w| w.name == name) {
        Some(written) => (written.desc.clone(), written.rows.clone()),
        None => {
            let returning = match crate::statement::plan_statement(qcx, statement)? {
                Plan::Insert { returning, .. } | Plan::Update { returning, .. } | Plan::Delete { returning, .. } => {
                    returning
                }
                _ => None,
            };
            (returning.map_or_else(|| RelationDesc::new(vec![]), |q| q.desc), vec![])
        }
    };
    let planned = Planned { expr: RelationExpr::constant(rows, desc.arity()), scope: Scope::from_desc(None, &desc) };
    apply_alias(planned, Some(&cte.alias), None)
}
