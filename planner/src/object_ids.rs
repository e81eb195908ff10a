//! Casts to PostgreSQL's object-identifier types, as psql and BI tools write them in their
//! catalog queries: `'orders'::regclass` (a name to its oid), `c.oid::regclass` (an oid to
//! its name), `c.reloftype::regtype`, `n::regnamespace`. Eddy has no such types: before
//! planning, a cast of a string literal becomes the oid it names, and a cast of anything
//! else becomes the name, looked up in this statement's snapshot of the catalog tables.
//! `pg_get_viewdef(view)` is answered from the same snapshot.

use std::ops::ControlFlow;

use eddy_expr::RelationExpr;
use eddy_repr::Datum;
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Statement, Visit, VisitMut, Visitor, VisitorMut,
};

use crate::types::parse_type_name;
use crate::{Catalog, PlanError};

#[derive(Clone, Copy, PartialEq, Debug)]
enum ObjectIdType {
    Class,
    Type,
    Namespace,
}

fn object_id_type(expr: &Expr) -> Option<ObjectIdType> {
    let Expr::Cast { data_type, .. } = expr else { return None };
    let name = data_type.to_string().to_lowercase();
    match name.strip_prefix("pg_catalog.").unwrap_or(&name) {
        "regclass" => Some(ObjectIdType::Class),
        "regtype" => Some(ObjectIdType::Type),
        "regnamespace" => Some(ObjectIdType::Namespace),
        _ => None,
    }
}

/// `stmt` with its object-identifier casts replaced, or `None` when it has none.
pub fn rewrite(stmt: &Statement, catalog: &dyn Catalog) -> Result<Option<Statement>, PlanError> {
    struct Finder;
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if object_id_type(e).is_some() || view_definition_argument(e).is_some() || serial_sequence_call(e).is_some()
            {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    }
    if stmt.visit(&mut Finder).is_continue() {
        return Ok(None);
    }
    let unwrapped = sequence_names_unwrapped(stmt);
    let stmt = unwrapped.as_ref().unwrap_or(stmt);
    if stmt.visit(&mut Finder).is_continue() {
        return Ok(unwrapped);
    }
    let mut stmt = stmt.clone();
    let mut rewriter = Rewriter { catalog };
    match VisitMut::visit(&mut stmt, &mut rewriter) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(Some(stmt)),
    }
}

/// `nextval('s'::regclass)` (how serial columns' defaults and pg_dump write it) with the
/// cast dropped: sequence functions take the name, which they look up when they run.
fn sequence_names_unwrapped(stmt: &Statement) -> Option<Statement> {
    /// The cast argument of a `nextval`/`currval`/`setval` call.
    fn name_cast(e: &Expr) -> Option<&Expr> {
        let Expr::Function(f) = e else { return None };
        let name = f.name.to_string().to_lowercase();
        if !matches!(name.strip_prefix("pg_catalog.").unwrap_or(&name), "nextval" | "currval" | "setval") {
            return None;
        }
        let FunctionArguments::List(list) = &f.args else { return None };
        match list.args.first()? {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(cast @ Expr::Cast { .. }))
                if object_id_type(cast) == Some(ObjectIdType::Class) =>
            {
                Some(cast)
            }
            _ => None,
        }
    }
    struct Finder;
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if name_cast(e).is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    }
    struct Unwrap;
    impl VisitorMut for Unwrap {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if let Some(Expr::Cast { expr, .. }) = name_cast(e).cloned() {
                if let Expr::Function(f) = e {
                    if let FunctionArguments::List(list) = &mut f.args {
                        list.args[0] = FunctionArg::Unnamed(FunctionArgExpr::Expr(*expr));
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    if stmt.visit(&mut Finder).is_continue() {
        return None;
    }
    let mut stmt = stmt.clone();
    let _ = VisitMut::visit(&mut stmt, &mut Unwrap);
    Some(stmt)
}

struct Rewriter<'a> {
    catalog: &'a dyn Catalog,
}

impl VisitorMut for Rewriter<'_> {
    type Break = PlanError;

    fn pre_visit_query(&mut self, q: &mut sqlparser::ast::Query) -> ControlFlow<PlanError> {
        crate::array_subquery::keep_column_names(q, |e| {
            object_id_type(e).is_some() || serial_sequence_call(e).is_some()
        });
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<PlanError> {
        if let Some((table, column)) = serial_sequence_call(e) {
            return match self.serial_sequence(&table, &column) {
                Ok(new) => {
                    *e = new;
                    ControlFlow::Continue(())
                }
                Err(err) => ControlFlow::Break(err),
            };
        }
        if let Some(view) = view_definition_argument(e) {
            return match self.view_definition(&view) {
                Ok(new) => {
                    *e = new;
                    ControlFlow::Continue(())
                }
                Err(err) => ControlFlow::Break(err),
            };
        }
        let Some(kind) = object_id_type(e) else { return ControlFlow::Continue(()) };
        let Expr::Cast { expr: inner, .. } = e else { return ControlFlow::Continue(()) };
        match self.replacement(kind, inner) {
            Ok(new) => {
                *e = new;
                ControlFlow::Continue(())
            }
            Err(err) => ControlFlow::Break(err),
        }
    }
}

/// The names in `pg_get_serial_sequence('table', 'column')`, when both are constants.
fn serial_sequence_call(e: &Expr) -> Option<(String, String)> {
    let Expr::Function(f) = e else { return None };
    let name = f.name.to_string().to_lowercase();
    if name.strip_prefix("pg_catalog.").unwrap_or(&name) != "pg_get_serial_sequence" {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else { return None };
    let literal = |arg: &FunctionArg| match arg {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v))) => v.value.clone().into_string(),
        _ => None,
    };
    match list.args.as_slice() {
        [table, column] => Some((literal(table)?, literal(column)?)),
        _ => None,
    }
}

/// The view argument of a `pg_get_viewdef(view [, pretty])` call.
fn view_definition_argument(e: &Expr) -> Option<Expr> {
    let Expr::Function(f) = e else { return None };
    let name = f.name.to_string().to_lowercase();
    if name.strip_prefix("pg_catalog.").unwrap_or(&name) != "pg_get_viewdef" {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else { return None };
    match list.args.first() {
        Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))) => Some(arg.clone()),
        _ => None,
    }
}

impl Rewriter<'_> {
    /// `pg_get_serial_sequence('table', 'column')`: the schema-qualified name of the
    /// sequence a serial or identity column draws from, NULL for other columns.
    fn serial_sequence(&self, table: &str, column: &str) -> Result<Expr, PlanError> {
        let table = crate::sequence::catalog_name(table);
        let item = self.catalog.resolve(&table).ok_or_else(|| PlanError::UnknownRelation(table.clone()))?;
        let position = item.desc.columns().iter().position(|(n, _)| n == column);
        let position =
            position.ok_or_else(|| PlanError::UnknownColumn(format!("{column}\" of relation \"{}", item.name)))?;
        let sequence = item.defaults.get(position).cloned().flatten().filter(|d| crate::is_numbering(d)).map(|d| {
            let short = item.name.rsplit('.').next().unwrap_or(&item.name).to_string();
            crate::sequence::default_sequence(&d).unwrap_or_else(|| format!("{short}_{column}_seq"))
        });
        Ok(match sequence {
            Some(s) if s.contains('.') => parse_expr(&format!("'{}'", s.replace('\'', "''")))?,
            Some(s) => parse_expr(&format!("'public.{}'", crate::quote_ident(&s).replace('\'', "''")))?,
            None => parse_expr("NULL::text")?,
        })
    }

    /// `pg_get_viewdef(view)`: the view's query, looked up by oid (or by name, for a
    /// string), NULL for anything that is not a view.
    fn view_definition(&self, view: &Expr) -> Result<Expr, PlanError> {
        let definitions: Vec<(String, String)> = [("pg_views", 3), ("pg_matviews", 6)]
            .into_iter()
            .flat_map(|(table, column)| {
                self.rows(table).into_iter().filter_map(move |row| match (row.get(1), row.get(column)) {
                    (Some(Datum::Text(name)), Some(Datum::Text(definition))) => {
                        Some((name.clone(), definition.clone()))
                    }
                    _ => None,
                })
            })
            .collect();
        let by_name = string_literal(view).filter(|s| !s.bytes().all(|b| b.is_ascii_digit()));
        if let Some(name) = by_name {
            let wanted = identifier(&name);
            let found = definitions.iter().find(|(n, _)| *n == wanted).map(|(_, d)| quote(d));
            return parse_expr(&found.unwrap_or_else(|| "CAST(NULL AS text)".into()));
        }
        let oids = self.oids_and_names("pg_class");
        let arms = definitions.iter().filter_map(|(name, definition)| {
            let oid = oids.iter().find(|(_, n)| n == name)?.0;
            Some((oid.to_string(), quote(definition)))
        });
        case_expr(&format!("CAST(({view}) AS bigint)"), arms, "CAST(NULL AS text)")
    }

    fn rows(&self, table: &str) -> Vec<eddy_repr::Row> {
        match self.catalog.resolve(table).and_then(|t| t.view_expr) {
            Some(RelationExpr::Constant { rows, .. }) => rows.into_iter().map(|(r, _)| r).collect(),
            _ => vec![],
        }
    }

    fn replacement(&self, kind: ObjectIdType, inner: &Expr) -> Result<Expr, PlanError> {
        if let Some(name) = string_literal(inner) {
            let oid = if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
                name.parse::<i64>().map_err(|_| PlanError::Syntax(format!("invalid oid \"{name}\"")))?
            } else {
                self.oid_of(kind, &name)?
            };
            return parse_expr(&oid.to_string());
        }
        let names_a_relation = is_text_valued(inner);
        let inner = inner.to_string();
        match kind {
            ObjectIdType::Type => parse_expr(&format!("pg_catalog.format_type(({inner}), NULL)")),
            ObjectIdType::Class if names_a_relation => self.oid_lookup(&inner, "pg_class"),
            ObjectIdType::Class => self.name_lookup(&inner, "pg_class"),
            ObjectIdType::Namespace => self.name_lookup(&inner, "pg_namespace"),
        }
    }

    /// The oid `name` stands for, as PostgreSQL's `regclass_in` and friends find it.
    fn oid_of(&self, kind: ObjectIdType, name: &str) -> Result<i64, PlanError> {
        let (table, missing): (&str, fn(String) -> PlanError) = match kind {
            ObjectIdType::Type => {
                return Ok(i64::from(parse_type_name(name)?.oid()));
            }
            ObjectIdType::Class => ("pg_class", PlanError::UnknownRelation),
            ObjectIdType::Namespace => ("pg_namespace", PlanError::UnknownSchema),
        };
        let wanted = identifier(name);
        let found = self.oids_and_names(table).into_iter().find(|(_, n)| *n == wanted).map(|(oid, _)| oid);
        match found {
            Some(oid) => Ok(oid),
            // A catalog table (`'pg_catalog.pg_extension'::regclass`, as psql writes to
            // find descriptions): it has no row in pg_class, and nothing refers to it.
            None if kind == ObjectIdType::Class && self.catalog.resolve(&wanted).is_some() => Ok(0),
            None => Err(missing(name.to_string())),
        }
    }

    /// `CASE inner::text WHEN 'name' THEN oid ... END` over `table`'s rows: a name read
    /// at run time (NULL for none, where PostgreSQL would fail).
    fn oid_lookup(&self, inner: &str, table: &str) -> Result<Expr, PlanError> {
        let arms = self.oids_and_names(table).into_iter().map(|(oid, name)| (quote(&name), oid.to_string()));
        case_expr(&format!("CAST(({inner}) AS text)"), arms, "CAST(NULL AS bigint)")
    }

    /// `CASE inner WHEN oid THEN 'name' ... ELSE inner::text END` over `table`'s rows.
    fn name_lookup(&self, inner: &str, table: &str) -> Result<Expr, PlanError> {
        let arms = self.oids_and_names(table).into_iter().map(|(oid, name)| (oid.to_string(), quote(&name)));
        case_expr(&format!("({inner})"), arms, &format!("CAST(({inner}) AS text)"))
    }

    /// `(oid, name)` of each row of the catalog table `table` (its first two columns).
    fn oids_and_names(&self, table: &str) -> Vec<(i64, String)> {
        self.rows(table)
            .iter()
            .filter_map(|row| match (row.first(), row.get(1)) {
                (Some(Datum::Int64(oid)), Some(Datum::Text(name))) => Some((*oid, name.clone())),
                _ => None,
            })
            .collect()
    }
}

/// Whether `e` is written to give text (a function call, a cast to text, a
/// concatenation), so that `e::regclass` reads a relation name rather than an oid. The
/// planner types expressions later; this is decided on their shape.
fn is_text_valued(e: &Expr) -> bool {
    match e {
        Expr::Nested(inner) => is_text_valued(inner),
        Expr::Function(_) => true,
        Expr::Cast { data_type, .. } => {
            matches!(data_type.to_string().to_lowercase().as_str(), "text" | "varchar" | "name" | "pg_catalog.text")
        }
        Expr::BinaryOp { op: sqlparser::ast::BinaryOperator::StringConcat, .. } => true,
        _ => false,
    }
}

fn string_literal(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => crate::expr::string_value(&v.value),
        Expr::Nested(inner) => string_literal(inner),
        _ => None,
    }
}

/// `text` as a SQL string literal.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `CASE subject WHEN a THEN b ... ELSE otherwise END` from SQL text, or just `otherwise`
/// without arms.
fn case_expr(subject: &str, arms: impl Iterator<Item = (String, String)>, otherwise: &str) -> Result<Expr, PlanError> {
    let arms: String = arms.map(|(when, then)| format!(" WHEN {when} THEN {then}")).collect();
    if arms.is_empty() {
        return parse_expr(otherwise);
    }
    parse_expr(&format!("CASE {subject}{arms} ELSE {otherwise} END"))
}

/// A name as `regclass_in` reads it: a schema prefix dropped, folded to lower case
/// unless double-quoted.
fn identifier(name: &str) -> String {
    let name = name.trim();
    let last = match name.rfind(".\"") {
        Some(dot) => &name[dot + 1..],
        None if name.starts_with('"') => name,
        None => name.rsplit('.').next().unwrap_or(name),
    };
    match last.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => last.to_lowercase(),
    }
}

fn parse_expr(sql: &str) -> Result<Expr, PlanError> {
    crate::parse_rewritten_expr(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_as_regclass_reads_them() {
        assert_eq!(identifier("Orders"), "orders");
        assert_eq!(identifier("public.orders"), "orders");
        assert_eq!(identifier("\"MixedCase\""), "MixedCase");
        assert_eq!(identifier("public.\"a.b\""), "a.b");
    }
}
