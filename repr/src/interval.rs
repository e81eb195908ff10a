//! `Interval`: PostgreSQL's three-field interval (months, days, microseconds).

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// An interval as PostgreSQL stores it. Comparison and equality use PostgreSQL's rule:
/// a month counts as 30 days and a day as 24 hours, so `'1 month' = '30 days'`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl Interval {
    pub fn new(months: i32, days: i32, micros: i64) -> Self {
        Interval { months, days, micros }
    }

    /// Total length in microseconds under the 30-day month rule, used for ordering.
    pub fn as_total_micros(&self) -> i128 {
        (self.months as i128 * 30 + self.days as i128) * MICROS_PER_DAY as i128 + self.micros as i128
    }
}

impl Ord for Interval {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_total_micros().cmp(&other.as_total_micros())
    }
}

impl PartialOrd for Interval {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Interval {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Interval {}

impl Hash for Interval {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_total_micros().hash(state)
    }
}
