//! What the planner may ask of the catalog: names to objects, read-only.

use eddy_expr::RelationExpr;
use eddy_repr::{GlobalId, RelationDesc};

/// The kind of a catalog object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemKind {
    Table,
    View,
    MaterializedView,
    Source,
}

impl ItemKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ItemKind::Table => "table",
            ItemKind::View => "view",
            ItemKind::MaterializedView => "materialized view",
            ItemKind::Source => "source",
        }
    }
}

/// One named relation as the planner sees it.
#[derive(Clone, Debug)]
pub struct CatalogItem {
    pub id: GlobalId,
    pub name: String,
    pub kind: ItemKind,
    pub desc: RelationDesc,
    /// For non-materialized views: the plan to inline where the view is read.
    pub view_expr: Option<RelationExpr>,
    /// Tables: each column's `DEFAULT` expression as SQL, `None` for no default (NULL).
    /// Empty for other relations.
    pub defaults: Vec<Option<String>>,
}

/// The owner shown for every object (there are no roles yet).
pub const OWNER: &str = "eddy";

/// Read-only name resolution. Names are already case-folded as PostgreSQL does.
pub trait Catalog {
    fn resolve(&self, name: &str) -> Option<CatalogItem>;

    /// Whether the schema exists (`public` always does). Objects in another schema `s`
    /// are named `s.name` in the catalog.
    fn has_schema(&self, name: &str) -> bool {
        name == "public"
    }
}
