//! Baseline B: PostgreSQL 15's `REFRESH MATERIALIZED VIEW` of the `GROUP BY` view after the
//! same 1k-row change, on the same data, in a throwaway server on loopback.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use eddy_tests::postgres::PostgresProcess;

use crate::client::{connect, copy_in, execute, poll_until, ticking};
use crate::data::{Data, Model};
use crate::progress;

/// Server settings: durability off (a throwaway server, and it only makes PostgreSQL
/// faster), memory for the aggregate so it does not spill, no checkpoints mid-load.
const SETTINGS: &[(&str, &str)] = &[
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("shared_buffers", "1GB"),
    ("work_mem", "256MB"),
    ("maintenance_work_mem", "512MB"),
    ("max_wal_size", "16GB"),
    ("checkpoint_timeout", "1h"),
    ("autovacuum", "off"),
];

/// PostgreSQL's figures.
#[derive(Clone, Debug)]
pub struct PgFigures {
    pub copy_time: Duration,
    pub create_view_time: Duration,
    /// `REFRESH MATERIALIZED VIEW` after each 1k-row INSERT.
    pub refreshes: Vec<Duration>,
}

/// Loads `a` with the same COPY chunks, creates the view, then `refreshes` times: inserts
/// the same 1k rows Eddy's latency runs insert and times `REFRESH MATERIALIZED VIEW gv`.
pub async fn run(
    bin: &Path,
    data: &Data,
    chunks: &[Bytes],
    inserts: &[std::ops::Range<u64>],
    refreshes: usize,
) -> anyhow::Result<PgFigures> {
    if !bin.join("postgres").exists() {
        bail!(
            "PostgreSQL 15 is not installed at {} (apt-get install postgresql-15, or pass --pg-bin; --no-postgres skips this baseline)",
            bin.display()
        );
    }
    let pg = PostgresProcess::start_with(bin, SETTINGS)?;
    progress(&format!("postgres: started on 127.0.0.1:{}", pg.port));
    run_on(&pg, data, chunks, inserts, refreshes).await
}

async fn run_on(
    pg: &PostgresProcess,
    data: &Data,
    chunks: &[Bytes],
    inserts: &[std::ops::Range<u64>],
    refreshes: usize,
) -> anyhow::Result<PgFigures> {
    let client = connect(&pg.connection_string("postgres")).await?;
    execute(&client, "CREATE TABLE a (id bigint NOT NULL, k bigint NOT NULL, v bigint NOT NULL)").await?;
    let start = Instant::now();
    let mut sent = 0;
    for chunk in chunks {
        sent += copy_in(&client, "a", chunk).await?;
        progress(&format!("postgres load: {sent}/{} rows copied, {:.1} s", data.rows, start.elapsed().as_secs_f64()));
    }
    let copy_time = start.elapsed();
    ticking("postgres: VACUUM ANALYZE a", execute(&client, "VACUUM ANALYZE a")).await?;
    let start = Instant::now();
    ticking(
        "postgres: CREATE MATERIALIZED VIEW gv",
        execute(&client, "CREATE MATERIALIZED VIEW gv AS SELECT k, count(*) AS n, sum(v) AS s FROM a GROUP BY k"),
    )
    .await?;
    let create_view_time = start.elapsed();
    progress(&format!("postgres: view created in {:.2} s", create_view_time.as_secs_f64()));
    let mut model = Model::new(data.keys);
    model.apply(data, 0..data.rows, 1);
    let mut times = Vec::new();
    for ids in inserts.iter().take(refreshes) {
        execute(&client, &data.insert_sql(ids.clone())).await?;
        model.apply(data, ids.clone(), 1);
        let start = Instant::now();
        ticking("postgres: REFRESH MATERIALIZED VIEW gv", execute(&client, "REFRESH MATERIALIZED VIEW gv")).await?;
        let took = start.elapsed();
        progress(&format!(
            "postgres: REFRESH MATERIALIZED VIEW gv after a {}-row INSERT took {:.2} s",
            ids.end - ids.start,
            took.as_secs_f64()
        ));
        times.push(took);
    }
    poll_until(&client, "SELECT sum(n), sum(s) FROM gv", &[model.rows, model.sum], Duration::from_secs(60))
        .await
        .context("PostgreSQL's view does not hold the expected totals")?;
    Ok(PgFigures { copy_time, create_view_time, refreshes: times })
}
