//! TPC-H as an oracle test: the 22 queries of the benchmark (validation parameters, in
//! `tests/tpch/`) as materialized views over a small generated TPC-H database, checked
//! against PostgreSQL 15 after the load and after every batch of new orders, cancelled
//! orders, repriced line items and changed customers, parts and suppliers.
//!
//! The data follows the TPC-H schema and value domains (nations, regions, part types,
//! containers, dates, phone country codes, derived order status and return flags), at a
//! few thousand rows, with the queries' constants made more frequent than dbgen makes
//! them so that every query has rows to show. Each query is checked three ways: the
//! materialized view's rows (as a multiset), an ad-hoc `SELECT` of the query text with
//! its `ORDER BY` (row for row, in order), and a view created after the first batches, over
//! existing data. `EDDY_TPCH_SEED` replays a seed; `EDDY_TPCH_DUMP=FILE` writes the load's
//! statements to FILE (to replay in psql).

use std::fmt::Write as _;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use eddy_tests::compare::{difference, run, run_in_order};
use eddy_tests::postgres::PostgresProcess;
use eddy_tests::rng::Rng;
use eddy_tests::{manifest_dir, EddyProcess};
use tokio_postgres::Client;

const QUERIES: usize = 22;
const BATCHES: usize = 6;

const PARTS: i64 = 400;
const SUPPLIERS: i64 = 40;
const CUSTOMERS: i64 = 300;
const ORDERS: i64 = 1200;

const REGIONS: &[&str] = &["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"];
/// TPC-H's 25 nations and their regions, by key.
const NATIONS: &[(&str, i64)] = &[
    ("ALGERIA", 0),
    ("ARGENTINA", 1),
    ("BRAZIL", 1),
    ("CANADA", 1),
    ("EGYPT", 4),
    ("ETHIOPIA", 0),
    ("FRANCE", 3),
    ("GERMANY", 3),
    ("INDIA", 2),
    ("INDONESIA", 2),
    ("IRAN", 4),
    ("IRAQ", 4),
    ("JAPAN", 2),
    ("JORDAN", 4),
    ("KENYA", 0),
    ("MOROCCO", 0),
    ("MOZAMBIQUE", 0),
    ("PERU", 1),
    ("CHINA", 2),
    ("ROMANIA", 3),
    ("SAUDI ARABIA", 4),
    ("VIETNAM", 2),
    ("RUSSIA", 3),
    ("UNITED KINGDOM", 3),
    ("UNITED STATES", 1),
];
/// Nations the queries name (FRANCE, GERMANY, CANADA, SAUDI ARABIA, BRAZIL), chosen more often.
const QUERIED_NATIONS: &[i64] = &[6, 7, 3, 20, 2];
const TYPE_1: &[&str] = &["STANDARD", "SMALL", "MEDIUM", "LARGE", "ECONOMY", "PROMO"];
const TYPE_2: &[&str] = &["ANODIZED", "BURNISHED", "PLATED", "POLISHED", "BRUSHED"];
const TYPE_3: &[&str] = &["TIN", "NICKEL", "BRASS", "STEEL", "COPPER"];
const CONTAINER_1: &[&str] = &["SM", "LG", "MED", "JUMBO", "WRAP"];
const CONTAINER_2: &[&str] = &["CASE", "BOX", "BAG", "JAR", "PKG", "PACK", "CAN", "DRUM"];
const COLORS: &[&str] = &[
    "almond",
    "antique",
    "azure",
    "beige",
    "blue",
    "chocolate",
    "coral",
    "forest",
    "green",
    "ivory",
    "khaki",
    "lime",
    "navy",
    "olive",
    "orchid",
    "red",
    "salmon",
    "tan",
    "violet",
    "yellow",
];
const SEGMENTS: &[&str] = &["AUTOMOBILE", "BUILDING", "FURNITURE", "MACHINERY", "HOUSEHOLD"];
const PRIORITIES: &[&str] = &["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"];
const INSTRUCTIONS: &[&str] = &["DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"];
const MODES: &[&str] = &["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"];
const WORDS: &[&str] =
    &["furiously", "carefully", "final", "deposits", "ideas", "pending", "quickly", "bold", "regular", "accounts"];

/// Days from 1970-01-01 of TPC-H's first order date, 1992-01-01, and of its "current
/// date" 1995-06-17 (which decides line status and return flags).
const START_DAY: i64 = 8035;
const CURRENT_DAY: i64 = 9298;
/// Orders are dated up to 1998-08-02, 2405 days after the start.
const ORDER_DAYS: i64 = 2405;

/// `YYYY-MM-DD` of a day number counted from 1970-01-01 (proleptic Gregorian).
fn date(days: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// An amount of cents as a numeric literal.
fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

/// Up to `max_words` random words (each at most 9 letters), with `special`'s two words
/// apart in the middle when given (what `LIKE '%special%requests%'` looks for).
fn comment(rng: &mut Rng, max_words: i64, special: Option<(&str, &str)>) -> String {
    let mut words: Vec<&str> = (0..rng.range(1, max_words)).map(|_| *rng.pick(WORDS)).collect();
    if let Some((first, second)) = special {
        let at = rng.below(words.len() as u64) as usize;
        words.insert(at, first);
        words.insert(at + 1, *rng.pick(WORDS));
        words.insert(at + 2, second);
    }
    words.join(" ")
}

fn part_price_cents(partkey: i64) -> i64 {
    // TPC-H's p_retailprice formula.
    90_000 + (partkey / 10) % 20_001 + 100 * (partkey % 1000)
}

/// The TPC-H supplier of part `partkey`'s `i`-th partsupp row (4 distinct per part).
fn part_supplier(partkey: i64, i: i64) -> i64 {
    (partkey + i * (SUPPLIERS / 4 + (partkey - 1) / SUPPLIERS)) % SUPPLIERS + 1
}

fn insert(table: &str, rows: &[String]) -> String {
    format!("INSERT INTO {table} VALUES {}", rows.join(", "))
}

fn fixed_tables() -> Vec<String> {
    let regions: Vec<String> =
        REGIONS.iter().enumerate().map(|(k, name)| format!("({k}, '{name}', 'region {k}')")).collect();
    let nations: Vec<String> = NATIONS
        .iter()
        .enumerate()
        .map(|(k, (name, region))| format!("({k}, '{name}', {region}, 'nation {k}')"))
        .collect();
    vec![insert("region", &regions), insert("nation", &nations)]
}

fn parts(rng: &mut Rng) -> Vec<String> {
    let mut out = Vec::new();
    for key in 1..=PARTS {
        let mut colors: Vec<&str> = (0..5).map(|_| *rng.pick(COLORS)).collect();
        if rng.chance(10) {
            colors[0] = "forest";
        }
        let mfgr = rng.range(1, 5);
        let brand = match rng.below(10) {
            0 | 1 => "Brand#23".to_string(),
            2 => "Brand#12".to_string(),
            3 => "Brand#34".to_string(),
            _ => format!("Brand#{mfgr}{}", rng.range(1, 5)),
        };
        let kind = if rng.chance(15) {
            "ECONOMY ANODIZED STEEL".to_string()
        } else {
            let last = if rng.chance(25) { "BRASS" } else { rng.pick(TYPE_3) };
            format!("{} {} {last}", rng.pick(TYPE_1), rng.pick(TYPE_2))
        };
        let size = if rng.chance(20) { 15 } else { rng.range(1, 50) };
        let container = if rng.chance(15) {
            "MED BOX".to_string()
        } else {
            format!("{} {}", rng.pick(CONTAINER_1), rng.pick(CONTAINER_2))
        };
        out.push(format!(
            "({key}, '{}', 'Manufacturer#{mfgr}', '{brand}', '{kind}', {size}, '{container}', {}, '{}')",
            colors.join(" "),
            money(part_price_cents(key)),
            comment(rng, 2, None)
        ));
    }
    out
}

fn nation_key(rng: &mut Rng) -> i64 {
    if rng.chance(40) {
        *rng.pick(QUERIED_NATIONS)
    } else {
        rng.range(0, NATIONS.len() as i64 - 1)
    }
}

fn phone(rng: &mut Rng, nation: i64) -> String {
    format!("{}-{}-{}-{}", nation + 10, rng.range(100, 999), rng.range(100, 999), rng.range(1000, 9999))
}

fn suppliers(rng: &mut Rng) -> Vec<String> {
    (1..=SUPPLIERS)
        .map(|key| {
            let nation = nation_key(rng);
            let complaints = rng.chance(15).then_some(("Customer", "Complaints"));
            format!(
                "({key}, 'Supplier#{key:09}', 'address {}', {nation}, '{}', {}, '{}')",
                rng.range(1, 999),
                phone(rng, nation),
                money(rng.range(-99_999, 999_999)),
                comment(rng, 4, complaints)
            )
        })
        .collect()
}

fn partsupps(rng: &mut Rng) -> Vec<String> {
    let mut out = Vec::new();
    for part in 1..=PARTS {
        for i in 0..4 {
            out.push(format!(
                "({part}, {}, {}, {}, '{}')",
                part_supplier(part, i),
                rng.range(1, 9999),
                money(rng.range(100, 100_000)),
                comment(rng, 4, None)
            ));
        }
    }
    out
}

fn customers(rng: &mut Rng) -> Vec<String> {
    (1..=CUSTOMERS)
        .map(|key| {
            let nation = nation_key(rng);
            format!(
                "({key}, 'Customer#{key:09}', 'address {}', {nation}, '{}', {}, '{}', '{}')",
                rng.range(1, 999),
                phone(rng, nation),
                money(rng.range(-99_999, 999_999)),
                rng.pick(SEGMENTS),
                comment(rng, 4, None)
            )
        })
        .collect()
}

/// One order and its line items: (orders row, lineitem rows).
fn order(rng: &mut Rng, key: i64) -> (String, Vec<String>) {
    // As in TPC-H, a third of the customers (keys divisible by 3) never order.
    let customer = loop {
        let c = rng.range(1, CUSTOMERS);
        if c % 3 != 0 {
            break c;
        }
    };
    let order_day = START_DAY + rng.range(0, ORDER_DAYS);
    let big = rng.chance(5);
    let lines = if big { 7 } else { rng.range(1, 7) };
    let mut items = Vec::new();
    let mut statuses = Vec::new();
    let mut total = 0;
    for line in 1..=lines {
        let part = rng.range(1, PARTS);
        let supplier = part_supplier(part, rng.range(0, 3));
        let quantity = if big { rng.range(40, 50) } else { rng.range(1, 50) };
        let price = quantity * part_price_cents(part);
        total += price;
        let ship = order_day + rng.range(1, 121);
        let commit = order_day + rng.range(30, 90);
        let receipt = ship + rng.range(1, 30);
        let flag = if receipt <= CURRENT_DAY { *rng.pick(&["R", "A"]) } else { "N" };
        let status = if ship > CURRENT_DAY { "O" } else { "F" };
        statuses.push(status);
        items.push(format!(
            "({key}, {part}, {supplier}, {line}, {quantity}, {}, 0.{:02}, 0.{:02}, '{flag}', '{status}', '{}', '{}', '{}', '{}', '{}', '{}')",
            money(price),
            rng.range(0, 10),
            rng.range(0, 8),
            date(ship),
            date(commit),
            date(receipt),
            rng.pick(INSTRUCTIONS),
            rng.pick(MODES),
            comment(rng, 3, None)
        ));
    }
    let status = if statuses.iter().all(|s| *s == "F") {
        "F"
    } else if statuses.iter().all(|s| *s == "O") {
        "O"
    } else {
        "P"
    };
    let special = rng.chance(10).then_some(("special", "requests"));
    let row = format!(
        "({key}, {customer}, '{status}', {}, '{}', '{}', 'Clerk#{:09}', 0, '{}')",
        money(total),
        date(order_day),
        rng.pick(PRIORITIES),
        rng.range(1, 1000),
        comment(rng, 4, special)
    );
    (row, items)
}

/// Statements inserting orders `keys`, with their line items, in one transaction.
fn new_orders(rng: &mut Rng, keys: std::ops::Range<i64>) -> Vec<String> {
    let (mut orders, mut items) = (Vec::new(), Vec::new());
    for key in keys {
        let (o, l) = order(rng, key);
        orders.push(o);
        items.extend(l);
    }
    vec!["BEGIN".into(), insert("orders", &orders), insert("lineitem", &items), "COMMIT".into()]
}

fn load(rng: &mut Rng) -> Vec<String> {
    let mut out = fixed_tables();
    out.push(insert("part", &parts(rng)));
    out.push(insert("supplier", &suppliers(rng)));
    out.push(insert("partsupp", &partsupps(rng)));
    out.push(insert("customer", &customers(rng)));
    for chunk in 0..ORDERS / 200 {
        out.extend(new_orders(rng, chunk * 200 + 1..chunk * 200 + 201));
    }
    out
}

/// Batch `n` of changes: new orders, cancelled ones, and updates that move rows between
/// the queries' groups and in and out of their filters.
fn batch(rng: &mut Rng, n: i64) -> Vec<String> {
    let first = ORDERS + (n - 1) * 50 + 1;
    let mut out = new_orders(rng, first..first + 50);
    let cancelled: Vec<String> = (0..25).map(|_| rng.range(1, first - 1).to_string()).collect();
    let cancelled = cancelled.join(", ");
    out.push("BEGIN".into());
    out.push(format!("DELETE FROM lineitem WHERE l_orderkey IN ({cancelled})"));
    out.push(format!("DELETE FROM orders WHERE o_orderkey IN ({cancelled})"));
    out.push("COMMIT".into());
    let m = rng.range(0, 16);
    out.push(format!(
        "UPDATE lineitem SET l_quantity = l_quantity + 7, l_discount = 0.{:02}, l_shipmode = '{}' \
         WHERE l_orderkey % 17 = {m}",
        rng.range(0, 10),
        rng.pick(MODES)
    ));
    let m = rng.range(0, 10);
    out.push(format!("UPDATE customer SET c_acctbal = c_acctbal - 250.50 WHERE c_custkey % 11 = {m}"));
    let m = rng.range(0, 12);
    out.push(format!(
        "UPDATE part SET p_brand = 'Brand#23', p_container = 'MED BOX', p_size = 15 WHERE p_partkey % 13 = {m}"
    ));
    out.push(format!("UPDATE orders SET o_orderpriority = '{}' WHERE o_orderkey % 19 = {m}", rng.pick(PRIORITIES)));
    let supplier = rng.range(1, SUPPLIERS);
    let complaints = rng.chance(50).then_some(("Customer", "Complaints"));
    out.push(format!(
        "UPDATE supplier SET s_comment = '{}', s_nationkey = {} WHERE s_suppkey = {supplier}",
        comment(rng, 4, complaints),
        nation_key(rng)
    ));
    out.push(format!("UPDATE partsupp SET ps_supplycost = ps_supplycost * 0.9 WHERE ps_partkey % 23 = {m}"));
    out
}

fn query(n: usize) -> String {
    let path = manifest_dir().join(format!("tpch/q{n}.sql"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display())).trim().to_string()
}

struct Tpch {
    eddy: Client,
    pg: Client,
    failures: Vec<String>,
    checks: usize,
}

impl Tpch {
    async fn apply(&mut self, stmt: &str) -> anyhow::Result<()> {
        let expected = run(&self.pg, stmt).await;
        let Ok((_, expected)) = expected else {
            let start: String = stmt.chars().take(300).collect();
            anyhow::bail!("PostgreSQL rejects a workload statement (a bug in this test): {start}...: {expected:?}");
        };
        match run(&self.eddy, stmt).await {
            Ok((_, actual)) if actual == expected => {}
            Ok((_, actual)) => {
                self.failures.push(format!("`{stmt}` affected {actual} rows in eddy, {expected} in postgres"))
            }
            Err(e) => self.failures.push(format!("eddy fails `{stmt}`: {e}")),
        }
        Ok(())
    }

    /// Compares `sql` on both servers: as sorted multisets, or in the order returned.
    async fn compare(&mut self, what: &str, sql: &str, ordered: bool) {
        let (expected, actual) = if ordered {
            (run_in_order(&self.pg, sql).await, run_in_order(&self.eddy, sql).await)
        } else {
            (run(&self.pg, sql).await, run(&self.eddy, sql).await)
        };
        self.checks += 1;
        let (expected, actual) = (expected.map(|(rows, _)| rows), actual.map(|(rows, _)| rows));
        if let Some(problem) = difference(&expected, &actual) {
            self.failures.push(format!("{what} differs\n{problem}"));
        }
    }

    async fn check(&mut self, after: &str, views: &[String]) -> usize {
        let mut nonempty = 0;
        for n in 1..=QUERIES {
            if let Ok((rows, _)) = run(&self.pg, &format!("SELECT * FROM q{n}")).await {
                nonempty += usize::from(!rows.is_empty());
            }
            for view in views {
                let sql = format!("SELECT * FROM {view}{n}");
                self.compare(&format!("view {view}{n} after {after}"), &sql, false).await;
            }
            self.compare(&format!("ad-hoc query {n} (ORDER BY kept) after {after}"), &query(n), true).await;
        }
        nonempty
    }
}

async fn create_views(eddy: &Client, pg: &Client, prefix: &str) -> anyhow::Result<()> {
    for n in 1..=QUERIES {
        let sql = query(n);
        run(pg, &format!("CREATE VIEW {prefix}{n} AS {sql}"))
            .await
            .map_err(|e| anyhow::anyhow!("postgres rejects query {n}: {e}"))?;
        run(eddy, &format!("CREATE MATERIALIZED VIEW {prefix}{n} AS {sql}"))
            .await
            .map_err(|e| anyhow::anyhow!("eddy rejects CREATE MATERIALIZED VIEW of TPC-H query {n}: {e}\n{sql}"))?;
    }
    Ok(())
}

fn seed() -> u64 {
    match std::env::var("EDDY_TPCH_SEED") {
        Ok(s) => s.trim().parse().unwrap_or_else(|_| panic!("EDDY_TPCH_SEED must be a u64, not {s:?}")),
        Err(_) => SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1),
    }
}

async fn run_tpch(seed: u64, pg: &PostgresProcess) -> anyhow::Result<Tpch> {
    let eddy_process = EddyProcess::start(2)?;
    let eddy = eddy_process.connect().await?;
    let pg = pg.create_oracle_database("tpch").await?;
    let schema = std::fs::read_to_string(manifest_dir().join("tpch/schema.sql"))?;
    pg.batch_execute(&schema).await?;
    eddy.batch_execute(&schema).await?;
    create_views(&eddy, &pg, "q").await?;
    let mut tpch = Tpch { eddy, pg, failures: Vec::new(), checks: 0 };
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let load = load(&mut rng);
    if let Ok(path) = std::env::var("EDDY_TPCH_DUMP") {
        std::fs::write(&path, load.join(";\n") + ";\n")?;
        println!("tpch: wrote the load's statements to {path}");
    }
    for stmt in load {
        tpch.apply(&stmt).await?;
    }
    let mut views = vec!["q".to_string()];
    println!("tpch: loaded in {:.1} s", started.elapsed().as_secs_f64());
    let nonempty = tpch.check("the load", &views).await;
    println!(
        "tpch: after the load, {nonempty} of {QUERIES} queries have rows ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    for n in 1..=BATCHES as i64 {
        for stmt in batch(&mut rng, n) {
            tpch.apply(&stmt).await?;
        }
        if n == 2 {
            create_views(&tpch.eddy, &tpch.pg, "late_q").await?;
            views.push("late_q".into());
        }
        let nonempty = tpch.check(&format!("batch {n}"), &views).await;
        println!(
            "tpch: after batch {n}, {nonempty} of {QUERIES} queries have rows ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
    }
    drop(eddy_process);
    Ok(tpch)
}

#[tokio::main]
async fn main() {
    let seed = seed();
    println!("tpch: seed {seed} (EDDY_TPCH_SEED={seed} replays it)");
    let pg = PostgresProcess::start().expect("PostgreSQL starts");
    let result = run_tpch(seed, &pg).await;
    drop(pg);
    let tpch = result.unwrap_or_else(|e| panic!("tpch could not run (seed {seed}): {e:#}"));
    let mut report = String::new();
    for failure in tpch.failures.iter().take(10) {
        let _ = writeln!(report, "FAIL {failure}");
    }
    println!("tpch: {} comparisons, {} failures", tpch.checks, tpch.failures.len());
    if !tpch.failures.is_empty() {
        eprintln!("{report}tpch failed (seed {seed}; replay with EDDY_TPCH_SEED={seed})");
        std::process::exit(1);
    }
}
