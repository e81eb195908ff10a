//! `eddy-lag-bench`: what a target lag saves. A high-churn aggregation (every change an
//! update of existing keys) is maintained with no lag and with each `--lags` value; for
//! each it prints the eddy process's CPU seconds per million input changes and the output
//! changes per second a SUBSCRIBE to the view receives. Then SUBSCRIBE latency: from an
//! INSERT returning to the subscriber receiving the change, p50/p99. Prints figures; not
//! a test.

#[path = "machine.rs"]
#[allow(dead_code)]
mod machine;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use eddy_tests::EddyProcess;
use futures::StreamExt;

use crate::machine::{cpu_time, percentile, Machine};

#[derive(Parser, Debug)]
#[command(name = "eddy-lag-bench", version)]
struct Args {
    /// Target lags to compare with no lag, in milliseconds.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,60000")]
    lags: Vec<u64>,
    /// Also run each lag with `REFRESH_MODE = FULL` (recomputed from scratch per refresh).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    full: bool,
    /// Seconds of churn per run (at least twice the lag is used).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Keys in the table; each UPDATE changes `--batch` of them.
    #[arg(long, default_value_t = 10_000)]
    keys: u64,
    #[arg(long, default_value_t = 1000)]
    batch: u64,
    /// SUBSCRIBE latency samples.
    #[arg(long, default_value_t = 200)]
    latency_iters: usize,
    #[arg(long)]
    workers: Option<usize>,
    #[arg(long)]
    eddy_bin: Option<PathBuf>,
}

struct Run {
    lag_ms: u64,
    full: bool,
    input_changes: u64,
    seconds: f64,
    cpu: Duration,
    output_changes: u64,
}

/// Counts the change lines (not progress lines) a subscription delivers.
fn count_changes(stream: tokio_postgres::CopyOutStream, counter: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut stream = Box::pin(stream);
        while let Some(Ok(chunk)) = stream.next().await {
            let lines = chunk.split(|b| *b == b'\n').filter(|l| !l.is_empty() && !is_progress(l)).count();
            counter.fetch_add(lines as u64, Ordering::Relaxed);
        }
    })
}

/// `mz_timestamp \t mz_progressed \t ...`: progress lines have `t` second.
fn is_progress(line: &[u8]) -> bool {
    line.split(|b| *b == b'\t').nth(1) == Some(b"t")
}

async fn churn(server: &EddyProcess, args: &Args, lag_ms: u64, full: bool) -> anyhow::Result<Run> {
    let client = server.connect().await?;
    let mode = if full { "FULL" } else { "INCREMENTAL" };
    let lag =
        if lag_ms == 0 { String::new() } else { format!("WITH (TARGET_LAG = '{lag_ms} ms', REFRESH_MODE = '{mode}')") };
    client
        .batch_execute(&format!(
            "CREATE MATERIALIZED VIEW agg {lag} AS SELECT k % 100 AS g, count(*) AS n, sum(v) AS total FROM kv GROUP BY 1"
        ))
        .await?;
    let subscriber = server.connect().await?;
    let counter = Arc::new(AtomicU64::new(0));
    let stream = subscriber.copy_out("COPY (SUBSCRIBE TO agg WITH (SNAPSHOT = false, PROGRESS)) TO STDOUT").await?;
    let task = count_changes(stream, counter.clone());
    let seconds = args.seconds.max(2 * lag_ms / 1000);
    let cpu_before = cpu_time(server.pid());
    let started = Instant::now();
    let mut input_changes = 0;
    let mut from = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        let to = from + args.batch;
        client.batch_execute(&format!("UPDATE kv SET v = v + 1 WHERE k >= {from} AND k < {to}")).await?;
        input_changes += 2 * args.batch; // a retraction and an insertion per row
        from = to % args.keys;
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Let the last refresh land before counting.
    tokio::time::sleep(Duration::from_millis(lag_ms + 500)).await;
    let cpu = cpu_time(server.pid()).saturating_sub(cpu_before);
    let output_changes = counter.load(Ordering::Relaxed);
    client.batch_execute("DROP MATERIALIZED VIEW agg").await?;
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    Ok(Run { lag_ms, full, input_changes, seconds: elapsed, cpu, output_changes })
}

async fn subscribe_latency(server: &EddyProcess, iters: usize) -> anyhow::Result<Vec<f64>> {
    let client = server.connect().await?;
    let subscriber = server.connect().await?;
    client
        .batch_execute("CREATE TABLE probe (id bigint); CREATE MATERIALIZED VIEW top AS SELECT max(id) AS m FROM probe")
        .await?;
    let mut stream = Box::pin(subscriber.copy_out("COPY (SUBSCRIBE TO top WITH (SNAPSHOT = false)) TO STDOUT").await?);
    let mut latencies = Vec::with_capacity(iters);
    let mut pending = String::new();
    for i in 1..=iters as i64 {
        let sent = Instant::now();
        client.batch_execute(&format!("INSERT INTO probe VALUES ({i})")).await?;
        // Wait for the line adding max = i.
        'wait: loop {
            let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
                .await?
                .ok_or_else(|| anyhow::anyhow!("subscription ended"))??;
            pending.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = pending.find('\n') {
                let line: String = pending.drain(..=end).collect();
                let fields: Vec<&str> = line.trim_end().split('\t').collect();
                if fields.get(1) == Some(&"1") && fields.get(2) == Some(&i.to_string().as_str()) {
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    break 'wait;
                }
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let machine = Machine::detect();
    let workers = args.workers.unwrap_or(machine.cores);
    let eddy_bin = args.eddy_bin.clone().unwrap_or_else(machine::eddy_next_to_this_program);
    let server = EddyProcess::start_with(&eddy_bin, workers)?;
    let client = server.connect().await?;
    client
        .batch_execute(&format!(
            "CREATE TABLE kv (k int, v int); INSERT INTO kv SELECT g, 0 FROM generate_series(0, {}) g",
            args.keys - 1
        ))
        .await?;
    let mut runs = Vec::new();
    let full_runs = args.lags.iter().copied().filter(|_| args.full).map(|lag| (lag, true));
    for (lag, full) in std::iter::once((0, false)).chain(args.lags.iter().map(|&l| (l, false))).chain(full_runs) {
        eprintln!("churn with target lag {lag} ms{}", if full { ", REFRESH_MODE = FULL" } else { "" });
        runs.push(churn(&server, &args, lag, full).await?);
    }
    eprintln!("SUBSCRIBE latency");
    let latencies = subscribe_latency(&server, args.latency_iters).await?;

    println!("# eddy-lag-bench");
    println!(
        "machine: {} cores, {:.1} GiB, {}, load {}; eddy --workers {workers}",
        machine.cores,
        machine.ram_bytes as f64 / (1u64 << 30) as f64,
        machine.cpu_model,
        machine::load_average()
    );
    println!(
        "view: SELECT k % 100, count(*), sum(v) FROM kv GROUP BY 1 over {} keys; UPDATEs of {} rows back to back",
        args.keys, args.batch
    );
    println!(
        "{:>14} {:>14} {:>10} {:>20} {:>18}",
        "lag", "input chg/s", "seconds", "CPU s / M input chg", "output chg/s"
    );
    for r in &runs {
        let lag = match (r.lag_ms, r.full) {
            (0, _) => "none".to_string(),
            (ms, false) => format!("{ms} ms"),
            (ms, true) => format!("{ms} ms FULL"),
        };
        println!(
            "{:>14} {:>14.0} {:>10.1} {:>20.2} {:>18.1}",
            lag,
            r.input_changes as f64 / r.seconds,
            r.seconds,
            r.cpu.as_secs_f64() / (r.input_changes as f64 / 1e6),
            r.output_changes as f64 / r.seconds
        );
    }
    println!(
        "SUBSCRIBE latency, INSERT returned -> change received ({} samples): p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    Ok(())
}
