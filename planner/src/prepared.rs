//! SQL-level `PREPARE name [(types)] AS statement`, `EXECUTE name (args)` and
//! `DEALLOCATE [PREPARE] name | ALL`: statements kept by name in the session (the wire
//! protocol's own prepared statements are pgwire's).

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use sqlparser::ast::{self, DataType, Expr, Statement, Value};

use crate::expr::normalize_ident;
use crate::PlanError;

/// A statement kept by `PREPARE`, with the declared types of its parameters.
#[derive(Clone, Debug)]
pub struct PreparedStatement {
    statement: Statement,
    types: Vec<DataType>,
}

/// What a PREPARE, EXECUTE or DEALLOCATE comes to.
pub enum Outcome {
    /// Done; the command tag to send.
    Done(&'static str),
    /// The prepared statement with its arguments in place, to run as if sent directly.
    Run(Box<Statement>),
}

/// Handles `stmt` if it is PREPARE, EXECUTE or DEALLOCATE.
pub fn handle(
    prepared: &mut BTreeMap<String, PreparedStatement>,
    stmt: &Statement,
) -> Option<Result<Outcome, PlanError>> {
    Some(match stmt {
        Statement::Prepare { name, data_types, statement } => {
            let name = normalize_ident(name);
            if prepared.contains_key(&name) {
                return Some(Err(PlanError::DuplicatePrepared(name)));
            }
            let kept = PreparedStatement { statement: (**statement).clone(), types: data_types.clone() };
            prepared.insert(name, kept);
            Ok(Outcome::Done("PREPARE"))
        }
        Statement::Execute { name: Some(name), parameters, immediate: false, using, .. } if using.is_empty() => {
            let name = name.to_string().to_lowercase();
            match prepared.get(&name) {
                Some(kept) => bind(&name, kept, parameters).map(|s| Outcome::Run(Box::new(s))),
                None => Err(PlanError::UnknownPrepared(name)),
            }
        }
        Statement::Deallocate { name, .. } => {
            let name = normalize_ident(name);
            // A name not kept here may be a wire-protocol statement (pgwire keeps those,
            // and some drivers DEALLOCATE them with SQL): not an error.
            if name == "all" {
                prepared.clear();
            } else {
                prepared.remove(&name);
            }
            Ok(Outcome::Done("DEALLOCATE"))
        }
        _ => return None,
    })
}

/// The kept statement with `$n` replaced by the `n`th argument (cast to its declared type).
fn bind(name: &str, kept: &PreparedStatement, args: &[Expr]) -> Result<Statement, PlanError> {
    let wanted = kept.types.len().max(highest_parameter(&kept.statement));
    if args.len() != wanted {
        // PostgreSQL's message; its detail says "Expected {wanted} parameters but got {n}."
        return Err(PlanError::Cardinality(format!("wrong number of parameters for prepared statement \"{name}\"")));
    }
    let mut statement = kept.statement.clone();
    let _ = ast::visit_expressions_mut(&mut statement, |e| {
        if let Some(n) = parameter_number(e) {
            let arg = Box::new(Expr::Nested(Box::new(args[n - 1].clone())));
            *e = match kept.types.get(n - 1) {
                Some(ty) => Expr::Cast { kind: ast::CastKind::Cast, expr: arg, data_type: ty.clone(), format: None },
                None => *arg,
            };
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(statement)
}

/// `n` for the placeholder `$n`.
fn parameter_number(e: &Expr) -> Option<usize> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Placeholder(p) => p.strip_prefix('$')?.parse().ok().filter(|&n| n > 0),
            _ => None,
        },
        _ => None,
    }
}

fn highest_parameter(statement: &Statement) -> usize {
    let mut highest = 0;
    let _ = ast::visit_expressions(statement, |e| {
        highest = highest.max(parameter_number(e).unwrap_or(0));
        ControlFlow::<()>::Continue(())
    });
    highest
}
