//! `eddy`: an incremental materialized-view database that speaks PostgreSQL.
//!
//! This crate is the server: it parses flags, starts the compute workers, and serves
//! pgwire sessions, each planning statements and handing plans to the coordinator. It
//! is the only crate that knows about sockets, tokio and pgwire.

mod alter;
mod backends;
mod cancel;
mod coordinator;
mod copy;
mod durability;
mod error;
mod foreign_keys;
mod http;
mod protocol;
mod refresh;
mod schedules;
mod schemas;
mod sequences;
mod session;
mod sources;
mod subscribe;
mod system_tables;
mod upsert;
mod views;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Parser;
use tokio::net::TcpListener;
use tracing::{info, warn};

/// Rows are many small allocations made and freed on every worker thread; glibc's malloc
/// kept freed memory per thread (RSS stayed at the hydration peak) and was a fifth of the
/// workers' time in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Eddy keeps SQL materialized views up to date incrementally. Connect with psql or any
/// PostgreSQL driver: `psql -h 127.0.0.1 -p 6875 -U eddy eddy`.
#[derive(Parser, Debug)]
#[command(name = "eddy", version)]
struct Args {
    /// Address to accept PostgreSQL connections on.
    #[arg(long, env = "EDDY_LISTEN", default_value = "127.0.0.1:6875")]
    listen: String,
    /// Directory for Eddy's data (RocksDB), created if missing: the catalog, table
    /// contents, source rows with their Kafka offsets. Restarting with the same directory
    /// brings everything back. Only one eddy process may use a directory at a time.
    #[arg(long, env = "EDDY_DATA_DIR", default_value = "./eddy-data")]
    data_dir: PathBuf,
    /// Keep nothing on disk (no --data-dir): everything is gone when eddy stops. For
    /// tests, and to measure what durability costs.
    #[arg(long, env = "EDDY_EPHEMERAL")]
    ephemeral: bool,
    /// Timely worker threads that maintain views. Default: the number of CPU cores.
    #[arg(long, env = "EDDY_WORKERS")]
    workers: Option<usize>,
    /// Address for HTTP: Prometheus metrics on /metrics, liveness on /health. Off unless given.
    #[arg(long, env = "EDDY_HTTP")]
    http: Option<String>,
}

fn main() {
    if let Err(e) = run() {
        // `{:#}` prints the whole cause chain on one line, without a backtrace.
        eprintln!("eddy: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    if workers == 0 {
        anyhow::bail!("--workers must be at least 1");
    }
    let store = if args.ephemeral {
        warn!("--ephemeral: nothing is written to disk; everything is lost when eddy stops");
        eddy_storage::durable::Store::ephemeral()
    } else {
        eddy_storage::durable::Store::open(&args.data_dir)?
    };
    let compute = eddy_compute::Compute::start(workers, return_freed_memory)
        .map_err(|e| anyhow::anyhow!("starting compute workers: {e}"))?;
    let coord = Arc::new(Mutex::new(coordinator::Coordinator::new(compute, store)));
    sources::attach(&coord);
    {
        let mut c = coord.lock().map_err(|_| anyhow::anyhow!("coordinator lock poisoned"))?;
        c.restore().map_err(|e| anyhow::anyhow!("restoring from data directory {}: {e}", args.data_dir.display()))?;
    }
    durability::spawn_loader(coord.clone());
    start_clock(Arc::downgrade(&coord));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        if let Some(addr) = &args.http {
            let listener =
                TcpListener::bind(addr).await.with_context(|| format!("cannot listen for HTTP on {addr}"))?;
            tokio::spawn(http::serve(listener, coord.clone()));
        }
        serve(args.listen, workers, coord.clone()).await
    })?;
    if let Ok(mut c) = coord.lock() {
        c.shutdown();
    }
    info!("eddy stopped");
    Ok(())
}

/// How often time moves on by itself (for views with a target lag; see `Coordinator::tick`).
const CLOCK_TICK: std::time::Duration = std::time::Duration::from_millis(50);

fn start_clock(coord: std::sync::Weak<Mutex<coordinator::Coordinator>>) {
    let spawned = std::thread::Builder::new().name("clock".into()).spawn(move || loop {
        std::thread::sleep(CLOCK_TICK);
        let Some(coord) = coord.upgrade() else { return };
        let refreshes = match coord.lock() {
            Ok(mut c) => c.tick(),
            Err(_) => return,
        };
        schedules::run_full_refreshes(&coord, refreshes);
    });
    if let Err(e) = spawned {
        warn!("cannot start the clock thread ({e}): views with a target lag refresh only on writes");
    }
}

async fn serve(listen: String, workers: usize, coord: Arc<Mutex<coordinator::Coordinator>>) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    info!(%listen, workers, "eddy is ready for connections");
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // Shared once here: a connection must not wait for the coordinator to start.
    let (backends, sequences) = {
        let c = coord.lock().map_err(|_| anyhow::anyhow!("coordinator lock poisoned"))?;
        (c.backends.clone(), c.sequences.clone())
    };
    eddy_expr::func::install_backend_signals(Box::new(backends::Signals(backends.clone())));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        warn!("accept failed: {e}");
                        continue;
                    }
                };
                let terminate = Arc::new(tokio::sync::Notify::new());
                let shared = protocol::Shared { backends: backends.clone(), sequences: sequences.clone() };
                let handlers = Arc::new(protocol::Handlers::new(coord.clone(), shared, terminate.clone()));
                tokio::spawn(async move {
                    tokio::select! {
                        ended = pgwire::tokio::process_socket(socket, None, handlers) => {
                            if let Err(e) = ended {
                                warn!(%peer, "connection ended with an error: {e}");
                            }
                        }
                        // pg_terminate_backend: the connection (and its session) is dropped.
                        _ = terminate.notified() => info!(%peer, "connection terminated"),
                    }
                });
            }
            _ = sigterm.recv() => {
                info!("SIGTERM received, shutting down");
                return Ok(());
            }
            _ = tokio::signal::ctrl_c() => {
                info!("interrupt received, shutting down");
                return Ok(());
            }
        }
    }
}

/// mimalloc hands memory freed on a thread back to the OS only from inside that thread's
/// later allocations, so a worker that goes quiet after a bulk load kept the load's peak
/// resident (a fifth more RSS per row once settled). Workers call this about once a
/// second; memory free for longer than mimalloc's purge delay is returned, without the
/// cost of purging eagerly on every free (a purge delay of 10 ms cost 30% of the load
/// rate).
fn return_freed_memory() {
    // SAFETY: mi_collect takes no pointers; any thread may call it at any time.
    unsafe { libmimalloc_sys::mi_collect(false) };
}
