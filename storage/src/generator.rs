//! Built-in load generators: live data with no broker, for trying Eddy and for tests.
//!
//! * `COUNTER`: one table `<source>` with a `counter bigint` column; every tick adds the
//!   next number (1, 2, 3, ...).
//! * `AUCTION`: tables `organizations`, `users`, `accounts` (filled once), `auctions` and
//!   `bids` (a new auction and a few bids every tick), as Materialize's generator has.
//! * `NEXMARK`: the Nexmark benchmark's `person`, `auction` and `bid` streams with the
//!   standard event mix (of every 50 events, 1 person, 3 auctions, 46 bids), at
//!   `EVENTS PER SECOND`, modelled on the reference generator (Beam/Flink).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use eddy_repr::source::{LoadGenerator, LoadGeneratorSpec};
use eddy_repr::{ColumnType, Datum, Diff, RelationDesc, Row, ScalarType};

use crate::source::{SourceBatch, SourceContext, SourceState};

/// The tables `generator` produces, named for source `name` where it has one table.
pub fn outputs(name: &str, generator: LoadGenerator) -> Vec<(String, RelationDesc)> {
    use ScalarType::*;
    let table = |name: &str, cols: &[(&str, ScalarType)]| {
        let desc =
            RelationDesc::new(cols.iter().map(|(n, t)| (n.to_string(), ColumnType::new(t.clone(), false))).collect());
        (name.to_string(), desc)
    };
    match generator {
        LoadGenerator::Counter => vec![table(name, &[("counter", Int64)])],
        LoadGenerator::Auction => vec![
            table("organizations", &[("id", Int64), ("name", Text)]),
            table("users", &[("id", Int64), ("org_id", Int64), ("name", Text)]),
            table("accounts", &[("id", Int64), ("org_id", Int64), ("balance", Int64)]),
            table(
                "auctions",
                &[("id", Int64), ("seller", Int64), ("item", Text), ("end_time", TimestampTz { precision: None })],
            ),
            table(
                "bids",
                &[
                    ("id", Int64),
                    ("buyer", Int64),
                    ("auction_id", Int64),
                    ("amount", Int32),
                    ("bid_time", TimestampTz { precision: None }),
                ],
            ),
        ],
        LoadGenerator::Nexmark => vec![
            table(
                "person",
                &[
                    ("id", Int64),
                    ("name", Text),
                    ("email_address", Text),
                    ("credit_card", Text),
                    ("city", Text),
                    ("state", Text),
                    ("date_time", TimestampTz { precision: None }),
                    ("extra", Text),
                ],
            ),
            table(
                "auction",
                &[
                    ("id", Int64),
                    ("item_name", Text),
                    ("description", Text),
                    ("initial_bid", Int64),
                    ("reserve", Int64),
                    ("date_time", TimestampTz { precision: None }),
                    ("expires", TimestampTz { precision: None }),
                    ("seller", Int64),
                    ("category", Int64),
                    ("extra", Text),
                ],
            ),
            table(
                "bid",
                &[
                    ("auction", Int64),
                    ("bidder", Int64),
                    ("price", Int64),
                    ("channel", Text),
                    ("url", Text),
                    ("date_time", TimestampTz { precision: None }),
                    ("extra", Text),
                ],
            ),
        ],
    }
}

/// Produces batches every tick until stopped or `UP TO` is reached, going on after the
/// first `already` events (those a restarted source had produced and persisted).
pub(crate) fn run(spec: &LoadGeneratorSpec, cx: SourceContext, already: u64) {
    let mut generator: Box<dyn Generate> = match spec.generator {
        LoadGenerator::Counter => Box::new(Counter { next: 1 }),
        LoadGenerator::Auction => Box::new(Auction::new()),
        LoadGenerator::Nexmark => Box::new(Nexmark::new()),
    };
    let outputs = outputs(&cx.name, spec.generator).len();
    let per_tick = match spec.generator {
        LoadGenerator::Nexmark => events_per_tick(spec.events_per_second, spec.tick),
        _ => 1,
    };
    // Generators are deterministic: replaying their first events restores their state.
    let mut scratch = vec![Vec::new(); outputs];
    for _ in 0..already {
        generator.next_event(Utc::now(), &mut scratch);
        scratch.iter_mut().for_each(Vec::clear);
    }
    let mut produced: u64 = already;
    let mut next_tick = Instant::now();
    cx.update_status(|s| s.state = SourceState::Running);
    while !cx.stopped() {
        let mut batch = SourceBatch { updates: vec![Vec::new(); outputs], ..SourceBatch::default() };
        let mut n = per_tick;
        if let Some(limit) = spec.up_to {
            n = n.min(limit.saturating_sub(produced));
        }
        let now = Utc::now();
        for _ in 0..n {
            generator.next_event(now, &mut batch.updates);
        }
        produced += n;
        batch.offsets.push((0, produced as i64));
        let rows: u64 = batch.updates.iter().map(|u| u.len() as u64).sum();
        cx.update_status(|s| s.messages_read += rows);
        if !batch.is_empty() && !cx.deliver(batch) {
            return;
        }
        if spec.up_to.is_some_and(|limit| produced >= limit) {
            cx.update_status(|s| s.state = SourceState::Finished);
            return;
        }
        next_tick += spec.tick;
        let now = Instant::now();
        if next_tick > now {
            std::thread::sleep(next_tick - now);
        } else {
            // Behind schedule (the server is slow): do not try to catch up in a burst.
            next_tick = now;
        }
    }
}

fn events_per_tick(events_per_second: u64, tick: Duration) -> u64 {
    ((events_per_second as u128 * tick.as_micros()) / 1_000_000).max(1) as u64
}

/// One step of a generator: appends its rows to `out[table]`.
trait Generate: Send {
    fn next_event(&mut self, now: DateTime<Utc>, out: &mut [Vec<(Row, Diff)>]);
}

struct Counter {
    next: i64,
}

impl Generate for Counter {
    fn next_event(&mut self, _now: DateTime<Utc>, out: &mut [Vec<(Row, Diff)>]) {
        out[0].push((Row::new(vec![Datum::Int64(self.next)]), 1));
        self.next += 1;
    }
}

/// A small deterministic PRNG (SplitMix64): same seed, same data, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn string(&mut self, len: usize) -> String {
        (0..len).map(|_| (b'a' + self.below(26) as u8) as char).collect()
    }
}

const AUCTION_ORGS: i64 = 5;
const AUCTION_USERS_PER_ORG: i64 = 20;
const AUCTION_ITEMS: &[&str] =
    &["Signed Memorabilia", "City Bar Crawl", "Best Pizza in Town", "Gift Basket", "Custom Art"];

struct Auction {
    rng: Rng,
    initialized: bool,
    next_auction: i64,
    next_bid: i64,
}

impl Auction {
    fn new() -> Self {
        Auction { rng: Rng(1), initialized: false, next_auction: 1, next_bid: 1 }
    }
}

impl Generate for Auction {
    fn next_event(&mut self, now: DateTime<Utc>, out: &mut [Vec<(Row, Diff)>]) {
        let users = AUCTION_ORGS * AUCTION_USERS_PER_ORG;
        if !self.initialized {
            self.initialized = true;
            for org in 1..=AUCTION_ORGS {
                out[0].push((Row::new(vec![Datum::Int64(org), Datum::Text(format!("org{org}"))]), 1));
                out[2].push((Row::new(vec![Datum::Int64(org), Datum::Int64(org), Datum::Int64(1_000_000)]), 1));
            }
            for user in 1..=users {
                let org = (user - 1) / AUCTION_USERS_PER_ORG + 1;
                let row = vec![Datum::Int64(user), Datum::Int64(org), Datum::Text(format!("user{user}"))];
                out[1].push((Row::new(row), 1));
            }
        }
        let auction = self.next_auction;
        self.next_auction += 1;
        let seller = 1 + self.rng.below(users as u64) as i64;
        let item = self.rng.pick(AUCTION_ITEMS).to_string();
        let end_time = now + chrono::Duration::seconds(10);
        let row = vec![Datum::Int64(auction), Datum::Int64(seller), Datum::Text(item), Datum::TimestampTz(end_time)];
        out[3].push((Row::new(row), 1));
        for _ in 0..1 + self.rng.below(5) {
            // Bids go to this auction or one of the few before it, still open.
            let on = (auction - self.rng.below(5) as i64).max(1);
            let buyer = 1 + self.rng.below(users as u64) as i64;
            let amount = 1 + self.rng.below(100) as i32;
            let row = vec![
                Datum::Int64(self.next_bid),
                Datum::Int64(buyer),
                Datum::Int64(on),
                Datum::Int32(amount),
                Datum::TimestampTz(now),
            ];
            self.next_bid += 1;
            out[4].push((Row::new(row), 1));
        }
    }
}

/// Nexmark's reference configuration: ids start at 1000, of every 50 events one is a
/// person and three are auctions, bids mostly go to "hot" (recent) auctions and bidders.
const FIRST_PERSON_ID: i64 = 1000;
const FIRST_AUCTION_ID: i64 = 1000;
const FIRST_CATEGORY_ID: i64 = 10;
const NUM_CATEGORIES: u64 = 5;
const PERSON_PROPORTION: u64 = 1;
const AUCTION_PROPORTION: u64 = 3;
const TOTAL_PROPORTION: u64 = 50;
const HOT_AUCTION_RATIO: u64 = 2;
const HOT_BIDDER_RATIO: u64 = 4;
const HOT_SELLER_RATIO: u64 = 4;
const NUM_IN_FLIGHT_AUCTIONS: u64 = 100;
const NUM_ACTIVE_PEOPLE: u64 = 1000;
const FIRST_NAMES: &[&str] =
    &["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"];
const LAST_NAMES: &[&str] = &["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"];
const US_STATES: &[&str] = &["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: &[&str] =
    &["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"];
const CHANNELS: &[&str] = &["Google", "Facebook", "Baidu", "Apple"];

struct Nexmark {
    rng: Rng,
    event: u64,
    people: u64,
    auctions: u64,
}

impl Nexmark {
    fn new() -> Self {
        Nexmark { rng: Rng(42), event: 0, people: 0, auctions: 0 }
    }

    fn last_person(&self) -> i64 {
        FIRST_PERSON_ID + self.people.max(1) as i64 - 1
    }

    fn last_auction(&self) -> i64 {
        FIRST_AUCTION_ID + self.auctions.max(1) as i64 - 1
    }

    /// A person id among the recently active ones.
    fn recent_person(&mut self) -> i64 {
        let window = self.people.clamp(1, NUM_ACTIVE_PEOPLE);
        self.last_person() - self.rng.below(window) as i64
    }

    fn person(&mut self, now: DateTime<Utc>) -> Row {
        let id = FIRST_PERSON_ID + self.people as i64;
        self.people += 1;
        let name = format!("{} {}", self.rng.pick(FIRST_NAMES), self.rng.pick(LAST_NAMES));
        let email = format!("{}@{}.com", self.rng.string(7), self.rng.string(5));
        let card = (0..4).map(|_| format!("{:04}", self.rng.below(10_000))).collect::<Vec<_>>().join(" ");
        let extra = self.rng.string(10);
        Row::new(vec![
            Datum::Int64(id),
            Datum::Text(name),
            Datum::Text(email),
            Datum::Text(card),
            Datum::Text(self.rng.pick(US_CITIES).into()),
            Datum::Text(self.rng.pick(US_STATES).into()),
            Datum::TimestampTz(now),
            Datum::Text(extra),
        ])
    }

    fn auction(&mut self, now: DateTime<Utc>) -> Row {
        let id = FIRST_AUCTION_ID + self.auctions as i64;
        self.auctions += 1;
        let seller = if self.rng.below(HOT_SELLER_RATIO) > 0 {
            // Hot sellers: the most recent person, rounded down to a multiple of the ratio.
            (self.last_person() / HOT_SELLER_RATIO as i64) * HOT_SELLER_RATIO as i64
        } else {
            self.recent_person()
        };
        let initial_bid = 1 + self.rng.below(1000) as i64;
        let reserve = initial_bid + self.rng.below(1000) as i64;
        let expires = now + chrono::Duration::milliseconds(1000 + self.rng.below(20_000) as i64);
        let category = FIRST_CATEGORY_ID + self.rng.below(NUM_CATEGORIES) as i64;
        Row::new(vec![
            Datum::Int64(id),
            Datum::Text(self.rng.string(12)),
            Datum::Text(self.rng.string(20)),
            Datum::Int64(initial_bid),
            Datum::Int64(reserve),
            Datum::TimestampTz(now),
            Datum::TimestampTz(expires),
            Datum::Int64(seller.max(FIRST_PERSON_ID)),
            Datum::Int64(category),
            Datum::Text(self.rng.string(10)),
        ])
    }

    fn bid(&mut self, now: DateTime<Utc>) -> Row {
        let auction = if self.rng.below(HOT_AUCTION_RATIO) > 0 {
            (self.last_auction() / HOT_AUCTION_RATIO as i64) * HOT_AUCTION_RATIO as i64
        } else {
            let window = self.auctions.clamp(1, NUM_IN_FLIGHT_AUCTIONS);
            self.last_auction() - self.rng.below(window) as i64
        };
        let bidder = if self.rng.below(HOT_BIDDER_RATIO) > 0 {
            ((self.last_person() / HOT_BIDDER_RATIO as i64) * HOT_BIDDER_RATIO as i64 + 1).min(self.last_person())
        } else {
            self.recent_person()
        };
        let price = 100 + self.rng.below(10_000) as i64;
        let channel = self.rng.pick(CHANNELS);
        let url = format!(
            "https://www.nexmark.com/{}/item.htm?query=1&channel_id={}",
            self.rng.string(5),
            self.rng.below(1000)
        );
        Row::new(vec![
            Datum::Int64(auction.max(FIRST_AUCTION_ID)),
            Datum::Int64(bidder.max(FIRST_PERSON_ID)),
            Datum::Int64(price),
            Datum::Text(channel.into()),
            Datum::Text(url),
            Datum::TimestampTz(now),
            Datum::Text(self.rng.string(10)),
        ])
    }
}

impl Generate for Nexmark {
    fn next_event(&mut self, now: DateTime<Utc>, out: &mut [Vec<(Row, Diff)>]) {
        let slot = self.event % TOTAL_PROPORTION;
        self.event += 1;
        if slot < PERSON_PROPORTION {
            let row = self.person(now);
            out[0].push((row, 1));
        } else if slot < PERSON_PROPORTION + AUCTION_PROPORTION {
            let row = self.auction(now);
            out[1].push((row, 1));
        } else {
            let row = self.bid(now);
            out[2].push((row, 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(mut g: impl Generate, events: usize, tables: usize) -> Vec<Vec<(Row, Diff)>> {
        let mut out = vec![Vec::new(); tables];
        for _ in 0..events {
            g.next_event(Utc::now(), &mut out);
        }
        out
    }

    #[test]
    fn nexmark_has_the_standard_mix_and_valid_references() {
        let out = generate(Nexmark::new(), 5000, 3);
        assert_eq!((out[0].len(), out[1].len(), out[2].len()), (100, 300, 4600));
        let people = FIRST_PERSON_ID..FIRST_PERSON_ID + 100;
        let auctions = FIRST_AUCTION_ID..FIRST_AUCTION_ID + 300;
        for (row, _) in &out[1] {
            assert!(people.contains(&row[7].as_i64().expect("seller")), "{row:?}");
        }
        for (row, _) in &out[2] {
            assert!(auctions.contains(&row[0].as_i64().expect("auction")), "{row:?}");
            assert!(people.contains(&row[1].as_i64().expect("bidder")), "{row:?}");
        }
    }

    #[test]
    fn auction_fills_reference_tables_once() {
        let out = generate(Auction::new(), 10, 5);
        assert_eq!(out[0].len(), AUCTION_ORGS as usize);
        assert_eq!(out[1].len(), (AUCTION_ORGS * AUCTION_USERS_PER_ORG) as usize);
        assert_eq!(out[3].len(), 10);
        assert!(out[4].len() >= 10);
    }

    #[test]
    fn rates_spread_over_ticks() {
        assert_eq!(events_per_tick(1000, Duration::from_millis(100)), 100);
        assert_eq!(events_per_tick(1, Duration::from_millis(100)), 1);
    }
}
