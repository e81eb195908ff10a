//! `eddy-durability-bench`: what durability costs and how fast a restart is. Prints:
//! durable INSERT throughput and latency with 1, 8 and 64 concurrent sessions (and the
//! same with `--ephemeral`, which syncs nothing); NEXMARK load-generator ingest with
//! durability against `--ephemeral` (the cost as a ratio); and, over `--restart-gib` of
//! stored source data, the time after SIGKILL to the first read, to reading a view over
//! all of it, and to full rehydration, with resident memory then against steady state.
//! Prints figures; not a test.

#[path = "machine.rs"]
#[allow(dead_code)]
mod machine;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use eddy_tests::EddyProcess;
use tokio_postgres::Client;

use crate::machine::{gib, mib, percentile, rss, Machine};

#[derive(Parser, Debug)]
#[command(name = "eddy-durability-bench", version)]
struct Args {
    /// Concurrent INSERT sessions to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    sessions: Vec<usize>,
    /// Seconds of INSERTs per session count.
    #[arg(long, default_value_t = 5)]
    insert_seconds: u64,
    /// NEXMARK events for the ingest comparison.
    #[arg(long, default_value_t = 1_000_000)]
    ingest_events: u64,
    /// Source data for the restart measurement, in GiB: the stored rows as encoded,
    /// before compression (on disk they take less; both are printed).
    #[arg(long, default_value_t = 1.0)]
    restart_gib: f64,
    #[arg(long)]
    workers: Option<usize>,
    #[arg(long)]
    eddy_bin: Option<PathBuf>,
}

struct InsertRun {
    sessions: usize,
    rows: u64,
    seconds: f64,
    latencies_ms: Vec<f64>,
}

async fn inserts(server: &EddyProcess, sessions: usize, seconds: u64) -> anyhow::Result<InsertRun> {
    let setup = server.connect().await?;
    setup.batch_execute("DROP TABLE IF EXISTS ins; CREATE TABLE ins (session int, n bigint, note text)").await?;
    let rows = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..sessions {
        let client = server.connect().await?;
        let rows = rows.clone();
        tasks.push(tokio::spawn(async move {
            let statement = client.prepare("INSERT INTO ins VALUES ($1, $2, 'some payload text')").await?;
            let mut latencies = Vec::new();
            let mut n: i64 = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                client.execute(&statement, &[&(s as i32), &n]).await?;
                latencies.push(t.elapsed().as_secs_f64() * 1e3);
                rows.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies_ms = Vec::new();
    for t in tasks {
        latencies_ms.extend(t.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies_ms.sort_by(f64::total_cmp);
    let stored: i64 = setup.query_one("SELECT count(*) FROM ins", &[]).await?.get(0);
    let rows = rows.load(Ordering::Relaxed);
    anyhow::ensure!(stored as u64 == rows, "{rows} INSERTs acknowledged but {stored} rows stored");
    Ok(InsertRun { sessions, rows, seconds, latencies_ms })
}

const TABLES: [&str; 3] = ["person", "auction", "bid"];

/// Starts a NEXMARK source producing `events` events as fast as it can, with a count
/// view over each of its tables.
async fn start_nexmark(client: &Client, events: u64) -> anyhow::Result<()> {
    client
        .batch_execute(&format!(
            "CREATE SOURCE nx FROM LOAD GENERATOR NEXMARK (TICK INTERVAL '10ms', EVENTS PER SECOND 1000000, UP TO {events}) FOR ALL TABLES"
        ))
        .await?;
    for t in TABLES {
        client.batch_execute(&format!("CREATE MATERIALIZED VIEW count_{t} AS SELECT count(*) AS n FROM {t}")).await?;
    }
    Ok(())
}

/// Rows counted by the views so far.
async fn counted(client: &Client) -> anyhow::Result<i64> {
    let mut n = 0;
    for t in TABLES {
        n += client.query_one(&format!("SELECT n FROM count_{t}"), &[]).await?.get::<_, i64>(0);
    }
    Ok(n)
}

/// Seconds from CREATE SOURCE until the views have counted all `events` NEXMARK events
/// (each event is one row in one table).
async fn ingest(client: &Client, events: u64) -> anyhow::Result<f64> {
    let started = Instant::now();
    start_nexmark(client, events).await?;
    while (counted(client).await? as u64) < events {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The sources' stored rows, in bytes as encoded (before compression).
async fn source_bytes(client: &Client) -> anyhow::Result<i64> {
    let sql = "SELECT sum(bytes)::bigint FROM eddy_catalog.storage WHERE kind = 'source'";
    Ok(client.query_one(sql, &[]).await?.get::<_, Option<i64>>(0).unwrap_or(0))
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

struct RestartRun {
    events: u64,
    disk_bytes: u64,
    data_bytes: u64,
    steady_rss: u64,
    to_listening: f64,
    to_view_read: f64,
    to_hydrated: f64,
    peak_rss: u64,
    settled_rss: u64,
}

/// Fills a fresh server with `events` NEXMARK events, SIGKILLs it, and times the restart.
async fn restart(server: &mut EddyProcess, events: u64) -> anyhow::Result<RestartRun> {
    let client = server.connect().await?;
    let fill_started = Instant::now();
    start_nexmark(&client, events).await?;
    let mut last_report = Instant::now();
    while (counted(&client).await? as u64) < events {
        if last_report.elapsed() > Duration::from_secs(15) {
            let on_disk = gib(dir_bytes(&server.data_dir()));
            eprintln!("  {} of {events} events, {on_disk:.2} GiB on disk", counted(&client).await?);
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("  filled in {:.0} s", fill_started.elapsed().as_secs_f64());
    // Let the views' stored outputs catch up (they are written every 500 ms).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let disk_bytes = dir_bytes(&server.data_dir());
    let data_bytes = source_bytes(&client).await? as u64;
    let (steady_rss, _) = rss(server.pid());
    eprintln!("  {events} events, {:.2} GiB on disk; SIGKILL and restart", gib(disk_bytes));
    server.kill();
    let started = Instant::now();
    server.restart()?;
    let to_listening = started.elapsed().as_secs_f64();
    let client = server.connect().await?;
    let after = counted(&client).await?;
    let to_view_read = started.elapsed().as_secs_f64();
    anyhow::ensure!(after as u64 == events, "after the restart the views count {after}, before {events}");
    let hydrated = "SELECT count(*) FROM eddy_catalog.hydration WHERE hydrated";
    while client.query_one(hydrated, &[]).await?.get::<_, i64>(0) < TABLES.len() as i64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let to_hydrated = started.elapsed().as_secs_f64();
    let (settled_rss, peak_rss) = rss(server.pid());
    Ok(RestartRun {
        events,
        disk_bytes,
        data_bytes,
        steady_rss,
        to_listening,
        to_view_read,
        to_hydrated,
        peak_rss,
        settled_rss,
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let machine = Machine::detect();
    let workers = args.workers.unwrap_or(machine.cores);
    let eddy_bin = args.eddy_bin.clone().unwrap_or_else(machine::eddy_next_to_this_program);

    let mut insert_runs = Vec::new();
    for ephemeral in [false, true] {
        let flags: Vec<String> = if ephemeral { vec!["--ephemeral".into()] } else { vec![] };
        let server = EddyProcess::start_custom(&eddy_bin, workers, &[], &flags)?;
        for &sessions in &args.sessions {
            eprintln!("INSERTs: {sessions} sessions{}", if ephemeral { ", ephemeral" } else { "" });
            insert_runs.push((ephemeral, inserts(&server, sessions, args.insert_seconds).await?));
        }
    }

    let mut ingest_seconds = Vec::new();
    let mut bytes_per_event = 0.0;
    for ephemeral in [false, true] {
        let flags: Vec<String> = if ephemeral { vec!["--ephemeral".into()] } else { vec![] };
        let server = EddyProcess::start_custom(&eddy_bin, workers, &[], &flags)?;
        let client = server.connect().await?;
        eprintln!("ingest: {} NEXMARK events{}", args.ingest_events, if ephemeral { ", ephemeral" } else { "" });
        ingest_seconds.push(ingest(&client, args.ingest_events).await?);
        if !ephemeral {
            bytes_per_event = source_bytes(&client).await? as f64 / args.ingest_events as f64;
        }
    }

    let restart_events = (args.restart_gib * (1u64 << 30) as f64 / bytes_per_event.max(1.0)) as u64;
    eprintln!("restart with {} GiB of source data: {restart_events} events", args.restart_gib);
    let mut server = EddyProcess::start_with(&eddy_bin, workers)?;
    let restart_run = restart(&mut server, restart_events).await?;

    println!("# eddy-durability-bench");
    println!(
        "machine: {} cores, {:.1} GiB, {}, load {}; eddy --workers {workers}",
        machine.cores,
        gib(machine.ram_bytes),
        machine.cpu_model,
        machine::load_average()
    );
    println!("INSERT of one row per statement, prepared, back to back in each session:");
    println!("{:>10} {:>10} {:>12} {:>10} {:>10}", "mode", "sessions", "rows/s", "p50 ms", "p99 ms");
    for (ephemeral, r) in &insert_runs {
        println!(
            "{:>10} {:>10} {:>12.0} {:>10.2} {:>10.2}",
            if *ephemeral { "ephemeral" } else { "durable" },
            r.sessions,
            r.rows as f64 / r.seconds,
            percentile(&r.latencies_ms, 0.5),
            percentile(&r.latencies_ms, 0.99)
        );
    }
    let (durable, ephemeral) = (ingest_seconds[0], ingest_seconds[1]);
    println!(
        "NEXMARK ingest of {} events: durable {:.0} events/s, ephemeral {:.0} events/s: durability costs {:.0}%",
        args.ingest_events,
        args.ingest_events as f64 / durable,
        args.ingest_events as f64 / ephemeral,
        (1.0 - ephemeral / durable) * 100.0
    );
    let r = &restart_run;
    let per_gib = |s: f64| s / gib(r.data_bytes);
    println!(
        "restart after SIGKILL with {} events, {:.2} GiB of source rows ({:.2} GiB on disk): listening {:.2} s, \
         first read of the views (from their stored output) {:.2} s, all loaded and rehydrated {:.2} s \
         ({:.2} s per GiB)",
        r.events,
        gib(r.data_bytes),
        gib(r.disk_bytes),
        r.to_listening,
        r.to_view_read,
        r.to_hydrated,
        per_gib(r.to_hydrated)
    );
    println!(
        "memory: steady state {:.0} MiB before the kill; after rehydration {:.0} MiB, peak {:.0} MiB ({:.2}x steady)",
        mib(r.steady_rss),
        mib(r.settled_rss),
        mib(r.peak_rss),
        r.peak_rss as f64 / r.steady_rss.max(1) as f64
    );
    Ok(())
}
