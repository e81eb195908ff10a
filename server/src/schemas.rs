//! `CREATE SCHEMA` and `DROP SCHEMA`. A schema is a name prefix: its objects are named
//! `schema.name` in the catalog, and unqualified names are looked up along `search_path`
//! (see the planner's `resolve_relation`).

use eddy_planner::PlanError;
use eddy_repr::GlobalId;

use crate::coordinator::{command, Coordinator, ExecuteResponse};
use crate::error::AdapterError;
use crate::session::Session;

/// Schemas that always exist and cannot be created or dropped.
const BUILT_IN: &[&str] = &["public", "pg_catalog", "information_schema", "eddy_catalog"];

impl Coordinator {
    pub(crate) fn create_schema(
        &mut self,
        session: &mut Session,
        name: String,
        if_not_exists: bool,
    ) -> Result<ExecuteResponse, AdapterError> {
        if BUILT_IN.contains(&name.as_str()) || self.schemas.contains_key(&name) {
            if !if_not_exists {
                return Err(AdapterError::DuplicateSchema(name));
            }
            session.notice("NOTICE", "42P06", format!("schema \"{name}\" already exists, skipping"));
            return Ok(command("CREATE SCHEMA"));
        }
        if name.starts_with("pg_") {
            return Err(PlanError::InvalidName(format!(
                "unacceptable schema name \"{name}\" (the prefix \"pg_\" is reserved for system schemas)"
            ))
            .into());
        }
        let id = self.allocate_id();
        self.schemas.insert(name, id);
        Ok(command("CREATE SCHEMA"))
    }

    /// Drops the schemas; with CASCADE also everything in them (and what depends on that).
    pub(crate) fn drop_schemas(
        &mut self,
        session: &mut Session,
        names: Vec<String>,
        if_exists: bool,
        cascade: bool,
    ) -> Result<ExecuteResponse, AdapterError> {
        let mut dropped = Vec::new();
        for name in names {
            if BUILT_IN.contains(&name.as_str()) {
                return Err(PlanError::Unsupported(format!("DROP SCHEMA {name}")).into());
            }
            if !self.schemas.contains_key(&name) {
                if if_exists {
                    session.notice("NOTICE", "00000", format!("schema \"{name}\" does not exist, skipping"));
                    continue;
                }
                return Err(PlanError::UnknownSchema(name).into());
            }
            let prefix = format!("{name}.");
            let members: Vec<GlobalId> =
                self.names.iter().filter(|(n, _)| n.starts_with(&prefix)).map(|(_, &id)| id).collect();
            if !members.is_empty() && !cascade {
                let lines: Vec<String> = members
                    .iter()
                    .filter_map(|id| self.entries.get(id))
                    .map(|e| format!("{} {} depends on schema {name}", e.item.kind.as_str(), e.item.name))
                    .collect();
                return Err(AdapterError::Dependents {
                    message: format!("cannot drop schema {name} because other objects depend on it"),
                    detail: lines.join("\n"),
                });
            }
            dropped.push((name, members));
        }
        for (name, members) in dropped {
            let mut all: Vec<GlobalId> = Vec::new();
            for id in members {
                for dependent in self.dependents(id) {
                    if !all.contains(&dependent) {
                        all.push(dependent);
                    }
                }
            }
            // PostgreSQL's `drop cascades to ...` NOTICE: every object dropped with the
            // schema, in the order they were made.
            let mut made = all.clone();
            made.sort();
            let labels: Vec<String> = made.iter().map(|id| self.label(*id)).collect();
            session.notice_cascade(&labels);
            // Dependents last, as `drop_ids` wants them: what others read has more
            // (transitive) dependents than they do.
            all.sort_by_cached_key(|id| std::cmp::Reverse(self.dependents(*id).len()));
            self.drop_ids(&all);
            self.schemas.remove(&name);
        }
        Ok(command("DROP SCHEMA"))
    }
}
