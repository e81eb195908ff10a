//! Eddy under test: a fresh `eddy` release process per view, driven over pgwire.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;
use eddy_tests::EddyProcess;
use tokio_postgres::Client;

use crate::client::{connect, copy_in, execute, poll_until, ticking};
use crate::data::{Data, Model, Step, Workload};
use crate::machine::{cpu_time, rss};
use crate::{progress, Config, View};

/// How long a check may take before the run is declared broken.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3600);

/// `perf record` (DWARF call graphs) attached to a process while alive; stopped with SIGINT.
pub struct Perf {
    child: Option<Child>,
}

impl Perf {
    pub fn start(dir: Option<&Path>, pid: u32, name: &str) -> Perf {
        let Some(dir) = dir else {
            return Perf { child: None };
        };
        let _ = std::fs::create_dir_all(dir);
        let out = dir.join(format!("{name}.perf.data"));
        let child = Command::new("perf")
            .args(["record", "-F", "199", "--call-graph", "dwarf,16384", "-p", &pid.to_string(), "-o"])
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(c) => {
                progress(&format!("perf recording eddy into {}", out.display()));
                // Give perf a moment to attach before the measured work starts.
                std::thread::sleep(Duration::from_millis(300));
                Perf { child: Some(c) }
            }
            Err(e) => {
                progress(&format!("cannot start perf ({e}); not profiling"));
                Perf { child: None }
            }
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").args(["-INT", &c.id().to_string()]).status();
            let _ = c.wait();
        }
    }
}

impl Drop for Perf {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One measured batch: its size, what it did, and how long until the view showed it.
#[derive(Clone, Debug)]
pub struct BatchFigure {
    pub size: u64,
    pub kind: &'static str,
    /// Until the INSERT / DELETE statement returned.
    pub statement: Duration,
    /// Until the view showed the change (includes `statement`).
    pub visible: Duration,
}

/// Everything measured for one view.
#[derive(Clone, Debug)]
pub struct EddyFigures {
    pub view: View,
    pub rows: u64,
    /// Until the last COPY returned.
    pub copy_time: Duration,
    /// From the first COPY byte until the view reflected every row.
    pub load_time: Duration,
    /// CPU time the eddy process spent during the load.
    pub load_cpu: Duration,
    /// The join's dimension table load (COPY of `b`), not part of `load_time`.
    pub dimension_load: Option<Duration>,
    /// What one freshness check query costs on its own, with nothing to catch up on.
    pub check_cost: Duration,
    pub latency_check_cost: Duration,
    pub batches: Vec<BatchFigure>,
    /// From sending a 1k-row INSERT until the view showed it.
    pub latency: Vec<Duration>,
    /// The part of each `latency` until the INSERT returned.
    pub latency_insert: Vec<Duration>,
    pub idle_rss: u64,
    pub rss_after_load: u64,
    /// RSS once it stopped falling after the load (merges done, freed memory returned).
    pub rss_settled: u64,
    /// What the arrangements of the table(s) and the view hold (`eddy_catalog.storage`).
    pub arranged_bytes: u64,
    pub rss_end: u64,
    pub peak_rss: u64,
    /// Rows held in arrangements after the load: table rows plus view rows.
    pub maintained_rows: u64,
}

/// The DDL, the whole-view check, and the one-key check of a view.
struct ViewSql {
    ddl: &'static [&'static str],
    check: &'static str,
    key_check: &'static str,
}

fn view_sql(view: View) -> ViewSql {
    match view {
        View::GroupBy => ViewSql {
            ddl: &[
                "CREATE TABLE a (id bigint NOT NULL, k bigint NOT NULL, v bigint NOT NULL)",
                "CREATE MATERIALIZED VIEW gv AS SELECT k, count(*) AS n, sum(v) AS s FROM a GROUP BY k",
            ],
            check: "SELECT sum(n), sum(s) FROM gv",
            key_check: "SELECT n, s FROM gv WHERE k = ",
        },
        View::Join => ViewSql {
            ddl: &[
                "CREATE TABLE a (id bigint NOT NULL, k bigint NOT NULL, v bigint NOT NULL)",
                "CREATE TABLE b (k bigint NOT NULL, name text NOT NULL)",
                "CREATE MATERIALIZED VIEW jv AS SELECT a.id, a.k, a.v, b.name FROM a JOIN b ON a.k = b.k",
                // The latency check reads jv by k, as a user would through an index.
                "CREATE INDEX jv_k ON jv (k)",
            ],
            check: "SELECT count(*), sum(v) FROM jv",
            key_check: "SELECT count(*), sum(v) FROM jv WHERE k = ",
        },
    }
}

/// What the whole-view check returns when the view holds `model`.
fn check_expected(model: &Model) -> Vec<i64> {
    vec![model.rows, model.sum]
}

/// Median of a few runs of `sql`: what the check costs by itself.
async fn check_cost(client: &Client, sql: &str, expected: &[i64]) -> anyhow::Result<Duration> {
    let mut times = Vec::new();
    for _ in 0..3 {
        times.push(poll_until(client, sql, expected, CHECK_TIMEOUT).await?.0);
    }
    times.sort();
    Ok(times[1])
}

/// Loads, changes and measures one view on a fresh eddy process.
pub async fn run(
    cfg: &Config,
    view: View,
    data: &Data,
    workload: &Workload,
    chunks: &[Bytes],
    latency_iters: usize,
) -> anyhow::Result<EddyFigures> {
    let mut eddy = EddyProcess::start_with(&cfg.eddy_bin, cfg.workers)?;
    progress(&format!(
        "eddy ({} view): started pid {} on 127.0.0.1:{} with {} workers",
        view.name(),
        eddy.pid(),
        eddy.port,
        cfg.workers
    ));
    let result = run_on(cfg, &eddy, view, data, workload, chunks, latency_iters).await;
    let result = result.map_err(|e| anyhow::anyhow!("{e:#}\neddy log:\n{}", eddy.log_tail()));
    eddy.stop();
    result
}

async fn run_on(
    cfg: &Config,
    eddy: &EddyProcess,
    view: View,
    data: &Data,
    workload: &Workload,
    chunks: &[Bytes],
    latency_iters: usize,
) -> anyhow::Result<EddyFigures> {
    let pid = eddy.pid();
    let client = connect(&eddy.connection_string()).await?;
    let sql = view_sql(view);
    for ddl in sql.ddl {
        execute(&client, ddl).await?;
    }
    let idle_rss = rss(pid).0;
    let label = format!("eddy {} load", view.name());

    let dimension_load = if view == View::Join {
        let text = Bytes::from(data.dimension_copy_text());
        let start = Instant::now();
        let n = copy_in(&client, "b", &text).await?;
        if n != data.keys {
            bail!("COPY b reported {n} rows, expected {}", data.keys);
        }
        let t = start.elapsed();
        progress(&format!("{label}: dimension table b ({} rows) copied in {:.2} s", data.keys, t.as_secs_f64()));
        Some(t)
    } else {
        None
    };

    // The initial load: COPY chunks back to back, then wait for the view to show them all.
    let mut model = Model::new(data.keys);
    let mut perf = Perf::start(cfg.perf_dir.as_deref(), pid, &format!("{}-load", view.name()));
    let cpu_before = cpu_time(pid);
    let start = Instant::now();
    let mut sent = 0u64;
    for chunk in chunks {
        let n = copy_in(&client, "a", chunk).await?;
        sent += n;
        progress(&format!(
            "{label}: {sent}/{} rows copied, {:.1} s, {:.0} rows/s accepted so far",
            data.rows,
            start.elapsed().as_secs_f64(),
            sent as f64 / start.elapsed().as_secs_f64()
        ));
    }
    if sent != data.rows {
        bail!("COPY reported {sent} rows in all, expected {}", data.rows);
    }
    let copy_time = start.elapsed();
    model.apply(data, 0..data.rows, 1);
    let expected = check_expected(&model);
    ticking(&format!("{label}: waiting for the view"), poll_until(&client, sql.check, &expected, CHECK_TIMEOUT))
        .await?;
    let load_time = start.elapsed();
    let load_cpu = cpu_time(pid).saturating_sub(cpu_before);
    perf.stop();
    let rss_after_load = rss(pid).0;
    progress(&format!(
        "{label}: view complete after {:.2} s ({:.0} rows/s), RSS {:.0} MiB",
        load_time.as_secs_f64(),
        data.rows as f64 / load_time.as_secs_f64(),
        crate::machine::mib(rss_after_load)
    ));
    let view_rows = match view {
        View::GroupBy => model.groups() as u64,
        View::Join => data.rows,
    };
    let maintained_rows = data.rows + view_rows + dimension_load.map_or(0, |_| data.keys);
    let rss_settled = settle_rss(pid).await;
    let arranged_bytes: Option<i64> =
        client.query_one("SELECT sum(bytes_in_memory)::bigint FROM eddy_catalog.storage", &[]).await?.get(0);
    progress(&format!(
        "{label}: RSS settled at {:.0} MiB; arrangements hold {:.0} MiB",
        crate::machine::mib(rss_settled),
        crate::machine::mib(arranged_bytes.unwrap_or(0) as u64)
    ));

    let check_cost = check_cost(&client, sql.check, &expected).await?;
    let probe_key = data.key(0);
    let key_check = format!("{}{probe_key}", sql.key_check);
    let latency_check_cost = check_cost_key(&client, &key_check, &model, probe_key).await?;
    progress(&format!(
        "{label}: a check query alone takes {:.1} ms (whole view), {:.1} ms (one key)",
        ms(check_cost),
        ms(latency_check_cost)
    ));

    // Batches of changes.
    let mut perf = Perf::start(cfg.perf_dir.as_deref(), pid, &format!("{}-batches", view.name()));
    let mut batches = Vec::new();
    for batch in &workload.batches {
        let statement_sql = match &batch.step {
            Step::Insert(ids) => data.insert_sql(ids.clone()),
            Step::Delete(ids) => Data::delete_sql(ids),
        };
        model.apply_step(data, &batch.step);
        let expected = check_expected(&model);
        let start = Instant::now();
        let affected = execute(&client, &statement_sql).await?;
        let statement = start.elapsed();
        if affected != batch.step.len() {
            bail!("{} of {} rows affected {affected} rows", batch.step.kind(), batch.step.len());
        }
        poll_until(&client, sql.check, &expected, CHECK_TIMEOUT).await?;
        let visible = start.elapsed();
        progress(&format!(
            "eddy {} batch: {} {} rows, statement {:.1} ms, visible after {:.1} ms ({:.0} updates/s)",
            view.name(),
            batch.step.kind(),
            batch.size,
            ms(statement),
            ms(visible),
            batch.size as f64 / visible.as_secs_f64()
        ));
        batches.push(BatchFigure { size: batch.size, kind: batch.step.kind(), statement, visible });
    }
    perf.stop();

    // Latency: a 1k-row INSERT, then poll one key it changed until the view shows it.
    let mut perf = Perf::start(cfg.perf_dir.as_deref(), pid, &format!("{}-latency", view.name()));
    let (mut latency, mut latency_insert) = (Vec::new(), Vec::new());
    for (i, ids) in workload.latency.iter().take(latency_iters).enumerate() {
        let insert = data.insert_sql(ids.clone());
        model.apply(data, ids.clone(), 1);
        let key = data.key(ids.start);
        let check = format!("{}{key}", sql.key_check);
        let expected = vec![model.count[key as usize], model.key_sum[key as usize]];
        let start = Instant::now();
        execute(&client, &insert).await?;
        latency_insert.push(start.elapsed());
        poll_until(&client, &check, &expected, CHECK_TIMEOUT).await?;
        latency.push(start.elapsed());
        if (i + 1) % 10 == 0 {
            progress(&format!(
                "eddy {} latency: {}/{} inserts, last {:.1} ms",
                view.name(),
                i + 1,
                latency_iters,
                ms(*latency.last().unwrap_or(&Duration::ZERO))
            ));
        }
    }
    perf.stop();
    poll_until(&client, sql.check, &check_expected(&model), CHECK_TIMEOUT).await?;
    let (rss_end, peak_rss) = rss(pid);
    Ok(EddyFigures {
        view,
        rows: data.rows,
        copy_time,
        load_time,
        load_cpu,
        dimension_load,
        check_cost,
        latency_check_cost,
        batches,
        latency,
        latency_insert,
        idle_rss,
        rss_after_load,
        rss_settled,
        arranged_bytes: arranged_bytes.unwrap_or(0) as u64,
        rss_end,
        peak_rss,
        maintained_rows,
    })
}

async fn check_cost_key(client: &Client, sql: &str, model: &Model, key: u64) -> anyhow::Result<Duration> {
    let expected = [model.count[key as usize], model.key_sum[key as usize]];
    check_cost(client, sql, &expected).await
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// RSS once it has stopped falling: sampled every second until five samples in a row
/// stay within 1% of each other (at most 30 s). Merges, RocksDB's flushes and the
/// allocator give memory back for a while after a load.
async fn settle_rss(pid: u32) -> u64 {
    let mut window: Vec<u64> = vec![rss(pid).0];
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        window.push(rss(pid).0);
        let recent = &window[window.len().saturating_sub(5)..];
        let (lo, hi) = (recent.iter().min().copied().unwrap_or(0), recent.iter().max().copied().unwrap_or(0));
        if recent.len() == 5 && hi as f64 <= lo as f64 * 1.01 {
            break;
        }
    }
    window.last().copied().unwrap_or(0)
}
