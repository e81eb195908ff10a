//! `pg_catalog` and `information_schema` tables computed from Eddy's catalog when a query
//! names them, so that psql's `\d` commands, drivers and BI tools can list relations and
//! their columns. Each is a snapshot: a plain view over constant rows, taken when the
//! query is planned. Object ids are `bigint` (Eddy has no `oid` type); arrays that
//! PostgreSQL keeps in these tables (`reloptions`, `conkey`, ACLs) are text in array
//! syntax, or NULL.

use std::collections::BTreeMap;

use eddy_expr::RelationExpr;
use eddy_planner::sequence::SequenceSpec;
use eddy_planner::{identity_generation, CatalogItem, CheckConstraint, ItemKind, UniqueKey};
use eddy_repr::{ColumnType, Datum, GlobalId, RelationDesc, Row, ScalarType};

use crate::coordinator::CatalogEntry;
use eddy_planner::quote_ident;

/// PostgreSQL gives user objects oids from 16384 on.
const FIRST_USER_OID: i64 = 16384;
/// Constraints (PRIMARY KEY, UNIQUE) get oids of their own, above every relation's.
const FIRST_CONSTRAINT_OID: i64 = 1 << 40;
const PUBLIC_NAMESPACE: i64 = 2200;
const CATALOG_NAMESPACE: i64 = 11;
const INFORMATION_SCHEMA_NAMESPACE: i64 = 13000;
const OWNER_OID: i64 = 10;
const DATABASE_OID: i64 = 16383;
const HEAP_AM: i64 = 2;
const BTREE_AM: i64 = 403;
const DEFAULT_COLLATION: i64 = 100;
/// The database every session is in, whatever name it connected with.
const DATABASE: &str = "eddy";
/// Ids of the system tables themselves, far above any id the catalog hands out.
const SYSTEM_ID_BASE: GlobalId = u64::MAX - 16;
/// Ids of the pg_catalog / information_schema tables beyond the first three.
const CATALOG_TABLE_ID_BASE: GlobalId = u64::MAX - 1024;

/// What a relation without comments has.
pub static NO_COMMENTS: BTreeMap<i32, String> = BTreeMap::new();

/// `COMMENT ON` relations (`objsubid` 0) and their columns (`objsubid` n), which
/// `obj_description` and `col_description` read (see the planner's lookups).
fn pg_description(relations: &[Listed]) -> Builder {
    const PG_CLASS_OID: i64 = 1259;
    let mut b = Builder::new(&[("objoid", I8), ("classoid", I8), ("objsubid", I4), ("description", T)]);
    for r in relations {
        for (&column, text) in r.comments {
            b.row(vec![oid(r.id), int(PG_CLASS_OID), int4(column), self::text(text)]);
        }
    }
    b
}

/// A FOREIGN KEY as the catalog tables show it.
#[derive(Clone)]
pub struct ListedForeignKey {
    pub id: GlobalId,
    pub name: String,
    pub columns: Vec<usize>,
    pub parent: GlobalId,
    pub parent_columns: Vec<usize>,
    pub deferred: bool,
    /// `pg_constraint.confdeltype`: `a` (no action), `c` (cascade), `n` (set null).
    pub on_delete: &'static str,
    /// `pg_constraint.confupdtype`, as `on_delete`.
    pub on_update: &'static str,
    /// What `pg_get_constraintdef` shows.
    pub definition: String,
}

/// A relation to list.
#[derive(Clone)]
pub struct Listed<'a> {
    /// `pg_class.relkind`.
    pub relkind: &'static str,
    pub id: GlobalId,
    pub desc: &'a RelationDesc,
    /// Tables: their PRIMARY KEY and UNIQUE constraints.
    pub keys: &'a [UniqueKey],
    /// Tables: their CHECK constraints.
    pub checks: &'a [CheckConstraint],
    /// `COMMENT ON` the relation (0) and its columns (1, 2, ...).
    pub comments: &'a BTreeMap<i32, String>,
    /// Indexes: the indexed relation and the indexed columns' positions in it.
    pub index_of: Option<(GlobalId, &'a [usize])>,
    /// Views: the statement that created them.
    pub create_sql: &'a str,
    /// Tables: each column's DEFAULT as SQL (empty: none).
    pub defaults: &'a [Option<String>],
    /// Tables: their FOREIGN KEY constraints.
    pub foreign_keys: Vec<ListedForeignKey>,
    /// Sequences: what they hand out, and the last value handed out (if any).
    pub sequence: Option<(SequenceSpec, Option<i64>)>,
    /// Its schema's oid and name, and its name within the schema ([`qualify`]).
    pub namespace: i64,
    pub schema: &'a str,
    pub relname: &'a str,
}

/// The schema (namespace oid and name) of the catalog name `name`, and the name within
/// it: objects of schema `s` are named `s.name`; everything else is in `public`.
pub fn qualify<'a>(name: &'a str, schemas: &'a BTreeMap<String, GlobalId>) -> (i64, &'a str, &'a str) {
    if let Some((schema, relname)) = name.split_once('.') {
        if let Some((schema, &id)) = schemas.get_key_value(schema) {
            return (FIRST_USER_OID + id as i64, schema.as_str(), relname);
        }
    }
    (PUBLIC_NAMESPACE, "public", name)
}

fn oid(id: GlobalId) -> Datum {
    Datum::Int64(FIRST_USER_OID + id as i64)
}

fn text(s: &str) -> Datum {
    Datum::Text(s.to_string())
}

fn int(v: i64) -> Datum {
    Datum::Int64(v)
}

fn int4(v: i32) -> Datum {
    Datum::Int32(v)
}

fn int2(v: i16) -> Datum {
    Datum::Int16(v)
}

fn boolean(b: bool) -> Datum {
    Datum::Bool(b)
}

/// Builds one table: its columns, then its rows (each as many datums as columns).
struct Builder {
    columns: Vec<(String, ColumnType)>,
    rows: Vec<Row>,
}

impl Builder {
    fn new(columns: &[(&str, ScalarType)]) -> Self {
        let columns = columns.iter().map(|(n, ty)| nullable_column(n, ty.clone())).collect();
        Builder { columns, rows: vec![] }
    }

    fn row(&mut self, datums: Vec<Datum>) {
        debug_assert_eq!(datums.len(), self.columns.len());
        self.rows.push(Row::new(datums));
    }

    fn build(self, name: &str, id: GlobalId) -> CatalogItem {
        let arity = self.columns.len();
        CatalogItem {
            id,
            name: name.to_string(),
            kind: ItemKind::View,
            desc: RelationDesc::new(self.columns),
            view_expr: Some(RelationExpr::constant(self.rows, arity)),
            defaults: vec![],
        }
    }
}

use ScalarType::{Bool as B, Int16 as I2, Int32 as I4, Int64 as I8, Text as T};

fn array_of(element: ScalarType) -> ScalarType {
    ScalarType::Array(Box::new(element))
}

/// The system table `name` (`pg_class`, `information_schema.columns`, ...), over
/// `relations`; `None` if there is no such table.
pub fn resolve<'a>(
    name: &str,
    relations: impl Iterator<Item = Listed<'a>>,
    schemas: &BTreeMap<String, GlobalId>,
) -> Option<CatalogItem> {
    let relations: Vec<Listed> = relations.collect();
    let mut namespaces: Vec<(i64, &str)> = BUILT_IN_NAMESPACES.to_vec();
    namespaces.extend(schemas.iter().map(|(name, &id)| (FIRST_USER_OID + id as i64, name.as_str())));
    // PRIMARY KEY and UNIQUE constraints are listed as indexes too, as PostgreSQL's are.
    let key_index_descs: Vec<(GlobalId, &str, RelationDesc, &Listed, &[usize])> = relations
        .iter()
        .flat_map(|r| {
            r.keys.iter().enumerate().map(move |(k, key)| {
                let columns = key.columns.iter().filter_map(|&c| r.desc.columns().get(c).cloned()).collect();
                (key_index_id(r.id, k), key.name.as_str(), RelationDesc::new(columns), r, key.columns.as_slice())
            })
        })
        .collect();
    let key_indexes = key_index_descs.iter().map(|(id, name, desc, table, columns)| Listed {
        relkind: "i",
        id: *id,
        desc,
        keys: &[],
        checks: &[],
        comments: &NO_COMMENTS,
        index_of: Some((table.id, columns)),
        create_sql: "",
        defaults: &[],
        foreign_keys: vec![],
        sequence: None,
        namespace: table.namespace,
        schema: table.schema,
        relname: name.strip_prefix(&format!("{}.", table.schema)).unwrap_or(name),
    });
    let relations: Vec<Listed> = relations.iter().cloned().chain(key_indexes).collect();
    let (position, table) = match name {
        "pg_namespace" => (0, pg_namespace(&namespaces)),
        "pg_class" => (1, pg_class(&relations)),
        "pg_am" => (2, pg_am()),
        _ => {
            let (k, table) = match name {
                "pg_attribute" => (0, pg_attribute(&relations)),
                "pg_type" => (1, pg_type()),
                "pg_index" => (2, pg_index(&relations)),
                "pg_constraint" => (3, pg_constraint(&relations)),
                "pg_attrdef" => (4, pg_attrdef(&relations)),
                "pg_collation" => (5, pg_collation()),
                "pg_inherits" => {
                    (6, Builder::new(&[("inhrelid", I8), ("inhparent", I8), ("inhseqno", I4), ("inhdetachpending", B)]))
                }
                "pg_database" => (7, pg_database()),
                "pg_roles" | "pg_authid" => (8, pg_roles()),
                "pg_user" => (9, pg_user()),
                "pg_description" => (10, pg_description(&relations)),
                "pg_tables" => (11, pg_tables(&relations)),
                // Eddy has no row security policies, extended statistics, publications,
                // sequences, enums or role memberships: these are empty, so that the queries of psql's
                // \d and \du that read them work.
                "pg_policy" => (
                    15,
                    Builder::new(&[
                        ("oid", I8),
                        ("polname", T),
                        ("polrelid", I8),
                        ("polcmd", T),
                        ("polpermissive", B),
                        ("polroles", array_of(I8)),
                        ("polqual", T),
                        ("polwithcheck", T),
                    ]),
                ),
                "pg_statistic_ext" => (
                    16,
                    Builder::new(&[
                        ("oid", I8),
                        ("stxrelid", I8),
                        ("stxname", T),
                        ("stxnamespace", I8),
                        ("stxowner", I8),
                        ("stxstattarget", I4),
                        ("stxkeys", array_of(I2)),
                        ("stxkind", array_of(T)),
                    ]),
                ),
                "pg_publication" => (
                    17,
                    Builder::new(&[
                        ("oid", I8),
                        ("pubname", T),
                        ("pubowner", I8),
                        ("puballtables", B),
                        ("pubinsert", B),
                        ("pubupdate", B),
                        ("pubdelete", B),
                        ("pubtruncate", B),
                        ("pubviaroot", B),
                    ]),
                ),
                "pg_publication_namespace" => (18, Builder::new(&[("oid", I8), ("pnpubid", I8), ("pnnspid", I8)])),
                "pg_publication_rel" => (
                    19,
                    Builder::new(&[
                        ("oid", I8),
                        ("prpubid", I8),
                        ("prrelid", I8),
                        ("prqual", T),
                        ("prattrs", array_of(I2)),
                    ]),
                ),
                "pg_sequence" => (25, pg_sequence(&relations)),
                // Dependencies are Eddy's own (`eddy_catalog.definitions`); psql's `\d` of a
                // sequence asks here for its owning column.
                "pg_depend" => (
                    36,
                    Builder::new(&[
                        ("classid", I8),
                        ("objid", I8),
                        ("objsubid", I4),
                        ("refclassid", I8),
                        ("refobjid", I8),
                        ("refobjsubid", I4),
                        ("deptype", T),
                    ]),
                ),
                "pg_enum" => (
                    26,
                    Builder::new(&[
                        ("oid", I8),
                        ("enumtypid", I8),
                        ("enumsortorder", ScalarType::Float32),
                        ("enumlabel", T),
                    ]),
                ),
                // No user-defined functions or extensions either (`\df`, `\dx`).
                "pg_proc" => (
                    27,
                    Builder::new(&[
                        ("oid", I8),
                        ("proname", T),
                        ("pronamespace", I8),
                        ("proowner", I8),
                        ("prokind", T),
                        ("proretset", B),
                        ("prorettype", I8),
                        ("pronargs", I2),
                        ("prosrc", T),
                        ("proacl", array_of(T)),
                    ]),
                ),
                "pg_extension" => (
                    28,
                    Builder::new(&[
                        ("oid", I8),
                        ("extname", T),
                        ("extowner", I8),
                        ("extnamespace", I8),
                        ("extrelocatable", B),
                        ("extversion", T),
                    ]),
                ),
                // Foreign keys are not triggers here, and there are no others: empty,
                // for psql's \d of a table with foreign keys.
                "pg_trigger" => (
                    37,
                    Builder::new(&[
                        ("oid", I8),
                        ("tgrelid", I8),
                        ("tgparentid", I8),
                        ("tgname", T),
                        ("tgfoid", I8),
                        ("tgtype", I2),
                        ("tgenabled", T),
                        ("tgisinternal", B),
                        ("tgconstrrelid", I8),
                        ("tgconstrindid", I8),
                        ("tgconstraint", I8),
                        ("tgdeferrable", B),
                        ("tginitdeferred", B),
                        ("tgnargs", I2),
                        ("tgattr", array_of(I2)),
                        ("tgqual", T),
                        ("tgoldtable", T),
                        ("tgnewtable", T),
                    ]),
                ),
                "pg_auth_members" => {
                    (24, Builder::new(&[("roleid", I8), ("member", I8), ("grantor", I8), ("admin_option", B)]))
                }
                "pg_views" => (12, pg_views(&relations, "v")),
                "pg_matviews" => (13, pg_views(&relations, "m")),
                "pg_indexes" => (14, pg_indexes(&relations)),
                "information_schema.schemata" => (20, schemata(&namespaces)),
                "information_schema.tables" => (21, information_schema_tables(&relations)),
                "information_schema.columns" => (22, information_schema_columns(&relations)),
                "information_schema.views" => (23, information_schema_views(&relations)),
                "information_schema.table_constraints" => (29, table_constraints(&relations)),
                "information_schema.key_column_usage" => (30, key_column_usage(&relations)),
                "eddy_catalog.definitions" => (31, definitions(&relations)),
                "information_schema.check_constraints" => (32, check_constraints(&relations)),
                "pg_sequences" => (34, pg_sequences(&relations)),
                "information_schema.sequences" => (35, information_schema_sequences(&relations)),
                _ => return None,
            };
            return Some(table.build(name, CATALOG_TABLE_ID_BASE + k));
        }
    };
    Some(table.build(name, SYSTEM_ID_BASE + position))
}

fn pg_namespace(namespaces: &[(i64, &str)]) -> Builder {
    let mut b = Builder::new(&[("oid", I8), ("nspname", T), ("nspowner", I8), ("nspacl", array_of(T))]);
    for &(oid, name) in namespaces {
        b.row(vec![int(oid), text(name), int(OWNER_OID), Datum::Null]);
    }
    b
}

const BUILT_IN_NAMESPACES: [(i64, &str); 3] = [
    (PUBLIC_NAMESPACE, "public"),
    (CATALOG_NAMESPACE, "pg_catalog"),
    (INFORMATION_SCHEMA_NAMESPACE, "information_schema"),
];

fn pg_class(relations: &[Listed]) -> Builder {
    let mut b = Builder::new(&[
        ("oid", I8),
        ("relname", T),
        ("relnamespace", I8),
        ("relkind", T),
        ("relowner", I8),
        ("relam", I8),
        ("reltype", I8),
        ("reloftype", I8),
        ("relfilenode", I8),
        ("reltablespace", I8),
        ("relpages", I4),
        ("reltuples", ScalarType::Float32),
        ("relallvisible", I4),
        ("reltoastrelid", I8),
        ("relhasindex", B),
        ("relisshared", B),
        ("relpersistence", T),
        ("relnatts", I2),
        ("relchecks", I2),
        ("relhasrules", B),
        ("relhastriggers", B),
        ("relhassubclass", B),
        ("relrowsecurity", B),
        ("relforcerowsecurity", B),
        ("relispopulated", B),
        ("relreplident", T),
        ("relispartition", B),
        ("relrewrite", I8),
        ("relacl", array_of(T)),
        ("reloptions", array_of(T)),
        ("relpartbound", T),
    ]);
    for r in relations {
        let am = match r.relkind {
            "r" | "m" => HEAP_AM,
            "i" => BTREE_AM,
            _ => 0,
        };
        b.row(vec![
            oid(r.id),
            text(r.relname),
            int(r.namespace),
            text(r.relkind),
            int(OWNER_OID),
            int(am),
            int(0),
            int(0),
            int(0),
            int(0),
            int4(0),
            Datum::Float32(-1.0),
            int4(0),
            int(0),
            boolean(relations.iter().any(|i| i.index_of.is_some_and(|(on, _)| on == r.id))),
            boolean(false),
            text("p"),
            int2(r.desc.arity() as i16),
            int2(r.checks.len() as i16),
            boolean(false),
            // In PostgreSQL foreign keys are triggers on both tables; psql's \d lists a
            // table's foreign keys and the ones referencing it only when this is set.
            boolean(
                !r.foreign_keys.is_empty()
                    || relations.iter().any(|o| o.foreign_keys.iter().any(|fk| fk.parent == r.id)),
            ),
            boolean(false),
            boolean(false),
            boolean(false),
            boolean(true),
            text("d"),
            boolean(false),
            int(0),
            Datum::Null,
            Datum::Null,
            Datum::Null,
        ]);
    }
    b
}

fn pg_am() -> Builder {
    let mut b = Builder::new(&[("oid", I8), ("amname", T), ("amtype", T)]);
    b.row(vec![int(HEAP_AM), text("heap"), text("t")]);
    b.row(vec![int(BTREE_AM), text("btree"), text("i")]);
    b
}

fn collation(ty: &ScalarType) -> i64 {
    if ty.is_string() {
        DEFAULT_COLLATION
    } else {
        0
    }
}

/// Column `i`'s DEFAULT expression as SQL. Identity columns have none (PostgreSQL shows
/// them by `attidentity`).
fn column_default(r: &Listed, i: usize) -> Option<String> {
    r.defaults.get(i).cloned().flatten().filter(|sql| identity_generation(sql).is_none())
}

/// `ALWAYS` or `BY DEFAULT` if column `i` is an identity column.
fn identity(r: &Listed, i: usize) -> Option<&'static str> {
    r.defaults.get(i).and_then(Option::as_deref).and_then(identity_generation)
}

/// Column defaults; `adbin` holds the expression's SQL, which `pg_get_expr` returns.
fn pg_attrdef(relations: &[Listed]) -> Builder {
    let mut b = Builder::new(&[("oid", I8), ("adrelid", I8), ("adnum", I2), ("adbin", T)]);
    for r in relations {
        for i in 0..r.defaults.len() {
            if let Some(sql) = column_default(r, i) {
                b.row(vec![int(i as i64 + 1), oid(r.id), int2(i as i16 + 1), text(&sql)]);
            }
        }
    }
    b
}

fn pg_attribute(relations: &[Listed]) -> Builder {
    let mut b = Builder::new(&[
        ("attrelid", I8),
        ("attname", T),
        ("atttypid", I8),
        ("attstattarget", I4),
        ("attlen", I2),
        ("attnum", I2),
        ("attndims", I4),
        ("atttypmod", I4),
        ("attbyval", B),
        ("attnotnull", B),
        ("atthasdef", B),
        ("atthasmissing", B),
        ("attidentity", T),
        ("attgenerated", T),
        ("attisdropped", B),
        ("attislocal", B),
        ("attinhcount", I4),
        ("attcollation", I8),
        ("attstorage", T),
        ("attcompression", T),
        ("attacl", array_of(T)),
        ("attoptions", array_of(T)),
    ]);
    for r in relations {
        for (i, (name, ty)) in r.desc.columns().iter().enumerate() {
            let st = &ty.scalar_type;
            b.row(vec![
                oid(r.id),
                text(name),
                int(i64::from(st.oid())),
                int4(-1),
                int2(st.type_len()),
                int2(i as i16 + 1),
                int4(0),
                int4(st.type_modifier()),
                boolean(matches!(st.type_len(), 1 | 2 | 4 | 8)),
                boolean(!ty.nullable),
                boolean(column_default(r, i).is_some()),
                boolean(false),
                text(match identity(r, i) {
                    Some("ALWAYS") => "a",
                    Some(_) => "d",
                    None => "",
                }),
                text(""),
                boolean(false),
                boolean(true),
                int4(0),
                int(collation(st)),
                // Plain for fixed-width values, extended (compressible, out of line) otherwise.
                text(if st.type_len() > 0 { "p" } else { "x" }),
                text(""),
                Datum::Null,
                Datum::Null,
            ]);
        }
    }
    b
}

/// `pg_type.typcategory`.
fn type_category(ty: &ScalarType) -> &'static str {
    match ty {
        ScalarType::Bool => "B",
        t if t.is_numeric_family() => "N",
        t if t.is_string() => "S",
        ScalarType::Date | ScalarType::Time { .. } | ScalarType::Timestamp { .. } | ScalarType::TimestampTz { .. } => {
            "D"
        }
        ScalarType::Interval => "T",
        ScalarType::Array(_) => "A",
        _ => "U",
    }
}

fn pg_type() -> Builder {
    let mut b = Builder::new(&[
        ("oid", I8),
        ("typname", T),
        ("typnamespace", I8),
        ("typowner", I8),
        ("typlen", I2),
        ("typbyval", B),
        ("typtype", T),
        ("typcategory", T),
        ("typispreferred", B),
        ("typisdefined", B),
        ("typdelim", T),
        ("typrelid", I8),
        ("typelem", I8),
        ("typarray", I8),
        ("typnotnull", B),
        ("typbasetype", I8),
        ("typtypmod", I4),
        ("typndims", I4),
        ("typcollation", I8),
        ("typdefault", T),
        ("typacl", array_of(T)),
    ]);
    let types = ScalarType::all().into_iter().flat_map(|t| [t.clone(), array_of(t)]);
    for ty in types {
        let (element, array) = match &ty {
            ScalarType::Array(e) => (i64::from(e.oid()), 0),
            t => (0, i64::from(t.array_oid())),
        };
        b.row(vec![
            int(i64::from(ty.oid())),
            text(ty.type_name()),
            int(CATALOG_NAMESPACE),
            int(OWNER_OID),
            int2(ty.type_len()),
            boolean(matches!(ty.type_len(), 1 | 2 | 4 | 8)),
            text("b"),
            text(type_category(&ty)),
            boolean(matches!(
                ty,
                ScalarType::Bool | ScalarType::Float64 | ScalarType::Text | ScalarType::TimestampTz { .. }
            )),
            boolean(true),
            text(","),
            int(0),
            int(element),
            int(array),
            boolean(false),
            int(0),
            int4(-1),
            int4(0),
            int(collation(&ty)),
            Datum::Null,
            Datum::Null,
        ]);
    }
    b
}

/// 1-based column numbers (`pg_index.indkey`, `pg_constraint.conkey`).
fn attnums(columns: &[usize]) -> Datum {
    Datum::Array(columns.iter().map(|&c| int2(c as i16 + 1)).collect())
}

/// `pg_index`: one row per `CREATE INDEX`, and one per PRIMARY KEY or UNIQUE constraint
/// (what PostgreSQL enforces them with; Eddy checks them on write, and their "index" has
/// the constraint's oid and no `pg_class` row).
fn pg_index(relations: &[Listed]) -> Builder {
    let mut b = Builder::new(&[
        ("indexrelid", I8),
        ("indrelid", I8),
        ("indnatts", I2),
        ("indnkeyatts", I2),
        ("indisunique", B),
        ("indnullsnotdistinct", B),
        ("indisprimary", B),
        ("indisexclusion", B),
        ("indimmediate", B),
        ("indisclustered", B),
        ("indisvalid", B),
        ("indisready", B),
        ("indislive", B),
        ("indisreplident", B),
        ("indkey", ScalarType::Int2Vector),
        ("indoption", ScalarType::Int2Vector),
        ("indexprs", T),
        ("indpred", T),
    ]);
    let mut row = |index: Datum, on: GlobalId, columns: &[usize], unique: bool, primary: bool| {
        let n = int2(columns.len() as i16);
        b.row(vec![
            index,
            oid(on),
            n.clone(),
            n,
            boolean(unique),
            boolean(false),
            boolean(primary),
            boolean(false),
            boolean(true),
            boolean(false),
            boolean(true),
            boolean(true),
            boolean(true),
            boolean(false),
            attnums(columns),
            Datum::Array(vec![int2(0); columns.len()]),
            Datum::Null,
            Datum::Null,
        ]);
    };
    for r in relations {
        if let Some((on, columns)) = r.index_of.filter(|_| !is_key_index(r.id)) {
            row(oid(r.id), on, columns, false, false);
        }
        for (k, key) in r.keys.iter().enumerate() {
            row(constraint_oid(r.id, k), r.id, &key.columns, true, key.primary);
        }
    }
    b
}

/// The oid of the `k`-th key constraint of relation `id` (and of the index it stands for).
fn constraint_oid(id: GlobalId, k: usize) -> Datum {
    oid(key_index_id(id, k))
}

/// The id under which the `k`-th key constraint of relation `id` is listed as an index.
fn key_index_id(id: GlobalId, k: usize) -> GlobalId {
    (FIRST_CONSTRAINT_OID - FIRST_USER_OID) as GlobalId + id * 64 + k as GlobalId
}

fn is_key_index(id: GlobalId) -> bool {
    id >= (FIRST_CONSTRAINT_OID - FIRST_USER_OID) as GlobalId && id < CATALOG_TABLE_ID_BASE
}

/// `eddy_catalog.definitions`: what `pg_get_indexdef` (part 0: the CREATE INDEX
/// statement; part n: the n-th key column) and `pg_get_constraintdef` (part -1) return,
/// by oid. The planner rewrites those calls into lookups here.
fn definitions(relations: &[Listed]) -> Builder {
    // Column names unlike any of the catalog's, so that the rewritten calls' arguments
    // (`pg_get_constraintdef(oid)`) still name the outer query's columns.
    let mut b = Builder::new(&[("definition_oid", I8), ("definition_part", I4), ("definition", T)]);
    for r in relations {
        let Some((on, columns)) = r.index_of else { continue };
        let Some(table) = relations.iter().find(|t| t.id == on) else { continue };
        b.row(vec![oid(r.id), int4(0), text(&index_definition(r, table, columns))]);
        for (i, (name, _)) in r.desc.columns().iter().enumerate() {
            b.row(vec![oid(r.id), int4(i as i32 + 1), text(&quote_ident(name))]);
        }
    }
    for r in relations {
        for (k, key) in r.keys.iter().enumerate() {
            let names: Vec<String> =
                (key.columns.iter()).filter_map(|&c| r.desc.columns().get(c)).map(|(n, _)| quote_ident(n)).collect();
            let kind = if key.primary { "PRIMARY KEY" } else { "UNIQUE" };
            b.row(vec![constraint_oid(r.id, k), int4(-1), text(&format!("{kind} ({})", names.join(", ")))]);
        }
        for (k, check) in r.checks.iter().enumerate() {
            b.row(vec![check_oid(r, k), int4(-1), text(&check_definition(check))]);
        }
        for fk in &r.foreign_keys {
            b.row(vec![oid(fk.id), int4(-1), text(&fk.definition)]);
        }
    }
    b
}

/// The oid of the `k`-th CHECK constraint of `r`: numbered after its keys.
fn check_oid(r: &Listed, k: usize) -> Datum {
    constraint_oid(r.id, r.keys.len() + k)
}

/// `CHECK ((a > 0))`, as `pg_get_constraintdef` shows a CHECK (a bare column is not
/// parenthesized twice).
fn check_definition(check: &CheckConstraint) -> String {
    let bare = check.sql.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '"');
    if bare {
        format!("CHECK ({})", check.sql)
    } else {
        format!("CHECK (({}))", check.sql)
    }
}

/// The table columns `expr` reads, in order, without repeats.
fn columns_read(expr: &eddy_expr::ScalarExpr) -> Vec<usize> {
    let mut columns = Vec::new();
    expr.visit(&mut |e| {
        if let eddy_expr::ScalarExpr::Column(c) = e {
            if !columns.contains(c) {
                columns.push(*c);
            }
        }
    });
    columns
}

/// `CREATE [UNIQUE] INDEX name ON public.table USING btree (columns)`, as
/// `pg_get_indexdef` and `pg_indexes.indexdef` give it.
fn index_definition(index: &Listed, table: &Listed, columns: &[usize]) -> String {
    let names: Vec<String> =
        columns.iter().filter_map(|&c| table.desc.columns().get(c)).map(|(n, _)| quote_ident(n)).collect();
    let unique = if is_key_index(index.id) { "UNIQUE " } else { "" };
    format!(
        "CREATE {unique}INDEX {} ON {}.{} USING btree ({})",
        quote_ident(index.relname),
        quote_ident(table.schema),
        quote_ident(table.relname),
        names.join(", ")
    )
}

fn pg_constraint(relations: &[Listed]) -> Builder {
    let mut b = Builder::new(&[
        ("oid", I8),
        ("conname", T),
        ("connamespace", I8),
        ("contype", T),
        ("condeferrable", B),
        ("condeferred", B),
        ("convalidated", B),
        ("conrelid", I8),
        ("contypid", I8),
        ("conindid", I8),
        ("conparentid", I8),
        ("confrelid", I8),
        ("conislocal", B),
        ("coninhcount", I4),
        ("connoinherit", B),
        ("conkey", array_of(I2)),
        ("confkey", array_of(I2)),
        ("confupdtype", T),
        ("confdeltype", T),
        ("confmatchtype", T),
    ]);
    // What only foreign keys have.
    let not_foreign = || [Datum::Null, text(" "), text(" "), text(" ")];
    for r in relations {
        for (k, key) in r.keys.iter().enumerate() {
            let mut row = vec![
                constraint_oid(r.id, k),
                text(&key.name),
                int(r.namespace),
                text(if key.primary { "p" } else { "u" }),
                boolean(false),
                boolean(false),
                boolean(true),
                oid(r.id),
                int(0),
                constraint_oid(r.id, k),
                int(0),
                int(0),
                boolean(true),
                int4(0),
                boolean(true),
                attnums(&key.columns),
            ];
            row.extend(not_foreign());
            b.row(row);
        }
        for (k, check) in r.checks.iter().enumerate() {
            let mut row = vec![
                check_oid(r, k),
                text(&check.name),
                int(r.namespace),
                text("c"),
                boolean(false),
                boolean(false),
                boolean(true),
                oid(r.id),
                int(0),
                int(0),
                int(0),
                int(0),
                boolean(true),
                int4(0),
                boolean(false),
                attnums(&columns_read(&check.expr)),
            ];
            row.extend(not_foreign());
            b.row(row);
        }
        for fk in &r.foreign_keys {
            let mut row = vec![
                oid(fk.id),
                text(&fk.name),
                int(r.namespace),
                text("f"),
                boolean(fk.deferred),
                boolean(fk.deferred),
                boolean(true),
                oid(r.id),
                int(0),
                int(0),
                int(0),
                oid(fk.parent),
                boolean(true),
                int4(0),
                boolean(true),
                attnums(&fk.columns),
            ];
            row.extend([attnums(&fk.parent_columns), text(fk.on_update), text(fk.on_delete), text("s")]);
            b.row(row);
        }
    }
    b
}

fn pg_collation() -> Builder {
    let mut b = Builder::new(&[
        ("oid", I8),
        ("collname", T),
        ("collnamespace", I8),
        ("collowner", I8),
        ("collprovider", T),
        ("collisdeterministic", B),
        ("collencoding", I4),
        ("collcollate", T),
        ("collctype", T),
    ]);
    for (oid, name, provider) in [(DEFAULT_COLLATION, "default", "d"), (950, "C", "c"), (951, "POSIX", "c")] {
        let locale = if provider == "d" { Datum::Null } else { text(name) };
        b.row(vec![
            int(oid),
            text(name),
            int(CATALOG_NAMESPACE),
            int(OWNER_OID),
            text(provider),
            boolean(true),
            int4(-1),
            locale.clone(),
            locale,
        ]);
    }
    b
}

fn pg_database() -> Builder {
    let mut b = Builder::new(&[
        ("oid", I8),
        ("datname", T),
        ("datdba", I8),
        ("encoding", I4),
        ("datlocprovider", T),
        ("datistemplate", B),
        ("datallowconn", B),
        ("datconnlimit", I4),
        ("datcollate", T),
        ("datctype", T),
        ("daticulocale", T),
        ("datacl", array_of(T)),
    ]);
    b.row(vec![
        int(DATABASE_OID),
        text(DATABASE),
        int(OWNER_OID),
        int4(6), // UTF8
        text("c"),
        boolean(false),
        boolean(true),
        int4(-1),
        text("C"),
        text("C"),
        Datum::Null,
        Datum::Null,
    ]);
    b
}

fn pg_roles() -> Builder {
    let mut b = Builder::new(&[
        ("oid", I8),
        ("rolname", T),
        ("rolsuper", B),
        ("rolinherit", B),
        ("rolcreaterole", B),
        ("rolcreatedb", B),
        ("rolcanlogin", B),
        ("rolreplication", B),
        ("rolconnlimit", I4),
        ("rolpassword", T),
        ("rolvaliduntil", ScalarType::timestamptz()),
        ("rolbypassrls", B),
        ("rolconfig", array_of(T)),
    ]);
    let t = boolean(true);
    b.row(vec![
        int(OWNER_OID),
        text(eddy_planner::catalog::OWNER),
        t.clone(),
        t.clone(),
        t.clone(),
        t.clone(),
        t.clone(),
        boolean(false),
        int4(-1),
        text("********"),
        Datum::Null,
        t,
        Datum::Null,
    ]);
    b
}

fn pg_user() -> Builder {
    let mut b = Builder::new(&[
        ("usename", T),
        ("usesysid", I8),
        ("usecreatedb", B),
        ("usesuper", B),
        ("userepl", B),
        ("usebypassrls", B),
        ("passwd", T),
        ("valuntil", ScalarType::timestamptz()),
        ("useconfig", array_of(T)),
    ]);
    b.row(vec![
        text(eddy_planner::catalog::OWNER),
        int(OWNER_OID),
        boolean(true),
        boolean(true),
        boolean(false),
        boolean(true),
        text("********"),
        Datum::Null,
        Datum::Null,
    ]);
    b
}

fn sequences<'a>(relations: &'a [Listed]) -> impl Iterator<Item = (&'a Listed<'a>, &'a SequenceSpec, Option<i64>)> {
    relations.iter().filter_map(|r| r.sequence.as_ref().map(|(spec, last)| (r, spec, *last)))
}

fn pg_sequence(relations: &[Listed]) -> Builder {
    let mut b = Builder::new(&[
        ("seqrelid", I8),
        ("seqtypid", I8),
        ("seqstart", I8),
        ("seqincrement", I8),
        ("seqmax", I8),
        ("seqmin", I8),
        ("seqcache", I8),
        ("seqcycle", B),
    ]);
    for (r, spec, _) in sequences(relations) {
        b.row(vec![
            oid(r.id),
            int(i64::from(spec.data_type.oid())),
            int(spec.start),
            int(spec.increment),
            int(spec.max),
            int(spec.min),
            int(spec.cache),
            boolean(spec.cycle),
        ]);
    }
    b
}

fn pg_sequences(relations: &[Listed]) -> Builder {
    let mut b = Builder::new(&[
        ("schemaname", T),
        ("sequencename", T),
        ("sequenceowner", T),
        ("data_type", T),
        ("start_value", I8),
        ("min_value", I8),
        ("max_value", I8),
        ("increment_by", I8),
        ("cycle", B),
        ("cache_size", I8),
        ("last_value", I8),
    ]);
    for (r, spec, last) in sequences(relations) {
        b.row(vec![
            text(r.schema),
            text(r.relname),
            text(eddy_planner::catalog::OWNER),
            text(&spec.data_type.to_string()),
            int(spec.start),
            int(spec.min),
            int(spec.max),
            int(spec.increment),
            boolean(spec.cycle),
            int(spec.cache),
            last.map_or(Datum::Null, int),
        ]);
    }
    b
}

/// `information_schema.sequences`: numbers as text, as the SQL standard's view has them.
fn information_schema_sequences(relations: &[Listed]) -> Builder {
    let mut b = Builder::new(&[
        ("sequence_catalog", T),
        ("sequence_schema", T),
        ("sequence_name", T),
        ("data_type", T),
        ("numeric_precision", I4),
        ("numeric_precision_radix", I4),
        ("numeric_scale", I4),
        ("start_value", T),
        ("minimum_value", T),
        ("maximum_value", T),
        ("increment", T),
        ("cycle_option", T),
    ]);
    for (r, spec, _) in sequences(relations) {
        let precision = match spec.data_type {
            ScalarType::Int16 => 16,
            ScalarType::Int32 => 32,
            _ => 64,
        };
        b.row(vec![
            text(DATABASE),
            text(r.schema),
            text(r.relname),
            text(&spec.data_type.to_string()),
            int4(precision),
            int4(2),
            int4(0),
            text(&spec.start.to_string()),
            text(&spec.min.to_string()),
            text(&spec.max.to_string()),
            text(&spec.increment.to_string()),
            text(if spec.cycle { "YES" } else { "NO" }),
        ]);
    }
    b
}

fn pg_tables(relations: &[Listed]) -> Builder {
    let mut b = Builder::new(&[
        ("schemaname", T),
        ("tablename", T),
        ("tableowner", T),
        ("tablespace", T),
        ("hasindexes", B),
        ("hasrules", B),
        ("hastriggers", B),
        ("rowsecurity", B),
    ]);
    for r in relations.iter().filter(|r| r.relkind == "r") {
        b.row(vec![
            text(r.schema),
            text(r.relname),
            text(eddy_planner::catalog::OWNER),
            Datum::Null,
            boolean(has_index(relations, r.id)),
            boolean(false),
            boolean(false),
            boolean(false),
        ]);
    }
    b
}

fn has_index(relations: &[Listed], id: GlobalId) -> bool {
    relations.iter().any(|i| i.index_of.is_some_and(|(on, _)| on == id))
}

/// `pg_views` (relkind "v") or `pg_matviews` ("m").
fn pg_views(relations: &[Listed], relkind: &str) -> Builder {
    let mut b = if relkind == "v" {
        Builder::new(&[("schemaname", T), ("viewname", T), ("viewowner", T), ("definition", T)])
    } else {
        Builder::new(&[
            ("schemaname", T),
            ("matviewname", T),
            ("matviewowner", T),
            ("tablespace", T),
            ("hasindexes", B),
            ("ispopulated", B),
            ("definition", T),
        ])
    };
    for r in relations.iter().filter(|r| r.relkind == relkind) {
        let mut row = vec![text(r.schema), text(r.relname), text(eddy_planner::catalog::OWNER)];
        if relkind == "m" {
            row.extend([Datum::Null, boolean(has_index(relations, r.id)), boolean(true)]);
        }
        row.push(text(view_query(r.create_sql)));
        b.row(row);
    }
    b
}

/// The query of a `CREATE [MATERIALIZED] VIEW ... AS query` statement.
fn view_query(create_sql: &str) -> &str {
    let upper = create_sql.to_ascii_uppercase();
    upper.find(" AS ").map_or(create_sql, |at| create_sql[at + 4..].trim())
}

fn pg_indexes(relations: &[Listed]) -> Builder {
    let mut b =
        Builder::new(&[("schemaname", T), ("tablename", T), ("indexname", T), ("tablespace", T), ("indexdef", T)]);
    for r in relations {
        let Some((on, columns)) = r.index_of else { continue };
        let Some(table) = relations.iter().find(|t| t.id == on) else { continue };
        let def = index_definition(r, table, columns);
        b.row(vec![text(table.schema), text(table.relname), text(r.relname), Datum::Null, text(&def)]);
    }
    b
}

fn schemata(namespaces: &[(i64, &str)]) -> Builder {
    let mut b = Builder::new(&[
        ("catalog_name", T),
        ("schema_name", T),
        ("schema_owner", T),
        ("default_character_set_catalog", T),
        ("default_character_set_schema", T),
        ("default_character_set_name", T),
        ("sql_path", T),
    ]);
    for &(_, name) in namespaces {
        b.row(vec![
            text(DATABASE),
            text(name),
            text(eddy_planner::catalog::OWNER),
            Datum::Null,
            Datum::Null,
            Datum::Null,
            Datum::Null,
        ]);
    }
    b
}

fn information_schema_tables(relations: &[Listed]) -> Builder {
    let mut b = Builder::new(&[
        ("table_catalog", T),
        ("table_schema", T),
        ("table_name", T),
        ("table_type", T),
        ("self_referencing_column_name", T),
        ("reference_generation", T),
        ("user_defined_type_catalog", T),
        ("user_defined_type_schema", T),
        ("user_defined_type_name", T),
        ("is_insertable_into", T),
        ("is_typed", T),
        ("commit_action", T),
    ]);
    for r in relations.iter().filter(|r| !matches!(r.relkind, "i" | "S")) {
        // Materialized views are listed as views (PostgreSQL leaves them out; here they
        // are what users query).
        let table_type = if r.relkind == "r" { "BASE TABLE" } else { "VIEW" };
        let insertable = if r.relkind == "r" { "YES" } else { "NO" };
        b.row(vec![
            text(DATABASE),
            text(r.schema),
            text(r.relname),
            text(table_type),
            Datum::Null,
            Datum::Null,
            Datum::Null,
            Datum::Null,
            Datum::Null,
            text(insertable),
            text("NO"),
            Datum::Null,
        ]);
    }
    b
}

fn information_schema_columns(relations: &[Listed]) -> Builder {
    let mut b = Builder::new(&[
        ("table_catalog", T),
        ("table_schema", T),
        ("table_name", T),
        ("column_name", T),
        ("ordinal_position", I4),
        ("column_default", T),
        ("is_nullable", T),
        ("data_type", T),
        ("character_maximum_length", I4),
        ("character_octet_length", I4),
        ("numeric_precision", I4),
        ("numeric_precision_radix", I4),
        ("numeric_scale", I4),
        ("datetime_precision", I4),
        ("interval_type", T),
        ("udt_catalog", T),
        ("udt_schema", T),
        ("udt_name", T),
        ("is_identity", T),
        ("identity_generation", T),
        ("is_generated", T),
        ("is_updatable", T),
    ]);
    let opt = |v: Option<u32>| v.map_or(Datum::Null, |v| int4(v as i32));
    for r in relations.iter().filter(|r| !matches!(r.relkind, "i" | "S")) {
        for (i, (name, ty)) in r.desc.columns().iter().enumerate() {
            let st = &ty.scalar_type;
            let (precision, radix, scale) = match st {
                ScalarType::Int16 => (Some(16), Some(2), Some(0)),
                ScalarType::Int32 => (Some(32), Some(2), Some(0)),
                ScalarType::Int64 => (Some(64), Some(2), Some(0)),
                ScalarType::Float32 => (Some(24), Some(2), None),
                ScalarType::Float64 => (Some(53), Some(2), None),
                ScalarType::Numeric { precision, scale } => (*precision, Some(10), *scale),
                _ => (None, None, None),
            };
            let max_length = match st {
                ScalarType::Varchar { max_length } => *max_length,
                ScalarType::Char { length } => *length,
                _ => None,
            };
            // PostgreSQL: 4 bytes a character at most, or 1 GiB when unbounded.
            let octets = st.is_string().then(|| max_length.map_or(1 << 30, |n| n * 4));
            let datetime_precision = match st {
                ScalarType::Date => Some(0),
                ScalarType::Time { .. }
                | ScalarType::Timestamp { .. }
                | ScalarType::TimestampTz { .. }
                | ScalarType::Interval => Some(6),
                _ => None,
            };
            b.row(vec![
                text(DATABASE),
                text(r.schema),
                text(r.relname),
                text(name),
                int4(i as i32 + 1),
                column_default(r, i).map_or(Datum::Null, Datum::Text),
                text(if ty.nullable { "YES" } else { "NO" }),
                text(&st.without_modifiers().to_string()),
                opt(max_length),
                opt(octets),
                opt(precision),
                opt(radix),
                opt(scale),
                opt(datetime_precision),
                Datum::Null,
                text(DATABASE),
                text("pg_catalog"),
                text(st.type_name()),
                text(if identity(r, i).is_some() { "YES" } else { "NO" }),
                identity(r, i).map_or(Datum::Null, text),
                text("NEVER"),
                text(if r.relkind == "r" { "YES" } else { "NO" }),
            ]);
        }
    }
    b
}

/// The columns that name a constraint and its table in `information_schema`.
fn constraint_identity_columns(more: &[(&'static str, ScalarType)]) -> Builder {
    let identity =
        ["constraint_catalog", "constraint_schema", "constraint_name", "table_catalog", "table_schema", "table_name"];
    let columns: Vec<(&str, ScalarType)> = identity.into_iter().map(|n| (n, T)).chain(more.iter().cloned()).collect();
    Builder::new(&columns)
}

/// Their values for constraint `name` of relation `r`.
fn constraint_identity(name: &str, r: &Listed) -> Vec<Datum> {
    vec![text(DATABASE), text(r.schema), text(name), text(DATABASE), text(r.schema), text(r.relname)]
}

/// CHECK constraints with their conditions, as `information_schema.check_constraints`
/// lists them.
fn check_constraints(relations: &[Listed]) -> Builder {
    let mut b = Builder::new(&[
        ("constraint_catalog", T),
        ("constraint_schema", T),
        ("constraint_name", T),
        ("check_clause", T),
    ]);
    for r in relations {
        for check in r.checks {
            let clause = check_definition(check);
            let clause = clause.strip_prefix("CHECK ").unwrap_or(&clause);
            b.row(vec![text(DATABASE), text(r.schema), text(&check.name), text(clause)]);
        }
    }
    b
}

/// PRIMARY KEY, UNIQUE and CHECK constraints, as `information_schema.table_constraints`
/// lists them.
fn table_constraints(relations: &[Listed]) -> Builder {
    let mut b = constraint_identity_columns(&[
        ("constraint_type", T),
        ("is_deferrable", T),
        ("initially_deferred", T),
        ("enforced", T),
    ]);
    for r in relations {
        for key in r.keys {
            let kind = text(if key.primary { "PRIMARY KEY" } else { "UNIQUE" });
            let mut row = constraint_identity(&key.name, r);
            row.extend([kind, text("NO"), text("NO"), text("YES")]);
            b.row(row);
        }
        for check in r.checks {
            let mut row = constraint_identity(&check.name, r);
            row.extend([text("CHECK"), text("NO"), text("NO"), text("YES")]);
            b.row(row);
        }
        for fk in &r.foreign_keys {
            let deferred = text(if fk.deferred { "YES" } else { "NO" });
            let mut row = constraint_identity(&fk.name, r);
            row.extend([text("FOREIGN KEY"), deferred.clone(), deferred, text("YES")]);
            b.row(row);
        }
    }
    b
}

/// The columns of each PRIMARY KEY and UNIQUE constraint, in key order.
fn key_column_usage(relations: &[Listed]) -> Builder {
    let mut b = constraint_identity_columns(&[
        ("column_name", T),
        ("ordinal_position", I4),
        ("position_in_unique_constraint", I4),
    ]);
    for r in relations {
        for key in r.keys {
            for (i, &c) in key.columns.iter().enumerate() {
                let Some((column, _)) = r.desc.columns().get(c) else { continue };
                let mut row = constraint_identity(&key.name, r);
                row.extend([text(column), int4(i as i32 + 1), Datum::Null]);
                b.row(row);
            }
        }
    }
    b
}

fn information_schema_views(relations: &[Listed]) -> Builder {
    let mut b = Builder::new(&[
        ("table_catalog", T),
        ("table_schema", T),
        ("table_name", T),
        ("view_definition", T),
        ("check_option", T),
        ("is_updatable", T),
        ("is_insertable_into", T),
    ]);
    for r in relations.iter().filter(|r| r.relkind == "v" || r.relkind == "m") {
        b.row(vec![
            text(DATABASE),
            text(r.schema),
            text(r.relname),
            text(view_query(r.create_sql)),
            text("NONE"),
            text("NO"),
            text("NO"),
        ]);
    }
    b
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
    Builder { columns, rows }.build(name, SYSTEM_ID_BASE + offset)
}

/// pg_class.relkind of a catalog entry.
pub fn relkind(entry: &CatalogEntry) -> &'static str {
    match entry.item.kind {
        ItemKind::Table | ItemKind::Source => "r",
        ItemKind::View => "v",
        ItemKind::MaterializedView => "m",
    }
}

/// `pg_stat_activity`: one row per open connection, from [`crate::backends`]. Eddy has no
/// background workers, wait events or transaction ids; those columns are NULL.
pub fn pg_stat_activity(activities: &[std::sync::Arc<crate::backends::Activity>]) -> CatalogItem {
    let tz = ScalarType::timestamptz();
    let mut b = Builder::new(&[
        ("datid", I8),
        ("datname", T),
        ("pid", I4),
        ("leader_pid", I4),
        ("usesysid", I8),
        ("usename", T),
        ("application_name", T),
        ("client_addr", T),
        ("client_hostname", T),
        ("client_port", I4),
        ("backend_start", tz.clone()),
        ("xact_start", tz.clone()),
        ("query_start", tz.clone()),
        ("state_change", tz),
        ("wait_event_type", T),
        ("wait_event", T),
        ("state", T),
        ("backend_xid", T),
        ("backend_xmin", T),
        ("query_id", I8),
        ("query", T),
        ("backend_type", T),
    ]);
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or(Datum::Null, Datum::TimestampTz);
    for a in activities {
        let Some(doing) = a.doing() else { continue };
        b.row(vec![
            int(DATABASE_OID),
            text(&a.database),
            int4(a.pid),
            Datum::Null,
            int(OWNER_OID),
            text(&a.user),
            text(&doing.application_name),
            text(&a.client.ip().to_string()),
            Datum::Null,
            int4(i32::from(a.client.port())),
            time(Some(a.backend_start)),
            time(doing.xact_start),
            time(doing.query_start),
            time(Some(doing.state_change)),
            Datum::Null,
            Datum::Null,
            text(doing.state.name()),
            Datum::Null,
            Datum::Null,
            Datum::Null,
            text(&doing.query),
            text("client backend"),
        ]);
    }
    b.build("pg_stat_activity", CATALOG_TABLE_ID_BASE + 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed<'a>(name: &'a str, relkind: &'static str, id: GlobalId, desc: &'a RelationDesc) -> Listed<'a> {
        let (namespace, schema, relname) = (PUBLIC_NAMESPACE, "public", name);
        Listed {
            relkind,
            id,
            desc,
            keys: &[],
            checks: &[],
            comments: &NO_COMMENTS,
            index_of: None,
            create_sql: "",
            defaults: &[],
            foreign_keys: vec![],
            sequence: None,
            namespace,
            schema,
            relname,
        }
    }

    fn rows(item: CatalogItem) -> Vec<Row> {
        let Some(RelationExpr::Constant { rows, .. }) = item.view_expr else { panic!("constant rows") };
        rows.into_iter().map(|(r, _)| r).collect()
    }

    #[test]
    fn pg_class_lists_relations_with_user_oids() {
        let desc = RelationDesc::new(vec![column("a", ScalarType::Int64)]);
        let listed = [listed("t", "r", 3, &desc), listed("v", "m", 4, &desc)];
        let rows = rows(resolve("pg_class", listed.into_iter(), &BTreeMap::new()).expect("pg_class exists"));
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][0], Datum::Int64(16387));
        assert_eq!(rows[1][3], Datum::Text("m".into()));
        assert!(resolve("pg_nothing", std::iter::empty(), &BTreeMap::new()).is_none());
    }

    #[test]
    fn pg_attribute_and_information_schema_describe_each_column() {
        let desc = RelationDesc::new(vec![
            column("id", ScalarType::Int64),
            nullable_column("amount", ScalarType::Numeric { precision: Some(10), scale: Some(2) }),
        ]);
        let attributes =
            rows(resolve("pg_attribute", [listed("t", "r", 1, &desc)].into_iter(), &BTreeMap::new()).unwrap());
        assert_eq!(attributes.len(), 2);
        let amount = &attributes[1];
        assert_eq!((&amount[1], &amount[2], &amount[5]), (&text("amount"), &int(1700), &int2(2)));
        assert_eq!(amount[7], int4(655366), "atttypmod of numeric(10,2)");
        assert_eq!(attributes[0][9], boolean(true), "id is NOT NULL");

        let columns = rows(
            resolve("information_schema.columns", [listed("t", "r", 1, &desc)].into_iter(), &BTreeMap::new()).unwrap(),
        );
        let amount = &columns[1];
        assert_eq!((&amount[3], &amount[6], &amount[7]), (&text("amount"), &text("YES"), &text("numeric")));
        assert_eq!((&amount[10], &amount[12]), (&int4(10), &int4(2)));
    }

    #[test]
    fn a_view_definition_is_its_query() {
        assert_eq!(view_query("CREATE VIEW v AS SELECT 1 AS x"), "SELECT 1 AS x");
        assert_eq!(view_query("CREATE MATERIALIZED VIEW m (a) AS SELECT a FROM t"), "SELECT a FROM t");
    }
}
