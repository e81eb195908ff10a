//! The refresh history of views with a target lag (`eddy_catalog.refresh_history`), and
//! `eddy_catalog.freshness`.
//!
//! Each such view gets an internal subscription; a refresh is the set of changes the view
//! makes at one refresh time, and it is complete when every worker has passed that time,
//! which is exactly when the [`Merger`] releases it. So each record has the data time, the
//! wall-clock time it became readable, and how many rows changed. Refreshes that change
//! nothing leave no record.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Receiver;
use eddy_compute::SubscribeEvent;
use eddy_planner::{CatalogItem, RefreshMode};
use eddy_repr::{Datum, Row, ScalarType, Timestamp};

use crate::subscribe::{Merger, Output};
use crate::system_tables;

/// How many refreshes the history keeps (all views together).
const KEPT: usize = 10_000;

#[derive(Clone, Debug, PartialEq)]
pub struct RefreshRecord {
    pub view: String,
    /// The refresh time: the view shows its inputs as of this time.
    pub data_as_of: Timestamp,
    /// When the refresh became readable (wall clock).
    pub completed_at: Timestamp,
    pub rows_changed: u64,
}

impl RefreshRecord {
    pub fn duration_ms(&self) -> u64 {
        self.completed_at.saturating_sub(self.data_as_of)
    }
}

/// Per view: refreshes seen, and those that took longer than the target lag (the view's
/// data was then more than twice the target old just before they completed).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RefreshCounts {
    pub refreshes: u64,
    pub late: u64,
}

#[derive(Default)]
pub struct RefreshLog {
    pub records: VecDeque<RefreshRecord>,
    pub counts: BTreeMap<String, RefreshCounts>,
}

impl RefreshLog {
    pub(crate) fn record(&mut self, record: RefreshRecord, target_ms: Timestamp) {
        let counts = self.counts.entry(record.view.clone()).or_default();
        counts.refreshes += 1;
        if record.duration_ms() > target_ms {
            counts.late += 1;
        }
        self.records.push_back(record);
        while self.records.len() > KEPT {
            self.records.pop_front();
        }
    }
}

/// Follows `view`'s changes on a thread of its own and logs each refresh, until the view
/// is dropped.
pub fn watch(
    view: String,
    events: Receiver<SubscribeEvent>,
    workers: usize,
    as_of: Timestamp,
    target_ms: Timestamp,
    log: Arc<Mutex<RefreshLog>>,
    now: fn() -> Timestamp,
) {
    let spawned = std::thread::Builder::new().name(format!("refresh-{view}")).spawn(move || {
        let mut merger = Merger::new(workers, as_of, false);
        while let Ok(event) = events.recv() {
            let outputs = match merger.push(event) {
                Ok(Some(outputs)) => outputs,
                // Dropped, or its rows raise an error (reads report that).
                Ok(None) | Err(_) => break,
            };
            let mut by_time: BTreeMap<Timestamp, u64> = BTreeMap::new();
            for o in &outputs {
                if let Output::Change { time, diff, .. } = o {
                    *by_time.entry(*time).or_default() += diff.unsigned_abs();
                }
            }
            if by_time.is_empty() {
                continue;
            }
            let completed_at = now();
            if let Ok(mut log) = log.lock() {
                for (data_as_of, rows_changed) in by_time {
                    let record = RefreshRecord { view: view.clone(), data_as_of, completed_at, rows_changed };
                    log.record(record, target_ms);
                }
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!("cannot follow refreshes of a view: {e}");
    }
}

/// A materialized view's schedule as the freshness table shows it.
pub struct Schedule {
    /// `target lag`, `downstream` or `suspended`.
    pub state: &'static str,
    pub mode: RefreshMode,
    /// How often it refreshes now (`None`: never, or continuously).
    pub target_ms: Option<Timestamp>,
    /// The time of the inputs it shows (`None`: not refreshed yet).
    pub as_of: Option<Timestamp>,
}

/// `eddy_catalog.freshness` over `views` (name, schedule if it has a target lag) or
/// `eddy_catalog.refresh_history`, for reads at `read` and wall clock `now`.
pub fn system_table<'a>(
    name: &str,
    views: impl Iterator<Item = (&'a str, Option<Schedule>)>,
    log: &RefreshLog,
    read: Timestamp,
    now: Timestamp,
) -> Option<CatalogItem> {
    use system_tables::{column, nullable_column, timestamptz};
    match name.strip_prefix("eddy_catalog.").unwrap_or(name) {
        "refresh_history" => {
            let rows = log
                .records
                .iter()
                .map(|r| {
                    // A refresh starts at its data time: an incremental one when every
                    // input's changes up to it are in, a FULL one when it reads its inputs.
                    Row::new(vec![
                        Datum::Text(r.view.clone()),
                        timestamptz(r.data_as_of),
                        timestamptz(r.completed_at),
                        timestamptz(r.data_as_of),
                        Datum::Int64(r.duration_ms() as i64),
                        Datum::Int64(r.rows_changed as i64),
                    ])
                })
                .collect();
            let columns = vec![
                column("view", ScalarType::Text),
                column("started_at", ScalarType::timestamptz()),
                column("completed_at", ScalarType::timestamptz()),
                column("data_as_of", ScalarType::timestamptz()),
                column("duration_ms", ScalarType::Int64),
                column("rows_changed", ScalarType::Int64),
            ];
            Some(system_tables::constant(name, system_tables::REFRESH_HISTORY, columns, rows))
        }
        "freshness" => {
            let rows = views
                .map(|(view, schedule)| {
                    // A continuous view is as of the read (reads wait for it): lag 0.
                    let (state, mode, target, as_of, lag) = match schedule {
                        None => ("continuous", RefreshMode::Incremental, None, Some(read), Some(0)),
                        Some(s) => (s.state, s.mode, s.target_ms, s.as_of, s.as_of.map(|t| now.saturating_sub(t))),
                    };
                    let int = |v: Option<u64>| v.map_or(Datum::Null, |v| Datum::Int64(v as i64));
                    let counts = log.counts.get(view).copied().unwrap_or_default();
                    Row::new(vec![
                        Datum::Text(view.to_string()),
                        Datum::Text(state.into()),
                        Datum::Text(mode.as_str().into()),
                        int(target),
                        as_of.map_or(Datum::Null, timestamptz),
                        int(lag),
                        Datum::Int64(counts.refreshes as i64),
                        Datum::Int64(counts.late as i64),
                    ])
                })
                .collect();
            let columns = vec![
                column("name", ScalarType::Text),
                column("refresh", ScalarType::Text),
                column("refresh_mode", ScalarType::Text),
                nullable_column("target_lag_ms", ScalarType::Int64),
                nullable_column("data_as_of", ScalarType::timestamptz()),
                nullable_column("lag_ms", ScalarType::Int64),
                column("refreshes", ScalarType::Int64),
                column("late_refreshes", ScalarType::Int64),
            ];
            Some(system_tables::constant(name, system_tables::FRESHNESS, columns, rows))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_refreshes_are_counted_and_history_is_bounded() {
        let mut log = RefreshLog::default();
        let rec =
            |as_of, done| RefreshRecord { view: "v".into(), data_as_of: as_of, completed_at: done, rows_changed: 2 };
        log.record(rec(1000, 1050), 1000);
        log.record(rec(2000, 3500), 1000);
        assert_eq!(log.counts["v"], RefreshCounts { refreshes: 2, late: 1 });
        for i in 0..KEPT as u64 {
            log.record(rec(i, i), 1000);
        }
        assert_eq!(log.records.len(), KEPT);
    }
}
