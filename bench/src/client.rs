//! pgwire client helpers shared by the Eddy and PostgreSQL runs (tokio-postgres).

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use futures::SinkExt;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// Bytes per COPY data message.
const COPY_MESSAGE_BYTES: usize = 256 * 1024;

/// Connects over TCP; the connection task runs in the background.
pub async fn connect(conn: &str) -> anyhow::Result<Client> {
    let (client, connection) =
        tokio_postgres::connect(conn, NoTls).await.with_context(|| format!("connecting to {conn}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Runs `sql` (simple protocol) and returns the first row's columns as text.
pub async fn first_row(client: &Client, sql: &str) -> anyhow::Result<Vec<Option<String>>> {
    for msg in client.simple_query(sql).await.with_context(|| format!("running {}", abbreviate(sql)))? {
        if let SimpleQueryMessage::Row(row) = msg {
            return Ok((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect());
        }
    }
    Ok(vec![])
}

/// Runs one statement (simple protocol) and returns the rows it affected.
pub async fn execute(client: &Client, sql: &str) -> anyhow::Result<u64> {
    let mut affected = 0;
    for msg in client.simple_query(sql).await.with_context(|| format!("running {}", abbreviate(sql)))? {
        if let SimpleQueryMessage::CommandComplete(n) = msg {
            affected = n;
        }
    }
    Ok(affected)
}

/// One `COPY <table> FROM STDIN` (text format) carrying `data`; returns the rows copied.
pub async fn copy_in(client: &Client, table: &str, data: &Bytes) -> anyhow::Result<u64> {
    let sink = client
        .copy_in::<_, Bytes>(&format!("COPY {table} FROM STDIN"))
        .await
        .with_context(|| format!("starting COPY {table}"))?;
    futures::pin_mut!(sink);
    let mut start = 0;
    while start < data.len() {
        let end = (start + COPY_MESSAGE_BYTES).min(data.len());
        sink.feed(data.slice(start..end)).await?;
        start = end;
    }
    let copied = sink.finish().await.with_context(|| format!("finishing COPY {table}"))?;
    Ok(copied)
}

/// Integers print as integers whatever the column type (`numeric` sums may carry `.0`).
pub fn normalize(value: &Option<String>) -> String {
    match value {
        None => "NULL".into(),
        Some(v) if v.contains('.') => {
            let t = v.trim_end_matches('0').trim_end_matches('.');
            t.to_string()
        }
        Some(v) => v.clone(),
    }
}

/// Runs `sql` until its first row equals `expected`; returns the time taken and polls.
pub async fn poll_until(
    client: &Client,
    sql: &str,
    expected: &[i64],
    timeout: Duration,
) -> anyhow::Result<(Duration, u32)> {
    let start = Instant::now();
    let want: Vec<String> = expected.iter().map(|e| e.to_string()).collect();
    let mut polls = 0;
    loop {
        let row = first_row(client, sql).await?;
        polls += 1;
        let got: Vec<String> = row.iter().map(normalize).collect();
        if got == want {
            return Ok((start.elapsed(), polls));
        }
        if start.elapsed() > timeout {
            bail!("`{sql}` still returns {got:?} after {:.1} s, expected {want:?}", start.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// Awaits `fut`, printing a progress line every 5 seconds while it runs.
pub async fn ticking<F: Future>(label: &str, fut: F) -> F::Output {
    let start = Instant::now();
    let period = Duration::from_secs(5);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tokio::pin!(fut);
    loop {
        tokio::select! {
            out = &mut fut => return out,
            _ = tick.tick() => {
                crate::progress(&format!(
                    "{label}: still waiting, {:.0} s",
                    start.elapsed().as_secs_f64()
                ));
            }
        }
    }
}

fn abbreviate(sql: &str) -> String {
    if sql.len() <= 80 {
        sql.to_string()
    } else {
        let mut end = 80;
        while !sql.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} bytes)", &sql[..end], sql.len())
    }
}
