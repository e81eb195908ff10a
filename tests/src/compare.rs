//! Running SQL over the simple query protocol and comparing result multisets, for the
//! oracle tests (Eddy against PostgreSQL).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use tokio_postgres::{Client, SimpleQueryMessage};

pub type Row = Vec<Option<String>>;

/// Rows (sorted) and the affected-row count of the last command, or the error.
pub async fn run(client: &Client, sql: &str) -> Result<(Vec<Row>, u64), String> {
    let (mut rows, affected) = run_in_order(client, sql).await?;
    rows.sort();
    Ok((rows, affected))
}

/// Rows in the order the server sent them, and the affected-row count of the last command.
pub async fn run_in_order(client: &Client, sql: &str) -> Result<(Vec<Row>, u64), String> {
    let messages = client.simple_query(sql).await.map_err(|e| match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    })?;
    let mut rows = Vec::new();
    let mut affected = 0;
    for m in messages {
        match m {
            SimpleQueryMessage::Row(row) => rows.push((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect()),
            SimpleQueryMessage::CommandComplete(n) => affected = n,
            _ => {}
        }
    }
    Ok((rows, affected))
}

pub fn show_row(row: &Row) -> String {
    let cells: Vec<String> = row.iter().map(|c| c.as_ref().map_or("NULL".to_string(), |s| format!("{s:?}"))).collect();
    format!("({})", cells.join(", "))
}

/// Rows of `a` not matched in `b` (multiset difference).
pub fn minus(a: &[Row], b: &[Row]) -> Vec<Row> {
    let mut counts: BTreeMap<&Row, usize> = BTreeMap::new();
    for r in b {
        *counts.entry(r).or_default() += 1;
    }
    let mut out = Vec::new();
    for r in a {
        match counts.get_mut(r) {
            Some(n) if *n > 0 => *n -= 1,
            _ => out.push(r.clone()),
        }
    }
    out
}

pub fn describe_rows(out: &mut String, label: &str, rows: &[Row]) {
    let _ = writeln!(out, "  {label} ({}):", rows.len());
    for r in rows.iter().take(25) {
        let _ = writeln!(out, "    {}", show_row(r));
    }
    if rows.len() > 25 {
        let _ = writeln!(out, "    ... {} more", rows.len() - 25);
    }
}

/// What differs between PostgreSQL's result (`expected`) and Eddy's (`actual`), or `None`
/// when they agree: the same rows, or errors of the same SQLSTATE.
pub fn difference(expected: &Result<Vec<Row>, String>, actual: &Result<Vec<Row>, String>) -> Option<String> {
    match (expected, actual) {
        (Ok(e), Ok(a)) if e == a => None,
        (Err(e), Err(a)) if e.split(':').next() == a.split(':').next() => None,
        (Ok(e), Ok(a)) => {
            let mut out = String::new();
            let _ = writeln!(out, "  eddy has {} rows, postgres has {}", a.len(), e.len());
            describe_rows(&mut out, "rows only in eddy", &minus(a, e));
            describe_rows(&mut out, "rows only in postgres", &minus(e, a));
            if minus(a, e).is_empty() && minus(e, a).is_empty() {
                describe_rows(&mut out, "same rows, eddy's order", a);
                describe_rows(&mut out, "postgres's order", e);
            }
            Some(out)
        }
        (Ok(e), Err(a)) => {
            let mut out = format!("  eddy fails: {a}\n");
            describe_rows(&mut out, "postgres rows", e);
            Some(out)
        }
        (Err(e), Ok(a)) => {
            let mut out = format!("  postgres fails: {e}\n");
            describe_rows(&mut out, "eddy rows", a);
            Some(out)
        }
        (Err(e), Err(a)) => Some(format!("  eddy fails: {a}\n  postgres fails: {e}\n")),
    }
}
