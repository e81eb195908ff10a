//! Baseline A: the same views as a plain differential-dataflow program, in this process,
//! with no SQL, server or network.
//!
//! The `GROUP BY k` view with `count(*)` and `sum(v)` is written the way Materialize
//! renders accumulable aggregates: every row is exploded into its key with the difference
//! `(1, v)`, so counts and sums accumulate in the difference itself, `count_total` turns
//! the accumulated `(count, sum)` per key into output records, and the output is arranged
//! (as Eddy arranges a view so it can be read). No input arrangement is needed.
//!
//! The join arranges both inputs by key and joins the arrangements (`join_core`), then
//! arranges the output. Every worker feeds its share of the rows (`id % workers`), the
//! load goes in chunks at successive timestamps like Eddy's COPY statements, and each
//! batch of changes is one timestamp, timed until the output's probe passes it.

use std::time::{Duration, Instant};

use differential_dataflow::input::{Input, InputSession};
use differential_dataflow::operators::count::CountTotal;
use differential_dataflow::trace::cursor::Cursor;
use differential_dataflow::trace::TraceReader;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::operators::Probe;
use timely::progress::frontier::AntichainRef;

use crate::data::{Data, Step, Workload};
use crate::{progress, View};

/// Figures of one baseline run (worker 0's clock).
#[derive(Clone, Debug, Default)]
pub struct BaselineFigures {
    pub load_time: Duration,
    /// Per workload batch, in workload order.
    pub batches: Vec<Duration>,
    /// 1k-row inserts, until the output reflects them.
    pub latency: Vec<Duration>,
    /// Process RSS growth over the load.
    pub rss_growth: u64,
    /// Accumulated output `(rows, sum of v)` after everything, summed over workers.
    pub check: (i64, i64),
}

type Time = u64;

/// Runs the baseline for `view` with `workers` timely workers.
pub fn run(
    view: View,
    data: &Data,
    workload: &Workload,
    chunk_rows: u64,
    workers: usize,
    latency_iters: usize,
) -> anyhow::Result<BaselineFigures> {
    let data = data.clone();
    let workload = workload.clone();
    let guards = timely::execute(timely::Config::process(workers), move |worker| {
        let index = worker.index() as u64;
        let peers = worker.peers() as u64;
        let mine = move |id: u64| id % peers == index;
        let probe = ProbeHandle::<Time>::new();
        let rss_before = crate::machine::rss(std::process::id()).0;

        // The dataflow: `a` rows `(id, k, v)`, and for the join `b` rows `(k, name)`.
        let (a_input, b_input, mut out_trace) = worker.dataflow::<Time, _, _>(|scope| {
            let (a_input, a) = scope.new_collection::<(u64, u64, i64), i64>();
            let (b_input, b) = scope.new_collection::<(u64, String), i64>();
            let trace = match view {
                View::GroupBy => {
                    let arranged = a
                        .explode(|(_id, k, v)| Some((k, (1i64, v))))
                        .count_total_core::<i64>()
                        .map(|(k, (n, s))| (k, n, s, String::new()))
                        .arrange_by_self();
                    arranged.stream.clone().probe_with(&probe);
                    arranged.trace
                }
                View::Join => {
                    let a_by_k = a.map(|(id, k, v)| (k, (id, v))).arrange_by_key();
                    let b_by_k = b.arrange_by_key();
                    let arranged = a_by_k
                        .join_core(b_by_k, |k, (id, v), name: &String| Some((*id, *k as i64, *v, name.clone())))
                        .arrange_by_self();
                    arranged.stream.clone().probe_with(&probe);
                    arranged.trace
                }
            };
            (a_input, b_input, trace)
        });

        let mut inputs = Inputs { a: a_input, b: b_input, time: 0 };

        if view == View::Join {
            for k in 0..data.keys {
                if mine(k) {
                    inputs.b.update((k, Data::name(k)), 1);
                }
            }
            let t = inputs.close(&mut out_trace);
            worker.step_while(|| probe.less_than(&t));
        }

        // The load, in chunks at successive times.
        let start = Instant::now();
        let mut chunk_start = 0;
        while chunk_start < data.rows {
            let chunk_end = (chunk_start + chunk_rows).min(data.rows);
            for id in chunk_start..chunk_end {
                if mine(id) {
                    inputs.a.update((id, data.key(id), data.value(id)), 1);
                }
                if id % 65536 == 0 {
                    worker.step();
                }
            }
            inputs.close(&mut out_trace);
            if index == 0 {
                progress(&format!(
                    "baseline {}: {chunk_end}/{} rows fed, {:.1} s",
                    view.name(),
                    data.rows,
                    start.elapsed().as_secs_f64()
                ));
            }
            chunk_start = chunk_end;
        }
        let t = inputs.time;
        worker.step_while(|| probe.less_than(&t));
        let load_time = start.elapsed();
        let rss_growth = crate::machine::rss(std::process::id()).0.saturating_sub(rss_before);
        if index == 0 {
            progress(&format!(
                "baseline {}: load complete after {:.2} s ({:.0} rows/s)",
                view.name(),
                load_time.as_secs_f64(),
                data.rows as f64 / load_time.as_secs_f64()
            ));
        }

        // One batch of changes at one time, timed until the output reflects it.
        let mut apply = |ids: std::ops::Range<u64>, diff: i64, worker: &mut timely::worker::Worker| -> Duration {
            let start = Instant::now();
            for id in ids {
                if mine(id) {
                    inputs.a.update((id, data.key(id), data.value(id)), diff);
                }
            }
            let t = inputs.close(&mut out_trace);
            worker.step_while(|| probe.less_than(&t));
            start.elapsed()
        };
        let mut batches = Vec::new();
        for batch in &workload.batches {
            let took = match &batch.step {
                Step::Insert(ids) => apply(ids.clone(), 1, worker),
                Step::Delete(ids) => apply(ids.clone(), -1, worker),
            };
            batches.push(took);
        }
        let mut latency = Vec::new();
        for (i, ids) in workload.latency.iter().take(latency_iters).enumerate() {
            let took = apply(ids.clone(), 1, worker);
            if index == 0 && took > Duration::from_millis(100) {
                progress(&format!(
                    "baseline {}: 1k-row insert {} of {latency_iters} took {:.0} ms",
                    view.name(),
                    i + 1,
                    took.as_secs_f64() * 1000.0
                ));
            }
            latency.push(took);
        }
        let check = accumulate(&mut out_trace, view);
        BaselineFigures { load_time, batches, latency, rss_growth, check }
    })
    .map_err(|e| anyhow::anyhow!("starting timely workers: {e}"))?;
    let mut results = Vec::new();
    for r in guards.join() {
        results.push(r.map_err(|e| anyhow::anyhow!("baseline worker failed: {e}"))?);
    }
    let mut first = results.first().cloned().ok_or_else(|| anyhow::anyhow!("no baseline workers"))?;
    first.check = results.iter().fold((0, 0), |acc, r| (acc.0 + r.check.0, acc.1 + r.check.1));
    Ok(first)
}

type OutTrace = differential_dataflow::operators::arrange::TraceAgent<
    differential_dataflow::trace::implementations::KeySpine<(u64, i64, i64, String), Time, i64>,
>;

/// The inputs of the baseline dataflow and the time they are open at.
struct Inputs {
    a: InputSession<Time, (u64, u64, i64), i64>,
    b: InputSession<Time, (u64, String), i64>,
    time: Time,
}

impl Inputs {
    /// Closes the current time (its updates are complete) and compacts the output to it.
    fn close(&mut self, trace: &mut OutTrace) -> Time {
        self.time += 1;
        self.a.advance_to(self.time);
        self.a.flush();
        self.b.advance_to(self.time);
        self.b.flush();
        compact(trace, self.time - 1);
        self.time
    }
}

/// Lets the output trace merge history before `time` (nothing reads it there).
fn compact(trace: &mut OutTrace, time: Time) {
    let frontier = [time];
    trace.set_logical_compaction(AntichainRef::new(&frontier));
    trace.set_physical_compaction(AntichainRef::new(&frontier));
}

/// This worker's output, accumulated: `(rows, sum of v)`. A `GROUP BY` output record
/// `(k, n, s, "")` stands for `n` rows with sum `s`; a join record is `(id, k, v, name)`.
fn accumulate(trace: &mut OutTrace, view: View) -> (i64, i64) {
    let mut total = (0i64, 0i64);
    if let Some(batches) = trace.batches_through(AntichainRef::new(&[])) {
        let (mut cursor, storage) = differential_dataflow::trace::cursor::cursor_list(batches);
        for (((_, x, v, _), ()), times) in cursor.to_vec(&storage, |k| k.clone(), |_| ()) {
            let d: i64 = times.iter().map(|(_, d)| *d).sum();
            let (n, s) = match view {
                View::GroupBy => (x, v),
                View::Join => (1, v),
            };
            total.0 += n * d;
            total.1 += s * d;
        }
    }
    total
}
