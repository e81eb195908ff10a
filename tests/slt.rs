//! Runs every `tests/slt/*.slt` file against a fresh `eddy` process over pgwire, on one
//! worker and on several.

use std::path::PathBuf;

use async_trait::async_trait;
use eddy_tests::EddyProcess;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};
use tokio_postgres::SimpleQueryMessage;

struct Eddy {
    client: tokio_postgres::Client,
}

/// A database error with its full message (tokio-postgres prints only "db error").
#[derive(Debug)]
struct DbError {
    message: String,
    code: Option<String>,
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DbError {}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        let message = match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => e.to_string(),
        };
        DbError { message, code: e.code().map(|c| c.code().to_string()) }
    }
}

#[async_trait]
impl AsyncDB for Eddy {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let messages = self.client.simple_query(sql).await?;
        let mut rows = Vec::new();
        let mut columns = None;
        let mut affected = 0;
        for m in messages {
            match m {
                SimpleQueryMessage::RowDescription(desc) => columns = Some(desc.len()),
                SimpleQueryMessage::Row(row) => {
                    columns = Some(row.len());
                    rows.push(
                        (0..row.len())
                            .map(|i| match row.get(i) {
                                None => "NULL".to_string(),
                                Some("") => "(empty)".to_string(),
                                Some(s) => s.to_string(),
                            })
                            .collect(),
                    );
                }
                SimpleQueryMessage::CommandComplete(n) => affected = n,
                _ => {}
            }
        }
        Ok(match columns {
            Some(n) => DBOutput::Rows { types: vec![DefaultColumnType::Any; n], rows },
            None => DBOutput::StatementComplete(affected),
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "eddy"
    }

    fn error_sql_state(err: &Self::Error) -> Option<String> {
        err.code.clone()
    }
}

#[tokio::main]
async fn main() {
    let dir = eddy_tests::manifest_dir().join("slt");
    let filter = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/slt exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .filter(|p| filter.as_ref().is_none_or(|f| p.to_string_lossy().contains(f.as_str())))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for workers in [1, 3] {
        for file in &files {
            let server = EddyProcess::start(workers).expect("eddy starts");
            let conn = server.connection_string();
            let mut runner = Runner::new(move || {
                let conn = conn.clone();
                async move {
                    let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await?;
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                    Ok(Eddy { client })
                }
            });
            let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            match runner.run_file_async(file).await {
                Ok(()) => println!("ok   {name} (workers={workers})"),
                Err(e) => {
                    println!("FAIL {name} (workers={workers})\n{e}");
                    failures.push(format!("{name} (workers={workers})"));
                }
            }
        }
    }
    if !failures.is_empty() {
        eprintln!("{} slt file(s) failed: {}", failures.len(), failures.join(", "));
        std::process::exit(1);
    }
}
