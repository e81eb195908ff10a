//! Baseline B: PostgreSQL 15's `REFRESH MATERIALIZED VIEW` of the `GROUP BY` view after the
//! same 1k-row change, on the same data, in a throwaway server on loopback.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;

use crate::client::{connect, copy_in, execute, poll_until, ticking};
use crate::data::{Data, Model};
use crate::machine::free_port;
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

/// A running PostgreSQL, stopped and its directory removed on drop.
pub struct Postgres {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    as_postgres_user: bool,
}

impl Postgres {
    pub fn start(bin: &Path) -> anyhow::Result<Postgres> {
        if !bin.join("postgres").exists() {
            bail!(
                "PostgreSQL 15 is not installed at {} (apt-get install postgresql-15, or pass --pg-bin; --no-postgres skips this baseline)",
                bin.display()
            );
        }
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!("eddy-bench-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let as_postgres_user = std::fs::metadata("/proc/self")?.uid() == 0;
        let pg = Postgres { port, dir, bin: bin.to_path_buf(), as_postgres_user };
        if as_postgres_user {
            check(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&pg.dir).output()?, "chown")?;
        }
        check(
            pg.command("initdb")
                .arg("-D")
                .arg(pg.data_dir())
                .args(["-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"])
                .output()?,
            "initdb",
        )?;
        let mut options = format!("-c listen_addresses=127.0.0.1 -p {port} -k {}", pg.dir.display());
        for (name, value) in SETTINGS {
            options.push_str(&format!(" -c {name}={value}"));
        }
        let started = pg
            .command("pg_ctl")
            .arg("-D")
            .arg(pg.data_dir())
            .arg("-l")
            .arg(pg.dir.join("postgres.log"))
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .output()?;
        if let Err(e) = check(started, "pg_ctl start") {
            let log = std::fs::read_to_string(pg.dir.join("postgres.log")).unwrap_or_default();
            bail!("{e}\nserver log:\n{log}");
        }
        Ok(pg)
    }

    pub fn connection_string(&self) -> String {
        format!("host=127.0.0.1 port={} user=postgres dbname=postgres", self.port)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Server binary `name`, run as the `postgres` user when we are root.
    fn command(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        let mut cmd = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.current_dir(&self.dir);
        cmd
    }

    pub fn stop(&mut self) {
        if self.data_dir().join("postmaster.pid").exists() {
            let _ = self.command("pg_ctl").arg("-D").arg(self.data_dir()).args(["-m", "fast", "-w", "stop"]).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn check(output: Output, what: &str) -> anyhow::Result<()> {
    if output.status.success() {
        return Ok(());
    }
    bail!(
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

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
    let mut pg = Postgres::start(bin)?;
    progress(&format!("postgres: started on 127.0.0.1:{}", pg.port));
    let result = run_on(&pg, data, chunks, inserts, refreshes).await;
    pg.stop();
    result
}

async fn run_on(
    pg: &Postgres,
    data: &Data,
    chunks: &[Bytes],
    inserts: &[std::ops::Range<u64>],
    refreshes: usize,
) -> anyhow::Result<PgFigures> {
    let client = connect(&pg.connection_string()).await?;
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
