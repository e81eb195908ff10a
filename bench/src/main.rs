//! `eddy-bench`: prints how fast Eddy maintains materialized views, next to a plain
//! differential-dataflow program computing the same thing (baseline A) and PostgreSQL's
//! `REFRESH MATERIALIZED VIEW` (baseline B). A program that prints figures, not a test.
//!
//! It starts its own `eddy` (release build) on a free loopback port for each view, loads
//! a deterministic data set with COPY, applies batches of inserts and deletes, times how
//! long until the view shows each change, and reads the server's memory from `/proc`.

mod baseline;
mod client;
mod data;
mod eddy;
mod machine;
mod pg;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;

use crate::baseline::BaselineFigures;
use crate::data::{Data, Workload};
use crate::eddy::{ms, EddyFigures};
use crate::machine::{gib, mib, Machine};
use crate::pg::PgFigures;

/// Measures Eddy's view maintenance: initial load through COPY, batches of 1k/10k/100k
/// changes, 1k-row INSERT-to-fresh-view latency and memory per maintained row, for a
/// `GROUP BY` view (a) and a two-way join view (b); compares with a plain
/// differential-dataflow program (baseline A) and PostgreSQL's REFRESH MATERIALIZED VIEW
/// (baseline B). Progress goes to stderr, the figures to stdout. Only 127.0.0.1 is used.
#[derive(Parser, Debug)]
#[command(name = "eddy-bench", version)]
struct Args {
    /// Rows of the fact table `a (id, k, v)` loaded initially.
    #[arg(long, default_value_t = 10_000_000)]
    rows: u64,
    /// Distinct keys `k` (groups of the GROUP BY view; rows of the join's dimension table).
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Batch sizes of incremental changes, comma-separated. Each size is applied as an
    /// INSERT of that many new rows and a DELETE ... WHERE of that many existing rows.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    batches: Vec<u64>,
    /// How many times each batch size is repeated (the median is reported).
    #[arg(long, default_value_t = 3)]
    batch_reps: usize,
    /// How many times each batch size is repeated on the join view (each check of the
    /// join view reads all of it, so these are slow).
    #[arg(long, default_value_t = 1)]
    join_batch_reps: usize,
    /// 1k-row INSERTs timed until the GROUP BY view shows them (for p50/p99).
    #[arg(long, default_value_t = 50)]
    latency_iters: usize,
    /// 1k-row INSERTs timed until the join view shows them.
    #[arg(long, default_value_t = 10)]
    join_latency_iters: usize,
    /// Rows per COPY statement during the initial load (and per timestamp in baseline A).
    #[arg(long, default_value_t = 1_000_000)]
    copy_rows: u64,
    /// Worker threads for eddy (--workers) and for baseline A. Default: number of cores.
    #[arg(long)]
    workers: Option<usize>,
    /// The eddy binary. Default: `eddy` next to this program (target/release/eddy).
    #[arg(long)]
    eddy_bin: Option<PathBuf>,
    /// Skip the join view (b).
    #[arg(long)]
    skip_join: bool,
    /// Skip baseline B (PostgreSQL).
    #[arg(long)]
    no_postgres: bool,
    /// Directory with PostgreSQL 15's server binaries.
    #[arg(long, default_value = "/usr/lib/postgresql/15/bin")]
    pg_bin: PathBuf,
    /// REFRESH MATERIALIZED VIEW runs (each after its own 1k-row INSERT); median reported.
    #[arg(long, default_value_t = 3)]
    pg_refreshes: usize,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Record eddy with `perf record --call-graph dwarf` during each phase (load, batches,
    /// latency) into DIR/<view>-<phase>.perf.data; read with `perf report -i FILE`.
    #[arg(long)]
    perf_dir: Option<PathBuf>,
}

/// Settings the runs share.
pub struct Config {
    pub eddy_bin: PathBuf,
    pub workers: usize,
    pub perf_dir: Option<PathBuf>,
}

/// The two views measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    GroupBy,
    Join,
}

impl View {
    pub fn name(self) -> &'static str {
        match self {
            View::GroupBy => "group-by",
            View::Join => "join",
        }
    }
}

/// Rows per INSERT in the latency runs and PostgreSQL's change.
const LATENCY_ROWS: u64 = 1000;

fn started() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// A progress line on stderr, stamped with the time since the start.
pub fn progress(line: &str) {
    eprintln!("[{:7.1} s] {line}", started().elapsed().as_secs_f64());
}

struct ViewResults {
    eddy: EddyFigures,
    baseline: BaselineFigures,
    batch_reps: usize,
}

fn main() -> anyhow::Result<()> {
    started();
    let args = Args::parse();
    anyhow::ensure!(args.rows > 0 && args.keys > 0, "--rows and --keys must be positive");
    anyhow::ensure!(args.copy_rows > 0, "--copy-rows must be positive");
    anyhow::ensure!(
        args.batch_reps > 0 && args.join_batch_reps > 0,
        "--batch-reps and --join-batch-reps must be positive"
    );
    let machine = Machine::detect();
    let workers = args.workers.unwrap_or(machine.cores).max(1);
    let eddy_bin = match &args.eddy_bin {
        Some(p) => p.clone(),
        None => machine::eddy_next_to_this_program(),
    };
    let cfg = Config { eddy_bin, workers, perf_dir: args.perf_dir.clone() };
    let data = Data { seed: args.seed, rows: args.rows, keys: args.keys };
    let mut selected = vec![(View::GroupBy, args.batch_reps, args.latency_iters)];
    if !args.skip_join {
        selected.push((View::Join, args.join_batch_reps, args.join_latency_iters));
    }
    let mut plans = Vec::new();
    for (view, reps, iters) in selected {
        let deletable: u64 = args.batches.iter().map(|b| b * reps as u64).sum();
        anyhow::ensure!(
            deletable <= args.rows,
            "the batches delete {deletable} rows but only {} are loaded: raise --rows or lower --batches",
            args.rows
        );
        let workload = Workload::new(&data, &args.batches, reps, iters.max(args.pg_refreshes), LATENCY_ROWS);
        plans.push((view, workload, iters));
    }

    progress(&format!("generating {} rows over {} keys (seed {}) as COPY text", data.rows, data.keys, data.seed));
    let chunks: Vec<Bytes> = (0..data.rows.div_ceil(args.copy_rows))
        .map(|i| {
            let start = i * args.copy_rows;
            Bytes::from(data.copy_text(start..(start + args.copy_rows).min(data.rows)))
        })
        .collect();
    progress(&format!("generated {:.0} MiB of COPY text", mib(chunks.iter().map(|c| c.len() as u64).sum())));

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut eddy_figures = Vec::new();
    for (view, workload, iters) in &plans {
        let figures = runtime
            .block_on(eddy::run(&cfg, *view, &data, workload, &chunks, *iters))
            .with_context(|| format!("eddy, {} view", view.name()))?;
        eddy_figures.push(figures);
    }
    let mut views = Vec::new();
    for ((view, workload, iters), eddy) in plans.iter().zip(eddy_figures) {
        progress(&format!("baseline A ({} view): plain differential dataflow, {workers} workers", view.name()));
        let baseline = baseline::run(*view, &data, workload, args.copy_rows, workers, *iters)?;
        let mut model = data::Model::new(data.keys);
        model.apply(&data, 0..data.rows, 1);
        for b in &workload.batches {
            model.apply_step(&data, &b.step);
        }
        for ids in workload.latency.iter().take(*iters) {
            model.apply(&data, ids.clone(), 1);
        }
        anyhow::ensure!(
            baseline.check == (model.rows, model.sum),
            "baseline A ({} view) computed {:?}, expected {:?}",
            view.name(),
            baseline.check,
            (model.rows, model.sum)
        );
        views.push(ViewResults {
            eddy,
            baseline,
            batch_reps: workload.batches.len() / (2 * args.batches.len().max(1)),
        });
    }

    let pg = if args.no_postgres {
        progress("baseline B (PostgreSQL) skipped: --no-postgres");
        None
    } else {
        progress("baseline B: PostgreSQL 15 REFRESH MATERIALIZED VIEW");
        let pg_inserts: Vec<_> = plans[0].1.latency.iter().take(args.pg_refreshes).cloned().collect();
        Some(
            runtime
                .block_on(pg::run(&args.pg_bin, &data, &chunks, &pg_inserts, args.pg_refreshes))
                .context("baseline B (PostgreSQL)")?,
        )
    };
    progress("done");
    report(&args, &machine, workers, &views, pg.as_ref());
    Ok(())
}

fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile of durations, in milliseconds.
fn percentile_ms(xs: &[Duration], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v: Vec<f64> = xs.iter().map(|d| ms(*d)).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// `1234567.0` as `1,234,567`.
fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let s = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

fn size_label(n: u64) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// Median updates/s of every (size, kind) batch class, in workload order.
fn batch_rates(eddy: &EddyFigures, baseline: &BaselineFigures) -> Vec<(u64, &'static str, f64, f64, f64)> {
    let mut classes: Vec<(u64, &'static str)> = Vec::new();
    for b in &eddy.batches {
        if !classes.contains(&(b.size, b.kind)) {
            classes.push((b.size, b.kind));
        }
    }
    classes
        .into_iter()
        .map(|(size, kind)| {
            let picked: Vec<usize> = eddy
                .batches
                .iter()
                .enumerate()
                .filter(|(_, b)| b.size == size && b.kind == kind)
                .map(|(i, _)| i)
                .collect();
            let e = median(picked.iter().map(|&i| rate(size, eddy.batches[i].visible)).collect());
            let stmt = median(picked.iter().map(|&i| ms(eddy.batches[i].statement)).collect());
            let b = median(picked.iter().filter_map(|&i| baseline.batches.get(i)).map(|d| rate(size, *d)).collect());
            (size, kind, e, b, stmt)
        })
        .collect()
}

fn report(args: &Args, machine: &Machine, workers: usize, views: &[ViewResults], pg: Option<&PgFigures>) {
    let command: Vec<String> = std::env::args().collect();
    println!();
    println!("Eddy benchmark");
    println!("==============");
    println!(
        "machine : {}, {} cores, {:.1} GiB RAM, Linux {}; load average at start {}, at end {}",
        machine.cpu_model,
        machine.cores,
        gib(machine.ram_bytes),
        machine.kernel,
        machine.load_average,
        machine::load_average()
    );
    println!("command : {}", command.join(" "));
    println!(
        "data    : {} rows a(id, k, v) over {} keys (seed {}), loaded by COPY FROM STDIN in chunks of {} rows; {} workers (eddy and baseline A)",
        args.rows, args.keys, args.seed, args.copy_rows, workers
    );
    let join_reps = if args.skip_join { String::new() } else { format!(" (join view: {} x)", args.join_batch_reps) };
    println!(
        "changes : per batch size, {} x{join_reps} INSERT ... VALUES of new rows, then DELETE ... WHERE id range of the oldest rows; median reported",
        args.batch_reps
    );
    println!("timing  : from the first byte sent until a query on the view returns the expected totals (Eddy), or until the output probe passes the batch's time (baseline A); p99 is nearest-rank (the maximum when n < 100)");

    let mut latency_p50 = None;
    let mut group_ratio = Vec::new();
    let mut group = None;
    for v in views {
        let (e, b) = (&v.eddy, &v.baseline);
        println!();
        match e.view {
            View::GroupBy => println!("(a) GROUP BY view: CREATE MATERIALIZED VIEW gv AS SELECT k, count(*) AS n, sum(v) AS s FROM a GROUP BY k"),
            View::Join => println!("(b) join view: CREATE MATERIALIZED VIEW jv AS SELECT a.id, a.k, a.v, b.name FROM a JOIN b ON a.k = b.k   (b: {} rows, one per key), indexed by k: CREATE INDEX jv_k ON jv (k)", args.keys),
        }
        println!();
        println!("  {:<44} {:>14} {:>14} {:>10}", "", "Eddy", "baseline A", "Eddy/A");
        let row = |label: &str, eddy: f64, base: f64| {
            println!("  {:<44} {:>14} {:>14} {:>9.1}%", label, thousands(eddy), thousands(base), 100.0 * eddy / base);
        };
        let eddy_load = rate(e.rows, e.load_time);
        let base_load = rate(e.rows, b.load_time);
        row("initial load, rows/s", eddy_load, base_load);
        if e.view == View::GroupBy {
            group_ratio.push(("initial load".to_string(), eddy_load / base_load));
        }
        let rates = batch_rates(e, b);
        for (size, kind, er, br, _) in &rates {
            let label = format!("batch {} {kind}, updates/s", size_label(*size));
            row(&label, *er, *br);
            if e.view == View::GroupBy {
                group_ratio.push((format!("{} {kind}", size_label(*size)), er / br));
            }
        }
        let (ep50, ep99) = (percentile_ms(&e.latency, 50.0), percentile_ms(&e.latency, 99.0));
        let (bp50, bp99) = (percentile_ms(&b.latency, 50.0), percentile_ms(&b.latency, 99.0));
        let lat = |label: &str, eddy: f64, base: f64| {
            println!("  {:<44} {:>14.2} {:>14.2} {:>9.0}x slower", label, eddy, base, eddy / base);
        };
        lat(&format!("1k-row INSERT to fresh view, p50 ms (n={})", e.latency.len()), ep50, bp50);
        lat("1k-row INSERT to fresh view, p99 ms", ep99, bp99);
        let per_row = e.rss_after_load as f64 / e.maintained_rows as f64;
        println!("  {:<44} {:>14.0} {:>14} {:>10}", "memory, bytes per maintained row", per_row, "-", "");
        let settled_per_row = e.rss_settled as f64 / e.maintained_rows as f64;
        println!(
            "  {:<44} {:>14.0} {:>14} {:>10}",
            "  the same once RSS settled after the load", settled_per_row, "-", ""
        );
        let arranged_per_row = e.arranged_bytes as f64 / e.maintained_rows as f64;
        println!("  {:<44} {:>14.0} {:>14} {:>10}", "  of which the arrangements hold", arranged_per_row, "-", "");
        println!();
        println!(
            "  Eddy load: COPY statements returned after {:.2} s ({} rows/s accepted); view complete after {:.2} s; eddy used {:.1} CPU-s ({:.2} of {} cores busy on average)",
            e.copy_time.as_secs_f64(),
            thousands(rate(e.rows, e.copy_time)),
            e.load_time.as_secs_f64(),
            e.load_cpu.as_secs_f64(),
            e.load_cpu.as_secs_f64() / e.load_time.as_secs_f64(),
            machine.cores
        );
        println!(
            "  Eddy load without the cost of the final check query ({:.2} s): {} rows/s",
            e.check_cost.as_secs_f64(),
            thousands(rate(e.rows, e.load_time.saturating_sub(e.check_cost)))
        );
        if let Some(d) = e.dimension_load {
            println!(
                "  Eddy dimension table b: {} rows copied in {:.2} s (before the timed load)",
                args.keys,
                d.as_secs_f64()
            );
        }
        println!(
            "  Eddy check queries alone (no pending change): whole view {:.1} ms, one key {:.1} ms (the whole-view check is included in the load and batch figures, the one-key check in the latency figures)",
            ms(e.check_cost),
            ms(e.latency_check_cost)
        );
        let fresh_after_insert: Vec<Duration> =
            e.latency.iter().zip(&e.latency_insert).map(|(total, insert)| total.saturating_sub(*insert)).collect();
        println!(
            "  Eddy 1k-row INSERT latency split, p50 / p99 / max ms: until the INSERT returned {:.2} / {:.2} / {:.2}; then until the check showed it {:.2} / {:.2} / {:.2}",
            percentile_ms(&e.latency_insert, 50.0),
            percentile_ms(&e.latency_insert, 99.0),
            percentile_ms(&e.latency_insert, 100.0),
            percentile_ms(&fresh_after_insert, 50.0),
            percentile_ms(&fresh_after_insert, 99.0),
            percentile_ms(&fresh_after_insert, 100.0),
        );
        println!(
            "  Eddy statement time (until INSERT/DELETE returned), median: {}",
            rates
                .iter()
                .map(|(size, kind, _, _, stmt)| format!("{} {kind} {stmt:.1} ms", size_label(*size)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "  Eddy memory: RSS idle {:.0} MiB, after load {:.0} MiB for {} maintained rows ({}), at end {:.0} MiB, peak {:.0} MiB; (RSS after load - idle) / rows = {:.0} bytes",
            mib(e.idle_rss),
            mib(e.rss_after_load),
            e.maintained_rows,
            match e.view {
                View::GroupBy => "table a + view rows".to_string(),
                View::Join => "table a + table b + view rows".to_string(),
            },
            mib(e.rss_end),
            mib(e.peak_rss),
            e.rss_after_load.saturating_sub(e.idle_rss) as f64 / e.maintained_rows as f64
        );
        println!(
            "  Baseline A memory: process RSS grew {:.0} MiB over the load{}",
            mib(b.rss_growth),
            match e.view {
                View::GroupBy => " (it keeps no arrangement of the input rows, only (key, count, sum))",
                View::Join => " (both inputs arranged by key, output arranged)",
            }
        );
        println!("  (batch figures: median of {} runs per size and kind)", v.batch_reps);
        if e.view == View::GroupBy {
            latency_p50 = Some(ep50);
            group = Some((eddy_load, ep99, (settled_per_row, per_row, arranged_per_row)));
        }
    }

    println!();
    match pg {
        None => println!("Baseline B (PostgreSQL REFRESH MATERIALIZED VIEW): skipped (--no-postgres)"),
        Some(p) => {
            let refresh = median(p.refreshes.iter().map(|d| d.as_secs_f64()).collect());
            println!("Baseline B: PostgreSQL 15 REFRESH MATERIALIZED VIEW gv (the GROUP BY view), same data, after a 1k-row INSERT");
            println!(
                "  COPY load {:.2} s ({} rows/s); CREATE MATERIALIZED VIEW {:.2} s",
                p.copy_time.as_secs_f64(),
                thousands(rate(args.rows, p.copy_time)),
                p.create_view_time.as_secs_f64()
            );
            println!(
                "  REFRESH after a 1k-row INSERT: median {:.3} s (runs: {})",
                refresh,
                p.refreshes.iter().map(|d| format!("{:.3} s", d.as_secs_f64())).collect::<Vec<_>>().join(", ")
            );
            if let Some(l) = latency_p50 {
                let speedup = refresh * 1000.0 / l;
                println!(
                    "  Eddy 1k-row INSERT to fresh view p50 {:.1} ms => speed-up (REFRESH time / Eddy latency) {:.2}x",
                    l, speedup
                );
            }
        }
    }

    println!();
    println!("Targets (issue's aims, GROUP BY view (a))");
    if let Some((load, p99, (per_row, after_load, arranged))) = group {
        let mark = |ok: bool| if ok { "met    " } else { "NOT met" };
        let worst =
            group_ratio.iter().cloned().fold(("".to_string(), f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
        println!(
            "  [{}] view maintenance >= 70% of the plain program: {} (worst: {} at {:.1}%)",
            mark(worst.1 >= 0.7),
            group_ratio.iter().map(|(l, r)| format!("{l} {:.1}%", r * 100.0)).collect::<Vec<_>>().join(", "),
            worst.0,
            worst.1 * 100.0
        );
        println!(
            "  [{}] >= 1M rows/s end to end through COPY into a maintained view: {} rows/s",
            mark(load >= 1_000_000.0),
            thousands(load)
        );
        println!("  [{}] p99 < 10 ms from a 1k-row INSERT to a fresh view: p99 {:.1} ms", mark(p99 < 10.0), p99);
        println!(
            "  [{}] <= 100 bytes of memory per arranged narrow row: {:.0} bytes per maintained row (RSS once settled / \
             (table rows + view rows); right after the load {:.0}; the arrangements alone {:.0})",
            mark(per_row <= 100.0),
            per_row,
            after_load,
            arranged
        );
    }
}
