//! `CREATE OR REPLACE VIEW` of a plain view that other views read. Eddy inlines plain
//! views into their readers when it plans them, so replacing one re-plans every reader
//! from its CREATE statement (and rebuilds the dataflows of materialized ones), as
//! PostgreSQL's readers see the new definition at once.

use eddy_expr::RelationExpr;
use eddy_planner::{ItemKind, Plan, RefreshMode, StatementContext};
use eddy_repr::{GlobalId, RelationDesc};

use crate::coordinator::{CatalogEntry, Coordinator};
use crate::error::AdapterError;

/// What `CREATE OR REPLACE VIEW` brings: the view's new shape and definition.
pub(crate) struct Replacement {
    pub desc: RelationDesc,
    pub expr: RelationExpr,
    pub create_sql: String,
    pub depends_on: Vec<GlobalId>,
}

impl Coordinator {
    /// Replaces plain view `id`, keeping its id, and re-plans `readers` (every object that
    /// reads it, directly or not) in creation order. As in PostgreSQL the new view must
    /// keep the old columns (same names and types, in order; it may add some at the
    /// end). If a reader would change shape (`SELECT *`), nothing changes.
    pub(crate) fn replace_read_view(
        &mut self,
        id: GlobalId,
        new: Replacement,
        readers: &[GlobalId],
    ) -> Result<(), AdapterError> {
        let old = self.entry(id)?.clone();
        if old.item.kind != ItemKind::View {
            return Err(AdapterError::WrongObjectType(
                format!("\"{}\" is not a view", old.item.name),
                "CREATE OR REPLACE VIEW replaces plain views only.".into(),
            ));
        }
        check_columns_kept(&old.item.desc, &new.desc)?;
        let mut saved: Vec<(GlobalId, CatalogEntry)> = vec![(id, old)];
        if let Some(e) = self.entry_mut(id) {
            e.item.desc = new.desc;
            e.item.view_expr = Some(new.expr);
            e.create_sql = new.create_sql;
            e.depends_on = new.depends_on;
        }
        let mut readers = readers.to_vec();
        readers.sort();
        for &reader in &readers {
            let before = self.entry(reader)?.clone();
            match self.replan(&before) {
                Ok(expr) => {
                    saved.push((reader, before));
                    if let Some(e) = self.entry_mut(reader) {
                        match e.item.kind {
                            ItemKind::View => e.item.view_expr = Some(expr),
                            _ => e.definition = Some(expr),
                        }
                    }
                }
                Err(e) => {
                    // Put back what was changed: the replacement does not happen.
                    for (id, entry) in saved {
                        if let Some(slot) = self.entry_mut(id) {
                            *slot = entry;
                        }
                    }
                    return Err(e);
                }
            }
        }
        // Incremental materialized readers get new dataflows (their readers and indexes
        // with them); FULL ones recompute now.
        let mut rebuild = Vec::new();
        for &reader in &readers {
            let Some(e) = self.entries().get(&reader) else { continue };
            match (e.item.kind, e.target.map(|t| t.mode)) {
                (ItemKind::MaterializedView, Some(RefreshMode::Full)) => self.refresh_full(reader)?,
                (ItemKind::MaterializedView, _) => rebuild.push(reader),
                _ => {}
            }
        }
        self.settle_schedules(&rebuild, None);
        Ok(())
    }

    /// `entry`'s definition planned again from its CREATE statement, which must give the
    /// same columns as before.
    fn replan(&self, entry: &CatalogEntry) -> Result<RelationExpr, AdapterError> {
        let statements = eddy_planner::parse(&entry.create_sql)?;
        let statement = statements.first().ok_or_else(|| AdapterError::Internal("empty stored statement".into()))?;
        let (plan, _) = eddy_planner::plan(statement, self, &StatementContext::new(chrono::Utc::now()))?;
        let Plan::CreateView { desc, expr, .. } = plan else {
            return Err(AdapterError::Internal(format!("{} is not a view", entry.item.name)));
        };
        let shape = |d: &RelationDesc| -> Vec<(String, eddy_repr::ScalarType)> {
            d.columns().iter().map(|(name, ty)| (name.clone(), ty.scalar_type.clone())).collect()
        };
        if shape(&desc) != shape(&entry.item.desc) {
            return Err(AdapterError::InvalidParameterValue(format!(
                "cannot replace the view: {} {} reads it and its columns would change; drop and recreate it",
                entry.item.kind.as_str(),
                entry.item.name
            )));
        }
        Ok(expr)
    }
}

/// PostgreSQL's rule for `CREATE OR REPLACE VIEW`: the old columns stay, in order, with
/// their names and types; new ones may follow.
fn check_columns_kept(old: &RelationDesc, new: &RelationDesc) -> Result<(), AdapterError> {
    let invalid = |message: String| AdapterError::InvalidObjectDefinition(message);
    if new.columns().len() < old.columns().len() {
        return Err(invalid("cannot drop columns from view".into()));
    }
    for ((old_name, old_type), (new_name, new_type)) in old.columns().iter().zip(new.columns()) {
        if old_name != new_name {
            return Err(invalid(format!("cannot change name of view column \"{old_name}\" to \"{new_name}\"")));
        }
        if old_type.scalar_type != new_type.scalar_type {
            return Err(invalid(format!(
                "cannot change data type of view column \"{old_name}\" from {} to {}",
                old_type.scalar_type, new_type.scalar_type
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_repr::{ColumnType, ScalarType};

    fn desc(columns: &[(&str, ScalarType)]) -> RelationDesc {
        RelationDesc::new(columns.iter().map(|(n, t)| (n.to_string(), ColumnType::new(t.clone(), true))).collect())
    }

    #[test]
    fn a_replaced_view_keeps_its_columns_and_may_add_some() {
        let old = desc(&[("num", ScalarType::Int32), ("label", ScalarType::Text)]);
        let wider = desc(&[("num", ScalarType::Int32), ("label", ScalarType::Text), ("extra", ScalarType::Bool)]);
        assert!(check_columns_kept(&old, &wider).is_ok());
        let message = |new: &RelationDesc| check_columns_kept(&old, new).unwrap_err().to_string();
        assert_eq!(message(&desc(&[("num", ScalarType::Int32)])), "cannot drop columns from view");
        assert_eq!(
            message(&desc(&[("n", ScalarType::Int32), ("label", ScalarType::Text)])),
            "cannot change name of view column \"num\" to \"n\""
        );
        assert!(message(&desc(&[("num", ScalarType::Int64), ("label", ScalarType::Text)]))
            .starts_with("cannot change data type of view column \"num\""));
    }
}
