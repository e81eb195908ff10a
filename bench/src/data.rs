//! Deterministic data and the workload every system under test receives.
//!
//! A row of table `a` is `(id, k, v)`: `id` counts up from 0, `k` (the group / join key,
//! `0..keys`) and `v` (`0..1000`) are pure functions of the seed and `id`, so any system
//! can regenerate any row (and so delete it) without storing the data set. Table `b` (the
//! join's dimension table) has one row `(k, name)` per key.

use std::ops::Range;

/// The changes applied after the initial load, in order, identical for every system.
#[derive(Clone, Debug)]
pub enum Step {
    /// Insert the rows with these ids.
    Insert(Range<u64>),
    /// Delete the rows with these ids (they exist: they were loaded or inserted before).
    Delete(Range<u64>),
}

impl Step {
    pub fn len(&self) -> u64 {
        match self {
            Step::Insert(r) | Step::Delete(r) => r.end - r.start,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Step::Insert(_) => "insert",
            Step::Delete(_) => "delete",
        }
    }
}

/// One measured batch of the workload: its size class, its repetition, and its step.
#[derive(Clone, Debug)]
pub struct Batch {
    pub size: u64,
    pub step: Step,
}

/// Generates rows and the workload from `(seed, rows, keys)`.
#[derive(Clone, Debug)]
pub struct Data {
    pub seed: u64,
    pub rows: u64,
    pub keys: u64,
}

/// SplitMix64: a fast, well-mixed 64-bit hash (Steele, Lea, Flood 2014).
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Data {
    /// Group / join key of row `id`, uniform in `0..keys`.
    pub fn key(&self, id: u64) -> u64 {
        splitmix64(self.seed ^ splitmix64(id)) % self.keys
    }

    /// Value of row `id`, uniform in `0..1000`.
    pub fn value(&self, id: u64) -> i64 {
        (splitmix64(self.seed.rotate_left(29) ^ splitmix64(id ^ 0x5555_5555_5555_5555)) % 1000) as i64
    }

    /// Dimension-table name of key `k`.
    pub fn name(k: u64) -> String {
        format!("key-{k}")
    }

    /// Rows `ids` of `a` in COPY text format, one `id\tk\tv\n` line each.
    pub fn copy_text(&self, ids: Range<u64>) -> Vec<u8> {
        use std::io::Write;
        let mut out = Vec::with_capacity((ids.end - ids.start) as usize * 20);
        for id in ids {
            let _ = writeln!(out, "{id}\t{}\t{}", self.key(id), self.value(id));
        }
        out
    }

    /// The dimension table `b` in COPY text format, one `k\tname\n` line per key.
    pub fn dimension_copy_text(&self) -> Vec<u8> {
        use std::io::Write;
        let mut out = Vec::with_capacity(self.keys as usize * 16);
        for k in 0..self.keys {
            let _ = writeln!(out, "{k}\t{}", Data::name(k));
        }
        out
    }

    /// `INSERT INTO a VALUES (...), ...` for rows `ids`.
    pub fn insert_sql(&self, ids: Range<u64>) -> String {
        use std::fmt::Write;
        let mut sql = String::with_capacity((ids.end - ids.start) as usize * 24 + 32);
        sql.push_str("INSERT INTO a VALUES ");
        for (i, id) in ids.enumerate() {
            if i > 0 {
                sql.push(',');
            }
            let _ = write!(sql, "({id},{},{})", self.key(id), self.value(id));
        }
        sql
    }

    /// `DELETE FROM a WHERE ...` for rows `ids`.
    pub fn delete_sql(ids: &Range<u64>) -> String {
        format!("DELETE FROM a WHERE id >= {} AND id < {}", ids.start, ids.end)
    }
}

/// The workload after the initial load: for every batch size, `reps` times, insert that
/// many new rows and then delete that many of the oldest rows; then `latency_iters`
/// inserts of `latency_rows` new rows each.
#[derive(Clone, Debug)]
pub struct Workload {
    pub batches: Vec<Batch>,
    pub latency: Vec<Range<u64>>,
}

impl Workload {
    pub fn new(data: &Data, sizes: &[u64], reps: usize, latency_iters: usize, latency_rows: u64) -> Workload {
        let mut next_new = data.rows;
        let mut next_old = 0;
        let mut batches = Vec::new();
        for &size in sizes {
            for _ in 0..reps {
                batches.push(Batch { size, step: Step::Insert(next_new..next_new + size) });
                next_new += size;
                batches.push(Batch { size, step: Step::Delete(next_old..next_old + size) });
                next_old += size;
            }
        }
        let latency = (0..latency_iters)
            .map(|_| {
                let r = next_new..next_new + latency_rows;
                next_new += latency_rows;
                r
            })
            .collect();
        Workload { batches, latency }
    }
}

/// What a correct `GROUP BY k` view holds after some steps: totals and per-key figures.
#[derive(Clone, Debug)]
pub struct Model {
    pub rows: i64,
    pub sum: i64,
    pub count: Vec<i64>,
    pub key_sum: Vec<i64>,
}

impl Model {
    pub fn new(keys: u64) -> Model {
        Model { rows: 0, sum: 0, count: vec![0; keys as usize], key_sum: vec![0; keys as usize] }
    }

    pub fn apply(&mut self, data: &Data, ids: Range<u64>, diff: i64) {
        for id in ids {
            let (k, v) = (data.key(id) as usize, data.value(id));
            self.rows += diff;
            self.sum += diff * v;
            self.count[k] += diff;
            self.key_sum[k] += diff * v;
        }
    }

    pub fn apply_step(&mut self, data: &Data, step: &Step) {
        match step {
            Step::Insert(r) => self.apply(data, r.clone(), 1),
            Step::Delete(r) => self.apply(data, r.clone(), -1),
        }
    }

    /// Keys with at least one row: the rows of the `GROUP BY` view.
    pub fn groups(&self) -> i64 {
        self.count.iter().filter(|c| **c != 0).count() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_in_range() {
        let d = Data { seed: 7, rows: 100, keys: 10 };
        for id in 0..1000 {
            assert!(d.key(id) < 10);
            assert!((0..1000).contains(&d.value(id)));
            assert_eq!(d.key(id), d.clone().key(id));
        }
        assert_eq!(d.copy_text(0..2).iter().filter(|b| **b == b'\n').count(), 2);
    }

    #[test]
    fn workload_deletes_existing_rows() {
        let d = Data { seed: 1, rows: 1000, keys: 10 };
        let w = Workload::new(&d, &[10, 100], 2, 3, 5);
        assert_eq!(w.batches.len(), 8);
        let mut m = Model::new(10);
        m.apply(&d, 0..1000, 1);
        for b in &w.batches {
            m.apply_step(&d, &b.step);
        }
        assert_eq!(m.rows, 1000);
        assert!(m.count.iter().all(|c| *c >= 0));
        assert_eq!(w.latency[2], 1220 + 10..1220 + 15);
    }
}
