//! The oracle test: PostgreSQL 15 is the reference for Eddy's materialized views.
//!
//! The same random workload of inserts, updates and deletes (NULLs, duplicate rows, groups
//! that become empty and come back) goes to a real `eddy` and to a throwaway PostgreSQL.
//! Every view shape below is a `CREATE MATERIALIZED VIEW` in Eddy and a plain view in
//! PostgreSQL; after every batch, `SELECT * FROM view` must give the same multiset of rows
//! on both, value for value in PostgreSQL's text form (both sides are read with the simple
//! query protocol). Each shape is created once on the empty tables and once more
//! (`<name>_late`) halfway through, so both the incremental path and building a view over
//! existing data are checked. The whole test runs on 1 and on 3 timely workers.
//!
//! The workload comes from a seeded RNG: the seed is printed and `EDDY_ORACLE_SEED`
//! replays it; `EDDY_ORACLE_BATCHES` changes the number of batches (default 30).
//!
//! Shapes listed in [`KNOWN_FAILING`] fail because of Eddy bugs written up in
//! `tests/ORACLE_FINDINGS.md`; they still run and report, but do not fail the test.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use eddy_tests::compare::{difference, run};
use eddy_tests::postgres::PostgresProcess;
use eddy_tests::rng::Rng;
use eddy_tests::EddyProcess;
use tokio_postgres::Client;

/// Shapes that fail because of an Eddy bug (see `tests/ORACLE_FINDINGS.md`). They still
/// run and print their mismatches, but do not fail the test. Empty it as bugs get fixed.
const KNOWN_FAILING: &[&str] = &[];

const DEFAULT_BATCHES: usize = 30;

const TABLES: &[&str] = &[
    "CREATE TABLE t1 (id int, k int, v numeric(10,2), s text, b boolean, ts timestamp)",
    "CREATE TABLE t2 (k int, w bigint, name varchar(20), d date)",
];

/// The view shapes: a name and the query. Later shapes may read earlier ones.
const SHAPES: &[(&str, &str)] = &[
    // ---- joins
    ("v_inner_join", "SELECT t1.id, t1.k, t2.w, t2.name FROM t1 JOIN t2 ON t1.k = t2.k"),
    ("v_join_using", "SELECT k, t1.id, t1.v, t2.d FROM t1 JOIN t2 USING (k)"),
    ("v_comma_join", "SELECT t1.id, t2.name, t1.v * t2.w AS prod FROM t1, t2 WHERE t1.k = t2.k AND t2.w > 0"),
    ("v_left_join", "SELECT t1.id, t1.s, t2.w, t2.name FROM t1 LEFT JOIN t2 ON t1.k = t2.k"),
    ("v_right_join", "SELECT t1.id, t2.k, t2.name FROM t1 RIGHT JOIN t2 ON t1.k = t2.k AND t1.b"),
    ("v_full_join", "SELECT t1.id, t1.k AS k1, t2.k AS k2, t2.w FROM t1 FULL OUTER JOIN t2 ON t1.k = t2.k"),
    (
        "v_full_join_residual",
        "SELECT t1.id, t2.name, t2.w FROM t1 FULL JOIN t2 ON t1.k = t2.k AND t1.v > t2.w",
    ),
    ("v_left_join_or", "SELECT t1.id, t2.name FROM t1 LEFT JOIN t2 ON t1.k = t2.k OR t1.id = t2.w"),
    ("v_self_join", "SELECT a.id, b.id AS id2, a.k FROM t1 a JOIN t1 b ON a.k = b.k AND a.id < b.id"),
    ("v_self_left_join", "SELECT x.name, x.k, y.name AS other FROM t2 x LEFT JOIN t2 y ON x.k = y.k + 1"),
    ("v_theta_join", "SELECT t1.id, t2.k, t2.d FROM t1 JOIN t2 ON t1.ts >= t2.d AND t1.k < t2.k"),
    ("v_expr_join", "SELECT t1.id, t2.name FROM t1 JOIN t2 ON t1.k + 1 = t2.k"),
    // ---- aggregates
    (
        "v_global_agg_empty",
        "SELECT count(*) AS n, count(v) AS nv, sum(v) AS sv, min(v) AS lo, max(v) AS hi, avg(v) AS mean \
         FROM t1 WHERE k = 4",
    ),
    (
        "v_global_agg_t2",
        "SELECT count(*) AS n, sum(w) AS sw, avg(w) AS aw, min(name) AS lo, max(d) AS hi, \
         bool_and(w > 0) AS allpos, bool_or(d > '2024-02-15') AS late FROM t2",
    ),
    (
        "v_grouped_agg",
        "SELECT k, count(*) AS n, sum(v) AS total, avg(v) AS mean, sum(id) AS sid, avg(id) AS aid FROM t1 GROUP BY k",
    ),
    (
        "v_grouped_t2",
        "SELECT k, count(*) AS n, count(w) AS nw, sum(w) AS sw, avg(w) AS aw, min(d) AS first, max(d) AS last \
         FROM t2 GROUP BY k",
    ),
    (
        "v_count_distinct",
        "SELECT k, count(DISTINCT s) AS ds, count(DISTINCT b) AS db, count(s) AS ns, count(*) AS n FROM t1 GROUP BY k",
    ),
    (
        "v_count_distinct_global",
        "SELECT count(DISTINCT k) AS dk, count(DISTINCT name) AS dn, count(DISTINCT d) AS dd, sum(DISTINCT w) AS sdw \
         FROM t2",
    ),
    (
        "v_bool_aggs",
        "SELECT k, bool_and(b) AS all_b, bool_or(b) AS any_b, bool_and(v > 0) AS all_pos, \
         bool_or(s LIKE '%a%') AS any_a FROM t1 GROUP BY k",
    ),
    (
        "v_minmax_text_ts",
        "SELECT b, min(s) AS smin, max(s) AS smax, min(ts) AS tmin, max(ts) AS tmax, max(ts) - min(ts) AS span \
         FROM t1 GROUP BY b",
    ),
    (
        "v_minmax_t2",
        "SELECT k, min(name) AS nmin, max(name) AS nmax, min(d) AS dmin, max(d) AS dmax, max(w) AS wmax FROM t2 GROUP BY k",
    ),
    (
        "v_having",
        "SELECT k, count(*) AS n, sum(v) AS total FROM t1 GROUP BY k HAVING count(*) >= 2 AND sum(v) IS NOT NULL",
    ),
    ("v_having_hidden_agg", "SELECT name FROM t2 GROUP BY name HAVING max(w) > 0 AND count(*) > 1"),
    ("v_having_global", "SELECT count(*) AS n, max(id) AS top FROM t1 HAVING count(*) > 3"),
    (
        "v_group_by_expr",
        "SELECT date_trunc('month', ts) AS m, extract(year FROM ts) AS y, count(*) AS n, max(v) AS top \
         FROM t1 GROUP BY 1, 2",
    ),
    ("v_group_by_parity", "SELECT k % 2 AS parity, count(*) AS n, sum(w) AS sw FROM t2 GROUP BY k % 2"),
    ("v_join_agg_global", "SELECT count(*) AS n, sum(t1.v * t2.w) AS s FROM t1 JOIN t2 ON t1.k = t2.k"),
    (
        "v_left_join_agg",
        "SELECT t2.k, t2.name, count(t1.id) AS n, sum(t1.v) AS total FROM t2 LEFT JOIN t1 ON t1.k = t2.k \
         GROUP BY t2.k, t2.name",
    ),
    // ---- DISTINCT and set operations
    ("v_distinct", "SELECT DISTINCT k, b FROM t1"),
    ("v_distinct_expr", "SELECT DISTINCT upper(s) AS us, k IS NULL AS nok FROM t1"),
    ("v_union", "SELECT k FROM t1 UNION SELECT k FROM t2"),
    ("v_union_all", "SELECT k, s AS x FROM t1 UNION ALL SELECT k, name FROM t2"),
    ("v_except", "SELECT k FROM t1 EXCEPT SELECT k FROM t2"),
    ("v_except_all", "SELECT k FROM t1 EXCEPT ALL SELECT k FROM t2"),
    ("v_intersect", "SELECT k, b FROM t1 INTERSECT SELECT k, w > 0 FROM t2"),
    ("v_intersect_all", "SELECT k FROM t1 INTERSECT ALL SELECT k FROM t2"),
    ("v_union_text", "SELECT s FROM t1 UNION SELECT name FROM t2"),
    (
        "v_agg_over_union",
        "SELECT k, count(*) AS n FROM (SELECT k FROM t1 UNION ALL SELECT k FROM t2) u GROUP BY k",
    ),
    // ---- scalar expressions
    (
        "v_case_coalesce",
        "SELECT id, CASE WHEN v > 0 THEN 'pos' WHEN v < 0 THEN 'neg' ELSE 'zero_or_null' END AS sign, \
         COALESCE(s, 'none') AS s2, NULLIF(k, 0) AS nk, COALESCE(v, 0) + 1 AS v1, \
         CASE k WHEN 1 THEN 'one' WHEN 2 THEN 'two' END AS kname FROM t1",
    ),
    (
        "v_mixed_numeric",
        "SELECT id, CASE WHEN b THEN v ELSE k END AS vk, COALESCE(v, k) AS cvk, GREATEST(v, 0) AS gv, \
         LEAST(k, 3) AS lk FROM t1",
    ),
    (
        "v_arith",
        "SELECT id, v * 2 AS v2, v + k AS vk, v - 0.5 AS vm, -v AS neg, abs(v) AS av, v / 3 AS v3, \
         v / NULLIF(k, 0) AS vdk, id / NULLIF(k, 0) AS idk, id % NULLIF(k, 0) AS idm, round(v / 7, 3) AS r \
         FROM t1",
    ),
    (
        "v_arith_t2",
        "SELECT k, w, w * 3 AS w3, w / 4 AS w4, w % 5 AS w5, w + k AS wk, w::numeric / 8 AS wn, trunc(w / 3.0, 2) AS wt \
         FROM t2",
    ),
    (
        "v_predicates",
        "SELECT id, k IS DISTINCT FROM 2 AS kd, v BETWEEN -10 AND 10 AS vb, k IN (1, 3, NULL) AS kin, \
         s LIKE '%b%' AS sl, s ILIKE 'A%' AS si, NOT b AS nb, b IS NOT TRUE AS bnt, s IS NULL AS sn FROM t1",
    ),
    (
        "v_casts",
        "SELECT id, v::int AS vi, v::bigint AS vb, k::text AS kt, ts::date AS td, ts::time AS tt, \
         CAST(v AS double precision) AS vf, CAST(id AS numeric(8,3)) AS idn, s::varchar(3) AS s3 FROM t1",
    ),
    (
        "v_datetime",
        "SELECT id, date_trunc('month', ts) AS mon, date_trunc('hour', ts) AS hr, extract(year FROM ts) AS yr, \
         extract(dow FROM ts) AS dow, extract(epoch FROM ts) AS ep, extract(second FROM ts) AS sec, \
         ts + interval '1 day 2 hours' AS later, ts - interval '30 minutes' AS earlier, \
         ts > '2024-02-01' AS after_feb, ts - TIMESTAMP '2024-01-01' AS since FROM t1",
    ),
    (
        "v_date_t2",
        "SELECT k, d, d + 7 AS week_later, d - DATE '2024-01-01' AS days, d + interval '1 month' AS next_month, \
         date_trunc('week', d) AS wk, extract(doy FROM d) AS doy, d < '2024-02-01' AS early FROM t2",
    ),
    (
        "v_interval_cmp",
        "SELECT id, age(ts, TIMESTAMP '2024-01-01') AS age, justify_hours(ts - TIMESTAMP '2024-01-01 12:00:00') AS jh \
         FROM t1 WHERE ts - TIMESTAMP '2024-01-15' > interval '10 days'",
    ),
    (
        "v_strings",
        "SELECT id, upper(s) AS u, lower(s) AS l, length(s) AS len, s || '-' || k AS sk, \
         substring(s FROM 2 FOR 2) AS sub, trim(s) AS tr, replace(s, 'a', 'x') AS rep, position('b' IN s) AS pos, \
         left(s, 2) AS lft, concat(s, '/', k) AS cc, lpad(s, 5, '*') AS lp FROM t1",
    ),
    (
        "v_strings_t2",
        "SELECT k, name, name || '!' AS bang, length(name) AS len, initcap(name) AS ic, reverse(name) AS rev, \
         split_part(name, 'a', 2) AS sp, concat_ws(',', name, k, w) AS cw, starts_with(name, 'ga') AS sw FROM t2",
    ),
    // ---- subqueries, VALUES, generate_series
    (
        "v_subquery_from",
        "SELECT x.k, x.n * 2 AS n2, x.total FROM (SELECT k, count(*) AS n, sum(v) AS total FROM t1 GROUP BY k) x \
         WHERE x.n > 1",
    ),
    (
        "v_subquery_full_join",
        "SELECT COALESCE(a.k, b.k) AS k, a.n, b.m FROM (SELECT k, count(*) AS n FROM t1 GROUP BY k) a \
         FULL JOIN (SELECT k, sum(w) AS m FROM t2 GROUP BY k) b ON a.k = b.k",
    ),
    (
        "v_values_join",
        "SELECT x.label, count(t1.id) AS n FROM (VALUES (0, 'zero'), (1, 'one'), (2, 'two')) AS x(k, label) \
         LEFT JOIN t1 ON t1.k = x.k GROUP BY x.label",
    ),
    (
        "v_generate_series",
        "SELECT g, count(t1.id) AS n, sum(t1.v) AS total FROM generate_series(0, 5) AS g LEFT JOIN t1 ON t1.k = g \
         GROUP BY g",
    ),
    ("v_generate_series_theta", "SELECT t2.name, g.i FROM t2 JOIN generate_series(1, 3) AS g(i) ON g.i <= t2.k"),
    // ---- more joins
    ("v_null_safe_join", "SELECT t1.id, t2.name FROM t1 JOIN t2 ON t1.k IS NOT DISTINCT FROM t2.k"),
    ("v_full_join_using", "SELECT k, t1.id, t2.w FROM t1 FULL JOIN t2 USING (k)"),
    ("v_natural_join", "SELECT * FROM t1 NATURAL JOIN t2"),
    ("v_numeric_key_join", "SELECT t1.id, t1.v, t2.w FROM t1 JOIN t2 ON t1.v = t2.w"),
    ("v_text_key_join", "SELECT t1.id, t2.k, t2.name FROM t1 JOIN t2 ON t1.s = t2.name"),
    ("v_date_key_join", "SELECT t1.id, t2.d FROM t1 JOIN t2 ON t1.ts::date = t2.d"),
    ("v_anti_join", "SELECT t1.id, t1.k FROM t1 LEFT JOIN t2 ON t1.k = t2.k WHERE t2.k IS NULL"),
    (
        "v_three_way_join",
        "SELECT a.id, b.name, c.id AS id3 FROM t1 a JOIN t2 b ON a.k = b.k JOIN t1 c ON c.k = b.k AND c.id > a.id",
    ),
    (
        "v_nested_outer_join",
        "SELECT a.id, x.k2, x.id2 FROM t1 a LEFT JOIN \
         (SELECT t2.k AS k2, t1.id AS id2 FROM t2 FULL JOIN t1 ON t1.k = t2.k) x ON a.id = x.id2",
    ),
    (
        "v_left_join_grouped",
        "SELECT t1.id, COALESCE(g.n, 0) AS n, g.sw FROM t1 LEFT JOIN \
         (SELECT k, count(*) AS n, sum(w) AS sw FROM t2 GROUP BY k) g ON t1.k = g.k",
    ),
    ("v_cross_count", "SELECT count(*) AS n, count(DISTINCT t1.k) AS dk FROM t1 CROSS JOIN t2"),
    // ---- more aggregates and expressions
    (
        "v_agg_exprs",
        "SELECT k, sum(v) / count(*) AS m, sum(CASE WHEN b THEN 1 ELSE 0 END) AS nb, max(upper(s)) AS ms, \
         avg(v * k) AS avk, min(length(s)) AS minlen FROM t1 GROUP BY k",
    ),
    (
        "v_sum_mixed_scale",
        "SELECT k, sum(CASE WHEN b THEN v ELSE k END) AS s, count(*) AS n FROM t1 GROUP BY k",
    ),
    ("v_group_multi", "SELECT k, b, count(*) AS n, min(v) AS lo FROM t1 GROUP BY k, b"),
    ("v_distinct_agg", "SELECT DISTINCT n FROM (SELECT k, count(*) AS n FROM t1 GROUP BY k) x"),
    ("v_union_widen", "SELECT k FROM t1 UNION ALL SELECT w FROM t2"),
    ("v_constant", "SELECT 1 AS one, 'x' AS x, NULL::int AS nothing, -2 AS neg"),
    (
        "v_negative_literals",
        "SELECT id, id / -2 AS half, k * -1 AS negk, -3 + k AS m3, v * -2 AS v2, -2147483648 + id AS low FROM t1",
    ),
    (
        "v_generate_series_step",
        "SELECT g, count(t2.k) AS n FROM generate_series(5, -5, -2) AS g LEFT JOIN t2 ON t2.k = g GROUP BY g",
    ),
    (
        "v_interval_math",
        "SELECT id, ts + k * interval '1 hour' AS x, (ts - TIMESTAMP '2024-01-01') * 2 AS dbl, \
         date_part('hour', ts) AS hr, interval '1 day' * k AS kd FROM t1",
    ),
    ("v_where_3vl", "SELECT id, k, v FROM t1 WHERE NOT (k = 1 OR v > 0) OR (b IS NOT FALSE AND s <> 'a')"),
    (
        "v_text_compare",
        "SELECT id, s LIKE 'a\\%%' AS l, s < 'b' AS lt, s BETWEEN 'a' AND 'b' AS bt, s >= name AS ge \
         FROM t1 JOIN t2 USING (k)",
    ),
    // Values that are equal but print differently (1 and 1.00, '30 days' and '1 mon').
    ("v_numeric_scales", "SELECT k, COALESCE(v, 0) AS cv FROM t1"),
    ("v_interval_forms", "SELECT k, age(d::timestamp, TIMESTAMP '2024-01-01') AS since FROM t2"),
    // Twins are one value to grouping, DISTINCT, set operations and joins (counted, since
    // which twin PostgreSQL shows for a group is whichever it met first).
    ("v_twin_groups", "SELECT count(*) AS groups, sum(n) AS rows FROM (SELECT COALESCE(v, k) AS x, min(id) AS n FROM t1 GROUP BY 1) g"),
    (
        "v_twin_group_sums",
        "SELECT count(*) AS groups, sum(n) AS rows, sum(s) AS s FROM \
         (SELECT CASE WHEN b THEN v ELSE k END AS x, count(*) AS n, sum(id) AS s FROM t1 GROUP BY 1) g",
    ),
    ("v_twin_distinct", "SELECT count(*) AS n FROM (SELECT DISTINCT COALESCE(v, k) AS x FROM t1) d"),
    ("v_twin_count_distinct", "SELECT k, count(DISTINCT COALESCE(v, k)) AS n FROM t1 GROUP BY k"),
    ("v_twin_union", "SELECT count(*) AS n FROM (SELECT v FROM t1 UNION SELECT k FROM t2) u"),
    ("v_twin_except", "SELECT count(*) AS n FROM (SELECT k FROM t2 EXCEPT SELECT v FROM t1) e"),
    (
        "v_twin_intersect_all",
        "SELECT count(*) AS n FROM (SELECT COALESCE(v, k) AS x FROM t1 INTERSECT ALL SELECT k FROM t2) i",
    ),
    ("v_twin_join", "SELECT a.id, b.id AS id2 FROM t1 a JOIN t1 b ON COALESCE(a.v, 0) = b.k"),
    (
        "v_twin_interval_groups",
        "SELECT count(*) AS n FROM (SELECT DISTINCT age(d::timestamp, TIMESTAMP '2024-01-01') FROM t2) a",
    ),
    // Top-K: which rows DISTINCT ON and LIMIT keep (ORDER BY covers every column, so no
    // tie is left for PostgreSQL to break arbitrarily).
    ("v_distinct_on", "SELECT DISTINCT ON (k) k, id, v FROM t1 ORDER BY k, v DESC NULLS LAST, id, s, b, ts"),
    ("v_limit", "SELECT id, v FROM t1 ORDER BY v DESC NULLS LAST, id, s, b, ts, k LIMIT 5"),
    (
        "v_limit_offset_groups",
        "SELECT k, n FROM (SELECT k, count(*) AS n FROM t1 GROUP BY k) g ORDER BY n DESC, k LIMIT 2 OFFSET 1",
    ),
    // Subqueries correlated by inequalities (planned over the distinct outer values).
    (
        "v_corr_count_below",
        "SELECT id, v, (SELECT count(*) FROM t1 AS x WHERE x.v < t1.v) AS below, \
         (SELECT max(w) FROM t2 WHERE t2.k > t1.k) AS w_above FROM t1",
    ),
    (
        "v_corr_exists_or",
        "SELECT k, w FROM t2 WHERE w IS NULL OR NOT EXISTS (SELECT 1 FROM t1 WHERE t1.k = t2.k AND t1.id > t2.w)",
    ),
    ("v_global_min_max", "SELECT min(v) AS lo, max(ts) AS hi, bool_and(b) AS ba, max(s) AS ms, sum(v) AS sv FROM t1"),
    ("v_stddev", "SELECT k, stddev(v) AS sd, var_pop(v) AS vp, variance(id) AS vi, stddev_pop(id) AS sdi FROM t1 GROUP BY k"),
    // Window functions (orders leave only identical rows tied, or use peer-based values).
    (
        "v_window_rank",
        "SELECT id, k, rank() OVER (PARTITION BY k ORDER BY v DESC NULLS LAST) AS r, \
         sum(v) OVER (PARTITION BY k ORDER BY v) AS running FROM t1",
    ),
    ("v_window_lag", "SELECT k, w, lag(w) OVER (PARTITION BY k ORDER BY w, name, d) AS prev FROM t2"),
    (
        "v_window_count",
        "SELECT k, count(*) OVER (PARTITION BY k) AS n, row_number() OVER (PARTITION BY k ORDER BY id, v, s, b, ts) AS rn \
         FROM t1",
    ),
    // ---- arrays
    (
        "v_array_agg",
        "SELECT k, array_agg(id ORDER BY id) AS ids, array_agg(s ORDER BY s) FILTER (WHERE b) AS ss, \
         cardinality(array_agg(v)) AS n FROM t1 GROUP BY k",
    ),
    ("v_unnest_lateral", "SELECT t2.k, x FROM t2, unnest(ARRAY[t2.w, t2.k * 2]) AS x"),
    ("v_srf_select_list", "SELECT id, k, generate_series(1, k % 3) AS g FROM t1"),
    ("v_any_array", "SELECT id, s FROM t1 WHERE k = ANY (ARRAY[1, 2, 3]) OR s = ANY ('{a,b}')"),
    // ---- LATERAL subqueries
    (
        "v_lateral_top_k",
        "SELECT t2.k, x.id, x.v FROM t2, LATERAL (SELECT id, v FROM t1 WHERE t1.k = t2.k \
         ORDER BY v DESC NULLS LAST, id LIMIT 2) x",
    ),
    (
        "v_lateral_aggregate",
        "SELECT t2.name, x.n, x.total FROM t2 LEFT JOIN LATERAL (SELECT count(*) AS n, sum(v) AS total \
         FROM t1 WHERE t1.k < t2.k) x ON true",
    ),
    (
        "v_lateral_window",
        "SELECT t2.k, x.id, x.rn FROM t2, LATERAL (SELECT id, row_number() OVER (ORDER BY id, v) AS rn \
         FROM t1 WHERE t1.k = t2.k) x",
    ),
    // ---- views over views
    ("v_base", "SELECT k, count(*) AS n, sum(v) AS total, avg(v) AS mean FROM t1 GROUP BY k"),
    ("v_over_view_join", "SELECT a.k, a.n, a.total, b.w FROM v_base a JOIN t2 b ON a.k = b.k"),
    ("v_over_view_agg", "SELECT count(*) AS groups, sum(n) AS rows, max(total) AS best FROM v_base"),
    ("v_over_view_2", "SELECT n, count(*) AS c FROM v_base GROUP BY n"),
    ("v_over_over_view", "SELECT k, n, w FROM v_over_view_join WHERE w IS NOT NULL AND n > 1"),
];

// ---------------------------------------------------------------------------------------
// Random workload

const NULL_PCT: u64 = 30;
const STRINGS: &[&str] = &["a", "b", "abc", "Abc", "bab", "hello world", "x y z", "", " pad ", "zzz", "a%b", "ba"];
const NAMES: &[&str] = &["alpha", "beta", "gamma", "delta", "gala", "Banana", "", "omega", "a b", "zeta"];

fn key(rng: &mut Rng) -> String {
    if rng.chance(NULL_PCT) {
        "NULL".into()
    } else {
        rng.range(0, 5).to_string()
    }
}

fn key_lit(rng: &mut Rng) -> i64 {
    rng.range(0, 5)
}

fn numeric_lit(rng: &mut Rng) -> String {
    match rng.below(10) {
        // Whole numbers and zero.
        0 => rng.range(-20, 20).to_string(),
        1 => "0".into(),
        // Three decimals: rounded to two when stored.
        2 => {
            let m = rng.range(-99_999, 99_999);
            format!("{}{}.{:03}", if m < 0 { "-" } else { "" }, m.abs() / 1000, m.abs() % 1000)
        }
        _ => {
            let c = rng.range(-100_000, 100_000);
            format!("{}{}.{:02}", if c < 0 { "-" } else { "" }, c.abs() / 100, c.abs() % 100)
        }
    }
}

fn string_lit(rng: &mut Rng, items: &[&str]) -> String {
    format!("'{}'", rng.pick(items))
}

fn date_text(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => "2023-12-31".into(),
        1 => "2024-02-29".into(),
        2 => "2024-12-31".into(),
        3 => "2024-01-31".into(),
        4 => "2024-02-01".into(),
        _ => {
            let month = rng.range(1, 3);
            let days = [31, 29, 31][month as usize - 1];
            format!("2024-{month:02}-{:02}", rng.range(1, days))
        }
    }
}

fn ts_text(rng: &mut Rng) -> String {
    let frac = match rng.below(6) {
        0 => ".5".to_string(),
        1 => format!(".{:06}", rng.range(0, 999_999)),
        _ => String::new(),
    };
    format!("{} {:02}:{:02}:{:02}{frac}", date_text(rng), rng.range(0, 23), rng.range(0, 59), rng.range(0, 59))
}

fn or_null(rng: &mut Rng, value: String) -> String {
    if rng.chance(NULL_PCT) {
        "NULL".into()
    } else {
        value
    }
}

fn t1_row(rng: &mut Rng) -> String {
    let id = if rng.chance(5) { "NULL".into() } else { rng.range(1, 30).to_string() };
    let k = key(rng);
    let v = numeric_lit(rng);
    let v = or_null(rng, v);
    let s = string_lit(rng, STRINGS);
    let s = or_null(rng, s);
    let b = rng.pick(&["true", "false"]).to_string();
    let b = or_null(rng, b);
    let ts = format!("'{}'", ts_text(rng));
    let ts = or_null(rng, ts);
    format!("({id}, {k}, {v}, {s}, {b}, {ts})")
}

fn t2_row(rng: &mut Rng) -> String {
    let k = key(rng);
    let w = if rng.chance(10) { "9000000000".to_string() } else { rng.range(-50, 50).to_string() };
    let w = or_null(rng, w);
    let name = string_lit(rng, NAMES);
    let name = or_null(rng, name);
    let d = format!("'{}'", date_text(rng));
    let d = or_null(rng, d);
    format!("({k}, {w}, {name}, {d})")
}

/// `INSERT INTO table VALUES ...` with `1..=max` rows, sometimes with exact duplicates.
fn insert(rng: &mut Rng, table: &str, max: i64, row: fn(&mut Rng) -> String) -> String {
    let mut rows: Vec<String> = Vec::new();
    for _ in 0..rng.range(1, max) {
        if !rows.is_empty() && rng.chance(25) {
            let dup = rng.pick(&rows).clone();
            rows.push(dup);
        } else {
            rows.push(row(rng));
        }
    }
    format!("INSERT INTO {table} VALUES {}", rows.join(", "))
}

fn t1_predicate(rng: &mut Rng) -> String {
    match rng.below(11) {
        0 | 1 => format!("k = {}", key_lit(rng)),
        2 => "k IS NULL".into(),
        3 => format!("id % 4 = {}", rng.range(0, 3)),
        4 => format!("v > {}", numeric_lit(rng)),
        5 => "v IS NULL".into(),
        6 => rng.pick(&["b", "NOT b", "b IS NULL"]).to_string(),
        7 => format!("s = {}", string_lit(rng, STRINGS)),
        8 => format!("ts < '{}'", ts_text(rng)),
        9 => {
            let lo = rng.range(1, 30);
            format!("id BETWEEN {lo} AND {}", lo + 5)
        }
        _ => format!("k IN ({}, {})", key_lit(rng), key_lit(rng)),
    }
}

fn t2_predicate(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 | 1 => format!("k = {}", key_lit(rng)),
        2 => "k IS NULL".into(),
        3 => format!("w > {}", rng.range(-50, 50)),
        4 => format!("w % 3 = {}", rng.range(0, 2)),
        5 => format!("name = {}", string_lit(rng, NAMES)),
        6 => format!("d < '{}'", date_text(rng)),
        _ => "d IS NULL".into(),
    }
}

fn t1_update(rng: &mut Rng) -> String {
    let set = match rng.below(14) {
        0 => "v = v + 1.25".to_string(),
        1 => "v = v * 1.5".into(),
        2 => "v = v / 3".into(),
        3 => "v = NULL".into(),
        4 => format!("k = {}", key_lit(rng)),
        5 => "k = NULL".into(),
        6 => "k = k + 1".into(),
        7 => format!("s = {}", string_lit(rng, STRINGS)),
        8 => rng.pick(&["s = s || 'x'", "s = upper(s)", "s = NULL"]).to_string(),
        9 => rng.pick(&["b = NOT b", "b = NULL", "b = (v > 0)"]).to_string(),
        10 => {
            rng.pick(&["ts = ts + interval '1 day 3 hours'", "ts = ts - interval '1 month'", "ts = NULL"]).to_string()
        }
        11 => format!("ts = '{}'", ts_text(rng)),
        12 => "id = id + 1".into(),
        _ => format!("k = {}, v = {}", key_lit(rng), numeric_lit(rng)),
    };
    format!("UPDATE t1 SET {set} WHERE {}", t1_predicate(rng))
}

fn t2_update(rng: &mut Rng) -> String {
    let set = match rng.below(9) {
        0 => "w = w + 10".to_string(),
        1 => "w = -w".into(),
        2 => "w = NULL".into(),
        3 => format!("k = {}", key_lit(rng)),
        4 => "k = NULL".into(),
        5 => format!("name = {}", string_lit(rng, NAMES)),
        6 => rng.pick(&["name = upper(name)", "name = NULL"]).to_string(),
        7 => rng.pick(&["d = d + 1", "d = d - 30", "d = NULL"]).to_string(),
        _ => format!("d = '{}'", date_text(rng)),
    };
    format!("UPDATE t2 SET {set} WHERE {}", t2_predicate(rng))
}

/// The batches of the workload: each a list of statements for both databases.
fn workload(seed: u64, batches: usize) -> Vec<Vec<String>> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for batch in 1..=batches {
        // Every fourth batch is one transaction, applied at one timestamp in Eddy: a change
        // to existing rows first (inside the block Eddy does not yet read the block's own
        // writes, so nothing may read rows inserted earlier in it), then inserts, which may
        // bring back exactly the rows just deleted.
        if batch % 4 == 2 {
            let mut stmts = vec!["BEGIN".to_string()];
            stmts.push(match rng.below(3) {
                0 => t1_update(&mut rng),
                1 => format!("DELETE FROM t1 WHERE {}", t1_predicate(&mut rng)),
                _ => format!("DELETE FROM t2 WHERE {}", t2_predicate(&mut rng)),
            });
            for _ in 0..rng.range(1, 3) {
                stmts.push(if rng.chance(60) {
                    insert(&mut rng, "t1", 5, t1_row)
                } else {
                    insert(&mut rng, "t2", 4, t2_row)
                });
            }
            stmts.push("COMMIT".into());
            out.push(stmts);
            continue;
        }
        let mut stmts = Vec::new();
        for _ in 0..rng.range(1, 2) {
            stmts.push(insert(&mut rng, "t1", 6, t1_row));
        }
        for _ in 0..rng.range(0, 2) {
            stmts.push(insert(&mut rng, "t2", 4, t2_row));
        }
        for _ in 0..rng.range(0, 2) {
            stmts.push(t1_update(&mut rng));
        }
        for _ in 0..rng.range(0, 1) {
            stmts.push(t2_update(&mut rng));
        }
        for _ in 0..rng.range(0, 2) {
            let p = t1_predicate(&mut rng);
            stmts.push(format!("DELETE FROM t1 WHERE {p}"));
        }
        if rng.chance(40) {
            let p = t2_predicate(&mut rng);
            stmts.push(format!("DELETE FROM t2 WHERE {p}"));
        }
        // Shuffle (Fisher-Yates) so the kinds of statement interleave.
        for i in (1..stmts.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            stmts.swap(i, j);
        }
        // Now and then, wipe most of the data so groups and whole inputs become empty.
        if batch % 14 == 0 {
            stmts.push("DELETE FROM t1".into());
        } else if batch % 7 == 0 {
            stmts.push("DELETE FROM t1 WHERE k IS NULL OR k <= 3".into());
            stmts.push("DELETE FROM t2".into());
        }
        out.push(stmts);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Running statements and comparing

struct View {
    name: String,
    base: &'static str,
    sql: &'static str,
    /// Whether Eddy accepted the view.
    created: bool,
    /// The first failure (printed in full); later ones only count.
    failed: bool,
    mismatches: usize,
}

impl View {
    fn known_failing(&self) -> bool {
        KNOWN_FAILING.contains(&self.base)
    }
}

#[derive(Default)]
struct Report {
    /// Failures that fail the test.
    failures: Vec<String>,
    /// Failures of shapes in KNOWN_FAILING.
    known: Vec<String>,
    /// Shapes in KNOWN_FAILING that matched throughout.
    fixed: HashSet<&'static str>,
    views: usize,
    checks: usize,
    /// Rows in t1 and t2 after each batch.
    t1_rows: Vec<usize>,
    t2_rows: Vec<usize>,
}

impl Report {
    fn sizes(rows: &[usize]) -> String {
        let max = rows.iter().max().copied().unwrap_or(0);
        let empty = rows.iter().filter(|&&n| n == 0).count();
        let mean = rows.iter().sum::<usize>() as f64 / rows.len().max(1) as f64;
        format!("mean {mean:.1}, max {max}, empty after {empty} batches")
    }
}

struct Oracle<'a> {
    workers: usize,
    eddy: Client,
    pg: Client,
    views: Vec<View>,
    report: Report,
    batches: &'a [Vec<String>],
}

impl Oracle<'_> {
    fn fail(&mut self, view: Option<usize>, message: String) {
        let known = view.is_some_and(|v| self.views[v].known_failing());
        let tag = if known { "[known failing] " } else { "" };
        println!("{tag}FAIL (workers={}) {message}", self.workers);
        if known {
            self.report.known.push(message);
        } else {
            self.report.failures.push(message);
        }
    }

    fn batch_text(&self, batch: usize) -> String {
        if batch == 0 {
            return "  (batch 0: the tables are empty)\n".into();
        }
        let mut out = format!("  statements of batch {batch}:\n");
        for s in &self.batches[batch - 1] {
            let _ = writeln!(out, "    {s};");
        }
        out
    }

    async fn create_view(&mut self, base: &'static str, sql: &'static str, name: String) -> anyhow::Result<()> {
        if let Err(e) = run(&self.pg, &format!("CREATE VIEW {name} AS {sql}")).await {
            anyhow::bail!("PostgreSQL rejects view {name} (a bug in this test): {e}\n  sql: {sql}");
        }
        let idx = self.views.len();
        self.views.push(View { name: name.clone(), base, sql, created: true, failed: false, mismatches: 0 });
        self.report.views += 1;
        if let Err(e) = run(&self.eddy, &format!("CREATE MATERIALIZED VIEW {name} AS {sql}")).await {
            self.views[idx].created = false;
            self.views[idx].failed = true;
            self.views[idx].mismatches += 1;
            self.fail(Some(idx), format!("view {name}: eddy rejects CREATE MATERIALIZED VIEW: {e}\n  sql: {sql}"));
        }
        Ok(())
    }

    /// Compares every view with PostgreSQL after `batch`.
    async fn check_all(&mut self, batch: usize) -> anyhow::Result<()> {
        for idx in 0..self.views.len() {
            let view = &self.views[idx];
            if !view.created {
                continue;
            }
            let select = format!("SELECT * FROM {}", view.name);
            let expected = run(&self.pg, &select).await.map(|(rows, _)| rows);
            let actual = run(&self.eddy, &select).await.map(|(rows, _)| rows);
            self.report.checks += 1;
            let problem = difference(&expected, &actual);
            let Some(problem) = problem else { continue };
            let statements = self.batch_text(batch);
            let view = &mut self.views[idx];
            view.mismatches += 1;
            if view.failed {
                continue;
            }
            view.failed = true;
            let message =
                format!("view {} differs after batch {batch}\n  sql: {}\n{problem}{statements}", view.name, view.sql);
            self.fail(Some(idx), message);
        }
        Ok(())
    }

    async fn apply(&mut self, batch: usize, stmt: &str) -> anyhow::Result<()> {
        let expected = run(&self.pg, stmt).await;
        let Ok((_, expected)) = expected else {
            anyhow::bail!("PostgreSQL rejects a workload statement (a bug in this test): {stmt}: {expected:?}");
        };
        match run(&self.eddy, stmt).await {
            Ok((_, actual)) if actual == expected => {}
            Ok((_, actual)) => self
                .fail(None, format!("batch {batch}: `{stmt}` affected {actual} rows in eddy, {expected} in postgres")),
            Err(e) => self.fail(None, format!("batch {batch}: eddy fails `{stmt}`: {e} (postgres: {expected} rows)")),
        }
        Ok(())
    }
}

async fn run_oracle(workers: usize, pg: &PostgresProcess, batches: &[Vec<String>]) -> anyhow::Result<Report> {
    let eddy_process = EddyProcess::start(workers)?;
    let eddy = eddy_process.connect().await?;
    let pg = pg.create_oracle_database(&format!("oracle_w{workers}")).await?;
    for t in TABLES {
        run(&pg, t).await.map_err(|e| anyhow::anyhow!("postgres: {t}: {e}"))?;
        run(&eddy, t).await.map_err(|e| anyhow::anyhow!("eddy: {t}: {e}"))?;
    }
    let mut oracle = Oracle { workers, eddy, pg, views: Vec::new(), report: Report::default(), batches };
    for &(name, sql) in SHAPES {
        oracle.create_view(name, sql, name.to_string()).await?;
    }
    oracle.check_all(0).await?;
    let late_at = batches.len() / 2;
    for (i, stmts) in batches.iter().enumerate() {
        let batch = i + 1;
        for stmt in stmts {
            oracle.apply(batch, stmt).await?;
        }
        if batch == late_at {
            for &(name, sql) in SHAPES {
                oracle.create_view(name, sql, format!("{name}_late")).await?;
            }
        }
        oracle.check_all(batch).await?;
        let (sizes, _) = run(&oracle.pg, "SELECT (SELECT count(*) FROM t1), (SELECT count(*) FROM t2)")
            .await
            .map_err(|e| anyhow::anyhow!("postgres: counting rows: {e}"))?;
        let count = |i: usize| sizes[0][i].as_deref().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
        oracle.report.t1_rows.push(count(0));
        oracle.report.t2_rows.push(count(1));
    }
    let mut report = oracle.report;
    for &known in KNOWN_FAILING {
        if oracle.views.iter().filter(|v| v.base == known).all(|v| v.mismatches == 0) {
            report.fixed.insert(known);
        }
    }
    drop(eddy_process);
    Ok(report)
}

fn seed() -> u64 {
    match std::env::var("EDDY_ORACLE_SEED") {
        Ok(s) => s.trim().parse().unwrap_or_else(|_| panic!("EDDY_ORACLE_SEED must be a u64, not {s:?}")),
        Err(_) => SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1),
    }
}

#[tokio::main]
async fn main() {
    for known in KNOWN_FAILING {
        assert!(SHAPES.iter().any(|(n, _)| n == known), "KNOWN_FAILING names unknown shape {known}");
    }
    let seed = seed();
    let batches: usize =
        std::env::var("EDDY_ORACLE_BATCHES").ok().and_then(|b| b.parse().ok()).unwrap_or(DEFAULT_BATCHES);
    println!(
        "oracle: seed {seed} (EDDY_ORACLE_SEED={seed} replays it), {} view shapes, {batches} batches",
        SHAPES.len()
    );
    let workload = workload(seed, batches);
    let pg = PostgresProcess::start().expect("PostgreSQL starts");
    let mut failed = false;
    for workers in [1, 3] {
        match run_oracle(workers, &pg, &workload).await {
            Ok(report) => {
                println!(
                    "oracle (workers={workers}): {} views, {} comparisons, {} failures, {} known failures",
                    report.views,
                    report.checks,
                    report.failures.len(),
                    report.known.len()
                );
                println!("  table sizes: t1 {}; t2 {}", Report::sizes(&report.t1_rows), Report::sizes(&report.t2_rows));
                for fixed in &report.fixed {
                    println!(
                        "note: {fixed} is in KNOWN_FAILING but matched PostgreSQL throughout this run \
                         (some failures need particular data: try other seeds before removing it)"
                    );
                }
                failed |= !report.failures.is_empty();
            }
            Err(e) => {
                println!("oracle (workers={workers}) could not run: {e:#}");
                failed = true;
            }
        }
    }
    // Stop PostgreSQL before exiting: process::exit skips destructors.
    drop(pg);
    if failed {
        eprintln!("oracle test failed (seed {seed}; replay with EDDY_ORACLE_SEED={seed})");
        std::process::exit(1);
    }
}
