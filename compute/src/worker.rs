//! One timely worker's loop: apply commands in order, step dataflows, answer peeks.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use differential_dataflow::input::{Input, InputSession};
use differential_dataflow::trace::cursor::{cursor_list, Cursor};
use differential_dataflow::trace::implementations::spine_fueled::SpineBatch;
use differential_dataflow::trace::TraceReader;
use eddy_expr::{EvalError, KeyRange, Pipeline, RelationExpr};
use eddy_repr::{Diff, GlobalId, PackedRef, PackedRow, Timestamp};
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::operators::Probe;
use timely::progress::frontier::AntichainRef;
use timely::worker::Worker;

use crate::render::{arrange, render, ErrTrace, Imports, RowTrace};
use crate::{ArrangementSize, Command, PeekError, PeekResponse, Refresh, SubscribeEvent};

/// A maintained collection on this worker.
struct Maintained {
    oks: RowTrace,
    errs: ErrTrace,
    probe: ProbeHandle<Timestamp>,
    dataflow: usize,
    /// Tables only: where their updates enter.
    input: Option<InputSession<Timestamp, PackedRow, Diff>>,
}

struct PendingPeek {
    id: GlobalId,
    time: Timestamp,
    pipeline: Pipeline,
    ranges: Vec<KeyRange>,
    reply: Sender<PeekResponse>,
}

/// A subscription's dataflow on this worker.
struct Subscription {
    collection: GlobalId,
    dataflow: usize,
    probe: ProbeHandle<Timestamp>,
    sender: Sender<SubscribeEvent>,
    /// The frontier last reported.
    reported: Option<Option<Timestamp>>,
    /// Set when the subscriber has gone (a send failed).
    gone: Rc<Cell<bool>>,
}

struct State {
    index: usize,
    collections: BTreeMap<GlobalId, Maintained>,
    subscriptions: BTreeMap<u64, Subscription>,
    pending: Vec<PendingPeek>,
    /// The time every table input has been advanced to.
    now: Timestamp,
}

/// How often a worker runs the housekeeping hook it was started with.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(1);

pub fn run(worker: &mut Worker, rx: Receiver<Command>, housekeeping: fn()) {
    let mut state = State {
        index: worker.index(),
        collections: BTreeMap::new(),
        subscriptions: BTreeMap::new(),
        pending: Vec::new(),
        now: 0,
    };
    let mut last_housekeeping = std::time::Instant::now();
    loop {
        loop {
            match rx.try_recv() {
                Ok(Command::Shutdown) | Err(TryRecvError::Disconnected) => return,
                Ok(cmd) => state.handle(worker, cmd),
                Err(TryRecvError::Empty) => break,
            }
        }
        worker.step_or_park(Some(Duration::from_millis(1)));
        state.answer_ready_peeks();
        state.report_subscriptions(worker);
        if last_housekeeping.elapsed() >= HOUSEKEEPING_INTERVAL {
            housekeeping();
            last_housekeeping = std::time::Instant::now();
        }
    }
}

impl State {
    fn handle(&mut self, worker: &mut Worker, cmd: Command) {
        match cmd {
            Command::CreateTable { id } => self.create_table(worker, id),
            Command::CreateView { id, expr, refresh } => self.create_view(worker, id, &expr, refresh),
            Command::Drop { id } => {
                // Subscriptions to it end: their subscribers hear that nothing more comes.
                let ended: Vec<u64> =
                    self.subscriptions.iter().filter(|(_, s)| s.collection == id).map(|(k, _)| *k).collect();
                for key in ended {
                    if let Some(s) = self.subscriptions.remove(&key) {
                        let _ = s.sender.send(SubscribeEvent::Frontier { worker: self.index, frontier: None });
                        worker.drop_dataflow(s.dataflow);
                    }
                }
                if let Some(c) = self.collections.remove(&id) {
                    drop(c.input);
                    worker.drop_dataflow(c.dataflow);
                }
            }
            Command::Update { id, updates, time } => {
                if let Some(input) = self.collections.get_mut(&id).and_then(|c| c.input.as_mut()) {
                    input.advance_to(time.max(*input.time()));
                    for (row, diff) in updates {
                        input.update(row, diff);
                    }
                }
            }
            Command::AdvanceTime { time } => self.advance(time),
            Command::Peek { id, time, pipeline, ranges, reply } => {
                if !self.collections.contains_key(&id) {
                    let _ = reply.send(Err(PeekError::UnknownCollection(id)));
                } else {
                    self.pending.push(PendingPeek { id, time, pipeline, ranges, reply });
                }
            }
            Command::Subscribe { subscription, collection, sender } => {
                self.subscribe(worker, subscription, collection, sender)
            }
            Command::Sizes { reply } => {
                let sizes = self.collections.iter_mut().map(|(&id, c)| (id, arrangement_size(&mut c.oks))).collect();
                let _ = reply.send(sizes);
            }
            Command::Shutdown => {}
        }
    }

    fn subscribe(
        &mut self,
        worker: &mut Worker,
        subscription: u64,
        collection: GlobalId,
        sender: Sender<SubscribeEvent>,
    ) {
        let Some(c) = self.collections.get_mut(&collection) else {
            let _ = sender.send(SubscribeEvent::Frontier { worker: self.index, frontier: None });
            return;
        };
        let probe = ProbeHandle::new();
        let gone = Rc::new(Cell::new(false));
        let dataflow = worker.next_dataflow_index();
        let (ok_sender, err_sender) = (sender.clone(), sender.clone());
        let (ok_gone, err_gone) = (gone.clone(), gone.clone());
        worker.dataflow::<Timestamp, _, _>(|scope| {
            let oks = c.oks.import(scope).as_collection(|k: PackedRef<'_>, _| k.unpack());
            let errs = c.errs.import(scope).as_collection(|k: &EvalError, _| k.clone());
            oks.inspect_batch(move |_, updates| {
                if !updates.is_empty() && ok_sender.send(SubscribeEvent::Updates(updates.to_vec())).is_err() {
                    ok_gone.set(true);
                }
            })
            .probe_with(&probe);
            errs.inspect_batch(move |_, errors| {
                if let Some((e, _, _)) = errors.iter().find(|(_, _, d)| *d > 0) {
                    if err_sender.send(SubscribeEvent::Error(e.clone())).is_err() {
                        err_gone.set(true);
                    }
                }
            })
            .probe_with(&probe);
        });
        let sub = Subscription { collection, dataflow, probe, sender, reported: None, gone };
        self.subscriptions.insert(subscription, sub);
    }

    /// Tells each subscriber how far this worker has got, and ends subscriptions whose
    /// subscriber has gone.
    fn report_subscriptions(&mut self, worker: &mut Worker) {
        let index = self.index;
        let mut ended = Vec::new();
        for (id, s) in self.subscriptions.iter_mut() {
            let frontier = s.probe.with_frontier(|f| f.first().copied());
            if s.reported != Some(frontier) {
                s.reported = Some(frontier);
                if s.sender.send(SubscribeEvent::Frontier { worker: index, frontier }).is_err() {
                    s.gone.set(true);
                }
            }
            if s.gone.get() || frontier.is_none() {
                ended.push(*id);
            }
        }
        for id in ended {
            if let Some(s) = self.subscriptions.remove(&id) {
                worker.drop_dataflow(s.dataflow);
            }
        }
    }

    fn create_table(&mut self, worker: &mut Worker, id: GlobalId) {
        let probe = ProbeHandle::new();
        let dataflow = worker.next_dataflow_index();
        let now = self.now;
        let (mut input, oks, errs) = worker.dataflow::<Timestamp, _, _>(|scope| {
            let (input, rows) = scope.new_collection::<PackedRow, Diff>();
            let no_errs = crate::render::render(scope, &Imports::new(false), &RelationExpr::Union { inputs: vec![] })
                .map(|(_, e)| e);
            let errs = match no_errs {
                Ok(e) => e,
                Err(_) => unreachable_empty(scope),
            };
            let (oks, errs) = arrange(rows, errs);
            oks.stream.clone().probe_with(&probe);
            (input, oks.trace, errs.trace)
        });
        input.advance_to(now);
        input.flush();
        self.collections.insert(id, Maintained { oks, errs, probe, dataflow, input: Some(input) });
    }

    fn create_view(&mut self, worker: &mut Worker, id: GlobalId, expr: &RelationExpr, refresh: Option<Refresh>) {
        let probe = ProbeHandle::new();
        let dataflow = worker.next_dataflow_index();
        let emit_constants = self.index == 0;
        let collections = &mut self.collections;
        let built = worker.dataflow::<Timestamp, _, _>(|scope| {
            let mut imports = Imports::new(emit_constants);
            for dep in expr.depends_on() {
                if let Some(m) = collections.get_mut(&dep) {
                    let mut oks = m.oks.import(scope).as_collection(|k: PackedRef<'_>, _| k.to_owned());
                    let mut errs = m.errs.import(scope).as_collection(|k: &EvalError, _| k.clone());
                    if let Some(r) = refresh {
                        oks = oks.delay(move |t| r.visible_at(*t));
                        errs = errs.delay(move |t| r.visible_at(*t));
                    }
                    imports.collections.insert(dep, (oks, errs));
                }
            }
            let (oks, errs) = match render(scope, &imports, expr) {
                Ok(pair) => pair,
                Err(e) => {
                    let errs = vec![(e, 0, 1)];
                    use differential_dataflow::AsCollection;
                    use timely::dataflow::operators::ToStream;
                    let errs = if emit_constants { errs } else { vec![] };
                    (
                        Vec::<(PackedRow, Timestamp, Diff)>::new().to_stream(scope).as_collection(),
                        errs.to_stream(scope).as_collection(),
                    )
                }
            };
            let (oks, errs) = arrange(oks, errs);
            oks.stream.clone().probe_with(&probe);
            errs.stream.clone().probe_with(&probe);
            (oks.trace, errs.trace)
        });
        let (oks, errs) = built;
        self.collections.insert(id, Maintained { oks, errs, probe, dataflow, input: None });
    }

    fn advance(&mut self, time: Timestamp) {
        if time <= self.now {
            return;
        }
        self.now = time;
        for c in self.collections.values_mut() {
            if let Some(input) = c.input.as_mut() {
                input.advance_to(time);
                input.flush();
            }
        }
        // Reads happen at the newest complete time or later: history before it can merge.
        let oldest_read = self.pending.iter().map(|p| p.time).min().unwrap_or(time - 1).min(time - 1);
        let frontier = [oldest_read];
        for c in self.collections.values_mut() {
            c.oks.set_logical_compaction(AntichainRef::new(&frontier));
            c.oks.set_physical_compaction(AntichainRef::new(&frontier));
            c.errs.set_logical_compaction(AntichainRef::new(&frontier));
            c.errs.set_physical_compaction(AntichainRef::new(&frontier));
        }
    }

    fn answer_ready_peeks(&mut self) {
        let mut i = 0;
        while i < self.pending.len() {
            let p = &self.pending[i];
            let ready = match self.collections.get(&p.id) {
                None => true,
                Some(c) => !c.probe.less_equal(&p.time),
            };
            if !ready {
                i += 1;
                continue;
            }
            let p = self.pending.swap_remove(i);
            let response = match self.collections.get_mut(&p.id) {
                None => Err(PeekError::UnknownCollection(p.id)),
                Some(c) => read_at(c, p.time, &p.pipeline, &p.ranges),
            };
            let _ = p.reply.send(response);
        }
    }
}

/// This worker's rows of `c` as of `time` in `ranges` (sorted, disjoint), passed through
/// `pipeline`; or the view's first error.
fn read_at(c: &mut Maintained, time: Timestamp, pipeline: &Pipeline, ranges: &[KeyRange]) -> PeekResponse {
    if let Some(e) = first_error(&mut c.errs, time) {
        return Err(PeekError::Eval(e));
    }
    let mut out = Vec::new();
    let Some(batches) = c.oks.batches_through(AntichainRef::new(&[])) else { return Ok(out) };
    let (mut cursor, storage) = cursor_list(batches);
    for range in ranges {
        // Packed rows sort as rows do, so the range's first row is where a seek lands.
        if !range.is_everything() {
            cursor.seek_key(&storage, PackedRow::from(range.start()).as_ref());
        }
        while let Some(packed) = cursor.get_key(&storage) {
            let row = packed.unpack();
            if range.is_past(&row) {
                break;
            }
            let count = count_at(&mut cursor, &storage, time);
            if count != 0 {
                if let Some(result) = pipeline.apply(&row)? {
                    out.push((result, count));
                }
            }
            cursor.step_key(&storage);
        }
    }
    Ok(pipeline.finish(out)?)
}

/// What this worker's share of `trace` holds in memory.
fn arrangement_size(trace: &mut RowTrace) -> ArrangementSize {
    let Some(batches) = trace.batches_through(AntichainRef::new(&[])) else { return ArrangementSize::default() };
    let updates: usize = batches.iter().map(SpineBatch::len).sum();
    let mut bytes = updates * std::mem::size_of::<(Timestamp, Diff)>();
    for batch in &batches {
        bytes += batch.storage.keys.heap_bytes();
    }
    ArrangementSize { updates, bytes }
}

/// The first error with a positive count at `time` in this worker's share of `errs`.
fn first_error(errs: &mut ErrTrace, time: Timestamp) -> Option<EvalError> {
    let batches = errs.batches_through(AntichainRef::new(&[]))?;
    let (mut cursor, storage) = cursor_list(batches);
    while let Some(error) = cursor.get_key(&storage) {
        if count_at(&mut cursor, &storage, time) > 0 {
            return Some(error.clone());
        }
        cursor.step_key(&storage);
    }
    None
}

/// The multiplicity at `time` of the cursor's current key (its updates at times `<= time`).
fn count_at<C>(cursor: &mut C, storage: &C::Storage, time: Timestamp) -> Diff
where
    C: for<'a> Cursor<TimeGat<'a> = &'a Timestamp, DiffGat<'a> = &'a Diff>,
{
    let mut count = 0;
    cursor.map_times(storage, |t, d| {
        if *t <= time {
            count += *d;
        }
    });
    count
}

fn unreachable_empty(scope: timely::dataflow::Scope<'_, Timestamp>) -> crate::render::Errs<'_> {
    use differential_dataflow::AsCollection;
    use timely::dataflow::operators::ToStream;
    Vec::<(EvalError, Timestamp, Diff)>::new().to_stream(scope).as_collection()
}
