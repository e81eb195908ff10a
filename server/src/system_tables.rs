//! `pg_catalog` tables computed from Eddy's catalog when a query names them, so that psql's
//! `\dt`, `\dv`, `\dm` and `\d` (without arguments) list Eddy's relations. Each is a
//! snapshot: a plain view over constant rows, taken when the query is planned.

use eddy_expr::RelationExpr;
use eddy_planner::{CatalogItem, ItemKind};
use eddy_repr::{ColumnType, Datum, GlobalId, RelationDesc, Row, ScalarType};

use crate::coordinator::CatalogEntry;

/// PostgreSQL gives user objects oids from 16384 on.
const FIRST_USER_OID: i64 = 16384;
const PUBLIC_NAMESPACE: i64 = 2200;
const CATALOG_NAMESPACE: i64 = 11;
const INFORMATION_SCHEMA_NAMESPACE: i64 = 13000;
const OWNER_OID: i64 = 10;
const HEAP_AM: i64 = 2;
/// Ids of the system tables themselves, far above any id the catalog hands out.
const SYSTEM_ID_BASE: GlobalId = u64::MAX - 16;

/// A relation to list: name, pg_class.relkind, id.
pub struct Listed<'a> {
    pub name: &'a str,
    pub relkind: &'static str,
    pub id: GlobalId,
}

/// The system table `name` (`pg_class`, `pg_namespace`, `pg_am`), over `relations`.
pub fn resolve<'a>(name: &str, relations: impl Iterator<Item = Listed<'a>>) -> Option<CatalogItem> {
    let int = |n: &str| (n.to_string(), ColumnType::new(ScalarType::Int64, false));
    let text = |n: &str| (n.to_string(), ColumnType::new(ScalarType::Text, false));
    let (offset, columns, rows): (u64, Vec<(String, ColumnType)>, Vec<Row>) = match name {
        "pg_namespace" => (
            0,
            vec![int("oid"), text("nspname"), int("nspowner")],
            [
                (PUBLIC_NAMESPACE, "public"),
                (CATALOG_NAMESPACE, "pg_catalog"),
                (INFORMATION_SCHEMA_NAMESPACE, "information_schema"),
            ]
            .into_iter()
            .map(|(oid, n)| Row::new(vec![Datum::Int64(oid), Datum::Text(n.into()), Datum::Int64(OWNER_OID)]))
            .collect(),
        ),
        "pg_class" => (
            1,
            vec![int("oid"), text("relname"), int("relnamespace"), text("relkind"), int("relowner"), int("relam")],
            relations
                .map(|r| {
                    Row::new(vec![
                        Datum::Int64(FIRST_USER_OID + r.id as i64),
                        Datum::Text(r.name.to_string()),
                        Datum::Int64(PUBLIC_NAMESPACE),
                        Datum::Text(r.relkind.into()),
                        Datum::Int64(OWNER_OID),
                        Datum::Int64(if r.relkind == "r" || r.relkind == "m" { HEAP_AM } else { 0 }),
                    ])
                })
                .collect(),
        ),
        "pg_am" => (
            2,
            vec![int("oid"), text("amname")],
            vec![Row::new(vec![Datum::Int64(HEAP_AM), Datum::Text("heap".into())])],
        ),
        _ => return None,
    };
    Some(constant(name, offset, columns, rows))
}

/// Offsets of the `eddy_catalog` tables' ids (0-2 are the pg_catalog tables above).
pub const SOURCES: u64 = 8;
pub const SOURCE_ERRORS: u64 = 9;
pub const SOURCE_PARTITIONS: u64 = 10;
pub const FRESHNESS: u64 = 11;
pub const REFRESH_HISTORY: u64 = 12;
pub const HYDRATION: u64 = 13;
pub const STORAGE: u64 = 14;

/// A non-null column of type `ty`.
pub fn column(name: &str, ty: ScalarType) -> (String, ColumnType) {
    (name.to_string(), ColumnType::new(ty, false))
}

pub fn nullable_column(name: &str, ty: ScalarType) -> (String, ColumnType) {
    (name.to_string(), ColumnType::new(ty, true))
}

/// A timestamp (milliseconds since the epoch) as a `timestamptz` datum.
pub fn timestamptz(ms: u64) -> Datum {
    chrono::DateTime::from_timestamp_millis(ms as i64).map_or(Datum::Null, Datum::TimestampTz)
}

/// A system table of constant `rows`; `offset` tells system tables' ids apart.
pub fn constant(name: &str, offset: u64, columns: Vec<(String, ColumnType)>, rows: Vec<Row>) -> CatalogItem {
    let arity = columns.len();
    CatalogItem {
        id: SYSTEM_ID_BASE + offset,
        name: name.to_string(),
        kind: ItemKind::View,
        desc: RelationDesc::new(columns),
        view_expr: Some(RelationExpr::constant(rows, arity)),
    }
}

/// pg_class.relkind of a catalog entry.
pub fn relkind(entry: &CatalogEntry) -> &'static str {
    match entry.item.kind {
        ItemKind::Table | ItemKind::Source => "r",
        ItemKind::View => "v",
        ItemKind::MaterializedView => "m",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_class_lists_relations_with_user_oids() {
        let listed = [Listed { name: "t", relkind: "r", id: 3 }, Listed { name: "v", relkind: "m", id: 4 }];
        let item = resolve("pg_class", listed.into_iter()).expect("pg_class exists");
        let Some(RelationExpr::Constant { rows, .. }) = item.view_expr else { panic!("constant rows") };
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0[0], Datum::Int64(16387));
        assert_eq!(rows[1].0[3], Datum::Text("m".into()));
        assert!(resolve("pg_nothing", std::iter::empty()).is_none());
    }
}
