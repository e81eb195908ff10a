//! `ALTER TABLE`: the table's new columns, defaults and name, and how each new row is
//! made from an old one. The coordinator applies it (in place, or by rebuilding the table
//! when rows change).

use eddy_expr::func::CastContext;
use eddy_expr::{RelationExpr, ScalarExpr};
use eddy_repr::{ColumnType, Datum, RelationDesc};
use sqlparser::ast::{self, AlterColumnOperation, AlterTableOperation};

use crate::expr::{coerce, normalize_ident, object_name, plan_expr, AggMode};
use crate::query::QueryCtx;
use crate::scope::Scope;
use crate::statement::{check_default, is_numbering, key_columns, plan_check, plan_column, strip_public, CheckSpec};
use crate::{CheckConstraint, ItemKind, Plan, PlanError, UniqueKey};

/// One column of the table being altered.
struct Column {
    name: String,
    ty: ColumnType,
    default: Option<String>,
    /// The old column it continues, if any (None: added by this statement).
    kept: Option<usize>,
    /// Its value in the new row, over the old row's columns.
    value: ScalarExpr,
}

pub(crate) fn plan_alter_table(qcx: &QueryCtx, alter: &ast::AlterTable) -> Result<Plan, PlanError> {
    let Some(item) = crate::statement::resolve_relation(qcx, &object_name(&alter.name)) else {
        let name = strip_public(object_name(&alter.name));
        return match alter.if_exists {
            true => Ok(Plan::Skipped {
                tag: "ALTER TABLE".into(),
                notice: format!("relation \"{name}\" does not exist, skipping"),
            }),
            false => Err(PlanError::UnknownRelation(name)),
        };
    };
    let name = item.name.clone();
    // Eddy has no roles yet: every user may do everything, and no object has an owner to
    // change (pg_dump's scripts say `ALTER TABLE t OWNER TO u` for tables and views alike).
    if alter.operations.iter().all(|op| matches!(op, AlterTableOperation::OwnerTo { .. })) {
        return Ok(Plan::NoOp { tag: "ALTER TABLE".into() });
    }
    if item.kind != ItemKind::Table {
        return Err(PlanError::WrongObjectType(format!("\"{name}\" is not a table")));
    }
    // Foreign keys change no rows: they are added on their own (pg_dump writes one per
    // statement).
    let foreign_keys: Vec<&ast::ForeignKeyConstraint> = (alter.operations.iter())
        .filter_map(|op| match op {
            AlterTableOperation::AddConstraint { constraint: ast::TableConstraint::ForeignKey(fk), .. } => Some(fk),
            _ => None,
        })
        .collect();
    if !foreign_keys.is_empty() {
        if foreign_keys.len() != alter.operations.len() {
            return Err(PlanError::Unsupported(
                "ADD FOREIGN KEY together with other changes in one ALTER TABLE (write them separately)".into(),
            ));
        }
        let foreign_keys = foreign_keys
            .into_iter()
            .map(|fk| crate::statement::foreign_key_spec(fk, None))
            .collect::<Result<_, _>>()?;
        return Ok(Plan::AddForeignKeys { table: item.id, foreign_keys });
    }
    let old_scope = Scope::from_desc(Some(&name), &item.desc);
    let mut columns: Vec<Column> = (item.desc.columns().iter().enumerate())
        .map(|(i, (n, ty))| Column {
            name: n.clone(),
            ty: ty.clone(),
            default: item.defaults.get(i).cloned().flatten(),
            kept: Some(i),
            value: ScalarExpr::Column(i),
        })
        .collect();
    let mut new_name = name.clone();
    // (constraint name if given, column names, primary?)
    let mut key_specs: Vec<(Option<String>, Vec<String>, bool)> = Vec::new();
    let mut check_specs: Vec<CheckSpec> = Vec::new();
    let mut drop_constraints = Vec::new();
    let position = |columns: &[Column], ident: &ast::Ident| {
        let wanted = normalize_ident(ident);
        columns
            .iter()
            .position(|c| c.name == wanted)
            .ok_or_else(|| PlanError::UnknownColumn(format!("{wanted}\" of relation \"{name}")))
    };
    for op in &alter.operations {
        match op {
            AlterTableOperation::AddColumn { if_not_exists, column_def, .. } => {
                let column = plan_column(qcx, &name, column_def)?;
                if !column.foreign_keys.is_empty() {
                    return Err(PlanError::Unsupported(
                        "ADD COLUMN ... REFERENCES (add the column, then ADD FOREIGN KEY)".into(),
                    ));
                }
                if columns.iter().any(|c| c.name == column.name) {
                    if *if_not_exists {
                        continue;
                    }
                    return Err(PlanError::ColumnExists { column: column.name, table: name.clone() });
                }
                if !column.checks.is_empty() {
                    return Err(PlanError::Unsupported("CHECK in ALTER TABLE ... ADD COLUMN".into()));
                }
                if !column.keys.is_empty() {
                    return Err(PlanError::Unsupported("PRIMARY KEY or UNIQUE in ALTER TABLE ... ADD COLUMN".into()));
                }
                let value = match &column.default {
                    Some(sql) if is_numbering(sql) => {
                        return Err(PlanError::Unsupported("adding a serial or identity column".into()))
                    }
                    Some(sql) => default_value(qcx, sql, &column.ty)?,
                    None => ScalarExpr::Literal(Datum::Null, column.ty.scalar_type.clone()),
                };
                columns.push(Column { name: column.name, ty: column.ty, default: column.default, kept: None, value });
            }
            AlterTableOperation::DropColumn { column_names, if_exists, .. } => {
                for ident in column_names {
                    match position(&columns, ident) {
                        Ok(i) => {
                            columns.remove(i);
                        }
                        Err(_) if *if_exists => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            AlterTableOperation::RenameColumn { old_column_name, new_column_name } => {
                let i = position(&columns, old_column_name)?;
                let to = normalize_ident(new_column_name);
                if columns.iter().any(|c| c.name == to) {
                    return Err(PlanError::ColumnExists { column: to, table: name.clone() });
                }
                columns[i].name = to;
            }
            AlterTableOperation::RenameTable { table_name } => {
                let to = match table_name {
                    ast::RenameTableNameKind::To(n) | ast::RenameTableNameKind::As(n) => n,
                };
                // A table stays in its schema (`RENAME TO` takes a bare name).
                new_name = match name.split_once('.') {
                    Some((schema, _)) => format!("{schema}.{}", object_name(to)),
                    None => strip_public(object_name(to)),
                };
                crate::statement::check_schema(qcx, &new_name)?;
            }
            AlterTableOperation::AlterColumn { column_name, op } => {
                let i = position(&columns, column_name)?;
                let column = &mut columns[i];
                match op {
                    AlterColumnOperation::SetNotNull => column.ty.nullable = false,
                    AlterColumnOperation::DropNotNull => column.ty.nullable = true,
                    AlterColumnOperation::DropDefault => column.default = None,
                    AlterColumnOperation::SetDefault { value } => {
                        check_default(qcx, &column.name, value, &column.ty.scalar_type)?;
                        column.default = Some(crate::sequence::numbering_default(&value.to_string()));
                    }
                    AlterColumnOperation::SetDataType { data_type, using, .. } => {
                        let ty = crate::types::parse_type_name(&data_type.to_string())?;
                        let ctx = qcx.expr_ctx(&old_scope, AggMode::Forbidden("transform expressions"));
                        let (from, context) = match using {
                            Some(e) => (plan_expr(&ctx, e)?, CastContext::Explicit),
                            None => {
                                (plan_expr(&ctx, &ast::Expr::Identifier(column_name.clone()))?, CastContext::Assignment)
                            }
                        };
                        column.value = coerce(&ctx, from, &ty, context).map_err(|_| {
                            PlanError::TypeMismatch(format!(
                                "column \"{}\" cannot be cast automatically to type {ty}",
                                column.name
                            ))
                        })?;
                        column.ty = ColumnType::new(ty, column.ty.nullable);
                        // A default written for the old type must still fit the new one.
                        if let Some(sql) = column.default.clone().filter(|sql| !is_numbering(sql)) {
                            default_value(qcx, &sql, &column.ty)?;
                        }
                    }
                    other => return Err(PlanError::Unsupported(format!("ALTER COLUMN ... {other}"))),
                }
            }
            AlterTableOperation::AddConstraint { constraint, not_valid: false } => match constraint {
                ast::TableConstraint::Check(c) => {
                    check_specs.push(CheckSpec { given: c.name.as_ref().map(normalize_ident), expr: *c.expr.clone() })
                }
                ast::TableConstraint::PrimaryKey(c) => {
                    key_specs.push((c.name.as_ref().map(normalize_ident), key_columns(&c.columns)?, true))
                }
                ast::TableConstraint::Unique(c) => {
                    key_specs.push((c.name.as_ref().map(normalize_ident), key_columns(&c.columns)?, false))
                }
                other => return Err(PlanError::Unsupported(format!("ALTER TABLE ... ADD {other}"))),
            },
            AlterTableOperation::DropConstraint { if_exists, name, .. } => {
                drop_constraints.push((normalize_ident(name), *if_exists))
            }
            AlterTableOperation::OwnerTo { .. } => {}
            other => return Err(PlanError::Unsupported(format!("ALTER TABLE ... {other}"))),
        }
    }
    let mut add_keys = Vec::new();
    for (given, names, primary) in key_specs {
        let mut indexes = Vec::new();
        for n in &names {
            let i = columns
                .iter()
                .position(|c| c.name == *n)
                .ok_or_else(|| PlanError::UnknownColumn(format!("{n}\" of relation \"{name}")))?;
            // A primary key's columns become NOT NULL (the coordinator checks the rows).
            columns[i].ty.nullable &= !primary;
            indexes.push(i);
        }
        let short = new_name.rsplit('.').next().unwrap_or(&new_name);
        let default_name = if primary { format!("{short}_pkey") } else { format!("{short}_{}_key", names.join("_")) };
        add_keys.push(UniqueKey { name: given.unwrap_or(default_name), columns: indexes, primary });
    }
    if columns.is_empty() {
        return Err(PlanError::Unsupported("a table without columns".into()));
    }
    // Rows change unless every column is an old one, unchanged, in its old place.
    let arity = item.desc.arity();
    let same_rows = columns.len() == arity && columns.iter().enumerate().all(|(i, c)| c.value == ScalarExpr::Column(i));
    let rows = (!same_rows).then(|| {
        let values: Vec<ScalarExpr> = columns.iter().map(|c| c.value.clone()).collect();
        let n = values.len();
        RelationExpr::get(item.id, item.name.clone(), arity).map(values).project((arity..arity + n).collect())
    });
    let defaults: Vec<Option<String>> = columns.iter().map(|c| c.default.clone()).collect();
    let desc = RelationDesc::new(columns.iter().map(|c| (c.name.clone(), c.ty.clone())).collect());
    let mut add_checks: Vec<CheckConstraint> = Vec::new();
    for spec in check_specs {
        let check = plan_check(qcx, &new_name, &desc, spec, &add_checks)?;
        add_checks.push(check);
    }
    Ok(Plan::AlterTable {
        table: item.id,
        name: new_name,
        desc,
        defaults: if defaults.iter().all(Option::is_none) { vec![] } else { defaults },
        kept: columns.iter().map(|c| c.kept).collect(),
        rows,
        add_keys,
        add_checks,
        drop_constraints,
    })
}

/// The value a DEFAULT gives existing rows (PostgreSQL fills an added column with it).
fn default_value(qcx: &QueryCtx, sql: &str, ty: &ColumnType) -> Result<ScalarExpr, PlanError> {
    let e = crate::parse_rewritten_expr(sql)?;
    let scope = Scope::default();
    let ctx = qcx.expr_ctx(&scope, AggMode::Forbidden("DEFAULT expressions"));
    coerce(&ctx, plan_expr(&ctx, &e)?, &ty.scalar_type, CastContext::Assignment)
}
