//! `Interval`: PostgreSQL's three-field interval (months, days, microseconds).

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

pub const MICROS_PER_DAY: i64 = 86_400_000_000;
const MICROS_PER_MONTH: i128 = 30 * MICROS_PER_DAY as i128;

/// An interval as PostgreSQL stores it.
///
/// Two orders exist. SQL comparison ([`Interval::sql_cmp`]) counts a month as 30 days and
/// a day as 24 hours, so `'1 month' = '30 days'`. Identity (`Eq`, `Hash`) is the three
/// fields, because those intervals print differently; `Ord` is the SQL order with ties
/// broken by the fields (normal form first), so sorted intervals are in SQL order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

    /// PostgreSQL's comparison: by total length.
    pub fn sql_cmp(&self, other: &Self) -> Ordering {
        self.as_total_micros().cmp(&other.as_total_micros())
    }

    /// The one representative of the intervals SQL-equal to this one: whole 30-day months,
    /// then whole days, then microseconds, all with the sign of the total. Intervals too
    /// long for that form keep their own fields.
    pub fn sql_normalized(&self) -> Interval {
        let total = self.as_total_micros();
        let months = total / MICROS_PER_MONTH;
        let rest = total % MICROS_PER_MONTH;
        let days = rest / MICROS_PER_DAY as i128;
        let micros = rest % MICROS_PER_DAY as i128;
        match i32::try_from(months) {
            Ok(months) => Interval { months, days: days as i32, micros: micros as i64 },
            Err(_) => *self,
        }
    }
}

impl Ord for Interval {
    /// SQL order; among equal lengths the normal form first (so a seek to it finds all its
    /// twins), then by the fields.
    fn cmp(&self, other: &Self) -> Ordering {
        self.sql_cmp(other).then_with(|| {
            let fields = |i: &Interval| (*i != i.sql_normalized(), i.months, i.days, i.micros);
            fields(self).cmp(&fields(other))
        })
    }
}

impl PartialOrd for Interval {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_lengths_written_differently_are_different_values_in_sql_order() {
        let month = Interval::new(1, 0, 0);
        let days = Interval::new(0, 30, 0);
        let hours = Interval::new(0, 0, 30 * MICROS_PER_DAY);
        assert_eq!(month.sql_cmp(&days), Ordering::Equal);
        assert_ne!(month, days);
        assert!(month < hours && hours < days, "ties: the normal form, then by the fields");
        assert!(month < Interval::new(0, 30, 1), "SQL order first");
        for i in [month, days, hours] {
            assert_eq!(i.sql_normalized(), month);
        }
        assert_eq!(Interval::new(0, -1, 3_600_000_000).sql_normalized(), Interval::new(0, 0, -82_800_000_000));
    }
}
